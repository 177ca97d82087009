"""Cisco NX-OS: VRRP (``vrrp N``; VRRPv3 ``vrrpv3 N address-family ipv4``) and HSRP (``hsrp N``).

Reads use NX-OS's ``| json`` outputs (``TABLE_x`` / ``ROW_x``, where one row is an object and
several are a list). A ``show`` of a feature that is not enabled is refused by the CLI; that
means "no groups of that protocol", not an error. Pushes go through NAPALM's SSH driver for
NX-OS (``nxos_ssh``: config lines, checkpoint rollback; replace via ``rollback running-config``),
since netha manages devices over SSH and NX-API may be off.

Forwarding-path probes are native: IP SLA entries and track objects (``templates/cisco_nxos/reach.j2``),
read with ``show ip sla statistics`` and ``show track`` as on IOS (:mod:`netha.drivers.native_reach`).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from netutils.lib_mapper import NETMIKO_LIB_MAPPER_REVERSE

from ..errors import ParseError
from .base import COUNTER_MAX, NetworkDriver, PlatformSpec, as_float, as_int, checked_view, load_json, need_int, opt_int, parser
from .models import DeviceReading, InterfaceDetails, ReachProbe, ReachReading, VrrpStateName, VrrpView
from .napalm_push import NapalmPushMixin, mark_shutdown, prefix_of, shutdown_vrrp_groups, table_rows
from .native_reach import SHOW_SLA, SHOW_TRACK, guarded, ipsla_readings, parse_sla_statistics, parse_track
from .render import renderer

log = logging.getLogger(__name__)

SPEC = PlatformSpec(
    name="cisco_nxos",
    netmiko_device_type=NETMIKO_LIB_MAPPER_REVERSE["cisco_nxos"],
    prompt_pattern=r"[A-Za-z0-9][\w.:-]*(?:\([\w./-]+\))?[>#]\s?",
    error_patterns=(r"^%\s*(?:Invalid|Incomplete|Ambiguous)", r"Syntax error while parsing"),
    protocols=frozenset({"vrrp", "hsrp", "static"}),
    # The header of `show running-config`: the command, when the config last changed, was saved, and now.
    volatile_config=(r"!\s*Command:", r"!\s*Time:", r"!\s*Running configuration last done at",
                     r"!\s*Startup config saved at"),
    reach="native",  # IP SLA (feature sla sender) + track objects
)

SHOW_VRRP = "show vrrp detail | json"
SHOW_VRRPV3 = "show vrrpv3 | json"
SHOW_HSRP = "show hsrp detail | json"
SHOW_INTERFACE = "show interface | json"
SHOW_IP_INTERFACE = "show ip interface | json"
# Read only when a VRRP group is in Init: the JSON does not say whether it was shut down on purpose.
SHOW_INTERFACE_CONFIG = "show running-config interface"

_STATES: dict[str, VrrpStateName] = {"master": "master", "backup": "backup", "init": "init"}
_HSRP_STATES: dict[str, VrrpStateName] = {"active": "master", "standby": "backup"}


def _body(text: str, device: str, what: str) -> dict:
    """The JSON object of an NX-OS ``| json`` output; {} when the device printed nothing (no rows)."""
    if not text.strip():
        return {}
    data = load_json(text, device, what)
    if not isinstance(data, dict):
        raise ParseError(device, f"{what}: expected an object")
    return data


def _int(v: object) -> int | None:
    return as_int(v)


def _ip(v: object) -> str | None:
    """An IPv4 address, or None for a missing one (NX-OS prints 0.0.0.0 for "unknown")."""
    try:
        addr = ipaddress.IPv4Address(str(v))
    except ValueError:
        return None
    return None if addr.is_unspecified else str(addr)


def _interval(value: object, scale: float = 1.0) -> float | None:
    seconds = as_float(value)
    return seconds / scale if seconds is not None else None


def _name(value: object, device: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ParseError(device, f"{what}: unexpected row (interface {value!r:.40})")
    return value


@dataclass(frozen=True)
class _VrrpLayout:
    """Where one of NX-OS's two VRRP outputs keeps each field (the JSON keys differ, the meaning not)."""

    what: str
    table: str
    row: str
    family: str  # the address-family key and the values of IPv4 groups (upper case)
    ipv4: tuple[str, ...]
    group: str
    interface: str
    state: str
    priority: str
    vip: str
    interval: str
    interval_scale: float  # divide by this to get seconds
    preempt: str
    preempt_on: str
    master: str | None = None


VRRPV2 = _VrrpLayout(
    what=SHOW_VRRP, table="TABLE_vrrp_group", row="ROW_vrrp_group", family="sh_group_type", ipv4=("IPV4", "IPV4_GROUP"),
    group="sh_group_id", interface="sh_if_index", state="sh_group_state", priority="sh_priority", vip="sh_vip_addr",
    interval="sh_adv_interval", interval_scale=1.0, preempt="sh_group_preempt", preempt_on="enable",
)
VRRPV3 = _VrrpLayout(
    what=SHOW_VRRPV3, table="TABLE_grp", row="ROW_grp", family="af", ipv4=("IPV4",),
    group="id", interface="intf", state="state", priority="priority", vip="vip",
    interval="adv", interval_scale=1000.0, preempt="preempt", preempt_on="enabled", master="m_addr",
)


def _vrrp_views(text: str, device: str, f: _VrrpLayout) -> list[VrrpView]:
    """The IPv4 groups of a VRRP ``| json`` output laid out as ``f`` says."""
    views = []
    for r in table_rows(_body(text, device, f.what), f.table, f.row):
        if str(r.get(f.family, "IPv4")).upper() not in f.ipv4:
            continue
        vip = _ip(r.get(f.vip))
        prio = opt_int(r.get(f.priority), device, f.what, f.priority, 0, 255)
        views.append(checked_view(VrrpView(
            vrid=need_int(r.get(f.group), device, f.what, f.group, 1, 255),
            interface=_name(r.get(f.interface), device, f.what),
            state=_STATES.get(str(r.get(f.state, "")).lower(), "unknown"),
            priority=prio,
            effective_priority=prio,
            virtual_addresses=(vip,) if vip else (),
            advert_interval=_interval(r.get(f.interval), f.interval_scale),
            preempt=str(r[f.preempt]).lower() == f.preempt_on if f.preempt in r else None,
            master_address=_ip(r.get(f.master)) if f.master else None,
        ), device, f.what))
    return views


@parser(SHOW_VRRP)
def parse_vrrp(text: str, device: str = "?") -> list[VrrpView]:
    """``show vrrp detail | json``: ``TABLE_vrrp_group`` / ``ROW_vrrp_group`` (VRRPv2), IPv4 groups."""
    return _vrrp_views(text, device, VRRPV2)


@parser(SHOW_VRRPV3)
def parse_vrrpv3(text: str, device: str = "?") -> list[VrrpView]:
    """``show vrrpv3 | json``: ``TABLE_grp`` / ``ROW_grp``, IPv4 groups (advertisement interval in ms)."""
    return _vrrp_views(text, device, VRRPV3)


@parser(SHOW_HSRP)
def parse_hsrp(text: str, device: str = "?") -> list[VrrpView]:
    """``show hsrp detail | json``: ``TABLE_grp_detail`` / ``ROW_grp_detail``, IPv4 groups."""
    views = []
    for r in table_rows(_body(text, device, SHOW_HSRP), "TABLE_grp_detail", "ROW_grp_detail"):
        if str(r.get("sh_group_type", "IPV4")).upper() != "IPV4":
            continue
        vips = [a for a in [_ip(r.get("sh_vip"))] if a]
        vips += [a for a in (_ip(s.get("sh_vip_sec")) for s in table_rows(r, "TABLE_grp_vip_sec", "ROW_grp_vip_sec")) if a]
        views.append(checked_view(VrrpView(
            vrid=need_int(r.get("sh_group_num"), device, SHOW_HSRP, "sh_group_num", 0, 4095),
            interface=_name(r.get("sh_if_index"), device, SHOW_HSRP),
            state=_HSRP_STATES.get(str(r.get("sh_group_state", "")).lower(), "init"),
            priority=opt_int(r.get("sh_cfg_prio"), device, SHOW_HSRP, "sh_cfg_prio", 0, 255),
            effective_priority=opt_int(r.get("sh_prio"), device, SHOW_HSRP, "sh_prio", 0, 255),
            virtual_addresses=tuple(vips),
            transitions=opt_int(r.get("sh_num_of_state_changes"), device, SHOW_HSRP, "sh_num_of_state_changes",
                                0, COUNTER_MAX),
            preempt=str(r["sh_preempt"]).lower() == "enabled" if "sh_preempt" in r else None,
            master_address=_ip(r.get("sh_active_router_addr")),
        ), device, SHOW_HSRP, vrids=(0, 4095)))
    return views


def _row_up(r: dict) -> bool:
    if "state" in r:
        return str(r["state"]).lower() == "up"
    return str(r.get("svi_line_proto", "")).lower() == "up"  # SVIs (Vlan10) report their own fields


@parser(SHOW_INTERFACE)
def parse_interfaces(text: str, device: str = "?") -> dict[str, bool]:
    """``show interface | json``: name -> operationally up (``state``; ``svi_line_proto`` for SVIs)."""
    return {str(r["interface"]): _row_up(r)
            for r in table_rows(_body(text, device, SHOW_INTERFACE), "TABLE_interface", "ROW_interface")
            if "interface" in r}


@parser(SHOW_INTERFACE)
def parse_macs(text: str, device: str = "?") -> dict[str, str | None]:
    """``show interface | json``: name -> MAC (``eth_hw_addr`` or ``svi_mac``), aa:bb:cc:dd:ee:ff."""
    out: dict[str, str | None] = {}
    for r in table_rows(_body(text, device, SHOW_INTERFACE), "TABLE_interface", "ROW_interface"):
        if "interface" not in r:
            continue
        raw = str(r.get("eth_hw_addr") or r.get("svi_mac") or "").strip().replace(".", "").replace(":", "").lower()
        out[str(r["interface"])] = ":".join(raw[i:i + 2] for i in range(0, 12, 2)) if len(raw) == 12 else None
    return out


@parser(SHOW_IP_INTERFACE)
def parse_ip_addresses(text: str, device: str = "?") -> dict[str, list[str]]:
    """``show ip interface | json``: ``TABLE_intf`` / ``ROW_intf`` -> primary and secondary CIDRs."""
    out: dict[str, list[str]] = {}
    for r in table_rows(_body(text, device, SHOW_IP_INTERFACE), "TABLE_intf", "ROW_intf"):
        name = r.get("intf-name")
        if not name:
            continue
        addrs = out.setdefault(str(name), [])
        try:
            if _ip(r.get("prefix")) and _int(r.get("masklen")) is not None:
                addrs.append(prefix_of(str(r["prefix"]), str(r["masklen"])))
            for s in table_rows(r, "TABLE_secondary_address", "ROW_secondary_address"):
                if _ip(s.get("prefix1")) and _int(s.get("masklen1")) is not None:
                    addrs.append(prefix_of(str(s["prefix1"]), str(s["masklen1"])))
        except ValueError as exc:
            raise ParseError(device, f"{SHOW_IP_INTERFACE}: bad address ({exc})") from None
    return out


def route_command(prefix: str) -> str:
    return f"show ip route {ipaddress.IPv4Network(prefix)} | json"


@parser("show ip route")
def parse_route(text: str, prefix: str, device: str = "?") -> bool:
    """``show ip route PREFIX | json``: an ``ipprefix`` equal to ``prefix`` in some VRF/address family."""
    want = ipaddress.IPv4Network(prefix)
    for vrf in table_rows(_body(text, device, "show ip route"), "TABLE_vrf", "ROW_vrf"):
        for af in table_rows(vrf, "TABLE_addrf", "ROW_addrf"):
            for p in table_rows(af, "TABLE_prefix", "ROW_prefix"):
                try:
                    if ipaddress.IPv4Network(str(p.get("ipprefix")), strict=False) == want:
                        return True
                except ValueError:
                    continue
    return False


class CiscoNxosDriver(NapalmPushMixin, NetworkDriver):
    spec = SPEC
    napalm_transport = "ssh"

    def __init__(self, params):
        super().__init__(params)
        self._feature_off: set[str] = set()

    def _show_feature(self, command: str) -> str:
        """Output of a protocol's show command, or '' when the device refuses it (feature not enabled)."""
        if command in self._feature_off:
            return ""
        out = self.run(command)
        bad = self.rejected_line(out)
        if bad:
            log.info("%s: %r refused (%s): feature not enabled, no groups of it", self.name, command, bad)
            self._feature_off.add(command)
            return ""
        return out

    def close(self) -> None:
        self._feature_off = set()
        super().close()

    def get_vrrp(self) -> list[VrrpView]:
        vrrp = parse_vrrp(self._show_feature(SHOW_VRRP), self.name) + parse_vrrpv3(self._show_feature(SHOW_VRRPV3), self.name)
        if any(v.state == "init" for v in vrrp):
            vrrp = mark_shutdown(vrrp, shutdown_vrrp_groups(self.run_checked(SHOW_INTERFACE_CONFIG)))
        return vrrp + parse_hsrp(self._show_feature(SHOW_HSRP), self.name)

    def get_interfaces(self) -> dict[str, bool]:
        return parse_interfaces(self.run_checked(SHOW_INTERFACE), self.name)

    def get_interface_details(self) -> dict[str, InterfaceDetails]:
        macs = parse_macs(self.run_checked(SHOW_INTERFACE), self.name)
        addrs = parse_ip_addresses(self.run_checked(SHOW_IP_INTERFACE), self.name)
        return {name: {"mac": macs.get(name), "addresses": addrs.get(name, [])} for name in {*macs, *addrs}}

    def get_routes(self, prefixes: Sequence[str]) -> dict[str, bool]:
        return {p: parse_route(self.run_checked(route_command(p)), p, self.name) for p in prefixes}

    def read(self, routes: Sequence[str] = (), probes: Sequence[ReachProbe] = ()) -> DeviceReading:
        """One poll: VRRP, VRRPv3, HSRP, interface state, IP addresses, the routes, the IP SLA probes."""
        return DeviceReading(
            vrrp=tuple(self.get_vrrp()),
            interfaces=self.get_interfaces(),
            routes=self.get_routes(routes) if routes else {},
            addresses={k: tuple(v) for k, v in parse_ip_addresses(self.run_checked(SHOW_IP_INTERFACE), self.name).items()},
            reach=self.read_reach(probes),
        )

    # -- forwarding-path probes: IP SLA ----------------------------------------------------------
    def reach_config(self, probes: Sequence[ReachProbe]) -> list[str]:
        """``feature sla sender``, then ``ip sla N`` / schedule / ``track N ip sla N`` per probe."""
        return renderer(self.spec.name, self.templates).render_reach(probes)

    def get_reach(self, probes: Sequence[ReachProbe]) -> dict[str, ReachReading]:
        """``show ip sla statistics`` (refused while ``feature sla sender`` is off: no entries, every
        probe unknown) and ``show track`` (the verdict)."""
        def read() -> dict[str, ReachReading]:
            out = self.run(SHOW_SLA)  # not cached as "feature off": pushing the probes turns it on
            stats = parse_sla_statistics("" if self.rejected_line(out) else out, self.name)
            tracks = parse_track(self.run_checked(SHOW_TRACK), self.name)
            return ipsla_readings(stats, tracks, probes, time.monotonic())
        return guarded(probes, read) if probes else {}

    def get_config(self) -> str:
        return self.stable_config(self.run_checked("show running-config"))


Driver = CiscoNxosDriver
