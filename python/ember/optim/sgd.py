"""Stochastic gradient descent with momentum (``torch.optim.SGD``)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import _C, zeros_like
from .optimizer import Optimizer, ParamsT


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Per parameter, in one fused pass (PyTorch's update rule and order):
    ``g = grad (negated if maximize) + weight_decay * p``; with momentum
    ``b = g`` on the first step, then ``b = momentum * b + (1 - dampening) * g``
    and ``g = g + momentum * b`` (nesterov) or ``g = b``; ``p -= lr * g``.
    State: ``momentum_buffer`` (only when momentum != 0).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        if group["lr"] < 0:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if group["momentum"] < 0:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if group["weight_decay"] < 0:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One SGD update of every parameter that has a gradient; returns closure()'s loss if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            mom = group["momentum"]
            for p, g in self._grads(group):
                buf, first = None, False
                if mom != 0:
                    st = self.state.setdefault(p, {})
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = st["momentum_buffer"] = zeros_like(p)
                        first = True
                _C._sgd_step(p, g, buf, first, group["lr"], mom, group["dampening"], group["weight_decay"],
                             group["nesterov"], group["maximize"])
        return loss
