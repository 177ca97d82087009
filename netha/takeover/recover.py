"""Crash recovery, decided from the journal and from what the devices say now.

A controller that dies mid-plan leaves an open plan in the journal. The next controller reads it
back as a :class:`PlanRecord` and decides, purely, one :class:`Resolution` for it (Patroni style:
one named decision per plan, logged and unit-tested):

- ``stale``      the plan is older than :data:`MAX_PLAN_AGE`: reported and alerted, nothing replayed;
- ``close``      every step was done and verified before the crash: closed as it is;
- ``nothing``    no device holds anything of the plan (every touched config equals its snapshot):
                 closed, nothing to undo; the controller decides afresh;
- ``finish``     the plan's target is the group's only master and healthy: the remaining steps are
                 pushed and verified, as if the plan had never stopped;
- ``rollback``   otherwise: each device netha changed is restored to its snapshot, but only while its
                 running config still equals what netha pushed; a device changed since by someone
                 else is left alone, said so, and alerted.

Whether a device's config is netha's is decided by :func:`config_state`, from the snapshot taken
before the plan and the config read right after netha's push (journal entry ``pushed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..drivers.changes import ChangeValues, check_operation
from ..drivers.textconfig import config_body
from ..errors import TemplateError
from ..store import JournalEntry, redact_config
from .plan import Expect, Plan, Step

# An open plan older than this (seconds, by the journal's wall clock) is reported, never replayed:
# the network has had time to change under it. One hour is far beyond any restart by systemd and
# far below the time an operator would expect a half-done change to still be acted on.
MAX_PLAN_AGE = 3600.0

ConfigState = Literal["snapshot", "pushed", "other", "unreadable"]
ResolutionKind = Literal["stale", "close", "nothing", "finish", "rollback"]


@dataclass(frozen=True)
class PlanRecord:
    """An open plan as the journal holds it."""

    id: str
    kind: str  # the plan's kind: planned, emergency, failback, gateway-move
    group: str | None
    target: str | None
    reason: str
    origin: str  # "auto" (the controller decided it) or "manual"
    action: str | None  # the controller's decision kind: failover, pin, failback
    started: float  # wall time of the plan's first journal entry
    steps: tuple[Step, ...] | None  # None when the journal (older format) has descriptions only
    step_count: int
    snapshots: dict[str, int]
    pushed: dict[str, int]  # device -> snapshot id of its config right after netha's last push
    done: frozenset[int]
    touched: tuple[str, ...]  # devices with a push intent, in order
    leader: str | None = None  # the controller that started the plan (with etcd coordination)

    @property
    def what(self) -> str:
        by = f", started by controller {self.leader}" if self.leader else ""
        return f"plan {self.id} ({self.kind} of {self.group or '?'} to {self.target or '?'}{by})"

    @property
    def next_step(self) -> int:
        """The first step not done (1-based)."""
        n = 1
        while n in self.done:
            n += 1
        return n

    def plan(self) -> Plan:
        """The plan itself, rebuilt from the journal (only when the journal holds whole steps)."""
        assert self.steps is not None and self.group is not None and self.target is not None
        return Plan(self.kind, self.group, self.target, self.steps, (), self.id)  # type: ignore[arg-type]

    @classmethod
    def from_entries(cls, plan_id: str, entries: list[JournalEntry]) -> PlanRecord:
        head = next((e for e in entries if e.kind == "plan"), None)
        data: dict[str, Any] = head.data if head else {}
        raw_steps = data.get("steps", [])
        steps = _steps(raw_steps)
        snaps: dict[str, int] = {}
        pushed: dict[str, int] = {}
        touched: list[str] = []
        for e in entries:
            if e.kind == "snapshots":
                snaps.update({str(k): int(v) for k, v in (e.data.get("snapshots") or {}).items()})
            elif e.kind == "pushed" and e.device and "snapshot" in e.data:
                pushed[e.device] = int(e.data["snapshot"])
            elif e.kind == "intent" and e.data.get("lines") and e.device and e.device not in touched:
                touched.append(e.device)
        return cls(
            id=plan_id,
            kind=str(data.get("plan_kind") or data.get("kind") or "?"),
            group=data.get("group"),
            target=data.get("target"),
            reason=str(data.get("reason", "")),
            origin=str(data.get("origin", "manual")),
            action=data.get("action"),
            started=head.ts if head else (entries[0].ts if entries else 0.0),
            steps=steps,
            step_count=len(raw_steps) if isinstance(raw_steps, list) else 0,
            snapshots=snaps,
            pushed=pushed,
            done=frozenset(e.step for e in entries if e.kind == "done"),
            touched=tuple(touched),
            leader=str(data["leader"].get("controller")) if isinstance(data.get("leader"), dict) else None,
        )


def plan_header(plan: Plan, reason: str, origin: str, action: str | None) -> dict[str, Any]:
    """The journal's first entry of a plan: enough to finish it after a crash."""
    return {
        "plan_kind": plan.kind, "group": plan.group, "target": plan.target, "reason": reason,
        "origin": origin, "action": action,
        "steps": [
            {"device": s.device, "description": s.description, "operation": s.operation, "lines": list(s.lines),
             "values": s.values.to_json() if s.values is not None else None,
             "expect": {"master": s.expect.master, "settle": s.expect.settle}}
            for s in plan.steps
        ],
    }


def _steps(raw: Any) -> tuple[Step, ...] | None:
    """The journaled steps, each with its change (operation and values) rebuilt and checked again.

    A step journaled without values (by a netha before structured changes) is lines only, pushed
    as they are; values that do not check (a damaged journal) make the plan not finishable (None:
    recovery rolls back instead)."""
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        return None
    try:
        steps = []
        for s in raw:
            operation = str(s["operation"])
            if operation != "garp":
                check_operation(operation)
            values = ChangeValues.from_json(s["values"]) if s.get("values") is not None else None
            steps.append(Step(str(s["device"]), str(s["description"]), operation,  # type: ignore[arg-type]
                              tuple(str(x) for x in s["lines"]),
                              Expect(s["expect"].get("master"), float(s["expect"].get("settle", 0.0))), values))
        return tuple(steps)
    except (KeyError, TypeError, ValueError, AttributeError, TemplateError):
        return None


def config_state(running: str | None, snapshot: str, pushed: str | None, redacted: bool = False) -> ConfigState:
    """Whose is the config a device runs now: as before the plan, as netha pushed it, or someone else's.

    ``redacted``: ``snapshot`` and ``pushed`` come from the shared journal in etcd, secrets redacted;
    the running config is compared redacted too (a change of a secret alone is not seen)."""
    if running is None:
        return "unreadable"
    if redacted:
        body = redact_config(running)  # redacting a redacted config changes nothing: either side may be either
        if body == redact_config(snapshot):
            return "snapshot"
        if pushed is not None and body == redact_config(pushed):
            return "pushed"
        return "other"
    body = config_body(running)
    if body == config_body(snapshot):
        return "snapshot"
    if pushed is not None and body == config_body(pushed):
        return "pushed"
    return "other"


@dataclass(frozen=True)
class Resolution:
    kind: ResolutionKind
    reason: str
    rollback: tuple[str, ...] = ()  # devices to restore to their snapshot (newest change first)
    foreign: tuple[str, ...] = ()  # devices changed by someone else since netha pushed: left alone
    unreadable: tuple[str, ...] = ()  # devices whose config cannot be read now: rollback stays pending
    details: dict[str, str] = field(default_factory=dict)


def resolve(rec: PlanRecord, states: dict[str, ConfigState], target_holds: bool | None, now: float,
            max_age: float = MAX_PLAN_AGE) -> Resolution:
    """The one thing to do with an open plan. Pure.

    ``states``: the config state of each device the plan touched; ``target_holds``: the plan's
    target is the group's only master and healthy (None: cannot be told now).
    """
    age = now - rec.started
    if age > max_age:
        return Resolution("stale", f"left open {age / 60:.0f} min ago (more than {max_age / 60:.0f} min): "
                                   "reported, not replayed; check the devices by hand")
    if rec.step_count and len(rec.done) >= rec.step_count:
        return Resolution("close", "every step was done and verified before the crash")
    mine = [d for d in rec.touched if states.get(d) == "pushed"]
    foreign = tuple(d for d in rec.touched if states.get(d) == "other")
    unreadable = tuple(d for d in rec.touched if states.get(d) == "unreadable")
    if target_holds and rec.steps is not None:
        return Resolution("finish", f"{rec.target} is the only master and healthy: finishing from step "
                                    f"{rec.next_step} of {rec.step_count}", foreign=foreign, unreadable=unreadable)
    if not mine and not foreign and not unreadable:
        return Resolution("nothing", "no device holds any change of the plan (every config equals its snapshot)")
    why = ("its target is not the only healthy master" if target_holds is False
           else "its target cannot be checked now" if target_holds is None
           else "the journal holds no whole steps to finish it")
    return Resolution("rollback", f"{why}: restoring what netha changed", rollback=tuple(reversed(mine)),
                      foreign=foreign, unreadable=unreadable)
