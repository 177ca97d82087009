"""Controller memory and health state to and from JSON, for scheduled runs (`netha check`)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from ..health import Damped, HealthState
from .decide import GroupMemory, Memory


def memory_to_json(mem: Memory) -> dict[str, Any]:
    return {
        "groups": {k: asdict(v) for k, v in mem.groups.items()},
        "actions": list(mem.actions),
        "braked": mem.braked,
        "maintenance": sorted(mem.maintenance),
    }


def memory_from_json(doc: dict[str, Any] | None) -> Memory:
    if not doc:
        return Memory()
    return Memory(
        groups={k: GroupMemory(**v) for k, v in doc.get("groups", {}).items()},
        actions=tuple(doc.get("actions", ())),
        braked=bool(doc.get("braked", False)),
        maintenance=frozenset(doc.get("maintenance", ())),
    )


def health_to_json(state: HealthState) -> dict[str, Any]:
    return {
        "damped": {k: asdict(v) for k, v in state.damped.items()},
        "last_rx": state.last_rx,
        "last_master": state.last_master,
        "master_seen": state.master_seen,
        "at": state.at,
        "strict_start": state.strict_start,
        "boot": _boot_id(),
    }


def health_from_json(doc: dict[str, Any] | None) -> HealthState | None:
    """The saved health state, or None when it cannot be trusted (another boot: monotonic clocks differ)."""
    if not doc or doc.get("boot") != _boot_id() or doc.get("at", 0) > time.monotonic():
        return None
    return HealthState(
        damped={k: Damped(**v) for k, v in doc.get("damped", {}).items()},
        last_rx=dict(doc.get("last_rx", {})),
        last_master=dict(doc.get("last_master", {})),
        master_seen=dict(doc.get("master_seen", {})),
        at=float(doc.get("at", 0.0)),
        strict_start=bool(doc.get("strict_start", True)),
    )


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return "unknown"
