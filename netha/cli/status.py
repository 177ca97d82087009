"""``netha status``: a table per group, or the documented JSON; ``--watch`` refreshes in place."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.console import Group as RichGroup
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..health import Assessment, assess
from ..inventory import Inventory
from ..observe.observer import Observer
from ..report import status_document
from .common import (
    DeviceFilterOpt, GroupFilterOpt, InventoryOpt, JsonOpt, Selection, console, nagios_errors, open_inventory, plain,
    select,
)

VERDICT_STYLE = {
    "ok": "bold green", "degraded": "bold yellow", "failed-over": "bold yellow",
    "split-brain": "bold red", "down": "bold red", "unknown": "bold magenta",
}
HEALTH_STYLE = {"healthy": "green", "degraded": "yellow", "unreachable": "magenta", "failed": "red", "unknown": "dim"}


def render(doc: dict[str, Any]) -> RichGroup:
    parts = []
    for name, g in doc["groups"].items():
        title = Text.assemble(
            (f"{name}", "bold"),
            f"  VRID {g['vrid']} on {g['interface']}  {', '.join(g['virtual_addresses'])}  ",
            (g["verdict"].upper(), VERDICT_STYLE.get(g["verdict"], "bold")),
            f"  {g['reason']}",
            (f"  target down from every member: {', '.join(g['targets_down'])}" if g.get("targets_down") else "", "bold red"),
        )
        table = Table(title=title, title_justify="left", expand=False)
        for col in ("member", "state", "prio cfg/eff", "health", "tracked", "heard", "advert age", "seen as master by"):
            table.add_column(col)
        for dev, m in g["members"].items():
            sources = [src for src, devs in g["masters"].items() if dev in devs]
            tracks = ", ".join(f"{k} {v}" for k, v in m["tracks"].items()) or "-"
            table.add_row(
                plain(dev + (" (primary)" if dev == g["primary"] else "")),
                plain(m["state"]),
                plain(f"{m['configured_priority']}/{m['effective_priority'] if m['effective_priority'] is not None else '?'}"),
                Text(m["health"] + (f": {m['reason']}" if m["reason"] else ""), HEALTH_STYLE.get(m["health"], "")),
                plain(tracks),
                "yes" if m["heard"] else "no",
                "-" if m["advert_age"] is None else f"{m['advert_age'] * 1000:.0f} ms",
                plain(", ".join(sources) or "-"),
            )
        parts.append(table)
    dev_table = Table(title="devices", title_justify="left")
    # The parse column only when a device's last reading skipped something (the JSON always has it).
    with_parse = any(parse_cell(d.get("parse")) is not None for d in doc["devices"].values())
    for col in ("device", "host", "health", "ssh", "snmp", "paths (reach)") + (("parse",) if with_parse else ()):
        dev_table.add_column(col)
    for name, d in doc["devices"].items():
        def probe(p):
            if p is None:
                return "-"
            return plain(f"ok {p['ms']:.0f} ms") if p["ok"] else Text(f"error: {p['error']}", "red")
        row = [
            plain(name), plain(d["host"]),
            Text(d["health"] + (f": {d['reason']}" if d["reason"] else ""), HEALTH_STYLE.get(d["health"], "")),
            probe(d["ssh"]), probe(d["snmp"]), reach_cell(d.get("reach") or {}),
        ]
        if with_parse:
            row.append(parse_cell(d.get("parse")) or "-")
        dev_table.add_row(*row)
    parts.append(dev_table)
    return RichGroup(*parts)


def sub_inventory(inv: Inventory, sel: Selection) -> Inventory:
    """The part of the inventory ``status`` must observe for a selection: the selected groups with all
    their members (a group's verdict needs every member), and the selected devices. Listeners keep their
    interfaces (they only count the groups that remain)."""
    if not sel.filtered:
        return inv
    groups = {g: inv.groups[g] for g in sel.groups}
    needed = set(sel.devices) | {m.device for g in groups.values() for m in g.members}
    return inv.model_copy(update={"groups": groups, "devices": {d: v for d, v in inv.devices.items() if d in needed}})


def narrow(a: Assessment, sel: Selection) -> Assessment:
    """The assessment of the selected groups and devices only (its exit code: the worst selected group)."""
    if not sel.filtered:
        return a
    return Assessment(a.state, {d: h for d, h in a.devices.items() if d in sel.devices},
                      {g: h for g, h in a.groups.items() if g in sel.groups})


def parse_cell(parse: dict[str, Any] | None) -> Text | None:
    """What the parsers skipped in the device's last reading: the count of unknown lines skipped inside
    groups it read, and each group or command it could not read, with why. None when nothing was."""
    if not parse or not (parse.get("skipped_lines") or parse.get("unreadable")):
        return None
    out = Text()
    if parse.get("skipped_lines"):
        n = parse["skipped_lines"]
        out.append(f"{n} unknown line{'s' if n != 1 else ''} skipped", "dim")
    unreadable = parse.get("unreadable") or []
    if unreadable:
        if out:
            out.append("\n")
        out.append(f"{len(unreadable)} unreadable:", "yellow")
        for u in unreadable:
            out.append(f"\n{u['command']}: {u['why']}", "yellow")
    return out


def reach_cell(paths: dict[str, Any]) -> Text | str:
    """One line per tracked path: state, loss in the window, median round trip, probe rate."""
    if not paths:
        return "-"
    out = Text()
    for i, (key, r) in enumerate(paths.items()):
        if i:
            out.append("\n")
        if r["error"]:
            out.append(f"{key}: prober failed: {r['error']}", "magenta")
            continue
        rtt = "" if r["rtt_ms"] is None else f", {r['rtt_ms']:.1f} ms"
        rate = "" if r["rate"] is None else f", {r['rate']:g}/s"
        out.append(f"{key} {r['state']} ({r['lost']}/{r['sent']} lost{rtt}{rate})",
                   {"up": "green", "down": "red"}.get(r["state"], "dim"))
    return out


@nagios_errors
def status(
    inventory: InventoryOpt,
    as_json: JsonOpt = False,
    groups: GroupFilterOpt = None,
    devices: DeviceFilterOpt = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Keep polling and refresh in place (JSON: one line per refresh).")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Refresh interval for --watch, seconds.")] = 1.0,
    count: Annotated[int, typer.Option("--count", help="With --watch: stop after this many refreshes (0: forever).")] = 0,
) -> None:
    """Show each group's master, members, health and a one-word verdict (exit 0 ok, 1 warning, 2 critical, 3 unknown).

    With --group/--device: only the selected groups and devices, and the exit code of the selected groups."""
    inv = open_inventory(inventory)
    sel = select(inv, groups, devices)
    inv = sub_inventory(inv, sel)  # only what the selection needs is polled
    observer = Observer(inv)
    try:
        if not watch:
            snap = observer.observe_once()
            a = narrow(assess(inv, snap), sel)
            doc = status_document(inv, snap, a)
            if as_json:
                console.print_json(json.dumps(doc)) if console.is_terminal else print(json.dumps(doc, indent=1))
            else:
                console.print(render(doc))
            raise typer.Exit(a.exit_code)
        observer.start()
        state = None
        n = 0
        doc: dict[str, Any] | None = None
        live = None if as_json else Live(console=console, auto_refresh=False)
        if live:
            live.start()
        try:
            while True:
                time.sleep(interval)
                snap = observer.snapshot()
                a = assess(inv, snap, state)
                state = a.state
                doc = status_document(inv, snap, narrow(a, sel), observer=observer)
                if as_json:
                    print(json.dumps(doc), flush=True)
                else:
                    live.update(render(doc), refresh=True)
                n += 1
                if count and n >= count:
                    break
        except KeyboardInterrupt:
            pass
        finally:
            if live:
                live.stop()
        raise typer.Exit(doc["exit_code"] if doc else 3)
    finally:
        observer.stop()
