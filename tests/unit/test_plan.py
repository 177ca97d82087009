"""Plans and templates: pure, no devices."""

from __future__ import annotations

import ipaddress

import pytest

from netha.errors import PlanError, TemplateError
from netha.health import assess
from netha.observe.types import DeviceObservation, Snapshot, VrrpView
from netha.drivers.changes import OPERATIONS, ChangeValues
from netha.drivers.render import Renderer
from netha.takeover.plan import PIN_PRIORITY, Planner

from .conftest import DOWN, OK


def obs(name, lan, up="master", managed=True, eth2=True):
    if not managed:
        return DeviceObservation(name, ssh=DOWN, snmp=DOWN)
    return DeviceObservation(
        name, ssh=OK, snmp=OK,
        vrrp=(VrrpView(1, "eth1", lan), VrrpView(2, "eth2", up)),
        interfaces={"eth1": True, "eth2": eth2},
        routes={"198.18.2.0/24": eth2},
    )


def assessment(inv, r1, r2):
    return assess(inv, Snapshot(at=0.0, wall=0.0, devices={"r1": r1, "r2": r2}))


def test_planned_failover_raises_backup_then_lowers_primary(inv):
    a = assessment(inv, obs("r1", "master"), obs("r2", "backup", "backup"))
    plan = Planner(inv).failover("lan", "r2", a)
    assert plan.kind == "planned"
    assert [(s.device, s.lines) for s in plan.steps] == [
        ("r2", ("interface eth1", f" vrrp 1 priority {PIN_PRIORITY}", "exit")),
        ("r1", ("interface eth1", " vrrp 1 priority 1", "exit")),
    ]
    assert plan.steps[0].expect.master == "r2"
    assert plan.steps[0].expect.settle > 0.3  # waits for preemption (Master_Down_Interval)


def test_emergency_with_reachable_degraded_master_resigns_it_first(inv):
    a = assessment(inv, obs("r1", "master", "init", eth2=False), obs("r2", "backup", "master"))
    plan = Planner(inv).failover("lan", "r2", a)
    assert plan.kind == "emergency"
    assert plan.steps[0].device == "r1"
    assert plan.steps[0].lines == ("interface eth1", " vrrp 1 shutdown", "exit")
    assert plan.steps[1].lines == ("interface eth1", f" vrrp 1 priority {PIN_PRIORITY}", "exit")


def test_emergency_with_unreachable_master_only_raises_backup(inv):
    a = assessment(inv, obs("r1", "master", managed=False), obs("r2", "master", "master"))
    plan = Planner(inv).failover("lan", "r2", a, "emergency")
    assert [s.device for s in plan.steps] == ["r2"]


def test_failover_to_unreachable_device_is_refused(inv):
    a = assessment(inv, obs("r1", "master"), obs("r2", "backup", managed=False))
    with pytest.raises(PlanError, match="refusing to fail over lan to r2"):
        Planner(inv).failover("lan", "r2", a)


def test_failover_to_member_with_failed_uplink_is_refused(inv):
    a = assessment(inv, obs("r1", "master"), obs("r2", "backup", "backup", eth2=False))
    with pytest.raises(PlanError, match="degraded"):
        Planner(inv).failover("lan", "r2", a)


def test_failback_restores_primary_then_backup_and_expects_primary(inv):
    a = assessment(inv, obs("r1", "backup", "backup"), obs("r2", "master", "master"))
    plan = Planner(inv).failback("lan", a)
    assert [s.device for s in plan.steps] == ["r1", "r2"]
    assert plan.steps[0].lines == ("interface eth1", " vrrp 1 priority 200", " no vrrp 1 shutdown", "exit")
    assert plan.steps[-1].expect.master == "r1"


@pytest.mark.parametrize("op", OPERATIONS)
def test_every_operation_has_an_frr_template(op):
    lines = Renderer("frr").render(op, ChangeValues("eth1", 1, 100, ipaddress.IPv4Interface("198.18.1.1/24")))
    assert lines[0] == "interface eth1" and lines[-1] == "exit"


@pytest.mark.parametrize("bad", [
    dict(interface="eth1\nexit\nno router bgp 1"),
    dict(interface="eth1; reload"),
    dict(interface="eth1", vrid=0),
    dict(interface="eth1", vrid=256),
    dict(interface="eth1", vrid="1\n"),
    dict(interface="eth1", priority=255),
    dict(interface="eth1", address="198.18.1.1/24\nshutdown"),
])
def test_values_with_newlines_or_out_of_range_can_never_be_rendered(bad):
    with pytest.raises(TemplateError):
        ChangeValues(**bad)


def test_user_template_dir_overrides_builtin(tmp_path):
    (tmp_path / "frr").mkdir()
    (tmp_path / "frr" / "resign.j2").write_text("interface {{ interface }}\n vrrp {{ vrid }} priority 1\nexit\n")
    lines = Renderer("frr", tmp_path).render("resign", ChangeValues("eth1", 1))
    assert lines == ["interface eth1", " vrrp 1 priority 1", "exit"]


def test_a_user_template_that_renders_a_separator_is_refused(tmp_path):
    (tmp_path / "frr").mkdir()
    (tmp_path / "frr" / "resign.j2").write_text("interface {{ interface }}; write erase\n")
    with pytest.raises(TemplateError, match="unsafe line"):
        Renderer("frr", tmp_path).render("resign", ChangeValues("eth1", 1))
