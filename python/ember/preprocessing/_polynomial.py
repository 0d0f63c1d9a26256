"""PolynomialFeatures: products of features up to a degree."""
from __future__ import annotations

from itertools import combinations, combinations_with_replacement
from typing import Any

import numpy as np

import ember

from ..ml._base import BaseEstimator, TransformerMixin, check_is_fitted
from ..ml._validation import validate_data

__all__ = ["PolynomialFeatures"]


class PolynomialFeatures(TransformerMixin, BaseEstimator):
    """All monomials of the features with total degree in [min_degree,
    max_degree] (degree: an int max or a (min, max) pair), in scikit-learn's
    order: the bias column first, then by degree, each degree in
    lexicographic order of feature indices.  interaction_only keeps products
    of distinct features."""

    def __init__(self, degree: int | tuple[int, int] = 2, *, interaction_only: bool = False,
                 include_bias: bool = True, order: str = "C"):
        self.degree = degree
        self.interaction_only = interaction_only
        self.include_bias = include_bias
        self.order = order

    def _degrees(self) -> tuple[int, int]:
        d = self.degree
        if isinstance(d, (int, np.integer)) and not isinstance(d, bool):
            lo, hi = 0, int(d)
        elif isinstance(d, tuple) and len(d) == 2 and all(isinstance(v, (int, np.integer)) for v in d):
            lo, hi = int(d[0]), int(d[1])
        else:
            raise ValueError(f"degree must be a non-negative int or tuple (min_degree, max_degree), got {d!r}.")
        if lo < 0 or hi < lo:
            raise ValueError(f"degree must satisfy 0 <= min_degree <= max_degree, got {d!r}.")
        if hi == 0 and not self.include_bias:
            raise ValueError("Setting degree to zero and include_bias to False would result in an empty output "
                             "array.")
        return lo, hi

    def _combos(self, n: int) -> list[tuple[int, ...]]:
        lo, hi = self._degrees()
        comb = combinations if self.interaction_only else combinations_with_replacement
        out: list[tuple[int, ...]] = []
        if self.include_bias:
            out.append(())
        for d in range(max(lo, 1), hi + 1):
            out.extend(comb(range(n), d))
        return out

    def fit(self, X: Any, y: Any = None) -> "PolynomialFeatures":
        """Works out powers_ and n_output_features_ for X's number of features."""
        X = validate_data(self, X, reset=True)
        combos = self._combos(X.shape[1])
        powers = np.zeros((len(combos), X.shape[1]), dtype=np.int64)
        for i, c in enumerate(combos):
            for j in c:
                powers[i, j] += 1
        self.powers_ = powers
        self.n_output_features_ = len(combos)
        self._combo_list = combos
        return self

    def transform(self, X: Any) -> Any:
        """The monomials of X, shape (n_samples, n_output_features_).  Each
        degree's columns are the previous degree's times one feature, so every
        product is formed once (libember's elementwise multiply)."""
        check_is_fitted(self, "powers_")
        Xa = validate_data(self, X, reset=False)
        Xt = ember.asarray(Xa)
        n = Xa.shape[0]
        cols: dict[tuple[int, ...], Any] = {(): ember.ones((n,), dtype=Xt.dtype)}

        def column(c: tuple[int, ...]) -> Any:
            if c not in cols:
                cols[c] = column(c[:-1]) * Xt[:, c[-1]] if len(c) > 1 else Xt[:, c[0]]
            return cols[c]

        out = [column(c) for c in self._combo_list]
        res = ember.stack(out, axis=1) if out else ember.zeros((n, 0), dtype=Xt.dtype)
        if self.order == "F":
            res_np = np.asfortranarray(np.asarray(res))
            return res_np if not isinstance(X, ember.Tensor) else ember.asarray(np.ascontiguousarray(res_np))
        return res if isinstance(X, ember.Tensor) else np.asarray(res)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names like '1', 'x0', 'x0^2', 'x0 x1'."""
        from ._scalers import _names_out

        names = _names_out(self, input_features)
        out = []
        for row in self.powers_:
            terms = [f"{names[j]}^{p}" if p > 1 else str(names[j]) for j, p in enumerate(row) if p]
            out.append(" ".join(terms) if terms else "1")
        return np.asarray(out, dtype=object)
