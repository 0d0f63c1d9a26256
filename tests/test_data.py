"""ember.data (Dataset, DataLoader, random_split), ember.datasets and
ember.save/ember.load (safetensors) against PyTorch, scikit-learn and the
safetensors package."""
import collections
import json
import struct

import numpy as np
import pytest

import ember
from ember.data import DataLoader, Dataset, TensorDataset, random_split, default_collate


def _np(t):
    return np.asarray(t)


# ---- datasets and loaders -------------------------------------------------------------------


def test_tensor_dataset_and_sequential_loader():
    x = ember.tensor(np.arange(30.0).reshape(10, 3))
    y = ember.tensor(np.arange(10))
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(_np(xi), [9, 10, 11])
    assert int(yi) == 3
    batches = list(DataLoader(ds, batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert isinstance(batches[0], list) and len(DataLoader(ds, batch_size=4)) == 3
    np.testing.assert_array_equal(np.concatenate([_np(b[1]) for b in batches]), np.arange(10))
    dropped = list(DataLoader(ds, batch_size=4, drop_last=True))
    assert len(dropped) == 2 == len(DataLoader(ds, batch_size=4, drop_last=True))
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(x, ember.tensor(np.arange(9)))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)


def test_shuffle_is_a_seeded_permutation_per_epoch():
    ds = TensorDataset(ember.tensor(np.arange(50)))
    order = lambda dl: np.concatenate([_np(b[0]) for b in dl])  # noqa: E731
    a = DataLoader(ds, batch_size=8, shuffle=True, generator=ember.random.Generator(7))
    b = DataLoader(ds, batch_size=8, shuffle=True, generator=ember.random.Generator(7))
    e1, e2 = order(a), order(a)
    np.testing.assert_array_equal(e1, order(b))  # same seed, same order
    assert sorted(e1) == list(range(50)) and sorted(e2) == list(range(50))
    assert not np.array_equal(e1, np.arange(50)) and not np.array_equal(e1, e2)  # shuffled, new each epoch
    ember.random.seed(3)
    g1 = order(DataLoader(ds, batch_size=50, shuffle=True))
    ember.random.seed(3)
    np.testing.assert_array_equal(g1, order(DataLoader(ds, batch_size=50, shuffle=True)))


class _Dicts(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full(2, i, dtype=np.float32), "y": i, "w": 0.5 * i, "name": f"s{i}", "flag": i % 2 == 0}


def test_default_collate_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as tcollate
    samples = [_Dicts()[i] for i in range(3)]
    e, t = default_collate(samples), tcollate(samples)
    assert set(e) == set(t)
    for k in ("x", "y", "w", "flag"):
        np.testing.assert_array_equal(_np(e[k]), t[k].numpy())
        assert str(e[k].dtype) == str(t[k].dtype).replace("torch.", "")
    assert e["name"] == t["name"]
    P = collections.namedtuple("P", "a b")
    e = default_collate([P(1, ember.tensor([1.0])), P(2, ember.tensor([2.0]))])
    assert isinstance(e, P) and _np(e.b).shape == (2, 1)
    tup = default_collate([(1, 2.0), (3, 4.0)])
    assert isinstance(tup, list) and tup[0].dtype == ember.int64 and tup[1].dtype == ember.float64
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    batches = list(DataLoader(_Dicts(), batch_size=2, collate_fn=lambda b: [s["y"] for s in b]))
    assert batches == [[0, 1], [2, 3], [4]]
    assert [s["y"] for s in DataLoader(_Dicts(), batch_size=None)] == list(range(5))


def test_random_split_lengths_and_fractions():
    ds = TensorDataset(ember.tensor(np.arange(10)))
    parts = random_split(ds, [3, 7], generator=ember.random.Generator(1))
    assert [len(p) for p in parts] == [3, 7]
    got = sorted(int(p[i][0]) for p in parts for i in range(len(p)))
    assert got == list(range(10))
    again = random_split(ds, [3, 7], generator=ember.random.Generator(1))
    assert again[0].indices == parts[0].indices
    fr = random_split(ds, [0.33, 0.33, 0.34], generator=ember.random.Generator(2))
    assert [len(p) for p in fr] == [4, 3, 3]  # floor gives 3, 3, 3; the remainder goes to the first
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [3, 3])
    xs = list(DataLoader(parts[1], batch_size=7))
    assert xs[0][0].shape == (7,)


@pytest.mark.parametrize("name", ["iris", "digits"])
def test_bundled_datasets_match_sklearn(name):
    skd = pytest.importorskip("sklearn.datasets")
    ours = getattr(ember.datasets, f"load_{name}")()
    ref = getattr(skd, f"load_{name}")()
    assert ours.data.dtype == ember.float32 and ours.target.dtype == ember.int64
    np.testing.assert_array_equal(_np(ours.data), ref.data.astype(np.float32))
    np.testing.assert_array_equal(_np(ours.target), ref.target)
    assert list(ours.feature_names) == list(ref.feature_names)
    assert [str(v) for v in ours.target_names] == [str(v) for v in ref.target_names]
    X, y = getattr(ember.datasets, f"load_{name}")(return_X_y=True, dtype=ember.float64)
    np.testing.assert_array_equal(_np(X), ref.data)
    if name == "digits":
        np.testing.assert_array_equal(_np(ours.images), ref.images)
        X5, y5 = ember.datasets.load_digits(n_class=5, return_X_y=True)
        Xr, yr = skd.load_digits(n_class=5, return_X_y=True)
        np.testing.assert_array_equal(_np(X5), Xr) and np.testing.assert_array_equal(_np(y5), yr)


# ---- safetensors checkpoints -----------------------------------------------------------------


def _state():
    rng = np.random.default_rng(0)
    return {"layer.weight": ember.tensor(rng.standard_normal((3, 5)).astype(np.float32)),
            "layer.bias": ember.tensor(rng.standard_normal(5)),
            "steps": ember.tensor(np.array([1, -2, 3], dtype=np.int64)),
            "ids": ember.tensor(np.array([[4, 5]], dtype=np.int32)),
            "b": ember.tensor(np.array([-1, 7], dtype=np.int8)),
            "u": ember.tensor(np.array([255], dtype=np.uint8)),
            "mask": ember.tensor(np.array([True, False, True])),
            "scalar": ember.tensor(2.5),
            "empty": ember.zeros((0, 4))}


def test_save_load_round_trip_and_safetensors_reads_ember(tmp_path):
    st_np = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "ckpt.safetensors"
    sd = _state()
    ember.save(sd, path, metadata={"format": "pt", "note": "ember"})
    back = ember.load(path)
    assert set(back) == set(sd)
    for k, v in sd.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        np.testing.assert_array_equal(_np(back[k]), _np(v))
    ref = st_np.load_file(str(path))
    for k, v in sd.items():
        np.testing.assert_array_equal(ref[k], _np(v))
        assert ref[k].dtype == _np(v).dtype and ref[k].shape == v.shape
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0 and json.loads(raw[8:8 + n])["__metadata__"] == {"format": "pt", "note": "ember"}
    from safetensors import safe_open
    with safe_open(str(path), framework="np") as f:
        assert f.metadata() == {"format": "pt", "note": "ember"}
    torch = pytest.importorskip("torch")
    import safetensors.torch as st_torch
    tref = st_torch.load_file(str(path))
    np.testing.assert_array_equal(tref["layer.weight"].numpy(), _np(sd["layer.weight"]))


def test_load_reads_torch_files(tmp_path):
    torch = pytest.importorskip("torch")
    import safetensors.torch as st_torch
    g = torch.Generator().manual_seed(0)
    tsd = {"a": torch.randn(4, 3, generator=g), "b": torch.randn(2, dtype=torch.float64, generator=g),
           "c": torch.arange(6, dtype=torch.int64).reshape(2, 3), "h": torch.randn(5, generator=g).half(),
           "bf": torch.randn(3, generator=g).bfloat16(), "k": torch.tensor([True, False])}
    path = tmp_path / "torch.safetensors"
    st_torch.save_file(tsd, str(path), metadata={"x": "y"})
    out = ember.load(path)
    assert set(out) == set(tsd)
    for k in ("a", "b", "c", "k"):
        np.testing.assert_array_equal(_np(out[k]), tsd[k].numpy())
    np.testing.assert_array_equal(_np(out["h"]), tsd["h"].float().numpy())
    np.testing.assert_array_equal(_np(out["bf"]), tsd["bf"].float().numpy())
    assert out["h"].dtype == ember.float32


def _file(tmp_path, header, data=b"", n=None, pad=True):
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-(8 + len(text)) % 8)
    p = tmp_path / "bad.safetensors"
    p.write_bytes(struct.pack("<Q", len(text) if n is None else n) + text + data)
    return p


def test_load_rejects_bad_files(tmp_path):
    good = tmp_path / "good.safetensors"
    ember.save({"w": ember.ones((4, 4))}, good)
    raw = good.read_bytes()
    trunc = tmp_path / "t.safetensors"
    trunc.write_bytes(raw[:-5])
    with pytest.raises(ValueError, match="truncated"):
        ember.load(trunc)
    trunc.write_bytes(raw[:5])
    with pytest.raises(ValueError, match="shorter than the 8-byte"):
        ember.load(trunc)
    with pytest.raises(ValueError, match="past the end of the file"):
        ember.load(_file(tmp_path, {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4,
                         n=10_000))
    with pytest.raises(ValueError, match="overlap"):
        ember.load(_file(tmp_path, {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                    "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12))
    with pytest.raises(ValueError, match="belong to no tensor"):
        ember.load(_file(tmp_path, {"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8))
    with pytest.raises(ValueError, match="unknown dtype 'Q7'"):
        ember.load(_file(tmp_path, {"a": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4))
    with pytest.raises(TypeError, match="U16"):
        ember.load(_file(tmp_path, {"a": {"dtype": "U16", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4))
    with pytest.raises(ValueError, match="needs 8 bytes"):
        ember.load(_file(tmp_path, {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4))
    with pytest.raises(ValueError, match="not valid UTF-8 JSON"):
        p = tmp_path / "j.safetensors"
        p.write_bytes(struct.pack("<Q", 8) + b"{nope!!}")
        ember.load(p)
    with pytest.raises(ValueError, match="covers|cover"):
        ember.load(_file(tmp_path, {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8))
    with pytest.raises(TypeError, match="dict"):
        ember.save([ember.ones(2)], tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="reserved"):
        ember.save({"__metadata__": ember.ones(2)}, tmp_path / "x.safetensors")


def test_checkpoint_of_a_trained_parameter_set(tmp_path):
    """The typical use: save parameters and reload them into fresh tensors."""
    X, y = ember.datasets.load_iris(return_X_y=True)
    w = ember.zeros((4, 3))
    opt = ember.optim.SGD([w], lr=0.1)
    for xb, yb in DataLoader(TensorDataset(X, y), batch_size=50, shuffle=True, generator=ember.random.Generator(0)):
        w.grad = ember.tensor(np.asarray(xb).T @ np.eye(3, dtype=np.float32)[np.asarray(yb)] / -50)
        opt.step()
    ember.save({"w": w}, tmp_path / "w.safetensors")
    np.testing.assert_array_equal(_np(ember.load(tmp_path / "w.safetensors")["w"]), _np(w))
