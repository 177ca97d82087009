"""Bind an inventory to the drivers: load it against the driver registry, build drivers and probe
targets for its devices (secrets resolved here, at the last moment)."""

from __future__ import annotations

from pathlib import Path

from .drivers import NetworkDriver, driver_class, spec, supported_protocols
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
