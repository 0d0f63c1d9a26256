"""ember.random and ember.Generator: the Philox stream against a Python
reference, reproducibility, independence of generators, statistics, dtypes
and errors."""
import math
import threading

import numpy as np
import pytest

import ember
import ember.random as er

MASK = 0xFFFFFFFF


def philox(counter, key):
    """Philox-4x32-10 of a 128-bit counter (4 words) and a 64-bit key (Random123)."""
    c0, c1, c2, c3 = counter
    k0, k1 = key & MASK, key >> 32
    for r in range(10):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) & MASK, (k1 + 0xBB67AE85) & MASK
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & MASK, p1 & MASK, ((p0 >> 32) ^ c3 ^ k1) & MASK, p0 & MASK
    return [c0, c1, c2, c3]


def stream_words(seed, offset, n):
    """Words 0..n-1 of a draw starting at block `offset` (the main stream, counter hi = 0)."""
    words = []
    for b in range(offset, offset + (n + 3) // 4):
        words += philox([b & MASK, b >> 32, 0, 0], seed)
    return words[:n]


def test_reference_philox_known_answers():
    """Random123's known-answer vectors, so the reference itself is right."""
    assert philox([0, 0, 0, 0], 0) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert philox([MASK] * 4, 2**64 - 1) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    assert philox([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], 0x299F31D0A4093822) == \
        [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**64 - 1])
def test_uniform_float32_is_the_documented_philox_stream(seed):
    g = ember.Generator(seed)
    words = stream_words(seed, 0, 10)
    want = np.array([(w >> 8) * 2.0**-24 for w in words], np.float32)
    np.testing.assert_array_equal(g.random(10).numpy(), want)
    assert g.get_state() == (seed, 3)  # ceil(10 words / 4)
    lo, hi = -2.0, 3.0  # the next draw starts at block 3
    want = (lo + (hi - lo) * np.array([(w >> 8) * 2.0**-24 for w in stream_words(seed, 3, 6)])).astype(np.float32)
    np.testing.assert_array_equal(g.uniform(lo, hi, (2, 3)).numpy(), want.reshape(2, 3))
    assert g.get_state() == (seed, 5)


def test_uniform_float64_and_integers_streams():
    g = ember.Generator(7)
    w = stream_words(7, 0, 10)
    u64 = [w[2 * i] | w[2 * i + 1] << 32 for i in range(5)]
    np.testing.assert_array_equal(g.random(5, dtype="float64").numpy(), [(u >> 11) * 2.0**-53 for u in u64])
    assert g.get_state() == (7, 3)
    # a power-of-two range never rejects: value = word * 16 >> 32
    np.testing.assert_array_equal(g.integers(0, 16, 8).numpy(), [x >> 28 for x in stream_words(7, 3, 8)])


def test_normal_is_box_muller_on_the_stream():
    g = ember.Generator(3)
    u = [(w >> 8) * 2.0**-24 for w in stream_words(3, 0, 6)]
    want = []
    for k in range(0, 6, 2):
        r, th = math.sqrt(-2 * math.log(1 - u[k])), 2 * math.pi * u[k + 1]
        want += [1 + 2 * r * math.cos(th), 1 + 2 * r * math.sin(th)]
    np.testing.assert_allclose(g.normal(1.0, 2.0, 5).numpy(), np.float32(want[:5]), rtol=1e-6)
    assert g.get_state() == (3, 2)  # an odd count still uses its pair's words


# ---- reproducibility and independence --------------------------------------------

DRAWS = [lambda g: g.random((3, 4)), lambda g: g.uniform(-1, 1, 5, dtype="float64"), lambda g: g.normal(0, 1, 7),
         lambda g: g.integers(-5, 5, (2, 2)), lambda g: g.permutation(10), lambda g: g.bernoulli(0.3, 6),
         lambda g: g.integers(2**40, size=3)]


@pytest.mark.parametrize("draw", DRAWS)
def test_same_seed_same_tensors_different_seed_differs(draw):
    a, b, c = ember.Generator(42), ember.Generator(42), ember.Generator(43)
    for _ in range(3):
        x, y, z = draw(a), draw(b), draw(c)
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert any(not np.array_equal(draw(ember.Generator(s)).numpy(), draw(ember.Generator(42)).numpy())
               for s in (43, 44, 45))


def test_generators_are_independent_and_state_roundtrips():
    g1, g2 = ember.Generator(5), ember.Generator(5)
    g1.random(100)  # advancing g1 leaves g2 alone
    np.testing.assert_array_equal(g2.random(4).numpy(), ember.Generator(5).random(4).numpy())
    state = g1.get_state()
    x = g1.normal(0, 1, 9)
    g1.set_state(state)
    np.testing.assert_array_equal(g1.normal(0, 1, 9).numpy(), x.numpy())
    assert g1.manual_seed(5) is g1 and g1.get_state() == (5, 0)
    assert repr(ember.Generator(9)) == "Generator(seed=9, offset=0)"
    assert ember.Generator() .get_state() != ember.Generator().get_state()  # OS entropy


def test_module_functions_use_the_seeded_default_generator():
    assert ember.random is er and er.Generator is ember.Generator
    er.seed(123)
    a = [er.rand(2, 3), er.randn((4,)), er.randint(0, 10, (5,)), er.uniform(1, 2, 3), er.normal(5, 0.1, (2,)),
         er.bernoulli(ember.full((3,), 0.5)), er.permutation(6), er.random(2)]
    assert er.manual_seed(123) is er._default
    b = [er.rand((2, 3)), er.randn(4), er.randint(0, 10, (5,)), er.uniform(1, 2, 3), er.normal(5, 0.1, (2,)),
         er.bernoulli(ember.full((3,), 0.5)), er.permutation(6), er.random(2)]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    state = er.get_state()
    x = er.rand(3)
    er.set_state(state)
    np.testing.assert_array_equal(er.rand(3).numpy(), x.numpy())
    g = er.default_rng(123)  # generator= draws from it, not from the default
    np.testing.assert_array_equal(er.rand(2, 3, generator=g).numpy(), a[0].numpy())
    assert er.randint(5, (3,)).shape == (3,)  # torch's randint(high, size)


def test_shapes_and_dtypes():
    g = ember.Generator(0)
    assert g.random().shape == () and g.random().dtype == ember.float32
    assert g.random((0, 3)).shape == (0, 3)
    assert g.uniform(size=4, dtype="float64").dtype == ember.float64
    assert g.normal(size=(2, 2), dtype=ember.float64).dtype == ember.float64
    for dt in ("uint8", "int8", "int32", "int64"):
        x = g.integers(0, 100, 50, dtype=dt)
        assert x.dtype == dt and 0 <= x.numpy().min() and x.numpy().max() < 100
    assert g.integers(10, size=3).dtype == ember.int64
    assert er.rand().shape == () and er.randn(2, 3).shape == (2, 3) and er.randn(2, dtype="float64").dtype == "float64"
    assert g.bernoulli(0.5, (2, 3)).dtype == ember.float32
    assert g.bernoulli(ember.full((2,), 0.5, dtype="float64")).dtype == ember.float64
    assert g.bernoulli(0.5, 4, dtype="bool").dtype == ember.bool
    p = ember.asarray(np.array([0.0, 1.0, 0.0, 1.0]))[::-1]  # negatively strided probabilities
    np.testing.assert_array_equal(g.bernoulli(p).numpy(), [1.0, 0.0, 1.0, 0.0])
    assert g.bernoulli(ember.asarray([0.0, 1.0]), (3, 2)).numpy().tolist() == [[0, 1]] * 3


# ---- statistics (loose bounds) ------------------------------------------------------

def test_uniform_and_normal_statistics():
    g = ember.Generator(2024)
    u = g.uniform(-1.0, 3.0, 200_000).numpy()
    assert u.min() >= -1.0 and u.max() < 3.0
    assert abs(u.mean() - 1.0) < 0.02 and abs(u.std() - 4 / math.sqrt(12)) < 0.02
    assert np.histogram(u, bins=8, range=(-1, 3))[0].min() > 0.95 * 200_000 / 8
    n = g.normal(2.0, 3.0, 200_000, dtype="float64").numpy()
    assert abs(n.mean() - 2.0) < 0.05 and abs(n.std() - 3.0) < 0.05
    assert abs(np.mean(np.abs(n - 2.0) < 3.0) - 0.6827) < 0.01
    assert g.normal(1.5, 0.0, 3).numpy().tolist() == [1.5] * 3


def test_integers_bernoulli_permutation_statistics():
    g = ember.Generator(11)
    x = g.integers(-3, 4, 70_000).numpy()
    counts = np.bincount(x + 3, minlength=7)
    assert x.min() == -3 and x.max() == 3 and counts.min() > 9_000 and counts.max() < 11_000
    assert set(g.integers(0, 2, 100, endpoint=True).numpy().tolist()) == {0, 1, 2}
    big = g.integers(-(2**62), 2**62, 1000).numpy()
    assert big.min() < -(2**60) and big.max() > 2**60
    b = g.bernoulli(0.3, 100_000).numpy()
    assert set(np.unique(b).tolist()) == {0.0, 1.0} and abs(b.mean() - 0.3) < 0.01
    for n in (0, 1, 2, 17, 1000):
        p = g.permutation(n)
        assert p.dtype == ember.int64 and sorted(p.numpy().tolist()) == list(range(n))
    first = np.array([g.permutation(4).numpy()[0] for _ in range(4000)])
    assert np.bincount(first, minlength=4).min() > 850
    rows = ember.asarray(np.arange(12).reshape(6, 2))
    shuffled = g.permutation(rows).numpy()
    assert shuffled.shape == (6, 2) and sorted(map(tuple, shuffled)) == [tuple(r) for r in rows.numpy()]
    assert not g.permutation(rows)._shares_memory(rows)


def test_threads_share_a_generator_safely():
    """Big draws release the GIL; the generator's lock keeps its state consistent."""
    g = ember.Generator(1)
    n = 100_000  # above the GIL-release threshold

    def work():
        for _ in range(5):
            g.random(n)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert g.get_state() == (1, 20 * n // 4)


# ---- errors ---------------------------------------------------------------------------

def test_errors():
    g = ember.Generator(0)
    with pytest.raises(ValueError, match="Generator: seed must be in \\[0, 2\\*\\*64\\), got -1"):
        ember.Generator(-1)
    with pytest.raises(ValueError, match="seed must be in"):
        er.seed(2**64)
    with pytest.raises(TypeError, match="Generator: seed must be an integer or None, got float"):
        ember.Generator(1.5)
    with pytest.raises(TypeError, match="random_uniform: dtype int32 is not a float dtype"):
        g.random(3, dtype="int32")
    with pytest.raises(TypeError, match="random_normal: dtype bool is not a float dtype"):
        er.randn(3, dtype="bool")
    with pytest.raises(TypeError, match="random_randint: dtype float32 is not an integer dtype"):
        g.integers(0, 3, 2, dtype="float32")
    with pytest.raises(ValueError, match="random_uniform: needs finite low < high"):
        g.uniform(1.0, 1.0, 3)
    with pytest.raises(ValueError, match="random_normal: needs a finite mean and std >= 0"):
        g.normal(0.0, -1.0, 3)
    with pytest.raises(ValueError, match="random_randint: needs low < high, got \\[5, 5\\)"):
        er.randint(5, 5, (2,))
    with pytest.raises(ValueError, match="random_randint: range \\[0, 300\\) does not fit uint8"):
        g.integers(0, 300, 2, dtype="uint8")
    with pytest.raises(ValueError, match="random_bernoulli: probability 1.5 at index \\(1,\\)"):
        g.bernoulli(ember.asarray([0.5, 1.5]))
    with pytest.raises(TypeError, match="random_bernoulli: probabilities \\(2,\\) int64 must be a float tensor"):
        g.bernoulli(ember.asarray([0, 1]))
    with pytest.raises(ValueError, match="random_permutation: n must be >= 0, got -2"):
        g.permutation(-2)
    with pytest.raises(ValueError, match="permutation: x must be an int or have at least one dimension"):
        g.permutation(ember.ones(()))
    with pytest.raises(ValueError, match="uniform: negative dimension -1"):
        g.uniform(0, 1, (2, -1))
    with pytest.raises(ValueError, match="set_state: seed and offset must be integers"):
        g.set_state((1, -1))
    with pytest.raises(TypeError, match="set_state: state must be a \\(seed, offset\\) tuple"):
        g.set_state([1, 2])
    with pytest.raises(ValueError, match="integers: high must be below 2\\*\\*63 - 1 with endpoint=True"):
        g.integers(0, 2**63 - 1, 2, endpoint=True)
    with pytest.raises(TypeError, match="integers\\(\\) missing required argument 'low'"):
        g.integers()
    assert g.get_state() == (0, 0)  # failed draws consume nothing
