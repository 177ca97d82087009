"""``netha lab up|down|status|exec``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from .. import lab
from .common import console, handle_errors, plain

lab_app = typer.Typer(no_args_is_help=True, add_completion=False)


@lab_app.command()
@handle_errors
def up(topology: Annotated[Optional[Path], typer.Argument(help="containerlab topology file")] = None) -> None:
    """Build the lab (idempotent) and wait until VRRP has a master for every group."""
    t0 = time.monotonic()
    state = lab.up(topology)
    console.print(f"lab up ({len(state.namespaces)} namespaces) in {time.monotonic() - t0:.1f}s; "
                  f"secrets and known_hosts in {lab.run_dir()}", markup=False)


@lab_app.command()
@handle_errors
def down() -> None:
    """Remove every namespace, process, interface and file the lab made."""
    t0 = time.monotonic()
    lab.down()
    console.print(f"lab down in {time.monotonic() - t0:.1f}s")


@lab_app.command()
@handle_errors
def status() -> None:
    """Nodes, their daemons and addresses."""
    nodes = lab.status()
    if not nodes:
        console.print("the lab is down")
        raise typer.Exit(1)
    table = Table(title="netha lab")
    for col in ("node", "role", "namespace", "daemons", "addresses"):
        table.add_column(col)
    for n in nodes:
        daemons = Text()
        for d, pid in n.daemons.items():
            daemons.append(f"{d} ", style="green" if pid else "red")
        table.add_row(plain(n.name), plain(n.role), Text(n.namespace, style="green" if n.present else "red"), daemons,
                      plain("\n".join(n.addresses)))
    console.print(table)


@lab_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@handle_errors
def exec(ctx: typer.Context, node: Annotated[str, typer.Argument(help="lab node")]) -> None:
    """Run a command inside a node: netha lab exec h1 -- ping -c1 198.18.2.100"""
    argv = [a for a in ctx.args if a != "--"] or ["/bin/sh"]
    raise typer.Exit(lab.exec_in(node, argv))


@lab_app.command()
@handle_errors
def generate(
    pairs: Annotated[int, typer.Option("--pairs", help="Number of FRR router pairs, each with its own LAN.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the topology, configs and inventory.")],
) -> None:
    """Generate a scaled topology (N router pairs) and its inventory, for `netha lab up FILE`."""
    from ..lab.generate import generate as gen

    topo, inv = gen(pairs, out)
    console.print(f"topology {topo}\ninventory {inv}", markup=False, highlight=False)
