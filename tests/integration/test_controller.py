"""The daemon and scheduled runs on the real lab: h1 probes wan every 10 ms, the daemon polls every 100 ms."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .labtools import (
    Daemon, cut_management, json_lines, make_inventory, netha, netha_bg, ns, probes, running_config, sh, stop, switch_port,
    vrrp_state, wait_for,
)

pytestmark = pytest.mark.integration

WEBHOOK_PORT = 18080


@pytest.fixture
def webhook(lab, tmp_path):
    out = tmp_path / "webhook.jsonl"
    out.touch()
    proc = subprocess.Popen(["ip", "netns", "exec", ns("ctl"), sys.executable, str(Path(__file__).parent / "webhook_sink.py"),
                             str(WEBHOOK_PORT), str(out)])
    time.sleep(0.5)
    yield out
    stop(proc)


def events(path: Path) -> list[dict]:
    return json_lines(path)


def metrics_text(port: int) -> str:
    return sh("ip", "netns", "exec", ns("ctl"), sys.executable, "-c",
              f"import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:{port}/metrics').read().decode())").stdout


def test_gray_failure_daemon_makes_r1_resign_and_traffic_flows_via_r2(baseline, tmp_path, webhook):
    inv = make_inventory(tmp_path, webhook=f"http://127.0.0.1:{WEBHOOK_PORT}/netha")
    d = Daemon(tmp_path, inv, metrics=19641)
    try:
        d.wait_started()
        with probes(tmp_path) as run:
            t_fail = time.monotonic()
            switch_port("r1", "eth2", False)
            wait_for(lambda: vrrp_state("r2") == "Master", 5, what="r2 master")
            time.sleep(1.0)
            loss = run.loss(since=t_fail)
        # The plan's counters and its webhook event come once the whole plan (resign, pin) is verified.
        failed_over = 'netha_failovers_total{group="lan",reason="degraded"} 1.0'
        wait_for(lambda: failed_over in metrics_text(19641), 15, what="the verified failover counted")
        wait_for(lambda: any(e["event"] == "failover" and e["group"] == "lan" for e in events(webhook)), 10,
                 what="the failover's webhook event")
        metrics = metrics_text(19641)
    finally:
        d.stop()
    assert any(x.startswith("failover lan to r2") for x in d.decisions()), d.decisions()
    assert "vrrp 1 shutdown" in running_config("r1")
    assert loss.recovered_at is not None, "probes flow again"
    print(f"gray failure with the daemon: {loss.lost} probes lost, black hole {loss.blackhole * 1000:.0f} ms")
    assert failed_over in metrics
    evs = events(webhook)
    lan_failovers = [e for e in evs if e["event"] == "failover" and e["group"] == "lan"]
    assert len(lan_failovers) == 1 and lan_failovers[0]["ok"] is True


def test_hard_failure_pins_r2_then_fails_back_only_after_hold_down(baseline, tmp_path, lab):
    inv = make_inventory(tmp_path)
    d = Daemon(tmp_path, inv)
    try:
        d.wait_started()
        lab.kill_daemons("r1")
        wait_for(lambda: vrrp_state("r2") == "Master", 5, what="VRRP moves to r2")
        wait_for(lambda: "vrrp 1 priority 254" in running_config("r2"), 10, what="daemon pins r2")
        assert any(x.startswith("pin lan to r2") for x in d.decisions())
        lab.restart_daemons("r1")
        t_back = time.monotonic()
        time.sleep(3)
        assert vrrp_state("r2") == "Master" and vrrp_state("r1") == "Backup", "no preemption before hold_down"
        wait_for(lambda: vrrp_state("r1") == "Master", 30, what="failback after hold_down")
        waited = time.monotonic() - t_back
        wait_for(lambda: "priority 254" not in running_config("r2"), 15, what="every group failed back")
    finally:
        d.stop()
    assert any(x.startswith("failback lan to r1") for x in d.decisions()), d.decisions()
    assert waited >= 10 - 0.5, f"failback after {waited:.1f}s, hold_down is 10s"


def test_flapping_uplink_gives_at_most_one_failover_and_one_failback(baseline, tmp_path):
    inv = make_inventory(tmp_path)
    d = Daemon(tmp_path, inv)
    try:
        d.wait_started()
        for _ in range(10):
            switch_port("r1", "eth2", False)
            time.sleep(1.5)
            switch_port("r1", "eth2", True)
            time.sleep(1.5)
        time.sleep(12)  # hold_down (10 s) after the last flap
    finally:
        d.stop()
    lan = [x for x in d.decisions() if x.split()[1] == "lan"]
    failovers = [x for x in lan if x.split()[0] in ("failover", "pin")]
    failbacks = [x for x in lan if x.split()[0] == "failback"]
    assert len(failovers) <= 1, failovers
    assert len(failbacks) <= 1, failbacks


def test_blind_controller_takes_no_action_for_30_seconds(baseline, tmp_path):
    inv = make_inventory(tmp_path)
    d = Daemon(tmp_path, inv)
    try:
        d.wait_started()
        before = {n: running_config(n) for n in ("r1", "r2")}
        cut_management("r1", True)
        time.sleep(30)
        cut_management("r1", False)
        time.sleep(1)
    finally:
        d.stop()
    acts = [x for x in d.decisions() if not x.startswith("alert")]
    assert acts == [], acts
    assert {n: running_config(n) for n in ("r1", "r2")} == before
    assert vrrp_state("r1") == "Master"


def test_kill_9_mid_plan_restarted_daemon_ends_consistent(baseline, tmp_path):
    inv = make_inventory(tmp_path)
    marker = tmp_path / "paused"
    d = Daemon(tmp_path, inv, name="first", env={"NETHA_TEST_PAUSE": f"after-push-1:{marker}"})
    d.wait_started()
    switch_port("r1", "eth2", False)
    wait_for(marker.exists, 15, what="daemon paused after pushing step 1")
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(5)
    marker.unlink()
    d2 = Daemon(tmp_path, inv, name="second")
    try:
        d2.wait_started()
        time.sleep(3)
    finally:
        d2.stop()
    assert "recovered: plan" in d2.text(), d2.text()[-2000:]
    masters = [n for n in ("r1", "r2") if vrrp_state(n) == "Master"]
    assert masters == ["r2"], masters  # uplink still down: after recovery the new daemon fails over again
    hist = json.loads(netha("history", "-i", str(inv), "--json").stdout)
    assert any(h["action"] == "recover" for h in hist)


def test_scheduled_checks_take_the_daemons_decisions(baseline, tmp_path):
    inv = make_inventory(tmp_path, failure_threshold=2, recovery_threshold=1)

    def check() -> dict:
        r = netha("check", "-i", str(inv), "--json")
        return json.loads(r.stdout)["decision"]

    assert check()["kind"] == "none"
    switch_port("r1", "eth2", False)
    runs = [check() for _ in range(4)]
    kinds = [(d["kind"], d["group"]) for d in runs]
    assert kinds[0] == ("none", None), kinds  # damping: one bad observation is not enough
    assert ("failover", "lan") in kinds, kinds  # the master resigns, as the daemon does
    assert ("pin", "upstream") in kinds, kinds  # VRRP moved the upstream group by itself: pinned
    assert all(d["ok"] in (None, True) for d in runs), runs
    assert vrrp_state("r2") == "Master"
    assert "vrrp 1 shutdown" in running_config("r1")
    assert kinds.count(("failover", "lan")) == 1, "block_period: no second failover of lan"


def test_second_daemon_on_the_same_inventory_refuses(baseline, tmp_path):
    inv = make_inventory(tmp_path)
    d = Daemon(tmp_path, inv)
    try:
        d.wait_started()
        r = netha("run", "-i", str(inv), timeout=30)
    finally:
        d.stop()
    assert r.returncode != 0
    assert "refusing to start" in r.stderr and "another controller" in r.stderr


def test_storm_brake_alerts_once_and_stops_acting_until_ack(baseline, tmp_path, webhook):
    inv = make_inventory(tmp_path, webhook=f"http://127.0.0.1:{WEBHOOK_PORT}/netha",
                         storm_brake={"max_actions": 1, "period": 600})
    d = Daemon(tmp_path, inv)
    try:
        d.wait_started()
        switch_port("r1", "eth2", False)  # lan fails over (1 action) and then upstream wants a pin: brake
        wait_for(lambda: any(x.startswith("alert") and "storm brake" in x for x in d.decisions()), 15, what="storm brake")
        time.sleep(1)
    finally:
        d.stop()
    storm = [e for e in events(webhook) if e["event"] == "storm-brake"]
    assert len(storm) == 1, events(webhook)
    r = netha("ack", "-i", str(inv))
    assert r.returncode == 0 and "acknowledged" in r.stdout
