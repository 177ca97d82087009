"""The health model is a pure function: these tests feed it snapshots, no devices."""

from __future__ import annotations

from pathlib import Path

import pytest

from netha.health import HealthState, assess, damp
from netha.inventory import load_inventory
from netha.observe.types import AdvertSource, DeviceObservation, ProbeResult, Snapshot, VrrpView

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def inv():
    """The lab inventory's FRR pair and its groups (these tests feed observations of r1 and r2 only)."""
    full = load_inventory(ROOT / "inventories/lab.yml", check_secrets=False)
    # These snapshots come every 100 ms: the damping counts one sample per poll interval.
    return full.model_copy(update={
        "controller": full.controller.model_copy(update={"poll_interval": 0.1}),
        "devices": {k: v for k, v in full.devices.items() if k in ("r1", "r2")},
        "groups": {k: v for k, v in full.groups.items() if k in ("lan", "upstream", "lan2")},
    })


OK = ProbeResult(ok=True, at=0.0)
DOWN = ProbeResult(ok=False, at=0.0, error="timed out")
ADDR = {"r1": {1: "198.18.1.2", 2: "198.18.2.2"}, "r2": {1: "198.18.1.3", 2: "198.18.2.3"}}
IFACE = {1: "eth1", 2: "eth2"}


def device(name, managed=True, states=None, rx=0, ifaces=None, routes=None):
    states = states or {}
    if not managed:
        return DeviceObservation(device=name, ssh=DOWN, snmp=DOWN)
    vrrp = tuple(
        VrrpView(vrid=v, interface=IFACE[v], state=s, priority=200 if name == "r1" else 100, adverts_rx=rx)
        for v, s in states.items()
    )
    interfaces = {"eth1": True, "eth2": True, **(ifaces or {})}
    addresses = {"eth3": ("198.18.3.2/24", "198.18.3.1/24")} if name == "r1" else {"eth3": ("198.18.3.3/24",)}
    return DeviceObservation(
        device=name, ssh=OK, snmp=OK, vrrp=vrrp, interfaces=interfaces,
        routes={"198.18.2.0/24": True, **(routes or {})}, addresses=addresses,
    )


def advert(dev, vrid, last_seen, prio=None):
    return AdvertSource(
        interface=IFACE[vrid], vrid=vrid, source=ADDR[dev][vrid], priority=prio or (200 if dev == "r1" else 100),
        interval=0.1, version=3, last_seen=last_seen, first_seen=0.0, count=10,
    )


def snap(at, r1, r2, adverts=()):
    return Snapshot(at=at, wall=at, devices={"r1": r1, "r2": r2}, adverts=tuple(adverts), listening=("eth1", "eth2"))


def healthy_pair(at, rx=0):
    return snap(
        at,
        device("r1", states={1: "master", 2: "master"}),
        device("r2", states={1: "backup", 2: "backup"}, rx=rx),
        [advert("r1", 1, at), advert("r1", 2, at)],
    )


def run(inv, snaps, state=None):
    result = None
    for s in snaps:
        result = assess(inv, s, state)
        state = result.state
    return result


def test_all_healthy_is_ok_with_r1_master(inv):
    a = run(inv, [healthy_pair(t * 0.1) for t in range(3)])
    assert a.groups["lan"].verdict == "ok"
    assert a.groups["lan"].master == "r1"
    assert a.devices["r1"].health == "healthy"
    assert a.exit_code == 0


def test_damping_needs_failure_threshold_consecutive_polls():
    d = damp(None, "healthy", 0, 3, 2)
    d = damp(d, "failed", 1, 3, 2)
    d = damp(d, "failed", 2, 3, 2)
    assert d.state == "healthy"
    d = damp(d, "failed", 3, 3, 2)
    assert d.state == "failed"
    d = damp(d, "healthy", 4, 3, 2)
    assert d.state == "failed"
    d = damp(d, "healthy", 5, 3, 2)
    assert d.state == "healthy"


def test_one_bad_poll_among_good_ones_changes_nothing():
    d = damp(None, "healthy", 0, 3, 3)
    for i, raw in enumerate(["failed", "healthy", "failed", "failed", "healthy"]):
        d = damp(d, raw, i + 1, 3, 3)
    assert d.state == "healthy"


def test_blind_controller_sees_unreachable_never_failed(inv):
    snaps = [healthy_pair(t * 0.1, rx=t) for t in range(3)]
    # Management path to r1 cut: no SSH/SNMP, but its adverts keep arriving.
    for t in range(3, 40):
        at = t * 0.1
        snaps.append(snap(at, device("r1", managed=False), device("r2", states={1: "backup", 2: "backup"}, rx=t),
                          [advert("r1", 1, at), advert("r1", 2, at)]))
    a = run(inv, snaps)
    assert a.devices["r1"].health == "unreachable"
    assert "heard" in a.devices["r1"].reason
    assert a.groups["lan"].verdict == "ok"


def test_blind_without_listener_peer_rx_counter_proves_r1_alive(inv):
    state = None
    for t in range(3):
        state = assess(inv, Snapshot(at=t * 0.1, wall=0, devices={
            "r1": device("r1", states={1: "master", 2: "master"}),
            "r2": device("r2", states={1: "backup", 2: "backup"}, rx=t)}), state).state
    for t in range(3, 30):
        a = assess(inv, Snapshot(at=t * 0.1, wall=0, devices={
            "r1": device("r1", managed=False),
            "r2": device("r2", states={1: "backup", 2: "backup"}, rx=t)}), state)
        state = a.state
    assert a.devices["r1"].health == "unreachable"


def test_hard_failure_unmanaged_and_silent_is_failed_and_r2_master(inv):
    snaps = [healthy_pair(t * 0.1) for t in range(3)]
    for t in range(3, 10):
        at = t * 0.1
        snaps.append(snap(at, device("r1", managed=False), device("r2", states={1: "master", 2: "master"}),
                          [advert("r1", 1, 0.2), advert("r2", 1, at), advert("r2", 2, at)]))
    a = run(inv, snaps)
    assert a.devices["r1"].health == "failed"
    assert a.groups["lan"].master == "r2"
    assert a.groups["lan"].verdict == "failed-over"
    assert a.groups["lan"].exit_code == 1
    assert a.groups["lan2"].verdict == "down"  # r1 held the static gateway and died with it
    assert a.exit_code == 2


def test_failed_stays_failed_until_recovery_threshold(inv):
    snaps = [healthy_pair(t * 0.1) for t in range(3)]
    for t in range(3, 200):  # 20 s: beyond the master memory window
        at = t * 0.1
        snaps.append(snap(at, device("r1", managed=False), device("r2", states={1: "master", 2: "master"}),
                          [advert("r2", 1, at), advert("r2", 2, at)]))
    assert run(inv, snaps).devices["r1"].health == "failed"


def test_unmanaged_backup_is_only_unreachable(inv):
    snaps = [healthy_pair(t * 0.1) for t in range(3)]
    for t in range(3, 10):
        at = t * 0.1
        snaps.append(snap(at, device("r1", states={1: "master", 2: "master"}), device("r2", managed=False),
                          [advert("r1", 1, at), advert("r1", 2, at)]))
    a = run(inv, snaps)
    assert a.devices["r2"].health == "unreachable"
    assert a.groups["lan"].verdict == "ok"


def test_gray_failure_tracked_uplink_down_degrades_group_while_r1_still_master(inv):
    snaps = [healthy_pair(t * 0.1) for t in range(3)]
    for t in range(3, 8):
        at = t * 0.1
        snaps.append(snap(at,
                          device("r1", states={1: "master", 2: "init"}, ifaces={"eth2": False},
                                 routes={"198.18.2.0/24": False}),
                          device("r2", states={1: "backup", 2: "master"}),
                          [advert("r1", 1, at), advert("r2", 2, at)]))
    a = run(inv, snaps)
    lan = a.groups["lan"]
    assert lan.master == "r1"
    assert lan.verdict == "degraded"
    assert "interface eth2 down" in lan.reason
    assert lan.members["r1"].tracks["interface eth2"] == "down"
    assert a.groups["upstream"].verdict == "failed-over"


def test_a_tracked_interface_down_degrades_its_member_after_failure_threshold_polls_not_twice_that(inv):
    """The track is damped per poll; the member it degrades is not damped a second time on top."""
    ft = inv.controller.failure_threshold
    assert ft >= 2, "the lab inventory damps: a single bad poll must not count"

    def uplink_down(at):
        return snap(at, device("r1", states={1: "master", 2: "master"}, ifaces={"eth2": False}),
                    device("r2", states={1: "backup", 2: "backup"}), [advert("r1", 1, at), advert("r1", 2, at)])

    healthy = [healthy_pair(t * 0.1) for t in range(3)]
    before = run(inv, healthy + [uplink_down(0.3 + i * 0.1) for i in range(ft - 1)])
    assert before.groups["lan"].members["r1"].health == "healthy"
    assert before.groups["lan"].verdict == "ok"
    after = run(inv, healthy + [uplink_down(0.3 + i * 0.1) for i in range(ft)])
    assert after.groups["lan"].members["r1"].health == "degraded"
    assert after.groups["lan"].verdict == "degraded"
    assert "interface eth2 down" in after.groups["lan"].reason


def test_split_brain_when_listener_hears_two_masters(inv):
    snaps = [healthy_pair(t * 0.1) for t in range(3)]
    for t in range(3, 8):
        at = t * 0.1
        snaps.append(snap(at, device("r1", states={1: "master", 2: "master"}),
                          device("r2", states={1: "master", 2: "backup"}),
                          [advert("r1", 1, at), advert("r2", 1, at), advert("r1", 2, at)]))
    a = run(inv, snaps)
    assert a.groups["lan"].verdict == "split-brain"
    assert a.groups["lan"].masters["adverts"] == ["r1", "r2"]
    assert a.exit_code == 2


def test_short_overlap_during_takeover_is_not_split_brain(inv):
    snaps = [healthy_pair(t * 0.1) for t in range(3)]
    at = 0.3
    snaps.append(snap(at, device("r1", states={1: "master", 2: "master"}), device("r2", states={1: "master", 2: "backup"}),
                      [advert("r1", 1, at), advert("r2", 1, at), advert("r1", 2, at)]))
    a = run(inv, snaps)
    assert a.groups["lan"].verdict != "split-brain"


def test_interface_down_member_that_its_driver_reports_init_is_not_a_master(inv):
    # FRR prints Master on an interface without carrier; its driver reports init (test_frr_parsers).
    snaps = [healthy_pair(t * 0.1) for t in range(3)]
    for t in range(3, 8):
        at = t * 0.1
        snaps.append(snap(at, device("r1", states={1: "init", 2: "master"}, ifaces={"eth1": False}),
                          device("r2", states={1: "master", 2: "backup"}),
                          [advert("r2", 1, at), advert("r1", 2, at)]))
    a = run(inv, snaps)
    assert a.groups["lan"].master == "r2"
    assert a.groups["lan"].members["r1"].health == "failed"
    assert a.groups["lan"].members["r1"].state == "init"
    assert a.groups["lan"].verdict == "failed-over"


def test_frr_master_without_carrier_read_through_its_driver_is_not_a_master(inv):
    from .test_frr_parsers import frr_reading

    snaps = [healthy_pair(t * 0.1) for t in range(3)]
    lost = frr_reading("no-carrier", "eth1-no-carrier")
    for t in range(3, 8):
        at = t * 0.1
        r1 = DeviceObservation(device="r1", ssh=OK, snmp=OK, vrrp=lost.vrrp, interfaces=lost.interfaces,
                               routes={"198.18.2.0/24": True}, addresses=lost.addresses)
        snaps.append(snap(at, r1, device("r2", states={1: "master", 2: "master"}), [advert("r2", 1, at)]))
    a = run(inv, snaps)
    assert a.groups["lan"].members["r1"].state == "init"
    assert a.groups["lan"].master == "r2"
    assert a.groups["lan"].verdict == "failed-over"


def test_nothing_observed_is_unknown(inv):
    a = assess(inv, Snapshot(at=0, wall=0, devices={}), HealthState())
    assert a.groups["lan"].verdict == "unknown"
    assert a.exit_code == 3


def test_a_controller_never_takes_a_bad_first_observation_as_final(inv):
    gray = snap(0.0, device("r1", states={1: "master", 2: "init"}, ifaces={"eth2": False}),
                device("r2", states={1: "backup", 2: "master"}), [advert("r1", 1, 0.0), advert("r2", 2, 0.0)])
    one_shot = assess(inv, gray)
    assert one_shot.groups["lan"].verdict == "degraded"
    first = assess(inv, gray, HealthState(strict_start=True))
    assert first.groups["lan"].verdict != "degraded"
    assert first.groups["lan"].members["r1"].tracks["interface eth2"] == "unknown"


def test_controller_losing_sight_of_a_whole_group_says_unknown_not_down(inv):
    from .test_decide import obs, steady

    state = steady(inv, obs("r1", "master", "master"), obs("r2")).state
    a = steady(inv, obs("r1", managed=False), obs("r2", managed=False), state=state)
    assert a.devices["r1"].health == "unknown", a.devices["r1"]
    assert a.groups["lan"].verdict == "unknown"
    assert a.exit_code == 3


def test_a_silent_master_is_failed_when_a_peer_is_a_witness(inv):
    from .test_decide import obs, steady

    state = steady(inv, obs("r1", "master", "master"), obs("r2")).state
    a = steady(inv, obs("r1", managed=False), obs("r2", "master", "master"), state=state)
    assert a.devices["r1"].health == "failed"


def _hang(inv, r1_read_at):
    """r1 hangs at 0.25 s with its links up: its adverts stop, its last reading (master) stays while the
    poll in flight waits; r2 takes over after its Master_Down_Interval and says so."""
    snaps = [healthy_pair(t * 0.1) for t in range(3)]
    for t in range(3, 14):
        at = t * 0.1
        r1 = device("r1", states={1: "master", 2: "master"})
        r1 = DeviceObservation(**{**r1.__dict__, "ssh": ProbeResult(True, min(at, r1_read_at(at)))})
        snaps.append(snap(at, r1, device("r2", states={1: "master", 2: "master"}),
                          [advert("r1", 1, 0.25), advert("r1", 2, 0.25), advert("r2", 1, at), advert("r2", 2, at)]))
    return run(inv, snaps)


def test_a_hung_masters_stale_reading_is_not_a_split_brain_when_the_listener_hears_only_its_peer(inv):
    a = _hang(inv, lambda at: 0.25)  # r1's newest reading is from before the hang
    assert a.groups["lan"].verdict != "split-brain", a.groups["lan"].reason
    assert a.groups["lan"].masters["ssh"] == ["r2"]


def test_a_fresh_reading_of_two_masters_is_still_a_split_brain(inv):
    a = _hang(inv, lambda at: at)  # r1 answers its polls and says master, silent on the wire or not
    assert a.groups["lan"].verdict == "split-brain"
    assert a.groups["lan"].masters["ssh"] == ["r1", "r2"]
