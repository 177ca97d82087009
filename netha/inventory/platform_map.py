"""Map a platform name from another tool (a NetBox platform slug, a Nornir ``platform:``) to netha's.

Other tools name platforms their own way: NetBox slugs (``cisco-ios``, ``eos``), NAPALM drivers
(``ios``, ``junos``, ``nxos_ssh``), Netmiko device types (``cisco_xe``), Ansible network OSes
(``cisco.ios.ios``). netutils' ``lib_mapper`` knows how each library spells each platform and maps
them all to one normalised name, which is netha's (``cisco_ios``, ``arista_eos``, ``juniper_junos``...).
netha's own Linux platforms (``frr``, ``keepalived``) are taken as they are.

The inventory sits below the drivers: the caller passes the driver registry (platform -> supported
protocols), as :func:`netha.inventory.load_inventory` takes it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from netutils import lib_mapper

from .loader import NETHA_PLATFORMS

# The mappers tried, in order: each maps a library's spelling to netutils' normalised name.
_MAPPERS: tuple[tuple[str, Mapping[str, str]], ...] = tuple(
    (label, getattr(lib_mapper, attr))
    for label, attr in (
        ("netutils", "MAIN_LIB_MAPPER"),
        ("NAPALM", "NAPALM_LIB_MAPPER"),
        ("Netmiko", "NETMIKO_LIB_MAPPER"),
        ("Ansible", "ANSIBLE_LIB_MAPPER"),
        ("Scrapli", "SCRAPLI_LIB_MAPPER"),
        ("pyATS", "PYATS_LIB_MAPPER"),
        ("pyntc", "PYNTC_LIB_MAPPER"),
        ("ntc-templates", "NTCTEMPLATES_LIB_MAPPER"),
    )
    if hasattr(lib_mapper, attr)
)


class PlatformUnknown(ValueError):
    """The name maps to no platform netha has (or could have) a driver for. str() is one line."""


def _spellings(name: str) -> list[str]:
    low = name.strip().lower()
    snake = "_".join(low.replace("-", " ").replace("_", " ").split())
    out = [name.strip(), low, low.replace("-", "_"), low.replace("_", "-"), snake]
    return list(dict.fromkeys(s for s in out if s))


def map_platform(
    name: str,
    platforms: Collection[str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> str:
    """netha's platform for ``name``, or :class:`PlatformUnknown` saying why not.

    ``overrides``: the operator's own map (exact name, or lower-case, ``-``/``_`` insensitive),
    tried first. ``platforms``: the names netha has drivers for; without it, a name netha or
    netutils knows is accepted.
    """
    known = set(platforms) if platforms is not None else set(NETHA_PLATFORMS) | set(lib_mapper.MAIN_LIB_MAPPER.values())
    for spelling in _spellings(name):
        for key, target in (overrides or {}).items():
            if spelling in _spellings(key):
                if target not in known:
                    raise PlatformUnknown(
                        f"platform {name!r} is mapped to {target!r}, which netha has no driver for "
                        f"(platforms: {', '.join(sorted(known))})"
                    )
                return target
    found: list[tuple[str, str]] = []
    for spelling in _spellings(name):
        if spelling in known:
            return spelling
        for label, mapper in _MAPPERS:
            target = mapper.get(spelling)
            if target is not None:
                if target in known:
                    return target
                found.append((label, target))
    if found:
        label, target = found[0]
        raise PlatformUnknown(
            f"platform {name!r} is {target!r} ({label}), which netha has no driver for "
            f"(platforms: {', '.join(sorted(known))})"
        )
    raise PlatformUnknown(
        f"platform {name!r} is not one netutils or netha knows; map it to one of "
        f"{', '.join(sorted(known))}"
    )
