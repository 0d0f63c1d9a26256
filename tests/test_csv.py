"""ember.data.read_csv against pandas.read_csv, numpy.loadtxt and float(text)."""
import csv
import io
import math
import os
import pathlib
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ember
from ember.data import read_csv

pd = pytest.importorskip("pandas")


def bits(x):
    return struct.pack("<d", x)


AWKWARD = ["1e-320", "0.1", "-0.0", "1.7976931348623157e308", "inf", "-inf", "Infinity",
           "2.2250738585072011e-308", "4.9406564584124654e-324", "2.4703282292062328e-324",
           "9007199254740993", "123456789012345678901234567890.5", "0.30000000000000004",
           "3.14159265358979323846264338327950288419716939937510", "1e23", "8.5e-1", ".5", "5.",
           "+3", "1E+10", "7.2057594037927933e16", "1e-400", "1e400", "0.000001234e-300",
           "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649"
           "0175e208"]


def test_awkward_floats_equal_float_text():
    text = "x\n" + "\n".join(AWKWARD) + "\n"
    got = read_csv(text.encode())["x"]
    assert got.dtype == ember.float64
    for s, v in zip(AWKWARD, got.tolist()):
        assert bits(v) == bits(float(s)), s


def test_random_floats_exact():
    rng = np.random.default_rng(0)
    vals = np.concatenate([rng.standard_normal(3000) * 10.0 ** rng.integers(-300, 300, 3000),
                           rng.random(2000), np.frombuffer(rng.bytes(8 * 3000), dtype=np.float64)])
    vals = vals[np.isfinite(vals)]
    texts = [repr(float(v)) for v in vals] + [f"{v:.19e}" for v in vals[:2000]] + \
            [f"{v:.25g}" for v in vals[:2000]]
    got = np.asarray(read_csv(("x\n" + "\n".join(texts) + "\n").encode())["x"])
    want = np.array([float(t) for t in texts])
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64))


def write_numeric(path, rows, cols, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)) * 10.0 ** rng.integers(-5, 6, (rows, cols))
    with open(path, "w") as f:
        f.write(",".join(f"c{j}" for j in range(cols)) + "\n")
        for r in x.tolist():
            f.write(",".join(map(repr, r)) + "\n")
    return x


def test_numeric_vs_pandas_and_loadtxt(tmp_path):
    p = tmp_path / "num.csv"
    x = write_numeric(p, 20000, 6)
    got = read_csv(p)
    ref = pd.read_csv(p)
    lt = np.loadtxt(p, delimiter=",", skiprows=1)
    assert list(got) == list(ref.columns)
    for j, c in enumerate(ref.columns):
        col = np.asarray(got[c])
        assert col.dtype == np.float64
        assert np.array_equal(col, x[:, j]) and np.array_equal(col, lt[:, j])
        np.testing.assert_allclose(col, ref[c].to_numpy(), rtol=1e-15)
    mat = read_csv(p, as_tensor=True)
    assert mat.shape == (20000, 6) and np.array_equal(np.asarray(mat), lt)
    # thread count never changes the result
    one = read_csv(str(p), nthreads=1)
    for c in one:
        assert np.array_equal(np.asarray(one[c]), np.asarray(got[c]))


def test_mixed_vs_pandas(tmp_path):
    rng = np.random.default_rng(3)
    n = 6000
    df = pd.DataFrame({
        "id": np.arange(n),
        "price": np.where(rng.random(n) < 0.1, np.nan, np.round(rng.uniform(0, 100, n), 3)),
        "name": rng.choice(["a", "b,c", 'say "hi"', "multi\nline", "ünï"], n),
        "flag": rng.random(n) < 0.5,
        "count": np.where(rng.random(n) < 0.05, np.nan, rng.integers(0, 9, n)),
    })
    p = tmp_path / "mixed.csv"
    df.to_csv(p, index=False)
    got = read_csv(p)
    ref = pd.read_csv(p)
    assert np.asarray(got["id"]).dtype == np.int64 and np.array_equal(np.asarray(got["id"]), ref["id"])
    assert np.array_equal(np.asarray(got["price"]), ref["price"].to_numpy(), equal_nan=True)
    assert got["name"].dtype.kind == "U" and got["name"].tolist() == ref["name"].tolist()
    assert got["flag"].dtype == ember.bool and np.array_equal(np.asarray(got["flag"]), ref["flag"])
    assert np.asarray(got["count"]).dtype == np.float64
    assert np.array_equal(np.asarray(got["count"]), ref["count"].to_numpy(), equal_nan=True)
    sub = read_csv(p, usecols=["flag", 1], dtype={"price": "float32"})
    assert list(sub) == ["flag", "price"] and sub["price"].dtype == ember.float32
    obj = read_csv(p, usecols=["name"], strings="object")["name"]
    assert obj.dtype == object and obj.tolist() == ref["name"].tolist()


def test_explicit_dtypes_and_errors():
    data = b"a,b,c\n1,x,true\n2,,false\n"
    out = read_csv(data, dtype={"a": "float64", "b": str, 2: bool})
    assert out["a"].dtype == ember.float64 and out["c"].tolist() == [True, False]
    assert read_csv(data, strings="object")["b"].tolist() == ["x", None]
    assert read_csv(data)["b"].tolist() == ["x", ""]
    with pytest.raises(ValueError, match=r"line 3, column 2 \('b'\): missing value in an int64"):
        read_csv(b"a,b\n1,2\n3,\n", dtype={"b": int})
    with pytest.raises(ValueError, match=r"line 2, column 1 \('a'\): cannot parse 'zz' as float64"):
        read_csv(b"a,b\nzz,2\n", dtype=float)
    with pytest.raises(ValueError, match=r"line 3, column 2 \('b'\): unterminated"):
        read_csv(b'a,b\n1,2\n3,"4\n')
    with pytest.raises(ValueError, match=r"line 2, column 3: expected 2 fields"):
        read_csv(b"a,b\n1,2,3\n")
    with pytest.raises(ValueError, match="NUL"):
        read_csv(b"a,b\n1,\x002\n")
    with pytest.raises(ValueError, match="usecols: no column named 'zz'"):
        read_csv(b"a,b\n1,2\n", usecols=["zz"])
    with pytest.raises(IndexError):
        read_csv(b"a,b\n1,2\n", usecols=[5])
    with pytest.raises(FileNotFoundError):
        read_csv("/nonexistent/file.csv")
    with pytest.raises(TypeError):
        read_csv(12)
    with pytest.raises(TypeError):
        read_csv(b"a\n1\n", dtype="complex128")
    with pytest.raises(ValueError, match="as_tensor"):
        read_csv(b"a,b\n1,x\n", as_tensor=True)
    with pytest.raises(ValueError):
        read_csv(b"a\n1\n", delimiter=";;")


def test_sources_and_options(tmp_path):
    text = "# comment\nskip me\na;b\n1;2\n\n3;4\n5;6\n"
    p = tmp_path / "s.csv"
    p.write_text(text)
    kw = dict(delimiter=";", skiprows=2, comment="#", max_rows=2)
    for src in (str(p), p, text.encode(), bytearray(text.encode()), io.BytesIO(text.encode()),
                io.StringIO(text)):
        out = read_csv(src, **kw)
        assert out["a"].tolist() == [1, 3] and out["b"].tolist() == [2, 4]
    out = read_csv(b"1,2\n3,4\n", header=False)
    assert list(out) == ["0", "1"] and out["1"].tolist() == [2, 4]
    out = read_csv(b"v\n-999\n1\n", na_values=["-999"])
    assert math.isnan(out["v"].tolist()[0])
    assert read_csv(b"") == {}


def test_crlf_and_quotes_vs_pandas():
    text = b'k,v\r\n"a,1",1\r\n"b""q",2\r\n"c\r\nd",3\r\n'
    got = read_csv(text)
    ref = pd.read_csv(io.BytesIO(text))
    assert got["k"].tolist() == ref["k"].tolist() and got["v"].tolist() == ref["v"].tolist()


cell = st.one_of(st.integers(-10**12, 10**12).map(str),
                 st.floats(allow_nan=False, allow_infinity=False).map(repr),
                 st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00\r"), max_size=8))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4).flatmap(lambda k: st.lists(st.lists(cell, min_size=k, max_size=k), min_size=1,
                                                     max_size=12)))
def test_roundtrip_python_csv(rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    k = len(rows[0])
    w.writerow([f"h{j}" for j in range(k)])
    w.writerows(rows)
    out = read_csv(buf.getvalue().encode(), dtype=str, na_values=[], strings="object")
    assert list(out) == [f"h{j}" for j in range(k)]
    for j in range(k):
        # an empty field is always missing (None here)
        want = [r[j] for r in rows]
        assert [v if v is not None else "" for v in out[f"h{j}"].tolist()] == want


def _decimal_strings(rng, n):
    """Random decimal texts of every shape the number parser distinguishes:
    1-25 digits, a point anywhere (or none), leading zeros, signs, exponents
    from subnormal to overflow."""
    out = []
    for _ in range(n):
        nd = int(rng.integers(1, 26))
        digits = "".join(rng.choice(list("0123456789"), nd))
        if rng.random() < 0.2:
            digits = "0" * int(rng.integers(1, 6)) + digits
        k = int(rng.integers(0, len(digits) + 1))
        r = rng.random()
        text = digits if r < 0.2 else digits[:k] + "." + digits[k:]
        if text == ".":
            text = "0."
        if rng.random() < 0.4:
            text += "eE"[int(rng.integers(0, 2))] + rng.choice(["", "+", "-"]) + str(int(rng.integers(0, 330)))
        out.append(rng.choice(["", "-", "+"], p=[0.6, 0.3, 0.1]) + text)
    return out


def _halfway_strings(rng, n):
    """Texts at and next to the exact midpoint between two adjacent doubles,
    where round-half-even decides (and where a fast parser is most likely to
    round the wrong way)."""
    from decimal import Decimal, getcontext
    getcontext().prec = 1200
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.3:  # odd 54-bit integers scaled by 2^-k: midpoints with few digits
            m = (1 << 53) + 2 * int(rng.integers(0, 1 << 52)) + 1
            mid = Decimal(m) / (Decimal(2) ** int(rng.integers(0, 5)))
        else:  # the midpoint above a random double, any exponent (subnormals included)
            x = abs(float(np.frombuffer(rng.bytes(8), dtype=np.float64)[0]))
            if not math.isfinite(x) or x == 0.0:
                continue
            mid = (Decimal(x) + Decimal(math.nextafter(x, math.inf))) / 2
        s = format(mid, "f") if rng.random() < 0.5 else format(mid, "e")
        out.append(s)
        sig = int(rng.integers(15, 21))  # near-halfway: the midpoint cut to 15-20 digits, +-1 in the last
        cut = format(mid, f".{sig - 1}e")
        mant, ex = cut.split("e")
        last = Decimal(mant) + Decimal(1).scaleb(-(sig - 1)) * int(rng.choice([-1, 1]))
        out.append(f"{last:.{sig - 1}f}e{ex}")
        out.append(cut)
    return out


EDGE = ["4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
        "2.2250738585072009e-308", "2.2250738585072014e-308", "2.225073858507201136057409796709131975934819546351645"
        "6484e-308", "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
        "9007199254740993", "9007199254740992.5", "4503599627370496.5", "4503599627370497.5",
        "18446744073709551615", "18446744073709551616", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "-9223372036854775809", "0.000000000000000000000000000001", "1e-400", "1e400",
        "00000000000000000000000000000001.5", "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124", "7.2057594037927933e16", "1e23", "8.5e-1",
        "123456789012345678", "1234567890123456789", "12345678901234567890", ".1", "1.", "-.5e-3", "+0.0e0"]


@pytest.mark.parametrize("portable", [False, True], ids=["dispatched", "sse2"])
def test_decimal_strings_bit_identical_to_float(portable, monkeypatch):
    # the record loop is built twice (SSE2, and AVX2 chosen at run time on a
    # CPU that has it); EMBER_FORCE_PORTABLE=1 keeps the SSE2 build, so both
    # number readers are checked on a machine with AVX2
    if portable:
        monkeypatch.setenv("EMBER_FORCE_PORTABLE", "1")
    rng = np.random.default_rng(2024)
    texts = EDGE + _decimal_strings(rng, 40000) + _halfway_strings(rng, 4000)
    rng.shuffle(texts)
    want = np.array([float(t) for t in texts])
    # three columns, so that fields sit at every distance from the start of
    # the text and from each other (the vector parser reads around a field)
    cols = [texts, texts[1:] + texts[:1], [str(i) for i in range(len(texts))]]
    body = "a,b,i\n" + "\n".join(f"{a},{b},{i}" for a, b, i in zip(*cols)) + "\n"
    for nthreads in (1, 2):
        got = read_csv(body.encode(), nthreads=nthreads)
        a = np.asarray(got["a"])
        assert a.dtype == np.float64
        bad = np.flatnonzero(a.view(np.uint64) != want.view(np.uint64))
        assert not len(bad), [(texts[k], a[k], want[k]) for k in bad[:5]]
        assert np.array_equal(np.asarray(got["b"]).view(np.uint64), np.roll(want, -1).view(np.uint64))
        assert np.array_equal(np.asarray(got["i"]), np.arange(len(texts)))
    # the same texts one per line, explicitly float64, and quoted (the general path)
    got = read_csv(("x\n" + "\n".join(texts) + "\n").encode(), dtype=float)["x"]
    assert np.array_equal(np.asarray(got).view(np.uint64), want.view(np.uint64))
    got = read_csv(("x\n" + "\n".join(f'"{t}"' for t in texts) + "\n").encode(), dtype=float)["x"]
    assert np.array_equal(np.asarray(got).view(np.uint64), want.view(np.uint64))


def test_integers_exact_and_out_of_range():
    rng = np.random.default_rng(7)
    vals = [int(v) for v in rng.integers(-2**63, 2**63 - 1, 3000, dtype=np.int64)]
    vals += [2**63 - 1, -2**63, 0, -1, 1] + [int(v) for v in rng.integers(-1000, 1000, 500)]
    texts = [str(v) for v in vals]
    texts += ["+" + t for t in texts[:50] if t[0] != "-"] + ["000" + t for t in texts[:50] if t[0] != "-"]
    ints = [int(t) for t in texts]
    got = read_csv(("k,v\n" + "\n".join(f"{i},{t}" for i, t in enumerate(texts)) + "\n").encode())
    assert np.asarray(got["v"]).dtype == np.int64 and np.asarray(got["v"]).tolist() == ints
    # one value past the int64 range makes the column float64, every value as float(text)
    texts2 = texts + ["9223372036854775808"]
    got = read_csv(("v\n" + "\n".join(texts2) + "\n").encode())["v"]
    assert np.asarray(got).dtype == np.float64
    assert np.array_equal(np.asarray(got), np.array([float(t) for t in texts2]))
    with pytest.raises(ValueError, match=r"line 3, column 1 \('v'\): '-9223372036854775809' is outside"):
        read_csv(b"v\n1\n-9223372036854775809\n", dtype={"v": int})


def test_fast_paths_fall_back_like_the_general_path():
    # values the vector/fast scanners must hand back to the general path:
    # spaces, NA texts, a column that turns from int to float to text mid-file
    rows = [f"{i},{i}.5,{i}" for i in range(3000)]
    rows[1500] = " 7 , 1e5 ,NA"
    rows[2000] = "8,nan,x"
    rows[2500] = "9,-inf,"
    got = read_csv(("a,b,c\n" + "\n".join(rows) + "\n").encode(), nthreads=2)
    want_a = list(range(3000))
    want_a[1500:2501:500] = [7, 8, 9]
    assert np.asarray(got["a"]).dtype == np.int64 and np.asarray(got["a"]).tolist() == want_a
    b = np.asarray(got["b"])
    assert b[1500] == 1e5 and np.isnan(b[2000]) and b[2500] == -np.inf and b[3] == 3.5
    assert got["c"].dtype.kind == "U" and got["c"][1500] == "" and got["c"][2000] == "x"
    assert got["c"][2999] == "2999" and got["c"][2500] == ""
    obj = read_csv(("a,b,c\n" + "\n".join(rows) + "\n").encode(), usecols=["c"], strings="object")["c"]
    assert obj[1500] is None and obj[2500] is None and obj[2000] == "x" and obj[10] == "10"
    # a delimiter that can be part of a number keeps the fast scanners off
    assert read_csv(b"a.b\n1.2\n", delimiter=".")["b"].tolist() == [2]
    assert read_csv(b"aeb\n1e2\n", delimiter="e")["b"].tolist() == [2]
