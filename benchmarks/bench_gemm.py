"""GEMM throughput: ember beside NumPy (OpenBLAS) and PyTorch, float32.

Prints, for 1 and 2 threads (the same count on every side), GFLOPS of square
products and of inference shapes (M x K x N), each also as a fraction of this
machine's float32 FMA peak for the instruction set ember's GEMM uses (AVX-512
or AVX2, measured by benchmarks/peak.c; NumPy's and torch's fractions are of
the same peak, so theirs can exceed 100% where they use a wider ISA), and the ratios
ember/NumPy and ember/torch (> 1: ember is faster).  Two forms:
``matmul`` multiplies row-major (M, K) @ (K, N); ``linear`` is
x @ W^T + b with W (N, K) as nn.Linear stores it (torch.nn.functional.linear,
NumPy x @ W.T + b, ember.nn.functional.linear).

Run (after `make ext`):  PYTHONPATH=python .venv/bin/python benchmarks/bench_gemm.py [--quick] [--cpu-time]
--quick stops the squares at 512; --cpu-time times 1 thread only, by the
calling thread's CPU time (every library then computes on that thread), for
hosts so loaded that wall-clock times are meaningless.
NumPy runs with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (the script
re-executes itself without them); the OpenBLAS kernel in use is printed.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

if any(v in os.environ for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import ember  # noqa: E402
from ember.nn.functional import linear  # noqa: E402
from timing import best_per_call  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SQUARE = [64, 128, 256, 512, 1024, 2048]
INFER = [(1, 784, 128), (16, 784, 128), (64, 784, 128), (128, 4096, 1024)]


def peak() -> tuple[dict[str, dict[int, float]], float]:
    """FMA peak GFLOPS per instruction set and thread count, and the clock (GHz), from benchmarks/peak.c."""
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "peak")
        subprocess.run(["gcc", "-O2", "-pthread", os.path.join(HERE, "peak.c"), "-o", exe], check=True)
        out = subprocess.run([exe, "2"], check=True, capture_output=True, text=True).stdout
    peaks: dict[str, dict[int, float]] = {}
    ghz = 0.0
    for line in out.splitlines():
        f = line.split()
        if f[0] == "clock_ghz":
            ghz = float(f[1])
        elif f[0] == "peak_gflops":
            peaks.setdefault(f[1], {})[int(f[2])] = float(f[3])
    return peaks, ghz


CLOCK = time.thread_time if "--cpu-time" in sys.argv else time.perf_counter


# seconds of settle() before each timed block on several threads (timing.py)
SETTLE_S = 0.2


def best_times(fns: dict, pause: float) -> dict:
    """Best seconds per call of each function: alternating rounds of ~0.02 s per side."""
    inner = {}
    for name, fn in fns.items():
        fn()
        t0 = time.perf_counter()
        fn()
        once = max(time.perf_counter() - t0, 1e-7)
        inner[name] = max(1, min(1000, int(0.02 / once)))
    return best_per_call(fns, 7 if max(inner.values()) > 1 else 3, inner, CLOCK, pause)


def row(label: str, flops: float, fns: dict, pk: float) -> str:
    g = {k: flops / t / 1e9 for k, t in best_times(fns, SETTLE_S if ember.get_num_threads() > 1 else 0.0).items()}
    return (f"| {label:<16} | {g['ember']:7.1f} ({g['ember'] / pk:4.0%}) | {g['numpy']:7.1f} ({g['numpy'] / pk:4.0%}) "
            f"| {g['torch']:7.1f} ({g['torch'] / pk:4.0%}) | {g['ember'] / g['numpy']:6.2f}x | "
            f"{g['ember'] / g['torch']:6.2f}x |")


def main() -> None:
    quick = "--quick" in sys.argv
    peaks, ghz = peak()
    isa = getattr(ember._C, "_gemm_isa", None)  # builds before AVX-512 kernels have no _gemm_isa: AVX2
    isa = isa() if isa else "avx2"  # "avx512", "avx2" or "portable"
    # the portable path has no peak of its own: it is measured against AVX2's
    pk = peaks.get(isa) or peaks.get("avx2") or next(iter(peaks.values()))
    blas = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
    print(f"clock {ghz:.2f} GHz; float32 FMA peak (benchmarks/peak.c): " +
          "; ".join(f"{k} {v[1]:.1f} GFLOPS on 1 thread, {v[2]:.1f} on 2" for k, v in peaks.items()))
    print("NumPy BLAS:", ", ".join(f"{i['internal_api']} {i.get('version')} ({i.get('architecture')})" for i in blas))
    print(f"ember GEMM path: {isa}; fractions below are of the {isa if isa in peaks else 'avx2'} peak")
    head = ("| shape            | ember GFLOPS (peak) | NumPy GFLOPS (peak) | torch GFLOPS (peak) | ember/NumPy "
            "| ember/torch |\n|---|---|---|---|---|---|")
    for nt in (1,) if CLOCK is time.thread_time else (1, 2):
        ember.set_num_threads(nt)
        torch.set_num_threads(nt)
        with threadpool_limits(nt):
            print(f"\n### {nt} thread{'s' if nt > 1 else ''}\n\n**matmul (M x K x N), float32**\n\n{head}")
            for n in SQUARE[:4] if quick else SQUARE:
                shapes = (n, n, n)
                print(bench_matmul(*shapes, pk[nt]))
            for m, k, n in INFER:
                print(bench_matmul(m, k, n, pk[nt]))
            print(f"\n**linear x @ W^T + b (M x K x N), float32**\n\n{head}")
            for m, k, n in INFER:
                print(bench_linear(m, k, n, pk[nt]))


def bench_matmul(m: int, k: int, n: int, pk: float) -> str:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    ea, eb, ta, tb = ember.asarray(a), ember.asarray(b), torch.from_numpy(a), torch.from_numpy(b)
    fns = {"ember": lambda: ember.matmul(ea, eb), "numpy": lambda: a @ b, "torch": lambda: ta @ tb}
    return row(f"{m}x{k}x{n}", 2.0 * m * n * k, fns, pk)


def bench_linear(m: int, k: int, n: int, pk: float) -> str:
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s, np.float32) for s in ((m, k), (n, k), (n,)))
    ex, ew, eb = ember.asarray(x), ember.asarray(w), ember.asarray(b)
    tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
    fns = {"ember": lambda: linear(ex, ew, eb), "numpy": lambda: x @ w.T + b,
           "torch": lambda: torch.nn.functional.linear(tx, tw, tb)}
    return row(f"{m}x{k}x{n}", 2.0 * m * n * k, fns, pk)


if __name__ == "__main__":
    main()
