"""ember.nn: neural-network building blocks with PyTorch's names and semantics.

``ember.nn.functional`` holds the stateless operations (convolution, pooling,
normalisation, activations, losses)."""
from . import functional  # noqa: F401
