"""Reductions, scans and vector norms against NumPy (and the PyTorch-style
Tensor methods against PyTorch): axes, keepdims, correction, dtypes,
layouts, empty and NaN edge cases, errors."""
import inspect
import warnings

import numpy as np
import pytest
import scipy.special as sp
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import ember
from conftest import ALL_DTYPES, FLOAT_DTYPES, assert_same, layouts, sample


def _float_out(dt):
    return dt if dt in FLOAT_DTYPES else "float32"


def _sum_out(dt):
    return dt if dt in FLOAT_DTYPES else "int64"


# op -> (NumPy reference on float64/int64 data, result dtype of an input dtype)
REDUCE = {
    "sum": (np.sum, _sum_out), "prod": (np.prod, _sum_out), "mean": (np.mean, _float_out),
    "max": (np.max, lambda dt: dt), "min": (np.min, lambda dt: dt),
    "var": (np.var, _float_out), "std": (np.std, _float_out),
    "logsumexp": (sp.logsumexp, _float_out), "all": (np.all, lambda dt: "bool"),
    "any": (np.any, lambda dt: "bool"), "count_nonzero": (np.count_nonzero, lambda dt: "int64"),
    "vector_norm": (np.linalg.vector_norm, _float_out),
}


def expected(op, a, **kw):
    ref, out = REDUCE[op]
    dt = out(a.dtype.name)
    x = a.astype(np.float64) if dt in FLOAT_DTYPES else a.astype(np.int64) if dt == "int64" and op != "count_nonzero" else a
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if op == "count_nonzero" and kw.get("keepdims") and kw.get("axis") is None:
            kw["axis"] = tuple(range(a.ndim))
        r = np.asarray(ref(x, **kw))
    return r.astype(dt)


def tol(a_dtype, op):
    return dict(rtol=1e-5, atol=1e-5) if _float_out(a_dtype) == "float32" else dict(rtol=1e-11, atol=1e-12)


AXES = [None, 0, 1, -1, (0, 2), (2, 1), (0, 1, 2), ()]


@pytest.mark.parametrize("op", sorted(REDUCE))
@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_reductions_vs_numpy(op, dt):
    a = sample((3, 4, 5), dt, seed=1, low=-2, high=3)
    for name, na, ta in layouts(a):
        for axis in AXES:
            for keepdims in (False, True):
                exp = expected(op, na, axis=axis, keepdims=keepdims)
                got = getattr(ember, op)(ta, axis=axis, keepdims=keepdims)
                assert_same(got, exp, **tol(dt, op))


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_argmax_argmin_vs_numpy(dt):
    a = sample((4, 3, 5), dt, seed=2)
    for name, na, ta in layouts(a):
        for axis in [None, 0, 1, -1]:
            for keepdims in (False, True):
                for op in ("argmax", "argmin"):
                    got = getattr(ember, op)(ta, axis=axis, keepdims=keepdims)
                    assert_same(got, getattr(np, op)(na, axis=axis, keepdims=keepdims).astype(np.int64))


def test_zero_dim_reductions():
    for dt in ALL_DTYPES:
        a = sample((), dt, seed=3)
        for op in REDUCE:
            assert_same(getattr(ember, op)(ember.asarray(a)), expected(op, a), **tol(dt, op))
        assert ember.argmax(ember.asarray(a)).item() == 0


@pytest.mark.parametrize("correction", [0, 1, 2.5, 5, 7])
@pytest.mark.parametrize("dt", ["float32", "float64", "int32"])
def test_var_std_correction(correction, dt):
    a = sample((5, 6), dt, seed=4)
    for axis in (None, 0, 1):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for op in ("var", "std"):
                exp = getattr(np, op)(a.astype(np.float64), axis=axis, ddof=correction).astype(_float_out(dt))
                assert_same(getattr(ember, op)(ember.asarray(a), axis=axis, correction=correction), exp,
                            **tol(dt, op))


@pytest.mark.parametrize("dt", ["bool", "uint8", "int8", "int32", "float32"])
@pytest.mark.parametrize("to", ["int8", "int32", "int64", "float32", "float64"])
def test_sum_prod_dtype_argument(dt, to):
    a = sample((4, 6), dt, seed=5)
    for op in ("sum", "prod"):
        got = getattr(ember, op)(ember.asarray(a), axis=1, dtype=to)
        assert got.dtype == to
        exp = getattr(np, op)(a.astype(to) if to in FLOAT_DTYPES else a.astype(np.int64), axis=1).astype(to)
        assert_same(got, exp, rtol=1e-5)
    big = ember.asarray(np.full(3, 100, np.int8))
    assert ember.sum(big, dtype="int8").item() == np.int8(44)  # wraps in the requested dtype
    assert ember.sum(big).item() == 300  # default: int64


def test_empty_reductions():
    e = ember.asarray(np.zeros((0, 3), np.float32))
    assert ember.sum(e).item() == 0 and ember.prod(e).item() == 1
    assert ember.all(e).item() is True and ember.any(e).item() is False
    assert ember.count_nonzero(e).item() == 0
    assert ember.logsumexp(e).item() == -np.inf and ember.vector_norm(e).item() == 0
    assert np.isnan(ember.mean(e).item()) and np.isnan(ember.var(e).item())
    assert_same(ember.sum(e, axis=0), np.zeros(3, np.float32))
    assert_same(ember.max(e, axis=1), np.zeros((0,), np.float32))  # nothing to reduce per output
    assert_same(ember.sum(e, axis=1, keepdims=True), np.zeros((0, 1), np.float32))
    assert ember.sum(ember.asarray(np.zeros(0, np.int32))).dtype == "int64"
    for op in ("max", "min", "argmax", "argmin"):
        with pytest.raises(ValueError, match=f"{op}.*zero-size.*identity"):
            getattr(ember, op)(e)
        with pytest.raises(ValueError, match=r"axis 0.*\(0, 3\)"):
            getattr(ember, op)(e, axis=0)


def test_nan_handling():
    a = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0], [np.nan, -np.inf, 0.0]])
    t = ember.asarray(a)
    for op in ("sum", "mean", "max", "min", "prod", "var", "logsumexp", "vector_norm"):
        assert_same(getattr(ember, op)(t, axis=1), expected(op, a, axis=1))
        assert_same(getattr(ember, op)(t.T, axis=0), expected(op, a.T, axis=0))
    assert_same(ember.argmax(t, axis=1), np.argmax(a, axis=1))  # the first NaN wins
    assert_same(ember.argmin(t), np.argmin(a))
    assert_same(ember.all(t, axis=1), np.all(a, axis=1))  # NaN is nonzero
    assert ember.logsumexp(ember.asarray(np.array([np.inf, 1.0]))).item() == np.inf
    assert ember.logsumexp(ember.asarray(np.array([-np.inf, -np.inf]))).item() == -np.inf
    big = ember.asarray(np.array([1000.0, 1000.0], np.float32))
    assert ember.logsumexp(big).item() == pytest.approx(1000 + np.log(2))  # stable


@pytest.mark.parametrize("ord", [1, 2, 3, 0.5, 0, np.inf, -np.inf])
@pytest.mark.parametrize("dt", ["int32", "float32", "float64"])
def test_vector_norm_orders(ord, dt):
    a = sample((4, 5), dt, seed=6)
    for name, na, ta in layouts(a):
        for axis in (None, 0, (0, 1), -1):
            exp = np.linalg.vector_norm(na.astype(np.float64), axis=axis, ord=ord).astype(_float_out(dt))
            assert_same(ember.vector_norm(ta, axis=axis, ord=ord), exp, **tol(dt, "norm"))
            assert_same(ember.linalg.vector_norm(ta, axis=axis, ord=ord), exp, **tol(dt, "norm"))
    assert_same(ember.norm(ember.asarray(a), ord=ord), np.linalg.vector_norm(a.astype(np.float64), ord=ord)
                .astype(_float_out(dt)), **tol(dt, "norm"))


# ---- scans ----------------------------------------------------------------

@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_cumulative_sum_vs_numpy(dt):
    a = sample((3, 4), dt, seed=7, low=-3, high=3)
    out = _sum_out(dt)
    for name, na, ta in layouts(a):
        for axis in (0, 1, -1):
            assert_same(ember.cumulative_sum(ta, axis=axis), np.cumsum(na, axis=axis).astype(out))
            assert_same(ember.cumulative_prod(ta, axis=axis), np.cumprod(na, axis=axis).astype(out))
            assert_same(ember.cumsum(ta, axis), np.cumsum(na, axis=axis).astype(out))
            assert_same(ember.cumprod(ta, axis=axis), np.cumprod(na, axis=axis).astype(out))
            exp = np.cumulative_sum(na, axis=axis, include_initial=True).astype(out)
            assert_same(ember.cumulative_sum(ta, axis=axis, include_initial=True), exp)
        assert_same(ember.cumsum(ta), np.cumsum(na).astype(out))  # flattened
    v = sample((6,), dt, seed=8)
    assert_same(ember.cumulative_sum(ember.asarray(v)), np.cumsum(v).astype(out))
    assert_same(ember.cumulative_sum(ember.asarray(v)[::-1], include_initial=True),
                np.concatenate([[0], np.cumsum(v[::-1])]).astype(out))
    assert_same(ember.cumulative_prod(ember.asarray(v), include_initial=True),
                np.concatenate([[1], np.cumprod(v)]).astype(out))


def test_cumulative_dtype_empty_and_errors():
    a = ember.asarray(np.full((2, 3), 100, np.int8))
    assert_same(ember.cumulative_sum(a, axis=1, dtype="int8"), np.cumsum(np.full((2, 3), 100, np.int8), axis=1,
                                                                          dtype=np.int8))
    assert ember.cumulative_sum(a, axis=1, dtype="float64").dtype == "float64"
    e = ember.asarray(np.zeros((0, 3), np.float32))
    assert ember.cumulative_sum(e, axis=0).shape == (0, 3)
    assert_same(ember.cumulative_sum(e, axis=0, include_initial=True), np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"cumulative_sum: axis must be given.*\(2, 3\)"):
        ember.cumulative_sum(a)
    with pytest.raises(IndexError, match="cumsum"):
        ember.cumulative_sum(a, axis=2)
    with pytest.raises(TypeError, match="axis must be an integer"):
        ember.cumsum(a, axis=(0, 1))
    with pytest.raises(TypeError, match="unexpected keyword"):
        ember.cumsum(a, include_initial=True)


# ---- argument handling and errors -----------------------------------------

def test_reduction_argument_errors():
    t = ember.asarray(sample((2, 3), "float32"))
    with pytest.raises(IndexError, match=r"sum.*axis"):
        ember.sum(t, axis=2)
    with pytest.raises(ValueError, match=r"max: axis -1 is repeated"):
        ember.max(t, axis=(1, -1))
    with pytest.raises(ValueError, match="argmax.*one axis"):
        ember.argmax(t, axis=(0, 1))
    with pytest.raises(TypeError, match="unexpected keyword argument 'dtype'"):
        ember.max(t, dtype="float64")
    with pytest.raises(TypeError, match="unexpected keyword argument 'correction'"):
        ember.mean(t, correction=1)
    with pytest.raises(TypeError, match="dtype"):
        ember.sum(t, dtype="complex64")
    with pytest.raises(ValueError, match="vector_norm|norm: ord"):
        ember.vector_norm(t, ord=-1)
    with pytest.raises(TypeError, match="correction must be a number"):
        ember.var(t, correction="1")
    with pytest.raises(ValueError, match="var: correction"):
        ember.var(t, correction=float("inf"))
    with pytest.raises(TypeError, match="missing required argument 'x'"):
        ember.sum()
    with pytest.raises(TypeError, match="axis must be an int"):
        ember.sum(t, axis="0")


def test_array_likes_and_positional_axis():
    assert ember.sum([[1, 2], [3, 4]]).item() == 10
    assert_same(ember.sum(np.arange(6).reshape(2, 3), 1), np.array([3, 12]))
    assert ember.mean([1, 2]).dtype == "float32"
    assert ember.max(5).item() == 5


def test_signatures():
    assert str(inspect.signature(ember.sum)) == "(x, /, *, axis=None, keepdims=False, dtype=None)"
    assert str(inspect.signature(ember.var)) == "(x, /, *, axis=None, keepdims=False, correction=0.0)"
    assert str(inspect.signature(ember.vector_norm)) == "(x, /, *, axis=None, keepdims=False, ord=2)"
    assert str(inspect.signature(ember.cumulative_sum)) == \
        "(x, /, *, axis=None, dtype=None, include_initial=False)"
    assert "pairwise" in ember.sum.__doc__


# ---- PyTorch-style methods ------------------------------------------------

def test_tensor_reduction_methods_vs_torch():
    a = sample((3, 4, 5), "float32", seed=9)
    t, tt = ember.asarray(a), torch.from_numpy(a)
    close = dict(rtol=1e-5, atol=1e-6)
    assert_same(t.sum(), tt.sum().numpy(), **close)
    assert_same(t.sum(1), tt.sum(1).numpy(), **close)
    assert_same(t.sum(dim=(0, 2), keepdim=True), tt.sum(dim=(0, 2), keepdim=True).numpy(), **close)
    assert_same(t.sum(axis=0, keepdims=True), tt.sum(0, keepdim=True).numpy(), **close)
    assert_same(t.sum(dtype="float64"), tt.sum(dtype=torch.float64).numpy(), **close)
    assert_same(t.mean(-1), tt.mean(-1).numpy(), **close)
    assert_same(t.mean(dtype="float64"), tt.mean(dtype=torch.float64).numpy(), **close)
    assert_same(t.prod(0), tt.prod(0).numpy(), **close)
    assert_same(t.var(), tt.var().numpy(), **close)  # unbiased by default, as torch
    assert_same(t.var(1, unbiased=False), tt.var(1, unbiased=False).numpy(), **close)
    assert_same(t.std(0, keepdim=True), tt.std(0, keepdim=True).numpy(), **close)
    assert_same(t.std(correction=0), tt.std(correction=0).numpy(), **close)
    assert_same(t.var(False), tt.var(False).numpy(), **close)
    assert_same(t.logsumexp(2), tt.logsumexp(2).numpy(), **close)
    assert_same(t.norm(), tt.norm().numpy(), **close)
    assert_same(t.norm(p=1, dim=0), tt.norm(p=1, dim=0).numpy(), **close)
    assert_same(t.argmax(), tt.argmax().numpy())
    assert_same(t.argmin(dim=1, keepdim=True), tt.argmin(dim=1, keepdim=True).numpy())
    assert_same(t.cumsum(1), tt.cumsum(1).numpy(), **close)
    assert_same(t.cumprod(0), tt.cumprod(0).numpy(), **close)
    b = t > 0
    assert_same(b.all(), (tt > 0).all().numpy())
    assert_same(b.any(dim=0), (tt > 0).any(dim=0).numpy())
    assert_same(b.count_nonzero(1), torch.count_nonzero(tt > 0, dim=1).numpy())
    with pytest.raises(TypeError, match="dim or axis"):
        t.sum(0, axis=1)
    with pytest.raises(ValueError, match="nuc"):
        t.norm(p="nuc")


def test_tensor_max_min_methods_follow_torch():
    a = sample((3, 4), "float32", seed=10)
    t, tt = ember.asarray(a), torch.from_numpy(a)
    assert_same(t.max(), tt.max().numpy())
    for name in ("max", "min"):
        got, exp = getattr(t, name)(dim=1), getattr(tt, name)(dim=1)
        assert type(got).__name__ == name and got._fields == ("values", "indices")
        assert_same(got.values, exp.values.numpy())
        assert_same(got.indices, exp.indices.numpy())
        values, indices = getattr(t, name)(0, keepdim=True)
        assert values.shape == indices.shape == (1, 4)
        assert_same(getattr(t, name)(t[0]), getattr(tt, name)(tt[0]).numpy())  # elementwise form
    assert t.sum.__doc__.startswith("sum(dim=None, keepdim=False, *, dtype=None)")


# ---- property tests -------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5),
       op=st.sampled_from(["sum", "mean", "max", "min", "prod", "any", "std"]),
       dt=st.sampled_from(["float64", "int32", "bool"]), keepdims=st.booleans())
def test_random_axes(data, shape, op, dt, keepdims):
    a = sample(shape, dt, seed=data.draw(st.integers(0, 100)), low=-2, high=3)
    axis = data.draw(st.none() | hnp.valid_tuple_axes(len(shape)))
    t = ember.asarray(a)
    if data.draw(st.booleans()):
        a, t = a[::-1], t[::-1]
    assert_same(getattr(ember, op)(t, axis=axis, keepdims=keepdims), expected(op, a, axis=axis, keepdims=keepdims),
                **tol(dt, op))


@pytest.mark.parametrize("case", ["plain", "nan", "inf", "zeros", "huge"])
def test_long_float32_extremes_vs_numpy_any_threads(case):
    # long enough for the parallel chunk groups and the fast float32 chunk
    # scan, with what makes that scan hand a chunk back to the exact one
    n = 300_001
    a = np.random.default_rng(7).standard_normal(n).astype(np.float32)
    if case == "nan":
        a[[5, 123_457, n - 1]] = [np.inf, np.nan, -np.nan]
    elif case == "inf":
        a[[70_000, 70_001, 250_000]] = [np.inf, -np.inf, np.inf]
    elif case == "zeros":
        a = -np.abs(a) - 1
        a[[1000, 1003, 200_000]] = [-0.0, 0.0, -0.0]
    elif case == "huge":
        a = (np.sign(a) * (2e38 + 1e38 * np.abs(np.tanh(a)))).astype(np.float32)  # finite; chunk sums overflow
    before = ember.get_num_threads()
    try:
        for threads in (1, 2, 3):
            ember.set_num_threads(threads)
            t = ember.asarray(a)
            for op in ("max", "min"):
                got, want = getattr(ember, op)(t).item(), getattr(np, op)(a)
                assert (np.isnan(got) and np.isnan(want)) or got == want, (op, threads)
            if case == "zeros":  # +0 over -0 whatever the order (NumPy's pick depends on its lanes)
                assert not np.signbit(ember.max(t).item())
            assert ember.argmax(t).item() == np.argmax(a)
            assert ember.argmin(t).item() == np.argmin(a)
    finally:
        ember.set_num_threads(before)
