"""Junos ``show route | display json``: only the IP tables answer about a prefix. A whole table (as
SuzieQ's vQFX captures hold) also lists mpls.0 labels and EVPN NLRIs: those are skipped, never an
error; a destination in an IP table that is no prefix still is one (unknown, never "absent")."""

from __future__ import annotations

import json

import pytest

from netha.drivers.juniper_junos import parse_route, parse_route_entries
from netha.errors import ParseError


def _reply(*tables: tuple[str, list[str]]) -> str:
    return json.dumps({"route-information": [{"route-table": [
        {"table-name": [{"data": name}], "rt": [{"rt-destination": [{"data": d}]} for d in dests]}
        for name, dests in tables]}]})


def test_a_whole_table_with_mpls_and_evpn_tables_reads_the_ip_tables_only():
    text = _reply(("inet.0", ["198.18.0.0/24", "0.0.0.0/0"]),
                  ("VRF-A.inet.0", ["198.19.1.0/24"]),
                  ("inet6.0", ["2001:2::/64"]),
                  ("mpls.0", ["18", "299776(S=0)"]),
                  ("bgp.evpn.0", ["2:10.0.0.11:1::10::28:b7:ad:3c:81:d0/304 MAC/IP"]),
                  ("default-switch.evpn.0", ["3:10.0.0.11:1::30::10.0.0.11/248 IM"]))
    assert parse_route_entries(text, "r1") == {"198.18.0.0/24": True, "0.0.0.0/0": True, "198.19.1.0/24": True,
                                               "2001:2::/64": True}
    assert parse_route(text, "198.18.0.0/24", "r1") is True
    assert parse_route(text, "198.18.9.0/24", "r1") is False


def test_a_destination_in_an_ip_table_that_is_no_prefix_is_an_error():
    with pytest.raises(ParseError, match="not a destination"):
        parse_route_entries(_reply(("inet.0", ["18"])), "r1")
