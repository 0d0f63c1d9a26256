"""Sequential, ModuleList and ModuleDict: modules that hold modules, with
PyTorch's indexing, naming ('0', '1', ... or the dict keys) and reprs."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable, Iterator, Mapping, Optional, TypeVar, Union, overload

from .module import Module, _addindent

__all__ = ["Sequential", "ModuleList", "ModuleDict"]


def _index(idx: int, n: int, who: str) -> int:
    if not -n <= idx < n:
        raise IndexError(f"{who}: index {idx} is out of range for {n} modules")
    return idx % n


_N = TypeVar("_N", bound="_Numbered")


class _Numbered(Module):
    """What Sequential and ModuleList share: modules in order, appended as
    '0', '1', ..."""

    def __len__(self) -> int:
        """Number of modules."""
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        """The modules in order."""
        return iter(self._modules.values())

    def append(self: _N, module: Module) -> _N:
        """Add ``module`` at the end."""
        self.add_module(str(len(self)), module)
        return self

    def _renumber(self, vals: list[Module]) -> None:
        # after a deletion: the remaining modules become '0', '1', ...
        self._modules.clear()
        for i, m in enumerate(vals):
            self._modules[str(i)] = m


class Sequential(_Numbered):
    """Runs its modules in order, each on the previous one's output.
    ``Sequential(m0, m1, ...)`` names them '0', '1', ...;
    ``Sequential(OrderedDict(name=module, ...))`` uses the given names."""

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for k, m in args[0].items():
                self.add_module(k, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    @overload
    def __getitem__(self, idx: int) -> Module: ...

    @overload
    def __getitem__(self, idx: slice) -> "Sequential": ...

    def __getitem__(self, idx: Union[int, slice]) -> Union[Module, "Sequential"]:
        """The module at ``idx``, or a Sequential of a slice (names kept)."""
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        m: Module = items[_index(idx, len(items), "Sequential")][1]
        return m

    def __setitem__(self, idx: int, module: Module) -> None:
        """Replace the module at ``idx``."""
        key = list(self._modules)[_index(idx, len(self._modules), "Sequential")]
        setattr(self, key, module)

    def __delitem__(self, idx: Union[int, slice]) -> None:
        """Remove modules; the remaining ones are renumbered 0, 1, ..."""
        keys = list(self._modules)
        for k in (keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(keys), "Sequential")]]):
            del self._modules[k]
        self._renumber(list(self._modules.values()))

    def forward(self, input: Any) -> Any:
        """Feed ``input`` through every module in order."""
        for m in self._modules.values():
            input = m(input)
        return input


class ModuleList(_Numbered):
    """A list of modules, registered as '0', '1', ... (no forward of its own)."""

    def __init__(self, modules: Optional[Iterable[Module]] = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx: Union[int, slice]) -> Any:
        """The module at ``idx``, or a ModuleList of a slice."""
        vals = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(vals[idx])
        return vals[_index(idx, len(vals), "ModuleList")]

    def __setitem__(self, idx: int, module: Module) -> None:
        """Replace the module at ``idx``."""
        setattr(self, str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx: Union[int, slice]) -> None:
        """Remove modules; the rest are renumbered."""
        vals = list(self._modules.values())
        del vals[idx]
        self._renumber(vals)

    def __repr__(self) -> str:
        """PyTorch's: runs of identical reprs collapse to ``(i-j): n x <repr>``."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        runs: list[list[Any]] = []  # [first index, last index, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [_addindent(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}", 2) for a, b, r in runs]
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        """Extend in place."""
        return self.extend(modules)

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        """Add every module of ``modules`` at the end."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        vals = list(self._modules.values())
        vals.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(vals):
            self.add_module(str(i), m)


class ModuleDict(Module):
    """An ordered dict of named modules (no forward of its own)."""

    def __init__(self, modules: Optional[Union[Mapping[str, Module], Iterable[tuple[str, Module]]]] = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        """The module named ``key``."""
        m: Module = self._modules[key]
        return m

    def __setitem__(self, key: str, module: Module) -> None:
        """Add or replace the module named ``key``."""
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        """Remove the module named ``key``."""
        del self._modules[key]

    def __len__(self) -> int:
        """Number of modules."""
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        """The keys in order."""
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        """Whether a module is named ``key``."""
        return key in self._modules

    def keys(self) -> Any:
        """The names."""
        return self._modules.keys()

    def values(self) -> Any:
        """The modules."""
        return self._modules.values()

    def items(self) -> Any:
        """(name, module) pairs."""
        return self._modules.items()

    def pop(self, key: str) -> Module:
        """Remove and return the module named ``key``."""
        m: Module = self._modules.pop(key)
        return m

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()

    def update(self, modules: Union[Mapping[str, Module], Iterable[tuple[str, Module]]]) -> None:
        """Add the (name, module) pairs of a mapping or an iterable of pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for k, m in pairs:
            self[k] = m
