"""Creation functions: empty/zeros/ones/full, *_like, arange, linspace, eye,
meshgrid, tril/triu, against NumPy."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ember
from conftest import ALL_DTYPES, NUMERIC_DTYPES, assert_same, layouts, sample


@pytest.mark.parametrize("shape", [3, (), (0,), (2, 3), (2, 0, 4), [1, 2, 1]])
@pytest.mark.parametrize("fn", ["zeros", "ones", "empty"])
def test_filled_default_dtype_and_shape(fn, shape):
    t = getattr(ember, fn)(shape)
    ref = getattr(np, fn)(shape, dtype=np.float32)
    assert t.dtype == ember.float32 and t.shape == ref.shape
    if fn != "empty":
        assert_same(t, ref)


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_filled_every_dtype(dt):
    assert_same(ember.zeros((2, 3), dtype=dt), np.zeros((2, 3), dt))
    assert_same(ember.ones((2, 3), dtype=dt), np.ones((2, 3), dt))
    assert_same(ember.full((3,), 1, dtype=dt), np.full((3,), 1, dt))
    assert ember.empty(4, dtype=dt).dtype == dt


def test_full_dtype_follows_fill_value():
    assert_same(ember.full((2,), True), np.full((2,), True))
    assert_same(ember.full((2,), 7), np.full((2,), 7, np.int64))
    assert_same(ember.full((2,), 2.5), np.full((2,), 2.5, np.float32))
    assert ember.full((), 1.5).shape == ()
    assert_same(ember.full(2, np.int32(4)), np.full(2, 4, np.int32))
    assert_same(ember.full((2,), 3.9, dtype="int32"), np.array([3, 3], np.int32))
    big = 2**62 + 1  # exact, not through a double
    assert ember.full((1,), big).tolist() == [big]
    assert_same(ember.full((2,), float("nan")), np.full((2,), np.nan, np.float32))


def test_full_errors():
    with pytest.raises(OverflowError, match="uint8"):
        ember.full((2,), 300, dtype="uint8")
    with pytest.raises(TypeError, match="complex"):
        ember.full((2,), 1j)
    with pytest.raises(TypeError, match="missing"):
        ember.full((2,))


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_like_functions_keep_shape_and_dtype(dt):
    a = sample((3, 4), dt)
    for name, ref, t in layouts(a):
        assert_same(ember.zeros_like(t), np.zeros_like(ref))
        assert_same(ember.ones_like(t), np.ones_like(ref))
        assert_same(ember.full_like(t, 1), np.full_like(ref, 1))
        e = ember.empty_like(t)
        assert e.shape == ref.shape and e.dtype == dt and e.is_contiguous()
        assert not e._shares_memory(t)
    assert_same(ember.zeros_like(ember.asarray(a), dtype="float64"), np.zeros((3, 4)))
    assert_same(ember.full_like(ember.asarray(a), fill_value=2, dtype="int8"), np.full((3, 4), 2, np.int8))


def test_like_accepts_array_likes_and_scalars():
    assert_same(ember.ones_like([[1.0, 2.0]]), np.ones((1, 2), np.float32))
    assert_same(ember.zeros_like(np.zeros((2,), np.int32)), np.zeros(2, np.int32))
    assert ember.full_like(3, 5).shape == ()


@pytest.mark.parametrize("args", [(5,), (2, 9), (9, 2, -2), (0,), (-3,), (1, 10, 3), (10, 1, 3), (-5, 5, 2)])
def test_arange_ints(args):
    assert_same(ember.arange(*args), np.arange(*args, dtype=np.int64))


@pytest.mark.parametrize("args", [(2.5,), (0, 1, 0.1), (1.0, -1.0, -0.25), (0, 5, 0.5), (-1, 1.5)])
def test_arange_floats(args):
    assert_same(ember.arange(*args), np.arange(*args, dtype=np.float32), rtol=1e-6, atol=1e-6)


def test_arange_keywords_and_dtypes():
    assert_same(ember.arange(1, stop=7, step=2), np.arange(1, 7, 2))
    assert_same(ember.arange(5, dtype="float64"), np.arange(5, dtype=np.float64))
    assert_same(ember.arange(4, dtype="uint8"), np.arange(4, dtype=np.uint8))
    assert_same(ember.arange(np.int32(3)), np.arange(3))  # NumPy integers count as ints
    assert ember.arange(3.0).dtype == ember.float32


def test_arange_errors():
    with pytest.raises(ValueError, match="arange: step must be nonzero"):
        ember.arange(0, 5, 0)
    with pytest.raises(TypeError, match="arange: dtype bool is not numeric"):
        ember.arange(3, dtype="bool")
    with pytest.raises(ValueError, match="arange: start and stop must be finite"):
        ember.arange(0, float("inf"))
    with pytest.raises(TypeError, match="arange\\(\\): stop must be a number"):
        ember.arange(0, "5")


@settings(max_examples=50, deadline=None)
@given(st.integers(-50, 50), st.integers(-50, 50), st.integers(-7, 7).filter(bool))
def test_arange_matches_numpy_property(start, stop, step):
    assert_same(ember.arange(start, stop, step), np.arange(start, stop, step))


@pytest.mark.parametrize("num", [0, 1, 2, 7, 50])
@pytest.mark.parametrize("endpoint", [True, False])
def test_linspace(num, endpoint):
    assert_same(ember.linspace(-2, 3, num, endpoint=endpoint),
                np.linspace(-2, 3, num, endpoint=endpoint, dtype=np.float32), rtol=1e-6, atol=1e-6)
    assert_same(ember.linspace(0, 1, num=num, endpoint=endpoint, dtype="float64"),
                np.linspace(0, 1, num, endpoint=endpoint))


def test_linspace_endpoint_exact_and_errors():
    assert ember.linspace(0.1, 0.7, 3, dtype="float64").tolist()[-1] == 0.7
    assert_same(ember.linspace(0, 8, 5, dtype="int32"), np.linspace(0, 8, 5, dtype=np.int32))
    with pytest.raises(ValueError, match="linspace: num must be >= 0"):
        ember.linspace(0, 1, -1)
    with pytest.raises(TypeError, match="linspace\\(\\) missing required argument 'num'"):
        ember.linspace(0, 1)


@pytest.mark.parametrize("n, m, k", [(3, None, 0), (3, 5, 0), (4, 2, 1), (3, 3, -1), (3, 4, 10), (0, 0, 0), (2, 3, -5)])
def test_eye(n, m, k):
    assert_same(ember.eye(n, m, k=k), np.eye(n, m, k=k, dtype=np.float32))
    assert_same(ember.eye(n, m, k=k, dtype="int8"), np.eye(n, m, k=k, dtype=np.int8))


def test_eye_errors():
    with pytest.raises(ValueError, match="eye: n_rows and n_cols must be >= 0"):
        ember.eye(-1)
    with pytest.raises(ValueError, match="eye: n_rows and n_cols must be >= 0"):
        ember.eye(2, -2)
    with pytest.raises(TypeError, match="eye\\(\\): k must be an integer"):
        ember.eye(2, k=0.5)


@pytest.mark.parametrize("indexing", ["xy", "ij"])
def test_meshgrid(indexing):
    x, y, z = np.arange(3), np.array([1.5, 2.5], np.float32), np.array([True, False, True, True])
    for args in [(x,), (x, y), (x, y, z)]:
        got = ember.meshgrid(*[ember.asarray(a) for a in args], indexing=indexing)
        ref = np.meshgrid(*args, indexing=indexing)
        assert isinstance(got, tuple) and len(got) == len(ref)
        for g, r in zip(got, ref):
            assert_same(g, r)
            assert g.is_contiguous()
    assert ember.meshgrid() == ()
    a = ember.arange(3)
    assert not ember.meshgrid(a, a)[0]._shares_memory(a)


def test_meshgrid_errors():
    with pytest.raises(ValueError, match="meshgrid: indexing must be 'xy' or 'ij'"):
        ember.meshgrid(ember.arange(2), indexing="xx")
    with pytest.raises(ValueError, match="meshgrid: array 1 must be 1-D"):
        ember.meshgrid(ember.arange(2), ember.zeros((2, 2)))
    with pytest.raises(TypeError, match="meshgrid\\(\\) got an unexpected keyword argument 'sparse'"):
        ember.meshgrid(ember.arange(2), sparse=True)


@pytest.mark.parametrize("dt", ALL_DTYPES)
@pytest.mark.parametrize("k", [0, 1, -1, 5, -5])
def test_tril_triu(dt, k):
    a = sample((2, 3, 4), dt)
    for name, ref, t in layouts(a):
        if ref.ndim < 2:
            continue
        assert_same(ember.tril(t, k=k), np.tril(ref, k)), name
        assert_same(ember.triu(t, k=k), np.triu(ref, k)), name
        assert_same(t.tril(k), np.tril(ref, k))
        assert_same(t.triu(diagonal=k), np.triu(ref, k))


def test_tril_does_not_write_input_and_errors():
    t = ember.ones((3, 3))
    ember.tril(t)
    assert_same(t, np.ones((3, 3), np.float32))
    assert_same(ember.tril(ember.ones((0, 3))), np.zeros((0, 3), np.float32))
    with pytest.raises(ValueError, match="tril: needs at least 2 dimensions"):
        ember.tril(ember.ones(3))
    with pytest.raises(ValueError, match="triu: needs at least 2 dimensions"):
        ember.triu(ember.ones(()))


@pytest.mark.parametrize("call", [lambda **kw: ember.zeros(2, **kw), lambda **kw: ember.full(2, 1, **kw),
                                  lambda **kw: ember.ones_like(ember.ones(2), **kw),
                                  lambda **kw: ember.arange(3, **kw), lambda **kw: ember.linspace(0, 1, 3, **kw),
                                  lambda **kw: ember.eye(2, **kw), lambda **kw: ember.empty(2, **kw)])
def test_device_argument(call):
    assert call(device="cpu").device == "cpu"
    assert call(device=None).device == "cpu"
    with pytest.raises(ValueError, match="device must be 'cpu' or None, got 'cuda'"):
        call(device="cuda")


def test_shape_errors():
    with pytest.raises(ValueError, match="zeros: negative dimension -1 at axis 1"):
        ember.zeros((2, -1))
    with pytest.raises(ValueError, match="ones: 9 dimensions requested"):
        ember.ones((1,) * 9)
    with pytest.raises(TypeError, match="empty: shape entries must be integers, got float"):
        ember.empty((2, 1.5))
    with pytest.raises(ValueError, match="full: shape is too large"):
        ember.full((2**40, 2**40), 1)
    with pytest.raises(TypeError, match="not an ember dtype"):
        ember.zeros(2, dtype="complex64")
    with pytest.raises(TypeError, match="zeros\\(\\) got an unexpected keyword argument 'order'"):
        ember.zeros(2, order="C")


@pytest.mark.parametrize("dt", NUMERIC_DTYPES)
def test_creation_results_are_writable_and_independent(dt):
    a, b = ember.zeros(3, dtype=dt), ember.zeros(3, dtype=dt)
    a[0] = 1
    assert b.tolist() == [0, 0, 0] and a.tolist()[0] == 1
