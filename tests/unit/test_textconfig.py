"""Config diffs for IOS-style text configs: the commands that bring a device back to a snapshot."""

from __future__ import annotations

from pathlib import Path

from netha.drivers.textconfig import config_body, parse_blocks, replace_commands

MASTER = (Path(__file__).parent / "fixtures" / "frr" / "running_config" / "master.txt").read_text()


def test_config_body_drops_banners():
    body = config_body(MASTER)
    assert not body.startswith("Building configuration")
    assert "Current configuration" not in body
    assert body.endswith("end\n")


def test_identical_configs_need_no_commands():
    assert replace_commands(MASTER, MASTER) == []


def test_changed_priority_is_replaced_inside_its_interface():
    target = MASTER.replace("vrrp 1 priority 200", "vrrp 1 priority 250")
    assert replace_commands(MASTER, target) == [
        "interface eth1", "no vrrp 1 priority 200", "vrrp 1 priority 250", "exit",
    ]


def test_added_shutdown_is_removed_by_negation():
    current = MASTER.replace(" vrrp 1 ip 198.18.100.1\n", " vrrp 1 ip 198.18.100.1\n vrrp 1 shutdown\n")
    assert replace_commands(current, MASTER) == ["interface eth1", "no vrrp 1 shutdown", "exit"]


def test_negated_line_is_restored_by_dropping_no():
    current = MASTER.replace("no ip forwarding", "ip forwarding")
    assert "no ip forwarding" in replace_commands(current, MASTER)


def test_removing_a_whole_vrrp_instance_skips_its_sub_lines():
    target = "\n".join(l for l in MASTER.splitlines() if "vrrp" not in l) + "\n"
    cmds = replace_commands(MASTER, target)
    assert cmds == ["interface eth1", "no vrrp 1", "exit"]


def test_wiped_router_gets_its_vrrp_block_back_in_order():
    wiped = "frr version 8.4.4\nhostname capa\n!\nend\n"
    cmds = replace_commands(wiped, MASTER)
    i = cmds.index("interface eth1")
    assert cmds[i + 1 : i + 6] == [
        "vrrp 1", "vrrp 1 priority 200", "vrrp 1 advertisement-interval 100", "vrrp 1 ip 198.18.100.1", "exit",
    ]


def test_blocks_keep_children_in_order():
    blocks = parse_blocks(MASTER)
    assert blocks["interface eth1"][0] == "vrrp 1"
