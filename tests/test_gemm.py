"""The GEMM kernels through matmul and ember.nn.functional.linear, against
NumPy in float64 on shapes bigger than the C tests use (several cache
blocks), batched and broadcast products, both instruction-set paths,
thread counts, and error messages."""
import numpy as np
import pytest
import torch

import ember
from ember.nn.functional import linear

from conftest import assert_same_bits_across_threads, use_isa

ISAS = ["portable", "avx2", "avx512"]


@pytest.fixture(params=ISAS)
def isa(request):
    yield from use_isa(request.param)


def rnd(shape, dt, seed):
    return np.random.default_rng(seed).uniform(-1, 1, size=shape).astype(dt)


def close(got, want64, dt, k):
    """float32 results within a K-scaled tolerance of the float64 product."""
    got = np.asarray(got)
    eps = 1.2e-7 if dt == "float32" else 2.3e-16
    tol = 8 * eps * np.sqrt(k + 1) * (1 + np.abs(want64))
    assert got.shape == want64.shape
    assert np.all(np.abs(got.astype(np.float64) - want64) <= tol), np.max(np.abs(got - want64))


@pytest.mark.parametrize("m, k, n", [(300, 520, 200), (1, 784, 128), (16, 784, 130), (145, 257, 4100),
                                     (64, 300, 1), (7, 1000, 33)])
@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_matmul_big_vs_float64(isa, m, k, n, dt):
    a, b = rnd((m, k), dt, 1), rnd((k, n), dt, 2)
    want = a.astype(np.float64) @ b.astype(np.float64)
    close(ember.matmul(ember.asarray(a), ember.asarray(b)), want, dt, k)
    # transposed operands: the x @ W^T layout and a column-major A
    bt = np.ascontiguousarray(b.T)
    close(ember.matmul(ember.asarray(a), ember.asarray(bt).mT), want, dt, k)
    at = np.ascontiguousarray(a.T)
    close(ember.matmul(ember.asarray(at).mT, ember.asarray(b)), want, dt, k)


@pytest.mark.parametrize("sa, sb", [((4, 37, 50), (50, 21)), ((3, 1, 9, 20), (5, 20, 7)), ((2, 3, 20), (2, 20, 17)),
                                    ((40,), (6, 40, 3)), ((6, 2, 40), (40,))])
def test_batched_and_broadcast(isa, sa, sb):
    a, b = rnd(sa, "float32", 3), rnd(sb, "float32", 4)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    close(ember.matmul(ember.asarray(a), ember.asarray(b)), want, "float32", sa[-1])
    # non-contiguous batch views: every other batch entry, reversed rows
    if len(sa) == 3 and len(sb) == 2:
        big = rnd((sa[0] * 2, sa[1], sa[2]), "float32", 5)
        view = big[::2, ::-1]
        want = np.matmul(view.astype(np.float64), b.astype(np.float64))
        close(ember.matmul(ember.asarray(big)[::2, ::-1], ember.asarray(b)), want, "float32", sa[-1])


ACTS = {None: lambda x: x, "relu": torch.relu, "gelu": torch.nn.functional.gelu,
        "gelu_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh"), "sigmoid": torch.sigmoid,
        "tanh": torch.tanh, "silu": torch.nn.functional.silu}


@pytest.mark.parametrize("shape", [(784,), (1, 784), (16, 784), (3, 50, 784)])
@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_linear_vs_torch(isa, shape, dt):
    x, w, b = rnd(shape, dt, 6), rnd((130, 784), dt, 7), rnd((130,), dt, 8)
    want = torch.nn.functional.linear(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                      torch.from_numpy(b).double()).numpy()
    y = linear(ember.asarray(x), ember.asarray(w), ember.asarray(b))
    assert y.dtype == ember.float32 if dt == "float32" else ember.float64
    close(y, want, dt, 784)
    close(linear(x, w), want - b, dt, 784)  # NumPy inputs, no bias


@pytest.mark.parametrize("act", list(ACTS))
def test_linear_fused_activation(isa, act):
    x, w, b = rnd((37, 200), "float32", 9), rnd((45, 200), "float32", 10), rnd((45,), "float32", 11)
    pre = torch.nn.functional.linear(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                     torch.from_numpy(b).double())
    want = ACTS[act](pre).numpy()
    got = np.asarray(ember._C._linear(x, w, b, act))
    assert np.allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("m,k,n", [(64, 784, 128), (90, 300, 40), (96, 260, 200), (97, 260, 200), (300, 260, 200)])
@pytest.mark.parametrize("own_b", [False, True])
def test_threads_bit_identical_by_rows_and_columns(m, k, n, own_b):
    # one block of rows (M <= mc, 96 on AVX2 and AVX-512) splits the columns between threads, more rows go
    # through the shared packed B; B NumPy's (off the vector loads: packed) or ember's (in place)
    a, b = rnd((m, k), "float32", 18), rnd((k, n), "float32", 19)
    ta, tb = ember.asarray(a), ember.tensor(b) if own_b else ember.asarray(b)
    assert_same_bits_across_threads(lambda: ember.matmul(ta, tb))
    close(np.asarray(ember.matmul(ta, tb)), a.astype(np.float64) @ b.astype(np.float64), "float32", k)


def test_paths_agree_and_threads_bit_identical():
    a, b = rnd((200, 300), "float32", 12), rnd((300, 150), "float32", 13)
    ta, tb = ember.asarray(a), ember.asarray(b)
    assert_same_bits_across_threads(lambda: [ember.matmul(ta, tb), linear(ta, tb.mT)])
    res = {}
    for isa in ISAS:
        try:
            ember._C._gemm_set_isa(isa)
        except Exception:
            continue
        res[isa] = np.asarray(ember.matmul(ta, tb))
    ember._C._gemm_set_isa("auto")
    for r in res.values():
        assert np.allclose(r, res["portable"], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("isa", ["avx2", "avx512"], indirect=True)
@pytest.mark.parametrize("k", [300, 1100, 2100])
def test_packed_a_gives_the_bits_of_a_read_in_place(isa, k):
    # A's rows 4.4 or 8.4 KB apart: a 96-row block spans more than half the L2 and is packed;
    # 16-row slices run the skinny form, which reads A in place with the same chains (one per kc
    # block of K), so every row must come out bit for bit
    a, b = rnd((200, k), "float32", 14), rnd((k, 70), "float32", 15)
    full = np.asarray(ember.matmul(ember.asarray(a), ember.asarray(b)))
    for i in range(0, 200, 16):
        rows = np.asarray(ember.matmul(ember.asarray(a[i:i + 16]), ember.asarray(b)))
        assert np.array_equal(full[i:i + 16], rows), i
    close(full, a.astype(np.float64) @ b.astype(np.float64), "float32", k)


@pytest.mark.parametrize("isa", ["avx2", "avx512"], indirect=True)
@pytest.mark.parametrize("shift", [0, 1, 4, 8])
def test_b_off_the_vector_alignment_gives_the_same_bits(isa, shift):
    # a small B is read in place only where its rows sit on the kernel's vector loads, else it is
    # packed; both read B through the same chains, so the bits may not depend on where B starts
    a = rnd((256, 256), "float32", 16)
    buf = rnd((256 * 256 + 8,), "float32", 17)
    b = buf[shift:shift + 256 * 256].reshape(256, 256)  # a view: ember.asarray shares its memory
    moved = np.asarray(ember.matmul(ember.asarray(a), ember.asarray(b)))
    aligned = np.asarray(ember.matmul(ember.asarray(a), ember.tensor(b)))
    assert np.array_equal(moved, aligned)
    close(moved, a.astype(np.float64) @ b.astype(np.float64), "float32", 256)


def test_errors_name_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 6\)"):
        ember.matmul(ember.ones((3, 4)), ember.ones((5, 6)))
    with pytest.raises(ValueError, match=r"\(2, 7\).*\(5, 6\)"):
        linear(ember.ones((2, 7)), ember.ones((5, 6)))
    with pytest.raises(ValueError, match=r"bias"):
        linear(ember.ones((2, 6)), ember.ones((5, 6)), ember.ones((4,)))
    with pytest.raises(TypeError, match=r"float64"):
        linear(ember.ones((2, 6), dtype=ember.float32), ember.ones((5, 6), dtype=ember.float64))
    with pytest.raises(TypeError, match=r"int32"):
        linear(ember.ones((2, 6), dtype=ember.int32), ember.ones((5, 6), dtype=ember.int32))
    with pytest.raises(ValueError, match=r"activation"):
        ember._C._linear(ember.ones((2, 6)), ember.ones((5, 6)), None, "swish")
    with pytest.raises(ValueError, match=r"instruction set"):
        ember._C._gemm_set_isa("sse9")


def test_empty_and_k0():
    z = ember.matmul(ember.ones((3, 0)), ember.ones((0, 4)))
    assert np.array_equal(np.asarray(z), np.zeros((3, 4), np.float32))
    y = linear(ember.ones((2, 0)), ember.ones((3, 0)), ember.asarray(np.array([1, 2, 3], np.float32)))
    assert np.array_equal(np.asarray(y), np.array([[1, 2, 3], [1, 2, 3]], np.float32))
    assert linear(ember.ones((0, 5)), ember.ones((3, 5))).shape == (0, 3)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 16])
def test_linear_weight_alignment_does_not_change_bits(isa, m):
    """x @ W^T reads W's rows in place; at any 4-byte offset of W in memory (NumPy arrays are
    16-byte aligned) the result has the same bits, and matches the float64 product."""
    k, n = 112, 21  # rows 448 bytes apart: all at the same offset within a 64-byte line
    x, w0, b = rnd((m, k), "float32", 30), rnd((n, k), "float32", 31), rnd((n,), "float32", 32)
    buf = np.zeros(n * k + 64, np.float32)
    base = (-(buf.ctypes.data // 4)) % 16  # index of the first 64-byte aligned float
    outs = []
    for off in range(16):
        w = buf[base + off: base + off + n * k].reshape(n, k)
        w[...] = w0
        assert w.ctypes.data % 64 == 4 * off
        outs.append(np.asarray(linear(ember.asarray(x), ember.asarray(w), ember.asarray(b))))
    want = x.astype(np.float64) @ w0.T.astype(np.float64) + b
    close(outs[0], want, "float32", k)
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])
