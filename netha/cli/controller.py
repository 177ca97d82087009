"""``netha run`` (the daemon), ``netha check`` (one scheduled cycle), ``netha ack``, ``netha maintenance``.

The CLI parses arguments, calls one function of netha.controller and prints: the daemon's loop, the
scheduled cycle and the operator inputs live there.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from enum import Enum
from typing import Annotated

import typer
from rich.markup import escape

from ..controller.daemon import run_check, run_daemon
from ..controller.metrics import Metrics
from ..controller.operator import maintenance_list, request_ack, set_maintenance
from ..controller.runtime import Runtime
from ..errors import LockHeld, NethaError
from ..lock import InventoryLock
from ..report import status_document
from ..store import Store
from .common import (
    DeviceFilterOpt, GroupFilterOpt, InventoryOpt, JsonOpt, UsageProblem, complete_group, complete_target, console,
    emit_json, err_console, handle_errors, nagios_errors, need_group, open_inventory, select,
)
from .status import narrow


@handle_errors
def run(
    inventory: InventoryOpt,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide and log, never push.")] = False,
    metrics_port: Annotated[int, typer.Option("--metrics-port", help="Serve Prometheus metrics on this port (0: off).")] = 0,
    metrics_addr: Annotated[str, typer.Option("--metrics-addr", help="Address for the metrics endpoint.")] = "127.0.0.1",
    controller_id: Annotated[str | None, typer.Option("--id", help="This controller's ID, unique per controller "
                                                      "(default: the host name); see `netha leader`.")] = None,
) -> None:
    """The daemon: observe every poll interval, decide, act; with several controllers (controller.coordination:
    etcd) every one observes and only the leader acts."""
    from ..coordination import CoordinationError, coordinator_for, default_id

    inv = open_inventory(inventory)
    cid = controller_id or default_id()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", cid):
        raise NethaError(f"--id {cid!r}: letters, digits and . _ - only (at most 63)")
    coord = coordinator_for(inv, cid, "netha run")
    try:
        coord.start()  # file: the flock (refused while another controller runs); etcd: join and campaign
    except (LockHeld, CoordinationError) as exc:
        raise NethaError(f"refusing to start: {exc}") from None
    os.environ.setdefault("NETHA_ACTOR", "daemon" if controller_id is None and coord.backend == "file" else f"daemon {cid}")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    metrics = Metrics()
    try:
        with Runtime.build(inv, metrics=metrics, coordination=coord) as rt:
            if metrics_port:
                metrics.serve(metrics_port, metrics_addr)
            run_daemon(rt, stop, dry_run=dry_run)
    finally:
        coord.close()


@nagios_errors
def check(
    inventory: InventoryOpt,
    as_json: JsonOpt = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide and report, never push.")] = False,
    groups: GroupFilterOpt = None,
    devices: DeviceFilterOpt = None,
) -> None:
    """One cycle for cron or a systemd timer: observe, decide, act, exit (Nagios exit codes).

    The cycle always covers the whole inventory, as the daemon's does; --group/--device select what is
    reported and the exit code (one Nagios service per group)."""
    inv = open_inventory(inventory)
    sel = select(inv, groups, devices)
    with Runtime.build(inv) as rt:
        res = run_check(rt, dry_run=dry_run)
    if res.observe_only:
        err_console.print(f"[yellow]observe only:[/] {escape(res.observe_only)}", highlight=False)
    for r in res.recovered:
        err_console.print(f"recovered: {r.message}", highlight=False, markup=False)
    result = res.cycle
    shown = narrow(result.assessment, sel)
    doc = status_document(inv, res.snapshot, shown)
    doc["decision"] = {"kind": result.decision.kind, "group": result.decision.group, "target": result.decision.target,
                       "reason": result.decision.reason, "dry_run": result.decision.dry_run,
                       "alert": result.decision.alert,
                       "ok": None if result.outcome is None else result.outcome.ok,
                       "message": None if result.outcome is None else result.outcome.message}
    exit_code = res.exit_code
    if sel.filtered:
        failed_here = (result.outcome is not None and not result.outcome.ok
                       and (result.decision.group is None or result.decision.group in sel.groups))
        exit_code = 2 if failed_here else shown.exit_code
        doc["exit_code"] = exit_code
    if as_json:
        emit_json(doc)
    else:
        for name, g in doc["groups"].items():
            console.print(f"{name}: {g['verdict'].upper()} - {g['reason']}", highlight=False, markup=False)
        console.print(f"decision: {result.decision}", highlight=False, markup=False)
        if result.outcome is not None:
            console.print(result.outcome.message, highlight=False, markup=False)
    raise typer.Exit(exit_code)


@handle_errors
def ack(inventory: InventoryOpt,
        group: Annotated[str | None, typer.Argument(help="Only this group.", autocompletion=complete_group)] = None,
        as_json: JsonOpt = False) -> None:
    """Acknowledge: release the storm brake and the block periods after an automatic failover."""
    inv = open_inventory(inventory, enter_namespace=False, check_secrets=False)
    if group is not None:
        need_group(inv, group)
    request_ack(inv, Store(inv.controller.state_dir), group)
    if as_json:
        emit_json({"version": 1, "acknowledged": True, "group": group})
        return
    console.print(f"acknowledged{' ' + group if group else ''}: automatic actions may run again", markup=False)


class MaintenanceMode(str, Enum):
    on = "on"
    off = "off"
    list = "list"


@handle_errors
def maintenance(
    mode: Annotated[MaintenanceMode, typer.Argument(help="on, off or list.", case_sensitive=False)],
    inventory: InventoryOpt,
    target: Annotated[str | None, typer.Argument(help="A device or group name (on, off).",
                                                 autocompletion=complete_target)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Maintenance mode for a device or group: nothing automatic touches it."""
    inv = open_inventory(inventory, enter_namespace=False, check_secrets=False)
    store = Store(inv.controller.state_dir)
    if mode is MaintenanceMode.list:
        if target:
            raise UsageProblem("netha maintenance list takes no TARGET")
        names = maintenance_list(store)
        if as_json:
            emit_json({"version": 1, "maintenance": _described(inv, names)})
            return
        console.print("\n".join(names) or "nothing in maintenance", markup=False)
        return
    if not target:
        raise UsageProblem(f"netha maintenance {mode.value} needs a TARGET (a device or group)")
    if target not in inv.devices and target not in inv.groups:
        raise UsageProblem(f"{target!r} is neither a device nor a group in {inv.source}")
    now = set_maintenance(inv, store, mode is MaintenanceMode.on, target)
    if as_json:
        emit_json({"version": 1, "mode": mode.value, "target": target,
                   "kind": "group" if target in inv.groups else "device", "maintenance": _described(inv, now)})
        return
    console.print(f"maintenance {mode.value}: {target}", markup=False)


def _described(inv, names: list[str]) -> list[dict[str, str]]:
    """Each name in maintenance with what it is: a group, a device, or unknown (no longer in the inventory)."""
    return [{"name": n, "kind": "group" if n in inv.groups else "device" if n in inv.devices else "unknown"} for n in names]
