"""The health model: a pure function from (inventory, snapshot, previous health) to new health.

No I/O here. Every state change needs ``failure_threshold`` consecutive bad polls (or
``recovery_threshold`` good ones): damping, so one lost poll never moves anything.

The rules that matter most:
- a device the controller cannot manage (SSH and SNMP both fail) but that is still heard
  (its advertisements reach the listener, or a peer's Rx counter keeps rising while it is
  master) is *unreachable*, never *failed*: the controller's own blindness is not a failure;
- a device is *failed* only when it cannot be managed and it is no longer heard, having been
  the one advertising (a silent backup that cannot be managed stays *unreachable*);
- a tracked object (interface down, route missing) makes that member *degraded*, and the
  group *degraded* when it is the master's, even though VRRP looks fine.

Adverts are matched to a group by VRID and address family. An IPv4 advert comes from a member's own
address; an IPv6 one from a link-local address (RFC 5798 §5.1.2.1; FRR's from its macvlan's), which
the inventory does not hold: it is mapped to the member whose device reports that link-local address
on one of its interfaces (remembered across polls, so a member that cannot be read now is still
recognised by its adverts).
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field, replace
from typing import Literal

from .inventory import Group, Inventory
from .observe.types import AdvertSource, DeviceObservation, Snapshot

Health = Literal["healthy", "degraded", "unreachable", "failed", "unknown"]
Verdict = Literal["ok", "degraded", "failed-over", "split-brain", "down", "unknown"]

VERDICT_EXIT = {"ok": 0, "degraded": 1, "failed-over": 1, "split-brain": 2, "down": 2, "unknown": 3}


@dataclass(frozen=True)
class Damped:
    """A damped state: ``state`` moves to ``candidate`` only after enough consecutive polls."""

    state: str
    candidate: str
    streak: int
    since: float  # when ``state`` was entered (snapshot time)
    reason: str = ""
    sample: float = 0.0  # time of the observation last counted: a poll is counted once, however often we look


def damp(
    prev: Damped | None,
    raw: str,
    now: float,
    failure_threshold: int,
    recovery_threshold: int,
    reason: str = "",
    good: tuple[str, ...] = ("healthy", "ok", "false"),
    sample: float = 0.0,
    strict_start: bool = False,
) -> Damped:
    """Advance one damped value by one poll (``sample``: the observation's time; 0 = always new).

    The first observation is taken as it is for a one-shot look (``netha status``); a controller
    that may act (``strict_start``) needs ``failure_threshold`` polls for a bad first state too.
    """
    if prev is None:
        if strict_start and raw not in good:
            return Damped("unknown", raw, 1, now, reason, sample)
        return Damped(raw, raw, 1, now, reason, sample)
    if sample and sample == prev.sample:
        return prev  # the same observation, looked at again: not another poll
    if raw == prev.state:
        return Damped(prev.state, raw, 0, prev.since, reason, sample)
    streak = prev.streak + 1 if raw == prev.candidate else 1
    needed = recovery_threshold if raw in good else failure_threshold
    if raw == "unknown":
        needed = failure_threshold
    if streak >= needed:
        return Damped(raw, raw, streak, now, reason, sample)
    return Damped(prev.state, raw, streak, prev.since, prev.reason, sample)


@dataclass(frozen=True)
class HealthState:
    """The controller's memory between polls: damped values, counters, last known masters."""

    damped: dict[str, Damped] = field(default_factory=dict)
    last_rx: dict[str, int] = field(default_factory=dict)  # "group/device" -> adverts_rx
    last_master: dict[str, str] = field(default_factory=dict)  # group -> device last seen master
    master_seen: dict[str, float] = field(default_factory=dict)  # "group/device" -> last time seen master
    # device -> its IPv6 link-local addresses as it last reported them (an IPv6 advert's source)
    link_locals: dict[str, tuple[str, ...]] = field(default_factory=dict)
    at: float = 0.0
    strict_start: bool = False  # a controller that acts: no bad state from a single first observation


@dataclass(frozen=True)
class MemberHealth:
    device: str
    health: Health
    reason: str
    state: str  # VRRP state as the device reports it, or "unknown"
    shutdown: bool  # the VRRP instance is shut down (a resigned master)
    priority: int | None
    effective_priority: int | None
    tracks: dict[str, str]  # track key -> "up" | "down" | "unknown" (damped)
    heard: bool  # advertisements from this member are heard (listener or a peer's Rx)
    advert_age: float | None  # seconds since the listener last heard this member
    checksum_style: str | None


@dataclass(frozen=True)
class GroupHealth:
    name: str
    verdict: Verdict
    reason: str
    master: str | None  # the single observed master, if there is one
    masters: dict[str, list[str]]  # source -> devices that source sees as master
    primary: str
    members: dict[str, MemberHealth]
    # Reach targets that fail from every member probing them: the target's failure, not a member's.
    targets_down: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        return VERDICT_EXIT[self.verdict]


@dataclass(frozen=True)
class DeviceHealth:
    device: str
    health: Health
    reason: str
    managed: bool | None


@dataclass(frozen=True)
class Assessment:
    state: HealthState
    devices: dict[str, DeviceHealth]
    groups: dict[str, GroupHealth]

    @property
    def exit_code(self) -> int:
        codes = {g.exit_code for g in self.groups.values()} or {3}
        for code in (2, 3, 1):
            if code in codes:
                return code
        return 0


def _member_address(group: Group, device: str) -> str | None:
    addr = group.member(device).address
    return str(addr.ip) if addr else None


@functools.lru_cache(maxsize=4096)
def _canonical(addr: str) -> str:
    """ADDR (maybe with a prefix length or a zone) in its compressed form; memoized: every cycle maps
    every heard IPv6 advert and every reported address through it (ipaddress parsing was half a cycle)."""
    try:
        return ipaddress.ip_address(addr.split("/")[0].split("%")[0]).compressed
    except ValueError:
        return addr


@functools.lru_cache(maxsize=4096)
def _is_link_local(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr.split("%")[0]).is_link_local
    except ValueError:
        return False


def link_locals(snap: Snapshot, prev: dict[str, tuple[str, ...]] | None = None) -> dict[str, tuple[str, ...]]:
    """device -> the IPv6 link-local addresses it reports on any of its interfaces (an IPv6 VRRP router
    advertises from one: the interface's, or its macvlan's on FRR); a device not read in this snapshot
    keeps the ones it reported last (``prev``)."""
    out = dict(prev or {})
    for name, obs in snap.devices.items():
        found = sorted({_canonical(a) for addrs in (obs.addresses or {}).values() for a in addrs
                        if _is_link_local(a.split("/")[0])})
        if found:
            out[name] = tuple(found)
    return out


@dataclass(frozen=True)
class _GroupFacts:
    """What the inventory says of a group's advert sources, worked out once per group object: every
    cycle needs it for every member, and address formatting was most of a cycle."""

    family: int
    own: dict[str, frozenset[str]]  # device -> its inventory address (canonical), if any
    virtual: frozenset[str]  # an IPv6 group's virtual addresses, its link-local one included


_FACTS: dict[int, tuple[Group, _GroupFacts]] = {}


def _facts(group: Group) -> _GroupFacts:
    hit = _FACTS.get(id(group))
    if hit is not None and hit[0] is group:
        return hit[1]
    family = group.family
    own = {m.device: frozenset(a for a in [_member_address(group, m.device)] if a is not None) for m in group.members}
    virtual: set[str] = set()
    if family == 6:
        virtual = {_canonical(str(v.ip)) for v in group.virtual_addresses}
        if group.link_local is not None:
            virtual.add(_canonical(str(group.link_local)))
    facts = _GroupFacts(family, {d: frozenset(_canonical(a) for a in v) for d, v in own.items()}, frozenset(virtual))
    if len(_FACTS) > 256:  # inventories come and go (tests, reloads): never grow without bound
        _FACTS.clear()
    _FACTS[id(group)] = (group, facts)
    return facts


def advert_sources(group: Group, device: str, lls: dict[str, tuple[str, ...]]) -> set[str]:
    """The (canonical) source addresses ``device``'s adverts of ``group`` may come from, given the
    link-local addresses each device reports (``HealthState.link_locals``): see :func:`_member_sources`."""
    return _member_sources(group, device, lls)


def canonical_address(addr: str) -> str:
    """An address as :func:`advert_sources` gives it (compressed; prefix length and zone dropped)."""
    return _canonical(addr)


def _member_sources(group: Group, device: str, lls: dict[str, tuple[str, ...]]) -> set[str]:
    """The source addresses ``device``'s adverts of ``group`` may come from: its inventory address and,
    in an IPv6 group, its link-local addresses but the group's virtual link-local one (the master
    holds that too on keepalived: it is no member's own)."""
    facts = _facts(group)
    out = set(facts.own.get(device) or ())
    if facts.family == 6:
        out |= {_canonical(a) for a in lls.get(device, ())} - facts.virtual
    return out


def _group_adverts(group: Group, snap: Snapshot, lls: dict[str, tuple[str, ...]] | None = None,
                   legs: set[str] | None = None) -> list[AdvertSource]:
    """Adverts for this group's VRID and family from one of its members (or, without addresses, from its
    subnet). In an IPv6 group also those from any link-local source heard on the group's listener legs
    (``legs``; any leg when None): a router of the segment, known to be a member or not."""
    if group.vrid is None:
        return []
    addrs: set[str] = set()
    for m in group.members:
        addrs |= _member_sources(group, m.device, lls or {})
    nets = [m.address.network for m in group.members if m.address] + ([group.subnet] if group.subnet else [])
    result = []
    for adv in snap.adverts_for(group.vrid, group.family):
        if _canonical(adv.source) in addrs or any(_in(adv.source, n) for n in nets):
            result.append(adv)
        elif group.family == 6 and _is_link_local(adv.source) and (not legs or adv.interface in legs):
            result.append(adv)
    return result


def _legs(inv: Inventory, gname: str) -> set[str] | None:
    """The listener legs that list group ``gname`` (None: none lists it, any leg may hear it)."""
    legs = {leg.interface for leg in inv.controller.listeners if gname in leg.groups}
    return legs or None


def _in(addr: str, net) -> bool:
    try:
        return ipaddress.ip_address(addr) in net
    except ValueError:
        return False


# How much older than two poll intervals a device's newest CLI reading may be before its word
# "master" is history (its session hangs: the poll in flight has not timed out yet).
STALE_READING_SLACK = 0.25


def _stale_master_claim(inv: Inventory, snap: Snapshot, obs: DeviceObservation, group, gname: str, device: str,
                        heard: dict[tuple[str, str], bool]) -> bool:
    """``device``'s reading says master, but it is older than two polls while the listener, hearing the
    group on its segment, hears nothing from ``device``: a device that hangs with its links up (every
    process stopped) keeps its last reading until the poll in flight times out, and its peer took
    over meanwhile. Counting that word makes a false split-brain; the listener's silence is the
    newer evidence. Without a listener on the segment the reading stands (nothing contradicts it)."""
    if obs.ssh is None or heard.get((gname, device)) or not any(
            _active(a, snap.at) for a in _group_adverts(group, snap, link_locals(snap), _legs(inv, gname))):
        return False
    return snap.at - obs.ssh.at > 2 * inv.controller.poll_interval + STALE_READING_SLACK


def _active(adv: AdvertSource, now: float, slack: float = 0.02) -> bool:
    """Heard within 1.5 advert intervals: the source is advertising now."""
    return adv.priority > 0 and adv.silent_for(now) <= 1.5 * adv.interval + slack


def _alive(adv: AdvertSource, now: float) -> bool:
    """Heard within the Master_Down_Interval: still counts as alive for VRRP itself."""
    return adv.priority > 0 and adv.silent_for(now) <= adv.master_down_interval() + 0.05


def assess(inv: Inventory, snap: Snapshot, prev: HealthState | None = None) -> Assessment:
    """Compute device, member and group health from one snapshot and the previous memory."""
    prev = prev or HealthState()
    ft = inv.controller.failure_threshold
    rt = inv.controller.recovery_threshold
    now = snap.at
    damped: dict[str, Damped] = {}
    last_rx: dict[str, int] = {}
    last_master = dict(prev.last_master)
    master_seen = dict(prev.master_seen)
    lls = link_locals(snap, prev.link_locals)

    def d(key: str, raw: str, reason: str = "", good: tuple[str, ...] = ("healthy", "ok", "up", "false"),
          sample: float = 0.0) -> Damped:
        value = damp(prev.damped.get(key), raw, now, ft, rt, reason, good, sample, prev.strict_start)
        damped[key] = value
        return value

    # 1. Who is heard advertising, per group and member (listener, and peers' Rx counters).
    heard: dict[tuple[str, str], bool] = {}
    advert_of: dict[tuple[str, str], AdvertSource] = {}
    for gname, group in inv.groups.items():
        advs = _group_adverts(group, snap, lls, _legs(inv, gname))
        for m in group.members:
            sources = _member_sources(group, m.device, lls)
            mine = [a for a in advs if _canonical(a.source) in sources]
            if mine:
                advert_of[(gname, m.device)] = max(mine, key=lambda a: a.last_seen)
            heard[(gname, m.device)] = any(_alive(a, now) for a in mine)
        # A peer in Backup whose Rx counter rises hears *some* master; credit the last known master.
        for m in group.members:
            obs = snap.devices.get(m.device)
            view = obs.vrrp_for(group.vrid, group.interface_of(m.device), group.protocol, group.family) if obs and group.vrid else None
            if view is None or view.adverts_rx is None:
                continue
            key = f"{gname}/{m.device}"
            last_rx[key] = view.adverts_rx
            before = prev.last_rx.get(key)
            rising = before is not None and view.adverts_rx > before
            master = prev.last_master.get(gname)
            if view.state == "backup" and rising and master and master != m.device:
                heard[(gname, master)] = True

    # 2. Device health.
    # A witness of a group: a member the controller manages, or one the listener hears now. Without
    # one, a member's silence says nothing about it: the controller itself is blind there.
    witnessed = {
        gname for gname, group in inv.groups.items()
        if any((snap.devices.get(m.device) or DeviceObservation(device=m.device)).managed or heard.get((gname, m.device))
               for m in group.members)
    }
    devices: dict[str, DeviceHealth] = {}
    for name in inv.devices:
        obs = snap.devices.get(name) or DeviceObservation(device=name)
        raw, reason = _raw_device(inv, name, obs, heard, prev, now, witnessed)
        value = d(f"device/{name}", raw, reason, sample=_sample(obs))
        devices[name] = DeviceHealth(name, value.state, value.reason or reason, obs.managed)  # type: ignore[arg-type]

    # 3. Members, tracked objects and groups.
    silent = _silent_interfaces(inv, snap)
    groups: dict[str, GroupHealth] = {}
    for gname, group in inv.groups.items():
        members: dict[str, MemberHealth] = {}
        ssh_masters: list[str] = []
        paths, targets_down = _reach_paths(group, snap)
        for m in group.members:
            obs = snap.devices.get(m.device) or DeviceObservation(device=m.device)
            view = obs.vrrp_for(group.vrid, group.interface_of(m.device), group.protocol, group.family) if group.vrid else None
            tracks: dict[str, str] = {}
            for t in group.tracks_for(m.device):
                if t.reach is not None:
                    raw_t, at = paths.get((m.device, t.key), ("unknown", 0.0))
                    tkey = f"track/{gname}/{m.device}/{t.key}"
                    if raw_t == "hold":
                        held = prev.damped.get(tkey)
                        if held is not None:
                            damped[tkey] = held
                            tracks[t.key] = held.state
                            continue
                        raw_t = "unknown"
                    tracks[t.key] = d(tkey, raw_t, sample=at).state
                    continue
                raw_t = _track_state(obs, t)
                if raw_t == "up" and t.interface is not None and (m.device, t.interface) in silent:
                    raw_t = "down"  # carrier up, but its address no longer answers on its segment
                tracks[t.key] = d(f"track/{gname}/{m.device}/{t.key}", raw_t, sample=_sample(obs)).state
            dev = devices[m.device]
            by_tracks = False  # degraded by its (already damped) tracks alone
            if dev.health in ("failed", "unreachable", "unknown"):
                raw_m, why = dev.health, dev.reason
            elif group.mode == "vrrp" and obs.vrrp is not None and group.vrid is not None and view is None and obs.unreadable:
                # Not found, but the device printed something netha could not read: it may be this group.
                raw_m, why = "unknown", (f"{group.protocol.upper()} {group.vrid} on {group.interface_of(m.device)} not read: "
                                         + "; ".join(f"{what}: {why}" for what, why in obs.unreadable)[:200])
            elif group.mode == "vrrp" and obs.vrrp is not None and group.vrid is not None and view is None:
                raw_m, why = "failed", f"no {group.protocol.upper()} instance {group.vrid} on {group.interface_of(m.device)}"
            elif obs.interfaces.get(group.interface_of(m.device)) is False:
                raw_m, why = "failed", f"{group.interface_of(m.device)} is down"
            elif (m.device, group.interface_of(m.device)) in silent:
                raw_m, why = "degraded", (f"{group.interface_of(m.device)} reads up but its address is silent on the "
                                          "segment (ARP) while its peers answer")
            elif view is not None and view.shutdown:
                down = [k for k, st in tracks.items() if st == "down"]
                raw_m, why = ("degraded", ", ".join(f"{k} down" for k in down)) if down else ("healthy", "")
                by_tracks = bool(down)
            elif view is not None and view.state == "init":
                raw_m, why = "failed", f"VRRP {group.vrid} on {view.interface} is not running (Initialize)"
            elif any(s == "down" for s in tracks.values()):
                raw_m, why = "degraded", ", ".join(f"{k} down" for k, s in tracks.items() if s == "down")
                by_tracks = True
            else:
                raw_m, why = "healthy", ""
            down = [k for k, st in tracks.items() if st == "down"]
            if dev.health in ("failed", "unreachable", "unknown"):
                # Already damped at the device level: do not damp twice.
                mval = Damped(dev.health, dev.health, 0, now, dev.reason)
                damped[f"member/{gname}/{m.device}"] = mval
            elif raw_m == "degraded" and by_tracks:
                # Degraded by its tracks alone, each already damped above (an interface or route per
                # poll, a path per probe window): damping the member again would make a tracked
                # failure wait 2 x failure_threshold - 1 polls instead of failure_threshold.
                key = f"member/{gname}/{m.device}"
                before = prev.damped.get(key)
                since = before.since if before is not None and before.state == "degraded" else now
                mval = damped[key] = Damped("degraded", "degraded", 0, since, why, _sample(obs))
            else:
                mval = d(f"member/{gname}/{m.device}", raw_m, why, sample=_sample(obs))
            if group.mode == "static":
                held = obs.addresses.get(group.interface_of(m.device), ())
                if any(vip.with_prefixlen in held for vip in group.virtual_addresses):
                    ssh_masters.append(m.device)
            elif view is not None and view.state == "master" and not _stale_master_claim(inv, snap, obs, group, gname,
                                                                                        m.device, heard):
                # A driver's "master" is true: platform misreports (FRR's Master without carrier) are
                # corrected in the platform's driver module.
                ssh_masters.append(m.device)
            adv = advert_of.get((gname, m.device))
            members[m.device] = MemberHealth(
                device=m.device,
                health=mval.state,  # type: ignore[arg-type]
                reason=mval.reason,
                state=view.state if view else "unknown",
                shutdown=bool(view and view.shutdown),
                priority=view.priority if view else None,
                effective_priority=view.effective_priority if view else None,
                tracks=tracks,
                heard=heard.get((gname, m.device), False),
                advert_age=round(adv.silent_for(now), 3) if adv else None,
                checksum_style=adv.checksum_style if adv else None,
            )
        groups[gname] = _group_verdict(inv, gname, group, snap, members, ssh_masters, advert_of, d, last_master)
        if targets_down:
            groups[gname] = replace(groups[gname], targets_down=targets_down)
        for dev in {x for devs in groups[gname].masters.values() for x in devs}:
            master_seen[f"{gname}/{dev}"] = now

    state = HealthState(damped=damped, last_rx=last_rx, last_master=last_master, master_seen=master_seen,
                        link_locals=lls, at=now, strict_start=prev.strict_start)
    return Assessment(state=state, devices=devices, groups=groups)


# How long after a device was last seen as master its silence still proves it failed.
MASTER_MEMORY = 10.0


def _raw_device(
    inv: Inventory,
    name: str,
    obs: DeviceObservation,
    heard: dict[tuple[str, str], bool],
    prev: HealthState,
    now: float,
    witnessed: set[str] | None = None,
) -> tuple[Health, str]:
    managed = obs.managed
    if managed is None:
        return "unknown", "not polled yet"
    if managed:
        if obs.ssh is not None and not obs.ssh.ok:
            # SNMP answers but the CLI does not (hung, garbage): the VRRP view is unknown, not failed.
            return "unknown", f"SSH: {obs.ssh.error}"
        if obs.rebooted:
            return "degraded", "rebooted (sysUpTime went back)"
        return "healthy", ""
    errors = "; ".join(f"{p}: {r.error}" for p, r in (("ssh", obs.ssh), ("snmp", obs.snmp)) if r and r.error)
    groups = inv.groups_of(name)
    if any(heard.get((g, name)) for g in groups):
        return "unreachable", f"no management access ({errors}) but its advertisements are heard"
    if witnessed is not None and groups and not any(g in witnessed for g in groups):
        # Nothing the controller can see of these groups answers: that is the controller's blindness.
        return "unknown", f"no management access ({errors}) and no witness (no peer reachable, nothing heard): blind here"
    was_failed = prev.damped.get(f"device/{name}")
    was_master = [g for g in groups if now - prev.master_seen.get(f"{g}/{name}", -1e9) <= MASTER_MEMORY]
    if was_failed is not None and was_failed.state == "failed":
        return "failed", was_failed.reason
    if was_master:
        return "failed", f"no management access ({errors}) and no longer heard in {', '.join(was_master)}"
    return "unreachable", f"no management access ({errors}); not master, so its silence proves nothing"


def _sample(obs: DeviceObservation) -> float:
    """When the newest probe result about this device arrived (0: never)."""
    return max((r.at for r in (obs.ssh, obs.snmp) if r is not None), default=0.0)


def _silent_interfaces(inv: Inventory, snap: Snapshot) -> set[tuple[str, str]]:
    """(device, interface) pairs whose member address answered ARP on a listener leg and went
    silent while a peer of the same group still answers on that leg: the interface's frames no
    longer reach the segment, whatever its carrier says. Without a peer answering there, the
    silence may be the controller's own leg: it proves nothing."""
    if not snap.arp:
        return set()
    out: set[tuple[str, str]] = set()
    for group in inv.groups.values():
        addressed = [(m, str(m.address.ip)) for m in group.members if m.address is not None]
        for leg in {leg for leg, _ in snap.arp}:
            for m, addr in addressed:
                p = snap.arp.get((leg, addr))
                if p is None or not p.silent:
                    continue
                peers = [snap.arp.get((leg, a)) for o, a in addressed if o.device != m.device]
                if any(q is not None and q.answered and not q.silent for q in peers):
                    out.add((m.device, group.interface_of(m.device)))
    return out


def _reach_paths(group: Group, snap: Snapshot) -> tuple[dict[tuple[str, str], tuple[str, float]], tuple[str, ...]]:
    """Each member's raw state of each reach path it probes, corroborated across members, and
    the targets that fail from every member.

    A member's path counts as down only while another member reaches the same target: a target
    that fails for every member is the target's failure (an alert, no action), and a failure no
    peer can contradict (a peer's prober down, or a path only one member probes) proves nothing
    about the member. A prober that does not work is ``unknown``, never ``down``.
    """
    raw: dict[tuple[str, str], tuple[str, float]] = {}
    clean: set[tuple[str, str]] = set()  # up, with no loss in the window: a witness that the target answers
    for m in group.members:
        obs = snap.devices.get(m.device)
        for t in group.tracks_for(m.device):
            if t.reach is None:
                continue
            reading = obs.reach.get(t.key) if obs is not None else None
            if reading is None or reading.error is not None:
                raw[(m.device, t.key)] = ("unknown", reading.at if reading else 0.0)
            else:
                raw[(m.device, t.key)] = (reading.state, reading.at)
                if reading.state == "up" and reading.lost == 0:
                    clean.add((m.device, t.key))
    by_key: dict[str, list[str]] = {}
    for (_, key), (state, _) in raw.items():
        by_key.setdefault(key, []).append(state)
    targets_down = tuple(sorted(k for k, states in by_key.items() if states and all(st == "down" for st in states)))
    paths: dict[tuple[str, str], tuple[str, float]] = {}
    for (dev, key), (state, at) in raw.items():
        peers = [o for (o, k) in raw if k == key and o != dev]
        if state == "down" and not any(_witness(o, key, at, raw, clean, group) for o in peers):
            # A peer that is clean but whose newest result lags a little is no witness *yet*: this
            # look neither counts for nor against the member ("hold"); one already losing probes,
            # or none at all, makes the member's loss prove nothing ("unknown").
            state = "hold" if any((o, key) in clean for o in peers) else "unknown"
        paths[(dev, key)] = (state, at)
    return paths, targets_down


def _witness(peer: str, key: str, at: float, raw: dict[tuple[str, str], tuple[str, float]],
             clean: set[tuple[str, str]], group: Group) -> bool:
    """``peer`` reaches the target now: its window is up and loss-free, and its newest result is
    about as recent as the failing member's. A member calls a path down after k = window x max_loss
    + 1 lost probes, k - 1 intervals after the first; a peer whose results reach to within k - 2
    intervals of the member's newest would show a loss of its own if the target had died. A peer
    already losing probes, or one whose prober lags more, is no witness (else one member's window,
    filling a probe earlier, would look like its own failure)."""
    if (peer, key) not in clean:
        return False
    reach = next((t.reach for t in group.track if t.reach is not None and t.key == key), None)
    if reach is None:
        return False
    k = int(reach.window * reach.max_loss) + 1
    return raw[(peer, key)][1] >= at - max(1, k - 2) * reach.interval


def _track_state(obs: DeviceObservation, track) -> str:
    if track.interface is not None:
        up = obs.interfaces.get(track.interface)
    else:
        up = obs.routes.get(str(track.route))
    return "unknown" if up is None else ("up" if up else "down")


def _group_verdict(inv, gname, group, snap, members, ssh_masters, advert_of, d, last_master) -> GroupHealth:
    now = snap.at
    masters: dict[str, list[str]] = {"ssh": sorted(ssh_masters)}
    if snap.listening and group.mode == "vrrp":
        masters["adverts"] = sorted(
            dev for (g, dev), adv in advert_of.items() if g == gname and _active(adv, now)
        )
    claimed = sorted({dev for devs in masters.values() for dev in devs})
    # A member that cannot be managed or heard cannot be master, whatever its last word was.
    split_raw = "true" if len(ssh_masters) > 1 or len(masters.get("adverts", [])) > 1 else "false"
    # Counted once per poll interval: advertisements arrive many times a poll, and a takeover overlaps briefly.
    split = d(f"split/{gname}", split_raw, good=("false",), sample=float(int(now / inv.controller.poll_interval)) + 1)
    primary = group.primary
    master = claimed[0] if len(claimed) == 1 else None
    if master:
        last_master[gname] = master

    def verdict(v: Verdict, reason: str) -> GroupHealth:
        return GroupHealth(gname, v, reason, master, masters, primary, members)

    if split.state == "true":
        return verdict("split-brain", "more than one master: " + _fmt_masters(masters))
    if len(claimed) > 1:
        # Sources disagree (or a transition is under way) and it has not lasted long enough to be damped in.
        master = last_master.get(gname) if last_master.get(gname) in claimed else None
    if not claimed:
        if all(m.health in ("unknown", "unreachable") for m in members.values()):
            return verdict("unknown", "no source can see this group")
        return verdict("down", "no member is master")
    current = master or claimed[0]
    cm = members[current]
    if cm.health == "degraded":
        return verdict("degraded", f"master {current}: {cm.reason}")
    if current != primary:
        p = members[primary]
        return verdict("failed-over", f"{current} is master; primary {primary} is {p.health}" + (f" ({p.reason})" if p.reason else ""))
    others = [m for m in members.values() if m.device != current and m.health in ("failed", "degraded")]
    if others:
        return verdict("degraded", "; ".join(f"backup {m.device} {m.health}: {m.reason}" for m in others))
    return verdict("ok", f"{current} is master")


def _fmt_masters(masters: dict[str, list[str]]) -> str:
    return ", ".join(f"{src} sees {'+'.join(devs)}" for src, devs in masters.items() if devs)

