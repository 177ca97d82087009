"""The lab itself: real FRR, SSH into vtysh, SNMP, traffic through the virtual gateway, clean teardown;
two labs side by side on one host."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from netha import lab as labmod
from netha.lab.builder import LabState, existing_namespaces
from netha.lab.names import LabNames, lab_names
from netha.lab.topology import load_topology

from .labtools import ROOT, make_inventory, netha, ns, sh, vrrp_state, wait_for

pytestmark = pytest.mark.integration


def in_ctl(code: str, lab: LabNames | None = None) -> subprocess.CompletedProcess:
    """Run Python inside the controller's namespace (where the management segment is)."""
    return subprocess.run(["ip", "netns", "exec", (lab or lab_names()).netns("ctl"), sys.executable, "-c",
                           textwrap.dedent(code)], capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_r1_master_r2_backup_over_ssh_with_netmiko(lab, tmp_path):
    inv = make_inventory(tmp_path)
    r = in_ctl(f"""
        import json
        from netha.inventory import load_inventory
        from netha.connect import make_driver
        inv = load_inventory({str(inv)!r})
        out = {{}}
        for dev in ("r1", "r2"):
            with make_driver(inv, dev) as drv:
                out[dev] = {{v.vrid: v.state for v in drv.get_vrrp()}}
        print(json.dumps(out))
    """)
    assert r.returncode == 0, r.stderr
    states = json.loads(r.stdout)
    assert states["r1"]["1"] == "master"
    assert states["r2"]["1"] == "backup"


def test_snmp_sysname_answers_with_each_routers_name(lab):
    community = (labmod.run_dir() / "secrets" / "snmp-community").read_text().strip()
    for node, ip in (("r1", "198.18.0.11"), ("r2", "198.18.0.12")):
        r = sh("ip", "netns", "exec", ns("ctl"), "snmpget", "-v2c", "-c", community, "-Oqv", ip, "1.3.6.1.2.1.1.5.0")
        assert r.stdout.strip().strip('"') == node


def test_h1_pings_wan_through_the_virtual_gateway(lab):
    r = sh("ip", "netns", "exec", ns("h1"), "ping", "-c", "3", "-i", "0.2", "-W", "1", "198.18.2.100")
    assert " 0% packet loss" in r.stdout
    route = sh("ip", "-n", ns("h1"), "route", "show", "default").stdout
    assert "via 198.18.1.1" in route


def test_second_up_changes_nothing(lab):
    before = {d: lab.daemons("r1").alive()[d] for d in ("zebra", "vrrpd", "sshd", "snmpd")}
    labmod.up()
    after = {d: lab.daemons("r1").alive()[d] for d in ("zebra", "vrrpd", "sshd", "snmpd")}
    assert before == after


def test_breaking_r1_lan_link_makes_r2_master(lab):
    sh("ip", "-n", ns("sw"), "link", "set", "r1-eth1", "down")
    try:
        deadline = time.monotonic() + 5
        while vrrp_state("r2") != "Master" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert vrrp_state("r2") == "Master"
    finally:
        sh("ip", "-n", ns("sw"), "link", "set", "r1-eth1", "up")
    deadline = time.monotonic() + 5
    while vrrp_state("r1") != "Master" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert vrrp_state("r1") == "Master"


def leftovers(names: LabNames, nodes=("r1", "r2", "k1", "k2", "h1", "wan", "ctl")) -> list[str]:
    """Whatever of lab NAMES is still on the host: namespaces, files, FRR paths, its user, processes."""
    left = [f"netns {n}" for n in existing_namespaces() if names.owns_namespace(n)]
    left += [str(p) for p in [names.run_dir] + [names.frr_dir(n) for n in nodes] + [names.frr_sock(n) for n in nodes]
             if p.exists()]
    try:
        pwd.getpwnam(names.user)
        left.append(f"user {names.user}")
    except KeyError:
        pass
    # The lab's daemons name its run directory (sshd, snmpd, keepalived) or its FRR pathspace (-N) on their
    # command line; the trailing '/' and ' ' keep another lab's names (/run/netha-lab-x, -N nhx-r1) out.
    pattern = f"{names.run_dir}/|" + "|".join(f"-N {names.pathspace(n)}( |$)" for n in nodes)
    procs = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    left += [f"pid {p}: " + Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
             for p in procs if int(p) != os.getpid() and Path(f"/proc/{p}").exists()]
    return left


def test_down_leaves_nothing_then_up_again(lab, tmp_path):
    names = lab_names()
    try:
        labmod.down()
        assert leftovers(names) == []
        assert LabState.load() is None
    finally:
        labmod.up()  # the other tests of the session still need it, whatever this one found


def lab_works(names: LabNames, tmp: Path) -> None:
    """The lab answers as built: h1 pings wan through the virtual gateway, r1 is the LAN's master, and
    `netha status` from the lab's controller namespace reads every device over SSH and SNMP with the
    lab's own user, secrets and known_hosts."""
    r = sh("ip", "netns", "exec", names.netns("h1"), "ping", "-c", "2", "-i", "0.2", "-W", "1", "198.18.2.100",
           check=False)
    assert " 0% packet loss" in r.stdout, (names.name, r.stdout, r.stderr)
    show = sh("vtysh", "-N", names.pathspace("r1"), "-c", "show vrrp json").stdout
    assert {g["vrid"]: g["v4"]["status"] for g in json.loads(show)}[1] == "Master", (names.name, show)
    tmp.mkdir(parents=True, exist_ok=True)
    inv = make_inventory(tmp, lab=names)
    r = netha("status", "-i", str(inv), "--json", timeout=90)
    doc = json.loads(r.stdout)
    assert {g: doc["groups"][g]["master"] for g in ("lan", "upstream", "klan")} == \
        {"lan": "r1", "upstream": "r1", "klan": "k1"}, (names.name, r.stdout, r.stderr)


def alive(names: LabNames) -> bool:
    return all(pid for n in labmod.status(name=names.name) for pid in n.daemons.values())


def test_two_labs_side_by_side_do_not_touch_each_other_and_both_tear_down(lab, tmp_path):
    """Two more labs, built at the same time, same topology and same addresses, beside this session's lab."""
    mine = lab_names()
    a, b = (LabNames(f"{mine.name[:10]}{s}") for s in ("sa", "sb"))
    names = {a.name: a, b.name: b}
    topo_nodes = [n.name for n in load_topology(labmod.DEFAULT_TOPOLOGY).nodes.values() if n.kind == "linux"]
    hosts = {n: x.host_names(topo_nodes) for n, x in names.items()}
    for key in hosts[a.name]:  # nothing of the host is shared (the unit tests prove it for any two names)
        assert not hosts[a.name][key] & hosts[b.name][key], key
    errors: list[BaseException] = []

    def build(x: LabNames) -> None:
        try:
            labmod.up(name=x.name)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=build, args=(x,)) for x in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert not errors, errors
        for x in (a, b):
            lab_works(x, tmp_path / x.name)

        # Break a's LAN link on r1: a's r2 takes over; b's r1 stays master, b's r2 backup.
        sh("ip", "-n", a.switch, "link", "set", "r1-eth1", "down")
        try:
            wait_for(lambda: _state(a, "r2") == "Master", 5, what=f"{a.name}: r2 master")
            time.sleep(1.0)
            assert (_state(b, "r1"), _state(b, "r2")) == ("Master", "Backup")
            assert (vrrp_state("r1"), vrrp_state("r2")) == ("Master", "Backup")  # this session's lab too
        finally:
            sh("ip", "-n", a.switch, "link", "set", "r1-eth1", "up")
        wait_for(lambda: _state(a, "r1") == "Master", 10, what=f"{a.name}: r1 master again")

        labmod.down(a.name)
        assert leftovers(a, tuple(topo_nodes)) == []
        assert alive(b) and alive(mine), "another lab's down left this one whole"
        lab_works(b, tmp_path / f"{b.name}-after")
        labmod.down(b.name)
        assert leftovers(b, tuple(topo_nodes)) == []
        assert alive(mine)
        assert sorted(x for x in labmod.labs() if x in names) == []
    finally:
        for x in (a, b):
            labmod.down(x.name)


def _state(names: LabNames, node: str, vrid: int = 1) -> str:
    r = sh("vtysh", "-N", names.pathspace(node), "-c", "show vrrp json", check=False)
    try:
        return {g["vrid"]: g["v4"]["status"] for g in json.loads(r.stdout)}.get(vrid, "absent")
    except ValueError:
        return "unknown"
