"""ember.nn: neural-network building blocks with PyTorch's names and semantics.

``ember.nn.functional`` holds the stateless operations (convolution, pooling,
normalisation, activations, losses); ``Module``, ``Parameter``, the layers,
containers and loss modules live here; ``ember.nn.init`` has the
initialisers.  See docs/nn.md for what exists and what differs from torch."""
from . import functional  # noqa: F401
from . import utils  # noqa: F401  (clip_grad_norm_, clip_grad_value_)
from . import init  # noqa: F401,E402  (ember.nn.init)
from .parameter import Parameter, is_parameter  # noqa: F401,E402
from .module import Module  # noqa: F401,E402
from .containers import ModuleDict, ModuleList, Sequential  # noqa: F401,E402
from .layers import *  # noqa: F401,F403,E402  (Linear, Conv*, pooling, Dropout, Embedding, Flatten, Identity)
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm  # noqa: F401,E402
from .activation import *  # noqa: F401,F403,E402  (ReLU, GELU, ..., Softmax, LogSoftmax)
from .loss import *  # noqa: F401,F403,E402  (MSELoss, CrossEntropyLoss, ...)
from .rnn import GRU, LSTM, RNN  # noqa: F401,E402
from .transformer import MultiheadAttention, TransformerEncoder, TransformerEncoderLayer  # noqa: F401,E402
from ._fit import History, evaluate, fit, predict  # noqa: F401,E402  (training helpers)
