"""``netha lab up|down|status|exec|list|generate``: the only part of the CLI that loads netha.lab."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from .common import JsonOpt, console, emit_json, handle_errors, plain, progress_bar, progress_wanted

lab_app = typer.Typer(no_args_is_help=True, add_completion=False)

LabName = Annotated[Optional[str], typer.Option(
    "--name", envvar="NETHA_LAB_NAME", show_default=False,
    help="Lab name (1-12 lowercase letters and digits): its namespaces, run directory and FRR paths are its "
         "own, so labs run side by side. Default: netha (nh-<node>, /run/netha-lab).")]


def _lab():
    from .. import lab  # only `netha lab` loads the lab harness

    return lab


@lab_app.command()
@handle_errors
def up(topology: Annotated[Optional[Path], typer.Argument(help="containerlab topology file")] = None,
       name: LabName = None, as_json: JsonOpt = False) -> None:
    """Build the lab (idempotent) and wait until VRRP has a master for every group.

    At a terminal a progress bar follows the build: the network, each node's daemons, the wait for VRRP."""
    lab = _lab()
    t0 = time.monotonic()
    with progress_bar(f"lab {lab.lab_names(name).name} up", None, progress_wanted(as_json)) as bar:
        state = lab.up(topology, name=name, progress=bar.update)
    if as_json:
        emit_json({"version": 1, "name": state.name, "namespaces": len(state.namespaces),
                   "seconds": round(time.monotonic() - t0, 1), "run_dir": str(lab.run_dir(name))})
        return
    console.print(f"lab {state.name} up ({len(state.namespaces)} namespaces) in {time.monotonic() - t0:.1f}s; "
                  f"secrets and known_hosts in {lab.run_dir(name)}", markup=False)


@lab_app.command()
@handle_errors
def down(name: LabName = None, as_json: JsonOpt = False) -> None:
    """Remove every namespace, process, interface and file the lab made (and nothing of another lab)."""
    lab = _lab()
    t0 = time.monotonic()
    lab.down(name)
    if as_json:
        emit_json({"version": 1, "name": lab.lab_names(name).name, "seconds": round(time.monotonic() - t0, 1)})
        return
    console.print(f"lab {lab.lab_names(name).name} down in {time.monotonic() - t0:.1f}s", markup=False)


@lab_app.command("list")
@handle_errors
def list_labs(as_json: JsonOpt = False) -> None:
    """The labs on this host (by their namespaces and run directories)."""
    lab = _lab()
    if as_json:
        emit_json([{"name": n, "namespace_prefix": lab.LabNames(n).prefix, "run_dir": str(lab.LabNames(n).run_dir)}
                   for n in lab.labs()])
        return
    for n in lab.labs():
        names = lab.LabNames(n)
        console.print(f"{n}\t{names.prefix}*\t{names.run_dir}", markup=False, highlight=False)


@lab_app.command()
@handle_errors
def status(name: LabName = None, as_json: JsonOpt = False) -> None:
    """Nodes, their daemons and addresses."""
    lab = _lab()
    nodes = lab.status(name=name)
    if as_json:
        emit_json({"version": 1, "name": lab.lab_names(name).name, "up": bool(nodes),
                   "nodes": [{"name": n.name, "role": n.role, "namespace": n.namespace, "present": n.present,
                              "daemons": {d: pid for d, pid in n.daemons.items()}, "addresses": list(n.addresses)}
                             for n in nodes]})
        raise typer.Exit(0 if nodes else 1)
    if not nodes:
        console.print(f"the lab {lab.lab_names(name).name} is down", markup=False)
        raise typer.Exit(1)
    table = Table(title=f"netha lab {lab.lab_names(name).name}")
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
def exec(ctx: typer.Context, node: Annotated[str, typer.Argument(help="lab node")], name: LabName = None) -> None:
    """Run a command inside a node: netha lab exec h1 -- ping -c1 198.18.2.100"""
    argv = [a for a in ctx.args if a != "--"] or ["/bin/sh"]
    raise typer.Exit(_lab().exec_in(node, argv, name=name))


@lab_app.command()
@handle_errors
def generate(
    pairs: Annotated[int, typer.Option("--pairs", help="Number of FRR router pairs, each with its own LAN.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the topology, configs and inventory.")],
    name: LabName = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate a scaled topology (N router pairs) and its inventory, for `netha lab up FILE`."""
    from ..lab.generate import generate as gen

    topo, inv = gen(pairs, out, lab=name)
    if as_json:
        emit_json({"version": 1, "pairs": pairs, "topology": str(topo), "inventory": str(inv)})
        return
    console.print(f"topology {topo}\ninventory {inv}", markup=False, highlight=False)
