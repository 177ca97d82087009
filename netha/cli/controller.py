"""``netha run`` (the daemon), ``netha check`` (one scheduled cycle), ``netha ack``, ``netha maintenance``.

The CLI parses arguments, calls one function of netha.controller and prints: the daemon's loop, the
scheduled cycle and the operator inputs live there.
"""

from __future__ import annotations

import json
import os
import signal
import threading
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
from .common import InventoryOpt, JsonOpt, console, err_console, handle_errors, open_inventory


@handle_errors
def run(
    inventory: InventoryOpt,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide and log, never push.")] = False,
    metrics_port: Annotated[int, typer.Option("--metrics-port", help="Serve Prometheus metrics on this port (0: off).")] = 0,
    metrics_addr: Annotated[str, typer.Option("--metrics-addr", help="Address for the metrics endpoint.")] = "127.0.0.1",
) -> None:
    """The daemon: observe every poll interval, decide, act; one controller per inventory."""
    inv = open_inventory(inventory)
    try:
        lock = InventoryLock(inv.controller.state_dir).acquire("netha run")
    except LockHeld as exc:
        raise NethaError(f"refusing to start: {exc}") from None
    os.environ.setdefault("NETHA_ACTOR", "daemon")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    metrics = Metrics()
    try:
        with Runtime.build(inv, metrics=metrics) as rt:
            if metrics_port:
                metrics.serve(metrics_port, metrics_addr)
            run_daemon(rt, stop, dry_run=dry_run)
    finally:
        lock.release()


@handle_errors
def check(inventory: InventoryOpt, as_json: JsonOpt = False, dry_run: Annotated[bool, typer.Option("--dry-run")] = False) -> None:
    """One cycle for cron or a systemd timer: observe, decide, act, exit (Nagios exit codes)."""
    inv = open_inventory(inventory)
    with Runtime.build(inv) as rt:
        res = run_check(rt, dry_run=dry_run)
    if res.observe_only:
        err_console.print(f"[yellow]observe only:[/] {escape(res.observe_only)}", highlight=False)
    for r in res.recovered:
        err_console.print(f"recovered: {r.message}", highlight=False, markup=False)
    result = res.cycle
    doc = status_document(inv, res.snapshot, result.assessment)
    doc["decision"] = {"kind": result.decision.kind, "group": result.decision.group, "target": result.decision.target,
                       "reason": result.decision.reason, "dry_run": result.decision.dry_run,
                       "alert": result.decision.alert,
                       "ok": None if result.outcome is None else result.outcome.ok,
                       "message": None if result.outcome is None else result.outcome.message}
    if as_json:
        print(json.dumps(doc))
    else:
        for name, g in doc["groups"].items():
            console.print(f"{name}: {g['verdict'].upper()} - {g['reason']}", highlight=False, markup=False)
        console.print(f"decision: {result.decision}", highlight=False, markup=False)
        if result.outcome is not None:
            console.print(result.outcome.message, highlight=False, markup=False)
    raise typer.Exit(res.exit_code)


@handle_errors
def ack(inventory: InventoryOpt, group: Annotated[str | None, typer.Argument(help="Only this group.")] = None) -> None:
    """Acknowledge: release the storm brake and the block periods after an automatic failover."""
    inv = open_inventory(inventory, enter_namespace=False)
    request_ack(inv, Store(inv.controller.state_dir), group)
    console.print(f"acknowledged{' ' + group if group else ''}: automatic actions may run again", markup=False)


@handle_errors
def maintenance(
    mode: Annotated[str, typer.Argument(help="on, off or list")],
    inventory: InventoryOpt,
    target: Annotated[str | None, typer.Argument(help="A device or group name.")] = None,
) -> None:
    """Maintenance mode for a device or group: nothing automatic touches it."""
    inv = open_inventory(inventory, enter_namespace=False)
    store = Store(inv.controller.state_dir)
    if mode == "list":
        console.print("\n".join(maintenance_list(store)) or "nothing in maintenance", markup=False)
        return
    if mode not in ("on", "off") or not target:
        raise NethaError("usage: netha maintenance on|off TARGET, or netha maintenance list")
    set_maintenance(inv, store, mode == "on", target)
    console.print(f"maintenance {mode}: {target}", markup=False)
