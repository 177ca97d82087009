"""``netha parse``: what netha reads from a captured output file, without an inventory or a device."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netha.cli.main import app

CORPUS = Path(__file__).resolve().parents[1] / "fixtures"
VRRPV3 = CORPUS / "cisco_xe/show_vrrp_all/genie_showvrrp_golden_output3.txt"
STANDBY = CORPUS / "cisco_ios/show_standby/ntc_cisco_ios_show_standby1.txt"

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["parse", *args])


def test_json_is_the_groups_as_the_corpus_expects_them():
    result = _run("--platform", "cisco_xe", "--kind", "vrrp", "--json", str(VRRPV3))
    assert result.exit_code == 0, result.output
    groups = json.loads(result.stdout)
    expected = json.loads(VRRPV3.with_name(VRRPV3.stem + ".expected.json").read_text())
    assert groups == expected
    assert {"interface", "group", "state", "priority", "configured_priority", "virtual_addresses",
            "master_address", "preempt"} <= set(groups[0])


@pytest.mark.parametrize("name", ["ios", "cisco_ios", "Cisco-IOS", "cisco_xe"])
def test_platform_names_as_the_inventory_takes_them(name):
    result = _run("-p", name, "-k", "hsrp", "--json", str(STANDBY))
    assert result.exit_code == 0, result.output
    [group] = json.loads(result.stdout)
    assert (group["interface"], group["protocol"], group["group"], group["state"]) == ("Vlan76", "hsrp", 76, "backup")
    assert group["virtual_addresses"][0] == "128.88.163.190" and len(group["virtual_addresses"]) == 5


def test_table_without_json_escapes_what_the_device_printed(tmp_path):
    capture = tmp_path / "vrrp.txt"
    capture.write_text("Vlan[red]10 - Group 10\n  State is Backup\n  Virtual IP address is 198.19.10.1\n"
                       "  Priority is 90 (cfgd 110)\n  Master Router is 198.19.10.3, priority is 120\n")
    result = _run("-p", "cisco_ios", "-k", "vrrp", str(capture))
    assert result.exit_code == 0, result.output
    assert "Vlan[red]10" in result.stdout
    assert "198.19.10.3" in result.stdout and "110" in result.stdout


def test_skipped_lines_and_groups_are_listed_and_exit_1(tmp_path):
    capture = tmp_path / "vrrp.txt"
    capture.write_text("Vlan10 - Group 10\n  State is Master\n  A line from a newer release\n"
                       "Vlan20 - Group 20\n  Virtual IP address is 198.19.20.1\n")
    result = _run("-p", "cisco_ios", "-k", "vrrp", "--json", str(capture))
    assert result.exit_code == 1
    assert [g["group"] for g in json.loads(result.stdout)] == [10]
    assert "A line from a newer release" in result.stderr
    assert "unreadable" in result.stderr and "Vlan20 group 20" in result.stderr


@pytest.mark.parametrize("args,message", [
    (["-p", "cisco_ios", "-k", "vrrp", "{missing}"], "{missing}: cannot read"),
    (["-p", "hp_procurve", "-k", "vrrp", "{file}"], "{file}: platform 'hp_procurve'"),
    (["-p", "cisco_ios", "-k", "varp", "{file}"], "{file}: cisco_ios: netha parse has no kind 'varp'"),
    (["-p", "cisco_ios", "-k", "hsrp", "{file}"], "{file}: show standby: not show standby output"),
    (["-p", "cisco_ios", "-k", "routes", "{file}"], "{file}: show ip route: neither a routing entry"),
])
def test_bad_file_platform_or_kind_is_one_line_naming_the_file_and_exit_2(tmp_path, args, message):
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("Interface  IP-Address  OK? Method Status  Protocol\n")
    names = {"file": str(garbage), "missing": str(tmp_path / "nope.txt")}
    result = _run(*[a.format(**names) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message.format(**names) in lines[0]
    assert "Traceback" not in result.output


def test_interfaces_and_routes_of_ios():
    brief = next((CORPUS / "cisco_ios/show_ip_interface_brief").glob("*.txt"))
    result = _run("-p", "cisco_ios", "-k", "interfaces", "--json", str(brief))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(brief.with_name(brief.stem + ".expected.json").read_text())
    route = CORPUS / "cisco_xe/show_ip_route/genie_iosxe_showiprouteword_golden_output_2.txt"
    result = _run("-p", "cisco_xe", "-k", "routes", "--json", str(route))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"10.16.2.2/32": True}


def test_frr_json_captures():
    frr = Path(__file__).resolve().parent / "fixtures" / "frr"
    result = _run("-p", "frr", "-k", "routes", "--json", str(frr / "show_ip_route_json" / "present.txt"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"198.18.50.0/24": True}
    result = _run("-p", "frr", "-k", "vrrp", "--json", str(frr / "show_vrrp_json" / "master.txt"))
    assert result.exit_code == 0, result.output
    assert [(g["interface"], g["group"], g["state"]) for g in json.loads(result.stdout)] == [("eth1", 1, "master")]
    result = _run("-p", "frr", "-k", "hsrp", str(frr / "show_vrrp_json" / "master.txt"))
    assert result.exit_code == 2 and "netha parse has no kind 'hsrp'" in result.stderr


def test_keepalived_captures():
    fix = Path(__file__).resolve().parent / "fixtures" / "keepalived"
    result = _run("-p", "keepalived", "-k", "routes", "--json", str(fix / "ip_route" / "present.txt"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"198.18.5.0/24": True}
    result = _run("-p", "keepalived", "-k", "routes", "--json", str(fix / "ip_route" / "absent.txt"))
    assert result.exit_code == 0 and json.loads(result.stdout) == {}
    result = _run("-p", "keepalived", "-k", "vrrp", "--json", str(fix / "json_dump" / "k1-master-two-instances.txt"))
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 2
