"""ember.ml against scikit-learn: fit and predict times and quality, same run,
same thread count.

    PYTHONPATH=python python benchmarks/bench_ml.py [--rows 10000,100000,1000000] [--threads 1]
        [--models LinearRegression,PCA] [--repeat 3] [--clock wall|cpu]

Prints one table per row count: seconds for ember and scikit-learn (best of
--repeat runs, ember and scikit-learn alternating), the ratio sklearn/ember
(> 1: ember faster) and the quality of both (accuracy, R^2, inertia or
explained variance) so a speed-up never hides a worse model.

Data: make_regression / make_classification with 20 features.  What each
model fits and predicts on, so that no cell takes scikit-learn minutes:
  - LinearRegression, Ridge, LogisticRegression, KMeans, PCA: fit on all n
    rows; predict / transform on min(n, 100000) rows;
  - RandomForestClassifier / RandomForestRegressor: fit on all n rows,
    predict on 10000 held-out rows (quality is test accuracy / R^2); 50
    trees up to 10^5 rows, 10 trees above (same count on both sides);
    default depth (grown to purity); max_features 'sqrt' (classifier
    default) and 0.33 (regressor: the usual p/3, as scikit-learn's default
    of all features makes a 10^6-row cell take scikit-learn many minutes);
    above 10^5 rows the forests are fitted once (fit time: best of 1,
    predict still best of --repeat): one 10^6-row tree costs about 4 s of CPU in ember and 12 s
    in scikit-learn, so best of 3 over 10 trees and two forests was ~16 CPU
    minutes, ~30 minutes of wall time on a loaded 2-core host, which is why
    that cell never finished inside a session's time limit;
  - KNN (k=5, brute force at 20 features): fit on all n rows, predict on a
    fixed 2000 query rows (at 10^6 training rows that is already 4 * 10^10
    multiply-adds per predict);
  - LogisticRegression is skipped at n > 100000 unless --all-sizes (each
    cell takes minutes in scikit-learn there).
PCA compares both libraries' default solver (svd_solver="auto": for tall
data scikit-learn takes the covariance matrix, ember its Gram / QR
factor).  --clock cpu measures process CPU time instead of wall time
(use it with --threads 1 on a busy machine: other processes then do not
count).
"""
import argparse
import time

import numpy as np
from sklearn import cluster, decomposition, ensemble, linear_model, neighbors
from sklearn.datasets import make_classification, make_regression
from threadpoolctl import threadpool_limits

import ember
import ember.ml as em

PREDICT_ROWS = 100_000
RF_PREDICT_ROWS = 10_000  # held-out rows the forests predict and are scored on
RF_MANY_TREES, RF_FEW_TREES = 50, 10  # trees up to SLOW_ABOVE rows, and above
KNN_QUERIES = 2000
SLOW_ABOVE = 100_000  # LogisticRegression: skipped above this many rows unless --all-sizes; RF: fewer trees


def clock_fn(kind):
    return time.process_time if kind == "cpu" else time.perf_counter


def timed_pair(fa, fb, repeat, clock):
    """Best time of fa and of fb over `repeat` alternating runs (alternating so
    a burst of load on a shared machine hits both)."""
    ta = tb = float("inf")
    for _ in range(repeat):
        t = clock()
        fa()
        ta = min(ta, clock() - t)
        t = clock()
        fb()
        tb = min(tb, clock() - t)
    return ta, tb


def cases(n, all_sizes):
    Xr, yr = make_regression(n, 20, noise=5.0, random_state=0)
    Xc, yc = make_classification(n, 20, n_informative=10, n_classes=3, random_state=0)
    p = min(n, PREDICT_ROWS)
    q = min(n, KNN_QUERIES)
    r2, acc = "R^2", "accuracy"
    slow = n > SLOW_ABOVE and not all_sizes
    out = [
        ("LinearRegression", lambda: (em.LinearRegression(), linear_model.LinearRegression()),
         Xr, yr, Xr[:p], yr[:p], r2),
        ("Ridge", lambda: (em.Ridge(alpha=1.0), linear_model.Ridge(alpha=1.0)), Xr, yr, Xr[:p], yr[:p], r2),
    ]
    if not slow:
        out += [
            ("LogisticRegression", lambda: (em.LogisticRegression(max_iter=200),
                                            linear_model.LogisticRegression(max_iter=200)),
             Xc, yc, Xc[:p], yc[:p], acc),
            # l1: ember's proximal Newton against scikit-learn's saga (its solver for l1), both at tol 1e-4
            ("LogisticRegression l1", lambda: (em.LogisticRegression(penalty="l1", C=0.1, solver="saga", max_iter=1000),
                                               linear_model.LogisticRegression(l1_ratio=1.0, C=0.1, solver="saga",
                                                                               max_iter=1000)),
             Xc, yc, Xc[:p], yc[:p], acc),
        ]
    out += rf_cases(n)
    out += [
        (f"KNN (predict {q})", lambda: (em.KNeighborsClassifier(5), neighbors.KNeighborsClassifier(5)),
         Xc, yc, Xc[:q], yc[:q], acc),
        ("KMeans (k=8)", lambda: (em.KMeans(8, random_state=0, n_init=1), cluster.KMeans(8, random_state=0, n_init=1)),
         Xc, None, Xc[:p], None, "inertia"),
        ("KMeans elkan (k=8)", lambda: (em.KMeans(8, random_state=0, n_init=1, algorithm="elkan"),
                                        cluster.KMeans(8, random_state=0, n_init=1, algorithm="elkan")),
         Xc, None, Xc[:p], None, "inertia"),
        ("PCA (5)", lambda: (em.PCA(5), decomposition.PCA(5)), Xc, None, Xc[:p], None, "explained"),
    ]
    return out


def rf_cases(n):
    """Random forests: fit on n rows, scored on RF_PREDICT_ROWS held-out rows of the same distribution."""
    t = RF_MANY_TREES if n <= SLOW_ABOVE else RF_FEW_TREES
    m = n + RF_PREDICT_ROWS
    Xc, yc = make_classification(m, 20, n_informative=10, n_classes=3, random_state=1)
    Xr, yr = make_regression(m, 20, n_informative=10, noise=5.0, random_state=1)
    return [
        (f"RandomForestClassifier ({t} trees)",
         lambda: (em.RandomForestClassifier(t, random_state=0),
                  ensemble.RandomForestClassifier(t, random_state=0, n_jobs=ember.get_num_threads())),
         Xc[:n], yc[:n], Xc[n:], yc[n:], "accuracy"),
        (f"RandomForestRegressor ({t} trees, max_features 0.33)",
         lambda: (em.RandomForestRegressor(t, max_features=0.33, random_state=0),
                  ensemble.RandomForestRegressor(t, max_features=0.33, random_state=0,
                                                 n_jobs=ember.get_num_threads())),
         Xr[:n], yr[:n], Xr[n:], yr[n:], "R^2"),
    ]


def quality(est, X, y, kind):
    if kind == "inertia":
        return est.inertia_
    if kind == "explained":
        return float(np.sum(est.explained_variance_ratio_))
    return est.score(X, y)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="10000,100000",
                    help="comma-separated row counts (e.g. 10000,100000,1000000)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--models", default="", help="comma-separated name prefixes to run (default: all)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each fit and predict; the best counts")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    ap.add_argument("--all-sizes", action="store_true", help="also run the slow models above 10^5 rows")
    args = ap.parse_args()
    rows = [int(float(r)) for r in args.rows.replace(" ", ",").split(",") if r]
    wanted = [m.strip() for m in args.models.split(",") if m.strip()]
    clock = clock_fn(args.clock)
    ember.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        for n in rows:
            print(f"\n{n} rows, {args.threads} thread(s), {args.clock} clock, best of {args.repeat}")
            print("| model | ember fit s | sklearn fit s | fit ratio | ember predict s | sklearn predict s | "
                  "predict ratio | ember quality | sklearn quality |")
            print("|---|---|---|---|---|---|---|---|---|")
            for name, make, Xf, yf, Xp, yp, kind in cases(n, args.all_sizes):
                if wanted and not any(name.startswith(w) for w in wanted):
                    continue
                ours, ref = make()
                fit_args = (Xf,) if yf is None else (Xf, yf)
                pred = (lambda e: e.transform(Xp)) if kind == "explained" else (lambda e: e.predict(Xp))
                repeat = 1 if name.startswith("RandomForest") and n > SLOW_ABOVE else args.repeat  # fits: see docstring
                try:
                    tf_e, tf_s = timed_pair(lambda: ours.fit(*fit_args), lambda: ref.fit(*fit_args), repeat, clock)
                    tp_e, tp_s = timed_pair(lambda: pred(ours), lambda: pred(ref), args.repeat, clock)
                except Exception as e:  # an ember failure (e.g. out of memory) is a result too
                    print(f"| {name} | {type(e).__name__}: {str(e)[:60]} | | | | | | | |", flush=True)
                    continue
                qe, qs = quality(ours, Xp, yp, kind), quality(ref, Xp, yp, kind)
                print(f"| {name} | {tf_e:.4f} | {tf_s:.4f} | {tf_s / tf_e:.2f}x | {tp_e:.4f} | {tp_s:.4f} | "
                      f"{tp_s / tp_e:.2f}x | {qe:.4g} | {qs:.4g} |", flush=True)


if __name__ == "__main__":
    main()
