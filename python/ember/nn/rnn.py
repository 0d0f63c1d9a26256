"""Recurrent layers RNN, LSTM and GRU, with PyTorch's parameter names
(``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), gate order and defaults.

Built from ember ops that autograd records (linear, slicing, sigmoid, tanh,
stack, concat), one Python step per time step: the input projection of all
time steps is one GEMM, each step then does one ``h @ W_hh.T``."""
from __future__ import annotations

import math
from typing import Any, Optional

from .. import _C
from .._C import Tensor
from . import _functional_extra as Fx, init
from ._linear import linear
from .layers import _dtype
from .module import Module
from .parameter import Parameter

__all__ = ["RNN", "LSTM", "GRU"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class _RNNBase(Module):
    mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported")
        if not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1], got {dropout}")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"{name}: hidden_size and num_layers must be positive, got {hidden_size}, {num_layers}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        dt = _dtype(dtype)
        g = _GATES[self.mode] * hidden_size
        dirs = 2 if bidirectional else 1
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                setattr(self, "weight_ih" + sfx, Parameter(_C.zeros((g, in_size), dtype=dt)))
                setattr(self, "weight_hh" + sfx, Parameter(_C.zeros((g, hidden_size), dtype=dt)))
                if bias:
                    setattr(self, "bias_ih" + sfx, Parameter(_C.zeros((g,), dtype=dt)))
                    setattr(self, "bias_hh" + sfx, Parameter(_C.zeros((g,), dtype=dt)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def _cell(self, xw: Tensor, h: Tensor, c: Optional[Tensor], w_hh: Tensor,
              b_hh: Optional[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        raise NotImplementedError

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Any]:
        """``output, h_n`` (LSTM: ``output, (h_n, c_n)``) for input ``(L, N, H_in)``
        (``(N, L, H_in)`` when batch_first; ``(L, H_in)`` unbatched)."""
        x = input if isinstance(input, Tensor) else _C.asarray(input)
        name = type(self).__name__
        unbatched = x.ndim == 2
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: expected a 2-D (unbatched) or 3-D input, got shape {tuple(x.shape)}")
        if unbatched:
            x = _C.expand_dims(x, axis=1)
        elif self.batch_first:
            x = _C.permute_dims(x, (1, 0, 2))
        if int(x.shape[2]) != self.input_size:
            raise ValueError(f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                             f"got {int(x.shape[2])}")
        steps, n = int(x.shape[0]), int(x.shape[1])
        dirs = 2 if self.bidirectional else 1
        shape0 = (self.num_layers * dirs, n, self.hidden_size)
        h0: Any
        c0: Any = None
        if hx is None:
            h0 = _C.zeros(shape0, dtype=x.dtype)
            c0 = _C.zeros(shape0, dtype=x.dtype) if self.mode == "LSTM" else None
        else:
            h0, c0 = hx if self.mode == "LSTM" else (hx, None)
            if unbatched:
                h0 = _C.expand_dims(h0, axis=1)
                c0 = _C.expand_dims(c0, axis=1) if c0 is not None else None
            if tuple(h0.shape) != shape0:
                raise ValueError(f"{name}: expected hidden size {shape0}, got {tuple(h0.shape)}")
        h_n, c_n = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                w_ih, w_hh = getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)
                b_ih = getattr(self, "bias_ih" + sfx) if self.bias else None
                b_hh = getattr(self, "bias_hh" + sfx) if self.bias else None
                xw = linear(layer_in, w_ih, b_ih)  # (L, N, gates*H): every step's input projection at once
                h, c = h0[layer * dirs + d], (c0[layer * dirs + d] if c0 is not None else None)
                seq: list[Tensor] = [h] * steps
                for t in (range(steps - 1, -1, -1) if d else range(steps)):
                    h, c = self._cell(xw[t], h, c, w_hh, b_hh)
                    seq[t] = h
                outs.append(_C.stack(seq, axis=0))
                h_n.append(h)
                if c is not None:
                    c_n.append(c)
            layer_in = outs[0] if dirs == 1 else _C.concat(outs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = Fx.dropout(layer_in, self.dropout, True)
        out = layer_in
        hn = _C.stack(h_n, axis=0)
        cn = _C.stack(c_n, axis=0) if c_n else None
        if unbatched:
            out = _C.squeeze(out, axis=1)
            hn = _C.squeeze(hn, axis=1)
            cn = _C.squeeze(cn, axis=1) if cn is not None else None
        elif self.batch_first:
            out = _C.permute_dims(out, (1, 0, 2))
        return out, ((hn, cn) if self.mode == "LSTM" else hn)

    def extra_repr(self) -> str:
        """PyTorch's: sizes and the non-default options."""
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(_RNNBase):
    """Elman RNN: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu)."""

    def __init__(self, *args: Any, nonlinearity: str = "tanh", **kwargs: Any) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} (use 'tanh' or 'relu')")
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self.nonlinearity = nonlinearity
        super().__init__(*args, **kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        """Module's registration (the mode is set before Module.__init__)."""
        if name in ("mode", "nonlinearity"):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def _cell(self, xw: Tensor, h: Tensor, c: Optional[Tensor], w_hh: Tensor,
              b_hh: Optional[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        pre = xw + linear(h, w_hh, b_hh)
        return (_C.tanh(pre) if self.mode == "RNN_TANH" else _C.relu(pre)), None


class LSTM(_RNNBase):
    """Long short-term memory; gates (input, forget, cell, output) in PyTorch's order."""
    mode = "LSTM"

    def _cell(self, xw: Tensor, h: Tensor, c: Optional[Tensor], w_hh: Tensor,
              b_hh: Optional[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        g = xw + linear(h, w_hh, b_hh)
        hs = self.hidden_size
        i, f = _C.sigmoid(g[:, :hs]), _C.sigmoid(g[:, hs:2 * hs])
        cand, o = _C.tanh(g[:, 2 * hs:3 * hs]), _C.sigmoid(g[:, 3 * hs:])
        c2 = f * c + i * cand
        return o * _C.tanh(c2), c2


class GRU(_RNNBase):
    """Gated recurrent unit; gates (reset, update, new) in PyTorch's order:
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``."""
    mode = "GRU"

    def _cell(self, xw: Tensor, h: Tensor, c: Optional[Tensor], w_hh: Tensor,
              b_hh: Optional[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        hw = linear(h, w_hh, b_hh)
        hs = self.hidden_size
        r = _C.sigmoid(xw[:, :hs] + hw[:, :hs])
        z = _C.sigmoid(xw[:, hs:2 * hs] + hw[:, hs:2 * hs])
        n = _C.tanh(xw[:, 2 * hs:] + r * hw[:, 2 * hs:])
        return (1.0 - z) * n + z * h, None
