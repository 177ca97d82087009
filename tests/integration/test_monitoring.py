"""Monitoring and detection on the real lab: FRR vrrpd, sshd, snmpd and real advertisements."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from .labtools import (
    cut_management, json_lines, make_inventory, netha, netha_bg, ns, sh, status, stop, switch_port, vrrp_state, wait_for,
)

pytestmark = pytest.mark.integration


def watch(inv, tmp_path, name, interval=0.2):
    """`netha status --watch --json` in the background: one JSON document per refresh."""
    log = tmp_path / f"{name}.jsonl"
    proc = netha_bg("status", "-i", str(inv), "--watch", "--json", "--interval", str(interval), log=log,
                    errors=tmp_path / f"{name}.stderr")
    return proc, log


def docs(log):
    return json_lines(log)


def latest(log):
    d = docs(log)
    return d[-1] if d else None


def all_healthy(log):
    d = latest(log)
    return bool(d) and d["groups"]["lan"]["verdict"] == "ok" and all(
        v["health"] == "healthy" for v in d["devices"].values())


def test_all_healthy_shows_r1_master_r2_backup_verdict_ok(lab, tmp_path):
    inv = make_inventory(tmp_path)
    code, doc = status(inv)
    lan = doc["groups"]["lan"]
    assert code == 0, doc
    assert lan["verdict"] == "ok"
    assert lan["master"] == "r1"
    assert lan["members"]["r1"]["state"] == "master"
    assert lan["members"]["r2"]["state"] == "backup"
    assert set(lan["masters"]["adverts"]) == {"r1"}
    assert lan["members"]["r1"]["checksum_style"] == "rfc5798"
    assert doc["devices"]["r1"]["ssh"]["ok"] and doc["devices"]["r1"]["snmp"]["ok"]
    assert doc["devices"]["r2"]["snmp"]["ok"], "SNMPv3 to r2"


def test_status_table_renders_for_humans(lab, tmp_path):
    r = netha("status", "-i", str(make_inventory(tmp_path)))
    assert r.returncode == 0, r.stderr
    assert "lan" in r.stdout and "OK" in r.stdout and "r1 (primary)" in r.stdout


def test_controller_blindness_is_unreachable_never_failed(lab, tmp_path):
    inv = make_inventory(tmp_path)
    proc, log = watch(inv, tmp_path, "blind", interval=0.1)
    try:
        wait_for(lambda: all_healthy(log), 15, what="all healthy first")
        seen = len(docs(log))
        cut_management("r1", True)
        # The poll interval is the inventory's (1 s in the lab): SSH and SNMP time out, then the damping.
        wait_for(lambda: latest(log)["devices"]["r1"]["health"] == "unreachable", 20, what="r1 unreachable")
        time.sleep(2.0)  # and it stays so: more polls, never failed
        after = docs(log)[seen:]
    finally:
        cut_management("r1", False)
        stop(proc)
    assert len(after) > 20
    assert all(d["groups"]["lan"]["verdict"] == "ok" for d in after), [d["groups"]["lan"]["reason"] for d in after]
    assert all(d["devices"]["r1"]["health"] != "failed" for d in docs(log))
    assert after[-1]["devices"]["r1"]["health"] == "unreachable"
    assert "heard" in after[-1]["devices"]["r1"]["reason"]


def test_hard_failure_r1_failed_r2_master(lab, tmp_path):
    inv = make_inventory(tmp_path)
    proc, log = watch(inv, tmp_path, "hard", interval=0.1)
    try:
        wait_for(lambda: all_healthy(log), 15, what="all healthy first")
        lab.kill_daemons("r1")
        t0 = time.monotonic()
        wait_for(lambda: latest(log)["devices"]["r1"]["health"] == "failed", 10, what="r1 failed")
        detected = time.monotonic() - t0
        wait_for(lambda: latest(log)["groups"]["lan"]["master"] == "r2", 5, what="r2 master")
        doc = latest(log)
    finally:
        stop(proc)
        lab.restart_daemons("r1")
        wait_for(lambda: vrrp_state("r1") == "Master", 20, what="r1 master again")
    assert doc["groups"]["lan"]["verdict"] == "failed-over"
    print(f"hard failure detected after {detected:.2f}s (status refresh 100 ms)")


def test_gray_failure_uplink_down_degrades_group_while_r1_still_master(lab, tmp_path):
    inv = make_inventory(tmp_path)
    switch_port("r1", "eth2", False)
    try:
        def degraded():
            code, doc = status(inv)
            return doc if doc["groups"]["lan"]["verdict"] == "degraded" else None

        doc = wait_for(degraded, 10, interval=0.2, what="lan degraded")
    finally:
        switch_port("r1", "eth2", True)
    lan = doc["groups"]["lan"]
    assert lan["master"] == "r1"
    assert lan["members"]["r1"]["state"] == "master"
    assert lan["members"]["r1"]["tracks"]["interface eth2"] == "down"
    assert "eth2 down" in lan["reason"]
    assert doc["groups"]["upstream"]["master"] == "r2"


def test_split_brain_when_adverts_between_routers_are_dropped(lab, tmp_path):
    inv = make_inventory(tmp_path)
    rules = [
        "add table bridge nh_split",
        "add chain bridge nh_split drops { type filter hook forward priority 0 ; policy accept ; }",
        'add rule bridge nh_split drops iifname "r1-eth1" oifname "r2-eth1" ip protocol 112 drop',
        'add rule bridge nh_split drops iifname "r2-eth1" oifname "r1-eth1" ip protocol 112 drop',
    ]
    for rule in rules:
        sh("ip", "netns", "exec", ns("sw"), "nft", rule)
    try:
        wait_for(lambda: vrrp_state("r2") == "Master", 5, what="r2 master too")

        def split():
            code, doc = status(inv)
            return (code, doc) if doc["groups"]["lan"]["verdict"] == "split-brain" else None

        code, doc = wait_for(split, 10, interval=0.2, what="split-brain verdict")
    finally:
        sh("ip", "netns", "exec", ns("sw"), "nft", "delete", "table", "bridge", "nh_split", check=False)
        wait_for(lambda: vrrp_state("r2") == "Backup", 10, what="r2 backup again")
    assert code == 2
    assert sorted(doc["groups"]["lan"]["masters"]["adverts"]) == ["r1", "r2"]


def test_hung_device_is_unknown_and_the_others_are_still_polled(lab, tmp_path):
    inv = make_inventory(tmp_path)
    # Freeze r2's vrrpd: vtysh's `show vrrp json` then waits forever on it.
    pid = lab.daemon_pid("r2", "vrrpd")
    proc, log = watch(inv, tmp_path, "hang", interval=0.2)
    try:
        wait_for(lambda: all_healthy(log), 15, what="all healthy first")
        os.kill(pid, signal.SIGSTOP)
        doc = wait_for(lambda: (d := latest(log)) and d["devices"]["r2"]["health"] == "unknown" and d, 20, what="r2 unknown")
        n = len(docs(log))
        time.sleep(1.0)
        later = docs(log)[n:]
        assert proc.poll() is None, "the watcher ended while r2 hung"
    finally:
        os.kill(pid, signal.SIGCONT)
        stop(proc)
    # It was still running and ended on SIGTERM itself (stop() would have had to SIGKILL a stuck one).
    assert proc.returncode == -signal.SIGTERM
    assert "SSH" in doc["devices"]["r2"]["reason"]
    assert doc["devices"]["r1"]["health"] == "healthy"
    assert len(later) >= 3, "status kept refreshing while r2 hung"
    assert all(d["devices"]["r1"]["ssh"]["ok"] for d in later)
    assert doc["groups"]["lan"]["master"] == "r1"
