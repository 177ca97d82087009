"""``netha parse``: what netha reads from a device's output captured in a file, without a device.

Before trusting netha with a device, an engineer runs the command netha runs on it (``netha parse
--help`` lists them per platform), saves the output and checks what netha reads from it: the groups
with their state, priorities, virtual addresses and master; the interfaces; the routes. The same
parsers as a poll, so the JSON (``--json``) is also what to attach to a bug report. No inventory, no
secrets, no session.

Exit codes: 0 read, nothing skipped; 1 read, but lines or groups were skipped (listed on stderr:
what a poll would count in ``status``); 2 the file, the platform or the kind is wrong, or the file is
not the command's output at all (one line naming the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..drivers import driver_class, platforms
from ..drivers.base import collecting_notes
from ..drivers.models import VrrpView
from ..errors import NethaError
from .common import JsonOpt, console, emit_json, err_console, esc, fail, plain

EXIT_SKIPPED = 1
EXIT_BAD_INPUT = 2


def _platform(name: str, file: Path) -> str:
    """netha's platform for ``name`` as an inventory's ``platform:`` accepts it (netutils' names and
    the other libraries' spellings: ``ios``, ``cisco_xe``, ``eos``, ``junos``, ``nxos_ssh`` ...)."""
    from ..inventory.platform_map import PlatformUnknown, map_platform

    try:
        return map_platform(name, platforms())
    except PlatformUnknown as exc:
        raise fail(f"{file}: {exc}", EXIT_BAD_INPUT) from None


def _document(result: object) -> Any:
    if isinstance(result, list):
        return [v.document() if isinstance(v, VrrpView) else v for v in result]
    return result


def _table(kind: str, doc: Any, title: str) -> Table:
    table = Table(title=plain(title), title_justify="left")
    if kind in ("vrrp", "hsrp", "varp"):
        for column in ("interface", "protocol", "family", "group", "state", "priority", "configured",
                       "virtual addresses", "master", "preempt", "advert s", "shutdown"):
            table.add_column(plain(column))
        for g in doc:
            def shown(value: object) -> str:
                return "-" if value is None else str(value)
            table.add_row(*(plain(x) for x in (
                g["interface"], g["protocol"], f"IPv{g['family']}", g["group"], g["state"], shown(g["priority"]),
                shown(g["configured_priority"]), ", ".join(g["virtual_addresses"]) or "-", shown(g["master_address"]),
                shown(g["preempt"]), shown(g["advert_interval"]), "yes" if g["shutdown"] else "no")))
    elif kind == "interfaces":
        table.add_column(plain("interface"))
        table.add_column(plain("up"))
        for name, up in doc.items():
            table.add_row(plain(name), plain("up" if up else "down"))
    else:
        table.add_column(plain("prefix"))
        table.add_column(plain("in the routing table"))
        for prefix, present in doc.items():
            table.add_row(plain(prefix), plain("yes" if present else "no"))
    return table


def parse(
    file: Annotated[Path, typer.Argument(help="A file holding the output of the command netha runs for KIND.",
                                         show_default=False)],
    platform: Annotated[str, typer.Option("--platform", "-p", help=(
        "The device's platform, as an inventory's `platform:` takes it (cisco_ios, cisco_xe, cisco_nxos, "
        "arista_eos, juniper_junos, frr, keepalived, or another library's name for them: ios, eos, junos ...)."),
        show_default=False)],
    kind: Annotated[str, typer.Option("--kind", "-k", help=(
        "vrrp (IOS: show vrrp all; NX-OS: show vrrp detail | json or show vrrpv3 | json; EOS: show vrrp all | json; "
        "Junos: show vrrp detail | display xml, or its | display json), hsrp (IOS: show standby; NX-OS: show hsrp detail | json), "
        "varp (EOS: show ip virtual-router | json), "
        "interfaces (IOS: show ip interface brief or show ip interface), routes (IOS: show ip route A.B.C.D M.M.M.M; "
        "FRR: show ip route A.B.C.D/M json; keepalived: ip -j route show exact A.B.C.D/M)."),
        show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Show what netha reads from a captured output file: check a device's output before trusting
    netha with it, or attach the JSON to a bug report. No inventory, no device."""
    name = _platform(platform, file)
    try:
        text = file.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise fail(f"{file}: cannot read: {why}", EXIT_BAD_INPUT) from None
    cls = driver_class(name)
    try:
        with collecting_notes() as notes:
            result = cls.parse_capture(kind, text, device=str(file))
    except NethaError as exc:
        message = str(exc)
        raise fail(message if message.startswith(f"{file}: ") else f"{file}: {message}", EXIT_BAD_INPUT) from None
    doc = _document(result)
    if as_json:
        emit_json(doc)
    elif isinstance(doc, (list, dict)) and not doc:
        console.print(plain(f"{file}: no {kind} in it ({name})"), highlight=False)
    else:
        console.print(_table(kind, doc, f"{file} ({name}, {kind})"))
    for what, line in notes.skipped_lines:
        err_console.print(f"skipped a line of {esc(what)}: {esc(line.strip())}", highlight=False, markup=True)
    for what, why in notes.unreadable:
        err_console.print(f"[bold yellow]unreadable[/] {esc(what)}: {esc(why)}", highlight=False, markup=True)
    if notes:
        raise typer.Exit(EXIT_SKIPPED)
