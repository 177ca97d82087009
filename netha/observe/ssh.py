"""The SSH probe: one persistent session per device, one worker thread per device.

A worker polls its device every interval and publishes the reading; a slow or hung device only
delays its own worker. A lost session is reopened with exponential backoff. Failures become
results (``ProbeResult(ok=False)``), never exceptions out of the poller (as Nornir's failed hosts).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..drivers import DeviceReading, NetworkDriver
from ..drivers.models import ReachProbe
from ..errors import NethaError
from .types import ProbeResult

log = logging.getLogger(__name__)

DriverFactory = Callable[[], NetworkDriver]


@dataclass(frozen=True)
class SshSample:
    result: ProbeResult
    reading: DeviceReading | None


class SshWorker:
    """Polls one device forever (until stopped), keeping its session open between polls."""

    BACKOFF_MIN = 0.2
    BACKOFF_MAX = 5.0

    def __init__(
        self,
        device: str,
        factory: DriverFactory,
        routes: tuple[str, ...],
        interval: float,
        on_sample: Callable[[str, SshSample], None],
        probes: tuple[ReachProbe, ...] = (),
    ):
        self.device = device
        self._factory = factory
        self._routes = routes
        self._probes = probes  # native probers' paths, read with every poll
        self._interval = interval
        self._on_sample = on_sample
        self._stop = threading.Event()
        self._driver: NetworkDriver | None = None
        self._backoff = 0.0
        self._thread = threading.Thread(target=self._loop, name=f"ssh-{device}", daemon=True)
        self.driver_lock = threading.Lock()  # held while polling; a pusher takes it to use the session

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._close()

    def poll_once(self) -> SshSample:
        """Open the session if needed and take one reading. Never raises."""
        started = time.monotonic()
        try:
            with self.driver_lock:
                if self._driver is None or not self._driver.is_open:
                    self._close()
                    driver = self._factory()
                    driver.open()
                    self._driver = driver
                reading = self._driver.read(self._routes, self._probes)
        except NethaError as exc:
            self._close()
            now = time.monotonic()
            log.info("%s: SSH poll failed: %s", self.device, exc)
            return SshSample(ProbeResult(False, now, str(exc), now - started), None)
        except Exception as exc:  # noqa: BLE001 - one device's surprise must not stop the others
            self._close()
            now = time.monotonic()
            log.warning("%s: SSH poll failed unexpectedly: %s: %s", self.device, type(exc).__name__, exc)
            return SshSample(ProbeResult(False, now, f"{type(exc).__name__}: {exc}", now - started), None)
        now = time.monotonic()
        return SshSample(ProbeResult(True, now, None, now - started), reading)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            sample = self.poll_once()
            self._on_sample(self.device, sample)
            if sample.result.ok:
                self._backoff = 0.0
                delay = self._interval - (time.monotonic() - started)
            else:
                self._backoff = min(self.BACKOFF_MAX, max(self.BACKOFF_MIN, self._backoff * 2 or self._interval))
                delay = self._backoff
            if delay > 0:
                self._stop.wait(delay)

    def _close(self) -> None:
        driver, self._driver = self._driver, None
        if driver is not None:
            driver.close()

    def release(self) -> NetworkDriver | None:
        """Hand the open session over (to the pusher, after a one-shot poll); the worker forgets it."""
        with self.driver_lock:
            driver, self._driver = self._driver, None
        return driver
