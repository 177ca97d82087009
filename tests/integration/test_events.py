"""Device event streams on the real lab (issue 14): an event wakes a read, a broken stream is
reconnected and reported, a device whose stream is down is polled fast, and a blind controller
still takes no action. Functional only: no timing is asserted beyond generous bounds that a poll
interval of 30 s could never meet.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from netha.connect import load_checked_inventory
from netha.health import assess
from netha.observe.observer import Observer, ObserverOptions

from .labtools import controller_observer, Daemon, cut_management, make_inventory, netns_pids, ns, switch_port, vrrp_state, wait_for

pytestmark = pytest.mark.integration

LONG = 30.0  # a poll interval no detection in these tests could come from


def _events_only(path: Path, **edit) -> Path:
    """The lab inventory without its reach tracks, listener legs and SNMP notification receiver: only
    SSH polls (every LONG seconds), SNMP polls and device events can see anything."""
    doc = yaml.safe_load(path.read_text())
    doc["controller"]["listeners"] = []
    doc["controller"].pop("notifications", None)
    for group in doc["groups"].values():
        group["track"] = [t for t in group.get("track", []) if "reach" not in t]
    for key, value in edit.items():
        doc[key] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _observer(inv_path: Path) -> Observer:
    """An observer (not started) whose threads run in the controller's namespace: it is built and
    started from a thread that entered that namespace (threads inherit their creator's), so this
    test process itself never leaves its own namespace."""
    inv = load_checked_inventory(inv_path)
    return controller_observer(inv, ObserverOptions(listener=False, snmp=False, reach=False, events=True))


def _stream(obs: Observer, device: str):
    return next(s for s in obs.event_stats() if s.device == device)


def _monitor_pids(node: str) -> list[int]:
    """The `ip -o monitor` processes netha's event stream runs in NODE's namespace."""
    out = []
    for pid in netns_pids(ns(node)):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd[:3] == [b"ip", b"-o", b"monitor"]:
            out.append(pid)
    return out


def test_an_event_wakes_a_read_and_the_daemon_fails_over_a_gray_failure_at_a_30s_poll(lab, baseline, tmp_path):
    inv = _events_only(make_inventory(tmp_path, poll_interval=LONG))
    d = Daemon(tmp_path, inv)
    try:
        d.wait_started(60)
        wait_for(lambda: "r1: event stream up" in d.text(), 30, what="r1's event stream")
        time.sleep(1.0)
        assert vrrp_state("r1", 1) == "Master"
        switch_port("r1", "eth2", False)  # r1's uplink loses carrier; r1 keeps the LAN role by itself
        wait_for(lambda: vrrp_state("r2", 1) == "Master", 10, what="r2 master of lan")
        assert "r1: event: link eth2 down" in d.text()
        assert any(x.startswith("failover lan to r2") for x in d.decisions()), d.decisions()
    finally:
        d.stop()


def test_without_events_the_same_failure_waits_for_the_poll(lab, baseline, tmp_path):
    """The control for the test above: with event streams off, nothing happens within 4 s at a 30 s poll."""
    inv = _events_only(make_inventory(tmp_path, poll_interval=LONG))
    d = Daemon(tmp_path, inv, env={"NETHA_EVENTS": "0"})
    try:
        d.wait_started(60)
        time.sleep(2.0)
        switch_port("r1", "eth2", False)
        time.sleep(4.0)
        assert vrrp_state("r1", 1) == "Master"
        assert not any(x.startswith("failover lan") for x in d.decisions()), d.decisions()
        assert "event stream up" not in d.text()
    finally:
        d.stop()


def test_a_killed_stream_is_reconnected_and_reported_and_the_device_is_polled_fast_meanwhile(lab, tmp_path):
    obs = _observer(_events_only(make_inventory(tmp_path, poll_interval=LONG)))
    try:
        wait_for(lambda: _stream(obs, "k1").state == "up", 30, what="k1's event stream")
        assert obs._workers["k1"].interval == LONG
        pids = wait_for(lambda: _monitor_pids("k1"), 5, what="k1's ip monitor process")
        for pid in pids:
            subprocess.run(["kill", str(pid)], check=True)  # the stream's own process, by pid
        wait_for(lambda: _stream(obs, "k1").state == "down", 10, what="k1's stream reported down")
        assert "ended" in (_stream(obs, "k1").error or "")
        assert obs._workers["k1"].interval < 1.0  # the fast fallback poll while it is down
        wait_for(lambda: _stream(obs, "k1").state == "up", 30, what="k1's stream back up")
        assert _stream(obs, "k1").restarts >= 1
        assert obs._workers["k1"].interval == LONG
        assert all(s.state == "up" for s in obs.event_stats() if s.device != "k1")
    finally:
        obs.stop()


def test_a_stream_that_cannot_log_in_is_reported_and_polling_fast_still_sees_a_gray_failure(lab, baseline, tmp_path):
    key = tmp_path / "not-authorized"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    path = make_inventory(tmp_path, poll_interval=LONG)
    doc = yaml.safe_load(path.read_text())
    doc["credentials"]["bad-shell"] = {"username": "root", "key_file": str(key)}
    doc["devices"]["r1"]["shell"] = "bad-shell"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    obs = _observer(_events_only(path))
    inv = obs.inv
    try:
        wait_for(lambda: _stream(obs, "r1").state == "down", 30, what="r1's stream reported down")
        assert "authentication failed" in (_stream(obs, "r1").error or "")
        assert obs._workers["r1"].interval < 1.0
        wait_for(lambda: obs.snapshot().devices["r1"].ssh is not None, 10, what="r1 polled")
        state = None
        for _ in range(40):  # every device read at least failure_threshold times
            a = assess(inv, obs.snapshot(), state)
            state = a.state
            time.sleep(0.05)
        assert a.groups["lan"].verdict == "ok", a.groups["lan"].reason
        switch_port("r1", "eth2", False)

        def degraded() -> bool:
            nonlocal state
            a = assess(inv, obs.snapshot(), state)
            state = a.state
            return a.groups["lan"].members["r1"].health == "degraded"

        wait_for(degraded, 5, what="r1 degraded (its uplink down) through the fast poll")
    finally:
        obs.stop()


def test_a_blind_controller_takes_no_action_with_events_on(lab, baseline, tmp_path):
    inv = make_inventory(tmp_path)  # the lab inventory as shipped: 1 s polls, events, reach, listeners
    d = Daemon(tmp_path, inv)
    try:
        d.wait_started(60)
        wait_for(lambda: d.text().count("event stream up") >= 4, 60, what="every event stream")
        time.sleep(2.0)
        cut_management("r1", True)  # the controller loses r1's management path; r1 itself is fine
        time.sleep(6.0)  # past the stream's silence limit: r1's stream is reported down
        cut_management("r1", False)
        time.sleep(2.0)
        acts = [x for x in d.decisions() if not x.startswith("alert")]
        assert acts == [], acts
        assert vrrp_state("r1", 1) == "Master"
        assert "r1: event stream down" in d.text()
    finally:
        cut_management("r1", False)
        d.stop()
