"""One session per device, shared by the observer's polls and the takeover's pushes (issue 12)."""

from __future__ import annotations

from netha.connect import Sessions
from netha.observe.observer import Observer, ObserverOptions
from netha.store import Store
from netha.takeover.execute import Executor

from .fakes import FakeNetwork

ONLY_SSH = ObserverOptions(snmp=False, listener=False, reach=False)


def test_the_observer_and_the_takeover_log_in_once_per_device(inv, tmp_path):
    net = FakeNetwork(inv)
    sessions = Sessions(inv, factory=net.factory)
    observer = Observer(inv, ONLY_SSH, sessions)
    snap = observer.observe_once(listen=0)
    assert snap.devices["r1"].ssh.ok and snap.devices["r2"].ssh.ok
    executor = Executor(inv, Store(tmp_path / "state"), sessions, adverts=None)
    with executor.sessions.session("r1") as drv:
        assert drv.get_config()
    observer.observe_once(listen=0)
    assert (net["r1"].logins, net["r2"].logins) == (1, 1)
    observer.stop()
    assert net.drivers[0].is_open  # the observer does not close sessions it was given
    sessions.close()
    assert not any(d.is_open for d in net.drivers)


def test_a_failed_poll_drops_the_shared_session_and_the_next_use_logs_in_again(inv):
    net = FakeNetwork(inv)
    sessions = Sessions(inv, factory=net.factory)
    observer = Observer(inv, ONLY_SSH, sessions)
    observer.observe_once(listen=0)
    net["r1"].unreachable = 1  # the next call fails: the poll's first command
    assert not observer.observe_once(listen=0).devices["r1"].ssh.ok
    assert observer.observe_once(listen=0).devices["r1"].ssh.ok
    assert net["r1"].logins == 2
    observer.stop()


def test_an_observer_without_given_sessions_closes_its_own(inv):
    net = FakeNetwork(inv)
    observer = Observer(inv, ONLY_SSH)
    observer.sessions = Sessions(inv, factory=net.factory)
    for w in observer._workers.values():
        w._sessions = observer.sessions
    observer.observe_once(listen=0)
    observer.stop()
    assert net.drivers and not any(d.is_open for d in net.drivers)


def test_an_observer_that_froze_its_paths_in_a_one_shot_look_refuses_to_run_in_the_background(inv):
    import pytest

    from netha.errors import NethaError

    net = FakeNetwork(inv)
    observer = Observer(inv, ONLY_SSH, Sessions(inv, factory=net.factory))
    observer._reach_frozen = {}  # what observe_once leaves when the inventory tracks paths
    with pytest.raises(NethaError, match="one-shot"):
        observer.start()
    observer.stop()


def _order_of_use(sessions, first_holds, contenders):
    """Hold r1's session in one thread, start CONTENDERS (name, urgent) while it is held, one after
    another, release it, and return the order in which they got the session."""
    import threading
    import time

    got: list[str] = []
    held = threading.Event()
    release = threading.Event()

    def holder():
        with sessions.session("r1", urgent=first_holds):
            held.set()
            release.wait(5)

    def user(name, urgent):
        with sessions.session("r1", urgent=urgent):
            got.append(name)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    held.wait(5)
    for name, urgent in contenders:
        t = threading.Thread(target=user, args=(name, urgent))
        t.start()
        threads.append(t)
        time.sleep(0.05)  # each is waiting before the next comes
    release.set()
    for t in threads:
        t.join(5)
    return got


def test_a_takeover_waits_for_the_poll_in_flight_only_never_for_polls_queued_before_it(inv):
    net = FakeNetwork(inv)
    sessions = Sessions(inv, factory=net.factory)
    order = _order_of_use(sessions, False, [("poll-1", False), ("poll-2", False), ("push", True)])
    assert order[0] == "push", order
    assert sorted(order[1:]) == ["poll-1", "poll-2"]


def test_a_reserved_device_is_not_polled_until_the_reservation_ends_but_the_takeover_goes_on(inv):
    import threading

    net = FakeNetwork(inv)
    sessions = Sessions(inv, factory=net.factory)
    polled = threading.Event()

    def poll():
        with sessions.session("r1"):
            polled.set()

    with sessions.reserve("r1"):
        t = threading.Thread(target=poll)
        t.start()
        assert not polled.wait(0.2), "a poll ran on a reserved device"
        with sessions.session("r1", urgent=True) as drv:  # the takeover's own use is not held back
            assert drv.get_config()
        with sessions.session("r2"):  # other devices are polled as ever
            pass
    assert polled.wait(5), "the poll did not run once the reservation ended"
    t.join(5)
