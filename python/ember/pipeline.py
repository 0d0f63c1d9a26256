"""Pipeline and FeatureUnion: chaining and concatenating estimators, as in
``sklearn.pipeline``.  Both work with any object that follows the estimator
conventions (ember's or scikit-learn's)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .ml._base import BaseEstimator, TransformerMixin, check_is_fitted
from .ml._validation import to_numpy

__all__ = ["Pipeline", "make_pipeline", "FeatureUnion", "make_union"]


def _is_passthrough(est: Any) -> bool:
    return est is None or (isinstance(est, str) and est == "passthrough")


class _Composite(BaseEstimator):
    """get_params/set_params over a list of (name, estimator) pairs held in
    the attribute named by _steps_attr."""

    _steps_attr = "steps"

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        out = super().get_params(deep=False)
        if not deep:
            return out
        for name, est in getattr(self, self._steps_attr):
            out[name] = est
            if hasattr(est, "get_params") and not isinstance(est, type):
                out.update((f"{name}__{k}", v) for k, v in est.get_params(deep=True).items())
        return out

    def set_params(self, **params: Any) -> "_Composite":
        steps = list(getattr(self, self._steps_attr))
        names = [s[0] for s in steps]
        if self._steps_attr in params:
            setattr(self, self._steps_attr, params.pop(self._steps_attr))
            steps = list(getattr(self, self._steps_attr))
        for key in [k for k in params if "__" not in k and k in names]:
            i = names.index(key)
            steps[i] = (key, params.pop(key)) + tuple(steps[i][2:])
        setattr(self, self._steps_attr, steps)
        super().set_params(**params)
        return self

    def _validate_names(self) -> None:
        names = [s[0] for s in getattr(self, self._steps_attr)]
        if len(set(names)) != len(names):
            raise ValueError(f"Names provided are not unique: {names!r}")
        own = set(self._get_param_names())
        clash = own.intersection(names)
        if clash:
            raise ValueError(f"Estimator names conflict with constructor arguments: {sorted(clash)!r}")
        bad = [n for n in names if "__" in n]
        if bad:
            raise ValueError(f"Estimator names must not contain __: got {bad!r}")


class Pipeline(_Composite):
    """A chain of transformers ending in any estimator: fit fits each step on
    the previous step's output; predict/transform/score run the chain.  A step
    may be 'passthrough' or None.  ``memory`` (caching) is accepted for
    compatibility and ignored."""

    def __init__(self, steps: list[tuple[str, Any]], *, memory: Any = None, verbose: bool = False):
        self.steps = steps
        self.memory = memory
        self.verbose = verbose

    def _check(self) -> None:
        if not isinstance(self.steps, list) or not all(isinstance(s, tuple) and len(s) == 2 for s in self.steps):
            raise TypeError("Pipeline steps must be a list of (name, estimator) tuples")
        if not self.steps:
            raise ValueError("Pipeline needs at least one step")
        self._validate_names()
        for name, est in self.steps[:-1]:
            if not _is_passthrough(est) and not (hasattr(est, "fit") and
                                                 (hasattr(est, "transform") or hasattr(est, "fit_transform"))):
                raise TypeError(f"All intermediate steps should be transformers and implement fit and transform "
                                f"or be the string 'passthrough'; '{name}' ({est!r}) doesn't")

    @property
    def named_steps(self) -> dict[str, Any]:
        """The steps by name."""
        return dict(self.steps)

    @property
    def _final_estimator(self) -> Any:
        return self.steps[-1][1]

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, ind: Any) -> Any:
        if isinstance(ind, slice):
            if ind.step not in (None, 1):
                raise ValueError("Pipeline slicing only supports a step of 1")
            return self.__class__(self.steps[ind], memory=self.memory, verbose=self.verbose)
        if isinstance(ind, str):
            return self.named_steps[ind]
        return self.steps[ind][1]

    def _transform_steps(self, X: Any, upto: int) -> Any:
        for _, est in self.steps[:upto]:
            if not _is_passthrough(est):
                X = est.transform(X)
        return X

    def _fit_transformers(self, X: Any, y: Any, params: dict[str, dict[str, Any]]) -> Any:
        self._check()
        for i, (name, est) in enumerate(self.steps[:-1]):
            if _is_passthrough(est):
                continue
            kw = params.get(name, {})
            if hasattr(est, "fit_transform"):
                X = est.fit_transform(X, y, **kw)
            else:
                X = est.fit(X, y, **kw).transform(X)
        return X

    @staticmethod
    def _split_params(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            step, sep, param = key.partition("__")
            if not sep:
                raise ValueError(f"Pipeline.fit does not accept the {key} parameter. You can pass parameters to "
                                 "specific steps of your pipeline using the stepname__parameter format")
            out.setdefault(step, {})[param] = value
        return out

    def fit(self, X: Any, y: Any = None, **params: Any) -> "Pipeline":
        """Fits every step in turn; ``<step>__<param>`` keywords reach that step's fit."""
        p = self._split_params(params)
        Xt = self._fit_transformers(X, y, p)
        last = self._final_estimator
        if not _is_passthrough(last):
            last.fit(Xt, y, **p.get(self.steps[-1][0], {}))
        return self

    def fit_transform(self, X: Any, y: Any = None, **params: Any) -> Any:
        """Fits every step and returns the last step's transform of X."""
        p = self._split_params(params)
        Xt = self._fit_transformers(X, y, p)
        last = self._final_estimator
        if _is_passthrough(last):
            return Xt
        kw = p.get(self.steps[-1][0], {})
        if hasattr(last, "fit_transform"):
            return last.fit_transform(Xt, y, **kw)
        return last.fit(Xt, y, **kw).transform(Xt)

    def fit_predict(self, X: Any, y: Any = None, **params: Any) -> Any:
        """Fits every step and returns the last step's fit_predict."""
        p = self._split_params(params)
        Xt = self._fit_transformers(X, y, p)
        return self._final_estimator.fit_predict(Xt, y, **p.get(self.steps[-1][0], {}))

    def _call_last(self, method: str, X: Any, *args: Any, **kw: Any) -> Any:
        last = self._final_estimator
        if not hasattr(last, method):
            raise AttributeError(f"'{type(last).__name__}' object has no attribute '{method}'")
        return getattr(last, method)(self._transform_steps(X, len(self.steps) - 1), *args, **kw)

    def predict(self, X: Any, **params: Any) -> Any:
        """The final estimator's predict on the transformed X."""
        return self._call_last("predict", X, **params)

    def predict_proba(self, X: Any, **params: Any) -> Any:
        """The final estimator's predict_proba on the transformed X."""
        return self._call_last("predict_proba", X, **params)

    def predict_log_proba(self, X: Any, **params: Any) -> Any:
        """The final estimator's predict_log_proba on the transformed X."""
        return self._call_last("predict_log_proba", X, **params)

    def decision_function(self, X: Any) -> Any:
        """The final estimator's decision_function on the transformed X."""
        return self._call_last("decision_function", X)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """The final estimator's score on the transformed X."""
        kw = {} if sample_weight is None else {"sample_weight": sample_weight}
        return self._call_last("score", X, y, **kw)

    def transform(self, X: Any) -> Any:
        """X through every step (all must be transformers or passthrough)."""
        last = self._final_estimator
        Xt = self._transform_steps(X, len(self.steps) - 1)
        return Xt if _is_passthrough(last) else last.transform(Xt)

    def inverse_transform(self, X: Any) -> Any:
        """X back through every step's inverse_transform, last step first."""
        for _, est in reversed(self.steps):
            if not _is_passthrough(est):
                X = est.inverse_transform(X)
        return X

    @property
    def classes_(self) -> Any:
        """The final estimator's classes_."""
        return self._final_estimator.classes_

    @property
    def n_features_in_(self) -> int:
        """The first step's n_features_in_."""
        return self.steps[0][1].n_features_in_

    @property
    def feature_names_in_(self) -> Any:
        """The first step's feature_names_in_."""
        return self.steps[0][1].feature_names_in_

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Feature names after the whole chain."""
        names = input_features
        for _, est in self.steps:
            if not _is_passthrough(est):
                names = est.get_feature_names_out(names)
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        last = self._final_estimator
        if hasattr(last, "__sklearn_tags__") and not _is_passthrough(last):
            lt = last.__sklearn_tags__()
            tags.estimator_type = lt.estimator_type
            tags.target_tags = lt.target_tags
            tags.classifier_tags = lt.classifier_tags
            tags.regressor_tags = lt.regressor_tags
            tags.transformer_tags = lt.transformer_tags
        return tags

    @property
    def _estimator_type(self) -> Any:
        return getattr(self._final_estimator, "_estimator_type", None)


def _name_estimators(estimators: tuple[Any, ...]) -> list[tuple[str, Any]]:
    names = [type(e).__name__.lower() if not isinstance(e, str) else e for e in estimators]
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for n, e in zip(names, estimators):
        if counts[n] > 1:
            seen[n] = seen.get(n, 0) + 1
            n = f"{n}-{seen[n]}"
        out.append((n, e))
    return out


def make_pipeline(*steps: Any, memory: Any = None, verbose: bool = False) -> Pipeline:
    """A Pipeline whose step names are the lower-cased class names."""
    return Pipeline(_name_estimators(steps), memory=memory, verbose=verbose)


def _hstack(blocks: list[Any]) -> np.ndarray:
    arrays = [to_numpy(b) for b in blocks]
    arrays = [a.reshape(-1, 1) if a.ndim == 1 else a for a in arrays]
    if not arrays:
        return np.zeros((0, 0))
    if any(a.dtype == object for a in arrays):
        return np.hstack([a.astype(object) for a in arrays])
    return np.hstack(arrays)


def _run_branches(fn: Any, items: list[Any], n_jobs: int | None) -> list[Any]:
    """fn over items, on n_jobs Python threads (-1: one per item).  ember's C
    kernels release the GIL, so branches overlap."""
    workers = len(items) if n_jobs == -1 else (n_jobs or 1)
    if workers <= 1 or len(items) <= 1:
        return [fn(it) for it in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


class FeatureUnion(TransformerMixin, _Composite):
    """Concatenates the outputs of several transformers applied to the same
    input (columns side by side).  n_jobs > 1 (or -1) fits and transforms the
    branches on parallel threads; transformer_weights scales each branch."""

    _steps_attr = "transformer_list"

    def __init__(self, transformer_list: list[tuple[str, Any]], *, n_jobs: int | None = None,
                 transformer_weights: dict[str, float] | None = None, verbose: bool = False,
                 verbose_feature_names_out: bool = True):
        self.transformer_list = transformer_list
        self.n_jobs = n_jobs
        self.transformer_weights = transformer_weights
        self.verbose = verbose
        self.verbose_feature_names_out = verbose_feature_names_out

    def _active(self) -> list[tuple[str, Any]]:
        return [(n, t) for n, t in self.transformer_list if not (t == "drop" if isinstance(t, str) else False)]

    def _weight(self, name: str, Xt: Any) -> Any:
        w = (self.transformer_weights or {}).get(name)
        return Xt if w is None else to_numpy(Xt) * w

    def fit(self, X: Any, y: Any = None, **params: Any) -> "FeatureUnion":
        """Fits every branch on X."""
        self._validate_names()
        fitted = _run_branches(lambda nt: (nt[0], nt[1] if nt[1] == "passthrough" else nt[1].fit(X, y)),
                               self._active(), self.n_jobs)
        self._fitted = fitted
        self._set_n_features(X)
        return self

    def _set_n_features(self, X: Any) -> None:
        from .ml._validation import feature_names_of

        self.n_features_in_ = np.shape(X)[1] if np.ndim(X) == 2 else len(X[0])
        names = feature_names_of(X)
        if names is not None:
            self.feature_names_in_ = names

    def fit_transform(self, X: Any, y: Any = None, **params: Any) -> np.ndarray:
        """Fits every branch and returns the concatenated transforms."""
        self._validate_names()

        def one(nt: tuple[str, Any]) -> tuple[tuple[str, Any], Any]:
            name, t = nt
            if t == "passthrough":
                return (name, t), to_numpy(X)
            est = t
            out = est.fit_transform(X, y) if hasattr(est, "fit_transform") else est.fit(X, y).transform(X)
            return (name, est), self._weight(name, out)

        results = _run_branches(one, self._active(), self.n_jobs)
        self._fitted = [r[0] for r in results]
        self._set_n_features(X)
        return _hstack([r[1] for r in results])

    def transform(self, X: Any) -> np.ndarray:
        """The concatenated transforms of X."""
        check_is_fitted(self, "_fitted")

        def one(nt: tuple[str, Any]) -> Any:
            name, t = nt
            return to_numpy(X) if t == "passthrough" else self._weight(name, t.transform(X))

        return _hstack(_run_branches(one, self._fitted, self.n_jobs))

    @property
    def named_transformers(self) -> dict[str, Any]:
        """The fitted branches by name (the unfitted ones before fit)."""
        return dict(getattr(self, "_fitted", self.transformer_list))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """'<branch>__<feature>' for each output column."""
        check_is_fitted(self, "_fitted")
        out = []
        for name, t in self._fitted:
            names = input_features if t == "passthrough" else t.get_feature_names_out(input_features)
            if names is None:
                names = [f"x{i}" for i in range(self.n_features_in_)]
            out.extend(f"{name}__{n}" if self.verbose_feature_names_out else n for n in names)
        return np.asarray(out, dtype=object)


def make_union(*transformers: Any, n_jobs: int | None = None, verbose: bool = False) -> FeatureUnion:
    """A FeatureUnion whose branch names are the lower-cased class names."""
    return FeatureUnion(_name_estimators(transformers), n_jobs=n_jobs, verbose=verbose)
