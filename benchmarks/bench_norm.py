"""Throughput of softmax, log_softmax, layer_norm and batch_norm: ember against PyTorch.

    PYTHONPATH=<built ember> python benchmarks/bench_norm.py [--threads 1] [--rounds 7]

Both sides run float32 on the same thread count (ember.set_num_threads,
torch.set_num_threads).  Prints the median time per call of each side over
interleaved rounds and the ratio torch/ember (> 1: ember is faster).
batch_norm runs in training mode (batch statistics, running statistics
updated) and in eval mode, on NCHW inputs.
"""
import argparse
import time

import numpy as np
import torch

import ember
import ember.nn.functional as F

SHAPES = [(64, 1000), (4096, 1024), (256, 64)]
BN_SHAPES = [(32, 64, 28, 28), (256, 128, 8, 8)]


def timeit(fn, min_time=0.05):
    """Seconds per call: repeats fn until min_time has passed."""
    fn()
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return dt / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    ember.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    print(f"threads={args.threads}  float32  median of {args.rounds} interleaved rounds")
    print(f"{'op':<12} {'shape':<16} {'ember us':>10} {'torch us':>10} {'torch/ember':>12}")
    for shape in SHAPES:
        a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        x, xt = ember.asarray(a), torch.from_numpy(a)
        n = shape[-1]
        w, b = ember.ones(n), ember.zeros(n)
        wt, bt = torch.ones(n), torch.zeros(n)
        cases = {
            "softmax": (lambda: F.softmax(x, -1), lambda: torch.softmax(xt, -1)),
            "log_softmax": (lambda: F.log_softmax(x, -1), lambda: torch.log_softmax(xt, -1)),
            "layer_norm": (lambda: F.layer_norm(x, (n,), w, b), lambda: torch.nn.functional.layer_norm(xt, (n,), wt, bt)),
        }
        report(cases, shape, args.rounds)
    for shape in BN_SHAPES:
        a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        x, xt = ember.asarray(a), torch.from_numpy(a)
        c = shape[1]
        w, b, rm, rv = ember.ones(c), ember.zeros(c), ember.zeros(c), ember.ones(c)
        wt, bt, rmt, rvt = torch.ones(c), torch.zeros(c), torch.zeros(c), torch.ones(c)
        cases = {
            "bn_train": (lambda: F.batch_norm(x, rm, rv, w, b, training=True),
                         lambda: torch.nn.functional.batch_norm(xt, rmt, rvt, wt, bt, training=True)),
            "bn_eval": (lambda: F.batch_norm(x, rm, rv, w, b, training=False),
                        lambda: torch.nn.functional.batch_norm(xt, rmt, rvt, wt, bt, training=False)),
        }
        report(cases, shape, args.rounds)


def report(cases, shape, rounds):
    for name, (fe, ft) in cases.items():
        te, tt = [], []
        for _ in range(rounds):
            te.append(timeit(fe))
            tt.append(timeit(ft))
        me, mt = np.median(te) * 1e6, np.median(tt) * 1e6
        print(f"{name:<12} {str(shape):<16} {me:>10.1f} {mt:>10.1f} {mt / me:>11.2f}x", flush=True)


if __name__ == "__main__":
    main()
