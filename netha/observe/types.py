"""Immutable observations: what the probes saw, gathered into one snapshot per poll cycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Literal

# What a driver returns lives with the drivers; re-exported here for the observation layer's callers.
from ..drivers.models import DeviceReading, InterfaceDetails, ParseNotes, ReachReading, VrrpStateName, VrrpView

__all__ = [
    "AdvertSource", "DeviceObservation", "Presence", "DeviceReading", "InterfaceDetails", "ProbeResult", "ReachReading", "Snapshot",
    "Source",
    "VrrpStateName", "VrrpView",
]

Source = Literal["ssh", "snmp", "adverts"]


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one probe of one device: ok, or an error line; never an exception."""

    ok: bool
    at: float
    error: str | None = None
    duration: float = 0.0


@dataclass(frozen=True)
class DeviceObservation:
    """Everything the probes last saw of one device. ``None`` means 'not observed'."""

    device: str
    ssh: ProbeResult | None = None
    snmp: ProbeResult | None = None
    reach: dict[str, ReachReading] = field(default_factory=dict)  # probe key -> the member's prober's reading
    vrrp: tuple[VrrpView, ...] | None = None  # from SSH (or SNMP where the device has the MIB)
    vrrp_source: Source | None = None
    interfaces: dict[str, bool] = field(default_factory=dict)  # name -> oper up
    routes: dict[str, bool] = field(default_factory=dict)  # prefix -> present
    addresses: dict[str, tuple[str, ...]] = field(default_factory=dict)  # interface -> IPv4 CIDRs
    uptime: float | None = None  # seconds since the device (re)started, from sysUpTime
    rebooted: bool = False
    # What the parsers of the last CLI reading skipped (unknown lines, unreadable groups or commands).
    notes: ParseNotes | None = None

    @property
    def managed(self) -> bool | None:
        """Can the controller talk to the device at all? None when no probe ran yet."""
        results = [r for r in (self.ssh, self.snmp) if r is not None]
        if not results:
            return None
        return any(r.ok for r in results)

    def vrrp_for(self, vrid: int, interface: str, protocol: str = "vrrp", family: int = 4) -> VrrpView | None:
        """The device's view of one group: VRRP, HSRP and VARP groups, IPv4 and IPv6 ones, may share a
        number on one interface (``protocol``: the inventory group's; ``family``: 4 or 6)."""
        for view in self.vrrp or ():
            if view.vrid == vrid and view.interface == interface and view.protocol == protocol and view.family == family:
                return view
        return None

    @property
    def unreadable(self) -> tuple[tuple[str, str], ...]:
        """(command, why) of what the last CLI reading could not understand: a group netha does not
        find on this device may be one of these, so its absence proves nothing."""
        return tuple(self.notes.unreadable) if self.notes is not None else ()


@dataclass(frozen=True)
class AdvertSource:
    """One router heard advertising one VRID on one segment (by the listener)."""

    interface: str  # the listener's interface
    vrid: int
    source: str  # source address of the adverts (over IPv6 the router's link-local address)
    priority: int
    interval: float  # seconds, as advertised
    version: int
    last_seen: float  # monotonic seconds
    first_seen: float
    count: int
    checksum_style: Literal["rfc5798", "rfc9568", "v2", "bad"] = "rfc5798"
    addresses: tuple[str, ...] = ()
    family: int = 4  # 4 or 6: the IP version the adverts came over (the group's address family)

    def master_down_interval(self, backup_priority: int = 100) -> float:
        """RFC 5798: 3 * interval + skew, skew = (256 - priority) * interval / 256."""
        return 3 * self.interval + (256 - backup_priority) * self.interval / 256

    def silent_for(self, now: float) -> float:
        return max(0.0, now - self.last_seen)


@dataclass(frozen=True)
class Presence:
    """One address on one leg, as seen at ``now``."""

    interface: str
    address: str
    mac: str | None
    answered: bool  # ever
    last_reply: float | None  # monotonic time of the last reply
    unanswered: int  # probes sent since the last reply
    silent_for: float | None  # seconds since the last reply; None if it never answered
    silent: bool  # it answered, then its last ``silent_after`` probes went unanswered


@dataclass(frozen=True)
class Snapshot:
    """One immutable picture of the network that a decision is made from."""

    at: float  # monotonic
    wall: float  # time.time(), for humans and logs
    devices: dict[str, DeviceObservation]
    adverts: tuple[AdvertSource, ...] = ()
    listening: tuple[str, ...] = ()  # listener interfaces that are running
    # ARP presence of member addresses on the listener legs: (leg, address) -> what the watcher saw.
    arp: Mapping[tuple[str, str], Presence] = field(default_factory=dict)

    def adverts_for(self, vrid: int, family: int = 4) -> list[AdvertSource]:
        """The sources heard advertising VRID in one address family: an IPv4 and an IPv6 group may
        share a VRID on one segment and are different groups (RFC 5798 §1)."""
        return [a for a in self.adverts if a.vrid == vrid and a.family == family]
