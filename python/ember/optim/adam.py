"""Adam and AdamW (``torch.optim.Adam``, ``torch.optim.AdamW``)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import _C, zeros_like
from .optimizer import Optimizer, ParamsT


class Adam(Optimizer):
    """Adam (Kingma & Ba), with PyTorch's bias correction and options.

    Per parameter, in one fused pass: ``g = grad`` (negated if maximize);
    decoupled weight decay ``p *= 1 - lr * weight_decay`` or L2 ``g += weight_decay * p``;
    ``m = lerp(m, g, 1 - beta1)``, ``v = beta2 * v + (1 - beta2) * g^2``,
    ``vmax = max(vmax, v)`` (amsgrad);
    ``p -= lr / (1 - beta1^t) * m / (sqrt(v or vmax) / sqrt(1 - beta2^t) + eps)``.
    State: ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _check_group(self, group: dict[str, Any]) -> None:
        b1, b2 = group["betas"]
        if not group["lr"] >= 0:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not group["eps"] >= 0:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")
        if not 0.0 <= b1 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {b1}")
        if not 0.0 <= b2 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {b2}")
        if not group["weight_decay"] >= 0:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adam update of every parameter that has a gradient; returns closure()'s loss if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            b1, b2 = group["betas"]
            ams = group["amsgrad"]
            for p, g in self._grads(group):
                st = self.state.setdefault(p, {})
                if not st:
                    st["step"] = 0.0
                    st["exp_avg"] = zeros_like(p)
                    st["exp_avg_sq"] = zeros_like(p)
                    if ams:
                        st["max_exp_avg_sq"] = zeros_like(p)
                elif ams and "max_exp_avg_sq" not in st:
                    st["max_exp_avg_sq"] = zeros_like(p)
                st["step"] += 1
                _C._adam_step(p, g, st["exp_avg"], st["exp_avg_sq"], st.get("max_exp_avg_sq"), st["step"],
                              group["lr"], b1, b2, group["eps"], group["weight_decay"], ams, group["maximize"],
                              group["decoupled_weight_decay"])
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter):
    ``p *= 1 - lr * weight_decay`` before the Adam update.  Default
    weight_decay is 1e-2, as in PyTorch."""

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
