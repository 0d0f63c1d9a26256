"""PyTorch-style Tensor methods of the math ops (elementwise, reductions,
matmul): thin wrappers over the ember._C functions.

Methods follow PyTorch's names and defaults (``dim=``, ``keepdim=``,
``x.var()`` unbiased, ``x.max(dim)`` -> ``(values, indices)``); the array-API
spellings ``axis=`` and ``keepdims=`` are accepted too.  The module
functions (``ember.sum``, ``ember.var``, ...) follow the array API.
"""
from collections import namedtuple

from . import _C
from ._C import Tensor

# torch.return_types.max / min
max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])


def _axis(dim, axis, keepdim, keepdims):
    if dim is not None and axis is not None:
        raise TypeError("pass dim or axis, not both")
    return (axis if dim is None else dim), (keepdim if keepdims is None else keepdims)


def _method(name, doc, fn):
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    setattr(Tensor, name, fn)


def _reduction(name, cfn, what, dtype=False):
    if dtype:
        def method(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
            axis, keep = _axis(dim, axis, keepdim, keepdims)
            return cfn(self, axis=axis, keepdims=keep, dtype=dtype)
    else:
        def method(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
            axis, keep = _axis(dim, axis, keepdim, keepdims)
            return cfn(self, axis=axis, keepdims=keep)
    sig = f"{name}(dim=None, keepdim=False{', *, dtype=None' if dtype else ''})"
    _method(name, f"{sig}\n\n{what} over dim (None: all; int or tuple), as ember.{cfn.__name__}.", method)


for _name, _what, _dt in [("sum", "Sum", True), ("prod", "Product", True), ("all", "Whether all are nonzero", False),
                          ("any", "Whether any is nonzero", False), ("argmax", "Index of the first maximum", False),
                          ("argmin", "Index of the first minimum", False), ("logsumexp", "log(sum(exp(x)))", False),
                          ("count_nonzero", "Number of nonzeros", False)]:
    _reduction(_name, getattr(_C, _name), _what, _dt)


def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """mean(dim=None, keepdim=False, *, dtype=None)

    Mean over dim; with dtype, x is cast to it first (as PyTorch)."""
    axis, keep = _axis(dim, axis, keepdim, keepdims)
    return _C.mean(self if dtype is None else self.astype(dtype), axis=axis, keepdims=keep)


def _extremum(cfn, argfn, elementwise, result):
    def method(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        if isinstance(dim, Tensor):
            return elementwise(self, dim)
        axis, keep = _axis(dim, axis, keepdim, keepdims)
        if axis is None:
            return cfn(self)
        return result(cfn(self, axis=axis, keepdims=keep), argfn(self, axis=axis, keepdims=keep))
    return method


max = _extremum(_C.max, _C.argmax, _C.maximum, max_result)  # noqa: A001
min = _extremum(_C.min, _C.argmin, _C.minimum, min_result)  # noqa: A001
_method("max", "max(dim=None, keepdim=False)\n\nThe maximum of all elements; with dim, a namedtuple (values, indices);\n"
        "with a tensor argument, the elementwise maximum (as PyTorch).", max)
_method("min", "min(dim=None, keepdim=False)\n\nThe minimum of all elements; with dim, a namedtuple (values, indices);\n"
        "with a tensor argument, the elementwise minimum (as PyTorch).", min)
Tensor.mean = mean


def _var_std(cfn):
    def method(self, dim=None, unbiased=True, keepdim=False, *, correction=None, axis=None, keepdims=None):
        if isinstance(dim, bool):  # x.var(False): the old unbiased-only form
            dim, unbiased = None, dim
        axis, keep = _axis(dim, axis, keepdim, keepdims)
        corr = (1 if unbiased else 0) if correction is None else correction
        return cfn(self, axis=axis, keepdims=keep, correction=corr)
    return method


_method("var", "var(dim=None, unbiased=True, keepdim=False, *, correction=None)\n\n"
        "Variance over dim with divisor n - correction (default 1, as PyTorch; unbiased=False: 0).", _var_std(_C.var))
_method("std", "std(dim=None, unbiased=True, keepdim=False, *, correction=None)\n\n"
        "Standard deviation over dim; see var.", _var_std(_C.std))


def norm(self, p="fro", dim=None, keepdim=False, *, axis=None, keepdims=None):
    """norm(p='fro', dim=None, keepdim=False)

    Vector p-norm over dim (None: all elements; 'fro' is the 2-norm)."""
    axis, keep = _axis(dim, axis, keepdim, keepdims)
    if p == "fro":
        p = 2
    elif isinstance(p, str):
        raise ValueError(f"norm: p={p!r} is not supported (a number or 'fro')")
    return _C.vector_norm(self, axis=axis, keepdims=keep, ord=p)


def _scan(cfn, name):
    def method(self, dim, *, dtype=None):
        return cfn(self, axis=dim, dtype=dtype)
    _method(name, f"{name}(dim, *, dtype=None)\n\nCumulative {name[3:]} along dim.", method)


_scan(_C.cumsum, "cumsum")
_scan(_C.cumprod, "cumprod")


def clamp(self, min=None, max=None):  # noqa: A002
    """clamp(min=None, max=None)

    Elements clamped to [min, max] (scalars or tensors); keeps the dtype."""
    return _C.clip(self, min, max)


def mm(self, mat2):
    """mm(mat2)

    Matrix product of two 2-D tensors."""
    mat2 = _C.asarray(mat2)
    if self.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"mm: both operands must be 2-D, got shapes {self.shape} and {mat2.shape}")
    return _C.matmul(self, mat2)


Tensor.norm = norm
Tensor.clamp = Tensor.clip = clamp
Tensor.mm = mm


def _unary(name, cfn):
    _method(name, f"{name}()\n\n{cfn.__doc__}", lambda self: cfn(self))


def _binary(name, cfn):
    _method(name, f"{name}(other)\n\n{cfn.__doc__}", lambda self, other: cfn(self, other))


for _name in ["abs", "neg", "exp", "expm1", "exp2", "log", "log1p", "log2", "log10", "sqrt", "rsqrt", "square",
              "reciprocal", "sign", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh",
              "acosh", "atanh", "sigmoid", "relu", "erf", "floor", "ceil", "round", "trunc", "isnan", "isinf",
              "isfinite", "signbit", "logical_not", "bitwise_not"]:
    _unary(_name, getattr(_C, _name))
for _name, _cname in [("add", "add"), ("sub", "sub"), ("mul", "mul"), ("div", "div"), ("pow", "pow"),
                      ("maximum", "maximum"), ("minimum", "minimum"), ("remainder", "remainder"),
                      ("floor_divide", "floor_divide"), ("atan2", "atan2"), ("hypot", "hypot"),
                      ("logaddexp", "logaddexp"), ("copysign", "copysign"), ("eq", "equal"), ("ne", "not_equal"),
                      ("lt", "less"), ("le", "less_equal"), ("gt", "greater"), ("ge", "greater_equal"),
                      ("logical_and", "logical_and"), ("logical_or", "logical_or"),
                      ("logical_xor", "logical_xor"), ("matmul", "matmul")]:
    _binary(_name, getattr(_C, _cname))
Tensor.subtract, Tensor.multiply, Tensor.divide, Tensor.negative = Tensor.sub, Tensor.mul, Tensor.div, Tensor.neg
