"""Per-call time of small ops and throughput of large ones: ember vs NumPy vs PyTorch.

    PYTHONPATH=python .venv/bin/python benchmarks/bench_ops.py

Small ops (4 elements; matmul 4x4) measure call overhead: median time per
call over repeated timeit runs.  Large ops (1M float32 elements) measure
throughput: the best of 7 rounds in which ember and the references take turns
(see alternating()).  Every library runs on 1 thread.  Ratios are ember's speed
relative to the reference (>1 means ember is faster); compare ratios, not
absolute numbers across runs.

The last tables give GB/s of elementwise ops and reductions on 1M and 16M
float32 elements for ember on 1 and 2 threads against NumPy (its BLAS pool
limited to the same count with threadpoolctl; its elementwise loops are
single-threaded), and ember's figure as a share of the memory bandwidth
measured in the same run (stream_bandwidth below).  Run NumPy fairly:

    PYTHONPATH=python env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_ops.py
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


def alternating(fns, number, repeat=7):
    """Best time per call of each fn in fns, measured in `repeat` rounds that
    run every fn `number` times, the order reversed every other round.

    Why not per_call() one library after the other: on a shared machine the
    load from other processes (and what they leave in the L3) drifts over a
    few hundred milliseconds, and measuring ember's 7 repeats, then NumPy's 7,
    let that drift land on one side only (16M-element max swung between
    0.84x and 1.08x NumPy from run to run).  Interleaved rounds expose both
    sides to the same conditions, and both read the same arrays, so the cache
    state before each timed call is alike; the best round is the least
    disturbed one."""
    best = [float("inf")] * len(fns)
    order = list(range(len(fns)))
    for r in range(repeat):
        for i in (order if r % 2 == 0 else order[::-1]):
            best[i] = min(best[i], timeit.timeit(fns[i], number=number) / number)
    return best


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
        te, tn, tt = alternating((fe, fn, ft), 20)
        me, mn, mt = n / te / 1e6, n / tn / 1e6, n / tt / 1e6
        print(f"| {name:<6} | {me:8.0f} | {mn:8.0f} | {mt:8.0f} | {me / mn:10.2f}x | {me / mt:10.2f}x |")


# ---- throughput against memory bandwidth, 1 and 2 threads -----------------------------------
#
# Bandwidth reference: a STREAM-"add"-like kernel written here with NumPy,
# np.add(b, c, out=a) over float64 arrays of 2x the largest benchmark size
# (well beyond the L3), 24 bytes moved per element (two reads, one write;
# write-allocate traffic not counted, as in STREAM).  The 2-thread figure runs
# the same kernel on two halves from two Python threads (NumPy releases the
# GIL), so both sides use the same number of cores.
BYTES_PER_ELEM = {"add": 12, "mul": 12, "exp": 8, "tanh": 8, "sum": 4, "max": 4}  # float32


def stream_bandwidth(nthreads, n=32_000_000, repeat=7):
    import threading
    a, b, c = np.empty(n), np.full(n, 1.0), np.full(n, 2.0)
    parts = [slice(i * n // nthreads, (i + 1) * n // nthreads) for i in range(nthreads)]

    def run():
        if nthreads == 1:
            np.add(b, c, out=a)
            return
        ts = [threading.Thread(target=np.add, args=(b[p], c[p]), kwargs={"out": a[p]}) for p in parts]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    run()
    best = min(timeit.repeat(run, number=1, repeat=repeat))
    return 24 * n / best / 1e9


def bandwidth_table(n, bandwidth):
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal(n).astype(np.float32)
    b_np = rng.standard_normal(n).astype(np.float32)
    a_e, b_e = ember.from_numpy(a_np), ember.from_numpy(b_np)
    cases = [
        ("add", lambda: a_e + b_e, lambda: a_np + b_np),
        ("mul", lambda: a_e * b_e, lambda: a_np * b_np),
        ("exp", lambda: ember.exp(a_e), lambda: np.exp(a_np)),
        ("tanh", lambda: ember.tanh(a_e), lambda: np.tanh(a_np)),
        ("sum", lambda: ember.sum(a_e), lambda: np.sum(a_np)),
        ("max", lambda: ember.max(a_e), lambda: np.max(a_np)),
    ]
    number = 20 if n <= 2_000_000 else 3
    print(f"\nThroughput, {n / 1e6:g}M float32 elements: GB/s (bytes read + written), and ember's "
          f"share of the measured bandwidth")
    print(f"| {'op':<5} | thr | {'ember GB/s':>10} | {'NumPy GB/s':>10} | {'ember/NumPy':>11} | "
          f"{'ember/bandwidth':>15} |")
    print(f"|{'-' * 7}|-----|{'-' * 12}|{'-' * 12}|{'-' * 13}|{'-' * 17}|")
    for name, fe, fn in cases:
        for nt in (1, 2):
            ember.set_num_threads(nt)
            with threadpool_limits(nt):
                te, tn = alternating((fe, fn), number)
            ge, gn = BYTES_PER_ELEM[name] * n / te / 1e9, BYTES_PER_ELEM[name] * n / tn / 1e9
            print(f"| {name:<5} | {nt:>3} | {ge:10.1f} | {gn:10.1f} | {tn / te:10.2f}x | "
                  f"{ge / bandwidth[nt]:14.0%} |")
    ember.set_num_threads(0)


if __name__ == "__main__":
    from threadpoolctl import threadpool_info, threadpool_limits

    print(f"ember {ember.__version__}, NumPy {np.__version__}, PyTorch {torch.__version__} "
          f"(threads: torch {torch.get_num_threads()}, ember {ember.get_num_threads()}), "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print("NumPy BLAS: " + ", ".join(f"{i['internal_api']} {i.get('version')} {i.get('architecture')}"
                                     for i in threadpool_info() if i["user_api"] == "blas"))
    ember.set_num_threads(1)
    small_ops()
    large_ops(1_000_000)
    bw = {nt: stream_bandwidth(nt) for nt in (1, 2)}
    print(f"\nMemory bandwidth (STREAM-add-like, NumPy, float64): {bw[1]:.1f} GB/s on 1 thread, "
          f"{bw[2]:.1f} GB/s on 2")
    bandwidth_table(1_000_000, bw)
    bandwidth_table(16_000_000, bw)
