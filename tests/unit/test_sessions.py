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
