"""What a driver applies: one change, an operation and its values (NAPALM's ``models.py`` for changes).

A takeover plan is a list of such changes; the driver applies each one (:meth:`NetworkDriver.apply_change`):
text platforms render the platform's template for it, keepalived edits keepalived.conf structurally.
Values are checked when constructed, so nothing unvalidated reaches a template or a config file, and
they round-trip through JSON (:meth:`ChangeValues.to_json` / :meth:`ChangeValues.from_json`) so that
the journal can give an interrupted plan's changes back after a crash.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Literal, cast

from ..errors import TemplateError

OPERATIONS = ("set_priority", "resign", "restore", "add_address", "remove_address", "preempt")
Operation = Literal["set_priority", "resign", "restore", "add_address", "remove_address", "preempt"]
# The first-hop protocols a 'vrrp'-mode change can be for (which of them a platform has is its
# spec's ``protocols``).
FirstHopProtocol = Literal["vrrp", "hsrp", "varp"]
FIRST_HOP_PROTOCOLS: tuple[FirstHopProtocol, ...] = ("vrrp", "hsrp", "varp")

IFACE = re.compile(r"^[A-Za-z][A-Za-z0-9_./:-]{0,63}$")


@dataclass(frozen=True)
class ChangeValues:
    """The only values a change ever carries. Constructed with checks; immutable."""

    interface: str
    vrid: int | None = None
    priority: int | None = None
    address: ipaddress.IPv4Interface | ipaddress.IPv6Interface | None = None
    mode: Literal["vrrp", "static"] = "vrrp"
    enabled: bool = True
    protocol: FirstHopProtocol = "vrrp"
    version: int = 3
    local_address: ipaddress.IPv4Interface | ipaddress.IPv6Interface | None = None  # the member's own address
    family: Literal[4, 6] = 4  # the group's address family: an IPv6 group is its own group (RFC 5798)

    def __post_init__(self) -> None:
        if not isinstance(self.interface, str) or not IFACE.match(self.interface):
            raise TemplateError(f"invalid interface name {self.interface!r}")
        if self.vrid is not None and (type(self.vrid) is not int or not 1 <= self.vrid <= 255):
            raise TemplateError(f"invalid VRID {self.vrid!r} (1-255)")
        if self.priority is not None and (type(self.priority) is not int or not 1 <= self.priority <= 254):
            raise TemplateError(f"invalid priority {self.priority!r} (1-254)")
        for name in ("address", "local_address"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
                raise TemplateError(f"invalid {name} {value!r}")
            if value is not None and value.version != self.family:
                raise TemplateError(f"{name} {value} is not IPv{self.family} (the group's family)")
        if self.mode not in ("vrrp", "static"):
            raise TemplateError(f"invalid mode {self.mode!r}")
        if type(self.enabled) is not bool:
            raise TemplateError(f"invalid enabled {self.enabled!r}")
        if self.protocol not in FIRST_HOP_PROTOCOLS:
            raise TemplateError(f"invalid protocol {self.protocol!r}")
        if self.version not in (2, 3) or type(self.version) is not int:
            raise TemplateError(f"invalid VRRP version {self.version!r}")
        if self.family not in (4, 6) or type(self.family) is not int:
            raise TemplateError(f"invalid address family {self.family!r}")

    @property
    def needs(self) -> str:
        """What a platform must support for this change (a spec's ``protocols``): ``static`` for a
        plain gateway address, else the first-hop protocol."""
        return "static" if self.mode == "static" else self.protocol

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (addresses as ``A.B.C.D/L``), for the journal."""
        return {
            "interface": self.interface, "vrid": self.vrid, "priority": self.priority,
            "address": self.address.with_prefixlen if self.address is not None else None,
            "mode": self.mode, "enabled": self.enabled, "protocol": self.protocol, "version": self.version,
            "local_address": self.local_address.with_prefixlen if self.local_address is not None else None,
            "family": self.family,
        }

    @classmethod
    def from_json(cls, data: object) -> ChangeValues:
        """The values :meth:`to_json` wrote, checked again; anything else is a :class:`TemplateError`."""
        if not isinstance(data, dict) or set(data) - set(cls.__dataclass_fields__) or "interface" not in data:
            raise TemplateError(f"not change values: {str(data)[:80]!r}")
        values = dict(data)
        for name in ("address", "local_address"):
            raw = values.get(name)
            if raw is None:
                continue
            if not isinstance(raw, str):
                raise TemplateError(f"invalid {name} {raw!r}")
            try:
                values[name] = ipaddress.ip_interface(raw)
            except ValueError:
                raise TemplateError(f"invalid {name} {raw!r}") from None
        try:
            return cls(**cast(dict[str, Any], values))
        except TypeError as exc:
            raise TemplateError(f"not change values: {exc}") from None


def check_operation(operation: str) -> Operation:
    """``operation`` if it is one of :data:`OPERATIONS`, else a :class:`TemplateError`."""
    if operation not in OPERATIONS:
        raise TemplateError(f"unknown operation {operation!r}")
    return cast(Operation, operation)
