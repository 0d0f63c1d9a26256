"""The direct stride-1 convolution kernels (kernels/conv_igemm.c, try_direct_f32, and
kernels/x86/conv_direct_*.c) against PyTorch: forward, grad_input (the flipped forward
convolution, so the same kernels) and grad_weight, on both SIMD kernel sets, and bit
identity across thread counts.  The shapes are wide enough that the padding columns the
direct kernels compute and drop stay under their limit (else the packed route runs)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as tF

from ember import _C

from conftest import assert_same_bits_across_threads, use_isa


def rand(shape, seed, dt="float32"):
    return np.random.default_rng(seed).standard_normal(shape).astype(dt)


# (N, C, (H, W), O, kernel, padding, dilation, groups); stride 1 throughout
DIRECT = [
    (2, 5, (16, 30), 27, (3, 3), 1, 1, 1),            # 27 channels: short last row tile
    (1, 3, (20, 31), 5, (3, 3), 2, 2, 1),             # dilation 2, odd width
    (2, 6, (13, 40), 10, (5, 3), (2, 1), 1, 2),        # 5x3, groups, unequal padding
    (1, 130, (9, 30), 14, (3, 3), 1, 1, 1),           # 1170 taps: several kc blocks
    (2, 8, (10, 30), 12, (1, 1), 1, 1, 1),            # padded 1x1
    (3, 4, (7, 61), 5, (3, 3), 0, 1, 1),              # unpadded: reads run into the slack
    (2, 16, (14, 14), 33, (3, 3), 1, 1, 1),           # 14x14: 14% padding columns, the packed route
    (1, 3, (23, 31), 4, (2, 4), (1, 2), (2, 1), 1),   # even kernel sizes, dilation on H only
    (4, 2, (1, 123), 3, (1, 5), (0, 2), 1, 1),        # a single row (1-D-like)
]


@pytest.fixture(params=["avx2", "avx512"])
def isa(request):
    yield from use_isa(request.param)


def geo_of(p, d, g):
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
    return ((1, 1), pair(p), pair(d), g)


@pytest.mark.parametrize("case", DIRECT)
def test_direct_conv_vs_torch(case, isa):
    n, c, hw, o, k, p, d, g = case
    x, w, b = rand((n, c) + hw, 1), rand((o, c // g) + k, 2), rand((o,), 3)
    geo = geo_of(p, d, g)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = tF.conv2d(tx, tw, tb, 1, p, d, g)
    gy = rand(tuple(ty.shape), 4)
    tgx, tgw = torch.autograd.grad(ty, (tx, tw), torch.tensor(gy))
    tol = dict(rtol=2e-4, atol=2e-4)
    y = np.asarray(_C._conv(x, w, b, *geo))
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y, ty.detach().numpy(), **tol)
    np.testing.assert_allclose(np.asarray(_C._conv(x, w, None, *geo)),
                               tF.conv2d(torch.tensor(x), torch.tensor(w), None, 1, p, d, g).numpy(), **tol)
    np.testing.assert_allclose(np.asarray(_C._conv_grad_input(gy, w, x.shape, *geo)), tgx.numpy(), **tol)
    np.testing.assert_allclose(np.asarray(_C._conv_grad_weight(gy, x, w.shape, *geo)), tgw.numpy(), **tol)


def test_direct_conv_nonfinite_input_stays_local(isa):
    # an inf in one pixel must reach only the outputs whose window covers it: the dropped
    # padding columns read it too, and must not leak it into other positions
    x, w = rand((1, 2, 12, 40), 5), rand((3, 2, 3, 3), 6)
    x[0, 1, 5, 39] = np.inf
    y = np.asarray(_C._conv(x, w, None, (1, 1), (1, 1), (1, 1), 1))
    ty = tF.conv2d(torch.tensor(x), torch.tensor(w), None, 1, 1).numpy()
    assert np.array_equal(np.isfinite(y), np.isfinite(ty))
    fin = np.isfinite(ty)
    np.testing.assert_allclose(y[fin], ty[fin], rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("case", [DIRECT[0], DIRECT[2], DIRECT[3], DIRECT[6]])
def test_direct_conv_same_bits_for_any_thread_count(case, isa):
    n, c, hw, o, k, p, d, g = case
    x, w, b = rand((n, c) + hw, 11), rand((o, c // g) + k, 12), rand((o,), 13)
    geo = geo_of(p, d, g)
    gy = rand(tuple(_C._conv(x, w, None, *geo).shape), 14)
    assert_same_bits_across_threads(lambda: [_C._conv(x, w, b, *geo), _C._conv_grad_input(gy, w, x.shape, *geo)])


def test_direct_conv_isas_agree_with_portable():
    # the portable ISA keeps the im2col route: a third, independent implementation
    x, w, b = rand((2, 7, 15, 33), 21), rand((9, 7, 3, 3), 22), rand((9,), 23)
    geo = geo_of(1, 1, 1)
    outs = {}
    for name in ("portable", "avx2", "avx512"):
        try:
            _C._gemm_set_isa(name)
        except Exception:
            continue
        try:
            outs[name] = np.asarray(_C._conv(x, w, b, *geo))
        finally:
            _C._gemm_set_isa("auto")
    for name, y in outs.items():
        np.testing.assert_allclose(y, outs["portable"], rtol=1e-4, atol=1e-4, err_msg=name)
