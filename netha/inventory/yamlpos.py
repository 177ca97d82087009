"""Load YAML while remembering the line of every key, so errors can name file and line."""

from __future__ import annotations

import stat
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


# Bounds that no real inventory comes near, so that a hostile or broken file fails fast and clearly:
# the file size, the nesting depth (PyYAML composes recursively), and the size of the document
# once every alias is expanded ("billion laughs": a few lines of anchors that stand for 10^9 nodes).
MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000


def one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# libyaml when PyYAML has it (an order of magnitude faster: a big file must not look like a hang).
_BaseLoader: type = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader whose constructor failures all become marked YAML errors.

    Duplicate mapping keys (a silent override is a classic inventory bug) are found by :func:`_walk`;
    nesting is bounded by :func:`_check_nesting` before anything is composed (composing recurses).
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # noqa: BLE001 - any constructor failure is a problem in the file
            # e.g. a date that does not exist (2024-02-30), a bad !!int (ValueError) or a bad
            # !!timestamp (AttributeError): PyYAML's constructors do not raise YAML errors for these.
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid value: {one_line(str(exc), 120)}", node.start_mark
            ) from None


def _check_nesting(text: str, path: Path) -> None:
    """Refuse nesting deeper than MAX_DEPTH from the event stream (flat: no recursion, no nodes built)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else 1
                raise InventoryError([
                    f"{path}:{line}: YAML error: nesting deeper than {MAX_DEPTH} levels (an inventory needs fewer than 10)"
                ])
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expanded(root: yaml.Node, path: Path) -> None:
    """Refuse alias cycles, alias chains deeper than MAX_DEPTH and documents that expand past MAX_NODES.

    Aliases share nodes, so the expanded size and depth are computed once per node (iteratively:
    no recursion, whatever the file holds).
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        nid = id(node)
        kids = _children(node)
        if finished:
            size[nid] = 1 + sum(size[id(k)] for k in kids)
            depth[nid] = 1 + max((depth[id(k)] for k in kids), default=0)
            line = node.start_mark.line + 1
            if size[nid] > MAX_NODES:
                raise InventoryError([
                    f"{path}:{line}: aliases expand this document past {MAX_NODES} values "
                    f"(a YAML alias bomb?); an inventory needs far fewer"
                ])
            if depth[nid] > MAX_DEPTH:
                raise InventoryError([f"{path}:{line}: aliases nest this document deeper than {MAX_DEPTH} levels"])
            continue
        if nid in size:
            continue
        if nid in entered:
            raise InventoryError([f"{path}:{node.start_mark.line + 1}: an alias refers to its own anchor (a cycle)"])
        entered.add(nid)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size)


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[str], path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(f"{path}:{key_node.start_mark.line + 1}: a mapping key must be a plain value")
                continue
            key = key_node.value
            if key in seen:
                problems.append(f"{path}:{key_node.start_mark.line + 1}: duplicate key {one_line(repr(key), 80)}")
            seen.add(key)
            sub = loc + (key,)
            lines.setdefault(sub, key_node.start_mark.line + 1)
            _walk(value_node, sub, lines, problems, path)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = loc + (i,)
            lines.setdefault(sub, item.start_mark.line + 1)
            _walk(item, sub, lines, problems, path)


def _read_text(path: Path) -> str:
    """The file's text, or InventoryError naming the file: missing, not a file, too big, not UTF-8."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise InventoryError([f"{path}: cannot read: {kind}"])
        if st.st_size > MAX_BYTES:
            raise InventoryError([f"{path}: cannot read: {st.st_size} bytes is too big for an inventory (limit {MAX_BYTES})"])
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InventoryError([f"{path}: cannot read: {exc.strerror or type(exc).__name__}"]) from None
    if len(raw) > MAX_BYTES:
        raise InventoryError([f"{path}: cannot read: too big for an inventory (limit {MAX_BYTES} bytes)"])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InventoryError([
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save the file as UTF-8"
        ]) from None


def load_located(path: Path) -> LocatedDocument:
    """Read ``path`` as YAML. Raises InventoryError with ``file:line: message`` lines."""
    text = _read_text(path)
    lines: dict[Loc, int] = {}
    loader: _Loader | None = None
    try:
        _check_nesting(text, path)
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is not None:
            _check_expanded(node, path)
            problems: list[str] = []
            _walk(node, (), lines, problems, path)
            if problems:
                raise InventoryError(problems)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
            reason += f" ({exc.context} started at line {exc.context_mark.line + 1})"
        kind = "YAML syntax error" if isinstance(exc, (yaml.scanner.ScannerError, yaml.parser.ParserError)) else "YAML error"
        raise InventoryError([f"{path}:{line}: {kind}: {one_line(reason)}"]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or b"\0")
        raise InventoryError([f"{path}:{line}: YAML error: unacceptable character #x{char:04x}: {exc.reason}"]) from None
    except yaml.YAMLError as exc:
        raise InventoryError([f"{path}:1: YAML error: {one_line(str(exc))}"]) from None
    except RecursionError:
        raise InventoryError([f"{path}:1: YAML error: the document nests too deeply"]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return LocatedDocument(path=path, data=data, lines=lines)
