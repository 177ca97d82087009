"""Arista EOS: VRRP and VARP (``ip virtual-router``), read with EOS's ``| json`` outputs.

VARP has no election and no VRID: every router with the virtual address answers for it. Its
instances are reported as views with ``vrid=0`` and protocol ``varp``, state ``master`` while the
virtual router is active on the interface (``init`` otherwise), so a VARP group's gateway is
visible per device.

A VRRP entry is read with its configured and effective priority, master, preempt, advertisement
interval and every virtual address (``virtualIp`` then ``virtualIpSecondary``); an entry with IPv4
and IPv6 addresses (EOS VRRPv3) is two views, one per family. The IPv6 keys (``virtualIpv6`` ...)
have no public capture to confirm them and are read where present. An entry netha cannot read is
reported (skip_group) and the others still count; an unknown state word reads as unknown and is
noted (skip_line); unknown keys are ignored. VRRP and VARP are read independently. eAPI replies
(``jsonrpc``/``result``) are unwrapped, so captures taken over eAPI read like the CLI's ``| json``.
Pushes go through NAPALM's ``eos`` driver over SSH (a config session: commit is all-or-nothing).

Forwarding-path probes are native: the Connectivity Monitor (``monitor connectivity``, one host
``netha-reach-N`` per probe, ``templates/arista_eos/reach.j2``), read with
``show monitor connectivity | json``.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netutils.lib_mapper import NETMIKO_LIB_MAPPER_REVERSE

from ..errors import ParseError
from . import openconfig as oc
from .base import (MAX_ADVERT_INTERVAL, GnmiSubscription, NetworkDriver, PlatformSpec, as_float, checked_view, collecting_notes,
                   link_local_first, load_json, need_int, parser, skip_group, skip_line)
from .models import DeviceReading, InterfaceDetails, ReachProbe, ReachReading, VrrpStateName, VrrpView
from .napalm_push import NapalmPushMixin
from .native_reach import guarded, unknown
from .render import renderer

SPEC = PlatformSpec(
    name="arista_eos",
    netmiko_device_type=NETMIKO_LIB_MAPPER_REVERSE["arista_eos"],
    prompt_pattern=r"[A-Za-z0-9][\w.:-]*(?:\([\w./-]+\))*[>#]\s?",
    error_patterns=(r"^%\s*(?:Invalid|Incomplete|Ambiguous|Unavailable|Unrecognized|Not supported)",),
    protocols=frozenset({"vrrp", "varp", "static"}),
    # IPv6: VRRP (vrrp N ipv6 A) and static gateways; VARP groups are IPv4 here.
    ipv6=frozenset({"vrrp", "static"}),
    # `vrrp N priority-level|preempt|disabled` is per VRID on an interface, both families.
    vrid_per_family=False,
    # The header of `show running-config` and the save/time stamps.
    volatile_config=(r"!\s*Command:", r"!\s*Time:", r"!\s*Startup config saved at"),
    reach="native",  # monitor connectivity
)

SHOW_VRRP = "show vrrp all | json"  # 'all' includes groups in the stopped state (vrrp N disabled)
SHOW_VARP = "show ip virtual-router | json"
SHOW_INTERFACES = "show interfaces | json"

VARP_VRID = 0

# EOS's state words; a word not here is read as "unknown" and noted (skip_line), never guessed.
_STATES: dict[str, VrrpStateName] = {"master": "master", "backup": "backup", "stopped": "init", "init": "init",
                                     "initialize": "init", "disabled": "init"}
# The keys under which a virtual router entry keeps its addresses: the primary first.
_V4_KEYS = ("virtualIp", "virtualIpSecondary")
_V6_KEYS = ("virtualIpv6", "virtualIpv6Addresses", "virtualIpv6Secondary", "virtualIpv6Address")


def _object(text: str, device: str, what: str) -> dict:
    data = load_json(text, device, what)
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        data = data[0]  # eAPI's result list of one command (pyeapi's enable() returns it so)
    if not isinstance(data, dict):
        raise ParseError(device, f"{what}: expected an object")
    # An eAPI reply ({"jsonrpc": "2.0", "result": [{...}]}) holds the command's object in result[0].
    result = data.get("result") if isinstance(data, dict) and "jsonrpc" in data else None
    if isinstance(result, list) and len(result) == 1 and isinstance(result[0], dict):
        data = result[0]
    return data


def _list(value: object, device: str, what: str, name: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError(device, f"{what}: {name} is not a list")
    return value


def _dicts(value: object, device: str, what: str, name: str) -> list[dict]:
    rows = _list(value, device, what, name)
    if not all(isinstance(r, dict) for r in rows):
        raise ParseError(device, f"{what}: unexpected entry in {name} (not an object)")
    return rows


def _addr(value: object) -> str | None:
    """An address EOS printed, None for none (0.0.0.0, ::, empty, not an address)."""
    if isinstance(value, dict):  # {"ip": "...", ...} / {"address": "...", "maskLen": 24}
        value = value.get("ip", value.get("address", value.get("virtualIp")))
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        addr = ipaddress.ip_address(value.strip().split("/")[0].split("%")[0])
    except ValueError:
        return None
    return None if addr.is_unspecified else str(addr)


def _vr_addresses(vr: dict, keys: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for key in keys:
        value = vr.get(key)
        for v in value if isinstance(value, list) else [value]:
            a = _addr(v)
            if a and a not in out:
                out.append(a)
    return out


def _opt_prio(vr: dict, keys: tuple[str, ...], device: str) -> int | None:
    for key in keys:
        if vr.get(key) is not None:
            return need_int(vr[key], device, SHOW_VRRP, key, 0, 255)
    return None


def _vrrp_entry(vr: dict, device: str) -> list[VrrpView]:
    """The views of one ``virtualRouters`` entry: one per address family it has addresses of (an
    EOS VRRPv3 group may carry IPv4 and IPv6 addresses); IPv4 when it has none."""
    interface = vr.get("interface")
    if not isinstance(interface, str) or not interface.strip():
        raise ParseError(device, f"{SHOW_VRRP}: a group without an interface")
    raw_state = str(vr.get("state", "")).strip().lower()
    state = _STATES.get(raw_state)
    if state is None:
        skip_line(device, SHOW_VRRP, f"state: {str(vr.get('state'))[:60]}")
        state = "unknown"
    configured = _opt_prio(vr, ("configuredPriority", "priority"), device)
    effective = _opt_prio(vr, ("effectivePriority", "currentPriority", "priority"), device)
    preempt = vr.get("preempt")
    if preempt is not None and not isinstance(preempt, bool):
        skip_line(device, SHOW_VRRP, f"preempt: {str(preempt)[:40]}")
        preempt = None
    interval = as_float(vr.get("vrrpAdvertInterval"))
    if interval is not None and interval > MAX_ADVERT_INTERVAL:  # milliseconds (VRRPv3 centiseconds x10)
        interval = interval / 1000.0
    v4 = [a for a in _vr_addresses(vr, _V4_KEYS) if ":" not in a]
    v6 = [a for a in _vr_addresses(vr, _V6_KEYS + _V4_KEYS) if ":" in a]
    master = _addr(vr.get("masterAddr"))
    master6 = _addr(vr.get("masterAddrV6", vr.get("masterIpv6Addr")))
    families: list[tuple[int, list[str]]] = [(6, v6)] if v6 and not v4 else [(4, v4)] + ([(6, v6)] if v6 else [])
    group = need_int(vr.get("groupId"), device, SHOW_VRRP, "groupId", 1, 255)
    shut = raw_state == "stopped" or vr.get("vrIdDisabled") is True
    views = []
    for family, vips in families:
        m = master if master and (":" in master) == (family == 6) else (master6 if family == 6 else None)
        views.append(checked_view(VrrpView(
            vrid=group,
            interface=interface.strip(),
            state=state,
            priority=configured,
            effective_priority=effective,
            virtual_addresses=link_local_first(vips) if family == 6 else tuple(vips),
            advert_interval=interval if interval and interval > 0 else None,
            preempt=preempt,
            master_address=m,
            # "stopped" is what "vrrp N disabled" (netha's resign) leaves.
            shutdown=shut,
            protocol="vrrp",
            family=family,  # type: ignore[arg-type]
        ), device, SHOW_VRRP))
    return views


def _each(entries: list[dict], device: str, what: str, read) -> list[VrrpView]:
    """``read`` of every entry; an entry netha cannot read is reported (skip_group), the others count."""
    views: list[VrrpView] = []
    for vr in entries:
        try:
            views += read(vr)
        except ParseError as exc:
            where = f"group {str(vr.get('groupId', '-'))[:12]} on {str(vr.get('interface'))[:40]}"
            skip_group(device, what, f"{where}: {str(exc).removeprefix(f'{device}: ').removeprefix(f'{what}: ')}")
    return views


@parser(SHOW_VRRP)
def parse_vrrp(text: str, device: str = "?") -> list[VrrpView]:
    """``show vrrp all | json``: ``virtualRouters``, one entry per (interface, group); IPv4 and IPv6."""
    data = _object(text, device, SHOW_VRRP)
    if "virtualRouters" not in data and data:
        raise ParseError(device, f"{SHOW_VRRP}: no virtualRouters in the output")
    entries = _list(data.get("virtualRouters"), device, SHOW_VRRP, "virtualRouters")
    bad = [e for e in entries if not isinstance(e, dict)]
    if bad:
        skip_group(device, SHOW_VRRP, f"{len(bad)} entries of virtualRouters are not objects")
    return _each([e for e in entries if isinstance(e, dict)], device, SHOW_VRRP, lambda vr: _vrrp_entry(vr, device))


def _varp_entry(vr: dict, device: str) -> list[VrrpView]:
    interface = vr.get("interface")
    if not isinstance(interface, str) or not interface.strip():
        raise ParseError(device, f"{SHOW_VARP}: a virtual router without an interface")
    ips = _list(vr.get("virtualIps", vr.get("virtualIpAddresses")), device, SHOW_VARP, "virtualIps")
    vips = [a for a in (_addr(v) for v in ips) if a]
    if "state" in vr:
        word = str(vr["state"]).strip().lower()
        if word not in ("active", "inactive", "disabled", "down"):
            skip_line(device, SHOW_VARP, f"state: {str(vr['state'])[:60]}")
        active = word == "active"
    else:  # releases without "state": the interface and its line protocol
        active = (str(vr.get("interfaceStatus", "")).lower() == "up"
                  and str(vr.get("protocolStatus", "")).lower() == "up")
    return [checked_view(VrrpView(
        vrid=VARP_VRID,
        interface=interface.strip(),
        state="master" if active else "init",
        virtual_addresses=tuple(dict.fromkeys(vips)),
        protocol="varp",
        family=6 if vips and all(":" in a for a in vips) else 4,
    ), device, SHOW_VARP, vrids=(VARP_VRID, VARP_VRID))]


@parser(SHOW_VARP)
def parse_varp(text: str, device: str = "?") -> list[VrrpView]:
    """``show ip virtual-router | json``: one view per interface with virtual addresses (``vrid`` 0,
    protocol "varp")."""
    data = _object(text, device, SHOW_VARP)
    if "virtualRouters" not in data and data and "virtualMacs" not in data:
        raise ParseError(device, f"{SHOW_VARP}: no virtualRouters in the output")
    entries = _list(data.get("virtualRouters"), device, SHOW_VARP, "virtualRouters")
    return _each([e for e in entries if isinstance(e, dict)], device, SHOW_VARP, lambda vr: _varp_entry(vr, device))


def _interfaces(data: dict, device: str) -> dict[str, dict]:
    interfaces = data.get("interfaces") or {}
    if not isinstance(interfaces, dict) or not all(isinstance(v, dict) for v in interfaces.values()):
        raise ParseError(device, f"{SHOW_INTERFACES}: interfaces is not an object of objects")
    return interfaces


def _addresses(info: dict, device: str) -> list[str]:
    out = []
    for ia in _list(info.get("interfaceAddress"), device, SHOW_INTERFACES, "interfaceAddress"):
        if not isinstance(ia, dict):
            continue
        primary = ia.get("primaryIp") or {}
        for a in [primary, *_list(ia.get("secondaryIpsOrderedList"), device, SHOW_INTERFACES, "secondaryIpsOrderedList")]:
            if isinstance(a, dict) and _addr(a.get("address")):
                out.append(f"{a['address']}/{need_int(a.get('maskLen'), device, SHOW_INTERFACES, 'maskLen', 0, 32)}")
    return out


@parser(SHOW_INTERFACES)
def parse_interfaces(text: str, device: str = "?") -> dict[str, bool]:
    """``show interfaces | json``: name -> line protocol up."""
    data = _object(text, device, SHOW_INTERFACES)
    return {name: info.get("lineProtocolStatus") == "up" for name, info in _interfaces(data, device).items()}


@parser(SHOW_INTERFACES)
def parse_interface_details(text: str, device: str = "?") -> dict[str, InterfaceDetails]:
    """``show interfaces | json``: name -> {"mac", "addresses": primary then secondary CIDRs}."""
    data = _object(text, device, SHOW_INTERFACES)
    return {
        name: {"mac": info.get("physicalAddress") if isinstance(info.get("physicalAddress"), str) and info.get(
            "physicalAddress") else None, "addresses": _addresses(info, device)}
        for name, info in _interfaces(data, device).items()
    }


def route_command(prefix: str) -> str:
    return f"show ip route {ipaddress.IPv4Network(prefix)} | json"


@parser("show ip route")
def parse_route_entries(text: str, device: str = "?") -> dict[str, bool]:
    """``show ip route [PREFIX] | json``: every prefix of every VRF's ``routes`` -> True."""
    data = _object(text, device, "show ip route")
    vrfs = data.get("vrfs") or {}
    if not isinstance(vrfs, dict):
        raise ParseError(device, "show ip route: vrfs is not an object")
    found: dict[str, bool] = {}
    for vrf in vrfs.values():
        routes = vrf.get("routes") if isinstance(vrf, dict) else None
        if routes is not None and not isinstance(routes, dict):
            raise ParseError(device, "show ip route: routes is not an object")
        for prefix in routes or {}:
            try:
                found[str(ipaddress.ip_network(prefix, strict=False))] = True
            except ValueError:
                raise ParseError(device, f"show ip route: not a prefix: {str(prefix)[:60]!r}") from None
    return found


def parse_route(text: str, prefix: str, device: str = "?") -> bool:
    """``show ip route PREFIX | json``: exactly that prefix in some VRF's ``routes``."""
    return str(ipaddress.IPv4Network(prefix)) in parse_route_entries(text, device)


# -- forwarding-path probes: Connectivity Monitor ------------------------------------------------------

SHOW_MONITOR = "show monitor connectivity | json"
MONITOR_HOST = "netha-reach-{index}"  # the host netha's template names for probe ``index``


def monitor_interval(probes: Sequence[ReachProbe]) -> int:
    """The monitor's one ``interval`` (seconds) for ``probes``: the shortest they ask for, rounded
    up, at least 1 (the monitor probes every host at the same, whole-second interval)."""
    return max(1, math.ceil(min((p.interval for p in probes), default=1.0) - 1e-9))


@dataclass(frozen=True)
class MonitorHost:
    """One host of ``show monitor connectivity``: its address and its last interval's results."""

    name: str
    address: str | None
    loss_percent: float | None  # packetLoss: share of the interval's probes unanswered, in %
    latency_ms: float | None


def _opt_number(value: object, device: str, name: str, hi: float) -> float | None:
    if value is None:
        return None
    number = as_float(value)
    if number is None or not 0 <= number <= hi:
        raise ParseError(device, f"{SHOW_MONITOR}: {name} {str(value)[:40]!r} is not a number in 0..{hi:g}")
    return number


@parser(SHOW_MONITOR)
def parse_monitor_connectivity(text: str, device: str = "?") -> dict[str, MonitorHost]:
    """``show monitor connectivity | json``: host name -> results; ``hosts`` at the top (releases
    without VRFs) or under ``vrfs.<vrf>.hosts``."""
    data = _object(text, device, SHOW_MONITOR)
    tables = [data.get("hosts")]
    vrfs = data.get("vrfs")
    if vrfs is not None:
        if not isinstance(vrfs, dict) or not all(isinstance(v, dict) for v in vrfs.values()):
            raise ParseError(device, f"{SHOW_MONITOR}: vrfs is not an object of objects")
        tables += [v.get("hosts") for v in vrfs.values()]
    out: dict[str, MonitorHost] = {}
    for hosts in tables:
        if hosts is None:
            continue
        if not isinstance(hosts, dict) or not all(isinstance(h, dict) for h in hosts.values()):
            raise ParseError(device, f"{SHOW_MONITOR}: hosts is not an object of objects")
        for name, h in hosts.items():
            if name in out:
                raise ParseError(device, f"{SHOW_MONITOR}: host {name[:40]!r} appears twice")
            address = h.get("ipAddr")
            out[name] = MonitorHost(
                name=name,
                address=address if isinstance(address, str) and address else None,
                loss_percent=_opt_number(h.get("packetLoss"), device, "packetLoss", 100.0),
                latency_ms=_opt_number(h.get("latency"), device, "latency", 3_600_000.0),
            )
    return out


def monitor_readings(hosts: dict[str, MonitorHost], probes: Sequence[ReachProbe], now: float = 0.0
                     ) -> dict[str, ReachReading]:
    """The readings of ``probes`` (host ``netha-reach-N``): down when the last interval lost more
    than the probe's ``max_loss`` (EOS reports a share, not counts: ``sent``/``lost`` stay 0)."""
    rate = 1.0 / monitor_interval(probes) if probes else None
    out: dict[str, ReachReading] = {}
    for p in probes:
        name = MONITOR_HOST.format(index=p.index)
        h = hosts.get(name)
        if h is None:
            out[p.key] = unknown(p, f"monitor connectivity host {name} is not configured on the device", rate)
        elif h.loss_percent is None:
            out[p.key] = unknown(p, f"monitor connectivity host {name} has no result yet", rate)
        else:
            answered = h.loss_percent < 100.0
            out[p.key] = ReachReading(
                key=p.key, state="down" if h.loss_percent / 100.0 > p.max_loss + 1e-9 else "up",
                rtt=h.latency_ms / 1000.0 if answered and h.latency_ms is not None else None, at=now, rate=rate,
            )
    return out


def _documents(views: list[VrrpView]) -> list[dict[str, object]]:
    return [v.document() for v in views]


def parse_any_fhrp(text: str, device: str = "?") -> list[VrrpView]:
    """A capture of ``show vrrp all | json`` or ``show ip virtual-router | json`` (VARP: its entries
    carry ``virtualIps``, the output ``virtualMacs``)."""
    data = _object(text, device, SHOW_VRRP)
    entries = data.get("virtualRouters") if isinstance(data.get("virtualRouters"), list) else []
    varp = "virtualMacs" in data or any(isinstance(e, dict) and "virtualIps" in e for e in entries)
    return parse_varp(text, device) if varp else parse_vrrp(text, device)


# The corpus (tests/fixtures/arista_eos/<command>/): command slug -> what netha reads from a capture.
CORPUS: dict[str, Callable[[str, str], object]] = {
    "show_vrrp_all_json": lambda text, device: _documents(parse_vrrp(text, device)),
    "show_ip_virtual_router_json": lambda text, device: _documents(parse_varp(text, device)),
    "show_interfaces_json": lambda text, device: parse_interfaces(text, device),
    "show_ip_route_json": lambda text, device: parse_route_entries(text, device),
}


# gNMI (`management api gnmi`, `transport grpc default`): port 6030, plain text unless the transport
# has an `ssl profile`; OpenConfig is the default origin (none sent), JSON encoding. VRRP state of
# routed ports (subinterface 0) and SVIs (routed-vlan) is in EOS's openconfig-if-ip.
GNMI = GnmiSubscription(
    paths=(oc.OPER_STATUS,),
    vrrp_paths=(oc.VRRP_SUBINTERFACE_V4, oc.VRRP_ROUTED_VLAN_V4),
    parse=oc.event_parser(oc.parent_for_index_zero),
    port=6030,
    origin=None,
    encoding="json",
    tls="insecure",
)


class AristaEosDriver(NapalmPushMixin, NetworkDriver):
    spec = SPEC

    @classmethod
    def gnmi_subscription(cls) -> GnmiSubscription | None:
        return GNMI
    napalm_extra_args = {"transport": "ssh"}  # NAPALM's eos driver defaults to eAPI over HTTPS
    atomic_commit = True
    CAPTURE_KINDS = ("vrrp", "varp", "interfaces", "routes")

    @classmethod
    def parse_capture(cls, kind: str, text: str, device: str = "capture") -> object:
        """``show vrrp all | json`` (vrrp; a ``show ip virtual-router | json`` capture is read as VARP),
        ``show ip virtual-router | json`` (varp), ``show interfaces | json`` (interfaces), ``show ip
        route [PREFIX] | json`` (routes). eAPI replies (``jsonrpc``) are read too."""
        if kind == "vrrp":
            return parse_any_fhrp(text, device)
        if kind == "varp":
            return parse_varp(text, device)
        if kind == "interfaces":
            return parse_interfaces(text, device)
        if kind == "routes":
            return parse_route_entries(text, device)
        return super().parse_capture(kind, text, device)

    def get_vrrp(self) -> list[VrrpView]:
        """VRRP and VARP, read independently: output netha cannot read costs only that protocol's
        groups (reported with skip_group); both unreadable is the poll's failure."""
        failures: list[ParseError] = []
        views: list[VrrpView] = []
        for command, parse in ((SHOW_VRRP, parse_vrrp), (SHOW_VARP, parse_varp)):
            try:
                views += parse(self.run_checked(command), self.name)
            except ParseError as exc:
                skip_group(self.name, command, str(exc).removeprefix(f"{self.name}: "))
                failures.append(exc)
        if len(failures) == 2:
            raise failures[0]
        return views

    def get_interfaces(self) -> dict[str, bool]:
        return parse_interfaces(self.run_checked(SHOW_INTERFACES), self.name)

    def get_interface_details(self) -> dict[str, InterfaceDetails]:
        return parse_interface_details(self.run_checked(SHOW_INTERFACES), self.name)

    def get_routes(self, prefixes: Sequence[str]) -> dict[str, bool]:
        return {p: parse_route(self.run_checked(route_command(p)), p, self.name) for p in prefixes}

    def read(self, routes: Sequence[str] = (), probes: Sequence[ReachProbe] = ()) -> DeviceReading:
        """One poll: VRRP, VARP, one ``show interfaces | json`` for state and addresses, the routes,
        the connectivity monitor."""
        with collecting_notes(self.name) as notes:
            out = self.run_checked(SHOW_INTERFACES)
            details = parse_interface_details(out, self.name)
            return DeviceReading(
                vrrp=tuple(self.get_vrrp()),
                interfaces=parse_interfaces(out, self.name),
                routes=self.get_routes(routes) if routes else {},
                addresses={k: tuple(v["addresses"]) for k, v in details.items()},
                reach=self.read_reach(probes),
                notes=notes,
            )

    def reach_config(self, probes: Sequence[ReachProbe]) -> list[str]:
        """``monitor connectivity`` with one host per probe (template ``reach.j2``)."""
        return renderer(self.spec.name, self.templates).render_reach(probes)

    def get_reach(self, probes: Sequence[ReachProbe]) -> dict[str, ReachReading]:
        """One ``show monitor connectivity | json`` for every probe."""
        def read() -> dict[str, ReachReading]:
            hosts = parse_monitor_connectivity(self.run_checked(SHOW_MONITOR), self.name)
            return monitor_readings(hosts, probes, time.monotonic())
        return guarded(probes, read) if probes else {}

    def get_config(self) -> str:
        return self.stable_config(self.run_checked("show running-config"))


Driver = AristaEosDriver
