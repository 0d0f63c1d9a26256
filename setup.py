"""Builds the ember._C extension from the same sources and flags as the Makefile."""
import os
import shlex
import sys

import numpy
from setuptools import Extension, setup

# PEP 517 backends do not put the source folder on sys.path
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import buildcfg  # noqa: E402

extra = shlex.split(os.environ.get("EMBER_EXTRA_CFLAGS", ""))
extra_ld = shlex.split(os.environ.get("EMBER_EXTRA_LDFLAGS", ""))

ext = Extension(
    "ember._C",
    sources=buildcfg.sources() + buildcfg.pyext_sources(),
    include_dirs=["csrc/ember/include", "csrc/ember", "csrc/pyext", numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_25_API_VERSION"), ("NPY_TARGET_VERSION", "NPY_1_25_API_VERSION")],
    extra_compile_args=buildcfg.CFLAGS + extra,
    extra_link_args=buildcfg.LDLIBS + extra_ld,
)

setup(ext_modules=[ext])
