"""ember.nn.utils: gradient clipping with ``torch.nn.utils``' semantics.

Both functions work in place on the ``.grad`` of the given parameters, with
one libember call over all of them (em_clip_grad_norm / em_clip_grad_value).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Union

from .. import _C
from .._C import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm"]

_Params = Union[Tensor, Iterable[Tensor]]


def _grads(parameters: _Params) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = []
    for p in parameters:
        g = p.grad
        if g is not None:
            if not g.is_contiguous():  # clip a contiguous copy in its place
                g = p.grad = g.contiguous()
            grads.append(g)
    return grads


def _norm_type(norm_type: Union[float, str]) -> float:
    if isinstance(norm_type, str):
        if norm_type.lower() not in ("inf", "+inf"):
            raise ValueError(f"norm_type must be a number or 'inf', got {norm_type!r}")
        return float("inf")
    return float(norm_type)


def _result(value: float, grads: list[Tensor]) -> Tensor:
    from .. import tensor, float32
    return tensor(value, dtype=grads[0].dtype if grads else float32)


def get_total_norm(tensors: _Params, norm_type: Union[float, str] = 2.0) -> Tensor:
    """The norm of all the given tensors together, as if concatenated into
    one vector: ``(sum |x|^p)^(1/p)``, ``max |x|`` for p = inf (a 0-d tensor).
    Unlike the clipping functions it takes the tensors themselves."""
    ts = [tensors] if isinstance(tensors, Tensor) else [t if t.is_contiguous() else t.contiguous() for t in tensors]
    return _result(_C._grad_total_norm(ts, _norm_type(norm_type)), ts)


def clip_grad_norm_(parameters: _Params, max_norm: float, norm_type: Union[float, str] = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale the gradients of parameters in place so that their total norm
    (as :func:`get_total_norm`) is at most max_norm: each is multiplied by
    ``min(max_norm / (total + 1e-6), 1)``.  Returns the total norm before
    clipping (a 0-d tensor).  With error_if_nonfinite a NaN or infinite total
    raises RuntimeError and leaves the gradients unchanged.  foreach is
    accepted for PyTorch compatibility and ignored (one fused call always)."""
    grads = _grads(parameters)
    return _result(_C._clip_grad_norm(grads, float(max_norm), _norm_type(norm_type), bool(error_if_nonfinite)),
                   grads)


def clip_grad_value_(parameters: _Params, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp the gradients of parameters in place to [-clip_value, clip_value]
    (NaN stays NaN).  foreach is accepted for PyTorch compatibility and ignored."""
    _C._clip_grad_value(_grads(parameters), float(clip_value))
