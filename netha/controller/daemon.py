"""The daemon's loop (``netha run``): observe, decide, act, until told to stop.

Start: every probe starts, open plans left by a crashed controller are resolved against one fresh
look at the network, push sessions are opened ahead of need. Then one cycle per probe report (or
per poll interval at the latest). Takeovers run beside the loop, so the next cycles still decide for
groups on other devices (one shared failure of two pairs is handled for both at once); a stop waits
for the takeovers in flight. One bad cycle never ends the daemon: it is logged with its
traceback, counted, and the loop goes on after a short back-off. Rollbacks left pending are retried
every ``PENDING_RETRY`` seconds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from ..errors import LockHeld
from ..health import assess
from ..inventory import Inventory
from ..lock import InventoryLock
from ..observe.observer import Observer
from ..observe.types import Snapshot
from ..takeover.execute import Recovered
from .core import Controller, CycleResult
from .runtime import Runtime

log = logging.getLogger("netha.daemon")

# How often the daemon retries rollbacks left pending (a device that was unreachable at the time).
PENDING_RETRY = 30.0


def first_look(observer: Observer, timeout: float, inv: Inventory | None = None) -> Snapshot:
    """The first snapshot in which every device has been polled once over SSH and, given the inventory, every
    member's forwarding-path prober has judged a full window (or failed: a prober's failure is no
    reason to wait); the newest snapshot at ``timeout`` otherwise. Open plans are resolved against
    this look: a look taken before the probers report calls every member with reach tracks unhealthy
    and would roll back a plan whose target is fine."""
    paths = {(m.device, t.key) for g in (inv.groups.values() if inv is not None else ())
             for m in g.members for t in g.tracks_for(m.device) if t.reach is not None}
    deadline = time.monotonic() + timeout
    while True:
        snap = observer.snapshot()
        # Polled once over SSH (answered or failed): an early SNMP answer alone carries no VRRP view
        # worth judging a plan by.
        polled = all(o.ssh is not None for o in snap.devices.values())
        judged = all(_judged(snap, dev, key) for dev, key in paths)
        if (polled and judged) or time.monotonic() >= deadline:
            return snap
        observer.changed.wait(0.1)
        observer.changed.clear()


def _judged(snap: Snapshot, device: str, key: str) -> bool:
    obs = snap.devices.get(device)
    reading = obs.reach.get(key) if obs is not None else None
    if obs is not None and obs.ssh is not None and not obs.ssh.ok:
        return True  # a device netha cannot log in to runs no prober netha could wait for
    return reading is not None and (reading.state != "unknown" or reading.error is not None)


def run_daemon(rt: Runtime, stop: threading.Event, dry_run: bool = False) -> None:
    """Run until ``stop`` is set. The caller owns the inventory lock and the signal handlers."""
    inv = rt.inv
    coord = rt.coordination
    ctl = rt.controller(dry_run=dry_run, concurrent=True)
    rt.observer.start()
    # Open plans are resolved against one fresh look at the network (every device polled once).
    first = first_look(rt.observer, max(3.0, 10 * inv.controller.poll_interval), inv)
    # Every controller observes; only the leader decides and acts (controller.coordination).
    leading = coord is None or coord.is_leader()
    held = coord.held_groups() if coord is not None else None  # scope group: the groups this controller acts on
    if leading:
        for r in ctl.recover(assess(inv, first)):
            log.warning("recovered: %s", r.message)
    rt.sessions.warm()
    who = f", controller {coord.id} ({coord.backend}{', leader' if leading else ', follower'})" if coord else ""
    rt.store.audit("daemon", "started", detail=f"pid {os.getpid()}, poll {inv.controller.poll_interval}s{who}"
                   + (", dry-run" if dry_run else ""))
    log.warning("netha run: watching %d groups on %d devices every %gs%s", len(inv.groups), len(inv.devices),
                inv.controller.poll_interval, " (dry run)" if dry_run else "")
    interval = inv.controller.poll_interval
    min_gap = min(0.02, interval / 5)
    failures = 0
    next_retry = time.monotonic() + PENDING_RETRY
    try:
        while not stop.is_set():
            started = time.monotonic()
            rt.observer.changed.clear()
            rt.observer.urgent.clear()
            try:
                rt.executor.hook("cycle")  # a test hook (fault injection); nothing in production
                now_leading = coord is None or coord.is_leader()
                now_held = coord.held_groups() if coord is not None else None
                if now_leading != leading or now_held != held:
                    gained = (now_held or frozenset()) - (held or frozenset()) if now_held is not None else None
                    lost = (held or frozenset()) - (now_held or frozenset()) if now_held is not None else None
                    leading, held = now_leading, now_held
                    _leadership_changed(rt, ctl, leading, gained, lost)
                ctl.cycle(rt.observer.snapshot(), act=leading, acting=held)
                failures = 0
                if leading and started >= next_retry:
                    next_retry = started + PENDING_RETRY
                    if coord is not None and coord.backend != "file" and not ctl.busy() and rt.executor.journal.open_plans():
                        # With no takeover of its own in flight, an open plan is another controller's: one
                        # deposed after this leader's own recovery (it was paused, then fenced). Resolve it.
                        for r in ctl.recover(assess(inv, rt.observer.snapshot())):
                            log.warning("recovered: %s", r.message)
                    else:
                        for r in rt.executor.retry_pending():
                            rt.webhook.send("recovered", group=r.record.group, plan=r.record.id, ok=r.ok,
                                            message=r.message)
            except Exception:  # noqa: BLE001 - one bad cycle never ends the daemon
                failures += 1
                if rt.metrics is not None:
                    rt.metrics.cycle_errors.inc()
                log.exception("cycle failed (%d in a row); the daemon goes on", failures)
                stop.wait(min(5.0, interval * 2 ** min(failures, 6)))
                continue
            # Decide again as soon as a probe reports something new (damping counts each poll once),
            # or after one interval at the latest; never more often than every min_gap, but for a
            # device read that changed (the observer's urgent: a cycle per read, not per advert).
            rt.observer.changed.wait(interval)
            rest = min_gap - (time.monotonic() - started)
            if rest > 0 and not stop.is_set():
                rt.observer.urgent.wait(rest)
    finally:
        # A takeover in flight ends (or rolls back) before the daemon says it stopped.
        ctl.drain(timeout=max(60.0, rt.executor.rollback_timeout * 2))
        rt.store.audit("daemon", "stopped", detail=f"pid {os.getpid()}")


def _leadership_changed(rt: Runtime, ctl: Controller, leading: bool, gained: frozenset[str] | None = None,
                        lost: frozenset[str] | None = None) -> None:
    """Audit (which controller leads, under which lease revision), then, for a new leader: the last
    leader's memory, and every plan left open (a leader that died or was deposed mid-plan): each is
    finished or rolled back against one fresh look, as at start. Scope group: ``gained`` and ``lost``
    are the groups whose lease this controller took or lost."""
    coord = rt.coordination
    assert coord is not None
    if gained is not None or lost is not None:
        _groups_changed(rt, ctl, gained or frozenset(), lost or frozenset())
        return
    if not leading:
        why = coord.why_not() or "not the leader"
        rt.store.audit("leader", "lost", detail=f"controller {coord.id}: {why}")
        log.error("controller %s stopped acting: %s", coord.id, why)
        rt.webhook.send("leadership", controller=coord.id, leader=False, reason=why)
        return
    token = coord.token()
    rt.store.audit("leader", "acquired", detail=f"controller {coord.id}, {coord.backend} lease revision "
                   f"{token.revision if token else '?'}")
    log.warning("controller %s leads (lease revision %s): resolving open plans, then acting",
                coord.id, token.revision if token else "?")
    rt.webhook.send("leadership", controller=coord.id, leader=True, revision=token.revision if token else None)
    ctl.lead()
    for r in ctl.recover(assess(rt.inv, rt.observer.snapshot())):
        log.warning("recovered: %s", r.message)


@dataclass(frozen=True)
class CheckResult:
    """One scheduled cycle (`netha check`): what was recovered, seen, decided and done."""

    recovered: tuple[Recovered, ...]
    snapshot: Snapshot
    cycle: CycleResult
    observe_only: str | None  # why nothing may act (another controller holds the lock), or None

    @property
    def exit_code(self) -> int:
        if self.cycle.outcome is not None and not self.cycle.outcome.ok:
            return 2
        return self.cycle.assessment.exit_code


def run_check(rt: Runtime, dry_run: bool = False) -> CheckResult:
    """One cycle for cron or a systemd timer: observe once, decide, act (Nagios exit codes).

    Under the inventory's lock (or the etcd leadership); when another controller holds it, observe
    and decide only."""
    assert rt.coordination is not None
    held = rt.coordination.hold("netha check")
    try:
        held.__enter__()
        lock: object | None = held
        observe_only = None
    except LockHeld as exc:
        lock, observe_only, dry_run = None, str(exc), True
    try:
        ctl = rt.controller(dry_run=dry_run, persist_health=True)
        snap = rt.observer.observe_once()
        recovered: tuple[Recovered, ...] = ()
        if lock is not None:
            recovered = tuple(ctl.recover(assess(rt.inv, snap)))
            if recovered:
                snap = rt.observer.observe_once()
        return CheckResult(recovered, snap, ctl.cycle(snap), observe_only)
    finally:
        if lock is not None:
            held.__exit__(None, None, None)


def _groups_changed(rt: Runtime, ctl: Controller, gained: frozenset[str], lost: frozenset[str]) -> None:
    """Scope group: audit each change of the groups this controller acts on; for the groups it took,
    the open plans of those groups are resolved (Executor.recover takes the plans of held groups)."""
    coord = rt.coordination
    assert coord is not None
    if lost:
        why = coord.why_not() or "lease lost"
        rt.store.audit("leader", "lost", detail=f"controller {coord.id}: groups {', '.join(sorted(lost))}: {why}")
        log.error("controller %s stopped acting on %s: %s", coord.id, ", ".join(sorted(lost)), why)
        rt.webhook.send("leadership", controller=coord.id, leader=False, groups=sorted(lost), reason=why)
    if gained:
        tokens = {g: coord.token(g) for g in sorted(gained)}
        revs = ", ".join(f"{g} {t.revision if t else '?'}" for g, t in tokens.items())
        rt.store.audit("leader", "acquired", detail=f"controller {coord.id}, {coord.backend} group leases: {revs}")
        log.warning("controller %s leads %s (lease revisions: %s): resolving their open plans, then acting",
                    coord.id, ", ".join(sorted(gained)), revs)
        rt.webhook.send("leadership", controller=coord.id, leader=True, groups=sorted(gained))
        ctl.lead()
        for r in ctl.recover(assess(rt.inv, rt.observer.snapshot()), only=gained):
            log.warning("recovered: %s", r.message)
