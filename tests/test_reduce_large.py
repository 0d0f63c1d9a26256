"""Contiguous float32 max/min/argmax/argmin/sum/mean against NumPy float64 on
awkward sizes (around the 2048-element scan chunk, the 32768-element parallel
group, and 16M), with NaN and infinities at the first and last element, in
the middle and at every chunk boundary, and bit-identical results on 1, 2
and 3 threads."""
import numpy as np
import pytest

import ember
from conftest import assert_same_bits_across_threads

CH = 2048  # EXT_CHUNK / sizeof(float) in csrc/ember/ops/reduce.c
SIZES = [1, 3, 7, 17, 255, 257, 1000, CH - 1, CH, CH + 1, 2 * CH + 5, 16 * CH + 3, 65_537, 300_001]


def _data(n, seed=0):
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32)


def _check_extremes(a, threads=(1, 2, 3)):
    """ember's extremes of a equal NumPy's on float64 data, on each thread count."""
    a64 = a.astype(np.float64)
    t = ember.asarray(a)
    for op, ref in (("max", np.max), ("min", np.min)):
        want = ref(a64)
        res = []
        for nt in threads:
            ember.set_num_threads(nt)
            res.append(getattr(ember, op)(t).item())
        for got in res:
            if np.isnan(want):
                assert np.isnan(got), (op, a.size)
            else:
                assert got == want, (op, a.size, got, want)
    for op, ref in (("argmax", np.argmax), ("argmin", np.argmin)):
        want = ref(a64)
        for nt in threads:
            ember.set_num_threads(nt)
            assert getattr(ember, op)(t).item() == want, (op, a.size, nt)


@pytest.fixture(autouse=True)
def _restore_threads():
    before = ember.get_num_threads()
    yield
    ember.set_num_threads(before)


@pytest.mark.parametrize("n", SIZES)
def test_extremes_sum_mean_vs_numpy_float64(n):
    a = _data(n, n)
    _check_extremes(a)
    a64 = a.astype(np.float64)
    # float32 accumulation: pairwise, error ~ (64 + log2 n) eps * sum|x|
    tol = 1e-6 * (64 + np.log2(n)) * np.abs(a64).sum() + 1e-7
    for nt in (1, 2, 3):
        ember.set_num_threads(nt)
        assert abs(ember.sum(ember.asarray(a)).item() - a64.sum()) <= tol
        assert abs(ember.mean(ember.asarray(a)).item() - a64.mean()) <= tol / n


def _boundaries(n):
    """first, last, middle, and both sides of every chunk boundary (and of
    the start of the last chunk, which is moved back to end at n)."""
    pos = {0, n - 1, n // 2}
    for b in range(CH, n, CH):
        pos.update((b - 1, b))
    if n > CH:
        pos.update((n - CH, n - CH - 1))
    return sorted(p for p in pos if 0 <= p < n)


@pytest.mark.parametrize("n", [CH - 1, CH, 3 * CH + 17, 16 * CH + 3, 40 * CH + 1])
@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_special_value_at_each_position(n, special):
    base = _data(n, 1)
    positions = _boundaries(n)
    if len(positions) > 24:  # keep the run short: every boundary of a few chunks, then a spread
        positions = positions[:12] + positions[-12:] + positions[12:-12:max(1, (len(positions) - 24) // 8)]
    for p in positions:
        a = base.copy()
        a[p] = special
        _check_extremes(a, threads=(1, 3))


def test_two_nans_first_one_wins_across_groups():
    # NaNs in two different parallel groups: argmax/argmin report the first
    n = 300_001
    a = _data(n, 2)
    a[[250_000, 40_000]] = [-np.nan, np.nan]
    _check_extremes(a)


def test_zero_extremes_and_overflowing_chunk_sums():
    n = 5 * CH + 11
    a = -np.abs(_data(n, 3)) - 1
    a[[CH - 1, CH, 4 * CH + 7]] = [-0.0, 0.0, -0.0]
    _check_extremes(a)
    for nt in (1, 2, 3):
        ember.set_num_threads(nt)
        assert not np.signbit(ember.max(ember.asarray(a)).item())  # +0 beats -0 in key order
    b = (np.sign(_data(n, 4)) * 3e38).astype(np.float32)  # finite; every chunk sum overflows
    b[CH + 5] = 3.4e38
    _check_extremes(b)


@pytest.mark.parametrize("case", ["plain", "nan", "inf"])
def test_16m_vs_numpy_and_same_bits_on_1_2_3_threads(case):
    n = 16_000_000
    a = _data(n, 5)
    if case == "nan":
        a[[n // 3, n - 1]] = [np.nan, -np.nan]
    elif case == "inf":
        a[[CH * 100, n - 2]] = [np.inf, -np.inf]
    t = ember.asarray(a)
    _check_extremes(a)
    # compared as bytes: the NaN returned must be the same element's, whatever the thread count
    assert_same_bits_across_threads(
        lambda: [ember.max(t), ember.min(t), ember.argmax(t), ember.argmin(t), ember.sum(t), ember.mean(t)])
    if case == "nan":  # the first NaN, as NumPy
        assert np.asarray(ember.max(t)).tobytes() == a[n // 3].tobytes()
    ember.set_num_threads(1)
    a64 = a.astype(np.float64)
    if case == "plain":
        assert abs(ember.sum(t).item() - a64.sum()) <= 1e-6 * 90 * np.abs(a64).sum()
