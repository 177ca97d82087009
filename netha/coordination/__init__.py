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
           "default_id", "shared_journal"]


def coordinator_for(inv: Inventory, controller_id: str | None = None, purpose: str = "netha run") -> Coordinator:
    """The inventory's backend for controller ``controller_id`` (default: the host name). Not started."""
    cid = controller_id or default_id()
    cfg = inv.controller.coordination
    if cfg.backend == "etcd":
        from .etcd import EtcdCoordinator  # etcd3gw only where etcd is used

        return EtcdCoordinator(cfg, cid, purpose)
    from .filelock import FileCoordinator

    return FileCoordinator(inv.controller.state_dir, cid, purpose)


def shared_journal(coord: Coordinator | None, store: Store) -> EtcdJournal | None:
    """The plan journal a leader on another host reads: in etcd with the etcd backend (None: the
    local store is the journal, as with the file lock)."""
    if coord is not None and coord.backend == "etcd":
        from .etcd import EtcdCoordinator
        from .journal import EtcdJournal

        assert isinstance(coord, EtcdCoordinator)
        return EtcdJournal(coord, store)
    return None
