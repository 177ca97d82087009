"""What a driver returns (as NAPALM's ``napalm/base/models.py``): the shapes every platform agrees on.

The getters of :class:`~netha.drivers.base.NetworkDriver` return these and nothing else; the
observer, the health model and the takeover read them. They live here, beside the drivers, so
that the drivers import nothing from the layers above them (``netha.observe`` re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Literal, TypedDict

VrrpStateName = Literal["master", "backup", "init", "unknown"]
FhrpProtocol = Literal["vrrp", "hsrp", "varp"]
AddressFamily = Literal[4, 6]


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
    # VRRP, HSRP and VARP groups, and IPv4 and IPv6 groups, may share a number on one interface:
    # (interface, protocol, family, vrid) names a group on a device.
    protocol: FhrpProtocol = "vrrp"
    family: AddressFamily = 4

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.interface, self.protocol, self.family, self.vrid)

    def document(self) -> dict[str, object]:
        """The group as ``netha parse --json`` prints it (and the corpus' ``*.expected.json`` hold it)."""
        return {
            "interface": self.interface,
            "protocol": self.protocol,
            "family": self.family,
            "group": self.vrid,
            "state": self.state,
            "priority": self.effective_priority,
            "configured_priority": self.priority,
            "virtual_addresses": list(self.virtual_addresses),
            "master_address": self.master_address,
            "preempt": self.preempt,
            "advert_interval": self.advert_interval,
            "shutdown": self.shutdown,
        }


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
    reach: dict[str, ReachReading] = field(default_factory=dict)  # probe key -> native prober's reading
    # What the parsers could not read and skipped, so the rest of the poll still counts
    # (see :func:`netha.drivers.base.skip_line`): shown in ``status``.
    notes: ParseNotes | None = None


@dataclass
class ParseNotes:
    """What the parsers of one poll skipped: unknown lines inside a group, and whole groups (or whole
    commands, e.g. ``show standby`` when only ``show vrrp`` could be read) they could not understand."""

    skipped_lines: list[tuple[str, str]] = field(default_factory=list)  # (command, the line)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (command, why)

    def __bool__(self) -> bool:
        return bool(self.skipped_lines or self.unreadable)


# -- forwarding-path probes (reach tracking) --------------------------------------------------------

ReachKind = Literal["icmp", "tcp"]
ReachState = Literal["up", "down", "unknown"]


@dataclass(frozen=True)
class ReachProbe:
    """One forwarding-path probe run from one member: what it sends, from where, how often.

    ``key`` names the tracked object in the health model (``reach icmp 198.18.10.100``);
    ``index`` is the probe's number on the device (Cisco IP SLA entry and track object, EOS
    monitor host, Junos RPM test), stable for one inventory.
    """

    key: str
    target: str
    kind: ReachKind = "icmp"
    port: int | None = None
    source: str | None = None  # the member's own address or interface the probes leave from
    interval: float = 0.05  # seconds between probes
    timeout: float = 0.5  # seconds a probe waits for its answer
    window: int = 10  # the last N probes judged
    max_loss: float = 0.3  # down when more than this share of the window is lost
    max_rtt: float | None = None  # seconds; down when the window's median round trip is above it
    index: int = 1


@dataclass(frozen=True)
class ProbeEvent:
    """One probe's outcome, as a prober prints it (one line of a streaming prober)."""

    seq: int
    ok: bool
    rtt: float | None = None  # seconds, when ok


@dataclass(frozen=True)
class ReachReading:
    """What one member's prober says of one path now.

    ``state`` is the prober's verdict over its window (a native prober's own state: an IP SLA
    track, an RPM test); ``error`` is set when the prober itself does not work (cannot start,
    died, its output cannot be read): that is the prober's failure, never the path's, and its
    state is ``unknown``.
    """

    key: str
    state: ReachState
    sent: int = 0  # probes judged (the window)
    lost: int = 0
    rtt: float | None = None  # seconds: the window's median round trip
    error: str | None = None
    at: float = 0.0  # monotonic time of the newest probe result (0: none yet)
    rate: float | None = None  # probes per second this prober sends


@dataclass(frozen=True)
class ProbeStream:
    """A long-running prober: a shell command whose output is one line per probe, and the parser
    of one line (a :class:`ProbeEvent`; None for a line that is no probe's outcome; a
    :class:`~netha.errors.ParseError` for a line saying the prober itself cannot work)."""

    command: str
    parse: Callable[[str], ProbeEvent | None]
