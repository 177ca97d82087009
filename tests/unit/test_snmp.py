"""SNMP probe: target construction, secrets, and the pure parsing of walks (no network)."""

from __future__ import annotations

from netha.inventory import SnmpProfile
from netha.log import SECRETS
from netha.observe.snmp import IF_DESCR, VRRP3_OPER, parse_if_map, parse_vrrp3, rebooted, target_from_profile


def test_v2c_target_resolves_and_registers_the_community(monkeypatch):
    monkeypatch.setenv("NETHA_T_COMM", "c0mmunity-x")
    t = target_from_profile("r1", "198.18.0.11", SnmpProfile(version="2c", community={"env": "NETHA_T_COMM"}))
    assert (t.version, t.community, t.port) == ("2c", "c0mmunity-x", 161)
    assert "c0mmunity-x" not in repr(t)
    assert SECRETS.redact("sent c0mmunity-x to r1") == "sent ******** to r1"


def test_v3_authpriv_target(monkeypatch):
    monkeypatch.setenv("NETHA_T_AUTH", "authkey123")
    monkeypatch.setenv("NETHA_T_PRIV", "privkey123")
    prof = SnmpProfile(version="3", user="netha", auth_protocol="sha256", auth_key={"env": "NETHA_T_AUTH"},
                       priv_protocol="aes", priv_key={"env": "NETHA_T_PRIV"})
    t = target_from_profile("r2", "198.18.0.12", prof)
    assert (t.user, t.auth_protocol, t.priv_protocol, t.auth_key, t.priv_key) == (
        "netha", "sha256", "aes", "authkey123", "privkey123")


def test_v3_auth_no_priv_target(monkeypatch):
    monkeypatch.setenv("NETHA_T_AUTH", "authkey123")
    prof = SnmpProfile(version="3", user="netha", auth_key={"env": "NETHA_T_AUTH"}, priv_protocol=None)
    assert target_from_profile("r2", "198.18.0.12", prof).priv_key is None


def test_if_descr_walk_maps_names_to_indexes():
    rows = [(f"{IF_DESCR}.1", "lo"), (f"{IF_DESCR}.2", "eth1"), (f"{IF_DESCR}.17", "eth2"), ("1.3.6.1.2.1.2.2.1.3.1", 24)]
    assert parse_if_map(rows) == {"lo": 1, "eth1": 2, "eth2": 17}


def test_vrrpv3_mib_rows_become_views():
    rows = [
        (f"{VRRP3_OPER}.6.2.11.1", 3), (f"{VRRP3_OPER}.7.2.11.1", 200),
        (f"{VRRP3_OPER}.6.3.12.1", 2), (f"{VRRP3_OPER}.7.3.12.1", 100),
        (f"{VRRP3_OPER}.6.3.12.2", 3),  # IPv6 row: ignored
    ]
    views = parse_vrrp3(rows, {2: "eth1", 3: "eth2"})
    assert [(v.vrid, v.interface, v.state, v.priority) for v in views] == [(11, "eth1", "master", 200), (12, "eth2", "backup", 100)]


def test_reboot_is_a_sysuptime_that_went_back():
    assert rebooted(1000.0, 5.0)
    assert not rebooted(1000.0, 1000.5)
    assert not rebooted(None, 5.0)


def test_snmp_interface_state_is_not_trusted_before_the_cli_answers():
    from netha.observe.observer import merge_interfaces

    # snmpd's cached "down" right after the link came back: no CLI reading yet -> no state at all.
    assert merge_interfaces(None, False, {"eth2": False}) == {}
    # The CLI failed: SNMP stands in.
    assert merge_interfaces(None, True, {"eth2": False}) == {"eth2": False}
    # A fresh CLI reading wins; SNMP only fills what it lacks.
    assert merge_interfaces({"eth2": True}, False, {"eth2": False, "eth9": True}) == {"eth2": True, "eth9": True}


def test_an_snmp_reading_expires_like_an_ssh_reading():
    from netha.observe.observer import expire
    from netha.observe.types import ProbeResult

    good = ProbeResult(True, 100.0)
    assert expire(good, 100.4, 0.5) is good
    old = expire(good, 101.0, 0.5)
    assert old is not None and not old.ok and "no answer for 1.0s" in (old.error or "")
    assert expire(good, 101.0, 0.5, at=100.8) is good  # arrived later than its own time says
    bad = ProbeResult(False, 0.0, "timed out")
    assert expire(bad, 1000.0, 0.5) is bad


def test_a_poll_asks_for_the_same_variables_made_once_and_reads_the_answer(monkeypatch):
    """Each OID's request variable is made (and resolved by pysnmp) once, then reused by every poll."""
    from pysnmp.hlapi import varbinds
    from pysnmp.hlapi.v3arch import asyncio as api
    from pysnmp.proto.rfc1902 import Integer, ObjectName, OctetString, TimeTicks

    from netha.observe.snmp import IF_OPER, SYS_NAME, SYS_UPTIME, SnmpPoller, SnmpTarget

    asked: list[tuple] = []

    async def fake_get_cmd(engine, auth, transport, context, *var_binds, **options):
        asked.append(var_binds)
        varbinds.CommandGeneratorVarBinds().make_varbinds(engine.cache, var_binds)  # resolved, as get_cmd does
        values = {SYS_UPTIME: TimeTicks(12345), SYS_NAME: OctetString("r1"), f"{IF_OPER}.2": Integer(1),
                  f"{IF_OPER}.3": Integer(2)}
        oids = [str(vb[0].get_oid()) for vb in var_binds]
        return None, 0, 0, [(ObjectName(o), values[o]) for o in oids]

    monkeypatch.setattr(api, "get_cmd", fake_get_cmd)
    poller = SnmpPoller([SnmpTarget("r1", "127.0.0.1", 16161, 1.0, 0, "2c", community="x")])
    try:
        poller._state["r1"].if_map = {"eth1": 2, "eth2": 3}  # learnt before (no walk)
        readings = [poller.poll({"r1": ("eth1", "eth2")}, vrrp=())["r1"] for _ in range(3)]
    finally:
        poller.close()
    assert all(r.result.ok for r in readings), readings[0].result
    assert (readings[-1].sys_uptime, readings[-1].sys_name, readings[-1].if_oper) == (123.45, "r1", {"eth1": True, "eth2": False})
    assert [str(vb[0].get_oid()) for vb in asked[0]] == [SYS_UPTIME, SYS_NAME, f"{IF_OPER}.2", f"{IF_OPER}.3"]
    assert all(a is b for a, b in zip(asked[0], asked[2]))  # the same objects, not made again
