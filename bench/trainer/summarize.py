#!/usr/bin/python3
"""Summarise `fedledger train simulate --json` outputs of several seeds.

Per partner and seed: test macro PR-AUC and ROC-AUC alone / federated (/ centralised) and
the selected epoch; then per partner the paired gain federated - alone over seeds (mean, sd,
seeds won) and MELLODDY's relative improvement (fed - alone) / (1 - alone).
"""
import json
import statistics
import sys


def fmt(x):
    return "  n/a " if x is None else f"{x:.4f}"


def main(paths):
    runs = [json.load(open(p)) for p in paths]
    modes = [m for m in ("alone", "federated", "central") if m in runs[0]["partners"][0]]
    print("| partner | seed | test cpds | " + " | ".join(f"PR {m}" for m in modes) + " | "
          + " | ".join(f"ROC {m}" for m in modes) + " | epochs (" + "/".join(modes) + ") |")
    print("|---" * (3 + 2 * len(modes) + 1) + "|")
    gains = {}
    for r in runs:
        for p in r["partners"]:
            pr = [p[m]["test_macro_pr_auc"] for m in modes]
            roc = [p[m]["test_macro_roc_auc"] for m in modes]
            ep = "/".join(str(p[m]["epoch"]) for m in modes)
            print(f"| {p['name']} | {r['seed']} | {p['test']} | " + " | ".join(map(fmt, pr)) + " | "
                  + " | ".join(map(fmt, roc)) + f" | {ep} |")
            g = gains.setdefault(p["name"], {"pr": [], "roc": [], "rel": []})
            a, f = p["alone"]["test_macro_pr_auc"], p["federated"]["test_macro_pr_auc"]
            g["pr"].append(f - a)
            g["rel"].append((f - a) / (1 - a))
            g["roc"].append(p["federated"]["test_macro_roc_auc"] - p["alone"]["test_macro_roc_auc"])
    print()
    print("| partner | seeds | PR gain mean | PR gain sd | seeds won (PR) | rel. improvement mean "
          "| ROC gain mean | ROC gain sd | seeds won (ROC) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, g in gains.items():
        n = len(g["pr"])
        sd = statistics.stdev(g["pr"]) if n > 1 else 0.0
        sdr = statistics.stdev(g["roc"]) if n > 1 else 0.0
        print(f"| {name} | {n} | {statistics.mean(g['pr']):+.4f} | {sd:.4f} | "
              f"{sum(x > 0 for x in g['pr'])}/{n} | {statistics.mean(g['rel']):+.4f} | "
              f"{statistics.mean(g['roc']):+.4f} | {sdr:.4f} | {sum(x > 0 for x in g['roc'])}/{n} |")


if __name__ == "__main__":
    main(sys.argv[1:])
