"""The one list of libember sources and compiler flags.

Both the Makefile (libember.a/.so, C tests, ember-serve) and setup.py (the
ember._C extension) read it, so the two builds cannot drift.
Run `python3 buildcfg.py sources|cflags|ldlibs` to print a list.
"""
import glob
import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))

# Portable kernels only: SIMD variants (kernels/x86) get their own target
# flags and are dispatched at run time, never -march=native.
# -fvect-cost-model=dynamic: -O2's default "very cheap" model skips every
# loop whose trip count is unknown (fills, selections, row loops); without
# -ffast-math the vectoriser never reassociates floating-point sums, so the
# bits do not change.
# gnu11 rather than c11: the extension's GIL macro uses a GNU statement
# expression, and both builds must use the same flags.
CFLAGS = ["-std=gnu11", "-O2", "-fPIC", "-fvisibility=hidden", "-D_GNU_SOURCE",
          "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-sign-compare",
          "-fno-math-errno", "-fvect-cost-model=dynamic"]
LDLIBS = ["-lm", "-lpthread"]


def sources(root=ROOT):
    """libember C sources, relative to root, in a stable order."""
    files = glob.glob(os.path.join(root, "csrc", "ember", "**", "*.c"), recursive=True)
    return sorted(os.path.relpath(f, root) for f in files)


def pyext_sources(root=ROOT):
    files = glob.glob(os.path.join(root, "csrc", "pyext", "*.c"))
    return sorted(os.path.relpath(f, root) for f in files)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "sources"
    print(" ".join({"sources": sources(), "cflags": CFLAGS, "ldlibs": LDLIBS,
                    "pyext": pyext_sources()}[what]))
