"""Failover benchmark: how long does the LAN lose its gateway, with netha and with VRRP alone?

    sudo .venv/bin/python bench/failover.py [--runs 10]

In the lab, h1 sends a UDP probe to wan through the virtual gateway every 10 ms and wan sends one to
h1 (both directions: the return path can break alone); each side records arrivals. Each run injects
a failure and measures the black-hole time (first lost probe to first probe delivered again) in each
direction (the figure is the worse of the two), the lost probes, and, for netha, detection and
takeover latency from the daemon's log. Scenarios:

- gray:    r1's uplink goes down (r1 keeps advertising on the LAN)
- hard:    r1 dies (every process of the router killed, its links down)
- planned: `netha failover lan --to r2`, then `netha failback lan`
- blind:   the controller's management path to r1 is cut for 4 s (figure: false actions, must be 0)

Baselines in the same run, same probes: VRRP alone (no controller) for gray and hard, and
keepalived's own track_interface on the benchmark's keepalived pair (lab/keepalived.clab.yml).
netha also runs gray and planned on the main lab's keepalived pair (k1/k2, h3 probing wan).
`--modes` and `--scenarios` pick a part; `--merge` replaces only that part in failover.json.
Writes bench/results/failover.json and the plots; bench/report.py writes the Markdown report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from netha import lab  # noqa: E402
from netha.lab.faults import (  # noqa: E402
    Baseline, KeepalivedBaseline, both_ways, cut_management, kill_node, switch_port, wait_for,
)
from netha.lab.traffic import read_records  # noqa: E402

RESULTS = ROOT / "bench" / "results"
NETHA = [sys.executable, "-m", "netha"]
WINDOW = 4.0  # seconds observed after each failure injection
# netha on the FRR pair, VRRP alone (no controller), netha on the lab's keepalived pair (gray and
# planned), keepalived's own track_interface on the benchmark's keepalived pair (gray and hard).
MODES = ("netha", "vrrp-alone", "netha-keepalived", "keepalived")


def inventory(tmp: Path) -> Path:
    doc = yaml.safe_load((ROOT / "inventories" / "lab.yml").read_text())
    doc["controller"]["state_dir"] = str(tmp / "state")
    path = tmp / "lab.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class Daemon:
    def __init__(self, tmp: Path, inv: Path):
        self.log = tmp / "daemon.log"
        self.proc = subprocess.Popen([*NETHA, "--log-level", "info", "--log-format", "json", "run", "-i", str(inv)],
                                     stdout=self.log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        wait_for(lambda: "watching" in self.log.read_text() or self.proc.poll() is not None, 20, what="daemon")
        time.sleep(1.5)

    def records(self) -> list[dict]:
        out = []
        for line in self.log.read_text().splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def wall_to_mono(wall: float) -> float:
    return time.monotonic() - (time.time() - wall)


def timeline(run, since: float, until: float) -> dict:
    sent = [(s, t) for s, t in read_records(run.sent) if since - 0.5 <= t <= until]
    got = {s for s, _ in read_records(run.received)}
    return {"t": [round(t - since, 4) for _, t in sent], "ok": [s in got for s, _ in sent]}


@dataclass(frozen=True)
class Pair:
    """The routers a run breaks: the FRR pair (r1/r2, group lan) or the keepalived pair (k1/k2, klan)."""

    primary: str
    backup: str
    group: str
    src: str  # the probing host on the group's LAN
    src_addr: str  # its address (upstream -> LAN probes go there)
    dst: str  # wan's address behind the pair
    base: Baseline | KeepalivedBaseline


def one_run(scenario: str, mode: str, tmp: Path, pair: Pair) -> dict:
    inv = inventory(tmp)
    # A planned failover is an operator's command: no daemon (it would hold the inventory lock).
    daemon = Daemon(tmp, inv) if mode.startswith("netha") and scenario != "planned" else None
    result: dict = {"scenario": scenario, "mode": mode}
    marks: dict[str, float] = {}
    try:
        with both_ways(tmp, lan=pair.src, lan_addr=pair.src_addr, upstream_addr=pair.dst) as (run, back):
            t0 = time.monotonic()
            marks["inject"] = 0.0
            if scenario == "gray":
                switch_port(pair.primary, "eth2", False)
            elif scenario == "hard":
                switch_port(pair.primary, "eth1", False)  # the router dies: links and processes at once
                switch_port(pair.primary, "eth2", False)
                kill_node(pair.primary)
            elif scenario == "blind":
                cut_management(pair.primary, True)
            elif scenario == "planned":
                r = subprocess.run([*NETHA, "failover", pair.group, "--to", pair.backup, "-i", str(inv), "--yes"], cwd=ROOT,
                                   capture_output=True, text=True)
                marks["verified"] = time.monotonic() - t0
                result["command_ok"] = r.returncode == 0
                m = re.search(r"verified in ([0-9.]+)s", r.stdout)
                result["plan_seconds"] = float(m.group(1)) if m else None
            time.sleep(WINDOW)
            if scenario == "blind":
                cut_management(pair.primary, False)
                time.sleep(1)
            if scenario == "planned":
                t1 = time.monotonic()
                r = subprocess.run([*NETHA, "failback", pair.group, "-i", str(inv), "--yes"], cwd=ROOT,
                                   capture_output=True, text=True)
                result["failback_ok"] = r.returncode == 0
                result["failback_seconds"] = round(time.monotonic() - t1, 3)
                time.sleep(1)
                result["failback_lost"] = run.loss(since=t1).lost + back.loss(since=t1).lost
            loss = run.loss(since=t0)
            back_loss = back.loss(since=t0)
            result["outages"] = {"lan_to_up": len(run.outages(since=t0)), "up_to_lan": len(back.outages(since=t0))}
            end = time.monotonic()
            result["timeline"] = timeline(run, t0, min(end, t0 + WINDOW))
        result.update(lost=loss.lost + back_loss.lost, sent=loss.sent + back_loss.sent,
                      blackhole=round(max(loss.blackhole, back_loss.blackhole), 4),
                      blackhole_lan_to_up=round(loss.blackhole, 4), blackhole_up_to_lan=round(back_loss.blackhole, 4),
                      recovered=(loss.recovered_at is not None or loss.lost == 0)
                      and (back_loss.recovered_at is not None or back_loss.lost == 0))
        if loss.first_lost_at is not None:
            marks["first_lost"] = loss.first_lost_at - t0
        if loss.recovered_at is not None:
            marks["recovered"] = loss.recovered_at - t0
        if daemon is not None:
            recs = daemon.records()
            decisions = [r for r in recs if r.get("msg", "").startswith("decision:")]
            actions = [r for r in decisions if not r["msg"].startswith("decision: alert")]
            result["actions"] = len(actions)
            result["decisions"] = [f"{round(wall_to_mono(r['ts']) - t0, 3)}s {r['msg']}" for r in decisions]
            lan = [r for r in actions if f" {pair.group} " in r["msg"]]
            if lan:
                marks["decision"] = wall_to_mono(lan[0]["ts"]) - t0
            verified = [r for r in recs if "is master (verified" in r.get("msg", "") and f" of {pair.group}:" in r["msg"]]
            if verified:
                marks["verified"] = wall_to_mono(verified[0]["ts"]) - t0
                m = re.search(r"verified in ([0-9.]+)s", verified[0]["msg"])
                result["takeover"] = float(m.group(1)) if m else None
            if "decision" in marks:
                result["detection"] = round(marks["decision"], 4)
        result["marks"] = {k: round(v, 4) for k, v in marks.items()}
    finally:
        if daemon is not None:
            daemon.stop()
        pair.base.restore()
    return result


def summarise(runs: list[dict]) -> dict:
    def stats(values: list[float]) -> dict | None:
        values = sorted(v for v in values if v is not None)
        if not values:
            return None
        p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
        return {"median": round(statistics.median(values), 4), "p95": round(p95, 4), "min": values[0], "max": values[-1]}

    out = {}
    for key in sorted({(r["scenario"], r["mode"]) for r in runs}):
        rs = [r for r in runs if (r["scenario"], r["mode"]) == key]
        out[f"{key[0]}/{key[1]}"] = {
            "runs": len(rs),
            "blackhole": stats([r["blackhole"] for r in rs]),
            "blackhole_lan_to_up": stats([r.get("blackhole_lan_to_up") for r in rs]),
            "blackhole_up_to_lan": stats([r.get("blackhole_up_to_lan") for r in rs]),
            "second_outages": sum(1 for r in rs if max((r.get("outages") or {}).values(), default=0) > 1),
            "lost": stats([r["lost"] for r in rs]),
            "recovered": sum(1 for r in rs if r["recovered"]),
            "detection": stats([r.get("detection") for r in rs]),
            "takeover": stats([r.get("takeover") for r in rs]),
            "actions": sum(r.get("actions", 0) for r in rs) if key[1].startswith("netha") else None,
            "failback_lost": stats([r.get("failback_lost") for r in rs]),
        }
    return out


def versions() -> dict:
    def cmd(*argv: str) -> str:
        try:
            r = subprocess.run(argv, capture_output=True, text=True)
            return (r.stdout.strip() or r.stderr.strip()).splitlines()[0]
        except (OSError, IndexError):
            return "?"

    import importlib.metadata as md

    return {
        "frr": cmd("/usr/lib/frr/zebra", "--version"), "keepalived": cmd("keepalived", "--version") or "?",
        "python": platform.python_version(),
        **{p: md.version(p) for p in ("netha", "netmiko", "pysnmp", "scapy") if _has(p)},
    }


def _has(pkg: str) -> bool:
    import importlib.metadata as md

    try:
        md.version(pkg)
        return True
    except md.PackageNotFoundError:
        return False


def machine() -> dict:
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    return {"cores": os.cpu_count(), "memory_gb": round(int(mem) / 1024 / 1024, 1), "kernel": platform.release()}


def save(args, runs: list[dict]) -> dict:
    if args.merge and (RESULTS / "failover.json").exists():
        old = json.loads((RESULTS / "failover.json").read_text())
        measured = {(r["scenario"], r["mode"]) for r in runs}
        runs = [r for r in old["runs"] if (r["scenario"], r["mode"]) not in measured] + runs
        this = " ".join(sys.argv)
        command = old["command"] if old["command"].endswith(this) else f"{old['command']} ; {this}"
    else:
        command = " ".join(sys.argv)
    doc = {
        "benchmark": "failover",
        "date": datetime.now().isoformat(timespec="seconds"),
        "command": command,
        "machine": machine(),
        "versions": versions(),
        "vrrp_timers": {"advertisement_interval_ms": 100, "priorities": {"r1": 200, "r2": 100},
                        "master_down_interval_ms": {"r2 (priority 100)": 360}, "preempt": True},
        "netha": {"poll_interval_s": 0.1, "failure_threshold": 2, "probe_interval_ms": 10, "window_s": WINDOW},
        "summary": summarise(runs),
        "runs": runs,
    }
    (RESULTS / "failover.json").write_text(json.dumps(doc, indent=1))
    return doc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--scenarios", default="gray,hard,planned,blind")
    ap.add_argument("--modes", default=",".join(MODES), help=f"which of {', '.join(MODES)} to run")
    ap.add_argument("--merge", action="store_true",
                    help="replace only the (scenario, mode) pairs measured now in an existing failover.json")
    args = ap.parse_args()
    modes = set(args.modes.split(","))
    RESULTS.mkdir(parents=True, exist_ok=True)
    lab.up()
    frr = Pair("r1", "r2", "lan", "h1", "198.18.1.100", "198.18.2.100", Baseline())
    kpair = Pair("k1", "k2", "klan", "h3", "198.18.4.100", "198.18.5.100", KeepalivedBaseline())
    plan = []
    for sc in args.scenarios.split(","):
        if "netha" in modes:
            plan.append((sc, "netha", frr))
        if sc in ("gray", "hard") and "vrrp-alone" in modes:
            plan.append((sc, "vrrp-alone", frr))
        if sc in ("gray", "planned") and "netha-keepalived" in modes:
            plan.append((sc, "netha-keepalived", kpair))
    runs = []
    try:
        for i in range(args.runs):
            for sc, mode, pair in plan:
                with tempfile.TemporaryDirectory(prefix="netha-bench-") as tmp:
                    r = one_run(sc, mode, Path(tmp), pair)
                r["run"] = i
                runs.append(r)
                print(f"run {i} {sc:8s} {mode:16s} lost {r['lost']:4d} black hole {r['blackhole'] * 1000:7.0f} ms"
                      + (f" detection {r['detection'] * 1000:.0f} ms" if r.get("detection") is not None else "")
                      + (f" actions {r['actions']}" if "actions" in r else ""), flush=True)
        keepalived = [sc for sc in args.scenarios.split(",") if sc in ("gray", "hard")] if "keepalived" in modes else []
        if keepalived:
            save(args, runs)  # the FRR part is safe on disk before the keepalived part starts
            lab.down()
            lab.up(ROOT / "lab" / "keepalived.clab.yml")
            # keepalived's own track_interface: the benchmark's pair, with the FRR pair's addresses.
            track = Pair("k1", "k2", "lan", "h1", "198.18.1.100", "198.18.2.100",
                         KeepalivedBaseline(ifaces=("eth1", "eth2"), vips=("198.18.1.1", "198.18.2.1")))
            for i in range(args.runs):
                for sc in keepalived:
                    with tempfile.TemporaryDirectory(prefix="netha-bench-") as tmp:
                        r = one_run(sc, "keepalived", Path(tmp), track)
                    r["run"] = i
                    runs.append(r)
                    print(f"run {i} {sc:8s} keepalived  lost {r['lost']:4d} black hole {r['blackhole'] * 1000:7.0f} ms", flush=True)
    finally:
        lab.down()
    doc = save(args, runs)
    print(json.dumps(doc["summary"], indent=1))


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("the benchmark needs root (network namespaces)")
    main()
