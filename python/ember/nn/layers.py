"""Linear, convolution, pooling, dropout, embedding and shape layers, with
PyTorch's constructors, attribute names and default initialisation."""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Union

from .. import _C
from .. import _dtype as _dt
from .._C import Tensor
from . import _conv, _functional_extra as Fx, _linear, init
from .module import Module
from .parameter import Parameter

__all__ = ["Identity", "Linear", "Flatten", "Unflatten", "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d",
           "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "Dropout", "Embedding"]

_Size = Union[int, Sequence[int]]


def _dtype(dtype: Any) -> Any:
    if dtype is None:
        return _dt.float32
    name = str(dtype).rpartition(".")[2]
    if name not in ("float32", "float64"):
        raise TypeError(f"layer parameters must be float32 or float64, got {dtype!r}")
    return getattr(_dt, name)


def _empty(shape: tuple[int, ...], dtype: Any) -> Tensor:
    return Parameter(_C.zeros(shape, dtype=_dtype(dtype)))


class Identity(Module):
    """Returns its input unchanged (constructor arguments are ignored)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        """The input itself."""
        return input


class Linear(Module):
    """``y = x @ weight.T + bias`` with weight ``(out_features, in_features)``.

    Initialisation as PyTorch: weight by ``kaiming_uniform_(a=sqrt(5))``
    (i.e. U(-1/sqrt(in), 1/sqrt(in))), bias U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = _empty((out_features, in_features), dtype)
        if bias:
            self.bias = _empty((out_features,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw weight and bias from the default distributions."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None and self.in_features > 0:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Any) -> Tensor:
        """The affine map of the last axis."""
        return _linear.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        """in/out features and whether there is a bias."""
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flattens axes ``start_dim`` to ``end_dim`` into one (default: all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        """The reshaped input."""
        shape = tuple(input.shape)
        nd = max(len(shape), 1)
        s, e = self.start_dim % nd, self.end_dim % nd
        if s > e:
            raise ValueError(f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} "
                             f"for a {len(shape)}-D input")
        if not shape:
            return _C.reshape(input, (1,))
        n = 1
        for v in shape[s:e + 1]:
            n *= v
        return _C.reshape(input, shape[:s] + (n,) + shape[e + 1:])

    def extra_repr(self) -> str:
        """start_dim and end_dim."""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits axis ``dim`` into ``unflattened_size``."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        """The reshaped input."""
        shape = tuple(input.shape)
        d = self.dim % len(shape)
        return _C.reshape(input, shape[:d] + self.unflattened_size + shape[d + 1:])

    def extra_repr(self) -> str:
        """dim and unflattened_size."""
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class _ConvNd(Module):
    _sp = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Size, stride: _Size = 1,
                 padding: Union[_Size, str] = 0, dilation: _Size = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                             f"divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: padding_mode {padding_mode!r} is not supported (only 'zeros')")
        sp = self._sp
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _conv._tuple(kernel_size, sp, "kernel_size", name)
        self.stride = _conv._tuple(stride, sp, "stride", name)
        self.padding: Any = padding if isinstance(padding, str) else _conv._tuple(padding, sp, "padding", name)
        self.dilation = _conv._tuple(dilation, sp, "dilation", name)
        self.output_padding = (0,) * sp
        self.transposed = False
        self.groups, self.padding_mode = groups, padding_mode
        self.weight = _empty((out_channels, in_channels // groups) + self.kernel_size, dtype)
        if bias:
            self.bias = _empty((out_channels,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw weight (kaiming_uniform_, a=sqrt(5)) and bias (U(-1/sqrt(fan_in), 1/sqrt(fan_in)))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        """PyTorch's: channels, kernel_size, stride, and the non-default options."""
        sp = self._sp
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * sp:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * sp:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over ``(N, C_in, L)`` with weight ``(C_out, C_in/groups, k)``."""
    _sp = 1

    def forward(self, input: Any) -> Tensor:
        """The convolution."""
        return _conv.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution over ``(N, C_in, H, W)`` with weight ``(C_out, C_in/groups, kH, kW)``."""
    _sp = 2

    def forward(self, input: Any) -> Tensor:
        """The convolution."""
        return _conv.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class _MaxPoolNd(Module):
    def __init__(self, kernel_size: _Size, stride: Optional[_Size] = None, padding: _Size = 0, dilation: _Size = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def extra_repr(self) -> str:
        """PyTorch's pooling options."""
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Maximum over sliding windows of ``(N, C, L)``."""

    def forward(self, input: Any) -> Any:
        """The pooled input (and indices when ``return_indices``)."""
        return _conv.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                                ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """Maximum over sliding windows of ``(N, C, H, W)``."""

    def forward(self, input: Any) -> Any:
        """The pooled input (and indices when ``return_indices``)."""
        return _conv.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                                ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool1d(Module):
    """Mean over sliding windows of ``(N, C, L)``."""

    def __init__(self, kernel_size: _Size, stride: Optional[_Size] = None, padding: _Size = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = _conv._tuple(kernel_size, 1, "kernel_size", "AvgPool1d")
        self.stride = _conv._tuple(stride if stride is not None else kernel_size, 1, "stride", "AvgPool1d")
        self.padding = _conv._tuple(padding, 1, "padding", "AvgPool1d")
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input: Any) -> Tensor:
        """The pooled input."""
        return _conv.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                self.count_include_pad)

    def extra_repr(self) -> str:
        """kernel_size, stride, padding."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over sliding windows of ``(N, C, H, W)``."""

    def __init__(self, kernel_size: _Size, stride: Optional[_Size] = None, padding: _Size = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: Optional[int] = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Any) -> Tensor:
        """The pooled input."""
        return _conv.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        """kernel_size, stride, padding."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """Mean pooling of ``(N, C, L)`` to ``output_size`` positions."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Any) -> Tensor:
        """The pooled input."""
        return _conv.adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self) -> str:
        """output_size."""
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(AdaptiveAvgPool1d):
    """Mean pooling of ``(N, C, H, W)`` to ``output_size`` (an int, a pair; None keeps that size)."""

    def forward(self, input: Any) -> Tensor:
        """The pooled input."""
        return _conv.adaptive_avg_pool2d(input, self.output_size)


class Dropout(Module):
    """In training, zeroes elements with probability ``p`` and scales the rest
    by ``1/(1-p)``; in eval mode, the identity."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Any) -> Tensor:
        """Dropout when training, else the input."""
        return Fx.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        """p and inplace."""
        return f"p={self.p}, inplace={self.inplace}"


class Embedding(Module):
    """A lookup table: rows of ``weight`` ``(num_embeddings, embedding_dim)``
    (initialised N(0, 1); the ``padding_idx`` row zero and without gradient)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: Optional[int] = None,
                 max_norm: Optional[float] = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Optional[Tensor] = None, _freeze: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within num_embeddings "
                                 f"({num_embeddings})")
            if padding_idx < 0:
                padding_idx += num_embeddings
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError("Embedding: max_norm, scale_grad_by_freq and sparse are not supported")
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(_C.zeros((num_embeddings, embedding_dim), dtype=_dtype(dtype)),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError("Embedding: shape of weight does not match num_embeddings and embedding_dim")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: Optional[int] = None,
                        **kwargs: Any) -> "Embedding":
        """An Embedding whose weight is ``embeddings`` (frozen unless ``freeze=False``)."""
        rows, cols = tuple(embeddings.shape)
        return cls(rows, cols, padding_idx=padding_idx, _weight=embeddings, _freeze=freeze, **kwargs)

    def reset_parameters(self) -> None:
        """Redraw the weight from N(0, 1) and zero the padding row."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            from ..autograd import no_grad
            with no_grad():
                self.weight[self.padding_idx] = _C.zeros((self.embedding_dim,), dtype=self.weight.dtype)

    def forward(self, input: Any) -> Tensor:
        """The rows at the indices of ``input``."""
        return Fx.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        """Sizes and the non-default options."""
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
