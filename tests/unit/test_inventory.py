"""The inventory loader: shipped inventories validate; every bad case gives file:line and a clear reason."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from netha.errors import InventoryError
from netha.inventory import load_inventory

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "inventories"
BAD = sorted((FIXTURES / "bad").glob("*.yml"))


def _expectations(path: Path) -> tuple[int, str]:
    text = path.read_text()
    line = int(re.search(r"^# expect-line: (\d+)$", text, re.M).group(1))
    expect = re.search(r"^# expect: (.+)$", text, re.M).group(1)
    return line, expect


@pytest.fixture(autouse=True)
def _test_password(monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    monkeypatch.delenv("NETHA_TEST_UNSET_PASSWORD", raising=False)
    os.chmod(FIXTURES / "bad" / "world-readable-secret.txt", 0o644)  # git does not keep 0644 vs 0600 apart


@pytest.mark.parametrize("path", ["inventories/lab.yml", "inventories/example-campus.yml"])
def test_shipped_inventories_validate(path):
    inv = load_inventory(ROOT / path, check_secrets=False)
    assert inv.devices and inv.groups


def test_base_fixture_validates_with_its_secret():
    inv = load_inventory(FIXTURES / "base.yml")
    assert inv.groups["lan"].primary == "r1"


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_inventory_gives_one_line_with_file_and_line(path):
    line, expect = _expectations(path)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    problems = info.value.problems
    matching = [p for p in problems if expect in p]
    assert matching, f"no problem mentions {expect!r}: {problems}"
    assert matching[0].startswith(f"{path}:{line}: "), matching[0]
    assert all("\n" not in p.replace("\\n", "") for p in problems)


def test_secret_value_never_appears_in_errors(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cr3t-value")
    secret.chmod(0o644)
    inv = tmp_path / "inv.yml"
    inv.write_text(
        "credentials:\n  lab: {username: u, password: {file: pw}}\n"
        "devices:\n  r1: {host: 198.18.0.11, platform: frr, credentials: lab}\n"
    )
    with pytest.raises(InventoryError) as info:
        load_inventory(inv)
    assert "s3cr3t-value" not in str(info.value)
    assert f"{inv}:2:" in str(info.value)


def test_relative_secret_file_is_relative_to_the_inventory(tmp_path):
    (tmp_path / "pw").write_text("pw\n")
    (tmp_path / "pw").chmod(0o600)
    (tmp_path / "inv.yml").write_text(
        "credentials:\n  lab: {username: u, password: {file: pw}}\n"
        "devices:\n  r1: {host: 198.18.0.11, platform: frr, credentials: lab}\n"
    )
    inv = load_inventory(tmp_path / "inv.yml")
    assert inv.credentials["lab"].password.resolve() == "pw"


def test_group_policy_inherits_defaults():
    inv = load_inventory(ROOT / "inventories/example-campus.yml", check_secrets=False)
    assert inv.policy_for("voice-vlan20").failback == "manual"
    assert inv.policy_for("voice-vlan20").hold_down == 300
    assert inv.policy_for("internet-edge").min_interval == 120
