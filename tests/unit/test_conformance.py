"""Conformance: every driver's parsers against every third-party capture of its platform (the corpus).

The model is NAPALM's getter test suite: ``tests/fixtures/<platform>/<command>/<case>.txt`` (or
``.json``) is a capture, ``<case>.expected.json`` what netha must read from it (or
``{"error": "<substring>"}`` when the output must be refused), ``<case>.source.yml`` where it came
from. A platform's driver module maps each command slug to the function a case runs through
(``CORPUS``). New captures are new test cases; nothing here names a case.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import yaml

from netha.drivers import platforms
from netha.drivers.base import collecting_notes
from netha.errors import ParseError

CORPUS_ROOT = Path(__file__).resolve().parents[1] / "fixtures"
MIN_THIRD_PARTY = 10

# Platforms whose driver reads with another platform's parsers: their captures are one pool for the
# guard below (IOS-XE's driver is the IOS driver: the same commands, the same output, one parser).
SAME_PARSERS = {"cisco_xe": "cisco_ios"}

# (platform, command slug) -> (third-party captures found, where was searched): commands for which
# the public world does not hold MIN_THIRD_PARTY captures with their expected data and a licence.
EXCEPTIONS: dict[tuple[str, str], tuple[int, str]] = {
    # ntc-templates tests/cisco_ios/show_ip_interface_brief (1), genieparser iosxe ShowIpInterfaceBrief (1);
    # ShowIpInterfaceBriefPipeIp is '| include <ip>' output; NAPALM ios mocked_data: 5 distinct captures
    # (get_facts' interface_list gives the names of 2; the rest is netha's reading, netha_filled).
    ("cisco_ios", "show_ip_interface_brief"): (7, "ntc-templates, genieparser ios/iosxe, NAPALM ios mocked_data (5)"),
    # genieparser ios/iosxe ShowIpRouteWord ('show ip route <address>'); ntc-templates has the full
    # table only (cisco_ios_show_ip_route), NAPALM ios none.
    ("cisco_ios", "show_ip_route"): (9, "genieparser ios/iosxe ShowIpRouteWord, ntc-templates, NAPALM ios"),
    # ntc-templates tests/cisco_ios/show_standby (4), genieparser ios (2) and iosxe (4, one the same
    # capture as an ios one) ShowStandbyAll; NAPALM ios has no HSRP getter.
    ("cisco_ios", "show_standby"): (9, "ntc-templates, genieparser ios/iosxe ShowStandbyAll, NAPALM ios"),
    # NX-OS: no public capture of 'show vrrp detail | json' / 'show vrrpv3 | json' (searched: NAPALM
    # nxos/nxos_ssh mocked_data, genieparser nxos tests (text ShowVrrp* none), ntc-templates (text only),
    # Ansible cisco.nxos unit fixtures, go-cisco-nx-api (greenpau, pschou), GitHub code search for
    # TABLE_vrrp_group / ROW_grp / sh_vip_addr: only code and hand-written test dicts).
    ("cisco_nxos", "show_vrrp_detail_json"): (0, "NAPALM, genieparser, ntc-templates, Ansible cisco.nxos, go-cisco-nx-api, code search"),
    ("cisco_nxos", "show_vrrpv3_json"): (0, "NAPALM, genieparser, ntc-templates, Ansible cisco.nxos, go-cisco-nx-api, code search"),
    # One NX-API capture (pschou/go-cisco-nx-api, in three envelopes: one capture) and one 'show hsrp | json' (nornir_validate); genieparser ShowHsrpAll
    # and ntc-templates cisco_nxos_show_hsrp_all hold the text form only.
    ("cisco_nxos", "show_hsrp_detail_json"): (2, "go-cisco-nx-api, nornir_validate (show hsrp | json), genieparser/ntc-templates (text only), Ansible cisco.nxos, code search"),
    ("cisco_nxos", "show_track"): (3, "genieparser nxos ShowTrack (3), ntc-templates (none)"),
    # EOS: 'show vrrp all | json' appears only as Python dicts in a test of a project whose repository and
    # licence could not be established (netapi); ANTA/pyeapi/NAPALM/Ansible arista.eos hold none.
    ("arista_eos", "show_vrrp_all_json"): (0, "NAPALM eos, ANTA, pyeapi, Ansible arista.eos, ntc-templates, code search"),
    # ANTA's 'show ip virtual-router' data is trimmed to virtualMacs (no virtualRouters): not a capture.
    # SuzieQ's vEOS topologies (3 distinct replies) configure no VARP address: virtualRouters is empty.
    ("arista_eos", "show_ip_virtual_router_json"): (3, "SuzieQ tests/integration/sqcmds (3, no groups), ANTA (trimmed), NAPALM eos, pyeapi, Ansible arista.eos, code search"),
    # Junos: no public 'show vrrp detail' reply in XML or JSON (netha reads VRRP as XML: JSON loses which
    # address is whose group); Juniper's docs show the text form only.
    ("juniper_junos", "show_vrrp_detail_display_xml"): (0, "NAPALM junos, PyEZ, jsnapy, Ansible junipernetworks.junos, genieparser, code search"),
    ("juniper_junos", "show_services_rpm_probe_results_display_json"): (1, "NAPALM junos test_get_probes_results (XML converted)"),
}
# IPv6 groups (issue 16): (platform, command slug) -> (third-party captures holding an IPv6 group, where was
# searched). The public world holds few: IOS-XE VRRPv3 (genieparser iosxe ShowVrrp golden_output3/5,
# ntc-templates cisco_ios_show_vrrpv3_all) and one NX-API HSRPv2 IPv6 row (pschou/go-cisco-nx-api); none for
# IOS 'show standby' (genieparser ios/iosxe ShowStandbyAll, genielibs hsrp ops, ntc-templates: IPv4 groups only;
# IPv6 appears in 'show standby brief' only), NX-OS 'show vrrpv3 | json', EOS 'show vrrp all | json' (NAPALM,
# ANTA, pyeapi, Ansible arista.eos, code search for virtualIpv6) or Junos XML (none at all). Hand-written IPv6
# cases (third_party: false) stand in for them, labelled so in their source.yml.
IPV6: dict[tuple[str, str], tuple[int, str]] = {
    ("cisco_ios", "show_vrrp_all"): (3, "genieparser iosxe ShowVrrp (2), ntc-templates cisco_ios show_vrrp_all (1)"),
    ("cisco_ios", "show_standby"): (0, "ntc-templates, genieparser ios/iosxe ShowStandbyAll, genielibs hsrp ops, NAPALM ios"),
    ("cisco_nxos", "show_hsrp_detail_json"): (1, "pschou/go-cisco-nx-api; genieparser/ntc-templates text only"),
    ("cisco_nxos", "show_vrrpv3_json"): (0, "NAPALM, genieparser, ntc-templates, Ansible cisco.nxos, go-cisco-nx-api, code search"),
    ("arista_eos", "show_vrrp_all_json"): (0, "NAPALM eos, ANTA, pyeapi, Ansible arista.eos, code search (virtualIpv6)"),
    ("juniper_junos", "show_vrrp_detail_display_xml"): (0, "NAPALM junos, PyEZ, jsnapy, junos_exporter, code search"),
}
# A platform's driver module may list its own exceptions the same way (``CORPUS_EXCEPTIONS``:
# command slug -> (count found, where searched)); they join the list above.


def _modules() -> dict[str, object]:
    out = {}
    for name in platforms():
        module = importlib.import_module(f"netha.drivers.{name}")
        corpus = getattr(module, "CORPUS", None)
        if corpus is not None:
            out[name] = module
    return out


MODULES = _modules()
for _name, _module in MODULES.items():
    for _slug, _why in getattr(_module, "CORPUS_EXCEPTIONS", {}).items():
        EXCEPTIONS.setdefault((SAME_PARSERS.get(_name, _name), _slug), _why)


def corpus_of(platform: str) -> dict:
    module = MODULES.get(platform) or MODULES.get(SAME_PARSERS.get(platform, ""))
    return getattr(module, "CORPUS", {}) if module is not None else {}


def _captures(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.suffix in (".txt", ".json") and not p.name.endswith(".expected.json"))


def _cases():
    for folder in sorted(p for p in CORPUS_ROOT.glob("*/*") if p.is_dir() and p.parent.name != "tools"):
        for capture in _captures(folder):
            yield pytest.param(folder.parent.name, folder.name, capture,
                               id=f"{folder.parent.name}/{folder.name}/{capture.stem}")


def _sorted(value: object) -> object:
    """Groups in a stable order (the corpus does not fix the order a device prints them in)."""
    if isinstance(value, list) and all(isinstance(v, dict) and "group" in v for v in value):
        return sorted(value, key=lambda d: (str(d["interface"]), str(d["protocol"]), d["family"], d["group"]))
    return value


CASES = list(_cases())


def test_the_corpus_is_there():
    assert len(CASES) >= 50, f"only {len(CASES)} captures under {CORPUS_ROOT}"


@pytest.mark.parametrize("platform,command,capture", CASES)
def test_driver_reads_the_capture_as_its_source_expects(platform, command, capture):
    corpus = corpus_of(platform)
    assert command in corpus, f"{platform}: no parser for the corpus folder {command!r} (CORPUS)"
    source = yaml.safe_load(capture.with_suffix(".source.yml").read_text())
    assert isinstance(source.get("third_party"), bool) and source.get("source") and source.get("licence"), capture
    expected = json.loads(capture.with_name(capture.stem + ".expected.json").read_text())
    text = capture.read_text()
    if isinstance(expected, dict) and set(expected) == {"error"}:
        with pytest.raises(ParseError, match=expected["error"]):
            corpus[command](text, "capture")
        return
    with collecting_notes() as notes:
        got = json.loads(json.dumps(corpus[command](text, "capture")))
    assert _sorted(got) == _sorted(expected)
    # A capture netha reads is never a group it could not understand.
    assert notes.unreadable == [], notes.unreadable


def _third_party(platform: str, command: str) -> int:
    pool = [platform] + [p for p, same in SAME_PARSERS.items() if same == platform]
    n = 0
    for p in pool:
        folder = CORPUS_ROOT / p / command
        if folder.is_dir():
            n += sum(1 for c in _captures(folder)
                     if yaml.safe_load(c.with_suffix(".source.yml").read_text()).get("third_party") is True)
    return n


GUARDED = sorted({(SAME_PARSERS.get(p, p), c) for p, m in MODULES.items() for c in m.CORPUS})


@pytest.mark.parametrize("platform,command", GUARDED, ids=lambda x: x if isinstance(x, str) else None)
def test_each_command_has_enough_third_party_captures(platform, command):
    found = _third_party(platform, command)
    if (platform, command) in EXCEPTIONS:
        listed, where = EXCEPTIONS[(platform, command)]
        assert found >= listed, f"{platform}/{command}: {found} captures, the exception says {listed} ({where})"
        return
    assert found >= MIN_THIRD_PARTY, f"{platform}/{command}: {found} third-party captures (< {MIN_THIRD_PARTY})"


def _ipv6_third_party(platform: str, command: str) -> int:
    pool = [platform] + [p for p, same in SAME_PARSERS.items() if same == platform]
    n = 0
    for p in pool:
        folder = CORPUS_ROOT / p / command
        for c in _captures(folder) if folder.is_dir() else []:
            expected = json.loads(c.with_name(c.stem + ".expected.json").read_text())
            if yaml.safe_load(c.with_suffix(".source.yml").read_text()).get("third_party") is True \
                    and isinstance(expected, list) and any(isinstance(g, dict) and g.get("family") == 6 for g in expected):
                n += 1
    return n


@pytest.mark.parametrize("platform,command", sorted(IPV6), ids=lambda x: x if isinstance(x, str) else None)
def test_ipv6_groups_have_the_third_party_captures_found_and_a_case_each(platform, command):
    listed, where = IPV6[(platform, command)]
    assert _ipv6_third_party(platform, command) >= listed, f"{platform}/{command}: fewer IPv6 captures than {listed} ({where})"
    # Every command netha reads IPv6 groups with has at least one case holding one (hand-written where none is public).
    pool = [platform] + [p for p, same in SAME_PARSERS.items() if same == platform]
    cases = [c for p in pool if (CORPUS_ROOT / p / command).is_dir() for c in _captures(CORPUS_ROOT / p / command)]
    assert any('"family": 6' in c.with_name(c.stem + ".expected.json").read_text() for c in cases), f"{platform}/{command}"
