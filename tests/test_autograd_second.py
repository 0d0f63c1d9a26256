"""Second derivatives (create_graph=True) against PyTorch: Hessian-vector products through elementwise
ops, matmul, softmax, the losses of ember.nn.functional, convolution, pooling, the norm layers and
the shape ops, with respect to the inputs and to the output gradient; gradgradcheck in float64."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember as E
import ember.autograd as A
import ember.nn.functional as F

pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")  # torch's kl_div note

RNG = np.random.default_rng(7)
TOL = {np.float64: dict(rtol=1e-6, atol=1e-9), np.float32: dict(rtol=1e-4, atol=1e-4)}


@pytest.fixture(autouse=True)
def _reseed():
    """Each test draws the same numbers whichever tests ran before it (the tables above are drawn once)."""
    global RNG
    RNG = np.random.default_rng(11)


def rand(*shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, size=shape)


def tnp(t):
    return t.detach().numpy(force=True)  # force: torch may answer with a ZeroTensor


def check_hvp(fe, ft, *arrays, dtype=np.float64, order3=False):
    """With g = grad(f(x), x, v, create_graph=True), compares f, g and grad(sum(g * u), (x, v)) with torch.

    order3: also the gradient of that Hessian-vector product (a third derivative)."""
    tol = TOL[dtype]
    arrays = [np.asarray(a, dtype=dtype) for a in arrays]
    xe = [E.tensor(a, requires_grad=True) for a in arrays]
    xt = [torch.tensor(a, requires_grad=True) for a in arrays]
    oe, ot = fe(*xe), ft(*xt)
    np.testing.assert_allclose(oe.numpy(), tnp(ot), **tol)
    v = RNG.standard_normal(tuple(ot.shape)).astype(dtype)
    ve, vt = E.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    ge = A.grad([oe], xe, [ve], create_graph=True, allow_unused=True)
    gt = torch.autograd.grad([ot], xt, [vt], create_graph=True, allow_unused=True)
    pairs = [(a, b) for a, b in zip(ge, gt) if b is not None]
    for a, b in pairs:
        np.testing.assert_allclose(a.numpy(), tnp(b), **tol)
    us = [RNG.standard_normal(tuple(b.shape)).astype(dtype) for _, b in pairs]
    se = sum(E.sum(a * E.asarray(u)) for (a, _), u in zip(pairs, us) if a.requires_grad)
    st = sum((b * torch.tensor(u)).sum() for (_, b), u in zip(pairs, us))
    if not isinstance(se, E.Tensor):  # no first derivative depends on anything: all second ones are 0
        assert all(np.all(tnp(h) == 0) for h in torch.autograd.grad(st, xt + [vt], allow_unused=True)
                   if h is not None)
        return
    he = A.grad([se], xe + [ve], create_graph=order3, allow_unused=True)
    ht = torch.autograd.grad([st], xt + [vt], create_graph=order3, allow_unused=True)
    for i, (a, b) in enumerate(zip(he, ht)):
        if a is None or b is None:  # an unconnected input: the other side must be all zeros (or None)
            assert (a is None or np.all(a.numpy() == 0)) and (b is None or np.all(tnp(b) == 0)), f"input {i}"
            continue
        np.testing.assert_allclose(a.numpy(), tnp(b), err_msg=f"second derivative, input {i}", **tol)
    if order3:
        w = [RNG.standard_normal(tuple(b.shape)).astype(dtype) if b is not None else None for b in ht]
        te = sum(E.sum(a * E.asarray(c)) for a, c in zip(he, w) if a is not None and a.requires_grad)
        tt = sum((b * torch.tensor(c)).sum() for b, c in zip(ht, w) if b is not None and b.requires_grad)
        ke = A.grad([te], xe, allow_unused=True)
        kt = torch.autograd.grad([tt], xt, allow_unused=True)
        for i, (a, b) in enumerate(zip(ke, kt)):
            if a is None or b is None:
                assert (a is None or np.all(a.numpy() == 0)) and (b is None or np.all(tnp(b) == 0))
                continue
            np.testing.assert_allclose(a.numpy(), tnp(b), err_msg=f"third derivative, input {i}", **tol)


POS = dict(lo=0.2, hi=2.0)
UNIT = dict(lo=-0.9, hi=0.9)
UNARY = [
    ("exp", E.exp, torch.exp, {}), ("log", E.log, torch.log, POS), ("tanh", E.tanh, torch.tanh, {}),
    ("sigmoid", E.sigmoid, torch.sigmoid, {}), ("sin", E.sin, torch.sin, {}), ("cos", E.cos, torch.cos, {}),
    ("relu", F.relu, TF.relu, {}), ("gelu", F.gelu, TF.gelu, {}),
    ("gelu_tanh", lambda t: F.gelu(t, approximate="tanh"), lambda t: TF.gelu(t, approximate="tanh"), {}),
    ("silu", F.silu, TF.silu, {}), ("elu", lambda t: F.elu(t, 0.7), lambda t: TF.elu(t, 0.7), {}),
    ("leaky_relu", lambda t: F.leaky_relu(t, 0.1), lambda t: TF.leaky_relu(t, 0.1), {}),
    ("softplus", lambda t: F.softplus(t, 2.0), lambda t: TF.softplus(t, 2.0), {}),
    ("sqrt", E.sqrt, torch.sqrt, POS), ("rsqrt", E.rsqrt, torch.rsqrt, POS),
    ("reciprocal", E.reciprocal, torch.reciprocal, POS), ("erf", E.erf, torch.erf, {}),
    ("square", E.square, torch.square, {}), ("abs", E.abs, torch.abs, {}), ("expm1", E.expm1, torch.expm1, {}),
    ("log1p", E.log1p, torch.log1p, POS), ("tan", E.tan, torch.tan, UNIT), ("asin", E.asin, torch.asin, UNIT),
    ("atan", E.atan, torch.atan, {}), ("atanh", E.atanh, torch.atanh, UNIT), ("cosh", E.cosh, torch.cosh, {}),
    ("pow_scalar", lambda t: t ** 3, lambda t: t ** 3, {}), ("pow_frac", lambda t: t ** 1.5, lambda t: t ** 1.5, POS),
    ("hardtanh", F.hardtanh, TF.hardtanh, {}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fe,ft,dom", UNARY, ids=[u[0] for u in UNARY])
def test_unary_hvp(name, fe, ft, dom, dtype):
    check_hvp(fe, ft, rand(3, 4, **dom), dtype=dtype)


BINARY = [
    ("mul", lambda a, b: a * b), ("div", lambda a, b: a / b), ("pow", lambda a, b: a ** b),
    ("sub", lambda a, b: a - b), ("maximum", E.maximum, torch.maximum), ("atan2", E.atan2, torch.atan2),
    ("hypot", E.hypot, torch.hypot), ("logaddexp", E.logaddexp, torch.logaddexp),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op", BINARY, ids=[b[0] for b in BINARY])
def test_binary_hvp_broadcasting(op, dtype):
    fe, ft = (op[1], op[1]) if len(op) == 2 else op[1:]
    check_hvp(fe, ft, rand(3, 4, **POS), rand(4, **POS), dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 2)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3))])
def test_matmul_hvp(sa, sb, dtype):
    check_hvp(lambda a, b: E.tanh(a @ b), lambda a, b: torch.tanh(a @ b), rand(*sa), rand(*sb), dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("axis", [0, -1])
def test_softmax_hvp(axis, dtype):
    check_hvp(lambda x: F.softmax(x, dim=axis), lambda x: TF.softmax(x, axis), rand(3, 5), dtype=dtype)
    check_hvp(lambda x: F.log_softmax(x, dim=axis), lambda x: TF.log_softmax(x, axis), rand(3, 5), dtype=dtype)


# ---- losses -------------------------------------------------------------------------------------

TARGET = RNG.integers(0, 5, size=6)
CLASS_W = RNG.uniform(0.5, 2.0, size=5)
PROBS = RNG.dirichlet(np.ones(5), size=6)


def _pair(name, fe, ft, x, y):
    """A loss of (input, target) with both requiring grad."""
    return (name, fe, ft, (x, y))


def _ce(**kw):
    w = kw.pop("weighted", False)
    return (lambda x: F.cross_entropy(x, E.asarray(TARGET), weight=E.asarray(CLASS_W, dtype=x.dtype) if w else None,
                                      **kw),
            lambda x: TF.cross_entropy(x, torch.tensor(TARGET), weight=torch.tensor(CLASS_W, dtype=x.dtype) if w
                                       else None, **kw))


LOSSES = []
for _red in ("mean", "sum", "none"):
    LOSSES += [
        _pair(f"mse_{_red}", lambda a, b, r=_red: F.mse_loss(a, b, reduction=r),
              lambda a, b, r=_red: TF.mse_loss(a, b, reduction=r), rand(6, 5), rand(6, 5)),
        _pair(f"l1_{_red}", lambda a, b, r=_red: F.l1_loss(a, b, reduction=r),
              lambda a, b, r=_red: TF.l1_loss(a, b, reduction=r), rand(6, 5), rand(6, 5)),
        _pair(f"smooth_l1_{_red}", lambda a, b, r=_red: F.smooth_l1_loss(a, b, reduction=r, beta=0.5),
              lambda a, b, r=_red: TF.smooth_l1_loss(a, b, reduction=r, beta=0.5), rand(6, 5), rand(6, 5)),
        _pair(f"huber_{_red}", lambda a, b, r=_red: F.huber_loss(a, b, reduction=r, delta=0.7),
              lambda a, b, r=_red: TF.huber_loss(a, b, reduction=r, delta=0.7), rand(6, 5), rand(6, 5)),
        _pair(f"bce_{_red}", lambda a, b, r=_red: F.binary_cross_entropy(a, b, reduction=r),
              lambda a, b, r=_red: TF.binary_cross_entropy(a, b, reduction=r),
              rand(6, 5, lo=0.05, hi=0.95), rand(6, 5, lo=0.0, hi=1.0)),
        _pair(f"bce_logits_{_red}", lambda a, b, r=_red: F.binary_cross_entropy_with_logits(a, b, reduction=r),
              lambda a, b, r=_red: TF.binary_cross_entropy_with_logits(a, b, reduction=r),
              rand(6, 5), rand(6, 5, lo=0.0, hi=1.0)),
        _pair(f"kl_div_{_red}", lambda a, b, r=_red: F.kl_div(a, b, reduction=r if r != "mean" else "batchmean"),
              lambda a, b, r=_red: TF.kl_div(a, b, reduction=r if r != "mean" else "batchmean"),
              np.log(rand(6, 5, lo=0.05, hi=1.0)), rand(6, 5, lo=0.01, hi=1.0)),
        _pair(f"kl_div_log_target_{_red}", lambda a, b, r=_red: F.kl_div(a, b, reduction=r, log_target=True),
              lambda a, b, r=_red: TF.kl_div(a, b, reduction=r, log_target=True),
              np.log(rand(6, 5, lo=0.05, hi=1.0)), np.log(rand(6, 5, lo=0.01, hi=1.0))),
        _pair(f"cross_entropy_probs_{_red}", lambda a, b, r=_red: F.cross_entropy(a, b, reduction=r),
              lambda a, b, r=_red: TF.cross_entropy(a, b, reduction=r), rand(6, 5), PROBS),
    ]
    for _ls in (0.0, 0.2):
        for _w in (False, True):
            LOSSES.append((f"cross_entropy_{_red}_ls{_ls}_w{int(_w)}",
                           *_ce(reduction=_red, label_smoothing=_ls, weighted=_w), (rand(6, 5),)))
    LOSSES.append((f"nll_{_red}",
                   lambda x, r=_red: F.nll_loss(F.log_softmax(x, dim=1), E.asarray(TARGET),
                                                weight=E.asarray(CLASS_W, dtype=x.dtype), reduction=r,
                                                ignore_index=int(TARGET[0])),
                   lambda x, r=_red: TF.nll_loss(TF.log_softmax(x, 1), torch.tensor(TARGET),
                                                 weight=torch.tensor(CLASS_W, dtype=x.dtype), reduction=r,
                                                 ignore_index=int(TARGET[0])),
                   (rand(6, 5),)))
LOSSES.append(("cross_entropy_spatial_ls",
               lambda x: F.cross_entropy(x, E.asarray(TARGET.reshape(2, 3)), label_smoothing=0.1),
               lambda x: TF.cross_entropy(x, torch.tensor(TARGET.reshape(2, 3)), label_smoothing=0.1),
               (rand(2, 5, 3),)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fe,ft,arrays", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_hvp(name, fe, ft, arrays, dtype):
    check_hvp(fe, ft, *arrays, dtype=dtype)


# ---- convolution, pooling, norms ------------------------------------------------------------------

NN = [
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2),
     lambda x, w, b: TF.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2),
     ((2, 4, 6, 5), (6, 2, 3, 2), (6,))),
    ("conv2d_plain", lambda x, w: F.conv2d(x, w), lambda x, w: TF.conv2d(x, w), ((1, 2, 4, 4), (3, 2, 2, 2))),
    ("conv1d", lambda x, w: F.conv1d(x, w, stride=2, padding=2), lambda x, w: TF.conv1d(x, w, stride=2, padding=2),
     ((2, 3, 9), (4, 3, 3))),
    ("conv1d_same_bias", lambda x, w, b: F.conv1d(x, w, b, padding="same"),
     lambda x, w, b: TF.conv1d(x, w, b, padding="same"), ((2, 3, 7), (4, 3, 3), (4,))),
    ("conv2d_then_tanh", lambda x, w: E.tanh(F.conv2d(x, w, padding=1)),
     lambda x, w: torch.tanh(TF.conv2d(x, w, padding=1)), ((1, 2, 4, 3), (2, 2, 3, 3))),
    ("max_pool2d", lambda x: F.max_pool2d(x, 3, 2, 1), lambda x: TF.max_pool2d(x, 3, 2, 1), ((2, 3, 7, 6),)),
    ("max_pool2d_sq", lambda x: F.max_pool2d(x * x, 2), lambda x: TF.max_pool2d(x * x, 2), ((1, 2, 4, 6),)),
    ("max_pool1d", lambda x: F.max_pool1d(x, 3, 2, dilation=2), lambda x: TF.max_pool1d(x, 3, 2, dilation=2),
     ((2, 3, 11),)),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
     lambda x: TF.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), ((2, 3, 7, 6),)),
    ("avg_pool2d_sq", lambda x: F.avg_pool2d(x * x, 2), lambda x: TF.avg_pool2d(x * x, 2), ((1, 2, 4, 6),)),
    ("avg_pool1d", lambda x: F.avg_pool1d(x, 3, 2, 1), lambda x: TF.avg_pool1d(x, 3, 2, 1), ((2, 3, 9),)),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(E.exp(x), (3, 4)),
     lambda x: TF.adaptive_avg_pool2d(torch.exp(x), (3, 4)), ((2, 3, 7, 6),)),
    ("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 4), lambda x: TF.adaptive_avg_pool1d(x, 4),
     ((2, 3, 9),)),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (4, 5), w, b), lambda x, w, b: TF.layer_norm(x, (4, 5), w, b),
     ((3, 4, 5), (4, 5), (4, 5))),
    ("layer_norm_plain", lambda x: F.layer_norm(x, (5,)), lambda x: TF.layer_norm(x, (5,)), ((3, 4, 5),)),
    ("group_norm", lambda x, w, b: F.group_norm(x, 3, w, b), lambda x, w, b: TF.group_norm(x, 3, w, b),
     ((2, 6, 3, 2), (6,), (6,))),
    ("group_norm_1d", lambda x: F.group_norm(x, 2), lambda x: TF.group_norm(x, 2), ((3, 4, 5),)),
    ("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True, eps=1e-3),
     lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True, eps=1e-3), ((4, 3, 2, 2), (3,), (3,))),
    ("batch_norm_train_2d", lambda x, w: F.batch_norm(x, None, None, w, training=True),
     lambda x, w: TF.batch_norm(x, None, None, w, training=True), ((5, 3), (3,))),
    ("batch_norm_eval", lambda x, w, b: F.batch_norm(x * x, E.asarray([0.1, -0.3, 0.2]), E.asarray([1.5, 0.7, 2.0]),
                                                     w, b, training=False),
     lambda x, w, b: TF.batch_norm(x * x, torch.tensor([0.1, -0.3, 0.2], dtype=x.dtype),
                                   torch.tensor([1.5, 0.7, 2.0], dtype=x.dtype), w, b, training=False),
     ((4, 3, 5), (3,), (3,))),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fe,ft,shapes", NN, ids=[c[0] for c in NN])
def test_nn_hvp(name, fe, ft, shapes, dtype):
    check_hvp(fe, ft, *[rand(*s) for s in shapes], dtype=dtype)


@pytest.mark.parametrize("name,fe,ft,shapes", NN, ids=[c[0] for c in NN])
def test_nn_gradgradcheck(name, fe, ft, shapes):
    xs = [E.tensor(rand(*s), requires_grad=True) for s in shapes]
    assert A.gradgradcheck(fe, xs)


# torch's third derivatives of layer_norm and batch_norm treat the saved statistics as constants
# (torch.autograd.gradcheck of their Hessian-vector product fails), so those are checked against
# finite differences only.
@pytest.mark.parametrize("name", ["conv2d", "avg_pool2d_sq", "group_norm", "conv1d_same_bias"])
def test_nn_third_derivative_vs_torch(name):
    _, fe, ft, shapes = next(c for c in NN if c[0] == name)
    check_hvp(fe, ft, *[rand(*s) for s in shapes], order3=True)


@pytest.mark.parametrize("name", ["conv2d", "layer_norm", "batch_norm_train", "group_norm", "max_pool2d_sq"])
def test_nn_third_derivative_gradcheck(name):
    """gradcheck of (inputs) -> d/dx <d/dx <f(x), v>, u>: third derivatives against finite differences."""
    _, fe, _, shapes = next(c for c in NN if c[0] == name)
    xs = [E.tensor(rand(*s), requires_grad=True) for s in shapes]
    v = E.asarray(RNG.standard_normal(tuple(fe(*xs).shape)))
    u = E.asarray(RNG.standard_normal(shapes[0]))

    def hvp(*args):
        (g,) = A.grad(fe(*args), args[0], v, create_graph=True)
        return A.grad(E.sum(g * u), list(args), create_graph=True, allow_unused=True)

    assert A.gradcheck(lambda *a: tuple(h for h in hvp(*a) if h is not None), xs)


def test_nn_modules_double_backward_gradient_penalty():
    """A WGAN-GP style penalty: the norm of d(out)/d(input), differentiated again into the weights."""
    x = rand(2, 3, 6, 6)
    conv_w, conv_b, lin_w = rand(4, 3, 3, 3), rand(4), rand(1, 4)

    def fe(x, cw, cb, lw):
        h = F.avg_pool2d(F.silu(F.group_norm(F.conv2d(x, cw, cb, padding=1), 2)), 2)
        out = E.sum(F.linear(E.mean(h, axis=(2, 3)), lw))
        (g,) = A.grad(out, x, create_graph=True)
        return E.sum(g * g)

    def ft(x, cw, cb, lw):
        h = TF.avg_pool2d(TF.silu(TF.group_norm(TF.conv2d(x, cw, cb, padding=1), 2)), 2)
        out = TF.linear(h.mean((2, 3)), lw).sum()
        (g,) = torch.autograd.grad(out, x, create_graph=True)
        return (g * g).sum()

    xe = [E.tensor(a, requires_grad=True) for a in (x, conv_w, conv_b, lin_w)]
    xt = [torch.tensor(a, requires_grad=True) for a in (x, conv_w, conv_b, lin_w)]
    pe, pt = fe(*xe), ft(*xt)
    np.testing.assert_allclose(pe.numpy(), tnp(pt), rtol=1e-9)
    pe.backward()
    pt.backward()
    for a, b in zip(xe, xt):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6, atol=1e-9)


# ---- shape ops, cumulative ops ------------------------------------------------------------------

def _zeros_at(shape, *where):
    x = rand(*shape)
    for w in where:
        x[w] = 0.0
    return x


SHAPE = [
    ("cumprod_no_zero", lambda x: E.cumprod(x, axis=1), lambda x: x.cumprod(1),  # |x| >= 0.5: float32 divides
     rand(3, 5, lo=0.5, hi=1.5) * RNG.choice([-1.0, 1.0], size=(3, 5))),
    ("cumprod_zeros", lambda x: E.cumprod(x, axis=1), lambda x: x.cumprod(1),
     _zeros_at((4, 5), (0, 0), (1, 2), (1, 4), (2, 4), (3, 1), (3, 2))),
    ("cumprod_zeros_axis0", lambda x: E.cumprod(x, axis=0), lambda x: x.cumprod(0),
     _zeros_at((4, 3), (0, 0), (2, 0), (1, 1), (3, 2))),
    ("cumprod_zeros_flat", lambda x: E.cumprod(x), lambda x: x.reshape(-1).cumprod(0),
     _zeros_at((2, 3), (0, 1), (1, 1))),
    ("cumsum", lambda x: E.cumsum(x * x, axis=0), lambda x: (x * x).cumsum(0), rand(3, 4)),
    ("flip", lambda x: E.flip(x * x, axis=(0, 1)), lambda x: (x * x).flip(0, 1), rand(3, 4)),
    ("pad_reflect", lambda x: E.pad(x * x, (1, 2, 2, 1), mode="reflect"),
     lambda x: TF.pad(x * x, (1, 2, 2, 1), mode="reflect"), rand(2, 3, 4)),
    ("pad_constant", lambda x: E.pad(E.exp(x), (1, 2), value=1.5), lambda x: TF.pad(torch.exp(x), (1, 2), value=1.5),
     rand(2, 3, 4)),
    ("pad_circular", lambda x: E.pad(x * x, (2, 1, 1, 2), mode="circular"),
     lambda x: TF.pad(x * x, (2, 1, 1, 2), mode="circular"), rand(2, 3, 4)),
    ("roll", lambda x: E.roll(x * x, (1, -2), axis=(0, 2)), lambda x: torch.roll(x * x, (1, -2), (0, 2)),
     rand(2, 3, 4)),
    ("tile", lambda x: (x * x).repeat(2, 1, 3), lambda x: (x * x).repeat(2, 1, 3), rand(2, 3, 4)),
    ("repeat", lambda x: E.repeat(x * x, [2, 0, 1], axis=1),
     lambda x: torch.repeat_interleave(x * x, torch.tensor([2, 0, 1]), 1), rand(2, 3, 4)),
    ("sort", lambda x: E.sort(x * x, axis=1), lambda x: torch.sort(x * x, 1).values, rand(2, 3, 4)),
    ("topk", lambda x: (x * x).topk(2, dim=-1).values, lambda x: torch.topk(x * x, 2, -1).values, rand(2, 3, 4)),
    ("triu", lambda x: E.triu(x * x, k=1), lambda x: torch.triu(x * x, 1), rand(2, 3, 4)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fe,ft,x", SHAPE, ids=[c[0] for c in SHAPE])
def test_shape_hvp(name, fe, ft, x, dtype):
    check_hvp(fe, ft, x, dtype=dtype)


@pytest.mark.parametrize("name,fe,ft,x", SHAPE, ids=[c[0] for c in SHAPE])
def test_shape_gradgradcheck(name, fe, ft, x):
    assert A.gradgradcheck(fe, (E.tensor(x, requires_grad=True),))


def test_cumprod_third_derivative_with_zeros():
    check_hvp(lambda x: E.cumprod(x, axis=1), lambda x: x.cumprod(1), _zeros_at((2, 4), (0, 1), (1, 0), (1, 2)),
              order3=True)


def test_gradgradcheck_detects_a_wrong_second_derivative():
    def wrong(t):  # t^3 with the right first derivative (3 t^2) but a zero second one (not 6 t)
        c = t.detach()
        return c ** 3 + 3 * c ** 2 * (t - c)

    x = E.tensor(rand(3), requires_grad=True)
    assert A.gradcheck(wrong, (x,))
    assert not A.gradgradcheck(wrong, (x,), raise_exception=False)
