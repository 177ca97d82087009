"""The lab itself: real FRR, SSH into vtysh, SNMP, traffic through the virtual gateway, clean teardown."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from netha import lab as labmod
from netha.lab.builder import LabState, existing_namespaces

from .labtools import ROOT, sh, vrrp_state

pytestmark = pytest.mark.integration


def in_ctl(code: str) -> subprocess.CompletedProcess:
    """Run Python inside the controller's namespace (where the management segment is)."""
    return subprocess.run(["ip", "netns", "exec", "nh-ctl", sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_r1_master_r2_backup_over_ssh_with_netmiko(lab):
    r = in_ctl("""
        import json
        from netha.inventory import load_inventory
        from netha.connect import make_driver
        inv = load_inventory("inventories/lab.yml")
        out = {}
        for dev in ("r1", "r2"):
            with make_driver(inv, dev) as drv:
                out[dev] = {v.vrid: v.state for v in drv.get_vrrp()}
        print(json.dumps(out))
    """)
    assert r.returncode == 0, r.stderr
    states = json.loads(r.stdout)
    assert states["r1"]["1"] == "master"
    assert states["r2"]["1"] == "backup"


def test_snmp_sysname_answers_with_each_routers_name(lab):
    community = (labmod.run_dir() / "secrets" / "snmp-community").read_text().strip()
    for node, ip in (("r1", "198.18.0.11"), ("r2", "198.18.0.12")):
        r = sh("ip", "netns", "exec", "nh-ctl", "snmpget", "-v2c", "-c", community, "-Oqv", ip, "1.3.6.1.2.1.1.5.0")
        assert r.stdout.strip().strip('"') == node


def test_h1_pings_wan_through_the_virtual_gateway(lab):
    r = sh("ip", "netns", "exec", "nh-h1", "ping", "-c", "3", "-i", "0.2", "-W", "1", "198.18.2.100")
    assert " 0% packet loss" in r.stdout
    route = sh("ip", "-n", "nh-h1", "route", "show", "default").stdout
    assert "via 198.18.1.1" in route


def test_second_up_changes_nothing(lab):
    before = {d: lab.daemons("r1").alive()[d] for d in ("zebra", "vrrpd", "sshd", "snmpd")}
    labmod.up()
    after = {d: lab.daemons("r1").alive()[d] for d in ("zebra", "vrrpd", "sshd", "snmpd")}
    assert before == after


def test_breaking_r1_lan_link_makes_r2_master(lab):
    sh("ip", "-n", "nh-sw", "link", "set", "r1-eth1", "down")
    try:
        import time

        deadline = time.monotonic() + 5
        while vrrp_state("r2") != "Master" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert vrrp_state("r2") == "Master"
    finally:
        sh("ip", "-n", "nh-sw", "link", "set", "r1-eth1", "up")
    deadline = time.monotonic() + 5
    while vrrp_state("r1") != "Master" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert vrrp_state("r1") == "Master"


def test_down_leaves_nothing_then_up_again(lab, tmp_path):
    import os
    import pwd
    from pathlib import Path

    labmod.down()
    assert not [ns for ns in existing_namespaces() if ns.startswith("nh-")]
    assert not Path("/etc/frr/r1").exists() and not Path("/var/run/frr/r1").exists()
    assert not labmod.run_dir().exists()
    with pytest.raises(KeyError):
        pwd.getpwnam("netha-lab")
    procs = subprocess.run(["pgrep", "-f", "netha-lab|-N r1|-N r2"], capture_output=True, text=True).stdout.split()
    assert [p for p in procs if int(p) != os.getpid()] == []
    assert LabState.load() is None
    labmod.up()  # the other tests of the session still need it
