"""One training step (forward + backward + Adam), ember vs PyTorch, same run.

    PYTHONPATH=python .venv/bin/python benchmarks/bench_train.py [--threads 1,2]

Models: an MLP 784-256-128-10 (ReLU) at batch 1, 32 and 128, and a
LeNet-style CNN (conv 1->6 5x5, maxpool, conv 6->16 5x5, maxpool,
120-84-10) on 1x28x28 inputs at batch 64.  Both frameworks start from the
same weights and see the same batch; the step is zero_grad, forward,
cross-entropy, backward and Adam.step.  The table prints steps per second
and ember's speed relative to PyTorch (>1 means ember is faster): the best
of seven alternating rounds each, with both libraries on the same thread
count.  The last row is the eager per-op cost with autograd recording (a 4-element add on
tensors that require grad).
"""
import argparse
import time

import numpy as np
import torch

import ember
import ember.nn as enn

MLP = (784, 256, 128, 10)


def build_mlp(nn):
    layers = []
    for i in range(len(MLP) - 1):
        layers.append(nn.Linear(MLP[i], MLP[i + 1]))
        if i < len(MLP) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def build_cnn(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def copy_weights(tmodel, emodel):
    state = {k: ember.asarray(v.detach().numpy().copy()) for k, v in tmodel.state_dict().items()}
    emodel.load_state_dict(state)


def make_steps(kind, batch):
    torch.manual_seed(0)
    tmodel = build_mlp(torch.nn) if kind == "mlp" else build_cnn(torch.nn)
    emodel = build_mlp(enn) if kind == "mlp" else build_cnn(enn)
    copy_weights(tmodel, emodel)
    rng = np.random.default_rng(0)
    shape = (batch, MLP[0]) if kind == "mlp" else (batch, 1, 28, 28)
    x_np = rng.standard_normal(shape).astype(np.float32)
    y_np = rng.integers(0, 10, size=batch)
    tx, ty = torch.from_numpy(x_np), torch.from_numpy(y_np)
    ex, ey = ember.asarray(x_np), ember.asarray(y_np)
    topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
    eopt = ember.optim.Adam(emodel.parameters(), lr=1e-3)
    tloss, eloss = torch.nn.CrossEntropyLoss(), enn.CrossEntropyLoss()

    def tstep():
        topt.zero_grad()
        loss = tloss(tmodel(tx), ty)
        loss.backward()
        topt.step()
        return loss

    def estep():
        eopt.zero_grad()
        loss = eloss(emodel(ex), ey)
        loss.backward()
        eopt.step()
        return loss

    # the two start from the same weights: the first losses must agree
    lt, le = tstep().item(), estep().item()
    assert abs(lt - le) <= 1e-4 * max(1.0, abs(lt)), (kind, batch, lt, le)
    return estep, tstep


def calibrate(fn, seconds):
    """Calls per timing so that one timing lasts about `seconds`."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt > seconds / 4:
            return max(1, int(n * seconds / dt))
        n *= 2


def rates(efn, tfn, seconds=0.2, rounds=7):
    """Best calls per second of each, timed in alternating rounds so that load
    from other processes hits both alike (the best round is the least
    disturbed one)."""
    ne, nt = calibrate(efn, seconds), calibrate(tfn, seconds)
    best_e = best_t = 0.0
    for _ in range(rounds):
        for fn, n, which in ((efn, ne, "e"), (tfn, nt, "t")):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            r = n / (time.perf_counter() - t0)
            if which == "e":
                best_e = max(best_e, r)
            else:
                best_t = max(best_t, r)
    return best_e, best_t


def add_per_op():
    a = np.arange(4, dtype=np.float32)
    ea, eb = ember.asarray(a.copy()), ember.asarray(a[::-1].copy())
    ea.requires_grad = True
    eb.requires_grad = True
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(a[::-1].copy(), requires_grad=True)
    return (lambda: ea + eb), (lambda: ta + tb)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()
    for nt in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(nt)
        ember.set_num_threads(nt)
        print(f"\n{nt} thread(s): training steps per second (forward + backward + Adam)\n")
        print("| model | batch | ember steps/s | torch steps/s | ember/torch |")
        print("|---|---|---|---|---|")
        for kind, batch in (("mlp", 1), ("mlp", 32), ("mlp", 128), ("cnn", 64)):
            estep, tstep = make_steps(kind, batch)
            re, rt = rates(estep, tstep)
            name = "MLP 784-256-128-10" if kind == "mlp" else "LeNet-5 CNN 1x28x28"
            print(f"| {name} | {batch} | {re:,.0f} | {rt:,.0f} | {re / rt:.2f}x |")
        ef, tf = add_per_op()
        re, rt = rates(ef, tf, 0.1)
        print(f"| add, 4 elements, requires_grad (ops/s) | - | {re:,.0f} | {rt:,.0f} | {re / rt:.2f}x |")


if __name__ == "__main__":
    main()
