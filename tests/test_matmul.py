"""matmul (function, @ operator, Tensor methods), tensordot, vecdot,
matrix_transpose and the ember.linalg namespace against NumPy and PyTorch."""
import inspect
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import ember
from conftest import ALL_DTYPES, assert_same, layouts, sample

SHAPES = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)), ((2, 3, 4), (4, 5)),
          ((4,), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((1, 4), (4, 1)), ((0, 4), (4, 3)), ((3, 0), (0, 2)),
          ((2, 3, 4), (2, 4, 1))]


def tol(dt):
    return dict(rtol=1e-5, atol=1e-5) if dt == "float32" else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sa, sb", SHAPES)
@pytest.mark.parametrize("dt", ["float32", "float64", "int32", "int64"])
def test_matmul_shapes_vs_numpy(sa, sb, dt):
    a, b = sample(sa, dt, seed=1), sample(sb, dt, seed=2)
    exp = np.matmul(a, b)
    ta, tb = ember.asarray(a), ember.asarray(b)
    assert_same(ember.matmul(ta, tb), exp, **tol(dt))
    assert_same(ta @ tb, exp, **tol(dt))
    assert_same(ember.linalg.matmul(ta, tb), exp, **tol(dt))


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_matmul_every_dtype_and_layout(dt):
    for name, na, ta in layouts(sample((5, 4), dt, seed=3)):
        for lname, nb, tb in layouts(sample((na.shape[-1], 6), dt, seed=4)):
            if nb.shape[0] != na.shape[-1]:
                continue
            exp = np.matmul(na.astype(np.int64), nb.astype(np.int64)) != 0 if dt == "bool" else np.matmul(na, nb)
            assert_same(ember.matmul(ta, tb), exp.astype(dt), **tol(dt))


@pytest.mark.parametrize("da, db", [("int8", "uint8"), ("int32", "float32"), ("float32", "float64"),
                                    ("bool", "int64"), ("uint8", "int64")])
def test_matmul_promotes(da, db):
    a, b = sample((3, 4), da, seed=5), sample((4, 2), db, seed=6)
    got = ember.matmul(ember.asarray(a), ember.asarray(b))
    assert got.dtype == ember.result_type(ember.asarray(a), ember.asarray(b))
    assert_same(got, np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(got.dtype.name),
                **tol(got.dtype.name))


def test_int_matmul_wraps_like_numpy():
    a = np.full((2, 3), 100, np.int8)
    assert_same(ember.matmul(ember.asarray(a), ember.asarray(a.T)), np.matmul(a, a.T))


def test_matmul_vs_torch_float32():
    a, b = sample((2, 65, 130), "float32", seed=7), sample((130, 97), "float32", seed=8)
    exp = torch.matmul(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert_same(ember.matmul(ember.asarray(a), ember.asarray(b)), exp, rtol=1e-4, atol=1e-4)
    big = sample((300, 257), "float32", seed=9)  # crosses the GIL-release threshold
    assert_same(ember.asarray(big) @ ember.asarray(big.T),
                (torch.from_numpy(big) @ torch.from_numpy(big.T)).numpy(), rtol=1e-4, atol=1e-3)


def test_matmul_array_likes():
    assert_same(ember.matmul([[1, 2]], [[3], [4]]), np.array([[11]]))
    assert_same(ember.matmul(np.eye(2), ember.asarray(np.ones(2))), np.ones(2))
    a = ember.asarray(np.ones((2, 2), np.float32))
    assert_same(a @ np.eye(2, dtype=np.float32), np.ones((2, 2), np.float32))
    assert_same(np.eye(2, dtype=np.float32) @ a, np.ones((2, 2), np.float32))


def test_matmul_errors_name_both_shapes():
    a, b = ember.asarray(np.ones((2, 3), np.float32)), ember.asarray(np.ones((4, 5), np.float32))
    pat = re.escape("(2, 3) float32") + ".*" + re.escape("(4, 5) float32")
    with pytest.raises(ValueError, match=pat):
        ember.matmul(a, b)
    with pytest.raises(ValueError, match=pat):
        a @ b
    with pytest.raises(ValueError, match="matmul.*0-d"):
        ember.matmul(a, 2.0)
    with pytest.raises(TypeError):
        a @ 2.0
    with pytest.raises(ValueError, match="batch"):
        ember.matmul(ember.asarray(np.ones((2, 2, 3))), ember.asarray(np.ones((3, 3, 4))))
    with pytest.raises(TypeError, match="matmul.*2 positional"):
        ember.matmul(a)
    with pytest.raises(TypeError, match="convert"):
        ember.matmul(a, object())
    assert str(inspect.signature(ember.matmul)) == "(x1, x2, /)"


def test_matmul_inplace_and_methods():
    a, b = sample((3, 3), "float64", seed=10), sample((3, 3), "float64", seed=11)
    t = ember.asarray(a.copy())
    alias = t
    t @= ember.asarray(b)
    assert t is alias
    assert_same(t, a @ b)
    ta, tb = ember.asarray(a), ember.asarray(b)
    assert_same(ta.matmul(tb), a @ b)
    assert_same(ta.mm(tb), a @ b)
    with pytest.raises(ValueError, match=r"mm: both operands must be 2-D.*\(3,\)"):
        ta.mm(tb[0])


# ---- tensordot, vecdot, matrix_transpose ----------------------------------

@pytest.mark.parametrize("sa, sb, axes", [
    ((3, 4, 5), (4, 5, 2), 2), ((3, 4), (4, 5), 1), ((2, 3), (4,), 0), ((3, 4, 5), (5, 3), ([0, 2], [1, 0])),
    ((3, 4), (4, 3), ([1, 0], [0, 1])), ((2, 3), (3, 2), (-1, 0)), ((4,), (4,), 1), ((0, 3), (3, 2), 1),
])
@pytest.mark.parametrize("dt", ["float64", "int32"])
def test_tensordot_vs_numpy(sa, sb, axes, dt):
    a, b = sample(sa, dt, seed=12), sample(sb, dt, seed=13)
    exp = np.tensordot(a, b, axes=axes)
    assert_same(ember.tensordot(ember.asarray(a), ember.asarray(b), axes=axes), exp, **tol(dt))
    assert_same(ember.linalg.tensordot(ember.asarray(a).T.T, b, axes=axes), exp, **tol(dt))


def test_tensordot_errors():
    a, b = ember.asarray(np.ones((2, 3))), ember.asarray(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"contracted sizes.*\(2, 3\).*\(4, 2\)"):
        ember.tensordot(a, b, axes=1)
    with pytest.raises(ValueError, match="axes=3"):
        ember.tensordot(a, b, axes=3)
    with pytest.raises(IndexError, match="axis 5"):
        ember.tensordot(a, b, axes=([5], [0]))
    with pytest.raises(ValueError, match="repeated"):
        ember.tensordot(a, a, axes=([0, 0], [0, 1]))


@pytest.mark.parametrize("sa, sb, axis", [((3, 4), (3, 4), -1), ((3, 4), (4,), -1), ((2, 3, 4), (3, 4), -2),
                                          ((5,), (5,), 0), ((2, 1, 3), (4, 3), -1)])
@pytest.mark.parametrize("dt", ["float32", "int64"])
def test_vecdot_vs_numpy(sa, sb, axis, dt):
    a, b = sample(sa, dt, seed=14), sample(sb, dt, seed=15)
    exp = np.vecdot(np.moveaxis(np.broadcast_arrays(a, b)[0], axis, -1),
                    np.moveaxis(np.broadcast_arrays(a, b)[1], axis, -1))
    assert_same(ember.vecdot(ember.asarray(a), ember.asarray(b), axis=axis), exp.astype(dt), **tol(dt))
    assert_same(ember.linalg.vecdot(a, b, axis=axis), exp.astype(dt), **tol(dt))


def test_vecdot_errors():
    a = ember.asarray(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"sizes 4 and 3.*\(3, 4\).*\(4, 3\)"):
        ember.vecdot(a, a.T)
    with pytest.raises(IndexError, match="vecdot: axis -3"):
        ember.vecdot(a, a, axis=-3)


def test_matrix_transpose():
    a = sample((2, 3, 4), "int32", seed=16)
    t = ember.asarray(a)
    got = ember.matrix_transpose(t)
    assert_same(got, np.matrix_transpose(a))
    assert got._shares_memory(t)
    assert_same(ember.linalg.matrix_transpose(a), np.matrix_transpose(a))
    with pytest.raises(ValueError):
        ember.matrix_transpose(ember.asarray(np.ones(3)))


def test_linalg_namespace():
    import ember.linalg as la
    assert la is ember.linalg
    for name in ("matmul", "vector_norm", "tensordot", "vecdot", "matrix_transpose"):
        assert callable(getattr(la, name))
    assert la.vector_norm(ember.asarray(np.array([3.0, 4.0]))).item() == 5.0


@settings(max_examples=50, deadline=None)
@given(batch=st.lists(st.integers(1, 3), max_size=2), m=st.integers(0, 5), k=st.integers(1, 6),
       n=st.integers(1, 5), seed=st.integers(0, 100), transpose=st.booleans())
def test_random_matmul(batch, m, k, n, seed, transpose):
    a, b = sample(tuple(batch) + (m, k), "float64", seed=seed), sample((k, n), "float64", seed=seed + 1)
    tb = ember.asarray(np.ascontiguousarray(b.T)).mT if transpose else ember.asarray(b)
    assert_same(ember.matmul(ember.asarray(a), tb), np.matmul(a, b), rtol=1e-12, atol=1e-12)

