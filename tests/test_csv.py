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
