"""The device-events report (issue 14): bench/results/EVENTS.md and events-gray.png.

    .venv/bin/python bench/events_report.py

From bench/results/events.json (bench/failover.py --out bench/results/events.json: the gray and blind
scenarios with device events on and off at the lab's 1 s poll, beside keepalived's track_interface),
bench/results/idle.json (bench/idle.py) and bench/results/detect-events.json (bench/detect.py --out ...),
whichever exist. Every figure is shown with the load average it was measured at.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ORDER = ["netha", "netha-noevents", "netha-noreach", "netha-noreach-noevents", "keepalived"]
LABEL = {
    "netha": "netha, events on (reach probers on)",
    "netha-noevents": "netha, events off (reach probers on)",
    "netha-noreach": "netha, events on, no reach probers",
    "netha-noreach-noevents": "netha, events off, no reach probers (1 s polls + ARP presence)",
    "keepalived": "keepalived track_interface (no netha)",
}


def _load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _ms(values: list[float]) -> tuple[str, str]:
    if not values:
        return "-", "-"
    vals = sorted(v * 1000 for v in values)
    p95 = vals[min(len(vals) - 1, round(0.95 * (len(vals) - 1)))]
    return f"{statistics.median(vals):.0f}", f"{p95:.0f}"


def main() -> None:
    lines = ["# Device events (issue 14)", ""]
    ev = _load("events.json")
    if ev:
        lines += [f"`{ev['command']}` on {ev['date']} (lab poll interval "
                  f"{ev.get('netha', {}).get('poll_interval_s', '?')} s). Black hole: first lost to first delivered "
                  "10 ms probe, worse direction; detection: fault to the daemon's decision. A shared 2-core machine: "
                  "the load average is the 1-minute figure at each run's start.", "",
                  "| scenario / mode | runs | black hole median (ms) | p95 (ms) | detection median (ms) | actions | load (median) |",
                  "|---|---|---|---|---|---|---|"]
        runs = ev["runs"]
        for sc in ("gray", "blind"):
            for mode in ORDER:
                rs = [r for r in runs if r["scenario"] == sc and r["mode"] == mode]
                if not rs:
                    continue
                med, p95 = _ms([r["blackhole"] for r in rs])
                det, _ = _ms([r["detection"] for r in rs if r.get("detection") is not None])
                acts = sum(r.get("actions", 0) or 0 for r in rs) if any("actions" in r for r in rs) else "-"
                load = statistics.median([r.get("load_before", 0.0) for r in rs])
                lines.append(f"| {sc} / {LABEL.get(mode, mode)} | {len(rs)} | {med} | {p95} | {det} | {acts} | {load:.1f} |")
        lines.append("")
        _plot(runs)
        lines += ["![gray scenario](events-gray.png)", ""]
    idle = _load("idle.json")
    if idle:
        lines += [f"Idle daemon (`{idle['command']}`, {idle['cores']} cores): CPU in % of one core over the window, "
                  "RSS at its end, load average (1, 5, 15 min) before the window.", "",
                  "| inventory / variant | devices | CPU (%) | RSS (MB) | threads | load before |", "|---|---|---|---|---|---|"]
        for r in idle["results"]:
            lines.append(f"| {r['key']} | {r['devices']} | {r['cpu_percent']} | {r['rss_mb']} | {r['threads']} | "
                         f"{', '.join(str(x) for x in r['load_before'])} |")
        lines.append("")
    det = _load("detect-events.json")
    if det:
        lines += [f"Detection (`{det['command']}`, reach tracks {'on' if det.get('reach_tracks') else 'off'}): "
                  "seconds from the fault to the verdict and to the decision, medians.", "",
                  "| scenario @ config | verdict (ms) | decision (ms) | load (median) |", "|---|---|---|---|"]
        for key, v in det["results"].items():
            m = v["median"]
            fmt = (lambda x: "-" if x is None or x != x else f"{x * 1000:.0f}")
            lines.append(f"| {key} | {fmt(m.get('verdict'))} | {fmt(m.get('decision'))} | {m.get('load', float('nan')):.1f} |")
        lines.append("")
    notes = RESULTS / "EVENTS-notes.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    (RESULTS / "EVENTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _plot(runs: list[dict]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    modes = [m for m in ORDER if any(r["scenario"] == "gray" and r["mode"] == m for r in runs)]
    if not modes:
        return
    data = [[r["blackhole"] * 1000 for r in runs if r["scenario"] == "gray" and r["mode"] == m] for m in modes]
    fig, ax = plt.subplots(figsize=(9, 3.5))
    try:
        ax.boxplot(data, orientation="horizontal")
    except TypeError:  # matplotlib before 3.10
        ax.boxplot(data, vert=False)
    ax.set_yticks(range(1, len(modes) + 1), [LABEL[m] for m in modes], fontsize=8)
    for y, vals in enumerate(data, start=1):
        ax.scatter(vals, [y] * len(vals), s=10, color="k", zorder=3)
    ax.axvline(150, color="tab:green", linestyle="--", linewidth=1)
    ax.set_xlabel("black hole (ms), gray failure: r1's uplink loses carrier; dashed: the 150 ms aim")
    fig.tight_layout()
    fig.savefig(RESULTS / "events-gray.png", dpi=110)


if __name__ == "__main__":
    main()
