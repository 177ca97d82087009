"""Devices from a Nornir SimpleInventory (``hosts.yaml``, ``groups.yaml``, ``defaults.yaml``).

A netha inventory may say::

    devices_from:
      nornir:
        hosts: nornir/hosts.yaml        # groups.yaml / defaults.yaml beside it are read when present
        credentials: netops             # netha credentials (secret references) for these hosts

and its groups then name Nornir hosts as members. The files are read the way Nornir's
SimpleInventory reads them (nornir/plugins/inventory/simple.py, nornir/core/inventory.py), without
Nornir: a host's ``hostname``, ``port``, ``username``, ``platform`` are its own, else its groups'
(depth first, in order, each group once: Nornir's ``extended_groups``), else the defaults'; its
``data`` keys likewise, key by key. Nornir is not needed at run time.

Passwords: a password in a Nornir file is a secret in a file (usually in git). netha refuses one
(``file:line``) unless the block says ``passwords: ignore``; it never uses it either way: the
credentials named in the block (``{env: ...}`` / ``{file: ...}`` references) hold netha's secrets.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator

from ..errors import InventoryError
from .model import FilePath, Name
from .platform_map import PlatformUnknown, map_platform
from .yamlpos import LocatedDocument, Loc, load_located, one_line

ATTRIBUTES = ("hostname", "port", "username", "password", "platform")
# What a host's `data: {netha: {...}}` may set for netha.
NETHA_DATA_KEYS = ("credentials", "snmp", "shell", "platform", "description")


class NornirSource(BaseModel):
    """``devices_from.nornir``: where the SimpleInventory is and what netha adds to its hosts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hosts: FilePath | None = None       # hosts.yaml; or `config:`
    config: FilePath | None = None      # Nornir's config.yaml: its inventory.options name the three files
    groups: FilePath | None = None      # default: groups.yaml beside hosts, when present
    defaults: FilePath | None = None    # default: defaults.yaml beside hosts, when present
    credentials: Name | None = None     # netha credentials of every host (or the host's data.netha.credentials)
    snmp: Name | None = None
    shell: Name | None = None
    # Nornir platform -> netha platform, for names netutils does not map (e.g. {ios-xe-9k: cisco_xe}).
    platforms: dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], str] = {}
    # Hosts netha takes besides its groups' members: host names or Nornir group names (globs).
    include: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] = []
    passwords: Literal["refuse", "ignore"] = "refuse"


    @model_validator(mode="after")
    def _one_source(self) -> NornirSource:
        if (self.hosts is None) == (self.config is None):
            raise ValueError("give `hosts` (Nornir's hosts.yaml) or `config` (Nornir's config.yaml), not both")
        if self.config is not None and (self.groups is not None or self.defaults is not None):
            raise ValueError("with `config`, Nornir's config.yaml names the groups and defaults files")
        return self


class DevicesFrom(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    nornir: NornirSource


@dataclass
class _Element:
    """A host, a group or the defaults, as written, with where it was written."""

    name: str
    kind: str  # "host", "group", "defaults"
    doc: LocatedDocument
    loc: Loc
    attrs: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    parents: list[str] = field(default_factory=list)

    def where(self, *sub: str | int) -> str:
        return self.doc.where(self.loc + tuple(sub))

    @property
    def label(self) -> str:
        return "defaults" if self.kind == "defaults" else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class NornirHost:
    """One host with Nornir's inheritance resolved. ``where`` maps ``""`` (the host's entry), an
    attribute name, or ``data.KEY`` to the ``file:line`` its value came from."""

    name: str
    hostname: str | None
    port: int | None
    username: str | None
    platform: str | None
    data: dict[str, Any]
    groups: tuple[str, ...]
    where: dict[str, str]


def _read(path: Path, what: str, required: bool) -> LocatedDocument | None:
    if not required and not path.exists():
        return None
    doc = load_located(path)
    if doc.data is not None and not isinstance(doc.data, dict):
        raise InventoryError([f"{path}:1: a Nornir {what} file must be a mapping of names to settings"])
    return doc


def _parse(doc: LocatedDocument, name: str, loc: Loc, kind: str, raw: Any, problems: list[str]) -> _Element:
    el = _Element(name=name, kind=kind, doc=doc, loc=loc)
    if raw is None:
        return el
    if not isinstance(raw, dict):
        problems.append(f"{doc.where(loc)}: {el.label}: expected a mapping of settings, not {type(raw).__name__}")
        return el
    for attr in ATTRIBUTES:
        value = raw.get(attr)
        if value is None:
            continue
        if attr == "port":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
                problems.append(f"{el.where(attr)}: {el.label}: port must be a number 1-65535, not {one_line(repr(value), 40)}")
                continue
        elif attr == "password":
            value = str(value)  # never echoed
        elif not isinstance(value, str):
            problems.append(f"{el.where(attr)}: {el.label}: {attr} must be a string, not {one_line(repr(value), 60)}")
            continue
        el.attrs[attr] = value
    data = raw.get("data")
    if data is not None and not isinstance(data, dict):
        problems.append(f"{el.where('data')}: {el.label}: data must be a mapping")
    elif data:
        el.data = dict(data)
    parents = raw.get("groups")
    if kind != "defaults" and parents is not None:
        if not isinstance(parents, list) or not all(isinstance(g, str) for g in parents):
            problems.append(f"{el.where('groups')}: {el.label}: groups must be a list of group names")
        else:
            el.parents = list(parents)
    return el


def _password_problems(elements: Iterable[_Element], raws: Iterable[Any]) -> list[str]:
    """Every non-empty password, also under connection_options (never quoting it)."""
    problems = []
    for el, raw in zip(elements, raws):
        if not isinstance(raw, dict):
            continue
        spots: list[Loc] = []
        if raw.get("password") not in (None, ""):
            spots.append(("password",))
        options = raw.get("connection_options")
        if isinstance(options, dict):
            for cname, opts in options.items():
                if isinstance(opts, dict) and opts.get("password") not in (None, ""):
                    spots.append(("connection_options", cname, "password"))
        for spot in spots:
            problems.append(
                f"{el.where(*spot)}: {el.label}: a password in a Nornir file is a secret in a file, which netha "
                "refuses: remove it (Nornir can take it from the environment) and give netha the credentials "
                "by reference (devices_from.nornir.credentials), or set `passwords: ignore` to leave it unused"
            )
    return problems


def load_simple_inventory(
    hosts: Path, groups: Path | None = None, defaults: Path | None = None, passwords: str = "refuse",
    groups_required: bool = False, defaults_required: bool = False,
) -> dict[str, NornirHost]:
    """The hosts of a SimpleInventory, inheritance resolved. Raises InventoryError (``file:line``)."""
    problems: list[str] = []
    hdoc = _read(hosts, "hosts", True)
    gdoc = _read(groups, "groups", groups_required) if groups is not None else None
    ddoc = _read(defaults, "defaults", defaults_required) if defaults is not None else None
    assert hdoc is not None

    defaults_el = _Element(name="defaults", kind="defaults", doc=ddoc or hdoc, loc=())
    raws: list[tuple[_Element, Any]] = []
    if ddoc is not None and ddoc.data:
        defaults_el = _parse(ddoc, "defaults", (), "defaults", ddoc.data, problems)
        raws.append((defaults_el, ddoc.data))
    group_els: dict[str, _Element] = {}
    for gname, raw in ((gdoc.data or {}) if gdoc else {}).items():
        assert gdoc is not None
        group_els[str(gname)] = el = _parse(gdoc, str(gname), (gname,), "group", raw, problems)
        raws.append((el, raw))
    host_els: dict[str, _Element] = {}
    for hname, raw in (hdoc.data or {}).items():
        host_els[str(hname)] = el = _parse(hdoc, str(hname), (hname,), "host", raw, problems)
        raws.append((el, raw))
    if passwords == "refuse":
        problems += _password_problems([e for e, _ in raws], [r for _, r in raws])

    known = ", ".join(sorted(group_els)) or "none"
    for el in [*group_els.values(), *host_els.values()]:
        for i, parent in enumerate(el.parents):
            if parent not in group_els:
                problems.append(f"{el.where('groups', i)}: {el.label}: unknown Nornir group {parent!r} (groups: {one_line(known, 120)})")
    if problems:
        raise InventoryError(problems)

    def extended(el: _Element, path: tuple[str, ...]) -> list[_Element]:
        out: list[_Element] = []
        for parent in el.parents:
            if parent in path:
                raise InventoryError([f"{el.where('groups')}: {el.label}: group {parent!r} is its own ancestor (a cycle)"])
            g = group_els[parent]
            for sg in [g, *extended(g, path + (parent,))]:
                if sg not in out:
                    out.append(sg)
        return out

    result: dict[str, NornirHost] = {}
    for hname, el in host_els.items():
        chain = [el, *extended(el, ())]
        where = {"": el.where()}
        resolved: dict[str, Any] = {}
        for attr in ("hostname", "port", "username", "platform"):
            for src in [*chain, defaults_el]:
                if src.attrs.get(attr) is not None:
                    resolved[attr] = src.attrs[attr]
                    where[attr] = src.where(attr)
                    break
        data: dict[str, Any] = {}
        for src in [*chain, defaults_el]:
            for key, value in src.data.items():
                if key not in data:
                    data[key] = value
                    where[f"data.{key}"] = src.where("data", key)
        result[hname] = NornirHost(
            name=hname, hostname=resolved.get("hostname"), port=resolved.get("port"),
            username=resolved.get("username"), platform=resolved.get("platform"), data=data,
            groups=tuple(g.name for g in chain[1:]), where=where,
        )
    return result


def read_nornir_config(path: Path) -> tuple[Path, Path, Path]:
    """The hosts, groups and defaults files a Nornir config.yaml names (``inventory.options``; Nornir's
    defaults hosts.yaml, groups.yaml, defaults.yaml), relative to the config file's folder."""
    doc = load_located(path)
    data = doc.data if isinstance(doc.data, dict) else {}
    if doc.data is not None and not isinstance(doc.data, dict):
        raise InventoryError([f"{path}:1: a Nornir config file must be a mapping (inventory, runner ...)"])
    inventory = data.get("inventory") or {}
    if not isinstance(inventory, dict):
        raise InventoryError([f"{doc.where(('inventory',))}: inventory must be a mapping"])
    plugin = inventory.get("plugin", "SimpleInventory")
    if plugin != "SimpleInventory":
        raise InventoryError([
            f"{doc.where(('inventory', 'plugin'))}: inventory plugin {one_line(repr(plugin), 60)}: netha reads "
            "SimpleInventory files only (hosts.yaml, groups.yaml, defaults.yaml)"
        ])
    options = inventory.get("options") or {}
    if not isinstance(options, dict):
        raise InventoryError([f"{doc.where(('inventory', 'options'))}: inventory.options must be a mapping"])
    files = []
    for key, default in (("host_file", "hosts.yaml"), ("group_file", "groups.yaml"), ("defaults_file", "defaults.yaml")):
        value = options.get(key, default)
        if not isinstance(value, str) or not value:
            raise InventoryError([f"{doc.where(('inventory', 'options', key))}: {key} must be a file name"])
        file = Path(value).expanduser()
        files.append(file if file.is_absolute() else path.parent / file)
    return files[0], files[1], files[2]


# -- the netha side: devices_from.nornir -> devices ----------------------------------------------------


def _member_names(data: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    groups = data.get("groups")
    if not isinstance(groups, dict):
        return names
    for group in groups.values():
        members = group.get("members") if isinstance(group, dict) else None
        for m in members if isinstance(members, list) else []:
            if isinstance(m, dict) and isinstance(m.get("device"), str) and m["device"] not in names:
                names.append(m["device"])
    return names


def _credential_name(base: str, username: str) -> str:
    return f"{base}.{re.sub(r'[^A-Za-z0-9_.-]', '_', username)}"[:63]


def expand_devices_from(
    doc: LocatedDocument, platforms: Collection[str] | None = None,
) -> tuple[dict[str, Any], dict[Loc, str]]:
    """The inventory's data with the Nornir hosts it uses merged into ``devices``, and where each
    merged value came from (``loc -> file:line``) so that a problem in one names the Nornir file."""
    from .loader import _pydantic_problems  # the loader imports this module lazily

    data = dict(doc.data)
    try:
        spec = DevicesFrom.model_validate(data.get("devices_from"), context={"base_dir": doc.path.parent})
    except ValidationError as exc:
        raise InventoryError([
            f"{doc.where(('devices_from', *loc))}: devices_from{'.' if loc else ': '}{msg}"
            for loc, msg in _pydantic_problems(exc)
        ]) from None
    src = spec.nornir
    block = ("devices_from", "nornir")
    if src.config is not None:
        hosts_file, groups, defaults = read_nornir_config(src.config)
        groups_required = defaults_required = False  # Nornir skips a missing groups or defaults file
    else:
        assert src.hosts is not None
        hosts_file = src.hosts
        groups = src.groups or src.hosts.parent / "groups.yaml"
        defaults = src.defaults or src.hosts.parent / "defaults.yaml"
        groups_required, defaults_required = src.groups is not None, src.defaults is not None
    hosts = load_simple_inventory(
        hosts_file, groups, defaults, passwords=src.passwords,
        groups_required=groups_required, defaults_required=defaults_required,
    )

    explicit = data.get("devices") if isinstance(data.get("devices"), dict) else {}
    wanted = [n for n in _member_names(data) if n in hosts]
    for pattern in src.include:
        for name, host in hosts.items():
            if name not in wanted and (fnmatch.fnmatchcase(name, pattern) or any(fnmatch.fnmatchcase(g, pattern) for g in host.groups)):
                wanted.append(name)
    problems: list[str] = []
    for name in wanted:
        if name in explicit:
            problems.append(
                f"{doc.where(('devices', name))}: device {name} is also a Nornir host ({hosts[name].where['']}); "
                "keep one of the two"
            )
    if not wanted and not explicit:
        problems.append(
            f"{doc.where(block)}: devices_from.nornir: no Nornir host is used: name hosts of {hosts_file.name} "
            "as group members, or list them in `include`"
        )
    if problems:
        raise InventoryError(problems)

    credentials = dict(data.get("credentials") or {}) if isinstance(data.get("credentials"), dict) else {}
    ssh = (data.get("controller") or {}).get("ssh") if isinstance(data.get("controller"), dict) else None
    devices: dict[str, Any] = dict(explicit)
    origins: dict[Loc, str] = {}
    for name in sorted(wanted):
        host = hosts[name]
        where = host.where
        netha = host.data.get("netha") or {}
        if not isinstance(netha, dict):
            problems.append(f"{where['data.netha']}: host {name}: data.netha must be a mapping")
            continue
        for key in netha:
            if key not in NETHA_DATA_KEYS:
                problems.append(f"{where['data.netha']}: host {name}: unknown key {key!r} in data.netha "
                                f"(known: {', '.join(NETHA_DATA_KEYS)})")
        loc: Loc = ("devices", name)
        origins[loc] = where[""]
        dev: dict[str, Any] = {"host": host.hostname or name}
        origins[loc + ("host",)] = where.get("hostname", where[""])

        raw_platform = netha.get("platform") or host.platform
        pwhere = where["data.netha"] if netha.get("platform") else where.get("platform", where[""])
        if not raw_platform:
            problems.append(f"{pwhere}: host {name}: no platform (set `platform:` on the host, a group or the defaults)")
        else:
            try:
                dev["platform"] = map_platform(str(raw_platform), platforms, src.platforms)
            except PlatformUnknown as exc:
                problems.append(f"{pwhere}: host {name}: {exc} (devices_from.nornir.platforms maps a name)")
        origins[loc + ("platform",)] = pwhere

        cred = netha.get("credentials") or src.credentials
        cwhere = where["data.netha"] if netha.get("credentials") else doc.where(block + ("credentials",))
        if not cred:
            problems.append(f"{doc.where(block)}: host {name}: no credentials: set devices_from.nornir.credentials "
                            "(or the host's data.netha.credentials)")
            continue
        base = credentials.get(cred)
        if host.username and isinstance(base, dict) and base.get("username") != host.username:
            derived = _credential_name(str(cred), host.username)
            credentials[derived] = {**base, "username": host.username}
            origins[("credentials", derived)] = where["username"]
            cred = derived
        dev["credentials"] = cred
        origins[loc + ("credentials",)] = cwhere
        for key in ("snmp", "shell"):
            value = netha.get(key) or getattr(src, key)
            if value:
                dev[key] = value
                origins[loc + (key,)] = where["data.netha"] if netha.get(key) else doc.where(block + (key,))
        if netha.get("description"):
            dev["description"] = netha["description"]
        if host.port is not None:
            dev["ssh"] = {**(ssh if isinstance(ssh, dict) else {}), "port": host.port}
            origins[loc + ("ssh",)] = where["port"]
        devices[name] = dev
    if problems:
        raise InventoryError(problems)
    data["devices"] = devices
    if credentials:
        data["credentials"] = credentials
    return data, origins
