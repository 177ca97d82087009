"""The keepalived pair (k1, k2) of the lab: status, failover, failback and the daemon, as on the FRR pair.

k1 and k2 run Debian's keepalived (VRRPv3, 100 ms adverts) with sshd (root by the lab's key,
netmiko ``linux``) and snmpd as AgentX master for keepalived's VRRPv3 MIB. h3 probes wan's
second leg (198.18.5.100) through the keepalived LAN gateway 198.18.4.1 every 10 ms.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from netha.drivers.keepalived_conf import SHUTDOWN_MARK
from netha.lab.builder import node_daemons
from netha.lab.faults import holds, keepalived_conf

from .labtools import make_inventory, netha, netha_bg, probes, status, stop, switch_port, wait_for

pytestmark = pytest.mark.integration

KLAN_VIP = "198.18.4.1"


def kprobes(tmp: Path):
    return probes(tmp, src="h3", dst="198.18.5.100", dst_node="wan")


@contextmanager
def daemon(inv: Path, log: Path):
    """`netha run` on INV, started and settled; stopped on the way out."""
    proc = netha_bg("--log-level", "info", "run", "-i", str(inv), log=log)
    try:
        wait_for(lambda: "watching" in log.read_text() or proc.poll() is not None, 20, what="daemon start")
        assert proc.poll() is None, log.read_text()
        time.sleep(1.0)
        yield proc
    finally:
        stop(proc)


def test_status_reads_the_keepalived_pair_over_ssh_and_snmp(kbase, tmp_path):
    inv = make_inventory(tmp_path)
    rc, doc = status(inv)
    groups = doc["groups"]
    assert groups["klan"]["master"] == "k1" and groups["kup"]["master"] == "k1", groups["klan"]
    for dev in ("k1", "k2"):
        assert doc["devices"][dev]["health"] == "healthy", doc["devices"][dev]
    members = groups["klan"]["members"]
    assert members["k1"]["state"] == "master" and members["k2"]["state"] == "backup"
    assert members["k1"]["priority"] == 200 and members["k2"]["priority"] == 100
    assert members["k1"]["heard"] is True  # the controller's listener on the keepalived LAN hears k1
    assert doc["devices"]["k1"]["snmp"]["ok"] and doc["devices"]["k2"]["snmp"]["ok"]


def test_planned_failover_and_failback_on_keepalived_lose_at_most_one_probe(kbase, tmp_path):
    inv = make_inventory(tmp_path)
    with kprobes(tmp_path) as run:
        r = netha("failover", "klan", "--to", "k2", "-i", str(inv), "--yes")
        assert r.returncode == 0, r.stdout + r.stderr
        assert holds("k2", KLAN_VIP) and not holds("k1", KLAN_VIP)
        assert "priority 254" in keepalived_conf("k2") and "priority 1\n" in keepalived_conf("k1")
        lost_failover = run.loss().lost
        mark = time.monotonic()
        time.sleep(0.3)
        r = netha("failback", "klan", "-i", str(inv), "--yes")
        assert r.returncode == 0, r.stdout + r.stderr
        time.sleep(0.3)
        lost_failback = run.loss(since=mark).lost
    assert holds("k1", KLAN_VIP) and not holds("k2", KLAN_VIP)
    assert keepalived_conf("k1") == kbase.configs["k1"] and keepalived_conf("k2") == kbase.configs["k2"]
    print(f"keepalived planned failover lost {lost_failover}, failback lost {lost_failback}")
    assert lost_failover <= 1 and lost_failback <= 1


def test_rejected_change_on_k1_rolls_k2_back_byte_identical(kbase, tmp_path):
    # k1's keepalived.conf gets a second, commented-out (netha-shut-down) copy of klan's block: keepalived
    # ignores it, but netha's structural edit cannot tell which block to lower and refuses the change:
    # the plan fails at step 2 (lower k1) and k2, raised at step 1, is rolled back.
    conf = keepalived_conf("k1")
    block = conf[conf.index("vrrp_instance klan"):conf.index("vrrp_instance kup")].rstrip("\n")
    ambiguous = conf + "\n" + "\n".join(SHUTDOWN_MARK + ln for ln in block.splitlines()) + "\n"
    (node_daemons("k1").dir / "keepalived.conf").write_text(ambiguous)
    inv = make_inventory(tmp_path)
    r = netha("failover", "klan", "--to", "k2", "-i", str(inv), "--yes")
    out = " ".join((r.stdout + r.stderr).split())  # the console wraps long lines
    assert r.returncode != 0
    assert "rolled back" in out.lower(), out
    assert "2 vrrp_instance blocks with interface eth1" in out, out
    assert keepalived_conf("k1") == ambiguous and keepalived_conf("k2") == kbase.configs["k2"]
    wait_for(lambda: holds("k1", KLAN_VIP) and not holds("k2", KLAN_VIP), 5, what="k1 master again")


def test_gray_failure_daemon_makes_k1_resign_and_traffic_flows_via_k2(kbase, tmp_path):
    inv = make_inventory(tmp_path)
    log = tmp_path / "daemon.log"
    with daemon(inv, log):
        with kprobes(tmp_path) as run:
            t_fail = time.monotonic()
            switch_port("k1", "eth2", False)  # k1 loses its uplink but keeps advertising on the LAN
            wait_for(lambda: holds("k2", KLAN_VIP), 5, what="k2 master of klan")
            time.sleep(1.0)
            loss = run.loss(since=t_fail)
        # kup (on k1's dead uplink) moved by VRRP itself; the daemon pins k2 there, verified on the
        # devices alone: the controller has no listener on that segment.
        wait_for(lambda: "emergency of kup: k2 is master (verified" in log.read_text(), 10, what="kup pinned to k2")
    decisions = [ln.split("decision: ", 1)[1] for ln in log.read_text().splitlines() if "decision: " in ln]
    assert any(d.startswith("failover klan to k2") for d in decisions), decisions
    assert re.search(r"#netha-shutdown# vrrp_instance klan\s*\{", keepalived_conf("k1"))  # klan, not klan6
    assert loss.recovered_at is not None, "probes from h3 reach wan again through k2"
    print(f"keepalived gray failure with the daemon: {loss.lost} probes lost, black hole {loss.blackhole * 1000:.0f} ms")


def test_hard_failure_of_k1_keepalived_moves_by_itself_and_the_daemon_pins_k2(kbase, tmp_path, lab):
    inv = make_inventory(tmp_path)
    log = tmp_path / "daemon.log"
    with daemon(inv, log):
        with kprobes(tmp_path) as run:
            t_fail = time.monotonic()
            for port in ("eth1", "eth2"):
                switch_port("k1", port, False)
            lab.kill_daemons("k1")  # keepalived, sshd, snmpd: the router is gone
            wait_for(lambda: "priority 254" in keepalived_conf("k2"), 10, what="k2 pinned at 254")
            time.sleep(0.5)
            loss = run.loss(since=t_fail)
    decisions = [ln.split("decision: ", 1)[1] for ln in log.read_text().splitlines() if "decision: " in ln]
    assert any(d.startswith("pin klan to k2") for d in decisions), decisions
    assert holds("k2", KLAN_VIP)
    assert loss.recovered_at is not None
    print(f"keepalived hard failure: {loss.lost} probes lost, black hole {loss.blackhole * 1000:.0f} ms (VRRP's own takeover)")
