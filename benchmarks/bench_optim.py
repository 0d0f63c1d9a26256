"""Optimiser step time: ember's fused kernels vs torch.optim (single-tensor
and foreach paths), same parameters and gradients, same thread count.

    PYTHONPATH=python .venv/bin/python benchmarks/bench_optim.py [threads]

One step over 10 float32 parameters of 100k elements (1M in all) and over
one of 4M, median of repeated runs.  Ratios are torch time / ember time
(>1 means ember is faster).
"""
import statistics
import sys
import timeit

import numpy as np
import torch

import ember
import ember.optim as eo

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(THREADS)
ember.set_num_threads(THREADS)

CASES = [
    ("SGD momentum", eo.SGD, torch.optim.SGD, dict(lr=0.01, momentum=0.9)),
    ("Adam", eo.Adam, torch.optim.Adam, dict(lr=1e-3)),
    ("AdamW amsgrad", eo.AdamW, torch.optim.AdamW, dict(lr=1e-3, amsgrad=True)),
    ("RMSprop centered", eo.RMSprop, torch.optim.RMSprop, dict(lr=1e-3, centered=True, momentum=0.9)),
    ("Adagrad", eo.Adagrad, torch.optim.Adagrad, dict(lr=1e-2)),
]


def median_step(opt, number):
    opt.step()  # state created outside the timing
    return statistics.median(timeit.repeat(opt.step, number=number, repeat=7)) / number


def main():
    rng = np.random.default_rng(0)
    print(f"threads={THREADS}; time per step, ratio = torch / ember")
    print(f"{'optimiser':18} {'params':>10} {'ember us':>10} {'torch us':>10} {'foreach us':>11} "
          f"{'vs single':>9} {'vs foreach':>10}")
    for shapes in ([(100_000,)] * 10, [(4_000_000,)]):
        ws = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        gs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        for name, ecls, tcls, kw in CASES:
            ep = [ember.tensor(w.copy()) for w in ws]
            for p, g in zip(ep, gs):
                p.grad = ember.tensor(g)
            times = [median_step(ecls(ep, **kw), 5)]
            for foreach in (False, True):
                tp = [torch.tensor(w.copy(), requires_grad=True) for w in ws]
                for p, g in zip(tp, gs):
                    p.grad = torch.tensor(g)
                times.append(median_step(tcls(tp, foreach=foreach, **kw), 5))
            e, ts, tf = (t * 1e6 for t in times)
            label = f"{len(shapes)}x{shapes[0][0]}"
            print(f"{name:18} {label:>10} {e:10.0f} {ts:10.0f} {tf:11.0f} {ts / e:9.2f} {tf / e:10.2f}")


if __name__ == "__main__":
    main()
