"""Tensor attributes, dtypes, conversion, repr and the Python protocols."""
import math
import pickle
import sys

import numpy as np
import pytest

import ember
from conftest import ALL_DTYPES, sample


def test_version_and_namespace():
    assert ember.__version__ == "0.1.0"
    t = ember.tensor([1.0])
    assert t.__array_namespace__() is ember
    with pytest.raises(ValueError, match="version"):
        t.__array_namespace__(api_version="1999.01")


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_attributes_match_numpy(dt):
    a = sample((2, 3, 4), dt)
    t = ember.asarray(a)
    assert t.shape == a.shape and t.ndim == 3 and t.size == 24
    assert t.dtype == getattr(ember, "bool" if dt == "bool" else dt)
    assert t.dtype == dt and t.dtype == np.dtype(dt)
    assert t.itemsize == a.itemsize and t.nbytes == a.nbytes
    assert t.strides == a.strides
    assert t.stride() == tuple(s // a.itemsize for s in a.strides)
    assert t.device == "cpu"
    assert t.T.shape == (4, 3, 2) and t.mT.shape == (2, 4, 3)
    np.testing.assert_array_equal(np.asarray(t.T), a.T)


def test_default_dtypes_follow_pytorch():
    assert ember.tensor([1.5, 2]).dtype == ember.float32
    assert ember.tensor([1, 2]).dtype == ember.int64
    assert ember.tensor([True]).dtype == ember.bool
    assert ember.tensor(2.5).dtype == ember.float32 and ember.tensor(2.5).ndim == 0
    assert ember.asarray(np.zeros(2)).dtype == ember.float64  # NumPy arrays keep theirs
    assert ember.tensor([1, 2], dtype="float64").dtype == ember.float64
    assert ember.tensor([1, 2], dtype=float).dtype == ember.float64


def test_dtype_coercion_errors():
    with pytest.raises(TypeError, match="not an ember dtype"):
        ember.tensor([1], dtype="complex64")
    with pytest.raises(TypeError, match="complex"):
        ember.tensor(1j)
    with pytest.raises(TypeError, match="ragged|convert"):
        ember.tensor([[1, 2], [3]])


def test_dtype_functions():
    assert ember.result_type(ember.int8, ember.uint8) == ember.int32
    assert ember.result_type(ember.int32, ember.float32) == ember.float32
    assert ember.result_type(ember.float32, ember.float64) == ember.float64
    assert ember.result_type(ember.tensor([1], dtype="int32"), 1.0) == ember.float32
    assert ember.can_cast(ember.int8, ember.int64) and not ember.can_cast(ember.float32, ember.int64)
    assert ember.isdtype(ember.float32, "real floating") and ember.isdtype(ember.int8, ("bool", "integral"))
    assert not ember.isdtype(ember.uint8, "signed integer")
    assert ember.finfo(ember.float32).eps == np.finfo(np.float32).eps
    assert ember.iinfo(ember.int8).min == -128
    with pytest.raises(TypeError, match="not a floating-point"):
        ember.finfo(ember.int32)
    assert pickle.loads(pickle.dumps(ember.float64)) is ember.float64


def test_item_and_scalar_conversions():
    assert ember.tensor(3).item() == 3 and isinstance(ember.tensor(3).item(), int)
    assert ember.tensor(True).item() is True
    assert ember.tensor(2.5).item() == 2.5
    assert ember.tensor([2 ** 62], dtype="int64").item() == 2 ** 62  # exact beyond 2^53
    assert float(ember.tensor([1.5])) == 1.5 and int(ember.tensor(7)) == 7
    assert [10, 20, 30][ember.tensor(1)] == 20  # __index__
    with pytest.raises(TypeError, match="integer"):
        [1, 2][ember.tensor(1.0)]
    with pytest.raises(ValueError, match="NaN"):
        int(ember.tensor(math.nan))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(ember.tensor([1, 2]))
    assert bool(ember.tensor([0])) is False


def test_len_iter_tolist():
    t = ember.tensor([[1, 2], [3, 4]])
    assert len(t) == 2
    assert [r.tolist() for r in t] == [[1, 2], [3, 4]]
    assert t.tolist() == [[1, 2], [3, 4]]
    assert ember.tensor(5).tolist() == 5
    with pytest.raises(TypeError, match="0-d"):
        len(ember.tensor(1))
    with pytest.raises(TypeError, match="0-d"):
        iter(ember.tensor(1)).__next__()


def test_repr_reads_like_numpy():
    assert repr(ember.tensor([1.0, 2.5])) == "tensor([1. , 2.5])"
    assert repr(ember.tensor([1, 2], dtype="int32")) == "tensor([1, 2], dtype=int32)"
    assert repr(ember.tensor([[True, False]])) == "tensor([[ True, False]])"
    assert "shape=(0, 3)" in repr(ember.zeros((0, 3))) if hasattr(ember, "zeros") else True
    big = ember.asarray(np.arange(5000, dtype=np.int64))
    assert "..." in repr(big)


def test_tensor_cannot_be_constructed_directly():
    with pytest.raises(TypeError, match="ember.tensor"):
        ember.Tensor()


def test_astype():
    t = ember.tensor([1.7, -2.2, float("nan")])
    np.testing.assert_array_equal(np.asarray(t.astype(ember.int32)), [1, -2, 0])
    assert t.astype("float32", copy=False) is t
    assert t.astype("float32") is not t
    assert ember.tensor([0.0, 0.5]).astype(ember.bool).tolist() == [False, True]
    with pytest.raises(TypeError, match="dtype"):
        t.astype("nope")


def test_contiguous_clone_is_contiguous():
    t = ember.asarray(np.arange(6.0).reshape(2, 3)).T
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c.tolist() == t.tolist()
    assert c.contiguous() is c
    k = c.clone()
    k[0, 0] = 99
    assert c[0, 0].item() == 0


def test_big_kernels_release_the_gil():
    """A thread inside a large ember kernel lets other threads run Python.

    With a huge switch interval the interpreter never takes the GIL from a
    thread by force, so the main thread can wake from sleep while the
    worker computes only if ember released the GIL around the kernel."""
    import threading
    import time

    x = ember.ones((8_000_000,))
    state = {"running": False, "done": False}

    def work():
        state["running"] = True
        for _ in range(30):
            ember.exp(x)
        state["done"] = True

    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        t = threading.Thread(target=work)
        t.start()
        while not state["running"]:
            time.sleep(0.0005)
        wakeups = 0
        while not state["done"]:
            time.sleep(0.0005)
            wakeups += not state["done"]
        t.join()
    finally:
        sys.setswitchinterval(old)
    assert wakeups > 0


def test_float_to_int_casts_saturate_and_nan_is_zero():
    t = ember.tensor([1e30, -1e30, float("inf"), float("-inf"), float("nan"), 300.7, -2.9], dtype="float64")
    assert t.astype(ember.uint8).tolist() == [255, 0, 255, 0, 0, 255, 0]
    assert t.astype(ember.int8).tolist() == [127, -128, 127, -128, 0, 127, -2]
    assert t.astype(ember.int32).tolist() == [2**31 - 1, -2**31, 2**31 - 1, -2**31, 0, 300, -2]
    assert t.astype(ember.int64).tolist() == [2**63 - 1, -2**63, 2**63 - 1, -2**63, 0, 300, -2]


def test_truth_value_of_empty_or_many_is_ambiguous():
    with pytest.raises(ValueError, match="ambiguous"):
        bool(ember.zeros(0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(ember.zeros((2, 2)))


def test_norm_ord_is_keyword_only():
    x = ember.tensor([[3.0, 4.0]])
    assert ember.linalg.vector_norm(x, ord=1).item() == 7.0
    with pytest.raises(TypeError, match="positional"):
        ember.linalg.vector_norm(x, 1)


def test_argument_errors_name_the_function():
    with pytest.raises(TypeError, match=r"^add: .*NoneType"):
        ember.add(ember.ones(2), None)
    with pytest.raises(OverflowError, match=r"^exp: .*out of bounds"):
        ember.exp(10**20)
    with pytest.raises(TypeError, match=r"^sum: axis must be"):
        ember.sum(ember.ones(2), axis="0")
    with pytest.raises(OverflowError, match=r"^argmax: "):
        ember.argmax(ember.ones(2), axis=10**20)


def test_inplace_power_and_shifts_write_through_views():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    t = ember.from_numpy(a)
    row = t[1]
    row **= 2
    t <<= 1
    t >>= 1
    t ^= 1
    expected = np.arange(6, dtype=np.int32).reshape(2, 3)
    expected[1] **= 2
    expected ^= 1
    np.testing.assert_array_equal(a, expected)  # written into the NumPy memory
    f = ember.tensor([1.5, 2.0])
    f **= 2.0
    assert f.tolist() == [2.25, 4.0] and f.dtype == ember.float32
    with pytest.raises(TypeError, match="cannot be cast"):
        t **= 0.5
