"""Bind an inventory to the drivers: load it against the driver registry, build drivers and probe
targets for its devices (secrets resolved here, at the last moment)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .drivers import NetworkDriver, driver_class, spec, supported_protocols
from .drivers.models import ReachProbe
from .inventory import Inventory, load_inventory
from .log import register_secret
from .transport.ssh import SshParams


def load_checked_inventory(path: str | Path, check_secrets: bool = True) -> Inventory:
    """:func:`~netha.inventory.load_inventory` against the driver registry: a platform without a
    driver, or a group a member's platform cannot serve (HSRP on EOS, a static gateway on
    keepalived), is a ``file:line`` problem of the inventory."""
    return load_inventory(path, check_secrets=check_secrets, platforms=supported_protocols())


def ssh_params(inv: Inventory, device: str) -> SshParams:
    dev = inv.devices[device]
    cred = inv.credentials[dev.credentials]
    ssh = inv.ssh_for(device)
    password = register_secret(cred.password.resolve()) if cred.password else None
    return SshParams(
        device=device,
        host=str(dev.host),
        username=cred.resolve_username(),
        password=password,
        key_file=cred.key_file,
        port=ssh.port,
        known_hosts=ssh.known_hosts,
        strict_host_key_checking=ssh.strict_host_key_checking,
        timeout=ssh.timeout,
        command_timeout=ssh.command_timeout,
        netmiko_device_type=spec(dev.platform).netmiko_device_type,
    )


def make_driver(inv: Inventory, device: str) -> NetworkDriver:
    """A driver for ``device``, not yet opened."""
    return driver_class(inv.devices[device].platform)(ssh_params(inv, device))


def tracked_routes(inv: Inventory, device: str) -> tuple[str, ...]:
    routes = {
        str(t.route)
        for g in inv.groups.values()
        if any(m.device == device for m in g.members)
        for t in g.tracks_for(device)
        if t.route is not None
    }
    return tuple(sorted(routes))


def tracked_interfaces(inv: Inventory, device: str) -> tuple[str, ...]:
    names: set[str] = set()
    for g in inv.groups.values():
        if any(m.device == device for m in g.members):
            names.add(g.interface_of(device))
            names.update(t.interface for t in g.tracks_for(device) if t.interface)
    return tuple(sorted(names))


def reach_probes(inv: Inventory, device: str) -> tuple[ReachProbe, ...]:
    """The forwarding-path probes ``device`` runs: one per distinct reach track of its groups.

    Two groups tracking the same target from the same source share one probe. ``index`` is the
    track's ``id`` or 400 + its position among the device's probes (stable for one inventory).
    """
    probes: dict[str, ReachProbe] = {}
    for g in inv.groups.values():
        if not any(m.device == device for m in g.members):
            continue
        for t in g.tracks_for(device):
            r = t.reach
            if r is None or r.key in probes:
                continue
            probes[r.key] = ReachProbe(
                key=r.key, target=str(r.target), kind=r.probe, port=r.port, source=r.source_for(device),
                interval=r.interval, timeout=r.timeout, window=r.window, max_loss=r.max_loss, max_rtt=r.max_rtt,
                index=r.id if r.id is not None else 400 + len(probes) + 1,
            )
    return tuple(probes.values())


def shell_params(inv: Inventory, device: str) -> SshParams | None:
    """The SSH login of ``device``'s Linux shell, for a streaming prober: the device's ``shell:``
    credentials, or its CLI login when that is a shell (keepalived); None when it has neither."""
    dev = inv.devices[device]
    if dev.shell is None:
        return ssh_params(inv, device) if spec(dev.platform).login_is_shell else None
    cred = inv.credentials[dev.shell]
    return replace(
        ssh_params(inv, device),
        username=cred.resolve_username(),
        password=register_secret(cred.password.resolve()) if cred.password else None,
        key_file=cred.key_file,
        netmiko_device_type="linux",
    )
