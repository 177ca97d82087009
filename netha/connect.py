"""Build drivers and probe targets for inventory devices (secrets resolved here, at the last moment)."""

from __future__ import annotations

from .drivers import NetworkDriver, driver_class
from .inventory import Inventory
from .log import register_secret
from .transport.ssh import SshParams


def ssh_params(inv: Inventory, device: str) -> SshParams:
    dev = inv.devices[device]
    cred = inv.credentials[dev.credentials]
    ssh = inv.ssh_for(device)
    password = register_secret(cred.password.resolve()) if cred.password else None
    cls = driver_class(dev.platform)
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
        netmiko_device_type=cls.spec.netmiko_device_type,
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
