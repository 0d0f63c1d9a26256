"""``ember.nn.init``: in-place parameter initialisers with PyTorch's names,
formulas and defaults.

Each function overwrites its tensor under ``no_grad`` (so it works on
parameters that require gradients) and returns it.  Random draws come from
``ember.random`` (the default generator, or ``generator=``); the
distributions are PyTorch's, the streams are ember's own.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from .. import _C
from .. import _dtype as _dt
from .. import random as _random
from .._C import Tensor
from ..autograd import no_grad

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_", "eye_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_"]


def _write(tensor: Tensor, values: Any) -> Tensor:
    with no_grad():
        src = _C.asarray(values)
        if src.dtype != tensor.dtype:
            src = (src).astype(tensor.dtype)
        if tensor.ndim == 0:
            tensor[()] = src
        else:
            tensor[...] = src
    return tensor


def _float(tensor: Tensor, fname: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fname}(): expected an ember.Tensor, got {type(tensor).__name__}")
    if tensor.dtype not in (_dt.float32, _dt.float64):
        raise TypeError(f"{fname}(): expected a float32 or float64 tensor, got {tensor.dtype}")


def calculate_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``:
    1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu,
    sqrt(2 / (1 + slope^2)) for leaky_relu (slope ``param``, default 0.01), 3/4 for selu."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, (int, float)):
            raise ValueError(f"negative_slope {param} not a valid number")
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _fans(tensor: Tensor, fname: str) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(f"{fname}(): fan in and fan out can not be computed for a tensor with fewer than "
                         f"2 dimensions (shape {tuple(tensor.shape)})")
    receptive = 1
    for s in tuple(tensor.shape)[2:]:
        receptive *= int(s)
    return int(tensor.shape[1]) * receptive, int(tensor.shape[0]) * receptive


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fill ``tensor`` with draws from U(a, b)."""
    _float(tensor, "uniform_")
    return _write(tensor, _random.uniform(a, b, tuple(tensor.shape), dtype=tensor.dtype, generator=generator))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fill ``tensor`` with draws from N(mean, std^2)."""
    _float(tensor, "normal_")
    return _write(tensor, _random.normal(mean, std, tuple(tensor.shape), dtype=tensor.dtype, generator=generator))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator: Any = None) -> Tensor:
    """Fill ``tensor`` with N(mean, std^2) draws conditioned on [a, b] (resampled until inside)."""
    _float(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_(): need a < b, got a={a}, b={b}")
    n = int(np.prod(tuple(tensor.shape), dtype=np.int64))
    out = np.empty(0)
    while out.size < n:  # rejection sampling: exact, and cheap for the usual [-2 std, 2 std]
        d = _random.normal(mean, std, (max(2 * (n - out.size), 16),), dtype="float64",
                           generator=generator).numpy()
        out = np.concatenate([out, d[(d >= a) & (d <= b)]])
    return _write(tensor, out[:n].reshape(tuple(tensor.shape)))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with ``val``."""
    _float(tensor, "constant_")
    return _write(tensor, _C.full(tuple(tensor.shape), float(val), dtype=tensor.dtype))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with 1."""
    return constant_(tensor, 1.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill the 2-D ``tensor`` with the identity matrix (ones on the diagonal)."""
    _float(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(f"eye_(): only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    return _write(tensor, _C.eye(int(tensor.shape[0]), int(tensor.shape[1]), dtype=tensor.dtype))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    _float(tensor, "xavier_uniform_")
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    _float(tensor, "xavier_normal_")
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str, fname: str) -> float:
    _float(tensor, fname)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{fname}(): mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan_in, fan_out = _fans(tensor, fname)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"{fname}(): cannot initialise a tensor with a zero fan ({tuple(tensor.shape)})")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: Any = None) -> Tensor:
    """He uniform: U(-b, b) with ``b = gain * sqrt(3 / fan)``, ``gain = calculate_gain(nonlinearity, a)``,
    ``fan`` the fan-in or fan-out (``mode``)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: Any = None) -> Tensor:
    """He normal: N(0, std^2) with ``std = gain / sqrt(fan)``."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain``: the Q factor of a Gaussian
    matrix with R's diagonal made positive (Haar distributed); dims past the
    first are flattened."""
    _float(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_(): only tensors with 2 or more dimensions are supported, "
                         f"got shape {tuple(tensor.shape)}")
    rows = int(tensor.shape[0])
    cols = int(np.prod(tuple(tensor.shape), dtype=np.int64)) // max(rows, 1)
    if rows * cols == 0:
        return tensor
    g = _random.normal(0.0, 1.0, (rows, cols), dtype="float64", generator=generator).numpy()
    if rows < cols:
        g = g.T
    q, r = np.linalg.qr(g)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, (gain * q).reshape(tuple(tensor.shape)))
