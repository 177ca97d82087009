"""One controller cycle: observe -> decide -> act, shared by the daemon (`netha run`) and `netha check`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

from ..errors import NethaError
from ..health import Assessment, HealthState, assess
from ..inventory import Inventory
from ..observe.types import Snapshot
from ..store import Store
from ..takeover.execute import Executor, Outcome, Recovered
from ..takeover.plan import Plan, Planner
from .decide import (ACTIONS, Action, Alert, Decision, Memory, acknowledge, action_ended, action_started, after_action,
                     decide, update_observations)
from .metrics import Metrics
from .persist import health_from_json, health_to_json, memory_from_json, memory_to_json
from .webhook import Webhook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CycleResult:
    assessment: Assessment
    decision: Decision
    outcome: Outcome | None  # the decision's outcome when it ran in the cycle (None while in flight)
    ended: tuple[Outcome, ...] = ()  # takeovers started in earlier cycles that ended before this one


@dataclass
class _InFlight:
    """A takeover carried out beside the loop (``concurrent=True``)."""

    decision: Decision
    devices: frozenset[str]
    decided_at: float
    future: Future[Outcome]


# Takeovers at once: groups on disjoint devices only (see decide()'s ``busy``); a shared failure of
# more groups than this waits for a worker.
MAX_CONCURRENT_TAKEOVERS = 4


class Controller:
    def __init__(
        self,
        inv: Inventory,
        store: Store,
        executor: Executor,
        metrics: Metrics | None = None,
        webhook: Webhook | None = None,
        dry_run: bool = False,
        persist_health: bool = False,
        concurrent: bool = False,
        wake: Callable[[], None] | None = None,
    ):
        """``concurrent``: carry actions out on worker threads, so that the next cycles go on deciding
        for groups on other devices (the daemon); otherwise an action ends inside its cycle (``check``,
        tests). ``wake`` is called when a takeover ends (the daemon's loop wakes to account for it)."""
        self.inv = inv
        self.store = store
        self.executor = executor
        self.planner = Planner(inv)
        if concurrent:
            self.planner.warm()  # the daemon: the first emergency plan renders, never compiles
        self.metrics = metrics
        self.webhook = webhook or Webhook(None)
        self.dry_run = dry_run
        self.persist_health = persist_health
        self.memory = memory_from_json(store.get("memory"))
        saved = health_from_json(store.get("health")) if persist_health else None
        # A controller acts on what it sees: at start, a bad state needs failure_threshold polls too.
        self.health: HealthState = saved or HealthState(strict_start=True)
        self._ack_seen = (store.get("ack") or {}).get("seq", 0)
        self._verdicts: dict[str, str] = {}
        self._bad_since: dict[str, float] = {}
        self._refused: dict[str, str] = {}  # group -> the last refusal said, so it is said once
        self.concurrent = concurrent
        self._wake = wake or (lambda: None)
        self._inflight: dict[str, _InFlight] = {}  # group -> its takeover in flight
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()  # the in-flight table: the loop's thread and the workers' callbacks

    # -- start-up ----------------------------------------------------------------------------------
    def lead(self) -> None:
        """This controller has just become the leader: it takes the memory the last leader kept
        (gates, storm brake, maintenance) and keeps what it observed meanwhile."""
        saved = memory_from_json(self.store.get("memory"))
        groups = dict(saved.groups)
        for g, gm in self.memory.groups.items():
            groups[g] = replace(groups[g], primary_healthy_since=gm.primary_healthy_since) if g in groups else gm
        self.memory = replace(saved, groups=groups)

    def recover(self, a: Assessment | None, only: frozenset[str] | None = None) -> list[Recovered]:
        """Resolve the plans a previous controller left open, judging the devices by ``a`` (one fresh
        look); an automatic plan that is finished now counts in the gates as if it had never stopped."""

        def healthy(group: str, device: str) -> bool | None:
            if a is None or group not in a.groups or device not in a.groups[group].members:
                return None
            return a.groups[group].members[device].health == "healthy" and a.devices[device].health == "healthy"

        done = self.executor.recover(healthy, only=only)
        now = time.monotonic()
        mem = self.memory
        for r in done:
            rec = r.record
            if self.metrics:
                self.metrics.recoveries.labels(r.resolution.kind, str(r.ok).lower()).inc()
            self.webhook.send("recovered", group=rec.group, plan=rec.id, resolution=r.resolution.kind, ok=r.ok,
                              message=r.message)
            if rec.origin == "auto" and rec.action in {a.value for a in ACTIONS} and rec.group in self.inv.groups \
                    and r.resolution.kind in ("finish", "close", "rollback"):
                d = Decision(Action(rec.action), rec.group, rec.target, "emergency", f"recovered plan {rec.id}")
                mem = after_action(self.inv, mem, d, r.ok and r.resolution.kind in ("finish", "close"), now)
            elif rec.origin == "auto" and rec.group in self.inv.groups and r.resolution.kind == "nothing":
                # The plan changed nothing (its leader died or was deposed before a push): the gates it
                # set when it started go with it, so the leader acts on the failure at once.
                mem = mem.with_group(rec.group, blocked_until=0.0, settling_until=0.0)
        if mem != self.memory:
            self.memory = mem
            self.store.put("memory", memory_to_json(mem, now))
        return done

    # -- operator inputs written by the CLI ------------------------------------------------------
    def _operator_inputs(self, mem: Memory) -> Memory:
        maintenance = frozenset(self.store.get("maintenance", []))
        if maintenance != mem.maintenance:
            mem = Memory(mem.groups, mem.actions, mem.braked, maintenance)
        ack = self.store.get("ack") or {}
        if ack.get("seq", 0) > self._ack_seen:
            self._ack_seen = ack["seq"]
            mem = acknowledge(mem, ack.get("group"))
            log.warning("acknowledged by %s%s: storm brake and block periods cleared", ack.get("by", "?"),
                        f" for {ack['group']}" if ack.get("group") else "")
        return mem

    # -- the cycle -------------------------------------------------------------------------------------
    def cycle(self, snap: Snapshot, act: bool = True, acting: frozenset[str] | None = None) -> CycleResult:
        """``act=False``: a follower's cycle (another controller leads): it observes, so that its
        health and damping are warm the moment it leads, and never decides, acts, alerts or writes
        the memory the leader keeps. ``acting`` (coordination scope group): the groups this
        controller holds the lease of; the others are observed only, as by a follower."""
        t0 = time.monotonic()
        a = assess(self.inv, snap, self.health)
        self.health = a.state
        now = time.monotonic()
        mem, ended = self._collect(self._operator_inputs(self.memory))
        mem = update_observations(self.inv, a, mem, now)
        self._log_changes(a)
        if self.metrics:
            self.metrics.observe(a)
            for name, obs in snap.devices.items():
                for probe in ("ssh", "snmp"):
                    r = getattr(obs, probe)
                    if r is not None and not r.ok:
                        self.metrics.probe_errors.labels(name, probe).inc(0)  # keep the series visible
        if not act:
            self.memory = mem  # kept in this process only: the leader's memory is the one in the store
            if self.metrics:
                self.metrics.cycle.observe(time.monotonic() - t0)
            return CycleResult(a, Decision(Action.NONE, reason="observing: another controller leads"), None, ended)
        busy = self.busy()
        if acting is not None:  # another controller's groups: no decision, no alert here
            busy = busy | frozenset(g for g in self.inv.groups if g not in acting)
        d = decide(self.inv, a, mem, now, busy)
        if self.dry_run and d.kind in ACTIONS:
            d = replace(d, dry_run=True)
        outcome = None
        acting = d.kind in ACTIONS and not d.dry_run
        if d.kind != "none" and not (acting and self._refused.get(d.group or "") == str(d)):
            log.warning("decision: %s", d, extra={"decision": d.kind, "group": d.group})
        if acting:
            plan = self._plan(d, a)
            if plan is not None:  # a refused plan changed nothing: it costs no gate
                mem = action_started(self.inv, mem, d, now)
                bad_since = self._bad_since.pop(d.group or "", None)
                if self.concurrent:
                    self._launch(d, plan, now, bad_since)
                else:
                    outcome = self._carry_out(d, plan, now, bad_since)
                    mem = action_ended(mem, d, outcome.ok)
        elif d.kind == Action.ALERT:
            event = d.alert.value if d.alert in (Alert.STORM_BRAKE, Alert.SPLIT_BRAIN) else "alert"
            self.webhook.send(event, group=d.group, reason=d.reason, alert=d.alert.value if d.alert else None)
            if self.metrics:
                self.metrics.alerts.labels(d.group or "", d.alert.value if d.alert else "alert").inc()
            self.store.audit("alert", "sent", d.group, None, d.reason)
            mem = after_action(self.inv, mem, d, True, now)
        elif d.dry_run:
            self.store.audit(d.kind, "dry-run", d.group, d.target, str(d))
        if mem != self.memory:
            self.store.put("memory", memory_to_json(mem, now))
            self.memory = mem
        if self.persist_health:
            self.store.put("health", health_to_json(a.state))
        if self.metrics:
            self.metrics.cycle.observe(time.monotonic() - t0)
        return CycleResult(a, d, outcome, ended)

    # -- carrying actions out ----------------------------------------------------------------------
    def busy(self) -> frozenset[str]:
        """The groups with a takeover in flight and the devices those takeovers touch."""
        with self._lock:
            return frozenset(self._inflight) | frozenset().union(*(f.devices for f in self._inflight.values()))

    def _plan(self, d: Decision, a: Assessment) -> Plan | None:
        assert d.group is not None
        try:
            if d.kind == Action.FAILBACK:
                plan = self.planner.failback(d.group, a)
            else:
                plan = self.planner.failover(d.group, d.target or "", a, "emergency")
        except NethaError as exc:
            # Said once per distinct decision: the same refusal every poll would flood log and audit.
            if self._refused.get(d.group) != str(d):
                log.warning("%s: cannot act: %s", d.group, exc)
                self.store.audit(d.kind, "refused", d.group, d.target, f"{d.reason}: {exc}")
                self._refused[d.group] = str(d)
            return None
        self._refused.pop(d.group, None)
        return plan

    def _launch(self, d: Decision, plan: Plan, decided_at: float, bad_since: float | None) -> None:
        """Start ``plan`` on a worker; the cycle that finds it ended accounts for it (:meth:`_collect`)."""
        assert d.group is not None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(MAX_CONCURRENT_TAKEOVERS, thread_name_prefix="netha-takeover")
        devices = frozenset(plan.devices) | frozenset(m.device for m in self.inv.groups[d.group].members)
        with self._lock:
            future = self._pool.submit(self._carry_out, d, plan, decided_at, bad_since)
            self._inflight[d.group] = _InFlight(d, devices, decided_at, future)
        future.add_done_callback(lambda _f: self._wake())

    def _collect(self, mem: Memory) -> tuple[Memory, tuple[Outcome, ...]]:
        """Account for the takeovers that ended since the last cycle."""
        with self._lock:
            done = {g: f for g, f in self._inflight.items() if f.future.done()}
            for g in done:
                del self._inflight[g]
        ended = []
        for group, f in done.items():
            try:
                outcome = f.future.result()
            except BaseException as exc:  # noqa: BLE001 - _carry_out catches everything; this is its bug
                log.error("%s: takeover ended with an unexpected exception: %s", group, exc, exc_info=exc)
                continue  # the executor's journal holds the plan open: recovery resolves it
            mem = action_ended(mem, f.decision, outcome.ok)
            ended.append(outcome)
        return mem, tuple(ended)

    def drain(self, timeout: float | None = None) -> Memory:
        """Wait for every takeover in flight (a stopping daemon never leaves one half done) and account for it."""
        with self._lock:
            futures = [f.future for f in self._inflight.values()]
        deadline = None if timeout is None else time.monotonic() + timeout
        for fut in futures:
            try:
                fut.exception(None if deadline is None else max(0.0, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 - a timeout: the journal keeps the plan for recovery
                pass
        mem, _ = self._collect(self.memory)
        if mem != self.memory:
            self.memory = mem
            self.store.put("memory", memory_to_json(mem, time.monotonic()))
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
        return mem

    def _carry_out(self, d: Decision, plan: Plan, t_decided: float, bad_since: float | None) -> Outcome:
        """Run the plan (on the loop's thread, or on a worker when ``concurrent``): touches no state
        of the loop's; metrics and the webhook are thread-safe."""
        assert d.group is not None
        outcome = self.executor.run(plan, reason=f"automatic: {d.reason}", origin="auto", action=d.kind)
        log.warning("%s", outcome.message, extra={"event": d.kind, "group": d.group})
        if self.metrics:
            if d.kind == Action.FAILBACK:
                self.metrics.failbacks.labels(d.group).inc()
            else:
                self.metrics.failovers.labels(d.group, "degraded" if d.kind == Action.FAILOVER else "failed").inc()
            if outcome.ok:
                self.metrics.takeover.labels(d.group).observe(time.monotonic() - t_decided)
            if bad_since is not None:
                self.metrics.detection.labels(d.group).observe(t_decided - bad_since)
        self.webhook.send(
            "failback" if d.kind == Action.FAILBACK else "failover",
            group=d.group, target=d.target, action=d.kind, reason=d.reason, ok=outcome.ok,
            rolled_back=outcome.rolled_back, message=outcome.message, seconds=round(outcome.seconds, 3),
        )
        return outcome

    def _log_changes(self, a: Assessment) -> None:
        now = time.monotonic()
        for name, g in a.groups.items():
            before = self._verdicts.get(name)
            if before != g.verdict:
                level = logging.INFO if g.verdict == "ok" else logging.WARNING
                log.log(level, "group %s: %s -> %s (%s)", name, before or "start", g.verdict, g.reason,
                        extra={"group": name, "event": "verdict"})
                self._verdicts[name] = g.verdict
                if g.verdict in ("ok", "failed-over"):
                    self._bad_since.pop(name, None)
                else:
                    self._bad_since.setdefault(name, now)
