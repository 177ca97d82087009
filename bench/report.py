"""Write bench/results/README.md and the PNG plots from failover.json and poll.json.

    .venv/bin/python bench/report.py
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _ms(v) -> str:
    return "-" if v is None else f"{v * 1000:.0f}"


def _trip(st: dict | None) -> str:
    """median / p95 / max of a stats dict, in ms."""
    return "-" if not st else f"{_ms(st['median'])} / {_ms(st['p95'])} / {_ms(st['max'])}"


def _alerts(v: dict) -> str:
    if v.get("actions") is None:
        return "-"
    out = f"{v['actions']} / {'-' if v.get('alerts') is None else v['alerts']}"
    tda = v.get("target_down_alerts")
    if tda:
        out += " (target-down: " + ", ".join(f"{g} {n}" for g, n in sorted(tda.items())) + ")"
    return out


def _cost_for(doc: dict, mode: str) -> dict | None:
    for c in doc.get("cost", []):
        if c["mode"] == mode:
            return c
    return None


def failover_section(doc: dict) -> list[str]:
    s = doc["summary"]
    lines = [
        "## Failover",
        "",
        f"`{doc['command']}` on {doc['date']}; {doc['machine']['cores']} cores, {doc['machine']['memory_gb']} GB; "
        f"{doc['versions'].get('frr', '?')}; {doc['versions'].get('keepalived', '?')}; Python {doc['versions'].get('python')}.",
        f"VRRP timers: {doc['vrrp_timers']['advertisement_interval_ms']} ms adverts, r1 priority 200, r2 100, preempt on "
        f"(r2's Master_Down_Interval 360 ms). netha: {doc['netha']['poll_interval_s'] * 1000:.0f} ms polling, failure threshold "
        f"{doc['netha']['failure_threshold']}"
        + (f"; reach probers every {doc['netha']['reach']['interval_s'] * 1000:.0f} ms per path, window "
           f"{doc['netha']['reach']['window']}, down above {doc['netha']['reach']['max_loss']:.0%} loss" if doc["netha"].get("reach") else "")
        + f". Probes every {doc['netha']['probe_interval_ms']} ms, {doc['netha']['window_s']:.0f} s observed after each injection.",
        "",
        "Reproduce (as root; every scenario and mode, then this report): `bench/failover.py --runs 10 && bench/report.py` "
        "with the project's venv, on the default lab, or on a lab of its own with `NETHA_LAB_NAME=<name>` (these figures: "
        "lab `bn`). `--scenarios`, `--modes` and `--merge` re-run a part.",
        "",
        "Black holes are median / p95 / max in ms; the run's figure is the worse direction. Detection is the daemon's "
        "first action on the group after the injection (for `target`: its target-down alert), from its JSON log; for "
        "keepalived modes, *VIP moved* is when the backup holds the LAN's virtual address. CPU is the daemon's, % of one "
        "core from its start to the end of the window; RSS at the end. Rows marked *(earlier run)* were not re-run "
        "by the latest invocations (their figures come from an earlier invocation of the command line above; no per-direction or load "
        "figures were kept then).",
        "",
        "| scenario / mode | runs | black hole (ms) | LAN→up (ms) | up→LAN (ms) | recovered | detection median (ms) | VIP moved median (ms) | actions / alerts | daemon CPU median (%) | RSS (MB) | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    new_keys = {f"{r['scenario']}/{r['mode']}" for r in doc["runs"] if "load_before" in r}
    for key, v in s.items():
        det, vip = v.get("detection"), v.get("vip_moved")
        cpu, rss, load = v.get("cpu_percent"), v.get("rss_mb"), v.get("load")
        lines.append(
            f"| {key}{'' if key in new_keys else ' (earlier run)'} | {v['runs']} | {_trip(v['blackhole'])} | {_trip(v.get('blackhole_lan_to_up'))} | "
            f"{_trip(v.get('blackhole_up_to_lan'))} | {v['recovered']}/{v['runs']} | {_ms(det and det['median'])} | "
            f"{_ms(vip and vip['median'])} | {_alerts(v)} | {'-' if not cpu else cpu['median']} | "
            f"{'-' if not rss else rss['median']} | {'-' if not load else load['median']} |"
        )
    lines += ["", "Every figure probes both directions at once (h1 ↔ wan, h1 ↔ far, h3 ↔ wan or h3 ↔ far); a black hole "
              "that never ends within the window counts as the window (VRRP alone never recovers from a gray failure, "
              "a port black hole or a far-end failure).", ""]
    costs = doc.get("cost") or []
    if costs:
        lines += ["### Probe cost", "",
                  "Echo requests leaving the primary toward each target, counted for "
                  f"{costs[0].get('seconds', 5):g} s with the mode running (nft counters in its namespace; Icmp "
                  "OutEchos for all), against netha's configured rate (`netha probes --json`: each path's rate, "
                  "summed per member); the daemon's CPU and RSS over the same seconds.", "",
                  "| mode | member | configured (probes/s) | measured per target (probes/s) | measured OutEchos (/s) | daemon CPU (%) | daemon RSS (MB) |",
                  "|---|---|---|---|---|---|---|"]
        for c in costs:
            conf = (c.get("configured_per_second") or {}).get(c["node"])
            per = ", ".join(f"{k} {v:g}" for k, v in c.get("echo_per_second", {}).items()) or "0"
            lines.append(f"| {c['mode']} | {c['node']} | {'-' if conf is None else f'{conf:g}'} | {per} | "
                         f"{c.get('out_echos_per_second', '-')} | {c.get('daemon_cpu_percent', '-')} | "
                         f"{c.get('daemon_rss_mb', '-')} |")
        lines.append("")
    lines += ["![black holes](failover-blackholes.png)", "", "![timelines](failover-timelines.png)", ""]
    return lines


def failover_plots(doc: dict) -> None:
    runs = doc["runs"]
    firsts = {}
    for r in runs:
        firsts.setdefault((r["scenario"], r["mode"]), r)
    fig, axes = plt.subplots(len(firsts), 1, figsize=(10, 1.6 * len(firsts)), sharex=True)
    axes = axes if len(firsts) > 1 else [axes]
    for ax, ((sc, mode), r) in zip(axes, sorted(firsts.items())):
        tl = r["timeline"]
        ok_t = [t for t, ok in zip(tl["t"], tl["ok"]) if ok]
        lost_t = [t for t, ok in zip(tl["t"], tl["ok"]) if not ok]
        ax.scatter(ok_t, [1] * len(ok_t), s=2, c="tab:green", label="delivered")
        ax.scatter(lost_t, [0] * len(lost_t), s=2, c="tab:red", label="lost")
        for name, color in (("inject", "black"), ("decision", "tab:orange"), ("verified", "tab:blue"), ("recovered", "tab:green")):
            if name in r["marks"]:
                ax.axvline(r["marks"][name], color=color, lw=1, ls="--", label=name)
        ax.set_yticks([0, 1], ["lost", "ok"])
        ax.set_ylim(-0.5, 1.5)
        ax.set_title(f"{sc} / {mode}: {r['lost']} lost, black hole {r['blackhole'] * 1000:.0f} ms", fontsize=9, loc="left")
    axes[-1].set_xlabel("seconds after the failure injection")
    legend: dict = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, h)
    fig.legend(list(legend.values()), list(legend), loc="upper right", fontsize=7, ncol=len(legend))
    fig.tight_layout()
    fig.savefig(RESULTS / "failover-timelines.png", dpi=110)
    plt.close(fig)

    order_sc = ["portdrop", "farend", "target", "hang", "gray", "hard", "planned", "blind"]
    order_mode = ["netha", "netha-keepalived", "netha-noreach", "vrrp-alone", "keepalived-script", "keepalived"]
    colors = dict(zip(order_mode, ["tab:blue", "tab:cyan", "tab:gray", "tab:red", "tab:orange", "tab:olive"]))
    present = {(r["scenario"], r["mode"]) for r in runs}
    keys = sorted(present, key=lambda k: (order_sc.index(k[0]) if k[0] in order_sc else 99,
                                          order_mode.index(k[1]) if k[1] in order_mode else 99))
    data = [[r["blackhole"] * 1000 for r in runs if (r["scenario"], r["mode"]) == k] for k in keys]
    fig, ax = plt.subplots(figsize=(max(12, 0.62 * len(keys)), 5.5))
    box = ax.boxplot(data, showfliers=False, patch_artist=True, widths=0.6)
    for patch, (_, mode) in zip(box["boxes"], keys):
        patch.set_facecolor(colors.get(mode, "white"))
        patch.set_alpha(0.35)
    for x, (vals, (_, mode)) in enumerate(zip(data, keys), start=1):
        ax.scatter([x + 0.12 * ((i % 5) - 2) / 2 for i in range(len(vals))], vals, s=8, color=colors.get(mode, "k"), zorder=3)
    ax.set_xticks(range(1, len(keys) + 1), [f"{sc}\n{m}" for sc, m in keys], fontsize=7, rotation=45, ha="right")
    for x in range(1, len(keys)):
        if keys[x][0] != keys[x - 1][0]:
            ax.axvline(x + 0.5, color="lightgray", lw=0.8)
    ax.set_ylabel("black hole, worse direction (ms)")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylim(0, max(max(d) for d in data if d) * 1.5 if any(data) else 1)
    ax.axhline(300, color="tab:orange", ls=":", lw=1, label="aim: median 300 ms (portdrop, farend, gray)")
    ax.axhline(500, color="tab:red", ls=":", lw=1, label="aim: p95 500 ms")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("black hole per scenario and mode (10 ms probes both ways; a run that never recovered counts as the 4 s window)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(RESULTS / "failover-blackholes.png", dpi=110)
    plt.close(fig)


def poll_section(doc: dict) -> list[str]:
    lines = [
        "## Polling scale",
        "",
        f"`{doc['command']}` on {doc['date']}; {doc['machine']['cores']} cores, {doc['machine']['memory_gb']} GB.",
        "",
        "| routers | netha SSH cycle (ms) | netha SNMP cycle (ms) | Nornir cycle (ms) | netha CPU per SSH cycle (ms) | netha RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for p in doc["points"]:
        lines.append(f"| {p['routers']} | {p['netha_ssh_ms']:.0f} | {p['netha_snmp_ms']:.0f} | "
                     f"{p['nornir_ms']:.0f} | {p['netha_cpu_ms']:.0f} | {p['netha_rss_mb']:.0f} |")
    lines += ["", "![cycle time](poll-cycle.png)", ""]
    return lines


def poll_plot(doc: dict) -> None:
    pts = doc["points"]
    x = [p["routers"] for p in pts]
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, label in (("netha_ssh_ms", "netha SSH (persistent sessions)"), ("netha_snmp_ms", "netha SNMP"),
                       ("nornir_ms", "Nornir + nornir_netmiko (new run per cycle)")):
        ax.plot(x, [p[key] for p in pts], marker="o", label=label)
    ax.set_xlabel("routers")
    ax.set_ylabel("one full observation cycle (ms)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "poll-cycle.png", dpi=110)
    plt.close(fig)


def detect_section(doc: dict) -> list[str]:
    lines = ["## Detection latency and idle cost", "",
             f"`{doc['command']}` on {doc['date']}: the daemon in dry-run mode; seconds from the fault to the group "
             "verdict and to the decision (median of the runs).", "",
             "| case | verdict (ms) | decision (ms) | listener: master silent (ms) |", "|---|---|---|---|"]
    for key, v in doc["results"].items():
        m = v["median"]
        lines.append(f"| {key} | {_ms(m.get('verdict'))} | {_ms(m.get('decision'))} | {_ms(m.get('listener_silent'))} |")
    idle = doc.get("idle") or {}
    if idle:
        lines += ["", f"Idle daemon (lab inventory, 100 ms polling): {idle.get('cpu_percent')} % of one core, "
                      f"RSS {idle.get('rss_mb')} MB."]
    return lines + [""]


def _summary(doc: dict | None, key: str) -> dict | None:
    return (doc or {}).get("summary", {}).get(key)


def aims_section(failover: dict | None, poll: dict | None) -> list[str]:
    """Each aim of the benchmark issue against what was measured."""
    rows = []
    gray = _summary(failover, "gray/netha")
    if gray and gray.get("blackhole"):
        med, p95 = gray["blackhole"]["median"] * 1000, gray["blackhole"]["p95"] * 1000
        rows.append(("gray black hole median <= 300 ms", f"{med:.0f} ms", med <= 300))
        rows.append(("gray black hole p95 <= 500 ms", f"{p95:.0f} ms", p95 <= 500))
    planned = [r for r in (failover or {}).get("runs", []) if r["scenario"] == "planned"]
    if planned:
        worst = max(max(r["lost"], r.get("failback_lost") or 0) for r in planned)
        rows.append(("planned failover and failback <= 1 lost probe", f"worst run {worst}", worst <= 1))
    hard, alone = _summary(failover, "hard/netha"), _summary(failover, "hard/vrrp-alone")
    if hard and alone and hard.get("blackhole") and alone.get("blackhole"):
        diff = (hard["blackhole"]["median"] - alone["blackhole"]["median"]) * 1000
        rows.append(("hard failure within 50 ms of VRRP alone", f"{diff:+.0f} ms (medians)", diff <= 50))
    blind = _summary(failover, "blind/netha")
    if blind and blind.get("actions") is not None:
        rows.append(("blind: 0 actions", f"{blind['actions']} actions", blind["actions"] == 0))
    hard_runs = [r for r in (failover or {}).get("runs", []) if r["scenario"] == "hard" and r["mode"] == "netha"]
    if hard_runs:
        # A false action in a hard failure: anything not moving a group to the surviving router r2.
        false = [d for r in hard_runs for d in r.get("decisions", [])
                 if not d.split(" ", 1)[1].startswith("decision: alert") and not d.endswith("r2") and " to r2" not in d]
        rows.append(("hard: no false action (every action moves a group to r2)",
                     f"{len(false)} false of {sum(r.get('actions', 0) for r in hard_runs)} actions", not false))
    runs = (failover or {}).get("runs", [])
    for sc, label in (("portdrop", "(a) port black hole"), ("farend", "(b) far-end failure")):
        script = _summary(failover, f"{sc}/keepalived-script")
        for mode in ("netha", "netha-keepalived"):
            v = _summary(failover, f"{sc}/{mode}")
            if not v or not v.get("blackhole"):
                continue
            med, p95 = v["blackhole"]["median"] * 1000, v["blackhole"]["p95"] * 1000
            rows.append((f"{label}, {mode}: black hole median <= 300 ms", f"{med:.0f} ms", med <= 300))
            rows.append((f"{label}, {mode}: black hole p95 <= 500 ms", f"{p95:.0f} ms", p95 <= 500))
            if script and script.get("blackhole"):
                ratio = script["blackhole"]["median"] / max(v["blackhole"]["median"], 1e-3)
                rows.append((f"{label}, {mode}: >= 5x faster than keepalived's script tracker (medians)",
                             f"{ratio:.1f}x ({script['blackhole']['median'] * 1000:.0f} vs {med:.0f} ms)", ratio >= 5))
    target = [r for r in runs if r["scenario"] == "target" and r["mode"] == "netha"]
    if target:
        acts = sum(r.get("actions", 0) for r in target)
        one = sum(1 for r in target if (r.get("target_down_alerts") or {}) == {"lan": 1, "klan": 1})
        rows.append(("(c) target down: 0 actions", f"{acts} actions in {len(target)} runs", acts == 0))
        rows.append(("(c) target down: exactly one target-down alert for lan and one for klan",
                     f"{one} of {len(target)} runs", one == len(target)))
    pts = sorted((poll or {}).get("points", []), key=lambda p: p["routers"])
    if pts:
        p = pts[-1]
        rows.append((f"SNMP cycle <= 200 ms at {p['routers']} routers", f"{p['netha_snmp_ms']:.0f} ms", p["netha_snmp_ms"] <= 200))
        rows.append(("SNMP cycle >= 10x faster than Nornir", f"{p['nornir_ms'] / p['netha_snmp_ms']:.0f}x",
                     p["nornir_ms"] >= 10 * p["netha_snmp_ms"]))
        rows.append(("SSH cycle >= 5x faster than Nornir", f"{p['nornir_ms'] / p['netha_ssh_ms']:.0f}x",
                     p["nornir_ms"] >= 5 * p["netha_ssh_ms"]))
    if not rows:
        return []
    lines = ["## Aims", "", "| aim | measured | met |", "|---|---|---|"]
    lines += [f"| {a} | {m} | {'yes' if ok else '**no**'} |" for a, m, ok in rows]
    return lines + [""]


def main() -> None:
    lines = ["# netha benchmarks", "", "Produced by `bench/failover.py`, `bench/detect.py` and `bench/poll.py`, written by "
             "`bench/report.py`.", ""]
    docs = {name: json.loads((RESULTS / f"{name}.json").read_text()) if (RESULTS / f"{name}.json").exists() else None
            for name in ("failover", "detect", "poll")}
    lines += aims_section(docs["failover"], docs["poll"])
    notes = RESULTS / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    if docs["failover"]:
        failover_plots(docs["failover"])
        lines += failover_section(docs["failover"])
    if docs["detect"]:
        lines += detect_section(docs["detect"])
    if docs["poll"]:
        poll_plot(docs["poll"])
        lines += poll_section(docs["poll"])
    (RESULTS / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
