"""Adagrad (``torch.optim.Adagrad``)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import _C, full_like
from .optimizer import Optimizer, ParamsT


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.).

    Per parameter, in one fused pass: ``g = grad (negated if maximize) + weight_decay * p``;
    ``s += g^2``; ``p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)``.
    State (created for every parameter at construction, as in PyTorch):
    ``step`` and ``sum``, which starts at initial_accumulator_value.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {"step": 0.0, "sum": full_like(p, group["initial_accumulator_value"])}

    def _check_group(self, group: dict[str, Any]) -> None:
        for name, what in (("lr", "learning rate"), ("lr_decay", "lr_decay value"),
                           ("weight_decay", "weight_decay value"),
                           ("initial_accumulator_value", "initial_accumulator_value value"),
                           ("eps", "epsilon value")):
            if not group[name] >= 0:
                raise ValueError(f"Invalid {what}: {group[name]}")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adagrad update of every parameter that has a gradient; returns closure()'s loss if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            for p, g in self._grads(group):
                st = self.state.setdefault(p, {})
                if "sum" not in st:  # a group added after construction
                    st["step"] = 0.0
                    st["sum"] = full_like(p, group["initial_accumulator_value"])
                st["step"] += 1
                _C._adagrad_step(p, g, st["sum"], st["step"], group["lr"], group["lr_decay"],
                                 group["weight_decay"], group["eps"], group["maximize"])
        return loss
