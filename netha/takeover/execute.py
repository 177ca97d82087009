"""Safe push: snapshot, push step by step, verify, and roll back everything if anything fails.

Never half-applied: either every step is pushed and the expected master is verified, or every
device the plan touched is restored to its snapshot (and the running config compared with it),
and the outcome says which. Every step is written to the journal before (intent) and after
(result), so a controller that dies mid-plan can finish or undo it when it starts again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..connect import make_driver
from ..drivers import NetworkDriver
from ..drivers.textconfig import config_body, unified_diff
from ..errors import NethaError
from ..inventory import Inventory
from ..observe.types import AdvertSource
from ..store import Store
from .plan import Plan, Step

log = logging.getLogger(__name__)


class Sessions:
    """Open driver sessions, one per device, reopened when they drop. Thread-safe per device."""

    def __init__(self, inv: Inventory, factory: Callable[[Inventory, str], NetworkDriver] = make_driver):
        self.inv = inv
        self._factory = factory
        self._drivers: dict[str, NetworkDriver] = {}
        self._locks: dict[str, threading.Lock] = {d: threading.Lock() for d in inv.devices}

    @contextmanager
    def session(self, device: str) -> Iterator[NetworkDriver]:
        with self._locks[device]:
            drv = self._drivers.get(device)
            if drv is None or not drv.is_open:
                if drv is not None:
                    drv.close()
                drv = self._factory(self.inv, device)
                drv.open()
                self._drivers[device] = drv
            try:
                yield drv
            except NethaError:
                if not drv.is_open:
                    self._drivers.pop(device, None)
                raise

    def adopt(self, drivers: dict[str, NetworkDriver]) -> None:
        """Take over sessions that are already open (e.g. from a one-shot observation)."""
        for dev, drv in drivers.items():
            with self._locks[dev]:
                old = self._drivers.get(dev)
                if old is not None and old is not drv:
                    old.close()
                self._drivers[dev] = drv

    def warm(self, devices: list[str] | None = None) -> None:
        """Open sessions ahead of need (the daemon does, so a takeover does not wait for a login)."""
        for dev in devices or list(self.inv.devices):
            try:
                with self.session(dev):
                    pass
            except NethaError as exc:
                log.info("%s: push session not open yet: %s", dev, exc)

    def close(self) -> None:
        for drv in self._drivers.values():
            drv.close()
        self._drivers.clear()


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


# A test hook may pause a plan at a named point ("before-step-2", "after-push-1" ...).
Hook = Callable[[str], None]


def hook_from_env() -> Hook:
    """NETHA_TEST_PAUSE=POINT:FILE: at POINT, write FILE and wait until it is removed (crash tests)."""
    spec = os.environ.get("NETHA_TEST_PAUSE")
    if not spec:
        return lambda point: None
    point, _, marker = spec.partition(":")

    def hook(reached: str) -> None:
        if reached == point:
            log.warning("test hook: paused at %s", point)
            Path(marker).write_text(str(os.getpid()))
            while Path(marker).exists():
                time.sleep(0.05)

    return hook


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
    ):
        self.inv = inv
        self.store = store
        self.sessions = sessions
        self.adverts = adverts
        self.garp = garp
        self.verify_timeout = verify_timeout
        self.rollback_timeout = rollback_timeout
        self.hook = hook or (lambda point: None)

    # -- the plan ------------------------------------------------------------------------------
    def run(self, plan: Plan, reason: str = "") -> Outcome:
        t0 = time.monotonic()
        self.store.journal(plan.id, 0, "plan", {"kind": plan.kind, "group": plan.group, "target": plan.target,
                                               "reason": reason, "steps": [s.description for s in plan.steps]})
        snapshots: dict[str, int] = {}
        before: dict[str, str] = {}
        for dev in plan.devices:
            try:
                with self.sessions.session(dev) as drv:
                    cfg = drv.get_config()
            except NethaError as exc:
                msg = f"could not back up {dev} before the change ({exc}); nothing was changed"
                self._close(plan, "failed", msg)
                self.store.audit(plan.kind, "refused", plan.group, dev, msg)
                return Outcome(plan, False, True, msg, (), time.monotonic() - t0)
            snapshots[dev] = self.store.save_snapshot(dev, cfg, f"before {plan.kind} of {plan.group} (plan {plan.id})")
            before[dev] = cfg
        self.store.journal(plan.id, 0, "snapshots", {"snapshots": snapshots})

        touched: list[str] = []
        results: list[StepResult] = []
        for n, step in enumerate(plan.steps, 1):
            self.hook(f"before-step-{n}")
            self.store.journal(plan.id, n, "intent", {"description": step.description, "lines": list(step.lines)}, step.device)
            started = time.monotonic()
            try:
                if step.lines and step.device not in touched:
                    touched.append(step.device)
                self._apply(plan, step)
                self.hook(f"after-push-{n}")
                if step.expect.master:
                    self._verify(plan, step, started)
            except NethaError as exc:
                results.append(StepResult(n, step.device, step.description, False, str(exc), time.monotonic() - started))
                self.store.journal(plan.id, n, "failed", {"error": str(exc)}, step.device)
                rolled, detail = self.rollback(plan.id, touched, snapshots)
                msg = f"step {n} ({step.description}) failed: {exc}; " + (
                    f"rolled back: {', '.join(touched) or 'no device'} restored to its snapshot"
                    if rolled else f"ROLLBACK INCOMPLETE: {detail}"
                )
                self._close(plan, "rolled-back" if rolled else "rollback-incomplete", msg)
                self.store.audit(plan.kind, "rolled-back" if rolled else "rollback-incomplete", plan.group,
                                 step.device, msg)
                return Outcome(plan, False, rolled, msg, tuple(results), time.monotonic() - t0, {}, snapshots)
            results.append(StepResult(n, step.device, step.description, True, "", time.monotonic() - started))
            self.store.journal(plan.id, n, "done", {"seconds": round(time.monotonic() - started, 4)}, step.device)
        elapsed = time.monotonic() - t0
        diffs = self._diffs(before)
        msg = f"{plan.kind} of {plan.group}: {plan.target} is master (verified in {elapsed:.2f}s)"
        self._close(plan, "done", msg)
        for dev, diff in diffs.items():
            self.store.audit(plan.kind, "ok", plan.group, dev, msg, diff)
        return Outcome(plan, True, False, msg, tuple(results), elapsed, diffs, snapshots)

    def _close(self, plan: Plan, result: str, message: str) -> None:
        self.store.journal(plan.id, len(plan.steps) + 1, "closed", {"result": result, "message": message})

    def _apply(self, plan: Plan, step: Step) -> None:
        if step.operation == "garp":
            self._announce(plan, step)
            return
        with self.sessions.session(step.device) as drv:
            drv.load_config(step.lines)

    def _announce(self, plan: Plan, step: Step) -> None:
        group = self.inv.groups[plan.group]
        iface = group.interface_of(step.device)
        with self.sessions.session(step.device) as drv:
            mac = drv.get_interface_details().get(iface, {}).get("mac")
        if self.garp is None:
            log.warning("%s: no listener on %s's segment: gratuitous ARP not sent", plan.group, step.device)
            return
        for vip in group.virtual_addresses:
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

    def _observe_master(self, gname: str, target: str, since: float) -> tuple[bool, str]:
        group = self.inv.groups[gname]
        masters: list[str] = []
        unknown: list[str] = []
        for m in group.members:
            iface = group.interface_of(m.device)
            try:
                with self.sessions.session(m.device) as drv:
                    if group.mode == "static":
                        held = drv.get_interface_details().get(iface, {}).get("addresses", [])
                        if any(v.with_prefixlen in held for v in group.virtual_addresses):  # type: ignore[operator]
                            masters.append(m.device)
                    else:
                        for v in drv.get_vrrp():
                            if v.vrid == group.vrid and v.interface == iface and v.state == "master":
                                masters.append(m.device)
            except NethaError:
                unknown.append(m.device)
        if target in unknown:
            return False, f"{target} cannot be read"
        if len(masters) > 1 and group.mode == "vrrp":
            # FRR keeps saying Master on an interface that lost carrier: such a member is no master.
            for dev in list(masters):
                try:
                    with self.sessions.session(dev) as drv:
                        if drv.get_interfaces().get(group.interface_of(dev)) is False:
                            masters.remove(dev)
                except NethaError:
                    pass
        if masters != [target]:
            return False, f"masters seen: {', '.join(masters) or 'none'}" + (f"; unreadable: {', '.join(unknown)}" if unknown else "")
        if self.adverts is not None and group.mode == "vrrp":
            addr = group.member(target).address
            # Only where the listener covers this group's segment (it has heard one of its members):
            # a group without a listener leg is verified on the devices alone.
            members = {str(m.address.ip) for m in group.members if m.address}
            covering = [a for a in self.adverts() if a.vrid == group.vrid and a.source in members]
            heard = [a for a in covering if addr and a.source == str(addr.ip)]
            if addr and covering and not any(a.last_seen >= since and a.priority > 0 for a in heard):
                return False, f"{target} reports master but its advertisements are not heard yet"
        return True, "ok"

    # -- crash recovery ---------------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Finish or undo every plan a previous controller left open. Returns one line per plan."""
        lines = []
        for plan_id, entries in self.store.open_plans():
            head = next((e for e in entries if e["kind"] == "plan"), {})
            snaps = {k: int(v) for k, v in next((e["snapshots"] for e in entries if e["kind"] == "snapshots"), {}).items()}
            steps = len(head.get("steps", []))
            done = {e["step"] for e in entries if e["kind"] == "done"}
            touched: list[str] = []
            for e in entries:
                if e["kind"] == "intent" and e.get("lines") and e["device"] not in touched:
                    touched.append(e["device"])
            what = f"plan {plan_id} ({head.get('kind', '?')} of {head.get('group', '?')} to {head.get('target', '?')})"
            if steps and len(done) == steps:
                msg = f"{what}: every step was done and verified before the crash; closed"
                ok = True
            else:
                ok, detail = self.rollback(plan_id, touched, snaps)
                msg = f"{what} was interrupted after {len(done)}/{steps} steps: " + (
                    f"rolled back {', '.join(touched) or 'nothing'} to the snapshots" if ok else f"ROLLBACK INCOMPLETE: {detail}"
                )
            self.store.journal(plan_id, steps + 1, "closed", {"result": "recovered" if ok else "rollback-incomplete", "message": msg})
            self.store.audit("recover", "ok" if ok else "rollback-incomplete", head.get("group"), None, msg)
            log.warning("%s", msg)
            lines.append(msg)
        return lines

    # -- rollback ---------------------------------------------------------------------------------
    def rollback(self, plan_id: str, devices: list[str], snapshots: dict[str, int]) -> tuple[bool, str]:
        """Restore each device to its snapshot, newest change first; retry while a device is unreachable."""
        problems = []
        for dev in reversed(devices):
            snap = self.store.snapshot(snapshots[dev])
            self.store.journal(plan_id, 0, "rollback", {"snapshot": snap.id}, dev)
            deadline = time.monotonic() + self.rollback_timeout
            while True:
                try:
                    with self.sessions.session(dev) as drv:
                        drv.replace_config(snap.config)
                        now = drv.get_config()
                    if config_body(now) == config_body(snap.config):
                        self.store.journal(plan_id, 0, "rolled-back", {"snapshot": snap.id}, dev)
                        break
                    problem = f"{dev}: running config still differs from snapshot {snap.id}"
                except NethaError as exc:
                    problem = f"{dev}: {exc}"
                if time.monotonic() > deadline:
                    problems.append(problem)
                    self.store.journal(plan_id, 0, "rollback-pending", {"snapshot": snap.id, "error": problem}, dev)
                    break
                time.sleep(0.5)
        return (not problems), "; ".join(problems)

    def _diffs(self, before: dict[str, str]) -> dict[str, str]:
        diffs = {}
        for dev, cfg in before.items():
            try:
                with self.sessions.session(dev) as drv:
                    after = drv.get_config()
            except NethaError as exc:
                diffs[dev] = f"(config after the change could not be read: {exc})"
                continue
            diffs[dev] = unified_diff(config_body(cfg), config_body(after), dev)
        return diffs
