"""Depthwise convolutions on the whole-plane SIMD kernels (kernels/conv_dw.h,
AVX-512 or AVX2 on x86): forward, grad_input and grad_weight against
torch.nn.functional.conv2d / conv1d and torch.autograd, and bit-identical
results for 1, 2 and 3 threads.  The shapes cover rows of 1 to 5 vectors
(strips of 4 plus tails), padding 0 / 1 / above k-1, 3x3 (its own grad_weight
kernel), 5x5 with dilation, stride along H only, a channel multiplier, 1-D,
and a kernel too wide for the plane kernels (the row primitives)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as tF

from ember import _C

from conftest import assert_same_bits_across_threads

TOL = {"float32": dict(rtol=1e-4, atol=1e-4), "float64": dict(rtol=1e-6, atol=1e-9)}

# (N, C, (H, W), O, (kh, kw), stride, padding, dilation)   groups = C
CASES = [
    (2, 3, (12, 56), 3, (3, 3), 1, 1, 1),          # the benchmark's rows
    (1, 2, (7, 70), 2, (3, 3), 1, 1, 1),           # a 4-vector strip and a tail strip
    (1, 2, (9, 13), 2, (3, 3), 1, 0, 1),           # no padding
    (1, 2, (6, 9), 2, (3, 3), 1, 3, 1),            # padding > k-1
    (2, 2, (11, 37), 2, (5, 5), 1, 2, 2),          # 5x5, dilation 2
    (1, 2, (13, 21), 2, (3, 3), (2, 1), 1, 1),     # stride 2 along H only
    (2, 3, (8, 17), 6, (3, 3), 1, 1, 1),           # multiplier 2
    (1, 2, (5, 40), 2, (3, 17), 1, (1, 8), 1),     # kw 17: row primitives
    (1, 2, (4, 3), 2, (3, 3), 1, 1, 1),            # narrower than a vector
]


def rand(shape, dt, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dt)


def pair(v):
    return (v, v) if isinstance(v, int) else v


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES)
def test_depthwise_plane_kernels_vs_torch(case, dt):
    n, c, hw, o, k, s, p, d = case
    x, w, b = rand((n, c) + hw, dt, 1), rand((o, 1) + k, dt, 2), rand((o,), dt, 3)
    geo = (pair(s), pair(p), pair(d), c)
    y = np.asarray(_C._conv(x, w, b, *geo))
    gy = rand(y.shape, dt, 4)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = tF.conv2d(tx, tw, tb, s, p, d, c)
    tgx, tgw = torch.autograd.grad(ty, (tx, tw), torch.tensor(gy))
    np.testing.assert_allclose(y, ty.detach().numpy(), **TOL[dt])
    np.testing.assert_allclose(np.asarray(_C._conv(x, w, None, *geo)),
                               tF.conv2d(torch.tensor(x), torch.tensor(w), None, s, p, d, c).numpy(), **TOL[dt])
    np.testing.assert_allclose(np.asarray(_C._conv_grad_input(gy, w, x.shape, *geo)), tgx.numpy(), **TOL[dt])
    np.testing.assert_allclose(np.asarray(_C._conv_grad_weight(gy, x, w.shape, *geo)), tgw.numpy(), **TOL[dt])


def test_depthwise_1d_vs_torch():
    x, w = rand((2, 3, 45), "float32", 5), rand((3, 1, 5), "float32", 6)
    geo = ((1,), (2,), (1,), 3)
    y = np.asarray(_C._conv(x, w, None, *geo))
    gy = rand(y.shape, "float32", 7)
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    ty = tF.conv1d(tx, tw, None, 1, 2, 1, 3)
    tgx, tgw = torch.autograd.grad(ty, (tx, tw), torch.tensor(gy))
    np.testing.assert_allclose(y, ty.detach().numpy(), **TOL["float32"])
    np.testing.assert_allclose(np.asarray(_C._conv_grad_input(gy, w, x.shape, *geo)), tgx.numpy(), **TOL["float32"])
    np.testing.assert_allclose(np.asarray(_C._conv_grad_weight(gy, x, w.shape, *geo)), tgw.numpy(), **TOL["float32"])


@pytest.mark.parametrize("case", [CASES[0], CASES[4], CASES[6]])
def test_depthwise_same_bits_for_any_thread_count(case):
    n, c, hw, o, k, s, p, d = case
    n = 5  # planes do not split evenly over 2 or 3 threads
    x, w, gy = rand((n, c) + hw, "float32", 8), rand((o, 1) + k, "float32", 9), None
    geo = (pair(s), pair(p), pair(d), c)
    gy = rand(np.asarray(_C._conv(x, w, None, *geo)).shape, "float32", 10)
    assert_same_bits_across_threads(lambda: [_C._conv(x, w, None, *geo), _C._conv_grad_input(gy, w, x.shape, *geo),
                                             _C._conv_grad_weight(gy, x, w.shape, *geo)])
