"""The CLI without devices: --version, --help, validate, offline dry-run plans."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from netha import __version__
from netha.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
FIX = Path(__file__).parent / "fixtures" / "inventories"
runner = CliRunner()


def test_version():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and __version__ in r.output


def test_help_lists_every_command_on_one_line_each():
    r = runner.invoke(app, ["--help"])
    for cmd in ("validate", "status", "failover", "failback", "run", "check", "ack", "maintenance",
                "backup", "restore", "snapshots", "history", "lab"):
        assert f" {cmd} " in r.output


def test_validate_good_inventory(monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    r = runner.invoke(app, ["validate", "-i", str(FIX / "base.yml")])
    assert r.exit_code == 0 and "ok (2 devices, 1 groups)" in r.output


def test_validate_bad_inventory_exits_2_with_file_and_line(monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    bad = FIX / "bad" / "unknown-device.yml"
    r = runner.invoke(app, ["validate", "-i", str(bad)])
    assert r.exit_code == 2
    assert f"{bad}:15: group lan: unknown device 'r3'" in r.output


def test_offline_dry_run_plans_the_campus_without_contacting_anything(monkeypatch):
    for var in ("NETHA_NET_USER", "NETHA_NET_PASSWORD", "NETHA_SNMP_AUTH", "NETHA_SNMP_PRIV"):
        monkeypatch.setenv(var, "x")
    r = runner.invoke(app, ["failover", "servers-vlan100", "--to", "leaf2-dc", "-i",
                            str(ROOT / "inventories/example-campus.yml"), "--dry-run", "--offline"])
    assert r.exit_code == 0, r.output
    assert "vrrp 100 priority-level 254" in r.output
    assert "no device was contacted" in r.output


def test_offline_without_dry_run_is_refused(monkeypatch):
    for var in ("NETHA_NET_USER", "NETHA_NET_PASSWORD", "NETHA_SNMP_AUTH", "NETHA_SNMP_PRIV"):
        monkeypatch.setenv(var, "x")
    r = runner.invoke(app, ["failover", "servers-vlan100", "--to", "leaf2-dc", "-i",
                            str(ROOT / "inventories/example-campus.yml"), "--offline"])
    assert r.exit_code == 2, r.output
    assert "--offline plans only: add --dry-run" in r.output


# -- text from arguments, devices and the store is never parsed as Rich markup --------------------

def test_failover_with_markup_in_the_group_name_prints_an_error_not_a_markup_crash(monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    r = runner.invoke(app, ["failover", "no[/x]", "--to", "r2", "-i", str(FIX / "base.yml"), "--dry-run", "--offline"])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 2  # a name the inventory does not have: a usage error
    assert "no group 'no[/x]'" in r.output


def test_failover_with_markup_in_the_target_prints_an_error_not_a_markup_crash(monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    r = runner.invoke(app, ["failover", "lan", "--to", "[bold]r9[/x]", "-i", str(FIX / "base.yml"), "--dry-run", "--offline"])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 2 and "no device '[bold]r9[/x]'" in r.output


def test_validate_prints_a_path_with_markup_literally(monkeypatch, tmp_path):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    (tmp_path / "[red][").mkdir()
    odd = tmp_path / "[red][" / "x]inv.yml"  # the path reads ".../[red][/x]inv.yml"
    odd.write_text((FIX / "base.yml").read_text())
    r = runner.invoke(app, ["validate", "-i", str(odd)])
    assert r.exit_code == 0, r.output
    assert "[red][/x]inv.yml: ok" in r.output


def test_report_prints_device_text_with_markup_literally():
    from netha.cli.common import console
    from netha.cli.takeover import _report
    from netha.takeover.execute import Outcome, StepResult
    from netha.takeover.plan import Plan

    plan = Plan("planned", "lan", "r2", (), ())
    outcome = Outcome(plan, False, True, "rolled back: [/x] device said [bold]no", (
        StepResult(1, "r2", "set priority [/y]", False, "% Invalid input [/z]", 0.01),), 0.1)
    with console.capture() as cap:
        _report(outcome)
    out = cap.get()
    for text in ("[r2]", "set priority [/y]", "% Invalid input [/z]", "rolled back: [/x] device said [bold]no"):
        assert text in out, out


def test_status_table_prints_device_reasons_with_markup_literally():
    from netha.cli.common import console
    from netha.cli.status import render

    member = {"state": "[/state]", "configured_priority": 200, "effective_priority": None, "health": "degraded",
              "reason": "eth1 [/down]", "tracks": {"interface [/x]": "down"}, "heard": False, "advert_age": None}
    doc = {
        "groups": {"lan": {"vrid": 1, "interface": "eth1", "virtual_addresses": ["198.18.1.1/24"], "verdict": "degraded",
                           "reason": "r1 [/reason]", "primary": "r1", "members": {"r1": member},
                           "masters": {"adverts [/src]": ["r1"]}}},
        "devices": {"r1": {"host": "198.18.0.11", "health": "degraded", "reason": "[/why]",
                           "ssh": {"ok": False, "ms": 0, "error": "[/ssh]"}, "snmp": {"ok": True, "ms": 3}}},
    }
    with console.capture() as cap:
        console.print(render(doc))
    out = cap.get()
    for text in ("[/state]", "eth1 [/down]", "interface [/x] down", "r1 [/reason]", "adverts [/src]", "[/why]", "[/ssh]"):
        assert text in out, out


class _FakeStore:
    """A store whose audit rows were written unredacted (by an older netha, or before write-time redaction)."""

    def __init__(self, *_args, **_kwargs):
        pass

    def history(self, limit=50, group=None):
        from netha.store import AuditRecord

        return [AuditRecord(7, 0.0, "ops [/x]", "failover", "lan", "k1", "auth_pass s3cr3tpw set",
                            "--- k1\n+++ k1\n-    auth_pass 0ldS3cret\n+    auth_pass s3cr3tpw\n"
                            "+snmp-server community Pr1v4teC0mm RO\n", "ok")]


def test_history_json_is_redacted(monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    monkeypatch.setattr("netha.cli.takeover.Store", _FakeStore)
    r = runner.invoke(app, ["history", "--json", "-i", str(FIX / "base.yml")])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert rows[0]["detail"] == "auth_pass ******** set"
    for secret in ("s3cr3tpw", "0ldS3cret", "Pr1v4teC0mm"):
        assert secret not in r.output


def test_history_diffs_are_redacted_and_markup_is_literal(monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    monkeypatch.setattr("netha.cli.takeover.Store", _FakeStore)
    r = runner.invoke(app, ["history", "--diffs", "-i", str(FIX / "base.yml")])
    assert r.exit_code == 0, r.output
    assert "auth_pass ********" in r.output and "ops [/x]" in r.output
    for secret in ("s3cr3tpw", "0ldS3cret", "Pr1v4teC0mm"):
        assert secret not in r.output


def test_validate_refuses_a_platform_netha_has_no_driver_for(monkeypatch, tmp_path):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    text = (FIX / "base.yml").read_text()
    assert "platform: frr" in text
    bad = tmp_path / "hp.yml"
    bad.write_text(text.replace("platform: frr", "platform: hp_procurve", 1))
    r = runner.invoke(app, ["validate", "-i", str(bad)])
    assert r.exit_code == 2, r.output
    assert "unknown platform 'hp_procurve'" in r.output and str(bad) in r.output


def test_probes_lists_each_devices_paths_and_renders_vendor_probers_without_secrets(monkeypatch):
    for var in ("NETHA_NET_USER", "NETHA_NET_PASSWORD", "NETHA_SNMP_AUTH", "NETHA_SNMP_PRIV"):
        monkeypatch.delenv(var, raising=False)
    r = runner.invoke(app, ["probes", "-i", str(ROOT / "inventories" / "example-campus.yml"), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["dist1-bldg-a"]["prober"] == "native"
    assert "track 401 ip sla 401 reachability" in doc["dist1-bldg-a"]["config"]
    assert any(line.startswith("set services rpm probe netha test reach-401") for line in doc["edge1"]["config"])
    assert doc["lab-gw1"] == {
        "platform": "frr", "prober": "stream", "shell": "yes",
        "probes": [{"key": "reach icmp 198.19.254.10", "target": "198.19.254.10", "source": None, "rate": 50.0,
                    "window": 10, "max_loss": 0.3, "index": 401}],
    }
    assert "servers-vlan100" not in doc and "users-vlan10" not in doc  # devices, not groups
