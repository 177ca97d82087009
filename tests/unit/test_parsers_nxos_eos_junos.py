"""NX-OS, EOS and Junos parsers on output as real devices print it: what they read, what they skip
and report, and that one group netha cannot read never costs the others.

The third-party captures are checked by tests/unit/test_conformance.py; these tests pin the
behaviours those captures do not all show (unknown words, unreadable groups, IPv4 and IPv6 groups
of one number, the XML form of Junos VRRP) on small outputs written for them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netha.drivers import arista_eos, cisco_nxos, juniper_junos
from netha.drivers.base import collecting_notes
from netha.errors import NotSupported, ParseError

FIX = Path(__file__).parent / "fixtures"
CORPUS = Path(__file__).resolve().parents[1] / "fixtures"


def _hsrp_row(**kw: object) -> dict:
    row = {"sh_if_index": "Vlan10", "sh_group_num": 10, "sh_group_type": "v4", "sh_group_version": "v2",
           "sh_group_state": "Active", "sh_prio": 110, "sh_cfg_prio": 120, "sh_preempt": "enabled",
           "sh_cur_hello": 3, "sh_cur_hello_attr": "sec", "sh_vip": "198.18.10.1",
           "sh_active_router_addr": "198.18.10.2"}
    row.update(kw)
    return row


def _hsrp(*rows: dict) -> str:
    return json.dumps({"TABLE_grp_detail": {"ROW_grp_detail": list(rows)}})


# -- NX-OS ---------------------------------------------------------------------------------------------

def test_nxos_hsrp_family_words_of_real_devices_are_read_not_dropped():
    """NX-OS 7.x/9.x print sh_group_type "v4"/"v6" (the old parser kept only "IPV4": no groups, silently)."""
    v6 = _hsrp_row(sh_group_type="v6", sh_vip=None, sh_vip_v6="fe80::5:73ff:fea0:a",
                   sh_active_router_addr_v6="fe80::2", sh_active_router_addr=None)
    views = cisco_nxos.parse_hsrp(_hsrp(_hsrp_row(), v6, _hsrp_row(sh_group_type="IPV4", sh_if_index="Vlan20")), "r1")
    assert [(v.interface, v.protocol, v.family, v.vrid) for v in views] == [
        ("Vlan10", "hsrp", 4, 10), ("Vlan10", "hsrp", 6, 10), ("Vlan20", "hsrp", 4, 10)]
    assert len({v.key for v in views}) == 3  # IPv4 and IPv6 group 10 on Vlan10 are two groups
    assert views[1].virtual_addresses == ("fe80::5:73ff:fea0:a",) and views[1].master_address == "fe80::2"
    assert (views[0].priority, views[0].effective_priority, views[0].advert_interval) == (120, 110, 3.0)


def test_nxos_hsrp_group_of_an_unknown_family_is_reported_and_the_others_read():
    with collecting_notes() as notes:
        views = cisco_nxos.parse_hsrp(_hsrp(_hsrp_row(sh_group_type="v9"), _hsrp_row(sh_if_index="Vlan20")), "r1")
    assert [v.interface for v in views] == ["Vlan20"]
    assert len(notes.unreadable) == 1 and "Vlan10" in notes.unreadable[0][1] and "v9" in notes.unreadable[0][1]


def test_nxos_hsrp_unknown_state_and_preempt_words_are_unknown_and_noted():
    with collecting_notes() as notes:
        [view] = cisco_nxos.parse_hsrp(_hsrp(_hsrp_row(sh_group_state="Blocked", sh_preempt="unknown enum:<2>")), "r1")
    assert (view.state, view.preempt) == ("unknown", None)
    assert [line for _, line in notes.skipped_lines] == ["sh_group_state: Blocked", "sh_preempt: unknown enum:<2>"]
    assert notes.unreadable == []


def test_nxos_hsrp_msec_hello_and_secondaries_of_the_groups_family_only():
    row = _hsrp_row(sh_cur_hello=250, sh_cur_hello_attr="msec",
                    TABLE_grp_vip_sec={"ROW_grp_vip_sec": [{"sh_vip_sec": "198.18.11.1"}, {"sh_vip_sec": "0.0.0.64"}]})
    [view] = cisco_nxos.parse_hsrp(_hsrp(row), "r1")
    assert view.advert_interval == 0.25
    assert view.virtual_addresses == ("198.18.10.1", "198.18.11.1")


def test_nxos_hsrp_output_without_its_table_is_an_error_never_no_groups():
    with pytest.raises(ParseError, match="^r1: .*no TABLE_grp_detail"):
        cisco_nxos.parse_hsrp(json.dumps({"TABLE_interface": {"ROW_interface": {"interface": "Vlan10"}}}), "r1")
    assert cisco_nxos.parse_hsrp("", "r1") == []  # the device printed nothing: no groups


def test_nxos_nxapi_replies_read_like_the_cli():
    body = json.loads(_hsrp(_hsrp_row()))
    ins_api = {"ins_api": {"outputs": {"output": {"input": "show hsrp", "msg": "Success", "code": "200", "body": body}}}}
    jsonrpc = {"jsonrpc": "2.0", "result": {"body": body}, "id": 1}
    for reply in (ins_api, jsonrpc):
        assert [v.vrid for v in cisco_nxos.parse_hsrp(json.dumps(reply), "r1")] == [10]
    failed = {"ins_api": {"outputs": {"output": {"input": "show hsrp", "msg": "Input CLI command error", "code": "400"}}}}
    with pytest.raises(ParseError, match="NX-API error 400"):
        cisco_nxos.parse_hsrp(json.dumps(failed), "r1")


def test_nxos_vrrpv3_ipv4_and_ipv6_groups_of_one_number_are_kept_apart():
    rows = [{"intf": "Vlan10", "id": 10, "af": "IPV4", "state": "Master", "priority": 120, "vip": "198.18.10.1",
             "adv": 1000, "preempt": "enabled", "m_addr": "198.18.10.2"},
            {"intf": "Vlan10", "id": 10, "af": "IPV6", "state": "Backup", "priority": 100, "vip": "fe80::10:1",
             "adv": 100, "preempt": "disabled", "m_addr": "fe80::10:3"}]
    views = cisco_nxos.parse_vrrpv3(json.dumps({"TABLE_grp": {"ROW_grp": rows}}), "r1")
    assert [(v.family, v.state, v.advert_interval, v.master_address, v.preempt) for v in views] == [
        (4, "master", 1.0, "198.18.10.2", True), (6, "backup", 0.1, "fe80::10:3", False)]


def test_nxos_vrrp_groups_as_nxapi_prints_them_one_table_per_row():
    """NX-API prints TABLE_vrrp_group as a list of tables of one row each (Ansible's nxos_vrrp reads it so)."""
    row = {"sh_if_index": "port-channel7.1105", "sh_group_id": 100, "sh_group_type": "IPV4", "sh_group_state": "Init",
           "sh_group_preempt": "Enable", "sh_vip_addr": "198.18.71.1", "sh_priority": 250, "sh_adv_interval": 1}
    other = dict(row, sh_if_index="Vlan20", sh_group_id=20, sh_group_state="Master")
    text = json.dumps({"TABLE_vrrp_group": [{"ROW_vrrp_group": row}, {"ROW_vrrp_group": other}]})
    views = cisco_nxos.parse_vrrp(text, "r1")
    assert [(v.interface, v.vrid, v.state, v.preempt, v.priority) for v in views] == [
        ("port-channel7.1105", 100, "init", True, 250), ("Vlan20", 20, "master", True, 250)]


class _ScriptedNxos(cisco_nxos.CiscoNxosDriver):
    """The driver's own read sequence over captured outputs (no session)."""

    def __init__(self, outputs: dict[str, str]):
        self.name = "r1"
        self._feature_off = set()
        self.outputs = outputs

    def run(self, command: str, timeout: float | None = None) -> str:
        return self.outputs[command]


def test_nxos_unreadable_vrrp_output_costs_only_vrrp_hsrp_still_read():
    driver = _ScriptedNxos({cisco_nxos.SHOW_VRRP: "garbage {", cisco_nxos.SHOW_VRRPV3: "",
                            cisco_nxos.SHOW_HSRP: _hsrp(_hsrp_row())})
    with collecting_notes() as notes:
        views = driver.get_vrrp()
    assert [(v.protocol, v.vrid) for v in views] == [("hsrp", 10)]
    assert [what for what, _ in notes.unreadable] == [cisco_nxos.SHOW_VRRP]


def test_nxos_nothing_readable_is_the_polls_failure():
    driver = _ScriptedNxos({cisco_nxos.SHOW_VRRP: "garbage {", cisco_nxos.SHOW_VRRPV3: "[1",
                            cisco_nxos.SHOW_HSRP: "nope {"})
    with pytest.raises(ParseError, match="^r1: "):
        driver.get_vrrp()


# -- EOS -----------------------------------------------------------------------------------------------

def _vr(**kw: object) -> dict:
    entry = {"interface": "Vlan10", "groupId": 10, "state": "master", "priority": 120, "preempt": True,
             "virtualIp": "198.18.10.1", "virtualIpSecondary": ["198.18.11.1"], "masterAddr": "198.18.10.2",
             "vrrpAdvertInterval": 1, "vrIdDisabled": False}
    entry.update(kw)
    return entry


def test_eos_vrrp_reads_secondaries_master_and_a_disabled_group_as_shut():
    views = arista_eos.parse_vrrp(json.dumps({"virtualRouters": [_vr(), _vr(groupId=20, state="stopped",
                                                                          vrIdDisabled=True)]}), "r1")
    assert views[0].document()["virtual_addresses"] == ["198.18.10.1", "198.18.11.1"]
    assert (views[0].master_address, views[0].advert_interval, views[0].preempt) == ("198.18.10.2", 1.0, True)
    assert (views[1].state, views[1].shutdown) == ("init", True)


def test_eos_vrrp_group_with_ipv4_and_ipv6_addresses_is_two_views():
    entry = _vr(virtualIpSecondary=[], virtualIpv6=["2001:2:0:10::1"])
    views = arista_eos.parse_vrrp(json.dumps({"virtualRouters": [entry]}), "r1")
    assert [(v.family, v.virtual_addresses) for v in views] == [(4, ("198.18.10.1",)), (6, ("2001:2:0:10::1",))]
    assert len({v.key for v in views}) == 2


def test_eos_vrrp_unknown_state_is_unknown_and_noted_and_eapi_replies_are_read():
    reply = {"jsonrpc": "2.0", "id": "1", "result": [{"virtualRouters": [_vr(state="transitioning")]}]}
    with collecting_notes() as notes:
        [view] = arista_eos.parse_vrrp(json.dumps(reply), "r1")
    assert view.state == "unknown" and notes.skipped_lines == [(arista_eos.SHOW_VRRP, "state: transitioning")]


def test_eos_vrrp_output_without_virtual_routers_is_an_error():
    with pytest.raises(ParseError, match="no virtualRouters"):
        arista_eos.parse_vrrp(json.dumps({"interfaces": {}}), "r1")


def test_eos_varp_views_are_varp_and_say_so():
    text = json.dumps({"virtualMacs": [{"macAddress": "00:1c:73:00:00:99", "macType": "varp"}],
                       "virtualRouters": [{"interface": "Vlan200", "state": "active", "virtualIps": [{"ip": "198.18.200.1"}]},
                                          {"interface": "Vlan210", "interfaceStatus": "up", "protocolStatus": "up",
                                           "virtualIps": ["198.18.210.1"]}]})
    views = arista_eos.parse_varp(text, "r1")
    assert [(v.protocol, v.vrid, v.state, v.virtual_addresses) for v in views] == [
        ("varp", 0, "master", ("198.18.200.1",)), ("varp", 0, "master", ("198.18.210.1",))]
    assert arista_eos.AristaEosDriver.parse_capture("vrrp", text) == views  # told apart from VRRP by its keys


# -- Junos ---------------------------------------------------------------------------------------------

XML_CASES = sorted((FIX / "juniper_junos" / "show_vrrp_detail_xml").glob("*.txt"))


@pytest.mark.parametrize("path", XML_CASES, ids=lambda p: p.stem)
def test_junos_vrrp_xml_reads_each_groups_own_fields(path):
    expected = json.loads(path.with_suffix(".expected.json").read_text())
    assert [v.document() for v in juniper_junos.parse_vrrp(path.read_text(), "r1")] == expected


def test_junos_vrrp_xml_cases_are_there():
    assert len(XML_CASES) >= 2


def test_junos_vrrp_xml_one_bad_group_is_reported_the_others_read():
    text = (FIX / "juniper_junos" / "show_vrrp_detail_xml" / "brief_ipv6_and_bad_group.txt").read_text()
    with collecting_notes() as notes:
        views = juniper_junos.parse_vrrp(text, "r1")
    assert len(views) == 3
    assert len(notes.unreadable) == 1 and "none" in notes.unreadable[0][1]
    assert notes.skipped_lines == [(juniper_junos.SHOW_VRRP, "vrrp-state: resigning")]


def test_junos_vrrp_xml_with_a_doctype_is_refused_never_expanded():
    text = '<!DOCTYPE x [<!ENTITY a "aaaa">]><vrrp-information><vrrp-interface><group>&a;</group></vrrp-interface></vrrp-information>'
    with pytest.raises(ParseError, match="^r1: "):
        juniper_junos.parse_vrrp(text, "r1")


def _junos_json(**fields: list[str]) -> str:
    vi = {name: [{"data": v} for v in values] for name, values in fields.items()}
    return json.dumps({"vrrp-information": [{"vrrp-interface": [vi]}]})


def test_junos_vrrp_json_splits_addresses_by_vip_count():
    text = _junos_json(**{"interface": ["ge-0/0/1.0", "ge-0/0/2.0"], "group": ["50", "60"],
                          "vrrp-state": ["master", "backup"], "vip-count": ["2", "1"],
                          "virtual-ip-address": ["198.18.50.1", "198.18.51.1", "198.18.60.1"]})
    views = juniper_junos.parse_vrrp(text, "r1")
    assert [v.virtual_addresses for v in views] == [("198.18.50.1", "198.18.51.1"), ("198.18.60.1",)]


def test_junos_vrrp_json_never_gives_an_address_to_the_wrong_group():
    """Three addresses for two groups and no vip-count: which is whose is unknowable in JSON."""
    text = _junos_json(**{"interface": ["ge-0/0/1.0", "ge-0/0/2.0"], "group": ["50", "60"],
                          "vrrp-state": ["master", "backup"],
                          "virtual-ip-address": ["198.18.50.1", "198.18.51.1", "198.18.60.1"]})
    with collecting_notes() as notes:
        views = juniper_junos.parse_vrrp(text, "r1")
    assert [v.virtual_addresses for v in views] == [(), ()]
    assert [v.state for v in views] == ["master", "backup"]
    assert len(notes.skipped_lines) == 1 and "virtual-ip-address" in notes.skipped_lines[0][1]


def test_junos_route_with_the_length_in_its_own_element():
    text = json.dumps({"route-information": [{"route-table": [{"rt": [{
        "rt-destination": [{"data": "198.18.4.0"}], "rt-prefix-length": [{"data": "24"}]}]}]}]})
    assert juniper_junos.parse_route(text, "198.18.4.0/24", "r1") is True
    assert juniper_junos.parse_route(text, "198.18.4.0/32", "r1") is False


# -- capture kinds ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("driver,kinds", [
    (cisco_nxos.CiscoNxosDriver, ("vrrp", "hsrp", "interfaces", "routes")),
    (arista_eos.AristaEosDriver, ("vrrp", "varp", "interfaces", "routes")),
    (juniper_junos.JuniperJunosDriver, ("vrrp", "interfaces", "routes")),
])
def test_capture_kinds_are_served_and_others_refused(driver, kinds):
    assert driver.CAPTURE_KINDS == kinds
    with pytest.raises(NotSupported, match="no kind 'bgp'"):
        driver.parse_capture("bgp", "{}")


def test_nxos_capture_of_vrrp_is_told_apart_from_vrrpv3():
    v2 = json.dumps({"TABLE_vrrp_group": {"ROW_vrrp_group": {"sh_if_index": "Vlan10", "sh_group_id": 10,
                                                             "sh_group_state": "Master", "sh_vip_addr": "198.18.10.1"}}})
    v3 = json.dumps({"TABLE_grp": {"ROW_grp": {"intf": "Vlan10", "id": 10, "af": "IPV4", "state": "Backup",
                                               "vip": "198.18.10.1"}}})
    assert [v.state for v in cisco_nxos.CiscoNxosDriver.parse_capture("vrrp", v2)] == ["master"]
    assert [v.state for v in cisco_nxos.CiscoNxosDriver.parse_capture("vrrp", v3)] == ["backup"]


def test_real_nxos_hsrp_capture_holds_both_families():
    """The NX-API capture of the corpus: group 1 on Ethernet4/1 in IPv4 and IPv6 (the case the old parser read as no groups)."""
    capture = CORPUS / "cisco_nxos" / "show_hsrp_detail_json" / "nxapi_pschou_show_hsrp.json"
    views = cisco_nxos.CiscoNxosDriver.parse_capture("hsrp", capture.read_text())
    assert sorted(v.key for v in views) == [("Ethernet4/1", "hsrp", 4, 1), ("Ethernet4/1", "hsrp", 6, 1)]


def test_nxos_vrrp_output_without_its_table_is_an_error_never_no_groups():
    with pytest.raises(ParseError, match="no TABLE_vrrp_group"):
        cisco_nxos.parse_vrrp(json.dumps({"TABLE_grp": {"ROW_grp": {"id": 1}}}), "r1")
    with pytest.raises(ParseError, match="no TABLE_grp"):
        cisco_nxos.parse_vrrpv3(json.dumps({"TABLE_vrrp_group": {"ROW_vrrp_group": {"sh_group_id": 1}}}), "r1")


def test_junos_vrrp_output_of_another_command_is_an_error_never_no_groups():
    with pytest.raises(ParseError, match="no vrrp-information"):
        juniper_junos.parse_vrrp(json.dumps({"interface-information": [{}]}), "r1")
    with pytest.raises(ParseError, match="no vrrp-information"):
        juniper_junos.parse_vrrp("<interface-information><physical-interface/></interface-information>", "r1")
