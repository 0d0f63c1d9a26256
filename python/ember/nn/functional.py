"""ember.nn.functional: stateless neural-network operations, as in
``torch.nn.functional``.  Each family lives in its own private module and is
re-exported here."""
from ._norm import batch_norm, group_norm, layer_norm, log_softmax, softmax  # noqa: F401
from ._linear import linear  # noqa: F401
from ._conv import (adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d,  # noqa: F401
                    max_pool1d, max_pool2d)
from ._functional_extra import *  # noqa: F401,F403  (activations, dropout, embedding, losses)
