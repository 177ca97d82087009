"""``netha inventory from-netbox`` and ``netha inventory diff-netbox``: NetBox as the source of truth
for FHRP groups (docs/netbox.md)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..connect import supported_protocols
from ..errors import CredentialError, InventoryError, NethaError
from ..inventory.model import SecretRef
from ..inventory.netbox import (
    HEADER, NetboxData, NetboxError, NetboxReader, Overlay, build, check_written, diff, load_overlay, parse_filters,
    parse_token_ref, render, shown_url,
)
from .common import InventoryOpt, JsonOpt, console, emit_json, err_console, fail, load_inventory

inventory_app = typer.Typer(no_args_is_help=True, add_completion=False)

UrlOpt = Annotated[Optional[str], typer.Option(
    "--url", envvar="NETBOX_URL", show_default=False,
    help="NetBox's address, e.g. https://netbox.example.net (or NETBOX_URL, or the overlay's netbox.url).")]
TokenOpt = Annotated[Optional[str], typer.Option(
    "--token", show_default=False, metavar="REF",
    help="Where the API token is, never the token: '{env: NETBOX_TOKEN}' or '{file: PATH}' (mode 0600). "
         "Default: the overlay's netbox.token, else NETBOX_TOKEN when set.")]
FilterOpt = Annotated[Optional[list[str]], typer.Option(
    "--filter", metavar="KEY=VALUE", show_default=False,
    help="Only FHRP groups with this tag (tag=SLUG) or with a member at this site (site=SLUG); repeatable: "
         "values of one key are alternatives, keys all apply.")]
OverlayOpt = Annotated[Optional[Path], typer.Option(
    "--overlay", show_default=False,
    help="Local settings NetBox does not hold (credentials, SNMP, tracks, policies, platform map); read, never written.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=1, max=600, help="Seconds to wait for each NetBox answer.")]


def _connect(url: str | None, token: str | None, filters: list[str] | None, overlay: Overlay | None,
             timeout: float) -> tuple[NetboxReader, dict[str, list[str]]]:
    nb = overlay.netbox if overlay else None
    url = url or (nb.url if nb else None)
    if not url:
        raise InventoryError(["give NetBox's address: --url https://netbox.example.net (or NETBOX_URL, or the overlay's netbox.url)"])
    parsed = parse_filters(filters if filters else (nb.filter if nb else []))
    ref: SecretRef | None
    if token:
        ref = parse_token_ref(token)
    elif nb is not None and nb.token is not None:
        ref = nb.token
    else:
        ref = SecretRef(env="NETBOX_TOKEN") if "NETBOX_TOKEN" in os.environ else None
    try:
        secret = ref.resolve() if ref else None
    except CredentialError as exc:
        raise InventoryError([f"NetBox token: {exc}"]) from None
    return NetboxReader(url, secret, timeout=timeout), parsed


def _overlay(path: Path | None) -> Overlay | None:
    return load_overlay(path) if path is not None else None


def _write_atomically(path: Path, text: str) -> None:
    path = path.expanduser()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _foreign(path: Path) -> bool:
    """``path`` exists and does not start with the import's header."""
    try:
        with path.expanduser().open("rb") as fh:
            return not fh.read(len(HEADER.encode())).decode("utf-8", "replace").startswith(HEADER)
    except FileNotFoundError:
        return False
    except OSError:
        return True


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.expanduser().resolve() == b.expanduser().resolve()
    except OSError:
        return False


def _run(code_for_netbox: int, func: Any) -> Any:
    try:
        return func()
    except InventoryError as exc:
        raise fail("\n".join(exc.problems), 2) from None
    except NetboxError as exc:
        raise fail(str(exc), code_for_netbox) from None
    except NethaError as exc:
        raise fail(str(exc), 2) from None


@inventory_app.command("from-netbox")
def from_netbox(
    url: UrlOpt = None,
    token: TokenOpt = None,
    filters: FilterOpt = None,
    overlay_path: OverlayOpt = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", show_default=False,
                                                help="Write the inventory here (default: stdout).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an --out file that this command did not write.")] = False,
    timeout: TimeoutOpt = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Write an inventory from NetBox's FHRP groups (VRRPv2, VRRPv3, HSRP) and their members.

    Groups netha cannot manage (GLBP, CARP, no VIP...) are listed and left out.
    A member device whose platform or address netha cannot map is an error naming it. See docs/netbox.md."""
    platforms = supported_protocols()

    def work() -> tuple[Any, NetboxData, str]:
        overlay = _overlay(overlay_path)
        if out is not None and overlay_path is not None and _same_file(out, overlay_path):
            raise InventoryError([f"--out {out} is the overlay: the import never writes the overlay"])
        if out is not None and not force and _foreign(out):
            raise InventoryError([f"--out {out} exists and was not written by `netha inventory from-netbox` "
                                  "(a hand-written inventory?): not overwritten; --force replaces it"])
        reader, parsed = _connect(url, token, filters, overlay, timeout)
        data = reader.read(parsed)
        built = build(data, overlay, platforms)
        if built.device_problems:
            raise InventoryError(list(built.device_problems.values()))
        if not built.document["groups"]:
            within = " within the filter" if parsed else ""
            left = f" ({len(built.skipped)} left out: {'; '.join(s.line() for s in built.skipped[:3])})" if built.skipped else ""
            raise InventoryError([f"NetBox at {shown_url(data.url)} has no FHRP group netha can manage{within}: "
                                  f"nothing written{left}"])
        text = render(built, data, overlay_path)
        check_written(text, (out or Path("<stdout>")).expanduser(), platforms)
        return built, data, text

    built, data, text = _run(1, work)
    if out is not None:
        try:
            _write_atomically(out, text)
        except OSError as exc:
            raise fail(f"cannot write {out}: {exc.strerror or type(exc).__name__}", 2) from None
    doc = built.document
    if as_json:
        report: dict[str, Any] = {
            "version": 1, "netbox": shown_url(data.url), "filters": data.filters,
            "written": str(out) if out is not None else None,
            "groups": {name: {"netbox_id": built.netbox_ids[name], "protocol": g.get("protocol", "vrrp"),
                              "vrid": g["vrid"], "members": [m["device"] for m in g["members"]]}
                       for name, g in doc["groups"].items()},
            "devices": sorted(doc["devices"]),
            "skipped": [{"group": s.group, "reason": s.reason} for s in built.skipped],
            "notes": built.notes,
        }
        if out is None:
            report["inventory"] = doc
        emit_json(report)
        return
    for line in [s.line() for s in built.skipped] + built.notes:
        err_console.print(f"note: {line}", highlight=False, markup=False, soft_wrap=True)
    if out is None:
        print(text, end="")
    else:
        console.print(f"{out}: {len(doc['groups'])} groups, {len(doc['devices'])} devices from {shown_url(data.url)}"
                      f"{f', {len(built.skipped)} groups skipped' if built.skipped else ''}", highlight=False, markup=False)


@inventory_app.command("diff-netbox")
def diff_netbox(
    inventory: InventoryOpt,
    url: UrlOpt = None,
    token: TokenOpt = None,
    filters: FilterOpt = None,
    overlay_path: OverlayOpt = None,
    timeout: TimeoutOpt = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Show where the inventory and NetBox disagree; exit 1 on drift (for CI).

    Compared: groups, protocols, VRIDs, virtual addresses, members, priorities, interfaces, platforms, addresses.
    See docs/netbox.md."""
    platforms = supported_protocols()

    def work() -> tuple[Any, Any, NetboxData, int]:
        inv = load_inventory(inventory, check_secrets=False)  # comparing needs no device secret
        overlay = _overlay(overlay_path)
        reader, parsed = _connect(url, token, filters, overlay, timeout)
        data = reader.read(parsed)
        differences, skipped = diff(inv, data, overlay, platforms)
        compared = sum(1 for g in inv.groups.values() if g.mode == "vrrp")
        return differences, skipped, data, compared

    differences, skipped, data, compared = _run(2, work)
    if as_json:
        emit_json({
            "version": 1, "inventory": str(inventory), "netbox": shown_url(data.url), "filters": data.filters,
            "drift": bool(differences), "differences": [d.as_dict() for d in differences],
            "not_compared": [{"group": s.group, "reason": s.reason} for s in skipped],
        })
    else:
        for s in skipped:
            err_console.print(f"note: {s.group}: not compared: {s.reason}", highlight=False, markup=False, soft_wrap=True)
        for d in differences:
            console.print(d.message, highlight=False, markup=False, soft_wrap=True)
        if differences:
            console.print(f"drift: {len(differences)} difference{'s' if len(differences) != 1 else ''} between "
                          f"{inventory} and {shown_url(data.url)}", highlight=False, markup=False)
        else:
            console.print(f"in sync: {inventory} and {shown_url(data.url)} agree ({compared} groups)",
                          highlight=False, markup=False)
    raise typer.Exit(1 if differences else 0)
