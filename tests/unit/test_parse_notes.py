"""One unknown line, one unreadable group or one unreadable command never fails a device's poll: it is
skipped, counted (``status``: devices.<name>.parse) and the rest still counts. HSRP and VRRP groups,
IPv4 and IPv6 ones, of the same number are kept apart."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from netha.drivers import cisco_ios, cisco_xe
from netha.drivers.base import collecting_notes
from netha.drivers.changes import ChangeValues
from netha.drivers.models import DeviceReading, ParseNotes, VrrpView
from netha.drivers.render import Renderer
from netha.errors import ParseError
from netha.health import HealthState, assess
from netha.inventory import load_inventory
from netha.observe.types import DeviceObservation, ProbeResult, Snapshot
from netha.report import status_document
from netha.transport.ssh import SshParams

ROOT = Path(__file__).resolve().parents[2]

VRRP_TWO_GROUPS = """\
Vlan10 - Group 10 - Address-Family IPv4
  Description is "users"
  State is MASTER
  State duration 5 mins 1.002 secs
  Virtual IP address is 198.19.10.1
  Virtual secondary IP addresses:
    198.19.10.5
  Virtual MAC address is 0000.5E00.010A
  Advertisement interval is 100 msec
  Preemption enabled
  Priority is 90 (Configured 120)
  Some line a future IOS-XE prints
    Track object 1 state DOWN decrement 30
  Master Router is 198.19.10.2 (local), priority is 90
  Master Advertisement interval is 100 msec (expires in 61 msec)
  Master Down interval is unknown
  FLAGS: 1/1

Vlan20 - Group 20 - Address-Family IPv4
  State is BACKUP
  Virtual IP address is 198.19.20.1
  Advertisement interval is 1000 msec
  Preemption disabled
  Priority is 100
  Master Router is 198.19.20.3, priority is 110
"""


def test_an_unknown_line_inside_a_group_is_skipped_and_counted():
    with collecting_notes() as notes:
        views = cisco_ios.parse_vrrp(VRRP_TWO_GROUPS, "r1")
    assert [(v.vrid, v.state) for v in views] == [(10, "master"), (20, "backup")]
    assert notes.skipped_lines == [(cisco_ios.SHOW_VRRP, "  Some line a future IOS-XE prints")]
    assert notes.unreadable == []
    first = views[0]
    assert (first.effective_priority, first.priority) == (90, 120)
    assert first.virtual_addresses == ("198.19.10.1", "198.19.10.5")
    assert first.advert_interval == pytest.approx(0.1)
    assert first.master_address == "198.19.10.2" and first.preempt is True
    assert views[1].preempt is False and views[1].master_address == "198.19.20.3"


def test_a_group_netha_cannot_read_is_reported_and_the_others_are_read():
    broken = VRRP_TWO_GROUPS.replace("  State is MASTER\n", "")  # group 10 without its state
    with collecting_notes() as notes:
        views = cisco_ios.parse_vrrp(broken, "r1")
    assert [v.vrid for v in views] == [20]
    assert len(notes.unreadable) == 1
    what, why = notes.unreadable[0]
    assert what == cisco_ios.SHOW_VRRP and "Vlan10 group 10" in why and "State" in why


def test_show_standby_with_space_only_lines_and_an_empty_group_number():
    text = ("Vlan10 - Group  (version 2)\n  State is Active\n   \n  Virtual IP address is 198.19.10.1\n"
            "Vlan20 - Group 20 (version 2)\n  State is Standby\n    \t \n  Virtual IP address is 198.19.20.1\n"
            "  Active router is 198.19.20.3, priority 120 (expires in 9.1 sec)\n  Priority 100 (configured 100)\n")
    with collecting_notes() as notes:
        views = cisco_ios.parse_hsrp(text, "r1")
    assert [(v.vrid, v.state, v.protocol) for v in views] == [(20, "backup", "hsrp")]
    assert notes.unreadable == [(cisco_ios.SHOW_STANDBY, "Vlan10 group ?: no group number")]
    assert notes.skipped_lines == []


@pytest.mark.parametrize("garbage", ["hello", "% Invalid input detected at '^' marker.", "Interface  IP-Address  OK?"])
def test_output_that_is_not_the_command_at_all_is_a_parse_error_never_a_value_error(garbage):
    for parse in (cisco_ios.parse_vrrp, cisco_ios.parse_hsrp):
        with pytest.raises(ParseError, match="^r9: .*no group header"):
            parse(garbage, "r9")


def test_hsrp_ipv4_and_ipv6_groups_with_one_number_are_kept_apart():
    # IOS prints an HSRP IPv6 group's addresses as the lines below (the forms genieparser's iosxe
    # show_standby parser documents: "Link-Local Virtual IPv6 address is ...", "Virtual IPv6 address ...").
    text = ("Vlan10 - Group 1 (version 2)\n  State is Active\n  Virtual IP address is 198.19.10.1\n"
            "  Hello time 250 msec, hold time 750 msec\n  Active router is local\n  Priority 110 (configured 110)\n"
            "Vlan10 - Group 1 (version 2)\n  State is Standby\n"
            "  Link-Local Virtual IPv6 address is FE80::5:73FF:FEA0:1 (conf auto EUI64)\n"
            "  Virtual IPv6 address 2001:DB8:10::1/64\n"
            "  Active router is FE80::20F:8FFF:FE37:3B70, priority 120 (expires in 9.1 sec)\n  Priority 100 (default 100)\n")
    views = cisco_ios.parse_hsrp(text, "r1")
    assert [(v.key, v.state) for v in views] == [(("Vlan10", "hsrp", 4, 1), "master"), (("Vlan10", "hsrp", 6, 1), "backup")]
    assert views[0].advert_interval == pytest.approx(0.25)
    assert views[1].virtual_addresses == ("fe80::5:73ff:fea0:1", "2001:db8:10::1")
    assert views[1].master_address == "fe80::20f:8fff:fe37:3b70" and views[1].priority == 100
    obs = DeviceObservation(device="r1", vrrp=(VrrpView(vrid=1, interface="Vlan10", state="backup"), *views))
    assert obs.vrrp_for(1, "Vlan10", "hsrp").state == "master"
    assert obs.vrrp_for(1, "Vlan10", "vrrp").state == "backup"
    assert obs.vrrp_for(1, "Vlan10", "hsrp", 6).state == "backup"


def test_old_ios_show_standby_form_is_read():
    # IOS 12.0 and older: "Local state is ..., priority N", "Hellotime", "expires in" without parentheses.
    text = ("Ethernet0 - Group 5\n  Local state is Standby, priority 100, may preempt\n  Hellotime 3 sec, holdtime 10 sec\n"
            "  Next hello sent in 0.776\n  Virtual IP address is 172.12.23.10 configured\n"
            "  Active router is 172.12.23.3, priority 100 expires in 9.568\n  Standby router is local\n"
            "  1 state changes, last state change 00:00:22\n")
    with collecting_notes() as notes:
        [view] = cisco_ios.parse_hsrp(text, "r1")
    assert (view.state, view.effective_priority, view.advert_interval) == ("backup", 100, 3.0)
    assert view.virtual_addresses == ("172.12.23.10",) and view.master_address == "172.12.23.3"
    assert not notes


@pytest.mark.parametrize("platform,protocol,version", [("cisco_ios", "vrrp", 2), ("cisco_xe", "vrrp", 3),
                                                        ("cisco_ios", "hsrp", 2), ("cisco_xe", "hsrp", 2)])
def test_the_secondary_address_netha_adds_is_read_back(platform, protocol, version):
    values = ChangeValues(interface="Vlan10", vrid=10, address=ipaddress.IPv4Interface("198.19.10.5/24"),
                          mode="vrrp", protocol=protocol, version=version)  # type: ignore[arg-type]
    lines = Renderer(platform).render("add_address", values)
    added = next(line.split()[-2] if line.split()[-1] == "secondary" else line.split()[-1]
                 for line in lines if "198.19.10.5" in line)
    assert added == "198.19.10.5"
    # How IOS / IOS-XE print an added secondary (forms from the genieparser and ntc-templates captures).
    if protocol == "vrrp":
        header = "Vlan10 - Group 10 - Address-Family IPv4" if version == 3 else "Vlan10 - Group 10"
        shown = (f"{header}\n  State is MASTER\n  Virtual IP address is 198.19.10.1\n"
                 f"  Virtual secondary IP addresses:\n    {added}\n  Priority is 120\n")
        parse = cisco_ios.parse_vrrp
    else:
        shown = (f"Vlan10 - Group 10 (version 2)\n  State is Active\n  Virtual IP address is 198.19.10.1\n"
                 f"    Secondary virtual IP address {added}\n  Priority 120 (configured 120)\n")
        parse = cisco_ios.parse_hsrp
    with collecting_notes() as notes:
        [view] = parse(shown, "r1")
    assert view.virtual_addresses == ("198.19.10.1", "198.19.10.5") and not notes


class _Cli:
    def __init__(self, answers: dict[str, str]):
        self.answers = answers

    def __call__(self, command: str, timeout: float | None = None) -> str:
        return self.answers.get(command, "")


def _driver(cls, answers):
    drv = cls(SshParams(device="d1", host="198.19.255.1", username="netops", password="x",
                        netmiko_device_type=cls.spec.netmiko_device_type))
    drv.run = _Cli(answers)  # type: ignore[method-assign]
    return drv


@pytest.mark.parametrize("cls", [cisco_ios.CiscoIosDriver, cisco_xe.CiscoXeDriver])
def test_a_poll_with_an_unknown_line_and_an_unreadable_hsrp_still_reads_vrrp_and_counts_both(cls):
    drv = _driver(cls, {
        cisco_ios.SHOW_VRRP: VRRP_TWO_GROUPS,
        cisco_ios.SHOW_STANDBY: "this is not show standby output",
        cisco_ios.SHOW_IP_INTERFACE: "Vlan10 is up, line protocol is up\n  Internet address is 198.19.10.2/24\n",
    })
    reading = drv.read()
    assert [v.vrid for v in reading.vrrp] == [10, 20]
    assert reading.interfaces == {"Vlan10": True}
    assert reading.notes is not None and len(reading.notes.skipped_lines) == 1
    assert [what for what, _ in reading.notes.unreadable] == [cisco_ios.SHOW_STANDBY]


# -- the notes reach status and the health model ------------------------------------------------------

@pytest.fixture(scope="module")
def inv():
    full = load_inventory(ROOT / "inventories/lab.yml", check_secrets=False)
    return full.model_copy(update={
        "devices": {k: v for k, v in full.devices.items() if k in ("r1", "r2")},
        "groups": {k: v for k, v in full.groups.items() if k == "lan"},
    })


def _obs(inv, name, views, notes=None):
    group = inv.groups["lan"]
    iface = group.interface_of(name)
    return DeviceObservation(device=name, ssh=ProbeResult(ok=True, at=0.0), vrrp=tuple(views),
                             interfaces={iface: True}, notes=notes)


def test_a_group_missing_from_an_unreadable_output_is_unknown_not_failed_and_status_counts_it(inv):
    group = inv.groups["lan"]
    r2 = group.members[1].device
    r1 = group.members[0].device
    master = VrrpView(vrid=group.vrid, interface=group.interface_of(r1), state="master", protocol=group.protocol)
    notes = ParseNotes(skipped_lines=[("show vrrp all", "  odd line")],
                       unreadable=[("show vrrp all", "Vlan10 group 10: no 'State is' line")])
    snap = Snapshot(at=0.0, wall=0.0, devices={r1: _obs(inv, r1, [master]), r2: _obs(inv, r2, [], notes)},
                    adverts=(), listening=())
    a = assess(inv, snap, HealthState())
    assert a.groups["lan"].members[r2].health == "unknown"
    assert "not read" in a.groups["lan"].members[r2].reason
    doc = status_document(inv, snap, a)
    assert doc["devices"][r2]["parse"] == {
        "skipped_lines": 1, "unreadable": [{"command": "show vrrp all", "why": "Vlan10 group 10: no 'State is' line"}]}
    assert doc["devices"][r1]["parse"] == {"skipped_lines": 0, "unreadable": []}
    # Without anything unreadable, the same absence is a failure.
    clean = Snapshot(at=0.0, wall=0.0, devices={r1: _obs(inv, r1, [master]), r2: _obs(inv, r2, [])}, adverts=(), listening=())
    assert assess(inv, clean, HealthState()).groups["lan"].members[r2].health == "failed"


def test_a_group_of_another_protocol_with_the_same_number_is_not_the_inventory_group(inv):
    group = inv.groups["lan"]
    r1, r2 = (m.device for m in group.members[:2])
    other = "hsrp" if group.protocol != "hsrp" else "vrrp"
    views = [VrrpView(vrid=group.vrid, interface=group.interface_of(r2), state="master", protocol=other)]
    master = VrrpView(vrid=group.vrid, interface=group.interface_of(r1), state="master", protocol=group.protocol)
    snap = Snapshot(at=0.0, wall=0.0, devices={r1: _obs(inv, r1, [master]), r2: _obs(inv, r2, views)},
                    adverts=(), listening=())
    a = assess(inv, snap, HealthState())
    assert a.groups["lan"].members[r2].health == "failed"
    assert a.groups["lan"].members[r2].state == "unknown"


def test_a_reading_without_notes_is_shown_as_nothing_skipped():
    assert DeviceObservation(device="x").unreadable == ()
    assert DeviceReading(vrrp=(), interfaces={}, routes={}, addresses={}).notes is None


def test_the_observer_carries_a_polls_notes_to_the_observation(monkeypatch):
    from netha.connect import Sessions
    from netha.drivers.base import skip_group, skip_line
    from netha.observe.observer import Observer, ObserverOptions

    from .fakes import FakeDriver, FakeNetwork

    full = load_inventory(ROOT / "inventories/lab.yml", check_secrets=False)
    real = FakeDriver.get_vrrp

    def noisy(self):
        skip_line(self.name, "show vrrp", "  a line netha does not know")
        skip_group(self.name, "show standby", "not read: no group header")
        return real(self)

    monkeypatch.setattr(FakeDriver, "get_vrrp", noisy)
    net = FakeNetwork(full)
    observer = Observer(full, ObserverOptions(snmp=False, listener=False, reach=False), Sessions(full, factory=net.factory))
    try:
        snap = observer.observe_once(listen=0)
    finally:
        observer.stop()
    obs = snap.devices["r1"]
    assert obs.ssh.ok and obs.vrrp  # the poll counts
    assert obs.notes is not None and len(obs.notes.skipped_lines) == 1
    assert obs.unreadable == (("show standby", "not read: no group header"),)
