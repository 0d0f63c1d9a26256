"""Memory sharing with NumPy and PyTorch: buffer protocol, __array_interface__,
from_numpy/asarray/numpy(), DLPack both ways, owner lifetimes, error cases.

Sharing is checked by writing through one side and reading through the other."""
import ctypes
import gc
import inspect
import sys
import weakref

import numpy as np
import pytest
import torch

import ember
from conftest import ALL_DTYPES, sample

# Views of a (4, 3) NumPy array; from_numpy gives tensors of the same layout.
NP_VIEWS = {
    "contiguous": lambda a: a,
    "transposed": lambda a: a.T,
    "stepped": lambda a: a[::2, 1:],
    "reversed": lambda a: a[::-1],
    "reversed_cols": lambda a: a[1:, ::-2],
}
# Views ember makes itself over memory it owns.
EMBER_VIEWS = {
    "contiguous": lambda t: t,
    "transposed": lambda t: t.T,
    "stepped": lambda t: t[::2, 1:],
    "reversed": lambda t: ember.from_numpy(t.numpy()[::-1]),
}
TORCH_DTYPES = {"bool": torch.bool, "uint8": torch.uint8, "int8": torch.int8, "int32": torch.int32,
                "int64": torch.int64, "float32": torch.float32, "float64": torch.float64}
DL_CODES = {"bool": (6, 8), "uint8": (1, 8), "int8": (0, 8), "int32": (0, 32), "int64": (0, 64),
            "float32": (2, 32), "float64": (2, 64)}
SHAPES = [(), (0,), (3, 0), (5,), (2, 3, 4)]


def other_value(v):
    """A value of v's NumPy type different from v (exact in float32 too)."""
    if v.dtype == bool:
        return np.logical_not(v)
    return (np.floor(v) + 1.5 if v.dtype.kind == "f" else v + 1).astype(v.dtype)


def allocated():
    gc.collect()
    return ember._C._allocated_bytes()


def first(x):
    return (0,) * x.ndim


def check_shared_np(t, a):
    """t and the NumPy array a have equal values and share memory both ways."""
    np.testing.assert_array_equal(np.asarray(t), a)
    assert t.shape == a.shape and str(t.dtype) == str(a.dtype)
    if a.size == 0:
        return
    i = first(a)
    new = other_value(a[i])
    a[i] = new  # write through NumPy, read through ember
    assert t[i].item() == new.item()
    back = other_value(new)
    t[i] = back.item()  # write through ember, read through NumPy
    assert a[i] == back


def check_shared_torch(t, tt):
    np.testing.assert_array_equal(np.asarray(t), tt.numpy())
    assert tt.dtype == TORCH_DTYPES[str(t.dtype)] and tuple(tt.shape) == t.shape
    if tt.numel() == 0:
        return
    i = first(tt)
    new = not tt[i].item() if tt.dtype == torch.bool else tt[i].item() + 1
    tt[i] = new
    assert t[i].item() == tt[i].item()
    t[i] = not new if tt.dtype == torch.bool else new + 1
    assert tt[i].item() == t[i].item() != new


# ---- NumPy -> ember ----------------------------------------------------------------


@pytest.mark.parametrize("view", NP_VIEWS)
@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_from_numpy_and_asarray_share(dt, view):
    a = NP_VIEWS[view](sample((4, 3), dt))
    t = ember.from_numpy(a)
    assert t.strides == a.strides
    check_shared_np(t, a)
    check_shared_np(ember.asarray(a), a)
    check_shared_np(ember.asarray(a, copy=False), a)


@pytest.mark.parametrize("shape", SHAPES)
def test_from_numpy_zero_d_and_empty(shape, dtype):
    a = sample(shape, dtype)
    check_shared_np(ember.from_numpy(a), a)


def test_asarray_copy_true_does_not_share(dtype):
    a = sample((3, 4), dtype)[:, ::-1]
    t = ember.asarray(a, copy=True)
    np.testing.assert_array_equal(np.asarray(t), a)
    a[0, 0] = other_value(a[0, 0])
    assert t[0, 0].item() != a[0, 0].item()


@pytest.mark.parametrize("src,want", [("float16", "float32"), ("int16", "int32"), ("uint16", "int32"),
                                      ("uint32", "int64")])
def test_asarray_widens_unsupported_types(src, want):
    a = np.array([[1.5, -2.0], [3.0, 65504 if src == "float16" else 7]]).astype(src)
    t = ember.asarray(a)
    assert str(t.dtype) == want
    np.testing.assert_array_equal(np.asarray(t), a.astype(want))
    a[0, 0] = 9  # a widened copy: no sharing
    assert t[0, 0].item() != 9
    with pytest.raises(ValueError, match="copy"):
        ember.asarray(a, copy=False)


@pytest.mark.parametrize("np_dtype", ["complex64", "uint64", "complex128"])
def test_unsupported_numpy_dtypes_name_the_dtype(np_dtype):
    a = np.zeros(3, dtype=np_dtype)
    with pytest.raises(TypeError, match=np_dtype):
        ember.asarray(a)
    with pytest.raises(TypeError, match=np_dtype):  # no ember dtype at all
        ember.from_numpy(a)
    with pytest.raises(TypeError, match=np_dtype):
        ember.from_dlpack(a)


def test_from_numpy_rejects_what_it_cannot_share():
    ro = np.arange(4.0)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ember.from_numpy(ro)
    with pytest.raises(ValueError, match="copy"):
        ember.asarray(ro, copy=False)
    t = ember.asarray(ro)  # copy=None copies read-only memory
    t[0] = 5.0
    assert ro[0] == 0.0
    swapped = np.arange(3, dtype=">i4")
    with pytest.raises(ValueError, match="byte-swapped"):
        ember.from_numpy(swapped)
    np.testing.assert_array_equal(np.asarray(ember.asarray(swapped)), [0, 1, 2])
    with pytest.raises(TypeError, match="ndarray"):
        ember.from_numpy([1, 2])
    with pytest.raises(ValueError, match="copy"):
        ember.asarray([1, 2], copy=False)
    with pytest.raises(ValueError, match="dimensions"):
        ember.from_numpy(np.zeros((1,) * 9))


def test_asarray_of_tensor_copy_semantics():
    t = ember.tensor([1.0, 2.0])
    assert ember.asarray(t) is t and ember.asarray(t, copy=False) is t
    c = ember.asarray(t, copy=True)
    c[0] = 9.0
    assert t[0].item() == 1.0
    with pytest.raises(ValueError, match="dtype"):
        ember.asarray(np.zeros(2, np.float32), dtype=ember.float64, copy=False)


# ---- ember -> NumPy ----------------------------------------------------------------


@pytest.mark.parametrize("view", EMBER_VIEWS)
@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_numpy_views_of_tensors(dt, view):
    t = EMBER_VIEWS[view](ember.tensor(sample((4, 3), dt)))
    for a in (np.asarray(t), t.numpy(), np.asarray(memoryview(t))):
        assert a.strides == t.strides and a.flags.writeable
        check_shared_np(t, a)
    iface = t.__array_interface__
    assert iface["data"][0] == np.asarray(t).__array_interface__["data"][0] and iface["data"][1] is False
    assert iface["shape"] == t.shape and iface["strides"] == t.strides

    class OnlyInterface:  # forces NumPy down the __array_interface__ path
        def __init__(self, t):
            self.t, self.__array_interface__ = t, t.__array_interface__

    check_shared_np(t, np.asarray(OnlyInterface(t)))


@pytest.mark.parametrize("shape", SHAPES)
def test_numpy_views_zero_d_and_empty(shape, dtype):
    t = ember.tensor(sample(shape, dtype))
    for a in (np.asarray(t), t.numpy(), np.from_dlpack(t)):
        assert a.shape == shape and a.dtype == np.dtype(dtype)
        check_shared_np(t, a)


@pytest.mark.parametrize("dt,fmt", list(zip(ALL_DTYPES, ["?", "B", "b", "i", "q", "f", "d"])))
def test_memoryview_layout(dt, fmt):
    t = ember.tensor(sample((3, 4), dt))
    m = memoryview(t)
    assert (m.format, m.shape, m.strides, m.itemsize, m.readonly) == (fmt, (3, 4), t.strides, t.itemsize, False)
    assert m.tobytes() == np.asarray(t).tobytes() and m.obj is t
    mt = memoryview(t.T)
    assert mt.shape == (4, 3) and mt.strides == t.T.strides and not mt.c_contiguous
    assert mt.tobytes() == np.ascontiguousarray(np.asarray(t).T).tobytes()


def test_reversed_tensor_view_exports():
    a = sample((4, 3), "int32")
    t = ember.tensor(a)[::-1]
    assert t.shape == (4, 3) and t.stride() == (-3, 1)
    np.testing.assert_array_equal(np.from_dlpack(t), a[::-1])  # exported as a copy
    check_shared_np(t, np.asarray(t))  # (this one writes into t)


# ---- lifetimes -----------------------------------------------------------------------


def test_tensor_keeps_numpy_owner_alive():
    a = np.arange(10.0)
    w, rc = weakref.ref(a), sys.getrefcount(a)
    t = ember.from_numpy(a[2:])
    assert sys.getrefcount(a) == rc + 1  # the view a[2:] holds a; t holds the view
    del a
    gc.collect()
    assert w() is not None
    np.testing.assert_array_equal(np.asarray(t), np.arange(2.0, 10.0))
    del t
    gc.collect()
    assert w() is None


@pytest.mark.parametrize("make", [ember.from_numpy, ember.asarray, ember.from_dlpack])
def test_numpy_owner_released_with_tensor(make):
    a = np.arange(6, dtype=np.int32)
    w, rc = weakref.ref(a), sys.getrefcount(a)
    t = make(a)
    del a
    gc.collect()
    assert w() is not None and ember.sum(t).item() == 15
    t2 = t.T  # a view of the tensor also keeps it
    del t
    gc.collect()
    assert w() is not None and np.asarray(t2).tolist() == [0, 1, 2, 3, 4, 5]
    del t2
    gc.collect()
    assert w() is None


@pytest.mark.parametrize("get", [lambda t: t.numpy(), np.asarray, np.from_dlpack, memoryview])
def test_numpy_array_keeps_tensor_memory_alive(get):
    base = allocated()
    t = ember.full((1000,), 2.5, dtype=ember.float64)
    a = np.asarray(get(t))
    del t
    assert allocated() >= base + 8000
    a[0] = 0.5
    assert a.sum() == 2498.0
    del a
    assert allocated() == base


def test_torch_views_keep_memory_alive():
    base = allocated()
    t = ember.ones((100,), dtype=ember.float32)
    tt = torch.from_dlpack(t)
    del t
    assert allocated() > base and tt.sum().item() == 100.0
    del tt
    assert allocated() == base

    src = torch.arange(8, dtype=torch.int64)
    w = weakref.ref(src)
    e = ember.from_dlpack(src)
    del src
    gc.collect()
    assert w() is not None and ember.sum(e).item() == 28
    del e
    gc.collect()
    assert w() is None


# ---- DLPack ------------------------------------------------------------------------------


@pytest.mark.parametrize("view", EMBER_VIEWS)
@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_torch_from_dlpack_of_tensor(dt, view):
    t = EMBER_VIEWS[view](ember.tensor(sample((4, 3), dt)))
    tt = torch.from_dlpack(t)
    if view == "reversed":  # negative strides are exported as a copy
        np.testing.assert_array_equal(tt.numpy(), np.asarray(t))
        assert tt.data_ptr() != np.asarray(t).__array_interface__["data"][0]
    else:
        assert tuple(s for s in tt.stride()) == t.stride()
        check_shared_torch(t, tt)


@pytest.mark.parametrize("view", ["contiguous", "transposed", "stepped"])
@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_ember_from_dlpack_of_torch(dt, view):
    src = torch.from_numpy(sample((4, 3), dt))
    src = {"contiguous": src, "transposed": src.T, "stepped": src[::2, 1:]}[view]
    t = ember.from_dlpack(src)
    assert t.stride() == tuple(src.stride())
    check_shared_torch(t, src)


@pytest.mark.parametrize("view", NP_VIEWS)
@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_dlpack_with_numpy_both_ways(dt, view):
    a = NP_VIEWS[view](sample((4, 3), dt))
    t = ember.from_dlpack(a)
    assert t.strides == a.strides
    check_shared_np(t, a)
    b = np.from_dlpack(t)
    if view.startswith("reversed"):
        assert not np.shares_memory(a, b)
        np.testing.assert_array_equal(a, b)
    else:
        check_shared_np(t, b)


@pytest.mark.parametrize("shape", SHAPES)
def test_dlpack_zero_d_and_empty(shape, dtype):
    a = sample(shape, dtype)
    check_shared_np(ember.from_dlpack(a), a)
    tt = torch.from_numpy(a.copy()) if a.size else torch.from_numpy(a)
    check_shared_torch(ember.from_dlpack(tt), tt)
    t = ember.tensor(a)
    check_shared_torch(t, torch.from_dlpack(t))


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32),
                ("ndim", ctypes.c_int32), ("code", ctypes.c_uint8), ("bits", ctypes.c_uint8),
                ("lanes", ctypes.c_uint16), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32), ("ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p), ("flags", ctypes.c_uint64), ("dl", DLTensor)]


def capsule_struct(cap, versioned=True):
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    name = b"dltensor_versioned" if versioned else b"dltensor"
    ptr = get(cap, name)
    if versioned:
        return DLManagedTensorVersioned.from_address(ptr)
    return DLTensor.from_address(ptr)  # DLManagedTensor starts with its DLTensor


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_capsule_layout(dt):
    t = ember.tensor(sample((4, 6), dt))[::2, 1:].T
    cap = t.__dlpack__(max_version=(1, 0))
    assert '"dltensor_versioned"' in repr(cap)
    m = capsule_struct(cap)
    assert (m.major, m.minor, m.flags) == (1, 0, 0)
    dl = m.dl
    assert (dl.device_type, dl.device_id, dl.ndim, dl.lanes, dl.byte_offset) == (1, 0, 2, 1, 0)
    assert (dl.code, dl.bits) == DL_CODES[dt]
    assert dl.data == t.__array_interface__["data"][0]
    assert [dl.shape[i] for i in range(2)] == [5, 2] and [dl.strides[i] for i in range(2)] == [1, 12]
    legacy = t.__dlpack__()
    assert '"dltensor"' in repr(legacy) and capsule_struct(legacy, False).data == dl.data
    assert '"dltensor"' in repr(t.__dlpack__(max_version=(0, 8)))
    copied_cap = t.__dlpack__(max_version=(2, 3), copy=True)
    copied = capsule_struct(copied_cap)
    assert copied.flags == 2 and copied.dl.data != dl.data and (copied.major, copied.minor) == (1, 0)
    same_cap = t.__dlpack__(max_version=(1, 0), copy=False)
    assert capsule_struct(same_cap).flags == 0


def test_capsules_are_consumed_once_and_freed():
    base = allocated()
    t = ember.arange(10, dtype=ember.int64)
    for cap in (t.__dlpack__(), t.__dlpack__(max_version=(1, 0))):
        u = ember.from_dlpack(cap)
        assert '"used_dltensor' in repr(cap)
        u[0] = 42
        assert t[0].item() == 42
        with pytest.raises(TypeError, match="consumed"):
            ember.from_dlpack(cap)
        del u, cap
    for _ in range(3):
        t.__dlpack__()  # unconsumed capsules free their tensor reference
        t.__dlpack__(max_version=(1, 0), copy=True)
    del t
    assert allocated() == base


def test_dlpack_device_and_export_arguments():
    t = ember.tensor([1.0, 2.0])
    assert t.__dlpack_device__() == (1, 0)
    assert '"dltensor"' in repr(t.__dlpack__(dl_device=(1, 0), stream=None))
    with pytest.raises(BufferError, match="device"):
        t.__dlpack__(dl_device=(2, 0))
    with pytest.raises(ValueError, match="stream"):
        t.__dlpack__(stream=1)
    with pytest.raises(TypeError, match="keyword"):
        t.__dlpack__(None)
    with pytest.raises(TypeError, match="max_version"):
        t.__dlpack__(max_version=1)
    with pytest.raises(TypeError, match="unexpected"):
        t.__dlpack__(version=1)
    rev = ember.from_numpy(np.arange(4.0)[::-1])
    with pytest.raises(BufferError, match="negative strides"):
        rev.__dlpack__(copy=False)
    cap = rev.__dlpack__(max_version=(1, 0))
    assert capsule_struct(cap).flags == 2 and capsule_struct(cap).dl.strides[0] == 1
    cap = ember.from_numpy(np.ones((1, 1))[:, ::-1]).__dlpack__(max_version=(1, 0))
    assert capsule_struct(cap).flags == 0  # a size-1 axis may have any stride: no copy


def test_from_dlpack_copy_and_read_only():
    a = np.arange(5.0)
    c = ember.from_dlpack(a, copy=True)
    c[0] = 7.0
    assert a[0] == 0.0
    s = ember.from_dlpack(a, copy=False, device="cpu")
    s[0] = 7.0
    assert a[0] == 7.0
    a.flags.writeable = False
    for copy in (None, False):
        with pytest.raises(BufferError, match="read-only"):
            ember.from_dlpack(a, copy=copy)
    r = ember.from_dlpack(a, copy=True)
    np.testing.assert_array_equal(np.asarray(r), a)
    r[1] = 9.0
    assert a[1] == 1.0


def test_from_dlpack_errors():
    with pytest.raises(TypeError, match="float16"):
        ember.from_dlpack(torch.zeros(2, dtype=torch.float16))
    with pytest.raises(TypeError, match="bfloat16"):
        ember.from_dlpack(torch.zeros(2, dtype=torch.bfloat16))
    with pytest.raises(TypeError, match="uint64"):
        ember.from_dlpack(np.zeros(2, dtype=np.uint64))
    with pytest.raises(TypeError, match="__dlpack__"):
        ember.from_dlpack([1, 2])
    with pytest.raises(ValueError, match="device"):
        ember.from_dlpack(np.zeros(2), device="cuda")
    with pytest.raises(TypeError, match="positional"):
        ember.from_dlpack(np.zeros(2), "cpu")

    class OnGPU:
        def __dlpack_device__(self):
            return (2, 0)

        def __dlpack__(self, **kw):
            raise AssertionError("must not be asked to export")

    with pytest.raises(BufferError, match="device"):
        ember.from_dlpack(OnGPU())

    class Legacy:  # a producer predating the max_version keyword
        def __init__(self, a):
            self.a = a

        def __dlpack__(self):
            return self.a.__dlpack__()

    a = np.arange(3, dtype=np.int8)
    check_shared_np(ember.from_dlpack(Legacy(a)), a)


@pytest.mark.parametrize("field,value,exc,match", [
    ("device_type", 2, BufferError, "device"),
    ("lanes", 4, TypeError, "lanes"),
    ("code", 5, TypeError, "complex32"),
    ("bits", 16, TypeError, "float16"),
    ("ndim", 9, ValueError, "dimensions"),
])
def test_from_dlpack_rejects_bad_capsules_without_leaking(field, value, exc, match):
    base = allocated()
    t = ember.ones((3,), dtype=ember.float32)
    cap = t.__dlpack__(max_version=(1, 0))
    setattr(capsule_struct(cap).dl, field, value)
    with pytest.raises(exc, match=match):
        ember.from_dlpack(cap)
    assert '"dltensor_versioned"' in repr(cap)  # not consumed: the producer frees it
    del cap, t
    assert allocated() == base


def test_from_dlpack_has_docstring():
    assert ember.from_dlpack.__doc__.startswith("A Tensor sharing")
    assert str(inspect.signature(ember.from_dlpack)) == "(x, /, *, device=None, copy=None)"
