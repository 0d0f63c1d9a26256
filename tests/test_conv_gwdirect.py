"""The direct float32 grad_weight route (kernels/conv_gwdirect.c and
kernels/x86/conv_gw_avx512.c): against PyTorch in float64, against an exact
emulation of its summation order (which proves the route ran: the implicit GEMM
route adds per-image partial sums and gives other bits), bit identity across
thread counts, and the shapes it leaves to the other routes.

The route runs with the AVX-512 kernel set for float32 convolutions with
groups 1, dilation 1 and a kernel larger than 1x1."""
import numpy as np
import pytest
import torch
import torch.nn.functional as tF

import ember
from ember import _C

from conftest import assert_same_bits_across_threads


def rand(shape, seed, dt="float32"):
    return np.random.default_rng(seed).standard_normal(shape).astype(dt)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# (N, C, (H, W), O, kernel, stride, padding)
SHAPES = [
    (1, 1, (1, 1), 1, 3, 1, 1),              # one pixel, one channel each way
    (3, 3, (7, 13), 15, 3, 1, 1),            # 15 channels: one narrow block (1 zmm)
    (2, 17, (14, 15), 17, 3, 2, 1),          # 17: 2 zmm, stride 2, odd width
    (8, 3, (13, 13), 47, 3, 1, 0),           # 47: 3 zmm, unpadded, batch 8
    (1, 17, (15, 14), 49, 3, 2, 2),          # 49: 4 zmm, padding 2
    (3, 1, (57, 57), 64, 3, 1, 1),           # 9 taps: two tap groups of 6, one partial
    (2, 16, (3, 7), 1, 3, 1, 2),             # one output channel, padding wider than the image
    (2, 5, (9, 11), 33, (2, 4), (1, 2), (1, 0)),  # non-square kernel, stride and padding
    (2, 3, (57, 57), 256, 3, 1, 1),          # an image's gyT over the chunk size: runs of rows
    (3, 4, (14, 14), 300, 5, 2, 2),          # 300 channels: 4 full blocks and one of 3 zmm
    (2, 6, (8, 9), 80, 3, 1, 1),             # 80: a full block and one of 1 zmm
    (1, 2, (5, 130), 20, 3, 1, 1),           # rows wider than a sub-run of positions
    (3, 8, (1, 40), 24, (1, 3), 1, (0, 1)),  # a single row (1-D-like)
    (2, 2, (40, 40), 256, 3, 1, 1),          # two runs of rows per image
    (3, 2, (32, 32), 128, 3, 1, 1),          # chunks of two images and of one
]

# left to the other routes: 1x1 kernels, groups, dilation
OTHERS = [
    (2, 8, (9, 10), 16, 1, 1, 0, 1, 1),
    (2, 8, (9, 10), 16, 1, 2, 0, 1, 1),
    (2, 8, (9, 10), 16, 3, 1, 1, 1, 2),
    (2, 8, (11, 10), 16, 3, 1, 2, 2, 1),
]


def torch_gw64(x, gy, wshape, s, p, d=1, g=1):
    """grad_weight in float64 (the reference)."""
    tx = torch.tensor(x, dtype=torch.float64)
    tgy = torch.tensor(gy, dtype=torch.float64)
    tw = torch.zeros(wshape, dtype=torch.float64)
    return torch.ops.aten.convolution_backward(tgy, tx, tw, None, list(pair(s)), list(pair(p)), list(pair(d)),
                                               False, [0, 0], g, [False, True, False])[1].numpy()


def problem(case, seed):
    n, c, hw, o, k, s, p = case
    k, s, p = pair(k), pair(s), pair(p)
    x = rand((n, c) + hw, seed)
    oh = (hw[0] + 2 * p[0] - k[0]) // s[0] + 1
    ow = (hw[1] + 2 * p[1] - k[1]) // s[1] + 1
    gy = rand((n, o, oh, ow), seed + 1)
    return x, gy, (o, c) + k, s, p


def ember_gw(x, gy, wshape, s, p, d=(1, 1), g=1):
    return np.asarray(_C._conv_grad_weight(gy, x, wshape, pair(s), pair(p), pair(d), g))


def emulate(x, gy, wshape, s, p):
    """The route's sum, bit for bit: per element one float32 FMA chain over the positions,
    images ascending, then rows, then columns.  fma(a, b, acc) is a*b + acc rounded once;
    in float64 the product of two float32 is exact and the sum rounds to 53 bits before the
    rounding to float32 (a double rounding that differs from the single one only on rare
    halfway cases, none in these inputs)."""
    o, c, kh, kw = wshape
    n, _, oh, ow = gy.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1]))).astype(np.float64)
    g64 = gy.astype(np.float64)
    acc = np.zeros((o, c * kh * kw), np.float32)
    for i in range(n):
        for r in range(oh):
            for q in range(ow):
                col = xp[i, :, r * s[0]:r * s[0] + kh, q * s[1]:q * s[1] + kw].reshape(-1)
                acc = (acc.astype(np.float64) + np.outer(g64[i, :, r, q], col)).astype(np.float32)
    return acc.reshape(wshape)


@pytest.mark.parametrize("case", SHAPES)
def test_gwdirect_vs_torch_float64(case, avx512):
    x, gy, wshape, s, p = problem(case, 1)
    got = ember_gw(x, gy, wshape, s, p)
    ref = torch_gw64(x, gy, wshape, s, p)
    assert got.dtype == np.float32 and got.shape == wshape
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("case", [SHAPES[i] for i in (1, 2, 3, 7, 10, 12, 13, 14)])
def test_gwdirect_route_taken_bits(case, avx512):
    # batch > 1 everywhere: the other routes add per-image partial sums, so equal bits
    # here mean the direct route ran
    x, gy, wshape, s, p = problem(case, 3)
    got = ember_gw(x, gy, wshape, s, p)
    assert np.array_equal(got, emulate(x, gy, wshape, s, p))


def test_gwdirect_emulation_tells_the_routes_apart(avx512):
    # the check above can fail: the implicit GEMM route (AVX2 kernel set) gives other bits
    x, gy, wshape, s, p = problem(SHAPES[3], 3)
    try:
        _C._gemm_set_isa("avx2")
    except Exception:
        pytest.skip("avx2 not available")
    other = ember_gw(x, gy, wshape, s, p)
    assert not np.array_equal(other, emulate(x, gy, wshape, s, p))
    np.testing.assert_allclose(other, torch_gw64(x, gy, wshape, s, p), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", [SHAPES[3], SHAPES[8], SHAPES[9], SHAPES[10]])
def test_gwdirect_same_bits_for_any_thread_count(case, avx512):
    x, gy, wshape, s, p = problem(case, 5)
    assert_same_bits_across_threads(lambda: ember_gw(x, gy, wshape, s, p))


def test_gwdirect_nan_stays_in_its_channel(avx512):
    # a NaN in channel 5 of gy reaches only row 5 of gw: the zero channels that pad the last
    # block and the dropped tap slots must not spread it
    x, gy, wshape, s, p = problem((2, 3, (9, 10), 21, 3, 1, 1), 7)
    gy[1, 5, 4, 4] = np.nan
    got = ember_gw(x, gy, wshape, s, p)
    assert np.isnan(got[5]).any()
    rest = np.delete(got, 5, axis=0)
    ref = np.delete(torch_gw64(x, gy, wshape, s, p), 5, axis=0)
    assert np.isfinite(rest).all()
    np.testing.assert_allclose(rest, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", OTHERS)
def test_other_routes_vs_torch(case, avx512):
    n, c, hw, o, k, s, p, d, g = case
    x = rand((n, c) + hw, 9)
    ty = tF.conv2d(torch.tensor(x), torch.zeros((o, c // g, k, k)), None, s, p, d, g)
    gy = rand(tuple(ty.shape), 10)
    got = ember_gw(x, gy, (o, c // g, k, k), s, p, pair(d), g)
    np.testing.assert_allclose(got, torch_gw64(x, gy, (o, c // g, k, k), s, p, d, g), rtol=1e-4, atol=1e-4)


def test_float64_keeps_its_route(avx512):
    x, gy, wshape, s, p = problem(SHAPES[3], 11)
    got = np.asarray(_C._conv_grad_weight(gy.astype(np.float64), x.astype(np.float64), wshape, s, p, (1, 1), 1))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, torch_gw64(x, gy, wshape, s, p), rtol=1e-10, atol=1e-10)


def test_gwdirect_through_autograd(avx512):
    # the route behind Tensor.backward (conv2d's weight gradient)
    x = rand((3, 5, 12, 10), 13)
    w = rand((19, 5, 3, 3), 14)
    ex, ew = ember.tensor(x), ember.tensor(w, requires_grad=True)
    y = ember.nn.functional.conv2d(ex, ew, None, 1, 1)
    gy = rand(tuple(y.shape), 15)
    y.backward(ember.tensor(gy))
    np.testing.assert_allclose(np.asarray(ew.grad), torch_gw64(x, gy, w.shape, 1, 1), rtol=1e-4, atol=1e-4)


def test_gwdirect_strided_operands(avx512):
    # views with gaps (made contiguous by the op before the route reads them)
    xb, gb = rand((2, 4, 11, 26), 16), rand((2, 10, 11, 26), 17)
    x, gy = xb[:, :, :, ::2], gb[:, ::2, :, 1::2]
    got = np.asarray(_C._conv_grad_weight(ember.asarray(gy), ember.asarray(x), (5, 4, 3, 3), (1, 1), (1, 1),
                                          (1, 1), 1))
    np.testing.assert_allclose(got, torch_gw64(np.ascontiguousarray(x), np.ascontiguousarray(gy), (5, 4, 3, 3), 1, 1),
                               rtol=1e-4, atol=1e-4)
