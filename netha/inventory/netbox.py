"""NetBox as the source of truth for FHRP groups: write an inventory from it, and find drift against it.

What is read (pynetbox, NetBox's REST API, read-only):

- ``ipam/fhrp-groups``: protocol (``vrrp2``, ``vrrp3``, ``hsrp``; ``glbp``, ``carp``, ``clusterxl`` and
  ``other`` are reported and skipped), group ID (the VRID / HSRP group), name, description, virtual
  addresses (the group's ``ip_addresses``), tags, and the custom field ``netha`` (JSON: ``track``,
  ``policy``, ``advert_interval``, ``preempt``);
- ``ipam/fhrp-group-assignments``: each member interface (a device's or a virtual machine's) and its priority;
- ``dcim/devices`` and ``virtualization/virtual-machines``: platform (mapped to netha's with netutils),
  primary IPv4 address (the management address netha connects to), config context ``netha``
  (``track``: tracked objects of this device in every group it serves; ``groups: {GROUP: {track: ...}}``);
- ``ipam/ip-addresses`` of the member interfaces: each member's own address on the group's subnet.

What NetBox does not hold (credentials, SNMP profiles, controller settings, local tracks and policies)
comes from an overlay file (docs/netbox.md) that the import reads and never writes.

The token is only ever resolved from a reference (``{env: VAR}`` or ``{file: PATH}``), is sent in the
``Authorization`` header only, and never appears in the written inventory, an error or a log line.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import urllib.parse
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from ..errors import InventoryError, NethaError
from .loader import _cross_checks, _platform_problems, _pydantic_problems, validate_document
from .model import (
    Controller, Credential, Defaults, Group, HostName, Inventory, Name, Policy, SecretRef, SnmpProfile, SshSettings,
    StrictBool, Track,
)
from .platform_map import PlatformUnknown, map_platform
from .yamlpos import LocatedDocument, load_located, one_line

log = logging.getLogger(__name__)

# NetBox's FHRPGroupProtocolChoices (ipam/choices.py) -> what netha writes; None: netha does not manage it.
PROTOCOLS: dict[str, dict[str, Any] | None] = {
    "vrrp2": {"protocol": "vrrp", "version": 2},
    "vrrp3": {"protocol": "vrrp", "version": 3},
    "hsrp": {"protocol": "hsrp"},
    "glbp": None,
    "carp": None,
    "clusterxl": None,
    "other": None,
}
PROTOCOL_LABELS = {"vrrp2": "VRRPv2", "vrrp3": "VRRPv3", "hsrp": "HSRP", "glbp": "GLBP", "carp": "CARP",
                   "clusterxl": "ClusterXL", "other": "other"}
# An address with one of these roles on an interface is a virtual address modelled the old way, not the member's own.
VIRTUAL_ROLES = {"vip", "vrrp", "hsrp", "glbp", "carp", "anycast"}
FILTER_KEYS = ("tag", "site")
CUSTOM_FIELD = "netha"
CONTEXT_KEY = "netha"
DEFAULT_CREDENTIALS = "netbox-default"
DEFAULT_CREDENTIAL_DOC = {"username": {"env": "NETHA_USERNAME"}, "password": {"env": "NETHA_PASSWORD"}}
# The first words of every written inventory: an existing --out file without them is not overwritten.
HEADER = "# Written by `netha inventory from-netbox`"
CHUNK = 50  # ids per list request (?id=1&id=2...): keeps URLs short


class NetboxError(NethaError):
    """NetBox could not be read (unreachable, refused the token, answered an error or not JSON)."""


# -- input: token, filters, overlay ---------------------------------------------------------------------

def parse_token_ref(text: str) -> SecretRef:
    """``{env: VAR}``, ``{file: PATH}``, ``env:VAR`` or ``file:PATH``; never the token itself."""
    value: Any
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = yaml.safe_load(stripped)
        except yaml.YAMLError:
            value = None
    elif re.fullmatch(r"(env|file):\S.*", stripped):
        kind, _, ref = stripped.partition(":")
        value = {kind: ref.strip()}
    else:
        value = None
    if not isinstance(value, dict):
        raise InventoryError([
            "--token takes a reference, never the token itself: --token '{env: NETBOX_TOKEN}' or "
            "--token '{file: ~/.config/netha/netbox-token}' (a file of mode 0600)"
        ])
    try:
        return SecretRef.model_validate(value, context={"base_dir": Path.cwd()})
    except ValidationError as exc:
        raise InventoryError([f"--token: {msg}" for _loc, msg in _pydantic_problems(exc)]) from None


def parse_filters(items: Iterable[str]) -> dict[str, list[str]]:
    """``tag=core`` / ``site=bldg-a`` (repeatable; values of one key are alternatives, keys all apply)."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise InventoryError([f"--filter {item!r}: give KEY=VALUE (keys: {', '.join(FILTER_KEYS)})"])
        if key not in FILTER_KEYS:
            raise InventoryError([f"--filter {item!r}: unknown key {key!r} (keys: {', '.join(FILTER_KEYS)})"])
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", value):
            raise InventoryError([f"--filter {item!r}: a {key} is a NetBox slug (letters, digits, - _ .)"])
        out.setdefault(key, []).append(value)
    return out


class OverlayDevice(BaseModel):
    """What NetBox does not say about a device (all optional): overrides of the imported values."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    host: ipaddress.IPv4Address | ipaddress.IPv6Address | HostName | None = None
    platform: str | None = None
    credentials: Name | None = None
    shell: Name | None = None
    snmp: Name | None = None
    ssh: SshSettings | None = None
    description: str | None = None


class OverlayGroup(BaseModel):
    """What NetBox does not say about a group: tracked objects, policy, timers (the custom field's shape too)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    track: list[Track] = []
    policy: Policy | None = None
    advert_interval: Annotated[float, Strict(), Field(ge=0.01, le=40.95)] | None = None
    preempt: StrictBool | None = None
    description: str | None = None


class OverlayNetbox(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str | None = None
    token: SecretRef | None = None
    filter: list[str] = []


class Overlay(BaseModel):
    """The local file the import merges in and never writes (docs/netbox.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    netbox: OverlayNetbox | None = None
    controller: Controller | None = None
    defaults: Defaults | None = None
    credentials: dict[Name, Credential] = {}
    snmp: dict[Name, SnmpProfile] = {}
    device_defaults: OverlayDevice = OverlayDevice()
    platforms: dict[str, str] = {}
    devices: dict[Name, OverlayDevice] = {}
    groups: dict[Name, OverlayGroup] = {}

    # The raw text of each section, written as the operator wrote it (paths stay relative, refs stay refs).
    raw: dict[str, Any] = {}


def load_overlay(path: Path) -> Overlay:
    """The overlay, or InventoryError with ``file:line`` problems."""
    doc = load_located(path)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise InventoryError([f"{path}:1: the overlay must be a mapping (credentials, devices, groups ...)"])
    if "raw" in data:
        raise InventoryError([f"{doc.where(('raw',))}: unknown key 'raw'"])
    try:
        overlay = Overlay.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as exc:
        raise InventoryError([f"{doc.where(loc)}: {msg}" for loc, msg in _pydantic_problems(exc)]) from None
    return overlay.model_copy(update={"raw": data})


# -- reading NetBox ------------------------------------------------------------------------------------

@dataclass
class NbMember:
    device: str
    device_id: int
    vm: bool
    interface: str
    interface_id: int
    priority: int


@dataclass
class NbGroup:
    id: int
    name: str
    protocol: str
    group_id: int
    description: str
    vips: list[str]
    custom: Any
    members: list[NbMember] = field(default_factory=list)

    @property
    def label(self) -> str:
        shown = f" {self.name!r}" if self.name else ""
        return f"NetBox FHRP group {self.id}{shown} ({PROTOCOL_LABELS.get(self.protocol, self.protocol)} {self.group_id})"


@dataclass
class NbDevice:
    id: int
    vm: bool
    name: str
    platform: str | None  # the slug
    primary_ip: str | None
    config_context: Any
    description: str

    @property
    def label(self) -> str:
        return f"{'virtual machine' if self.vm else 'device'} {self.name} (NetBox id {self.id})"


@dataclass
class NetboxData:
    """What the import reads, in plain values (the fixtures of the builder's tests)."""

    url: str
    groups: list[NbGroup]
    devices: dict[tuple[bool, int], NbDevice]
    interface_ips: dict[tuple[bool, int], list[tuple[str, str | None]]]  # (vm, interface id) -> [(address, role)]
    filters: dict[str, list[str]] = field(default_factory=dict)


def _value(x: Any) -> Any:
    """A choice field ({value, label}) or a plain value."""
    return x.get("value") if isinstance(x, dict) else x


def _redact(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


def _base_url(url: str) -> str:
    url = url.strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InventoryError([f"--url {one_line(url, 80)!r}: give NetBox's address, e.g. https://netbox.example.net"])
    if parts.username or parts.password:
        raise InventoryError(["--url: no user or password in the URL; the token goes in --token (a reference)"])
    path = re.sub(r"/api/?$", "", parts.path.rstrip("/"))
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def shown_url(url: str) -> str:
    """The URL as netha prints and writes it: no query, no user info."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class NetboxReader:
    """Reads FHRP groups and what they need through pynetbox; every failure is one NetboxError line."""

    def __init__(self, url: str, token: str | None, timeout: float = 30.0) -> None:
        import pynetbox
        import requests

        self.url = _base_url(url)
        self._token = token
        self.timeout = timeout

        class _Session(requests.Session):
            def request(self, *args: Any, **kwargs: Any) -> Any:  # every request gets a timeout
                kwargs.setdefault("timeout", timeout)
                return super().request(*args, **kwargs)

        self.api = pynetbox.api(self.url, token=token or None)
        self.api.http_session = _Session()

    def _list(self, endpoint: Any, what: str, **filters: Any) -> list[dict[str, Any]]:
        import pynetbox
        import requests

        try:
            records = endpoint.filter(**filters) if filters else endpoint.all()
            return [dict(r) for r in records]
        except pynetbox.RequestError as exc:
            raise NetboxError(self._http_error(exc.req, what)) from None
        except pynetbox.ContentError:
            raise NetboxError(f"NetBox at {shown_url(self.url)} answered {what} with something that is not JSON: "
                              "is this NetBox's address?") from None
        except requests.exceptions.Timeout:
            raise NetboxError(f"NetBox at {shown_url(self.url)} did not answer within {self.timeout:g} s ({what})") from None
        except requests.exceptions.ConnectionError as exc:
            raise NetboxError(f"NetBox at {shown_url(self.url)} cannot be reached: {_reason(exc)}") from None
        except requests.exceptions.RequestException as exc:
            raise NetboxError(f"NetBox at {shown_url(self.url)}: {one_line(_redact(str(exc), self._token), 160)}") from None

    def _http_error(self, resp: Any, what: str) -> str:
        detail = ""
        try:
            body = resp.json()
            if isinstance(body, dict) and isinstance(body.get("detail"), str):
                detail = body["detail"]
        except ValueError:
            pass
        detail = one_line(_redact(detail, self._token), 120)
        code = resp.status_code
        where = f"NetBox at {shown_url(self.url)}"
        if code in (401, 403):
            if not self._token:
                return f"{where} refused {what} without a token (HTTP {code}{': ' + detail if detail else ''}): give --token"
            return f"{where} refused the token (HTTP {code}{': ' + detail if detail else ''}) reading {what}"
        if code == 404:
            return f"{where} has no API for {what} (HTTP 404): is this NetBox's address (without /api)?"
        reason = one_line(getattr(resp, "reason", "") or "", 60)
        return f"{where} answered HTTP {code} {reason}".rstrip() + f" reading {what}" + (f": {detail}" if detail else "")

    def _by_ids(self, endpoint: Any, what: str, key: str, ids: Collection[int]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        ordered = sorted(set(ids))
        for i in range(0, len(ordered), CHUNK):
            out += self._list(endpoint, what, **{key: ordered[i:i + CHUNK]})
        return out

    def read(self, filters: Mapping[str, list[str]] | None = None) -> NetboxData:
        """FHRP groups (within ``filters``), their assignments, member devices and interface addresses."""
        try:
            return self._read(dict(filters or {}))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise NetboxError(f"NetBox at {shown_url(self.url)} answered in a shape netha does not know "
                              f"({type(exc).__name__}: {one_line(_redact(str(exc), self._token), 80)}): is this NetBox?") from None

    def _read(self, filters: dict[str, list[str]]) -> NetboxData:
        ipam = self.api.ipam
        group_filters: dict[str, Any] = {}
        if filters.get("tag"):
            group_filters["tag"] = filters["tag"]
        if filters.get("site"):
            # FHRP groups have no site: the groups with a member interface on a device at the site.
            devices = self._list(self.api.dcim.devices, "devices", site=filters["site"])
            vms = self._list(self.api.virtualization.virtual_machines, "virtual machines", site=filters["site"])
            group_ids: set[int] = set()
            for key, found in (("device_id", devices), ("virtual_machine_id", vms)):
                if found:
                    for a in self._by_ids(ipam.fhrp_group_assignments, "FHRP group assignments", key, [d["id"] for d in found]):
                        group_ids.add(int(a["group"]["id"]))
            if not group_ids:
                raw_groups = []
            elif group_filters:  # both: the site's groups that also carry the tag
                raw_groups = [g for g in self._list(ipam.fhrp_groups, "FHRP groups", **group_filters) if int(g["id"]) in group_ids]
            else:
                raw_groups = self._by_ids(ipam.fhrp_groups, "FHRP groups", "id", group_ids)
        else:
            raw_groups = self._list(ipam.fhrp_groups, "FHRP groups", **group_filters)
        groups = [_group(g) for g in raw_groups]
        by_id = {g.id: g for g in groups}
        assignments = self._by_ids(ipam.fhrp_group_assignments, "FHRP group assignments", "group_id", list(by_id))
        for a in sorted(assignments, key=lambda a: int(a["id"])):
            member = _member(a)
            group = by_id.get(int(a["group"]["id"]))
            if member is not None and group is not None:
                group.members.append(member)
        wanted_dev = {m.device_id for g in groups for m in g.members if not m.vm}
        wanted_vm = {m.device_id for g in groups for m in g.members if m.vm}
        devices: dict[tuple[bool, int], NbDevice] = {}
        for d in self._by_ids(self.api.dcim.devices, "devices", "id", wanted_dev):
            devices[(False, int(d["id"]))] = _device(d, vm=False)
        for d in self._by_ids(self.api.virtualization.virtual_machines, "virtual machines", "id", wanted_vm):
            devices[(True, int(d["id"]))] = _device(d, vm=True)
        ips: dict[tuple[bool, int], list[tuple[str, str | None]]] = {}
        for vm, key in ((False, "interface_id"), (True, "vminterface_id")):
            itf_ids = {m.interface_id for g in groups for m in g.members if m.vm == vm}
            for ip in self._by_ids(ipam.ip_addresses, "IP addresses", key, itf_ids):
                if ip.get("assigned_object_id") is None:
                    continue
                ips.setdefault((vm, int(ip["assigned_object_id"])), []).append((str(ip["address"]), _value(ip.get("role"))))
        return NetboxData(url=self.url, groups=groups, devices=devices, interface_ips=ips, filters=filters)


def _reason(exc: Exception) -> str:
    text = str(exc)
    m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if m:
        return m.group(1).strip().lower()
    for hint in ("Name or service not known", "Connection refused", "timed out", "No route to host"):
        if hint.lower() in text.lower():
            return hint.lower()
    return type(exc).__name__


def _group(g: Mapping[str, Any]) -> NbGroup:
    vips = []
    for ip in g.get("ip_addresses") or []:
        if isinstance(ip, dict) and ip.get("address"):
            ipaddress.ip_interface(str(ip["address"]))  # a ValueError here: not NetBox's shape
            vips.append(str(ip["address"]))
    custom = (g.get("custom_fields") or {}).get(CUSTOM_FIELD)
    if isinstance(custom, str) and custom.strip():  # a text custom field holding JSON
        try:
            custom = json.loads(custom)
        except ValueError:
            pass  # reported as "not a JSON object" when the group is built
    elif isinstance(custom, str):
        custom = None
    return NbGroup(id=int(g["id"]), name=str(g.get("name") or ""), protocol=str(_value(g.get("protocol")) or ""),
                   group_id=int(g.get("group_id") or 0), description=str(g.get("description") or ""), vips=vips,
                   custom=custom)


def _member(a: Mapping[str, Any]) -> NbMember | None:
    itf = a.get("interface")
    if not isinstance(itf, dict):
        return None
    vm = a.get("interface_type") == "virtualization.vminterface"
    owner = itf.get("virtual_machine") if vm else itf.get("device")
    if not isinstance(owner, dict):
        return None
    return NbMember(device=str(owner.get("name")), device_id=int(owner["id"]), vm=vm, interface=str(itf.get("name")),
                    interface_id=int(itf["id"]), priority=int(a.get("priority") or 0))


def _device(d: Mapping[str, Any], vm: bool) -> NbDevice:
    platform = d.get("platform")
    primary = d.get("primary_ip4") or d.get("primary_ip")
    address = primary.get("address") if isinstance(primary, dict) else None
    return NbDevice(id=int(d["id"]), vm=vm, name=str(d.get("name") or f"unnamed-{d['id']}"),
                    platform=(platform.get("slug") or platform.get("name")) if isinstance(platform, dict) else None,
                    primary_ip=str(address).split("/")[0] if address else None,
                    config_context=d.get("config_context"), description=str(d.get("description") or ""))


# -- building the inventory ----------------------------------------------------------------------------

def netha_name(text: str) -> str:
    """A netha name for a NetBox name: runs of anything but letters, digits, ``_ . -`` become ``-``."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.strip()).strip("-._")
    return name[:63]


@dataclass
class Skipped:
    group: str  # NetBox's label
    reason: str

    def line(self) -> str:
        return f"{self.group}: skipped: {self.reason}"


@dataclass
class Built:
    """The inventory document, what was left out and why, and the problems that forbid writing it."""

    document: dict[str, Any]
    skipped: list[Skipped]
    device_problems: dict[str, str]  # device name -> problem (unknown platform, no address)
    netbox_ids: dict[str, int]  # netha group name -> NetBox FHRP group id
    platforms: dict[str, str | None]  # device name -> netha platform (None: unmapped)
    hosts: dict[str, str | None]
    notes: list[str] = field(default_factory=list)  # overlay entries that matched nothing, and the like


def _validation_lines(model: type[BaseModel], value: Any) -> list[str]:
    try:
        model.model_validate(value)
    except ValidationError as exc:
        return [msg for _loc, msg in _pydantic_problems(exc)]
    return []


def _context_tracks(dev: NbDevice, group_name: str) -> tuple[list[dict[str, Any]], list[str]]:
    ctx = dev.config_context.get(CONTEXT_KEY) if isinstance(dev.config_context, dict) else None
    if ctx is None:
        return [], []
    if not isinstance(ctx, dict):
        return [], [f"config context {CONTEXT_KEY!r} of {dev.label} is not a mapping"]
    items = list(ctx.get("track") or [])
    per_group = ctx.get("groups") or {}
    if isinstance(per_group, dict) and isinstance(per_group.get(group_name), dict):
        items += list(per_group[group_name].get("track") or [])
    tracks, problems = [], []
    for i, item in enumerate(items):
        item = {**item, "device": dev.name} if isinstance(item, dict) else item
        lines = _validation_lines(Track, item)
        if lines:
            problems.append(f"config context {CONTEXT_KEY!r} of {dev.label}: track {i}: {lines[0]}")
        else:
            tracks.append(item)
    return tracks, problems


def _track_key(t: Mapping[str, Any]) -> tuple[str, str | None]:
    return (Track.model_validate(t).key, t.get("device"))


def _merge_tracks(base: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``extra`` (the overlay) replaces a tracked object of ``base`` with the same key and device, adds the others."""
    out = {_track_key(t): t for t in base}
    for t in extra:
        out[_track_key(t)] = t
    return list(out.values())


def _member_address(data: NetboxData, m: NbMember, vip: ipaddress.IPv4Interface) -> ipaddress.IPv4Interface | None:
    for address, role in data.interface_ips.get((m.vm, m.interface_id), []):
        try:
            ip = ipaddress.ip_interface(address)
        except ValueError:
            continue
        if not isinstance(ip, ipaddress.IPv4Interface) or role in VIRTUAL_ROLES or ip.ip == vip.ip:
            continue
        if vip.ip in ip.network:
            return ip
    return None


def build(data: NetboxData, overlay: Overlay | None = None, platforms: Mapping[str, Collection[str]] | None = None) -> Built:
    """The inventory NetBox describes (plus the overlay). Pure: no I/O."""
    overlay = overlay or Overlay()
    raw = overlay.raw
    skipped: list[Skipped] = []
    groups: dict[str, dict[str, Any]] = {}
    netbox_ids: dict[str, int] = {}
    used: dict[str, NbDevice] = {}
    clashes: list[tuple[str, str]] = []
    for g, name, mapped in _named_groups(data):
        if mapped is None:
            skipped.append(Skipped(g.label, f"netha manages VRRPv2, VRRPv3 and HSRP groups, not {PROTOCOL_LABELS.get(g.protocol, g.protocol)}"))
            continue
        if not g.members:
            skipped.append(Skipped(g.label, "no interface is assigned to it"))
            continue
        v4 = [ipaddress.ip_interface(v) for v in g.vips if ipaddress.ip_interface(v).version == 4]
        if not v4:
            what = "only IPv6 virtual addresses" if g.vips else "no virtual address"
            skipped.append(Skipped(g.label, f"{what} (netha manages IPv4 groups; give the group its VIP in NetBox)"))
            continue
        bad = [m for m in g.members if not 1 <= m.priority <= 253]
        if bad:
            skipped.append(Skipped(g.label, f"priority {bad[0].priority} on {bad[0].device} (netha needs 1-253: 254 and 255 "
                                            "are netha's takeover priority and the address owner's)"))
            continue
        missing = [m for m in g.members if (m.vm, m.device_id) not in data.devices]
        if missing:
            skipped.append(Skipped(g.label, f"member {missing[0].device} was not found in NetBox"))
            continue
        members = sorted(g.members, key=lambda m: (-m.priority, m.device))
        interfaces = [m.interface for m in members]
        common = max(set(interfaces), key=lambda i: (interfaces.count(i), i == interfaces[0]))
        addresses = {m.device: _member_address(data, m, v4[0]) for m in members}
        # A VIP written as a host address (/32) takes the subnet of the members' own addresses.
        vips = []
        for vip in v4:
            own = next((a for a in addresses.values() if a is not None and vip.ip in a.network), None)
            vips.append(f"{vip.ip}/{own.network.prefixlen}" if vip.network.prefixlen == 32 and own else str(vip))
        doc: dict[str, Any] = {}
        if g.description:
            doc["description"] = g.description
        doc.update({**mapped, "vrid": g.group_id, "interface": common, "virtual_addresses": vips})
        doc["members"] = []
        for m in members:
            md: dict[str, Any] = {"device": netha_name(m.device), "priority": m.priority}
            if m.interface != common:
                md["interface"] = m.interface
            if addresses[m.device] is not None:
                md["address"] = str(addresses[m.device])
            doc["members"].append(md)
        problems: list[str] = []
        tracks: list[dict[str, Any]] = []
        if g.custom is not None:
            custom_problems = _validation_lines(OverlayGroup, g.custom) if isinstance(g.custom, dict) else ["not a JSON object"]
            if custom_problems:
                problems.append(f"custom field {CUSTOM_FIELD!r}: {custom_problems[0]}")
            else:
                for key in ("policy", "advert_interval", "preempt", "description"):
                    if g.custom.get(key) is not None:
                        doc[key] = g.custom[key]
                tracks += list(g.custom.get("track") or [])
        for m in members:
            ctx_tracks, ctx_problems = _context_tracks(data.devices[(m.vm, m.device_id)], name)
            tracks += [{**t, "device": netha_name(m.device)} for t in ctx_tracks]
            problems += ctx_problems
        local = raw.get("groups", {}).get(name) if isinstance(raw.get("groups"), dict) else None
        if isinstance(local, dict):
            for key in ("policy", "advert_interval", "preempt", "description"):
                if local.get(key) is not None:
                    doc[key] = local[key]
            tracks = _merge_tracks(tracks, list(local.get("track") or []))
        if tracks:
            doc["track"] = tracks
        if problems:
            skipped.append(Skipped(g.label, problems[0]))
            continue
        lines = _validation_lines(Group, doc)
        if lines:
            skipped.append(Skipped(g.label, lines[0]))
            continue
        groups[name] = doc
        netbox_ids[name] = g.id
        for m in members:
            nb_dev = data.devices[(m.vm, m.device_id)]
            other = used.setdefault(netha_name(m.device), nb_dev)
            if other is not nb_dev:
                clashes.append((netha_name(m.device), f"{other.label} and {nb_dev.label} both become the netha "
                                                      f"device {netha_name(m.device)!r}: rename one in NetBox"))

    # devices
    device_problems: dict[str, str] = {}
    platforms_of: dict[str, str | None] = {}
    hosts: dict[str, str | None] = {}
    devices: dict[str, dict[str, Any]] = {}
    credentials = raw.get("credentials") if isinstance(raw.get("credentials"), dict) and raw.get("credentials") else None
    dflt = raw.get("device_defaults") if isinstance(raw.get("device_defaults"), dict) else {}
    for name in sorted(used):
        nb = used[name]
        local = (raw.get("devices") or {}).get(name) or {}
        slug = local.get("platform") or nb.platform
        platform: str | None = None
        if not slug:
            device_problems[name] = f"{nb.label} has no platform in NetBox (set one, or give devices.{name}.platform in the overlay)"
        else:
            try:
                platform = map_platform(str(slug), platforms, overlay.platforms)
            except PlatformUnknown as exc:
                device_problems[name] = f"{nb.label}: {exc} (the overlay's `platforms:` maps a NetBox slug)"
        platforms_of[name] = platform
        host = local.get("host") or nb.primary_ip
        hosts[name] = str(host) if host else None
        if not host:
            device_problems.setdefault(name, f"{nb.label} has no primary IPv4 address in NetBox (set one, or give "
                                             f"devices.{name}.host in the overlay)")
        dev: dict[str, Any] = {"host": str(host) if host else None, "platform": platform,
                               "credentials": local.get("credentials") or dflt.get("credentials") or DEFAULT_CREDENTIALS}
        for key in ("shell", "snmp", "ssh"):
            value = local.get(key) or dflt.get(key)
            if value:
                dev[key] = value
        description = local.get("description") or nb.description
        if description:
            dev["description"] = description
        devices[name] = dev

    document: dict[str, Any] = {}
    for key in ("controller", "defaults"):
        if raw.get(key):
            document[key] = raw[key]
    if credentials is None:
        credentials = {DEFAULT_CREDENTIALS: DEFAULT_CREDENTIAL_DOC} if any(
            d["credentials"] == DEFAULT_CREDENTIALS for d in devices.values()) else {}
    document["credentials"] = credentials
    if raw.get("snmp"):
        document["snmp"] = raw["snmp"]
    document["devices"] = devices
    document["groups"] = groups
    for name, text in clashes:
        device_problems[name] = text
    notes = [f"overlay groups.{name}: no such group was imported from NetBox" for name in overlay.groups
             if name not in groups]
    notes += [f"overlay devices.{name}: no such device is a member of an imported group" for name in overlay.devices
              if name not in devices]
    built = Built(document=document, skipped=skipped, device_problems=device_problems, netbox_ids=netbox_ids,
                  platforms=platforms_of, hosts=hosts, notes=notes)
    if not device_problems:
        _drop_groups_the_inventory_refuses(built, data, platforms)
    return built


def _drop_groups_the_inventory_refuses(built: Built, data: NetboxData, platforms: Mapping[str, Collection[str]] | None) -> None:
    """Skip each group the inventory's cross-checks refuse (a platform without HSRP, a VIP that is a member's
    own address, two members at the top priority...), so that what is written always validates."""
    labels = {g.id: g.label for g in data.groups}
    for _ in range(len(built.document["groups"]) + 1):
        try:
            inv = Inventory.model_validate(built.document)
        except ValidationError as exc:
            refused = {loc[1] for loc, _msg in _pydantic_problems(exc) if len(loc) > 1 and loc[0] == "groups"}
            msgs = {loc[1]: msg for loc, msg in _pydantic_problems(exc) if len(loc) > 1 and loc[0] == "groups"}
            if not refused:
                return  # not a group's problem: the final validation reports it
        else:
            msgs = {}
            for loc, msg in [*_cross_checks(inv), *_platform_problems(inv, platforms)]:
                if len(loc) > 1 and loc[0] == "groups":
                    msgs.setdefault(str(loc[1]), msg)
            refused = set(msgs)
            if not refused:
                return
        for name in refused:
            built.skipped.append(Skipped(labels.get(built.netbox_ids.get(str(name), -1), str(name)), msgs[name]))
            built.document["groups"].pop(name, None)
            built.netbox_ids.pop(str(name), None)
        members = {m["device"] for g in built.document["groups"].values() for m in g["members"]}
        built.document["devices"] = {k: v for k, v in built.document["devices"].items() if k in members}


class _Dumper(yaml.SafeDumper):
    """Small mappings of plain values on one line (``{device: r1, priority: 200}``), as inventories are written by hand."""

    def represent_dict(self, data: Any) -> Any:  # type: ignore[override]
        node = super().represent_dict(data)
        flat = all(isinstance(v, (str, int, float, bool)) or v is None for v in data.values())
        if flat and 0 < len(data) <= 5 and sum(len(str(k)) + len(str(v)) + 4 for k, v in data.items()) <= 100:
            node.flow_style = True
        return node

    def ignore_aliases(self, data: Any) -> bool:
        return True  # the same dict twice is written twice, never as an anchor and alias


_Dumper.add_representer(dict, _Dumper.represent_dict)


def _dump(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)


def render(built: Built, data: NetboxData, overlay_path: Path | None = None) -> str:
    """The inventory's YAML text, with a header saying where it came from and what was left out. The same
    NetBox gives the same text (no timestamp): an import can be committed and re-run in CI, and `git diff` shows
    what changed in NetBox."""
    filt = " ".join(f"{k}={v}" for k, vs in sorted(data.filters.items()) for v in vs)
    lines = [
        f"{HEADER} from {shown_url(data.url)}{' (' + filt + ')' if filt else ''}.",
        "# Do not edit: import again. Local settings (credentials, SNMP, tracks, policies) belong in "
        + (f"the overlay {overlay_path}." if overlay_path else "an overlay file (--overlay, docs/netbox.md)."),
    ]
    if built.document["credentials"].get(DEFAULT_CREDENTIALS) == DEFAULT_CREDENTIAL_DOC:
        lines.append(f"# Credentials: {DEFAULT_CREDENTIALS} reads NETHA_USERNAME and NETHA_PASSWORD; the overlay's "
                     "`credentials:` replaces it.")
    for s in built.skipped:
        lines.append(f"# Skipped {one_line(s.line(), 300)}")
    out = "\n".join(lines) + "\n\n"
    doc = built.document
    for key in ("controller", "defaults", "credentials", "snmp", "devices"):
        if key in doc:
            out += _dump({key: doc[key]})
    out += "groups:" + (" {}\n" if not doc["groups"] else "\n")
    for name, group in doc["groups"].items():
        out += f"  # NetBox FHRP group {built.netbox_ids[name]}\n"
        text = _dump({name: group})
        out += "".join(f"  {line}\n" for line in text.splitlines())
    return out


def check_written(text: str, path: Path, platforms: Mapping[str, Collection[str]] | None) -> None:
    """The written text is an inventory ``netha validate`` accepts (secrets aside: they are the operator's)."""
    data = yaml.safe_load(text)
    validate_document(LocatedDocument(path=path, data=data), check_secrets=False, platforms=platforms)


# -- drift ------------------------------------------------------------------------------------------------

@dataclass
class Difference:
    kind: str
    group: str | None
    device: str | None
    inventory: Any
    netbox: Any
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "group": self.group, "device": self.device, "inventory": self.inventory,
                "netbox": self.netbox, "message": self.message}


@dataclass
class _View:
    name: str
    protocol: str
    version: int | None
    vrid: int | None
    vips: tuple[str, ...]
    members: dict[str, tuple[int, str]]  # device -> (priority, interface)
    label: str


def _inventory_views(inv: Inventory) -> list[_View]:
    out = []
    for name, g in inv.groups.items():
        if g.mode != "vrrp":
            continue  # NetBox has no model for a static gateway move
        out.append(_View(
            name=name, protocol=g.protocol, version=g.version if g.protocol == "vrrp" else None, vrid=g.vrid,
            vips=tuple(sorted(str(v.ip) for v in g.virtual_addresses)),
            members={m.device: (m.priority, m.interface or g.interface) for m in g.members}, label=f"group {name}",
        ))
    return out


def _named_groups(data: NetboxData) -> Iterator[tuple[Any, str, dict[str, Any] | None]]:
    """NetBox's FHRP groups in id order, each with its netha name (unique: a clash takes the NetBox id)
    and netha's protocol mapping (None: a protocol netha does not manage). The import and the drift
    check name groups the same way."""
    taken: set[str] = set()
    for g in sorted(data.groups, key=lambda g: g.id):
        base = netha_name(g.name) or f"{g.protocol}-{g.group_id}"
        name = base if base not in taken else f"{base}-{g.id}"
        taken.add(name)
        yield g, name, PROTOCOLS.get(g.protocol)


def _netbox_views(data: NetboxData) -> tuple[list[_View], list[Skipped]]:
    out, skipped = [], []
    for g, name, mapped in _named_groups(data):
        if mapped is None:
            skipped.append(Skipped(g.label, f"netha does not manage {PROTOCOL_LABELS.get(g.protocol, g.protocol)}"))
            continue
        vips = tuple(sorted(str(ipaddress.ip_interface(v).ip) for v in g.vips if ipaddress.ip_interface(v).version == 4))
        out.append(_View(
            name=name, protocol=mapped["protocol"], version=mapped.get("version"), vrid=g.group_id, vips=vips,
            members={netha_name(m.device): (m.priority, m.interface) for m in g.members}, label=g.label,
        ))
    return out, skipped


def _pair(inv_views: list[_View], nb_views: list[_View]) -> tuple[list[tuple[_View, _View]], list[_View], list[_View]]:
    pairs = []
    nb_left = {v.name: v for v in nb_views}
    inv_left = []
    for v in inv_views:
        if v.name in nb_left:
            pairs.append((v, nb_left.pop(v.name)))
        else:
            inv_left.append(v)
    still = []
    for v in inv_left:  # a group named differently: the same protocol and VRID, and a shared VIP or the same members
        match = next((n for n in nb_left.values() if n.protocol == v.protocol and n.vrid == v.vrid
                      and (set(n.vips) & set(v.vips) or set(n.members) == set(v.members))), None)
        if match is None:
            still.append(v)
        else:
            pairs.append((v, nb_left.pop(match.name)))
    return pairs, still, list(nb_left.values())


def diff(inv: Inventory, data: NetboxData, overlay: Overlay | None = None,
         platforms: Mapping[str, Collection[str]] | None = None) -> tuple[list[Difference], list[Skipped]]:
    """Where the inventory and NetBox disagree: groups on one side only, protocol/VRID, virtual addresses,
    members, priorities, interfaces; and the platform and management address of the devices both know."""
    overlay = overlay or Overlay()
    nb_views, skipped = _netbox_views(data)
    pairs, only_inv, only_nb = _pair(_inventory_views(inv), nb_views)
    out: list[Difference] = []
    for v in only_nb:
        out.append(Difference("group_missing_in_inventory", v.name, None, None, v.label,
                              f"{v.label} is not in the inventory"))
    for v in only_inv:
        out.append(Difference("group_missing_in_netbox", v.name, None, v.label, None,
                              f"group {v.name} (VRID {v.vrid}) is not in NetBox"))
    for iv, nv in pairs:
        g = iv.name
        if (iv.protocol, iv.version) != (nv.protocol, nv.version):
            show = lambda v: f"{v.protocol}{'v' + str(v.version) if v.version else ''}"  # noqa: E731
            out.append(Difference("protocol", g, None, show(iv), show(nv),
                                  f"group {g}: protocol {show(iv)} in the inventory, {show(nv)} in NetBox"))
        if iv.vrid != nv.vrid:
            out.append(Difference("vrid", g, None, iv.vrid, nv.vrid,
                                  f"group {g}: VRID {iv.vrid} in the inventory, group ID {nv.vrid} in NetBox"))
        if iv.vips != nv.vips:
            out.append(Difference("virtual_addresses", g, None, list(iv.vips), list(nv.vips),
                                  f"group {g}: virtual addresses {', '.join(iv.vips) or 'none'} in the inventory, "
                                  f"{', '.join(nv.vips) or 'none'} in NetBox"))
        for dev in sorted(set(nv.members) - set(iv.members)):
            out.append(Difference("member_missing_in_inventory", g, dev, None, nv.members[dev][0],
                                  f"group {g}: {dev} (priority {nv.members[dev][0]}) is a member in NetBox only"))
        for dev in sorted(set(iv.members) - set(nv.members)):
            out.append(Difference("member_missing_in_netbox", g, dev, iv.members[dev][0], None,
                                  f"group {g}: {dev} is a member in the inventory only"))
        for dev in sorted(set(iv.members) & set(nv.members)):
            (ip, ii), (np_, ni) = iv.members[dev], nv.members[dev]
            if ip != np_:
                out.append(Difference("priority", g, dev, ip, np_,
                                      f"group {g}: {dev} priority {ip} in the inventory, {np_} in NetBox"))
            if ii != ni:
                out.append(Difference("interface", g, dev, ii, ni,
                                      f"group {g}: {dev} on {ii} in the inventory, on {ni} in NetBox"))
    # devices both sides know (members of the compared groups)
    nb_devices = {netha_name(d.name): d for d in data.devices.values()}
    for name in sorted(set(inv.devices) & set(nb_devices)):
        nb, dev = nb_devices[name], inv.devices[name]
        try:
            mapped: str | None = map_platform(nb.platform, platforms, overlay.platforms) if nb.platform else None
            why = "" if mapped else "no platform"
        except PlatformUnknown as exc:
            mapped, why = None, str(exc)
        if mapped != dev.platform:
            shown = mapped or f"{nb.platform or 'none'} ({why})"
            out.append(Difference("platform", None, name, dev.platform, mapped or nb.platform,
                                  f"device {name}: platform {dev.platform} in the inventory, {shown} in NetBox"))
        try:
            inv_ip = str(ipaddress.ip_address(str(dev.host)))
        except ValueError:
            continue  # a DNS name: not comparable with NetBox's primary address
        if nb.primary_ip and nb.primary_ip != inv_ip:
            out.append(Difference("host", None, name, inv_ip, nb.primary_ip,
                                  f"device {name}: address {inv_ip} in the inventory, primary IP {nb.primary_ip} in NetBox"))
    return out, skipped


def iter_lines(diffs: Iterable[Difference]) -> Iterator[str]:
    for d in diffs:
        yield d.message
