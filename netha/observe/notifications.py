"""SNMP notifications received by netha: a device's linkDown/linkUp or VRRPv3 notification wakes a read.

A receiver (``controller.notifications`` in the inventory) listens on one UDP socket in the
controller's namespace and decodes SNMPv1 traps, SNMPv2c traps and informs, and SNMPv3 traps
(USM: authNoPriv or authPriv with AES-128) with pysnmp's protocol modules, no engine: one blocking
thread, no timer, nothing to do while nothing arrives. A notification is accepted only with a
community or an SNMPv3 user of an accepted SNMP profile and from a device of the inventory (by its
source address, else by the agent address it names: a v1 trap's agent-addr or ``snmpTrapAddress``);
a v2c inform is acknowledged once accepted. Accepted notifications of interest:

- IF-MIB ``linkDown``/``linkUp`` (1.3.6.1.6.3.1.1.5.3/.4; ifIndex and ifDescr varbinds),
- VRRPv3 ``vrrpv3NewMaster``/``vrrpv3ProtoError`` (RFC 6527, 1.3.6.1.2.1.207.0.1/.2),
- keepalived's ``vrrpInstanceStateChange`` (KEEPALIVED-MIB; every instance that changes state sends it),

call ``on_notification(device, notification)``: the observer reads that device at once (the same
wake-up as a device event stream's, :mod:`netha.observe.events`). A notification is never a verdict:
the read it brings forward is damped and corroborated as any poll. Other notifications from a known
device are counted and ignored. Unknown senders, bad communities or SNMPv3 credentials, what is not
read (SNMPv3 informs) and garbage are counted and logged once per sender; nothing a sender sends can
stop the receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import NethaError

log = logging.getLogger(__name__)

SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SNMP_TRAP_ADDRESS = "1.3.6.1.6.3.18.1.3.0"  # snmpTrapAddress.0 (RFC 3584): the agent a notification is about
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
IF_INDEX = "1.3.6.1.2.1.2.2.1.1"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
LINK_UP = "1.3.6.1.6.3.1.1.5.4"
VRRP3_NEW_MASTER = "1.3.6.1.2.1.207.0.1"
VRRP3_PROTO_ERROR = "1.3.6.1.2.1.207.0.2"
VRRP3_MASTER_IP = "1.3.6.1.2.1.207.1.1.1.1.3"  # vrrpv3OperationsMasterIpAddr
VRRP3_NEW_MASTER_REASON = "1.3.6.1.2.1.207.1.1.2.1.1"  # vrrpv3StatisticsNewMasterReason (varbind prefix)
# keepalived's own MIB (KEEPALIVED-MIB vrrpInstanceStateChange): sent by every instance that changes state
# (the old master too, which RFC 6527's vrrpv3NewMaster leaves out).
KEEPALIVED_STATE_CHANGE = "1.3.6.1.4.1.9586.100.5.2.10.0.2"
KEEPALIVED_INSTANCE_NAME = "1.3.6.1.4.1.9586.100.5.2.3.1.2"  # vrrpInstanceName
KINDS = {LINK_DOWN: "link-down", LINK_UP: "link-up", VRRP3_NEW_MASTER: "vrrp-new-master",
         VRRP3_PROTO_ERROR: "vrrp-proto-error", KEEPALIVED_STATE_CHANGE: "vrrp-state-change"}
# SNMPv1 generic traps (RFC 3584 section 3.1): linkDown and linkUp are generic 2 and 3.
V1_GENERIC = {2: LINK_DOWN, 3: LINK_UP}
MAX_DATAGRAM = 65535


class NotificationError(NethaError):
    """A datagram that is no SNMP notification netha reads."""


class AuthFailure(NotificationError):
    """An SNMPv3 notification from no accepted user, or whose digest or encryption does not check."""


# SNMPv3 USM (RFC 3414, RFC 7860): the HMAC and its truncated length per authentication protocol.
AUTH = {"md5": (hashlib.md5, 12), "sha": (hashlib.sha1, 12), "sha224": (hashlib.sha224, 16),
        "sha256": (hashlib.sha256, 24), "sha384": (hashlib.sha384, 32), "sha512": (hashlib.sha512, 48)}


@dataclass(frozen=True)
class V3User:
    """An SNMPv3 user whose notifications (traps) are accepted: authNoPriv, or authPriv with AES-128."""

    name: str
    auth_protocol: str
    auth_key: str = field(repr=False)
    priv_protocol: str | None = None  # "aes" or None
    priv_key: str | None = field(default=None, repr=False)


class _Keys:
    """Localised keys (RFC 3414 A.2) per user and sender engine: 1 MB of hashing each, done once."""

    def __init__(self) -> None:
        self._cache: dict[tuple[V3User, bytes, str], bytes] = {}  # the whole user: its keys and protocols
        self._lock = threading.Lock()

    def get(self, user: V3User, engine_id: bytes, which: str) -> bytes:
        key = (user, engine_id, which)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        from pyasn1.type import univ
        from pysnmp.proto.secmod.rfc3414 import localkey

        secret = user.auth_key if which == "auth" else user.priv_key
        value = bytes(localkey.password_to_key(univ.OctetString(secret.encode()), univ.OctetString(engine_id),
                                               AUTH[user.auth_protocol][0]))
        with self._lock:
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = value
        return value


_KEYS = _Keys()


@dataclass(frozen=True)
class Decoded:
    """One datagram, decoded (no community check yet)."""

    version: str  # "1", "2c", "3"
    community: str = field(repr=False)
    pdu: str  # "trap", "inform"
    trap_oid: str
    varbinds: tuple[tuple[str, object], ...]
    agent_address: str | None  # a v1 trap's agent-addr, or snmpTrapAddress
    request_id: int | None = None
    user: str | None = None  # SNMPv3: the (authenticated) user


@dataclass(frozen=True)
class Notification:
    """An accepted notification, attributed to a device."""

    device: str
    kind: str  # link-down, link-up, vrrp-new-master, vrrp-proto-error, other
    trap_oid: str
    source: str  # the sender's address
    interface: str | None  # ifDescr (ifName), else the ifIndex as text; None when it names none
    ifindex: int | None
    inform: bool
    at: float  # monotonic

    @property
    def detail(self) -> str:
        return f"{self.kind} {self.interface or '-'}" + (f" ({self.trap_oid})" if self.kind == "other" else "")


# -- decoding (pure; unit-tested on constructed and recorded datagrams) --------------------------------
def decode(data: bytes, users: Mapping[str, V3User] | None = None) -> Decoded:
    """Decode one datagram; :class:`NotificationError` for garbage or a PDU that is no notification.
    An SNMPv3 message is authenticated (and decrypted) with ``users`` first (:class:`AuthFailure`)."""
    from pyasn1.codec.ber import decoder
    from pyasn1.error import PyAsn1Error
    from pysnmp.proto import api

    try:
        version = int(api.decodeMessageVersion(data))
    except Exception as exc:  # noqa: BLE001 - any garbage
        raise NotificationError(f"not SNMP: {type(exc).__name__}") from None
    if version == 3:
        return _decode_v3(data, users or {})
    if version not in api.PROTOCOL_MODULES:
        raise NotificationError(f"unknown SNMP version {version}")
    mod = api.PROTOCOL_MODULES[version]
    try:
        msg, rest = decoder.decode(data, asn1Spec=mod.Message())
        community = bytes(mod.apiMessage.get_community(msg)).decode("utf-8", "replace")
        pdu = mod.apiMessage.get_pdu(msg)
        if version == api.SNMP_VERSION_1:
            if not pdu.isSameTypeWith(mod.TrapPDU()):
                raise NotificationError(f"a v1 {type(pdu).__name__}, not a trap")
            binds = tuple((str(o), _py(v)) for o, v in mod.apiTrapPDU.get_varbinds(pdu))
            generic = int(mod.apiTrapPDU.get_generic_trap(pdu))
            enterprise = str(mod.apiTrapPDU.get_enterprise(pdu))
            specific = int(mod.apiTrapPDU.get_specific_trap(pdu))
            trap_oid = f"{enterprise}.0.{specific}" if generic == 6 else V1_GENERIC.get(generic, f"1.3.6.1.6.3.1.1.5.{generic + 1}")
            agent = str(mod.apiTrapPDU.get_agent_address(pdu).prettyPrint())
            return Decoded("1", community, "trap", trap_oid, binds, agent if agent != "0.0.0.0" else None)
        if pdu.isSameTypeWith(mod.TrapPDU()):
            kind = "trap"
        elif pdu.isSameTypeWith(mod.InformRequestPDU()):
            kind = "inform"
        else:
            raise NotificationError(f"a {type(pdu).__name__}, not a notification")
        binds = tuple((str(o), _py(v)) for o, v in mod.apiPDU.get_varbinds(pdu))
        request_id = int(mod.apiPDU.get_request_id(pdu))
    except NotificationError:
        raise
    except (PyAsn1Error, ValueError, TypeError, AttributeError, UnicodeError) as exc:
        raise NotificationError(f"malformed SNMP message: {type(exc).__name__}") from None
    values = dict(binds)
    trap_oid = values.get(SNMP_TRAP_OID)
    if not isinstance(trap_oid, str) or not trap_oid:
        raise NotificationError("no snmpTrapOID varbind")
    agent = values.get(SNMP_TRAP_ADDRESS)
    return Decoded("2c", community, kind, trap_oid, binds, agent if isinstance(agent, str) else None, request_id)


def _decode_v3(data: bytes, users: Mapping[str, V3User]) -> Decoded:
    """An SNMPv3 trap (USM): the user's digest checked, its scoped PDU decrypted (AES-128, RFC 3826).

    The sender is the authoritative engine of a trap: its keys are localised to the engine ID the
    message carries. Its boots and time are not held against a window: a replayed notification can
    only bring a read forward. Informs (where netha would be the authoritative engine) are not read."""
    from pyasn1.codec.ber import decoder
    from pyasn1.error import PyAsn1Error
    from pysnmp.proto.api import v2c
    from pysnmp.proto.mpmod.rfc3412 import ScopedPDU, SNMPv3Message
    from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters

    try:
        msg, _ = decoder.decode(data, asn1Spec=SNMPv3Message())
        header = msg["msgGlobalData"]
        flags = bytes(header["msgFlags"])[0]
        if int(header["msgSecurityModel"]) != 3:
            raise NotificationError(f"SNMPv3 security model {int(header['msgSecurityModel'])} (only USM)")
        sp, _ = decoder.decode(bytes(msg["msgSecurityParameters"]), asn1Spec=UsmSecurityParameters())
        engine_id = bytes(sp["msgAuthoritativeEngineId"])
        boots, etime = int(sp["msgAuthoritativeEngineBoots"]), int(sp["msgAuthoritativeEngineTime"])
        name = bytes(sp["msgUserName"]).decode("utf-8", "replace")
        digest = bytes(sp["msgAuthenticationParameters"])
        salt = bytes(sp["msgPrivacyParameters"])
        body = msg["msgData"]
        encrypted = body.getName() == "encryptedPDU"
        payload = bytes(body["encryptedPDU"]) if encrypted else None
        scoped = None if encrypted else body["plaintext"]
    except NotificationError:
        raise
    except (PyAsn1Error, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise NotificationError(f"malformed SNMPv3 message: {type(exc).__name__}") from None
    user = users.get(name)
    if user is None:
        raise AuthFailure(f"SNMPv3 user {name[:32]!r} is not accepted")
    if not flags & 0x01:
        raise AuthFailure(f"SNMPv3 user {name[:32]!r}: no authentication (noAuthNoPriv is not accepted)")
    if bool(flags & 0x02) != (user.priv_protocol is not None):
        raise AuthFailure(f"SNMPv3 user {name[:32]!r}: security level differs from its profile's")
    hash_func, length = AUTH[user.auth_protocol]
    at = data.find(digest) if len(digest) == length else -1
    if at < 0:
        raise AuthFailure(f"SNMPv3 user {name[:32]!r}: no {length}-byte digest")
    zeroed = data[:at] + b"\0" * length + data[at + length:]
    want = hmac.new(_KEYS.get(user, engine_id, "auth"), zeroed, hash_func).digest()[:length]
    if not hmac.compare_digest(want, digest):
        raise AuthFailure(f"SNMPv3 user {name[:32]!r}: wrong digest")
    try:
        if encrypted:
            if len(salt) != 8 or payload is None:
                raise AuthFailure(f"SNMPv3 user {name[:32]!r}: bad privacy parameters")
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

            try:  # CFB moved to "decrepit" in cryptography 44 (SNMP's AES is CFB128, RFC 3826)
                from cryptography.hazmat.decrepit.ciphers.modes import CFB
            except ImportError:  # pragma: no cover - older cryptography
                from cryptography.hazmat.primitives.ciphers.modes import CFB
            key = _KEYS.get(user, engine_id, "priv")[:16]
            iv = boots.to_bytes(4, "big") + etime.to_bytes(4, "big") + salt
            dec = Cipher(algorithms.AES(key), CFB(iv)).decryptor()
            scoped, _ = decoder.decode(dec.update(payload) + dec.finalize(), asn1Spec=ScopedPDU())
        pdu = scoped["data"].getComponent()
        if pdu.isSameTypeWith(v2c.InformRequestPDU()):
            raise NotificationError("an SNMPv3 inform (not read: send SNMPv3 traps, or v2c informs)")
        if not pdu.isSameTypeWith(v2c.TrapPDU()):
            raise NotificationError(f"a {type(pdu).__name__}, not a notification")
        binds = tuple((str(o), _py(v)) for o, v in v2c.apiPDU.get_varbinds(pdu))
    except NotificationError:
        raise
    except (PyAsn1Error, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise AuthFailure(f"SNMPv3 user {name[:32]!r}: undecryptable PDU ({type(exc).__name__})") from None
    values = dict(binds)
    trap_oid = values.get(SNMP_TRAP_OID)
    if not isinstance(trap_oid, str) or not trap_oid:
        raise NotificationError("no snmpTrapOID varbind")
    agent = values.get(SNMP_TRAP_ADDRESS)
    return Decoded("3", "", "trap", trap_oid, binds, agent if isinstance(agent, str) else None, user=name)


def inform_response(data: bytes) -> bytes:
    """The Response PDU that acknowledges an SNMPv2c inform (same request-id, community and varbinds)."""
    from pyasn1.codec.ber import decoder, encoder
    from pysnmp.proto.api import v2c

    msg, _ = decoder.decode(data, asn1Spec=v2c.Message())
    rsp = v2c.apiMessage.get_response(msg)
    pdu = v2c.apiMessage.get_pdu(rsp)
    v2c.apiPDU.set_varbinds(pdu, v2c.apiPDU.get_varbinds(v2c.apiMessage.get_pdu(msg)))
    return bytes(encoder.encode(rsp))


def classify(trap_oid: str, varbinds: tuple[tuple[str, object], ...]) -> tuple[str, int | None, str | None]:
    """(kind, ifIndex, interface name) of a notification."""
    kind = KINDS.get(trap_oid, "other")
    ifindex: int | None = None
    name: str | None = None
    for oid, value in varbinds:
        if oid.startswith(IF_INDEX + ".") and isinstance(value, int):
            ifindex = value
        elif (oid.startswith(IF_DESCR + ".") or oid.startswith(IF_NAME + ".")) and isinstance(value, str) and name is None:
            name = value
            if ifindex is None:
                ifindex = _last_int(oid)
        elif ifindex is None and oid.startswith("1.3.6.1.2.1.2.2.1.") and kind in ("link-down", "link-up"):
            ifindex = _last_int(oid)  # ifAdminStatus.N / ifOperStatus.N name the interface by their index
        elif (oid == KEEPALIVED_INSTANCE_NAME or oid.startswith(KEEPALIVED_INSTANCE_NAME + ".")) and isinstance(value, str) \
                and name is None:
            name = value  # keepalived's state change names its instance, not an interface
        elif ifindex is None and oid.startswith(VRRP3_MASTER_IP + "."):
            # vrrpv3OperationsMasterIpAddr.<ifIndex>.<vrid>.<addrtype>
            parts = oid[len(VRRP3_MASTER_IP) + 1:].split(".")
            ifindex = int(parts[0]) if parts and parts[0].isdigit() else None
    return kind, ifindex, name if name is not None else (str(ifindex) if ifindex is not None else None)


def _last_int(oid: str) -> int | None:
    tail = oid.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _py(value: object) -> object:
    from .snmp import _py as py

    return py(value)


# -- the receiver -------------------------------------------------------------------------------------
@dataclass
class _Sender:
    received: int = 0
    last_kind: str | None = None
    last_detail: str | None = None
    last_at: float | None = None


class NotificationReceiver:
    """One UDP socket, one thread blocked on it (and on a pipe that stops it)."""

    COUNTERS = ("received", "accepted", "informs_acked", "ignored", "unknown_sender", "bad_community",
                "bad_auth", "malformed", "unsupported", "errors")

    def __init__(self, hosts: Mapping[str, str], communities: Mapping[str, str],
                 on_notification: Callable[[str, Notification], None],
                 listen: str = "0.0.0.0", port: int = 162, users: Mapping[str, V3User] | None = None):
        """``hosts``: address -> device; ``communities``: accepted community -> its profile's name;
        ``users``: accepted SNMPv3 users by name."""
        self.hosts = {_norm(a): d for a, d in hosts.items()}
        self._communities = dict(communities)
        self._users = dict(users or {})
        self._on = on_notification
        self.listen, self.port = listen, port
        self.state = "stopped"
        self.error: str | None = None
        self.counters = dict.fromkeys(self.COUNTERS, 0)
        self.devices: dict[str, _Sender] = {}
        self._logged: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._pipe: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host = f"[{self.listen}]" if ":" in self.listen else self.listen
        return f"{host}:{self.port}"

    def start(self) -> None:
        """Bind and start; a bind failure is a :class:`NethaError` (and the state says why)."""
        family = socket.AF_INET6 if ":" in self.listen else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((self.listen, self.port))
        except OSError as exc:
            sock.close()
            self.state, self.error = "failed", f"bind {self.address}: {exc.strerror or exc}"
            raise NethaError(f"SNMP notification receiver: {self.error}") from None
        self._sock = sock
        self.port = sock.getsockname()[1]  # port 0: the one the kernel gave (tests)
        self._pipe = os.pipe()
        self.state, self.error = "listening", None
        self._thread = threading.Thread(target=self._loop, name="snmp-notifications", daemon=True)
        self._thread.start()
        log.info("SNMP notifications: listening on %s", self.address)

    def stop(self) -> None:
        if self._pipe is not None:
            os.write(self._pipe[1], b"x")
        if self._thread is not None:
            self._thread.join(3)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._pipe is not None:
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None
        if self.state == "listening":
            self.state = "stopped"

    def stats(self) -> dict:
        """State, counters and each device's last accepted notification (ages in seconds)."""
        now = time.monotonic()
        with self._lock:
            return {
                "listen": self.address, "state": self.state, "error": self.error, **self.counters,
                "devices": {d: {"received": s.received, "last": s.last_detail,
                                "age": None if s.last_at is None else round(now - s.last_at, 3)}
                            for d, s in sorted(self.devices.items())},
            }

    def _loop(self) -> None:
        assert self._sock is not None and self._pipe is not None
        sock, stop_fd = self._sock, self._pipe[0]
        while True:
            try:
                readable, _, _ = select.select([sock, stop_fd], [], [])  # no timeout: idle costs nothing
                if stop_fd in readable:
                    return
                data, addr = sock.recvfrom(MAX_DATAGRAM)
            except OSError as exc:
                with self._lock:
                    self.state, self.error = "failed", str(exc)
                log.warning("SNMP notifications: receiver stopped: %s", exc)
                return
            try:
                self.handle(data, addr)
            except Exception:  # noqa: BLE001 - nothing a sender sends may end the receiver
                self._count("errors")
                log.warning("SNMP notifications: handling a datagram from %s failed", addr[0], exc_info=True)

    def _count(self, key: str) -> None:
        with self._lock:
            self.counters[key] += 1

    def _once(self, sender: str, what: str, message: str, *args: object) -> None:
        """Log ``message`` once per sender and kind of problem (a flood logs one line)."""
        with self._lock:
            if (sender, what) in self._logged or len(self._logged) > 10000:
                return
            self._logged.add((sender, what))
        log.warning(message + " (logged once per sender)", *args)

    def device_of(self, source: str, agent: str | None) -> str | None:
        device = self.hosts.get(_norm(source))
        if device is None and agent:
            device = self.hosts.get(_norm(agent))
        return device

    def handle(self, data: bytes, addr: tuple) -> Notification | None:
        """One datagram from ``addr``: decode, check, attribute, acknowledge an inform, call back."""
        source = str(addr[0])
        self._count("received")
        try:
            msg = decode(data, self._users)
        except AuthFailure as exc:
            self._count("bad_auth")
            self._once(source, "auth", "SNMP notifications: refused %s's notification: %s", source, exc)
            return None
        except NotificationError as exc:
            unsupported = str(exc).startswith(("an SNMPv3 inform", "SNMPv3 security")) or "version" in str(exc)
            self._count("unsupported" if unsupported else "malformed")
            self._once(source, "decode", "SNMP notifications: dropped a datagram from %s: %s", source, exc)
            return None
        if msg.version != "3" and not any(hmac.compare_digest(msg.community.encode(), c.encode())
                                          for c in self._communities):
            self._count("bad_community")
            self._once(source, "community", "SNMP notifications: %s sent a community no accepted profile has", source)
            return None
        device = self.device_of(source, msg.agent_address)
        if device is None:
            self._count("unknown_sender")
            self._once(source, "sender", "SNMP notifications: %s (agent %s) is no device of the inventory",
                       source, msg.agent_address or "-")
            return None
        if msg.pdu == "inform" and self._sock is not None:
            try:
                self._sock.sendto(inform_response(data), addr)
                self._count("informs_acked")
            except OSError as exc:
                self._once(source, "ack", "SNMP notifications: acknowledging %s's inform failed: %s", source, exc)
        kind, ifindex, interface = classify(msg.trap_oid, msg.varbinds)
        now = time.monotonic()
        note = Notification(device, kind, msg.trap_oid, source, interface, ifindex, msg.pdu == "inform", now)
        with self._lock:
            self.counters["accepted" if kind != "other" else "ignored"] += 1
            s = self.devices.setdefault(device, _Sender())
            s.received += 1
            s.last_kind, s.last_detail, s.last_at = kind, note.detail, now
        if kind == "other":
            log.debug("%s: SNMP notification %s ignored", device, msg.trap_oid)
            return note
        log.info("%s: SNMP notification: %s", device, note.detail,
                 extra={"device": device, "event": "snmp-notification"})
        try:
            self._on(device, note)
        except Exception:  # noqa: BLE001
            log.warning("%s: notification callback failed", device, exc_info=True)
        return note


def _norm(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def receiver_for(inv, on_notification: Callable[[str, Notification], None]) -> NotificationReceiver | None:
    """The receiver ``controller.notifications`` asks for (None: not asked for); secrets resolved here."""
    from ..log import register_secret

    cfg = inv.controller.notifications
    if cfg is None:
        return None
    names = list(cfg.profiles) or sorted({d.snmp for d in inv.devices.values() if d.snmp})
    communities: dict[str, str] = {}
    users: dict[str, V3User] = {}
    for name in names:
        profile = inv.snmp.get(name)
        if profile is None:
            raise NethaError(f"controller.notifications.profiles: no SNMP profile {name!r} (snmp:)")
        if profile.version == "2c" and profile.community is not None:
            communities[register_secret(profile.community.resolve())] = name
            continue
        if profile.priv_protocol not in (None, "aes"):
            log.warning("SNMP notifications: profile %s: privacy %s is not read (aes or none only)", name,
                        profile.priv_protocol)
            continue
        user = profile.user if isinstance(profile.user, str) else profile.user.resolve() if profile.user else None
        if user is None or profile.auth_key is None:
            continue
        users[user] = V3User(user, profile.auth_protocol, register_secret(profile.auth_key.resolve()),
                             profile.priv_protocol,
                             register_secret(profile.priv_key.resolve()) if profile.priv_key is not None else None)
    if not communities and not users:
        raise NethaError("controller.notifications: no SNMP profile to accept notifications with "
                         "(list one in `profiles`)")
    hosts: dict[str, str] = {}
    for name, dev in inv.devices.items():
        try:
            for info in socket.getaddrinfo(str(dev.host), None, proto=socket.IPPROTO_UDP):
                hosts[str(info[4][0])] = name
        except OSError as exc:
            log.warning("SNMP notifications: %s: cannot resolve %s: %s", name, dev.host, exc)
    return NotificationReceiver(hosts, communities, on_notification, listen=str(cfg.listen), port=cfg.port,
                                users=users)
