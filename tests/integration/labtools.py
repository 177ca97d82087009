"""Helpers for integration tests on the real lab: run netha, inject faults, measure probe loss."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from netha.lab.faults import (  # noqa: F401 - re-exported for the tests
    Baseline, ProbeRun, both_ways, cut_management, drop_ssh_sessions, kill_node, netns_pids, ns, probes, restart_node,
    running_config, sh, switch_port, vrrp_state, vtysh, wait_for,
)
from netha.lab.names import LabNames, lab_names

ROOT = Path(__file__).resolve().parents[2]
LAB_INVENTORY = ROOT / "inventories" / "lab.yml"
NETHA = [sys.executable, "-m", "netha"]


def netha(*args: str, check: bool = False, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*NETHA, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=check, cwd=ROOT)


def netha_bg(*args: str, log: Path, env: dict | None = None, errors: Path | None = None) -> subprocess.Popen:
    """netha in the background, its output in LOG; its standard error in ERRORS when given (a stream of JSON
    documents on stdout must not get log lines written into the middle of a document)."""
    f = log.open("w")
    err = errors.open("w") if errors is not None else subprocess.STDOUT
    return subprocess.Popen([*NETHA, *args], stdout=f, stderr=err, cwd=ROOT,
                            env={**os.environ, **(env or {})}, start_new_session=True)


def json_lines(path: Path) -> list[dict]:
    """The JSON documents a running process has written to PATH, one per line. Only complete lines count: the
    writer may be in the middle of its last line while this reads (a half-written document is not an error)."""
    text = path.read_text() if path.exists() else ""
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip().startswith("{")]


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def make_inventory(tmp: Path, lab: LabNames | None = None, **controller: object) -> Path:
    """The lab inventory pointed at LAB (default: this session's lab: its controller namespace, secrets and
    known_hosts), with a private state directory (and controller overrides) for one test."""
    doc = (lab or lab_names()).inventory(yaml.safe_load(LAB_INVENTORY.read_text()))
    doc["controller"]["state_dir"] = str(tmp / "state")
    doc["controller"].update(controller)
    path = tmp / "lab.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def status(inv: Path, *extra: str) -> tuple[int, dict]:
    r = netha("status", "-i", str(inv), "--json", *extra)
    assert r.stdout.strip(), r.stderr
    return r.returncode, json.loads(r.stdout)


class Daemon:
    def __init__(self, tmp: Path, inv: Path, name: str = "daemon", env: dict | None = None, metrics: int = 0):
        self.log = tmp / f"{name}.log"
        args = ["--log-level", "info", "run", "-i", str(inv)]
        if metrics:
            args += ["--metrics-port", str(metrics)]
        self.proc = netha_bg(*args, log=self.log, env=env)

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_started(self, timeout: float = 20) -> None:
        wait_for(lambda: "watching" in self.text() or self.proc.poll() is not None, timeout, what="daemon start")
        assert self.proc.poll() is None, self.text()
        time.sleep(1.0)  # probes report, damping settles

    def decisions(self) -> list[str]:
        return [line.split("decision: ", 1)[1] for line in self.text().splitlines() if "decision: " in line]

    def stop(self) -> None:
        stop(self.proc)


def controller_observer(inv, options):
    """An observer of INV started with OPTIONS whose threads run in the controller's namespace: built
    and started from a thread that entered that namespace (threads inherit their creator's), so the
    test process itself never leaves its own."""
    import ctypes
    import threading

    from netha.observe.observer import Observer

    box: dict = {}

    def build() -> None:
        fd = os.open(f"/run/netns/{inv.controller.netns}", os.O_RDONLY)
        try:
            if ctypes.CDLL(None, use_errno=True).setns(fd, 0x40000000) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)
        obs = Observer(inv, options)
        obs.start()
        box["obs"] = obs

    t = threading.Thread(target=build)
    t.start()
    t.join(30)
    return box["obs"]
