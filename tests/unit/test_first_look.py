"""The daemon resolves open plans against its first look: that look waits for the path probers."""

from __future__ import annotations

import threading

from netha.controller.daemon import first_look
from netha.drivers.models import ReachReading
from netha.observe.types import DeviceObservation, ProbeResult, Snapshot

OK = ProbeResult(True, 0.0)


class Looks:
    """An observer whose snapshots are given in turn (the last one repeats)."""

    def __init__(self, snaps):
        self.snaps = list(snaps)
        self.changed = threading.Event()

    def snapshot(self):
        return self.snaps.pop(0) if len(self.snaps) > 1 else self.snaps[0]


def look(inv, state: str | None, error: str | None = None) -> Snapshot:
    devices = {}
    for name in inv.devices:
        reach = {}
        if state is not None:
            for g in inv.groups.values():
                for m in g.members:
                    if m.device == name:
                        for t in g.tracks_for(name):
                            if t.reach is not None:
                                reach[t.key] = ReachReading(t.key, state, error=error)
        devices[name] = DeviceObservation(name, ssh=OK, snmp=OK, reach=reach)
    return Snapshot(at=0.0, wall=0.0, devices=devices)


def test_the_first_look_waits_until_every_path_is_judged(inv):
    assert any(t.reach is not None for g in inv.groups.values() for t in g.track), "the lab tracks reach"
    filling, judged = look(inv, None), look(inv, "up")
    got = first_look(Looks([filling, look(inv, "unknown"), judged]), 5.0, inv)
    assert got is judged


def test_a_prober_that_fails_is_no_reason_to_wait(inv):
    failed = look(inv, "unknown", error="ping: permission denied")
    assert first_look(Looks([look(inv, None), failed]), 5.0, inv) is failed


def test_without_the_inventory_one_poll_of_every_device_is_enough(inv):
    filling = look(inv, None)
    assert first_look(Looks([filling, look(inv, "up")]), 5.0) is filling


def test_the_first_look_gives_up_at_its_timeout(inv):
    filling = look(inv, None)
    assert first_look(Looks([filling]), 0.3, inv) is filling


def test_an_snmp_answer_before_the_first_ssh_poll_is_not_a_look(inv):
    early = look(inv, "up")
    early = Snapshot(at=0.0, wall=0.0, devices={n: DeviceObservation(n, snmp=OK, reach=o.reach)
                                                for n, o in early.devices.items()})
    polled = look(inv, "up")
    assert first_look(Looks([early, polled]), 5.0, inv) is polled
