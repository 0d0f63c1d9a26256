"""ember.model_selection: split properties, agreement with scikit-learn where
the algorithm is deterministic, and errors."""
import numpy as np
import pandas as pd
import pytest
import sklearn.model_selection as skm
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression, Ridge

import ember
import ember.model_selection as ms
from ember.preprocessing import StandardScaler, make_pipeline

X_IRIS, Y_IRIS = load_iris(return_X_y=True)


@pytest.mark.parametrize("test_size, n_test", [(None, 38), (0.2, 30), (17, 17)])
def test_train_test_split_sizes_and_partition(test_size, n_test):
    idx = np.arange(150)
    tr, te = ms.train_test_split(idx, test_size=test_size, random_state=3)
    assert len(te) == n_test and len(tr) == 150 - n_test
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(150))
    tr2, te2 = ms.train_test_split(idx, test_size=test_size, random_state=3)
    assert tr.tolist() == tr2.tolist() and te.tolist() == te2.tolist()
    assert ms.train_test_split(idx, random_state=4)[1].tolist() != te.tolist()


def test_train_test_split_types_and_stratify():
    df = pd.DataFrame(X_IRIS, columns=list("abcd"))
    t = ember.asarray(X_IRIS)
    a_tr, a_te, d_tr, d_te, t_tr, t_te, l_tr, l_te, y_tr, y_te = ms.train_test_split(
        X_IRIS, df, t, list(range(150)), Y_IRIS, test_size=0.3, random_state=0, stratify=Y_IRIS)
    assert isinstance(d_tr, pd.DataFrame) and isinstance(t_tr, ember.Tensor) and isinstance(l_tr, list)
    np.testing.assert_array_equal(a_tr, d_tr.to_numpy())
    np.testing.assert_array_equal(a_te, np.asarray(t_te))
    assert np.bincount(y_te).tolist() == [15, 15, 15] and np.bincount(y_tr).tolist() == [35, 35, 35]
    np.testing.assert_array_equal(X_IRIS[l_te], a_te)
    tr, te = ms.train_test_split(np.arange(10), shuffle=False, test_size=3)
    assert tr.tolist() == list(range(7)) and te.tolist() == [7, 8, 9]


def test_train_test_split_errors():
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[3, 2\]"):
        ms.train_test_split([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="test_size=1.5 should be a float in the"):
        ms.train_test_split(np.arange(10), test_size=1.5)
    with pytest.raises(ValueError, match="The least populated class in y has only 1 member"):
        ms.train_test_split(np.arange(4), stratify=[0, 0, 0, 1])


def test_kfold_matches_sklearn_unshuffled():
    for (a, b), (c, d) in zip(ms.KFold(4).split(np.arange(23)), skm.KFold(4).split(np.arange(23))):
        assert a.tolist() == c.tolist() and b.tolist() == d.tolist()
    folds = [te for _, te in ms.KFold(5, shuffle=True, random_state=1).split(np.arange(23))]
    assert sorted(np.concatenate(folds).tolist()) == list(range(23))
    assert [len(f) for f in folds] == [5, 5, 5, 4, 4]
    with pytest.raises(ValueError, match="n_splits=2 or more"):
        ms.KFold(1)
    with pytest.raises(ValueError, match="Cannot have number of splits n_splits=5 greater than the number of samples"):
        list(ms.KFold(5).split(np.arange(3)))


def test_stratified_kfold():
    y = np.r_[np.zeros(20), np.ones(7), np.full(13, 2)].astype(int)
    for (a, b), (c, d) in zip(ms.StratifiedKFold(3).split(y, y), skm.StratifiedKFold(3).split(y, y)):
        assert a.tolist() == c.tolist() and b.tolist() == d.tolist()
    seen = []
    for tr, te in ms.StratifiedKFold(3, shuffle=True, random_state=5).split(y, y):
        seen.extend(te.tolist())
        counts = np.bincount(y[te], minlength=3)
        assert all(abs(c - n / 3) <= 1 for c, n in zip(counts, [20, 7, 13]))
    assert sorted(seen) == list(range(len(y)))
    with pytest.raises(ValueError, match="Supported target types are"):
        list(ms.StratifiedKFold(2).split(np.zeros(4), [0.5, 1.5, 2.5, 3.5]))


def test_cross_val_score_matches_sklearn():
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    np.testing.assert_allclose(ms.cross_val_score(pipe, X_IRIS, Y_IRIS, cv=5),
                               skm.cross_val_score(pipe, X_IRIS, Y_IRIS, cv=5), rtol=1e-12)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=80) * 0.1
    for scoring in ("r2", "neg_mean_squared_error", "neg_mean_absolute_error"):
        np.testing.assert_allclose(ms.cross_val_score(Ridge(), X, y, cv=4, scoring=scoring, n_jobs=2),
                                   skm.cross_val_score(Ridge(), X, y, cv=4, scoring=scoring), rtol=1e-12)


def test_cross_validate_outputs():
    res = ms.cross_validate(LogisticRegression(), X_IRIS, Y_IRIS, cv=3, scoring=["accuracy", "f1_macro"],
                            return_train_score=True, return_estimator=True)
    assert set(res) == {"fit_time", "score_time", "test_accuracy", "test_f1_macro", "train_accuracy",
                        "train_f1_macro", "estimator"}
    ref = skm.cross_validate(LogisticRegression(), X_IRIS, Y_IRIS, cv=3, scoring=["accuracy", "f1_macro"])
    np.testing.assert_allclose(res["test_accuracy"], ref["test_accuracy"])
    np.testing.assert_allclose(res["test_f1_macro"], ref["test_f1_macro"])
    assert len(res["estimator"]) == 3 and hasattr(res["estimator"][0], "coef_")
    with pytest.raises(ValueError, match="'acc' is not a valid scoring value"):
        ms.cross_val_score(LogisticRegression(), X_IRIS, Y_IRIS, scoring="acc")


def test_grid_search_matches_sklearn():
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    grid = {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]}
    ours = ms.GridSearchCV(pipe, grid, cv=4, n_jobs=2).fit(X_IRIS, Y_IRIS)
    ref = skm.GridSearchCV(pipe, grid, cv=4).fit(X_IRIS, Y_IRIS)
    assert ours.best_params_ == ref.best_params_
    assert ours.best_score_ == pytest.approx(ref.best_score_)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(ours.cv_results_["rank_test_score"], ref.cv_results_["rank_test_score"])
    np.testing.assert_array_equal(ours.predict(X_IRIS), ref.predict(X_IRIS))
    assert ours.score(X_IRIS, Y_IRIS) == pytest.approx(ref.score(X_IRIS, Y_IRIS))


def test_parameter_grid():
    g = ms.ParameterGrid([{"a": [1, 2], "b": ["x"]}, {"c": [True, False]}])
    assert list(g) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}, {"c": True}, {"c": False}]
    assert len(g) == 4
    with pytest.raises(TypeError, match="Single values need to be wrapped in a list"):
        ms.ParameterGrid({"a": 1})
