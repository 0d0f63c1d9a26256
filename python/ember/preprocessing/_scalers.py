"""Feature scaling: StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler, Normalizer.

Statistics are computed by libember's reductions on the validated data (an
ember tensor sharing the NumPy buffer); NaN is ignored when fitting and kept
when transforming, as scikit-learn does, so scalers can run before an imputer.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import ember

from ..ml._base import BaseEstimator, TransformerMixin, check_is_fitted
from ..ml._validation import check_sample_weight, validate_data, wrap_like

__all__ = ["StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "Normalizer", "normalize"]


def _t(a: np.ndarray) -> ember.Tensor:
    return ember.asarray(a)


def _np(t: Any) -> np.ndarray:
    return np.asarray(t)


def _nan_mask(X: np.ndarray) -> tuple[ember.Tensor, ember.Tensor, bool]:
    """(X with NaN replaced by 0, not-NaN mask as X's dtype, whether any NaN)."""
    Xt = _t(X)
    nan = ember.isnan(Xt)
    has_nan = bool(ember.any(nan))
    if not has_nan:
        return Xt, ember.ones_like(Xt), False
    return ember.where(nan, 0.0, Xt), ember.logical_not(nan).astype(Xt.dtype), True


def _result(out: ember.Tensor, X: Any) -> Any:
    """A transform's result in X's kind (tensor in, tensor out), never sharing
    memory with X."""
    if isinstance(X, ember.Tensor):
        return out.clone() if np.shares_memory(_np(out), _np(X)) else out
    a = _np(out)
    return a.copy() if isinstance(X, np.ndarray) and np.shares_memory(a, X) else a


def _handle_zeros_in_scale(scale: np.ndarray, eps_of: np.dtype) -> np.ndarray:
    # a (near-)constant feature keeps its values instead of blowing up to inf
    scale = scale.copy()
    scale[scale < 10 * np.finfo(eps_of).eps] = 1.0
    return scale


class StandardScaler(TransformerMixin, BaseEstimator):
    """Standardises features: z = (x - mean_) / scale_, with scale_ the
    population standard deviation (ddof=0).  NaN is ignored in fit and kept in
    transform.  partial_fit updates the statistics batch by batch (Chan et al.'s
    parallel variance update), for data that does not fit in memory."""

    _allow_nan = True

    def __init__(self, *, copy: bool = True, with_mean: bool = True, with_std: bool = True):
        self.copy = copy
        self.with_mean = with_mean
        self.with_std = with_std

    def _reset(self) -> None:
        for a in ("mean_", "var_", "scale_", "n_samples_seen_"):
            self.__dict__.pop(a, None)

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> "StandardScaler":
        """Computes mean_, var_ and scale_ of X (per feature)."""
        self._reset()
        return self.partial_fit(X, y, sample_weight)

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> "StandardScaler":
        """Updates the statistics with one more batch X."""
        first = not hasattr(self, "n_samples_seen_")
        X = validate_data(self, X, reset=first)
        Xz, keep, _ = _nan_mask(X)
        if sample_weight is not None:
            keep = keep * _t(check_sample_weight(sample_weight, X.shape[0], X.dtype))[:, None]
        n = _np(ember.sum(keep, axis=0)).astype(np.float64)
        safe_n = np.where(n > 0, n, 1.0)
        mean = _np(ember.sum(Xz * keep, axis=0)).astype(np.float64) / safe_n
        dev = Xz - _t(mean.astype(X.dtype))
        m2 = _np(ember.sum(dev * dev * keep, axis=0)).astype(np.float64)
        if first:
            tot_n, tot_mean, tot_m2 = n, mean, m2
        else:
            n0 = np.asarray(self.n_samples_seen_, dtype=np.float64) * np.ones_like(n)
            tot_n = n0 + n
            safe = np.where(tot_n > 0, tot_n, 1.0)
            delta = mean - self.mean_
            tot_mean = self.mean_ + delta * n / safe
            tot_m2 = self.var_ * n0 + m2 + delta * delta * n0 * n / safe
        safe_tot = np.where(tot_n > 0, tot_n, 1.0)
        self.mean_ = np.where(tot_n > 0, tot_mean, np.nan)
        self.var_ = np.where(tot_n > 0, tot_m2 / safe_tot, np.nan)
        counts = tot_n if sample_weight is not None else tot_n.astype(np.int64)
        self.n_samples_seen_ = counts[0] if np.all(counts == counts[0]) else counts
        if not self.with_mean:
            self.mean_ = None
        if self.with_std:
            self.scale_ = _handle_zeros_in_scale(np.sqrt(self.var_), X.dtype)
        else:
            self.var_, self.scale_ = None, None
        return self

    def transform(self, X: Any, copy: bool | None = None) -> Any:
        """(X - mean_) / scale_ (each part only if enabled)."""
        check_is_fitted(self, "n_samples_seen_")
        Xa = validate_data(self, X, reset=False)
        out = _t(Xa)
        if self.with_mean:
            out = out - _t(self.mean_.astype(Xa.dtype))
        if self.with_std:
            out = out / _t(self.scale_.astype(Xa.dtype))
        return _result(out, X)

    def inverse_transform(self, X: Any, copy: bool | None = None) -> Any:
        """X * scale_ + mean_."""
        check_is_fitted(self, "n_samples_seen_")
        Xa = validate_data(self, X, reset=False)
        out = _t(Xa)
        if self.with_std:
            out = out * _t(self.scale_.astype(Xa.dtype))
        if self.with_mean:
            out = out + _t(self.mean_.astype(Xa.dtype))
        return _result(out, X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output feature names: the input ones."""
        return _names_out(self, input_features)


class MinMaxScaler(TransformerMixin, BaseEstimator):
    """Scales each feature to feature_range: x * scale_ + min_, where
    scale_ = (max - min of the range) / (data_max_ - data_min_).  NaN ignored in
    fit, kept in transform; clip=True clips transformed values to the range."""

    _allow_nan = True

    def __init__(self, feature_range: tuple[float, float] = (0, 1), *, copy: bool = True, clip: bool = False):
        self.feature_range = feature_range
        self.copy = copy
        self.clip = clip

    def fit(self, X: Any, y: Any = None) -> "MinMaxScaler":
        """Computes data_min_, data_max_, scale_ and min_."""
        for a in ("data_min_", "n_samples_seen_"):
            self.__dict__.pop(a, None)
        return self.partial_fit(X, y)

    def partial_fit(self, X: Any, y: Any = None) -> "MinMaxScaler":
        """Updates the running minimum and maximum with one more batch."""
        lo, hi = self.feature_range
        if lo >= hi:
            raise ValueError(f"Minimum of desired feature range must be smaller than maximum. Got "
                             f"{self.feature_range}.")
        first = not hasattr(self, "n_samples_seen_")
        X = validate_data(self, X, reset=first)
        Xt = _t(X)
        nan = ember.isnan(Xt)
        dmin = _np(ember.min(ember.where(nan, np.inf, Xt), axis=0)).astype(np.float64)
        dmax = _np(ember.max(ember.where(nan, -np.inf, Xt), axis=0)).astype(np.float64)
        all_nan = np.isinf(dmin) & np.isinf(dmax) & (dmin > dmax)
        dmin[all_nan], dmax[all_nan] = np.nan, np.nan
        if not first:
            dmin, dmax = np.fmin(self.data_min_, dmin), np.fmax(self.data_max_, dmax)
            self.n_samples_seen_ += X.shape[0]
        else:
            self.n_samples_seen_ = X.shape[0]
        rng = dmax - dmin
        self.data_min_, self.data_max_, self.data_range_ = dmin, dmax, rng
        self.scale_ = (hi - lo) / _handle_zeros_in_scale(rng, X.dtype)
        self.min_ = lo - dmin * self.scale_
        return self

    def transform(self, X: Any) -> Any:
        """X * scale_ + min_ (clipped to feature_range when clip=True)."""
        check_is_fitted(self, "scale_")
        Xa = validate_data(self, X, reset=False)
        out = _t(Xa) * _t(self.scale_.astype(Xa.dtype)) + _t(self.min_.astype(Xa.dtype))
        if self.clip:
            out = ember.clip(out, float(self.feature_range[0]), float(self.feature_range[1]))
        return _result(out, X)

    def inverse_transform(self, X: Any) -> Any:
        """(X - min_) / scale_."""
        check_is_fitted(self, "scale_")
        Xa = validate_data(self, X, reset=False)
        out = (_t(Xa) - _t(self.min_.astype(Xa.dtype))) / _t(self.scale_.astype(Xa.dtype))
        return _result(out, X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output feature names: the input ones."""
        return _names_out(self, input_features)


class MaxAbsScaler(TransformerMixin, BaseEstimator):
    """Scales each feature by its maximum absolute value: x / max_abs_
    (so values land in [-1, 1] and zeros stay zeros).  NaN ignored in fit."""

    _allow_nan = True

    def __init__(self, *, copy: bool = True):
        self.copy = copy

    def fit(self, X: Any, y: Any = None) -> "MaxAbsScaler":
        """Computes max_abs_ and scale_."""
        self.__dict__.pop("n_samples_seen_", None)
        return self.partial_fit(X, y)

    def partial_fit(self, X: Any, y: Any = None) -> "MaxAbsScaler":
        """Updates max_abs_ with one more batch."""
        first = not hasattr(self, "n_samples_seen_")
        X = validate_data(self, X, reset=first)
        Xt = _t(X)
        m = _np(ember.max(ember.where(ember.isnan(Xt), -1.0, ember.abs(Xt)), axis=0)).astype(np.float64)
        m[m < 0] = np.nan
        if first:
            self.n_samples_seen_ = X.shape[0]
        else:
            m = np.fmax(self.max_abs_, m)
            self.n_samples_seen_ += X.shape[0]
        self.max_abs_ = m
        self.scale_ = _handle_zeros_in_scale(m, X.dtype)
        return self

    def transform(self, X: Any) -> Any:
        """X / scale_."""
        check_is_fitted(self, "scale_")
        Xa = validate_data(self, X, reset=False)
        out = _t(Xa) / _t(self.scale_.astype(Xa.dtype))
        return _result(out, X)

    def inverse_transform(self, X: Any) -> Any:
        """X * scale_."""
        check_is_fitted(self, "scale_")
        Xa = validate_data(self, X, reset=False)
        out = _t(Xa) * _t(self.scale_.astype(Xa.dtype))
        return _result(out, X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output feature names: the input ones."""
        return _names_out(self, input_features)


def _nanquantiles(X: np.ndarray, qs: list[float]) -> list[np.ndarray]:
    """Per-column quantiles ignoring NaN, NumPy's 'linear' rule; libember sorts
    (NaN last) and the interpolation picks from the sorted columns."""
    s = _np(ember.sort(_t(X), axis=0)).astype(np.float64)
    n = (~np.isnan(X)).sum(axis=0)
    cols = np.arange(X.shape[1])
    out = []
    for q in qs:
        pos = q / 100.0 * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        frac = pos - lo
        v = s[lo, cols] + (s[hi, cols] - s[lo, cols]) * frac
        v[n == 0] = np.nan
        out.append(v)
    return out


class RobustScaler(TransformerMixin, BaseEstimator):
    """Scales with statistics robust to outliers: (x - center_) / scale_,
    center_ the median and scale_ the quantile_range interquartile range
    (divided by the normal distribution's one when unit_variance=True).
    NaN ignored in fit, kept in transform."""

    _allow_nan = True

    def __init__(self, *, with_centering: bool = True, with_scaling: bool = True,
                 quantile_range: tuple[float, float] = (25.0, 75.0), copy: bool = True, unit_variance: bool = False):
        self.with_centering = with_centering
        self.with_scaling = with_scaling
        self.quantile_range = quantile_range
        self.copy = copy
        self.unit_variance = unit_variance

    def fit(self, X: Any, y: Any = None) -> "RobustScaler":
        """Computes center_ (median) and scale_ (interquartile range)."""
        q_min, q_max = self.quantile_range
        if not 0 <= q_min <= q_max <= 100:
            raise ValueError(f"Invalid quantile range: {self.quantile_range}")
        X = validate_data(self, X, reset=True)
        med, lo, hi = _nanquantiles(X, [50.0, q_min, q_max])
        self.center_ = med if self.with_centering else None
        if self.with_scaling:
            scale = _handle_zeros_in_scale(hi - lo, X.dtype)
            if self.unit_variance:
                from statistics import NormalDist

                nd = NormalDist()
                scale = scale / (nd.inv_cdf(q_max / 100.0) - nd.inv_cdf(q_min / 100.0))
            self.scale_ = scale
        else:
            self.scale_ = None
        return self

    def transform(self, X: Any) -> Any:
        """(X - center_) / scale_ (each part only if enabled)."""
        check_is_fitted(self, "n_features_in_")
        Xa = validate_data(self, X, reset=False)
        out = _t(Xa)
        if self.with_centering:
            out = out - _t(self.center_.astype(Xa.dtype))
        if self.with_scaling:
            out = out / _t(self.scale_.astype(Xa.dtype))
        return _result(out, X)

    def inverse_transform(self, X: Any) -> Any:
        """X * scale_ + center_."""
        check_is_fitted(self, "n_features_in_")
        Xa = validate_data(self, X, reset=False)
        out = _t(Xa)
        if self.with_scaling:
            out = out * _t(self.scale_.astype(Xa.dtype))
        if self.with_centering:
            out = out + _t(self.center_.astype(Xa.dtype))
        return _result(out, X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output feature names: the input ones."""
        return _names_out(self, input_features)


def normalize(X: Any, norm: str = "l2", *, axis: int = 1, copy: bool = True) -> Any:
    """Scales rows (axis=1) or columns (axis=0) to unit l1, l2 or max norm;
    all-zero rows stay zero."""
    if norm not in ("l1", "l2", "max"):
        raise ValueError(f"'{norm}' is not a supported norm; use 'l1', 'l2' or 'max'")
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 or 1, got {axis}")
    from ..ml._validation import check_array

    Xa = check_array(X)
    Xt = _t(Xa)
    if norm == "l1":
        n = ember.sum(ember.abs(Xt), axis=axis, keepdims=True)
    elif norm == "l2":
        n = ember.sqrt(ember.sum(Xt * Xt, axis=axis, keepdims=True))
    else:
        n = ember.max(ember.abs(Xt), axis=axis, keepdims=True)
    n = ember.where(n == 0, 1.0, n)
    out = Xt / n
    return _result(out, X)


class Normalizer(TransformerMixin, BaseEstimator):
    """Scales each sample (row) to unit norm ('l1', 'l2' or 'max'); stateless."""

    def __init__(self, norm: str = "l2", *, copy: bool = True):
        self.norm = norm
        self.copy = copy

    def fit(self, X: Any, y: Any = None) -> "Normalizer":
        """Only validates X (records n_features_in_)."""
        validate_data(self, X, reset=True)
        return self

    def transform(self, X: Any, copy: bool | None = None) -> Any:
        """Each row divided by its norm (no fit needed: the transform is stateless)."""
        Xa = validate_data(self, X, reset=not hasattr(self, "n_features_in_"))
        out = normalize(Xa, self.norm)
        return wrap_like(out, X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output feature names: the input ones."""
        return _names_out(self, input_features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags


def _names_out(est: Any, input_features: Any) -> np.ndarray:
    """Feature names of a one-to-one transformer."""
    check_is_fitted(est, "n_features_in_")
    fitted = getattr(est, "feature_names_in_", None)
    if input_features is None:
        if fitted is not None:
            return np.asarray(fitted, dtype=object)
        return np.asarray([f"x{i}" for i in range(est.n_features_in_)], dtype=object)
    names = np.asarray(input_features, dtype=object)
    if len(names) != est.n_features_in_:
        raise ValueError(f"input_features should have length equal to number of features ({est.n_features_in_}), "
                         f"got {len(names)}")
    if fitted is not None and not np.array_equal(names, fitted):
        raise ValueError("input_features is not equal to feature_names_in_")
    return names
