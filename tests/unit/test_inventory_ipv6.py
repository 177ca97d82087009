"""IPv6 in the inventory: a group is one address family; IPv6 VRRP groups carry a link-local virtual address."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from netha.drivers.changes import ChangeValues
from netha.errors import InventoryError, TemplateError
from netha.inventory import load_inventory
from netha.inventory.model import vrrp_link_local

HEAD = """\
credentials:
  lab: {username: netha, password: {env: NETHA_TEST_PASSWORD}}
devices:
  r1: {host: 198.18.0.11, platform: frr, credentials: lab}
  r2: {host: "2001:2::12", platform: frr, credentials: lab}
groups:
"""


@pytest.fixture(autouse=True)
def _password(monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")


def _load(tmp_path: Path, groups: str):
    path = tmp_path / "inv.yml"
    path.write_text(HEAD + groups)
    return load_inventory(path)


DUAL_STACK = """\
  lan:
    vrid: 1
    interface: eth1
    virtual_addresses: [198.18.1.1/24]
    members:
      - {device: r1, priority: 200, address: 198.18.1.2/24}
      - {device: r2, priority: 100, address: 198.18.1.3/24}
  lan6:
    vrid: 1
    interface: eth1
    virtual_addresses: ["2001:2:0:1::1/64"]
    members:
      - {device: r1, priority: 200, address: "2001:2:0:1::2/64"}
      - {device: r2, priority: 100, address: "2001:2:0:1::3/64"}
    track:
      - route: "2001:2:0:2::/64"
      - reach: {target: "2001:2:0:2::100", sources: {r1: "2001:2:0:2::2", r2: eth2}}
"""


def test_a_dual_stack_lan_is_two_groups_that_may_share_a_vrid_on_one_interface(tmp_path):
    inv = _load(tmp_path, DUAL_STACK)
    assert (inv.groups["lan"].family, inv.groups["lan6"].family) == (4, 6)
    track = inv.groups["lan6"].track
    assert track[0].route == ipaddress.IPv6Network("2001:2:0:2::/64")
    reach = track[1].reach
    assert reach is not None and reach.family == 6
    assert reach.source_for("r1") == "2001:2:0:2::2" and reach.source_for("r2") == "eth2"


def test_an_ipv6_vrrp_group_without_a_link_local_uses_the_one_derived_from_its_virtual_mac(tmp_path):
    group = _load(tmp_path, DUAL_STACK).groups["lan6"]
    # 00:00:5e:00:02:01 -> modified EUI-64 -> fe80::200:5eff:fe00:201
    assert group.link_local == vrrp_link_local(1) == ipaddress.IPv6Address("fe80::200:5eff:fe00:201")
    assert [str(v) for v in group.global_addresses] == ["2001:2:0:1::1/64"]
    assert _load(tmp_path, DUAL_STACK).groups["lan"].link_local is None


def test_a_listed_link_local_virtual_address_is_used_and_is_not_checked_against_the_subnet(tmp_path):
    group = _load(tmp_path, DUAL_STACK.replace('["2001:2:0:1::1/64"]', '["fe80::1/64", "2001:2:0:1::1/64"]')).groups["lan6"]
    assert group.link_local == ipaddress.IPv6Address("fe80::1")
    assert [str(v.ip) for v in group.global_addresses] == ["2001:2:0:1::1"]


def test_two_link_local_virtual_addresses_are_refused(tmp_path):
    with pytest.raises(InventoryError, match="one link-local virtual address, not 2"):
        _load(tmp_path, DUAL_STACK.replace('["2001:2:0:1::1/64"]', '["fe80::1/64", "fe80::2/64", "2001:2:0:1::1/64"]'))


def test_a_member_address_of_the_other_family_is_refused_with_its_group(tmp_path):
    with pytest.raises(InventoryError, match=r"inv.yml:\d+: .*member r2 address 198.18.1.3/24 is IPv4 in an IPv6 group"):
        _load(tmp_path, DUAL_STACK.replace('"2001:2:0:1::3/64"', "198.18.1.3/24"))


def test_a_reach_source_of_the_other_family_is_refused(tmp_path):
    with pytest.raises(InventoryError, match="sources.r1 198.18.2.2 is IPv4, target 2001:2:0:2::100 is IPv6"):
        _load(tmp_path, DUAL_STACK.replace('r1: "2001:2:0:2::2"', "r1: 198.18.2.2"))


def test_a_link_local_reach_target_is_refused(tmp_path):
    with pytest.raises(InventoryError, match="not link-local"):
        _load(tmp_path, DUAL_STACK.replace('target: "2001:2:0:2::100"', 'target: "fe80::100"'))


def test_an_address_that_looks_like_an_interface_name_is_read_as_an_address(tmp_path):
    # "fe80::2" matches the interface-name pattern too; it is an address (an interface name starts with a letter).
    inv = _load(tmp_path, DUAL_STACK.replace('r2: eth2', 'r2: "fe80::2"'))
    reach = inv.groups["lan6"].track[1].reach
    assert reach is not None and isinstance(reach.sources["r2"], ipaddress.IPv6Address)


def test_change_values_carry_the_family_and_refuse_an_address_of_the_other_one():
    cv = ChangeValues(interface="eth1", vrid=1, family=6, address=ipaddress.IPv6Interface("2001:2:0:1::1/64"))
    assert ChangeValues.from_json(cv.to_json()) == cv
    with pytest.raises(TemplateError, match="not IPv4"):
        ChangeValues(interface="eth1", vrid=1, address=ipaddress.IPv6Interface("2001:2:0:1::1/64"))


def test_journal_rows_written_before_the_family_existed_read_as_ipv4():
    old = {"interface": "eth1", "vrid": 1, "priority": None, "address": "198.18.1.1/24", "mode": "static",
           "enabled": True, "protocol": "vrrp", "version": 3, "local_address": None}
    assert ChangeValues.from_json(old).family == 4


def test_an_ipv6_group_sharing_an_ipv4_group_s_vrid_on_frr_is_refused_at_its_vrid_line(tmp_path):
    from netha.connect import load_checked_inventory

    path = tmp_path / "inv.yml"
    path.write_text(HEAD + DUAL_STACK)  # lan and lan6 are both VRID 1 on eth1
    with pytest.raises(InventoryError) as info:
        load_checked_inventory(path)
    [problem] = info.value.problems
    assert problem.startswith(f"{path}:15: group lan6: VRID 1 on r1 eth1 is also group lan's (IPv4), and frr sets ")
    path.write_text(HEAD + DUAL_STACK.replace("  lan6:\n    vrid: 1", "  lan6:\n    vrid: 21"))
    assert load_checked_inventory(path).groups["lan6"].vrid == 21


def test_platforms_that_configure_each_family_apart_may_share_a_vrid(tmp_path):
    from netha.connect import load_checked_inventory

    path = tmp_path / "inv.yml"
    path.write_text(HEAD.replace("platform: frr", "platform: cisco_xe") + DUAL_STACK)
    inv = load_checked_inventory(path)
    assert inv.groups["lan"].vrid == inv.groups["lan6"].vrid == 1
