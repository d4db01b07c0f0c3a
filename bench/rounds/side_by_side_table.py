#!/usr/bin/env python3
"""Markdown table of a bench/rounds/side_by_side.sh output: per build and local epochs, the
round ms of every run, and medians over the runs of each column of overhead.sh.

    python3 bench/rounds/side_by_side_table.py bench/rounds/results/FILE.txt
"""
import re
import statistics
import sys
from collections import defaultdict

COLS = ["rounds", "rows", "round_ms", "train_ms", "eval_ms", "mask_ms", "commit_ms", "send_ms",
        "fetch_ms", "aggr_ms", "overhead"]


def main(path):
    runs = defaultdict(list)  # (build, epochs) -> [row dict]
    sums = defaultdict(list)
    build = None
    last = None
    for line in open(path):
        m = re.match(r"### run \d+, build (\S+)", line)
        if m:
            build = m.group(1)
            continue
        f = line.split()
        if build and len(f) == 12 and f[0].isdigit():
            row = dict(zip(COLS, f[1:]))
            row["overhead"] = float(row["overhead"].rstrip("%"))
            runs[(build, int(f[0]))].append(row)
            last = (build, int(f[0]))
            continue
        m = re.search(r"as they arrived took ([0-9.]+) ms", line)
        if m and last:
            sums[last].append(float(m.group(1)))
    med = lambda xs: statistics.median(xs)
    print("| build | local epochs | rows | round ms (runs) | median | train ms | eval | mask+hash"
          " | commits | send | fetch+apply | aggregate | overhead ms | overhead share |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (b, le) in sorted(runs, key=lambda k: (k[1], k[0] != "before")):
        rs = runs[(b, le)]
        g = lambda c: med([float(r[c]) for r in rs])
        rounds = ", ".join(r["round_ms"] for r in rs)
        # overhead.sh's share is median(round - train - eval over rounds) / median(round):
        # times the run's median round it gives back the run's median overhead in ms.
        over_ms = med([r["overhead"] / 100 * float(r["round_ms"]) for r in rs])
        print(f"| {b} | {le} | {rs[0]['rows']} | {rounds} | **{g('round_ms'):.0f}** | {g('train_ms'):.0f}"
              f" | {g('eval_ms'):.0f} | {g('mask_ms'):.0f} | {g('commit_ms'):.0f} | {g('send_ms'):.0f}"
              f" | {g('fetch_ms'):.0f} | {g('aggr_ms'):.0f} | {over_ms:.0f} | {g('overhead'):.1f}% |")
    for k, v in sorted(sums.items()):
        print(f"\n{k[0]}, {k[1]} local epoch(s): updates summed on arrival, median per run "
              + ", ".join(f"{x:.1f}" for x in v) + " ms", end="")
    print()


if __name__ == "__main__":
    main(sys.argv[1])
