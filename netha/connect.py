"""Bind an inventory to the drivers: load it against the driver registry, build drivers and probe
targets for its devices (secrets resolved here, at the last moment)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path

from .drivers import NetworkDriver, driver_class, spec, supported_protocols
from .drivers.models import ReachProbe
from .inventory import Inventory, load_inventory
from .log import register_secret
from .transport.ssh import SshParams

log = logging.getLogger(__name__)


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
    """A driver for ``device``, not yet opened, told the inventory's template folder."""
    drv = driver_class(inv.devices[device].platform)(ssh_params(inv, device))
    drv.templates = inv.controller.templates
    return drv


def offline_driver(inv: Inventory, device: str) -> NetworkDriver:
    """A driver for ``device`` that only renders (config for review): no secret is resolved, and it
    can never log in (no password, no key)."""
    dev = inv.devices[device]
    params = SshParams(device=device, host=str(dev.host), username="-",
                       netmiko_device_type=spec(dev.platform).netmiko_device_type)
    drv = driver_class(dev.platform)(params)
    drv.templates = inv.controller.templates
    return drv


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


class _Gate:
    """One user at a time; an urgent user (a takeover) goes before every ordinary one (a poll) that
    waits or comes later: it waits at most for the one use in flight."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._urgent = 0

    @contextmanager
    def hold(self, urgent: bool = False) -> Iterator[None]:
        with self._cond:
            self._urgent += urgent
            try:
                while self._busy or (not urgent and self._urgent):
                    self._cond.wait()
            finally:
                self._urgent -= urgent
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    @contextmanager
    def reserve(self) -> Iterator[None]:
        """Ordinary users wait while this is held (the use in flight ends first); urgent ones go on."""
        with self._cond:
            self._urgent += 1
        try:
            yield
        finally:
            with self._cond:
                self._urgent -= 1
                self._cond.notify_all()


class Sessions:
    """One open driver session per device, shared by everything that talks to it: the observer's
    polls and the takeover's pushes and checks. Reopened when it drops; one user at a time per
    device. A push (``urgent``) waits for a poll in flight, never for polls that come after it:
    the resign after a decision does not queue behind the reads an event set off."""

    def __init__(self, inv: Inventory, factory: Callable[[Inventory, str], NetworkDriver] = make_driver):
        self.inv = inv
        self._factory = factory
        self._drivers: dict[str, NetworkDriver] = {}
        self._gates: dict[str, _Gate] = {d: _Gate() for d in inv.devices}

    @contextmanager
    def session(self, device: str, urgent: bool = False) -> Iterator[NetworkDriver]:
        """The device's open session, logged in first if needed. A session an exception left
        closed is forgotten (the next use logs in again). ``urgent``: a takeover's use."""
        with self._gates[device].hold(urgent):
            drv = self._drivers.get(device)
            if drv is None or not drv.is_open:
                if drv is not None:
                    drv.close()
                drv = self._factory(self.inv, device)
                drv.open()
                self._drivers[device] = drv
            try:
                yield drv
            except BaseException:
                if not drv.is_open:
                    self._drivers.pop(device, None)
                raise

    def reserve(self, device: str) -> AbstractContextManager[None]:
        """Hold the device's polls back (a poll in flight ends; none starts) while a takeover's
        critical section runs: from its backup to its first push, nothing queues between them."""
        return self._gates[device].reserve()

    def drop(self, device: str) -> None:
        """Close the device's session (a failed poll: whatever state it was left in, start afresh)."""
        with self._gates[device].hold():
            drv = self._drivers.pop(device, None)
        if drv is not None:
            drv.close()

    def warm(self, devices: list[str] | None = None) -> None:
        """Open sessions ahead of need (the daemon does, so a takeover does not wait for a login)."""
        for dev in devices or list(self.inv.devices):
            try:
                with self.session(dev):
                    pass
            except Exception as exc:  # noqa: BLE001 - warming is best effort
                log.info("%s: session not open yet: %s", dev, exc)

    def close(self) -> None:
        for dev in list(self._drivers):
            self.drop(dev)
