"""FRRouting (vrrpd) over SSH into vtysh, with FRR's JSON outputs."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ParseError
from ..observe.types import VrrpStateName, VrrpView
from .base import DeviceReading, NetworkDriver, PlatformSpec, load_json
from .textconfig import config_body, replace_commands

SPEC = PlatformSpec(
    name="frr",
    # vtysh logins are in enable mode already; netmiko's cisco_ios class handles the rest.
    netmiko_device_type="cisco_ios",
    prompt_pattern=r"[A-Za-z0-9][\w.-]*(?:\([\w-]+\))?#\s?",
    error_patterns=(r"^%\s", r"^\s*\^\s*$", r"is not running$"),
)

_STATES: dict[str, VrrpStateName] = {"Master": "master", "Backup": "backup", "Initialize": "init"}


def parse_vrrp(text: str, device: str = "?") -> list[VrrpView]:
    """``show vrrp json``: one entry per (VRID, interface), IPv4 family."""
    data = load_json(text, device, "show vrrp json")
    if not isinstance(data, list):
        raise ParseError(device, "show vrrp json: expected a list")
    views = []
    for entry in data:
        try:
            v4 = entry["v4"]
            stats = v4.get("stats", {})
            state = _STATES.get(v4["status"], "unknown")
            if entry.get("shutdown"):
                state = "init"
            views.append(
                VrrpView(
                    vrid=int(entry["vrid"]),
                    interface=str(entry["interface"]),
                    state=state,
                    # FRR shows only the effective priority; it differs from the configured one
                    # only for an address owner (255).
                    priority=int(v4["effectivePriority"]),
                    effective_priority=int(v4["effectivePriority"]),
                    virtual_addresses=tuple(v4.get("addresses", [])),
                    adverts_rx=int(stats["adverRx"]) if "adverRx" in stats else None,
                    adverts_tx=int(stats["adverTx"]) if "adverTx" in stats else None,
                    transitions=int(stats["transitions"]) if "transitions" in stats else None,
                    advert_interval=int(entry["advertisementInterval"]) / 1000.0,
                    preempt=bool(entry.get("preemptMode", True)),
                    master_address=v4.get("primaryAddress") if state == "master" else None,
                    shutdown=bool(entry.get("shutdown", False)),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ParseError(device, f"show vrrp json: unexpected entry ({exc})") from None
    return views


def parse_interfaces(text: str, device: str = "?") -> dict[str, bool]:
    """``show interface json``: name -> operationally up (admin down counts as down)."""
    data = load_json(text, device, "show interface json")
    if not isinstance(data, dict):
        raise ParseError(device, "show interface json: expected an object")
    return {
        name: info.get("administrativeStatus") == "up" and info.get("operationalStatus") == "up"
        for name, info in data.items()
        if isinstance(info, dict)
    }


def parse_interface_details(text: str, device: str = "?") -> dict[str, dict[str, object]]:
    """``show interface json``: name -> {"mac": str|None, "addresses": [cidr, ...]}."""
    data = load_json(text, device, "show interface json")
    if not isinstance(data, dict):
        raise ParseError(device, "show interface json: expected an object")
    return {
        name: {
            "mac": info.get("hardwareAddress"),
            "addresses": [a["address"] for a in info.get("ipAddresses", []) if "address" in a],
        }
        for name, info in data.items()
        if isinstance(info, dict)
    }


def parse_route(text: str, prefix: str, device: str = "?") -> bool:
    """``show ip route PREFIX json``: present when an entry for exactly that prefix is selected."""
    data = load_json(text, device, "show ip route json")
    if not isinstance(data, dict):
        raise ParseError(device, "show ip route json: expected an object")
    return any(e.get("selected") or e.get("installed") for e in data.get(prefix, []))


class FrrDriver(NetworkDriver):
    spec = SPEC

    def get_vrrp(self) -> list[VrrpView]:
        return parse_vrrp(self.run_checked("show vrrp json"), self.name)

    def get_interfaces(self) -> dict[str, bool]:
        return parse_interfaces(self.run_checked("show interface json"), self.name)

    def get_interface_details(self) -> dict[str, dict[str, object]]:
        return parse_interface_details(self.run_checked("show interface json"), self.name)

    def get_routes(self, prefixes: Sequence[str]) -> dict[str, bool]:
        return {p: parse_route(self.run_checked(f"show ip route {p} json"), p, self.name) for p in prefixes}

    def read(self, routes: Sequence[str] = ()) -> DeviceReading:
        """One poll in 2 + len(routes) commands: ``show interface json`` serves state and addresses."""
        vrrp = self.get_vrrp()
        ifout = self.run_checked("show interface json")
        details = parse_interface_details(ifout, self.name)
        return DeviceReading(
            vrrp=tuple(vrrp),
            interfaces=parse_interfaces(ifout, self.name),
            routes=self.get_routes(routes) if routes else {},
            addresses={k: tuple(v["addresses"]) for k, v in details.items()},  # type: ignore[arg-type]
        )

    def get_config(self) -> str:
        return config_body(self.run_checked("show running-config"))

    def replace_config(self, config: str) -> None:
        commands = replace_commands(self.get_config(), config_body(config))
        if commands:
            self.load_config(commands)


Driver = FrrDriver
