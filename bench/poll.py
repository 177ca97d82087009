"""Polling scale benchmark: one full observation cycle of netha (SSH with persistent sessions; SNMP)
against Nornir + nornir_netmiko running `show vrrp json` on every device, for N router pairs.

    sudo .venv/bin/python bench/poll.py [--pairs 5,25,50] [--cycles 5]

Needs the bench extra (pip install -e '.[bench]'). For each N: `netha lab generate`, `netha lab up`,
then the measurements run inside the controller's namespace, then `netha lab down`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(inventory: Path, cycles: int, workers: int) -> dict:
    """Runs inside nh-ctl."""
    from netha.inventory import load_inventory
    from netha.observe.observer import Observer, ObserverOptions

    inv = load_inventory(inventory)
    out: dict = {"routers": len(inv.devices)}
    obs = Observer(inv, ObserverOptions(ssh=True, snmp=False, listener=False))
    obs.observe_once(listen=0)  # log in once: sessions persist
    times, cpus = [], []
    for _ in range(cycles):
        c0, t0 = _cpu(), time.perf_counter()
        snap = obs.observe_once(listen=0)
        times.append(time.perf_counter() - t0)
        cpus.append(_cpu() - c0)
    ok = sum(1 for d in snap.devices.values() if d.ssh and d.ssh.ok)
    out.update(netha_ssh_ms=statistics.median(times) * 1000, netha_cpu_ms=statistics.median(cpus) * 1000,
               netha_ssh_ok=ok, netha_rss_mb=_rss_mb())
    obs.stop()

    snmp = Observer(inv, ObserverOptions(ssh=False, snmp=True, listener=False))
    poller = snmp._snmp_poller()
    requests = {d: ("eth1",) for d in inv.devices}
    poller.poll(requests)  # learn the interface maps
    times = []
    for _ in range(cycles):
        t0 = time.perf_counter()
        res = poller.poll(requests)
        times.append(time.perf_counter() - t0)
    out.update(netha_snmp_ms=statistics.median(times) * 1000, netha_snmp_ok=sum(1 for r in res.values() if r.result.ok))
    snmp.stop()

    out.update(nornir(inv, cycles=max(1, min(3, cycles)), workers=workers))
    return out


def nornir(inv, cycles: int, workers: int) -> dict:
    """The way an engineer scripts it: a new Nornir run per cycle, threaded runner, netmiko per host."""
    from nornir import InitNornir
    from nornir_netmiko.tasks import netmiko_send_command

    user = inv.credentials["lab"].resolve_username()
    password = inv.credentials["lab"].password.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        hosts = {name: {"hostname": str(d.host), "platform": "cisco_ios", "username": user, "password": password}
                 for name, d in inv.devices.items()}
        Path(tmp, "hosts.yaml").write_text(json.dumps(hosts))
        Path(tmp, "groups.yaml").write_text("{}")
        Path(tmp, "defaults.yaml").write_text("{}")
        times = []
        failed = 0
        for _ in range(cycles):
            t0 = time.perf_counter()
            nr = InitNornir(
                runner={"plugin": "threaded", "options": {"num_workers": workers}},
                inventory={"plugin": "SimpleInventory", "options": {
                    "host_file": f"{tmp}/hosts.yaml", "group_file": f"{tmp}/groups.yaml", "defaults_file": f"{tmp}/defaults.yaml"}},
                logging={"enabled": False},
            )
            result = nr.run(task=netmiko_send_command, command_string="show vrrp json")
            nr.close_connections()
            times.append(time.perf_counter() - t0)
            failed = len(result.failed_hosts)
    return {"nornir_ms": statistics.median(times) * 1000, "nornir_failed": failed, "nornir_workers": workers}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", default="5,25,50")
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--workers", type=int, default=20, help="Nornir threaded runner workers")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.cycles, args.workers)))
        return
    from netha import lab
    from netha.lab.generate import generate

    points = []
    for n in [int(x) for x in args.pairs.split(",")]:
        with tempfile.TemporaryDirectory(prefix=f"netha-scale-{n}-") as tmp:
            topo, inv = generate(n, Path(tmp))
            t0 = time.monotonic()
            lab.up(topo)
            up_s = time.monotonic() - t0
            try:
                r = subprocess.run(["ip", "netns", "exec", "nh-ctl", sys.executable, __file__, "--measure", str(inv),
                                    "--cycles", str(args.cycles), "--workers", str(args.workers)],
                                   capture_output=True, text=True, cwd=ROOT, timeout=1800)
                if r.returncode != 0:
                    raise SystemExit(f"measurement failed for {n} pairs:\n{r.stderr[-3000:]}")
                point = json.loads(r.stdout.strip().splitlines()[-1])
                point["lab_up_s"] = round(up_s, 1)
                points.append(point)
                print(json.dumps(point), flush=True)
            finally:
                t1 = time.monotonic()
                lab.down()
                points[-1]["lab_down_s"] = round(time.monotonic() - t1, 1) if points else None
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    doc = {"benchmark": "poll", "date": datetime.now().isoformat(timespec="seconds"), "command": " ".join(sys.argv),
           "machine": {"cores": os.cpu_count(), "memory_gb": round(int(mem) / 1024 / 1024, 1)}, "points": points}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "poll.json").write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("the benchmark needs root (network namespaces)")
    main()
