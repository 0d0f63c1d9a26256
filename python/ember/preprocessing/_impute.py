"""SimpleImputer: fills missing values per column."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

import ember

from ..ml._base import BaseEstimator, TransformerMixin, check_is_fitted
from ..ml._validation import check_array, feature_names_of, reject_sparse, to_numpy
from ._scalers import _nanquantiles

__all__ = ["SimpleImputer"]


def _is_nan_marker(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


class SimpleImputer(TransformerMixin, BaseEstimator):
    """Replaces missing values (``missing_values``: NaN by default, or a given
    value) with a per-column statistic learned in fit.

    strategy: 'mean', 'median', 'most_frequent' (the smallest of ties, as
    scikit-learn) or 'constant' (``fill_value``: 0 for numbers,
    'missing_value' for strings).  Columns with no observed value are dropped
    from the output (with a warning) unless ``keep_empty_features=True``; they
    then get 0 (or the constant).  String/object columns support
    'most_frequent' and 'constant'.  ``add_indicator`` is not implemented
    (ember has no MissingIndicator yet) and raises if set."""

    _allow_nan = True

    def __init__(self, *, missing_values: Any = np.nan, strategy: str = "mean", fill_value: Any = None,
                 copy: bool = True, add_indicator: bool = False, keep_empty_features: bool = False):
        self.missing_values = missing_values
        self.strategy = strategy
        self.fill_value = fill_value
        self.copy = copy
        self.add_indicator = add_indicator
        self.keep_empty_features = keep_empty_features

    def _validate(self, X: Any, reset: bool) -> np.ndarray:
        if self.strategy not in ("mean", "median", "most_frequent", "constant"):
            raise ValueError(f"Can only use these strategies: ['mean', 'median', 'most_frequent', 'constant'] "
                             f"got strategy={self.strategy!r}")
        if self.add_indicator:
            raise NotImplementedError("SimpleImputer(add_indicator=True) is not implemented in ember")
        reject_sparse(X, self)
        names = feature_names_of(X)
        raw = to_numpy(X) if not isinstance(X, (list, tuple)) else np.asarray(X, dtype=object)
        numeric = raw.dtype.kind in "biuf"
        if not numeric and raw.dtype.kind in "OUS" and self.strategy in ("mean", "median"):
            try:
                raw = raw.astype(np.float64)
                numeric = True
            except (TypeError, ValueError) as e:
                raise ValueError(f"Cannot use {self.strategy} strategy with non-numeric data:\n{e}") from None
        dtype = (np.float32 if raw.dtype == np.float32 else np.float64) if numeric else object
        Xa = check_array(raw, dtype=dtype, allow_nan=True, allow_inf=True, estimator=self)
        if numeric and np.isinf(Xa).any() and not (isinstance(self.missing_values, float)
                                                    and np.isinf(self.missing_values)):
            raise ValueError("Input X contains infinity or a value too large for dtype('float64').")
        if reset:
            self.n_features_in_ = Xa.shape[1]
            if names is not None:
                self.feature_names_in_ = names
            else:
                self.__dict__.pop("feature_names_in_", None)
        elif Xa.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {Xa.shape[1]} features, but SimpleImputer is expecting "
                             f"{self.n_features_in_} features as input.")
        return Xa

    def _missing(self, Xa: np.ndarray) -> np.ndarray:
        if _is_nan_marker(self.missing_values):
            if Xa.dtype == object:
                return np.frompyfunc(lambda v: v is None or (isinstance(v, float) and v != v), 1, 1)(Xa) \
                    .astype(bool)
            return np.asarray(ember.isnan(ember.asarray(Xa)))
        return Xa == self.missing_values

    def fit(self, X: Any, y: Any = None) -> "SimpleImputer":
        """Learns statistics_, one fill value per column (NaN for a column that
        has no observed value and will be dropped)."""
        Xa = self._validate(X, reset=True)
        miss = self._missing(Xa)
        n_cols = Xa.shape[1]
        empty = miss.all(axis=0)
        fill_empty = 0 if self.keep_empty_features else np.nan
        if self.strategy == "constant":
            fill = self.fill_value
            if fill is None:
                fill = 0 if Xa.dtype != object else "missing_value"
            if Xa.dtype != object and isinstance(fill, str):
                raise ValueError(f"fill_value={fill!r} (a str) cannot fill numerical data of dtype {Xa.dtype}")
            stats = np.full(n_cols, fill, dtype=object if Xa.dtype == object else Xa.dtype)
            if not self.keep_empty_features:
                stats[empty] = np.nan
        elif self.strategy == "mean":
            t = ember.asarray(Xa)
            keep = ember.logical_not(ember.asarray(miss))
            n = np.asarray(ember.sum(keep.astype(ember.float64), axis=0))
            s = np.asarray(ember.sum(ember.where(keep, t, 0.0).astype(ember.float64), axis=0))
            stats = np.where(empty, fill_empty, s / np.where(n > 0, n, 1))
        elif self.strategy == "median":
            stats = np.where(empty, fill_empty, _nanquantiles(np.where(miss, np.nan, Xa), [50.0])[0])
        else:
            stats = np.empty(n_cols, dtype=object if Xa.dtype == object else np.float64)
            for j in range(n_cols):
                col = Xa[~miss[:, j], j]
                if col.size == 0:
                    stats[j] = fill_empty
                    continue
                values, counts = np.unique(col, return_counts=True)
                stats[j] = values[np.argmax(counts)]  # unique sorts: the smallest of ties wins
        if empty.any() and not self.keep_empty_features:
            warnings.warn(f"Skipping features without any observed values: {np.flatnonzero(empty).tolist()}. At "
                          f"least one non-missing value is needed for imputation with strategy='{self.strategy}'.",
                          UserWarning, stacklevel=2)
        self.statistics_ = stats
        return self

    def _kept(self) -> np.ndarray:
        if self.keep_empty_features:
            return np.ones(len(self.statistics_), dtype=bool)
        return np.array([not _is_nan_marker(v) for v in self.statistics_], dtype=bool)

    def transform(self, X: Any) -> Any:
        """X with missing entries replaced by statistics_ (empty columns dropped
        unless keep_empty_features)."""
        check_is_fitted(self, "statistics_")
        Xa = self._validate(X, reset=False)
        miss = self._missing(Xa)
        stats = self.statistics_
        if Xa.dtype == object:
            out = Xa.copy()
            rows, cols = np.nonzero(miss)
            out[rows, cols] = stats[cols]
        else:
            fill = ember.asarray(np.asarray(stats, dtype=np.float64).astype(Xa.dtype))
            out = np.asarray(ember.where(ember.asarray(miss), fill, ember.asarray(Xa)))
        out = out[:, self._kept()]
        if isinstance(X, ember.Tensor) and out.dtype != object:
            return ember.asarray(np.ascontiguousarray(out))
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the kept columns."""
        from ._scalers import _names_out

        return _names_out(self, input_features)[self._kept()]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags
