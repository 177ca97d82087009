"""The leader lease on etcd v3, through etcd3gw (etcd's grpc-gateway, JSON over HTTP).

Why etcd3gw: it is maintained (OpenStack, releases in 2026), pure Python on ``requests`` (already a
dependency: no grpc or protobuf wheels to pin), and the grpc-gateway it talks to is served by every
etcd 3.x, Debian's 3.4 included (``/v3/``, found by asking ``/version``). python-etcd3 has had no
release since 2020 and breaks with current protobuf; aetcd is asyncio-only. etcd3gw has no
user/password login, so :class:`_AuthSession` adds it (``/v3/auth/authenticate``, the token sent as
``Authorization``, taken again when etcd says it expired); TLS is the session's ``verify``/``cert``.

Keys under the inventory's prefix P (nothing else is written):

- ``P/leader``: the leader's ID, bound to its lease: gone when the lease ends. Its create revision
  is the leadership's *lease revision*: the fencing token every plan carries.
- ``P/members/<ID>``: each controller's registration and last renewal, bound to its own lease.
- ``P/stepdown``: a request that the named leader hand over (``netha leader step-down``).

The loop (a thread, every ``loop_wait``): renew the lease (keepalive), then one transaction: if
``P/leader`` does not exist, create it (campaign), and in both cases write this controller's
member key and read the leader, the members and any step-down request. Two requests per loop, one
of them a write (the etcd write rate per controller is 1/loop_wait; ``bench/handover.py``).

Acting: a controller may act only while it holds ``P/leader`` *and* its last good renewal was sent
less than ``ttl - retry_timeout`` seconds ago; the lease ends no earlier than ``ttl`` after that
send, so a leader that cannot renew stops acting at least ``retry_timeout`` before its lease can
end (Patroni's rule, ``loop_wait + 2 x retry_timeout <= ttl``, checked by ``netha validate``).
Before every device push, :meth:`EtcdCoordinator.check` runs a transaction that compares
``P/leader``'s create revision with the plan's: a deposed or paused leader is refused there.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from etcd3gw import exceptions as etcd_exc
from etcd3gw.client import Etcd3Client
from etcd3gw.lease import Lease

from ..errors import LockHeld
from ..inventory.model import Coordination
from .base import ControllerInfo, CoordinationError, Coordinator, Fenced, LeaderView, Stats, Token, controllers_sorted

log = logging.getLogger(__name__)
T = TypeVar("T")


class EtcdUnavailable(CoordinationError):
    """No etcd endpoint answered within the retry timeout (down, cut off, or without quorum)."""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str | None) -> str:
    return base64.b64decode(text or "").decode(errors="replace")


def _prefix_end(prefix: str) -> str:
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return base64.b64encode(bytes(raw)).decode()


def _detail(exc: BaseException) -> str:
    """etcd's own words for a failed request (the gateway's JSON ``message``), on one line."""
    text = getattr(exc, "detail_text", None) or str(exc) or type(exc).__name__
    try:
        doc = json.loads(text)
        text = doc.get("message") or doc.get("error") or text
    except (ValueError, TypeError, AttributeError):
        pass
    return " ".join(str(text).split())[:200]


class _AuthSession(requests.Session):
    """A session that logs in to etcd with a user and password and sends the token it gets."""

    def __init__(self, user: str, password: str, auth_url: Callable[[], str], timeout: float):
        super().__init__()
        self._user, self._password, self._auth_url, self._timeout = user, password, auth_url, timeout
        self._token: str | None = None

    def _authenticate(self) -> None:
        url = self._auth_url()
        r = super().request("POST", url, json={"name": self._user, "password": self._password}, timeout=self._timeout)
        if r.status_code != 200:
            # Never the password; etcd's message names the problem ("authentication failed, invalid user ID or password").
            raise CoordinationError(f"etcd {urlsplit(url).netloc}: login as {self._user} refused: {_detail(_Wrapped(r.text))}")
        self._token = str(r.json().get("token", ""))
        self.headers["Authorization"] = self._token

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        path = url.decode() if isinstance(url, bytes) else url
        if path.endswith("/version"):
            return super().request(method, url, *args, **kwargs)
        if self._token is None:
            self._authenticate()
        r = super().request(method, url, *args, **kwargs)
        if r.status_code == 401 or "invalid auth token" in r.text[:300]:
            self._authenticate()  # the token expired (etcd's simple tokens do): once more with a new one
            r = super().request(method, url, *args, **kwargs)
        return r


class _Wrapped(Exception):
    def __init__(self, text: str):
        super().__init__(text)
        self.detail_text = text


class EtcdCluster:
    """The inventory's etcd endpoints; a request goes to the endpoint that answered last, and to the
    next ones when it cannot answer (down, cut off, no quorum), until the call's time budget is spent."""

    def __init__(self, cfg: Coordination, request_timeout: float, stats: Stats):
        self.cfg = cfg
        self.stats = stats
        self.request_timeout = request_timeout
        user = cfg.username if isinstance(cfg.username, str) or cfg.username is None else cfg.username.resolve()
        password = cfg.password.resolve() if cfg.password is not None else None
        tls = cfg.tls
        if tls is not None:
            for name in ("ca", "cert", "key"):
                path = getattr(tls, name)
                if path is not None and not os.access(path, os.R_OK):
                    raise CoordinationError(f"coordination.tls.{name}: {path} cannot be read")
        self.endpoints = list(cfg.endpoints)
        self.clients: list[Etcd3Client] = []
        for ep in self.endpoints:
            u = urlsplit(ep)
            if u.hostname is None or u.port is None:
                raise CoordinationError(f"coordination.endpoints: {ep!r} is not scheme://host:port")
            client: Etcd3Client
            if user is not None and password is not None:
                holder: list[Etcd3Client] = []
                session: requests.Session = _AuthSession(user, password, lambda h=holder: h[0].get_url("/auth/authenticate"),
                                                         request_timeout)
                client = Etcd3Client(u.hostname, u.port, u.scheme, timeout=request_timeout, session=session)
                holder.append(client)
            else:
                session = requests.Session()
                client = Etcd3Client(u.hostname, u.port, u.scheme, timeout=request_timeout, session=session)
            if tls is not None:
                if tls.ca is not None:
                    session.verify = str(tls.ca)
                if tls.cert is not None and tls.key is not None:
                    session.cert = (str(tls.cert), str(tls.key))
            self.clients.append(client)
        self._current = 0

    def call(self, what: str, fn: Callable[[Etcd3Client], T], budget: float, *, write: bool = False,
             keepalive: bool = False) -> T:
        deadline = time.monotonic() + budget
        errors: dict[str, str] = {}
        n = len(self.clients)
        i = 0
        while True:
            idx = (self._current + i) % n
            client = self.clients[idx]
            left = deadline - time.monotonic()
            client.timeout = max(0.05, min(self.request_timeout, left))
            try:
                out = fn(client)
            except (etcd_exc.ConnectionFailedError, etcd_exc.ConnectionTimeoutError, etcd_exc.InternalServerError,
                    etcd_exc.ApiVersionDiscoveryFailedError, requests.RequestException) as exc:
                self.stats.count(write=write, keepalive=keepalive, error=True)
                errors[self.endpoints[idx]] = _detail(exc)
            except etcd_exc.Etcd3Exception as exc:
                self.stats.count(write=write, keepalive=keepalive, error=True)
                raise CoordinationError(f"etcd {self.endpoints[idx]} refused {what}: {_detail(exc)}") from None
            else:
                self._current = idx
                self.stats.count(write=write, keepalive=keepalive)
                return out
            i += 1
            if time.monotonic() >= deadline:
                said = "; ".join(f"{ep}: {err}" for ep, err in errors.items())
                raise EtcdUnavailable(f"etcd: {what}: no endpoint answered within {budget:g}s ({said})")
            if i % n == 0:
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _kvs(response: dict[str, Any]) -> list[dict[str, Any]]:
    return list((response.get("response_range") or {}).get("kvs") or [])


def _json(kv: dict[str, Any]) -> dict[str, Any]:
    try:
        doc = json.loads(_unb64(kv.get("value")))
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


class EtcdCoordinator(Coordinator):
    backend = "etcd"

    def __init__(self, cfg: Coordination, controller_id: str, purpose: str = "netha run",
                 units: list[tuple[str, ...]] | None = None, all_units: list[tuple[str, ...]] | None = None):
        """Scope group: ``units`` are the sets of groups (sharing devices) this controller contends
        for, ``all_units`` every such set of the inventory (default: ``units``)."""
        super().__init__(controller_id)
        assert cfg.prefix is not None
        self.cfg = cfg
        self.purpose = purpose
        prefix = cfg.prefix.rstrip("/")
        self.scope = cfg.scope
        self.units: list[tuple[str, ...]] = list(units or [])
        self.all_units: list[tuple[str, ...]] = list(all_units or self.units)
        self.k_leases = f"{prefix}/leases/"
        self._held: dict[tuple[str, ...], int] = {}  # scope group: unit -> its lease revision, held by me
        self._holders: dict[str, tuple[str, int]] = {}  # scope group: group -> (holder, lease revision)
        self.k_leader = f"{prefix}/leader"
        self.k_members = f"{prefix}/members/"
        self.k_stepdown = f"{prefix}/stepdown"
        self.ttl = cfg.ttl
        self._clusters: dict[str, EtcdCluster] = {}
        self._mu = threading.RLock()
        self._lease: int | None = None
        self._renewed_at: float | None = None  # monotonic send time of the last good renewal
        self._revision: int | None = None  # my leadership's lease revision (P/leader's create revision)
        self._leader: str | None = None
        self._leader_revision: int | None = None
        self._controllers: tuple[ControllerInfo, ...] = ()
        self._error: str | None = None
        self._said: str | None = None
        self._hold_until = 0.0
        self._started = time.time()
        self._last_loop: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closing = False

    def _cluster(self, which: str) -> EtcdCluster:
        """Two connections: the lease loop's thread and the pushing threads never share a session.
        Made on first use (secrets are read then: an offline command never needs them)."""
        with self._mu:
            if which not in self._clusters:
                self._clusters[which] = EtcdCluster(self.cfg, max(0.2, self.cfg.retry_timeout / 2), self.stats)
            return self._clusters[which]

    @property
    def _loop_etcd(self) -> EtcdCluster:
        return self._cluster("loop")

    @property
    def _fence_etcd(self) -> EtcdCluster:
        return self._cluster("fence")

    # -- the lease loop ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._refuse_duplicate()
        self._iterate()
        self._thread = threading.Thread(target=self._loop, name=f"netha-lease-{self.id}", daemon=True)
        self._thread.start()

    def _refuse_duplicate(self) -> None:
        """Two processes with one ID would renew each other's registration: the second waits for the
        first's registration to end (a controller restarted after kill -9), then refuses."""
        key = f"{self.k_members}{self.id}"
        deadline = time.monotonic() + self.ttl + self.cfg.loop_wait
        while True:
            try:
                resp = self._loop_etcd.call("read registration", lambda c: c.post(
                    c.get_url("/kv/range"), json={"key": _b64(key)}), self.cfg.retry_timeout)
            except EtcdUnavailable as exc:
                log.warning("%s; starting as a follower, campaigning once etcd answers", exc)
                return
            kvs = resp.get("kvs") or []
            if not kvs:
                return
            doc = _json(kvs[0])
            if time.monotonic() >= deadline:
                raise CoordinationError(
                    f"controller ID {self.id} is already registered in etcd ({key}: pid {doc.get('pid')} on "
                    f"{doc.get('host')}, renewed {doc.get('renewed')}); give each controller its own --id")
            log.warning("controller ID %s is registered by pid %s on %s: waiting for that registration to end",
                        self.id, doc.get("pid"), doc.get("host"))
            time.sleep(self.cfg.loop_wait)

    def _loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                self._iterate()
            except Exception:  # noqa: BLE001 - the loop never dies; acting stops by itself without renewals
                log.exception("lease loop failed; retrying")
            self._stop.wait(max(0.0, self.cfg.loop_wait - (time.monotonic() - t0)))

    def _iterate(self) -> None:
        was = self.is_leader()
        was_held = self.held_groups()
        t_sent = time.monotonic()
        budget = self.cfg.retry_timeout
        etcd = self._loop_etcd
        try:
            if self._lease is not None:
                lease_id = self._lease
                left = etcd.call("lease keepalive", lambda c: Lease(lease_id, c).refresh(), budget, keepalive=True)
                if left <= 0:
                    log.error("controller %s: lease %x had ended (paused or cut off for more than %ss); taking a new one",
                              self.id, lease_id, self.ttl)
                    with self._mu:
                        self._lease, self._revision, self._renewed_at = None, None, None
                        self._held = {}
            if self._lease is None:
                t_sent = time.monotonic()
                lease = etcd.call("lease grant", lambda c: c.lease(self.ttl), budget, write=True)
                with self._mu:
                    self._lease = int(lease.id)
            with self._mu:
                self._renewed_at = t_sent
            self._transact(etcd, budget)
            with self._mu:
                self._error = None
                self._last_loop = time.time()
            if self._said:
                log.warning("controller %s: etcd answers again", self.id)
                self._said = None
        except EtcdUnavailable as exc:
            with self._mu:
                self._error = str(exc)
            if self._said != str(exc):
                log.error("controller %s: %s", self.id, exc)
                self._said = str(exc)
        except CoordinationError as exc:
            with self._mu:
                self._error = str(exc)
            log.error("controller %s: %s", self.id, exc)
        now = self.is_leader()
        held = self.held_groups()
        if held != was_held and now == was and now:
            self.stats.leader_changes += 1
            self.changed.set()
            log.warning("controller %s: now holds the leases of %s", self.id, ", ".join(sorted(held or ())))
        if now != was:
            self.stats.leader_changes += 1
            self.changed.set()
            if now and self.scope == "group":
                log.warning("controller %s: leader of %s (lease revisions %s)", self.id, ", ".join(sorted(held or ())),
                            ", ".join(str(r) for r in self._held.values()))
            elif now:
                log.warning("controller %s: leader (lease revision %s)", self.id, self._revision)
            else:
                log.warning("controller %s: no longer the leader: %s", self.id, self.why_not())

    def _member_doc(self) -> str:
        return json.dumps({"id": self.id, "host": socket.gethostname(), "pid": os.getpid(), "started": self._started,
                           "renewed": time.time(), "leader": self.is_leader(), "purpose": self.purpose,
                           "stepping_down": time.monotonic() < self._hold_until})

    def _transact(self, etcd: EtcdCluster, budget: float) -> None:
        if self.scope == "group":
            self._transact_groups(etcd, budget)
            return
        lease = self._lease
        assert lease is not None
        campaign = time.monotonic() >= self._hold_until and not self._closing
        put_member = {"request_put": {"key": _b64(f"{self.k_members}{self.id}"), "value": _b64(self._member_doc()),
                                      "lease": str(lease)}}
        read_members = {"request_range": {"key": _b64(self.k_members), "range_end": _prefix_end(self.k_members)}}
        read_stepdown = {"request_range": {"key": _b64(self.k_stepdown)}}
        leader_doc = json.dumps({"id": self.id, "host": socket.gethostname(), "pid": os.getpid(), "since": time.time()})
        txn = {
            "compare": [{"key": _b64(self.k_leader), "target": "VERSION", "result": "EQUAL", "version": "0"}],
            "success": ([{"request_put": {"key": _b64(self.k_leader), "value": _b64(leader_doc), "lease": str(lease)}}]
                        if campaign else []) + [put_member, read_members, read_stepdown],
            "failure": [put_member, {"request_range": {"key": _b64(self.k_leader)}}, read_members, read_stepdown],
        }
        resp = etcd.call("leader transaction", lambda c: c.transaction(txn), budget, write=True)
        responses = resp.get("responses") or []
        with self._mu:
            if resp.get("succeeded"):
                members, stepdown = responses[-2], responses[-1]
                if campaign:
                    self._revision = int(resp["header"]["revision"])
                    self._leader, self._leader_revision = self.id, self._revision
                else:
                    self._revision, self._leader, self._leader_revision = None, None, None
            else:
                leader_kvs, members, stepdown = _kvs(responses[1]), responses[2], responses[3]
                if leader_kvs:
                    doc, kv = _json(leader_kvs[0]), leader_kvs[0]
                    self._leader = str(doc.get("id")) if doc.get("id") is not None else None
                    self._leader_revision = int(kv.get("create_revision", 0))
                    mine = self._leader == self.id and int(kv.get("lease", 0)) == lease
                    self._revision = self._leader_revision if mine else None
                else:  # deleted between the compare and the read: a transaction is atomic, so never
                    self._leader, self._leader_revision, self._revision = None, None, None
            self._controllers = self._parse_members(_kvs(members))
        request = _kvs(stepdown)
        if request and self._revision is not None and _json(request[0]).get("from") == self.id:
            doc = _json(request[0])
            log.warning("controller %s: step-down asked by %s: handing over", self.id, doc.get("by", "?"))
            self._release(etcd, budget, delete_request=True)
            self._hold_until = time.monotonic() + max(self.ttl, 3 * self.cfg.loop_wait)

    def _parse_members(self, kvs: list[dict[str, Any]]) -> tuple[ControllerInfo, ...]:
        out = []
        leaders = {h[0] for h in self._holders.values()} if self.scope == "group" else {self._leader}
        for kv in kvs:
            doc = _json(kv)
            cid = str(doc.get("id") or _unb64(kv.get("key"))[len(self.k_members):])
            leads = cid in leaders
            state = "leader" if leads else "follower"
            if leads and self.scope == "group":
                state = "leader of " + ",".join(sorted(g for g, h in self._holders.items() if h[0] == cid))
            out.append(ControllerInfo(cid, leads, float(doc["renewed"]) if doc.get("renewed") else None,
                                      doc.get("host"), doc.get("pid"), state))
        return controllers_sorted(out)

    # -- scope group: one lease per set of groups sharing devices ------------------------------------------
    def _lease_kvs(self, kvs: list[dict[str, Any]]) -> dict[str, tuple[str, int, int]]:
        """group -> (holder, create revision, etcd lease) from the range of P/leases/."""
        out = {}
        for kv in kvs:
            g = _unb64(kv.get("key"))[len(self.k_leases):]
            out[g] = (str(_json(kv).get("id")), int(kv.get("create_revision", 0)), int(kv.get("lease", 0)))
        return out

    def _transact_groups(self, etcd: EtcdCluster, budget: float) -> None:
        """One transaction (register, read every group's lease, the members, any step-down), then a
        campaign for each vacant set of groups this controller contends for: every key of the set is
        created in one transaction, or none (all or nothing: never a part of a set)."""
        lease = self._lease
        assert lease is not None
        put_member = {"request_put": {"key": _b64(f"{self.k_members}{self.id}"), "value": _b64(self._member_doc()),
                                      "lease": str(lease)}}
        txn = {"compare": [], "success": [
            put_member,
            {"request_range": {"key": _b64(self.k_leases), "range_end": _prefix_end(self.k_leases)}},
            {"request_range": {"key": _b64(self.k_members), "range_end": _prefix_end(self.k_members)}},
            {"request_range": {"key": _b64(self.k_stepdown)}}], "failure": []}
        resp = etcd.call("lease transaction", lambda c: c.transaction(txn), budget, write=True)
        responses = resp.get("responses") or []
        holders = self._lease_kvs(_kvs(responses[1]))
        # Controllers present to own their groups (one stepping down is not: its groups are taken by others).
        registered = {_unb64(kv.get("key"))[len(self.k_members):] for kv in _kvs(responses[2])
                      if not _json(kv).get("stepping_down")}
        campaign = time.monotonic() >= self._hold_until and not self._closing
        held: dict[tuple[str, ...], int] = {}
        for unit in self.units:
            have = [holders.get(g) for g in unit]
            owners = self._owners(unit)
            mine = not owners or self.id in owners
            owner_here = bool(owners & registered)  # an owner of the set runs: it is the owner's to take
            if all(h is not None and h[0] == self.id and h[2] == lease for h in have) and \
                    len({h[1] for h in have if h is not None}) == 1:
                if not mine and owner_here:
                    log.warning("controller %s: handing %s back to %s", self.id, ", ".join(unit),
                                ", ".join(sorted(owners & registered)))
                    self._release_unit(etcd, budget, unit, list(unit))
                    holders = {g: h for g, h in holders.items() if g not in unit}
                    continue
                held[unit] = have[0][1]  # type: ignore[index]
            elif all(h is None for h in have) and campaign and (mine or not owner_here):
                rev = self._campaign(etcd, budget, unit, lease)
                if rev is not None:
                    held[unit] = rev
                    holders.update({g: (self.id, rev, lease) for g in unit})
            elif any(h is not None and h[2] == lease for h in have):
                # Part of a set is mine (the inventory changed under a running controller): given back.
                self._release_unit(etcd, budget, unit, [g for g, h in zip(unit, have) if h is not None and h[2] == lease])
        with self._mu:
            self._held = held
            self._holders = {g: (h[0], h[1]) for g, h in holders.items()}
            self._controllers = self._parse_members(_kvs(responses[2]))
        request = _kvs(responses[3])
        if request and held and _json(request[0]).get("from") == self.id:
            log.warning("controller %s: step-down asked by %s: handing over %s", self.id,
                        _json(request[0]).get("by", "?"), ", ".join(g for u in held for g in u))
            self._release_groups(etcd, budget, delete_request=True)
            self._hold_until = time.monotonic() + max(self.ttl, 3 * self.cfg.loop_wait)

    def _owners(self, unit: tuple[str, ...]) -> set[str]:
        """The controllers whose own groups (coordination.groups) are in ``unit`` (empty: anyone's)."""
        return {cid for cid, gs in self.cfg.groups.items() if set(gs) & set(unit)}

    def _campaign(self, etcd: EtcdCluster, budget: float, unit: tuple[str, ...], lease: int) -> int | None:
        doc = json.dumps({"id": self.id, "host": socket.gethostname(), "pid": os.getpid(), "since": time.time(),
                          "groups": list(unit)})
        txn = {"compare": [{"key": _b64(self.k_leases + g), "target": "VERSION", "result": "EQUAL", "version": "0"}
                           for g in unit],
               "success": [{"request_put": {"key": _b64(self.k_leases + g), "value": _b64(doc), "lease": str(lease)}}
                           for g in unit], "failure": []}
        resp = etcd.call("group lease campaign", lambda c: c.transaction(txn), budget, write=True)
        return int(resp["header"]["revision"]) if resp.get("succeeded") else None

    def _release_unit(self, etcd: EtcdCluster, budget: float, unit: tuple[str, ...], groups: list[str]) -> None:
        lease = self._lease
        txn = {"compare": [{"key": _b64(self.k_leases + g), "target": "LEASE", "result": "EQUAL", "lease": str(lease)}
                           for g in groups],
               "success": [{"request_delete_range": {"key": _b64(self.k_leases + g)}} for g in groups], "failure": []}
        try:
            etcd.call("group lease release", lambda c: c.transaction(txn), budget, write=True)
        except CoordinationError as exc:
            log.warning("controller %s: could not release %s (%s); its lease ends it", self.id, ", ".join(groups), exc)

    def _release_groups(self, etcd: EtcdCluster, budget: float, delete_request: bool = False) -> None:
        with self._mu:
            held, self._held = self._held, {}
        for unit in held:
            self._release_unit(etcd, budget, unit, list(unit))
        if delete_request:
            try:
                etcd.call("step-down done", lambda c: c.post(c.get_url("/kv/deleterange"), json={
                    "key": _b64(self.k_stepdown)}), budget, write=True)
            except CoordinationError:
                pass
        if held:
            self.stats.leader_changes += 1
            self.changed.set()

    def _unit_of(self, group: str | None) -> tuple[str, ...] | None:
        if group is None:
            return None
        with self._mu:
            return next((u for u in self._held if group in u), None)

    def held_groups(self) -> frozenset[str] | None:
        if self.scope != "group":
            return None
        if self._closing:
            return frozenset()
        left = self.lease_remaining()
        if left is None or left <= 0:
            return frozenset()
        with self._mu:
            return frozenset(g for u in self._held for g in u)

    def _release(self, etcd: EtcdCluster, budget: float, delete_request: bool = False) -> None:
        """Give the leadership up: P/leader deleted if it is still this leadership's."""
        with self._mu:
            rev, self._revision = self._revision, None
        if rev is None:
            return
        ops = [{"request_delete_range": {"key": _b64(self.k_leader)}}]
        if delete_request:
            ops.append({"request_delete_range": {"key": _b64(self.k_stepdown)}})
        txn = {"compare": [{"key": _b64(self.k_leader), "target": "CREATE", "result": "EQUAL", "create_revision": str(rev)}],
               "success": ops, "failure": []}
        try:
            etcd.call("leader release", lambda c: c.transaction(txn), budget, write=True)
            self._leader = None
        except CoordinationError as exc:
            log.warning("controller %s: could not release the leadership (%s); its lease ends it", self.id, exc)
        self.stats.leader_changes += 1
        self.changed.set()

    def close(self) -> None:
        """Leave: stop renewing, hand the leadership over at once (no wait for the lease)."""
        self._closing = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.cfg.retry_timeout + 1)
        budget = min(2.0, self.cfg.retry_timeout)
        lease = self._lease
        if lease is None:
            return  # never joined: nothing to hand over
        if self.scope == "group":
            self._release_groups(self._loop_etcd, budget)
        else:
            self._release(self._loop_etcd, budget)
        if lease is not None:
            try:
                self._loop_etcd.call("lease revoke", lambda c: Lease(lease, c).revoke(), budget, write=True)
            except CoordinationError as exc:
                log.warning("controller %s: lease not revoked (%s); it ends within %ss", self.id, exc, self.ttl)
            self._lease = None

    # -- acting -------------------------------------------------------------------------------------------
    def lease_remaining(self) -> float | None:
        """Seconds this controller may still act without another renewal (negative: past)."""
        with self._mu:
            if self._renewed_at is None:
                return None
            return self._renewed_at + self.ttl - self.cfg.retry_timeout - time.monotonic()

    def is_leader(self, group: str | None = None) -> bool:
        with self._mu:
            if self._closing:
                return False
            if self.scope == "group":
                if not self._held or (group is not None and not any(group in u for u in self._held)):
                    return False
            elif self._revision is None:
                return False
        left = self.lease_remaining()
        return left is not None and left > 0

    def why_not(self) -> str:
        with self._mu:
            if self._closing:
                return "stopping"
            if self.scope == "group" and not self._held:
                if self._error:
                    return self._error
                mine = [g for u in self.units for g in u]
                others = sorted({h[0] for g, h in self._holders.items() if g in mine and h[0] != self.id})
                return (f"holds no group lease ({', '.join(mine) or 'no group'} held by "
                        f"{', '.join(others) or 'nobody yet'})")
            if self.scope != "group" and self._revision is None:
                if self._error:
                    return self._error
                return f"controller {self._leader} leads" if self._leader else "nobody leads yet"
        left = self.lease_remaining()
        if left is not None and left <= 0:
            ago = self.ttl - self.cfg.retry_timeout - left
            return (f"lease not renewed for {ago:.1f}s (ttl {self.ttl}s, retry_timeout {self.cfg.retry_timeout:g}s): "
                    f"stopped acting before it can end" + (f"; {self._error}" if self._error else ""))
        return ""

    def token(self, group: str | None = None) -> Token | None:
        if self.scope == "group":
            unit = self._unit_of(group)
            if unit is None or group is None or not self.is_leader(group):
                return None
            with self._mu:
                rev = self._held.get(unit)
            return Token(self.id, rev, "etcd", self.k_leases + group, unit) if rev is not None else None
        with self._mu:
            rev = self._revision
        return Token(self.id, rev, "etcd") if rev is not None and self.is_leader() else None

    def check(self, token: Token) -> None:
        """Refuse (raise Fenced) unless ``token``'s leadership still holds, proved by etcd now."""
        self.stats.fence_checks += 1
        why = self._local_refusal(token)
        if why is None:
            key = token.key or self.k_leader  # scope group: the plan's group's lease key
            txn = {"compare": [{"key": _b64(key), "target": "CREATE", "result": "EQUAL",
                                "create_revision": str(token.revision)}],
                   "success": [], "failure": [{"request_range": {"key": _b64(key)}}]}
            try:
                resp = self._fence_etcd.call("fencing check", lambda c: c.transaction(txn), self.cfg.retry_timeout)
            except CoordinationError as exc:
                why = f"the leadership cannot be proved: {exc}"
            else:
                if not resp.get("succeeded"):
                    kvs = _kvs((resp.get("responses") or [{}])[0])
                    now = (f"controller {_json(kvs[0]).get('id')} leads (revision {kvs[0].get('create_revision')})"
                           if kvs else "nobody leads")
                    why = f"deposed: {now}; the plan was under revision {token.revision}"
                else:
                    why = self._local_refusal(token)  # paused during the check?
        if why is not None:
            self.stats.fence_refusals += 1
            raise Fenced(f"controller {token.controller}: push refused: {why}")

    def _local_refusal(self, token: Token) -> str | None:
        with self._mu:
            rev = self._revision
            if self.scope == "group":
                rev = next((r for u, r in self._held.items() if token.groups and token.groups[0] in u), None)
        if token.backend != "etcd" or token.controller != self.id:
            return f"token of {token.controller} ({token.backend}) is not this controller's"
        if rev != token.revision:
            return (f"the leadership of revision {token.revision} has ended"
                    + (f" (now revision {rev})" if rev is not None else f" ({self.why_not() or 'not the leader'})"))
        if not self.is_leader(token.groups[0] if token.groups else None):
            return self.why_not() or "not the leader"
        return None

    @contextmanager
    def hold(self, purpose: str) -> Iterator[Token]:
        """The leadership for one operator command, or LockHeld when a controller leads. It registers
        as ``<id>-cli<pid>``: never over a daemon's registration on the same host."""
        self.purpose = purpose
        self.id = f"{self.id}-cli{os.getpid()}"
        if self.scope == "group":
            self.units = list(self.all_units)  # an operator's command may touch any group: every lease
        self._iterate()
        tok = self.token()
        if self.scope == "group":
            every = [g for u in self.all_units for g in u]
            tok = self.token(every[0]) if every and all(self._unit_of(g) for g in every) else None
            if tok is None and every:
                others = sorted({h[0] for h in self._holders.values() if h[0] != self.id})
                self._error = None
                self._released_because = f"group leases held by {', '.join(others) or 'another controller'}"
        if tok is None:
            why = getattr(self, "_released_because", None) or self.why_not()
            self.close()
            raise LockHeld(f"{why} (etcd {self.k_leases if self.scope == 'group' else self.k_leader}): a manual "
                           "change now would race the leader; "
                           "`netha leader step-down` or stop it first")
        self._thread = threading.Thread(target=self._loop, name=f"netha-lease-{self.id}", daemon=True)
        self._thread.start()
        try:
            yield tok
        finally:
            self.close()

    # -- looking ------------------------------------------------------------------------------------------
    def _group_view(self, ok: bool = True, reason: str = "") -> LeaderView:
        """Scope group: who holds each group's lease. ``leader`` is the one controller holding every
        group, or None (several leaders, or a group without one: see ``groups``)."""
        every = [g for u in self.all_units for g in u] or sorted(self._holders)
        groups = {g: {"leader": self._holders[g][0] if g in self._holders else None,
                      "revision": self._holders[g][1] if g in self._holders else None} for g in every}
        leaders = {v["leader"] for v in groups.values()}
        leader = next(iter(leaders)) if len(leaders) == 1 and None not in leaders else None
        vacant = [g for g, v in groups.items() if v["leader"] is None]
        if ok and not reason:
            reason = (f"no lease held for {', '.join(vacant)}" if vacant
                      else "" if leader else "scope group: several controllers lead, each its own groups")
        return LeaderView("etcd", leader, self._controllers, ok, reason, None, self.ttl,
                          {"prefix": self.cfg.prefix, "scope": "group", "groups": groups})

    def view(self) -> LeaderView:
        if self._thread is not None and self.scope == "group":
            with self._mu:
                if self._error is None:
                    return self._group_view()
        if self._thread is not None:
            with self._mu:
                if self._error is None:
                    return LeaderView("etcd", self._leader, self._controllers, True,
                                      "" if self._leader else "nobody holds the lease yet", self._leader_revision,
                                      self.ttl, {"prefix": self.cfg.prefix})
        return self.read_view()

    def read_view(self, budget: float | None = None) -> LeaderView:
        """One look at etcd (for ``netha status`` and ``netha leader``): leader and members."""
        first = ({"request_range": {"key": _b64(self.k_leases), "range_end": _prefix_end(self.k_leases)}}
                 if self.scope == "group" else {"request_range": {"key": _b64(self.k_leader)}})
        txn = {"compare": [], "success": [first,
                                          {"request_range": {"key": _b64(self.k_members),
                                                             "range_end": _prefix_end(self.k_members)}}],
               "failure": []}
        try:
            resp = self._fence_etcd.call("read leader", lambda c: c.transaction(txn),
                                         budget if budget is not None else min(2.0, self.cfg.retry_timeout))
        except CoordinationError as exc:
            return LeaderView("etcd", None, (), False,
                              f"{exc}: nobody can act (a leader that cannot renew its lease stops acting)",
                              None, self.ttl, {"prefix": self.cfg.prefix,
                                               **({"scope": "group"} if self.scope == "group" else {})})
        responses = resp.get("responses") or [{}, {}]
        if self.scope == "group":
            leases = self._lease_kvs(_kvs(responses[0]))
            with self._mu:
                self._holders = {g: (h[0], h[1]) for g, h in leases.items()}
                self._controllers = self._parse_members(_kvs(responses[1]))
            return self._group_view()
        leader_kvs = _kvs(responses[0])
        leader = str(_json(leader_kvs[0]).get("id")) if leader_kvs else None
        rev = int(leader_kvs[0].get("create_revision", 0)) if leader_kvs else None
        self._leader = leader
        members = self._parse_members(_kvs(responses[1]))
        return LeaderView("etcd", leader, members, True, "" if leader else "nobody holds the lease", rev, self.ttl,
                          {"prefix": self.cfg.prefix})

    def step_down(self, requested_by: str, controller: str | None = None) -> str | None:
        """Ask ``controller`` (default: the leader; scope group: the one leader, or name it) to hand over."""
        view = self.read_view(self.cfg.retry_timeout)
        if not view.ok:
            raise CoordinationError(view.reason)
        if self.scope == "group":
            leaders = sorted(c.id for c in view.controllers if c.leader)
            if controller is None and len(leaders) > 1:
                raise CoordinationError(f"scope group: {', '.join(leaders)} each lead groups of their own: "
                                        "name the one to step down (--controller)")
            leader = controller or (leaders[0] if leaders else None)
            if leader is not None and leader not in leaders:
                raise CoordinationError(f"controller {leader} holds no group lease: nothing to step down")
            view = replace(view, leader=leader)
        elif controller is not None and controller != view.leader:
            raise CoordinationError(f"controller {controller} does not lead (controller {view.leader} does)")
        if view.leader is None:
            return None
        others = [c for c in view.controllers if c.id != view.leader]
        if not others:
            raise CoordinationError(f"controller {view.leader} is the only controller registered: nobody to hand over to")
        lease = self._fence_etcd.call("lease grant", lambda c: c.lease(self.ttl), self.cfg.retry_timeout, write=True)
        doc = json.dumps({"from": view.leader, "by": requested_by, "at": time.time()})
        self._fence_etcd.call("step-down request", lambda c: c.post(c.get_url("/kv/put"), json={
            "key": _b64(self.k_stepdown), "value": _b64(doc), "lease": str(lease.id)}), self.cfg.retry_timeout, write=True)
        return view.leader
