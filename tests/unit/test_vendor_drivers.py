"""Vendor drivers without devices: parsers on captured output, and the drivers' commands and pushes.

Every fixture file ``fixtures/<platform>/<command>/<case>.txt`` is a test case with its expected
result beside it (``<case>.expected.json``; ``{"error": "..."}`` when the parser must refuse it).
The outputs are written from the vendors' documented formats, not captured on a lab device.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from netutils.lib_mapper import NAPALM_LIB_MAPPER_REVERSE, NETMIKO_LIB_MAPPER_REVERSE, NTCTEMPLATES_LIB_MAPPER_REVERSE

from netha.drivers import arista_eos, cisco_ios, cisco_nxos, cisco_xe, driver_class, juniper_junos
from netha.drivers.base import collecting_notes
from netha.drivers.models import VrrpView
from netha.drivers.napalm_push import napalm_driver_name, shutdown_vrrp_groups
from netha.drivers.textconfig import config_body
from netha.errors import CommandRejected, ConnectionFailed, NethaError, ParseError
from netha.transport.ssh import SshParams

FIX = Path(__file__).parent / "fixtures"
VENDORS = ("cisco_ios", "cisco_xe", "arista_eos", "juniper_junos", "cisco_nxos")


def _views(fn: Callable) -> Callable:
    return lambda text: [dataclasses.asdict(v) for v in fn(text, "r1")]


def _route(fn: Callable) -> Callable:
    def run(text: str, expected: dict) -> dict:
        return {"prefix": expected["prefix"], "present": fn(text, expected["prefix"], "r1")}
    return run


def _resolve(text: str, expected: dict) -> dict:
    found = juniper_junos.resolve_local_address(text, expected["ifd"], expected["unit"], expected["vrid"])
    return {**expected, "address": found}


XE_NTC = NTCTEMPLATES_LIB_MAPPER_REVERSE["cisco_xe"]

# (platform, command folder) -> parser of the text (or of the text and the expected value, for
# results that depend on the question asked: routes, address resolution).
PARSERS: dict[tuple[str, str], Callable] = {
    ("cisco_ios", "show_vrrp_all"): _views(cisco_ios.parse_vrrp),
    ("cisco_xe", "show_vrrp_all"): _views(lambda t, d: cisco_ios.parse_vrrp(t, d, XE_NTC)),
    ("cisco_ios", "show_standby"): _views(cisco_ios.parse_hsrp),
    ("cisco_ios", "show_ip_interface_brief"): lambda t: cisco_ios.parse_interfaces_brief(t, "r1"),
    ("cisco_ios", "show_ip_interface"): lambda t: cisco_ios.parse_ip_interfaces(t, "r1"),
    ("cisco_ios", "show_interfaces"): lambda t: cisco_ios.parse_macs(t, "r1"),
    ("cisco_ios", "show_ip_route"): _route(cisco_ios.parse_route),
    ("cisco_ios", "running_config_interfaces"): lambda t: sorted(map(list, shutdown_vrrp_groups(t))),
    ("arista_eos", "show_vrrp_all_json"): _views(arista_eos.parse_vrrp),
    ("arista_eos", "show_ip_virtual_router_json"): _views(arista_eos.parse_varp),
    ("arista_eos", "show_interfaces_json"): lambda t: {
        "up": arista_eos.parse_interfaces(t, "r1"), "details": arista_eos.parse_interface_details(t, "r1")},
    ("arista_eos", "show_ip_route_json"): _route(arista_eos.parse_route),
    ("juniper_junos", "show_vrrp_detail_json"): _views(juniper_junos.parse_vrrp),
    ("juniper_junos", "show_interfaces_terse_json"): lambda t: {
        "up": juniper_junos.parse_interfaces(t, "r1"), "addresses": juniper_junos.parse_addresses(t, "r1")},
    ("juniper_junos", "show_interfaces_json"): lambda t: juniper_junos.parse_macs(t, "r1"),
    ("juniper_junos", "show_route_json"): _route(juniper_junos.parse_route),
    ("juniper_junos", "show_configuration_inet_set"): _resolve,
    ("cisco_nxos", "show_vrrp_detail_json"): _views(cisco_nxos.parse_vrrp),
    ("cisco_nxos", "show_vrrpv3_json"): _views(cisco_nxos.parse_vrrpv3),
    ("cisco_nxos", "show_hsrp_detail_json"): _views(cisco_nxos.parse_hsrp),
    ("cisco_nxos", "show_interface_json"): lambda t: {
        "up": cisco_nxos.parse_interfaces(t, "r1"), "macs": cisco_nxos.parse_macs(t, "r1")},
    ("cisco_nxos", "show_ip_interface_json"): lambda t: cisco_nxos.parse_ip_addresses(t, "r1"),
    ("cisco_nxos", "show_ip_route_json"): _route(cisco_nxos.parse_route),
    ("cisco_nxos", "running_config_interface"): lambda t: sorted(map(list, shutdown_vrrp_groups(t))),
}
_NEEDS_EXPECTED = {k for k, fn in PARSERS.items() if k[1] in (
    "show_ip_route", "show_ip_route_json", "show_route_json", "show_configuration_inet_set")}


def parse_case(key: tuple[str, str], path: Path, expected=None):
    fn = PARSERS[key]
    out = fn(path.read_text(), expected) if key in _NEEDS_EXPECTED else fn(path.read_text())
    return json.loads(json.dumps(out))


def _cases():
    for key in PARSERS:
        for path in sorted((FIX / key[0] / key[1]).glob("*.txt")):
            yield pytest.param(key, path, id=f"{key[0]}/{key[1]}/{path.stem}")


@pytest.mark.parametrize("key,path", list(_cases()))
def test_parser_on_captured_output(key, path):
    expected = json.loads(path.with_suffix(".expected.json").read_text())
    if isinstance(expected, dict) and set(expected) == {"error"}:
        with pytest.raises(ParseError, match=f"^r1: .*{expected['error']}"):
            parse_case(key, path, expected)
        return
    assert parse_case(key, path, expected) == expected


@pytest.mark.parametrize("key", list(PARSERS), ids=lambda k: f"{k[0]}/{k[1]}")
def test_every_parser_has_several_cases_and_every_case_an_expectation(key):
    cases = sorted((FIX / key[0] / key[1]).glob("*.txt"))
    assert len(cases) >= 2, f"{key}: a parser needs several captured outputs"
    for case in cases:
        assert case.with_suffix(".expected.json").is_file(), f"{case} has no expected result"


def test_vrrp_parsers_cover_master_backup_several_and_empty():
    for key in PARSERS:
        if not key[1].startswith(("show_vrrp", "show_standby", "show_hsrp")):
            continue
        states = set()
        sizes = set()
        for path in (FIX / key[0] / key[1]).glob("*.txt"):
            expected = json.loads(path.with_suffix(".expected.json").read_text())
            if isinstance(expected, list):
                states |= {v["state"] for v in expected}
                sizes.add(len(expected))
        assert {"master", "backup", "init"} <= states, key
        assert 0 in sizes and max(sizes) >= 2, key


# -- the registry: platforms, their specs and what they support ---------------------------------

def test_registry_names_every_platform_and_answers_its_spec():
    from netha.drivers import platforms, spec

    assert platforms() == sorted([*VENDORS, "frr", "keepalived"])
    assert all(spec(p).name == p for p in platforms())
    with pytest.raises(NethaError, match="no driver for platform 'hp_procurve'"):
        spec("hp_procurve")


def test_supported_protocols_are_each_platform_spec():
    from netha.drivers import PROTOCOLS, supported_protocols

    v4 = {name: {p for p in caps if p in PROTOCOLS} for name, caps in supported_protocols().items()}
    v6 = {name: {p[5:] for p in caps if p.startswith("ipv6-")} for name, caps in supported_protocols().items()}
    assert v4 == {
        "arista_eos": {"vrrp", "varp", "static"},
        "cisco_ios": {"vrrp", "hsrp", "static"},
        "cisco_nxos": {"vrrp", "hsrp", "static"},
        "cisco_xe": {"vrrp", "hsrp", "static"},
        "frr": {"vrrp", "static"},
        "juniper_junos": {"vrrp", "static"},
        "keepalived": {"vrrp"},
    }
    # IPv6: classic IOS has no VRRPv3 (cisco_xe does), VARP is IPv4 here.
    assert v6 == {
        "arista_eos": {"vrrp", "static"},
        "cisco_ios": {"hsrp", "static"},
        "cisco_nxos": {"vrrp", "hsrp", "static"},
        "cisco_xe": {"vrrp", "hsrp", "static"},
        "frr": {"vrrp", "static"},
        "juniper_junos": {"vrrp", "static"},
        "keepalived": {"vrrp"},
    }
    # FRR and EOS configure one `vrrp N` for both families: IPv4 and IPv6 groups need VRIDs apart.
    apart = {name for name, caps in supported_protocols().items() if "vrid-per-family" in caps}
    assert apart == set(v4) - {"frr", "arista_eos"}
    assert all(caps <= set(PROTOCOLS) | {"vrid-per-family", "gnmi"} | {f"ipv6-{p}" for p in PROTOCOLS}
               for caps in supported_protocols().values())


@pytest.mark.parametrize("platform", [*VENDORS, "frr"])
def test_what_a_spec_supports_its_templates_render(platform):
    import ipaddress

    from netha.drivers import spec
    from netha.drivers.changes import ChangeValues
    from netha.drivers.render import Renderer

    iface = "ge-0/0/1.0" if platform == "juniper_junos" else "Vlan10"
    vip = ipaddress.IPv4Interface("198.19.10.1/24")
    for proto in spec(platform).protocols:
        values = ChangeValues(interface=iface, vrid=None if proto == "varp" else 10, address=vip,
                              mode="static" if proto == "static" else "vrrp",
                              protocol="vrrp" if proto == "static" else proto)  # type: ignore[arg-type]
        assert Renderer(platform).render("add_address", values), (platform, proto)


# -- platform data comes from netutils, not from a table of our own ------------------------------

@pytest.mark.parametrize("platform", VENDORS)
def test_platform_is_a_driver_with_netutils_names(platform):
    cls = driver_class(platform)
    assert cls.spec.name == platform
    assert cls.spec.netmiko_device_type == NETMIKO_LIB_MAPPER_REVERSE[platform]
    expected_napalm = NAPALM_LIB_MAPPER_REVERSE[platform] + ("_ssh" if platform == "cisco_nxos" else "")
    assert napalm_driver_name(platform, cls.napalm_transport) == expected_napalm


def test_napalm_driver_names():
    assert napalm_driver_name("cisco_xe") == "ios"
    assert napalm_driver_name("arista_eos") == "eos"
    assert napalm_driver_name("juniper_junos") == "junos"
    assert napalm_driver_name("cisco_nxos") == "nxos"
    assert napalm_driver_name("cisco_nxos", "ssh") == "nxos_ssh"
    assert napalm_driver_name("arista_eos", "ssh") == "eos"  # NAPALM's eos driver takes transport=ssh instead


# -- drivers with a scripted CLI: which commands, how the answers combine --------------------------

def _params(cls, **kw) -> SshParams:
    return SshParams(device="d1", host="198.19.255.1", username="netops", password="x",
                     netmiko_device_type=cls.spec.netmiko_device_type, **kw)


class ScriptedCli:
    """Stands in for the SSH channel: answers each command from a dict (missing -> empty output)."""

    def __init__(self, answers: dict[str, str]):
        self.answers = answers
        self.sent: list[str] = []

    def __call__(self, command: str, timeout: float | None = None) -> str:
        self.sent.append(command)
        return self.answers.get(command, "")


def _fixture(platform: str, command: str, case: str) -> str:
    return (FIX / platform / command / f"{case}.txt").read_text()


def _driver(cls, answers: dict[str, str]):
    drv = cls(_params(cls))
    drv.run = ScriptedCli(answers)  # type: ignore[method-assign]
    return drv


def test_ios_read_is_vrrp_hsrp_one_interface_command_and_the_routes():
    drv = _driver(cisco_ios.CiscoIosDriver, {
        cisco_ios.SHOW_VRRP: _fixture("cisco_ios", "show_vrrp_all", "master"),
        cisco_ios.SHOW_STANDBY: _fixture("cisco_ios", "show_standby", "standby"),
        cisco_ios.SHOW_IP_INTERFACE: _fixture("cisco_ios", "show_ip_interface", "static_gateway_held"),
        "show ip route 0.0.0.0 0.0.0.0": _fixture("cisco_ios", "show_ip_route", "default_present"),
    })
    reading = drv.read(["0.0.0.0/0"])
    assert [(v.vrid, v.state) for v in reading.vrrp] == [(10, "master"), (40, "backup")]
    assert reading.interfaces["Vlan10"] is True and reading.interfaces["TenGigabitEthernet1/1/1"] is False
    assert reading.addresses["Vlan10"] == ("198.19.10.2/24", "198.19.10.1/24")
    assert reading.routes == {"0.0.0.0/0": True}
    assert drv.run.sent == [cisco_ios.SHOW_IP_INTERFACE, cisco_ios.SHOW_VRRP, cisco_ios.SHOW_STANDBY,
                            "show ip route 0.0.0.0 0.0.0.0"]


def test_ios_group_in_init_is_checked_against_the_config_for_a_resign():
    drv = _driver(cisco_xe.CiscoXeDriver, {
        cisco_ios.SHOW_VRRP: _fixture("cisco_xe", "show_vrrp_all", "several_groups"),
        cisco_ios.SHOW_INTERFACE_CONFIG: "interface Vlan20\n vrrp 20 address-family ipv4\n  shutdown\n",
    })
    views = {v.vrid: v for v in drv.get_vrrp()}
    assert views[20].state == "init" and views[20].shutdown is True   # resigned by netha: standby
    assert views[30].state == "init" and views[30].shutdown is False  # interface down: a failure
    assert cisco_ios.SHOW_INTERFACE_CONFIG in drv.run.sent


def test_ios_does_not_read_the_config_when_no_group_is_in_init():
    drv = _driver(cisco_ios.CiscoIosDriver, {cisco_ios.SHOW_VRRP: _fixture("cisco_ios", "show_vrrp_all", "backup")})
    drv.get_vrrp()
    assert cisco_ios.SHOW_INTERFACE_CONFIG not in drv.run.sent


def test_ios_interface_details_read_macs_once_per_session():
    drv = _driver(cisco_ios.CiscoIosDriver, {
        cisco_ios.SHOW_IP_INTERFACE: _fixture("cisco_ios", "show_ip_interface", "static_gateway_held"),
        cisco_ios.SHOW_INTERFACES_MAC: _fixture("cisco_ios", "show_interfaces", "macs"),
    })
    first = drv.get_interface_details()
    drv.get_interface_details()
    assert first["Vlan10"] == {"mac": "70:b3:17:1e:3c:41", "addresses": ["198.19.10.2/24", "198.19.10.1/24"]}
    assert drv.run.sent.count(cisco_ios.SHOW_INTERFACES_MAC) == 1


def test_ios_route_command_asks_for_the_exact_prefix():
    assert cisco_ios.route_command("198.19.2.0/24") == "show ip route 198.19.2.0 255.255.255.0"


def test_ios_refusal_is_rejected_but_a_missing_route_is_an_answer():
    drv = _driver(cisco_ios.CiscoIosDriver, {
        "show ip route 0.0.0.0 0.0.0.0": "% Network not in table",
        cisco_ios.SHOW_VRRP: "show vrrp all\n          ^\n% Invalid input detected at '^' marker.",
    })
    assert drv.get_routes(["0.0.0.0/0"]) == {"0.0.0.0/0": False}
    # VRRP refused, HSRP answered: the HSRP groups count, the VRRP output is noted as unreadable.
    with collecting_notes() as notes:
        assert drv.get_vrrp() == []
    assert [what for what, _ in notes.unreadable] == [cisco_ios.SHOW_VRRP]
    # Both refused: nothing of the device's groups can be known, the read fails.
    drv.run.answers[cisco_ios.SHOW_STANDBY] = "% Invalid input detected at '^' marker."
    with pytest.raises(CommandRejected, match="^d1: .*Invalid input"):
        drv.get_vrrp()


def test_eos_read_combines_vrrp_and_varp_and_one_interfaces_command():
    drv = _driver(arista_eos.AristaEosDriver, {
        arista_eos.SHOW_VRRP: _fixture("arista_eos", "show_vrrp_all_json", "several_groups"),
        arista_eos.SHOW_VARP: _fixture("arista_eos", "show_ip_virtual_router_json", "active"),
        arista_eos.SHOW_INTERFACES: _fixture("arista_eos", "show_interfaces_json", "uplink_down"),
    })
    reading = drv.read()
    assert [(v.vrid, v.interface, v.state, v.shutdown) for v in reading.vrrp] == [
        (100, "Vlan100", "master", False), (101, "Vlan101", "init", True), (102, "Vlan102", "init", False),
        (arista_eos.VARP_VRID, "Vlan200", "master", False)]
    assert reading.interfaces["Ethernet49/1"] is False
    assert drv.run.sent.count(arista_eos.SHOW_INTERFACES) == 1


def test_junos_read_and_macs_of_logical_interfaces():
    drv = _driver(juniper_junos.JuniperJunosDriver, {
        juniper_junos.SHOW_VRRP: _fixture("juniper_junos", "show_vrrp_detail_json", "master"),
        juniper_junos.SHOW_TERSE: _fixture("juniper_junos", "show_interfaces_terse_json", "uplink_down"),
        juniper_junos.SHOW_INTERFACES: _fixture("juniper_junos", "show_interfaces_json", "macs"),
        juniper_junos.route_command("0.0.0.0/0"): _fixture("juniper_junos", "show_route_json", "default_present"),
    })
    reading = drv.read(["0.0.0.0/0"])
    assert [(v.interface, v.vrid, v.state) for v in reading.vrrp] == [("ge-0/0/1.0", 50, "master")]
    assert reading.interfaces["ge-0/0/0.0"] is False and reading.routes == {"0.0.0.0/0": True}
    assert drv.get_interface_details()["ge-0/0/1.0"] == {"mac": "2c:6b:f5:01:02:01", "addresses": ["198.19.50.2/24"]}


def test_junos_without_vrrp_configured_has_no_groups():
    drv = _driver(juniper_junos.JuniperJunosDriver, {juniper_junos.SHOW_VRRP: "error: the vrrp subsystem is not running"})
    assert drv.get_vrrp() == []


def test_junos_interface_name_split():
    assert juniper_junos.split_interface("ge-0/0/1.0") == ("ge-0/0/1", "0")
    assert juniper_junos.split_interface("ae0.120") == ("ae0", "120")
    assert juniper_junos.split_interface("irb") == ("irb", "0")


def test_nxos_feature_not_enabled_means_no_groups_and_is_asked_once():
    refused = "% Invalid command at '^' marker."
    drv = _driver(cisco_nxos.CiscoNxosDriver, {
        cisco_nxos.SHOW_VRRP: _fixture("cisco_nxos", "show_vrrp_detail_json", "several_groups"),
        cisco_nxos.SHOW_VRRPV3: refused,
        cisco_nxos.SHOW_HSRP: refused,
        cisco_nxos.SHOW_INTERFACE_CONFIG: _fixture("cisco_nxos", "running_config_interface", "none_shut"),
    })
    assert [v.vrid for v in drv.get_vrrp()] == [10, 20, 30]
    drv.get_vrrp()
    assert drv.run.sent.count(cisco_nxos.SHOW_HSRP) == 1 and drv.run.sent.count(cisco_nxos.SHOW_VRRP) == 2


def test_nxos_details_merge_macs_and_secondary_addresses():
    drv = _driver(cisco_nxos.CiscoNxosDriver, {
        cisco_nxos.SHOW_INTERFACE: _fixture("cisco_nxos", "show_interface_json", "uplink_down"),
        cisco_nxos.SHOW_IP_INTERFACE: _fixture("cisco_nxos", "show_ip_interface_json", "static_gateway_held"),
    })
    details = drv.get_interface_details()
    assert details["Vlan10"] == {"mac": "52:54:00:12:34:00", "addresses": ["198.19.10.2/24", "198.19.10.1/24"]}
    assert details["Ethernet1/2"]["addresses"] == []


@pytest.mark.parametrize("garbage", ["hello", "{not json", "% Invalid input detected"])
@pytest.mark.parametrize("parse", [arista_eos.parse_vrrp, cisco_nxos.parse_vrrp, juniper_junos.parse_vrrp,
                                   juniper_junos.parse_interfaces, cisco_nxos.parse_interfaces])
def test_garbage_is_a_parse_error_naming_the_device(parse, garbage):
    with pytest.raises(ParseError, match="^r9: "):
        parse(garbage, "r9")


# -- configs ----------------------------------------------------------------------------------

def test_stable_config_drops_lines_that_change_on_every_commit():
    ios = ("Building configuration...\n\nCurrent configuration : 4242 bytes\n!\n"
           "! Last configuration change at 10:00:01 UTC Wed Nov 25 2026 by netops\n"
           "! NVRAM config last updated at 10:00:02 UTC Wed Nov 25 2026 by netops\n!\nversion 17.9\nhostname d1\nend\n")
    junos = "## Last commit: 2026-11-25 10:00:01 UTC by netops\nversion 21.4R3;\nsystem {\n    host-name edge1;\n}\n"
    nxos = "\n!Command: show running-config\n!Running configuration last done at: Wed Nov 25 10:00:01 2026\n!Time: Wed Nov 25 10:00:09 2026\n\nversion 10.2(5)\nhostname n1\n"
    def stable(cls, text: str) -> str:
        return cls(_params(cls)).stable_config(text)

    assert stable(cisco_ios.CiscoIosDriver, ios) == "!\n!\nversion 17.9\nhostname d1\nend\n"
    assert stable(cisco_xe.CiscoXeDriver, ios) == "!\n!\nversion 17.9\nhostname d1\nend\n"
    assert stable(juniper_junos.JuniperJunosDriver, junos) == "version 21.4R3;\nsystem {\n    host-name edge1;\n}\n"
    assert stable(cisco_nxos.CiscoNxosDriver, nxos) == "version 10.2(5)\nhostname n1\n"
    eos = "! Command: show running-config\n! device: s1 (vEOS-lab, EOS-4.28.3M)\n!\nhostname s1\nend\n"
    assert stable(arista_eos.AristaEosDriver, eos) == "! device: s1 (vEOS-lab, EOS-4.28.3M)\n!\nhostname s1\nend\n"
    # One normaliser: the platform's data, not a second list of lines.
    assert config_body(ios, cisco_ios.SPEC.volatile_config) == stable(cisco_ios.CiscoIosDriver, ios)


def test_each_driver_reads_its_config_through_its_own_volatile_lines():
    ios = "Building configuration...\n! Last configuration change at 10:00 by x\nhostname d1\n"
    drv = _driver(cisco_ios.CiscoIosDriver, {"show running-config": ios})
    assert drv.get_config() == "hostname d1\n"
    assert drv.same_config(ios, "hostname d1\n\n")
    assert not drv.same_config(ios, "hostname d2\n")


# -- pushes through NAPALM (a fake NAPALM driver object) ------------------------------------------

class FakeNapalm:
    def __init__(self, diff="+ vrrp 10 priority 254", fail: dict[str, Exception] | None = None):
        self.diff = diff
        self.fail = fail or {}
        self.calls: list[tuple[str, str | None]] = []

    def _call(self, name, arg=None):
        self.calls.append((name, arg))
        if name in self.fail:
            raise self.fail[name]

    def load_merge_candidate(self, filename=None, config=None):
        self._call("load_merge_candidate", config)

    def load_replace_candidate(self, filename=None, config=None):
        self._call("load_replace_candidate", config)

    def compare_config(self):
        self._call("compare_config")
        return self.diff

    def commit_config(self, message="", revert_in=None):
        self._call("commit_config")

    def discard_config(self):
        self._call("discard_config")

    def close(self):
        self._call("close")


def _pusher(cls=cisco_xe.CiscoXeDriver, fake=None):
    drv = cls(_params(cls))
    drv._napalm = fake or FakeNapalm()
    return drv, drv._napalm


def test_load_config_merges_compares_commits_and_returns_the_diff():
    drv, fake = _pusher()
    lines = ["interface Vlan10", " vrrp 10 address-family ipv4", "  priority 254", "! comment", ""]
    assert drv.load_config(lines) == "+ vrrp 10 priority 254"
    assert [c[0] for c in fake.calls] == ["load_merge_candidate", "compare_config", "commit_config"]
    assert fake.calls[0][1] == "interface Vlan10\n vrrp 10 address-family ipv4\n  priority 254\n"


def test_load_config_without_a_difference_commits_nothing():
    drv, fake = _pusher(fake=FakeNapalm(diff=""))
    assert drv.load_config(["interface Vlan10", " vrrp 10 priority 120"]) == ""
    assert [c[0] for c in fake.calls] == ["load_merge_candidate", "compare_config", "discard_config"]


def test_rejected_candidate_is_discarded_and_reported_with_the_device_name():
    from napalm.base.exceptions import MergeConfigException

    drv, fake = _pusher(fake=FakeNapalm(fail={"load_merge_candidate": MergeConfigException("% Invalid input detected")}))
    with pytest.raises(CommandRejected, match="^d1: merge rejected: % Invalid input detected"):
        drv.load_config(["interface Vlan10", " vrrp 10 bogus"])
    assert [c[0] for c in fake.calls] == ["load_merge_candidate", "discard_config"]


def test_failed_commit_is_discarded():
    from napalm.base.exceptions import CommitError

    drv, fake = _pusher(arista_eos.AristaEosDriver, FakeNapalm(fail={"commit_config": CommitError("session aborted")}))
    with pytest.raises(CommandRejected, match="^d1: merge commit rejected: session aborted"):
        drv.load_config(["interface Vlan100", "   vrrp 100 priority-level 254"])
    assert [c[0] for c in fake.calls][-1] == "discard_config"


def test_lost_session_during_a_push_is_a_connection_failure_and_drops_the_session():
    drv, fake = _pusher(fake=FakeNapalm(fail={"commit_config": EOFError("socket closed")}))
    with pytest.raises(ConnectionFailed, match="^d1: NAPALM session lost during merge commit"):
        drv.load_config(["interface Vlan10", " vrrp 10 priority 254"])
    assert drv._napalm is None and ("close", None) in fake.calls


def test_replace_config_uses_the_device_replace_on_a_stable_config():
    drv, fake = _pusher(cisco_nxos.CiscoNxosDriver)
    drv.replace_config("!Time: Wed Nov 25 10:00:09 2026\nhostname n1\ninterface Vlan10\n  vrrp 10\n    priority 120\n")
    assert fake.calls[0] == ("load_replace_candidate", "hostname n1\ninterface Vlan10\n  vrrp 10\n    priority 120\n")
    assert [c[0] for c in fake.calls] == ["load_replace_candidate", "compare_config", "commit_config"]
    with pytest.raises(CommandRejected, match="empty"):
        drv.replace_config("\n")


def test_napalm_session_failure_names_the_device(monkeypatch):
    import napalm

    def broken(name):
        class Broken:
            def __init__(self, **kw):
                raise ConnectionRefusedError("connection refused")
        return Broken

    monkeypatch.setattr(napalm, "get_network_driver", broken)
    drv = cisco_ios.CiscoIosDriver(_params(cisco_ios.CiscoIosDriver))
    with pytest.raises(ConnectionFailed, match=r"^d1: NAPALM \(ios\) session to 198.19.255.1:22 failed: connection refused"):
        drv.load_config(["interface Vlan10", " vrrp 10 priority 254"])


def test_napalm_connection_arguments_follow_the_ssh_settings(tmp_path):
    kh = tmp_path / "known_hosts"
    eos = arista_eos.AristaEosDriver(_params(arista_eos.AristaEosDriver, known_hosts=kh, port=2222))
    args = eos.napalm_optional_args()
    assert args["transport"] == "ssh" and args["port"] == 2222
    assert args["ssh_strict"] is True and args["alt_host_keys"] is True and args["alt_key_file"] == str(kh)
    junos = juniper_junos.JuniperJunosDriver(_params(juniper_junos.JuniperJunosDriver, known_hosts=kh))
    assert junos.napalm_optional_args() == {"port": 22}


def test_junos_napalm_session_checks_the_host_key(tmp_path):
    kh = tmp_path / "known_hosts"
    drv = juniper_junos.JuniperJunosDriver(_params(juniper_junos.JuniperJunosDriver, known_hosts=kh))

    class PyEz:
        _hostkey_verify = False
        _ssh_config = None

    class NapalmJunos:
        device = PyEz()

    dev = NapalmJunos()
    drv.prepare_napalm(dev)
    assert dev.device._hostkey_verify is True
    conf = Path(dev.device._ssh_config)
    assert f"UserKnownHostsFile {kh}" in conf.read_text() and (conf.stat().st_mode & 0o777) == 0o600
    drv.close_napalm()
    assert not conf.exists()


def test_junos_push_resolves_the_local_address_of_the_group():
    drv = _driver(juniper_junos.JuniperJunosDriver, {
        juniper_junos.vrrp_address_command("ge-0/0/1", "0"): _fixture("juniper_junos", "show_configuration_inet_set", "one_group"),
    })
    drv._napalm = FakeNapalm()
    drv.load_config(["set interfaces ge-0/0/1 unit 0 family inet address __local_address__ vrrp-group 50 priority 254"])
    assert drv._napalm.calls[0] == (
        "load_merge_candidate", "set interfaces ge-0/0/1 unit 0 family inet address 198.19.50.2/24 vrrp-group 50 priority 254\n")


def test_junos_push_refuses_when_no_address_carries_the_group():
    drv = _driver(juniper_junos.JuniperJunosDriver, {
        juniper_junos.vrrp_address_command("ge-0/0/1", "0"): "set interfaces ge-0/0/1 unit 0 family inet address 198.19.50.2/24",
    })
    drv._napalm = FakeNapalm()
    with pytest.raises(CommandRejected, match="^d1: no single address on ge-0/0/1.0 carries vrrp-group 50"):
        drv.load_config(["set interfaces ge-0/0/1 unit 0 family inet address __local_address__ vrrp-group 50 priority 1"])
    assert drv._napalm.calls == []


def test_close_closes_the_napalm_session_too():
    drv, fake = _pusher()
    drv.close()
    assert ("close", None) in fake.calls and drv._napalm is None


def test_vrrp_view_type_is_what_the_parsers_return():
    # The expected files are dataclasses.asdict(VrrpView): a new field must show up in them too.
    fields = {f.name for f in dataclasses.fields(VrrpView)}
    sample = json.loads((FIX / "cisco_ios" / "show_vrrp_all" / "master.expected.json").read_text())[0]
    assert set(sample) == fields


def test_parser_safety_net_turns_a_surprise_into_a_parse_error_naming_device_and_command(caplog):
    from netha.drivers.base import parser

    @parser("show thing")
    def parse_thing(text: str, device: str = "?") -> int:
        return {}[text]  # a parser bug: KeyError on output nobody foresaw

    with pytest.raises(ParseError, match=r"^r7: show thing: unexpected output \(KeyError"):
        parse_thing("odd", device="r7")
    assert "parser" in caplog.text and "Traceback" in caplog.text  # logged with its traceback, to be fixed


def test_parser_safety_net_lets_netha_errors_through_unchanged():
    from netha.drivers.base import parser

    @parser("show thing")
    def parse_thing(text: str, device: str = "?") -> int:
        raise CommandRejected(device, "no")

    with pytest.raises(CommandRejected):
        parse_thing("x", "r1")


@pytest.mark.parametrize("value,expected", [
    (7, 7), ("42", 42), (" 3 ", 3), ("²", None), ("٣", None), ("9" * 5000, 10**18), (True, None), (2.0, 2),
    (2.5, None), (float("inf"), None), (None, None), ([1], None),
])
def test_device_integers_are_ascii_and_never_raise(value, expected):
    from netha.drivers.base import as_int

    assert as_int(value) == expected


@pytest.mark.parametrize("field,value", [("groupId", 300), ("groupId", 0), ("priority", 99999), ("groupId", "²")])
def test_eos_vrrp_group_with_values_out_of_range_is_reported_and_the_others_still_read(field, value):
    entry = {"interface": "Ethernet1", "groupId": 10, "priority": 100, field: value}
    good = {"interface": "Ethernet2", "groupId": 20, "priority": 100, "state": "master", "virtualIp": "198.18.0.1"}
    with collecting_notes() as notes:
        views = arista_eos.parse_vrrp(json.dumps({"virtualRouters": [entry, good]}), "r1")
    assert [(v.interface, v.vrid) for v in views] == [("Ethernet2", 20)]
    assert len(notes.unreadable) == 1 and "Ethernet1" in notes.unreadable[0][1]


# Dependencies point one way: cli -> controller/takeover -> health/observe -> drivers -> transport/inventory.
_ABOVE_DRIVERS = ("netha.observe", "netha.health", "netha.takeover", "netha.controller", "netha.cli", "netha.connect",
                  "netha.lab", "netha.report", "netha.nominal", "netha.store")


def _netha_imports(path: Path) -> set[str]:
    """The netha modules ``path`` imports (relative imports resolved against its package)."""
    package = ["netha", *path.parent.relative_to(Path(__file__).parents[2] / "netha").parts]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("netha"))
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            if module.startswith("netha"):
                found.add(module)
                found.update(f"{module}.{a.name}" for a in node.names)
    return found


def test_no_driver_module_imports_the_layers_above_the_drivers():
    drivers = sorted((Path(__file__).parents[2] / "netha" / "drivers").glob("*.py"))
    assert len(drivers) >= 10
    upward = {
        f"{p.name}: {m}" for p in drivers for m in _netha_imports(p)
        if any(m == above or m.startswith(above + ".") for above in _ABOVE_DRIVERS)
    }
    assert not upward


def test_observe_types_re_exports_the_driver_models_unchanged():
    from netha.drivers import models
    from netha.observe import types

    assert types.VrrpView is models.VrrpView
    assert types.DeviceReading is models.DeviceReading
    assert types.VrrpStateName is models.VrrpStateName


# -- the transport has no platform default: the driver's spec names netmiko's class --------------

def test_ssh_params_without_a_netmiko_device_type_are_refused():
    with pytest.raises(TypeError, match="netmiko_device_type"):
        SshParams(device="d1", host="198.19.255.1", username="netops")  # type: ignore[call-arg]


def test_ssh_params_take_the_netmiko_device_type_from_the_platform_spec(tmp_path, monkeypatch):
    from netha.connect import load_checked_inventory, make_driver, ssh_params

    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    path = tmp_path / "inv.yml"
    path.write_text(
        "credentials:\n  lab: {username: u, password: {env: NETHA_TEST_PASSWORD}}\n"
        "devices:\n"
        "  r1: {host: 198.18.0.11, platform: frr, credentials: lab}\n"
        "  k1: {host: 198.18.0.21, platform: keepalived, credentials: lab}\n"
        "  e1: {host: 198.18.0.31, platform: arista_eos, credentials: lab}\n"
    )
    inv = load_checked_inventory(path)
    assert {d: ssh_params(inv, d).netmiko_device_type for d in inv.devices} == {
        "r1": "cisco_ios", "k1": "linux", "e1": NETMIKO_LIB_MAPPER_REVERSE["arista_eos"]}
    assert make_driver(inv, "k1").params.netmiko_device_type == "linux"
