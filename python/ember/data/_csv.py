"""ember.data.read_csv: a fast CSV reader over libember's C parser (see docs/csv.md)."""
from __future__ import annotations

import builtins
import errno
import os
from typing import Any, Literal, Mapping, Sequence, Union

import numpy as np

from .. import _C
from .._dtype import DType, _coerce

# em_csv_type codes (csrc/ember/include/ember/io.h)
_AUTO, _BOOL, _INT64, _FLOAT64, _STRING = 0, 1, 2, 3, 4

Column = Union[str, int]
_StrKinds = ("str", "string", "object", "U", "O")


def _type_code(dt: Any) -> tuple[int, DType | None]:
    """(parser type code, ember dtype to cast to afterwards or None) for a dtype spec."""
    if dt is str or dt is object or (isinstance(dt, str) and dt in _StrKinds):
        return _STRING, None
    if isinstance(dt, np.dtype) and dt.kind in "OUS":
        return _STRING, None
    d = _coerce(dt)
    if d.kind == "f":
        return _FLOAT64, (None if d.name == "float64" else d)
    if d.name == "bool":
        return _BOOL, None
    return _INT64, (None if d.name == "int64" else d)


def _source(path_or_buffer: Any) -> Any:
    """A str path or a bytes-like object for the C reader."""
    if isinstance(path_or_buffer, (bytes, bytearray, memoryview)):
        return path_or_buffer
    if isinstance(path_or_buffer, (str, os.PathLike)):
        path = os.fspath(path_or_buffer)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, f"read_csv: no such file: '{path}'", path)
        return path
    if hasattr(path_or_buffer, "read"):
        data = path_or_buffer.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"read_csv: the file object's read() returned {type(data).__name__}, "
                            "not bytes or str")
        return data
    raise TypeError("read_csv: expected a path (str or os.PathLike), bytes, or a file object, "
                    f"got {type(path_or_buffer).__name__}")


def read_csv(path_or_buffer: Any, *, delimiter: str = ",", header: bool = True,
             usecols: Sequence[Column] | None = None,
             dtype: Any = None, na_values: Sequence[str] | None = None,
             skiprows: int = 0, max_rows: int | None = None, comment: str | None = None,
             quotechar: str | None = '"', as_tensor: bool = False,
             strings: Literal["str", "object"] = "str",
             nthreads: int | None = None) -> Any:
    """Read a CSV file into columns: ember tensors for numbers, NumPy arrays for text.

    Parameters
    ----------
    path_or_buffer : str, os.PathLike, bytes, bytearray, memoryview or file object
        A path (read with mmap), the CSV text itself as bytes, or an object
        with ``read()`` (returning bytes or str; str is encoded as UTF-8).
    delimiter : str
        The one-character field separator (``','``; ``'\\t'`` for TSV).
    header : bool
        Whether the first row (after ``skiprows``, blank and comment lines)
        names the columns.  Without a header the columns are named
        ``'0'``, ``'1'``, ...  Duplicate names get ``.1``, ``.2`` suffixes.
    usecols : sequence of str or int, optional
        The columns to read, by name or index (negative counts from the end),
        in the order given.  Other columns are skipped without parsing.
    dtype : dtype or dict, optional
        One dtype for all columns, or ``{column: dtype}`` (name or index).
        Accepted: ``bool``, ``int``/``'int64'``, ``float``/``'float64'``,
        ``str``/``object`` (text), and other ember dtypes (``float32``,
        ``int32``...), which are parsed as float64/int64 and then cast.
        Unlisted columns are inferred: bool, int64, float64, else str.  An
        inferred int or bool column with a missing value becomes float64 with
        NaN (as pandas does); an explicit ``int``/``bool`` column with a
        missing value is an error.
    na_values : sequence of str, optional
        Texts that mean "missing" (replacing the default list ``'', 'NA',
        'N/A', 'n/a', 'NaN', 'nan', '-NaN', '-nan', 'NULL', 'null', 'None',
        '#N/A', '<NA>'``; an empty field is always missing).
    skiprows : int
        Lines skipped at the start of the file, before the header.
    max_rows : int, optional
        Read at most this many data rows.
    comment : str, optional
        Lines starting with this character are skipped.
    quotechar : str or None
        The quote character (``'"'``); None reads quotes as ordinary text.
    as_tensor : bool
        Return one 2-D tensor of shape ``(rows, columns)`` instead of a dict;
        every selected column must be numeric.  Its dtype is ``dtype`` when
        that is one float dtype, else float64.
    strings : {'str', 'object'}
        Text columns as NumPy ``str`` arrays (missing values are ``''``) or
        as ``object`` arrays of Python str (missing values are ``None``).
    nthreads : int, optional
        Threads for the parse (default: ``ember.get_num_threads()``).  The
        result never depends on it.

    Returns
    -------
    dict of str to Tensor or numpy.ndarray, or Tensor when ``as_tensor``
        Columns in file order (or ``usecols`` order).

    Raises
    ------
    ValueError
        Malformed input, with the 1-based line and column (and column name),
        e.g. ``read_csv: line 7, column 3 ('price'): cannot parse 'abc' as
        float64``; also bad options.
    FileNotFoundError, OSError
        The file cannot be read.
    IndexError
        A column index out of range.

    Examples
    --------
    >>> cols = ember.data.read_csv(b"x,y,name\\n1,2.5,a\\n2,,b\\n")
    >>> cols["y"].tolist()
    [2.5, nan]
    """
    if strings not in ("str", "object"):
        raise ValueError(f"read_csv: strings must be 'str' or 'object', got {strings!r}")
    if isinstance(skiprows, builtins.bool) or not isinstance(skiprows, int) or skiprows < 0:
        raise ValueError(f"read_csv: skiprows must be an int >= 0, got {skiprows!r}")
    if max_rows is not None and (isinstance(max_rows, builtins.bool) or not isinstance(max_rows, int)
                                 or max_rows < 0):
        raise ValueError(f"read_csv: max_rows must be an int >= 0 or None, got {max_rows!r}")
    if isinstance(usecols, (str, int)):
        usecols = [usecols]
    if isinstance(na_values, str):
        na_values = [na_values]
    default = _AUTO
    casts: dict[Column, DType] = {}
    all_cast: DType | None = None
    types: list[tuple[Column, int]] = []
    if isinstance(dtype, Mapping):
        for col, dt in dtype.items():
            if isinstance(col, builtins.bool) or not isinstance(col, (str, int)):
                raise TypeError(f"read_csv: dtype keys must be column names or indices, got {col!r}")
            code, cast = _type_code(dt)
            types.append((col, code))
            if cast is not None:
                casts[col] = cast
    elif dtype is not None:
        default, all_cast = _type_code(dtype)
    src = _source(path_or_buffer)
    cols = _C._read_csv(src, delimiter=delimiter, quote=quotechar, comment=comment, header=header,
                        skiprows=skiprows, max_rows=-1 if max_rows is None else max_rows,
                        na_values=na_values, usecols=usecols, types=types, default_type=default,
                        nthreads=0 if nthreads is None else nthreads,
                        strings=1 if strings == "str" else 2)
    out: dict[str, Any] = {}
    for k, col in enumerate(cols):
        name, code = col[0], col[1]
        if code == _STRING:  # a NumPy str/object array, built by the extension
            out[name] = col[2]
            continue
        t = col[2]
        cast = all_cast
        if casts:
            # a dict entry may name the column or its position in the file
            idx = int(usecols[k]) if usecols is not None and not isinstance(usecols[k], str) else None
            for key in (name, idx if idx is not None else (k if usecols is None else None)):
                if key is not None and key in casts:
                    cast = casts[key]
        out[name] = t.astype(cast) if cast is not None else t
    if not as_tensor:
        return out
    bad = [n for n, v in out.items() if isinstance(v, np.ndarray)]
    if bad:
        raise ValueError(f"read_csv: as_tensor=True needs numeric columns, but {bad} hold text")
    from .. import asarray, float64  # local: ember's top level imports this package
    target = all_cast if all_cast is not None and all_cast.kind == "f" else float64
    n = len(next(iter(out.values()))) if out else 0
    mat = np.empty((n, len(out)), dtype=target.name)
    for j, v in enumerate(out.values()):
        mat[:, j] = np.asarray(v)
    return asarray(mat)
