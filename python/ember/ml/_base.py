"""The estimator conventions of ember's classic machine learning.

They are scikit-learn's, so a user can guess the API and so scikit-learn's
own tools (``clone``, ``Pipeline``, ``GridSearchCV``, the estimator checks)
work on ember estimators:

* hyper-parameters are the ``__init__`` keyword arguments, stored unchanged
  as attributes of the same name (``get_params`` / ``set_params`` read them);
* ``fit`` returns ``self`` and sets the fitted attributes, whose names end in
  ``_`` (``coef_``, ``classes_``, ``n_features_in_``);
* calling a method that needs a fitted model first raises
  :class:`NotFittedError`.

scikit-learn is not a run-time dependency: ``__sklearn_tags__`` imports it
only when scikit-learn itself asks for the tags.
"""
from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np

__all__ = ["BaseEstimator", "ClassifierMixin", "RegressorMixin", "TransformerMixin", "ClusterMixin",
           "NotFittedError", "DataConversionWarning", "clone", "check_is_fitted"]


class NotFittedError(ValueError, AttributeError):
    """Raised when a method needs a fitted estimator and ``fit`` has not run.

    A ``ValueError`` and an ``AttributeError``, like scikit-learn's.  When
    scikit-learn is loaded in the process, the error raised is also an
    instance of ``sklearn.exceptions.NotFittedError``, so code (and
    scikit-learn's tools) catching either one catches it."""


_interop_not_fitted: list[type] = []


def _not_fitted_error(message: str) -> NotFittedError:
    # scikit-learn is not a dependency and costs a second to import, so the
    # subclass of both is made only once the user has loaded it anyway
    import sys

    sk = sys.modules.get("sklearn.exceptions")
    if sk is None:
        return NotFittedError(message)
    if not _interop_not_fitted:
        _interop_not_fitted.append(type("NotFittedError", (NotFittedError, sk.NotFittedError),
                                        {"__module__": __name__}))
    return _interop_not_fitted[0](message)


class DataConversionWarning(UserWarning):
    """Warns that input data was converted (e.g. a column vector y raveled)."""


class BaseEstimator:
    """Base class of every ember estimator: parameters, cloning, repr, tags."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        params = inspect.signature(init).parameters.values()
        for p in params:
            if p.kind == p.VAR_POSITIONAL:
                raise RuntimeError(f"{cls.__name__}.__init__ must not take *args: parameters are named")
        return sorted(p.name for p in params if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's hyper-parameters as a dict; with deep=True, also those
        of nested estimators as ``<name>__<param>``."""
        out: dict[str, Any] = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> "BaseEstimator":
        """Sets hyper-parameters (``<name>__<param>`` reaches nested estimators);
        returns self.  An unknown name raises ValueError listing the valid ones."""
        if not params:
            return self
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, sep, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator {self.__class__.__name__}. "
                                 f"Valid parameters are: {sorted(self._get_param_names())!r}.")
            if sep:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        # Like scikit-learn's default: only the parameters that differ from
        # their defaults, so the repr shows what the user chose.
        sig = inspect.signature(self.__class__.__init__).parameters
        shown = []
        for name in self._get_param_names():
            value = getattr(self, name, None)
            default = sig[name].default
            if default is inspect.Parameter.empty or not _same_value(value, default):
                shown.append(f"{name}={value!r}")
        return f"{self.__class__.__name__}({', '.join(shown)})"

    def __sklearn_tags__(self):
        from sklearn.utils import (ClassifierTags, InputTags, RegressorTags, Tags, TargetTags,
                                   TransformerTags)

        kind = getattr(self, "_estimator_type", None)
        tags = Tags(estimator_type=kind, target_tags=TargetTags(required=kind in ("classifier", "regressor")),
                    transformer_tags=TransformerTags() if isinstance(self, TransformerMixin) else None,
                    classifier_tags=ClassifierTags() if kind == "classifier" else None,
                    regressor_tags=RegressorTags() if kind == "regressor" else None,
                    input_tags=InputTags(allow_nan=self._allow_nan))
        tags.non_deterministic = False
        return tags

    #: whether fit/transform accept NaN (imputers); the validation reads it
    _allow_nan = False

    def _check_n_features(self, n: int, reset: bool) -> None:
        if reset:
            self.n_features_in_ = n
        elif n != self.n_features_in_:
            raise ValueError(f"X has {n} features, but {self.__class__.__name__} is expecting "
                             f"{self.n_features_in_} features as input.")


def _same_value(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return False


class ClassifierMixin:
    """Marks a classifier; ``score`` is the accuracy of ``predict``."""

    _estimator_type = "classifier"

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of ``predict(X)`` against y (weighted by sample_weight)."""
        from ._validation import column_or_1d, to_numpy

        pred = to_numpy(self.predict(X))
        y = column_or_1d(y)
        hits = (pred == y).astype(np.float64)
        if sample_weight is None:
            return float(hits.mean())
        w = np.asarray(sample_weight, dtype=np.float64)
        return float((hits * w).sum() / w.sum())


class RegressorMixin:
    """Marks a regressor; ``score`` is the coefficient of determination R^2."""

    _estimator_type = "regressor"

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R^2 of ``predict(X)`` against y: 1 - SS_res / SS_tot (averaged over outputs)."""
        from ._validation import to_numpy

        pred = to_numpy(self.predict(X)).astype(np.float64)
        y = to_numpy(y).astype(np.float64).reshape(pred.shape)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        w = w.reshape((-1,) + (1,) * (y.ndim - 1))
        mean = (w * y).sum(axis=0) / w.sum()
        ss_res = (w * (y - pred) ** 2).sum(axis=0)
        ss_tot = (w * (y - mean) ** 2).sum(axis=0)
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0),
                      np.where(ss_res > 0, 0.0, 1.0))
        return float(np.mean(r2))


class TransformerMixin:
    """Marks a transformer; ``fit_transform`` is ``fit(X, y).transform(X)``."""

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """Fits to X (and y) and returns X transformed."""
        return self.fit(X, y, **fit_params).transform(X)


class ClusterMixin:
    """Marks a clustering estimator; ``fit_predict`` returns ``labels_``."""

    _estimator_type = "clusterer"

    def fit_predict(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """Fits to X and returns the cluster label of each sample."""
        self.fit(X, y, **fit_params)
        return self.labels_


def clone(estimator: Any) -> Any:
    """A new, unfitted estimator with the same parameters (deep-copied), like
    ``sklearn.base.clone``; lists and tuples of estimators are cloned item by item."""
    if isinstance(estimator, (list, tuple, set, frozenset)):
        return type(estimator)(clone(e) for e in estimator)
    if not hasattr(estimator, "get_params") or isinstance(estimator, type):
        return copy.deepcopy(estimator)
    params = {k: clone(v) if hasattr(v, "get_params") and not isinstance(v, type) else copy.deepcopy(v)
              for k, v in estimator.get_params(deep=False).items()}
    return type(estimator)(**params)


def check_is_fitted(estimator: Any, attributes: str | list[str] | None = None) -> None:
    """Raises NotFittedError unless the estimator has been fitted: it has the
    given attributes, or by default any attribute ending in ``_`` that does not
    start with ``_``."""
    if attributes is not None:
        names = [attributes] if isinstance(attributes, str) else list(attributes)
        fitted = all(hasattr(estimator, a) for a in names)
    else:
        fitted = any(k.endswith("_") and not k.startswith("_") for k in vars(estimator))
    if not fitted:
        raise _not_fitted_error(f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
                                "appropriate arguments before using this estimator.")
