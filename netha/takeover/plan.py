"""Failover plans: ordered steps per device, each one change (operation and values) with its
rendered lines, and what must be seen after it.

Building a plan is pure (inventory + assessment + templates in, plan out), so every strategy is
unit-tested without devices, and ``--dry-run`` prints exactly what would be pushed. The lines come
from the platform's driver (:meth:`~netha.drivers.base.NetworkDriver.render_change`, a class method:
no session); the executor has the driver apply the change itself (``apply_change``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Literal

from ..drivers import NetworkDriver, driver_class
from ..drivers.changes import ChangeValues, Operation
from ..errors import PlanError
from ..health import Assessment
from ..inventory import Group, Inventory

# The priority a new master is pinned at, so that a recovering primary cannot preempt it.
PIN_PRIORITY = 254
# The priority a demoted primary is lowered to during a planned failover.
LOWERED_PRIORITY = 1

PlanKind = Literal["planned", "emergency", "failback", "gateway-move"]


@dataclass(frozen=True)
class Expect:
    """What must be observed after a step, before its deadline."""

    master: str | None = None  # this device is the group's only master (VRRP) / holds the gateway (static)
    settle: float = 0.0  # seconds VRRP needs (e.g. Master_Down_Interval when waiting for preemption)

    def describe(self) -> str:
        return f"{self.master} is master" if self.master else "nothing to verify"


@dataclass(frozen=True)
class Step:
    device: str
    description: str
    operation: Operation | Literal["garp"]
    lines: tuple[str, ...]  # the change as the driver renders it: shown, journaled, compared
    expect: Expect = Expect()
    # The change the driver applies (apply_change); None: lines only (a gratuitous ARP, or a step
    # of a plan journaled before changes were structured, pushed with load_config).
    values: ChangeValues | None = None


@dataclass(frozen=True)
class Plan:
    kind: PlanKind
    group: str
    target: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def devices(self) -> list[str]:
        seen: list[str] = []
        for s in self.steps:
            if s.lines and s.device not in seen:
                seen.append(s.device)
        return seen


class Planner:
    """Builds plans for one inventory; each change rendered by its device's platform driver."""

    def __init__(self, inv: Inventory):
        self.inv = inv

    def warm(self) -> None:
        """Compile the change templates of every platform of the inventory now, not in the first plan."""
        for platform in sorted({d.platform for d in self.inv.devices.values()}):
            driver_class(platform).warm_templates(self.inv.controller.templates)

    def driver(self, device: str) -> type[NetworkDriver]:
        return driver_class(self.inv.devices[device].platform)

    def _step(self, group: Group, device: str, op: Operation, description: str, expect: Expect = Expect(), **values) -> Step:
        cv = ChangeValues(interface=group.interface_of(device), vrid=group.vrid, mode=group.mode,
                          protocol=group.protocol, version=group.version, family=group.family,
                          local_address=group.member(device).address, **values)
        lines = self.driver(device).render_change(op, cv, self.inv.controller.templates)
        return Step(device, description, op, tuple(lines), expect, cv)

    @staticmethod
    def _mdi(group: Group, priority: int = PIN_PRIORITY) -> float:
        return 3 * group.advert_interval + (256 - priority) * group.advert_interval / 256

    # -- strategies ---------------------------------------------------------------------------
    def failover(self, group_name: str, target: str, a: Assessment, strategy: Literal["auto", "planned", "emergency"] = "auto") -> Plan:
        group = self._group(group_name)
        gh = a.groups[group_name]
        if target not in {m.device for m in group.members}:
            raise PlanError(f"{target} is not a member of group {group_name}")
        tm = gh.members[target]
        if a.devices[target].health not in ("healthy", "degraded") or a.devices[target].managed is False:
            raise PlanError(f"refusing to fail over {group_name} to {target}: {target} is {a.devices[target].health}"
                            + (f" ({a.devices[target].reason})" if a.devices[target].reason else ""))
        if tm.health != "healthy":
            raise PlanError(f"refusing to fail over {group_name} to {target}: its member state is {tm.health} ({tm.reason})")
        if group.mode == "static":
            return self._gateway_move(group_name, group, target, a)
        old = gh.master
        if old == target:
            # VRRP already moved by itself (hard failure): an emergency plan only pins the new master.
            if strategy != "emergency" or tm.effective_priority == PIN_PRIORITY:
                raise PlanError(f"{target} is already master of {group_name}")
            step = self._step(group, target, "set_priority", f"pin {target} at {PIN_PRIORITY} (already master)",
                              Expect(master=target), priority=PIN_PRIORITY)
            return Plan("emergency", group_name, target, (step,), ("VRRP already moved; pinning the new master",))
        if strategy == "auto":
            old_ok = old is not None and gh.members[old].health == "healthy" and a.devices[old].health == "healthy"
            strategy = "planned" if old_ok else "emergency"
        if strategy == "planned":
            if old is None:
                raise PlanError(f"{group_name} has no master to hand over from; use an emergency failover")
            steps = [
                self._step(group, target, "set_priority", f"raise {target} to {PIN_PRIORITY}; it preempts {old}",
                           Expect(master=target, settle=self._mdi(group)), priority=PIN_PRIORITY),
                self._step(group, old, "set_priority", f"lower {old} to {LOWERED_PRIORITY}",
                           Expect(master=target), priority=LOWERED_PRIORITY),
            ]
            return Plan("planned", group_name, target, tuple(steps), ("make-before-break: no traffic is lost",))
        steps = []
        notes = []
        reachable = old is not None and a.devices[old].managed
        if old is not None and reachable:
            steps.append(self._step(group, old, "resign", f"{old} resigns (priority-0 advertisement)",
                                    Expect(master=target, settle=group.advert_interval)))
        elif old is not None:
            notes.append(f"{old} is not reachable: it cannot be told to resign")
        steps.append(self._step(group, target, "set_priority", f"pin {target} at {PIN_PRIORITY}",
                                Expect(master=target, settle=self._mdi(group, 1)), priority=PIN_PRIORITY))
        return Plan("emergency", group_name, target, tuple(steps), tuple(notes))

    def failback(self, group_name: str, a: Assessment) -> Plan:
        group = self._group(group_name)
        gh = a.groups[group_name]
        primary = group.primary
        if a.devices[primary].health != "healthy" or gh.members[primary].health != "healthy":
            raise PlanError(f"refusing to fail back {group_name}: primary {primary} is "
                            f"{gh.members[primary].health}" + (f" ({gh.members[primary].reason})" if gh.members[primary].reason else ""))
        if group.mode == "static":
            if gh.master == primary:
                raise PlanError(f"{group_name}: {primary} already holds the gateway")
            return self._gateway_move(group_name, group, primary, a, kind="failback")
        current = gh.master
        steps = [
            self._step(group, primary, "restore", f"restore {primary} (priority {group.member(primary).priority}, running)",
                       priority=group.member(primary).priority)
        ]
        for m in group.members:
            if m.device == primary:
                continue
            if a.devices[m.device].managed is False:
                raise PlanError(f"refusing to fail back {group_name}: {m.device} is not reachable to restore its priority")
            last = m.device == (current or m.device)
            steps.append(self._step(
                group, m.device, "restore", f"restore {m.device} (priority {m.priority})",
                Expect(master=primary, settle=self._mdi(group, group.member(primary).priority)) if last else Expect(),
                priority=m.priority,
            ))
        # The last step must verify the primary is master again.
        if steps[-1].expect.master is None:
            steps[-1] = replace(steps[-1], expect=Expect(master=primary, settle=self._mdi(group, group.member(primary).priority)))
        notes = () if group.preempt else (f"{group_name} has preempt off: {primary} takes over only when the master resigns",)
        return Plan("failback", group_name, primary, tuple(steps), notes)

    def _gateway_move(self, group_name: str, group: Group, target: str, a: Assessment, kind: PlanKind = "gateway-move") -> Plan:
        gh = a.groups[group_name]
        old = gh.master
        steps = []
        notes = []
        for vip in group.virtual_addresses:
            if old is not None and old != target and a.devices[old].managed:
                steps.append(self._step(group, old, "remove_address", f"remove {vip} from {old}", address=vip))
            elif old is not None and old != target:
                notes.append(f"{old} is not reachable: {vip} stays configured there until it is")
            steps.append(self._step(group, target, "add_address", f"add {vip} to {target}", address=vip))
            how = "gratuitous ARP" if vip.version == 4 else "unsolicited Neighbor Advertisement"
            steps.append(Step(target, f"announce {vip.ip} from {target} ({how})", "garp", (),
                              Expect(master=target)))
        return Plan(kind, group_name, target, tuple(steps), tuple(notes))

    def _group(self, name: str) -> Group:
        try:
            return self.inv.groups[name]
        except KeyError:
            raise PlanError(f"no group {name!r} in {self.inv.source}") from None


def render_plan_text(plan: Plan) -> str:
    out = [f"plan {plan.id}: {plan.kind} of {plan.group} to {plan.target}"]
    for note in plan.notes:
        out.append(f"  note: {note}")
    for i, s in enumerate(plan.steps, 1):
        out.append(f"  {i}. [{s.device}] {s.description}  (then: {s.expect.describe()})")
        out += [f"       {ln}" for ln in s.lines]
    return "\n".join(out)

