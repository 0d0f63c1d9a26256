"""Shape and view functions (reshape, permute_dims, broadcast_*, expand_dims,
squeeze, flip, roll, moveaxis, concat, stack, unstack, tile, repeat, pad,
split, chunk, flatten) and the PyTorch-style Tensor methods over them."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ember
from conftest import ALL_DTYPES, assert_same, layouts, sample

torch = pytest.importorskip("torch")


def cases(dt, shape=(4, 3, 2)):
    """(name, NumPy array, tensor) for every layout of a sample, plus 0-d and empty."""
    out = layouts(sample(shape, dt))
    for a in (sample((), dt), sample((0, 3), dt)):
        out.append((f"shape{a.shape}", a, ember.asarray(a)))
    return out


# ---- views -------------------------------------------------------------------

@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_reshape_values_and_views(dt):
    for name, a, t in cases(dt):
        for shape in [(-1,), (a.size, 1), (1, -1, 1)]:
            r = ember.reshape(t, shape)
            assert_same(r, a.reshape(shape))
            assert r._shares_memory(t) == (a.size == 0 or np.shares_memory(a.reshape(shape), a)), name
        assert not ember.reshape(t, (-1,), copy=True)._shares_memory(t)


def test_reshape_copy_flag_and_errors():
    t = ember.asarray(np.arange(6.0).reshape(2, 3)).T
    assert ember.reshape(t, (6,)).tolist() == [0, 3, 1, 4, 2, 5]
    with pytest.raises(ValueError, match="without a copy"):
        ember.reshape(t, (6,), copy=False)
    c = t.contiguous()
    assert ember.reshape(c, (3, 2), copy=False)._shares_memory(c)
    with pytest.raises(ValueError, match="cannot reshape tensor of shape \\(3, 2\\)"):
        ember.reshape(t, (4, 2))
    with pytest.raises(ValueError, match="only one dimension can be -1"):
        ember.reshape(t, (-1, -1))
    with pytest.raises(TypeError, match="reshape: shape entries must be integers"):
        ember.reshape(t, (2.0, 3))


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_permute_flip_squeeze_expand_dims_are_views(dt):
    for name, a, t in cases(dt):
        axes = tuple(reversed(range(a.ndim)))
        p = ember.permute_dims(t, axes)
        assert_same(p, np.transpose(a, axes)) and p._shares_memory(t)
        for axis in [None, 0, -1, (0, -1)] if a.ndim else [None]:
            f = ember.flip(t, axis=axis)
            assert_same(f, np.flip(a, axis)), (name, axis)
            assert f._shares_memory(t)
        e = ember.expand_dims(t, axis=-1)
        assert_same(e, np.expand_dims(a, -1)) and e._shares_memory(t)
        s = ember.squeeze(ember.expand_dims(t, axis=0), 0)
        assert_same(s, a) and s._shares_memory(t)


def test_flip_negative_strides_roundtrip():
    t = ember.asarray(np.arange(12).reshape(3, 4))
    f = ember.flip(t)
    assert f.stride() == (-4, -1)
    assert_same(ember.flip(f, axis=(0, 1)), np.arange(12).reshape(3, 4))
    f[0, 0] = 100  # writes through to t's last element
    assert t.tolist()[2][3] == 100


def test_view_errors():
    t = ember.zeros((2, 1, 3))
    with pytest.raises(ValueError, match="permute_dims: axes must list each of the 3 axes"):
        ember.permute_dims(t, (0, 1))
    with pytest.raises(ValueError, match="permute: axis 0 repeated"):
        ember.permute_dims(t, (0, 0, 1))
    with pytest.raises(IndexError, match="permute: axis 3 is out of range"):
        ember.permute_dims(t, (0, 1, 3))
    with pytest.raises(ValueError, match="squeeze: cannot remove axis 0 of size 2"):
        ember.squeeze(t, 0)
    with pytest.raises(IndexError, match="squeeze: axis 5 is out of range"):
        ember.squeeze(t, 5)
    with pytest.raises(IndexError, match="unsqueeze: axis 4 is out of range"):
        ember.expand_dims(t, axis=4)
    with pytest.raises(ValueError, match="flip: axis -2 appears twice"):
        ember.flip(t, axis=(1, -2))
    with pytest.raises(TypeError, match="missing required argument 'axis'"):
        ember.squeeze(t)
    with pytest.raises(ValueError, match="unsqueeze: tensor already has the maximum of 8"):
        ember.expand_dims(ember.zeros((1,) * 8))


@pytest.mark.parametrize("shape, target", [((3,), (2, 3)), ((2, 1), (2, 4)), ((), (2, 2)), ((1, 0), (3, 0))])
def test_broadcast_to_and_arrays(shape, target):
    a = sample(shape, "float32")
    t = ember.asarray(a)
    b = ember.broadcast_to(t, target)
    assert_same(b, np.broadcast_to(a, target)) and b._shares_memory(t)
    other = np.zeros(target, np.int8)
    got = ember.broadcast_arrays(t, ember.asarray(other), 1.5)
    ref = np.broadcast_arrays(a, other, np.float32(1.5))
    assert len(got) == 3 and all(g.shape == r.shape for g, r in zip(got, ref))
    assert_same(got[0], ref[0]) and assert_same(got[1], ref[1])
    assert ember.broadcast_arrays() == ()


def test_broadcast_errors():
    with pytest.raises(ValueError, match="broadcast_to: cannot broadcast \\(3,\\) float32 to \\(2, 4\\)"):
        ember.broadcast_to(ember.zeros(3), (2, 4))
    with pytest.raises(ValueError, match="broadcast_to: cannot broadcast .*fewer dimensions"):
        ember.broadcast_to(ember.zeros((2, 3)), (3,))
    with pytest.raises(ValueError, match="\\(2,\\).*\\(3,\\)|\\(3,\\).*\\(2,\\)"):
        ember.broadcast_arrays(ember.zeros(2), ember.zeros(3))
    with pytest.raises(TypeError, match="broadcast_arrays\\(\\) takes no keyword arguments"):
        ember.broadcast_arrays(ember.zeros(2), axis=0)


@pytest.mark.parametrize("src, dst", [(0, -1), (-1, 0), (1, 1), ((0, 1), (2, 0)), ((2, 0), (0, 2)),
                                      ([0, 1, 2], [2, 1, 0])])
def test_moveaxis(src, dst):
    a = sample((2, 3, 4), "int32")
    for name, ref, t in layouts(a):
        m = ember.moveaxis(t, src, dst)
        assert_same(m, np.moveaxis(ref, src, dst)) and m._shares_memory(t)


def test_moveaxis_errors():
    t = ember.zeros((2, 3))
    with pytest.raises(ValueError, match="moveaxis: source and destination must be ints or sequences of the same"):
        ember.moveaxis(t, (0, 1), 0)
    with pytest.raises(ValueError, match="moveaxis: axis 0 appears twice"):
        ember.moveaxis(t, (0, 0), (0, 1))
    with pytest.raises(IndexError, match="moveaxis: axis 2 is out of range"):
        ember.moveaxis(t, 2, 0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=5), st.data())
def test_moveaxis_and_permute_property(shape, data):
    a = np.arange(int(np.prod(shape))).reshape(shape)
    perm = data.draw(st.permutations(range(len(shape))))
    k = data.draw(st.integers(1, len(shape)))
    src, dst = perm[:k], data.draw(st.permutations(range(len(shape))))[:k]
    assert_same(ember.moveaxis(ember.asarray(a), src, dst), np.moveaxis(a, src, dst))
    assert_same(ember.permute_dims(ember.asarray(a), perm), np.transpose(a, perm))


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_unstack(dt):
    a = sample((3, 2), dt)
    for name, ref, t in layouts(a):
        for axis in (0, 1, -1):
            parts = ember.unstack(t, axis=axis)
            assert isinstance(parts, tuple) and len(parts) == ref.shape[axis]
            for p, r in zip(parts, np.moveaxis(ref, axis, 0)):
                assert_same(p, r) and p._shares_memory(t)
    assert ember.unstack(ember.zeros((0, 2))) == ()
    with pytest.raises(IndexError, match="unstack: axis 2 is out of range"):
        ember.unstack(ember.zeros((2, 2)), axis=2)


# ---- copies --------------------------------------------------------------------

@pytest.mark.parametrize("shift, axis", [(1, None), (-7, None), (2, 0), (5, -1), ((1, 2), (0, 1)), (1, (0, 1)),
                                          ((1, -1), (0, 0)), (0, None)])
def test_roll(shift, axis):
    a = sample((4, 3), "float64")
    for name, ref, t in layouts(a):
        r = ember.roll(t, shift, axis=axis)
        assert_same(r, np.roll(ref, shift, axis)) and not r._shares_memory(t)
    assert_same(ember.roll(ember.zeros((0, 2)), 3), np.zeros((0, 2), np.float32))


def test_roll_errors():
    with pytest.raises(ValueError, match="roll: shift \\(1, 2\\) and axis 0 must have the same length"):
        ember.roll(ember.zeros((2, 2)), (1, 2), axis=0)
    with pytest.raises(IndexError, match="roll: axis 2 is out of range"):
        ember.roll(ember.zeros((2, 2)), 1, axis=2)
    with pytest.raises(TypeError, match="roll: shift must be integers"):
        ember.roll(ember.zeros(2), (1.5,))


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_concat_and_stack_every_dtype(dt):
    a, b = sample((2, 3), dt, seed=1), sample((2, 3), dt, seed=2)
    for (n1, ra, ta), (n2, rb, tb) in zip(layouts(a), layouts(b)):
        for axis in (0, 1, -1):
            assert_same(ember.concat([ta, tb], axis=axis), np.concatenate([ra, rb], axis))
        assert_same(ember.concat((ta, tb, ta), axis=None), np.concatenate([ra, rb, ra], None))
        for axis in (0, 1, 2, -1):
            assert_same(ember.stack([ta, tb], axis=axis), np.stack([ra, rb], axis))


def test_concat_promotes_and_accepts_array_likes():
    got = ember.concat([ember.zeros(2, dtype="int32"), np.ones(1), [True]])
    assert got.dtype == ember.result_type(ember.int32, ember.float64, ember.bool) == ember.float64
    assert got.tolist() == [0, 0, 1, 1]
    assert ember.stack([ember.zeros(()), ember.ones(())]).tolist() == [0, 1]
    assert_same(ember.concat([ember.zeros((0, 2)), ember.ones((1, 2))]), np.ones((1, 2), np.float32))
    assert ember.concat([ember.zeros((2, 2))], axis=1).shape == (2, 2)


def test_concat_stack_errors():
    with pytest.raises(ValueError, match="concat: tensor 1 of shape \\(2, 2\\) float32 does not match"):
        ember.concat([ember.zeros((2, 3)), ember.zeros((2, 2))], axis=0)
    with pytest.raises(ValueError, match="concat: needs at least one tensor"):
        ember.concat([])
    with pytest.raises(ValueError, match="concat: zero-dimensional tensors cannot be concatenated"):
        ember.concat([ember.zeros(()), ember.zeros(())])
    with pytest.raises(IndexError, match="concat: axis 2 is out of range"):
        ember.concat([ember.zeros((2, 3))], axis=2)
    with pytest.raises(ValueError, match="stack: tensor 1 of shape \\(3,\\) float32 differs"):
        ember.stack([ember.zeros(2), ember.zeros(3)])
    with pytest.raises(TypeError, match="concat: arrays must be a sequence of tensors, got int"):
        ember.concat(5)
    with pytest.raises(TypeError, match="concat: cannot convert"):
        ember.concat([ember.zeros(2), object()])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=4), st.integers(1, 3), st.data())
def test_concat_property(base, n, data):
    axis = data.draw(st.integers(-len(base), len(base) - 1))
    arrays = []
    for i in range(n):
        shape = list(base)
        shape[axis] = data.draw(st.integers(0, 3))
        arrays.append(np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) + i)
    assert_same(ember.concat([ember.asarray(x) for x in arrays], axis=axis), np.concatenate(arrays, axis))


@pytest.mark.parametrize("reps", [2, (2,), (1, 2), (2, 1, 3), (0, 2), ()])
def test_tile(reps):
    for dt in ("bool", "int64", "float32"):
        a = sample((2, 3), dt)
        for name, ref, t in layouts(a):
            assert_same(ember.tile(t, reps), np.tile(ref, reps))
    assert_same(ember.tile(ember.asarray(np.array(3.0)), (2, 2)), np.full((2, 2), 3.0))


def test_tile_errors():
    with pytest.raises(ValueError, match="tile: negative repetition -1"):
        ember.tile(ember.zeros(2), (-1,))
    with pytest.raises(TypeError, match="tile: repetitions must be an int or a sequence of ints, got float"):
        ember.tile(ember.zeros(2), 1.5)
    with pytest.raises(ValueError, match="tile: 9 repetitions"):
        ember.tile(ember.zeros(2), (1,) * 9)


@pytest.mark.parametrize("repeats, axis", [(2, None), (0, None), (3, 0), (2, -1), ([1, 0, 2], 1), ([2, 1, 0, 1], 0)])
def test_repeat(repeats, axis):
    a = sample((4, 3), "int8")
    for name, ref, t in layouts(a):
        if axis is not None and isinstance(repeats, list) and len(repeats) != ref.shape[axis]:
            continue
        assert_same(ember.repeat(t, repeats, axis=axis), np.repeat(ref, repeats, axis))
        if isinstance(repeats, list):  # counts as a tensor (non-contiguous too)
            r = ember.asarray(np.repeat(np.array(repeats, np.int32), 2))[::2]
            assert_same(ember.repeat(t, r, axis=axis), np.repeat(ref, repeats, axis))


def test_repeat_errors():
    t = ember.zeros((2, 3))
    with pytest.raises(ValueError, match="repeat: 2 repeat counts for axis 1"):
        ember.repeat(t, [1, 2], axis=1)
    with pytest.raises(ValueError, match="repeat: negative count -1"):
        ember.repeat(t, -1)
    with pytest.raises(ValueError, match="repeat: repeats must be an int or 1-D"):
        ember.repeat(t, ember.ones((2, 2), dtype="int64"), axis=0)
    with pytest.raises(TypeError, match="repeat: repeats must be integers"):
        ember.repeat(t, [1.5, 2], axis=0)


@pytest.mark.parametrize("pad", [(1, 2), (0, 1, 2, 0), (1, 1, 1, 1, 1, 1), ()])
@pytest.mark.parametrize("mode, np_mode", [("constant", "constant"), ("reflect", "reflect"), ("replicate", "edge"),
                                           ("circular", "wrap")])
def test_pad_matches_numpy_and_torch(pad, mode, np_mode):
    a = sample((3, 4, 5), "float32")
    width = [(0, 0)] * 3
    for j in range(len(pad) // 2):  # torch order: last axis first
        width[2 - j] = (pad[2 * j], pad[2 * j + 1])
    for name, ref, t in layouts(a):
        kw = {"constant_values": 0} if np_mode == "constant" else {}
        assert_same(ember.pad(t, pad, mode), np.pad(ref, width, np_mode, **kw)), name
    if mode == "constant" or len(pad) in (2, 4):  # the combinations torch implements
        want = torch.nn.functional.pad(torch.from_numpy(a), pad, mode).numpy()
        assert_same(ember.pad(ember.asarray(a), pad, mode), want)


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_pad_constant_value_every_dtype(dt):
    a = sample((2, 3), dt)
    assert_same(ember.pad(ember.asarray(a), (1, 0, 0, 2), value=1),
                np.pad(a, [(0, 2), (1, 0)], constant_values=1))


def test_pad_errors():
    t = ember.zeros((2, 3))
    with pytest.raises(ValueError, match="pad: pad must have an even length of at most 2 \\* ndim = 4"):
        ember.pad(t, (1, 2, 3))
    with pytest.raises(ValueError, match="pad: pad must have an even length"):
        ember.pad(t, (1,) * 6)
    with pytest.raises(ValueError, match="pad: mode must be 'constant', 'reflect', 'replicate' or 'circular'"):
        ember.pad(t, (1, 1), "edge")
    with pytest.raises(ValueError, match="pad: reflect pad 3 on axis 1 is too large for size 3"):
        ember.pad(t, (3, 0), "reflect")
    with pytest.raises(ValueError, match="pad: negative pad"):
        ember.pad(t, (-1, 0))


@pytest.mark.parametrize("n", [0, 1, 5, 6, 7])
def test_split_and_chunk_match_torch(n):
    a = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    t, r = ember.asarray(a), torch.from_numpy(a)
    for k in (1, 2, 3, 4, 10):
        for got, ref in [(ember.split(t, k), torch.split(r, k)), (ember.chunk(t, k), torch.chunk(r, k)),
                         (t.split(k), r.split(k)), (t.chunk(k), r.chunk(k))]:
            assert len(got) == len(ref), (n, k)
            for g, x in zip(got, ref):
                assert_same(g, x.numpy())
                assert g._shares_memory(t)
    sizes = [1, n - 1] if n else [0]
    for g, x in zip(ember.split(t, sizes), torch.split(r, sizes)):
        assert_same(g, x.numpy())
    assert [p.shape for p in ember.split(ember.zeros((2, 5)), [2, 3], dim=1)] == [(2, 2), (2, 3)]


def test_split_chunk_errors():
    t = ember.zeros((4, 2))
    with pytest.raises(ValueError, match="chunk: chunks must be positive, got 0"):
        ember.chunk(t, 0)
    with pytest.raises(ValueError, match="split: split_size must be positive, got -1"):
        ember.split(t, -1)
    with pytest.raises(ValueError, match="split: sizes sum to 3 but axis 0"):
        ember.split(t, [1, 2])
    with pytest.raises(ValueError, match="split: part 1 has size 5"):
        ember.split(t, [1, 5])
    with pytest.raises(IndexError, match="chunk: axis 2 is out of range"):
        ember.chunk(t, 2, dim=2)


def test_flatten():
    a = sample((2, 3, 4), "int32")
    for name, ref, t in layouts(a):
        assert_same(ember.flatten(t), ref.reshape(-1))
        assert_same(ember.flatten(t, 1), ref.reshape(2 if ref.shape[0] == 2 else ref.shape[0], -1))
        assert_same(t.flatten(0, 1), ref.reshape(-1, ref.shape[2]))
    c = ember.asarray(a)
    assert ember.flatten(c)._shares_memory(c)
    assert ember.flatten(ember.ones(())).shape == (1,)
    with pytest.raises(ValueError, match="flatten: start axis 2 is after end axis 1"):
        ember.flatten(c, 2, 1)


# ---- Tensor methods (PyTorch names) --------------------------------------------------

@pytest.mark.parametrize("dt", ["bool", "uint8", "float64"])
def test_view_methods_match_torch(dt):
    a = sample((2, 3, 4), dt)
    t, r = ember.asarray(a), torch.from_numpy(a.copy())
    pairs = [
        (t.view(6, 4), r.view(6, 4)), (t.view((4, -1)), r.view((4, -1))), (t.reshape(-1), r.reshape(-1)),
        (t.permute(2, 0, 1), r.permute(2, 0, 1)), (t.permute((1, 0, 2)), r.permute((1, 0, 2))),
        (t.transpose(0, 2), r.transpose(0, 2)), (t.transpose(-1, 1), r.transpose(-1, 1)),
        (t[0].t(), r[0].t()), (t[0, 0].t(), r[0, 0].t()), (t.unsqueeze(1), r.unsqueeze(1)),
        (t.unsqueeze(-1), r.unsqueeze(-1)), (t[:1].squeeze(), r[:1].squeeze()), (t[:1].squeeze(0), r[:1].squeeze(0)),
        (t.squeeze(1), r.squeeze(1)), (t[:1, :1].squeeze((0, 1)), r[:1, :1].squeeze((0, 1))),
        (t[:, :1].expand(2, -1, 4), r[:, :1].expand(2, -1, 4)), (t[0, 0].expand(3, 2, 4), r[0, 0].expand(3, 2, 4)),
        (t.flip(0, 2), r.flip(0, 2)), (t.flip((1,)), r.flip((1,))), (t.repeat(2, 1, 1, 2), r.repeat(2, 1, 1, 2)),
        (t.flatten(1), r.flatten(1)),
    ]
    for got, ref in pairs:
        assert_same(got, ref.numpy())
    for got in (t.view(24), t.permute(2, 1, 0), t.transpose(0, 1), t.unsqueeze(0), t.flip(0), t.expand(2, 2, 3, 4)):
        assert got._shares_memory(t)


def test_method_errors():
    t = ember.zeros((2, 3, 4))
    with pytest.raises(IndexError, match="transpose: dim 3 is out of range"):
        t.transpose(0, 3)
    with pytest.raises(ValueError, match="t: expects a tensor of at most 2 dimensions"):
        t.t()
    with pytest.raises(ValueError, match="expand: -1 is not allowed for the new leading dim 0"):
        t.expand(-1, 2, 3, 4)
    with pytest.raises(ValueError, match="without a copy"):
        t.transpose(0, 1).view(-1)
    with pytest.raises(IndexError, match="squeeze: dim 5 is out of range"):
        t.squeeze(5)
    with pytest.raises(IndexError, match="size: dim 3 is out of range"):
        t.size(3)


def test_size_dim_numel():
    t = ember.zeros((2, 3))
    assert t.size == 6 and isinstance(t.size, int) and t.size + 1 == 7
    assert t.size() == (2, 3) and t.size(0) == 2 and t.size(-1) == 3
    assert t.dim() == 2 and t.numel() == 6
    assert ember.zeros(()).size() == () and ember.zeros(()).size == 1


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_cast_methods(dt):
    a = sample((3,), dt)
    t = ember.asarray(a)
    for name, target in [("float", np.float32), ("double", np.float64), ("long", np.int64), ("int", np.int32),
                         ("bool", np.bool_)]:
        got = getattr(t, name)()
        assert_same(got, a.astype(target))
        assert (got is t) == (a.dtype == target)
    assert t.to("float64").dtype == ember.float64 and t.to(dtype=ember.int8).dtype == ember.int8
    assert t.to("cpu") is t and t.to(ember.zeros(1, dtype="int32")).dtype == ember.int32
    assert t.to("cpu", "float32").dtype == ember.float32
    assert not t.to(t.dtype, copy=True)._shares_memory(t)
    with pytest.raises(ValueError, match="to: ember runs on 'cpu' only, not 'cuda:0'"):
        t.to("cuda:0")
    with pytest.raises(TypeError, match="not an ember dtype"):
        t.to("complex64")
