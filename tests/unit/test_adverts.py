"""The advertisement listener without sockets: parsing, checksum styles, and the events it raises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netha.observe.adverts import MAX_SOURCES, AdvertListener, craft_advert, parse_advert

FIX = Path(__file__).parent / "fixtures" / "adverts"


@pytest.mark.parametrize("path", sorted(FIX.glob("*.hex")), ids=lambda p: p.stem)
def test_captured_adverts_parse_to_expected_fields(path):
    pkt = bytes.fromhex(path.read_text().strip())
    expected = json.loads(path.with_suffix(".expected.json").read_text())
    adv = parse_advert(pkt)
    assert adv is not None
    got = {k: getattr(adv, k) for k in expected}
    got["addresses"] = list(got.get("addresses", []))
    assert got == expected


@pytest.mark.parametrize("version,style", [(3, "rfc5798"), (3, "rfc9568"), (2, "v2")])
def test_checksum_styles_are_told_apart(version, style):
    pkt = craft_advert("198.18.1.2", 1, 200, 0.1 if version == 3 else 1, version, style, ["198.18.1.1"])
    adv = parse_advert(pkt)
    assert (adv.version, adv.vrid, adv.priority, adv.checksum_style) == (version, 1, 200, style)
    assert adv.addresses == ("198.18.1.1",)


def test_bad_checksum_is_flagged():
    assert parse_advert(craft_advert("198.18.1.2", 1, 200, 0.1, 3, "bad")).checksum_style == "bad"


@pytest.mark.parametrize("pkt", [b"", b"\x45" + b"\0" * 10, craft_advert("198.18.1.2", 1, 200)[:22]])
def test_truncated_packets_are_ignored(pkt):
    assert parse_advert(pkt) is None


def feed(listener, src, t, prio=200, vrid=1, style="rfc5798", ttl=255, interval=0.1):
    listener.handle("eth1", craft_advert(src, vrid, prio, interval, 3, style, ["198.18.1.1"], ttl=ttl), t)


def test_ttl_other_than_255_is_dropped():
    events = []
    li = AdvertListener(["eth1"], on_event=events.append)
    feed(li, "198.18.1.2", 0.0, ttl=64)
    assert li.sources() == () and li.stats()["bad_ttl"] == 1


def test_silent_master_is_noticed_after_one_and_a_half_intervals_not_before():
    events = []
    li = AdvertListener(["eth1"], on_event=events.append)
    for i in range(10):
        feed(li, "198.18.1.2", i * 0.1)
    last = 0.9
    li.tick(last + 0.14)
    assert [e.kind for e in events] == ["new-master"]
    li.tick(last + 0.16)
    assert events[-1].kind == "silent" and events[-1].source == "198.18.1.2"
    feed(li, "198.18.1.2", 2.0)
    assert events[-1].kind == "new-master"


def test_two_sources_for_one_vrid_is_a_second_master():
    events = []
    li = AdvertListener(["eth1"], on_event=events.append)
    feed(li, "198.18.1.2", 0.0)
    feed(li, "198.18.1.3", 0.05, prio=100)
    assert "second-master" in [e.kind for e in events]


def test_priority_zero_is_a_resignation():
    events = []
    li = AdvertListener(["eth1"], on_event=events.append)
    feed(li, "198.18.1.2", 0.0)
    feed(li, "198.18.1.2", 0.1, prio=0)
    assert events[-1].kind == "resign"


def test_mixed_checksum_styles_are_an_interop_fault():
    events = []
    li = AdvertListener(["eth1"], on_event=events.append)
    feed(li, "198.18.1.2", 0.0, style="rfc5798")
    feed(li, "198.18.1.3", 1.0, prio=100, style="rfc9568")
    assert any(e.kind == "checksum-mismatch" for e in events)
    styles = {s.source: s.checksum_style for s in li.sources()}
    assert styles == {"198.18.1.2": "rfc5798", "198.18.1.3": "rfc9568"}


# -- checksums: verified, and a bad one is counted, never heard --------------------------------------

def _scapy_v3(src="198.18.1.2", vrid=5, priority=150):
    from scapy.layers.inet import IP
    from scapy.layers.vrrp import VRRPv3

    return IP(src=src, dst="224.0.0.18", ttl=255) / VRRPv3(vrid=vrid, priority=priority, adv=10, addrlist=["198.18.1.1"])


def _scapy_v2_with_password():
    from scapy.layers.inet import IP
    from scapy.layers.vrrp import VRRP

    return IP(src="198.18.1.2", dst="224.0.0.18", ttl=255) / VRRP(
        vrid=6, priority=120, adv=1, authtype=1, auth1=0x41424344, auth2=0x45464748, addrlist=["198.18.1.1", "198.18.1.5"])


def test_vrrpv3_checksum_is_verified_over_the_ipv4_pseudo_header():
    pkt = _scapy_v3()
    assert parse_advert(bytes(pkt)).checksum_style == "rfc5798"
    # The same VRRP message (and checksum) from another source: the pseudo-header no longer sums.
    moved = pkt.copy()
    moved.src = "198.18.1.3"
    del moved.chksum  # IPv4 header checksum recomputed; the VRRP checksum is kept
    moved[1].chksum = pkt[1].__class__(bytes(pkt[1])).chksum
    assert parse_advert(bytes(moved)).checksum_style == "bad"


def test_vrrpv2_checksum_covers_the_whole_message_with_its_authentication_data():
    raw = bytes(_scapy_v2_with_password())
    assert parse_advert(raw).checksum_style == "v2"
    corrupted = raw[:-1] + bytes([raw[-1] ^ 0x01])  # last byte of the authentication data
    assert parse_advert(corrupted).checksum_style == "bad"


def test_ethernet_padding_after_the_ip_total_length_is_not_part_of_the_message():
    assert parse_advert(bytes(_scapy_v3()) + b"\0" * 14).checksum_style == "rfc5798"


@pytest.mark.parametrize("pkt", [
    craft_advert("198.18.1.2", 0, 200),  # VRID 0 does not exist
    craft_advert("198.18.1.2", 1, 200, interval=0),  # no advertisement interval
    craft_advert("198.18.1.2", 1, 200, addresses=["198.18.1.1"])[:-2],  # shorter than its IPv4 total length
], ids=["vrid-0", "interval-0", "shorter-than-total-length"])
def test_adverts_that_cannot_be_real_are_malformed(pkt):
    assert parse_advert(pkt) is None


@pytest.mark.parametrize("version", [2, 3])
def test_advert_with_a_bad_checksum_is_counted_as_bad_never_heard(version):
    events = []
    li = AdvertListener(["eth1"], on_event=events.append)
    li.handle("eth1", craft_advert("198.18.1.2", 1, 200, 1, version, "bad", ["198.18.1.1"]), 0.0)
    assert li.sources() == () and events == []
    assert li.stats()["bad_checksum"] == 1 and li.stats()["adverts"] == 0


def test_bad_checksum_from_a_heard_master_does_not_refresh_it():
    events = []
    li = AdvertListener(["eth1"], on_event=events.append)
    feed(li, "198.18.1.2", 0.0)
    feed(li, "198.18.1.2", 0.12, style="bad")
    (src,) = li.sources()
    assert src.last_seen == 0.0 and src.count == 1
    li.tick(0.16)
    assert events[-1].kind == "silent"


# -- bounded table: expiry, eviction, O(1) per packet ----------------------------------------------------

def test_a_source_not_heard_for_ten_seconds_expires():
    li = AdvertListener(["eth1"])
    feed(li, "198.18.1.2", 0.0, interval=0.1)
    li.tick(9.9)
    assert [s.source for s in li.sources()] == ["198.18.1.2"]
    li.tick(10.1)
    assert li.sources() == () and li.stats()["expired"] == 1


def test_a_slow_advertiser_expires_after_thirty_of_its_intervals():
    li = AdvertListener(["eth1"])
    feed(li, "198.18.1.2", 0.0, interval=1.0)
    li.tick(29.0)
    assert len(li.sources()) == 1
    li.tick(30.5)
    assert li.sources() == ()


def test_sources_read_between_ticks_leave_out_expired_ones():
    li = AdvertListener(["eth1"])
    feed(li, "198.18.1.2", 0.0)
    assert li.sources(now=5.0) != () and li.sources(now=11.0) == ()


def test_a_source_heard_again_does_not_expire():
    li = AdvertListener(["eth1"])
    for i in range(200):
        feed(li, "198.18.1.2", i * 0.1)
        li.tick(i * 0.1 + 0.05)
    assert len(li.sources()) == 1 and li.stats()["expired"] == 0


def _spoofed(n: int):
    for i in range(n):
        yield f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def test_twenty_thousand_spoofed_sources_keep_the_table_bounded_and_the_real_master():
    events = []
    li = AdvertListener(["eth1"], on_event=events.append)
    t = 0.0
    for i, src in enumerate(_spoofed(20_000)):
        t += 0.0001
        feed(li, src, t)
        if i % 200 == 0:  # the real master keeps advertising through the flood
            feed(li, "198.18.1.2", t)
        if i % 10 == 0:  # the loop ticks every 10 ms
            li.tick(t)
    stats = li.stats()
    assert stats["sources"] == MAX_SOURCES
    assert stats["evicted"] == 20_000 + 1 - MAX_SOURCES
    assert "198.18.1.2" in {s.source for s in li.sources()}
    assert len(li._timers) <= 4 * MAX_SOURCES + 1024  # timers bounded too


def test_per_packet_cost_does_not_grow_with_the_number_of_sources():
    import time as _time

    li = AdvertListener(["eth1"])
    pkts = [craft_advert(src, 1, 100, 0.1, 3, "rfc5798", ["198.18.1.1"]) for src in _spoofed(12_000)]

    def batch(lo: int, hi: int) -> float:
        start = _time.perf_counter()
        for k in range(lo, hi):
            li.handle("eth1", pkts[k], k * 1e-4)
        return _time.perf_counter() - start

    # The fastest of five batches each time: robust against a busy machine.
    first = min(batch(k, k + 200) for k in range(0, 1000, 200))  # a nearly empty table
    batch(1000, 11_000)  # filled to MAX_SOURCES and beyond (evicting)
    last = min(batch(k, k + 200) for k in range(11_000, 12_000, 200))
    # An O(sources) scan per packet would make the last batches ~50x slower than the first.
    assert last < 4 * first + 0.01, (first, last)


# -- VRRPv3 over IPv6 (RFC 5798 §5.1.2, §7.1) ----------------------------------------------------------

LL1, LL2 = "fe80::1", "fe80::2"
VIP6 = ["fe80::200:5eff:fe00:201", "2001:2:0:1::1"]


def _scapy_v3_ipv6(src=LL1, vrid=1, priority=200, hlim=255):
    from scapy.layers.inet6 import IPv6
    from scapy.layers.vrrp import VRRPv3

    return IPv6(src=src, dst="ff02::12", hlim=hlim) / VRRPv3(vrid=vrid, priority=priority, adv=10, addrlist=VIP6)


def test_ipv6_advert_built_by_scapy_parses_with_its_sixteen_byte_addresses():
    adv = parse_advert(bytes(_scapy_v3_ipv6()))
    assert adv is not None
    assert (adv.family, adv.source, adv.dest, adv.ttl, adv.version, adv.vrid, adv.priority, adv.interval) == (
        6, LL1, "ff02::12", 255, 3, 1, 200, 0.1)
    assert adv.addresses == tuple(VIP6) and adv.checksum_style == "rfc5798"


def test_crafted_ipv6_advert_is_byte_for_byte_what_scapy_builds():
    from scapy.layers.inet6 import IPv6
    from scapy.layers.vrrp import VRRPv3

    theirs = IPv6(src=LL1, dst="ff02::12", hlim=255, tc=0xC0) / VRRPv3(vrid=1, priority=200, adv=10, addrlist=VIP6)
    assert craft_advert(LL1, 1, 200, 0.1, 3, "rfc5798", VIP6) == bytes(theirs)


def test_ipv6_checksum_covers_the_pseudo_header():
    pkt = craft_advert(LL1, 1, 200, 0.1, 3, "rfc5798", VIP6)
    moved = pkt[:8] + bytes.fromhex("fe800000000000000000000000000009") + pkt[24:]  # another source, same message
    assert parse_advert(moved).checksum_style == "bad"


def test_ipv6_checksum_without_the_pseudo_header_is_bad():
    """RFC 9568 and Cisco leave the pseudo-header out for IPv4 only: over IPv6 it is mandatory."""
    assert parse_advert(craft_advert(LL1, 1, 200, 0.1, 3, "rfc9568", VIP6)).checksum_style == "bad"
    li = AdvertListener(["eth1"])
    li.handle("eth1", craft_advert(LL1, 1, 200, 0.1, 3, "rfc9568", VIP6), 0.0)
    assert li.sources() == () and li.stats()["bad_checksum"] == 1


def test_ipv6_hop_limit_other_than_255_is_counted_and_dropped():
    li = AdvertListener(["eth1"])
    li.handle("eth1", bytes(_scapy_v3_ipv6(hlim=254)), 0.0)
    assert li.sources() == () and li.stats()["bad_ttl"] == 1 and li.stats()["adverts"] == 0


def test_ipv6_advert_from_a_global_source_is_counted_and_dropped():
    li = AdvertListener(["eth1"])
    li.handle("eth1", craft_advert("2001:2:0:1::2", 1, 200, 0.1, 3, "rfc5798", VIP6), 0.0)
    assert li.sources() == () and li.stats()["bad_source"] == 1


def _behind_hop_by_hop(pkt: bytes) -> bytes:
    """PKT (IPv6, next header 112) with a hop-by-hop header (PadN) before the VRRP message; the VRRP
    checksum stays valid (the pseudo-header holds the VRRP message's length and next header 112)."""
    import struct

    msg = pkt[40:]
    hbh = bytes([112, 0, 1, 4, 0, 0, 0, 0])
    return pkt[:4] + struct.pack("!HB", len(hbh) + len(msg), 0) + pkt[7:40] + hbh + msg


def test_ipv6_advert_behind_a_hop_by_hop_header_parses():
    adv = parse_advert(_behind_hop_by_hop(craft_advert(LL1, 7, 150, 1.0, 3, "rfc5798", VIP6[:1])))
    assert adv is not None and (adv.vrid, adv.priority, adv.interval, adv.checksum_style) == (7, 150, 1.0, "rfc5798")


@pytest.mark.parametrize("pkt", [
    craft_advert(LL1, 1, 200, addresses=VIP6)[:-2],  # shorter than its payload length
    craft_advert(LL1, 1, 200, addresses=VIP6)[:45],  # a VRRP header cut short
    craft_advert(LL1, 0, 200, addresses=VIP6),  # VRID 0
    craft_advert(LL1, 1, 200, interval=0, addresses=VIP6),  # no advertisement interval
    craft_advert(LL1, 1, 200, addresses=VIP6)[:6] + b"\x3a" + craft_advert(LL1, 1, 200, addresses=VIP6)[7:],  # ICMPv6
    (lambda p: p[:40] + bytes([0x21]) + p[41:])(craft_advert(LL1, 1, 200, addresses=VIP6)),  # VRRPv2 over IPv6
    (lambda p: p[:43] + bytes([3]) + p[44:])(craft_advert(LL1, 1, 200, addresses=VIP6)),  # 3 addresses, 2 sent
], ids=["short-payload", "short-header", "vrid-0", "interval-0", "not-vrrp", "version-2", "count-beyond-message"])
def test_ipv6_packets_that_are_no_advert_are_malformed(pkt):
    assert parse_advert(pkt) is None


def feed6(listener, src, t, prio=200, vrid=1, interval=0.1):
    listener.handle("eth1", craft_advert(src, vrid, prio, interval, 3, "rfc5798", VIP6), t)


def test_ipv6_silent_master_and_expiry_as_for_ipv4():
    events = []
    li = AdvertListener(["eth1"], on_event=events.append)
    for i in range(5):
        feed6(li, LL1, i * 0.1)
    (src,) = li.sources()
    assert (src.family, src.source, src.count, src.addresses) == (6, LL1, 5, tuple(VIP6))
    li.tick(0.4 + 0.16)
    assert [(e.kind, e.family) for e in events] == [("new-master", 6), ("silent", 6)]
    li.tick(10.5)
    assert li.sources() == () and li.stats()["expired"] == 1


def test_ipv4_and_ipv6_groups_with_one_vrid_are_apart():
    """VRID 1 over IPv4 and VRID 1 over IPv6, each with one master: no second master, no checksum mismatch."""
    events = []
    li = AdvertListener(["eth1"], on_event=events.append)
    for i in range(3):
        feed(li, "198.18.1.2", i * 0.1, style="rfc9568")
        feed6(li, LL1, i * 0.1 + 0.01)
    assert [e.kind for e in events] == ["new-master", "new-master"]
    assert {e.family for e in events} == {4, 6}
    from netha.observe.types import Snapshot

    snap = Snapshot(at=0.3, wall=0.0, devices={}, adverts=li.sources())
    assert [a.source for a in snap.adverts_for(1)] == ["198.18.1.2"]
    assert [a.source for a in snap.adverts_for(1, family=6)] == [LL1]
    feed6(li, LL2, 0.35, prio=100)  # a second IPv6 master is one
    assert events[-1].kind == "second-master" and events[-1].family == 6


def _frames():
    from scapy.layers.inet6 import ICMPv6ND_NS, IPv6, IPv6ExtHdrRouting
    from scapy.layers.l2 import Ether
    from scapy.layers.vrrp import VRRPv3

    from netha.observe.adverts import advert_frame

    v4 = advert_frame(craft_advert("198.18.1.2", 1, 200))
    v6 = advert_frame(craft_advert(LL1, 1, 200, addresses=VIP6))
    hbh = advert_frame(_behind_hop_by_hop(craft_advert(LL1, 2, 200, addresses=VIP6)), vrid=2)
    ns = bytes(Ether() / IPv6(src=LL1, dst="ff02::1:ff00:1") / ICMPv6ND_NS(tgt="2001:2:0:1::1"))
    routed = bytes(Ether() / IPv6(src=LL1, dst="ff02::12") / IPv6ExtHdrRouting() / VRRPv3(vrid=1))
    arp = b"\xff" * 12 + b"\x08\x06" + b"\0" * 28
    return {"v4": v4, "v6": v6, "hbh": hbh}, {"ns": ns, "routed": routed, "arp": arp}


def test_kernel_filter_passes_vrrp_over_ipv4_and_ipv6_only():
    """The BPF program, run by the kernel on a Unix datagram socket (no root needed)."""
    import socket

    from netha.observe.adverts import _attach_filter

    passed, dropped = _frames()
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        _attach_filter(b)
        b.setblocking(False)
        for frame in [*dropped.values(), *passed.values()]:
            a.send(frame)
        got = []
        while True:
            try:
                got.append(b.recv(2048))
            except BlockingIOError:
                break
    assert got == list(passed.values())


# -- a real kernel: two namespaces, a veth pair ---------------------------------------------------------
from .netns_pair import needs_root, netns_pair  # noqa: E402,F401 - the fixture


@needs_root
def test_listener_hears_ipv6_and_ipv4_adverts_on_a_real_interface_and_joins_the_vrrp_macs(netns_pair):
    import socket
    import time

    from netha.observe.adverts import advert_frame

    pair = netns_pair
    li = AdvertListener([pair.va])
    pair.run_in(pair.a, li.start)
    try:
        maddr = pair.ip(pair.a, "maddr", "show", "dev", pair.va)
        assert "33:33:00:00:00:12" in maddr and "01:00:5e:00:00:12" in maddr

        def send() -> None:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            with s:
                s.bind((pair.vb, 0))
                for i in range(3):
                    s.send(advert_frame(craft_advert(LL1, 1, 200, 0.1, 3, "rfc5798", VIP6)))
                    s.send(advert_frame(craft_advert("198.18.1.2", 1, 150, 0.1, 3, "rfc5798", ["198.18.1.1"])))
                    s.send(advert_frame(craft_advert(LL2, 1, 100, 0.1, 3, "rfc5798", VIP6, ttl=64)))
                    time.sleep(0.02)

        pair.run_in(pair.b, send)
        deadline = time.monotonic() + 3
        while len(li.sources()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        heard = {(s.family, s.source, s.priority) for s in li.sources()}
        assert heard == {(6, LL1, 200), (4, "198.18.1.2", 150)}
        assert li.stats()["bad_ttl"] == 3
    finally:
        li.stop()
    assert "33:33:00:00:00:12" not in pair.ip(pair.a, "maddr", "show", "dev", pair.va)


@needs_root
def test_a_leg_that_cannot_be_opened_leaves_no_socket_or_membership_behind(netns_pair):
    pair = netns_pair
    li = AdvertListener([pair.va, "nosuchleg"])
    with pytest.raises(OSError):
        pair.run_in(pair.a, li.start)
    assert li.running_interfaces() == () and li._socks == {}
    assert "33:33:00:00:00:12" not in pair.ip(pair.a, "maddr", "show", "dev", pair.va)


# -- repeated adverts: parsed once, accounted every time ---------------------------------------------------

def _kinds(events):
    return [(e.kind, e.source, e.detail) for e in events]


def test_a_repeated_advert_advances_the_count_and_last_seen_each_time():
    li = AdvertListener(["eth1"])
    pkt = craft_advert("198.18.1.2", 1, 200, 0.1, 3, "rfc5798", ["198.18.1.1"])
    for i in range(5):
        li.handle("eth1", bytes(pkt), i * 0.1)  # equal bytes, another object each time (as recv gives them)
    (src,) = li.sources()
    assert (src.count, src.first_seen, src.last_seen) == (5, 0.0, pytest.approx(0.4))
    assert li.stats()["adverts"] == 5


def test_an_advert_repeated_after_a_priority_change_is_a_priority_change_again():
    """The same bytes as two adverts ago: its priority is compared with the last one heard, not a cached one."""
    events = []
    li = AdvertListener(["eth1"], on_event=events.append)
    high = craft_advert("198.18.1.2", 1, 200, 0.1, 3, "rfc5798", ["198.18.1.1"])
    low = craft_advert("198.18.1.2", 1, 150, 0.1, 3, "rfc5798", ["198.18.1.1"])
    for n, pkt in enumerate([high, high, low, low, high, high]):
        li.handle("eth1", pkt, n * 0.1)
    assert _kinds(events) == [("new-master", "198.18.1.2", "priority 200"),
                              ("priority-change", "198.18.1.2", "200 -> 150"),
                              ("priority-change", "198.18.1.2", "150 -> 200")]
    (src,) = li.sources()
    assert (src.priority, src.count) == (200, 6)


def test_an_identical_advert_after_silence_is_a_master_advertising_again():
    events = []
    li = AdvertListener(["eth1"], on_event=events.append)
    pkt = craft_advert("198.18.1.2", 1, 200, 0.1, 3, "rfc5798", ["198.18.1.1"])
    li.handle("eth1", pkt, 0.0)
    li.tick(0.2)
    li.handle("eth1", pkt, 0.3)
    li.handle("eth1", pkt, 0.4)
    assert [(e.kind, e.detail) for e in events] == [("new-master", "priority 200"), ("silent", events[1].detail),
                                                    ("new-master", "advertising again")]


def test_a_repeated_resignation_is_one_resignation():
    events = []
    li = AdvertListener(["eth1"], on_event=events.append)
    li.handle("eth1", craft_advert("198.18.1.2", 1, 200), 0.0)
    zero = craft_advert("198.18.1.2", 1, 0)
    for n in range(3):
        li.handle("eth1", zero, 0.1 + n * 0.1)
    assert [e.kind for e in events] == ["new-master", "resign"]
    assert li.sources()[0].count == 4


def test_one_packet_on_two_interfaces_is_two_sources():
    events = []
    li = AdvertListener(["eth1", "eth2"], on_event=events.append)
    pkt = craft_advert("198.18.1.2", 1, 200)
    li.handle("eth1", pkt, 0.0)
    li.handle("eth2", pkt, 0.01)
    assert sorted(s.interface for s in li.sources()) == ["eth1", "eth2"]
    assert [(e.kind, e.interface) for e in events] == [("new-master", "eth1"), ("new-master", "eth2")]


def test_a_changed_advert_of_a_source_is_parsed_its_addresses_and_checksum_style_kept():
    events = []
    li = AdvertListener(["eth1"], on_event=events.append)
    li.handle("eth1", craft_advert("198.18.1.2", 1, 200, 0.1, 3, "rfc5798", ["198.18.1.1"]), 0.0)
    li.handle("eth1", craft_advert("198.18.1.3", 1, 100, 0.1, 3, "rfc5798", ["198.18.1.1"]), 0.0)
    li.handle("eth1", craft_advert("198.18.1.2", 1, 200, 0.1, 3, "rfc9568", ["198.18.1.1", "198.18.1.9"]), 0.1)
    by = {s.source: s for s in li.sources()}
    assert (by["198.18.1.2"].checksum_style, by["198.18.1.2"].addresses) == ("rfc9568", ("198.18.1.1", "198.18.1.9"))
    assert [e.kind for e in events].count("checksum-mismatch") == 1


def test_a_repeated_dropped_packet_is_counted_each_time():
    li = AdvertListener(["eth1"])
    bad_ttl = craft_advert("198.18.1.2", 1, 200, ttl=64)
    bad_sum = craft_advert("198.18.1.2", 1, 200, checksum_style="bad")
    for n in range(3):
        li.handle("eth1", bad_ttl, n * 0.1)
        li.handle("eth1", bad_sum, n * 0.1)
        li.handle("eth1", b"\x45junk", n * 0.1)
    assert {k: li.stats()[k] for k in ("bad_ttl", "bad_checksum", "malformed", "adverts")} == {
        "bad_ttl": 3, "bad_checksum": 3, "malformed": 3, "adverts": 0}
    assert li.sources() == ()


def test_remembered_verdicts_are_bounded_under_a_flood_of_distinct_packets():
    from netha.observe import adverts

    li = AdvertListener(["eth1"])
    for n, src in enumerate(_spoofed(3 * adverts._VERDICTS_MAX)):
        feed(li, src, n * 1e-4)
    assert len(li._verdicts) <= adverts._VERDICTS_MAX
    assert li.stats()["adverts"] == 3 * adverts._VERDICTS_MAX


def test_a_steady_master_sets_the_next_wakeup_to_its_silence_after_its_last_advert():
    """The loop wakes for a packet or a due check only: each advert moves its source's check to
    1.5 intervals after it at once (no wake-up at the check an advert has already moved)."""
    li = AdvertListener(["eth1"])
    for i in range(10):
        feed(li, "198.18.1.2", i * 0.1)
        feed6(li, LL1, i * 0.1 + 0.05)
        assert li.next_due() == pytest.approx(i * 0.1 + 0.15)  # the IPv4 master's check, as of its last advert
        li.tick(i * 0.1 + 0.06)  # nothing due: nothing happens
    assert li.next_due() == pytest.approx(0.9 + 0.15)
    assert len(li._timers) <= 2 * 2 + 2  # stale checks are dropped as they come up


# An advert stream: (source index, priority, checksum style, seconds since the previous advert, tick after it)
_STREAM = st.lists(st.tuples(st.integers(0, 3), st.sampled_from([0, 100, 200]), st.sampled_from(["rfc5798", "rfc9568", "bad"]),
                             st.sampled_from([0.0, 0.05, 0.1, 0.16, 0.4, 11.0]), st.booleans()), max_size=60)


@settings(max_examples=150, deadline=None)
@given(_STREAM)
def test_remembered_verdicts_change_nothing_the_listener_reports(stream):
    """The same stream fed as bytes (remembered per packet) and as bytearray (parsed every time, the
    listener before verdicts were remembered): the same events, sources and counters."""
    sources = ["198.18.1.2", "198.18.1.3", LL1, LL2]
    runs = []
    for kind in (bytes, bytearray):
        events = []
        li = AdvertListener(["eth1"], on_event=events.append)
        t = 0.0
        for who, prio, style, gap, tick in stream:
            t += gap
            src = sources[who]
            pkt = craft_advert(src, 1, prio, 0.1, 3, style, VIP6 if ":" in src else ["198.18.1.1"])
            li.handle("eth1", kind(pkt), t)
            if tick:
                li.tick(t + 0.01)
        li.tick(t + 0.2)
        runs.append((events, li.sources(), li.stats(), li.next_due()))
    assert runs[0] == runs[1]
