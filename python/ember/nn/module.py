"""``ember.nn.Module``: the base class of layers, with PyTorch's registration
rules, traversal, train/eval switch, state dicts and repr.

Attributes assigned on a Module are sorted by ``__setattr__`` into three
ordered dicts: parameters (tensors made by :func:`Parameter`), buffers
(:meth:`Module.register_buffer`) and submodules.  Everything else derives
from those dicts: names in ``state_dict`` are the dotted attribute paths, as
in PyTorch, so a torch checkpoint's keys and ember's agree.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Optional

import numpy as np

from .. import _C
from .. import _dtype as _dt
from .._C import Tensor
from ..autograd import no_grad
from .parameter import Parameter, _mark, is_parameter

__all__ = ["Module"]

_FLOATS = ("float32", "float64")


def _addindent(s: str, n: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


class _IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class _Handle:
    """Removes a forward hook when ``remove()`` is called."""

    def __init__(self, hooks: dict[int, Any], key: int) -> None:
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        self._hooks.pop(self._key, None)


def _float_dtype(dtype: Any) -> Any:
    name = str(dtype).rpartition(".")[2]
    if name not in _FLOATS:
        raise TypeError(f"Module.to(): only float32 and float64 are supported, got {dtype!r}")
    return getattr(_dt, name)


class Module:
    """Base class of every layer, as ``torch.nn.Module``.

    Subclasses call ``super().__init__()`` first, assign parameters
    (``self.weight = Parameter(...)``), buffers (``self.register_buffer``)
    and submodules as attributes, and define ``forward``; calling the module
    runs ``forward`` (and any forward hooks)."""

    training: bool

    def __init__(self) -> None:
        """Empty registries, training mode."""
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore after pickle/deepcopy, re-marking the copied parameters as parameters."""
        self.__dict__.update(state)
        for p in self.__dict__.get("_parameters", {}).values():
            if p is not None:
                _mark(p)

    # ---- registration -------------------------------------------------
    def _registries(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        try:
            return self.__dict__["_parameters"], self.__dict__["_buffers"], self.__dict__["_modules"]
        except KeyError:
            raise AttributeError("cannot assign to a Module before Module.__init__() has run "
                                 "(call super().__init__() first)") from None

    def __setattr__(self, name: str, value: Any) -> None:
        """Registers parameters, buffers and submodules; plain attributes otherwise."""
        d = self.__dict__
        params, buffers, modules = d.get("_parameters"), d.get("_buffers"), d.get("_modules")
        if is_parameter(value) or isinstance(value, Module):
            if params is None or buffers is None or modules is None:
                raise AttributeError("cannot assign parameters or modules before Module.__init__() call")
            d.pop(name, None)
            buffers.pop(name, None)
            self._non_persistent.discard(name)
            if is_parameter(value):
                modules.pop(name, None)
                params[name] = value
            else:
                params.pop(name, None)
                modules[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(ember.nn.Parameter or None expected)")
            params[name] = None
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(ember.nn.Module or None expected)")
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(ember.Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        """Looks up parameters, buffers and submodules by name."""
        d = self.__dict__
        for reg in ("_parameters", "_buffers", "_modules"):
            if reg in d and name in d[reg]:
                return d[reg][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        """Removes a parameter, buffer, submodule or plain attribute."""
        for reg in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(reg, ()):
                del self.__dict__[reg][name]
                self.__dict__["_non_persistent"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        """Attributes, including registered parameters, buffers and submodules."""
        extra = list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(set(list(super().__dir__()) + extra))

    def register_parameter(self, name: str, param: Optional[Tensor]) -> None:
        """Register ``param`` (made by :func:`Parameter`, or None) under ``name``."""
        self._check_name(name, "parameter")
        if param is not None and not is_parameter(param):
            raise TypeError(f"cannot assign {type(param).__name__} object to parameter '{name}' "
                            "(ember.nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Optional[Tensor], persistent: bool = True) -> None:
        """Register a non-trainable tensor (e.g. running statistics) under ``name``;
        ``persistent=False`` leaves it out of :meth:`state_dict`."""
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(ember.Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Optional["Module"]) -> None:
        """Register ``module`` (or None) as a child under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module", allow_existing_module=True)
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, name: str, kind: str, allow_existing_module: bool = False) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if "." in name or name == "":
            raise KeyError(f"{kind} name can't contain \".\" or be empty, got {name!r}")
        if name in self.__dict__ or hasattr(type(self), name):
            raise KeyError(f"attribute '{name}' already exists")
        for reg, label in (("_parameters", "parameter"), ("_buffers", "buffer"), ("_modules", "module")):
            if name in self.__dict__[reg] and label != kind and not (allow_existing_module and label == "module"):
                raise KeyError(f"attribute '{name}' already exists as a {label}")

    def get_submodule(self, target: str) -> "Module":
        """The submodule at the dotted path ``target`` ('' is self)."""
        mod: Module = self
        if target == "":
            return mod
        for item in target.split("."):
            if item not in mod._modules or mod._modules[item] is None:
                raise AttributeError(f"{mod._get_name()} has no submodule '{item}'")
            mod = mod._modules[item]
        return mod

    def get_parameter(self, target: str) -> Tensor:
        """The parameter at the dotted path ``target``."""
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{mod._get_name()} has no parameter '{name}'")
        p: Tensor = mod._parameters[name]
        return p

    # ---- traversal ----------------------------------------------------
    def named_modules(self, memo: Optional[set[int]] = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """(dotted name, module) for self and every descendant, depth first;
        a module reachable twice is listed once unless ``remove_duplicate`` is False."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        """Self and every descendant module."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """(name, module) for the direct children."""
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        """The direct child modules."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, attr: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else iter([(prefix, self)])
        for mprefix, m in mods:
            for name, v in getattr(m, attr).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield mprefix + ("." if mprefix else "") + name, v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, parameter) pairs; a shared parameter is listed once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        """The parameters of self (and its descendants when ``recurse``)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """The buffers of self (and its descendants when ``recurse``)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and in-place changes -----------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (``mode=False``: evaluation) on self and descendants."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        """Set evaluation mode (dropout off, batch norm uses running statistics)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Set ``requires_grad`` on every parameter."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the parameters' gradients (None, or zeros in place)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                with no_grad():
                    g = p.grad.detach()
                    g[...] = 0
                    p.grad = g

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every descendant (children first) and then on self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _replace_tensors(self, convert: Callable[[Tensor, bool], Tensor]) -> None:
        for m in self.modules():
            for name, p in m._parameters.items():
                if p is not None:
                    q = Parameter(convert(p.detach(), True), requires_grad=p.requires_grad)
                    if p.grad is not None:
                        q.grad = convert(p.grad.detach(), True)
                    m._parameters[name] = q
            for name, b in m._buffers.items():
                if b is not None:
                    m._buffers[name] = convert(b, False)

    def to(self, *args: Any, **kwargs: Any) -> "Module":
        """Cast floating-point parameters and buffers to ``dtype`` (float32 or
        float64); integer buffers are kept.  ``device`` may be 'cpu' only.

        Unlike PyTorch, the parameters become new tensor objects (ember
        cannot change a tensor's dtype in place): build optimizers after
        calling ``to``."""
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        if kwargs:
            raise TypeError(f"Module.to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, str) and a.startswith("cpu"):
                device = a
            else:
                dtype = a
        if device is not None and not str(device).startswith("cpu"):
            raise ValueError(f"Module.to(): ember runs on 'cpu' only, got device {device!r}")
        if dtype is None:
            return self
        d = _float_dtype(dtype)

        def convert(t: Tensor, is_param: bool) -> Tensor:
            if str(t.dtype) not in _FLOATS or t.dtype == d:
                return t
            return (t).astype(d)
        with no_grad():
            self._replace_tensors(convert)
        return self

    def float(self) -> "Module":
        """Cast floating-point parameters and buffers to float32."""
        return self.to(_dt.float32)

    def double(self) -> "Module":
        """Cast floating-point parameters and buffers to float64."""
        return self.to(_dt.float64)

    def cpu(self) -> "Module":
        """No-op (ember runs on the CPU)."""
        return self

    # ---- state dicts --------------------------------------------------
    def _save_to_state_dict(self, destination: dict[str, Any], prefix: str, keep_vars: bool) -> None:
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                destination[prefix + name] = b if keep_vars else b.detach()

    def state_dict(self, *args: Any, destination: Optional[dict[str, Any]] = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """An ordered dict from dotted names to the parameters and persistent
        buffers (detached tensors sharing their memory unless ``keep_vars``)."""
        if args:
            raise TypeError("state_dict() takes keyword arguments only")
        if destination is None:
            destination = OrderedDict()
        for name, m in self.named_modules(prefix=prefix.rstrip(".")):
            m._save_to_state_dict(destination, name + "." if name else "", keep_vars)
        return destination  # type: ignore[return-value]

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy values (ember tensors, NumPy arrays, torch tensors via NumPy)
        into the parameters and persistent buffers of the same names.

        Returns ``(missing_keys, unexpected_keys)``.  With ``strict`` (the
        default) a missing or unexpected key is an error; a shape mismatch is
        always an error.  The errors name every offending key.  Values are
        cast to the destination's dtype and copied in place, so optimizers
        keep pointing at the same tensors."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors: list[str] = []
        if strict:
            if unexpected:
                errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        values: dict[str, Tensor] = {}
        for k, dst in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            if hasattr(v, "detach") and hasattr(v, "cpu") and not isinstance(v, Tensor):
                v = v.detach().cpu().numpy()  # a torch tensor
            src = _C.asarray(np.asarray(v) if not isinstance(v, Tensor) else v)
            if tuple(src.shape) != tuple(dst.shape):
                errors.append(f"size mismatch for {k}: copying a param with shape {tuple(src.shape)} from "
                              f"checkpoint, the shape in current model is {tuple(dst.shape)}.")
                continue
            values[k] = src
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(errors))
        with no_grad():
            for k, src in values.items():
                dst = own[k]
                if src.dtype != dst.dtype:
                    src = (src).astype(dst.dtype)
                if dst.ndim == 0:
                    dst[()] = src
                else:
                    dst[...] = src
        return _IncompatibleKeys(missing, unexpected)

    # ---- calling ------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses define it."""
        raise NotImplementedError(f'Module [{self._get_name()}] is missing the required "forward" function')

    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> _Handle:
        """``hook(module, args)`` runs before ``forward``; a non-None result replaces args."""
        key = id(hook) ^ len(self._forward_pre_hooks) << 48
        self._forward_pre_hooks[key] = hook
        return _Handle(self._forward_pre_hooks, key)

    def register_forward_hook(self, hook: Callable[..., Any]) -> _Handle:
        """``hook(module, args, output)`` runs after ``forward``; a non-None result replaces the output."""
        key = id(hook) ^ len(self._forward_hooks) << 48
        self._forward_hooks[key] = hook
        return _Handle(self._forward_hooks, key)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run pre-hooks, ``forward`` and forward hooks."""
        for hook in list(self._forward_pre_hooks.values()):
            r = hook(self, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            r = hook(self, args, out)
            if r is not None:
                out = r
        return out

    # ---- repr ---------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text between the parentheses of the repr; layers override it."""
        return ""

    def __repr__(self) -> str:
        """Nested, PyTorch-style: ``Name(extra)`` or ``Name(\\n  (child): ...\\n)``."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({k}): " + _addindent(repr(m), 2) for k, m in self._modules.items()]
        lines = extra_lines + child_lines
        s = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                s += extra_lines[0]
            else:
                s += "\n  " + "\n  ".join(lines) + "\n"
        return s + ")"
