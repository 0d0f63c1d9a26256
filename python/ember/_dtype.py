"""ember's dtypes and the array-API dtype functions (finfo, iinfo, isdtype, ...)."""
import numpy as _np

__all__ = ["DType", "bool", "uint8", "int8", "int32", "int64", "float32", "float64",
           "finfo", "iinfo", "isdtype", "result_type", "can_cast"]

_builtin_bool = bool


class DType:
    """An ember element type (ember.float32, ember.int64, ...).

    Compares equal to itself and to anything naming it: the string
    ``"float32"``, ``numpy.float32`` / ``numpy.dtype("float32")``.
    """

    __slots__ = {"name": "The dtype's name ('float32', ...).", "num": "Its em_dtype number in ember.h.",
                 "itemsize": "Bytes per element.", "kind": "'b' bool, 'u' unsigned, 'i' signed integer, 'f' float."}

    def __init__(self, name, num, itemsize, kind):
        self.name, self.num, self.itemsize, self.kind = name, num, itemsize, kind

    def __repr__(self):
        return f"ember.{self.name}"

    __str__ = lambda self: self.name  # noqa: E731

    def __eq__(self, other):
        if isinstance(other, DType):
            return self is other
        try:
            return _coerce(other) is self
        except TypeError:
            return False

    def __hash__(self):
        return hash(self.name)

    def __reduce__(self):
        return (_coerce, (self.name,))

    @property
    def is_floating_point(self):
        """Whether this is a floating-point dtype (as torch.dtype.is_floating_point)."""
        return self.kind == "f"


# The order is the em_dtype enum of ember.h.
bool = DType("bool", 0, 1, "b")  # noqa: A001 - the array API name
uint8 = DType("uint8", 1, 1, "u")
int8 = DType("int8", 2, 1, "i")
int32 = DType("int32", 3, 4, "i")
int64 = DType("int64", 4, 8, "i")
float32 = DType("float32", 5, 4, "f")
float64 = DType("float64", 6, 8, "f")
ALL = (bool, uint8, int8, int32, int64, float32, float64)
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update({"bool_": bool, "b1": bool, "u1": uint8, "i1": int8, "i4": int32, "i8": int64,
                 "f4": float32, "f8": float64, "double": float64, "long": int64,
                 })


def _coerce(obj):
    """The ember dtype named by obj: a DType, a name, a NumPy or PyTorch dtype,
    or the Python types bool/int/float (int64 and float64, as in PyTorch)."""
    if isinstance(obj, DType):
        return obj
    if obj is _builtin_bool:
        return bool
    if obj is int:
        return int64
    if obj is float:
        return float64
    if isinstance(obj, str):
        key = obj.replace("torch.", "").replace("numpy.", "")
        if key in _BY_NAME:
            return _BY_NAME[key]
    elif type(obj).__module__ == "torch":
        return _coerce(str(obj))
    else:
        try:
            name = _np.dtype(obj).name
        except TypeError:
            name = None
        if name in _BY_NAME:
            return _BY_NAME[name]
    raise TypeError(f"{obj!r} is not an ember dtype (ember has bool, uint8, int8, int32, int64, "
                    f"float32, float64)")


class finfo:
    """Machine limits of a floating-point dtype (array API finfo)."""

    def __init__(self, dtype):
        d = _coerce(dtype.dtype if hasattr(dtype, "dtype") else dtype)
        if d.kind != "f":
            raise TypeError(f"finfo: {d.name} is not a floating-point dtype")
        f = _np.finfo(d.name)
        self.bits, self.eps, self.max, self.min = f.bits, float(f.eps), float(f.max), float(f.min)
        self.smallest_normal, self.dtype = float(f.smallest_normal), d

    def __repr__(self):
        return f"finfo(dtype={self.dtype.name}, eps={self.eps}, max={self.max})"


class iinfo:
    """Limits of an integer dtype (array API iinfo)."""

    def __init__(self, dtype):
        d = _coerce(dtype.dtype if hasattr(dtype, "dtype") else dtype)
        if d.kind not in "iu":
            raise TypeError(f"iinfo: {d.name} is not an integer dtype")
        i = _np.iinfo(d.name)
        self.bits, self.max, self.min, self.dtype = i.bits, int(i.max), int(i.min), d

    def __repr__(self):
        return f"iinfo(dtype={self.dtype.name}, min={self.min}, max={self.max})"


_KINDS = {"bool": "b", "signed integer": "i", "unsigned integer": "u", "integral": "iu",
          "real floating": "f", "complex floating": "", "numeric": "iuf"}


def isdtype(dtype, kind):
    """Whether dtype is of kind: a dtype, a kind name ('integral', 'real floating', ...) or a tuple."""
    dtype = _coerce(dtype)
    if isinstance(kind, tuple):
        return any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise ValueError(f"isdtype: unknown kind {kind!r}")
        return dtype.kind in _KINDS[kind]
    return dtype is _coerce(kind)


def _promote(a, b):
    if a is b:
        return a
    if a.num > b.num:
        a, b = b, a
    if a is bool:
        return b
    if b.kind == "f":
        return float64 if a.kind == "f" else b
    if a is uint8 and b is int8:
        return int32
    return b


def result_type(*arrays_and_dtypes):
    """The dtype of an op combining these tensors, dtypes and Python scalars (docs/dtypes.md)."""
    if not arrays_and_dtypes:
        raise ValueError("result_type needs at least one argument")
    res, scalars = None, []
    for x in arrays_and_dtypes:
        if isinstance(x, (_builtin_bool, int, float, complex)):
            scalars.append(x)
            continue
        d = _coerce(getattr(x, "dtype", x))
        res = d if res is None else _promote(res, d)
    for s in scalars:  # Python scalars are weak: they adopt the tensor's kind
        if isinstance(s, complex):
            raise TypeError("ember has no complex dtype")
        if res is None:
            res = bool if isinstance(s, _builtin_bool) else int64 if isinstance(s, int) else float32
        elif isinstance(s, float) and res.kind != "f":
            res = float32
        elif isinstance(s, int) and not isinstance(s, _builtin_bool) and res is bool:
            res = int64
    return res


def can_cast(from_, to):
    """Whether from_ (a dtype or tensor) casts to `to` without loss by the promotion rules."""
    f, t = _coerce(getattr(from_, "dtype", from_)), _coerce(to)
    return _promote(f, t) is t
