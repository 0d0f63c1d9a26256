"""ember.datasets: small classic datasets shipped inside the package, so
examples and tests run offline.

``load_iris()`` and ``load_digits()`` return the same values as scikit-learn's
loaders of the same names (the data files are scikit-learn's; see
``data/LICENSE.txt``), as ember tensors: features in float32 by default (the
dtype ember's layers train in; pass ``dtype=ember.float64`` for the exact
float64 values), targets int64.
"""
from __future__ import annotations

import csv
import gzip
from importlib import resources
from typing import Any, Union

import numpy as np

from .._C import Tensor

__all__ = ["Bunch", "load_iris", "load_digits"]

_IRIS_FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


class Bunch(dict):
    """A dict whose keys are also attributes (``b.data`` is ``b["data"]``),
    like scikit-learn's Bunch."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __dir__(self) -> list[str]:
        return list(self.keys())


def _path(name: str) -> Any:
    return resources.files(__name__).joinpath("data", name)


def _tensors(data: np.ndarray, target: np.ndarray, dtype: Any) -> tuple[Tensor, Tensor]:
    from .. import asarray, float32, int64
    x = asarray(np.ascontiguousarray(data, dtype=np.float64)).astype(float32 if dtype is None else dtype)
    return x, asarray(np.ascontiguousarray(target, dtype=np.int64)).astype(int64)


def load_iris(*, return_X_y: bool = False, dtype: Any = None) -> Union[Bunch, tuple[Tensor, Tensor]]:
    """Fisher's Iris data: 150 samples, 4 features, 3 classes (50 each).

    Returns ``(X, y)`` with return_X_y, else a :class:`Bunch` with ``data``
    (150, 4), ``target`` (150,) int64, ``feature_names``, ``target_names``
    and ``DESCR``.  dtype is the features' dtype (default float32)."""
    with _path("iris.csv").open("r", encoding="ascii") as f:
        rows = list(csv.reader(f))
    n, nf = int(rows[0][0]), int(rows[0][1])
    target_names = rows[0][2:]
    table = np.array(rows[1:], dtype=np.float64)
    if table.shape != (n, nf + 1):
        raise RuntimeError(f"iris.csv: expected {n} rows of {nf + 1} values, found {table.shape}")
    x, y = _tensors(table[:, :nf], table[:, nf], dtype)
    if return_X_y:
        return x, y
    return Bunch(data=x, target=y, feature_names=list(_IRIS_FEATURES), target_names=list(target_names),
                 DESCR="Iris plants dataset (R. A. Fisher, 1936): 150 samples of 3 species, "
                       "4 measurements in cm.")


def load_digits(*, n_class: int = 10, return_X_y: bool = False,
                dtype: Any = None) -> Union[Bunch, tuple[Tensor, Tensor]]:
    """The 8x8 handwritten digits (UCI optical recognition test set): 1797
    images, 64 pixel counts in 0..16, digits 0-9.

    n_class keeps the digits 0..n_class-1 only.  Returns ``(X, y)`` with
    return_X_y, else a :class:`Bunch` with ``data`` (n, 64), ``images``
    (n, 8, 8), ``target`` int64, ``feature_names`` ("pixel_r_c"),
    ``target_names`` and ``DESCR``.  dtype is the pixels' dtype (default float32)."""
    if not 1 <= n_class <= 10:
        raise ValueError(f"load_digits: n_class must be in [1, 10], got {n_class}")
    with _path("digits.csv.gz").open("rb") as raw, gzip.open(raw, "rt", encoding="ascii") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 65:
        raise RuntimeError(f"digits.csv.gz: expected rows of 65 values, found shape {table.shape}")
    keep = table[:, -1] < n_class
    table = table[keep]
    x, y = _tensors(table[:, :-1], table[:, -1], dtype)
    if return_X_y:
        return x, y
    return Bunch(data=x, images=x.reshape((x.shape[0], 8, 8)), target=y,
                 feature_names=[f"pixel_{r}_{c}" for r in range(8) for c in range(8)],
                 target_names=list(range(10)),
                 DESCR="Optical recognition of handwritten digits (E. Alpaydin, C. Kaynak, 1998; UCI): "
                       "8x8 images of pixel counts 0..16.")
