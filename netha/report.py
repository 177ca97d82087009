"""The documented JSON shape of ``netha status --json`` (version 1; see docs/status-json.md)."""

from __future__ import annotations

import time
from typing import Any

from .coordination.base import LeaderView
from .health import Assessment
from .inventory import Inventory
from .observe.types import ProbeResult, Snapshot

SCHEMA_VERSION = 1


def _probe(r: ProbeResult | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"ok": r.ok, "error": r.error, "ms": round(r.duration * 1000, 1)}


def _reach(obs) -> dict[str, Any]:
    """Each path a device's prober tracks: its state, the window's loss, round trip and probe rate."""
    if obs is None:
        return {}
    return {
        key: {"state": r.state, "sent": r.sent, "lost": r.lost,
              "rtt_ms": None if r.rtt is None else round(r.rtt * 1000, 2),
              "rate": r.rate, "error": r.error}
        for key, r in sorted(obs.reach.items())
    }


def _parse(obs) -> dict[str, Any]:
    """What the parsers skipped in the device's last CLI reading: lines netha does not know inside a
    group it read, and groups or whole commands it could not read (with why)."""
    notes = obs.notes if obs is not None else None
    if notes is None:
        return {"skipped_lines": 0, "unreadable": []}
    return {"skipped_lines": len(notes.skipped_lines),
            "unreadable": [{"command": what, "why": why} for what, why in notes.unreadable]}


def leadership(inv: Inventory) -> LeaderView:
    """Who acts on ``inv`` now, as its coordination backend says (the lock file, or one etcd read)."""
    from .coordination import CoordinationError, coordinator_for

    try:
        return coordinator_for(inv, purpose="netha status").view()
    except CoordinationError as exc:
        return LeaderView(inv.controller.coordination.backend, None, (), False, str(exc))


def _events(st, now: float) -> dict[str, Any]:
    """One device's event stream (an observer running in the background: the daemon, ``status --watch``)."""
    return {"state": st.state, "error": st.error, "restarts": st.restarts, "events": st.events,
            "since": round(now - st.since, 3),
            "last_event_age": None if st.last_event is None else round(now - st.last_event, 3),
            "last_event": st.last_detail}


def status_document(inv: Inventory, snap: Snapshot, a: Assessment, leader: LeaderView | None = None,
                    observer: Any = None) -> dict[str, Any]:
    """``leader``: who acts (default: asked of the inventory's coordination backend now); ``observer``:
    one running in the background, whose event streams and notification receiver are shown (else null)."""
    mono = time.monotonic()
    streams = {st.device: _events(st, mono) for st in observer.event_stats()} if observer is not None else {}
    groups: dict[str, Any] = {}
    for name, g in a.groups.items():
        cfg = inv.groups[name]
        groups[name] = {
            "verdict": g.verdict,
            "reason": g.reason,
            "mode": cfg.mode,
            "vrid": cfg.vrid,
            "interface": cfg.interface,
            "virtual_addresses": [str(v) for v in cfg.virtual_addresses],
            "primary": g.primary,
            "master": g.master,
            "masters": g.masters,
            "targets_down": list(g.targets_down),
            "members": {
                dev: {
                    "health": m.health,
                    "reason": m.reason,
                    "state": m.state,
                    "shutdown": m.shutdown,
                    "configured_priority": cfg.member(dev).priority,
                    "priority": m.priority,
                    "effective_priority": m.effective_priority,
                    "tracks": m.tracks,
                    "heard": m.heard,
                    "advert_age": m.advert_age,
                    "checksum_style": m.checksum_style,
                }
                for dev, m in g.members.items()
            },
        }
    devices: dict[str, Any] = {}
    for name, d in a.devices.items():
        obs = snap.devices.get(name)
        devices[name] = {
            "health": d.health,
            "reason": d.reason,
            "managed": d.managed,
            "host": str(inv.devices[name].host),
            "platform": inv.devices[name].platform,
            "ssh": _probe(obs.ssh) if obs else None,
            "snmp": _probe(obs.snmp) if obs else None,
            "vrrp_source": obs.vrrp_source if obs else None,
            "uptime": obs.uptime if obs else None,
            "reach": _reach(obs),
            "parse": _parse(obs),
            "events": streams.get(name),
        }
    view = leader if leader is not None else leadership(inv)
    now = time.time()
    return {
        "version": SCHEMA_VERSION,
        "leader": view.leader,
        "controllers": [c.to_json(now) for c in view.controllers],
        "coordination": view.to_json(now),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(snap.wall)),
        "exit_code": a.exit_code,
        "listening": list(snap.listening),
        "notifications": observer.notification_stats() if observer is not None else None,
        "groups": groups,
        "devices": devices,
    }
