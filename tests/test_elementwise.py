"""Elementwise functions (unary, binary, where, clip) against NumPy, SciPy and
PyTorch: values, result dtypes (docs/dtypes.md), layouts, Python-scalar weak
typing, in-place operators and error messages."""
import inspect
import re
import warnings

import numpy as np
import pytest
import scipy.special as sp
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import ember
from conftest import ALL_DTYPES, FLOAT_DTYPES, INT_DTYPES, assert_same, layouts, sample

ORDER = ALL_DTYPES  # bool < uint8 < int8 < int32 < int64 < float32 < float64


def promote(a, b):
    """em_promote_types: bool < ints < floats; u8+i8 -> i32; float with int keeps the float."""
    if a == b:
        return a
    a, b = sorted((a, b), key=ORDER.index)
    if a == "bool":
        return b
    if b in FLOAT_DTYPES:
        return "float64" if a in FLOAT_DTYPES else b
    return "int32" if (a, b) == ("uint8", "int8") else b


def _torch(f, **kw):
    return lambda x: f(torch.from_numpy(np.asarray(x, dtype=np.float64)), **kw).numpy()


# op -> (dtype class, reference on float64 or same-dtype input)
#   keep: every dtype, same dtype out; num: no bool; flt: ints/bool compute in float32;
#   test: bool out; bits: bool and ints only
UNARY = {
    "neg": ("num", np.negative), "positive": ("keep", np.copy), "abs": ("keep", np.abs),
    "sign": ("keep", lambda x: x if x.dtype == bool else np.sign(x)),
    "exp": ("flt", np.exp), "expm1": ("flt", np.expm1), "exp2": ("flt", np.exp2), "log": ("flt", np.log),
    "log1p": ("flt", np.log1p), "log2": ("flt", np.log2), "log10": ("flt", np.log10), "sqrt": ("flt", np.sqrt),
    "rsqrt": ("flt", lambda x: 1 / np.sqrt(x)), "square": ("keep", lambda x: x & x if x.dtype == bool else x * x),
    "reciprocal": ("flt", lambda x: 1 / x), "sin": ("flt", np.sin), "cos": ("flt", np.cos), "tan": ("flt", np.tan),
    "asin": ("flt", np.arcsin), "acos": ("flt", np.arccos), "atan": ("flt", np.arctan), "sinh": ("flt", np.sinh),
    "cosh": ("flt", np.cosh), "tanh": ("flt", np.tanh), "asinh": ("flt", np.arcsinh),
    "acosh": ("flt", np.arccosh), "atanh": ("flt", np.arctanh), "sigmoid": ("flt", sp.expit),
    "relu": ("keep", lambda x: x if x.dtype == bool else np.where(x < 0, 0, x).astype(x.dtype)),
    "leaky_relu": ("flt", _torch(torch.nn.functional.leaky_relu)), "elu": ("flt", _torch(torch.nn.functional.elu)),
    "gelu": ("flt", _torch(torch.nn.functional.gelu)),
    "gelu_tanh": ("flt", _torch(torch.nn.functional.gelu, approximate="tanh")),
    "silu": ("flt", _torch(torch.nn.functional.silu)), "softplus": ("flt", _torch(torch.nn.functional.softplus)),
    "erf": ("flt", sp.erf), "floor": ("keep", lambda x: x if x.dtype.kind in "bui" else np.floor(x)),
    "ceil": ("keep", lambda x: x if x.dtype.kind in "bui" else np.ceil(x)),
    "round": ("keep", lambda x: x if x.dtype.kind in "bui" else np.rint(x)),
    "trunc": ("keep", lambda x: x if x.dtype.kind in "bui" else np.trunc(x)),
    "isnan": ("test", np.isnan), "isinf": ("test", np.isinf), "isfinite": ("test", np.isfinite),
    "signbit": ("test", lambda x: np.signbit(x.astype(float))), "logical_not": ("test", np.logical_not),
    "bitwise_invert": ("bits", np.invert),
}


def test_every_unary_op_is_bound_and_tested():
    bound = {name for name in dir(ember._C) if callable(getattr(ember._C, name))}
    assert set(UNARY) <= bound


def unary_expected(op, a):
    """(NumPy result, dtype) or None if ember must reject a's dtype."""
    cls, ref = UNARY[op]
    dt = a.dtype.name
    if (cls == "num" and dt == "bool") or (cls == "bits" and dt in FLOAT_DTYPES):
        return None
    ct = "float32" if cls == "flt" and dt not in FLOAT_DTYPES else dt
    with np.errstate(all="ignore"):
        x = a.astype(ct)
        r = np.asarray(ref(x.astype(np.float64) if cls == "flt" else x))
    return r.astype("bool" if cls == "test" else ct)


def tol(dt):
    return dict(rtol=2e-5, atol=2e-6) if dt == "float32" else dict(rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("op", sorted(UNARY))
@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_unary_vs_reference(op, dt):
    fn = getattr(ember, op)
    cases = [("0-d", sample((), dt, seed=1), None), ("empty", sample((0, 3), dt), None)]
    cases += [(name, a, t) for name, a, t in layouts(sample((4, 5), dt, seed=2))]
    for name, a, t in cases:
        t = ember.asarray(a) if t is None else t
        exp = unary_expected(op, a)
        if exp is None:
            with pytest.raises(TypeError, match=op):
                fn(t)
            return
        got = fn(t)
        assert_same(got, exp, **(tol(exp.dtype.name) if exp.dtype.kind == "f" else {}))
        np.testing.assert_array_equal(np.asarray(t), a)  # input untouched


def test_unary_special_values():
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e30, -1e30], dtype=np.float32)
    t = ember.asarray(x)
    for op in ["isnan", "isinf", "isfinite", "signbit", "abs", "sign", "floor", "sigmoid", "tanh", "exp"]:
        with np.errstate(all="ignore"):
            ref = unary_expected(op, x)
        assert_same(getattr(ember, op)(t), ref)
    assert np.isnan(np.asarray(ember.relu(ember.asarray(x))))[0]  # NaN passes through relu
    assert_same(ember.round(ember.asarray(np.array([0.5, 1.5, 2.5, -0.5]))), [0.0, 2.0, 2.0, -0.0])


@pytest.mark.parametrize("op, kw, tfn, tkw", [
    ("leaky_relu", "negative_slope", torch.nn.functional.leaky_relu, "negative_slope"),
    ("elu", "alpha", torch.nn.functional.elu, "alpha"),
    ("softplus", "beta", torch.nn.functional.softplus, "beta"),
])
@pytest.mark.parametrize("value", [0.2, 2.0])
def test_unary_parameters_vs_torch(op, kw, tfn, tkw, value):
    x = sample((50,), "float64", low=-15, high=15)
    ref = tfn(torch.from_numpy(x), **{tkw: value}).numpy()
    assert_same(getattr(ember, op)(ember.asarray(x), **{kw: value}), ref, rtol=1e-12, atol=1e-14)
    assert_same(getattr(ember, op)(ember.asarray(x), value), ref, rtol=1e-12, atol=1e-14)  # positional too


def test_unary_argument_errors():
    t = ember.asarray(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="exp"):
        ember.exp()
    with pytest.raises(TypeError, match="exp"):
        ember.exp(t, 1.0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        ember.exp(t, alpha=1.0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        ember.exp(x=t)
    with pytest.raises(TypeError, match="exp.*dtype"):
        ember.exp("abc")
    with pytest.raises(ValueError, match="softplus.*nonzero"):
        ember.softplus(t, beta=0.0)
    with pytest.raises(ValueError, match="leaky_relu.*finite"):
        ember.leaky_relu(t, negative_slope=float("inf"))
    with pytest.raises(TypeError, match="negative_slope"):
        ember.leaky_relu(t, negative_slope="x")
    with pytest.raises(TypeError, match="neg.*bool"):
        ember.neg(ember.asarray(np.array([True])))
    with pytest.raises(TypeError, match="bitwise_invert.*float32"):
        ember.bitwise_invert(t)


def test_unary_accepts_array_likes():
    assert_same(ember.exp([0.0, 1.0]), np.exp(np.array([0.0, 1.0], np.float32)))
    assert_same(ember.abs(np.array([-2, 3], np.int8)), np.array([2, 3], np.int8))
    assert_same(ember.sqrt(4), np.float32(2.0))  # Python int: int64 -> computes in float32
    assert_same(ember.neg(2.5), np.float32(-2.5))


# ---- binary ---------------------------------------------------------------

# op -> (dtype class, NumPy reference)
#   all: every dtype; num: no bool; num8: two bools compute in int8; flt: ints compute in float32;
#   test: bool out; bits: bool and ints; ints: integers only
BINARY = {
    "add": ("all", np.add), "sub": ("num", np.subtract), "mul": ("all", np.multiply),
    "div": ("flt", np.divide), "floor_divide": ("num8", np.floor_divide), "remainder": ("num8", np.remainder),
    "pow": ("num8", np.power), "maximum": ("all", np.maximum), "minimum": ("all", np.minimum),
    "atan2": ("flt", np.arctan2), "hypot": ("flt", np.hypot), "logaddexp": ("flt", np.logaddexp),
    "copysign": ("flt", np.copysign), "equal": ("test", np.equal), "not_equal": ("test", np.not_equal),
    "less": ("test", np.less), "less_equal": ("test", np.less_equal), "greater": ("test", np.greater),
    "greater_equal": ("test", np.greater_equal), "logical_and": ("test", np.logical_and),
    "logical_or": ("test", np.logical_or), "logical_xor": ("test", np.logical_xor),
    "bitwise_and": ("bits", np.bitwise_and), "bitwise_or": ("bits", np.bitwise_or),
    "bitwise_xor": ("bits", np.bitwise_xor), "bitwise_left_shift": ("ints", np.left_shift),
    "bitwise_right_shift": ("ints", np.right_shift),
}


def fix_b(op, b):
    """Exponents and shift counts NumPy defines the same way: 0..3 and 0..7."""
    if (op == "pow" or BINARY[op][0] == "ints") and b.dtype.kind in "biu":
        return (np.abs(b.astype(np.int64)) % (4 if op == "pow" else 8)).astype(b.dtype)
    return b


def binary_expected(op, a, b):
    """NumPy result in ember's result dtype, or None if the dtypes are rejected."""
    cls, ref = BINARY[op]
    pt = promote(a.dtype.name, b.dtype.name)
    if (cls == "num" and pt == "bool") or (cls == "bits" and pt in FLOAT_DTYPES) or \
            (cls == "ints" and pt not in INT_DTYPES):
        return None
    ct = {"flt": "float32" if pt not in FLOAT_DTYPES else pt, "num8": "int8" if pt == "bool" else pt}.get(cls, pt)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = np.asarray(ref(a.astype(ct), b.astype(ct)))
    return r.astype("bool" if cls == "test" else ct)


def check_binary(op, a, b, ta=None, tb=None):
    """ember's op on (ta, tb) (default: tensors of a, b) against NumPy, or the TypeError."""
    ta = ember.asarray(a) if ta is None else ta
    tb = ember.asarray(b) if tb is None else tb
    exp = binary_expected(op, a, b)
    if exp is None:
        with pytest.raises(TypeError, match=op):
            getattr(ember, op)(ta, tb)
        return
    assert_same(getattr(ember, op)(ta, tb), exp, **(tol(exp.dtype.name) if exp.dtype.kind == "f" else {}))


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("da", ALL_DTYPES)
@pytest.mark.parametrize("db", ALL_DTYPES)
def test_binary_dtype_pairs_vs_numpy(op, da, db):
    a, b = sample((3, 1, 4), da, seed=3), fix_b(op, sample((2, 4), db, seed=4))
    check_binary(op, a, b)


def test_every_binary_op_is_bound_and_tested():
    assert all(callable(getattr(ember, op)) for op in BINARY)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "less", "remainder", "atan2"])
@pytest.mark.parametrize("sa, sb", [((), ()), ((4,), ()), ((), (3, 4)), ((0,), (1,)), ((2, 0, 3), (3,)),
                                    ((5, 1, 3), (4, 1)), ((1,), (2, 3, 1, 2))])
def test_binary_broadcast_shapes(op, sa, sb):
    a, b = sample(sa, "float64", seed=5), sample(sb, "float64", seed=6)
    assert getattr(ember, op)(ember.asarray(a), ember.asarray(b)).shape == np.broadcast_shapes(sa, sb)
    check_binary(op, a, b)
    check_binary(op, b, a)


@pytest.mark.parametrize("dt", ["int32", "float32", "bool"])
def test_binary_layouts(dt):
    a = sample((6, 4), dt, seed=7)
    for name, na, ta in layouts(a):
        for nb, tb in [(na, ta), (na[::-1], ta[::-1]), (na[..., :1], ta[..., :1])]:
            for op in ["add", "mul", "maximum", "not_equal", "logical_xor"]:
                check_binary(op, na, nb, ta, tb)


def test_operators_match_functions():
    a, b = sample((3, 4), "float32", seed=8), sample((4,), "float32", seed=9) + 6
    ta, tb = ember.asarray(a), ember.asarray(b)
    pairs = [(ta + tb, a + b), (ta - tb, a - b), (ta * tb, a * b), (ta / tb, a / b), (ta // tb, a // b),
             (ta % tb, a % b), (ta ** 2, a ** 2), (ta < tb, a < b), (ta == tb, a == b), (-ta, -a), (abs(ta), abs(a))]
    for got, exp in pairs:
        assert_same(got, exp)


# ---- Python scalars, array-likes and weak typing --------------------------

@pytest.mark.parametrize("dt, scalar, expected", [
    ("float32", 1.5, "float32"), ("float32", 2, "float32"), ("float64", 2, "float64"),
    ("int32", 2, "int32"), ("int8", -3, "int8"), ("uint8", 200, "uint8"), ("int64", 2, "int64"),
    ("int32", 1.5, "float32"), ("uint8", 0.5, "float32"), ("bool", True, "bool"), ("bool", 3, "int64"),
    ("bool", 2.5, "float32"), ("float64", True, "float64"), ("int8", False, "int8"),
])
def test_weak_python_scalars(dt, scalar, expected):
    a = sample((5,), dt, seed=10)
    t = ember.asarray(a)
    for got in (ember.add(t, scalar), ember.add(scalar, t), t + scalar, scalar + t):
        assert got.dtype == expected
        exp = (a.astype(expected) + np.array(scalar).astype(expected)).astype(expected)
        if expected == "bool":
            exp = a | scalar
        assert_same(got, exp)
    if expected != "bool":
        assert_same(ember.sub(scalar, t), np.subtract(np.array(scalar).astype(expected), a.astype(expected)))
    assert_same(ember.less(scalar, t), np.array(scalar).astype(expected) < a.astype(expected))


@pytest.mark.parametrize("dt, value", [("uint8", 300), ("uint8", -1), ("int8", 128), ("int32", 2 ** 31),
                                       ("int64", 2 ** 63)])
def test_scalar_out_of_range_raises_overflow(dt, value):
    t = ember.asarray(sample((3,), dt))
    with pytest.raises(OverflowError, match=dt):
        ember.add(t, value)
    with pytest.raises(OverflowError, match=dt):
        ember.add(value, t)
    with pytest.raises(OverflowError):
        t + value


def test_operands_without_tensors():
    u8 = np.array([1, 2], np.uint8)
    assert ember.add(u8, 1).dtype == "uint8"
    assert ember.add(1, u8).dtype == "uint8"  # the scalar is weak on either side
    assert ember.add([1, 2], [3, 4]).dtype == "int64"
    assert ember.add([1.0, 2.0], 1).dtype == "float32"
    r = ember.add(1, 2)
    assert r.ndim == 0 and r.dtype == "int64" and r.item() == 3
    assert ember.add(2, 1.5).dtype == "float32" and ember.add(2, 1.5).item() == 3.5
    assert_same(ember.mul(np.arange(3.0), [1, 2, 3]), np.arange(3.0) * [1, 2, 3])
    assert_same(ember.maximum(np.float32(2.0), ember.asarray(np.ones(2, np.float32))), np.full(2, 2, np.float32))
    with pytest.raises(TypeError, match="x1|x2|convert"):
        ember.add("a", 1)
    with pytest.raises(TypeError, match="convert"):
        ember.add(ember.asarray(np.ones(2)), object())


def test_binary_argument_errors():
    t = ember.asarray(np.ones(3))
    with pytest.raises(TypeError, match="add.*2 positional"):
        ember.add(t)
    with pytest.raises(TypeError, match="add"):
        ember.add(t, t, t)
    with pytest.raises(TypeError, match="keyword"):
        ember.add(t, x2=t)


def test_shape_mismatch_names_both_shapes():
    a, b = ember.asarray(np.zeros((2, 3), np.float32)), ember.asarray(np.zeros((4,), np.int32))
    with pytest.raises(ValueError, match=re.escape("(2, 3) float32") + ".*" + re.escape("(4,) int32")):
        ember.add(a, b)
    with pytest.raises(ValueError, match="less.*broadcast"):
        ember.less(a, b)
    with pytest.raises(ValueError, match="broadcast"):
        a + b


# ---- in-place operators ---------------------------------------------------

def test_inplace_operators_write_into_the_tensor():
    a = sample((3, 4), "float32", seed=11)
    t = ember.asarray(a.copy())
    alias, view = t, t[1]
    t += 1.5
    t *= ember.asarray(np.full(4, 2.0, np.float32))
    t -= 1
    t /= 4
    assert t is alias
    exp = ((a + 1.5) * 2 - 1) / 4
    assert_same(t, exp)
    assert_same(view, exp[1])
    i = ember.asarray(np.arange(6, dtype=np.int32))
    i += 2
    i //= 3
    i %= 2
    i <<= 1
    i |= 1
    assert i.dtype == "int32"
    assert_same(i, (((np.arange(6, dtype=np.int32) + 2) // 3 % 2) << 1) | 1)
    f = ember.asarray(np.ones(3, np.float32))
    f += ember.asarray(np.array([1, 2, 3], np.int64))  # int into float: same kind
    assert f.dtype == "float32"
    assert_same(f, np.array([2.0, 3.0, 4.0], np.float32))


def test_inplace_same_kind_casting_errors():
    i = ember.asarray(np.arange(3, dtype=np.int32))
    with pytest.raises(TypeError, match="cannot be cast"):
        i += ember.asarray(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="float32.*int32"):
        i += 1.5
    with pytest.raises(TypeError, match="cannot be cast"):
        i /= 2
    b = ember.asarray(np.array([True, False]))
    with pytest.raises(TypeError):
        b += ember.asarray(np.array([1, 2], np.int8))
    assert_same(i, np.arange(3, dtype=np.int32))  # nothing written on failure


def test_inplace_broadcast_and_overlap():
    a = np.arange(12.0).reshape(3, 4)
    t = ember.asarray(a.copy())
    t += ember.asarray(np.arange(4.0))
    assert_same(t, a + np.arange(4.0))
    with pytest.raises(ValueError, match="shape"):
        r = ember.asarray(np.arange(4.0))
        r += t
    x = np.arange(8.0)
    tx = ember.asarray(x.copy())
    tx[1:] += tx[:-1]  # overlapping views: as if out of place (NumPy too)
    x[1:] += x[:-1].copy()
    assert_same(tx, x)


# ---- where and clip -------------------------------------------------------

@pytest.mark.parametrize("da", ALL_DTYPES)
@pytest.mark.parametrize("db", ["bool", "int8", "float32", "float64"])
def test_where_vs_numpy(da, db):
    c = sample((3, 1), "bool", seed=12)
    a, b = sample((3, 4), da, seed=13), sample((4,), db, seed=14)
    got = ember.where(ember.asarray(c), ember.asarray(a), ember.asarray(b))
    pt = promote(da, db)
    assert_same(got, np.where(c, a.astype(pt), b.astype(pt)))


def test_where_scalars_layouts_and_errors():
    a = sample((4, 3), "float32", seed=15)
    for name, na, ta in layouts(a):
        cond = na > 0
        assert_same(ember.where(ember.asarray(cond), ta, 0.0), np.where(cond, na, np.float32(0)))
        assert_same(ember.where(ta > 0, 1, ta), np.where(cond, np.float32(1), na))
    i = ember.asarray(np.arange(4, dtype=np.int8))
    assert ember.where(i > 1, i, 0).dtype == "int8"
    assert_same(ember.where(np.array([1, 0, 2]), [1, 2, 3], [4, 5, 6]), [1, 5, 3])  # nonzero is true
    assert ember.where(True, 1.0, 2).dtype == "float32" and ember.where(True, 1.0, 2).ndim == 0
    with pytest.raises(ValueError, match=re.escape("(2,)") + ".*" + re.escape("(3,)")):
        ember.where(np.array([True, False]), np.ones(3), 0.0)
    with pytest.raises(TypeError, match="3 positional"):
        ember.where(i > 0, i)


@pytest.mark.parametrize("dt", ["uint8", "int8", "int32", "int64", "float32", "float64"])
def test_clip_vs_numpy(dt):
    a = sample((5, 6), dt, seed=16)
    for name, na, ta in layouts(a):
        assert_same(ember.clip(ta, 1, 3), np.clip(na, 1, 3).astype(dt))
        assert_same(ember.clip(ta, min=2), np.maximum(na, np.array(2).astype(dt)))
        assert_same(ember.clip(ta, max=2), np.minimum(na, np.array(2).astype(dt)))
        assert_same(ember.clip(ta, None, None), na)
        lo = sample(na.shape[-1:], dt, seed=17)
        assert_same(ember.clip(ta, ember.asarray(lo), 4), np.minimum(np.maximum(na, lo), np.array(4).astype(dt)))
    assert_same(ember.clip(ember.asarray(a), 3, 1), np.full(a.shape, 1, dt))  # min > max gives max


def test_clip_nan_dtype_and_errors():
    x = ember.asarray(np.array([np.nan, -2.0, 5.0], np.float32))
    assert_same(ember.clip(x, -1, 1), np.array([np.nan, -1.0, 1.0], np.float32))
    assert_same(ember.clip(ember.asarray(np.array([1.0, 2.0])), ember.asarray(np.float64(np.nan))), [np.nan, np.nan])
    i = ember.asarray(np.array([-5, 0, 5], np.int32))
    assert ember.clip(i, -1, 1).dtype == "int32"
    assert ember.clip([1.5, -2.0], -1, 1).dtype == "float32"
    with pytest.raises(OverflowError, match="uint8"):
        ember.clip(ember.asarray(np.array([1, 2], np.uint8)), -1, 5)
    with pytest.raises(ValueError, match="clip.*bound"):
        ember.clip(i, ember.asarray(np.zeros(2, np.int32)))
    with pytest.raises(ValueError, match="clip"):
        ember.clip(i, ember.asarray(np.zeros((2, 3), np.int32)))  # the bound may not widen x
    with pytest.raises(TypeError, match="clip"):
        ember.clip()


# ---- aliases, docstrings, Tensor methods ----------------------------------

def test_array_api_aliases():
    a, b = ember.asarray(np.array([4.0, 9.0])), ember.asarray(np.array([2.0, 3.0]))
    for alias, name in [("subtract", "sub"), ("multiply", "mul"), ("divide", "div"), ("true_divide", "div"),
                        ("power", "pow")]:
        assert_same(getattr(ember, alias)(a, b), getattr(ember, name)(a, b))
    assert_same(ember.negative(a), [-4.0, -9.0])
    i = ember.asarray(np.array([0, 5], np.int8))
    assert_same(ember.bitwise_not(i), np.invert(np.array([0, 5], np.int8)))
    assert ember.bitwise_invert(ember.asarray(np.array([True]))).item() is False


def test_signatures_and_docstrings():
    assert str(inspect.signature(ember.exp)) == "(x, /)"
    assert str(inspect.signature(ember.add)) == "(x1, x2, /)"
    assert str(inspect.signature(ember.leaky_relu)) == "(x, /, negative_slope=0.01)"
    assert str(inspect.signature(ember.softplus)) == "(x, /, beta=1.0)"
    assert str(inspect.signature(ember.clip)) == "(x, /, min=None, max=None)"
    assert str(inspect.signature(ember.where)) == "(condition, x1, x2, /)"
    assert str(inspect.signature(ember.subtract)) == "(x1, x2, /)"
    assert "e^x" in ember.exp.__doc__ and "broadcasting" in ember.add.__doc__


def test_tensor_math_methods():
    a = sample((3, 4), "float32", seed=18)
    t = ember.asarray(a)
    tt = torch.from_numpy(a)
    for name in ["exp", "abs", "sigmoid", "tanh", "relu", "neg", "sin", "floor", "square", "isnan"]:
        assert_same(getattr(t, name)(), getattr(tt, name)().numpy(), rtol=2e-6, atol=1e-7)
    for name in ["add", "sub", "mul", "div", "maximum", "minimum", "eq", "lt", "ge", "atan2"]:
        assert_same(getattr(t, name)(t[0]), getattr(tt, name)(tt[0]).numpy(), rtol=2e-6)
    assert_same(t.pow(2), tt.pow(2).numpy(), rtol=1e-6)
    assert_same(t.log(), tt.log().numpy(), rtol=1e-6)
    assert_same(t.sqrt(), tt.sqrt().numpy(), rtol=1e-6)
    assert_same(t.clamp(-1, 1), tt.clamp(-1, 1).numpy())
    assert_same(t.clamp(min=0), tt.clamp(min=0).numpy())
    assert_same(t.clip(max=0.5), tt.clip(max=0.5).numpy())
    assert t.exp.__doc__.startswith("exp()")


# ---- property tests -------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4),
       op=st.sampled_from(["add", "sub", "mul", "maximum", "less_equal", "logaddexp"]),
       dts=st.sampled_from([("float32", "float32"), ("int32", "float64"), ("int8", "uint8"), ("bool", "int32")]),
       seed=st.integers(0, 1000), flip=st.booleans())
def test_binary_random_broadcasts(shapes, op, dts, seed, flip):
    a, b = sample(shapes.input_shapes[0], dts[0], seed=seed), sample(shapes.input_shapes[1], dts[1], seed=seed + 1)
    ta, tb = ember.asarray(a), ember.asarray(b)
    if flip and a.ndim:
        a, ta = a[::-1], ta[::-1]
    assert getattr(ember, "add")(ta, tb).shape == shapes.result_shape
    check_binary(op, a, b, ta, tb)


@settings(max_examples=50, deadline=None)
@given(a=hnp.arrays(st.sampled_from([np.float32, np.float64]), hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
                    elements=st.floats(-50, 50, width=32)),
       op=st.sampled_from(["exp", "tanh", "sigmoid", "abs", "floor", "log1p", "sqrt"]))
def test_unary_random_arrays(a, op):
    t = ember.asarray(a)
    assert_same(getattr(ember, op)(t), unary_expected(op, a), **tol(a.dtype.name))
    if a.ndim >= 2:
        assert_same(getattr(ember, op)(t.T), unary_expected(op, a.T), **tol(a.dtype.name))
