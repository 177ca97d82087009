"""``netha probes``: the forwarding-path probes each device runs, and the native prober config
a vendor device needs for them (to review, or to paste into the device's config management)."""

from __future__ import annotations

import json
from typing import Any

import typer

from ..connect import offline_driver, reach_probes
from ..drivers import driver_class
from .common import InventoryOpt, JsonOpt, console, handle_errors, load_inventory, plain


@handle_errors
def probes(inventory: InventoryOpt, as_json: JsonOpt = False) -> None:
    """Each device's reach probes (target, source, rate), and the native prober config they need.

    For platforms with a native prober (Cisco IP SLA, EOS monitor connectivity, Junos RPM): the config
    that sets the probes up, to review or to paste into the device's config management. Needs no secret."""
    inv = load_inventory(inventory, check_secrets=False)  # rendering needs no secret
    doc: dict[str, Any] = {}
    for name, dev in inv.devices.items():
        found = reach_probes(inv, name)
        if not found:
            continue
        cls = driver_class(dev.platform)
        entry: dict[str, Any] = {
            "platform": dev.platform,
            "prober": cls.spec.reach,
            "probes": [
                {"key": p.key, "target": p.target, "source": p.source, "rate": round(1 / p.interval, 1),
                 "window": p.window, "max_loss": p.max_loss, "index": p.index}
                for p in found
            ],
        }
        if cls.spec.reach == "native":
            entry["config"] = offline_driver(inv, name).reach_config(found)
        elif cls.spec.reach == "stream":
            has_shell = dev.shell is not None or cls.spec.login_is_shell
            entry["shell"] = "yes" if has_shell else "missing: set `shell:` on the device"
        doc[name] = entry
    if as_json:
        print(json.dumps(doc, indent=1))
        return
    if not doc:
        console.print("no reach probes in this inventory", highlight=False)
        return
    for name, entry in doc.items():
        console.print(plain(f"{name} ({entry['platform']}, {entry['prober']} prober)", "bold"))
        for p in entry["probes"]:
            src = f" from {p['source']}" if p["source"] else ""
            console.print(plain(f"  {p['key']}{src}: {p['rate']:g} probes/s, down above {p['max_loss']:.0%} "
                                f"of {p['window']} lost"))
        if "shell" in entry:
            console.print(plain(f"  shell login: {entry['shell']}"))
        for line in entry.get("config", []):
            console.print(plain(f"    {line}"))
    raise typer.Exit(0)
