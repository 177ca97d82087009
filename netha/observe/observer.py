"""The observer: runs every probe and merges what they saw into one immutable Snapshot.

Two modes: ``start()`` keeps every probe running in the background (daemon, ``status --watch``)
and sets ``changed`` whenever a probe reports, so a decision loop can wake early; and
``observe_once()`` polls everything once, concurrently, for one-shot commands.

In the background, a device whose platform has an event stream (Linux: the kernel's link,
address and route changes; :mod:`netha.observe.events`) is read when it reports a change, and
at the poll interval otherwise (a reconciliation); while its stream is down it is polled at the
fast fallback interval (:data:`FAST_POLL`). One-shot looks run no streams.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..connect import Sessions, reach_probes, shell_params, tracked_interfaces, tracked_routes
from ..drivers import driver_class
from ..errors import NethaError
from ..inventory import Inventory
from ..transport.ssh import ExecPool
from .events import DeviceEventStream, EventStreams, EventStreamStats
from .reach import DeviceProber, ProberStats, ReachProbers
from .ssh import SshSample, SshWorker
from .types import AdvertSource, DeviceObservation, DeviceReading, ProbeResult, Snapshot

log = logging.getLogger(__name__)

SNMP_MIN_INTERVAL = 1.0  # seconds between SNMP polls at the most often
# A device whose SSH answers needs SNMP only now and then (reboots, corroboration): it is polled this
# often; a device whose SSH poll fails is polled at once and then every snmp_interval.
SNMP_HEALTHY_INTERVAL = 5.0
# Seconds between polls of a device whose event stream is down (or at the poll interval, if shorter).
FAST_POLL = 0.1


def events_default() -> bool | None:
    """``NETHA_EVENTS=0`` or ``=1``: event streams off or on whatever the inventory says (a switch for
    benchmarks and comparisons); None when unset (the inventory's ``controller.events`` decides)."""
    value = os.environ.get("NETHA_EVENTS", "").strip().lower()
    if not value:
        return None
    return value not in ("0", "off", "no", "false")


@dataclass(frozen=True)
class ObserverOptions:
    ssh: bool = True
    snmp: bool = True
    listener: bool = True
    reach: bool = True  # streaming forwarding-path probers (Linux platforms)
    # Device event streams (Linux platforms: ip monitor over the shell connection) waking reads;
    # None: as the inventory says (controller.events).
    events: bool | None = field(default_factory=events_default)
    # The SNMP notification receiver (controller.notifications), started with the background probes.
    notifications: bool = True


@dataclass
class _Latest:
    ssh: SshSample | None = None
    attention: int = 0  # samples still to wake the decision loop for after a change
    snmp: object | None = None  # SnmpReading
    snmp_at: float = 0.0


class Observer:
    def __init__(self, inv: Inventory, options: ObserverOptions = ObserverOptions(), sessions: Sessions | None = None):
        """``sessions``: the device sessions to poll through, shared with the takeover (default:
        the observer's own, closed when it stops)."""
        self.inv = inv
        self.options = options
        self._own_sessions = sessions is None
        self.sessions = sessions if sessions is not None else Sessions(inv)
        self.interval = inv.controller.poll_interval
        self.changed = threading.Event()
        self.urgent = threading.Event()  # a change the decision loop takes at once (see _on_ssh)
        self._lock = threading.Lock()
        self._latest: dict[str, _Latest] = {name: _Latest() for name in inv.devices}
        self._workers: dict[str, SshWorker] = {}
        self._snmp = None
        self._snmp_thread: threading.Thread | None = None
        self._listener = None
        self._receiver = None  # NotificationReceiver (controller.notifications), started in the background
        self._arp = None  # ArpWatch, started with the listener
        self._nd = None  # NdWatch (IPv6 members' presence), started with the listener
        self._reach_frozen: dict | None = None  # a one-shot look's path verdicts (its probers stopped)
        self._stop = threading.Event()
        self.stale_after = max(1.0, 5 * self.interval)
        # SNMP corroborates (the CLI sees carrier at once; snmpd caches its tables for seconds) and
        # decoding it is most of an idle controller's CPU: polled at most once a second.
        self.snmp_interval = max(SNMP_MIN_INTERVAL, self.interval)
        self.snmp_healthy_interval = max(SNMP_HEALTHY_INTERVAL, self.snmp_interval)
        self.snmp_stale_after = max(self.stale_after, 3 * self.snmp_healthy_interval)
        self._snmp_wake = threading.Event()
        self._attention = inv.controller.failure_threshold + inv.controller.recovery_threshold
        probes = {name: reach_probes(inv, name) for name in inv.devices}
        # One shell connection per device, shared by its streaming probers and its event stream.
        self.exec_pool = ExecPool()
        streams: dict[str, DeviceProber] = {}
        from .events import EventSource  # a shell stream or a gNMI subscription

        events: dict[str, EventSource] = {}
        # After an event: enough reads back to back for damping to settle either way.
        burst = max(inv.controller.failure_threshold, inv.controller.recovery_threshold)
        self.events_enabled = options.events if options.events is not None else inv.controller.events
        for name, dev in inv.devices.items():
            cls = driver_class(dev.platform)
            native = cls.spec.reach == "native"
            if options.ssh:
                self._workers[name] = SshWorker(
                    name,
                    self.sessions,
                    tracked_routes(inv, name),
                    self.interval,
                    self._on_ssh,
                    probes[name] if native else (),
                    fast_interval=min(self.interval, FAST_POLL),
                    burst=burst,
                )
            if options.reach and probes[name] and cls.spec.reach == "stream":
                streams[name] = DeviceProber(
                    name, lambda name=name: shell_params(inv, name), probes[name], cls.reach_stream,
                    on_change=lambda _device: self.changed.set(), session_factory=self.exec_pool.lease,
                )
            stream = cls.event_stream() if self.events_enabled and options.ssh else None
            gnmi = cls.gnmi_subscription() if self.events_enabled and options.ssh and dev.gnmi is not None else None
            if gnmi is not None:  # a vendor device's ON_CHANGE subscription (no secret read yet)
                from .gnmi import GnmiEventStream, gnmi_params  # grpc is imported only when a device uses it

                events[name] = GnmiEventStream(
                    name, lambda name=name: gnmi_params(inv, name), gnmi,
                    on_event=self._on_device_event, on_state=self._on_stream_state,
                )
            elif stream is not None and (dev.shell is not None or cls.spec.login_is_shell):  # no secret read yet
                events[name] = DeviceEventStream(
                    name, lambda name=name: shell_params(inv, name), stream, self.exec_pool,
                    on_event=self._on_device_event, on_state=self._on_stream_state,
                )
            elif stream is not None:
                log.info("%s: no shell login (`shell:`): no event stream, polled every %gs", name, self.interval)
        self.reach = ReachProbers(streams)
        self.events = EventStreams(events)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start every probe in the background."""
        if self._reach_frozen is not None:
            # Its probers stopped after the one-shot look: started again, its paths would be frozen forever.
            raise NethaError("an observer that took a one-shot look cannot run in the background; build a new one")
        self._start_listener()
        self.reach.start()
        for name, worker in self._workers.items():
            if name in self.events.streams:
                worker.set_events(False)  # fast until the stream is up
            worker.start()
        self.events.start()
        self._start_receiver()
        if self.options.snmp and self._snmp_poller() is not None:
            self._snmp_thread = threading.Thread(target=self._snmp_loop, name="snmp", daemon=True)
            self._snmp_thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._snmp_wake.set()
        if self._receiver is not None:
            self._receiver.stop()
        self.events.stop()
        self.reach.stop()
        for worker in self._workers.values():
            worker.stop()
        self.exec_pool.close()
        if self._snmp_thread is not None:
            self._snmp_thread.join(5)
        if self._snmp is not None:
            self._snmp.close()
            self._snmp = None
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        if self._arp is not None:
            self._arp.stop()
            self._arp = None
        if self._nd is not None:
            self._nd.stop()
            self._nd = None
        if self._own_sessions:
            self.sessions.close()

    def __enter__(self) -> Observer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one shot ------------------------------------------------------------------------------
    def observe_once(self, listen: float | None = None) -> Snapshot:
        """Poll every device once (SSH and SNMP concurrently) while the listener listens."""
        self._start_listener()
        started = time.monotonic()
        if self.reach.probers and not self._reach_frozen:
            # A full window of every path first (a login, then window x interval), or what came by
            # then; the probers stop there (a one-shot look needs one verdict per path, and a
            # running prober's CPU would only slow the polls below).
            self.reach.start()
            self.reach.wait_ready(max(self.inv.controller.ssh.timeout, 3.0))
            self._reach_frozen = {name: self.reach.readings(name) for name in self.inv.devices}
            self.reach.stop()
        with ThreadPoolExecutor(max_workers=max(1, min(256, len(self._workers) + 1))) as pool:
            futures = {name: pool.submit(w.poll_once) for name, w in self._workers.items()}
            if self.options.snmp and self._snmp_poller() is not None:
                self._poll_snmp()
            for name, fut in futures.items():
                self._on_ssh(name, fut.result())
        if self._listener is not None:
            # Hear at least a few advertisements of every group.
            window = listen if listen is not None else max(
                (3.5 * g.advert_interval for g in self.inv.groups.values() if g.mode == "vrrp"), default=0.0
            )
            remaining = window - (time.monotonic() - started)
            if remaining > 0:
                time.sleep(remaining)
        # This look's own polls answered: however long the look took, they are no hung device's.
        return self.snapshot(stale_after=float("inf"))

    # -- probes ----------------------------------------------------------------------------------
    def _on_ssh(self, device: str, sample: SshSample) -> None:
        """Keep the sample; wake the decision loop when it differs from the one before, and for the
        next ``failure_threshold + recovery_threshold`` samples after a difference (damping counts
        them). A sample like the last of a quiet device wakes nobody: the loop's own interval counts it."""
        with self._lock:
            latest = self._latest[device]
            prev = latest.ssh
            was_ok = self._ssh_ok(device)
            latest.ssh = sample
            same = (prev is not None and prev.result.ok == sample.result.ok and prev.result.error == sample.result.error
                    and stable(prev.reading) == stable(sample.reading))
            if not same:
                latest.attention = self._attention
            elif latest.attention > 0:
                latest.attention -= 1
                same = False
        if was_ok and not sample.result.ok:
            self._snmp_wake.set()  # SSH just failed: is the device still there? ask SNMP now
        if not same:
            self.changed.set()
        if not same and prev is not None:
            # A device read that changed, or one of the reads damping counts after a change: decide
            # on it now, not after the loop's minimum gap (meant for adverts and probe results).
            self.urgent.set()

    def _snmp_poller(self):
        if self._snmp is not None:
            return self._snmp
        targets = []
        try:
            from .snmp import SnmpPoller, target_from_profile
        except ImportError:  # pragma: no cover - module always shipped
            return None
        for name, dev in self.inv.devices.items():
            if dev.snmp is None:
                continue
            try:
                targets.append(target_from_profile(name, str(dev.host), self.inv.snmp[dev.snmp]))
            except NethaError as exc:
                log.warning("%s: SNMP disabled: %s", name, exc)
        if not targets:
            return None
        self._snmp = SnmpPoller(targets)
        return self._snmp

    def _ssh_ok(self, name: str) -> bool:
        ssh = self._latest[name].ssh
        return ssh is not None and ssh.result.ok

    def _poll_snmp(self, due_only: bool = False) -> float:
        """Poll the devices with SNMP: all of them, or (``due_only``) those due: a device whose SSH
        answers every ``snmp_healthy_interval``, the others every ``snmp_interval``. The VRRP MIB is
        walked only for devices whose SSH reading is missing (it stands in for SSH's VRRP view).
        Returns the seconds until the next device is due."""
        poller = self._snmp_poller()
        if poller is None:
            return self.snmp_healthy_interval
        now = time.monotonic()
        with self._lock:
            period = {name: self.snmp_healthy_interval if self._ssh_ok(name) else self.snmp_interval
                      for name in self.inv.devices if self.inv.devices[name].snmp}
            due = {name for name, p in period.items()
                   if not due_only or now - self._latest[name].snmp_at >= p - 0.05}
            vrrp = {name for name in due if not self._ssh_ok(name)}
        if due:
            readings = poller.poll({name: tracked_interfaces(self.inv, name) for name in due}, vrrp=vrrp)
            now = time.monotonic()
            with self._lock:
                for name, reading in readings.items():
                    self._latest[name].snmp = reading
                    self._latest[name].snmp_at = now
            self.changed.set()
        with self._lock:
            return min((self._latest[n].snmp_at + p - now for n, p in period.items()), default=self.snmp_interval)

    def _snmp_loop(self) -> None:
        while not self._stop.is_set():
            self._snmp_wake.clear()
            try:
                wait = self._poll_snmp(due_only=True)
            except Exception as exc:  # noqa: BLE001 - keep polling whatever happens
                log.warning("SNMP cycle failed: %s", exc)
                wait = self.snmp_interval
            self._snmp_wake.wait(min(max(wait, 0.05), self.snmp_healthy_interval))

    def _start_listener(self) -> None:
        if self._listener is not None or not self.options.listener or not self.inv.controller.listeners:
            return
        try:
            from .adverts import AdvertListener
        except ImportError:  # pragma: no cover
            return
        try:
            listener = AdvertListener([l.interface for l in self.inv.controller.listeners], on_event=self._on_advert_event)
            listener.start()
        except (OSError, NethaError) as exc:
            log.warning("advertisement listener not started: %s", exc)
            return
        self._listener = listener
        from .arpwatch import ArpWatch
        from .ndwatch import NdWatch

        self._arp = self._start_presence(ArpWatch, arp_targets(self.inv, 4), "ARP")
        self._nd = self._start_presence(NdWatch, arp_targets(self.inv, 6), "Neighbor Discovery")

    def _start_presence(self, cls, targets: dict[str, list[str]], what: str):
        """A started presence watcher (ARP for IPv4 members, Neighbor Discovery for IPv6 ones); None without targets."""
        if not any(targets.values()):
            return None
        try:
            watch = cls(targets, interval=max(0.05, min(0.1, self.interval)), on_change=self._on_presence)
            watch.start()
            return watch
        except (OSError, NethaError) as exc:
            log.warning("%s presence watcher not started: %s", what, exc)
            return None

    def _on_presence(self, event) -> None:
        log.info("arp: %s %s on %s %s", event.address, event.kind, event.interface, event.detail or "")
        self.changed.set()

    def _on_advert_event(self, event) -> None:
        log.info("adverts: %s vrid %s from %s on %s %s", event.kind, event.vrid, event.source, event.interface, event.detail or "")
        self.changed.set()

    def listener_stats(self) -> dict[str, int]:
        """The listener's counters (bad checksums, expired and evicted sources ...); empty without one."""
        listener = self._listener
        return listener.stats() if listener is not None else {}

    def _stream_readings(self, device: str, now: float) -> dict:
        if self._reach_frozen is not None:
            return self._reach_frozen.get(device, {})
        return self.reach.readings(device, now)

    def _on_device_event(self, device: str, event) -> None:
        worker = self._workers.get(device)
        if worker is not None:
            worker.wake()

    def _on_stream_state(self, device: str, up: bool) -> None:
        worker = self._workers.get(device)
        if worker is not None:
            worker.set_events(up)
        self.changed.set()

    def _start_receiver(self) -> None:
        if self._receiver is not None or not self.options.notifications or self.inv.controller.notifications is None:
            return
        from .notifications import receiver_for

        try:
            receiver = receiver_for(self.inv, self._on_notification)
            if receiver is not None:
                self._receiver = receiver  # kept when its bind fails: its state says why
                receiver.start()
        except NethaError as exc:
            log.warning("%s", exc)

    def _on_notification(self, device: str, note) -> None:
        """A device's SNMP notification (linkDown/linkUp, VRRPv3): read it now, as after a device event;
        a device whose SSH fails is polled over SNMP now too. The reads judge; the notification does not."""
        self._on_device_event(device, note)
        with self._lock:
            latest = self._latest.get(device)
            if latest is None or self._ssh_ok(device):
                return
            latest.snmp_at = 0.0  # due now
        self._snmp_wake.set()

    def notification_stats(self) -> dict | None:
        """The SNMP notification receiver's state and counters; None when none runs (one-shot looks,
        no ``controller.notifications``)."""
        receiver = self._receiver
        return receiver.stats() if receiver is not None else None

    def event_stats(self) -> list[EventStreamStats]:
        """Each device's event stream: state (up, starting, down and why), restarts, events."""
        return self.events.stats()

    def prober_stats(self) -> list[ProberStats]:
        """The streaming probers: paths, probe rate and restarts per device."""
        return self.reach.stats()

    def advert_sources(self) -> tuple[AdvertSource, ...]:
        return self._listener.sources(time.monotonic()) if self._listener is not None else ()

    # -- snapshot --------------------------------------------------------------------------------
    def snapshot(self, stale_after: float | None = None) -> Snapshot:
        """The newest of every probe, as one snapshot. A good reading older than ``stale_after``
        (default: 5 poll intervals, at least 1 s) counts as a probe that stopped answering."""
        now = time.monotonic()
        stale = self.stale_after if stale_after is None else stale_after
        with self._lock:
            latest = {name: (l.ssh, l.snmp, l.snmp_at) for name, l in self._latest.items()}
        devices = {name: self._merge(name, ssh, snmp, now, snmp_at, stale) for name, (ssh, snmp, snmp_at) in latest.items()}
        adverts: tuple[AdvertSource, ...] = ()
        listening: tuple[str, ...] = ()
        if self._listener is not None:
            adverts = self._listener.sources(now)
            listening = self._listener.running_interfaces()
        arp = self._arp.presence(now) if self._arp is not None else {}
        if self._nd is not None:  # IPv6 members: (leg, address) keys of their own
            arp = {**arp, **self._nd.presence(now)}
        return Snapshot(at=now, wall=time.time(), devices=devices, adverts=adverts, listening=listening, arp=arp)

    def _merge(self, name: str, ssh: SshSample | None, snmp, now: float, snmp_at: float = 0.0,
               stale_after: float | None = None) -> DeviceObservation:
        stale = self.stale_after if stale_after is None else stale_after
        ssh_result = expire(ssh.result if ssh else None, now, stale)
        snmp_stale = self.snmp_stale_after if stale_after is None else stale_after
        snmp_result = expire(snmp.result if snmp is not None else None, now, snmp_stale, snmp_at)
        reading = ssh.reading if ssh and ssh_result and ssh_result.ok else None
        interfaces = dict(reading.interfaces) if reading else {}
        vrrp = reading.vrrp if reading else None
        vrrp_source = "ssh" if reading else None
        uptime = None
        rebooted = False
        if snmp is not None and snmp_result is not None:
            if snmp_result.ok:
                interfaces = merge_interfaces(interfaces if reading else None,
                                              ssh_result is not None and not ssh_result.ok, snmp.if_oper)
                uptime = snmp.sys_uptime
                rebooted = snmp.rebooted
                if vrrp is None and snmp.vrrp is not None:
                    vrrp, vrrp_source = snmp.vrrp, "snmp"
        return DeviceObservation(
            device=name,
            ssh=ssh_result,
            snmp=snmp_result,
            vrrp=vrrp,
            vrrp_source=vrrp_source,
            interfaces=interfaces,
            routes=dict(reading.routes) if reading else {},
            addresses=dict(reading.addresses) if reading else {},
            reach={**(reading.reach if reading else {}), **self._stream_readings(name, now)},
            uptime=uptime,
            rebooted=rebooted,
            notes=reading.notes if reading else None,
        )


def stable(reading: DeviceReading | None) -> object:
    """What a reading says, without what changes at every poll (advertisement counters, probe times)."""
    if reading is None:
        return None
    return (
        tuple(dataclasses.replace(v, adverts_rx=None, adverts_tx=None) for v in reading.vrrp),
        reading.interfaces, reading.routes, reading.addresses,
        tuple(sorted((k, r.state, r.error) for k, r in reading.reach.items())),
    )


def expire(result: ProbeResult | None, now: float, stale_after: float, at: float = 0.0) -> ProbeResult | None:
    """A good reading older than ``stale_after`` is no reading: the probe has stopped answering
    (hung session, SNMP poller stuck). ``at``: when the reading arrived, if not the result's own time."""
    when = max(at, result.at) if result is not None else 0.0
    if result is not None and result.ok and now - when > stale_after:
        return ProbeResult(False, result.at, f"no answer for {now - when:.1f}s (hung?)")
    return result


def merge_interfaces(cli: Mapping[str, bool] | None, cli_failed: bool, snmp: Mapping[str, bool]) -> dict[str, bool]:
    """Interface states from a CLI reading (``None``: none yet or failed) and SNMP's ifOperStatus.

    The CLI sees carrier changes at once; snmpd caches its interface table for seconds. Two sources
    taking turns would make a state flap, so SNMP only fills in what a fresh CLI reading does not
    have, or stands in when the CLI has failed. Before the CLI's first answer SNMP is not used at
    all: a cached "down" from a link that just came back must not look like a failure at start.
    """
    if cli is not None:
        return {**snmp, **cli}
    return dict(snmp) if cli_failed else {}


def arp_targets(inv: Inventory, family: int = 4) -> dict[str, list[str]]:
    """Per listener leg, the member addresses of one family to watch, with ARP (4) or Neighbor Discovery
    (6): those of the groups the leg lists (the groups on its segment); a leg that lists none watches
    the groups no leg lists."""
    listed = {g for leg in inv.controller.listeners for g in leg.groups}
    out: dict[str, list[str]] = {}
    for leg in inv.controller.listeners:
        groups = leg.groups or [g for g in inv.groups if g not in listed]
        addrs = {str(m.address.ip) for g in groups if g in inv.groups for m in inv.groups[g].members
                 if m.address and m.address.version == family}
        out[leg.interface] = sorted(addrs)
    return out
