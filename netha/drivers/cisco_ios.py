"""Cisco IOS: VRRP (classic ``vrrp N ...``) and HSRP (``standby N ...``), read with ntc-templates.

IOS has no structured output, so ``show`` output goes through the ntc-templates TextFSM
templates (platform name from netutils). ``show ip route A.B.C.D M.M.M.M`` (the routing entry
of one prefix) has no ntc-template; its small TextFSM template is embedded below. Pushes go
through NAPALM's ``ios`` driver (merge file + ``copy ... running-config``, ``configure replace``).

Forwarding-path probes are native: IP SLA entries and track objects (``templates/<platform>/reach.j2``),
read with ``show ip sla statistics`` and ``show track`` (:mod:`netha.drivers.native_reach`).
"""

from __future__ import annotations

import io
import ipaddress
import time
from collections.abc import Sequence

import textfsm
from netutils.lib_mapper import NETMIKO_LIB_MAPPER_REVERSE, NTCTEMPLATES_LIB_MAPPER_REVERSE

from ..errors import ParseError
from .base import NetworkDriver, PlatformSpec, as_float, as_int, checked_view, need_int, opt_int, parser
from .models import DeviceReading, InterfaceDetails, ReachProbe, ReachReading, VrrpStateName, VrrpView
from .napalm_push import NapalmPushMixin, mark_shutdown, shutdown_vrrp_groups
from .native_reach import SHOW_SLA, SHOW_TRACK, guarded, ipsla_readings, parse_sla_statistics, parse_track
from .render import renderer


# IOS and IOS-XE: the banner of `show running-config` and the comments stamped on every change or save.
VOLATILE_CONFIG = (
    r"Building configuration", r"Current configuration", r"!\s*Last configuration change",
    r"!\s*NVRAM config last updated", r"!\s*No configuration change since",
)


def ios_spec(name: str) -> PlatformSpec:
    return PlatformSpec(
        name=name,
        netmiko_device_type=NETMIKO_LIB_MAPPER_REVERSE[name],
        prompt_pattern=r"[A-Za-z0-9][\w.:/-]*(?:\([\w./-]+\))?[>#]\s?",
        # Only real refusals: "% Network not in table" is an answer, not an error.
        error_patterns=(r"^%\s*(?:Invalid|Incomplete|Ambiguous|Unknown|Unrecognized|Bad)\b",),
        protocols=frozenset({"vrrp", "hsrp", "static"}),
        volatile_config=VOLATILE_CONFIG,
        reach="native",  # IP SLA + track objects
    )


SPEC = ios_spec("cisco_ios")

# The commands the parsers below expect.
SHOW_VRRP = "show vrrp all"  # 'all' lists shut-down groups too (state Init)
SHOW_STANDBY = "show standby"
SHOW_IP_INTERFACE_BRIEF = "show ip interface brief"
# The lines of 'show ip interface' the ntc-template needs, without the other ~30 per interface.
SHOW_IP_INTERFACE = "show ip interface | include line protocol|Internet address|Secondary address"
SHOW_INTERFACES_MAC = "show interfaces | include line protocol|address is"
# Read only when a VRRP group is in Init: was it shut down on purpose (a resigned master)?
SHOW_INTERFACE_CONFIG = "show running-config | section ^interface"

_VRRP_STATES: dict[str, VrrpStateName] = {"master": "master", "backup": "backup", "init": "init"}
_HSRP_STATES: dict[str, VrrpStateName] = {"active": "master", "standby": "backup"}

# 'show ip route 198.18.2.0 255.255.255.0' answers "Routing entry for 198.18.2.0/24" when that
# exact prefix is in the table and "% Subnet not in table" / "% Network not in table" otherwise.
# No ntc-template covers this form (cisco_ios_show_ip_route parses the full table).
ROUTE_ENTRY_TEMPLATE = r"""Value Required NETWORK ([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)
Value PREFIX_LENGTH ([0-9]+)

Start
  ^Routing\s+entry\s+for\s+${NETWORK}/${PREFIX_LENGTH} -> Record
"""


def ntc_parse(platform: str, command: str, text: str, device: str = "?") -> list[dict[str, object]]:
    """Parse ``text`` with the ntc-template that matches (platform, command); [] for empty output."""
    from ntc_templates.parse import parse_output

    if not text.strip():
        return []
    try:
        return parse_output(platform=platform, command=command, data=text)
    except Exception as exc:  # noqa: BLE001 - ntc-templates/TextFSM raise several types
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise ParseError(device, f"{command}: output does not match the ntc-template ({why})") from None


def _ip(value: object) -> str | None:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        return None


@parser(SHOW_VRRP)
def parse_vrrp(text: str, device: str = "?", platform: str = "cisco_ios") -> list[VrrpView]:
    """``show vrrp all``: classic VRRPv2 and VRRPv3 (address-family) output; IPv4 groups only."""
    views = []
    for row in ntc_parse(platform, SHOW_VRRP, text, device):
        family = str(row.get("addr_family") or "IPv4")
        if family.lower() != "ipv4":
            continue
        state = _VRRP_STATES.get(str(row.get("state")).lower(), "unknown")
        effective = opt_int(row.get("priority"), device, SHOW_VRRP, "priority", 0, 255)
        configured = opt_int(row.get("priority_configured"), device, SHOW_VRRP, "configured priority", 0, 255)
        # VRRPv3 (address-family) prints milliseconds, classic VRRP seconds ("1.000 sec").
        seconds = as_float(row.get("adv_interval"))
        if seconds is not None and row.get("addr_family"):
            seconds /= 1000.0
        views.append(checked_view(VrrpView(
            vrid=need_int(row.get("group"), device, SHOW_VRRP, "group", 1, 255),
            interface=str(row.get("interface") or ""),
            state=state,
            priority=configured if configured else effective,
            effective_priority=effective,
            virtual_addresses=tuple(a for a in [_ip(row.get("virtual_ip_address"))] if a),
            advert_interval=seconds,
            preempt=str(row.get("preempt", "")).lower() == "enabled" if row.get("preempt") else None,
            master_address=_ip(row.get("master_ip_address")),
        ), device, SHOW_VRRP))
    return views


@parser(SHOW_STANDBY)
def parse_hsrp(text: str, device: str = "?", platform: str = "cisco_ios") -> list[VrrpView]:
    """``show standby``: HSRP groups as VRRP views (Active -> master, Standby -> backup, others -> init)."""
    views = []
    for row in ntc_parse(platform, SHOW_STANDBY, text, device):
        vip = _ip(row.get("virtual_ip"))
        secondaries = [a for a in (_ip(s) for s in row.get("secondary_ips") or []) if a]
        active = str(row.get("active_router") or "")
        views.append(checked_view(VrrpView(
            vrid=need_int(row.get("group"), device, SHOW_STANDBY, "group", 0, 4095),
            interface=str(row.get("interface") or ""),
            state=_HSRP_STATES.get(str(row.get("state")).lower(), "init"),
            # The template captures the current priority only ("Priority 90 (configured 110)").
            effective_priority=opt_int(row.get("priority"), device, SHOW_STANDBY, "priority", 0, 255),
            virtual_addresses=tuple([vip] if vip else []) + tuple(secondaries),
            preempt=str(row.get("preemption", "")).lower() == "enabled" if row.get("preemption") else None,
            master_address=_ip(active),
        ), device, SHOW_STANDBY, vrids=(0, 4095)))
    return views


@parser(SHOW_IP_INTERFACE_BRIEF)
def parse_interfaces_brief(text: str, device: str = "?", platform: str = "cisco_ios") -> dict[str, bool]:
    """``show ip interface brief``: name -> status up and protocol up."""
    return {
        str(r["interface"]): r.get("status") == "up" and r.get("proto") == "up"
        for r in ntc_parse(platform, SHOW_IP_INTERFACE_BRIEF, text, device)
        if r.get("interface")
    }


@parser(SHOW_IP_INTERFACE)
def parse_ip_interfaces(text: str, device: str = "?", platform: str = "cisco_ios") -> dict[str, InterfaceDetails]:
    """``show ip interface`` (filtered or not): name -> {"up": bool, "addresses": [cidr, ...]}."""
    out: dict[str, InterfaceDetails] = {}
    for r in ntc_parse(platform, "show ip interface", text, device):
        if not r.get("interface"):
            continue
        addrs = []
        for ip, plen in zip(r.get("ip_address") or [], r.get("prefix_length") or []):
            length = as_int(plen)
            if _ip(ip) and length is not None and 0 <= length <= 32:
                addrs.append(f"{_ip(ip)}/{length}")
        out[str(r["interface"])] = {
            "up": r.get("link_status") == "up" and r.get("protocol_status") == "up",
            "addresses": addrs,
        }
    return out


@parser(SHOW_INTERFACES_MAC)
def parse_macs(text: str, device: str = "?", platform: str = "cisco_ios") -> dict[str, str | None]:
    """``show interfaces`` (filtered or not): name -> MAC as aa:bb:cc:dd:ee:ff (None when it has none)."""
    out: dict[str, str | None] = {}
    for r in ntc_parse(platform, "show interfaces", text, device):
        if not r.get("interface"):
            continue
        mac = str(r.get("mac_address") or "").replace(".", "").lower()
        out[str(r["interface"])] = ":".join(mac[i:i + 2] for i in range(0, 12, 2)) if len(mac) == 12 else None
    return out


def route_command(prefix: str) -> str:
    net = ipaddress.IPv4Network(prefix)
    return f"show ip route {net.network_address} {net.netmask}"


@parser("show ip route")
def parse_route(text: str, prefix: str, device: str = "?") -> bool:
    """``show ip route A.B.C.D M.M.M.M``: is exactly ``prefix`` in the routing table?"""
    fsm = textfsm.TextFSM(io.StringIO(ROUTE_ENTRY_TEMPLATE))
    try:
        rows = fsm.ParseText(text)
    except textfsm.TextFSMError as exc:
        raise ParseError(device, f"show ip route {prefix}: {exc}") from None
    header = fsm.header
    want = ipaddress.IPv4Network(prefix)
    for row in rows:
        entry = dict(zip(header, row))
        if not entry["PREFIX_LENGTH"]:
            continue
        try:
            net = ipaddress.IPv4Network(f"{entry['NETWORK']}/{entry['PREFIX_LENGTH']}", strict=False)
        except ValueError:
            # Not an answer about the route (absent or present): unknown, never "absent".
            raise ParseError(device, f"show ip route {prefix}: not a prefix: {entry['NETWORK']}/{entry['PREFIX_LENGTH']}"[:160]) from None
        if net == want:
            return True
    return False


class CiscoIosDriver(NapalmPushMixin, NetworkDriver):
    spec = SPEC

    def __init__(self, params):
        super().__init__(params)
        self._macs: dict[str, str | None] | None = None

    @property
    def ntc_platform(self) -> str:
        return NTCTEMPLATES_LIB_MAPPER_REVERSE[self.spec.name]

    def close(self) -> None:
        self._macs = None
        super().close()

    def get_vrrp(self) -> list[VrrpView]:
        p = self.ntc_platform
        vrrp = parse_vrrp(self.run_checked(SHOW_VRRP), self.name, p)
        if any(v.state == "init" for v in vrrp):
            vrrp = mark_shutdown(vrrp, shutdown_vrrp_groups(self.run_checked(SHOW_INTERFACE_CONFIG)))
        return vrrp + parse_hsrp(self.run_checked(SHOW_STANDBY), self.name, p)

    def get_interfaces(self) -> dict[str, bool]:
        return parse_interfaces_brief(self.run_checked(SHOW_IP_INTERFACE_BRIEF), self.name, self.ntc_platform)

    def get_interface_details(self) -> dict[str, InterfaceDetails]:
        ips = parse_ip_interfaces(self.run_checked(SHOW_IP_INTERFACE), self.name, self.ntc_platform)
        if self._macs is None:  # MACs do not change: one read per session
            self._macs = parse_macs(self.run_checked(SHOW_INTERFACES_MAC), self.name, self.ntc_platform)
        return {name: {"mac": self._macs.get(name), "addresses": info["addresses"]} for name, info in ips.items()}

    def get_routes(self, prefixes: Sequence[str]) -> dict[str, bool]:
        return {p: parse_route(self.run_checked(route_command(p)), p, self.name) for p in prefixes}

    def read(self, routes: Sequence[str] = (), probes: Sequence[ReachProbe] = ()) -> DeviceReading:
        """One poll: VRRP, HSRP, one filtered ``show ip interface`` (state and addresses), the routes,
        the IP SLA probes."""
        ips = parse_ip_interfaces(self.run_checked(SHOW_IP_INTERFACE), self.name, self.ntc_platform)
        return DeviceReading(
            vrrp=tuple(self.get_vrrp()),
            interfaces={k: bool(v["up"]) for k, v in ips.items()},
            routes=self.get_routes(routes) if routes else {},
            addresses={k: tuple(v["addresses"]) for k, v in ips.items()},
            reach=self.read_reach(probes),
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
