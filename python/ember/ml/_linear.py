"""Linear models: LinearRegression, Ridge, Lasso, ElasticNet, LogisticRegression,
SGDClassifier, SGDRegressor, Perceptron, LinearSVC.

Least squares go through ember.linalg (SVD-based lstsq, Cholesky/solve);
the iterative solvers (L-BFGS, coordinate descent, SGD epochs, dual
coordinate descent) are C loops in csrc/ember/ml/linear.c.  Intercepts are
handled as scikit-learn does: by centring X and y (weighted) for the least
squares and penalised regressions, as an unpenalised parameter for logistic
regression and SGD, and as liblinear's regularised extra feature for
LinearSVC."""
from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

import ember

from .. import _C
from ._base import BaseEstimator, ClassifierMixin, RegressorMixin, check_is_fitted
from ._tall import is_tall, tall_lstsq
from ._validation import (check_classification_targets, check_result_finite, check_sample_weight, seed_from,
                          validate_data, wrap_like)

__all__ = ["LinearRegression", "Ridge", "Lasso", "ElasticNet", "LogisticRegression", "SGDClassifier",
           "SGDRegressor", "Perceptron", "LinearSVC", "ConvergenceWarning"]


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at max_iter before reaching its tolerance."""


def _t(a: np.ndarray) -> ember.Tensor:
    return ember.asarray(np.ascontiguousarray(a))


def _center(X: np.ndarray, y: np.ndarray, w: np.ndarray, fit_intercept: bool):
    """Weighted centring (scikit-learn's _preprocess_data) and sqrt-weight
    row scaling: returns Xc, yc (scaled), X_offset, y_offset."""
    if fit_intercept:
        W = w.sum()
        x_off = (w @ X) / W
        y_off = (w @ y) / W
        Xc, yc = X - x_off, y - y_off
    else:
        x_off = np.zeros(X.shape[1])
        y_off = np.zeros(y.shape[1:]) if y.ndim > 1 else 0.0
        Xc, yc = X, y
    s = np.sqrt(w)
    return np.ascontiguousarray(Xc * s[:, None]), np.ascontiguousarray(yc * (s[:, None] if y.ndim > 1 else s)), \
        x_off, y_off


class _LinearPredictor:
    def _decision(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coef_")
        # inf and NaN are looked for in the result instead of in X (one pass over X, not two): any
        # non-finite element of a row makes its outputs non-finite, so X is scanned only then
        Xa = validate_data(self, X, reset=False, allow_nan=True, allow_inf=True).astype(np.float64, copy=False)
        coef = np.ascontiguousarray(np.atleast_2d(self.coef_), dtype=np.float64)
        b = np.ascontiguousarray(np.broadcast_to(np.asarray(self.intercept_, dtype=np.float64), (coef.shape[0],)))
        # X @ coef.T + intercept in one pass: for up to 16 outputs X is read in place against the
        # packed coefficients (em_linalg_tall_project), else the GEMM with the intercept as its bias
        fn = _C._tall_project if coef.shape[0] <= 16 else _C._linear
        out = np.asarray(fn(_t(Xa), _t(coef), _t(b)))
        check_result_finite(out, Xa, self)
        return out


class _LinearRegressorBase(_LinearPredictor, RegressorMixin, BaseEstimator):
    _multi_output = True  # a 2-d y fits one coefficient row per target

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = self._multi_output
        return tags

    def predict(self, X: Any) -> Any:
        """X @ coef_.T + intercept_."""
        out = self._decision(X)
        return wrap_like(out[:, 0] if np.ndim(self.coef_) == 1 else out, X)

    def _set_intercept(self, coef: np.ndarray, x_off: np.ndarray, y_off: Any) -> None:
        self.coef_ = coef
        self.intercept_ = (y_off - x_off @ coef.T) if self.fit_intercept else \
            (0.0 if coef.ndim == 1 else np.zeros(coef.shape[0]))

    def _xyw(self, X: Any, y: Any, sample_weight: Any):
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        X = X.astype(np.float64, copy=False)
        y = y.astype(np.float64, copy=False)
        w = check_sample_weight(sample_weight, len(X))
        return X, y, w


class LinearRegression(_LinearRegressorBase):
    """Ordinary least squares: minimises ||y - X w - b||^2 (weighted), through
    an SVD-based least-squares solve, so rank-deficient X gives the
    minimum-norm solution; singular values below tol times the largest count
    as zero (scikit-learn >= 1.9's `cond`).  For n_samples >= n_features the
    data is read once in C into an n x n triangular factor (Gram/Cholesky
    when well conditioned, Householder QR otherwise, see ember/ml/_tall.py)
    whose SVD gives the solution.  positive=True constrains w >= 0
    (coordinate descent)."""

    def __init__(self, *, fit_intercept: bool = True, copy_X: bool = True, tol: float = 1e-6,
                 n_jobs: int | None = None, positive: bool = False):
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.tol = tol
        self.n_jobs = n_jobs
        self.positive = positive

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "LinearRegression":
        """Fits coef_ and intercept_."""
        X, y, w = self._xyw(X, y, sample_weight)
        if not self.positive and is_tall(X):
            # one pass over X in C (centring and weights fused), then an n x n SVD; see _tall.py
            Y = y[:, None] if y.ndim == 1 else y
            ws = None if sample_weight is None else w
            coef, x_off, y_off, rank, sv = tall_lstsq(X, np.ascontiguousarray(Y), ws, self.fit_intercept,
                                                      rcond=self.tol)
            self.rank_, self.singular_ = rank, sv
            self._set_intercept(coef[0] if y.ndim == 1 else coef, x_off, y_off[0] if y.ndim == 1 else y_off)
            return self
        Xc, yc, x_off, y_off = _center(X, y, w, self.fit_intercept)
        if self.positive:
            cols = [yc] if yc.ndim == 1 else list(yc.T)
            coefs = []
            for col in cols:
                c, _, _ = _C._enet_fit(Xc, np.ascontiguousarray(col), 0.0, 1.0, 10000, 1e-10, True, None)
                coefs.append(np.asarray(c))
            coef = coefs[0] if yc.ndim == 1 else np.vstack(coefs)
            self.rank_, self.singular_ = None, None
        else:
            sol, _, rank, sv = ember.linalg.lstsq(_t(Xc), _t(yc), rcond=self.tol)
            coef = np.asarray(sol).T
            self.rank_ = int(np.asarray(rank))
            self.singular_ = np.asarray(sv)
        self._set_intercept(coef, x_off, y_off)
        return self


class Ridge(_LinearRegressorBase):
    """Least squares with an l2 penalty: minimises ||y - X w - b||^2 +
    alpha ||w||^2, solved through the normal equations (X^T X + alpha I) w =
    X^T y (both products of the centred, weighted data from one pass over X
    in C, em_linalg_tall_gram) with a Cholesky factorisation in libember (or,
    with solver='svd', by filtering X's singular values).  alpha may be one
    value per target."""

    def __init__(self, alpha: Any = 1.0, *, fit_intercept: bool = True, copy_X: bool = True,
                 max_iter: int | None = None, tol: float = 1e-4, solver: str = "auto", positive: bool = False,
                 random_state: Any = None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.positive = positive
        self.random_state = random_state

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "Ridge":
        """Fits coef_ and intercept_."""
        if self.solver not in ("auto", "cholesky", "svd"):
            raise ValueError(f"solver={self.solver!r} is not available in ember; use 'auto', 'cholesky' or 'svd'")
        if self.positive:
            raise ValueError("Ridge(positive=True) is not implemented in ember")
        X, y, w = self._xyw(X, y, sample_weight)
        alpha = np.asarray(self.alpha, dtype=np.float64)
        if (alpha < 0).any():
            raise ValueError(f"alpha must be >= 0, got {self.alpha!r}")
        k = 1 if y.ndim == 1 else y.shape[1]
        alphas = np.broadcast_to(alpha, (k,)) if alpha.ndim else np.full(k, float(alpha))
        if alpha.ndim and alpha.shape[0] not in (1, k):
            raise ValueError(f"Number of targets and number of penalties do not correspond: {alpha.shape[0]} != {k}")
        yc = y
        if self.solver != "svd" and X.shape[1] <= 2048:
            # X^T X and X^T Y of the centred, weighted data in one pass over X in C (no centred copy)
            n = X.shape[1]
            Gy, mean = (np.asarray(a) for a in _C._tall(X, np.ascontiguousarray(y), None if sample_weight is None
                                                         else w, self.fit_intercept, False))
            G, XtY, x_off = Gy[:n, :n], Gy[:n, n:], mean[:n]
            y_off = mean[n] if y.ndim == 1 else mean[n:]
        else:
            Xc, yc, x_off, y_off = _center(X, y, w, self.fit_intercept)
            Xt = _t(Xc)
        Y = yc[:, None] if yc.ndim == 1 else yc
        if self.solver == "svd":
            U, s, Vh = (np.asarray(a) for a in ember.linalg.svd(Xt, full_matrices=False))
            uty = U.T @ Y
            coef = np.stack([Vh.T @ (s / (s * s + a) * uty[:, j]) for j, a in enumerate(alphas)])
        else:
            if X.shape[1] > 2048:
                G = np.asarray(Xt.T @ Xt)
                XtY = np.asarray(Xt.T @ _t(Y))
            coef = np.empty((Y.shape[1], X.shape[1]))
            same = np.all(alphas == alphas[0])
            for j, a in enumerate(alphas):
                if j and same:
                    break
                A = G + a * np.eye(G.shape[0])
                try:
                    L = ember.linalg.cholesky(_t(A))
                    z = ember.linalg.solve(L, _t(XtY if same else XtY[:, j:j + 1]))
                    sol = np.asarray(ember.linalg.solve(ember.matrix_transpose(L), z))
                except ValueError:  # singular (alpha = 0 on collinear data): least squares instead
                    sol = np.asarray(ember.linalg.lstsq(_t(A), _t(XtY if same else XtY[:, j:j + 1]))[0])
                if same:
                    coef[:] = sol.T
                else:
                    coef[j] = sol[:, 0]
        self._set_intercept(coef[0] if yc.ndim == 1 else coef, x_off, y_off)
        self.n_iter_ = None  # a direct solve: no iterations (as scikit-learn's cholesky/svd paths)
        return self


class ElasticNet(_LinearRegressorBase):
    """Linear regression with combined l1 and l2 penalties:
    (1/(2n)) ||y - X w - b||^2 + alpha l1_ratio ||w||_1 + (alpha (1 - l1_ratio)/2) ||w||^2,
    solved by cyclic coordinate descent in C with scikit-learn's duality-gap
    stopping rule."""

    def __init__(self, alpha: float = 1.0, *, l1_ratio: float = 0.5, fit_intercept: bool = True,
                 precompute: bool = False, max_iter: int = 1000, copy_X: bool = True, tol: float = 1e-4,
                 warm_start: bool = False, positive: bool = False, random_state: Any = None,
                 selection: str = "cyclic"):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.copy_X = copy_X
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection

    def fit(self, X: Any, y: Any, sample_weight: Any = None, check_input: bool = True) -> "ElasticNet":
        """Fits coef_, intercept_, n_iter_ and dual_gap_."""
        if self.selection != "cyclic":
            raise ValueError("selection='random' is not implemented in ember; use 'cyclic'")
        if self.precompute not in (False, "auto"):
            raise ValueError("precompute (Gram matrices) is not implemented in ember; use False")
        l1_ratio = self.l1_ratio
        if not 0 <= l1_ratio <= 1:
            raise ValueError(f"l1_ratio must be in [0, 1], got {l1_ratio}")
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        X, y, w = self._xyw(X, y, sample_weight)
        w = w * (len(w) / w.sum())  # weights rescaled to sum to n (scikit-learn)
        Xc, yc, x_off, y_off = _center(X, y, w, self.fit_intercept)
        Y = yc[:, None] if yc.ndim == 1 else yc
        prev = np.atleast_2d(self.coef_) if self.warm_start and hasattr(self, "coef_") else None
        coefs, iters, gaps = [], [], []
        for j in range(Y.shape[1]):
            w0 = np.ascontiguousarray(prev[j]) if prev is not None and prev.shape == (Y.shape[1], X.shape[1]) \
                else None
            c, it, gap = _C._enet_fit(Xc, np.ascontiguousarray(Y[:, j]), float(self.alpha), float(l1_ratio),
                                      int(self.max_iter), float(self.tol), bool(self.positive), w0)
            coefs.append(np.asarray(c))
            iters.append(it)
            gaps.append(gap)
            if it >= self.max_iter and self.max_iter > 0:
                warnings.warn(f"Objective did not converge. You might want to increase the number of iterations. "
                              f"Duality gap: {gap:.3e}, tolerance: {self.tol * float(Y[:, j] @ Y[:, j]):.3e}",
                              ConvergenceWarning, stacklevel=2)
        coef = coefs[0] if yc.ndim == 1 else np.vstack(coefs)
        self._set_intercept(coef, x_off, y_off)
        self.n_iter_ = iters[0] if yc.ndim == 1 else iters
        self.dual_gap_ = gaps[0] if yc.ndim == 1 else np.asarray(gaps)
        return self


class Lasso(ElasticNet):
    """Linear regression with an l1 penalty (ElasticNet with l1_ratio = 1):
    (1/(2n)) ||y - X w - b||^2 + alpha ||w||_1.  l1_ratio is fixed (an
    attribute, not a parameter: get_params leaves it out), as in
    scikit-learn."""

    def __init__(self, alpha: float = 1.0, *, fit_intercept: bool = True, precompute: bool = False,
                 copy_X: bool = True, max_iter: int = 1000, tol: float = 1e-4, warm_start: bool = False,
                 positive: bool = False, random_state: Any = None, selection: str = "cyclic"):
        super().__init__(alpha=alpha, l1_ratio=1.0, fit_intercept=fit_intercept, precompute=precompute,
                         max_iter=max_iter, copy_X=copy_X, tol=tol, warm_start=warm_start, positive=positive,
                         random_state=random_state, selection=selection)


class _LinearClassifierBase(_LinearPredictor, ClassifierMixin, BaseEstimator):
    def decision_function(self, X: Any) -> Any:
        """Signed distance to the hyperplane(s): (n,) for two classes, (n, n_classes) otherwise."""
        out = self._decision(X)
        return wrap_like(out[:, 0] if out.shape[1] == 1 else out, X)

    def predict(self, X: Any) -> Any:
        """The class of largest decision value (positive side: classes_[1])."""
        d = self._decision(X)
        idx = (d[:, 0] > 0).astype(np.int64) if d.shape[1] == 1 else d.argmax(axis=1)
        return wrap_like(self.classes_[idx], X)

    def _class_weights(self, y_codes: np.ndarray, sw: np.ndarray) -> np.ndarray:
        cw = getattr(self, "class_weight", None)
        if cw is None:
            return sw
        k = len(self.classes_)
        if cw == "balanced":
            counts = np.bincount(y_codes, minlength=k).astype(np.float64)
            per = len(y_codes) / (k * np.maximum(counts, 1))
        elif isinstance(cw, dict):
            per = np.array([cw.get(c, 1.0) for c in self.classes_], dtype=np.float64)
        else:
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")
        return sw * per[y_codes]

    def _classes(self, y: np.ndarray) -> np.ndarray:
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"This solver needs samples of at least 2 classes in the data, but the data contains "
                             f"only one class: {self.classes_[0]!r}")
        return codes.astype(np.int64)


class LogisticRegression(_LinearClassifierBase):
    """Logistic regression (binary, or multinomial for more classes) on
    scikit-learn's objective, (1/S) sum_i s_i loss_i + penalty(W) / (C S):
    penalty 'l2' (||W||^2 / 2), 'l1' (||W||_1), 'elasticnet'
    (l1_ratio ||W||_1 + (1 - l1_ratio) ||W||^2 / 2) or None; intercepts are
    not penalised.  The solvers are C loops: L-BFGS for 'l2' and None; with
    an l1 part, proximal Newton (coordinate descent on the local quadratic
    model, as glmnet) while the model has at most 2048 coefficients
    (n_classes (n_features + 1), or n_features + 1 for two classes), else
    OWL-QN (orthant-wise L-BFGS); both give exact zeros.  solver accepts
    'lbfgs' (the default) and 'saga' (scikit-learn's solver for l1 and elastic
    net): both names mean ember's choice above, which minimises the same
    objective, so the coefficients agree with scikit-learn's to its
    tolerance.  tol bounds the largest entry of the (pseudo-)gradient of the
    objective divided by C S."""

    _SOLVERS = ("lbfgs", "saga")
    _PENALTIES = {None: 0, "none": 0, "l2": 1, "l1": 2, "elasticnet": 3}

    def __init__(self, penalty: str | None = "l2", *, dual: bool = False, tol: float = 1e-4, C: float = 1.0,
                 fit_intercept: bool = True, intercept_scaling: float = 1, class_weight: Any = None,
                 random_state: Any = None, solver: str = "lbfgs", max_iter: int = 100, verbose: int = 0,
                 warm_start: bool = False, n_jobs: int | None = None, l1_ratio: float | None = None):
        self.penalty = penalty
        self.dual = dual
        self.tol = tol
        self.C = C
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.l1_ratio = l1_ratio

    def _penalty(self) -> tuple[int, float]:
        if self.solver not in self._SOLVERS:
            hint = (" (liblinear penalises the intercept and fits one-vs-rest; 'saga' solves scikit-learn's "
                    "multinomial objective with an unpenalised intercept, as ember does)"
                    if self.solver == "liblinear" else "")
            raise ValueError(f"solver={self.solver!r} is not implemented in ember; use 'lbfgs' or 'saga'{hint}")
        if self.penalty not in self._PENALTIES:
            raise ValueError(f"penalty={self.penalty!r} is not supported; use 'l2', 'l1', 'elasticnet' or None")
        if self.dual:
            raise ValueError("dual=True is not implemented in ember (the solver works on the primal)")
        if not (isinstance(self.C, numbers.Real) and self.C > 0):
            raise ValueError(f"C must be a positive float, got {self.C!r}")
        l1_ratio = 0.0
        if self.penalty == "elasticnet":
            if self.l1_ratio is None:
                raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
            if not (isinstance(self.l1_ratio, numbers.Real) and 0 <= self.l1_ratio <= 1):
                raise ValueError(f"l1_ratio must be between 0 and 1; got (l1_ratio={self.l1_ratio!r})")
            l1_ratio = float(self.l1_ratio)
        elif self.l1_ratio is not None and self.l1_ratio != (1 if self.penalty == "l1" else 0):
            warnings.warn(f"l1_ratio parameter is only used when penalty is 'elasticnet'. Got (penalty="
                          f"{self.penalty!r}); ember's penalty defaults to 'l2', pass penalty='elasticnet' to mix "
                          "l1 and l2", UserWarning, stacklevel=3)
        return self._PENALTIES[self.penalty], l1_ratio

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "LogisticRegression":
        """Fits coef_, intercept_ and n_iter_."""
        penalty, l1_ratio = self._penalty()
        X, y = validate_data(self, X, y)
        X = X.astype(np.float64, copy=False)
        codes = self._classes(y)
        sw = self._class_weights(codes, check_sample_weight(sample_weight, len(X)))
        coef, b, it = _C._logreg_fit(X, codes, sw, len(self.classes_), float(self.C), penalty, l1_ratio,
                                     bool(self.fit_intercept), int(self.max_iter), float(self.tol))
        self.coef_ = np.asarray(coef)
        self.intercept_ = np.asarray(b)
        self.n_iter_ = np.array([it], dtype=np.int32)
        if it >= self.max_iter:
            name = "lbfgs"
            if penalty == 2 or (penalty == 3 and l1_ratio > 0):
                rows = 1 if len(self.classes_) == 2 else len(self.classes_)
                name = "proximal Newton" if rows * (X.shape[1] + 1) <= 2048 else "OWL-QN"
            warnings.warn(f"{name} failed to converge after {it} iteration(s); increase max_iter or scale the data",
                          ConvergenceWarning, stacklevel=2)
        return self

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities: sigmoid (two classes) or softmax of decision_function."""
        d = self._decision(X)
        if d.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-np.clip(d[:, 0], -700, 700)))
            out = np.column_stack([1 - p, p])
        else:
            out = np.asarray(ember.softmax(_t(d), axis=1))
        return wrap_like(out, X)

    def predict_log_proba(self, X: Any) -> Any:
        """Log of predict_proba (computed stably)."""
        d = self._decision(X)
        if d.shape[1] == 1:
            z = d[:, 0]
            out = np.column_stack([-np.logaddexp(0, z), -np.logaddexp(0, -z)])
        else:
            out = np.asarray(ember.log_softmax(_t(d), axis=1))
        return wrap_like(out, X)


_CLF_LOSSES = {"hinge": 0, "log_loss": 1, "modified_huber": 2, "squared_hinge": 3, "perceptron": 4}
_REG_LOSSES = {"squared_error": 5, "huber": 6, "epsilon_insensitive": 7, "squared_epsilon_insensitive": 8}
_PENALTIES = {None: 0, "l2": 1, "l1": 2, "elasticnet": 3}
_SCHEDULES = {"constant": 0, "optimal": 1, "invscaling": 2}


class _SGDBase:
    """What SGDClassifier and SGDRegressor share: the hyper-parameters, their
    checks, the epoch loop and the fit (one weight row per target vector the
    subclass hands out: one-vs-rest rows for a classifier, the one target of
    a regressor).  Subclasses set _losses and implement _check_xy, _init_model
    and _targets."""

    _losses: dict[str, int]

    def __init__(self, loss: str, *, penalty: str | None, alpha: float, l1_ratio: float, fit_intercept: bool,
                 max_iter: int, tol: float | None, shuffle: bool, verbose: int, epsilon: float, random_state: Any,
                 learning_rate: str, eta0: float, power_t: float, early_stopping: bool, validation_fraction: float,
                 n_iter_no_change: int, warm_start: bool, average: bool):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.average = average

    def _opts(self) -> tuple:
        losses = self._losses
        if self.loss not in losses:
            raise ValueError(f"The loss {self.loss!r} is not supported; choose one of {sorted(losses)}")
        if self.penalty not in _PENALTIES:
            raise ValueError(f"penalty must be one of None, 'l2', 'l1', 'elasticnet', got {self.penalty!r}")
        if self.learning_rate not in _SCHEDULES:
            raise ValueError(f"learning_rate {self.learning_rate!r} is not available in ember; use 'constant', "
                             "'optimal' or 'invscaling'")
        if self.early_stopping:
            raise ValueError("early_stopping=True is not implemented in ember")
        if self.average:
            raise ValueError("average=True is not implemented in ember")
        if self.learning_rate != "optimal" and self.eta0 <= 0:
            raise ValueError("eta0 must be > 0")
        if self.learning_rate == "optimal" and self.alpha <= 0:
            raise ValueError("alpha must be > 0 since learning_rate is 'optimal'. alpha is used to compute the "
                             "optimal learning rate.")
        return (losses[self.loss], _PENALTIES[self.penalty], _SCHEDULES[self.learning_rate], float(self.alpha),
                float(self.l1_ratio), float(self.eta0), float(self.power_t), float(self.epsilon),
                bool(self.fit_intercept))

    def _run(self, X: np.ndarray, y: np.ndarray, sw: np.ndarray, w: np.ndarray, b: float, t: float, opts: tuple,
             gen: ember.Generator, epochs: int, stop: bool) -> tuple[float, float, int]:
        """Epochs over (X, y) updating w in place; stops after n_iter_no_change
        epochs without tol improvement of the mean loss (when stop)."""
        n = len(X)
        best, stall, done = np.inf, 0, 0
        for _ in range(epochs):
            order = np.asarray(gen.permutation(n)).astype(np.int64) if self.shuffle else np.arange(n)
            b, t, total = _C._sgd_epoch(X, y, sw, order, w, b, t, *opts)
            done += 1
            loss = total / n
            if stop and self.tol is not None:
                if loss > best - self.tol:
                    stall += 1
                else:
                    stall = 0
                best = min(best, loss)
                if stall >= self.n_iter_no_change:
                    break
        return b, t, done

    def _fit(self, X: Any, y: Any, sample_weight: Any, epochs: int, stop: bool, reset: bool,
             classes: Any = None) -> "_SGDBase":
        """epochs passes (stop: early stopping by tol) over each target vector;
        reset starts from zero weights, else from the fitted ones."""
        opts = self._opts()
        X, y = self._check_xy(X, y, reset)
        if reset:
            self._init_model(X.shape[1], y, classes)
            self.t_ = 1.0
            self._gen = ember.Generator(seed_from(self.random_state))
        targets, sw = self._targets(y, check_sample_weight(sample_weight, len(X)))
        # one C-contiguous row of weights per target (1-D coef_ of a regressor: one row), updated in place
        coef = np.array(self.coef_, dtype=np.float64).reshape(len(targets), X.shape[1])
        intercept = np.array(self.intercept_, dtype=np.float64).reshape(len(targets))
        t_start, t_end, n_iter = self.t_, self.t_, 0
        for r, yy in enumerate(targets):  # one-vs-rest rows each start from the same step count
            b, t_end, done = self._run(X, yy, sw, coef[r], float(intercept[r]), t_start, opts, self._gen, epochs,
                                       stop)
            intercept[r] = b
            n_iter = max(n_iter, done)
        self.coef_ = coef.reshape(np.shape(self.coef_))
        self.intercept_ = intercept
        self.t_, self.n_iter_ = t_end, n_iter
        if stop and n_iter >= self.max_iter and self.tol is not None:
            warnings.warn(f"Maximum number of iteration reached before convergence ({self.max_iter}). Consider "
                          "increasing max_iter to improve the fit.", ConvergenceWarning, stacklevel=3)
        return self

    def fit(self, X: Any, y: Any, coef_init: Any = None, intercept_init: Any = None,
            sample_weight: Any = None) -> "_SGDBase":
        """Trains for up to max_iter epochs (stopping early by tol); with
        warm_start, from the weights of the previous fit."""
        return self._fit(X, y, sample_weight, int(self.max_iter), True,
                         reset=not (self.warm_start and hasattr(self, "coef_")))


class SGDClassifier(_SGDBase, _LinearClassifierBase):
    """Linear classifiers (SVM, logistic regression, ...) trained by stochastic
    gradient descent, one-vs-rest for more than two classes; partial_fit learns
    from a stream of batches.  Epochs run in C; shuffling uses ember's
    generator."""

    _losses = _CLF_LOSSES

    def __init__(self, loss: str = "hinge", *, penalty: str | None = "l2", alpha: float = 0.0001,
                 l1_ratio: float = 0.15, fit_intercept: bool = True, max_iter: int = 1000, tol: float | None = 1e-3,
                 shuffle: bool = True, verbose: int = 0, epsilon: float = 0.1, n_jobs: int | None = None,
                 random_state: Any = None, learning_rate: str = "optimal", eta0: float = 0.0, power_t: float = 0.5,
                 early_stopping: bool = False, validation_fraction: float = 0.1, n_iter_no_change: int = 5,
                 class_weight: Any = None, warm_start: bool = False, average: bool = False):
        super().__init__(loss, penalty=penalty, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                         max_iter=max_iter, tol=tol, shuffle=shuffle, verbose=verbose, epsilon=epsilon,
                         random_state=random_state, learning_rate=learning_rate, eta0=eta0, power_t=power_t,
                         early_stopping=early_stopping, validation_fraction=validation_fraction,
                         n_iter_no_change=n_iter_no_change, warm_start=warm_start, average=average)
        self.n_jobs = n_jobs
        self.class_weight = class_weight

    def _check_xy(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(self, X, y, reset=reset)
        return X.astype(np.float64, copy=False), y

    def _init_model(self, n_features: int, y: np.ndarray, classes: Any) -> None:
        if classes is not None:
            self.classes_ = np.unique(np.asarray(classes))
        else:
            self._classes(y)
        rows = 1 if len(self.classes_) == 2 else len(self.classes_)
        self.coef_ = np.zeros((rows, n_features))
        self.intercept_ = np.zeros(rows)

    def _targets(self, y: np.ndarray, sw: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """+-1 targets, one per row of coef_ (class 1 against the rest for two
        classes, each class against the rest otherwise), and the weights."""
        idx = np.searchsorted(self.classes_, y)
        idx_c = np.minimum(idx, len(self.classes_) - 1)
        if (self.classes_[idx_c] != y).any():
            raise ValueError(f"The target label(s) {np.unique(y[self.classes_[idx_c] != y]).tolist()} in y do not "
                             f"exist in the initial classes {self.classes_.tolist()}")
        rows = len(self.coef_)
        targets = [np.where(idx_c == (1 if rows == 1 else r), 1.0, -1.0) for r in range(rows)]
        return targets, self._class_weights(idx_c.astype(np.int64), sw)

    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> "SGDClassifier":
        """One epoch over this batch (classes required on the first call)."""
        first = not hasattr(self, "coef_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, 1, False, reset=first, classes=classes)

    @property
    def predict_proba(self) -> Any:
        """Probabilities, for loss='log_loss' (logistic) or 'modified_huber'; other
        losses have no predict_proba (hasattr is False), as in scikit-learn."""
        if self.loss not in ("log_loss", "modified_huber"):
            raise AttributeError(f"probability estimates are not available for loss={self.loss!r}")
        return self._predict_proba

    def _predict_proba(self, X: Any) -> Any:
        d = self._decision(X)
        if self.loss == "log_loss":
            p = 1.0 / (1.0 + np.exp(-np.clip(d, -700, 700)))
        else:
            p = (np.clip(d, -1, 1) + 1) / 2
        if p.shape[1] == 1:
            p = np.column_stack([1 - p[:, 0], p[:, 0]])
        else:
            s = p.sum(axis=1, keepdims=True)
            p = np.where(s > 0, p / np.where(s > 0, s, 1), 1.0 / p.shape[1])
        return wrap_like(p, X)


class Perceptron(SGDClassifier):
    """The perceptron: SGDClassifier(loss='perceptron', learning_rate='constant',
    eta0=1, penalty=None).  loss, learning_rate, epsilon, power_t and average
    are fixed (attributes, not parameters: get_params leaves them out), as in
    scikit-learn."""

    def __init__(self, *, penalty: str | None = None, alpha: float = 0.0001, l1_ratio: float = 0.15,
                 fit_intercept: bool = True, max_iter: int = 1000, tol: float | None = 1e-3, shuffle: bool = True,
                 verbose: int = 0, eta0: float = 1.0, n_jobs: int | None = None, random_state: Any = 0,
                 early_stopping: bool = False, validation_fraction: float = 0.1, n_iter_no_change: int = 5,
                 class_weight: Any = None, warm_start: bool = False):
        super().__init__(loss="perceptron", penalty=penalty, alpha=alpha, l1_ratio=l1_ratio,
                         fit_intercept=fit_intercept, max_iter=max_iter, tol=tol, shuffle=shuffle, verbose=verbose,
                         n_jobs=n_jobs, random_state=random_state, learning_rate="constant", eta0=eta0,
                         early_stopping=early_stopping, validation_fraction=validation_fraction,
                         n_iter_no_change=n_iter_no_change, class_weight=class_weight, warm_start=warm_start)


class SGDRegressor(_SGDBase, _LinearRegressorBase):
    """Linear regression trained by stochastic gradient descent (squared error,
    huber or epsilon-insensitive losses; l2/l1/elasticnet penalties);
    partial_fit learns from a stream of batches."""

    _losses = _REG_LOSSES
    _multi_output = False

    def __init__(self, loss: str = "squared_error", *, penalty: str | None = "l2", alpha: float = 0.0001,
                 l1_ratio: float = 0.15, fit_intercept: bool = True, max_iter: int = 1000, tol: float | None = 1e-3,
                 shuffle: bool = True, verbose: int = 0, epsilon: float = 0.1, random_state: Any = None,
                 learning_rate: str = "invscaling", eta0: float = 0.01, power_t: float = 0.25,
                 early_stopping: bool = False, validation_fraction: float = 0.1, n_iter_no_change: int = 5,
                 warm_start: bool = False, average: bool = False):
        super().__init__(loss, penalty=penalty, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                         max_iter=max_iter, tol=tol, shuffle=shuffle, verbose=verbose, epsilon=epsilon,
                         random_state=random_state, learning_rate=learning_rate, eta0=eta0, power_t=power_t,
                         early_stopping=early_stopping, validation_fraction=validation_fraction,
                         n_iter_no_change=n_iter_no_change, warm_start=warm_start, average=average)

    def _check_xy(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(self, X, y, reset=reset, y_numeric=True)
        return X.astype(np.float64, copy=False), y.astype(np.float64)

    def _init_model(self, n_features: int, y: np.ndarray, classes: Any) -> None:
        self.coef_ = np.zeros(n_features)
        self.intercept_ = np.zeros(1)

    def _targets(self, y: np.ndarray, sw: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        return [y], sw

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> "SGDRegressor":
        """One epoch over this batch."""
        return self._fit(X, y, sample_weight, 1, False, reset=not hasattr(self, "coef_"))


class LinearSVC(_LinearClassifierBase):
    """Linear support vector classifier (liblinear's formulation): minimises
    1/2 ||w||^2 + C sum_i hinge or squared hinge of the margins, by dual
    coordinate descent in C; one-vs-rest for more classes.  The intercept is
    a regularised extra feature of value intercept_scaling, as in liblinear."""

    def __init__(self, penalty: str = "l2", loss: str = "squared_hinge", *, dual: Any = "auto", tol: float = 1e-4,
                 C: float = 1.0, multi_class: str = "ovr", fit_intercept: bool = True, intercept_scaling: float = 1,
                 class_weight: Any = None, verbose: int = 0, random_state: Any = None, max_iter: int = 1000):
        self.penalty = penalty
        self.loss = loss
        self.dual = dual
        self.tol = tol
        self.C = C
        self.multi_class = multi_class
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.verbose = verbose
        self.random_state = random_state
        self.max_iter = max_iter

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "LinearSVC":
        """Fits coef_ and intercept_."""
        if self.penalty != "l2" or self.loss not in ("hinge", "squared_hinge") or self.multi_class != "ovr":
            raise ValueError("ember's LinearSVC supports penalty='l2', loss 'hinge' or 'squared_hinge' and "
                             f"multi_class='ovr'; got {self.penalty!r}, {self.loss!r}, {self.multi_class!r}")
        if not self.C > 0:
            raise ValueError(f"C must be > 0, got {self.C}")
        X, y = validate_data(self, X, y)
        X = X.astype(np.float64, copy=False)
        codes = self._classes(y)
        sw = self._class_weights(codes, check_sample_weight(sample_weight, len(X)))
        rows = 1 if len(self.classes_) == 2 else len(self.classes_)
        self.coef_ = np.zeros((rows, X.shape[1]))
        self.intercept_ = np.zeros(rows)
        seed = seed_from(self.random_state if self.random_state is not None else 0)
        scaling = float(self.intercept_scaling) if self.fit_intercept else 0.0
        iters = []
        for r in range(rows):
            yy = np.where(codes == (1 if rows == 1 else r), 1.0, -1.0)
            c, b, it = _C._linsvc_fit(X, yy, sw, float(self.C), self.loss == "squared_hinge", scaling,
                                      int(self.max_iter), float(self.tol), seed)
            self.coef_[r], self.intercept_[r] = np.asarray(c), b
            iters.append(it)
        self.n_iter_ = max(iters)
        if self.n_iter_ >= self.max_iter:
            warnings.warn("Liblinear-style dual coordinate descent failed to converge, increase the number of "
                          "iterations.", ConvergenceWarning, stacklevel=2)
        return self
