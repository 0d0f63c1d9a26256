"""CSV reading: ember.data.read_csv vs pandas.read_csv (C engine) vs numpy.loadtxt.

Generates two files (cached under --dir): a numeric one (rows x 10 float64
columns written with repr, i.e. up to 17 significant digits) and a mixed one
(int, float with ~5% missing, short strings, a bool, a float).

Every reader is timed the same way: --repeat rounds, each round running every
reader once in turn (so a burst of load on a shared machine hits all of them),
and the best wall time and the best process CPU time (user + system, all
threads of the process) of each reader are kept.  numpy.loadtxt gets the same
rounds unless --loadtxt-repeat says fewer.  The second table gives how many
times faster ember is than each reader, by wall time and by CPU time, for
ember on 1 and on 2 threads.  The CPU time of the 2-thread run is the sum
over both threads, so only its wall time can show a gain from the second
thread; on a busy machine the CPU-time ratio of the one-thread readers is
the steadier number.

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


def timed(fn) -> tuple[float, float]:
    """Wall time and process CPU time (user + system, all threads) of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def best_of_rounds(readers: dict, repeat: int, repeat_of: dict) -> dict:
    """{name: (best wall, best cpu)}: `repeat` rounds, each running every reader
    once in turn (readers named in repeat_of only in their first rounds)."""
    walls: dict = {k: [] for k in readers}
    cpus: dict = {k: [] for k in readers}
    for r in range(repeat):
        for name, fn in readers.items():
            if r >= repeat_of.get(name, repeat):
                continue
            w, c = timed(fn)
            walls[name].append(w)
            cpus[name].append(c)
    return {k: (min(walls[k]), min(cpus[k])) for k in readers}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dir", default="/tmp/ember_bench_csv")
    ap.add_argument("--no-loadtxt", action="store_true", help="skip numpy.loadtxt (slow)")
    ap.add_argument("--loadtxt-repeat", type=int, default=0,
                    help="rounds that include numpy.loadtxt (default: all --repeat rounds)")
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

    def with_threads(n, path):
        def run():
            ember.set_num_threads(n)
            ember.data.read_csv(path)
        return run

    ratios = []
    print(f"{'file':<8} {'MB':>6} {'reader':<28} {'runs':>4} {'wall s':>7} {'MB/s':>6} {'cpu s':>7}")
    with threadpool_limits(1):
        for label, path, loadtxt_ok in (("numeric", num, True), ("mixed", mix, False)):
            mb = os.path.getsize(path) / 1e6
            e1, e2 = f"ember ({args.threads} thread)", "ember (2 threads)"
            readers = {e1: with_threads(args.threads, path), e2: with_threads(2, path),
                       "pandas.read_csv (c engine)": lambda: pd.read_csv(path, engine="c")}
            repeat_of = {}
            if loadtxt_ok and not args.no_loadtxt:
                readers["numpy.loadtxt"] = lambda: np.loadtxt(path, delimiter=",", skiprows=1)
                repeat_of["numpy.loadtxt"] = min(args.repeat, args.loadtxt_repeat or args.repeat)
            rows = best_of_rounds(readers, args.repeat, repeat_of)
            ember.set_num_threads(args.threads)
            for name, (t, c) in rows.items():
                print(f"{label:<8} {mb:>6.1f} {name:<28} {repeat_of.get(name, args.repeat):>4} "
                      f"{t:>7.3f} {mb / t:>6.0f} {c:>7.3f}")
            for other in rows:
                if other.startswith("ember"):
                    continue
                ow, oc = rows[other]
                ratios.append((label, other, ow / rows[e1][0], oc / rows[e1][1],
                               ow / rows[e2][0], oc / rows[e2][1]))
    print()
    print("how many times faster ember is (other reader's best time / ember's best time)")
    print(f"{'file':<8} {'vs reader':<28} {'1t wall':>8} {'1t cpu':>8} {'2t wall':>8} {'2t cpu':>8}")
    for label, other, a, b, c, d in ratios:
        print(f"{label:<8} {other:<28} {a:>7.2f}x {b:>7.2f}x {c:>7.2f}x {d:>7.2f}x")
    ember.set_num_threads(0)


if __name__ == "__main__":
    main()
