"""ember.ml estimators against scikit-learn on its bundled data sets (iris,
wine, breast_cancer, digits) and synthetic data: deterministic algorithms to
rtol 1e-6 in float64, randomised ones at equal quality."""
import pickle

import numpy as np
import pytest
import sklearn.cluster as skc
import sklearn.naive_bayes as sknb
import sklearn.neighbors as skn
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine, make_blobs

import ember
import ember.ml as em

DATASETS = {name: loader(return_X_y=True) for name, loader in
            [("iris", load_iris), ("wine", load_wine), ("breast_cancer", load_breast_cancer),
             ("digits", load_digits)]}


def split(name):
    X, y = DATASETS[name]
    idx = np.random.default_rng(0).permutation(len(X))
    cut = int(0.7 * len(X))
    return X[idx[:cut]], y[idx[:cut]], X[idx[cut:]], y[idx[cut:]]


@pytest.mark.parametrize("name", list(DATASETS))
def test_gaussian_nb(name):
    Xtr, ytr, Xte, yte = split(name)
    ours, ref = em.GaussianNB().fit(Xtr, ytr), sknb.GaussianNB().fit(Xtr, ytr)
    np.testing.assert_allclose(ours.theta_, ref.theta_, rtol=1e-9)
    np.testing.assert_allclose(ours.var_, ref.var_, rtol=1e-6)
    np.testing.assert_allclose(ours.class_prior_, ref.class_prior_, rtol=1e-12)
    np.testing.assert_allclose(ours.predict_log_proba(Xte), ref.predict_log_proba(Xte), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(ours.predict(Xte), ref.predict(Xte))


@pytest.mark.parametrize("cls", ["MultinomialNB", "BernoulliNB"])
@pytest.mark.parametrize("kw", [{}, {"alpha": 0.3}, {"fit_prior": False}])
def test_discrete_nb_on_digits(cls, kw):
    Xtr, ytr, Xte, yte = split("digits")
    ours, ref = getattr(em, cls)(**kw).fit(Xtr, ytr), getattr(sknb, cls)(**kw).fit(Xtr, ytr)
    np.testing.assert_allclose(ours.feature_log_prob_, ref.feature_log_prob_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(Xte), ref.predict_proba(Xte), rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(Xte), ref.predict(Xte))
    assert ours.score(Xte, yte) == ref.score(Xte, yte)


@pytest.mark.parametrize("cls", ["GaussianNB", "MultinomialNB", "BernoulliNB"])
def test_nb_partial_fit(cls):
    Xtr, ytr, Xte, _ = split("digits")
    chunks = np.array_split(np.arange(len(Xtr)), 5)
    part, ref = getattr(em, cls)(), getattr(sknb, cls)()
    for chunk in chunks:
        part.partial_fit(Xtr[chunk], ytr[chunk], classes=np.arange(10))
        ref.partial_fit(Xtr[chunk], ytr[chunk], classes=np.arange(10))
    np.testing.assert_array_equal(part.predict(Xte), ref.predict(Xte))
    if cls != "GaussianNB":  # (Gaussian: each batch brings its own variance smoothing)
        full = getattr(em, cls)().fit(Xtr, ytr)
        np.testing.assert_allclose(part.predict_proba(Xte), full.predict_proba(Xte), rtol=1e-9, atol=1e-12)
    else:
        np.testing.assert_allclose(part.theta_, ref.theta_, rtol=1e-9, atol=1e-12)


def test_nb_errors():
    with pytest.raises(ValueError, match="Negative values in data passed to MultinomialNB"):
        em.MultinomialNB().fit([[-1.0, 2.0], [1.0, 0.0]], [0, 1])
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        em.GaussianNB().partial_fit([[1.0]], [0])
    nb = em.GaussianNB().partial_fit([[1.0], [2.0]], [0, 1], classes=[0, 1])
    with pytest.raises(ValueError, match=r"The target label\(s\) \[7\] in y do not exist"):
        nb.partial_fit([[1.0]], [7])
    with pytest.raises(ValueError, match="The sum of the priors should be 1"):
        em.GaussianNB(priors=[0.5, 0.6]).fit([[1.0], [2.0]], [0, 1])


@pytest.mark.parametrize("name", ["wine", "breast_cancer"])  # (iris: most rows tie at the k-th distance)
@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("p", [1, 2])
def test_knn_classifier(name, weights, p):
    Xtr, ytr, Xte, _ = split(name)
    ours = em.KNeighborsClassifier(5, weights=weights, p=p).fit(Xtr, ytr)
    ref = skn.KNeighborsClassifier(5, weights=weights, p=p).fit(Xtr, ytr)
    d1, i1 = ours.kneighbors(Xte)
    d2, i2 = ref.kneighbors(Xte)
    np.testing.assert_allclose(d1, d2, rtol=1e-9)
    # Several training points may tie at the k-th distance (iris has duplicates,
    # wine integer features): which of them is taken is arbitrary, so the sets
    # must agree below the k-th distance and the predictions off such ties.
    kth = d2[:, -1:]
    # (scikit-learn ranks by GEMM distances, exact only to rounding: hence 1e-6)
    tie = (np.abs(d1 - kth) <= 1e-6 * kth).sum(axis=1) > 1
    for r in range(len(Xte)):
        assert set(i1[r][d1[r] < kth[r] * (1 - 1e-6)]) == set(i2[r][d2[r] < kth[r] * (1 - 1e-6)])
    np.testing.assert_allclose(ours.predict_proba(Xte)[~tie], ref.predict_proba(Xte)[~tie], rtol=1e-9)
    np.testing.assert_array_equal(ours.predict(Xte)[~tie], ref.predict(Xte)[~tie])
    assert (~tie).sum() > len(Xte) // 2


def test_knn_regressor_and_self_query():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    Y = np.column_stack([X[:, 0] ** 2, X.sum(axis=1)])
    for weights in ("uniform", "distance"):
        ours = em.KNeighborsRegressor(4, weights=weights).fit(X, Y)
        ref = skn.KNeighborsRegressor(4, weights=weights).fit(X, Y)
        np.testing.assert_allclose(ours.predict(X[:50] + 0.01), ref.predict(X[:50] + 0.01), rtol=1e-9)
    d1, i1 = em.KNeighborsRegressor(3).fit(X, Y[:, 0]).kneighbors()
    d2, i2 = skn.KNeighborsRegressor(3).fit(X, Y[:, 0]).kneighbors()
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(d1, d2, rtol=1e-9)


def test_knn_tensor_io_pickle_and_errors():
    Xtr, ytr, Xte, _ = split("iris")
    knn = em.KNeighborsClassifier(3).fit(ember.asarray(Xtr), ytr)
    out = knn.predict(ember.asarray(Xte))
    assert isinstance(out, ember.Tensor)
    again = pickle.loads(pickle.dumps(knn))
    np.testing.assert_array_equal(again.predict(Xte), np.asarray(out))
    with pytest.raises(ValueError, match="algorithm='ball_tree' is not available in ember"):
        em.KNeighborsClassifier(algorithm="ball_tree").fit(Xtr, ytr)
    with pytest.raises(ValueError, match="Expected n_neighbors <= n_samples_fit"):
        em.KNeighborsClassifier(200).fit(Xtr, ytr).predict(Xte)


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_kmeans_quality_matches_sklearn(init):
    X, _ = make_blobs(2000, 6, centers=5, cluster_std=2.0, random_state=1)
    ours = em.KMeans(5, init=init, n_init=3, random_state=0).fit(X)
    ref = skc.KMeans(5, init=init, n_init=3, random_state=0).fit(X)
    assert ours.inertia_ <= ref.inertia_ * 1.01
    # inertia_ is what it says: the squared distances to the final centres
    d = ((X[:, None, :] - ours.cluster_centers_[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(ours.labels_, d.argmin(axis=1))
    assert ours.inertia_ == pytest.approx(d.min(axis=1).sum(), rel=1e-9)
    np.testing.assert_array_equal(ours.predict(X), ours.labels_)
    np.testing.assert_allclose(ours.transform(X[:5]), np.sqrt(d[:5]), rtol=1e-6)
    assert ours.score(X) == pytest.approx(-ours.inertia_, rel=1e-9)


def _kmeans_cases():
    blobs, _ = make_blobs(3000, 5, centers=6, cluster_std=1.5, random_state=2)
    iris = DATASETS["iris"][0]
    cancer = DATASETS["breast_cancer"][0]
    cancer = (cancer - cancer.mean(axis=0)) / cancer.std(axis=0)
    return {"blobs": (blobs, 6), "iris": (iris, 3), "breast_cancer": (cancer, 4), "digits": (DATASETS["digits"][0], 10)}


KMEANS_CASES = _kmeans_cases()


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
@pytest.mark.parametrize("name", list(KMEANS_CASES))
@pytest.mark.parametrize("weighted", [False, True])
def test_kmeans_given_centres_matches_sklearn(algorithm, name, weighted):
    """Same starting centres: scikit-learn's labels, centres, inertia and iterations."""
    X, k = KMEANS_CASES[name]
    init = X[np.random.default_rng(5).choice(len(X), k, replace=False)]
    w = np.random.default_rng(6).uniform(0.2, 3.0, len(X)) if weighted else None
    kw = {"init": init, "n_init": 1, "algorithm": algorithm, "tol": 1e-6}
    ours = em.KMeans(k, **kw).fit(X, sample_weight=w)
    ref = skc.KMeans(k, **kw).fit(X, sample_weight=w)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-6, atol=1e-9)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-9)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    assert ours.score(X, sample_weight=w) == pytest.approx(ref.score(X, sample_weight=w), rel=1e-9)
    np.testing.assert_allclose(ours.transform(X[:50]), ref.transform(X[:50]), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
def test_kmeans_float32_and_tol_and_max_iter(algorithm):
    X, _ = make_blobs(2000, 4, centers=5, random_state=3)
    X32 = X.astype(np.float32)
    init = X32[:5].copy()
    ours = em.KMeans(5, init=init, n_init=1, algorithm=algorithm).fit(X32)
    ref = skc.KMeans(5, init=init, n_init=1, algorithm=algorithm).fit(X32)
    assert ours.cluster_centers_.dtype == np.float32
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-4, atol=1e-4)
    assert ours.predict(X32).tolist() == ref.predict(X32).tolist()
    # a loose tol and a small max_iter stop where scikit-learn's do
    for kw in ({"tol": 1e-1}, {"max_iter": 2}):
        ours = em.KMeans(5, init=X[:5], n_init=1, algorithm=algorithm, **kw).fit(X)
        ref = skc.KMeans(5, init=X[:5], n_init=1, algorithm=algorithm, **kw).fit(X)
        assert ours.n_iter_ == ref.n_iter_
        np.testing.assert_array_equal(ours.labels_, ref.labels_)
        np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-9)


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
def test_kmeans_empty_cluster_is_relocated_like_sklearn(algorithm):
    X, _ = make_blobs(400, 2, centers=3, random_state=0)
    # a starting centre far from every sample gets none in the first assignment
    init = np.vstack([X[:3], [[1e3, 1e3]]])
    ours = em.KMeans(4, init=init, n_init=1, algorithm=algorithm).fit(X)
    ref = skc.KMeans(4, init=init, n_init=1, algorithm=algorithm).fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-9)
    assert len(np.unique(ours.labels_)) == 4


def test_kmeans_same_result_for_any_thread_count():
    X, _ = make_blobs(20000, 8, centers=7, cluster_std=3.0, random_state=4)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    before = ember.get_num_threads()
    fits = []
    try:
        for threads in (1, 3):
            ember.set_num_threads(threads)
            for algorithm in ("lloyd", "elkan"):
                km = em.KMeans(7, random_state=0, algorithm=algorithm).fit(X, sample_weight=w)
                fits.append((km.cluster_centers_, km.labels_, km.inertia_, km.predict(X), km.transform(X[:100])))
    finally:
        ember.set_num_threads(before)
    for a, b in [(fits[0], fits[2]), (fits[1], fits[3])]:  # same algorithm, 1 vs 3 threads: the same bits
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    # Elkan's iterates are Lloyd's
    np.testing.assert_array_equal(fits[0][1], fits[1][1])
    np.testing.assert_allclose(fits[0][0], fits[1][0], rtol=1e-12)


def test_kmeans_reproducible_and_errors():
    X, _ = make_blobs(300, 2, centers=3, random_state=0)
    a = em.KMeans(3, random_state=7).fit(X)
    b = em.KMeans(3, random_state=7).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    with pytest.raises(ValueError, match="algorithm='auto' is not available; use 'lloyd' or 'elkan'"):
        em.KMeans(3, algorithm="auto").fit(X)
    with pytest.raises(ValueError, match="n_samples=2 should be >= n_clusters=3"):
        em.KMeans(3).fit(X[:2])
    with pytest.raises(ValueError, match="max_iter should be a positive int"):
        em.KMeans(3, max_iter=0).fit(X)
    with pytest.raises(ValueError, match=r"The shape of the initial centers \(2, 2\)"):
        em.KMeans(3, init=X[:2], n_init=1).fit(X)
    # the C layer names what is wrong on its own
    from ember import _C
    bad = X.copy()
    bad[17, 1] = np.nan
    with pytest.raises(ValueError, match=r"kmeans_fit: X\[17, 1\] is not finite"):
        _C._kmeans_fit(bad, None, X[:3].copy(), False, 10, 0.0)
    with pytest.raises(ValueError, match=r"kmeans_predict: X\[17, 1\] is not finite"):
        _C._kmeans_predict(bad, X[:3].copy(), False)
    with pytest.raises(ValueError, match="kmeans_fit: need 1 <= n_clusters <= n_samples"):
        _C._kmeans_fit(X[:2].copy(), None, X[:3].copy(), True, 10, 0.0)
    with pytest.raises(TypeError, match="kmeans_fit: init must be a C-contiguous 2-d float64 tensor"):
        _C._kmeans_fit(X, None, X[:3].astype(np.float32), False, 10, 0.0)


def test_minibatch_kmeans_quality():
    X, _ = make_blobs(5000, 4, centers=6, random_state=3)
    ours = em.MiniBatchKMeans(6, random_state=0, n_init=3).fit(X)
    ref = skc.MiniBatchKMeans(6, random_state=0, n_init=3).fit(X)
    assert ours.inertia_ <= ref.inertia_ * 1.01
    stream = em.MiniBatchKMeans(6, random_state=0)
    for chunk in np.array_split(X, 20):
        stream.partial_fit(chunk)
    best = em.KMeans(6, random_state=0, n_init=3).fit(X).inertia_
    assert -stream.score(X) <= best * 1.05


@pytest.mark.parametrize("eps, min_samples", [(0.3, 5), (0.8, 10), (1.5, 3)])
def test_dbscan_matches_sklearn(eps, min_samples):
    X, _ = make_blobs(600, 2, centers=4, cluster_std=0.6, random_state=4)
    ours = em.DBSCAN(eps=eps, min_samples=min_samples).fit(X)
    ref = skc.DBSCAN(eps=eps, min_samples=min_samples).fit(X)
    np.testing.assert_array_equal(ours.core_sample_indices_, ref.core_sample_indices_)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_array_equal(ours.components_, ref.components_)


# ---- trees and forests --------------------------------------------------------------------------

import sklearn.ensemble as ske  # noqa: E402
import sklearn.tree as skt  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits"])
@pytest.mark.parametrize("criterion", ["gini", "entropy"])
def test_decision_tree_classifier_matches_sklearn(name, criterion):
    Xtr, ytr, Xte, yte = split(name)
    ours = em.DecisionTreeClassifier(criterion=criterion, max_depth=6, min_samples_leaf=2).fit(Xtr, ytr)
    ref = skt.DecisionTreeClassifier(criterion=criterion, max_depth=6, min_samples_leaf=2, random_state=0)
    ref.fit(Xtr, ytr)
    # Same algorithm; features whose best splits tie exactly may be visited in
    # another random order, so the trees may differ there — rarely.
    assert abs(ours.tree_.node_count - ref.tree_.node_count) <= 0.1 * ref.tree_.node_count + 2
    assert abs(ours.score(Xte, yte) - ref.score(Xte, yte)) <= 0.05
    assert ours.get_depth() <= 6
    if name != "iris":  # (iris: petal length and width split the root equally well)
        assert ours.tree_.feature[0] == ref.tree_.feature[0]
        assert ours.tree_.threshold[0] == ref.tree_.threshold[0]
    np.testing.assert_allclose(ours.tree_.impurity[0], ref.tree_.impurity[0], rtol=1e-12)
    proba = ours.predict_proba(Xte)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(ours.classes_[proba.argmax(axis=1)], ours.predict(Xte))


def test_decision_tree_regressor_matches_sklearn():
    X, y = load_diabetes(return_X_y=True)
    for kw in ({"max_depth": 4}, {"min_samples_leaf": 20}, {"min_impurity_decrease": 50.0}):
        ours = em.DecisionTreeRegressor(**kw).fit(X, y)
        ref = skt.DecisionTreeRegressor(random_state=0, **kw).fit(X, y)
        # Same tree shape, node values and partitions; where two features split a
        # node's samples identically, which one is recorded is a free choice.
        # (mirrored too: one may send to the left what the other sends right)
        assert ours.tree_.node_count == ref.tree_.node_count
        assert ours.tree_.feature[0] == ref.tree_.feature[0] and ours.tree_.threshold[0] == ref.tree_.threshold[0]
        np.testing.assert_allclose(np.sort(ours.tree_.value[:, 0, 0]), np.sort(ref.tree_.value[:, 0, 0]), rtol=1e-9)
        np.testing.assert_allclose(np.sort(ours.tree_.impurity), np.sort(ref.tree_.impurity), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-9)


def test_decision_tree_sample_weight_and_errors():
    Xtr, ytr, Xte, _ = split("wine")
    w = np.random.default_rng(0).integers(0, 3, len(Xtr)).astype(float)
    a = em.DecisionTreeClassifier(max_depth=3).fit(Xtr, ytr, sample_weight=w)
    b = em.DecisionTreeClassifier(max_depth=3).fit(np.repeat(Xtr, w.astype(int), axis=0),
                                                   np.repeat(ytr, w.astype(int)))
    np.testing.assert_array_equal(a.predict(Xte), b.predict(Xte))
    with pytest.raises(ValueError, match="ccp_alpha .* is not implemented in ember"):
        em.DecisionTreeClassifier(ccp_alpha=0.1).fit(Xtr, ytr)
    with pytest.raises(ValueError, match="criterion must be one of"):
        em.DecisionTreeRegressor(criterion="gini").fit(Xtr, ytr)
    with pytest.raises(ValueError, match="max_features must be in"):
        em.DecisionTreeClassifier(max_features=99).fit(Xtr, ytr)
    with pytest.raises(ValueError, match="X has 2 features, but DecisionTreeClassifier is expecting 13"):
        a.predict(Xte[:, :2])


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits"])
def test_random_forest_classifier_quality(name):
    Xtr, ytr, Xte, yte = split(name)
    ours = em.RandomForestClassifier(100, random_state=0).fit(Xtr, ytr)
    ref = ske.RandomForestClassifier(100, random_state=0).fit(Xtr, ytr)
    assert ours.score(Xte, yte) >= ref.score(Xte, yte) - 0.01 - 1.0 / len(yte)  # within 1 point
    assert len(ours.estimators_) == 100 and ours.feature_importances_.sum() == pytest.approx(1.0)
    again = em.RandomForestClassifier(100, random_state=0).fit(Xtr, ytr)
    np.testing.assert_array_equal(ours.predict_proba(Xte), again.predict_proba(Xte))


def test_random_forest_regressor_quality_and_threads():
    X, y = load_diabetes(return_X_y=True)
    idx = np.random.default_rng(1).permutation(len(X))
    tr, te = idx[:330], idx[330:]
    ours = em.RandomForestRegressor(60, random_state=3).fit(X[tr], y[tr])
    ref = ske.RandomForestRegressor(60, random_state=3).fit(X[tr], y[tr])
    assert ours.score(X[te], y[te]) >= ref.score(X[te], y[te]) - 0.03
    before = ember.get_num_threads() if hasattr(ember, "get_num_threads") else None
    preds = []
    for n in (1, 2, 3):
        if before is not None:
            ember.set_num_threads(n)
        preds.append(em.RandomForestRegressor(20, random_state=5).fit(X[tr], y[tr]).predict(X[te]))
    if before is not None:
        ember.set_num_threads(0)
    np.testing.assert_array_equal(preds[0], preds[1])
    np.testing.assert_array_equal(preds[0], preds[2])


# ---- PCA ----------------------------------------------------------------------------------------

import sklearn.decomposition as skd  # noqa: E402


@pytest.mark.parametrize("kw", [{"n_components": 10}, {"n_components": 0.9}, {"n_components": 5, "whiten": True}])
@pytest.mark.parametrize("name", ["digits", "wine"])
def test_pca_matches_sklearn(kw, name):
    X, _ = DATASETS[name]
    ours, ref = em.PCA(**kw).fit(X), skd.PCA(svd_solver="full", **kw).fit(X)
    assert ours.n_components_ == ref.n_components_
    np.testing.assert_allclose(ours.components_, ref.components_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-9)
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-9)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.fit_transform(X), ref.transform(X), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(X)), ref.inverse_transform(ref.transform(X)),
                               rtol=1e-6, atol=1e-8)
    assert ours.noise_variance_ == pytest.approx(ref.noise_variance_, rel=1e-9, abs=1e-12)
    with pytest.raises(ValueError, match="svd_solver='arpack' is not implemented in ember"):
        em.PCA(svd_solver="arpack").fit(X)
