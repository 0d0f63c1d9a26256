"""ember.ml against scikit-learn: fit and predict times and quality, same run,
same thread count.

    PYTHONPATH=python python benchmarks/bench_ml.py [--rows 10000 100000] [--threads 1]

Prints one table per row count: seconds for ember and scikit-learn, the
ratio sklearn/ember (> 1: ember faster) and the quality of both (accuracy,
R^2 or inertia) so a speed-up never hides a worse model.
"""
import argparse
import time

import numpy as np
from sklearn import cluster, decomposition, ensemble, linear_model, neighbors
from sklearn.datasets import make_classification, make_regression
from threadpoolctl import threadpool_limits

import ember
import ember.ml as em


def timed(fn, repeat=1):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def cases(n):
    Xr, yr = make_regression(n, 20, noise=5.0, random_state=0)
    Xc, yc = make_classification(n, 20, n_informative=10, n_classes=3, random_state=0)
    Xq, yq = Xc[: min(n, 2000)], yc[: min(n, 2000)]
    r2 = "R^2"
    acc = "accuracy"
    return [
        ("LinearRegression", em.LinearRegression(), linear_model.LinearRegression(), Xr, yr, Xr, yr, r2),
        ("Ridge", em.Ridge(alpha=1.0), linear_model.Ridge(alpha=1.0), Xr, yr, Xr, yr, r2),
        ("LogisticRegression", em.LogisticRegression(max_iter=200), linear_model.LogisticRegression(max_iter=200),
         Xc, yc, Xc, yc, acc),
        ("RandomForest (50 trees)", em.RandomForestClassifier(50, random_state=0),
         ensemble.RandomForestClassifier(50, random_state=0), Xc[: min(n, 50000)], yc[: min(n, 50000)], Xq, yq, acc),
        ("KNN (predict 2000)", em.KNeighborsClassifier(5), neighbors.KNeighborsClassifier(5), Xc, yc, Xq, yq, acc),
        ("KMeans (k=8)", em.KMeans(8, random_state=0, n_init=1), cluster.KMeans(8, random_state=0, n_init=1),
         Xc, None, Xc, None, "inertia"),
        ("PCA (5)", em.PCA(5), decomposition.PCA(5, svd_solver="full"), Xc, None, Xc, None, "explained"),
    ]


def quality(est, X, y, kind):
    if kind == "inertia":
        return est.inertia_
    if kind == "explained":
        return float(np.sum(est.explained_variance_ratio_))
    return est.score(X, y)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    ember.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        for n in args.rows:
            print(f"\n{n} rows, {args.threads} thread(s)")
            print("| model | ember fit s | sklearn fit s | fit ratio | ember predict s | sklearn predict s | "
                  "predict ratio | ember quality | sklearn quality |")
            print("|---|---|---|---|---|---|---|---|---|")
            for name, ours, ref, Xf, yf, Xp, yp, kind in cases(n):
                fit_args = (Xf,) if yf is None else (Xf, yf)
                tf_e, _ = timed(lambda: ours.fit(*fit_args))
                tf_s, _ = timed(lambda: ref.fit(*fit_args))
                pred = (lambda e: e.transform(Xp)) if kind == "explained" else (lambda e: e.predict(Xp))
                tp_e, _ = timed(lambda: pred(ours), 3)
                tp_s, _ = timed(lambda: pred(ref), 3)
                qe, qs = quality(ours, Xp, yp, kind), quality(ref, Xp, yp, kind)
                print(f"| {name} | {tf_e:.4f} | {tf_s:.4f} | {tf_s / tf_e:.2f}x | {tp_e:.4f} | {tp_s:.4f} | "
                      f"{tp_s / tp_e:.2f}x | {qe:.4g} | {qs:.4g} |")


if __name__ == "__main__":
    main()
