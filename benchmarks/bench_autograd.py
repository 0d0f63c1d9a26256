"""Autograd overhead: ember vs PyTorch, 1 thread each.

    PYTHONPATH=python .venv/bin/python benchmarks/bench_autograd.py

Small tensors measure the per-op cost of recording the graph (the forward
of a 4-element add on tensors that require grad) and of a whole
forward + backward of a small expression; the MLP row is a training step's
forward + backward at a size where kernels matter.  Ratios are ember's speed
relative to PyTorch (>1 means ember is faster).  Median of repeated timeit
runs.
"""
import statistics
import timeit

import numpy as np
import torch

import ember

torch.set_num_threads(1)
ember.set_num_threads(1)


def per_call(fn, number):
    return statistics.median(timeit.repeat(fn, number=number, repeat=7)) / number


def leaf_pair(shape):
    a_np = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    b_np = a_np[::-1].copy()
    ea, eb = ember.asarray(a_np.copy()), ember.asarray(b_np.copy())
    ea.requires_grad = True
    eb.requires_grad = True
    ta = torch.tensor(a_np, requires_grad=True)
    tb = torch.tensor(b_np, requires_grad=True)
    return ea, eb, ta, tb


def main():
    rows = []
    ea, eb, ta, tb = leaf_pair((4,))
    pa, pb = ember.asarray(np.ones(4, np.float32)), ember.asarray(np.ones(4, np.float32))
    qa, qb = torch.ones(4), torch.ones(4)
    rows.append(("add, 4 elements, no grad", per_call(lambda: pa + pb, 100000), per_call(lambda: qa + qb, 100000)))
    rows.append(("add, 4 elements, requires_grad", per_call(lambda: ea + eb, 100000),
                 per_call(lambda: ta + tb, 100000)))

    def fb_e():
        ember.sum(ember.tanh(ea * eb) + ea).backward()

    def fb_t():
        (torch.tanh(ta * tb) + ta).sum().backward()

    rows.append(("sum(tanh(a*b)+a) fwd+bwd, 4 elements", per_call(fb_e, 5000), per_call(fb_t, 5000)))

    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((256, 128)).astype(np.float32)
    w1_np = rng.standard_normal((128, 256)).astype(np.float32) * 0.1
    w2_np = rng.standard_normal((256, 10)).astype(np.float32) * 0.1
    ex, ew1, ew2 = ember.asarray(x_np), ember.asarray(w1_np), ember.asarray(w2_np)
    ew1.requires_grad = True
    ew2.requires_grad = True
    tx = torch.tensor(x_np)
    tw1, tw2 = torch.tensor(w1_np, requires_grad=True), torch.tensor(w2_np, requires_grad=True)

    def mlp_e():
        ember.mean(ember.log_softmax(ember.relu(ex @ ew1) @ ew2, axis=1)).backward()

    def mlp_t():
        torch.log_softmax(torch.relu(tx @ tw1) @ tw2, 1).mean().backward()

    rows.append(("MLP 256x128->256->10 fwd+bwd", per_call(mlp_e, 50), per_call(mlp_t, 50)))

    print(f"{'case':42s} {'ember':>10s} {'torch':>10s} {'speed ratio':>12s}")
    for name, e, t in rows:
        print(f"{name:42s} {e * 1e6:8.2f}us {t * 1e6:8.2f}us {t / e:11.2f}x")


if __name__ == "__main__":
    main()
