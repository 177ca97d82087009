"""Device event streams (issue 14): the kernel's change lines, the stream's supervision, the wake-up
of a device's reads, the shared shell connection, and the pipelined CLI reads they rely on.

The ``ip -o monitor`` lines are captured from the lab (FRR 8.4.4 router r1 and keepalived 2.2.7
router k1 on Debian 12's iproute2 6.1.0, `netha lab up`, a switch port set down and up again);
the vtysh transcript is captured from the lab's r1 (a pipelined write of five config lines).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from netha.drivers import driver_class
from netha.drivers.base import DeviceEvent
from netha.drivers.linux import monitor_stream, parse_monitor_line
from netha.errors import ConnectionFailed, ParseError
from netha.observe.events import DeviceEventStream, EventStreams
from netha.observe.observer import ObserverOptions
from netha.observe.ssh import SshSample, SshWorker
from netha.observe.types import ProbeResult
from netha.transport.ssh import ExecPool, SshChannel, SshParams
from .fakes import FakeChannel

# -- the kernel's lines ---------------------------------------------------------------------------------

CAPTURED_FRR = [  # r1: the uplink loses carrier, and its VRRP macvlan with it; then both come back
    "3: eth2@if16: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN group default \\    "
    "link/ether 2a:fd:7b:45:04:8d brd ff:ff:ff:ff:ff:ff link-netns nhev-sw",
    "8: eth2-v2@eth2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state LOWERLAYERDOWN group default "
    "\\    link/ether 00:00:5e:00:01:02 brd ff:ff:ff:ff:ff:ff",
    "3: eth2@if16: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default \\    "
    "link/ether 2a:fd:7b:45:04:8d brd ff:ff:ff:ff:ff:ff link-netns nhev-sw",
]
CAPTURED_KEEPALIVED = [  # k1: carrier lost; keepalived (FAULT) removes its virtual address
    "3: eth2@if28: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN group default \\    "
    "link/ether ee:f1:65:2f:db:f8 brd ff:ff:ff:ff:ff:ff link-netns nhev-sw",
    "Deleted 3: eth2    inet 198.18.5.1/24 scope global secondary eth2\\       valid_lft forever preferred_lft forever",
    "Deleted local 198.18.5.1 dev eth2 table local proto kernel scope host src 198.18.5.2 ",
    "3: eth2    inet 198.18.5.1/24 scope global secondary eth2\\       valid_lft forever preferred_lft forever",
]


def test_a_link_line_names_the_interface_and_whether_it_has_carrier():
    events = [parse_monitor_line(line) for line in CAPTURED_FRR]
    assert events == [
        DeviceEvent("link", "eth2", "down"),
        DeviceEvent("link", "eth2-v2", "down"),
        DeviceEvent("link", "eth2", "up"),
    ]


def test_address_and_route_lines_name_their_interface_and_say_deleted():
    events = [parse_monitor_line(line) for line in CAPTURED_KEEPALIVED]
    assert events[1] == DeviceEvent("address", "eth2", "deleted inet 198.18.5.1/24")
    assert events[2] == DeviceEvent("route", "eth2", "deleted 198.18.5.1")
    assert events[3] == DeviceEvent("address", "eth2", "inet 198.18.5.1/24")


def test_frr_s_backup_macvlan_shows_protodown():
    line = ("8: eth2-v2@eth2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state LOWERLAYERDOWN "
            "group default protodown on \\    link/ether 00:00:5e:00:01:02 brd ff:ff:ff:ff:ff:ff")
    assert parse_monitor_line(line) == DeviceEvent("link", "eth2-v2", "down, protodown")


def test_the_stream_s_own_lines_are_ready_and_heartbeat_and_its_errors_are_the_stream_s_failure():
    assert parse_monitor_line("netha-events-ready") == DeviceEvent("ready")
    assert parse_monitor_line("netha-events-alive") == DeviceEvent("heartbeat")
    assert parse_monitor_line("   ") is None
    with pytest.raises(ParseError, match="not found"):
        parse_monitor_line("netha-events-error: ip (iproute2) not found")
    with pytest.raises(ParseError, match="ip monitor"):
        parse_monitor_line("Cannot open netlink socket: Operation not permitted")


def test_an_unknown_line_is_still_an_event_that_wakes_a_read():
    event = parse_monitor_line("something the kernel said that netha has never seen")
    assert event is not None and event.kind == "other"


def test_linux_platforms_stream_events_and_vendor_platforms_are_polled_only():
    assert driver_class("frr").event_stream() is not None
    assert driver_class("keepalived").event_stream() is not None
    for platform in ("cisco_ios", "arista_eos", "juniper_junos", "cisco_nxos"):
        assert driver_class(platform).event_stream() is None
    stream = monitor_stream()
    assert "ip -o monitor link address route" in stream.command and stream.heartbeat > 0


# -- the stream over a fake exec channel ------------------------------------------------------------------

class FakeConnection:
    """One 'SSH connection': counts logins, hands out fake channels."""

    logins = 0

    def __init__(self, params):
        self.params = params
        self.channels: list[FakeChannel] = []
        self.open_ = False
        self.started = threading.Event()

    def open(self):
        FakeConnection.logins += 1
        self.open_ = True

    @property
    def is_open(self):
        return self.open_

    def start(self, command):
        chan = FakeChannel()
        self.channels.append(chan)
        self.started.set()
        return chan

    def close(self):
        self.open_ = False


PARAMS = SshParams(device="r1", host="198.18.0.11", username="root", netmiko_device_type="linux")


def _wait(cond, timeout=10.0):  # generous: a loaded CI machine; returns as soon as COND holds
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture()
def pool():
    conns: list[FakeConnection] = []

    def factory(params):
        conn = FakeConnection(params)
        conns.append(conn)
        return conn

    p = ExecPool(factory)
    p.conns = conns  # type: ignore[attr-defined]
    yield p
    p.close()


def test_an_event_calls_back_and_the_stream_reports_up_then_down_when_it_ends(pool):
    events: list[DeviceEvent] = []
    states: list[bool] = []
    s = DeviceEventStream("r1", lambda: PARAMS, monitor_stream(), pool, on_event=lambda d, e: events.append(e),
                          on_state=lambda d, up: states.append(up))
    s.start()
    try:
        assert _wait(lambda: pool.conns and pool.conns[0].channels)
        chan = pool.conns[0].channels[0]
        chan.say("netha-events-ready", "netha-events-alive")
        assert _wait(lambda: s.stats().state == "up")
        chan.say(CAPTURED_FRR[0])
        assert _wait(lambda: events == [DeviceEvent("link", "eth2", "down")])
        assert s.stats().events == 1 and s.stats().last_detail == "link eth2 down"
        chan.end(255)
        assert _wait(lambda: s.stats().state == "down")
        assert "ended (exit status 255)" in (s.stats().error or "")
        assert states[:2] == [True, False]
        # reconnected with backoff (0.5 s), reported up again
        assert _wait(lambda: len(pool.conns[-1].channels) >= 1 and pool.conns[-1].channels[-1] is not chan, 10)
        pool.conns[-1].channels[-1].say("netha-events-ready")
        assert _wait(lambda: s.stats().state == "up")
        assert s.stats().restarts >= 1 and states[-1] is True
    finally:
        s.stop()
    assert not s.running


def test_a_stream_that_says_nothing_past_its_heartbeat_is_down(pool, monkeypatch):
    import netha.observe.events as ev

    monkeypatch.setattr(ev, "QUIET_MIN", 0.3)
    monkeypatch.setattr(ev, "STARTUP", 0.0)
    stream = monitor_stream()
    s = DeviceEventStream("r1", lambda: PARAMS, type(stream)(stream.command, stream.parse, heartbeat=0.1), pool,
                          on_event=lambda d, e: None)
    s.start()
    try:
        assert _wait(lambda: pool.conns and pool.conns[0].channels)
        pool.conns[0].channels[0].say("netha-events-ready")
        assert _wait(lambda: s.stats().state == "up")
        assert _wait(lambda: s.stats().state == "down", 3)
        assert "silent" in (s.stats().error or "")
    finally:
        s.stop()


def test_a_device_without_a_shell_login_has_its_stream_down_with_the_reason(pool):
    s = DeviceEventStream("r1", lambda: None, monitor_stream(), pool, on_event=lambda d, e: None)
    s.start()
    try:
        assert _wait(lambda: s.stats().state == "down")
        assert "no shell login" in (s.stats().error or "")
    finally:
        s.stop()


def test_an_error_line_is_the_stream_s_failure_not_an_event(pool):
    events: list = []
    s = DeviceEventStream("r1", lambda: PARAMS, monitor_stream(), pool, on_event=lambda d, e: events.append(e))
    s.start()
    try:
        assert _wait(lambda: pool.conns and pool.conns[0].channels)
        pool.conns[0].channels[0].say("netha-events-error: ip (iproute2) not found")
        assert _wait(lambda: s.stats().state == "down")
        assert "ip (iproute2) not found" in (s.stats().error or "")
        assert events == []
    finally:
        s.stop()


def test_event_streams_say_which_devices_have_one():
    streams = EventStreams({})
    assert streams.up("r1") is None and streams.stats() == []


# -- one shell connection per device ----------------------------------------------------------------------

def test_leases_share_one_login_and_the_last_one_out_closes_it(pool):
    a, b = pool.lease(PARAMS), pool.lease(PARAMS)
    a.open()
    b.open()
    assert pool.logins == 1 and len(pool.conns) == 1
    a.start("ping ...")
    b.start("ip monitor ...")
    a.close()
    assert pool.conns[0].is_open  # b still uses it
    b.close()
    assert not pool.conns[0].is_open


def test_a_dead_connection_is_replaced_by_a_new_login(pool):
    a = pool.lease(PARAMS)
    a.open()
    pool.conns[0].open_ = False  # the connection died
    b = pool.lease(PARAMS)
    b.open()
    assert pool.logins == 2 and b.is_open
    a.close()
    b.close()


# -- the worker woken by events -----------------------------------------------------------------------------

class _Worker(SshWorker):
    """A worker whose reads are counted, not made."""

    def __init__(self, interval, **kw):
        self.polls: list[float] = []
        super().__init__("r1", None, (), interval, lambda d, s: None, **kw)  # type: ignore[arg-type]

    def poll_once(self) -> SshSample:
        now = time.monotonic()
        self.polls.append(now)
        return SshSample(ProbeResult(True, now), None)


def test_an_event_brings_the_read_forward_and_a_burst_follows():
    w = _Worker(30.0, burst=3)
    w.set_events(True)
    w.start()
    try:
        assert _wait(lambda: len(w.polls) == 1)
        time.sleep(0.1)
        assert len(w.polls) == 1  # at a 30 s interval, nothing more
        t = time.monotonic()
        w.wake()
        assert _wait(lambda: len(w.polls) == 5)  # the read, then the burst of 3 ... and no more
        assert w.polls[1] - t < 0.5 and w.polls[4] - w.polls[1] < 1.0
        time.sleep(0.2)
        assert len(w.polls) == 5
    finally:
        w.stop()


def test_a_device_whose_stream_is_down_is_polled_at_the_fast_interval():
    w = _Worker(30.0, fast_interval=0.05)
    w.set_events(True)
    w.start()
    try:
        assert _wait(lambda: len(w.polls) == 1)
        w.set_events(False)
        assert _wait(lambda: len(w.polls) >= 5, 2.0)
        assert w.interval == 0.05
        w.set_events(True)
        n = len(w.polls)
        time.sleep(0.3)
        assert len(w.polls) <= n + 2  # back to the 30 s interval (a read in flight may finish)
    finally:
        w.stop()


# -- pipelined CLI reads --------------------------------------------------------------------------------------

class _PtyChan:
    """A paramiko channel on a socket pair, as the channel reads it (recv_ready, recv, select)."""

    def __init__(self):
        self.ours, self.theirs = socket.socketpair()
        self.closed = False
        self.eof_received = False

    def fileno(self):
        return self.ours.fileno()

    def recv_ready(self):
        import select

        return bool(select.select([self.ours], [], [], 0)[0])

    def recv(self, n):
        return self.ours.recv(n)


class _Conn:
    """What SshChannel needs of netmiko's connection; the 'device' answers each write with ``reply``."""

    ansi_escape_codes = False

    def __init__(self, reply):
        self.remote_conn = _PtyChan()
        self.reply = reply
        self.written: list[str] = []

    def read_channel(self):
        return ""

    def write_channel(self, text):
        self.written.append(text)
        self.remote_conn.theirs.sendall(self.reply(text).encode())


# Captured from the lab's r1: "configure terminal / interface eth1 /  vrrp 1 bogus / exit / end" in one write.
VTYSH_PIPELINED = ("configure terminal\r\nvm(config)# interface eth1\r\nvm(config-if)#  vrrp 1 bogus\r\n"
                   "% Unknown command:  vrrp 1 bogus\r\nvm(config-if)# exit\r\nvm(config)# end\r\nvm# ")


def _channel(reply) -> SshChannel:
    ch = SshChannel(SshParams(device="r1", host="198.18.0.11", username="u", netmiko_device_type="cisco_ios"),
                    driver_class("frr").spec.prompt_pattern)
    ch._conn = _Conn(reply)
    return ch


def test_pipelined_commands_are_split_on_their_prompts_in_one_write():
    ch = _channel(lambda text: VTYSH_PIPELINED)
    outs = ch.run_many(["configure terminal", "interface eth1", " vrrp 1 bogus", "exit", "end"])
    assert outs == ["", "", "% Unknown command:  vrrp 1 bogus", "", ""]
    assert len(ch._conn.written) == 1


def test_a_pipelined_answer_that_arrives_in_pieces_is_split_the_same():
    ch = _channel(lambda text: "")
    conn = ch._conn

    def drip():
        for i in range(0, len(VTYSH_PIPELINED), 7):
            time.sleep(0.002)
            conn.remote_conn.theirs.sendall(VTYSH_PIPELINED[i:i + 7].encode())

    threading.Thread(target=drip, daemon=True).start()
    outs = ch.run_many(["configure terminal", "interface eth1", " vrrp 1 bogus", "exit", "end"])
    assert outs[2] == "% Unknown command:  vrrp 1 bogus" and outs[4] == ""


def test_a_device_that_never_prompts_is_a_lost_session_after_the_timeout():
    ch = _channel(lambda text: "show vrrp json\r\n[\r\n")
    with pytest.raises(ConnectionFailed, match="no prompt"):
        ch.run("show vrrp json", timeout=0.2)


# -- the decision loop is woken by changes, not by every poll ---------------------------------------------------

def test_a_quiet_device_s_polls_wake_nobody_and_a_change_wakes_its_next_samples_too():
    from netha.drivers.models import DeviceReading, VrrpView
    from netha.inventory import load_inventory
    from netha.observe.observer import Observer

    from pathlib import Path

    inv = load_inventory(Path(__file__).resolve().parents[2] / "inventories" / "lab.yml", check_secrets=False)
    obs = Observer(inv, ObserverOptions(listener=False, snmp=False, reach=False, events=False))

    def sample(eth2: bool, adverts: int) -> SshSample:
        view = VrrpView(vrid=1, interface="eth1", state="master", priority=200, adverts_tx=adverts)
        reading = DeviceReading(vrrp=(view,), interfaces={"eth1": True, "eth2": eth2}, routes={}, addresses={})
        return SshSample(ProbeResult(True, time.monotonic()), reading)

    def woke(s: SshSample) -> bool:
        obs.changed.clear()
        obs._on_ssh("r1", s)
        return obs.changed.is_set()

    assert woke(sample(True, 1))  # the first sample
    for _ in range(inv.controller.failure_threshold + inv.controller.recovery_threshold):
        woke(sample(True, 2))  # settle
    assert not woke(sample(True, 3))  # only the advertisement counter moved: nothing new
    assert woke(sample(False, 4))  # eth2 went down
    # the next samples, identical, still wake the loop: damping counts each of them
    assert all(woke(sample(False, 5 + i)) for i in range(inv.controller.failure_threshold))
