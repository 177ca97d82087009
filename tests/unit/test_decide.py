"""The controller's decision is a pure function: assert each rule and each gate."""

from __future__ import annotations



from netha.controller.decide import Memory, acknowledge, after_action, decide, update_observations
from netha.controller.persist import memory_from_json, memory_to_json
from netha.health import assess
from netha.observe.types import AdvertSource, DeviceObservation, Snapshot, VrrpView

from .conftest import DOWN, OK


def obs(name, lan="backup", up="backup", eth2=True, managed=True, prio=None):
    if not managed:
        return DeviceObservation(name, ssh=DOWN, snmp=DOWN)
    p = prio or (200 if name == "r1" else 100)
    return DeviceObservation(
        name, ssh=OK, snmp=OK,
        vrrp=(VrrpView(1, "eth1", lan, p, p), VrrpView(2, "eth2", up, p, p)),
        interfaces={"eth1": True, "eth2": eth2}, routes={"198.18.2.0/24": eth2},
    )


def steady(inv, r1, r2, n=4, state=None, adverts=()):
    a = None
    for i in range(n):
        a = assess(inv, Snapshot(at=i * 0.1, wall=0, devices={"r1": r1, "r2": r2}, adverts=adverts), state)
        state = a.state
    return a


def test_all_healthy_means_no_action(inv):
    a = steady(inv, obs("r1", "master", "master"), obs("r2"))
    assert decide(inv, a, Memory(), 1000.0).kind == "none"


def test_degraded_master_triggers_emergency_failover_to_healthy_backup(inv):
    a = steady(inv, obs("r1", "master", "init", eth2=False), obs("r2", "backup", "master"))
    d = decide(inv, a, Memory(), 1000.0)
    assert (d.kind, d.group, d.target, d.strategy) == ("failover", "lan", "r2", "emergency")
    assert "interface eth2 down" in d.reason


def test_blind_controller_never_acts(inv):
    adv = (AdvertSource("eth1", 1, "198.18.1.2", 200, 0.1, 3, 0.35, 0.0, 30),
           AdvertSource("eth2", 2, "198.18.2.2", 200, 0.1, 3, 0.35, 0.0, 30))
    a = steady(inv, obs("r1", managed=False), obs("r2"), adverts=adv)
    assert decide(inv, a, Memory(), 1000.0).kind == "none"


def test_failed_primary_after_vrrp_moved_gets_the_new_master_pinned(inv):
    state = steady(inv, obs("r1", "master", "master"), obs("r2")).state
    a = steady(inv, obs("r1", managed=False), obs("r2", "master", "master"), state=state)
    assert a.devices["r1"].health == "failed"
    d = decide(inv, a, Memory(), 1000.0)
    assert (d.kind, d.target) == ("pin", "r2")


def test_pinned_master_is_not_pinned_again(inv):
    state = steady(inv, obs("r1", "master", "master"), obs("r2")).state
    a = steady(inv, obs("r1", managed=False), obs("r2", "master", "master", prio=254), state=state)
    assert decide(inv, a, Memory(), 1000.0).kind == "none"


def test_min_interval_and_block_period_stop_a_second_failover(inv):
    a = steady(inv, obs("r1", "master", "init", eth2=False), obs("r2", "backup", "master"))
    quiet = Memory(maintenance=frozenset({"upstream"}))  # isolate the LAN group
    d = decide(inv, a, quiet, 1000.0)
    mem = after_action(inv, quiet, d, True, 1000.0)
    again = decide(inv, a, mem, 1001.0)
    assert again.kind == "alert" and "blocked" in again.reason
    mem = after_action(inv, mem, again, True, 1001.0)
    assert decide(inv, a, mem, 1002.0).kind == "none"  # the alert fires once
    assert decide(inv, a, acknowledge(mem), 1002.0).kind == "alert"  # min_interval still applies
    assert decide(inv, a, acknowledge(mem), 1006.0).kind == "failover"


def test_storm_brake_stops_everything_until_ack(inv):
    a = steady(inv, obs("r1", "master", "init", eth2=False), obs("r2", "backup", "master"))
    mem = Memory(actions=(990.0, 991.0, 992.0, 993.0))
    d = decide(inv, a, mem, 1000.0)
    assert d.kind == "alert" and d.reason.startswith("storm brake")
    mem = after_action(inv, mem, d, True, 1000.0)
    assert mem.braked
    assert decide(inv, a, mem, 1001.0).kind in ("none", "alert")
    assert decide(inv, a, mem, 1001.0).kind != "failover"
    assert decide(inv, a, acknowledge(mem), 1001.0).kind == "failover"


def test_maintenance_on_a_member_means_hands_off(inv):
    a = steady(inv, obs("r1", "master", "init", eth2=False), obs("r2", "backup", "master"))
    assert decide(inv, a, Memory(maintenance=frozenset({"r1"})), 1000.0).kind == "none"


def test_failback_waits_for_hold_down(inv):
    a = steady(inv, obs("r1", "backup", "backup"), obs("r2", "master", "master", prio=254))
    mem = Memory().with_group("lan", failed_over_by="auto", pinned="r2")
    mem = update_observations(inv, a, mem, 1000.0)
    assert decide(inv, a, mem, 1005.0).kind == "none"
    d = decide(inv, a, mem, 1000.0 + inv.policy_for("lan").hold_down + 0.1)
    assert (d.kind, d.group, d.target) == ("failback", "lan", "r1")


def test_manual_failover_is_never_failed_back_automatically(inv):
    a = steady(inv, obs("r1", "backup", "backup"), obs("r2", "master", "master", prio=254))
    mem = update_observations(inv, a, Memory().with_group("lan", failed_over_by="manual"), 0.0)
    assert decide(inv, a, mem, 10_000.0).kind == "none"


def test_split_brain_alerts_once_and_never_acts(inv):
    r1, r2 = obs("r1", "master", "master"), obs("r2", "master", "backup")
    a = steady(inv, r1, r2)
    assert a.groups["lan"].verdict == "split-brain"
    d = decide(inv, a, Memory(), 1000.0)
    assert d.kind == "alert" and d.reason.startswith("split-brain")
    mem = after_action(inv, Memory(), d, True, 1000.0)
    assert decide(inv, a, mem, 1001.0).kind == "none"


def test_dry_run_policy_marks_the_decision(inv, monkeypatch):
    a = steady(inv, obs("r1", "master", "init", eth2=False), obs("r2", "backup", "master"))
    pol = inv.policy_for("lan").model_copy(update={"dry_run": True})
    monkeypatch.setattr(type(inv), "policy_for", lambda self, g: pol)
    d = decide(inv, a, Memory(), 1000.0)
    assert d.dry_run and str(d).startswith("dry-run, would failover")


def test_memory_survives_a_json_round_trip():
    mem = Memory(actions=(1.0,), braked=True, maintenance=frozenset({"r1"})).with_group("lan", pinned="r2", failed_over_by="auto")
    assert memory_from_json(memory_to_json(mem)) == mem


def test_alert_kinds_travel_as_values_not_as_text(inv):
    from netha.controller.decide import Action, Alert, Decision

    # Reworded reasons change nothing: the kind is what counts.
    braked = after_action(inv, Memory(), Decision(Action.ALERT, "lan", reason="any words", alert=Alert.STORM_BRAKE), True, 0.0)
    assert braked.braked and braked.group("lan").alerted == "storm-brake"
    worded = after_action(inv, Memory(), Decision(Action.ALERT, "lan", reason="storm brake: x", alert=Alert.BLOCKED), True, 0.0)
    assert not worded.braked and worded.group("lan").alerted == "blocked"


def test_each_alert_decision_names_its_kind(inv):
    from netha.controller.decide import Alert

    r1, r2 = obs("r1", "master", "master"), obs("r2", "master", "backup")
    assert decide(inv, steady(inv, r1, r2), Memory(), 1000.0).alert == Alert.SPLIT_BRAIN
    a = steady(inv, obs("r1", "master", "init", eth2=False), obs("r2", "backup", "master"))
    mem = Memory(actions=tuple(990.0 + i for i in range(inv.controller.storm_brake.max_actions)))
    assert decide(inv, a, mem, 1000.0).alert == Alert.STORM_BRAKE
    quiet = Memory(maintenance=frozenset({"upstream"}))
    mem = after_action(inv, quiet, decide(inv, a, quiet, 1000.0), True, 1000.0)
    assert decide(inv, a, mem, 1001.0).alert == Alert.BLOCKED


def test_a_degraded_master_is_failed_over_before_another_group_is_pinned(inv):
    # r1's uplink dies: lan's master r1 black-holes (failover), upstream moved to r2 (pin). With
    # upstream listed first, the failover still goes first: traffic is lost now, the pin can wait.
    groups = dict(sorted(inv.groups.items(), key=lambda kv: kv[0] != "upstream"))
    assert next(iter(groups)) == "upstream"
    reordered = inv.model_copy(update={"groups": groups})
    a = steady(reordered, obs("r1", "master", "init", eth2=False), obs("r2", "backup", "master"))
    only_pin = decide(reordered, a, Memory(maintenance=frozenset({"lan"})), 1000.0)
    assert (only_pin.kind, only_pin.group) == ("pin", "upstream")  # the pin is ready too
    d = decide(reordered, a, Memory(), 1000.0)
    assert (d.kind, d.group, d.target) == ("failover", "lan", "r2")


def test_groups_busy_with_a_takeover_or_sharing_its_devices_are_not_decided(inv):
    a = steady(inv, obs("r1", "master", "init", eth2=False), obs("r2", "backup", "master"))
    assert decide(inv, a, Memory(), 1000.0, busy=frozenset({"lan"})).group == "upstream"
    assert decide(inv, a, Memory(), 1000.0, busy=frozenset({"r2"})).kind == "none"
