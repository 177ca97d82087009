"""The CLI without devices: --version, --help, validate, offline dry-run plans."""

from __future__ import annotations

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
    assert r.exit_code == 1
