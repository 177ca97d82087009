"""The VRRP advertisement listener: who advertises which VRID on each segment, heard on the wire.

A raw packet socket per interface with a kernel BPF filter (IPv4 protocol 112, IPv6 next header
112, directly or behind one hop-by-hop or destination options header), read by one thread. The
socket joins the VRRP multicast MACs (01:00:5e:00:00:12 for 224.0.0.18, 33:33:00:00:00:12 for
ff02::12) on its interface, so a NIC that filters multicast in hardware passes the adverts.
IPv4 and IPv6 groups are apart: a VRID is one group per address family (RFC 5798 §1), so the
groups are keyed (interface, VRID, family). It keeps, per (interface, VRID, source), the
priority, advertised interval, version, checksum style and the time of the last advert, and
raises events: a new master, a priority
change, a master that resigned (priority 0), a master that went *silent* (no advert for 1.5
advert intervals, well before VRRP's own Master_Down_Interval ends), a second master for one
VRID (split brain), and sources of one VRID using different checksum styles (an interop fault:
RFC 5798 includes the IPv4 pseudo-header, RFC 9568 and Cisco do not).

Only well-formed advertisements are *heard*: one whose checksum matches no style (VRRPv2: over
the whole VRRP message, RFC 3768 §5.3.8; VRRPv3: with the IPv4 pseudo-header, RFC 5798 §5.2.8,
or without it) is counted in ``stats()["bad_checksum"]`` and otherwise ignored, like a TTL other
than 255 or a malformed packet. Over IPv6 (RFC 5798 §5.1.2, §7.1) the hop limit must be 255
(``bad_ttl``), the source a link-local address (``bad_source``), the version 3, and the checksum
covers the IPv6 pseudo-header (RFC 8200 §8.1): there the pseudo-header is mandatory for every
implementation (RFC 9568 and Cisco leave it out for IPv4 only), so a checksum without it is bad.

The table is bounded against spoofed sources: a source not heard for ``max(10 s, 30 advert
intervals)`` expires (``expired``), and beyond :data:`MAX_SOURCES` the oldest source is evicted
(``evicted``), one heard only once before any heard repeatedly. Per packet the work is O(1)
(dictionary updates, a heap push); the timers live in a heap with one valid entry per source, its
next check (silence, expiry) as of its last advert, so the thread wakes for a packet or a check
that is due, never for a check that a later advert has moved. A packet's verdict (its parsed
advert, or the counter it is dropped under) is remembered by its bytes: a master's adverts repeat
byte for byte and are parsed once.
"""

from __future__ import annotations

import ctypes
import heapq
import logging
import os
import select
import socket
import struct
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .inet import checksum, pseudo6
from .types import AdvertSource

log = logging.getLogger(__name__)

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
VRRP_PROTO = 112
VRRP_GROUP = "224.0.0.18"
VRRP_GROUP6 = "ff02::12"
VRRP_MACS = (bytes.fromhex("01005e000012"), bytes.fromhex("333300000012"))  # 224.0.0.18, ff02::12
SO_ATTACH_FILTER = 26
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_MULTICAST = 0
_IPV6_EXT = (0, 43, 60)  # hop-by-hop, routing, destination options: skipped to reach the VRRP header

# Classic BPF: accept IPv4 frames whose protocol is 112 (VRRP) and IPv6 frames whose next header is
# 112, directly or behind one hop-by-hop (0) or destination options (60) header; drop the rest in
# the kernel (an IPv6 frame with other extension headers is dropped: VRRP sends none).
_BPF = [
    (0x28, 0, 0, 12),  # 0  ldh [12]            ethertype
    (0x15, 0, 2, ETH_P_IP),  # 1  jeq #0x800 ? 2 : 4
    (0x30, 0, 0, 23),  # 2  ldb [23]            IPv4 protocol
    (0x15, 7, 8, VRRP_PROTO),  # 3  jeq #112 ? accept : drop
    (0x15, 0, 7, ETH_P_IPV6),  # 4  jeq #0x86dd ? 5 : drop
    (0x30, 0, 0, 20),  # 5  ldb [20]            IPv6 next header
    (0x15, 4, 0, VRRP_PROTO),  # 6  jeq #112 ? accept : 7
    (0x15, 1, 0, 0),  # 7  jeq #0 (hop-by-hop) ? 9 : 8
    (0x15, 0, 3, 60),  # 8  jeq #60 (destination options) ? 9 : drop
    (0x30, 0, 0, 54),  # 9  ldb [54]            the extension header's next header
    (0x15, 0, 1, VRRP_PROTO),  # 10 jeq #112 ? accept : drop
    (0x06, 0, 0, 0x40000),  # 11 ret #262144   accept
    (0x06, 0, 0, 0),  # 12 ret #0              drop
]


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
    family: int = 4  # 4 or 6: the IP version it came over (ttl is the IPv6 hop limit)


def parse_advert6(ip: bytes) -> ParsedAdvert | None:
    """Parse an IPv6 packet carrying a VRRPv3 advertisement (RFC 5798 §5.1.2); None when it is not one.

    Hop-by-hop, routing and destination options headers before the VRRP header are skipped. The
    message is what the payload length says; its addresses are 16 bytes each; its checksum is
    ``rfc5798`` when it covers the IPv6 pseudo-header (mandatory over IPv6, RFC 9568 too), else ``bad``.
    """
    if len(ip) < 40 or ip[0] >> 4 != 6:
        return None
    end = 40 + struct.unpack("!H", ip[4:6])[0]
    if end > len(ip):
        return None
    nh, off = ip[6], 40
    for _ in range(8):  # a bounded walk of the extension headers
        if nh != VRRP_PROTO and nh in _IPV6_EXT and off + 8 <= end:
            nh, off = ip[off], off + (ip[off + 1] + 1) * 8
        else:
            break
    if nh != VRRP_PROTO or off + 8 > end:
        return None
    msg = ip[off:end]
    version, vtype = msg[0] >> 4, msg[0] & 0x0F
    vrid, priority, count = msg[1], msg[2], msg[3]
    if vtype != 1 or version != 3 or vrid == 0 or len(msg) < 8 + 16 * count:
        return None
    interval = (struct.unpack("!H", msg[4:6])[0] & 0x0FFF) / 100.0
    if interval <= 0:
        return None
    style = "rfc5798" if checksum(pseudo6(ip[8:24], ip[24:40], len(msg), VRRP_PROTO) + msg) == 0 else "bad"
    body = msg[8 : 8 + 16 * count]
    addrs = tuple(socket.inet_ntop(socket.AF_INET6, body[i : i + 16]) for i in range(0, 16 * count, 16))
    return ParsedAdvert(socket.inet_ntop(socket.AF_INET6, ip[8:24]), socket.inet_ntop(socket.AF_INET6, ip[24:40]),
                        ip[7], 3, vrid, priority, interval, addrs, style, 6)


def parse_advert(ip: bytes) -> ParsedAdvert | None:
    """Parse an IPv4 or IPv6 packet carrying a VRRP advertisement; None when it is not one (or is malformed).

    IPv6: :func:`parse_advert6`. IPv4:
    The VRRP message is what the IPv4 total length says (Ethernet padding after it is not part of
    it). Its checksum decides ``checksum_style``: VRRPv2 ``v2`` (over the whole message, RFC 3768
    §5.3.8); VRRPv3 ``rfc5798`` (with the IPv4 pseudo-header, RFC 5798 §5.2.8) or ``rfc9568``
    (without, as Cisco and RFC 9568 for IPv4); ``bad`` when it matches none.
    """
    if len(ip) >= 1 and ip[0] >> 4 == 6:
        return parse_advert6(ip)
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
        style = "v2" if checksum(msg) == 0 else "bad"
    else:
        interval = (struct.unpack("!H", msg[4:6])[0] & 0x0FFF) / 100.0
        pseudo = ip[12:20] + struct.pack("!BBH", 0, VRRP_PROTO, len(msg))
        if checksum(pseudo + msg) == 0:
            style = "rfc5798"
        elif checksum(msg) == 0:
            style = "rfc9568"
        else:
            style = "bad"
    if interval <= 0:  # no advertisement interval: nothing to time a master by
        return None
    body = msg[8 : 8 + 4 * count]
    addrs = tuple(socket.inet_ntoa(body[i : i + 4]) for i in range(0, 4 * count, 4))
    return ParsedAdvert(src, dst, ip[8], version, vrid, priority, interval, addrs, style)


def advert_verdict(ip: bytes) -> ParsedAdvert | str:
    """What the listener makes of one packet: its advertisement when it is to be heard, else the
    counter it is dropped under (``malformed``, ``bad_ttl``, ``bad_source``, ``bad_checksum``).
    A function of the packet's bytes alone."""
    adv = parse_advert(ip)
    if adv is None:
        return "malformed"
    if adv.ttl != 255:
        return "bad_ttl"
    if adv.family == 6 and not _is_link_local(ip[8:24]):  # RFC 5798 §5.1.2.1: a link-local source
        return "bad_source"
    if adv.checksum_style == "bad":  # counted, never heard
        return "bad_checksum"
    return adv


def craft_advert(
    src: str,
    vrid: int,
    priority: int,
    interval: float = 1.0,
    version: int = 3,
    checksum_style: str = "rfc5798",
    addresses: Sequence[str] = (),
    ttl: int = 255,
    dest: str | None = None,
) -> bytes:
    """An IPv4 or IPv6 packet (by the family of SRC) with a VRRP advertisement, for tests and lab
    traffic. ``ttl`` is the IPv6 hop limit; ``dest`` defaults to the VRRP group (224.0.0.18, ff02::12);
    over IPv6 the ``rfc5798`` checksum covers the IPv6 pseudo-header and ``rfc9568`` leaves it out
    (a checksum no IPv6 implementation sends: a receiver counts it as bad)."""
    if ":" in src:
        return _craft_advert6(src, vrid, priority, interval, checksum_style, addresses, ttl, dest or VRRP_GROUP6)
    addrs = b"".join(socket.inet_aton(a) for a in addresses)
    if version == 2:
        head = struct.pack("!BBBBBBH", 0x21, vrid, priority, len(addresses), 0, int(interval), 0)
        msg = head + addrs + b"\0" * 8
        csum = checksum(msg)
    else:
        head = struct.pack("!BBBBHH", 0x31, vrid, priority, len(addresses), int(round(interval * 100)) & 0x0FFF, 0)
        msg = head + addrs
        if checksum_style == "rfc9568":
            csum = checksum(msg)
        else:
            csum = checksum(socket.inet_aton(src) + socket.inet_aton(VRRP_GROUP) + struct.pack("!BBH", 0, VRRP_PROTO, len(msg)) + msg)
    msg = msg[:6] + struct.pack("!H", csum) + msg[8:]
    if checksum_style == "bad":
        msg = msg[:6] + struct.pack("!H", csum ^ 0xFFFF) + msg[8:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(msg), 0, 0, ttl, VRRP_PROTO, 0,
                      socket.inet_aton(src), socket.inet_aton(dest or VRRP_GROUP))
    iph = iph[:10] + struct.pack("!H", checksum(iph)) + iph[12:]
    return iph + msg


def _craft_advert6(src: str, vrid: int, priority: int, interval: float, checksum_style: str,
                   addresses: Sequence[str], hop_limit: int, dest: str) -> bytes:
    s6, d6 = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dest)
    msg = struct.pack("!BBBBHH", 0x31, vrid, priority, len(addresses), int(round(interval * 100)) & 0x0FFF, 0)
    msg += b"".join(socket.inet_pton(socket.AF_INET6, a) for a in addresses)
    csum = checksum(msg) if checksum_style == "rfc9568" else checksum(pseudo6(s6, d6, len(msg), VRRP_PROTO) + msg)
    if checksum_style == "bad":
        csum ^= 0xFFFF
    msg = msg[:6] + struct.pack("!H", csum) + msg[8:]
    return struct.pack("!IHBB16s16s", 0x6C000000, len(msg), VRRP_PROTO, hop_limit, s6, d6) + msg  # traffic class 0xc0


def advert_frame(packet: bytes, vrid: int | None = None, src_mac: bytes | None = None) -> bytes:
    """An Ethernet frame around an advertisement PACKET (from :func:`craft_advert`), as a router sends it:
    to the VRRP group's multicast MAC, from the virtual MAC of VRID (00:00:5e:00:01:VRID for IPv4,
    00:00:5e:00:02:VRID for IPv6) unless SRC_MAC is given."""
    v6 = packet[0] >> 4 == 6
    vrid = packet[41 if v6 else 21] if vrid is None else vrid
    src = src_mac if src_mac is not None else bytes([0, 0, 0x5E, 0, 2 if v6 else 1, vrid])
    return VRRP_MACS[1 if v6 else 0] + src + struct.pack("!H", ETH_P_IPV6 if v6 else ETH_P_IP) + packet


@dataclass(frozen=True)
class AdvertEvent:
    kind: str  # new-master | priority-change | resign | silent | second-master | checksum-mismatch
    interface: str
    vrid: int
    source: str
    at: float
    detail: str = ""
    family: int = 4  # 4 or 6: the group's address family


MAX_SOURCES = 4096  # sources kept at once (a LAN has a handful; the rest is a flood of spoofed ones)
EXPIRE_MIN = 10.0  # seconds: a source not heard for max(EXPIRE_MIN, EXPIRE_INTERVALS x its interval) expires
EXPIRE_INTERVALS = 30
_SPLIT_SCAN = 32  # most recent sources of a group looked at for a second master, per packet
_VERDICTS_MAX = 256  # packets whose verdict is remembered (a master's adverts repeat byte for byte)

_Key = tuple[str, int, str]  # (interface, VRID, source): a source's text says its family
_Group = tuple[str, int, int]  # (interface, VRID, family): IPv4 and IPv6 groups of one VRID are apart


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
        # Per (interface, VRID, family): its sources, least recently heard first, and their checksum styles.
        self._groups: dict[_Group, OrderedDict[str, AdvertSource]] = {}
        self._styles: dict[_Group, Counter[str]] = {}
        # Timers: (when, key) entries; _due[key] is a key's one valid entry (others are stale), always
        # its next check as of the last advert: the loop wakes for due checks only, not once per advert.
        self._timers: list[tuple[float, _Key]] = []
        self._due: dict[_Key, float] = {}
        self._silent: set[_Key] = set()
        self._split: set[_Group] = set()
        self._mismatch: set[_Group] = set()
        self._socks: dict[socket.socket, str] = {}
        self._verdicts: dict[bytes, ParsedAdvert | str] = {}  # packet -> advert_verdict(packet)
        self._stop = threading.Event()
        self._wakeup: tuple[int, int] | None = None  # a pipe: stop() writes to end the loop's wait at once
        self._thread: threading.Thread | None = None
        self.counters = {"adverts": 0, "bad_ttl": 0, "bad_source": 0, "malformed": 0, "bad_checksum": 0, "expired": 0,
                         "evicted": 0}

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Open one socket per interface and start the thread; when an interface cannot be opened, the
        sockets opened so far are closed (their multicast memberships with them) and the error raised."""
        try:
            for iface in self.interfaces:
                s = _open(iface)
                self._socks[s] = iface
        except BaseException:
            for s in self._socks:
                s.close()
            self._socks.clear()
            raise
        self._wakeup = os.pipe()
        self._thread = threading.Thread(target=self._run, name="adverts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._wakeup is not None:
            os.write(self._wakeup[1], b"x")
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(2)
        for s in self._socks:
            s.close()
        self._socks.clear()
        if self._wakeup is not None:
            for fd in self._wakeup:
                os.close(fd)
            self._wakeup = None

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
        """Counters: adverts heard, dropped (bad_ttl: TTL or hop limit not 255; bad_source: an IPv6
        source that is not link-local; malformed, bad_checksum), expired and evicted
        sources, and ``sources``, the table's size now."""
        with self._lock:
            return {**self.counters, "sources": len(self._sources)}

    def forget_older_than(self, seconds: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in [k for k, v in self._sources.items() if now - v.last_seen > seconds]:
                self._remove(key)

    # -- the receive loop ----------------------------------------------------------------------------
    def next_due(self) -> float | None:
        """When the earliest timer is due (monotonic), or None without any: the loop sleeps until a
        packet arrives or then, not on a fixed tick (a master's silence is noticed at its due time).
        Stale entries at the head of the heap are dropped first, so nobody wakes for them."""
        with self._lock:
            timers, due = self._timers, self._due
            while timers and due.get(timers[0][1]) != timers[0][0]:
                heapq.heappop(timers)
            return timers[0][0] if timers else None

    def _run(self) -> None:
        assert self._wakeup is not None
        stop_fd = self._wakeup[0]
        watched: list = [*self._socks, stop_fd]
        while not self._stop.is_set():
            due = self.next_due()
            timeout = None if due is None else max(0.0, due - time.monotonic())
            try:
                ready, _, _ = select.select(watched, [], [], timeout)
            except (OSError, ValueError):
                return
            now = time.monotonic()
            for s in ready:
                if s == stop_fd:
                    return
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
        gkey = (key[0], key[1], src.family)
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
        """KEY's next check is at WHEN (its earlier entry, if any, is stale from now on)."""
        if self._due.get(key) == when:
            return
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
        """Account one received IPv4 or IPv6 packet (public so tests can feed packets without sockets).

        What a packet *is* (parsed advert, or why it is dropped) depends on its bytes alone, so it is
        remembered per packet (:func:`advert_verdict`): a master's adverts repeat byte for byte, and a
        repeat is not parsed again. What it *does* (counts, last seen, events, timers) is worked out
        against the table every time, repeat or not."""
        cacheable = type(ip) is bytes
        verdict = self._verdicts.get(ip) if cacheable else None
        if verdict is None:
            verdict = advert_verdict(ip)
            if cacheable:
                if len(self._verdicts) >= _VERDICTS_MAX:  # a flood of distinct packets: start over
                    self._verdicts.clear()
                self._verdicts[ip] = verdict
        if type(verdict) is str:
            self.counters[verdict] += 1
            return
        adv: ParsedAdvert = verdict  # type: ignore[assignment]
        self.counters["adverts"] += 1
        vrid, source, fam, prio = adv.vrid, adv.source, adv.family, adv.priority
        key = (interface, vrid, source)
        gkey = (interface, vrid, fam)
        events: list[AdvertEvent] = []
        with self._lock:
            old = self._sources.get(key)
            if old is None:
                if len(self._sources) >= self.max_sources:
                    self._evict()
                src = AdvertSource(interface, vrid, source, prio, adv.interval, adv.version, now, now, 1,
                                   adv.checksum_style, adv.addresses, fam)  # type: ignore[arg-type]
                self._once[key] = None
                if prio > 0:
                    events.append(AdvertEvent("new-master", interface, vrid, source, now, f"priority {prio}", fam))
            else:
                # What dataclasses.replace(old, ...) makes, without its per-call field walk.
                src = AdvertSource(old.interface, old.vrid, old.source, prio, adv.interval, adv.version, now,
                                   old.first_seen, old.count + 1, adv.checksum_style, adv.addresses,  # type: ignore[arg-type]
                                   old.family)
                self._once.pop(key, None)
                self._sources.move_to_end(key)
                if key in self._silent and prio > 0:
                    self._silent.discard(key)
                    events.append(AdvertEvent("new-master", interface, vrid, source, now, "advertising again", fam))
                elif old.priority != prio and prio > 0:
                    events.append(AdvertEvent("priority-change", interface, vrid, source, now,
                                              f"{old.priority} -> {prio}", fam))
            if prio == 0 and (old is None or old.priority != 0):
                events.append(AdvertEvent("resign", interface, vrid, source, now, "priority 0", fam))
            self._sources[key] = src
            group = self._groups.get(gkey)
            if group is None:
                group = self._groups[gkey] = OrderedDict()
                styles = self._styles[gkey] = Counter()
            else:
                styles = self._styles[gkey]
            if old is None or old.checksum_style != src.checksum_style:
                if old is not None:
                    styles[old.checksum_style] -= 1
                styles[src.checksum_style] += 1
            group[source] = src
            group.move_to_end(source)
            self._schedule(key, self._next_check(key, src))
            # A second master: another source of this group advertising now. Only the most recently
            # heard few are looked at, so a flood of sources costs no more per packet than one.
            if len(group) == 1:  # this source alone: no second master
                self._split.discard(gkey)
            else:
                active = []
                for n, p in enumerate(reversed(group.values())):
                    if n >= _SPLIT_SCAN:
                        break
                    if p.priority > 0 and now - p.last_seen <= 2 * p.interval + 0.02:
                        active.append(p)
                if len(active) > 1 and gkey not in self._split:
                    self._split.add(gkey)
                    events.append(AdvertEvent("second-master", interface, vrid, source, now,
                                              "also advertising: " + ", ".join(p.source for p in active[:8] if p.source != source), fam))
                elif len(active) <= 1:
                    self._split.discard(gkey)
            if len(styles) > 1 and gkey not in self._mismatch and sum(1 for n in styles.values() if n > 0) > 1:
                self._mismatch.add(gkey)
                events.append(AdvertEvent("checksum-mismatch", interface, vrid, source, now,
                                          " / ".join(f"{p.source} {p.checksum_style}" for p in list(group.values())[-8:]), fam))
        if events:
            self._emit(events)

    def tick(self, now: float) -> None:
        """Notice masters that stopped advertising, and expire sources (called by the loop after every
        wake-up: a packet, or the earliest timer's due time).

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
                                              f"no advert for {now - src.last_seen:.3f}s (interval {src.interval:g}s)", src.family))
                self._schedule(key, max(self._next_check(key, src), now + 1e-6))
        self._emit(events)

    def _emit(self, events: list[AdvertEvent]) -> None:
        for e in events:
            log.info("adverts: %s vrid %d (IPv%d) %s on %s %s", e.kind, e.vrid, e.family, e.source, e.interface, e.detail)
            if self.on_event is not None:
                try:
                    self.on_event(e)
                except Exception:  # noqa: BLE001 - a consumer's bug must not stop the listener
                    log.exception("advert event handler failed")


def _is_link_local(addr: bytes) -> bool:
    """Is the 16-byte IPv6 address in fe80::/10?"""
    return addr[0] == 0xFE and addr[1] & 0xC0 == 0x80


def _open(iface: str) -> socket.socket:
    """A raw packet socket on IFACE passing VRRP over IPv4 and IPv6 only, member of the VRRP multicast MACs.

    Opened with protocol 0 (it receives nothing) until the filter is attached and it is bound to
    IFACE for every ethertype, so no frame of another interface or protocol is ever queued on it.
    The multicast memberships (PACKET_ADD_MEMBERSHIP) make a NIC that filters multicast in hardware
    pass 01:00:5e:00:00:12 and 33:33:00:00:00:12; they end when the socket is closed.
    """
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        _attach_filter(s)
        s.bind((iface, ETH_P_ALL))
        ifindex = socket.if_nametoindex(iface)
        for mac in VRRP_MACS:
            s.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, struct.pack("iHH8s", ifindex, PACKET_MR_MULTICAST, 6, mac))
        s.setblocking(False)
        return s
    except BaseException:
        s.close()
        raise


def _attach_filter(sock: socket.socket, program: Sequence[tuple[int, int, int, int]] = _BPF) -> None:
    """Attach a classic BPF PROGRAM (default: VRRP only) to a packet socket (shared with arpwatch)."""

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]

    arr = (SockFilter * len(program))(*[SockFilter(*ins) for ins in program])
    prog = SockFprog(len(program), arr)
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(ctypes.string_at(ctypes.addressof(prog), ctypes.sizeof(prog))))
