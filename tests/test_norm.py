"""softmax / log_softmax / layer_norm / batch_norm / group_norm
(ember.nn.functional) and their backward kernels (ember._C._*_backward)
against PyTorch: forward values, gradients from torch.autograd, running
statistics, eval mode and errors."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import _C

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = {"float32": (np.float32, torch.float32, 1e-4), "float64": (np.float64, torch.float64, 1e-6)}
LENGTHS = [1, 3, 7, 17, 255, 257, 1000]


def close(got, want, rtol, floor=0.0):
    """got (ember tensor) equals want (torch tensor) to rtol, relative to the
    largest |want| or floor (gradients are differences of nearly equal terms)."""
    want = want.detach().numpy()
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = max(np.max(np.abs(want), initial=0.0), floor)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale + 1e-30)


def pair(shape, dtype, seed, scale=1.0, shift=0.0):
    a = (np.random.default_rng(seed).standard_normal(shape) * scale + shift).astype(DTYPES[dtype][0])
    return ember.asarray(a.copy()), torch.tensor(a, requires_grad=True)


@pytest.fixture(autouse=True)
def one_torch_thread():
    torch.set_num_threads(1)


# ---- softmax / log_softmax -----------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_rows_forward_and_backward(dtype, n, log):
    rtol = DTYPES[dtype][2]
    x, xt = pair((5, n), dtype, n, scale=4)
    g, gt = pair((5, n), dtype, n + 1)
    fe, ft = (F.log_softmax, TF.log_softmax) if log else (F.softmax, TF.softmax)
    bwd = _C._log_softmax_backward if log else _C._softmax_backward
    yt = ft(xt, dim=1)
    y = fe(x, 1)
    close(y, yt, rtol)
    (gx_t,) = torch.autograd.grad(yt, xt, gt)
    close(bwd(g, y, 1), gx_t, rtol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_softmax_any_axis_strided(dtype, log, dim):
    rtol = DTYPES[dtype][2]
    x, xt = pair((6, 300, 4), dtype, 7, scale=3)
    g, gt = pair((6, 4, 300), dtype, 8)
    # non-contiguous input: a transposed view
    x, xt_view = x.transpose(1, 2), xt.transpose(1, 2)
    fe, ft = (F.log_softmax, TF.log_softmax) if log else (F.softmax, TF.softmax)
    bwd = _C._log_softmax_backward if log else _C._softmax_backward
    yt = ft(xt_view, dim=dim)
    y = fe(x, dim)
    close(y, yt, rtol)
    (gx_t,) = torch.autograd.grad(yt, xt_view, gt)
    close(bwd(g, y, dim), gx_t.contiguous(), rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_extreme_logits(dtype):
    npt = DTYPES[dtype][0]
    a = np.array([[1e4, 1e4 - 1, -1e4], [0, -np.inf, 1], [-np.inf] * 3, [np.nan, 1, 2]], dtype=npt)
    for fe, ft in ((F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)):
        want = ft(torch.tensor(a), dim=1).numpy()
        got = np.asarray(fe(ember.asarray(a), 1))
        np.testing.assert_allclose(got[:2], want[:2], rtol=DTYPES[dtype][2])
        assert np.isnan(got[2:]).all() and np.isnan(want[2:]).all()


def test_softmax_dtype_and_implicit_dim():
    a = np.arange(6.0).reshape(2, 3)
    y = F.softmax(ember.asarray(a), 1, dtype=ember.float32)
    assert y.dtype == ember.float32
    with pytest.warns(UserWarning):
        y = F.log_softmax(ember.asarray(a))  # 2-d: dim 1, as torch
    close(y, TF.log_softmax(torch.tensor(a), dim=1), 1e-12)
    with pytest.raises(IndexError):
        F.softmax(ember.asarray(a), 2)


# ---- layer norm ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", LENGTHS)
def test_layer_norm_forward_and_backward(dtype, n):
    rtol = DTYPES[dtype][2]
    x, xt = pair((4, n), dtype, n, scale=2, shift=3)
    w, wt = pair((n,), dtype, n + 1, shift=1)
    b, bt = pair((n,), dtype, n + 2)
    g, gt = pair((4, n), dtype, n + 3)
    yt = TF.layer_norm(xt, (n,), wt, bt, 1e-5)
    close(F.layer_norm(x, (n,), w, b, 1e-5), yt, rtol)
    y, mean, rstd = _C._layer_norm(x, (n,), w, b, 1e-5)
    close(y, yt, rtol)
    gx_t, gw_t, gb_t = torch.autograd.grad(yt, (xt, wt, bt), gt)
    gx, gw, gb = _C._layer_norm_backward(g, x, (n,), mean, rstd, w)
    # n = 1: the exact gradient is 0, torch's is rounding noise of size |g w| rstd
    floor = float(np.max(np.asarray(rstd))) * float((gt * wt).abs().max().detach())
    close(gx, gx_t, rtol * 10, floor)
    close(gw, gw_t, rtol, float(gt.abs().sum(0).max().detach()))
    close(gb, gb_t, rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_trailing_dims_no_affine_strided(dtype):
    rtol = DTYPES[dtype][2]
    x, xt = pair((5, 6, 7), dtype, 3)
    x, xt = x.transpose(0, 2), xt.transpose(0, 2)  # (7, 6, 5), strided
    yt = TF.layer_norm(xt, (6, 5))
    y, mean, rstd = _C._layer_norm(x, (6, 5))
    close(y, yt, rtol)
    assert tuple(mean.shape) == (7, 1, 1)
    np.testing.assert_allclose(np.asarray(mean).ravel(), xt.detach().numpy().mean(axis=(1, 2)), rtol=rtol, atol=rtol)
    g, gt = pair((7, 6, 5), dtype, 4)
    (gx_t,) = torch.autograd.grad(yt, xt, gt)
    gx, gw, gb = _C._layer_norm_backward(g, x, (6, 5), mean, rstd)
    close(gx, gx_t.contiguous(), rtol * 10)
    assert gw is None
    close(gb, gt.sum(0), rtol)


# ---- batch norm ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 17), (2, 5, 7, 9), (3, 2, 3000)])
def test_batch_norm_training(dtype, shape):
    rtol = DTYPES[dtype][2]
    c = shape[1]
    x, xt = pair(shape, dtype, 1, scale=2, shift=1)
    w, wt = pair((c,), dtype, 2, shift=1)
    b, bt = pair((c,), dtype, 3)
    g, gt = pair(shape, dtype, 4)
    npt = DTYPES[dtype][0]
    rm, rv = ember.asarray(np.full(c, 0.5, npt)), ember.asarray(np.full(c, 2.0, npt))
    rmt, rvt = torch.full((c,), 0.5, dtype=DTYPES[dtype][1]), torch.full((c,), 2.0, dtype=DTYPES[dtype][1])
    yt = TF.batch_norm(xt, rmt, rvt, wt, bt, training=True, momentum=0.3, eps=1e-4)
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.3, eps=1e-4)
    close(y, yt, rtol)
    close(rm, rmt, rtol)
    close(rv, rvt, rtol)
    _, mean, rstd = _C._batch_norm(x, None, None, w, b, True, 0.3, 1e-4)
    gx_t, gw_t, gb_t = torch.autograd.grad(yt, (xt, wt, bt), gt)
    gx, gw, gb = _C._batch_norm_backward(g, x, w, mean, rstd, True)
    close(gx, gx_t, rtol * 10)
    close(gw, gw_t, rtol)
    close(gb, gb_t, rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_eval(dtype):
    rtol = DTYPES[dtype][2]
    x, xt = pair((4, 3, 5), dtype, 5)
    w, wt = pair((3,), dtype, 6)
    g, gt = pair((4, 3, 5), dtype, 7)
    npt = DTYPES[dtype][0]
    rm_np, rv_np = np.array([0.1, -0.2, 0.3], npt), np.array([0.5, 1.5, 2.0], npt)
    rm, rv = ember.asarray(rm_np.copy()), ember.asarray(rv_np.copy())
    yt = TF.batch_norm(xt, torch.tensor(rm_np), torch.tensor(rv_np), wt, None, training=False)
    y, mean, rstd = _C._batch_norm(x, rm, rv, w, None, False)
    close(y, yt, rtol)
    close(F.batch_norm(x, rm, rv, w), yt, rtol)
    np.testing.assert_array_equal(np.asarray(rm), rm_np)  # eval leaves them alone
    np.testing.assert_array_equal(np.asarray(rv), rv_np)
    gx_t, gw_t = torch.autograd.grad(yt, (xt, wt), gt)
    gx, gw, gb = _C._batch_norm_backward(g, x, w, mean, rstd, False)
    close(gx, gx_t, rtol)
    close(gw, gw_t, rtol)


def test_batch_norm_running_stats_over_steps():
    # several training steps, no affine, no running stats on one side
    x, xt = pair((6, 2, 4), "float64", 9)
    rm, rv = ember.zeros(2, dtype=ember.float64), ember.ones(2, dtype=ember.float64)
    rmt, rvt = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    for _ in range(3):
        F.batch_norm(x, rm, rv, training=True)
        TF.batch_norm(xt.detach(), rmt, rvt, training=True)
    close(rm, rmt, 1e-12)
    close(rv, rvt, 1e-12)
    close(F.batch_norm(x, None, None, training=True), TF.batch_norm(xt, None, None, training=True), 1e-6)


# ---- group norm ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,groups", [((2, 6, 7), 3), ((3, 4, 5, 5), 2), ((2, 4, 17), 4), ((1, 2, 257), 1),
                                          ((4, 6), 3)])
def test_group_norm(dtype, shape, groups):
    rtol = DTYPES[dtype][2]
    c = shape[1]
    x, xt = pair(shape, dtype, 11, scale=2, shift=-1)
    w, wt = pair((c,), dtype, 12, shift=1)
    b, bt = pair((c,), dtype, 13)
    g, gt = pair(shape, dtype, 14)
    yt = TF.group_norm(xt, groups, wt, bt, 1e-5)
    close(F.group_norm(x, groups, w, b), yt, rtol)
    _, mean, rstd = _C._group_norm(x, groups, w, b, 1e-5)
    assert tuple(mean.shape) == (shape[0], groups)
    gx_t, gw_t, gb_t = torch.autograd.grad(yt, (xt, wt, bt), gt)
    gx, gw, gb = _C._group_norm_backward(g, x, groups, mean, rstd, w)
    # groups of 2 values: the exact gradient is ~0 and torch's is rounding noise of size |g w| rstd
    floor = float(np.max(np.asarray(rstd))) * float(gt.detach().abs().max()) * float(wt.detach().abs().max())
    close(gx, gx_t, rtol * 10, floor)
    close(gw, gw_t, rtol)
    close(gb, gb_t, rtol)


# ---- threads and errors --------------------------------------------------------------------

def test_same_bits_for_any_thread_count():
    x, _ = pair((6, 3, 700), "float32", 21)
    before = ember.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            ember.set_num_threads(n)
            results.append([np.asarray(t).copy() for t in (
                F.softmax(x, 2), F.log_softmax(x, 0), F.layer_norm(x, (700,)),
                F.batch_norm(x, None, None, training=True), F.group_norm(x, 3))])
    finally:
        ember.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_same_bits_for_any_thread_count_large():
    # big enough that every kernel is cut between threads: rows of softmax
    # and layer norm, (channel, chunk) items and planes of batch norm,
    # groups of group norm, and the backward kernels
    x, _ = pair((96, 2050), "float32", 31, scale=3)
    g, _ = pair((96, 2050), "float32", 32)
    x4, _ = pair((16, 8, 40, 41), "float32", 33)
    g4, _ = pair((16, 8, 40, 41), "float32", 34)
    w, _ = pair((2050,), "float32", 35, shift=1)
    wc, _ = pair((8,), "float32", 36, shift=1)
    before = ember.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            ember.set_num_threads(n)
            y = F.softmax(x, 1)
            ly = F.log_softmax(x, 1)
            ln, mean, rstd = _C._layer_norm(x, (2050,), w, w, 1e-5)
            bn, bm, br = _C._batch_norm(x4, None, None, wc, wc, True, 0.1, 1e-5)
            gn, gm, gr = _C._group_norm(x4, 4, wc, wc, 1e-5)
            outs = [y, ly, ln, mean, rstd, bn, bm, br, gn, gm, gr, F.softmax(x4, 1),
                    _C._softmax_backward(g, y, 1), _C._log_softmax_backward(g, ly, 1),
                    *_C._layer_norm_backward(g, x, (2050,), mean, rstd, w),
                    *_C._batch_norm_backward(g4, x4, wc, bm, br, True),
                    *_C._group_norm_backward(g4, x4, 4, gm, gr, wc)]
            results.append([np.asarray(t).copy() for t in outs])
    finally:
        ember.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_affine_with_weight_or_bias_alone(dtype):
    # each of weight only / bias only / neither takes its own loop
    rtol = DTYPES[dtype][2]
    x, xt = pair((6, 4, 33), dtype, 41, scale=2, shift=1)
    w, wt = pair((4,), dtype, 42, shift=1)
    b, bt = pair((4,), dtype, 43)
    wl, wlt = pair((33,), dtype, 44, shift=1)
    bl, blt = pair((33,), dtype, 45)
    g, gt = pair((6, 4, 33), dtype, 46)
    for we, wte, be, bte in ((w, wt, None, None), (None, None, b, bt), (None, None, None, None)):
        close(F.batch_norm(x, None, None, we, be, training=True), TF.batch_norm(xt, None, None, wte, bte, training=True), rtol)
        close(F.group_norm(x, 2, we, be), TF.group_norm(xt, 2, wte, bte), rtol)
    for we, wte, be, bte in ((wl, wlt, None, None), (None, None, bl, blt)):
        yt = TF.layer_norm(xt, (33,), wte, bte)
        y, mean, rstd = _C._layer_norm(x, (33,), we, be, 1e-5)
        close(y, yt, rtol)
        (gx_t,) = torch.autograd.grad(yt, xt, gt)
        close(_C._layer_norm_backward(g, x, (33,), mean, rstd, we)[0], gx_t, rtol * 10)
    # no bias: an exactly-zero normalised value keeps its sign, as in torch
    z = np.zeros((2, 4), DTYPES[dtype][0])
    z[:, 1] = 1
    z[:, 3] = -1
    zt = torch.tensor(z)
    ye, yt = np.asarray(F.layer_norm(ember.asarray(z), (4,))), TF.layer_norm(zt, (4,)).numpy()
    np.testing.assert_array_equal(np.signbit(ye), np.signbit(yt))


@pytest.mark.parametrize("n", [1, 15, 16, 17, 1000, 4099])
def test_softmax_fused_pass_matches_torch(n):
    # the float32 row pass (e^(x - m) and its sum at once) on lengths around
    # its 16-element steps, with -inf, huge and tiny logits mixed in
    a = (np.random.default_rng(n).standard_normal((3, n)) * 30).astype(np.float32)
    a[1, 1:: max(1, n // 5)] = -np.inf  # never the whole row: that is NaN on both sides
    a[2, 0] = 80.0
    if n > 1:
        a[2, -1] = -120.0
    t = torch.tensor(a)
    close(F.softmax(ember.asarray(a), 1), TF.softmax(t, 1), 1e-5)
    got, want = np.asarray(F.log_softmax(ember.asarray(a), 1)), TF.log_softmax(t, 1).numpy()
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isfinite(got), finite)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5, atol=1e-4)


def test_errors_name_the_problem():
    x = ember.zeros((2, 4, 3))
    with pytest.raises(ValueError, match=r"normalized_shape \(4,\)"):
        F.layer_norm(x, (4,))
    with pytest.raises(ValueError, match="weight"):
        F.layer_norm(x, (3,), weight=ember.ones(4))
    with pytest.raises(TypeError, match="float32 or float64"):
        F.layer_norm(ember.zeros((2, 3), dtype=ember.int64), (3,))
    with pytest.raises(ValueError, match="num_groups 3"):
        F.group_norm(x, 3)
    with pytest.raises(ValueError, match="running_mean"):
        F.batch_norm(x, ember.zeros(3), ember.ones(3), training=True)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(ember.zeros((1, 4)), None, None, training=True)
    with pytest.raises(ValueError, match="eval mode"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(TypeError, match="ember Tensor"):
        F.batch_norm(x, np.zeros(4, np.float32), np.ones(4, np.float32), training=True)
    with pytest.raises(ValueError, match="same shape"):
        _C._softmax_backward(ember.zeros((2, 3)), x, 0)
