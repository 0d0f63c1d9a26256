"""``ember.nn.Parameter``: a tensor that a Module registers as trainable.

``ember.Tensor`` is a C type that cannot be subclassed, so unlike PyTorch a
Parameter is not a class of its own: ``Parameter(t)`` returns a detached leaf
sharing ``t``'s memory, with ``requires_grad`` set, and remembers (weakly) that
it was made as a parameter.  ``Module.__setattr__`` uses that mark to decide
between a parameter and a plain attribute, exactly where PyTorch checks
``isinstance(value, nn.Parameter)``.
"""
from __future__ import annotations

import weakref
from typing import Any

from .. import _C
from .. import _dtype as _dt
from .._C import Tensor

__all__ = ["Parameter", "is_parameter"]

# id -> weak reference; a dict keyed by id because Tensor.__eq__ is elementwise,
# which rules out WeakSet (it compares live referents with ==).
_marked: dict[int, weakref.ref[Tensor]] = {}


def _forget(ref: weakref.ref[Tensor], key: int) -> None:
    if _marked.get(key) is ref:
        del _marked[key]


def _mark(t: Tensor) -> Tensor:
    key = id(t)
    _marked[key] = weakref.ref(t, lambda r, k=key: _forget(r, k))  # type: ignore[misc]
    return t


def is_parameter(obj: Any) -> bool:
    """True when ``obj`` is a tensor made by :func:`Parameter` (PyTorch's
    ``isinstance(obj, nn.Parameter)``)."""
    if not isinstance(obj, Tensor):
        return False
    ref = _marked.get(id(obj))
    return ref is not None and ref() is obj


def Parameter(data: Any = None, requires_grad: bool = True) -> Tensor:
    """Parameter(data=None, requires_grad=True) -> Tensor

    A leaf tensor sharing ``data``'s memory, detached from any graph, with
    ``requires_grad`` set as given, and marked as a parameter so that
    assigning it to a :class:`Module` attribute registers it.  ``data`` may be
    anything ``ember.asarray`` accepts (None: an empty float32 tensor)."""
    t = _C.empty((0,)) if data is None else _C.asarray(data)
    p = t.detach()
    if requires_grad:
        if p.dtype not in (_dt.float32, _dt.float64):
            raise TypeError(f"Parameter(): only float32/float64 tensors can require gradients, got {p.dtype}")
        p.requires_grad = True
    return _mark(p)
