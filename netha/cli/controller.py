"""``netha run`` (the daemon), ``netha check`` (one scheduled cycle), ``netha ack``, ``netha maintenance``."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from typing import Annotated

import typer
from rich.markup import escape

from ..controller.core import Controller
from ..controller.metrics import Metrics
from ..controller.webhook import Webhook
from ..errors import LockHeld, NethaError
from ..health import assess
from ..lock import InventoryLock
from ..observe.observer import Observer
from ..observe.types import Snapshot
from ..report import status_document
from ..store import Store, actor
from ..takeover.execute import Executor, Sessions, hook_from_env
from .common import InventoryOpt, JsonOpt, console, err_console, handle_errors, open_inventory

log = logging.getLogger("netha.daemon")

# How often the daemon retries rollbacks left pending (a device that was unreachable at the time).
PENDING_RETRY = 30.0


def first_look(observer: Observer, timeout: float) -> Snapshot:
    """The first snapshot in which every device has been polled once (or the newest at ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        snap = observer.snapshot()
        if all(o.managed is not None for o in snap.devices.values()) or time.monotonic() >= deadline:
            return snap
        observer.changed.wait(0.1)
        observer.changed.clear()


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
    store = Store(inv.controller.state_dir)
    sessions = Sessions(inv)
    observer = Observer(inv)
    metrics = Metrics()
    metrics.watch_listener(observer.listener_stats)
    if metrics_port:
        metrics.serve(metrics_port, metrics_addr)
    webhook = Webhook(inv.controller.webhook)
    executor = Executor(inv, store, sessions, adverts=observer.advert_sources, garp=observer.garp, hook=hook_from_env())
    ctl = Controller(inv, store, executor, metrics, webhook, dry_run=dry_run)
    try:
        observer.start()
        # Open plans are resolved against one fresh look at the network (every device polled once).
        first = first_look(observer, max(3.0, 10 * inv.controller.poll_interval))
        for r in ctl.recover(assess(inv, first)):
            log.warning("recovered: %s", r.message)
        sessions.warm()
        store.audit("daemon", "started", detail=f"pid {os.getpid()}, poll {inv.controller.poll_interval}s" + (", dry-run" if dry_run else ""))
        log.warning("netha run: watching %d groups on %d devices every %gs%s", len(inv.groups), len(inv.devices),
                    inv.controller.poll_interval, " (dry run)" if dry_run else "")
        interval = inv.controller.poll_interval
        min_gap = min(0.02, interval / 5)
        failures = 0
        next_retry = time.monotonic() + PENDING_RETRY
        while not stop.is_set():
            started = time.monotonic()
            observer.changed.clear()
            observer.urgent.clear()
            try:
                executor.hook("cycle")  # a test hook (fault injection); nothing in production
                ctl.cycle(observer.snapshot())
                failures = 0
                if started >= next_retry:
                    next_retry = started + PENDING_RETRY
                    for r in executor.retry_pending():
                        webhook.send("recovered", group=r.record.group, plan=r.record.id, ok=r.ok, message=r.message)
            except Exception:  # noqa: BLE001 - one bad cycle never ends the daemon
                failures += 1
                metrics.cycle_errors.inc()
                log.exception("cycle failed (%d in a row); the daemon goes on", failures)
                stop.wait(min(5.0, interval * 2 ** min(failures, 6)))
                continue
            # Decide again as soon as a probe reports something new (damping counts each poll once),
            # or after one interval at the latest; never more often than every min_gap.
            observer.changed.wait(interval)
            rest = min_gap - (time.monotonic() - started)
            if rest > 0:
                stop.wait(rest)
    finally:
        observer.stop()
        sessions.close()
        webhook.close()
        store.audit("daemon", "stopped", detail=f"pid {os.getpid()}")
        lock.release()


@handle_errors
def check(inventory: InventoryOpt, as_json: JsonOpt = False, dry_run: Annotated[bool, typer.Option("--dry-run")] = False) -> None:
    """One cycle for cron or a systemd timer: observe, decide, act, exit (Nagios exit codes)."""
    inv = open_inventory(inventory)
    store = Store(inv.controller.state_dir)
    sessions = Sessions(inv)
    observer = Observer(inv)
    try:
        try:
            lock = InventoryLock(inv.controller.state_dir).acquire("netha check")
        except LockHeld as exc:
            lock = None
            dry_run = True
            err_console.print(f"[yellow]observe only:[/] {escape(str(exc))}", highlight=False)
        executor = Executor(inv, store, sessions, adverts=observer.advert_sources, garp=observer.garp)
        ctl = Controller(inv, store, executor, dry_run=dry_run, persist_health=True)
        snap = observer.observe_once()
        if lock is not None:
            recovered = ctl.recover(assess(inv, snap))
            for r in recovered:
                err_console.print(f"recovered: {r.message}", highlight=False, markup=False)
            if recovered:
                snap = observer.observe_once()
        result = ctl.cycle(snap)
        doc = status_document(inv, snap, result.assessment)
        doc["decision"] = {"kind": result.decision.kind, "group": result.decision.group, "target": result.decision.target,
                           "reason": result.decision.reason, "dry_run": result.decision.dry_run,
                           "ok": None if result.outcome is None else result.outcome.ok,
                           "message": None if result.outcome is None else result.outcome.message}
        code = result.assessment.exit_code
        if result.outcome is not None and not result.outcome.ok:
            code = 2
        if as_json:
            print(json.dumps(doc))
        else:
            for name, g in doc["groups"].items():
                console.print(f"{name}: {g['verdict'].upper()} - {g['reason']}", highlight=False, markup=False)
            console.print(f"decision: {result.decision}", highlight=False, markup=False)
            if result.outcome is not None:
                console.print(result.outcome.message, highlight=False, markup=False)
        if lock is not None:
            lock.release()
        raise typer.Exit(code)
    finally:
        observer.stop()
        sessions.close()


@handle_errors
def ack(inventory: InventoryOpt, group: Annotated[str | None, typer.Argument(help="Only this group.")] = None) -> None:
    """Acknowledge: release the storm brake and the block periods after an automatic failover."""
    inv = open_inventory(inventory, enter_namespace=False)
    if group is not None and group not in inv.groups:
        raise NethaError(f"no group {group!r} in {inventory}")
    store = Store(inv.controller.state_dir)
    seq = (store.get("ack") or {}).get("seq", 0) + 1
    store.put("ack", {"seq": seq, "group": group, "by": actor(), "ts": time.time()})
    # A scheduled run has no daemon to read the request: apply it to the stored memory directly too.
    from ..controller.decide import acknowledge
    from ..controller.persist import memory_from_json, memory_to_json

    store.put("memory", memory_to_json(acknowledge(memory_from_json(store.get("memory")), group)))
    store.audit("ack", "ok", group, None, "storm brake and block periods cleared")
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
    current = set(store.get("maintenance", []))
    if mode == "list":
        console.print("\n".join(sorted(current)) or "nothing in maintenance", markup=False)
        return
    if mode not in ("on", "off") or not target:
        raise NethaError("usage: netha maintenance on|off TARGET, or netha maintenance list")
    if target not in inv.devices and target not in inv.groups:
        raise NethaError(f"{target!r} is neither a device nor a group in {inventory}")
    (current.add if mode == "on" else current.discard)(target)
    store.put("maintenance", sorted(current))
    store.audit("maintenance", mode, target if target in inv.groups else None, target if target in inv.devices else None)
    console.print(f"maintenance {mode}: {target}", markup=False)
