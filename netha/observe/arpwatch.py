"""ARP presence of the member routers on the controller's listener legs: evidence that needs no device config.

From each listener interface (a leg on a segment the controller shares with the routers, with no
IPv4 address of its own) the watcher sends an ARP *probe* (RFC 5227 §2.1.1: sender IP 0.0.0.0,
sender MAC the leg's own MAC, target MAC zero, target IP the router's address) for every address it
is given, every ``interval`` seconds, and reads the replies on a raw packet socket whose kernel BPF
filter passes ARP replies only. A probe goes unicast to the MAC that last answered for the address;
broadcast when none is known, when the previous probe went unanswered, and every
``broadcast_every``-th probe (so a replaced router, a new MAC, is found again). Linux answers a
probe from 0.0.0.0 for an address on the receiving interface even with ``arp_ignore=1``, and does
not create a neighbour entry for it.

Per (interface, address) it keeps: answered ever, the MAC, the time of the last reply (monotonic)
and the probes sent since the last reply. An address that answered and then leaves
``silent_after`` (3) consecutive probes unanswered is *silent*; ``on_change`` gets a
:class:`PresenceEvent` when an address answers (the first time, or again after silence), goes
silent, or answers from another MAC than before (another device answering for the address).

Bounded: at most ``max_rate`` (50) requests per second per interface in all; with many addresses
the per-address interval stretches to ``addresses / max_rate`` and the probes are spread over it.
One thread for all interfaces. A socket error on one interface is logged once and that interface
stops (``running_interfaces()`` no longer lists it); the others go on. Nothing raises out of the
thread. The pure parts (:func:`build_probe`, :func:`parse_reply`, :func:`on_probe`,
:func:`on_reply`) work without sockets.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .adverts import ETH_P_ARP, ETH_P_IP, _attach_filter
from .types import Presence

log = logging.getLogger(__name__)

ARP_REQUEST = 1
ARP_REPLY = 2
BROADCAST = b"\xff" * 6
ZERO_MAC = b"\0" * 6
PACKET_OUTGOING = 4  # sll_pkttype of a frame this host sent
MIN_FRAME = 60  # Ethernet minimum without the FCS: probes are padded to it
SILENT_AFTER = 3  # consecutive unanswered probes after which an address that answered is silent
BROADCAST_EVERY = 10  # every Nth probe is broadcast even when the MAC is known
MAX_RATE = 50.0  # requests per second per interface, all addresses together

# Classic BPF: accept ARP replies (ethertype 0x0806, opcode 2); drop everything else in the kernel.
ARP_REPLY_BPF: tuple[tuple[int, int, int, int], ...] = (
    (0x28, 0, 0, 12),  # ldh [12]          ethertype
    (0x15, 0, 3, ETH_P_ARP),  # jeq #0x806
    (0x28, 0, 0, 20),  # ldh [20]          ARP opcode
    (0x15, 0, 1, ARP_REPLY),  # jeq #2
    (0x06, 0, 0, 0x40000),  # ret #262144   accept
    (0x06, 0, 0, 0),  # ret #0            drop
)

_ARP = struct.Struct("!6s6sHHHBBH6s4s6s4s")  # Ethernet header + ARP for IPv4 over Ethernet (42 bytes)


def mac_text(mac: bytes) -> str:
    """6 bytes as aa:bb:cc:dd:ee:ff (lower case)."""
    return bytes(mac).hex(":")


def mac_bytes(mac: str) -> bytes:
    raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return raw


# -- frames ------------------------------------------------------------------------------------------
def build_probe(own_mac: bytes, target_ip: str, dst_mac: bytes | None = None) -> bytes:
    """An ARP probe frame (RFC 5227): who has TARGET_IP, asked from 0.0.0.0 by OWN_MAC.

    Sent to DST_MAC (the MAC that last answered), else broadcast; padded to 60 bytes.
    """
    if len(own_mac) != 6 or (dst_mac is not None and len(dst_mac) != 6):
        raise ValueError("MAC addresses are 6 bytes")
    frame = _ARP.pack(dst_mac or BROADCAST, own_mac, ETH_P_ARP, 1, ETH_P_IP, 6, 4, ARP_REQUEST,
                      own_mac, b"\0\0\0\0", ZERO_MAC, ipaddress.IPv4Address(target_ip).packed)
    return frame + b"\0" * (MIN_FRAME - len(frame))


@dataclass(frozen=True)
class ArpReply:
    eth_src: str
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str


def parse_reply(frame: bytes) -> ArpReply | None:
    """An Ethernet frame carrying an IPv4-over-Ethernet ARP reply; None for anything else (never raises)."""
    if not isinstance(frame, (bytes, bytearray, memoryview)) or len(frame) < _ARP.size:
        return None
    (_dst, src, ethertype, htype, ptype, hlen, plen, op, sha, spa, tha, tpa) = _ARP.unpack_from(frame)
    if ethertype != ETH_P_ARP or htype != 1 or ptype != ETH_P_IP or hlen != 6 or plen != 4 or op != ARP_REPLY:
        return None
    return ArpReply(mac_text(src), mac_text(sha), socket.inet_ntoa(spa), mac_text(tha), socket.inet_ntoa(tpa))


# -- the state of one (interface, address) ----------------------------------------------------------
@dataclass(frozen=True)
class Track:
    """What the watcher knows of one (interface, address); updated by :func:`on_probe` and :func:`on_reply`."""

    interface: str
    address: str
    mac: str | None = None  # the MAC of the last reply
    answered: bool = False  # ever
    last_reply: float | None = None  # monotonic
    unanswered: int = 0  # probes sent since the last reply
    silent: bool = False  # answered once, then SILENT_AFTER probes in a row went unanswered
    sent: int = 0  # probes sent in all


@dataclass(frozen=True)
class PresenceEvent:
    kind: str  # answering | silent | mac-change
    interface: str
    address: str
    at: float  # monotonic
    mac: str | None
    detail: str = ""


def on_probe(track: Track, now: float, silent_after: int = SILENT_AFTER) -> tuple[Track, PresenceEvent | None]:
    """A probe is about to be sent. Every probe already sent has had its interval to be answered: if
    the address answered once and the last SILENT_AFTER probes did not, it is silent now (an event
    the first time). The new probe is counted."""
    event = None
    silent = track.silent
    if track.answered and not silent and track.unanswered >= silent_after:
        silent = True
        since = "" if track.last_reply is None else f" (last reply {now - track.last_reply:.3f}s ago)"
        event = PresenceEvent("silent", track.interface, track.address, now, track.mac,
                              f"{track.unanswered} probes unanswered{since}")
    # dataclasses.replace(track, unanswered=..., silent=..., sent=...) without its per-call field walk.
    return Track(track.interface, track.address, track.mac, track.answered, track.last_reply, track.unanswered + 1,
                 silent, track.sent + 1), event


def on_reply(track: Track, mac: str, now: float) -> tuple[Track, list[PresenceEvent]]:
    """A reply for the address came from MAC: answering (first, or again after silence), and/or a MAC change."""
    events = []
    if not track.answered:
        events.append(PresenceEvent("answering", track.interface, track.address, now, mac, "first reply"))
    elif track.silent:
        events.append(PresenceEvent("answering", track.interface, track.address, now, mac,
                                    f"again after {track.unanswered} unanswered probes"))
    if track.mac is not None and track.mac != mac:
        events.append(PresenceEvent("mac-change", track.interface, track.address, now, mac, f"{track.mac} -> {mac}"))
    return Track(track.interface, track.address, mac, True, now, 0, False, track.sent), events


def presence_of(track: Track, now: float) -> Presence:
    return Presence(track.interface, track.address, track.mac, track.answered, track.last_reply, track.unanswered,
                    None if track.last_reply is None else max(0.0, now - track.last_reply), track.silent)


def probe_destination(track: Track, broadcast_every: int = BROADCAST_EVERY) -> bytes | None:
    """Where the next probe goes: the MAC that last answered, or None (broadcast) when none is known,
    the previous probe went unanswered, or every BROADCAST_EVERY-th probe."""
    mac = _destination(track, broadcast_every)
    return None if mac is None else mac_bytes(mac)


def _destination(track: Track, broadcast_every: int) -> str | None:
    """:func:`probe_destination` as the MAC's text."""
    if track.mac is None or track.unanswered > 0:
        return None
    if broadcast_every > 0 and (track.sent + 1) % broadcast_every == 0:
        return None
    return track.mac


def per_address_interval(interval: float, addresses: int, max_rate: float = MAX_RATE) -> float:
    """The interval between two probes of one address on an interface with ADDRESSES addresses,
    so that the interface sends at most MAX_RATE requests per second."""
    return max(interval, addresses / max_rate) if addresses else interval


# -- the watcher --------------------------------------------------------------------------------------
_Key = tuple[str, str]  # (interface, address)
_ANSWERS_MAX = 256  # received frames whose answer is remembered (a router's answers repeat byte for byte)
_NOT_SEEN = object()


@dataclass
class _Slot:
    due: float  # monotonic time of the next probe
    interface: str
    address: str
    period: float


class ArpWatch:
    """Probes router addresses with ARP from the listener legs and keeps their presence. Thread-safe readers."""

    name = "arpwatch"  # the thread's name and the log lines' prefix
    protocol = "ARP"

    def __init__(
        self,
        targets: Mapping[str, Sequence[str]],
        interval: float = 0.1,
        on_change: Callable[[PresenceEvent], None] | None = None,
        *,
        silent_after: int = SILENT_AFTER,
        broadcast_every: int = BROADCAST_EVERY,
        max_rate: float = MAX_RATE,
    ):
        if interval <= 0 or max_rate <= 0 or silent_after < 1:
            raise ValueError("interval and max_rate must be positive, silent_after at least 1")
        self.targets: dict[str, tuple[str, ...]] = {}
        for iface, addrs in targets.items():
            seen: dict[str, None] = {}
            for a in addrs:
                seen[self._address(a)] = None
            self.targets[iface] = tuple(seen)
        self.interval = interval
        self.on_change = on_change
        self.silent_after = silent_after
        self.broadcast_every = broadcast_every
        self.max_rate = max_rate
        self._lock = threading.Lock()
        self._tracks: dict[_Key, Track] = {(i, a): Track(i, a) for i, addrs in self.targets.items() for a in addrs}
        self._socks: dict[str, socket.socket] = {}
        self._own: dict[str, bytes] = {}
        self._failed: set[str] = set()
        # Frames are functions of their inputs: a probe frame per (interface, address, destination MAC,
        # own MAC), built once; the answer in a received frame, parsed once per distinct frame.
        self._frames: dict[tuple[str, str, str | None, bytes], bytes] = {}
        self._answers: dict[bytes, tuple[str, str, str] | None] = {}
        self._watch: tuple[tuple[int, int, tuple[int, int] | None], list[tuple[str, socket.socket]], list,
                           dict[socket.socket, str]] | None = None  # _watched()'s, with what it was made of
        self._stop = threading.Event()
        self._wakeup: tuple[int, int] | None = None  # a pipe: stop() writes to end the loop's wait at once
        self._thread: threading.Thread | None = None
        self.counters = {"sent": 0, "replies": 0, "ignored": 0}

    # -- the protocol (netha.observe.ndwatch overrides these, the handle and probe below) -------------------
    @staticmethod
    def _address(text: str) -> str:
        """A target address in its canonical text (ValueError when it is none of this protocol's)."""
        return str(ipaddress.IPv4Address(text))

    def _open_leg(self, iface: str) -> tuple[socket.socket, bytes]:
        return _open(iface)

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Open one socket per interface (an interface that fails is logged and skipped) and start the thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        for iface, addrs in self.targets.items():
            if not addrs or iface in self._socks:
                continue
            try:
                self._socks[iface], self._own[iface] = self._open_leg(iface)
                self._failed.discard(iface)
            except OSError as e:
                self._fail(iface, "open", e)
        self._frames.clear()  # a leg opened anew may have another MAC or (ND) link-local address
        if self._wakeup is None:
            self._wakeup = os.pipe()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._wakeup is not None:
            os.write(self._wakeup[1], b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self._thread = None
        for s in self._socks.values():
            s.close()
        self._socks.clear()
        if self._wakeup is not None:
            for fd in self._wakeup:
                os.close(fd)
            self._wakeup = None

    def __enter__(self) -> ArpWatch:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- readers ----------------------------------------------------------------------------------------
    def running_interfaces(self) -> tuple[str, ...]:
        """The interfaces being probed now (not those whose socket failed, nothing when stopped)."""
        if self._thread is None or not self._thread.is_alive():
            return ()
        return tuple(i for i in self._socks if i not in self._failed)

    def presence(self, now: float | None = None) -> dict[tuple[str, str], Presence]:
        """Per (interface, address), its presence as of NOW (monotonic; default: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return {k: presence_of(t, now) for k, t in self._tracks.items()}

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counters)

    # -- feeding (public so tests can drive the watcher without sockets) -----------------------------------
    def handle(self, interface: str, frame: bytes, now: float, own_mac: bytes | None = None) -> None:
        """Account one received frame on INTERFACE: an answer to our probe (sent to our MAC, when known)
        from one of the interface's addresses counts; anything else is ignored."""
        if type(frame) is bytes:
            answer = self._answers.get(frame, _NOT_SEEN)
            if answer is _NOT_SEEN:
                answer = self._answer(frame)
                if len(self._answers) >= _ANSWERS_MAX:  # a flood of distinct frames: start over
                    self._answers.clear()
                self._answers[frame] = answer  # type: ignore[assignment]
        else:
            answer = self._answer(frame)
        own = own_mac if own_mac is not None else self._own.get(interface)
        key = (interface, answer[0]) if answer is not None else None
        events: list[PresenceEvent] = []
        with self._lock:
            if answer is None or key not in self._tracks or (own is not None and answer[2] != mac_text(own)):
                self.counters["ignored"] += 1
                return
            self.counters["replies"] += 1
            self._tracks[key], events = on_reply(self._tracks[key], answer[1], now)
        self._emit(events)

    def probe(self, interface: str, address: str, now: float, own_mac: bytes) -> bytes:
        """Account a probe of ADDRESS about to be sent from INTERFACE at NOW; the frame to send."""
        key = (interface, address)
        with self._lock:
            track = self._tracks[key]
            dst = _destination(track, self.broadcast_every)
            self._tracks[key], event = on_probe(track, now, self.silent_after)
            self.counters["sent"] += 1
        if event is not None:
            self._emit([event])
        fkey = (interface, address, dst, own_mac)
        frame = self._frames.get(fkey)
        if frame is None:
            frame = self._probe_frame(interface, own_mac, address, None if dst is None else mac_bytes(dst))
            if len(self._frames) >= 4 * len(self._tracks) + 16:  # MACs that came and went: start over
                self._frames.clear()
            self._frames[fkey] = frame
        return frame

    # The protocol's parts (ARP here; Neighbor Discovery in ndwatch.NdWatch). Both are functions of
    # their arguments (and of the leg as opened): their results are remembered.
    def _answer(self, frame: bytes) -> tuple[str, str, str] | None:
        """An answer in FRAME: (the address that answered, its MAC, the frame's destination MAC), or None."""
        reply = parse_reply(frame)
        return None if reply is None else (reply.sender_ip, reply.sender_mac, reply.target_mac)

    def _probe_frame(self, interface: str, own_mac: bytes, address: str, dst: bytes | None) -> bytes:
        return build_probe(own_mac, address, dst)

    # -- the loop -------------------------------------------------------------------------------------------
    def _schedule(self, start: float) -> list[_Slot]:
        """One slot per (interface, address); each interface's addresses spread over their period."""
        out: list[_Slot] = []
        for iface, addrs in self.targets.items():
            period = per_address_interval(self.interval, len(addrs), self.max_rate)
            for n, addr in enumerate(addrs):
                out.append(_Slot(start + n * period / len(addrs), iface, addr, period))
        return out

    def _run(self) -> None:
        self._watch = None
        schedule = self._schedule(time.monotonic())
        while not self._stop.is_set():
            try:
                self._step(schedule)
            except Exception:  # noqa: BLE001 - the thread never dies of a bug; it logs and goes on
                log.exception("%s: loop failed", self.name)
                self._stop.wait(0.05)

    def _step(self, schedule: list[_Slot]) -> None:
        socks, failed = self._socks, self._failed
        n_failed = len(failed)
        now = time.monotonic()
        earliest: float | None = None  # the next probe due on a live leg
        for slot in schedule:
            iface = slot.interface
            if iface not in socks or iface in failed:
                continue
            if slot.due <= now:
                frame = self.probe(iface, slot.address, now, self._own[iface])
                try:
                    socks[iface].send(frame)
                except OSError as e:
                    self._fail(iface, "send", e)
                # Next probe one period later; after a stall, the next one in phase after now: probes missed
                # are skipped (no burst to catch up) and the addresses stay spread over the period.
                slot.due += slot.period * (1 + int((now - slot.due) // slot.period))
            if earliest is None or slot.due < earliest:
                earliest = slot.due
        if len(failed) != n_failed:  # a leg failed on the way: its next probes are not due
            dues = [slot.due for slot in schedule if slot.interface in socks and slot.interface not in failed]
            earliest = min(dues) if dues else None
        live, watched, by_sock = self._watched()
        # Until the next probe is due or a reply arrives (or stop() writes to the pipe); no fixed tick.
        timeout = max(0.0, earliest - time.monotonic()) if earliest is not None else None
        if not live:
            self._stop.wait(timeout if timeout is not None else 1.0)
            return
        try:
            ready, _, _ = select.select(watched, [], [], timeout)
        except (OSError, ValueError) as e:
            for iface, s in live:  # find the broken one(s)
                if s.fileno() < 0:
                    self._fail(iface, "select", e)
            return
        now = time.monotonic()
        for s in ready:
            iface = by_sock.get(s)
            if iface is None:
                return  # the stop pipe
            for _ in range(256):  # bounded per round
                try:
                    frame, addr = s.recvfrom(2048)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as e:
                    self._fail(iface, "receive", e)
                    break
                if isinstance(addr, tuple) and len(addr) > 2 and addr[2] == PACKET_OUTGOING:
                    continue
                self.handle(iface, frame, now)

    def _watched(self) -> tuple[list[tuple[str, socket.socket]], list, dict[socket.socket, str]]:
        """The live legs (not failed), what select() watches (their sockets and the stop pipe), and each
        socket's leg: made again only when a leg failed or the legs or the pipe changed."""
        key = (len(self._socks), len(self._failed), self._wakeup)
        if self._watch is None or self._watch[0] != key:
            live = [(i, s) for i, s in self._socks.items() if i not in self._failed]
            wakeup = [self._wakeup[0]] if self._wakeup is not None else []
            self._watch = (key, live, [s for _, s in live] + wakeup, {s: i for i, s in live})
        return self._watch[1], self._watch[2], self._watch[3]

    def _fail(self, iface: str, what: str, err: Exception) -> None:
        if iface in self._failed:
            return
        self._failed.add(iface)
        sock = self._socks.get(iface)
        if sock is not None:
            sock.close()  # stays in _socks (stop() closes again, harmlessly); select() skips failed ones
        log.error("%s: %s on %s failed: %s; no more %s probes on %s", self.name, what, iface, err, self.protocol, iface)

    def _emit(self, events: list[PresenceEvent]) -> None:
        for e in events:
            log.info("%s: %s %s on %s %s %s", self.name, e.address, e.kind, e.interface, e.mac or "", e.detail)
            if self.on_change is not None:
                try:
                    self.on_change(e)
                except Exception:  # noqa: BLE001 - a consumer's bug must not stop the watcher
                    log.exception("%s: on_change handler failed", self.name)


def _open(iface: str) -> tuple[socket.socket, bytes]:
    """A raw packet socket on IFACE passing ARP replies only, and the interface's MAC.

    Opened with protocol 0 (it receives nothing) until the filter is attached and it is bound to
    IFACE, so no frame of another interface is ever queued on it.
    """
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        _attach_filter(s, ARP_REPLY_BPF)
        s.bind((iface, ETH_P_ARP))
        s.setblocking(False)
        own = s.getsockname()[4]
        if len(own) != 6:
            raise OSError(f"{iface} has no Ethernet address")
        return s, bytes(own)
    except BaseException:
        s.close()
        raise
