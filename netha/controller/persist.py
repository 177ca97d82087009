"""Controller memory and health state to and from JSON, for scheduled runs (`netha check`)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from ..health import Damped, HealthState
from .decide import GroupMemory, Memory


def memory_to_json(mem: Memory, now: float | None = None) -> dict[str, Any]:
    """Memory as JSON. Its times are monotonic; the document says so, with the boot and the moment
    it was saved, so that a reader in another boot can carry the remaining periods over."""
    return {
        "clock": "monotonic",
        "boot": _boot_id(),
        "saved_at": time.monotonic() if now is None else now,
        "groups": {k: asdict(v) for k, v in mem.groups.items()},
        "actions": list(mem.actions),
        "braked": mem.braked,
        "maintenance": sorted(mem.maintenance),
    }


def memory_from_json(doc: dict[str, Any] | None, now: float | None = None) -> Memory:
    """Memory from JSON, its times on this process's monotonic clock.

    Same boot: monotonic times are valid as they are. Another boot (or the older wall-clock
    format): every time is shifted so that what was left of each period when the memory was saved
    is left of it now: the time the controller was down never shortens a block period or empties
    the storm brake, and no step of the wall clock can either.
    """
    if not doc:
        return Memory()
    mono = time.monotonic() if now is None else now
    if doc.get("clock") == "monotonic":
        same_boot = doc.get("boot") == _boot_id() and float(doc.get("saved_at", 0.0)) <= mono
        shift = 0.0 if same_boot else mono - float(doc.get("saved_at", 0.0))
    else:
        same_boot = False
        shift = mono - time.time()

    def at(t: float | None) -> float | None:
        return None if t is None else float(t) + shift

    groups = {}
    for name, raw in doc.get("groups", {}).items():
        known = {k: v for k, v in raw.items() if k in GroupMemory.__dataclass_fields__}
        gm = GroupMemory(**known)
        groups[name] = GroupMemory(
            last_action_at=at(gm.last_action_at),
            blocked_until=float(at(gm.blocked_until) or 0.0) if gm.blocked_until else 0.0,
            failed_over_by=gm.failed_over_by,
            pinned=gm.pinned,
            # How long a primary has been healthy is re-observed after a reboot, never carried over.
            primary_healthy_since=at(gm.primary_healthy_since) if same_boot else None,
            alerted=gm.alerted,
            settling_until=float(at(gm.settling_until) or 0.0) if gm.settling_until else 0.0,
        )
    return Memory(
        groups=groups,
        actions=tuple(float(t) + shift for t in doc.get("actions", ())),
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
