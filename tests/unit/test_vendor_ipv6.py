"""IPv6 groups on the vendor platforms: every operation renders the platform's IPv6 form (VRRPv3 address
family ipv6, HSRP version 2 IPv6, Junos vrrp-inet6-group, static IPv6 gateways), a platform refuses
what it cannot do for IPv6, and Junos finds the inet6 address that carries a group."""

from __future__ import annotations

import ipaddress
import re

import pytest

from netha.drivers import driver_class, juniper_junos
from netha.drivers.changes import OPERATIONS, ChangeValues
from netha.drivers.render import Renderer
from netha.errors import CommandRejected, TemplateError

VENDORS = ("cisco_ios", "cisco_xe", "arista_eos", "juniper_junos", "cisco_nxos")
GLOBAL = ipaddress.IPv6Interface("2001:2:0:1::1/64")
LINK_LOCAL = ipaddress.IPv6Interface("fe80::200:5eff:fe00:20a/64")  # VRID 10's, derived from its virtual MAC
J6 = "interfaces ge-0/0/1 unit 0 family inet6 address __local_address__ vrrp-inet6-group 10"


def render(platform: str, op: str, **kw) -> list[str]:
    iface = "ge-0/0/1.0" if platform == "juniper_junos" else "Vlan10"
    values = dict(interface=iface, vrid=10, priority=120, address=GLOBAL, family=6)
    values.update(kw)
    return Renderer(platform).render(op, ChangeValues(**values))


# An IPv6 VRRP group (version 3), each operation on each platform that has IPv6 VRRP.
VRRP6: dict[tuple[str, str], list[str]] = {
    ("cisco_xe", "set_priority"): ["interface Vlan10", " vrrp 10 address-family ipv6", "  priority 120"],
    ("cisco_xe", "resign"): ["interface Vlan10", " vrrp 10 address-family ipv6", "  shutdown"],
    ("cisco_xe", "restore"): ["interface Vlan10", " vrrp 10 address-family ipv6", "  priority 120", "  no shutdown"],
    ("cisco_xe", "preempt"): ["interface Vlan10", " vrrp 10 address-family ipv6", "  preempt"],
    ("cisco_xe", "add_address"): ["interface Vlan10", " vrrp 10 address-family ipv6", "  address 2001:2:0:1::1/64"],
    ("cisco_xe", "remove_address"): ["interface Vlan10", " vrrp 10 address-family ipv6", "  no address 2001:2:0:1::1/64"],
    ("cisco_nxos", "set_priority"): ["interface Vlan10", "  vrrpv3 10 address-family ipv6", "    priority 120"],
    ("cisco_nxos", "resign"): ["interface Vlan10", "  vrrpv3 10 address-family ipv6", "    shutdown"],
    ("cisco_nxos", "restore"): ["interface Vlan10", "  vrrpv3 10 address-family ipv6", "    priority 120", "    no shutdown"],
    ("cisco_nxos", "preempt"): ["interface Vlan10", "  vrrpv3 10 address-family ipv6", "    preempt"],
    ("cisco_nxos", "add_address"): ["interface Vlan10", "  vrrpv3 10 address-family ipv6", "    address 2001:2:0:1::1"],
    ("cisco_nxos", "remove_address"): ["interface Vlan10", "  vrrpv3 10 address-family ipv6", "    no address 2001:2:0:1::1"],
    ("arista_eos", "set_priority"): ["interface Vlan10", "   vrrp 10 priority-level 120"],
    ("arista_eos", "resign"): ["interface Vlan10", "   vrrp 10 disabled"],
    ("arista_eos", "restore"): ["interface Vlan10", "   vrrp 10 priority-level 120", "   no vrrp 10 disabled"],
    ("arista_eos", "preempt"): ["interface Vlan10", "   vrrp 10 preempt"],
    ("arista_eos", "add_address"): ["interface Vlan10", "   vrrp 10 ipv6 2001:2:0:1::1"],
    ("arista_eos", "remove_address"): ["interface Vlan10", "   no vrrp 10 ipv6 2001:2:0:1::1"],
    ("juniper_junos", "set_priority"): [f"set {J6} priority 120"],
    ("juniper_junos", "resign"): [f"set {J6} priority 1"],
    ("juniper_junos", "restore"): [f"set {J6} priority 120"],
    ("juniper_junos", "preempt"): [f"set {J6} preempt"],
    ("juniper_junos", "add_address"): [f"set {J6} virtual-inet6-address 2001:2:0:1::1"],
    ("juniper_junos", "remove_address"): [f"delete {J6} virtual-inet6-address 2001:2:0:1::1"],
}


@pytest.mark.parametrize("platform,op", sorted(VRRP6), ids=[f"{p}-{o}" for p, o in sorted(VRRP6)])
def test_each_ipv6_vrrp_operation_renders_the_platform_ipv6_form(platform, op):
    assert render(platform, op) == VRRP6[(platform, op)]


# The link-local virtual address: the group's "primary" one on Cisco (RFC 5798: an IPv6 group's first
# address), virtual-link-local-address on Junos (one value: deleted without it).
LINK_LOCAL_VRRP = [
    ("cisco_xe", "add_address", ["interface Vlan10", " vrrp 10 address-family ipv6", "  address fe80::200:5eff:fe00:20a primary"]),
    ("cisco_xe", "remove_address", ["interface Vlan10", " vrrp 10 address-family ipv6", "  no address fe80::200:5eff:fe00:20a primary"]),
    ("cisco_nxos", "add_address", ["interface Vlan10", "  vrrpv3 10 address-family ipv6", "    address fe80::200:5eff:fe00:20a primary"]),
    ("cisco_nxos", "remove_address", ["interface Vlan10", "  vrrpv3 10 address-family ipv6", "    no address fe80::200:5eff:fe00:20a primary"]),
    ("arista_eos", "add_address", ["interface Vlan10", "   vrrp 10 ipv6 fe80::200:5eff:fe00:20a"]),
    ("juniper_junos", "add_address", [f"set {J6} virtual-link-local-address fe80::200:5eff:fe00:20a"]),
    ("juniper_junos", "remove_address", [f"delete {J6} virtual-link-local-address"]),
]


@pytest.mark.parametrize("platform,op,expected", LINK_LOCAL_VRRP, ids=[f"{p}-{o}" for p, o, _ in LINK_LOCAL_VRRP])
def test_the_link_local_virtual_address_is_the_groups_primary(platform, op, expected):
    assert render(platform, op, address=LINK_LOCAL) == expected


# HSRP version 2 for IPv6 on IOS, IOS-XE and NX-OS.
HSRP6 = [
    ("cisco_ios", "set_priority", {}, ["interface Vlan10", " standby 10 priority 120"]),
    ("cisco_ios", "resign", {}, ["interface Vlan10", " standby 10 priority 1"]),
    ("cisco_ios", "restore", {}, ["interface Vlan10", " standby 10 priority 120"]),
    ("cisco_ios", "preempt", {}, ["interface Vlan10", " standby 10 preempt"]),
    ("cisco_ios", "add_address", {}, ["interface Vlan10", " standby version 2", " standby 10 ipv6 2001:2:0:1::1/64"]),
    ("cisco_ios", "remove_address", {}, ["interface Vlan10", " no standby 10 ipv6 2001:2:0:1::1/64"]),
    ("cisco_ios", "add_address", dict(address=LINK_LOCAL),
     ["interface Vlan10", " standby version 2", " standby 10 ipv6 fe80::200:5eff:fe00:20a"]),
    ("cisco_xe", "set_priority", {}, ["interface Vlan10", " standby 10 priority 120"]),
    ("cisco_xe", "preempt", dict(enabled=False), ["interface Vlan10", " no standby 10 preempt"]),
    ("cisco_xe", "add_address", {}, ["interface Vlan10", " standby version 2", " standby 10 ipv6 2001:2:0:1::1/64"]),
    ("cisco_xe", "remove_address", dict(address=LINK_LOCAL), ["interface Vlan10", " no standby 10 ipv6 fe80::200:5eff:fe00:20a"]),
    ("cisco_nxos", "set_priority", {}, ["interface Vlan10", "  hsrp 10 ipv6", "    priority 120"]),
    ("cisco_nxos", "resign", {}, ["interface Vlan10", "  hsrp 10 ipv6", "    priority 1"]),
    ("cisco_nxos", "restore", {}, ["interface Vlan10", "  hsrp 10 ipv6", "    priority 120"]),
    ("cisco_nxos", "preempt", dict(enabled=False), ["interface Vlan10", "  hsrp 10 ipv6", "    no preempt"]),
    ("cisco_nxos", "add_address", {}, ["interface Vlan10", "  hsrp version 2", "  hsrp 10 ipv6", "    ip 2001:2:0:1::1 secondary"]),
    ("cisco_nxos", "remove_address", {}, ["interface Vlan10", "  hsrp 10 ipv6", "    no ip 2001:2:0:1::1 secondary"]),
    ("cisco_nxos", "add_address", dict(address=LINK_LOCAL),
     ["interface Vlan10", "  hsrp version 2", "  hsrp 10 ipv6", "    ip fe80::200:5eff:fe00:20a"]),
]


@pytest.mark.parametrize("platform,op,values,expected", HSRP6,
                         ids=[f"{p}-{o}-{'-'.join(map(str, kw.values())) or 'global'}" for p, o, kw, _ in HSRP6])
def test_ipv6_hsrp_is_hsrp_version_2(platform, op, values, expected):
    assert render(platform, op, protocol="hsrp", **values) == expected


# Static IPv6 gateways: one more interface address (IOS and EOS have no IPv6 "secondary"; NX-OS takes it for
# every address after the first, as its IPv4 form), or the interface's link-local one.
STATIC6 = {
    "cisco_ios": ([" ipv6 address 2001:2:0:1::1/64"], [" no ipv6 address 2001:2:0:1::1/64"],
                  [" ipv6 address fe80::200:5eff:fe00:20a link-local"]),
    "cisco_xe": ([" ipv6 address 2001:2:0:1::1/64"], [" no ipv6 address 2001:2:0:1::1/64"],
                 [" ipv6 address fe80::200:5eff:fe00:20a link-local"]),
    "cisco_nxos": (["  ipv6 address 2001:2:0:1::1/64 secondary"], ["  no ipv6 address 2001:2:0:1::1/64 secondary"],
                   ["  ipv6 link-local fe80::200:5eff:fe00:20a"]),
    "arista_eos": (["   ipv6 address 2001:2:0:1::1/64"], ["   no ipv6 address 2001:2:0:1::1/64"],
                   ["   ipv6 address fe80::200:5eff:fe00:20a link-local"]),
}


@pytest.mark.parametrize("platform", VENDORS)
def test_a_static_ipv6_gateway_is_an_interface_address(platform):
    if platform == "juniper_junos":
        base = "interfaces ge-0/0/1 unit 0 family inet6 address"
        assert render(platform, "add_address", mode="static", vrid=None) == [f"set {base} 2001:2:0:1::1/64"]
        assert render(platform, "remove_address", mode="static", vrid=None) == [f"delete {base} 2001:2:0:1::1/64"]
        assert render(platform, "add_address", mode="static", vrid=None, address=LINK_LOCAL) == \
            [f"set {base} fe80::200:5eff:fe00:20a/64"]
        return
    add, remove, link_local = STATIC6[platform]
    assert render(platform, "add_address", mode="static", vrid=None) == ["interface Vlan10", *add]
    assert render(platform, "remove_address", mode="static", vrid=None) == ["interface Vlan10", *remove]
    assert render(platform, "add_address", mode="static", vrid=None, address=LINK_LOCAL) == ["interface Vlan10", *link_local]


def test_junos_uses_the_members_own_inet6_address_when_the_inventory_gives_it():
    own = ipaddress.IPv6Interface("2001:2:0:1::2/64")
    assert render("juniper_junos", "set_priority", local_address=own) == [
        "set interfaces ge-0/0/1 unit 0 family inet6 address 2001:2:0:1::2/64 vrrp-inet6-group 10 priority 120"]


# What each platform can change for IPv6 (its spec's ``ipv6``); anything else is refused before a template.
IPV6_SUPPORT = {
    "cisco_ios": {"hsrp", "static"},
    "cisco_xe": {"vrrp", "hsrp", "static"},
    "cisco_nxos": {"vrrp", "hsrp", "static"},
    "arista_eos": {"vrrp", "static"},
    "juniper_junos": {"vrrp", "static"},
}


@pytest.mark.parametrize("platform", VENDORS)
def test_check_change_refuses_what_the_platform_cannot_do_for_ipv6(platform):
    drv = driver_class(platform)
    assert drv.spec.ipv6 == IPV6_SUPPORT[platform]
    iface = "ge-0/0/1.0" if platform == "juniper_junos" else "Vlan10"
    for needs in ("vrrp", "hsrp", "varp", "static"):
        if needs not in drv.spec.protocols:
            continue
        mode, protocol = ("static", "vrrp") if needs == "static" else ("vrrp", needs)
        v6 = ChangeValues(interface=iface, vrid=10, priority=120, address=GLOBAL, family=6, mode=mode, protocol=protocol)
        v4 = ChangeValues(interface=iface, vrid=10, priority=120, address=ipaddress.IPv4Interface("198.19.10.1/24"),
                          mode=mode, protocol=protocol)
        assert drv.check_change("add_address", v4) == "add_address"  # IPv4 as before
        if needs in IPV6_SUPPORT[platform]:
            lines = drv.render_change("add_address", v6)
            assert lines and all(re.fullmatch(r"[ A-Za-z0-9_./:-]+", ln) for ln in lines)
        else:
            with pytest.raises(TemplateError, match=f"^platform {platform} cannot change IPv6 {needs.upper()} "
                                                    r"\(for IPv6 it supports "):
                drv.render_change("set_priority", v6)


@pytest.mark.parametrize("platform", VENDORS)
@pytest.mark.parametrize("op", OPERATIONS)
def test_every_supported_ipv6_change_renders_safe_lines(platform, op):
    # Every (protocol, address kind) the platform supports for IPv6 renders; none leaks an IPv4 form.
    rendered = 0
    for needs in sorted(IPV6_SUPPORT[platform]):
        if op not in ("add_address", "remove_address") and needs == "static":
            continue
        mode, protocol = ("static", "vrrp") if needs == "static" else ("vrrp", needs)
        for address in (GLOBAL, LINK_LOCAL):
            lines = render(platform, op, mode=mode, protocol=protocol, address=address, vrid=255, priority=254)
            assert lines and all(re.fullmatch(r"[ A-Za-z0-9_./:-]+", ln) for ln in lines), lines
            assert not any(re.search(r"\bip address\b|address-family ipv4|family inet address|vrrp-group| ipv4 ", ln)
                           for ln in lines), lines
            rendered += 1
    assert rendered >= 2


def test_ios_refuses_ipv6_vrrp_in_its_templates_too():
    # Classic IOS templates write "vrrp N ..." (VRRPv2); IPv6 VRRP is VRRPv3: platform cisco_xe.
    for op in OPERATIONS:
        with pytest.raises(TemplateError, match="ipv6_vrrp_is_vrrpv3_use_platform_cisco_xe"):
            render("cisco_ios", op)


def test_eos_refuses_ipv6_varp_addresses():
    with pytest.raises(TemplateError, match="ipv6_varp_is_not_supported_here"):
        render("arista_eos", "add_address", protocol="varp")


# -- Junos: the inet6 address that carries an IPv6 group --------------------------------------------

CONFIG6 = """set interfaces ge-0/0/1 unit 0 family inet6 address 2001:2:0:1::2/64 vrrp-inet6-group 10 virtual-inet6-address 2001:2:0:1::1
set interfaces ge-0/0/1 unit 0 family inet6 address 2001:2:0:1::2/64 vrrp-inet6-group 10 priority 200
set interfaces ge-0/0/1 unit 0 family inet6 address fe80::2/64
set interfaces ge-0/0/1 unit 0 family inet6 address 2001:2:0:9::2/64 vrrp-inet6-group 11 priority 100
"""


def test_junos_resolves_the_inet6_address_of_an_ipv6_group():
    assert juniper_junos.resolve_local_address(CONFIG6, "ge-0/0/1", "0", 10, "inet6") == "2001:2:0:1::2/64"
    assert juniper_junos.resolve_local_address(CONFIG6, "ge-0/0/1", "0", 12, "inet6") is None
    # An IPv4 group of the same number is not the IPv6 one.
    assert juniper_junos.resolve_local_address(CONFIG6, "ge-0/0/1", "0", 10) is None
    assert juniper_junos.vrrp_address_command("ge-0/0/1", "0", "inet6") == \
        "show configuration interfaces ge-0/0/1 unit 0 family inet6 | display set"


def test_junos_push_fills_in_the_inet6_address(monkeypatch):
    drv = juniper_junos.JuniperJunosDriver.__new__(juniper_junos.JuniperJunosDriver)
    drv.name = "edge1"
    asked: list[str] = []

    def run_checked(command: str, timeout: float | None = None) -> str:
        asked.append(command)
        return CONFIG6

    monkeypatch.setattr(drv, "run_checked", run_checked, raising=False)
    lines = drv.resolve_lines([f"set {J6} priority 254",
                               "set interfaces ge-0/0/1 unit 0 family inet6 address __local_address__ vrrp-inet6-group 10 preempt"])
    assert lines == [
        "set interfaces ge-0/0/1 unit 0 family inet6 address 2001:2:0:1::2/64 vrrp-inet6-group 10 priority 254",
        "set interfaces ge-0/0/1 unit 0 family inet6 address 2001:2:0:1::2/64 vrrp-inet6-group 10 preempt",
    ]
    assert asked == ["show configuration interfaces ge-0/0/1 unit 0 family inet6 | display set"]  # asked once
    with pytest.raises(CommandRejected, match="no single address on ge-0/0/1.0 carries vrrp-inet6-group 12"):
        drv.resolve_lines(["set interfaces ge-0/0/1 unit 0 family inet6 address __local_address__ vrrp-inet6-group 12 priority 1"])


# -- reading: an IPv6 group's link-local virtual address comes first -------------------------------

def test_link_local_first_orders_an_ipv6_groups_addresses_as_rfc_5798():
    from netha.drivers.base import link_local_first
    assert link_local_first(["2001:2:0:1::1", "fe80::200:5eff:fe00:20a", "2001:2:0:1::1"]) == \
        ("fe80::200:5eff:fe00:20a", "2001:2:0:1::1")
    # fe8::1 is 0fe8::1, not link-local; IPv4 addresses keep the device's order.
    assert link_local_first(["fe8::1", "febf::1"]) == ("febf::1", "fe8::1")
    assert link_local_first(["198.19.10.2", "198.19.10.1"]) == ("198.19.10.2", "198.19.10.1")


def test_the_parsers_put_the_link_local_virtual_address_first():
    # Junos lists the global virtual address before the link-local one; the view has the link-local one first.
    xml = ("<vrrp-information><vrrp-interface><vrrp-vlan><physical-interface>ge-0/0/1</physical-interface><unit>0</unit>"
           "</vrrp-vlan><group>10</group><vrrp-state>backup</vrrp-state><virtual-ip-address>2001:2:0:1::1</virtual-ip-address>"
           "<virtual-ip-address>fe80::200:5eff:fe00:20a</virtual-ip-address><master-router>fe80::1</master-router>"
           "</vrrp-interface></vrrp-information>")
    [view] = juniper_junos.parse_vrrp(xml, "r1")
    assert (view.family, view.virtual_addresses, view.master_address) == \
        (6, ("fe80::200:5eff:fe00:20a", "2001:2:0:1::1"), "fe80::1")


# -- a resigned IPv6 master (VRRPv3 "shutdown" in its address-family ipv6 block) reads as shut down -----

CISCO_CONFIG = """interface Vlan10
 vrrp 10 address-family ipv4
  priority 120
 vrrp 10 address-family ipv6
  address FE80::200:5EFF:FE00:20A primary
  shutdown
!
interface Vlan20
  vrrpv3 20 address-family ipv4
    shutdown
  vrrpv3 20 address-family ipv6
    address fe80::200:5eff:fe00:214 primary
"""


def test_the_config_names_the_shut_groups_of_each_family():
    from netha.drivers.napalm_push import shutdown_vrrp_groups
    assert shutdown_vrrp_groups(CISCO_CONFIG, 6) == {("Vlan10", 10)}
    assert shutdown_vrrp_groups(CISCO_CONFIG) == shutdown_vrrp_groups(CISCO_CONFIG, 4) == {("Vlan20", 20)}


def test_ios_xe_marks_a_shut_ipv6_vrrpv3_group_and_only_it(monkeypatch):
    from netha.drivers import cisco_ios
    show = ("Vlan10 - Group 10 - Address-Family IPv4\n  State is MASTER\n  Virtual IP address is 198.19.10.1\n"
            "  Priority is 120\n"
            "Vlan10 - Group 10 - Address-Family IPv6\n  State is INIT\n  Virtual IP address is FE80::200:5EFF:FE00:20A\n"
            "  Priority is 120\n")
    drv = cisco_ios.CiscoIosDriver.__new__(cisco_ios.CiscoIosDriver)
    drv.name = "d1"
    answers = {cisco_ios.SHOW_VRRP: show, cisco_ios.SHOW_INTERFACE_CONFIG: CISCO_CONFIG}
    monkeypatch.setattr(drv, "run_checked", lambda command, timeout=None: answers[command], raising=False)
    views = {v.key: v for v in drv._vrrp()}
    assert views[("Vlan10", "vrrp", 6, 10)].shutdown is True
    assert views[("Vlan10", "vrrp", 4, 10)].shutdown is False


# -- end to end: planned and emergency failovers of IPv6 groups on the vendor platforms (dry run) ----------

INVENTORY6 = """\
credentials:
  lab: {username: netha, password: {env: NETHA_TEST_PASSWORD}}
devices:
  x1: {host: 198.18.0.21, platform: cisco_xe, credentials: lab}
  x2: {host: 198.18.0.22, platform: cisco_xe, credentials: lab}
  n1: {host: 198.18.0.31, platform: cisco_nxos, credentials: lab}
  n2: {host: 198.18.0.32, platform: cisco_nxos, credentials: lab}
  e1: {host: 198.18.0.41, platform: arista_eos, credentials: lab}
  e2: {host: 198.18.0.42, platform: arista_eos, credentials: lab}
  j1: {host: 198.18.0.51, platform: juniper_junos, credentials: lab}
  j2: {host: 198.18.0.52, platform: juniper_junos, credentials: lab}
groups:
  xe6:
    vrid: 10
    interface: Vlan10
    virtual_addresses: ["2001:2:0:10::1/64"]
    members:
      - {device: x1, priority: 200, address: "2001:2:0:10::2/64"}
      - {device: x2, priority: 100, address: "2001:2:0:10::3/64"}
  xehsrp6:
    protocol: hsrp
    vrid: 11
    interface: Vlan11
    virtual_addresses: ["fe80::5:73ff:fea0:b/64", "2001:2:0:11::1/64"]
    members:
      - {device: x1, priority: 200, address: "2001:2:0:11::2/64"}
      - {device: x2, priority: 100, address: "2001:2:0:11::3/64"}
  nx6:
    vrid: 20
    interface: Vlan20
    virtual_addresses: ["2001:2:0:20::1/64"]
    members:
      - {device: n1, priority: 200, address: "2001:2:0:20::2/64"}
      - {device: n2, priority: 100, address: "2001:2:0:20::3/64"}
  eos6:
    vrid: 30
    interface: Vlan30
    virtual_addresses: ["2001:2:0:30::1/64"]
    members:
      - {device: e1, priority: 200, address: "2001:2:0:30::2/64"}
      - {device: e2, priority: 100, address: "2001:2:0:30::3/64"}
  junos6:
    vrid: 40
    interface: ge-0/0/1.0
    virtual_addresses: ["2001:2:0:40::1/64"]
    members:
      - {device: j1, priority: 200, address: "2001:2:0:40::2/64"}
      - {device: j2, priority: 100, address: "2001:2:0:40::3/64"}
"""

J40 = "set interfaces ge-0/0/1 unit 0 family inet6 address 2001:2:0:40::{} vrrp-inet6-group 40 {}"
PLANNED6 = {
    "xe6": [("x2", ("interface Vlan10", " vrrp 10 address-family ipv6", "  priority 254")),
            ("x1", ("interface Vlan10", " vrrp 10 address-family ipv6", "  priority 1"))],
    "xehsrp6": [("x2", ("interface Vlan11", " standby 11 priority 254")), ("x1", ("interface Vlan11", " standby 11 priority 1"))],
    "nx6": [("n2", ("interface Vlan20", "  vrrpv3 20 address-family ipv6", "    priority 254")),
            ("n1", ("interface Vlan20", "  vrrpv3 20 address-family ipv6", "    priority 1"))],
    "eos6": [("e2", ("interface Vlan30", "   vrrp 30 priority-level 254")), ("e1", ("interface Vlan30", "   vrrp 30 priority-level 1"))],
    "junos6": [("j2", (J40.format("3/64", "priority 254"),)), ("j1", (J40.format("2/64", "priority 1"),))],
}
EMERGENCY6 = {
    "xe6": [("x1", ("interface Vlan10", " vrrp 10 address-family ipv6", "  shutdown")),
            ("x2", ("interface Vlan10", " vrrp 10 address-family ipv6", "  priority 254"))],
    "nx6": [("n1", ("interface Vlan20", "  vrrpv3 20 address-family ipv6", "    shutdown")),
            ("n2", ("interface Vlan20", "  vrrpv3 20 address-family ipv6", "    priority 254"))],
    "junos6": [("j1", (J40.format("2/64", "priority 1"),)), ("j2", (J40.format("3/64", "priority 254"),))],
}


@pytest.fixture
def campus6(tmp_path, monkeypatch):
    from netha.drivers import supported_protocols
    from netha.health import assess
    from netha.inventory import load_inventory
    from netha.observe.types import DeviceObservation, ProbeResult, Snapshot, VrrpView

    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    path = tmp_path / "inv6.yml"
    path.write_text(INVENTORY6)
    inv = load_inventory(path, check_secrets=False, platforms=supported_protocols())
    views: dict[str, list] = {d: [] for d in inv.devices}
    ifaces: dict[str, dict[str, bool]] = {d: {} for d in inv.devices}
    for group in inv.groups.values():
        for m in group.members:
            iface = group.interface_of(m.device)
            state = "master" if m.device == group.primary else "backup"
            views[m.device].append(VrrpView(group.vrid, iface, state, m.priority, m.priority,
                                            protocol=group.protocol, family=group.family))
            ifaces[m.device][iface] = True
    ok = ProbeResult(True, 0.0)
    snap = Snapshot(0.0, 0.0, {d: DeviceObservation(d, ssh=ok, snmp=ok, vrrp=tuple(views[d]), interfaces=ifaces[d], routes={})
                               for d in inv.devices})
    return inv, assess(inv, snap)


@pytest.mark.parametrize("group", sorted(PLANNED6))
def test_dry_run_planned_failover_of_ipv6_groups(campus6, group):
    from netha.takeover.plan import Planner
    inv, a = campus6
    assert a.groups[group].master == inv.groups[group].primary
    backup = next(m.device for m in inv.groups[group].members if m.device != inv.groups[group].primary)
    plan = Planner(inv).failover(group, backup, a, "planned")
    assert [(s.device, s.lines) for s in plan.steps] == PLANNED6[group]
    assert all(s.values.family == 6 for s in plan.steps if s.values is not None)


@pytest.mark.parametrize("group", sorted(EMERGENCY6))
def test_dry_run_emergency_failover_of_ipv6_groups(campus6, group):
    from netha.takeover.plan import Planner
    inv, a = campus6
    backup = next(m.device for m in inv.groups[group].members if m.device != inv.groups[group].primary)
    plan = Planner(inv).failover(group, backup, a, "emergency")
    assert [(s.device, s.lines) for s in plan.steps] == EMERGENCY6[group]
