"""ember.optim: optimisers with PyTorch's names, options and update rules.

Each optimiser's step runs one fused C kernel per parameter (libember's
``em_*_step``), following PyTorch's single-tensor arithmetic so that runs
track ``torch.optim`` step by step.  ``ember.optim.lr_scheduler`` holds the
learning-rate schedulers.
"""
from .optimizer import Optimizer
from .sgd import SGD
from .adam import Adam, AdamW
from .rmsprop import RMSprop
from .adagrad import Adagrad
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
