"""The ARP presence watcher without root: frames, reply parsing, the state machine, the kernel filter
(on a Unix socket), and the whole loop against a simulated segment (Unix datagram socket pairs)."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netha.observe import arpwatch
from netha.observe.adverts import _attach_filter, craft_advert
from netha.observe.arpwatch import (
    ARP_REPLY_BPF, ArpWatch, PresenceEvent, Track, build_probe, mac_bytes, on_probe, on_reply, parse_reply,
    per_address_interval, presence_of, probe_destination,
)

OWN = bytes.fromhex("020000000001")
R1 = "02:00:00:00:00:11"
R1_NEW = "02:00:00:00:00:99"


def reply(sender_ip: str, sender_mac: str = R1, target_mac: bytes = OWN, target_ip: str = "0.0.0.0", op: int = 2) -> bytes:
    """An ARP reply as Linux sends it to a probe: to the prober's MAC, target IP 0.0.0.0, padded."""
    sha = mac_bytes(sender_mac)
    frame = target_mac + sha + struct.pack("!HHHBBH", 0x0806, 1, 0x0800, 6, 4, op) + sha + socket.inet_aton(sender_ip) \
        + target_mac + socket.inet_aton(target_ip)
    return frame + b"\0" * (60 - len(frame))


# -- frames ------------------------------------------------------------------------------------------
def test_probe_is_an_rfc5227_probe():
    f = build_probe(OWN, "198.18.2.2")
    assert len(f) == 60
    assert f[0:6] == b"\xff" * 6 and f[6:12] == OWN and f[12:14] == b"\x08\x06"
    htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", f[14:22])
    assert (htype, ptype, hlen, plen, op) == (1, 0x0800, 6, 4, 1)
    assert f[22:28] == OWN  # sender MAC: ours
    assert f[28:32] == b"\0\0\0\0"  # sender IP: 0.0.0.0 (a probe: nobody's cache learns from it)
    assert f[32:38] == b"\0" * 6  # target MAC: zero
    assert f[38:42] == socket.inet_aton("198.18.2.2")


def test_probe_goes_unicast_when_told():
    assert build_probe(OWN, "198.18.2.2", mac_bytes(R1))[0:6] == mac_bytes(R1)


@pytest.mark.parametrize("own,ip,dst", [(b"\0" * 5, "198.18.2.2", None), (OWN, "198.18.2", None), (OWN, "198.18.2.2", b"\1")])
def test_probe_rejects_bad_input(own, ip, dst):
    with pytest.raises(ValueError):
        build_probe(own, ip, dst)


def test_reply_parses():
    r = parse_reply(reply("198.18.2.2"))
    assert r is not None
    assert (r.sender_ip, r.sender_mac, r.target_mac, r.target_ip, r.eth_src) == ("198.18.2.2", R1, "02:00:00:00:00:01",
                                                                                  "0.0.0.0", R1)


def test_unpadded_reply_parses():
    assert parse_reply(reply("198.18.2.2")[:42]) is not None


@pytest.mark.parametrize("frame", [
    b"",
    reply("198.18.2.2")[:41],  # truncated
    reply("198.18.2.2", op=1),  # a request
    build_probe(OWN, "198.18.2.2"),  # our own probe
    reply("198.18.2.2")[:12] + b"\x08\x00" + reply("198.18.2.2")[14:],  # IPv4 ethertype
    reply("198.18.2.2")[:14] + b"\x00\x06" + reply("198.18.2.2")[16:],  # hardware type IEEE 802
    reply("198.18.2.2")[:18] + b"\x10" + reply("198.18.2.2")[19:],  # hardware length 16
    b"\xff" * 14 + craft_advert("198.18.2.2", 1, 200),
])
def test_anything_else_is_ignored(frame):
    assert parse_reply(frame) is None


@given(st.binary(max_size=128))
def test_garbage_never_raises(data):
    r = parse_reply(data)
    assert r is None or len(data) >= 42


@given(st.integers(min_value=0, max_value=41))
def test_every_truncation_is_ignored(n):
    assert parse_reply(reply("198.18.2.2")[:n]) is None


def test_kernel_filter_passes_arp_replies_only():
    """The BPF program, run by the kernel on a Unix datagram socket (no root needed)."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        _attach_filter(b, ARP_REPLY_BPF)
        b.setblocking(False)
        for frame in (build_probe(OWN, "198.18.2.2"), b"\xff" * 14 + craft_advert("198.18.2.2", 1, 200), b"\x08"):
            a.send(frame)
        a.send(reply("198.18.2.2"))
        assert b.recv(2048) == reply("198.18.2.2")
        with pytest.raises(BlockingIOError):
            b.recv(2048)


# -- the state of one address --------------------------------------------------------------------------
def run(track: Track, script: str, t0: float = 0.0, mac: str = R1) -> tuple[Track, list[PresenceEvent]]:
    """Drive TRACK: 'p' a probe, 'r' a reply (from MAC), 'R' a reply from R1_NEW; 0.1 s apart."""
    events: list[PresenceEvent] = []
    for n, c in enumerate(script):
        now = t0 + 0.1 * n
        if c == "p":
            track, e = on_probe(track, now)
            events += [e] if e else []
        else:
            track, es = on_reply(track, mac if c == "r" else R1_NEW, now)
            events += es
    return track, events


def kinds(events: list[PresenceEvent]) -> list[str]:
    return [e.kind for e in events]


def test_first_reply_is_an_event_and_is_kept():
    t, ev = run(Track("eth2", "198.18.2.2"), "prprpr")
    assert kinds(ev) == ["answering"] and ev[0].detail == "first reply"
    assert (t.answered, t.mac, t.unanswered, t.silent, t.sent) == (True, R1, 0, False, 3)
    assert t.last_reply == pytest.approx(0.5)


def test_silent_after_three_unanswered_probes_once():
    t, ev = run(Track("eth2", "198.18.2.2"), "pr" + "ppp")
    assert kinds(ev) == ["answering"]  # three probes out, the third not yet due
    t, ev = run(t, "p")
    assert kinds(ev) == ["silent"] and ev[0].address == "198.18.2.2" and ev[0].mac == R1
    assert "3 probes unanswered" in ev[0].detail
    t, ev = run(t, "pppppp")
    assert ev == [] and t.silent and t.unanswered == 10


def test_two_misses_are_not_silence():
    _, ev = run(Track("eth2", "198.18.2.2"), "pr" + "pp" + "pr" + "pp" + "pr")
    assert kinds(ev) == ["answering"]


def test_never_answered_is_never_silent():
    t, ev = run(Track("eth2", "198.18.2.9"), "p" * 20)
    assert ev == [] and not t.answered and not t.silent and t.unanswered == 20
    p = presence_of(t, 5.0)
    assert (p.answered, p.mac, p.last_reply, p.silent_for, p.unanswered) == (False, None, None, None, 20)


def test_answers_again_after_silence():
    t, ev = run(Track("eth2", "198.18.2.2"), "pr" + "pppp" + "pr")
    assert kinds(ev) == ["answering", "silent", "answering"]
    assert ev[2].detail == "again after 5 unanswered probes"
    assert not t.silent and t.unanswered == 0


def test_another_mac_answering_is_an_event():
    t, ev = run(Track("eth2", "198.18.2.2"), "prpR")
    assert kinds(ev) == ["answering", "mac-change"]
    assert ev[1].mac == R1_NEW and ev[1].detail == f"{R1} -> {R1_NEW}"
    assert t.mac == R1_NEW


def test_presence_silent_for():
    t, _ = run(Track("eth2", "198.18.2.2"), "prppp")
    p = presence_of(t, 2.0)
    assert (p.answered, p.mac, p.unanswered, p.silent) == (True, R1, 3, False)
    assert p.silent_for == pytest.approx(1.9)


def test_destination_unicast_when_known_broadcast_otherwise():
    t = Track("eth2", "198.18.2.2")
    assert probe_destination(t) is None  # unknown
    t, _ = run(t, "pr")
    assert probe_destination(t) == mac_bytes(R1)
    t2, _ = run(t, "p")
    assert probe_destination(t2) is None  # the last probe is unanswered: ask everyone (a new MAC?)
    dests = []
    for _ in range(30):
        dests.append(probe_destination(t, broadcast_every=10))
        t, _ = run(t, "pr")
    assert dests.count(None) == 3  # every 10th


def test_rate_bound_stretches_the_interval():
    assert per_address_interval(0.1, 3) == 0.1
    assert per_address_interval(0.1, 5) == 0.1  # exactly 50/s
    assert per_address_interval(0.1, 100) == pytest.approx(2.0)
    assert per_address_interval(0.1, 0) == 0.1


# -- the watcher, fed by hand ---------------------------------------------------------------------------
def test_watcher_counts_replies_to_us_only():
    got: list[PresenceEvent] = []
    w = ArpWatch({"eth2": ["198.18.2.2", "198.18.2.3"]}, on_change=got.append)
    w.probe("eth2", "198.18.2.2", 0.0, OWN)
    w.handle("eth2", reply("198.18.2.2"), 0.01, OWN)
    w.handle("eth2", reply("198.18.2.2", target_mac=b"\x02" * 6), 0.02, OWN)  # someone else's answer
    w.handle("eth2", reply("198.18.2.99"), 0.02, OWN)  # not a target
    w.handle("eth1", reply("198.18.2.2"), 0.02, OWN)  # not this leg's target
    w.handle("eth2", b"\x00garbage", 0.02, OWN)
    assert [(e.kind, e.address) for e in got] == [("answering", "198.18.2.2")]
    assert w.stats() == {"sent": 1, "replies": 1, "ignored": 4}
    p = w.presence(1.0)
    assert p[("eth2", "198.18.2.2")].mac == R1 and p[("eth2", "198.18.2.2")].silent_for == pytest.approx(0.99)
    assert not p[("eth2", "198.18.2.3")].answered


def test_a_failing_handler_does_not_stop_the_watcher():
    def boom(e: PresenceEvent) -> None:
        raise RuntimeError("consumer bug")

    w = ArpWatch({"eth2": ["198.18.2.2"]}, on_change=boom)
    w.handle("eth2", reply("198.18.2.2"), 0.0, OWN)
    assert w.presence(0.0)[("eth2", "198.18.2.2")].answered


def test_targets_are_checked_and_deduplicated():
    assert ArpWatch({"eth1": ["198.18.1.2", "198.18.1.2"]}).targets == {"eth1": ("198.18.1.2",)}
    with pytest.raises(ValueError):
        ArpWatch({"eth1": ["not-an-ip"]})
    with pytest.raises(ValueError):
        ArpWatch({"eth1": ["198.18.1.2"]}, interval=0)


# -- the whole loop against a simulated segment ----------------------------------------------------------
class Segment:
    """Stands in for a listener leg: a Unix datagram socket pair; the far end answers probes for ADDRESSES
    (from their MACs) while ``up``; it records when each probe arrived."""

    def __init__(self, macs: dict[str, str]):
        self.watch_end, self.far = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.macs = macs
        self.up = True
        self.probes: list[tuple[float, str, bytes]] = []  # (when, target IP, destination MAC)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.far.settimeout(0.02)
        while not self._stop.is_set():
            try:
                f = self.far.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            target = socket.inet_ntoa(f[38:42])
            self.probes.append((time.monotonic(), target, f[0:6]))
            mac = self.macs.get(target)
            if self.up and mac and f[0:6] in (b"\xff" * 6, mac_bytes(mac)):
                try:
                    self.far.send(reply(target, mac, target_mac=f[22:28]))
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self.thread.join(1)
        self.far.close()


@pytest.fixture
def segments(monkeypatch):
    segs: dict[str, Segment] = {}

    def fake_open(iface: str) -> tuple[socket.socket, bytes]:
        if iface not in segs:
            raise OSError(19, "No such device")
        s = segs[iface].watch_end
        s.setblocking(False)
        return s, OWN

    monkeypatch.setattr(arpwatch, "_open", fake_open)
    yield segs
    for s in segs.values():
        s.close()


def wait(predicate, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_loop_detects_silence_and_return(segments):
    segments["eth2"] = Segment({"198.18.2.2": R1, "198.18.2.3": "02:00:00:00:00:12"})
    got: list[PresenceEvent] = []
    with ArpWatch({"eth2": ["198.18.2.2", "198.18.2.3"]}, 0.05, got.append) as w:
        assert wait(lambda: len(got) == 2)
        assert w.running_interfaces() == ("eth2",)
        segments["eth2"].macs.pop("198.18.2.2")  # r1 stops answering
        cut = time.monotonic()
        assert wait(lambda: any(e.kind == "silent" for e in got))
        silent = next(e for e in got if e.kind == "silent")
        assert silent.address == "198.18.2.2"
        assert 0.1 <= silent.at - cut <= 0.3  # 3 to 4 intervals of 50 ms (plus scheduling slack)
        segments["eth2"].macs["198.18.2.2"] = R1_NEW  # a replaced router answers, from another MAC
        assert wait(lambda: got[-1].kind == "mac-change")
        assert [e.kind for e in got[2:]] == ["silent", "answering", "mac-change"]
        p = w.presence()
        assert p[("eth2", "198.18.2.2")].mac == R1_NEW and not p[("eth2", "198.18.2.3")].silent
    assert w.running_interfaces() == ()
    w.stop()  # idempotent


def test_loop_probes_unicast_once_known(segments):
    seg = segments["eth1"] = Segment({"198.18.1.2": R1})
    with ArpWatch({"eth1": ["198.18.1.2"]}, 0.02, broadcast_every=5):
        assert wait(lambda: len(seg.probes) >= 21)
    dests = [d for _, _, d in seg.probes[1:21]]
    assert seg.probes[0][2] == b"\xff" * 6
    assert dests.count(mac_bytes(R1)) == 16 and dests.count(b"\xff" * 6) == 4


def test_loop_stays_within_the_rate_bound(segments):
    addrs = [f"198.18.1.{n}" for n in range(10, 110)]  # 100 addresses at 0.1 s would be 1000/s
    seg = segments["eth1"] = Segment({a: R1 for a in addrs})
    with ArpWatch({"eth1": addrs}, 0.1):
        time.sleep(2.5)
    times = [t for t, _, _ in seg.probes]
    assert times
    worst = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    assert 40 <= worst <= 52  # 50/s (a margin of two for timer jitter at the window's edges)
    assert len({a for _, a, _ in seg.probes}) == 100  # every address, spread over 2 s


def test_one_interface_failing_leaves_the_others(segments, caplog):
    segments["eth1"] = Segment({"198.18.1.2": R1})
    seg2 = segments["eth2"] = Segment({"198.18.2.2": R1})
    got: list[PresenceEvent] = []
    with ArpWatch({"eth1": ["198.18.1.2"], "eth2": ["198.18.2.2"], "eth9": ["198.18.9.9"]}, 0.02, got.append) as w:
        assert wait(lambda: len(got) == 2)
        assert sorted(w.running_interfaces()) == ["eth1", "eth2"]  # eth9 could not be opened
        seg2.close()  # eth2's far end goes away: sending fails
        assert wait(lambda: w.running_interfaces() == ("eth1",))
        n = w.stats()["replies"]
        assert wait(lambda: w.stats()["replies"] > n + 5)  # eth1 goes on
        time.sleep(0.1)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert sum("eth9" in m for m in errors) == 1 and sum("eth2" in m for m in errors) == 1, errors


def test_a_bug_in_the_loop_does_not_kill_the_thread(segments, monkeypatch):
    seg = segments["eth1"] = Segment({"198.18.1.2": R1})
    calls = {"n": 0}
    real = arpwatch.build_probe

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("bug")
        return real(*a, **k)

    monkeypatch.setattr(arpwatch, "build_probe", flaky)
    with ArpWatch({"eth1": ["198.18.1.2"]}, 0.02) as w:
        assert wait(lambda: len(seg.probes) >= 5)
        assert w.running_interfaces() == ("eth1",)


# -- frames built once, answers parsed once: what is reported stays the same ------------------------------
def test_mac_text_is_lower_case_colon_separated():
    assert arpwatch.mac_text(bytes.fromhex("0a1b2c3d4eff")) == "0a:1b:2c:3d:4e:ff"
    assert arpwatch.mac_text(memoryview(bytes.fromhex("020000000011"))) == R1


def test_probe_frames_are_built_once_per_destination_and_are_the_probes(monkeypatch):
    built = []
    real = arpwatch.build_probe

    def counting(*a):
        built.append(a)
        return real(*a)

    monkeypatch.setattr(arpwatch, "build_probe", counting)
    w = ArpWatch({"eth2": ["198.18.2.2"]}, broadcast_every=5)
    frames = []
    for n in range(20):
        frames.append(w.probe("eth2", "198.18.2.2", n * 0.1, OWN))
        w.handle("eth2", reply("198.18.2.2"), n * 0.1 + 0.01, OWN)
    assert frames[0] == real(OWN, "198.18.2.2") and frames[1] == real(OWN, "198.18.2.2", mac_bytes(R1))
    assert [n for n, f in enumerate(frames) if f[0:6] == b"\xff" * 6] == [0, 4, 9, 14, 19]  # unknown, then every 5th
    assert len(built) == 2  # broadcast and unicast to R1, each built once


def test_after_a_mac_change_the_probe_goes_to_the_new_mac():
    w = ArpWatch({"eth2": ["198.18.2.2"]}, broadcast_every=0)
    w.probe("eth2", "198.18.2.2", 0.0, OWN)
    w.handle("eth2", reply("198.18.2.2"), 0.01, OWN)
    assert w.probe("eth2", "198.18.2.2", 0.1, OWN)[0:6] == mac_bytes(R1)
    w.handle("eth2", reply("198.18.2.2", R1_NEW), 0.11, OWN)
    assert w.probe("eth2", "198.18.2.2", 0.2, OWN)[0:6] == mac_bytes(R1_NEW)
    w.handle("eth2", reply("198.18.2.2"), 0.21, OWN)  # and back
    assert w.probe("eth2", "198.18.2.2", 0.3, OWN)[0:6] == mac_bytes(R1)


def test_a_repeated_reply_counts_each_time_and_moves_the_last_reply():
    got: list[PresenceEvent] = []
    w = ArpWatch({"eth2": ["198.18.2.2"]}, on_change=got.append)
    frame = reply("198.18.2.2")
    for n in range(5):
        w.probe("eth2", "198.18.2.2", n * 0.1, OWN)
        w.handle("eth2", bytes(frame), n * 0.1 + 0.01, OWN)
    for n in range(5, 9):  # silent ...
        w.probe("eth2", "198.18.2.2", n * 0.1, OWN)
    w.handle("eth2", frame, 0.95, OWN)  # ... and the same answer again
    assert [e.kind for e in got] == ["answering", "silent", "answering"]
    assert w.stats() == {"sent": 9, "replies": 6, "ignored": 0}
    assert w.presence(1.0)[("eth2", "198.18.2.2")].last_reply == pytest.approx(0.95)


def test_a_reply_to_another_leg_is_ignored_though_the_same_frame_answered_on_this_one():
    w = ArpWatch({"eth1": ["198.18.2.2"], "eth2": ["198.18.2.2"]})
    frame = reply("198.18.2.2")
    w.handle("eth2", frame, 0.0, OWN)
    w.handle("eth1", frame, 0.0, b"\x02" * 6)  # eth1's own MAC is another: not an answer to eth1's probe
    assert w.stats() == {"sent": 0, "replies": 1, "ignored": 1}


@given(st.lists(st.tuples(st.sampled_from("pprRxb"), st.integers(0, 1)), max_size=60))
def test_remembered_frames_change_nothing_the_watcher_reports(script):
    """One script of probes and answers, the answers given as bytes (remembered) and as bytearray
    (parsed every time): the same events, presence, counters and probe frames."""
    addrs = ["198.18.2.2", "198.18.2.3"]
    runs = []
    for kind in (bytes, bytearray):
        got: list[PresenceEvent] = []
        w = ArpWatch({"eth2": addrs}, on_change=got.append, broadcast_every=4)
        sent = []
        for n, (c, a) in enumerate(script):
            now, addr = n * 0.1, addrs[a]
            if c == "p":
                sent.append(w.probe("eth2", addr, now, OWN))
            elif c in "rR":
                w.handle("eth2", kind(reply(addr, R1 if c == "r" else R1_NEW)), now, OWN)
            elif c == "x":
                w.handle("eth2", kind(reply(addr, target_mac=b"\x02" * 6)), now, OWN)
            else:
                w.handle("eth2", kind(b"\x00garbage"), now, OWN)
        runs.append((got, w.presence(10.0), w.stats(), sent))
    assert runs[0] == runs[1]
