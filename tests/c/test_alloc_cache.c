/* The cache of freed large blocks (base/alloc.c): reuse, fit, the limit and
 * eviction order, release, EMBER_ALLOC_CACHE, em_set_allocator flushing it,
 * live-byte accounting, and many threads allocating at once.  Under
 * AddressSanitizer the cache is compiled out: the same tests then check that
 * nothing is ever cached and that allocation still works. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_util.h"
#include "internal.h"
#include "base/threadpool.h"

#define MiB ((size_t)1 << 20)
#define HDR ((size_t)EM_ALIGN) /* header bytes before each 64-byte aligned block */

static bool on; /* the cache is compiled in */

/* Runs each test from an empty cache with a known limit, and restores the
 * default limit afterwards. */
static void begin(int64_t limit) {
    on = em_alloc_cache_supported();
    em_set_allocator(NULL);
    em_release_cached_memory();
    em_set_alloc_cache_limit(limit);
    CHECK(em_cached_bytes() == 0);
    CHECK(em_alloc_cache_limit() == (on ? limit : 0));
}
static void end(void) {
    em_set_alloc_cache_limit(-1);
    em_release_cached_memory();
}

static void fill(void *p, size_t n, unsigned char v) { memset(p, v, n); }
static bool all_are(const void *p, size_t n, unsigned char v) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != v) return false;
    return true;
}

TEST(alloc_cache_reuses_freed_block) {
    begin(64 * (int64_t)MiB);
    const int64_t live0 = em_allocated_bytes();
    char *p = em__alloc(8 * MiB);
    CHECK(p && ((uintptr_t)p & 63) == 0);
    if (!p) return;
    CHECK(em_allocated_bytes() - live0 == (int64_t)(8 * MiB));
    fill(p, 8 * MiB, 0x5a);
    em__free(p);
    /* live bytes drop at once; the block moves to the cache */
    CHECK(em_allocated_bytes() == live0);
    CHECK(em_cached_bytes() == (on ? (int64_t)(8 * MiB + HDR) : 0));

    /* too large, and far too small (beyond the 1/8 slack): not taken */
    char *big = em__alloc(9 * MiB), *small = em__alloc(6 * MiB);
    CHECK(big && small && big != p && small != p);
    CHECK(em_cached_bytes() == (on ? (int64_t)(8 * MiB + HDR) : 0));
    em__free(small);
    em__free(big);
    CHECK(em_cached_bytes() == (on ? (int64_t)(23 * MiB + 3 * HDR) : 0));

    /* a slightly smaller request gets the best fit: the same block, not zeroed */
    char *q = em__alloc(8 * MiB - 4096);
    CHECK(q && ((uintptr_t)q & 63) == 0);
    if (on) {
        CHECK(q == p);
        CHECK(all_are(q, 8 * MiB - 4096, 0x5a)); /* the old contents: reuse skipped the kernel's zeroing */
        CHECK(em_cached_bytes() == (int64_t)(15 * MiB + 2 * HDR));
#if defined(__linux__)
        /* large blocks keep their 2 MiB-aligned start (huge pages) */
        CHECK((((uintptr_t)q - HDR) & (2 * MiB - 1)) == 0);
#endif
    }
    CHECK(em_allocated_bytes() - live0 == (int64_t)(8 * MiB - 4096)); /* what was asked, not the block */
    /* it keeps its full size: the whole 8 MiB block goes back */
    em__free(q);
    CHECK(em_cached_bytes() == (on ? (int64_t)(23 * MiB + 3 * HDR) : 0));

    /* em__calloc zeroes a dirty cached block */
    float *z = em__calloc(8 * MiB);
    CHECK(z != NULL);
    if (z) {
        if (on) CHECK((char *)z == p);
        CHECK(all_are(z, 8 * MiB, 0));
    }
    em__free(z);

    /* small blocks and 16-byte aligned headers never go to the cache */
    int64_t held = em_cached_bytes();
    void *s = em__alloc(MiB / 2), *h = em__alloc_small(2 * MiB);
    CHECK(s && h);
    em__free(s);
    em__free(h);
    CHECK(em_cached_bytes() == held);
    CHECK(em_allocated_bytes() == live0);
    end();
}

/* Tensors: a freed large result's block serves the next result of the same
 * size, and the values are right whatever the block held. */
TEST(alloc_cache_tensors) {
    begin(256 * (int64_t)MiB);
    const int64_t n = 1 << 20; /* 4 MiB of f32 */
    em_tensor *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(em_tensor_full(EM_F32, 1, &n, 3, &a));
    if (!a) return;
    const void *pa = em_tensor_data(a);
    em_tensor_free(a);
    CHECK(em_cached_bytes() >= (on ? (int64_t)(4 * MiB) : 0));
    CHECK_OK(em_tensor_zeros(EM_F32, 1, &n, &b)); /* zeros must clear the 3s */
    if (b) {
        if (on) CHECK(em_tensor_data(b) == pa);
        const float *x = em_tensor_data(b);
        bool zero = true;
        for (int64_t i = 0; i < n; i++) zero &= x[i] == 0;
        CHECK(zero);
        CHECK_OK(em_tensor_full(EM_F32, 1, &n, 2, &c));
        em_tensor *d = NULL;
        if (c) CHECK_OK(em_binary(EM_OP_ADD, b, c, &d));
        if (d) {
            const float *y = em_tensor_data(d);
            bool two = true;
            for (int64_t i = 0; i < n; i++) two &= y[i] == 2;
            CHECK(two);
        }
        em_tensor_free(d);
    }
    em_tensor_free(b);
    em_tensor_free(c);
    int64_t held = em_cached_bytes();
    CHECK(held >= (on ? (int64_t)(4 * MiB) : 0)); /* b's and c's blocks at least */
    CHECK(em_release_cached_memory() == held);
    CHECK(em_cached_bytes() == 0);
    end();
}

/* Over the limit the oldest blocks go first; a block larger than the limit
 * is never kept; lowering the limit evicts; 0 disables. */
TEST(alloc_cache_limit_evicts_oldest) {
    const size_t blk = 2 * MiB + HDR;
    begin(3 * (int64_t)blk);
    const int64_t live0 = em_allocated_bytes();
    char *b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = em__alloc(2 * MiB);
        CHECK(b[i] != NULL);
        if (b[i]) b[i][0] = (char)i;
    }
    for (int i = 0; i < 4; i++) em__free(b[i]); /* b[0] is evicted when b[3] comes */
    CHECK(em_cached_bytes() == (on ? 3 * (int64_t)blk : 0));
    CHECK(em_cached_bytes() <= em_alloc_cache_limit());
    /* the three kept are b[3], b[2], b[1] (the newest first) */
    char *r[3];
    for (int i = 0; i < 3; i++) r[i] = em__alloc(2 * MiB);
    if (on) {
        CHECK(r[0] == b[3] && r[1] == b[2] && r[2] == b[1]);
        CHECK(r[0][0] == 3 && r[1][0] == 2 && r[2][0] == 1);
        CHECK(em_cached_bytes() == 0);
    }
    for (int i = 0; i < 3; i++) em__free(r[i]);
    CHECK(em_cached_bytes() == (on ? 3 * (int64_t)blk : 0));

    /* lowering the limit frees the oldest down to it */
    em_set_alloc_cache_limit((int64_t)blk);
    CHECK(em_cached_bytes() == (on ? (int64_t)blk : 0));
    char *last = em__alloc(2 * MiB);
    if (on) CHECK(last == r[2]); /* freed last, so kept */
    em__free(last);

    /* a block larger than the limit goes straight back to the system */
    char *huge = em__alloc(4 * MiB);
    CHECK(huge != NULL);
    em__free(huge);
    CHECK(em_cached_bytes() == (on ? (int64_t)blk : 0));

    /* 0 disables: the cache is emptied and stays empty */
    em_set_alloc_cache_limit(0);
    CHECK(em_alloc_cache_limit() == 0 && em_cached_bytes() == 0);
    char *x = em__alloc(3 * MiB);
    CHECK(x != NULL);
    em__free(x);
    CHECK(em_cached_bytes() == 0);
    CHECK(em_allocated_bytes() == live0);
    end();
}

TEST(alloc_cache_release) {
    begin(64 * (int64_t)MiB);
    void *p = em__alloc(3 * MiB), *q = em__alloc(5 * MiB);
    CHECK(p && q);
    em__free(p);
    em__free(q);
    int64_t held = em_cached_bytes();
    CHECK(held == (on ? (int64_t)(8 * MiB + 2 * HDR) : 0));
    CHECK(em_release_cached_memory() == held);
    CHECK(em_cached_bytes() == 0);
    CHECK(em_release_cached_memory() == 0);
    end();
}

/* EMBER_ALLOC_CACHE sets the default limit (read again by
 * em_set_alloc_cache_limit(-1)); values that are not a byte count fall
 * back to the built-in default. */
TEST(alloc_cache_environment) {
    begin(0);
    const char *saved = getenv("EMBER_ALLOC_CACHE");
    char *keep = saved ? strdup(saved) : NULL;
    unsetenv("EMBER_ALLOC_CACHE");
    em_set_alloc_cache_limit(-1);
    const int64_t builtin = em_alloc_cache_limit();
    if (on) CHECK(builtin > 0 && builtin <= (int64_t)1 << 30);
    static const struct {
        const char *v;
        int64_t want; /* -1: the built-in default */
    } cases[] = {
        {"0", 0},         {"1048576", 1 << 20}, {"16M", 16 << 20}, {"2k", 2048},
        {"3G", (int64_t)3 << 30}, {"64m\n", 64 << 20}, {"junk", -1}, {"-5", -1},
        {"12X", -1},      {"", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("EMBER_ALLOC_CACHE", cases[i].v, 1);
        em_set_alloc_cache_limit(-1);
        int64_t want = on ? (cases[i].want < 0 ? builtin : cases[i].want) : 0;
        if (em_alloc_cache_limit() != want) {
            fprintf(stderr, "  EMBER_ALLOC_CACHE=\"%s\": limit %lld, wanted %lld\n", cases[i].v,
                    (long long)em_alloc_cache_limit(), (long long)want);
            test_failures++;
        }
    }
    /* disabled by the environment: freeing keeps nothing */
    setenv("EMBER_ALLOC_CACHE", "0", 1);
    em_set_alloc_cache_limit(-1);
    void *p = em__alloc(4 * MiB);
    CHECK(p != NULL);
    em__free(p);
    CHECK(em_cached_bytes() == 0);
    if (keep) setenv("EMBER_ALLOC_CACHE", keep, 1);
    else unsetenv("EMBER_ALLOC_CACHE");
    free(keep);
    end();
}

/* Custom hooks: the cache (which holds default-hooks blocks) is freed when
 * they are installed, and they see every allocation, large ones included. */
TEST(alloc_cache_set_allocator_flushes) {
    begin(64 * (int64_t)MiB);
    void *p = em__alloc(4 * MiB);
    CHECK(p != NULL);
    em__free(p);
    CHECK(em_cached_bytes() == (on ? (int64_t)(4 * MiB + HDR) : 0));
    oom_install(-1, false); /* counting hooks, never failing */
    CHECK(em_cached_bytes() == 0);
    for (int i = 0; i < 3; i++) {
        void *q = em__alloc(4 * MiB);
        CHECK(q != NULL);
        em__free(q);
    }
    CHECK(oom_calls() == 3); /* no allocation served from a cache */
    CHECK(em_cached_bytes() == 0);
    /* a failure is reported, not hidden by a cached block */
    oom_install(0, true);
    CHECK(em__alloc(4 * MiB) == NULL);
    oom_remove();
    CHECK(em_get_allocator().alloc != NULL);
    end();
}

/* ---- threads --------------------------------------------------------------- */
/* Many threads allocate and free blocks of sizes that do and do not fit each
 * other's, with a limit small enough that eviction runs all the time; each
 * block is stamped with its owner and checked before it is freed, so two
 * owners of one block or a block smaller than asked would show. */
#define ROUNDS 40
static atomic_int stress_bad;
static void stress_range(void *ctx, int64_t begin_, int64_t end_, int tid) {
    uintptr_t salt = (uintptr_t)ctx;
    static const size_t sizes[] = {MiB, MiB + 4096, 2 * MiB, 3 * MiB - 64, 5 * MiB};
    for (int64_t task = begin_; task < end_; task++) {
        for (int r = 0; r < ROUNDS; r++) {
            size_t n = sizes[(size_t)(task + r) % 5];
            unsigned char tag = (unsigned char)(salt * 131 + (uintptr_t)task * 7 + (uintptr_t)r);
            unsigned char *p = em__alloc(n);
            if (!p) {
                atomic_fetch_add(&stress_bad, 1);
                continue;
            }
            if ((uintptr_t)p & 63) atomic_fetch_add(&stress_bad, 1);
            for (size_t i = 0; i < n; i += 4096) p[i] = tag;
            p[n - 1] = tag;
            sched_yield();
            bool ok = p[n - 1] == tag;
            for (size_t i = 0; i < n; i += 4096) ok &= p[i] == tag;
            if (!ok) atomic_fetch_add(&stress_bad, 1);
            em__free(p);
        }
    }
    (void)tid;
}
static void *stress_thread(void *salt) {
    em__parallel_for(8, 1, em__threads(), stress_range, salt);
    return NULL;
}

TEST(alloc_cache_thread_stress) {
    begin(8 * (int64_t)MiB);
    const int64_t live0 = em_allocated_bytes();
    const int before = em_get_num_threads();
    CHECK_OK(em_set_num_threads(4));
    atomic_store(&stress_bad, 0);
    pthread_t th[3];
    int started = 0;
    for (int i = 0; i < 3; i++) started += pthread_create(&th[started], NULL, stress_thread, (void *)(uintptr_t)(i + 1)) == 0;
    stress_thread((void *)(uintptr_t)9);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    CHECK(started == 3);
    CHECK(atomic_load(&stress_bad) == 0);
    CHECK(em_allocated_bytes() == live0);
    CHECK(em_cached_bytes() <= 8 * (int64_t)MiB);
    if (on) CHECK(em_cached_bytes() > 0); /* blocks of up to 5 MiB were kept */
    CHECK(em_release_cached_memory() >= 0 && em_cached_bytes() == 0);
    em_set_num_threads(before == 1 ? 1 : 0); /* as tests/c/test_threads.c restores it */
    end();
}
