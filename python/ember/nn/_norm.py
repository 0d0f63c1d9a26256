"""Softmax and normalisation layers' functional forms, with the names,
signatures and semantics of ``torch.nn.functional``.

The kernels are libember's (csrc/ember/ops/softmax.c, norm.c): numerically
stable, float32 or float64, bit-identical for any thread count.  Inputs may
be ember tensors or anything ``ember.asarray`` accepts.
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

from .. import _C
from .._C import Tensor

__all__ = ["softmax", "log_softmax", "layer_norm", "batch_norm", "group_norm"]


def _implicit_dim(ndim: int) -> int:
    # torch's legacy choice when dim is omitted
    warnings.warn("Implicit dimension choice for softmax has been deprecated; pass dim explicitly.",
                  UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _prepare(input: Any, dim: int | None, dtype: Any) -> tuple[Any, int]:
    x = input if dtype is None else _C.asarray(input, dtype=dtype)
    if dim is None:
        dim = _implicit_dim(_C.asarray(x).ndim)
    return x, dim


def softmax(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """softmax(input, dim=None, dtype=None) -> Tensor

    ``exp(x) / sum(exp(x))`` along ``dim``, computed stably (the row maximum
    is subtracted first).  ``dtype`` casts the input first; integer input
    computes in float32.  A row containing NaN or +inf, or only -inf, gives
    NaN, as in PyTorch."""
    x, d = _prepare(input, dim, dtype)
    result: Tensor = _C.softmax(x, axis=d)
    return result


def log_softmax(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """log_softmax(input, dim=None, dtype=None) -> Tensor

    ``x - logsumexp(x)`` along ``dim``, computed stably; -inf inputs give
    -inf outputs.  ``dtype`` casts the input first."""
    x, d = _prepare(input, dim, dtype)
    result: Tensor = _C.log_softmax(x, axis=d)
    return result


def layer_norm(input: Any, normalized_shape: int | Sequence[int], weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05) -> Tensor

    Normalises over the trailing dimensions, which must equal
    ``normalized_shape``: ``(x - mean) / sqrt(var + eps) * weight + bias``
    with the biased variance of each row.  ``weight`` and ``bias`` have
    shape ``normalized_shape`` (None: 1 and 0)."""
    out: Tensor = _C._layer_norm(input, normalized_shape, weight, bias, eps)[0]
    return out


def batch_norm(input: Any, running_mean: Tensor | None, running_var: Tensor | None, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-05) -> Tensor

    Per-channel normalisation of ``input`` of shape ``(N, C, *)``.  Training
    uses the batch mean and biased variance over all but dim 1 and, when
    given, updates ``running_mean`` and ``running_var`` (ember tensors of
    shape ``(C,)``) in place: ``running = (1 - momentum) * running +
    momentum * batch``, with the unbiased batch variance.  Eval normalises
    with the running statistics."""
    out: Tensor = _C._batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)[0]
    return out


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Tensor:
    """group_norm(input, num_groups, weight=None, bias=None, eps=1e-05) -> Tensor

    Splits the C channels of ``input`` ``(N, C, *)`` into ``num_groups``
    groups and normalises each group of each sample over its channels and
    ``*``; then scales and shifts channel c by ``weight[c]`` and ``bias[c]``."""
    out: Tensor = _C._group_norm(input, num_groups, weight, bias, eps)[0]
    return out
