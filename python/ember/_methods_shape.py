"""PyTorch-style Tensor methods of the shape, index and sort ops (x.view,
x.permute, x.gather, x.sort, x.topk, x.size(), x.float(), ...), and the
module functions composed from them in Python: topk and the array-API
unique_values / unique_counts / unique_inverse / unique_all.

Methods use PyTorch's names and semantics (``dim=``; ``x.repeat`` tiles like
``torch.Tensor.repeat``; ``x.squeeze(d)`` leaves a dim that is not 1 alone);
the module functions (``ember.reshape``, ``ember.sort``, ...) follow the
array API.
"""
import sys
from collections import namedtuple

from . import _C, _dtype
from ._C import Tensor

_ember = sys.modules["ember"]

# torch.return_types.sort / topk; the array API's unique_* results
sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])
UniqueAllResult = namedtuple("UniqueAllResult", ["values", "indices", "inverse_indices", "counts"])
UniqueCountsResult = namedtuple("UniqueCountsResult", ["values", "counts"])
UniqueInverseResult = namedtuple("UniqueInverseResult", ["values", "inverse_indices"])


def _sizes(args):
    """Sizes given as x.view(2, 3) or x.view((2, 3))."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def _dim(d, ndim, fname):
    """d in [0, ndim) or IndexError naming fname."""
    if not -ndim <= d < ndim:
        raise IndexError(f"{fname}: dim {d} is out of range for a tensor of {ndim} dimensions")
    return d % ndim


def _method(fn):
    setattr(Tensor, fn.__name__, fn)
    return fn


# ---- shape and views --------------------------------------------------------

@_method
def view(self, *shape):
    """view(*shape)

    View with a new shape (one entry may be -1); raises ValueError when the
    strides forbid a view (use reshape)."""
    return _C.reshape(self, _sizes(shape), copy=False)


@_method
def reshape(self, *shape):
    """reshape(*shape)

    Tensor with a new shape: a view when the strides allow, else a copy."""
    return _C.reshape(self, _sizes(shape))


@_method
def permute(self, *dims):
    """permute(*dims)

    View with the dims reordered: out.shape[i] = self.shape[dims[i]]."""
    return _C.permute_dims(self, _sizes(dims))


@_method
def transpose(self, dim0, dim1):
    """transpose(dim0, dim1)

    View with dims dim0 and dim1 swapped."""
    perm = list(range(self.ndim))
    a, b = _dim(dim0, self.ndim, "transpose"), _dim(dim1, self.ndim, "transpose")
    perm[a], perm[b] = b, a
    return _C.permute_dims(self, perm)


@_method
def t(self):
    """t()

    Transpose of a matrix (0-d and 1-D tensors are returned as they are)."""
    if self.ndim > 2:
        raise ValueError(f"t: expects a tensor of at most 2 dimensions, got {self.ndim} (use transpose or mT)")
    return self if self.ndim < 2 else _C.permute_dims(self, (1, 0))


@_method
def unsqueeze(self, dim):
    """unsqueeze(dim)

    View with a size-1 dim inserted at position dim."""
    return _C.expand_dims(self, axis=dim)


@_method
def squeeze(self, dim=None):
    """squeeze(dim=None)

    View without size-1 dims: all of them, or those listed in dim (an int or
    tuple); a listed dim whose size is not 1 is left alone (as PyTorch)."""
    if dim is None:
        return _C.squeeze(self, None)
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    n = max(self.ndim, 1)
    return _C.squeeze(self, tuple(d for d in dims if self.ndim and self.shape[_dim(d, n, "squeeze")] == 1))


@_method
def flatten(self, start_dim=0, end_dim=-1):
    """flatten(start_dim=0, end_dim=-1)

    Dims start_dim..end_dim merged into one (a view when the strides allow)."""
    return _C.flatten(self, start_dim, end_dim)


@_method
def expand(self, *sizes):
    """expand(*sizes)

    View broadcast to sizes; -1 keeps the existing size of that dim."""
    sizes = _sizes(sizes)
    lead = len(sizes) - self.ndim
    shape = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < lead:
                raise ValueError(f"expand: -1 is not allowed for the new leading dim {i} (sizes {tuple(sizes)})")
            s = self.shape[i - lead]
        shape.append(s)
    return _C.broadcast_to(self, tuple(shape))


@_method
def flip(self, *dims):
    """flip(*dims)

    View with the element order reversed along dims (an int or tuple)."""
    return _C.flip(self, axis=_sizes(dims))


@_method
def repeat(self, *sizes):
    """repeat(*sizes)

    The tensor tiled sizes[i] times along each dim (torch.Tensor.repeat,
    i.e. ember.tile; for NumPy's element repeat use ember.repeat)."""
    return _C.tile(self, _sizes(sizes))


@_method
def chunk(self, chunks, dim=0):
    """chunk(chunks, dim=0)

    Views along dim of ceil(size / chunks) elements each (maybe fewer parts)."""
    return _C.chunk(self, chunks, dim)


@_method
def split(self, split_size_or_sections, dim=0):
    """split(split_size_or_sections, dim=0)

    Views along dim: parts of split_size (the last may be smaller) or of the listed sizes."""
    return _C.split(self, split_size_or_sections, dim)


@_method
def tril(self, diagonal=0):
    """tril(diagonal=0)

    Copy with the elements above the diagonal of the last two dims zeroed."""
    return _C.tril(self, k=diagonal)


@_method
def triu(self, diagonal=0):
    """triu(diagonal=0)

    Copy with the elements below the diagonal of the last two dims zeroed."""
    return _C.triu(self, k=diagonal)


# ---- indexing -----------------------------------------------------------------

@_method
def gather(self, dim, index):
    """gather(dim, index)

    out[i][j][k] = self[index[i][j][k]][j][k] for dim 0 (PyTorch): index has
    self's ndim and may be smaller than self on the other dims."""
    index = _C.asarray(index)
    if index.ndim == self.ndim:  # PyTorch reads only the leading part of the other dims
        d = _dim(dim, max(self.ndim, 1), "gather")
        key = tuple(slice(None) if i == d or n >= self.shape[i] else slice(0, n) for i, n in enumerate(index.shape))
        self = self[key]
    return _C.take_along_axis(self, index, axis=dim)


@_method
def scatter(self, dim, index, src):
    """scatter(dim, index, src)

    Copy with out[index[i][j]][j] = src[i][j] along dim (src may be a scalar)."""
    return _C.scatter(self, dim, index, src)


@_method
def scatter_add(self, dim, index, src):
    """scatter_add(dim, index, src)

    Copy with out[index[i][j]][j] += src[i][j] along dim."""
    return _C.scatter_add(self, dim, index, src)


@_method
def index_select(self, dim, index):
    """index_select(dim, index)

    Slices at the 1-D integer index along dim."""
    return _C.index_select(self, dim, index)


@_method
def masked_select(self, mask):
    """masked_select(mask)

    1-D tensor of the elements where mask (broadcast to self) is true."""
    return _C.masked_select(self, mask)


@_method
def masked_fill(self, mask, value):
    """masked_fill(mask, value)

    Copy with value where mask (broadcast to self) is true."""
    return _C.masked_fill(self, mask, value)


@_method
def masked_fill_(self, mask, value):
    """masked_fill_(mask, value)

    In place: value where mask (broadcast to self) is true; returns self."""
    return _C._masked_fill_(self, mask, value)


# ---- sorting and softmax --------------------------------------------------------

@_method
def sort(self, dim=-1, descending=False, stable=False):
    """sort(dim=-1, descending=False, stable=False)

    namedtuple (values, indices) sorted along dim (always stable; NaN as the largest)."""
    return sort_result(*_C._sort(self, axis=dim, descending=descending))


@_method
def argsort(self, dim=-1, descending=False, stable=False):
    """argsort(dim=-1, descending=False, stable=False)

    int64 indices that sort along dim (always stable)."""
    return _C.argsort(self, axis=dim, descending=descending)


def topk(x, k, axis=-1, largest=True, sorted=True):  # noqa: A002 - PyTorch's name
    """topk(x, k, axis=-1, largest=True, sorted=True)

    namedtuple (values, indices) of the k largest (or smallest) elements along
    axis, in sorted order (sorted=False is accepted and also sorts)."""
    return topk_result(*_C._topk(x, k, axis=axis, largest=largest))


def _tensor_topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    """topk(k, dim=-1, largest=True, sorted=True)

    namedtuple (values, indices) of the k largest (or smallest) elements along dim."""
    return topk(self, k, axis=dim, largest=largest)


_tensor_topk.__name__ = _tensor_topk.__qualname__ = "topk"
Tensor.topk = _tensor_topk


@_method
def softmax(self, dim=-1):
    """softmax(dim=-1)

    exp(x) / sum(exp(x)) along dim, computed stably."""
    return _C.softmax(self, axis=dim)


@_method
def log_softmax(self, dim=-1):
    """log_softmax(dim=-1)

    x - logsumexp(x) along dim, computed stably."""
    return _C.log_softmax(self, axis=dim)


# ---- sizes and dtypes -------------------------------------------------------------

class _SizeInt(int):
    """x.size: the element count (an int, as the array API wants) that can also
    be called as x.size(dim=None) for the shape (PyTorch)."""

    def __call__(self, dim=None):
        return self.shape if dim is None else self.shape[_dim(dim, max(len(self.shape), 1), "size")]


def _size(self):
    s = _SizeInt(_C_size(self))
    s.shape = self.shape
    return s


_C_size = Tensor.size.__get__
Tensor.size = property(_size, doc="Number of elements (an int); x.size() / x.size(dim) give the shape (PyTorch).")


@_method
def dim(self):
    """dim()

    Number of dimensions (ndim)."""
    return self.ndim


@_method
def numel(self):
    """numel()

    Number of elements."""
    return _C_size(self)


def _cast_method(name, dt):
    def method(self):
        return self.astype(dt, copy=False)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"{name}()\n\nThis tensor as {dt.name} (itself if it already is)."
    setattr(Tensor, name, method)


for _name, _dt in [("float", _dtype.float32), ("double", _dtype.float64), ("long", _dtype.int64),
                   ("int", _dtype.int32), ("bool", _dtype.bool)]:
    _cast_method(_name, _dt)

_DEVICES = ("cpu", "cuda", "mps", "xpu", "meta")


@_method
def to(self, *args, dtype=None, device=None, copy=False):
    """to(dtype=None, device=None, copy=False)

    This tensor converted to dtype (or to another tensor's dtype); device may
    only be 'cpu'.  Returns self when nothing changes and copy is False."""
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, str) and a.split(":")[0] in _DEVICES:
            device = a
        else:
            dtype = a
    if device is not None and str(device).split(":")[0] != "cpu":
        raise ValueError(f"to: ember runs on 'cpu' only, not {device!r}")
    if dtype is None:
        return self.clone() if copy else self
    return self.astype(dtype, copy=copy)


# ---- unique_* (array API), composed from a stable sort ------------------------------

def _unique(x):
    """(flat x, sorting permutation, group starts in sorted order, sorted values).
    NaNs compare unequal, so each NaN is its own value (as the array API asks)."""
    flat = _C.reshape(_C.asarray(x), (-1,))
    perm = _C.argsort(flat)
    s = _C.take(flat, perm)
    new = _C.concat([_C.ones(min(s.shape[0], 1), dtype=_dtype.bool), s[1:] != s[:-1]])
    return flat, perm, _C.nonzero(new)[0], s


def _counts(starts, n):
    return _C.concat([starts[1:], _C.full(1, n)]) - starts


def _inverse(x, perm, starts):
    n = perm.shape[0]
    group = _C.searchsorted(starts, _C.arange(n), side="right") - 1
    return _C.reshape(_C.scatter(_C.zeros(n, dtype=_dtype.int64), 0, perm, group), _C.asarray(x).shape)


def unique_values(x, /):
    """unique_values(x, /)

    The distinct values of x, sorted, as a 1-D tensor (each NaN counts as distinct)."""
    _, _, starts, s = _unique(x)
    return _C.take(s, starts)


def unique_counts(x, /):
    """unique_counts(x, /)

    namedtuple (values, counts): the sorted distinct values and how often each occurs."""
    flat, _, starts, s = _unique(x)
    return UniqueCountsResult(_C.take(s, starts), _counts(starts, flat.shape[0]))


def unique_inverse(x, /):
    """unique_inverse(x, /)

    namedtuple (values, inverse_indices): values[inverse_indices] rebuilds x
    (inverse_indices has x's shape)."""
    _, perm, starts, s = _unique(x)
    return UniqueInverseResult(_C.take(s, starts), _inverse(x, perm, starts))


def unique_all(x, /):
    """unique_all(x, /)

    namedtuple (values, indices, inverse_indices, counts): indices are the
    flat positions of each value's first occurrence in x."""
    flat, perm, starts, s = _unique(x)
    return UniqueAllResult(_C.take(s, starts), _C.take(perm, starts), _inverse(x, perm, starts),
                           _counts(starts, flat.shape[0]))


for _f in (topk, unique_values, unique_counts, unique_inverse, unique_all):
    setattr(_ember, _f.__name__, _f)
