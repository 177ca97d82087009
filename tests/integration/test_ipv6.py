"""IPv6 end to end on the real lab (issue 16): the IPv6 VRRPv3 groups of both pairs (FRR: VRIDs 21/22 on
their own macvlans; keepalived: VRIDs 31/32, IPv6 instances), read, heard, moved and failed over by netha,
with hosts probing each other over IPv6 through the IPv6 virtual gateway, both ways, every 10 ms.

The shared lab inventory keeps its IPv6 groups manual (policy.automatic: false, so a fault in an IPv4 test
costs the storm brake no extra actions); the daemon tests here turn them automatic, and the IPv4 groups
manual, so what moves is what IPv6 decided.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from netha.lab.faults import Baseline, KeepalivedBaseline, ProbeRun, holds, keepalived_conf, pair_ways, port_blackhole
from netha.lab.names import lab_names

from .labtools import Daemon, make_inventory, netha, ns, running_config, status, switch_port, vrrp_state, wait_for

pytestmark = pytest.mark.integration

V6_GROUPS = ("lan6", "upstream6", "klan6", "kupstream6")
KLAN6_VIP = "2001:2:0:4::1"
WAN6 = "reach icmp 2001:2:0:2::100"


def _frr6_nominal() -> bool:
    return all(vrrp_state("r1", v, 6) == "Master" and vrrp_state("r2", v, 6) == "Backup" for v in (21, 22))


@pytest.fixture
def frr6(lab):
    """The FRR pair as built (both families), put back after the test: r1 master of the IPv6 groups too."""
    base = Baseline()
    yield base
    base.restore()
    wait_for(_frr6_nominal, 15, what="r1 master of the IPv6 groups again")


@pytest.fixture
def ka6(lab):
    """The keepalived pair as built, k1 holding the IPv4 and the IPv6 virtual addresses."""
    base = KeepalivedBaseline(vips=("198.18.4.1", "198.18.5.1", KLAN6_VIP, "2001:2:0:5::1"))
    yield base
    base.restore()


def inventory(tmp: Path, automatic_v6: bool = False, reach6: bool = False, **controller: object) -> Path:
    """The lab inventory for this lab; with ``automatic_v6`` the IPv6 groups act on their own and the
    IPv4 groups do not; ``reach6`` adds an IPv6 forwarding-path track (wan over IPv6) to lan6."""
    path = make_inventory(tmp, **controller)
    doc = yaml.safe_load(path.read_text())
    if automatic_v6:
        for name, g in doc["groups"].items():
            g["policy"] = {**(g.get("policy") or {}), "automatic": name in V6_GROUPS}
    if reach6:
        doc["groups"]["lan6"]["track"].append(
            {"reach": {"target": "2001:2:0:2::100", "sources": {"r1": "2001:2:0:2::2", "r2": "2001:2:0:2::3"},
                       "interval": 0.02, "window": 10, "max_loss": 0.3}, "description": "wan over IPv6"})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def flowing(run, what: str) -> None:
    """Traffic flows: at most a tenth of the last second's probes lost (speed is the benchmark's business)."""
    assert not (why := not_flowing(run, what)), why


def not_flowing(run, what: str) -> str | None:
    """Why traffic does not flow (see :func:`flowing`), None when it does."""
    loss = run.loss(since=time.monotonic() - 1.0)
    if loss.sent > 20 and loss.lost <= loss.sent // 10:
        return None
    return f"{what}: {loss.lost} of {loss.sent} lost"


# -- diagnostics of a lost IPv6 path (issue 16) ---------------------------------------------------------
# Each hop of wan -> h1 (wan -> upstream6's virtual address on r1's eth2-v22 -> r1 -> h1 on the LAN) and
# of h1 -> wan, with the interfaces that matter on each; the switch's bridges for where the MACs live.
DIAG_NODES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("r1", ("eth1", "eth1-v21", "eth2", "eth2-v22")),
    ("r2", ("eth1", "eth1-v21", "eth2", "eth2-v22")),
    ("wan", ("eth1",)),
    ("h1", ("eth1",)),
)
DIAG_ROUTE_TO = {"r1": "2001:2:0:1::100", "r2": "2001:2:0:1::100", "wan": "2001:2:0:1::100", "h1": "2001:2:0:2::100"}
DIAG_SYSCTLS = ("forwarding", "keep_addr_on_down", "accept_dad", "accept_ra", "disable_ipv6")
DIAG_VRIDS = (21, 22)
DIAG_MAX_CHARS = 4000  # per command: a neighbour table can be long


def _vrrp_entries(text: str) -> str:
    """``show vrrp json`` cut to the IPv6 groups of the FRR pair (VRIDs 21, 22), one line per instance."""
    entries = json.loads(text[text.find("["):])
    return "\n".join(json.dumps(e, sort_keys=True) for e in entries if e.get("vrid") in DIAG_VRIDS)


def _fdb_learned(text: str) -> str:
    """A bridge's learned MAC entries (the permanent ones are its ports' own)."""
    return "\n".join(line for line in text.splitlines() if "permanent" not in line)


def _diag(node: str, *argv: str, post: Callable[[str], str] | None = None, timeout: float = 5.0) -> str:
    """ARGV's output (standard output and error, its exit code when not 0) in NODE's namespace (``sw``: the
    switch's), or for ``vtysh`` against NODE's FRR; POST shapes a successful output. Never raises: a
    diagnostic that fails (no namespace, no vtysh, a timeout, an output POST cannot read) says so in its
    text and must not hide the assertion it explains."""
    try:
        if argv[0] == "vtysh":
            cmd = ["vtysh", "-N", lab_names().pathspace(node), *argv[1:]]
        else:
            cmd = ["ip", "netns", "exec", ns(node), *argv]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        text = r.stdout.strip()
        if r.returncode == 0 and post is not None:
            text = post(text)
        text = "\n".join(t for t in (text, r.stderr.strip()) if t)
        if r.returncode != 0:
            text += f"\n(exit {r.returncode})"
        return text[:DIAG_MAX_CHARS] + (" ...(cut)" if len(text) > DIAG_MAX_CHARS else "")
    except Exception as exc:  # noqa: BLE001 - whatever fails is reported, never raised
        return f"<diagnostic failed: {type(exc).__name__}: {exc}>"


def ipv6_path_state() -> str:
    """The lab's IPv6 forwarding state along h1 <-> wan through the FRR pair: per node its interfaces
    (protodown, carrier, IPv6 addresses and their flags: tentative, dadfailed), routes, the route to the
    far end, neighbours and IPv6 sysctls; r1's and r2's VRRP 21 and 22 (states, addresses, counters);
    the switch's learned MACs on the LAN and the uplink. Addresses, routes, MACs and VRRP states only:
    nothing secret. Never raises."""
    sections: list[tuple[str, str]] = []
    for node, ifaces in DIAG_NODES:
        for iface in ifaces:
            sections.append((f"{node}: ip -d -6 addr show dev {iface}",
                             _diag(node, "ip", "-d", "-6", "addr", "show", "dev", iface)))
        sections.append((f"{node}: ip -6 route", _diag(node, "ip", "-6", "route", "show")))
        sections.append((f"{node}: ip -6 route get {DIAG_ROUTE_TO[node]}",
                         _diag(node, "ip", "-6", "route", "get", DIAG_ROUTE_TO[node])))
        sections.append((f"{node}: ip -6 neigh", _diag(node, "ip", "-6", "neigh", "show")))
        keys = [f"net.ipv6.conf.{scope}.{knob}" for scope in ("all", *ifaces) for knob in DIAG_SYSCTLS]
        sections.append((f"{node}: sysctl", _diag(node, "sysctl", *keys)))
    for node in ("r1", "r2"):
        sections.append((f"{node}: show vrrp json (VRIDs {DIAG_VRIDS})",
                         _diag(node, "vtysh", "-c", "show vrrp json", post=_vrrp_entries)))
    for bridge in ("lan", "uplink"):
        sections.append((f"switch: bridge fdb show br {bridge} (learned)",
                         _diag("sw", "bridge", "fdb", "show", "br", bridge, post=_fdb_learned)))
    return "\n".join(f"--- {title}\n{text}" for title, text in sections)


def probe_timeline(runs: dict[str, ProbeRun], marks: dict[str, float]) -> str:
    """Each direction's outages (3+ consecutive probes lost), in seconds relative to each mark (e.g. the
    failover's and the failback's start): a path dead all along reads differently from one the failback broke."""
    lines = []
    for what, run in runs.items():
        try:
            spans = run.outages()
            lines.append(f"{what}: {len(spans)} outage(s)" + "".join(
                f"; {length:.2f} s long, from " + " = ".join(f"{m} {start - t:+.2f} s" for m, t in marks.items())
                for start, length in spans))
        except Exception as exc:  # noqa: BLE001 - never hides the assertion
            lines.append(f"{what}: <timeline failed: {type(exc).__name__}: {exc}>")
    return "\n".join(lines)


def test_status_reads_and_hears_the_ipv6_groups_of_both_pairs(frr6, ka6, tmp_path):
    rc, doc = status(inventory(tmp_path))
    groups = doc["groups"]
    assert rc == 0, {n: (g["verdict"], g["reason"]) for n, g in groups.items()}
    for name, master, backup in (("lan6", "r1", "r2"), ("upstream6", "r1", "r2"),
                                 ("klan6", "k1", "k2"), ("kupstream6", "k1", "k2")):
        g = groups[name]
        assert (g["verdict"], g["master"]) == ("ok", master), (name, g["verdict"], g["reason"])
        assert g["members"][master]["state"] == "master" and g["members"][backup]["state"] == "backup", name
    # The listener hears IPv6 adverts from link-local sources and maps them to the member that reports
    # that address (FRR: its macvlan's; keepalived: its interface's).
    for name, master in (("lan6", "r1"), ("upstream6", "r1"), ("klan6", "k1")):
        assert groups[name]["members"][master]["heard"] is True, (name, groups[name]["members"][master])
        assert groups[name]["masters"].get("adverts") == [master], (name, groups[name]["masters"])
    # IPv4 groups of the same LANs are unchanged beside them.
    assert groups["lan"]["master"] == "r1" and groups["klan"]["master"] == "k1"


def test_planned_failover_and_failback_of_lan6_on_frr_lose_at_most_one_probe_each_way(frr6, tmp_path):
    inv = inventory(tmp_path)
    diagnostics = ""
    with pair_ways(tmp_path, "h1-wan6") as (out, back):
        started = time.monotonic()
        r = netha("failover", "lan6", "--to", "r2", "-i", str(inv), "--yes")
        assert r.returncode == 0, r.stdout + r.stderr
        assert vrrp_state("r2", 21, 6) == "Master" and vrrp_state("r1", 21, 6) != "Master"
        assert vrrp_state("r1", 1) == "Master", "the IPv4 group of the LAN stays on r1"
        time.sleep(0.5)
        lost = (out.loss().lost, back.loss().lost)
        mark = time.monotonic()
        r = netha("failback", "lan6", "-i", str(inv), "--yes")
        assert r.returncode == 0, r.stdout + r.stderr
        assert vrrp_state("r1", 21, 6) == "Master"
        time.sleep(0.5)
        lost_back = (out.loss(since=mark).lost, back.loss(since=mark).lost)
        stalled = [why for why in (not_flowing(out, "h1 -> wan over IPv6"), not_flowing(back, "wan -> h1 over IPv6"))
                   if why]
        if stalled or max(lost) > 1 or max(lost_back) > 1:
            # Captured at once, while the probes still run: the state that loses them (issue 16).
            diagnostics = (f"\n\nlost (out, back): failover {lost}, failback {lost_back}\n"
                           + probe_timeline({"h1 -> wan": out, "wan -> h1": back},
                                            {"failover": started, "failback": mark})
                           + "\n" + ipv6_path_state())
            # While the test is xfail pytest shows none of its messages: the state goes to the warnings summary
            # too (also from an xdist worker).
            try:
                warnings.warn(f"issue 16: lan6 failover/failback lost probes; the lab's IPv6 state:{diagnostics}",
                              stacklevel=1)
            except Exception:  # noqa: BLE001 - warnings turned into errors: the assertion below still says it
                pass
        assert not stalled, "; ".join(stalled) + diagnostics
    print(f"lan6 planned failover lost (out, back) {lost}, failback {lost_back}")
    assert max(lost) <= 1 and max(lost_back) <= 1, f"{(lost, lost_back)}{diagnostics}"
    assert running_config("r1") == frr6.configs["r1"] and running_config("r2") == frr6.configs["r2"]


def test_planned_failover_and_failback_of_klan6_on_keepalived_lose_at_most_one_probe_each_way(ka6, tmp_path):
    inv = inventory(tmp_path)
    with pair_ways(tmp_path, "h3-wan6") as (out, back):
        r = netha("failover", "klan6", "--to", "k2", "-i", str(inv), "--yes")
        assert r.returncode == 0, r.stdout + r.stderr
        assert holds("k2", KLAN6_VIP) and not holds("k1", KLAN6_VIP)
        assert holds("k1", "198.18.4.1"), "the IPv4 instance of the LAN stays on k1"
        time.sleep(0.5)
        lost = (out.loss().lost, back.loss().lost)
        mark = time.monotonic()
        r = netha("failback", "klan6", "-i", str(inv), "--yes")
        assert r.returncode == 0, r.stdout + r.stderr
        assert holds("k1", KLAN6_VIP) and not holds("k2", KLAN6_VIP)
        time.sleep(0.5)
        lost_back = (out.loss(since=mark).lost, back.loss(since=mark).lost)
        flowing(out, "h3 -> wan over IPv6")
        flowing(back, "wan -> h3 over IPv6")
    print(f"klan6 planned failover lost (out, back) {lost}, failback {lost_back}")
    assert max(lost) <= 1 and max(lost_back) <= 1, (lost, lost_back)
    assert keepalived_conf("k1") == ka6.configs["k1"] and keepalived_conf("k2") == ka6.configs["k2"]


def test_uplink_down_on_r1_moves_lan6_and_ipv6_traffic_flows_through_r2(frr6, tmp_path):
    """A gray failure over IPv6: r1's uplink loses carrier, r1 still masters lan6 on a LAN that reads fine;
    the daemon makes r1 resign lan6 and traffic flows through r2 both ways."""
    inv = inventory(tmp_path, automatic_v6=True)
    with pair_ways(tmp_path, "h1-wan6") as (out, back):
        d = Daemon(tmp_path, inv)
        try:
            d.wait_started()
            switch_port("r1", "eth2", False)
            try:
                wait_for(lambda: any(x.startswith("failover lan6 to r2") for x in d.decisions()), 10,
                         what="failover of lan6")
                wait_for(lambda: vrrp_state("r2", 21, 6) == "Master", 10, what="r2 master of lan6")
                time.sleep(1.5)
                flowing(out, "h1 -> wan over IPv6")
                flowing(back, "wan -> h1 over IPv6")
            finally:
                switch_port("r1", "eth2", True)
            decisions = d.decisions()
        finally:
            d.stop()
    assert "vrrp 21 shutdown" in running_config("r1"), decisions
    assert not any(x.startswith("failover lan ") for x in decisions), decisions  # IPv4 groups are manual here


def test_a_dead_data_plane_behind_a_live_uplink_is_seen_by_the_ipv6_probes(frr6, tmp_path):
    """r1's uplink switch port drops everything, carrier up: only the members' own IPv6 probes to wan
    (ping -6 from each member's upstream address) see it; lan6 moves to r2 and IPv6 flows again."""
    inv = inventory(tmp_path, automatic_v6=True, reach6=True)
    with pair_ways(tmp_path, "h1-wan6") as (out, back):
        d = Daemon(tmp_path, inv)
        try:
            d.wait_started()
            time.sleep(1.0)  # the probers' first windows
            with port_blackhole("r1", "eth2"):
                wait_for(lambda: any(x.startswith("failover lan6 to r2") for x in d.decisions()), 10,
                         what="failover of lan6")
                wait_for(lambda: vrrp_state("r2", 21, 6) == "Master", 10, what="r2 master of lan6")
                time.sleep(1.5)
                flowing(out, "h1 -> wan over IPv6")
                flowing(back, "wan -> h1 over IPv6")
            decisions = d.decisions()
        finally:
            d.stop()
    lan6 = [x for x in decisions if x.startswith("failover lan6 ")]
    assert len(lan6) == 1 and WAN6 in lan6[0], decisions


def test_hard_failure_of_r1_moves_lan6_by_vrrp_and_the_daemon_pins_r2(frr6, tmp_path, lab):
    """r1 dies (every process killed, links left up): VRRP moves lan6 by itself, the daemon pins r2 at 254
    (a failed primary must not preempt back unverified), and IPv6 flows through r2 both ways."""
    inv = inventory(tmp_path, automatic_v6=True)
    with pair_ways(tmp_path, "h1-wan6") as (out, back):
        d = Daemon(tmp_path, inv)
        try:
            d.wait_started()
            lab.kill_daemons("r1")
            try:
                wait_for(lambda: vrrp_state("r2", 21, 6) == "Master", 10, what="VRRP moves lan6 to r2")
                wait_for(lambda: "vrrp 21 priority 254" in running_config("r2"), 15, what="the daemon pins r2 in lan6")
                time.sleep(1.0)
                flowing(out, "h1 -> wan over IPv6")
                flowing(back, "wan -> h1 over IPv6")
                decisions = d.decisions()
            finally:
                d.stop()
        finally:
            lab.restart_daemons("r1")
    assert any(x.startswith("pin lan6 to r2") for x in decisions), decisions
    assert not any(x.startswith(("pin lan ", "failover lan ")) for x in decisions), decisions  # IPv4: manual here


def test_uplink_down_on_k1_moves_klan6_and_ipv6_traffic_flows_through_k2(ka6, tmp_path):
    """The gray failure over IPv6 on keepalived: k1's uplink loses carrier while it still masters klan6;
    the daemon makes k1 resign klan6 (its IPv6 instance only) and IPv6 flows through k2 both ways."""
    inv = inventory(tmp_path, automatic_v6=True)
    with pair_ways(tmp_path, "h3-wan6") as (out, back):
        d = Daemon(tmp_path, inv)
        try:
            d.wait_started()
            switch_port("k1", "eth2", False)
            try:
                wait_for(lambda: any(x.startswith("failover klan6 to k2") for x in d.decisions()), 10,
                         what="failover of klan6")
                wait_for(lambda: holds("k2", KLAN6_VIP) and not holds("k1", KLAN6_VIP), 10, what="k2 holds klan6")
                time.sleep(1.5)
                flowing(out, "h3 -> wan over IPv6")
                flowing(back, "wan -> h3 over IPv6")
            finally:
                switch_port("k1", "eth2", True)
            decisions = d.decisions()
        finally:
            d.stop()
    assert "#netha-shutdown# vrrp_instance klan6" in keepalived_conf("k1"), decisions
    assert re.search(r"#netha-shutdown# vrrp_instance klan\s*\{", keepalived_conf("k1")) is None  # IPv4 stays
    assert not any(x.startswith("failover klan ") for x in decisions), decisions
