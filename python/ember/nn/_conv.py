"""Convolution and pooling in the forms of ``torch.nn.functional``: conv1d,
conv2d, max/avg pooling in 1-D and 2-D, adaptive average pooling.

The kernels are libember's (csrc/ember/ops/conv.c and pool.c, design in
docs/kernels.md): float32 or float64, NCL / NCHW layouts, bit-identical for
any thread count.  This module only normalises PyTorch's argument forms (an
int or a tuple per spatial axis, ``padding='same'``/``'valid'``, unbatched
inputs) before calling the private bindings in ``ember._C``; those bindings
(``_conv_grad_input``, ``_conv_grad_weight``, ``_max_pool_backward``, ...)
also give the gradients.
"""
from __future__ import annotations

from typing import Any, Sequence, Union

from .. import _C
from .._C import Tensor

__all__ = ["conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d"]

_Size = Union[int, Sequence[int]]


def _tuple(v: _Size, n: int, name: str, fname: str) -> tuple[int, ...]:
    """An int repeated n times, or a sequence of n ints, as a tuple."""
    if isinstance(v, bool):
        raise TypeError(f"{fname}(): {name} must be an int or a tuple of {n} ints, not bool")
    if isinstance(v, int) or hasattr(v, "__index__"):
        return (int(v),) * n  # type: ignore[arg-type]
    try:
        t = tuple(int(x) for x in v)
    except TypeError:
        raise TypeError(f"{fname}(): {name} must be an int or a tuple of {n} ints, got {v!r}") from None
    if len(t) == 1 and n > 1:
        t = t * n
    if len(t) != n:
        raise ValueError(f"{fname}(): {name} must have {n} element(s), got {v!r}")
    return t


def _batched(x: Tensor, sp: int, fname: str) -> tuple[Tensor, bool]:
    """x with a batch axis (added for an unbatched (C, *spatial) input) and whether one was added."""
    if x.ndim == sp + 1:
        return _C.expand_dims(x, axis=0), True
    if x.ndim != sp + 2:
        raise ValueError(f"{fname}(): expected a {sp + 1}-D (unbatched) or {sp + 2}-D (batched) input, "
                         f"got shape {tuple(x.shape)}")
    return x, False


def _conv(fname: str, sp: int, input: Any, weight: Any, bias: Any, stride: _Size, padding: _Size | str,
          dilation: _Size, groups: int) -> Tensor:
    x, unbatched = _batched(_C.asarray(input), sp, fname)
    w = _C.asarray(weight)
    s, d = _tuple(stride, sp, "stride", fname), _tuple(dilation, sp, "dilation", fname)
    if isinstance(padding, str):
        if padding == "valid":
            p: tuple[int, ...] = (0,) * sp
        elif padding == "same":
            if any(v != 1 for v in s):
                raise ValueError(f"{fname}(): padding='same' is not supported for strided convolutions")
            if w.ndim != sp + 2:
                raise ValueError(f"{fname}(): weight must be {sp + 2}-D, got shape {tuple(w.shape)}")
            total = [d[i] * (w.shape[2 + i] - 1) for i in range(sp)]
            p = tuple(t // 2 for t in total)
            if any(t % 2 for t in total):
                # odd total padding: torch puts the extra zero after, which symmetric padding cannot
                flat: list[int] = []
                for i in reversed(range(sp)):
                    flat += [total[i] // 2, total[i] - total[i] // 2]
                x = _C.pad(x, tuple(flat))
                p = (0,) * sp
        else:
            raise ValueError(f"{fname}(): invalid padding string {padding!r}; expected 'valid' or 'same'")
    else:
        p = _tuple(padding, sp, "padding", fname)
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"{fname}(): groups must be an int, not {type(groups).__name__}")
    out: Tensor = _C._conv(x, w, bias, s, p, d, groups)
    return _C.squeeze(out, axis=0) if unbatched else out


def conv1d(input: Any, weight: Any, bias: Any = None, stride: _Size = 1, padding: _Size | str = 0,
           dilation: _Size = 1, groups: int = 1) -> Tensor:
    """conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor

    1-D cross-correlation as ``torch.nn.functional.conv1d``:
    ``out[n, o, l] = bias[o] + sum_{c, t} weight[o, c, t] * input[n, g*C/groups + c, l*stride + t*dilation - padding]``
    for input ``(N, C_in, L)`` (or unbatched ``(C_in, L)``) and weight
    ``(C_out, C_in/groups, kL)``.  ``padding`` is an int, a 1-tuple, ``'valid'``
    (no padding) or ``'same'`` (output length = input length; stride 1 only)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: _Size = 1, padding: _Size | str = 0,
           dilation: _Size = 1, groups: int = 1) -> Tensor:
    """conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor

    2-D cross-correlation as ``torch.nn.functional.conv2d`` for input
    ``(N, C_in, H, W)`` (or unbatched ``(C_in, H, W)``) and weight
    ``(C_out, C_in/groups, kH, kW)``; ``bias`` is None or ``(C_out,)``.
    ``stride``, ``padding`` and ``dilation`` are ints or ``(h, w)`` pairs;
    ``padding`` may also be ``'valid'`` or ``'same'`` (stride 1 only; an odd
    total padding puts the extra zero after, as PyTorch).  ``groups`` splits
    channels into independent groups (``groups == C_in``: depthwise)."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def _pool_geom(fname: str, sp: int, kernel_size: _Size, stride: _Size | None,
               padding: _Size) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    k = _tuple(kernel_size, sp, "kernel_size", fname)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else _tuple(stride, sp, "stride", fname)
    return k, s, _tuple(padding, sp, "padding", fname)


def _max_pool(fname: str, sp: int, input: Any, kernel_size: _Size, stride: _Size | None, padding: _Size,
              dilation: _Size, ceil_mode: bool, return_indices: bool) -> Tensor | tuple[Tensor, Tensor]:
    x, unbatched = _batched(_C.asarray(input), sp, fname)
    k, s, p = _pool_geom(fname, sp, kernel_size, stride, padding)
    out, idx = _C._max_pool(x, k, s, p, _tuple(dilation, sp, "dilation", fname), bool(ceil_mode))
    if unbatched:
        out, idx = _C.squeeze(out, axis=0), _C.squeeze(idx, axis=0)
    return (out, idx) if return_indices else out


def max_pool1d(input: Any, kernel_size: _Size, stride: _Size | None = None, padding: _Size = 0,
               dilation: _Size = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False)

    Maximum over sliding windows of ``input`` ``(N, C, L)`` (or ``(C, L)``),
    as ``torch.nn.functional.max_pool1d``; padding is never chosen and NaN
    wins.  ``stride`` None means ``kernel_size``.  With ``return_indices``
    also returns the int64 position of each maximum along L."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: Any, kernel_size: _Size, stride: _Size | None = None, padding: _Size = 0,
               dilation: _Size = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False)

    Maximum over sliding ``kernel_size`` windows of ``input`` ``(N, C, H, W)``
    (or ``(C, H, W)``), as ``torch.nn.functional.max_pool2d``.  ``padding``
    (at most half the kernel) is never chosen; NaN wins; ``ceil_mode`` rounds
    the output size up.  With ``return_indices`` also returns the int64 flat
    position ``h * W + w`` of each maximum in its input plane."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool1d(input: Any, kernel_size: _Size, stride: _Size | None = None, padding: _Size = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True) -> Tensor

    Mean over sliding windows of ``input`` ``(N, C, L)``, as
    ``torch.nn.functional.avg_pool1d`` (padded zeros count in the divisor
    when ``count_include_pad``)."""
    x, unbatched = _batched(_C.asarray(input), 1, "avg_pool1d")
    k, s, p = _pool_geom("avg_pool1d", 1, kernel_size, stride, padding)
    out: Tensor = _C._avg_pool(x, k, s, p, bool(ceil_mode), bool(count_include_pad), None)
    return _C.squeeze(out, axis=0) if unbatched else out


def avg_pool2d(input: Any, kernel_size: _Size, stride: _Size | None = None, padding: _Size = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None) -> Tensor

    Mean over sliding windows of ``input`` ``(N, C, H, W)``, as
    ``torch.nn.functional.avg_pool2d``: each window is clipped to the padded
    input; the divisor is its size with padding (``count_include_pad``) or
    without, or ``divisor_override`` when given."""
    x, unbatched = _batched(_C.asarray(input), 2, "avg_pool2d")
    k, s, p = _pool_geom("avg_pool2d", 2, kernel_size, stride, padding)
    out: Tensor = _C._avg_pool(x, k, s, p, bool(ceil_mode), bool(count_include_pad), divisor_override)
    return _C.squeeze(out, axis=0) if unbatched else out


def _adaptive(fname: str, sp: int, input: Any, output_size: Any) -> Tensor:
    x, unbatched = _batched(_C.asarray(input), sp, fname)
    if isinstance(output_size, int) or output_size is None:
        output_size = (output_size,) * sp
    sizes = tuple(output_size)
    if len(sizes) == 1 and sp > 1:
        sizes = sizes * sp
    if len(sizes) != sp:
        raise ValueError(f"{fname}(): output_size must have {sp} element(s), got {output_size!r}")
    # None keeps that axis's input size, as in PyTorch
    os = tuple(x.shape[2 + i] if v is None else int(v) for i, v in enumerate(sizes))
    out: Tensor = _C._adaptive_avg_pool(x, os)
    return _C.squeeze(out, axis=0) if unbatched else out


def adaptive_avg_pool1d(input: Any, output_size: int | Sequence[int]) -> Tensor:
    """adaptive_avg_pool1d(input, output_size) -> Tensor

    Average pooling of ``(N, C, L)`` to length ``output_size``: output ``i``
    averages ``input[..., floor(i*L/out) : ceil((i+1)*L/out)]``, as PyTorch."""
    return _adaptive("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Any, output_size: int | None | Sequence[int | None]) -> Tensor:
    """adaptive_avg_pool2d(input, output_size) -> Tensor

    Average pooling of ``(N, C, H, W)`` (or ``(C, H, W)``) to ``output_size``
    (an int, or an ``(oh, ow)`` pair where None keeps the input size): output
    ``(i, j)`` averages rows ``floor(i*H/oh) : ceil((i+1)*H/oh)`` and the
    matching columns, as ``torch.nn.functional.adaptive_avg_pool2d``."""
    return _adaptive("adaptive_avg_pool2d", 2, input, output_size)
