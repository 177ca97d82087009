"""Shared CLI plumbing: the console, the inventory option, one-line errors and exit codes, --json
output, the --group/--device selection, shell completion of names, and progress bars.

Every text that comes from a device, an inventory, an argument, the store or an exception is
printed with Rich markup escaped (:func:`esc`) or with ``markup=False``: ``netha failover 'no[/x]'``
must print an error, not crash in Rich's markup parser.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text
from typer.core import TyperCommand

from ..errors import InventoryError, NethaError
from ..connect import load_checked_inventory
from ..inventory import Inventory
from ..netns import enter_netns

console = Console()
if not console.is_terminal:
    console = Console(width=160)  # logs and pipes: do not squeeze tables into 80 columns
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

InventoryOpt = Annotated[
    Path,
    typer.Option(
        "--inventory", "-i", envvar="NETHA_INVENTORY", help="Inventory YAML file.", show_default=False
    ),
]
JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print one JSON document on stdout (docs/cli-json.md) and nothing else; errors still go to stderr.")]


def _completion_inventory(ctx: typer.Context) -> Inventory | None:
    """The inventory named so far on the command line (or by NETHA_INVENTORY), for shell completion:
    no secret needed, and any problem is no completion rather than an error in the shell."""
    path = ctx.params.get("inventory") or os.environ.get("NETHA_INVENTORY")
    if not path:
        return None
    try:
        return load_checked_inventory(Path(path), check_secrets=False)
    except Exception:  # noqa: BLE001 - a traceback in the middle of a shell's tab completion helps nobody
        return None


def complete_group(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion: the inventory's group names."""
    inv = _completion_inventory(ctx)
    return [g for g in inv.groups if g.startswith(incomplete)] if inv else []


def complete_device(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion: the inventory's device names."""
    inv = _completion_inventory(ctx)
    return [d for d in inv.devices if d.startswith(incomplete)] if inv else []


def complete_target(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion: the inventory's group and device names."""
    return complete_group(ctx, incomplete) + complete_device(ctx, incomplete)


GroupFilterOpt = Annotated[Optional[list[str]], typer.Option(
    "--group", "-g", metavar="NAME", show_default=False, autocompletion=complete_group,
    help="Only groups whose name matches (shell glob: 'users-*'); repeatable.")]
DeviceFilterOpt = Annotated[Optional[list[str]], typer.Option(
    "--device", "-d", metavar="NAME", show_default=False, autocompletion=complete_device,
    help="Only devices whose name matches (shell glob: 'leaf?-dc'); repeatable.")]

# Exit codes shared by every command (docs/cli.md lists each command's own in one table).
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# The Nagios commands (status, check) report every error as UNKNOWN: a typo must not page as CRITICAL.
NAGIOS_UNKNOWN = 3


class UsageProblem(NethaError):
    """A command line that names nothing (a filter matching no group or device, a bad combination
    of options): exit 2, as click's own usage errors (3, UNKNOWN, for the Nagios commands)."""


def esc(value: object) -> str:
    """``str(value)`` with Rich markup escaped, for f-strings that also carry markup of netha's own."""
    return escape(str(value))


def plain(value: object, style: str = "") -> Text:
    """A table cell or title that Rich never parses for markup."""
    return Text(str(value), style=style)


def fail(message: str, code: int = 1) -> typer.Exit:
    for line in message.splitlines() or [message]:
        err_console.print(f"[bold red]error:[/] {esc(line)}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn every NethaError into one red line per problem and a non-zero exit, never a traceback:
    2 for an invalid inventory or command line, 1 for anything else."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InventoryError as exc:
            raise fail("\n".join(exc.problems), EXIT_USAGE) from None
        except UsageProblem as exc:
            raise fail(str(exc), EXIT_USAGE) from None
        except NethaError as exc:
            raise fail(str(exc), EXIT_FAILED) from None

    return wrapper  # type: ignore[return-value]


def nagios_errors(func: F) -> F:
    """:func:`handle_errors` for a Nagios plugin (status, check): every error exits 3 (UNKNOWN), also a
    bug's exception (its traceback is logged at debug level), never 1 (WARNING) or 2 (CRITICAL)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except InventoryError as exc:
            raise fail("\n".join(exc.problems), NAGIOS_UNKNOWN) from None
        except NethaError as exc:
            raise fail(str(exc), NAGIOS_UNKNOWN) from None
        except Exception as exc:  # noqa: BLE001 - a plugin that crashes reports UNKNOWN
            log.debug("%s failed", func.__name__, exc_info=True)
            raise fail(f"internal error: {type(exc).__name__}: {exc} (--log-level debug for the traceback)",
                       NAGIOS_UNKNOWN) from None

    return wrapper  # type: ignore[return-value]


# click's UsageError (typer vendors click in newer releases, imports it in older ones).
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class NagiosCommand(TyperCommand):
    """A command whose usage errors (unknown option, bad value) exit 3, UNKNOWN, not click's 2."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _UsageError as exc:
            exc.exit_code = NAGIOS_UNKNOWN
            raise


# -- --json ------------------------------------------------------------------------------------

def emit_json(doc: Any) -> None:
    """The one JSON document of a command, on stdout (never through Rich: no markup, no wrapping)."""
    sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    sys.stdout.flush()


# -- --group / --device ------------------------------------------------------------------------

def match_names(names: Sequence[str], patterns: Sequence[str], option: str, what: str, where: object) -> list[str]:
    """The names (in their order) matching any of the shell globs; a glob matching none is an error
    naming it (names are case-sensitive, as in the inventory)."""
    for pat in patterns:
        if not any(fnmatch.fnmatchcase(n, pat) for n in names):
            known = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            raise UsageProblem(f"{option} {pat!r} matches no {what} in {where}" + (f" ({what}s: {known})" if names else ""))
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


@dataclass(frozen=True)
class Selection:
    """What ``--group``/``--device`` select of an inventory, in inventory order.

    ``--group`` alone: the matching groups and their members. ``--device`` alone: the matching devices
    and the groups they are members of. Both: the matching devices that are members of a matching
    group, and those of the matching groups that have one of them as a member."""

    groups: tuple[str, ...]
    devices: tuple[str, ...]
    filtered: bool


def select(inv: Inventory, groups: Sequence[str] | None, devices: Sequence[str] | None) -> Selection:
    gpats, dpats = list(groups or ()), list(devices or ())
    where = inv.source or "the inventory"
    gsel = match_names(list(inv.groups), gpats, "--group", "group", where) if gpats else list(inv.groups)
    if not dpats:
        members = {m.device for g in gsel for m in inv.groups[g].members}
        dsel = [d for d in inv.devices if d in members] if gpats else list(inv.devices)
        return Selection(tuple(gsel), tuple(dsel), bool(gpats))
    dsel = match_names(list(inv.devices), dpats, "--device", "device", where)
    if gpats:
        members = {m.device for g in gsel for m in inv.groups[g].members}
        dsel = [d for d in dsel if d in members]
        if not dsel:
            raise UsageProblem(f"--device {' '.join(dpats)} selects no member of --group {' '.join(gpats)} in {where}")
    gsel = [g for g in gsel if any(m.device in dsel for m in inv.groups[g].members)]
    return Selection(tuple(gsel), tuple(dsel), True)


def need_group(inv: Inventory, name: str) -> str:
    """``name`` when the inventory has that group; else a usage error listing the groups."""
    if name not in inv.groups:
        raise UsageProblem(f"no group {name!r} in {inv.source} (groups: {', '.join(inv.groups) or 'none'})")
    return name


def need_device(inv: Inventory, name: str) -> str:
    """``name`` when the inventory has that device; else a usage error listing the devices."""
    if name not in inv.devices:
        known = list(inv.devices)
        more = ", ..." if len(known) > 12 else ""
        raise UsageProblem(f"no device {name!r} in {inv.source} (devices: {', '.join(known[:12]) or 'none'}{more})")
    return name


# -- progress ----------------------------------------------------------------------------------

def progress_wanted(as_json: bool = False) -> bool:
    """A progress bar only for a person at a terminal: off with --json, in pipes, logs and cron."""
    return not as_json and sys.stdout.isatty() and sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


class Bar:
    """A progress bar's handle: ``advance(label)`` one item, or ``update(done, total, label)``.
    A disabled bar's methods do nothing."""

    def __init__(self, progress: Progress | None = None, task: Any = None):
        self._progress, self._task = progress, task

    def advance(self, label: str = "") -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, item=label)

    def update(self, done: int, total: int, label: str = "") -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total, item=label)


@contextlib.contextmanager
def progress_bar(what: str, total: int | None, enabled: bool) -> Iterator[Bar]:
    """A Rich bar over ``total`` items (None: not known yet). Only drawn when ``enabled`` (see
    :func:`progress_wanted`): lines printed on ``console`` or ``err_console`` meanwhile appear above the
    bar, which disappears when done."""
    if not enabled:
        yield Bar()
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[item]}", markup=False), console=console, transient=True)
    task = bar.add_task(what, total=total, item="")
    with bar:
        yield Bar(bar, task)


def load_inventory(path: Path, check_secrets: bool = True) -> Inventory:
    """The inventory, checked against the driver registry (platforms with a driver, supported protocols)."""
    return load_checked_inventory(path, check_secrets=check_secrets)


def open_inventory(path: Path, enter_namespace: bool = True, check_secrets: bool = True) -> Inventory:
    """Load the inventory and, when it names one, move into the controller's network namespace.

    ``check_secrets=False`` for work that never logs in (offline plans, the audit log, snapshots)."""
    inv = load_inventory(path, check_secrets=check_secrets)
    if enter_namespace and inv.controller.netns and os.environ.get("NETHA_NO_NETNS") != "1":
        enter_netns(inv.controller.netns)
    return inv
