"""Map-style datasets and random_split (``torch.utils.data``'s semantics)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Generic, TypeVar, Union

from .._C import Generator, Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split"]

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """A map-style dataset: subclasses implement ``__getitem__(index)`` and
    ``__len__()``.  ``a + b`` concatenates two datasets."""

    def __getitem__(self, index: int) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __add__(self, other: Dataset[Any]) -> ConcatDataset[Any]:
        return ConcatDataset([self, other])


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Samples are tuples ``(t[i] for t in tensors)``; every tensor has the
    same size along its first axis."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset takes ember Tensors, got {type(t).__name__}")
            if t.ndim == 0:
                raise ValueError("TensorDataset tensors need at least one dimension")
        if any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise ValueError("Size mismatch between tensors: first dimensions "
                             f"{[t.shape[0] for t in tensors]} differ")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset[T_co]):
    """The samples of dataset at the given indices, in that order."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> T_co:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]  # type: ignore[index]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset[T_co]):
    """The datasets one after another."""

    def __init__(self, datasets: Sequence[Dataset[T_co]]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        self.cumulative_sizes: list[int] = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> T_co:
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise IndexError(f"index {idx} out of range for a dataset of length {n}")
            idx += n
        for k, end in enumerate(self.cumulative_sizes):
            if idx < end:
                return self.datasets[k][idx - (self.cumulative_sizes[k - 1] if k else 0)]
        raise IndexError(f"index {idx} out of range for a dataset of length {n}")


def random_split(dataset: Dataset[T_co], lengths: Sequence[Union[int, float]],
                 generator: Generator | None = None) -> list[Subset[T_co]]:
    """Split dataset into non-overlapping random subsets of the given lengths.

    lengths are counts summing to ``len(dataset)``, or fractions summing to 1:
    each gets ``floor(fraction * len)`` and the remainder is dealt out one by
    one from the first subset on (PyTorch's rule).  The permutation comes from
    generator (an ``ember.random.Generator``; None: the default generator).
    """
    from .. import random as _random
    n = len(dataset)  # type: ignore[arg-type]
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1 and all(0 <= x <= 1 for x in lengths):
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        if any(isinstance(x, float) and not float(x).is_integer() for x in lengths):
            raise ValueError("random_split: lengths must be integers or fractions summing to 1, got "
                             f"{lengths}")
        counts = [int(x) for x in lengths]
    if any(c < 0 for c in counts):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if sum(counts) != n:
        raise ValueError(f"Sum of input lengths ({sum(counts)}) does not equal the length of the input dataset "
                         f"({n})!")
    perm = _random.permutation(n, generator=generator).tolist()
    out, start = [], 0
    for c in counts:
        out.append(Subset(dataset, perm[start:start + c]))
        start += c
    return out
