"""Load YAML while remembering the line of every key, so errors can name file and line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InventoryError

Loc = tuple[str | int, ...]


@dataclass
class LocatedDocument:
    """A parsed YAML document plus a map from each key path to its 1-based line."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int:
        """The line of ``loc``, or of its closest located ancestor."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return 1

    def where(self, loc: Loc) -> str:
        return f"{self.path}:{self.line_of(loc)}"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (a silent override is a classic inventory bug)."""


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[str], path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(f"{path}:{key_node.start_mark.line + 1}: duplicate key {key!r}")
            seen.add(key)
            sub = loc + (key,)
            lines.setdefault(sub, key_node.start_mark.line + 1)
            _walk(value_node, sub, lines, problems, path)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = loc + (i,)
            lines.setdefault(sub, item.start_mark.line + 1)
            _walk(item, sub, lines, problems, path)


def load_located(path: Path) -> LocatedDocument:
    """Read ``path`` as YAML. Raises InventoryError with ``file:line: message`` lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
            reason += f" ({exc.context} started at line {exc.context_mark.line + 1})"
        raise InventoryError([f"{path}:{line}: YAML syntax error: {reason}"]) from None
    except yaml.YAMLError as exc:
        raise InventoryError([f"{path}:1: YAML error: {exc}"]) from None
    lines: dict[Loc, int] = {}
    problems: list[str] = []
    if node is not None:
        _walk(node, (), lines, problems, path)
    if problems:
        raise InventoryError(problems)
    return LocatedDocument(path=path, data=data, lines=lines)
