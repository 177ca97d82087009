"""IPv6 presence of the member routers on the controller's listener legs: Neighbor Discovery, the
counterpart of :mod:`netha.observe.arpwatch` (evidence that needs no device config).

From each listener interface the watcher sends a Neighbor Solicitation (RFC 4861 §7.2.2) for every
member address of the IPv6 groups it is given, every ``interval`` seconds, and reads the Neighbor
Advertisements that answer it on a raw packet socket whose kernel BPF filter passes NAs only. A
solicitation goes unicast (to the address, at the MAC that last answered for it) when that MAC is
known; to the address's solicited-node multicast group (ff02::1:ffXX:XXXX at 33:33:ff:XX:XX:XX)
when none is known, when the previous one went unanswered, and every ``broadcast_every``-th time
(so a replaced router, a new MAC, is found again): the same schedule as the ARP probes.

The solicitation's source is the leg's link-local address (read from the kernel; derived from the
leg's MAC, modified EUI-64, when the leg has none) with the source link-layer address option (the
leg's MAC), so the router answers with a solicited NA, unicast to the leg. Unlike an ARP probe from
0.0.0.0 this leaves the router a neighbour entry for the leg's link-local address (stale, harmless).
A probe from the unspecified address (``::``) would leave none, but it is a Duplicate Address
Detection probe: a router whose address is still tentative would give the address up. So: never.

A reply counts when it is an NA (hop limit 255, checksum right, solicited flag set) sent to the leg's
MAC for one of the leg's addresses; its MAC is the target link-layer address option, else the
Ethernet source (Linux leaves the option out of an answer to a unicast solicitation). Damping,
events (answering, silent, mac-change), the rate bound and the per-interface failure handling are
the ARP watcher's (:class:`~netha.observe.arpwatch.ArpWatch`); the presence of both is reported in
one map, ``Snapshot.arp``, keyed (leg, address).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
from dataclasses import dataclass

from .adverts import ETH_P_IPV6, _attach_filter
from .arpwatch import ArpWatch, mac_text
from .inet import ICMPV6, checksum, icmpv6_packet, pseudo6

log = logging.getLogger(__name__)

NEIGHBOR_SOLICITATION = 135
NEIGHBOR_ADVERTISEMENT = 136
NA_ROUTER, NA_SOLICITED, NA_OVERRIDE = 0x80, 0x40, 0x20
OPT_SOURCE_LLADDR, OPT_TARGET_LLADDR = 1, 2

# Classic BPF: accept IPv6 frames carrying ICMPv6 (next header 58, no extension header) of type 136
# (Neighbor Advertisement); drop everything else in the kernel.
NA_BPF: tuple[tuple[int, int, int, int], ...] = (
    (0x28, 0, 0, 12),  # ldh [12]          ethertype
    (0x15, 0, 5, ETH_P_IPV6),  # jeq #0x86dd
    (0x30, 0, 0, 20),  # ldb [20]          next header
    (0x15, 0, 3, ICMPV6),  # jeq #58
    (0x30, 0, 0, 54),  # ldb [54]          ICMPv6 type
    (0x15, 0, 1, NEIGHBOR_ADVERTISEMENT),  # jeq #136
    (0x06, 0, 0, 0x40000),  # ret #262144   accept
    (0x06, 0, 0, 0),  # ret #0            drop
)


def solicited_node(address: str) -> ipaddress.IPv6Address:
    """The solicited-node multicast address of ADDRESS (RFC 4291 §2.7.1): ff02::1:ff00:0/104 + its low 24 bits."""
    low = ipaddress.IPv6Address(address).packed[13:]
    return ipaddress.IPv6Address(bytes.fromhex("ff0200000000000000000001ff") + low)


def multicast_mac(group: ipaddress.IPv6Address) -> bytes:
    """The Ethernet address of an IPv6 multicast group (RFC 2464 §7): 33:33 + its low 32 bits."""
    return b"\x33\x33" + group.packed[12:]


def eui64_link_local(mac: bytes) -> ipaddress.IPv6Address:
    """fe80::/64 with the modified EUI-64 interface identifier of MAC (RFC 4291 appendix A)."""
    iid = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:6]
    return ipaddress.IPv6Address(b"\xfe\x80" + b"\0" * 6 + iid)


# -- frames ------------------------------------------------------------------------------------------
def build_solicitation(own_mac: bytes, own_ip: str, target: str, dst_mac: bytes | None = None) -> bytes:
    """A Neighbor Solicitation frame for TARGET from OWN_IP (a link-local address) at OWN_MAC.

    Unicast to TARGET at DST_MAC when given (as neighbour unreachability detection does), else to
    TARGET's solicited-node multicast group. Hop limit 255; the source link-layer address option
    carries OWN_MAC, so the answer comes back to it.
    """
    if len(own_mac) != 6 or (dst_mac is not None and len(dst_mac) != 6):
        raise ValueError("MAC addresses are 6 bytes")
    tgt, src = ipaddress.IPv6Address(target), ipaddress.IPv6Address(own_ip)
    if tgt.is_multicast or tgt.is_unspecified:
        raise ValueError(f"{target}: a solicitation asks for a unicast address")
    dst = tgt if dst_mac is not None else solicited_node(target)
    eth_dst = dst_mac if dst_mac is not None else multicast_mac(dst)
    icmp = struct.pack("!BBH4x16s", NEIGHBOR_SOLICITATION, 0, 0, tgt.packed) + bytes([OPT_SOURCE_LLADDR, 1]) + own_mac
    return eth_dst + own_mac + struct.pack("!H", ETH_P_IPV6) + icmpv6_packet(src, dst, icmp)


@dataclass(frozen=True)
class NdReply:
    eth_src: str
    eth_dst: str
    source: str  # the IPv6 source
    target: str  # the address advertised
    mac: str  # the target link-layer address option, else the Ethernet source
    router: bool
    solicited: bool
    override: bool


def parse_advertisement(frame: bytes) -> NdReply | None:
    """An Ethernet frame carrying a well-formed Neighbor Advertisement; None for anything else (never raises).

    Well-formed (RFC 4861 §7.1.2): IPv6 with ICMPv6 directly after the header, hop limit 255, code 0,
    the checksum right over the pseudo-header, a unicast target, options of non-zero length.
    """
    if not isinstance(frame, (bytes, bytearray, memoryview)) or len(frame) < 14 + 40 + 24:
        return None
    frame = bytes(frame)
    if struct.unpack("!H", frame[12:14])[0] != ETH_P_IPV6 or frame[14] >> 4 != 6:
        return None
    ip = frame[14:]
    end = 40 + struct.unpack("!H", ip[4:6])[0]
    if ip[6] != ICMPV6 or ip[7] != 255 or end > len(ip) or end < 40 + 24:
        return None
    icmp = ip[40:end]
    if icmp[0] != NEIGHBOR_ADVERTISEMENT or icmp[1] != 0 or checksum(pseudo6(ip[8:24], ip[24:40], len(icmp), ICMPV6) + icmp):
        return None
    target = ipaddress.IPv6Address(icmp[8:24])
    if target.is_multicast:
        return None
    mac = frame[6:12]
    off = 24
    while off + 2 <= len(icmp):
        kind, length = icmp[off], icmp[off + 1] * 8
        if length == 0 or off + length > len(icmp):
            return None
        if kind == OPT_TARGET_LLADDR and length >= 8:
            mac = icmp[off + 2 : off + 8]
        off += length
    flags = icmp[4]
    return NdReply(mac_text(frame[6:12]), mac_text(frame[0:6]), str(ipaddress.IPv6Address(ip[8:24])), str(target),
                   mac_text(mac), bool(flags & NA_ROUTER), bool(flags & NA_SOLICITED), bool(flags & NA_OVERRIDE))


# -- the watcher --------------------------------------------------------------------------------------
class NdWatch(ArpWatch):
    """Probes IPv6 router addresses with Neighbor Solicitations from the listener legs and keeps their
    presence (the ARP watcher's state, schedule, rate bound and events). Thread-safe readers."""

    name = "ndwatch"
    protocol = "Neighbor Solicitation"

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._own_ip: dict[str, str] = {}

    @staticmethod
    def _address(text: str) -> str:
        addr = ipaddress.IPv6Address(text)
        if addr.is_multicast or addr.is_unspecified:
            raise ValueError(f"{text}: not a unicast IPv6 address")
        return str(addr)

    def _open_leg(self, iface: str) -> tuple[socket.socket, bytes]:
        sock, own = _open(iface)
        self._own_ip[iface] = leg_link_local(iface) or str(eui64_link_local(own))
        return sock, own

    def _answer(self, frame: bytes) -> tuple[str, str, str] | None:
        """A solicited NA in FRAME: (its target, the target's MAC, the frame's destination MAC), or None."""
        reply = parse_advertisement(frame)
        if reply is None or not reply.solicited:
            return None
        return reply.target, reply.mac, reply.eth_dst

    def _probe_frame(self, interface: str, own_mac: bytes, address: str, dst: bytes | None) -> bytes:
        own_ip = self._own_ip.get(interface) or str(eui64_link_local(own_mac))
        return build_solicitation(own_mac, own_ip, address, dst)


def leg_link_local(iface: str) -> str | None:
    """IFACE's link-local IPv6 address as the kernel has it (not tentative), None when it has none
    (IPv6 off on the leg, or its address still in duplicate address detection)."""
    for path in ("/proc/thread-self/net/if_inet6", "/proc/self/net/if_inet6"):
        try:
            with open(path) as f:
                lines = f.read().splitlines()
            break
        except OSError:
            continue
    else:
        return None
    for line in lines:
        parts = line.split()
        if len(parts) < 6 or parts[5] != iface:
            continue
        addr = ipaddress.IPv6Address(bytes.fromhex(parts[0]))
        flags = int(parts[4], 16)
        if addr.is_link_local and not flags & 0x40:  # IFA_F_TENTATIVE
            return str(addr)
    return None


def _open(iface: str) -> tuple[socket.socket, bytes]:
    """A raw packet socket on IFACE passing Neighbor Advertisements only, and the interface's MAC.

    Opened with protocol 0 (it receives nothing) until the filter is attached and it is bound to IFACE."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        _attach_filter(s, NA_BPF)
        s.bind((iface, ETH_P_IPV6))
        s.setblocking(False)
        own = s.getsockname()[4]
        if len(own) != 6:
            raise OSError(f"{iface} has no Ethernet address")
        return s, bytes(own)
    except BaseException:
        s.close()
        raise
