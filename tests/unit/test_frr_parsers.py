"""FRR parsers on captured output: every fixture file is a test case with its expected result beside it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from netha.drivers import frr
from netha.drivers.frr import parse_interfaces, parse_route, parse_vrrp, with_carrier
from netha.drivers.models import DeviceReading
from netha.errors import ParseError
from netha.transport.ssh import SshParams

from .captured import FIXTURES, cases, expected


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


# -- FRR's Master without carrier: the driver reports init ---------------------------------------

def _fixture(command: str, case: str) -> str:
    return (FIXTURES / "frr" / command / f"{case}.txt").read_text()


class _Cli:
    """Stands in for the SSH channel: answers each command from a dict, records what was sent."""

    def __init__(self, answers: dict[str, str]):
        self.answers = answers
        self.sent: list[str] = []

    def __call__(self, command: str, timeout: float | None = None) -> str:
        self.sent.append(command)
        return self.answers[command]


def frr_driver(vrrp_case: str, interface_case: str) -> frr.FrrDriver:
    """An FRR driver whose CLI answers with the captured ``show vrrp json`` and ``show interface json``."""
    drv = frr.FrrDriver(SshParams(device="r1", host="198.18.0.11", username="netha",
                                  netmiko_device_type=frr.SPEC.netmiko_device_type))
    drv.run = _Cli({frr.SHOW_VRRP: _fixture("show_vrrp_json", vrrp_case),  # type: ignore[method-assign]
                    frr.SHOW_INTERFACE: _fixture("show_interface_json", interface_case)})
    return drv


def frr_reading(vrrp_case: str, interface_case: str) -> DeviceReading:
    return frr_driver(vrrp_case, interface_case).read()


def test_parse_vrrp_keeps_the_state_frr_printed_for_an_interface_without_carrier():
    [view] = parse_vrrp(_fixture("show_vrrp_json", "no-carrier"), "r1")
    assert view.state == "master"


@pytest.mark.parametrize("vrrp_case, interface_case", [("no-carrier", "eth1-no-carrier"), ("interface-down", "eth1-down")])
def test_frr_master_on_an_interface_that_is_down_is_read_as_init(vrrp_case, interface_case):
    reading = frr_reading(vrrp_case, interface_case)
    [view] = reading.vrrp
    assert (view.vrid, view.interface, view.state, view.master_address) == (1, "eth1", "init", None)
    assert reading.interfaces["eth1"] is False
    # Everything else is what FRR said.
    [raw] = parse_vrrp(_fixture("show_vrrp_json", vrrp_case), "r1")
    assert dataclasses.replace(raw, state="init", master_address=None) == view


def test_frr_master_with_carrier_stays_master():
    [view] = frr_reading("master", "all-up").vrrp
    assert (view.state, view.master_address) == ("master", "198.18.100.2")


def test_frr_backup_on_an_interface_that_is_down_is_read_as_init_too():
    [view] = with_carrier(parse_vrrp(_fixture("show_vrrp_json", "backup"), "r1"),
                          parse_interfaces(_fixture("show_interface_json", "eth1-no-carrier"), "r1"))
    assert view.state == "init"


def test_frr_view_on_an_interface_the_device_did_not_list_is_left_as_printed():
    [view] = with_carrier(parse_vrrp(_fixture("show_vrrp_json", "master"), "r1"), {"lo": True})
    assert view.state == "master"


def test_frr_get_vrrp_applies_the_carrier_too():
    drv = frr_driver("no-carrier", "eth1-no-carrier")
    assert [v.state for v in drv.get_vrrp()] == ["init"]
    assert drv.run.sent == [frr.SHOW_VRRP, frr.SHOW_INTERFACE]


def test_frr_read_asks_show_interface_once_for_carrier_state_and_addresses():
    drv = frr_driver("no-carrier", "eth1-no-carrier")
    reading = drv.read()
    assert drv.run.sent == [frr.SHOW_VRRP, frr.SHOW_INTERFACE]
    assert "198.18.100.2/24" in reading.addresses["eth1"]


# The parametrized tests above run once per fixture file; a glob that matched nothing would run none.
@pytest.mark.parametrize("command, at_least", [("show_vrrp_json", 7), ("show_interface_json", 3), ("show_ip_route_json", 3)])
def test_every_frr_command_has_its_captured_cases(command, at_least):
    found = _cases(command)
    assert len(found) >= at_least, f"frr/{command}: {len(found)} captured cases, expected at least {at_least}"
    assert [p.name for p in found if not p.with_suffix(".expected.json").is_file()] == []
    # An expected result without its capture is a case that silently stopped running.
    orphans = [p.name for p in (FIXTURES / "frr" / command).glob("*.expected.json")
               if not p.with_name(p.name.removesuffix(".expected.json") + ".txt").is_file()]
    assert orphans == []


def test_frr_captured_cases_cover_refusals_and_both_route_answers():
    vrrp = [_expected(p) for p in _cases("show_vrrp_json")]
    assert sum(isinstance(e, dict) and "error" in e for e in vrrp) >= 1  # output the parser must refuse
    assert sum(isinstance(e, list) and len(e) > 0 for e in vrrp) >= 5
    assert {_expected(p)["present"] for p in _cases("show_ip_route_json")} == {True, False}
