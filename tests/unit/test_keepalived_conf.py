"""keepalived.conf editing: each netha change, an operation and its values, edits the config
structurally and touches only the lines it is about."""

from __future__ import annotations

import difflib
import ipaddress
from pathlib import Path

import pytest

from netha.drivers.changes import OPERATIONS, ChangeValues
from netha.drivers.keepalived_conf import (
    SHUTDOWN_MARK, ConfEditError, apply_change, describe_change, find, instances, set_priority,
)

# The lab's k1 keepalived.conf (lab/configs/k1/keepalived.conf), as a fixture.
K1 = (Path(__file__).parent / "fixtures" / "keepalived" / "conf" / "k1.conf").read_text()

# Other shapes keepalived accepts: a comment before a block, the brace on the next line, no
# priority, nopreempt, a one-line virtual_ipaddress.
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


def values(interface: str = "eth1", vrid: int | None = 11, **kw) -> ChangeValues:
    if isinstance(kw.get("address"), str):
        kw["address"] = ipaddress.IPv4Interface(kw["address"])
    return ChangeValues(interface=interface, vrid=vrid, **kw)


def change(text: str, op: str, **kw) -> str:
    return apply_change(text, op, values(**kw))  # type: ignore[arg-type]


def diff(before: str, after: str) -> list[str]:
    """The changed lines, ``-old`` / ``+new``, in order."""
    return [ln for ln in difflib.ndiff(before.splitlines(), after.splitlines()) if ln[:1] in "+-"]


def test_instances_are_found_with_their_settings():
    found = {i.name: i for i in instances(CONF)}
    assert found["klan"].interface == "eth1" and found["klan"].vrid == 11 and found["klan"].priority == 200
    assert found["klan"].addresses == ("198.18.4.1/24",) and not found["klan"].nopreempt
    assert found["kup"].vrid == 12 and found["kup"].priority is None and found["kup"].nopreempt
    assert found["kup"].addresses == ("198.18.5.1/24", "198.18.5.9/24")


# -- every operation on the lab's real keepalived.conf -------------------------------------------------

def test_k1_set_priority_changes_only_that_instance_s_priority_line():
    new = change(K1, "set_priority", priority=254)
    assert diff(K1, new) == ["-     priority 200", "+     priority 254"]
    assert find(new, "eth1", 11).priority == 254 and find(new, "eth2", 12).priority == 200
    assert change(K1, "set_priority", interface="eth2", vrid=12, priority=1).count("priority 200") == 1


def test_k1_resign_comments_out_the_block_and_restore_gives_the_file_back_byte_for_byte():
    resigned = change(K1, "resign")
    inst = find(resigned, "eth1", 11)
    assert inst.shutdown and not find(resigned, "eth2", 12).shutdown
    block = resigned.splitlines()[inst.start : inst.end + 1]
    assert block[0] == f"{SHUTDOWN_MARK}vrrp_instance klan {{" and all(ln.startswith(SHUTDOWN_MARK) for ln in block)
    assert len(diff(K1, resigned)) == 2 * len(block)
    assert change(resigned, "resign") == resigned  # twice is once
    assert change(resigned, "restore", priority=200) == K1


def test_k1_restore_brings_back_the_configured_priority_after_a_pin():
    pinned = change(K1, "set_priority", priority=254)
    assert change(pinned, "restore", priority=200) == K1
    assert change(K1, "restore", priority=200) == K1  # nothing to restore: nothing changes


def test_k1_a_resigned_instance_keeps_its_mark_when_its_priority_changes():
    moved = change(change(K1, "resign"), "set_priority", priority=1)
    inst = find(moved, "eth1", 11)
    assert inst.shutdown and inst.priority == 1
    assert f"{SHUTDOWN_MARK}    priority 1" in moved.splitlines()


def test_k1_virtual_addresses_are_added_once_and_removed():
    added = change(K1, "add_address", address="198.18.4.7/24")
    assert diff(K1, added) == ["+         198.18.4.7/24"]
    assert find(added, "eth1", 11).addresses == ("198.18.4.1/24", "198.18.4.7/24")
    assert change(added, "add_address", address="198.18.4.7/24") == added
    assert change(added, "remove_address", address="198.18.4.7/24") == K1
    # Removal matches the address, whatever prefix length the file wrote it with.
    assert find(change(K1, "remove_address", address="198.18.4.1/32"), "eth1", 11).addresses == ()


def test_k1_preempt_off_and_on():
    off = change(K1, "preempt", enabled=False)
    assert diff(K1, off) == ["+     nopreempt"] and find(off, "eth1", 11).nopreempt
    assert change(off, "preempt", enabled=False) == off
    assert change(off, "preempt", enabled=True) == K1


@pytest.mark.parametrize("op", OPERATIONS)
def test_every_operation_edits_k1_and_leaves_the_other_instance_alone(op):
    new = change(K1, op, priority=254, address="198.18.4.1/24" if op == "remove_address" else "198.18.4.9/24",
                 enabled=False)
    assert new != K1, op
    lines, other = K1.splitlines(), find(K1, "eth2", 12)
    kup = lines[other.start : other.end + 1]
    assert new.splitlines()[-len(kup):] == kup and new.endswith("}\n")


# -- other shapes --------------------------------------------------------------------------------------

def test_set_priority_adds_the_line_when_the_instance_has_none():
    new = change(CONF, "set_priority", interface="eth2", vrid=12, priority=50)
    assert find(new, "eth2", 12).priority == 50 and find(new, "eth1", 11).priority == 200
    assert diff(CONF, new) == ["+     priority 50"]


def test_one_line_virtual_ipaddress_is_opened_up_to_edit_it():
    new = change(CONF, "remove_address", interface="eth2", vrid=12, address="198.18.5.9/24")
    assert find(new, "eth2", 12).addresses == ("198.18.5.1/24",)


def test_preempt_on_removes_nopreempt_from_a_block_with_the_brace_on_the_next_line():
    new = change(CONF, "preempt", interface="eth2", vrid=12, enabled=True)
    assert not find(new, "eth2", 12).nopreempt and diff(CONF, new) == ["-     nopreempt"]


# -- refusals -----------------------------------------------------------------------------------------

def test_a_missing_instance_is_a_clear_error():
    with pytest.raises(ConfEditError, match="no vrrp_instance with interface eth9 and virtual_router_id 11"):
        change(CONF, "set_priority", interface="eth9", priority=100)


def test_two_instances_for_one_interface_and_vrid_are_refused():
    twice = K1 + K1[K1.index("vrrp_instance klan"):K1.index("vrrp_instance kup")]
    with pytest.raises(ConfEditError, match="2 vrrp_instance blocks with interface eth1 and virtual_router_id 11"):
        change(twice, "set_priority", priority=254)


@pytest.mark.parametrize("op,kw,why", [
    ("add_address", {"mode": "static", "address": "198.18.3.1/24"}, "static gateway address is not keepalived config"),
    ("set_priority", {"protocol": "hsrp", "priority": 100}, "keepalived has no HSRP"),
    ("set_priority", {"vrid": None, "priority": 100}, "no virtual_router_id"),
    ("set_priority", {}, "no priority"),
    ("restore", {}, "no priority"),
    ("add_address", {}, "no address"),
    ("remove_address", {}, "no address"),
])
def test_a_change_that_lacks_what_it_needs_is_refused(op, kw, why):
    with pytest.raises(ConfEditError, match=why):
        change(K1, op, **kw)


def test_an_unknown_operation_is_refused():
    from netha.errors import TemplateError

    with pytest.raises(TemplateError, match="unknown operation"):
        apply_change(K1, "track_script", values())  # type: ignore[arg-type]


def test_a_refused_change_is_a_netha_error_not_a_value_error():
    from netha.errors import NethaError

    assert issubclass(ConfEditError, NethaError) and not issubclass(ConfEditError, ValueError)
    for bad in (0, 255, "254", True):
        with pytest.raises(ConfEditError, match="invalid priority"):
            set_priority(K1, "eth1", 11, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("line", ["    virtual_router_id ²", "    virtual_router_id 300", "    virtual_router_id ٣"])
def test_a_vrid_that_is_not_ascii_or_out_of_range_is_no_vrid(line):
    conf = CONF.replace("    virtual_router_id 11", line)
    assert {i.name: i.vrid for i in instances(conf)}["klan"] is None


# -- what a plan shows ---------------------------------------------------------------------------------

def test_each_change_is_described_for_a_plan():
    v = "vrrp_instance (interface eth1, virtual_router_id 11)"
    assert describe_change("set_priority", values(priority=254)) == [f"{v}: priority 254"]
    assert describe_change("resign", values()) == [f"{v}: shut down (block commented out with '#netha-shutdown#', keepalived reloaded)"]
    assert describe_change("restore", values(priority=200)) == [f"{v}: running again (block uncommented)", f"{v}: priority 200"]
    assert describe_change("add_address", values(address="198.18.4.7/24")) == [f"{v}: virtual_ipaddress add 198.18.4.7/24"]
    assert describe_change("remove_address", values(address="198.18.4.7/24")) == [f"{v}: virtual_ipaddress remove 198.18.4.7/24"]
    assert describe_change("preempt", values(enabled=False)) == [f"{v}: nopreempt"]
    assert describe_change("preempt", values(enabled=True)) == [f"{v}: preempt (nopreempt removed)"]
