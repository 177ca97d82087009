"""The Internet checksum and IPv6 packet framing shared by the listener, ND presence and the announcer."""

from __future__ import annotations

import ipaddress
import struct

ICMPV6 = 58


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of DATA; 0 when DATA already carries a correct one.

    The one's complement sum of DATA's 16-bit words (an odd last byte padded with zero) is DATA read
    as one big-endian number modulo 0xFFFF (2**16 is 1 modulo 0xFFFF), except that a non-zero sum
    that is a multiple of 0xFFFF folds to 0xFFFF, not 0: one big-integer remainder in C instead of a
    Python sum over the words."""
    number = int.from_bytes(data, "big")
    if len(data) % 2:
        number <<= 8
    total = number % 0xFFFF
    if total == 0 and number:
        total = 0xFFFF
    return ~total & 0xFFFF


def pseudo6(src: bytes, dst: bytes, length: int, next_header: int) -> bytes:
    """The IPv6 pseudo-header (RFC 8200 §8.1) of an upper-layer message of LENGTH bytes."""
    return src + dst + struct.pack("!I3xB", length, next_header)


def icmpv6_packet(src: ipaddress.IPv6Address, dst: ipaddress.IPv6Address, icmp: bytes) -> bytes:
    """An IPv6 packet (hop limit 255, as Neighbor Discovery requires) around the ICMPv6 message ICMP,
    its checksum (bytes 2-3, zero in ICMP) computed over the IPv6 pseudo-header."""
    icmp = icmp[:2] + struct.pack("!H", checksum(pseudo6(src.packed, dst.packed, len(icmp), ICMPV6) + icmp)) + icmp[4:]
    return struct.pack("!IHBB", 0x60000000, len(icmp), ICMPV6, 255) + src.packed + dst.packed + icmp
