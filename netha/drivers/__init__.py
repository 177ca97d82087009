"""Platform drivers: one module per platform, ``netha/drivers/<platform>.py``, each exporting ``Driver``."""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import NethaError
from .base import NetworkDriver, PlatformSpec
from .models import DeviceReading, InterfaceDetails, VrrpStateName, VrrpView

__all__ = [
    "DeviceReading", "InterfaceDetails", "NetworkDriver", "PlatformSpec", "VrrpStateName", "VrrpView", "driver_class",
    "platforms",
]

_NOT_PLATFORMS = {"base", "models", "textconfig", "napalm_push", "keepalived_conf"}


def platforms() -> list[str]:
    """The platforms that have a driver module."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_PLATFORMS and not m.name.startswith("_"))


def driver_class(platform: str) -> type[NetworkDriver]:
    """The driver class for ``platform`` (its module's ``Driver``)."""
    if platform not in platforms():
        raise NethaError(f"no driver for platform {platform!r} (drivers: {', '.join(platforms())})")
    module = importlib.import_module(f"{__name__}.{platform}")
    return module.Driver
