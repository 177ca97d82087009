"""Cisco NX-OS: VRRP (``vrrp N``; VRRPv3 ``vrrpv3 N address-family ipv4``) and HSRP (``hsrp N``).

Reads use NX-OS's ``| json`` outputs (``TABLE_x`` / ``ROW_x``, where one row is an object and
several are a list; NX-API replies are unwrapped to the same body). A ``show`` of a feature that is
not enabled is refused by the CLI; that means "no groups of that protocol", not an error.

The group outputs are read as devices print them, not as one release documents them: the address
family is ``sh_group_type`` "v4"/"v6" on NX-OS 7.x/9.x (the NX-API reference) and "IPV4" on others,
``sh_preempt`` may be ``unknown enum:<n>`` (Ansible's nxos_hsrp works around it), an IPv6 HSRP group
carries ``sh_vip_v6`` / ``sh_active_router_addr_v6`` and a ``0.0.0.64`` "secondary". A row netha
cannot read (no group number, a family word it does not know) is reported with
:func:`~netha.drivers.base.skip_group` and the other rows still count; a state or flag word it does
not know is read as unknown and noted (:func:`~netha.drivers.base.skip_line`); unknown fields are
ignored. VRRP, VRRPv3 and HSRP are read independently: one unreadable output costs only its groups. Pushes go through NAPALM's SSH driver for
NX-OS (``nxos_ssh``: config lines, checkpoint rollback; replace via ``rollback running-config``),
since netha manages devices over SSH and NX-API may be off.

Forwarding-path probes are native: IP SLA entries and track objects (``templates/cisco_nxos/reach.j2``),
read with ``show ip sla statistics`` and ``show track`` as on IOS (:mod:`netha.drivers.native_reach`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netutils.lib_mapper import NETMIKO_LIB_MAPPER_REVERSE

from ..errors import ParseError
from . import openconfig as oc
from .base import (COUNTER_MAX, GnmiSubscription, NetworkDriver, PlatformSpec, as_float, as_int, checked_view, collecting_notes, link_local_first,
                   load_json, need_int, opt_int, parser, skip_group, skip_line)
from .models import DeviceReading, InterfaceDetails, ReachProbe, ReachReading, VrrpStateName, VrrpView
from .napalm_push import NapalmPushMixin, as_list, prefix_of, shutdown_vrrp_groups, table_rows
from .native_reach import SHOW_SLA, SHOW_TRACK, guarded, ipsla_readings, parse_sla_statistics, parse_track
from .render import renderer

log = logging.getLogger(__name__)

SPEC = PlatformSpec(
    name="cisco_nxos",
    netmiko_device_type=NETMIKO_LIB_MAPPER_REVERSE["cisco_nxos"],
    prompt_pattern=r"[A-Za-z0-9][\w.:-]*(?:\([\w./-]+\))?[>#]\s?",
    error_patterns=(r"^%\s*(?:Invalid|Incomplete|Ambiguous)", r"Syntax error while parsing"),
    protocols=frozenset({"vrrp", "hsrp", "static"}),
    # IPv6: VRRPv3 (vrrpv3 N address-family ipv6), HSRP version 2 (hsrp N ipv6), static gateways.
    ipv6=frozenset({"vrrp", "hsrp", "static"}),
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

# The state words of the JSON outputs (lower case). A word not here is read as "unknown" and the line
# is noted (skip_line): never silently as a state it might not be.
_STATES: dict[str, VrrpStateName] = {"master": "master", "backup": "backup", "init": "init", "initialize": "init",
                                     "initial": "init", "disabled": "init", "interface down": "init"}
# HSRP: Active forwards; Standby is the elected next in line; Listen/Speak/Learn/Initial do not
# forward and are not next in line (netha reads them as init, as a VRRP group that does not forward).
_HSRP_STATES: dict[str, VrrpStateName] = {"active": "master", "standby": "backup", "listen": "init", "speak": "init",
                                          "learn": "init", "initial": "init", "init": "init", "disabled": "init"}
# The address-family words NX-OS prints (``sh_group_type`` "v4"/"v6" on NX-OS 7.x/9.x, "IPV4" on
# others; VRRPv3's ``af`` "IPV4"/"IPV6").
_FAMILIES: dict[str, int] = {"v4": 4, "ipv4": 4, "ipv4_group": 4, "ip": 4, "inet": 4, "4": 4,
                             "v6": 6, "ipv6": 6, "ipv6_group": 6, "inet6": 6, "6": 6}


def _body(text: str, device: str, what: str) -> dict:
    """The JSON object of an NX-OS ``| json`` output; {} when the device printed nothing (no rows).

    An NX-API reply (``{"ins_api": {"outputs": {"output": {"body": ...}}}}`` or JSON-RPC's
    ``{"jsonrpc": "2.0", "result": {"body": ...}}``, what the NX-API sandbox and its documentation
    show) is unwrapped to its body, so captures from NX-API read like the CLI's ``| json``."""
    if not text.strip():
        return {}
    data = load_json(text, device, what)
    if not isinstance(data, dict):
        raise ParseError(device, f"{what}: expected an object")
    if "ins_api" in data:
        outputs = data["ins_api"].get("outputs") if isinstance(data["ins_api"], dict) else None
        output = outputs.get("output") if isinstance(outputs, dict) else None
        if isinstance(output, list) and len(output) == 1:
            output = output[0]
        if not isinstance(output, dict):
            raise ParseError(device, f"{what}: NX-API reply without one output")
        if str(output.get("code", "200")) != "200":
            raise ParseError(device, f"{what}: NX-API error {str(output.get('code'))[:10]}: "
                                     f"{str(output.get('msg', ''))[:80]}")
        data = output.get("body") or {}
        if isinstance(data, str):  # cli_show_ascii: text, not JSON
            raise ParseError(device, f"{what}: NX-API reply holds text, not JSON")
    if "jsonrpc" in data:  # NX-API's JSON-RPC form: {"jsonrpc": "2.0", "result": {"body": ...}}
        if "error" in data and data["error"]:
            raise ParseError(device, f"{what}: NX-API error: {str(data['error'])[:80]}")
        result = data.get("result")
        if isinstance(result, list) and len(result) == 1:
            result = result[0]
        data = result if isinstance(result, dict) else {}
    if "body" in data and isinstance(data["body"], dict) and not any(k.startswith("TABLE_") for k in data):
        data = data["body"]  # one NX-API output object (input/msg/code/body)
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


_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")


def _address(v: object, family: int) -> str | None:
    """An address of ``family`` (4 or 6), None for a missing or unspecified one (0.0.0.0, ::)."""
    if not isinstance(v, str) or not v.strip():
        return None
    try:
        addr = ipaddress.ip_address(v.strip().split("/")[0].split("%")[0])
    except ValueError:
        return None
    if addr.version != family or addr.is_unspecified:
        return None
    if addr.version == 4 and addr in _THIS_NETWORK:  # IPv6 groups print "0.0.0.64" as a secondary: no address
        return None
    return str(addr)


def _interval(value: object, scale: float = 1.0) -> float | None:
    seconds = as_float(value)
    return seconds / scale if seconds is not None and seconds > 0 else None


def _name(value: object, device: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ParseError(device, f"{what}: a group without an interface ({value!r:.40})")
    return value.strip()


def _family(value: object, addresses: Sequence[object]) -> int | None:
    """The group's address family: the word NX-OS printed, or (no word) its virtual address's."""
    if value is not None and value != "":
        return _FAMILIES.get(str(value).strip().lower())
    for a in addresses:
        if _address(a, 6):
            return 6
    return 4


def _state(value: object, states: dict[str, VrrpStateName], device: str, what: str, key: str) -> VrrpStateName:
    word = str(value if value is not None else "").strip().lower()
    state = states.get(word)
    if state is None:
        skip_line(device, what, f"{key}: {str(value)[:60]}")
        return "unknown"
    return state


def _flag(value: object, on: tuple[str, ...], off: tuple[str, ...], device: str, what: str, key: str) -> bool | None:
    """A yes/no field ("enabled"/"disabled", ...); None (noted) for a word not known (NX-OS may print
    ``unknown enum:<2>``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in on:
        return True
    if word in off:
        return False
    skip_line(device, what, f"{key}: {str(value)[:60]}")
    return None


def _group_id(r: dict) -> str:
    for key in ("sh_group_num", "sh_group_id", "id", "group"):
        if key in r:
            return str(r[key])[:12]
    return "?"


def _each_group(rows: list[dict], device: str, what: str, read: Callable[[dict], VrrpView | None]) -> list[VrrpView]:
    """``read`` of every row; a row it cannot read is reported (skip_group) and the others still count."""
    views = []
    for r in rows:
        try:
            view = read(r)
        except ParseError as exc:
            where = f"group {_group_id(r)} on {str(r.get('sh_if_index') or r.get('intf') or '?')[:40]}"
            skip_group(device, what, f"{where}: {str(exc).removeprefix(f'{device}: ').removeprefix(f'{what}: ')}")
            continue
        if view is not None:
            views.append(view)
    return views


def _nested_addresses(r: dict, family: int) -> list[str]:
    """Addresses in a row's nested tables (``TABLE_grp_vip_sec``, VRRPv3's secondary VIP tables)."""
    out = []
    for key, table in r.items():
        if not key.startswith("TABLE_") or not any(w in key.lower() for w in ("vip", "sec", "addr")):
            continue
        for t in as_list(table):
            if not isinstance(t, dict):
                continue
            for rk, rows in t.items():
                for row in as_list(rows) if rk.startswith("ROW_") else []:
                    values = row.values() if isinstance(row, dict) else [row]
                    out += [a for a in (_address(v, family) for v in values) if a]
    return out


def _ordered(addresses: tuple[str, ...], family: int) -> tuple[str, ...]:
    """IPv6: the link-local virtual address first (:func:`~netha.drivers.base.link_local_first`); IPv4 as printed."""
    return link_local_first(addresses) if family == 6 else addresses


def _unique(addresses: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(addresses))


@dataclass(frozen=True)
class _VrrpLayout:
    """Where one of NX-OS's two VRRP outputs keeps each field (the JSON keys differ, the meaning not)."""

    what: str
    table: str
    row: str
    family: str  # the address-family key
    group: str
    interface: str
    state: str
    priority: tuple[str, ...]  # configured priority, first key present
    effective: tuple[str, ...]  # effective (running) priority, first key present
    vip: tuple[str, ...]
    interval: str
    interval_scale: float  # divide by this to get seconds
    preempt: str
    master: tuple[str, ...] = ()


VRRPV2 = _VrrpLayout(
    what=SHOW_VRRP, table="TABLE_vrrp_group", row="ROW_vrrp_group", family="sh_group_type",
    group="sh_group_id", interface="sh_if_index", state="sh_group_state",
    priority=("sh_cfg_priority", "sh_priority"), effective=("sh_oper_priority", "sh_cur_priority", "sh_priority"),
    vip=("sh_vip_addr", "sh_vip_addr_v6"), interval="sh_adv_interval", interval_scale=1.0, preempt="sh_group_preempt",
    master=("sh_master_addr", "sh_master_ip", "sh_master_router_addr"),
)
VRRPV3 = _VrrpLayout(
    what=SHOW_VRRPV3, table="TABLE_grp", row="ROW_grp", family="af",
    group="id", interface="intf", state="state", priority=("cfg_priority", "priority"),
    effective=("oper_priority", "priority"), vip=("vip", "primary_vip", "vip_v6"),
    interval="adv", interval_scale=1000.0, preempt="preempt", master=("m_addr", "master_addr"),
)
_ON = ("enable", "enabled", "true", "yes", "on")
_OFF = ("disable", "disabled", "false", "no", "off")


def _first(r: dict, keys: tuple[str, ...]) -> object:
    return next((r[k] for k in keys if k in r and r[k] not in (None, "")), None)


def _vrrp_row(r: dict, device: str, f: _VrrpLayout) -> VrrpView:
    vips_raw = [r.get(k) for k in f.vip]
    family = _family(r.get(f.family), [v for v in vips_raw if isinstance(v, str)])
    if family is None:
        raise ParseError(device, f"{f.what}: address family {str(r.get(f.family))[:20]!r} is not one netha knows")
    flat = [a for v in vips_raw for a in (v if isinstance(v, list) else [v])]
    vips = [a for a in (_address(v, family) for v in flat) if a] + _nested_addresses(r, family)
    master = _first(r, f.master)
    prio = opt_int(_first(r, f.priority), device, f.what, f.priority[0], 0, 255)
    effective = opt_int(_first(r, f.effective), device, f.what, f.effective[0], 0, 255)
    return checked_view(VrrpView(
        vrid=need_int(r.get(f.group), device, f.what, f.group, 1, 255),
        interface=_name(r.get(f.interface), device, f.what),
        state=_state(r.get(f.state), _STATES, device, f.what, f.state),
        priority=prio,
        effective_priority=effective if effective is not None else prio,
        virtual_addresses=_ordered(_unique(vips), family),
        advert_interval=_interval(r.get(f.interval), f.interval_scale),
        preempt=_flag(r.get(f.preempt), _ON, _OFF, device, f.what, f.preempt),
        master_address=_address(master, family),
        protocol="vrrp",
        family=family,  # type: ignore[arg-type]
    ), device, f.what)


def _vrrp_views(text: str, device: str, f: _VrrpLayout) -> list[VrrpView]:
    """The groups (IPv4 and IPv6) of a VRRP ``| json`` output laid out as ``f`` says. JSON without
    the output's table is not this output: an error, never "no groups"."""
    data = _body(text, device, f.what)
    rows = table_rows(data, f.table, f.row)
    if data and not rows:
        raise ParseError(device, f"{f.what}: no {f.table} in the output (keys: {', '.join(sorted(map(str, data))[:5])[:80]})")
    return _each_group(rows, device, f.what, lambda r: _vrrp_row(r, device, f))


@parser(SHOW_VRRP)
def parse_vrrp(text: str, device: str = "?") -> list[VrrpView]:
    """``show vrrp detail | json``: ``TABLE_vrrp_group`` / ``ROW_vrrp_group`` (VRRPv2)."""
    return _vrrp_views(text, device, VRRPV2)


@parser(SHOW_VRRPV3)
def parse_vrrpv3(text: str, device: str = "?") -> list[VrrpView]:
    """``show vrrpv3 | json``: ``TABLE_grp`` / ``ROW_grp``, IPv4 and IPv6 groups (advertisement interval in ms)."""
    return _vrrp_views(text, device, VRRPV3)


def _hello(r: dict) -> float | None:
    """HSRP's hello time in seconds (``sh_cur_hello`` in ``sh_cur_hello_attr`` units: sec or msec)."""
    value = as_float(r.get("sh_cur_hello", r.get("sh_cfg_hello")))
    if value is None or value <= 0:
        return None
    unit = str(r.get("sh_cur_hello_attr", r.get("sh_cfg_hello_attr", "sec"))).strip().lower()
    return value / 1000.0 if unit.startswith("msec") or unit == "ms" else value


def _hsrp_row(r: dict, device: str) -> VrrpView:
    v4, v6 = r.get("sh_vip"), r.get("sh_vip_v6")
    family = _family(r.get("sh_group_type"), [a for a in (v6, v4) if isinstance(a, str)])
    if family is None:
        raise ParseError(device, f"{SHOW_HSRP}: address family {str(r.get('sh_group_type'))[:20]!r} "
                                 "is not one netha knows")
    primary = _address(v6 if family == 6 else v4, family)
    # A secondary of the other family (an IPv6 group prints "0.0.0.64") is no address of the group.
    vips = ([primary] if primary else []) + _nested_addresses(r, family)
    master_key = "sh_active_router_addr_v6" if family == 6 else "sh_active_router_addr"
    master = r.get(master_key)
    if isinstance(master, str) and master.strip().lower() == "local":
        master = None
    return checked_view(VrrpView(
        vrid=need_int(r.get("sh_group_num"), device, SHOW_HSRP, "sh_group_num", 0, 4095),
        interface=_name(r.get("sh_if_index"), device, SHOW_HSRP),
        state=_state(r.get("sh_group_state"), _HSRP_STATES, device, SHOW_HSRP, "sh_group_state"),
        priority=opt_int(r.get("sh_cfg_prio"), device, SHOW_HSRP, "sh_cfg_prio", 0, 255),
        effective_priority=opt_int(r.get("sh_prio"), device, SHOW_HSRP, "sh_prio", 0, 255),
        virtual_addresses=_ordered(_unique(vips), family),
        transitions=opt_int(r.get("sh_num_of_state_changes"), device, SHOW_HSRP, "sh_num_of_state_changes",
                            0, COUNTER_MAX),
        advert_interval=_hello(r),
        preempt=_flag(r.get("sh_preempt"), _ON, _OFF, device, SHOW_HSRP, "sh_preempt"),
        master_address=_address(master, family),
        protocol="hsrp",
        family=family,  # type: ignore[arg-type]
    ), device, SHOW_HSRP, vrids=(0, 4095))


@parser(SHOW_HSRP)
def parse_hsrp(text: str, device: str = "?") -> list[VrrpView]:
    """``show hsrp detail | json``: ``TABLE_grp_detail`` / ``ROW_grp_detail``, IPv4 and IPv6 groups.

    A row netha cannot read (no group number, an address family it does not know) is reported
    with :func:`~netha.drivers.base.skip_group`, never dropped silently; the other rows still count."""
    data = _body(text, device, SHOW_HSRP)
    rows = table_rows(data, "TABLE_grp_detail", "ROW_grp_detail")
    if data and not rows:
        raise ParseError(device, f"{SHOW_HSRP}: no TABLE_grp_detail in the output "
                                 f"(keys: {', '.join(sorted(map(str, data))[:5])[:80]})")
    return _each_group(rows, device, SHOW_HSRP, lambda r: _hsrp_row(r, device))


def mark_vrrp_shutdown(views: list[VrrpView], shut: set[tuple[str, int]], family: int = 4) -> list[VrrpView]:
    """The VRRP views of ``family`` with ``shutdown=True`` for the (interface, VRID) pairs the config
    shuts (:func:`~netha.drivers.napalm_push.shutdown_vrrp_groups` of that family)."""
    return [dataclasses.replace(v, shutdown=True)
            if v.protocol == "vrrp" and v.family == family and (v.interface, v.vrid) in shut else v for v in views]


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
def parse_route_entries(text: str, device: str = "?") -> dict[str, bool]:
    """``show ip route [PREFIX] | json``: every ``ipprefix`` of every VRF and address family -> True
    (an empty output, or one without prefixes: ``{}``)."""
    found: dict[str, bool] = {}
    for vrf in table_rows(_body(text, device, "show ip route"), "TABLE_vrf", "ROW_vrf"):
        for af in table_rows(vrf, "TABLE_addrf", "ROW_addrf"):
            for p in table_rows(af, "TABLE_prefix", "ROW_prefix"):
                try:
                    found[str(ipaddress.ip_network(str(p.get("ipprefix")), strict=False))] = True
                except ValueError:
                    continue
    return found


def parse_route(text: str, prefix: str, device: str = "?") -> bool:
    """``show ip route PREFIX | json``: an ``ipprefix`` equal to ``prefix`` in some VRF/address family."""
    return str(ipaddress.IPv4Network(prefix)) in parse_route_entries(text, device)


def _documents(views: list[VrrpView]) -> list[dict[str, object]]:
    return [v.document() for v in views]


def parse_any_vrrp(text: str, device: str = "?") -> list[VrrpView]:
    """A capture of ``show vrrp detail | json`` or ``show vrrpv3 | json``, told apart by their tables."""
    return parse_vrrpv3(text, device) if "TABLE_grp" in text and "TABLE_vrrp_group" not in text \
        else parse_vrrp(text, device)


# The corpus (tests/fixtures/cisco_nxos/<command>/): command slug -> what netha reads from a capture.
CORPUS: dict[str, Callable[[str, str], object]] = {
    "show_vrrp_detail_json": lambda text, device: _documents(parse_vrrp(text, device)),
    "show_vrrpv3_json": lambda text, device: _documents(parse_vrrpv3(text, device)),
    "show_hsrp_detail_json": lambda text, device: _documents(parse_hsrp(text, device)),
    "show_interface_json": lambda text, device: parse_interfaces(text, device),
    "show_ip_interface_json": lambda text, device: parse_ip_addresses(text, device),
    "show_ip_route_json": lambda text, device: parse_route_entries(text, device),
    "show_running_config_interface": lambda text, device: sorted(map(list, shutdown_vrrp_groups(text))),
    # The native prober's verdict (IP SLA tracks): object -> its kind and whether it is up.
    "show_track": lambda text, device: {str(i): {"kind": t.kind, "up": t.up} for i, t in parse_track(text, device).items()},
}


# gNMI (`feature grpc`, `grpc gnmi`): port 50051, always TLS (a self-signed certificate unless one is
# installed: `gnmi: {tls: skip-verify}` or its CA); OpenConfig paths need the origin "openconfig" (the
# default origin is the DME's "device"); JSON or PROTO, not JSON_IETF. Interface oper-status only:
# NX-OS's VRRP state is not subscribed (its changes still show as link events and in the polls). An
# idle NX-OS stream gets an empty response every keepalive-timeout (`grpc gnmi keepalive-timeout`).
GNMI = GnmiSubscription(
    paths=(oc.OPER_STATUS,),
    parse=oc.event_parser(oc.parent_for_index_zero),
    port=50051,
    origin="openconfig",
    encoding="json",
    tls="verify",
)


class CiscoNxosDriver(NapalmPushMixin, NetworkDriver):
    spec = SPEC

    @classmethod
    def gnmi_subscription(cls) -> GnmiSubscription | None:
        return GNMI
    napalm_transport = "ssh"
    CAPTURE_KINDS = ("vrrp", "hsrp", "interfaces", "routes")

    @classmethod
    def parse_capture(cls, kind: str, text: str, device: str = "capture") -> object:
        """``show vrrp detail | json`` or ``show vrrpv3 | json`` (vrrp, told apart by their tables),
        ``show hsrp detail | json`` (hsrp), ``show interface | json`` (interfaces), ``show ip route
        [PREFIX] | json`` (routes). NX-API replies (``ins_api``) are read too."""
        if kind == "vrrp":
            return parse_any_vrrp(text, device)
        if kind == "hsrp":
            return parse_hsrp(text, device)
        if kind == "interfaces":
            return parse_interfaces(text, device)
        if kind == "routes":
            return parse_route_entries(text, device)
        return super().parse_capture(kind, text, device)

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

    def _read_protocol(self, command: str, parse: Callable[[str, str], list[VrrpView]],
                       failures: list[ParseError]) -> list[VrrpView]:
        """One protocol's groups; output netha cannot read is reported (skip_group) and costs only that
        protocol's groups, never the others' (VRRP, VRRPv3 and HSRP are read independently)."""
        try:
            return parse(self._show_feature(command), self.name)
        except ParseError as exc:
            skip_group(self.name, command, str(exc).removeprefix(f"{self.name}: "))
            failures.append(exc)
            return []

    def get_vrrp(self) -> list[VrrpView]:
        failures: list[ParseError] = []
        vrrp = (self._read_protocol(SHOW_VRRP, parse_vrrp, failures)
                + self._read_protocol(SHOW_VRRPV3, parse_vrrpv3, failures))
        if any(v.state == "init" for v in vrrp):
            config = self.run_checked(SHOW_INTERFACE_CONFIG)
            for family in (4, 6):
                vrrp = mark_vrrp_shutdown(vrrp, shutdown_vrrp_groups(config, family), family)
        hsrp = self._read_protocol(SHOW_HSRP, parse_hsrp, failures)
        if len(failures) == 3:  # nothing could be read: that is the poll's failure, not "no groups"
            raise failures[0]
        return vrrp + hsrp

    def get_interfaces(self) -> dict[str, bool]:
        return parse_interfaces(self.run_checked(SHOW_INTERFACE), self.name)

    def get_interface_details(self) -> dict[str, InterfaceDetails]:
        macs = parse_macs(self.run_checked(SHOW_INTERFACE), self.name)
        addrs = parse_ip_addresses(self.run_checked(SHOW_IP_INTERFACE), self.name)
        return {name: {"mac": macs.get(name), "addresses": addrs.get(name, [])} for name in {*macs, *addrs}}

    def get_routes(self, prefixes: Sequence[str]) -> dict[str, bool]:
        return {p: parse_route(self.run_checked(route_command(p)), p, self.name) for p in prefixes}

    def read(self, routes: Sequence[str] = (), probes: Sequence[ReachProbe] = ()) -> DeviceReading:
        """One poll: VRRP, VRRPv3, HSRP, interface state, IP addresses, the routes, the IP SLA probes
        (what the parsers skipped in ``notes``)."""
        with collecting_notes(self.name) as notes:
            return DeviceReading(
                vrrp=tuple(self.get_vrrp()),
                interfaces=self.get_interfaces(),
                routes=self.get_routes(routes) if routes else {},
                addresses={k: tuple(v) for k, v in
                           parse_ip_addresses(self.run_checked(SHOW_IP_INTERFACE), self.name).items()},
                reach=self.read_reach(probes),
                notes=notes,
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
