"""Captured device output as test cases: ``fixtures/<platform>/<command>/<case>.txt`` with
``<case>.expected.json`` beside it, so a new capture is a new test case."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def cases(platform: str, command: str) -> list[Path]:
    return sorted((FIXTURES / platform / command).glob("*.txt"))


def expected(path: Path):
    return json.loads(path.with_suffix(".expected.json").read_text())
