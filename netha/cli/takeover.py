"""``netha failover``, ``failback``, ``backup``, ``restore``, ``snapshots``, ``history``.

With ``--json`` each prints one document on stdout (docs/cli-json.md) and nothing else: plans, diffs
and step reports go into the document, errors to stderr, and a confirmation prompt (without
``--yes``) to stderr as well.
"""

from __future__ import annotations

import fnmatch
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.syntax import Syntax
from rich.table import Table

from ..connect import make_driver
from ..controller.runtime import Runtime, run_manual
from ..errors import NethaError
from ..health import Assessment, assess
from ..inventory import Inventory
from ..log import redact, redact_data
from ..store import Store
from ..takeover import restore as restore_ops
from ..takeover.execute import Outcome
from ..takeover.plan import Plan, Planner, render_plan_text
from .common import (
    EXIT_FAILED, DeviceFilterOpt, GroupFilterOpt, InventoryOpt, JsonOpt, UsageProblem, complete_device, complete_group,
    console, emit_json, err_console, esc, fail, handle_errors, match_names, need_device, need_group, open_inventory,
    plain, progress_bar, progress_wanted, select,
)

DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the plan and the config changes; touch nothing.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
OfflineOpt = Annotated[bool, typer.Option(
    "--offline", help="With --dry-run: plan from the inventory alone (primaries master, all healthy); contact no "
                      "device and need no secret.")]

SCHEMA_VERSION = 1


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
    """Ask on the terminal (the prompt goes to stderr: stdout stays the command's output)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise NethaError(f"{what}: not confirmed (no terminal); pass --yes")
    if not typer.confirm(f"{what}?", default=False, err=True):
        raise NethaError(f"{what}: not confirmed; nothing was changed")


def _report(outcome: Outcome) -> None:
    for r in outcome.steps:
        mark = "[green]ok[/]" if r.ok else "[red]FAILED[/]"
        detail = f" {esc(r.detail)}" if r.detail else ""
        console.print(f"  step {r.number} {esc(f'[{r.device}]')} {esc(r.description)}: {mark} "
                      f"({r.seconds * 1000:.0f} ms){detail}", highlight=False)
    style = "bold green" if outcome.ok else ("bold yellow" if outcome.rolled_back else "bold red")
    console.print(outcome.message, style=style, highlight=False, markup=False)


def plan_document(plan: Plan) -> dict[str, Any]:
    """A plan as docs/cli-json.md describes it."""
    return {
        "id": plan.id, "kind": plan.kind, "group": plan.group, "target": plan.target, "notes": list(plan.notes),
        "devices": plan.devices,
        "steps": [{"number": i, "device": s.device, "description": s.description,
                   "operation": s.operation,
                   "lines": list(s.lines), "expect": {"master": s.expect.master, "settle": s.expect.settle}}
                  for i, s in enumerate(plan.steps, 1)],
    }


def outcome_document(outcome: Outcome) -> dict[str, Any]:
    """What a plan's run did, redacted (device answers may quote config lines)."""
    return redact_data({
        "ok": outcome.ok, "rolled_back": outcome.rolled_back, "message": outcome.message,
        "seconds": round(outcome.seconds, 3),
        "steps": [{"number": r.number, "device": r.device, "description": r.description, "ok": r.ok,
                   "detail": r.detail, "seconds": round(r.seconds, 3)} for r in outcome.steps],
        "snapshots": dict(outcome.snapshots),
    })


def _need_names(inv: Inventory, group: str, target: str | None) -> None:
    """A group or target the inventory does not have is a usage error (exit 2), before anything runs."""
    need_group(inv, group)
    if target is not None:
        need_device(inv, target)


def _take_over(inventory: Path, build: Callable[[Inventory, Assessment], Plan], command: str, what: str,
               dry_run: bool, yes: bool, offline: bool, as_json: bool, group: str, target: str | None) -> None:
    doc: dict[str, Any] = {"version": SCHEMA_VERSION, "command": command, "group": group, "target": target,
                           "dry_run": dry_run, "offline": offline, "ok": True, "plan": None, "recovered": [],
                           "outcome": None}
    if offline:
        if not dry_run:
            raise UsageProblem("--offline plans only: add --dry-run")
        from ..nominal import nominal_assessment

        # Nothing logs in: no secret is resolved or required (an engineer's laptop, a CI job).
        inv = open_inventory(inventory, enter_namespace=False, check_secrets=False)
        _need_names(inv, group, target)
        plan = build(inv, nominal_assessment(inv))
        if as_json:
            emit_json(doc | {"plan": plan_document(plan)})
            return
        _print_plan(plan)
        console.print("dry run (offline): no device was contacted, nothing was changed", style="bold")
        return
    inv = open_inventory(inventory)
    _need_names(inv, group, target)
    with Runtime.build(inv) as rt:
        a = assess(inv, rt.observer.observe_once())
        plan = build(inv, a)
        doc["plan"] = plan_document(plan)
        if not as_json:
            _print_plan(plan)
        if dry_run:
            if as_json:
                emit_json(doc)
            else:
                console.print("dry run: nothing was changed", style="bold")
            return
        _confirm(what, yes)
        t0 = time.monotonic()
        result = run_manual(rt, plan, f"operator: {what}", a)
        for r in result.recovered:
            err_console.print(f"[yellow]recovered:[/] {esc(r.message)}", highlight=False)
        outcome = result.outcome
        if as_json:
            emit_json(doc | {"ok": outcome.ok, "recovered": [redact(r.message) for r in result.recovered],
                             "outcome": outcome_document(outcome)})
        else:
            _report(outcome)
            if outcome.ok:
                console.print(f"time from command to verified master: {time.monotonic() - t0:.3f}s", highlight=False)
        if not outcome.ok:
            raise typer.Exit(EXIT_FAILED)


@handle_errors
def failover(
    group: Annotated[str, typer.Argument(help="Group to move.", autocompletion=complete_group)],
    to: Annotated[str, typer.Option("--to", help="The device that becomes master.", autocompletion=complete_device)],
    inventory: InventoryOpt,
    strategy: Annotated[str, typer.Option("--strategy", help="auto, planned (make-before-break) or emergency.")] = "auto",
    dry_run: DryRunOpt = False,
    offline: OfflineOpt = False,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Move a group's master to another device: print the plan and the config changes, push, verify, roll back on failure."""
    if strategy not in ("auto", "planned", "emergency"):
        raise UsageProblem(f"--strategy must be auto, planned or emergency, not {strategy!r}")
    _take_over(inventory, lambda inv, a: Planner(inv).failover(group, to, a, strategy),  # type: ignore[arg-type]
               "failover", f"fail over {group} to {to}", dry_run, yes, offline, as_json, group, to)


@handle_errors
def failback(
    group: Annotated[str, typer.Argument(help="Group to return to its primary.", autocompletion=complete_group)],
    inventory: InventoryOpt,
    dry_run: DryRunOpt = False,
    offline: OfflineOpt = False,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Return a group to its configured priorities (the primary becomes master again)."""
    _take_over(inventory, lambda inv, a: Planner(inv).failback(group, a), "failback", f"fail back {group}",
               dry_run, yes, offline, as_json, group, None)


def _backup_entry(r: restore_ops.BackupResult) -> dict[str, Any]:
    return {"device": r.device, "ok": r.ok, "snapshot": r.snapshot, "lines": r.lines,
            "error": None if r.error is None else redact(r.error)}


@handle_errors
def backup(
    inventory: InventoryOpt,
    groups: GroupFilterOpt = None,
    devices: DeviceFilterOpt = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64,
                                         help="Devices backed up at the same time.")] = 8,
    as_json: JsonOpt = False,
) -> None:
    """Snapshot the running config of every device (or the selected ones) into the state directory.

    A device that fails is reported and the others go on."""
    inv = open_inventory(inventory)
    sel = select(inv, groups, devices)
    store = Store(inv.controller.state_dir)
    results: dict[str, restore_ops.BackupResult] = {}

    def one(name: str) -> restore_ops.BackupResult:
        [r] = restore_ops.backup(inv, store, [name], factory=make_driver)
        return r

    with progress_bar("backup", len(sel.devices), progress_wanted(as_json) and len(sel.devices) > 1) as bar, \
            ThreadPoolExecutor(max_workers=min(workers, max(1, len(sel.devices))), thread_name_prefix="backup") as pool:
        for fut in as_completed([pool.submit(one, name) for name in sel.devices]):
            r = fut.result()
            results[r.device] = r
            if as_json:
                pass
            elif r.ok:
                console.print(f"{r.device}: snapshot {r.snapshot} ({r.lines} lines)", highlight=False, markup=False)
            else:
                err_console.print(f"[red]{esc(r.device)}: backup failed:[/] {esc(redact(r.error or ''))}", highlight=False)
            bar.advance(r.device)
    ordered = [results[name] for name in sel.devices]
    ok = all(r.ok for r in ordered)
    if as_json:
        emit_json({"version": SCHEMA_VERSION, "ok": ok, "devices": [_backup_entry(r) for r in ordered]})
    elif len(ordered) > 1:
        failed = [r.device for r in ordered if not r.ok]
        console.print(f"backup: {len(ordered) - len(failed)} of {len(ordered)} devices saved"
                      + (f"; failed: {', '.join(failed)}" if failed else ""), highlight=False, markup=False)
    if not ok:
        raise typer.Exit(EXIT_FAILED)


@handle_errors
def snapshots(device: Annotated[str, typer.Argument(help="The device.", autocompletion=complete_device)],
              inventory: InventoryOpt,
              as_json: JsonOpt = False) -> None:
    """List the saved configs of a device."""
    inv = open_inventory(inventory, enter_namespace=False, check_secrets=False)
    need_device(inv, device)
    rows = Store(inv.controller.state_dir).snapshots(device)
    if as_json:
        emit_json([{"id": r.id, "taken_at": r.taken_at, "reason": redact(r.reason), "lines": len(r.config.splitlines())}
                   for r in rows])
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
    devices: Annotated[list[str], typer.Argument(help="The device(s) to restore, one after the other.",
                                                 metavar="DEVICE...", autocompletion=complete_device)],
    inventory: InventoryOpt,
    snapshot: Annotated[Optional[int], typer.Option("--snapshot", help="Snapshot id (default: each device's newest); "
                                                                       "one DEVICE only.")] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Put a saved config back on a device (e.g. a replaced router): show the diff, push, verify.

    Several devices are restored one after the other; the first that fails stops the run."""
    inv = open_inventory(inventory)
    names = list(dict.fromkeys(devices))
    for d in names:
        need_device(inv, d)
    if snapshot is not None and len(names) > 1:
        raise UsageProblem("--snapshot names one device's snapshot: give one DEVICE with it")
    store = Store(inv.controller.state_dir)
    snaps = {d: restore_ops.pick_snapshot(store, d, snapshot) for d in names}  # every device has one, or nothing starts
    entries: list[dict[str, Any]] = []
    interactive = not (yes or dry_run)
    show_bar = progress_wanted(as_json) and len(names) > 1 and not interactive
    with progress_bar("restore", len(names), show_bar) as bar:
        for d in names:
            snap = snaps[d]

            def confirm(diff: str, d: str = d, sid: int = snap.id) -> bool:
                if not as_json:
                    console.print(Syntax(redact(diff), "diff", theme="ansi_dark"))
                if dry_run:
                    if not as_json:
                        console.print(f"{d}: dry run: nothing was changed", style="bold", highlight=False, markup=False)
                    return False
                _confirm(f"restore {d} to snapshot {sid}", yes)
                return True

            entry: dict[str, Any] = {"device": d, "snapshot": snap.id, "ok": False, "changed": None, "applied": False,
                                     "previous": None, "diff": None, "error": None}
            entries.append(entry)
            try:
                result = restore_ops.restore(inv, store, d, snap, confirm, factory=make_driver)
            except NethaError as exc:
                entry["error"] = redact(str(exc))
                if as_json:
                    emit_json({"version": SCHEMA_VERSION, "ok": False, "dry_run": dry_run, "devices": entries})
                raise fail(str(exc), EXIT_FAILED) from None
            entry.update(ok=True, changed=bool(result.diff), applied=result.applied, previous=result.previous,
                         diff=redact(result.diff) if result.diff else "")
            if not as_json:
                if not result.diff:
                    console.print(f"{d}: running config already equals snapshot {snap.id}", markup=False)
                elif result.applied:
                    console.print(f"[green]{esc(d)}: restored snapshot {snap.id} (verified)[/]; "
                                  f"the previous config is snapshot {result.previous}")
            bar.advance(d)
    if as_json:
        emit_json({"version": SCHEMA_VERSION, "ok": True, "dry_run": dry_run, "devices": entries})


def _matches(value: str | None, patterns: list[str]) -> bool:
    return value is not None and any(fnmatch.fnmatchcase(value, p) for p in patterns)


@handle_errors
def history(
    inventory: InventoryOpt,
    as_json: JsonOpt = False,
    groups: GroupFilterOpt = None,
    devices: DeviceFilterOpt = None,
    last: Annotated[Optional[int], typer.Option("--last", "-n", min=1, help="The most recent N entries.",
                                                show_default="50")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, hidden=True,
                                                 help="Deprecated: --last.")] = None,
    diffs: Annotated[bool, typer.Option("--diffs", help="Show the config diffs.")] = False,
) -> None:
    """The audit log: who did what, when, with what result (oldest first).

    --group/--device keep the entries about a matching group or device."""
    if limit is not None:
        if last is not None and last != limit:
            raise UsageProblem("--limit is the old name of --last: give one of them")
        err_console.print("warning: --limit is deprecated and will go in the next release; use --last",
                          highlight=False, markup=False)
    count = last or limit or 50
    inv = open_inventory(inventory, enter_namespace=False, check_secrets=False)
    store = Store(inv.controller.state_dir)
    gpats, dpats = list(groups or ()), list(devices or ())
    if gpats or dpats:
        rows = store.history(2**62)
        where = f"{inv.source} or its audit log"
        # A name the inventory no longer has may still be in the log: both count as known.
        match_names(sorted(set(inv.groups) | {r.group for r in rows if r.group}), gpats, "--group", "group", where)
        match_names(sorted(set(inv.devices) | {r.device for r in rows if r.device}), dpats, "--device", "device", where)
        rows = [r for r in rows if (not gpats or _matches(r.group, gpats)) and (not dpats or _matches(r.device, dpats))]
        rows = rows[-count:]
    else:
        rows = store.history(count)
    # The store redacts at write time; rows written before that (or by an older netha) are redacted here.
    if as_json:
        emit_json([redact_data(dict(r.__dict__)) for r in rows])
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
