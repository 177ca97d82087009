"""Arista EOS: VRRP and VARP (``ip virtual-router``), read with EOS's ``| json`` outputs.

VARP has no election and no VRID: every router with the virtual address answers for it. Its
instances are reported as views with ``vrid=0``, state ``master`` while the virtual router is
active on the interface (``init`` otherwise), so a VARP group's gateway is visible per device.
Pushes go through NAPALM's ``eos`` driver over SSH (a config session: commit is all-or-nothing).

Forwarding-path probes are native: the Connectivity Monitor (``monitor connectivity``, one host
``netha-reach-N`` per probe, ``templates/arista_eos/reach.j2``), read with
``show monitor connectivity | json``.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from netutils.lib_mapper import NETMIKO_LIB_MAPPER_REVERSE

from ..errors import ParseError
from .base import NetworkDriver, PlatformSpec, as_float, checked_view, load_json, need_int, parser
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
    # The header of `show running-config` and the save/time stamps.
    volatile_config=(r"!\s*Command:", r"!\s*Time:", r"!\s*Startup config saved at"),
    reach="native",  # monitor connectivity
)

SHOW_VRRP = "show vrrp all | json"  # 'all' includes groups in the stopped state (vrrp N disabled)
SHOW_VARP = "show ip virtual-router | json"
SHOW_INTERFACES = "show interfaces | json"

VARP_VRID = 0

_STATES: dict[str, VrrpStateName] = {"master": "master", "backup": "backup", "stopped": "init", "init": "init"}


def _object(text: str, device: str, what: str) -> dict:
    data = load_json(text, device, what)
    if not isinstance(data, dict):
        raise ParseError(device, f"{what}: expected an object")
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
    """An address EOS printed, None for none (0.0.0.0, empty, not a string)."""
    return value if isinstance(value, str) and value and value != "0.0.0.0" else None


@parser(SHOW_VRRP)
def parse_vrrp(text: str, device: str = "?") -> list[VrrpView]:
    """``show vrrp all | json``: ``virtualRouters``, one entry per (interface, group)."""
    data = _object(text, device, SHOW_VRRP)
    views = []
    for vr in _dicts(data.get("virtualRouters"), device, SHOW_VRRP, "virtualRouters"):
        if not vr.get("interface"):
            continue
        vips = [a for a in [_addr(vr.get("virtualIp"))] if a]
        vips += [a for a in map(_addr, _list(vr.get("virtualIpSecondary"), device, SHOW_VRRP, "virtualIpSecondary")) if a]
        raw_state = str(vr.get("state", "")).lower()
        prio = need_int(vr["priority"], device, SHOW_VRRP, "priority", 0, 255) if "priority" in vr else None
        interval = vr.get("vrrpAdvertInterval")
        views.append(checked_view(VrrpView(
            vrid=need_int(vr.get("groupId"), device, SHOW_VRRP, "groupId", 1, 255),
            interface=str(vr["interface"]),
            state=_STATES.get(raw_state, "unknown"),
            priority=prio,
            effective_priority=prio,
            virtual_addresses=tuple(vips),
            advert_interval=as_float(interval) if interval is not None else None,
            preempt=bool(vr["preempt"]) if "preempt" in vr else None,
            master_address=_addr(vr.get("masterAddr")),
            # "stopped" is what "vrrp N disabled" (netha's resign) leaves.
            shutdown=raw_state == "stopped",
        ), device, SHOW_VRRP))
    return views


@parser(SHOW_VARP)
def parse_varp(text: str, device: str = "?") -> list[VrrpView]:
    """``show ip virtual-router | json``: one view per interface with virtual addresses (``vrid`` 0)."""
    data = _object(text, device, SHOW_VARP)
    views = []
    for vr in _dicts(data.get("virtualRouters"), device, SHOW_VARP, "virtualRouters"):
        ips = _dicts(vr.get("virtualIps"), device, SHOW_VARP, "virtualIps")
        views.append(checked_view(VrrpView(
            vrid=VARP_VRID,
            interface=str(vr.get("interface") or ""),
            state="master" if str(vr.get("state", "")).lower() == "active" else "init",
            virtual_addresses=tuple(a for a in (_addr(v.get("ip")) for v in ips) if a),
        ), device, SHOW_VARP, vrids=(VARP_VRID, VARP_VRID)))
    return views


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
def parse_route(text: str, prefix: str, device: str = "?") -> bool:
    """``show ip route PREFIX | json``: exactly that prefix in some VRF's ``routes``."""
    data = _object(text, device, "show ip route")
    want = str(ipaddress.IPv4Network(prefix))
    vrfs = data.get("vrfs") or {}
    if not isinstance(vrfs, dict):
        raise ParseError(device, "show ip route: vrfs is not an object")
    for vrf in vrfs.values():
        routes = vrf.get("routes") if isinstance(vrf, dict) else None
        if routes is not None and not isinstance(routes, dict):
            raise ParseError(device, "show ip route: routes is not an object")
        if routes and want in routes:
            return True
    return False


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


class AristaEosDriver(NapalmPushMixin, NetworkDriver):
    spec = SPEC
    napalm_extra_args = {"transport": "ssh"}  # NAPALM's eos driver defaults to eAPI over HTTPS
    atomic_commit = True

    def get_vrrp(self) -> list[VrrpView]:
        return parse_vrrp(self.run_checked(SHOW_VRRP), self.name) + parse_varp(self.run_checked(SHOW_VARP), self.name)

    def get_interfaces(self) -> dict[str, bool]:
        return parse_interfaces(self.run_checked(SHOW_INTERFACES), self.name)

    def get_interface_details(self) -> dict[str, InterfaceDetails]:
        return parse_interface_details(self.run_checked(SHOW_INTERFACES), self.name)

    def get_routes(self, prefixes: Sequence[str]) -> dict[str, bool]:
        return {p: parse_route(self.run_checked(route_command(p)), p, self.name) for p in prefixes}

    def read(self, routes: Sequence[str] = (), probes: Sequence[ReachProbe] = ()) -> DeviceReading:
        """One poll: VRRP, VARP, one ``show interfaces | json`` for state and addresses, the routes,
        the connectivity monitor."""
        out = self.run_checked(SHOW_INTERFACES)
        details = parse_interface_details(out, self.name)
        return DeviceReading(
            vrrp=tuple(self.get_vrrp()),
            interfaces=parse_interfaces(out, self.name),
            routes=self.get_routes(routes) if routes else {},
            addresses={k: tuple(v["addresses"]) for k, v in details.items()},
            reach=self.read_reach(probes),
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
