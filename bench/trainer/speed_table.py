#!/usr/bin/python3
"""Table of run_speed.sh results. Per implementation and trunk rows: the median over runs of
each run's median epoch wall time and CPU time (process CPU; the first epoch of a run is a
warm-up and left out when a run has more than one), compounds per wall second, peak RSS;
then Python / C++ ratios of both."""
import json
import statistics
import sys

runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
groups = {}
for r in runs:
    skip = 1 if len(r["epoch_seconds"]) > 1 else 0
    g = groups.setdefault((r["impl"], r["rows"]), {"s": [], "cpu": [], "rss": [],
                                                   "n": r["compounds"], "trunk_rows": r["trunk_rows"]})
    g["s"].append(statistics.median(r["epoch_seconds"][skip:]))
    g["cpu"].append(statistics.median(r["epoch_cpu_seconds"][skip:]))
    g["rss"].append(r["peak_rss_mb"])
print(f"{len(runs)} runs, {runs[0]['compounds']} compounds, hidden {runs[0]['hidden']}, "
      f"batch {runs[0]['batch_size']}, threads {runs[0]['threads']}")
print("| implementation | trunk rows | wall s / epoch | CPU s / epoch | compounds / wall s | "
      "compounds / CPU s | peak RSS MB | runs |")
print("|---|---|---|---|---|---|---|---|")
med = {}
for (impl, rows), g in sorted(groups.items()):
    s, c = statistics.median(g["s"]), statistics.median(g["cpu"])
    med[(impl, rows)] = (s, c)
    print(f"| {impl} | {rows} ({g['trunk_rows']}) | {s:.3f} | {c:.3f} | {g['n'] / s:.0f} | "
          f"{g['n'] / c:.0f} | {max(g['rss']):.0f} | {len(g['s'])} |")
print()
pairs = [(("pytorch-python", r), ("libtorch-cpp", r)) for r in ("compact", "full")]
pairs += [(("pytorch-python+jemalloc", r), ("libtorch-cpp", r)) for r in ("compact", "full")]
pairs += [(("pytorch-python", "full"), ("libtorch-cpp", "compact"))]
for p, c in pairs:
    if p in med and c in med:
        print(f"{p[0]} ({p[1]} rows) / {c[0]} ({c[1]} rows): wall {med[p][0] / med[c][0]:.2f}x, "
              f"CPU {med[p][1] / med[c][1]:.2f}x")
