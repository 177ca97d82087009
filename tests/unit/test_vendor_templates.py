"""Vendor templates: every operation rendered for every platform, and a dry-run plan of the campus."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from netha.drivers import supported_protocols
from netha.errors import TemplateError
from netha.health import assess
from netha.inventory import load_inventory
from netha.observe.types import DeviceObservation, ProbeResult, Snapshot, VrrpView
from netha.drivers.changes import OPERATIONS, ChangeValues
from netha.drivers.render import Renderer, builtin_template_dir
from netha.takeover.plan import Planner

ROOT = Path(__file__).resolve().parents[2]
VENDORS = ("cisco_ios", "cisco_xe", "arista_eos", "juniper_junos", "cisco_nxos")
VIP = ipaddress.IPv4Interface("198.19.10.1/24")
JUNOS_GROUP = "interfaces ge-0/0/1 unit 0 family inet address __local_address__ vrrp-group 10"


def render(platform: str, op: str, **kw) -> list[str]:
    iface = "ge-0/0/1.0" if platform == "juniper_junos" else "Vlan10"
    values = dict(interface=iface, vrid=10, priority=120, address=VIP)
    values.update(kw)
    return Renderer(platform).render(op, ChangeValues(**values))


# A VRRP group (inventory default: version 3, preempt on), each operation on each platform.
EXPECTED: dict[tuple[str, str], list[str]] = {
    ("cisco_ios", "set_priority"): ["interface Vlan10", " vrrp 10 priority 120"],
    ("cisco_ios", "resign"): ["interface Vlan10", " vrrp 10 shutdown"],
    ("cisco_ios", "restore"): ["interface Vlan10", " vrrp 10 priority 120", " no vrrp 10 shutdown"],
    ("cisco_ios", "add_address"): ["interface Vlan10", " vrrp 10 ip 198.19.10.1 secondary"],
    ("cisco_ios", "remove_address"): ["interface Vlan10", " no vrrp 10 ip 198.19.10.1 secondary"],
    ("cisco_ios", "preempt"): ["interface Vlan10", " vrrp 10 preempt"],
    ("cisco_xe", "set_priority"): ["interface Vlan10", " vrrp 10 address-family ipv4", "  priority 120"],
    ("cisco_xe", "resign"): ["interface Vlan10", " vrrp 10 address-family ipv4", "  shutdown"],
    ("cisco_xe", "restore"): ["interface Vlan10", " vrrp 10 address-family ipv4", "  priority 120", "  no shutdown"],
    ("cisco_xe", "add_address"): ["interface Vlan10", " vrrp 10 address-family ipv4", "  address 198.19.10.1"],
    ("cisco_xe", "remove_address"): ["interface Vlan10", " vrrp 10 address-family ipv4", "  no address 198.19.10.1"],
    ("cisco_xe", "preempt"): ["interface Vlan10", " vrrp 10 address-family ipv4", "  preempt"],
    ("arista_eos", "set_priority"): ["interface Vlan10", "   vrrp 10 priority-level 120"],
    ("arista_eos", "resign"): ["interface Vlan10", "   vrrp 10 disabled"],
    ("arista_eos", "restore"): ["interface Vlan10", "   vrrp 10 priority-level 120", "   no vrrp 10 disabled"],
    ("arista_eos", "add_address"): ["interface Vlan10", "   vrrp 10 ipv4 198.19.10.1 secondary"],
    ("arista_eos", "remove_address"): ["interface Vlan10", "   no vrrp 10 ipv4 198.19.10.1 secondary"],
    ("arista_eos", "preempt"): ["interface Vlan10", "   vrrp 10 preempt"],
    ("juniper_junos", "set_priority"): [f"set {JUNOS_GROUP} priority 120"],
    ("juniper_junos", "resign"): [f"set {JUNOS_GROUP} priority 1"],
    ("juniper_junos", "restore"): [f"set {JUNOS_GROUP} priority 120"],
    ("juniper_junos", "add_address"): [f"set {JUNOS_GROUP} virtual-address 198.19.10.1"],
    ("juniper_junos", "remove_address"): [f"delete {JUNOS_GROUP} virtual-address 198.19.10.1"],
    ("juniper_junos", "preempt"): [f"set {JUNOS_GROUP} preempt"],
    ("cisco_nxos", "set_priority"): ["interface Vlan10", "  vrrpv3 10 address-family ipv4", "    priority 120"],
    ("cisco_nxos", "resign"): ["interface Vlan10", "  vrrpv3 10 address-family ipv4", "    shutdown"],
    ("cisco_nxos", "restore"): ["interface Vlan10", "  vrrpv3 10 address-family ipv4", "    priority 120", "    no shutdown"],
    ("cisco_nxos", "add_address"): ["interface Vlan10", "  vrrpv3 10 address-family ipv4", "    address 198.19.10.1"],
    ("cisco_nxos", "remove_address"): ["interface Vlan10", "  vrrpv3 10 address-family ipv4", "    no address 198.19.10.1"],
    ("cisco_nxos", "preempt"): ["interface Vlan10", "  vrrpv3 10 address-family ipv4", "    preempt"],
}


@pytest.mark.parametrize("platform", VENDORS)
@pytest.mark.parametrize("op", OPERATIONS)
def test_each_operation_renders_the_platform_syntax(platform, op):
    assert render(platform, op) == EXPECTED[(platform, op)]


@pytest.mark.parametrize("platform", VENDORS)
def test_every_platform_has_exactly_the_frr_template_set_and_its_native_prober(platform):
    names = {p.name for p in (builtin_template_dir() / platform).glob("*.j2")}
    frr = {p.name for p in (builtin_template_dir() / "frr").glob("*.j2")}
    # The vendor platforms probe paths natively (reach.j2); FRR streams its probes from a shell.
    assert names == frr | {"reach.j2"} and frr == {f"{op}.j2" for op in OPERATIONS}


# Version 2 groups, HSRP groups, preempt off.
VARIANTS = [
    ("cisco_xe", "set_priority", dict(version=2), ["interface Vlan10", " vrrp 10 priority 120"]),
    ("cisco_xe", "restore", dict(version=2), ["interface Vlan10", " vrrp 10 priority 120", " no vrrp 10 shutdown"]),
    ("cisco_nxos", "set_priority", dict(version=2), ["interface Vlan10", "  vrrp 10", "    priority 120"]),
    ("cisco_nxos", "resign", dict(version=2), ["interface Vlan10", "  vrrp 10", "    shutdown"]),
    ("cisco_nxos", "add_address", dict(version=2), ["interface Vlan10", "  vrrp 10", "    address 198.19.10.1 secondary"]),
    ("cisco_ios", "preempt", dict(enabled=False), ["interface Vlan10", " no vrrp 10 preempt"]),
    ("cisco_xe", "preempt", dict(enabled=False), ["interface Vlan10", " vrrp 10 address-family ipv4", "  no preempt"]),
    ("arista_eos", "preempt", dict(enabled=False), ["interface Vlan10", "   no vrrp 10 preempt"]),
    ("juniper_junos", "preempt", dict(enabled=False), [f"set {JUNOS_GROUP} no-preempt"]),
    ("cisco_nxos", "preempt", dict(enabled=False), ["interface Vlan10", "  vrrpv3 10 address-family ipv4", "    no preempt"]),
    # HSRP: no per-group shutdown on IOS, so a resign is the lowest priority.
    ("cisco_ios", "set_priority", dict(protocol="hsrp"), ["interface Vlan10", " standby 10 priority 120"]),
    ("cisco_ios", "resign", dict(protocol="hsrp"), ["interface Vlan10", " standby 10 priority 1"]),
    ("cisco_ios", "restore", dict(protocol="hsrp"), ["interface Vlan10", " standby 10 priority 120"]),
    ("cisco_ios", "preempt", dict(protocol="hsrp"), ["interface Vlan10", " standby 10 preempt"]),
    ("cisco_ios", "add_address", dict(protocol="hsrp"), ["interface Vlan10", " standby 10 ip 198.19.10.1 secondary"]),
    ("cisco_xe", "resign", dict(protocol="hsrp"), ["interface Vlan10", " standby 10 priority 1"]),
    ("cisco_xe", "remove_address", dict(protocol="hsrp"), ["interface Vlan10", " no standby 10 ip 198.19.10.1 secondary"]),
    ("cisco_nxos", "set_priority", dict(protocol="hsrp"), ["interface Vlan10", "  hsrp 10", "    priority 120"]),
    ("cisco_nxos", "resign", dict(protocol="hsrp"), ["interface Vlan10", "  hsrp 10", "    priority 1"]),
    ("cisco_nxos", "restore", dict(protocol="hsrp"), ["interface Vlan10", "  hsrp 10", "    priority 120"]),
    ("cisco_nxos", "preempt", dict(protocol="hsrp", enabled=False), ["interface Vlan10", "  hsrp 10", "    no preempt"]),
    ("cisco_nxos", "add_address", dict(protocol="hsrp"), ["interface Vlan10", "  hsrp 10", "    ip 198.19.10.1 secondary"]),
    ("cisco_nxos", "remove_address", dict(protocol="hsrp"), ["interface Vlan10", "  hsrp 10", "    no ip 198.19.10.1 secondary"]),
    # VARP: the virtual-router address is the gateway; every switch that has it answers.
    ("arista_eos", "add_address", dict(protocol="varp"), ["interface Vlan10", "   ip virtual-router address 198.19.10.1"]),
    ("arista_eos", "remove_address", dict(protocol="varp"), ["interface Vlan10", "   no ip virtual-router address 198.19.10.1"]),
    # Junos logical interfaces other than unit 0, and a name without a unit.
    ("juniper_junos", "set_priority", dict(interface="ae0.120"),
     ["set interfaces ae0 unit 120 family inet address __local_address__ vrrp-group 10 priority 120"]),
    ("juniper_junos", "set_priority", dict(interface="irb"),
     ["set interfaces irb unit 0 family inet address __local_address__ vrrp-group 10 priority 120"]),
]


@pytest.mark.parametrize("platform,op,values,expected", VARIANTS,
                         ids=[f"{p}-{o}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for p, o, kw, _ in VARIANTS])
def test_protocol_and_version_variants(platform, op, values, expected):
    assert render(platform, op, **values) == expected


STATIC = {
    "cisco_ios": (["interface Vlan10", " ip address 198.19.10.1 255.255.255.0 secondary"],
                  ["interface Vlan10", " no ip address 198.19.10.1 255.255.255.0 secondary"]),
    "cisco_xe": (["interface Vlan10", " ip address 198.19.10.1 255.255.255.0 secondary"],
                 ["interface Vlan10", " no ip address 198.19.10.1 255.255.255.0 secondary"]),
    "arista_eos": (["interface Vlan10", "   ip address 198.19.10.1/24 secondary"],
                   ["interface Vlan10", "   no ip address 198.19.10.1/24 secondary"]),
    "juniper_junos": (["set interfaces ge-0/0/1 unit 0 family inet address 198.19.10.1/24"],
                      ["delete interfaces ge-0/0/1 unit 0 family inet address 198.19.10.1/24"]),
    "cisco_nxos": (["interface Vlan10", "  ip address 198.19.10.1/24 secondary"],
                   ["interface Vlan10", "  no ip address 198.19.10.1/24 secondary"]),
}


@pytest.mark.parametrize("platform", VENDORS)
def test_static_mode_moves_a_secondary_interface_address(platform):
    add, remove = STATIC[platform]
    assert render(platform, "add_address", mode="static", vrid=None) == add
    assert render(platform, "remove_address", mode="static", vrid=None) == remove


UNSUPPORTED = [
    ("cisco_ios", "varp", "set_priority"), ("cisco_xe", "varp", "resign"), ("cisco_nxos", "varp", "add_address"),
    ("arista_eos", "hsrp", "set_priority"), ("arista_eos", "hsrp", "add_address"),
    ("juniper_junos", "hsrp", "resign"), ("juniper_junos", "varp", "add_address"),
    # VARP has no election: a VARP gateway moves with add_address/remove_address only.
    ("arista_eos", "varp", "set_priority"), ("arista_eos", "varp", "resign"),
    ("arista_eos", "varp", "restore"), ("arista_eos", "varp", "preempt"),
]


@pytest.mark.parametrize("platform,protocol,op", UNSUPPORTED)
def test_a_protocol_the_platform_lacks_is_a_template_error(platform, protocol, op):
    with pytest.raises(TemplateError, match=f"platform {platform}: template {op}.j2: '.*(not_supported|varp_has_no|only_vrrp)"):
        render(platform, op, protocol=protocol)


# VARP has no election: these operations refuse it, naming what to do instead.
VARP_REFUSALS = {
    "set_priority": "varp_has_no_priority_use_add_or_remove_address",
    "resign": "varp_has_no_election_use_remove_address",
    "restore": "varp_has_no_election_use_add_address",
    "preempt": "varp_has_no_preemption",
}


def _refusal(platform: str, protocol: str, op: str) -> str | None:
    """The undefined variable a template must refuse (platform, protocol, op) with; None: it must render."""
    if protocol not in supported_protocols()[platform]:
        return "only_vrrp_is_supported_on_juniper_junos" if platform == "juniper_junos" else f"{protocol}_is_not_supported_on_{platform}"
    return VARP_REFUSALS.get(op) if protocol == "varp" else None


@pytest.mark.parametrize("platform", VENDORS)
@pytest.mark.parametrize("op", OPERATIONS)
def test_rendered_lines_are_safe_and_only_a_lacking_protocol_refuses(platform, op):
    # Every combination either renders safe lines or is refused with exactly the platform's own
    # "lacks this protocol" variable; a protocol the driver supports always renders (in vrrp mode, a
    # protocol it lacks is always refused; static mode moves a plain address and may ignore it).
    rendered = refused = 0
    for protocol in ("vrrp", "hsrp", "varp"):
        for version in (2, 3):
            for mode in ("vrrp", "static"):
                case = f"{platform} {op} protocol={protocol} version={version} mode={mode}"
                expected = _refusal(platform, protocol, op)
                try:
                    lines = render(platform, op, protocol=protocol, version=version, mode=mode, vrid=255, priority=254,
                                   address=ipaddress.IPv4Interface("10.255.255.254/31"))
                except TemplateError as exc:
                    assert expected is not None, f"{case}: refused although supported: {exc}"
                    assert f"platform {platform}: template {op}.j2: '{expected}' is undefined (" in str(exc), f"{case}: {exc}"
                    refused += 1
                    continue
                assert expected is None or mode == "static", f"{case}: rendered {lines} instead of refusing {expected}"
                assert lines and all(re.fullmatch(r"[ A-Za-z0-9_./:-]+", ln) for ln in lines), f"{case}: {lines}"
                rendered += 1
    assert rendered + refused == 12 and rendered >= 4


# -- dry-run plans for the example campus ------------------------------------------------------------

OK = ProbeResult(True, 0.0)


@pytest.fixture(scope="module")
def campus():
    inv = load_inventory(ROOT / "inventories/example-campus.yml", check_secrets=False)
    views: dict[str, list[VrrpView]] = {d: [] for d in inv.devices}
    ifaces: dict[str, dict[str, bool]] = {d: {} for d in inv.devices}
    routes: dict[str, dict[str, bool]] = {d: {} for d in inv.devices}
    for group in inv.groups.values():
        for m in group.members:
            iface = group.interface_of(m.device)
            state = "master" if m.device == group.primary else "backup"
            views[m.device].append(VrrpView(group.vrid, iface, state, m.priority, m.priority))
            ifaces[m.device][iface] = True
            for t in group.tracks_for(m.device):
                if t.interface:
                    ifaces[m.device][t.interface] = True
                else:
                    routes[m.device][str(t.route)] = True
    snap = Snapshot(0.0, 0.0, {
        d: DeviceObservation(d, ssh=OK, snmp=OK, vrrp=tuple(views[d]), interfaces=ifaces[d], routes=routes[d])
        for d in inv.devices
    })
    return inv, assess(inv, snap)


XE = lambda iface, vrid, line: ("interface " + iface, f" vrrp {vrid} address-family ipv4", "  " + line)  # noqa: E731
EOS = lambda vrid, line: ("interface Vlan100", f"   vrrp {vrid} {line}")  # noqa: E731
JUNOS = lambda addr, line: (f"set interfaces ge-0/0/1 unit 0 family inet address {addr} vrrp-group 50 {line}",)  # noqa: E731
FRR = lambda line: ("interface eth1", f" vrrp 30 {line}", "exit")  # noqa: E731

PLANNED = {
    "users-vlan10": [("dist2-bldg-a", XE("Vlan10", 10, "priority 254")), ("dist1-bldg-a", XE("Vlan10", 10, "priority 1"))],
    "voice-vlan20": [("dist2-bldg-a", XE("Vlan20", 20, "priority 254")), ("dist1-bldg-a", XE("Vlan20", 20, "priority 1"))],
    "servers-vlan100": [("leaf2-dc", EOS(100, "priority-level 254")), ("leaf1-dc", EOS(100, "priority-level 1"))],
    "internet-edge": [("edge2", JUNOS("198.19.50.3/24", "priority 254")), ("edge1", JUNOS("198.19.50.2/24", "priority 1"))],
    "lab-vlan": [("lab-gw2", FRR("priority 254")), ("lab-gw1", FRR("priority 1"))],
}
EMERGENCY = {
    "users-vlan10": [("dist1-bldg-a", XE("Vlan10", 10, "shutdown")), ("dist2-bldg-a", XE("Vlan10", 10, "priority 254"))],
    "voice-vlan20": [("dist1-bldg-a", XE("Vlan20", 20, "shutdown")), ("dist2-bldg-a", XE("Vlan20", 20, "priority 254"))],
    "servers-vlan100": [("leaf1-dc", EOS(100, "disabled")), ("leaf2-dc", EOS(100, "priority-level 254"))],
    "internet-edge": [("edge1", JUNOS("198.19.50.2/24", "priority 1")), ("edge2", JUNOS("198.19.50.3/24", "priority 254"))],
    "lab-vlan": [("lab-gw1", FRR("shutdown")), ("lab-gw2", FRR("priority 254"))],
}


def test_the_campus_groups_are_all_covered(campus):
    inv, a = campus
    assert set(PLANNED) == set(EMERGENCY) == set(inv.groups)
    assert all(a.groups[g].master == inv.groups[g].primary for g in inv.groups)


@pytest.mark.parametrize("group", sorted(PLANNED))
def test_dry_run_planned_failover_of_every_campus_group(campus, group):
    inv, a = campus
    backup = next(m.device for m in inv.groups[group].members if m.device != inv.groups[group].primary)
    plan = Planner(inv).failover(group, backup, a)
    assert plan.kind == "planned"
    assert [(s.device, s.lines) for s in plan.steps] == PLANNED[group]


@pytest.mark.parametrize("group", sorted(EMERGENCY))
def test_dry_run_emergency_failover_of_every_campus_group(campus, group):
    inv, a = campus
    backup = next(m.device for m in inv.groups[group].members if m.device != inv.groups[group].primary)
    plan = Planner(inv).failover(group, backup, a, "emergency")
    assert [(s.device, s.lines) for s in plan.steps] == EMERGENCY[group]
