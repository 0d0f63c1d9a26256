"""ember's cache of freed large blocks (csrc/ember/base/alloc.c, docs/kernels.md
"Memory"): freed results of 1 MiB and more are kept for reuse up to a limit,
empty_cache() hands them back, EMBER_ALLOC_CACHE=0 turns it off, and results
never depend on what a reused block held.  Under AddressSanitizer the cache is
compiled out; the tests then check that nothing is ever cached."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember
from ember import _C

ON = _C._alloc_cache_supported()
MiB = 1 << 20


@pytest.fixture
def fresh_cache():
    ember.set_alloc_cache_limit(256 * MiB)
    ember.empty_cache()
    yield
    ember.set_alloc_cache_limit(None)
    ember.empty_cache()


def test_freed_large_tensor_is_cached_and_empty_cache_returns_it(fresh_cache):
    assert ember.cached_bytes() == 0
    live0 = _C._allocated_bytes()
    t = ember.ones((4, MiB // 4), dtype=ember.float32)  # 4 MiB
    assert _C._allocated_bytes() - live0 >= 4 * MiB
    del t
    assert _C._allocated_bytes() == live0  # cached blocks are not live
    held = ember.cached_bytes()
    if ON:  # the block: data, tensor and storage headers, allocator header
        assert 4 * MiB < held < 4 * MiB + 4096
    else:
        assert held == 0
    assert ember.empty_cache() == held
    assert ember.cached_bytes() == 0
    assert ember.empty_cache() == 0


def test_small_tensors_are_not_cached(fresh_cache):
    t = ember.ones(1000)
    del t
    assert ember.cached_bytes() == 0


def test_results_unchanged_with_reused_blocks(fresh_cache):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(1 << 20).astype(np.float32)
    b = rng.standard_normal(1 << 20).astype(np.float32)
    ea, eb = ember.asarray(a), ember.asarray(b)
    for _ in range(3):  # later rounds reuse the blocks freed by earlier ones
        np.testing.assert_array_equal(np.asarray(ea + eb), a + b)
        np.testing.assert_allclose(np.asarray(ember.exp(ea)), np.exp(a), rtol=2e-6)
        np.testing.assert_array_equal(np.asarray(ember.zeros(1 << 20)), np.zeros(1 << 20, np.float32))
        np.testing.assert_array_equal(np.asarray(ember.full((1 << 20,), 7.0)), np.full(1 << 20, 7.0, np.float32))
    if ON:
        assert ember.cached_bytes() >= 4 * MiB


def test_limit_and_eviction(fresh_cache):
    t = ember.ones(MiB // 2)  # 2 MiB of data
    del t
    blk = ember.cached_bytes()  # one such block, headers included
    ember.empty_cache()
    limit = 2 * blk + blk // 2 if ON else 5 * MiB
    ember.set_alloc_cache_limit(limit)
    assert ember.get_alloc_cache_limit() == (limit if ON else 0)
    ts = [ember.ones(MiB // 2) for _ in range(3)]
    del ts
    assert ember.cached_bytes() == (2 * blk if ON else 0)  # the third does not fit: the oldest went
    assert ember.cached_bytes() <= ember.get_alloc_cache_limit()
    ember.set_alloc_cache_limit(0)
    assert ember.cached_bytes() == 0 and ember.get_alloc_cache_limit() == 0
    t = ember.ones(MiB)
    del t
    assert ember.cached_bytes() == 0


def test_set_alloc_cache_limit_rejects_bad_values():
    with pytest.raises(ValueError, match="nbytes must be >= 0"):
        ember.set_alloc_cache_limit(-1)
    with pytest.raises(TypeError, match="nbytes must be an int or None"):
        ember.set_alloc_cache_limit(1.5)
    with pytest.raises(TypeError, match="nbytes must be an int or None"):
        ember.set_alloc_cache_limit(True)


def run_child(env_value):
    code = textwrap.dedent("""
        import ember
        from ember import _C
        t = ember.ones(1 << 20)
        del t
        print(_C._alloc_cache_supported(), ember.get_alloc_cache_limit(), ember.cached_bytes())
    """)
    env = dict(os.environ)
    env.pop("EMBER_ALLOC_CACHE", None)
    if env_value is not None:
        env["EMBER_ALLOC_CACHE"] = env_value
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    supported, limit, cached = out.split()
    return supported == "True", int(limit), int(cached)


def test_env_var_zero_disables_in_subprocess():
    supported, limit, cached = run_child("0")
    assert (limit, cached) == (0, 0)
    supported, limit, cached = run_child("64M")
    assert limit == (64 * MiB if supported else 0)
    assert (4 * MiB < cached < 4 * MiB + 4096) if supported else cached == 0
    supported, limit, cached = run_child(None)
    assert 0 < limit <= 1 << 30 if supported else limit == 0
