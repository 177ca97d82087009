"""SNMP notifications received by netha (issue 14): decoding, attribution, acknowledgement, the wake-up
of a device's read, the receiver's robustness, and the event switches and counters shown to operators.

The datagrams are constructed with pysnmp's protocol modules as net-snmp's snmpd sends them
(``trap2sink``/``informsink``: sysUpTime.0, snmpTrapOID.0, then the notification's objects).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
from pathlib import Path

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto.api import v1, v2c

from netha.inventory import load_inventory
from netha.observe.notifications import (
    IF_DESCR, IF_INDEX, LINK_DOWN, LINK_UP, SNMP_TRAP_OID, SYS_UPTIME, VRRP3_NEW_MASTER, AuthFailure, Notification,
    NotificationError, NotificationReceiver, V3User, classify, decode,
)
from netha.observe.observer import Observer, ObserverOptions

LAB = Path(__file__).resolve().parents[2] / "inventories" / "lab.yml"
IF_ADMIN, IF_OPER = "1.3.6.1.2.1.2.2.1.7", "1.3.6.1.2.1.2.2.1.8"
VRRP3_MASTER_IP = "1.3.6.1.2.1.207.1.1.1.1.3"


def v2_notification(community: str, trap_oid: str, binds=(), inform: bool = False, request_id: int = 4242) -> bytes:
    pdu = v2c.InformRequestPDU() if inform else v2c.TrapPDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, request_id)
    v2c.apiPDU.set_varbinds(pdu, [(v2c.ObjectIdentifier(SYS_UPTIME), v2c.TimeTicks(81234)),
                                  (v2c.ObjectIdentifier(SNMP_TRAP_OID), v2c.ObjectIdentifier(trap_oid)), *binds])
    msg = v2c.Message()
    v2c.apiMessage.set_defaults(msg)
    v2c.apiMessage.set_community(msg, community)
    v2c.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


def link(trap_oid: str, ifindex: int, name: str, community: str = "c0mm", inform: bool = False) -> bytes:
    """As net-snmp's linkUpDownNotifications sends it: ifIndex, ifAdminStatus, ifOperStatus, then ifDescr."""
    return v2_notification(community, trap_oid, [
        (v2c.ObjectIdentifier(f"{IF_INDEX}.{ifindex}"), v2c.Integer(ifindex)),
        (v2c.ObjectIdentifier(f"{IF_ADMIN}.{ifindex}"), v2c.Integer(1)),
        (v2c.ObjectIdentifier(f"{IF_OPER}.{ifindex}"), v2c.Integer(2 if trap_oid == LINK_DOWN else 1)),
        (v2c.ObjectIdentifier(f"{IF_DESCR}.{ifindex}"), v2c.OctetString(name)),
    ], inform=inform)


def new_master(community: str = "c0mm") -> bytes:
    """keepalived's vrrpv3NewMaster through snmpd (AgentX): the master's address and the reason."""
    return v2_notification(community, VRRP3_NEW_MASTER, [
        (v2c.ObjectIdentifier(f"{VRRP3_MASTER_IP}.4.11.1"), v2c.OctetString(bytes([198, 18, 3, 21]))),
        (v2c.ObjectIdentifier("1.3.6.1.2.1.207.1.1.2.1.1.4.11.1"), v2c.Integer(1)),
    ])


def v1_trap(generic: int, agent: str, community: str = "c0mm", ifindex: int = 3) -> bytes:
    pdu = v1.TrapPDU()
    v1.apiTrapPDU.set_defaults(pdu)
    v1.apiTrapPDU.set_generic_trap(pdu, generic)
    v1.apiTrapPDU.set_agent_address(pdu, agent)
    v1.apiTrapPDU.set_varbinds(pdu, [(v1.ObjectIdentifier(f"{IF_INDEX}.{ifindex}"), v1.Integer(ifindex))])
    msg = v1.Message()
    v1.apiMessage.set_defaults(msg)
    v1.apiMessage.set_community(msg, community)
    v1.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


def receiver(seen: list) -> NotificationReceiver:
    return NotificationReceiver({"198.18.0.11": "r1", "198.18.0.21": "k1"}, {"c0mm": "lab-v2c"},
                                lambda device, note: seen.append(note), listen="127.0.0.1", port=0)


# -- decoding ------------------------------------------------------------------------------------------

def test_a_link_down_names_its_interface_by_ifdescr_and_ifindex():
    msg = decode(link(LINK_DOWN, 3, "eth2"))
    assert (msg.version, msg.pdu, msg.trap_oid) == ("2c", "trap", LINK_DOWN)
    assert classify(msg.trap_oid, msg.varbinds) == ("link-down", 3, "eth2")
    assert classify(*(lambda m: (m.trap_oid, m.varbinds))(decode(link(LINK_UP, 3, "eth2")))) == ("link-up", 3, "eth2")


def test_a_vrrpv3_new_master_names_the_interface_of_its_group():
    msg = decode(new_master())
    assert classify(msg.trap_oid, msg.varbinds) == ("vrrp-new-master", 4, "4")


def test_an_snmpv1_link_down_maps_to_the_v2_notification_and_carries_its_agent_address():
    msg = decode(v1_trap(2, "198.18.0.11"))
    assert (msg.version, msg.trap_oid, msg.agent_address) == ("1", LINK_DOWN, "198.18.0.11")
    assert classify(msg.trap_oid, msg.varbinds)[:2] == ("link-down", 3)


@pytest.mark.parametrize("data", [b"", b"garbage garbage", b"\x30\x03\x02\x01\x03", b"\x30\x82\xff\xff" + b"\0" * 8])
def test_garbage_and_snmpv3_are_refused_with_a_reason(data):
    with pytest.raises(NotificationError):
        decode(data)


def test_a_get_request_is_no_notification():
    pdu = v2c.GetRequestPDU()
    v2c.apiPDU.set_defaults(pdu)
    msg = v2c.Message()
    v2c.apiMessage.set_defaults(msg)
    v2c.apiMessage.set_community(msg, "c0mm")
    v2c.apiMessage.set_pdu(msg, pdu)
    with pytest.raises(NotificationError, match="not a notification"):
        decode(bytes(encoder.encode(msg)))


# -- the receiver ----------------------------------------------------------------------------------------

def test_a_notification_is_attributed_by_its_source_address():
    seen: list[Notification] = []
    r = receiver(seen)
    note = r.handle(link(LINK_DOWN, 3, "eth2"), ("198.18.0.11", 40000))
    assert note is not None and (note.device, note.kind, note.interface) == ("r1", "link-down", "eth2")
    assert seen == [note]
    st = r.stats()
    assert (st["received"], st["accepted"]) == (1, 1) and st["devices"]["r1"]["last"] == "link-down eth2"


def test_a_v1_trap_relayed_from_another_address_is_attributed_by_its_agent_address():
    seen: list[Notification] = []
    note = receiver(seen).handle(v1_trap(3, "198.18.0.21"), ("198.18.0.99", 162))
    assert note is not None and (note.device, note.kind) == ("k1", "link-up")


def test_bad_community_unknown_sender_and_garbage_are_counted_and_logged_once_per_sender(caplog):
    seen: list[Notification] = []
    r = receiver(seen)
    with caplog.at_level(logging.WARNING, logger="netha.observe.notifications"):
        for _ in range(3):
            assert r.handle(link(LINK_DOWN, 3, "eth2", community="wrong"), ("198.18.0.11", 1)) is None
            assert r.handle(link(LINK_DOWN, 3, "eth2"), ("198.18.0.77", 1)) is None
            assert r.handle(b"\x30\x01junk", ("198.18.0.11", 1)) is None
    st = r.stats()
    assert (st["bad_community"], st["unknown_sender"], st["malformed"], st["accepted"]) == (3, 3, 3, 0)
    assert seen == []
    assert len(caplog.records) == 3
    assert all("wrong" not in rec.getMessage() for rec in caplog.records)  # a community is never logged


def test_a_notification_of_no_interest_from_a_device_is_counted_and_wakes_nothing():
    seen: list[Notification] = []
    r = receiver(seen)
    note = r.handle(v2_notification("c0mm", "1.3.6.1.4.1.8072.4.0.2"), ("198.18.0.11", 1))  # net-snmp's shutdown
    assert note is not None and note.kind == "other" and seen == []
    assert r.stats()["ignored"] == 1


def test_an_inform_is_acknowledged_over_udp_and_garbage_does_not_stop_the_receiver():
    seen: list[Notification] = []
    r = NotificationReceiver({"127.0.0.1": "r1"}, {"c0mm": "lab-v2c"}, lambda d, n: seen.append(n),
                             listen="127.0.0.1", port=0)
    r.start()
    try:
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.settimeout(3)
        sender.sendto(b"\xff" * 40, ("127.0.0.1", r.port))
        sender.sendto(link(LINK_DOWN, 3, "eth2", inform=True), ("127.0.0.1", r.port))
        answer, _ = sender.recvfrom(65535)
        msg, _ = decoder.decode(answer, asn1Spec=v2c.Message())
        pdu = v2c.apiMessage.get_pdu(msg)
        assert pdu.isSameTypeWith(v2c.ResponsePDU()) and int(v2c.apiPDU.get_request_id(pdu)) == 4242
        deadline = time.monotonic() + 3
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [(n.device, n.kind, n.inform) for n in seen] == [("r1", "link-down", True)]
        st = r.stats()
        assert (st["state"], st["malformed"], st["informs_acked"]) == ("listening", 1, 1)
    finally:
        r.stop()
    assert r.stats()["state"] == "stopped" and not r._thread.is_alive()


def test_a_port_in_use_is_a_failed_receiver_that_says_why():
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    r = NotificationReceiver({}, {"c": "p"}, lambda d, n: None, listen="127.0.0.1", port=busy.getsockname()[1])
    with pytest.raises(Exception, match="bind"):
        r.start()
    assert r.stats()["state"] == "failed" and "bind" in r.stats()["error"]
    busy.close()


# -- the observer: a notification wakes the device's read; the switches ------------------------------------

def _lab(**controller):
    inv = load_inventory(LAB, check_secrets=False)
    return inv.model_copy(update={"controller": inv.controller.model_copy(update=controller)})


def test_a_notification_wakes_the_device_s_read_like_a_device_event():
    obs = Observer(_lab(), ObserverOptions(listener=False, snmp=False, reach=False, events=False))
    note = Notification("r1", "link-down", LINK_DOWN, "198.18.0.11", "eth2", 3, False, time.monotonic())
    obs._on_notification("r1", note)
    assert obs._workers["r1"].wakes == 1 and obs._workers["r2"].wakes == 0


def test_controller_events_false_runs_no_event_streams_and_netha_events_overrides_it(monkeypatch):
    monkeypatch.delenv("NETHA_EVENTS", raising=False)
    assert Observer(_lab(), ObserverOptions(listener=False, snmp=False, reach=False)).events.streams
    assert not Observer(_lab(events=False), ObserverOptions(listener=False, snmp=False, reach=False)).events.streams
    monkeypatch.setenv("NETHA_EVENTS", "1")
    assert Observer(_lab(events=False), ObserverOptions(listener=False, snmp=False, reach=False)).events.streams
    monkeypatch.setenv("NETHA_EVENTS", "0")
    assert not Observer(_lab(), ObserverOptions(listener=False, snmp=False, reach=False)).events.streams


def test_the_lab_inventory_accepts_notifications_with_its_v2c_profile_only():
    from netha.inventory.model import Notifications
    from netha.observe.notifications import receiver_for

    inv = _lab(notifications=Notifications(profiles=["nosuch"]))
    with pytest.raises(Exception, match="nosuch"):
        receiver_for(inv, lambda d, n: None)


def test_event_streams_and_the_receiver_are_exported_as_metrics_and_in_status_json():
    from prometheus_client import generate_latest

    from netha.controller.metrics import Metrics
    from netha.observe.events import EventStreamStats

    now = time.monotonic()
    streams = [EventStreamStats("r1", "up", None, 2, 7, now - 5, now - 1.5, "link eth2 down"),
               EventStreamStats("k1", "down", "silent", 4, 0, now, None, None)]
    seen: list[Notification] = []
    r = receiver(seen)
    r.handle(link(LINK_DOWN, 3, "eth2"), ("198.18.0.11", 1))
    m = Metrics()
    m.watch_events(lambda: streams)
    m.watch_notifications(r.stats)
    text = generate_latest(m.registry).decode()
    assert 'netha_event_stream_up{device="r1"} 1.0' in text and 'netha_event_stream_up{device="k1"} 0.0' in text
    assert 'netha_event_stream_restarts_total{device="k1"} 4.0' in text
    assert 'netha_snmp_notifications_total{outcome="accepted"} 1.0' in text
    assert 'netha_snmp_notifications_device_total{device="r1"} 1.0' in text

    from netha.health import assess
    from netha.observe.types import Snapshot
    from netha.report import status_document

    inv = _lab()

    class Running:
        def event_stats(self):
            return streams

        def notification_stats(self):
            return r.stats()

    snap = Snapshot(at=now, wall=time.time(), devices={}, adverts=(), listening=(), arp={})
    doc = status_document(inv, snap, assess(inv, snap), leader=_no_leader(), observer=Running())
    assert doc["devices"]["r1"]["events"]["state"] == "up" and doc["devices"]["r1"]["events"]["restarts"] == 2
    assert doc["devices"]["k1"]["events"]["error"] == "silent" and doc["devices"]["r2"]["events"] is None
    assert doc["notifications"]["accepted"] == 1 and doc["notifications"]["devices"]["r1"]["received"] == 1
    plain = status_document(inv, snap, assess(inv, snap), leader=_no_leader())
    assert plain["notifications"] is None and plain["devices"]["r1"]["events"] is None


def _no_leader():
    from netha.coordination.base import LeaderView

    return LeaderView("file", None, (), True, "")


# -- captured from real senders (tests/unit/fixtures/snmp-notifications/README.md) --------------------------

CAPTURED = Path(__file__).parent / "fixtures" / "snmp-notifications"


def _captured(name: str) -> bytes:
    return bytes.fromhex((CAPTURED / f"{name}.hex").read_text().strip())


def test_net_snmp_s_link_down_and_up_name_the_interface_and_wake_the_sender():
    seen: list[Notification] = []
    r = NotificationReceiver({"127.0.0.1": "r1"}, {"c0mmunity": "lab-v2c"}, lambda d, n: seen.append(n))
    for name in ("netsnmp-5.9.3-coldstart", "netsnmp-5.9.3-linkdown", "netsnmp-5.9.3-linkup"):
        r.handle(_captured(name), ("127.0.0.1", 41234))
    assert [(n.device, n.kind, n.interface, n.ifindex) for n in seen] == [
        ("r1", "link-down", "v1", 2), ("r1", "link-up", "v1", 2)]
    st = r.stats()
    assert (st["accepted"], st["ignored"]) == (2, 1)  # coldStart: counted, no wake-up


def test_a_captured_notification_with_another_community_is_refused():
    seen: list[Notification] = []
    r = NotificationReceiver({"127.0.0.1": "r1"}, {"other": "lab-v2c"}, lambda d, n: seen.append(n))
    assert r.handle(_captured("netsnmp-5.9.3-linkdown"), ("127.0.0.1", 41234)) is None
    assert seen == [] and r.stats()["bad_community"] == 1


V3_USERS = {"netha": V3User("netha", "sha", "authpass123", "aes", "privpass123"),
            "nethaap": V3User("nethaap", "sha256", "authpass456")}


def test_snmpv3_traps_are_authenticated_and_decrypted_with_the_profile_s_user():
    msg = decode(_captured("netsnmp-5.9.3-snmptrap-v3-authpriv-sha-aes-linkdown"), V3_USERS)
    assert (msg.version, msg.user, msg.trap_oid) == ("3", "netha", LINK_DOWN)
    assert classify(msg.trap_oid, msg.varbinds) == ("link-down", 3, "eth2")
    msg = decode(_captured("netsnmp-5.9.3-snmptrap-v3-authnopriv-sha256-newmaster"), V3_USERS)
    assert (msg.user, classify(msg.trap_oid, msg.varbinds)) == ("nethaap", ("vrrp-new-master", 4, "4"))


@pytest.mark.parametrize("name,users,why", [
    ("netsnmp-5.9.3-snmptrap-v3-wrong-auth", V3_USERS, "wrong digest"),
    ("netsnmp-5.9.3-snmptrap-v3-wrong-priv", V3_USERS, "undecryptable"),
    ("netsnmp-5.9.3-snmptrap-v3-authpriv-sha-aes-linkdown", {}, "not accepted"),
    # the right user name with another passphrase, and one whose profile says authNoPriv
    ("netsnmp-5.9.3-snmptrap-v3-authpriv-sha-aes-linkdown", {"netha": V3User("netha", "sha", "other-pass", "aes", "privpass123")},
     "wrong digest"),
    ("netsnmp-5.9.3-snmptrap-v3-authpriv-sha-aes-linkdown", {"netha": V3User("netha", "sha", "authpass123")},
     "security level"),
])
def test_an_snmpv3_trap_that_does_not_authenticate_is_refused(name, users, why):
    with pytest.raises(AuthFailure, match=why):
        decode(_captured(name), users)


def test_the_receiver_counts_snmpv3_failures_as_bad_auth_and_accepts_the_good_ones():
    seen: list[Notification] = []
    r = NotificationReceiver({"198.18.0.11": "r1"}, {}, lambda d, n: seen.append(n), users=V3_USERS)
    for name in ("netsnmp-5.9.3-snmptrap-v3-wrong-auth", "netsnmp-5.9.3-snmptrap-v3-authpriv-sha-aes-linkdown",
                 "netsnmp-5.9.3-snmptrap-v3-wrong-priv"):
        r.handle(_captured(name), ("198.18.0.11", 162))
    assert [(n.device, n.kind) for n in seen] == [("r1", "link-down")]
    assert (r.stats()["bad_auth"], r.stats()["accepted"]) == (2, 1)


def test_keepalived_s_notifications_from_the_lab_wake_the_sender():
    """Captured in the lab: keepalived 2.2.7's vrrpv3NewMaster (RFC 6527, through AgentX and snmpd) from
    the new master k2, its KEEPALIVED-MIB state change from k1, and snmpd's linkDown from r1."""
    seen: list[Notification] = []
    r = NotificationReceiver({"198.18.0.11": "r1", "198.18.0.21": "k1", "198.18.0.22": "k2"},
                             {"lab-community-redacted00": "lab-v2c"}, lambda d, n: seen.append(n))
    r.handle(_captured("keepalived-2.2.7-vrrpv3-new-master"), ("198.18.0.22", 50000))
    r.handle(_captured("keepalived-2.2.7-vrrp-instance-state-change"), ("198.18.0.21", 50000))
    r.handle(_captured("lab-snmpd-5.9.3-linkdown-r1"), ("198.18.0.11", 50000))
    assert [(n.device, n.kind, n.interface) for n in seen] == [
        ("k2", "vrrp-new-master", "2"), ("k1", "vrrp-state-change", "klan"), ("r1", "link-down", "eth2")]
