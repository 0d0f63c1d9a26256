"""Batch, layer and group normalisation layers with PyTorch's parameters,
buffers (running_mean, running_var, num_batches_tracked) and momentum rule."""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

from .. import _C
from .. import _dtype as _dt
from .._C import Tensor
from ..autograd import no_grad
from . import _norm, init
from .layers import _dtype
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm"]


def _affine(module: Module, affine: bool, bias: bool, shape: tuple[int, ...], dt: Any) -> None:
    """Registers the scale ``weight`` (ones) and shift ``bias`` (zeros) of
    this shape, or None in their place (PyTorch keeps the names either way)."""
    if affine:
        module.weight = Parameter(_C.ones(shape, dtype=dt))
        if bias:
            module.bias = Parameter(_C.zeros(shape, dtype=dt))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


class _BatchNorm(Module):
    _dims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        dt = _dtype(dtype)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine(self, affine, bias, (num_features,), dt)
        if track_running_stats:
            self.register_buffer("running_mean", _C.zeros((num_features,), dtype=dt))
            self.register_buffer("running_var", _C.ones((num_features,), dtype=dt))
            self.register_buffer("num_batches_tracked", _C.zeros((), dtype=_dt.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, batch count 0."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            with no_grad():
                self.num_batches_tracked[()] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics, weight 1 and bias 0."""
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Any) -> Tensor:
        """Normalise with batch statistics (training, updating the running
        ones) or the running statistics (eval)."""
        x = input if isinstance(input, Tensor) else _C.asarray(input)
        if x.ndim not in self._dims:
            raise ValueError(f"{type(self).__name__}: expected {' or '.join(f'{d}D' for d in self._dims)} input, "
                             f"got {x.ndim}D input of shape {tuple(x.shape)}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked[()] = int(self.num_batches_tracked) + 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / int(self.num_batches_tracked)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep_stats = not self.training or self.track_running_stats
        return _norm.batch_norm(x, self.running_mean if keep_stats else None,
                                self.running_var if keep_stats else None, self.weight, self.bias,
                                use_batch, factor, self.eps)

    def extra_repr(self) -> str:
        """PyTorch's: features, eps, momentum, affine, track_running_stats."""
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` per channel."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` per channel."""
    _dims = (4,)


class LayerNorm(Module):
    """Normalises over the trailing ``normalized_shape`` axes, then scales
    by ``weight`` (ones) and shifts by ``bias`` (zeros)."""

    def __init__(self, normalized_shape: Union[int, Sequence[int]], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        _affine(self, elementwise_affine, bias, shape, _dtype(dtype))

    def forward(self, input: Any) -> Tensor:
        """The normalised input."""
        return _norm.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """normalized_shape, eps, elementwise_affine."""
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalises each of ``num_groups`` channel groups of ``(N, C, *)``;
    per-channel ``weight`` (ones) and ``bias`` (zeros) when ``affine``."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _affine(self, affine, bias, (num_channels,), _dtype(dtype))

    def forward(self, input: Any) -> Tensor:
        """The normalised input."""
        return _norm.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """num_groups, num_channels, eps, affine."""
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
