"""Indented ("IOS-style") text configs: normalise, diff, and the commands that turn one into another.

FRR, IOS, EOS and NX-OS print their running config as top-level lines with indented children.
A device without a native config replace can be brought to a saved config by the commands
:func:`replace_commands` computes: ``no`` for each line that goes, the line for each that comes.

Nothing here knows a platform. What a platform prints that is not config (banners, timestamps,
commit stamps: :attr:`PlatformSpec.volatile_config <netha.drivers.base.PlatformSpec>`) and the
lines it writes itself that no command changes (FRR's ``frr version``: ``fixed_config``) are the
platform's data, passed in by its driver.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Sequence

_SKIP = {"!", "end", "exit", "exit-vrf", "exit-address-family"}


@functools.lru_cache(maxsize=64)
def _matcher(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for a platform's line patterns, anchored at the line's start (indentation allowed)."""
    return re.compile(r"^\s*(?:" + "|".join(f"(?:{p})" for p in patterns) + ")") if patterns else None


def matches(line: str, patterns: Sequence[str]) -> bool:
    """``line`` starts (after its indentation) with one of the regexes ``patterns``."""
    m = _matcher(tuple(patterns))
    return bool(m and m.match(line))


def config_body(text: str, volatile: Sequence[str] = ()) -> str:
    """The config as stored and compared: no carriage returns, no trailing blanks, no blank lines at
    either end, one trailing newline, and without the lines matching ``volatile`` (the platform's
    banners and timestamps, :attr:`PlatformSpec.volatile_config`).

    Two reads of an unchanged config must compare equal (the executor verifies a rollback that way).
    """
    m = _matcher(tuple(volatile))
    lines = [ln.rstrip() for ln in text.replace("\r", "").splitlines()]
    lines = [ln for ln in lines if not (m and m.match(ln))]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + "\n"


def parse_blocks(text: str, fixed: Sequence[str] = ()) -> dict[str, list[str]]:
    """Top-level line -> its indented children (in order). Comment and end lines are dropped, and
    top-level lines matching ``fixed`` (written by the device itself, :attr:`PlatformSpec.fixed_config`)."""
    blocks: dict[str, list[str]] = {}
    current: str | None = None
    for raw in text.splitlines():
        if not raw.strip() or raw.strip() in _SKIP or raw.strip().startswith("!"):
            if raw.strip() in ("exit", "!"):
                current = None if not raw.startswith(" ") else current
            continue
        if raw.startswith((" ", "\t")):
            if current is not None:
                blocks[current].append(raw.strip())
            continue
        line = raw.strip()
        if matches(line, fixed):
            current = None
            continue
        blocks.setdefault(line, [])
        current = line
    return blocks


def _negate(line: str) -> str:
    return line[3:] if line.startswith("no ") else f"no {line}"


def _removals(lines: Iterable[str]) -> list[str]:
    """``no`` commands for lines that go, skipping lines covered by removing a shorter one."""
    gone = list(lines)
    keep = []
    for line in gone:
        words = line.split()
        covered = any(
            other != line and not other.startswith("no ") and words[: len(other.split())] == other.split()
            for other in gone
        )
        if not covered:
            keep.append(line)
    return [_negate(line) for line in reversed(keep)]


def replace_commands(current: str, target: str, fixed: Sequence[str] = ()) -> list[str]:
    """Commands that make ``current`` equal ``target`` (for configs made of lines and one-level blocks).

    Lines matching ``fixed`` (the platform's :attr:`PlatformSpec.fixed_config`) are left alone.
    """
    cur, tgt = parse_blocks(current, fixed), parse_blocks(target, fixed)
    commands: list[str] = []
    # Blocks and lines that only the current config has.
    for header, children in cur.items():
        if header in tgt:
            continue
        if children:
            commands += [header, *_removals(children), "exit"]
        else:
            commands += _removals([header])
    for header, children in tgt.items():
        old = cur.get(header)
        if old is None:
            commands.append(header)
            if children:
                commands += [*children, "exit"]
            continue
        gone = [c for c in old if c not in children]
        new = [c for c in children if c not in old]
        if gone or new:
            commands += [header, *_removals(gone), *new, "exit"]
    return commands


def unified_diff(before: str, after: str, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), f"{name} (running)", f"{name} (after)"
        )
    )
