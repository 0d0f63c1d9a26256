"""Clustering: KMeans (k-means++ seeding; Lloyd or Elkan iterations),
MiniBatchKMeans, DBSCAN.

KMeans runs its seeding (greedy k-means++) and iterations in C
(csrc/ember/ml/kmeans.c): Lloyd's
assignment is one GEMM per chunk of samples, |c|^2 - 2 x.c with |c|^2 as
the GEMM's bias, then an argmin and the centre sums in the same pass over the
chunk; Elkan's skips the distances that the triangle inequality rules out.
Both follow scikit-learn's steps (data centred on its mean first, empty
clusters relocated to the farthest samples, the same stopping rules), so
given the same starting centres they reach the same labels and centres.
Results are bit-identical for any thread count.  Randomness (seeding,
mini-batches) comes from ember's Philox generator, so an int random_state
gives the same clustering on every platform; it differs from scikit-learn's
for the same seed, so tests compare quality (inertia) for random seeding and
labels and centres for given starting centres."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

import ember

from .. import _C
from ._base import BaseEstimator, ClusterMixin, TransformerMixin, check_is_fitted
from ._validation import _check_finite, check_sample_weight, seed_from, to_numpy, validate_data, wrap_like

__all__ = ["KMeans", "MiniBatchKMeans", "DBSCAN"]


def _t(a: np.ndarray) -> ember.Tensor:
    return ember.asarray(np.ascontiguousarray(a))


def _sq_dists(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (n, k) in one pass in C: |x|^2 + |c|^2 -
    2 x.c, clamped at 0 (the GEMM form can dip below by rounding)."""
    return np.asarray(_C._kmeans_distances(np.ascontiguousarray(X), np.ascontiguousarray(C, dtype=X.dtype)))


def _assign(X: np.ndarray, C: np.ndarray, want_dist: bool = True) -> tuple[np.ndarray, Any]:
    """Nearest centre of each row of X (GEMM distances in C, first minimum on
    ties) and, if asked, the exact squared distance to it."""
    labels, sq = _C._kmeans_predict(np.ascontiguousarray(X), np.ascontiguousarray(C, dtype=X.dtype), want_dist)
    return np.asarray(labels), (None if sq is None else np.asarray(sq))


def _checked(est: Any, Xa: np.ndarray, fn: Any, *args: Any) -> Any:
    """fn(Xa, *args) for a predict path that skipped the Python finiteness
    scan of Xa: the C pass checks each row as it goes (in parallel, at no
    extra pass over X) and names the first bad element; then the usual
    scikit-learn message is raised."""
    try:
        return fn(Xa, *args)
    except ValueError as e:
        if "is not finite" in str(e):
            _check_finite(Xa, False, False, "X", est)
        raise


def _kmeans_plusplus(X: np.ndarray, w: np.ndarray, k: int, gen: ember.Generator) -> np.ndarray:
    """Greedy k-means++ (Arthur & Vassilvitskii) in C: each new centre is the
    best of 2 + floor(log k) candidates drawn with probability proportional
    to the weighted squared distance to the nearest centre so far.  The
    uniforms come from gen's stream, which moves on as if drawn here."""
    seed, offset = gen.get_state()
    centers, _, offset = _C._kmeans_plusplus(np.ascontiguousarray(X), np.ascontiguousarray(w, dtype=X.dtype), int(k),
                                             0, seed, offset)
    gen.set_state((seed, offset))
    return np.asarray(centers)


def _init_centers(est: Any, X: np.ndarray, w: np.ndarray, k: int, gen: ember.Generator,
                  offset: Any = 0.0) -> np.ndarray:
    """Starting centres; X may be centred, then offset (its mean) is taken
    off centres given as an array."""
    init = est.init
    if isinstance(init, str) and init == "k-means++":
        return _kmeans_plusplus(X, w, k, gen)
    if isinstance(init, str) and init == "random":
        idx = np.asarray(gen.permutation(X.shape[0]))[:k]
        return X[idx].copy()
    if callable(init):
        return np.ascontiguousarray(init(X, k, est.random_state), dtype=X.dtype)
    C = np.asarray(init, dtype=X.dtype)
    if C.shape != (k, X.shape[1]):
        raise ValueError(f"The shape of the initial centers {C.shape} does not match the number of clusters {k} "
                         f"and the number of features {X.shape[1]}")
    return np.ascontiguousarray(C - offset, dtype=X.dtype)


class KMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """k-means clustering with k-means++ seeding, by Lloyd's algorithm or
    Elkan's (the same iterates; Elkan's keeps distance bounds that skip most
    distance computations on well-separated clusters).

    n_init runs ('auto': 1 with k-means++, 10 with random or a callable
    init) keep the one of lowest inertia.  tol is relative to the mean
    feature variance, as in scikit-learn.  Given the same starting centres
    (init an array), labels_ and cluster_centers_ equal scikit-learn's."""

    def __init__(self, n_clusters: int = 8, *, init: Any = "k-means++", n_init: Any = "auto", max_iter: int = 300,
                 tol: float = 1e-4, verbose: int = 0, random_state: Any = None, copy_x: bool = True,
                 algorithm: str = "lloyd"):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm

    def _check(self, n: int) -> int:
        if self.algorithm not in ("lloyd", "elkan"):
            raise ValueError(f"algorithm={self.algorithm!r} is not available; use 'lloyd' or 'elkan'")
        if not isinstance(self.n_clusters, (int, np.integer)) or self.n_clusters < 1:
            raise ValueError(f"n_clusters should be a positive int, got {self.n_clusters!r}")
        if not isinstance(self.max_iter, (int, np.integer)) or self.max_iter < 1:
            raise ValueError(f"max_iter should be a positive int, got {self.max_iter!r}")
        if n < self.n_clusters:
            raise ValueError(f"n_samples={n} should be >= n_clusters={self.n_clusters}.")
        if self.n_init == "auto":
            return 1 if isinstance(self.init, str) and self.init == "k-means++" else 10
        if not isinstance(self.n_init, (int, np.integer)) or self.n_init < 1:
            raise ValueError(f"n_init should be 'auto' or a positive int, got {self.n_init!r}")
        return 1 if hasattr(self.init, "__array__") or isinstance(self.init, (list, tuple)) else int(self.n_init)

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> "KMeans":
        """Clusters X; sets cluster_centers_, labels_, inertia_, n_iter_."""
        X = validate_data(self, X, reset=True)
        n_init = self._check(X.shape[0])
        w = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        tol = float(np.mean(np.var(X, axis=0))) * self.tol
        # centred data (as scikit-learn): the GEMM distances |c|^2 - 2 x.c
        # cancel less near the origin
        x_mean = X.mean(axis=0)
        Xc = np.ascontiguousarray(X - x_mean)
        gen = ember.Generator(seed_from(self.random_state))
        w_c = None if sample_weight is None else w
        best = None
        for _ in range(n_init):
            C0 = _init_centers(self, Xc, w, self.n_clusters, gen, x_mean)
            centers, labels, inertia, n_iter = _C._kmeans_fit(Xc, w_c, C0, self.algorithm == "elkan",
                                                              int(self.max_iter), tol)
            if best is None or inertia < best[0]:
                best = (inertia, centers, labels, n_iter)
        inertia, centers, labels, n_iter = best
        self.inertia_ = float(inertia)
        self.cluster_centers_ = (np.asarray(centers) + x_mean).astype(X.dtype, copy=False)
        self.labels_ = np.asarray(labels)
        self.n_iter_ = int(n_iter)
        distinct = len(np.unique(self.labels_))
        if distinct < self.n_clusters:
            import warnings

            warnings.warn(f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
                          f"({self.n_clusters}). Possibly due to duplicate points in X.", UserWarning, stacklevel=2)
        self._n_features_out = self.n_clusters
        return self

    def predict(self, X: Any) -> Any:
        """Index of the nearest centre of each sample."""
        check_is_fitted(self, "cluster_centers_")
        Xa = validate_data(self, X, reset=False, allow_nan=True, allow_inf=True)
        labels, _ = _checked(self, Xa, _assign, self.cluster_centers_, False)
        return wrap_like(labels, X)

    def transform(self, X: Any) -> Any:
        """Euclidean distance of each sample to each centre, shape (n, n_clusters)."""
        check_is_fitted(self, "cluster_centers_")
        Xa = validate_data(self, X, reset=False, allow_nan=True, allow_inf=True)
        return wrap_like(np.sqrt(_checked(self, Xa, _sq_dists, self.cluster_centers_)), X)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:  # type: ignore[override]
        """Opposite of the inertia of X against the fitted centres."""
        check_is_fitted(self, "cluster_centers_")
        Xa = validate_data(self, X, reset=False, allow_nan=True, allow_inf=True)
        _, mind = _checked(self, Xa, _assign, self.cluster_centers_)
        return -float((mind * check_sample_weight(sample_weight, len(Xa))).sum())

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """'kmeans0', 'kmeans1', ... (one per centre)."""
        check_is_fitted(self, "cluster_centers_")
        name = type(self).__name__.lower()
        return np.asarray([f"{name}{i}" for i in range(self.n_clusters)], dtype=object)


class MiniBatchKMeans(KMeans):
    """k-means on random mini-batches (Sculley 2010): each centre moves to the
    running mean of the samples ever assigned to it, so a step costs one
    batch's GEMMs; partial_fit streams batches.  Stops after max_iter epochs
    or when the smoothed batch inertia has not improved for
    max_no_improvement batches.  (scikit-learn's reassignment of
    rarely-hit centres is not implemented: reassignment_ratio is ignored.)"""

    def __init__(self, n_clusters: int = 8, *, init: Any = "k-means++", max_iter: int = 100, batch_size: int = 1024,
                 verbose: int = 0, compute_labels: bool = True, random_state: Any = None, tol: float = 0.0,
                 max_no_improvement: int | None = 10, init_size: int | None = None, n_init: Any = "auto",
                 reassignment_ratio: float = 0.01):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio

    algorithm = "lloyd"  # what KMeans._check validates; mini-batch steps are Lloyd-like

    def _step(self, Xb: np.ndarray, wb: np.ndarray) -> float:
        """One mini-batch update; returns the batch's inertia before the update."""
        Xt = _t(Xb)
        labels, mind = _assign(Xb, self.cluster_centers_)
        onehot = ember.one_hot(_t(labels), self.n_clusters).astype(Xt.dtype) * _t(wb)[:, None]
        bcounts = np.asarray(ember.sum(onehot, axis=0)).astype(np.float64)
        bsums = np.asarray(onehot.T @ Xt).astype(np.float64)
        hit = bcounts > 0
        new_counts = self._counts + bcounts
        C = self.cluster_centers_.astype(np.float64)
        C[hit] = (C[hit] * self._counts[hit, None] + bsums[hit]) / new_counts[hit, None]
        self._counts = new_counts
        self.cluster_centers_ = C.astype(Xb.dtype)
        return float((mind * wb).sum())

    def _start(self, X: np.ndarray, w: np.ndarray, gen: ember.Generator) -> None:
        n = X.shape[0]
        size = min(n, self.init_size or 3 * max(self.batch_size, self.n_clusters))
        sub = np.sort(np.asarray(gen.permutation(n))[:size])
        Xs = np.ascontiguousarray(X[sub])
        self.cluster_centers_ = _init_centers(self, Xs, w[sub], self.n_clusters, gen).astype(X.dtype)
        self._counts = np.zeros(self.n_clusters)
        self.n_steps_ = 0

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> "MiniBatchKMeans":
        """Clusters X by mini-batch passes; sets cluster_centers_, labels_, inertia_."""
        X = validate_data(self, X, reset=True)
        self._check(X.shape[0])
        w = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        gen = ember.Generator(seed_from(self.random_state))
        self._start(X, w, gen)
        n = X.shape[0]
        bs = min(self.batch_size, n)
        steps = self.max_iter * max(1, n // bs)
        ewa, best, stall = None, np.inf, 0
        for step in range(steps):
            idx = np.asarray(gen.integers(0, n, size=(bs,)))
            inertia = self._step(X[idx], w[idx]) / bs
            ewa = inertia if ewa is None else ewa * (1 - bs / n * 2) + inertia * (bs / n * 2)
            self.n_steps_ = step + 1
            if ewa < best:
                best, stall = ewa, 0
            else:
                stall += 1
                if self.max_no_improvement is not None and stall >= self.max_no_improvement:
                    break
        self.n_iter_ = int(np.ceil(self.n_steps_ * bs / n))
        if self.compute_labels:
            self.labels_, mind = _assign(X, self.cluster_centers_)
            self.inertia_ = float((mind * w).sum())
        self._n_features_out = self.n_clusters
        return self

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> "MiniBatchKMeans":
        """One mini-batch update with X (the first call also seeds the centres)."""
        first = not hasattr(self, "cluster_centers_")
        X = validate_data(self, X, reset=first)
        w = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        if first:
            self._check(X.shape[0])
            self._start(X, w, ember.Generator(seed_from(self.random_state)))
        self._step(X, w)
        self.n_steps_ += 1
        if self.compute_labels:
            self.labels_, mind = _assign(X, self.cluster_centers_)
            self.inertia_ = float((mind * w).sum())
        return self


def _dbscan_weights(sample_weight: Any, n: int) -> np.ndarray:
    """DBSCAN's weights as float64 (n,); unlike other estimators' they may be
    negative (as in scikit-learn: a negative weight keeps its neighbours from
    being core); libember rejects non-finite ones, naming the first."""
    if isinstance(sample_weight, numbers.Number):
        return np.full(n, float(sample_weight))
    w = np.ascontiguousarray(to_numpy(sample_weight), dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n},)!")
    if n and not w.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return w


class DBSCAN(ClusterMixin, BaseEstimator):
    """Density-based clustering: a point with at least min_samples points
    (itself included) within eps is a core point; clusters are the connected
    core points plus the points within eps of them; the rest is noise (-1).
    With sample_weight, a point is core when the weights of its neighbours
    sum to at least min_samples.  The whole fit runs in libember
    (csrc/ember/ml/dbscan.c): exact distances summed as scikit-learn's
    KD-tree does, a sweep along the widest feature to skip far pairs, and
    the expansion in C; labels_ and core_sample_indices_ equal
    scikit-learn's, clusters numbered in the order of their first core
    sample."""

    def __init__(self, eps: float = 0.5, *, min_samples: int = 5, metric: str = "euclidean",
                 metric_params: Any = None, algorithm: str = "auto", leaf_size: int = 30, p: float | None = None,
                 n_jobs: int | None = None):
        self.eps = eps
        self.min_samples = min_samples
        self.metric = metric
        self.metric_params = metric_params
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.p = p
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> "DBSCAN":
        """Finds core_sample_indices_, components_ and labels_."""
        if self.metric != "euclidean":
            raise ValueError(f"metric={self.metric!r} is not supported by ember's DBSCAN; use 'euclidean'")
        if not self.eps > 0:
            raise ValueError(f"eps must be > 0, got {self.eps}")
        if not isinstance(self.min_samples, (int, np.integer)) or isinstance(self.min_samples, bool) \
                or self.min_samples < 1:
            raise ValueError(f"min_samples must be an int >= 1, got {self.min_samples!r}")
        X = validate_data(self, X, reset=True)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        w = None if sample_weight is None else _dbscan_weights(sample_weight, X.shape[0])
        labels, core = _C._dbscan(np.ascontiguousarray(X), w, float(self.eps), float(self.min_samples))
        self.core_sample_indices_ = np.asarray(core)
        self.components_ = X[self.core_sample_indices_].copy()
        self.labels_ = np.asarray(labels)
        return self
