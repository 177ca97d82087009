"""Cisco IOS-XE: the IOS driver with its own templates (VRRPv3 ``vrrp N address-family ipv4`` form;
IP SLA probes as IOS, ``templates/cisco_xe/reach.j2``).

Reads are the IOS ones: ``show vrrp all`` prints the same layout for VRRPv3 groups (with
"Address-Family IPv4"/"IPv6"), read by the same line parsers (:mod:`netha.drivers.cisco_ios`).
NAPALM's ``ios`` driver serves both.
"""

from __future__ import annotations

from . import cisco_ios
from .cisco_ios import CiscoIosDriver, ios_spec

# IPv6: VRRPv3 ("vrrp N address-family ipv6"), HSRP version 2 and static gateways.
SPEC = ios_spec("cisco_xe", ipv6=frozenset({"vrrp", "hsrp", "static"}))


class CiscoXeDriver(CiscoIosDriver):
    spec = SPEC


Driver = CiscoXeDriver

# The corpus of tests/fixtures/cisco_xe/: the IOS parsers (the same commands, the same output).
CORPUS = cisco_ios.CORPUS
