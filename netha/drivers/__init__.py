"""Platform drivers: one module per platform, ``netha/drivers/<platform>.py``, each exporting ``Driver``.

This package is the registry of platforms: :func:`platforms` names them, :func:`spec` and
:func:`driver_class` answer for one, :func:`supported_protocols` tells the inventory loader (which
sits below the drivers and never imports them) what each platform can do.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Mapping
from types import MappingProxyType

from ..errors import NethaError
from .base import PROTOCOLS, GroupProtocol, NetworkDriver, PlatformSpec
from .models import DeviceReading, InterfaceDetails, VrrpStateName, VrrpView

__all__ = [
    "PROTOCOLS", "DeviceReading", "GroupProtocol", "InterfaceDetails", "NetworkDriver", "PlatformSpec", "VrrpStateName",
    "VrrpView", "driver_class", "platforms", "spec", "supported_protocols",
]

# Modules of this package that are not platforms (shared code, the models).
_NOT_PLATFORMS = {"base", "models", "changes", "render", "textconfig", "napalm_push", "keepalived_conf", "linux", "native_reach",
                  "openconfig"}


def platforms() -> list[str]:
    """The platforms that have a driver module."""
    return list(_platforms())


@functools.lru_cache(maxsize=1)
def _platforms() -> tuple[str, ...]:
    # Listed once: a scan of the package's folder per call cost a planned step ~0.5 ms.
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__)
                        if m.name not in _NOT_PLATFORMS and not m.name.startswith("_")))


def driver_class(platform: str) -> type[NetworkDriver]:
    """The driver class for ``platform`` (its module's ``Driver``)."""
    if platform not in platforms():
        raise NethaError(f"no driver for platform {platform!r} (drivers: {', '.join(platforms())})")
    module = importlib.import_module(f"{__name__}.{platform}")
    return module.Driver


def spec(platform: str) -> PlatformSpec:
    """The :class:`PlatformSpec` of ``platform`` (its driver's ``spec``)."""
    return driver_class(platform).spec


@functools.lru_cache(maxsize=1)
def supported_protocols() -> Mapping[str, frozenset[str]]:
    """Platform name -> what its driver supports (``vrrp``, ``hsrp``, ``varp``, ``static``), for every driver.

    The argument ``platforms=`` of :func:`netha.inventory.load_inventory`: an inventory naming a
    platform without a driver, or a group whose protocol a member's platform lacks (for an IPv6 group:
    ``ipv6-<protocol>``), is refused; ``vrid-per-family``: IPv4 and IPv6 groups of one VRID are apart;
    ``gnmi``: the driver has a gNMI event stream (:meth:`NetworkDriver.gnmi_subscription`).
    """
    return MappingProxyType({name: _capabilities(spec(name)) | _gnmi(name) for name in platforms()})


def _gnmi(platform: str) -> frozenset[str]:
    """``gnmi`` when the platform's driver has a gNMI event stream (a device's ``gnmi:`` block needs it)."""
    return frozenset({"gnmi"}) if driver_class(platform).gnmi_subscription() is not None else frozenset()


def _capabilities(s: PlatformSpec) -> frozenset[str]:
    """A spec's protocols, and each one it supports for IPv6 groups as ``ipv6-<protocol>``."""
    ipv6 = s.protocols if s.ipv6 is None else s.ipv6
    apart = {"vrid-per-family"} if s.vrid_per_family else set()
    return frozenset(s.protocols) | {f"ipv6-{p}" for p in ipv6 if p in s.protocols} | apart
