"""gNMI event streams (issue 14): vendor devices' ON_CHANGE subscriptions wake reads.

The notifications are the recorded and constructed messages of tests/unit/fixtures/gnmi (README.md
there names each one's source), replayed by an in-process gNMI server over a real gRPC channel on the
loopback: the client, the channel, the stream's supervision and the platforms' parsers are netha's own.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from google.protobuf import text_format
from pygnmi.spec.v080 import gnmi_pb2, gnmi_pb2_grpc

import netha.observe.events as ev
import netha.observe.gnmi as gn
from netha.drivers import driver_class, supported_protocols
from netha.drivers.base import DeviceEvent
from netha.errors import InventoryError
from netha.inventory import load_inventory
from netha.observe.gnmi import GnmiEventStream, GnmiParams, decode_value, gnmi_params, path_elems, subscribe_request

FIX = Path(__file__).parent / "fixtures" / "gnmi"
USER, PASSWORD = "netha", "gnmi-test-pw-7"


def responses(name: str) -> list[gnmi_pb2.SubscribeResponse]:
    text = (FIX / name).read_text()
    return [text_format.Parse(part, gnmi_pb2.SubscribeResponse()) for part in text.split("\n---\n")]


SYNC = gnmi_pb2.SubscribeResponse(sync_response=True)
END, HOLD = "END", "HOLD"


class Replay(gnmi_pb2_grpc.gNMIServicer):
    """A gNMI server that answers each Subscribe with a script of recorded responses: the n-th
    connection plays ``scripts[n]`` (the last one again for later connections), then ends the call
    (``END``) or keeps it open until the client goes (``HOLD``)."""

    def __init__(self, scripts: list[list], password: str = PASSWORD):
        self.scripts = scripts
        self.password = password
        self.requests: list[gnmi_pb2.SubscribeRequest] = []
        self.connections = 0
        self.release = threading.Event()

    def Subscribe(self, request_iterator, context):  # noqa: N802 - the gRPC method's name
        n = self.connections
        self.connections += 1
        md = dict(context.invocation_metadata())
        if md.get("username") != USER or md.get("password") != self.password:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "authentication failed")
        self.requests.append(next(request_iterator))
        for step in self.scripts[min(n, len(self.scripts) - 1)]:
            if step == END:
                return
            if step == HOLD:
                break
            yield step
        while context.is_active() and not self.release.is_set():
            self.release.wait(0.05)


@pytest.fixture
def serve():
    running: list[tuple[grpc.Server, Replay]] = []

    def start(scripts: list[list], password: str = PASSWORD, credentials=None) -> tuple[Replay, int]:
        servicer = Replay(scripts, password)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        gnmi_pb2_grpc.add_gNMIServicer_to_server(servicer, server)
        address = "127.0.0.1:0"
        port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
        server.start()
        running.append((server, servicer))
        return servicer, port

    yield start
    for server, servicer in running:
        servicer.release.set()
        server.stop(0)


class Seen:
    """What a stream told its observer: events, up/down, and the stream's error at each change."""

    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self.states: list[bool] = []
        self.errors: list[str | None] = []
        self.stream: GnmiEventStream | None = None
        self._cond = threading.Condition()

    def on_event(self, device: str, event: DeviceEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def on_state(self, device: str, up: bool) -> None:
        with self._cond:
            self.states.append(up)
            self.errors.append(self.stream.stats().error if self.stream else None)
            self._cond.notify_all()

    def wait(self, predicate, timeout: float = 10.0) -> None:
        with self._cond:
            assert self._cond.wait_for(predicate, timeout), f"timed out: events {self.events}, states {self.states}"


def stream(port: int, seen: Seen, platform: str = "arista_eos", **params) -> GnmiEventStream:
    p = GnmiParams(device="sw1", host="127.0.0.1", port=port, tls=params.pop("tls", "insecure"), username=USER,
                   password=params.pop("password", PASSWORD), **params)
    s = GnmiEventStream("sw1", lambda: p, driver_class(platform).gnmi_subscription(), on_event=seen.on_event,
                        on_state=seen.on_state)
    seen.stream = s
    return s


@pytest.fixture
def started():
    streams: list[GnmiEventStream] = []

    def start(s: GnmiEventStream) -> GnmiEventStream:
        streams.append(s)
        s.start()
        return s

    yield start
    for s in streams:
        s.stop()


# -- over a real gRPC channel ------------------------------------------------------------------------

def test_on_change_updates_after_the_sync_are_events_the_initial_values_and_unknown_paths_are_not(serve, started):
    script = (responses("arista_eos/initial-sync.textproto") + responses("arista_eos/bgp-neighbor-state.textproto")
              + responses("arista_eos/ethernet1-down-up-port-channel3-deleted.textproto") + [HOLD])
    server, port = serve([script])
    seen = Seen()
    s = started(stream(port, seen))
    seen.wait(lambda: len(seen.events) == 3)
    assert seen.events == [DeviceEvent("link", "Ethernet1", "down"), DeviceEvent("link", "Ethernet1", "up"),
                           DeviceEvent("link", "Port-Channel3", "deleted")]
    assert seen.states == [True]
    stats = s.stats()
    assert (stats.state, stats.error, stats.events, stats.restarts) == ("up", None, 3, 0)
    assert stats.last_detail == "link Port-Channel3 deleted"
    assert s.ignored == 2  # the BGP neighbor notifications

    request = server.requests[0].subscribe
    assert request.mode == gnmi_pb2.SubscriptionList.Mode.STREAM and request.encoding == gnmi_pb2.Encoding.JSON
    assert {sub.mode for sub in request.subscription} == {gnmi_pb2.SubscriptionMode.ON_CHANGE}
    assert [gn.show_path(path_elems(None, sub.path)) for sub in request.subscription] == [
        "/interfaces/interface/state/oper-status",
        "/interfaces/interface/subinterfaces/subinterface/ipv4/addresses/address/vrrp/vrrp-group/state",
        "/interfaces/interface/routed-vlan/ipv4/addresses/address/vrrp/vrrp-group/state",
    ]
    assert all(sub.path.origin == "" for sub in request.subscription)  # EOS: OpenConfig is the default origin


def test_the_stream_is_starting_until_its_sync_response_and_down_when_none_comes(serve, started):
    server, port = serve([responses("arista_eos/initial-sync.textproto")[:1] + [HOLD]])  # the values, no sync
    seen = Seen()
    s = started(stream(port, seen, timeout=0.6))
    time.sleep(0.3)
    assert s.stats().state == "starting" and seen.states == [] and seen.events == []
    seen.wait(lambda: seen.states == [False])
    assert "not synchronised within 0.6s (no sync_response)" in seen.errors[0]


def test_a_server_that_ends_the_stream_is_reconnected_counted_and_the_device_polled_fast_meanwhile(serve, started, monkeypatch):
    monkeypatch.setattr(ev, "BACKOFF_MIN", 0.05)
    first = [SYNC] + responses("arista_eos/ethernet1-down-up-port-channel3-deleted.textproto")[:1] + [END]
    again = responses("arista_eos/initial-sync.textproto") + [HOLD]
    server, port = serve([first, again])
    seen = Seen()
    s = started(stream(port, seen))
    seen.wait(lambda: len(seen.states) == 3)
    assert seen.states == [True, False, True]  # up, down (on_state(False): the observer polls fast), up again
    assert "sw1: gNMI stream ended by the server" == seen.errors[1]
    assert seen.events == [DeviceEvent("link", "Ethernet1", "down")]
    stats = s.stats()
    assert stats.state == "up" and stats.error is None and stats.restarts == 1 and server.connections == 2


def test_a_refused_login_is_a_one_line_reason_down_and_retried_never_a_crash(serve, started, monkeypatch, caplog):
    monkeypatch.setattr(ev, "BACKOFF_MIN", 0.05)
    monkeypatch.setattr(ev, "BACKOFF_MAX", 0.05)
    server, port = serve([[SYNC, HOLD]], password="the-right-one")
    seen = Seen()
    with caplog.at_level(logging.DEBUG):
        s = started(stream(port, seen))
        seen.wait(lambda: seen.states == [False])
        deadline = time.monotonic() + 5
        while s.stats().restarts < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    error = seen.errors[0]
    assert error.startswith("sw1: gNMI login refused for user 'netha' (UNAUTHENTICATED: authentication failed")
    assert "\n" not in error and PASSWORD not in error
    assert s.running and s.stats().state == "down" and s.stats().restarts >= 2 and server.connections >= 2
    assert not any(PASSWORD in r.getMessage() for r in caplog.records)


def test_an_unreachable_server_is_down_with_its_address(started, monkeypatch):
    import socket

    monkeypatch.setattr(ev, "BACKOFF_MIN", 5.0)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nobody listens there
    seen = Seen()
    started(stream(port, seen))
    seen.wait(lambda: seen.states == [False])
    assert seen.errors[0].startswith(f"sw1: gNMI server 127.0.0.1:{port} unavailable (")


def test_a_repeated_value_and_an_idle_keepalive_are_no_events(serve, started):
    nxos = responses("cisco_nxos/eth1-1-down-keepalive-up.textproto")
    server, port = serve([[SYNC] + nxos + [nxos[2], HOLD]])  # the UP notification twice
    seen = Seen()
    s = started(stream(port, seen, platform="cisco_nxos"))
    seen.wait(lambda: len(seen.events) == 2)
    time.sleep(0.2)
    assert seen.events == [DeviceEvent("link", "eth1/1", "down"), DeviceEvent("link", "eth1/1", "up")]
    assert s.stats().events == 2 and s.ignored == 0
    request = server.requests[0].subscribe
    assert [sub.path.origin for sub in request.subscription] == ["openconfig"]  # NX-OS: OpenConfig by origin, no VRRP


def test_junos_proto_values_wake_link_and_vrrp_events_over_the_channel(serve, started):
    server, port = serve([[SYNC] + responses("juniper_junos/ge-0-0-1-down-vrrp-priority.textproto") + [HOLD]])
    seen = Seen()
    started(stream(port, seen, platform="juniper_junos"))
    seen.wait(lambda: len(seen.events) == 2)
    assert seen.events == [DeviceEvent("link", "ge-0/0/1", "down"),
                           DeviceEvent("vrrp", "ge-0/0/1.0", "ipv4 vrid 1 current-priority=90")]
    assert server.requests[0].subscribe.encoding == gnmi_pb2.Encoding.PROTO


def test_with_a_heartbeat_a_silent_stream_is_down(serve, started, monkeypatch):
    monkeypatch.setattr(gn, "QUIET_MIN", 0.2)
    server, port = serve([[SYNC, HOLD]])
    seen = Seen()
    started(stream(port, seen, heartbeat=0.1))
    seen.wait(lambda: seen.states[:2] == [True, False])
    assert seen.errors[1] == "sw1: gNMI stream silent for 0.2s (heartbeat 0.1s)"
    assert {sub.heartbeat_interval for sub in server.requests[0].subscribe.subscription} == {100_000_000}


def test_without_a_heartbeat_a_quiet_stream_stays_up_and_stop_ends_it_at_once(serve, started, monkeypatch):
    monkeypatch.setattr(gn, "QUIET_MIN", 0.1)
    server, port = serve([[SYNC, HOLD]])
    seen = Seen()
    s = started(stream(port, seen))
    seen.wait(lambda: seen.states == [True])
    time.sleep(0.4)
    assert s.stats().state == "up" and seen.states == [True]
    t0 = time.monotonic()
    s.stop()
    assert not s.running and time.monotonic() - t0 < 1.0 and seen.states == [True]  # stopping is no outage


def _self_signed(tmp_path: Path, name: str = "sw1.example.net") -> tuple[bytes, bytes, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pem)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()), pem, ca


def test_tls_skip_verify_takes_the_device_s_self_signed_certificate_and_verify_needs_its_ca(serve, started, tmp_path, monkeypatch):
    monkeypatch.setattr(ev, "BACKOFF_MIN", 5.0)
    key, pem, ca = _self_signed(tmp_path)
    server, port = serve([[SYNC, HOLD]], credentials=grpc.ssl_server_credentials([(key, pem)]))
    for tls, extra, up in (("skip-verify", {}, True), ("verify", {"ca": ca, "server_name": "sw1.example.net"}, True),
                           ("verify", {}, False)):
        seen = Seen()
        s = started(stream(port, seen, tls=tls, **extra))
        seen.wait(lambda: len(seen.states) == 1)
        assert seen.states == [up], (tls, extra, seen.errors)
        if not up:
            assert seen.errors[0].startswith(f"sw1: gNMI server 127.0.0.1:{port} unavailable (")
        s.stop()


# -- the platforms' data and parsers -------------------------------------------------------------------

def _parsed(platform: str, name: str) -> list[DeviceEvent | None]:
    parse = driver_class(platform).gnmi_subscription().parse
    out: list[DeviceEvent | None] = []
    for response in responses(name):
        note = response.update
        prefix = note.prefix if note.HasField("prefix") else None
        out += [parse(path_elems(prefix, p), None) for p in note.delete]
        out += [parse(path_elems(prefix, u.path), decode_value(u.val)) for u in note.update]
    return out


def test_eos_s_aggregated_state_container_reads_its_module_qualified_oper_status():
    assert _parsed("arista_eos", "arista_eos/ethernet1-state-container.textproto") == [
        DeviceEvent("link", "Ethernet1", "up")]


def test_ios_xe_json_ietf_vrrp_updates_and_the_group_s_delete_are_vrrp_events_other_paths_none():
    assert _parsed("cisco_xe", "cisco_xe/gi2-vrrp-priority-group-deleted.textproto") == [
        DeviceEvent("vrrp", "GigabitEthernet2", "ipv4 vrid 10 current-priority=90"),
        None,  # Loopback0's admin-status: not a path netha reads
        DeviceEvent("vrrp", "GigabitEthernet2", "ipv4 vrid 10 group deleted"),
    ]


def test_every_status_but_up_is_a_link_down_and_config_paths_are_not_read():
    parse = driver_class("arista_eos").gnmi_subscription().parse
    oper = (("interfaces", ()), ("interface", (("name", "Ethernet7"),)), ("state", ()), ("oper-status", ()))
    assert [parse(oper, v).detail for v in ("UP", "DOWN", "LOWER_LAYER_DOWN", "NOT_PRESENT", "DORMANT")] == [
        "up", "down", "down", "down", "down"]
    config = oper[:2] + (("config", ()), ("enabled", ()))
    assert parse(config, False) is None and parse(oper, 7) is None


def test_each_platform_s_subscription_carries_its_quirks_and_ios_has_none():
    expect = {  # port, origin, encoding, tls, VRRP paths
        "arista_eos": (6030, None, "json", "insecure", 2),
        "cisco_nxos": (50051, "openconfig", "json", "verify", 0),
        "juniper_junos": (32767, None, "proto", "insecure", 2),
        "cisco_xe": (9339, "openconfig", "json_ietf", "verify", 2),
    }
    for platform, (port, origin, encoding, tls, vrrp) in expect.items():
        sub = driver_class(platform).gnmi_subscription()
        assert (sub.port, sub.origin, sub.encoding, sub.tls, len(sub.vrrp_paths)) == (port, origin, encoding, tls, vrrp)
        assert sub.paths == ("/interfaces/interface/state/oper-status",)
        assert "gnmi" in supported_protocols()[platform]
    for platform in ("cisco_ios", "frr", "keepalived"):
        assert driver_class(platform).gnmi_subscription() is None and "gnmi" not in supported_protocols()[platform]
    sub = driver_class("cisco_xe").gnmi_subscription()
    p = GnmiParams("r9", "198.18.0.9", 9339, "verify", USER, PASSWORD, vrrp=False)
    request = subscribe_request(sub, p).subscribe
    assert len(request.subscription) == 1 and request.encoding == gnmi_pb2.Encoding.JSON_IETF
    assert PASSWORD not in repr(p)


# -- the inventory -------------------------------------------------------------------------------------

INVENTORY = """\
credentials:
  lab: {{username: netha, password: {{env: NETHA_TEST_GNMI_PW}}}}
  telemetry: {{username: gnmi-ro, password: {{env: NETHA_TEST_GNMI_PW}}}}
devices:
  sw1:
    host: 198.18.0.21
    platform: arista_eos
    credentials: lab
{gnmi}
  sw2: {{host: 198.18.0.22, platform: arista_eos, credentials: lab}}
"""


def _inventory(tmp_path: Path, gnmi: str, platform: str = "arista_eos", registry: bool = True):
    path = tmp_path / "inv.yml"
    path.write_text(INVENTORY.format(gnmi=gnmi).replace("platform: arista_eos\n    credentials",
                                                         f"platform: {platform}\n    credentials"))
    return path, load_inventory(path, platforms=supported_protocols() if registry else None)


def test_a_gnmi_block_turns_the_stream_on_with_the_platform_s_defaults_and_its_own_login(tmp_path, monkeypatch):
    monkeypatch.setenv("NETHA_TEST_GNMI_PW", PASSWORD)
    _, inv = _inventory(tmp_path, "    gnmi: {credentials: telemetry, heartbeat: 30}")
    p = gnmi_params(inv, "sw1")
    assert (p.host, p.port, p.tls, p.username, p.password, p.heartbeat, p.vrrp) == (
        "198.18.0.21", 6030, "insecure", "gnmi-ro", PASSWORD, 30.0, True)
    assert PASSWORD not in repr(p)
    assert inv.devices["sw2"].gnmi is None

    from netha.observe.observer import Observer, ObserverOptions

    monkeypatch.delenv("NETHA_EVENTS", raising=False)
    obs = Observer(inv, ObserverOptions(listener=False, snmp=False, reach=False, notifications=False))
    assert set(obs.events.streams) == {"sw1"} and isinstance(obs.events.streams["sw1"], GnmiEventStream)


@pytest.mark.parametrize(("gnmi", "platform", "line", "message"), [
    ("    gnmi: {credentials: nosuch}", "arista_eos", 9, "device sw1: unknown credentials 'nosuch' for its gNMI stream"),
    ("    gnmi: {tls: insecure, ca: ca.pem}", "arista_eos", 9, "ca: only with `tls: verify` (tls is insecure)"),
    ("    gnmi: {port: 70000}", "arista_eos", 9, "port"),
    ("    gnmi: {}", "cisco_ios", 9, "device sw1: platform cisco_ios has no gNMI event stream (gnmi: is for arista_eos, "
                                    "cisco_nxos, cisco_xe, juniper_junos)"),
])
def test_a_wrong_gnmi_block_is_one_line_naming_the_file_line_and_device(tmp_path, monkeypatch, gnmi, platform, line, message):
    monkeypatch.setenv("NETHA_TEST_GNMI_PW", PASSWORD)
    with pytest.raises(InventoryError) as info:
        _inventory(tmp_path, gnmi, platform)
    problems = [p for p in info.value.problems if message in p]
    assert problems, info.value.problems
    assert problems[0].startswith(f"{tmp_path / 'inv.yml'}:{line}: ") and "\n" not in problems[0]


def test_in_the_observer_an_event_wakes_the_device_s_read_and_a_broken_stream_polls_it_fast(serve, tmp_path, monkeypatch):
    monkeypatch.setenv("NETHA_TEST_GNMI_PW", PASSWORD)
    monkeypatch.delenv("NETHA_EVENTS", raising=False)
    monkeypatch.setattr(ev, "BACKOFF_MIN", 0.05)
    first = [SYNC] + responses("arista_eos/ethernet1-down-up-port-channel3-deleted.textproto")[:1] + [END]
    server, port = serve([first, [HOLD]])  # the second connection never synchronises
    _, inv = _inventory(tmp_path, f"    gnmi: {{port: {port}, timeout: 30}}")
    inv = inv.model_copy(update={"devices": {**inv.devices, "sw1": inv.devices["sw1"].model_copy(update={"host": "127.0.0.1"})}})

    from netha.observe.observer import FAST_POLL, Observer, ObserverOptions

    obs = Observer(inv, ObserverOptions(listener=False, snmp=False, reach=False, notifications=False))
    worker = obs._workers["sw1"]
    obs.events.start()
    try:
        deadline = time.monotonic() + 10
        while (server.connections < 2 or obs.events.up("sw1") is not False) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert worker.wakes == 1  # Ethernet1 down: one read brought forward, no verdict
        assert obs.events.up("sw1") is False and worker.interval == min(inv.controller.poll_interval, FAST_POLL)
        assert obs.event_stats()[0].error == "sw1: gNMI stream ended by the server"
        assert obs._workers["sw2"].wakes == 0 and obs.events.up("sw2") is None
    finally:
        obs.stop()
