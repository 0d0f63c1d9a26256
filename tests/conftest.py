"""Shared test helpers: dtype lists, layouts (non-contiguous, negative strides),
the AVX-512 kernel-set fixture and the thread-count determinism check."""
import os

# scikit-learn's array_api_dispatch needs SciPy's array API mode, which is
# read when SciPy is first imported (test_array_api.py dispatches ember).
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import ember  # noqa: E402

ALL_DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float32", "float64"]
INT_DTYPES = ["uint8", "int8", "int32", "int64"]
FLOAT_DTYPES = ["float32", "float64"]
NUMERIC_DTYPES = INT_DTYPES + FLOAT_DTYPES


def sample(shape, dtype, seed=0, low=-5, high=5):
    """Deterministic NumPy test data of a dtype (small ints, bools, or floats)."""
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype == "uint8":
        return rng.integers(0, max(high, 1) * 2, size=shape).astype(np.uint8)
    if dtype in INT_DTYPES:
        return rng.integers(low, high, size=shape).astype(dtype)
    return rng.uniform(low, high, size=shape).astype(dtype)


def layouts(a):
    """(name, NumPy array, ember tensor) for contiguous, transposed, stepped and
    reversed views of a: the tensor is a view of the same layout as the array."""
    t = ember.asarray(a.copy())
    out = [("contiguous", np.asarray(t), t)]
    if a.ndim >= 2:
        out.append(("transposed", np.asarray(t).T, t.T))
    if a.ndim >= 1 and a.shape[0] > 1:
        out.append(("stepped", np.asarray(t)[::2], t[::2]))
        out.append(("reversed", np.asarray(t)[::-1], t[::-1]))
    return out


def assert_same(t, expected, rtol=1e-6, atol=0, check_dtype=True):
    """t (ember) equals expected (NumPy) in shape, dtype and values (NaN == NaN)."""
    got = np.asarray(t)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
    if check_dtype:
        assert got.dtype == expected.dtype, f"dtype {got.dtype} != {expected.dtype}"
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, expected)


@pytest.fixture(params=ALL_DTYPES)
def dtype(request):
    return request.param


def assert_same_bits_across_threads(fn, counts=(1, 2, 3)):
    """Runs fn() (an array or a list of arrays) on each thread count and
    asserts that every run gives the bits of the first (bytes, so a NaN
    equals itself and -0.0 differs from 0.0); restores the count."""
    before = ember.get_num_threads()
    res = []
    try:
        for nt in counts:
            ember.set_num_threads(nt)
            out = fn()
            res.append([np.asarray(a) for a in (out if isinstance(out, (list, tuple)) else [out])])
    finally:
        ember.set_num_threads(before)
    for r in res[1:]:
        assert len(r) == len(res[0])
        for a, b in zip(res[0], r):
            assert a.dtype == b.dtype and a.shape == b.shape
            assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def use_isa(name):
    """For a fixture (`yield from use_isa(name)`): the GEMM/convolution kernel
    set `name` for the test, skipped where this CPU lacks it, then back to the
    automatic choice."""
    try:
        ember._C._gemm_set_isa(name)
    except Exception:
        pytest.skip(f"{name} not available on this CPU")
    yield name
    ember._C._gemm_set_isa("auto")


@pytest.fixture
def avx512():
    yield from use_isa("avx512")
