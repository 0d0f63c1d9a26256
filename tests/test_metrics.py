"""ember.metrics against sklearn.metrics on random inputs and edge cases."""
import warnings

import numpy as np
import pytest
import sklearn.metrics as S

import ember
import ember.metrics as M

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("name", ["mean_squared_error", "root_mean_squared_error", "mean_absolute_error",
                                  "r2_score"])
@pytest.mark.parametrize("shape", [(40,), (40, 3)])
@pytest.mark.parametrize("weighted", [False, True])
def test_regression_metrics(name, shape, weighted):
    yt = RNG.normal(size=shape)
    yp = yt + RNG.normal(size=shape) * 0.3
    kw = {"sample_weight": RNG.uniform(size=shape[0])} if weighted else {}
    assert getattr(M, name)(yt, yp, **kw) == pytest.approx(getattr(S, name)(yt, yp, **kw), rel=1e-12)
    if len(shape) == 2:
        np.testing.assert_allclose(getattr(M, name)(yt, yp, multioutput="raw_values", **kw),
                                   getattr(S, name)(yt, yp, multioutput="raw_values", **kw), rtol=1e-12)


def test_regression_edge_cases_and_tensors():
    assert M.r2_score([1.0, 1.0], [1.0, 1.0]) == S.r2_score([1.0, 1.0], [1.0, 1.0]) == 1.0
    assert M.r2_score([1.0, 1.0], [1.0, 2.0]) == S.r2_score([1.0, 1.0], [1.0, 2.0]) == 0.0
    t = ember.asarray(np.array([1.0, 2.0, 3.0]))
    assert M.mean_squared_error(t, t * 2) == pytest.approx(14 / 3)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[3, 2\]"):
        M.mean_absolute_error([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="NaN or infinity"):
        M.mean_squared_error([1.0, np.nan], [1.0, 2.0])


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@pytest.mark.parametrize("labels", [None, [0, 2]])
def test_prf_multiclass(average, labels):
    yt, yp = RNG.integers(0, 4, 120), RNG.integers(0, 4, 120)
    w = RNG.uniform(size=120)
    for kw in ({}, {"sample_weight": w}):
        ours = M.precision_recall_fscore_support(yt, yp, average=average, labels=labels, **kw)
        ref = S.precision_recall_fscore_support(yt, yp, average=average, labels=labels, **kw)
        for a, b in zip(ours, ref):
            if b is None:
                assert a is None
            else:
                np.testing.assert_allclose(a, b, rtol=1e-12)
        for fn in ("precision_score", "recall_score", "f1_score"):
            np.testing.assert_allclose(getattr(M, fn)(yt, yp, average=average, labels=labels, **kw),
                                       getattr(S, fn)(yt, yp, average=average, labels=labels, **kw), rtol=1e-12)
    np.testing.assert_allclose(M.fbeta_score(yt, yp, beta=0.5, average=average),
                               S.fbeta_score(yt, yp, beta=0.5, average=average), rtol=1e-12)


def test_binary_metrics_and_zero_division():
    yt = np.array(["spam", "ham", "spam", "spam", "ham"])
    yp = np.array(["spam", "spam", "ham", "spam", "ham"])
    assert M.f1_score(yt, yp, pos_label="spam") == pytest.approx(S.f1_score(yt, yp, pos_label="spam"))
    with pytest.raises(ValueError, match="pos_label=1 is not a valid label"):
        M.f1_score(yt, yp)
    with pytest.raises(ValueError, match="Target is multiclass but average='binary'"):
        M.precision_score([0, 1, 2], [0, 1, 2])
    yt, yp = [0, 0, 1, 1], [0, 0, 0, 0]
    with pytest.warns(M.UndefinedMetricWarning, match="Precision is ill-defined"):
        assert M.precision_score(yt, yp) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert M.precision_score(yt, yp, zero_division=1) == S.precision_score(yt, yp, zero_division=1) == 1.0
        assert np.isnan(M.precision_score(yt, yp, zero_division=np.nan))


def test_accuracy_and_confusion_matrix():
    yt, yp = RNG.integers(0, 3, 60), RNG.integers(0, 3, 60)
    w = RNG.uniform(size=60)
    assert M.accuracy_score(yt, yp) == S.accuracy_score(yt, yp)
    assert M.accuracy_score(yt, yp, normalize=False) == S.accuracy_score(yt, yp, normalize=False)
    assert M.accuracy_score(yt, yp, sample_weight=w) == pytest.approx(S.accuracy_score(yt, yp, sample_weight=w))
    np.testing.assert_array_equal(M.confusion_matrix(yt, yp), S.confusion_matrix(yt, yp))
    np.testing.assert_allclose(M.confusion_matrix(yt, yp, sample_weight=w), S.confusion_matrix(yt, yp, sample_weight=w))
    for norm in ("true", "pred", "all"):
        np.testing.assert_allclose(M.confusion_matrix(yt, yp, normalize=norm), S.confusion_matrix(yt, yp, normalize=norm))
    np.testing.assert_array_equal(M.confusion_matrix(yt, yp, labels=[2, 0]), S.confusion_matrix(yt, yp, labels=[2, 0]))
    with pytest.raises(ValueError, match="continuous"):
        M.accuracy_score([0.5, 1.5], [0.5, 1.5])


@pytest.mark.parametrize("kw", [{}, {"digits": 4}, {"labels": [0, 1]}, {"target_names": ["a", "bb", "ccc"]},
                                {"output_dict": True}])
def test_classification_report_matches_sklearn(kw):
    yt, yp = RNG.integers(0, 3, 90), RNG.integers(0, 3, 90)
    assert M.classification_report(yt, yp, **kw) == S.classification_report(yt, yp, **kw)


def test_roc_curve_and_auc():
    yt = RNG.integers(0, 2, 200)
    score = np.round(yt * 0.5 + RNG.normal(size=200), 1)  # ties on purpose
    w = RNG.uniform(size=200)
    for kw in ({}, {"sample_weight": w}, {"drop_intermediate": False}):
        for a, b in zip(M.roc_curve(yt, score, **kw), S.roc_curve(yt, score, **kw)):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    assert M.roc_auc_score(yt, score) == pytest.approx(S.roc_auc_score(yt, score), rel=1e-12)
    assert M.roc_auc_score(yt, score, sample_weight=w) == pytest.approx(S.roc_auc_score(yt, score, sample_weight=w))
    proba = RNG.dirichlet([1, 1, 1], 150)
    y3 = RNG.integers(0, 3, 150)
    for mc in ("ovr", "ovo"):
        for avg in ("macro", "weighted"):
            assert M.roc_auc_score(y3, proba, multi_class=mc, average=avg) == pytest.approx(
                S.roc_auc_score(y3, proba, multi_class=mc, average=avg), rel=1e-12)
    with pytest.raises(ValueError, match="Only one class is present in y_true"):
        M.roc_auc_score([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="multi_class must be in"):
        M.roc_auc_score(y3, proba)


def test_log_loss():
    y = RNG.integers(0, 3, 80)
    p = RNG.dirichlet([2, 2, 2], 80)
    assert M.log_loss(y, p) == pytest.approx(S.log_loss(y, p), rel=1e-12)
    w = RNG.uniform(size=80)
    assert M.log_loss(y, p, sample_weight=w) == pytest.approx(S.log_loss(y, p, sample_weight=w), rel=1e-12)
    yb = RNG.integers(0, 2, 50)
    pb = RNG.uniform(size=50)
    assert M.log_loss(yb, pb) == pytest.approx(S.log_loss(yb, pb), rel=1e-12)
    with pytest.raises(ValueError, match="y_true and y_pred contain different number of classes 3, 2"):
        M.log_loss(y, p[:, :2])


def test_silhouette():
    X = RNG.normal(size=(70, 4))
    labels = RNG.integers(0, 4, 70)
    labels[0] = 9  # a singleton cluster scores 0
    np.testing.assert_allclose(M.silhouette_samples(X, labels), S.silhouette_samples(X, labels), rtol=1e-9,
                               atol=1e-12)
    assert M.silhouette_score(X, labels) == pytest.approx(S.silhouette_score(X, labels), rel=1e-9)
    with pytest.raises(ValueError, match="Number of labels is 1"):
        M.silhouette_score(X, np.zeros(70))
