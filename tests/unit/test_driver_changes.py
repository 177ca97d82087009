"""A driver applies one structured change (operation and values): text platforms render their
templates in the driver layer (with the inventory's override folder), keepalived edits its config
structurally; what a platform cannot change is refused by its spec's protocols."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from netha.drivers import NetworkDriver, driver_class, platforms, spec
from netha.drivers.changes import OPERATIONS, ChangeValues
from netha.drivers.frr import FrrDriver
from netha.drivers.keepalived import Keepalived, KeepalivedDriver
from netha.drivers.render import Renderer
from netha.errors import CommandRejected, NotSupported, TemplateError

VIP = ipaddress.IPv4Interface("198.18.1.1/24")
K1 = (Path(__file__).parent / "fixtures" / "keepalived" / "conf" / "k1.conf").read_text()


def values(**kw) -> ChangeValues:
    return ChangeValues(**{"interface": "eth1", "vrid": 11, "priority": 254, "address": VIP, **kw})


# -- text platforms: render_change is the platform's template ------------------------------------------

@pytest.mark.parametrize("op", OPERATIONS)
def test_frr_render_change_is_its_template(op):
    lines = FrrDriver.render_change(op, values())
    assert lines == Renderer("frr").render(op, values()) and lines[0] == "interface eth1" and lines[-1] == "exit"


def test_render_change_takes_the_inventory_s_override_folder(tmp_path):
    (tmp_path / "frr").mkdir()
    (tmp_path / "frr" / "resign.j2").write_text("interface {{ interface }}\n vrrp {{ vrid }} priority 1\nexit\n")
    assert FrrDriver.render_change("resign", values(), tmp_path) == ["interface eth1", " vrrp 11 priority 1", "exit"]
    assert FrrDriver.render_change("resign", values()) == ["interface eth1", " vrrp 11 shutdown", "exit"]
    # An operation the folder does not override renders the shipped template.
    assert FrrDriver.render_change("set_priority", values(), tmp_path) == FrrDriver.render_change("set_priority", values())


class _Recording(FrrDriver):
    """FRR without a session: what load_config was given."""

    def __init__(self) -> None:  # no SshParams, no channel
        self.name = "r1"
        self.loaded: list[list[str]] = []

    def load_config(self, lines):  # type: ignore[no-untyped-def]
        self.loaded.append(list(lines))
        return "ok"


def test_apply_change_pushes_what_render_change_renders_with_the_driver_s_folder(tmp_path):
    (tmp_path / "frr").mkdir()
    (tmp_path / "frr" / "set_priority.j2").write_text("interface {{ interface }}\n vrrp {{ vrid }} priority {{ priority }}\n")
    drv = _Recording()
    assert drv.apply_change("set_priority", values()) == "ok"
    drv.templates = tmp_path
    drv.apply_change("set_priority", values())
    assert drv.loaded == [["interface eth1", " vrrp 11 priority 254", "exit"], ["interface eth1", " vrrp 11 priority 254"]]


def test_make_driver_tells_the_driver_the_inventory_s_template_folder(tmp_path, monkeypatch):
    from netha.connect import load_checked_inventory, make_driver

    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    (tmp_path / "site").mkdir()
    path = tmp_path / "inv.yml"
    path.write_text(
        "credentials:\n  lab: {username: u, password: {env: NETHA_TEST_PASSWORD}}\n"
        "devices:\n  r1: {host: 198.18.0.11, platform: frr, credentials: lab}\n"
        "controller: {templates: site}\n"
    )
    inv = load_checked_inventory(path)
    assert make_driver(inv, "r1").templates == inv.controller.templates == tmp_path / "site"


# -- what a platform supports is its spec's ------------------------------------------------------------

@pytest.mark.parametrize("platform", platforms())
def test_a_change_for_what_the_platform_lacks_is_refused_by_the_driver_before_any_template(platform):
    cls = driver_class(platform)
    for needs in ("vrrp", "hsrp", "varp", "static"):
        v = values(mode="static", vrid=None) if needs == "static" else values(protocol=needs, vrid=None if needs == "varp" else 11)
        if needs in spec(platform).protocols:
            assert cls.render_change("add_address", v), (platform, needs)
        else:
            with pytest.raises(TemplateError, match=f"^platform {platform} cannot change .*it supports "):
                cls.render_change("add_address", v)


def test_an_unknown_operation_is_refused_by_every_driver():
    for platform in platforms():
        with pytest.raises(TemplateError, match="unknown operation 'reload'"):
            driver_class(platform).render_change("reload", values())  # type: ignore[arg-type]


# -- change values round-trip through JSON (the journal) ------------------------------------------------

def test_change_values_round_trip_through_json():
    v = ChangeValues("ge-0/0/1.0", 50, 200, VIP, "vrrp", False, "vrrp", 2, ipaddress.IPv4Interface("198.19.50.2/24"))
    assert ChangeValues.from_json(v.to_json()) == v
    assert ChangeValues.from_json(ChangeValues("eth1").to_json()) == ChangeValues("eth1")


@pytest.mark.parametrize("bad", [None, [], {}, {"interface": "eth1", "vrid": "11"}, {"interface": "eth1", "address": 1},
                                 {"interface": "eth1", "enabled": "yes"}, {"interface": "eth1", "extra": 1},
                                 {"interface": "eth1", "local_address": "198.18.1.300/24"}])
def test_values_from_json_that_do_not_check_are_refused(bad):
    with pytest.raises(TemplateError):
        ChangeValues.from_json(bad)


# -- keepalived: a structural edit of keepalived.conf -------------------------------------------------

class _Keepalived(KeepalivedDriver):
    """keepalived without a session: a config file in memory; what would be installed."""

    def __init__(self, conf: str) -> None:
        self.name = "k1"
        self.conf = conf
        self.installed: list[str] = []
        self._ka = Keepalived(1234, "/etc/keepalived/keepalived.conf", "/tmp", 37)

    def get_config(self) -> str:
        return self.conf

    def install_config(self, text: str) -> None:
        self.installed.append(text)
        self.conf = text


@pytest.mark.parametrize("op", OPERATIONS)
def test_keepalived_apply_change_edits_its_config_structurally(op):
    from netha.drivers.keepalived_conf import apply_change, find

    drv = _Keepalived(K1)
    address = "198.18.4.1/24" if op == "remove_address" else "198.18.4.9/24"
    v = values(address=ipaddress.IPv4Interface(address), enabled=False, priority=150 if op == "restore" else 254)
    assert drv.apply_change(op, v) == "keepalived.conf updated and reloaded (pid 1234)"
    assert drv.installed == [apply_change(K1, op, v)]
    inst = find(drv.conf, "eth1", 11)
    assert {"set_priority": inst.priority == 254, "resign": inst.shutdown,
            "restore": inst.priority == 150 and not inst.shutdown, "add_address": "198.18.4.9/24" in inst.addresses,
            "remove_address": inst.addresses == (), "preempt": inst.nopreempt}[op]


def test_keepalived_apply_change_that_changes_nothing_installs_nothing():
    drv = _Keepalived(K1)
    assert drv.apply_change("set_priority", values(priority=200)) == "keepalived.conf unchanged"
    assert drv.installed == []


def test_keepalived_refusals_name_the_device_and_leave_the_config_alone():
    drv = _Keepalived(K1)
    with pytest.raises(CommandRejected, match="^k1: /etc/keepalived/keepalived.conf: no vrrp_instance with interface eth9"):
        drv.apply_change("set_priority", values(interface="eth9"))
    with pytest.raises(TemplateError, match="platform keepalived cannot change a static gateway address"):
        drv.apply_change("add_address", values(mode="static"))
    with pytest.raises(NotSupported, match="^k1: keepalived takes structured changes only"):
        drv.load_config(["vrrp_instance eth1 11", " priority 254"])
    assert drv.installed == [] and drv.conf == K1


def test_keepalived_render_change_describes_the_edit_and_needs_no_template():
    assert KeepalivedDriver.render_change("set_priority", values()) == [
        "vrrp_instance (interface eth1, virtual_router_id 11): priority 254"]
    assert KeepalivedDriver.render_change.__func__ is not NetworkDriver.render_change.__func__  # type: ignore[attr-defined]
