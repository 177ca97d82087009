"""Crash recovery decided from the journal and the devices' state, and gates that hold (issue 11)."""

from __future__ import annotations

import time

from netha.controller.decide import Decision, Memory, after_action, decide, update_observations
from netha.controller.persist import _boot_id, memory_from_json, memory_to_json
from netha.store import Store
from netha.takeover.plan import Expect, Plan, Step
from netha.takeover.recover import MAX_PLAN_AGE, PlanRecord, config_state, plan_header, resolve

from .test_decide import obs, steady

SNAP = "frr version 8.4\nhostname r1\ninterface eth1\n vrrp 1 priority 200\nexit\n"
PUSHED = "frr version 8.4\nhostname r1\ninterface eth1\n vrrp 1 priority 200\n vrrp 1 shutdown\nexit\n"
OPERATOR = "frr version 8.4\nhostname r1\ninterface eth1\n vrrp 1 priority 150\nexit\n"


def emergency_plan() -> Plan:
    return Plan("emergency", "lan", "r2", (
        Step("r1", "r1 resigns", "resign", ("interface eth1", "vrrp 1 shutdown"), Expect("r2", 0.1)),
        Step("r2", "pin r2 at 254", "set_priority", ("interface eth1", "vrrp 1 priority 254"), Expect("r2", 0.4)),
    ), (), "p1")


def journal(tmp_path, steps_done: int, pushed: bool = True) -> PlanRecord:
    s = Store(tmp_path)
    plan = emergency_plan()
    s.journal(plan.id, 0, "plan", plan_header(plan, "automatic: master r1 degraded", "auto", "failover"))
    snap = s.save_snapshot("r1", SNAP, "before")
    s.journal(plan.id, 0, "snapshots", {"snapshots": {"r1": snap, "r2": snap}})
    s.journal(plan.id, 1, "intent", {"lines": list(plan.steps[0].lines)}, "r1")
    if pushed:
        s.journal(plan.id, 1, "pushed", {"snapshot": s.save_snapshot("r1", PUSHED, "after")}, "r1")
    for n in range(1, steps_done + 1):
        s.journal(plan.id, n, "done", {}, plan.steps[n - 1].device)
    (pid, entries), = s.open_plans()
    return PlanRecord.from_entries(pid, entries)


def test_plan_record_rebuilds_the_whole_plan_from_the_journal(tmp_path):
    rec = journal(tmp_path, 1)
    assert (rec.kind, rec.group, rec.target, rec.origin, rec.action) == ("emergency", "lan", "r2", "auto", "failover")
    assert rec.plan().steps == emergency_plan().steps
    assert rec.touched == ("r1",) and rec.next_step == 2 and rec.step_count == 2
    assert set(rec.pushed) == {"r1"}


def test_a_good_failover_is_finished_not_rolled_back(tmp_path):
    # The case that made a second outage: killed after r1 resigned, r2 master and healthy.
    rec = journal(tmp_path, 1)
    res = resolve(rec, {"r1": "pushed"}, True, rec.started + 5)
    assert res.kind == "finish" and res.rollback == ()


def test_a_plan_done_before_the_crash_is_closed(tmp_path):
    rec = journal(tmp_path, 2)
    assert resolve(rec, {"r1": "pushed"}, True, rec.started + 5).kind == "close"
    assert resolve(rec, {"r1": "pushed"}, False, rec.started + 5).kind == "close"


def test_a_plan_that_changed_nothing_is_closed_without_rollback(tmp_path):
    rec = journal(tmp_path, 0, pushed=False)
    res = resolve(rec, {"r1": "snapshot"}, False, rec.started + 5)
    assert res.kind == "nothing" and res.rollback == ()


def test_target_not_holding_rolls_back_only_what_is_still_netha_s(tmp_path):
    rec = journal(tmp_path, 0)
    res = resolve(rec, {"r1": "pushed"}, False, rec.started + 5)
    assert (res.kind, res.rollback, res.foreign) == ("rollback", ("r1",), ())
    res = resolve(rec, {"r1": "other"}, False, rec.started + 5)
    assert (res.kind, res.rollback, res.foreign) == ("rollback", (), ("r1",))


def test_an_unreadable_device_keeps_its_rollback_pending(tmp_path):
    rec = journal(tmp_path, 0)
    res = resolve(rec, {"r1": "unreadable"}, None, rec.started + 5)
    assert (res.kind, res.rollback, res.unreadable) == ("rollback", (), ("r1",))


def test_an_old_open_plan_is_reported_never_replayed(tmp_path):
    rec = journal(tmp_path, 1)
    res = resolve(rec, {"r1": "pushed"}, True, rec.started + MAX_PLAN_AGE + 1)
    assert res.kind == "stale" and res.rollback == ()


def test_config_state_tells_netha_s_push_from_an_operator_change():
    assert config_state(SNAP, SNAP, PUSHED) == "snapshot"
    assert config_state(PUSHED, SNAP, PUSHED) == "pushed"
    assert config_state(OPERATOR, SNAP, PUSHED) == "other"
    assert config_state(PUSHED, SNAP, None) == "other"  # no record of the push: cannot be proven netha's
    assert config_state(None, SNAP, PUSHED) == "unreadable"


# -- gates --------------------------------------------------------------------------------------------

def failed_over(inv):
    a = steady(inv, obs("r1", "backup", "backup"), obs("r2", "master", "master", prio=254))
    mem = Memory(maintenance=frozenset({"upstream"})).with_group("lan", failed_over_by="auto", pinned="r2")
    return a, update_observations(inv, a, mem, 1000.0)


def test_failback_obeys_automatic_false(inv, monkeypatch):
    a, mem = failed_over(inv)
    pol = inv.policy_for("lan").model_copy(update={"automatic": False})
    monkeypatch.setattr(type(inv), "policy_for", lambda self, g: pol)
    assert decide(inv, a, mem, 1000.0 + 10_000).kind == "none"


def test_failback_waits_for_the_block_period(inv):
    a, mem = failed_over(inv)
    block = inv.policy_for("lan").block_period
    mem = mem.with_group("lan", blocked_until=1000.0 + block)
    assert decide(inv, a, mem, 1000.0 + inv.policy_for("lan").hold_down + 1).kind == "none"
    assert decide(inv, a, mem, 1000.0 + block + 1).kind == "failback"


def test_failback_is_stopped_by_the_storm_brake_and_counted_by_it(inv):
    a, mem = failed_over(inv)
    now = 1000.0 + 10_000
    brake = inv.controller.storm_brake.max_actions
    braked = Memory(mem.groups, actions=tuple(now - 10 + i for i in range(brake)), maintenance=mem.maintenance)
    d = decide(inv, a, braked, now)
    assert d.kind == "alert" and d.reason.startswith("storm brake")
    d = decide(inv, a, mem, now)
    assert d.kind == "failback"
    assert after_action(inv, mem, d, True, now).actions == (now,)


def test_a_refused_action_costs_no_gate(inv):
    # The controller calls after_action only for a plan that was built; a refusal changes no memory.
    a = steady(inv, obs("r1", "master", "init", eth2=False), obs("r2", "backup", "master"))
    mem = Memory(maintenance=frozenset({"upstream"}))
    d = decide(inv, a, mem, 1000.0)
    assert d.kind == "failover"
    assert decide(inv, a, mem, 1000.5) == d  # nothing was counted: the same decision stands


def test_no_pin_alert_right_after_netha_s_own_pin(inv):
    state = steady(inv, obs("r1", "master", "master"), obs("r2")).state
    # The observation still shows r2 at its old priority, just after netha pinned it.
    a = steady(inv, obs("r1", managed=False), obs("r2", "master", "master"), state=state)
    mem = after_action(inv, Memory(maintenance=frozenset({"upstream"})), Decision("pin", "lan", "r2"), True, 1000.0)
    assert decide(inv, a, mem, 1000.2).kind == "none"


def test_no_split_brain_alert_while_netha_s_own_change_settles(inv):
    a = steady(inv, obs("r1", "master", "master"), obs("r2", "master", "backup"))
    assert a.groups["lan"].verdict == "split-brain"
    mem = after_action(inv, Memory(), Decision("failover", "lan", "r2"), True, 1000.0)
    assert decide(inv, a, mem, 1000.5).kind == "none"
    later = decide(inv, a, mem, 1000.0 + 60)
    assert later.kind == "alert" and later.reason.startswith("split-brain")


def test_no_backup_alert_waits_until_every_peer_was_polled(inv):
    from netha.health import assess
    from netha.observe.types import DeviceObservation, Snapshot

    r1 = obs("r1", "master", "init", eth2=False)
    a = None
    state = None
    for i in range(4):
        a = assess(inv, Snapshot(at=i * 0.1, wall=0, devices={"r1": r1, "r2": DeviceObservation("r2")}), state)
        state = a.state
    assert a.groups["lan"].members["r2"].health == "unknown"
    assert decide(inv, a, Memory(maintenance=frozenset({"upstream"})), 1000.0).kind == "none"


# -- clocks -------------------------------------------------------------------------------------------

def test_memory_times_survive_a_restart_in_the_same_boot_unchanged():
    mem = Memory(actions=(100.0,)).with_group("lan", blocked_until=400.0, last_action_at=100.0)
    assert memory_from_json(memory_to_json(mem, 150.0), 170.0) == mem


def test_another_boot_keeps_what_was_left_of_each_period():
    mem = Memory(actions=(100.0,)).with_group("lan", blocked_until=400.0, last_action_at=100.0, primary_healthy_since=120.0)
    doc = memory_to_json(mem, 150.0)
    doc["boot"] = "another-boot"
    back = memory_from_json(doc, 5.0)  # monotonic clock restarted
    gm = back.group("lan")
    assert gm.blocked_until == 400.0 - 150.0 + 5.0  # 250 s were left and are left
    assert back.actions == (100.0 - 145.0,)
    assert gm.primary_healthy_since is None


def test_a_wall_clock_step_cannot_shorten_a_block_period(monkeypatch):
    mem = Memory().with_group("lan", blocked_until=time.monotonic() + 300.0)
    doc = memory_to_json(mem)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 86_400)  # NTP steps a day ahead
    gm = memory_from_json(doc).group("lan")
    assert gm.blocked_until - time.monotonic() > 299.0
    assert doc["boot"] == _boot_id()


def test_old_wall_clock_memory_is_carried_over_to_monotonic_time():
    wall = time.time()
    doc = {"groups": {"lan": {"blocked_until": wall + 200.0, "last_action_at": wall - 10.0}}, "actions": [wall - 10.0]}
    gm = memory_from_json(doc, 50.0).group("lan")
    assert 249.0 < gm.blocked_until < 251.0


# -- each step's change (operation and values) survives the journal ------------------------------------------

def _record(tmp_path, header: dict, intent: str | None = None) -> PlanRecord:
    s = Store(tmp_path)
    s.journal("p1", 0, "plan", header)
    if intent:
        s.journal("p1", 1, "intent", {"lines": ["x"]}, intent)
    (pid, entries), = s.open_plans()
    return PlanRecord.from_entries(pid, entries)


def test_the_journal_keeps_each_step_s_change_and_recovery_rebuilds_it(tmp_path):
    import ipaddress
    import json

    from netha.drivers.changes import ChangeValues

    vip = ipaddress.IPv4Interface("198.18.1.1/24")
    plan = Plan("gateway-move", "lan", "r2", (
        Step("r2", "add", "add_address", ("interface eth1",), Expect("r2"),
             ChangeValues("eth1", mode="static", address=vip, local_address=ipaddress.IPv4Interface("198.18.1.3/24"))),
        Step("r2", "announce", "garp", (), Expect("r2")),
        Step("r1", "pin", "set_priority", ("x",), Expect(), ChangeValues("eth1", 1, 254, protocol="vrrp", version=2)),
    ), (), "p1")
    header = plan_header(plan, "manual", "manual", None)
    assert json.loads(json.dumps(header)) == header  # JSON-safe as it is, no default=str needed
    assert header["steps"][0]["values"]["address"] == "198.18.1.1/24" and header["steps"][1]["values"] is None
    assert _record(tmp_path, header).plan().steps == plan.steps


def test_steps_journaled_without_values_are_lines_only(tmp_path):
    header = plan_header(emergency_plan(), "manual", "manual", None)
    for step in header["steps"]:
        del step["values"]  # as written by a netha before structured changes
    rec = _record(tmp_path, header)
    assert rec.steps == emergency_plan().steps and all(s.values is None for s in rec.plan().steps)


def test_damaged_values_make_the_plan_unfinishable_so_recovery_rolls_back(tmp_path):
    from netha.drivers.changes import ChangeValues

    plan = Plan("emergency", "lan", "r2", (Step("r2", "pin", "set_priority", ("x",), Expect("r2"), ChangeValues("eth1", 1, 254)),),
                (), "p1")
    for damage in ({"priority": 999}, {"interface": "eth1; reload"}, {"address": "not-an-address"}, {"bogus": 1}):
        header = plan_header(plan, "manual", "manual", None)
        header["steps"][0]["values"].update(damage)
        rec = _record(tmp_path / next(iter(damage)), header, intent="r2")
        assert rec.steps is None, damage
        res = resolve(rec, {"r2": "pushed"}, True, rec.started + 5)
        assert res.kind == "rollback" and "no whole steps" in res.reason
    header = plan_header(plan, "manual", "manual", None)
    header["steps"][0]["operation"] = "reload"
    assert _record(tmp_path / "op", header).steps is None
