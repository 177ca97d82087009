"""Announcing a moved gateway address from the controller's listener leg: gratuitous ARP for IPv4,
unsolicited Neighbor Advertisements for IPv6.

An action, not an observation: it lives with the takeover, not in the observer. The Ethernet source
is always the sending interface's own MAC, so the switch keeps learning the real router's MAC on the
router's port; hosts update their caches from the ARP payload or from the NA's target link-layer
address option (the new holder's MAC).

An unsolicited NA (RFC 4861 §7.2.6) goes to all-nodes (ff02::1, 33:33:00:00:00:01) from the
announced address itself, hop limit 255, with the override flag (replace a cached MAC), the router
flag (a gateway) and solicited clear. A host updates an entry it has; it creates none from an
unsolicited NA (Linux: ``accept_untracked_na`` off by default), which is right: a host that never
talked to the gateway resolves it when it needs it, and then the new holder answers.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
import time

from ..inventory import Inventory
from ..observe.inet import icmpv6_packet

log = logging.getLogger(__name__)

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ALL_NODES = ipaddress.IPv6Address("ff02::1")
ALL_NODES_MAC = bytes.fromhex("333300000001")
NEIGHBOR_ADVERTISEMENT = 136
NA_ROUTER, NA_SOLICITED, NA_OVERRIDE = 0x80, 0x40, 0x20


def build_unsolicited_na(own_mac: bytes, ip: str, mac: bytes | None = None, router: bool = True) -> bytes:
    """The Ethernet frame of an unsolicited Neighbor Advertisement for IP at MAC (default OWN_MAC):
    from OWN_MAC to all-nodes, source address IP, override set, solicited clear, router as given,
    the target link-layer address option carrying MAC."""
    target = ipaddress.IPv6Address(ip)
    lladdr = mac if mac is not None else own_mac
    if len(own_mac) != 6 or len(lladdr) != 6:
        raise ValueError("MAC addresses are 6 bytes")
    flags = NA_OVERRIDE | (NA_ROUTER if router else 0)
    icmp = struct.pack("!BBHB3x16s", NEIGHBOR_ADVERTISEMENT, 0, 0, flags, target.packed) + bytes([2, 1]) + lladdr
    return ALL_NODES_MAC + own_mac + struct.pack("!H", ETH_P_IPV6) + icmpv6_packet(target, ALL_NODES, icmp)


def send_unsolicited_na(interface: str, ip: str, mac: str | None = None, count: int = 3, gap: float = 0.01,
                        router: bool = True) -> None:
    """Announce IPv6 address ``ip`` at ``mac`` (default: the interface's own MAC) with unsolicited
    Neighbor Advertisements to all-nodes (override and router flags set)."""
    ipaddress.IPv6Address(ip)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # sends only: it receives nothing
    try:
        s.bind((interface, 0))
        own = s.getsockname()[4]
        frame = build_unsolicited_na(own, ip, bytes.fromhex(mac.replace(":", "")) if mac else None, router)
        for i in range(count):
            s.send(frame)
            if i + 1 < count:
                time.sleep(gap)
    finally:
        s.close()


def send_gratuitous_arp(interface: str, ip: str, mac: str | None = None, count: int = 3, gap: float = 0.01) -> None:
    """Announce ``ip`` at ``mac`` (default: the interface's own MAC) with gratuitous ARP requests."""
    ipaddress.IPv4Address(ip)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    try:
        s.bind((interface, 0))
        own = s.getsockname()[4]
        sha = bytes.fromhex(mac.replace(":", "")) if mac else own
        arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1, sha, socket.inet_aton(ip), b"\0" * 6, socket.inet_aton(ip))
        frame = b"\xff" * 6 + own + struct.pack("!H", ETH_P_ARP) + arp
        for i in range(count):
            s.send(frame)
            if i + 1 < count:
                time.sleep(gap)
    finally:
        s.close()


def announce(interface: str, ip: str, mac: str | None = None) -> str:
    """Announce IP at MAC on INTERFACE the way its family does; what was sent, for the log."""
    if ipaddress.ip_address(ip).version == 6:
        send_unsolicited_na(interface, ip, mac)
        return "unsolicited Neighbor Advertisement"
    send_gratuitous_arp(interface, ip, mac)
    return "gratuitous ARP"


class Announcer:
    """Sends a group's announcements on the listener interface that serves the group: gratuitous ARP
    for an IPv4 address, unsolicited Neighbor Advertisements for an IPv6 one."""

    def __init__(self, inv: Inventory):
        self.inv = inv

    def __call__(self, group: str, ip: str, mac: str) -> None:
        how = "gratuitous ARP" if ipaddress.ip_address(ip).version == 4 else "unsolicited Neighbor Advertisement"
        iface = next((leg.interface for leg in self.inv.controller.listeners if group in leg.groups), None)
        if iface is None:
            log.warning("%s: no listener interface serves this group: %s for %s not sent", group, how, ip)
            return
        announce(iface, ip, mac or None)
        log.info("%s: %s for %s at %s sent on %s", group, how, ip, mac, iface)
