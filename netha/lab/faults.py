"""Fault injection and measurement on the running lab, shared by the integration tests and the benchmarks.

Every function acts on the process's lab (``NETHA_LAB_NAME``, else the default lab; see ``names``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..drivers.frr import SPEC as FRR
from ..drivers.textconfig import config_body, replace_commands
from ..errors import LabError
from .builder import LabState, _make_secrets_from_files, node_daemons
from .daemons import kill_pids
from .names import lab_names
from .topology import load_topology
from .traffic import PAIRS, PORT, Loss, analyse, outages, pair_port

ROOT = Path(__file__).resolve().parents[2]


def sh(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=timeout)


def ns(node: str) -> str:
    """The network namespace of NODE (``sw`` is the switch's) in the process's lab."""
    return lab_names().netns(node)


def vtysh(node: str, *commands: str) -> str:
    argv = ["vtysh", "-N", lab_names().pathspace(node)]
    for c in commands:
        argv += ["-c", c]
    return sh(*argv).stdout


def vrrp_state(node: str, vrid: int = 1, family: int = 4) -> str:
    """FRR's state of the IPv4 (or IPv6: ``family=6``) router of instance VRID on NODE."""
    try:
        groups = json.loads(vtysh(node, "show vrrp json"))
    except (ValueError, subprocess.CalledProcessError):
        return "unknown"
    for g in groups:
        if g["vrid"] == vrid:
            return g["v6" if family == 6 else "v4"]["status"]
    return "absent"


def running_config(node: str) -> str:
    """An FRR router's running config as the FRR driver stores it (its volatile lines dropped)."""
    return config_body(vtysh(node, "show running-config"), FRR.volatile_config)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def switch_port(node: str, iface: str, up: bool) -> None:
    """Set the switch side of NODE's IFACE up or down: NODE loses carrier on IFACE."""
    sh("ip", "-n", ns("sw"), "link", "set", f"{node}-{iface}", "up" if up else "down")


def cut_management(node: str, cut: bool) -> None:
    switch_port(node, "eth0", not cut)


def netns_pids(ns: str) -> list[int]:
    return [int(p) for p in sh("ip", "netns", "pids", ns).stdout.split()]


def kill_node(node: str) -> None:
    """The router dies: every process of the node is killed at once (FRR, sshd, snmpd, sessions)."""
    pids = netns_pids(ns(node))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    kill_pids(pids, grace=2)
    for f in node_daemons(node).pidfiles.values():
        f.unlink(missing_ok=True)


def restart_node(node: str) -> None:
    node_daemons(node).start(_make_secrets_from_files())


def drop_ssh_sessions(node: str) -> int:
    """Kill the per-login sshd processes inside NODE (the listener stays): every session drops."""
    killed = 0
    for pid in netns_pids(ns(node)):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cmd.startswith("sshd: ") and "listener" not in cmd:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    return killed


class Baseline:
    """The routers' configs and links as the lab built them; put back after anything changed them."""

    def __init__(self, nodes: tuple[str, ...] = ("r1", "r2"),
                 ifaces: tuple[str, ...] = ("eth0", "eth1", "eth2", "eth3", "eth4")):
        self.nodes = nodes
        self.ifaces = ifaces
        self.configs = {n: running_config(n) for n in nodes}

    def restore(self) -> None:
        sh("ip", "netns", "exec", ns("sw"), "nft", "flush", "ruleset", check=False)
        for node in self.nodes:
            if not all(node_daemons(node).alive().values()):
                restart_node(node)
            for iface in self.ifaces:
                switch_port(node, iface, True)
        for node, cfg in self.configs.items():
            cmds = replace_commands(running_config(node), cfg, FRR.fixed_config)
            if cmds:
                vtysh(node, "conf t", *cmds, "end")
        wait_for(lambda: vrrp_state("r1", 1) == "Master" and vrrp_state("r2", 1) == "Backup"
                 and vrrp_state("r1", 2) == "Master" and vrrp_state("r2", 2) == "Backup", 15, what="baseline VRRP state")
        for node, cfg in self.configs.items():
            if running_config(node) != cfg:
                raise AssertionError(f"{node} config not restored")


def holds(node: str, address: str) -> bool:
    """NODE has ADDRESS (IPv4 or IPv6) on one of its interfaces (keepalived puts a virtual address there when master)."""
    out = sh("ip", "-n", ns(node), "-6" if ":" in address else "-4", "-o", "addr", "show", check=False).stdout
    return f" {address}/" in out


def keepalived_conf(node: str) -> str:
    return (node_daemons(node).dir / "keepalived.conf").read_text()


class KeepalivedBaseline:
    """The keepalived pair as the lab built it: configs, links, daemons, PRIMARY holding every VIP."""

    def __init__(self, nodes: tuple[str, ...] = ("k1", "k2"), ifaces: tuple[str, ...] = ("eth0", "eth1", "eth2", "eth3"),
                 vips: tuple[str, ...] = ("198.18.4.1", "198.18.5.1"), primary: str = "k1"):
        self.nodes, self.ifaces, self.vips, self.primary = nodes, ifaces, vips, primary
        self.configs = {n: keepalived_conf(n) for n in nodes}

    def restore(self) -> None:
        sh("ip", "netns", "exec", ns("sw"), "nft", "flush", "ruleset", check=False)
        for node in self.nodes:
            for iface in self.ifaces:
                switch_port(node, iface, True)
            if not all(node_daemons(node).alive().values()):
                restart_node(node)
        for node, cfg in self.configs.items():
            if keepalived_conf(node) != cfg:
                d = node_daemons(node)
                (d.dir / "keepalived.conf").write_text(cfg)
                pid = d.alive().get("keepalived")
                if pid:
                    os.kill(pid, signal.SIGHUP)

        def nominal() -> bool:
            return all(holds(self.primary, v) for v in self.vips) and not any(
                holds(n, v) for n in self.nodes if n != self.primary for v in self.vips)

        wait_for(nominal, 15, what=f"{self.primary} holding {', '.join(self.vips)}")
        time.sleep(0.3)


@dataclass
class ProbeRun:
    sent: Path
    received: Path
    started: float

    def loss(self, since: float | None = None) -> Loss:
        return analyse(self.sent, self.received, since)

    def outages(self, since: float | None = None) -> list[tuple[float, float]]:
        return outages(self.sent, self.received, since)


@contextmanager
def probes(tmp: Path, interval: float = 0.01, src: str = "h1", dst: str = "198.18.2.100", dst_node: str = "wan",
           src_addr: str | None = None, port: int = PORT):
    """SRC sends a UDP probe to DST through its gateway every INTERVAL while the block runs (from SRC_ADDR
    if given: a host with several addresses, e.g. far's loopback)."""
    tmp.mkdir(parents=True, exist_ok=True)
    sent, received = tmp / f"probes-{src}-{dst_node}.sent", tmp / f"probes-{src}-{dst_node}.recv"
    rx = subprocess.Popen(["ip", "netns", "exec", ns(dst_node), sys.executable, "-m", "netha.lab.traffic", "recv",
                           "--bind", dst, "--out", str(received), "--port", str(port)], cwd=ROOT)
    time.sleep(0.3)
    tx = subprocess.Popen(["ip", "netns", "exec", ns(src), sys.executable, "-m", "netha.lab.traffic", "send",
                           "--to", dst, "--interval", str(interval), "--out", str(sent), "--port", str(port)]
                          + (["--src", src_addr] if src_addr else []), cwd=ROOT)
    run = ProbeRun(sent, received, time.monotonic())
    try:
        time.sleep(0.5)
        yield run
    finally:
        time.sleep(0.2)
        for p in (tx, rx):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()


@contextmanager
def both_ways(tmp: Path, interval: float = 0.01, lan: str = "h1", lan_addr: str = "198.18.1.100",
              upstream: str = "wan", upstream_addr: str = "198.18.2.100", port: int = PORT):
    """Probes LAN->upstream and upstream->LAN at once: a failover figure is only honest in both directions
    (the return path can break alone, e.g. a neighbour entry left on the virtual MAC's interface)."""
    with probes(tmp, interval, src=lan, dst=upstream_addr, dst_node=upstream, port=port) as out, \
            probes(tmp, interval, src=upstream, dst=lan_addr, dst_node=lan, src_addr=upstream_addr, port=port) as back:
        yield out, back


@contextmanager
def pair_ways(tmp: Path, pair: str = "h1-wan", interval: float = 0.01):
    """``both_ways`` for one of the lab's named probe pairs (``traffic.PAIRS``: h1-wan, h3-wan, h1-far, h3-far, and the
    same over IPv6: h1-wan6, h3-wan6, h1-far6, h3-far6)."""
    try:
        p = PAIRS[pair]
    except KeyError:
        raise LabError(f"no probe pair {pair!r} ({', '.join(PAIRS)})") from None
    with both_ways(tmp, interval, lan=p.lan.node, lan_addr=p.lan.addr, upstream=p.upstream.node,
                   upstream_addr=p.upstream.addr, port=pair_port(pair)) as (out, back):
        yield out, back


# -- faults beyond a router's own link: each undoes itself, also when the block raises ----------------------
def nft(node: str, *script: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run an nft script (one command a line) in NODE's namespace (``sw``: the switch's)."""
    return subprocess.run(["ip", "netns", "exec", ns(node), "nft", "-f", "-"], input="\n".join(script) + "\n",
                          capture_output=True, text=True, timeout=30, check=check)


def _table(*parts: str) -> str:
    return "nh_" + "_".join(p.replace("-", "_") for p in parts)


def _lab_topology():
    state = LabState.load()
    if state is None:
        raise LabError(f"the lab {lab_names().name} is not up")
    return load_topology(Path(state.topology))


def _port(node: str, iface: str) -> str:
    """The switch port (bridge-side veth end) of NODE's IFACE."""
    for link in _lab_topology().links:
        if (link.node, link.iface) == (node, iface):
            return link.port
    if iface == "eth0":
        return f"{node}-eth0"
    raise LabError(f"{node}:{iface} is on no bridge of the lab")


@contextmanager
def port_blackhole(node: str, iface: str, allow_vrrp: bool = False):
    """The switch port of NODE's IFACE drops every frame, both directions, while the block runs; carrier
    stays up on both sides (a gray failure: the router's interface reads up). ``allow_vrrp`` lets VRRP
    adverts (IP protocol 112) through, so that only data dies."""
    port = _port(node, iface)
    table = _table("blackhole", port)
    # Frames in are dropped at the bridge's prerouting hook, before the bridge learns their source MAC:
    # a dead port teaches the switch nothing (dropped later, at forward, the router's VRRP adverts from
    # the virtual MAC would still pull that MAC to the dead port every advert interval).
    nft("sw", f"add table bridge {table}",
        f"add chain bridge {table} ins {{ type filter hook prerouting priority 0 ; policy accept ; }}",
        f"add chain bridge {table} drops {{ type filter hook forward priority 0 ; policy accept ; }}",
        *([f"add rule bridge {table} ins ip protocol 112 accept",
           f"add rule bridge {table} drops ip protocol 112 accept"] if allow_vrrp else []),
        f'add rule bridge {table} ins iifname "{port}" drop',
        f'add rule bridge {table} drops oifname "{port}" drop')
    try:
        yield port
    finally:
        nft("sw", f"delete table bridge {table}", check=False)


@contextmanager
def nexthop_stops(node: str):
    """NODE (a next hop such as isp1) keeps its links, answers ARP and pings to itself, but forwards nothing."""
    table = _table("nexthop", node)
    nft(node, f"add table inet {table}",
        f"add chain inet {table} forward {{ type filter hook forward priority -10 ; policy drop ; }}")
    try:
        yield
    finally:
        nft(node, f"delete table inet {table}", check=False)


def bridge_ports_between(node_a: str, node_b: str) -> list[str]:
    """The switch ports of the link between NODE_A and NODE_B: their interfaces on the bridge they share."""
    links = _lab_topology().links
    bridges = {ln.bridge for ln in links if ln.node == node_a} & {ln.bridge for ln in links if ln.node == node_b}
    if len(bridges) != 1:
        raise LabError(f"{node_a} and {node_b} share {len(bridges)} bridges (a link needs exactly one)")
    (bridge,) = bridges
    return [ln.port for ln in links if ln.bridge == bridge and ln.node in (node_a, node_b)]


@contextmanager
def link_down(node_a: str, node_b: str):
    """The link between NODE_A and NODE_B (e.g. isp1 and far) loses carrier on both ends (both switch
    ports down): a failure beyond the next hop; the routers' own interfaces stay up."""
    ports = bridge_ports_between(node_a, node_b)
    try:
        for port in ports:
            sh("ip", "-n", ns("sw"), "link", "set", port, "down")
        yield ports
    finally:
        for port in ports:
            sh("ip", "-n", ns("sw"), "link", "set", port, "up", check=False)


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _proc_state(pid: int) -> str | None:
    """The state letter of PID (R, S, T...), None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


@contextmanager
def hang(node: str):
    """NODE hangs with its links up: every process in its namespace (FRR or keepalived, sshd, snmpd,
    sessions) is SIGSTOPped, and the namespace neither forwards nor answers (IP and ARP dropped in and
    out). Undone by deleting the tables and SIGCONT."""
    table = _table("hang", node)
    stopped: list[int] = []
    try:
        nft(node, f"add table inet {table}",
            *(f"add chain inet {table} {hook} {{ type filter hook {hook} priority -300 ; policy drop ; }}"
              for hook in ("input", "forward", "output")),
            f"add table arp {table}",
            *(f"add chain arp {table} {hook} {{ type filter hook {hook} priority 0 ; policy drop ; }}"
              for hook in ("input", "output")))
        stopped = [p for p in netns_pids(ns(node)) if p != os.getpid()]
        _signal_all(stopped, signal.SIGSTOP)
        wait_for(lambda: all(_proc_state(p) in ("T", None) for p in stopped), 5, 0.01, what=f"{node}'s processes stopped")
        yield stopped
    finally:
        nft(node, f"delete table inet {table}", check=False)
        nft(node, f"delete table arp {table}", check=False)
        _signal_all(stopped, signal.SIGCONT)


@contextmanager
def target_down(node: str = "far", address: str = "198.18.10.100"):
    """The probe target ADDRESS on NODE stops answering and forwarding, silently (no ICMP error): every
    member's path to it fails at once, which is the target's failure, not a gateway's."""
    table = _table("target", node)
    nft(node, f"add table inet {table}",
        *(f"add chain inet {table} {hook} {{ type filter hook {hook} priority -10 ; policy accept ; }}"
          for hook in ("input", "forward")),
        *(f"add rule inet {table} {hook} ip daddr {address} drop" for hook in ("input", "forward")))
    try:
        yield
    finally:
        nft(node, f"delete table inet {table}", check=False)
