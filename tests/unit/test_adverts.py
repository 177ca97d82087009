"""The advertisement listener without sockets: parsing, checksum styles, and the events it raises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netha.observe.adverts import AdvertListener, craft_advert, parse_advert

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
