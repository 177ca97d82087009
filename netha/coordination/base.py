"""Who may act on an inventory: the coordination backends' one interface.

Every controller observes; only the one holding the leadership decides and acts. A backend gives:

- ``start()``: join (register this controller, begin campaigning); ``close()``: leave, handing over;
- ``is_leader()``: may this controller act *now*: the leadership is held and, for a lease, renewed
  recently enough that it cannot have ended (the leader stops acting before its lease can expire);
- ``token()``: the fencing token of the current leadership (the lease revision), carried by a plan;
- ``check(token)``: right before a device push, proves that ``token`` still holds the leadership
  (an etcd transaction), or raises :class:`Fenced`: the push is refused before it touches a device;
- ``hold(purpose)``: the leadership for one operator command (``netha failover``), or LockHeld;
- ``view()``: who leads, every controller with its last renewal, and why nobody may act.
"""

from __future__ import annotations

import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from ..errors import NethaError


class CoordinationError(NethaError):
    """The coordination backend cannot be used (etcd unreachable, refused credentials, bad TLS files)."""


class Fenced(CoordinationError):
    """A push was refused: the plan's leadership (its lease revision) no longer holds."""


def default_id() -> str:
    """A controller's default ID: the host name (unique per host; two on one host need --id)."""
    return socket.gethostname().split(".")[0] or "netha"


@dataclass(frozen=True)
class Token:
    """The fencing token a plan carries: who led, under which lease revision."""

    controller: str
    revision: int
    backend: str
    key: str = ""  # the etcd key whose create revision is the token (empty: the fleet's P/leader)
    groups: tuple[str, ...] = ()  # scope group: the groups this lease covers

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"controller": self.controller, "revision": self.revision, "backend": self.backend}
        if self.key:
            out["key"] = self.key
        return out


@dataclass(frozen=True)
class ControllerInfo:
    id: str
    leader: bool
    renewed: float | None  # wall time of its last renewal (None: not known)
    host: str | None = None
    pid: int | None = None
    state: str | None = None  # leader, follower, stepping-down ...

    def to_json(self, now: float) -> dict[str, object]:
        return {"id": self.id, "leader": self.leader, "host": self.host, "pid": self.pid, "state": self.state,
                "renewed": None if self.renewed is None else _iso(self.renewed),
                "age": None if self.renewed is None else round(max(0.0, now - self.renewed), 2)}


@dataclass(frozen=True)
class LeaderView:
    """What ``netha status``, ``netha leader`` and the metrics say about who acts."""

    backend: str
    leader: str | None
    controllers: tuple[ControllerInfo, ...] = ()
    ok: bool = True  # the backend answered
    reason: str = ""  # why nobody may act (or how the view was taken)
    revision: int | None = None  # the leader's lease revision
    ttl: int | None = None
    details: dict[str, object] = field(default_factory=dict)

    def to_json(self, now: float) -> dict[str, object]:
        return {"backend": self.backend, "ok": self.ok, "leader": self.leader, "revision": self.revision,
                "ttl": self.ttl, "reason": self.reason, **self.details}


def _iso(t: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


@dataclass
class Stats:
    """Counters for the metrics and the benchmark (requests to the backend, by kind)."""

    requests: int = 0  # every request sent to the backend
    writes: int = 0  # requests that write (a raft proposal: put, txn with a put, lease grant/revoke)
    keepalives: int = 0
    fence_checks: int = 0
    fence_refusals: int = 0
    errors: int = 0
    leader_changes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, *, write: bool = False, keepalive: bool = False, error: bool = False) -> None:
        with self.lock:
            self.requests += 1
            self.writes += int(write)
            self.keepalives += int(keepalive)
            self.errors += int(error)


class Coordinator(ABC):
    backend: str = "?"

    def __init__(self, controller_id: str):
        self.id = controller_id
        self.stats = Stats()
        # Set whenever this controller gains or loses the leadership (the daemon wakes on it).
        self.changed = threading.Event()

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def is_leader(self, group: str | None = None) -> bool:
        """May this controller act now (on ``group``; None: on any group it is given)."""

    @abstractmethod
    def token(self, group: str | None = None) -> Token | None:
        """The fencing token for a plan on ``group`` (scope fleet: the same for every group)."""

    def held_groups(self) -> frozenset[str] | None:
        """Scope group: the groups whose lease this controller holds (and may act on) now; None: the
        scope is the whole fleet (is_leader() says whether it acts on every group or on none)."""
        return None

    @abstractmethod
    def check(self, token: Token) -> None: ...

    @abstractmethod
    def hold(self, purpose: str) -> AbstractContextManager[Token]: ...

    @abstractmethod
    def view(self) -> LeaderView: ...

    def why_not(self) -> str:
        """Why this controller may not act now (for logs and status)."""
        return "" if self.is_leader() else "not the leader"

    def lease_remaining(self) -> float | None:
        """Seconds this controller may still act without a renewal (None: no lease)."""
        return None

    def step_down(self, requested_by: str) -> str | None:
        """Ask the current leader to hand over; returns the leader asked (None: nobody leads)."""
        raise CoordinationError(f"backend {self.backend} has no leader to step down: one controller per state directory")

    def __enter__(self) -> Coordinator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def controllers_sorted(items: Iterator[ControllerInfo] | list[ControllerInfo]) -> tuple[ControllerInfo, ...]:
    return tuple(sorted(items, key=lambda c: (not c.leader, c.id)))
