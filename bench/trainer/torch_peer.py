#!/usr/bin/python3
"""Python PyTorch peer of `fedledger train bench`: the same model, data, batch size and
optimiser, written the way a PyTorch user would (nn.EmbeddingBag + nn.Linear, torch.optim.Adam).

Reads the featurised data written by `fedledger train bench --dump FILE`, trains for a few
epochs on all compounds and prints one JSON line with per-epoch times, compounds per second
and peak RSS. Run with Debian's interpreter: /usr/bin/python3 (python3-torch).

  --rows full     the trunk's first layer has all D rows (dense Adam over D x H)
  --rows compact  only the rows of bits occurring in the data (exact, as the C++ trainer)
"""
import argparse
import json
import random
import resource
import time

import torch
import torch.nn as nn


def load(path):
    with open(path) as f:
        header = json.loads(f.readline())
        bits, labels = [], []
        for line in f:
            b, l = line.rstrip("\n").split(";")
            bits.append([int(x) for x in b.split()] if b else [])
            labels.append([int(x) for x in l.split(",")])
    return header, bits, labels


class Model(nn.Module):
    def __init__(self, rows, hidden, tasks, dropout, fan_in):
        super().__init__()
        self.trunk = nn.EmbeddingBag(rows, hidden, mode="sum")
        self.bias = nn.Parameter(torch.empty(hidden))
        bound = 1.0 / fan_in ** 0.5  # nn.Linear's default init with fan_in = D
        nn.init.uniform_(self.trunk.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, tasks)

    def forward(self, idx, offsets):
        h = self.drop(torch.relu(self.trunk(idx, offsets) + self.bias))
        return self.head(h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", choices=["full", "compact"], default="compact")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    header, bits, labels = load(a.dump)
    D, T = header["num_bits"], header["num_tasks"]
    if a.rows == "compact":
        occurring = sorted({b for bs in bits for b in bs})
        remap = {b: i for i, b in enumerate(occurring)}
        bits = [[remap[b] for b in bs] for bs in bits]
        rows = len(occurring)
    else:
        rows = D
    y_all = torch.tensor(labels, dtype=torch.float32)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model = Model(rows, a.hidden, T, a.dropout, D)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    order = list(range(len(bits)))
    secs, cpu, losses = [], [], []
    for _ in range(a.epochs):
        random.shuffle(order)
        t0 = time.perf_counter()
        c0 = time.process_time()
        total, batches = 0.0, 0
        model.train()
        for s in range(0, len(order), a.batch_size):
            batch = order[s:s + a.batch_size]
            idx = torch.tensor([b for i in batch for b in bits[i]], dtype=torch.long)
            lens = [len(bits[i]) for i in batch]
            offsets = torch.tensor([0] + lens[:-1], dtype=torch.long).cumsum(0)
            y = y_all[batch]
            mask = (y >= 0).float()
            count = mask.sum()
            if count == 0:
                continue
            logits = model(idx, offsets)
            loss = (nn.functional.binary_cross_entropy_with_logits(
                logits, y.clamp(min=0), reduction="none") * mask).sum() / count
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            batches += 1
        cpu.append(time.process_time() - c0)
        secs.append(time.perf_counter() - t0)
        losses.append(total / max(batches, 1))
    med = sorted(secs)[len(secs) // 2]
    print(json.dumps({
        "impl": "pytorch-python", "rows": a.rows, "trunk_rows": rows, "compounds": len(bits),
        "hidden": a.hidden, "batch_size": a.batch_size, "threads": a.threads,
        "torch": torch.__version__, "epoch_seconds": secs, "epoch_cpu_seconds": cpu, "median_epoch_s": med,
        "compounds_per_s": len(bits) / med, "loss": losses,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_model_mb": rss_before}))


if __name__ == "__main__":
    main()
