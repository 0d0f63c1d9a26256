"""Convolution and pooling (ember.nn.functional and the private gradient
bindings in ember._C) against torch.nn.functional and torch.autograd."""
import numpy as np
import pytest
import torch
import torch.nn.functional as tF

import ember
import ember.nn.functional as F
from ember import _C

from conftest import assert_same_bits_across_threads, use_isa

TOL = {"float32": dict(rtol=1e-4, atol=1e-4), "float64": dict(rtol=1e-6, atol=1e-9)}


def rand(shape, dt, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dt)


def same(got, want, dt):
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else want
    np.testing.assert_allclose(np.asarray(got), want, **TOL[dt])


# (N, C, spatial, O, kernel, stride, padding, dilation, groups)
CONV2D = [
    (2, 3, (7, 6), 4, (3, 3), 1, 1, 1, 1),
    (1, 4, (9, 8), 6, (3, 2), (2, 1), (0, 1), (1, 2), 2),
    (2, 4, (6, 7), 4, (3, 3), 1, 1, 1, 4),        # depthwise
    (2, 3, (8, 7), 6, (3, 3), 2, 1, 1, 3),        # depthwise, multiplier 2, stride 2
    (3, 5, (5, 5), 7, (1, 1), 1, 0, 1, 1),        # pointwise
    (2, 4, (9, 9), 6, (1, 1), 2, 0, 1, 1),        # 1x1 downsampling
    (7, 2, (5, 6), 3, (2, 2), 1, 0, 1, 1),        # batch over several weight chunks
    (1, 6, (11, 13), 6, (5, 5), 1, (2, 3), 2, 6),  # depthwise dilated, odd sizes
    (2, 3, (10, 10), 5, (7, 7), 2, 3, 1, 1),      # stem-like
    (1, 6, (3, 3), 4, (2, 2), 3, 1, 1, 2),        # stride > kernel
]


def torch_conv_and_grads(fn, x, w, b, gy, **kw):
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y = fn(tx, tw, tb, **kw)
    gx, gw, gb = torch.autograd.grad(y, (tx, tw, tb), torch.tensor(gy) if gy is not None else torch.ones_like(y))
    return y, gx, gw, gb


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("case", CONV2D)
def test_conv2d_forward_and_gradients_vs_torch(case, dt):
    n, c, hw, o, k, s, p, d, g = case
    x, w, b = rand((n, c) + hw, dt, 1), rand((o, c // g) + k, dt, 2), rand((o,), dt, 3)
    y = F.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
    gy = rand(tuple(y.shape), dt, 4)
    ty, tgx, tgw, tgb = torch_conv_and_grads(tF.conv2d, x, w, b, gy, stride=s, padding=p, dilation=d, groups=g)
    assert tuple(y.shape) == tuple(ty.shape)
    same(y, ty, dt)
    same(F.conv2d(x, w, None, s, p, d, g), tF.conv2d(torch.tensor(x), torch.tensor(w), None, s, p, d, g), dt)
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    geo = (pair(s), pair(p), pair(d), g)
    same(_C._conv_grad_input(gy, w, x.shape, *geo), tgx, dt)
    same(_C._conv_grad_weight(gy, x, w.shape, *geo), tgw, dt)
    same(_C._conv_grad_bias(gy), tgb, dt)


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("case", [(2, 3, 11, 4, 3, 1, 1, 1, 1), (1, 4, 17, 6, 4, 2, 2, 3, 2),
                                  (3, 5, 9, 10, 5, 1, 2, 1, 5), (2, 4, 8, 3, 1, 1, 0, 1, 1)])
def test_conv1d_forward_and_gradients_vs_torch(case, dt):
    n, c, L, o, k, s, p, d, g = case
    x, w, b = rand((n, c, L), dt, 5), rand((o, c // g, k), dt, 6), rand((o,), dt, 7)
    y = F.conv1d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
    gy = rand(tuple(y.shape), dt, 8)
    ty, tgx, tgw, tgb = torch_conv_and_grads(tF.conv1d, x, w, b, gy, stride=s, padding=p, dilation=d, groups=g)
    same(y, ty, dt)
    same(_C._conv_grad_input(gy, w, x.shape, (s,), (p,), (d,), g), tgx, dt)
    same(_C._conv_grad_weight(gy, x, w.shape, (s,), (p,), (d,), g), tgw, dt)
    same(_C._conv_grad_bias(gy), tgb, dt)


@pytest.mark.parametrize("k, d", [(3, 1), (4, 1), (2, 3), (5, 2)])
def test_conv_padding_strings_and_unbatched(k, d):
    x, w = rand((2, 3, 9, 10), "float64", 9), rand((4, 3, k, k), "float64", 10)
    for pad in ("same", "valid"):
        same(F.conv2d(x, w, padding=pad, dilation=d),
             tF.conv2d(torch.tensor(x), torch.tensor(w), padding=pad, dilation=d), "float64")
        same(F.conv1d(x[:, :, 0], w[:, :, 0], padding=pad, dilation=d),
             tF.conv1d(torch.tensor(x[:, :, 0]), torch.tensor(w[:, :, 0]), padding=pad, dilation=d), "float64")
    same(F.conv2d(x[0], w, padding=(1, 2)), tF.conv2d(torch.tensor(x[0]), torch.tensor(w), padding=(1, 2)), "float64")
    same(F.conv2d(ember.asarray(x), ember.asarray(w), stride=[2, 1]),
         tF.conv2d(torch.tensor(x), torch.tensor(w), stride=[2, 1]), "float64")


def test_conv_non_contiguous_input():
    x = rand((2, 3, 8, 9), "float32", 11)
    w = rand((4, 3, 3, 3), "float32", 12)
    xt = ember.asarray(x).mT  # transposed view
    same(F.conv2d(xt, w, padding=1), tF.conv2d(torch.tensor(x).transpose(2, 3), torch.tensor(w), padding=1),
         "float32")


def test_conv_errors():
    x, w = rand((2, 4, 5, 5), "float32", 0), rand((6, 2, 3, 3), "float32", 0)
    with pytest.raises(ValueError, match="groups"):
        F.conv2d(x, w)
    with pytest.raises(ValueError, match="groups"):
        F.conv2d(x, w, groups=3)
    with pytest.raises(TypeError, match="float"):
        F.conv2d(x.astype(np.int32), w.astype(np.int32), groups=2)
    with pytest.raises(TypeError, match="dtype"):
        F.conv2d(x, w.astype(np.float64), groups=2)
    with pytest.raises(ValueError, match="bias"):
        F.conv2d(x, w, np.zeros(5, np.float32), groups=2)
    with pytest.raises(ValueError, match="stride"):
        F.conv2d(x, w, stride=0, groups=2)
    with pytest.raises(ValueError, match="strided"):
        F.conv2d(x, w, stride=2, padding="same", groups=2)
    with pytest.raises(ValueError, match="padding string"):
        F.conv2d(x, w, padding="full", groups=2)
    with pytest.raises(ValueError, match="kernel size"):
        F.conv2d(x, w, dilation=3, groups=2)
    with pytest.raises(ValueError, match="2 element"):
        F.conv2d(x, w, stride=(1, 1, 1), groups=2)
    with pytest.raises(ValueError, match="4-D"):
        F.conv2d(x[0, 0], w)
    with pytest.raises(ValueError, match="grad_output"):
        _C._conv_grad_input(np.zeros((2, 6, 4, 4), np.float32), w, (2, 4, 5, 5), (1, 1), (0, 0), (1, 1), 2)


def test_conv_same_bits_for_any_thread_count():
    x, w, gy = rand((6, 4, 9, 9), "float32", 13), rand((8, 2, 3, 3), "float32", 14), rand((6, 8, 9, 9), "float32", 15)
    geo = ((1, 1), (1, 1), (1, 1), 2)
    assert_same_bits_across_threads(lambda: [_C._conv(x, w, None, *geo), _C._conv_grad_input(gy, w, x.shape, *geo),
                                             _C._conv_grad_weight(gy, x, w.shape, *geo)])


# Shapes that reach every branch of the implicit GEMM (kernels/conv_igemm.c): several kc
# blocks of taps (C*kh*kw > 512), images of >= 1024 output positions (tiles written straight
# to y, several chunks per image, several position blocks in grad_weight), small images whose
# column chunks straddle two images, strided wide kernels (the phase layout), dilation,
# groups, asymmetric padding, grad_input as the flipped forward convolution (stride 1) and the
# col2im fallback (padding > dilation*(kernel-1)).
IGEMM = [
    (2, 72, (9, 8), 13, (3, 3), 1, 1, 1, 1),             # R = 648: two kc blocks; odd O
    (1, 5, (34, 33), 7, (3, 3), 1, 1, 1, 1),             # 1122 output positions: direct tiles
    (2, 3, (40, 37), 4, (2, 3), 1, (0, 1), 1, 1),        # unpadded rows, 1404 positions
    (5, 6, (12, 12), 9, (3, 3), 1, 1, 1, 1),             # chunks straddle images
    (2, 6, (17, 19), 4, (5, 5), 2, 2, 1, 2),             # stride 2, 5x5: phase layout, groups
    (1, 3, (41, 40), 8, (7, 7), 2, 3, 1, 1),             # stem-like, direct tiles
    (2, 4, (13, 14), 6, (3, 3), (1, 3), (2, 1), 2, 2),   # dilation, stride 3 on W only
    (2, 4, (9, 11), 6, (3, 3), 1, (2, 1), 2, 2),         # grad_input flip with dilation, groups
    (1, 2, (5, 5), 3, (3, 3), 1, 3, 1, 1),               # padding > k-1: col2im fallback
    (3, 5, (6, 7), 4, (1, 3), 1, (0, 2), 1, 1),          # 1-row kernel
]
ISAS = ["portable", "avx2", "avx512"]


@pytest.fixture(params=ISAS)
def isa(request):
    yield from use_isa(request.param)


def conv_all(x, w, b, gy, geo):
    return [np.asarray(_C._conv(x, w, b, *geo)), np.asarray(_C._conv_grad_input(gy, w, x.shape, *geo)),
            np.asarray(_C._conv_grad_weight(gy, x, w.shape, *geo))]


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("case", IGEMM)
def test_conv2d_implicit_gemm_vs_torch_every_isa(case, dt, isa):
    n, c, hw, o, k, s, p, d, g = case
    x, w, b = rand((n, c) + hw, dt, 21), rand((o, c // g) + k, dt, 22), rand((o,), dt, 23)
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    geo = (pair(s), pair(p), pair(d), g)
    ty, tgx, tgw, _ = torch_conv_and_grads(tF.conv2d, x, w, b, None, stride=s, padding=p, dilation=d, groups=g)
    gy = rand(tuple(ty.shape), dt, 24)
    ty, tgx, tgw, _ = torch_conv_and_grads(tF.conv2d, x, w, b, gy, stride=s, padding=p, dilation=d, groups=g)
    tol = dict(rtol=2e-4, atol=2e-4) if dt == "float32" else TOL[dt]  # sums of up to 8000 products
    y, gx, gw = conv_all(x, w, b, gy, geo)
    for got, want in ((y, ty), (gx, tgx), (gw, tgw)):
        np.testing.assert_allclose(got, want.detach().numpy(), **tol)
    same(_C._conv(x, w, None, *geo), tF.conv2d(torch.tensor(x), torch.tensor(w), None, s, p, d, g), dt)


@pytest.mark.parametrize("case", [IGEMM[0], IGEMM[1], IGEMM[3], IGEMM[4], IGEMM[7]])
def test_conv2d_implicit_gemm_same_bits_for_any_thread_count(case, isa):
    n, c, hw, o, k, s, p, d, g = case
    x, w, b = rand((n, c) + hw, "float32", 31), rand((o, c // g) + k, "float32", 32), rand((o,), "float32", 33)
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    geo = (pair(s), pair(p), pair(d), g)
    gy = rand(tuple(_C._conv(x, w, None, *geo).shape), "float32", 34)
    assert_same_bits_across_threads(lambda: conv_all(x, w, b, gy, geo))


def test_conv1d_implicit_gemm_long_signal_vs_torch():
    x, w, b = rand((3, 6, 1500), "float64", 41), rand((4, 3, 4), "float64", 42), rand((4,), "float64", 43)
    y = F.conv1d(x, w, b, stride=1, padding=2, dilation=3, groups=2)
    gy = rand(tuple(y.shape), "float64", 44)
    ty, tgx, tgw, _ = torch_conv_and_grads(tF.conv1d, x, w, b, gy, stride=1, padding=2, dilation=3, groups=2)
    same(y, ty, "float64")
    same(_C._conv_grad_input(gy, w, x.shape, (1,), (2,), (3,), 2), tgx, "float64")
    same(_C._conv_grad_weight(gy, x, w.shape, (1,), (2,), (3,), 2), tgw, "float64")


# ---- pooling -------------------------------------------------------------------------------

MAXPOOL2D = [((2, 3), None, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 1, 1, True), ((3, 2), (2, 1), (1, 0), (2, 1), False),
             (2, 3, 1, 1, True), (4, 3, 2, 2, True)]


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("k, s, p, d, ceil", MAXPOOL2D)
def test_max_pool2d_vs_torch(k, s, p, d, ceil, dt):
    x = rand((2, 3, 11, 10), dt, 16)
    x[0, 0, 0, :4] = 1.5  # ties: the first position wins
    y, idx = F.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
    tx = torch.tensor(x, requires_grad=True)
    ty, tidx = tF.max_pool2d(tx, k, s, p, d, ceil, return_indices=True)
    same(y, ty, dt)
    assert np.array_equal(np.asarray(idx), tidx.numpy())
    gy = rand(tuple(y.shape), dt, 17)
    (tgx,) = torch.autograd.grad(ty, tx, torch.tensor(gy))
    same(_C._max_pool_backward(gy, idx, x.shape), tgx, dt)
    same(F.max_pool2d(x[0], k, s, p, d, ceil), tF.max_pool2d(torch.tensor(x[0]), k, s, p, d, ceil), dt)


@pytest.mark.parametrize("k, s, p, d, ceil", [(2, None, 0, 1, False), (3, 2, 1, 2, True), (4, 3, 2, 1, True)])
def test_max_pool1d_vs_torch(k, s, p, d, ceil):
    x = rand((2, 3, 13), "float64", 18)
    y, idx = F.max_pool1d(x, k, s, p, d, ceil, return_indices=True)
    tx = torch.tensor(x, requires_grad=True)
    ty, tidx = tF.max_pool1d(tx, k, s, p, d, ceil, return_indices=True)
    same(y, ty, "float64")
    assert np.array_equal(np.asarray(idx), tidx.numpy())
    gy = rand(tuple(y.shape), "float64", 19)
    (tgx,) = torch.autograd.grad(ty, tx, torch.tensor(gy))
    same(_C._max_pool_backward(gy, idx, x.shape), tgx, "float64")


def test_max_pool_nan_and_inf():
    x = np.full((1, 1, 4, 4), -np.inf, np.float32)
    x[0, 0, 1, 1] = np.nan
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    ty, tidx = tF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(np.asarray(y), ty.numpy())
    assert np.array_equal(np.asarray(idx), tidx.numpy())


AVGPOOL2D = [(2, None, 0, False, True, None), (3, 2, 1, False, True, None), (3, 2, 1, True, False, None),
             ((3, 2), (2, 3), (1, 1), True, True, None), (3, 2, 1, True, True, 5), (2, 1, 1, False, False, None)]


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("k, s, p, ceil, incl, div", AVGPOOL2D)
def test_avg_pool2d_vs_torch(k, s, p, ceil, incl, div, dt):
    x = rand((2, 3, 9, 10), dt, 20)
    y = F.avg_pool2d(x, k, s, p, ceil, incl, div)
    tx = torch.tensor(x, requires_grad=True)
    ty = tF.avg_pool2d(tx, k, s, p, ceil, incl, div)
    same(y, ty, dt)
    gy = rand(tuple(y.shape), dt, 21)
    (tgx,) = torch.autograd.grad(ty, tx, torch.tensor(gy))
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    got = _C._avg_pool_backward(gy, x.shape, pair(k), pair(k if s is None else s), pair(p), ceil, incl, div)
    same(got, tgx, dt)


@pytest.mark.parametrize("k, s, p, ceil, incl", [(3, 2, 1, True, False), (2, None, 0, False, True), (4, 3, 2, True, True)])
def test_avg_pool1d_vs_torch(k, s, p, ceil, incl):
    x = rand((2, 3, 14), "float64", 22)
    same(F.avg_pool1d(x, k, s, p, ceil, incl), tF.avg_pool1d(torch.tensor(x), k, s, p, ceil, incl), "float64")


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("hw, out", [((7, 9), (3, 4)), ((8, 8), 1), ((5, 6), (5, 6)), ((4, 5), (7, 3)),
                                     ((6, 7), (None, 2))])
def test_adaptive_avg_pool2d_vs_torch(hw, out, dt):
    x = rand((2, 3) + hw, dt, 23)
    y = F.adaptive_avg_pool2d(x, out)
    tx = torch.tensor(x, requires_grad=True)
    ty = tF.adaptive_avg_pool2d(tx, out)
    same(y, ty, dt)
    gy = rand(tuple(y.shape), dt, 24)
    (tgx,) = torch.autograd.grad(ty, tx, torch.tensor(gy))
    same(_C._adaptive_avg_pool_backward(gy, x.shape), tgx, dt)
    same(F.adaptive_avg_pool2d(x[0], out), tF.adaptive_avg_pool2d(torch.tensor(x[0]), out), dt)


def test_adaptive_avg_pool1d_vs_torch():
    x = rand((2, 3, 11), "float64", 25)
    for out in (1, 4, 11, 15):
        same(F.adaptive_avg_pool1d(x, out), tF.adaptive_avg_pool1d(torch.tensor(x), out), "float64")


def test_pool_errors():
    x = rand((1, 2, 4, 4), "float32", 0)
    with pytest.raises(ValueError, match="half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="kernel_size"):
        F.avg_pool2d(x, 0)
    with pytest.raises(ValueError, match="output size"):
        F.avg_pool2d(x, 5)
    with pytest.raises(TypeError, match="float"):
        F.max_pool2d(x.astype(np.int64), 2)
    with pytest.raises(ValueError, match="divisor_override"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="output size"):
        F.adaptive_avg_pool2d(x, (0, 2))
    with pytest.raises(ValueError):
        F.max_pool2d(x[0, 0], 2)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    bad = np.asarray(idx).copy()
    bad[0, 0, 0, 0] = 99
    with pytest.raises(IndexError, match="indices"):
        _C._max_pool_backward(np.asarray(y), bad, x.shape)
