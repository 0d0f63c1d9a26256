"""MultiheadAttention and TransformerEncoderLayer with PyTorch's parameter
names (``in_proj_weight``, ``out_proj``, ``linear1``, ``norm1``, ...),
initialisation and argument conventions, built from ember ops that autograd
records (linear, matmul, softmax, where, reshapes)."""
from __future__ import annotations

import math
from typing import Any, Callable, Optional, Union

from .. import _C
from .._C import Tensor
from . import _functional_extra as Fx, _norm, init
from ._linear import linear

from .layers import Dropout, Linear, _dtype
from .module import Module
from .normalization import LayerNorm
from .parameter import Parameter

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder"]


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under PyTorch's name for MultiheadAttention's output projection (so reprs agree)."""


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else _C.asarray(x)


class MultiheadAttention(Module):
    """Multi-head scaled dot-product attention, as ``torch.nn.MultiheadAttention``
    (packed ``in_proj_weight``, same key and value size as the embedding)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: Optional[int] = None,
                 vdim: Optional[int] = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        if add_bias_kv or add_zero_attn or (kdim not in (None, embed_dim)) or (vdim not in (None, embed_dim)):
            raise NotImplementedError("MultiheadAttention: add_bias_kv, add_zero_attn and kdim/vdim != embed_dim "
                                      "are not supported")
        self.embed_dim, self.kdim, self.vdim = embed_dim, embed_dim, embed_dim
        self._qkv_same_embed_dim = True
        self.num_heads, self.dropout, self.batch_first = num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        dt = _dtype(dtype)
        self.in_proj_weight = Parameter(_C.zeros((3 * embed_dim, embed_dim), dtype=dt))
        if bias:
            self.in_proj_bias = Parameter(_C.zeros((3 * embed_dim,), dtype=dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, dtype=dt)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None, need_weights: bool = True,
                attn_mask: Any = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Optional[Tensor]]:
        """``(attn_output, attn_weights)``: inputs ``(L, N, E)`` (``(N, L, E)``
        when batch_first; ``(L, E)`` unbatched).  Boolean masks are True where
        attention is *not* allowed; float masks are added to the scores.
        The weights are averaged over heads unless ``average_attn_weights=False``
        (None when ``need_weights=False``)."""
        q, k, v = _t(query), _t(key), _t(value)
        unbatched = q.ndim == 2
        if unbatched:
            q, k, v = (_C.expand_dims(t, axis=1) for t in (q, k, v))
            if key_padding_mask is not None:
                key_padding_mask = _C.expand_dims(_t(key_padding_mask), axis=0)
        elif self.batch_first:
            q, k, v = (_C.permute_dims(t, (1, 0, 2)) for t in (q, k, v))
        if q.ndim != 3 or int(q.shape[2]) != self.embed_dim:
            raise ValueError(f"MultiheadAttention: expected query of shape (L, N, {self.embed_dim}), "
                             f"got {tuple(_t(query).shape)}")
        tgt, n, e = (int(s) for s in q.shape)
        src = int(k.shape[0])
        h, hd = self.num_heads, self.head_dim
        w, b = self.in_proj_weight, self.in_proj_bias
        qp = linear(q, w[:e], b[:e] if b is not None else None)
        kp = linear(k, w[e:2 * e], b[e:2 * e] if b is not None else None)
        vp = linear(v, w[2 * e:], b[2 * e:] if b is not None else None)

        def heads(t: Tensor, length: int) -> Tensor:  # (L, N, E) -> (N*h, L, hd)
            return _C.permute_dims(_C.reshape(t, (length, n * h, hd)), (1, 0, 2))

        qh, kh, vh = heads(qp, tgt) * (1.0 / math.sqrt(hd)), heads(kp, src), heads(vp, src)
        scores = _C.matmul(qh, _C.permute_dims(kh, (0, 2, 1)))  # (N*h, L, S)
        if attn_mask is None and is_causal:
            attn_mask = _C.triu(_C.ones((tgt, src), dtype="bool"), 1)
        if attn_mask is not None:
            m = _t(attn_mask)
            if m.ndim == 3:
                m = _C.reshape(m, (n * h, tgt, src))
            scores = _C.where(m, -math.inf, scores) if str(m.dtype) == "bool" else scores + m.astype(scores.dtype)
        if key_padding_mask is not None:
            kpm = _t(key_padding_mask)
            kpm4 = _C.reshape(kpm, (n, 1, 1, src))
            s4 = _C.reshape(scores, (n, h, tgt, src))
            s4 = _C.where(kpm4, -math.inf, s4) if str(kpm.dtype) == "bool" else s4 + kpm4.astype(s4.dtype)
            scores = _C.reshape(s4, (n * h, tgt, src))
        attn = _norm.softmax(scores, -1)
        attn_d = Fx.dropout(attn, self.dropout, self.training) if self.dropout > 0 else attn
        out = _C.matmul(attn_d, vh)  # (N*h, L, hd)
        out = _C.reshape(_C.permute_dims(out, (1, 0, 2)), (tgt, n, e))
        out = self.out_proj(out)
        if unbatched:
            out = _C.squeeze(out, axis=1)
        elif self.batch_first:
            out = _C.permute_dims(out, (1, 0, 2))
        weights: Optional[Tensor] = None
        if need_weights:
            weights = _C.reshape(attn, (n, h, tgt, src))
            if average_attn_weights:
                weights = _C.mean(weights, axis=1)
            if unbatched:
                weights = _C.squeeze(weights, axis=0)
        return out, weights


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual
    connection and layer norm (post-norm, or pre-norm with ``norm_first``),
    as ``torch.nn.TransformerEncoderLayer``."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Union[str, Callable[[Tensor], Tensor]] = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            if activation not in ("relu", "gelu"):
                raise RuntimeError(f"activation should be relu/gelu, not {activation}")
            self.activation: Callable[[Tensor], Tensor] = Fx.relu if activation == "relu" else Fx.gelu
        else:
            self.activation = activation

    def _sa(self, x: Tensor, mask: Any, kpm: Any, is_causal: bool) -> Tensor:
        out = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False,
                             is_causal=is_causal)[0]
        y: Tensor = self.dropout1(out)
        return y

    def _ff(self, x: Tensor) -> Tensor:
        y: Tensor = self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))
        return y

    def forward(self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        """The encoded sequence, of ``src``'s shape."""
        x = _t(src)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask, is_causal))
        out: Tensor = self.norm2(x + self._ff(x))
        return out


class TransformerEncoder(Module):
    """``num_layers`` independent copies of ``encoder_layer`` applied in turn,
    then ``norm`` if given, as ``torch.nn.TransformerEncoder``."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Optional[Module] = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        import copy
        from .containers import ModuleList
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: Any, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: Optional[bool] = None) -> Tensor:
        """The encoded sequence, of ``src``'s shape."""
        x = _t(src)
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        if self.norm is not None:
            x = self.norm(x)
        return x
