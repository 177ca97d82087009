"""Controller.cycle and Controller.recover on a fake network (tests/unit/fakes.py): observe -> decide -> act.

Each cycle gets the snapshot the observer would take of the fake devices now, so what the executor
pushes shows in the next cycle's assessment. The ``upstream`` group is put in maintenance where a
test is about ``lan`` alone (r1's dead uplink also makes VRRP move ``upstream`` by itself).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace

import pytest

from netha.controller.core import Controller
from netha.controller.decide import Action
from netha.errors import PlanError
from netha.health import HealthState, assess
from netha.store import Store
from netha.takeover.execute import Executor, Sessions

from .fakes import Crash, FakeNetwork, crash_at


@pytest.fixture
def net(inv):
    return FakeNetwork(inv)


class Rig:
    """One controller over the fake network, with a poll clock."""

    def __init__(self, inv, state_dir, net, hook=None, lan_only=True):
        self.inv, self.net = inv, net
        self.store = Store(state_dir)
        if lan_only:
            self.store.put("maintenance", ["upstream"])
        self.executor = Executor(inv, self.store, Sessions(inv, factory=net.factory), adverts=None,
                                 verify_timeout=0.05, rollback_timeout=0.0, hook=hook)
        self.ctl = Controller(inv, self.store, self.executor)
        self.at = 0.0

    def cycle(self):
        self.at += 0.1
        return self.ctl.cycle(self.net.snapshot(self.at))

    def cycles(self, n):
        return [self.cycle() for _ in range(n)]

    def journal_kinds(self):
        rows = self.store._db().execute("SELECT kind FROM journal ORDER BY id").fetchall()
        return [r[0] for r in rows]


def degrade_r1(net):
    net["r1"].links["eth2"] = False  # r1's uplink dies: r1 stays master of lan, a black hole


def test_cycle_with_a_degraded_master_decides_a_failover_and_runs_it_through_the_executor(inv, net, tmp_path):
    rig = Rig(inv, tmp_path / "state", net)
    assert all(r.decision.kind == Action.NONE for r in rig.cycles(3))
    degrade_r1(net)
    results = rig.cycles(4)
    acted = [r for r in results if r.outcome is not None]
    assert len(acted) == 1  # failure_threshold polls, then one action, then nothing more to do
    (r,) = acted
    assert (r.decision.kind, r.decision.group, r.decision.target) == (Action.FAILOVER, "lan", "r2")
    assert "master r1 degraded" in r.decision.reason
    assert r.outcome.ok and r.outcome.plan.kind == "emergency", r.outcome.message
    assert net.master(1) == "r2"
    assert " vrrp 1 shutdown" in net["r1"].config and " vrrp 1 priority 254" in net["r2"].config
    # Journalled as an automatic failover, closed done.
    (head,) = [e for e in rig.store.journal_entries(r.outcome.plan.id) if e.kind == "plan"]
    assert (head.data["origin"], head.data["action"]) == ("auto", "failover")
    assert rig.store.journal_entries(r.outcome.plan.id)[-1].data["result"] == "done"
    assert rig.store.open_plans() == []
    # The gates count it: block period, storm-brake slot, failed over by netha, pinned.
    gm = rig.ctl.memory.group("lan")
    assert gm.blocked_until > gm.last_action_at and len(rig.ctl.memory.actions) == 1
    assert (gm.failed_over_by, gm.pinned) == ("auto", "r2")
    assert rig.store.get("memory") is not None  # saved for the next run
    assert results[-1].assessment.groups["lan"].verdict == "failed-over"


def test_a_refused_plan_leaves_memory_unchanged_and_is_audited_once_across_many_cycles(inv, net, tmp_path, caplog):
    rig = Rig(inv, tmp_path / "state", net)
    real = rig.ctl.planner.failover
    calls = []

    def refuse(group, target, a, strategy="auto"):
        calls.append((group, target))
        raise PlanError(f"refusing to fail over {group} to {target}: {target} is unreachable")

    rig.ctl.planner.failover = refuse
    rig.cycles(2)
    before = rig.ctl.memory
    degrade_r1(net)
    with caplog.at_level(logging.WARNING, logger="netha.controller.core"):
        results = rig.cycles(10)
    assert len(calls) >= 8  # decided (and refused) on every cycle after the damping
    assert all(r.outcome is None for r in results)
    mem = rig.ctl.memory
    assert mem.actions == () and not mem.braked  # no storm-brake slot
    gm = mem.group("lan")
    assert (gm.blocked_until, gm.last_action_at, gm.settling_until) == (0.0, None, 0.0)  # no block period, no min_interval
    assert (gm.failed_over_by, gm.pinned, gm.alerted) == (None, None, None)
    # Only the observation changed (the primary is no longer healthy): no gate moved.
    assert replace(gm, primary_healthy_since=None) == replace(before.group("lan"), primary_healthy_since=None)
    refused = [h for h in rig.store.history() if h.result == "refused"]
    assert len(refused) == 1 and "r2 is unreachable" in refused[0].detail
    assert len(rig.store.history()) == 1  # nothing else audited either
    said = [r.getMessage() for r in caplog.records]
    assert sum("cannot act" in m for m in said) == 1
    assert sum(m.startswith("decision: failover lan") for m in said) == 1
    assert rig.journal_kinds() == [] and net["r1"].writes + net["r2"].writes == 0  # nothing was changed
    # It cost nothing: once the planner accepts, the failover runs at once (no gate holds it back).
    rig.ctl.planner.failover = real
    r = rig.cycle()
    assert r.decision.kind == Action.FAILOVER and r.outcome is not None and r.outcome.ok, r.decision
    assert net.master(1) == "r2"


# point -> (how the plan closes, lan's master after, devices left as the plan's target state)
POINTS = {
    "after-snapshots": ("failed", "r1", ()),
    "before-step-1": ("rolled-back", "r1", ()),
    # From the resign on, r2 is verified master: the resign stays, only the pin (if pushed) is undone.
    "after-push-1": ("done-partial", "r2", ("r1",)),
    "after-record-1": ("done-partial", "r2", ("r1",)),
    "after-verify-1": ("done-partial", "r2", ("r1",)),
    "before-step-2": ("done-partial", "r2", ("r1",)),
    "after-push-2": ("done-partial", "r2", ("r1",)),
    "after-record-2": ("done-partial", "r2", ("r1",)),
    "after-verify-2": ("done-partial", "r2", ("r1",)),
    "before-close": ("done", "r2", ("r1", "r2")),  # every step verified: the plan stands
}


def _raise_at(point, exc):
    def hook(reached):
        if reached == point:
            raise exc
    return hook


def _target_configs(inv, plan):
    """Each device's config after the whole plan (the plan's lines applied to a clean fake)."""
    target = FakeNetwork(inv)
    for step in plan.steps:
        for line in step.lines:
            target[step.device].apply(line)
    return target.configs()


@pytest.mark.parametrize("point", list(POINTS))
def test_an_exception_inside_the_cycle_s_execution_path_does_not_leave_the_plan_open(inv, net, tmp_path, point):
    result, master, changed = POINTS[point]
    rig = Rig(inv, tmp_path / "state", net, hook=_raise_at(point, RuntimeError(f"boom at {point}")))
    rig.cycles(2)
    before = net.configs()
    degrade_r1(net)
    results = rig.cycles(3)  # never raises
    (r,) = [r for r in results if r.outcome is not None]
    assert rig.store.open_plans() == []
    (last,) = [e for e in rig.store.journal_entries(r.outcome.plan.id) if e.kind == "closed"]
    assert last.data["result"] == result
    if point != "before-close":  # there the plan stands and the hook's error is only logged
        assert "unexpected RuntimeError: boom at" in r.outcome.message
    assert r.outcome.ok == (master == "r2")
    assert net.master(1) == master
    # Every device runs its snapshot or the plan's verified target state, nothing in between.
    target = _target_configs(inv, r.outcome.plan)
    assert net.configs() == {n: target[n] if n in changed else before[n] for n in net.devices}


def test_a_driver_bug_during_the_cycle_s_push_is_contained_and_rolled_back(inv, net, tmp_path):
    rig = Rig(inv, tmp_path / "state", net)
    rig.cycles(2)
    before = net.configs()
    net["r1"].push_bug = TypeError("'NoneType' object is not subscriptable")  # at the resign: r2 never master
    degrade_r1(net)
    (r,) = [r for r in rig.cycles(3) if r.outcome is not None]
    assert not r.outcome.ok and r.outcome.rolled_back
    assert "unexpected TypeError" in r.outcome.message
    assert rig.store.open_plans() == [] and net.configs() == before
    # A failed automatic action still starts the block period (the network was touched).
    assert rig.ctl.memory.group("lan").blocked_until > 0 and rig.ctl.memory.group("lan").failed_over_by is None


def test_a_journal_write_failing_after_a_verified_step_does_not_leave_the_plan_open(inv, net, tmp_path):
    # The state directory hiccups once (a transient sqlite3 error) when step 1's "done" is written.
    rig = Rig(inv, tmp_path / "state", net)
    rig.cycles(2)
    journal = rig.store.journal
    failed = []

    def flaky(plan_id, step, kind, payload, device=None):
        if kind == "done" and not failed:
            failed.append(step)
            raise sqlite3.OperationalError("disk I/O error")
        return journal(plan_id, step, kind, payload, device)

    rig.store.journal = flaky
    degrade_r1(net)
    (r,) = [r for r in rig.cycles(3) if r.outcome is not None]  # nothing escapes the cycle
    assert failed == [1]
    assert "unexpected OperationalError: disk I/O error" in r.outcome.message
    assert rig.store.open_plans() == []
    assert net.master(1) == "r2"  # r2 was verified master: the resign is kept


# -- Controller.recover ---------------------------------------------------------------------------------

def test_controller_recover_finishes_an_automatic_plan_and_counts_it_in_the_gates(inv, net, tmp_path):
    # The daemon dies after r1 resigned (before the pin); the next controller finishes the failover.
    rig = Rig(inv, tmp_path / "state", net, hook=crash_at("before-step-2"))
    rig.cycles(2)
    degrade_r1(net)
    with pytest.raises(Crash):
        rig.cycles(3)
    (plan_id, _), = rig.store.open_plans()
    assert rig.ctl.memory.actions == ()  # the crash came before the gates were updated
    assert net.master(1) == "r2"

    nxt = Rig(inv, tmp_path / "state", net)
    a = assess(inv, net.snapshot(10.0), HealthState())  # one fresh look
    (r,) = nxt.ctl.recover(a)
    assert (r.resolution.kind, r.ok) == ("finish", True), r.message
    assert " vrrp 1 priority 254" in net["r2"].config and net.master(1) == "r2"
    assert nxt.store.open_plans() == []
    gm = nxt.ctl.memory.group("lan")
    assert len(nxt.ctl.memory.actions) == 1 and gm.blocked_until > 0
    assert (gm.failed_over_by, gm.pinned) == ("auto", "r2")
    # Saved, and the next cycles do not act again on lan.
    assert Controller(inv, nxt.store, nxt.executor).memory == nxt.ctl.memory
    assert all(x.outcome is None for x in nxt.cycles(4))


def test_controller_recover_of_a_plan_that_changed_nothing_costs_no_gate(inv, net, tmp_path):
    rig = Rig(inv, tmp_path / "state", net, hook=crash_at("after-snapshots"))
    rig.cycles(2)
    degrade_r1(net)
    with pytest.raises(Crash):
        rig.cycles(3)
    nxt = Rig(inv, tmp_path / "state", net)
    (r,) = nxt.ctl.recover(assess(inv, net.snapshot(10.0), HealthState()))
    assert r.resolution.kind == "nothing"
    assert nxt.ctl.memory.actions == () and nxt.ctl.memory.group("lan").blocked_until == 0.0
    # The controller decides afresh: the failover runs (damping applies as always).
    acted = [x for x in nxt.cycles(4) if x.outcome is not None]
    assert len(acted) == 1 and acted[0].outcome.ok and net.master(1) == "r2"
