"""Read and validate an inventory file; every problem becomes one ``file:line: message`` line."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from netutils.lib_mapper import MAIN_LIB_MAPPER
from pydantic import ValidationError

from ..errors import CredentialError, InventoryError
from .model import Inventory, SecretRef
from .yamlpos import LocatedDocument, Loc, load_located, one_line

# Platform name -> what its driver supports ("vrrp", "hsrp", "varp" for a group's `protocol:`,
# "static" for `mode: static`). The inventory sits below the drivers and never imports them: the
# caller passes the driver registry's answer (netha.drivers.supported_protocols(); netha.connect's
# load_checked_inventory does).
Platforms = Mapping[str, Collection[str]]

# Without a registry (platforms=None) a platform is only checked to be a name netha could have a
# driver for: netha's own, or a normalised name netutils knows (cisco_ios, arista_eos...).
NETHA_PLATFORMS = frozenset({"frr", "keepalived"})

_CAPABILITY = {"vrrp": "VRRP", "hsrp": "HSRP", "varp": "VARP", "static": "static gateway moves (mode: static)"}
_CAPABILITY.update({f"ipv6-{k}": f"{v} for IPv6" for k, v in list(_CAPABILITY.items())})

Problem = tuple[Loc, str]


def _format_loc(loc: Loc) -> str:
    return ".".join(str(p) for p in loc)


def _pydantic_problems(exc: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        # Drop pydantic's union branch labels (e.g. 'SecretRef', 'str', 'function-after[...]').
        loc = tuple(p for p in err["loc"] if isinstance(p, int) or not _is_branch_label(p))
        msg = one_line(err["msg"])
        value = err.get("input")
        if err["type"] == "string_pattern_mismatch":
            msg = f"invalid value {_show(value)}: only letters, digits and . _ - / : are allowed here"
            if isinstance(value, str) and any(c in value for c in "\n\r;|!#"):
                msg = f"invalid value {_show(value)}: newlines and command separators are never allowed"
        elif err["type"] == "extra_forbidden":
            msg = f"unknown key {_show(loc[-1])}" if loc else msg
        elif err["type"] == "missing":
            msg = f"missing required key {_show(loc[-1])}" if loc else msg
        elif isinstance(value, bool) and err["type"] in ("int_type", "float_type"):
            msg = f"expected a number, not {str(value).lower()}"
        elif err["type"] == "bool_type":
            msg = f"expected true or false, not {_show(value)}"
        problems.append((loc, f"{one_line(_format_loc(loc), 120)}: {msg}" if loc else msg))
    # Union errors repeat the same location once per branch; keep the first of each.
    seen: set[Loc] = set()
    unique = []
    for loc, msg in problems:
        if loc not in seen:
            seen.add(loc)
            unique.append((loc, msg))
    return unique


def _show(value: Any) -> str:
    """A value for an error line: its repr, on one line and short (a 1 MB string is not echoed)."""
    return one_line(repr(value), 80)


def _is_branch_label(part: Any) -> bool:
    if not isinstance(part, str):
        return False
    return part in {"str", "SecretRef", "IPv4Address", "IPv6Address"} or "[" in part or part.startswith(
        ("function-", "constrained-", "lax-", "json-")
    )


def _platform_problems(inv: Inventory, platforms: Platforms | None) -> Iterator[Problem]:
    """Each device's platform has a driver; each group's protocol is supported by every member's platform."""
    for name, dev in inv.devices.items():
        if platforms is None:
            if dev.platform not in NETHA_PLATFORMS and dev.platform not in MAIN_LIB_MAPPER:
                yield ("devices", name, "platform"), f"device {name}: unknown platform {dev.platform!r}"
        elif dev.platform not in platforms:
            yield ("devices", name, "platform"), (
                f"device {name}: unknown platform {dev.platform!r}: netha has no driver for it "
                f"(platforms: {', '.join(sorted(platforms))})"
            )
    if platforms is None:
        return
    for name, dev in inv.devices.items():
        if dev.gnmi is not None and dev.platform in platforms and "gnmi" not in platforms[dev.platform]:
            with_gnmi = sorted(p for p, caps in platforms.items() if "gnmi" in caps)
            yield ("devices", name, "gnmi"), (
                f"device {name}: platform {dev.platform} has no gNMI event stream "
                f"(gnmi: is for {', '.join(with_gnmi) or 'no platform'})")
    # An IPv4 and an IPv6 group of one VRID on one interface, where the platform configures both as one.
    by_vrid: dict[tuple[str, str, str, int], tuple[str, int]] = {}
    for gname, group in inv.groups.items():
        if group.mode != "vrrp" or group.vrid is None:
            continue
        for member in group.members:
            dev = inv.devices.get(member.device)
            if dev is None or dev.platform not in platforms or "vrid-per-family" in platforms[dev.platform]:
                continue
            key = (member.device, member.interface or group.interface, group.protocol, group.vrid)
            other = by_vrid.setdefault(key, (gname, group.family))
            if other[1] != group.family:
                yield ("groups", gname, "vrid"), (
                    f"group {gname}: VRID {group.vrid} on {member.device} {key[1]} is also group {other[0]}'s "
                    f"(IPv{other[1]}), and {dev.platform} sets priority, preempt and shutdown per VRID for both "
                    "families (a takeover of one would move the other): give it a VRID of its own")
                break
    for gname, group in inv.groups.items():
        needed = "static" if group.mode == "static" else group.protocol
        if group.family == 6:
            needed = f"ipv6-{needed}"
        for i, member in enumerate(group.members):
            dev = inv.devices.get(member.device)
            if dev is None or dev.platform not in platforms or needed in platforms[dev.platform]:
                continue
            yield ("groups", gname, "members", i, "device"), (
                f"group {gname}: {member.device} is a {dev.platform} device, which does not support "
                f"{_CAPABILITY.get(needed, needed)}"
            )


def _cross_checks(inv: Inventory) -> Iterator[Problem]:
    for name, dev in inv.devices.items():
        if dev.credentials not in inv.credentials:
            yield ("devices", name, "credentials"), f"device {name}: unknown credentials {dev.credentials!r}"
        if dev.shell is not None and dev.shell not in inv.credentials:
            yield ("devices", name, "shell"), f"device {name}: unknown credentials {dev.shell!r} for its shell"
        if dev.snmp is not None and dev.snmp not in inv.snmp:
            yield ("devices", name, "snmp"), f"device {name}: unknown SNMP profile {dev.snmp!r}"
        gnmi = dev.gnmi
        if gnmi is not None and gnmi.credentials is not None and gnmi.credentials not in inv.credentials:
            yield ("devices", name, "gnmi", "credentials"), (
                f"device {name}: unknown credentials {gnmi.credentials!r} for its gNMI stream")
        if gnmi is not None and gnmi.ca is not None and not gnmi.ca.is_file():
            yield ("devices", name, "gnmi", "ca"), f"device {name}: gNMI CA file {gnmi.ca} does not exist"

    vrids: dict[tuple[str, str, int], str] = {}
    for gname, group in inv.groups.items():
        seen_members: set[str] = set()
        for i, member in enumerate(group.members):
            loc = ("groups", gname, "members", i, "device")
            if member.device not in inv.devices:
                yield loc, f"group {gname}: unknown device {member.device!r}"
            if member.device in seen_members:
                yield loc, f"group {gname}: device {member.device!r} listed twice"
            seen_members.add(member.device)
            if group.vrid is not None:
                # IPv4 and IPv6 groups (and VRRP and HSRP ones) may share a number on one interface.
                key = (member.device, member.interface or group.interface, group.protocol, group.family, group.vrid)
                if key in vrids:
                    yield ("groups", gname, "vrid"), (
                        f"group {gname}: VRID {group.vrid} on {member.device} {key[1]} "
                        f"is already used by group {vrids[key]}"
                    )
                else:
                    vrids[key] = gname
            if member.address is not None:
                for j, vip in enumerate(group.virtual_addresses):
                    if vip not in group.global_addresses:
                        continue  # an IPv6 link-local virtual address is on every link
                    if vip.ip not in member.address.network:
                        yield ("groups", gname, "virtual_addresses", j), (
                            f"group {gname}: virtual address {vip.ip} is outside {member.device} "
                            f"{member.interface or group.interface} subnet {member.address.network}"
                        )
                    elif vip.ip == member.address.ip:
                        yield ("groups", gname, "virtual_addresses", j), (
                            f"group {gname}: virtual address {vip.ip} is {member.device}'s own address"
                        )
        for j, vip in enumerate(group.virtual_addresses):
            if group.subnet is not None and vip in group.global_addresses and vip.ip not in group.subnet:
                yield ("groups", gname, "virtual_addresses", j), (
                    f"group {gname}: virtual address {vip.ip} is outside the subnet {group.subnet}"
                )
        priorities = sorted((m.priority for m in group.members), reverse=True)
        if len(priorities) > 1 and priorities[0] == priorities[1]:
            yield ("groups", gname, "members"), (
                f"group {gname}: two members share the top priority {priorities[0]}; the primary is ambiguous"
            )
        for i, track in enumerate(group.track):
            if track.device is not None and track.device not in seen_members:
                yield ("groups", gname, "track", i, "device"), (
                    f"group {gname}: tracked object on {track.device!r}, which is not a member"
                )
            for dev in (track.reach.sources if track.reach else {}):
                if dev not in seen_members:
                    yield ("groups", gname, "track", i, "reach", "sources", dev), (
                        f"group {gname}: probe source for {dev!r}, which is not a member"
                    )


def _listener_problems(inv: Inventory) -> Iterator[Problem]:
    for i, listener in enumerate(inv.controller.listeners):
        for j, g in enumerate(listener.groups):
            if g not in inv.groups:
                yield ("controller", "listeners", i, "groups", j), f"listener {listener.interface}: unknown group {g!r}"


def _coordination_problems(inv: Inventory) -> Iterator[Problem]:
    devices = {g: {m.device for m in grp.members} for g, grp in inv.groups.items()}
    for loc, msg in inv.controller.coordination.scope_problems(devices):
        yield ("controller", "coordination", *loc), msg


def _secret_problems(inv: Inventory) -> Iterator[Problem]:
    def check(loc: Loc, ref: SecretRef) -> Iterator[Problem]:
        try:
            ref.resolve()
        except CredentialError as exc:
            yield loc, f"{_format_loc(loc)}: {exc}"

    for cname, cred in inv.credentials.items():
        for key, ref in cred.secret_refs():
            yield from check(("credentials", cname, key, "env" if ref.env else "file"), ref)
    for pname, prof in inv.snmp.items():
        for key, ref in prof.secret_refs():
            yield from check(("snmp", pname, key, "env" if ref.env else "file"), ref)


def validate_document(doc: LocatedDocument, check_secrets: bool = True, platforms: Platforms | None = None) -> Inventory:
    if not isinstance(doc.data, dict):
        raise InventoryError([f"{doc.path}:1: the inventory must be a mapping with 'devices' and 'groups'"])
    data: dict[str, Any] = doc.data
    origins: dict[Loc, str] = {}
    if "devices_from" in data:  # devices from a Nornir inventory: a problem in one names the Nornir file's line
        from .nornir import expand_devices_from

        data, origins = expand_devices_from(doc, platforms)

    def where(loc: Loc) -> str:
        for n in range(len(loc), 0, -1):
            if tuple(loc[:n]) in origins:
                return origins[tuple(loc[:n])]
        return doc.where(loc)

    try:
        inv = Inventory.model_validate(data, context={"base_dir": doc.path.parent})
    except ValidationError as exc:
        raise InventoryError([f"{where(loc)}: {msg}" for loc, msg in _pydantic_problems(exc)]) from None
    problems = list(_cross_checks(inv)) + list(_platform_problems(inv, platforms)) + list(_listener_problems(inv)) + list(_coordination_problems(inv))
    if check_secrets:
        problems += list(_secret_problems(inv))
    if problems:
        raise InventoryError([f"{where(loc)}: {msg}" for loc, msg in problems])
    return inv.model_copy(update={"source": doc.path})


def load_inventory(path: str | Path, check_secrets: bool = True, platforms: Platforms | None = None) -> Inventory:
    """Load and validate ``path``. Raises InventoryError listing every problem found.

    ``platforms``: the driver registry (platform -> supported protocols); with it, a platform
    without a driver and a group a member's platform cannot serve are refused here, with their line.
    """
    return validate_document(load_located(Path(path)), check_secrets=check_secrets, platforms=platforms)
