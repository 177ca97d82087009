"""The embedded default store: one SQLite file in the state directory.

Holds config snapshots (backup and rollback), the audit log (who, when, what, diff, result),
the journal of plan steps (intent before, result after: crash safety), and the controller's
memory between scheduled runs.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import NethaError
from .log import redact

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    taken_at REAL NOT NULL,
    reason TEXT NOT NULL,
    config TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_device ON snapshots(device, taken_at);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    grp TEXT,
    device TEXT,
    detail TEXT,
    diff TEXT,
    result TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id TEXT NOT NULL,
    ts REAL NOT NULL,
    step INTEGER NOT NULL,
    device TEXT,
    kind TEXT NOT NULL,      -- plan | intent | done | failed | rollback | closed
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_plan ON journal(plan_id, id);
CREATE TABLE IF NOT EXISTS memory (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated REAL NOT NULL
);
"""


@dataclass(frozen=True)
class SnapshotRecord:
    id: int
    device: str
    taken_at: float
    reason: str
    config: str
    # The config as the shared journal in etcd holds it: secrets redacted (:func:`redact_config`); a
    # rollback puts them back from the device's running config (:func:`restore_secrets`).
    redacted: bool = False


@dataclass(frozen=True)
class JournalEntry:
    """One journal row. ``kind`` is the row's own kind (plan, snapshots, intent, pushed, done, failed,
    rollback, rolled-back, rollback-pending, closed); ``data`` is its payload, which never overrides it."""

    id: int
    plan_id: str
    ts: float
    step: int
    device: str | None
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class AuditRecord:
    id: int
    ts: float
    actor: str
    action: str
    group: str | None
    device: str | None
    detail: str | None
    diff: str | None
    result: str


def actor() -> str:
    """Who is acting: the OS user and host, or NETHA_ACTOR (e.g. 'daemon')."""
    name = os.environ.get("NETHA_ACTOR")
    if name:
        return name
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


class Store:
    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / "netha.db"
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            # The database holds config snapshots: the directory and every file of the database
            # (main file, -wal, -shm) are the owner's alone, also when they existed with looser modes.
            # SQLite creates -wal and -shm with the main file's mode, so the main file is made 0600 first.
            os.chmod(self.state_dir, 0o700)
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            for suffix in ("", "-wal", "-shm", "-journal"):
                f = self.path.with_name(self.path.name + suffix)
                if f.exists():
                    os.chmod(f, 0o600)
        except OSError as exc:
            raise NethaError(f"state directory {self.state_dir}: {exc.strerror}") from None
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._db().executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a journal entry must survive kill -9 and power loss
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        # Writers of this process queue on a lock: SQLite's own busy handler would make a second
        # thread sleep 1, 2, 5, 10... ms between tries (a journal row behind the loop's memory write
        # cost a takeover 10-20 ms). Other processes still meet SQLite's lock and timeout.
        with self._write_lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- snapshots ------------------------------------------------------------------------------
    def save_snapshot(self, device: str, config: str, reason: str) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO snapshots(device, taken_at, reason, config) VALUES (?,?,?,?)",
                (device, time.time(), reason, config),
            )
            return int(cur.lastrowid)

    def snapshots(self, device: str) -> list[SnapshotRecord]:
        rows = self._db().execute(
            "SELECT id, device, taken_at, reason, config FROM snapshots WHERE device=? ORDER BY id DESC", (device,)
        ).fetchall()
        return [SnapshotRecord(*r) for r in rows]

    def snapshot(self, snapshot_id: int) -> SnapshotRecord:
        row = self._db().execute(
            "SELECT id, device, taken_at, reason, config FROM snapshots WHERE id=?", (snapshot_id,)
        ).fetchone()
        if row is None:
            raise NethaError(f"no snapshot {snapshot_id} in {self.path}")
        return SnapshotRecord(*row)

    # -- audit ----------------------------------------------------------------------------------
    def audit(
        self,
        action: str,
        result: str,
        group: str | None = None,
        device: str | None = None,
        detail: str | None = None,
        diff: str | None = None,
    ) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO audit(ts, actor, action, grp, device, detail, diff, result) VALUES (?,?,?,?,?,?,?,?)",
                (time.time(), actor(), action, group, device, _redact(detail), _redact(diff), result),
            )
            return int(cur.lastrowid)

    def history(self, limit: int = 100, group: str | None = None) -> list[AuditRecord]:
        sql = "SELECT id, ts, actor, action, grp, device, detail, diff, result FROM audit"
        args: tuple[Any, ...] = ()
        if group:
            sql += " WHERE grp=?"
            args = (group,)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = self._db().execute(sql, args + (limit,)).fetchall()
        return [AuditRecord(*r) for r in reversed(rows)]

    # -- journal --------------------------------------------------------------------------------
    # The plan journal's interface (the executor's): this store, or the shared journal in etcd
    # (netha/coordination/journal.py) that a leader on another host reads.
    def save_plan_snapshot(self, plan_id: str, device: str, config: str, reason: str, token: object | None = None) -> int:
        return self.save_snapshot(device, config, reason)

    def plan_snapshot(self, plan_id: str, snapshot_id: int) -> SnapshotRecord:
        return self.snapshot(snapshot_id)

    def journal(self, plan_id: str, step: int, kind: str, payload: dict[str, Any], device: str | None = None,
                token: object | None = None, strict: bool = False) -> None:
        """One journal row. ``token`` (the plan's leadership) and ``strict`` matter to the shared
        journal only: a local row needs no leadership."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO journal(plan_id, ts, step, device, kind, payload) VALUES (?,?,?,?,?,?)",
                (plan_id, time.time(), step, device, kind, json.dumps(payload, default=str)),
            )

    def open_plans(self) -> list[tuple[str, list[JournalEntry]]]:
        """Plans with entries but no 'closed' entry: unfinished after a crash."""
        db = self._db()
        ids = [
            r[0]
            for r in db.execute(
                "SELECT plan_id FROM journal WHERE plan_id NOT IN "
                "(SELECT plan_id FROM journal WHERE kind='closed') GROUP BY plan_id ORDER BY MIN(id)"
            ).fetchall()
        ]
        return [(pid, self.journal_entries(pid)) for pid in ids]

    def journal_entries(self, plan_id: str) -> list[JournalEntry]:
        rows = self._db().execute(
            "SELECT id, plan_id, ts, step, device, kind, payload FROM journal WHERE plan_id=? ORDER BY id", (plan_id,)
        ).fetchall()
        return [JournalEntry(r[0], r[1], r[2], r[3], r[4], r[5], _payload(r[6])) for r in rows]

    def pending_rollbacks(self) -> list[JournalEntry]:
        """Devices whose rollback did not complete (last rollback word is 'rollback-pending'), oldest first."""
        rows = self._db().execute(
            "SELECT id, plan_id, ts, step, device, kind, payload FROM journal j WHERE kind='rollback-pending' AND id = "
            "(SELECT MAX(id) FROM journal k WHERE k.plan_id=j.plan_id AND k.device IS j.device AND "
            "k.kind IN ('rollback', 'rolled-back', 'rollback-pending', 'rollback-abandoned')) ORDER BY id"
        ).fetchall()
        return [JournalEntry(r[0], r[1], r[2], r[3], r[4], r[5], _payload(r[6])) for r in rows]

    # -- memory ---------------------------------------------------------------------------------
    def put(self, key: str, value: Any) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO memory(key, value, updated) VALUES (?,?,?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated=excluded.updated",
                (key, json.dumps(value, default=str), time.time()),
            )

    def get(self, key: str, default: Any = None) -> Any:
        row = self._db().execute("SELECT value FROM memory WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default


# -- configs without their secrets (the shared journal) ---------------------------------------------
_NUL = "\x00"


def _units(body: str) -> list[str]:
    """A config body's lines, each private-key block joined into one unit (redacted whole)."""
    from .log import _PRIVATE_KEY

    joined = _PRIVATE_KEY.sub(lambda m: m.group(0).replace("\n", _NUL), body)
    return joined.rstrip("\n").split("\n")


def redact_config(config: str) -> str:
    """``config`` (its body) with every secret redacted unit by unit, as :func:`netha.log.redact` does:
    the form in which a snapshot leaves the controller's host. Line for line comparable."""
    from .drivers.textconfig import config_body

    return "\n".join(redact(u).replace(_NUL, "\n") for u in _units(config_body(config))) + "\n"


def restore_secrets(redacted: str, running: str) -> str | None:
    """The config ``redacted`` stood for, its secrets taken from ``running`` (the device's config now).

    netha's changes never touch a secret, so every redacted line of the snapshot is still on the
    device. Each unit kept equal (by its redacted form) is taken whole from ``running``; a unit that
    differs and holds a redaction cannot be restored: None (the rollback is then not attempted).
    The result, redacted again, must equal ``redacted`` exactly, or None."""
    import difflib

    from .drivers.textconfig import config_body
    from .log import _REDACTED

    run_units = _units(config_body(running))
    run_red = [redact(u) for u in run_units]
    want = config_body(redacted).rstrip("\n").split("\n")
    out: list[str] = []
    sm = difflib.SequenceMatcher(None, want, run_red, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            out.extend(run_units[j1:j2])
        elif op in ("replace", "delete"):
            if any(_REDACTED in u for u in want[i1:i2]):
                return None
            out.extend(want[i1:i2])
    text = "\n".join(u.replace(_NUL, "\n") for u in out) + "\n"
    return text if redact_config(text) == redact_config(redacted) else None


def _payload(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _redact(text: str | None) -> str | None:
    """Audit details and diffs hold device config: secrets are redacted as in the logs."""
    return None if text is None else redact(text)
