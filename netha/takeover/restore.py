"""Backup and restore of whole device configs (`netha backup`, `netha restore`): disaster recovery.

Backup saves each device's running config as a snapshot; one failing device is a failed result,
never an aborted run (Nornir's rule). Restore puts a snapshot back on a device under the inventory's
lock, keeps the config it replaces as a snapshot of its own, and verifies the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..connect import make_driver
from ..drivers import NetworkDriver
from ..drivers.textconfig import config_body, unified_diff
from ..errors import NethaError
from ..inventory import Inventory
from ..lock import InventoryLock
from ..store import SnapshotRecord, Store

DriverFactory = Callable[[Inventory, str], NetworkDriver]


@dataclass(frozen=True)
class BackupResult:
    device: str
    ok: bool
    snapshot: int | None = None
    lines: int = 0
    error: str | None = None


def backup(inv: Inventory, store: Store, devices: list[str] | None = None,
           factory: DriverFactory = make_driver) -> list[BackupResult]:
    """Snapshot the running config of each device; a device that fails is reported, the others go on."""
    results = []
    for name in devices or list(inv.devices):
        try:
            with factory(inv, name) as drv:
                cfg = drv.get_config()
        except NethaError as exc:
            store.audit("backup", "failed", None, name, str(exc))
            results.append(BackupResult(name, False, error=str(exc)))
            continue
        sid = store.save_snapshot(name, cfg, "netha backup")
        store.audit("backup", "ok", None, name, f"snapshot {sid}")
        results.append(BackupResult(name, True, sid, len(cfg.splitlines())))
    return results


def pick_snapshot(store: Store, device: str, snapshot: int | None) -> SnapshotRecord:
    """The snapshot to restore: the one named, or the device's newest."""
    if snapshot is None:
        snaps = store.snapshots(device)
        if not snaps:
            raise NethaError(f"no snapshot of {device} in {store.path}; run `netha backup` first")
        return snaps[0]
    snap = store.snapshot(snapshot)
    if snap.device != device:
        raise NethaError(f"snapshot {snapshot} belongs to {snap.device}, not {device}")
    return snap


@dataclass(frozen=True)
class RestoreResult:
    device: str
    snapshot: int
    diff: str  # running config -> snapshot; empty when they were equal already
    applied: bool  # False: nothing to do, a dry run, or not confirmed
    previous: int | None = None  # the snapshot of the config the restore replaced


def restore(inv: Inventory, store: Store, device: str, snap: SnapshotRecord,
            confirm: Callable[[str], bool], factory: DriverFactory = make_driver) -> RestoreResult:
    """Show the diff to ``confirm`` (a dry run answers False); push, verify, audit.

    Raises NethaError when the device's config still differs from the snapshot afterwards."""
    if device not in inv.devices:
        raise NethaError(f"no device {device!r} in {inv.source}")
    with factory(inv, device) as drv:
        current = drv.get_config()
        diff = unified_diff(config_body(current), config_body(snap.config), device)
        if not diff or not confirm(diff):
            return RestoreResult(device, snap.id, diff, False)
        with InventoryLock(inv.controller.state_dir).acquire(f"restore {device}"):
            before = store.save_snapshot(device, current, f"before restore of snapshot {snap.id}")
            drv.replace_config(snap.config)
            after = drv.get_config()
    if config_body(after) != config_body(snap.config):
        store.audit("restore", "failed", None, device, f"snapshot {snap.id}: running config still differs", diff)
        raise NethaError(f"{device}: restore of snapshot {snap.id} incomplete; the config before it is snapshot {before}")
    store.audit("restore", "ok", None, device, f"snapshot {snap.id}", diff)
    return RestoreResult(device, snap.id, diff, True, before)
