"""IPv6 presence with Neighbor Discovery: the solicitation's bytes (read by scapy), what counts as an
answer, the kernel filter, and the whole watcher against a real router address in a second namespace."""

from __future__ import annotations

import socket
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netha.observe.arpwatch import PresenceEvent, mac_bytes
from netha.observe.ndwatch import (
    NA_BPF, NdWatch, build_solicitation, eui64_link_local, leg_link_local, parse_advertisement, solicited_node,
)

from .netns_pair import needs_root, netns_pair  # noqa: F401 - the fixture

OWN = bytes.fromhex("020000000001")
OWN_LL = "fe80::1"
R1 = "02:00:00:00:00:11"
R1_NEW = "02:00:00:00:00:99"
ADDR = "2001:2:0:1::2"


def na(target=ADDR, src_mac=R1, dst_mac="02:00:00:00:00:01", dst=OWN_LL, solicited=True, tlla: str | None = R1,
       hlim=255, corrupt=False) -> bytes:
    """A Neighbor Advertisement frame as a router answers our solicitation (scapy computes the checksum)."""
    from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
    from scapy.layers.l2 import Ether

    pkt = Ether(src=src_mac, dst=dst_mac) / IPv6(src=target, dst=dst, hlim=hlim) / ICMPv6ND_NA(
        tgt=target, R=1, S=int(solicited), O=1)
    if tlla is not None:
        pkt = pkt / ICMPv6NDOptDstLLAddr(lladdr=tlla)
    raw = bytes(pkt)
    return raw[:-1] + bytes([raw[-1] ^ 1]) if corrupt else raw


# -- frames ------------------------------------------------------------------------------------------
def test_multicast_solicitation_asks_the_solicited_node_group():
    from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6, in6_chksum
    from scapy.layers.l2 import Ether

    pkt = Ether(build_solicitation(OWN, OWN_LL, "2001:2:0:1::abcd:ef12"))
    assert (pkt.dst, pkt.src) == ("33:33:ff:cd:ef:12", "02:00:00:00:00:01")
    assert (pkt[IPv6].src, pkt[IPv6].dst, pkt[IPv6].hlim) == (OWN_LL, "ff02::1:ffcd:ef12", 255)
    ns = pkt[ICMPv6ND_NS]
    assert (ns.type, ns.code, ns.tgt) == (135, 0, "2001:2:0:1::abcd:ef12")
    assert pkt[ICMPv6NDOptSrcLLAddr].lladdr == "02:00:00:00:00:01"
    assert in6_chksum(58, pkt[IPv6], bytes(ns)) == 0  # a checksum that sums to zero with the pseudo-header


def test_unicast_solicitation_goes_to_the_address_at_the_known_mac():
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    pkt = Ether(build_solicitation(OWN, OWN_LL, ADDR, mac_bytes(R1)))
    assert (pkt.dst, pkt[IPv6].dst) == (R1, ADDR)


@pytest.mark.parametrize("target", ["ff02::1", "::", "198.18.1.2"])
def test_solicitation_asks_for_unicast_ipv6_addresses_only(target):
    with pytest.raises(ValueError):
        build_solicitation(OWN, OWN_LL, target)


def test_address_helpers():
    assert str(solicited_node("2001:2:0:1::1")) == "ff02::1:ff00:1"
    assert str(eui64_link_local(bytes.fromhex("525400123456"))) == "fe80::5054:ff:fe12:3456"


def test_advertisement_parses_with_its_flags_and_target_mac():
    r = parse_advertisement(na())
    assert r is not None
    assert (r.target, r.mac, r.solicited, r.router, r.override, r.eth_dst) == (ADDR, R1, True, True, True,
                                                                                  "02:00:00:00:00:01")


def test_without_the_target_option_the_mac_is_the_ethernet_source():
    """Linux leaves the option out of its answer to a unicast solicitation (RFC 4861 §7.2.4 allows it)."""
    assert parse_advertisement(na(tlla=None)).mac == R1


@pytest.mark.parametrize("frame", [
    b"",
    na()[:70],  # truncated
    na(hlim=64),  # not from the link
    na(corrupt=True),  # bad checksum
    na(target="ff02::1"),  # a multicast target
    build_solicitation(OWN, OWN_LL, ADDR),  # a solicitation, not an advertisement
    na()[:12] + b"\x08\x00" + na()[14:],  # not IPv6
], ids=["empty", "truncated", "hop-limit", "checksum", "multicast-target", "solicitation", "ethertype"])
def test_anything_but_a_well_formed_advertisement_is_ignored(frame):
    assert parse_advertisement(frame) is None


@given(st.binary(max_size=160))
def test_garbage_never_raises(data):
    parse_advertisement(data)


def test_kernel_filter_passes_neighbor_advertisements_only():
    from netha.observe.adverts import _attach_filter, advert_frame, craft_advert

    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        _attach_filter(b, NA_BPF)
        b.setblocking(False)
        for frame in (build_solicitation(OWN, OWN_LL, ADDR), advert_frame(craft_advert("fe80::1", 1, 200)),
                      b"\xff" * 12 + b"\x08\x06" + b"\0" * 28):
            a.send(frame)
        a.send(na())
        assert b.recv(2048) == na()
        with pytest.raises(BlockingIOError):
            b.recv(2048)


# -- the watcher, fed by hand ---------------------------------------------------------------------------
def test_watcher_counts_solicited_answers_to_us_for_its_addresses_only():
    got: list[PresenceEvent] = []
    w = NdWatch({"eth2": [ADDR, "2001:2:0:1::3"]}, on_change=got.append)
    first = w.probe("eth2", ADDR, 0.0, OWN)
    assert first[0:6] == bytes.fromhex("3333ff000002")  # no MAC known yet: the solicited-node group
    w.handle("eth2", na(), 0.01, OWN)
    w.handle("eth2", na(dst_mac="02:00:00:00:00:77"), 0.02, OWN)  # someone else's answer
    w.handle("eth2", na(solicited=False, dst_mac="33:33:00:00:00:01", dst="ff02::1"), 0.02, OWN)  # unsolicited
    w.handle("eth2", na(target="2001:2:0:1::99"), 0.02, OWN)  # not a target
    w.handle("eth1", na(), 0.02, OWN)  # not this leg's target
    assert [(e.kind, e.address, e.mac) for e in got] == [("answering", ADDR, R1)]
    assert w.stats() == {"sent": 1, "replies": 1, "ignored": 4}
    assert w.probe("eth2", ADDR, 0.1, OWN)[0:6] == mac_bytes(R1)  # now unicast, to the MAC that answered
    p = w.presence(1.0)
    assert p[("eth2", ADDR)].answered and not p[("eth2", "2001:2:0:1::3")].answered


def test_silence_and_mac_change_as_with_arp():
    got: list[PresenceEvent] = []
    w = NdWatch({"eth2": [ADDR]}, on_change=got.append)
    w.probe("eth2", ADDR, 0.0, OWN)
    w.handle("eth2", na(), 0.01, OWN)
    for n in range(4):
        w.probe("eth2", ADDR, 0.1 * (n + 1), OWN)
    w.handle("eth2", na(src_mac=R1_NEW, tlla=R1_NEW), 0.6, OWN)
    assert [e.kind for e in got] == ["answering", "silent", "answering", "mac-change"]


def test_targets_are_canonical_ipv6_unicast_addresses():
    assert NdWatch({"eth1": ["2001:2:0:1:0::2", ADDR]}).targets == {"eth1": (ADDR,)}
    for bad in ("198.18.1.2", "ff02::1", "nope"):
        with pytest.raises(ValueError):
            NdWatch({"eth1": [bad]})


# -- a real kernel: the watcher in namespace a, a router's address in namespace b --------------------------
def _wait(predicate, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@needs_root
def test_a_real_router_address_answers_goes_silent_and_answers_again(netns_pair):
    pair = netns_pair
    pair.ip(pair.b, "-6", "addr", "add", f"{ADDR}/64", "dev", pair.vb, "nodad")
    router_mac = pair.mac(pair.b, pair.vb)
    got: list[PresenceEvent] = []
    w = NdWatch({pair.va: [ADDR, "2001:2:0:1::3"]}, 0.05, got.append)
    pair.run_in(pair.a, w.start)
    try:
        assert w._own_ip[pair.va] == pair.run_in(pair.a, lambda: leg_link_local(pair.va))  # the leg's own
        assert _wait(lambda: any(e.kind == "answering" for e in got))
        assert [(e.kind, e.address, e.mac) for e in got] == [("answering", ADDR, router_mac)]
        assert _wait(lambda: w.stats()["sent"] >= 12)  # a few unicast rounds answered too
        p = w.presence()
        assert p[(pair.va, ADDR)].unanswered <= 1 and not p[(pair.va, "2001:2:0:1::3")].answered
        pair.ip(pair.b, "-6", "addr", "del", f"{ADDR}/64", "dev", pair.vb)  # the router loses the address
        assert _wait(lambda: got[-1].kind == "silent")
        pair.ip(pair.b, "-6", "addr", "add", f"{ADDR}/64", "dev", pair.vb, "nodad")
        assert _wait(lambda: got[-1].kind == "answering")
        assert [e.kind for e in got] == ["answering", "silent", "answering"]
    finally:
        w.stop()


# -- where the observer points each watcher ---------------------------------------------------------------
def test_observer_watches_ipv4_members_with_arp_and_ipv6_members_with_nd(tmp_path, monkeypatch):
    from netha.inventory import load_inventory
    from netha.observe.observer import arp_targets

    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    path = tmp_path / "inv.yml"
    path.write_text("""\
credentials:
  lab: {username: netha, password: {env: NETHA_TEST_PASSWORD}}
devices:
  r1: {host: 198.18.0.11, platform: frr, credentials: lab}
  r2: {host: 198.18.0.12, platform: frr, credentials: lab}
controller:
  listeners:
    - {interface: eth1, groups: [lan, lan6]}
groups:
  lan:
    vrid: 1
    interface: eth1
    virtual_addresses: [198.18.1.1/24]
    members:
      - {device: r1, priority: 200, address: 198.18.1.2/24}
      - {device: r2, priority: 100, address: 198.18.1.3/24}
  lan6:
    vrid: 1
    interface: eth1
    virtual_addresses: ["2001:2:0:1::1/64"]
    members:
      - {device: r1, priority: 200, address: "2001:2:0:1::2/64"}
      - {device: r2, priority: 100, address: "2001:2:0:1::3/64"}
""")
    inv = load_inventory(path)
    assert arp_targets(inv) == {"eth1": ["198.18.1.2", "198.18.1.3"]}
    assert arp_targets(inv, 6) == {"eth1": ["2001:2:0:1::2", "2001:2:0:1::3"]}
    NdWatch(arp_targets(inv, 6))  # accepted as they are


def test_keepalived_unsolicited_na_parses_and_is_no_answer_to_us():
    from pathlib import Path

    raw = bytes.fromhex((Path(__file__).parent / "fixtures" / "nd" / "keepalived-2.2.7-unsolicited-na-global.hex")
                        .read_text().strip())
    r = parse_advertisement(raw)
    assert r is not None
    assert (r.target, r.source, r.mac, r.solicited, r.override, r.eth_dst) == (
        "2001:2:0:1::1", "2001:2:0:1::1", "46:7e:8d:a1:ad:17", False, True, "33:33:00:00:00:01")
    w = NdWatch({"eth1": ["2001:2:0:1::1"]})
    w.handle("eth1", raw, 0.0, OWN)
    assert w.stats()["ignored"] == 1 and not w.presence(0.0)[("eth1", "2001:2:0:1::1")].answered


@needs_root
def test_the_observer_reports_ipv4_and_ipv6_member_presence_in_one_map(netns_pair, tmp_path, monkeypatch):
    """The observer's listener leg in namespace a; r1's addresses (IPv4 and IPv6) on namespace b's end:
    ARP finds the IPv4 one, Neighbor Discovery the IPv6 one; r2's are nowhere."""
    from netha.inventory import load_inventory
    from netha.observe.observer import Observer, ObserverOptions

    pair = netns_pair
    pair.ip(pair.b, "addr", "add", "198.18.1.2/24", "dev", pair.vb)
    pair.ip(pair.b, "-6", "addr", "add", f"{ADDR}/64", "dev", pair.vb, "nodad")
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    path = tmp_path / "inv.yml"
    path.write_text(f"""\
credentials:
  lab: {{username: netha, password: {{env: NETHA_TEST_PASSWORD}}}}
devices:
  r1: {{host: 198.18.0.11, platform: frr, credentials: lab}}
  r2: {{host: 198.18.0.12, platform: frr, credentials: lab}}
controller:
  listeners:
    - {{interface: {pair.va}, groups: [lan, lan6]}}
groups:
  lan:
    vrid: 1
    interface: eth1
    virtual_addresses: [198.18.1.1/24]
    members:
      - {{device: r1, priority: 200, address: 198.18.1.2/24}}
      - {{device: r2, priority: 100, address: 198.18.1.3/24}}
  lan6:
    vrid: 1
    interface: eth1
    virtual_addresses: ["2001:2:0:1::1/64"]
    members:
      - {{device: r1, priority: 200, address: "{ADDR}/64"}}
      - {{device: r2, priority: 100, address: "2001:2:0:1::3/64"}}
""")
    obs = Observer(load_inventory(path), ObserverOptions(ssh=False, snmp=False, reach=False, events=False,
                                                         notifications=False))
    pair.run_in(pair.a, obs._start_listener)
    try:
        def answered() -> set[str]:
            return {addr for (_, addr), p in obs.snapshot().arp.items() if p.answered}

        assert _wait(lambda: answered() == {"198.18.1.2", ADDR})
        assert set(obs.snapshot().arp) == {(pair.va, a) for a in ("198.18.1.2", "198.18.1.3", ADDR, "2001:2:0:1::3")}
    finally:
        obs.stop()


# -- solicitations built once, answers parsed once ----------------------------------------------------------
def test_solicitations_are_built_once_per_destination_and_are_the_solicitations(monkeypatch):
    from netha.observe import ndwatch

    built = []
    real = ndwatch.build_solicitation

    def counting(*a):
        built.append(a)
        return real(*a)

    monkeypatch.setattr(ndwatch, "build_solicitation", counting)
    w = NdWatch({"eth2": [ADDR]}, broadcast_every=5)
    own_ll = str(eui64_link_local(OWN))
    frames = []
    for n in range(12):
        frames.append(w.probe("eth2", ADDR, n * 0.1, OWN))
        w.handle("eth2", na(dst=own_ll), n * 0.1 + 0.01, OWN)
    assert frames[0] == real(OWN, own_ll, ADDR) and frames[1] == real(OWN, own_ll, ADDR, mac_bytes(R1))
    assert [n for n, f in enumerate(frames) if f[0:2] == b"\x33\x33"] == [0, 4, 9]
    assert len(built) == 2
    assert w.stats() == {"sent": 12, "replies": 12, "ignored": 0}


def test_a_leg_opened_again_solicits_from_its_link_local_address_as_opened(monkeypatch):
    """A frame built before the leg was opened (from the MAC's EUI-64 address) is not sent after it."""
    from netha.observe import ndwatch

    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    monkeypatch.setattr(ndwatch, "_open", lambda iface: (a, OWN))
    monkeypatch.setattr(ndwatch, "leg_link_local", lambda iface: "fe80::77")
    w = NdWatch({"eth2": [ADDR]}, 10.0)
    before = w.probe("eth2", ADDR, 0.0, OWN)
    assert socket.inet_ntop(socket.AF_INET6, before[22:38]) == str(eui64_link_local(OWN))
    try:
        w.start()
        after = w.probe("eth2", ADDR, 0.1, OWN)
    finally:
        w.stop()
        b.close()
    assert socket.inet_ntop(socket.AF_INET6, after[22:38]) == "fe80::77"


def test_a_repeated_advertisement_counts_each_time_and_a_changed_one_is_parsed():
    got: list[PresenceEvent] = []
    w = NdWatch({"eth2": [ADDR]}, on_change=got.append)
    frame = na()
    for n in range(3):
        w.probe("eth2", ADDR, n * 0.1, OWN)
        w.handle("eth2", bytes(frame), n * 0.1 + 0.01, OWN)
    w.handle("eth2", na(corrupt=True), 0.25, OWN)  # one bit off: a bad checksum, ignored
    w.handle("eth2", na(src_mac=R1_NEW, tlla=R1_NEW), 0.3, OWN)
    assert [(e.kind, e.mac) for e in got] == [("answering", R1), ("mac-change", R1_NEW)]
    assert w.stats() == {"sent": 3, "replies": 4, "ignored": 1}
    assert w.presence(1.0)[("eth2", ADDR)].last_reply == pytest.approx(0.3)
