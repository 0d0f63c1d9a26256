"""k-nearest neighbours: KNeighborsClassifier, KNeighborsRegressor.

Brute force (Euclidean) in libember (csrc/ember/ml/knn.c): blocks of queries
against blocks of training points, ranked by |x|^2 - 2 q.x from one GEMM per
tile (with |x|^2 as its bias), a per-query heap keeps the k best (ties by
lower training index), and the winners' distances are recomputed exactly, so
the GEMM's cancellation error never reaches the returned distances or the
distance weights.  Manhattan (p=1) and other Minkowski p use a direct
broadcast with topk instead.  algorithm='kd_tree' (and 'auto' for
Euclidean distance, n >= 5000 and d <= 6, or d <= 8 from 50000 points)
queries a KD-tree built in C (csrc/ember/ml/kdtree.c) instead, with the
same results; 'ball_tree' is refused."""
from __future__ import annotations

from typing import Any

import numpy as np

import ember

from ._base import BaseEstimator, ClassifierMixin, RegressorMixin, check_is_fitted
from ._validation import check_classification_targets, validate_data, wrap_like

__all__ = ["KNeighborsClassifier", "KNeighborsRegressor"]

_BLOCK_BYTES = 64 << 20  # distance block of queries x training points


def _t(a: np.ndarray) -> ember.Tensor:
    return ember.asarray(np.ascontiguousarray(a))


class _KNeighborsBase(BaseEstimator):
    def __init__(self, n_neighbors: int = 5, *, weights: Any = "uniform", algorithm: str = "auto",
                 leaf_size: int = 30, p: float = 2, metric: str = "minkowski", metric_params: Any = None,
                 n_jobs: int | None = None):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.p = p
        self.metric = metric
        self.metric_params = metric_params
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        if self.algorithm not in ("auto", "brute", "kd_tree"):
            raise ValueError(f"algorithm={self.algorithm!r} is not available in ember (no ball tree); "
                             "use 'auto', 'brute' or 'kd_tree'")
        if self.algorithm == "kd_tree" and self._p != 2:
            raise ValueError("algorithm='kd_tree' supports the Euclidean metric only in ember (p=2)")
        if not isinstance(self.leaf_size, (int, np.integer)) or self.leaf_size < 1:
            raise ValueError(f"leaf_size must be an int >= 1, got {self.leaf_size!r}")
        if self.metric not in ("minkowski", "euclidean", "manhattan"):
            raise ValueError(f"metric={self.metric!r} is not supported; use 'minkowski', 'euclidean' or "
                             "'manhattan'")
        if not (isinstance(self.p, (int, float)) and self.p >= 1):
            raise ValueError(f"p must be >= 1, got {self.p!r}")
        if not callable(self.weights) and self.weights not in ("uniform", "distance"):
            raise ValueError(f"weights not recognized: should be 'uniform', 'distance', or a callable function, "
                             f"got {self.weights!r}")
        if not isinstance(self.n_neighbors, (int, np.integer)) or self.n_neighbors < 1:
            raise ValueError(f"Expected n_neighbors > 0. Got {self.n_neighbors}")

    @property
    def _p(self) -> float:
        return 2.0 if self.metric == "euclidean" else 1.0 if self.metric == "manhattan" else float(self.p)

    def _fit(self, X: Any, y: Any, multi_output: bool) -> tuple[np.ndarray, np.ndarray]:
        self._check_params()
        X, y = validate_data(self, X, y, multi_output=multi_output)
        self._fit_X = X
        self._fit_X64 = np.ascontiguousarray(X, dtype=np.float64) if self._p == 2 else None
        self._fit_t = _t(X) if self._p != 2 else None
        self.n_samples_fit_ = X.shape[0]
        self.effective_metric_ = "euclidean" if self._p == 2 else "manhattan" if self._p == 1 else "minkowski"
        n, d = X.shape
        # 'auto': the tree only where it beats the blocked brute force (measured on 2000 queries of
        # clustered data: the tree wins up to 6 features, and up to 8 from 50000 points; by 10
        # features brute force is faster at 10^5 points and the gap grows with d)
        kd = self.algorithm == "kd_tree" or (self.algorithm == "auto" and self._p == 2 and n >= 5000 and
                                             (d <= 6 or (d <= 8 and n >= 50_000)))
        self._kdtree = tuple(np.asarray(a) for a in ember._C._kdtree_build(X, self.leaf_size)) if kd else None
        return X, y

    def _exact(self, Q: np.ndarray, idx: np.ndarray) -> np.ndarray:
        diff = np.abs(Q[:, None, :] - self._fit_X[idx])
        p = self._p
        if p == 2:
            return np.sqrt(np.einsum("qkd,qkd->qk", diff, diff))
        if p == 1:
            return diff.sum(axis=2)
        return (diff ** p).sum(axis=2) ** (1.0 / p)

    def kneighbors(self, X: Any = None, n_neighbors: int | None = None, return_distance: bool = True):
        """(distances, indices) of the n_neighbors nearest training points of
        each query, nearest first.  X=None queries the training points
        themselves, each excluding itself."""
        check_is_fitted(self, "_fit_X")
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        if k < 1:
            raise ValueError(f"Expected n_neighbors > 0. Got {k}")
        self_query = X is None
        Q = self._fit_X if self_query else validate_data(self, X, reset=False)
        kk = k + 1 if self_query else k
        if kk > self.n_samples_fit_:
            raise ValueError(f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {kk}, n_samples_fit = "
                             f"{self.n_samples_fit_}, n_samples = {len(Q)}")
        Qd = Q.astype(self._fit_X.dtype, copy=False)
        if getattr(self, "_kdtree", None) is not None:
            # exact distances, sorted by (distance, index) in C
            dist, idx_out = (np.asarray(a) for a in ember._C._kdtree_query(
                *self._kdtree, self._fit_X64, Q.astype(np.float64, copy=False), kk))
            if self._fit_X.dtype != np.float64:
                dist = dist.astype(self._fit_X.dtype)
            return self._finish_kneighbors(X, self_query, dist, idx_out, k, kk, return_distance)
        if self._p == 2:
            # blocked GEMM ranking + per-query heap + exact distances, all in C (ml/knn.c)
            dist, idx_out = (np.asarray(a) for a in ember._C._knn_brute(
                self._fit_X64, np.ascontiguousarray(Q, dtype=np.float64), kk))
            if self._fit_X.dtype != np.float64:
                dist = dist.astype(self._fit_X.dtype)
            return self._finish_kneighbors(X, self_query, dist, idx_out, k, kk, return_distance)
        block = max(1, _BLOCK_BYTES // max(1, 8 * self.n_samples_fit_))
        idx_out = np.empty((len(Q), kk), dtype=np.int64)
        for s in range(0, len(Q), block):
            q = _t(Qd[s:s + block])
            diff = ember.abs(q[:, None, :] - self._fit_t[None, :, :])
            d = ember.sum(diff if self._p == 1 else diff ** self._p, axis=2)
            idx_out[s:s + block] = np.asarray(ember.topk(d, kk, axis=1, largest=False).indices)
        dist = self._exact(Qd, idx_out)
        # the GEMM may order near-ties differently from the exact distances: re-sort stably
        order = np.argsort(dist, axis=1, kind="stable")
        idx_out = np.take_along_axis(idx_out, order, axis=1)
        dist = np.take_along_axis(dist, order, axis=1)
        return self._finish_kneighbors(X, self_query, dist, idx_out, k, kk, return_distance)

    def _finish_kneighbors(self, X: Any, self_query: bool, dist: np.ndarray, idx_out: np.ndarray, k: int, kk: int,
                           return_distance: bool):
        Q = idx_out
        if self_query:
            rows = np.arange(len(Q))
            is_self = idx_out == rows[:, None]
            drop = np.where(is_self.any(axis=1), np.argmax(is_self, axis=1), kk - 1)
            keep = np.ones_like(idx_out, dtype=bool)
            keep[rows, drop] = False
            idx_out = idx_out[keep].reshape(len(Q), k)
            dist = dist[keep].reshape(len(Q), k)
        if return_distance:
            return wrap_like(dist, X), wrap_like(idx_out, X)
        return wrap_like(idx_out, X)

    def _weights_of(self, dist: np.ndarray) -> np.ndarray | None:
        if self.weights == "uniform":
            return None
        if self.weights == "distance":
            with np.errstate(divide="ignore"):
                w = 1.0 / dist
            zero = np.isinf(w).any(axis=1)
            # a query on top of training points: only those exact matches vote
            w[zero] = (dist[zero] == 0).astype(np.float64)
            return w
        return np.asarray(self.weights(dist), dtype=np.float64)


class KNeighborsClassifier(ClassifierMixin, _KNeighborsBase):
    """Classifies by the (optionally distance-weighted) vote of the
    n_neighbors nearest training samples."""

    def fit(self, X: Any, y: Any) -> "KNeighborsClassifier":
        """Stores the training set."""
        X, y = self._fit(X, y, multi_output=False)  # one output: a column y is raveled with a warning
        check_classification_targets(y)
        self.classes_, self._y = np.unique(y, return_inverse=True)
        self.outputs_2d_ = False
        return self

    def predict_proba(self, X: Any) -> Any:
        """Vote shares of each class among the neighbours."""
        dist, idx = self.kneighbors(np.asarray(X) if isinstance(X, ember.Tensor) else X)
        dist, idx = np.asarray(dist), np.asarray(idx)
        w = self._weights_of(dist)
        votes = np.zeros((len(idx), len(self.classes_)))
        rows = np.repeat(np.arange(len(idx)), idx.shape[1])
        np.add.at(votes, (rows, self._y[idx].ravel()), 1.0 if w is None else w.ravel())
        total = votes.sum(axis=1, keepdims=True)
        proba = votes / np.where(total > 0, total, 1.0)
        return wrap_like(proba, X)

    def predict(self, X: Any) -> Any:
        """The class with the largest vote (ties: the smallest class label)."""
        proba = np.asarray(self.predict_proba(X))
        return wrap_like(self.classes_[np.argmax(proba, axis=1)], X)


class KNeighborsRegressor(RegressorMixin, _KNeighborsBase):
    """Predicts the (optionally distance-weighted) mean target of the
    n_neighbors nearest training samples."""

    def fit(self, X: Any, y: Any) -> "KNeighborsRegressor":
        """Stores the training set."""
        X, y = self._fit(X, y, multi_output=True)
        self._y = y.astype(np.float64)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X: Any) -> Any:
        """Mean of the neighbours' targets (weighted by weights)."""
        dist, idx = self.kneighbors(np.asarray(X) if isinstance(X, ember.Tensor) else X)
        dist, idx = np.asarray(dist), np.asarray(idx)
        w = self._weights_of(dist)
        yk = self._y[idx]
        if w is None:
            out = yk.mean(axis=1)
        else:
            w = w.reshape(w.shape + (1,) * (yk.ndim - 2))
            out = (yk * w).sum(axis=1) / w.sum(axis=1)
        return wrap_like(out, X)
