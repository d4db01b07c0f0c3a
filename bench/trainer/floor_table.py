#!/usr/bin/python3
"""Table of run_floor.sh results: per run the trunk step (fused or scatter-then-Adam), the
median epoch CPU seconds after the first epoch, one isolated dense Adam pass over the held
trunk rows, the floor per epoch (pass x steps) and epoch / floor; then per step kind the
median over runs and the fused / unfused ratio of those medians."""
import json
import statistics
import sys

runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{len(runs)} runs, {runs[0]['compounds']} compounds, hidden {runs[0]['hidden']}, "
      f"{runs[0]['trunk_rows']} trunk rows, {runs[0]['steps_per_epoch']} steps per epoch")
print("| run | trunk step | epoch CPU s (median of epochs 2..) | one Adam pass, ms | GB/s | "
      "floor per epoch, s | epoch / floor | final loss |")
print("|---|---|---|---|---|---|---|---|")
by = {}
for i, r in enumerate(runs, 1):
    kind = r.get("trunk_adam", "scatter-then-adam")
    by.setdefault(kind, []).append(r)
    print(f"| {i} | {kind} | {r['median_epoch_cpu_s_after_first']:.3f} | {1e3 * r['adam_pass_cpu_s']:.2f} | "
          f"{r['adam_pass_gb_per_s']:.1f} | {r['dense_floor_epoch_cpu_s']:.3f} | "
          f"{r['epoch_cpu_over_floor']:.2f} | {r['loss'][-1]:.6f} |")
print()
med = {}
for kind, rs in by.items():
    e = statistics.median(r["median_epoch_cpu_s_after_first"] for r in rs)
    q = statistics.median(r["epoch_cpu_over_floor"] for r in rs)
    med[kind] = e
    print(f"{kind}: {len(rs)} runs, epoch CPU median {e:.3f} s "
          f"(range {min(r['median_epoch_cpu_s_after_first'] for r in rs):.3f}-"
          f"{max(r['median_epoch_cpu_s_after_first'] for r in rs):.3f}), epoch / floor median {q:.2f} "
          f"(range {min(r['epoch_cpu_over_floor'] for r in rs):.2f}-{max(r['epoch_cpu_over_floor'] for r in rs):.2f})")
if "fused" in med and "scatter-then-adam" in med:
    print(f"fused / scatter-then-adam epoch CPU: {med['fused'] / med['scatter-then-adam']:.3f}")
