"""Reverse-mode automatic differentiation (PyTorch-shaped API).

The engine is in libember (csrc/ember/autograd): every differentiable op
records a node on its output while grad mode is on and an input requires
grad; ``Tensor.backward`` and :func:`grad` walk the nodes back.  This module
adds the Python conveniences: grad-mode context managers, hooks, and
finite-difference checks.  See docs/autograd.md.
"""
from __future__ import annotations

import functools
import weakref
from typing import Any, Callable, Sequence, TypeVar, Union

import numpy as np

from . import _C
from ._C import Tensor

__all__ = ["backward", "grad", "gradcheck", "gradgradcheck", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "is_grad_enabled", "is_inference_mode_enabled", "GradcheckError"]

_F = TypeVar("_F", bound=Callable[..., Any])
_Tensors = Union[Tensor, Sequence[Tensor]]


# ---- grad mode ------------------------------------------------------------------------------


def is_grad_enabled() -> bool:
    """Whether ops record the autograd graph on this thread."""
    return bool(_C._is_grad_enabled())


def is_inference_mode_enabled() -> bool:
    """Whether inference mode is on for this thread."""
    return bool(_C._is_inference_mode())


class _DecoratorContextManager:
    """A context manager that also works as a function decorator."""

    def __call__(self, func: _F) -> _F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._clone():
                return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]

    def _clone(self) -> "_DecoratorContextManager":
        return self.__class__()

    def __enter__(self) -> None:
        raise NotImplementedError

    def __exit__(self, *exc: object) -> None:
        raise NotImplementedError


class no_grad(_DecoratorContextManager):
    """Context manager / decorator: ops inside do not record the graph (their results do not require grad)."""

    def __init__(self) -> None:
        self._prev = True

    def __enter__(self) -> None:
        self._prev = bool(_C._set_grad_enabled(False))

    def __exit__(self, *exc: object) -> None:
        _C._set_grad_enabled(self._prev)


class enable_grad(_DecoratorContextManager):
    """Context manager / decorator: turns recording back on inside a no_grad block."""

    def __init__(self) -> None:
        self._prev = True

    def __enter__(self) -> None:
        self._prev = bool(_C._set_grad_enabled(True))

    def __exit__(self, *exc: object) -> None:
        _C._set_grad_enabled(self._prev)


class set_grad_enabled(_DecoratorContextManager):
    """Sets grad mode to ``mode`` now (as PyTorch does) and, used with ``with`` or as a
    decorator, restores the previous mode on exit."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._prev = bool(_C._set_grad_enabled(self.mode))

    def _clone(self) -> "set_grad_enabled":
        _C._set_grad_enabled(self._prev)
        return self.__class__(self.mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _C._set_grad_enabled(self._prev)


class inference_mode(_DecoratorContextManager):
    """Context manager / decorator: no recording at all, and enable_grad cannot turn it back on inside.

    ``inference_mode(False)`` is a no-op context, as in PyTorch.
    """

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self._prev = False

    def _clone(self) -> "inference_mode":
        return self.__class__(self.mode)

    def __enter__(self) -> None:
        if self.mode:
            self._prev = bool(_C._set_inference_mode(True))

    def __exit__(self, *exc: object) -> None:
        if self.mode:
            _C._set_inference_mode(self._prev)


# ---- backward / grad ------------------------------------------------------------------------


def _as_list(x: Any) -> list[Any]:
    if x is None:
        return []
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def backward(tensors: _Tensors, grad_tensors: _Tensors | None = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: _Tensors | None = None) -> None:
    """Accumulates the gradients of ``tensors`` (weighted by ``grad_tensors``) into the leaves' ``.grad``.

    retain_graph defaults to create_graph; without it the graph's saved tensors are freed.  With
    ``inputs``, only those tensors' ``.grad`` is accumulated.
    """
    ts = _as_list(tensors)
    gs = _as_list(grad_tensors) if grad_tensors is not None else None
    retain = create_graph if retain_graph is None else bool(retain_graph)
    if inputs is not None:
        ins = _as_list(inputs)
        got = _C._grad(ts, ins, gs, retain, create_graph, True)
        for t, g in zip(ins, got):
            if g is None:
                continue
            t.grad = g if t.grad is None else t.grad + g
        return
    _C._backward(ts, gs, retain, create_graph)


def grad(outputs: _Tensors, inputs: _Tensors, grad_outputs: _Tensors | None = None,
         retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """The gradients of sum(outputs * grad_outputs) with respect to each of ``inputs``, as a tuple.

    Leaves' ``.grad`` are not touched.  create_graph records the computation so the results can be
    differentiated again; retain_graph defaults to create_graph.  An input that the outputs do not
    depend on is an error unless allow_unused (then its entry is None).
    """
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    gos = None if grad_outputs is None else _as_list(grad_outputs)
    retain = create_graph if retain_graph is None else bool(retain_graph)
    return tuple(_C._grad(outs, ins, gos, retain, create_graph, allow_unused))


# ---- Tensor methods ---------------------------------------------------------------------------


class RemovableHandle:
    """Returned by Tensor.register_hook: ``remove()`` unregisters the hook."""

    def __init__(self, tensor: Tensor, hook_id: int) -> None:
        self._tensor = weakref.ref(tensor)
        self.id = hook_id

    def remove(self) -> None:
        """Unregisters the hook (a no-op if it is gone already)."""
        t = self._tensor()
        if t is not None:
            _C._remove_hook(t, self.id)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _backward_method(self: Tensor, gradient: Tensor | None = None, retain_graph: bool | None = None,
                     create_graph: bool = False, inputs: _Tensors | None = None) -> None:
    """backward(gradient=None, retain_graph=None, create_graph=False, inputs=None)

    Accumulates d(self)/d(leaf) (weighted by gradient, required unless self has one element) into
    the ``.grad`` of every leaf that requires grad."""
    backward(self, None if gradient is None else [gradient], retain_graph, create_graph, inputs)


def _detach(self: Tensor) -> Tensor:
    """detach()

    A new tensor sharing this one's memory, outside the graph (does not require grad)."""
    return _C._detach(self)  # type: ignore[no-any-return]


def _detach_(self: Tensor) -> Tensor:
    """detach_()

    Detaches this tensor from the graph in place: it becomes a leaf that does not require grad."""
    return _C._detach_inplace(self)  # type: ignore[no-any-return]


def _requires_grad_(self: Tensor, requires_grad: bool = True) -> Tensor:
    """requires_grad_(requires_grad=True)

    Sets requires_grad in place and returns self."""
    self.requires_grad = requires_grad
    return self


def _register_hook(self: Tensor, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
    """register_hook(hook)

    Calls hook(grad) when this tensor's gradient is computed during backward; a returned tensor
    replaces the gradient.  Returns a handle whose remove() unregisters it."""
    return RemovableHandle(self, _C._register_hook(self, hook))


def _retain_grad(self: Tensor) -> None:
    """retain_grad()

    Makes backward() fill ``.grad`` of this non-leaf tensor too."""
    if self.is_leaf:
        return
    if getattr(self, "_retains_grad_hook", None) is not None:  # pragma: no cover - Tensor has no __dict__
        return
    ref = weakref.ref(self)

    def keep(g: Tensor) -> None:
        t = ref()
        if t is not None:
            t.grad = g.detach().clone() if t.grad is None else t.grad + g
        return None

    _C._register_hook(self, keep)


Tensor.backward = _backward_method  # type: ignore[attr-defined]
Tensor.detach = _detach  # type: ignore[attr-defined]
Tensor.detach_ = _detach_  # type: ignore[attr-defined]
Tensor.requires_grad_ = _requires_grad_  # type: ignore[attr-defined]
Tensor.register_hook = _register_hook  # type: ignore[attr-defined]
Tensor.retain_grad = _retain_grad  # type: ignore[attr-defined]


# ---- finite-difference checks -----------------------------------------------------------------


class GradcheckError(RuntimeError):
    """Raised by gradcheck/gradgradcheck when analytical and numerical gradients differ."""


def _outputs(func: Callable[..., Any], inputs: Sequence[Any]) -> list[Tensor]:
    out = func(*inputs)
    return [o for o in _as_list(out) if isinstance(o, Tensor)]


def _numerical_jacobian(func: Callable[..., Any], inputs: Sequence[Any], k: int, eps: float) -> list[np.ndarray]:
    """d(each output)/d(inputs[k]) by central differences: one (out.size, in.size) array per output."""
    x = inputs[k]
    flat = x.numpy().reshape(-1)  # shares x's memory when x is contiguous
    if not np.shares_memory(flat, x.numpy()):
        raise ValueError("gradcheck: inputs must be contiguous tensors")
    cols: list[list[np.ndarray]] = []
    with enable_grad():  # func may itself differentiate (gradgradcheck)
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            plus = [o.numpy().astype(np.float64).reshape(-1).copy() for o in _outputs(func, inputs)]
            flat[i] = orig - eps
            minus = [o.numpy().astype(np.float64).reshape(-1).copy() for o in _outputs(func, inputs)]
            flat[i] = orig
            cols.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    nout = len(_outputs(func, inputs))
    return [np.stack([c[j] for c in cols], axis=1) if cols else np.zeros((0, 0)) for j in range(nout)]


def _analytical_jacobian(func: Callable[..., Any], inputs: Sequence[Any], k: int) -> list[np.ndarray]:
    x = inputs[k]
    outs = _outputs(func, inputs)
    jac = []
    for o in outs:
        if not o.requires_grad:  # not computed from any input that requires grad: a zero Jacobian
            jac.append(np.zeros((o.size, x.size)))
            continue
        rows = []
        for i in range(o.size):
            e = np.zeros(o.size, dtype=o.numpy().dtype)
            e[i] = 1
            seed = _C.asarray(e.reshape(o.shape))
            (g,) = grad([o], [x], [seed], retain_graph=True, allow_unused=True)
            rows.append(np.zeros(x.size) if g is None else g.numpy().astype(np.float64).reshape(-1))
        jac.append(np.stack(rows, axis=0) if rows else np.zeros((0, x.size)))
    return jac


def gradcheck(func: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Checks the gradients of func at inputs against central finite differences (like torch.autograd.gradcheck).

    inputs: a Tensor or a tuple; every tensor input that requires grad is checked and should be
    float64.  Returns True, or raises GradcheckError (returns False without raise_exception).
    """
    ins = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    for k, x in enumerate(ins):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        num = _numerical_jacobian(func, ins, k, eps)
        ana = _analytical_jacobian(func, ins, k)
        for j, (n, a) in enumerate(zip(num, ana)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                msg = (f"gradcheck: Jacobian mismatch for output {j} with respect to input {k},\n"
                       f"numerical:\n{n}\nanalytical:\n{a}")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(func: Callable[..., Any], inputs: Any, grad_outputs: Any = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Checks second derivatives: gradcheck of (inputs, grad_outputs) -> grad(func(inputs), inputs, grad_outputs).

    grad_outputs default to fixed random tensors (seeded), as in torch.autograd.gradgradcheck; like
    torch, the check also covers the derivatives with respect to grad_outputs (copies of them are
    made to require grad).
    """
    ins = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    outs = _outputs(func, ins)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        gos = [_C.asarray(rng.standard_normal(o.shape).astype(o.numpy().dtype)) for o in outs]
    else:
        gos = [_C.asarray(g) for g in _as_list(grad_outputs)]
    # contiguous copies that require grad (the caller's tensors are left alone)
    gos = [_C.asarray(g.numpy().copy()).requires_grad_(g.numpy().dtype.kind == "f") for g in gos]
    n = len(ins)

    def first(*args: Any) -> tuple[Tensor, ...]:
        xs, gs = args[:n], list(args[n:])
        o = _outputs(func, xs)
        d = [a for a in xs if isinstance(a, Tensor) and a.requires_grad]
        res = grad(o, d, gs, create_graph=True, allow_unused=True)
        return tuple(g for g in res if g is not None)

    return gradcheck(first, ins + tuple(gos), eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
