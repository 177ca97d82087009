"""The decision: a pure function of (inventory, assessment, controller memory, now) -> one Decision.

Like Patroni's ``ha.py`` each cycle returns one readable decision, logged and asserted in tests;
unlike it, the rules are a short explicit list, in order, per group:

1. maintenance (group or member)           -> nothing automatic
2. split-brain                             -> alert, never act (two masters need a human); not while
                                              netha's own action on the group settles (expected overlap)
3. unknown / down                          -> nothing (the controller cannot see enough to act)
4. master degraded, healthy backup exists  -> emergency failover (the master resigns)
5. primary failed, VRRP moved, not pinned  -> pin the new master
6. failed over by netha, primary healthy   -> failback per policy (preempt / hold_down / manual)
Of the groups ready to act in one cycle, a failover (a degraded master: traffic lost now) goes
before a pin, and a pin before a failback; among equals, inventory order.
Every automatic action, failback included, passes the gates: policy.automatic, min_interval,
block_period (unless acknowledged), the storm brake across all groups, and dry_run; every action
carried out counts in the storm brake. A refused action (the planner found it unsafe) costs nothing.
Every time here is the monotonic clock (``time.monotonic()``): an NTP step cannot open a gate.
At most one decision per cycle. The daemon carries an action out beside the loop
(:class:`~netha.controller.core.Controller` with ``concurrent=True``), so a long takeover of one group
does not hold back another whose devices it does not touch: a group in flight, and every group that
shares a device with one in flight, is ``busy`` and skipped until that takeover ends (two plans never
snapshot, push or roll back the same device at once).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal

from ..health import Assessment
from ..inventory import Inventory
from ..takeover.plan import PIN_PRIORITY

class Action(str, Enum):
    """What one cycle does. A str enum: it compares equal to its value and prints as it."""

    NONE = "none"
    FAILOVER = "failover"
    PIN = "pin"
    FAILBACK = "failback"
    ALERT = "alert"

    def __str__(self) -> str:
        return self.value


class Alert(str, Enum):
    """Why an alert is raised: carried by the decision, never parsed back from its text."""

    SPLIT_BRAIN = "split-brain"
    STORM_BRAKE = "storm-brake"
    BLOCKED = "blocked"  # an automatic action is held back by a gate (automatic off, block period, min_interval)
    NO_BACKUP = "no-backup"
    TARGET_DOWN = "target-down"  # a reach target fails from every member: the target's failure, no action

    def __str__(self) -> str:
        return self.value


ACTIONS = (Action.FAILOVER, Action.PIN, Action.FAILBACK)  # the decisions that change devices


@dataclass(frozen=True)
class GroupMemory:
    last_action_at: float | None = None  # last automatic action (monotonic time)
    blocked_until: float = 0.0  # no automatic failover or failback before this (monotonic)
    failed_over_by: Literal["auto", "manual"] | None = None
    pinned: str | None = None
    primary_healthy_since: float | None = None
    alerted: str | None = None  # the Alert value last sent, so each alert fires once
    settling_until: float = 0.0  # netha's own change is settling: two masters for a moment are expected


@dataclass(frozen=True)
class Memory:
    """What the controller remembers between cycles (and between scheduled runs)."""

    groups: dict[str, GroupMemory] = field(default_factory=dict)
    actions: tuple[float, ...] = ()  # monotonic times of automatic actions, for the storm brake
    braked: bool = False
    maintenance: frozenset[str] = frozenset()  # device or group names

    def group(self, name: str) -> GroupMemory:
        return self.groups.get(name, GroupMemory())

    def with_group(self, name: str, **changes) -> Memory:
        return replace(self, groups={**self.groups, name: replace(self.group(name), **changes)})


@dataclass(frozen=True)
class Decision:
    kind: Action
    group: str | None = None
    target: str | None = None
    strategy: Literal["auto", "planned", "emergency"] = "emergency"
    reason: str = ""
    dry_run: bool = False
    alert: Alert | None = None  # set when kind is ALERT

    def __str__(self) -> str:
        if self.kind == "none":
            return f"no action: {self.reason}" if self.reason else "no action"
        what = f"{self.kind} {self.group}" + (f" to {self.target}" if self.target else "")
        return ("dry-run, would " if self.dry_run else "") + f"{what}: {self.reason}"


NONE = Decision(Action.NONE)


def _best_backup(inv: Inventory, a: Assessment, group: str, exclude: str | None) -> str | None:
    gh = a.groups[group]
    candidates = [
        m for m in inv.groups[group].members
        if m.device != exclude and gh.members[m.device].health == "healthy" and a.devices[m.device].health == "healthy"
    ]
    return max(candidates, key=lambda m: m.priority).device if candidates else None


def _gate(inv: Inventory, mem: Memory, group: str, now: float) -> tuple[Alert, str] | None:
    """Why an automatic action may not run now (the alert kind and a line for people), or None."""
    pol = inv.policy_for(group)
    gm = mem.group(group)
    if not pol.automatic:
        return Alert.BLOCKED, "automatic failover is off for this group (policy.automatic: false)"
    if mem.braked:
        return Alert.BLOCKED, "storm brake engaged: waiting for `netha ack`"
    if gm.blocked_until > now:
        return Alert.BLOCKED, (f"blocked for {gm.blocked_until - now:.0f}s more after the last automatic failover "
                               "(block_period; `netha ack` clears)")
    if gm.last_action_at is not None and now - gm.last_action_at < pol.min_interval:
        return Alert.BLOCKED, f"min_interval: last automatic action {now - gm.last_action_at:.0f}s ago"
    brake = inv.controller.storm_brake
    recent = [t for t in mem.actions if now - t < brake.period]
    if len(recent) >= brake.max_actions:
        return Alert.STORM_BRAKE, f"{brake.max_actions} automatic actions in {brake.period:g}s"
    return None


def update_observations(inv: Inventory, a: Assessment, mem: Memory, now: float) -> Memory:
    """Bookkeeping that does not act: how long each primary has been healthy."""
    for name, group in inv.groups.items():
        gh = a.groups[name]
        p = group.primary
        healthy = gh.members[p].health == "healthy" and a.devices[p].health == "healthy"
        gm = mem.group(name)
        since = (gm.primary_healthy_since or now) if healthy else None
        if since != gm.primary_healthy_since:
            mem = mem.with_group(name, primary_healthy_since=since)
        # A group back on its primary, by whatever means, is no longer failed over.
        if gh.master == p and gh.verdict == "ok" and gm.failed_over_by is not None:
            mem = mem.with_group(name, failed_over_by=None, pinned=None)
        if gm.alerted == Alert.SPLIT_BRAIN and gh.verdict != "split-brain":
            mem = mem.with_group(name, alerted=None)
        if gm.alerted == Alert.TARGET_DOWN and not gh.targets_down:
            mem = mem.with_group(name, alerted=None)
    return mem


def decide(inv: Inventory, a: Assessment, mem: Memory, now: float, busy: frozenset[str] = frozenset()) -> Decision:
    """The one action this cycle should take, with its reason. Pure.

    ``busy``: the groups and devices of takeovers still in flight; those groups, and every group with
    a member among those devices, wait (no action, no alert) until the takeover ends."""
    alerts: list[Decision] = []
    ready: list[Decision] = []
    for name, group in inv.groups.items():
        gh = a.groups[name]
        pol = inv.policy_for(name)
        gm = mem.group(name)
        if name in mem.maintenance or any(m.device in mem.maintenance for m in group.members):
            continue
        if name in busy or any(m.device in busy for m in group.members):
            continue
        if gh.verdict == "split-brain":
            if gm.settling_until > now:
                continue  # netha's own action moves the master: the overlap is expected, not split-brain
            if gm.alerted != Alert.SPLIT_BRAIN:
                alerts.append(Decision(Action.ALERT, name, None, reason=f"split-brain: {gh.reason}; not acting",
                                       alert=Alert.SPLIT_BRAIN))
            continue
        if gh.verdict in ("unknown", "down"):
            continue
        if gh.targets_down and gm.alerted != Alert.TARGET_DOWN:
            alerts.append(Decision(Action.ALERT, name, None, alert=Alert.TARGET_DOWN, reason=(
                f"{', '.join(gh.targets_down)} fails from every member: the target's failure, not a gateway's; not acting")))
        master = gh.master
        if master is None:
            continue

        action: Decision | None = None
        mh = gh.members[master]
        if mh.health == "degraded":
            target = _best_backup(inv, a, name, exclude=master)
            if target:
                action = Decision(Action.FAILOVER, name, target, "emergency", f"master {master} degraded: {mh.reason}")
            elif any(gh.members[m.device].health == "unknown" for m in group.members if m.device != master):
                continue  # a peer has not been seen yet: no alert before every member was polled once
            elif gm.alerted != Alert.NO_BACKUP:
                alerts.append(Decision(Action.ALERT, name, None, reason=f"master {master} degraded ({mh.reason}) and no healthy backup",
                                       alert=Alert.NO_BACKUP))
        elif (master != group.primary and gh.members[group.primary].health == "failed"
              and mh.effective_priority != PIN_PRIORITY and gm.pinned != master):
            action = Decision(Action.PIN, name, master, "emergency",
                              f"primary {group.primary} failed ({gh.members[group.primary].reason}); VRRP moved to {master}")
        elif master != group.primary and gm.failed_over_by == "auto":
            since = gm.primary_healthy_since
            if pol.failback == "manual" or since is None:
                continue
            waited = now - since
            if pol.failback != "preempt" and waited < pol.hold_down:
                continue
            action = Decision(Action.FAILBACK, name, group.primary, "auto",
                              f"primary {group.primary} healthy for {waited:.1f}s (policy {pol.failback}, hold_down {pol.hold_down:g}s)")
        if action is None:
            continue
        gate = _gate(inv, mem, name, now)
        if gate is not None and gate[0] == Alert.STORM_BRAKE:
            return Decision(Action.ALERT, name, None, reason=f"storm brake: {gate[1]}; stopping until `netha ack` ({action})",
                            alert=Alert.STORM_BRAKE)
        if gate is not None and action.kind == Action.FAILBACK:
            continue  # a failback waits for its gates quietly: the group is served meanwhile
        if gate is not None:
            if gm.alerted != Alert.BLOCKED:
                alerts.append(Decision(Action.ALERT, name, None, alert=Alert.BLOCKED,
                                       reason=f"would {action.kind} to {action.target} ({action.reason}) but {gate[1]}"))
            continue
        ready.append(replace(action, dry_run=pol.dry_run))
    if ready:
        # A degraded master black-holes traffic now; a pin or a failback can wait a takeover.
        return min(ready, key=lambda d: _URGENCY[d.kind])
    return alerts[0] if alerts else NONE


_URGENCY = {Action.FAILOVER: 0, Action.PIN: 1, Action.FAILBACK: 2}


def settle_time(inv: Inventory, group: str) -> float:
    """How long after netha's own change on ``group`` two masters are an expected overlap."""
    g = inv.groups[group]
    return 3 * inv.controller.poll_interval + 4 * g.advert_interval + 1.0


def after_action(inv: Inventory, mem: Memory, d: Decision, ok: bool, now: float) -> Memory:
    """Memory after a decision was carried out (or alerted). Not called for a refused action:
    a plan that was never built changed nothing and costs no gate."""
    mem = action_started(inv, mem, d, now)
    return action_ended(mem, d, ok)


def action_started(inv: Inventory, mem: Memory, d: Decision, now: float) -> Memory:
    """Memory once an action's plan was built and handed to the executor (or an alert was sent): the
    gates count it from here, whatever its outcome (storm brake, min_interval, block period, settling)."""
    if d.kind == Action.ALERT:
        if d.alert == Alert.STORM_BRAKE:
            mem = replace(mem, braked=True)
        return mem.with_group(d.group, alerted=d.alert.value if d.alert else None) if d.group else mem
    if d.kind in ACTIONS and not d.dry_run and d.group is not None:
        pol = inv.policy_for(d.group)
        mem = replace(mem, actions=tuple(t for t in mem.actions if now - t < inv.controller.storm_brake.period) + (now,))
        mem = mem.with_group(d.group, last_action_at=now, alerted=None, settling_until=now + settle_time(inv, d.group))
        if d.kind in (Action.FAILOVER, Action.PIN):
            # A failback starts no block period: a primary that fails again right after it must be
            # failed over at once (min_interval and the storm brake still hold).
            mem = mem.with_group(d.group, blocked_until=now + pol.block_period)
    return mem


def action_ended(mem: Memory, d: Decision, ok: bool) -> Memory:
    """Memory once the executor says how an action ended: who the group is failed over to."""
    if d.kind not in ACTIONS or d.dry_run or d.group is None or not ok:
        return mem
    if d.kind in (Action.FAILOVER, Action.PIN):
        return mem.with_group(d.group, failed_over_by="auto", pinned=d.target)
    return mem.with_group(d.group, failed_over_by=None, pinned=None)


def acknowledge(mem: Memory, group: str | None = None) -> Memory:
    """`netha ack`: release the storm brake and the block periods."""
    groups = {
        name: replace(gm, blocked_until=0.0, alerted=None) if group in (None, name) else gm
        for name, gm in mem.groups.items()
    }
    return replace(mem, groups=groups, braked=False if group is None else mem.braked, actions=() if group is None else mem.actions)
