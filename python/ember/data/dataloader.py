"""DataLoader and default_collate (``torch.utils.data``'s semantics, in one
process: ember's kernels already use every core)."""
from __future__ import annotations

import collections.abc as abc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .._C import Generator, Tensor
from .dataset import Dataset, TensorDataset

__all__ = ["DataLoader", "default_collate"]


def default_collate(batch: list[Any]) -> Any:
    """Merge a list of samples into a batch, as ``torch.utils.data.default_collate``:
    tensors and NumPy arrays are stacked along a new first axis; Python floats
    give a float64 tensor, ints int64, bools bool; strings stay a list;
    mappings, named tuples and sequences are collated field by field (a tuple
    sample gives a list, as in PyTorch)."""
    from .. import asarray, stack, tensor, float64, int64
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, axis=0)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OSUV":
            raise TypeError(f"default_collate: batch must contain tensors, numbers, dicts or lists; found {elem.dtype}")
        return stack([asarray(np.asarray(b, order="C")) for b in batch], axis=0)
    if isinstance(elem, np.generic):
        return asarray(np.array(batch))
    if isinstance(elem, bool):
        return tensor(batch)
    if isinstance(elem, float):
        return tensor(batch, dtype=float64)
    if isinstance(elem, int):
        return tensor(batch, dtype=int64)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, abc.Mapping):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, abc.Sequence):
        if any(len(e) != len(elem) for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, NumPy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


class DataLoader:
    """Iterate over a dataset in batches.

    batch_size samples per batch (None: yield samples one by one, uncollated);
    shuffle draws a new permutation each epoch from generator (an
    ``ember.random.Generator``; None: ember's default generator, so
    ``ember.random.seed`` makes runs repeatable); drop_last drops a final short
    batch; collate_fn merges a list of samples (default: :func:`default_collate`).
    A TensorDataset with the default collate is batched by indexing each
    tensor once per batch rather than stacking samples.
    """

    def __init__(self, dataset: Dataset[Any], batch_size: int | None = 1, shuffle: bool = False,
                 collate_fn: Callable[[list[Any]], Any] | None = None, drop_last: bool = False,
                 generator: Generator | None = None) -> None:
        if batch_size is not None and (not isinstance(batch_size, int) or isinstance(batch_size, bool)
                                       or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value or None, but got {batch_size!r}")
        if batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.dataset)  # type: ignore[arg-type]
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self) -> list[int]:
        n = len(self.dataset)  # type: ignore[arg-type]
        if not self.shuffle:
            return list(range(n))
        from .. import random as _random
        return _random.permutation(n, generator=self.generator).tolist()

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        if self.batch_size is None:
            for i in order:
                yield self.dataset[i]
            return
        bs = self.batch_size
        stop = len(order) - len(order) % bs if self.drop_last else len(order)
        fast = isinstance(self.dataset, TensorDataset) and self.collate_fn is None
        if fast:
            from .. import tensor, int64
        for start in range(0, stop, bs):
            idx = order[start:start + bs]
            if fast:
                ix = tensor(idx, dtype=int64)
                yield [t[ix] for t in self.dataset.tensors]  # type: ignore[attr-defined]
            else:
                yield (self.collate_fn or default_collate)([self.dataset[i] for i in idx])
