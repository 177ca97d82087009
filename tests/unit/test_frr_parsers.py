"""FRR parsers on captured output: every fixture file is a test case with its expected result beside it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from netha.drivers.frr import parse_interfaces, parse_route, parse_vrrp
from netha.errors import ParseError

from .captured import cases, expected


def _cases(command: str) -> list[Path]:
    return cases("frr", command)


_expected = expected


@pytest.mark.parametrize("path", _cases("show_vrrp_json"), ids=lambda p: p.stem)
def test_show_vrrp_json_parses_to_expected_views(path):
    expected = _expected(path)
    if isinstance(expected, dict) and "error" in expected:
        with pytest.raises(ParseError):
            parse_vrrp(path.read_text(), "r1")
        return
    got = [dataclasses.asdict(v) for v in parse_vrrp(path.read_text(), "r1")]
    assert json.loads(json.dumps(got)) == expected


@pytest.mark.parametrize("path", _cases("show_interface_json"), ids=lambda p: p.stem)
def test_show_interface_json_gives_oper_state(path):
    assert parse_interfaces(path.read_text(), "r1") == _expected(path)


@pytest.mark.parametrize("path", _cases("show_ip_route_json"), ids=lambda p: p.stem)
def test_show_ip_route_json_gives_presence(path):
    exp = _expected(path)
    assert parse_route(path.read_text(), exp["prefix"], "r1") is exp["present"]


@pytest.mark.parametrize("garbage", ["", "hello", "{not json", "% Unknown command: show vrrp json"])
def test_garbage_output_is_a_parse_error_naming_the_device(garbage):
    with pytest.raises(ParseError, match="^r9: "):
        parse_vrrp(garbage, "r9")


@pytest.mark.parametrize("text", [
    "[" * 100_000,  # deeper than the JSON decoder recurses
    '[{"vrid": ' + "9" * 5000 + "}]",  # longer than int() converts
    "[null]", '[{"vrid": 1, "v4": null}]', '{"vrid": 1}',
    '[{"vrid": 300, "interface": "eth1", "advertisementInterval": 100, "v4": {"status": "Master", "effectivePriority": 200}}]',
    '[{"vrid": 1, "interface": "eth1", "advertisementInterval": 100, "v4": {"status": "Master", "effectivePriority": 99999}}]',
    '[{"vrid": "²", "interface": "eth1", "advertisementInterval": 100, "v4": {"status": "Master", "effectivePriority": 1}}]',
    '[{"vrid": 1, "interface": "eth1", "advertisementInterval": NaN, "v4": {"status": "Master", "effectivePriority": 1}}]',
])
def test_odd_json_is_a_parse_error_never_another_exception(text):
    with pytest.raises(ParseError, match="^r1: show vrrp json: "):
        parse_vrrp(text, "r1")
