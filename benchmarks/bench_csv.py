"""CSV reading: ember.data.read_csv vs pandas.read_csv (C engine) vs numpy.loadtxt.

Generates two files (cached under --dir): a numeric one (rows x 10 float64
columns written with repr, i.e. up to 17 significant digits) and a mixed one
(int, float with ~5% missing, short strings, a bool, a float).  Prints the
best wall time and CPU time of --repeat runs, MB/s and ratios of one run (on
a busy machine the CPU-time ratio of the one-thread readers is the steadier).
Thread counts: ember uses --threads (default 1, as pandas and NumPy parse on
one thread); the ratio at 2 threads is printed too.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=python \\
        .venv/bin/python benchmarks/bench_csv.py --rows 1000000
"""
from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np


def make_numeric(path: str, rows: int, cols: int = 10) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, cols)) * 10.0 ** rng.integers(-3, 4, (rows, cols))
    with open(path, "w") as f:
        f.write(",".join(f"c{j}" for j in range(cols)) + "\n")
        step = 100_000
        for a in range(0, rows, step):
            block = x[a:a + step]
            f.write("\n".join(",".join(map(repr, r)) for r in block.tolist()) + "\n")


def make_mixed(path: str, rows: int) -> None:
    rng = np.random.default_rng(1)
    words = np.array(["alpha", "beta", "gamma, inc", "delta", "", "NA", "epsilon zeta"])
    with open(path, "w") as f:
        f.write("id,price,name,flag,score\n")
        step = 100_000
        for a in range(0, rows, step):
            n = min(step, rows - a)
            ids = np.arange(a, a + n)
            price = np.round(rng.uniform(0, 1000, n), 2).astype(str).astype(object)
            price[rng.random(n) < 0.05] = ""
            name = words[rng.integers(0, len(words), n)]
            flag = np.where(rng.random(n) < 0.5, "True", "False")
            score = rng.standard_normal(n).tolist()  # Python floats: repr is the shortest round trip
            lines = []
            for i in range(n):
                nm = name[i]
                nm = f'"{nm}"' if "," in nm else nm
                lines.append(f"{ids[i]},{price[i]},{nm},{flag[i]},{score[i]!r}")
            f.write("\n".join(lines) + "\n")


def best(fn, repeat: int) -> tuple[float, float]:
    """The best (minimum) wall time and process CPU time of `repeat` runs: on a
    shared machine the minimum is the run least disturbed by other processes,
    and CPU time (all threads of this process) hardly depends on the load."""
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dir", default="/tmp/ember_bench_csv")
    ap.add_argument("--no-loadtxt", action="store_true", help="skip numpy.loadtxt (slow)")
    args = ap.parse_args()

    import ember
    import ember.data
    import pandas as pd
    from threadpoolctl import threadpool_limits

    os.makedirs(args.dir, exist_ok=True)
    num = os.path.join(args.dir, f"numeric_{args.rows}.csv")
    mix = os.path.join(args.dir, f"mixed2_{args.rows}.csv")  # v2: score written as plain floats
    if not os.path.exists(num):
        make_numeric(num, args.rows)
    if not os.path.exists(mix):
        make_mixed(mix, args.rows)

    # same answers before timing anything
    e = ember.data.read_csv(num)
    with warnings.catch_warnings():  # float_precision is deprecated in newer pandas, still exact
        warnings.simplefilter("ignore")
        p = pd.read_csv(num, engine="c", float_precision="round_trip")
    for c in p.columns:
        assert np.array_equal(np.asarray(e[c]), p[c].to_numpy()), c

    print(f"{'file':<8} {'MB':>6} {'reader':<28} {'wall s':>7} {'MB/s':>6} {'vs ember(1t)':>12} "
          f"{'cpu s':>7} {'cpu vs ember(1t)':>16}")
    with threadpool_limits(1):
        for label, path, loadtxt_ok in (("numeric", num, True), ("mixed", mix, False)):
            mb = os.path.getsize(path) / 1e6
            rows = {}
            ember.set_num_threads(args.threads)
            rows[f"ember ({args.threads} thread)"] = best(lambda: ember.data.read_csv(path), args.repeat)
            ember.set_num_threads(2)
            rows["ember (2 threads)"] = best(lambda: ember.data.read_csv(path), args.repeat)
            ember.set_num_threads(args.threads)
            rows["pandas.read_csv (c engine)"] = best(lambda: pd.read_csv(path, engine="c"), args.repeat)
            if loadtxt_ok and not args.no_loadtxt:
                rows["numpy.loadtxt"] = best(lambda: np.loadtxt(path, delimiter=",", skiprows=1), 1)
            base, cbase = rows[f"ember ({args.threads} thread)"]
            for name, (t, c) in rows.items():
                print(f"{label:<8} {mb:>6.1f} {name:<28} {t:>7.3f} {mb / t:>6.0f} {t / base:>11.2f}x "
                      f"{c:>7.3f} {c / cbase:>15.2f}x")
    ember.set_num_threads(0)


if __name__ == "__main__":
    main()
