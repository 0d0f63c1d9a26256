"""ember.linalg vs numpy.linalg (LAPACK via OpenBLAS), same thread count.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=<built ember> python benchmarks/bench_linalg.py [--threads 1]

Prints median times and ember/NumPy ratios (> 1: ember slower)."""
import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

import ember


def median_time(fn, reps=5):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    ember.set_num_threads(args.threads) if hasattr(ember, "set_num_threads") else None
    rng = np.random.default_rng(0)
    L = ember.linalg
    cases = []
    for n in (100, 500):
        a = rng.standard_normal((n, n))
        sym = a + a.T
        b = rng.standard_normal((n, 1))
        cases += [(f"solve {n}", lambda a=a, b=b: np.linalg.solve(a, b), lambda e=ember.tensor(a), f=ember.tensor(b): L.solve(e, f)),
                  (f"qr {n}", lambda a=a: np.linalg.qr(a), lambda e=ember.tensor(a): L.qr(e)),
                  (f"eigh {n}", lambda s=sym: np.linalg.eigh(s), lambda e=ember.tensor(sym): L.eigh(e)),
                  (f"svd {n}", lambda a=a: np.linalg.svd(a), lambda e=ember.tensor(a): L.svd(e)),
                  (f"lstsq {n}", lambda a=a, b=b: np.linalg.lstsq(a, b), lambda e=ember.tensor(a), f=ember.tensor(b): L.lstsq(e, f))]
    t = rng.standard_normal((10000, 50))
    y = rng.standard_normal(10000)
    cases += [("qr 10000x50", lambda: np.linalg.qr(t), lambda e=ember.tensor(t): L.qr(e)),
              ("lstsq 10000x50", lambda: np.linalg.lstsq(t, y), lambda e=ember.tensor(t), f=ember.tensor(y): L.lstsq(e, f))]
    with threadpool_limits(args.threads):
        print(f"float64, {args.threads} thread(s)\n{'case':<16}{'numpy ms':>10}{'ember ms':>10}{'ratio':>8}")
        for name, fn_np, fn_em in cases:
            tn, te = median_time(fn_np), median_time(fn_em, reps=3)
            print(f"{name:<16}{tn * 1e3:>10.2f}{te * 1e3:>10.2f}{te / tn:>8.1f}")


if __name__ == "__main__":
    main()
