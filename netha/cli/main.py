"""The ``netha`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import __version__
from ..errors import InventoryError
from ..log import setup_logging
from .common import EXIT_USAGE, InventoryOpt, JsonOpt, NagiosCommand, console, emit_json, err_console, load_inventory
from .exitcodes import epilog

app = typer.Typer(
    name="netha",
    help="Network high-availability controller for VRRP gateways.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion, --show-completion (bash, zsh, fish, PowerShell)
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
    inventory: InventoryOpt,
    skip_secrets: Annotated[bool, typer.Option("--skip-secrets", help="Do not check that credential variables and files exist.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check an inventory file: one line per problem, with file and line."""
    try:
        inv = load_inventory(inventory, check_secrets=not skip_secrets)
    except InventoryError as exc:
        for line in exc.problems:
            err_console.print(line, highlight=False, markup=False, soft_wrap=True)
        if as_json:
            emit_json({"version": 1, "inventory": str(inventory), "ok": False, "devices": None, "groups": None,
                       "problems": exc.problems})
        raise typer.Exit(EXIT_USAGE) from None
    if as_json:
        emit_json({"version": 1, "inventory": str(inventory), "ok": True, "devices": len(inv.devices),
                   "groups": len(inv.groups), "problems": []})
        return
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
        # status and check are Nagios plugins: even their usage errors exit 3 (UNKNOWN)
        app.command(cls=NagiosCommand if command in (status, check) else None)(command)
    app.add_typer(lab_app, name="lab", help="Build, inspect and tear down the netns lab.")
    from .leader import leader_app; app.add_typer(leader_app, name="leader", help="Who leads (several controllers, one acts); step-down.")  # noqa: E702
    from .inventory import inventory_app; app.add_typer(inventory_app, name="inventory", help="Inventories from NetBox; drift against NetBox.")  # noqa: E702
    from .parse import parse; app.command()(parse)  # noqa: E702


def _document_exit_codes(typer_app: typer.Typer, prefix: str = "") -> None:
    """Every command's ``--help`` ends with its exit codes (netha/cli/exitcodes.py), also those of
    commands mounted later in the list above that set no epilog of their own."""
    for info in typer_app.registered_commands:
        name = info.name or (info.callback.__name__.replace("_", "-") if info.callback else "")
        if info.epilog is None:
            info.epilog = epilog(f"{prefix}{name}")
    for group in typer_app.registered_groups:
        if group.typer_instance is None:
            continue
        cb = group.typer_instance.registered_callback
        # A group that runs on its own (`netha leader`) has exit codes of its own.
        if cb is not None and cb.invoke_without_command is True and not isinstance(cb.epilog, str):
            cb.epilog = epilog(f"{prefix}{group.name}")
        _document_exit_codes(group.typer_instance, f"{prefix}{group.name} ")


_mount_subcommands()
_document_exit_codes(app)
