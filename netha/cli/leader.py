"""``netha leader`` (who acts, every controller's last renewal) and ``netha leader step-down``
(hand the leadership over on purpose: maintenance of the leader's host)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..store import actor
from .common import JsonOpt, UsageProblem, console, emit_json, handle_errors, open_inventory, plain

leader_app = typer.Typer(add_completion=False)

OptionalInventory = Annotated[Optional[Path], typer.Option(
    "--inventory", "-i", envvar="NETHA_INVENTORY", help="Inventory YAML file.", show_default=False)]


def _coordinator(inventory: Path | None, purpose: str):
    from ..coordination import coordinator_for

    if inventory is None:
        raise UsageProblem("missing option --inventory / -i (or NETHA_INVENTORY)")
    inv = open_inventory(inventory, check_secrets=False)  # device secrets are not needed to ask who leads
    return inv, coordinator_for(inv, purpose=purpose)


def _open_plans(coord) -> list[dict] | None:
    """Open plans in the shared journal (etcd only; None when it cannot be read)."""
    if coord.backend != "etcd":
        return None
    from ..coordination import CoordinationError
    from ..coordination.journal import open_plan_summaries

    try:
        return open_plan_summaries(coord)
    except CoordinationError:
        return None


def _document(view) -> dict:
    now = time.time()
    return {"leader": view.leader, "controllers": [c.to_json(now) for c in view.controllers],
            "coordination": view.to_json(now)}


@leader_app.callback(invoke_without_command=True)
@handle_errors
def leader(ctx: typer.Context, inventory: OptionalInventory = None, as_json: JsonOpt = False) -> None:
    """Who leads (the one controller that acts), and every controller with its last renewal; with
    coordination scope group, who holds each group's lease.

    Exit 0 when a controller leads (scope group: every group has one), 1 when nobody does (or the
    backend cannot be asked)."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = inventory
        return
    _, coord = _coordinator(inventory, "netha leader")
    view = coord.view()
    plans = _open_plans(coord) if view.ok else None
    if as_json:
        emit_json({**_document(view), **({"open_plans": plans} if plans is not None else {})})
    else:
        head = f"backend {view.backend}" + (f" ({view.details.get('prefix')})" if view.details.get("prefix") else "")
        groups = view.details.get("groups")
        if isinstance(groups, dict):
            console.print(plain(f"{head}, scope group" + (f": {view.reason}" if view.reason else ""),
                                "bold red" if not view.ok or any(v["leader"] is None for v in groups.values()) else ""))
            gt = Table()
            for col in ("group", "leader", "lease revision"):
                gt.add_column(col)
            for g, v in groups.items():
                gt.add_row(plain(g), plain(v["leader"] or "NOBODY"), plain(str(v["revision"] or "-")))
            console.print(gt)
        elif view.leader:
            console.print(plain(f"{head}: controller {view.leader} leads"
                                + (f" (lease revision {view.revision}, ttl {view.ttl}s)" if view.revision else "")))
        else:
            console.print(plain(f"{head}: NOBODY leads: {view.reason}", "bold red"))
        if view.controllers:
            now = time.time()
            table = Table()
            for col in ("controller", "role", "host", "pid", "last renewal"):
                table.add_column(col)
            for c in view.controllers:
                age = "-" if c.renewed is None else f"{max(0.0, now - c.renewed):.1f}s ago"
                table.add_row(plain(c.id), plain(c.state or ("leader" if c.leader else "follower")), plain(c.host or "-"),
                              plain(str(c.pid or "-")), plain(age))
            console.print(table)
        for p in plans or ():
            console.print(plain(f"open plan {p['plan']}: {p['kind']} of {p['group']} to {p['target']}, started by "
                                f"controller {p['started_by']} {p['age']}s ago, last row {p['last']} (the leader resolves it)",
                                "yellow"))
    groups = view.details.get("groups")
    if isinstance(groups, dict):
        if not view.ok or not groups or any(v["leader"] is None for v in groups.values()):
            raise typer.Exit(1)
    elif view.leader is None:
        raise typer.Exit(1)


@leader_app.command("step-down")
@handle_errors
def step_down(
    ctx: typer.Context,
    inventory: OptionalInventory = None,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for another controller to lead "
                                                   "(default: twice the lease ttl).")] = 0.0,
    controller: Annotated[Optional[str], typer.Option(
        "--controller", help="The controller to step down (scope group, where several lead; default: the leader).",
        show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask the leader to hand over now (maintenance of its host): it stops acting, releases the
    lease, and does not campaign again for one ttl, so another controller takes over.

    Exit 0 once another controller leads; 1 when there is nobody to hand over to, or nobody took over in time."""
    from ..coordination import CoordinationError

    _, coord = _coordinator(inventory or (ctx.obj if isinstance(ctx.obj, Path) else None), "netha leader step-down")
    if coord.backend != "etcd":
        raise CoordinationError("backend file: one controller per state directory, nobody to hand over to "
                                "(stop it: `systemctl stop netha`)")
    t0 = time.monotonic()
    old = coord.step_down(actor(), controller)
    if old is None:
        raise CoordinationError("nobody leads now: nothing to step down")
    deadline = t0 + (wait or 2 * coord.ttl)
    while True:
        view = coord.read_view()
        groups = view.details.get("groups")
        if isinstance(groups, dict):  # scope group: every group led, none by the one stepping down
            if view.ok and all(v["leader"] not in (None, old) for v in groups.values()):
                break
        elif view.ok and view.leader is not None and view.leader != old:
            break
        if time.monotonic() > deadline:
            raise CoordinationError(f"controller {old} was asked to step down, but no other controller leads after "
                                    f"{time.monotonic() - t0:.1f}s ({view.reason or 'leader: ' + str(view.leader)})")
        time.sleep(0.1)
    took = time.monotonic() - t0
    if as_json:
        emit_json({"stepped_down": old, "seconds": round(took, 2), **_document(view)})
    else:
        who = (f"controller {view.leader} leads (lease revision {view.revision})" if view.leader else
               "groups now led by " + ", ".join(sorted({str(v["leader"]) for v in view.details.get("groups", {}).values()})))
        console.print(plain(f"controller {old} stepped down; {who} after {took:.1f}s"))
