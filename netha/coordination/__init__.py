"""Several controllers, one acts: the leadership backends (``controller.coordination``).

``file`` (the default, nothing to install) is today's flock in the state directory; ``etcd`` is a
leader lease with fencing on an etcd v3 cluster (docs/ha.md). The controller and the takeover use
only :class:`Coordinator`; :func:`coordinator_for` picks the backend from the inventory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..inventory import Inventory
from ..store import Store
if TYPE_CHECKING:
    from .journal import EtcdJournal
from .base import ControllerInfo, CoordinationError, Coordinator, Fenced, LeaderView, Token, default_id

__all__ = ["ControllerInfo", "CoordinationError", "Coordinator", "Fenced", "LeaderView", "Token", "coordinator_for",
           "default_id", "group_units", "observed_inventory", "own_groups", "shared_journal"]


def coordinator_for(inv: Inventory, controller_id: str | None = None, purpose: str = "netha run") -> Coordinator:
    """The inventory's backend for controller ``controller_id`` (default: the host name). Not started."""
    cid = controller_id or default_id()
    cfg = inv.controller.coordination
    if cfg.backend == "etcd":
        from .etcd import EtcdCoordinator  # etcd3gw only where etcd is used

        units = every = None
        if cfg.scope == "group":
            every = group_units(inv)
            units = every if cfg.standby else [u for u in every if own_groups(inv, cid) & set(u)]
        return EtcdCoordinator(cfg, cid, purpose, units, every)
    from .filelock import FileCoordinator

    return FileCoordinator(inv.controller.state_dir, cid, purpose)


def group_units(inv: Inventory) -> list[tuple[str, ...]]:
    """Scope group: the sets of groups one lease covers (groups joined by shared devices)."""
    return inv.controller.coordination.components({g: {m.device for m in grp.members} for g, grp in inv.groups.items()})


def own_groups(inv: Inventory, controller_id: str) -> frozenset[str]:
    """Scope group: the groups ``controller_id`` owns (listed under it, or listed under nobody)."""
    cfg = inv.controller.coordination
    listed = {g for gs in cfg.groups.values() for g in gs}
    return frozenset(cfg.groups.get(controller_id, [])) | frozenset(g for g in inv.groups if g not in listed)


def observed_inventory(inv: Inventory, controller_id: str) -> Inventory:
    """The inventory this controller observes: all of it, or (scope group, ``standby: false``) only
    its own groups and their devices (the point of scale-out: nobody polls the whole fleet)."""
    cfg = inv.controller.coordination
    if cfg.backend != "etcd" or cfg.scope != "group" or cfg.standby:
        return inv
    units = [u for u in group_units(inv) if own_groups(inv, controller_id) & set(u)]
    groups = {g for u in units for g in u}
    devices = {m.device for g in groups for m in inv.groups[g].members}
    listeners = [lst.model_copy(update={"groups": [g for g in lst.groups if g in groups]})
                 for lst in inv.controller.listeners if any(g in groups for g in lst.groups)]
    return inv.model_copy(update={
        "groups": {g: v for g, v in inv.groups.items() if g in groups},
        "devices": {d: v for d, v in inv.devices.items() if d in devices},
        "controller": inv.controller.model_copy(update={"listeners": listeners})})


def shared_journal(coord: Coordinator | None, store: Store) -> EtcdJournal | None:
    """The plan journal a leader on another host reads: in etcd with the etcd backend (None: the
    local store is the journal, as with the file lock)."""
    if coord is not None and coord.backend == "etcd":
        from .etcd import EtcdCoordinator
        from .journal import EtcdJournal

        assert isinstance(coord, EtcdCoordinator)
        return EtcdJournal(coord, store)
    return None
