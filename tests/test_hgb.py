"""ember.ml.HistGradientBoosting*: accuracy beside scikit-learn's, missing values,
staged prediction, early stopping, reproducibility and bad parameters."""
import pickle

import numpy as np
import pytest
from sklearn import ensemble as sk
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, make_classification, make_regression
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import ember
from ember.ml import HistGradientBoostingClassifier, HistGradientBoostingRegressor


def _both(ours, theirs, X, y, **params):
    Xt, Xv, yt, yv = train_test_split(X, y, random_state=0)
    a = ours(random_state=0, **params).fit(Xt, yt)
    with threadpool_limits(1):  # scikit-learn's OpenMP spins badly on a shared small machine
        b = theirs(random_state=0, **params).fit(Xt, yt)
        sb = b.score(Xv, yv)
    return a, a.score(Xv, yv), sb


@pytest.mark.parametrize("data, params", [
    (load_breast_cancer(return_X_y=True), {"max_iter": 60}),
    (load_digits(return_X_y=True), {"max_iter": 15}),
    (make_classification(3000, 20, n_informative=8, n_classes=3, random_state=1), {"max_iter": 40}),
])
def test_classifier_matches_sklearn(data, params):
    model, ours, theirs = _both(HistGradientBoostingClassifier, sk.HistGradientBoostingClassifier, *data, **params)
    assert ours >= theirs - 0.01, (ours, theirs)
    assert model.n_iter_ == params["max_iter"]
    p = model.predict_proba(data[0][:50])
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


@pytest.mark.parametrize("data, params", [
    (load_diabetes(return_X_y=True), {"max_iter": 100}),
    (make_regression(4000, 20, n_informative=10, noise=5.0, random_state=2), {"max_iter": 80, "max_depth": 5,
                                                                              "l2_regularization": 1.0}),
])
def test_regressor_matches_sklearn(data, params):
    _, ours, theirs = _both(HistGradientBoostingRegressor, sk.HistGradientBoostingRegressor, *data, **params)
    assert ours >= theirs - 0.01, (ours, theirs)


def test_regressor_follows_sklearn_closely_on_diabetes():
    # same binning, gradients and best-first growth: the same trees, so the predictions
    # coincide up to scikit-learn's float32 gradients (a near-tie may differ after many more)
    X, y = load_diabetes(return_X_y=True)
    a = HistGradientBoostingRegressor(max_iter=10).fit(X, y).predict(X)
    with threadpool_limits(1):
        b = sk.HistGradientBoostingRegressor(max_iter=10).fit(X, y).predict(X)
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_missing_values_are_learned():
    rng = np.random.default_rng(0)
    n = 3000
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    # the label decides where values go missing: missingness carries signal
    drop = rng.random(n) < 0.3
    X[drop & (y == 1), 2] = np.nan
    X[rng.random(n) < 0.1, 0] = np.nan
    model, ours, theirs = _both(HistGradientBoostingClassifier, sk.HistGradientBoostingClassifier, X, y,
                                max_iter=40)
    assert ours >= theirs - 0.01, (ours, theirs)
    # a sample whose only value is NaN in feature 2 follows the side of the label-1 samples
    clean = HistGradientBoostingClassifier(max_iter=40).fit(np.nan_to_num(X), y)
    assert ours > clean.score(np.nan_to_num(X), y) - 0.05
    assert np.isfinite(model.predict_proba(np.full((3, 4), np.nan))).all()


def test_nan_only_at_predict_time_goes_to_the_larger_child():
    X = np.arange(200, dtype=float)[:, None]
    y = (X[:, 0] > 150).astype(float)
    m = HistGradientBoostingRegressor(max_iter=5, min_samples_leaf=5).fit(X, y)
    np.testing.assert_allclose(m.predict([[np.nan]]), m.predict([[0.0]]))


def test_staged_predict_and_max_iter():
    X, y = load_breast_cancer(return_X_y=True)
    big = HistGradientBoostingClassifier(max_iter=20).fit(X, y)
    small = HistGradientBoostingClassifier(max_iter=7).fit(X, y)
    stages = list(big.staged_decision_function(X))
    assert len(stages) == 20
    np.testing.assert_array_equal(stages[6], small.decision_function(X))
    np.testing.assert_array_equal(stages[-1], big.decision_function(X))
    np.testing.assert_array_equal(list(big.staged_predict(X))[-1], big.predict(X))
    Xr, yr = load_diabetes(return_X_y=True)
    reg = HistGradientBoostingRegressor(max_iter=10).fit(Xr, yr)
    np.testing.assert_array_equal(list(reg.staged_predict(Xr))[-1], reg.predict(Xr))
    # each iteration lowers the training loss
    mse = [np.mean((p - yr) ** 2) for p in reg.staged_predict(Xr)]
    assert all(b < a for a, b in zip(mse, mse[1:]))


def test_early_stopping():
    X, y = make_regression(12000, 5, noise=30.0, random_state=3)
    m = HistGradientBoostingRegressor(max_iter=500, learning_rate=0.5, random_state=0).fit(X, y)
    assert m.do_early_stopping_ and m.n_iter_ < 500
    assert len(m.validation_score_) == len(m.train_score_) == m.n_iter_ + 1
    best = m.validation_score_[:-m.n_iter_no_change].max()
    assert not (m.validation_score_[-m.n_iter_no_change:] > best + m.tol).any()
    off = HistGradientBoostingRegressor(max_iter=15, early_stopping=False).fit(X[:500], y[:500])
    assert not off.do_early_stopping_ and off.n_iter_ == 15 and off.validation_score_.size == 0
    # without a validation set the training loss decides
    tr = HistGradientBoostingClassifier(max_iter=200, early_stopping=True, validation_fraction=None,
                                        n_iter_no_change=2, tol=1e-3).fit(*load_breast_cancer(return_X_y=True))
    assert tr.n_iter_ < 200 and tr.validation_score_.size == 0 and len(tr.train_score_) == tr.n_iter_ + 1


def test_reproducible_pickles_and_thread_count_free():
    X, y = make_classification(12000, 8, random_state=4)
    a = HistGradientBoostingClassifier(max_iter=30, random_state=5).fit(X, y)
    b = HistGradientBoostingClassifier(max_iter=30, random_state=5).fit(X, y)
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(a.decision_function(X), c.decision_function(X))
    old = ember.get_num_threads()
    try:
        ember.set_num_threads(1)
        one = HistGradientBoostingClassifier(max_iter=10, random_state=5, early_stopping=False).fit(X, y)
        ember.set_num_threads(2)
        two = HistGradientBoostingClassifier(max_iter=10, random_state=5, early_stopping=False).fit(X, y)
    finally:
        ember.set_num_threads(old)
    np.testing.assert_array_equal(one.decision_function(X), two.decision_function(X))


def test_sample_weight_as_repetition():
    X, y = load_diabetes(return_X_y=True)
    w = np.arange(len(y)) % 3
    a = HistGradientBoostingRegressor(max_iter=10, min_samples_leaf=1).fit(X, y, sample_weight=w)
    b = HistGradientBoostingRegressor(max_iter=10, min_samples_leaf=1).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    # identical up to bin edges, which come from the (unweighted) rows
    assert np.corrcoef(a.predict(X), b.predict(X))[0, 1] > 0.95


@pytest.mark.parametrize("params, word", [
    ({"categorical_features": [0]}, "categorical"), ({"loss": "absolute_error"}, "loss"),
    ({"max_bins": 256}, "max_bins"), ({"max_leaf_nodes": 1}, "max_leaf_nodes"), ({"scoring": "r2"}, "scoring"),
    ({"learning_rate": 0.0}, "learning_rate"), ({"max_iter": 0}, "max_iter"),
])
def test_bad_parameters(params, word):
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ValueError, match=word):
        HistGradientBoostingRegressor(**params).fit(X, y)


def test_bad_input():
    with pytest.raises(ValueError, match="2 classes"):
        HistGradientBoostingClassifier().fit(np.zeros((5, 2)), np.ones(5))
    with pytest.raises(ValueError, match="infinity"):
        HistGradientBoostingRegressor().fit(np.array([[1.0], [np.inf]]), [1.0, 2.0])
    m = HistGradientBoostingRegressor(max_iter=2).fit(np.random.rand(30, 3), np.random.rand(30))
    with pytest.raises(ValueError, match="features"):
        m.predict(np.zeros((2, 4)))
