"""OpenConfig paths the vendor platforms stream over gNMI, and how a notification becomes an event.

Shared data of the platforms whose gNMI servers speak OpenConfig (EOS, NX-OS, Junos, IOS-XE); each
platform's module picks what it supports and its quirks (:class:`~netha.drivers.base.GnmiSubscription`:
port, origin, encoding, transport security). :mod:`netha.observe.gnmi` runs the subscription and
hands every update and delete to :func:`event_parser`'s function. An event only wakes a read of the
device: it carries the interface and a short detail for the log and ``status``, never a state.

- ``/interfaces/interface/state/oper-status`` (openconfig-interfaces): ``UP`` is a link up, every
  other status (``DOWN``, ``LOWER_LAYER_DOWN``, ``DORMANT``, ``NOT_PRESENT``, ``TESTING``,
  ``UNKNOWN``) a link down; a delete is the interface gone (``deleted``). A target that aggregates
  sends the ``state`` container as one JSON object: its ``oper-status`` is read the same way.
- ``.../ipv4|ipv6/addresses/address/vrrp/vrrp-group/state`` (openconfig-if-ip), under a subinterface
  or a routed VLAN: any leaf that changes (``current-priority``, ``priority``, ``virtual-address``...)
  is a ``vrrp`` event naming the group's interface and VRID. OpenConfig has no master/backup leaf:
  the read the event wakes says who is master.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import DeviceEvent, GnmiElem

OPER_STATUS = "/interfaces/interface/state/oper-status"
VRRP_SUBINTERFACE_V4 = "/interfaces/interface/subinterfaces/subinterface/ipv4/addresses/address/vrrp/vrrp-group/state"
VRRP_SUBINTERFACE_V6 = "/interfaces/interface/subinterfaces/subinterface/ipv6/addresses/address/vrrp/vrrp-group/state"
VRRP_ROUTED_VLAN_V4 = "/interfaces/interface/routed-vlan/ipv4/addresses/address/vrrp/vrrp-group/state"
VRRP_ROUTED_VLAN_V6 = "/interfaces/interface/routed-vlan/ipv6/addresses/address/vrrp/vrrp-group/state"

_VRRP_GROUP = ("addresses", "address", "vrrp", "vrrp-group")
_SHOWN = 40  # characters of a value shown in an event's detail


def _key(elem: GnmiElem, name: str) -> str | None:
    for k, v in elem[1]:
        if k == name:
            return v
    return None


def _link(value: object | None) -> str | None:
    if value is None:
        return "deleted"
    if isinstance(value, dict):  # an aggregated state container (EOS: "openconfig-interfaces:oper-status")
        value = _member(value, "oper-status")
        if value is None:
            return None
    if not isinstance(value, str):
        return None
    status = value.rsplit(":", 1)[-1].upper()  # an identityref-style "openconfig-interfaces:UP" too
    return "up" if status == "UP" else "down"


def _bare(name: str) -> str:
    """A JSON member's or path element's name without its module ("openconfig-interfaces:name")."""
    return name.rsplit(":", 1)[-1]


def _member(obj: dict, name: str) -> object | None:
    for k, v in obj.items():
        if _bare(str(k)) == name:
            return v
    return None


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def event_parser(subinterface_name: Callable[[str, str], str]) -> Callable[[tuple[GnmiElem, ...], object | None], DeviceEvent | None]:
    """The parse function of a platform's subscription. ``subinterface_name(interface, index)`` names
    the interface a VRRP group of a subinterface sits on as the platform's CLI does (Junos: always
    ``ge-0/0/1.0``; EOS, NX-OS, IOS-XE: the parent for index 0, ``Ethernet1.10`` otherwise)."""

    def parse(path: tuple[GnmiElem, ...], value: object | None) -> DeviceEvent | None:
        names = tuple(e[0] for e in path)
        if len(names) < 3 or names[:2] != ("interfaces", "interface"):
            return None
        interface = _key(path[1], "name")
        if not interface:
            return None
        rest = names[2:]
        if rest in (("state", "oper-status"), ("state",)):
            detail = _link(value)
            return None if detail is None else DeviceEvent("link", interface, detail)
        if rest == () and value is None:  # the whole interface deleted
            return DeviceEvent("link", interface, "deleted")
        where = rest
        if where[:2] == ("subinterfaces", "subinterface"):
            index = _key(path[3], "index")
            if index is None:
                return None
            interface, where = subinterface_name(interface, index), where[2:]
        elif where[:1] == ("routed-vlan",):
            where = where[1:]
        else:
            return None
        if len(where) < 5 or where[0] not in ("ipv4", "ipv6") or where[1:5] != _VRRP_GROUP:
            return None
        family, vrid = where[0], _key(path[len(path) - len(where) + 4], "virtual-router-id") or "?"
        tail = where[5:]
        if tail and tail[0] != "state":
            return None  # config, interface-tracking ...: not state
        leaf = tail[1:2]
        if value is None:
            return DeviceEvent("vrrp", interface, f"{family} vrid {vrid} {leaf[0] if leaf else 'group'} deleted")
        if leaf:
            return DeviceEvent("vrrp", interface, f"{family} vrid {vrid} {leaf[0]}={_shown(value)}")
        if isinstance(value, dict):  # an aggregated group or state container
            state = _member(value, "state") if tail == () else value
            shown = " ".join(f"{_bare(str(k))}={_shown(v)}" for k, v in sorted(state.items())
                             if not isinstance(v, (dict, list))) if isinstance(state, dict) else ""
            return DeviceEvent("vrrp", interface, f"{family} vrid {vrid} {shown}".strip())
        return None

    return parse


def parent_for_index_zero(interface: str, index: str) -> str:
    """EOS, NX-OS, IOS-XE: subinterface 0 is the interface itself; N is ``<interface>.N``."""
    return interface if index == "0" else f"{interface}.{index}"


def unit_always(interface: str, index: str) -> str:
    """Junos: every logical interface is a unit, ``ge-0/0/1.0``."""
    return f"{interface}.{index}"
