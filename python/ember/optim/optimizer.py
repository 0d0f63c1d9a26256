"""The Optimizer base class: parameter groups, state and (de)serialisation.

Layout and semantics follow ``torch.optim.Optimizer``: ``param_groups`` is a
list of dicts (``"params"`` plus that group's options), ``state`` maps each
parameter to a dict of its state tensors, and ``state_dict()`` refers to
parameters by their position across all groups, so a state dict saved from
one model loads into another built the same way.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any, Union

import numpy as np

from .._C import Tensor

ParamsT = Union[Iterable[Tensor], Iterable[dict[str, Any]]]


class _Required:
    """Marker of an option that has no default and must be given."""

    def __repr__(self) -> str:
        return "<required parameter>"


required: Any = _Required()


class _ParamState(MutableMapping):
    """A dict keyed by parameter identity (tensors compare elementwise, so they
    cannot be ordinary dict keys); keeps each key tensor alive."""

    def __init__(self) -> None:
        self._d: dict[int, tuple[Tensor, dict[str, Any]]] = {}

    def __getitem__(self, p: Tensor) -> dict[str, Any]:
        return self._d[id(p)][1]

    def __setitem__(self, p: Tensor, v: dict[str, Any]) -> None:
        self._d[id(p)] = (p, v)

    def __delitem__(self, p: Tensor) -> None:
        del self._d[id(p)]

    def __contains__(self, p: object) -> bool:
        return id(p) in self._d

    def __iter__(self) -> Iterator[Tensor]:
        return (p for p, _ in self._d.values())

    def __len__(self) -> int:
        return len(self._d)

    def __repr__(self) -> str:
        return f"<optimizer state of {len(self)} parameters>"


def _as_state_tensor(value: Any, like: Tensor | None) -> Any:
    """A loaded state value as a fresh contiguous ember tensor (cast to the
    parameter's dtype when it is a float tensor); scalars pass through."""
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if not isinstance(value, Tensor):
        if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
            value = value.detach().cpu().numpy()
        value = np.array(value, order="C")
        from .. import asarray
        value = asarray(value)
    if like is not None and value.ndim > 0 and value.dtype != like.dtype and value.dtype in _FLOATS():
        return value.astype(like.dtype).clone()
    return value.clone()


def _FLOATS() -> tuple:
    from .. import float32, float64
    return (float32, float64)


class Optimizer:
    """Base class of ember's optimisers (``torch.optim.Optimizer`` semantics).

    params is an iterable of tensors, or of dicts each holding ``"params"``
    and options that override ``defaults`` for that group.  Subclasses
    implement :meth:`step`.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: _ParamState = _ParamState()
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got a Tensor")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {g[k]}" for k in sorted(g) if k != "params"]
        return "\n".join(lines + [")"])

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (missing ones take
        the optimiser's defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs; use a list instead")
        else:
            params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
        group = dict(param_group, params=params)
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter more than once")
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's options (subclasses raise ValueError)."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter: set them to None (the
        default, as in PyTorch), or fill them with zeros."""
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad[...] = 0

    def _grads(self, group: dict[str, Any]) -> Iterator[tuple[Tensor, Tensor]]:
        """(param, contiguous gradient) for each parameter of the group that has one."""
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            if not g.is_contiguous():
                g = g.contiguous()
            yield p, g

    def _closure_loss(self, closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        from ..autograd import enable_grad
        with enable_grad():
            return closure()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimisation step; closure re-evaluates the model and
        returns the loss (optional)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """The optimiser's state in PyTorch's layout: ``{"state": {index:
        {name: value}}, "param_groups": [{options..., "params": [index, ...]}]}``.
        State tensors are shared, not copied; ``step`` counts are 0-d float32
        tensors as in PyTorch."""
        from .. import tensor, float32
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ids})
        state = {}
        for p, s in self.state._d.values():
            if id(p) in index:
                state[index[id(p)]] = {k: tensor(v, dtype=float32) if k == "step" else v for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict` (ember's or PyTorch's, whose
        tensors are copied into ember tensors of each parameter's dtype)."""
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for g, s in zip(self.param_groups, saved):
            if len(g["params"]) != len(s["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 "optimizer's group")
        by_index = {i: p for s, g in zip(saved, self.param_groups) for i, p in zip(s["params"], g["params"])}
        new_state = _ParamState()
        for k, st in state_dict["state"].items():
            k = int(k)
            if k not in by_index:
                raise ValueError(f"loaded state dict has state for parameter {k}, which no group holds")
            p = by_index[k]
            new_state[p] = {name: float(v.item() if hasattr(v, "item") else v) if name == "step"
                            else _as_state_tensor(v, p) for name, v in st.items()}
        self.state = new_state
        for g, s in zip(self.param_groups, saved):
            g.update({k: v for k, v in s.items() if k != "params"})
