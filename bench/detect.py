"""Detection latency: failure injected -> the controller's verdict changes: device events on and off
at 1 s polling, and 100 ms polling without events (the lab's interval before device events).

    sudo [NETHA_LAB_NAME=ev] .venv/bin/python bench/detect.py [--runs 3] [--configs 1s+events,1s,0.1s] [--reach]

The lab inventory's reach tracks are left out unless --reach (the probers detect a gray failure by
themselves: without them the figure is the SSH/event path's own). The load average is recorded
with every run (a shared machine is noisy).

The daemon runs with --dry-run (it decides but never pushes), so only detection is measured:
- gray: r1's uplink down -> group lan `degraded`;
- hard: r1 dies (processes killed, links down) -> device r1 `failed` (group lan failed-over);
- and the listener's reaction to the silent master (its `silent` event) in the hard case.
Also the daemon's CPU and memory while idle-polling the lab. Writes bench/results/detect.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from netha import lab  # noqa: E402
from netha.lab.faults import Baseline, kill_node, switch_port, wait_for  # noqa: E402
from netha.lab.names import lab_names  # noqa: E402

NETHA = [sys.executable, "-m", "netha"]
# name -> (poll interval, device events on)
CONFIGS = {"1s+events": (1.0, True), "1s": (1.0, False), "0.1s": (0.1, False)}


def start_daemon(tmp: Path, poll: float, events: bool = True, reach: bool = False) -> tuple[subprocess.Popen, Path]:
    doc = lab_names().inventory(yaml.safe_load((ROOT / "inventories" / "lab.yml").read_text()))
    doc["controller"].update(state_dir=str(tmp / "state"), poll_interval=poll)
    if not reach:
        for group in doc["groups"].values():
            group["track"] = [t for t in group.get("track", []) if "reach" not in t]
    inv = tmp / "lab.yml"
    inv.write_text(yaml.safe_dump(doc))
    log = tmp / "daemon.log"
    proc = subprocess.Popen([*NETHA, "--log-level", "info", "--log-format", "json", "run", "--dry-run", "-i", str(inv)],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
                            env={**os.environ, "NETHA_EVENTS": "1" if events else "0"})
    wait_for(lambda: "watching" in log.read_text(), 60, what="daemon")
    if events:
        wait_for(lambda: log.read_text().count("event stream up") >= 4, 60, what="every event stream up")
    time.sleep(max(2.0, 6 * poll))
    return proc, log


def records(log: Path) -> list[dict]:
    return [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]


def first(recs: list[dict], since: float, pred) -> float | None:
    for r in recs:
        if r["ts"] >= since and pred(r["msg"]):
            return round(r["ts"] - since, 4)
    return None


def idle_usage(proc: subprocess.Popen, seconds: float = 10.0) -> dict:
    def cpu() -> float:
        # utime + stime of the process, all threads included
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    c0 = cpu()
    time.sleep(seconds)
    used = cpu() - c0
    rss = next(int(x.split()[1]) for x in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if x.startswith("VmRSS"))
    return {"cpu_percent": round(100 * used / seconds, 1), "rss_mb": round(rss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"which of {', '.join(CONFIGS)}")
    ap.add_argument("--scenarios", default="gray,hard")
    ap.add_argument("--reach", action="store_true", help="keep the lab inventory's reach tracks")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "detect.json"))
    args = ap.parse_args()
    lab.up()
    base = Baseline()
    out: dict = {"date": datetime.now().isoformat(timespec="seconds"), "command": " ".join(sys.argv), "results": {},
                 "reach_tracks": args.reach, "idle": {}}
    try:
        for config in [c for c in args.configs.split(",") if c]:
            poll, events = CONFIGS[config]
            for scenario in [s for s in args.scenarios.split(",") if s]:
                rows = []
                for _ in range(args.runs):
                    with tempfile.TemporaryDirectory() as tmp:
                        proc, log = start_daemon(Path(tmp), poll, events, args.reach)
                        try:
                            if scenario == "gray" and config not in out["idle"]:
                                out["idle"][config] = {**idle_usage(proc), "load": [round(x, 2) for x in os.getloadavg()]}
                            load = round(os.getloadavg()[0], 2)
                            t0 = time.time()
                            if scenario == "gray":
                                switch_port("r1", "eth2", False)
                            else:
                                switch_port("r1", "eth1", False)
                                switch_port("r1", "eth2", False)
                                kill_node("r1")
                            time.sleep(max(3.0, 8 * poll))
                            recs = records(log)
                        finally:
                            proc.terminate()
                            proc.wait(15)
                            base.restore()
                    row = {
                        "load": load,
                        "verdict": first(recs, t0, (lambda m: "group lan:" in m and "-> degraded" in m) if scenario == "gray"
                                         else (lambda m: "group lan:" in m and "-> failed-over" in m)),
                        "decision": first(recs, t0, lambda m: m.startswith("decision:") and " lan " in m),
                    }
                    if scenario == "hard":
                        row["listener_silent"] = first(recs, t0, lambda m: "silent vrid 1 198.18.1.2" in m)
                    rows.append(row)
                    print(config, scenario, row, flush=True)
                summary = {k: statistics.median([r[k] for r in rows if r.get(k) is not None] or [float("nan")])
                           for k in rows[0]}
                out["results"][f"{scenario}@{config}"] = {"runs": rows, "median": summary}
    finally:
        lab.down()
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v["median"] for k, v in out["results"].items()}, indent=1), out.get("idle"))


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("the benchmark needs root (network namespaces)")
    main()
