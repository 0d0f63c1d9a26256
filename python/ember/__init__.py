"""ember: a machine-learning library with a C core (libember) and a Python front end.

Tensors follow the Python array API standard (ember is its own namespace:
``x.__array_namespace__() is ember``) and carry the PyTorch-style methods
model code uses.  NumPy arrays and tensors share memory without copies.
"""
from . import _C
from ._dtype import (DType, bool, uint8, int8, int32, int64, float32, float64,  # noqa: A004
                     finfo, iinfo, isdtype, result_type, can_cast)
from . import _dtype, _format

_C._register_dtypes(_dtype.ALL, _dtype._coerce, _format.tensor_repr)

from ._C import *  # noqa: E402,F401,F403  (every op the C core binds)
from ._C import Tensor, __version__  # noqa: E402
from ._api import *  # noqa: E402,F401,F403  (array-API functions written in Python)
from . import _tensor_methods  # noqa: E402,F401  (PyTorch-style Tensor methods)
from ._linalg import *  # noqa: E402,F401,F403  (tensordot, vecdot, matrix_transpose, ember.linalg)
from . import _methods_math  # noqa: E402,F401  (PyTorch-style math methods: x.sum(dim), x.max(dim), ...)
from . import _methods_shape, random  # noqa: E402,F401  (shape/index/sort methods, unique_*, ember.random)
from .autograd import (no_grad, enable_grad, set_grad_enabled, inference_mode,  # noqa: E402,F401
                       is_grad_enabled, is_inference_mode_enabled)  # (ember.autograd; Tensor.backward etc.)
from .serialization import save, load  # noqa: E402,F401  (checkpoints as safetensors files)
from . import nn, optim, data, datasets  # noqa: E402,F401  (ember.nn, ember.optim, ember.data, ember.datasets)

__array_api_version__ = "2023.12"
newaxis = None
e, pi, inf, nan = 2.718281828459045, 3.141592653589793, float("inf"), float("nan")
