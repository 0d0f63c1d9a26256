"""Activations, dropout, embedding and losses in the forms of
``torch.nn.functional``.

Everything here is composed from ember ops that autograd differentiates
(elementwise ops, ``where``, ``take_along_axis``, ``index_select``,
reductions, ``log_softmax``), so gradients come without extra code.  The
loss definitions are PyTorch's, including the weighted mean of
``cross_entropy``/``nll_loss`` and its label-smoothing formula.
"""
from __future__ import annotations

import math
from typing import Any, Optional

from .. import _C
from .. import _dtype as _dt
from .. import random as _random
from .._C import Tensor
from ._norm import log_softmax

__all__ = ["relu", "relu6", "leaky_relu", "gelu", "silu", "tanh", "sigmoid", "elu", "softplus", "hardtanh",
           "dropout", "embedding", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss",
           "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div"]

_FLOATS = ("float32", "float64")


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else _C.asarray(x)


def _no_inplace(inplace: bool, fname: str) -> None:
    if inplace:
        raise ValueError(f"{fname}(): inplace=True is not supported by ember (autograd does not record "
                         "in-place ops); use the out-of-place form")


# ---- activations ---------------------------------------------------------
def relu(input: Any, inplace: bool = False) -> Tensor:
    """relu(input) -> Tensor: ``max(x, 0)``."""
    _no_inplace(inplace, "relu")
    return _C.relu(_t(input))


def relu6(input: Any, inplace: bool = False) -> Tensor:
    """relu6(input) -> Tensor: ``min(max(x, 0), 6)``."""
    _no_inplace(inplace, "relu6")
    return _C.clip(_t(input), 0.0, 6.0)


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """hardtanh(input, min_val=-1., max_val=1.) -> Tensor: ``x`` clamped to [min_val, max_val]."""
    _no_inplace(inplace, "hardtanh")
    return _C.clip(_t(input), min_val, max_val)


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """leaky_relu(input, negative_slope=0.01) -> Tensor: ``x if x > 0 else negative_slope * x``."""
    _no_inplace(inplace, "leaky_relu")
    return _C.leaky_relu(_t(input), float(negative_slope))


def gelu(input: Any, approximate: str = "none") -> Tensor:
    """gelu(input, approximate='none') -> Tensor: ``x * Phi(x)``; ``approximate='tanh'``
    uses ``x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))``."""
    if approximate == "none":
        return _C.gelu(_t(input))
    if approximate == "tanh":
        return _C.gelu_tanh(_t(input))
    raise ValueError(f"gelu(): approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Any, inplace: bool = False) -> Tensor:
    """silu(input) -> Tensor: ``x * sigmoid(x)``."""
    _no_inplace(inplace, "silu")
    return _C.silu(_t(input))


def tanh(input: Any) -> Tensor:
    """tanh(input) -> Tensor: the hyperbolic tangent."""
    return _C.tanh(_t(input))


def sigmoid(input: Any) -> Tensor:
    """sigmoid(input) -> Tensor: ``1 / (1 + exp(-x))``."""
    return _C.sigmoid(_t(input))


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """elu(input, alpha=1.0) -> Tensor: ``x if x > 0 else alpha * (exp(x) - 1)``."""
    _no_inplace(inplace, "elu")
    return _C.elu(_t(input), float(alpha))


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """softplus(input, beta=1.0, threshold=20.0) -> Tensor: ``log(1 + exp(beta x)) / beta``,
    and ``x`` itself where ``beta * x > threshold`` (as PyTorch)."""
    x = _t(input)
    y = _C.softplus(x, float(beta))
    return _C.where(x * beta > threshold, x, y)


# ---- dropout, embedding ---------------------------------------------------
def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
            generator: Any = None) -> Tensor:
    """dropout(input, p=0.5, training=True, generator=None) -> Tensor

    In training, zeroes each element with probability ``p`` (Bernoulli
    draws from ``ember.random``) and scales the others by ``1 / (1 - p)``;
    otherwise returns ``input`` unchanged."""
    _no_inplace(inplace, "dropout")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    x = _t(input)
    if not training or p == 0.0:
        return x
    if str(x.dtype) not in _FLOATS:
        raise TypeError(f"dropout(): expected a float32 or float64 input, got {x.dtype}")
    if p == 1.0:
        return x * 0.0
    mask = _random.bernoulli(1.0 - p, tuple(x.shape), dtype=x.dtype, generator=generator)
    return x * (mask * (1.0 / (1.0 - p)))


def embedding(input: Any, weight: Tensor, padding_idx: Optional[int] = None, max_norm: Optional[float] = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """embedding(input, weight, padding_idx=None) -> Tensor

    Rows of ``weight`` ``(num_embeddings, dim)`` at the integer indices
    ``input``: shape ``input.shape + (dim,)``.  Positions holding
    ``padding_idx`` contribute no gradient to that row."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding(): max_norm, scale_grad_by_freq and sparse are not supported")
    idx = _t(input)
    if str(idx.dtype) not in ("int64", "int32", "int8", "uint8"):
        raise TypeError(f"embedding(): indices must be an integer tensor, got {idx.dtype}")
    n = int(weight.shape[0])
    if idx.size and (int(_C.min(idx)) < 0 or int(_C.max(idx)) >= n):
        raise IndexError(f"embedding(): index out of range: indices must be in [0, {n}), got "
                         f"[{int(_C.min(idx))}, {int(_C.max(idx))}]")
    flat = _C.reshape(idx, (-1,))
    out = _C.reshape(_C.index_select(weight, 0, flat), tuple(idx.shape) + (int(weight.shape[1]),))
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += n
        out = _C.where(_C.expand_dims(idx == padding_idx, axis=-1), out.detach(), out)
    return out


# ---- losses -------------------------------------------------------------
def _reduce(loss: Tensor, reduction: str, fname: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return _C.mean(loss)
    if reduction == "sum":
        return _C.sum(loss)
    raise ValueError(f"{fname}(): {reduction!r} is not a valid value for reduction ('none', 'mean', 'sum')")


def _check_reduction(reduction: str, fname: str, extra: tuple[str, ...] = ()) -> None:
    if reduction not in ("none", "mean", "sum") + extra:
        raise ValueError(f"{fname}(): {reduction!r} is not a valid value for reduction")


def _pair(input: Any, target: Any, fname: str) -> tuple[Tensor, Tensor]:
    x, y = _t(input), _t(target)
    if tuple(x.shape) != tuple(y.shape):
        raise ValueError(f"{fname}(): target shape {tuple(y.shape)} must equal input shape {tuple(x.shape)}")
    if str(x.dtype) not in _FLOATS:
        raise TypeError(f"{fname}(): expected a float32 or float64 input, got {x.dtype}")
    return x, y


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """mse_loss(input, target, reduction='mean') -> Tensor: ``(x - y)^2``, reduced."""
    _check_reduction(reduction, "mse_loss")
    x, y = _pair(input, target, "mse_loss")
    d = x - y
    return _reduce(d * d, reduction, "mse_loss")


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """l1_loss(input, target, reduction='mean') -> Tensor: ``|x - y|``, reduced."""
    _check_reduction(reduction, "l1_loss")
    x, y = _pair(input, target, "l1_loss")
    return _reduce(_C.abs(x - y), reduction, "l1_loss")


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """smooth_l1_loss(input, target, reduction='mean', beta=1.0) -> Tensor:
    ``0.5 d^2 / beta`` where ``d = |x - y| < beta``, else ``d - beta/2``; beta=0 is the L1 loss."""
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss(): beta must be non-negative, got {beta}")
    x, y = _pair(input, target, "smooth_l1_loss")
    d = _C.abs(x - y)
    if beta == 0.0:
        return _reduce(d, reduction, "smooth_l1_loss")
    return _reduce(_C.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction, "smooth_l1_loss")


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """huber_loss(input, target, reduction='mean', delta=1.0) -> Tensor:
    ``0.5 d^2`` where ``d = |x - y| < delta``, else ``delta * (d - delta/2)``."""
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss(): delta must be positive, got {delta}")
    x, y = _pair(input, target, "huber_loss")
    d = _C.abs(x - y)
    return _reduce(_C.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta), reduction, "huber_loss")


def _class_last(x: Tensor) -> Tensor:
    """(N, C, d1, ...) -> (N, d1, ..., C), so the class axis is last."""
    if x.ndim <= 2:
        return x
    return _C.permute_dims(x, (0,) + tuple(range(2, x.ndim)) + (1,))


def _check_targets(x: Tensor, t: Tensor, fname: str) -> None:
    if str(t.dtype) not in ("int64", "int32", "int8", "uint8"):
        raise TypeError(f"{fname}(): expected integer class indices as target, got {t.dtype}")
    want = (tuple(x.shape)[:1] + tuple(x.shape)[2:]) if x.ndim >= 2 else ()
    if tuple(t.shape) != want:
        raise ValueError(f"{fname}(): expected target of shape {want} for input of shape {tuple(x.shape)}, "
                         f"got {tuple(t.shape)}")


def _nll_parts(logp: Tensor, target: Tensor, weight: Optional[Tensor], ignore_index: int,
               fname: str) -> tuple[Tensor, Tensor]:
    """Per-element ``-w[t] * logp[t]`` and its weights ``w[t]`` (0 where ignored)."""
    _check_targets(logp, target, fname)
    c = int(logp.shape[1]) if logp.ndim >= 2 else int(logp.shape[0])
    keep = target != ignore_index
    safe = _C.where(keep, (target).astype(_dt.int64), 0)
    if safe.size and (int(_C.min(safe)) < 0 or int(_C.max(safe)) >= c):
        raise IndexError(f"{fname}(): target {int(_C.min(safe)) if int(_C.min(safe)) < 0 else int(_C.max(safe))}"
                         f" is out of bounds for {c} classes")
    lp = _class_last(logp)
    picked = _C.squeeze(_C.take_along_axis(lp, _C.expand_dims(safe, axis=-1), axis=-1), axis=-1)
    if weight is not None:
        w = _t(weight)
        if tuple(w.shape) != (c,):
            raise ValueError(f"{fname}(): weight must have shape ({c},), got {tuple(w.shape)}")
        wt = _C.where(keep, _C.take((w).astype(logp.dtype), safe, axis=0), 0.0)
    else:
        wt = (keep).astype(logp.dtype)
    # where, not a product with the 0 weight: when every target is ignored the
    # mean's 1/0 reaches here as inf, and ignored entries must still get 0 (as torch)
    return _C.where(keep, -(picked * wt), 0.0), wt


def nll_loss(input: Any, target: Any, weight: Optional[Any] = None, size_average: Any = None,
             ignore_index: int = -100, reduce: Any = None, reduction: str = "mean") -> Tensor:
    """nll_loss(input, target, weight=None, ignore_index=-100, reduction='mean') -> Tensor

    ``-weight[t] * input[n, t]`` for log-probabilities ``input`` ``(N, C)``,
    ``(N, C, d1, ...)`` or ``(C,)`` and class indices ``target``; entries
    whose target is ``ignore_index`` give 0.  'mean' divides the sum by the
    sum of the weights of the non-ignored targets."""
    if size_average is not None or reduce is not None:
        raise ValueError("nll_loss(): size_average and reduce are deprecated; use reduction")
    _check_reduction(reduction, "nll_loss")
    x, t = _t(input), _t(target)
    if str(x.dtype) not in _FLOATS:
        raise TypeError(f"nll_loss(): expected a float32 or float64 input, got {x.dtype}")
    if x.ndim == 0:
        raise ValueError("nll_loss(): input must have at least one dimension")
    loss, wt = _nll_parts(x, t, weight, ignore_index, "nll_loss")
    if reduction == "mean":
        return _C.sum(loss) / _C.sum(wt)
    return _reduce(loss, reduction, "nll_loss")


def cross_entropy(input: Any, target: Any, weight: Optional[Any] = None, size_average: Any = None,
                  ignore_index: int = -100, reduce: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """cross_entropy(input, target, weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0) -> Tensor

    ``nll_loss(log_softmax(input, 1), target)`` for class indices, or
    ``-sum_c weight[c] * target[c] * log_softmax(input)[c]`` for class
    probabilities (a float target of input's shape).  ``label_smoothing``
    mixes the target with the uniform distribution over the C classes,
    with PyTorch's exact formula (ignored rows drop out; with class indices
    and ``weight`` the smoothing term's mean divides by the same weight sum)."""
    if size_average is not None or reduce is not None:
        raise ValueError("cross_entropy(): size_average and reduce are deprecated; use reduction")
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy(): label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    x, t = _t(input), _t(target)
    if str(x.dtype) not in _FLOATS:
        raise TypeError(f"cross_entropy(): expected a float32 or float64 input, got {x.dtype}")
    if x.ndim == 0:
        raise ValueError("cross_entropy(): input must have at least one dimension")
    cdim = 1 if x.ndim >= 2 else 0
    c = int(x.shape[cdim])
    logp = log_softmax(x, cdim)
    wshape = [1] * x.ndim
    wshape[cdim] = c
    w = None
    if weight is not None:
        w = (_t(weight)).astype(x.dtype)
        if tuple(w.shape) != (c,):
            raise ValueError(f"cross_entropy(): weight must have shape ({c},), got {tuple(w.shape)}")
    if str(t.dtype) in _FLOATS:  # class probabilities
        if tuple(t.shape) != tuple(x.shape):
            raise ValueError(f"cross_entropy(): a probability target must have input's shape {tuple(x.shape)}, "
                             f"got {tuple(t.shape)}")
        if label_smoothing > 0:
            t = t * (1.0 - label_smoothing) + label_smoothing / c
        prod = logp * t
        if w is not None:
            prod = prod * _C.reshape(w, tuple(wshape))
        loss = -_C.sum(prod, axis=cdim)
        if reduction == "mean":
            return _C.sum(loss) / (x.size // c) if x.size else _C.sum(loss) * math.nan
        return _reduce(loss, reduction, "cross_entropy")
    nll, wt = _nll_parts(logp, t, w, ignore_index, "cross_entropy")
    if reduction == "mean":
        nll_red = _C.sum(nll) / _C.sum(wt)
    else:
        nll_red = _reduce(nll, reduction, "cross_entropy")
    if label_smoothing == 0.0:
        return nll_red
    lw = logp if w is None else logp * _C.reshape(w, tuple(wshape))
    smooth = _C.where(t != ignore_index, -_C.sum(lw, axis=cdim), 0.0)
    if reduction == "mean":
        smooth_red = _C.sum(smooth) / _C.sum(wt)
    else:
        smooth_red = _reduce(smooth, reduction, "cross_entropy")
    return nll_red * (1.0 - label_smoothing) + smooth_red * (label_smoothing / c)


def binary_cross_entropy(input: Any, target: Any, weight: Optional[Any] = None, size_average: Any = None,
                         reduce: Any = None, reduction: str = "mean") -> Tensor:
    """binary_cross_entropy(input, target, weight=None, reduction='mean') -> Tensor

    ``-weight * (y log x + (1 - y) log(1 - x))`` for probabilities ``x`` in
    [0, 1], with each log clamped below at -100 (as PyTorch)."""
    if size_average is not None or reduce is not None:
        raise ValueError("binary_cross_entropy(): size_average and reduce are deprecated; use reduction")
    _check_reduction(reduction, "binary_cross_entropy")
    x, y = _pair(input, target, "binary_cross_entropy")
    xs = x.detach()
    if x.size and (float(_C.min(xs)) < 0 or float(_C.max(xs)) > 1):
        raise ValueError("binary_cross_entropy(): all elements of input should be between 0 and 1")
    loss = -(y * _C.clip(_C.log(x), -100.0, None) + (1.0 - y) * _C.clip(_C.log(1.0 - x), -100.0, None))
    if weight is not None:
        loss = loss * _t(weight)
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Optional[Any] = None,
                                     size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                                     pos_weight: Optional[Any] = None) -> Tensor:
    """binary_cross_entropy_with_logits(input, target, weight=None, reduction='mean', pos_weight=None) -> Tensor

    ``-weight * (pos_weight * y * log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))``,
    computed stably as ``(1 - y) x + (1 + (pos_weight - 1) y) * softplus(-x)``."""
    if size_average is not None or reduce is not None:
        raise ValueError("binary_cross_entropy_with_logits(): size_average and reduce are deprecated")
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    x, y = _pair(input, target, "binary_cross_entropy_with_logits")
    sp = _C.softplus(-x)
    if pos_weight is not None:
        loss = (1.0 - y) * x + ((_t(pos_weight) - 1.0) * y + 1.0) * sp
    else:
        loss = (1.0 - y) * x + sp
    if weight is not None:
        loss = loss * _t(weight)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def kl_div(input: Any, target: Any, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """kl_div(input, target, reduction='mean', log_target=False) -> Tensor

    Pointwise ``target * (log target - input)`` for log-probabilities
    ``input`` (0 where target is 0), or ``exp(target) * (target - input)``
    when ``log_target``.  'batchmean' divides the sum by the batch size;
    'mean' (PyTorch's default, rarely what is meant) by the element count."""
    if size_average is not None or reduce is not None:
        raise ValueError("kl_div(): size_average and reduce are deprecated; use reduction")
    _check_reduction(reduction, "kl_div", ("batchmean",))
    x, y = _t(input), _t(target)
    if str(x.dtype) not in _FLOATS:
        raise TypeError(f"kl_div(): expected a float32 or float64 input, got {x.dtype}")
    if log_target:
        loss = _C.exp(y) * (y - x)
    else:
        pos = y > 0
        loss = _C.where(pos, y * _C.log(_C.where(pos, y, 1.0)), 0.0) - y * x
    if reduction == "batchmean":
        return _C.sum(loss) / (int(x.shape[0]) if x.ndim else 1)
    return _reduce(loss, reduction, "kl_div")
