"""One wiring: the parts a controller or a takeover command runs with, built in one place.

``netha run``, ``netha check``, ``netha failover``/``failback`` all build the same store, session
pool, observer, executor and webhook here, so a fix to the wiring (a hook, a callback) reaches
every command; the CLI only parses arguments, calls one function and prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..health import Assessment
from ..inventory import Inventory
from ..lock import InventoryLock
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

    @classmethod
    def build(cls, inv: Inventory, metrics: Metrics | None = None, hook: Hook | None = None,
              observer: ObserverOptions = ObserverOptions()) -> Runtime:
        store = Store(inv.controller.state_dir)
        sessions = Sessions(inv)  # one session per device: the observer polls and the takeover pushes through it
        obs = Observer(inv, observer, sessions)
        executor = Executor(inv, store, sessions, adverts=obs.advert_sources, garp=Announcer(inv),
                            hook=hook if hook is not None else hook_from_env())
        if metrics is not None:
            metrics.watch_listener(obs.listener_stats)
            metrics.watch_probers(obs.prober_stats)
        return cls(inv, store, sessions, obs, executor, Webhook(inv.controller.webhook), metrics)

    def controller(self, dry_run: bool = False, persist_health: bool = False, concurrent: bool = False) -> Controller:
        """``concurrent``: takeovers run beside the loop (the daemon), each wakes the loop when it ends."""
        return Controller(self.inv, self.store, self.executor, self.metrics, self.webhook, dry_run=dry_run,
                          persist_health=persist_health, concurrent=concurrent,
                          wake=self.observer.changed.set if concurrent else None)

    def close(self) -> None:
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
    with InventoryLock(rt.inv.controller.state_dir).acquire(f"{plan.kind} of {plan.group}"):
        recovered = tuple(rt.controller().recover(a))
        return ManualResult(recovered, rt.executor.run(plan, reason))
