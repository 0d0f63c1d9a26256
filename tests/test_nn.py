"""ember.nn: Module machinery, layers (forward and gradients vs PyTorch from
the same weights), state dicts, train/eval behaviour, reprs and ember.nn.init.

Gradient tests (test_layer_grad_vs_torch) compare the input and parameter
gradients of every layer with PyTorch's."""
import math
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny shapes: threads only add contention on a shared machine
TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}
TDT = {"float32": torch.float32, "float64": torch.float64}

# (class name, args, kwargs, input shape or ("int", high, shape))
LAYERS = [
    ("Linear", (5, 4), {}, (3, 5)),
    ("Linear", (5, 4), {"bias": False}, (2, 3, 5)),
    ("Conv1d", (3, 4, 3), {"stride": 2, "padding": 1}, (2, 3, 9)),
    ("Conv2d", (4, 6, 3), {"padding": 1, "groups": 2}, (2, 4, 7, 7)),
    ("Conv2d", (3, 4, (3, 2)), {"stride": (2, 1), "dilation": (1, 2), "bias": False}, (2, 3, 8, 7)),
    ("Conv2d", (2, 3, 3), {"padding": "same"}, (1, 2, 5, 6)),
    ("MaxPool2d", (2,), {}, (2, 3, 6, 6)),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1}, (2, 3, 7, 7)),
    ("AvgPool2d", (2,), {}, (2, 3, 6, 6)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, (2, 3, 7, 7)),
    ("AdaptiveAvgPool2d", ((2, 3),), {}, (2, 3, 7, 8)),
    ("BatchNorm1d", (4,), {}, (6, 4)),
    ("BatchNorm1d", (4,), {"affine": False}, (6, 4, 5)),
    ("BatchNorm2d", (3,), {"momentum": None}, (4, 3, 5, 5)),
    ("BatchNorm2d", (3,), {"track_running_stats": False}, (4, 3, 5, 5)),
    ("LayerNorm", (5,), {}, (3, 4, 5)),
    ("LayerNorm", ((4, 5),), {"bias": False}, (3, 4, 5)),
    ("LayerNorm", (5,), {"elementwise_affine": False}, (3, 5)),
    ("GroupNorm", (2, 4), {}, (3, 4, 5, 5)),
    ("GroupNorm", (4, 4), {"affine": False}, (3, 4, 6)),
    ("Embedding", (10, 4), {"padding_idx": 2}, ("int", 10, (3, 5))),
    ("Embedding", (7, 3), {}, ("int", 7, (6,))),
    ("Flatten", (), {}, (2, 3, 4, 5)),
    ("Flatten", (0, 2), {}, (2, 3, 4, 5)),
    ("Identity", (), {}, (2, 3)),
    ("ReLU", (), {}, (4, 5)),
    ("LeakyReLU", (0.2,), {}, (4, 5)),
    ("GELU", (), {}, (4, 5)),
    ("GELU", (), {"approximate": "tanh"}, (4, 5)),
    ("SiLU", (), {}, (4, 5)),
    ("Tanh", (), {}, (4, 5)),
    ("Sigmoid", (), {}, (4, 5)),
    ("ELU", (0.5,), {}, (4, 5)),
    ("Softplus", (2.0, 3.0), {}, (4, 5)),
    ("Softmax", (1,), {}, (4, 5)),
    ("LogSoftmax", (-1,), {}, (4, 5)),
    ("Dropout", (0.3,), {}, (4, 5)),  # compared in eval mode only
]
IDS = [f"{name}-{i}" for i, (name, *_rest) in enumerate(LAYERS)]


def _pair(name, args, kwargs, dtype):
    tm = getattr(torch.nn, name)(*args, **kwargs).to(TDT[dtype])
    em = getattr(nn, name)(*args, **kwargs).to(dtype)
    res = em.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    assert res.missing_keys == [] and res.unexpected_keys == []
    return em, tm


def _input(spec, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if spec[0] == "int":
        return rng.integers(0, spec[1], size=spec[2]).astype(np.int64)
    return rng.standard_normal(spec).astype(dtype) * 2


def _close(e, t, dtype, what):
    np.testing.assert_allclose(np.asarray(e.numpy() if hasattr(e, "numpy") else e), t.detach().numpy(),
                               err_msg=what, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,args,kwargs,spec", LAYERS, ids=IDS)
def test_layer_forward_vs_torch(name, args, kwargs, spec, dtype):
    em, tm = _pair(name, args, kwargs, dtype)
    x = _input(spec, dtype)
    modes = ["eval"] if name == "Dropout" else ["train", "eval"]
    for mode in modes:
        em.train(mode == "train")
        tm.train(mode == "train")
        for step in range(2):  # twice: batch norm's running statistics move
            xe = x + step if x.dtype.kind == "f" else x
            _close(em(ember.asarray(xe)), tm(torch.from_numpy(xe)), dtype, f"{mode} step {step}")
        for k, v in tm.state_dict().items():
            _close(em.state_dict()[k], v, dtype, f"state {k} after {mode}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,args,kwargs,spec", [p for p in LAYERS if p[0] != "Dropout"],
                         ids=[i for i, p in zip(IDS, LAYERS) if p[0] != "Dropout"])
def test_layer_grad_vs_torch(name, args, kwargs, spec, dtype):
    """Depends on autograd: gradients of the input and of every parameter."""
    em, tm = _pair(name, args, kwargs, dtype)
    x = _input(spec, dtype)
    is_float = x.dtype.kind == "f"
    xe, xt = ember.asarray(x), torch.from_numpy(x.copy())
    if is_float:
        xe.requires_grad = True
        xt.requires_grad_(True)
    ye, yt = em(xe), tm(xt)
    r = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(dtype)
    (ye * ember.asarray(r)).sum().backward()
    (yt * torch.from_numpy(r)).sum().backward()
    if is_float:
        assert xe.grad is not None, f"{name}: no gradient reached the input"
        _close(xe.grad, xt.grad, dtype, "input grad")
    tparams = dict(tm.named_parameters())
    for k, p in em.named_parameters():
        assert p.grad is not None, f"{name}: no gradient reached parameter {k}"
        _close(p.grad, tparams[k].grad, dtype, f"grad of {k}")


@pytest.mark.parametrize("name,args,kwargs,spec", LAYERS, ids=IDS)
def test_layer_repr_and_state_dict_keys(name, args, kwargs, spec):
    tm = getattr(torch.nn, name)(*args, **kwargs)
    em = getattr(nn, name)(*args, **kwargs)
    assert repr(em) == repr(tm)
    assert [(k, tuple(v.shape)) for k, v in em.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    assert [k for k, _ in em.named_parameters()] == [k for k, _ in tm.named_parameters()]
    assert [k for k, _ in em.named_buffers()] == [k for k, _ in tm.named_buffers()]


def _model(lib):
    return lib.Sequential(lib.Conv2d(3, 4, 3, padding=1), lib.BatchNorm2d(4), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Flatten(), lib.Linear(4 * 4 * 4, 10), lib.Dropout(0.1), lib.LayerNorm(10),
                          lib.GELU(), lib.Linear(10, 3))


def test_sequential_model_vs_torch():
    em, tm = _model(nn), _model(torch.nn)
    assert repr(em) == repr(tm)
    em.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    assert list(em.state_dict()) == list(tm.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    em.eval()
    tm.eval()
    _close(em(ember.asarray(x)), tm(torch.from_numpy(x)), "float32", "model")
    nested = nn.Sequential(OrderedDict(body=_model(nn), head=nn.ModuleList([nn.Tanh(), nn.Linear(3, 2)])))
    tnested = torch.nn.Sequential(OrderedDict(body=_model(torch.nn),
                                              head=torch.nn.ModuleList([torch.nn.Tanh(), torch.nn.Linear(3, 2)])))
    assert repr(nested) == repr(tnested)
    assert list(nested.state_dict()) == list(tnested.state_dict())
    assert [k for k, _ in nested.named_modules()] == [k for k, _ in tnested.named_modules()]


# ---- Module machinery -------------------------------------------------
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(4, 2)
        self.scale = nn.Parameter(ember.ones((2,)))
        self.register_buffer("count", ember.zeros((1,)))
        self.register_buffer("scratch", ember.zeros((2,)), persistent=False)
        self.note = "plain attribute"
        self.plain = ember.ones((2,))  # a plain tensor is not registered

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


def test_module_registration_and_traversal():
    m = Net()
    assert [k for k, _ in m.named_parameters()] == ["scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [k for k, _ in m.named_parameters(prefix="net", recurse=False)] == ["net.scale"]
    assert [k for k, _ in m.named_buffers()] == ["count", "scratch"]
    assert list(m.state_dict()) == ["scale", "count", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [k for k, _ in m.named_children()] == ["fc1", "act", "fc2"]
    assert [k for k, _ in m.named_modules()] == ["", "fc1", "act", "fc2"]
    assert len(list(m.modules())) == 4 and len(list(m.children())) == 3
    assert m.note == "plain attribute" and "plain" in m.__dict__
    assert all(p.requires_grad and p.is_leaf for p in m.parameters())
    m.fc2 = None
    assert [k for k, _ in m.named_children()] == ["fc1", "act"]
    del m.scale
    assert "scale" not in dict(m.named_parameters())
    with pytest.raises(AttributeError):
        m.missing_attribute
    with pytest.raises(TypeError, match="parameter 'weight'"):
        m.fc1.weight = ember.ones((4, 3))  # not made by Parameter
    with pytest.raises(TypeError, match="buffer 'count'"):
        m.count = 3.0
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.parameters())) == 2 and len(list(seq.modules())) == 3
    assert m.get_submodule("fc1") is m.fc1 and m.get_parameter("fc1.bias") is m.fc1.bias


def test_module_must_call_init_and_forward_missing():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)
    with pytest.raises(AttributeError, match="__init__"):
        Bad()
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_train_eval_zero_grad_requires_grad_apply_to():
    m = Net()
    assert m.training and m.fc1.training
    assert m.eval() is m and not m.training and not m.fc1.training
    m.train()
    assert m.fc2.training
    x = ember.asarray(np.ones((5, 3), np.float32))
    m(x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0.0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Net"]
    w = m.fc1.weight.numpy().copy()
    m.to(ember.float64)
    assert all(p.dtype == ember.float64 for p in m.parameters()) and m.count.dtype == ember.float64
    assert not any(p.requires_grad for p in m.parameters())
    np.testing.assert_array_equal(m.fc1.weight.numpy(), w.astype(np.float64))
    assert m.double() is m and m.float().fc1.weight.dtype == ember.float32
    with pytest.raises(TypeError, match="float32 and float64"):
        m.to(ember.int32)
    bn = nn.BatchNorm1d(3).double()
    assert bn.running_mean.dtype == ember.float64 and bn.num_batches_tracked.dtype == ember.int64


def test_deepcopy_and_pickle_keep_parameters():
    import copy
    import pickle
    m = Net()
    for m2 in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert list(m2.state_dict()) == list(m.state_dict())
        assert all(nn.is_parameter(p) and p.requires_grad for p in m2.parameters())
        assert m2.fc1.weight is not m.fc1.weight
        x = ember.ones((2, 3))
        np.testing.assert_array_equal(m2(x).detach().numpy(), m(x).detach().numpy())


def test_forward_hooks():
    m = nn.Linear(3, 2)
    calls = []
    h = m.register_forward_hook(lambda mod, args, out: calls.append(tuple(out.shape)) or out * 0)
    out = m(ember.ones((4, 3)))
    assert calls == [(4, 2)] and float(out.abs().sum()) == 0
    h.remove()
    assert float(m(ember.ones((4, 3))).abs().sum()) > 0


def test_load_state_dict_errors():
    m = Net()
    sd = {k: v.numpy() for k, v in m.state_dict().items()}
    bad = dict(sd)
    del bad["fc1.bias"]
    bad["extra.weight"] = np.zeros(3, np.float32)
    bad["fc2.weight"] = np.zeros((3, 3), np.float32)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(bad)
    msg = str(e.value)
    assert '"fc1.bias"' in msg and '"extra.weight"' in msg and "fc2.weight" in msg and "(3, 3)" in msg \
        and "(2, 4)" in msg
    del bad["fc2.weight"]
    res = m.load_state_dict(bad, strict=False)
    assert res.missing_keys == ["fc1.bias", "fc2.weight"]  # in the model's state_dict order
    assert res.unexpected_keys == ["extra.weight"]
    with pytest.raises(RuntimeError, match="size mismatch for fc2.weight"):
        m.load_state_dict({"fc2.weight": np.zeros((1, 1))}, strict=False)
    # values are copied in place (optimizers keep the same tensors) and cast
    w = m.fc1.weight
    m.load_state_dict({**sd, "fc1.weight": np.full((4, 3), 2.0)})
    assert m.fc1.weight is w and w.dtype == ember.float32 and float(w.sum()) == 24.0
    # an ember checkpoint round trip
    m2 = Net()
    m2.load_state_dict(m.state_dict())
    x = ember.ones((2, 3))
    np.testing.assert_array_equal(m2(x).detach().numpy(), m(x).detach().numpy())


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Linear)
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and [k for k, _ in sub.named_children()] == ["1", "2"]
    del seq[1]
    assert [k for k, _ in seq.named_children()] == ["0", "1"]
    seq.append(nn.Sigmoid())
    assert len(seq) == 3 and [type(m).__name__ for m in seq] == ["Linear", "Linear", "Sigmoid"]
    with pytest.raises(IndexError):
        seq[5]
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.insert(0, nn.Tanh())
    assert len(ml) == 4 and isinstance(ml[0], nn.Tanh)
    assert [k for k, _ in ml.named_parameters()][:2] == ["1.weight", "1.bias"]
    tml = torch.nn.ModuleList([torch.nn.Tanh()] + [torch.nn.Linear(2, 2) for _ in range(3)] + [torch.nn.ReLU()])
    ml.append(nn.ReLU())
    assert repr(ml) == repr(tml) and repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
    md = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    md["c"] = nn.Tanh()
    assert list(md.keys()) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert repr(md) == repr(torch.nn.ModuleDict({"a": torch.nn.Linear(1, 1), "b": torch.nn.ReLU(),
                                                 "c": torch.nn.Tanh()}))
    assert list(md.state_dict()) == ["a.weight", "a.bias"]


# ---- train/eval behaviour ---------------------------------------------
def test_dropout_train_eval():
    d = nn.Dropout(0.25)
    x = ember.ones((200, 100))
    y = d(x).numpy()
    zero = (y == 0).mean()
    assert abs(zero - 0.25) < 0.02  # 20000 Bernoulli draws: sd 0.003
    np.testing.assert_allclose(y[y != 0], 1 / 0.75, rtol=1e-6)
    d.eval()
    assert d(x) is x
    g1, g2 = ember.random.Generator(5), ember.random.Generator(5)
    np.testing.assert_array_equal(F.dropout(x, 0.5, generator=g1).numpy(), F.dropout(x, 0.5, generator=g2).numpy())
    assert float(F.dropout(x, 1.0).abs().sum()) == 0
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_batchnorm_running_stats_and_eval():
    for momentum in (0.1, None):
        em, tm = _pair("BatchNorm2d", (3,), {"momentum": momentum}, "float64")
        rng = np.random.default_rng(0)
        for _ in range(3):
            x = rng.standard_normal((4, 3, 2, 2)) * 3 + 1
            em(ember.asarray(x))
            tm(torch.from_numpy(x))
        for k in ("running_mean", "running_var"):
            np.testing.assert_allclose(getattr(em, k).numpy(), getattr(tm, k).numpy(), rtol=1e-12)
        assert int(em.num_batches_tracked) == 3
        em.eval()
        tm.eval()
        x = rng.standard_normal((2, 3, 2, 2))
        _close(em(ember.asarray(x)), tm(torch.from_numpy(x)), "float64", "eval")
        before = em.running_mean.numpy().copy()
        em(ember.asarray(x))
        np.testing.assert_array_equal(em.running_mean.numpy(), before)  # eval does not update
    with pytest.raises(ValueError, match="expected 4D"):
        nn.BatchNorm2d(3)(ember.ones((2, 3)))


def test_embedding_padding_idx_gets_no_gradient():
    e = nn.Embedding(5, 3, padding_idx=1)
    assert float(e.weight[1].abs().sum()) == 0
    idx = ember.asarray(np.array([[0, 1, 1, 4]], np.int64))
    e(idx).sum().backward()
    g = e.weight.grad.numpy()
    np.testing.assert_array_equal(g[1], 0)
    np.testing.assert_array_equal(g[0], 1)
    np.testing.assert_array_equal(g[2], 0)
    with pytest.raises(IndexError, match="out of range"):
        e(ember.asarray(np.array([5], np.int64)))


# ---- functional activations ------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kwargs", [("relu", {}), ("relu6", {}), ("leaky_relu", {"negative_slope": 0.3}),
                                         ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}),
                                         ("tanh", {}), ("sigmoid", {}), ("elu", {"alpha": 0.7}),
                                         ("softplus", {"beta": 2.0, "threshold": 4.0}), ("hardtanh", {})])
def test_functional_activation_vs_torch(name, kwargs, dtype):
    x = np.random.default_rng(0).standard_normal((6, 7)).astype(dtype) * 4
    xe, xt = ember.asarray(x), torch.from_numpy(x.copy()).requires_grad_(True)
    xe.requires_grad = True
    ye, yt = getattr(F, name)(xe, **kwargs), getattr(torch.nn.functional, name)(xt, **kwargs)
    _close(ye, yt, dtype, name)
    ye.sum().backward()
    yt.sum().backward()
    _close(xe.grad, xt.grad, dtype, name + " grad")


# ---- init ---------------------------------------------------------------
def test_calculate_gain():
    for nl, p in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                  ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert nn.init.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p), rel=1e-15)
    with pytest.raises(ValueError, match="Unsupported"):
        nn.init.calculate_gain("swish")


def _moments(t):
    a = t.numpy().astype(np.float64).ravel()
    return a.mean(), a.std(), a.min(), a.max()


def test_init_distributions():
    t = nn.Parameter(ember.zeros((256, 128, 2)))  # fan_in 256, fan_out 512
    n = t.numel() if callable(getattr(t, "numel", None)) else 65536
    se = 4 / math.sqrt(n)  # four standard errors, relative

    def check_uniform(bound):
        mean, std, lo, hi = _moments(t)
        assert -bound <= lo and hi <= bound and hi > bound * 0.99
        assert abs(mean) < bound * se and abs(std / (bound / math.sqrt(3)) - 1) < 2 * se

    def check_normal(sd):
        mean, std, _, _ = _moments(t)
        assert abs(mean) < sd * se and abs(std / sd - 1) < 2 * se

    assert nn.init.uniform_(t, -2, 3) is t
    mean, _, lo, hi = _moments(t)
    assert -2 <= lo and hi <= 3 and abs(mean - 0.5) < 0.05
    nn.init.xavier_uniform_(t, gain=2.0)
    check_uniform(2.0 * math.sqrt(6 / (256 + 512)))
    nn.init.xavier_normal_(t)
    check_normal(math.sqrt(2 / (256 + 512)))
    nn.init.kaiming_uniform_(t, a=math.sqrt(5))
    check_uniform(math.sqrt(2 / (1 + 5)) * math.sqrt(3 / 256))  # = 1/sqrt(fan_in)
    nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    check_normal(math.sqrt(2) / math.sqrt(512))
    nn.init.normal_(t, 1.0, 0.5)
    mean, std, _, _ = _moments(t)
    assert abs(mean - 1) < 0.01 and abs(std - 0.5) < 0.01
    nn.init.trunc_normal_(t, std=1.0, a=-1.0, b=1.5)
    _, _, lo, hi = _moments(t)
    assert -1 <= lo and hi <= 1.5
    nn.init.constant_(t, 0.25)
    assert float(t.min()) == float(t.max()) == 0.25
    assert float(nn.init.zeros_(t).abs().max()) == 0 and float(nn.init.ones_(t).min()) == 1
    assert t.requires_grad and t.is_leaf  # written in place under no_grad
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.kaiming_uniform_(nn.Parameter(ember.zeros((3,))))
    with pytest.raises(ValueError, match="mode"):
        nn.init.kaiming_normal_(t, mode="fan_avg")


def test_init_generator_and_orthogonal():
    a, b = ember.zeros((4, 6)), ember.zeros((4, 6))
    nn.init.normal_(a, generator=ember.random.Generator(3))
    nn.init.normal_(b, generator=ember.random.Generator(3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    for shape in [(5, 8), (8, 5), (4, 2, 3)]:
        q = nn.init.orthogonal_(ember.zeros(shape, dtype=ember.float64), gain=2.0).numpy().reshape(shape[0], -1)
        k = min(q.shape)
        gram = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
        np.testing.assert_allclose(gram, 4 * np.eye(k), atol=1e-12)


def test_default_layer_init_bounds():
    lin = nn.Linear(400, 300)
    b = 1 / math.sqrt(400)
    _, std, lo, hi = _moments(lin.weight)
    assert -b <= lo and hi <= b and abs(std / (b / math.sqrt(3)) - 1) < 0.02
    _, _, lo, hi = _moments(lin.bias)
    assert -b <= lo and hi <= b
    conv = nn.Conv2d(8, 16, 3, groups=2)
    b = 1 / math.sqrt(4 * 9)
    _, _, lo, hi = _moments(conv.weight)
    assert -b <= lo and hi <= b and hi > 0.9 * b
    emb = nn.Embedding(1000, 64)
    mean, std, _, _ = _moments(emb.weight)
    assert abs(mean) < 0.02 and abs(std - 1) < 0.02


def test_small_mlp_trains_on_iris():
    X, y = ember.datasets.load_iris(return_X_y=True)
    X = np.asarray(X, np.float32)
    X = ember.asarray((X - X.mean(0)) / X.std(0))
    y = ember.asarray(np.asarray(y, np.int64))
    ember.random.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = ember.optim.Adam(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
        first = float(loss) if first is None else first
    acc = (model(X).numpy().argmax(1) == y.numpy()).mean()
    assert float(loss) < first * 0.3 and acc > 0.9


# ---- recurrent and attention layers ------------------------------------------------
def _grads_match(em, tm, xe, xt, dtype):
    _close(xe.grad, xt.grad, dtype, "input grad")
    tparams = dict(tm.named_parameters())
    for k, p in em.named_parameters():
        assert p.grad is not None, f"no gradient reached {k}"
        _close(p.grad, tparams[k].grad, dtype, f"grad of {k}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kw", [("LSTM", {"num_layers": 2, "bidirectional": True}),
                                     ("LSTM", {"bias": False, "batch_first": True}),
                                     ("GRU", {"batch_first": True}), ("GRU", {"num_layers": 2}),
                                     ("RNN", {"nonlinearity": "relu", "bidirectional": True}), ("RNN", {})])
def test_recurrent_vs_torch(name, kw, dtype):
    tm = getattr(torch.nn, name)(3, 5, **kw).to(TDT[dtype])
    em = getattr(nn, name)(3, 5, **kw).to(dtype)
    assert repr(em) == repr(tm) and list(em.state_dict()) == list(tm.state_dict())
    em.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x_lnh = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(dtype)
    x = x_lnh.transpose(1, 0, 2).copy() if kw.get("batch_first") else x_lnh
    dirs = 2 if kw.get("bidirectional") else 1
    h0 = np.random.default_rng(1).standard_normal((kw.get("num_layers", 1) * dirs, 2, 5)).astype(dtype)
    xe, xt = ember.asarray(x), torch.from_numpy(x.copy()).requires_grad_(True)
    xe.requires_grad = True
    hx_e = (ember.asarray(h0), ember.asarray(h0 * 0.5)) if name == "LSTM" else ember.asarray(h0)
    hx_t = (torch.from_numpy(h0), torch.from_numpy(h0 * 0.5)) if name == "LSTM" else torch.from_numpy(h0)
    (oe, he), (ot, ht) = em(xe, hx_e), tm(xt, hx_t)
    _close(oe, ot, dtype, "output")
    for a, b in zip(he if name == "LSTM" else [he], ht if name == "LSTM" else [ht]):
        _close(a, b, dtype, "final state")
    last_e, last_t = (he[1], ht[1]) if name == "LSTM" else (he, ht)
    (oe.sum() + (last_e * last_e).sum()).backward()
    (ot.sum() + (last_t * last_t).sum()).backward()
    _grads_match(em, tm, xe, xt, dtype)
    ou, _ = em(ember.asarray(x_lnh[:, 0]))  # unbatched
    _close(ou, tm(torch.from_numpy(x_lnh[:, 0]))[0], dtype, "unbatched")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_attention_vs_torch(batch_first, dtype):
    tm = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first).to(TDT[dtype])
    em = nn.MultiheadAttention(8, 2, batch_first=batch_first).to(dtype)
    assert repr(em) == repr(tm) and list(em.state_dict()) == list(tm.state_dict())
    em.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((4, 3, 8)).astype(dtype), rng.standard_normal((5, 3, 8)).astype(dtype)
    if batch_first:
        q, k = q.transpose(1, 0, 2).copy(), k.transpose(1, 0, 2).copy()
    kpm = np.zeros((3, 5), bool)
    kpm[1, 3:] = True
    am = np.triu(np.ones((4, 5), bool), 2)
    for kwargs in ({"key_padding_mask": kpm, "attn_mask": am}, {"average_attn_weights": False},
                   {"attn_mask": rng.standard_normal((4, 5)).astype(dtype)}):
        qe, qt = ember.asarray(q), torch.from_numpy(q.copy()).requires_grad_(True)
        qe.requires_grad = True
        (oe, we) = em(qe, ember.asarray(k), ember.asarray(k), **{a: ember.asarray(v) if isinstance(v, np.ndarray)
                                                                   else v for a, v in kwargs.items()})
        (ot, wt) = tm(qt, torch.from_numpy(k), torch.from_numpy(k),
                      **{a: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for a, v in kwargs.items()})
        _close(oe, ot, dtype, "attention output")
        _close(we, wt, dtype, "attention weights")
        em.zero_grad()
        tm.zero_grad()
        oe.sum().backward()
        ot.sum().backward()
        _grads_match(em, tm, qe, qt, dtype)


@pytest.mark.parametrize("kw", [{}, {"norm_first": True, "activation": "gelu", "batch_first": True}])
def test_transformer_encoder_layer_vs_torch(kw):
    dtype = "float64"
    tm = torch.nn.TransformerEncoderLayer(8, 2, 16, **kw).to(torch.float64)
    em = nn.TransformerEncoderLayer(8, 2, 16, **kw).to(dtype)
    assert repr(em) == repr(tm) and list(em.state_dict()) == list(tm.state_dict())
    em.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    em.eval()
    tm.eval()
    x = np.random.default_rng(0).standard_normal((4, 3, 8))
    if kw.get("batch_first"):
        x = x.transpose(1, 0, 2).copy()
    mask = np.triu(np.ones((4, 4), bool), 1)
    with torch.no_grad():
        ref = tm(torch.from_numpy(x), src_mask=torch.from_numpy(mask))
    _close(em(ember.asarray(x), src_mask=ember.asarray(mask)), ref, dtype, "encoder layer")
    tenc = torch.nn.TransformerEncoder(tm, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False).double()
    eenc = nn.TransformerEncoder(em, 2, norm=nn.LayerNorm(8), enable_nested_tensor=False).double()
    assert repr(eenc) == repr(tenc) and list(eenc.state_dict()) == list(tenc.state_dict())
    with torch.no_grad():
        for p in tenc.parameters():
            p.add_(torch.randn(p.shape, dtype=p.dtype) * 0.1)  # the two layers differ
    eenc.load_state_dict({k: v.numpy() for k, v in tenc.state_dict().items()})
    eenc.eval()
    tenc.eval()
    with torch.no_grad():
        ref = tenc(torch.from_numpy(x), mask=torch.from_numpy(mask))
    _close(eenc(ember.asarray(x), mask=ember.asarray(mask)), ref, dtype, "encoder")


def test_every_public_nn_name_has_a_docstring():
    import inspect
    missing = []
    for mod in (nn, F, nn.init):
        for name in dir(mod):
            obj = getattr(mod, name)
            if name.startswith("_") or inspect.ismodule(obj) or not callable(obj):
                continue
            if not (inspect.getdoc(obj) or "").strip():
                missing.append(f"{mod.__name__}.{name}")
            if inspect.isclass(obj):
                for m, attr in vars(obj).items():
                    if not m.startswith("_") and callable(attr) and not (inspect.getdoc(attr) or "").strip():
                        missing.append(f"{mod.__name__}.{name}.{m}")
    assert not missing, missing
