"""The one-pass tall-data paths (em_linalg_tall_gram / _qr behind
LinearRegression and PCA, ember/ml/_tall.py) and the brute-force KNN kernel
(em_knn_brute), against NumPy and scikit-learn: both reduction methods, the
choice between them, ill-conditioned and offset data, weights, float32,
thread-count independence, sizes that once ran out of memory, and errors."""
import numpy as np
import pytest
import sklearn.decomposition as skd
import sklearn.linear_model as lm
import sklearn.neighbors as skn

import ember
import ember.ml as em
from ember import _C
from ember.ml import _tall

RNG = np.random.default_rng(5)


def centred_gram(A, w, center):
    mu = (w @ A) / w.sum() if center else np.zeros(A.shape[1])
    Ac = (A - mu) * np.sqrt(w)[:, None]
    return Ac.T @ Ac, mu


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 3, 0), (500, 6, 2), (30000, 4, 1)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("center", [False, True])
def test_tall_gram_and_qr_match_numpy(m, n, k, weighted, center):
    X = RNG.standard_normal((m, n)) * 3 + 50
    Y = RNG.standard_normal((m, k)) if k else None
    w = RNG.uniform(0, 2, m) if weighted else None
    A = np.hstack([X, Y]) if k else X
    G_ref, mu_ref = centred_gram(A, np.ones(m) if w is None else w, center)
    # centring rounds each value by about eps * |mean|: allow for that where the spread is tiny (m = 1)
    scale = np.abs(G_ref).max() + 1e-3 * (mu_ref ** 2).max() * (m if w is None else w.sum())
    G, mu = (np.asarray(a) for a in _C._tall(X, Y, w, center, False))
    R, mu2 = (np.asarray(a) for a in _C._tall(X, Y, w, center, True))
    np.testing.assert_allclose(G, G_ref, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(R.T @ R, G_ref, rtol=0, atol=1e-12 * scale)
    assert np.array_equal(R, np.triu(R)) and (np.diag(R) >= 0).all()
    np.testing.assert_allclose(mu, mu_ref, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(mu2, mu_ref, rtol=1e-13, atol=1e-13)


def test_tall_strided_float32_and_large_mean():
    X = (RNG.standard_normal((4000, 10)) + 1e7).astype(np.float64)  # variance 1 under a mean of 1e7
    Xs = X[::2, ::-1]  # strided view
    ref, _ = centred_gram(np.array(Xs), np.ones(len(Xs)), True)
    G, _ = _C._tall(Xs, None, None, True, False)
    R, _ = _C._tall(Xs, None, None, True, True)
    # no cancellation from the mean: error relative to the *centred* scale
    np.testing.assert_allclose(np.asarray(G), ref, rtol=0, atol=1e-7 * np.abs(ref).max())
    np.testing.assert_allclose(np.asarray(R).T @ np.asarray(R), ref, rtol=0, atol=1e-7 * np.abs(ref).max())
    X32 = RNG.standard_normal((3000, 5)).astype(np.float32)
    ref32, _ = centred_gram(X32.astype(np.float64), np.ones(3000), True)
    np.testing.assert_allclose(np.asarray(_C._tall(X32, None, None, True, False)[0]), ref32, rtol=1e-12, atol=1e-9)


def test_tall_thread_count_does_not_change_bits():
    X, y = RNG.standard_normal((50000, 6)), RNG.standard_normal(50000)
    before = ember.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            ember.set_num_threads(t)
            outs.append([np.asarray(a) for qr in (False, True) for a in _C._tall(X, y, None, True, qr)])
    finally:
        ember.set_num_threads(before)
    for o in outs[1:]:
        for a, b in zip(outs[0], o):
            assert np.array_equal(a, b)


def test_tall_errors():
    X = RNG.standard_normal((20, 3))
    with pytest.raises(ValueError, match="weights must be finite and >= 0"):
        _C._tall(X, None, -np.ones(20), True, False)
    with pytest.raises(ValueError, match="rows as x"):
        _C._tall(X, np.ones(19), None, True, True)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        _C._tall(X, None, None, True, False)
    with pytest.raises(ValueError, match="NaN or infinity"):
        _C._tall(X, None, None, False, True)


def ill_conditioned(m, n, cond, offset=0.0):
    U, _ = np.linalg.qr(RNG.standard_normal((m, n)))
    V, _ = np.linalg.qr(RNG.standard_normal((n, n)))
    s = np.geomspace(1, 1 / cond, n) * np.sqrt(m)
    X = (U * s) @ V.T + offset
    return X, X @ RNG.standard_normal(n) + 0.01 * RNG.standard_normal(m)


@pytest.mark.parametrize("cond,method_wanted", [(10.0, "gram"), (1e7, "qr")])
def test_tall_factor_chooses_qr_when_ill_conditioned(cond, method_wanted):
    X, y = ill_conditioned(2000, 8, cond, offset=3.0)
    *_, method = _tall.tall_factor(X, y[:, None], None, True)
    assert method == method_wanted
    ref = lm.LinearRegression().fit(X, y)
    ours = em.LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6)
    np.testing.assert_allclose(ours.singular_, ref.singular_, rtol=1e-9)
    assert ours.rank_ == ref.rank_ == (8 if cond < 1e6 else 7)  # singular values below tol=1e-6 * s_0 dropped


@pytest.mark.parametrize("method", ["gram", "qr"])
def test_tall_lstsq_both_methods_match_sklearn(method):
    X = RNG.standard_normal((3000, 12)) + 1e4  # offset: centring must be exact
    Y = X[:, :3] @ RNG.standard_normal((3, 2)) + RNG.standard_normal((3000, 2))
    w = RNG.uniform(0.1, 3, 3000)
    coef, x_off, y_off, rank, sv = _tall.tall_lstsq(X, Y, w, True, method)
    ref = lm.LinearRegression().fit(X, Y, sample_weight=w)
    np.testing.assert_allclose(coef, ref.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(y_off - x_off @ coef.T, ref.intercept_, rtol=1e-6)
    np.testing.assert_allclose(sv, ref.singular_, rtol=1e-9)
    assert rank == ref.rank_


def test_linear_regression_rank_deficient_tall_and_many_rows():
    X = RNG.standard_normal((120_000, 5))  # 10^5+ rows: the SVD path once asked for an m x m buffer
    X = np.column_stack([X, X[:, 0] - 2 * X[:, 3]])
    y = X @ np.arange(1.0, 7.0) + RNG.standard_normal(len(X))
    ours, ref = em.LinearRegression().fit(X, y), lm.LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-9)
    assert ours.rank_ == ref.rank_ == 5
    np.testing.assert_allclose(ours.singular_[:5], ref.singular_[:5], rtol=1e-9)
    yf = y.astype(np.float32)
    ours32 = em.LinearRegression().fit(X.astype(np.float32), yf)
    ref32 = lm.LinearRegression().fit(X.astype(np.float32), yf)
    np.testing.assert_allclose(ours32.predict(X[:100]), ref32.predict(X[:100]), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("solver", ["auto", "covariance_eigh", "full"])
@pytest.mark.parametrize("cond", [3.0, 1e6])
def test_pca_solvers_match_sklearn_full(solver, cond):
    X, _ = ill_conditioned(5000, 10, cond, offset=100.0)
    ref = skd.PCA(4, svd_solver="full").fit(X)
    ours = em.PCA(4, svd_solver=solver).fit(X)
    np.testing.assert_allclose(ours.components_, ref.components_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-9)
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-6, atol=1e-7)
    full = em.PCA(svd_solver=solver).fit(X)  # all components: 'auto' must fall back to QR at cond 1e6
    if solver != "covariance_eigh":
        np.testing.assert_allclose(full.explained_variance_, skd.PCA(svd_solver="full").fit(X).explained_variance_,
                                   rtol=1e-8)


def test_pca_fit_transform_whiten_float32_and_rank_deficient():
    X = RNG.standard_normal((2000, 6))
    X = np.column_stack([X, X[:, 1] + X[:, 2]]).astype(np.float32)  # rank 6 of 7
    for kw in ({"n_components": 3}, {"n_components": 3, "whiten": True}, {"n_components": 0.8}):
        ours, ref = em.PCA(**kw), skd.PCA(svd_solver="full", **kw)
        Zo, Zr = ours.fit_transform(X), ref.fit_transform(X)
        assert ours.components_.dtype == np.float32 and Zo.dtype == np.float32
        assert ours.n_components_ == ref.n_components_
        np.testing.assert_allclose(Zo, Zr, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-4)


def grid_points(n, d, seed):
    return np.random.default_rng(seed).integers(0, 4, (n, d)).astype(np.float64)  # many exact ties


@pytest.mark.parametrize("n,m,d,k", [(50, 7, 2, 1), (3000, 150, 20, 5), (5000, 70, 3, 40)])
def test_knn_brute_matches_reference(n, m, d, k):
    X, Q = grid_points(n, d, 0), grid_points(m, d, 1) + 0.5 * (np.arange(d) % 2)
    dist, idx = (np.asarray(a) for a in _C._knn_brute(X, Q, k))
    D = np.sqrt(((Q[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    order = np.lexsort((np.broadcast_to(np.arange(n), D.shape), D), axis=-1)[:, :k]  # by (distance, index)
    np.testing.assert_array_equal(idx, order)
    np.testing.assert_array_equal(dist, np.take_along_axis(D, order, axis=1))


def test_knn_classifier_brute_matches_sklearn_and_threads():
    X = RNG.standard_normal((6000, 20))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    Q = RNG.standard_normal((500, 20))
    ours = em.KNeighborsClassifier(7, weights="distance").fit(X, y)
    ref = skn.KNeighborsClassifier(7, weights="distance").fit(X, y)
    d1, i1 = ours.kneighbors(Q)
    d2, i2 = ref.kneighbors(Q)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(d1, d2, rtol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(Q), ref.predict_proba(Q), rtol=1e-12)
    before = ember.get_num_threads()
    try:
        ember.set_num_threads(1)
        a = ours.kneighbors(Q)
        ember.set_num_threads(3)
        b = ours.kneighbors(Q)
    finally:
        ember.set_num_threads(before)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    # training points queried against themselves: each excluded from its own neighbours
    ds, is_ = ours.kneighbors()
    dr, ir = ref.kneighbors()
    np.testing.assert_array_equal(is_, ir)


def test_knn_brute_errors():
    X = RNG.standard_normal((10, 3))
    with pytest.raises(ValueError, match="k must be in"):
        _C._knn_brute(X, X, 11)
    Q = X.copy()
    Q[2, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        _C._knn_brute(X, Q, 2)
    with pytest.raises(ValueError, match="must be non-empty"):
        _C._knn_brute(X, RNG.standard_normal((4, 2)), 2)


@pytest.mark.parametrize("k", [1, 2, 5, 16])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tall_project_matches_numpy(k, dtype):
    X = RNG.standard_normal((3001, 13)).astype(dtype)
    W, b = RNG.standard_normal((k, 13)).astype(dtype), RNG.standard_normal(k).astype(dtype)
    out = np.asarray(_C._tall_project(X, W, b))
    assert out.dtype == dtype and out.shape == (3001, k)
    ref = X.astype(np.float64) @ W.T.astype(np.float64) + b
    np.testing.assert_allclose(out, ref, rtol=1e-5 if dtype == np.float32 else 1e-13,
                               atol=1e-4 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(np.asarray(_C._tall_project(X, W, None)), ref - b, rtol=1e-5, atol=1e-4)
    before = ember.get_num_threads()
    try:
        ember.set_num_threads(3)
        assert np.array_equal(np.asarray(_C._tall_project(X, W, b)), out)
    finally:
        ember.set_num_threads(before)


def test_tall_project_errors_and_linear_predict():
    X = RNG.standard_normal((50, 4))
    with pytest.raises(ValueError, match="1 <= k <= 16"):
        _C._tall_project(X, RNG.standard_normal((17, 4)), None)
    with pytest.raises(ValueError, match="must be contiguous"):
        _C._tall_project(np.asfortranarray(X), RNG.standard_normal((1, 4)), None)
    with pytest.raises(TypeError):
        _C._tall_project(X, RNG.standard_normal((1, 4)).astype(np.float32), None)
    y = X @ np.arange(1.0, 5.0) + 2
    Y = np.column_stack([y, -y, 2 * y])
    for target in (y, Y[:, :2], Y):  # 1, 2 (streaming dots) and 3 outputs (GEMM with bias)
        ours, ref = em.LinearRegression().fit(X, target), lm.LinearRegression().fit(X, target)
        np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-10, atol=1e-10)
