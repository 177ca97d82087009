"""A takeover is verified on the wire too: the new master's own advertisements must be heard after the
change began, for an IPv4 group (sources: the members' inventory addresses) and for an IPv6 group
(sources: the link-local addresses each member reports, the health model's mapping)."""

from __future__ import annotations

from netha.connect import Sessions
from netha.health import assess
from netha.observe.types import Snapshot
from netha.store import Store
from netha.takeover.execute import Executor

from .test_health_ipv6 import LL, advert6, device, inv  # noqa: F401 - inv is a fixture

SINCE = 10.0  # when the step began (monotonic)


def executor(inv, tmp_path, adverts, r1_state: str, r2_state: str) -> Executor:  # noqa: F811
    ex = Executor(inv, Store(tmp_path / "state"), Sessions(inv), adverts=lambda: tuple(adverts), verify_timeout=0.05)
    snap = Snapshot(at=SINCE + 0.2, wall=0.0, devices={"r1": device("r1", state6=r1_state, state4=r1_state),
                                                        "r2": device("r2", state6=r2_state, state4=r2_state)})
    ex._look = lambda gname: assess(inv, snap)  # the devices' reads, without devices
    return ex


def test_an_ipv6_target_that_reports_master_is_not_verified_until_its_link_local_is_heard(inv, tmp_path):  # noqa: F811
    old_only = [advert6(LL["r1"], SINCE + 0.1)]  # the old master still advertising, r2 not heard
    ok, why = executor(inv, tmp_path, old_only, "backup", "master")._observe_master("lan6", "r2", SINCE)
    assert not ok and "not heard yet" in why


def test_an_ipv6_target_heard_from_its_link_local_after_the_change_began_is_verified(inv, tmp_path):  # noqa: F811
    heard = [advert6(LL["r1"], SINCE - 1.0), advert6(LL["r2"], SINCE + 0.1, prio=100)]
    assert executor(inv, tmp_path, heard, "backup", "master")._observe_master("lan6", "r2", SINCE) == (True, "ok")


def test_an_ipv6_advert_heard_before_the_change_began_does_not_verify_it(inv, tmp_path):  # noqa: F811
    stale = [advert6(LL["r1"], SINCE + 0.1), advert6(LL["r2"], SINCE - 0.5, prio=100)]
    ok, _ = executor(inv, tmp_path, stale, "backup", "master")._observe_master("lan6", "r2", SINCE)
    assert not ok


def test_the_ipv4_group_of_the_same_vrid_is_not_verified_by_ipv6_adverts(inv, tmp_path):  # noqa: F811
    from netha.observe.types import AdvertSource

    only_v6 = [advert6(LL["r2"], SINCE + 0.1, prio=100)]
    v4_old = AdvertSource(interface="eth1", vrid=21, source="198.18.1.2", priority=200, interval=0.1, version=3,
                          last_seen=SINCE + 0.1, first_seen=0.0, count=10, family=4)
    ok, why = executor(inv, tmp_path, [*only_v6, v4_old], "backup", "master")._observe_master("lan", "r2", SINCE)
    assert not ok and "not heard yet" in why
