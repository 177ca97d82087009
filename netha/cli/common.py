"""Shared CLI plumbing: the console, the inventory option, one-line errors.

Every text that comes from a device, an inventory, an argument, the store or an exception is
printed with Rich markup escaped (:func:`esc`) or with ``markup=False``: ``netha failover 'no[/x]'``
must print an error, not crash in Rich's markup parser.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from ..errors import InventoryError, NethaError
from ..connect import load_checked_inventory
from ..inventory import Inventory
from ..netns import enter_netns

console = Console()
if not console.is_terminal:
    console = Console(width=160)  # logs and pipes: do not squeeze tables into 80 columns
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

InventoryOpt = Annotated[
    Path,
    typer.Option(
        "--inventory", "-i", envvar="NETHA_INVENTORY", help="Inventory YAML file.", show_default=False
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


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
    """Turn every NethaError into one red line per problem and a non-zero exit, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InventoryError as exc:
            raise fail("\n".join(exc.problems), 2) from None
        except NethaError as exc:
            raise fail(str(exc), 1) from None

    return wrapper  # type: ignore[return-value]


def load_inventory(path: Path, check_secrets: bool = True) -> Inventory:
    """The inventory, checked against the driver registry (platforms with a driver, supported protocols)."""
    return load_checked_inventory(path, check_secrets=check_secrets)


def open_inventory(path: Path, enter_namespace: bool = True) -> Inventory:
    """Load the inventory and, when it names one, move into the controller's network namespace."""
    inv = load_inventory(path)
    if enter_namespace and inv.controller.netns and os.environ.get("NETHA_NO_NETNS") != "1":
        enter_netns(inv.controller.netns)
    return inv
