"""Labs side by side: every name a lab takes on the host comes from the lab's name, and two lab names never
share a namespace, a directory, an FRR pathspace, a user or a root-namespace interface."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from netha.errors import LabError
from netha.lab import builder
from netha.lab.builder import LabState
from netha.lab.names import DEFAULT_NAME, LabNames, lab_names, labs_present
from netha.lab.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = load_topology(ROOT / "lab" / "netha.clab.yml")
NODES = [n.name for n in TOPOLOGY.nodes.values() if n.kind == "linux"]
LAB_NAMES = [DEFAULT_NAME, "w0", "w1", "w10", "w1x", "a", "ab", "nh", "sw", "r1", "netha0", "nethasa", "abcdefghijkl"]

lab_name = st.from_regex(r"\A[a-z][a-z0-9]{0,11}\Z", fullmatch=True)
node_name = st.from_regex(r"\A[a-z][a-z0-9]{0,9}\Z", fullmatch=True)


def _nested(p: str, q: str) -> bool:
    """P and Q are the same path or one is inside the other."""
    return p == q or p.startswith(q.rstrip("/") + "/") or q.startswith(p.rstrip("/") + "/")


def assert_apart(x: LabNames, y: LabNames, nodes_x: list[str], nodes_y: list[str]) -> None:
    hx, hy = x.host_names(nodes_x), y.host_names(nodes_y)
    for key in hx:
        assert not hx[key] & hy[key], (x.name, y.name, key, hx[key] & hy[key])
    for p, q in itertools.product(hx["paths"], hy["paths"]):
        assert not _nested(p, q), (x.name, y.name, p, q)
    # What one lab's down() sweeps (its namespaces, its FRR pathspaces) never includes the other's.
    assert not any(x.owns_namespace(ns) for ns in hy["namespaces"]), (x.name, y.name)
    assert not any(y.owns_namespace(ns) for ns in hx["namespaces"]), (x.name, y.name)
    assert not any(x.owns_pathspace(ps) for ps in hy["pathspaces"]), (x.name, y.name)
    assert not any(y.owns_pathspace(ps) for ps in hx["pathspaces"]), (x.name, y.name)
    assert x.user != y.user and x.run_dir != y.run_dir


def test_default_lab_keeps_todays_names(monkeypatch):
    monkeypatch.delenv("NETHA_LAB_NAME", raising=False)
    monkeypatch.delenv("NETHA_LAB_DIR", raising=False)
    d = lab_names()
    assert d.is_default and d.name == "netha"
    assert (d.netns("r1"), d.switch, d.netns("ctl")) == ("nh-r1", "nh-sw", "nh-ctl")
    assert d.run_dir == Path("/run/netha-lab")
    assert (d.pathspace("r1"), d.frr_dir("r1"), d.frr_sock("r1")) == ("r1", Path("/etc/frr/r1"), Path("/var/run/frr/r1"))
    assert d.user == "netha-lab"


def test_another_lab_has_its_own_names(monkeypatch):
    monkeypatch.setenv("NETHA_LAB_NAME", "w1")
    w = lab_names()
    assert (w.netns("r1"), w.switch) == ("nhw1-r1", "nhw1-sw")
    assert w.run_dir == Path("/run/netha-lab-w1")
    assert (w.frr_dir("r1"), w.frr_sock("r1")) == (Path("/etc/frr/nhw1-r1"), Path("/var/run/frr/nhw1-r1"))
    assert w.user == "netha-lab-w1"
    assert lab_names("w2").name == "w2"  # an explicit name wins over the environment


@pytest.mark.parametrize("bad", ["", "W1", "1w", "w-1", "w_1", "w.1", "w/1", "abcdefghijklm", "w 1"])
def test_lab_names_that_could_collide_or_break_a_path_are_refused(bad):
    with pytest.raises(LabError):
        LabNames(bad)


def test_the_shipped_labs_never_share_a_host_name():
    for x, y in itertools.combinations(LAB_NAMES, 2):
        assert_apart(LabNames(x), LabNames(y), NODES, NODES)


@settings(max_examples=300, deadline=None)
@given(x=lab_name, y=lab_name, nodes_x=st.lists(node_name, min_size=1, max_size=6),
       nodes_y=st.lists(node_name, min_size=1, max_size=6))
def test_any_two_lab_names_never_share_a_host_name(x, y, nodes_x, nodes_y):
    if x == y:
        return
    assert_apart(LabNames(x), LabNames(y), nodes_x, nodes_y)


def test_a_lab_owns_exactly_its_own_namespaces():
    w = LabNames("w1")
    assert w.owns_namespace("nhw1-r1") and w.owns_namespace("nhw1-sw")
    assert not any(w.owns_namespace(ns) for ns in ("nh-r1", "nhw10-r1", "nhw1x-r1", "nhw-1-r1", "w1-r1"))
    d = LabNames()
    assert d.owns_namespace("nh-r1") and not d.owns_namespace("nhw1-r1")
    assert labs_present(["nh-r1", "nhw1-r1", "nhw1-sw", "nhab-h1", "other", "nh-"]) == {"netha", "w1", "ab"}


def test_the_builder_makes_no_interface_in_the_root_namespace(monkeypatch):
    """Every link command names one of the lab's namespaces: the root namespace gets no interface."""
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(builder, "run", lambda *argv, **kw: calls.append(argv))
    monkeypatch.setattr(builder, "in_ns", lambda node, *argv, **kw: calls.append(("in_ns", kw["lab"].netns(node), *argv)))
    monkeypatch.setattr(LabState, "save", lambda self: None)
    for name in ("netha", "w1"):
        names = LabNames(name)
        calls.clear()
        builder._build_network(TOPOLOGY, LabState(topology="t", name=name), names)
        mine = names.host_names(NODES)["namespaces"]
        for argv in calls:
            if argv[0] == "in_ns":
                assert argv[1] in mine
                continue
            assert argv[0] == "ip", argv
            if argv[1:3] == ("netns", "add"):
                assert argv[3] in mine
            elif argv[1:3] == ("netns", "exec"):
                assert argv[3] in mine
            else:
                assert argv[1] == "-n" and argv[2] in mine, argv  # a link command inside a lab namespace
                if "peer" in argv:
                    assert argv[argv.index("netns") + 1] in mine, argv
        assert any("veth" in argv for argv in calls)


def test_lab_files_are_rewritten_for_another_lab_and_left_alone_for_the_default():
    configs = ROOT / "lab" / "configs"
    d, w = LabNames(), LabNames("w1")
    for node in ("r1", "r2", "k1", "k2"):
        for f in (configs / node).iterdir():
            assert d.localise(f.read_text(), node) == f.read_text(), f
    sshd = w.localise((configs / "r1" / "sshd_config").read_text(), "r1")
    assert "AllowUsers netha-lab-w1 root\n" in sshd and "Match User netha-lab-w1" in sshd
    assert "ForceCommand /usr/bin/vtysh -N nhw1-r1\n" in sshd
    assert "netha-lab\n" not in sshd and "-N r1" not in sshd
    for f in ("snmpd.conf", "keepalived.conf"):
        text = w.localise((configs / "k1" / f).read_text(), "k1")
        assert "unix:/run/netha-lab-w1/k1/agentx.sock" in text and "/run/netha-lab/" not in text


def test_the_lab_inventory_is_pointed_at_another_lab():
    doc = yaml.safe_load((ROOT / "inventories" / "lab.yml").read_text())
    assert LabNames().inventory(doc) == doc
    w = LabNames("w1").inventory(doc)
    assert w["controller"]["netns"] == "nhw1-ctl"
    assert w["controller"]["ssh"]["known_hosts"] == "/run/netha-lab-w1/known_hosts"
    assert w["credentials"]["lab"]["password"] == {"file": "/run/netha-lab-w1/secrets/ssh-password"}
    assert "/run/netha-lab/" not in yaml.safe_dump(w)
    assert doc["controller"]["netns"] == "nh-ctl"  # the loaded document is not changed


def test_a_generated_scale_lab_names_its_own_lab(tmp_path):
    from netha.lab.generate import generate

    _, inv = generate(2, tmp_path, lab="w1")
    doc = yaml.safe_load(inv.read_text())
    assert doc["controller"]["netns"] == "nhw1-ctl"
    assert doc["credentials"]["lab"]["username"] == {"file": "/run/netha-lab-w1/secrets/ssh-username"}


def test_the_core_never_imports_the_lab_harness():
    """netha.lab (the netns lab, fault injection, probe traffic) stays off the library's import path:
    importing every other module of netha, the CLI's included, loads none of it."""
    mods = []
    for p in sorted((ROOT / "netha").rglob("*.py")):
        parts = p.relative_to(ROOT).with_suffix("").parts
        if parts[1:2] == ("lab",) or parts[-1] == "__main__":
            continue
        mods.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    assert "netha.cli.lab" in mods and "netha.controller" in mods
    code = ("import importlib, sys\n"
            f"for m in {mods!r}: importlib.import_module(m)\n"
            "from netha.cli.main import _mount_subcommands\n_mount_subcommands()\n"
            "print(sorted(m for m in sys.modules if m == 'netha.lab' or m.startswith('netha.lab.')))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
