"""Array-API functions that are compositions of the C ops (kept few: where
speed matters an op belongs in libember)."""
from . import _C

__all__ = ["__array_namespace_info__"]


class _Info:
    """Array API inspection object (ember.__array_namespace_info__())."""

    def capabilities(self):
        return {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": 8}

    def default_device(self):
        return "cpu"

    def devices(self):
        return ["cpu"]

    def default_dtypes(self, *, device=None):
        from . import _dtype
        return {"real floating": _dtype.float32, "complex floating": None,
                "integral": _dtype.int64, "indexing": _dtype.int64}

    def dtypes(self, *, device=None, kind=None):
        from . import _dtype
        return {d.name: d for d in _dtype.ALL if kind is None or _dtype.isdtype(d, kind)}


def __array_namespace_info__():
    return _Info()
