"""The linear layer's functional form, ``torch.nn.functional.linear``.

The forward pass is one fused GEMM from libember (csrc/ember/ops/linalg.c,
kernels/gemm.c): ``input @ weight.T + bias`` with the bias added to each
output tile while it is in cache.  Float32 or float64, the same dtype for
every operand; bit-identical for any thread count.  When autograd must
record the call (an operand requires grad and grad mode is on) it is built
from ``matmul`` and ``add`` instead, whose gradients autograd knows.
"""
from __future__ import annotations

from typing import Any

from .. import _C

__all__ = ["linear"]


def _records_grad(*ts: Any) -> bool:
    if not any(getattr(t, "requires_grad", False) for t in ts if t is not None):
        return False
    from .. import autograd  # late: ember.nn is imported while ember initialises
    return bool(autograd.is_grad_enabled())


def linear(input: Any, weight: Any, bias: Any | None = None) -> Any:
    """Applies ``y = input @ weight.T + bias`` as ``torch.nn.functional.linear``.

    Args:
        input: tensor of shape ``(*, in_features)`` (``*``: any leading axes,
            also none: a 1-D input gives a 1-D result).
        weight: tensor of shape ``(out_features, in_features)``.
        bias: ``None`` or a 1-D tensor of ``out_features``.

    Returns:
        A new tensor of shape ``(*, out_features)``, in the operands' dtype
        (float32 or float64; all operands must share it).

    Raises:
        ValueError: the shapes do not match (the message names them).
        TypeError: a dtype is not float32/float64, or the dtypes differ.
    """
    if _records_grad(input, weight, bias):
        x, w = _C.asarray(input), _C.asarray(weight)
        if x.dtype != w.dtype or (bias is not None and _C.asarray(bias).dtype != x.dtype):
            _C._linear(x, w, bias)  # raises the same TypeError as the fused path
        from .._linalg import matrix_transpose
        y = _C.matmul(x, matrix_transpose(w))
        return y if bias is None else y + bias
    return _C._linear(input, weight, bias)
