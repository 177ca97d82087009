"""The embedded store: snapshots, audit, journal and memory in one SQLite file."""

from __future__ import annotations

import stat

from netha.store import Store


def test_store_is_private_and_keeps_snapshots_in_order(tmp_path):
    s = Store(tmp_path / "state")
    a = s.save_snapshot("r1", "hostname r1\n", "test")
    b = s.save_snapshot("r1", "hostname r1\n!\n", "test 2")
    assert [r.id for r in s.snapshots("r1")] == [b, a]
    assert s.snapshot(a).config == "hostname r1\n"
    assert stat.S_IMODE(s.path.stat().st_mode) == 0o600


def test_unclosed_plans_are_found_after_a_crash(tmp_path):
    s = Store(tmp_path)
    s.journal("p1", 0, "plan", {"kind": "planned"})
    s.journal("p1", 1, "intent", {"lines": ["x"]}, "r2")
    s.journal("p2", 0, "plan", {"kind": "planned"})
    s.journal("p2", 3, "closed", {"result": "done"})
    open_plans = Store(tmp_path).open_plans()
    assert [pid for pid, _ in open_plans] == ["p1"]
    assert open_plans[0][1][1].device == "r2"


def test_a_journal_row_keeps_its_own_kind_whatever_its_payload_says(tmp_path):
    # A plan header's payload once carried the plan's kind ("emergency") and overwrote the row's
    # kind "plan", so recovery never found the header and rolled back a good failover.
    s = Store(tmp_path)
    s.journal("p1", 0, "plan", {"kind": "emergency", "plan_kind": "emergency", "group": "lan"})
    s.journal("p1", 1, "intent", {"kind": "bogus", "lines": ["x"]}, "r1")
    (pid, entries), = s.open_plans()
    assert [e.kind for e in entries] == ["plan", "intent"]
    assert entries[0].data["plan_kind"] == "emergency"


def test_a_pending_rollback_stays_pending_until_resolved(tmp_path):
    s = Store(tmp_path)
    s.journal("p1", 0, "rollback", {"snapshot": 1}, "r1")
    s.journal("p1", 0, "rollback-pending", {"snapshot": 1, "error": "r1: timed out"}, "r1")
    s.journal("p1", 3, "closed", {"result": "rollback-incomplete"})
    s.journal("p2", 0, "rollback-pending", {"snapshot": 2}, "r2")
    s.journal("p2", 0, "rolled-back", {"snapshot": 2}, "r2")
    assert [(e.plan_id, e.device) for e in s.pending_rollbacks()] == [("p1", "r1")]
    s.journal("p1", 0, "rolled-back", {"snapshot": 1}, "r1")
    assert s.pending_rollbacks() == []


def test_state_files_are_private_even_when_they_existed_with_loose_modes(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    first = Store(state)
    first.save_snapshot("r1", "hostname r1\n", "test")  # creates -wal and -shm
    for f in (state / "netha.db", state / "netha.db-wal", state / "netha.db-shm"):
        f.chmod(0o644)
    state.chmod(0o755)
    s = Store(state)
    s.save_snapshot("r1", "hostname r1\n!\n", "test")
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    files = sorted(state.glob("netha.db*"))
    assert [f.name for f in files] == ["netha.db", "netha.db-shm", "netha.db-wal"]
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}


def test_a_new_database_never_has_a_world_readable_wal(tmp_path):
    s = Store(tmp_path / "fresh")
    s.save_snapshot("r1", "hostname r1\n", "test")
    wal = tmp_path / "fresh" / "netha.db-wal"
    assert wal.exists()
    assert stat.S_IMODE(wal.stat().st_mode) == 0o600


def test_audit_diffs_and_details_are_stored_redacted(tmp_path):
    s = Store(tmp_path)
    s.audit("failover", "ok", "lan", "k1", detail="auth_pass s3cr3tpw set",
            diff="+ snmp-server community Pr1v4teC0mm RO\n+ password 0 hunter2hunter")
    rec = s.history()[-1]
    stored = f"{rec.detail}\n{rec.diff}"
    for secret in ("s3cr3tpw", "Pr1v4teC0mm", "hunter2hunter"):
        assert secret not in stored, stored


def test_audit_and_memory_round_trip(tmp_path):
    s = Store(tmp_path)
    s.audit("failover", "ok", "lan", "r2", "detail", "--- diff")
    assert s.history()[0].action == "failover"
    s.put("memory", {"a": 1})
    assert s.get("memory") == {"a": 1}
    assert s.get("missing", 5) == 5
