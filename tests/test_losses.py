"""Losses of ember.nn (modules and functional forms) against
torch.nn.functional: values for every reduction, gradients of the input,
and the edge cases (ignored targets, label smoothing, class weights,
probability targets, pos_weight, zeros in KL targets)."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
TF = torch.nn.functional
TOL = {"float32": dict(rtol=2e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}
REDUCTIONS = ["none", "mean", "sum"]


def _data(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng, lambda *s: rng.standard_normal(s).astype(dtype)


def _run(fname, args, kwargs, grad_idx, dtype):
    """Call F.<fname> and torch's on the same data; compare value and the
    gradients of the arguments in grad_idx."""
    eargs, targs = [], []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            e, t = ember.asarray(a.copy()), torch.from_numpy(a.copy())
            if i in grad_idx:
                e.requires_grad = True
                t.requires_grad_(True)
            eargs.append(e)
            targs.append(t)
        else:
            eargs.append(a)
            targs.append(a)
        ekw = {k: (ember.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
        tkw = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    ye = getattr(F, fname)(*eargs, **ekw)
    yt = getattr(TF, fname)(*targs, **tkw)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), err_msg=f"{fname} value", **TOL[dtype])
    if grad_idx:
        r = np.random.default_rng(9).standard_normal(tuple(yt.shape)).astype(dtype)
        (ye * ember.asarray(r)).sum().backward()
        (yt * torch.from_numpy(r)).sum().backward()
        for i in grad_idx:
            np.testing.assert_allclose(eargs[i].grad.numpy(), targs[i].grad.numpy(), err_msg=f"{fname} grad {i}",
                                       **TOL[dtype])
    return ye


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fname,kwargs", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}),
                                          ("smooth_l1_loss", {"beta": 0.3}), ("smooth_l1_loss", {"beta": 0.0}),
                                          ("huber_loss", {}), ("huber_loss", {"delta": 2.5})])
def test_regression_losses(fname, kwargs, reduction, dtype):
    _, d = _data(dtype)
    x, y = d(4, 5) * 2, d(4, 5)
    _run(fname, (x, y), dict(kwargs, reduction=reduction), (0, 1), dtype)


CE_CASES = [
    ("plain", {}),
    ("weight", {"weight": "w"}),
    ("ignore", {"ignore_index": 1}),
    ("ignore_default", {"ignore_index": -100, "_ignored": True}),
    ("weight_ignore", {"weight": "w", "ignore_index": 2}),
    ("smooth", {"label_smoothing": 0.2}),
    ("smooth_weight_ignore", {"label_smoothing": 0.15, "weight": "w", "ignore_index": 0}),
]


def _class_data(dtype, shape, c, case):
    rng, d = _data(dtype)
    x = d(*shape) * 2
    tshape = (shape[0],) + shape[2:] if len(shape) >= 2 else ()
    t = rng.integers(0, c, size=tshape).astype(np.int64)
    kw = dict(case)
    if kw.pop("_ignored", False):
        t.reshape(-1)[::3] = -100
    if kw.get("weight") == "w":
        kw["weight"] = rng.uniform(0.2, 2.0, size=c).astype(dtype)
    return x, t, kw


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (4,)], ids=["NC", "NCd", "C"])
@pytest.mark.parametrize("case,kw", CE_CASES, ids=[c for c, _ in CE_CASES])
def test_cross_entropy_class_indices(case, kw, shape, reduction, dtype):
    x, t, kwargs = _class_data(dtype, shape, 4, kw)
    _run("cross_entropy", (x, t), dict(kwargs, reduction=reduction), (0,), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)], ids=["NC", "NCd"])
@pytest.mark.parametrize("case,kw", [c for c in CE_CASES if "smooth" not in c[0]],
                         ids=[c for c, _ in CE_CASES if "smooth" not in c])
def test_nll_loss(case, kw, shape, reduction, dtype):
    x, t, kwargs = _class_data(dtype, shape, 4, kw)
    logp = torch.log_softmax(torch.from_numpy(x), 1).numpy()
    _run("nll_loss", (logp, t), dict(kwargs, reduction=reduction), (0,), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kw", [{}, {"weight": True}, {"label_smoothing": 0.3},
                                {"weight": True, "label_smoothing": 0.1}], ids=["plain", "w", "ls", "w_ls"])
@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4)], ids=["NC", "NCd"])
def test_cross_entropy_probabilities(kw, shape, reduction, dtype):
    rng, d = _data(dtype)
    x = d(*shape)
    p = torch.softmax(torch.from_numpy(d(*shape) * 2), 1).numpy()
    kwargs = dict(kw, reduction=reduction)
    if kw.get("weight"):
        kwargs["weight"] = rng.uniform(0.5, 2.0, size=shape[1]).astype(dtype)
    _run("cross_entropy", (x, p), kwargs, (0, 1), dtype)


def test_all_targets_ignored_gives_nan_like_torch():
    x = np.random.default_rng(0).standard_normal((3, 4))
    t = np.full(3, -100, np.int64)
    e = F.cross_entropy(ember.asarray(x), ember.asarray(t))
    assert np.isnan(float(e)) and np.isnan(float(TF.cross_entropy(torch.from_numpy(x), torch.from_numpy(t))))
    assert float(F.cross_entropy(ember.asarray(x), ember.asarray(t), reduction="sum")) == 0.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy(weighted, reduction, dtype):
    rng, d = _data(dtype)
    p = rng.uniform(0.02, 0.98, size=(4, 5)).astype(dtype)
    p[0, 0], p[0, 1] = 0.0, 1.0  # logs clamp at -100
    y = rng.uniform(0, 1, size=(4, 5)).astype(dtype)
    kw = {"reduction": reduction}
    if weighted:
        kw["weight"] = rng.uniform(0.5, 2, size=(5,)).astype(dtype)
    _run("binary_cross_entropy", (p, y), kw, (), dtype)
    p[0, 0], p[0, 1] = 0.3, 0.6
    _run("binary_cross_entropy", (p, y), kw, (0,), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight,pos_weight", [(False, False), (True, False), (False, True), (True, True)])
def test_bce_with_logits(weight, pos_weight, reduction, dtype):
    rng, d = _data(dtype)
    x = d(4, 5) * 10  # large logits: the stable form matters
    x[0, 0], x[0, 1] = 80.0, -80.0
    y = rng.uniform(0, 1, size=(4, 5)).astype(dtype)
    kw = {"reduction": reduction}
    if weight:
        kw["weight"] = rng.uniform(0.5, 2, size=(4, 1)).astype(dtype)
    if pos_weight:
        kw["pos_weight"] = rng.uniform(0.5, 3, size=(5,)).astype(dtype)
    _run("binary_cross_entropy_with_logits", (x, y), kw, (0, 1), dtype)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")  # torch's own warning for kl_div 'mean'
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(log_target, reduction, dtype):
    rng, d = _data(dtype)
    x = torch.log_softmax(torch.from_numpy(d(4, 5)), 1).numpy()
    p = torch.softmax(torch.from_numpy(d(4, 5) * 2), 1).numpy()
    if log_target:
        p = np.log(p)
    else:
        p[0, :2] = 0.0  # 0 * log 0 = 0
    _run("kl_div", (x, p), {"reduction": reduction, "log_target": log_target}, (0,), dtype)


def test_loss_modules_match_functional_and_torch_reprs():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    t = rng.integers(0, 3, size=6).astype(np.int64)
    w = rng.uniform(0.5, 2, 3)
    cases = [("MSELoss", {}, y), ("L1Loss", {"reduction": "sum"}, y), ("SmoothL1Loss", {"beta": 0.5}, y),
             ("HuberLoss", {"delta": 0.7}, y), ("CrossEntropyLoss", {"weight": w, "label_smoothing": 0.1}, t),
             ("NLLLoss", {"ignore_index": 2}, t), ("BCEWithLogitsLoss", {"pos_weight": w}, 1 / (1 + np.exp(-y))),
             ("BCELoss", {}, 1 / (1 + np.exp(-y))), ("KLDivLoss", {"reduction": "batchmean"}, np.exp(-y ** 2))]
    for name, kw, target in cases:
        ekw = {k: (ember.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        tkw = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        em, tm = getattr(nn, name)(**ekw), getattr(torch.nn, name)(**tkw)
        assert repr(em) == repr(tm)
        assert list(em.state_dict()) == list(tm.state_dict())
        inp = 1 / (1 + np.exp(-x)) if name == "BCELoss" else x
        np.testing.assert_allclose(float(em(ember.asarray(inp), ember.asarray(target))),
                                   float(tm(torch.from_numpy(inp), torch.from_numpy(target))), rtol=1e-10,
                                   err_msg=name)


def test_loss_argument_errors():
    x = ember.ones((3, 4))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="target shape"):
        F.l1_loss(x, ember.ones((4, 3)))
    with pytest.raises(ValueError, match="expected target of shape"):
        F.cross_entropy(x, ember.asarray(np.zeros(4, np.int64)))
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, ember.asarray(np.array([0, 4, 1], np.int64)))
    with pytest.raises(ValueError, match="weight"):
        F.nll_loss(x, ember.asarray(np.zeros(3, np.int64)), weight=ember.ones((3,)))
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(x * 2, x)
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, ember.asarray(np.zeros(3, np.int64)), label_smoothing=1.5)
