"""Naive Bayes classifiers: GaussianNB, MultinomialNB, BernoulliNB.

Fitting is a handful of reductions and one GEMM (class-indicator matrix
times X); prediction is a GEMM (multinomial, Bernoulli) or one broadcast pass
per class (Gaussian), all in libember.  All three support partial_fit for
streaming data."""
from __future__ import annotations

from typing import Any

import numpy as np

import ember

from ._base import BaseEstimator, ClassifierMixin, check_is_fitted
from ._validation import check_classification_targets, check_sample_weight, validate_data, wrap_like

__all__ = ["GaussianNB", "MultinomialNB", "BernoulliNB"]


def _t(a: np.ndarray) -> ember.Tensor:
    return ember.asarray(np.ascontiguousarray(a))


class _BaseNB(ClassifierMixin, BaseEstimator):
    def _joint_log_likelihood(self, X: np.ndarray) -> ember.Tensor:
        raise NotImplementedError

    def _check_X(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "classes_")
        return validate_data(self, X, reset=False)

    def _prepare(self, X: Any, y: Any, classes: Any, sample_weight: Any, first: bool):
        """Validated X, the class-indicator matrix Y (n, n_classes) with sample
        weights folded in, for fit (first=True) or partial_fit."""
        X, y = validate_data(self, X, y, reset=first)
        check_classification_targets(y)
        if first:
            if classes is not None:
                self.classes_ = np.unique(np.asarray(classes))
                if len(self.classes_) != len(np.asarray(classes)):
                    raise ValueError("classes should not contain duplicates")
            else:
                self.classes_ = np.unique(y)
        idx = np.searchsorted(self.classes_, y)
        idx_c = np.minimum(idx, len(self.classes_) - 1)
        unseen = self.classes_[idx_c] != y
        if unseen.any():
            raise ValueError(f"The target label(s) {np.unique(y[unseen]).tolist()} in y do not exist in the initial "
                             f"classes {self.classes_.tolist()}")
        Y = np.asarray(ember.one_hot(_t(idx_c.astype(np.int64)), len(self.classes_))).astype(X.dtype)
        if sample_weight is not None:
            Y *= check_sample_weight(sample_weight, X.shape[0], X.dtype)[:, None]
        return X, Y

    def predict(self, X: Any) -> Any:
        """The most likely class of each sample."""
        jll = self._joint_log_likelihood(self._check_X(X))
        return wrap_like(self.classes_[np.asarray(ember.argmax(jll, axis=1))], X)

    def predict_log_proba(self, X: Any) -> Any:
        """Log of the normalised class probabilities."""
        jll = self._joint_log_likelihood(self._check_X(X))
        out = jll - ember.logsumexp(jll, axis=1, keepdims=True)
        return out if isinstance(X, ember.Tensor) else np.asarray(out)

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities (rows sum to 1)."""
        jll = self._joint_log_likelihood(self._check_X(X))
        out = ember.exp(jll - ember.logsumexp(jll, axis=1, keepdims=True))
        return out if isinstance(X, ember.Tensor) else np.asarray(out)

    def _log_prior(self) -> np.ndarray:
        prior = getattr(self, "priors", None) if isinstance(self, GaussianNB) else getattr(self, "class_prior", None)
        n = len(self.classes_)
        if prior is not None:
            prior = np.asarray(prior, dtype=np.float64)
            if len(prior) != n:
                raise ValueError("Number of priors must match number of classes.")
            if not np.isclose(prior.sum(), 1.0):
                raise ValueError("The sum of the priors should be 1.")
            if (prior < 0).any():
                raise ValueError("Priors must be non-negative.")
            return np.log(prior)
        if isinstance(self, GaussianNB) or self.fit_prior:
            with np.errstate(divide="ignore"):
                return np.log(self.class_count_) - np.log(self.class_count_.sum())
        return np.full(n, -np.log(n))


class GaussianNB(_BaseNB):
    """Gaussian naive Bayes: each feature is normal within a class, with
    per-class mean theta_ and variance var_ (plus var_smoothing times the
    largest feature variance, for stability)."""

    def __init__(self, *, priors: Any = None, var_smoothing: float = 1e-9):
        self.priors = priors
        self.var_smoothing = var_smoothing

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "GaussianNB":
        """Fits the per-class means and variances."""
        for a in ("classes_", "theta_"):
            self.__dict__.pop(a, None)
        return self._update(X, y, None, sample_weight, first=True)

    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> "GaussianNB":
        """Updates the statistics with one batch (classes required on the first call)."""
        first = not hasattr(self, "theta_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._update(X, y, classes, sample_weight, first=first)

    def _update(self, X: Any, y: Any, classes: Any, sample_weight: Any, first: bool) -> "GaussianNB":
        X, Y = self._prepare(X, y, classes, sample_weight, first)
        X64 = X.astype(np.float64, copy=False)
        Xt, Yt = _t(X64), _t(Y.astype(np.float64))
        # epsilon from this batch's feature variances, as scikit-learn does
        eps = self.var_smoothing * float(np.asarray(ember.max(ember.var(Xt, axis=0)))) if len(X64) else 0.0
        n_new = np.asarray(ember.sum(Yt, axis=0))                     # (k,)
        sums = np.asarray(Yt.T @ Xt)                                 # (k, d)
        safe = np.where(n_new > 0, n_new, 1.0)[:, None]
        mu_new = sums / safe
        k = len(self.classes_)
        var_new = np.empty_like(mu_new)
        for c in range(k):  # centred second moment per class: accurate, one pass each
            dev = Xt - _t(mu_new[c])
            var_new[c] = np.asarray(ember.sum((dev * dev) * Yt[:, c:c + 1], axis=0)) / safe[c]
        if first:
            self.class_count_ = np.zeros(k)
            self.theta_ = np.zeros_like(mu_new)
            self.var_ = np.zeros_like(mu_new)
            self.epsilon_ = 0.0
        else:
            self.var_ = self.var_ - self.epsilon_
        n_old = self.class_count_[:, None]
        tot = n_old + n_new[:, None]
        tot_safe = np.where(tot > 0, tot, 1.0)
        theta = (n_old * self.theta_ + n_new[:, None] * mu_new) / tot_safe
        m2 = n_old * self.var_ + n_new[:, None] * var_new + n_old * n_new[:, None] / tot_safe * \
            (self.theta_ - mu_new) ** 2
        self.theta_ = np.where(tot > 0, theta, self.theta_)
        self.var_ = np.where(tot > 0, m2 / tot_safe, self.var_)
        self.class_count_ = self.class_count_ + n_new
        self.epsilon_ = eps  # the latest batch's, as scikit-learn (the old one was taken out above)
        self.var_ = self.var_ + self.epsilon_
        self.class_prior_ = np.exp(self._log_prior())
        return self

    def _joint_log_likelihood(self, X: np.ndarray) -> ember.Tensor:
        Xt = _t(X.astype(np.float64, copy=False))
        log_prior = self._log_prior()
        cols = []
        for c in range(len(self.classes_)):
            var = self.var_[c]
            dev = Xt - _t(self.theta_[c])
            quad = ember.sum(dev * dev / _t(var), axis=1)
            const = log_prior[c] - 0.5 * float(np.sum(np.log(2.0 * np.pi * var)))
            cols.append(quad * -0.5 + const)
        return ember.stack(cols, axis=1)


class _DiscreteNB(_BaseNB):
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "_DiscreteNB":
        """Fits the per-class feature counts and log-probabilities."""
        self.__dict__.pop("feature_count_", None)
        return self._update(X, y, None, sample_weight, first=True)

    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> "_DiscreteNB":
        """Adds one batch's counts (classes required on the first call)."""
        first = not hasattr(self, "feature_count_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._update(X, y, classes, sample_weight, first=first)

    def _counts_input(self, X: np.ndarray) -> np.ndarray:
        return X

    def _update(self, X: Any, y: Any, classes: Any, sample_weight: Any, first: bool) -> "_DiscreteNB":
        X, Y = self._prepare(X, y, classes, sample_weight, first)
        Xc = self._counts_input(X).astype(np.float64, copy=False)
        Yt = _t(Y.astype(np.float64))
        fc = np.asarray(Yt.T @ _t(Xc))
        cc = np.asarray(ember.sum(Yt, axis=0))
        if first:
            self.feature_count_ = fc
            self.class_count_ = cc
        else:
            self.feature_count_ = self.feature_count_ + fc
            self.class_count_ = self.class_count_ + cc
        alpha = np.asarray(self.alpha, dtype=np.float64)
        if (alpha < 0).any():
            raise ValueError("All values in alpha must be greater than 0.")
        if alpha.ndim == 1 and alpha.shape[0] != X.shape[1]:
            raise ValueError(f"When alpha is an array, it should contain `n_features`. Got {alpha.shape[0]} "
                             f"elements instead of {X.shape[1]}.")
        if not self.force_alpha:
            alpha = np.maximum(alpha, 1e-10)
        self._update_log_prob(alpha)
        self.class_log_prior_ = self._log_prior()
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True  # count models on the checks' continuous toy data
        return tags


class MultinomialNB(_DiscreteNB):
    """Multinomial naive Bayes for counts (word counts, frequencies):
    P(x | c) proportional to prod_j theta_cj^x_j with Laplace/Lidstone
    smoothing alpha.  Negative inputs are an error."""

    def __init__(self, *, alpha: float = 1.0, force_alpha: bool = True, fit_prior: bool = True,
                 class_prior: Any = None):
        self.alpha = alpha
        self.force_alpha = force_alpha
        self.fit_prior = fit_prior
        self.class_prior = class_prior

    def _counts_input(self, X: np.ndarray) -> np.ndarray:
        if (X < 0).any():
            raise ValueError("Negative values in data passed to MultinomialNB (input X).")
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags

    def _update_log_prob(self, alpha: np.ndarray) -> None:
        smoothed = self.feature_count_ + alpha
        self.feature_log_prob_ = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))

    def _joint_log_likelihood(self, X: np.ndarray) -> ember.Tensor:
        if (X < 0).any():
            raise ValueError("Negative values in data passed to MultinomialNB (input X).")
        return _t(X.astype(np.float64, copy=False)) @ _t(self.feature_log_prob_.T) + _t(self.class_log_prior_)


class BernoulliNB(_DiscreteNB):
    """Bernoulli naive Bayes for binary features (inputs are binarised at
    `binarize`, unless it is None): P(x | c) = prod_j p_cj^x_j (1 - p_cj)^(1 - x_j)."""

    def __init__(self, *, alpha: float = 1.0, force_alpha: bool = True, binarize: float | None = 0.0,
                 fit_prior: bool = True, class_prior: Any = None):
        self.alpha = alpha
        self.force_alpha = force_alpha
        self.binarize = binarize
        self.fit_prior = fit_prior
        self.class_prior = class_prior

    def _counts_input(self, X: np.ndarray) -> np.ndarray:
        return X if self.binarize is None else (X > self.binarize).astype(X.dtype)

    def _update_log_prob(self, alpha: np.ndarray) -> None:
        num = self.feature_count_ + alpha
        den = self.class_count_[:, None] + 2 * alpha
        self.feature_log_prob_ = np.log(num) - np.log(den)

    def _joint_log_likelihood(self, X: np.ndarray) -> ember.Tensor:
        Xb = self._counts_input(X).astype(np.float64, copy=False)
        neg = np.log1p(-np.exp(self.feature_log_prob_))
        return _t(Xb) @ _t((self.feature_log_prob_ - neg).T) + _t(self.class_log_prior_ + neg.sum(axis=1))
