"""Array-API functions that are thin compositions of the C ops.  Anything
where speed matters belongs in libember instead."""
from . import _C, _dtype

__all__ = ["__array_namespace_info__", "astype", "conj", "real", "imag"]


def astype(x, dtype, /, *, copy=True, device=None):
    """astype(x, dtype, /, *, copy=True, device=None)

    x converted to dtype; with copy=False, x itself when it already has it."""
    if device not in (None, "cpu"):
        raise ValueError(f"astype: ember runs on 'cpu' only, not {device!r}")
    return _C.asarray(x).astype(dtype, copy=copy)


def conj(x, /):
    """conj(x, /)

    Complex conjugate; ember has only real dtypes, so this is x itself."""
    return _C.asarray(x)


def real(x, /):
    """real(x, /)

    Real part; ember has only real dtypes, so this is x itself."""
    return _C.asarray(x)


def imag(x, /):
    """imag(x, /)

    Imaginary part; zeros of x's shape and dtype for real tensors."""
    x = _C.asarray(x)
    return _C.zeros(x.shape, dtype=x.dtype)


class _Info:
    """Array API inspection object (ember.__array_namespace_info__())."""

    def capabilities(self):
        return {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": 8}

    def default_device(self):
        return "cpu"

    def devices(self):
        return ["cpu"]

    def default_dtypes(self, *, device=None):
        return {"real floating": _dtype.float32, "complex floating": None,
                "integral": _dtype.int64, "indexing": _dtype.int64}

    def dtypes(self, *, device=None, kind=None):
        return {d.name: d for d in _dtype.ALL if kind is None or _dtype.isdtype(d, kind)}


def __array_namespace_info__():
    """The array API inspection namespace: devices, default dtypes, capabilities."""
    return _Info()
