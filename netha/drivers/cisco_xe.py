"""Cisco IOS-XE: the IOS driver with its own templates (VRRPv3 ``vrrp N address-family ipv4`` form;
IP SLA probes as IOS, ``templates/cisco_xe/reach.j2``).

Reads are the IOS ones: ``show vrrp all`` prints the same layout for VRRPv3 groups (with
"Address-Family IPv4"/"IPv6"), read by the same line parsers (:mod:`netha.drivers.cisco_ios`).
NAPALM's ``ios`` driver serves both.
"""

from __future__ import annotations

from . import cisco_ios
from . import openconfig as oc
from .base import GnmiSubscription
from .cisco_ios import CiscoIosDriver, ios_spec

# IPv6: VRRPv3 ("vrrp N address-family ipv6"), HSRP version 2 and static gateways.
SPEC = ios_spec("cisco_xe", ipv6=frozenset({"vrrp", "hsrp", "static"}))


# gNMI (`gnxi`, `gnxi secure-server`): port 9339 (IOS-XE 17.x's gNxI server; older releases' `gnmi-yang
# secure-server` listens on 50052: set `gnmi: {port: 50052}`), TLS; JSON_IETF only; OpenConfig paths
# with the origin "openconfig" (native models are "rfc7951"). IOS (classic) has no gNMI.
GNMI = GnmiSubscription(
    paths=(oc.OPER_STATUS,),
    vrrp_paths=(oc.VRRP_SUBINTERFACE_V4, oc.VRRP_SUBINTERFACE_V6),
    parse=oc.event_parser(oc.parent_for_index_zero),
    port=9339,
    origin="openconfig",
    encoding="json_ietf",
    tls="verify",
)


class CiscoXeDriver(CiscoIosDriver):
    spec = SPEC

    @classmethod
    def gnmi_subscription(cls) -> GnmiSubscription | None:
        return GNMI


Driver = CiscoXeDriver

# The corpus of tests/fixtures/cisco_xe/: the IOS parsers (the same commands, the same output).
CORPUS = cisco_ios.CORPUS
