"""Property-based fuzzing of every device-output parser and of the VRRP advertisement decoder.

Inputs are seeded from the captured fixtures (``fixtures/<platform>/<command>/*.txt``, the advert
hex captures) and mutated: truncation, character and line edits, ``²``-style unicode digits,
huge and out-of-range integers, JSON type swaps (null/list/string/number where an object is
expected) and deep JSON nesting; plus plain random text and bytes. The properties:

* only :class:`~netha.errors.ParseError` escapes a parser (``apply_change`` may also refuse with
  :class:`~netha.drivers.keepalived_conf.ConfEditError`, a documented :class:`NethaError`);
* a parse that succeeds returns the declared shapes, with values in their ranges.

The parsers are fuzzed *unwrapped* (``inspect.unwrap``): the safety net in
:func:`netha.drivers.base.parser` must not be what makes them pass.

Runtime: deterministic (``derandomize``) and small by default, which is what CI runs.
``NETHA_FUZZ_EXAMPLES=5000`` runs that many random (not derandomized) examples per parser.
"""

from __future__ import annotations

import inspect
import ipaddress
import json
import math
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netutils.lib_mapper import NTCTEMPLATES_LIB_MAPPER_REVERSE

from netha.drivers import arista_eos, base, cisco_ios, cisco_nxos, frr, juniper_junos, keepalived, keepalived_conf
from netha.drivers import napalm_push, textconfig
from netha.drivers.changes import ChangeValues, Operation
from netha.errors import NethaError, ParseError
from netha.observe.adverts import ParsedAdvert, craft_advert, parse_advert
from netha.observe.types import VrrpView

ROOT = Path(__file__).resolve().parents[2]
FIX = Path(__file__).parent / "fixtures"

_EXAMPLES = os.environ.get("NETHA_FUZZ_EXAMPLES")
FUZZ = settings(
    max_examples=int(_EXAMPLES) if _EXAMPLES else 30,
    derandomize=not _EXAMPLES or bool(os.environ.get("CI")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# str.isdigit() is True for all of these; int() refuses the superscripts and accepts the others.
UNICODE_DIGITS = "²³¹٣۵०১௧๑０９"


def _seeds(platform: str, command: str) -> list[str]:
    found = [p.read_text() for p in sorted((FIX / platform / command).glob("*.txt"))]
    assert found, f"no fixtures in {platform}/{command}"
    return found


# -- the shapes a parser declares ------------------------------------------------------------------

def _int_in(value: object, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _opt_int(value: object, lo: int, hi: int) -> bool:
    return value is None or _int_in(value, lo, hi)


def views_shape(vrids: tuple[int, int]) -> Callable[[Any], None]:
    def check(out: Any) -> None:
        assert isinstance(out, list), type(out)
        for v in out:
            assert isinstance(v, VrrpView), type(v)
            assert _int_in(v.vrid, *vrids), v.vrid
            assert isinstance(v.interface, str) and v.interface, v.interface
            assert v.state in ("master", "backup", "init", "unknown"), v.state
            assert _opt_int(v.priority, 0, 255) and _opt_int(v.effective_priority, 0, 255), v
            assert isinstance(v.virtual_addresses, tuple) and all(isinstance(a, str) for a in v.virtual_addresses), v
            for counter in (v.adverts_rx, v.adverts_tx, v.transitions):
                assert _opt_int(counter, 0, 2**64 - 1), counter
            assert v.advert_interval is None or (
                isinstance(v.advert_interval, float) and math.isfinite(v.advert_interval) and 0 < v.advert_interval <= 255
            ), v.advert_interval
            assert v.preempt is None or isinstance(v.preempt, bool), v.preempt
            assert v.master_address is None or isinstance(v.master_address, str), v.master_address
            assert isinstance(v.shutdown, bool)
    return check


def _str_keys(out: Any) -> None:
    assert isinstance(out, dict) and all(isinstance(k, str) for k in out), out


def up_shape(out: Any) -> None:
    _str_keys(out)
    assert all(isinstance(v, bool) for v in out.values()), out


def _cidrs(addrs: Any) -> bool:
    return isinstance(addrs, list) and all(isinstance(a, str) for a in addrs)


def details_shape(out: Any) -> None:
    _str_keys(out)
    for info in out.values():
        assert isinstance(info, dict) and set(info) >= {"mac", "addresses"}, info
        assert info["mac"] is None or isinstance(info["mac"], str), info
        assert _cidrs(info["addresses"]), info


def ios_ip_interfaces_shape(out: Any) -> None:
    _str_keys(out)
    for info in out.values():
        assert isinstance(info, dict) and isinstance(info["up"], bool) and _cidrs(info["addresses"]), info


def addresses_shape(out: Any) -> None:
    _str_keys(out)
    assert all(_cidrs(v) for v in out.values()), out


def macs_shape(out: Any) -> None:
    _str_keys(out)
    assert all(v is None or isinstance(v, str) for v in out.values()), out


def bool_shape(out: Any) -> None:
    assert isinstance(out, bool), out


def str_shape(out: Any) -> None:
    assert isinstance(out, str), out


def opt_str_shape(out: Any) -> None:
    assert out is None or isinstance(out, str), out


def pid_shape(out: Any) -> None:
    assert _opt_int(out, 1, 2**22), out


def blocks_shape(out: Any) -> None:
    _str_keys(out)
    assert all(isinstance(v, list) and all(isinstance(c, str) for c in v) for v in out.values()), out


def str_list_shape(out: Any) -> None:
    assert isinstance(out, list) and all(isinstance(x, str) for x in out), out


def shut_shape(out: Any) -> None:
    assert isinstance(out, set) and all(isinstance(i, str) and _int_in(v, 0, 4095) for i, v in out), out


def instances_shape(out: Any) -> None:
    assert isinstance(out, list)
    for inst in out:
        assert isinstance(inst, keepalived_conf.Instance)
        assert _opt_int(inst.vrid, 1, 255) and _opt_int(inst.priority, 0, 255), inst
        assert 0 <= inst.start <= inst.end, inst


def info_shape(out: Any) -> None:
    conf, tmpdir, signum = out
    assert isinstance(conf, str) and isinstance(tmpdir, str) and tmpdir, out
    assert _opt_int(signum, 1, 64), out


def any_shape(out: Any) -> None:
    json.dumps(out)  # load_json returns plain JSON values


def split_shape(out: Any) -> None:
    ifd, unit = out
    assert isinstance(ifd, str) and isinstance(unit, str) and unit.isascii() and unit.isdigit(), out


# -- the parsers -------------------------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class Target:
    name: str
    call: Callable[[str], Any]
    seeds: list[str]
    shape: Callable[[Any], None]
    allowed: tuple[type[BaseException], ...] = (ParseError,)
    json: bool = True

    def __str__(self) -> str:
        return self.name

    __repr__ = __str__


def raw(fn: Callable) -> Callable:
    """The parser without the safety net of :func:`netha.drivers.base.parser`."""
    return inspect.unwrap(fn)


IOS = "cisco_ios"
XE = NTCTEMPLATES_LIB_MAPPER_REVERSE["cisco_xe"]
KA_CONF = [(FIX / "keepalived/json_dump/k1-resigned-klan-shut-down.conf").read_text(),
           (ROOT / "lab/configs/k1/keepalived.conf").read_text(),
           (ROOT / "lab/configs/k2/keepalived-track.conf").read_text()]
_KA_VIP = ipaddress.IPv4Interface("198.18.4.1/24")
KA_CHANGES: list[tuple[Operation, ChangeValues]] = [
    ("set_priority", ChangeValues("eth1", 11, priority=254)), ("restore", ChangeValues("eth1", 11, priority=200)),
    ("add_address", ChangeValues("eth1", 11, address=_KA_VIP)), ("preempt", ChangeValues("eth1", 11, enabled=False)),
    ("resign", ChangeValues("eth1", 11)), ("remove_address", ChangeValues("eth1", 11, address=_KA_VIP)),
    ("preempt", ChangeValues("eth1", 11, enabled=True)),
]


def _ka_apply(text: str) -> str:
    for op, values in KA_CHANGES:
        text = keepalived_conf.apply_change(text, op, values)
    return text
KA_INFO = ["/usr/sbin/keepalived -n -l -D -f /etc/keepalived/k1.conf\nTMPDIR=/run/k1\n37\n",
           "keepalived --use-file=/tmp/x.conf\n38\n", "keepalived\n"]
V = VrrpView


TARGETS = [
    Target("base.load_json", lambda t: raw(base.load_json)(t, "r1", "show x"), _seeds("frr", "show_vrrp_json"), any_shape),
    Target("frr.parse_vrrp", lambda t: raw(frr.parse_vrrp)(t, "r1"), _seeds("frr", "show_vrrp_json"), views_shape((1, 255))),
    Target("frr.parse_interfaces", lambda t: raw(frr.parse_interfaces)(t, "r1"), _seeds("frr", "show_interface_json"), up_shape),
    Target("frr.parse_interface_details", lambda t: raw(frr.parse_interface_details)(t, "r1"),
           _seeds("frr", "show_interface_json"), details_shape),
    Target("frr.parse_route", lambda t: raw(frr.parse_route)(t, "198.18.50.0/24", "r1"),
           _seeds("frr", "show_ip_route_json"), bool_shape),
    Target("textconfig.config_body", textconfig.config_body, _seeds("frr", "running_config"), str_shape, json=False),
    Target("textconfig.parse_blocks", textconfig.parse_blocks, _seeds("frr", "running_config"), blocks_shape, json=False),
    Target("textconfig.replace_commands", lambda t: textconfig.replace_commands(_seeds("frr", "running_config")[0], t),
           _seeds("frr", "running_config"), str_list_shape, json=False),
    Target("keepalived.parse_state", lambda t: raw(keepalived.parse_state)(t, KA_CONF[0], "k1"),
           _seeds("keepalived", "json_dump"), views_shape((1, 255))),
    Target("keepalived.parse_state(conf)",
           lambda t: raw(keepalived.parse_state)(_seeds("keepalived", "json_dump")[1], t, "k1"),
           KA_CONF, views_shape((1, 255)), json=False),
    Target("keepalived.parse_links", lambda t: raw(keepalived.parse_links)(t, "k1"), _seeds("keepalived", "ip_addr"), up_shape),
    Target("keepalived.parse_addresses", lambda t: raw(keepalived.parse_addresses)(t, "k1"),
           _seeds("keepalived", "ip_addr"), details_shape),
    Target("keepalived.parse_route", lambda t: raw(keepalived.parse_route)(t, "k1"), _seeds("keepalived", "ip_route"), bool_shape),
    Target("keepalived.parse_process_table", lambda t: raw(keepalived.parse_process_table)(t),
           ["1200 1\n1201 1200\n1202 1200\n", "77 1\n"], pid_shape, json=False),
    Target("keepalived.parse_cmdline", lambda t: raw(keepalived.parse_cmdline)(t),
           ["/usr/sbin/keepalived\0-f\0/etc/k.conf\0", "keepalived --use-file=/a.conf -D", "keepalived -f/x.conf"],
           str_shape, json=False),
    Target("keepalived.parse_keepalived_info", lambda t: raw(keepalived.parse_keepalived_info)(t), KA_INFO, info_shape, json=False),
    Target("keepalived_conf.instances", keepalived_conf.instances, KA_CONF, instances_shape, json=False),
    Target("keepalived_conf.apply_change", _ka_apply, KA_CONF, str_shape,
           allowed=(keepalived_conf.ConfEditError,), json=False),
    Target("cisco_ios.parse_vrrp", lambda t: raw(cisco_ios.parse_vrrp)(t, "r1", IOS), _seeds("cisco_ios", "show_vrrp_all"),
           views_shape((1, 255)), json=False),
    Target("cisco_xe.parse_vrrp", lambda t: raw(cisco_ios.parse_vrrp)(t, "r1", XE), _seeds("cisco_xe", "show_vrrp_all"),
           views_shape((1, 255)), json=False),
    Target("cisco_ios.parse_hsrp", lambda t: raw(cisco_ios.parse_hsrp)(t, "r1", IOS), _seeds("cisco_ios", "show_standby"),
           views_shape((0, 4095)), json=False),
    Target("cisco_ios.parse_interfaces_brief", lambda t: raw(cisco_ios.parse_interfaces_brief)(t, "r1", IOS),
           _seeds("cisco_ios", "show_ip_interface_brief"), up_shape, json=False),
    Target("cisco_ios.parse_ip_interfaces", lambda t: raw(cisco_ios.parse_ip_interfaces)(t, "r1", IOS),
           _seeds("cisco_ios", "show_ip_interface"), ios_ip_interfaces_shape, json=False),
    Target("cisco_ios.parse_macs", lambda t: raw(cisco_ios.parse_macs)(t, "r1", IOS), _seeds("cisco_ios", "show_interfaces"),
           macs_shape, json=False),
    Target("cisco_ios.parse_route", lambda t: raw(cisco_ios.parse_route)(t, "198.18.2.0/24", "r1"),
           _seeds("cisco_ios", "show_ip_route"), bool_shape, json=False),
    Target("napalm_push.shutdown_vrrp_groups", napalm_push.shutdown_vrrp_groups,
           _seeds("cisco_ios", "running_config_interfaces") + _seeds("cisco_nxos", "running_config_interface"),
           shut_shape, json=False),
    Target("textconfig.config_body (IOS volatile lines)",
           lambda t: textconfig.config_body(t, cisco_ios.SPEC.volatile_config),
           _seeds("cisco_ios", "running_config_interfaces"), str_shape, json=False),
    Target("cisco_nxos.parse_vrrp", lambda t: raw(cisco_nxos.parse_vrrp)(t, "r1"), _seeds("cisco_nxos", "show_vrrp_detail_json"),
           views_shape((1, 255))),
    Target("cisco_nxos.parse_vrrpv3", lambda t: raw(cisco_nxos.parse_vrrpv3)(t, "r1"), _seeds("cisco_nxos", "show_vrrpv3_json"),
           views_shape((1, 255))),
    Target("cisco_nxos.parse_hsrp", lambda t: raw(cisco_nxos.parse_hsrp)(t, "r1"), _seeds("cisco_nxos", "show_hsrp_detail_json"),
           views_shape((0, 4095))),
    Target("cisco_nxos.parse_interfaces", lambda t: raw(cisco_nxos.parse_interfaces)(t, "r1"),
           _seeds("cisco_nxos", "show_interface_json"), up_shape),
    Target("cisco_nxos.parse_macs", lambda t: raw(cisco_nxos.parse_macs)(t, "r1"), _seeds("cisco_nxos", "show_interface_json"),
           macs_shape),
    Target("cisco_nxos.parse_ip_addresses", lambda t: raw(cisco_nxos.parse_ip_addresses)(t, "r1"),
           _seeds("cisco_nxos", "show_ip_interface_json"), addresses_shape),
    Target("cisco_nxos.parse_route", lambda t: raw(cisco_nxos.parse_route)(t, "0.0.0.0/0", "r1"),
           _seeds("cisco_nxos", "show_ip_route_json"), bool_shape),
    Target("arista_eos.parse_vrrp", lambda t: raw(arista_eos.parse_vrrp)(t, "r1"), _seeds("arista_eos", "show_vrrp_all_json"),
           views_shape((1, 255))),
    Target("arista_eos.parse_varp", lambda t: raw(arista_eos.parse_varp)(t, "r1"),
           _seeds("arista_eos", "show_ip_virtual_router_json"), views_shape((0, 0))),
    Target("arista_eos.parse_interfaces", lambda t: raw(arista_eos.parse_interfaces)(t, "r1"),
           _seeds("arista_eos", "show_interfaces_json"), up_shape),
    Target("arista_eos.parse_interface_details", lambda t: raw(arista_eos.parse_interface_details)(t, "r1"),
           _seeds("arista_eos", "show_interfaces_json"), details_shape),
    Target("arista_eos.parse_route", lambda t: raw(arista_eos.parse_route)(t, "0.0.0.0/0", "r1"),
           _seeds("arista_eos", "show_ip_route_json"), bool_shape),
    Target("juniper_junos.parse_vrrp", lambda t: raw(juniper_junos.parse_vrrp)(t, "r1"),
           _seeds("juniper_junos", "show_vrrp_detail_json"), views_shape((1, 255))),
    Target("juniper_junos.parse_interfaces", lambda t: raw(juniper_junos.parse_interfaces)(t, "r1"),
           _seeds("juniper_junos", "show_interfaces_terse_json"), up_shape),
    Target("juniper_junos.parse_addresses", lambda t: raw(juniper_junos.parse_addresses)(t, "r1"),
           _seeds("juniper_junos", "show_interfaces_terse_json"), addresses_shape),
    Target("juniper_junos.parse_macs", lambda t: raw(juniper_junos.parse_macs)(t, "r1"),
           _seeds("juniper_junos", "show_interfaces_json"), macs_shape),
    Target("juniper_junos.parse_route", lambda t: raw(juniper_junos.parse_route)(t, "0.0.0.0/0", "r1"),
           _seeds("juniper_junos", "show_route_json"), bool_shape),
    Target("juniper_junos.resolve_local_address",
           lambda t: raw(juniper_junos.resolve_local_address)(t, "ge-0/0/1", "0", 50),
           _seeds("juniper_junos", "show_configuration_inet_set"), opt_str_shape, json=False),
    Target("juniper_junos.split_interface", juniper_junos.split_interface, ["ge-0/0/1.0", "ae0.100", "lo0"], split_shape,
           json=False),
]


# -- mutations ------------------------------------------------------------------------------------------

_ODD_CHARS = st.sampled_from(list(UNICODE_DIGITS + '{}[]",:.-/\\ \t\n\r\0\x1b%#!^') + ["\u200b", "\ufeff", "é"])
_HUGE = ["9" * 5000, "1" + "0" * 4400, "99999", "300", "256", "4096", "-1", "0", "18446744073709551616", "1e309", "NaN"]


def _digit_runs(text: str) -> list[re.Match]:
    return list(re.finditer(r"[0-9]+", text))


@st.composite
def _text_edit(draw, text: str) -> str:
    n = len(text)
    op = draw(st.sampled_from(["truncate", "delete", "replace", "insert", "del_line", "dup_line", "swap_lines",
                               "unicode_digits", "huge_int", "deep"]))
    i = draw(st.integers(0, n)) if n else 0
    if op == "truncate":
        return text[:i]
    if op == "delete":
        return text[:i] + text[i + draw(st.integers(1, 20)):]
    if op == "replace":
        return text[:i] + draw(st.one_of(_ODD_CHARS, st.characters())) + text[i + 1:]
    if op == "insert":
        return text[:i] + draw(st.one_of(st.text(max_size=12), _ODD_CHARS)) + text[i:]
    lines = text.splitlines(keepends=True)
    if op in ("del_line", "dup_line", "swap_lines") and lines:
        k = draw(st.integers(0, len(lines) - 1))
        if op == "del_line":
            del lines[k]
        elif op == "dup_line":
            lines.insert(k, lines[k])
        else:
            j = draw(st.integers(0, len(lines) - 1))
            lines[k], lines[j] = lines[j], lines[k]
        return "".join(lines)
    runs = _digit_runs(text)
    if op in ("unicode_digits", "huge_int") and runs:
        m = runs[draw(st.integers(0, len(runs) - 1))]
        if op == "unicode_digits":
            new = "".join(draw(st.sampled_from(UNICODE_DIGITS)) for _ in m.group())
        else:
            new = draw(st.sampled_from(_HUGE))
        return text[:m.start()] + new + text[m.end():]
    if op == "deep":
        k = draw(st.sampled_from([50, 2000, 100_000]))
        return draw(st.sampled_from(["[" * k + "]" * k, '{"a":' * k + "1" + "}" * k, "[" * k, text[:i] + "[" * k + text[i:]]))
    return text


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*path, k))
    elif isinstance(value, list):
        for k, v in enumerate(value):
            out += _paths(v, (*path, k))
    return out


def _set(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    value[path[0]] = _set(value[path[0]], path[1:], new)
    return value


_HUGE_MARK = "__netha_huge_int__"


@st.composite
def _json_edit(draw, text: str) -> str:
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return text
    head = text[:min(starts)]
    try:
        value, end = json.JSONDecoder().raw_decode(text[min(starts):])
    except (ValueError, RecursionError):  # not JSON (any more): a text edit's job
        return text
    tail = text[min(starts) + end:]
    paths = _paths(value)
    path = paths[draw(st.integers(0, len(paths) - 1))]
    old: Any = value
    for k in path:
        old = old[k]
    new = draw(st.sampled_from([
        None, [], {}, "", "x", "²", "٣", 0, -1, 1.5, 1e308, True, False, 256, 300, 99999, 2**64, [old], {"x": old},
        _HUGE_MARK, float("nan"), float("inf"),
    ]))
    out = json.dumps(_set(value, path, new))
    return head + out.replace(json.dumps(_HUGE_MARK), "9" * 5000) + tail


@st.composite
def device_output(draw, target: Target) -> str:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=200))
    text = draw(st.sampled_from(target.seeds))
    for _ in range(draw(st.integers(1, 3))):
        if target.json and draw(st.booleans()):
            text = draw(_json_edit(text))
        else:
            text = draw(_text_edit(text))
    return text


def run_target(target: Target, text: str) -> None:
    """The property: an allowed refusal, or a result of the declared shape."""
    try:
        out = target.call(text)
    except target.allowed:
        return
    target.shape(out)


@pytest.mark.parametrize("target", TARGETS, ids=str)
@FUZZ
@given(data=st.data())
def test_parser_raises_only_parse_error_and_returns_declared_shapes(target, data):
    run_target(target, data.draw(device_output(target), label="output"))


@pytest.mark.parametrize("target", [t for t in TARGETS if t.json], ids=str)
@pytest.mark.parametrize("doc", ["null", "[]", "{}", '"x"', "1", "9" * 5000, "[" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000,
                                 "[null]", "[[]]", '[{"data": null}]', "NaN", "-Infinity"])
def test_parser_refuses_json_of_the_wrong_type_with_a_parse_error(target, doc):
    run_target(target, doc)


def test_fixture_seeds_parse_as_captured():
    """The seeds are captured output: only the error cases among them (daemon down, not JSON, a
    truncated dump, an instance the change does not name) are refused; the others parse."""
    refused = []
    for target in TARGETS:
        for seed in target.seeds:
            try:
                target.shape(target.call(seed))
            except target.allowed:
                refused.append(target.name)
    assert sorted(refused) == sorted([
        "base.load_json", "frr.parse_vrrp", "keepalived.parse_state", "keepalived.parse_state",
        "keepalived_conf.apply_change", "cisco_ios.parse_vrrp", "cisco_nxos.parse_vrrp", "arista_eos.parse_vrrp",
        "juniper_junos.parse_vrrp",
    ])


# -- the advertisement decoder ----------------------------------------------------------------------------

ADVERT_SEEDS = [bytes.fromhex(p.read_text().strip()) for p in sorted((FIX / "adverts").glob("*.hex"))] + [
    craft_advert("198.18.1.2", 1, 200, 0.1, 3, "rfc5798", ["198.18.1.1"]),
    craft_advert("198.18.1.3", 255, 0, 1, 2, "v2", ["198.18.1.1", "198.18.1.9"]),
    craft_advert("198.18.1.4", 7, 100, 40.95, 3, "rfc9568", []),
]


@st.composite
def packets(draw) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=80))
    pkt = bytearray(draw(st.sampled_from(ADVERT_SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "byte", "truncate", "extend", "count", "ihl", "total", "vrid", "interval"]))
        i = draw(st.integers(0, len(pkt) - 1)) if pkt else 0
        if op == "flip" and pkt:
            pkt[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and pkt:
            pkt[i] = draw(st.integers(0, 255))
        elif op == "truncate":
            del pkt[i:]
        elif op == "extend":
            pkt += draw(st.binary(max_size=40))
        elif op == "count" and len(pkt) > 23:
            pkt[23] = draw(st.integers(0, 255))  # VRRP address count
        elif op == "ihl" and pkt:
            pkt[0] = (pkt[0] & 0xF0) | draw(st.integers(0, 15))
        elif op == "vrid" and len(pkt) > 21:
            pkt[21] = draw(st.sampled_from([0, 1, 255]))  # VRRP VRID (behind a 20-byte IPv4 header)
        elif op == "interval" and len(pkt) > 25:
            pkt[24:26] = draw(st.sampled_from([b"\0\0", b"\xf0\0", b"\xff\xff"]))  # VRRPv3 interval / v2 auth+interval
        elif op == "total" and len(pkt) >= 4:
            pkt[2:4] = struct.pack("!H", draw(st.integers(0, 0xFFFF)))
    return bytes(pkt)


def advert_shape(adv: Any) -> None:
    if adv is None:
        return
    assert isinstance(adv, ParsedAdvert)
    assert adv.version in (2, 3) and _int_in(adv.vrid, 1, 255) and _int_in(adv.priority, 0, 255), adv
    assert _int_in(adv.ttl, 0, 255) and math.isfinite(adv.interval) and 0 < adv.interval <= 255, adv
    assert adv.checksum_style in ("rfc5798", "rfc9568", "v2", "bad"), adv
    assert adv.family in (4, 6) and (adv.family == 4 or (adv.version, adv.checksum_style) in ((3, "rfc5798"), (3, "bad"))), adv
    for a in (adv.source, adv.dest, *adv.addresses):
        (ipaddress.IPv4Address if adv.family == 4 else ipaddress.IPv6Address)(a)


@settings(FUZZ, max_examples=FUZZ.max_examples * 5)  # the decoder is fast: more packets for the same time
@given(pkt=packets())
def test_advert_decoder_returns_none_or_a_well_formed_advert(pkt):
    advert_shape(raw(parse_advert)(pkt))
