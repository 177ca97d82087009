"""Safe push: snapshot, push step by step, verify, and roll back everything if anything fails.

Never half-applied: either every step is pushed and the expected master is verified, or every
device the plan touched is restored to its snapshot (and the running config compared with it),
and the outcome says which. Every step is written to the journal before (intent) and after
(result), so a controller that dies mid-plan can finish or undo it when it starts again.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from contextlib import ExitStack
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..connect import Sessions  # noqa: F401 - re-exported: the one session pool
from ..coordination import Coordinator, Fenced, Token
from ..drivers import NetworkDriver
from ..drivers.textconfig import config_body, unified_diff
from ..errors import ConnectionFailed, NethaError
from ..inventory import Inventory
from ..health import Assessment, advert_sources, assess, canonical_address
from ..observe.types import AdvertSource, DeviceObservation, ProbeResult, Snapshot
from ..store import JournalEntry, SnapshotRecord, Store, restore_secrets
from .plan import Expect, Plan, Step
from .recover import MAX_PLAN_AGE, ConfigState, PlanRecord, Resolution, config_state, plan_header, resolve

log = logging.getLogger(__name__)
T = TypeVar("T")


class PlanJournal(Protocol):
    """The plan journal: :class:`netha.store.Store` (local) or netha.coordination.journal.EtcdJournal."""

    def journal(self, plan_id: str, step: int, kind: str, payload: dict[str, Any], device: str | None = None,
                token: object | None = None, strict: bool = False) -> None: ...

    def save_plan_snapshot(self, plan_id: str, device: str, config: str, reason: str,
                           token: object | None = None) -> int: ...

    def plan_snapshot(self, plan_id: str, snapshot_id: int) -> SnapshotRecord: ...

    def open_plans(self) -> list[tuple[str, list[JournalEntry]]]: ...

    def journal_entries(self, plan_id: str) -> list[JournalEntry]: ...

    def pending_rollbacks(self) -> list[JournalEntry]: ...


@dataclass(frozen=True)
class StepResult:
    number: int
    device: str
    description: str
    ok: bool
    detail: str
    seconds: float


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    ok: bool
    rolled_back: bool
    message: str
    steps: tuple[StepResult, ...]
    seconds: float  # command start to verified master (or to the end of rollback)
    diffs: dict[str, str] = field(default_factory=dict)
    snapshots: dict[str, int] = field(default_factory=dict)


# A test hook may pause or kill a plan at a named point ("after-snapshots", "before-step-2",
# "after-push-1", "after-record-1", "after-verify-1", "before-close").
Hook = Callable[[str], None]


def hook_from_env() -> Hook:
    """Test hooks for the fault-injection suite (never set in production):

    - ``NETHA_TEST_PAUSE=POINT:FILE``: at POINT, write FILE and wait until it is removed;
    - ``NETHA_TEST_KILL=POINT``: at POINT, the process kills itself with SIGKILL (a crash, no clean-up);
    - ``NETHA_TEST_RAISE=POINT``: at POINT, raise a RuntimeError (an unexpected exception).
    """
    pause = os.environ.get("NETHA_TEST_PAUSE")
    kill = os.environ.get("NETHA_TEST_KILL")
    boom = os.environ.get("NETHA_TEST_RAISE")
    if not (pause or kill or boom):
        return lambda point: None
    point, _, marker = (pause or "").partition(":")

    paused: list[str] = []

    def hook(reached: str) -> None:
        if kill and reached == kill:
            log.warning("test hook: killed at %s", reached)
            os.kill(os.getpid(), signal.SIGKILL)
        if boom and reached == boom:
            raise RuntimeError(f"test hook: unexpected exception at {reached}")
        if pause and reached == point and not paused:  # once: later plans reach the same point
            paused.append(point)
            log.warning("test hook: paused at %s", point)
            Path(marker).write_text(str(os.getpid()))
            while Path(marker).exists():
                time.sleep(0.05)

    return hook


def describe(exc: BaseException) -> str:
    """One line for any exception: netha's own say what happened; others name their type."""
    if isinstance(exc, NethaError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Recovered:
    """What recovery did with one open plan."""

    record: PlanRecord
    resolution: Resolution
    ok: bool
    message: str

    def __str__(self) -> str:
        return self.message


class Executor:
    def __init__(
        self,
        inv: Inventory,
        store: Store,
        sessions: Sessions,
        adverts: Callable[[], tuple[AdvertSource, ...]] | None = None,
        garp: Callable[[str, str, str], None] | None = None,
        verify_timeout: float = 3.0,
        rollback_timeout: float = 30.0,
        hook: Hook | None = None,
        fence: Coordinator | None = None,
        journal: PlanJournal | None = None,
    ):
        """``fence``: the leadership; with it, a plan starts only under a leadership token and every
        push (and rollback) is preceded by ``fence.check(token)``: a deposed leader touches nothing.
        ``journal``: where plans are journaled and open plans read (default: ``store``, this host's
        SQLite; with etcd, the shared journal a leader on another host reads)."""
        self.inv = inv
        self.fence = fence
        self.journal: PlanJournal = journal if journal is not None else store
        self._tls = threading.local()  # the leadership token of the plan this thread runs
        self.store = store
        self.sessions = sessions
        self.adverts = adverts
        self.garp = garp
        self.verify_timeout = verify_timeout
        self.rollback_timeout = rollback_timeout
        self.hook = hook or (lambda point: None)

    # -- the plan ------------------------------------------------------------------------------
    def run(self, plan: Plan, reason: str = "", origin: str = "manual", action: str | None = None) -> Outcome:
        """Snapshot, push, verify; on any failure (or any exception) roll back what the plan touched."""
        t0 = time.monotonic()
        with ExitStack() as critical:
            if plan.kind == "emergency" and plan.steps:
                # From the decision to the failed master's resign nothing else is read from it: the
                # reads an event set off wait (that device is being changed anyway).
                critical.enter_context(self.sessions.reserve(plan.steps[0].device))
            return self._run(plan, reason, origin, action, t0, critical)

    def _run(self, plan: Plan, reason: str, origin: str, action: str | None, t0: float,
             critical: ExitStack) -> Outcome:
        try:
            token = self._begin(f"{plan.kind} of {plan.group}", plan.group)
        except Fenced as exc:
            msg = f"{plan.kind} of {plan.group} not started: {exc}; nothing was changed"
            self.store.audit(plan.kind, "fenced", plan.group, plan.target, msg)
            return Outcome(plan, False, False, msg, (), time.monotonic() - t0)
        header = plan_header(plan, reason, origin, action)
        if token is not None:
            header["leader"] = token.to_json()  # the lease revision this plan runs under (fencing)
        try:
            self._jot(plan.id, 0, "plan", header)
        except NethaError as exc:  # Fenced, or the shared journal cannot be written: nothing is done blind
            msg = f"{plan.kind} of {plan.group} not started: {describe(exc)}; nothing was changed"
            self.store.audit(plan.kind, "fenced" if isinstance(exc, Fenced) else "refused", plan.group, plan.target, msg)
            return Outcome(plan, False, False, msg, (), time.monotonic() - t0)
        snapshots: dict[str, int] = {}
        before: dict[str, str] = {}
        # Every device is backed up before its first change. An emergency plan backs up only the
        # device of its first change now (the failed master's resign, which ends the black hole) and
        # each other device right before its own first change (_steps): the LAN does not wait for
        # the new master's config to be read. Every other plan backs up all its devices first, so
        # that one unreadable device means nothing was changed.
        upfront = plan.devices[:1] if plan.kind == "emergency" else plan.devices
        for dev in upfront:
            try:
                before[dev] = self._snapshot(plan, dev, snapshots)
            except Exception as exc:  # noqa: BLE001 - any failure here means: change nothing
                msg = f"could not back up {dev} before the change ({describe(exc)}); nothing was changed"
                self._close(plan, "failed", msg)
                self.store.audit(plan.kind, "refused", plan.group, dev, msg)
                return Outcome(plan, False, True, msg, (), time.monotonic() - t0)
        try:
            self._jot(plan.id, 0, "snapshots", {"snapshots": snapshots})
            self.hook("after-snapshots")
        except Exception as exc:  # noqa: BLE001
            msg = f"{plan.kind} of {plan.group} stopped before any change ({describe(exc)}); nothing was changed"
            self._close(plan, "failed", msg)
            self.store.audit(plan.kind, "failed", plan.group, None, msg)
            return Outcome(plan, False, True, msg, (), time.monotonic() - t0, {}, snapshots)
        return self._steps(plan, 1, snapshots, before, [], {}, t0, critical)

    def _steps(self, plan: Plan, first: int, snapshots: dict[str, int], before: dict[str, str],
               touched: list[str], pushed: dict[str, str | None], t0: float,
               critical: ExitStack | None = None) -> Outcome:
        """Push steps ``first``.. of ``plan``; ``pushed``: device -> config right after netha's push
        (None: netha pushed to it in this process and could not read it back: still netha's)."""
        results: list[StepResult] = []
        # An emergency plan whose target is master (its old master resigned) has reached a safe state:
        # a later failure (the pin, a read) undoes only the target's own change, never the resign,
        # which would hand the LAN back to the master that failed.
        checkpoint = first > 1 and plan.kind == "emergency"
        for n, step in enumerate(plan.steps, 1):
            if n < first:
                continue
            started = time.monotonic()
            try:
                self.hook(f"before-step-{n}")
                if step.lines and step.device not in snapshots:
                    # Backed up right before its first change, before its intent (an emergency plan's later devices).
                    before[step.device] = self._snapshot(plan, step.device, snapshots)
                    self._jot(plan.id, n, "snapshots", {"snapshots": {step.device: snapshots[step.device]}})
                self._jot(plan.id, n, "intent", {"description": step.description, "lines": list(step.lines)},
                          step.device, strict=True)  # in etcd: refused (Fenced) once the leadership has ended
                self.hook(f"after-intent-{n}")
                if step.lines and step.device not in touched:
                    touched.append(step.device)
                if step.lines:
                    pushed.setdefault(step.device, None)
                self._fence_check()  # the leadership still holds, proved right before the push
                self._apply(plan, step)
                if critical is not None:
                    critical.close()  # the first push is out: polls of the device go on
                self.hook(f"after-push-{n}")
                if step.lines:
                    pushed[step.device] = self._record_pushed(plan, n, step.device)
                    self.hook(f"after-record-{n}")
                if step.expect.master:
                    self._verify(plan, step, started)
                self.hook(f"after-verify-{n}")
                self._jot(plan.id, n, "done", {"seconds": round(time.monotonic() - started, 4)}, step.device)
            except Fenced as exc:
                # Deposed (or paused past its lease): nothing more is pushed, nothing rolled back by
                # this controller; the plan stays open in the journal and the leader resolves it.
                results.append(StepResult(n, step.device, step.description, False, str(exc), time.monotonic() - started))
                self._jot(plan.id, n, "fenced", {"error": str(exc)}, step.device)
                msg = (f"{plan.kind} of {plan.group}: step {n} ({step.description}) not pushed: {exc}; "
                       "left open for the leader to finish or roll back")
                self.store.audit(plan.kind, "fenced", plan.group, step.device, msg)
                log.error("%s", msg)
                return Outcome(plan, False, False, msg, tuple(results), time.monotonic() - t0, {}, snapshots)
            except Exception as exc:  # noqa: BLE001 - a parser's ValueError is a failed step too, never a half-applied plan
                if not isinstance(exc, NethaError):
                    log.error("%s: step %d on %s raised an unexpected exception; rolling back", plan.group, n,
                              step.device, exc_info=True)
                results.append(StepResult(n, step.device, step.description, False, describe(exc), time.monotonic() - started))
                self._jot(plan.id, n, "failed", {"error": describe(exc)}, step.device)
                if plan.kind == "emergency" and (checkpoint or self._target_is_master(plan, step, started)):
                    after = [d for d in touched if d == plan.target]
                    rolled, detail = self.rollback(plan.id, after, snapshots, pushed)
                    if rolled:
                        msg = (f"{plan.kind} of {plan.group}: {plan.target} is master (verified); step {n} "
                               f"({step.description}) failed: {describe(exc)}; undone alone: "
                               f"{', '.join(after) or 'no device'} restored, the verified state kept")
                        self._close(plan, "done-partial", msg)
                        self.store.audit(plan.kind, "partial", plan.group, step.device, msg)
                        return Outcome(plan, True, False, msg, tuple(results), time.monotonic() - t0, {}, snapshots)
                rolled, detail = self.rollback(plan.id, list(touched), snapshots, pushed)
                msg = f"step {n} ({step.description}) failed: {describe(exc)}; " + (
                    f"rolled back: {', '.join(touched) or 'no device'} restored to its snapshot"
                    if rolled else f"ROLLBACK INCOMPLETE: {detail}"
                )
                self._close(plan, "rolled-back" if rolled else "rollback-incomplete", msg)
                self.store.audit(plan.kind, "rolled-back" if rolled else "rollback-incomplete", plan.group,
                                 step.device, msg)
                return Outcome(plan, False, rolled, msg, tuple(results), time.monotonic() - t0, {}, snapshots)
            results.append(StepResult(n, step.device, step.description, True, "", time.monotonic() - started))
            if plan.kind == "emergency" and step.expect.master == plan.target:
                checkpoint = True
        elapsed = time.monotonic() - t0
        try:
            self.hook("before-close")
        except Exception as exc:  # noqa: BLE001 - every step is verified: the plan stands
            log.error("hook before close: %s", describe(exc))
        msg = f"{plan.kind} of {plan.group}: {plan.target} is master (verified in {elapsed:.2f}s)"
        diffs: dict[str, str] = {}
        try:
            diffs = self._diffs(before)
            self._close(plan, "done", msg)
            for dev, diff in diffs.items():
                self.store.audit(plan.kind, "ok", plan.group, dev, msg, diff)
        except Exception as exc:  # noqa: BLE001 - every step is verified: the change stands; the record is late
            log.error("%s: plan %s verified but not closed in the journal (%s); the next start closes it",
                      plan.group, plan.id, describe(exc), exc_info=not isinstance(exc, NethaError))
            msg += f"; not recorded as closed ({describe(exc)})"
        return Outcome(plan, True, False, msg, tuple(results), elapsed, diffs, snapshots)

    def _target_is_master(self, plan: Plan, step: Step, started: float) -> bool:
        """After a failed step: is the plan's target the only master anyway (within the step's settle time)?"""
        expect = Expect(master=plan.target, settle=max(step.expect.settle, self.inv.groups[plan.group].advert_interval * 4))
        try:
            self._verify(plan, Step(step.device, step.description, step.operation, (), expect), started)
        except Exception as exc:  # noqa: BLE001
            log.info("%s: %s is not master after the failure: %s", plan.group, plan.target, describe(exc))
            return False
        return True

    def _on_device(self, device: str, what: str, use: Callable[[NetworkDriver], T]) -> T:
        """``use(driver)`` on the device's session; a session that dropped (a stale warm session, a
        reset: the takeover goes before the poll that would have noticed) is logged in again and
        ``use`` runs once more. Every use here is a read or a change that sets a value: twice is once."""
        try:
            with self.sessions.session(device, urgent=True) as drv:
                return use(drv)
        except ConnectionFailed as exc:
            log.warning("%s: session lost during the %s (%s); again on a new session", device, what, exc)
            with self.sessions.session(device, urgent=True) as drv:
                return use(drv)

    def _snapshot(self, plan: Plan, device: str, snapshots: dict[str, int]) -> str:
        """Read ``device``'s running config and journal it as the plan's snapshot of it; its text."""
        cfg = self._on_device(device, "backup", lambda drv: drv.get_config())
        snapshots[device] = self.journal.save_plan_snapshot(
            plan.id, device, cfg, f"before {plan.kind} of {plan.group} (plan {plan.id})", **self._guard())
        return cfg

    def _record_pushed(self, plan: Plan, n: int, device: str) -> str | None:
        """Keep the config netha's push left on ``device``: recovery rolls back only what is still netha's."""
        try:
            cfg = self._on_device(device, "read-back", lambda drv: drv.get_config())
        except Exception as exc:  # noqa: BLE001 - the push itself went through; verification decides
            log.warning("%s: config after step %d could not be read: %s", device, n, describe(exc))
            return None
        try:
            sid = self.journal.save_plan_snapshot(plan.id, device, cfg,
                                                  f"after step {n} of {plan.kind} of {plan.group} (plan {plan.id})",
                                                  **self._guard())
        except NethaError as exc:
            log.error("%s: config after step %d not journaled: %s", device, n, describe(exc))
            return cfg
        self._jot(plan.id, n, "pushed", {"snapshot": sid}, device)
        return cfg

    def _close(self, plan: Plan, result: str, message: str) -> None:
        self._jot(plan.id, len(plan.steps) + 1, "closed", {"result": result, "message": message})

    def _apply(self, plan: Plan, step: Step) -> None:
        if step.operation == "garp":
            self._announce(plan, step)
            return
        self._on_device(step.device, "push", lambda drv: self._push(drv, step))

    @staticmethod
    def _push(drv: NetworkDriver, step: Step) -> str:
        """The driver applies the step's change; a step without one (journaled by an older netha)
        is its lines, pushed as they are."""
        if step.values is not None and step.operation != "garp":
            return drv.apply_change(step.operation, step.values)
        return drv.load_config(step.lines)

    def _announce(self, plan: Plan, step: Step) -> None:
        group = self.inv.groups[plan.group]
        iface = group.interface_of(step.device)
        with self.sessions.session(step.device, urgent=True) as drv:
            mac = drv.get_interface_details().get(iface, {}).get("mac")
        how = "gratuitous ARP" if group.family == 4 else "unsolicited Neighbor Advertisements"
        if self.garp is None:
            log.warning("%s: no listener on %s's segment: %s not sent", plan.group, step.device, how)
            return
        for vip in group.virtual_addresses:  # the announcer sends ARP for IPv4, unsolicited NAs for IPv6
            self.garp(plan.group, str(vip.ip), str(mac) if mac else "")

    # -- verification ----------------------------------------------------------------------------
    def _verify(self, plan: Plan, step: Step, started: float) -> None:
        group = self.inv.groups[plan.group]
        target = step.expect.master
        deadline = started + step.expect.settle + self.verify_timeout
        last = "no observation"
        while True:
            ok, last = self._observe_master(plan.group, target, started)
            if ok:
                return
            if time.monotonic() > deadline:
                raise NethaError(f"{target} not verified as master of {plan.group} within "
                                 f"{step.expect.settle + self.verify_timeout:.1f}s: {last}")
            time.sleep(min(0.02, group.advert_interval / 5))

    def _look(self, gname: str) -> Assessment:
        """One look at a group's members, judged by the health model: one rule for who is master,
        the same for the controller's decisions and for verifying its own changes."""
        now = time.monotonic()
        devices: dict[str, DeviceObservation] = {}
        for m in self.inv.groups[gname].members:
            try:
                with self.sessions.session(m.device, urgent=True) as drv:
                    reading = drv.read()
            except Exception as exc:  # noqa: BLE001 - unreadable, whatever the reason
                log.info("%s: not readable: %s", m.device, describe(exc))
                devices[m.device] = DeviceObservation(m.device, ssh=ProbeResult(False, now, describe(exc)))
                continue
            devices[m.device] = DeviceObservation(
                m.device, ssh=ProbeResult(True, now), vrrp=reading.vrrp, vrrp_source="ssh",
                interfaces=dict(reading.interfaces), routes=dict(reading.routes), addresses=dict(reading.addresses),
                notes=reading.notes)
        return assess(self.inv, Snapshot(at=now, wall=time.time(), devices=devices))

    def _observe_master(self, gname: str, target: str, since: float) -> tuple[bool, str]:
        group = self.inv.groups[gname]
        look = self._look(gname)
        gh = look.groups[gname]
        if gh.members[target].health in ("unreachable", "failed", "unknown"):
            return False, f"{target} cannot be read ({gh.members[target].reason})"
        masters = gh.masters.get("ssh", [])
        if masters != [target]:
            unknown = [d for d, mh in gh.members.items() if mh.health in ("unreachable", "failed", "unknown")]
            return False, f"masters seen: {', '.join(masters) or 'none'}" + (f"; unreadable: {', '.join(unknown)}" if unknown else "")
        if self.adverts is not None and group.mode == "vrrp":
            # Only where the listener covers this group's segment (it has heard one of its members):
            # a group without a listener leg is verified on the devices alone. A member's adverts come
            # from its inventory address (IPv4) or from a link-local address it reports (IPv6: the
            # health model's mapping, from the read just made).
            lls = look.state.link_locals
            mine = advert_sources(group, target, lls)
            members = set().union(*(advert_sources(group, m.device, lls) for m in group.members))
            covering = [a for a in self.adverts() if a.vrid == group.vrid and getattr(a, "family", 4) == group.family
                        and canonical_address(a.source) in members]
            heard = [a for a in covering if canonical_address(a.source) in mine]
            if mine and covering and not any(a.last_seen >= since and a.priority > 0 for a in heard):
                return False, f"{target} reports master but its advertisements are not heard yet"
        return True, "ok"

    # -- crash recovery ---------------------------------------------------------------------------
    def recover(self, healthy: Callable[[str, str], bool | None] | None = None, now: float | None = None,
                max_age: float = MAX_PLAN_AGE, only: frozenset[str] | None = None) -> list[Recovered]:
        """Resolve every plan a previous controller left open, against what the devices say now,
        then retry every rollback still pending. ``healthy(group, device)``: the device is healthy as
        a member of the group now (None: not known; without it only the devices' VRRP state counts)."""
        done: list[Recovered] = []
        held = self.fence.held_groups() if self.fence is not None else None
        if held is not None and only is not None:
            held = held & only  # the groups just taken: plans of groups held before may be in flight here
        if held is None:
            try:
                self._begin("recovery of open plans")
            except Fenced as exc:
                log.warning("open plans left for the leader: %s", exc)
                return done
        for plan_id, entries in self.journal.open_plans():
            try:
                rec = PlanRecord.from_entries(plan_id, entries)
                if held is not None:  # scope group: a plan is resolved by the holder of its group's lease
                    if rec.group not in held:
                        continue
                    self._begin(f"recovery of plan {plan_id}", rec.group)
                done.append(self._recover_one(rec, healthy, now, max_age))
            except Exception as exc:  # noqa: BLE001 - one plan must not stop the recovery of the others
                msg = f"plan {plan_id}: recovery failed: {describe(exc)}; left open"
                log.error("%s", msg, exc_info=not isinstance(exc, NethaError))
                self.store.audit("recover", "failed", None, None, msg)
        done.extend(self.retry_pending())
        return done

    def _recover_one(self, rec: PlanRecord, healthy: Callable[[str, str], bool | None] | None,
                     now: float | None, max_age: float) -> Recovered:
        states: dict[str, ConfigState] = {}
        running: dict[str, str | None] = {}
        for dev in rec.touched:
            running[dev] = self._read_config(dev)
            snap = self.journal.plan_snapshot(rec.id, rec.snapshots[dev]) if dev in rec.snapshots else None
            pushed = self.journal.plan_snapshot(rec.id, rec.pushed[dev]).config if dev in rec.pushed else None
            states[dev] = (config_state(running[dev], snap.config, pushed, redacted=snap.redacted)
                           if snap is not None else "unreadable")
        holds = self._target_holds(rec, healthy)
        res = resolve(rec, states, holds, time.time() if now is None else now, max_age)
        ok = True
        if res.kind == "finish":
            outcome = self._steps(rec.plan(), rec.next_step, rec.snapshots, {d: c for d, c in running.items() if c},
                                  list(rec.touched), {d: running[d] for d in rec.touched if states[d] in ("pushed", "snapshot")},
                                  time.monotonic())
            ok = outcome.ok
            message = f"{rec.what}: {res.reason}; " + outcome.message
            return self._recovered(rec, res, ok, message, close=False)
        if res.kind == "rollback":
            ok, detail = self.rollback(rec.id, list(reversed(res.rollback)), rec.snapshots,
                                       {d: running[d] for d in res.rollback})
            for dev in res.unreadable:
                self._jot(rec.id, 0, "rollback-pending",
                                   {"snapshot": rec.snapshots.get(dev), "error": f"{dev}: config unreadable at recovery"}, dev)
            ok = ok and not res.unreadable and not res.foreign
            message = f"{rec.what} was interrupted after {len(rec.done)}/{rec.step_count} steps; {res.reason}: " + (
                f"rolled back {', '.join(res.rollback) or 'nothing'}" + (f" ({detail})" if detail else ""))
        else:
            message = f"{rec.what}: {res.reason}"
            ok = res.kind != "stale"
        if res.foreign:
            message += (f"; NOT rolled back (changed by someone else since netha pushed; check by hand): "
                        f"{', '.join(res.foreign)}")
        if res.unreadable:
            message += f"; unreadable now, rollback pending and retried: {', '.join(res.unreadable)}"
        return self._recovered(rec, res, ok, message, close=True)

    def _recovered(self, rec: PlanRecord, res: Resolution, ok: bool, message: str, close: bool) -> Recovered:
        if close:
            self._jot(rec.id, rec.step_count + 1, "closed",
                               {"result": f"recovered-{res.kind}" if ok else f"recovery-{res.kind}-incomplete",
                                "message": message})
        self.store.audit("recover", "ok" if ok else "attention", rec.group, None, message)
        (log.warning if ok else log.error)("%s", message)
        return Recovered(rec, res, ok, message)

    def _read_config(self, device: str) -> str | None:
        try:
            with self.sessions.session(device, urgent=True) as drv:
                return drv.get_config()
        except Exception as exc:  # noqa: BLE001
            log.warning("%s: config not readable: %s", device, describe(exc))
            return None

    def _target_holds(self, rec: PlanRecord, healthy: Callable[[str, str], bool | None] | None) -> bool | None:
        if rec.group not in self.inv.groups or rec.target is None:
            return False
        try:
            only, _ = self._observe_master(rec.group, rec.target, 0.0)
        except Exception as exc:  # noqa: BLE001
            log.warning("%s: master not readable: %s", rec.group, describe(exc))
            return None
        if not only:
            return False
        return True if healthy is None else healthy(rec.group, rec.target)

    def retry_pending(self) -> list[Recovered]:
        """Retry every rollback left pending (device unreachable at the time); never forget one."""
        out: list[Recovered] = []
        held = self.fence.held_groups() if self.fence is not None else None
        if held is None:
            try:
                self._begin("retry of pending rollbacks")
            except Fenced:
                return out
        for e in self.journal.pending_rollbacks():
            dev = e.device
            if dev is None or dev not in self.inv.devices:
                continue
            entries = self.journal.journal_entries(e.plan_id)
            rec = PlanRecord.from_entries(e.plan_id, entries)
            if held is not None:  # scope group: the holder of the plan's group retries it
                if rec.group not in held:
                    continue
                try:
                    self._begin(f"retry of plan {e.plan_id}", rec.group)
                except Fenced:
                    continue
            sid = rec.snapshots.get(dev)
            running = self._read_config(dev)
            if running is None or sid is None:
                continue  # still unreachable: stays pending, retried later
            pushed = self.journal.plan_snapshot(e.plan_id, rec.pushed[dev]).config if dev in rec.pushed else None
            snap = self.journal.plan_snapshot(e.plan_id, sid)
            state = config_state(running, snap.config, pushed, redacted=snap.redacted)
            if state == "snapshot":
                self._jot(e.plan_id, 0, "rolled-back", {"snapshot": sid, "note": "already equal"}, dev)
                msg, ok = f"{rec.what}: {dev} already equals snapshot {sid}: pending rollback closed", True
            elif state == "pushed":
                ok, detail = self.rollback(e.plan_id, [dev], rec.snapshots, {dev: running})
                msg = f"{rec.what}: pending rollback of {dev} " + ("done" if ok else f"failed again: {detail}")
            else:
                self._jot(e.plan_id, 0, "rollback-abandoned", {"snapshot": sid}, dev)
                msg, ok = (f"{rec.what}: pending rollback of {dev} abandoned: its config was changed by someone "
                           f"else since netha pushed; not overwritten, check by hand"), False
            self.store.audit("recover", "ok" if ok else "attention", rec.group, dev, msg)
            (log.warning if ok else log.error)("%s", msg)
            out.append(Recovered(rec, Resolution("rollback", "pending rollback retried"), ok, msg))
        return out

    # -- rollback ---------------------------------------------------------------------------------
    def rollback(self, plan_id: str, devices: list[str], snapshots: dict[str, int],
                 pushed: dict[str, str | None] | None = None) -> tuple[bool, str]:
        """Restore each device to its snapshot, newest change first; retry while a device is unreachable.

        ``pushed``: the config netha left on each device (None: netha's push in this very process,
        not read back). A device whose running config is neither its snapshot nor what netha pushed
        was changed by someone else: it is never overwritten. With ``pushed`` given, a device missing
        from it is not netha's to undo (e.g. found changed by someone else at recovery)."""
        problems = []
        for dev in reversed(devices):
            snap = self.journal.plan_snapshot(plan_id, snapshots[dev])
            if pushed is not None and dev not in pushed:
                problem = f"{dev}: config not netha's (changed by someone else); not overwritten"
                problems.append(problem)
                self._jot(plan_id, 0, "rollback-abandoned", {"snapshot": snap.id, "error": problem}, dev)
                continue
            self._jot(plan_id, 0, "rollback", {"snapshot": snap.id}, dev)
            deadline = time.monotonic() + self.rollback_timeout
            guard = pushed.get(dev) if pushed is not None else None
            while True:
                try:
                    self._fence_check()
                except Fenced as exc:
                    problems.append(f"{dev}: {exc}")
                    self._jot(plan_id, 0, "rollback-pending", {"snapshot": snap.id, "error": str(exc)}, dev)
                    break
                try:
                    with self.sessions.session(dev, urgent=True) as drv:
                        target = snap.config
                        if guard is not None or snap.redacted:
                            running = drv.get_config()
                            state = (config_state(running, snap.config, guard, redacted=snap.redacted)
                                     if guard is not None else "pushed")
                            if state == "other":
                                problem = (f"{dev}: running config changed by someone else since netha pushed; "
                                           "not overwritten")
                                problems.append(problem)
                                self._jot(plan_id, 0, "rollback-abandoned", {"snapshot": snap.id, "error": problem}, dev)
                                break
                            if snap.redacted:  # the shared journal's snapshot: its secrets are the device's own
                                restored = restore_secrets(snap.config, running)
                                if restored is None:
                                    problem = (f"{dev}: snapshot {snap.id}'s secrets are no longer on the device: "
                                               "it cannot be restored from the shared journal; not overwritten")
                                    problems.append(problem)
                                    self._jot(plan_id, 0, "rollback-abandoned",
                                              {"snapshot": snap.id, "error": problem}, dev)
                                    break
                                target = restored
                        drv.replace_config(target)
                        now = drv.get_config()
                    if config_body(now) == config_body(target):
                        self._jot(plan_id, 0, "rolled-back", {"snapshot": snap.id}, dev)
                        break
                    problem = f"{dev}: running config still differs from snapshot {snap.id}"
                except Exception as exc:  # noqa: BLE001 - keep trying until the deadline, whatever it is
                    problem = f"{dev}: {describe(exc)}"
                if time.monotonic() > deadline:
                    problems.append(problem)
                    self._jot(plan_id, 0, "rollback-pending", {"snapshot": snap.id, "error": problem}, dev)
                    break
                time.sleep(0.5)
        return (not problems), "; ".join(problems)

    # -- fencing ------------------------------------------------------------------------------------
    def _begin(self, what: str, group: str | None = None) -> Token | None:
        """The leadership token for the plan (or recovery) this thread starts, on ``group`` (scope
        group: that group's lease); Fenced without one."""
        if self.fence is None:
            return None
        token = self.fence.token(group)
        if token is None:
            why = self.fence.why_not() or "not the leader"
            if group is not None and self.fence.held_groups() is not None:
                why = f"it holds no lease of group {group}"
            raise Fenced(f"{what}: controller {self.fence.id} does not lead ({why})")
        self._tls.token = token
        return token

    def _guard(self) -> dict[str, object]:
        """The shared journal's guard for this thread's plan (none for the local store)."""
        return {} if self.journal is self.store else {"token": getattr(self._tls, "token", None)}

    def _jot(self, plan_id: str, step: int, kind: str, payload: dict[str, Any], device: str | None = None,
             strict: bool = False) -> None:
        """One journal row, under this thread's leadership token (the shared journal checks it)."""
        if self.journal is self.store:  # the local journal needs no leadership
            self.store.journal(plan_id, step, kind, payload, device)
            return
        self.journal.journal(plan_id, step, kind, payload, device, token=getattr(self._tls, "token", None),
                             strict=strict)

    def _fence_check(self) -> None:
        if self.fence is None:
            return
        token: Token | None = getattr(self._tls, "token", None)
        if token is None:
            raise Fenced(f"controller {self.fence.id}: no leadership token for this push")
        self.fence.check(token)

    def _diffs(self, before: dict[str, str]) -> dict[str, str]:
        diffs = {}
        for dev, cfg in before.items():
            try:
                with self.sessions.session(dev, urgent=True) as drv:
                    after = drv.get_config()
            except Exception as exc:  # noqa: BLE001
                diffs[dev] = f"(config after the change could not be read: {describe(exc)})"
                continue
            diffs[dev] = unified_diff(config_body(cfg), config_body(after), dev)
        return diffs
