"""The daemon's controller (``concurrent=True``) carries takeovers out beside its loop.

A shared failure of two pairs (the far end behind both uplinks) must not make the second pair wait for
the first pair's takeover; two takeovers must never touch the same device at once, nor the same group
twice; the gates count an action from its start; a stop waits for what is in flight.
Fake devices (tests/unit/fakes.py); the lab's version is tests/integration/test_lab_isp.py.
"""

from __future__ import annotations

import threading

import pytest

from netha.controller.core import Controller
from netha.controller.decide import Action
from netha.store import Store
from netha.takeover.execute import Executor, Sessions

from .fakes import FakeNetwork

PAIRS = ("r1", "r2", "k1", "k2")


class Gate:
    """An executor hook that holds every plan right after its snapshots until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered: list[str] = []
        self.lock = threading.Lock()
        self.arrived = threading.Semaphore(0)

    def hook(self, point: str) -> None:
        if point == "after-snapshots":
            with self.lock:
                self.entered.append(threading.current_thread().name)
            self.arrived.release()
            assert self.release.wait(10), "the test never released the plan"


class Rig:
    def __init__(self, inv, state_dir, net, maintenance=("upstream", "lan2", "kup")):
        self.net = net
        self.store = Store(state_dir)
        self.store.put("maintenance", list(maintenance))
        self.gate = Gate()
        self.executor = Executor(inv, self.store, Sessions(inv, factory=net.factory), adverts=None,
                                 verify_timeout=0.05, rollback_timeout=0.0, hook=self.gate.hook)
        self.woken = threading.Event()
        self.ctl = Controller(inv, self.store, self.executor, concurrent=True, wake=self.woken.set)
        self.at = 0.0

    def cycle(self):
        self.at += 0.1
        return self.ctl.cycle(self.net.snapshot(self.at))

    def cycles(self, n):
        return [self.cycle() for _ in range(n)]

    def wait_arrivals(self, n: int) -> None:
        for _ in range(n):
            assert self.gate.arrived.acquire(timeout=5), "a launched plan never reached the executor"


@pytest.fixture
def net(inv):
    return FakeNetwork(inv, PAIRS)


def uplinks_die(net, *devices):
    for d in devices:
        net[d].links["eth2"] = False


def launched(results):
    return [(r.decision.kind, r.decision.group, r.decision.target) for r in results
            if r.decision.kind in (Action.FAILOVER, Action.PIN, Action.FAILBACK)]


def test_a_failure_shared_by_two_pairs_starts_both_takeovers_before_either_ends(inv, net, tmp_path):
    rig = Rig(inv, tmp_path / "state", net)
    rig.cycles(3)
    uplinks_die(net, "r1", "k1")
    results = rig.cycles(6)
    assert launched(results) == [(Action.FAILOVER, "lan", "r2"), (Action.FAILOVER, "klan", "k2")]
    rig.wait_arrivals(2)  # both plans are inside the executor at once, neither released yet
    assert len(set(rig.gate.entered)) == 2
    assert rig.ctl.busy() == frozenset({"lan", "klan", "r1", "r2", "k1", "k2"})
    assert all(r.outcome is None for r in results)  # nothing ended inside a cycle
    rig.gate.release.set()
    assert rig.woken.wait(5)
    rig.ctl.drain(10)
    assert net.master(1) == "r2" and net.master(11) == "k2"
    for group, target in (("lan", "r2"), ("klan", "k2")):
        gm = rig.ctl.memory.group(group)
        assert (gm.failed_over_by, gm.pinned) == ("auto", target)
    assert rig.store.open_plans() == []


def test_a_group_in_flight_is_never_decided_again_and_its_outcome_is_accounted_once(inv, net, tmp_path):
    rig = Rig(inv, tmp_path / "state", net)
    rig.cycles(3)
    uplinks_die(net, "r1")
    first = rig.cycles(3)
    assert launched(first) == [(Action.FAILOVER, "lan", "r2")]
    rig.wait_arrivals(1)
    held = rig.cycles(10)  # r1 still reads degraded while its plan is held: no second decision
    assert launched(held) == []
    rig.gate.release.set()
    assert rig.woken.wait(5)
    for _ in range(50):
        after = rig.cycle()
        if after.ended:
            break
        rig.woken.wait(0.1)
    assert len(after.ended) == 1 and after.ended[0].ok, after.ended
    assert [e for r in rig.cycles(5) for e in r.ended] == []
    assert len(rig.ctl.memory.actions) == 1


def test_groups_sharing_a_device_wait_for_the_takeover_in_flight(inv, net, tmp_path):
    # lan and upstream are both on r1/r2: r1's dead uplink fails lan over and makes VRRP move upstream
    # (to be pinned). The second may not snapshot or push r1/r2 while the first does: a rollback of
    # one would restore a snapshot that undoes the other.
    rig = Rig(inv, tmp_path / "state", net, maintenance=("lan2", "klan", "kup"))
    rig.cycles(3)
    uplinks_die(net, "r1")
    results = rig.cycles(8)
    first = launched(results)
    assert len(first) == 1 and first[0][1] in ("lan", "upstream"), first
    rig.wait_arrivals(1)
    assert rig.gate.arrived.acquire(timeout=0.3) is False  # nothing else entered the executor
    rig.gate.release.set()
    rig.ctl.drain(10)
    later = launched(rig.cycles(8))
    assert [g for _, g, _ in later] == [{"lan": "upstream", "upstream": "lan"}[first[0][1]]], later
    rig.ctl.drain(10)
    assert net.master(1) == "r2" and net.master(2) == "r2"


def test_the_storm_brake_counts_a_takeover_from_its_start(inv, net, tmp_path):
    brake = inv.controller.storm_brake.model_copy(update={"max_actions": 1, "period": 600})
    inv2 = inv.model_copy(update={"controller": inv.controller.model_copy(update={"storm_brake": brake})})
    rig = Rig(inv2, tmp_path / "state", FakeNetwork(inv2, PAIRS))
    rig.cycles(3)
    uplinks_die(rig.net, "r1", "k1")
    results = rig.cycles(6)
    assert launched(results) == [(Action.FAILOVER, "lan", "r2")]  # the first is still in flight: the brake holds klan
    assert any(r.decision.kind == Action.ALERT and r.decision.group == "klan" for r in results)
    rig.gate.release.set()
    rig.ctl.drain(10)


def test_drain_waits_for_the_takeover_in_flight_and_records_it(inv, net, tmp_path):
    rig = Rig(inv, tmp_path / "state", net)
    rig.cycles(3)
    uplinks_die(net, "r1")
    rig.cycles(3)
    rig.wait_arrivals(1)
    threading.Timer(0.2, rig.gate.release.set).start()
    mem = rig.ctl.drain(10)
    assert mem.group("lan").failed_over_by == "auto"
    assert rig.ctl.busy() == frozenset()
    assert rig.store.open_plans() == []
