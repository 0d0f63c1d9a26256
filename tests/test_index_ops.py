"""Index, sort and softmax functions: take, take_along_axis, index_select,
nonzero, masked_select/masked_fill, scatter/scatter_add, gather, one_hot,
softmax/log_softmax, sort/argsort/topk, searchsorted, unique_*."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ember
from conftest import ALL_DTYPES, FLOAT_DTYPES, NUMERIC_DTYPES, assert_same, layouts, sample

torch = pytest.importorskip("torch")


def idx(a):
    return ember.asarray(np.asarray(a, np.int64))


# ---- take / take_along_axis / index_select ---------------------------------------

@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_take(dt):
    a = sample((4, 3), dt)
    for name, ref, t in layouts(a):
        for ind in ([0, -1, 2, 2], [[1, 0], [0, 2]], 1, []):
            i = np.asarray(ind, np.int64)
            assert_same(ember.take(t, ember.asarray(i), axis=-1), np.take(ref, i, axis=-1)), name
            assert_same(ember.take(t, ember.asarray(i)), np.take(ref, i))
        rows = ember.asarray(np.array([1, 0, 1], np.int32)[::-1])  # int32, negatively strided
        assert_same(ember.take(t, rows, axis=0), np.take(ref, [1, 0, 1], axis=0))


def test_take_errors():
    t = ember.zeros((2, 3))
    with pytest.raises(IndexError, match="index_select: index 3 at position \\(0,\\) is out of range for axis 1"):
        ember.take(t, idx([3]), axis=1)
    with pytest.raises(TypeError, match="index must be an integer tensor, got \\(1,\\) float32"):
        ember.take(t, ember.asarray([1.0]), axis=0)
    with pytest.raises(IndexError, match="take: axis 2 is out of range"):
        ember.take(t, idx([0]), axis=2)
    with pytest.raises(TypeError, match="bool index"):
        ember.take(t, ember.asarray([True, False]), axis=0)


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_take_along_axis_with_argsort(dt):
    a = sample((3, 5), dt)
    for name, ref, t in layouts(a):
        for axis in (0, 1, -1):
            i = np.argsort(ref, axis=axis, kind="stable")
            assert_same(ember.take_along_axis(t, ember.asarray(i), axis=axis), np.take_along_axis(ref, i, axis))
    b = np.array([[0], [2], [-1]])  # broadcast against x on axis 0, negative index
    assert_same(ember.take_along_axis(ember.asarray(a), ember.asarray(b), axis=1), np.take_along_axis(a, b, 1))


def test_take_along_axis_errors():
    with pytest.raises(ValueError, match="gather: index \\(2,\\) int64 must have the same number of dimensions"):
        ember.take_along_axis(ember.zeros((2, 2)), idx([0, 1]))
    with pytest.raises(IndexError, match="gather: index 5 at position \\(0, 0\\) is out of range"):
        ember.take_along_axis(ember.zeros((2, 2)), idx([[5]]))
    with pytest.raises(ValueError, match="gather: index of shape \\(3, 1\\) does not broadcast"):
        ember.take_along_axis(ember.zeros((2, 2)), idx([[0], [0], [0]]))


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_index_select_and_gather_match_torch(dt):
    a = sample((4, 5), dt)
    for name, ref, t in layouts(a):
        r = torch.from_numpy(ref.copy())
        i = torch.tensor([3, 0, 0, 1])[: ref.shape[0]] % ref.shape[0]
        assert_same(ember.index_select(t, 0, ember.asarray(i.numpy())), torch.index_select(r, 0, i).numpy())
        assert_same(t.index_select(-1, ember.asarray(i.numpy() % ref.shape[1])),
                    r.index_select(-1, i % ref.shape[1]).numpy())
        g = torch.tensor([[0, 1], [1, 0], [2, 2]])[: ref.shape[0] - 1] % ref.shape[1]  # smaller than x (PyTorch allows)
        assert_same(t.gather(1, ember.asarray(g.numpy())), r.gather(1, g).numpy())
        assert_same(t.gather(0, ember.asarray(g.numpy().T % ref.shape[0])), r.gather(0, g.T % ref.shape[0]).numpy())


def test_index_select_errors():
    with pytest.raises(ValueError, match="index_select: index must be 1-D, got \\(1, 1\\) int64"):
        ember.index_select(ember.zeros((2, 2)), 0, idx([[0]]))
    with pytest.raises(IndexError, match="index_select: axis 2 is out of range"):
        ember.index_select(ember.zeros((2, 2)), 2, idx([0]))
    with pytest.raises(TypeError, match="index_select\\(\\): dim must be an integer"):
        ember.index_select(ember.zeros((2, 2)), "0", idx([0]))


# ---- nonzero / masks --------------------------------------------------------------

@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_nonzero(dt):
    a = sample((3, 4), dt, low=-1, high=2)
    for name, ref, t in layouts(a):
        got, want = ember.nonzero(t), np.nonzero(ref)
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w.astype(np.int64))
    assert [g.shape for g in ember.nonzero(ember.zeros((0, 3)))] == [(0,), (0,)]
    assert_same(ember.nonzero([0.0, np.nan, -0.0, 2.0])[0], np.array([1, 3]))
    with pytest.raises(ValueError, match="nonzero: x must have at least one dimension, got \\(\\) float32"):
        ember.nonzero(ember.ones(()))


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_masked_select_and_fill(dt):
    a = sample((3, 4), dt)
    m = sample((3, 4), "bool", seed=5)
    for name, ref, t in layouts(a):
        mask = sample(ref.shape, "bool", seed=5)
        assert_same(ember.masked_select(t, ember.asarray(mask)), ref[mask])
        row = mask[0]  # broadcast over the rows
        assert_same(ember.masked_select(t, ember.asarray(row)), ref[np.broadcast_to(row, ref.shape)])
        before = ref.copy()
        filled = t.masked_fill(ember.asarray(mask), 1)
        assert_same(filled, np.where(mask, np.ones((), dt), ref))
        assert_same(t, before)  # the functional form does not write x
    c = ember.asarray(a.copy())
    assert c.masked_fill_(ember.asarray(m), 0) is c
    assert_same(c, np.where(m, np.zeros((), dt), a))


def test_mask_errors():
    with pytest.raises(ValueError,
                       match="masked_select: mask of shape \\(3,\\) bool cannot be broadcast to \\(2, 2\\)"):
        ember.masked_select(ember.zeros((2, 2)), ember.asarray([True, False, True]))
    with pytest.raises(ValueError, match="masked_fill: mask of shape"):
        ember.masked_fill(ember.zeros((2, 2)), ember.asarray([True, False, True]), 1.0)
    with pytest.raises(TypeError, match="masked_fill_: x must be an ember.Tensor, got numpy.ndarray"):
        ember._C._masked_fill_(np.zeros(2), np.ones(2, bool), 1.0)
    with pytest.raises(TypeError, match="masked_fill\\(\\): value must be a number"):
        ember.masked_fill(ember.zeros(2), ember.ones(2, dtype="bool"), "x")


# ---- scatter / one_hot -----------------------------------------------------------------

@pytest.mark.parametrize("dt", NUMERIC_DTYPES)
def test_scatter_matches_torch(dt):
    x, src = sample((3, 5), dt), sample((2, 5), dt, seed=3)
    index = np.array([[0, 1, 2, 0, 0], [2, 0, 0, 1, 2]])
    for name, ref, t in layouts(x):
        r = torch.from_numpy(ref.copy())
        ti = torch.from_numpy(index[:, : ref.shape[1]] % ref.shape[0])
        assert_same(ember.scatter(t, 0, ember.asarray(ti.numpy()), ember.asarray(src)),
                    r.scatter(0, ti, torch.from_numpy(src)).numpy())
        assert_same(t.scatter_add(0, ember.asarray(ti.numpy()), ember.asarray(src)),
                    r.scatter_add(0, ti, torch.from_numpy(src)).numpy())
    t = ember.asarray(x)
    i1 = torch.tensor([[4, 0], [1, 1]])  # along dim 1, repeated index in row 1
    assert_same(t.scatter(1, ember.asarray(i1.numpy()), 7), torch.from_numpy(x).scatter(1, i1, 7).numpy())
    assert_same(ember.scatter_add(t, 1, ember.asarray(i1.numpy()), ember.asarray(src[:, :2])),
                torch.from_numpy(x).scatter_add(1, i1, torch.from_numpy(src[:, :2])).numpy())


def test_scatter_casts_src_and_errors():
    x = ember.zeros((2, 2), dtype="int32")
    out = ember.scatter(x, 0, idx([[1, 0]]), ember.asarray([[2.7, 3.2]]))
    assert out.dtype == ember.int32 and out.tolist() == [[0, 3], [2, 0]]
    with pytest.raises(IndexError, match="scatter: index 2 at position \\(0, 0\\) is out of range for axis 0"):
        ember.scatter(x, 0, idx([[2, 0]]), ember.ones((1, 2), dtype="int32"))
    with pytest.raises(ValueError, match="scatter: index \\(3, 2\\) int64 must have x's ndim and sizes <= src"):
        ember.scatter(x, 0, idx([[0, 0]] * 3), ember.ones((1, 2), dtype="int32"))
    with pytest.raises(TypeError, match="missing required argument 'src'"):
        ember.scatter(x, 0, idx([[0, 0]]))


@pytest.mark.parametrize("dt", ["uint8", "int8", "int32", "int64"])
def test_one_hot(dt):
    a = np.array([[0, 2], [1, 3]], dt)
    for name, ref, t in layouts(a):
        assert_same(ember.one_hot(t), np.eye(int(ref.max()) + 1, dtype=np.int64)[ref])
        assert_same(ember.one_hot(t, num_classes=6), np.eye(6, dtype=np.int64)[ref])
    assert_same(ember.one_hot(ember.asarray(np.array(2, dt)), 3), np.array([0, 0, 1]))
    assert ember.one_hot(ember.zeros(0, dtype=dt), 3).shape == (0, 3)


def test_one_hot_errors():
    with pytest.raises(IndexError, match="one_hot: index 3 at position \\(1,\\) is out of range"):
        ember.one_hot(idx([0, 3]), 3)
    with pytest.raises(IndexError, match="one_hot: index -1 at position \\(0,\\) is negative"):
        ember.one_hot(idx([-1]))
    with pytest.raises(ValueError, match="one_hot: cannot infer the number of classes from an empty index"):
        ember.one_hot(idx([]))
    with pytest.raises(TypeError, match="one_hot: index must be an integer tensor"):
        ember.one_hot(ember.asarray([1.0]))


# ---- softmax -------------------------------------------------------------------------------

def np_softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("dt", FLOAT_DTYPES)
def test_softmax_log_softmax(dt):
    a = sample((3, 4, 5), dt) * 10
    rtol = 1e-5 if dt == "float32" else 1e-12
    for name, ref, t in layouts(a):
        for axis in (0, 1, -1):
            assert_same(ember.softmax(t, axis), np_softmax(ref.astype(np.float64), axis).astype(dt), rtol=rtol,
                        atol=1e-7)
            assert_same(t.log_softmax(dim=axis), np.log(np_softmax(ref.astype(np.float64), axis)).astype(dt),
                        rtol=rtol, atol=1e-6)
    r = torch.from_numpy(a)
    assert_same(ember.asarray(a).softmax(1), r.softmax(1).numpy(), rtol=rtol)


def test_softmax_stability_ints_0d_and_errors():
    big = ember.asarray(np.array([1000.0, 1000.0, -1000.0]))
    assert_same(ember.softmax(big), np.array([0.5, 0.5, 0.0]))
    assert np.isfinite(np.asarray(ember.log_softmax(big))).all()
    s = ember.softmax(ember.asarray([1, 2, 3]))
    assert s.dtype == ember.float32 and abs(sum(s.tolist()) - 1) < 1e-6
    assert ember.softmax(ember.ones(())).tolist() == 1.0
    assert ember.softmax(ember.zeros((0, 3)), axis=0).shape == (0, 3)
    with pytest.raises(IndexError, match="softmax: axis 2 is out of range for a tensor of 2 dimensions"):
        ember.softmax(ember.zeros((2, 2)), 2)
    with pytest.raises(IndexError, match="log_softmax: axis -3 is out of range"):
        ember.log_softmax(ember.zeros((2, 2)), axis=-3)


# ---- sorting ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_sort_argsort_match_numpy(dt):
    a = sample((4, 6), dt, low=-3, high=3)  # small ranges: many ties, so stability shows
    for name, ref, t in layouts(a):
        for axis in (0, 1, -1):
            assert_same(ember.sort(t, axis=axis), np.sort(ref, axis=axis, kind="stable"))
            assert_same(ember.argsort(t, axis=axis), np.argsort(ref, axis=axis, kind="stable"))
            r = torch.from_numpy(ref.copy())
            v, i = r.sort(dim=axis, descending=True, stable=True)
            assert_same(ember.sort(t, axis=axis, descending=True), v.numpy())
            assert_same(ember.argsort(t, axis=axis, descending=True), i.numpy())
            res = t.sort(axis, descending=True)
            assert_same(res.values, v.numpy()) and assert_same(res.indices, i.numpy())
            assert_same(t.argsort(dim=axis), np.argsort(ref, axis=axis, kind="stable"))


def test_sort_nan_empty_0d():
    a = np.array([3.0, np.nan, -1.0, np.inf, np.nan, -np.inf], np.float32)
    assert_same(ember.sort(a), np.sort(a))
    assert_same(ember.argsort(a), np.argsort(a, kind="stable"))
    assert_same(ember.sort(a, descending=True), torch.from_numpy(a).sort(descending=True).values.numpy())
    assert ember.sort(ember.zeros((0, 3))).shape == (0, 3)
    assert ember.sort(ember.ones(())).tolist() == 1.0 and ember.argsort(ember.ones(())).tolist() == 0
    with pytest.raises(IndexError, match="sort: axis 2 is out of range for a tensor of 2 dimensions"):
        ember.sort(ember.zeros((2, 2)), axis=2)
    with pytest.raises(IndexError, match="argsort: axis -3 is out of range for a tensor of 2 dimensions"):
        ember.argsort(ember.zeros((2, 2)), axis=-3)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(allow_nan=True, width=32) | st.integers(-3, 3).map(float), max_size=30))
def test_sort_property(values):
    a = np.array(values, np.float32)
    assert_same(ember.sort(a), np.sort(a))
    assert_same(ember.argsort(a), np.argsort(a, kind="stable"))


@pytest.mark.parametrize("dt", NUMERIC_DTYPES)
def test_topk_matches_torch(dt):
    base = np.random.default_rng(0).permutation(20).reshape(4, 5)  # distinct values: a unique answer
    a = (base - 5).astype(dt) if dt != "uint8" else base.astype(dt)
    for name, ref, t in layouts(a):
        r = torch.from_numpy(ref.copy())
        for k in (0, 1, 3):
            for largest in (True, False):
                for axis in [ax for ax in (0, -1) if k <= ref.shape[ax]]:
                    got = ember.topk(t, k, axis=axis, largest=largest)
                    want = torch.topk(r, k, dim=axis, largest=largest)
                    assert_same(got.values, want.values.numpy()) and assert_same(got.indices, want.indices.numpy())
                    v, i = t.topk(k, dim=axis, largest=largest, sorted=False)
                    assert_same(v, want.values.numpy()) and assert_same(i, want.indices.numpy())


def test_topk_errors():
    with pytest.raises(IndexError, match="topk: k = 4 is out of range \\[0, 3\\] for axis -1 of \\(2, 3\\) float32"):
        ember.topk(ember.zeros((2, 3)), 4)
    with pytest.raises(IndexError, match="topk: k = -1 is out of range"):
        ember.zeros(3).topk(-1)


# ---- searchsorted --------------------------------------------------------------------------------

@pytest.mark.parametrize("dt", ALL_DTYPES)
@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted(dt, side):
    x1 = np.sort(sample((12,), dt, low=-3, high=3))
    x2 = sample((3, 4), dt, seed=7, low=-4, high=4)
    for name, ref1, t1 in layouts(x1):
        if name == "reversed":  # not sorted: use a sorter instead
            perm = np.argsort(ref1, kind="stable")
            assert_same(ember.searchsorted(t1, ember.asarray(x2), side=side, sorter=ember.asarray(perm)),
                        np.searchsorted(ref1, x2, side=side, sorter=perm))
            continue
        for n2, ref2, t2 in layouts(x2):
            assert_same(ember.searchsorted(t1, t2, side=side), np.searchsorted(ref1, ref2, side=side))


def test_searchsorted_nan_mixed_dtypes_and_errors():
    x1 = np.array([1.0, 2.0, np.nan, np.nan])
    x2 = np.array([np.nan, 1.5, 9.0, -np.inf])
    for side in ("left", "right"):
        assert_same(ember.searchsorted(x1, x2, side=side), np.searchsorted(x1, x2, side=side))
    ints = np.array([1, 3, 5], np.int32)
    assert_same(ember.searchsorted(ints, np.array([2.5, 3.0])), np.searchsorted(ints, [2.5, 3.0]))
    assert_same(ember.searchsorted(ints, 4), np.array(2))
    assert ember.searchsorted(ember.zeros(0), ember.ones(3)).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="searchsorted: x1 must be 1-D, got \\(2, 2\\) float32"):
        ember.searchsorted(ember.zeros((2, 2)), ember.ones(2))
    with pytest.raises(ValueError, match="searchsorted: side must be 'left' or 'right', got 'middle'"):
        ember.searchsorted(ember.zeros(2), ember.ones(2), side="middle")
    with pytest.raises(ValueError, match="searchsorted: sorter \\(1,\\) int64 must have x1's length 2"):
        ember.searchsorted(ember.zeros(2), ember.ones(2), sorter=idx([0]))
    with pytest.raises(IndexError, match="index 5 at position"):
        ember.searchsorted(ember.zeros(2), ember.ones(2), sorter=idx([0, 5]))


# ---- unique_* ------------------------------------------------------------------------------------------

def check_unique(a):
    """ember's unique_* give sorted values (NumPy >= 2.3's unique_values does not sort: compare with np.unique)."""
    t = ember.asarray(a)
    values, index, inverse, counts = np.unique(a.ravel(), return_index=True, return_inverse=True, return_counts=True,
                                               equal_nan=False)
    inverse = inverse.reshape(a.shape).astype(np.int64)
    assert_same(ember.unique_values(t), values)
    got = ember.unique_counts(t)
    assert_same(got.values, values) and assert_same(got.counts, counts.astype(np.int64))
    got = ember.unique_inverse(t)
    assert_same(got.values, values) and assert_same(got.inverse_indices, inverse)
    got = ember.unique_all(t)
    assert_same(got.values, values) and assert_same(got.indices, index.astype(np.int64))
    assert_same(got.inverse_indices, inverse) and assert_same(got.counts, counts.astype(np.int64))
    assert_same(ember.take(got.values, got.inverse_indices), a)


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_unique_functions_match_numpy(dt):
    a = sample((4, 5), dt, low=-2, high=3)
    for name, ref, t in layouts(a):
        check_unique(ref)
    check_unique(sample((), dt))
    check_unique(sample((0, 2), dt))


def test_unique_nan_each_distinct():
    check_unique(np.array([np.nan, 1.0, np.nan, 1.0, -0.0, 0.0], np.float32))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-4, 4), max_size=25))
def test_unique_property(values):
    check_unique(np.array(values, np.int64))
