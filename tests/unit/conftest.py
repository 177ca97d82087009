"""Shared unit-test fixtures: the lab inventory (no secrets needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netha.inventory import load_inventory
from netha.observe.types import ProbeResult

ROOT = Path(__file__).resolve().parents[2]
OK = ProbeResult(True, 0.0)
DOWN = ProbeResult(False, 0.0, "timed out")


@pytest.fixture(scope="session")
def inv():
    return load_inventory(ROOT / "inventories/lab.yml", check_secrets=False)
