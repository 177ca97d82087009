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

from ..drivers.textconfig import config_body, replace_commands
from .builder import _make_secrets_from_files, node_daemons
from .daemons import kill_pids
from .names import lab_names
from .traffic import Loss, analyse, outages

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


def vrrp_state(node: str, vrid: int = 1) -> str:
    try:
        groups = json.loads(vtysh(node, "show vrrp json"))
    except (ValueError, subprocess.CalledProcessError):
        return "unknown"
    for g in groups:
        if g["vrid"] == vrid:
            return g["v4"]["status"]
    return "absent"


def running_config(node: str) -> str:
    return config_body(vtysh(node, "show running-config"))


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

    def __init__(self, nodes: tuple[str, ...] = ("r1", "r2"), ifaces: tuple[str, ...] = ("eth0", "eth1", "eth2", "eth3")):
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
            cmds = replace_commands(running_config(node), cfg)
            if cmds:
                vtysh(node, "conf t", *cmds, "end")
        wait_for(lambda: vrrp_state("r1", 1) == "Master" and vrrp_state("r2", 1) == "Backup"
                 and vrrp_state("r1", 2) == "Master" and vrrp_state("r2", 2) == "Backup", 15, what="baseline VRRP state")
        for node, cfg in self.configs.items():
            if running_config(node) != cfg:
                raise AssertionError(f"{node} config not restored")


def holds(node: str, address: str) -> bool:
    """NODE has ADDRESS on one of its interfaces (keepalived puts a virtual address there when master)."""
    out = sh("ip", "-n", ns(node), "-4", "-o", "addr", "show", check=False).stdout
    return f" {address}/" in out


def keepalived_conf(node: str) -> str:
    return (node_daemons(node).dir / "keepalived.conf").read_text()


class KeepalivedBaseline:
    """The keepalived pair as the lab built it: configs, links, daemons, PRIMARY holding every VIP."""

    def __init__(self, nodes: tuple[str, ...] = ("k1", "k2"), ifaces: tuple[str, ...] = ("eth0", "eth1", "eth2"),
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
def probes(tmp: Path, interval: float = 0.01, src: str = "h1", dst: str = "198.18.2.100", dst_node: str = "wan"):
    """SRC sends a UDP probe to DST through its gateway every INTERVAL while the block runs."""
    sent, received = tmp / f"probes-{src}.sent", tmp / f"probes-{src}.recv"
    rx = subprocess.Popen(["ip", "netns", "exec", ns(dst_node), sys.executable, "-m", "netha.lab.traffic", "recv",
                           "--bind", dst, "--out", str(received)], cwd=ROOT)
    time.sleep(0.3)
    tx = subprocess.Popen(["ip", "netns", "exec", ns(src), sys.executable, "-m", "netha.lab.traffic", "send",
                           "--to", dst, "--interval", str(interval), "--out", str(sent)], cwd=ROOT)
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
              upstream: str = "wan", upstream_addr: str = "198.18.2.100"):
    """Probes LAN->upstream and upstream->LAN at once: a failover figure is only honest in both directions
    (the return path can break alone, e.g. a neighbour entry left on the virtual MAC's interface)."""
    with probes(tmp, interval, src=lan, dst=upstream_addr, dst_node=upstream) as out, \
            probes(tmp, interval, src=upstream, dst=lan_addr, dst_node=lan) as back:
        yield out, back
