"""Scope group (issue 17, item 8): one lease per set of groups sharing devices, so that several
controllers share a fleet. Validation of the inventory; leases, fencing, handover and hand-back
against a real etcd on the loopback (tests/unit/test_coordination.py's server); the executor and the
controller cycle acting on held groups only, on the fake network."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from netha.coordination import coordinator_for, observed_inventory, shared_journal
from netha.coordination.base import CoordinationError, Fenced
from netha.coordination.etcd import EtcdCoordinator
from netha.errors import InventoryError, LockHeld
from netha.inventory import load_inventory
from netha.store import Store
from netha.takeover.execute import Executor, Sessions

from .fakes import FakeNetwork
from .test_coordination import cfg, closing, etcd  # noqa: F401 - fixtures: the loopback etcd
from .test_executor import emergency

ROOT = Path(__file__).resolve().parents[2]
LAN = ("lan", "lan2", "upstream")  # r1, r2
KLAN = ("klan", "kup")  # k1, k2


def _inventory(tmp_path: Path, **coordination) -> Path:
    doc = yaml.safe_load((ROOT / "inventories" / "lab-ha.yml").read_text())
    doc["controller"]["coordination"].update(coordination)
    doc["controller"].pop("netns", None)  # the CLI would enter the lab's namespace
    path = tmp_path / "inv.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# -- the inventory --------------------------------------------------------------------------------------
def test_validate_refuses_a_controller_owning_part_of_the_groups_that_share_its_devices(tmp_path):
    path = _inventory(tmp_path, scope="group", groups={"A": ["lan", "upstream"], "B": ["klan", "kup"]})
    with pytest.raises(InventoryError) as exc:
        load_inventory(path, check_secrets=False)
    [line] = exc.value.problems
    assert "controller A: lan, upstream share devices with lan2" in line and "two controllers must never push" in line
    assert line.startswith(f"{path}:")


@pytest.mark.parametrize("coordination, said", [
    ({"groups": {"A": ["lan", "lan2", "upstream"]}}, "only with `scope: group`"),
    ({"scope": "group", "groups": {"A": ["nope"]}}, "controller A: unknown group 'nope'"),
    ({"scope": "bogus"}, "scope"),
], ids=["groups-without-scope", "unknown-group", "unknown-scope"])
def test_validate_refuses_bad_group_scope(tmp_path, coordination, said):
    with pytest.raises(InventoryError) as exc:
        load_inventory(_inventory(tmp_path, **coordination), check_secrets=False)
    assert said in "\n".join(exc.value.problems)


def test_lab_ha_groups_inventory_is_valid():
    inv = load_inventory(ROOT / "inventories" / "lab-ha-groups.yml", check_secrets=False)
    c = inv.controller.coordination
    assert c.scope == "group" and c.loop_wait + 2 * c.retry_timeout <= c.ttl
    assert sorted(g for gs in c.groups.values() for g in gs) == sorted(inv.groups)


def test_a_controller_without_standby_observes_its_own_groups_and_their_devices_only(tmp_path):
    inv = load_inventory(_inventory(tmp_path, scope="group", standby=False,
                                    groups={"A": list(LAN), "B": list(KLAN)}), check_secrets=False)
    b = observed_inventory(inv, "B")
    assert sorted(b.groups) == sorted(KLAN) and sorted(b.devices) == ["k1", "k2"]
    assert [lst.groups for lst in b.controller.listeners] == [["klan"]]
    assert observed_inventory(load_inventory(_inventory(tmp_path, scope="group"), check_secrets=False), "B").groups.keys() \
        == inv.groups.keys()  # standby (the default): every group observed


# -- leases on etcd ---------------------------------------------------------------------------------------
def _coord(etcd_, inv_path: Path, cid: str, prefix: str, closing_, **kw) -> EtcdCoordinator:  # noqa: ANN001
    inv = load_inventory(inv_path, check_secrets=False)
    c = cfg(etcd_, prefix=prefix, scope="group", ttl=3, loop_wait=0.2, retry_timeout=1.0, **kw)
    inv = inv.model_copy(update={"controller": inv.controller.model_copy(update={"coordination": c})})
    coord = coordinator_for(inv, cid)
    assert isinstance(coord, EtcdCoordinator)
    closing_(coord)
    return coord


def _wait(pred, timeout: float, what: str):  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not (v := pred()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return v


def _dies(coord: EtcdCoordinator) -> None:
    coord._stop.set()  # kill -9: no renewal, nothing released
    coord._closing = True


_n = iter(range(10**6))


@pytest.fixture
def prefix():
    return f"/netha/groups{next(_n)}-{time.monotonic_ns()}"


def test_each_controller_holds_its_own_groups_and_acts_on_them_only(etcd, closing, tmp_path, prefix):
    path = _inventory(tmp_path, scope="group", groups={"A": list(LAN), "B": list(KLAN)})
    b = _coord(etcd, path, "B", prefix, closing, groups={"A": list(LAN), "B": list(KLAN)})
    b.start()
    time.sleep(0.6)  # B alone: A's groups are A's while... nobody owning them runs: B stands by and takes them
    assert b.held_groups() == frozenset(LAN + KLAN)
    a = _coord(etcd, path, "A", prefix, closing, groups={"A": list(LAN), "B": list(KLAN)})
    a.start()
    # A runs: B hands A's groups back, A takes them.
    _wait(lambda: a.held_groups() == frozenset(LAN), 5, "A holds its groups")
    assert b.held_groups() == frozenset(KLAN)
    ta, tb = a.token("lan"), b.token("klan")
    assert ta is not None and tb is not None and ta.key.endswith("/leases/lan") and set(ta.groups) == set(LAN)
    assert a.token("klan") is None and b.token("lan") is None
    assert a.token("upstream").revision == ta.revision  # one lease (one revision) for the set
    a.check(ta)
    b.check(tb)
    with pytest.raises(Fenced):
        b.check(ta)  # another controller's token
    view = b.read_view()
    groups = view.details["groups"]
    assert {g: v["leader"] for g, v in groups.items()} == {**{g: "A" for g in LAN}, **{g: "B" for g in KLAN}}
    assert view.leader is None and "several controllers lead" in view.reason
    assert {(c.id, c.leader) for c in view.controllers} == {("A", True), ("B", True)}
    assert [c.state for c in view.controllers if c.id == "A"] == ["leader of lan,lan2,upstream"]


def test_kill_9_of_one_controller_the_other_takes_its_groups_within_ttl(etcd, closing, tmp_path, prefix):
    groups = {"A": list(LAN), "B": list(KLAN)}
    path = _inventory(tmp_path, scope="group", groups=groups)
    a = _coord(etcd, path, "A", prefix, closing, groups=groups)
    b = _coord(etcd, path, "B", prefix, closing, groups=groups)
    a.start()
    b.start()
    _wait(lambda: a.held_groups() == frozenset(LAN) and b.held_groups() == frozenset(KLAN), 5, "each its own")
    old = a.token("lan")
    t0 = time.monotonic()
    _dies(a)
    _wait(lambda: b.held_groups() == frozenset(LAN + KLAN), a.ttl + 3, "B takes A's groups")
    took = time.monotonic() - t0
    assert took <= a.ttl + 1.0, took
    with pytest.raises(Fenced):
        a.check(old)  # A's old lease: refused
    new = b.token("lan")
    assert new is not None and new.revision != old.revision


def test_a_set_of_groups_is_taken_whole_or_not_at_all(etcd, closing, tmp_path, prefix):
    # Someone (an older controller with another inventory) holds upstream alone: lan and lan2 share its
    # devices, so no controller may take them: nobody pushes to r1/r2 beside the holder of upstream.
    path = _inventory(tmp_path, scope="group")
    a = _coord(etcd, path, "A", prefix, closing)
    lease = etcd.ctl("lease", "grant", "30").stdout.split()[1]
    etcd.ctl("put", "--lease", lease, f"{prefix}/leases/upstream", '{"id": "old"}')
    a.start()
    time.sleep(0.6)
    assert a.held_groups() == frozenset(KLAN)
    assert a.token("lan") is None and not a.is_leader("lan") and a.is_leader("klan")
    etcd.ctl("lease", "revoke", lease)
    _wait(lambda: a.held_groups() == frozenset(LAN + KLAN), 3, "the whole set once free")


def test_manual_command_is_refused_while_any_group_is_held(etcd, closing, tmp_path, prefix):
    path = _inventory(tmp_path, scope="group")
    a = _coord(etcd, path, "A", prefix, closing, groups={"A": list(KLAN)})
    a.start()
    cli = _coord(etcd, path, "ops", prefix, closing, groups={"A": list(KLAN)})
    with pytest.raises(LockHeld, match="group leases held by A"):
        with cli.hold("netha failover"):
            pass


def test_step_down_in_scope_group_names_the_controller(etcd, closing, tmp_path, prefix):
    groups = {"A": list(LAN), "B": list(KLAN)}
    path = _inventory(tmp_path, scope="group", groups=groups)
    a = _coord(etcd, path, "A", prefix, closing, groups=groups)
    b = _coord(etcd, path, "B", prefix, closing, groups=groups)
    a.start()
    b.start()
    _wait(lambda: a.held_groups() == frozenset(LAN) and b.held_groups() == frozenset(KLAN), 5, "each its own")
    with pytest.raises(CoordinationError, match="name the one to step down"):
        b.step_down("ops")
    assert b.step_down("ops", "B") == "B"
    _wait(lambda: a.held_groups() == frozenset(LAN + KLAN), 5, "A takes B's groups while B steps down")


# -- acting on held groups only ----------------------------------------------------------------------------
def test_a_plan_on_a_group_this_controller_does_not_hold_is_refused(etcd, closing, inv, tmp_path, prefix):
    groups = {"A": list(LAN), "B": list(KLAN)}
    path = _inventory(tmp_path, scope="group", groups=groups)
    a = _coord(etcd, path, "A", prefix, closing, groups=groups)
    b = _coord(etcd, path, "B", prefix, closing, groups=groups)
    a.start()
    b.start()
    _wait(lambda: a.held_groups() == frozenset(LAN) and b.held_groups() == frozenset(KLAN), 5, "each its own")
    net = FakeNetwork(inv)
    before = net.configs()
    store = Store(tmp_path / "B")
    out = Executor(inv, store, Sessions(inv, factory=net.factory), verify_timeout=0.05, fence=b,
                   journal=shared_journal(b, store)).run(emergency(inv))  # a plan on lan
    assert not out.ok and "holds no lease of group lan" in out.message, out.message
    assert net.configs() == before
    store_a = Store(tmp_path / "A")
    out = Executor(inv, store_a, Sessions(inv, factory=net.factory), verify_timeout=0.05, fence=a,
                   journal=shared_journal(a, store_a)).run(emergency(inv))
    assert out.ok, out.message
    [head] = [e for e in store_a.journal_entries(out.plan.id) if e.kind == "plan"]
    assert head.data["leader"]["key"].endswith("/leases/lan")


def test_the_cycle_acts_only_on_the_groups_whose_lease_it_holds(inv, tmp_path):
    from netha.controller.decide import Action

    from .test_controller_cycle import Rig, degrade_r1

    net = FakeNetwork(inv)
    rig = Rig(inv, tmp_path / "state", net)
    rig.cycles(3)
    degrade_r1(net)  # lan's master degrades
    others = frozenset(g for g in inv.groups if g not in LAN)
    seen = [rig.ctl.cycle(net.snapshot(rig.at + 0.1 * i), acting=others) for i in range(1, 6)]
    assert all(r.decision.kind == Action.NONE and r.outcome is None for r in seen)  # lan is another's
    assert net.master(1) == "r1"
    rig.at += 0.6
    acted = [r for r in (rig.ctl.cycle(net.snapshot(rig.at + 0.1 * i), acting=frozenset(LAN)) for i in range(1, 4))
             if r.outcome is not None]
    assert [(r.decision.kind, r.decision.group) for r in acted] == [(Action.FAILOVER, "lan")]
    assert net.master(1) == "r2"


def test_netha_leader_shows_each_group_leader_and_exits_1_while_a_group_has_none(etcd, closing, tmp_path, prefix):
    import json

    from typer.testing import CliRunner

    from netha.cli.main import app

    groups = {"A": list(LAN), "B": list(KLAN)}
    path = _inventory(tmp_path, scope="group", groups=groups, endpoints=[etcd.url], prefix=prefix, ttl=3,
                      loop_wait=0.2, retry_timeout=1.0)
    a = _coord(etcd, path, "A", prefix, closing, groups=groups, standby=False)
    a.start()
    _wait(lambda: a.held_groups() == frozenset(LAN), 5, "A holds its groups")
    r = CliRunner().invoke(app, ["leader", "-i", str(path), "--json"])
    assert r.stdout.strip(), (r.stdout, r.exception, r.output)
    doc = json.loads(r.stdout)
    assert r.exit_code == 1, r.stdout  # klan and kup: nobody (B is not running, A does not stand by)
    assert doc["coordination"]["scope"] == "group" and doc["leader"] is None
    assert {g: v["leader"] for g, v in doc["coordination"]["groups"].items()} == {
        **{g: "A" for g in LAN}, **{g: None for g in KLAN}}
    assert "no lease held for klan, kup" in doc["coordination"]["reason"]
    r = CliRunner().invoke(app, ["leader", "-i", str(path)])
    assert "NOBODY" in r.stdout and "lan2" in r.stdout
