"""Native forwarding-path probers on the vendor platforms, without devices.

Cisco IP SLA (IOS, IOS-XE, NX-OS), EOS Connectivity Monitor and Junos RPM: the ``reach.j2``
templates, the parsers on captured and written outputs (``fixtures/reach/<platform>/<command>/``,
sources in ``fixtures/reach/README.md``), the readings they make, the drivers' ``get_reach`` and
``read`` with a scripted CLI, and the SNMP side (CISCO-RTTMON-MIB, DISMAN-PING-MIB).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from netha.drivers import arista_eos, cisco_ios, cisco_nxos, cisco_xe, juniper_junos, native_reach, platforms
from netha.drivers.models import ReachProbe, ReachReading
from .test_vendor_drivers import ScriptedCli
from netha.drivers.native_reach import SlaResult, TrackEntry
from netha.drivers.render import Renderer
from netha.errors import ParseError, TemplateError
from netha.transport.ssh import SshParams

FIX = Path(__file__).parent / "fixtures" / "reach"
VENDORS = ("cisco_ios", "cisco_xe", "cisco_nxos", "arista_eos", "juniper_junos")
SAFE_LINE = re.compile(r"^[ A-Za-z0-9_./:-]*$")


def _by_key(result: dict) -> dict:
    return {"/".join(k) if isinstance(k, tuple) else str(k): dataclasses.asdict(v) for k, v in result.items()}


# (platform, command folder) -> (parser, the least number of cases the folder must hold)
PARSERS: dict[tuple[str, str], tuple[Callable[[str, str], dict], int]] = {
    ("cisco_ios", "show_ip_sla_statistics"): (native_reach.parse_sla_statistics, 8),
    ("cisco_ios", "show_track"): (native_reach.parse_track, 8),
    ("cisco_nxos", "show_ip_sla_statistics"): (native_reach.parse_sla_statistics, 3),
    ("cisco_nxos", "show_track"): (native_reach.parse_track, 4),
    ("arista_eos", "show_monitor_connectivity_json"): (arista_eos.parse_monitor_connectivity, 5),
    ("juniper_junos", "show_services_rpm_probe_results_json"): (juniper_junos.parse_rpm_results, 4),
}
THIRD_PARTY_CAPTURES = 11  # genieparser-* (10) and apstra-iba-probes-* (1): see fixtures/reach/README.md


def _cases():
    for key in PARSERS:
        for path in sorted((FIX / key[0] / key[1]).glob("*.txt")):
            yield pytest.param(key, path, id=f"{key[0]}/{key[1]}/{path.stem}")


def _text(platform: str, command: str, case: str) -> str:
    return (FIX / platform / command / f"{case}.txt").read_text()


# -- fixtures: present, expected, parsed -------------------------------------------------------------

@pytest.mark.parametrize("key", list(PARSERS), ids=lambda k: f"{k[0]}/{k[1]}")
def test_every_prober_fixture_folder_holds_its_cases_each_with_an_expectation(key):
    cases = sorted((FIX / key[0] / key[1]).glob("*.txt"))
    assert len(cases) >= PARSERS[key][1], f"{key}: {len(cases)} cases, expected at least {PARSERS[key][1]}"
    for case in cases:
        assert case.with_suffix(".expected.json").is_file(), f"{case} has no expected result"


def test_third_party_captures_are_there_and_their_sources_are_written_down():
    captured = sorted(p for p in FIX.glob("*/*/*.txt") if p.name.startswith(("genieparser-", "apstra-iba-probes-")))
    assert len(captured) >= THIRD_PARTY_CAPTURES, captured
    readme = (FIX / "README.md").read_text()
    for path in captured:
        assert f"{path.parent.parent.name}/{path.parent.name}/{path.name.split('_')[0].split('golden')[0]}" in readme, path
    assert "366d83b905995cc7f26524168e431af50dcde2d5" in readme and "555d71a66b21c4bae4a31044669a9e68df5017b0" in readme


@pytest.mark.parametrize("key,path", list(_cases()))
def test_prober_parser_on_each_fixture_gives_the_expected_result_or_refuses_it(key, path):
    fn = PARSERS[key][0]
    expected = json.loads(path.with_suffix(".expected.json").read_text())
    if isinstance(expected, dict) and set(expected) == {"error"}:
        with pytest.raises(ParseError, match=f"^r1: {re.escape(expected['error'])}$"):
            fn(path.read_text(), "r1")
        return
    assert _by_key(fn(path.read_text(), "r1")) == expected


# -- garbage in: ParseError or a result, nothing else --------------------------------------------------

def _mutations(text: str) -> list[str]:
    lines = text.splitlines()
    out = [text[:n] for n in range(0, len(text), max(1, len(text) // 40))]
    out += ["\n".join(lines[:i] + lines[i + 1:]) for i in range(min(len(lines), 60))]
    out += [text.replace("0", "²"), text.replace("1", "9" * 30), text.replace(":", ""), text.upper(),
            text.replace('"', "'"), text.replace("[", "{"), text.replace("data", "x")]
    return out


GARBAGE = ["", " ", "\x00\xff", "%", "Track", "Track x\n", "Track 1\n", "IPSLA operation id: -1\n",
           "IPSLA operation id: 99999999999999999999999\n", "null", "[]", "{}", '"x"', "1", "[" * 5000,
           '{"hosts": []}', '{"hosts": {"a": 1}}', '{"vrfs": 1}', '{"vrfs": {"default": {"hosts": {"a": {"packetLoss": "x"}}}}}',
           '{"probe-results": 1}', '{"probe-results": [{"probe-test-results": [1, {"owner": 1}]}]}',
           "Number of successes: 5\n", "Latest RTT (millisecs) 4\n"]


@pytest.mark.parametrize("key", list(PARSERS), ids=lambda k: f"{k[0]}/{k[1]}")
def test_prober_parsers_raise_only_parse_error_on_garbage_and_mutated_output(key):
    fn = inspect.unwrap(PARSERS[key][0])  # without the @parser safety net: the parser itself refuses
    seeds = [p.read_text() for p in sorted((FIX / key[0] / key[1]).glob("*.txt"))]
    parsed = refused = 0
    for text in GARBAGE + [m for s in seeds for m in _mutations(s)]:
        try:
            result = fn(text, "r1")
        except ParseError:
            refused += 1
            continue
        assert isinstance(result, dict)
        parsed += 1
    assert parsed and refused  # both outcomes happened: the inputs did reach the parser's checks


# -- IP SLA readings ---------------------------------------------------------------------------------------

def _probe(index: int, **kw) -> ReachProbe:
    return ReachProbe(key=f"reach icmp 198.18.10.{index}", target=f"198.18.10.{index % 250 + 1}", index=index, **kw)


def test_ip_sla_return_codes_ok_is_up_timeouts_and_errors_are_down_unknown_is_no_result():
    assert native_reach.return_code_state("OK") == "up"
    assert native_reach.return_code_state("Over threshold") == "up"
    for code in ("Timeout", "No connection", "Socket connect error", "Dropped", "Verify error"):
        assert native_reach.return_code_state(code) == "down", code
    for code in ("Unknown", "Busy", None, ""):
        assert native_reach.return_code_state(code) == "unknown", code


def test_ip_sla_readings_from_captured_statistics_without_tracks_follow_the_return_code():
    stats = native_reach.parse_sla_statistics(
        _text("cisco_ios", "show_ip_sla_statistics", "genieparser-iosxe-golden_output_2"), "r1")
    probes = [_probe(i) for i in (50, 53, 54, 1, 99)]
    got = native_reach.ipsla_readings(stats, {}, probes, now=12.5)
    assert got[probes[0].key] == ReachReading(key=probes[0].key, state="up", rtt=0.006, at=12.5, rate=1.0)
    assert [got[p.key].state for p in probes[1:4]] == ["down", "down", "down"]
    assert all(got[p.key].error is None and got[p.key].rtt is None for p in probes[1:4])


def test_ip_sla_probe_the_device_does_not_know_is_unknown_with_an_error_never_down():
    got = native_reach.ipsla_readings({}, {}, [_probe(99)])
    r = got[_probe(99).key]
    assert r.state == "unknown" and r.error == "IP SLA 99 is not configured on the device"


def test_ip_sla_entry_without_a_result_yet_is_unknown_even_when_its_track_says_down():
    stats = native_reach.parse_sla_statistics(
        _text("cisco_ios", "show_ip_sla_statistics", "written-unscheduled-and-ok"), "r1")
    tracks = {5: TrackEntry(index=5, kind="ip sla", sla=5, parameter="reachability", up=False)}
    r = native_reach.ipsla_readings(stats, tracks, [_probe(5)])[_probe(5).key]
    assert r.state == "unknown" and "has no result yet" in (r.error or "")


def test_ip_sla_verdict_is_the_track_state_with_its_delays_not_the_latest_return_code():
    stats = {1: SlaResult(1, "OK", 4, 10, 0), 3: SlaResult(3, "OK", 2, 10, 5), 2: SlaResult(2, "Timeout", None, 3, 9)}
    tracks = native_reach.parse_track(_text("cisco_ios", "show_track", "written-ip-sla-up-and-down"), "r1")
    got = native_reach.ipsla_readings(stats, tracks, [_probe(1), _probe(2), _probe(3)])
    # Track 3 is still Down (its "delay up" has 2 s left) although the latest operation was OK.
    assert [got[_probe(i).key].state for i in (1, 2, 3)] == ["up", "down", "down"]
    assert got[_probe(1).key].rtt == 0.004


def test_ip_sla_track_of_another_kind_or_entry_does_not_decide():
    stats = {7: SlaResult(7, "Timeout", None, 1, 1)}
    tracks = {7: TrackEntry(index=7, kind="interface", sla=None, parameter="interface vlan10 line-protocol", up=True)}
    assert native_reach.ipsla_readings(stats, tracks, [_probe(7)])[_probe(7).key].state == "down"


def test_nxos_readings_from_written_statistics_and_tracks():
    stats = native_reach.parse_sla_statistics(
        _text("cisco_nxos", "show_ip_sla_statistics", "written-nxos-ok-timeout-unscheduled"), "r1")
    tracks = native_reach.parse_track(_text("cisco_nxos", "show_track", "written-nxos-ip-sla"), "r1")
    probes = [_probe(7, interval=2.0), _probe(8), _probe(9)]
    got = native_reach.ipsla_readings(stats, tracks, probes)
    assert (got[probes[0].key].state, got[probes[0].key].rtt, got[probes[0].key].rate) == ("up", 0.002, 0.5)
    assert got[probes[1].key].state == "down"
    assert got[probes[2].key].state == "unknown" and got[probes[2].key].error


def test_captured_ip_sla_state_track_reads_up_with_its_return_code_and_rtt():
    tracks = native_reach.parse_track(_text("cisco_ios", "show_track", "genieparser-iosxe-golden_output4"), "r1")
    assert tracks[34] == TrackEntry(index=34, kind="ip sla", sla=34, parameter="state", up=True, return_code="OK",
                                    rtt_ms=16)
    got = native_reach.ipsla_readings({34: SlaResult(34, "OK", None, 11, 0)}, tracks, [_probe(34)])
    assert got[_probe(34).key].state == "up" and got[_probe(34).key].rtt == 0.016


def test_nxos_delayed_down_is_still_up_until_its_delay_ends():
    tracks = native_reach.parse_track(_text("cisco_nxos", "show_track", "written-nxos-ip-sla"), "r1")
    assert tracks[9].up is True


# -- EOS and Junos readings ------------------------------------------------------------------------------

def test_eos_monitor_readings_judge_the_interval_loss_against_max_loss():
    hosts = arista_eos.parse_monitor_connectivity(
        _text("arista_eos", "show_monitor_connectivity_json", "written-hosts-up-down-pending"), "r1")
    probes = [_probe(7, interval=2.0), _probe(8), _probe(9, max_loss=0.3), _probe(10)]
    got = arista_eos.monitor_readings(hosts, probes)
    assert (got[probes[0].key].state, got[probes[0].key].rtt) == ("up", pytest.approx(0.000412))
    assert got[probes[1].key].state == "down" and got[probes[1].key].rtt is None
    assert got[probes[2].key].state == "down"  # 40 % lost > 30 %
    assert arista_eos.monitor_readings(hosts, [_probe(9, max_loss=0.5)])[_probe(9).key].state == "up"
    assert got[probes[3].key].state == "unknown"
    assert got[probes[3].key].error == "monitor connectivity host netha-reach-10 is not configured on the device"
    assert {r.rate for r in got.values()} == {1.0}  # one interval for every host: the shortest asked for


def test_eos_host_without_results_is_unknown():
    hosts = {"netha-reach-3": arista_eos.MonitorHost("netha-reach-3", "198.18.10.4", None, None)}
    r = arista_eos.monitor_readings(hosts, [_probe(3)])[_probe(3).key]
    assert r.state == "unknown" and "no result yet" in (r.error or "")


def test_junos_rpm_readings_from_the_captured_tests():
    results = juniper_junos.parse_rpm_results(
        _text("juniper_junos", "show_services_rpm_probe_results_json", "apstra-iba-probes-ping-mesh-junos-22.2"), "r1")
    probe = _probe(1, window=5)
    got = juniper_junos.rpm_readings(results, [probe], owner="Overlay_Reachability",
                                     test_name=lambda p: "Overlay_red_leaf2")
    assert got[probe.key] == ReachReading(key=probe.key, state="up", sent=5, lost=0, rtt=pytest.approx(0.010319),
                                          rate=1.0)


def test_junos_rpm_readings_use_the_last_completed_test_then_the_current_one():
    results = juniper_junos.parse_rpm_results(
        _text("juniper_junos", "show_services_rpm_probe_results_json", "written-loss-and-first-test"), "r1")
    probes = [_probe(7), _probe(8), _probe(9)]
    got = juniper_junos.rpm_readings(results, probes)
    assert (got[probes[0].key].state, got[probes[0].key].sent, got[probes[0].key].lost) == ("down", 10, 4)
    assert (got[probes[1].key].state, got[probes[1].key].sent, got[probes[1].key].rtt) == ("up", 2, 0.000975)
    assert got[probes[2].key].state == "unknown"
    assert got[probes[2].key].error == "RPM test netha/reach-9 is not configured on the device"


# -- the drivers: commands, readings, prober failures ----------------------------------------------------



def _driver(cls, answers: dict[str, str]):
    drv = cls(SshParams(device="d1", host="198.19.255.1", username="netops", password="x",
                        netmiko_device_type=cls.spec.netmiko_device_type))
    drv.run = ScriptedCli(answers)  # type: ignore[method-assign]
    return drv


@pytest.mark.parametrize("platform", VENDORS)
def test_vendor_platforms_are_native_probers_and_the_helper_is_no_platform(platform):
    module = {"cisco_ios": cisco_ios, "cisco_xe": cisco_xe, "cisco_nxos": cisco_nxos, "arista_eos": arista_eos,
              "juniper_junos": juniper_junos}[platform]
    assert module.Driver.spec.reach == "native"
    assert "native_reach" not in platforms()


@pytest.mark.parametrize("cls", [cisco_ios.CiscoIosDriver, cisco_xe.CiscoXeDriver, cisco_nxos.CiscoNxosDriver])
def test_cisco_get_reach_reads_statistics_and_tracks_once_for_all_probes(cls):
    drv = _driver(cls, {
        native_reach.SHOW_SLA: _text("cisco_nxos", "show_ip_sla_statistics", "written-nxos-ok-timeout-unscheduled"),
        native_reach.SHOW_TRACK: _text("cisco_nxos", "show_track", "written-nxos-ip-sla"),
    })
    probes = [_probe(7), _probe(8), _probe(9), _probe(10)]
    got = drv.get_reach(probes)
    assert drv.run.sent == [native_reach.SHOW_SLA, native_reach.SHOW_TRACK]
    assert [got[p.key].state for p in probes] == ["up", "down", "unknown", "unknown"]
    assert got[probes[0].key].at > 0


def test_nxos_sla_feature_off_makes_every_probe_unknown_and_is_asked_again_next_poll():
    drv = _driver(cisco_nxos.CiscoNxosDriver, {native_reach.SHOW_SLA: "% Invalid command at '^' marker.\n"})
    for _ in range(2):
        r = drv.get_reach([_probe(7)])[_probe(7).key]
        assert r.state == "unknown" and r.error == "IP SLA 7 is not configured on the device"
    assert drv.run.sent.count(native_reach.SHOW_SLA) == 2


@pytest.mark.parametrize("cls,answers", [
    (cisco_ios.CiscoIosDriver, {native_reach.SHOW_SLA: "Building configuration...\n"}),
    (cisco_ios.CiscoIosDriver, {native_reach.SHOW_TRACK: "% Invalid input detected at '^' marker.\n"}),
    (arista_eos.AristaEosDriver, {arista_eos.SHOW_MONITOR: "not json"}),
    (juniper_junos.JuniperJunosDriver, {juniper_junos.SHOW_RPM: '{"probe-results": 7}'}),
])
def test_unreadable_prober_output_makes_every_probe_unknown_with_the_error_not_a_failed_poll(cls, answers):
    drv = _driver(cls, answers)
    got = drv.get_reach([_probe(1), _probe(2)])
    assert {r.state for r in got.values()} == {"unknown"}
    assert all((r.error or "").startswith("native prober unreadable: d1: ") for r in got.values())


def test_eos_read_includes_the_connectivity_monitor():
    drv = _driver(arista_eos.AristaEosDriver, {
        arista_eos.SHOW_INTERFACES: '{"interfaces": {}}',
        arista_eos.SHOW_VRRP: '{"virtualRouters": []}',
        arista_eos.SHOW_VARP: '{"virtualRouters": []}',
        arista_eos.SHOW_MONITOR: _text("arista_eos", "show_monitor_connectivity_json", "written-vrfs"),
    })
    reading = drv.read([], [_probe(1)])
    assert reading.reach[_probe(1).key].state == "up"
    assert drv.run.sent[-1] == arista_eos.SHOW_MONITOR


def test_junos_read_includes_the_rpm_tests_and_reads_none_without_probes():
    answers = {juniper_junos.SHOW_TERSE: '{"interface-information": []}',
               juniper_junos.SHOW_RPM: _text("juniper_junos", "show_services_rpm_probe_results_json",
                                             "written-loss-and-first-test")}
    drv = _driver(juniper_junos.JuniperJunosDriver, answers)
    assert drv.read([], [_probe(8)]).reach[_probe(8).key].state == "up"
    assert juniper_junos.SHOW_RPM in drv.run.sent
    drv = _driver(juniper_junos.JuniperJunosDriver, answers)
    assert drv.read([]).reach == {} and juniper_junos.SHOW_RPM not in drv.run.sent


def test_ios_read_includes_the_ip_sla_probes():
    drv = _driver(cisco_ios.CiscoIosDriver, {
        native_reach.SHOW_SLA: _text("cisco_ios", "show_ip_sla_statistics", "written-unscheduled-and-ok"),
        native_reach.SHOW_TRACK: _text("cisco_ios", "show_track", "written-ip-sla-up-and-down"),
    })
    reading = drv.read([], [_probe(1), _probe(5)])
    assert (reading.reach[_probe(1).key].state, reading.reach[_probe(5).key].state) == ("up", "unknown")


# -- templates --------------------------------------------------------------------------------------------

BY_ADDRESS = ReachProbe(key="a", target="198.18.10.100", source="198.18.2.2", index=11)
BY_INTERFACE = ReachProbe(key="i", target="198.18.10.100", source="GigabitEthernet0/1", index=12, interval=2.5,
                          timeout=1.0, max_rtt=0.2)
TCP = ReachProbe(key="t", target="198.18.10.100", kind="tcp", port=443, source="198.18.2.2", index=13, window=5,
                 max_loss=0.0)
NO_SOURCE = ReachProbe(key="n", target="198.18.10.101", index=14, interval=0.05)

IOS_LINES = [
    "no ip sla 11", "ip sla 11", " icmp-echo 198.18.10.100 source-ip 198.18.2.2", " frequency 1", " timeout 500",
    " threshold 500", "ip sla schedule 11 life forever start-time now", "track 11 ip sla 11 reachability",
    " delay down 3 up 3",
    "no ip sla 12", "ip sla 12", " icmp-echo 198.18.10.100 source-interface GigabitEthernet0/1", " frequency 3",
    " timeout 1000", " threshold 200", "ip sla schedule 12 life forever start-time now", "track 12 ip sla 12 state",
    " delay down 9 up 9",
    "no ip sla 13", "ip sla 13", " tcp-connect 198.18.10.100 443 source-ip 198.18.2.2 control disable",
    " frequency 1", " timeout 500", " threshold 500", "ip sla schedule 13 life forever start-time now",
    "track 13 ip sla 13 reachability",
]
NXOS_LINES = ["feature sla sender"] + [
    ("  " + ln[1:]) if ln.startswith(" ") else ln for ln in IOS_LINES
]
EXPECTED_LINES = {
    ("cisco_ios", (BY_ADDRESS, BY_INTERFACE, TCP)): IOS_LINES,
    ("cisco_xe", (BY_ADDRESS, BY_INTERFACE, TCP)): IOS_LINES,
    ("cisco_nxos", (BY_ADDRESS, BY_INTERFACE, TCP)): NXOS_LINES,
    ("arista_eos", (dataclasses.replace(BY_INTERFACE, source="Ethernet1"), NO_SOURCE)): [
        "monitor connectivity", "   interval 1", "   no shutdown", "   interface set netha-src-12 Ethernet1",
        "   host netha-reach-12", "      ip 198.18.10.100", "      local-interfaces netha-src-12 address-only",
        "   host netha-reach-14", "      ip 198.18.10.101",
    ],
    ("juniper_junos", (BY_ADDRESS, NO_SOURCE)): [
        "delete services rpm probe netha test reach-11",
        "set services rpm probe netha test reach-11 probe-type icmp-ping",
        "set services rpm probe netha test reach-11 target address 198.18.10.100",
        "set services rpm probe netha test reach-11 source-address 198.18.2.2",
        "set services rpm probe netha test reach-11 probe-count 10",
        "set services rpm probe netha test reach-11 probe-interval 1",
        "set services rpm probe netha test reach-11 probe-timeout 1",
        "set services rpm probe netha test reach-11 test-interval 0",
        "set services rpm probe netha test reach-11 thresholds successive-loss 4",
        "delete services rpm probe netha test reach-14",
        "set services rpm probe netha test reach-14 probe-type icmp-ping",
        "set services rpm probe netha test reach-14 target address 198.18.10.101",
        "set services rpm probe netha test reach-14 probe-count 10",
        "set services rpm probe netha test reach-14 probe-interval 1",
        "set services rpm probe netha test reach-14 probe-timeout 1",
        "set services rpm probe netha test reach-14 test-interval 0",
        "set services rpm probe netha test reach-14 thresholds successive-loss 4",
    ],
}


@pytest.mark.parametrize("platform,probes", list(EXPECTED_LINES), ids=lambda v: v if isinstance(v, str) else "")
def test_reach_template_renders_the_platform_prober_config_in_safe_lines(platform, probes):
    lines = Renderer(platform).render_reach(list(probes))
    assert lines == EXPECTED_LINES[(platform, probes)]
    assert all(SAFE_LINE.match(ln) for ln in lines)


@pytest.mark.parametrize("platform", VENDORS)
def test_driver_reach_config_is_its_template_and_no_probes_render_nothing(platform):
    module = {"cisco_ios": cisco_ios, "cisco_xe": cisco_xe, "cisco_nxos": cisco_nxos, "arista_eos": arista_eos,
              "juniper_junos": juniper_junos}[platform]
    drv = _driver(module.Driver, {})
    probes = [p for (plat, ps) in EXPECTED_LINES for p in ps if plat == platform]
    assert drv.reach_config(probes) == Renderer(platform).render_reach(probes)
    assert drv.reach_config([]) == []


@pytest.mark.parametrize("platform,probe,reason", [
    ("cisco_ios", dataclasses.replace(TCP, source="Gi0/1"), "tcp_connect_takes_a_source_address_not_an_interface"),
    ("cisco_xe", dataclasses.replace(TCP, source="Gi0/1"), "tcp_connect_takes_a_source_address_not_an_interface"),
    ("cisco_nxos", dataclasses.replace(TCP, source="Vlan10"), "tcp_connect_takes_a_source_address_not_an_interface"),
    ("arista_eos", TCP, "tcp_probes_are_not_supported_by_monitor_connectivity"),
    ("arista_eos", BY_ADDRESS, "monitor_connectivity_takes_a_source_interface_not_an_address"),
    ("juniper_junos", TCP, "tcp_probes_need_an_rpm_server_at_the_target"),
    ("juniper_junos", BY_INTERFACE, "rpm_takes_a_source_address_not_an_interface"),
])
def test_reach_template_refuses_what_the_platform_prober_cannot_do_by_name(platform, probe, reason):
    with pytest.raises(TemplateError, match=f"platform {platform}: template reach.j2: '{reason}_on_{platform}' is undefined"):
        Renderer(platform).render_reach([probe])


@pytest.mark.parametrize("interval", [0.05, 0.5, 1.0, 1.0000000001, 1.5, 2.0, 7.2, 60.0])
def test_ip_sla_frequency_in_the_template_is_the_one_readings_assume(interval):
    probe = dataclasses.replace(BY_ADDRESS, interval=interval)
    for platform in ("cisco_ios", "cisco_xe", "cisco_nxos"):
        lines = [ln.strip() for ln in Renderer(platform).render_reach([probe])]
        assert f"frequency {native_reach.ipsla_frequency(probe)}" in lines
    junos = Renderer("juniper_junos").render_reach([probe])
    assert f"set services rpm probe netha test reach-11 probe-interval {juniper_junos.rpm_interval(probe)}" in junos
    eos = Renderer("arista_eos").render_reach([dataclasses.replace(probe, source=None)])
    assert f"   interval {arista_eos.monitor_interval([probe])}" in eos


def test_ip_sla_timeout_never_exceeds_the_frequency_and_the_track_delay_is_capped():
    slow = dataclasses.replace(BY_ADDRESS, interval=1.0, timeout=5.0, window=500, max_loss=0.9)
    lines = [ln.strip() for ln in Renderer("cisco_ios").render_reach([slow])]
    assert "timeout 1000" in lines and "delay down 180 up 180" in lines


# -- SNMP: CISCO-RTTMON-MIB and DISMAN-PING-MIB ------------------------------------------------------------

SENSE, DONE = native_reach.RTTMON_SENSE, native_reach.RTTMON_COMPLETION_TIME


def test_rttmon_varbinds_ok_and_over_threshold_are_up_failures_down_missing_unknown():
    varbinds = [
        (f"{DONE}.1", 4), (f"{SENSE}.1", 1),
        (f"{DONE}.2", 0), (f"{SENSE}.2", 4),
        (f"{DONE}.3", 9), (f".{SENSE}.3", 3),
        (f"{DONE}.4", 0), (f"{SENSE}.4", 0),
        (f"{SENSE}.5", None),
        ("1.3.6.1.2.1.1.3.0", 12345),
    ]
    probes = [_probe(i) for i in range(1, 7)]
    got = native_reach.rttmon_readings(varbinds, probes, 3.0, "r1")
    assert got[probes[0].key] == ReachReading(key=probes[0].key, state="up", rtt=0.004, at=3.0, rate=1.0)
    assert got[probes[1].key].state == "down" and got[probes[1].key].rtt is None
    assert got[probes[2].key].state == "up" and got[probes[2].key].rtt == 0.009
    assert got[probes[3].key].state == "unknown" and "no result yet (other)" in (got[probes[3].key].error or "")
    for p in probes[4:]:
        assert got[p.key].state == "unknown" and "not in CISCO-RTTMON-MIB" in (got[p.key].error or "")


@pytest.mark.parametrize("varbinds", [
    [(f"{SENSE}.1.2", 1)], [(f"{SENSE}.x", 1)], [(f"{SENSE}.1", "ok")], [(f"{SENSE}.1", -1)], [(f"{DONE}.1", 2**40)],
])
def test_rttmon_varbinds_that_make_no_sense_are_a_parse_error(varbinds):
    with pytest.raises(ParseError, match="^r1: CISCO-RTTMON-MIB: "):
        inspect.unwrap(native_reach.rttmon_readings)(varbinds, [_probe(1)], 0.0, "r1")


def _ping_index(owner: str, test: str) -> str:
    return ".".join(str(x) for x in [len(owner), *owner.encode(), len(test), *test.encode()])


def test_disman_ping_varbinds_give_loss_over_the_test_and_unknown_for_missing_or_idle_tests():
    base = native_reach.PING_RESULTS
    up, down, idle = _ping_index("netha", "reach-1"), _ping_index("netha", "reach-2"), _ping_index("netha", "reach-3")
    varbinds = [
        (f"{base}.1.{up}", 1), (f"{base}.6.{up}", 2), (f"{base}.7.{up}", 10), (f"{base}.8.{up}", 10),
        (f"{base}.1.{down}", 1), (f"{base}.6.{down}", 0), (f"{base}.7.{down}", 5), (f"{base}.8.{down}", 10),
        (f"{base}.1.{idle}", 3), (f"{base}.7.{idle}", 0), (f"{base}.8.{idle}", 0),
        (f"{base}.1.{_ping_index('other', 'reach-4')}", 1),
    ]
    probes = [_probe(i) for i in (1, 2, 3, 4)]
    got = native_reach.ping_mib_readings(varbinds, probes, juniper_junos.rpm_names, 5.0, "r1",
                                         interval=juniper_junos.rpm_interval)
    assert got[probes[0].key] == ReachReading(key=probes[0].key, state="up", sent=10, lost=0, rtt=0.002, at=5.0,
                                              rate=1.0)
    assert (got[probes[1].key].state, got[probes[1].key].lost) == ("down", 5)
    assert got[probes[2].key].state == "unknown" and "no result yet" in (got[probes[2].key].error or "")
    assert got[probes[3].key].error == "ping test netha/reach-4 is not in DISMAN-PING-MIB (not configured)"


@pytest.mark.parametrize("suffix,value", [
    ("1.5.110.101", 1),  # owner length 5 but only two octets
    ("1.1.110.1.200", 1),  # a test name octet that is no character
    ("8." + _ping_index("netha", "reach-1"), 11),  # with 7 (responses) below: more answers than probes
])
def test_disman_ping_varbinds_that_make_no_sense_are_a_parse_error(suffix, value):
    base = native_reach.PING_RESULTS
    varbinds = [(f"{base}.{suffix}", value), (f"{base}.7.{_ping_index('netha', 'reach-1')}", 12)]
    with pytest.raises(ParseError, match="^r1: DISMAN-PING-MIB: "):
        inspect.unwrap(native_reach.ping_mib_readings)(varbinds, [_probe(1)], juniper_junos.rpm_names, 0.0, "r1")
