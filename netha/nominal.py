"""An assessment built from the inventory alone: every member healthy, every primary master.

For ``netha failover --dry-run --offline``: review the exact config a plan would push without
contacting any device (change review, documentation inventories).
"""

from __future__ import annotations

import time

from .health import Assessment, assess
from .inventory import Inventory
from .observe.types import DeviceObservation, ProbeResult, ReachReading, Snapshot, VrrpView


def nominal_assessment(inv: Inventory) -> Assessment:
    now = time.monotonic()
    ok = ProbeResult(True, now)
    devices: dict[str, DeviceObservation] = {}
    for name in inv.devices:
        views: list[VrrpView] = []
        interfaces: dict[str, bool] = {}
        addresses: dict[str, tuple[str, ...]] = {}
        for gname in inv.groups_of(name):
            g = inv.groups[gname]
            iface = g.interface_of(name)
            interfaces[iface] = True
            for t in g.tracks_for(name):
                if t.interface:
                    interfaces[t.interface] = True
            prio = g.member(name).priority
            if g.mode == "vrrp" and g.vrid is not None:
                views.append(VrrpView(g.vrid, iface, "master" if name == g.primary else "backup", prio, prio))
            elif name == g.primary:
                addresses[iface] = addresses.get(iface, ()) + tuple(v.with_prefixlen for v in g.virtual_addresses)
        routes = {str(t.route): True for g in inv.groups_of(name) for t in inv.groups[g].tracks_for(name) if t.route}
        reach = {t.key: ReachReading(t.key, "up", at=now) for g in inv.groups_of(name)
                 for t in inv.groups[g].tracks_for(name) if t.reach}
        devices[name] = DeviceObservation(name, ssh=ok, snmp=ok, vrrp=tuple(views), interfaces=interfaces,
                                          routes=routes, addresses=addresses, reach=reach)
    return assess(inv, Snapshot(at=now, wall=time.time(), devices=devices))
