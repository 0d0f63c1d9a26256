"""Regenerate ember's type stubs and the Python API index from the built package.

    PYTHONPATH=<dir holding the built ember> python tools/gen_stubs.py [--check]

writes python/ember/__init__.pyi, random.pyi, linalg.pyi and
docs/python-api-reference.md (--check: only report whether they are stale).
Names, parameter lists, defaults and docstrings come from introspection
(inspect.signature reads the C functions' "name(args)\\n--\\n\\n" lines); the
types come from the tables below, keyed by "owner.function.param",
"function.param" or plain "param".  A parameter no table types is an error:
add it to PARAM rather than let it become Any.
"""
import argparse
import inspect
import sys
from pathlib import Path

import ember
import ember.linalg
import ember.random

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "python" / "ember"
E = inspect.Parameter

# ---- types --------------------------------------------------------------------------------------

AXIS, SHAPE, INTS = "_Axis", "_Shape", "_int | Sequence[_int]"
PARAM = {  # most specific key first: Owner.func.param, func.param, param
    **dict.fromkeys(["x", "x1", "x2", "condition", "mask", "index", "indices", "src", "obj", "data", "mat2",
                     "other", "arrays"], "_ArrayLike"),
    "concat.arrays": "Sequence[_ArrayLike]", "stack.arrays": "Sequence[_ArrayLike]",
    "array": "NDArray[Any]", "dtype": "_DTypeLike | None", "astype.dtype": "_DTypeLike", "device": "str | None",
    "shape": SHAPE, "size": f"{SHAPE} | None", "fill_value": "_Scalar", "value": "_Scalar",
    "start": "_float", "stop": "_float", "arange.stop": "_float | None", "step": "_float", "num": "_int",
    "n_rows": "_int", "n_cols": "_int | None", "k": "_int", "diagonal": "_int", "chunks": "_int",
    "split_size_or_sections": INTS, "start_dim": "_int", "end_dim": "_int", "dim0": "_int", "dim1": "_int",
    "repeats": "_int | Sequence[_int] | Tensor", "repetitions": "Sequence[_int]", "source": INTS,
    "destination": INTS, "shift": INTS, "axes": "Sequence[_int]",
    "tensordot.axes": "_int | tuple[Sequence[_int], Sequence[_int]]", "pad": "Sequence[_int]", "mode": "str",
    "side": 'Literal["left", "right"]', "sorter": "_ArrayLike | None", "indexing": 'Literal["xy", "ij"]',
    "num_classes": "_int", "alpha": "_float", "beta": "_float", "negative_slope": "_float",
    "correction": "_float", "ord": "_float", "min": "_ArrayLike | None", "max": "_ArrayLike | None",
    "seed": "_int | None", "manual_seed.seed": "_int", "random.seed.seed": "_int", "state": "tuple[_int, _int]",
    "low": "_float", "high": "_float",
    "Generator.integers.low": "_int", "Generator.integers.high": "_int | None",
    "randint.low": "_int", "randint.high": "_int | Sequence[_int] | None", "randint.size": SHAPE,
    "mean": "_float", "std": "_float", "loc": "_float", "scale": "_float", "p": "_float | _ArrayLike",
    "Tensor.norm.p": "_float | str", "permutation.x": "_int | _ArrayLike", "generator": "Generator | None",
    "kind": "str | _DTypeLike | tuple[str | _DTypeLike, ...]", "arrays_and_dtypes": "_ArrayLike | _DTypeLike",
    "from_": "_ArrayLike | _DTypeLike", "to": "_DTypeLike", "squeeze.axis": AXIS,
    "Tensor.squeeze.dim": AXIS, "to_device.device": "str", "stream": "Any",
    "Tensor.to.args": "_DTypeLike | Tensor | str", "Tensor.to.device": "str | None",
    **dict.fromkeys(["Tensor.view.shape", "Tensor.reshape.shape", "Tensor.permute.dims", "Tensor.flip.dims",
                     "Tensor.expand.sizes", "Tensor.repeat.sizes", "random.rand.size", "random.randn.size"], INTS),
    "Tensor.var.correction": "_float | None", "Tensor.std.correction": "_float | None",
    "Tensor.var.dim": f"{AXIS} | _bool", "Tensor.std.dim": f"{AXIS} | _bool",
    "qr.mode": "str", "upper": "_bool", "full_matrices": "_bool",
    "rtol": "_float | None", "rcond": "_float | None", "a": "_ArrayLike", "b": "_ArrayLike",
    "matrix_power.n": "_int",
    "set_num_threads.n": "_int",
    "set_alloc_cache_limit.nbytes": "_int | None",
    "Tensor.backward.gradient": "_ArrayLike | None", "retain_graph": "_bool | None", "create_graph": "_bool",
    "hook": "Any", "requires_grad": "_bool", "asarray.requires_grad": "_bool | None",
    "save.tensors": "Mapping[str, Tensor | NDArray[Any]]", "save.path": "str | os.PathLike[str]",
    "save.metadata": "Mapping[str, str] | None", "load.path": "str | os.PathLike[str]",
    "Tensor.backward.inputs": "Sequence[Tensor] | Tensor | None",
    "LinAlgError.__init__.message": "str",
}
TUPLE = "tuple[Tensor, ...]"
RETURN = {
    **dict.fromkeys(["broadcast_arrays", "meshgrid", "nonzero", "split", "chunk", "unstack"], TUPLE),
    "topk": "_TopkResult", "sort": "Tensor", "Tensor.sort": "_SortResult", "unique_all": "_UniqueAllResult",
    "unique_counts": "_UniqueCountsResult", "unique_inverse": "_UniqueInverseResult", "result_type": "DType",
    "isdtype": "_bool", "can_cast": "_bool", "seed": "None", "set_state": "None", "get_state": "tuple[_int, _int]",
    "manual_seed": "Generator", "default_rng": "Generator", "__array_namespace_info__": "Any",
    "Generator.__new__": "Generator",
    "qr": "tuple[Tensor, Tensor] | Tensor", "eigh": "tuple[Tensor, Tensor]", "slogdet": "tuple[Tensor, Tensor]",
    "svd": "tuple[Tensor, Tensor, Tensor]", "lstsq": "tuple[Tensor, Tensor, _int | Tensor, Tensor]",
    "Tensor.item": "_bool | _int | _float", "Tensor.tolist": "Any", "Tensor.numpy": "NDArray[Any]",
    "Tensor.dim": "_int", "Tensor.numel": "_int", "Tensor.is_contiguous": "_bool",
    "set_num_threads": "None", "get_num_threads": "_int",
    "empty_cache": "_int", "cached_bytes": "_int", "get_alloc_cache_limit": "_int", "set_alloc_cache_limit": "None",
    "LinAlgError.__init__": "None", "Tensor.backward": "None", "Tensor.register_hook": "Any", "Tensor.retain_grad": "None",
    "is_grad_enabled": "_bool", "is_inference_mode_enabled": "_bool", "save": "None", "load": "dict[str, Tensor]",
}
PROPS = {"dtype": "DType", "shape": "tuple[_int, ...]", "strides": "tuple[_int, ...]", "ndim": "_int",
         "itemsize": "_int", "nbytes": "_int", "device": "str", "T": "Tensor", "mT": "Tensor", "size": "_Size"}
PROPS.update({"grad": "Tensor | None", "requires_grad": "_bool", "grad_fn": "Any", "is_leaf": "_bool"})
SETTABLE = {"grad", "requires_grad"}  # autograd attributes the user assigns
PY_MODULES = {"ember.autograd", "ember.serialization"}  # typed inline: their names are re-exported as they are
HANDWRITTEN_METHODS = {"max", "min", "stride"}  # overloads written out in TENSOR_HEAD


def param_type(owner, func, p):
    for key in (f"{owner}.{func}.{p.name}", f"{func}.{p.name}", p.name):
        if key in PARAM:
            return PARAM[key]
    if p.name in ("axis", "dim"):
        return AXIS if p.default is None else "_int"
    if isinstance(p.default, bool):
        return "_bool"
    if p.name in ("copy", "keepdims") and p.default is None:
        return "_bool | None"
    raise SystemExit(f"gen_stubs: no type for parameter {p.name!r} of {owner}.{func}; add it to PARAM")


def return_type(owner, func):
    return RETURN.get(f"{owner}.{func}", RETURN.get(func, "Tensor"))


def default(v):
    if v is None or isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) < 20):
        return repr(v)
    return "..."


def docstring(obj, name):
    """obj's docstring without the signature line the Python functions repeat."""
    doc = inspect.getdoc(obj) or ""
    return doc.partition("\n")[2].lstrip("\n") if doc.startswith(name + "(") else doc


def doc_block(obj, name, indent):
    doc = docstring(obj, name).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if not doc:
        return " ..."
    lines = doc.splitlines()
    body = "\n".join([lines[0]] + [(indent + "    " + line).rstrip() for line in lines[1:]])
    return f'\n{indent}    """{body}"""'


class _Text(str):
    """An annotation or default that inspect.Signature prints as it is."""
    __repr__ = str.__str__


def render_params(owner, func, sig, first=None):
    """The parameter list, typed; first ('self', 'cls') is added where the runtime signature lacks it."""
    params = [p if p.name in ("self", "cls") else
              p.replace(annotation=_Text(param_type(owner, func, p)),
                        default=p.default if p.default is E.empty else _Text(default(p.default)))
              for p in sig.parameters.values()]
    if first and (not params or params[0].name != first):
        kind = E.POSITIONAL_ONLY if params and params[0].kind == E.POSITIONAL_ONLY else E.POSITIONAL_OR_KEYWORD
        params.insert(0, inspect.Parameter(first, kind))
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))[1:-1]


def render_function(owner, name, obj, indent="", first=None, doc=True):
    sig = inspect.signature(obj)
    head = f"{indent}def {name}({render_params(owner, name, sig, first)}) -> {return_type(owner, name)}:"
    return head + (doc_block(obj, name, indent) if doc else " ...")


# ---- hand-written parts -------------------------------------------------------------------------

HEADER = '''"""Type stubs of ember (generated by tools/gen_stubs.py; edit that script, not this file)."""
from builtins import bool as _bool, float as _float, int as _int
import os
from collections.abc import Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any, ClassVar, Literal, NamedTuple, TypeAlias, final, overload

import numpy as np
from numpy.typing import NDArray

from . import linalg as linalg, random as random

_Scalar: TypeAlias = _bool | _int | _float
_Operand: TypeAlias = Tensor | _Scalar | NDArray[Any] | np.generic
_ArrayLike: TypeAlias = _Operand | Sequence[Any] | memoryview
_DTypeLike: TypeAlias = DType | str | type[_bool] | type[_int] | type[_float] | np.dtype[Any] | type[np.generic]
_Shape: TypeAlias = _int | Sequence[_int]
_Axis: TypeAlias = _int | tuple[_int, ...] | None

__version__: str
__array_api_version__: str


class _SortResult(NamedTuple):
    values: Tensor
    indices: Tensor


class _TopkResult(NamedTuple):
    values: Tensor
    indices: Tensor


class _MaxMinResult(NamedTuple):
    values: Tensor
    indices: Tensor


class _UniqueAllResult(NamedTuple):
    values: Tensor
    indices: Tensor
    inverse_indices: Tensor
    counts: Tensor


class _UniqueCountsResult(NamedTuple):
    values: Tensor
    counts: Tensor


class _UniqueInverseResult(NamedTuple):
    values: Tensor
    inverse_indices: Tensor


class _Size(_int):
    """x.size: the element count, callable as x.size(dim=None) for the shape (PyTorch)."""
    @overload
    def __call__(self, dim: None = None) -> tuple[_int, ...]: ...
    @overload
    def __call__(self, dim: _int) -> _int: ...


class DType:
    """An ember element type (ember.float32, ember.int64, ...); compares equal to its name and NumPy dtype."""
    name: str
    num: _int
    itemsize: _int
    kind: str
    def __init__(self, name: str, num: _int, itemsize: _int, kind: str) -> None: ...
    def __eq__(self, other: object) -> _bool: ...
    def __hash__(self) -> _int: ...
    @property
    def is_floating_point(self) -> _bool: ...


class finfo:
    """Machine limits of a floating-point dtype (array API finfo)."""
    bits: _int
    eps: _float
    max: _float
    min: _float
    smallest_normal: _float
    dtype: DType
    def __init__(self, dtype: _DTypeLike | Tensor) -> None: ...


class iinfo:
    """Limits of an integer dtype (array API iinfo)."""
    bits: _int
    max: _int
    min: _int
    dtype: DType
    def __init__(self, dtype: _DTypeLike | Tensor) -> None: ...
'''

_MAXMIN = '''
    @overload
    def {0}(self, dim: None = None, keepdim: _bool = False, *, axis: None = None,
            keepdims: _bool | None = None) -> Tensor:
        """The {1} of all elements; with dim (or axis), a namedtuple (values, indices);
        with a tensor argument, the elementwise {1} (as PyTorch)."""
    @overload
    def {0}(self, dim: _int | tuple[_int, ...], keepdim: _bool = False, *, axis: None = None,
            keepdims: _bool | None = None) -> _MaxMinResult: ...
    @overload
    def {0}(self, dim: None = None, keepdim: _bool = False, *, axis: _int | tuple[_int, ...],
            keepdims: _bool | None = None) -> _MaxMinResult: ...
    @overload
    def {0}(self, dim: Tensor) -> Tensor: ...'''

_BINOPS = ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor", "lshift", "rshift"]
TENSOR_HEAD = "\n".join(
    [f"    def __{p}{op}__(self, other: _Operand, /) -> Tensor: ..." for op in _BINOPS for p in ("", "r", "i")
     if op != "pow"]
    + [f"    def __{p}pow__(self, other: _Operand, mod: None = None, /) -> Tensor: ..." for p in ("", "r")]
    + ["    def __ipow__(self, other: _Operand, /) -> Tensor: ...  # type: ignore[misc]  # pow's mod is for pow()"]
    + [f"    def __{op}__(self, other: _Operand, /) -> Tensor: ...  # type: ignore[override]" for op in ("eq", "ne")]
    + [f"    def __{op}__(self, other: _Operand, /) -> Tensor: ..." for op in ("lt", "le", "gt", "ge")]
    + [f"    def __{op}__(self) -> Tensor: ..." for op in ("neg", "pos", "abs", "invert")]
    + [f"    def __{op}__(self) -> {t}: ..." for op, t in [("bool", "_bool"), ("int", "_int"), ("float", "_float"),
                                                          ("index", "_int"), ("len", "_int"),
                                                          ("iter", "Iterator[Tensor]")]]
) + '''
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __getitem__(self, key: Any, /) -> Tensor: ...
    def __setitem__(self, key: Any, value: _ArrayLike, /) -> None: ...
    def __array_namespace__(self, /, *, api_version: str | None = None) -> ModuleType: ...
    def __dlpack__(self, *, stream: Any = None, max_version: tuple[_int, _int] | None = None,
                   dl_device: tuple[_int, _int] | None = None, copy: _bool | None = None) -> Any: ...
    def __dlpack_device__(self) -> tuple[_int, _int]: ...
    @property
    def __array_interface__(self) -> dict[str, Any]: ...
    @overload
    def stride(self, dim: None = None, /) -> tuple[_int, ...]:
        """Element steps of each dimension (PyTorch's convention; .strides is in bytes)."""
    @overload
    def stride(self, dim: _int, /) -> _int: ...''' + _MAXMIN.format("max", "maximum") + _MAXMIN.format("min", "minimum")


# ---- assembling the stubs ------------------------------------------------------------------------

def public(obj):
    return sorted(n for n in dir(obj) if not n.startswith("_"))


def render_class_methods(cls, owner, skip=()):
    out = []
    for name in public(cls):
        if name in skip:
            continue
        static = inspect.getattr_static(cls, name)
        if isinstance(static, property) or inspect.isgetsetdescriptor(static):
            out.append(f"    @property\n    def {name}(self) -> {PROPS[name]}:" + doc_block(static, name, "    "))
            if name in SETTABLE:
                out.append(f"    @{name}.setter\n    def {name}(self, value: {PROPS[name]}) -> None: ...")
        else:
            out.append(render_function(owner, name, getattr(cls, name), "    ", "self"))
    return out


def render_module(mod, owner, header, top=None):
    out = [header]
    for name in public(mod):
        obj = getattr(mod, name)
        if top is not None and getattr(top, name, None) is obj:
            out.append(f"from ember import {name} as {name}")
        elif getattr(obj, "__module__", "") in PY_MODULES and not inspect.ismodule(obj):
            # defined in a pure-Python module, typed inline there: re-export it
            out.append(f"from {obj.__module__} import {name} as {name}")
        elif inspect.ismodule(obj) or name in ("DType", "finfo", "iinfo"):
            continue  # imported / written in HEADER
        elif isinstance(obj, ember.DType):
            out.append(f"{name}: DType")
        elif obj is None or isinstance(obj, float):
            out.append(f"{name}: {'None' if obj is None else '_float'}")
        elif isinstance(obj, type) and issubclass(obj, Exception):  # e.g. linalg.LinAlgError(ValueError)
            init = ["\n" + render_function(name, "__init__", obj.__init__, "    ", "self", doc=False)] \
                if "__init__" in vars(obj) else []
            out.append(f"\nclass {name}({obj.__bases__[0].__name__}):" + doc_block(obj, name, "") + "".join(init) + "\n")
        elif isinstance(obj, type):
            final = "" if obj.__flags__ & (1 << 10) else "@final\n"  # C types without Py_TPFLAGS_BASETYPE
            if obj is ember.Tensor:
                body = [TENSOR_HEAD] + render_class_methods(obj, name, HANDWRITTEN_METHODS)
            else:  # the constructor of a C type is its __new__
                body = [render_function(name, "__new__", obj, "    ", "cls", doc=False),
                        *render_class_methods(obj, name)]
            out.append(f"\n{final}class {name}:" + doc_block(obj, name, "") + "\n" + "\n".join(body) + "\n")
        else:
            out.append(render_function(owner, name, obj))
    if owner == "ember":
        out.append(render_function(owner, "__array_namespace_info__", ember.__array_namespace_info__))
    return "\n".join(out) + "\n"


SUB_HEADER = '''"""Type stubs of {0} (generated by tools/gen_stubs.py; edit that script, not this file)."""
from builtins import bool as _bool, float as _float, int as _int
from collections.abc import Sequence

from ember import Tensor, _ArrayLike, _DTypeLike, _Shape
'''


def stubs():
    return {PKG / "__init__.pyi": render_module(ember, "ember", HEADER),
            PKG / "random.pyi": render_module(ember.random, "random", SUB_HEADER.format("ember.random"), ember),
            PKG / "linalg.pyi": render_module(ember.linalg, "linalg", SUB_HEADER.format("ember.linalg"), ember)}


# ---- the API index -------------------------------------------------------------------------------

AREAS = [
    ("Creation", "asarray tensor arange linspace eye empty empty_like zeros zeros_like ones ones_like full "
                 "full_like meshgrid tril triu one_hot"),
    ("Elementwise", "clip where"),  # plus every function whose docstring starts with "Elementwise"
    ("Reductions, scans and softmax", "sum prod mean var std max min argmax argmin all any count_nonzero "
                                      "logsumexp cumsum cumprod cumulative_sum cumulative_prod softmax "
                                      "log_softmax vector_norm norm"),
    ("Linear algebra", "matmul tensordot vecdot matrix_transpose linalg"),
    ("Shape and indexing", "reshape flatten permute_dims moveaxis expand_dims squeeze broadcast_to "
                           "broadcast_arrays concat stack unstack split chunk flip roll tile repeat pad take "
                           "take_along_axis index_select masked_select masked_fill scatter scatter_add"),
    ("Sorting and searching", "sort argsort topk searchsorted nonzero unique_values unique_counts "
                              "unique_inverse unique_all"),
    ("Random (ember.random)", ""),
    ("Dtypes", "DType bool uint8 int8 int32 int64 float32 float64 finfo iinfo isdtype result_type can_cast "
               "astype real imag conj"),
    ("Interop and constants", "Tensor from_numpy from_dlpack Generator e pi inf nan newaxis"),
]


def summary(obj, name):
    """The first paragraph of obj's docstring, on one line."""
    return " ".join(docstring(obj, name).split("\n\n")[0].split())


def entry(prefix, name, obj):
    if callable(obj) and not isinstance(obj, type):
        sig = str(inspect.signature(obj))
        return f"- `{prefix}{name}{sig}` — {summary(obj, name)}"
    if isinstance(obj, type):
        return f"- `{prefix}{name}` (class) — {summary(obj, name)}"
    if inspect.ismodule(obj):
        return f"- `{prefix}{name}` (module) — {obj.__doc__.splitlines()[0]}"
    return f"- `{prefix}{name}` = `{obj!r}`"


def reference():
    names = set(public(ember))
    out = ["# ember Python API reference", "",
           "Generated by `tools/gen_stubs.py` from the built package (signatures and first docstring lines); "
           "see the docstrings (`help(ember.x)`, `ember.x?`) for the details.  Module functions follow the "
           "array API standard 2023.12; Tensor methods follow PyTorch.", ""]
    for title, listed in AREAS:
        want = listed.split()
        if title == "Elementwise":
            want += [n for n in sorted(names) if (inspect.getdoc(getattr(ember, n)) or "").startswith("Elementwise")
                     and callable(getattr(ember, n))]
        out += [f"## {title}", ""]
        if title.startswith("Random"):
            out += [entry("random.", n, getattr(ember.random, n)) for n in public(ember.random)]
        for n in want:
            out.append(entry("", n, getattr(ember, n)))
            names.discard(n)
        if title == "Linear algebra":
            out += [entry("linalg.", n, getattr(ember.linalg, n)) for n in public(ember.linalg)]
        out.append("")
    names.discard("random")
    if names:
        out += ["## Other", ""] + [entry("", n, getattr(ember, n)) for n in sorted(names)] + [""]
    out += ["## Tensor methods and properties", "",
            "Operators: `+ - * / // % ** @ & | ^ << >> ~`, comparisons, unary `- + abs`, in-place forms, "
            "indexing (`x[i, 1:3, None, mask]`), `len`, `iter`, `int`/`float`/`bool`, the buffer protocol, "
            "`__array_interface__`, `__dlpack__`, `__array_namespace__`.", ""]
    for n in public(ember.Tensor):
        static = inspect.getattr_static(ember.Tensor, n)
        if isinstance(static, property) or inspect.isgetsetdescriptor(static):
            out.append(f"- `x.{n}` — {summary(static, n)}")
        else:
            sig = inspect.signature(getattr(ember.zeros(1), n))  # bound: without self
            out.append(f"- `x.{n}{sig}` — {summary(getattr(ember.Tensor, n), n)}")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a generated file is stale")
    args = ap.parse_args()
    files = {**stubs(), ROOT / "docs" / "python-api-reference.md": reference()}
    stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"stale: {p.relative_to(ROOT)}")
        return 1 if stale else 0
    for p in stale:
        p.write_text(files[p])
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
