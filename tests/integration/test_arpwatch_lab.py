"""ARP presence on the real lab: the watcher runs in the controller's namespace on its listener legs
(eth1: LAN, eth2: uplink), and sees r1's uplink address go silent when r1's uplink switch port drops
every frame (carrier kept), while r2 and wan keep answering; and answer again after."""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

from netha.lab.faults import port_blackhole

from .labtools import ROOT, ns, sh

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)

TARGETS = {
    "eth1": ["198.18.1.2", "198.18.1.3"],  # r1, r2 on the LAN
    "eth2": ["198.18.2.2", "198.18.2.3", "198.18.2.100"],  # r1, r2, wan on the uplink
}
INTERVAL = 0.1
R1_UPLINK = ("eth2", "198.18.2.2")

# The watcher in the controller's namespace: one JSON line per event; on a line on stdin, the presence
# table; on EOF it stops (the watcher joins its thread) and reports its interfaces and counters.
WATCHER = textwrap.dedent("""
    import dataclasses, json, sys
    from netha.observe.arpwatch import ArpWatch

    def out(doc):
        sys.stdout.write(json.dumps(doc) + "\\n")
        sys.stdout.flush()

    def on_change(e):
        out({"event": e.kind, "interface": e.interface, "address": e.address, "at": e.at, "mac": e.mac})

    w = ArpWatch(json.loads(sys.argv[1]), float(sys.argv[2]), on_change)
    w.start()
    out({"running": list(w.running_interfaces())})
    for line in sys.stdin:
        out({"presence": [dataclasses.asdict(p) for p in w.presence().values()], "running": list(w.running_interfaces())})
    w.stop()
    w.stop()  # idempotent
    out({"stopped": True, "running": list(w.running_interfaces()), "stats": w.stats()})
""")


class Watcher:
    """The watcher subprocess; its JSON lines arrive on a queue, read by a thread."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns("ctl"), sys.executable, "-c", WATCHER, json.dumps(TARGETS), str(INTERVAL)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.lines: queue.Queue[dict] = queue.Queue()
        self.events: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def next(self, match, timeout: float, what: str) -> dict:
        """The next line that MATCH accepts (events on the way are kept in ``events``)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                doc = self.lines.get(timeout=max(0.0, left))
            except queue.Empty:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; events: {self.events}; "
                                     f"stderr: {self.stderr_if_dead()}") from None
            if "event" in doc:
                self.events.append(doc)
            if match(doc):
                return doc

    def event(self, kind: str, key: tuple[str, str], timeout: float, since: int = 0) -> dict:
        """The first event KIND of KEY from the SINCE-th event on (already received, or still to come)."""

        def match(d: dict) -> bool:
            return d.get("event") == kind and (d["interface"], d["address"]) == key

        for d in self.events[since:]:
            if match(d):
                return d
        return self.next(match, timeout, f"{kind} of {key}")

    def presence(self) -> dict[tuple[str, str], dict]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("presence\n")
        self.proc.stdin.flush()
        doc = self.next(lambda d: "presence" in d, 5, "presence")
        return {(p["interface"], p["address"]): p for p in doc["presence"]}

    def stderr_if_dead(self) -> str:
        if self.proc.poll() is None:
            return "(running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def finish(self) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.next(lambda d: "stopped" in d, 10, "the watcher to stop")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)


@pytest.fixture
def watcher(lab) -> Iterator[Watcher]:
    w = Watcher()
    try:
        yield w
    finally:
        w.kill()


def test_r1_uplink_goes_silent_when_its_switch_port_drops_everything(baseline, watcher):
    # The routers run arp_ignore=1 (only the VRRP master's macvlan answers for a virtual address), and
    # still answer a probe from 0.0.0.0 for their own address on the receiving interface.
    for node in ("r1", "r2"):
        assert sh("ip", "netns", "exec", ns(node), "sysctl", "-n", "net.ipv4.conf.all.arp_ignore").stdout.strip() == "1"
    start = watcher.next(lambda d: "running" in d, 10, "the watcher to start")
    assert sorted(start["running"]) == ["eth1", "eth2"]
    # Every address answers (the first reply of each).
    for iface, addrs in TARGETS.items():
        for addr in addrs:
            watcher.event("answering", (iface, addr), 5)
    time.sleep(0.5)  # a few rounds answered
    table = watcher.presence()
    for key, p in table.items():
        assert p["answered"] and p["mac"] and p["unanswered"] <= 1 and not p["silent"], (key, p)
    macs = {key: p["mac"] for key, p in table.items()}
    assert macs[R1_UPLINK] != macs[("eth2", "198.18.2.3")]

    # r1's uplink switch port drops every frame both ways; r1's link keeps carrier.
    mark = len(watcher.events)
    with port_blackhole("r1", "eth2"):
        cut = time.monotonic()  # CLOCK_MONOTONIC is one clock for every namespace
        silent = watcher.event("silent", R1_UPLINK, 3, since=mark)
        detected = silent["at"] - cut
        time.sleep(1.0)  # everyone else keeps answering meanwhile
        during = watcher.presence()
    others = [e for e in watcher.events if e["event"] in ("silent", "mac-change") and (e["interface"], e["address"]) != R1_UPLINK]
    assert not others, others
    assert during[R1_UPLINK]["silent"] and during[R1_UPLINK]["unanswered"] >= 3
    assert during[R1_UPLINK]["silent_for"] >= 1.0
    for key, p in during.items():
        if key != R1_UPLINK:
            assert not p["silent"] and p["silent_for"] < 0.5, (key, p)
    log.info("r1 uplink silent %.3fs after its switch port was cut", detected)
    assert 0 < detected <= 0.6, detected

    # Undone: r1 answers again, from the same MAC.
    back = watcher.event("answering", R1_UPLINK, 3, since=mark)
    assert back["mac"] == macs[R1_UPLINK]
    assert not [e for e in watcher.events if e["event"] == "mac-change"]

    done = watcher.finish()
    assert done["running"] == []
    assert done["stats"]["replies"] > 0 and done["stats"]["sent"] > done["stats"]["replies"]


def test_a_missing_interface_stops_alone(lab):
    """A leg that cannot be opened is logged and left out; the others go on."""
    code = textwrap.dedent("""
        import json, logging, time
        from netha.observe.arpwatch import ArpWatch
        logging.basicConfig(level=logging.WARNING)
        with ArpWatch({"eth1": ["198.18.1.2"], "nosuch0": ["198.18.1.3"]}, 0.1) as w:
            time.sleep(0.5)
            p = w.presence()
            print(json.dumps({"running": list(w.running_interfaces()),
                              "eth1": p[("eth1", "198.18.1.2")].answered, "nosuch0": p[("nosuch0", "198.18.1.3")].answered}))
    """)
    r = subprocess.run(["ip", "netns", "exec", ns("ctl"), sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=30, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"running": ["eth1"], "eth1": True, "nosuch0": False}
    assert r.stderr.count("nosuch0 failed") == 1, r.stderr
