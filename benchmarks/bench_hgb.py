"""Histogram gradient boosting: ember.ml vs sklearn.ensemble.HistGradientBoosting*.

Fit and predict time on 1e5 x 20 synthetic data (binary classification and
regression), the same parameters and thread count on both sides (ember's pool
via ember.set_num_threads, scikit-learn's OpenMP via threadpoolctl), early
stopping off so both grow max_iter iterations.  Prints times and ratios.

    .venv/bin/python benchmarks/bench_hgb.py [--threads N] [--n 100000] [--iters 100] [--repeat 3]
"""
import argparse
import time

import numpy as np
from sklearn import ensemble as sk
from sklearn.datasets import make_classification, make_regression
from threadpoolctl import threadpool_limits

import ember
from ember import ml


def best_of(repeat, fn):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    ember.set_num_threads(a.threads)
    cases = [
        ("classification", make_classification(a.n, 20, n_informative=10, random_state=0),
         ml.HistGradientBoostingClassifier, sk.HistGradientBoostingClassifier),
        ("regression", make_regression(a.n, 20, n_informative=10, noise=10.0, random_state=0),
         ml.HistGradientBoostingRegressor, sk.HistGradientBoostingRegressor),
    ]
    print(f"n={a.n} d=20 max_iter={a.iters} threads={a.threads} (best of {a.repeat})")
    print(f"{'task':<16}{'step':<9}{'ember s':>10}{'sklearn s':>11}{'sklearn/ember':>15}{'ember score':>13}"
          f"{'sklearn score':>15}")
    for name, (X, y), ours, theirs in cases:
        params = dict(max_iter=a.iters, early_stopping=False, random_state=0)
        with threadpool_limits(a.threads):
            tf_e, me = best_of(a.repeat, lambda: ours(**params).fit(X, y))
            tf_s, ms = best_of(a.repeat, lambda: theirs(**params).fit(X, y))
            tp_e, _ = best_of(a.repeat, lambda: me.predict(X))
            tp_s, _ = best_of(a.repeat, lambda: ms.predict(X))
            se, ss = me.score(X, y), ms.score(X, y)
        print(f"{name:<16}{'fit':<9}{tf_e:>10.3f}{tf_s:>11.3f}{tf_s / tf_e:>15.2f}{se:>13.4f}{ss:>15.4f}")
        print(f"{name:<16}{'predict':<9}{tp_e:>10.3f}{tp_s:>11.3f}{tp_s / tp_e:>15.2f}")


if __name__ == "__main__":
    main()
