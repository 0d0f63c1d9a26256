"""The thread pool from Python: set_num_threads/get_num_threads, the
EMBER_NUM_THREADS environment variable, bit-identical results for 1, 2 and 3
threads (elementwise ops, reductions over every dtype and axis, copies and
casts), and several Python threads calling ember at once."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import ember
from conftest import ALL_DTYPES, sample


@pytest.fixture
def restore_threads():
    before = ember.get_num_threads()
    yield
    ember.set_num_threads(0)
    if ember.get_num_threads() != before:
        ember.set_num_threads(before)


def test_set_and_get(restore_threads):
    for n in (1, 2, 3, 7, 1):
        ember.set_num_threads(n)
        assert ember.get_num_threads() == n
    ember.set_num_threads(0)  # the default
    assert ember.get_num_threads() >= 1


@pytest.mark.parametrize("bad", [-1, 257, 10**30, -(10**30)])
def test_bad_counts_raise_value_error(bad, restore_threads):
    ember.set_num_threads(2)
    with pytest.raises(ValueError, match="set_num_threads"):
        ember.set_num_threads(bad)
    assert ember.get_num_threads() == 2


@pytest.mark.parametrize("bad", [2.0, "2", None, True])
def test_non_int_counts_raise_type_error(bad):
    with pytest.raises(TypeError, match="set_num_threads"):
        ember.set_num_threads(bad)


def _in_subprocess(code, env_value):
    env = dict(os.environ)
    env.pop("EMBER_NUM_THREADS", None)
    if env_value is not None:
        env["EMBER_NUM_THREADS"] = env_value
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_environment_variable_sets_the_default():
    # read at start-up; set_num_threads wins over it; set_num_threads(0) reads it again
    code = ("import os, ember; a = ember.get_num_threads(); ember.set_num_threads(2); b = ember.get_num_threads(); "
            "ember.set_num_threads(0); c = ember.get_num_threads(); os.environ['EMBER_NUM_THREADS'] = '1'; "
            "ember.set_num_threads(0); d = ember.get_num_threads(); del os.environ['EMBER_NUM_THREADS']; "
            "ember.set_num_threads(0); print(a, b, c, d, ember.get_num_threads())")
    cpus = str(min(len(os.sched_getaffinity(0)), 256))
    assert _in_subprocess(code, "3") == f"3 2 3 1 {cpus}"
    assert _in_subprocess(code, "junk").split()[0] == cpus  # not a count: ignored


def test_fork_child_uses_the_pool():
    code = ("import os, numpy as np, ember\n"
            "ember.set_num_threads(2)\n"
            "x = ember.tensor(np.arange(300000, dtype=np.float64))\n"
            "s = float(ember.sum(x))\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    ok = float(ember.sum(x)) == s and float(ember.sum(x * 2)) == 2 * s\n"
            "    os._exit(0 if ok else 1)\n"
            "_, status = os.waitpid(pid, 0)\n"
            "print(os.waitstatus_to_exitcode(status), float(ember.sum(x)) == s)\n")
    assert _in_subprocess(code, None) == "0 True"


def _bits(t):
    a = np.asarray(t.numpy() if isinstance(t, ember.Tensor) else t)
    return a.dtype.str, a.shape, np.ascontiguousarray(a).tobytes()


def _for_each_thread_count(fn):
    """fn() under 1, 2 and 3 threads; returns the three results as raw bytes."""
    out = []
    for n in (1, 2, 3):
        ember.set_num_threads(n)
        out.append([_bits(r) for r in fn()])
    return out


# lengths that are awkward for splitting, and long ones that cross every grain
SIZES = [1, 3, 7, 17, 255, 257, 1000, 70001, 200003]


@pytest.mark.parametrize("n", SIZES)
def test_elementwise_bit_identical(n, restore_threads):
    a_np = sample((n,), "float32", seed=n)
    b_np = sample((n,), "float32", seed=n + 1)
    a, b = ember.tensor(a_np), ember.tensor(b_np)
    ai = ember.tensor(sample((n,), "int32", seed=n))

    def run():
        return [a + b, a * b, a - 1.5, ember.exp(a), ember.tanh(a), ember.sqrt(ember.abs(a)), ember.log1p(ember.abs(a)),
                ember.sigmoid(a), ai * 3 + ai, ember.where(a > b, a, b), a > 0]

    r1, r2, r3 = _for_each_thread_count(run)
    assert r1 == r2 == r3
    # and right, not only stable
    np.testing.assert_array_equal(np.asarray(a + b), a_np + b_np)
    np.testing.assert_allclose(np.asarray(ember.exp(a)), np.exp(a_np), rtol=2e-6)


def test_elementwise_strided_and_broadcast_bit_identical(restore_threads):
    m_np = sample((700, 300), "float64", seed=3)
    row_np = sample((300,), "float64", seed=4)
    m, row = ember.tensor(m_np), ember.tensor(row_np)
    mt = m.T

    def run():
        return [mt * 2, ember.exp(mt), m + row, mt + mt, m[::2, ::3] - 1, ember.tanh(m[:, ::-1])]

    r1, r2, r3 = _for_each_thread_count(run)
    assert r1 == r2 == r3
    np.testing.assert_array_equal(np.asarray(m + row), m_np + row_np)
    np.testing.assert_array_equal(np.asarray(mt * 2), m_np.T * 2)


REDUCTIONS = ["sum", "mean", "prod", "max", "min", "argmax", "argmin", "var", "std", "all", "any"]


def _reductions(x, dtype):
    out = []
    for name in REDUCTIONS:
        if name in ("var", "std") and dtype == "bool":
            continue
        f = getattr(ember, name)
        for axis in [None] + list(range(x.ndim)):
            out.append(f(x, axis=axis))
    if dtype in ("float32", "float64"):
        out.append(ember.logsumexp(x))
    return out


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(257,), (1000,), (100003,), (3, 30001), (301, 333), (2, 3, 12001)])
def test_reductions_bit_identical(dtype, shape, restore_threads):
    x_np = sample(shape, dtype, seed=len(shape))
    x = ember.tensor(x_np)
    views = [x] if len(shape) == 1 else [x, x.T]

    def run():
        return [r for v in views for r in _reductions(v, dtype)]

    r1, r2, r3 = _for_each_thread_count(run)
    assert r1 == r2 == r3
    # and right
    ref = x_np.astype(np.float64) if dtype in ("float32", "float64") else x_np.astype(np.int64)
    assert abs(float(ember.sum(x)) - ref.sum()) <= 1e-6 * np.abs(ref).sum()
    assert int(ember.argmax(x)) == int(np.argmax(x_np))
    assert x_np.max() == ember.max(x).numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_and_ties_in_long_extremes(dtype, restore_threads):
    x_np = np.ones(200003, dtype=dtype)
    x_np[::1000] = 7  # the first maximum is at 0, then ties everywhere
    x_np[0] = 1
    x = ember.tensor(x_np)
    for n in (1, 2, 3):
        ember.set_num_threads(n)
        assert int(ember.argmax(x)) == 1000
        assert int(ember.argmin(x)) == 0 + (x_np[0] != 1)
    x_np[150000] = np.nan
    x_np[180000] = np.nan
    x = ember.tensor(x_np)
    for n in (1, 2, 3):
        ember.set_num_threads(n)
        assert int(ember.argmax(x)) == 150000
        assert np.isnan(float(ember.max(x)))
        assert np.isnan(float(ember.sum(x)))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_copies_and_casts_bit_identical(dtype, restore_threads):
    x_np = sample((313, 500), dtype, seed=9)
    x = ember.tensor(x_np)

    def run():
        out = [x.T.contiguous(), x[:, ::2].contiguous(), x[::-1].contiguous()]
        out += [x.astype(d) for d in ALL_DTYPES]
        out += [x.T.astype("float64")]
        return out

    r1, r2, r3 = _for_each_thread_count(run)
    assert r1 == r2 == r3
    np.testing.assert_array_equal(x.T.contiguous().numpy(), x_np.T)
    np.testing.assert_array_equal(x.astype("float64").numpy(), x_np.astype(np.float64))


def test_many_python_threads_at_once(restore_threads):
    ember.set_num_threads(2)
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        a_np = rng.standard_normal(200003)
        b_np = rng.standard_normal(200003)
        a, b = ember.tensor(a_np), ember.tensor(b_np)
        ref_sum = float(ember.sum(a + b))
        try:
            for _ in range(20):
                c = a + b
                np.testing.assert_array_equal(np.asarray(c), a_np + b_np)
                assert float(ember.sum(c)) == ref_sum
                assert int(ember.argmax(a)) == int(np.argmax(a_np))
                np.testing.assert_array_equal(a[:200000].reshape(400, 500).T.contiguous().numpy(),
                                              a_np[:200000].reshape(400, 500).T)
        except Exception as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_serial_result_equals_single_thread_sum_definition(restore_threads):
    # the parallel tree gives the serial pairwise result, which is close to the exact sum
    x_np = sample((1_000_003,), "float32", seed=5)
    x = ember.tensor(x_np)
    ember.set_num_threads(3)
    got = float(ember.sum(x))
    ember.set_num_threads(1)
    assert got == float(ember.sum(x))
    assert abs(got - x_np.astype(np.float64).sum()) <= 1e-5 * np.abs(x_np).sum()
