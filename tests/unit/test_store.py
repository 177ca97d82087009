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
    assert open_plans[0][1][1]["device"] == "r2"


def test_audit_and_memory_round_trip(tmp_path):
    s = Store(tmp_path)
    s.audit("failover", "ok", "lan", "r2", "detail", "--- diff")
    assert s.history()[0].action == "failover"
    s.put("memory", {"a": 1})
    assert s.get("memory") == {"a": 1}
    assert s.get("missing", 5) == 5
