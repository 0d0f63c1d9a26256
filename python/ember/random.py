"""ember.random: random tensors from libember's Philox-4x32-10 generator.

The numbers depend only on the seed and on what was drawn before: the same
seed gives the same tensors on every platform and thread count.

Two ways to draw, as in NumPy and PyTorch:

* ``ember.random.Generator(seed)`` (or ``default_rng(seed)``) objects with the
  numpy.random.Generator method names: ``random``, ``uniform``, ``normal``,
  ``integers``, ``permutation``, plus ``bernoulli``; each generator has its
  own state.
* module functions in PyTorch's style (``rand``, ``randn``, ``randint``,
  ``uniform``, ``normal``, ``bernoulli``, ``permutation``) that draw from one
  global default generator, restarted by ``seed(s)`` / ``manual_seed(s)``.
  Without a seed the default generator starts from OS entropy (as NumPy's
  does), so runs differ until you seed it.  Every function takes
  ``generator=`` to draw from a Generator of your own instead.

Float results are float32 unless ``dtype`` says float64; integers are int64.
"""
from ._C import Generator

__all__ = ["Generator", "default_rng", "seed", "manual_seed", "get_state", "set_state", "random", "rand",
           "randn", "randint", "uniform", "normal", "bernoulli", "permutation"]

_default = Generator()


def default_rng(seed=None):
    """A new, independent Generator (seed None: OS entropy)."""
    return Generator(seed)


def seed(seed):
    """Restart the default generator from seed (an int in [0, 2**64))."""
    _default.manual_seed(seed)


def manual_seed(seed):
    """Restart the default generator from seed and return it (as torch.manual_seed)."""
    return _default.manual_seed(seed)


def get_state():
    """The default generator's (seed, offset) state."""
    return _default.get_state()


def set_state(state):
    """Restore a state of the default generator returned by get_state()."""
    _default.set_state(state)


def _gen(generator):
    return _default if generator is None else generator


def _shape(size):
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size


def random(size=None, *, dtype=None, generator=None):
    """Uniform floats in [0, 1) of shape size (None: a 0-d tensor)."""
    return _gen(generator).random(size, dtype=dtype)


def rand(*size, dtype=None, generator=None, requires_grad=False):
    """Uniform floats in [0, 1): rand(2, 3) or rand((2, 3)); requires_grad=True makes a leaf that requires grad."""
    return _gen(generator).random(_shape(size), dtype=dtype).requires_grad_(requires_grad)


def randn(*size, dtype=None, generator=None, requires_grad=False):
    """Standard normal floats: randn(2, 3) or randn((2, 3)); requires_grad=True makes a leaf that requires grad."""
    return _gen(generator).normal(0.0, 1.0, _shape(size), dtype=dtype).requires_grad_(requires_grad)


def randint(low, high=None, size=(), *, dtype=None, generator=None):
    """Uniform integers in [low, high) of shape size; randint(high, size) draws from [0, high)."""
    if isinstance(high, (tuple, list)):  # torch.randint(high, size)
        high, size = None, high
    return _gen(generator).integers(low, high, size, dtype=dtype)


def uniform(low=0.0, high=1.0, size=None, *, dtype=None, generator=None):
    """Uniform floats in [low, high) of shape size (None: a 0-d tensor)."""
    return _gen(generator).uniform(low, high, size, dtype=dtype)


def normal(mean=0.0, std=1.0, size=None, *, dtype=None, generator=None):
    """Normal(mean, std) floats of shape size (None: a 0-d tensor); mean and std are numbers."""
    return _gen(generator).normal(mean, std, size, dtype=dtype)


def bernoulli(p, size=None, *, dtype=None, generator=None):
    """1 with probability p (a float or float tensor in [0, 1], broadcast to size), else 0;
    p's dtype (float32 for a Python float) unless dtype is given."""
    return _gen(generator).bernoulli(p, size, dtype=dtype)


def permutation(x, *, generator=None):
    """A random permutation of arange(x) for an int x, else a copy of x shuffled along axis 0."""
    return _gen(generator).permutation(x)


def _rebuild_generator(state):
    g = Generator(0)
    g.set_state(state)
    return g


def _reduce_generator(self):
    # pickle/deepcopy: the (seed, offset) state, so the copy continues the stream
    return _rebuild_generator, (self.get_state(),)


Generator.__reduce__ = _reduce_generator
