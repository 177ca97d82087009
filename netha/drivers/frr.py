"""FRRouting (vrrpd) over SSH into vtysh, with FRR's JSON outputs.

FRR's quirk, handled here and nowhere else: vrrpd keeps an instance in ``Master`` when its
interface loses carrier (a backup that stops hearing adverts on a dead link even becomes Master).
Such an instance is no master: :func:`with_carrier` reports it as ``init``, the state RFC 5798
gives a router whose interface is down (and the state keepalived's FAULT maps to), so the health
model and the takeover's verification take every driver's ``master`` at its word.
:func:`parse_vrrp` itself still returns the state exactly as FRR printed it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence

from ..errors import CommandRejected, ParseError
from .base import (
    EventStream,
    COUNTER_MAX, NetworkDriver, PlatformSpec, checked_view, load_json, need_int, need_object, opt_int, parser,
)
from .linux import monitor_stream
from .models import DeviceReading, InterfaceDetails, ReachProbe, VrrpStateName, VrrpView
from .textconfig import replace_commands

log = logging.getLogger(__name__)

SPEC = PlatformSpec(
    name="frr",
    # vtysh logins are in enable mode already; netmiko's cisco_ios class handles the rest.
    netmiko_device_type="cisco_ios",
    prompt_pattern=r"[A-Za-z0-9][\w.-]*(?:\([\w-]+\))?#\s?",
    error_patterns=(r"^%\s", r"^\s*\^\s*$", r"is not running$"),
    protocols=frozenset({"vrrp", "static"}),
    # `vrrp N priority|preempt|shutdown` is one instance per interface and VRID, both families.
    vrid_per_family=False,
    # `show running-config` starts with "Building configuration..." and "Current configuration:".
    volatile_config=(r"Building configuration", r"Current configuration"),
    # Written by FRR itself; no command changes them, so a computed replace leaves them alone.
    fixed_config=(r"frr version\b", r"frr defaults\b"),
    # FRR runs on Linux: paths are probed by a streaming prober on the host's shell (the device's
    # `shell:` login; vtysh's own `ping` takes no rate or source).
    reach="stream",
)

PIPELINE_BYTES = 2048  # at most this much pipelined per write (a terminal's input buffer holds 4095)

_STATES: dict[str, VrrpStateName] = {"Master": "master", "Backup": "backup", "Initialize": "init"}


SHOW_VRRP = "show vrrp json"
SHOW_INTERFACE = "show interface json"
SHOW_ROUTE = "show ip route json"




def _strings(value: object, device: str, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise ParseError(device, f"{what}: expected a list of addresses")
    return tuple(value)


def _family_blocks(entry: dict, device: str) -> list[tuple[int, dict]]:
    """The families of one FRR instance that are groups: FRR's instance (interface, VRID) holds an IPv4
    and an IPv6 router (``v4``, ``v6``); a router without virtual addresses is no group (it stays in
    Initialize). An instance without any address reads as its IPv4 group, as before IPv6."""
    if "v4" not in entry or "status" not in need_object(entry["v4"], device, SHOW_VRRP):
        raise ParseError(device, f"{SHOW_VRRP}: unexpected entry (no v4 status)")
    blocks: list[tuple[int, dict]] = []
    v6 = entry.get("v6")
    has_v6 = False
    if v6 is not None:
        v6 = need_object(v6, device, SHOW_VRRP)
        if "status" not in v6:
            raise ParseError(device, f"{SHOW_VRRP}: unexpected entry (v6 without status)")
        has_v6 = bool(_strings(v6.get("addresses"), device, SHOW_VRRP))
    if _strings(entry["v4"].get("addresses"), device, SHOW_VRRP) or not has_v6:
        blocks.append((4, entry["v4"]))
    if has_v6:
        blocks.append((6, v6))  # type: ignore[arg-type]
    return blocks


@parser(SHOW_VRRP)
def parse_vrrp(text: str, device: str = "?") -> list[VrrpView]:
    """``show vrrp json``: one view per (VRID, interface, family) that has virtual addresses.

    FRR runs both families of a VRID as one instance: ``priority``, ``preempt``, the advertisement
    interval and ``shutdown`` are the instance's, so an IPv4 and an IPv6 group sharing a VRID on one
    interface share them (and a resign of one resigns both). The IPv6 router advertises from its
    macvlan's link-local address (``primaryAddress``)."""
    data = load_json(text, device, SHOW_VRRP)
    if not isinstance(data, list):
        raise ParseError(device, "show vrrp json: expected a list")
    views = []
    for entry in data:
        entry = need_object(entry, device, SHOW_VRRP)
        for key in ("vrid", "interface", "advertisementInterval"):
            if key not in entry:
                raise ParseError(device, f"{SHOW_VRRP}: unexpected entry (no {key})")
        if not isinstance(entry["interface"], str):
            raise ParseError(device, f"{SHOW_VRRP}: unexpected entry (interface is not a name)")
        for family, block in _family_blocks(entry, device):
            stats = need_object(block.get("stats", {}), device, SHOW_VRRP)
            state = _STATES.get(block["status"], "unknown") if isinstance(block["status"], str) else "unknown"
            if entry.get("shutdown"):
                state = "init"
            # FRR shows only the effective priority; it differs from the configured one only for an
            # address owner (255).
            priority = need_int(block.get("effectivePriority"), device, SHOW_VRRP, "priority", 0, 255)
            master = block.get("primaryAddress") if state == "master" else None
            views.append(checked_view(VrrpView(
                vrid=need_int(entry["vrid"], device, SHOW_VRRP, "vrid", 1, 255),
                interface=entry["interface"],
                state=state,
                priority=priority,
                effective_priority=priority,
                virtual_addresses=_strings(block.get("addresses"), device, SHOW_VRRP),
                adverts_rx=opt_int(stats.get("adverRx"), device, SHOW_VRRP, "adverRx", 0, COUNTER_MAX),
                adverts_tx=opt_int(stats.get("adverTx"), device, SHOW_VRRP, "adverTx", 0, COUNTER_MAX),
                transitions=opt_int(stats.get("transitions"), device, SHOW_VRRP, "transitions", 0, COUNTER_MAX),
                advert_interval=need_int(entry["advertisementInterval"], device, SHOW_VRRP, "advertisementInterval",
                                         1, 255_000) / 1000.0,
                preempt=bool(entry.get("preemptMode", True)),
                master_address=master if isinstance(master, str) and master not in ("", "::", "0.0.0.0") else None,
                shutdown=bool(entry.get("shutdown", False)),
                family=family,  # type: ignore[arg-type]
            ), device, SHOW_VRRP))
    return views


def with_carrier(views: Sequence[VrrpView], interfaces: Mapping[str, bool], device: str = "?") -> list[VrrpView]:
    """The views as they truly are: an instance whose interface is down (no carrier, or admin down)
    is in ``init``, whatever FRR printed (``Master``, or ``Backup``), and has no master address.

    ``interfaces`` is :func:`parse_interfaces` of the same poll; an interface missing from it is
    left as FRR reports it.
    """
    out = []
    for view in views:
        if interfaces.get(view.interface) is False and view.state in ("master", "backup"):
            log.debug("%s: VRRP %d on %s: FRR says %s but the interface is down: init",
                      device, view.vrid, view.interface, view.state)
            view = dataclasses.replace(view, state="init", master_address=None)
        out.append(view)
    return out


def _interfaces(text: str, device: str) -> dict[str, dict]:
    data = load_json(text, device, SHOW_INTERFACE)
    if not isinstance(data, dict):
        raise ParseError(device, "show interface json: expected an object")
    return {name: info for name, info in data.items() if isinstance(info, dict)}


@parser(SHOW_INTERFACE)
def parse_interfaces(text: str, device: str = "?") -> dict[str, bool]:
    """``show interface json``: name -> operationally up (admin down counts as down)."""
    return {
        name: info.get("administrativeStatus") == "up" and info.get("operationalStatus") == "up"
        for name, info in _interfaces(text, device).items()
    }


@parser(SHOW_INTERFACE)
def parse_interface_details(text: str, device: str = "?") -> dict[str, InterfaceDetails]:
    """``show interface json``: name -> {"mac": str|None, "addresses": [cidr, ...]}: IPv4 and IPv6
    (link-local ones too: an IPv6 VRRP router advertises from its macvlan's link-local address)."""
    out: dict[str, InterfaceDetails] = {}
    for name, info in _interfaces(text, device).items():
        mac = info.get("hardwareAddress")
        addrs = info.get("ipAddresses") or []
        if not isinstance(addrs, list):
            raise ParseError(device, f"{SHOW_INTERFACE}: {name}: ipAddresses is not a list")
        out[name] = {
            "mac": mac if isinstance(mac, str) else None,
            "addresses": [a["address"] for a in addrs if isinstance(a, dict) and isinstance(a.get("address"), str)],
        }
    return out


def route_command(prefix: str) -> str:
    """``show ip route PREFIX json``, or ``show ipv6 route PREFIX json`` for an IPv6 prefix."""
    return f"show {'ipv6' if ':' in prefix else 'ip'} route {prefix} json"


@parser(SHOW_ROUTE)
def parse_route(text: str, prefix: str, device: str = "?") -> bool:
    """``show ip route PREFIX json`` (or ``show ipv6 route``): present when an entry for exactly that
    prefix is selected."""
    data = load_json(text, device, SHOW_ROUTE)
    if not isinstance(data, dict):
        raise ParseError(device, "show ip route json: expected an object")
    entries = data.get(prefix) or []
    if not isinstance(entries, list):
        raise ParseError(device, f"{SHOW_ROUTE}: {prefix}: expected a list of routes")
    return any(isinstance(e, dict) and bool(e.get("selected") or e.get("installed")) for e in entries)


class FrrDriver(NetworkDriver):
    spec = SPEC

    CAPTURE_KINDS = ("vrrp", "interfaces", "routes")

    @classmethod
    def parse_capture(cls, kind: str, text: str, device: str = "capture") -> object:
        """``show vrrp json`` (vrrp: the states as FRR printed them; a poll also corrects them for
        carrier, :func:`with_carrier`), ``show interface json``, ``show ip route A.B.C.D/M json``."""
        if kind == "vrrp":
            return parse_vrrp(text, device)
        if kind == "interfaces":
            return parse_interfaces(text, device)
        if kind == "routes":
            data = load_json(text, device, SHOW_ROUTE)
            if not isinstance(data, dict):
                raise ParseError(device, f"{SHOW_ROUTE}: expected an object")
            return {prefix: parse_route(text, prefix, device) for prefix in data}
        return super().parse_capture(kind, text, device)

    @classmethod
    def event_stream(cls) -> EventStream | None:
        """The kernel's change stream on the device's shell (:func:`.linux.monitor_stream`)."""
        return monitor_stream()

    def get_vrrp(self) -> list[VrrpView]:
        """The VRRP instances, corrected for carrier (:func:`with_carrier`): two commands."""
        vrrp = parse_vrrp(self.run_checked(SHOW_VRRP), self.name)
        return with_carrier(vrrp, parse_interfaces(self.run_checked(SHOW_INTERFACE), self.name), self.name)

    def get_interfaces(self) -> dict[str, bool]:
        return parse_interfaces(self.run_checked(SHOW_INTERFACE), self.name)

    def get_interface_details(self) -> dict[str, InterfaceDetails]:
        return parse_interface_details(self.run_checked(SHOW_INTERFACE), self.name)

    def get_routes(self, prefixes: Sequence[str]) -> dict[str, bool]:
        return {p: parse_route(self.run_checked(route_command(p)), p, self.name) for p in prefixes}

    def read(self, routes: Sequence[str] = (), probes: Sequence[ReachProbe] = ()) -> DeviceReading:
        """One poll in 2 + len(routes) commands, pipelined in one write (read-only commands: none
        depends on another): ``show interface json`` serves carrier, state and addresses."""
        commands = [SHOW_VRRP, SHOW_INTERFACE, *(route_command(p) for p in routes)]
        outs = self._run_pipelined(commands)
        vrrp = parse_vrrp(outs[0], self.name)
        details = parse_interface_details(outs[1], self.name)
        interfaces = parse_interfaces(outs[1], self.name)
        return DeviceReading(
            vrrp=tuple(with_carrier(vrrp, interfaces, self.name)),
            interfaces=interfaces,
            routes={p: parse_route(out, p, self.name) for p, out in zip(routes, outs[2:])},
            addresses={k: tuple(v["addresses"]) for k, v in details.items()},
            reach=self.read_reach(probes),
        )

    def run_many(self, commands: Sequence[str]) -> list[str]:
        """``commands`` pipelined in one write on the channel. A driver whose ``run`` was replaced
        (a wrapper, a test's captured CLI) runs them through it one by one instead."""
        if getattr(self.run, "__func__", None) is not NetworkDriver.run:
            return [self.run(c) for c in commands]
        return self.channel.run_many(list(commands))

    def _run_pipelined(self, commands: Sequence[str], check: int | None = None) -> list[str]:
        """``commands`` in as few writes as fit the terminal's input buffer; each of the first
        ``check`` outputs (default: all) is checked for a rejection (:class:`CommandRejected`)."""
        outs: list[str] = []
        batch: list[str] = []
        size = 0
        for cmd in commands:
            if batch and size + len(cmd) + 1 > PIPELINE_BYTES:
                outs += self.run_many(batch)
                batch, size = [], 0
            batch.append(cmd)
            size += len(cmd) + 1
        if batch:
            outs += self.run_many(batch)
        for i, (cmd, out) in enumerate(zip(commands, outs)):
            if check is not None and i >= check:
                break
            bad = self.rejected_line(out)
            if bad:
                raise CommandRejected(self.name, f"{cmd!r} rejected: {bad}")
        return outs

    def load_config(self, lines: Sequence[str]) -> str:
        """Enter config mode, send ``lines``, leave: pipelined in one write (the push of a resign is one
        round trip, the resign line on the wire with the first packet), every output then checked.

        Unlike a line-by-line push, the lines after a rejected one have run too (each in the
        context it was written for; vtysh rejects a line without changing the context), and the
        rejection is raised after ``end``: the caller rolls the device back to its snapshot either way."""
        body = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith(self.spec.comment_prefixes)]
        # (The exit lines go only to an open session, as the line-by-line push's.)
        commands = [*self.spec.config_enter, *body, *(self.spec.config_exit if self.channel.is_open else ())]
        outs = self._run_pipelined(commands, check=len(self.spec.config_enter) + len(body))
        return "\n".join(o for o in outs if o)

    def get_config(self) -> str:
        return self.stable_config(self.run_checked("show running-config"))

    def replace_config(self, config: str) -> None:
        commands = replace_commands(self.get_config(), self.stable_config(config), SPEC.fixed_config)
        if commands:
            self.load_config(commands)


Driver = FrrDriver
