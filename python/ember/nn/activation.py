"""Activation layers: thin Modules over ``ember.nn.functional``, with
PyTorch's constructor arguments and reprs."""
from __future__ import annotations

from typing import Any, Optional

from .._C import Tensor
from . import _functional_extra as Fx, _norm
from .module import Module

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "GELU", "SiLU", "Tanh", "Sigmoid", "ELU", "Softplus", "Hardtanh",
           "Softmax", "LogSoftmax"]


class _Inplace(Module):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        """'inplace=True' when set."""
        return "inplace=True" if self.inplace else ""


class ReLU(_Inplace):
    """``max(x, 0)``."""

    def forward(self, input: Any) -> Tensor:
        """The activation."""
        return Fx.relu(input)


class ReLU6(_Inplace):
    """``min(max(x, 0), 6)``."""

    def forward(self, input: Any) -> Tensor:
        """The activation."""
        return Fx.relu6(input)


class SiLU(_Inplace):
    """``x * sigmoid(x)``."""

    def forward(self, input: Any) -> Tensor:
        """The activation."""
        return Fx.silu(input)


class LeakyReLU(Module):
    """``x if x > 0 else negative_slope * x``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Any) -> Tensor:
        """The activation."""
        return Fx.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        """negative_slope (and inplace when set)."""
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """``x if x > 0 else alpha * (exp(x) - 1)``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Any) -> Tensor:
        """The activation."""
        return Fx.elu(input, self.alpha)

    def extra_repr(self) -> str:
        """alpha (and inplace when set)."""
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Hardtanh(Module):
    """``x`` clamped to [min_val, max_val]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Any) -> Tensor:
        """The activation."""
        return Fx.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        """min_val and max_val."""
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta`` (``x`` above ``threshold``)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Any) -> Tensor:
        """The activation."""
        return Fx.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        """beta and threshold."""
        return f"beta={self.beta}, threshold={self.threshold}"


class GELU(Module):
    """``x * Phi(x)``; ``approximate='tanh'`` for the tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Any) -> Tensor:
        """The activation."""
        return Fx.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        """approximate."""
        return f"approximate={self.approximate!r}"


class Tanh(Module):
    """The hyperbolic tangent."""

    def forward(self, input: Any) -> Tensor:
        """The activation."""
        return Fx.tanh(input)


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``."""

    def forward(self, input: Any) -> Tensor:
        """The activation."""
        return Fx.sigmoid(input)


class Softmax(Module):
    """Softmax along ``dim``."""

    def __init__(self, dim: Optional[int] = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Tensor:
        """The softmax."""
        return _norm.softmax(input, self.dim)

    def extra_repr(self) -> str:
        """dim."""
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """Log-softmax along ``dim``."""

    def forward(self, input: Any) -> Tensor:
        """The log-softmax."""
        return _norm.log_softmax(input, self.dim)
