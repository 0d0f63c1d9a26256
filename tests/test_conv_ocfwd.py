"""The output-channel-vectorised direct convolution (kernels/conv_ocfwd.c with the micro-kernels
kernels/x86/conv_oc_avx512.c and conv_oc_avx2.c; every test runs on both kernel sets) against
PyTorch in float64: forward (strides 1 and 2) and grad_input (stride 1: the forward of
grad_output with the flipped kernel), bit identity across thread counts, and that the shape
rule routes what it claims.

EMBER_CONV_OCFWD=1 takes the route wherever the kernel can run (so awkward shapes the shape
rule leaves to the other routes are checked too), =0 turns it off; the variable is read at
every call."""
import numpy as np
import pytest
import torch
import torch.nn.functional as tF

import ember
from ember import _C

from conftest import assert_same_bits_across_threads, use_isa


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.fixture(params=["avx2", "avx512"])
def isa(request):
    yield from use_isa(request.param)


@pytest.fixture
def forced(isa, monkeypatch):
    monkeypatch.setenv("EMBER_CONV_OCFWD", "1")


def ref(x, w, b, stride, pad, dil=1, groups=1):
    d = lambda a: None if a is None else torch.tensor(a, dtype=torch.float64)  # noqa: E731
    return tF.conv2d(d(x), d(w), d(b), stride, pad, dil, groups).numpy()


def tol(c_in_per_group, k):
    # float32 sums of c*k*k products of unit-normal values
    return dict(rtol=1e-4, atol=2e-6 * np.sqrt(c_in_per_group * k * k) * 10)


# (N, C, H, W, O, kernel, stride, padding); OW covers 1..57 (AVX-512: one-row tiles of up to
# 14, two-row tiles for OW 4..7; AVX2: one-row tiles of up to 6), O not a multiple of 16 or 32,
# C = 1, 3, 17
SHAPES = [
    (1, 3, 5, 1, 17, 3, 1, 1),      # OW 1
    (3, 1, 6, 3, 1, 3, 1, 1),       # OW 3, one output channel
    (2, 17, 7, 7, 33, 3, 1, 1),     # OW 7: two-row tiles, rows paired across images
    (1, 3, 9, 13, 65, 3, 1, 0),     # OW 11, no padding
    (3, 17, 5, 13, 32, 3, 1, 1),    # OW 13
    (1, 5, 14, 14, 64, 3, 1, 1),    # OW 14: one full tile
    (2, 3, 6, 15, 17, 3, 1, 1),     # OW 15: 7 + 8
    (1, 4, 5, 17, 40, 3, 1, 2),     # OW 19, padding 2
    (1, 3, 4, 29, 33, 3, 1, 1),     # OW 29: 3 tiles
    (3, 2, 3, 57, 1, 3, 1, 1),      # OW 57: 5 tiles
    (1, 6, 8, 9, 16, 5, 1, 2),      # 5x5
    (2, 3, 12, 12, 48, 1, 1, 1),    # padded 1x1
    (2, 8, 15, 15, 32, 3, 2, 1),    # stride 2, OW 8
    (1, 3, 30, 30, 64, 7, 2, 3),    # stem-like 7x7 stride 2, OW 15
    (3, 5, 9, 27, 17, 3, 2, 0),     # stride 2, OW 13, no padding
    (2, 4, 12, 11, 33, 3, 2, 1),    # stride 2, OW 6: two-row tiles at stride 2
]


@pytest.mark.parametrize("case", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_forward_vs_torch(case, bias, forced):
    n, c, h, w_, o, k, s, p = case
    x, w, b = rand((n, c, h, w_), 1), rand((o, c, k, k), 2), rand((o,), 3) if bias else None
    y = np.asarray(_C._conv(x, w, b, (s, s), (p, p), (1, 1), 1))
    r = ref(x, w, b, s, p)
    assert y.shape == r.shape
    np.testing.assert_allclose(y, r, **tol(c, k))


@pytest.mark.parametrize("case", [s for s in SHAPES if s[6] == 1 and s[7] <= s[5] - 1])
def test_grad_input_vs_torch(case, forced):
    # stride 1 with padding <= k-1: grad_input runs as this forward with the flipped kernel
    n, c, h, w_, o, k, s, p = case
    x, w = rand((n, c, h, w_), 4), rand((o, c, k, k), 5)
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ty = tF.conv2d(tx, torch.tensor(w, dtype=torch.float64), None, 1, p)
    gy = rand(tuple(ty.shape), 6)
    (tgx,) = torch.autograd.grad(ty, (tx,), torch.tensor(gy, dtype=torch.float64))
    gx = np.asarray(_C._conv_grad_input(gy, w, x.shape, (1, 1), (p, p), (1, 1), 1))
    np.testing.assert_allclose(gx, tgx.numpy(), **tol(o, k))


def test_grad_input_through_autograd(forced):
    x, w, b = rand((2, 16, 10, 10), 7), rand((32, 16, 3, 3), 8), rand((32,), 9)
    ex, ew, eb = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
    ember.sum(ember.nn.functional.conv2d(ex, ew, eb, 1, 1)).backward()
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tF.conv2d(tx, torch.tensor(w, dtype=torch.float64), None, 1, 1).sum().backward()
    np.testing.assert_allclose(np.asarray(ex.grad), tx.grad.numpy(), **tol(32, 3))


@pytest.mark.parametrize("groups,dil", [(2, 1), (1, 2), (4, (2, 1))])
def test_groups_and_dilation(groups, dil, forced):
    x, w, b = rand((2, 8, 11, 16), 10), rand((64, 8 // groups, 3, 3), 11), rand((64,), 12)
    y = np.asarray(_C._conv(x, w, b, (1, 1), (2, 2), dil if isinstance(dil, tuple) else (dil, dil), groups))
    np.testing.assert_allclose(y, ref(x, w, b, 1, 2, dil, groups), **tol(8 // groups, 3))


def test_nonfinite_input_stays_local(forced):
    # an inf must reach only the outputs whose window covers it (17 channels: the tail lanes of
    # the channel block multiply it by zero weights into NaN, and must not be stored)
    x, w = rand((1, 3, 12, 20), 13), rand((17, 3, 3, 3), 14)
    x[0, 1, 5, 19] = np.inf
    y = np.asarray(_C._conv(x, w, None, (1, 1), (1, 1), (1, 1), 1))
    r = ref(x, w, None, 1, 1)
    assert np.array_equal(np.isfinite(y), np.isfinite(r))
    fin = np.isfinite(r)
    np.testing.assert_allclose(y[fin], r[fin], **tol(3, 3))


@pytest.mark.parametrize("case", [(3, 17, 7, 7, 33, 3, 1, 1), (2, 16, 14, 29, 64, 3, 1, 1),
                                  (1, 64, 9, 9, 96, 3, 1, 1), (2, 8, 15, 15, 32, 3, 2, 1)])
def test_same_bits_for_any_thread_count(case, forced):
    n, c, h, w_, o, k, s, p = case
    x, w, b = rand((n, c, h, w_), 15), rand((o, c, k, k), 16), rand((o,), 17)
    geo = ((s, s), (p, p), (1, 1), 1)
    gy = rand(tuple(_C._conv(x, w, None, *geo).shape), 18)
    def run():
        out = [_C._conv(x, w, b, *geo)]
        if s == 1:
            out.append(_C._conv_grad_input(gy, w, x.shape, *geo))
        return out

    assert_same_bits_across_threads(run)


def run_mode(monkeypatch, mode, fn):
    if mode is None:
        monkeypatch.delenv("EMBER_CONV_OCFWD", raising=False)
    else:
        monkeypatch.setenv("EMBER_CONV_OCFWD", mode)
    return np.asarray(fn())


# the output channels of a block: whole blocks take the route by default
BLOCK = {"avx2": 16, "avx512": 32}


def test_shape_rule_routes_resnet_layers(isa, monkeypatch):
    # 576 taps: the other routes sum them in two or three blocks added through y, this route in
    # one chain, so the bits tell the routes apart; the default must match the forced route on
    # a 3x3 layer with whole channel blocks, and the other routes where O is not a multiple of
    # the block
    x, w, b = rand((2, 64, 14, 14), 19), rand((64, 64, 3, 3), 20), rand((64,), 21)
    gy = rand((2, 64, 14, 14), 22)
    conv = lambda: _C._conv(x, w, b, (1, 1), (1, 1), (1, 1), 1)  # noqa: E731
    gin = lambda: _C._conv_grad_input(gy, w, x.shape, (1, 1), (1, 1), (1, 1), 1)  # noqa: E731
    for fn in (conv, gin):
        on, off, auto = (run_mode(monkeypatch, m, fn) for m in ("1", "0", None))
        assert not np.array_equal(on, off)
        assert np.array_equal(auto, on)
        np.testing.assert_allclose(on, off, rtol=1e-4, atol=1e-4)
    o2 = BLOCK[isa] + 8
    w2, b2 = rand((o2, 64, 3, 3), 23), rand((o2,), 24)
    conv2 = lambda: _C._conv(x, w2, b2, (1, 1), (1, 1), (1, 1), 1)  # noqa: E731
    on, off, auto = (run_mode(monkeypatch, m, conv2) for m in ("1", "0", None))
    assert not np.array_equal(on, off)
    assert np.array_equal(auto, off)
    np.testing.assert_allclose(on, ref(x, w2, b2, 1, 1), **tol(64, 3))
