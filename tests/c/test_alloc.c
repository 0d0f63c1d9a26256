/* Out-of-memory injection: an allocator that fails the k-th allocation, run
 * against a scenario of many fallible calls for k = 0, 1, 2, ... until the
 * scenario completes.  Every injected failure must come back as
 * EM_ERR_NOMEM, leave the out-parameter untouched and leak nothing. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

static int wrapped; /* foreign buffers the scenario wrapped */

/* Runs every step in order; returns the first failing status (EM_OK if none).
 * Each step writes a fresh slot, so cleanup frees exactly what was made.
 *
 * LATER AUTHORS: when you add a family of fallible functions (elementwise,
 * reductions, linalg, shape/index ops, autograd, ml, io, sessions, ...),
 * add calls to it here, so each of its allocation failures is tested too. */
static em_status scenario(void) {
    em_tensor *t[40] = {0};
    em_generator *g = NULL;
    em_status st = EM_OK;
    int n = 0;
    static float buf[6] = {1, 2, 3, 4, 5, 6};
    static const double probs[4] = {0, 0.5, 1, 0.25};
/* STEP(call using &t[n]): runs call; on failure checks t[n] is still NULL. */
#define STEP(...)                                                              \
    do {                                                                       \
        st = (__VA_ARGS__);                                                    \
        if (st != EM_OK) {                                                     \
            CHECK(t[n] == NULL);                                               \
            goto done;                                                         \
        }                                                                      \
        n++;                                                                   \
    } while (0)
    /* creation */
    STEP(em_tensor_empty(EM_F32, DIMS(2, 3), &t[n]));               /* 0 */
    STEP(em_tensor_zeros(EM_F64, DIMS(3, 4), &t[n]));               /* 1 */
    STEP(em_tensor_ones(EM_I32, DIMS(4), &t[n]));                   /* 2 */
    STEP(em_tensor_full(EM_U8, 0, NULL, 3, &t[n]));                 /* 3 */
    STEP(em_tensor_empty_like(t[1], EM_I64, &t[n]));                /* 4 */
    STEP(em_tensor_full_like(t[1], -1, 2, &t[n]));                  /* 5 */
    STEP(em_tensor_arange(10, 0, -0.5, EM_F32, &t[n]));             /* 6 */
    STEP(em_tensor_linspace(0, 1, 7, false, EM_F64, &t[n]));        /* 7 */
    STEP(em_tensor_eye(3, 5, 1, EM_BOOL, &t[n]));                   /* 8 */
    /* views (each allocates a handle) */
    STEP(em_tensor_transpose(t[1], 0, 1, &t[n]));                   /* 9: (4, 3) */
    STEP(em_tensor_view(t[1], DIMS(12), &t[n]));                    /* 10 */
    STEP(em_tensor_expand(t[2], DIMS(5, 4), &t[n]));                /* 11 */
    STEP(em_tensor_slice(t[6], 0, -1, 0, -3, &t[n]));               /* 12 */
    STEP(em_tensor_select(t[1], 0, -1, &t[n]));                     /* 13 */
    STEP(em_tensor_squeeze(t[11], NULL, 0, &t[n]));                 /* 14 */
    STEP(em_tensor_unsqueeze(t[2], 0, &t[n]));                      /* 15 */
    STEP(em_tensor_flip(t[9], NULL, 0, &t[n]));                     /* 16 */
    STEP(em_tensor_permute(t[1], (int[]){1, 0}, &t[n]));            /* 17 */
    STEP(em_tensor_mT(t[1], &t[n]));                                /* 18 */
    /* copies */
    STEP(em_tensor_reshape(t[9], DIMS(2, 6), &t[n]));               /* 19: copies */
    STEP(em_tensor_flatten(t[9], 0, -1, &t[n]));                    /* 20: copies */
    STEP(em_tensor_contiguous(t[9], &t[n]));                        /* 21: copies */
    STEP(em_tensor_clone(t[16], &t[n]));                            /* 22 */
    STEP(em_tensor_cast(t[9], EM_I8, &t[n]));                       /* 23 */
    STEP(em_tensor_copy_into(t[9], t[16]));                         /* 24: overlap, copies src first */
    /* foreign memory */
    STEP(em_tensor_from_data(EM_F32, DIMS(2, 3), NULL, buf, count_release, buf, &t[n])); /* 25 */
    wrapped++;
    STEP(em_tensor_transpose(t[25], 0, 1, &t[n]));                  /* 26 */
    STEP(em_tensor_reshape(t[26], DIMS(6), &t[n]));                 /* 27: copies */
    /* random numbers */
    st = em_generator_new(5, &g);
    if (st != EM_OK) {
        CHECK(g == NULL);
        goto done;
    }
    STEP(em_random_uniform(g, -1, 1, EM_F32, DIMS(3, 3), &t[n]));   /* 28 */
    STEP(em_random_normal(g, 0, 2, EM_F64, DIMS(5), &t[n]));        /* 29 */
    STEP(em_random_randint(g, -5, 5, EM_I8, DIMS(7), &t[n]));       /* 30 */
    STEP(em_tensor_from_data(EM_F64, DIMS(4), NULL, (void *)probs, NULL, NULL, &t[n])); /* 31 */
    STEP(em_random_bernoulli(g, t[31], EM_BOOL, &t[n]));            /* 32 */
    STEP(em_random_permutation(g, 9, &t[n]));                       /* 33 */
#undef STEP
done:
    for (int i = 0; i < (int)(sizeof t / sizeof t[0]); i++) em_tensor_free(t[i]);
    em_generator_free(g);
    return st;
}

TEST(alloc_oom_injection) {
    const em_allocator base = em_get_allocator();
    const int64_t baseline = em_allocated_bytes();
    long k;
    for (k = 0; k < 100000; k++) {
        releases = wrapped = 0;
        oom_install(k, false);
        em_clear_error();
        em_status st = scenario();
        oom_remove();
        CHECK(em_allocated_bytes() == baseline); /* nothing leaked */
        CHECK(releases == wrapped);              /* release ran once per wrapped buffer, never on failure */
        if (!oom_failed()) {
            CHECK_OK(st);
            break;
        }
        if (st != EM_ERR_NOMEM) {
            fprintf(stderr, "  allocation %ld failed: got %s (%s)\n", k, em_status_str(st), em_last_error());
            test_failures++;
        } else if (!strstr(em_last_error(), "memory")) {
            fprintf(stderr, "  allocation %ld: message \"%s\" does not say memory\n", k, em_last_error());
            test_failures++;
        }
    }
    CHECK(k > 25 && k < 100000); /* the scenario allocates many times, and finishes */
    em_allocator now = em_get_allocator();
    CHECK(now.alloc == base.alloc && now.free == base.free); /* default restored */
}

TEST(alloc_hooks_count_bytes) {
    const em_allocator base = em_get_allocator();
    oom_install(-1, false); /* never fail */
    const int64_t before = em_allocated_bytes();
    em_tensor *t;
    CHECK_OK(em_tensor_zeros(EM_F64, DIMS(100), &t));
    CHECK(oom_calls() >= 1 && em_allocated_bytes() - before >= 800);
    CHECK(((uintptr_t)em_tensor_data(t) & 63) == 0);
    em_tensor_free(t);
    CHECK(em_allocated_bytes() == before);
    em_set_allocator(&(em_allocator){NULL, NULL, NULL}); /* incomplete hooks also restore the default */
    CHECK(em_get_allocator().alloc == base.alloc);
}

/* Whether the mapping holding p has the "hg" (MADV_HUGEPAGE) flag in
 * /proc/self/smaps; -1 where that cannot be read. */
static int huge_advised(const void *p) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    int in = 0, found = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            found = strstr(line, " hg") != NULL;
            break;
        }
    }
    fclose(f);
    return found;
}

/* Blocks of 4 MiB and more start on a 2 MiB boundary and, where the kernel
 * has transparent huge pages, are advised MADV_HUGEPAGE (so a fresh result
 * is faulted in 2 MiB steps); smaller ones keep plain 64-byte alignment.
 * The accounting of em_allocated_bytes is the same for both. */
TEST(alloc_large_blocks_huge_pages) {
    em_set_allocator(NULL);
    const em_allocator def = em_get_allocator();
    const size_t sizes[] = {64, 100000, ((size_t)4 << 20) - 1, (size_t)4 << 20, ((size_t)9 << 20) + 3};
    FILE *thp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    bool have_thp = thp != NULL;
    if (thp) fclose(thp);
    for (int i = 0; i < 5; i++) {
        char *p = def.alloc(sizes[i], 64, def.ctx);
        CHECK(p != NULL);
        if (!p) continue;
        bool big = sizes[i] >= ((size_t)4 << 20);
        CHECK(((uintptr_t)p & 63) == 0);
        if (big) CHECK(((uintptr_t)p & (((uintptr_t)2 << 20) - 1)) == 0);
        memset(p, 0xab, sizes[i]); /* the whole block is usable */
        CHECK((unsigned char)p[sizes[i] - 1] == 0xab);
#if defined(__linux__)
        int hg = huge_advised(p);
        if (big && have_thp && hg >= 0) CHECK(hg == 1);
#endif
        def.free(p, def.ctx);
    }
    const int64_t before = em_allocated_bytes();
    em_tensor *t = NULL;
    CHECK_OK(em_tensor_zeros(EM_F32, DIMS(3 << 20), &t)); /* 12 MiB */
    CHECK(em_allocated_bytes() - before >= (int64_t)12 << 20);
    if (t) {
        const float *x = em_tensor_data(t);
        CHECK(((uintptr_t)x & 63) == 0 && x[0] == 0 && x[(3 << 20) - 1] == 0);
    }
    em_tensor_free(t);
    CHECK(em_allocated_bytes() == before);
}
