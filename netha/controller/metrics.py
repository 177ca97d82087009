"""Prometheus metrics for the daemon (one registry per controller, no global state)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..health import Assessment

VERDICT_CODE = {"ok": 0, "degraded": 1, "failed-over": 2, "split-brain": 3, "down": 4, "unknown": 5}
LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.group_state = Gauge("netha_group_state", "Group verdict: 0 ok, 1 degraded, 2 failed-over, 3 split-brain, 4 down, 5 unknown", ["group"], registry=r)
        self.master = Gauge("netha_group_master", "1 for the observed master of a group", ["group", "device"], registry=r)
        self.device_health = Gauge("netha_device_healthy", "1 when the device is healthy", ["device"], registry=r)
        self.failovers = Counter("netha_failovers", "Automatic failovers and pins", ["group", "reason"], registry=r)
        self.failbacks = Counter("netha_failbacks", "Automatic failbacks", ["group"], registry=r)
        self.alerts = Counter("netha_alerts", "Alerts (split-brain, storm brake, blocked)", ["group", "kind"], registry=r)
        self.detection = Histogram("netha_detection_seconds", "From the first bad observation to the decision", ["group"], buckets=LATENCY_BUCKETS, registry=r)
        self.takeover = Histogram("netha_takeover_seconds", "From the decision to the verified master", ["group"], buckets=LATENCY_BUCKETS, registry=r)
        self.cycle = Histogram("netha_poll_cycle_seconds", "Duration of one decision cycle", buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1), registry=r)
        self.cycle_errors = Counter("netha_cycle_errors", "Decision cycles that raised an unexpected exception (the daemon went on)", registry=r)
        self.recoveries = Counter("netha_recoveries", "Open plans resolved at start, by resolution", ["resolution", "ok"], registry=r)
        self.path = Gauge("netha_path_state", "A tracked forwarding path of a member: 1 up, 0 down, -1 unknown",
                          ["group", "device", "path"], registry=r)
        self.probe_errors = Counter("netha_probe_errors", "Failed probes by device and probe", ["device", "probe"], registry=r)

    def watch_listener(self, stats: Callable[[], dict[str, int]]) -> None:
        """Export the advertisement listener's counters, read when scraped (nothing on the polling path)."""
        self.registry.register(_ListenerCollector(stats))

    def watch_probers(self, stats: Callable[[], list]) -> None:
        """Export the streaming probers' rate and restarts, read when scraped."""
        self.registry.register(_ProberCollector(stats))

    def watch_events(self, stats: Callable[[], list]) -> None:
        """Export each device's event stream (state, restarts, events, last event's age), read when scraped."""
        self.registry.register(_EventStreamCollector(stats))

    def watch_notifications(self, stats: Callable[[], dict | None]) -> None:
        """Export the SNMP notification receiver's state and counters, read when scraped."""
        self.registry.register(_NotificationCollector(stats))

    def watch_coordination(self, coord: object) -> None:
        """Export the leadership (netha.coordination.Coordinator), read when scraped."""
        self.registry.register(_CoordinationCollector(coord))

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        start_http_server(port, addr=addr, registry=self.registry)

    def observe(self, a: Assessment) -> None:
        for name, g in a.groups.items():
            self.group_state.labels(name).set(VERDICT_CODE[g.verdict])
            for dev, m in g.members.items():
                self.master.labels(name, dev).set(1 if g.master == dev else 0)
                for key, st in m.tracks.items():
                    if key.startswith("reach "):
                        self.path.labels(name, dev, key[len("reach "):]).set({"up": 1, "down": 0}.get(st, -1))
        for name, d in a.devices.items():
            self.device_health.labels(name).set(1 if d.health == "healthy" else 0)


class _ListenerCollector(Collector):
    def __init__(self, stats: Callable[[], dict[str, int]]):
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        fam = GaugeMetricFamily("netha_listener", "Advertisement listener counters (heard, bad_checksum, malformed, "
                                "bad_ttl, expired, evicted) and its table size (sources)", labels=["counter"])
        for key, value in sorted(self._stats().items()):
            fam.add_metric([key], float(value))
        yield fam


class _ProberCollector(Collector):
    def __init__(self, stats: Callable[[], list]):
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rate = GaugeMetricFamily("netha_reach_probes_per_second", "Probes per second a device's streaming probers send",
                                 labels=["device"])
        restarts = GaugeMetricFamily("netha_reach_prober_restarts", "Times a device's probers were restarted",
                                     labels=["device"])
        for st in self._stats():
            rate.add_metric([st.device], st.rate)
            restarts.add_metric([st.device], float(st.restarts))
        yield rate
        yield restarts


class _CoordinationCollector(Collector):
    def __init__(self, coord: object):
        self._coord = coord

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        c = self._coord
        cid, backend = str(getattr(c, "id", "?")), str(getattr(c, "backend", "?"))
        leader = GaugeMetricFamily("netha_leader", "1 while this controller holds the leadership and may act",
                                   labels=["controller", "backend"])
        leader.add_metric([cid, backend], 1.0 if c.is_leader() else 0.0)  # type: ignore[attr-defined]
        yield leader
        left = c.lease_remaining()  # type: ignore[attr-defined]
        if left is not None:
            remaining = GaugeMetricFamily("netha_lease_remaining_seconds", "Seconds this controller may still act "
                                          "without renewing its lease (it stops acting at 0)", labels=["controller"])
            remaining.add_metric([cid], max(0.0, left))
            yield remaining
        st = c.stats  # type: ignore[attr-defined]
        for name, doc, value in (
            ("netha_coordination_requests", "Requests sent to the coordination backend", st.requests),
            ("netha_coordination_writes", "Requests that write (etcd: raft proposals)", st.writes),
            ("netha_coordination_errors", "Requests that failed (endpoint down, no quorum)", st.errors),
            ("netha_leader_changes", "Times this controller gained or lost the leadership", st.leader_changes),
            ("netha_fence_checks", "Leadership checks right before a device push", st.fence_checks),
            ("netha_fence_refusals", "Pushes refused because the leadership no longer held", st.fence_refusals),
        ):
            fam = CounterMetricFamily(name, doc, labels=["controller"])
            fam.add_metric([cid], float(value))
            yield fam


class _EventStreamCollector(Collector):
    def __init__(self, stats: Callable[[], list]):
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        up = GaugeMetricFamily("netha_event_stream_up", "1 while a device's event stream is up (0: starting or "
                               "down, the device is polled fast)", labels=["device"])
        restarts = CounterMetricFamily("netha_event_stream_restarts", "Times a device's event stream was reconnected",
                                       labels=["device"])
        events = CounterMetricFamily("netha_device_events", "Change events a device's stream reported", labels=["device"])
        age = GaugeMetricFamily("netha_device_event_age_seconds", "Seconds since a device's newest change event",
                                labels=["device"])
        now = time.monotonic()
        for st in self._stats():
            up.add_metric([st.device], 1.0 if st.state == "up" else 0.0)
            restarts.add_metric([st.device], float(st.restarts))
            events.add_metric([st.device], float(st.events))
            if st.last_event is not None:
                age.add_metric([st.device], max(0.0, now - st.last_event))
        yield from (up, restarts, events, age)


class _NotificationCollector(Collector):
    def __init__(self, stats: Callable[[], dict | None]):
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        st = self._stats()
        if st is None:
            return
        up = GaugeMetricFamily("netha_snmp_notifications_up", "1 while the SNMP notification receiver listens",
                               labels=["listen"])
        up.add_metric([st["listen"]], 1.0 if st["state"] == "listening" else 0.0)
        yield up
        counts = CounterMetricFamily("netha_snmp_notifications", "SNMP notifications received, by outcome (received, "
                                     "accepted, informs_acked, ignored, unknown_sender, bad_community, bad_auth, "
                                     "malformed, unsupported, errors)", labels=["outcome"])
        for key in ("received", "accepted", "informs_acked", "ignored", "unknown_sender", "bad_community",
                    "bad_auth", "malformed", "unsupported", "errors"):
            counts.add_metric([key], float(st.get(key, 0)))
        yield counts
        per = CounterMetricFamily("netha_snmp_notifications_device", "SNMP notifications accepted from a device",
                                  labels=["device"])
        for device, d in st.get("devices", {}).items():
            per.add_metric([device], float(d["received"]))
        yield per
