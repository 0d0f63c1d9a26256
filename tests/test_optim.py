"""ember.optim, ember.optim.lr_scheduler and ember.nn.utils clipping against
torch.optim / torch.nn.utils, step by step from the same weights and gradients."""
import math

import numpy as np
import pytest

import ember
import ember.nn.utils
import ember.optim as eo
from ember.optim import lr_scheduler as els

torch = pytest.importorskip("torch")

SHAPES = [(5, 7), (11,), ()]
STEPS = 10


def _grads(seed, dtype):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) * (1 + i) for i, s in enumerate(SHAPES)] for _ in range(STEPS)]


def _pair(dtype, seed=0):
    rng = np.random.default_rng(100 + seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ep = [ember.tensor(w.copy()) for w in init]
    tp = [torch.tensor(w.copy(), requires_grad=True) for w in init]
    return ep, tp


def _run_both(ecls, tcls, kw, dtype, steps=STEPS, seed=0):
    ep, tp = _pair(dtype, seed)
    eopt, topt = ecls(ep, **kw), tcls(tp, **kw)
    for gs in _grads(seed, dtype)[:steps]:
        for p, q, g in zip(ep, tp, gs):
            p.grad = ember.tensor(g.copy())
            q.grad = torch.tensor(g.copy())
        eopt.step()
        topt.step()
        yield ep, tp, eopt, topt


def _close(ep, tp, dtype):
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (1e-5, 1e-6)
    for p, q in zip(ep, tp):
        np.testing.assert_allclose(np.asarray(p), q.detach().numpy(), rtol=rtol, atol=atol)


CASES = [
    (eo.SGD, torch.optim.SGD, dict(lr=0.1)),
    (eo.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    (eo.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    (eo.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    (eo.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.2, maximize=True)),
    (eo.SGD, torch.optim.SGD, dict(lr=0.1, weight_decay=0.5, maximize=True)),
    (eo.Adam, torch.optim.Adam, dict()),
    (eo.Adam, torch.optim.Adam, dict(lr=0.05, amsgrad=True)),
    (eo.Adam, torch.optim.Adam, dict(lr=0.05, weight_decay=0.1)),
    (eo.Adam, torch.optim.Adam, dict(lr=0.05, betas=(0.5, 0.7), eps=1e-3, weight_decay=0.1, amsgrad=True,
                                     maximize=True)),
    (eo.AdamW, torch.optim.AdamW, dict(lr=0.05)),
    (eo.AdamW, torch.optim.AdamW, dict(lr=0.05, weight_decay=0.5, amsgrad=True)),
    (eo.AdamW, torch.optim.AdamW, dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, maximize=True)),
    (eo.RMSprop, torch.optim.RMSprop, dict()),
    (eo.RMSprop, torch.optim.RMSprop, dict(lr=0.01, centered=True)),
    (eo.RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, alpha=0.9)),
    (eo.RMSprop, torch.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1, eps=1e-4)),
    (eo.RMSprop, torch.optim.RMSprop, dict(lr=0.01, maximize=True, alpha=0.5)),
    (eo.Adagrad, torch.optim.Adagrad, dict()),
    (eo.Adagrad, torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.1)),
    (eo.Adagrad, torch.optim.Adagrad, dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    (eo.Adagrad, torch.optim.Adagrad, dict(lr=0.1, maximize=True, eps=1e-3)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ecls,tcls,kw", CASES, ids=lambda v: v.__name__ if isinstance(v, type) else str(v))
def test_matches_torch_step_by_step(ecls, tcls, kw, dtype):
    for ep, tp, _, _ in _run_both(ecls, tcls, kw, dtype):
        _close(ep, tp, dtype)


@pytest.mark.parametrize("ecls,tcls,kw", [c for c in CASES if c[2].get("momentum") or c[0] is not eo.SGD])
def test_state_dict_layout_and_torch_round_trip(ecls, tcls, kw):
    """Same keys, indices and values as torch; torch's state loads into ember and both continue alike."""
    for ep, tp, eopt, topt in _run_both(ecls, tcls, kw, np.float64, steps=4):
        pass
    esd, tsd = eopt.state_dict(), topt.state_dict()
    assert set(esd["state"]) == set(tsd["state"]) == {0, 1, 2}
    for i in esd["state"]:
        assert set(esd["state"][i]) == set(tsd["state"][i])
        for k, v in esd["state"][i].items():
            np.testing.assert_allclose(np.asarray(v), tsd["state"][i][k].numpy(), rtol=1e-10, atol=1e-14)
    (eg,), (tg,) = esd["param_groups"], tsd["param_groups"]
    assert eg["params"] == tg["params"]
    assert {k: v for k, v in eg.items()} == {k: tg[k] for k in eg}
    # A fresh ember optimiser loading torch's state continues exactly as torch does.
    fresh = [ember.tensor(q.detach().numpy().copy()) for q in tp]
    eopt2 = ecls(fresh, **kw)
    eopt2.load_state_dict(tsd)
    for gs in _grads(7, np.float64)[:4]:
        for p, q, g in zip(fresh, tp, gs):
            p.grad = ember.tensor(g.copy())
            q.grad = torch.tensor(g.copy())
        eopt2.step()
        topt.step()
    _close(fresh, tp, np.float64)


def test_state_dict_round_trip_ember():
    ep, _ = _pair(np.float32)
    opt = eo.Adam(ep, lr=0.01, amsgrad=True)
    grads = _grads(3, np.float32)
    for gs in grads[:3]:
        for p, g in zip(ep, gs):
            p.grad = ember.tensor(g)
        opt.step()
    sd = opt.state_dict()
    assert sd["state"][0]["step"].dtype == ember.float32 and float(sd["state"][0]["step"]) == 3
    clones = [p.clone() for p in ep]
    opt2 = eo.Adam(clones, lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.01 and opt2.param_groups[0]["amsgrad"]
    assert opt2.state[clones[0]]["exp_avg"] is not opt.state[ep[0]]["exp_avg"]  # copied
    for gs in grads[3:]:
        for p, q, g in zip(ep, clones, gs):
            p.grad = ember.tensor(g)
            q.grad = ember.tensor(g)
        opt.step()
        opt2.step()
    for p, q in zip(ep, clones):
        np.testing.assert_array_equal(np.asarray(p), np.asarray(q))
    with pytest.raises(ValueError, match="number of parameter groups"):
        opt2.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="size"):
        opt2.load_state_dict({"state": {}, "param_groups": [dict(sd["param_groups"][0], params=[0])]})


def test_param_groups_options_zero_grad_and_missing_grads():
    ep, tp = _pair(np.float64)
    eopt = eo.SGD([{"params": ep[:2], "lr": 0.5, "momentum": 0.9}, {"params": [ep[2]]}], lr=0.1)
    topt = torch.optim.SGD([{"params": tp[:2], "lr": 0.5, "momentum": 0.9}, {"params": [tp[2]]}], lr=0.1)
    assert eopt.param_groups[1]["lr"] == 0.1 and eopt.param_groups[1]["momentum"] == 0
    for s, gs in enumerate(_grads(5, np.float64)[:5]):
        for i, (p, q, g) in enumerate(zip(ep, tp, gs)):
            if i == 1 and s % 2:  # a parameter without a gradient is skipped
                continue
            p.grad = ember.tensor(g)
            q.grad = torch.tensor(g)
        eopt.step()
        topt.step()
        eopt.zero_grad()
        topt.zero_grad()
        assert all(p.grad is None for p in ep)
    _close(ep, tp, np.float64)
    extra = ember.zeros(3, dtype=ember.float64)
    eopt.add_param_group({"params": extra, "lr": 1.0})
    assert eopt.param_groups[2]["momentum"] == 0 and eopt.param_groups[2]["params"] == [extra]
    extra.grad = ember.ones(3, dtype=ember.float64)
    eopt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(np.asarray(extra.grad), 0)


def test_closure_and_argument_errors():
    p = ember.tensor([1.0, 2.0])
    opt = eo.SGD([p], lr=0.1)
    p.grad = ember.tensor([1.0, 1.0])
    assert opt.step(lambda: 42) == 42
    np.testing.assert_allclose(np.asarray(p), [0.9, 1.9], rtol=1e-6)
    with pytest.raises(ValueError, match="empty parameter list"):
        eo.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        eo.Adam(p)
    with pytest.raises(ValueError, match="more than one parameter group"):
        eo.SGD([{"params": [p]}, {"params": [p]}])
    with pytest.raises(ValueError, match="learning rate"):
        eo.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        eo.AdamW([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov"):
        eo.SGD([p], momentum=0, nesterov=True)
    with pytest.raises(ValueError, match="Invalid"):
        eo.RMSprop([p], alpha=-0.5)
    with pytest.raises(ValueError, match="lr_decay"):
        eo.Adagrad([p], lr_decay=-1)
    ip = ember.tensor([1, 2])
    opt = eo.SGD([ip], lr=0.1)
    ip.grad = ember.tensor([1, 1])
    with pytest.raises(TypeError, match="int64"):
        opt.step()
    with pytest.raises(TypeError, match="Tensor"):
        ember._C._sgd_step(np.zeros(2), p, None, False, 0.1, 0, 0, 0, False, False)


def test_float32_noncontiguous_grad_and_thread_invariance():
    """A transposed gradient is used by value; the update does not depend on the thread count."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((300, 400)).astype(np.float32)
    g = rng.standard_normal((400, 300)).astype(np.float32)
    outs = []
    for threads in (1, 2):
        ember.set_num_threads(threads) if hasattr(ember, "set_num_threads") else None
        p = ember.tensor(w.copy())
        opt = eo.Adam([p], lr=0.01, weight_decay=0.1)
        p.grad = ember.tensor(g).T
        opt.step()
        outs.append(np.asarray(p).copy())
    if hasattr(ember, "set_num_threads"):
        ember.set_num_threads(0)
    np.testing.assert_array_equal(outs[0], outs[1])
    tp = torch.tensor(w.copy(), requires_grad=True)
    tp.grad = torch.tensor(g).T.contiguous()
    torch.optim.Adam([tp], lr=0.01, weight_decay=0.1).step()
    np.testing.assert_allclose(outs[0], tp.detach().numpy(), rtol=1e-5, atol=1e-6)


# ---- schedulers -----------------------------------------------------------------------------


def _sched_pair(make_e, make_t, opt="sgd", steps=30, metrics=None):
    lrs = []
    for make, lib in ((make_e, "e"), (make_t, "t")):
        if lib == "e":
            ps = [ember.zeros(2), ember.zeros(3)]
            o = (eo.SGD([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.5}], lr=0.1, momentum=0.9)
                 if opt == "sgd" else eo.Adam([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.5}], lr=0.1))
        else:
            ps = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
            o = (torch.optim.SGD([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.5}], lr=0.1, momentum=0.9)
                 if opt == "sgd" else torch.optim.Adam([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.5}],
                                                       lr=0.1))
        s = make(o)
        def row():
            return list(s.get_last_lr()) + [g.get("momentum", g.get("betas", (0,))[0]) for g in o.param_groups]
        seq = [row()]
        for i in range(steps):
            o.step()
            s.step(metrics[i]) if metrics else s.step()
            seq.append(row())
        lrs.append(seq)
    np.testing.assert_allclose(np.array(lrs[0]), np.array(lrs[1]), rtol=1e-13, atol=1e-15)
    return lrs[0]


SCHEDS = [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 20], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=8, eta_min=0.01)),
    ("CosineAnnealingLR", dict(T_max=30)),
    ("OneCycleLR", dict(max_lr=[1.0, 2.0], total_steps=30)),
    ("OneCycleLR", dict(max_lr=1.0, epochs=6, steps_per_epoch=5, anneal_strategy="linear", pct_start=0.4)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=31, three_phase=True, cycle_momentum=False)),
]


@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("name,kw", SCHEDS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDS)])
def test_scheduler_matches_torch(name, kw, opt):
    lrs = _sched_pair(lambda o: getattr(els, name)(o, **kw),
                      lambda o: getattr(torch.optim.lr_scheduler, name)(o, **kw), opt=opt)
    assert len({round(v[0], 12) for v in lrs}) > 1  # the schedule really moves


def test_lambda_lr_and_plateau_match_torch():
    f = [lambda e: 0.95 ** e, lambda e: 1 / (1 + e)]
    _sched_pair(lambda o: els.LambdaLR(o, f), lambda o: torch.optim.lr_scheduler.LambdaLR(o, f))
    _sched_pair(lambda o: els.LambdaLR(o, f[0]), lambda o: torch.optim.lr_scheduler.LambdaLR(o, f[0]))
    metrics = [1.0, 0.9, 0.9, 0.9, 0.95, 0.9, 0.85, 0.85, 0.85, 0.85, 0.85, 0.849, 0.849] + [0.84] * 17
    for kw in (dict(patience=2, factor=0.5), dict(patience=1, cooldown=2, min_lr=[0.01, 0.2], threshold=0.01),
               dict(mode="max", patience=0, threshold_mode="abs", threshold=0.05)):
        lrs = _sched_pair(lambda o: els.ReduceLROnPlateau(o, **kw),
                          lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **kw), metrics=metrics)
        assert lrs[-1][0] < lrs[0][0]


def test_scheduler_state_dict_and_errors():
    p = ember.zeros(2)
    o = eo.SGD([p], lr=1.0)
    s = els.CosineAnnealingLR(o, T_max=10)
    for _ in range(4):
        s.step()
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4
    o2 = eo.SGD([ember.zeros(2)], lr=1.0)
    s2 = els.CosineAnnealingLR(o2, T_max=10)
    s2.load_state_dict(sd)
    o2.param_groups[0]["lr"] = o.param_groups[0]["lr"]
    for _ in range(5):
        s.step()
        s2.step()
        assert s.get_last_lr() == s2.get_last_lr()
    assert "lr_lambdas" not in els.LambdaLR(o, lambda e: 1.0).state_dict()
    with pytest.raises(ValueError, match="Factor"):
        els.ReduceLROnPlateau(o, factor=1.5)
    with pytest.raises(ValueError, match="total_steps"):
        els.OneCycleLR(o, max_lr=1.0)
    s3 = els.OneCycleLR(eo.SGD([p], lr=0.1, momentum=0.9), max_lr=1.0, total_steps=2)
    s3.step()
    s3.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        s3.step()
    with pytest.raises(ValueError, match="momentum"):
        els.OneCycleLR(eo.Adagrad([p]), max_lr=1.0, total_steps=5)


# ---- gradient clipping ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, "inf", float("inf"), 3.0, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    rng = np.random.default_rng(4)
    gs = [rng.standard_normal(s).astype(dtype) for s in [(40, 300), (7,), (1,)]]
    ep = [ember.zeros(g.shape, dtype=ember.float32 if dtype == np.float32 else ember.float64) for g in gs]
    tp = [torch.zeros(g.shape, dtype=torch.float32 if dtype == np.float32 else torch.float64) for g in gs]
    for p, q, g in zip(ep, tp, gs):
        p.grad = ember.tensor(g.copy())
        q.grad = torch.tensor(g.copy())
    extra = ember.zeros(3)  # no gradient: ignored
    en = ember.nn.utils.clip_grad_norm_(ep + [extra], max_norm, norm_type)
    tn = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(float(en), float(tn), rtol=rtol)
    assert en.dtype == (ember.float32 if dtype == np.float32 else ember.float64) and en.ndim == 0
    for p, q in zip(ep, tp):
        np.testing.assert_allclose(np.asarray(p.grad), q.grad.numpy(), rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(float(ember.nn.utils.get_total_norm([p.grad for p in ep], norm_type)),
                               float(torch.nn.utils.get_total_norm([q.grad for q in tp], norm_type)), rtol=rtol)


def test_clip_grad_nonfinite_and_value():
    p, q = ember.zeros(3), torch.zeros(3)
    p.grad, q.grad = ember.tensor([1.0, float("inf"), 2.0]), torch.tensor([1.0, float("inf"), 2.0])
    with pytest.raises(RuntimeError, match="non-finite|error_if_nonfinite"):
        ember.nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(np.asarray(p.grad), [1.0, np.inf, 2.0])
    en = ember.nn.utils.clip_grad_norm_(p, 1.0)
    tn = torch.nn.utils.clip_grad_norm_(q, 1.0)
    assert math.isinf(float(en)) and math.isinf(float(tn))
    np.testing.assert_array_equal(np.asarray(p.grad), q.grad.numpy())
    assert float(ember.nn.utils.clip_grad_norm_([ember.zeros(2)], 1.0)) == 0.0
    rng = np.random.default_rng(2)
    g = rng.standard_normal((6, 5)) * 3
    p, q = ember.zeros((6, 5), dtype=ember.float64), torch.zeros((6, 5), dtype=torch.float64)
    p.grad, q.grad = ember.tensor(g.copy()), torch.tensor(g.copy())
    assert ember.nn.utils.clip_grad_value_([p], 1.5) is None
    torch.nn.utils.clip_grad_value_([q], 1.5)
    np.testing.assert_array_equal(np.asarray(p.grad), q.grad.numpy())
    with pytest.raises(ValueError, match="norm_type"):
        ember.nn.utils.clip_grad_norm_(p, 1.0, norm_type="fro")
    with pytest.raises(ValueError, match="clip_value"):
        ember.nn.utils.clip_grad_value_(p, -1.0)
