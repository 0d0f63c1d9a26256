"""Ten training steps beside PyTorch: every layer with parameters and every
loss, from the same initial weights and the same batches, SGD with momentum.
After each step the outputs, the loss and every parameter must agree, so an
error in a gradient, in an optimiser update or in running statistics that
only shows once the weights move is caught (tests/test_nn.py compares one
forward/backward, tests/test_optim.py the optimisers on fixed gradients)."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

from test_nn import LAYERS, _input, _pair

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
TF = torch.nn.functional
STEPS = 10
# f32 drifts as the two libraries round differently and the weights move
TOL = {"float32": dict(rtol=2e-4, atol=2e-5), "float64": dict(rtol=1e-9, atol=1e-11)}
TRAINABLE = [p for p in LAYERS if p[0] not in ("Dropout", "Flatten", "Identity") and
             len(list(getattr(torch.nn, p[0])(*p[1], **p[2]).parameters())) > 0]


def _close(e, t, dtype, what):
    np.testing.assert_allclose(np.asarray(e.detach().numpy()), t.detach().numpy(), err_msg=what, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,args,kwargs,spec", TRAINABLE, ids=[f"{p[0]}-{i}" for i, p in enumerate(TRAINABLE)])
def test_layer_trains_like_torch(name, args, kwargs, spec, dtype):
    em, tm = _pair(name, args, kwargs, dtype)
    eopt = ember.optim.SGD(em.parameters(), lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9)
    for step in range(STEPS):
        x = _input(spec, dtype, seed=step)
        ye, yt = em(ember.asarray(x)), tm(torch.from_numpy(x))
        r = np.random.default_rng(100 + step).standard_normal(tuple(yt.shape)).astype(dtype)
        # a loss with curvature, so the steps do not just add a constant
        le = ((ye - ember.asarray(r)) ** 2).mean()
        lt = ((yt - torch.from_numpy(r)) ** 2).mean()
        _close(le, lt, dtype, f"{name} loss at step {step}")
        eopt.zero_grad()
        topt.zero_grad()
        le.backward()
        lt.backward()
        eopt.step()
        topt.step()
        tparams = dict(tm.named_parameters())
        for k, p in em.named_parameters():
            _close(p, tparams[k], dtype, f"{name} parameter {k} after step {step}")
        tbufs = dict(tm.named_buffers())
        for k, b in em.named_buffers():
            np.testing.assert_allclose(np.asarray(b.numpy()), tbufs[k].numpy(), err_msg=f"buffer {k}", **TOL[dtype])


def _targets(kind, rng, n, c, dtype):
    if kind == "class":
        return rng.integers(0, c, size=n)
    if kind == "prob":
        p = rng.uniform(size=(n, c)).astype(dtype)
        return p / p.sum(1, keepdims=True)
    if kind == "binary":
        return rng.integers(0, 2, size=(n, c)).astype(dtype)
    return rng.standard_normal((n, c)).astype(dtype)


# (loss, kwargs, target kind, what the linear model's output goes through)
LOSSES = [
    ("mse_loss", {}, "real", None), ("l1_loss", {}, "real", None), ("smooth_l1_loss", {"beta": 0.5}, "real", None),
    ("huber_loss", {"delta": 0.7}, "real", None),
    ("cross_entropy", {"label_smoothing": 0.1}, "class", None), ("cross_entropy", {}, "prob", None),
    ("nll_loss", {}, "class", "log_softmax"), ("binary_cross_entropy", {}, "binary", "sigmoid"),
    ("binary_cross_entropy_with_logits", {}, "binary", None),
    ("kl_div", {"reduction": "batchmean"}, "prob", "log_softmax"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fname,kw,kind,link", LOSSES, ids=[f"{p[0]}-{i}" for i, p in enumerate(LOSSES)])
def test_loss_trains_like_torch(fname, kw, kind, link, dtype):
    em, tm = _pair("Linear", (6, 4), {}, dtype)
    eopt = ember.optim.Adam(em.parameters(), lr=0.05)
    topt = torch.optim.Adam(tm.parameters(), lr=0.05)
    rng = np.random.default_rng(0)
    for step in range(STEPS):
        x = rng.standard_normal((8, 6)).astype(dtype)
        y = _targets(kind, rng, 8, 4, dtype)
        oe, ot = em(ember.asarray(x)), tm(torch.from_numpy(x))
        if link == "log_softmax":
            oe, ot = F.log_softmax(oe, dim=1), TF.log_softmax(ot, dim=1)
        elif link == "sigmoid":
            oe, ot = F.sigmoid(oe), torch.sigmoid(ot)
        le = getattr(F, fname)(oe, ember.asarray(y), **kw)
        lt = getattr(TF, fname)(ot, torch.from_numpy(y), **kw)
        _close(le, lt, dtype, f"{fname} loss at step {step}")
        eopt.zero_grad()
        topt.zero_grad()
        le.backward()
        lt.backward()
        eopt.step()
        topt.step()
        for (k, p), tp in zip(em.named_parameters(), tm.parameters()):
            _close(p, tp, dtype, f"{fname}: parameter {k} after step {step}")
