"""Streaming forwarding-path probers: one persistent SSH connection per device, one long-running
prober per tracked path on it, every probe's outcome read as it arrives.

The platform's driver says what to run (:meth:`NetworkDriver.reach_stream`: ``ping -O`` on
Linux) and how to read each line; this module keeps the prober alive and judges its window:

- A path is ``down`` when more than ``max_loss`` of the last ``window`` probes were lost (or the
  window's median round trip is above ``max_rtt``), ``up`` when enough of them were answered,
  ``unknown`` before that (a window still filling).
- The prober's own failure (cannot log in, cannot start, exits, prints an error, goes quiet) is
  never a path failure: the reading's state is ``unknown`` with ``error`` set, and the prober is
  restarted with backoff. Restarts are counted (:meth:`ReachProbers.stats`).
- The probe rate is bounded by the inventory (``interval`` >= 20 ms: at most 50 probes per
  second per path and member) and reported.

``on_change`` is called when a path's state changes and, while a window holds lost probes, at
most once per probe interval, so a controller can decide without waiting for its next poll.
"""

from __future__ import annotations

import logging
import select
import statistics
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..drivers.models import ProbeEvent, ProbeStream, ReachProbe, ReachReading, ReachState
from ..errors import NethaError, ParseError
from ..transport.openssh import exec_session
from ..transport.ssh import ExecSession, SshParams
from .wakeup import Wakeup

log = logging.getLogger(__name__)

BACKOFF_MIN = 0.5
BACKOFF_MAX = 10.0
QUIET_MIN = 2.0  # seconds without any line from a prober before it counts as stuck (at least)
STARTUP = 5.0  # seconds a new prober may take to print its first outcome (a loaded device)


def judge(results: Sequence[tuple[bool, float | None]], probe: ReachProbe) -> tuple[ReachState, int, float | None]:
    """The verdict over a window of ``(ok, rtt)`` results: (state, lost, median rtt).

    Loss is counted against the full window, so a prober that has sent only a few probes is not
    called down for its first loss.
    """
    if not results:
        return "unknown", 0, None
    lost = sum(1 for ok, _ in results if not ok)
    rtts = [rtt for ok, rtt in results if ok and rtt is not None]
    rtt = statistics.median(rtts) if rtts else None
    size = max(len(results), probe.window)
    if lost / size > probe.max_loss:
        return "down", lost, rtt
    if probe.max_rtt is not None and rtt is not None and rtt > probe.max_rtt:
        return "down", lost, rtt
    if (len(results) - lost) / size < 1 - probe.max_loss:
        return "unknown", lost, rtt  # a window not full yet, and not enough answers to call it up
    return "up", lost, rtt


class Window:
    """The last ``size`` probes' outcomes by sequence number (a late reply corrects its probe), with
    the number lost kept as they come and go: a prober's line costs no pass over the window."""

    def __init__(self, size: int):
        self.size = size
        self._results: OrderedDict[int, tuple[bool, float | None]] = OrderedDict()
        self.count = 0  # outcomes recorded in all
        self.lost = 0  # lost probes in the window now

    def add(self, event: ProbeEvent) -> None:
        results = self._results
        seen = results.get(event.seq)
        if seen is not None:
            if event.ok and not seen[0]:
                results[event.seq] = (True, event.rtt)  # a reply after "no answer yet"
                self.lost -= 1
            return
        results[event.seq] = (event.ok, event.rtt)
        if not event.ok:
            self.lost += 1
        self.count += 1
        while len(results) > self.size:
            _, (ok, _rtt) = results.popitem(last=False)
            if not ok:
                self.lost -= 1

    def __len__(self) -> int:
        return len(self._results)

    def results(self) -> list[tuple[bool, float | None]]:
        return list(self._results.values())

    def state(self, probe: ReachProbe) -> tuple[ReachState, int]:
        """:func:`judge`'s verdict from the kept counts (the median round trip only when ``max_rtt`` asks for it)."""
        n, lost = len(self._results), self.lost
        if probe.max_rtt is not None:
            return judge(self.results(), probe)[:2]
        if not n:
            return "unknown", 0
        size = max(n, probe.window)
        if lost / size > probe.max_loss:
            return "down", lost
        if (n - lost) / size < 1 - probe.max_loss:
            return "unknown", lost
        return "up", lost

    def clear(self) -> None:
        self._results.clear()
        self.lost = 0


@dataclass
class _PathState:
    probe: ReachProbe
    stream: ProbeStream
    window: Window
    last_line: float = 0.0  # monotonic time of the newest outcome
    state: ReachState = "unknown"
    error: str | None = None
    started: float = 0.0


SessionFactory = Callable[[SshParams], ExecSession]


class DeviceProber:
    """Every streaming prober of one device, on one SSH connection, read by one thread."""

    def __init__(
        self,
        device: str,
        params: Callable[[], SshParams | None],
        probes: Sequence[ReachProbe],
        stream_for: Callable[[ReachProbe], ProbeStream],
        on_change: Callable[[str], None] | None = None,
        session_factory: SessionFactory = exec_session,
    ):
        self.device = device
        self._params = params
        self._session_factory = session_factory
        self._on_change = on_change
        self._lock = threading.Lock()
        self._paths: dict[str, _PathState] = {}
        for p in probes:
            try:
                stream = stream_for(p)
            except NethaError as exc:
                stream = ProbeStream("", lambda line: None)
                self._paths[p.key] = _PathState(p, stream, Window(p.window), error=str(exc))
                continue
            self._paths[p.key] = _PathState(p, stream, Window(p.window))
        self.restarts = 0
        self.failures = 0
        self._stop = threading.Event()
        self._wakeup = Wakeup()  # stop() sets it: the reading thread's wait ends at once
        self._thread = threading.Thread(target=self._loop, name=f"reach-{device}", daemon=True)
        self._notified = 0.0


    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the prober's thread (once: a second call does nothing)."""
        if any(p.stream.command for p in self._paths.values()) and self._thread.ident is None:
            self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        self._wakeup.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- what it sees ------------------------------------------------------------------------------
    def readings(self, now: float | None = None) -> dict[str, ReachReading]:
        now = time.monotonic() if now is None else now
        out: dict[str, ReachReading] = {}
        with self._lock:
            for key, ps in self._paths.items():
                out[key] = self._reading(ps, now)
        return out

    def _reading(self, ps: _PathState, now: float) -> ReachReading:
        p = ps.probe
        rate = round(1.0 / p.interval, 1)
        if ps.error is not None:
            return ReachReading(key=p.key, state="unknown", error=ps.error, at=ps.last_line, rate=rate)
        quiet = now - (ps.last_line or ps.started)
        if ps.started and quiet > self.quiet_after(p, started=not ps.last_line):
            return ReachReading(key=p.key, state="unknown", at=ps.last_line, rate=rate,
                                error=f"prober silent for {quiet:.1f}s")
        state, lost, rtt = judge(ps.window.results(), p)
        return ReachReading(key=p.key, state=state, sent=len(ps.window.results()), lost=lost, rtt=rtt,
                            at=ps.last_line, rate=rate)

    @staticmethod
    def quiet_after(p: ReachProbe, started: bool = False) -> float:
        """How long a prober may print nothing before it counts as stuck: ping -O prints a line
        for every probe, answered or not; a prober just started has longer for its first line."""
        quiet = max(QUIET_MIN, 5 * p.interval + p.timeout)
        return quiet + STARTUP if started else quiet

    # -- the thread --------------------------------------------------------------------------------
    def _loop(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            session: ExecSession | None = None
            started = time.monotonic()
            try:
                params = self._params()
                if params is None:
                    raise NethaError(f"{self.device}: no shell login for its probers (set `shell:` on the device)")
                session = self._session_factory(params)
                session.open()
                self._run(session)
            except NethaError as exc:
                self._fail(str(exc))
            except Exception as exc:  # noqa: BLE001 - a prober's surprise must never end the thread
                log.warning("%s: prober failed unexpectedly", self.device, exc_info=True)
                self._fail(f"{type(exc).__name__}: {exc}")
            finally:
                if session is not None:
                    session.close()
            if self._stop.is_set():
                break
            ran = time.monotonic() - started
            backoff = BACKOFF_MIN if ran > 30 else min(BACKOFF_MAX, max(BACKOFF_MIN, backoff * 2))
            self.restarts += 1
            self._stop.wait(backoff)

    def _fail(self, error: str) -> None:
        self.failures += 1
        log.warning("%s: reach prober: %s", self.device, error)
        with self._lock:
            for ps in self._paths.values():
                if ps.stream.command:
                    ps.error = error
                    ps.window.clear()
        self._notify(force=True)

    def _run(self, session: ExecSession) -> None:
        channels = {}
        now = time.monotonic()
        for key, ps in self._paths.items():
            if not ps.stream.command:
                continue
            channels[key] = session.start(ps.stream.command)
            with self._lock:
                ps.error, ps.started, ps.last_line = None, now, 0.0
                ps.window.clear()
        log.info("%s: reach probers running: %s", self.device, ", ".join(channels))
        buffers = {key: b"" for key in channels}
        by_fd = {chan.fileno(): key for key, chan in channels.items()}
        stop_fd = self._wakeup.fd
        poller = select.poll()
        for fd in (*by_fd, stop_fd):
            poller.register(fd, select.POLLIN)
        running = [self._paths[key] for key in channels]
        while not self._stop.is_set():
            # Until a line arrives, a prober's silence is due, or stop(): no fixed tick.
            due = min((ps.last_line or ps.started) + self.quiet_after(ps.probe, started=not ps.last_line)
                      for ps in running) if running else None
            timeout = None if due is None else (max(0.0, due - time.monotonic()) + 0.01) * 1000.0
            ready = [fd for fd, _ in poller.poll(timeout)]
            now = time.monotonic()
            for fd in ready:
                if fd == stop_fd:
                    break
                key = by_fd[fd]
                chan = channels[key]
                data = chan.recv(65536)
                if not data:
                    status = chan.recv_exit_status() if chan.exit_status_ready() else None
                    last = buffers[key].decode(errors="replace").strip()[-120:]
                    raise NethaError(f"{self.device}: prober for {key} ended (exit status {status})"
                                     + (f": {last}" if last else ""))
                buffers[key] += data
                *lines, buffers[key] = buffers[key].split(b"\n")
                for raw in lines:
                    self._line(key, raw.decode(errors="replace"), now)
                if len(buffers[key]) > 4096:
                    buffers[key] = b""  # a line that never ends is nobody's probe result
            for key in channels:
                ps = self._paths[key]
                if now - (ps.last_line or ps.started) > self.quiet_after(ps.probe, started=not ps.last_line):
                    raise NethaError(f"{self.device}: prober for {key} printed nothing for "
                                     f"{now - (ps.last_line or ps.started):.1f}s")
        for chan in channels.values():
            try:
                chan.close()
            except Exception:  # noqa: BLE001 - the connection may be gone already; the session closes next
                pass

    def _line(self, key: str, line: str, now: float) -> None:
        ps = self._paths[key]
        try:
            event = ps.stream.parse(line)
        except ParseError as exc:
            raise NethaError(f"{self.device}: prober for {key}: {exc}") from None
        if event is None:
            return
        with self._lock:
            ps.window.add(event)
            ps.last_line = now
            state, lost = ps.window.state(ps.probe)
            changed, ps.state = state != ps.state, state
        if changed:
            log.info("%s: %s is %s (%d of the last %d probes lost)", self.device, key, state, lost,
                     len(ps.window))
        self._notify(force=changed, lossy=lost > 0, interval=ps.probe.interval)

    def _notify(self, force: bool = False, lossy: bool = False, interval: float = 0.0) -> None:
        if self._on_change is None:
            return
        now = time.monotonic()
        if force or (lossy and now - self._notified >= interval):
            self._notified = now
            try:
                self._on_change(self.device)
            except Exception:  # noqa: BLE001 - the listener's problem, not the prober's
                log.warning("%s: reach change callback failed", self.device, exc_info=True)


@dataclass(frozen=True)
class ProberStats:
    """What ``netha status`` shows of one device's probers."""

    device: str
    paths: int
    rate: float  # probes per second in all, this device's probers
    restarts: int
    running: bool


class ReachProbers:
    """Every streaming prober of an inventory (see :func:`netha.connect.stream_probers`)."""

    def __init__(self, probers: Mapping[str, DeviceProber]):
        self.probers = dict(probers)

    def start(self) -> None:
        for p in self.probers.values():
            p.start()

    def stop(self) -> None:
        for p in self.probers.values():
            p._stop.set()
        for p in self.probers.values():
            p.stop()

    def readings(self, device: str, now: float | None = None) -> dict[str, ReachReading]:
        prober = self.probers.get(device)
        return prober.readings(now) if prober is not None else {}

    def stats(self) -> list[ProberStats]:
        out = []
        for name, p in sorted(self.probers.items()):
            paths = list(p._paths.values())
            out.append(ProberStats(
                device=name, paths=len(paths), rate=round(sum(1.0 / ps.probe.interval for ps in paths), 1),
                restarts=p.restarts, running=p._thread.is_alive(),
            ))
        return out

    def wait_ready(self, timeout: float) -> None:
        """Wait until every path has a full window of results (or an error), at most ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = True
            for p in self.probers.values():
                with p._lock:
                    for ps in p._paths.values():
                        if ps.error is None and ps.window.count < ps.probe.window:
                            done = False
            if done:
                return
            time.sleep(0.05)
