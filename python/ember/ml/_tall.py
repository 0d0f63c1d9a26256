"""Tall data (many more rows than columns): least squares and PCA from one
pass over the rows in C (em_linalg_tall_gram / em_linalg_tall_qr), then an
SVD of a small n x n triangular factor R with R^T R = Xc^T W Xc.

Two ways to get R, chosen per problem:
  - gram (fast): the centred, weighted Gram matrix in one blocked pass, then
    its Cholesky factor.  Its rounding error grows like cond(Xc)^2 * eps, so
    it is used only when the SVD of R shows cond(Xc) <= GRAM_MAX_COND (then
    the coefficients and singular values agree with an SVD-based solver to
    about 1e-10 relative);
  - qr (always accurate): Householder reflections on the rows, backward
    stable like LAPACK's QR, for rank-deficient or ill-conditioned X.
Each reads X once, in blocks that stay in cache (a fall-back from gram to
qr reads it twice); X is never centred, scaled or copied as a whole."""
from __future__ import annotations

from typing import Any

import numpy as np

import ember

from .. import _C

GRAM_MAX_COND = 1e3  # cond(Xc) up to which the Gram path's cond^2 * eps error is negligible (<= ~1e-10)


def _svd(a: np.ndarray):
    U, s, Vt = ember.linalg.svd(ember.asarray(np.ascontiguousarray(a)), full_matrices=False)
    return np.asarray(U), np.asarray(s), np.asarray(Vt)


def tall_factor(X: np.ndarray, Y: np.ndarray | None, w: np.ndarray | None, center: bool, method: str = "auto"):
    """Reduces [X | Y] (weights w, centred if center) to the SVD of its n x n R
    factor.  Returns (U, s, Vt, Z, mean, method) with R = U diag(s) Vt,
    Z = Q^T Yc (n x k, None without Y) and mean the weighted means of [X | Y]
    (zeros unless center).  method: 'auto' (gram when well conditioned, else
    qr), 'gram' or 'qr' (tests)."""
    n = X.shape[1]
    if method in ("auto", "gram"):
        G, mean = (np.asarray(a) for a in _C._tall(X, Y, w, center, False))
        try:
            L = np.asarray(ember.linalg.cholesky(ember.asarray(np.ascontiguousarray(G[:n, :n]))))
        except ValueError:  # not positive definite: X is (numerically) rank deficient
            L = None
        if L is not None:
            U, s, Vt = _svd(L.T)
            if method == "gram" or s[-1] * GRAM_MAX_COND >= s[0]:
                Z = None
                if Y is not None:  # Q^T Yc = R^-T Xc^T W Yc = U diag(1/s) Vt Xc^T W Yc
                    Z = U @ ((Vt @ G[:n, n:]) / s[:, None])
                return U, s, Vt, Z, mean, "gram"
    R, mean = (np.asarray(a) for a in _C._tall(X, Y, w, center, True))
    U, s, Vt = _svd(R[:n, :n])
    return U, s, Vt, (R[:n, n:] if Y is not None else None), mean, "qr"


def tall_gram_eig(X: np.ndarray):
    """Eigen-decomposition of the centred Gram matrix of X (one pass in C), as
    singular values: (s descending, Vt, mean).  Each s_i carries an error of
    about eps * s_0^2 / s_i (relative), so only the leading components whose
    s_0 / s_i <= GRAM_MAX_COND are as accurate as an SVD's."""
    G, mean = (np.asarray(a) for a in _C._tall(X, None, None, True, False))
    lam, V = (np.asarray(a) for a in ember.linalg.eigh(ember.asarray(G)))
    lam, V = lam[::-1], V[:, ::-1]
    return np.sqrt(np.maximum(lam, 0.0)), np.ascontiguousarray(V.T), mean


def tall_qr_svd(X: np.ndarray):
    """SVD of the R factor of the centred X (Householder, one pass in C):
    (s descending, Vt, mean), as accurate as an SVD of X - mean."""
    R, mean = (np.asarray(a) for a in _C._tall(X, None, None, True, True))
    _, s, Vt = _svd(R)
    return s, Vt, mean


def tall_lstsq(X: np.ndarray, Y: np.ndarray, w: np.ndarray | None, center: bool, method: str = "auto",
               rcond: float | None = None):
    """Minimum-norm weighted least squares of the centred Y (m x k) on the
    centred X (m x n, m >= n): returns (coef (k x n), x_offset, y_offset,
    rank, singular values of the centred, weighted X).  Singular values at
    or below rcond * s[0] count as zero (None: max(m, n) * eps, NumPy's
    lstsq default)."""
    m, n = X.shape
    U, s, Vt, Z, mean, _ = tall_factor(X, Y, w, center, method)
    rc = max(m, n) * np.finfo(np.float64).eps if rcond is None else rcond
    tol = rc * (s[0] if len(s) else 0.0)
    r = int(np.sum(s > tol))
    coef = (Vt[:r].T @ ((U[:, :r].T @ Z) / s[:r, None])).T
    return coef, mean[:n], mean[n:], r, s[:min(m, n)]


def is_tall(X: Any) -> bool:
    """True when the one-pass path applies: a 2-D float array with at least as
    many rows as columns and a small enough column count for an n x n SVD."""
    return X.ndim == 2 and X.shape[0] >= X.shape[1] >= 1 and X.shape[1] <= 2048 and \
        X.dtype in (np.float32, np.float64)
