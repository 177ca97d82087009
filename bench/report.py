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


def failover_section(doc: dict) -> list[str]:
    s = doc["summary"]
    lines = [
        "## Failover",
        "",
        f"`{doc['command']}` on {doc['date']}; {doc['machine']['cores']} cores, {doc['machine']['memory_gb']} GB; "
        f"{doc['versions'].get('frr', '?')}; Python {doc['versions'].get('python')}.",
        f"VRRP timers: {doc['vrrp_timers']['advertisement_interval_ms']} ms adverts, r1 priority 200, r2 100, preempt on "
        f"(r2's Master_Down_Interval 360 ms). netha: {doc['netha']['poll_interval_s'] * 1000:.0f} ms polling, failure threshold "
        f"{doc['netha']['failure_threshold']}. Probes every {doc['netha']['probe_interval_ms']} ms, "
        f"{doc['netha']['window_s']:.0f} s observed after each injection.",
        "",
        "| scenario | runs | black hole median (ms) | p95 (ms) | LAN→up / up→LAN median (ms) | second outages | lost probes median | recovered | detection median (ms) | takeover median (ms) | automatic actions |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, v in s.items():
        bh, lost, det, tk = v["blackhole"], v["lost"], v["detection"], v["takeover"]
        lines.append(
            f"| {key} | {v['runs']} | {_ms(bh and bh['median'])} | {_ms(bh and bh['p95'])} | "
            f"{_ms((v.get('blackhole_lan_to_up') or {}).get('median'))} / {_ms((v.get('blackhole_up_to_lan') or {}).get('median'))} | "
            f"{v.get('second_outages', '-')} | "
            f"{'-' if lost is None else lost['median']:g} | {v['recovered']}/{v['runs']} | {_ms(det and det['median'])} | "
            f"{_ms(tk and tk['median'])} | {'-' if v['actions'] is None else v['actions']} |"
        )
    lines += ["", "Every figure probes both directions at once (h1 → wan and wan → h1, or h3 ↔ wan); a run's black hole is "
              "the worse of the two, and a second outage is a second run of lost probes in either direction.",
              "", "A black hole that never ends within the window counts as the window: VRRP alone never recovers "
              "from a gray failure.", "", "![timelines](failover-timelines.png)", "", "![black holes](failover-blackholes.png)", ""]
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

    keys = sorted({(r["scenario"], r["mode"]) for r in runs})
    data = [[r["blackhole"] * 1000 for r in runs if (r["scenario"], r["mode"]) == k] for k in keys]
    fig, ax = plt.subplots(figsize=(12, 4.5))
    ax.boxplot(data, showfliers=True)
    ax.set_xticks(range(1, len(keys) + 1), [f"{s}\n{m}" for s, m in keys], fontsize=8)
    ax.set_ylabel("black hole (ms)")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylim(0, max(max(d) for d in data if d) * 1.5 if any(data) else 1)
    ax.axhline(300, color="tab:orange", ls=":", lw=1, label="aim: gray median 300 ms")
    ax.legend(fontsize=8)
    ax.set_title("black-hole time per scenario (10 ms probes)")
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
