"""keepalived.conf editing: each netha change touches only the lines it is about."""

from __future__ import annotations

import ipaddress

import pytest

from netha.drivers.keepalived_conf import SHUTDOWN_MARK, ConfEditError, apply_changes, find, instances
from netha.render import ChangeValues, Renderer

CONF = """\
global_defs {
    router_id k1
    vrrp_version 3
}

# the client LAN
vrrp_instance klan {
    state BACKUP
    interface eth1
    virtual_router_id 11
    priority 200
    advert_int 0.1
    track_interface {
        eth2
    }
    virtual_ipaddress {
        198.18.4.1/24
    }
}

vrrp_instance kup
{
    interface eth2
    virtual_router_id 12
    advert_int 0.1
    nopreempt
    virtual_ipaddress { 198.18.5.1/24 198.18.5.9/24 }
}
"""


def render(op: str, **values) -> list[str]:
    return Renderer("keepalived").render(op, ChangeValues(interface=values.pop("interface", "eth1"),
                                                           vrid=values.pop("vrid", 11), **values))


def test_instances_are_found_with_their_settings():
    found = {i.name: i for i in instances(CONF)}
    assert found["klan"].interface == "eth1" and found["klan"].vrid == 11 and found["klan"].priority == 200
    assert found["klan"].addresses == ("198.18.4.1/24",) and not found["klan"].nopreempt
    assert found["kup"].vrid == 12 and found["kup"].priority is None and found["kup"].nopreempt
    assert found["kup"].addresses == ("198.18.5.1/24", "198.18.5.9/24")


def test_set_priority_changes_only_the_priority_line():
    new = apply_changes(CONF, render("set_priority", priority=254))
    diff = [(a, b) for a, b in zip(CONF.splitlines(), new.splitlines(), strict=True) if a != b]
    assert diff == [("    priority 200", "    priority 254")]


def test_set_priority_adds_the_line_when_the_instance_has_none():
    new = apply_changes(CONF, render("set_priority", interface="eth2", vrid=12, priority=50))
    assert find(new, "eth2", 12).priority == 50
    assert find(new, "eth1", 11).priority == 200


def test_resign_comments_out_the_block_and_restore_brings_it_back():
    resigned = apply_changes(CONF, render("resign"))
    inst = find(resigned, "eth1", 11)
    assert inst.shutdown
    block = resigned.splitlines()[inst.start : inst.end + 1]
    assert all(ln.startswith(SHUTDOWN_MARK) for ln in block)
    assert not find(resigned, "eth2", 12).shutdown
    restored = apply_changes(resigned, render("restore", priority=200))
    assert restored == CONF


def test_restore_sets_the_configured_priority():
    pinned = apply_changes(CONF, render("set_priority", priority=254))
    assert apply_changes(pinned, render("restore", priority=200)) == CONF


def test_preempt_off_and_on():
    off = apply_changes(CONF, render("preempt", enabled=False))
    assert find(off, "eth1", 11).nopreempt
    assert apply_changes(off, render("preempt", enabled=True)) == CONF
    assert not find(apply_changes(CONF, render("preempt", interface="eth2", vrid=12, enabled=True)), "eth2", 12).nopreempt


def test_virtual_addresses_are_added_once_and_removed():
    vip = ipaddress.IPv4Interface("198.18.4.7/24")
    added = apply_changes(CONF, render("add_address", address=vip))
    assert find(added, "eth1", 11).addresses == ("198.18.4.1/24", "198.18.4.7/24")
    assert apply_changes(added, render("add_address", address=vip)) == added
    assert apply_changes(added, render("remove_address", address=vip)) == CONF


def test_one_line_virtual_ipaddress_is_opened_up_to_edit_it():
    vip = ipaddress.IPv4Interface("198.18.5.9/24")
    new = apply_changes(CONF, render("remove_address", interface="eth2", vrid=12, address=vip))
    assert find(new, "eth2", 12).addresses == ("198.18.5.1/24",)


def test_a_missing_instance_is_a_clear_error():
    with pytest.raises(ConfEditError, match="no vrrp_instance with interface eth9 and virtual_router_id 11"):
        apply_changes(CONF, render("set_priority", interface="eth9", priority=100))


@pytest.mark.parametrize("lines", [
    ["vrrp_instance eth1 11", " track_script boom"],
    [" priority 100"],
    ["vrrp_instance eth1", " priority 100"],
    ["vrrp_instance eth1 11", " priority 255"],
])
def test_anything_but_netha_changes_is_refused(lines):
    with pytest.raises(ConfEditError):
        apply_changes(CONF, lines)


def test_static_gateway_lines_render_but_are_not_keepalived_changes():
    lines = render("add_address", mode="static", address=ipaddress.IPv4Interface("198.18.3.1/24"))
    assert lines[0] == "interface eth1"
    with pytest.raises(ConfEditError, match="static gateway address is not keepalived config"):
        apply_changes(CONF, lines)


def test_a_refused_change_is_a_netha_error_not_a_value_error():
    from netha.errors import NethaError

    assert issubclass(ConfEditError, NethaError) and not issubclass(ConfEditError, ValueError)
    with pytest.raises(ConfEditError, match="not an address"):
        apply_changes(CONF, ["vrrp_instance eth1 11", " virtual_ipaddress 198.18.4.300/24"])


@pytest.mark.parametrize("line", ["    virtual_router_id ²", "    virtual_router_id 300", "    virtual_router_id ٣"])
def test_a_vrid_that_is_not_ascii_or_out_of_range_is_no_vrid(line):
    conf = CONF.replace("    virtual_router_id 11", line)
    assert {i.name: i.vrid for i in instances(conf)}["klan"] is None
