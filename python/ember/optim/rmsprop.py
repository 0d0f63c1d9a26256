"""RMSprop (``torch.optim.RMSprop``)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import _C, zeros_like
from .optimizer import Optimizer, ParamsT


class RMSprop(Optimizer):
    """RMSprop (Hinton), PyTorch's variant with eps outside the square root.

    Per parameter, in one fused pass: ``g = grad (negated if maximize) + weight_decay * p``;
    ``s = alpha * s + (1 - alpha) * g^2``; centered: ``a = lerp(a, g, 1 - alpha)``,
    ``d = sqrt(s - a^2) + eps``, else ``d = sqrt(s) + eps``; with momentum
    ``b = momentum * b + g / d``, ``p -= lr * b``, else ``p -= lr * g / d``.
    State: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0), ``grad_avg`` (centered).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        for name, what in (("lr", "learning rate"), ("eps", "epsilon value"), ("momentum", "momentum value"),
                           ("weight_decay", "weight_decay value"), ("alpha", "alpha value")):
            if not group[name] >= 0:
                raise ValueError(f"Invalid {what}: {group[name]}")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One RMSprop update of every parameter that has a gradient; returns closure()'s loss if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            mom, centered = group["momentum"], group["centered"]
            for p, g in self._grads(group):
                st = self.state.setdefault(p, {})
                if not st:
                    st["step"] = 0.0
                    st["square_avg"] = zeros_like(p)
                if mom > 0 and "momentum_buffer" not in st:
                    st["momentum_buffer"] = zeros_like(p)
                if centered and "grad_avg" not in st:
                    st["grad_avg"] = zeros_like(p)
                st["step"] += 1
                _C._rmsprop_step(p, g, st["square_avg"], st.get("momentum_buffer") if mom > 0 else None,
                                 st.get("grad_avg") if centered else None, group["lr"], group["alpha"],
                                 group["eps"], group["weight_decay"], mom, centered, group["maximize"])
        return loss
