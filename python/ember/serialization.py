"""ember.save / ember.load: checkpoints as safetensors files.

The format (https://github.com/huggingface/safetensors), written and read
here without the safetensors package:

* 8 bytes: N, the header length, unsigned little-endian;
* N bytes: a UTF-8 JSON object mapping each tensor name to
  ``{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}`` plus an
  optional ``"__metadata__"`` object of string to string; padded with spaces
  so the data starts at a multiple of 8 bytes;
* the data: every tensor's bytes, C order, little-endian, at its offsets
  relative to the start of the data.  The offsets cover the data exactly,
  with no holes or overlaps.

ember writes tensors sorted by element size (largest first), then name, so
each starts aligned to its element size, as the reference writer does.
Reading checks everything and raises ValueError naming the problem for a
malformed file.  float16 and bfloat16 tensors (common in published
checkpoints) are read as float32, since ember has no 16-bit floats.
"""
from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from typing import Any, Union

import numpy as np

from ._C import Tensor

__all__ = ["save", "load"]

_PathLike = Union[str, "os.PathLike[str]"]

# safetensors dtype code -> NumPy little-endian dtype (what ember stores natively)
_DTYPES = {"F64": "<f8", "F32": "<f4", "I64": "<i8", "I32": "<i4", "I8": "i1", "U8": "u1", "BOOL": "?"}
_CODES = {np.dtype(v).newbyteorder("=") if v[0] == "<" else np.dtype(v): k for k, v in _DTYPES.items()}
_WIDENED = {"F16": 2, "BF16": 2}  # read as float32
_KNOWN_OTHERS = {"I16", "U16", "U32", "U64", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"}
_MAX_HEADER = 100_000_000  # the reference reader's limit


def save(tensors: Mapping[str, Any], path: _PathLike, metadata: Mapping[str, str] | None = None) -> None:
    """Write a dict of name -> tensor (a ``state_dict()``) to path as a
    safetensors file; metadata is an optional dict of strings stored in the
    header.  Tensors may be ember Tensors or NumPy arrays of ember's dtypes;
    they are copied, never shared."""
    if not isinstance(tensors, Mapping):
        raise TypeError(f"save: tensors must be a dict of name -> tensor, got {type(tensors).__name__}")
    arrays: list[tuple[str, np.ndarray, str]] = []
    for name, t in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"save: tensor names must be str, got {name!r}")
        if name == "__metadata__":
            raise ValueError("save: '__metadata__' is reserved for the metadata and cannot name a tensor")
        a = np.asarray(t) if isinstance(t, (Tensor, np.ndarray)) else None
        if a is None:
            raise TypeError(f"save: {name!r} is a {type(t).__name__}, not a Tensor or NumPy array")
        code = _CODES.get(a.dtype.newbyteorder("=") if a.dtype.byteorder not in "=|" else a.dtype)
        if code is None:
            raise TypeError(f"save: {name!r} has dtype {a.dtype}, which ember cannot store")
        arrays.append((name, np.asarray(a, dtype=_DTYPES[code], order="C"), code))
    arrays.sort(key=lambda e: (-e[1].itemsize, e[0]))
    header: dict[str, Any] = {}
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                        for k, v in metadata.items()):
            raise TypeError("save: metadata must be a dict of str to str")
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name, a, code in arrays:
        header[name] = {"dtype": code, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    tmp = os.fspath(path) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, a, _ in arrays:
            f.write(a.tobytes(order="C"))
    os.replace(tmp, path)  # never leave a half-written checkpoint under the real name


def _fail(path: Any, msg: str) -> ValueError:
    return ValueError(f"load: {os.fspath(path)!s} is not a valid safetensors file: {msg}")


def _parse_header(path: Any, raw: bytes, size: int) -> tuple[dict[str, Any], int]:
    if size < 8:
        raise _fail(path, f"it is {size} bytes long, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > _MAX_HEADER:
        raise _fail(path, f"header length {n} is larger than the {_MAX_HEADER}-byte limit")
    if 8 + n > size:
        raise _fail(path, f"header length {n} runs past the end of the file ({size} bytes)")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _fail(path, f"the header is not valid UTF-8 JSON ({e})") from None
    if not isinstance(header, dict):
        raise _fail(path, "the header is not a JSON object")
    return header, 8 + n


def load(path: _PathLike) -> dict[str, Tensor]:
    """Read a safetensors file into a dict of name -> ember Tensor (in the
    file's order of offsets).  The header's ``__metadata__`` is skipped; a
    malformed file raises ValueError naming the problem, an unsupported
    dtype TypeError."""
    with open(path, "rb") as f:
        raw = f.read()
    header, start = _parse_header(path, raw, len(raw))
    header.pop("__metadata__", None)
    data_len = len(raw) - start
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise _fail(path, f"tensor {name!r} needs dtype, shape and data_offsets, got {info!r}")
        code, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if code not in _DTYPES and code not in _WIDENED:
            if code in _KNOWN_OTHERS:
                raise TypeError(f"load: tensor {name!r} of {os.fspath(path)!s} has dtype {code}, which ember "
                                "does not support")
            raise _fail(path, f"tensor {name!r} has unknown dtype {code!r}")
        if (not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                   for d in shape)):
            raise _fail(path, f"tensor {name!r} has a bad shape {shape!r}")
        if (not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)
                or not 0 <= offs[0] <= offs[1]):
            raise _fail(path, f"tensor {name!r} has bad data_offsets {offs!r}")
        itemsize = _WIDENED.get(code) or np.dtype(_DTYPES[code]).itemsize
        nbytes = int(np.prod(shape, dtype=object)) * itemsize
        if offs[1] - offs[0] != nbytes:
            raise _fail(path, f"tensor {name!r} of shape {shape} and dtype {code} needs {nbytes} bytes but its "
                              f"data_offsets {offs} span {offs[1] - offs[0]}")
        if offs[1] > data_len:
            raise _fail(path, f"tensor {name!r} data_offsets {offs} run past the end of the data "
                              f"({data_len} bytes): the file is truncated")
        entries.append((offs[0], offs[1], name, code, tuple(shape)))
    entries.sort()
    pos = 0
    for begin, end, name, _, _ in entries:
        if begin < pos:
            raise _fail(path, f"tensor {name!r} data_offsets [{begin}, {end}] overlap the previous tensor's")
        if begin > pos:
            raise _fail(path, f"bytes [{pos}, {begin}) before tensor {name!r} belong to no tensor")
        pos = end
    if pos != data_len:
        raise _fail(path, f"the data is {data_len} bytes but the tensors cover {pos}")
    from . import asarray
    out: dict[str, Tensor] = {}
    for begin, end, name, code, shape in sorted(entries, key=lambda e: e[0]):
        buf = raw[start + begin:start + end]
        if code == "F16":
            a = np.frombuffer(buf, dtype="<f2").astype(np.float32)
        elif code == "BF16":
            a = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(buf, dtype=_DTYPES[code]).astype(np.dtype(_DTYPES[code]).newbyteorder("="))
        out[name] = asarray(np.asarray(a.reshape(shape), order="C"))
    return out
