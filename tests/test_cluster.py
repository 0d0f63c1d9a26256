"""Clustering in libember: DBSCAN (labels and core samples equal to
scikit-learn's) and k-means++ seeding (quality equal to scikit-learn's,
deterministic per seed and for any thread count)."""
import numpy as np
import pytest
import sklearn.cluster as skc
from sklearn.datasets import load_iris, make_blobs, make_moons

import ember
import ember.ml as em
from ember import _C
from ember.ml._cluster import _kmeans_plusplus


@pytest.fixture
def threads():
    before = ember.get_num_threads()
    yield
    ember.set_num_threads(before)


def _same_dbscan(X, sample_weight=None, **kw):
    ours = em.DBSCAN(**kw).fit(X, sample_weight=sample_weight)
    ref = skc.DBSCAN(**kw).fit(X, sample_weight=sample_weight)
    np.testing.assert_array_equal(ours.core_sample_indices_, ref.core_sample_indices_)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_array_equal(ours.components_, ref.components_)
    assert ours.labels_.dtype == ref.labels_.dtype
    return ours, ref


# ---- DBSCAN ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("eps", [0.1, 0.25, 0.5, 1.0, 3.0])
@pytest.mark.parametrize("min_samples", [1, 4, 12])
def test_dbscan_blobs(eps, min_samples):
    X, _ = make_blobs(1500, 2, centers=6, cluster_std=[0.3, 0.5, 0.8, 1.0, 0.4, 1.5], random_state=1)
    ours, _ = _same_dbscan(X, eps=eps, min_samples=min_samples)
    if eps == 0.25 and min_samples == 4:
        assert len(set(ours.labels_)) > 3 and (ours.labels_ == -1).any()  # a non-trivial case


@pytest.mark.parametrize("eps", [0.05, 0.1, 0.2, 0.3])
def test_dbscan_moons(eps):
    X, _ = make_moons(1000, noise=0.06, random_state=0)
    _same_dbscan(X, eps=eps, min_samples=5)


@pytest.mark.parametrize("eps", [0.2, 0.4, 0.5, 0.8, 1.2])
@pytest.mark.parametrize("min_samples", [2, 5, 10])
def test_dbscan_iris(eps, min_samples):
    # iris has many duplicate rows and many pairs at exactly representable distances
    X = load_iris().data
    _same_dbscan(X, eps=eps, min_samples=min_samples)


def test_dbscan_float32_and_high_dimension():
    X, _ = make_blobs(800, 30, centers=5, cluster_std=2.0, random_state=3)
    for eps in (5.0, 7.0, 9.0):
        _same_dbscan(X, eps=eps, min_samples=6)
        _same_dbscan(X.astype(np.float32), eps=eps, min_samples=6)


@pytest.mark.parametrize("kind", ["integer", "fractional", "zeros", "negative"])
def test_dbscan_sample_weight(kind):
    X, _ = make_blobs(700, 2, centers=4, cluster_std=0.7, random_state=5)
    rng = np.random.default_rng(0)
    w = {"integer": rng.integers(1, 4, len(X)).astype(float),
         "fractional": rng.choice([0.25, 0.5, 1.5], len(X)),
         "zeros": rng.choice([0.0, 1.0, 2.0], len(X)),
         "negative": rng.choice([-1.0, 1.0, 2.0, 3.0], len(X))}[kind]
    for eps, ms in ((0.3, 5), (0.5, 8)):
        ours, _ = _same_dbscan(X, sample_weight=w, eps=eps, min_samples=ms)
        plain = em.DBSCAN(eps=eps, min_samples=ms).fit(X)
        assert not np.array_equal(plain.core_sample_indices_, ours.core_sample_indices_)  # the weights count


def test_dbscan_weight_equals_repetition():
    X, _ = make_blobs(300, 2, centers=3, random_state=2)
    w = np.random.default_rng(1).integers(1, 4, len(X))
    ours = em.DBSCAN(eps=0.4, min_samples=6).fit(X, sample_weight=w)
    rep = em.DBSCAN(eps=0.4, min_samples=6).fit(np.repeat(X, w, axis=0))
    first = np.concatenate([[0], np.cumsum(w)[:-1]])
    np.testing.assert_array_equal(ours.labels_, rep.labels_[first])


def test_dbscan_duplicates_and_exact_eps():
    # a grid: neighbours at exactly eps (1.0), sqrt(2) and 2; duplicated points
    g = np.stack(np.meshgrid(np.arange(12.0), np.arange(9.0)), -1).reshape(-1, 2)
    X = np.concatenate([g, g[::7], g[::11], [[100.0, 100.0]] * 4, [[200.0, 0.0]]])
    for eps in (1.0, np.nextafter(1.0, 0), np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 0), 2.0, 0.5):
        for ms in (1, 3, 4, 5, 6):
            _same_dbscan(X, eps=eps, min_samples=ms)
    lab = em.DBSCAN(eps=1.0, min_samples=4).fit(X).labels_
    assert (lab[-5:-1] == lab[-5]).all() and lab[-5] >= 0 and lab[-1] == -1  # 4 copies: a cluster; alone: noise


def test_dbscan_border_point_joins_first_cluster():
    # sample 3 is within eps of both clusters' core samples (2 and 4) but not core itself
    X = np.array([[0.0], [0.1], [0.2], [0.7], [1.2], [1.3], [1.4]])
    ours, _ = _same_dbscan(X, eps=0.55, min_samples=4)
    np.testing.assert_array_equal(ours.labels_, [0, 0, 0, 0, 1, 1, 1])
    ours, _ = _same_dbscan(X[::-1].copy(), eps=0.55, min_samples=4)
    np.testing.assert_array_equal(ours.labels_, [0, 0, 0, 0, 1, 1, 1])


def test_dbscan_all_noise_and_all_one_cluster():
    X, _ = make_blobs(200, 3, random_state=0)
    ours, _ = _same_dbscan(X, eps=1e-3, min_samples=2)
    assert (ours.labels_ == -1).all() and ours.components_.shape == (0, 3)
    ours, _ = _same_dbscan(X, eps=1e6, min_samples=2)
    assert (ours.labels_ == 0).all()


def test_dbscan_threads_give_the_same_result(threads):
    X, _ = make_blobs(5000, 4, centers=8, cluster_std=1.2, random_state=7)
    out = []
    for n in (1, 2, 4):
        ember.set_num_threads(n)
        d = em.DBSCAN(eps=0.6, min_samples=7).fit(X)
        out.append((d.labels_, d.core_sample_indices_))
    for lab, core in out[1:]:
        np.testing.assert_array_equal(lab, out[0][0])
        np.testing.assert_array_equal(core, out[0][1])


def test_dbscan_bad_input():
    X = np.array([[0.0, 1.0], [1.0, np.nan], [2.0, 2.0]])
    with pytest.raises(ValueError, match="eps"):
        em.DBSCAN(eps=0.0).fit(X[[0, 2]])
    with pytest.raises(ValueError, match="eps"):
        em.DBSCAN(eps=-1.0).fit(X[[0, 2]])
    with pytest.raises(ValueError, match="metric"):
        em.DBSCAN(metric="manhattan").fit(X[[0, 2]])
    with pytest.raises(ValueError, match="min_samples"):
        em.DBSCAN(min_samples=0).fit(X[[0, 2]])
    with pytest.raises(ValueError):
        em.DBSCAN().fit(X)  # NaN
    with pytest.raises(ValueError, match=r"X\[1, 1\] is not finite"):
        _C._dbscan(X, None, 0.5, 5.0)
    with pytest.raises(ValueError, match="eps must be > 0"):
        _C._dbscan(X[[0, 2]], None, float("nan"), 5.0)
    with pytest.raises(TypeError, match="float32 or float64"):
        _C._dbscan(np.zeros((3, 2), dtype=np.int32), None, 0.5, 5.0)
    with pytest.raises(ValueError, match="sample_weight"):
        _C._dbscan(X[[0, 2]], np.ones(3), 0.5, 5.0)


# ---- k-means++ -------------------------------------------------------------------------------------

def _potential(X, C, w=None):
    d = ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1).min(1)
    return float(d @ (np.ones(len(X)) if w is None else w))


@pytest.mark.parametrize("k", [5, 30, 120])
def test_kmeans_plusplus_quality_matches_sklearn(k):
    X, _ = make_blobs(3000, 6, centers=40, cluster_std=1.0, random_state=0)
    w = np.ones(len(X))
    ours = [_potential(X, _kmeans_plusplus(X, w, k, ember.Generator(s))) for s in range(8)]
    ref = [_potential(X, skc.kmeans_plusplus(X, k, random_state=s)[0]) for s in range(8)]
    # the same algorithm on different random streams: mean potentials agree within sampling noise
    assert abs(np.mean(ours) / np.mean(ref) - 1) < 0.1, (np.mean(ours), np.mean(ref))
    # and it is greedy k-means++, far better than picking k random rows
    rnd = np.mean([_potential(X, X[np.random.default_rng(s).choice(len(X), k, replace=False)]) for s in range(8)])
    assert np.mean(ours) < 0.9 * rnd


def test_kmeans_plusplus_deterministic_and_thread_independent(threads):
    X, _ = make_blobs(5000, 9, centers=30, random_state=3)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    res = []
    for n in (1, 2, 4):
        ember.set_num_threads(n)
        g = ember.Generator(11)
        res.append((_kmeans_plusplus(X, w, 50, g), g.get_state()))
    for C, state in res[1:]:
        assert C.tobytes() == res[0][0].tobytes() and state == res[0][1]
    assert res[0][1][1] > 0  # the generator moved on
    g = ember.Generator(11)
    g.set_state(res[0][1])
    assert not np.array_equal(_kmeans_plusplus(X, w, 50, g), res[0][0])  # the next draws differ
    C12 = _kmeans_plusplus(X, w, 50, ember.Generator(12))
    assert not np.array_equal(C12, res[0][0])


def test_kmeans_plusplus_centres_are_distinct_rows():
    X, _ = make_blobs(400, 3, centers=4, random_state=1)
    for dt in (np.float64, np.float32):
        Xd = X.astype(dt)
        C, idx, _ = _C._kmeans_plusplus(Xd, None, 25, 0, 5, 0)
        C, idx = np.asarray(C), np.asarray(idx)
        assert C.dtype == dt and len(set(idx.tolist())) == 25
        np.testing.assert_array_equal(C, Xd[idx])


def test_kmeans_plusplus_respects_weights():
    X, _ = make_blobs(600, 2, centers=3, random_state=2)
    w = np.zeros(len(X))
    heavy = np.arange(0, 600, 4)
    w[heavy] = 1.0
    for s in range(5):
        _, idx, _ = _C._kmeans_plusplus(X, w, 20, 0, s, 0)
        assert set(np.asarray(idx).tolist()) <= set(heavy.tolist())  # zero weight: never drawn
    # one point with all the weight but a sliver is the first centre
    w = np.full(len(X), 1e-9)
    w[123] = 1.0
    _, idx, _ = _C._kmeans_plusplus(X, w, 1, 0, 0, 0)
    assert np.asarray(idx)[0] == 123


def test_kmeans_plusplus_duplicates():
    # fewer distinct points than centres: the extra centres repeat points, no error
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]]), 10, axis=0)
    C, idx, _ = _C._kmeans_plusplus(X, None, 5, 0, 3, 0)
    assert {tuple(r) for r in np.asarray(C)[:3]} == {(0.0, 0.0), (1.0, 1.0), (5.0, 5.0)}


def test_kmeans_plusplus_bad_input():
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="n_clusters"):
        _C._kmeans_plusplus(X, None, 21, 0, 0, 0)
    with pytest.raises(ValueError, match=r"X\[2, 1\] is not finite"):
        Xb = X.copy()
        Xb[2, 1] = np.inf
        _C._kmeans_plusplus(Xb, None, 3, 0, 0, 0)
    with pytest.raises(ValueError, match="negative"):
        _C._kmeans_plusplus(X, -np.ones(20), 3, 0, 0, 0)
    with pytest.raises(ValueError, match="sample_weight"):
        _C._kmeans_plusplus(X, np.ones(20, dtype=np.float32), 3, 0, 0, 0)
    with pytest.raises(ValueError, match="offset"):
        _C._kmeans_plusplus(X, None, 3, 0, 0, -1)


@pytest.mark.parametrize("k", [8, 100])
def test_kmeans_fit_inertia_matches_sklearn(k):
    X, _ = make_blobs(4000, 10, centers=60, cluster_std=1.5, random_state=4)
    ours = np.mean([em.KMeans(k, random_state=s, n_init=1).fit(X).inertia_ for s in range(4)])
    ref = np.mean([skc.KMeans(k, random_state=s, n_init=1).fit(X).inertia_ for s in range(4)])
    assert ours <= ref * 1.03, (ours, ref)


def test_kmeans_fit_thread_independent(threads):
    X, _ = make_blobs(6000, 5, centers=20, random_state=9)
    fits = []
    for n in (1, 2, 3):
        ember.set_num_threads(n)
        km = em.KMeans(25, random_state=3).fit(X)
        fits.append((km.cluster_centers_.tobytes(), km.labels_.tobytes(), km.inertia_))
    assert fits[1:] == fits[:1] * 2


def test_kmeans_predict_checks_finite_in_c():
    # predict, transform and score leave the finiteness scan to the C pass, with scikit-learn's messages
    X, _ = make_blobs(500, 4, random_state=0)
    km = em.KMeans(5, random_state=0).fit(X)
    ref = skc.KMeans(5, init=km.cluster_centers_, n_init=1, max_iter=1).fit(X)
    ref.cluster_centers_ = km.cluster_centers_
    np.testing.assert_array_equal(km.predict(X), ref.predict(X))
    for bad, word in ((np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")):
        Xb = X.copy()
        Xb[123, 2] = bad
        for f in (km.predict, km.transform, km.score):
            with pytest.raises(ValueError, match=f"Input X contains {word}"):
                f(Xb)
