"""ember.preprocessing, ember.pipeline and ember.compose against scikit-learn:
same fitted attributes and outputs (rtol 1e-6 in float64) on random data
with NaN, float32, DataFrames, and the errors."""
import numpy as np
import pandas as pd
import pytest
import sklearn.compose as skc
import sklearn.impute as ski
import sklearn.pipeline as skpipe
import sklearn.preprocessing as skp

import ember
import ember.preprocessing as ep
from ember.ml import NotFittedError

RNG = np.random.default_rng(42)


def data(n=57, d=5, nan=True, dtype=np.float64):
    X = RNG.normal(size=(n, d)) * RNG.uniform(0.1, 10, size=d) + RNG.normal(size=d) * 5
    X[:, 2] = 3.0  # a constant feature
    if nan:
        X[RNG.uniform(size=X.shape) < 0.1] = np.nan
    return X.astype(dtype)


SCALERS = [
    ("StandardScaler", {}, ["mean_", "var_", "scale_", "n_samples_seen_"]),
    ("StandardScaler", {"with_mean": False}, ["var_", "scale_"]),
    ("StandardScaler", {"with_std": False}, ["mean_"]),
    ("MinMaxScaler", {}, ["data_min_", "data_max_", "data_range_", "scale_", "min_"]),
    ("MinMaxScaler", {"feature_range": (-2, 3), "clip": True}, ["scale_", "min_"]),
    ("MaxAbsScaler", {}, ["max_abs_", "scale_"]),
    ("RobustScaler", {}, ["center_", "scale_"]),
    ("RobustScaler", {"quantile_range": (10.0, 80.0), "unit_variance": True}, ["center_", "scale_"]),
    ("RobustScaler", {"with_centering": False}, ["scale_"]),
]


@pytest.mark.parametrize("name, kw, attrs", SCALERS)
@pytest.mark.parametrize("nan", [False, True])
def test_scalers_match_sklearn(name, kw, attrs, nan):
    X = data(nan=nan)
    ours, ref = getattr(ep, name)(**kw).fit(X), getattr(skp, name)(**kw).fit(X)
    for a in attrs:
        np.testing.assert_allclose(getattr(ours, a), getattr(ref, a), rtol=1e-6, err_msg=a)
    Xt = X[:9] * 1.5
    np.testing.assert_allclose(ours.transform(Xt), ref.transform(Xt), rtol=1e-6, atol=1e-12)
    if not kw.get("clip"):
        np.testing.assert_allclose(ours.inverse_transform(ours.transform(Xt)), Xt, rtol=1e-6, atol=1e-9)
    assert ours.n_features_in_ == 5


def test_scaler_float32_and_tensor_io():
    X = data(nan=False, dtype=np.float32)
    s = ep.StandardScaler().fit(X)
    out = s.transform(X)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, skp.StandardScaler().fit_transform(X), rtol=1e-4, atol=1e-5)
    t = s.transform(ember.asarray(X))
    assert isinstance(t, ember.Tensor) and t.dtype == ember.float32
    np.testing.assert_array_equal(np.asarray(t), out)


def test_transform_never_aliases_input():
    X = data(nan=False)
    out = ep.StandardScaler(with_mean=False, with_std=False).fit(X).transform(X)
    out[0, 0] = 1234.0
    assert X[0, 0] != 1234.0


def test_standard_scaler_partial_fit_and_weights():
    X = data()
    s = ep.StandardScaler()
    r = skp.StandardScaler()
    for part in np.array_split(X, 4):
        s.partial_fit(part)
        r.partial_fit(part)
    np.testing.assert_allclose(s.mean_, r.mean_, rtol=1e-9)
    np.testing.assert_allclose(s.var_, r.var_, rtol=1e-9, atol=1e-20)  # the constant column: rounding noise
    np.testing.assert_array_equal(s.n_samples_seen_, r.n_samples_seen_)
    w = RNG.uniform(0.1, 2, size=len(X))
    Xf = data(nan=False)
    s = ep.StandardScaler().fit(Xf, sample_weight=w)
    r = skp.StandardScaler().fit(Xf, sample_weight=w)
    np.testing.assert_allclose(s.mean_, r.mean_, rtol=1e-9)
    np.testing.assert_allclose(s.var_, r.var_, rtol=1e-9, atol=1e-20)


def test_minmax_errors_and_partial_fit():
    with pytest.raises(ValueError, match="Minimum of desired feature range must be smaller than maximum"):
        ep.MinMaxScaler(feature_range=(1, 0)).fit(data())
    X = data()
    s, r = ep.MinMaxScaler(), skp.MinMaxScaler()
    for part in np.array_split(X, 3):
        s.partial_fit(part)
        r.partial_fit(part)
    np.testing.assert_allclose(s.data_min_, r.data_min_)
    np.testing.assert_allclose(s.data_max_, r.data_max_)


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
def test_normalizer(norm):
    X = data(nan=False)
    X[3] = 0.0
    np.testing.assert_allclose(ep.Normalizer(norm).fit_transform(X), skp.Normalizer(norm=norm).fit_transform(X),
                               rtol=1e-12)
    np.testing.assert_allclose(ep.normalize(X, norm, axis=0), skp.normalize(X, norm, axis=0), rtol=1e-12)
    with pytest.raises(ValueError, match="'l3' is not a supported norm"):
        ep.normalize(X, "l3")


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent", "constant"])
@pytest.mark.parametrize("keep_empty", [False, True])
def test_simple_imputer_numeric(strategy, keep_empty):
    X = data()
    X[:, 4] = np.nan  # an all-missing column
    X[::3, 1] = np.round(X[::3, 1])  # repeated values for most_frequent
    kw = {"strategy": strategy, "keep_empty_features": keep_empty}
    ours, ref = ep.SimpleImputer(**kw).fit(X), ski.SimpleImputer(**kw).fit(X)
    # (scikit-learn keeps the constant fill as an object array; ember as X's dtype)
    np.testing.assert_allclose(ours.statistics_, ref.statistics_.astype(float), rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-9)
    assert list(ours.get_feature_names_out()) == list(ref.get_feature_names_out())


def test_simple_imputer_missing_marker_and_strings():
    X = np.array([[1, -1], [-1, 4], [3, 4], [3, 2]], dtype=float)
    ours = ep.SimpleImputer(missing_values=-1, strategy="mean").fit(X)
    ref = ski.SimpleImputer(missing_values=-1, strategy="mean").fit(X)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X))
    S = np.array([["a", "x"], [None, "y"], ["a", None], ["b", "y"]], dtype=object)
    for strategy in ("most_frequent", "constant"):
        ours = ep.SimpleImputer(missing_values=None, strategy=strategy).fit_transform(S)
        ref = ski.SimpleImputer(missing_values=None, strategy=strategy).fit_transform(S)
        assert ours.tolist() == ref.tolist()
    with pytest.raises(ValueError, match="Cannot use mean strategy with non-numeric data"):
        ep.SimpleImputer(missing_values=None).fit(S)
    with pytest.raises(ValueError, match="Can only use these strategies"):
        ep.SimpleImputer(strategy="mode").fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but SimpleImputer is expecting 2"):
        ep.SimpleImputer().fit(X).transform(np.ones((1, 3)))


CATS = np.array([["red", "S", 1], ["blue", "M", 2], ["red", "L", 2], ["green", "M", 3], ["blue", "S", 1]],
                dtype=object)


@pytest.mark.parametrize("drop", [None, "first", "if_binary"])
def test_one_hot_encoder(drop):
    X = np.array([["red", "S"], ["blue", "M"], ["red", "L"], ["green", "M"]], dtype=object)
    X = np.column_stack([X, np.array(["y", "n", "y", "y"], dtype=object)])
    ours = ep.OneHotEncoder(drop=drop).fit(X)
    ref = skp.OneHotEncoder(drop=drop, sparse_output=False).fit(X)
    for a, b in zip(ours.categories_, ref.categories_):
        assert list(a) == list(b)
    np.testing.assert_array_equal(ours.transform(X), ref.transform(X))
    assert list(ours.get_feature_names_out()) == list(ref.get_feature_names_out())
    assert ours.inverse_transform(ours.transform(X)).tolist() == ref.inverse_transform(ref.transform(X)).tolist()


def test_one_hot_unknown_numeric_and_nan():
    X = np.array([[1.0, 5.0], [2.0, np.nan], [3.0, 5.0]])
    ours = ep.OneHotEncoder().fit(X)
    ref = skp.OneHotEncoder(sparse_output=False).fit(X)
    np.testing.assert_array_equal(ours.transform(X), ref.transform(X))
    with pytest.raises(ValueError, match=r"Found unknown categories \[np.float64\(9.0\)\] in column 0"):
        ours.transform(np.array([[9.0, 5.0]]))
    ign = ep.OneHotEncoder(handle_unknown="ignore").fit(X)
    assert ign.transform(np.array([[9.0, 5.0]])).tolist() == [[0, 0, 0, 1, 0]]
    with pytest.raises(ValueError, match="ember has no sparse matrices"):
        ep.OneHotEncoder(sparse_output=True).fit(X)


def test_ordinal_encoder():
    ours = ep.OrdinalEncoder().fit(CATS)
    ref = skp.OrdinalEncoder().fit(CATS)
    np.testing.assert_array_equal(ours.transform(CATS), ref.transform(CATS))
    assert ours.inverse_transform(ours.transform(CATS)).tolist() == CATS.tolist()
    unk = ep.OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1).fit(CATS)
    assert unk.transform(np.array([["pink", "S", 1]], dtype=object)).tolist() == [[-1, 2, 0]]
    with pytest.raises(TypeError, match="unknown_value should be an integer or np.nan"):
        ep.OrdinalEncoder(handle_unknown="use_encoded_value").fit(CATS)
    X = np.array([[1.0], [np.nan], [2.0]])
    np.testing.assert_array_equal(ep.OrdinalEncoder().fit_transform(X), skp.OrdinalEncoder().fit_transform(X))


def test_label_encoder():
    y = ["paris", "tokyo", "paris", "amsterdam"]
    ours, ref = ep.LabelEncoder().fit(y), skp.LabelEncoder().fit(y)
    assert list(ours.classes_) == list(ref.classes_)
    assert ours.transform(y).tolist() == ref.transform(y).tolist()
    assert ours.inverse_transform([2, 0]).tolist() == ["tokyo", "amsterdam"]
    with pytest.raises(ValueError, match=r"y contains previously unseen labels: \['rome'\]"):
        ours.transform(["rome"])


@pytest.mark.parametrize("kw", [{}, {"degree": 3}, {"degree": (2, 3)}, {"interaction_only": True},
                                {"include_bias": False, "degree": 2}])
def test_polynomial_features(kw):
    X = data(n=11, d=3, nan=False)
    ours, ref = ep.PolynomialFeatures(**kw).fit(X), skp.PolynomialFeatures(**kw).fit(X)
    np.testing.assert_array_equal(ours.powers_, ref.powers_)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-12)
    assert list(ours.get_feature_names_out()) == list(ref.get_feature_names_out())


def test_not_fitted_errors():
    for est in (ep.StandardScaler(), ep.MinMaxScaler(), ep.RobustScaler(), ep.SimpleImputer(), ep.OneHotEncoder(),
                ep.PolynomialFeatures()):
        with pytest.raises(NotFittedError, match="is not fitted yet"):
            est.transform(np.ones((2, 2)))


def test_pipeline_matches_sklearn_and_params():
    from sklearn.linear_model import LogisticRegression

    X = data()
    y = (np.nan_to_num(X[:, 0]) > np.nanmedian(X[:, 0])).astype(int)
    ours = ep.make_pipeline(ep.SimpleImputer(), ep.StandardScaler(), LogisticRegression())
    ref = skpipe.make_pipeline(ski.SimpleImputer(), skp.StandardScaler(), LogisticRegression())
    ours.fit(X, y)
    ref.fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-6)
    assert ours.score(X, y) == ref.score(X, y)
    assert list(ours.named_steps) == ["simpleimputer", "standardscaler", "logisticregression"]
    ours.set_params(logisticregression__C=0.5, standardscaler="passthrough")
    assert ours.get_params()["logisticregression__C"] == 0.5
    assert ours.named_steps["standardscaler"] == "passthrough"
    ours.fit(X, y)
    assert ours[:1].transform(X).shape == (len(X), 5)
    with pytest.raises(TypeError, match="All intermediate steps should be transformers"):
        ep.Pipeline([("a", LogisticRegression()), ("b", LogisticRegression())]).fit(X, y)
    with pytest.raises(ValueError, match="Names provided are not unique"):
        ep.Pipeline([("a", ep.StandardScaler()), ("a", ep.StandardScaler())]).fit(X)


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_feature_union(n_jobs):
    X = data(nan=False)
    ours = ep.FeatureUnion([("std", ep.StandardScaler()), ("mm", ep.MinMaxScaler())], n_jobs=n_jobs,
                           transformer_weights={"mm": 2.0})
    ref = skpipe.FeatureUnion([("std", skp.StandardScaler()), ("mm", skp.MinMaxScaler())],
                              transformer_weights={"mm": 2.0})
    np.testing.assert_allclose(ours.fit_transform(X), ref.fit_transform(X), rtol=1e-9)
    np.testing.assert_allclose(ours.transform(X[:4]), ref.transform(X[:4]), rtol=1e-9)
    assert list(ours.get_feature_names_out()) == list(ref.get_feature_names_out())


@pytest.mark.parametrize("remainder", ["drop", "passthrough"])
@pytest.mark.parametrize("n_jobs", [None, -1])
def test_column_transformer_on_dataframe(remainder, n_jobs):
    df = pd.DataFrame({"age": [22.0, np.nan, 35.0, 51.0, 40.0], "city": ["a", "b", "a", "c", "b"],
                       "fare": [7.2, 71.3, 8.0, 51.9, 13.0], "cls": [3, 1, 3, 1, 2]})
    ours = ep.ColumnTransformer([("num", ep.make_pipeline(ep.SimpleImputer(), ep.StandardScaler()), ["age", "fare"]),
                                 ("cat", ep.OneHotEncoder(), ["city"])], remainder=remainder, n_jobs=n_jobs)
    ref = skc.ColumnTransformer([("num", skpipe.make_pipeline(ski.SimpleImputer(), skp.StandardScaler()),
                                  ["age", "fare"]), ("cat", skp.OneHotEncoder(sparse_output=False), ["city"])],
                                remainder=remainder)
    np.testing.assert_allclose(ours.fit_transform(df).astype(float), ref.fit_transform(df).astype(float), rtol=1e-9)
    np.testing.assert_allclose(ours.transform(df.iloc[:2]).astype(float), ref.transform(df.iloc[:2]).astype(float),
                               rtol=1e-9)
    assert list(ours.get_feature_names_out()) == list(ref.get_feature_names_out())
    with pytest.raises(ValueError, match="A given column is not a column of the dataframe: 'nope'"):
        ep.ColumnTransformer([("x", ep.StandardScaler(), ["nope"])]).fit(df)


def test_column_transformer_positional_and_selector():
    X = data(nan=False)
    ours = ep.make_column_transformer((ep.StandardScaler(), [0, 1]), (ep.MinMaxScaler(), slice(2, 4)))
    ref = skc.make_column_transformer((skp.StandardScaler(), [0, 1]), (skp.MinMaxScaler(), slice(2, 4)))
    np.testing.assert_allclose(ours.fit_transform(X), ref.fit_transform(X), rtol=1e-9)
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    sel = ep.make_column_selector(dtype_include=np.number)
    assert sel(df) == ["a"]
    with pytest.raises(ValueError, match="X has 4 features, but ColumnTransformer is expecting 5"):
        ours.transform(X[:, :4])
