"""One controller cycle: observe -> decide -> act, shared by the daemon (`netha run`) and `netha check`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from ..errors import NethaError
from ..health import Assessment, HealthState, assess
from ..inventory import Inventory
from ..observe.types import Snapshot
from ..store import Store
from ..takeover.execute import Executor, Outcome, Recovered
from ..takeover.plan import Planner
from .decide import ACTIONS, Action, Alert, Decision, Memory, acknowledge, after_action, decide, update_observations
from .metrics import Metrics
from .persist import health_from_json, health_to_json, memory_from_json, memory_to_json
from .webhook import Webhook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CycleResult:
    assessment: Assessment
    decision: Decision
    outcome: Outcome | None


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
    ):
        self.inv = inv
        self.store = store
        self.executor = executor
        self.planner = Planner(inv)
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

    # -- start-up ----------------------------------------------------------------------------------
    def recover(self, a: Assessment | None) -> list[Recovered]:
        """Resolve the plans a previous controller left open, judging the devices by ``a`` (one fresh
        look); an automatic plan that is finished now counts in the gates as if it had never stopped."""

        def healthy(group: str, device: str) -> bool | None:
            if a is None or group not in a.groups or device not in a.groups[group].members:
                return None
            return a.groups[group].members[device].health == "healthy" and a.devices[device].health == "healthy"

        done = self.executor.recover(healthy)
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
    def cycle(self, snap: Snapshot) -> CycleResult:
        t0 = time.monotonic()
        a = assess(self.inv, snap, self.health)
        self.health = a.state
        now = time.monotonic()
        mem = self._operator_inputs(self.memory)
        mem = update_observations(self.inv, a, mem, now)
        self._log_changes(a)
        if self.metrics:
            self.metrics.observe(a)
            for name, obs in snap.devices.items():
                for probe in ("ssh", "snmp"):
                    r = getattr(obs, probe)
                    if r is not None and not r.ok:
                        self.metrics.probe_errors.labels(name, probe).inc(0)  # keep the series visible
        d = decide(self.inv, a, mem, now)
        if self.dry_run and d.kind in ACTIONS:
            d = replace(d, dry_run=True)
        outcome = None
        acting = d.kind in ACTIONS and not d.dry_run
        if d.kind != "none" and not (acting and self._refused.get(d.group or "") == str(d)):
            log.warning("decision: %s", d, extra={"decision": d.kind, "group": d.group})
        if acting:
            outcome = self._act(d, a)
            if outcome is not None:  # a refused plan changed nothing: it costs no gate
                mem = after_action(self.inv, mem, d, outcome.ok, now)
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
        return CycleResult(a, d, outcome)

    def _act(self, d: Decision, a: Assessment) -> Outcome | None:
        assert d.group is not None
        t_decided = time.monotonic()
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
        outcome = self.executor.run(plan, reason=f"automatic: {d.reason}", origin="auto", action=d.kind)
        log.warning("%s", outcome.message, extra={"event": d.kind, "group": d.group})
        bad_since = self._bad_since.pop(d.group, None)
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
