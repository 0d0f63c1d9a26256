"""KNeighbors* with algorithm='kd_tree' (csrc/ember/ml/kdtree.c) against the brute-force path:
the same neighbours, ties broken by lower index, the same exact distances."""
import pickle

import numpy as np
import pytest

from ember.ml import KNeighborsClassifier, KNeighborsRegressor


def _both(X, Q, k, **kw):
    kd = KNeighborsRegressor(n_neighbors=k, algorithm="kd_tree", **kw).fit(X, np.zeros(len(X)))
    bf = KNeighborsRegressor(n_neighbors=k, algorithm="brute", **kw).fit(X, np.zeros(len(X)))
    return kd.kneighbors(Q), bf.kneighbors(Q), kd, bf


@pytest.mark.parametrize("n, d, k, leaf", [(1, 1, 1, 30), (50, 2, 7, 1), (2000, 3, 10, 30), (3000, 8, 5, 16),
                                           (500, 15, 20, 40)])
def test_kd_tree_matches_brute_force(n, d, k, leaf):
    rng = np.random.default_rng(n + d)
    X, Q = rng.normal(size=(n, d)), rng.normal(size=(200, d))
    (dk, ik), (db, ib), kd, bf = _both(X, Q, k, leaf_size=leaf)
    np.testing.assert_array_equal(ik, ib)
    np.testing.assert_allclose(dk, db, rtol=1e-13, atol=1e-15)
    # self queries (X=None) exclude the point itself
    np.testing.assert_array_equal(kd.kneighbors(n_neighbors=min(k, n - 1) or 1)[1] if n > 1 else 0,
                                  bf.kneighbors(n_neighbors=min(k, n - 1) or 1)[1] if n > 1 else 0)


def test_ties_go_to_the_lower_index():
    # a grid with many duplicates: every distance is exact, ties are everywhere
    g = np.array([[i, j] for i in range(6) for j in range(6)] * 3, dtype=float)
    Q = np.array([[2.5, 2.5], [0, 0], [5, 5], [3, 2], [10, -3]])
    for leaf in (1, 2, 5):
        (dk, ik), (db, ib), _, _ = _both(g, Q, 13, leaf_size=leaf)
        np.testing.assert_array_equal(ik, ib)
        np.testing.assert_array_equal(dk, db)
    # the three copies of a point are returned in index order
    assert list(ik[1, :3]) == [0, 36, 72]


def test_classifier_predictions_and_pickle():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6000, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    Q = rng.normal(size=(300, 4))
    auto = KNeighborsClassifier(n_neighbors=7, weights="distance").fit(X, y)  # auto picks the tree here
    assert auto._kdtree is not None
    brute = KNeighborsClassifier(n_neighbors=7, weights="distance", algorithm="brute").fit(X, y)
    np.testing.assert_array_equal(auto.predict(Q), brute.predict(Q))
    np.testing.assert_allclose(auto.predict_proba(Q), brute.predict_proba(Q), rtol=1e-12)
    again = pickle.loads(pickle.dumps(auto))
    np.testing.assert_array_equal(again.kneighbors(Q)[1], auto.kneighbors(Q)[1])


def test_kd_tree_refuses_other_metrics_and_bad_leaf_size():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="Euclidean"):
        KNeighborsRegressor(algorithm="kd_tree", p=1).fit(X, np.zeros(10))
    with pytest.raises(ValueError, match="leaf_size"):
        KNeighborsRegressor(algorithm="kd_tree", leaf_size=0).fit(X, np.zeros(10))
    with pytest.raises(ValueError, match="ball"):
        KNeighborsRegressor(algorithm="ball_tree").fit(X, np.zeros(10))
