"""Property-based fuzzing of the inventory loader: mutated YAML text never escapes as a traceback.

Seeds are the shipped inventories (``inventories/*.yml``) and the unit fixtures
(``fixtures/inventories``, good and bad). Each example takes one seed and applies a few edits:
line deletions, duplications and swaps, truncation, inserted YAML syntax (anchors, aliases,
tags, flow brackets, merge keys), values swapped for awkward scalars (``true``, ``.nan``,
``1e999``, impossible dates, 5,000-digit integers, ``~user`` paths, NUL bytes), deep nesting,
and raw bytes that are not UTF-8. The properties:

* only :class:`~netha.errors.NethaError` (``InventoryError``, ``CredentialError``) escapes
  :func:`~netha.inventory.load_inventory`;
* an ``InventoryError`` is one line per problem and names the file.

Runtime: deterministic (``derandomize``) and small by default, which is what CI runs.
``NETHA_FUZZ_EXAMPLES=5000`` runs that many random (not derandomized) examples.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netha.errors import InventoryError, NethaError
from netha.inventory import load_inventory

ROOT = Path(__file__).resolve().parents[2]
FIX = Path(__file__).parent / "fixtures" / "inventories"

_EXAMPLES = os.environ.get("NETHA_FUZZ_EXAMPLES")
FUZZ = settings(
    max_examples=int(_EXAMPLES) if _EXAMPLES else 300,
    derandomize=not _EXAMPLES or bool(os.environ.get("CI")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

SEED_PATHS = sorted(ROOT.glob("inventories/*.yml")) + sorted(FIX.glob("*.yml")) + sorted(FIX.glob("bad/*.yml"))
SEEDS = [p.read_bytes() for p in SEED_PATHS]

# Scalars that have broken loaders before: YAML 1.1 booleans, special floats, impossible dates,
# huge integers, tags whose constructors raise, paths with a user's home or a NUL byte.
AWKWARD = [
    "true", "no", "null", "~", ".nan", ".inf", "-.inf", "1e999", "-1", "0", "0x1F", "0o17", "1_000",
    "2024-02-30", "2001-12-14t21:59:43.10-05:00", "9" * 5000, "''", '""', "!!int abc", "!!float x",
    "!!binary ###", "!!timestamp 2024-13-01", "!!python/object:os.system ls", "!!set {a, b}",
    "!!omap [a: 1]", "{file: ~nosuchuser/pw}", "{file: /dev/zero}", "{file: /}", "{file: \"a\\0b\"}",
    "{env: PATH}", "{env: ''}", "[]", "{}", "*undefined", "&dup x", "\"\\x00\"", "\"\\uD800\"",
    "'\u00b2'", "\u0663", "[[[[[[[[[[[[]]]]]]]]]]]]", "{<<: {a: 1}}", "? [a]\n  : b",
]
SNIPPETS = [
    "&a ", "*a", "<<: *a\n", "!!str ", "!!map ", "? ", ": ", "- ", "[", "]", "{", "}", ",", "|\n", ">-\n",
    "#", "'", '"', "\t", "%YAML 1.1\n", "---\n", "...\n", "\n  ", "\u2028", "\ufeff", "\x85", "\x07", "\\",
]

_token = st.one_of(st.sampled_from(SNIPPETS), st.sampled_from(AWKWARD), st.text(max_size=8))


def _deep(n: int) -> str:
    return "[" * n + "]" * n


def _bomb(levels: int) -> str:
    out = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        out.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(out) + f"\nboom: *l{levels - 1}\n"


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    text = draw(st.sampled_from(SEEDS)).decode("utf-8")
    lines = text.splitlines(keepends=True) or [""]
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "dup", "swap", "insert", "value", "truncate", "deep", "bomb", "dedent"]))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "insert":
            line = lines[i]
            k = draw(st.integers(0, len(line)))
            lines[i] = line[:k] + draw(_token) + line[k:]
        elif op == "value" and ":" in lines[i]:
            head = lines[i].split(":", 1)[0]
            lines[i] = f"{head}: {draw(st.sampled_from(AWKWARD))}\n"
        elif op == "truncate":
            lines = lines[: i + 1]
            lines[-1] = lines[-1][: draw(st.integers(0, len(lines[-1])))]
        elif op == "deep":
            head = lines[i].split(":", 1)[0] if ":" in lines[i] else "x"
            lines[i] = f"{head}: {_deep(draw(st.sampled_from([10, 70, 500, 5000])))}\n"
        elif op == "bomb":
            lines.append(_bomb(draw(st.integers(2, 9))))
        elif op == "dedent":
            lines[i] = lines[i].lstrip()
    data = "".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # sometimes: bytes that are not UTF-8
        k = draw(st.integers(0, len(data)))
        data = data[:k] + draw(st.sampled_from([b"\xe9", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x00"])) + data[k:]
    return data


_DIR = tempfile.TemporaryDirectory(prefix="netha-fuzz-inv-")


@pytest.fixture(autouse=True, scope="module")
def _secrets_env():
    # Some seeds read secrets from the environment: set them so that mutations reach past that check.
    names = ("NETHA_TEST_PASSWORD", "NETHA_NET_USER", "NETHA_NET_PASSWORD", "NETHA_SNMP_AUTH", "NETHA_SNMP_PRIV")
    old = {n: os.environ.get(n) for n in names}
    os.environ.update({n: "fuzz-value" for n in names})
    secret = Path(_DIR.name) / "pw"
    secret.write_text("fuzz-value\n")
    secret.chmod(0o600)
    yield
    for n, v in old.items():
        if v is None:
            os.environ.pop(n, None)
        else:
            os.environ[n] = v


def _check(data: bytes) -> None:
    path = Path(_DIR.name) / "inv.yml"
    path.write_bytes(data)
    try:
        load_inventory(path)
    except InventoryError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert "\n" not in problem and "\r" not in problem, problem
            assert problem.startswith(str(path)), problem
    except NethaError:
        pass


@FUZZ
@given(mutated())
def test_mutated_inventory_raises_only_netha_errors_one_line_each(data: bytes) -> None:
    _check(data)


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes_as_inventory_raise_only_netha_errors(data: bytes) -> None:
    _check(data)


@pytest.mark.parametrize("path", SEED_PATHS, ids=[p.name for p in SEED_PATHS])
def test_every_seed_loads_or_fails_with_netha_error(path: Path) -> None:
    _check(path.read_bytes())
