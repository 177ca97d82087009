"""IPv6 groups on the Linux platforms: FRR's change lines and route reads, keepalived.conf edits of IPv6
instances (apart from an IPv4 instance of the same VRID), the streaming probers' IPv6 commands."""

from __future__ import annotations

import ipaddress

import pytest

from netha.drivers.changes import ChangeValues
from netha.drivers.frr import FrrDriver, route_command
from netha.drivers.keepalived import KeepalivedDriver
from netha.drivers.keepalived_conf import ConfEditError, apply_change, find, instances
from netha.drivers.linux import parse_ping_line, ping_stream, tcp_stream
from netha.drivers.models import ProbeEvent, ReachProbe

V6 = ipaddress.IPv6Interface


def cv6(**kw) -> ChangeValues:
    return ChangeValues(**{"interface": "eth1", "vrid": 21, "family": 6, **kw})


# -- FRR ------------------------------------------------------------------------------------------

def test_frr_adds_and_removes_an_ipv6_virtual_address_with_vrrp_ipv6():
    assert FrrDriver.render_change("add_address", cv6(address=V6("2001:2:0:1::1/64"))) == [
        "interface eth1", " vrrp 21 ipv6 2001:2:0:1::1", "exit"]
    assert FrrDriver.render_change("remove_address", cv6(address=V6("2001:2:0:1::1/64"))) == [
        "interface eth1", " no vrrp 21 ipv6 2001:2:0:1::1", "exit"]


def test_frr_ipv4_changes_are_as_before():
    v4 = ChangeValues(interface="eth1", vrid=1, address=ipaddress.IPv4Interface("198.18.1.1/24"))
    assert FrrDriver.render_change("add_address", v4) == ["interface eth1", " vrrp 1 ip 198.18.1.1", "exit"]


def test_frr_static_ipv6_gateway_is_an_ipv6_address_on_the_interface():
    cv = cv6(mode="static", vrid=None, address=V6("2001:2:0:3::1/64"))
    assert FrrDriver.render_change("add_address", cv) == ["interface eth1", " ipv6 address 2001:2:0:3::1/64", "exit"]
    assert FrrDriver.render_change("remove_address", cv) == ["interface eth1", " no ipv6 address 2001:2:0:3::1/64", "exit"]


def test_frr_resign_and_priority_are_the_instances_whatever_the_family():
    # FRR has one instance per (interface, VRID) for both families: its shutdown and priority lines
    # name no family (an IPv4 and an IPv6 group sharing a VRID on FRR move together).
    assert FrrDriver.render_change("resign", cv6()) == ["interface eth1", " vrrp 21 shutdown", "exit"]
    assert FrrDriver.render_change("set_priority", cv6(priority=50)) == ["interface eth1", " vrrp 21 priority 50", "exit"]


def test_frr_reads_an_ipv6_route_with_show_ipv6_route():
    assert route_command("2001:2:0:2::/64") == "show ipv6 route 2001:2:0:2::/64 json"
    assert route_command("198.18.2.0/24") == "show ip route 198.18.2.0/24 json"


# -- keepalived.conf --------------------------------------------------------------------------------

# An IPv4 and an IPv6 instance sharing VRID 11 on eth1 (keepalived keeps them apart by family).
DUAL = """\
vrrp_instance klan {
    interface eth1
    virtual_router_id 11
    priority 200
    virtual_ipaddress {
        198.18.4.1/24
    }
}

vrrp_instance klan6 {
    interface eth1
    virtual_router_id 11
    priority 200
    virtual_ipaddress {
        fe80::200:5eff:fe00:20b/64
        2001:2:0:4::1/64
    }
}
"""


def test_an_instance_has_the_family_of_its_virtual_addresses():
    assert [(i.name, i.family) for i in instances(DUAL)] == [("klan", 4), ("klan6", 6)]
    assert find(DUAL, "eth1", 11, 6).name == "klan6"
    with pytest.raises(ConfEditError, match="2 vrrp_instance blocks"):
        find(DUAL, "eth1", 11)


def test_resigning_the_ipv6_group_comments_out_only_the_ipv6_instance():
    new = apply_change(DUAL, "resign", cv6(vrid=11))
    klan, klan6 = instances(new)
    assert not klan.shutdown and klan6.shutdown
    assert apply_change(new, "restore", cv6(vrid=11, priority=200)) == DUAL


def test_an_ipv6_virtual_address_is_added_after_the_link_local_one_and_removed():
    new = apply_change(DUAL, "add_address", cv6(vrid=11, address=V6("2001:2:0:4::2/64")))
    assert instances(new)[1].addresses == ("fe80::200:5eff:fe00:20b/64", "2001:2:0:4::1/64", "2001:2:0:4::2/64")
    assert instances(new)[0].addresses == ("198.18.4.1/24",)
    assert apply_change(new, "remove_address", cv6(vrid=11, address=V6("2001:2:0:4::2/64"))) == DUAL


def test_an_ipv6_priority_change_leaves_the_ipv4_instance_alone():
    new = apply_change(DUAL, "set_priority", cv6(vrid=11, priority=50))
    assert [i.priority for i in instances(new)] == [200, 50]


def test_keepalived_describes_an_ipv6_change_as_such():
    assert KeepalivedDriver.render_change("resign", cv6(vrid=31))[0].startswith(
        "vrrp_instance (interface eth1, virtual_router_id 31, IPv6): shut down")


# -- keepalived's state dump ----------------------------------------------------------------------------

def test_keepalived_state_of_an_ipv6_instance_is_an_ipv6_view():
    from netha.drivers.keepalived import parse_state

    dump = """[{"data": {"iname": "klan6", "ifp_ifname": "eth1", "vrid": 11, "state": 2, "base_priority": 200,
        "effective_priority": 200, "adver_int": 0.1, "nopreempt": 0,
        "vips": ["fe80::200:5eff:fe00:20b/64 dev eth1 scope link", "2001:2:0:4::1/64 dev eth1 scope global"]},
        "stats": {"advert_rcvd": 0, "advert_sent": 10, "become_master": 1, "release_master": 0}},
       {"data": {"iname": "klan", "ifp_ifname": "eth1", "vrid": 11, "state": 1, "base_priority": 200,
        "effective_priority": 200, "adver_int": 0.1, "nopreempt": 0, "vips": ["198.18.4.1/24 dev eth1 scope global"]},
        "stats": {}}]"""
    views = parse_state(dump, DUAL.replace("vrrp_instance klan {", "#netha-shutdown# vrrp_instance klan {"), "k1")
    assert [(v.family, v.state, v.virtual_addresses) for v in views] == [
        (6, "master", ("fe80::200:5eff:fe00:20b", "2001:2:0:4::1")), (4, "backup", ("198.18.4.1",))]


# -- probers ------------------------------------------------------------------------------------------

def test_an_ipv6_ping_probe_runs_ping_6_from_the_members_address():
    cmd = ping_stream(ReachProbe(key="reach icmp 2001:2:0:2::100", target="2001:2:0:2::100",
                                 source="2001:2:0:2::2", interval=0.02)).command
    assert "exec ping -6 -n -O -i 0.02 -W 1 -I 2001:2:0:2::2 2001:2:0:2::100 2>&1" in cmd
    v4 = ping_stream(ReachProbe(key="reach icmp 198.18.2.100", target="198.18.2.100")).command
    assert "ping -6" not in v4 and "exec ping -n -O" in v4


def test_ipv6_ping_output_lines_are_read_like_ipv4_ones():
    assert parse_ping_line("64 bytes from 2001:2:0:2::100: icmp_seq=7 ttl=64 time=0.061 ms") == \
        ProbeEvent(7, True, 0.061 / 1000.0)
    assert parse_ping_line("no answer yet for icmp_seq=8") == ProbeEvent(8, False)
    assert parse_ping_line("From 2001:2:0:6::1 icmp_seq=9 Destination unreachable: Address unreachable") == \
        ProbeEvent(9, False)


def test_an_ipv6_tcp_probe_connects_with_nc_6_and_finds_an_interfaces_global_ipv6_address():
    cmd = tcp_stream(ReachProbe(key="reach tcp [2001:2:0:2::100]:22", target="2001:2:0:2::100", kind="tcp",
                                port=22, source="eth2")).command
    assert "nc -6 -z -w 1 -s \"$s\" 2001:2:0:2::100 22" in cmd
    assert "ip -6 -o addr show dev eth2 scope global" in cmd and "no global IPv6 address on eth2" in cmd
    direct = tcp_stream(ReachProbe(key="reach tcp [2001:2:0:2::100]:22", target="2001:2:0:2::100", kind="tcp",
                                   port=22)).command
    assert "nc -6 -z -w 1 2001:2:0:2::100 22" in direct and "/dev/tcp/'2001:2:0:2::100'/22" in direct


# -- captured by netha from the lab (FRR 8.4.4, keepalived 2.2.7; lab v6, 2026-11-30) ------------------

def test_frr_reports_the_macvlans_link_local_address_the_ipv6_adverts_come_from():
    from pathlib import Path

    from netha.drivers.frr import parse_interface_details, parse_vrrp

    fixtures = Path(__file__).parent / "fixtures" / "frr"
    details = parse_interface_details((fixtures / "show_interface_json" / "dual-stack-macvlans.txt").read_text(), "r1")
    views = {(v.vrid, v.family): v for v in parse_vrrp((fixtures / "show_vrrp_json" / "dual-stack-master.txt").read_text())}
    lan6 = views[(21, 6)]
    assert lan6.master_address == "fe80::828e:48c9:9e1f:40f3"  # FRR's primaryAddress: the adverts' source
    assert f"{lan6.master_address}/64" in details["eth1-v21"]["addresses"]
    assert "2001:2:0:1::1/128" in details["eth1-v21"]["addresses"]
    assert {"198.18.1.2/24", "2001:2:0:1::2/64"} <= set(details["eth1"]["addresses"])
    # The instance of VRID 21 has no IPv4 addresses: no IPv4 group (and VRID 1 no IPv6 one).
    assert set(views) == {(1, 4), (21, 6), (2, 4), (22, 6)}


def test_a_keepalived_ipv6_masters_own_address_is_its_interfaces_link_local_not_the_virtual_one():
    from pathlib import Path

    from netha.drivers.keepalived import parse_addresses, parse_state

    fixtures = Path(__file__).parent / "fixtures" / "keepalived"
    views = parse_state((fixtures / "json_dump" / "k1-master-dual-stack.txt").read_text(), "", "k1")
    addrs = parse_addresses((fixtures / "ip_addr" / "k1-master-ipv6-vips.txt").read_text(), "k1")
    got = {(v.vrid, v.family): v.master_address for v in KeepalivedDriver._with_master_address(views, addrs)}
    assert got[(11, 4)] == "198.18.4.2"
    assert got[(31, 6)] == "fe80::4c27:89ff:fef7:3172"  # eth1's own, not fe80::200:5eff:fe00:21f (virtual)
