"""Coordination backends (issue 17): the inventory's rules, the file lock, and the etcd lease, fencing
and step-down against a real etcd server on the loopback (Debian's etcd-server, as in the lab);
the executor's fencing on the fake network of tests/unit/fakes.py."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from netha.coordination import Fenced, coordinator_for
from netha.coordination.base import CoordinationError
from netha.coordination.etcd import EtcdCoordinator
from netha.coordination.filelock import FileCoordinator
from netha.errors import InventoryError, LockHeld
from netha.inventory import load_inventory
from netha.inventory.model import Coordination
from netha.store import Store
from netha.takeover.execute import Executor, Sessions

from .fakes import FakeNetwork
from .test_executor import emergency

ROOT = Path(__file__).resolve().parents[2]
ETCD = shutil.which("etcd") or "/usr/bin/etcd"
ETCDCTL = shutil.which("etcdctl") or "/usr/bin/etcdctl"


# -- the inventory --------------------------------------------------------------------------------------
def _inventory(tmp_path: Path, coordination: dict) -> Path:
    doc = yaml.safe_load((ROOT / "inventories" / "lab.yml").read_text())
    doc["controller"]["coordination"] = coordination
    path = tmp_path / "inv.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_validate_refuses_patroni_rule_violation_with_file_and_line(tmp_path):
    path = _inventory(tmp_path, {"backend": "etcd", "endpoints": ["http://198.18.0.31:2379"], "prefix": "/netha/x",
                                 "ttl": 5, "loop_wait": 2, "retry_timeout": 2})
    with pytest.raises(InventoryError) as exc:
        load_inventory(path, check_secrets=False)
    [line] = exc.value.problems
    lineno = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "coordination:" in text)
    assert line.startswith(f"{path}:{lineno}: controller.coordination")
    assert "loop_wait (2) + 2 x retry_timeout (2) = 6 s exceeds ttl (5 s)" in line


@pytest.mark.parametrize("coordination, said", [
    ({"backend": "etcd", "endpoints": ["http://198.18.0.31:2379"]}, "needs a `prefix`"),
    ({"backend": "etcd", "prefix": "/netha/x"}, "needs `endpoints`"),
    ({"backend": "file", "prefix": "/netha/x"}, "prefix: only with `backend: etcd`"),
    ({"backend": "etcd", "endpoints": ["http://198.18.0.31:2379"], "prefix": "/netha/x", "username": "netha"},
     "both `username` and `password`"),
    ({"backend": "etcd", "endpoints": ["198.18.0.31:2379"], "prefix": "/netha/x"}, "coordination.endpoints.0"),
    ({"backend": "zookeeper"}, "coordination.backend"),
], ids=["no-prefix", "no-endpoints", "file-with-etcd-keys", "user-without-password", "endpoint-without-scheme",
        "unknown-backend"])
def test_validate_refuses_incomplete_coordination(tmp_path, coordination, said):
    with pytest.raises(InventoryError) as exc:
        load_inventory(_inventory(tmp_path, coordination), check_secrets=False)
    assert said in "\n".join(exc.value.problems)


def test_lab_ha_inventory_is_valid_and_keeps_patroni_rule():
    inv = load_inventory(ROOT / "inventories" / "lab-ha.yml", check_secrets=False)
    c = inv.controller.coordination
    assert c.backend == "etcd" and len(c.endpoints) == 3
    assert c.loop_wait + 2 * c.retry_timeout <= c.ttl


# -- the file backend -----------------------------------------------------------------------------------
def test_file_backend_one_controller_per_state_directory_and_view_names_it(tmp_path):
    a = FileCoordinator(tmp_path, "A")
    b = FileCoordinator(tmp_path, "B")
    assert b.view().leader is None
    a.start()
    try:
        assert a.is_leader() and a.token() is not None
        with pytest.raises(LockHeld):
            b.start()
        assert not b.is_leader() and b.token() is None
        assert b.view().leader == "A"
        with pytest.raises(LockHeld):
            with b.hold("netha failover"):
                pass
        a.check(a.token())
    finally:
        a.close()
    assert b.view().leader is None
    with b.hold("netha failover") as token:
        assert token.controller == "B" and b.is_leader()
    assert not b.is_leader()


# -- etcd on the loopback -------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalEtcd:
    def __init__(self, tmp: Path):
        self.client, self.peer = _free_port(), _free_port()
        self.url = f"http://127.0.0.1:{self.client}"
        self.log = (tmp / "etcd.log").open("wb")
        self.proc = subprocess.Popen(
            [ETCD, "--name", "t", "--data-dir", str(tmp / "data"), "--listen-client-urls", self.url,
             "--advertise-client-urls", self.url, "--listen-peer-urls", f"http://127.0.0.1:{self.peer}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer}",
             "--initial-cluster", f"t=http://127.0.0.1:{self.peer}", "--logger", "zap"],
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while self.ctl("endpoint", "health").returncode != 0:
            assert time.monotonic() < deadline, "etcd did not start"
            time.sleep(0.1)

    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([ETCDCTL, "--endpoints", self.url, *args], capture_output=True, text=True,
                              env={**os.environ, "ETCDCTL_API": "3"}, timeout=20)

    def stop(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def etcd(tmp_path_factory):
    if not (os.path.exists(ETCD) and os.path.exists(ETCDCTL)):
        pytest.skip("etcd-server and etcd-client are not installed (scripts/install.sh)")
    server = LocalEtcd(tmp_path_factory.mktemp("etcd"))
    yield server
    server.stop()


_n = iter(range(10**6))


def cfg(etcd: LocalEtcd, **kw) -> Coordination:
    # Generous timeouts: a loaded CI machine answers slowly, and a lease must not end for that alone.
    base = {"backend": "etcd", "endpoints": [etcd.url], "prefix": f"/netha/unit{next(_n)}", "ttl": 6, "loop_wait": 0.2,
            "retry_timeout": 2.0}
    return Coordination(**{**base, **kw})


@pytest.fixture
def closing():
    made: list[EtcdCoordinator] = []
    yield made.append
    for c in made:
        c.close()


def test_of_two_controllers_exactly_one_leads_and_both_are_listed(etcd, closing):
    c = cfg(etcd)
    a, b = EtcdCoordinator(c, "A"), EtcdCoordinator(c, "B")
    for x in (a, b):
        closing(x)
        x.start()
    time.sleep(0.5)
    assert [x.id for x in (a, b) if x.is_leader()] == ["A"]
    view = b.read_view()
    assert view.leader == "A" and view.revision == a.token().revision
    assert {(ctl.id, ctl.leader) for ctl in view.controllers} == {("A", True), ("B", False)}
    assert all(ctl.renewed is not None and time.time() - ctl.renewed < 2 for ctl in view.controllers)


def test_a_second_process_with_the_same_id_is_refused(etcd, closing):
    c = cfg(etcd, ttl=3, loop_wait=0.2, retry_timeout=1.0)
    a = EtcdCoordinator(c, "A")
    closing(a)
    a.start()
    twin = EtcdCoordinator(c, "A")
    with pytest.raises(CoordinationError, match="already registered"):
        twin.start()


def test_leader_that_cannot_renew_stops_acting_before_its_lease_can_end(etcd, closing):
    c = cfg(etcd)
    a = EtcdCoordinator(c, "A")
    closing(a)
    a.start()
    assert a.is_leader()
    etcd.proc.send_signal(signal.SIGSTOP)  # etcd hangs: no renewal gets through
    try:
        t_cut = time.monotonic()
        while a.is_leader():
            time.sleep(0.01)
        stopped = time.monotonic() - t_cut
    finally:
        etcd.proc.send_signal(signal.SIGCONT)
    # The last renewal was sent at most loop_wait before the cut; the lease ends ttl after that send.
    assert stopped <= c.ttl - c.retry_timeout + 0.1, stopped
    assert "lease not renewed" in a.why_not() or "etcd" in a.why_not()


def test_deposed_leader_push_is_refused_before_it_touches_a_device(etcd, closing, inv, tmp_path):
    c = cfg(etcd)
    a, b = EtcdCoordinator(c, "A"), EtcdCoordinator(c, "B")
    for x in (a, b):
        closing(x)
        x.start()
    net = FakeNetwork(inv)
    store = Store(tmp_path / "state")
    before = net.configs()

    # A is paused inside its plan (after the snapshots) for longer than its lease: B leads meanwhile.
    def pause(point: str) -> None:
        if point == "after-snapshots":
            a._stop.set()  # A's lease loop stops, as under SIGSTOP
            while not b.is_leader():
                time.sleep(0.05)

    ex = Executor(inv, store, Sessions(inv, factory=net.factory), verify_timeout=0.05, rollback_timeout=0.0, hook=pause,
                  fence=a)
    plan = emergency(inv)
    out = ex.run(plan, reason="test", origin="auto")
    assert not out.ok and not out.rolled_back and "not pushed" in out.message, out.message
    assert net.configs() == before, "a deposed leader changed a device"
    kinds = [e.kind for e in store.journal_entries(plan.id)]
    assert kinds == ["plan", "snapshots", "intent", "fenced"], kinds
    assert store.journal_entries(plan.id)[0].data["leader"] == {"controller": "A", "revision": out_revision(store, plan.id),
                                                               "backend": "etcd"}
    assert [h.result for h in store.history()] == ["fenced"]
    # The plan is left open; the new leader resolves it (nothing was pushed: closed, nothing to undo).
    assert [pid for pid, _ in store.open_plans()] == [plan.id]
    done = Executor(inv, store, Sessions(inv, factory=net.factory), verify_timeout=0.05, rollback_timeout=0.0,
                    fence=b).recover()
    assert [r.resolution.kind for r in done] == ["nothing"] and store.open_plans() == []
    assert a.stats.fence_refusals == 1


def out_revision(store: Store, plan_id: str) -> int:
    return int(store.journal_entries(plan_id)[0].data["leader"]["revision"])


def test_follower_cannot_start_a_plan(etcd, closing, inv, tmp_path):
    c = cfg(etcd)
    a, b = EtcdCoordinator(c, "A"), EtcdCoordinator(c, "B")
    for x in (a, b):
        closing(x)
        x.start()
    net = FakeNetwork(inv)
    store = Store(tmp_path / "state")
    before = net.configs()
    out = Executor(inv, store, Sessions(inv, factory=net.factory), verify_timeout=0.05, fence=b).run(emergency(inv))
    assert not out.ok and "controller B does not lead (controller A leads)" in out.message, out.message
    assert net.configs() == before and store.open_plans() == []


def test_step_down_hands_over_to_the_other_controller(etcd, closing):
    c = cfg(etcd)
    a, b = EtcdCoordinator(c, "A"), EtcdCoordinator(c, "B")
    for x in (a, b):
        closing(x)
        x.start()
    old = a.token()
    asker = EtcdCoordinator(c, "cli")
    assert asker.step_down("test") == "A"
    deadline = time.monotonic() + 15
    while not b.is_leader():
        assert time.monotonic() < deadline, "B did not take over"
        time.sleep(0.05)
    assert not a.is_leader()
    with pytest.raises(Fenced, match="deposed|ended"):
        a.check(old)


def test_close_hands_over_at_once_without_waiting_for_the_lease(etcd, closing):
    c = cfg(etcd, ttl=20, loop_wait=0.2, retry_timeout=2.0)
    a, b = EtcdCoordinator(c, "A"), EtcdCoordinator(c, "B")
    closing(b)
    a.start()
    b.start()
    t0 = time.monotonic()
    a.close()
    while not b.is_leader():
        assert time.monotonic() - t0 < 10, "B waited for A's lease (20 s)"
        time.sleep(0.05)


def test_manual_hold_is_refused_while_a_controller_leads(etcd, closing):
    c = cfg(etcd)
    a = EtcdCoordinator(c, "A")
    closing(a)
    a.start()
    with pytest.raises(LockHeld, match="controller A leads"):
        with EtcdCoordinator(c, "cli").hold("failover of lan"):
            pass


def test_unreachable_etcd_is_reported_not_a_traceback(closing):
    port = _free_port()
    c = Coordination(backend="etcd", endpoints=[f"http://127.0.0.1:{port}"], prefix="/netha/none", ttl=3,
                     loop_wait=0.2, retry_timeout=0.5)
    view = EtcdCoordinator(c, "A").read_view()
    assert not view.ok and view.leader is None
    assert "no endpoint answered" in view.reason and "nobody can act" in view.reason


def test_user_and_password_by_reference(etcd, closing, tmp_path, monkeypatch):
    c0 = cfg(etcd)
    for args in (("user", "add", "root:rootpw"), ("user", "grant-role", "root", "root"),
                 ("user", "add", "netha:s3cret-pw"), ("role", "add", "netha"),
                 ("role", "grant-permission", "netha", "--prefix=true", "readwrite", "/netha/"),
                 ("user", "grant-role", "netha", "netha")):
        r = etcd.ctl(*args)
        assert r.returncode == 0, r.stderr
    assert etcd.ctl("auth", "enable").returncode == 0
    try:
        monkeypatch.setenv("NETHA_ETCD_PW", "s3cret-pw")
        # etcd checks a password with bcrypt: a long lease, so that a slow login cannot end it
        c = Coordination(**{**c0.model_dump(), "ttl": 10, "retry_timeout": 4.0, "username": "netha", "password": {"env": "NETHA_ETCD_PW"}})
        a = EtcdCoordinator(c, "A")
        closing(a)
        a.start()
        deadline = time.monotonic() + 10
        while not a.is_leader():
            assert time.monotonic() < deadline, a.why_not()
            time.sleep(0.05)
        monkeypatch.setenv("NETHA_ETCD_PW", "wrong-pw")
        view = EtcdCoordinator(c, "B").read_view()
        assert not view.ok and "login as netha refused" in view.reason and "wrong-pw" not in view.reason
    finally:
        etcd.ctl("--user", "root:rootpw", "auth", "disable")


def test_coordinator_for_picks_the_inventory_backend(inv, tmp_path):
    assert isinstance(coordinator_for(inv, "A"), FileCoordinator)
    ha = load_inventory(ROOT / "inventories" / "lab-ha.yml", check_secrets=False)
    assert isinstance(coordinator_for(ha, "A"), EtcdCoordinator)


def test_status_leadership_and_metrics_name_the_acting_controller(inv, tmp_path):
    from prometheus_client import generate_latest

    from netha.controller.metrics import Metrics
    from netha.report import leadership

    inv = inv.model_copy(update={"controller": inv.controller.model_copy(update={"state_dir": tmp_path})})
    assert leadership(inv).leader is None
    a = FileCoordinator(tmp_path, "A")
    a.start()
    try:
        view = leadership(inv)
        assert view.leader == "A" and view.ok and view.to_json(time.time())["backend"] == "file"
        m = Metrics()
        m.watch_coordination(a)
        text = generate_latest(m.registry).decode()
        assert 'netha_leader{backend="file",controller="A"} 1.0' in text
        assert 'netha_fence_refusals_total{controller="A"} 0.0' in text
    finally:
        a.close()
