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

from ..controller.runtime import Runtime, run_manual
from ..errors import NethaError
from ..health import assess
from ..log import redact, redact_data
from ..store import Store
from ..takeover import restore as restore_ops
from ..takeover.execute import Outcome
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
    with Runtime.build(inv) as rt:
        a = assess(inv, rt.observer.observe_once())
        plan = build(inv, a)
        _print_plan(plan)
        if dry_run:
            console.print("dry run: nothing was changed", style="bold")
            return
        _confirm(what, yes)
        t0 = time.monotonic()
        result = run_manual(rt, plan, f"operator: {what}", a)
        for r in result.recovered:
            err_console.print(f"[yellow]recovered:[/] {esc(r.message)}", highlight=False)
        outcome = result.outcome
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
    results = restore_ops.backup(inv, Store(inv.controller.state_dir))
    for r in results:
        if r.ok:
            console.print(f"{r.device}: snapshot {r.snapshot} ({r.lines} lines)", highlight=False, markup=False)
        else:
            err_console.print(f"[red]{esc(r.device)}: backup failed:[/] {esc(r.error or '')}", highlight=False)
    if not all(r.ok for r in results):
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
    snap = restore_ops.pick_snapshot(store, device, snapshot)

    def confirm(diff: str) -> bool:
        console.print(Syntax(redact(diff), "diff", theme="ansi_dark"))
        if dry_run:
            console.print("dry run: nothing was changed", style="bold")
            return False
        _confirm(f"restore {device} to snapshot {snap.id}", yes)
        return True

    result = restore_ops.restore(inv, store, device, snap, confirm)
    if not result.diff:
        console.print(f"{device}: running config already equals snapshot {snap.id}", markup=False)
    elif result.applied:
        console.print(f"[green]{esc(device)}: restored snapshot {snap.id} (verified)[/]; "
                      f"the previous config is snapshot {result.previous}")


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
