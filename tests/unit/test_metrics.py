"""Prometheus metrics the daemon exports for the safety work (issue 11)."""

from __future__ import annotations

from prometheus_client import generate_latest

from netha.controller.metrics import Metrics


def test_listener_counters_are_exported_when_scraped():
    counters = {"bad_checksum": 0, "sources": 1}
    m = Metrics()
    m.watch_listener(lambda: dict(counters))
    counters["bad_checksum"] = 7  # read at scrape time, not when registered
    text = generate_latest(m.registry).decode()
    assert 'netha_listener{counter="bad_checksum"} 7.0' in text
    assert 'netha_listener{counter="sources"} 1.0' in text


def test_cycle_errors_and_recoveries_are_counted():
    m = Metrics()
    m.cycle_errors.inc()
    m.recoveries.labels("finish", "true").inc()
    text = generate_latest(m.registry).decode()
    assert "netha_cycle_errors_total 1.0" in text
    assert 'netha_recoveries_total{ok="true",resolution="finish"} 1.0' in text
