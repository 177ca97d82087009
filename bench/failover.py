"""Failover benchmark: how long does the LAN lose its gateway, with netha and without it?

    sudo .venv/bin/python bench/failover.py [--runs 10] [--scenarios ...] [--modes ...] [--merge]

In the lab, a LAN host sends a UDP probe upstream through the virtual gateway every 10 ms and the
upstream host sends one back (both directions: the return path can break alone); each side records
arrivals. Each run injects a failure and measures the black-hole time (first lost probe to first
probe delivered again) in each direction (the figure is the worse of the two), the lost probes, and,
for netha, detection (the daemon's first decision for the group after the injection, from its JSON
log), takeover latency, alerts, and the daemon's CPU and RSS over the run. Scenarios:

- gray:     r1's uplink goes down (r1 keeps advertising on the LAN)
- hard:     r1 dies (every process of the router killed, its links down)
- planned:  `netha failover lan --to r2`, then `netha failback lan`
- blind:    the controller's management path to r1 is cut for 4 s (figure: false actions, must be 0)
- portdrop: r1's uplink switch port drops every frame, carrier up on both sides (h1 <-> wan)
- farend:   the isp1-far link loses carrier: r1's path to far dies one hop beyond its next hop (h1 <-> far)
- target:   far's target 198.18.10.100 stops answering for every member (figure: actions, must be 0;
            one target-down alert per reach-tracked group, lan and klan; probes h1 <-> wan must not suffer)
- hang:     r1 hangs with its links up (every process stopped, nothing forwarded): the hard-failure floor

Modes: `netha` (the daemon on the lab inventory, FRR pair r1/r2), `netha-keepalived` (the same daemon,
the lab's keepalived pair k1/k2 and h3), `netha-noreach` (a control: the daemon on the lab inventory
without its reach tracks, gray and portdrop: what the probers cost), `vrrp-alone` (no controller, FRR pair), `keepalived-script`
(no netha: keepalived's own vrrp_script ping trackers on k1/k2, lab/configs/k*/keepalived-script.conf,
swapped in for those runs and swapped back after), and `keepalived` (track_interface on the separate
lab/keepalived.clab.yml pair, gray and hard). Each mode also gets one cost measurement: the probe
packets per second leaving the primary toward each target over 5 s (nft counters and Icmp OutEchos in
its namespace), and for netha the daemon's CPU and RSS over those 5 s.

`--family 6` runs the scenarios over IPv6 (issue 16): the IPv6 groups lan6 (FRR, VRID 21) and klan6
(keepalived, VRID 31) are the ones broken and watched, the probes cross the IPv6 virtual gateway
(h1-wan6, h3-wan6, h1-far6, h3-far6), and in the daemon's inventory the IPv6 groups are automatic and the
IPv4 ones manual (so what moves is what IPv6 decided). Write it to its own file (`--out`).

The lab is the process's (`NETHA_LAB_NAME`, else the default lab); the inventory is pointed at it.
`--modes` and `--scenarios` pick a part; `--merge` replaces only that part in failover.json.
Writes bench/results/failover.json; bench/report.py writes the Markdown report and the plots.
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
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from netha import lab  # noqa: E402
from netha.lab.builder import node_daemons  # noqa: E402
from netha.lab.faults import (  # noqa: E402
    Baseline, KeepalivedBaseline, both_ways, cut_management, hang, holds, keepalived_conf, kill_node, link_down, nft,
    port_blackhole, sh, switch_port, target_down, vrrp_state, wait_for,
)
from netha.lab.names import lab_names  # noqa: E402
from netha.lab.traffic import PAIRS, read_records  # noqa: E402

RESULTS = ROOT / "bench" / "results"
NETHA = [sys.executable, "-m", "netha"]
WINDOW = 4.0  # seconds observed after each failure injection
MODES = ("netha", "netha-noevents", "netha-noreach", "netha-noreach-noevents", "vrrp-alone", "netha-keepalived",
         "keepalived-script", "keepalived")
DAEMON_MODES = ("netha", "netha-noevents", "netha-noreach", "netha-noreach-noevents", "vrrp-alone", "netha-keepalived")
SCENARIOS = ("gray", "hard", "planned", "blind", "portdrop", "farend", "target", "hang")
# Which scenarios each mode runs (on the main lab; `keepalived` has its own lab).
APPLIES = {
    "netha": set(SCENARIOS),
    "netha-noreach": {"gray", "portdrop"},  # control: the same daemon without the reach probers (their cost)
    # Device events off (NETHA_EVENTS=0): the lab's 1 s poll, with and without the reach probers (issue 14).
    "netha-noevents": {"gray", "blind"},
    "netha-noreach-noevents": {"gray"},
    "vrrp-alone": {"gray", "hard", "portdrop", "farend", "hang"},
    "netha-keepalived": {"gray", "planned", "portdrop", "farend"},
    "keepalived-script": {"portdrop", "farend"},
    "keepalived": {"gray", "hard"},
}
TARGETS = {"wan (FRR)": "198.18.2.100", "wan (keepalived)": "198.18.5.100", "far": "198.18.10.100"}
COST_SECONDS = 5.0
FAMILY = 4  # --family: the address family of the groups a run breaks and of its probes
V6_GROUPS = ("lan6", "upstream6", "klan6", "kupstream6")


def inventory(tmp: Path, reach: bool = True) -> Path:
    """The lab inventory pointed at the process's lab (as tests/integration/labtools.make_inventory does);
    without its reach tracks if not REACH."""
    doc = lab_names().inventory(yaml.safe_load((ROOT / "inventories" / "lab.yml").read_text()))
    if not reach:
        for group in doc["groups"].values():
            group["track"] = [t for t in group.get("track", []) if "reach" not in t]
    if FAMILY == 6:
        # The IPv6 groups act (the lab inventory keeps them manual beside the IPv4 tests), the IPv4 ones do not.
        for name, group in doc["groups"].items():
            group["policy"] = {**(group.get("policy") or {}), "automatic": name in V6_GROUPS}
    doc["controller"]["state_dir"] = str(tmp / "state")
    path = tmp / "lab.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


PROBING = ("r1", "r2", "k1", "k2")  # the members whose reach probers the lab inventory runs


def probers_flowing(nodes: tuple[str, ...], timeout: float = 90.0) -> float:
    """Wait until each of NODES sends echo requests at a steady rate (its reach probers run): the daemon
    says "watching" before its probers' pings start (an SSH exec channel each; on this machine root's
    shell start-up alone can take seconds under load). Returns the seconds waited."""
    t0 = time.monotonic()

    def ok() -> bool:
        before = {n: _out_echos(n) for n in nodes}
        time.sleep(0.5)
        return all(_out_echos(n) - before[n] >= 20 for n in nodes)  # 2 paths at ~40-50/s: ~40-50 in 0.5 s

    wait_for(ok, timeout, 0.1, what=f"reach probers of {', '.join(nodes)} sending")
    time.sleep(0.5)  # a full window (10 probes at 20 ms) on every path
    return round(time.monotonic() - t0, 2)


def reach_of(mode: str) -> bool:
    return "noreach" not in mode


def daemon_env(mode: str) -> dict[str, str]:
    """The daemon's environment for MODE: device events off in the `noevents` modes."""
    return {"NETHA_EVENTS": "0"} if mode.endswith("noevents") else {}


class Daemon:
    def __init__(self, tmp: Path, inv: Path, probers: tuple[str, ...] = (), env: dict[str, str] | None = None):
        self.log = tmp / "daemon.log"
        self.proc = subprocess.Popen([*NETHA, "--log-level", "info", "--log-format", "json", "run", "-i", str(inv)],
                                     stdout=self.log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
                                     env={**os.environ, **(env or {})})
        try:
            wait_for(lambda: "watching" in self.log.read_text() or self.proc.poll() is not None, 60, what="daemon")
            time.sleep(1.5)
            self.probers_wait = probers_flowing(probers) if probers else None
            if self.proc.poll() is not None:
                raise RuntimeError(f"netha daemon exited: {self.log.read_text()[-2000:]}")
        except BaseException:
            self.stop()
            raise
        self.started = time.monotonic()
        self.cpu0 = cpu_seconds(self.proc.pid)

    def usage(self) -> dict:
        """The daemon's CPU (% of one core) since it was ready, and its RSS now."""
        cpu = cpu_seconds(self.proc.pid)
        wall = time.monotonic() - self.started
        out = {"rss_mb": rss_mb(self.proc.pid)}
        if cpu is not None and self.cpu0 is not None and wall > 0:
            out["cpu_percent"] = round(100 * (cpu - self.cpu0) / wall, 1)
        return out

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


# A node's link-local address is the kernel's (from its random MAC): a new one in every lab, and
# nothing a reader of the results can use. Stored logs say only that it was one.
_LINK_LOCAL = re.compile(r"\bfe80::[0-9a-fA-F:]{1,40}")


def scrub(msg: str) -> str:
    """A daemon log line as stored with the results: link-local addresses as ``fe80::*``."""
    return _LINK_LOCAL.sub("fe80::*", msg)


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
    wan: str  # the probe pair (traffic.PAIRS) through the uplink: h1-wan or h3-wan
    far: str  # the probe pair beyond the ISP: h1-far or h3-far
    base: Baseline | KeepalivedBaseline
    vip: str | None = None  # keepalived: the LAN virtual address, watched to see when the backup takes it

    def probe_pair(self, scenario: str) -> str:
        return self.far if scenario == "farend" else self.wan


class Baseline6(Baseline):
    """The FRR pair as built, and r1 master of its IPv6 groups (21, 22) again after a restore."""

    def restore(self) -> None:
        super().restore()
        wait_for(lambda: all(vrrp_state("r1", v, 6) == "Master" and vrrp_state("r2", v, 6) == "Backup"
                             for v in (21, 22)), 15, what="r1 master of the IPv6 groups")


class VipWatch:
    """When the backup first holds the LAN virtual address (keepalived puts it on the interface)."""

    def __init__(self, node: str, vip: str, t0: float):
        self.node, self.vip, self.t0 = node, vip, t0
        self.at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set() and self.at is None:
            if holds(self.node, self.vip):
                self.at = time.monotonic() - self.t0
            self._stop.wait(0.02)

    def stop(self) -> float | None:
        self._stop.set()
        self._thread.join(2)
        return self.at


def flowing(*runs, timeout: float = 60.0) -> None:
    """Wait until every probe stream is sending and arriving: on a loaded machine the probe processes
    (python in each namespace) can take longer to start than the probes' own grace time."""
    def ok() -> bool:
        for r in runs:
            if not (r.sent.exists() and r.received.exists()):
                return False
            if r.sent.stat().st_size < 20 * 16 or r.received.stat().st_size < 10 * 16:
                return False
        return True

    wait_for(ok, timeout, 0.05, what="probes flowing both ways")
    time.sleep(0.3)


def inject(stack: ExitStack, scenario: str, pair: Pair) -> None:
    """Start SCENARIO's failure; the stack undoes it (context-manager faults) when the run ends."""
    if scenario == "gray":
        switch_port(pair.primary, "eth2", False)
    elif scenario == "hard":
        switch_port(pair.primary, "eth1", False)  # the router dies: links and processes at once
        switch_port(pair.primary, "eth2", False)
        kill_node(pair.primary)
    elif scenario == "blind":
        cut_management(pair.primary, True)
    elif scenario == "portdrop":
        stack.enter_context(port_blackhole(pair.primary, "eth2"))
    elif scenario == "farend":
        stack.enter_context(link_down("isp1", "far"))
    elif scenario == "target":
        stack.enter_context(target_down("far", PAIRS["h1-far"].upstream.addr))
    elif scenario == "hang":
        stack.enter_context(hang(pair.primary))


def netha_tree() -> str | None:
    """The netha code a run's daemon starts from: HEAD, and "+dirty" if netha/ has uncommitted changes
    (the working tree can change between runs)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "netha"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
    except OSError:
        return None
    return (head + ("+dirty" if dirty else "")) or None


def one_run(scenario: str, mode: str, tmp: Path, pair: Pair, others: tuple = ()) -> dict:
    """One run of SCENARIO in MODE on PAIR; afterwards PAIR and OTHERS (Baselines) are put back: netha's
    daemon watches every group of the lab inventory, and a failure beyond the ISP (farend) moves both
    pairs, so a run on one pair can leave the other failed over."""
    inv = inventory(tmp, reach=reach_of(mode))
    # A planned failover is an operator's command: no daemon (it would hold the inventory lock).
    daemon = Daemon(tmp, inv, probers=PROBING if reach_of(mode) else (), env=daemon_env(mode)) \
        if mode.startswith("netha") and scenario != "planned" else None
    probe = PAIRS[pair.probe_pair(scenario)]
    result: dict = {"scenario": scenario, "mode": mode, "probes": pair.probe_pair(scenario),
                    "load_before": round(os.getloadavg()[0], 2), "netha_tree": netha_tree(),
                    "events": mode.startswith("netha") and not mode.endswith("noevents")}
    marks: dict[str, float] = {}
    watch = None
    try:
        with both_ways(tmp, lan=probe.lan.node, lan_addr=probe.lan.addr, upstream=probe.upstream.node,
                       upstream_addr=probe.upstream.addr) as (run, back), ExitStack() as fault:
            flowing(run, back)
            t0 = time.monotonic()
            marks["inject"] = 0.0
            if pair.vip and scenario != "planned":
                watch = VipWatch(pair.backup, pair.vip, t0)
            inject(fault, scenario, pair)
            if scenario == "planned":
                r = subprocess.run([*NETHA, "failover", pair.group, "--to", pair.backup, "-i", str(inv), "--yes"], cwd=ROOT,
                                   capture_output=True, text=True)
                marks["verified"] = time.monotonic() - t0
                result["command_ok"] = r.returncode == 0
                m = re.search(r"verified in ([0-9.]+)s", r.stdout)
                result["plan_seconds"] = float(m.group(1)) if m else None
            time.sleep(max(0.0, WINDOW - (time.monotonic() - t0)) if scenario != "planned" else WINDOW)
            if daemon is not None:
                result.update(daemon.usage())
                result["probers_wait"] = daemon.probers_wait
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
            end = min(time.monotonic(), t0 + WINDOW)
            loss = run.loss(since=t0)
            back_loss = back.loss(since=t0)
            result["outages"] = {"lan_to_up": len(run.outages(since=t0)), "up_to_lan": len(back.outages(since=t0))}
            result["timeline"] = timeline(run, t0, end)
        if watch is not None:
            at = watch.stop()
            if at is not None:
                marks["vip_moved"] = at
        result.update(lost=loss.lost + back_loss.lost, sent=loss.sent + back_loss.sent,
                      blackhole=round(max(loss.blackhole, back_loss.blackhole), 4),
                      blackhole_lan_to_up=round(loss.blackhole, 4), blackhole_up_to_lan=round(back_loss.blackhole, 4),
                      recovered=(loss.recovered_at is not None or loss.lost == 0)
                      and (back_loss.recovered_at is not None or back_loss.lost == 0))
        firsts = [x.first_lost_at for x in (loss, back_loss) if x.first_lost_at is not None]
        if firsts:
            marks["first_lost"] = min(firsts) - t0
        recs = [x.recovered_at for x in (loss, back_loss) if x.recovered_at is not None]
        if recs:
            marks["recovered"] = max(recs) - t0
        if daemon is not None:
            recs = daemon.records()
            decisions = [r for r in recs if r.get("msg", "").startswith("decision:")]
            actions = [r for r in decisions if not r["msg"].startswith("decision: alert")]
            alerts = [r for r in decisions if r["msg"].startswith("decision: alert")]
            result["actions"] = len(actions)
            result["alerts"] = len(alerts)
            result["target_down_alerts"] = {}
            for r in alerts:
                if "fails from every member" in r["msg"]:
                    g = r.get("group") or r["msg"].split()[2].rstrip(":")
                    result["target_down_alerts"][g] = result["target_down_alerts"].get(g, 0) + 1
            result["decisions"] = [f"{round(wall_to_mono(r['ts']) - t0, 3)}s {scrub(r['msg'])}" for r in decisions]
            mine = [r for r in decisions if r.get("group") == pair.group or f" {pair.group}:" in r["msg"]
                    or f" {pair.group} " in r["msg"]]
            if mine:
                result["first_decision"] = round(wall_to_mono(mine[0]["ts"]) - t0, 4)
            # Detection: the first action on the group (failover, pin), or for a target's failure the
            # target-down alert; a split-brain alert on the way is not a detection of the failure.
            acted = [r for r in mine if r in actions or "fails from every member" in r["msg"]]
            if acted:
                marks["decision"] = wall_to_mono(acted[0]["ts"]) - t0
                result["detection"] = round(marks["decision"], 4)
            verified = [r for r in recs if "is master (verified" in r.get("msg", "") and f" of {pair.group}:" in r["msg"]]
            if verified:
                marks["verified"] = wall_to_mono(verified[0]["ts"]) - t0
                m = re.search(r"verified in ([0-9.]+)s", verified[0]["msg"])
                result["takeover"] = float(m.group(1)) if m else None
            # What the daemon did between its first action and the verification (where takeover time goes).
            if "decision" in marks:
                upto = marks.get("verified", marks["decision"] + 3.0)
                result["takeover_log"] = [f"{round(wall_to_mono(r['ts']) - t0, 3)}s {scrub(r['msg'])[:160]}" for r in recs
                                          if marks["decision"] - 0.001 <= wall_to_mono(r["ts"]) - t0 <= upto + 0.001][:40]
            # The daemon's own complaints (a crash, a prober that failed) stay with the run.
            result["daemon_errors"] = [r["msg"][:300] for r in recs if r.get("level") in ("error", "critical")][:10]
            result["daemon_exited"] = daemon.proc.poll()
        result["marks"] = {k: round(v, 4) for k, v in marks.items()}
        result["load_after"] = round(os.getloadavg()[0], 2)
    finally:
        if watch is not None:
            watch.stop()
        if daemon is not None:
            daemon.stop()
        pair.base.restore()
        for base in others:
            if base is not pair.base:
                base.restore()
    return result


# -- cost: probe packets per second toward each target, the daemon's CPU and RSS ----------------------------
def _echo_counters(node: str, table: str) -> dict[str, int]:
    out = json.loads(sh("ip", "netns", "exec", lab_names().netns(node), "nft", "-j", "list", "table", "inet", table).stdout)
    counts: dict[str, int] = {}
    for item in out["nftables"]:
        rule = item.get("rule")
        if not rule:
            continue
        daddr = counter = None
        for e in rule["expr"]:
            if "match" in e and e["match"]["left"].get("payload", {}).get("field") == "daddr":
                daddr = e["match"]["right"]
            if "counter" in e:
                counter = e["counter"]["packets"]
        if daddr is not None and counter is not None:
            counts[daddr] = counter
    return counts


def _out_echos(node: str) -> int:
    text = sh("ip", "netns", "exec", lab_names().netns(node), "cat", "/proc/net/snmp").stdout.splitlines()
    heads = [ln.split() for ln in text if ln.startswith("Icmp:")]
    return int(dict(zip(heads[0], heads[1]))["OutEchos"])


def measure_cost(mode: str, node: str, tmp: Path) -> dict:
    """Echo requests leaving NODE toward each target over COST_SECONDS (and netha's CPU and RSS then)."""
    daemon = Daemon(tmp, inventory(tmp, reach=reach_of(mode)),
                    probers=PROBING if reach_of(mode) else (), env=daemon_env(mode)) if mode.startswith("netha") else None
    table = "nh_bench_cost"
    try:
        nft(node, f"add table inet {table}",
            f"add chain inet {table} out {{ type filter hook output priority 0 ; policy accept ; }}",
            *(f"add rule inet {table} out ip daddr {a} icmp type echo-request counter" for a in sorted(set(TARGETS.values()))))
        time.sleep(1.0)
        c0, e0 = _echo_counters(node, table), _out_echos(node)
        u0 = (cpu_seconds(daemon.proc.pid), time.monotonic()) if daemon else None
        time.sleep(COST_SECONDS)
        c1, e1 = _echo_counters(node, table), _out_echos(node)
        out: dict = {"mode": mode, "node": node, "seconds": COST_SECONDS,
                     "echo_per_second": {k: round((c1[a] - c0.get(a, 0)) / COST_SECONDS, 1)
                                         for k, a in TARGETS.items() if c1.get(a, 0) - c0.get(a, 0) > 0},
                     "out_echos_per_second": round((e1 - e0) / COST_SECONDS, 1)}
        if mode == "keepalived-script":  # two vrrp_scripts (wan, far), one ping each per interval (1 s)
            out["configured_per_second"] = {node: 2.0}
        if daemon is not None:
            cpu1 = cpu_seconds(daemon.proc.pid)
            out["daemon_cpu_percent"] = round(100 * (cpu1 - u0[0]) / (time.monotonic() - u0[1]), 1)
            out["daemon_rss_mb"] = rss_mb(daemon.proc.pid)
            r = subprocess.run([*NETHA, "probes", "-i", str(tmp / "lab.yml"), "--json"], cwd=ROOT, capture_output=True,
                               text=True)
            try:
                doc = json.loads(r.stdout)
                out["configured_per_second"] = {d: sum(p["rate"] for p in v.get("probes", [])) for d, v in doc.items()}
            except ValueError:
                pass
        return out
    finally:
        nft(node, f"delete table inet {table}", check=False)
        if daemon is not None:
            daemon.stop()


# -- keepalived's own script tracker: swap the pair's configs --------------------------------------------------
def use_keepalived_configs(conf_name: str | None, normal: dict[str, str]) -> None:
    """Put lab/configs/<k>/CONF_NAME (None: the configs the lab was built with, NORMAL) on k1 and k2 and reload."""
    for node in ("k1", "k2"):
        text = normal[node] if conf_name is None else lab_names().localise(
            (ROOT / "lab" / "configs" / node / conf_name).read_text(), node)
        d = node_daemons(node)
        (d.dir / "keepalived.conf").write_text(text)
        pid = d.alive().get("keepalived")
        if pid:
            os.kill(pid, 1)  # SIGHUP: reload
    time.sleep(2.5)  # the scripts run once (interval 1 s, rise 1) before the pair is nominal
    wait_for(lambda: holds("k1", "198.18.4.1") and not holds("k2", "198.18.4.1"), 15, what="k1 holding klan's address")


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
        netha = key[1].startswith("netha")
        tda: dict[str, int] = {}
        for r in rs:
            for g, n in (r.get("target_down_alerts") or {}).items():
                tda[g] = tda.get(g, 0) + n
        out[f"{key[0]}/{key[1]}"] = {
            "runs": len(rs),
            "blackhole": stats([r["blackhole"] for r in rs]),
            "blackhole_lan_to_up": stats([r.get("blackhole_lan_to_up") for r in rs]),
            "blackhole_up_to_lan": stats([r.get("blackhole_up_to_lan") for r in rs]),
            "second_outages": sum(1 for r in rs if max((r.get("outages") or {}).values(), default=0) > 1),
            "lost": stats([r["lost"] for r in rs]),
            "recovered": sum(1 for r in rs if r["recovered"]),
            "detection": stats([r.get("detection") for r in rs]),
            "vip_moved": stats([(r.get("marks") or {}).get("vip_moved") for r in rs]),
            "takeover": stats([r.get("takeover") for r in rs]),
            "actions": sum(r.get("actions", 0) for r in rs) if netha else None,
            "runs_with_actions": sum(1 for r in rs if r.get("actions")) if netha else None,
            "alerts": sum(r.get("alerts", 0) for r in rs) if netha and any("alerts" in r for r in rs) else None,
            "target_down_alerts": tda if netha and any("target_down_alerts" in r for r in rs) else None,
            "runs_with_one_target_down_alert_per_group": sum(
                1 for r in rs if (r.get("target_down_alerts") or {}) == {"lan": 1, "klan": 1}) if key[0] == "target" else None,
            "cpu_percent": stats([r.get("cpu_percent") for r in rs]),
            "rss_mb": stats([r.get("rss_mb") for r in rs]),
            "failback_lost": stats([r.get("failback_lost") for r in rs]),
            "load": stats([r.get("load_before") for r in rs]),
        }
    return out


_VERSIONS: dict = {}


def versions() -> dict:
    if _VERSIONS:
        return _VERSIONS

    def cmd(*argv: str) -> str:
        try:
            r = subprocess.run(argv, capture_output=True, text=True)
            return (r.stdout.strip() or r.stderr.strip()).splitlines()[0]
        except (OSError, IndexError):
            return "?"

    import importlib.metadata as md

    _VERSIONS.update({
        "frr": cmd("/usr/lib/frr/zebra", "--version"), "keepalived": cmd("keepalived", "--version") or "?",
        "python": platform.python_version(),
        **{p: md.version(p) for p in ("netha", "netmiko", "pysnmp", "scapy") if _has(p)},
    })
    return _VERSIONS


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


def save(args, runs: list[dict], costs: list[dict]) -> dict:
    out = Path(args.out)
    old = json.loads(out.read_text()) if args.merge and out.exists() else None
    if old:
        measured = {(r["scenario"], r["mode"]) for r in runs}
        runs = [r for r in old["runs"] if (r["scenario"], r["mode"]) not in measured] + runs
        got = {c["mode"] for c in costs}
        costs = [c for c in old.get("cost", []) if c["mode"] not in got] + costs
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
        "netha": {"poll_interval_s": yaml.safe_load((ROOT / "inventories" / "lab.yml").read_text())["controller"]["poll_interval"],
                  "device_events": "on (off in the *-noevents modes: NETHA_EVENTS=0)", "failure_threshold": 2, "probe_interval_ms": 10, "window_s": WINDOW,
                  "reach": {"interval_s": 0.02, "window": 10, "max_loss": 0.3}},
        "keepalived_script": {"interval_s": 1, "timeout_s": 1, "fall": 1, "rise": 1, "weight": -150,
                              "script": "ping -c1 -W1 -I <own upstream address> <target>"},
        "summary": summarise(runs),
        "cost": costs,
        "runs": runs,
    }
    out.write_text(json.dumps(doc, indent=1))
    return doc


def show(r: dict) -> str:
    return (f"run {r['run']} {r['scenario']:8s} {r['mode']:17s} lost {r['lost']:4d} black hole {r['blackhole'] * 1000:5.0f} ms "
            f"({r['blackhole_lan_to_up'] * 1000:.0f}/{r['blackhole_up_to_lan'] * 1000:.0f})"
            + (f" detection {r['detection'] * 1000:.0f} ms" if r.get("detection") is not None else "")
            + (f" vip {r['marks']['vip_moved'] * 1000:.0f} ms" if "vip_moved" in r.get("marks", {}) else "")
            + (f" actions {r['actions']} alerts {r['alerts']} {r.get('target_down_alerts') or ''}" if "actions" in r else "")
            + (f" cpu {r['cpu_percent']}% rss {r.get('rss_mb')} MB" if "cpu_percent" in r else "")
            + f" load {r['load_before']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"which of {', '.join(SCENARIOS)} to run")
    ap.add_argument("--modes", default=",".join(MODES), help=f"which of {', '.join(MODES)} to run")
    ap.add_argument("--merge", action="store_true",
                    help="replace only the (scenario, mode) pairs measured now in an existing failover.json")
    ap.add_argument("--out", default=str(RESULTS / "failover.json"), help="the results file (default: %(default)s)")
    ap.add_argument("--no-cost", action="store_true", help="skip the per-mode probe-rate and CPU measurement")
    ap.add_argument("--family", type=int, choices=(4, 6), default=4,
                    help="break and probe the IPv4 groups (lan, klan) or the IPv6 ones (lan6, klan6)")
    args = ap.parse_args()
    global FAMILY
    FAMILY = args.family
    modes = [m for m in MODES if m in set(args.modes.split(","))]
    scenarios = [s for s in SCENARIOS if s in set(args.scenarios.split(","))]
    RESULTS.mkdir(parents=True, exist_ok=True)
    lab.up()
    frr = Pair("r1", "r2", "lan", "h1-wan", "h1-far", Baseline())
    normal = {n: keepalived_conf(n) for n in ("k1", "k2")}
    kpair = Pair("k1", "k2", "klan", "h3-wan", "h3-far", KeepalivedBaseline(), vip="198.18.4.1")
    if FAMILY == 6:
        frr = Pair("r1", "r2", "lan6", "h1-wan6", "h1-far6", Baseline6())
        kpair = Pair("k1", "k2", "klan6", "h3-wan6", "h3-far6",
                     KeepalivedBaseline(vips=("198.18.4.1", "198.18.5.1", "2001:2:0:4::1", "2001:2:0:5::1")),
                     vip="2001:2:0:4::1")
    plan = [(sc, mode, kpair if mode == "netha-keepalived" else frr)
            for sc in scenarios for mode in DAEMON_MODES
            if mode in modes and sc in APPLIES[mode]]
    script = [sc for sc in scenarios if sc in APPLIES["keepalived-script"]] if "keepalived-script" in modes else []
    runs: list[dict] = []
    costs: list[dict] = []
    failed: list[str] = []

    def attempt(what: str, fn):
        """Run FN (one run or one cost measurement); on a harness failure (the machine too loaded for a
        probe process or the daemon to start in time) put the lab back and try once more, else skip it."""
        for tries in (1, 2):
            try:
                with tempfile.TemporaryDirectory(prefix="netha-bench-") as tmp:
                    return fn(Path(tmp))
            except Exception as exc:  # noqa: BLE001 - one bad run must not lose the others
                print(f"{what}: attempt {tries} failed: {type(exc).__name__}: {exc}", flush=True)
                failed.append(f"{what}: {type(exc).__name__}: {str(exc)[:200]}")
                for base in (frr.base, kpair.base):
                    try:
                        base.restore()
                    except Exception as exc2:  # noqa: BLE001
                        print(f"restore after {what} failed: {exc2}", flush=True)
        return None

    def record(r: dict | None, i: int) -> None:
        if r is None:
            return
        r["run"] = i
        runs.append(r)
        print(show(r), flush=True)
        save(args, runs, costs)  # every run on disk at once: a crash or a stop keeps what was measured

    def cost(mode: str, node: str) -> None:
        c = attempt(f"cost {mode}", lambda tmp: measure_cost(mode, node, tmp))
        if c is not None:
            costs.append(c)
            print("cost", c, flush=True)

    try:
        # keepalived's script tracker first: the reference the aims compare against.
        if script:
            use_keepalived_configs("keepalived-script.conf", normal)
            try:
                spair = Pair("k1", "k2", "klan", "h3-wan", "h3-far", KeepalivedBaseline(), vip="198.18.4.1")
                if not args.no_cost:
                    cost("keepalived-script", "k1")
                for i in range(args.runs):
                    for sc in script:
                        record(attempt(f"run {i} {sc} keepalived-script",
                                       lambda tmp, sc=sc: one_run(sc, "keepalived-script", tmp, spair)), i)
            finally:
                use_keepalived_configs(None, normal)
        if not args.no_cost:
            for mode, node in (("netha", "r1"), ("netha-noreach", "r1"), ("netha-keepalived", "k1")):
                if any(m == mode for _, m, _ in plan):
                    cost(mode, node)
        for i in range(args.runs):
            for sc, mode, pair in plan:
                record(attempt(f"run {i} {sc} {mode}", lambda tmp, sc=sc, mode=mode, pair=pair: one_run(
                    sc, mode, tmp, pair, others=(frr.base, kpair.base) if mode.startswith("netha") else ())), i)
        keepalived = [sc for sc in scenarios if sc in APPLIES["keepalived"]] if "keepalived" in modes else []
        if keepalived:
            lab.down()
            lab.up(ROOT / "lab" / "keepalived.clab.yml")
            # keepalived's own track_interface: the benchmark's pair, with the FRR pair's addresses.
            track = Pair("k1", "k2", "lan", "h1-wan", "h1-far",
                         KeepalivedBaseline(ifaces=("eth1", "eth2"), vips=("198.18.1.1", "198.18.2.1")))
            for i in range(args.runs):
                for sc in keepalived:
                    record(attempt(f"run {i} {sc} keepalived", lambda tmp, sc=sc: one_run(sc, "keepalived", tmp, track)), i)
    finally:
        lab.down()
    doc = save(args, runs, costs)
    print(json.dumps(doc["summary"], indent=1))
    if failed:
        print("harness failures (retried once):", *failed, sep="\n  ", flush=True)


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("the benchmark needs root (network namespaces)")
    main()
