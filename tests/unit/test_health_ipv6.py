"""Health over IPv6: adverts matched by address family, and IPv6 adverts (from link-local sources) mapped
to members through the link-local addresses the devices report on their interfaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from netha.health import assess
from netha.inventory import load_inventory
from netha.observe.types import AdvertSource, DeviceObservation, ProbeResult, Snapshot, VrrpView

INVENTORY = """\
controller:
  poll_interval: 0.1
  failure_threshold: 2
  recovery_threshold: 5
  listeners:
    - {interface: eth1, groups: [lan, lan6]}
    - {interface: eth4, groups: []}
credentials:
  lab: {username: netha, password: {env: NETHA_TEST_PASSWORD}}
devices:
  r1: {host: 198.18.0.11, platform: frr, credentials: lab}
  r2: {host: 198.18.0.12, platform: frr, credentials: lab}
groups:
  lan:
    vrid: 21
    interface: eth1
    virtual_addresses: [198.18.1.1/24]
    advert_interval: 0.1
    members:
      - {device: r1, priority: 200, address: 198.18.1.2/24}
      - {device: r2, priority: 100, address: 198.18.1.3/24}
  lan6:
    vrid: 21
    interface: eth1
    virtual_addresses: ["2001:2:0:1::1/64"]
    advert_interval: 0.1
    members:
      - {device: r1, priority: 200, address: "2001:2:0:1::2/64"}
      - {device: r2, priority: 100, address: "2001:2:0:1::3/64"}
"""

# As FRR reports them (show interface json): the IPv6 router advertises from its macvlan's link-local
# address (addrgenmode random), the parent interface has its own EUI-64 one.
LL = {"r1": "fe80::a8c1:abff:fe11:2201", "r2": "fe80::a8c1:abff:fe22:3302"}
ADDRESSES = {
    "r1": {"eth1": ("198.18.1.2/24", "2001:2:0:1::2/64", "fe80::5054:ff:fe00:101/64"),
           "eth1-v21": ("2001:2:0:1::1/128", f"{LL['r1']}/64")},
    "r2": {"eth1": ("198.18.1.3/24", "2001:2:0:1::3/64", "fe80::5054:ff:fe00:201/64"),
           "eth1-v21": ("2001:2:0:1::1/128", f"{LL['r2']}/64")},
}
OK = ProbeResult(ok=True, at=0.0)
DOWN = ProbeResult(ok=False, at=0.0, error="timed out")


@pytest.fixture()
def inv(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    path = tmp_path / "inv.yml"
    path.write_text(INVENTORY)
    return load_inventory(path)


def device(name: str, state6: str = "backup", state4: str = "backup", managed: bool = True) -> DeviceObservation:
    if not managed:
        return DeviceObservation(device=name, ssh=DOWN, snmp=DOWN)
    prio = 200 if name == "r1" else 100
    vrrp = (VrrpView(vrid=21, interface="eth1", state=state4, priority=prio, family=4),
            VrrpView(vrid=21, interface="eth1", state=state6, priority=prio, family=6))
    return DeviceObservation(device=name, ssh=OK, snmp=OK, vrrp=vrrp, interfaces={"eth1": True, "eth1-v21": True},
                             addresses=ADDRESSES[name])


def advert6(source: str, at: float, prio: int = 200, leg: str = "eth1") -> AdvertSource:
    return AdvertSource(interface=leg, vrid=21, source=source, priority=prio, interval=0.1, version=3,
                        last_seen=at, first_seen=0.0, count=10, family=6)


def advert4(source: str, at: float, prio: int = 200) -> AdvertSource:
    return AdvertSource(interface="eth1", vrid=21, source=source, priority=prio, interval=0.1, version=3,
                        last_seen=at, first_seen=0.0, count=10, family=4)


def snap(at: float, r1: DeviceObservation, r2: DeviceObservation, adverts=()) -> Snapshot:
    return Snapshot(at=at, wall=at, devices={"r1": r1, "r2": r2}, adverts=tuple(adverts), listening=("eth1",))


def run(inv, snaps):
    state = result = None
    for s in snaps:
        result = assess(inv, s, state)
        state = result.state
    return result


def test_ipv6_adverts_from_a_macvlan_link_local_are_the_member_that_reports_that_address(inv):
    a = run(inv, [snap(t * 0.1, device("r1", "master", "master"), device("r2"),
                       [advert6(LL["r1"], t * 0.1), advert4("198.18.1.2", t * 0.1)]) for t in range(3)])
    g = a.groups["lan6"]
    assert g.verdict == "ok"
    assert g.masters["adverts"] == ["r1"]
    assert g.members["r1"].heard and g.members["r1"].advert_age == 0.0
    assert not g.members["r2"].heard


def test_an_ipv4_advert_of_the_same_vrid_is_not_the_ipv6_groups(inv):
    # r2 is the IPv4 group's master, r1 the IPv6 group's: each group hears only its own family.
    a = run(inv, [snap(t * 0.1, device("r1", "master", "backup"), device("r2", "backup", "master"),
                       [advert6(LL["r1"], t * 0.1), advert4("198.18.1.3", t * 0.1, prio=100)]) for t in range(3)])
    assert a.groups["lan6"].masters["adverts"] == ["r1"]
    assert a.groups["lan"].masters["adverts"] == ["r2"]
    assert a.groups["lan6"].verdict == "ok" and a.groups["lan"].verdict == "failed-over"


def test_a_member_that_cannot_be_read_is_still_recognised_by_its_remembered_link_local(inv):
    # r1 reported its addresses once, then its management went away; its IPv6 adverts still come in.
    snaps = [snap(t * 0.1, device("r1", "master", "master"), device("r2"), [advert6(LL["r1"], t * 0.1)])
             for t in range(3)]
    snaps += [snap(t * 0.1, device("r1", managed=False), device("r2"), [advert6(LL["r1"], t * 0.1)])
              for t in range(3, 10)]
    a = run(inv, snaps)
    assert a.devices["r1"].health == "unreachable"
    assert a.groups["lan6"].members["r1"].heard


def test_the_parent_interfaces_link_local_counts_too(inv):
    # keepalived (and FRR without a macvlan) advertises from the interface's own link-local address.
    a = run(inv, [snap(t * 0.1, device("r1", "master"), device("r2"), [advert6("fe80::5054:ff:fe00:101", t * 0.1)])
                  for t in range(3)])
    assert a.groups["lan6"].masters["adverts"] == ["r1"]


def test_two_link_local_sources_advertising_at_full_priority_are_a_split_brain(inv):
    a = run(inv, [snap(t * 0.1, device("r1", "master"), device("r2", "master"),
                       [advert6(LL["r1"], t * 0.1), advert6(LL["r2"], t * 0.1, prio=100)]) for t in range(4)])
    assert a.groups["lan6"].verdict == "split-brain"
    assert a.groups["lan6"].masters["adverts"] == ["r1", "r2"]


def test_the_groups_virtual_link_local_address_is_no_members_source(inv, tmp_path):
    # A keepalived master holds the group's virtual link-local address on its interface: an advert from
    # that address (a misconfigured router) must not be credited to whoever holds it.
    virtual = "fe80::200:5eff:fe00:215"  # derived from VRID 21's virtual MAC
    r1 = device("r1", "master")
    r1 = DeviceObservation(device="r1", ssh=OK, snmp=OK, vrrp=r1.vrrp, interfaces=r1.interfaces,
                           addresses={"eth1": ("2001:2:0:1::2/64", f"{virtual}/64")})
    a = run(inv, [snap(t * 0.1, r1, device("r2"), [advert6(virtual, t * 0.1)]) for t in range(3)])
    assert a.groups["lan6"].masters["adverts"] == []


def test_a_link_local_source_heard_on_another_groups_leg_is_not_this_group(inv):
    # An unknown router on the keepalived LAN's leg advertising VRID 21 over IPv6 is not lan6's router.
    a = run(inv, [snap(t * 0.1, device("r1", "master"), device("r2"),
                       [advert6(LL["r1"], t * 0.1), advert6("fe80::99", t * 0.1, leg="eth4")]) for t in range(3)])
    assert a.groups["lan6"].verdict == "ok"
    # Nor is it a sign of the group on its own segment: with r1's adverts gone, only eth4's remain.
    from netha.health import _group_adverts, _legs, link_locals

    s = snap(1.0, device("r1", "master"), device("r2"), [advert6("fe80::99", 1.0, leg="eth4")])
    assert _group_adverts(inv.groups["lan6"], s, link_locals(s), _legs(inv, "lan6")) == []
