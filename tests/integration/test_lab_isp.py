"""The lab's dual-ISP upstream (isp1, isp2, far): each router reaches far through its own ISP, the FRR
routers' Linux shell, and the faults beyond a router's own link (netha.lab.faults), each shown to do
what it says (traffic through it dies, interfaces still read up) and to undo itself, also when the
block raises."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from netha import lab as labmod
from netha.lab.faults import hang, holds, link_down, nexthop_stops, pair_ways, port_blackhole
from netha.lab.traffic import PAIRS, analyse

from .labtools import ns, sh, vrrp_state, wait_for
from .test_lab import in_ctl

pytestmark = pytest.mark.integration

FAR = "198.18.10.100"
# Each router's own address towards its ISP: its probes to far leave from there.
ISP_SIDE = {"r1": "198.18.6.2", "r2": "198.18.7.2", "k1": "198.18.6.3", "k2": "198.18.7.3"}


def ping(node: str, dst: str, src: str | None = None, count: int = 3) -> int:
    """Replies NODE gets to COUNT pings of DST (from SRC)."""
    argv = ["ip", "netns", "exec", ns(node), "ping", "-n", "-q", "-c", str(count), "-i", "0.1", "-W", "1"]
    r = sh(*argv, *(["-I", src] if src else []), dst, check=False)
    for line in r.stdout.splitlines():
        if "received" in line:
            return int(line.split(",")[1].split()[0])
    raise AssertionError(f"no ping summary from {node}: {r.stdout!r} {r.stderr!r}")


def reaches_far(node: str) -> bool:
    return ping(node, FAR, ISP_SIDE[node]) == 3


def cut_from_far(node: str) -> bool:
    return ping(node, FAR, ISP_SIDE[node]) == 0


def link(node: str, iface: str) -> dict:
    (doc,) = json.loads(sh("ip", "-n", ns(node), "-j", "link", "show", "dev", iface).stdout)
    return doc


def reads_up(node: str, iface: str) -> bool:
    """IFACE of NODE is administratively up and has carrier (what a router's interface poll sees)."""
    doc = link(node, iface)
    return doc["operstate"] == "UP" and "LOWER_UP" in doc["flags"] and "NO-CARRIER" not in doc["flags"]


def no_carrier(node: str, iface: str) -> bool:
    return "NO-CARRIER" in link(node, iface)["flags"]


def route_via(node: str, dst: str, src: str) -> str:
    out = sh("ip", "-n", ns(node), "route", "get", dst, "from", src).stdout.split()
    return out[out.index("via") + 1] if "via" in out else ""


def window(run, since: float, until: float):
    return analyse(run.sent, run.received, since, until)


def observe(seconds: float) -> tuple[float, float]:
    t0 = time.monotonic()
    time.sleep(seconds)
    return t0, time.monotonic()


def tables(node: str) -> str:
    return sh("ip", "netns", "exec", ns(node), "nft", "list", "tables").stdout


# -- the topology ----------------------------------------------------------------------------------------
def test_every_router_reaches_far_through_its_own_isp_and_hosts_through_their_gateway(lab):
    assert ping("h1", FAR) == 3 and ping("h3", FAR) == 3
    for node in ISP_SIDE:
        assert reaches_far(node), node
    # isp2 forwarding nothing leaves r1 and k1 (isp1's) untouched: their probes and the replies go through isp1.
    with nexthop_stops("isp2"):
        assert reaches_far("r1") and reaches_far("k1")
        assert cut_from_far("r2") and cut_from_far("k2")
        assert ping("h1", FAR) == 3  # r1 is the LAN's master
    with nexthop_stops("isp1"):
        assert reaches_far("r2") and reaches_far("k2")
        assert cut_from_far("r1") and cut_from_far("k1")
        assert ping("h1", FAR) == 0 and ping("h3", FAR) == 0
    assert reaches_far("r1") and reaches_far("r2")
    # far answers the LANs through isp1 while its isp1 link has carrier.
    assert route_via("far", "198.18.1.100", FAR) == "198.18.8.1"
    assert route_via("far", "198.18.4.100", FAR) == "198.18.8.1"


def test_probe_pairs_to_far_flow_both_ways(lab, tmp_path):
    for pair in ("h1-far", "h3-far"):
        with pair_ways(tmp_path / pair, pair, interval=0.02) as (out, back):
            t0, t1 = observe(1.0)
        for run, what in ((out, "to far"), (back, "from far")):
            loss = window(run, t0, t1)
            assert loss.sent >= 40 and loss.lost == 0, (pair, what, loss)
    assert set(PAIRS) >= {"h1-wan", "h3-wan", "h1-far", "h3-far"}


# -- the FRR routers' Linux shell ---------------------------------------------------------------------------
def ssh_root(host: str, command: str, *options: str) -> subprocess.CompletedProcess:
    rd = labmod.run_dir()
    return sh("ip", "netns", "exec", ns("ctl"), "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
              "-o", f"UserKnownHostsFile={rd / 'known_hosts'}", "-o", "StrictHostKeyChecking=yes",
              *options, f"root@{host}", command, check=False)


@pytest.mark.parametrize("node,host", [("r1", "198.18.0.11"), ("r2", "198.18.0.12")])
def test_frr_router_gives_root_its_linux_shell_by_the_lab_key_only(lab, node, host):
    key = str(labmod.run_dir() / "secrets" / "ssh-key")
    r = ssh_root(host, f"ip -br addr show eth4 && ping -n -q -c 2 -i 0.1 -W 1 -I {ISP_SIDE[node]} {FAR}",
                 "-i", key, "-o", "IdentitiesOnly=yes")
    assert r.returncode == 0, r.stderr
    assert ISP_SIDE[node] + "/24" in r.stdout  # the shell is in the router's namespace
    assert "2 received" in r.stdout
    # Without the lab's key root gets nothing (no password logins for root).
    r = ssh_root(host, "true", "-o", "PubkeyAuthentication=no", "-o", "PasswordAuthentication=yes")
    assert r.returncode == 255 and "Permission denied" in r.stderr, (r.returncode, r.stderr)


def test_the_lab_user_still_lands_in_vtysh(lab):
    rd = labmod.run_dir() / "secrets"
    r = in_ctl(f"""
        from netmiko import ConnectHandler
        c = ConnectHandler(device_type="cisco_ios", host="198.18.0.12", username={(rd / 'ssh-username').read_text().strip()!r},
                           password={(rd / 'ssh-password').read_text().strip()!r})
        print(c.send_command("show vrrp summary"))
        print(c.send_command("show version"))
    """)
    assert r.returncode == 0, r.stderr
    assert "Backup" in r.stdout and "FRRouting" in r.stdout, r.stdout


# -- faults -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("node,iface,pair", [("r1", "eth4", "h1-far"), ("k1", "eth3", "h3-far")])
def test_port_blackhole_drops_both_ways_with_carrier_up_and_undoes(lab, tmp_path, node, iface, pair):
    with pair_ways(tmp_path, pair, interval=0.02) as (out, back):
        with port_blackhole(node, iface) as port:
            time.sleep(0.3)
            t0, t1 = observe(1.0)
            assert reads_up(node, iface)  # the router sees nothing wrong with its link
            assert link("sw", port)["operstate"] == "UP"
            assert ping(node, "198.18.6.1") == 0 and cut_from_far(node)
        t2 = time.monotonic()
        time.sleep(1.5)
        t3, t4 = observe(1.0)
    for run, what in ((out, "to far"), (back, "from far")):
        during, after = window(run, t0, t1), window(run, t3, t4)
        assert during.sent >= 40 and during.lost == during.sent, (what, during)
        assert after.sent >= 40 and after.lost == 0, (what, after)
    assert reaches_far(node) and ping(node, "198.18.6.1") == 3
    assert "blackhole" not in tables("sw"), t2


def test_port_blackhole_undoes_itself_when_the_block_raises(lab):
    with pytest.raises(RuntimeError):
        with port_blackhole("r1", "eth4"):
            assert cut_from_far("r1")
            raise RuntimeError("boom")
    assert "blackhole" not in tables("sw")
    assert reaches_far("r1")


def test_nexthop_stops_forwarding_but_keeps_links_and_answers(lab, tmp_path):
    with pair_ways(tmp_path, "h1-far", interval=0.02) as (out, back):
        with nexthop_stops("isp1"):
            time.sleep(0.3)
            t0, t1 = observe(1.0)
            assert all(reads_up(n, i) for n, i in (("isp1", "eth1"), ("isp1", "eth2"), ("r1", "eth4")))
            assert ping("r1", "198.18.6.1", "198.18.6.2") == 3  # isp1 answers ARP and its own address
            assert cut_from_far("r1") and cut_from_far("k1")
            assert reaches_far("r2")
        time.sleep(1.0)
        t3, t4 = observe(1.0)
    for run, what in ((out, "to far"), (back, "from far")):
        during, after = window(run, t0, t1), window(run, t3, t4)
        assert during.sent >= 40 and during.lost == during.sent, (what, during)
        assert after.lost == 0 and after.sent >= 40, (what, after)
    assert "nexthop" not in tables("isp1")
    with pytest.raises(RuntimeError):
        with nexthop_stops("isp1"):
            raise RuntimeError("boom")
    assert "nexthop" not in tables("isp1") and reaches_far("r1")


def test_link_down_beyond_the_next_hop_far_answers_through_isp2(lab, tmp_path):
    r1_ifaces = ("eth0", "eth1", "eth2", "eth3", "eth4")
    with pair_ways(tmp_path, "h1-far", interval=0.02) as (out, back):
        with link_down("isp1", "far") as ports:
            assert sorted(ports) == ["far-eth1", "isp1-eth2"]
            time.sleep(0.3)
            t0, t1 = observe(1.0)
            assert no_carrier("isp1", "eth2") and no_carrier("far", "eth1")
            assert all(reads_up("r1", i) for i in r1_ifaces)  # every interface of r1 is fine
            assert reads_up("isp1", "eth1") and ping("r1", "198.18.6.1", "198.18.6.2") == 3  # its next hop is alive
            assert cut_from_far("r1") and reaches_far("r2")
            assert route_via("far", "198.18.1.100", FAR) == "198.18.9.1"
        time.sleep(1.0)
        t3, t4 = observe(1.0)
    during_out, during_back = window(out, t0, t1), window(back, t0, t1)
    assert during_out.sent >= 40 and during_out.lost == during_out.sent, during_out  # h1 -> r1 -> isp1: dead
    assert during_back.sent >= 40 and during_back.lost == 0, during_back  # far -> isp2 -> r2 -> h1: alive
    for run in (out, back):
        after = window(run, t3, t4)
        assert after.sent >= 40 and after.lost == 0, after
    assert not no_carrier("isp1", "eth2") and not no_carrier("far", "eth1")
    assert route_via("far", "198.18.1.100", FAR) == "198.18.8.1"
    with pytest.raises(RuntimeError):
        with link_down("isp1", "far"):
            raise RuntimeError("boom")
    assert not no_carrier("far", "eth1") and reaches_far("r1")


def process_states(pids: list[int]) -> set[str]:
    states = set()
    for pid in pids:
        try:
            states.add(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0])
        except OSError:
            states.add("gone")
    return states


def test_hang_stops_an_frr_router_with_its_links_up_and_undoes(baseline):
    assert ping("wan", "198.18.2.2") == 3
    with hang("r1") as pids:
        names = {Path(f"/proc/{p}/comm").read_text().strip() for p in pids}
        assert {"zebra", "vrrpd", "sshd", "snmpd"} <= names, names
        assert process_states(pids) == {"T"}
        assert all(reads_up("r1", i) for i in ("eth0", "eth1", "eth2", "eth3", "eth4"))
        assert ping("wan", "198.18.2.2") == 0 and ping("isp1", "198.18.6.2") == 0  # answers nothing
        assert ping("ctl", "198.18.0.11") == 0
        wait_for(lambda: vrrp_state("r2", 1) == "Master", 5, what="r2 master of lan")
        assert ping("h1", "198.18.2.100") == 3  # through r2 now
    assert "T" not in process_states(pids)
    wait_for(lambda: vrrp_state("r1", 1) == "Master", 10, what="r1 master again")
    assert ping("wan", "198.18.2.2") == 3 and reaches_far("r1")
    assert "hang" not in tables("r1")


def test_hang_stops_a_keepalived_router_and_undoes_when_the_block_raises(kbase):
    pids: list[int] = []
    with pytest.raises(RuntimeError):
        with hang("k1") as pids:
            assert "keepalived" in {Path(f"/proc/{p}/comm").read_text().strip() for p in pids}
            assert process_states(pids) == {"T"}
            assert reads_up("k1", "eth1") and ping("h3", "198.18.4.2") == 0
            wait_for(lambda: holds("k2", "198.18.4.1"), 5, what="k2 holding the klan address")
            raise RuntimeError("boom")
    assert pids and "T" not in process_states(pids)
    assert "hang" not in tables("k1")
    wait_for(lambda: holds("k1", "198.18.4.1") and not holds("k2", "198.18.4.1"), 10, what="k1 master again")
    assert ping("h3", "198.18.4.2") == 3

