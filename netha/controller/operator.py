"""Operator inputs to a controller: acknowledge (release the storm brake and block periods) and
maintenance. The CLI writes them to the store; a running daemon reads them at its next cycle, and a
scheduled run (`netha check`) finds them in its stored memory."""

from __future__ import annotations

import time

from ..errors import NethaError
from ..inventory import Inventory
from ..store import Store, actor
from .decide import acknowledge
from .persist import memory_from_json, memory_to_json


def request_ack(inv: Inventory, store: Store, group: str | None = None) -> None:
    """`netha ack [GROUP]`: clear the storm brake (whole inventory only) and the block periods."""
    if group is not None and group not in inv.groups:
        raise NethaError(f"no group {group!r} in {inv.source}")
    seq = (store.get("ack") or {}).get("seq", 0) + 1
    store.put("ack", {"seq": seq, "group": group, "by": actor(), "ts": time.time()})
    # A scheduled run has no daemon to read the request: the stored memory is acknowledged too.
    store.put("memory", memory_to_json(acknowledge(memory_from_json(store.get("memory")), group)))
    store.audit("ack", "ok", group, None, "storm brake and block periods cleared")


def maintenance_list(store: Store) -> list[str]:
    return sorted(store.get("maintenance", []))


def set_maintenance(inv: Inventory, store: Store, on: bool, target: str) -> list[str]:
    """Put a device or group in maintenance (nothing automatic touches it) or take it out."""
    if target not in inv.devices and target not in inv.groups:
        raise NethaError(f"{target!r} is neither a device nor a group in {inv.source}")
    current = set(store.get("maintenance", []))
    (current.add if on else current.discard)(target)
    store.put("maintenance", sorted(current))
    store.audit("maintenance", "on" if on else "off", target if target in inv.groups else None,
                target if target in inv.devices else None)
    return sorted(current)
