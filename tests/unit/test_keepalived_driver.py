"""keepalived driver parsers on output captured from the lab's k1/k2: each fixture file is a test case."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from netha.drivers.keepalived import (
    parse_addresses, parse_cmdline, parse_links, parse_process_table, parse_route, parse_state,
)
from netha.errors import ParseError

from .captured import FIXTURES, cases, expected


def _cases(command: str) -> list[Path]:
    return cases("keepalived", command)


_expected = expected


@pytest.mark.parametrize("path", _cases("json_dump"), ids=lambda p: p.stem)
def test_json_dump_parses_to_expected_views(path):
    conf = path.with_suffix(".conf").read_text() if path.with_suffix(".conf").exists() else ""
    expected = _expected(path)
    if isinstance(expected, dict) and "error" in expected:
        with pytest.raises(ParseError, match=expected["error"]):
            parse_state(path.read_text(), conf, "k1")
        return
    got = [dataclasses.asdict(v) for v in parse_state(path.read_text(), conf, "k1")]
    assert json.loads(json.dumps(got)) == expected


@pytest.mark.parametrize("path", _cases("ip_addr"), ids=lambda p: p.stem)
def test_ip_addr_gives_carrier_and_addresses(path):
    expected = _expected(path)
    assert parse_links(path.read_text(), "k1") == expected["links"]
    assert parse_addresses(path.read_text(), "k1") == expected["addresses"]


@pytest.mark.parametrize("path", _cases("ip_route"), ids=lambda p: p.stem)
def test_ip_route_exact_gives_presence(path):
    assert parse_route(path.read_text(), "k1") is _expected(path)


# The parametrized tests above run once per fixture file; a glob that matched nothing would run none.
@pytest.mark.parametrize("command, at_least", [("json_dump", 7), ("ip_addr", 3), ("ip_route", 2)])
def test_every_keepalived_command_has_its_captured_cases(command, at_least):
    found = _cases(command)
    assert len(found) >= at_least, f"keepalived/{command}: {len(found)} captured cases, expected at least {at_least}"
    assert [p.name for p in found if not p.with_suffix(".expected.json").is_file()] == []
    # An expected result without its capture is a case that silently stopped running.
    orphans = [p.name for p in (FIXTURES / "keepalived" / command).glob("*.expected.json")
               if not p.with_name(p.name.removesuffix(".expected.json") + ".txt").is_file()]
    assert orphans == []


def test_keepalived_captured_cases_cover_refusals_and_both_route_answers():
    dumps = [_expected(p) for p in _cases("json_dump")]
    assert sum(isinstance(e, dict) and "error" in e for e in dumps) >= 2  # output the parser must refuse
    assert sum(isinstance(e, list) and len(e) > 0 for e in dumps) >= 4
    assert any(p.with_suffix(".conf").is_file() for p in _cases("json_dump"))  # a case read with its config
    assert {_expected(p) for p in _cases("ip_route")} == {True, False}


def test_garbage_instead_of_ip_json_is_a_parse_error_naming_the_device():
    with pytest.raises(ParseError, match="k1"):
        parse_links("-bash: ip: command not found", "k1")


def test_the_parent_keepalived_process_is_found_among_its_children():
    # pid ppid, as the driver's shell loop prints them: the parent and its VRRP child.
    assert parse_process_table("4242 1\n4243 4242\n") == 4242
    assert parse_process_table("") is None
    assert parse_process_table("10 1\n20 1\n") is None  # two keepalived in one namespace: refuse to guess


@pytest.mark.parametrize(("cmdline", "conf"), [
    ("/usr/sbin/keepalived\0--vrrp\0-f\0/run/netha-lab/k1/keepalived.conf\0-D\0", "/run/netha-lab/k1/keepalived.conf"),
    ("keepalived --use-file=/etc/ka/main.conf -D", "/etc/ka/main.conf"),
    ("/usr/sbin/keepalived --dont-fork -D", "/etc/keepalived/keepalived.conf"),
])
def test_the_config_file_comes_from_keepalived_command_line(cmdline, conf):
    assert parse_cmdline(cmdline) == conf


def test_keepalived_info_gives_config_tmpdir_and_json_signal():
    from netha.drivers.keepalived import parse_keepalived_info

    assert parse_keepalived_info("keepalived -f /etc/k1.conf\nTMPDIR=/run/k1\n37\n") == ("/etc/k1.conf", "/run/k1", 37)
    assert parse_keepalived_info("keepalived\n") == ("/etc/keepalived/keepalived.conf", "/tmp", None)


@pytest.mark.parametrize("signal_line", ["²", "٣", "999", ""])
def test_keepalived_without_a_usable_json_signal_number_has_none(signal_line):
    from netha.drivers.keepalived import parse_keepalived_info

    assert parse_keepalived_info(f"keepalived\n{signal_line}\n")[2] is None


def test_process_table_with_unicode_digits_or_huge_pids_is_no_process():
    assert parse_process_table("²³ 1\n") is None
    assert parse_process_table("9" * 5000 + " 1\n") is None


def _driver_answering(outputs: dict[str, str]):
    """A keepalived driver whose shell answers each command of a ``;``-joined line from OUTPUTS (a
    command's output is the value of the first key it starts with), as a shell prints them in turn."""
    from netha.drivers.keepalived import Keepalived, KeepalivedDriver

    drv = KeepalivedDriver.__new__(KeepalivedDriver)
    drv.name = "k1"
    drv._ka = Keepalived(pid=4242, conf="/etc/keepalived/keepalived.conf", tmpdir="/tmp", json_signal=36)
    sent: list[str] = []

    def run(command: str, timeout: float | None = None) -> str:
        sent.append(command)
        out = []
        for part in command.split("; echo "):
            if part.startswith("#"):
                return ""  # unquoted, the shell takes the rest of the line for a comment
            if part.startswith("'#netha-"):
                sep, _, part = part.partition("; ")
                out.append(sep.strip("'") + "\n")
            key = next((k for k in outputs if k in part), None)
            out.append(outputs[key] if key else "")
        return "".join(out)

    drv.run = run  # type: ignore[method-assign]
    return drv, sent


def test_a_keepalived_poll_is_one_round_trip_and_reads_as_the_separate_commands_do():
    dump = (FIXTURES / "keepalived/json_dump/k1-master-dual-stack.txt").read_text()
    conf = (FIXTURES / "keepalived/conf/k1.conf").read_text()
    addr = (FIXTURES / "keepalived/ip_addr/k1-master-ipv6-vips.txt").read_text()
    present = (FIXTURES / "keepalived/ip_route/present.txt").read_text()
    absent = (FIXTURES / "keepalived/ip_route/absent.txt").read_text()
    drv, sent = _driver_answering({"keepalived.json": dump, "cat /etc/keepalived": conf, "ip -j addr show": addr,
                                   "198.18.5.0/24": present, "2001:2:0:5::/64": absent})
    reading = drv.read(routes=("198.18.5.0/24", "2001:2:0:5::/64"))
    assert len(sent) == 1, "one command line per poll"
    assert reading.routes == {"198.18.5.0/24": True, "2001:2:0:5::/64": False}
    assert reading.interfaces == parse_links(addr, "k1")
    assert reading.addresses == {k: tuple(v["addresses"]) for k, v in parse_addresses(addr, "k1").items()}
    assert [v.vrid for v in reading.vrrp] == [v.vrid for v in parse_state(dump, conf, "k1")]


def test_a_keepalived_poll_with_a_refused_or_garbled_command_fails_naming_the_device():
    from netha.errors import CommandRejected

    dump = (FIXTURES / "keepalived/json_dump/k1-master-dual-stack.txt").read_text()
    addr = (FIXTURES / "keepalived/ip_addr/k1-master-ipv6-vips.txt").read_text()
    refused, _ = _driver_answering({"keepalived.json": dump, "cat /etc/keepalived": "", "ip -j addr show": addr,
                                    "198.18.5.0/24": "netha-error: no such table\n"})
    with pytest.raises(CommandRejected, match="route show table main exact"):
        refused.read(routes=("198.18.5.0/24",))
    garbled, _ = _driver_answering({"keepalived.json": dump, "cat /etc/keepalived": "", "ip -j addr show": addr,
                                    "198.18.5.0/24": 'Error: any valid prefix is expected rather than "x".\n'})
    with pytest.raises(ParseError, match="k1: ip -j route"):
        garbled.read(routes=("198.18.5.0/24",))
