"""Tensor __getitem__ / __setitem__ against NumPy's indexing rules."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ember
from conftest import ALL_DTYPES, assert_same, layouts, sample

E = Ellipsis
A = np.arange(4 * 5 * 6).reshape(4, 5, 6)
M3 = A % 3 == 0           # full mask
M2 = np.isin(A[:, :, 0], [12, 96])  # mask over the first two axes, 2 true
M1 = np.array([True, False, True, True, False])  # mask for axis 1

# keys valid for shape (4, 5, 6)
BASIC_KEYS = [
    0, -1, 3, slice(None), slice(1, 3), slice(None, None, 2), slice(None, None, -1), slice(-2, None, -2),
    slice(10, -10, -3), slice(5, 1), (1, 2), (-1, -2, -3), (slice(None), 2), (E, 1), (1, E), (E, slice(None, None, -1)),
    (None,), (None, 0, None), (E, None), (0, None, slice(1, 4), None, -1), (), E, (slice(2, 2),),
    (slice(None), slice(None, None, -2), slice(1, None, 3)), slice(1, None, 2**62), slice(-2**70, 2**70, -2**62),
]
ADV_KEYS = [
    [0, 2], [-1, 0, -1], [[0, 1], [2, 3]], [], (slice(None), [4, 0, 4]), (E, [5, -6]), ([0, 1], [1, 2]),
    ([[0], [1]], [0, 1, 4]),  # broadcasting (2,1) with (3,)
    ([0, 1], slice(None), [2, 3]),  # non-adjacent: B first
    (slice(None), [0, 1], [2, 3]),  # adjacent, in place
    (0, slice(None), [0, 1]),  # int counts as advanced: non-adjacent
    (slice(1, 3), 0, [2, 3]),  # adjacent int + array
    ([1], None, [2]),  # None between: non-adjacent
    (None, [0, 3], E, None),
    (slice(None, None, -1), [[1, 2]], slice(None, None, 2)),
    ([0, 1, 2], [1, 2, 3], [-1, 0, 5]),
    np.array([3, 1]), (np.array([[0, 1]], dtype=np.int8), np.uint8(2)), (np.int64(1), [0, 0, 0]),
    M3, M2, (slice(None), M1), (M2, [0, 5]), (1, M1), (slice(None), M1.tolist()),
    (M2, E, None), (E, A[0, 0] % 2 == 1), (slice(None), M1, [1, 2, 3]), ([1, 2, 0], M1, 0),
    True, False, (True, 0), (0, False), (E, True, [1, 2]), np.True_, (np.array(True), 1),
    np.zeros((4, 5, 6), bool),  # empty result
    (slice(None), [], slice(1, 3)),
]


def _ids(keys):
    return [repr(k)[:40] for k in keys]


@pytest.mark.parametrize("key", BASIC_KEYS + ADV_KEYS, ids=_ids(BASIC_KEYS + ADV_KEYS))
def test_getitem_matches_numpy(key):
    for name, a, t in layouts(A.copy()):
        if a.shape != A.shape:
            continue
        assert_same(t[key], a[key])


@pytest.mark.parametrize("key", BASIC_KEYS + ADV_KEYS, ids=_ids(BASIC_KEYS + ADV_KEYS))
def test_setitem_matches_numpy(key):
    a = A.copy()
    t = ember.tensor(a)
    value = -np.arange(np.size(a[key])).reshape(np.shape(a[key]))
    a[key] = value
    t[key] = value
    assert_same(t, a)
    a[key] = 7
    t[key] = 7
    assert_same(t, a)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("key", [(1, slice(None, None, -2)), ([2, 0], slice(1, 3)), (slice(None), [[1, 0]]),
                                 (0, [1, 1, 0]), M2[:3, :4]])
def test_dtypes_and_layouts(dtype, key):
    base = sample((3, 4, 4), dtype)
    for name, a, t in layouts(base):
        try:
            expected = a[key]
        except IndexError:
            with pytest.raises(IndexError):
                t[key]
            continue
        assert_same(t[key], expected)
        a2, t2 = a.copy(), ember.tensor(a.copy())
        v = sample(np.shape(expected), dtype, seed=1)
        a2[key] = v
        t2[key] = v
        assert_same(t2, a2)


@pytest.mark.parametrize("idt", ["uint8", "int8", "int32", "int64"])
def test_index_tensor_dtypes(idt):
    idx = np.array([[3, 0], [1, 1]], dtype=idt)
    for key in (ember.tensor(idx), idx, idx.astype(np.int16), idx.astype(np.uint32), idx.tolist()):
        assert_same(ember.tensor(A)[key], A[idx])
        assert_same(ember.tensor(A)[1, key], A[1, idx])


def test_mask_forms():
    t = ember.tensor(A)
    for m in (ember.tensor(M3), M3, M3.tolist()):
        assert_same(t[m], A[M3])
    assert_same(t[:, ember.tensor(M1)], A[:, M1])
    assert_same(t[ember.tensor(True)], A[True])
    mask_of_self = ember.tensor(A) > 50  # mask computed from the tensor it indexes
    assert_same(t[mask_of_self], A[A > 50])


def test_zero_dim():
    a = np.array(3.5, dtype=np.float32)
    t = ember.tensor(a)
    for key in [(), E, None, (None, E, None), True, False, (E, True)]:
        assert_same(t[key], a[key])
    t[...] = 2
    assert float(t) == 2
    t[True] = 4
    assert float(t) == 4
    t[False] = 9
    assert float(t) == 4
    t[()] = 1.5
    assert float(t) == 1.5


def test_empty():
    a = np.zeros((0, 3), np.int32)
    t = ember.tensor(a)
    for key in [[], (slice(None), [1, 2]), (slice(None), 0), np.zeros((0, 3), bool), (E, [0]), slice(1, 5)]:
        assert_same(t[key], a[key])
    t[:, [1, 2]] = 5
    assert_same(t, a)
    b = np.arange(6).reshape(2, 3)
    u = ember.tensor(b)
    assert_same(u[[[], []]], b[[[], []]])
    assert_same(u[[], [9]], b[[], [9]])  # no element, so no bounds check (as NumPy)
    u[b > 100] = 1
    u[b > 100] = np.arange(0)
    assert_same(u, b)


def test_basic_views_share_memory():
    t = ember.tensor(A)
    for key in [1, slice(1, 3), (E, 2), (None, 1, slice(None, None, -1)), (slice(None), 2, slice(None, None, 3))]:
        v = t[key]
        v[...] = -1
        expected = A.copy()
        expected[key] = -1
        assert_same(t, expected)
        t[...] = A
    n = np.asarray(t[1:3])
    t[1, 0, 0] = 1000
    assert n[0, 0, 0] == 1000


def test_advanced_getitem_copies():
    t = ember.tensor(A)
    for key in [[0, 1], (slice(None), [1]), M3, (1, M1), True]:
        r = t[key]
        r[...] = -5
        assert_same(t, A)


def test_setitem_casts_like_numpy():
    t = ember.tensor(np.zeros(4, np.int32))
    t[...] = 1.7
    t[[0]] = 2.9
    t[ember.tensor([False, True, False, False])] = -3.9
    t[2:3] = np.array([4.5])
    assert_same(t, np.array([2, -3, 4, 1], np.int32))
    b = ember.tensor(np.zeros(3, bool))
    b[[0, 2]] = 0.5
    assert_same(b, np.array([True, False, True]))
    f = ember.tensor(np.zeros(3, np.float64))
    f[[1]] = ember.tensor([7], dtype="int8")
    f[f == 0] = 2**53 + 1  # not exact in float64: stored as NumPy rounds it
    assert_same(f, np.array([2.0**53, 7, 2.0**53]))
    big = ember.tensor(np.zeros(2, np.int64))
    big[big == 0] = 2**62 + 1  # not exact as a double: goes through index_put
    assert_same(big, np.full(2, 2**62 + 1, np.int64))
    u = ember.tensor(np.zeros(2, np.uint8))
    with pytest.raises(OverflowError, match="out of bounds"):
        u[0] = 300
    with pytest.raises(OverflowError, match="out of bounds"):
        u[[0]] = -1


def test_setitem_repeated_indices_last_wins():
    t = ember.tensor(np.zeros(3, np.int64))
    t[[0, 2, 0, 0]] = [1, 2, 3, 4]
    assert_same(t, np.array([4, 0, 2]))
    m = ember.tensor(np.zeros((2, 2), np.int64))
    m[[1, 1], [0, 0]] = ember.tensor([5, 6])
    assert_same(m, np.array([[0, 0], [6, 0]]))


def test_setitem_value_forms_and_aliasing():
    a = A.copy()
    t = ember.tensor(a)
    a[[1, 0]] = a[0:2].copy()
    t[[1, 0]] = t[0:2]  # value aliases the target: read before written
    assert_same(t, a)
    a[1:] = a[:-1].copy()
    t[1:] = t[:-1]
    assert_same(t, a)
    a[:, M1] = np.arange(6)  # broadcast along the last axis
    t[:, M1] = list(range(6))
    assert_same(t, a)
    a[[0, 1], :, [2, 3]] = np.ones((1, 2, 5))  # leading size-1 value axes dropped
    t[[0, 1], :, [2, 3]] = np.ones((1, 2, 5))
    assert_same(t, a)
    t[M3] = ember.tensor(a[M3] * 2)
    a[M3] *= 2
    assert_same(t, a)


def test_large_paths_release_gil():
    a = sample((400, 300), "float32")
    t = ember.tensor(a)
    m = a > 0
    assert_same(t[m], a[m])
    assert_same(t[:, [5, 1, -1]], a[:, [5, 1, -1]])
    t[m] = 0.0
    t[np.arange(400)[:, None], np.arange(300)] = t * 2
    a[m] = 0
    a[np.arange(400)[:, None], np.arange(300)] = a * 2
    assert_same(t, a)


ERRORS = [
    (5, "index 5 is out of bounds for axis 0 with size 4"),
    (-5, "index -5 is out of bounds for axis 0 with size 4"),
    ((0, 7), "index 7 is out of bounds for axis 1 with size 5"),
    ((None, 0, None, 7), "index 7 is out of bounds for axis 1 with size 5"),
    ((slice(None), [0, 5]), "index 5 is out of bounds for axis 1 with size 5"),
    (([0], None, [-6]), "index -6 is out of bounds for axis 1 with size 5"),
    ((0, [9]), "index 9 is out of bounds for axis 1 with size 5"),
    (ember.tensor([4]), "index 4 is out of bounds for axis 0 with size 4"),
    (np.array([True, False]), r"boolean index of shape \(2,\) does not match the indexed shape \(4,\)"),
    ((slice(None), M2), r"boolean index of shape \(4, 5\) does not match the indexed shape \(5, 6\)"),
    (np.ones((4, 1), bool), r"shape \(4, 1\) does not match"),
    (([0, 1], [0, 1, 2]), r"shape mismatch: indexing arrays could not be broadcast together with shapes \(2,\) \(3,\)"),
    (1.5, "valid indices"),
    ("a", "valid indices"),
    ((0, {}), "valid indices"),
    (np.array([1.0]), "integer \\(or boolean\\) type, not float64"),
    (ember.tensor([0.0, 1.0]), "integer \\(or boolean\\) type, not float32"),
    ([0.5], "integer \\(or boolean\\) type"),
    ((E, E), "single ellipsis"),
    ((0, 0, 0, 0), "too many indices for tensor of shape \\(4, 5, 6\\)"),
    ((M3, 0), "too many indices"),
    ((None,) * 6, "dimensions ember supports"),
    (2**70, "cannot fit"),
]


@pytest.mark.parametrize("key,match", ERRORS, ids=[m[:30] for _, m in ERRORS])
def test_errors(key, match):
    t = ember.tensor(A)
    with pytest.raises(IndexError, match=match):
        t[key]
    with pytest.raises(IndexError, match=match):
        t[key] = 1
    assert_same(t, A)


def test_setitem_errors():
    t = ember.tensor(A)
    with pytest.raises(ValueError, match=r"value array of shape \(3,\) could not be broadcast to indexing result "
                                         r"of shape \(2, 5, 6\)"):
        t[[0, 1]] = np.ones(3)
    with pytest.raises(ValueError, match="broadcast"):
        t[1:] = np.ones(4)
    with pytest.raises(ValueError, match="step cannot be zero"):
        t[::0]
    with pytest.raises(TypeError, match="cannot be deleted"):
        del t[0]
    with pytest.raises(TypeError, match="assigned value"):
        t[0] = "x"
    with pytest.raises(IndexError, match="too many indices"):
        ember.tensor(1.0)[0]
    e8 = ember.zeros((1,) * 8)
    with pytest.raises(IndexError, match="dimensions"):
        e8[None]
    with pytest.raises(IndexError, match="at most 8"):
        e8[np.zeros((1,) * 8, np.int64), np.zeros((1, 1), np.int64)]
    assert_same(t, A)


@st.composite
def basic_case(draw):
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=4)))
    key, axis, used_ellipsis = [], 0, False
    while axis < len(shape) and draw(st.booleans()):
        n = shape[axis]
        kind = draw(st.sampled_from(["int", "slice", "none", "ellipsis"] if not used_ellipsis else
                                    ["int", "slice", "none"]))
        if kind == "int" and n > 0:
            key.append(draw(st.integers(-n, n - 1)))
            axis += 1
        elif kind == "slice" or kind == "int":
            opt = st.none() | st.integers(-6, 6)
            step = draw(st.none() | st.integers(-3, 3).filter(bool))
            key.append(slice(draw(opt), draw(opt), step))
            axis += 1
        elif kind == "none":
            key.append(None)
        else:
            key.append(E)
            used_ellipsis = True
            axis = len(shape)  # the ellipsis takes what is left
    return shape, tuple(key)


@settings(max_examples=60, deadline=None)
@given(basic_case())
def test_hypothesis_basic_indexing(case):
    shape, key = case
    a = np.arange(int(np.prod(shape))).reshape(shape)
    t = ember.tensor(a)
    view = t[key]
    assert_same(view, a[key])
    view[...] = -1  # a view: the write shows in the base
    a[key] = -1
    assert_same(t, a)


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_hypothesis_advanced_indexing(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    a = np.arange(int(np.prod(shape))).reshape(shape)
    key = []
    for n in shape:
        kind = data.draw(st.sampled_from(["array", "slice", "int", "mask"]))
        if kind == "array":
            key.append(np.array(data.draw(st.lists(st.integers(-n, n - 1), max_size=3)), dtype=np.int64))
        elif kind == "slice":
            key.append(slice(None, None, data.draw(st.sampled_from([1, -1, 2]))))
        elif kind == "int":
            key.append(data.draw(st.integers(-n, n - 1)))
        else:
            key.append(np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool))
    key = tuple(key)
    try:
        expected = a[key]
    except IndexError:  # index arrays that do not broadcast together
        with pytest.raises(IndexError, match="shape mismatch"):
            ember.tensor(a)[key]
        return
    t = ember.tensor(a)
    assert_same(t[key], expected)
    a[key] = -1 - np.arange(expected.size).reshape(expected.shape)
    t[key] = -1 - np.arange(expected.size).reshape(expected.shape)
    assert_same(t, a)
