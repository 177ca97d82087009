"""One wiring: the parts a controller or a takeover command runs with, built in one place.

``netha run``, ``netha check``, ``netha failover``/``failback`` all build the same store, session
pool, observer, executor and webhook here, so a fix to the wiring (a hook, a callback) reaches
every command; the CLI only parses arguments, calls one function and prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..health import Assessment
from ..inventory import Inventory
from ..coordination import Coordinator, coordinator_for, observed_inventory, shared_journal
from ..observe.observer import Observer, ObserverOptions
from ..store import Store
from ..takeover.announce import Announcer
from ..connect import Sessions
from ..takeover.execute import Executor, Hook, Outcome, Recovered, hook_from_env
from ..takeover.plan import Plan
from .core import Controller
from .metrics import Metrics
from .webhook import Webhook


@dataclass
class Runtime:
    inv: Inventory
    store: Store
    sessions: Sessions
    observer: Observer
    executor: Executor
    webhook: Webhook
    metrics: Metrics | None = None
    coordination: Coordinator | None = None  # who may act (controller.coordination); its token fences every push

    @classmethod
    def build(cls, inv: Inventory, metrics: Metrics | None = None, hook: Hook | None = None,
              observer: ObserverOptions = ObserverOptions(), coordination: Coordinator | None = None) -> Runtime:
        """``coordination``: the daemon's, started by its caller; without one, the inventory's backend
        for an operator command (taken with ``hold()`` around each change)."""
        coord = coordination if coordination is not None else coordinator_for(inv, purpose="netha command")
        if coordination is not None:  # a daemon with scope group and no standby observes its own groups only
            inv = observed_inventory(inv, coord.id)
        store = Store(inv.controller.state_dir)
        sessions = Sessions(inv)  # one session per device: the observer polls and the takeover pushes through it
        obs = Observer(inv, observer, sessions)
        executor = Executor(inv, store, sessions, adverts=obs.advert_sources, garp=Announcer(inv),
                            hook=hook if hook is not None else hook_from_env(), fence=coord,
                            journal=shared_journal(coord, store))
        if metrics is not None:
            metrics.watch_listener(obs.listener_stats)
            metrics.watch_probers(obs.prober_stats)
            metrics.watch_events(obs.event_stats)
            metrics.watch_notifications(obs.notification_stats)
            metrics.watch_coordination(coord)
        return cls(inv, store, sessions, obs, executor, Webhook(inv.controller.webhook), metrics, coord)

    def controller(self, dry_run: bool = False, persist_health: bool = False, concurrent: bool = False) -> Controller:
        """``concurrent``: takeovers run beside the loop (the daemon), each wakes the loop when it ends."""
        return Controller(self.inv, self.store, self.executor, self.metrics, self.webhook, dry_run=dry_run,
                          persist_health=persist_health, concurrent=concurrent,
                          wake=self.observer.changed.set if concurrent else None)

    def close(self) -> None:
        if self.coordination is not None:
            self.coordination.close()  # a leader hands over at once, without waiting for its lease
        self.observer.stop()
        self.sessions.close()
        self.webhook.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class ManualResult:
    recovered: tuple[Recovered, ...]
    outcome: Outcome


def run_manual(rt: Runtime, plan: Plan, reason: str, a: Assessment | None) -> ManualResult:
    """An operator's plan (``netha failover``/``failback``): under the inventory's lock, open plans a
    crashed controller left are resolved first (judged by ``a``), then the plan runs."""
    assert rt.coordination is not None
    with rt.coordination.hold(f"{plan.kind} of {plan.group}"):
        recovered = tuple(rt.controller().recover(a))
        return ManualResult(recovered, rt.executor.run(plan, reason))
