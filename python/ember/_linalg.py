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


# ---- dense linear algebra (csrc/ember/ml/linalg_*.c, docs/linalg.md) ------------------------------

class LinAlgError(ValueError):
    """Raised by ember.linalg when a matrix is singular (solve, inv), not
    positive definite (cholesky), contains NaN/inf (eigh, svd, lstsq, pinv),
    an iteration does not converge, or shapes do not fit.  A ValueError, so
    ``except ValueError`` also catches it (NumPy's LinAlgError is one too)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)


def _la(fn, *args):
    try:
        return fn(*args)
    except ValueError as e:
        raise LinAlgError(str(e)) from None


_QR_MODES = {"reduced": 0, "complete": 1, "r": 2}


def solve(x1, x2, /):
    """solve(x1, x2, /)

    Solution x of x1 @ x = x2 for square x1 (..., n, n), by LU with partial
    pivoting.  x2 is one vector (n,) or a stack (..., n, k) whose batch dims
    broadcast with x1's.  A singular x1 raises LinAlgError."""
    return _la(_C._solve, x1, x2)


def inv(x, /):
    """inv(x, /)

    Inverse of each square matrix of x (..., n, n), by LU with partial
    pivoting; a singular matrix raises LinAlgError."""
    return _la(_C._inv, x)


def det(x, /):
    """det(x, /)

    Determinant of each square matrix of x (..., n, n): the product of the LU
    pivots (may overflow where slogdet does not)."""
    return _la(_C._det, x)


class _SlogdetResult(tuple):
    """(sign, logabsdet) of slogdet: det = sign * exp(logabsdet)."""

    @property
    def sign(self):
        """Sign of the determinant (0 for a singular matrix)."""
        return self[0]

    @property
    def logabsdet(self):
        """Natural log of |det| (-inf for a singular matrix)."""
        return self[1]


def slogdet(x, /):
    """slogdet(x, /)

    (sign, logabsdet) of each square matrix of x with det = sign *
    exp(logabsdet), without overflow; singular: (0, -inf)."""
    return _SlogdetResult(_la(_C._slogdet, x))


def cholesky(x, /, *, upper=False):
    """cholesky(x, /, *, upper=False)

    Cholesky factor of each symmetric positive-definite matrix of x, reading
    only the lower triangle: x = L @ L.mT (upper: x = U.mT @ U).  A matrix
    that is not positive definite raises LinAlgError naming the leading
    minor."""
    return _la(_C._cholesky, x, bool(upper))


def qr(x, /, mode="reduced"):
    """qr(x, /, mode='reduced')

    Householder QR of each matrix of x (..., m, n): x = Q @ R.  mode
    'reduced': Q (..., m, k), R (..., k, n), k = min(m, n); 'complete':
    Q (..., m, m), R (..., m, n); 'r': R only.  Signs follow LAPACK/NumPy
    (R's diagonal may be negative).  Returns (Q, R) or R."""
    if mode not in _QR_MODES:
        raise ValueError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    res = _la(_C._qr, x, _QR_MODES[mode])
    return res if mode == "r" else _QRResult(res)


class _QRResult(tuple):
    """(Q, R) of qr."""

    @property
    def Q(self):
        """Orthonormal factor."""
        return self[0]

    @property
    def R(self):
        """Upper-triangular factor."""
        return self[1]


class _EighResult(tuple):
    """(eigenvalues, eigenvectors) of eigh."""

    @property
    def eigenvalues(self):
        """Ascending eigenvalues (..., n)."""
        return self[0]

    @property
    def eigenvectors(self):
        """Eigenvectors as columns (..., n, n)."""
        return self[1]


def eigh(x, /):
    """eigh(x, /)

    Eigenvalues (ascending) and eigenvectors (columns) of each symmetric
    matrix of x, reading its lower triangle: x = V @ diag(w) @ V.mT
    (Householder tridiagonalisation + implicit QL).  NaN/inf or no
    convergence raise LinAlgError."""
    return _EighResult(_la(_C._eigh, x, True))


def eigvalsh(x, /):
    """eigvalsh(x, /)

    Ascending eigenvalues of each symmetric matrix of x (lower triangle)."""
    return _la(_C._eigh, x, False)


class _SVDResult(tuple):
    """(U, S, Vh) of svd."""

    @property
    def U(self):
        """Left singular vectors as columns."""
        return self[0]

    @property
    def S(self):
        """Singular values, descending."""
        return self[1]

    @property
    def Vh(self):
        """Right singular vectors as rows."""
        return self[2]


def svd(x, /, *, full_matrices=True):
    """svd(x, /, *, full_matrices=True)

    x (..., m, n) = U @ diag(S) @ Vh with S descending (one-sided Jacobi after
    a Householder QR).  full_matrices: U (..., m, m), Vh (..., n, n); else
    (..., m, k) and (..., k, n), k = min(m, n).  NaN/inf raise LinAlgError."""
    return _SVDResult(_la(_C._svd, x, bool(full_matrices), True))


def svdvals(x, /):
    """svdvals(x, /)

    Singular values of each matrix of x, descending (..., min(m, n))."""
    return _la(_C._svd, x, False, False)


def pinv(x, /, *, rtol=None):
    """pinv(x, /, *, rtol=None)

    Moore-Penrose pseudo-inverse (..., n, m) from the SVD, dropping singular
    values <= rtol * max(S); rtol None: max(m, n) * eps of x's dtype."""
    return _la(_C._pinv, x, -1.0 if rtol is None else float(rtol))


def lstsq(a, b, /, rcond=None):
    """lstsq(a, b, /, rcond=None)

    Minimum-norm least-squares solution of a @ x = b, as numpy.linalg.lstsq:
    returns (x, residuals, rank, s).  Singular values <= rcond * max(s) are
    treated as zero (None: max(m, n) * eps).  residuals: squared residual
    norms when m > n and a has full rank, else empty.  a may be a stack
    (..., m, n); b is then (..., m) or (..., m, k); rank is an int for 2-D a
    and an int64 tensor for a stack."""
    x, res, rank, s = _la(_C._lstsq, a, b, -1.0 if rcond is None else float(rcond))
    return x, res, (int(rank.item()) if rank.ndim == 0 else rank), s


def matrix_rank(x, /, *, rtol=None):
    """matrix_rank(x, /, *, rtol=None)

    Number of singular values > rtol * max(S) of each matrix of x (int64);
    rtol None: max(m, n) * eps of x's dtype."""
    a = _C.asarray(x)
    if a.ndim < 2:
        raise LinAlgError(f"matrix_rank: x must have at least 2 dimensions, got shape {a.shape}")
    s = svdvals(a)
    if rtol is None:
        rtol = max(a.shape[-2], a.shape[-1]) * (1.1920929e-07 if s.itemsize == 4 else 2.220446049250313e-16)
    if s.shape[-1] == 0:
        return _C.sum(_C.zeros(s.shape, dtype="int64"), axis=-1)
    top = _C.max(s, axis=-1, keepdims=True)
    return _C.sum(_C.greater(s, _C.multiply(top, float(rtol))), axis=-1)


def matrix_power(x, n, /):
    """matrix_power(x, n, /)

    x multiplied by itself n times (n an int; 0: identity, negative: powers
    of inv(x)), by repeated squaring."""
    if not isinstance(n, int):
        raise TypeError(f"matrix_power: n must be an int, got {type(n).__name__}")
    a = _C.asarray(x)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise LinAlgError(f"matrix_power: expected square matrices, got shape {a.shape}")
    if n < 0:
        a, n = inv(a), -n
    result = None
    while n:
        if n & 1:
            result = a if result is None else _C.matmul(result, a)
        n >>= 1
        if n:
            a = _C.matmul(a, a)
    if result is None:
        eye = _C.eye(a.shape[-1], dtype=a.dtype)
        return _C.add(_C.zeros(a.shape, dtype=a.dtype), eye)
    return result


for _f in (solve, inv, det, slogdet, cholesky, qr, eigh, eigvalsh, svd, svdvals, pinv, lstsq, matrix_rank,
           matrix_power, LinAlgError):
    setattr(linalg, _f.__name__, _f)
for _c in (_SlogdetResult, _QRResult, _EighResult, _SVDResult):
    _c.__module__ = "ember.linalg"
LinAlgError.__module__ = "ember.linalg"
del _f, _c
