"""Config diffs for IOS-style text configs: the commands that bring a device back to a snapshot."""

from __future__ import annotations

from pathlib import Path

import ast

from netha.drivers import frr
from netha.drivers.textconfig import config_body, parse_blocks, replace_commands

MASTER = (Path(__file__).parent / "fixtures" / "frr" / "running_config" / "master.txt").read_text()


def test_config_body_drops_the_banners_the_platform_names():
    body = config_body(MASTER, frr.SPEC.volatile_config)
    assert not body.startswith("Building configuration")
    assert "Current configuration" not in body
    assert body.startswith("!\nfrr version 8.4.4\n")
    assert body.endswith("end\n")


def test_config_body_without_platform_data_drops_no_line():
    body = config_body("\r\n\nBuilding configuration...\r\n!Time: now  \nhostname r1\n\n")
    assert body == "Building configuration...\n!Time: now\nhostname r1\n"


def test_textconfig_knows_no_platform():
    source = (Path(__file__).resolve().parents[2] / "netha" / "drivers" / "textconfig.py").read_text()
    tree = ast.parse(source)
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}  # docstrings may name platforms
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]
    assert "exit-address-family" in strings
    assert not [s for s in strings if any(w in s for w in ("frr", "Building configuration", "Current configuration"))]


def test_fixed_lines_of_the_platform_are_never_replaced():
    upgraded = MASTER.replace("frr version 8.4.4", "frr version 9.1").replace("frr defaults traditional", "frr defaults datacenter")
    assert replace_commands(upgraded, MASTER, frr.SPEC.fixed_config) == []
    # Without FRR's data they are config lines like any other.
    assert "frr version 8.4.4" in replace_commands(upgraded, MASTER)


def test_frr_driver_restores_a_snapshot_without_touching_its_version_lines():
    from netha.transport.ssh import SshParams

    drv = frr.FrrDriver(SshParams(device="r1", host="198.18.0.11", username="u",
                                  netmiko_device_type=frr.SPEC.netmiko_device_type))
    running = MASTER.replace("frr version 8.4.4", "frr version 9.1").replace("vrrp 1 priority 200", "vrrp 1 priority 254")
    sent: list[str] = []
    drv.run = lambda cmd, timeout=None: running if cmd == "show running-config" else sent.append(cmd) or ""  # type: ignore[method-assign]
    drv.replace_config(MASTER)
    # ("end" goes only to an open session.)
    assert sent == ["configure terminal", "interface eth1", "no vrrp 1 priority 254", "vrrp 1 priority 200", "exit"]
    assert drv.same_config(running.replace("9.1", "8.4.4").replace("254", "200"), "\n" + MASTER)


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
