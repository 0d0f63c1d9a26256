"""The linear layer's functional form, ``torch.nn.functional.linear``.

The forward pass is one fused GEMM from libember (csrc/ember/ops/linalg.c,
kernels/gemm.c): ``input @ weight.T + bias`` with the bias added to each
output tile while it is in cache.  Float32 or float64, the same dtype for
every operand; bit-identical for any thread count.  When autograd records
the call, libember records one LinearBackward node (weight gradient
computed in the weight's own layout, bias gradient as column sums).
"""
from __future__ import annotations

from typing import Any

from .. import _C

__all__ = ["linear"]


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
    return _C._linear(input, weight, bias)
