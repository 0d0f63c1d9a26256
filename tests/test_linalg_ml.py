"""ember.linalg dense linear algebra (LU, QR, Cholesky, eigh, SVD, lstsq, pinv)
against numpy.linalg: invariant quantities (singular values, eigenvalues,
reconstructions, orthogonality, subspaces), errors and edge cases."""
import numpy as np
import pytest

import ember

L = ember.linalg
SIZES = [1, 2, 3, 7, 17, 64, 200]
DTYPES = [np.float32, np.float64]


def tol(dt, n=1):
    return (2e-4 if dt == np.float32 else 1e-11) * max(n, 1)


def rand(shape, dt, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dt)


def E(a):
    return ember.tensor(a)


def N(t):
    return t.numpy()


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_solve_inv_det(n, dt):
    a = rand((n, n), dt, n) + n * np.eye(n, dtype=dt) * 0.1
    b = rand((n, 3), dt, n + 1)
    x = N(L.solve(E(a), E(b)))
    assert x.dtype == dt
    np.testing.assert_allclose(x, np.linalg.solve(a.astype(np.float64), b), rtol=0, atol=tol(dt, n) * 50 * np.abs(x).max())
    xv = N(L.solve(E(a), E(b[:, 0])))
    np.testing.assert_allclose(xv, x[:, 0], rtol=0, atol=tol(dt, n) * np.abs(x).max())
    ai = N(L.inv(E(a)))
    np.testing.assert_allclose(ai @ a, np.eye(n), atol=tol(dt, n) * 50 * np.abs(ai).max())
    d, ref = N(L.det(E(a))), np.linalg.det(a.astype(np.float64))
    if n <= 17:  # larger ones overflow float32, as NumPy's det does
        assert abs(d - ref) <= tol(dt, n) * 10 * abs(ref)
    sign, logabs = L.slogdet(E(a))
    rs, rl = np.linalg.slogdet(a.astype(np.float64))
    assert N(sign) == rs and abs(N(logabs) - rl) <= tol(dt, n) * 10 * max(1, abs(rl))


def test_solve_batched_broadcast_and_strided():
    a = rand((4, 1, 5, 5), np.float64, 1)
    b = rand((3, 5, 2), np.float64, 2)
    np.testing.assert_allclose(N(L.solve(E(a), E(b))), np.linalg.solve(a, b), atol=1e-10)
    at = E(rand((6, 6), np.float64, 3)).mT  # non-contiguous view
    np.testing.assert_allclose(N(L.inv(at)), np.linalg.inv(N(at)), atol=1e-10)
    stack = rand((2, 3, 4, 4), np.float32, 4)
    np.testing.assert_allclose(N(L.det(E(stack))), np.linalg.det(stack), rtol=1e-4)


def test_singular_errors():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(L.LinAlgError, match="singular"):
        L.solve(E(a), E(np.ones(2)))
    with pytest.raises(ValueError, match="singular"):
        L.inv(E(a))
    assert N(L.det(E(a))) == 0
    s, l = L.slogdet(E(a))
    assert N(s) == 0 and N(l) == -np.inf
    with pytest.raises(L.LinAlgError, match="square"):
        L.inv(E(np.ones((2, 3))))
    with pytest.raises(L.LinAlgError, match="at least 2"):
        L.det(E(np.ones(3)))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_cholesky(n, dt):
    a = rand((n, n), dt, n)
    spd = (a @ a.T + n * np.eye(n)).astype(dt)
    c = N(L.cholesky(E(spd)))
    np.testing.assert_allclose(c, np.linalg.cholesky(spd.astype(np.float64)), atol=tol(dt, n) * np.abs(c).max() * 10)
    assert np.all(np.triu(c, 1) == 0)
    u = N(L.cholesky(E(spd), upper=True))
    np.testing.assert_array_equal(u, c.T)


def test_cholesky_not_pd_and_nan():
    a = np.diag([1.0, 2.0, -1.0, 4.0])
    with pytest.raises(L.LinAlgError, match="order 3"):
        L.cholesky(E(a))
    with pytest.raises(L.LinAlgError, match="positive definite"):
        L.cholesky(E(np.full((3, 3), np.nan)))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (7, 3), (3, 7), (17, 17), (64, 20), (200, 200), (2, 5, 4)])
def test_qr(shape, dt):
    a = rand(shape, dt, 1)
    m, n = shape[-2:]
    k = min(m, n)
    q, r = L.qr(E(a))
    q, r = N(q), N(r)
    assert q.shape == shape[:-2] + (m, k) and r.shape == shape[:-2] + (k, n)
    np.testing.assert_allclose(q @ r, a, atol=tol(dt, max(m, n)))
    np.testing.assert_allclose(q.swapaxes(-1, -2) @ q, np.broadcast_to(np.eye(k), q.shape[:-2] + (k, k)),
                               atol=tol(dt, max(m, n)))
    assert np.all(np.tril(r, -1) == 0)
    # same sign convention as LAPACK, so R matches NumPy's up to rounding
    np.testing.assert_allclose(np.abs(r), np.abs(np.linalg.qr(a.astype(np.float64))[1]), atol=tol(dt, max(m, n)) * 10)
    qc, rc = (N(t) for t in L.qr(E(a), mode="complete"))
    assert qc.shape[-2:] == (m, m) and rc.shape[-2:] == (m, n)
    np.testing.assert_allclose(qc @ rc, a, atol=tol(dt, max(m, n)))
    np.testing.assert_allclose(N(L.qr(E(a), mode="r")), r)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_eigh(n, dt):
    a = rand((n, n), dt, n)
    sym = (a + a.T).astype(dt)
    w, v = (N(t) for t in L.eigh(E(sym)))
    wr = np.linalg.eigvalsh(sym.astype(np.float64))
    scale = max(np.abs(wr).max(), 1)
    np.testing.assert_allclose(w, wr, atol=tol(dt, n) * scale)
    np.testing.assert_allclose(sym @ v, v * w, atol=tol(dt, n) * scale * 5)
    np.testing.assert_allclose(v.T @ v, np.eye(n), atol=tol(dt, n) * 5)
    np.testing.assert_allclose(N(L.eigvalsh(E(sym))), w, atol=tol(dt, n) * scale)


def test_eigh_lower_only_batched_and_degenerate():
    a = rand((3, 5, 5), np.float64, 2)
    sym = a + a.swapaxes(-1, -2)
    junk = np.tril(sym) + np.triu(np.full((5, 5), 9.0), 1)  # upper triangle ignored
    np.testing.assert_allclose(N(L.eigvalsh(E(junk))), np.linalg.eigvalsh(sym), atol=1e-12)
    w, v = (N(t) for t in L.eigh(E(np.eye(4))))
    np.testing.assert_allclose(w, np.ones(4))
    np.testing.assert_allclose(v @ v.T, np.eye(4), atol=1e-15)
    with pytest.raises(L.LinAlgError, match="NaN"):
        L.eigh(E(np.full((3, 3), np.nan)))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 3), (7, 7), (17, 17), (64, 64), (200, 200), (50, 7),
                                   (7, 50), (3, 4, 6)])
def test_svd(shape, dt):
    a = rand(shape, dt, 3)
    m, n = shape[-2:]
    k = min(m, n)
    u, s, vh = (N(t) for t in L.svd(E(a)))
    sr = np.linalg.svd(a.astype(np.float64), compute_uv=False)
    np.testing.assert_allclose(s, sr, atol=tol(dt, max(m, n)) * sr.max())
    assert u.shape[-2:] == (m, m) and vh.shape[-2:] == (n, n)
    np.testing.assert_allclose((u[..., :k] * s[..., None, :]) @ vh[..., :k, :], a, atol=tol(dt, max(m, n)) * 5)
    np.testing.assert_allclose(u.swapaxes(-1, -2) @ u, np.broadcast_to(np.eye(m), u.shape), atol=tol(dt, m) * 5)
    np.testing.assert_allclose(vh @ vh.swapaxes(-1, -2), np.broadcast_to(np.eye(n), vh.shape), atol=tol(dt, n) * 5)
    ur, sr2, vhr = (N(t) for t in L.svd(E(a), full_matrices=False))
    assert ur.shape[-2:] == (m, k) and vhr.shape[-2:] == (k, n)
    np.testing.assert_allclose(N(L.svdvals(E(a))), s, atol=tol(dt, max(m, n)) * sr.max())


def test_svd_rank_deficient_subspaces():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((30, 4)) @ rng.standard_normal((4, 12))  # rank 4
    u, s, vh = (N(t) for t in L.svd(E(a)))
    sr = np.linalg.svd(a, compute_uv=False)
    np.testing.assert_allclose(s, sr, atol=1e-12 * sr[0])
    np.testing.assert_allclose(u.T @ u, np.eye(30), atol=1e-12)
    ur = np.linalg.svd(a)[0][:, :4]  # leading subspace, up to sign/rotation
    np.testing.assert_allclose(np.abs(ur.T @ u[:, :4]) @ np.ones(4) * 0 + np.linalg.svd(ur.T @ u[:, :4])[1], np.ones(4),
                               atol=1e-10)
    z = N(L.svd(E(np.zeros((3, 2))))[0])
    np.testing.assert_allclose(z.T @ z, np.eye(3), atol=1e-15)
    assert N(L.matrix_rank(E(a))) == 4
    with pytest.raises(L.LinAlgError, match="NaN"):
        L.svd(E(np.array([[1.0, np.inf], [0, 1]])))


def test_ill_conditioned():
    n = 10
    hilbert = 1 / (np.arange(n)[:, None] + np.arange(n) + 1.0)
    s = N(L.svdvals(E(hilbert)))
    sr = np.linalg.svd(hilbert, compute_uv=False)
    np.testing.assert_allclose(s, sr, atol=1e-15 * sr[0])
    w = N(L.eigvalsh(E(hilbert)))
    np.testing.assert_allclose(w, np.linalg.eigvalsh(hilbert), atol=1e-15 * sr[0])


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (3, 7), (64, 17), (200, 20), (17, 17)])
def test_lstsq(shape, dt):
    a = rand(shape, dt, 7)
    b = rand((shape[0], 2), dt, 8)
    x, res, rank, s = L.lstsq(E(a), E(b))
    xr, resr, rankr, sr = np.linalg.lstsq(a.astype(np.float64), b.astype(np.float64))
    assert rank == rankr
    np.testing.assert_allclose(N(x), xr, atol=tol(dt, max(shape)) * 10 * max(1, np.abs(xr).max()))
    np.testing.assert_allclose(N(s), sr, atol=tol(dt, max(shape)) * sr.max())
    assert N(res).shape == resr.shape
    np.testing.assert_allclose(N(res), resr, rtol=tol(dt, max(shape)) * 10)
    xv, resv, _, _ = L.lstsq(E(a), E(b[:, 0]))
    np.testing.assert_allclose(N(xv), N(x)[:, 0], atol=tol(dt, max(shape)) * 10)


def test_lstsq_rank_deficient_min_norm():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((20, 3)) @ rng.standard_normal((3, 6))
    b = rng.standard_normal(20)
    x, res, rank, s = L.lstsq(E(a), E(b))
    xr, resr, rankr, _ = np.linalg.lstsq(a, b)
    assert rank == rankr == 3 and N(res).shape == (0,)
    np.testing.assert_allclose(N(x), xr, atol=1e-10)
    x2, _, rank2, _ = L.lstsq(E(a), E(b), rcond=0.9)
    assert rank2 < 3


@pytest.mark.parametrize("shape", [(5, 5), (8, 3), (3, 8), (2, 4, 3)])
def test_pinv(shape):
    a = rand(shape, np.float64, 9)
    np.testing.assert_allclose(N(L.pinv(E(a))), np.linalg.pinv(a), atol=1e-11)
    r = np.random.default_rng(0).standard_normal((6, 2))
    low = r @ r.T  # rank 2
    np.testing.assert_allclose(N(L.pinv(E(low))), np.linalg.pinv(low, rtol=None), atol=1e-10)


def test_matrix_power_and_int_input():
    a = np.array([[1, 2], [3, 4]])
    np.testing.assert_allclose(N(L.matrix_power(E(a.astype(np.float64)), 3)), np.linalg.matrix_power(a, 3))
    np.testing.assert_allclose(N(L.matrix_power(E(a.astype(np.float64)), -2)),
                               np.linalg.matrix_power(a.astype(np.float64), -2), atol=1e-12)
    np.testing.assert_allclose(N(L.matrix_power(E(a.astype(np.float64)), 0)), np.eye(2))
    d = L.det(E(a))  # integers compute in float32
    assert d.dtype == ember.float32 and abs(N(d) + 2) < 1e-5


def test_empty_matrices():
    assert N(L.det(E(np.zeros((0, 0))))) == 1
    assert N(L.inv(E(np.zeros((0, 0))))).shape == (0, 0)
    u, s, vh = (N(t) for t in L.svd(E(np.zeros((0, 3)))))
    assert s.shape == (0,) and u.shape == (0, 0)
    np.testing.assert_allclose(vh, np.eye(3))
