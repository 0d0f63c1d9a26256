"""Decision trees and random forests (CART), grown by libember (csrc/ember/ml/tree.c).

A fitted tree is kept as plain arrays in ``tree_`` (children, feature,
threshold, value, impurity, sample counts), the layout scikit-learn users
know; prediction walks them in C.  Features are compared as float32, as in
scikit-learn, so thresholds and predictions agree with it."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import _C
from ._base import BaseEstimator, ClassifierMixin, RegressorMixin, check_is_fitted
from ._validation import (check_classification_targets, check_sample_weight, seed_from, validate_data,
                          wrap_like)

__all__ = ["DecisionTreeClassifier", "DecisionTreeRegressor", "RandomForestClassifier", "RandomForestRegressor"]

_CRITERIA = {"gini": 0, "entropy": 1, "log_loss": 1, "squared_error": 2}


class Tree:
    """The arrays of a fitted tree (scikit-learn's ``tree_`` layout).  Node i
    is a leaf when children_left[i] == -1; value[i] holds the weighted class
    counts (classifiers) or the mean target (regressors) of its samples."""

    def __init__(self, parts: tuple, n_features: int):
        (left, right, feature, threshold, impurity, n_samples, wn, value, depth) = parts
        self.children_left = np.asarray(left)
        self.children_right = np.asarray(right)
        self.feature = np.asarray(feature)
        self.threshold = np.asarray(threshold)
        self.impurity = np.asarray(impurity)
        self.n_node_samples = np.asarray(n_samples)
        self.weighted_n_node_samples = np.asarray(wn)
        self.value = np.asarray(value)[:, None, :]  # (nodes, outputs = 1, values)
        self.max_depth = int(depth)
        self.node_count = len(self.children_left)
        self.n_features = n_features

    @property
    def n_leaves(self) -> int:
        return int((self.children_left == -1).sum())

    def apply(self, X32: np.ndarray) -> np.ndarray:
        return np.asarray(_C._tree_apply(self.children_left, self.children_right, self.feature, self.threshold, X32))

    def importances(self) -> np.ndarray:
        """Normalised total weighted impurity decrease per feature."""
        imp = np.zeros(self.n_features)
        inner = np.flatnonzero(self.children_left >= 0)
        w, i = self.weighted_n_node_samples, self.impurity
        left, right = self.children_left[inner], self.children_right[inner]
        np.add.at(imp, self.feature[inner], w[inner] * i[inner] - w[left] * i[left] - w[right] * i[right])
        total = imp.sum()
        return imp / total if total > 0 else imp


def _resolve_max_features(mf: Any, d: int, default_all: bool = True) -> int:
    if mf is None:
        return d
    if isinstance(mf, str):
        if mf == "sqrt":
            return max(1, int(np.sqrt(d)))
        if mf == "log2":
            return max(1, int(np.log2(d)))
        raise ValueError(f"max_features must be an int, a float, 'sqrt', 'log2' or None, got {mf!r}")
    if isinstance(mf, numbers.Integral):
        if not 1 <= mf <= d:
            raise ValueError(f"max_features must be in [1, n_features={d}], got {mf}")
        return int(mf)
    if isinstance(mf, numbers.Real) and 0 < mf <= 1:
        return max(1, int(mf * d))
    raise ValueError(f"max_features must be an int, a float in (0, 1], 'sqrt', 'log2' or None, got {mf!r}")


def _count_or_fraction(v: Any, n: int, name: str, minimum: int) -> int:
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        if v < minimum:
            raise ValueError(f"{name} must be an int >= {minimum} or a float in (0, 1], got {v}")
        return int(v)
    if isinstance(v, numbers.Real) and 0 < v <= 1:
        return max(minimum, int(np.ceil(v * n)))
    raise ValueError(f"{name} must be an int >= {minimum} or a float in (0, 1], got {v!r}")


class _TreeParams:
    """Shared parameter handling of trees and forests."""

    def _tree_kwargs(self, n: int, d: int, default_max_features: Any) -> dict[str, Any]:
        if self.criterion not in _CRITERIA or (_CRITERIA[self.criterion] == 2) != self._regression:
            valid = ["squared_error"] if self._regression else ["gini", "entropy", "log_loss"]
            raise ValueError(f"criterion must be one of {valid}, got {self.criterion!r}")
        if self.max_depth is not None and (not isinstance(self.max_depth, numbers.Integral) or self.max_depth < 1):
            raise ValueError(f"max_depth must be None or an int >= 1, got {self.max_depth!r}")
        if getattr(self, "ccp_alpha", 0.0):
            raise ValueError("ccp_alpha (cost-complexity pruning) is not implemented in ember; use 0.0")
        if getattr(self, "min_weight_fraction_leaf", 0.0):
            raise ValueError("min_weight_fraction_leaf is not implemented in ember; use 0.0")
        if getattr(self, "max_leaf_nodes", None) is not None:
            raise ValueError("max_leaf_nodes is not implemented in ember (trees grow depth-first); use None")
        mf = self.max_features if self.max_features != "auto" else default_max_features
        return {"criterion": _CRITERIA[self.criterion], "max_depth": -1 if self.max_depth is None else self.max_depth,
                "min_samples_split": _count_or_fraction(self.min_samples_split, n, "min_samples_split", 2),
                "min_samples_leaf": _count_or_fraction(self.min_samples_leaf, n, "min_samples_leaf", 1),
                "max_features": _resolve_max_features(mf, d),
                "min_impurity_decrease": float(self.min_impurity_decrease)}

    def _targets(self, y: np.ndarray) -> tuple[np.ndarray, int]:
        if self._regression:
            return y.astype(np.float64), 1
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        self.n_classes_ = len(self.classes_)
        return codes.astype(np.int64), self.n_classes_

    @staticmethod
    def _to32(Xa: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            X32 = Xa.astype(np.float32)
        if not np.isfinite(X32).all():
            raise ValueError("Input X contains infinity or a value too large for dtype('float32').")
        return X32


class _BaseDecisionTree(_TreeParams, BaseEstimator):
    _regression = False

    def __init__(self, *, criterion: str = "gini", splitter: str = "best", max_depth: int | None = None,
                 min_samples_split: Any = 2, min_samples_leaf: Any = 1, min_weight_fraction_leaf: float = 0.0,
                 max_features: Any = None, random_state: Any = None, max_leaf_nodes: int | None = None,
                 min_impurity_decrease: float = 0.0, ccp_alpha: float = 0.0):
        self.criterion = criterion
        self.splitter = splitter
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.random_state = random_state
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.ccp_alpha = ccp_alpha

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "_BaseDecisionTree":
        """Grows the tree."""
        if self.splitter != "best":
            raise ValueError(f"splitter={self.splitter!r} is not implemented in ember; use 'best'")
        X, y = validate_data(self, X, y, reset=True)
        X32 = self._to32(X)
        codes, k = self._targets(y)
        w = None if sample_weight is None else check_sample_weight(sample_weight, len(X))
        kw = self._tree_kwargs(*X.shape, None)
        self.max_features_ = kw["max_features"]
        self.tree_ = Tree(_C._tree_fit(X32, codes, w, k, seed=seed_from(self.random_state), **kw), X.shape[1])
        return self

    def apply(self, X: Any) -> Any:
        """Index of the leaf each sample ends in."""
        check_is_fitted(self, "tree_")
        return wrap_like(self.tree_.apply(self._to32(validate_data(self, X, reset=False))), X)

    def _leaf_values(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "tree_")
        return self.tree_.value[self.tree_.apply(self._to32(validate_data(self, X, reset=False))), 0]

    def get_depth(self) -> int:
        """Depth of the tree (a lone root has depth 0)."""
        check_is_fitted(self, "tree_")
        return self.tree_.max_depth

    def get_n_leaves(self) -> int:
        """Number of leaves."""
        check_is_fitted(self, "tree_")
        return self.tree_.n_leaves

    @property
    def feature_importances_(self) -> np.ndarray:
        """Normalised total impurity decrease brought by each feature."""
        check_is_fitted(self, "tree_")
        return self.tree_.importances()


class DecisionTreeClassifier(ClassifierMixin, _BaseDecisionTree):
    """A CART classification tree (criterion 'gini' or 'entropy'/'log_loss')."""

    def predict_proba(self, X: Any) -> Any:
        """Class shares of the training samples in each sample's leaf."""
        v = self._leaf_values(X)
        s = v.sum(axis=1, keepdims=True)
        return wrap_like(v / np.where(s > 0, s, 1), X)

    def predict_log_proba(self, X: Any) -> Any:
        """Log of predict_proba."""
        with np.errstate(divide="ignore"):
            return wrap_like(np.log(np.asarray(self.predict_proba(np.asarray(X) if hasattr(X, "shape") else X))), X)

    def predict(self, X: Any) -> Any:
        """The majority class of each sample's leaf."""
        v = self._leaf_values(X)  # first: it raises NotFittedError before classes_ is read
        return wrap_like(self.classes_[np.argmax(v, axis=1)], X)


class DecisionTreeRegressor(RegressorMixin, _BaseDecisionTree):
    """A CART regression tree (criterion 'squared_error')."""

    _regression = True

    def __init__(self, *, criterion: str = "squared_error", splitter: str = "best", max_depth: int | None = None,
                 min_samples_split: Any = 2, min_samples_leaf: Any = 1, min_weight_fraction_leaf: float = 0.0,
                 max_features: Any = None, random_state: Any = None, max_leaf_nodes: int | None = None,
                 min_impurity_decrease: float = 0.0, ccp_alpha: float = 0.0):
        super().__init__(criterion=criterion, splitter=splitter, max_depth=max_depth,
                         min_samples_split=min_samples_split, min_samples_leaf=min_samples_leaf,
                         min_weight_fraction_leaf=min_weight_fraction_leaf, max_features=max_features,
                         random_state=random_state, max_leaf_nodes=max_leaf_nodes,
                         min_impurity_decrease=min_impurity_decrease, ccp_alpha=ccp_alpha)

    def predict(self, X: Any) -> Any:
        """The mean training target of each sample's leaf."""
        return wrap_like(self._leaf_values(X)[:, 0], X)


class _BaseForest(_TreeParams, BaseEstimator):
    _regression = False

    def __init__(self, n_estimators: int = 100, *, criterion: str = "gini", max_depth: int | None = None,
                 min_samples_split: Any = 2, min_samples_leaf: Any = 1, min_weight_fraction_leaf: float = 0.0,
                 max_features: Any = "sqrt", max_leaf_nodes: int | None = None, min_impurity_decrease: float = 0.0,
                 bootstrap: bool = True, oob_score: bool = False, n_jobs: int | None = None,
                 random_state: Any = None, verbose: int = 0, warm_start: bool = False, ccp_alpha: float = 0.0,
                 max_samples: Any = None):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.bootstrap = bootstrap
        self.oob_score = oob_score
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.ccp_alpha = ccp_alpha
        self.max_samples = max_samples

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "_BaseForest":
        """Grows n_estimators trees in parallel on ember's thread pool (the
        forest is the same for any thread count; n_jobs is ignored — use
        ember.set_num_threads)."""
        if self.oob_score:
            raise ValueError("oob_score is not implemented in ember; use oob_score=False")
        if self.warm_start:
            raise ValueError("warm_start is not implemented in ember; use warm_start=False")
        if not isinstance(self.n_estimators, numbers.Integral) or self.n_estimators < 1:
            raise ValueError(f"n_estimators must be an int >= 1, got {self.n_estimators!r}")
        X, y = validate_data(self, X, y, reset=True)
        X32 = self._to32(X)
        codes, k = self._targets(y)
        n = len(X)
        w = None if sample_weight is None else check_sample_weight(sample_weight, n)
        kw = self._tree_kwargs(n, X.shape[1], None)
        if self.max_samples is None:
            draws = n
        elif isinstance(self.max_samples, numbers.Integral):
            draws = int(self.max_samples)
        else:
            draws = max(1, int(round(float(self.max_samples) * n)))
        if self.bootstrap is False and self.max_samples is not None:
            raise ValueError("max_samples needs bootstrap=True")
        trees = _C._tree_fit(X32, codes, w, k, seed=seed_from(self.random_state), n_trees=int(self.n_estimators),
                             bootstrap=bool(self.bootstrap), max_samples=draws, **kw)
        cls = DecisionTreeRegressor if self._regression else DecisionTreeClassifier
        self.estimators_ = []
        for parts in trees:
            est = cls(criterion=self.criterion, max_depth=self.max_depth, min_samples_split=self.min_samples_split,
                      min_samples_leaf=self.min_samples_leaf, max_features=self.max_features,
                      min_impurity_decrease=self.min_impurity_decrease)
            est.tree_ = Tree(parts, X.shape[1])
            est.n_features_in_ = X.shape[1]
            est.max_features_ = kw["max_features"]
            if not self._regression:
                est.classes_, est.n_classes_ = self.classes_, self.n_classes_
            self.estimators_.append(est)
        self._pack()
        return self

    def _pack(self) -> tuple:
        """Packs the fitted trees for prediction once (em_forest_pack: compact
        pre-order nodes, float32 thresholds, leaf class shares normalised once)
        and keeps the arrays in ``_packed_`` (they pickle with the forest)."""
        trees = [(t.children_left, t.children_right, t.feature, t.threshold, t.value[:, 0, :])
                 for t in (est.tree_ for est in self.estimators_)]
        self._packed_ = _C._forest_pack(trees, int(self.n_features_in_), not self._regression)
        self._packed_for_ = [id(est.tree_) for est in self.estimators_]
        return self._packed_

    def _mean_leaf_values(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimators_")
        X32 = self._to32(validate_data(self, X, reset=False))
        # one C call walks every tree for each block of rows (rows in parallel;
        # each row sums its trees in order, so any thread count gives the same
        # bits) over the forest packed at fit; repacked if estimators_ changed
        packed = getattr(self, "_packed_", None)
        if packed is None or getattr(self, "_packed_for_", None) != [id(e.tree_) for e in self.estimators_]:
            packed = self._pack()
        return np.asarray(_C._forest_predict_packed(*packed, X32))

    def apply(self, X: Any) -> Any:
        """Leaf index of each sample in each tree, shape (n, n_estimators)."""
        check_is_fitted(self, "estimators_")
        X32 = self._to32(validate_data(self, X, reset=False))
        return wrap_like(np.column_stack([e.tree_.apply(X32) for e in self.estimators_]), X)

    @property
    def feature_importances_(self) -> np.ndarray:
        """Mean of the trees' normalised impurity decreases."""
        check_is_fitted(self, "estimators_")
        imp = np.mean([e.tree_.importances() for e in self.estimators_], axis=0)
        total = imp.sum()
        return imp / total if total > 0 else imp


class RandomForestClassifier(ClassifierMixin, _BaseForest):
    """Bagged CART classifiers with random feature subsets (max_features
    'sqrt' by default); predicts the class of highest mean probability."""

    def predict_proba(self, X: Any) -> Any:
        """Mean of the trees' leaf class shares."""
        return wrap_like(self._mean_leaf_values(X), X)

    def predict(self, X: Any) -> Any:
        """The class of highest mean probability."""
        p = self._mean_leaf_values(X)  # first: it raises NotFittedError before classes_ is read
        return wrap_like(self.classes_[np.argmax(p, axis=1)], X)


class RandomForestRegressor(RegressorMixin, _BaseForest):
    """Bagged CART regressors (all features per split by default, as
    scikit-learn); predicts the mean of the trees."""

    _regression = True

    def __init__(self, n_estimators: int = 100, *, criterion: str = "squared_error", max_depth: int | None = None,
                 min_samples_split: Any = 2, min_samples_leaf: Any = 1, min_weight_fraction_leaf: float = 0.0,
                 max_features: Any = 1.0, max_leaf_nodes: int | None = None, min_impurity_decrease: float = 0.0,
                 bootstrap: bool = True, oob_score: bool = False, n_jobs: int | None = None,
                 random_state: Any = None, verbose: int = 0, warm_start: bool = False, ccp_alpha: float = 0.0,
                 max_samples: Any = None):
        super().__init__(n_estimators, criterion=criterion, max_depth=max_depth, min_samples_split=min_samples_split,
                         min_samples_leaf=min_samples_leaf, min_weight_fraction_leaf=min_weight_fraction_leaf,
                         max_features=max_features, max_leaf_nodes=max_leaf_nodes,
                         min_impurity_decrease=min_impurity_decrease, bootstrap=bootstrap, oob_score=oob_score,
                         n_jobs=n_jobs, random_state=random_state, verbose=verbose, warm_start=warm_start,
                         ccp_alpha=ccp_alpha, max_samples=max_samples)

    def predict(self, X: Any) -> Any:
        """Mean of the trees' predictions."""
        return wrap_like(self._mean_leaf_values(X)[:, 0], X)
