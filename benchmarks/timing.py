"""Timing rules shared by the benchmarks that put ember beside a reference
library on several threads (bench_gemm.py, bench_conv.py).

With several threads, a library's workers keep a core after its call:
OpenBLAS's busy-wait for 50-200 ms, PyTorch's OpenMP workers ~15 ms.  The
side timed next would run with a core taken (ember's 2-thread 1024^3 product:
26-33 ms right after a NumPy call, 19-23 ms after a pause), so each timed
block waits that out first.  It waits busily: after the main thread has
slept, the scheduler of this 2-vCPU VM put a pool's woken worker on the main
thread's core for tens of ms (ember's 2-thread 512^3 product: 75 GFLOPS after
a 0.2 s sleep once torch had run, 150 after a 0.2 s busy wait).  And the first
call after the pause is slow for every side (its workers wake), so it is
run untimed.
"""
from __future__ import annotations

import time
from typing import Callable


def settle(seconds: float) -> None:
    """Let other libraries' workers go idle, keeping this core busy."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def best_per_call(fns: dict, rounds: int, inner: dict, clock: Callable[[], float], pause: float) -> dict:
    """Best seconds per call of each function over alternating rounds: each round runs every
    function in turn (inner[name] calls timed together), so that a slow spell of the host
    reaches all sides alike.  pause: seconds of settle() plus one untimed call before each
    timed block (0: neither)."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            if pause:
                settle(pause)
                fn()
            t0 = clock()
            for _ in range(inner[name]):
                fn()
            best[name] = min(best[name], (clock() - t0) / inner[name])
    return best
