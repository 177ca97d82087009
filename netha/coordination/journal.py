"""The plan journal in etcd: the open plans a leader on another host can finish or roll back.

With ``backend: etcd`` each controller keeps its own SQLite store (audit, history, its full
snapshots), and every plan's journal rows and snapshots are written, in addition, under the
inventory's prefix P, where the next leader reads them whatever host it runs on:

- ``P/plans/<plan>/j/<controller>.<n>``: one journal row (step, device, kind, payload, time, who);
  rows are ordered by their create revision. A row written for a plan runs in a transaction that
  compares the plan's leadership key (``P/leader``, or the group's lease key) with the plan's lease
  revision: a deposed leader's row is refused there (``Fenced``), as its push would be.
- ``P/plans/<plan>/s/<uuid>``: a snapshot's header (device, reason, chunk count), its chunks under
  ``.../<uuid>/<i>``: the config **with its secrets redacted** (store.redact_config), zlib-compressed,
  base64, in chunks of at most :data:`CHUNK` bytes (etcd refuses a request above 1.5 MiB). Its ID in
  the journal is the header's create revision (unique in the cluster, whichever controller wrote it).
  A rollback from it puts the secrets back from the device's running config (store.restore_secrets).

A plan's keys are deleted once it is closed and no rollback of it is pending: the prefix holds open
plans only (the closed ones stay in each controller's SQLite history).
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import time
import uuid
import zlib
from typing import Any

from ..store import JournalEntry, SnapshotRecord, Store, redact_config
from .base import CoordinationError, Fenced, Token
from .etcd import EtcdCoordinator, _b64, _prefix_end, _unb64

log = logging.getLogger(__name__)

# Bytes of compressed, base64-encoded config per etcd key: far below etcd's default request limit
# (--max-request-bytes, 1.5 MiB), with room for the key and the transaction around it.
CHUNK = 512 * 1024

# Rows whose loss would leave the next leader unable to tell what netha did: written strictly (the
# step is not pushed without them). The others are best effort and say so in the log.
_STRICT = {"plan", "snapshots", "intent"}

_LAST = {"rollback", "rolled-back", "rollback-pending", "rollback-abandoned"}


class EtcdJournal:
    """The executor's plan journal (the interface of :class:`netha.store.Store`'s journal methods),
    kept in etcd and mirrored in the local store."""

    shared = True

    def __init__(self, coord: EtcdCoordinator, local: Store | None):
        """``local``: this controller's store (None: a reader only, e.g. ``netha leader``)."""
        self.coord = coord
        self.local = local
        self.prefix = f"{coord.cfg.prefix.rstrip('/')}/plans/"  # type: ignore[union-attr]
        self._seq = itertools.count(1)
        self._boot = uuid.uuid4().hex[:8]
        self._mine: dict[int, int] = {}  # etcd snapshot ID -> local snapshot ID (this process's full configs)
        self.writes = 0

    @property
    def _etcd(self):  # noqa: ANN202 - the coordinator's connection for pushing threads
        return self.coord._cluster("journal")

    def _budget(self) -> float:
        return self.coord.cfg.retry_timeout

    def _guard(self, token: object | None) -> list[dict[str, Any]]:
        if not isinstance(token, Token) or token.backend != "etcd":
            return []
        key = token.key or self.coord.k_leader
        return [{"key": _b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": str(token.revision)}]

    def _txn(self, what: str, ops: list[dict[str, Any]], token: object | None) -> int:
        """Write ``ops`` if the plan's leadership still holds; the revision written. Fenced otherwise."""
        guard = self._guard(token)
        txn = {"compare": guard, "success": ops, "failure": []}
        resp = self._etcd.call(what, lambda c: c.transaction(txn), self._budget(), write=True)
        self.writes += 1
        if guard and not resp.get("succeeded"):
            assert isinstance(token, Token)
            self.coord.stats.fence_refusals += 1
            raise Fenced(f"controller {token.controller}: push refused: journal row refused by etcd, the leadership "
                         f"of revision {token.revision} has ended")
        return int(resp["header"]["revision"])

    # -- writing --------------------------------------------------------------------------------------
    def journal(self, plan_id: str, step: int, kind: str, payload: dict[str, Any], device: str | None = None,
                token: object | None = None, strict: bool = False) -> None:
        row = json.dumps({"step": step, "device": device, "kind": kind, "payload": payload, "ts": time.time(),
                          "by": self.coord.id}, default=str)
        key = f"{self.prefix}{plan_id}/j/{self.coord.id}.{self._boot}.{next(self._seq):08d}"
        try:
            self._txn(f"journal {kind}", [{"request_put": {"key": _b64(key), "value": _b64(row)}}], token)
        except CoordinationError as exc:
            if strict or kind in _STRICT:
                raise  # the step it announces is not taken: no row anywhere
            log.error("plan %s: journal row %s not written to etcd (%s); it is in the local journal only",
                      plan_id, kind, exc)
            if self.local is not None:
                self.local.journal(plan_id, step, kind, payload, device)
            return
        if self.local is not None:
            self.local.journal(plan_id, step, kind, payload, device)  # the local history: this host's part
        if kind == "closed" or kind in _LAST:
            self._forget_if_settled(plan_id)

    def save_plan_snapshot(self, plan_id: str, device: str, config: str, reason: str, token: object | None = None) -> int:
        assert self.local is not None
        local_id = self.local.save_snapshot(device, config, reason)
        packed = base64.b64encode(zlib.compress(redact_config(config).encode(), 6)).decode()
        chunks = [packed[i:i + CHUNK] for i in range(0, len(packed), CHUNK)] or [""]
        head = f"{self.prefix}{plan_id}/s/{uuid.uuid4().hex}"
        for i, chunk in enumerate(chunks):  # each chunk its own request: never above etcd's request limit
            self._etcd.call("snapshot chunk", lambda c, k=f"{head}/{i:04d}", v=chunk: c.post(
                c.get_url("/kv/put"), json={"key": _b64(k), "value": _b64(v)}), self._budget(), write=True)
            self.writes += 1
        doc = json.dumps({"device": device, "reason": reason, "taken_at": time.time(), "chunks": len(chunks),
                          "encoding": "redacted+zlib+base64", "by": self.coord.id})
        try:  # the header makes the snapshot: written only while the plan's leadership holds
            sid = self._txn("snapshot", [{"request_put": {"key": _b64(head), "value": _b64(doc)}}], token)
        except Fenced:
            self._etcd.call("snapshot chunks", lambda c: c.post(c.get_url("/kv/deleterange"), json={
                "key": _b64(head + "/"), "range_end": _prefix_end(head + "/")}), self._budget(), write=True)
            raise
        self._mine[sid] = local_id
        return sid

    def _forget_if_settled(self, plan_id: str) -> None:
        """A closed plan without a pending rollback leaves etcd (its history stays in SQLite)."""
        try:
            entries = self.journal_entries(plan_id)
            if not any(e.kind == "closed" for e in entries) or _pending(entries):
                return
            key = f"{self.prefix}{plan_id}/"
            self._etcd.call("forget plan", lambda c: c.post(c.get_url("/kv/deleterange"), json={
                "key": _b64(key), "range_end": _prefix_end(key)}), self._budget(), write=True)
            self.writes += 1
        except CoordinationError as exc:
            log.warning("plan %s: closed, but its keys stay in etcd for now (%s)", plan_id, exc)

    # -- reading --------------------------------------------------------------------------------------
    def _range(self, key: str) -> list[dict[str, Any]]:
        resp = self._etcd.call("read journal", lambda c: c.post(c.get_url("/kv/range"), json={
            "key": _b64(key), "range_end": _prefix_end(key)}), self._budget())
        return list(resp.get("kvs") or [])

    def journal_entries(self, plan_id: str) -> list[JournalEntry]:
        return _entries(plan_id, self._range(f"{self.prefix}{plan_id}/j/"))

    def _rows_by_plan(self) -> dict[str, list[dict[str, Any]]]:
        """Every plan's journal rows (etcd key-values) in etcd, by plan."""
        by_plan: dict[str, list[dict[str, Any]]] = {}
        for kv in self._range(self.prefix):
            rest = _unb64(kv.get("key"))[len(self.prefix):]
            plan_id, _, tail = rest.partition("/")
            if tail.startswith("j/"):
                by_plan.setdefault(plan_id, []).append(kv)
        return by_plan

    def open_plans(self) -> list[tuple[str, list[JournalEntry]]]:
        """Plans with rows but no 'closed' row, oldest first: every controller's, from etcd."""
        plans = [(pid, _entries(pid, kvs)) for pid, kvs in self._rows_by_plan().items()]
        plans = [(pid, es) for pid, es in plans if es and not any(e.kind == "closed" for e in es)]
        return sorted(plans, key=lambda p: p[1][0].id)

    def pending_rollbacks(self) -> list[JournalEntry]:
        out: list[JournalEntry] = []
        for pid, kvs in self._rows_by_plan().items():
            out.extend(_pending(_entries(pid, kvs)))
        return sorted(out, key=lambda e: e.id)

    def plan_snapshot(self, plan_id: str, snapshot_id: int) -> SnapshotRecord:
        """This process's own snapshot in full (from SQLite); another controller's from etcd, redacted."""
        if snapshot_id in self._mine and self.local is not None:
            return self.local.snapshot(self._mine[snapshot_id])
        kvs = self._range(f"{self.prefix}{plan_id}/s/")
        head = next((kv for kv in kvs if int(kv.get("create_revision", 0)) == snapshot_id
                     and _unb64(kv.get("key")).count("/") == (self.prefix + plan_id + "/s/x").count("/")), None)
        if head is None:
            raise CoordinationError(f"plan {plan_id}: snapshot {snapshot_id} is not in etcd")
        name = _unb64(head["key"])
        doc = json.loads(_unb64(head.get("value")))
        chunks = {_unb64(kv["key"]): _unb64(kv.get("value")) for kv in kvs if _unb64(kv["key"]).startswith(name + "/")}
        parts = [chunks.get(f"{name}/{i:04d}") for i in range(int(doc["chunks"]))]
        if any(p is None for p in parts):
            raise CoordinationError(f"plan {plan_id}: snapshot {snapshot_id} is incomplete in etcd")
        config = zlib.decompress(base64.b64decode("".join(p for p in parts if p is not None))).decode()
        return SnapshotRecord(snapshot_id, str(doc["device"]), float(doc["taken_at"]), str(doc["reason"]), config,
                              redacted=True)


def open_plan_summaries(coord: EtcdCoordinator) -> list[dict[str, Any]]:
    """The open plans in etcd, one line each (``netha leader``): a plan left by a controller that died."""
    out = []
    for pid, entries in EtcdJournal(coord, None).open_plans():
        head = next((e for e in entries if e.kind == "plan"), None)
        data = head.data if head else {}
        leader = data.get("leader") if isinstance(data.get("leader"), dict) else {}
        out.append({"plan": pid, "kind": data.get("plan_kind"), "group": data.get("group"), "target": data.get("target"),
                    "started_by": leader.get("controller"), "revision": leader.get("revision"),
                    "rows": len(entries), "last": entries[-1].kind if entries else None,
                    "age": round(max(0.0, time.time() - entries[0].ts), 1) if entries else None})
    return out


def _entries(plan_id: str, kvs: list[dict[str, Any]]) -> list[JournalEntry]:
    out = []
    for kv in sorted(kvs, key=lambda kv: int(kv.get("create_revision", 0))):
        try:
            doc = json.loads(_unb64(kv.get("value")))
        except ValueError:
            continue
        payload = doc.get("payload") if isinstance(doc.get("payload"), dict) else {}
        out.append(JournalEntry(int(kv.get("create_revision", 0)), plan_id, float(doc.get("ts", 0.0)),
                                int(doc.get("step", 0)), doc.get("device"), str(doc.get("kind", "?")), payload))
    return out


def _pending(entries: list[JournalEntry]) -> list[JournalEntry]:
    """Each device's last rollback word, where it is 'rollback-pending' (as Store.pending_rollbacks)."""
    last: dict[str | None, JournalEntry] = {}
    for e in entries:
        if e.kind in _LAST:
            last[e.device] = e
    return [e for e in last.values() if e.kind == "rollback-pending"]


__all__ = ["CHUNK", "EtcdJournal", "open_plan_summaries"]
