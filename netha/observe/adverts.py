"""The VRRP advertisement listener: who advertises which VRID on each segment, heard on the wire.

A raw packet socket per interface with a kernel BPF filter (IPv4, protocol 112), read by one
thread. It keeps, per (interface, VRID, source), the priority, advertised interval, version,
checksum style and the time of the last advert, and raises events: a new master, a priority
change, a master that resigned (priority 0), a master that went *silent* (no advert for 1.5
advert intervals, well before VRRP's own Master_Down_Interval ends), a second master for one
VRID (split brain), and sources of one VRID using different checksum styles (an interop fault:
RFC 5798 includes the IPv4 pseudo-header, RFC 9568 and Cisco do not).

Only well-formed advertisements are *heard*: one whose checksum matches no style (VRRPv2: over
the whole VRRP message, RFC 3768 §5.3.8; VRRPv3: with the IPv4 pseudo-header, RFC 5798 §5.2.8,
or without it) is counted in ``stats()["bad_checksum"]`` and otherwise ignored, like a TTL other
than 255 or a malformed packet.

The table is bounded against spoofed sources: a source not heard for ``max(10 s, 30 advert
intervals)`` expires (``expired``), and beyond :data:`MAX_SOURCES` the oldest source is evicted
(``evicted``), one heard only once before any heard repeatedly. Per packet the work is O(1)
(dictionary updates, a heap push); the timers live in a heap with one entry per source.
"""

from __future__ import annotations

import ctypes
import heapq
import logging
import select
import socket
import struct
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .types import AdvertSource

log = logging.getLogger(__name__)

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
VRRP_PROTO = 112
VRRP_GROUP = "224.0.0.18"
SO_ATTACH_FILTER = 26

# Classic BPF: accept IPv4 frames whose protocol is 112 (VRRP); drop the rest in the kernel.
_BPF = [
    (0x28, 0, 0, 12),  # ldh [12]            ethertype
    (0x15, 0, 3, ETH_P_IP),  # jeq #0x800
    (0x30, 0, 0, 23),  # ldb [23]            IP protocol
    (0x15, 0, 1, VRRP_PROTO),  # jeq #112
    (0x06, 0, 0, 0x40000),  # ret #262144   accept
    (0x06, 0, 0, 0),  # ret #0              drop
]


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@dataclass(frozen=True)
class ParsedAdvert:
    source: str
    dest: str
    ttl: int
    version: int
    vrid: int
    priority: int
    interval: float  # seconds
    addresses: tuple[str, ...]
    checksum_style: str  # rfc5798 | rfc9568 | v2 | bad


def parse_advert(ip: bytes) -> ParsedAdvert | None:
    """Parse an IPv4 packet carrying a VRRP advertisement; None when it is not one (or is malformed).

    The VRRP message is what the IPv4 total length says (Ethernet padding after it is not part of
    it). Its checksum decides ``checksum_style``: VRRPv2 ``v2`` (over the whole message, RFC 3768
    §5.3.8); VRRPv3 ``rfc5798`` (with the IPv4 pseudo-header, RFC 5798 §5.2.8) or ``rfc9568``
    (without, as Cisco and RFC 9568 for IPv4); ``bad`` when it matches none.
    """
    if len(ip) < 20 or ip[0] >> 4 != 4:
        return None
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    if ip[9] != VRRP_PROTO or ihl < 20 or total < ihl + 8 or total > len(ip):
        return None
    src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
    msg = ip[ihl:total]
    version, vtype = msg[0] >> 4, msg[0] & 0x0F
    if vtype != 1 or version not in (2, 3):
        return None
    vrid, priority, count = msg[1], msg[2], msg[3]
    if vrid == 0 or len(msg) < 8 + 4 * count:  # VRIDs are 1..255
        return None
    if version == 2:
        interval = float(msg[5])
        style = "v2" if _checksum(msg) == 0 else "bad"
    else:
        interval = (struct.unpack("!H", msg[4:6])[0] & 0x0FFF) / 100.0
        pseudo = ip[12:20] + struct.pack("!BBH", 0, VRRP_PROTO, len(msg))
        if _checksum(pseudo + msg) == 0:
            style = "rfc5798"
        elif _checksum(msg) == 0:
            style = "rfc9568"
        else:
            style = "bad"
    if interval <= 0:  # no advertisement interval: nothing to time a master by
        return None
    body = msg[8 : 8 + 4 * count]
    addrs = tuple(socket.inet_ntoa(body[i : i + 4]) for i in range(0, 4 * count, 4))
    return ParsedAdvert(src, dst, ip[8], version, vrid, priority, interval, addrs, style)


def craft_advert(
    src: str,
    vrid: int,
    priority: int,
    interval: float = 1.0,
    version: int = 3,
    checksum_style: str = "rfc5798",
    addresses: Sequence[str] = (),
    ttl: int = 255,
) -> bytes:
    """An IPv4 packet with a VRRP advertisement, for tests and lab traffic."""
    addrs = b"".join(socket.inet_aton(a) for a in addresses)
    if version == 2:
        head = struct.pack("!BBBBBBH", 0x21, vrid, priority, len(addresses), 0, int(interval), 0)
        msg = head + addrs + b"\0" * 8
        csum = _checksum(msg)
    else:
        head = struct.pack("!BBBBHH", 0x31, vrid, priority, len(addresses), int(round(interval * 100)) & 0x0FFF, 0)
        msg = head + addrs
        if checksum_style == "rfc9568":
            csum = _checksum(msg)
        else:
            csum = _checksum(socket.inet_aton(src) + socket.inet_aton(VRRP_GROUP) + struct.pack("!BBH", 0, VRRP_PROTO, len(msg)) + msg)
    msg = msg[:6] + struct.pack("!H", csum) + msg[8:]
    if checksum_style == "bad":
        msg = msg[:6] + struct.pack("!H", csum ^ 0xFFFF) + msg[8:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(msg), 0, 0, ttl, VRRP_PROTO, 0,
                      socket.inet_aton(src), socket.inet_aton(VRRP_GROUP))
    iph = iph[:10] + struct.pack("!H", _checksum(iph)) + iph[12:]
    return iph + msg


@dataclass(frozen=True)
class AdvertEvent:
    kind: str  # new-master | priority-change | resign | silent | second-master | checksum-mismatch
    interface: str
    vrid: int
    source: str
    at: float
    detail: str = ""


MAX_SOURCES = 4096  # sources kept at once (a LAN has a handful; the rest is a flood of spoofed ones)
EXPIRE_MIN = 10.0  # seconds: a source not heard for max(EXPIRE_MIN, EXPIRE_INTERVALS x its interval) expires
EXPIRE_INTERVALS = 30
_SPLIT_SCAN = 32  # most recent sources of a group looked at for a second master, per packet

_Key = tuple[str, int, str]  # (interface, VRID, source)
_Group = tuple[str, int]


def expires_after(src: AdvertSource) -> float:
    """How long the listener keeps a source it no longer hears."""
    return max(EXPIRE_MIN, EXPIRE_INTERVALS * src.interval)


class AdvertListener:
    """Sniffs VRRP adverts on interfaces and keeps per-source state. Thread-safe readers."""

    def __init__(
        self,
        interfaces: Sequence[str],
        on_event: Callable[[AdvertEvent], None] | None = None,
        silence_factor: float = 1.5,
        max_sources: int = MAX_SOURCES,
    ):
        self.interfaces = tuple(interfaces)
        self.on_event = on_event
        self.silence_factor = silence_factor
        self.max_sources = max_sources
        self._lock = threading.Lock()
        # Least recently heard first; the sources heard once so far, least recent first (evicted first).
        self._sources: OrderedDict[_Key, AdvertSource] = OrderedDict()
        self._once: OrderedDict[_Key, None] = OrderedDict()
        # Per (interface, VRID): its sources, least recently heard first, and their checksum styles.
        self._groups: dict[_Group, OrderedDict[str, AdvertSource]] = {}
        self._styles: dict[_Group, Counter[str]] = {}
        # Timers: (when, key) entries; _due[key] is a key's one valid entry (others are stale).
        self._timers: list[tuple[float, _Key]] = []
        self._due: dict[_Key, float] = {}
        self._silent: set[_Key] = set()
        self._split: set[_Group] = set()
        self._mismatch: set[_Group] = set()
        self._socks: dict[socket.socket, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.counters = {"adverts": 0, "bad_ttl": 0, "malformed": 0, "bad_checksum": 0, "expired": 0, "evicted": 0}

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        for iface in self.interfaces:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
            _attach_filter(s)
            s.bind((iface, 0))
            s.setblocking(False)
            self._socks[s] = iface
        self._thread = threading.Thread(target=self._run, name="adverts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(2)
        for s in self._socks:
            s.close()
        self._socks.clear()

    def __enter__(self) -> AdvertListener:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def running_interfaces(self) -> tuple[str, ...]:
        return tuple(self._socks.values()) if self._thread and self._thread.is_alive() else ()

    def sources(self, now: float | None = None) -> tuple[AdvertSource, ...]:
        """The sources heard; with ``now``, without those that expired by then (the timers may lag)."""
        with self._lock:
            return tuple(s for s in self._sources.values() if now is None or now - s.last_seen <= expires_after(s))

    def stats(self) -> dict[str, int]:
        """Counters: adverts heard, dropped (bad_ttl, malformed, bad_checksum), expired and evicted
        sources, and ``sources``, the table's size now."""
        with self._lock:
            return {**self.counters, "sources": len(self._sources)}

    def forget_older_than(self, seconds: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in [k for k, v in self._sources.items() if now - v.last_seen > seconds]:
                self._remove(key)

    # -- the receive loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        socks = list(self._socks)
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select(socks, [], [], 0.01)
            except (OSError, ValueError):
                return
            now = time.monotonic()
            for s in ready:
                while True:
                    try:
                        frame = s.recv(2048)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    # A SOCK_RAW packet socket delivers the Ethernet frame.
                    self.handle(self._socks[s], frame[14:], now)
            self.tick(now)

    # -- the table (callers hold the lock) -------------------------------------------------------------
    def _remove(self, key: _Key) -> None:
        src = self._sources.pop(key, None)
        if src is None:
            return
        self._once.pop(key, None)
        self._due.pop(key, None)
        self._silent.discard(key)
        gkey = key[:2]
        group = self._groups.get(gkey)
        if group is not None:
            group.pop(src.source, None)
            self._styles[gkey][src.checksum_style] -= 1
            if not group:
                del self._groups[gkey], self._styles[gkey]
                self._split.discard(gkey)
                self._mismatch.discard(gkey)

    def _evict(self) -> None:
        """Make room: the least recently heard of the sources heard once, else of all of them."""
        key = next(iter(self._once)) if self._once else next(iter(self._sources))
        self._remove(key)
        self.counters["evicted"] += 1

    def _schedule(self, key: _Key, when: float) -> None:
        due = self._due.get(key)
        if due is not None and due <= when:
            return  # an earlier timer is pending; it reschedules when it fires
        self._due[key] = when
        heapq.heappush(self._timers, (when, key))
        if len(self._timers) > 4 * len(self._due) + 1024:  # stale entries: rebuild (amortised O(1))
            self._timers = [(t, k) for k, t in self._due.items()]
            heapq.heapify(self._timers)

    def _next_check(self, key: _Key, src: AdvertSource) -> float:
        expire = src.last_seen + expires_after(src)
        if key in self._silent or src.priority == 0:
            return expire
        return min(expire, src.last_seen + self.silence_factor * src.interval)

    # -- packets ------------------------------------------------------------------------------------------
    def handle(self, interface: str, ip: bytes, now: float) -> None:
        """Account one received IPv4 packet (public so tests can feed packets without sockets)."""
        adv = parse_advert(ip)
        if adv is None:
            self.counters["malformed"] += 1
            return
        if adv.ttl != 255:
            self.counters["bad_ttl"] += 1
            return
        if adv.checksum_style == "bad":  # counted, never heard
            self.counters["bad_checksum"] += 1
            return
        self.counters["adverts"] += 1
        key = (interface, adv.vrid, adv.source)
        gkey = (interface, adv.vrid)
        events: list[AdvertEvent] = []
        with self._lock:
            old = self._sources.get(key)
            if old is None:
                if len(self._sources) >= self.max_sources:
                    self._evict()
                src = AdvertSource(interface, adv.vrid, adv.source, adv.priority, adv.interval, adv.version, now, now, 1,
                                   adv.checksum_style, adv.addresses)  # type: ignore[arg-type]
                self._once[key] = None
                if adv.priority > 0:
                    events.append(AdvertEvent("new-master", interface, adv.vrid, adv.source, now, f"priority {adv.priority}"))
            else:
                src = replace(old, priority=adv.priority, interval=adv.interval, version=adv.version, last_seen=now,
                              count=old.count + 1, checksum_style=adv.checksum_style, addresses=adv.addresses)  # type: ignore[arg-type]
                self._once.pop(key, None)
                self._sources.move_to_end(key)
                if key in self._silent and adv.priority > 0:
                    self._silent.discard(key)
                    events.append(AdvertEvent("new-master", interface, adv.vrid, adv.source, now, "advertising again"))
                elif old.priority != adv.priority and adv.priority > 0:
                    events.append(AdvertEvent("priority-change", interface, adv.vrid, adv.source, now,
                                              f"{old.priority} -> {adv.priority}"))
            if adv.priority == 0 and (old is None or old.priority != 0):
                events.append(AdvertEvent("resign", interface, adv.vrid, adv.source, now, "priority 0"))
            self._sources[key] = src
            group = self._groups.setdefault(gkey, OrderedDict())
            styles = self._styles.setdefault(gkey, Counter())
            if old is not None:
                styles[old.checksum_style] -= 1
            styles[src.checksum_style] += 1
            group[adv.source] = src
            group.move_to_end(adv.source)
            self._schedule(key, self._next_check(key, src))
            # A second master: another source of this group advertising now. Only the most recently
            # heard few are looked at, so a flood of sources costs no more per packet than one.
            active = []
            for n, p in enumerate(reversed(group.values())):
                if n >= _SPLIT_SCAN:
                    break
                if p.priority > 0 and now - p.last_seen <= 2 * p.interval + 0.02:
                    active.append(p)
            if len(active) > 1 and gkey not in self._split:
                self._split.add(gkey)
                events.append(AdvertEvent("second-master", interface, adv.vrid, adv.source, now,
                                          "also advertising: " + ", ".join(p.source for p in active[:8] if p.source != adv.source)))
            elif len(active) <= 1:
                self._split.discard(gkey)
            if sum(1 for n in styles.values() if n > 0) > 1 and gkey not in self._mismatch:
                self._mismatch.add(gkey)
                events.append(AdvertEvent("checksum-mismatch", interface, adv.vrid, adv.source, now,
                                          " / ".join(f"{p.source} {p.checksum_style}" for p in list(group.values())[-8:])))
        self._emit(events)

    def tick(self, now: float) -> None:
        """Notice masters that stopped advertising, and expire sources (called about every 10 ms by the loop).

        Only the timers that are due are looked at: O(due) per call, not O(sources).
        """
        events = []
        with self._lock:
            while self._timers and self._timers[0][0] <= now:
                when, key = heapq.heappop(self._timers)
                if self._due.get(key) != when:
                    continue  # stale: the source was rescheduled or removed
                del self._due[key]
                src = self._sources.get(key)
                if src is None:
                    continue
                if now - src.last_seen > expires_after(src):
                    self._remove(key)
                    self.counters["expired"] += 1
                    continue
                if key not in self._silent and src.priority > 0 and now - src.last_seen > self.silence_factor * src.interval:
                    self._silent.add(key)
                    events.append(AdvertEvent("silent", src.interface, src.vrid, src.source, now,
                                              f"no advert for {now - src.last_seen:.3f}s (interval {src.interval:g}s)"))
                self._schedule(key, max(self._next_check(key, src), now + 1e-6))
        self._emit(events)

    def _emit(self, events: list[AdvertEvent]) -> None:
        for e in events:
            log.info("adverts: %s vrid %d %s on %s %s", e.kind, e.vrid, e.source, e.interface, e.detail)
            if self.on_event is not None:
                try:
                    self.on_event(e)
                except Exception:  # noqa: BLE001 - a consumer's bug must not stop the listener
                    log.exception("advert event handler failed")


def _attach_filter(sock: socket.socket, program: Sequence[tuple[int, int, int, int]] = _BPF) -> None:
    """Attach a classic BPF PROGRAM (default: VRRP only) to a packet socket (shared with arpwatch)."""

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]

    arr = (SockFilter * len(program))(*[SockFilter(*ins) for ins in program])
    prog = SockFprog(len(program), arr)
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(ctypes.string_at(ctypes.addressof(prog), ctypes.sizeof(prog))))
