"""Reach tracking without devices: the Linux prober's lines, the window's verdict, the prober's
life cycle over a fake exec channel, and the health model's corroboration across members."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from netha.controller.decide import Action, Alert, Memory, decide, update_observations
from netha.drivers.linux import parse_ping_line, parse_tcp_line, ping_stream, tcp_stream
from netha.drivers.models import ProbeEvent, ReachProbe, ReachReading
from netha.errors import ConnectionFailed, InventoryError, ParseError
from netha.health import assess
from netha.inventory import load_inventory
from netha.observe.reach import DeviceProber, Window, judge
from netha.observe.types import DeviceObservation, ProbeResult, Snapshot, VrrpView
from .fakes import FakeChannel

# -- what ping prints (iputils 20221126, `ping -n -O`, captured on this project's lab machine) ------------

PING_LINES = {
    "64 bytes from 198.18.10.100: icmp_seq=7 ttl=63 time=0.082 ms": ProbeEvent(7, True, 0.000082),
    "64 bytes from 198.18.2.100: icmp_seq=12 ttl=64 time=1.20 ms": ProbeEvent(12, True, 0.0012),
    "no answer yet for icmp_seq=8": ProbeEvent(8, False),
    "From 198.18.6.1 icmp_seq=3 Destination Host Unreachable": ProbeEvent(3, False),
    "From 198.18.0.1 icmp_seq=1 Destination Net Unreachable": ProbeEvent(1, False),
    "PING 198.18.10.100 (198.18.10.100) from 198.18.6.2 : 56(84) bytes of data.": None,
    "--- 198.18.10.100 ping statistics ---": None,
    # the interface lost carrier: the kernel refuses to send; the probe's loss comes as "no answer yet"
    "ping: sendmsg: No buffer space available": None,
    "ping: sendmsg: Network is unreachable": None,
    "": None,
}


@pytest.mark.parametrize("line", list(PING_LINES))
def test_a_ping_line_is_a_reply_a_loss_or_nothing(line):
    assert parse_ping_line(line) == PING_LINES[line]


@pytest.mark.parametrize("line", [
    "ping: bind: Cannot assign requested address",
    "netha-prober-error: ping not found",
    "ping: socket: Operation not permitted",
])
def test_a_ping_that_cannot_run_is_the_probers_failure(line):
    with pytest.raises(ParseError):
        parse_ping_line(line)


def test_tcp_lines_are_connects_and_losses():
    assert parse_tcp_line("tcp 4 ok 1250") == ProbeEvent(4, True, 0.00125)
    assert parse_tcp_line("tcp 5 lost") == ProbeEvent(5, False)
    assert parse_tcp_line("garbage") is None
    with pytest.raises(ParseError):
        parse_tcp_line("netha-prober-error: nc not found (needed for a sourced TCP probe)")


def test_the_ping_prober_is_sourced_rate_bounded_and_quoted():
    p = ReachProbe("reach icmp 198.18.10.100", "198.18.10.100", source="198.18.6.2", interval=0.02)
    cmd = ping_stream(p).command
    assert "ping -n -O -i 0.02 -W 1 -I 198.18.6.2 198.18.10.100" in cmd
    evil = ReachProbe("k", "198.18.10.100", source="eth1;reboot")
    assert "'eth1;reboot'" in ping_stream(evil).command


def test_a_sourced_tcp_prober_needs_nc_and_says_so():
    p = ReachProbe("reach tcp 198.18.10.100:80", "198.18.10.100", kind="tcp", port=80, source="eth4")
    cmd = tcp_stream(p).command
    assert "nc -z -w 1 -s \"$s\" 198.18.10.100 80" in cmd
    assert "nc not found" in cmd


# -- the window's verdict -----------------------------------------------------------------------------------

PROBE = ReachProbe("reach icmp 198.18.10.100", "198.18.10.100", window=10, max_loss=0.3)


def test_no_result_is_unknown_not_down():
    assert judge([], PROBE) == ("unknown", 0, None)


def test_one_early_loss_of_a_new_prober_is_not_down_and_a_filling_window_is_not_up_yet():
    # 1 lost of 2 sent: 50 % of what was sent, 10 % of the window: not down, and too few answers for up.
    assert judge([(False, None), (True, 0.001)], PROBE)[0] == "unknown"
    assert judge([(True, 0.001)] * 7, PROBE)[0] == "up"  # 70 % of the window answered
    assert judge([(True, 0.001)] * 6, PROBE)[0] == "unknown"
    assert judge([(False, None)] * 4, PROBE)[0] == "down"  # 40 % of the window lost already


def test_more_than_max_loss_of_the_window_is_down():
    results = [(True, 0.001)] * 6 + [(False, None)] * 4
    assert judge(results, PROBE) == ("down", 4, 0.001)
    assert judge(results[1:], PROBE)[0] == "down"  # 4 of 9
    assert judge([(True, 0.001)] * 7 + [(False, None)] * 3, PROBE)[0] == "up"  # exactly 30 %: not above


def test_a_slow_path_is_down_when_max_rtt_is_set():
    slow = ReachProbe("k", "198.18.10.100", max_rtt=0.05)
    assert judge([(True, 0.2)] * 10, slow)[0] == "down"
    assert judge([(True, 0.01)] * 10, slow)[0] == "up"


def test_a_late_reply_corrects_its_probe_and_the_window_keeps_the_last_n():
    w = Window(3)
    w.add(ProbeEvent(1, False))
    w.add(ProbeEvent(1, True, 0.1))  # the reply after "no answer yet"
    w.add(ProbeEvent(1, False))  # and an ICMP error for it afterwards changes nothing
    assert w.results() == [(True, 0.1)]
    for seq in (2, 3, 4):
        w.add(ProbeEvent(seq, False))
    assert w.results() == [(False, None)] * 3
    assert w.count == 4


# -- the prober over a fake exec channel ---------------------------------------------------------------------

class FakeSession:
    instances: list[FakeSession] = []
    fail_open = False

    def __init__(self, params):
        self.params = params
        self.channels: list[FakeChannel] = []
        self.commands: list[str] = []
        self.ready = threading.Event()
        FakeSession.instances.append(self)

    def open(self):
        if FakeSession.fail_open:
            raise ConnectionFailed("r1", "SSH to 198.18.0.11:22 timed out")

    def start(self, command):
        chan = FakeChannel()
        self.channels.append(chan)
        self.commands.append(command)
        self.ready.set()
        return chan

    def close(self):
        pass


@pytest.fixture()
def sessions():
    FakeSession.instances = []
    FakeSession.fail_open = False
    yield FakeSession
    FakeSession.fail_open = False


def _wait(cond, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def _prober(probe=PROBE, changes=None):
    return DeviceProber("r1", lambda: object(), [probe], ping_stream,
                        on_change=(changes.append if changes is not None else None), session_factory=FakeSession)


def test_the_prober_reads_replies_as_they_arrive_and_calls_a_dead_path_down(sessions):
    changes: list[str] = []
    prober = _prober(changes=changes)
    prober.start()
    try:
        assert _wait(lambda: sessions.instances and sessions.instances[0].ready.is_set())
        chan = sessions.instances[0].channels[0]
        assert "ping -n -O" in sessions.instances[0].commands[0]
        chan.say(*(f"64 bytes from 198.18.10.100: icmp_seq={i} ttl=63 time=0.1 ms" for i in range(1, 11)))
        assert _wait(lambda: prober.readings()[PROBE.key].sent == 10)
        r = prober.readings()[PROBE.key]
        assert (r.state, r.lost, r.error, r.rate) == ("up", 0, None, 20.0)
        chan.say(*(f"no answer yet for icmp_seq={i}" for i in range(11, 15)))
        assert _wait(lambda: prober.readings()[PROBE.key].state == "down")
        assert prober.readings()[PROBE.key].lost == 4
        assert "r1" in changes  # the controller was woken
    finally:
        prober.stop()


def test_a_prober_that_ends_is_its_own_failure_and_is_restarted(sessions):
    prober = _prober()
    prober.start()
    try:
        assert _wait(lambda: sessions.instances and sessions.instances[0].ready.is_set())
        sessions.instances[0].channels[0].say("ping: bind: Cannot assign requested address")
        assert _wait(lambda: prober.readings()[PROBE.key].error is not None)
        r = prober.readings()[PROBE.key]
        assert r.state == "unknown" and "Cannot assign" in r.error
        assert _wait(lambda: len(sessions.instances) >= 2, timeout=3.0)  # restarted after its backoff
        assert prober.restarts >= 1
    finally:
        prober.stop()


def test_a_prober_that_cannot_log_in_is_unknown_never_down(sessions):
    sessions.fail_open = True
    prober = _prober()
    prober.start()
    try:
        assert _wait(lambda: prober.readings()[PROBE.key].error is not None)
        r = prober.readings()[PROBE.key]
        assert r.state == "unknown" and "timed out" in r.error
    finally:
        prober.stop()


def test_a_prober_that_goes_quiet_is_unknown(sessions):
    prober = _prober()
    prober.start()
    try:
        assert _wait(lambda: sessions.instances and sessions.instances[0].ready.is_set())
        sessions.instances[0].channels[0].say(
            *(f"64 bytes from 198.18.10.100: icmp_seq={i} ttl=63 time=0.1 ms" for i in range(1, 11)))
        assert _wait(lambda: prober.readings()[PROBE.key].state == "up")
        later = time.monotonic() + DeviceProber.quiet_after(PROBE) + 0.5
        r = prober.readings(later)[PROBE.key]
        assert r.state == "unknown" and "silent" in r.error
    finally:
        prober.stop()


def test_a_device_without_a_shell_login_reports_that(sessions):
    prober = DeviceProber("r1", lambda: None, [PROBE], ping_stream, session_factory=FakeSession)
    prober.start()
    try:
        assert _wait(lambda: prober.readings()[PROBE.key].error is not None)
        assert "shell" in prober.readings()[PROBE.key].error
        assert sessions.instances == []
    finally:
        prober.stop()


# -- the inventory --------------------------------------------------------------------------------------------

INVENTORY = """
controller: {poll_interval: 0.1, failure_threshold: 2, recovery_threshold: 2}
credentials: {lab: {username: u}}
devices:
  r1: {host: 198.18.0.11, platform: frr, credentials: lab, shell: lab}
  r2: {host: 198.18.0.12, platform: frr, credentials: lab, shell: lab}
groups:
  lan:
    vrid: 1
    interface: eth1
    virtual_addresses: [198.18.1.1/24]
    members:
      - {device: r1, priority: 200, address: 198.18.1.2/24}
      - {device: r2, priority: 100, address: 198.18.1.3/24}
    track:
      - {reach: {target: 198.18.10.100, sources: {r1: 198.18.6.2, r2: 198.18.7.2}, interval: 0.02}}
"""


@pytest.fixture()
def inv(tmp_path: Path):
    path = tmp_path / "inv.yml"
    path.write_text(INVENTORY)
    return load_inventory(path, check_secrets=False)


KEY = "reach icmp 198.18.10.100"


@pytest.mark.parametrize("bad, says", [
    ("{target: 198.18.10.100, probe: tcp}", "needs 'port'"),
    ("{target: 198.18.10.100, port: 80}", "for 'tcp' probes only"),
    ("{target: 198.18.10.100, interval: 0.001}", "interval"),
    ("{target: 198.18.10.100, sources: {r9: 198.18.6.2}}", "not a member"),
    ("{target: not-an-address}", "target"),
])
def test_a_bad_reach_track_is_a_line_of_the_inventory(tmp_path: Path, bad, says):
    path = tmp_path / "inv.yml"
    path.write_text(INVENTORY.replace("{target: 198.18.10.100, sources: {r1: 198.18.6.2, r2: 198.18.7.2}, interval: 0.02}", bad))
    with pytest.raises(InventoryError) as err:
        load_inventory(path, check_secrets=False)
    text = str(err.value)
    assert says in text and "inv.yml:" in text


def test_each_member_probes_from_its_own_source(inv):
    from netha.connect import reach_probes

    (p1,), (p2,) = reach_probes(inv, "r1"), reach_probes(inv, "r2")
    assert (p1.key, p1.source, p1.interval, p1.index) == (KEY, "198.18.6.2", 0.02, 401)
    assert p2.source == "198.18.7.2"


# -- the health model: corroboration across members ------------------------------------------------------------

def _obs(name, state, reach_state=None, error=None, at=0.0):
    reach = {} if reach_state is None and error is None else {
        KEY: ReachReading(KEY, reach_state or "unknown", sent=10, lost=0 if reach_state == "up" else 6, error=error, at=at)}
    return DeviceObservation(
        device=name, ssh=ProbeResult(True, at), vrrp=(VrrpView(1, "eth1", state, 200 if name == "r1" else 100),),
        interfaces={"eth1": True}, reach=reach)


def _run(inv, frames):
    """Assess a sequence of (r1 reach, r2 reach) frames, 0.1 s apart; the last assessment."""
    a = None
    state = None
    for i, (s1, s2) in enumerate(frames):
        t = 1.0 + i * 0.1
        snap = Snapshot(at=t, wall=t, devices={"r1": _obs("r1", "master", s1, at=t), "r2": _obs("r2", "backup", s2, at=t)})
        a = assess(inv, snap, state)
        state = a.state
    return a


def test_a_master_whose_path_dies_while_the_backups_works_is_degraded_and_failed_over(inv):
    a = _run(inv, [("up", "up")] * 3 + [("down", "up")] * 2)
    g = a.groups["lan"]
    assert g.members["r1"].health == "degraded" and KEY in g.members["r1"].reason
    assert g.members["r1"].tracks[KEY] == "down" and g.targets_down == ()
    d = decide(inv, a, Memory(), now=100.0)
    assert (d.kind, d.target, d.strategy) == (Action.FAILOVER, "r2", "emergency")


def test_one_bad_window_is_damped(inv):
    a = _run(inv, [("up", "up")] * 3 + [("down", "up")])
    assert a.groups["lan"].members["r1"].health == "healthy"


def test_a_target_down_from_every_member_is_an_alert_and_no_action(inv):
    a = _run(inv, [("up", "up")] * 3 + [("down", "down")] * 4)
    g = a.groups["lan"]
    assert g.targets_down == (KEY,)
    assert g.members["r1"].health == "healthy" and g.members["r2"].health == "healthy"
    mem = update_observations(inv, a, Memory(), 100.0)
    d = decide(inv, a, mem, now=100.0)
    assert (d.kind, d.alert) == (Action.ALERT, Alert.TARGET_DOWN)
    mem = mem.with_group("lan", alerted=d.alert.value)
    assert decide(inv, a, mem, now=100.1).kind == Action.NONE  # alerted once


def test_a_path_no_peer_can_contradict_proves_nothing(inv):
    # r2's prober does not work: r1's loss is not corroborated, r1 stays healthy.
    a = None
    state = None
    for i in range(6):
        t = 1.0 + i * 0.1
        r2 = _obs("r2", "backup", None, error="prober silent for 2.0s", at=t)
        snap = Snapshot(at=t, wall=t, devices={"r1": _obs("r1", "master", "down", at=t), "r2": r2})
        a = assess(inv, snap, state)
        state = a.state
    g = a.groups["lan"]
    assert g.members["r1"].health == "healthy"
    assert g.members["r1"].tracks[KEY] == "unknown" and g.members["r2"].tracks[KEY] == "unknown"
    assert decide(inv, a, Memory(), now=100.0).kind == Action.NONE


# -- ARP presence from the listener legs: corroboration that needs no device config -------------------------

def _presence(addr, answered=True, silent=False):
    from netha.observe.types import Presence

    return Presence("eth1", addr, "02:00:00:00:00:01", answered, 1.0 if answered else None, 4 if silent else 0,
                    0.4 if silent else 0.0, silent)


def _run_arp(inv, arp, frames=4):
    a = state = None
    for i in range(frames):
        t = 1.0 + i * 0.1
        snap = Snapshot(at=t, wall=t, devices={"r1": _obs("r1", "master", "up", at=t), "r2": _obs("r2", "backup", "up", at=t)},
                        arp=arp)
        a = assess(inv, snap, state)
        state = a.state
    return a


def test_a_master_whose_lan_address_goes_silent_while_its_peer_answers_is_degraded(inv):
    a = _run_arp(inv, {("eth1", "198.18.1.2"): _presence("198.18.1.2", silent=True),
                       ("eth1", "198.18.1.3"): _presence("198.18.1.3")})
    r1 = a.groups["lan"].members["r1"]
    assert r1.health == "degraded" and "silent on the segment" in r1.reason
    assert decide(inv, a, Memory(), now=100.0).kind == Action.FAILOVER


def test_silence_no_peer_contradicts_is_the_controllers_own_blindness(inv):
    a = _run_arp(inv, {("eth1", "198.18.1.2"): _presence("198.18.1.2", silent=True),
                       ("eth1", "198.18.1.3"): _presence("198.18.1.3", silent=True)})
    assert a.groups["lan"].members["r1"].health == "healthy"
    a = _run_arp(inv, {("eth1", "198.18.1.2"): _presence("198.18.1.2", silent=True),
                       ("eth1", "198.18.1.3"): _presence("198.18.1.3", answered=False)})
    assert a.groups["lan"].members["r1"].health == "healthy"


def _frames(inv, r2_reading, n=6):
    a = state = None
    for i in range(n):
        t = 1.0 + i * 0.1
        r2 = DeviceObservation(device="r2", ssh=ProbeResult(True, t), vrrp=(VrrpView(1, "eth1", "backup", 100),),
                               interfaces={"eth1": True}, reach={KEY: r2_reading(t)})
        snap = Snapshot(at=t, wall=t, devices={"r1": _obs("r1", "master", "down", at=t), "r2": r2})
        a = assess(inv, snap, state)
        state = a.state
    return a


def test_a_peer_already_losing_probes_is_no_witness_the_target_is_dying_for_both(inv):
    # The target died: r1's window filled first (down), r2 has lost 2 already but is still "up".
    a = _frames(inv, lambda t: ReachReading(KEY, "up", sent=10, lost=2, at=t))
    assert a.groups["lan"].members["r1"].health == "healthy"
    assert decide(inv, a, Memory(), now=100.0).kind == Action.NONE


def test_a_peer_whose_prober_lags_is_no_witness(inv):
    # Down takes 4 lost probes (window 10, max_loss 0.3) at 0.02 s: a peer lagging more than 2 intervals
    # (0.04 s) behind r1's newest result cannot vouch for now.
    a = _frames(inv, lambda t: ReachReading(KEY, "up", sent=10, lost=0, at=t - 0.05))
    assert a.groups["lan"].members["r1"].health == "healthy"
    a = _frames(inv, lambda t: ReachReading(KEY, "up", sent=10, lost=0, at=t - 0.03))
    assert a.groups["lan"].members["r1"].health == "degraded"


def test_a_witness_lagging_now_and_then_holds_the_count_instead_of_resetting_it(inv):
    # r2 is clean throughout; its newest result lags r1's by 50 ms in every other look. Those looks
    # count neither way, so r1's loss is still counted twice (failure_threshold 2) over the fresh ones.
    lags = iter([0.0, 0.05, 0.0, 0.05, 0.05, 0.0])
    a = _frames(inv, lambda t: ReachReading(KEY, "up", sent=10, lost=0, at=t - next(lags)))
    assert a.groups["lan"].members["r1"].tracks[KEY] == "down"
    assert a.groups["lan"].members["r1"].health == "degraded"


@pytest.mark.parametrize("max_rtt", [None, 0.05])
def test_window_counts_give_the_same_verdict_as_judging_the_whole_window(max_rtt):
    # The prober judges each line from counts kept as probes come and go (no pass over the window);
    # random outcomes, late replies and repeats: always judge()'s verdict.
    import random

    rng = random.Random(7)
    probe = ReachProbe("k", "198.18.10.100", interval=0.02, window=10, max_loss=0.3, max_rtt=max_rtt)
    w = Window(probe.window)
    seq = 0
    for _ in range(3000):
        r = rng.random()
        if r < 0.1 and seq > 3:  # a late reply (or a repeat) for a recent probe
            w.add(ProbeEvent(seq - rng.randint(0, 3), True, rng.uniform(0.001, 0.1)))
        else:
            seq += 1
            ok = rng.random() > 0.35
            w.add(ProbeEvent(seq, ok, rng.uniform(0.001, 0.1) if ok else None))
        assert w.state(probe) == judge(w.results(), probe)[:2]
        assert w.lost == sum(1 for ok, _ in w.results() if not ok)
    w.clear()
    assert w.state(probe) == ("unknown", 0) and w.lost == 0
