"""An idle controller sleeps (issue 14): its reading threads block until a packet, a line or their next
deadline, never on a fixed tick, and stop() still ends them at once."""

from __future__ import annotations

import os
import select
import time
import types

import pytest

from netha.drivers.linux import monitor_stream
from netha.observe import adverts, events
from netha.observe.adverts import AdvertListener, craft_advert
from netha.observe.events import DeviceEventStream
from netha.transport.ssh import ExecPool

from .test_events import PARAMS, FakeConnection, _wait



def _counting(monkeypatch, module) -> list:
    """Every select() timeout MODULE's threads pass, in order."""
    calls: list = []
    real = select.select

    def counted(r, w, x, timeout=None):
        calls.append(timeout)
        return real(r, w, x, timeout)

    monkeypatch.setattr(module, "select", types.SimpleNamespace(select=counted))
    return calls


@pytest.mark.skipif(os.geteuid() != 0, reason="a packet socket needs root")
def test_a_listener_that_hears_nothing_sleeps_until_stopped(monkeypatch):
    calls = _counting(monkeypatch, adverts)
    li = AdvertListener(["lo"])
    li.start()
    try:
        time.sleep(0.6)
        assert calls and calls[0] is None and len(calls) <= 2, calls  # a 10 ms tick would be ~60
    finally:
        t0 = time.monotonic()
        li.stop()
    assert time.monotonic() - t0 < 0.5 and not li.running_interfaces()


def test_a_listener_sleeps_until_its_next_timer_when_a_master_is_heard():
    li = AdvertListener([])
    now = time.monotonic()
    li.handle("eth1", craft_advert("198.18.1.2", 1, 200, interval=1.0), now)
    assert li.next_due() == pytest.approx(now + 1.5)  # silent after 1.5 intervals: the loop wakes then
    li.tick(now + 1.6)
    assert li.next_due() == pytest.approx(now + 30.0)  # silent now: next, its expiry (30 intervals)


@pytest.fixture()
def pool():
    conns: list[FakeConnection] = []

    def factory(params):
        conn = FakeConnection(params)
        conns.append(conn)
        return conn

    p = ExecPool(factory)
    p.conns = conns  # type: ignore[attr-defined]
    yield p
    p.close()


def test_a_quiet_event_stream_sleeps_until_its_silence_is_due_and_stops_at_once(pool, monkeypatch):
    calls = _counting(monkeypatch, events)
    s = DeviceEventStream("r1", lambda: PARAMS, monitor_stream(), pool, on_event=lambda d, e: None)
    s.start()
    try:
        assert _wait(lambda: pool.conns and pool.conns[0].channels)
        pool.conns[0].channels[0].say("netha-events-ready")
        assert _wait(lambda: s.stats().state == "up")
        n = len(calls)
        time.sleep(1.2)
        assert len(calls) - n <= 1, calls  # a 0.5 s tick would be 2 or 3
        assert calls[-1] is not None and calls[-1] > s.quiet_after() - 1.3
    finally:
        t0 = time.monotonic()
        s.stop()
    assert time.monotonic() - t0 < 0.5 and not s.running
