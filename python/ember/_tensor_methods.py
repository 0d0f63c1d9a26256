"""Tensor methods written in Python: the array-API dunders that need the
namespace, iteration, tolist, and the PyTorch-style method names."""
import sys

from ._C import Tensor

_ember = sys.modules["ember"]


def _array_namespace(self, /, *, api_version=None):
    """The array API namespace of this tensor: the ember module."""
    if api_version not in (None, "2021.12", "2022.12", "2023.12"):
        raise ValueError(f"ember does not implement array API version {api_version!r}")
    return _ember


def _iter(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    for i in range(self.shape[0]):
        yield self[i]


def _tolist(self):
    """Nested Python lists of Python scalars (a scalar for a 0-d tensor)."""
    return self.numpy().tolist()


def _to_device(self, device, /, *, stream=None):
    """to_device(device, /, *, stream=None)

    This tensor on device (array API); ember has only 'cpu', so this is self."""
    if device != "cpu":
        raise ValueError(f"to_device: ember runs on 'cpu' only, not {device!r}")
    return self


Tensor.to_device = _to_device


Tensor.__array_namespace__ = _array_namespace
Tensor.__iter__ = _iter
Tensor.tolist = _tolist


def _rebuild(array, requires_grad=False):
    t = _ember.asarray(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _reduce(self):
    # pickle (and copy.deepcopy) go through a NumPy copy of the values; the
    # result is a new leaf tensor with the same dtype, shape and requires_grad
    return _rebuild, (self.numpy().copy(), bool(getattr(self, "requires_grad", False)))


Tensor.__reduce__ = _reduce
