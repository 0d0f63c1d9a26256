"""Histogram gradient boosting (scikit-learn's HistGradientBoosting*), grown by libember (csrc/ember/ml/hgb.c).

Features are binned once into at most ``max_bins`` quantile bins (NaN gets a
bin of its own); each iteration fits one tree per output to the gradients and
hessians of the loss, best-first on per-bin histograms, and adds its shrunk
leaf values.  The boosting loop (losses, baseline, early stopping) is here;
binning, tree growth and prediction run in C.  Fitted trees are plain arrays
concatenated in ``_nodes`` so the estimators pickle."""
from __future__ import annotations

import numbers
from typing import Any, Iterator

import numpy as np

from .. import _C
from ._base import BaseEstimator, ClassifierMixin, RegressorMixin, check_is_fitted
from ._validation import check_classification_targets, check_sample_weight, seed_from, validate_data, wrap_like

__all__ = ["HistGradientBoostingClassifier", "HistGradientBoostingRegressor"]

_PARTS = ("left", "right", "feature", "bin_threshold", "missing_left", "count", "threshold", "value", "gain")
_SUBSAMPLE = 200_000  # rows used to find the bin thresholds, as scikit-learn
_EPS = 1e-15


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class _BaseHGB(BaseEstimator):
    _regression = False
    _allow_nan = True
    _loss_name = ""  # the one value of `loss` that is implemented

    def _store_params(self, params: dict[str, Any]) -> None:
        # the subclass's __init__ passes its locals(): every keyword argument
        # is stored unchanged, as scikit-learn's get_params/clone expect
        for name, value in params.items():
            if name != "self":
                setattr(self, name, value)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "_BaseHGB":
        """Fits the boosted trees to (X, y)."""
        if self.loss != self._loss_name:
            raise ValueError(f"loss={self.loss!r} is not implemented in ember; use {self._loss_name!r}")
        return self._fit(X, y, sample_weight)

    def _check_params(self) -> None:
        def integer(v: Any) -> bool:
            return isinstance(v, numbers.Integral) and not isinstance(v, bool)

        if not integer(self.max_iter) or self.max_iter < 1:
            raise ValueError(f"max_iter must be an int >= 1, got {self.max_iter!r}")
        if not isinstance(self.learning_rate, numbers.Real) or not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.max_leaf_nodes is not None and (not integer(self.max_leaf_nodes) or self.max_leaf_nodes < 2):
            raise ValueError(f"max_leaf_nodes must be None or an int >= 2, got {self.max_leaf_nodes!r}")
        if self.max_depth is not None and (not integer(self.max_depth) or self.max_depth < 1):
            raise ValueError(f"max_depth must be None or an int >= 1, got {self.max_depth!r}")
        if not integer(self.min_samples_leaf) or self.min_samples_leaf < 1:
            raise ValueError(f"min_samples_leaf must be an int >= 1, got {self.min_samples_leaf!r}")
        if not isinstance(self.l2_regularization, numbers.Real) or not self.l2_regularization >= 0:
            raise ValueError(f"l2_regularization must be >= 0, got {self.l2_regularization!r}")
        if not integer(self.max_bins) or not 2 <= self.max_bins <= 255:
            raise ValueError(f"max_bins must be an int in [2, 255], got {self.max_bins!r}")
        if self.early_stopping not in ("auto", True, False):
            raise ValueError(f"early_stopping must be 'auto', True or False, got {self.early_stopping!r}")
        if self.scoring != "loss":
            raise ValueError(f"scoring={self.scoring!r} is not implemented in ember; use 'loss'")
        vf = self.validation_fraction
        if vf is not None and not ((integer(vf) and vf >= 1) or (isinstance(vf, numbers.Real) and 0 < vf < 1)):
            raise ValueError(f"validation_fraction must be None, an int >= 1 or a float in (0, 1), got {vf!r}")
        if not integer(self.n_iter_no_change) or self.n_iter_no_change < 1:
            raise ValueError(f"n_iter_no_change must be an int >= 1, got {self.n_iter_no_change!r}")
        if not isinstance(self.tol, numbers.Real) or not self.tol >= 0:
            raise ValueError(f"tol must be >= 0, got {self.tol!r}")
        if self.max_features != 1.0:
            raise ValueError("max_features (feature subsampling) is not implemented in ember; use 1.0")
        if self.categorical_features not in (None, "from_dtype"):
            raise ValueError("categorical_features is not implemented in ember: encode categories as numbers "
                             "(e.g. OrdinalEncoder) and pass categorical_features=None")
        if self.monotonic_cst is not None or self.interaction_cst is not None:
            raise ValueError("monotonic_cst and interaction_cst are not implemented in ember; use None")
        if self.warm_start:
            raise ValueError("warm_start is not implemented in ember; use False")

    # ---- the loss: baseline, gradients, value ---------------------------------
    def _baseline(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _grad_hess(self, y: np.ndarray, raw: np.ndarray, w: np.ndarray,
                   unit_w: bool) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def _loss(self, y: np.ndarray, raw: np.ndarray, w: np.ndarray) -> float:
        raise NotImplementedError

    def _split(self, n: int, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        vf = self.validation_fraction
        n_val = int(vf) if isinstance(vf, numbers.Integral) else int(np.ceil(vf * n))
        if not 1 <= n_val < n:
            raise ValueError(f"validation_fraction={vf!r} leaves no training or no validation sample of {n}")
        if self._regression:
            perm = rng.permutation(n)
            return np.sort(perm[n_val:]), np.sort(perm[:n_val])
        # stratified: each class gives its share of the validation set
        val = []
        for c in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == c))
            val.append(idx[:int(round(n_val * len(idx) / n))])
        v = np.sort(np.concatenate(val))
        mask = np.ones(n, bool)
        mask[v] = False
        return np.flatnonzero(mask), v

    def _should_stop(self, scores: list[float]) -> bool:
        ref = self.n_iter_no_change + 1
        if len(scores) < ref:
            return False
        return not any(s > scores[-ref] + self.tol for s in scores[-ref + 1:])

    def _fit(self, X: Any, y: Any, sample_weight: Any) -> "_BaseHGB":
        self._check_params()
        if hasattr(X, "dtypes") and any(str(t) == "category" for t in X.dtypes):
            raise ValueError("categorical_features is not implemented in ember: X has categorical columns")
        X, y = validate_data(self, X, y, reset=True, y_numeric=self._regression)
        X = np.ascontiguousarray(X, dtype=np.float64)
        if not np.isfinite(X[~np.isnan(X)]).all():
            raise ValueError("Input X contains infinity or a value too large for dtype('float64').")
        y = self._encode_y(y)
        n = len(X)
        unit_w = sample_weight is None
        w = check_sample_weight(sample_weight, n) * self._class_weights(y)
        if not self._regression and (np.bincount(y, weights=w) > 0).sum() < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes with a non-zero sample weight")
        rng = np.random.default_rng(seed_from(self.random_state))
        es = self.early_stopping
        self.do_early_stopping_ = bool(n > 10_000 if es == "auto" else es)
        use_val = self.do_early_stopping_ and self.validation_fraction is not None
        if use_val:
            tr, va = self._split(n, y, rng)
            Xt, yt, wt, Xv, yv, wv = X[tr], y[tr], w[tr], X[va], y[va], w[va]
        else:
            Xt, yt, wt = X, y, w
        sub = Xt if len(Xt) <= _SUBSAMPLE else Xt[np.sort(rng.choice(len(Xt), _SUBSAMPLE, replace=False))]
        thr, nthr = (np.asarray(a) for a in _C._hgb_bin_fit(sub, self.max_bins))
        self._bin_thresholds, self._n_thresholds = thr, nthr
        codes = _C._hgb_bin_apply(Xt, thr, nthr, self.max_bins)
        codes_v = _C._hgb_bin_apply(Xv, thr, nthr, self.max_bins) if use_val else None
        self._baseline_prediction = self._baseline(yt, wt)
        K = len(self._baseline_prediction)
        self.n_trees_per_iteration_ = K
        raw = np.tile(self._baseline_prediction, (len(Xt), 1))
        raw_v = np.tile(self._baseline_prediction, (len(Xv), 1)) if use_val else None
        train_scores, val_scores = [], []
        if self.do_early_stopping_:
            train_scores.append(-self._loss(yt, raw, wt))
            if use_val:
                val_scores.append(-self._loss(yv, raw_v, wv))
        trees: list[list[np.ndarray]] = []
        md = -1 if self.max_depth is None else self.max_depth
        mln = 0 if self.max_leaf_nodes is None else self.max_leaf_nodes
        for _ in range(self.max_iter):
            grad, hess = self._grad_hess(yt, raw, wt, unit_w)
            new = []
            for k in range(K):
                h = None if hess is None else np.ascontiguousarray(hess[:, k])
                parts, pred = _C._hgb_grow(codes, thr, nthr, self.max_bins, np.ascontiguousarray(grad[:, k]), h,
                                           mln, md, self.min_samples_leaf, float(self.l2_regularization),
                                           float(self.learning_rate))
                new.append([np.asarray(p) for p in parts])
                raw[:, k] += np.asarray(pred)
            trees.extend(new)
            if self.do_early_stopping_:
                train_scores.append(-self._loss(yt, raw, wt))
                if use_val:
                    raw_v += self._predict_trees(new, list(range(K)), codes_v, K)
                    val_scores.append(-self._loss(yv, raw_v, wv))
                if self._should_stop(val_scores if use_val else train_scores):
                    break
        self._set_trees(trees)
        self.n_iter_ = len(trees) // K
        self.train_score_ = np.asarray(train_scores)
        self.validation_score_ = np.asarray(val_scores)
        return self

    def _set_trees(self, trees: list[list[np.ndarray]]) -> None:
        sizes = np.array([len(t[0]) for t in trees], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        nodes = {}
        for j, name in enumerate(_PARTS):
            arrs = []
            for t, off in zip(trees, offsets):
                a = t[j]
                if name in ("left", "right"):
                    a = np.where(a >= 0, a + off, -1)
                arrs.append(a)
            nodes[name] = np.ascontiguousarray(np.concatenate(arrs))
        self._nodes = nodes
        self._roots = offsets
        self._tree_sizes = sizes

    def _predict_trees(self, trees: list[list[np.ndarray]], outputs: list[int], Xb: Any, K: int) -> np.ndarray:
        """Sum of the leaf values of these (not concatenated) trees."""
        sizes = [len(t[0]) for t in trees]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        cat = [np.concatenate([np.where(t[j] >= 0, t[j] + o, -1) if j < 2 else t[j] for t, o in zip(trees, offsets)])
               for j in range(len(_PARTS))]
        return np.asarray(_C._hgb_predict(*cat[:5], cat[6], cat[7], offsets, np.asarray(outputs, dtype=np.int64),
                                          Xb, self.max_bins, K))

    def _fitted_X(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "_nodes")
        return np.asarray(validate_data(self, X, reset=False), dtype=np.float64)

    def _predict_roots(self, roots: np.ndarray, outputs: np.ndarray, Xa: np.ndarray) -> np.ndarray:
        """Sum of the leaf values of the fitted trees starting at roots (tree i adds to output outputs[i])."""
        nd = self._nodes
        return np.asarray(_C._hgb_predict(nd["left"], nd["right"], nd["feature"], nd["bin_threshold"],
                                          nd["missing_left"], nd["threshold"], nd["value"], roots, outputs, Xa,
                                          self.max_bins, self.n_trees_per_iteration_))

    def _raw(self, X: Any, n_iter: int | None = None) -> np.ndarray:
        Xa = self._fitted_X(X)
        K = self.n_trees_per_iteration_
        T = len(self._roots) if n_iter is None else n_iter * K
        return self._predict_roots(self._roots[:T], np.arange(T, dtype=np.int64) % K, Xa) + self._baseline_prediction

    def _staged_raw(self, X: Any) -> Iterator[np.ndarray]:
        Xa = self._fitted_X(X)
        K = self.n_trees_per_iteration_
        raw = np.zeros((len(Xa), K))  # trees summed from 0 in order, as in _raw, so the last stage equals it
        for i in range(self.n_iter_):
            raw = raw + self._predict_roots(self._roots[i * K:(i + 1) * K], np.arange(K, dtype=np.int64), Xa)
            yield raw + self._baseline_prediction

    def _encode_y(self, y: np.ndarray) -> np.ndarray:
        return y

    def _class_weights(self, y: np.ndarray) -> np.ndarray | float:
        return 1.0


_COMMON_DOC = """

    Parameters follow scikit-learn's: learning_rate, max_iter, max_leaf_nodes (31), max_depth,
    min_samples_leaf (20), l2_regularization, max_bins (255), early_stopping ('auto': on when
    there are more than 10000 samples), scoring ('loss' only), validation_fraction,
    n_iter_no_change, tol, random_state.  NaN in X is supported: at each split the missing
    values go to the side learned from the training data.  Categorical features, monotonic or
    interaction constraints, feature subsampling and warm starts are not implemented (they are
    refused with an error)."""


class HistGradientBoostingRegressor(RegressorMixin, _BaseHGB):
    __doc__ = "Histogram-based gradient boosting for regression (loss 'squared_error')." + _COMMON_DOC

    _regression = True
    _loss_name = "squared_error"

    def __init__(self, loss: str = "squared_error", *, quantile: float | None = None, learning_rate: float = 0.1,
                 max_iter: int = 100, max_leaf_nodes: int | None = 31, max_depth: int | None = None,
                 min_samples_leaf: int = 20, l2_regularization: float = 0.0, max_features: float = 1.0,
                 max_bins: int = 255, categorical_features: Any = "from_dtype", monotonic_cst: Any = None,
                 interaction_cst: Any = None, warm_start: bool = False, early_stopping: Any = "auto",
                 scoring: Any = "loss", validation_fraction: Any = 0.1, n_iter_no_change: int = 10,
                 tol: float = 1e-7, verbose: int = 0, random_state: Any = None):
        self._store_params(locals())

    def _encode_y(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=np.float64)

    def _baseline(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.array([np.average(y, weights=w)])

    def _grad_hess(self, y: np.ndarray, raw: np.ndarray, w: np.ndarray,
                   unit_w: bool) -> tuple[np.ndarray, np.ndarray | None]:
        g = raw[:, 0] - y
        if unit_w:
            return g[:, None], None
        return (w * g)[:, None], w[:, None].copy()

    def _loss(self, y: np.ndarray, raw: np.ndarray, w: np.ndarray) -> float:
        return float(np.average(0.5 * (raw[:, 0] - y) ** 2, weights=w))

    def predict(self, X: Any) -> Any:
        """Sum of the baseline and every tree's leaf value."""
        return wrap_like(self._raw(X)[:, 0], X)

    def staged_predict(self, X: Any) -> Iterator[Any]:
        """Predictions after each iteration."""
        for raw in self._staged_raw(X):
            yield wrap_like(raw[:, 0].copy(), X)


class HistGradientBoostingClassifier(ClassifierMixin, _BaseHGB):
    __doc__ = ("Histogram-based gradient boosting for classification (loss 'log_loss': binomial for two "
               "classes, multinomial with one tree per class and iteration beyond)." + _COMMON_DOC)

    _loss_name = "log_loss"

    def __init__(self, loss: str = "log_loss", *, learning_rate: float = 0.1, max_iter: int = 100,
                 max_leaf_nodes: int | None = 31, max_depth: int | None = None, min_samples_leaf: int = 20,
                 l2_regularization: float = 0.0, max_features: float = 1.0, max_bins: int = 255,
                 categorical_features: Any = "from_dtype", monotonic_cst: Any = None, interaction_cst: Any = None,
                 warm_start: bool = False, early_stopping: Any = "auto", scoring: Any = "loss",
                 validation_fraction: Any = 0.1, n_iter_no_change: int = 10, tol: float = 1e-7, verbose: int = 0,
                 random_state: Any = None, class_weight: Any = None):
        self._store_params(locals())

    def _encode_y(self, y: np.ndarray) -> np.ndarray:
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in y; got 1 class")
        return codes.astype(np.int64)

    def _class_weights(self, y: np.ndarray) -> np.ndarray | float:
        cw = self.class_weight
        if cw is None:
            return 1.0
        k = len(self.classes_)
        if cw == "balanced":
            per_class = len(y) / (k * np.bincount(y, minlength=k))
        elif isinstance(cw, dict):
            per_class = np.array([cw.get(c, 1.0) for c in self.classes_], dtype=np.float64)
        else:
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")
        return per_class[y]

    def _baseline(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        k = len(self.classes_)
        p = np.clip(np.bincount(y, weights=w, minlength=k) / w.sum(), _EPS, 1 - _EPS)
        if k == 2:
            return np.array([np.log(p[1] / p[0])])
        return np.log(p) - np.log(p).mean()

    def _proba(self, raw: np.ndarray) -> np.ndarray:
        if raw.shape[1] == 1:
            p1 = _sigmoid(raw[:, 0])
            return np.stack([1 - p1, p1], axis=1)
        return _softmax(raw)

    def _grad_hess(self, y: np.ndarray, raw: np.ndarray, w: np.ndarray,
                   unit_w: bool) -> tuple[np.ndarray, np.ndarray | None]:
        if raw.shape[1] == 1:
            p = _sigmoid(raw)
            onehot = y[:, None].astype(np.float64)
        else:
            p = _softmax(raw)
            onehot = np.zeros_like(p)
            onehot[np.arange(len(y)), y] = 1.0
        g, h = p - onehot, p * (1 - p)
        return w[:, None] * g, w[:, None] * h

    def _loss(self, y: np.ndarray, raw: np.ndarray, w: np.ndarray) -> float:
        p = np.clip(self._proba(raw)[np.arange(len(y)), y], 1e-300, 1.0)
        return float(np.average(-np.log(p), weights=w))

    def decision_function(self, X: Any) -> Any:
        """Raw scores: the log-odds of classes_[1] (two classes) or one score per class."""
        raw = self._raw(X)
        return wrap_like(raw[:, 0] if raw.shape[1] == 1 else raw, X)

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities (sigmoid or softmax of the raw scores)."""
        return wrap_like(self._proba(self._raw(X)), X)

    def _classes_of(self, raw: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self._proba(raw), axis=1)]

    def predict(self, X: Any) -> Any:
        """The most probable class."""
        return wrap_like(self._classes_of(self._raw(X)), X)

    def staged_predict_proba(self, X: Any) -> Iterator[Any]:
        """Class probabilities after each iteration."""
        for raw in self._staged_raw(X):
            yield wrap_like(self._proba(raw), X)

    def staged_predict(self, X: Any) -> Iterator[Any]:
        """Predicted classes after each iteration."""
        for raw in self._staged_raw(X):
            yield wrap_like(self._classes_of(raw), X)

    def staged_decision_function(self, X: Any) -> Iterator[Any]:
        """Raw scores after each iteration."""
        for raw in self._staged_raw(X):
            yield wrap_like(raw[:, 0].copy() if raw.shape[1] == 1 else raw.copy(), X)
