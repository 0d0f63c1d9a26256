"""Array-API linear-algebra functions built on matmul and the shape ops
(tensordot, vecdot, matrix_transpose), and the ``ember.linalg`` namespace
with the array-API linalg basics."""
import math
import sys
import types

from . import _C

__all__ = ["tensordot", "vecdot", "matrix_transpose", "linalg"]


def _axes_list(axes, ndim, name):
    axes = [axes] if isinstance(axes, int) else list(axes)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise IndexError(f"tensordot: axis {a} is out of range for {name} with {ndim} dimensions")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"tensordot: repeated axis in {axes} of {name}")
    return out


def tensordot(x1, x2, /, *, axes=2):
    """tensordot(x1, x2, /, *, axes=2)

    Sum of products over the axes pairs: axes=N contracts the last N axes of
    x1 with the first N of x2; axes=(axes1, axes2) names them.  The result
    has x1's free axes, then x2's; dtypes promote as in matmul."""
    a, b = _C.asarray(x1), _C.asarray(x2)
    if isinstance(axes, int):
        if not 0 <= axes <= min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes={axes} is not in [0, {min(a.ndim, b.ndim)}] for shapes "
                             f"{a.shape} and {b.shape}")
        ax_a, ax_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        if len(axes) != 2:
            raise ValueError("tensordot: axes must be an int or a pair of axis sequences")
        ax_a, ax_b = _axes_list(axes[0], a.ndim, "x1"), _axes_list(axes[1], b.ndim, "x2")
    sizes_a, sizes_b = [a.shape[i] for i in ax_a], [b.shape[i] for i in ax_b]
    if sizes_a != sizes_b:
        raise ValueError(f"tensordot: contracted sizes {sizes_a} of x1 {a.shape} and {sizes_b} of x2 {b.shape} "
                         "differ")
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    shape_a, shape_b = [a.shape[i] for i in free_a], [b.shape[i] for i in free_b]
    n = math.prod(sizes_a)
    am = _C.reshape(_C.permute_dims(a, tuple(free_a + ax_a)), (math.prod(shape_a), n))
    bm = _C.reshape(_C.permute_dims(b, tuple(ax_b + free_b)), (n, math.prod(shape_b)))
    return _C.reshape(_C.matmul(am, bm), tuple(shape_a + shape_b))


def vecdot(x1, x2, /, *, axis=-1):
    """vecdot(x1, x2, /, *, axis=-1)

    Dot product of vectors along axis (counted in the broadcast shape; both
    operands must have it, with the same size): sum(x1 * x2, axis=axis)."""
    a, b = _C.asarray(x1), _C.asarray(x2)
    nd = max(a.ndim, b.ndim)
    ax = axis - nd if axis >= 0 else axis
    if not -min(a.ndim, b.ndim) <= ax < 0:
        raise IndexError(f"vecdot: axis {axis} is out of range for shapes {a.shape} and {b.shape}")
    if a.shape[ax] != b.shape[ax]:
        raise ValueError(f"vecdot: sizes {a.shape[ax]} and {b.shape[ax]} along axis {axis} of shapes "
                         f"{a.shape} and {b.shape} differ")
    return _C.sum(_C.mul(a, b), axis=ax)


def matrix_transpose(x, /):
    """matrix_transpose(x, /)

    View of x with its last two axes swapped (x must have at least 2)."""
    return _C.asarray(x).mT


linalg = types.ModuleType("ember.linalg", "Array-API linear algebra: matmul, tensordot, vecdot, "
                          "matrix_transpose, vector_norm.")
linalg.matmul, linalg.vector_norm = _C.matmul, _C.vector_norm
linalg.tensordot, linalg.vecdot, linalg.matrix_transpose = tensordot, vecdot, matrix_transpose
sys.modules["ember.linalg"] = linalg
