"""Forest prediction in C (one call over all trees) and the large-node split
search (radix-sorted nodes, feature-major X), against scikit-learn and
against the per-tree definition."""
import numpy as np
import pytest
import sklearn.ensemble as ske
import sklearn.tree as skt
from sklearn.datasets import make_classification, make_regression

import ember
import ember.ml as em
from ember import _C


def _per_tree_mean(forest, X, normalize):
    """The definition: mean over trees of the (normalised) leaf value rows."""
    X32 = np.asarray(X, dtype=np.float32)
    acc = 0.0
    for est in forest.estimators_:
        v = est.tree_.value[est.tree_.apply(X32), 0]
        if normalize:
            s = v.sum(axis=1, keepdims=True)
            v = v / np.where(s > 0, s, 1)
        acc = acc + v
    return acc / len(forest.estimators_)


def test_forest_predict_proba_equals_per_tree_mean_and_sklearn_quality():
    X, y = make_classification(4000, 12, n_informative=6, n_classes=3, random_state=0)
    Xtr, ytr, Xte, yte = X[:3000], y[:3000], X[3000:], y[3000:]
    ours = em.RandomForestClassifier(30, random_state=0).fit(Xtr, ytr)
    np.testing.assert_allclose(ours.predict_proba(Xte), _per_tree_mean(ours, Xte, True), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.predict_proba(Xte).sum(axis=1), 1.0)
    ref = ske.RandomForestClassifier(30, random_state=0).fit(Xtr, ytr)
    assert ours.score(Xte, yte) >= ref.score(Xte, yte) - 0.02


def test_forest_predict_regressor_equals_per_tree_mean():
    X, y = make_regression(3000, 10, noise=3.0, random_state=1)
    ours = em.RandomForestRegressor(25, max_features=0.5, random_state=2).fit(X[:2000], y[:2000])
    np.testing.assert_allclose(ours.predict(X[2000:]), _per_tree_mean(ours, X[2000:], False)[:, 0], rtol=1e-12)
    ref = ske.RandomForestRegressor(25, max_features=0.5, random_state=2).fit(X[:2000], y[:2000])
    assert ours.score(X[2000:], y[2000:]) >= ref.score(X[2000:], y[2000:]) - 0.03


def test_forest_fit_and_predict_bit_identical_across_threads():
    X, y = make_classification(6000, 10, n_informative=5, n_classes=3, random_state=3)
    before = ember.get_num_threads()
    probas = []
    try:
        for t in (1, 2, 3):
            ember.set_num_threads(t)
            probas.append(em.RandomForestClassifier(12, random_state=4).fit(X[:5000], y[:5000]).predict_proba(X))
    finally:
        ember.set_num_threads(before)
    np.testing.assert_array_equal(probas[0], probas[1])
    np.testing.assert_array_equal(probas[0], probas[2])


@pytest.mark.parametrize("n", [3000, 20000])
def test_large_node_regression_tree_matches_sklearn(n):
    # nodes of >= 1024 samples are radix-sorted: the tree must still be the exact CART tree
    X, y = make_regression(n, 6, noise=10.0, random_state=5)
    X = np.round(X, 2)  # ties: equal values must not be split apart
    kw = {"max_depth": 8, "min_samples_leaf": 5}
    ours = em.DecisionTreeRegressor(**kw).fit(X, y)
    ref = skt.DecisionTreeRegressor(random_state=0, **kw).fit(X, y)
    assert ours.tree_.node_count == ref.tree_.node_count
    assert ours.tree_.feature[0] == ref.tree_.feature[0] and ours.tree_.threshold[0] == ref.tree_.threshold[0]
    np.testing.assert_allclose(np.sort(ours.tree_.value[:, 0, 0]), np.sort(ref.tree_.value[:, 0, 0]), rtol=1e-9)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-9)


def test_large_node_negative_and_signed_zero_values():
    # the radix key maps negatives (and -0.0) below positives; a wrong order would give wrong splits
    rng = np.random.default_rng(6)
    X = rng.choice([-3.5, -1.0, -0.0, 0.0, 0.25, 2.0, 1e30, -1e30], size=(5000, 2))
    y = (X[:, 0] > 0.1).astype(np.int64) + 2 * (X[:, 1] < -2.0)
    ours = em.DecisionTreeClassifier().fit(X, y)
    ref = skt.DecisionTreeClassifier(random_state=0).fit(X, y)
    np.testing.assert_array_equal(ours.predict(X), y)
    assert ours.tree_.node_count == ref.tree_.node_count


def test_forest_predict_errors():
    X, y = make_classification(200, 5, random_state=0)
    f = em.RandomForestClassifier(3, random_state=0).fit(X, y)
    t = f.estimators_[0].tree_
    parts = (t.children_left, t.children_right, t.feature, t.threshold, t.value[:, 0, :])
    with pytest.raises(ValueError, match="n_trees must be >= 1"):
        _C._forest_predict([], X.astype(np.float32), True)
    with pytest.raises(ValueError, match="malformed"):
        _C._forest_predict([parts], X[:, :2].astype(np.float32), True)
    bad = (t.children_left, t.children_right, t.feature, t.threshold, t.value[:-1, 0, :])
    with pytest.raises(ValueError, match="value must be"):
        _C._forest_predict([bad], X.astype(np.float32), True)
    with pytest.raises(TypeError, match="tuple"):
        _C._forest_predict([parts[:4]], X.astype(np.float32), True)
    with pytest.raises(ValueError, match="X has 2 features"):
        f.predict(X[:, :2])


def _exact_mean(forest, X, normalize):
    """The definition with the C walk's operations in its order (shares
    divided per leaf, trees added in order, one division by the tree count):
    numpy gives the same IEEE results, so the comparison can be exact."""
    X32 = np.asarray(X, dtype=np.float32)
    acc = None
    for est in forest.estimators_:
        v = est.tree_.value[est.tree_.apply(X32), 0]
        if normalize:
            s = v.sum(axis=1, keepdims=True)
            v = np.where(s > 0, v / np.where(s > 0, s, 1), 0.0)
        acc = v.copy() if acc is None else acc + v
    return acc / len(forest.estimators_)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_packed_forest_predict_is_bit_identical_to_the_definition(threads):
    Xc, yc = make_classification(5000, 9, n_informative=5, n_classes=4, random_state=7)
    Xr, yr = make_regression(5000, 9, noise=2.0, random_state=7)
    clf = em.RandomForestClassifier(15, random_state=1).fit(Xc[:3000], yc[:3000])
    reg = em.RandomForestRegressor(15, max_features=0.5, random_state=1).fit(Xr[:3000], yr[:3000])
    before = ember.get_num_threads()
    try:
        ember.set_num_threads(threads)
        p = clf.predict_proba(Xc[3000:])
        r = reg.predict(Xr[3000:])
    finally:
        ember.set_num_threads(before)
    np.testing.assert_array_equal(p, _exact_mean(clf, Xc[3000:], True))
    np.testing.assert_array_equal(r, _exact_mean(reg, Xr[3000:], False)[:, 0])
    np.testing.assert_array_equal(clf.predict(Xc[3000:]), clf.classes_[np.argmax(p, axis=1)])
    # the unpacked entry point (packs per call) gives the same bits
    trees = [(t.children_left, t.children_right, t.feature, t.threshold, t.value[:, 0, :])
             for t in (e.tree_ for e in clf.estimators_)]
    np.testing.assert_array_equal(_C._forest_predict(trees, Xc[3000:].astype(np.float32), True), p)


def test_packed_thresholds_keep_float64_comparisons():
    # training values 3 float32 ulps apart: each threshold is a float64
    # midpoint 1.5 ulps above a value, which float32 rounding (to even) would
    # move to 2 ulps.  Every float32 query in between must go the way the
    # float64 comparison sends it: to the nearer training value's label.
    ulp = np.float32(2.0 ** -23)
    base = np.float32(1.0) + np.arange(200, dtype=np.float32) * 3 * ulp
    labels = np.random.default_rng(3).integers(0, 2, 200)
    f = em.RandomForestClassifier(3, bootstrap=False, max_features=1, random_state=0).fit(base[:, None], labels)
    thr = f.estimators_[0].tree_.threshold[f.estimators_[0].tree_.children_left >= 0]
    assert np.all(thr != thr.astype(np.float32))  # really between float32 values
    q = (np.float32(1.0) + np.arange(598, dtype=np.float32) * ulp)[:, None]
    want = labels[(np.arange(598) + 1) // 3]  # offset 1 ulp: the value below, 2 ulps: the value above
    np.testing.assert_array_equal(f.predict(q), want)
    np.testing.assert_array_equal(f.predict_proba(q), _exact_mean(f, q, True))
    ref = ske.RandomForestClassifier(3, bootstrap=False, max_features=1, random_state=0).fit(base[:, None], labels)
    np.testing.assert_array_equal(ref.predict(q), want)


def test_packed_forest_survives_pickle_and_follows_replaced_trees():
    import pickle
    X, y = make_classification(1500, 6, n_informative=4, n_classes=3, random_state=2)
    f = em.RandomForestClassifier(8, random_state=3).fit(X[:1000], y[:1000])
    want = f.predict_proba(X[1000:])
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(g.predict_proba(X[1000:]), want)
    # a tree swapped in estimators_ is seen by the next predict (the pack is rebuilt)
    other = em.RandomForestClassifier(8, random_state=4).fit(X[:1000], y[:1000])
    g.estimators_[0] = other.estimators_[0]
    np.testing.assert_array_equal(g.predict_proba(X[1000:]), _exact_mean(g, X[1000:], True))
    assert not np.array_equal(g.predict_proba(X[1000:]), want)


def test_forest_predict_packed_rejects_malformed_packs():
    X, y = make_classification(300, 5, random_state=0)
    f = em.RandomForestClassifier(2, random_state=0).fit(X, y)
    nodes, offsets, values = (np.array(a) for a in f._packed_)
    X32 = X.astype(np.float32)
    np.testing.assert_array_equal(_C._forest_predict_packed(nodes, offsets, values, X32), f.predict_proba(X))
    bad = nodes.copy()
    bad[0, 1] = 5  # feature 5 of a 5-column X
    with pytest.raises(ValueError, match="tree 0 node 0 is malformed"):
        _C._forest_predict_packed(bad, offsets, values, X32)
    bad = nodes.copy()
    bad[0, 2] = 0  # right child = itself on an internal node: the walk would not end
    with pytest.raises(ValueError, match="malformed"):
        _C._forest_predict_packed(bad, offsets, values, X32)
    bad = nodes.copy()
    leaf = int(np.flatnonzero(bad[:, 3] >= 0)[0])
    bad[leaf, 3] = len(values)  # a values row past the end
    with pytest.raises(ValueError, match="malformed"):
        _C._forest_predict_packed(bad, offsets, values, X32)
    with pytest.raises(ValueError, match="offsets"):
        _C._forest_predict_packed(nodes, offsets[:-1], values, X32)
    with pytest.raises(ValueError, match="columns"):
        _C._forest_predict_packed(nodes, offsets, values, X32[:, :2])
    with pytest.raises(ValueError, match="n_features"):
        _C._forest_pack([], 0, True)
