"""PCA through the SVD of the centred data: for n_samples >= n_features, the
SVD of the small R factor of X - mean from one pass over X in C (_tall.py);
otherwise ember.linalg.svd of X - mean."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

import ember

from .. import _C
from ._base import BaseEstimator, TransformerMixin, check_is_fitted
from ._tall import GRAM_MAX_COND, is_tall, tall_gram_eig, tall_qr_svd
from ._validation import check_result_finite, validate_data

__all__ = ["PCA"]


class PCA(TransformerMixin, BaseEstimator):
    """Principal component analysis: projects centred data on the top right
    singular vectors of X - mean.  n_components: an int, a float in (0, 1)
    (keep enough components to explain that share of the variance) or None
    (all).  Component signs follow scikit-learn's convention (the largest
    loading of each component is positive).  whiten scales the projections
    to unit variance.  svd_solver: 'auto' (for n_samples >= n_features: the
    centred Gram matrix when well conditioned, else Householder QR),
    'covariance_eigh' (the Gram matrix) or 'full' (QR, or the SVD of X - mean
    for wide data); all read X once."""

    def __init__(self, n_components: Any = None, *, copy: bool = True, whiten: bool = False,
                 svd_solver: str = "auto", tol: float = 0.0, iterated_power: Any = "auto",
                 n_oversamples: int = 10, power_iteration_normalizer: str = "auto", random_state: Any = None):
        self.n_components = n_components
        self.copy = copy
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.tol = tol
        self.iterated_power = iterated_power
        self.n_oversamples = n_oversamples
        self.power_iteration_normalizer = power_iteration_normalizer
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> "PCA":
        """Computes mean_, components_ and the explained variances."""
        self._fit(X)
        return self

    def _fit(self, X: Any, want_proj: bool = False) -> np.ndarray | None:
        if self.svd_solver not in ("auto", "full", "covariance_eigh"):
            raise ValueError(f"svd_solver={self.svd_solver!r} is not implemented in ember; use 'auto', 'full' or "
                             "'covariance_eigh'")
        X = validate_data(self, X, reset=True)
        n, d = X.shape
        nc = self.n_components
        if nc is None:
            k = min(n, d)
        elif isinstance(nc, numbers.Integral) and not isinstance(nc, bool):
            if not 0 <= nc <= min(n, d):
                raise ValueError(f"n_components={nc} must be between 0 and min(n_samples, n_features)={min(n, d)} "
                                 "with svd_solver='full'")
            k = int(nc)
        elif isinstance(nc, numbers.Real) and 0 < nc < 1:
            k = None
        else:
            raise ValueError(f"n_components must be None, an int or a float in (0, 1), got {nc!r}")
        U = None
        S = None
        if is_tall(X):
            # one pass over X in C, then a d x d problem (see _tall.py): 'auto' and
            # 'covariance_eigh' take the eigenvectors of the centred Gram matrix, 'auto' only if
            # the components it keeps are well conditioned (s_0 / s_k-1 <= GRAM_MAX_COND), else,
            # as 'full', the SVD of the Householder R factor of X - mean
            if self.svd_solver in ("auto", "covariance_eigh"):
                S, Vt, mean = tall_gram_eig(X)
                kk = k
                if kk is None:  # a variance share: the components it keeps, from these eigenvalues
                    r = S ** 2 / max(np.sum(S ** 2), np.finfo(np.float64).tiny)
                    kk = min(int(np.searchsorted(np.cumsum(r), nc, side="right") + 1), len(S))
                if self.svd_solver == "auto" and kk > 0 and not S[kk - 1] * GRAM_MAX_COND >= S[0]:
                    S = None
            if S is None:
                S, Vt, mean = tall_qr_svd(X)
            self.mean_ = mean.astype(X.dtype, copy=False)
            S, Vt = S.astype(X.dtype, copy=False), Vt.astype(X.dtype, copy=False)
        else:
            self.mean_ = X.mean(axis=0)
            Xc = np.ascontiguousarray(X - self.mean_)
            U, S, Vt = (np.asarray(a) for a in ember.linalg.svd(ember.asarray(Xc), full_matrices=False))
        # sign convention: each component's largest |loading| is positive
        signs = np.sign(Vt[np.arange(len(Vt)), np.argmax(np.abs(Vt), axis=1)])
        signs[signs == 0] = 1
        Vt = Vt * signs[:, None]
        var = S ** 2 / max(n - 1, 1)
        total = var.sum()
        ratio = var / total if total > 0 else np.zeros_like(var)
        if k is None:
            k = int(np.searchsorted(np.cumsum(ratio), nc, side="right") + 1)
            k = min(k, len(S))
        self.n_components_ = k
        self.n_samples_ = n
        self.components_ = Vt[:k]
        self.explained_variance_ = var[:k]
        self.explained_variance_ratio_ = ratio[:k]
        self.singular_values_ = S[:k]
        self.noise_variance_ = float(var[k:].mean()) if k < min(n, d) else 0.0
        self._n_features_out = k
        if not want_proj:
            return None
        if U is None:  # X V = U S, one fused GEMM (see transform)
            proj = self._project(X)
            if self.whiten:
                s = S[:k]
                proj = proj * np.where(s > 0, np.sqrt(max(n - 1, 1)) / np.where(s > 0, s, 1), 0).astype(proj.dtype)
            return proj
        U = U * signs
        return U[:, :k] * (S[:k] if not self.whiten else np.sqrt(max(n - 1, 1)))

    def _project(self, Xa: np.ndarray) -> np.ndarray:
        """(Xa - mean_) @ components_.T as Xa @ components_.T - mean_ @ components_.T, the centring
        folded into the bias, so X is neither copied nor centred (scikit-learn does the same).  Up to
        16 components: X read once in place against the packed components (em_linalg_tall_project);
        more: one GEMM with that bias."""
        dt = np.promote_types(Xa.dtype, self.components_.dtype) if Xa.dtype.kind == "f" else np.float64
        W = np.ascontiguousarray(self.components_, dtype=dt)
        bias = np.ascontiguousarray(-(self.mean_.astype(dt) @ W.T))
        fn = _C._tall_project if 1 <= len(W) <= 16 else _C._linear
        return np.asarray(fn(ember.asarray(np.ascontiguousarray(Xa, dtype=dt)), ember.asarray(W),
                             ember.asarray(bias)))

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        """Fits and returns the projections of X."""
        from ._validation import wrap_like

        return wrap_like(self._fit(X, want_proj=True), X)

    def transform(self, X: Any) -> Any:
        """(X - mean_) @ components_.T (divided by sqrt(explained_variance_) with whiten)."""
        from ._validation import wrap_like

        check_is_fitted(self, "components_")
        # inf and NaN are looked for in the result, not in an extra pass over X (check_result_finite)
        Xa = validate_data(self, X, reset=False, allow_nan=True, allow_inf=True)
        out = self._project(Xa)
        check_result_finite(out, Xa, self)
        if self.whiten:
            out = out / np.sqrt(self.explained_variance_)
        return wrap_like(out, X)

    def inverse_transform(self, X: Any) -> Any:
        """Back to the input space: X @ components_ + mean_ (undoing whitening)."""
        from ._validation import to_numpy, wrap_like

        check_is_fitted(self, "components_")
        Z = to_numpy(X).astype(np.float64)
        if self.whiten:
            Z = Z * np.sqrt(self.explained_variance_)
        return wrap_like(Z @ self.components_ + self.mean_, X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """'pca0', 'pca1', ..."""
        check_is_fitted(self, "components_")
        return np.asarray([f"pca{i}" for i in range(self.n_components_)], dtype=object)
