"""``netha failover``, ``failback``, ``backup``, ``restore``, ``snapshots``, ``history``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.syntax import Syntax
from rich.table import Table

from ..connect import make_driver
from ..drivers.textconfig import config_body, unified_diff
from ..errors import NethaError
from ..health import assess
from ..inventory import Inventory
from ..lock import InventoryLock
from ..log import redact, redact_data
from ..observe.observer import Observer
from ..store import Store
from ..takeover.execute import Executor, Outcome, Sessions, hook_from_env
from ..takeover.plan import Plan, Planner, render_plan_text
from .common import InventoryOpt, JsonOpt, console, err_console, esc, handle_errors, open_inventory, plain

DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the plan and the config changes; touch nothing.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _print_plan(plan: Plan) -> None:
    console.print(render_plan_text(plan), highlight=False, markup=False)
    per_device: dict[str, list[str]] = {}
    for s in plan.steps:
        per_device.setdefault(s.device, []).extend(s.lines)
    for dev, lines in per_device.items():
        if lines:
            console.print(f"--- {dev} (running)\n+++ {dev} (after)", highlight=False, markup=False)
            console.print(Syntax("\n".join(f"+{ln}" for ln in lines), "diff", theme="ansi_dark"))


def _confirm(what: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise NethaError(f"{what}: not confirmed (no terminal); pass --yes")
    if not typer.confirm(f"{what}?", default=False):
        raise typer.Exit(1)


def _report(outcome: Outcome) -> None:
    for r in outcome.steps:
        mark = "[green]ok[/]" if r.ok else "[red]FAILED[/]"
        detail = f" {esc(r.detail)}" if r.detail else ""
        console.print(f"  step {r.number} {esc(f'[{r.device}]')} {esc(r.description)}: {mark} "
                      f"({r.seconds * 1000:.0f} ms){detail}", highlight=False)
    style = "bold green" if outcome.ok else ("bold yellow" if outcome.rolled_back else "bold red")
    console.print(outcome.message, style=style, highlight=False, markup=False)


def execute_plan(inv: Inventory, observer: Observer, plan: Plan, reason: str) -> Outcome:
    store = Store(inv.controller.state_dir)
    sessions = Sessions(inv)
    sessions.adopt(observer.release_sessions())
    try:
        with InventoryLock(inv.controller.state_dir).acquire(f"{plan.kind} of {plan.group}"):
            ex = Executor(inv, store, sessions, adverts=observer.advert_sources, garp=observer.garp, hook=hook_from_env())
            for line in ex.recover():
                err_console.print(f"[yellow]recovered:[/] {esc(line)}", highlight=False)
            return ex.run(plan, reason)
    finally:
        sessions.close()


OfflineOpt = Annotated[bool, typer.Option(
    "--offline", help="With --dry-run: plan from the inventory alone (primaries master, all healthy); contact no device.")]


def _take_over(inventory: Path, build, what: str, dry_run: bool, yes: bool, offline: bool = False) -> None:
    if offline:
        if not dry_run:
            raise NethaError("--offline plans only: add --dry-run")
        from ..nominal import nominal_assessment

        inv = open_inventory(inventory, enter_namespace=False)
        _print_plan(build(inv, nominal_assessment(inv)))
        console.print("dry run (offline): no device was contacted, nothing was changed", style="bold")
        return
    inv = open_inventory(inventory)
    with Observer(inv) as observer:
        snap = observer.observe_once()
        a = assess(inv, snap)
        plan = build(inv, a)
        _print_plan(plan)
        if dry_run:
            console.print("dry run: nothing was changed", style="bold")
            return
        _confirm(what, yes)
        t0 = time.monotonic()
        outcome = execute_plan(inv, observer, plan, reason=f"operator: {what}")
        _report(outcome)
        console.print(f"time from command to verified master: {time.monotonic() - t0:.3f}s" if outcome.ok else "", highlight=False)
        if not outcome.ok:
            raise typer.Exit(1)


@handle_errors
def failover(
    group: Annotated[str, typer.Argument(help="Group to move.")],
    to: Annotated[str, typer.Option("--to", help="The device that becomes master.")],
    inventory: InventoryOpt,
    strategy: Annotated[str, typer.Option("--strategy", help="auto, planned (make-before-break) or emergency.")] = "auto",
    dry_run: DryRunOpt = False,
    offline: OfflineOpt = False,
    yes: YesOpt = False,
) -> None:
    """Move a group's master to another device: print the plan and the config changes, push, verify, roll back on failure."""
    if strategy not in ("auto", "planned", "emergency"):
        raise NethaError(f"--strategy must be auto, planned or emergency, not {strategy!r}")
    _take_over(inventory, lambda inv, a: Planner(inv).failover(group, to, a, strategy),  # type: ignore[arg-type]
               f"fail over {group} to {to}", dry_run, yes, offline)


@handle_errors
def failback(
    group: Annotated[str, typer.Argument(help="Group to return to its primary.")],
    inventory: InventoryOpt,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
) -> None:
    """Return a group to its configured priorities (the primary becomes master again)."""
    _take_over(inventory, lambda inv, a: Planner(inv).failback(group, a), f"fail back {group}", dry_run, yes)


@handle_errors
def backup(inventory: InventoryOpt) -> None:
    """Snapshot the running config of every device into the state directory."""
    inv = open_inventory(inventory)
    store = Store(inv.controller.state_dir)
    failed = 0
    for name in inv.devices:
        try:
            with make_driver(inv, name) as drv:
                cfg = drv.get_config()
            sid = store.save_snapshot(name, cfg, "netha backup")
            store.audit("backup", "ok", None, name, f"snapshot {sid}")
            console.print(f"{name}: snapshot {sid} ({len(cfg.splitlines())} lines)", highlight=False, markup=False)
        except NethaError as exc:
            failed += 1
            store.audit("backup", "failed", None, name, str(exc))
            err_console.print(f"[red]{esc(name)}: backup failed:[/] {esc(exc)}", highlight=False)
    if failed:
        raise typer.Exit(1)


@handle_errors
def snapshots(device: Annotated[str, typer.Argument()], inventory: InventoryOpt, as_json: JsonOpt = False) -> None:
    """List the saved configs of a device."""
    inv = open_inventory(inventory, enter_namespace=False)
    rows = Store(inv.controller.state_dir).snapshots(device)
    if as_json:
        print(json.dumps([{"id": r.id, "taken_at": r.taken_at, "reason": r.reason, "lines": len(r.config.splitlines())} for r in rows]))
        return
    table = Table(title=plain(f"snapshots of {device}"))
    for col in ("id", "taken", "reason", "lines"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r.id), time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.taken_at)), plain(redact(r.reason)),
                      str(len(r.config.splitlines())))
    console.print(table)


@handle_errors
def restore(
    device: Annotated[str, typer.Argument()],
    inventory: InventoryOpt,
    snapshot: Annotated[int | None, typer.Option("--snapshot", help="Snapshot id (default: the newest).")] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
) -> None:
    """Put a saved config back on a device (e.g. a replaced router): show the diff, push, verify."""
    inv = open_inventory(inventory)
    if device not in inv.devices:
        raise NethaError(f"no device {device!r} in {inventory}")
    store = Store(inv.controller.state_dir)
    if snapshot is None:
        snaps = store.snapshots(device)
        if not snaps:
            raise NethaError(f"no snapshot of {device} in {store.path}; run `netha backup` first")
        snap = snaps[0]
    else:
        snap = store.snapshot(snapshot)
        if snap.device != device:
            raise NethaError(f"snapshot {snapshot} belongs to {snap.device}, not {device}")
    with make_driver(inv, device) as drv:
        current = drv.get_config()
        diff = unified_diff(config_body(current), config_body(snap.config), device)
        if not diff:
            console.print(f"{device}: running config already equals snapshot {snap.id}", markup=False)
            return
        console.print(Syntax(redact(diff), "diff", theme="ansi_dark"))
        if dry_run:
            console.print("dry run: nothing was changed", style="bold")
            return
        _confirm(f"restore {device} to snapshot {snap.id}", yes)
        with InventoryLock(inv.controller.state_dir).acquire(f"restore {device}"):
            before = store.save_snapshot(device, current, f"before restore of snapshot {snap.id}")
            drv.replace_config(snap.config)
            after = drv.get_config()
    if config_body(after) != config_body(snap.config):
        store.audit("restore", "failed", None, device, f"snapshot {snap.id}: running config still differs", diff)
        raise NethaError(f"{device}: restore of snapshot {snap.id} incomplete; the config before it is snapshot {before}")
    store.audit("restore", "ok", None, device, f"snapshot {snap.id}", diff)
    console.print(f"[green]{esc(device)}: restored snapshot {snap.id} (verified)[/]; the previous config is snapshot {before}")


@handle_errors
def history(
    inventory: InventoryOpt,
    as_json: JsonOpt = False,
    group: Annotated[str | None, typer.Option("--group", help="Only this group.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most recent N entries.")] = 50,
    diffs: Annotated[bool, typer.Option("--diffs", help="Show the config diffs.")] = False,
) -> None:
    """The audit log: who did what, when, with what result."""
    inv = open_inventory(inventory, enter_namespace=False)
    rows = Store(inv.controller.state_dir).history(limit, group)
    # The store redacts at write time; rows written before that (or by an older netha) are redacted here.
    if as_json:
        print(json.dumps([redact_data(dict(r.__dict__)) for r in rows], indent=1))
        return
    table = Table(title="netha history")
    for col in ("id", "time", "actor", "action", "group", "device", "result", "detail"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r.id), time.strftime("%m-%d %H:%M:%S", time.localtime(r.ts)),
                      *(plain(redact(v or "")) for v in (r.actor, r.action, r.group, r.device, r.result, r.detail)))
    console.print(table)
    if diffs:
        for r in rows:
            if r.diff:
                console.print(plain(f"audit {r.id}: {r.action} {r.device or ''}".rstrip(), "bold"))
                console.print(Syntax(redact(r.diff), "diff", theme="ansi_dark"))
