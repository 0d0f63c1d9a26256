"""ember.ml's linear models against scikit-learn: the convex problems to
rtol 1e-6 in float64 (both sides solved to a tight tolerance), the
stochastic ones at equal quality."""
import warnings

import numpy as np
import pytest
import sklearn.linear_model as lm
import sklearn.svm as sksvm
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_iris, load_wine, make_classification,
                              make_regression)
from sklearn.preprocessing import StandardScaler

import ember
import ember.ml as em

DIABETES = load_diabetes(return_X_y=True)
RNG = np.random.default_rng(11)


def scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_linear_regression(fit_intercept, weighted):
    X, y = DIABETES
    w = RNG.uniform(0.2, 3, len(X)) if weighted else None
    ours = em.LinearRegression(fit_intercept=fit_intercept).fit(X, y, sample_weight=w)
    ref = lm.LinearRegression(fit_intercept=fit_intercept).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-9)
    assert ours.score(X, y) == pytest.approx(ref.score(X, y), rel=1e-9)


def test_linear_regression_multioutput_rank_deficient_and_positive():
    X, Y = make_regression(120, 6, n_targets=3, random_state=0)
    X = np.column_stack([X, X[:, 0] + X[:, 1]])  # collinear: minimum-norm solution
    ours, ref = em.LinearRegression().fit(X, Y), lm.LinearRegression().fit(X, Y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    assert ours.rank_ == ref.rank_ == 6
    Xp, yp = DIABETES
    ours = em.LinearRegression(positive=True).fit(Xp, yp)
    ref = lm.LinearRegression(positive=True).fit(Xp, yp)
    assert (ours.coef_ >= 0).all()
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("alpha", [0.01, 1.0, [0.1, 10.0]])
@pytest.mark.parametrize("solver", ["auto", "svd"])
def test_ridge(alpha, solver):
    X, y = DIABETES
    Y = np.column_stack([y, y[::-1]]) if isinstance(alpha, list) else y
    ours = em.Ridge(alpha=alpha, solver=solver).fit(X, Y)
    ref = lm.Ridge(alpha=alpha, solver="svd").fit(X, Y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6)
    w = RNG.uniform(0.5, 2, len(X))
    np.testing.assert_allclose(em.Ridge(alpha=alpha, solver=solver).fit(X, Y, sample_weight=w).coef_,
                               lm.Ridge(alpha=alpha, solver="svd").fit(X, Y, sample_weight=w).coef_, rtol=1e-6)


@pytest.mark.parametrize("cls, kw", [("Lasso", {"alpha": 0.1}), ("Lasso", {"alpha": 1.0, "positive": True}),
                                     ("ElasticNet", {"alpha": 0.05, "l1_ratio": 0.3}),
                                     ("ElasticNet", {"alpha": 0.5, "l1_ratio": 0.9, "fit_intercept": False})])
def test_coordinate_descent(cls, kw):
    X, y = DIABETES
    tight = {"tol": 1e-12, "max_iter": 100000}
    ours = getattr(em, cls)(**kw, **tight).fit(X, y)
    ref = getattr(lm, cls)(**kw, **tight).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-9 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6)
    assert ours.dual_gap_ <= 1e-12 * float(((y - y.mean()) ** 2).sum()) + 1e-9
    # the sparsity pattern is the solution's, not an accident of tolerance
    np.testing.assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)


def test_coordinate_descent_weights_warm_start_and_warning():
    X, y = DIABETES
    w = RNG.uniform(0.2, 2, len(X))
    ours = em.ElasticNet(alpha=0.02, tol=1e-12, max_iter=100000).fit(X, y, sample_weight=w)
    ref = lm.ElasticNet(alpha=0.02, tol=1e-12, max_iter=100000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
    est = em.Lasso(alpha=0.1, warm_start=True, tol=1e-10, max_iter=100000).fit(X, y)
    first = est.n_iter_
    est.fit(X, y)
    assert est.n_iter_ < first
    with pytest.warns(em.ConvergenceWarning, match="Objective did not converge"):
        em.Lasso(alpha=0.001, max_iter=2, tol=1e-12).fit(X, y)


def objective(est, X, y, C, w=None, l1_ratio=0.0):
    """scikit-learn's LogisticRegression objective: sum_i w_i loss_i +
    (l1_ratio ||W||_1 + (1 - l1_ratio) ||W||^2 / 2) / C."""
    w = np.ones(len(X)) if w is None else w
    z = X @ np.atleast_2d(est.coef_).T + est.intercept_
    codes = np.searchsorted(est.classes_, y)
    if z.shape[1] == 1:
        loss = np.logaddexp(0, z[:, 0]) - codes * z[:, 0]
    else:
        loss = np.logaddexp.reduce(z, axis=1) - z[np.arange(len(z)), codes]
    penalty = l1_ratio * np.abs(est.coef_).sum() + (1 - l1_ratio) * (est.coef_ ** 2).sum() / 2
    return float(w @ loss + penalty / C)


@pytest.mark.parametrize("loader", [load_iris, load_wine, load_breast_cancer])
@pytest.mark.parametrize("C", [0.1, 1.0, 100.0])
def test_logistic_regression(loader, C):
    X, y = scaled(loader)
    kw = {"C": C, "tol": 1e-10, "max_iter": 10000}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = em.LogisticRegression(**kw).fit(X, y)
        ref = lm.LogisticRegression(**kw).fit(X, y)
    # Both minimise the same strictly convex objective: ember's value is at
    # least as low, and the minimisers agree (the optimum is flat for large C
    # on nearly separable data, hence the looser bound there).
    assert objective(ours, X, y, C) <= objective(ref, X, y, C) * (1 + 1e-9)
    tol = 1e-4 if C <= 1 else 2e-2
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=tol, atol=tol * np.abs(ref.coef_).max())
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=tol * 1e-2)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


def test_logistic_regression_options():
    X, y = scaled(load_wine)
    for kw in ({"fit_intercept": False}, {"class_weight": "balanced"}, {"class_weight": {0: 2.0, 1: 0.5}}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = em.LogisticRegression(tol=1e-10, max_iter=5000, **kw).fit(X[:100], y[:100])
            ref = lm.LogisticRegression(tol=1e-10, max_iter=5000, **kw).fit(X[:100], y[:100])
        np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=2e-3)
    # no penalty needs data that is not separable (else there is no optimum)
    Xd, yd = DIABETES[0], DIABETES[1] > np.median(DIABETES[1])
    ours = em.LogisticRegression(penalty=None, tol=1e-10, max_iter=5000).fit(Xd, yd)
    ref = lm.LogisticRegression(penalty=None, tol=1e-10, max_iter=5000).fit(Xd, yd)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-3, atol=1e-3 * np.abs(ref.coef_).max())
    w = RNG.uniform(0.1, 3, len(X))
    ours = em.LogisticRegression(tol=1e-10, max_iter=5000).fit(X, y, sample_weight=w)
    ref = lm.LogisticRegression(tol=1e-10, max_iter=5000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="solver='liblinear' is not implemented in ember; use 'lbfgs' or 'saga'"):
        em.LogisticRegression(solver="liblinear").fit(X, y)
    with pytest.raises(ValueError, match="penalty='l3' is not supported"):
        em.LogisticRegression(penalty="l3").fit(X, y)
    with pytest.raises(ValueError, match="l1_ratio must be specified when penalty is elasticnet"):
        em.LogisticRegression(penalty="elasticnet").fit(X, y)
    with pytest.raises(ValueError, match="l1_ratio must be between 0 and 1"):
        em.LogisticRegression(penalty="elasticnet", l1_ratio=1.5).fit(X, y)
    with pytest.warns(UserWarning, match="l1_ratio parameter is only used when penalty is 'elasticnet'"):
        em.LogisticRegression(l1_ratio=0.5).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        em.LogisticRegression().fit(X[:5], np.zeros(5))
    t = em.LogisticRegression().fit(ember.asarray(X), y).predict_proba(ember.asarray(X))
    assert isinstance(t, ember.Tensor) and t.shape == (len(X), 3)


# (breast_cancer at C=1 with a pure l1 penalty: saga does not reach tol=1e-10 in 200000 epochs)
L1_CASES = [(load_iris, 0.1), (load_iris, 1.0), (load_wine, 0.1), (load_wine, 1.0), (load_breast_cancer, 0.1)]


@pytest.mark.parametrize("loader, C", L1_CASES)
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("solver", ["lbfgs", "saga"])
def test_logistic_regression_l1_and_elasticnet(loader, C, l1_ratio, solver):
    """OWL-QN against scikit-learn's saga, both to tol 1e-10: the same
    objective value, the same zero coefficients, the same minimiser."""
    X, y = scaled(loader)
    pen = {"penalty": "l1"} if l1_ratio == 1 else {"penalty": "elasticnet", "l1_ratio": l1_ratio}
    ours = em.LogisticRegression(C=C, tol=1e-10, max_iter=10000, solver=solver, **pen).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (penalty= is deprecated in scikit-learn 1.8: l1_ratio alone says it)
        ref = lm.LogisticRegression(l1_ratio=l1_ratio, C=C, solver="saga", tol=1e-10, max_iter=200000).fit(X, y)
    fo, fr = objective(ours, X, y, C, l1_ratio=l1_ratio), objective(ref, X, y, C, l1_ratio=l1_ratio)
    assert fo == pytest.approx(fr, rel=1e-8)
    np.testing.assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)
    assert (ours.coef_ == 0).any()  # the l1 part does zero some coefficients here
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-4 * np.abs(ref.coef_).max())
    # multinomial intercepts are defined up to a common shift
    bo, br = ours.intercept_, ref.intercept_
    if len(bo) > 1:
        bo, br = bo - bo.mean(), br - br.mean()
    np.testing.assert_allclose(bo, br, rtol=1e-4, atol=1e-4 * np.abs(br).max())
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


def test_logistic_regression_l1_weights_and_no_intercept():
    X, y = scaled(load_wine)
    w = RNG.uniform(0.1, 3, len(X))
    for kw in ({"sample_weight": w}, {}):
        fit_intercept = "sample_weight" in kw
        ours = em.LogisticRegression(penalty="l1", C=0.5, tol=1e-10, max_iter=10000,
                                     fit_intercept=fit_intercept).fit(X, y, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = lm.LogisticRegression(l1_ratio=1.0, C=0.5, solver="saga", tol=1e-10, max_iter=200000,
                                        fit_intercept=fit_intercept).fit(X, y, **kw)
        ww = kw.get("sample_weight")
        assert objective(ours, X, y, 0.5, ww, 1.0) == pytest.approx(objective(ref, X, y, 0.5, ww, 1.0), rel=1e-8)
        np.testing.assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-4 * np.abs(ref.coef_).max())
    # a strong penalty zeroes every coefficient: only the intercept (the log-odds of the base rate) is left
    Xb, yb = scaled(load_breast_cancer)
    ours = em.LogisticRegression(penalty="l1", C=1e-3, tol=1e-10).fit(Xb, yb)
    assert not ours.coef_.any()
    np.testing.assert_allclose(ours.intercept_, [np.log(yb.mean() / (1 - yb.mean()))], rtol=1e-8)
    # l1_ratio=0 is the l2 penalty
    l2 = em.LogisticRegression(tol=1e-10, max_iter=1000).fit(X, y)
    en0 = em.LogisticRegression(penalty="elasticnet", l1_ratio=0.0, tol=1e-10, max_iter=1000).fit(X, y)
    np.testing.assert_array_equal(l2.coef_, en0.coef_)


def test_logistic_regression_l1_owlqn_path_optimality():
    """Past 2048 coefficients the l1 solver is OWL-QN (scikit-learn's saga needs
    minutes to reach the same tolerance here): check the optimality conditions
    of C sum_i loss_i + ||W||_1 in NumPy instead."""
    X, y = make_classification(200, 700, n_informative=8, n_classes=3, random_state=1)
    X = StandardScaler().fit_transform(X)
    C = 0.5
    est = em.LogisticRegression(penalty="l1", C=C, tol=1e-10, max_iter=20000).fit(X, y)
    z = X @ est.coef_.T + est.intercept_
    p = np.exp(z - np.logaddexp.reduce(z, axis=1, keepdims=True))
    r = p - np.eye(3)[y]
    g = C * r.T @ X  # gradient of the loss part, one row per class
    w = est.coef_
    assert 0 < (w != 0).sum() < w.size / 4
    # (to 1e-5 of the l1 weight: OWL-QN stops where the objective no longer decreases in floating point)
    np.testing.assert_array_less(np.abs(g[w == 0]), 1 + 1e-5)  # zero coefficients: |g| <= 1
    np.testing.assert_allclose(g[w != 0], -np.sign(w[w != 0]), atol=1e-5)  # others: g = -sign(w)
    np.testing.assert_allclose(C * r.sum(axis=0), 0, atol=1e-5)  # the intercepts


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
@pytest.mark.parametrize("loader", [load_breast_cancer, load_iris])
def test_linear_svc(loss, loader):
    X, y = scaled(loader)
    kw = {"loss": loss, "tol": 1e-10, "max_iter": 100000, "C": 0.5}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = em.LinearSVC(**kw).fit(X, y)
        ref = sksvm.LinearSVC(dual=True, random_state=0, **kw).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-3, atol=1e-4 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-3, atol=1e-4)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize("loss", ["hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron"])
def test_sgd_classifier_quality(loss):
    X, y = scaled(load_breast_cancer)
    idx = RNG.permutation(len(X))
    tr, te = idx[:400], idx[400:]
    ours = em.SGDClassifier(loss=loss, random_state=0).fit(X[tr], y[tr])
    ref = lm.SGDClassifier(loss=loss, random_state=0).fit(X[tr], y[tr])
    assert ours.score(X[te], y[te]) >= ref.score(X[te], y[te]) - 0.03
    if loss in ("log_loss", "modified_huber"):
        p = ours.predict_proba(X[te])
        np.testing.assert_allclose(p.sum(axis=1), 1.0)
    else:
        assert not hasattr(ours, "predict_proba")


def test_sgd_partial_fit_stream_and_multiclass():
    X, y = scaled(load_iris)
    clf = em.SGDClassifier(loss="log_loss", random_state=0)
    for _ in range(20):
        for chunk in np.array_split(RNG.permutation(len(X)), 5):
            clf.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2])
    assert clf.coef_.shape == (3, 4) and clf.score(X, y) >= 0.85
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        em.SGDClassifier().partial_fit(X, y)
    assert em.Perceptron().fit(X, y).score(X, y) >= lm.Perceptron().fit(X, y).score(X, y) - 0.05


@pytest.mark.parametrize("loss", ["squared_error", "huber", "epsilon_insensitive"])
@pytest.mark.parametrize("penalty", ["l2", "l1", "elasticnet"])
def test_sgd_regressor_quality(loss, penalty):
    X, y = scaled(load_diabetes)
    y = (y - y.mean()) / y.std()
    ours = em.SGDRegressor(loss=loss, penalty=penalty, random_state=0).fit(X, y)
    ref = lm.SGDRegressor(loss=loss, penalty=penalty, random_state=0).fit(X, y)
    assert ours.score(X, y) >= ref.score(X, y) - 0.05
    stream = em.SGDRegressor(loss=loss, penalty=penalty, random_state=0)
    for _ in range(30):
        stream.partial_fit(X, y)
    assert stream.score(X, y) >= ref.score(X, y) - 0.05


def test_sgd_errors_and_unscaled_data_stays_finite():
    X, y = DIABETES
    with pytest.raises(ValueError, match="The loss 'nope' is not supported"):
        em.SGDRegressor(loss="nope").fit(X, y)
    with pytest.raises(ValueError, match="alpha must be > 0 since learning_rate is 'optimal'"):
        em.SGDClassifier(alpha=0).fit(X, y > 150)
    Xbig = np.random.default_rng(0).normal(loc=100, size=(50, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = em.SGDRegressor(random_state=0).fit(Xbig, Xbig[:, 0])
    assert np.isfinite(reg.coef_).all()
