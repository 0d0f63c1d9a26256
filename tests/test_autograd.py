"""Reverse-mode autodiff: every covered op's gradient against PyTorch, gradcheck in float64,
second derivatives, accumulation, retain_graph, in-place checks, hooks, grad modes, errors."""
import numpy as np
import pytest
import torch

import ember as E
import ember.autograd as A

RNG = np.random.default_rng(1234)
TOL = {np.float64: dict(rtol=1e-6, atol=1e-9), np.float32: dict(rtol=1e-4, atol=1e-5)}


def leaves(arrays):
    es, ts = [], []
    for a in arrays:
        if a.dtype.kind == "f":
            e = E.asarray(a.copy())
            e.requires_grad = True
            t = torch.tensor(a.copy(), requires_grad=True)
        else:
            e, t = E.asarray(a.copy()), torch.tensor(a.copy())
        es.append(e)
        ts.append(t)
    return es, ts


def check_grad(fe, ft, *arrays, dtype=np.float64, seed_grad=True):
    """Gradients of fe (ember) and ft (torch) at arrays agree, for a random output gradient."""
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    es, ts = leaves(arrays)
    oe, ot = fe(*es), ft(*ts)
    np.testing.assert_allclose(oe.numpy(), ot.detach().numpy(), **TOL[dtype])
    g = RNG.standard_normal(tuple(ot.shape)).astype(dtype)
    oe.backward(E.asarray(g))
    ot.backward(torch.tensor(g))
    for e, t in zip(es, ts):
        if t.grad is None:
            continue
        assert e.grad is not None
        assert e.grad.shape == tuple(t.shape) and e.grad.dtype == e.dtype
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), **TOL[dtype])


def rand(*shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, size=shape)


POS = dict(lo=0.2, hi=2.0)
UNIT = dict(lo=-0.9, hi=0.9)
UNARY = [  # (ember fn, torch fn, domain)
    ("neg", E.negative, torch.neg, {}), ("abs", E.abs, torch.abs, {}), ("exp", E.exp, torch.exp, {}),
    ("expm1", E.expm1, torch.expm1, {}), ("exp2", E.exp2, torch.exp2, {}), ("log", E.log, torch.log, POS),
    ("log1p", E.log1p, torch.log1p, POS), ("log2", E.log2, torch.log2, POS), ("log10", E.log10, torch.log10, POS),
    ("sqrt", E.sqrt, torch.sqrt, POS), ("rsqrt", E.rsqrt, torch.rsqrt, POS), ("square", E.square, torch.square, {}),
    ("reciprocal", E.reciprocal, torch.reciprocal, POS), ("sin", E.sin, torch.sin, {}), ("cos", E.cos, torch.cos, {}),
    ("tan", E.tan, torch.tan, UNIT), ("asin", E.asin, torch.asin, UNIT), ("acos", E.acos, torch.acos, UNIT),
    ("atan", E.atan, torch.atan, {}), ("sinh", E.sinh, torch.sinh, {}), ("cosh", E.cosh, torch.cosh, {}),
    ("tanh", E.tanh, torch.tanh, {}), ("asinh", E.asinh, torch.asinh, {}),
    ("acosh", E.acosh, torch.acosh, dict(lo=1.2, hi=3.0)), ("atanh", E.atanh, torch.atanh, UNIT),
    ("sigmoid", E.sigmoid, torch.sigmoid, {}), ("relu", E.relu, torch.relu, {}),
    ("leaky_relu", lambda x: E.leaky_relu(x, 0.1), lambda x: torch.nn.functional.leaky_relu(x, 0.1), {}),
    ("elu", lambda x: E.elu(x, 0.7), lambda x: torch.nn.functional.elu(x, 0.7), {}),
    ("gelu", E.gelu, torch.nn.functional.gelu, {}),
    ("gelu_tanh", E.gelu_tanh, lambda x: torch.nn.functional.gelu(x, approximate="tanh"), {}),
    ("silu", E.silu, torch.nn.functional.silu, {}),
    ("softplus", lambda x: E.softplus(x, 2.0), lambda x: torch.nn.functional.softplus(x, 2.0), {}),
    ("erf", E.erf, torch.erf, {}), ("floor", E.floor, torch.floor, {}), ("sign", E.sign, torch.sign, {}),
    ("positive", E.positive, torch.positive, {}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fe,ft,dom", UNARY, ids=[u[0] for u in UNARY])
def test_unary_grad(name, fe, ft, dom, dtype):
    check_grad(fe, ft, rand(3, 4, **dom), dtype=dtype)


BINARY = [
    ("add", lambda a, b: a + b, {}), ("sub", lambda a, b: a - b, {}), ("mul", lambda a, b: a * b, {}),
    ("div", lambda a, b: a / b, POS), ("pow", None, POS), ("maximum", None, {}), ("minimum", None, {}),
    ("atan2", None, {}), ("hypot", None, {}), ("logaddexp", None, {}), ("remainder", None, POS),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 4)), ((), (3,))])
@pytest.mark.parametrize("name,op,dom", BINARY, ids=[b[0] for b in BINARY])
def test_binary_grad_broadcasting(name, op, dom, shapes, dtype):
    fe = op or getattr(E, name)
    ft = op or getattr(torch, name)
    a, b = rand(*shapes[0], **dom), rand(*shapes[1], **dom)
    if name == "remainder":  # away from the jumps
        a, b = a + 3.0, b + 1.0
    check_grad(fe, ft, a, b, dtype=dtype)


def test_max_min_ties_split_like_torch():
    a = np.array([1.0, 2.0, 3.0, 3.0])
    b = np.array([1.0, 5.0, 0.0, 3.0])
    check_grad(E.maximum, torch.maximum, a, b)
    check_grad(E.minimum, torch.minimum, a, b)


def test_scalar_operands_and_mixed_dtypes():
    check_grad(lambda x: 2 * x ** 3 - x / 4 + 1, lambda x: 2 * x ** 3 - x / 4 + 1, rand(5))
    check_grad(lambda x: (x * 2.5).sum(), lambda x: (x * 2.5).sum(), rand(2, 3), dtype=np.float32)


def test_where_and_clip():
    c = rand(3, 4) > 0
    check_grad(lambda a, b: E.where(E.asarray(c), a, b), lambda a, b: torch.where(torch.tensor(c), a, b),
               rand(3, 4), rand(4))
    check_grad(lambda x: E.clip(x, -0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7), rand(4, 5))


REDUCE = [
    ("sum", lambda x, ax, kd: E.sum(x, axis=ax, keepdims=kd), lambda x, ax, kd: x.sum(dim=ax, keepdim=kd)),
    ("mean", lambda x, ax, kd: E.mean(x, axis=ax, keepdims=kd), lambda x, ax, kd: x.mean(dim=ax, keepdim=kd)),
    ("prod", lambda x, ax, kd: E.prod(x, axis=ax, keepdims=kd),
     lambda x, ax, kd: x.prod(dim=ax, keepdim=kd) if isinstance(ax, int) else x.prod() if ax is None else
     x.prod(dim=ax[1], keepdim=kd).prod(dim=ax[0], keepdim=kd)),
    ("max", lambda x, ax, kd: E.max(x, axis=ax, keepdims=kd), lambda x, ax, kd: x.amax(dim=ax or (), keepdim=kd)),
    ("min", lambda x, ax, kd: E.min(x, axis=ax, keepdims=kd), lambda x, ax, kd: x.amin(dim=ax or (), keepdim=kd)),
    ("var", lambda x, ax, kd: E.var(x, axis=ax, keepdims=kd, correction=1),
     lambda x, ax, kd: x.var(dim=ax, keepdim=kd, correction=1)),
    ("std", lambda x, ax, kd: E.std(x, axis=ax, keepdims=kd), lambda x, ax, kd: x.std(dim=ax, keepdim=kd, correction=0)),
    ("logsumexp", lambda x, ax, kd: E.logsumexp(x, axis=ax, keepdims=kd),
     lambda x, ax, kd: torch.logsumexp(x, dim=ax if ax is not None else (0, 1, 2), keepdim=kd)),
    ("norm2", lambda x, ax, kd: E.vector_norm(x, axis=ax, keepdims=kd),
     lambda x, ax, kd: torch.linalg.vector_norm(x, dim=ax, keepdim=kd)),
    ("norm3", lambda x, ax, kd: E.vector_norm(x, axis=ax, keepdims=kd, ord=3),
     lambda x, ax, kd: torch.linalg.vector_norm(x, 3, dim=ax, keepdim=kd)),
    ("norm1", lambda x, ax, kd: E.vector_norm(x, axis=ax, keepdims=kd, ord=1),
     lambda x, ax, kd: torch.linalg.vector_norm(x, 1, dim=ax, keepdim=kd)),
    ("norminf", lambda x, ax, kd: E.vector_norm(x, axis=ax, keepdims=kd, ord=float("inf")),
     lambda x, ax, kd: torch.linalg.vector_norm(x, float("inf"), dim=ax, keepdim=kd)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), (1, True), ((0, 2), False)])
@pytest.mark.parametrize("name,fe,ft", REDUCE, ids=[r[0] for r in REDUCE])
def test_reduce_grad(name, fe, ft, axis, keepdims, dtype):
    x = rand(2, 3, 4)
    check_grad(lambda t: fe(t, axis, keepdims), lambda t: ft(t, axis, keepdims), x, dtype=dtype)


def test_max_ties_like_amax():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    check_grad(lambda t: E.max(t, axis=1), lambda t: t.amax(dim=1), x)
    check_grad(lambda t: E.max(t), lambda t: t.amax(), x)


def test_prod_with_zeros():
    for x in ([1.0, 0.0, 3.0, 2.0], [0.0, 2.0, 0.0, 1.0], [1.5, 2.0, -1.0, 3.0]):
        check_grad(lambda t: E.prod(t), lambda t: t.prod(), np.array(x))


def test_cumsum_cumprod_grad():
    check_grad(lambda t: E.cumsum(t, axis=1), lambda t: t.cumsum(1), rand(3, 4))
    check_grad(lambda t: E.cumsum(t), lambda t: t.reshape(-1).cumsum(0), rand(3, 4))
    check_grad(lambda t: E.cumprod(t, axis=0), lambda t: t.cumprod(0), rand(3, 4, **POS))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cumsum_cumprod_grad_float32_and_negative(dtype):
    check_grad(lambda t: E.cumsum(t, axis=-1), lambda t: t.cumsum(-1), rand(2, 3, 4), dtype=dtype)
    check_grad(lambda t: E.cumprod(t, axis=1), lambda t: t.cumprod(1), rand(2, 5, 3), dtype=dtype)


CUMPROD_ZEROS = [  # one zero at the start / middle / end, several zeros, all zeros
    [0.0, 2.0, -1.5, 3.0], [1.5, 0.0, 3.0, 2.0], [2.0, 3.0, -4.0, 0.0], [0.0, 2.0, 0.0, 1.0],
    [1.0, 0.0, 0.0, 3.0], [2.0, 0.0, 1.5, 0.0, -2.0], [0.0, 0.0, 0.0],
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x", CUMPROD_ZEROS, ids=[str(i) for i in range(len(CUMPROD_ZEROS))])
def test_cumprod_grad_with_zeros(x, dtype):
    check_grad(lambda t: E.cumprod(t, axis=0), lambda t: t.cumprod(0), np.array(x), dtype=dtype)


def test_cumprod_grad_with_zeros_2d_and_flat():
    x = rand(4, 5)
    x[0, 0] = x[1, 2] = x[1, 4] = x[2, 4] = x[3, 1] = x[3, 2] = 0.0
    check_grad(lambda t: E.cumprod(t, axis=1), lambda t: t.cumprod(1), x)
    check_grad(lambda t: E.cumprod(t, axis=0), lambda t: t.cumprod(0), x)
    check_grad(lambda t: E.cumprod(t), lambda t: t.reshape(-1).cumprod(0), x)
    xe = E.asarray(x)
    xe.requires_grad = True
    assert A.gradcheck(lambda t: E.cumprod(t, axis=1), (xe,))


# ---- pad, roll, tile/repeat, sort, topk ---------------------------------------------------------

TF = torch.nn.functional
REMAPS = [
    ("pad_constant", lambda x: E.pad(x, (1, 2)), lambda x: TF.pad(x, (1, 2))),
    ("pad_constant_value", lambda x: E.pad(x, (0, 1, 2, 0, 1, 1), value=2.5),
     lambda x: TF.pad(x, (0, 1, 2, 0, 1, 1), value=2.5)),
    ("pad_reflect", lambda x: E.pad(x, (2, 3, 1, 2), mode="reflect"),
     lambda x: TF.pad(x, (2, 3, 1, 2), mode="reflect")),
    ("pad_replicate", lambda x: E.pad(x, (3, 1, 0, 2), mode="replicate"),
     lambda x: TF.pad(x, (3, 1, 0, 2), mode="replicate")),
    ("pad_circular", lambda x: E.pad(x, (2, 4, 1, 3), mode="circular"),
     lambda x: TF.pad(x, (2, 4, 1, 3), mode="circular")),
    ("roll", lambda x: E.roll(x, 2, axis=1), lambda x: torch.roll(x, 2, 1)),
    ("roll_axes", lambda x: E.roll(x, (1, -3), axis=(0, 2)), lambda x: torch.roll(x, (1, -3), (0, 2))),
    ("roll_flat", lambda x: E.roll(x, 5), lambda x: torch.roll(x, 5)),
    ("Tensor.repeat", lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3)),
    ("Tensor.repeat_new_dims", lambda x: x.repeat(2, 2, 1, 3), lambda x: x.repeat(2, 2, 1, 3)),
    ("tile", lambda x: E.tile(x, (2, 3)), lambda x: torch.tile(x, (2, 3))),
    ("repeat", lambda x: E.repeat(x, 2, axis=1), lambda x: torch.repeat_interleave(x, 2, 1)),
    ("repeat_counts", lambda x: E.repeat(x, [1, 0, 3], axis=1),
     lambda x: torch.repeat_interleave(x, torch.tensor([1, 0, 3]), 1)),
    ("repeat_flat", lambda x: E.repeat(x, 2), lambda x: torch.repeat_interleave(x, 2)),
    ("sort", lambda x: E.sort(x, axis=1), lambda x: torch.sort(x, 1).values),
    ("sort_desc", lambda x: x.sort(dim=-1, descending=True).values, lambda x: torch.sort(x, -1, True).values),
    ("sort_pair", lambda x: x.sort(dim=0).values * 2, lambda x: torch.sort(x, 0).values * 2),
    ("topk", lambda x: x.topk(2, dim=1).values, lambda x: torch.topk(x, 2, 1).values),
    ("topk_smallest", lambda x: E.topk(x, 3, axis=-1, largest=False).values,
     lambda x: torch.topk(x, 3, -1, largest=False).values),
    ("tril", lambda x: E.tril(x, k=1), lambda x: torch.tril(x, 1)),
    ("triu", lambda x: x.triu(-1), lambda x: x.triu(-1)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fe,ft", REMAPS, ids=[r[0] for r in REMAPS])
def test_remap_and_sort_grad(name, fe, ft, dtype):
    check_grad(fe, ft, rand(2, 3, 4), dtype=dtype)


@pytest.mark.parametrize("name,fe,ft", REMAPS, ids=[r[0] for r in REMAPS])
def test_remap_and_sort_gradcheck(name, fe, ft):
    assert A.gradcheck(fe, (f64(2, 3, 4),))


def test_remap_node_names_and_sort_ties():
    x = f64(2, 3, 4)
    assert E.pad(x, (1, 1)).grad_fn.name() == "ConstantPadNdBackward0"
    assert E.roll(x, 1, axis=0).grad_fn.name() == "RollBackward0"
    assert x.repeat(1, 2, 1).grad_fn.name() == "RepeatBackward0"
    assert E.sort(x).grad_fn.name() == "SortBackward0"
    assert x.topk(1).values.grad_fn.name() == "TopkBackward0"
    assert E.tril(x).grad_fn.name() == "TrilBackward0"
    # ties: each position gets the gradient of the one output it went to (stable order, as torch)
    check_grad(lambda t: E.sort(t, axis=0) * E.asarray(np.arange(5.0)),
               lambda t: torch.sort(t, dim=0, stable=True).values * torch.arange(5.0, dtype=t.dtype),
               np.array([2.0, 1.0, 2.0, 1.0, 2.0]))
    # integer inputs still sort, without a graph
    assert not E.sort(E.asarray([3, 1, 2])).requires_grad


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((4,), (4, 3)), ((3, 4), (4,)),
                                   ((4,), (4,)), ((2, 1, 3, 4), (5, 4, 2))])
def test_matmul_grad(sa, sb, dtype):
    check_grad(lambda a, b: a @ b, lambda a, b: a @ b, rand(*sa), rand(*sb), dtype=dtype)


VIEWS = [
    ("reshape", lambda x: E.reshape(x, (4, 6)), lambda x: x.reshape(4, 6)),
    ("permute", lambda x: E.permute_dims(x, (2, 0, 1)), lambda x: x.permute(2, 0, 1)),
    ("transpose", lambda x: E.matrix_transpose(x), lambda x: x.transpose(-1, -2)),
    ("expand", lambda x: E.broadcast_to(E.reshape(x, (2, 1, 3, 4)), (2, 5, 3, 4)),
     lambda x: x.reshape(2, 1, 3, 4).expand(2, 5, 3, 4)),
    ("squeeze_unsqueeze", lambda x: E.squeeze(E.expand_dims(x, axis=1), 1),
     lambda x: x.unsqueeze(1).squeeze(1)),
    ("flatten", lambda x: E.flatten(x, 1), lambda x: x.flatten(1)),
    ("flip", lambda x: E.flip(x, axis=(0, 2)), lambda x: x.flip(0, 2)),
    ("split", lambda x: E.split(x, [1, 2], 1)[1] * 2, lambda x: x.split([1, 2], 1)[1] * 2),
    ("unstack", lambda x: E.unstack(x, axis=1)[2], lambda x: x.unbind(1)[2]),
]


@pytest.mark.parametrize("name,fe,ft", VIEWS, ids=[v[0] for v in VIEWS])
def test_view_grad(name, fe, ft):
    check_grad(fe, ft, rand(2, 3, 4))


def test_views_of_views_accumulate():
    check_grad(lambda x: E.matrix_transpose(x) * E.flip(x, axis=(0,)).mT + x,
               lambda x: x.mT * x.flip(0).mT + x, rand(3, 3))


def test_cat_stack_grad():
    check_grad(lambda a, b, c: E.concat([a, b, c], axis=1), lambda a, b, c: torch.cat([a, b, c], 1),
               rand(2, 1), rand(2, 3), rand(2, 2))
    check_grad(lambda a, b: E.stack([a, b], axis=-1), lambda a, b: torch.stack([a, b], -1), rand(2, 3), rand(2, 3))
    many = [rand(2) for _ in range(6)]
    check_grad(lambda *xs: E.concat(list(xs)), lambda *xs: torch.cat(list(xs)), *many)


def test_gather_index_select_scatter_grad():
    idx = RNG.integers(0, 4, size=(3, 5))
    check_grad(lambda x: E.take_along_axis(x, E.asarray(idx), axis=1),
               lambda x: torch.gather(x, 1, torch.tensor(idx)), rand(3, 4))
    sel = np.array([2, 0, 2, 3])
    check_grad(lambda x: E.index_select(x, 1, E.asarray(sel)), lambda x: torch.index_select(x, 1, torch.tensor(sel)),
               rand(3, 4))
    si = np.array([[0, 1, 1], [2, 0, 0]])
    check_grad(lambda x, s: E.scatter_add(x, 1, E.asarray(si), s),
               lambda x, s: torch.scatter_add(x, 1, torch.tensor(si), s), rand(2, 4), rand(2, 3))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_grad(axis, dtype):
    check_grad(lambda x: E.softmax(x, axis=axis), lambda x: torch.softmax(x, axis), rand(3, 5), dtype=dtype)
    check_grad(lambda x: E.log_softmax(x, axis=axis), lambda x: torch.log_softmax(x, axis), rand(3, 5), dtype=dtype)


def test_mlp_step_matches_torch():
    x, w1, b1, w2 = rand(8, 5), rand(5, 6), rand(6), rand(6, 3)
    y = RNG.integers(0, 3, size=8)

    def fe(x, w1, b1, w2):
        h = E.tanh(x @ w1 + b1)
        lp = E.log_softmax(h @ w2, axis=1)
        return -E.mean(E.take_along_axis(lp, E.asarray(y.reshape(-1, 1)), axis=1))

    def ft(x, w1, b1, w2):
        h = torch.tanh(x @ w1 + b1)
        return torch.nn.functional.nll_loss(torch.log_softmax(h @ w2, 1), torch.tensor(y))

    check_grad(fe, ft, x, w1, b1, w2)


# ---- gradcheck, higher order ---------------------------------------------------------------


def f64(*shape, requires_grad=True, **dom):
    t = E.asarray(rand(*shape, **dom))
    t.requires_grad = requires_grad
    return t


def test_gradcheck_float64():
    assert A.gradcheck(lambda a, b: E.tanh(a @ b) * E.exp(b.sum()), (f64(2, 3), f64(3, 2)))
    assert A.gradcheck(lambda x: E.softmax(x, axis=0) * E.logsumexp(x), (f64(4, 2),))
    assert A.gradcheck(lambda x: E.sqrt(x).prod(), (f64(3, **POS),))


def test_gradcheck_detects_a_wrong_gradient():
    x = f64(3)

    def wrong(t):
        y = t * 2
        y.register_hook(lambda g: g * 3)  # corrupts the backward, not the forward
        return y

    with pytest.raises(A.GradcheckError):
        A.gradcheck(wrong, (x,))
    assert not A.gradcheck(wrong, (x,), raise_exception=False)


@pytest.mark.parametrize("fn", [
    lambda x: E.sin(x) * E.exp(x), lambda x: E.tanh(x) / (x * x + 1), lambda x: E.sigmoid(x) ** 3,
    lambda x: E.gelu(x), lambda x: E.softmax(x, axis=-1), lambda x: E.log_softmax(x, axis=0),
    lambda x: x @ E.matrix_transpose(x), lambda x: E.logsumexp(x, axis=1), lambda x: E.std(x, axis=0),
])
def test_gradgradcheck(fn):
    assert A.gradgradcheck(fn, (f64(3, 3),))


def test_second_derivative_vs_torch():
    x = rand(4)
    xe = E.asarray(x)
    xe.requires_grad = True
    xt = torch.tensor(x, requires_grad=True)
    (ge,) = A.grad(E.sum(E.sin(xe) * xe ** 2), xe, create_graph=True)
    (gt,) = torch.autograd.grad((torch.sin(xt) * xt ** 2).sum(), xt, create_graph=True)
    assert ge.requires_grad
    (he,) = A.grad(E.sum(ge), xe)
    (ht,) = torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(he.numpy(), ht.numpy(), rtol=1e-10)


def test_hessian_vector_product_matmul_softmax():
    W, v = rand(3, 3), rand(3)
    xe, xt = E.asarray(rand(3)), None
    xt = torch.tensor(xe.numpy().copy(), requires_grad=True)
    xe.requires_grad = True
    le = E.sum(E.softmax(E.asarray(W) @ xe, axis=0) ** 2)
    lt = (torch.softmax(torch.tensor(W) @ xt, 0) ** 2).sum()
    (ge,) = A.grad(le, xe, create_graph=True)
    (gt,) = torch.autograd.grad(lt, xt, create_graph=True)
    (hve,) = A.grad(ge, xe, grad_outputs=E.asarray(v))
    (hvt,) = torch.autograd.grad(gt, xt, grad_outputs=torch.tensor(v))
    np.testing.assert_allclose(hve.numpy(), hvt.numpy(), rtol=1e-9, atol=1e-12)


# ---- requires_grad= on creation functions ----------------------------------------------------

CREATION = [
    ("tensor", lambda **k: E.tensor([1.0, 2.0], **k), lambda **k: torch.tensor([1.0, 2.0], **k)),
    ("asarray", lambda **k: E.asarray(np.ones(3), **k), lambda **k: torch.asarray(np.ones(3), **k)),
    ("zeros", lambda **k: E.zeros((2, 3), **k), lambda **k: torch.zeros((2, 3), **k)),
    ("ones", lambda **k: E.ones(3, **k), lambda **k: torch.ones(3, **k)),
    ("full", lambda **k: E.full((2,), 1.5, **k), lambda **k: torch.full((2,), 1.5, **k)),
    ("empty", lambda **k: E.empty((2, 2), **k), lambda **k: torch.empty((2, 2), **k)),
    ("zeros_like", lambda **k: E.zeros_like(E.ones(2), **k), lambda **k: torch.zeros_like(torch.ones(2), **k)),
    ("ones_like", lambda **k: E.ones_like(E.ones(2), **k), lambda **k: torch.ones_like(torch.ones(2), **k)),
    ("full_like", lambda **k: E.full_like(E.ones(2), 3.0, **k), lambda **k: torch.full_like(torch.ones(2), 3.0, **k)),
    ("empty_like", lambda **k: E.empty_like(E.ones(2), **k), lambda **k: torch.empty_like(torch.ones(2), **k)),
    ("arange", lambda **k: E.arange(0.0, 3.0, **k), lambda **k: torch.arange(0.0, 3.0, **k)),
    ("linspace", lambda **k: E.linspace(0, 1, 5, **k), lambda **k: torch.linspace(0, 1, 5, **k)),
    ("eye", lambda **k: E.eye(3, **k), lambda **k: torch.eye(3, **k)),
    ("rand", lambda **k: E.random.rand(2, 3, **k), lambda **k: torch.rand(2, 3, **k)),
    ("randn", lambda **k: E.random.randn(4, **k), lambda **k: torch.randn(4, **k)),
]


@pytest.mark.parametrize("name,fe,ft", CREATION, ids=[c[0] for c in CREATION])
def test_creation_requires_grad(name, fe, ft):
    for flag in (True, False):
        e, t = fe(requires_grad=flag), ft(requires_grad=flag)
        assert e.requires_grad is t.requires_grad is flag
        assert e.is_leaf and e.grad_fn is None and e.grad is None
    e = fe(requires_grad=True)
    (e * 3).sum().backward()
    np.testing.assert_array_equal(e.grad.numpy(), np.full(e.shape, 3.0, e.numpy().dtype))
    assert not fe().requires_grad


@pytest.mark.parametrize("fe,ft", [
    (lambda: E.tensor([1, 2], requires_grad=True), lambda: torch.tensor([1, 2], requires_grad=True)),
    (lambda: E.zeros(3, dtype=E.int64, requires_grad=True),
     lambda: torch.zeros(3, dtype=torch.int64, requires_grad=True)),
    (lambda: E.arange(3, requires_grad=True), lambda: torch.arange(3, requires_grad=True)),
    (lambda: E.full((2,), True, requires_grad=True), lambda: torch.full((2,), True, requires_grad=True)),
    (lambda: E.ones_like(E.asarray([1, 2]), requires_grad=True),
     lambda: torch.ones_like(torch.tensor([1, 2]), requires_grad=True)),
    (lambda: E.asarray([1, 2], requires_grad=True), lambda: torch.asarray([1, 2], requires_grad=True)),
])
def test_creation_requires_grad_needs_a_float_dtype(fe, ft):
    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        ft()
    # ember maps every dtype error to TypeError; the message is torch's
    with pytest.raises(TypeError, match="Only Tensors of floating point dtype can require gradients"):
        fe()


def test_creation_requires_grad_semantics():
    x = E.tensor([1.0, 2.0], requires_grad=True)
    y = E.tensor(x * 2)  # a copy of a tensor is a new leaf without a graph, as torch.tensor
    assert not y.requires_grad and y.is_leaf
    np.testing.assert_array_equal(y.numpy(), [2.0, 4.0])
    t = E.ones(3)
    assert E.asarray(t, requires_grad=True) is t and t.requires_grad  # torch.asarray changes t itself
    d = E.asarray(x * 2, requires_grad=False)
    assert not d.requires_grad and d.grad_fn is None
    assert E.asarray(x * 2).grad_fn is not None  # None keeps the graph
    with pytest.raises(TypeError, match="requires_grad must be a bool"):
        E.zeros(2, requires_grad=1)


# ---- engine behaviour ------------------------------------------------------------------------


def test_attributes_and_leaf_rules():
    x = E.asarray(np.ones(3, np.float32))
    assert x.requires_grad is False and x.grad is None and x.is_leaf and x.grad_fn is None
    x.requires_grad = True
    y = x * 2 + 1
    assert y.requires_grad and not y.is_leaf
    assert y.grad_fn.name() == "AddBackward0"
    assert y.grad_fn.next_functions[0][0].name() == "MulBackward0"
    assert y.grad_fn.next_functions[0][0].next_functions[0][0].name() == "AccumulateGrad"
    with pytest.raises(TypeError):
        E.asarray(np.ones(3, np.int64)).requires_grad = True
    with pytest.raises(ValueError, match="not a leaf"):
        y.requires_grad = False
    assert x.requires_grad_(False) is x and not x.requires_grad


def test_grad_is_settable():
    p = E.asarray(np.ones(3, np.float32))
    g = E.asarray(np.full(3, 0.5, np.float32))
    p.grad = g
    np.testing.assert_array_equal(p.grad.numpy(), [0.5, 0.5, 0.5])
    p.grad = None
    assert p.grad is None
    with pytest.raises(ValueError, match="shape"):
        p.grad = E.asarray(np.ones(2, np.float32))
    with pytest.raises(TypeError):
        p.grad = E.asarray(np.ones(3, np.float64))
    with pytest.raises(TypeError):
        p.grad = [1, 2, 3]


def test_accumulation_and_zeroing():
    x = f64(3)
    for _ in range(3):
        (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())
    x.grad = None
    E.sum(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones(3))


def test_grad_does_not_alias_user_tensors():
    x = f64(3)
    g = E.asarray(np.ones(3))
    (x + 0).backward(g)
    g2 = x.grad
    with E.no_grad():
        g2 += 1  # in-place on .grad is allowed and must not touch g
    np.testing.assert_array_equal(g.numpy(), np.ones(3))


def test_retain_graph():
    x = f64(3)
    y = E.sum(E.exp(x))
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(x.numpy()))
    with pytest.raises(ValueError, match="second time"):
        y.backward()


def test_inplace_modification_is_detected():
    x = f64(3)
    y = E.exp(x)
    s = E.sum(y * 1)
    with E.no_grad():
        y[0] = 5.0 if False else y[0]  # a no-op read-back through indexing
        y += 1
    with pytest.raises(ValueError, match="modified in place"):
        s.backward()


def test_inplace_on_leaf_requiring_grad():
    x = f64(3)
    with pytest.raises(ValueError, match="leaf"):
        x += 1
    with E.no_grad():
        x -= 1  # an optimiser update


def test_hooks():
    x = f64(3)
    seen = []
    h = x.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = x * 3
    y.register_hook(lambda g: g * 2)
    E.sum(y).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 6.0))
    np.testing.assert_allclose(seen[0], np.full(3, 6.0))
    h.remove()
    E.sum(x).backward()
    assert len(seen) == 1

    def bad(g):
        raise RuntimeError("boom")

    z = f64(2)
    z.register_hook(bad)
    with pytest.raises(RuntimeError, match="boom"):
        E.sum(z * 2).backward()


def test_retain_grad():
    x = f64(3)
    y = x * 2
    y.retain_grad()
    E.sum(y * y).backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.numpy())


def test_no_grad_enable_grad_inference_mode():
    x = f64(2)
    with E.no_grad():
        assert not E.is_grad_enabled()
        y = x * 2
        with E.enable_grad():
            z = x * 2
    assert not y.requires_grad and z.requires_grad and E.is_grad_enabled()

    @E.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    with E.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert E.is_grad_enabled()
    with E.inference_mode():
        assert E.is_inference_mode_enabled()
        with E.enable_grad():
            assert not (x * 2).requires_grad
    assert not E.is_inference_mode_enabled() and (x * 2).requires_grad


def test_detach():
    x = f64(3)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.numpy(), y.numpy())
    y.detach_()
    assert y.is_leaf and not y.requires_grad


def test_autograd_grad_and_backward_functions():
    a, b = f64(3), f64(3)
    out = E.sum(a * b)
    ga, gb = A.grad(out, [a, b], retain_graph=True)
    np.testing.assert_allclose(ga.numpy(), b.numpy())
    assert a.grad is None
    c = f64(2)
    with pytest.raises(ValueError, match="allow_unused"):
        A.grad(out, [a, c], retain_graph=True)
    assert A.grad(out, [a, c], allow_unused=True, retain_graph=True)[1] is None
    A.backward([out, E.sum(a)], None)
    np.testing.assert_allclose(a.grad.numpy(), b.numpy() + 1)


def test_errors_are_clear():
    x = f64(3)
    with pytest.raises(ValueError, match="one-element"):
        (x * 2).backward()
    with pytest.raises(ValueError, match="does not require grad"):
        E.asarray(np.ones(1)).backward()
    with pytest.raises(ValueError, match="shape"):
        (x * 2).backward(E.asarray(np.ones(2)))
    with pytest.raises(TypeError):
        x.register_hook(3)


@pytest.mark.parametrize("key", [
    (slice(None), 1), (slice(1, None), slice(None, None, -2)), (0,), (Ellipsis, None, 2), (np.array([2, 0, 2]),),
    (slice(None), np.array([1, 3, 1])), (np.array([0, 1]), np.array([3, 2])),
], ids=["slice_int", "negstep", "int", "newaxis", "fancy0", "fancy1", "fancy_pair"])
def test_python_indexing_grad(key):
    ek = tuple(E.asarray(k) if isinstance(k, np.ndarray) else k for k in key)
    tk = tuple(torch.tensor(k) if isinstance(k, np.ndarray) else k for k in key)
    if len(key) == 2 and isinstance(key[1], slice) and key[1].step == -2:  # torch has no negative steps
        check_grad(lambda x: x[ek] * 1, lambda x: x[1:].flip(1)[:, ::2] * 1, rand(3, 4))
        return
    check_grad(lambda x: x[ek] * 1, lambda x: x[tk] * 1, rand(3, 4))


def test_indexing_of_a_transposed_view_and_second_order():
    check_grad(lambda x: x.mT[1:, 0] ** 2, lambda x: x.mT[1:, 0] ** 2, rand(3, 4))
    assert A.gradgradcheck(lambda x: x[1:, ::2] ** 3, (f64(3, 4),))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_masked_select_and_boolean_index_gradients(dtype):
    """x.masked_select(mask) (mask broadcast to x) and x[mask] record a gather,
    so the gradient is a scatter of g into the selected positions, as torch."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4)).astype(dtype)
    tol = dict(rtol=1e-6) if dtype == "float64" else dict(rtol=1e-5)
    cases = [("masked_select", x > 0), ("masked_select", np.array([True, False, True, True])),
             ("getitem", x > 0)]
    for how, mask in cases:
        ex = E.asarray(x.copy())
        ex.requires_grad = True
        tx = torch.tensor(x, requires_grad=True)
        if how == "masked_select":
            ye, yt = ex.masked_select(E.asarray(mask)), tx.masked_select(torch.from_numpy(mask))
        else:
            ye, yt = ex[E.asarray(mask)], tx[torch.from_numpy(mask)]
        r = rng.standard_normal(tuple(yt.shape)).astype(dtype)
        (ye * E.asarray(r)).sum().backward()
        (yt * torch.from_numpy(r)).sum().backward()
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), err_msg=how, **tol)
        np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), err_msg=how, **tol)
    xe = E.asarray(x.astype(np.float64))
    xe.requires_grad = True
    m = E.asarray(x > 0)
    assert A.gradgradcheck(lambda t: t.masked_select(m) ** 3, (xe,))
