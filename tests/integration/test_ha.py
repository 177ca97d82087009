"""Several controllers, one acts (issue 17): two controllers, A in ``ctl`` and B in ``ctl2`` (each with
its own listener legs), on the lab's 3-member etcd cluster. Every test has an etcd prefix of its own
and a state directory of its own (shared by A and B, as on one host); every controller it starts is
killed and every etcd member it stops is started again, also when the test fails."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from netha.lab import node_daemons
from netha.lab.faults import nft
from netha.lab.names import lab_names
from netha.store import Store

from .labtools import ROOT, netha, ns, probes, running_config, switch_port, vrrp_state, vtysh, wait_for

pytestmark = pytest.mark.integration

HA_INVENTORY = ROOT / "inventories" / "lab-ha.yml"
ETCD = ("etcd1", "etcd2", "etcd3")
TTL, LOOP_WAIT, RETRY = 5, 1.0, 2.0


def ha_inventory(tmp: Path, pause: bool = False, state: str = "state", prefix: str | None = None,
                 name: str = "lab-ha.yml", source: Path = HA_INVENTORY) -> Path:
    doc = lab_names().inventory(yaml.safe_load(source.read_text()))
    doc["controller"]["state_dir"] = str(tmp / state)
    doc["controller"]["coordination"].update(prefix=prefix or f"/netha/test-{uuid.uuid4().hex[:8]}", ttl=TTL,
                                             loop_wait=LOOP_WAIT, retry_timeout=RETRY)
    path = tmp / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class Controller:
    """One `netha run --id ID` in its own namespace (A: ctl, B: ctl2)."""

    NODES = {"A": "ctl", "B": "ctl2"}

    def __init__(self, tmp: Path, inv: Path, cid: str, env: dict | None = None):
        self.id = cid
        self.log = tmp / f"controller-{cid}.log"
        argv = ["ip", "netns", "exec", ns(self.NODES[cid]), "env", "NETHA_NO_NETNS=1", sys.executable, "-m", "netha",
                "--log-level", "info", "run", "-i", str(inv), "--id", cid]
        with self.log.open("w") as f:
            self.proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT,
                                         env={**os.environ, **(env or {})}, start_new_session=True)

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_started(self, timeout: float = 240) -> None:
        wait_for(lambda: "watching" in self.text() or self.proc.poll() is not None, timeout, 0.1,
                 what=f"controller {self.id} start")
        assert self.proc.poll() is None, self.text()[-3000:]

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)  # `ip netns exec` and `env` exec: the pid is netha's

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                self.signal(signal.SIGCONT)
                self.signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)


@pytest.fixture
def controllers(lab, tmp_path):
    """Starts controllers; kills every one it started at the end, whatever happened."""
    started: list[Controller] = []

    def start(inv: Path, cid: str, env: dict | None = None) -> Controller:
        c = Controller(tmp_path, inv, cid, env)
        started.append(c)
        return c

    yield start
    for c in started:
        c.kill()
        if os.environ.get("NETHA_HA_DEBUG"):
            print(f"--- controller {c.id} log (tail) ---\n{c.text()[-4000:]}")


def etcd_up(node: str) -> None:
    d = node_daemons(node)
    if d.alive().get("etcd") is None:
        d.start_etcd()


def etcd_down(node: str) -> None:
    d = node_daemons(node)
    pid = d.alive().get("etcd")
    if pid:
        os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, 0)  # started by this process (the lab fixture): reaped here, or it stays a zombie
        except ChildProcessError:
            pass
        wait_for(lambda: d.alive().get("etcd") is None, 5, what=f"{node} etcd gone")


@pytest.fixture
def etcd(lab):
    """The etcd cluster whole again after the test (members stopped by it started, quorum back)."""
    yield
    for m in ETCD:
        etcd_up(m)
    wait_for(lambda: all(node_daemons(m).etcd_healthy() for m in ETCD), 30, 0.3, what="etcd quorum back")


def vrrp_transitions() -> dict[tuple[str, int], int]:
    """FRR's own count of VRRP state transitions per router and VRID."""
    out = {}
    for node in ("r1", "r2"):
        for g in json.loads(vtysh(node, "show vrrp json")):
            out[(node, g["vrid"])] = g["v4"]["stats"]["transitions"]
    return out


def leader_doc(inv: Path) -> dict:
    r = netha("leader", "-i", str(inv), "--json", timeout=120)
    assert r.stdout.strip(), r.stderr
    return json.loads(r.stdout)


def audit(inv_state: Path) -> list:
    return Store(inv_state).history(1000)


def leadership_events(state: Path, result: str) -> list:
    return [r for r in audit(state) if r.action == "leader" and r.result == result]


def actions_by(state: Path, actor: str) -> list:
    return [r for r in audit(state) if r.actor == actor and r.action in ("emergency", "planned", "failback", "gateway-move")]


def both_running(tmp: Path, start, env_a: dict | None = None, separate: bool = False) -> tuple[Path, Controller, Controller]:
    """A first (it leads), then B (it follows); both past their start. ``separate``: a state
    directory each (state-A, state-B: two hosts, the plan journal shared through etcd only)."""
    if separate:
        prefix = f"/netha/test-{uuid.uuid4().hex[:8]}"
        inv = ha_inventory(tmp, state="state-A", prefix=prefix, name="lab-ha-A.yml")
        inv_b = ha_inventory(tmp, state="state-B", prefix=prefix, name="lab-ha-B.yml")
    else:
        inv = inv_b = ha_inventory(tmp)
    a = start(inv, "A", env_a)
    wait_for(lambda: leader_doc(inv)["leader"] == "A", 30, 0.5, what="A leads")
    b = start(inv_b, "B")
    a.wait_started()
    b.wait_started()
    doc = leader_doc(inv)
    assert doc["leader"] == "A" and {c["id"] for c in doc["controllers"]} == {"A", "B"}, doc
    return inv, a, b


def test_both_controllers_started_at_once_exactly_one_leads(tmp_path, etcd, controllers):
    inv = ha_inventory(tmp_path)
    a, b = controllers(inv, "A"), controllers(inv, "B")
    a.wait_started()
    b.wait_started()
    leaders = set()
    for _ in range(10):
        doc = leader_doc(inv)
        assert doc["leader"] in ("A", "B"), doc
        assert [c["id"] for c in doc["controllers"] if c["leader"]] == [doc["leader"]], doc
        leaders.add(doc["leader"])
        time.sleep(0.3)
    assert len(leaders) == 1, f"the leadership moved without a failure: {leaders}"
    # Each controller's own word: exactly one says it leads, the other that it follows.
    said = [c for c in (a, b) if "leads (lease revision" in c.text() or ": leader (lease revision" in c.text()]
    assert [c.id for c in said] == list(leaders), [c.text()[-2000:] for c in (a, b)]
    started = [r.detail for r in audit(tmp_path / "state") if r.action == "daemon" and r.result == "started"]
    assert sorted("leader" in d for d in started) == [False, True], started


def test_kill_9_leader_other_leads_within_ttl_and_handles_gray_failure(tmp_path, baseline, etcd, controllers):
    inv, a, b = both_running(tmp_path, controllers)
    t_kill = time.time()
    a.signal(signal.SIGKILL)
    state = tmp_path / "state"
    acquired = wait_for(lambda: [r for r in leadership_events(state, "acquired") if r.actor == "daemon B"],
                        TTL + 10, 0.1, what="B leads")
    handover = acquired[0].ts - t_kill
    print(f"kill -9 of the leader -> B leads in {handover:.2f}s (ttl {TTL}s, loop_wait {LOOP_WAIT}s)")
    # The lease ends at most ttl after A's last renewal, B's loop takes it within loop_wait; B's daemon
    # audits it in its next cycle (slack for a loaded 2-core machine).
    assert handover <= TTL + LOOP_WAIT + 1.0, f"B led {handover:.2f}s after the kill (ttl {TTL}s)"
    # A gray failure right after: r1's uplink dies with its LAN side up; B alone acts.
    switch_port("r1", "eth2", False)
    wait_for(lambda: vrrp_state("r2") == "Master", 10, what="r2 master of lan")
    wait_for(lambda: "vrrp 1 shutdown" in running_config("r1"), 10, what="B makes r1 resign")
    # The audit entry comes once B's plan is verified and closed, a moment after the push.
    wait_for(lambda: any(r.group == "lan" and r.result == "ok" for r in actions_by(state, "daemon B")), 20,
             what="B's verified failover of lan in the audit")
    assert actions_by(state, "daemon A") == []


def test_sigstop_past_lease_then_sigcont_never_pushes(tmp_path, baseline, etcd, controllers):
    marker = tmp_path / "paused"
    # A state directory each: A's own journal and audit hold A's rows only (B resolves A's plan from etcd).
    inv, a, b = both_running(tmp_path, controllers, env_a={"NETHA_TEST_PAUSE": f"after-snapshots:{marker}"},
                             separate=True)
    state, state_b = tmp_path / "state-A", tmp_path / "state-B"
    switch_port("r1", "eth2", False)  # A decides, snapshots the devices, and stops at the hook
    wait_for(marker.exists, 15, what="A paused inside its plan, before any push")
    a.signal(signal.SIGSTOP)
    marker.unlink()  # A goes straight on to its first push when it runs again
    t_stop = time.time()
    wait_for(lambda: [r for r in leadership_events(state_b, "acquired") if r.actor == "daemon B"], TTL + 10, 0.1,
             what="B leads")
    wait_for(lambda: "vrrp 1 shutdown" in running_config("r1"), 15, what="B makes r1 resign")
    wait_for(lambda: vrrp_state("r2") == "Master", 10, what="r2 master")
    assert time.time() - t_stop > TTL, "A was stopped past its lease"

    def settled() -> dict | None:  # B's plans for the other groups (lan2, upstream) done: configs still for 2 s
        first = {n: running_config(n) for n in ("r1", "r2")}
        time.sleep(2.0)
        return first if {n: running_config(n) for n in ("r1", "r2")} == first else None

    configs = wait_for(settled, 40, 0.1, what="B's changes settled")
    a.signal(signal.SIGCONT)
    wait_for(lambda: "not pushed" in a.text(), 10, what="A's push refused")
    time.sleep(2.0)  # whatever A would do, it has done by now
    assert {n: running_config(n) for n in ("r1", "r2")} == configs, "A changed a device after SIGCONT"
    fenced = [r for r in audit(state) if r.actor == "daemon A" and r.result == "fenced"]
    assert fenced and "push refused" in (fenced[0].detail or ""), audit(state)
    assert actions_by(state, "daemon A") == fenced, "A's only actions are refusals"
    # The journal: A's plan (under A's lease revision) has its refusal and not one push or rollback.
    a_plans = [entries for _, entries in _plans(state)
               if any(e.kind == "plan" and (e.data.get("leader") or {}).get("controller") == "A" for e in entries)]
    assert a_plans, "A's plan is in the journal"
    assert any(e.kind == "fenced" for entries in a_plans for e in entries), a_plans
    assert [e for entries in a_plans for e in entries if e.kind in ("pushed", "done", "rollback", "rolled-back")] == []


def _plans(state: Path):
    store = Store(state)
    ids = [r[0] for r in store._db().execute("SELECT DISTINCT plan_id FROM journal").fetchall()]
    return [(pid, store.journal_entries(pid)) for pid in ids]


def test_leader_partitioned_from_etcd_stops_acting_before_its_lease_ends(tmp_path, baseline, etcd, controllers):
    inv, a, b = both_running(tmp_path, controllers)
    state = tmp_path / "state"
    table = "nh_ha_partition"
    nft("ctl", f"table inet {table} {{", " chain out {", "  type filter hook output priority 0; policy accept;",
        "  ip daddr { 198.18.0.31, 198.18.0.32, 198.18.0.33 } drop", " }", "}")
    try:
        t_cut = time.time()
        lost = wait_for(lambda: [r for r in leadership_events(state, "lost") if r.actor == "daemon A"], TTL + 5, 0.05,
                        what="A stops acting")
        acquired = wait_for(lambda: [r for r in leadership_events(state, "acquired") if r.actor == "daemon B"],
                            TTL + 10, 0.1, what="B leads")
        t_lost, t_b = lost[0].ts, acquired[0].ts
        print(f"partition: A stopped acting {t_lost - t_cut:.2f}s after the cut, B led {t_b - t_cut:.2f}s after it "
              f"({t_b - t_lost:.2f}s later); ttl {TTL}s, retry_timeout {RETRY}s")
        # A's lease ends no earlier than ttl after its last renewal, which was before the cut; B can only
        # lead once it has ended. A stopped acting retry_timeout before that, with the poll's slack.
        assert t_lost < t_b - RETRY / 2, (t_lost, t_b)
        assert t_lost - t_cut <= TTL - RETRY + 0.5
        assert "lease not renewed" in (lost[0].detail or ""), lost[0].detail
        # B acts on a failure now; A, cut off, never does.
        switch_port("r1", "eth2", False)
        wait_for(lambda: "vrrp 1 shutdown" in running_config("r1"), 15, what="B makes r1 resign")
        wait_for(lambda: any(r.result == "ok" for r in actions_by(state, "daemon B")), 20,
                 what="B's verified failover in the audit")
        assert actions_by(state, "daemon A") == []
    finally:
        nft("ctl", f"delete table inet {table}", check=False)


def test_etcd_quorum_lost_nobody_acts_status_says_why_traffic_unaffected(tmp_path, baseline, etcd, controllers):
    inv, a, b = both_running(tmp_path, controllers)
    state = tmp_path / "state"
    moves = vrrp_transitions()
    with probes(tmp_path) as run:
        t_lose = time.monotonic()
        etcd_down("etcd2")
        etcd_down("etcd3")
        wait_for(lambda: [r for r in leadership_events(state, "lost") if r.actor == "daemon A"], TTL + 5, 0.1,
                 what="A stops acting")
        r = netha("status", "-i", str(inv), "--json", timeout=60)
        doc = json.loads(r.stdout)
        time.sleep(1.0)
        loss = run.loss(since=t_lose)
    assert doc["leader"] is None, doc["coordination"]
    assert doc["coordination"]["ok"] is False and "nobody can act" in doc["coordination"]["reason"], doc["coordination"]
    # VRRP runs on: no transition on either router, and no gap beyond a probe's jitter on a loaded
    # machine (a VRRP failover would take its master-down interval, 360 ms).
    assert vrrp_transitions() == moves, "VRRP moved while etcd had no quorum"
    assert vrrp_state("r1") == "Master"
    assert loss.recovered_at is None or loss.blackhole < 0.2, f"traffic lost {loss.blackhole:.3f}s ({loss.lost} probes)"
    assert loss.lost <= loss.sent // 100, f"{loss.lost} of {loss.sent} probes lost"
    # A failure now: nobody may act, so nobody does (VRRP alone handles what it can).
    before = {n: running_config(n) for n in ("r1", "r2")}
    switch_port("r1", "eth2", False)
    time.sleep(3.0)
    assert {n: running_config(n) for n in ("r1", "r2")} == before, "a controller acted without the lease"
    assert actions_by(state, "daemon A") == [] and actions_by(state, "daemon B") == []
    assert not [x for x in leadership_events(state, "acquired")], "nobody may lead without a quorum"
    # Quorum back: one of them leads again and acts on the failure it sees.
    etcd_up("etcd2")
    wait_for(lambda: leader_doc(inv)["leader"] in ("A", "B"), 30, 0.5, what="a leader again")
    wait_for(lambda: "vrrp 1 shutdown" in running_config("r1"), 20, what="the new leader makes r1 resign")


def test_leader_killed_mid_plan_on_its_own_host_the_other_finishes_it_from_etcd(tmp_path, baseline, etcd, controllers):
    # Two hosts: A and B each with a state directory of its own (nothing shared but etcd). A dies by
    # SIGKILL at a deterministic seam of its first plan: its first push made and recorded (journal
    # rows plan, snapshots, intent, pushed written), the rest not done. B reads the open plan from
    # etcd and finishes it (the target holds) or rolls it back.
    prefix = f"/netha/test-{uuid.uuid4().hex[:8]}"
    inv_a = ha_inventory(tmp_path, state="state-A", prefix=prefix, name="lab-ha-A.yml")
    inv_b = ha_inventory(tmp_path, state="state-B", prefix=prefix, name="lab-ha-B.yml")
    a = controllers(inv_a, "A", {"NETHA_TEST_KILL": "after-record-1"})
    wait_for(lambda: leader_doc(inv_a)["leader"] == "A", 30, 0.5, what="A leads")
    b = controllers(inv_b, "B")
    a.wait_started()
    b.wait_started()
    switch_port("r1", "eth2", False)  # A decides and dies inside its plan
    wait_for(lambda: a.proc.poll() is not None, 20, what="A killed inside its plan")
    started = [r for r in audit(tmp_path / "state-A") if r.actor == "daemon A" and r.action == "recover"]
    assert started == [], "A resolved nothing: it died"
    state_b = tmp_path / "state-B"
    assert Store(state_b).open_plans() == [], "B's own state directory never saw A's plan"
    recovered = wait_for(lambda: [r for r in audit(state_b) if r.action == "recover" and r.actor == "daemon B"
                                  and "started by controller A" in (r.detail or "")], TTL + 30, 0.2,
                         what="B resolves A's plan")
    detail = recovered[0].detail or ""
    print(f"B resolved A's plan: {detail}")
    assert recovered[0].result == "ok", detail
    assert "finishing from step" in detail or "rolled back" in detail, detail
    # Whatever A's plan was for, the failure ends handled: r1 resigned from lan, r2 its only master.
    wait_for(lambda: "vrrp 1 shutdown" in running_config("r1"), 20, what="r1 resigned from lan")
    wait_for(lambda: vrrp_state("r2") == "Master", 10, what="r2 master of lan")
    assert [r for r in audit(state_b) if r.action == "leader" and r.result == "acquired"], "B audited its leadership"
    # The plan left etcd once closed: nothing open remains for a third controller.
    doc = leader_doc(inv_b)
    assert doc["leader"] == "B", doc
    wait_for(lambda: leader_doc(inv_b).get("open_plans") == [], 20, 0.5, what="no open plan left in etcd")


GROUPS_INVENTORY = ROOT / "inventories" / "lab-ha-groups.yml"
LAN_SET, KLAN_SET = ("lan", "lan2", "upstream"), ("klan", "kup")


def group_leaders(inv: Path) -> dict:
    groups = leader_doc(inv)["coordination"].get("groups") or {}
    return {g: v["leader"] for g, v in groups.items()}


def test_scope_group_each_controller_acts_on_its_groups_and_takes_the_others_after_kill_9(
        tmp_path, baseline, kbase, etcd, controllers):
    # Scope group on two hosts (a state directory each): A owns the FRR groups, B the keepalived
    # ones. A gray failure of klan is handled by B alone; kill -9 of A: B takes A's groups within ttl
    # and handles a gray failure of lan right after.
    prefix = f"/netha/test-{uuid.uuid4().hex[:8]}"
    inv_a = ha_inventory(tmp_path, state="state-A", prefix=prefix, name="groups-A.yml", source=GROUPS_INVENTORY)
    inv_b = ha_inventory(tmp_path, state="state-B", prefix=prefix, name="groups-B.yml", source=GROUPS_INVENTORY)
    a, b = controllers(inv_a, "A"), controllers(inv_b, "B")
    a.wait_started()
    b.wait_started()
    want = {**{g: "A" for g in LAN_SET}, **{g: "B" for g in KLAN_SET}}
    wait_for(lambda: group_leaders(inv_a) == want, 3 * TTL, 0.5, what="each controller holds its own groups")
    state_a, state_b = tmp_path / "state-A", tmp_path / "state-B"
    # A gray failure of klan: B's.
    switch_port("k1", "eth2", False)
    wait_for(lambda: any(r.group == "klan" and r.result == "ok" for r in actions_by(state_b, "daemon B")), 30,
             what="B's verified failover of klan")
    assert [r for r in actions_by(state_a, "daemon A") if r.group in KLAN_SET] == [], "A acted on B's group"
    # kill -9 of A: B takes A's groups within ttl.
    t_kill = time.time()
    a.signal(signal.SIGKILL)
    took = wait_for(lambda: [r for r in leadership_events(state_b, "acquired") if r.actor == "daemon B"
                             and "lan" in (r.detail or "") and r.ts > t_kill], TTL + 10, 0.1, what="B takes lan")
    handover = took[0].ts - t_kill
    print(f"scope group: kill -9 of A -> B holds A's groups in {handover:.2f}s (ttl {TTL}s)")
    assert handover <= TTL + LOOP_WAIT + 1.0, handover
    assert group_leaders(inv_b) == {g: "B" for g in want}
    switch_port("r1", "eth2", False)
    wait_for(lambda: "vrrp 1 shutdown" in running_config("r1"), 15, what="B makes r1 resign")
    wait_for(lambda: any(r.group == "lan" and r.result == "ok" for r in actions_by(state_b, "daemon B")), 20,
             what="B's verified failover of lan")
