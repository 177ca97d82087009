"""The plan journal in etcd (issue 17, handover): a leader on another host, with a state directory of
its own, finishes or rolls back the plan a dead leader left open; snapshots leave the host without
their secrets and in chunks below etcd's request limit; a deposed leader's rows are refused. Against
a real etcd on the loopback (tests/unit/test_coordination.py's server), on the fake network."""

from __future__ import annotations

import base64
import json
import os
import random
import string
import time
import zlib

import pytest

from netha.coordination import Fenced, shared_journal
from netha.coordination.etcd import EtcdCoordinator
from netha.coordination.journal import CHUNK, EtcdJournal, open_plan_summaries
from netha.store import Store, redact_config, restore_secrets
from netha.takeover.execute import Executor, Sessions

from .fakes import Crash, FakeNetwork, crash_at
from .test_coordination import cfg, closing, etcd  # noqa: F401 - fixtures: the loopback etcd
from .test_executor import emergency, planned

SECRET = "zebra-Secret-42"


def _host(c, cid: str, tmp_path, closing_):  # noqa: ANN001
    """One controller on its own host: its coordinator, its own state directory, the shared journal."""
    coord = EtcdCoordinator(c, cid)
    closing_(coord)
    coord.start()
    store = Store(tmp_path / f"state-{cid}")
    journal = shared_journal(coord, store)
    assert isinstance(journal, EtcdJournal)
    return coord, store, journal


def _executor(inv, net, coord, store, journal, hook=None):  # noqa: ANN001
    return Executor(inv, store, Sessions(inv, factory=net.factory), verify_timeout=0.05, rollback_timeout=0.0,
                    hook=hook, fence=coord, journal=journal)


def _dies(coord: EtcdCoordinator) -> None:
    """kill -9 of the controller: its lease loop stops, nothing is released; its lease ends by itself."""
    coord._stop.set()
    coord._closing = True


def _wait_leader(coord: EtcdCoordinator, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not coord.is_leader():
        assert time.monotonic() < deadline, f"{coord.id} never led: {coord.why_not()}"
        time.sleep(0.05)


def _etcd_values(etcd_, prefix: str) -> list[str]:  # noqa: ANN001
    """Every value under ``prefix``, snapshot chunks decompressed: what a reader of etcd can see."""
    out = etcd_.ctl("get", "--prefix", prefix, "-w", "json")
    doc = json.loads(out.stdout or "{}")
    values = [base64.b64decode(kv["value"]).decode() for kv in doc.get("kvs") or []]
    seen = list(values)
    for v in values:
        try:
            seen.append(zlib.decompress(base64.b64decode(v)).decode())
        except Exception:  # noqa: BLE001 - not a chunk
            pass
    return seen


def _with_secret(net) -> None:  # noqa: ANN001
    for name in ("r1", "r2"):
        net[name].config = net[name].config.rstrip("\n") + f"\npassword {SECRET}\n"


def test_leader_on_another_host_finishes_the_plan_its_dead_leader_left_open(etcd, closing, inv, tmp_path):
    c = cfg(etcd, ttl=3, loop_wait=0.2, retry_timeout=1.0)
    a, store_a, journal_a = _host(c, "A", tmp_path, closing)
    b, store_b, journal_b = _host(c, "B", tmp_path, closing)
    net = FakeNetwork(inv)
    plan = emergency(inv)  # 1. r1 resigns, 2. r2 pinned at 254
    with pytest.raises(Crash):  # A dies right after its first push was recorded
        _executor(inv, net, a, store_a, journal_a, crash_at("after-record-1", lambda: _dies(a))).run(
            plan, reason="automatic: r1 degraded", origin="auto", action="failover")
    assert net.master(1) == "r2" and " vrrp 1 priority 254" not in net["r2"].config
    # B's own state directory knows nothing of the plan: it reads it from etcd.
    assert store_b.open_plans() == [] and [pid for pid, _ in journal_b.open_plans()] == [plan.id]
    [summary] = open_plan_summaries(b)  # what `netha leader` shows
    assert (summary["plan"], summary["group"], summary["started_by"], summary["last"]) == (plan.id, "lan", "A", "pushed")
    _wait_leader(b, c.ttl + 2)
    (r,) = _executor(inv, net, b, store_b, journal_b).recover()
    assert (r.resolution.kind, r.ok) == ("finish", True), r.message
    assert " vrrp 1 shutdown" in net["r1"].config and " vrrp 1 priority 254" in net["r2"].config
    assert "started by controller A" in r.message
    assert [h.action for h in store_b.history()][-1] == "recover" and "controller A" in store_b.history()[-1].detail
    # Closed: the plan's keys leave etcd; B's local journal holds its part of the story.
    assert journal_b.open_plans() == [] and _etcd_values(etcd, f"{c.prefix}/plans/") == []
    kinds = [e.kind for e in store_b.journal_entries(plan.id)]
    assert kinds[0] == "intent" and kinds[-1] == "closed", kinds


def test_leader_on_another_host_rolls_back_with_the_device_secrets_none_of_which_left_the_host(
        etcd, closing, inv, tmp_path):
    c = cfg(etcd, ttl=3, loop_wait=0.2, retry_timeout=1.0)
    a, store_a, journal_a = _host(c, "A", tmp_path, closing)
    b, store_b, journal_b = _host(c, "B", tmp_path, closing)
    net = FakeNetwork(inv)
    _with_secret(net)
    before = net.configs()
    plan = planned(inv)
    with pytest.raises(Crash):  # both steps pushed, the second not verified
        _executor(inv, net, a, store_a, journal_a, crash_at("after-record-2", lambda: _dies(a))).run(plan)
    assert net.configs() != before
    seen = _etcd_values(etcd, f"{c.prefix}/plans/")
    assert seen and not any(SECRET in v for v in seen), "a secret left the host"
    assert any("password ********" in v for v in seen)
    _wait_leader(b, c.ttl + 2)
    (r,) = _executor(inv, net, b, store_b, journal_b).recover(healthy=lambda group, device: False)
    assert (r.resolution.kind, r.ok) == ("rollback", True), r.message
    assert net.configs() == before  # secrets and all, exactly
    assert journal_b.open_plans() == [] and journal_b.pending_rollbacks() == []


def test_rollback_from_the_shared_journal_never_guesses_a_secret_the_device_no_longer_has(
        etcd, closing, inv, tmp_path):
    c = cfg(etcd, ttl=3, loop_wait=0.2, retry_timeout=1.0)
    a, store_a, journal_a = _host(c, "A", tmp_path, closing)
    b, store_b, journal_b = _host(c, "B", tmp_path, closing)
    net = FakeNetwork(inv)
    _with_secret(net)
    plan = planned(inv)
    with pytest.raises(Crash):
        _executor(inv, net, a, store_a, journal_a, crash_at("after-record-1", lambda: _dies(a))).run(plan)
    pushed = net["r2"].config
    _wait_leader(b, c.ttl + 2)
    rec_ex = _executor(inv, net, b, store_b, journal_b)
    rec_ex._begin("test")
    net["r2"].config = pushed.replace(f"password {SECRET}\n", "")  # the secret line is gone from the device
    ok, detail = rec_ex.rollback(plan.id, ["r2"], {"r2": _sid(journal_b, plan.id, "snapshots", "r2")},
                                 {"r2": net["r2"].config})
    assert not ok and "secrets are no longer on the device" in detail, detail
    assert net["r2"].replaces == []


def _sid(journal: EtcdJournal, plan_id: str, kind: str, device: str) -> int:
    [e] = [e for e in journal.journal_entries(plan_id) if e.kind == kind]
    return int(e.data["snapshots"][device])


def test_a_deposed_leader_cannot_write_the_shared_journal(etcd, closing, inv, tmp_path):
    c = cfg(etcd, ttl=3, loop_wait=0.2, retry_timeout=1.0)
    a, store_a, journal_a = _host(c, "A", tmp_path, closing)
    b, _, journal_b = _host(c, "B", tmp_path, closing)
    token = a.token()
    assert token is not None
    journal_a.journal("p1", 1, "intent", {"lines": ["x"]}, "r1", token=token)
    _dies(a)
    _wait_leader(b, c.ttl + 2)
    with pytest.raises(Fenced, match="journal row refused"):
        journal_a.journal("p1", 2, "intent", {"lines": ["y"]}, "r1", token=token)
    journal_a.journal("p1", 2, "done", {}, "r1", token=token)  # best-effort rows: logged, not raised
    assert [(e.step, e.kind) for e in journal_b.journal_entries("p1")] == [(1, "intent")]
    assert [e.kind for e in store_a.journal_entries("p1")] == ["intent", "done"]  # the refused intent: nowhere
    with pytest.raises(Fenced):
        journal_a.save_plan_snapshot("p1", "r1", "hostname r1\n", "late", token=token)
    assert not [v for v in _etcd_values(etcd, f"{c.prefix}/plans/p1/s/")], "a deposed leader's snapshot left keys"


def test_a_config_beyond_etcds_request_limit_is_stored_in_chunks_and_read_back_whole(etcd, closing, tmp_path):
    c = cfg(etcd)
    a, _, journal = _host(c, "A", tmp_path, closing)
    rnd = random.Random(7)
    lines = ["hostname big"] + [f"description {''.join(rnd.choices(string.ascii_letters, k=60))}"
                                for _ in range(40_000)] + [f"password {SECRET}"]
    config = "\n".join(lines) + "\n"
    assert len(config) > 2 * 1024 * 1024  # beyond etcd's 1.5 MiB request limit, even compressed
    sid = journal.save_plan_snapshot("big", "r1", config, "test")
    chunks = [v for v in _etcd_values(etcd, f"{c.prefix}/plans/big/s/") if not v.startswith("{")]
    assert len(chunks) >= 3 and max(len(v) for v in chunks) <= CHUNK * 2  # encoded chunks, each bounded
    fresh = EtcdJournal(a, Store(tmp_path / "other"))  # another process: nothing of its own cached
    snap = fresh.plan_snapshot("big", sid)
    assert snap.redacted and snap.config == redact_config(config) and SECRET not in snap.config
    assert restore_secrets(snap.config, config) == config
    assert journal.plan_snapshot("big", sid).config == config  # its own process reads its full snapshot


def test_restore_secrets_takes_them_from_the_running_config_and_refuses_when_one_is_missing():
    snap = ("hostname r1\npassword zebra\n-----BEGIN RSA PRIVATE KEY-----\nAAAA\nBBBB\n-----END RSA PRIVATE KEY-----\n"
            "router vrrp 1\n priority 200\nsnmp-server community public RO\n")
    red = redact_config(snap)
    assert "zebra" not in red and "AAAA" not in red and "public" not in red
    running = snap.replace("priority 200", "priority 1")  # netha's change: no secret touched
    assert restore_secrets(red, running) == snap
    assert restore_secrets(red, running.replace("password zebra\n", "")) is None


def test_file_backend_keeps_the_local_journal(inv, tmp_path):
    from netha.coordination.filelock import FileCoordinator

    assert shared_journal(FileCoordinator(tmp_path, "A"), Store(tmp_path / "s")) is None
    assert shared_journal(None, Store(tmp_path / "s")) is None
    assert os.path.exists(tmp_path / "s" / "netha.db")
