"""Leader handover benchmark (issue 17): two controllers on the lab's etcd, kill -9 the leader, time
until the other one acts; and the etcd write rate of each controller.

    sudo .venv/bin/python bench/handover.py [--runs 5] [--ttls 5 10] [--window 30]

Two controllers, A in the lab's ``ctl`` and B in ``ctl2`` (each with its own listener legs), run
``netha run -i inventories/lab-ha.yml --id A|B`` with the lease ``ttl`` under test (``loop_wait`` 1 s,
``retry_timeout`` (ttl - 1) / 2: Patroni's rule at its limit, the leader renews every second). Per
run: the leader is SIGKILLed; the figures, each from the kill:

- ``lease``:  the survivor's lease loop takes the leadership (its log line "leader (lease revision");
- ``acting``: the survivor's daemon loop switches to acting (its audit entry "leader acquired", written
  in the cycle that then resolves open plans and decides); this is the handover time.

The killed controller is started again (it follows) before the next run, so runs alternate A and B.
Then, with both running and nothing failing, for ``--window`` seconds: each controller's requests
and writes to etcd (its Prometheus counters ``netha_coordination_requests``/``_writes``), and the
cluster's committed raft proposals (etcd's own ``etcd_server_proposals_committed_total``).

The lab is the process's (``NETHA_LAB_NAME``, else the default lab), brought up if needed.
Writes bench/results/handover.json, handover.md and handover.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from netha import lab  # noqa: E402
from netha.lab.names import lab_names  # noqa: E402
from netha.store import Store  # noqa: E402

RESULTS = ROOT / "bench" / "results"
NODES = {"A": "ctl", "B": "ctl2"}
METRICS = {"A": 19711, "B": 19712}
ETCD = {"etcd1": "198.18.0.31", "etcd2": "198.18.0.32", "etcd3": "198.18.0.33"}


def inventory(tmp: Path, ttl: int) -> Path:
    doc = lab_names().inventory(yaml.safe_load((ROOT / "inventories" / "lab-ha.yml").read_text()))
    doc["controller"]["state_dir"] = str(tmp / "state")
    doc["controller"]["coordination"].update(prefix=f"/netha/bench-{uuid.uuid4().hex[:8]}", ttl=ttl, loop_wait=1.0,
                                             retry_timeout=(ttl - 1) / 2)
    path = tmp / f"lab-ha-{ttl}.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class Controller:
    def __init__(self, tmp: Path, inv: Path, cid: str):
        self.id, self.inv, self.tmp = cid, inv, tmp
        self.log = tmp / f"{cid}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        f = self.log.open("a")
        self.offset = self.log.stat().st_size
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", lab_names().netns(NODES[self.id]), "env", "NETHA_NO_NETNS=1", sys.executable, "-m",
             "netha", "--log-level", "info", "run", "-i", str(self.inv), "--id", self.id,
             "--metrics-port", str(METRICS[self.id])],
            stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)

    def text(self) -> str:
        return self.log.read_text()[self.offset:] if self.log.exists() else ""

    def wait_started(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while "watching" not in self.text():
            if self.proc is None or self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"controller {self.id} did not start: {self.text()[-2000:]}")
            time.sleep(0.2)

    def kill(self) -> float:
        assert self.proc is not None
        t = time.time()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        return t

    def lease_time(self, after: float) -> float | None:
        """Wall time of this controller's first "leader (lease revision" line after ``after``."""
        for line in self.text().splitlines():
            if ": leader (lease revision" in line:
                ts = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                if ts >= after:
                    return ts
        return None

    def metrics(self) -> dict[str, float]:
        code = (f"import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:{METRICS[self.id]}/metrics',"
                "timeout=5).read().decode())")
        out = subprocess.run(["ip", "netns", "exec", lab_names().netns(NODES[self.id]), sys.executable, "-c", code],
                             capture_output=True, text=True, timeout=60).stdout
        got = {}
        for name in ("netha_coordination_requests_total", "netha_coordination_writes_total", "netha_leader"):
            m = re.search(rf"^{name}{{[^}}]*}} ([0-9.e+]+)$", out, re.M)
            if m:
                got[name] = float(m.group(1))
        return got


def leader_of(inv: Path) -> str | None:
    """The leader as `netha leader --json` says (None: nobody, or etcd did not answer in time)."""
    r = subprocess.run([sys.executable, "-m", "netha", "leader", "-i", str(inv), "--json"], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    return json.loads(r.stdout)["leader"] if r.stdout.strip() else None


def etcd_proposals() -> float:
    code = ("import urllib.request,re;t=urllib.request.urlopen('http://198.18.0.31:2379/metrics',timeout=5).read().decode();"
            "print(re.search(r'^etcd_server_proposals_committed_total ([0-9.e+]+)$',t,re.M).group(1))")
    out = subprocess.run(["ip", "netns", "exec", lab_names().netns("ctl"), sys.executable, "-c", code],
                         capture_output=True, text=True, timeout=60).stdout.strip()
    return float(out)


def acquired_after(state: Path, cid: str, after: float) -> float | None:
    for r in Store(state).history(10000):
        if r.action == "leader" and r.result == "acquired" and r.actor == f"daemon {cid}" and r.ts >= after:
            return r.ts
    return None


def measure_ttl(ttl: int, runs: int, window: float, tmp: Path) -> dict:
    inv = inventory(tmp, ttl)
    state = tmp / "state"
    ctl = {cid: Controller(tmp, inv, cid) for cid in NODES}
    try:
        for c in ctl.values():
            c.start()
        for c in ctl.values():
            c.wait_started()
        # -- write rate, both running, nothing failing
        time.sleep(3)
        before = {cid: c.metrics() for cid, c in ctl.items()}
        p0, t0 = etcd_proposals(), time.monotonic()
        time.sleep(window)
        after = {cid: c.metrics() for cid, c in ctl.items()}
        p1, t1 = etcd_proposals(), time.monotonic()
        span = t1 - t0
        rates = {}
        for cid in ctl:
            role = "leader" if after[cid].get("netha_leader") == 1.0 else "follower"
            rates[cid] = {
                "role": role,
                "requests_per_s": round((after[cid]["netha_coordination_requests_total"]
                                         - before[cid]["netha_coordination_requests_total"]) / span, 3),
                "writes_per_s": round((after[cid]["netha_coordination_writes_total"]
                                       - before[cid]["netha_coordination_writes_total"]) / span, 3),
            }
        cluster = round((p1 - p0) / span, 3)
        print(f"ttl {ttl}: write rate {rates}, etcd proposals committed {cluster}/s", flush=True)
        # -- handovers
        results = []
        for i in range(runs):
            deadline = time.monotonic() + 3 * ttl + 30
            while (leader := leader_of(inv)) not in ctl:  # None: being handed over, or etcd slow to answer
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no leader before run {i + 1}: {leader}")
                time.sleep(1)
            other = next(cid for cid in ctl if cid != leader)
            time.sleep(1.5)  # the leader's renewal falls anywhere in its loop
            t_kill = ctl[leader].kill()
            deadline = time.monotonic() + 3 * ttl + 30
            while (t_act := acquired_after(state, other, t_kill)) is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"run {i + 1}: {other} did not lead: {ctl[other].text()[-2000:]}")
                time.sleep(0.05)
            t_lease = ctl[other].lease_time(t_kill)
            run = {"killed": leader, "leader": other, "acting": round(t_act - t_kill, 3),
                   "lease": round(t_lease - t_kill, 3) if t_lease else None}
            print(f"ttl {ttl} run {i + 1}: killed {leader}, {other} leads after {run['lease']}s, acts after "
                  f"{run['acting']}s", flush=True)
            results.append(run)
            ctl[leader].start()
            ctl[leader].wait_started()
        acting = [r["acting"] for r in results]
        return {
            "ttl": ttl, "loop_wait": 1.0, "retry_timeout": (ttl - 1) / 2, "runs": results,
            "acting": {"median": round(statistics.median(acting), 3), "min": min(acting), "max": max(acting)},
            "write_rate": {"controllers": rates, "etcd_proposals_committed_per_s": cluster, "window_s": round(span, 1)},
        }
    finally:
        for c in ctl.values():
            if c.proc is not None and c.proc.poll() is None:
                c.proc.kill()
                c.proc.wait(10)


def report(doc: dict) -> None:
    lines = ["# Leader handover (issue 17)", "",
             f"`bench/handover.py` on {doc['date']} ({doc['machine']}); two controllers (A in `ctl`, B in `ctl2`) on the "
             "lab's 3-member etcd cluster, `loop_wait` 1 s, `retry_timeout` (ttl - 1) / 2. Per run the leader is "
             "SIGKILLed; *lease*: the survivor's lease loop holds the leadership; *acting*: its daemon switched to "
             "acting (audit \"leader acquired\"), both from the kill.", "",
             "| ttl | runs | acting median | min | max | lease median | bound ttl + loop_wait |", "|---|---|---|---|---|---|---|"]
    for t in doc["ttls"]:
        leases = [r["lease"] for r in t["runs"] if r["lease"] is not None]
        lines.append(f"| {t['ttl']} s | {len(t['runs'])} | {t['acting']['median']:.2f} s | {t['acting']['min']:.2f} s | "
                     f"{t['acting']['max']:.2f} s | {statistics.median(leases):.2f} s | {t['ttl'] + t['loop_wait']:.0f} s |")
    lines += ["", "etcd traffic, both controllers running, nothing failing:", "",
              "| ttl | controller | role | requests/s | writes/s | cluster: raft proposals committed/s |", "|---|---|---|---|---|---|"]
    for t in doc["ttls"]:
        w = t["write_rate"]
        for cid, r in sorted(w["controllers"].items()):
            lines.append(f"| {t['ttl']} s | {cid} | {r['role']} | {r['requests_per_s']} | {r['writes_per_s']} | "
                         f"{w['etcd_proposals_committed_per_s']} |")
    lines += ["", "Each controller writes once per `loop_wait` (one transaction: its member key, the leader key read or "
              "created) and renews its lease once per `loop_wait` (a keepalive, not a raft write); a push adds one "
              "read-only fencing transaction. The cluster's committed raft proposals are the controllers' writes "
              "added up: lease keepalives are not raft writes. A dead leader is replaced after its lease ends "
              "(at most ttl after its last renewal) and the survivor's next loop (at most loop_wait): below "
              "ttl + loop_wait; the daemon acts in the cycle after (its poll interval, 0.1 s in the lab).", "", "![handover](handover.png)", ""]
    (RESULTS / "handover.md").write_text("\n".join(lines))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (pip install -e '.[bench]'): no plot")
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, t in enumerate(doc["ttls"]):
        ys = [r["acting"] for r in t["runs"]]
        ax.scatter([i] * len(ys), ys, color="tab:blue", zorder=3, label="acting" if i == 0 else None)
        ls = [r["lease"] for r in t["runs"] if r["lease"] is not None]
        ax.scatter([i + 0.15] * len(ls), ls, color="tab:orange", marker="x", zorder=3, label="lease" if i == 0 else None)
        ax.hlines(t["ttl"] + t["loop_wait"], i - 0.3, i + 0.45, colors="grey", linestyles="dashed",
                  label="ttl + loop_wait" if i == 0 else None)
    ax.set_xticks(range(len(doc["ttls"])), [f"ttl {t['ttl']} s" for t in doc["ttls"]])
    ax.set_ylabel("seconds from kill -9 of the leader")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("leader handover")
    fig.tight_layout()
    fig.savefig(RESULTS / "handover.png", dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ttls", type=int, nargs="+", default=[5, 10])
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--report-only", action="store_true", help="rewrite handover.md and the plot from handover.json")
    args = ap.parse_args()
    if args.report_only:
        report(json.loads((RESULTS / "handover.json").read_text()))
        return
    lab.up()
    doc = {"date": datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
           f"load {os.getloadavg()[0]:.1f} at start", "ttls": []}
    with tempfile.TemporaryDirectory(prefix="netha-handover-") as tmp:
        for ttl in args.ttls:
            d = Path(tmp) / f"ttl{ttl}"
            d.mkdir()
            doc["ttls"].append(measure_ttl(ttl, args.runs, args.window, d))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "handover.json").write_text(json.dumps(doc, indent=1) + "\n")
    report(doc)
    print((RESULTS / "handover.md").read_text())


if __name__ == "__main__":
    main()
