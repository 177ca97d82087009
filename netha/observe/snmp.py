"""The SNMP probe (pysnmp 7, asyncio): every device polled concurrently from one event-loop thread.

A normal cycle is one GET per device (sysUpTime plus the ifOperStatus of the interfaces netha
tracks there) and, where the device has the VRRPv3 MIB (RFC 6527) and the caller asks for it
(the observer does while the device's SSH reading is missing), one walk of its status column. The ifDescr -> ifIndex map and the MIB's presence are learnt once per device and
re-learnt when a name is missing or the device rebooted.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import NethaError
from ..inventory import SnmpProfile
from ..log import register_secret
from .types import ProbeResult, VrrpView

log = logging.getLogger(__name__)

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
VRRP3_OPER = "1.3.6.1.2.1.207.1.1.1.1"  # vrrpv3OperationsEntry
VRRP3_STATUS = {1: "init", 2: "backup", 3: "master"}


@dataclass(frozen=True)
class SnmpTarget:
    device: str
    host: str
    port: int
    timeout: float
    retries: int
    version: str
    community: str | None = field(default=None, repr=False)
    user: str | None = None
    auth_protocol: str | None = None
    auth_key: str | None = field(default=None, repr=False)
    priv_protocol: str | None = None
    priv_key: str | None = field(default=None, repr=False)


def target_from_profile(device: str, host: str, profile: SnmpProfile) -> SnmpTarget:
    """Resolve the profile's secrets (and register them for redaction)."""
    def secret(ref) -> str | None:
        return register_secret(ref.resolve()) if ref is not None else None

    user = profile.user if isinstance(profile.user, str) or profile.user is None else profile.user.resolve()
    return SnmpTarget(
        device=device, host=host, port=profile.port, timeout=profile.timeout, retries=profile.retries,
        version=profile.version, community=secret(profile.community), user=user,
        auth_protocol=profile.auth_protocol if profile.version == "3" else None, auth_key=secret(profile.auth_key),
        priv_protocol=profile.priv_protocol if profile.version == "3" else None, priv_key=secret(profile.priv_key),
    )


@dataclass(frozen=True)
class SnmpReading:
    result: ProbeResult
    sys_uptime: float | None = None
    sys_name: str | None = None
    if_oper: dict[str, bool] = field(default_factory=dict)
    vrrp: tuple[VrrpView, ...] | None = None
    rebooted: bool = False


# -- pure helpers (unit-tested) --------------------------------------------------------------------
def parse_if_map(rows: Sequence[tuple[str, str]]) -> dict[str, int]:
    """ifDescr walk rows (oid, value) -> name -> ifIndex."""
    out = {}
    for oid, value in rows:
        if oid.startswith(IF_DESCR + "."):
            out[str(value)] = int(oid.rsplit(".", 1)[1])
    return out


def parse_vrrp3(rows: Sequence[tuple[str, object]], if_names: Mapping[int, str]) -> tuple[VrrpView, ...]:
    """vrrpv3OperationsTable rows (IPv4 only) -> one VrrpView per (ifIndex, VRID)."""
    cols: dict[tuple[int, int], dict[int, object]] = {}
    for oid, value in rows:
        if not oid.startswith(VRRP3_OPER + "."):
            continue
        parts = oid[len(VRRP3_OPER) + 1 :].split(".")
        if len(parts) < 4:
            continue
        col, ifindex, vrid, addrtype = int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3])
        if addrtype != 1:  # ipv4
            continue
        cols.setdefault((ifindex, vrid), {})[col] = value
    views = []
    for (ifindex, vrid), c in sorted(cols.items()):
        status = VRRP3_STATUS.get(int(c.get(6, 0) or 0), "unknown")
        prio = int(c[7]) if 7 in c else None
        interval = int(c[9]) / 100.0 if 9 in c else None
        master = c.get(3)
        views.append(VrrpView(
            vrid=vrid, interface=if_names.get(ifindex, str(ifindex)), state=status,  # type: ignore[arg-type]
            priority=prio, effective_priority=prio, advert_interval=interval,
            master_address=master if isinstance(master, str) and master else None,
        ))
    return tuple(views)


def rebooted(previous_uptime: float | None, uptime: float | None) -> bool:
    return previous_uptime is not None and uptime is not None and uptime + 1.0 < previous_uptime


# -- the poller --------------------------------------------------------------------------------------
IF_REWALK = 30.0  # seconds between walks of the interface table while a tracked interface is missing


class _DeviceState:
    def __init__(self) -> None:
        self.if_map: dict[str, int] = {}
        self.if_map_at = -1e9  # when the interface table was last walked (monotonic)
        self.vrrp_mib: bool | None = None
        self.uptime: float | None = None
        self.transport = None
        self.auth = None


class SnmpPoller:
    def __init__(self, targets: Sequence[SnmpTarget]):
        self.targets = {t.device: t for t in targets}
        self._state = {t.device: _DeviceState() for t in targets}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="snmp", daemon=True)
        self._thread.start()
        self._engine = None
        self._context = None  # one ContextData for every request (the default context; never changed)
        # Per OID, its request variable as pysnmp resolved it (against the MIB view, even with
        # lookupMib=False) the first time: a resolved one is not resolved again (a fifth of a GET's CPU).
        self._objects: dict[str, object] = {}

    def close(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def poll(self, requests: Mapping[str, Sequence[str]], vrrp: Collection[str] | None = None) -> dict[str, SnmpReading]:
        """Poll every requested device (device -> interface names) concurrently; never raises.
        ``vrrp``: the devices whose VRRPv3 MIB to walk (default: all; a walk is most of a poll)."""
        devices = [d for d in requests if d in self.targets]
        timeout = max((self._budget(self.targets[d]) for d in devices), default=1.0) + 1.0
        walk = set(devices) if vrrp is None else set(vrrp)
        fut = asyncio.run_coroutine_threadsafe(
            self._poll_all({d: tuple(requests[d]) for d in devices}, walk), self._loop)
        try:
            return fut.result(timeout)
        except Exception as exc:  # noqa: BLE001
            now = time.monotonic()
            return {d: SnmpReading(ProbeResult(False, now, f"SNMP cycle failed: {exc}")) for d in devices}

    @staticmethod
    def _budget(t: SnmpTarget) -> float:
        return t.timeout * (t.retries + 1) * 3

    async def _poll_all(self, requests: dict[str, tuple[str, ...]], walk: set[str]) -> dict[str, SnmpReading]:
        results = await asyncio.gather(*(self._poll_one(d, ifs, d in walk) for d, ifs in requests.items()))
        return dict(zip(requests, results))

    async def _poll_one(self, device: str, interfaces: tuple[str, ...], vrrp: bool = True) -> SnmpReading:
        t = self.targets[device]
        st = self._state[device]
        start = time.monotonic()
        try:
            reading = await asyncio.wait_for(self._read(t, st, interfaces, vrrp), self._budget(t))
        except asyncio.TimeoutError:
            now = time.monotonic()
            return SnmpReading(ProbeResult(False, now, f"SNMP to {t.host} timed out", now - start))
        except NethaError as exc:
            now = time.monotonic()
            return SnmpReading(ProbeResult(False, now, str(exc), now - start))
        except Exception as exc:  # noqa: BLE001 - a garbage answer must become a failed result
            now = time.monotonic()
            log.warning("%s: SNMP error: %s: %s", device, type(exc).__name__, exc)
            return SnmpReading(ProbeResult(False, now, f"SNMP error: {type(exc).__name__}: {exc}", now - start))
        return reading

    async def _session(self, t: SnmpTarget, st: _DeviceState):
        from pysnmp.hlapi.v3arch import asyncio as api

        if self._engine is None:
            self._engine = api.SnmpEngine()
        if st.transport is None:
            st.transport = await api.UdpTransportTarget.create((t.host, t.port), timeout=t.timeout, retries=t.retries)
        if st.auth is None:
            if t.version == "2c":
                st.auth = api.CommunityData(t.community, mpModel=1)
            else:
                auth = {"md5": api.usmHMACMD5AuthProtocol, "sha": api.usmHMACSHAAuthProtocol,
                        "sha224": api.usmHMAC128SHA224AuthProtocol, "sha256": api.usmHMAC192SHA256AuthProtocol,
                        "sha384": api.usmHMAC256SHA384AuthProtocol, "sha512": api.usmHMAC384SHA512AuthProtocol}
                priv = {"des": api.usmDESPrivProtocol, "aes": api.usmAesCfb128Protocol,
                        "aes192": api.usmAesCfb192Protocol, "aes256": api.usmAesCfb256Protocol, None: api.usmNoPrivProtocol}
                st.auth = api.UsmUserData(t.user, t.auth_key, t.priv_key if t.priv_protocol else None,
                                          authProtocol=auth[t.auth_protocol or "sha"], privProtocol=priv[t.priv_protocol])
        if self._context is None:
            self._context = api.ContextData()
        return api, self._engine, st.auth, st.transport

    def _object(self, api, oid: str):  # type: ignore[no-untyped-def]
        """OID's request variable (ObjectType), made once and kept (pysnmp resolves it once)."""
        obj = self._objects.get(oid)
        if obj is None:
            if len(self._objects) >= 4096:  # interface indexes that came and went: start over
                self._objects.clear()
            obj = self._objects[oid] = api.ObjectType(api.ObjectIdentity(oid))
        return obj

    async def _get(self, t: SnmpTarget, st: _DeviceState, oids: Sequence[str]) -> list[tuple[str, object]]:
        api, engine, auth, transport = await self._session(t, st)
        err_ind, err_status, err_index, binds = await api.get_cmd(
            engine, auth, transport, self._context, *(self._object(api, o) for o in oids),
            lookupMib=False,  # numeric OIDs in and out: resolving names against the MIBs cost most of the CPU
        )
        _raise_on(t, err_ind, err_status)
        return [(str(name), _py(value)) for name, value in binds]

    async def _walk(self, t: SnmpTarget, st: _DeviceState, root: str, limit: int = 2000) -> list[tuple[str, object]]:
        api, engine, auth, transport = await self._session(t, st)
        rows: list[tuple[str, object]] = []
        async for err_ind, err_status, _idx, binds in api.bulk_walk_cmd(
            engine, auth, transport, api.ContextData(), 0, 25, api.ObjectType(api.ObjectIdentity(root)),
            lexicographicMode=False, lookupMib=False,
        ):
            _raise_on(t, err_ind, err_status)
            for name, value in binds:
                rows.append((str(name), _py(value)))
            if len(rows) >= limit:
                break
        return rows

    async def _read(self, t: SnmpTarget, st: _DeviceState, interfaces: tuple[str, ...], want_vrrp: bool = True) -> SnmpReading:
        start = time.monotonic()
        missing = any(i not in st.if_map for i in interfaces) or not st.if_map
        if missing and (not st.if_map or start - st.if_map_at >= IF_REWALK):
            # A tracked interface the device does not list (yet) is looked for again now and then,
            # not at every poll: walking the interface table is most of an SNMP poll's cost.
            st.if_map = parse_if_map(await self._walk(t, st, IF_DESCR))
            st.if_map_at = start
        oids = [SYS_UPTIME, SYS_NAME] + [f"{IF_OPER}.{st.if_map[i]}" for i in interfaces if i in st.if_map]
        values = dict(await self._get(t, st, oids))
        uptime = values.get(SYS_UPTIME)
        uptime_s = float(uptime) / 100.0 if isinstance(uptime, int) else None
        was_rebooted = rebooted(st.uptime, uptime_s)
        if was_rebooted:
            st.if_map, st.vrrp_mib = {}, None
        st.uptime = uptime_s
        if_oper = {i: values.get(f"{IF_OPER}.{st.if_map[i]}") == 1 for i in interfaces if i in st.if_map}
        vrrp = None
        if want_vrrp and st.vrrp_mib is not False:
            rows = await self._walk(t, st, VRRP3_OPER + ".6")
            if rows:
                rows += await self._walk(t, st, VRRP3_OPER + ".7")
                names = {v: k for k, v in st.if_map.items()}
                vrrp = parse_vrrp3(rows, names)
            st.vrrp_mib = bool(rows)
        now = time.monotonic()
        name = values.get(SYS_NAME)
        return SnmpReading(ProbeResult(True, now, None, now - start), uptime_s, str(name) if name is not None else None,
                           if_oper, vrrp, was_rebooted)


def _raise_on(t: SnmpTarget, err_ind, err_status) -> None:
    if err_ind:
        text = str(err_ind)
        if "timeout" in text.lower() or "No SNMP response" in text:
            raise NethaError(f"SNMP to {t.host}: no response (timeout)")
        raise NethaError(f"SNMP to {t.host}: {text}")
    if err_status:
        raise NethaError(f"SNMP to {t.host}: {err_status.prettyPrint()}")


def _py(value: object) -> object:
    """pysnmp values to plain Python: ints, strings, None for noSuchObject/noSuchInstance/endOfMibView."""
    cls = type(value).__name__
    if cls in ("NoSuchObject", "NoSuchInstance", "EndOfMibView", "Null"):
        return None
    if cls == "IpAddress":
        return value.prettyPrint()  # type: ignore[attr-defined]
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(value.prettyPrint()) if hasattr(value, "prettyPrint") else str(value)  # type: ignore[attr-defined]
