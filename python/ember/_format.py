"""Tensor repr, shaped like NumPy's: tensor([[1., 2.]]) and dtype= when not the default."""
import numpy as _np

_DEFAULT = {"float32", "int64", "bool"}


def tensor_repr(t):
    a = t.numpy()
    prefix = "tensor("
    if a.size == 0 and a.ndim != 1:
        body = f"[], shape={a.shape}"
    else:
        body = _np.array2string(a, separator=", ", prefix=prefix, threshold=1000, edgeitems=3,
                                floatmode="maxprec", suppress_small=False)
    if t.dtype.name not in _DEFAULT or a.size == 0:
        body += f", dtype={t.dtype.name}"
    return prefix + body + ")"
