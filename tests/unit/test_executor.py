"""The executor on a fake network (tests/unit/fakes.py): push, verify, roll back, recover (issue 11, issue 12 item 7).

No device and no SSH: ``Sessions`` gets the fake network's factory; VRRP mastership follows the
fake configs (highest running priority per VRID). Each test is named after the promise it proves.
"""

from __future__ import annotations

import logging
import time

import pytest

from netha.errors import ConnectionFailed
from netha.store import Store
from netha.takeover.execute import Executor, Sessions
from netha.takeover.plan import Expect, Plan, Planner, Step
from netha.takeover.recover import MAX_PLAN_AGE

from .fakes import Crash, FakeNetwork, call_at, crash_at
from .test_decide import obs, steady


@pytest.fixture
def net(inv):
    return FakeNetwork(inv)


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "state")


def executor(inv, store, net, hook=None, rollback_timeout=0.0):
    return Executor(inv, store, Sessions(inv, factory=net.factory), adverts=None, verify_timeout=0.05,
                    rollback_timeout=rollback_timeout, hook=hook)


def planned(inv) -> Plan:
    """Make-before-break: 1. raise r2 to 254 (r2 preempts), 2. lower r1 to 1."""
    a = steady(inv, obs("r1", "master", "master"), obs("r2"))
    return Planner(inv).failover("lan", "r2", a, "planned")


def emergency(inv) -> Plan:
    """r1's uplink is down: 1. r1 resigns (vrrp 1 shutdown), 2. pin r2 at 254."""
    a = steady(inv, obs("r1", "master", "init", eth2=False), obs("r2", "backup", "master"))
    return Planner(inv).failover("lan", "r2", a, "emergency")


def kinds(store, plan_id):
    return [(e.kind, e.step, e.device) for e in store.journal_entries(plan_id)]


def closed(store, plan_id):
    return [e.data for e in store.journal_entries(plan_id) if e.kind == "closed"]


def pushed_config(store, plan_id, device):
    """The config the journal says netha's last push left on ``device``."""
    sids = [e.data["snapshot"] for e in store.journal_entries(plan_id) if e.kind == "pushed" and e.device == device]
    return store.snapshot(sids[-1]).config


# -- run: push and verify -------------------------------------------------------------------------------

def test_planned_failover_completes_and_journals_plan_snapshots_intent_pushed_done_closed_in_order(inv, store, net):
    before = net.configs()
    plan = planned(inv)
    out = executor(inv, store, net).run(plan, reason="test", origin="manual")
    assert out.ok and not out.rolled_back, out.message
    assert "r2 is master (verified" in out.message
    assert net.master(1) == "r2"
    assert " vrrp 1 priority 254" in net["r2"].config and " vrrp 1 priority 1\n" in net["r1"].config
    assert kinds(store, plan.id) == [
        ("plan", 0, None), ("snapshots", 0, None),
        ("intent", 1, "r2"), ("pushed", 1, "r2"), ("done", 1, "r2"),
        ("intent", 2, "r1"), ("pushed", 2, "r1"), ("done", 2, "r1"),
        ("closed", 3, None),
    ]
    assert closed(store, plan.id)[0]["result"] == "done"
    assert store.open_plans() == []
    # The snapshots are the configs from before, byte for byte; each "pushed" is the config after its step.
    snaps = store.journal_entries(plan.id)[1].data["snapshots"]
    assert {d: store.snapshot(s).config for d, s in snaps.items()} == before
    assert pushed_config(store, plan.id, "r1") == net["r1"].config
    assert pushed_config(store, plan.id, "r2") == net["r2"].config
    assert set(out.diffs) == {"r1", "r2"} and "+ vrrp 1 priority 254" in out.diffs["r2"]
    assert [h.result for h in store.history()] == ["ok", "ok"]


@pytest.mark.parametrize("refused", ["vrrp 1 priority 1", "exit"], ids=["the-change-itself", "after-the-change"])
def test_refused_line_at_step_2_of_planned_failover_rolls_every_touched_device_back_byte_equal(inv, store, net, refused):
    # "after-the-change": r1 takes "vrrp 1 priority 1" and then refuses "exit": a half-applied step.
    before = net.configs()
    net["r1"].reject.add(refused)
    plan = planned(inv)
    out = executor(inv, store, net).run(plan)
    assert not out.ok and out.rolled_back, out.message
    assert "step 2" in out.message and "rejected" in out.message
    assert "rolled back: r2, r1 restored to its snapshot" in out.message
    assert net.configs() == before  # byte-equal
    assert net.master(1) == "r1"
    assert [k for k in kinds(store, plan.id) if k[0] in ("failed", "rollback", "rolled-back", "closed")] == [
        ("failed", 2, "r1"),
        ("rollback", 0, "r1"), ("rolled-back", 0, "r1"),  # newest change first
        ("rollback", 0, "r2"), ("rolled-back", 0, "r2"),
        ("closed", 3, None),
    ]
    assert closed(store, plan.id)[0]["result"] == "rolled-back"
    assert [s.ok for s in out.steps] == [True, False]


def test_emergency_failover_whose_pin_is_refused_keeps_the_resign_and_undoes_the_pin_alone(inv, store, net):
    before = net.configs()
    net["r2"].reject.add("vrrp 1 priority 254")
    plan = emergency(inv)
    out = executor(inv, store, net).run(plan)
    assert out.ok and not out.rolled_back, out.message
    assert "undone alone: r2 restored, the verified state kept" in out.message
    assert net.master(1) == "r2"  # the target is still the verified master
    assert " vrrp 1 shutdown" in net["r1"].config  # the resign stays: r1's uplink is dead
    assert net["r1"].config == pushed_config(store, plan.id, "r1")
    assert net["r2"].config == before["r2"]  # only the pin was undone
    assert closed(store, plan.id)[0]["result"] == "done-partial"
    assert [e.device for e in store.journal_entries(plan.id) if e.kind == "rollback"] == ["r2"]
    assert [h.result for h in store.history()] == ["partial"]


def test_emergency_failover_whose_resign_is_refused_rolls_back_everything(inv, store, net):
    # The target never became master: nothing to keep, every touched device back to its snapshot.
    before = net.configs()
    net["r1"].reject.add("vrrp 1 shutdown")
    plan = emergency(inv)
    out = executor(inv, store, net).run(plan)
    assert not out.ok and out.rolled_back, out.message
    assert "undone alone" not in out.message
    assert net.configs() == before and net.master(1) == "r1"
    assert closed(store, plan.id)[0]["result"] == "rolled-back"


def test_emergency_failover_resigns_before_it_reads_the_new_master_s_config(inv, store, net):
    # The black hole ends with the failed master's resign: the target is backed up right before its
    # own first change, not before the resign.
    plan = emergency(inv)
    out = executor(inv, store, net).run(plan)
    assert out.ok, out.message
    assert kinds(store, plan.id) == [
        ("plan", 0, None), ("snapshots", 0, None),
        ("intent", 1, "r1"), ("pushed", 1, "r1"), ("done", 1, "r1"),
        ("snapshots", 2, None), ("intent", 2, "r2"), ("pushed", 2, "r2"), ("done", 2, "r2"),
        ("closed", 3, None),
    ]
    first = [e.data["snapshots"] for e in store.journal_entries(plan.id) if e.kind == "snapshots"]
    assert [set(s) for s in first] == [{"r1"}, {"r2"}]
    assert set(out.snapshots) == {"r1", "r2"}


def test_emergency_failover_whose_new_master_cannot_be_backed_up_keeps_the_verified_resign(inv, store, net):
    before = net.configs()
    plan = emergency(inv)
    out = executor(inv, store, net, hook=call_at("after-verify-1", lambda: setattr(net["r2"], "down", True))).run(plan)
    assert out.ok and not out.rolled_back, out.message
    assert "the verified state kept" in out.message
    assert " vrrp 1 shutdown" in net["r1"].config  # the resign stays: r1's uplink is dead
    assert net["r2"].config == before["r2"] and net["r2"].writes == 0  # never touched without a backup
    assert closed(store, plan.id)[0]["result"] == "done-partial"


def test_planned_failover_backs_up_every_device_before_the_first_change(inv, store, net):
    plan = planned(inv)
    executor(inv, store, net).run(plan)
    snaps = [e.data["snapshots"] for e in store.journal_entries(plan.id) if e.kind == "snapshots"]
    assert [set(s) for s in snaps] == [{"r1", "r2"}]


def test_value_error_from_a_parser_during_verification_is_contained(inv, store, net, caplog):
    # get_vrrp on the target raises ValueError (a parser bug on odd output) every time it is read.
    before = net.configs()
    net["r2"].vrrp_bug = 10**6
    plan = planned(inv)
    with caplog.at_level(logging.INFO, logger="netha.takeover.execute"):
        out = executor(inv, store, net).run(plan)  # no exception escapes
    assert not out.ok and out.rolled_back, out.message
    assert "r2 not verified as master of lan" in out.message and "r2 cannot be read" in out.message
    assert any("unexpected ValueError" in r.getMessage() for r in caplog.records)  # the cause is logged
    assert net.configs() == before
    assert closed(store, plan.id)[0]["result"] == "rolled-back"
    assert store.open_plans() == []


def test_the_outcome_of_a_verification_failed_by_a_parser_bug_says_unexpected_value_error(inv, store, net):
    # The operator reads why in the outcome (and the audit), not only in a debug log.
    net["r2"].vrrp_bug = 10**6
    out = executor(inv, store, net).run(planned(inv))
    assert not out.ok and out.rolled_back
    assert "unexpected ValueError" in out.message
    assert "unexpected ValueError" in store.history()[-1].detail


def test_value_error_raised_inside_a_step_is_contained_and_the_outcome_says_unexpected_value_error(inv, store, net):
    # A driver bug during the push of step 2 (not a netha error): the step fails, everything is undone.
    before = net.configs()
    net["r1"].push_bug = ValueError("not enough values to unpack")
    plan = planned(inv)
    out = executor(inv, store, net).run(plan)
    assert not out.ok and out.rolled_back
    assert "unexpected ValueError: not enough values to unpack" in out.message
    assert out.steps[-1].detail == "unexpected ValueError: not enough values to unpack"
    assert net.configs() == before
    assert store.open_plans() == []


def test_dropped_session_during_push_is_logged_in_again_and_the_push_completes(inv, store, net):
    plan = planned(inv)
    ex = executor(inv, store, net)
    ex.sessions.warm(["r1", "r2"])
    assert (net["r1"].logins, net["r2"].logins) == (1, 1)
    net["r2"].drop_pushes = 1
    net["r2"].drop_after_lines = 1  # "interface eth1" went through, then the connection reset
    out = ex.run(plan)
    assert out.ok, out.message
    assert net["r2"].logins == 2  # logged in again once, on a new session
    assert net["r1"].logins == 1  # the other session was kept
    assert len(net["r2"].pushes) == 2 and net["r2"].pushes[0] == net["r2"].pushes[1]  # pushed once more
    assert net.master(1) == "r2" and " vrrp 1 priority 254" in net["r2"].config
    assert closed(store, plan.id)[0]["result"] == "done"


def test_a_new_master_whose_session_dropped_before_its_backup_is_backed_up_on_a_new_session_and_pinned(inv, store, net):
    # An emergency plan backs up the new master right before its own first change (step 2): its warm
    # session may have dropped meanwhile (the takeover goes before the poll that would have noticed).
    plan = emergency(inv)
    ex = executor(inv, store, net, hook=call_at("before-step-2", lambda: setattr(net["r2"], "unreachable", 1)))
    ex.sessions.warm(["r1", "r2"])
    out = ex.run(plan)
    assert out.ok and not out.rolled_back, out.message
    assert "undone" not in out.message
    assert net["r2"].logins == 2  # logged in again once, for the backup
    assert " vrrp 1 priority 254" in net["r2"].config  # the pin went through
    assert closed(store, plan.id)[0]["result"] == "done"


def test_a_session_dropped_twice_during_a_push_fails_the_step_and_rolls_back(inv, store, net):
    before = net.configs()
    net["r2"].drop_pushes = 2
    out = executor(inv, store, net).run(planned(inv))
    assert not out.ok and out.rolled_back, out.message
    assert "session dropped" in out.message
    assert net.configs() == before


def test_rollback_never_overwrites_a_device_changed_by_someone_else_after_netha_s_push(inv, store, net):
    # After step 1 was pushed to r2 and recorded, an operator edits r2; then step 2 is refused by r1.
    before = net.configs()
    operator = before["r2"].replace(" vrrp 1 priority 100", " vrrp 1 priority 254\n vrrp 1 description operator")

    def operator_edits_r2():
        net["r2"].config = operator

    net["r1"].reject.add("vrrp 1 priority 1")
    plan = planned(inv)
    out = executor(inv, store, net, hook=call_at("after-record-1", operator_edits_r2)).run(plan)
    assert not out.ok and not out.rolled_back
    assert "ROLLBACK INCOMPLETE" in out.message and "r2: running config changed by someone else" in out.message
    assert net["r2"].config == operator  # never overwritten
    assert net["r2"].replaces == []
    assert net["r1"].config == before["r1"]  # netha's own change is undone
    assert [e.device for e in store.journal_entries(plan.id) if e.kind == "rollback-abandoned"] == ["r2"]
    assert closed(store, plan.id)[0]["result"] == "rollback-incomplete"
    assert store.pending_rollbacks() == []  # abandoned, not retried: it is not netha's to undo


def test_a_device_that_cannot_be_backed_up_means_nothing_is_changed(inv, store, net):
    before = net.configs()
    net["r1"].down = True
    plan = planned(inv)
    out = executor(inv, store, net).run(plan)
    assert not out.ok and "could not back up r1" in out.message and "nothing was changed" in out.message
    assert net.configs() == before and net["r2"].writes == 0
    assert closed(store, plan.id)[0]["result"] == "failed"


def test_an_unreachable_device_during_rollback_stays_pending_and_retry_pending_completes_it(inv, store, net):
    before = net.configs()
    net["r1"].reject.add("vrrp 1 priority 1")

    def r2_goes_away():
        net["r2"].down = True

    plan = planned(inv)
    ex = executor(inv, store, net, hook=call_at("before-step-2", r2_goes_away))
    out = ex.run(plan)
    assert not out.ok and not out.rolled_back and "ROLLBACK INCOMPLETE" in out.message
    assert [e.device for e in store.pending_rollbacks()] == ["r2"]
    assert ex.retry_pending() == []  # still unreachable: stays pending
    assert [e.device for e in store.pending_rollbacks()] == ["r2"]
    net["r2"].down = False
    (r,) = ex.retry_pending()
    assert r.ok and "pending rollback of r2 done" in r.message
    assert net.configs() == before and store.pending_rollbacks() == []


def test_static_gateway_move_is_verified_by_the_address_and_announced(inv, store, net):
    # lan2 (mode static): the gateway address moves from r1 to r2 and is announced (gratuitous ARP).
    for name, addr in (("r1", "198.18.3.2/24"), ("r2", "198.18.3.3/24")):
        net[name].config += f"interface eth3\n ip address {addr}\n" + (
            " ip address 198.18.3.1/24\n" if name == "r1" else "") + "exit\n"
    sent = []
    ex = executor(inv, store, net)
    ex.garp = lambda group, ip, mac: sent.append((group, ip, mac))
    plan = Plan("gateway-move", "lan2", "r2", (
        Step("r1", "remove", "remove_address", ("interface eth3", " no ip address 198.18.3.1/24", "exit")),
        Step("r2", "add", "add_address", ("interface eth3", " ip address 198.18.3.1/24", "exit")),
        Step("r2", "announce", "garp", (), Expect("r2")),
    ))
    out = ex.run(plan)
    assert out.ok, out.message
    assert "198.18.3.1/24" not in net["r1"].config and "ip address 198.18.3.1/24" in net["r2"].config
    assert [(g, ip) for g, ip, _ in sent] == [("lan2", "198.18.3.1")] and sent[0][2]


# -- sessions ---------------------------------------------------------------------------------------------

def test_sessions_keep_one_session_per_device_and_reopen_a_dropped_one(inv, net):
    s = Sessions(inv, factory=net.factory)
    with s.session("r1") as a:
        pass
    with s.session("r1") as b:
        assert b is a
    net["r1"].unreachable = 1  # the next call fails and the session drops
    with pytest.raises(ConnectionFailed), s.session("r1") as c:
        c.get_config()
    with s.session("r1") as d:
        assert d is not a and d.get_config() == net["r1"].config
    assert net["r1"].logins == 2
    net["r2"].down = True
    s.warm(["r2"])  # best effort: logged, never raised
    s.close()
    assert not d.is_open


# -- crash recovery -------------------------------------------------------------------------------------

def crash(inv, store, net, plan, point, then=None, **run):
    with pytest.raises(Crash):
        executor(inv, store, net, hook=crash_at(point, then)).run(plan, **run)
    assert [pid for pid, _ in store.open_plans()] == [plan.id]


def restart(inv, tmp_path, net):
    """The next controller: a new store handle on the same state directory, new sessions."""
    store = Store(tmp_path / "state")
    return store, executor(inv, store, net)


@pytest.mark.parametrize("point", ["after-push-1", "after-record-1", "after-verify-1", "before-step-2"])
def test_recover_finishes_a_plan_whose_target_holds(inv, store, net, tmp_path, point):
    # The case of issue 11: killed after r1 resigned; r2 is master and healthy: finish, never undo.
    plan = emergency(inv)
    crash(inv, store, net, plan, point, reason="automatic: master r1 degraded", origin="auto", action="failover")
    assert net.master(1) == "r2"
    store2, ex = restart(inv, tmp_path, net)
    (r,) = ex.recover()
    assert r.resolution.kind == "finish" and r.ok, r.message
    assert "r2 is the only master and healthy" in r.message
    assert " vrrp 1 shutdown" in net["r1"].config and " vrrp 1 priority 254" in net["r2"].config
    assert net.master(1) == "r2" and net["r1"].replaces == [] and net["r2"].replaces == []
    assert closed(store2, plan.id)[0]["result"] == "done"
    assert store2.open_plans() == [] and store2.pending_rollbacks() == []
    assert (r.record.origin, r.record.action) == ("auto", "failover")


def test_recover_closes_a_plan_whose_every_step_was_done(inv, store, net, tmp_path):
    plan = planned(inv)
    crash(inv, store, net, plan, "before-close")
    after = net.configs()
    store2, ex = restart(inv, tmp_path, net)
    (r,) = ex.recover()
    assert (r.resolution.kind, r.ok) == ("close", True)
    assert net.configs() == after and net["r1"].writes + net["r2"].writes == 2  # the plan's 2 pushes, nothing more
    assert closed(store2, plan.id)[0]["result"] == "recovered-close"


def test_recover_closes_a_plan_that_changed_nothing(inv, store, net, tmp_path):
    # Killed after r2 was raised; r2 then came back with its saved config (a reboot): nothing is netha's.
    before = net.configs()
    plan = planned(inv)

    def r2_reboots():
        net["r2"].config = before["r2"]

    crash(inv, store, net, plan, "after-record-1", then=r2_reboots)
    store2, ex = restart(inv, tmp_path, net)
    writes = {n: d.writes for n, d in net.devices.items()}
    (r,) = ex.recover()
    assert (r.resolution.kind, r.ok) == ("nothing", True), r.message
    assert {n: d.writes for n, d in net.devices.items()} == writes  # no device written
    assert net.configs() == before and net.master(1) == "r1"
    assert closed(store2, plan.id)[0]["result"] == "recovered-nothing"


def test_recover_closes_a_plan_killed_before_its_first_push(inv, store, net, tmp_path):
    plan = planned(inv)
    crash(inv, store, net, plan, "after-snapshots")
    _, ex = restart(inv, tmp_path, net)
    (r,) = ex.recover()
    assert r.resolution.kind == "nothing" and r.ok
    assert net["r1"].writes + net["r2"].writes == 0


def test_recover_rolls_back_only_what_is_still_netha_s_when_the_target_does_not_hold(inv, store, net, tmp_path):
    # Killed after both steps were pushed (step 2 not verified); an operator then shuts r2's VRRP down
    # (r1, at priority 1, becomes master again): the target does not hold. r1 is still netha's: restored;
    # r2 is the operator's now: left alone, said so.
    before = net.configs()
    plan = planned(inv)
    crash(inv, store, net, plan, "after-record-2")
    operator = net["r2"].config.replace(" vrrp 1 priority 254", " vrrp 1 priority 254\n vrrp 1 shutdown")
    net["r2"].config = operator
    assert net.master(1) == "r1"
    store2, ex = restart(inv, tmp_path, net)
    (r,) = ex.recover()
    assert r.resolution.kind == "rollback" and not r.ok, r.message
    assert r.resolution.rollback == ("r1",) and r.resolution.foreign == ("r2",)
    assert "NOT rolled back (changed by someone else since netha pushed; check by hand): r2" in r.message
    assert net["r1"].config == before["r1"]
    assert net["r2"].config == operator and net["r2"].replaces == []
    assert closed(store2, plan.id)[0]["result"] == "recovery-rollback-incomplete"
    assert store2.history()[-1].result == "attention"


def test_recover_rolls_back_every_netha_change_when_the_target_is_not_healthy(inv, store, net, tmp_path):
    before = net.configs()
    plan = planned(inv)
    crash(inv, store, net, plan, "after-record-2")
    store2, ex = restart(inv, tmp_path, net)
    (r,) = ex.recover(healthy=lambda group, device: False)
    assert (r.resolution.kind, r.ok) == ("rollback", True), r.message
    assert net.configs() == before and net.master(1) == "r1"
    assert closed(store2, plan.id)[0]["result"] == "recovered-rollback"


def test_recover_after_a_crash_in_the_middle_of_a_rollback_completes_it(inv, store, net, tmp_path):
    # Step 2 is refused; the rollback restores r1, then the controller dies while restoring r2.
    before = net.configs()
    net["r1"].reject.add("vrrp 1 priority 1")
    net["r2"].replace_bug = Crash("killed during the rollback of r2")
    plan = planned(inv)
    with pytest.raises(Crash):
        executor(inv, store, net).run(plan)
    assert net["r1"].config == before["r1"] and net["r2"].config != before["r2"]
    store2, ex = restart(inv, tmp_path, net)
    (r,) = ex.recover()  # r2 (254) is master and healthy: finishing is tried; r1 refuses again: rolled back
    assert r.resolution.kind == "finish" and not r.ok, r.message
    assert net.configs() == before and net.master(1) == "r1"
    assert closed(store2, plan.id)[0]["result"] == "rolled-back"
    assert store2.open_plans() == [] and store2.pending_rollbacks() == []


def test_recover_reports_a_plan_older_than_max_plan_age_without_touching_devices(inv, store, net, tmp_path):
    plan = planned(inv)
    crash(inv, store, net, plan, "after-record-1")
    after = net.configs()
    store2, ex = restart(inv, tmp_path, net)
    writes = {n: d.writes for n, d in net.devices.items()}
    (r,) = ex.recover(now=time.time() + MAX_PLAN_AGE + 60)
    assert (r.resolution.kind, r.ok) == ("stale", False)
    assert "reported, not replayed; check the devices by hand" in r.message
    assert {n: d.writes for n, d in net.devices.items()} == writes and net.configs() == after
    assert closed(store2, plan.id)[0]["result"] == "recovery-stale-incomplete"
    assert store2.history()[-1].result == "attention"
    assert ex.recover() == []  # reported once: closed


def test_recover_keeps_an_unreadable_device_pending_and_retry_pending_later_completes_it(inv, store, net, tmp_path):
    before = net.configs()
    plan = planned(inv)
    crash(inv, store, net, plan, "after-record-2")
    net["r2"].down = True  # the target cannot be read: it does not hold; r2's config cannot be checked
    store2, ex = restart(inv, tmp_path, net)
    (r,) = ex.recover()
    assert r.resolution.kind == "rollback" and r.resolution.unreadable == ("r2",) and not r.ok
    assert "unreadable now, rollback pending and retried: r2" in r.message
    assert net["r1"].config == before["r1"]  # r1 (readable, still netha's) restored at once
    assert [e.device for e in store2.pending_rollbacks()] == ["r2"]
    assert ex.retry_pending() == []  # still down: kept, never forgotten
    assert [e.device for e in store2.pending_rollbacks()] == ["r2"]
    net["r2"].down = False
    (p,) = ex.retry_pending()
    assert p.ok and "pending rollback of r2 done" in p.message
    assert net.configs() == before and net.master(1) == "r1"
    assert store2.pending_rollbacks() == [] and ex.retry_pending() == []


def test_a_pending_rollback_is_abandoned_when_the_device_was_changed_by_someone_else(inv, store, net, tmp_path):
    plan = planned(inv)
    crash(inv, store, net, plan, "after-record-2")
    net["r2"].down = True
    _, ex = restart(inv, tmp_path, net)
    ex.recover()
    net["r2"].down = False
    operator = net["r2"].config.replace(" vrrp 1 priority 254", " vrrp 1 priority 150")
    net["r2"].config = operator
    (p,) = ex.retry_pending()
    assert not p.ok and "abandoned" in p.message
    assert net["r2"].config == operator and net["r2"].replaces == []
    assert ex.retry_pending() == []


def test_recover_finish_whose_next_step_fails_never_overwrites_a_foreign_device(inv, store, net, tmp_path):
    # Killed before step 2 of a planned failover (step 1 done: r2 at 254, master). An operator then
    # edits r2 (still master). Recovery finishes (target holds); step 2 is refused by r1 -> rollback.
    plan = planned(inv)
    before_r1 = net["r1"].config
    crash(inv, store, net, plan, "before-step-2")
    operator = net["r2"].config.replace(" vrrp 1 ip 198.18.1.1", " vrrp 1 ip 198.18.1.1\n vrrp 1 description operator")
    net["r2"].config = operator
    net["r1"].reject.add("vrrp 1 priority 1")
    _, ex = restart(inv, tmp_path, net)
    (r,) = ex.recover()
    assert r.resolution.kind == "finish" and r.resolution.foreign == ("r2",)
    assert not r.ok and "not overwritten" in r.message
    assert net["r2"].config == operator and net["r2"].replaces == []  # never overwritten: not netha's any more
    assert net["r1"].config == before_r1  # r1's refused step is undone


# -- the driver applies each step's change (operation and values) -----------------------------------------

def test_each_step_is_applied_as_its_change_by_the_driver(inv, store, net):
    plan = planned(inv)
    assert executor(inv, store, net).run(plan).ok
    for step in plan.steps:
        assert step.values is not None and step.values.priority in (254, 1)
        assert net[step.device].changes == [(step.operation, step.values)]
        assert net[step.device].pushes == [step.lines]  # the driver rendered what the plan showed


def test_a_step_without_values_is_pushed_as_its_lines(inv, store, net):
    # A plan journaled by a netha before structured changes: lines only, pushed with load_config.
    step = planned(inv).steps[0]
    old = Plan("planned", "lan", "r2", (Step(step.device, step.description, step.operation, step.lines, step.expect),))
    assert executor(inv, store, net).run(old).ok
    assert net["r2"].changes == [] and net["r2"].pushes == [step.lines]


def test_recovery_finishes_with_the_changes_rebuilt_from_the_journal(inv, store, net, tmp_path):
    plan = emergency(inv)
    crash(inv, store, net, plan, "after-verify-1")
    _, ex = restart(inv, tmp_path, net)
    (r,) = ex.recover()
    assert r.resolution.kind == "finish" and r.ok, r.message
    pin = plan.steps[1]
    assert net["r2"].changes == [("set_priority", pin.values)] and pin.values is not None
    assert pin.values.priority == 254 and net["r2"].pushes == [pin.lines]
