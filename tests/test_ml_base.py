"""ember.ml's estimator conventions and input validation, against scikit-learn's."""
import warnings

import numpy as np
import pytest
import sklearn.base
import sklearn.metrics
from sklearn.utils.multiclass import type_of_target as sk_type_of_target

import ember
from ember.ml import BaseEstimator, ClassifierMixin, NotFittedError, RegressorMixin, check_is_fitted, clone
from ember.ml import _validation as V


class Inner(BaseEstimator):
    def __init__(self, alpha=1.0, tags=None):
        self.alpha = alpha
        self.tags = tags


class Outer(BaseEstimator):
    def __init__(self, inner=None, depth=3):
        self.inner = inner
        self.depth = depth


class MeanRegressor(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        X, y = V.validate_data(self, X, y)
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        check_is_fitted(self)
        X = V.validate_data(self, X, reset=False)
        return np.full(len(X), self.mean_)


class FirstFeatureClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        X, y = V.validate_data(self, X, y)
        V.check_classification_targets(y)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        X = V.validate_data(self, X, reset=False)
        return V.wrap_like(self.classes_[(X[:, 0] > 0).astype(int) % len(self.classes_)], X)


def test_get_set_params_nested():
    est = Outer(inner=Inner(alpha=2.0), depth=5)
    params = est.get_params()
    assert params["depth"] == 5 and params["inner__alpha"] == 2.0 and params["inner__tags"] is None
    assert set(est.get_params(deep=False)) == {"inner", "depth"}
    assert est.set_params(depth=7, inner__alpha=0.5) is est
    assert est.depth == 7 and est.inner.alpha == 0.5


def test_set_params_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"Invalid parameter 'alhpa' for estimator Inner.*'alpha', 'tags'"):
        Inner().set_params(alhpa=3)


def test_clone_is_unfitted_and_deep():
    tags = ["a"]
    est = MeanRegressor().fit([[1.0], [2.0]], [1.0, 3.0])
    c = clone(est)
    assert not hasattr(c, "mean_") and type(c) is MeanRegressor
    o = Outer(inner=Inner(tags=tags))
    oc = clone(o)
    assert oc.inner is not o.inner and oc.inner.tags == tags and oc.inner.tags is not tags
    # scikit-learn's clone accepts ember estimators too
    sc = sklearn.base.clone(o)
    assert sc.get_params(deep=False)["depth"] == 3 and sc.inner is not o.inner


def test_repr_shows_changed_params_only():
    assert repr(Inner()) == "Inner()"
    assert repr(Inner(alpha=0.1)) == "Inner(alpha=0.1)"
    assert repr(Outer(inner=Inner(alpha=2))) == "Outer(inner=Inner(alpha=2))"


def test_not_fitted():
    with pytest.raises(NotFittedError, match="This MeanRegressor instance is not fitted yet"):
        MeanRegressor().predict([[1.0]])
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


@pytest.mark.parametrize("X, match", [
    ([1.0, 2.0], "Expected 2D array, got 1D array instead"),
    (np.zeros((0, 3)), r"Found array with 0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 1 is required"),
    (np.zeros((3, 0)), r"0 feature\(s\) \(shape=\(3, 0\)\) while a minimum of 1 is required"),
    ([[1.0, np.nan]], "Input X contains NaN"),
    ([[1.0, np.inf]], "Input X contains infinity"),
    (np.ones((2, 2), dtype=complex), "Complex data not supported"),
    (np.ones((2, 2, 2)), "Found array with dim 3"),
])
def test_check_array_errors(X, match):
    with pytest.raises(ValueError, match=match):
        MeanRegressor().fit(X, np.ones(len(X) if np.ndim(X) else 1))


def test_check_array_object_values():
    with pytest.raises(TypeError, match="argument must be a string or a( real)? number"):
        V.check_array(np.array([[{"a": 1}]], dtype=object))
    assert V.check_array([["1.5", "2"]]).tolist() == [[1.5, 2.0]]


def test_dtypes_kept_or_converted():
    assert V.check_array(np.ones((2, 2), np.float32)).dtype == np.float32
    assert V.check_array(np.ones((2, 2), np.int64)).dtype == np.float64
    a = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    out = V.check_array(a)
    assert out.flags.c_contiguous and (out == a).all()
    t = ember.asarray(np.arange(6.0).reshape(2, 3))
    assert V.check_array(t).tolist() == [[0, 1, 2], [3, 4, 5]]


def test_inconsistent_lengths_and_n_features():
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[3, 2\]"):
        MeanRegressor().fit(np.ones((3, 2)), [1, 2])
    est = MeanRegressor().fit(np.ones((3, 2)), [1, 2, 3])
    assert est.n_features_in_ == 2
    with pytest.raises(ValueError, match="X has 3 features, but MeanRegressor is expecting 2 features as input"):
        est.predict(np.ones((1, 3)))


def test_column_vector_y_warns():
    with pytest.warns(V.DataConversionWarning, match="A column-vector y was passed"):
        MeanRegressor().fit(np.ones((3, 1)), np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"y should be a 1d array, got an array of shape \(3, 2\)"):
        MeanRegressor().fit(np.ones((3, 1)), np.ones((3, 2)))


def test_feature_names_from_dataframe():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 0.0]})
    est = MeanRegressor().fit(df, [1.0, 2.0, 3.0])
    assert est.feature_names_in_.tolist() == ["a", "b"]
    with pytest.raises(ValueError, match="Feature names unseen at fit time:\n- c"):
        est.predict(df.rename(columns={"b": "c"}))
    with pytest.raises(ValueError, match="must be in the same order"):
        est.predict(df[["b", "a"]])
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        est.predict(df.to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.predict(df)
    plain = MeanRegressor().fit(df.to_numpy(), [1.0, 2.0, 3.0])
    assert not hasattr(plain, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names, but MeanRegressor was fitted without"):
        plain.predict(df)


@pytest.mark.parametrize("y", [
    [0, 1, 1], [1.0, 2.0, 3.0], [0.5, 1.5], ["a", "b", "c"], ["x", "y"], [[0, 1], [1, 1]],
    [[1, 2], [3, 4], [0, 9]], [[0.5, 1.0], [2.0, 1.0]], np.array([1.0, 2.0, 2.0]), [3, 3, 3],
])
def test_type_of_target_matches_sklearn(y):
    assert V.type_of_target(y) == sk_type_of_target(y)


def test_classification_targets():
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        FirstFeatureClassifier().fit(np.ones((3, 1)), [0.5, 1.5, 2.5])


def test_scores_match_sklearn_metrics():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = rng.normal(size=40)
    w = rng.uniform(size=40)
    est = MeanRegressor().fit(X[:20], y[:20])
    pred = est.predict(X)
    assert est.score(X, y) == pytest.approx(sklearn.metrics.r2_score(y, pred), rel=1e-12)
    assert est.score(X, y, w) == pytest.approx(sklearn.metrics.r2_score(y, pred, sample_weight=w), rel=1e-12)
    yc = (X[:, 1] > 0).astype(int)
    clf = FirstFeatureClassifier().fit(X, yc)
    pc = clf.predict(X)
    assert clf.score(X, yc) == pytest.approx(sklearn.metrics.accuracy_score(yc, pc))
    assert clf.score(X, yc, w) == pytest.approx(sklearn.metrics.accuracy_score(yc, pc, sample_weight=w))


def test_output_follows_input():
    X = np.array([[1.0], [-1.0]])
    clf = FirstFeatureClassifier().fit(X, [0, 1])
    assert isinstance(clf.predict(X), np.ndarray)
    out = clf.predict(ember.asarray(X))
    assert isinstance(out, np.ndarray)  # validate_data returned NumPy, so wrap_like keeps NumPy
    assert isinstance(V.wrap_like(np.array([1, 2]), ember.asarray(X)), ember.Tensor)


def test_sample_weight_checks():
    assert V.check_sample_weight(None, 3).tolist() == [1, 1, 1]
    assert V.check_sample_weight(2, 2).tolist() == [2, 2]
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(2,\), expected \(3,\)"):
        V.check_sample_weight([1, 2], 3)
    with pytest.raises(ValueError, match="Negative values in data passed to sample_weight"):
        V.check_sample_weight([1, -2, 3], 3)


def test_seed_from():
    assert V.seed_from(7) == 7
    assert V.seed_from(np.random.RandomState(0)) == V.seed_from(np.random.RandomState(0))
    assert V.seed_from(ember.Generator(3)) == V.seed_from(ember.Generator(3))
    assert V.seed_from(None) != V.seed_from(None)
    with pytest.raises(ValueError, match="cannot be used to seed"):
        V.seed_from("abc")
    with pytest.raises(ValueError, match="non-negative"):
        V.seed_from(-1)
