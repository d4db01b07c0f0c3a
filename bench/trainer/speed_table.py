#!/usr/bin/python3
"""Table of run_speed.sh results: per implementation and trunk rows, the median over runs of
the per-run median epoch time (the first epoch of each run is a warm-up and excluded when a
run has more than one), compounds per second and peak RSS; and C++ / Python ratios."""
import json
import statistics
import sys

runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
groups = {}
for r in runs:
    secs = r["epoch_seconds"][1:] if len(r["epoch_seconds"]) > 1 else r["epoch_seconds"]
    g = groups.setdefault((r["impl"], r["rows"]), {"s": [], "rss": [], "n": r["compounds"],
                                                   "trunk_rows": r["trunk_rows"]})
    g["s"].append(statistics.median(secs))
    g["rss"].append(r["peak_rss_mb"])
print(f"{len(runs)} runs, {runs[0]['compounds']} compounds, hidden {runs[0]['hidden']}, "
      f"batch {runs[0]['batch_size']}, threads {runs[0]['threads']}")
print("| implementation | trunk rows | s / epoch (median) | compounds / s | peak RSS MB | runs |")
print("|---|---|---|---|---|---|")
med = {}
for (impl, rows), g in sorted(groups.items()):
    s = statistics.median(g["s"])
    med[(impl, rows)] = s
    print(f"| {impl} | {rows} ({g['trunk_rows']}) | {s:.3f} | {g['n'] / s:.0f} | "
          f"{max(g['rss']):.0f} | {len(g['s'])} |")
print()
for rows in ("compact", "full"):
    c = med.get(("libtorch-cpp", rows))
    for impl in ("pytorch-python", "pytorch-python+jemalloc"):
        p = med.get((impl, rows))
        if c and p:
            print(f"{rows} rows: {impl} / libtorch-cpp epoch time = {p / c:.2f}x")
c, p = med.get(("libtorch-cpp", "compact")), med.get(("pytorch-python", "full"))
if c and p:
    print(f"default PyTorch (all D rows) / C++ trainer (compact rows) = {p / c:.2f}x")
