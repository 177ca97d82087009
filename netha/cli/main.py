"""The ``netha`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import __version__
from ..errors import InventoryError
from ..log import setup_logging
from .common import console, err_console, load_inventory

app = typer.Typer(
    name="netha",
    help="Network high-availability controller for VRRP gateways.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"netha {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", envvar="NETHA_LOG_LEVEL", help="debug, info, warning, error.")] = "warning",
    log_format: Annotated[str, typer.Option("--log-format", envvar="NETHA_LOG_FORMAT", help="text or json.")] = "text",
) -> None:
    """Network high-availability controller for VRRP gateways."""
    setup_logging(log_level, log_format)


@app.command()
def validate(
    inventory: Annotated[Path, typer.Option("--inventory", "-i", envvar="NETHA_INVENTORY", help="Inventory YAML file.")],
    skip_secrets: Annotated[bool, typer.Option("--skip-secrets", help="Do not check that credential variables and files exist.")] = False,
) -> None:
    """Check an inventory file: one line per problem, with file and line."""
    try:
        inv = load_inventory(inventory, check_secrets=not skip_secrets)
    except InventoryError as exc:
        for line in exc.problems:
            err_console.print(line, highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(
        f"{inventory}: ok ({len(inv.devices)} devices, {len(inv.groups)} groups)", highlight=False, markup=False
    )


def _mount_subcommands() -> None:
    from .lab import lab_app
    from .probes import probes
    from .status import status
    from .controller import ack, check, maintenance, run
    from .takeover import backup, failback, failover, history, restore, snapshots

    for command in (status, probes, failover, failback, run, check, ack, maintenance, backup, restore, snapshots, history):
        app.command()(command)
    app.add_typer(lab_app, name="lab", help="Build, inspect and tear down the netns lab.")


_mount_subcommands()
