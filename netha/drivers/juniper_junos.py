"""Juniper Junos: VRRP (``vrrp-group`` under an interface address), read with ``| display xml``
(VRRP) and ``| display json`` (interfaces, routes, RPM).

Junos JSON wraps every value as ``[{"data": value}]`` and gathers repeated sibling elements
into one list per name. ``show vrrp detail`` prints its records as loose siblings inside
``vrrp-interface``, so in JSON a group with two virtual addresses cannot be told from two groups
with one each; VRRP is therefore read as XML, which keeps the order (see :func:`parse_vrrp`).

Junos nests a VRRP group under the interface's *own* address (``family inet address
198.19.50.2/24 vrrp-group 50``; an IPv6 group ``family inet6 address 2001:2:0:1::2/64 vrrp-inet6-group
50``); netha's templates do not know that address, so they write the
placeholder :data:`LOCAL_ADDRESS` and :meth:`JuniperJunosDriver.load_config` replaces it with
the address that carries the group in the device's configuration, right before the push.
Pushes go through NAPALM's ``junos`` driver (NETCONF over SSH: load, diff, commit; atomic).

Forwarding-path probes are native: RPM tests ``reach-N`` of the owner ``netha``
(``templates/juniper_junos/reach.j2``), read with ``show services rpm probe-results owner netha |
display json``; the same tests appear in DISMAN-PING-MIB (:func:`netha.drivers.native_reach.ping_mib_readings`
with :func:`rpm_names`).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netutils.lib_mapper import NETMIKO_LIB_MAPPER_REVERSE

from ..errors import CommandRejected, ParseError
from . import openconfig as oc
from .base import (GnmiSubscription, NetworkDriver, PlatformSpec, as_float, as_int, checked_view, collecting_notes, link_local_first,
                   load_json, need_int, opt_int, parser, skip_group, skip_line)
from .models import DeviceReading, InterfaceDetails, ReachProbe, ReachReading, VrrpStateName, VrrpView
from .napalm_push import NapalmPushMixin, as_list
from .native_reach import MAX_COUNT, guarded, unknown
from .render import renderer

log = logging.getLogger(__name__)

SPEC = PlatformSpec(
    name="juniper_junos",
    netmiko_device_type=NETMIKO_LIB_MAPPER_REVERSE["juniper_junos"],
    prompt_pattern=r"[\w.-]+@[\w.-]+[>#%]\s?",
    error_patterns=(r"^error:", r"^syntax error", r"^unknown command"),
    protocols=frozenset({"vrrp", "static"}),
    # IPv6: VRRP (vrrp-inet6-group under a family inet6 address) and static gateways.
    ipv6=frozenset({"vrrp", "static"}),
    # The commit stamps of `show configuration`.
    volatile_config=(r"##\s*Last commit:", r"##\s*Last changed:"),
    config_enter=("configure private",),
    config_exit=("commit and-quit",),
    comment_prefixes=("#",),
    reach="native",  # RPM
)

SHOW_VRRP = "show vrrp detail | display xml"  # XML keeps each group's own fields together (see parse_vrrp)
SHOW_TERSE = "show interfaces terse | display json"
SHOW_INTERFACES = "show interfaces | display json"
SHOW_CONFIG = "show configuration"

# The template's stand-in for the member's own address on the interface (see the module doc).
LOCAL_ADDRESS = "__local_address__"
# What the device says when VRRP is not configured at all: no groups, not an error.
_NO_VRRP = re.compile(r"vrrp.*(?:not running|not configured)|subsystem is not running", re.I)

_STATES: dict[str, VrrpStateName] = {
    "master": "master", "backup": "backup", "init": "init", "idle": "init", "bringup": "init", "transition": "init",
}


def data(node: object, key: str) -> str | None:
    """Junos JSON leaf: ``{"key": [{"data": "v"}]}`` -> "v" (first occurrence)."""
    values = data_all(node, key)
    return values[0] if values else None


def data_all(node: object, key: str) -> list[str]:
    """Every occurrence of a leaf, in order."""
    if not isinstance(node, dict):
        return []
    # Some releases keep the XML's whitespace: "\nge-0/0/1\n".
    return [str(v["data"]).strip() for v in as_list(node.get(key)) if isinstance(v, dict) and "data" in v]


def _root(text: str, device: str, what: str, key: str) -> list[dict]:
    value = load_json(text, device, what)
    if not isinstance(value, dict):
        raise ParseError(device, f"{what}: expected an object")
    return [n for n in as_list(value.get(key)) if isinstance(n, dict)]


def split_interface(name: str) -> tuple[str, str]:
    """'ge-0/0/1.0' -> ('ge-0/0/1', '0'); a name without a unit is unit 0."""
    ifd, dot, unit = name.rpartition(".")
    return (ifd, unit) if dot and unit.isascii() and unit.isdigit() else (name, "0")


# -- VRRP ---------------------------------------------------------------------------------------------
#
# ``show vrrp detail`` prints each group as a record of *loose siblings* inside ``vrrp-interface``
# (``<vrrp-vlan>`` or ``<interface>`` starts a record, then ``<group>``, ``<vrrp-state>``, one
# ``<virtual-ip-address>`` per address ...). The XML keeps their order, so every field, every
# virtual address included, is read from its own record; ``| display json`` gathers the siblings
# into one list per name and loses which address belongs to which group. netha therefore asks
# for XML (:data:`SHOW_VRRP`) and reads the JSON form only for captures (``netha parse``), where
# it assigns per-record values by position only when that is unambiguous.

# Element names of one record's fields (the first present wins); a field not here is ignored. No
# public capture of a ``show vrrp detail`` XML reply exists (see tests/fixtures/juniper_junos/): the
# names of the group, state, address and interface elements are those public integrations read
# (junos_exporter, NETCONF examples); those of the detail fields follow the labels of Juniper's
# documented detail output ("Priority", "Current priority", "Configured priority", "Master router",
# "Preempt", "Advertisement interval"), with the alternatives accepted. A field a release names
# otherwise reads as unknown (None), never as a wrong value.
_REC_GROUP = ("group",)
_REC_STATE = ("vrrp-state",)
_REC_CONFIGURED = ("configured-priority", "vrrp-configured-priority", "priority", "vrrp-priority")
_REC_EFFECTIVE = ("current-priority", "vrrp-current-priority", "priority", "vrrp-priority")
_REC_MASTER = ("master-router", "master-router-address", "vrrp-master-address", "master-address")
_REC_PREEMPT = ("preempt", "vrrp-preempt")
_REC_INTERVAL = ("advertisement-interval", "vrrp-advertisement-interval", "adv-interval")
_REC_VIP = ("virtual-ip-address", "virtual-ipv6-address", "vip")
_REC_LOCAL = ("local-interface-address",)
# The elements that start a record inside <vrrp-interface> (detail: vrrp-vlan; brief: interface).
_REC_START = ("vrrp-vlan", "interface")


def _xml_root(text: str, device: str, what: str):
    """The XML element tree of a ``| display xml`` output (namespaces dropped), without the CLI's
    banner and prompt around it. A DOCTYPE (entity declarations) is refused, never expanded."""
    import xml.etree.ElementTree as ET

    m = re.search(r"<([A-Za-z][\w:.-]*)", text)  # the root element (the CLI's echo and prompt hold none)
    if m is None:
        raise ParseError(device, f"{what}: no XML in output: {text.strip()[:80]!r}")
    close = text.rfind(f"</{m.group(1)}>")
    end = close + len(m.group(1)) + 3 if close >= 0 else text.find(">", m.end()) + 1  # a self-closed root
    body = text[m.start():end]
    if "<!DOCTYPE" in body or "<!ENTITY" in body:
        raise ParseError(device, f"{what}: XML with a DOCTYPE is not a Junos reply")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ParseError(device, f"{what}: invalid XML ({exc})") from None
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def _leaves(el, out: dict[str, list[str]]) -> None:
    """Every leaf under ``el`` (itself included) as name -> texts, in document order."""
    children = list(el)
    if not children:
        out.setdefault(el.tag, []).append((el.text or "").strip())
        return
    for child in children:
        _leaves(child, out)


def _xml_records(text: str, device: str) -> list[dict[str, list[str]]]:
    root = _xml_root(text, device, SHOW_VRRP)
    infos = [root] if root.tag == "vrrp-information" else list(root.iter("vrrp-information"))
    if not infos:
        raise ParseError(device, f"{SHOW_VRRP}: no vrrp-information in the XML (root {root.tag[:40]!r})")
    records: list[dict[str, list[str]]] = []
    for info in infos:
        for vi in info.iter("vrrp-interface"):
            start = next((c.tag for c in vi if c.tag in _REC_START), None)
            current: dict[str, list[str]] | None = None
            for child in vi:
                if current is None or child.tag == start or (child.tag == "group" and "group" in current):
                    current = {}
                    records.append(current)
                _leaves(child, current)
                if child.tag == "interface" and not list(child):  # brief: <interface>ge-0/0/1.0</interface>
                    current["interface-name"] = current.pop("interface")
    return records


def _json_records(text: str, device: str) -> list[dict[str, list[str]]]:
    """The records of a ``| display json`` output. Values are assigned to records by position where
    each record has exactly one of them (or, for virtual addresses, where ``vip-count`` says how
    many each has); otherwise a value is left out and noted (skip_line), never given to the wrong group."""
    records: list[dict[str, list[str]]] = []
    value = load_json(text, device, SHOW_VRRP)
    if isinstance(value, dict) and value and "vrrp-information" not in value:
        raise ParseError(device, f"{SHOW_VRRP}: no vrrp-information in the output "
                                 f"(keys: {', '.join(sorted(map(str, value))[:5])[:80]})")
    for info in _root(text, device, SHOW_VRRP, "vrrp-information"):
        for vi in as_list(info.get("vrrp-interface")):
            if not isinstance(vi, dict):
                continue
            fields: dict[str, list[str]] = {}
            _json_leaves(vi, fields)
            n = len(fields.get("group", []))
            if "interface" in fields:
                fields["interface-name"] = fields.pop("interface")
            recs: list[dict[str, list[str]]] = [{} for _ in range(n)]
            counts = [as_int(c) for c in fields.get("vip-count", [])]
            for name, values in fields.items():
                if len(values) == n:
                    for rec, value in zip(recs, values):
                        rec[name] = [value]
                elif n == 1:
                    recs[0][name] = values
                elif name in _REC_VIP and len(counts) == n and all(c is not None for c in counts) \
                        and sum(counts) == len(values):  # type: ignore[arg-type]
                    at = 0
                    for rec, c in zip(recs, counts):
                        rec[name] = values[at:at + c]  # type: ignore[operator]
                        at += c  # type: ignore[operator]
                elif name in _REC_VIP + _REC_MASTER + _REC_CONFIGURED + _REC_EFFECTIVE + _REC_STATE:
                    skip_line(device, SHOW_VRRP, f"{name}: {len(values)} values for {n} groups, "
                                                 "not assignable in JSON (read | display xml)")
            records += recs
    return records


def _json_leaves(node: object, out: dict[str, list[str]]) -> None:
    if not isinstance(node, dict):
        return
    for key, values in node.items():
        if key == "attributes":
            continue
        for v in as_list(values):
            if isinstance(v, dict) and "data" in v:
                out.setdefault(key, []).append(str(v["data"]).strip())
            elif isinstance(v, dict):
                _json_leaves(v, out)


def _one(rec: dict[str, list[str]], names: tuple[str, ...]) -> str | None:
    for name in names:
        values = [v for v in rec.get(name, []) if v]
        if values:
            return values[0]
    return None


def _address_of(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not value:
        return None
    try:
        addr = ipaddress.ip_address(value.split("/")[0].split("%")[0])
    except ValueError:
        return None
    return None if addr.is_unspecified else addr


def _record_view(rec: dict[str, list[str]], device: str) -> VrrpView:
    group = _one(rec, _REC_GROUP)
    ifd, unit = _one(rec, ("physical-interface",)), _one(rec, ("unit",))
    name = _one(rec, ("interface-name",)) or (f"{ifd}.{unit or '0'}" if ifd else None)
    if not name:
        raise ParseError(device, f"{SHOW_VRRP}: group {str(group)[:12]} has no interface")
    vips = [a for a in (_address_of(v) for n in _REC_VIP for v in rec.get(n, [])) if a]
    local = _address_of(_one(rec, _REC_LOCAL))
    family = vips[0].version if vips else (local.version if local else 4)
    raw_state = _one(rec, _REC_STATE)
    state = _STATES.get((raw_state or "").lower())
    if state is None:
        skip_line(device, SHOW_VRRP, f"vrrp-state: {str(raw_state)[:60]}")
        state = "unknown"
    configured = _one(rec, _REC_CONFIGURED)
    effective = _one(rec, _REC_EFFECTIVE)
    preempt_word = (_one(rec, _REC_PREEMPT) or "").lower()
    preempt = {"yes": True, "enabled": True, "true": True, "no": False, "disabled": False, "false": False}.get(preempt_word)
    if preempt_word and preempt is None:
        skip_line(device, SHOW_VRRP, f"preempt: {preempt_word[:40]}")
    interval = _junos_interval(_one(rec, _REC_INTERVAL))
    master = _address_of(_one(rec, _REC_MASTER))
    return checked_view(VrrpView(
        vrid=need_int(group, device, SHOW_VRRP, "group", 1, 255),
        interface=name,
        state=state,
        priority=opt_int(configured, device, SHOW_VRRP, "configured priority", 0, 255),
        effective_priority=opt_int(effective, device, SHOW_VRRP, "priority", 0, 255),
        virtual_addresses=link_local_first([str(a) for a in vips if a.version == family]),
        advert_interval=interval,
        preempt=preempt,
        master_address=str(master) if master is not None and master.version == family else None,
        protocol="vrrp",
        family=family,  # type: ignore[arg-type]
    ), device, SHOW_VRRP)


def _junos_interval(value: str | None) -> float | None:
    """An advertisement interval as Junos prints it: seconds ("1", "1s"), or milliseconds ("1000ms",
    VRRPv3's fast-interval; a bare number above VRRPv2's 255 s is milliseconds too)."""
    if not value:
        return None
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|msec|s|sec|seconds?)?\s*", value, re.ASCII)
    if m is None:
        return None
    number = float(m.group(1))
    if (m.group(2) or "").startswith("ms") or number > 255:
        number /= 1000.0
    return number if number > 0 else None


def _views_of(records: list[dict[str, list[str]]], device: str) -> list[VrrpView]:
    views = []
    for rec in records:
        try:
            views.append(_record_view(rec, device))
        except ParseError as exc:
            where = f"group {str(_one(rec, _REC_GROUP))[:12]}"
            skip_group(device, SHOW_VRRP, f"{where}: {str(exc).removeprefix(f'{device}: ').removeprefix(f'{SHOW_VRRP}: ')}")
    return views


@parser(SHOW_VRRP)
def parse_vrrp(text: str, device: str = "?") -> list[VrrpView]:
    """``show vrrp detail | display xml`` (what netha runs) or ``| display json`` (a capture): one
    view per (logical interface, group), with configured and effective priority, master, preempt,
    advertisement interval and every virtual address. A record netha cannot read is reported
    (skip_group); the others still count."""
    if not text.strip() or _NO_VRRP.search(text):
        return []
    first = min((i for i in (text.find("{"), text.find("<")) if i >= 0), default=-1)
    if first >= 0 and text[first] == "<":
        return _views_of(_xml_records(text, device), device)
    return _views_of(_json_records(text, device), device)


@parser(SHOW_TERSE)
def parse_interfaces(text: str, device: str = "?") -> dict[str, bool]:
    """``show interfaces terse | display json``: physical and logical names -> admin and oper up."""
    out: dict[str, bool] = {}
    for info in _root(text, device, SHOW_TERSE, "interface-information"):
        for phy in as_list(info.get("physical-interface")):
            name = data(phy, "name")
            if not name:
                continue
            phy_up = data(phy, "admin-status") == "up" and data(phy, "oper-status") == "up"
            out[name] = phy_up
            for log in as_list(phy.get("logical-interface")):
                lname = data(log, "name")
                if lname:
                    out[lname] = phy_up and data(log, "admin-status") == "up" and data(log, "oper-status") == "up"
    return out


@parser(SHOW_TERSE)
def parse_addresses(text: str, device: str = "?") -> dict[str, list[str]]:
    """``show interfaces terse | display json``: logical interface -> its inet addresses (CIDR)."""
    out: dict[str, list[str]] = {}
    for info in _root(text, device, SHOW_TERSE, "interface-information"):
        for phy in as_list(info.get("physical-interface")):
            for log in as_list(phy.get("logical-interface") if isinstance(phy, dict) else None):
                lname = data(log, "name")
                if not lname:
                    continue
                addrs = []
                for fam in as_list(log.get("address-family")):
                    if data(fam, "address-family-name") != "inet":
                        continue
                    for ia in as_list(fam.get("interface-address")):
                        local = data(ia, "ifa-local")
                        if local:  # a host address (loopback) is printed without its /32
                            addrs.append(local if "/" in local else f"{local}/32")
                out[lname] = addrs
    return out


@parser(SHOW_INTERFACES)
def parse_macs(text: str, device: str = "?") -> dict[str, str]:
    """``show interfaces | display json``: physical interface -> current MAC."""
    out: dict[str, str] = {}
    for info in _root(text, device, SHOW_INTERFACES, "interface-information"):
        for phy in as_list(info.get("physical-interface")):
            name, mac = data(phy, "name"), data(phy, "current-physical-address")
            if name and mac:
                out[name] = mac.lower()
    return out


def route_command(prefix: str) -> str:
    return f"show route {ipaddress.IPv4Network(prefix)} exact table inet.0 | display json"


# A routing table of IP prefixes: inet.0, inet.3, inet6.0, VRF-A.inet.0 (not mpls.0, bgp.evpn.0, iso.0 ...).
_IP_TABLE = re.compile(r"(^|\.)inet6?\.\d+$")


@parser("show route")
def parse_route_entries(text: str, device: str = "?") -> dict[str, bool]:
    """``show route [PREFIX exact] [table T] | display json``: every destination -> True.

    Only the IP tables count (``inet.0``, ``inet6.0``, ``<instance>.inet.0`` ...): a whole ``show
    route`` also lists ``mpls.0`` (labels), ``bgp.evpn.0`` and ``<instance>.evpn.0`` (EVPN NLRIs),
    whose destinations are no IP prefixes and no answer about one (seen in SuzieQ's vQFX captures)."""
    found: dict[str, bool] = {}
    for info in _root(text, device, "show route", "route-information"):
        for table in as_list(info.get("route-table")):
            name = data(table, "table-name") if isinstance(table, dict) else None
            if name and not _IP_TABLE.search(name):
                log.debug("%s: show route: table %s is not an IP table: not read", device, name)
                continue
            for rt in as_list(table.get("rt") if isinstance(table, dict) else None):
                dest = data(rt, "rt-destination")
                if not dest:
                    continue
                length = data(rt, "rt-prefix-length")  # some replies split "1.0.4.0" and "24"
                if length and "/" not in dest:
                    dest = f"{dest}/{length}"
                try:
                    net = ipaddress.ip_network(dest, strict=False)
                except ValueError:
                    # Not an answer about the route: unknown, never "absent".
                    raise ParseError(device, f"show route: not a destination: {dest[:60]!r}") from None
                found[str(net)] = True
    return found


def parse_route(text: str, prefix: str, device: str = "?") -> bool:
    """``show route PREFIX exact table inet.0 | display json``: a destination equal to ``prefix``."""
    return str(ipaddress.IPv4Network(prefix)) in parse_route_entries(text, device)


# -- forwarding-path probes: RPM -----------------------------------------------------------------------

RPM_OWNER = "netha"
SHOW_RPM = f"show services rpm probe-results owner {RPM_OWNER} | display json"


def rpm_test_name(probe: ReachProbe) -> str:
    """The RPM test of ``probe`` (under the owner :data:`RPM_OWNER`)."""
    return f"reach-{probe.index}"


def rpm_names(probe: ReachProbe) -> tuple[str, str]:
    """(owner, test): the probe's row in DISMAN-PING-MIB's ``pingResultsTable``."""
    return RPM_OWNER, rpm_test_name(probe)


def rpm_interval(probe: ReachProbe) -> int:
    """RPM's ``probe-interval`` for ``probe``: whole seconds, 1..255 (RPM's minimum is 1 s)."""
    return min(255, max(1, math.ceil(probe.interval - 1e-9)))


@dataclass(frozen=True)
class RpmCounts:
    """The counts of one scope of an RPM test (the current test, or the last completed one)."""

    sent: int
    received: int
    avg_rtt_us: float | None


@dataclass(frozen=True)
class RpmResult:
    """One test of ``show services rpm probe-results``."""

    owner: str
    test: str
    target: str | None
    last: RpmCounts | None  # the last completed test (probe-count probes): the probe's window
    current: RpmCounts | None  # the test in progress
    status: str | None  # the latest probe's status ("Response received", "Request timed out" ...)


def _rpm_counts(test: dict, scope: str, device: str, name: str) -> RpmCounts | None:
    nodes = [n for n in as_list(test.get(scope)) if isinstance(n, dict)]
    generic = [g for n in nodes for g in as_list(n.get("probe-test-generic-results")) if isinstance(g, dict)]
    if not generic:
        return None
    g = generic[0]
    sent_raw, received_raw = data(g, "probes-sent"), data(g, "probe-responses")
    if sent_raw is None or received_raw is None:
        return None
    sent = need_int(sent_raw, device, SHOW_RPM, f"{name} {scope} probes-sent", 0, MAX_COUNT)
    received = need_int(received_raw, device, SHOW_RPM, f"{name} {scope} probe-responses", 0, MAX_COUNT)
    if received > sent:
        raise ParseError(device, f"{SHOW_RPM}: {name}: {received} responses to {sent} probes")
    avg: float | None = None
    for rtt in as_list(g.get("probe-test-rtt")):
        for summary in as_list(rtt.get("probe-summary-results") if isinstance(rtt, dict) else None):
            raw = data(summary, "avg-delay")
            if raw is not None:
                avg = as_float(raw)
                if avg is None or avg < 0:
                    raise ParseError(device, f"{SHOW_RPM}: {name}: avg-delay {raw[:40]!r} is not a duration")
    return RpmCounts(sent=sent, received=received, avg_rtt_us=avg)


@parser(SHOW_RPM)
def parse_rpm_results(text: str, device: str = "?") -> dict[tuple[str, str], RpmResult]:
    """``show services rpm probe-results [owner O] | display json``: (owner, test) -> its results
    (no output: no tests)."""
    if not text.strip():
        return {}
    out: dict[tuple[str, str], RpmResult] = {}
    value = load_json(text, device, SHOW_RPM)
    if not isinstance(value, dict):
        raise ParseError(device, f"{SHOW_RPM}: expected an object")
    infos = as_list(value.get("probe-results"))
    tests = [t for info in infos if isinstance(info, dict) for t in as_list(info.get("probe-test-results"))]
    if not all(isinstance(n, dict) for n in [*infos, *tests]):
        raise ParseError(device, f"{SHOW_RPM}: probe-results is not a list of objects")
    for t in tests:
        owner = data(t, "owner") or data(t, "owner-name")
        test = data(t, "test-name")
        if not owner or not test:
            raise ParseError(device, f"{SHOW_RPM}: a test without an owner or a name")
        name = f"{owner}/{test}"
        single = [n for n in as_list(t.get("probe-single-results")) if isinstance(n, dict)]
        out[(owner, test)] = RpmResult(
            owner=owner, test=test, target=data(t, "target-address"),
            last=_rpm_counts(t, "probe-last-test-results", device, name),
            current=_rpm_counts(t, "probe-test-current-results", device, name),
            status=data(single[0], "probe-status") if single else None,
        )
    return out


def rpm_readings(results: dict[tuple[str, str], RpmResult], probes: Sequence[ReachProbe], now: float = 0.0,
                 owner: str = RPM_OWNER, test_name: Callable[[ReachProbe], str] = rpm_test_name
                 ) -> dict[str, ReachReading]:
    """The readings of ``probes``: the last completed test (its ``probe-count`` probes are the
    window), or the current one before any test completed; down when the share lost is above the
    probe's ``max_loss``."""
    out: dict[str, ReachReading] = {}
    for p in probes:
        rate = 1.0 / rpm_interval(p)
        test = test_name(p)
        r = results.get((owner, test))
        if r is None:
            out[p.key] = unknown(p, f"RPM test {owner}/{test} is not configured on the device", rate)
            continue
        counts = r.last if r.last is not None and r.last.sent else r.current
        if counts is None or not counts.sent:
            out[p.key] = unknown(p, f"RPM test {owner}/{test} has no result yet", rate)
            continue
        lost = counts.sent - counts.received
        out[p.key] = ReachReading(
            key=p.key, state="down" if lost / counts.sent > p.max_loss else "up", sent=counts.sent, lost=lost,
            rtt=counts.avg_rtt_us / 1e6 if counts.avg_rtt_us is not None and counts.received else None,
            at=now, rate=rate,
        )
    return out


def vrrp_address_command(ifd: str, unit: str, inet: str = "inet") -> str:
    """The command that lists the addresses of ``ifd.unit`` in family ``inet`` ("inet" or "inet6")."""
    return f"show configuration interfaces {ifd} unit {unit} family {inet} | display set"


# The VRRP group statement of each family: an IPv4 group hangs under a "family inet" address as
# "vrrp-group N", an IPv6 group under a "family inet6" address as "vrrp-inet6-group N".
_GROUP_WORD = {"inet": "vrrp-group", "inet6": "vrrp-inet6-group"}


@parser("show configuration | display set")
def resolve_local_address(config_set: str, ifd: str, unit: str, vrid: int, inet: str = "inet") -> str | None:
    """The interface address that carries ``vrrp-group vrid`` (family ``inet``) or ``vrrp-inet6-group
    vrid`` (family ``inet6``), from ``... | display set`` lines."""
    pat = re.compile(
        rf"^set interfaces {re.escape(ifd)} unit {re.escape(unit)} family {inet} address (\S+) "
        rf"{_GROUP_WORD[inet]} {vrid}(?:\s|$)"
    )
    found = {m.group(1) for ln in config_set.splitlines() if (m := pat.match(ln.strip()))}
    return found.pop() if len(found) == 1 else None


_PLACEHOLDER_LINE = re.compile(
    rf"^(?:set|delete) interfaces (\S+) unit (\d+) family (inet6?) address {LOCAL_ADDRESS} "
    rf"(?:vrrp-group|vrrp-inet6-group) (\d+)(?:\s|$)"
)


def _documents(views: list[VrrpView]) -> list[dict[str, object]]:
    return [v.document() for v in views]


def _rpm_document(results: dict[tuple[str, str], RpmResult]) -> dict[str, dict[str, object]]:
    """RPM results as the corpus holds them: "owner/test" -> target, status, and each scope's counts
    (average round trip in milliseconds)."""
    def scope(counts: RpmCounts | None, name: str) -> dict[str, object]:
        if counts is None:
            return {f"{name}_sent": None, f"{name}_received": None, f"{name}_avg_rtt_ms": None}
        avg = counts.avg_rtt_us / 1000.0 if counts.avg_rtt_us is not None else None
        return {f"{name}_sent": counts.sent, f"{name}_received": counts.received, f"{name}_avg_rtt_ms": avg}
    return {f"{r.owner}/{r.test}": {"target": r.target, "status": r.status, **scope(r.last, "last"),
                                    **scope(r.current, "current")} for r in results.values()}


# The corpus (tests/fixtures/juniper_junos/<command>/): command slug -> what netha reads from a capture.
CORPUS: dict[str, Callable[[str, str], object]] = {
    "show_vrrp_detail_display_xml": lambda text, device: _documents(parse_vrrp(text, device)),
    # One read gives both: interface state (get_interfaces) and addresses (get_interface_details).
    "show_interfaces_terse_display_json": lambda text, device: {
        "up": parse_interfaces(text, device), "addresses": parse_addresses(text, device)},
    "show_interfaces_display_json": lambda text, device: parse_macs(text, device),
    "show_route_display_json": lambda text, device: parse_route_entries(text, device),
    "show_services_rpm_probe_results_display_json": lambda text, device: _rpm_document(parse_rpm_results(text, device)),
}


# gNMI (`system services extension-service request-response grpc`): port 32767, clear-text or SSL as
# configured (plain text is the usual lab setup; `gnmi: {tls: verify, ca: ...}` for SSL); no origin;
# Subscribe streams PROTO (typed values: Junos answers JSON subscriptions unevenly). Logical interfaces
# are units (ge-0/0/1.0): a VRRP group on subinterface N names ge-0/0/1.N.
GNMI = GnmiSubscription(
    paths=(oc.OPER_STATUS,),
    vrrp_paths=(oc.VRRP_SUBINTERFACE_V4, oc.VRRP_SUBINTERFACE_V6),
    parse=oc.event_parser(oc.unit_always),
    port=32767,
    origin=None,
    encoding="proto",
    tls="insecure",
)


class JuniperJunosDriver(NapalmPushMixin, NetworkDriver):
    spec = SPEC

    @classmethod
    def gnmi_subscription(cls) -> GnmiSubscription | None:
        return GNMI
    atomic_commit = True
    CAPTURE_KINDS = ("vrrp", "interfaces", "routes")

    @classmethod
    def parse_capture(cls, kind: str, text: str, device: str = "capture") -> object:
        """``show vrrp detail | display xml`` or ``| display json`` (vrrp), ``show interfaces terse |
        display json`` (interfaces), ``show route ... | display json`` (routes)."""
        if kind == "vrrp":
            return parse_vrrp(text, device)
        if kind == "interfaces":
            return parse_interfaces(text, device)
        if kind == "routes":
            return parse_route_entries(text, device)
        return super().parse_capture(kind, text, device)

    def __init__(self, params):
        super().__init__(params)
        self._macs: dict[str, str] | None = None

    def close(self) -> None:
        self._macs = None
        super().close()

    # -- reads -----------------------------------------------------------------------------------
    def get_vrrp(self) -> list[VrrpView]:
        out = self.run(SHOW_VRRP)
        if _NO_VRRP.search(out):
            return []
        bad = self.rejected_line(out)
        if bad:
            raise CommandRejected(self.name, f"{SHOW_VRRP!r} rejected: {bad}")
        return parse_vrrp(out, self.name)

    def get_interfaces(self) -> dict[str, bool]:
        return parse_interfaces(self.run_checked(SHOW_TERSE), self.name)

    def get_interface_details(self) -> dict[str, InterfaceDetails]:
        addrs = parse_addresses(self.run_checked(SHOW_TERSE), self.name)
        if self._macs is None:  # MACs do not change: one (long) read per session
            self._macs = parse_macs(self.run_checked(SHOW_INTERFACES), self.name)
        return {name: {"mac": self._macs.get(split_interface(name)[0]), "addresses": a} for name, a in addrs.items()}

    def get_routes(self, prefixes: Sequence[str]) -> dict[str, bool]:
        return {p: parse_route(self.run_checked(route_command(p)), p, self.name) for p in prefixes}

    def read(self, routes: Sequence[str] = (), probes: Sequence[ReachProbe] = ()) -> DeviceReading:
        """One poll: VRRP, one ``show interfaces terse`` (state and addresses), the routes, the RPM tests."""
        with collecting_notes(self.name) as notes:
            terse = self.run_checked(SHOW_TERSE)
            return DeviceReading(
                vrrp=tuple(self.get_vrrp()),
                interfaces=parse_interfaces(terse, self.name),
                routes=self.get_routes(routes) if routes else {},
                addresses={k: tuple(v) for k, v in parse_addresses(terse, self.name).items()},
                reach=self.read_reach(probes),
                notes=notes,
            )

    def reach_config(self, probes: Sequence[ReachProbe]) -> list[str]:
        """``set services rpm probe netha test reach-N ...`` per probe (template ``reach.j2``)."""
        return renderer(self.spec.name, self.templates).render_reach(probes)

    def get_reach(self, probes: Sequence[ReachProbe]) -> dict[str, ReachReading]:
        """One ``show services rpm probe-results owner netha | display json`` for every probe."""
        def read() -> dict[str, ReachReading]:
            return rpm_readings(parse_rpm_results(self.run_checked(SHOW_RPM), self.name), probes, time.monotonic())
        return guarded(probes, read) if probes else {}

    def get_config(self) -> str:
        return self.stable_config(self.run_checked(SHOW_CONFIG))

    # -- changes ---------------------------------------------------------------------------------
    def resolve_lines(self, lines: Sequence[str]) -> list[str]:
        """Replace :data:`LOCAL_ADDRESS` with the address that carries the VRRP group on the device."""
        cache: dict[tuple[str, str, str, int], str] = {}
        out = []
        for line in lines:
            m = _PLACEHOLDER_LINE.match(line.strip())
            if m:
                ifd, unit, inet, vrid = m.group(1), m.group(2), m.group(3), int(m.group(4))
                key = (ifd, unit, inet, vrid)
                if key not in cache:
                    found = resolve_local_address(self.run_checked(vrrp_address_command(ifd, unit, inet)),
                                                  ifd, unit, vrid, inet)
                    if found is None:
                        raise CommandRejected(self.name, f"no single address on {ifd}.{unit} carries "
                                                         f"{_GROUP_WORD[inet]} {vrid}")
                    cache[key] = found
                line = line.replace(LOCAL_ADDRESS, cache[key])
            out.append(line)
        return out

    def load_config(self, lines: Sequence[str]) -> str:
        return super().load_config(self.resolve_lines(lines))

    def prepare_napalm(self, device) -> None:
        """Make PyEZ/ncclient check the host key like the CLI session does (PyEZ does not by default)."""
        p = self.params
        pyez = getattr(device, "device", None)
        if pyez is None or not p.strict_host_key_checking:
            return
        if p.known_hosts is not None:
            conf = f"Host *\n    UserKnownHostsFile {p.known_hosts}\n    StrictHostKeyChecking yes\n"
            path = self.napalm_private_file("ssh_config", conf)
            if hasattr(pyez, "_ssh_config"):
                pyez._ssh_config = path
        if hasattr(pyez, "_hostkey_verify"):
            pyez._hostkey_verify = True

    def napalm_optional_args(self) -> dict[str, object]:
        p = self.params
        args: dict[str, object] = {"port": p.port}
        if p.key_file:
            args["key_file"] = str(p.key_file)
        return args


Driver = JuniperJunosDriver
