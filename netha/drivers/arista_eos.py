"""Arista EOS: VRRP and VARP (``ip virtual-router``), read with EOS's ``| json`` outputs.

VARP has no election and no VRID: every router with the virtual address answers for it. Its
instances are reported as views with ``vrid=0``, state ``master`` while the virtual router is
active on the interface (``init`` otherwise), so a VARP group's gateway is visible per device.
Pushes go through NAPALM's ``eos`` driver over SSH (a config session: commit is all-or-nothing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from netutils.lib_mapper import NETMIKO_LIB_MAPPER_REVERSE

from ..errors import ParseError
from ..observe.types import VrrpStateName, VrrpView
from .base import DeviceReading, NetworkDriver, PlatformSpec, load_json
from .napalm_push import NapalmPushMixin, stable_config

SPEC = PlatformSpec(
    name="arista_eos",
    netmiko_device_type=NETMIKO_LIB_MAPPER_REVERSE["arista_eos"],
    prompt_pattern=r"[A-Za-z0-9][\w.:-]*(?:\([\w./-]+\))*[>#]\s?",
    error_patterns=(r"^%\s*(?:Invalid|Incomplete|Ambiguous|Unavailable|Unrecognized|Not supported)",),
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


def parse_vrrp(text: str, device: str = "?") -> list[VrrpView]:
    """``show vrrp all | json``: ``virtualRouters``, one entry per (interface, group)."""
    data = _object(text, device, SHOW_VRRP)
    views = []
    for vr in data.get("virtualRouters", []):
        try:
            if not vr.get("interface"):
                continue
            vips = [vr["virtualIp"]] if vr.get("virtualIp") and vr["virtualIp"] != "0.0.0.0" else []
            vips += [a for a in vr.get("virtualIpSecondary", []) if a]
            raw_state = str(vr.get("state", "")).lower()
            state = _STATES.get(raw_state, "unknown")
            master = vr.get("masterAddr")
            views.append(VrrpView(
                vrid=int(vr["groupId"]),
                interface=str(vr["interface"]),
                state=state,
                priority=int(vr["priority"]) if "priority" in vr else None,
                effective_priority=int(vr["priority"]) if "priority" in vr else None,
                virtual_addresses=tuple(vips),
                advert_interval=float(vr["vrrpAdvertInterval"]) if "vrrpAdvertInterval" in vr else None,
                preempt=bool(vr["preempt"]) if "preempt" in vr else None,
                master_address=master if master and master != "0.0.0.0" else None,
                # "stopped" is what "vrrp N disabled" (netha's resign) leaves.
                shutdown=raw_state == "stopped",
            ))
        except (KeyError, TypeError, ValueError) as exc:
            raise ParseError(device, f"{SHOW_VRRP}: unexpected entry ({exc})") from None
    return views


def parse_varp(text: str, device: str = "?") -> list[VrrpView]:
    """``show ip virtual-router | json``: one view per interface with virtual addresses (``vrid`` 0)."""
    data = _object(text, device, SHOW_VARP)
    views = []
    for vr in data.get("virtualRouters", []):
        try:
            vips = tuple(str(v["ip"]) for v in vr.get("virtualIps", []) if v.get("ip"))
            views.append(VrrpView(
                vrid=VARP_VRID,
                interface=str(vr["interface"]),
                state="master" if str(vr.get("state", "")).lower() == "active" else "init",
                virtual_addresses=vips,
            ))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ParseError(device, f"{SHOW_VARP}: unexpected entry ({exc})") from None
    return views


def _addresses(info: dict) -> list[str]:
    out = []
    for ia in info.get("interfaceAddress", []) or []:
        if not isinstance(ia, dict):
            continue
        primary = ia.get("primaryIp") or {}
        for a in [primary, *(ia.get("secondaryIpsOrderedList") or [])]:
            if a.get("address") and a.get("address") != "0.0.0.0":
                out.append(f"{a['address']}/{a['maskLen']}")
    return out


def parse_interfaces(text: str, device: str = "?") -> dict[str, bool]:
    """``show interfaces | json``: name -> line protocol up."""
    data = _object(text, device, SHOW_INTERFACES)
    return {name: info.get("lineProtocolStatus") == "up" for name, info in data.get("interfaces", {}).items()}


def parse_interface_details(text: str, device: str = "?") -> dict[str, dict[str, object]]:
    """``show interfaces | json``: name -> {"mac", "addresses": primary then secondary CIDRs}."""
    data = _object(text, device, SHOW_INTERFACES)
    try:
        return {
            name: {"mac": info.get("physicalAddress") or None, "addresses": _addresses(info)}
            for name, info in data.get("interfaces", {}).items()
        }
    except (KeyError, TypeError, AttributeError) as exc:
        raise ParseError(device, f"{SHOW_INTERFACES}: unexpected entry ({exc})") from None


def route_command(prefix: str) -> str:
    return f"show ip route {ipaddress.IPv4Network(prefix)} | json"


def parse_route(text: str, prefix: str, device: str = "?") -> bool:
    """``show ip route PREFIX | json``: exactly that prefix in some VRF's ``routes``."""
    data = _object(text, device, "show ip route")
    want = str(ipaddress.IPv4Network(prefix))
    return any(want in (vrf.get("routes") or {}) for vrf in (data.get("vrfs") or {}).values() if isinstance(vrf, dict))


class AristaEosDriver(NapalmPushMixin, NetworkDriver):
    spec = SPEC
    napalm_extra_args = {"transport": "ssh"}  # NAPALM's eos driver defaults to eAPI over HTTPS
    atomic_commit = True

    def get_vrrp(self) -> list[VrrpView]:
        return parse_vrrp(self.run_checked(SHOW_VRRP), self.name) + parse_varp(self.run_checked(SHOW_VARP), self.name)

    def get_interfaces(self) -> dict[str, bool]:
        return parse_interfaces(self.run_checked(SHOW_INTERFACES), self.name)

    def get_interface_details(self) -> dict[str, dict[str, object]]:
        return parse_interface_details(self.run_checked(SHOW_INTERFACES), self.name)

    def get_routes(self, prefixes: Sequence[str]) -> dict[str, bool]:
        return {p: parse_route(self.run_checked(route_command(p)), p, self.name) for p in prefixes}

    def read(self, routes: Sequence[str] = ()) -> DeviceReading:
        """One poll: VRRP, VARP, one ``show interfaces | json`` for state and addresses, the routes."""
        out = self.run_checked(SHOW_INTERFACES)
        details = parse_interface_details(out, self.name)
        return DeviceReading(
            vrrp=tuple(self.get_vrrp()),
            interfaces=parse_interfaces(out, self.name),
            routes=self.get_routes(routes) if routes else {},
            addresses={k: tuple(v["addresses"]) for k, v in details.items()},  # type: ignore[arg-type]
        )

    def get_config(self) -> str:
        return stable_config(self.run_checked("show running-config"))


Driver = AristaEosDriver
