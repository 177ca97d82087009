"""SNMP notifications on the real lab (issue 14): the routers' snmpd sends linkDown/linkUp when a
link loses carrier, keepalived's VRRPv3 MIB (AgentX to snmpd) sends vrrpv3NewMaster when a backup
takes over, and the controller's receiver attributes each to the device that sent it and wakes that
device's read. Functional only: the bounds are generous (snmpd checks its interfaces every second and
caches its interface table for a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from netha.connect import load_checked_inventory
from netha.observe.observer import Observer, ObserverOptions

from .labtools import controller_observer, make_inventory, switch_port, wait_for

pytestmark = pytest.mark.integration

LONG = 30.0  # a poll interval no wake-up in these tests could come from


def _receiving_observer(tmp_path: Path) -> Observer:
    """An observer that runs only its SSH polls (every LONG s) and the notification receiver, its threads in
    the controller's namespace (built from a thread that entered it; this process never leaves its own)."""
    path = make_inventory(tmp_path, poll_interval=LONG)
    doc = yaml.safe_load(path.read_text())
    doc["controller"]["listeners"] = []
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    inv = load_checked_inventory(path)
    return controller_observer(inv, ObserverOptions(listener=False, snmp=False, reach=False, events=False,
                                            notifications=True))


def _record(obs: Observer) -> list[tuple[str, str]]:
    """Every accepted notification from now on, as (device, detail)."""
    seen: list[tuple[str, str]] = []
    receiver = obs._receiver
    assert receiver is not None
    forward = receiver._on

    def on(device, note) -> None:
        seen.append((device, note.detail))
        forward(device, note)

    receiver._on = on
    return seen


def test_a_link_down_on_a_router_is_received_and_attributed_to_it_and_wakes_its_read(lab, baseline, tmp_path):
    obs = _receiving_observer(tmp_path)
    try:
        st = obs.notification_stats()
        assert st is not None and st["state"] == "listening", st
        seen = _record(obs)
        switch_port("r1", "eth2", False)
        wait_for(lambda: ("r1", "link-down eth2") in seen, 30, what="r1's linkDown for eth2")
        assert obs._workers["r1"].wakes >= 1  # the receiver woke r1's read
        # r2 may speak too (it takes the upstream groups: its VRRP macvlans come up), but r1's
        # notifications never wake r2: r2 is woken at most once per notification of its own.
        assert obs._workers["r2"].wakes <= len([s for s in seen if s[0] == "r2"]), seen
        switch_port("r1", "eth2", True)
        wait_for(lambda: ("r1", "link-up eth2") in seen, 30, what="r1's linkUp for eth2")
        assert not [s for s in seen if s[0] != "r1" and s[1] in ("link-down eth2", "link-up eth2")], seen
        st = obs.notification_stats()
        assert st["bad_community"] == 0 and st["unknown_sender"] == 0 and st["malformed"] == 0, st
    finally:
        obs.stop()


def test_a_keepalived_master_change_is_received_as_vrrpv3_new_master_from_the_new_master(lab, kbase, tmp_path):
    obs = _receiving_observer(tmp_path)
    try:
        seen = _record(obs)
        switch_port("k1", "eth1", False)  # k1 (priority 200) goes FAULT: k2 becomes master of klan
        new_master = lambda dev: any(d == dev and x.startswith("vrrp-new-master") for d, x in seen)  # noqa: E731
        wait_for(lambda: new_master("k2"), 30, what="k2's vrrpv3NewMaster")
        assert obs._workers["k2"].wakes >= 1
        wait_for(lambda: ("k1", "link-down eth1") in seen, 30, what="k1's linkDown for eth1")
        switch_port("k1", "eth1", True)
        wait_for(lambda: new_master("k1"), 30, what="k1's vrrpv3NewMaster when it takes the group back")
    finally:
        obs.stop()
