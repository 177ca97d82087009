"""Announcing a moved gateway address: gratuitous ARP from the controller's listener leg.

An action, not an observation: it lives with the takeover, not in the observer. The Ethernet source
is always the sending interface's own MAC, so the switch keeps learning the real router's MAC on the
router's port; hosts update their caches from the ARP payload (the new holder's MAC).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
import time

from ..inventory import Inventory

log = logging.getLogger(__name__)

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800


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


class Announcer:
    """Sends a group's announcements on the listener interface that serves the group."""

    def __init__(self, inv: Inventory):
        self.inv = inv

    def __call__(self, group: str, ip: str, mac: str) -> None:
        iface = next((leg.interface for leg in self.inv.controller.listeners if group in leg.groups), None)
        if iface is None:
            log.warning("%s: no listener interface serves this group: gratuitous ARP not sent", group)
            return
        send_gratuitous_arp(iface, ip, mac or None)
        log.info("%s: gratuitous ARP for %s at %s sent on %s", group, ip, mac, iface)
