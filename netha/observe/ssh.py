"""The SSH probe: one worker thread per device, polling through the device's one shared session.

A worker polls its device every interval and publishes the reading; a slow or hung device only
delays its own worker. A lost session is reopened with exponential backoff. Failures become
results (``ProbeResult(ok=False)``), never exceptions out of the poller (as Nornir's failed hosts).

With an event stream (:mod:`netha.observe.events`) the interval is a reconciliation only: an event
wakes the worker (:meth:`SshWorker.wake`), which reads at once and then ``burst`` more times
back to back, so that damping (``failure_threshold`` consecutive bad polls) is satisfied in tens of
milliseconds, not in intervals. While the device's stream is down the worker polls at the fast
fallback interval instead (:meth:`SshWorker.set_events`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..connect import Sessions
from ..drivers import DeviceReading
from ..drivers.models import ReachProbe
from ..errors import NethaError
from .types import ProbeResult

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class SshSample:
    result: ProbeResult
    reading: DeviceReading | None


class SshWorker:
    """Polls one device forever (until stopped) through the device's shared session
    (:class:`~netha.connect.Sessions`: the takeover pushes through the same one)."""

    BACKOFF_MIN = 0.2
    BACKOFF_MAX = 5.0
    BURST_GAP = 0.01  # seconds between the reads of a burst (after the read itself)

    def __init__(
        self,
        device: str,
        sessions: Sessions,
        routes: tuple[str, ...],
        interval: float,
        on_sample: Callable[[str, SshSample], None],
        probes: tuple[ReachProbe, ...] = (),
        fast_interval: float | None = None,
        burst: int = 0,
    ):
        """``fast_interval``: the interval while the device's event stream is down (default: the
        interval); ``burst``: the reads that follow a wake-up's first, back to back."""
        self.device = device
        self._sessions = sessions
        self._routes = routes
        self._probes = probes  # native probers' paths, read with every poll
        self._interval = interval
        self._fast = fast_interval if fast_interval is not None else interval
        self._burst_size = burst
        self._burst = 0
        self._events: bool | None = None  # None: no event stream; True: up; False: down (poll fast)
        self._on_sample = on_sample
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._backoff = 0.0
        self.wakes = 0  # reads brought forward by events
        self._thread = threading.Thread(target=self._loop, name=f"ssh-{device}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wake(self) -> None:
        """Read now (an event): at once if idle, right after the read in flight otherwise; then a burst."""
        self._burst = self._burst_size
        self.wakes += 1
        self._wake.set()

    def set_events(self, up: bool | None) -> None:
        """The device's event stream is up (poll at the interval), down (poll at the fast interval),
        or absent (None: the interval). A stream that comes up wakes a read (what it missed)."""
        before, self._events = self._events, up
        if up is False or (up and not before):
            self._wake.set()  # the new interval applies now; a stream back up reconciles at once

    @property
    def interval(self) -> float:
        """The current interval between reads."""
        return self._fast if self._events is False else self._interval

    def poll_once(self) -> SshSample:
        """Take one reading (logging in first if the session is not open). Never raises."""
        started = time.monotonic()
        try:
            with self._sessions.session(self.device) as drv:
                reading = drv.read(self._routes, self._probes)
        except NethaError as exc:
            self._sessions.drop(self.device)
            now = time.monotonic()
            log.info("%s: SSH poll failed: %s", self.device, exc)
            return SshSample(ProbeResult(False, now, str(exc), now - started), None)
        except Exception as exc:  # noqa: BLE001 - one device's surprise must not stop the others
            self._sessions.drop(self.device)
            now = time.monotonic()
            log.warning("%s: SSH poll failed unexpectedly: %s: %s", self.device, type(exc).__name__, exc)
            return SshSample(ProbeResult(False, now, f"{type(exc).__name__}: {exc}", now - started), None)
        now = time.monotonic()
        return SshSample(ProbeResult(True, now, None, now - started), reading)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            started = time.monotonic()
            sample = self.poll_once()
            self._on_sample(self.device, sample)
            if sample.result.ok:
                self._backoff = 0.0
                if self._burst > 0:
                    self._burst -= 1
                    delay = self.BURST_GAP
                else:
                    delay = self.interval - (time.monotonic() - started)
            else:
                self._burst = 0
                self._backoff = min(self.BACKOFF_MAX, max(self.BACKOFF_MIN, self._backoff * 2 or self.interval))
                delay = self._backoff
            if delay > 0 and not self._wake.is_set():
                self._wake.wait(delay)
