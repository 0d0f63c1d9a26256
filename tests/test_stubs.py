"""The type stubs (python/ember/*.pyi, made by tools/gen_stubs.py): they name
the whole public API, mypy --strict accepts code using ember and rejects
wrong calls, and mypy.stubtest finds them consistent with the runtime."""
import ast
import os
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import ember
import ember.linalg
import ember.random

PKG = Path(__file__).resolve().parents[1] / "python" / "ember"
STUBS = {"ember": ember, "ember.random": ember.random, "ember.linalg": ember.linalg}
needs_mypy = pytest.mark.skipif(os.environ.get("EMBER_SANITIZED") == "1", reason="typing, not memory: "
                                "skipped under the sanitizers")


def stub_tree(module):
    return ast.parse((PKG / f"{module.partition('.')[2] or '__init__'}.pyi").read_text())


def defined_names(body):
    names = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname for a in node.names if a.asname == a.name)  # explicit re-exports only
    return names


def public(obj):
    return {n for n in dir(obj) if not n.startswith("_")}


def inline_typed_submodules(obj):
    """ember's pure-Python subpackages (ember.nn, ember.ml, ...): typed inline in
    their own .py files (the package is py.typed), so the stub of ember itself
    does not re-declare them."""
    return {n for n in dir(obj) if isinstance(getattr(obj, n), types.ModuleType)
            and getattr(obj, n).__name__.startswith("ember.")
            and str(getattr(getattr(obj, n), "__file__", "")).endswith(".py")
            and not Path(getattr(obj, n).__file__).with_suffix(".pyi").exists()}


@pytest.mark.parametrize("module", STUBS)
def test_stub_names_every_public_name(module):
    missing = public(STUBS[module]) - inline_typed_submodules(STUBS[module]) - defined_names(stub_tree(module).body)
    assert not missing, f"{module} names missing from the stub (run tools/gen_stubs.py): {sorted(missing)}"


@pytest.mark.parametrize("cls", ["Tensor", "Generator"])
def test_stub_names_every_method(cls):
    node = next(n for n in stub_tree("ember").body if isinstance(n, ast.ClassDef) and n.name == cls)
    missing = public(getattr(ember, cls)) - defined_names(node.body)
    assert not missing, f"ember.{cls} members missing from the stub (run tools/gen_stubs.py): {sorted(missing)}"


def test_stub_names_detects_a_missing_name():
    tree = ast.parse("def zeros() -> None: ...\nfrom ember import ones as ones\nfrom ember import full\n")
    assert defined_names(tree.body) == {"zeros", "ones"}


@pytest.fixture(scope="module")
def stub_dir(tmp_path_factory):
    """The stubs alone (no .py files) in a fresh directory, with a mypy cache beside them."""
    root = tmp_path_factory.mktemp("stubs")
    (root / "ember").mkdir()
    for f in PKG.glob("*.pyi"):
        shutil.copy(f, root / "ember")
    return root


def mypy(stub_dir, *args):
    pytest.importorskip("mypy")
    env = {**os.environ, "MYPYPATH": str(stub_dir), "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", *args], cwd=stub_dir, env=env, capture_output=True, text=True,
                          timeout=600)


GOOD = """
    import numpy as np
    import ember
    import ember.linalg
    import ember.random

    x: ember.Tensor = ember.zeros((2, 3))
    y = x.sum(axis=0) + 1.0
    z = (x @ x.mT) * np.ones(2) - 1 + True
    z += 2
    b = (x > 0) & (x <= 1.5)
    values, indices = x.max(dim=1)
    m: ember.Tensor = x.max()
    shape: tuple[int, ...] = x.shape
    n: int = x.size + x.size(0) + x.ndim + len(x)
    sizes: tuple[int, ...] = x.size()
    dt: ember.DType = ember.result_type(x, ember.float64)
    eps: float = ember.finfo(ember.float32).eps + ember.iinfo("int8").max
    g = ember.random.Generator(0)
    r = g.normal(size=(3,)) + ember.random.rand(2, 3).sum() + ember.random.randint(0, 5, (2,))
    w = ember.linalg.vector_norm(ember.linalg.matmul(x, x.T), axis=(0, 1))
    sv, si = x.sort(dim=-1)
    counts = ember.unique_counts(x).counts
    parts: tuple[ember.Tensor, ...] = ember.split(x, 1, 0)
    f = ember.pi + float(x[0, 0]) + x[0, 0].item()
    q = x.to(ember.float64).astype("int32").float().reshape(3, 2).view((6,)).permute(0)
    a = np.asarray(x.numpy()) + ember.asarray([[1, 2], [3, 4]], dtype=np.float32).numpy()
    s = ember.stack([x, x], axis=0).mean(0, keepdim=True).std(unbiased=False)
    rows = [row.sum() for row in x]
    reveal_type(y)
    reveal_type(values)
    reveal_type(x.item())
"""

BAD = """
    import ember

    x = ember.zeros((2, 3))
    ember.zeros("ab")
    ember.zeros((2, 3), dtype=3)
    x.sum(axis="0")
    ember.sin(x, x)
    s: str = x.shape
    n: str = x.max()
    x.undefined_method()
    ember.random.normal(0.0, 1.0, (2,), dtype="float64", generator=5)
    ember.linalg.matmul(x)
"""


@needs_mypy
def test_mypy_strict_accepts_ember_code(stub_dir):
    (stub_dir / "good.py").write_text(textwrap.dedent(GOOD))
    res = mypy(stub_dir, "mypy", "--strict", "--cache-dir", str(stub_dir / ".cache"), "good.py")
    assert res.returncode == 0, res.stdout + res.stderr
    revealed = [line.split("Revealed type is ")[1] for line in res.stdout.splitlines() if "Revealed" in line]
    assert revealed == ['"ember.Tensor"', '"ember.Tensor"', '"int | float"'], res.stdout  # y, x.max(dim)[0], item


@needs_mypy
def test_mypy_rejects_wrong_calls(stub_dir):
    (stub_dir / "bad.py").write_text(textwrap.dedent(BAD))
    res = mypy(stub_dir, "mypy", "--strict", "--cache-dir", str(stub_dir / ".cache"), "bad.py")
    bad_lines = {int(line.split(":")[1]) for line in res.stdout.splitlines() if ": error:" in line}
    assert bad_lines == set(range(5, 14)), res.stdout


@needs_mypy
def test_stubtest_matches_runtime(stub_dir):
    """Every stub signature agrees with the runtime one (names, kinds, defaults)."""
    res = mypy(stub_dir, "mypy.stubtest", "ember", "--ignore-missing-stub")
    assert res.returncode == 0, res.stdout + res.stderr
