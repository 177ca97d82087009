"""Announcing a moved gateway: the unsolicited Neighbor Advertisement's bytes (checked by scapy), a real
host's neighbour cache updated by it (two namespaces), and the Announcer's choice by address family."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from netha.takeover import announce
from netha.takeover.announce import Announcer, build_unsolicited_na, send_unsolicited_na

from .netns_pair import needs_root, netns_pair  # noqa: F401 - the fixture

OWN = bytes.fromhex("020000000001")
NEW = bytes.fromhex("020000000022")
GW6 = "2001:2:0:1::1"
GW6_LL = "fe80::200:5eff:fe00:201"  # the VRRP link-local of VRID 1: hosts' routes from RAs point at it


def test_unsolicited_na_is_what_rfc_4861_says():
    from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
    from scapy.layers.l2 import Ether

    frame = build_unsolicited_na(OWN, GW6, NEW)
    pkt = Ether(frame)
    assert (pkt.dst, pkt.src, pkt.type) == ("33:33:00:00:00:01", "02:00:00:00:00:01", 0x86DD)
    ip6 = pkt[IPv6]
    assert (ip6.src, ip6.dst, ip6.hlim, ip6.nh) == (GW6, "ff02::1", 255, 58)
    na = pkt[ICMPv6ND_NA]
    assert (na.type, na.code, na.R, na.S, na.O, na.tgt) == (136, 0, 1, 0, 1, GW6)
    assert pkt[ICMPv6NDOptDstLLAddr].lladdr == "02:00:00:00:00:22"
    stated = na.cksum
    del na.cksum
    assert ICMPv6ND_NA(bytes(na)).cksum == stated  # scapy computes the same checksum over the pseudo-header


def test_unsolicited_na_defaults_to_the_senders_mac_and_may_clear_the_router_flag():
    from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr
    from scapy.layers.l2 import Ether

    pkt = Ether(build_unsolicited_na(OWN, GW6_LL, router=False))
    assert pkt[ICMPv6NDOptDstLLAddr].lladdr == "02:00:00:00:00:01" and pkt[ICMPv6ND_NA].R == 0


@pytest.mark.parametrize("ip,own,mac", [("198.18.1.1", OWN, None), ("ff02::1", b"\1", None), (GW6, OWN, b"\1\2")])
def test_unsolicited_na_rejects_what_is_no_ipv6_address_or_mac(ip, own, mac):
    with pytest.raises(ValueError):
        build_unsolicited_na(own, ip, mac)


def test_announcer_sends_arp_for_ipv4_and_na_for_ipv6_on_the_groups_leg(inv, monkeypatch):
    sent = []
    monkeypatch.setattr(announce, "send_gratuitous_arp", lambda iface, ip, mac=None: sent.append(("arp", iface, ip, mac)))
    monkeypatch.setattr(announce, "send_unsolicited_na", lambda iface, ip, mac=None: sent.append(("na", iface, ip, mac)))
    leg = next(leg for leg in inv.controller.listeners if leg.groups)
    group = leg.groups[0]
    a = Announcer(inv)
    a(group, "198.18.1.1", "02:00:00:00:00:22")
    a(group, GW6, "02:00:00:00:00:22")
    a(group, GW6_LL, "")
    assert sent == [("arp", leg.interface, "198.18.1.1", "02:00:00:00:00:22"),
                    ("na", leg.interface, GW6, "02:00:00:00:00:22"), ("na", leg.interface, GW6_LL, None)]


# -- a real host: namespace a is the controller's leg, namespace b a host on the LAN ------------------------

def _neigh(pair, addr: str) -> str:
    return pair.ip(pair.b, "-6", "neigh", "show", addr, "dev", pair.vb).strip()


@needs_root
@pytest.mark.parametrize("gateway", [GW6, GW6_LL], ids=["global", "link-local"])
def test_a_hosts_stale_neighbour_entry_moves_to_the_new_holder_after_the_na(netns_pair, gateway):
    pair = netns_pair
    pair.ip(pair.b, "-6", "addr", "add", "2001:2:0:1::10/64", "dev", pair.vb, "nodad")
    pair.ip(pair.b, "-6", "neigh", "replace", gateway, "lladdr", "02:00:00:00:00:11", "dev", pair.vb, "nud", "stale")
    assert "02:00:00:00:00:11" in _neigh(pair, gateway)
    pair.run_in(pair.a, lambda: send_unsolicited_na(pair.va, gateway, "02:00:00:00:00:22"))
    deadline = time.monotonic() + 3
    while "02:00:00:00:00:22" not in _neigh(pair, gateway) and time.monotonic() < deadline:
        time.sleep(0.02)
    entry = _neigh(pair, gateway)
    assert "lladdr 02:00:00:00:00:22" in entry and "router" in entry, entry


@needs_root
def test_a_host_without_an_entry_learns_nothing_from_an_unsolicited_na(netns_pair):
    """Linux (accept_untracked_na off, the default) ignores an NA for an address it has no entry for:
    right for a gateway move, the host resolves the gateway when it needs it (docs/ipv6.md)."""
    pair = netns_pair
    pair.ip(pair.b, "-6", "addr", "add", "2001:2:0:1::10/64", "dev", pair.vb, "nodad")
    pair.run_in(pair.a, lambda: send_unsolicited_na(pair.va, GW6, "02:00:00:00:00:22"))
    time.sleep(0.2)
    assert _neigh(pair, GW6) == ""


FIX = Path(__file__).parent / "fixtures" / "nd"


@pytest.mark.parametrize("name,ip", [("global", "2001:2:0:1::1"), ("link-local", "fe80::200:5eff:fe00:215")])
def test_our_unsolicited_na_is_byte_for_byte_what_keepalived_sends(name, ip):
    """keepalived 2.2.7's NA on becoming master (router flag clear: its interface did not forward)."""
    captured = bytes.fromhex((FIX / f"keepalived-2.2.7-unsolicited-na-{name}.hex").read_text().strip())
    sender = captured[6:12]
    assert build_unsolicited_na(sender, ip, router=False) == captured
    assert build_unsolicited_na(sender, ip)[0x36 + 4] == captured[0x36 + 4] | 0x80  # ours: the router flag too
