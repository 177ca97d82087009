"""docs/cli.md, generated from the Typer app: every command, argument and option with its help, and every
command's exit codes (netha/cli/exitcodes.py) in one table.

Regenerate after changing the CLI::

    .venv/bin/python -m netha.cli.docs --write

``--check`` exits 1 when docs/cli.md is not current (tests/unit/test_cli_docs.py does the same in CI).
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from .exitcodes import exit_codes

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
REGENERATE = ".venv/bin/python -m netha.cli.docs --write"
# Options Typer adds, described here so that another Typer release's wording does not make the file stale.
FIXED_HELP = {
    "--install-completion": "Install shell completion (bash, zsh, fish, PowerShell) for the current shell.",
    "--show-completion": "Print the completion script for the current shell (or the one named), to install by hand.",
}


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _commands(group: Any, ctx: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any, Any]]:
    """(path, command, context) of every visible command, depth first, in the order they were mounted."""
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or getattr(cmd, "hidden", False):
            continue
        sub_ctx = type(ctx)(cmd, info_name=name, parent=ctx)
        yield path + (name,), cmd, sub_ctx
        if hasattr(cmd, "list_commands"):
            yield from _commands(cmd, sub_ctx, path + (name,))


def _default(param: Any) -> str:
    show = getattr(param, "show_default", None)
    if isinstance(show, str):
        return f"`{show}`"
    if show is False or param.required:
        return ""
    value = param.default
    if callable(value) or value is None or value == () or value == []:
        return ""
    if getattr(param, "is_flag", False) and not getattr(param, "secondary_opts", None):
        return "" if value is False else "on"
    if hasattr(value, "value"):  # an Enum choice
        value = value.value
    return f"`{value}`"


def _annotation_type(ann: Any) -> tuple[str, list[str]]:
    """(type name, choices) of a parameter's annotation (list[X] is X, repeatable)."""
    args = getattr(ann, "__args__", None)
    if args and getattr(ann, "__origin__", None) in (list, tuple):
        ann = args[0]
    if isinstance(ann, type) and issubclass(ann, Enum):
        return "choice", [str(m.value) for m in ann]
    return {int: "integer", float: "number", str: "text", bool: "bool", Path: "path"}.get(ann, getattr(ann, "__name__", str(ann))), []


def _type(param: Any) -> str:
    if getattr(param, "is_flag", False):
        return "flag"
    descriptor = getattr(param, "type_descriptor", None)  # typer >= 0.2x
    if descriptor is not None:
        name, choices = _annotation_type(descriptor.annotation)
    else:  # click's ParamType (older typer)
        t = param.type
        choices = [str(getattr(c, "value", c)) for c in getattr(t, "choices", None) or ()]
        name = {"integer": "integer", "float": "number", "boolean": "bool", "integer range": "integer",
                "float range": "number"}.get(t.name, t.name)
    if choices:
        name = " \\| ".join(choices)
    if getattr(param, "multiple", False):
        name += ", repeatable"
    if getattr(param, "nargs", 1) == -1:
        name += ", one or more"
    return name


def _metavar(param: Any) -> str:
    return param.metavar or param.name.upper()


def _usage(path: tuple[str, ...], cmd: Any) -> str:
    pieces = ["netha", *path, "[OPTIONS]"]
    for p in cmd.params:
        if p.param_type_name != "argument":
            continue
        name = _metavar(p)
        if getattr(p, "nargs", 1) == -1 and not name.endswith("..."):
            name += "..."
        pieces.append(name if p.required else f"[{name}]")
    if hasattr(cmd, "list_commands"):
        pieces.append("[COMMAND [ARGS]...]" if _runs(cmd) else "COMMAND [ARGS]...")
    return " ".join(pieces)


def _runs(cmd: Any) -> bool:
    """A command that does something itself: a plain command, or a group that runs without a subcommand."""
    return not hasattr(cmd, "list_commands") or bool(getattr(cmd, "invoke_without_command", False))


def _params(cmd: Any) -> tuple[list[str], list[str]]:
    args, opts = [], []
    for p in cmd.params:
        if getattr(p, "hidden", False):
            continue
        if p.param_type_name == "argument":
            args.append(f"| `{_metavar(p)}` | {_type(p)} | {'yes' if p.required else 'no'} | {_cell(getattr(p, 'help', '') or '')} |")
        else:
            names = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
            env = p.envvar if isinstance(p.envvar, str) else ", ".join(p.envvar or ())
            help_text = _cell(FIXED_HELP.get(p.opts[0], p.help or "")) + (" (required)" if p.required else "")
            opts.append(f"| {names} | {_type(p)} | {_default(p)} | {f'`{env}`' if env else ''} | {help_text} |")
    return args, opts


def render(app: typer.Typer | None = None) -> str:
    """docs/cli.md for ``app`` (default: netha's)."""
    if app is None:
        from .main import app
    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name="netha")
    commands = list(_commands(root, ctx, ()))
    out = [
        "# The `netha` command line",
        "",
        f"Generated from the Typer app by `{REGENERATE}`; do not edit by hand (a unit test fails when this",
        "file is not current). The JSON documents of `--json` are described in [cli-json.md](cli-json.md),",
        "`status --json` in [status-json.md](status-json.md).",
        "",
        "Conventions:",
        "",
        "- `-i/--inventory` (or `NETHA_INVENTORY`) names the inventory on every command that needs one.",
        "- `--json` prints one JSON document on stdout and nothing else (no tables, no progress bar, no",
        "  prompt: a confirmation prompt goes to stderr); errors go to stderr; the exit code is the same",
        "  as without `--json`.",
        "- `--group NAME` and `--device NAME` (repeatable, shell globs such as `'users-*'`) select groups and",
        "  devices; a glob that matches nothing is an error naming it. `--group` alone selects the groups",
        "  and their members; `--device` alone the devices and the groups they are members of; both, the",
        "  matching devices that are members of a matching group.",
        "- Work over several devices (`backup`, `restore` of several devices, `lab up`) shows a progress",
        "  bar when stdout and stderr are terminals, never with `--json`.",
        "- Shell completion: `netha --install-completion` (bash, zsh, fish, PowerShell), or",
        "  `netha --show-completion` to see the script.",
        "",
        "## Exit codes",
        "",
        "Every command but the two Nagios plugins: 0 done, 1 failed, 2 the command line or the inventory is",
        "wrong (also an unknown option, a group or device the inventory does not have, a filter that",
        "matches nothing). `status` and `check` are Nagios plugins: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN,",
        "and any error of theirs is 3. Interrupted (Ctrl-C): 130.",
        "",
        "| command | 0 | 1 | 2 | 3 |",
        "|---|---|---|---|---|",
    ]
    for path, cmd, _ in commands:
        if not _runs(cmd):
            continue
        codes = dict(exit_codes(" ".join(path)))
        extra = [f"{c}: {t}" for c, t in codes.items() if c not in (0, 1, 2, 3)]
        cells = [_cell(codes.get(c, "-")) for c in (0, 1, 2, 3)]
        if extra:
            cells[0] += " (" + _cell("; ".join(extra)) + ")"
        out.append(f"| `netha {' '.join(path)}` | " + " | ".join(cells) + " |")
    out += ["", "## Global options", "", "`netha [GLOBAL OPTIONS] COMMAND ...`", ""]
    _, gopts = _params(root)
    out += ["| option | type | default | env | help |", "|---|---|---|---|---|", *gopts, ""]
    for path, cmd, sub_ctx in commands:
        out += [f"{'##' if len(path) == 1 else '###'} netha {' '.join(path)}", ""]
        out += ["```", _usage(path, cmd), "```", ""]
        if cmd.help:
            out += [inspect.cleandoc(cmd.help), ""]
        args, opts = _params(cmd)
        if args:
            out += ["| argument | type | required | help |", "|---|---|---|---|", *args, ""]
        if opts:
            out += ["| option | type | default | env | help |", "|---|---|---|---|---|", *opts, ""]
        if _runs(cmd):
            out += ["Exit codes: " + "; ".join(f"{c} {t}" for c, t in exit_codes(" ".join(path))) + ".", ""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m netha.cli.docs", description="Generate docs/cli.md from the CLI.")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"write {DOC}")
    mode.add_argument("--check", action="store_true", help=f"exit 1 when {DOC} is not current")
    args = ap.parse_args(argv)
    text = render()
    if args.write:
        DOC.write_text(text)
        print(f"wrote {DOC}")
        return 0
    if args.check:
        current = DOC.read_text() if DOC.exists() else ""
        if current != text:
            print(f"{DOC} is not current: run `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
