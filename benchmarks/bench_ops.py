"""Per-call time of small ops and throughput of large ones: ember vs NumPy vs PyTorch.

    PYTHONPATH=python .venv/bin/python benchmarks/bench_ops.py

Small ops (4 elements; matmul 4x4) measure call overhead: median time per
call over repeated timeit runs.  Large ops (1M float32 elements) measure
throughput.  Every library runs on 1 thread.  Ratios are ember's speed
relative to the reference (>1 means ember is faster); compare ratios, not
absolute numbers across runs.
"""
import os
import statistics
import sys
import timeit

import numpy as np
import torch

import ember

torch.set_num_threads(1)


def per_call(fn, number):
    runs = timeit.repeat(fn, number=number, repeat=7)
    return statistics.median(runs) / number


def small_ops():
    a_np = np.arange(4, dtype=np.float32) + 1
    b_np = a_np[::-1].copy()
    m_np = np.arange(16, dtype=np.float32).reshape(4, 4)
    a_t, b_t, m_t = torch.from_numpy(a_np.copy()), torch.from_numpy(b_np), torch.from_numpy(m_np.copy())
    a_e, b_e, m_e = ember.tensor(a_np), ember.tensor(b_np), ember.tensor(m_np)
    cases = [
        ("add (a + b)", lambda: a_e + b_e, lambda: a_np + b_np, lambda: a_t + b_t),
        ("mul (a * b)", lambda: a_e * b_e, lambda: a_np * b_np, lambda: a_t * b_t),
        ("exp", lambda: ember.exp(a_e), lambda: np.exp(a_np), lambda: torch.exp(a_t)),
        ("sum", lambda: ember.sum(a_e), lambda: np.sum(a_np), lambda: torch.sum(a_t)),
        ("matmul 4x4", lambda: m_e @ m_e, lambda: m_np @ m_np, lambda: m_t @ m_t),
    ]
    rows = []
    for name, fe, fn, ft in cases:
        te, tn, tt = per_call(fe, 20000), per_call(fn, 20000), per_call(ft, 20000)
        rows.append((name, te * 1e6, tn * 1e6, tt * 1e6, tn / te, tt / te))
    print("\nSmall ops: time per call (us), 4 elements")
    print(f"| {'op':<12} | {'ember':>7} | {'NumPy':>7} | {'PyTorch':>7} | {'NumPy/ember':>11} | {'torch/ember':>11} |")
    print(f"|{'-' * 14}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 13}|{'-' * 13}|")
    for r in rows:
        print(f"| {r[0]:<12} | {r[1]:7.3f} | {r[2]:7.3f} | {r[3]:7.3f} | {r[4]:10.2f}x | {r[5]:10.2f}x |")


def large_ops(n):
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal(n).astype(np.float32)
    b_np = rng.standard_normal(n).astype(np.float32)
    a_t, b_t = torch.from_numpy(a_np), torch.from_numpy(b_np)
    a_e, b_e = ember.from_numpy(a_np), ember.from_numpy(b_np)
    cases = [
        ("add", lambda: a_e + b_e, lambda: a_np + b_np, lambda: a_t + b_t),
        ("mul", lambda: a_e * b_e, lambda: a_np * b_np, lambda: a_t * b_t),
        ("exp", lambda: ember.exp(a_e), lambda: np.exp(a_np), lambda: torch.exp(a_t)),
        ("tanh", lambda: ember.tanh(a_e), lambda: np.tanh(a_np), lambda: torch.tanh(a_t)),
        ("sum", lambda: ember.sum(a_e), lambda: np.sum(a_np), lambda: torch.sum(a_t)),
        ("max", lambda: ember.max(a_e), lambda: np.max(a_np), lambda: torch.max(a_t)),
    ]
    print(f"\nLarge ops: throughput (M elements/s), {n // 1000000}M float32 elements")
    print(f"| {'op':<6} | {'ember':>8} | {'NumPy':>8} | {'PyTorch':>8} | {'ember/NumPy':>11} | {'ember/torch':>11} |")
    print(f"|{'-' * 8}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 13}|{'-' * 13}|")
    for name, fe, fn, ft in cases:
        te, tn, tt = per_call(fe, 20), per_call(fn, 20), per_call(ft, 20)
        me, mn, mt = n / te / 1e6, n / tn / 1e6, n / tt / 1e6
        print(f"| {name:<6} | {me:8.0f} | {mn:8.0f} | {mt:8.0f} | {me / mn:10.2f}x | {me / mt:10.2f}x |")


if __name__ == "__main__":
    print(f"ember {ember.__version__}, NumPy {np.__version__}, PyTorch {torch.__version__} "
          f"(threads: torch {torch.get_num_threads()}), Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs")
    small_ops()
    large_ops(1_000_000)
