"""Clustering against scikit-learn, side by side in one run.

    PYTHONPATH=python python benchmarks/bench_cluster.py [--threads 1] [--clock wall|cpu] [--repeat 3]

- KMeans with many centres (k=1000, n_init=1, k-means++ seeding, Lloyd):
  fit on 10^4 and 10^5 rows of make_classification (20 features); the
  seeding alone (ember's C k-means++ against sklearn.cluster.kmeans_plusplus)
  on the same data; quality is the inertia (lower is better).
- DBSCAN on 10^4 points: blobs in 2 and 10 dimensions and two moons, eps
  chosen so that clusters and noise both occur; the labels must be
  identical (the column says so).

Each pair runs alternately `repeat` times (a burst of load on a shared
machine hits both) and the best time of each counts; ratio = sklearn time /
ember time (above 1: ember is faster).  --clock cpu measures process CPU
time (use it with --threads 1 on a loaded machine)."""
import argparse
import time

import numpy as np
from sklearn import cluster
from sklearn.datasets import make_blobs, make_classification, make_moons
from threadpoolctl import threadpool_limits

import ember
import ember.ml as em
from ember.ml._cluster import _kmeans_plusplus


def timed_pair(fa, fb, repeat, clock):
    ta = tb = float("inf")
    ra = rb = None
    for _ in range(repeat):
        t = clock()
        ra = fa()
        ta = min(ta, clock() - t)
        t = clock()
        rb = fb()
        tb = min(tb, clock() - t)
    return ta, tb, ra, rb


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    ap.add_argument("--rows", default="10000,100000", help="KMeans row counts")
    args = ap.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    ember.set_num_threads(args.threads)
    print(f"{args.threads} thread(s), {args.clock} clock, best of {args.repeat}")
    print("| case | ember s | sklearn s | ratio | ember quality | sklearn quality |")
    print("|---|---|---|---|---|---|")
    with threadpool_limits(args.threads):
        for n in [int(float(r)) for r in args.rows.split(",") if r]:
            X, _ = make_classification(n, 20, n_informative=10, n_classes=3, random_state=0)
            Xc = np.ascontiguousarray(X - X.mean(axis=0))
            w = np.ones(n)
            te, ts, ce, cs = timed_pair(lambda: _kmeans_plusplus(Xc, w, 1000, ember.Generator(0)),
                                        lambda: cluster.kmeans_plusplus(Xc, 1000, random_state=0)[0],
                                        args.repeat, clock)
            qe, qs = (em.KMeans(1000, init=ce, n_init=1, max_iter=1).fit(Xc).inertia_,
                      em.KMeans(1000, init=cs, n_init=1, max_iter=1).fit(Xc).inertia_)
            print(f"| k-means++ seeding k=1000, {n} rows | {te:.3f} | {ts:.3f} | {ts / te:.2f}x | {qe:.5g} | "
                  f"{qs:.5g} |", flush=True)
            te, ts, me, ms = timed_pair(lambda: em.KMeans(1000, random_state=0, n_init=1).fit(X),
                                        lambda: cluster.KMeans(1000, random_state=0, n_init=1).fit(X),
                                        args.repeat, clock)
            print(f"| KMeans fit k=1000, {n} rows | {te:.3f} | {ts:.3f} | {ts / te:.2f}x | {me.inertia_:.5g} | "
                  f"{ms.inertia_:.5g} |", flush=True)
        cases = [
            ("blobs 2-d", make_blobs(10_000, 2, centers=8, cluster_std=0.8, random_state=0)[0], 0.15, 10),
            ("blobs 10-d", make_blobs(10_000, 10, centers=8, cluster_std=1.0, random_state=0)[0], 2.0, 10),
            ("moons", make_moons(10_000, noise=0.05, random_state=0)[0], 0.05, 10),
        ]
        for name, X, eps, ms in cases:
            te, ts, de, ds = timed_pair(lambda: em.DBSCAN(eps=eps, min_samples=ms).fit(X),
                                        lambda: cluster.DBSCAN(eps=eps, min_samples=ms).fit(X), args.repeat, clock)
            same = np.array_equal(de.labels_, ds.labels_) and np.array_equal(de.core_sample_indices_,
                                                                             ds.core_sample_indices_)
            nc = int(de.labels_.max()) + 1
            print(f"| DBSCAN {name}, 10000 points, eps {eps} ({nc} clusters, {int((de.labels_ < 0).sum())} noise) | "
                  f"{te:.4f} | {ts:.4f} | {ts / te:.2f}x | labels {'identical' if same else 'DIFFER'} | |",
                  flush=True)


if __name__ == "__main__":
    main()
