"""conv2d forward and backward (grad input + grad weight) on ResNet-like
layer shapes: ember vs PyTorch (torch.nn.functional.conv2d and
torch.autograd.grad), same thread count on both sides.

    python benchmarks/bench_conv.py [--batch 8] [--threads 1 2] [--repeat 5] [--quick]

Prints one table per thread count: best times in ms over alternating rounds
(thread CPU time with one thread, wall time with more, each timed call then
preceded by 50 ms of busy waiting and an untimed call: see timing.py) and the
ratio torch / ember (> 1: ember is faster).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as tF

import ember
from ember import _C
from timing import best_per_call

# name, C_in, C_out, image size, kernel, stride, padding, groups
LAYERS = [
    ("stem 3->64 7x7 s2 @112", 3, 64, 112, 7, 2, 3, 1),
    ("64->64 3x3 @56", 64, 64, 56, 3, 1, 1, 1),
    ("128->128 3x3 @28", 128, 128, 28, 3, 1, 1, 1),
    ("256->256 3x3 @14", 256, 256, 14, 3, 1, 1, 1),
    ("1x1 64->256 @56", 64, 256, 56, 1, 1, 0, 1),
    ("1x1 s2 256->512 @28", 256, 512, 28, 1, 2, 0, 1),
    ("depthwise 3x3 128ch @56", 128, 128, 56, 3, 1, 1, 128),
]


# seconds of settle() before each timed call on several threads (timing.py)
SETTLE_S = 0.05


def bench(batch: int, threads: int, repeat: int, layers: list) -> None:
    torch.set_num_threads(threads)
    ember.set_num_threads(threads)
    # one thread: CPU time of this thread (both libraries then compute on the
    # caller), which other processes on a shared machine barely disturb;
    # more threads: wall-clock time
    clock = time.thread_time if threads == 1 else time.perf_counter
    what = "thread CPU time" if threads == 1 else "wall time"
    print(f"\nbatch {batch}, {threads} thread(s), float32; ms ({what}, best of {repeat}, alternating rounds); "
          "ratio = torch / ember")
    print(f"{'layer':26s} {'fwd ember':>9s} {'fwd torch':>9s} {'ratio':>6s} {'bwd ember':>9s} {'bwd torch':>9s} {'ratio':>6s}")
    rng = np.random.default_rng(0)
    for name, ci, co, hw, k, s, p, g in layers:
        x = rng.standard_normal((batch, ci, hw, hw)).astype(np.float32)
        w = (rng.standard_normal((co, ci // g, k, k)) * 0.1).astype(np.float32)
        ex, ew = ember.asarray(x), ember.asarray(w)
        geo = ((s, s), (p, p), (1, 1), g)
        ey = _C._conv(ex, ew, None, *geo)
        gy = rng.standard_normal(tuple(ey.shape)).astype(np.float32)
        egy = ember.asarray(gy)
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        tgy = torch.tensor(gy)

        def e_fwd() -> None:
            _C._conv(ex, ew, None, *geo)

        def e_bwd() -> None:
            _C._conv_grad_input(egy, ew, x.shape, *geo)
            _C._conv_grad_weight(egy, ex, w.shape, *geo)

        def t_fwd() -> None:
            with torch.no_grad():
                tF.conv2d(tx, tw, None, s, p, 1, g)

        ty = tF.conv2d(tx, tw, None, s, p, 1, g)

        def t_bwd() -> None:
            torch.autograd.grad(ty, (tx, tw), tgy, retain_graph=True)

        fns = {"fe": e_fwd, "ft": t_fwd, "be": e_bwd, "bt": t_bwd}
        for fn in fns.values():
            fn()
        best = best_per_call(fns, repeat, dict.fromkeys(fns, 1), clock, SETTLE_S if threads > 1 else 0.0)
        fe, ft, be, bt = (best[k] * 1e3 for k in fns)
        print(f"{name:26s} {fe:9.2f} {ft:9.2f} {ft / fe:6.2f} {be:9.2f} {bt:9.2f} {bt / be:6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="fewer layers (a smoke run)")
    a = ap.parse_args()
    layers = LAYERS[1:3] + LAYERS[4:5] + LAYERS[6:] if a.quick else LAYERS
    print(f"torch {torch.__version__}, ember {ember.__version__}")
    for nt in a.threads:
        bench(a.batch, nt, a.repeat, layers)


if __name__ == "__main__":
    main()
