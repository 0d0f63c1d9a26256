"""grad_input of 1x1 stride-1 convolutions (ops/conv.c, plan_pointwise_bwd_x):
where one image's grad_output is larger than the GEMM reads in place, its
columns go to the GEMM in chunks of 256 copied into a small buffer.  Checked
against PyTorch in float64 (float32 and float64, groups, a last partial chunk),
against the single-call product the chunks must reproduce bit for bit, and for
bit identity across thread counts."""
import numpy as np
import pytest
import torch

import ember
from ember import _C

from conftest import assert_same_bits_across_threads


def rand(shape, seed, dt):
    return np.random.default_rng(seed).standard_normal(shape).astype(dt)


def torch_gi(gy, w, xshape, groups):
    t = torch.ops.aten.convolution_backward(
        torch.tensor(gy, dtype=torch.float64), torch.zeros(xshape, dtype=torch.float64),
        torch.tensor(w, dtype=torch.float64), None, [1, 1], [0, 0], [1, 1], False, [0, 0], groups,
        [True, False, False])[0]
    return t.numpy()


# (N, C, (H, W), O, groups): the first ones take the chunked route (Og * P * 4 > 512 KiB, P > 256)
SHAPES = [
    (2, 64, (56, 56), 256, 1),    # the ResNet bottleneck layer: 12 full chunks and one of 64 columns
    (3, 5, (40, 41), 130, 1),     # odd sizes: 7 chunks, the last of 104 columns, 5 rows of the product
    (2, 12, (37, 30), 192, 2),    # two groups of 96 output channels
    (2, 8, (9, 9), 16, 1),        # small: one call (read in place)
]


@pytest.mark.parametrize("dt,tol", [("float32", 2e-4), ("float64", 1e-12)])
@pytest.mark.parametrize("shape", SHAPES)
def test_pointwise_grad_input_matches_torch(shape, dt, tol):
    N, C, (H, W), O, G = shape
    w = rand((O, C // G, 1, 1), 1, dt)
    gy = rand((N, O, H, W), 2, dt)
    geo = ((1, 1), (0, 0), (1, 1), G)
    got = np.asarray(_C._conv_grad_input(ember.asarray(gy), ember.asarray(w), (N, C, H, W), *geo))
    ref = torch_gi(gy, w, (N, C, H, W), G)
    assert got.dtype == np.dtype(dt)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(got, ref, rtol=0, atol=tol * scale)


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES[:3])
def test_pointwise_grad_input_chunks_equal_one_product(shape, dt):
    """The chunks must give the bits of one matrix product per image and group
    (ember's matmul: its summation order does not depend on the column count)."""
    N, C, (H, W), O, G = shape
    w = rand((O, C // G, 1, 1), 3, dt)
    gy = rand((N, O, H, W), 4, dt)
    got = np.asarray(_C._conv_grad_input(ember.asarray(gy), ember.asarray(w), (N, C, H, W), (1, 1), (0, 0), (1, 1), G))
    Og, Cg = O // G, C // G
    for n in range(N):
        for g in range(G):
            wt = np.ascontiguousarray(w[g * Og:(g + 1) * Og, :, 0, 0].T)          # Cg x Og
            b = np.ascontiguousarray(gy[n, g * Og:(g + 1) * Og].reshape(Og, H * W))
            ref = np.asarray(ember.matmul(ember.asarray(wt), ember.asarray(b)))
            assert np.array_equal(got[n, g * Cg:(g + 1) * Cg].reshape(Cg, H * W), ref)


@pytest.mark.parametrize("shape", SHAPES[:3])
def test_pointwise_grad_input_same_bits_across_threads(shape):
    N, C, (H, W), O, G = shape
    ew = ember.asarray(rand((O, C // G, 1, 1), 5, "float32"))
    egy = ember.asarray(rand((N, O, H, W), 6, "float32"))
    assert_same_bits_across_threads(
        lambda: _C._conv_grad_input(egy, ew, (N, C, H, W), (1, 1), (0, 0), (1, 1), G))
