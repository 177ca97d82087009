"""Helpers for integration tests on the real lab: run netha, inject faults, measure probe loss."""

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

import yaml

from netha.traffic import Loss, analyse

ROOT = Path(__file__).resolve().parents[2]
LAB_INVENTORY = ROOT / "inventories" / "lab.yml"
NETHA = [sys.executable, "-m", "netha"]


def sh(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=timeout)


def netha(*args: str, check: bool = False, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*NETHA, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=check, cwd=ROOT)


def netha_bg(*args: str, log: Path, env: dict | None = None) -> subprocess.Popen:
    f = log.open("w")
    return subprocess.Popen([*NETHA, *args], stdout=f, stderr=subprocess.STDOUT, cwd=ROOT,
                            env={**os.environ, **(env or {})}, start_new_session=True)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def make_inventory(tmp: Path, **controller: object) -> Path:
    """The lab inventory with a private state directory (and controller overrides) for one test."""
    doc = yaml.safe_load(LAB_INVENTORY.read_text())
    doc["controller"]["state_dir"] = str(tmp / "state")
    doc["controller"].update(controller)
    path = tmp / "lab.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def status(inv: Path, *extra: str) -> tuple[int, dict]:
    r = netha("status", "-i", str(inv), "--json", *extra)
    assert r.stdout.strip(), r.stderr
    return r.returncode, json.loads(r.stdout)


def vtysh(node: str, *commands: str) -> str:
    argv = ["vtysh", "-N", node]
    for c in commands:
        argv += ["-c", c]
    return sh(*argv).stdout


def vrrp_state(node: str, vrid: int = 1) -> str:
    for g in json.loads(vtysh(node, "show vrrp json")):
        if g["vrid"] == vrid:
            return g["v4"]["status"]
    return "absent"


def running_config(node: str) -> str:
    from netha.drivers.textconfig import config_body

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


# -- faults --------------------------------------------------------------------------------------
def switch_port(node: str, iface: str, up: bool) -> None:
    """Set the switch side of NODE's IFACE up or down: NODE loses carrier on IFACE."""
    sh("ip", "-n", "nh-sw", "link", "set", f"{node}-{iface}", "up" if up else "down")


def cut_management(node: str, cut: bool) -> None:
    switch_port(node, "eth0", not cut)


@dataclass
class ProbeRun:
    sent: Path
    received: Path
    started: float

    def loss(self, since: float | None = None) -> Loss:
        return analyse(self.sent, self.received, since)


@contextmanager
def probes(tmp: Path, interval: float = 0.01, src: str = "h1"):
    """SRC (h1) sends a UDP probe to wan through its gateway every 10 ms while the block runs."""
    sent, received = tmp / f"probes-{src}.sent", tmp / f"probes-{src}.recv"
    rx = subprocess.Popen(["ip", "netns", "exec", "nh-wan", sys.executable, "-m", "netha.traffic", "recv",
                           "--bind", "198.18.2.100", "--out", str(received)], cwd=ROOT)
    time.sleep(0.3)
    tx = subprocess.Popen(["ip", "netns", "exec", f"nh-{src}", sys.executable, "-m", "netha.traffic", "send",
                           "--to", "198.18.2.100", "--interval", str(interval), "--out", str(sent)], cwd=ROOT)
    run = ProbeRun(sent, received, time.monotonic())
    try:
        time.sleep(0.5)
        yield run
    finally:
        time.sleep(0.2)
        for p in (tx, rx):
            stop(p, timeout=5)


def netns_pids(ns: str) -> list[int]:
    return [int(p) for p in sh("ip", "netns", "pids", ns).stdout.split()]


def drop_ssh_sessions(node: str) -> int:
    """Kill the per-login sshd processes inside NODE (the listener stays): every session drops."""
    killed = 0
    for pid in netns_pids(f"nh-{node}"):
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
    """The routers' configs and links as the lab built them; put back after every test that changes them."""

    def __init__(self, nodes=("r1", "r2")):
        self.nodes = nodes
        self.configs = {n: running_config(n) for n in nodes}

    def restore(self) -> None:
        from netha.drivers.textconfig import replace_commands

        sh("ip", "netns", "exec", "nh-sw", "nft", "flush", "ruleset", check=False)
        for node in self.nodes:
            for iface in ("eth0", "eth1", "eth2"):
                switch_port(node, iface, True)
        for node, cfg in self.configs.items():
            cmds = replace_commands(running_config(node), cfg)
            if cmds:
                argv = ["conf t"] + cmds + ["end"]
                vtysh(node, *argv)
        wait_for(lambda: vrrp_state("r1", 1) == "Master" and vrrp_state("r2", 1) == "Backup"
                 and vrrp_state("r1", 2) == "Master", 15, what="baseline VRRP state")
        for node, cfg in self.configs.items():
            assert running_config(node) == cfg, f"{node} config not restored"
