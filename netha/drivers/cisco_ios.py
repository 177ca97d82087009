"""Cisco IOS: VRRP (classic ``vrrp N ...``, VRRPv3 ``address-family``) and HSRP (``standby N ...``).

IOS has no structured output. netha reads it with its own small line parsers (below), not with
ntc-templates' TextFSM templates: those end in ``^. -> Error`` and fail a whole output on one line
they do not know, which today's IOS-XE prints in almost every ``show vrrp all`` (see the comment
above :func:`parse_vrrp` for the lines, and the fix offered upstream). An unknown line inside a
group is skipped and counted (:func:`~netha.drivers.base.skip_line`), a group that cannot be read
is reported (:func:`~netha.drivers.base.skip_group`) and the others are read; only output that is
not the command's at all is a :class:`~netha.errors.ParseError`. The corpus of third-party captures
these parsers are tested on is ``tests/fixtures/cisco_ios/`` and ``tests/fixtures/cisco_xe/``
(:data:`CORPUS`). Pushes go through NAPALM's ``ios`` driver (merge file + ``copy ...
running-config``, ``configure replace``).

Forwarding-path probes are native: IP SLA entries and track objects (``templates/<platform>/reach.j2``),
read with ``show ip sla statistics`` and ``show track`` (:mod:`netha.drivers.native_reach`).
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Sequence

from netutils.lib_mapper import NETMIKO_LIB_MAPPER_REVERSE

from ..errors import CommandRejected, ParseError
from .base import (GroupProtocol, NetworkDriver, PlatformSpec, checked_view, collecting_notes, link_local_first,
                   need_int, parser, skip_group, skip_line)
from .models import DeviceReading, InterfaceDetails, ReachProbe, ReachReading, VrrpStateName, VrrpView
from .napalm_push import NapalmPushMixin, mark_shutdown, shutdown_vrrp_groups
from .native_reach import SHOW_SLA, SHOW_TRACK, guarded, ipsla_readings, parse_sla_statistics, parse_track
from .render import renderer


# IOS and IOS-XE: the banner of `show running-config` and the comments stamped on every change or save.
VOLATILE_CONFIG = (
    r"Building configuration", r"Current configuration", r"!\s*Last configuration change",
    r"!\s*NVRAM config last updated", r"!\s*No configuration change since",
)


def ios_spec(name: str, ipv6: frozenset[GroupProtocol]) -> PlatformSpec:
    return PlatformSpec(
        name=name,
        netmiko_device_type=NETMIKO_LIB_MAPPER_REVERSE[name],
        prompt_pattern=r"[A-Za-z0-9][\w.:/-]*(?:\([\w./-]+\))?[>#]\s?",
        # Only real refusals: "% Network not in table" is an answer, not an error.
        error_patterns=(r"^%\s*(?:Invalid|Incomplete|Ambiguous|Unknown|Unrecognized|Bad)\b",),
        protocols=frozenset({"vrrp", "hsrp", "static"}),
        ipv6=ipv6,
        volatile_config=VOLATILE_CONFIG,
        reach="native",  # IP SLA + track objects
    )


# IPv6: HSRP version 2 groups and static gateways. IPv6 VRRP is VRRPv3 only, and "fhrp version vrrp v3"
# replaces the classic "vrrp N ..." commands this platform's templates write: IPv6 VRRP is cisco_xe's.
SPEC = ios_spec("cisco_ios", ipv6=frozenset({"hsrp", "static"}))

# The commands the parsers below expect.
SHOW_VRRP = "show vrrp all"  # 'all' lists shut-down groups too (state Init)
SHOW_STANDBY = "show standby"
SHOW_IP_INTERFACE_BRIEF = "show ip interface brief"
# The lines of 'show ip interface' netha needs, without the other ~30 per interface.
SHOW_IP_INTERFACE = "show ip interface | include line protocol|Internet address|Secondary address"
SHOW_INTERFACES_MAC = "show interfaces | include line protocol|address is"
# Read only when a VRRP group is in Init: was it shut down on purpose (a resigned master)?
SHOW_INTERFACE_CONFIG = "show running-config | section ^interface"

_VRRP_STATES: dict[str, VrrpStateName] = {"master": "master", "backup": "backup", "init": "init"}
_HSRP_STATES: dict[str, VrrpStateName] = {"active": "master", "standby": "backup"}

# 'show ip route 198.18.2.0 255.255.255.0' answers "Routing entry for 198.18.2.0/24" when that
# exact prefix is in the table and "% Subnet not in table" / "% Network not in table" otherwise.
# No ntc-template covers this form (cisco_ios_show_ip_route parses the full table): see
# parse_route_entries.


def _ip(value: object) -> str | None:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        return None


# -- VRRP and HSRP: netha's own line parser ------------------------------------------------------
#
# Why not ntc-templates here: its cisco_ios ``show vrrp all`` and ``show standby`` templates end
# in ``^. -> Error``, so one line the template does not know fails the whole output, and with it
# the device's poll. Today's IOS-XE prints many such per-group lines (descriptions, "FLAGS: 1/1",
# "State change reason is ...", "Tloc preference ...", VRRS group names, "Virtual secondary IP
# addresses:" with the addresses below it, "Virtual IP address is no address", "(expires in ...)"),
# and ``show standby`` prints lines of spaces. A TextFSM template cannot skip a line *and* report
# it; this parser reads a group line by line, calls :func:`skip_line` for a line it does not know
# (counted in ``status``), :func:`skip_group` for a group it cannot read, and still reads the rest.
# The fix offered upstream (ntc-templates): replace the trailing ``^. -> Error`` of
# cisco_ios_show_vrrp_all.textfsm and cisco_ios_show_standby.textfsm by ``^\s*\S.*`` (ignore) plus
# rules for "Virtual secondary IP addresses:", "no address", "(Configured N)"/"(cfgd N)" and
# "Priority N (configured M)", and a List value for the secondary addresses.

_PROMPT_OR_ECHO = re.compile(r"^(?:\S+[#>]\s*.*|sh(?:ow)?\s.*|\d{4}-\d\d-\d\d .*%UNICON.*)$", re.I)
_VRRP_HEADER = re.compile(r"^(?P<interface>\S+) - Group (?P<group>\d*)(?: - Address-Family (?P<af>IPv4|IPv6))?\s*$", re.I)
_HSRP_HEADER = re.compile(r"^(?P<interface>\S+) - Group (?P<group>\d*)(?: \(version (?P<version>\d+)\))?\s*$", re.I)
_ADDRESS = re.compile(r"^(?P<addr>[0-9A-Fa-f:.]+)(?:/\d{1,3})?$")

# Lines of a VRRP group netha knows and does not need (not counted as skipped).
_VRRP_KNOWN = re.compile(
    r"^(?:Virtual MAC address is|State duration|Master Advertisement interval is|Master Down interval is|"
    r"Track (?:object|interface|list)|Authentication|FLAGS:|Description is|VRRS|State change reason|"
    r"Tloc preference)", re.I)
# Lines of an HSRP group netha knows and does not need.
_HSRP_KNOWN = re.compile(
    r"^(?:\d+ state changes?, last state change|Active virtual MAC address|Local virtual MAC address|"
    r"Virtual MAC address|Next hello sent|Authentication|MAC address is|Standby router is|Group name is|"
    r"IP redundancy name is|FLAGS:|Track (?:object|interface|list)|Follow|Redirects|may preempt)", re.I)


def _ordered(addresses: tuple[str, ...], family: int) -> tuple[str, ...]:
    """IPv6: the link-local virtual address first (:func:`~netha.drivers.base.link_local_first`); IPv4 as printed."""
    return link_local_first(addresses) if family == 6 else addresses


def _address(text: str) -> tuple[str, int] | None:
    """An address as netha writes it (IPv4 dotted, IPv6 compressed lowercase) and its family; a
    prefix length after it ("17::154/64", as IOS-XE prints IPv6 secondaries) is dropped."""
    m = _ADDRESS.match(text.strip())
    if m is None:
        return None
    try:
        ip = ipaddress.ip_address(m.group("addr"))
    except ValueError:
        return None
    return str(ip), ip.version


def _blocks(text: str, header: re.Pattern[str], what: str, device: str) -> list[tuple[re.Match[str], list[str]]]:
    """The groups of ``text``: each header line with the lines below it up to the next header.

    Blank lines and lines of spaces are nothing. A line before the first header is a prompt or the
    command's echo (skipped and counted); output without a single header that is not only those is
    not this command's output at all (a :class:`ParseError`)."""
    blocks: list[tuple[re.Match[str], list[str]]] = []
    before: list[str] = []
    for raw in text.replace("\r", "").splitlines():
        if not raw.strip():
            continue
        m = header.match(raw) if not raw[0].isspace() else None
        if m is not None:
            blocks.append((m, []))
        elif blocks:
            blocks[-1][1].append(raw)
        else:
            before.append(raw)
    if not blocks and any(not _PROMPT_OR_ECHO.match(line.strip()) for line in before):
        first = next(line for line in before if not _PROMPT_OR_ECHO.match(line.strip()))
        raise ParseError(device, f"{what}: not {what} output (no group header): {first.strip()[:80]!r}")
    for line in before:
        skip_line(device, what, line)
    return blocks


def _why(exc: Exception, what: str) -> str:
    """A device error's message without the device's name and the command (the note names both)."""
    text = str(exc)
    device = getattr(exc, "device", None)
    if device is not None and text.startswith(f"{device}: "):
        text = text[len(device) + 2:]
    return text[len(what) + 2:] if text.startswith(f"{what}: ") else text


def _seconds(value: str, unit: str) -> float:
    return float(value) / 1000.0 if unit.lower() == "msec" else float(value)


_VRRP_STATE = re.compile(r"^State is (?P<state>\w+)", re.I)
_VRRP_VIP = re.compile(r"^Virtual IP address is (?P<addr>\S+)(?: .*)?$", re.I)
_VRRP_SECONDARY = re.compile(r"^Virtual secondary IP addresses:?\s*$", re.I)
_VRRP_ADVERT = re.compile(r"^Advertisement interval is (?P<n>[0-9]{1,9}(?:\.[0-9]{1,6})?) (?P<unit>msec|sec)\b", re.I)
_PREEMPT = re.compile(r"^Preemption (?P<p>enabled|disabled)\b", re.I)
_VRRP_PRIORITY = re.compile(r"^Priority is (?P<p>\d{1,3})\s*(?:\((?:Configured|cfgd)\s+(?P<c>\d{1,3})\))?\s*$", re.I)
_VRRP_MASTER = re.compile(r"^Master Router is (?P<addr>\S+?)(?: \(local\))?, priority is (?P<p>\S+)\s*$", re.I)


def _vrrp_group(m: re.Match[str], lines: list[str], device: str) -> VrrpView:
    """One group of ``show vrrp all``; a :class:`ParseError` when it cannot be read."""
    what = SHOW_VRRP
    interface, number = m.group("interface"), m.group("group")
    name = f"{interface} group {number or '?'}"
    if not number:
        raise ParseError(device, f"{what}: {name}: no group number")
    family = 6 if (m.group("af") or "").lower() == "ipv6" else 4
    state: str | None = None
    vip: str | None = None
    secondaries: list[str] = []
    advert = priority = configured = preempt = master = None
    in_secondaries = False
    for raw in lines:
        line = raw.strip()
        addr = _address(line) if in_secondaries else None
        if addr is not None:
            secondaries.append(addr[0])
            continue
        in_secondaries = False
        if (s := _VRRP_STATE.match(line)) is not None:
            state = s.group("state").lower()
        elif (s := _VRRP_VIP.match(line)) is not None:
            found = _address(s.group("addr"))
            vip = found[0] if found else None  # "no address", "unknown"
        elif _VRRP_SECONDARY.match(line):
            in_secondaries = True
        elif (s := _VRRP_ADVERT.match(line)) is not None:
            advert = _seconds(s.group("n"), s.group("unit"))
        elif (s := _PREEMPT.match(line)) is not None:
            preempt = s.group("p").lower() == "enabled"
        elif (s := _VRRP_PRIORITY.match(line)) is not None:
            priority = int(s.group("p"))
            configured = int(s.group("c")) if s.group("c") else priority
        elif (s := _VRRP_MASTER.match(line)) is not None:
            found = _address(s.group("addr"))
            master = found[0] if found else None  # "unknown"
        elif not _VRRP_KNOWN.match(line):
            skip_line(device, what, raw)
    if state is None:
        raise ParseError(device, f"{what}: {name}: no 'State is' line")
    return checked_view(VrrpView(
        vrid=need_int(number, device, what, f"{name}: group", 1, 255),
        interface=interface,
        state=_VRRP_STATES.get(state, "unknown"),
        priority=configured,
        effective_priority=priority,
        virtual_addresses=_ordered(tuple([vip] if vip else []) + tuple(secondaries), family),
        advert_interval=advert,
        preempt=preempt,
        master_address=master,
        protocol="vrrp",
        family=family,  # type: ignore[arg-type]
    ), device, what)


@parser(SHOW_VRRP)
def parse_vrrp(text: str, device: str = "?", platform: str = "cisco_ios") -> list[VrrpView]:
    """``show vrrp all``: classic VRRPv2 and VRRPv3 (address-family ipv4/ipv6) groups.

    An unknown line inside a group is skipped (:func:`skip_line`), a group that cannot be read is
    reported (:func:`skip_group`) and the others are read; output without any group header that
    is more than a prompt is a :class:`ParseError`. ``platform`` is unused (kept for callers)."""
    views = []
    for m, lines in _blocks(text, _VRRP_HEADER, SHOW_VRRP, device):
        try:
            views.append(_vrrp_group(m, lines, device))
        except ParseError as exc:
            skip_group(device, SHOW_VRRP, _why(exc, SHOW_VRRP))
    return views


# Old IOS (12.0) prints "Local state is Standby, priority 100" and "Hellotime 3 sec, holdtime 10 sec".
_HSRP_STATE = re.compile(r"^(?:Local )?state is (?P<state>\w+)(?:, priority (?P<p>\d{1,3}))?", re.I)
# An IPv6 group's primary is its link-local address ("Link-Local Virtual IPv6 address is
# FE80::5:73FF:FEA0:14 (conf auto EUI64)"), its global ones "Virtual IPv6 address 2001:DB8::254/64".
_HSRP_VIP = re.compile(r"^(?:Virtual IP address is|Link-Local Virtual IPv6 address is) (?P<addr>\S+)(?: .*)?$", re.I)
_HSRP_SECONDARY = re.compile(r"^(?:Secondary virtual IP address|Virtual IPv6 address) (?P<addr>\S+)(?: .*)?$", re.I)
_HSRP_HELLO = re.compile(r"^Hello ?time (?P<n>[0-9]{1,9}(?:\.[0-9]{1,6})?) (?P<unit>msec|sec)\b", re.I)
_HSRP_ACTIVE = re.compile(r"^Active router is (?P<addr>[^\s,]+)", re.I)
_HSRP_PRIORITY = re.compile(r"^Priority (?P<p>\d{1,3})\s*(?:\((?:configured|default) (?P<c>\d{1,3})\)|\(.*\))?\s*$", re.I)


def _hsrp_group(m: re.Match[str], lines: list[str], device: str) -> VrrpView:
    what = SHOW_STANDBY
    interface, number = m.group("interface"), m.group("group")
    name = f"{interface} group {number or '?'}"
    if not number:
        raise ParseError(device, f"{what}: {name}: no group number")
    state: str | None = None
    addresses: list[tuple[str, int]] = []
    advert = priority = configured = preempt = None
    active: tuple[str, int] | None = None
    for raw in lines:
        line = raw.strip()
        if (s := _HSRP_STATE.match(line)) is not None:
            state = s.group("state").lower()
            if s.group("p") and priority is None:
                priority = int(s.group("p"))
        elif (s := _HSRP_VIP.match(line)) is not None:
            found = _address(s.group("addr"))  # "unknown" when not learnt yet
            if found:
                addresses.insert(0, found)
        elif (s := _HSRP_SECONDARY.match(line)) is not None:
            found = _address(s.group("addr"))
            if found:
                addresses.append(found)
        elif (s := _HSRP_HELLO.match(line)) is not None:
            advert = _seconds(s.group("n"), s.group("unit"))
        elif (s := _PREEMPT.match(line)) is not None:
            preempt = s.group("p").lower() == "enabled"
        elif (s := _HSRP_ACTIVE.match(line)) is not None:
            active = _address(s.group("addr"))  # "local", "unknown": no address
        elif (s := _HSRP_PRIORITY.match(line)) is not None:
            priority = int(s.group("p"))
            configured = int(s.group("c")) if s.group("c") else priority
        elif not _HSRP_KNOWN.match(line):
            skip_line(device, what, raw)
    if state is None:
        raise ParseError(device, f"{what}: {name}: no 'State is' line")
    families = {f for _, f in addresses} or ({active[1]} if active else {4})
    if len(families) > 1:
        raise ParseError(device, f"{what}: {name}: IPv4 and IPv6 virtual addresses in one group")
    family = families.pop()
    return checked_view(VrrpView(
        vrid=need_int(number, device, what, f"{name}: group", 0, 4095),
        interface=interface,
        state=_HSRP_STATES.get(state, "init"),
        priority=configured,
        effective_priority=priority,
        virtual_addresses=_ordered(tuple(a for a, _ in addresses), family),
        advert_interval=advert,
        preempt=preempt,
        # "Active router is local" names no address (show standby does not print the local one).
        master_address=active[0] if active else None,
        protocol="hsrp",
        family=family,  # type: ignore[arg-type]
    ), device, what, vrids=(0, 4095))


@parser(SHOW_STANDBY)
def parse_hsrp(text: str, device: str = "?", platform: str = "cisco_ios") -> list[VrrpView]:
    """``show standby``: HSRP v1/v2 groups, IPv4 and IPv6 (Active -> master, Standby -> backup,
    Speak/Listen/Learn/Init/Disabled -> init). Robust as :func:`parse_vrrp`."""
    views = []
    for m, lines in _blocks(text, _HSRP_HEADER, SHOW_STANDBY, device):
        try:
            views.append(_hsrp_group(m, lines, device))
        except ParseError as exc:
            skip_group(device, SHOW_STANDBY, _why(exc, SHOW_STANDBY))
    return views


# -- interfaces: line parsers too ----------------------------------------------------------------------
#
# The driver reads ``show ip interface`` and ``show interfaces`` through ``| include`` (three and two
# kinds of line); ntc-templates' templates for the full commands anchor the interface line at
# column 0 and end in ``^. -> Error`` too: real IOS-XE output indents it ("  BDI105 is up, ...")
# and prints "address is 2c33.11ff.fbc7(bia ...)" without a space, and a filtered output is not
# what they were written for. A line that is none of these is skipped and counted.

_IF_LINE = re.compile(r"^\s*(?P<name>\S+) is (?P<status>[^,]+), line protocol is (?P<proto>\S+)", re.I)
_IF_ADDRESS = re.compile(r"^\s*(?:Internet address is|Secondary address) (?P<ip>[0-9.]+)/(?P<len>[0-9]{1,2})\b", re.I)
_IF_NO_ADDRESS = re.compile(r"^\s*Internet (?:address will be negotiated|protocol processing disabled|address is not assigned)", re.I)
_IF_MAC = re.compile(r"\baddress is (?P<mac>[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4})", re.I)
_BRIEF_ROW = re.compile(r"^(?P<name>\S+)\s+(?P<ip>\S+)\s+(?:YES|NO)\s+\S+\s+(?P<status>up|down|administratively down|deleted)"
                        r"\s+(?P<proto>up|down)\s*$", re.I)
_BRIEF_HEADER = re.compile(r"^\s*Interface\s+IP-Address\s+OK\?", re.M)


def _lines(text: str) -> list[str]:
    return [line for line in text.replace("\r", "").splitlines() if line.strip()]


@parser(SHOW_IP_INTERFACE_BRIEF)
def parse_interfaces_brief(text: str, device: str = "?", platform: str = "cisco_ios") -> dict[str, bool]:
    """``show ip interface brief``: name -> status up and protocol up."""
    out: dict[str, bool] = {}
    lines = _lines(text)
    if lines and not _BRIEF_HEADER.search(text):
        raise ParseError(device, f"{SHOW_IP_INTERFACE_BRIEF}: no header line: {lines[0].strip()[:80]!r}")
    for line in lines:
        if (m := _BRIEF_ROW.match(line)) is not None:
            out[m.group("name")] = m.group("status").lower() == "up" and m.group("proto").lower() == "up"
        elif not _BRIEF_HEADER.match(line):
            skip_line(device, SHOW_IP_INTERFACE_BRIEF, line)
    return out


@parser(SHOW_IP_INTERFACE)
def parse_ip_interfaces(text: str, device: str = "?", platform: str = "cisco_ios") -> dict[str, InterfaceDetails]:
    """``show ip interface | include line protocol|Internet address|Secondary address``:
    name -> {"up": bool, "addresses": [cidr, ...]} (the primary first)."""
    out: dict[str, dict] = {}
    current: dict | None = None
    for line in _lines(text):
        if (m := _IF_LINE.match(line)) is not None:
            current = out[m.group("name")] = {
                "up": m.group("status").strip().lower() == "up" and m.group("proto").lower().startswith("up"),
                "addresses": [],
            }
        elif (m := _IF_ADDRESS.match(line)) is not None and current is not None:
            ip, length = _ip(m.group("ip")), int(m.group("len"))
            if ip is not None and length <= 32:
                current["addresses"].append(f"{ip}/{length}")
        elif not _IF_NO_ADDRESS.match(line):
            skip_line(device, SHOW_IP_INTERFACE, line)
    return out  # type: ignore[return-value]


@parser(SHOW_INTERFACES_MAC)
def parse_macs(text: str, device: str = "?", platform: str = "cisco_ios") -> dict[str, str | None]:
    """``show interfaces | include line protocol|address is``: name -> MAC as aa:bb:cc:dd:ee:ff
    (None when it has none)."""
    out: dict[str, str | None] = {}
    current: str | None = None
    for line in _lines(text):
        if (m := _IF_LINE.match(line)) is not None:
            current = m.group("name")
            out[current] = None
        elif (m := _IF_MAC.search(line)) is not None and current is not None and out[current] is None:
            mac = m.group("mac").replace(".", "").lower()
            out[current] = ":".join(mac[i:i + 2] for i in range(0, 12, 2))
        elif not re.search(r"address is", line):
            skip_line(device, SHOW_INTERFACES_MAC, line)
    return out


def route_command(prefix: str) -> str:
    net = ipaddress.IPv4Network(prefix)
    return f"show ip route {net.network_address} {net.netmask}"


_ROUTE_ENTRY = re.compile(r"^Routing entry for (?P<net>[0-9.]+)/(?P<len>[0-9]+)\b")
# "Default gateway is A.B.C.D": a switch with IP routing off has no routing table: no route is in it.
_ROUTE_ABSENT = re.compile(r"^(?:%\s*(?:Network|Subnet) not in table|Default gateway is )", re.I)


@parser("show ip route")
def parse_route_entries(text: str, device: str = "?") -> dict[str, bool]:
    """``show ip route A.B.C.D [M.M.M.M]``: the prefixes of its "Routing entry for" lines (-> True);
    ``{}`` for "% Network/Subnet not in table". Output that is neither is a :class:`ParseError`
    (never "no route": a track would go down on garbage)."""
    found: dict[str, bool] = {}
    absent = False
    for raw in text.replace("\r", "").splitlines():
        line = raw.strip()
        if (m := _ROUTE_ENTRY.match(line)) is not None:
            try:
                net = ipaddress.IPv4Network(f"{m.group('net')}/{m.group('len')}", strict=False)
            except ValueError:
                raise ParseError(device, f"show ip route: not a prefix: {line[:80]!r}") from None
            found[str(net)] = True
        elif _ROUTE_ABSENT.match(line):
            absent = True
    if not found and not absent:
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        raise ParseError(device, f"show ip route: neither a routing entry nor 'not in table': {first[:80]!r}")
    return found


def parse_route(text: str, prefix: str, device: str = "?") -> bool:
    """``show ip route A.B.C.D M.M.M.M``: is exactly ``prefix`` in the routing table?"""
    return ipaddress.IPv4Network(prefix) in {ipaddress.IPv4Network(p) for p in parse_route_entries(text, device)}


# The filters the driver runs on the device, as regexes on a full capture (the corpus holds
# unfiltered third-party captures; ``netha parse`` accepts both).
IP_INTERFACE_FILTER = re.compile(r"line protocol|Internet address|Secondary address")
INTERFACES_MAC_FILTER = re.compile(r"line protocol|address is")


def include(text: str, pattern: re.Pattern[str]) -> str:
    """``text`` through IOS's ``| include`` (lines matching ``pattern``)."""
    return "".join(line for line in text.replace("\r", "").splitlines(keepends=True) if pattern.search(line))


def parse_interface_states(text: str, device: str = "?") -> dict[str, bool]:
    """Interface -> up, from ``show ip interface brief`` or ``show ip interface`` (filtered or not)."""
    if _BRIEF_HEADER.search(text):
        return parse_interfaces_brief(text, device)
    return {k: bool(v["up"]) for k, v in parse_ip_interfaces(include(text, IP_INTERFACE_FILTER), device).items()}


def _documents(views: list[VrrpView]) -> list[dict[str, object]]:
    return [v.document() for v in views]


# The corpus (tests/fixtures/cisco_ios/<command>/): command slug -> what netha reads from a capture.
CORPUS: dict[str, Callable[[str, str], object]] = {
    "show_vrrp_all": lambda text, device: _documents(parse_vrrp(text, device)),
    "show_standby": lambda text, device: _documents(parse_hsrp(text, device)),
    "show_ip_interface_brief": lambda text, device: parse_interfaces_brief(text, device),
    "show_ip_interface": lambda text, device: parse_ip_interfaces(include(text, IP_INTERFACE_FILTER), device),
    "show_interfaces": lambda text, device: parse_macs(include(text, INTERFACES_MAC_FILTER), device),
    "show_ip_route": lambda text, device: parse_route_entries(text, device),
}


class CiscoIosDriver(NapalmPushMixin, NetworkDriver):
    spec = SPEC

    def __init__(self, params):
        super().__init__(params)
        self._macs: dict[str, str | None] | None = None

    def close(self) -> None:
        self._macs = None
        super().close()

    CAPTURE_KINDS = ("vrrp", "hsrp", "interfaces", "routes")

    @classmethod
    def parse_capture(cls, kind: str, text: str, device: str = "capture") -> object:
        """``show vrrp all`` (vrrp), ``show standby`` (hsrp), ``show ip interface brief`` or
        ``show ip interface`` (interfaces), ``show ip route A.B.C.D [M.M.M.M]`` (routes)."""
        if kind == "vrrp":
            return parse_vrrp(text, device)
        if kind == "hsrp":
            return parse_hsrp(text, device)
        if kind == "interfaces":
            return parse_interface_states(text, device)
        if kind == "routes":
            return parse_route_entries(text, device)
        return super().parse_capture(kind, text, device)

    def _vrrp(self) -> list[VrrpView]:
        vrrp = parse_vrrp(self.run_checked(SHOW_VRRP), self.name)
        if any(v.state == "init" for v in vrrp):
            # The running config names the shut groups of each family (shutdown_vrrp_groups).
            config = self.run_checked(SHOW_INTERFACE_CONFIG)
            vrrp = [v for family in (4, 6)
                    for v in mark_shutdown([v for v in vrrp if v.family == family], shutdown_vrrp_groups(config, family))]
        return vrrp

    def get_vrrp(self) -> list[VrrpView]:
        """VRRP and HSRP, read independently: when one command's output is refused or cannot be
        read, its groups are reported unreadable (:func:`skip_group`: the health model then takes a
        group it does not find on this device as unknown, not gone) and the other's still count.
        Only when both fail does the read fail."""
        views: list[VrrpView] = []
        failed: list[ParseError | CommandRejected] = []
        for what, read in ((SHOW_VRRP, self._vrrp),
                           (SHOW_STANDBY, lambda: parse_hsrp(self.run_checked(SHOW_STANDBY), self.name))):
            try:
                views += read()
            except (ParseError, CommandRejected) as exc:
                failed.append(exc)
                skip_group(self.name, what, f"not read: {_why(exc, what)}")
        if len(failed) == 2:
            raise failed[0]
        return views

    def get_interfaces(self) -> dict[str, bool]:
        return parse_interfaces_brief(self.run_checked(SHOW_IP_INTERFACE_BRIEF), self.name)

    def get_interface_details(self) -> dict[str, InterfaceDetails]:
        ips = parse_ip_interfaces(self.run_checked(SHOW_IP_INTERFACE), self.name)
        if self._macs is None:  # MACs do not change: one read per session
            self._macs = parse_macs(self.run_checked(SHOW_INTERFACES_MAC), self.name)
        return {name: {"mac": self._macs.get(name), "addresses": info["addresses"]} for name, info in ips.items()}

    def get_routes(self, prefixes: Sequence[str]) -> dict[str, bool]:
        return {p: parse_route(self.run_checked(route_command(p)), p, self.name) for p in prefixes}

    def read(self, routes: Sequence[str] = (), probes: Sequence[ReachProbe] = ()) -> DeviceReading:
        """One poll: VRRP, HSRP, one filtered ``show ip interface`` (state and addresses), the routes,
        the IP SLA probes; what the parsers skipped on the way is the reading's ``notes``."""
        with collecting_notes(self.name) as notes:
            ips = parse_ip_interfaces(self.run_checked(SHOW_IP_INTERFACE), self.name)
            return DeviceReading(
                vrrp=tuple(self.get_vrrp()),
                interfaces={k: bool(v["up"]) for k, v in ips.items()},
                routes=self.get_routes(routes) if routes else {},
                addresses={k: tuple(v["addresses"]) for k, v in ips.items()},
                reach=self.read_reach(probes),
                notes=notes,
            )

    # -- forwarding-path probes: IP SLA ----------------------------------------------------------
    def reach_config(self, probes: Sequence[ReachProbe]) -> list[str]:
        """``ip sla N`` / ``ip sla schedule N`` / ``track N ip sla N`` per probe (template ``reach.j2``)."""
        return renderer(self.spec.name, self.templates).render_reach(probes)

    def get_reach(self, probes: Sequence[ReachProbe]) -> dict[str, ReachReading]:
        """Two commands for every probe: ``show ip sla statistics`` (has the entry a result?) and
        ``show track`` (the verdict, with the configured delays)."""
        def read() -> dict[str, ReachReading]:
            stats = parse_sla_statistics(self.run_checked(SHOW_SLA), self.name)
            tracks = parse_track(self.run_checked(SHOW_TRACK), self.name)
            return ipsla_readings(stats, tracks, probes, time.monotonic())
        return guarded(probes, read) if probes else {}

    def get_config(self) -> str:
        return self.stable_config(self.run_checked("show running-config"))


Driver = CiscoIosDriver
