"""ember.model_selection: data splitting, cross-validation and grid search,
with scikit-learn's names and conventions.

Shuffling uses ember's Philox generator seeded from ``random_state`` (an int
gives the same split on every platform and thread count; the splits differ
from scikit-learn's, which uses NumPy's Mersenne Twister)."""
from __future__ import annotations

import itertools
import numbers
import time
from typing import Any, Callable, Iterator

import numpy as np

import ember

from . import metrics
from .ml._base import BaseEstimator, clone
from .ml._validation import column_or_1d, seed_from, to_numpy, type_of_target

__all__ = ["train_test_split", "KFold", "StratifiedKFold", "ShuffleSplit", "cross_val_score", "cross_validate",
           "GridSearchCV", "ParameterGrid", "check_cv", "get_scorer"]


def _is_classifier(est: Any) -> bool:
    """Whether est is a classifier, by ember's marker or scikit-learn's tags."""
    kind = getattr(est, "_estimator_type", None)
    if kind is None and hasattr(est, "__sklearn_tags__"):
        try:
            kind = est.__sklearn_tags__().estimator_type
        except Exception:
            kind = None
    return kind == "classifier"


def _num_samples(x: Any) -> int:
    if hasattr(x, "shape") and len(x.shape) > 0:
        return int(x.shape[0])
    return len(x)


def _index(x: Any, idx: np.ndarray) -> Any:
    """Rows idx of an array, tensor, DataFrame or list."""
    if x is None:
        return None
    if type(x).__module__.startswith("pandas"):
        return x.iloc[idx]
    if isinstance(x, ember.Tensor):
        return ember.take(x, ember.asarray(idx.astype(np.int64)), axis=0)
    if isinstance(x, (list, tuple)):
        return [x[i] for i in idx]
    return to_numpy(x)[idx]


def _permutation(n: int, random_state: Any) -> np.ndarray:
    return np.asarray(ember.Generator(seed_from(random_state)).permutation(n)).astype(np.int64)


def _split_sizes(n: int, test_size: Any, train_size: Any, default_test: float = 0.25) -> tuple[int, int]:
    def as_count(v: Any, name: str) -> int | None:
        if v is None:
            return None
        if isinstance(v, numbers.Integral):
            if not 0 < v < n:
                raise ValueError(f"{name}={v} should be either positive and smaller than the number of samples {n} "
                                 "or a float in the (0, 1) range")
            return int(v)
        if isinstance(v, numbers.Real):
            if not 0 < v < 1:
                raise ValueError(f"{name}={v} should be a float in the (0, 1) range or an int")
            return int(np.ceil(v * n)) if name == "test_size" else int(np.floor(v * n))
        raise ValueError(f"Invalid value for {name}: {v!r}")

    n_test, n_train = as_count(test_size, "test_size"), as_count(train_size, "train_size")
    if n_test is None and n_train is None:
        n_test = int(np.ceil(default_test * n))
    if n_test is None:
        n_test = n - n_train
    if n_train is None:
        n_train = n - n_test
    if n_train + n_test > n:
        raise ValueError(f"The sum of train_size and test_size = {n_train + n_test}, should be smaller than the "
                         f"number of samples {n}. Reduce test_size and/or train_size.")
    if n_train == 0:
        raise ValueError(f"With n_samples={n}, test_size={test_size} and train_size={train_size}, the resulting "
                         "train set will be empty. Adjust any of the aforementioned parameters.")
    return n_train, n_test


def _stratified_take(y: np.ndarray, n_take: int, order: np.ndarray) -> np.ndarray:
    """n_take indices drawn from `order` (a shuffled index list) keeping class
    proportions: each class gets floor(share) and the largest remainders get one
    more."""
    classes, inv = np.unique(y, return_inverse=True)
    counts = np.bincount(inv)
    exact = counts * n_take / len(y)
    take = np.floor(exact).astype(np.int64)
    rest = n_take - take.sum()
    if rest > 0:
        take[np.argsort(-(exact - take), kind="stable")[:rest]] += 1
    out = []
    inv_ordered = inv[order]
    for c in range(len(classes)):
        out.append(order[inv_ordered == c][: take[c]])
    return np.sort(np.concatenate(out)) if out else np.array([], dtype=np.int64)


def train_test_split(*arrays: Any, test_size: Any = None, train_size: Any = None, random_state: Any = None,
                     shuffle: bool = True, stratify: Any = None) -> list[Any]:
    """Splits each array into a train part and a test part (test_size 0.25 by
    default); stratify=y keeps y's class proportions in both parts.  Returns
    [a_train, a_test, b_train, b_test, ...] in each input's own type."""
    if not arrays:
        raise ValueError("At least one array required as input")
    n = _num_samples(arrays[0])
    for a in arrays[1:]:
        if _num_samples(a) != n:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                             f"{[_num_samples(a) for a in arrays]}")
    n_train, n_test = _split_sizes(n, test_size, train_size)
    if not shuffle:
        if stratify is not None:
            raise ValueError("Stratified train/test split is not implemented for shuffle=False")
        train, test = np.arange(n_train), np.arange(n_train, n_train + n_test)
    else:
        order = _permutation(n, random_state)
        if stratify is not None:
            y = column_or_1d(stratify)
            counts = np.unique(y, return_counts=True)[1]
            if counts.min() < 2:
                raise ValueError("The least populated class in y has only 1 member, which is too few. The minimum "
                                 "number of groups for any class cannot be less than 2.")
            if n_test < len(counts) or n_train < len(counts):
                raise ValueError(f"The test_size = {n_test} and train_size = {n_train} should be greater or equal to "
                                 f"the number of classes = {len(counts)}")
            test = _stratified_take(y, n_test, order)
            rest = np.setdiff1d(order, test, assume_unique=True)
            mask = np.zeros(n, bool)
            mask[rest] = True
            train = _stratified_take(y, n_train, order[mask[order]])
            train = order[np.isin(order, train)]
            test = order[np.isin(order, test)]
        else:
            test, train = order[:n_test], order[n_test:n_test + n_train]
    out = []
    for a in arrays:
        out.extend([_index(a, train), _index(a, test)])
    return out


class KFold:
    """K consecutive folds (shuffled first when shuffle=True); the first
    n % k folds are one sample larger."""

    def __init__(self, n_splits: int = 5, *, shuffle: bool = False, random_state: Any = None):
        if not isinstance(n_splits, numbers.Integral) or n_splits < 2:
            raise ValueError(f"k-fold cross-validation requires at least one train/test split by setting "
                             f"n_splits=2 or more, got n_splits={n_splits}.")
        if not shuffle and random_state is not None:
            raise ValueError("Setting a random_state has no effect since shuffle is False. You should leave "
                             "random_state to its default (None), or set shuffle=True.")
        self.n_splits = int(n_splits)
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """The number of folds."""
        return self.n_splits

    def _order(self, n: int) -> np.ndarray:
        return _permutation(n, self.random_state) if self.shuffle else np.arange(n)

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yields (train indices, test indices) for each fold."""
        n = _num_samples(X)
        if self.n_splits > n:
            raise ValueError(f"Cannot have number of splits n_splits={self.n_splits} greater than the number of "
                             f"samples: n_samples={n}.")
        order = self._order(n)
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[: n % self.n_splits] += 1
        start = 0
        for size in sizes:
            test = order[start:start + size]
            mask = np.ones(n, bool)
            mask[test] = False
            yield np.arange(n)[mask], np.sort(test) if not self.shuffle else test
            start += size

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_splits={self.n_splits}, random_state={self.random_state!r}, " \
               f"shuffle={self.shuffle})"


class StratifiedKFold(KFold):
    """K folds that keep each class's proportion: samples are ordered by class
    (shuffled within it when shuffle=True) and dealt to the folds in turn."""

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yields (train indices, test indices) for each fold."""
        if y is None:
            raise ValueError("StratifiedKFold.split needs y (the class labels)")
        yv = column_or_1d(y)
        kind = type_of_target(yv)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"Supported target types are: ('binary', 'multiclass'). Got {kind!r} instead.")
        n = len(yv)
        classes, inv, counts = np.unique(yv, return_inverse=True, return_counts=True)
        if self.n_splits > counts.max():
            raise ValueError(f"n_splits={self.n_splits} cannot be greater than the number of members in each class.")
        # Deal the class-sorted labels to the folds in turn to get how many of
        # each class every fold holds; then each class's samples (in data order)
        # fill the folds as contiguous blocks, shuffled block labels if shuffle.
        dealt = np.sort(inv)
        alloc = np.array([np.bincount(dealt[i::self.n_splits], minlength=len(classes))
                          for i in range(self.n_splits)])
        fold_of = np.empty(n, dtype=np.int64)
        gen = ember.Generator(seed_from(self.random_state)) if self.shuffle else None
        for c in range(len(classes)):
            folds = np.repeat(np.arange(self.n_splits), alloc[:, c])
            if gen is not None:
                folds = folds[np.asarray(gen.permutation(len(folds))).astype(np.int64)]
            fold_of[inv == c] = folds
        for k in range(self.n_splits):
            yield np.nonzero(fold_of != k)[0], np.nonzero(fold_of == k)[0]


class ShuffleSplit:
    """n_splits independent random train/test splits."""

    def __init__(self, n_splits: int = 10, *, test_size: Any = None, train_size: Any = None,
                 random_state: Any = None):
        self.n_splits = n_splits
        self.test_size = test_size
        self.train_size = train_size
        self.random_state = random_state

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """The number of splits."""
        return self.n_splits

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yields (train indices, test indices) for each split."""
        n = _num_samples(X)
        n_train, n_test = _split_sizes(n, self.test_size, self.train_size, default_test=0.1)
        gen = ember.Generator(seed_from(self.random_state))
        for _ in range(self.n_splits):
            order = np.asarray(gen.permutation(n)).astype(np.int64)
            yield order[n_test:n_test + n_train], order[:n_test]


def check_cv(cv: Any = 5, y: Any = None, *, classifier: bool = False) -> Any:
    """A splitter from cv: an int (StratifiedKFold for classifiers with a
    binary/multiclass y, else KFold), a splitter, or an iterable of splits."""
    if cv is None:
        cv = 5
    if isinstance(cv, numbers.Integral):
        if classifier and y is not None and type_of_target(y) in ("binary", "multiclass"):
            return StratifiedKFold(cv)
        return KFold(cv)
    if hasattr(cv, "split"):
        return cv
    splits = list(cv)

    class _Fixed:
        def get_n_splits(self, *a: Any, **k: Any) -> int:
            return len(splits)

        def split(self, *a: Any, **k: Any):
            return iter(splits)

    return _Fixed()


_SCORERS: dict[str, tuple[Callable[..., float], str, int, dict[str, Any]]] = {
    "accuracy": (metrics.accuracy_score, "predict", 1, {}),
    "r2": (metrics.r2_score, "predict", 1, {}),
    "neg_mean_squared_error": (metrics.mean_squared_error, "predict", -1, {}),
    "neg_root_mean_squared_error": (metrics.root_mean_squared_error, "predict", -1, {}),
    "neg_mean_absolute_error": (metrics.mean_absolute_error, "predict", -1, {}),
    "f1": (metrics.f1_score, "predict", 1, {}),
    "f1_macro": (metrics.f1_score, "predict", 1, {"average": "macro"}),
    "f1_micro": (metrics.f1_score, "predict", 1, {"average": "micro"}),
    "f1_weighted": (metrics.f1_score, "predict", 1, {"average": "weighted"}),
    "precision": (metrics.precision_score, "predict", 1, {}),
    "precision_macro": (metrics.precision_score, "predict", 1, {"average": "macro"}),
    "recall": (metrics.recall_score, "predict", 1, {}),
    "recall_macro": (metrics.recall_score, "predict", 1, {"average": "macro"}),
    "roc_auc": (metrics.roc_auc_score, "decision", 1, {}),
    "roc_auc_ovr": (metrics.roc_auc_score, "proba", 1, {"multi_class": "ovr"}),
    "neg_log_loss": (metrics.log_loss, "proba", -1, {}),
}


def get_scorer(scoring: Any) -> Callable[[Any, Any, Any], float]:
    """scorer(estimator, X, y) for a scoring name (see the keys of the
    table in this module), a callable (returned as is) or None (estimator.score)."""
    if scoring is None:
        return lambda est, X, y: est.score(X, y)
    if callable(scoring):
        return scoring
    if scoring not in _SCORERS:
        raise ValueError(f"{scoring!r} is not a valid scoring value. Valid options are {sorted(_SCORERS)}.")
    fn, kind, sign, kw = _SCORERS[scoring]

    def scorer(est: Any, X: Any, y: Any) -> float:
        if kind == "predict":
            out = est.predict(X)
        elif kind == "proba":
            out = est.predict_proba(X)
        else:  # ranking scores: decision_function, else the positive class's probability
            if hasattr(est, "decision_function"):
                out = est.decision_function(X)
            else:
                out = to_numpy(est.predict_proba(X))
                out = out[:, 1] if out.ndim == 2 and out.shape[1] == 2 else out
        return sign * fn(to_numpy(y), to_numpy(out), **kw)

    return scorer


def _fit_and_score(est: Any, X: Any, y: Any, train: np.ndarray, test: np.ndarray, scorers: dict[str, Any],
                   return_train: bool, fit_params: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    est.fit(_index(X, train), _index(y, train), **fit_params)
    t1 = time.perf_counter()
    out: dict[str, Any] = {"fit_time": t1 - t0, "estimator": est}
    Xt, yt = _index(X, test), _index(y, test)
    for name, sc in scorers.items():
        out[f"test_{name}"] = float(sc(est, Xt, yt))
    out["score_time"] = time.perf_counter() - t1
    if return_train:
        Xr, yr = _index(X, train), _index(y, train)
        for name, sc in scorers.items():
            out[f"train_{name}"] = float(sc(est, Xr, yr))
    return out


def _run(fn: Callable[[Any], Any], items: list[Any], n_jobs: int | None) -> list[Any]:
    from .pipeline import _run_branches

    return _run_branches(fn, items, n_jobs)


def cross_validate(estimator: Any, X: Any, y: Any = None, *, groups: Any = None, scoring: Any = None, cv: Any = None,
                   n_jobs: int | None = None, verbose: int = 0, params: dict[str, Any] | None = None,
                   return_train_score: bool = False, return_estimator: bool = False,
                   error_score: Any = np.nan) -> dict[str, np.ndarray]:
    """Fits a clone of estimator on each training fold and scores it on the
    test fold.  Returns arrays fit_time, score_time, test_<score> (test_score
    for a single scorer) and optionally train_<score> and estimator.  n_jobs
    runs folds on parallel threads."""
    is_clf = _is_classifier(estimator)
    splitter = check_cv(cv, column_or_1d(y) if y is not None and np.ndim(to_numpy(y)) <= 2 else None,
                        classifier=is_clf)
    if isinstance(scoring, (list, tuple, set)):
        scorers = {s: get_scorer(s) for s in scoring}
    elif isinstance(scoring, dict):
        scorers = {k: get_scorer(v) for k, v in scoring.items()}
    else:
        scorers = {"score": get_scorer(scoring)}
    splits = list(splitter.split(X, y, groups))

    def one(split: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
        try:
            return _fit_and_score(clone(estimator), X, y, split[0], split[1], scorers, return_train_score,
                                  params or {})
        except Exception:
            if isinstance(error_score, str) and error_score == "raise":
                raise
            return {"fit_time": np.nan, "score_time": np.nan, "estimator": None,
                    **{f"test_{k}": error_score for k in scorers},
                    **({f"train_{k}": error_score for k in scorers} if return_train_score else {})}

    results = _run(one, splits, n_jobs)
    out: dict[str, Any] = {"fit_time": np.array([r["fit_time"] for r in results]),
                           "score_time": np.array([r["score_time"] for r in results])}
    for key in results[0]:
        if key.startswith(("test_", "train_")):
            out[key] = np.array([r[key] for r in results])
    if return_estimator:
        out["estimator"] = [r["estimator"] for r in results]
    return out


def cross_val_score(estimator: Any, X: Any, y: Any = None, *, groups: Any = None, scoring: Any = None,
                    cv: Any = None, n_jobs: int | None = None, verbose: int = 0, params: dict[str, Any] | None = None,
                    error_score: Any = np.nan) -> np.ndarray:
    """The test score of each cross-validation fold (see cross_validate)."""
    return cross_validate(estimator, X, y, groups=groups, scoring=scoring, cv=cv, n_jobs=n_jobs, params=params,
                          error_score=error_score)["test_score"]


class ParameterGrid:
    """Every combination of a dict of parameter lists (or of each dict in a
    list of them), in sorted key order."""

    def __init__(self, param_grid: dict[str, Any] | list[dict[str, Any]]):
        grids = [param_grid] if isinstance(param_grid, dict) else list(param_grid)
        for g in grids:
            if not isinstance(g, dict):
                raise TypeError(f"Parameter grid should be a dict or a list of dicts, got {g!r}")
            for k, v in g.items():
                if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
                    raise TypeError(f"Parameter grid for parameter {k!r} needs to be a list or a numpy array, but "
                                    f"got {v!r} (of type {type(v).__name__}) instead. Single values need to be "
                                    "wrapped in a list with one element.")
                if len(list(v)) == 0:
                    raise ValueError(f"Parameter grid for parameter {k!r} need to be a non-empty sequence, got: {v!r}")
        self.grids = grids

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for g in self.grids:
            keys = sorted(g)
            for values in itertools.product(*(list(g[k]) for k in keys)):
                yield dict(zip(keys, values))

    def __len__(self) -> int:
        return sum(int(np.prod([len(list(v)) for v in g.values()])) if g else 1 for g in self.grids)


class GridSearchCV(BaseEstimator):
    """Exhaustive search over param_grid with cross-validation: every
    candidate is scored on every fold, the best mean test score wins, and
    (refit=True) a clone with the best parameters is refitted on all the data.
    cv_results_ holds per-candidate and per-fold scores and times."""

    def __init__(self, estimator: Any, param_grid: Any, *, scoring: Any = None, n_jobs: int | None = None,
                 refit: bool = True, cv: Any = None, verbose: int = 0, pre_dispatch: Any = "2*n_jobs",
                 error_score: Any = np.nan, return_train_score: bool = False):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.cv = cv
        self.verbose = verbose
        self.pre_dispatch = pre_dispatch
        self.error_score = error_score
        self.return_train_score = return_train_score

    @property
    def _estimator_type(self) -> Any:
        return getattr(self.estimator, "_estimator_type", None)

    def fit(self, X: Any, y: Any = None, **params: Any) -> "GridSearchCV":
        """Runs the search (and the refit)."""
        candidates = list(ParameterGrid(self.param_grid))
        is_clf = _is_classifier(self.estimator)
        splitter = check_cv(self.cv, column_or_1d(y) if y is not None else None, classifier=is_clf)
        splits = list(splitter.split(X, y))
        scorer = {"score": get_scorer(self.scoring)}
        jobs = [(ci, si) for ci in range(len(candidates)) for si in range(len(splits))]

        def one(job: tuple[int, int]) -> dict[str, Any]:
            ci, si = job
            est = clone(self.estimator).set_params(**candidates[ci])
            try:
                return _fit_and_score(est, X, y, splits[si][0], splits[si][1], scorer, self.return_train_score,
                                      params)
            except Exception:
                if isinstance(self.error_score, str) and self.error_score == "raise":
                    raise
                return {"fit_time": np.nan, "score_time": np.nan, "test_score": self.error_score,
                        "train_score": self.error_score}

        results = _run(one, jobs, self.n_jobs)
        nc, ns = len(candidates), len(splits)
        test = np.array([r["test_score"] for r in results], dtype=np.float64).reshape(nc, ns)
        fit_t = np.array([r["fit_time"] for r in results], dtype=np.float64).reshape(nc, ns)
        score_t = np.array([r["score_time"] for r in results], dtype=np.float64).reshape(nc, ns)
        cvr: dict[str, Any] = {"mean_fit_time": fit_t.mean(1), "std_fit_time": fit_t.std(1),
                               "mean_score_time": score_t.mean(1), "std_score_time": score_t.std(1),
                               "params": candidates}
        for key in sorted({k for c in candidates for k in c}):
            cvr[f"param_{key}"] = np.ma.masked_array([c.get(key) for c in candidates],
                                                     mask=[key not in c for c in candidates], dtype=object)
        for s in range(ns):
            cvr[f"split{s}_test_score"] = test[:, s]
        mean = test.mean(1)
        cvr["mean_test_score"], cvr["std_test_score"] = mean, test.std(1)
        safe = np.where(np.isnan(mean), -np.inf, mean)
        order = np.argsort(-safe, kind="stable")
        rank = np.empty(nc, dtype=np.int32)
        # equal scores share the smallest rank, as scikit-learn's rankdata(method="min")
        rank[order] = np.arange(1, nc + 1)
        for i in range(1, nc):
            if safe[order[i]] == safe[order[i - 1]]:
                rank[order[i]] = rank[order[i - 1]]
        cvr["rank_test_score"] = rank
        if self.return_train_score:
            train = np.array([r["train_score"] for r in results], dtype=np.float64).reshape(nc, ns)
            for s in range(ns):
                cvr[f"split{s}_train_score"] = train[:, s]
            cvr["mean_train_score"], cvr["std_train_score"] = train.mean(1), train.std(1)
        self.cv_results_ = cvr
        self.best_index_ = int(order[0])
        self.best_score_ = float(mean[self.best_index_])
        self.best_params_ = candidates[self.best_index_]
        self.n_splits_ = ns
        self.scorer_ = scorer["score"]
        if self.refit:
            t0 = time.perf_counter()
            self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_).fit(X, y, **params)
            self.refit_time_ = time.perf_counter() - t0
            for attr in ("classes_", "n_features_in_", "feature_names_in_"):
                if hasattr(self.best_estimator_, attr):
                    setattr(self, attr, getattr(self.best_estimator_, attr))
        return self

    def _best(self) -> Any:
        if not self.refit:
            raise AttributeError("This GridSearchCV instance was initialized with refit=False; refit the best "
                                 "parameters yourself to predict")
        from .ml._base import check_is_fitted

        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_

    def predict(self, X: Any) -> Any:
        """best_estimator_.predict."""
        return self._best().predict(X)

    def predict_proba(self, X: Any) -> Any:
        """best_estimator_.predict_proba."""
        return self._best().predict_proba(X)

    def decision_function(self, X: Any) -> Any:
        """best_estimator_.decision_function."""
        return self._best().decision_function(X)

    def transform(self, X: Any) -> Any:
        """best_estimator_.transform."""
        return self._best().transform(X)

    def score(self, X: Any, y: Any = None) -> float:
        """The search's scoring of best_estimator_ on (X, y)."""
        return float(self.scorer_(self._best(), X, y))
