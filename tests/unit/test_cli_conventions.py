"""The CLI conventions engineers reach for: shell completion, --json everywhere (stdout only the document),
--group/--device globs, history --last, progress bars off in pipes, consistent exit codes, offline plans
without secrets. No device is contacted: offline plans, the store, and the in-memory fake network."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from netha.cli import common
from netha.cli.main import app
from netha.errors import ConnectionFailed
from netha.inventory import load_inventory
from netha.store import Store

from .fakes import FakeNetwork

FIX = Path(__file__).parent / "fixtures" / "inventories"
NO_SECRETS = FIX / "no-secrets.yml"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def doc_of(r) -> object:
    """The one JSON document on stdout (json.loads fails on anything else there)."""
    return json.loads(r.stdout)


@pytest.fixture(autouse=True)
def _no_secrets(monkeypatch):
    for var in ("NETHA_UNIT_UNSET_SNMP_USER", "NETHA_UNIT_UNSET_SNMP_PRIV", "NETHA_INVENTORY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETHA_NO_NETNS", "1")


@pytest.fixture
def inv_path(tmp_path) -> Path:
    """The no-secrets inventory with its own state directory."""
    path = tmp_path / "inv.yml"
    path.write_text(NO_SECRETS.read_text() + f"controller:\n  state_dir: {tmp_path / 'state'}\n")
    return path


@pytest.fixture
def base_inv(tmp_path, monkeypatch) -> Path:
    """base.yml (r1, r2, group lan; its one secret set) with its own state directory."""
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    path = tmp_path / "base.yml"
    path.write_text((FIX / "base.yml").read_text() + f"controller:\n  state_dir: {tmp_path / 'state'}\n")
    return path


# -- completion -------------------------------------------------------------------------------------

def test_completion_options_are_offered():
    r = runner.invoke(app, ["--help"], terminal_width=200)
    assert "--install-completion" in r.output and "--show-completion" in r.output


def test_show_completion_prints_the_bash_script_for_netha():
    r = invoke("--show-completion", "bash")
    assert r.exit_code == 0, r.output
    assert "_NETHA_COMPLETE=complete_bash" in r.stdout and "complete -o default -F _netha_completion netha" in r.stdout


def test_group_and_device_names_complete_from_the_inventory_without_secrets(inv_path, monkeypatch):
    class Ctx:
        params = {"inventory": str(inv_path)}

    assert common.complete_group(Ctx(), "users-") == ["users-vlan10", "users-vlan20"]
    assert common.complete_device(Ctx(), "s") == ["s1", "s2"]
    assert common.complete_target(Ctx(), "s") == ["servers", "s1", "s2"]
    Ctx.params = {"inventory": str(inv_path.parent / "missing.yml")}
    assert common.complete_group(Ctx(), "") == []  # a broken inventory completes nothing, never raises


# -- offline plans need no secret -------------------------------------------------------------------

def test_the_fixture_really_lacks_its_secrets():
    assert not os.path.exists("/nonexistent/netha-unit-test/ssh-password")
    r = invoke("validate", "-i", str(NO_SECRETS))
    assert r.exit_code == 2
    assert "credential file /nonexistent/netha-unit-test/ssh-password does not exist" in r.stderr
    assert "NETHA_UNIT_UNSET_SNMP_PRIV is not set" in r.stderr


def test_offline_dry_run_plans_without_credential_files_or_variables():
    r = invoke("failover", "servers", "--to", "s2", "-i", str(NO_SECRETS), "--dry-run", "--offline")
    assert r.exit_code == 0, r.output
    assert "vrrp 100 priority 254" in r.stdout
    assert "no device was contacted" in r.stdout


def test_offline_dry_run_json_is_the_plan_alone_on_stdout():
    r = invoke("failover", "users-vlan20", "--to", "a2", "-i", str(NO_SECRETS), "--dry-run", "--offline", "--json")
    assert r.exit_code == 0, r.output
    doc = doc_of(r)
    assert doc["version"] == 1 and doc["command"] == "failover" and doc["dry_run"] and doc["offline"]
    assert doc["group"] == "users-vlan20" and doc["target"] == "a2" and doc["outcome"] is None
    plan = doc["plan"]
    assert plan["kind"] == "planned" and plan["devices"] == ["a2", "a1"]
    assert plan["steps"][0]["device"] == "a2" and " vrrp 20 priority 254" in plan["steps"][0]["lines"]
    assert plan["steps"][0]["expect"]["master"] == "a2"
    assert r.stderr == ""


def test_offline_failback_plans_the_configured_priorities_without_secrets():
    r = invoke("failback", "users-vlan10", "-i", str(NO_SECRETS), "--dry-run", "--offline", "--json")
    assert r.exit_code == 0, r.output
    doc = doc_of(r)
    assert doc["command"] == "failback" and doc["target"] is None and doc["plan"]["kind"] == "failback"
    assert [s["device"] for s in doc["plan"]["steps"]] == ["a1", "a2"]
    assert " vrrp 10 priority 200" in doc["plan"]["steps"][0]["lines"]
    assert doc["plan"]["steps"][-1]["expect"]["master"] == "a1"


# -- --json: stdout is the document, errors on stderr, exit codes unchanged -------------------------

def test_json_errors_go_to_stderr_with_the_same_exit_code():
    for extra in ([], ["--json"]):
        r = invoke("failover", "nope", "--to", "s2", "-i", str(NO_SECRETS), "--dry-run", "--offline", *extra)
        assert r.exit_code == 2, r.output
        assert r.stdout == "" and "no group 'nope'" in r.stderr


def test_validate_json_reports_ok_and_problems():
    r = invoke("validate", "-i", str(NO_SECRETS), "--skip-secrets", "--json")
    assert r.exit_code == 0, r.output
    assert doc_of(r) == {"version": 1, "inventory": str(NO_SECRETS), "ok": True, "devices": 4, "groups": 3,
                         "problems": []}
    r = invoke("validate", "-i", str(NO_SECRETS), "--json")
    assert r.exit_code == 2
    doc = doc_of(r)
    assert doc["ok"] is False and len(doc["problems"]) == 4
    assert all(p.startswith(f"{NO_SECRETS}:") for p in doc["problems"])


def test_ack_and_maintenance_json(inv_path):
    r = invoke("ack", "users-vlan10", "-i", str(inv_path), "--json")
    assert r.exit_code == 0, r.output
    assert doc_of(r) == {"version": 1, "acknowledged": True, "group": "users-vlan10"}
    r = invoke("maintenance", "on", "a1", "-i", str(inv_path), "--json")
    assert r.exit_code == 0, r.output
    assert doc_of(r) == {"version": 1, "mode": "on", "target": "a1", "kind": "device",
                         "maintenance": [{"name": "a1", "kind": "device"}]}
    assert invoke("maintenance", "on", "servers", "-i", str(inv_path)).exit_code == 0
    r = invoke("maintenance", "list", "-i", str(inv_path), "--json")
    assert doc_of(r) == {"version": 1, "maintenance": [{"name": "a1", "kind": "device"},
                                                        {"name": "servers", "kind": "group"}]}
    r = invoke("maintenance", "off", "a1", "-i", str(inv_path), "--json")
    assert doc_of(r)["maintenance"] == [{"name": "servers", "kind": "group"}]
    hist = doc_of(invoke("history", "-i", str(inv_path), "--json"))
    assert [h["action"] for h in hist] == ["ack", "maintenance", "maintenance", "maintenance"]


@pytest.mark.parametrize("args", [
    ["maintenance", "sideways", "a1"],    # not on, off or list
    ["maintenance", "on"],                # no target
    ["maintenance", "on", "a9"],          # not in the inventory
    ["maintenance", "list", "a1"],        # list takes no target
    ["ack", "nogroup"],
    ["snapshots", "a9"],
    ["restore", "a9", "--dry-run"],
    ["history", "--last", "0"],
])
def test_usage_errors_exit_2(inv_path, args):
    r = invoke(*args, "-i", str(inv_path))
    assert r.exit_code == 2, r.output


# -- --group / --device ----------------------------------------------------------------------------

def test_select_groups_and_devices_by_glob():
    inv = load_inventory(NO_SECRETS, check_secrets=False)
    s = common.select(inv, ["users-*"], None)
    assert (s.groups, s.devices, s.filtered) == (("users-vlan10", "users-vlan20"), ("a1", "a2"), True)
    s = common.select(inv, None, ["s?"])
    assert (s.groups, s.devices) == (("servers",), ("s1", "s2"))
    s = common.select(inv, ["servers", "users-vlan1[0-9]"], ["a2", "s1"])
    assert (s.groups, s.devices) == (("users-vlan10", "servers"), ("a2", "s1"))
    s = common.select(inv, None, None)
    assert not s.filtered and len(s.groups) == 3 and len(s.devices) == 4


def test_select_names_a_glob_that_matches_nothing():
    inv = load_inventory(NO_SECRETS, check_secrets=False)
    with pytest.raises(common.UsageProblem, match=r"--group 'core\*' matches no group .*\(groups: users-vlan10, "):
        common.select(inv, ["servers", "core*"], None)
    with pytest.raises(common.UsageProblem, match=r"--device 'A1' matches no device"):  # names are case-sensitive
        common.select(inv, None, ["A1"])
    with pytest.raises(common.UsageProblem, match="selects no member of --group servers"):
        common.select(inv, ["servers"], ["a*"])


def test_filters_that_match_nothing_exit_2_and_name_the_glob(inv_path, base_inv):
    for inv, args in ((base_inv, ["backup", "--group", "core*"]), (base_inv, ["backup", "-g", "lan", "-d", "r[3-9]"]),
                      (inv_path, ["history", "--device", "zz*"]), (inv_path, ["history", "--group", "x", "-g", "servers"])):
        r = invoke(*args, "-i", str(inv), "--json")
        assert r.exit_code == 2, (args, r.output)
        glob = args[-1] if args[0] == "backup" and "-d" in args else args[2]
        assert f"matches no" in r.stderr and repr(glob) in r.stderr and r.stdout == "", r.stderr


def test_nagios_commands_exit_3_unknown_on_any_error(base_inv):
    for args, says in ((["status", "--group", "core*"], "--group 'core*' matches no group"),
                       (["check", "--device", "zz"], "--device 'zz' matches no device"),
                       (["status", "--bogus-option"], "No such option"),
                       (["check", "--bogus-option"], "No such option"),
                       (["status", "--count", "many"], "--count")):
        r = invoke(*args, "-i", str(base_inv))
        assert r.exit_code == 3, (args, r.output)
        assert says in r.stderr, (args, r.stderr)
    assert invoke("backup", "--bogus-option", "-i", str(base_inv)).exit_code == 2  # the other commands: click's 2
    r = invoke("status", "-i", str(NO_SECRETS))  # secrets missing: the status cannot be known
    assert r.exit_code == 3 and "does not exist" in r.stderr


def test_narrowed_assessment_has_only_the_selected_groups_and_their_exit_code():
    from netha.cli.status import narrow
    from netha.health import Assessment, GroupHealth
    from netha.nominal import nominal_assessment

    inv = load_inventory(NO_SECRETS, check_secrets=False)
    a = nominal_assessment(inv)
    bad = {**a.groups, "servers": GroupHealth(**{**a.groups["servers"].__dict__, "verdict": "split-brain"})}
    a = Assessment(a.state, a.devices, bad)
    assert a.exit_code == 2
    users = narrow(a, common.select(inv, ["users-*"], None))
    assert set(users.groups) == {"users-vlan10", "users-vlan20"} and set(users.devices) == {"a1", "a2"}
    assert users.exit_code == 0
    assert narrow(a, common.select(inv, None, ["s2"])).exit_code == 2
    assert narrow(a, common.select(inv, None, None)) is a


# -- backup / restore against the in-memory network ---------------------------------------------------

@pytest.fixture
def network(base_inv, monkeypatch):
    net = FakeNetwork(load_inventory(base_inv, check_secrets=False))
    monkeypatch.setattr("netha.cli.takeover.make_driver", net.factory)
    return net


def test_backup_of_a_selected_group_json(base_inv, network):
    r = invoke("backup", "-i", str(base_inv), "--group", "lan", "--json")
    assert r.exit_code == 0, r.output
    doc = doc_of(r)
    assert doc["version"] == 1 and doc["ok"] is True
    assert [(d["device"], d["ok"], d["error"]) for d in doc["devices"]] == [("r1", True, None), ("r2", True, None)]
    assert all(isinstance(d["snapshot"], int) and d["lines"] > 0 for d in doc["devices"])
    r = invoke("backup", "-i", str(base_inv), "--device", "r2")
    assert r.exit_code == 0 and "r2: snapshot" in r.stdout and "r1" not in r.stdout


def test_backup_with_a_failing_device_exits_1_and_saves_the_others(base_inv, network, monkeypatch):
    def factory(inv, name):
        if name == "r1":
            raise ConnectionFailed("r1", "connection refused")
        return network.factory(inv, name)

    monkeypatch.setattr("netha.cli.takeover.make_driver", factory)
    r = invoke("backup", "-i", str(base_inv), "--json")
    assert r.exit_code == 1
    doc = doc_of(r)
    assert doc["ok"] is False
    assert [(d["device"], d["ok"]) for d in doc["devices"]] == [("r1", False), ("r2", True)]
    assert "connection refused" in doc["devices"][0]["error"]


def test_restore_json_dry_run_of_two_devices_shows_each_diff(base_inv, network):
    assert invoke("backup", "-i", str(base_inv)).exit_code == 0
    network["r2"].config += "ip route 198.18.9.0/24 198.18.1.9\n"  # drifted since the backup
    r = invoke("restore", "r1", "r2", "-i", str(base_inv), "--dry-run", "--json")
    assert r.exit_code == 0, r.output
    doc = doc_of(r)
    assert doc["ok"] is True and doc["dry_run"] is True
    r1, r2 = doc["devices"]
    assert (r1["device"], r1["changed"], r1["applied"], r1["diff"]) == ("r1", False, False, "")
    assert (r2["device"], r2["changed"], r2["applied"]) == ("r2", True, False)
    assert "-ip route 198.18.9.0/24 198.18.1.9" in r2["diff"]
    assert "198.18.9.0/24" in network["r2"].config  # a dry run changes nothing


def test_restore_applies_with_yes_and_refuses_snapshot_with_several_devices(base_inv, network):
    assert invoke("backup", "-i", str(base_inv)).exit_code == 0
    network["r2"].config += "ip route 198.18.9.0/24 198.18.1.9\n"
    r = invoke("restore", "r1", "r2", "--snapshot", "1", "-i", str(base_inv), "--yes")
    assert r.exit_code == 2 and "one DEVICE" in r.stderr
    r = invoke("restore", "r2", "-i", str(base_inv), "--yes", "--json")
    assert r.exit_code == 0, r.output
    [entry] = doc_of(r)["devices"]
    assert entry["applied"] is True and isinstance(entry["previous"], int)
    assert "198.18.9.0/24" not in network["r2"].config


def test_restore_without_a_terminal_or_yes_is_not_confirmed(base_inv, network):
    assert invoke("backup", "-i", str(base_inv)).exit_code == 0
    network["r1"].config += "ip route 198.18.9.0/24 198.18.1.9\n"
    r = invoke("restore", "r1", "-i", str(base_inv), "--json")
    assert r.exit_code == 1
    assert "not confirmed" in r.stderr and "198.18.9.0/24" in network["r1"].config
    assert doc_of(r)["devices"][0]["error"].startswith("restore r1 to snapshot")


# -- history ---------------------------------------------------------------------------------------

def _audit(inv_path: Path) -> None:
    store = Store(load_inventory(inv_path, check_secrets=False).controller.state_dir)
    for i in range(6):
        store.audit("failover", "ok", "users-vlan10" if i % 2 else "servers", "a2" if i % 2 else "s2", f"entry {i}")
    store.audit("backup", "ok", None, "old-router", "a device no longer in the inventory")


def test_history_last_and_the_hidden_limit_alias(inv_path):
    _audit(inv_path)
    rows = doc_of(invoke("history", "-i", str(inv_path), "--last", "2", "--json"))
    assert [r["detail"] for r in rows] == ["entry 5", "a device no longer in the inventory"]
    r = invoke("history", "-i", str(inv_path), "--limit", "2", "--json")
    assert r.exit_code == 0 and len(doc_of(r)) == 2 and "--limit is deprecated" in r.stderr
    assert invoke("history", "-i", str(inv_path), "--limit", "2", "--last", "3").exit_code == 2
    r = runner.invoke(app, ["history", "--help"], terminal_width=200)
    assert "--last" in r.output and "--limit" not in r.output


def test_history_filters_by_group_and_device_globs(inv_path):
    _audit(inv_path)
    rows = doc_of(invoke("history", "-i", str(inv_path), "--group", "users-*", "--json"))
    assert [r["detail"] for r in rows] == ["entry 1", "entry 3", "entry 5"]
    rows = doc_of(invoke("history", "-i", str(inv_path), "-g", "servers", "-n", "1", "--json"))
    assert [r["detail"] for r in rows] == ["entry 4"]
    rows = doc_of(invoke("history", "-i", str(inv_path), "--device", "old-*", "--json"))  # known from the log
    assert [r["action"] for r in rows] == ["backup"]
    rows = doc_of(invoke("history", "-i", str(inv_path), "--group", "users-*", "--device", "s2", "--json"))
    assert rows == []  # both filters: entries about a users group *and* s2


# -- progress bars ----------------------------------------------------------------------------------

def test_progress_is_off_in_pipes_and_with_json(monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert common.progress_wanted(False) is True
    assert common.progress_wanted(True) is False
    monkeypatch.setattr("sys.stderr.isatty", lambda: False, raising=False)
    assert common.progress_wanted(False) is False


def test_progress_bar_draws_on_a_terminal_and_not_when_disabled(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(common, "console", Console(file=out, force_terminal=True, width=100))
    with common.progress_bar("backup", 3, enabled=False) as bar:
        bar.advance("r1")
    assert out.getvalue() == ""
    with common.progress_bar("backup", 3, enabled=True) as bar:
        for name in ("r1", "r2", "r3"):
            bar.advance(name)
    drawn = out.getvalue()
    assert "backup" in drawn and "3/3" in drawn


def test_backup_under_the_runner_prints_no_progress_bar(base_inv, network):
    r = invoke("backup", "-i", str(base_inv), "--workers", "1")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0].startswith("r1: snapshot") and lines[1].startswith("r2: snapshot")
    assert lines[2:] == ["backup: 2 of 2 devices saved"] and "\x1b" not in r.stdout


def test_backup_runs_devices_in_parallel_and_reports_in_inventory_order(base_inv, network, monkeypatch):
    import threading

    both_in = threading.Barrier(2, timeout=10)  # each device waits for the other: only parallel runs finish

    def factory(inv, name):
        both_in.wait()
        return network.factory(inv, name)

    monkeypatch.setattr("netha.cli.takeover.make_driver", factory)
    r = invoke("backup", "-i", str(base_inv), "--workers", "2", "--json")
    assert r.exit_code == 0, r.output
    assert [d["device"] for d in doc_of(r)["devices"]] == ["r1", "r2"]


def test_lab_up_reports_its_progress_to_the_bar(monkeypatch):
    import inspect
    from types import SimpleNamespace

    from netha.lab import builder

    assert "progress" in inspect.signature(builder.up).parameters
    seen: list[tuple[int, int, str]] = []

    class Bar:
        def update(self, done, total, label=""):
            seen.append((done, total, label))

    def up(topology, name=None, progress=None):
        for step in ((0, 3, "network"), (1, 3, "network"), (2, 3, "r1"), (3, 3, "VRRP masters")):
            progress(*step)
        return SimpleNamespace(name="t1", namespaces=["nht1-r1"])

    fake_lab = SimpleNamespace(up=up, lab_names=lambda n: SimpleNamespace(name="t1"), run_dir=lambda n: "/run/x")
    monkeypatch.setattr("netha.cli.lab._lab", lambda: fake_lab)
    monkeypatch.setattr("netha.cli.lab.progress_wanted", lambda as_json=False: True)

    class Progress:
        def __init__(self, *a, **k):
            pass

        def __enter__(self):
            return Bar()

        def __exit__(self, *a):
            return False

    monkeypatch.setattr("netha.cli.lab.progress_bar", lambda what, total, enabled: Progress())
    r = invoke("lab", "up", "--name", "t1")
    assert r.exit_code == 0, r.output
    assert seen[-1] == (3, 3, "VRRP masters") and "lab t1 up" in r.stdout


def test_outcome_document_is_redacted_and_complete():
    from netha.cli.takeover import outcome_document
    from netha.takeover.execute import Outcome, StepResult
    from netha.takeover.plan import Plan

    outcome = Outcome(Plan("planned", "klan", "k2", (), ()), False, True, "rolled back: k2 said no", (
        StepResult(1, "k2", "raise k2", False, "line 3: auth_pass s3cr3tpw rejected", 0.0123),), 1.23456,
        snapshots={"k2": 41})
    doc = outcome_document(outcome)
    assert doc == {"ok": False, "rolled_back": True, "message": "rolled back: k2 said no", "seconds": 1.235,
                   "steps": [{"number": 1, "device": "k2", "description": "raise k2", "ok": False,
                              "detail": "line 3: auth_pass ******** rejected", "seconds": 0.012}],
                   "snapshots": {"k2": 41}}
    assert "s3cr3tpw" not in json.dumps(doc)


def test_a_crash_in_a_nagios_command_is_unknown_not_warning(base_inv, monkeypatch):
    def boom(*_a, **_k):
        raise OSError("boom")

    monkeypatch.setattr("netha.cli.status.Observer", boom)
    r = invoke("status", "-i", str(base_inv))
    assert r.exit_code == 3 and "internal error: OSError: boom" in r.stderr
    monkeypatch.setattr("netha.cli.controller.Runtime.build", boom)
    r = invoke("check", "-i", str(base_inv), "--json")
    assert r.exit_code == 3 and r.stdout == ""


def test_status_polls_only_what_the_selection_needs():
    from netha.cli.status import narrow, sub_inventory
    from netha.nominal import nominal_assessment
    from netha.observe.observer import Observer

    inv = load_inventory(NO_SECRETS, check_secrets=False)
    sel = common.select(inv, None, ["a1"])
    sub = sub_inventory(inv, sel)
    assert set(sub.groups) == {"users-vlan10", "users-vlan20"} and set(sub.devices) == {"a1", "a2"}
    assert sub.source == inv.source
    Observer(sub)  # an observer can be built on it
    a = narrow(nominal_assessment(sub), sel)
    assert set(a.groups) == {"users-vlan10", "users-vlan20"} and set(a.devices) == {"a1"} and a.exit_code == 0
    assert sub_inventory(inv, common.select(inv, None, None)) is inv
