"""gNMI event streams: a vendor device's ON_CHANGE subscription wakes a read at each change.

The vendor platforms (EOS, NX-OS, Junos, IOS-XE) have no shell to run ``ip monitor`` in; their gNMI
servers push a notification when an interface's oper-status or (where the platform's OpenConfig
models it) a VRRP group's state changes. A device with a ``gnmi:`` block in the inventory gets one
long-lived ``Subscribe`` (``STREAM`` mode, every path ``ON_CHANGE``; the paths and the platform's
quirks are its driver's data, :meth:`~netha.drivers.base.NetworkDriver.gnmi_subscription`), with
the same contract as :class:`~netha.observe.events.DeviceEventStream`:

- **an event wakes a read, never a verdict**: an update whose value differs from the last one seen at
  its path, or a delete, is parsed by the platform's function into a :class:`DeviceEvent` and handed
  to ``on_event``; the health model judges the reads it wakes as any poll (damping, corroboration).
  The values of the initial sync (before ``sync_response``) only seed what "last seen" means: the
  read that reconciles when the stream comes up covers them. A repeated value (a heartbeat resend)
  is no event. An unknown path is ignored.
- **up once the subscription is synchronised**: ``sync_response`` is the stream's "ready"; a
  subscription that sends none within the device's ``timeout`` (10 s) is counted down and retried.
- **a broken stream is reconnected with backoff and reported** (the shell streams' constants: 0.5 s
  doubling to 10 s), and ``on_state(device, False)`` makes the observer poll the device fast until it
  is up again. An authentication failure, an unreachable server, a TLS mismatch or a server that ends
  the stream are one-line reasons in ``status`` and the log; the password never is.
- **silence**: ON_CHANGE is quiet while nothing changes, so silence alone proves nothing. By default
  the stream's own state decides (a server that ends or resets the call, a GOAWAY, a connection that
  breaks) plus gRPC keepalive pings every 5 minutes (servers' default minimum: more often and a Go or
  C-core gNMI server answers ``too_many_pings`` and drops the connection), so a peer that vanished
  without a reset is found within 5 min 20 s, the reconciliation poll covering the meantime. A
  device whose server honours gNMI heartbeats can be given ``gnmi: {heartbeat: N}``: the values are
  repeated every N s (no events: the same values) and 2.5 x N s of silence counts the stream dead.

The client is grpcio with the gNMI protobuf modules of pygnmi (``pygnmi.spec.v080``, gNMI 0.8.0), not
pygnmi's own subscriber: its thread keeps the stream out of reach (an ended stream leaves the reader
blocked on a queue, an error is an attribute, close() half-closes instead of cancelling) and its
``connect()`` adds a Capabilities round trip and trusts a certificate it downloads. Here one thread
reads the call, ``stop()`` cancels it, and every end of the call is an exception with a reason.
"""

from __future__ import annotations

import json
import logging
import math
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from pygnmi.create_gnmi_path import gnmi_path_generator
from pygnmi.spec.v080 import gnmi_pb2, gnmi_pb2_grpc

from ..drivers.base import DeviceEvent, GnmiElem, GnmiSubscription, GnmiTls
from ..errors import CredentialError, NethaError
from .events import QUIET_MIN, EventSource

log = logging.getLogger(__name__)

# gRPC keepalive: a ping every 5 minutes (the least gRPC servers accept by default without calling the
# client abusive), 20 s for its answer.
KEEPALIVE_MS = 300_000
KEEPALIVE_TIMEOUT_MS = 20_000
MAX_MESSAGE = 16 * 1024 * 1024
_ENCODINGS = {"json": gnmi_pb2.Encoding.JSON, "json_ietf": gnmi_pb2.Encoding.JSON_IETF, "proto": gnmi_pb2.Encoding.PROTO}
_REASON = 160  # characters of a server's error text kept in a reason
_MISSING = object()


@dataclass(frozen=True)
class GnmiParams:
    """One device's gNMI connection: the inventory's ``gnmi:`` block over the platform's defaults."""

    device: str
    host: str
    port: int
    tls: GnmiTls
    username: str
    password: str = field(repr=False)
    ca: Path | None = None
    server_name: str | None = None
    heartbeat: float = 0.0
    vrrp: bool = True
    timeout: float = 10.0

    @property
    def target(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def gnmi_params(inv, device: str) -> GnmiParams:
    """``device``'s gNMI connection, its password resolved (and registered for redaction). Raises
    :class:`CredentialError` (one line, no secret) when the password cannot be read."""
    from ..drivers import driver_class
    from ..log import register_secret

    dev = inv.devices[device]
    settings = dev.gnmi
    sub = driver_class(dev.platform).gnmi_subscription()
    if settings is None or sub is None:
        raise NethaError(f"{device}: no gNMI event stream (platform {dev.platform}, `gnmi:` {'set' if settings else 'unset'})")
    cred_name = settings.credentials or dev.credentials
    cred = inv.credentials[cred_name]
    if cred.password is None:
        raise CredentialError(f"{device}: credentials {cred_name} have no password: gNMI logs in with a username and password")
    try:
        username, password = cred.resolve_username(), register_secret(cred.password.resolve())
    except CredentialError as exc:
        raise CredentialError(f"{device}: gNMI login (credentials {cred_name}): {exc}") from None
    return GnmiParams(
        device=device,
        host=str(dev.host),
        port=settings.port or sub.port,
        tls=settings.tls or sub.tls,
        username=username,
        password=password,
        ca=settings.ca,
        server_name=settings.server_name,
        heartbeat=settings.heartbeat,
        vrrp=settings.vrrp,
        timeout=settings.timeout,
    )


# -- messages ---------------------------------------------------------------------------------------

def subscribe_request(sub: GnmiSubscription, params: GnmiParams) -> gnmi_pb2.SubscribeRequest:
    """The one SubscribeRequest: STREAM mode, each of the platform's paths ON_CHANGE (its VRRP paths
    unless the device says ``vrrp: false``), with the heartbeat the device asks for."""
    paths = sub.paths + (sub.vrrp_paths if params.vrrp else ())
    heartbeat_ns = int(params.heartbeat * 1e9)
    subscriptions = []
    for xpath in paths:
        path = gnmi_path_generator(xpath)
        if sub.origin:
            path.origin = sub.origin
        subscriptions.append(gnmi_pb2.Subscription(path=path, mode=gnmi_pb2.SubscriptionMode.ON_CHANGE,
                                                   heartbeat_interval=heartbeat_ns))
    return gnmi_pb2.SubscribeRequest(subscribe=gnmi_pb2.SubscriptionList(
        subscription=subscriptions,
        mode=gnmi_pb2.SubscriptionList.Mode.STREAM,
        encoding=_ENCODINGS[sub.encoding],
        updates_only=False,  # the initial values come first: they seed the change detection
    ))


def _elem_name(name: str) -> str:
    """``openconfig-interfaces:interfaces`` -> ``interfaces`` (module prefixes as NX-OS and JSON_IETF targets send)."""
    return name.rsplit(":", 1)[-1]


def path_elems(prefix: gnmi_pb2.Path | None, path: gnmi_pb2.Path) -> tuple[GnmiElem, ...]:
    """A notification's prefix and one of its paths joined: (name, sorted keys) per element. Old
    targets' string ``element`` lists (gNMI < 0.4) are read too, without keys."""
    out: list[GnmiElem] = []
    for p in (prefix, path):
        if p is None:
            continue
        if p.elem:
            out.extend((_elem_name(e.name), tuple(sorted(e.key.items()))) for e in p.elem)
        else:
            out.extend((_elem_name(e), ()) for e in p.element)
    return tuple(out)


def show_path(elems: tuple[GnmiElem, ...]) -> str:
    return "/" + "/".join(name + "".join(f"[{k}={v}]" for k, v in keys) for name, keys in elems)


def decode_value(value: gnmi_pb2.TypedValue) -> object:
    """A TypedValue as Python: JSON values parsed, scalars as they are, a leaf-list as a list.
    ``Any``/``proto_bytes`` values (vendor protobufs) are kept as bytes: no platform netha reads sends them."""
    kind = value.WhichOneof("value")
    if kind in ("json_val", "json_ietf_val"):
        raw = getattr(value, kind)
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            return raw.decode(errors="replace")
    if kind == "leaflist_val":
        return [decode_value(v) for v in value.leaflist_val.element]
    if kind == "decimal_val":
        return value.decimal_val.digits / (10 ** value.decimal_val.precision)
    if kind == "any_val":
        return value.any_val.value
    if kind is None:
        return None
    return getattr(value, kind)


# -- transport --------------------------------------------------------------------------------------

def _certificate_names(pem: str) -> list[str]:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem.encode())
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += [str(n) for n in san.get_values_for_type(x509.DNSName)]
        names += [str(n) for n in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    names += [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    return names


def make_channel(params: GnmiParams) -> grpc.Channel:
    """The gRPC channel to the device's gNMI server. ``skip-verify`` trusts the certificate the server
    shows (fetched first, unverified) for this connection only: a device's self-signed certificate,
    encrypted but not authenticated."""
    options: list[tuple[str, object]] = [
        ("grpc.keepalive_time_ms", KEEPALIVE_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.enable_retries", 0),
    ]
    if params.tls == "insecure":
        return grpc.insecure_channel(params.target, options=options)
    root: bytes | None = None
    if params.tls == "verify":
        if params.ca is not None:
            try:
                root = params.ca.read_bytes()
            except OSError as exc:
                raise NethaError(f"{params.device}: gNMI CA file {params.ca} cannot be read: {exc.strerror}") from None
        if params.server_name:
            options.append(("grpc.ssl_target_name_override", params.server_name))
    else:  # skip-verify
        try:
            pem = ssl.get_server_certificate((params.host, params.port), timeout=params.timeout)
        except (OSError, ssl.SSLError) as exc:
            raise NethaError(f"{params.device}: gNMI server {params.target} shows no TLS certificate "
                             f"({type(exc).__name__}: {str(exc)[:80]})") from None
        root = pem.encode()
        try:
            names = _certificate_names(pem)
        except ValueError as exc:
            raise NethaError(f"{params.device}: gNMI server {params.target}: unreadable certificate ({exc})") from None
        options.append(("grpc.ssl_target_name_override", names[0] if names else params.host))
    return grpc.secure_channel(params.target, grpc.ssl_channel_credentials(root_certificates=root), options=options)


def _reason(device: str, params: GnmiParams, exc: grpc.RpcError) -> str:
    """A one-line reason for a call that failed (never the password: the server's text is cut, and
    the log filter redacts registered secrets anyway)."""
    code = exc.code() if hasattr(exc, "code") else None
    details = " ".join(str(exc.details() if hasattr(exc, "details") else exc).split())[:_REASON]
    name = code.name if code is not None else "UNKNOWN"
    if code == grpc.StatusCode.UNAUTHENTICATED or (code == grpc.StatusCode.PERMISSION_DENIED):
        return f"{device}: gNMI login refused for user {params.username!r} ({name}: {details})"
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"{device}: gNMI server {params.target} unavailable ({details})"
    if code in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND):
        return f"{device}: gNMI subscription refused ({name}: {details}; `gnmi: {{vrrp: false}}` drops the VRRP paths)"
    return f"{device}: gNMI stream failed ({name}: {details})"


# -- the stream -------------------------------------------------------------------------------------

class _Watchdog:
    """Cancels a call whose deadline passes (no sync in time; silence past the heartbeats). One thread
    per connection, asleep until the deadline: no tick."""

    def __init__(self, call: grpc.Call):
        self._call = call
        self._cond = threading.Condition()
        self._due = math.inf
        self._why = ""
        self._closed = False
        self.fired: str | None = None
        self._thread = threading.Thread(target=self._run, name="gnmi-watchdog", daemon=True)
        self._thread.start()

    def arm(self, due: float, why: str) -> None:
        with self._cond:
            self._due, self._why = due, why
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(2)

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                left = self._due - time.monotonic()
                if left <= 0:
                    self.fired = self._why
                    break
                self._cond.wait(None if left == math.inf else left)
        if self.fired is not None:
            self._call.cancel()


class GnmiEventStream(EventSource):
    """One device's gNMI ON_CHANGE subscription, read by one thread (see the module's docstring)."""

    what = "gNMI event stream"

    def __init__(
        self,
        device: str,
        params: Callable[[], GnmiParams],
        subscription: GnmiSubscription,
        on_event: Callable[[str, DeviceEvent], None],
        on_state: Callable[[str, bool], None] | None = None,
    ):
        super().__init__(device, on_event, on_state)
        self._params = params
        self._sub = subscription
        self._call: grpc.Call | None = None
        self._call_lock = threading.Lock()
        self.ignored = 0  # updates of paths the platform's parser does not read

    def _interrupt(self) -> None:
        with self._call_lock:
            call = self._call
        if call is not None:
            call.cancel()

    def quiet_after(self, params: GnmiParams) -> float:
        return max(QUIET_MIN, 2.5 * params.heartbeat) if params.heartbeat else math.inf

    def _connect_and_run(self) -> None:
        params = self._params()
        done = threading.Event()

        def requests() -> Iterator[gnmi_pb2.SubscribeRequest]:
            yield subscribe_request(self._sub, params)
            done.wait()  # the request side stays open: a half-close ends the subscription on some servers

        channel = make_channel(params)
        watchdog: _Watchdog | None = None
        try:
            stub = gnmi_pb2_grpc.gNMIStub(channel)
            metadata = (("username", params.username), ("password", params.password))
            with self._call_lock:
                if self._stop.is_set():
                    return
                call = stub.Subscribe(requests(), metadata=metadata)
                self._call = call
            watchdog = _Watchdog(call)
            watchdog.arm(time.monotonic() + params.timeout,
                         f"{self.device}: gNMI subscription not synchronised within {params.timeout:g}s (no sync_response)")
            try:
                self._read(call, params, watchdog)
            except grpc.RpcError as exc:
                if self._stop.is_set():
                    return
                if watchdog.fired is not None:
                    raise NethaError(watchdog.fired) from None
                raise NethaError(_reason(self.device, params, exc)) from None
            if self._stop.is_set():
                return
            if watchdog.fired is not None:
                raise NethaError(watchdog.fired)
            raise NethaError(f"{self.device}: gNMI stream ended by the server")
        finally:
            done.set()
            with self._call_lock:
                self._call = None
            if watchdog is not None:
                watchdog.close()
            channel.close()

    def _read(self, call, params: GnmiParams, watchdog: _Watchdog) -> None:
        seen: dict[tuple[GnmiElem, ...], object] = {}
        ready = False
        quiet = self.quiet_after(params)
        for response in call:
            now = time.monotonic()
            if ready and quiet != math.inf:
                watchdog.arm(now + quiet, f"{self.device}: gNMI stream silent for {quiet:.1f}s "
                                          f"(heartbeat {params.heartbeat:g}s)")
            kind = response.WhichOneof("response")
            if kind == "sync_response":
                if not ready:
                    ready = True
                    watchdog.arm(now + quiet if quiet != math.inf else math.inf,
                                 f"{self.device}: gNMI stream silent for {quiet:.1f}s (heartbeat {params.heartbeat:g}s)")
                    self._set_state("up")
                continue
            if kind == "error":  # deprecated in gNMI 0.7, still sent by older servers
                err = response.error
                raise NethaError(f"{self.device}: gNMI error {err.code}: {' '.join(err.message.split())[:_REASON]}")
            if kind != "update":
                continue  # an empty response: NX-OS's keepalive; extensions
            self._notification(response.update, seen, ready, now)

    def _notification(self, note: gnmi_pb2.Notification, seen: dict, ready: bool, now: float) -> None:
        prefix = note.prefix if note.HasField("prefix") else None
        for path in note.delete:
            elems = path_elems(prefix, path)
            for key in [k for k in seen if k[:len(elems)] == elems]:
                del seen[key]
            if ready:
                self._parsed(elems, None, now)
        for update in note.update:
            elems = path_elems(prefix, update.path)
            value = decode_value(update.val)
            if seen.get(elems, _MISSING) == value:
                continue  # a heartbeat's or a resync's repeat: no change
            seen[elems] = value
            if ready:
                self._parsed(elems, value, now)

    def _parsed(self, elems: tuple[GnmiElem, ...], value: object | None, now: float) -> None:
        try:
            event = self._sub.parse(elems, value)
        except Exception:  # noqa: BLE001 - a parser bug must not end the stream
            log.warning("%s: gNMI: parser failed on %s", self.device, show_path(elems)[:200], exc_info=True)
            event = None
        if event is None:
            with self._lock:
                self.ignored += 1
            log.debug("%s: gNMI: ignored %s", self.device, show_path(elems)[:200])
            return
        self._event(event, now)

