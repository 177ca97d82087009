"""What a driver returns (as NAPALM's ``napalm/base/models.py``): the shapes every platform agrees on.

The getters of :class:`~netha.drivers.base.NetworkDriver` return these and nothing else; the
observer, the health model and the takeover read them. They live here, beside the drivers, so
that the drivers import nothing from the layers above them (``netha.observe`` re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypedDict

VrrpStateName = Literal["master", "backup", "init", "unknown"]


@dataclass(frozen=True)
class VrrpView:
    """One device's own view of one of its VRRP instances (from SSH or SNMP).

    ``state`` is what is true of the instance, not necessarily the word the device printed: a
    driver corrects a platform's known misreport in its own module (FRR's Master without carrier
    is ``init``, see :mod:`netha.drivers.frr`).
    """

    vrid: int
    interface: str
    state: VrrpStateName
    priority: int | None = None  # configured
    effective_priority: int | None = None
    virtual_addresses: tuple[str, ...] = ()
    adverts_rx: int | None = None
    adverts_tx: int | None = None
    transitions: int | None = None
    advert_interval: float | None = None  # seconds
    preempt: bool | None = None
    master_address: str | None = None
    shutdown: bool = False  # the instance is administratively shut down (e.g. a master netha made resign)


class InterfaceDetails(TypedDict):
    """One interface of ``get_interface_details()``: its MAC and its IPv4 addresses with prefix length."""

    mac: str | None
    addresses: list[str]  # "198.18.1.2/24", secondaries included


@dataclass(frozen=True)
class DeviceReading:
    """One poll of one device over its CLI: everything the health model needs from it."""

    vrrp: tuple[VrrpView, ...]
    interfaces: dict[str, bool]
    routes: dict[str, bool]
    addresses: dict[str, tuple[str, ...]]  # interface -> its IPv4 addresses with prefix length
