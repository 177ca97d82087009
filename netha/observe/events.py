"""Device event streams: each device tells netha of its own changes, and each change wakes a read.

A platform whose driver has an event stream (:meth:`NetworkDriver.event_stream`: ``ip -o
monitor link address route`` on Linux, :mod:`netha.drivers.linux`) runs it on an exec channel of
the device's one shell connection (:class:`~netha.transport.ssh.ExecPool`, shared with the
streaming path probers): no new login per event. This module keeps each stream alive and says
what it saw:

- every event calls ``on_event(device, event)``: the observer re-reads that device at once
  (:meth:`~netha.observe.ssh.SshWorker.wake`). An event is never a verdict: it only brings the next
  poll forward, and the health model damps and corroborates that poll as any other.
- a stream that ends, prints an error, or stays silent past its heartbeat is reconnected with
  backoff (0.5 s doubling to 10 s), counted and reported (:meth:`EventStreams.stats`; the state
  is ``up``, ``starting`` or ``down`` with the reason). ``on_state(device, up)`` tells the observer,
  which polls the device at the fast fallback interval while its stream is not up, and reconciles
  with a read as soon as it is up again (events missed while it was down).
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..drivers.base import DeviceEvent, EventStream
from ..errors import NethaError, ParseError
from ..transport.ssh import ExecPool, SshParams
from .wakeup import Wakeup

log = logging.getLogger(__name__)

BACKOFF_MIN = 0.5
BACKOFF_MAX = 10.0
STARTUP = 5.0  # seconds a new stream may take to say it is ready (a loaded device)
QUIET_MIN = 5.0  # seconds without any line (heartbeats included) before a stream counts as dead


@dataclass(frozen=True)
class EventStreamStats:
    """What ``status`` shows of one device's event stream."""

    device: str
    state: str  # "starting", "up", "down"
    error: str | None
    restarts: int
    events: int  # change events received in all (heartbeats not counted)
    since: float  # monotonic time of the last state change
    last_event: float | None  # monotonic time of the newest change event
    last_detail: str | None


class EventSource:
    """What every device event source shares (this module's shell streams, :mod:`netha.observe.gnmi`'s
    subscriptions): the state and counters ``status`` shows, the callbacks, one thread, and the
    reconnection with backoff. A subclass connects and reads in :meth:`_connect_and_run` (raising
    :class:`NethaError` with a one-line reason when its stream breaks) and makes :meth:`_interrupt`
    end a blocked read at once."""

    what = "event stream"  # in log lines: "<device>: <what> down: <reason>"

    def __init__(
        self,
        device: str,
        on_event: Callable[[str, DeviceEvent], None],
        on_state: Callable[[str, bool], None] | None = None,
    ):
        self.device = device
        self._on_event = on_event
        self._on_state = on_state
        self._lock = threading.Lock()
        self.state = "starting"
        self.error: str | None = None
        self.restarts = 0
        self.events = 0
        self.since = time.monotonic()
        self.last_event: float | None = None
        self.last_detail: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"events-{device}", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread.ident is None:
            self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        self._interrupt()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _interrupt(self) -> None:  # noqa: B027 - optional hook
        """End the thread's blocked read (stop() was called)."""

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stats(self) -> EventStreamStats:
        with self._lock:
            return EventStreamStats(self.device, self.state, self.error, self.restarts, self.events, self.since,
                                    self.last_event, self.last_detail)

    # -- the thread --------------------------------------------------------------------------------
    def _set_state(self, state: str, error: str | None = None) -> None:
        with self._lock:
            changed = state != self.state
            self.state, self.error = state, error
            if changed:
                self.since = time.monotonic()
        if not changed:
            return
        if state == "up":
            log.info("%s: %s up", self.device, self.what)
        elif state == "down":
            log.warning("%s: %s down: %s (polling fast until it is back)", self.device, self.what, error)
        if self._on_state is not None and state in ("up", "down"):
            try:
                self._on_state(self.device, state == "up")
            except Exception:  # noqa: BLE001 - the listener's problem, not the stream's
                log.warning("%s: event state callback failed", self.device, exc_info=True)

    def _connect_and_run(self) -> None:
        """Connect, read until the stream breaks (NethaError) or stop() is called (return)."""
        raise NotImplementedError

    def _loop(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._connect_and_run()
            except NethaError as exc:
                if not self._stop.is_set():
                    self._set_state("down", str(exc))
            except Exception as exc:  # noqa: BLE001 - a surprise must never end the thread
                if not self._stop.is_set():
                    log.warning("%s: %s failed unexpectedly", self.device, self.what, exc_info=True)
                    self._set_state("down", f"{type(exc).__name__}: {exc}")
            if self._stop.is_set():
                break
            ran = time.monotonic() - started
            backoff = BACKOFF_MIN if ran > 30 else min(BACKOFF_MAX, max(BACKOFF_MIN, backoff * 2))
            with self._lock:
                self.restarts += 1
            self._stop.wait(backoff)

    def _event(self, event: DeviceEvent, now: float) -> None:
        detail = f"{event.kind} {event.interface or '-'} {event.detail}".strip()
        with self._lock:
            self.events += 1
            self.last_event, self.last_detail = now, detail
        log.info("%s: event: %s", self.device, detail, extra={"device": self.device, "event": "device-event"})
        try:
            self._on_event(self.device, event)
        except Exception:  # noqa: BLE001
            log.warning("%s: event callback failed", self.device, exc_info=True)


class DeviceEventStream(EventSource):
    """One device's event stream on its pooled shell connection, read by one thread."""

    def __init__(
        self,
        device: str,
        params: Callable[[], SshParams | None],
        stream: EventStream,
        pool: ExecPool,
        on_event: Callable[[str, DeviceEvent], None],
        on_state: Callable[[str, bool], None] | None = None,
    ):
        super().__init__(device, on_event, on_state)
        self._params = params
        self._stream = stream
        self._pool = pool
        self._wakeup = Wakeup()  # stop() sets it: the thread's wait ends at once
        self._lease = None


    def _interrupt(self) -> None:
        self._wakeup.set()
        lease = self._lease
        if lease is not None:
            lease.close()  # the channel closes: the thread's select returns at once

    def _connect_and_run(self) -> None:
        try:
            params = self._params()
            if params is None:
                raise NethaError(f"{self.device}: no shell login for its event stream (set `shell:` on the device)")
            self._lease = self._pool.lease(params)
            self._lease.open()
            self._run(self._lease)
        finally:
            lease, self._lease = self._lease, None
            if lease is not None:
                lease.close()

    def quiet_after(self) -> float:
        return max(QUIET_MIN, 2.5 * self._stream.heartbeat) if self._stream.heartbeat else float("inf")

    def _run(self, lease) -> None:
        chan = lease.start(self._stream.command)
        started = time.monotonic()
        last_line = 0.0
        ready = False
        buf = b""
        fd = chan.fileno()
        while not self._stop.is_set():
            # Until a line arrives or the stream's silence is due (stop() closes the channel): no tick.
            limit = self.quiet_after() + (0 if ready else STARTUP)
            due = (last_line or started) + limit
            timeout = None if due == float("inf") else max(0.0, due - time.monotonic()) + 0.01
            readable, _, _ = select.select([fd, self._wakeup.fd], [], [], timeout)
            now = time.monotonic()
            if self._wakeup.fd in readable:
                return
            if readable:
                data = chan.recv(65536)
                if not data:
                    status = chan.recv_exit_status() if chan.exit_status_ready() else None
                    tail = buf.decode(errors="replace").strip()[-120:]
                    raise NethaError(f"{self.device}: event stream ended (exit status {status})"
                                     + (f": {tail}" if tail else ""))
                buf += data
                *lines, buf = buf.split(b"\n")
                if len(buf) > 8192:
                    buf = b""  # a line that never ends is no event
                for raw in lines:
                    last_line = now
                    try:
                        event = self._stream.parse(raw.decode(errors="replace"))
                    except ParseError as exc:
                        raise NethaError(f"{self.device}: event stream: {exc}") from None
                    if event is None or event.kind == "heartbeat":
                        continue
                    if event.kind == "ready":
                        ready = True
                        self._set_state("up")
                        continue
                    self._event(event, now)
            quiet = now - (last_line or started)
            limit = self.quiet_after() + (0 if ready else STARTUP)
            if quiet > limit:
                raise NethaError(f"{self.device}: event stream silent for {quiet:.1f}s")


class EventStreams:
    """Every device's event source (:class:`DeviceEventStream`, :class:`netha.observe.gnmi.GnmiEventStream`)."""

    def __init__(self, streams: Mapping[str, EventSource]):
        self.streams = dict(streams)

    def start(self) -> None:
        for s in self.streams.values():
            s.start()

    def stop(self) -> None:
        for s in self.streams.values():
            s._stop.set()
        for s in self.streams.values():
            s.stop()

    def up(self, device: str) -> bool | None:
        """Is ``device``'s stream up? None when it has none."""
        s = self.streams.get(device)
        return None if s is None else s.state == "up"

    def stats(self) -> list[EventStreamStats]:
        return [s.stats() for _, s in sorted(self.streams.items())]
