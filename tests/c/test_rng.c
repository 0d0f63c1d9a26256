/* Tests of the Philox RNG (csrc/ember/base/rng.c): known-answer vectors, the
 * exact stream layout, reproducibility, loose distribution checks, errors. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"
#include "test_util.h"

/* Word j of the stream at (seed, offset) on side stream hi, as rng.c defines it. */
static uint32_t ref_word(uint64_t seed, uint64_t offset, uint64_t j, uint64_t hi) {
    uint32_t b[4];
    em__philox4x32(offset + j / 4, hi, seed, b);
    return b[j % 4];
}
static uint64_t ref_u64(uint64_t seed, uint64_t offset, uint64_t i, uint64_t hi) {
    return ref_word(seed, offset, 2 * i, hi) | (uint64_t)ref_word(seed, offset, 2 * i + 1, hi) << 32;
}
/* Lemire on 32-bit words with side-stream retries (r < 2^32). */
static uint64_t ref_below32(uint64_t seed, uint64_t offset, uint64_t i, uint64_t r) {
    uint64_t t = ((1ull << 32) - r) % r;
    for (uint64_t a = 0;; a++) {
        uint64_t m = (uint64_t)ref_word(seed, offset, i, a) * r;
        if ((m & 0xffffffffu) >= t) return m >> 32;
    }
}

/* Copies any tensor into a double array in C order (caller frees). */
static double *values(const em_tensor *t) {
    int64_t n = em_tensor_numel(t);
    double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) v[i] = value_at(t, i);
    return v;
}

static void mean_var(const double *v, int64_t n, double *mean, double *var) {
    double s = 0, q = 0;
    for (int64_t i = 0; i < n; i++) s += v[i];
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *var = q / (double)n;
}

static uint64_t offset_of(const em_generator *g) {
    uint64_t s, o;
    em_generator_get_state(g, &s, &o);
    return o;
}

TEST(rng_philox_kat) {
    /* Random123 kat_vectors, philox4x32 10 rounds */
    static const struct {
        uint32_t ctr[4], key[2], want[4];
    } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
         {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
         {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t k = 0; k < sizeof kat / sizeof kat[0]; k++) {
        uint32_t out[4];
        em__philox4x32(kat[k].ctr[0] | (uint64_t)kat[k].ctr[1] << 32, kat[k].ctr[2] | (uint64_t)kat[k].ctr[3] << 32,
                       kat[k].key[0] | (uint64_t)kat[k].key[1] << 32, out);
        for (int i = 0; i < 4; i++) CHECK(out[i] == kat[k].want[i]);
    }
}

TEST(rng_stream_layout) {
    const uint64_t seed = 0x0123456789abcdefull, off = 0xfffffffffffffffeull; /* the block index wraps */
    em_generator *g;
    CHECK_OK(em_generator_new(7, &g));
    em_generator_set_state(g, seed, off);
    em_tensor *t;
    /* float32: element i = top 24 bits of block off + i/4, word i%4 */
    CHECK_OK(em_random_uniform(g, 0, 1, EM_F32, 1, (int64_t[]){10}, &t));
    const float *f = em_tensor_data(t);
    for (int i = 0; i < 10; i++) CHECK(f[i] == (float)((ref_word(seed, off, i, 0) >> 8) * 0x1p-24));
    CHECK(offset_of(g) == off + 3); /* ceil(10 / 4) blocks, modulo 2^64 */
    em_tensor_free(t);
    /* float64: 53 bits of words (2i, 2i+1) */
    em_generator_set_state(g, seed, 5);
    CHECK_OK(em_random_uniform(g, 0, 1, EM_F64, 1, (int64_t[]){5}, &t));
    const double *d = em_tensor_data(t);
    for (int i = 0; i < 5; i++) CHECK(d[i] == (double)(ref_u64(seed, 5, i, 0) >> 11) * 0x1p-53);
    CHECK(offset_of(g) == 5 + 3);
    em_tensor_free(t);
    /* normal float64: Box-Muller on pairs; odd n consumes the whole last pair */
    em_generator_set_state(g, seed, 0);
    CHECK_OK(em_random_normal(g, 1, 2, EM_F64, 1, (int64_t[]){3}, &t));
    d = em_tensor_data(t);
    for (int k = 0; k < 2; k++) {
        double u1 = (double)(ref_u64(seed, 0, 2 * k, 0) >> 11) * 0x1p-53;
        double u2 = (double)(ref_u64(seed, 0, 2 * k + 1, 0) >> 11) * 0x1p-53;
        double r = sqrt(-2 * log(1 - u1)), th = 2 * M_PI * u2;
        CHECK_NEAR(d[2 * k], 1 + 2 * r * cos(th), 1e-12);
        if (k == 0) CHECK_NEAR(d[1], 1 + 2 * r * sin(th), 1e-12);
    }
    CHECK(offset_of(g) == 2); /* 4 pairs-of-words x 2 words = 8 words */
    em_tensor_free(t);
    /* randint with a power-of-two range never rejects: (x * 256) >> 32 = x >> 24 */
    em_generator_set_state(g, seed, 9);
    CHECK_OK(em_random_randint(g, -100, 156, EM_I32, 1, (int64_t[]){7}, &t));
    const int32_t *r32 = em_tensor_data(t);
    for (int i = 0; i < 7; i++) CHECK(r32[i] == -100 + (int32_t)(ref_word(seed, 9, i, 0) >> 24));
    CHECK(offset_of(g) == 9 + 2);
    em_tensor_free(t);
    /* a range >= 2^32 takes 64-bit words: (x * 2^40) >> 64 = x >> 24 */
    em_generator_set_state(g, seed, 0);
    CHECK_OK(em_random_randint(g, 0, (int64_t)1 << 40, EM_I64, 1, (int64_t[]){3}, &t));
    const int64_t *r64 = em_tensor_data(t);
    for (int i = 0; i < 3; i++) CHECK(r64[i] == (int64_t)(ref_u64(seed, 0, i, 0) >> 24));
    CHECK(offset_of(g) == 2);
    em_tensor_free(t);
    /* bernoulli: u64 uniform < p */
    em_tensor *p;
    CHECK_OK(em_tensor_full(EM_F64, 1, (int64_t[]){6}, 0.5, &p));
    em_generator_set_state(g, seed, 0);
    CHECK_OK(em_random_bernoulli(g, p, EM_U8, &t));
    const uint8_t *b = em_tensor_data(t);
    for (int i = 0; i < 6; i++) CHECK(b[i] == ((double)(ref_u64(seed, 0, i, 0) >> 11) * 0x1p-53 < 0.5));
    CHECK(offset_of(g) == 3);
    em_tensor_free(t);
    em_tensor_free(p);
    em_generator_free(g);
}

TEST(rng_randint_rejection_path) {
    /* r = 2^31 + 1 rejects almost half of all words, so many elements take
     * side-stream retries; compare with an independent reference. */
    const uint64_t r = (1ull << 31) + 1;
    em_generator *g;
    CHECK_OK(em_generator_new(42, &g));
    em_tensor *t;
    CHECK_OK(em_random_randint(g, 0, (int64_t)r, EM_I64, 1, (int64_t[]){2000}, &t));
    const int64_t *v = em_tensor_data(t);
    int retried = 0;
    for (int i = 0; i < 2000; i++) {
        CHECK(v[i] == (int64_t)ref_below32(42, 0, (uint64_t)i, r));
        retried += ((uint64_t)ref_word(42, 0, i, 0) * r & 0xffffffffu) < ((1ull << 32) - r) % r;
    }
    CHECK(retried > 500);            /* the path really ran */
    CHECK(offset_of(g) == 500);      /* retries do not move the offset */
    em_tensor_free(t);
    em_generator_free(g);
}

TEST(rng_reproducible) {
    em_generator *g1, *g2;
    CHECK_OK(em_generator_new(123, &g1));
    CHECK_OK(em_generator_new(123, &g2));
    em_tensor *a, *b, *c;
    /* same seed -> same numbers, whatever the shape */
    CHECK_OK(em_random_normal(g1, 0, 1, EM_F32, 2, (int64_t[]){3, 5}, &a));
    CHECK_OK(em_random_normal(g2, 0, 1, EM_F32, 1, (int64_t[]){15}, &b));
    CHECK(memcmp(em_tensor_data(a), em_tensor_data(b), 15 * sizeof(float)) == 0);
    em_tensor_free(a);
    em_tensor_free(b);
    /* get/set_state resumes exactly */
    uint64_t s, o;
    em_generator_get_state(g1, &s, &o);
    CHECK(s == 123 && o == 4);
    CHECK_OK(em_random_uniform(g1, -1, 1, EM_F64, 1, (int64_t[]){33}, &a));
    em_generator_set_state(g2, s, o);
    CHECK_OK(em_random_uniform(g2, -1, 1, EM_F64, 1, (int64_t[]){33}, &b));
    CHECK(memcmp(em_tensor_data(a), em_tensor_data(b), 33 * sizeof(double)) == 0);
    em_tensor_free(a);
    em_tensor_free(b);
    /* two draws of whole blocks equal one draw of their total */
    em_generator_seed(g1, 9);
    em_generator_seed(g2, 9);
    CHECK_OK(em_random_randint(g1, 0, 1000, EM_I32, 1, (int64_t[]){8}, &a));
    CHECK_OK(em_random_randint(g1, 0, 1000, EM_I32, 1, (int64_t[]){8}, &b));
    CHECK_OK(em_random_randint(g2, 0, 1000, EM_I32, 1, (int64_t[]){16}, &c));
    CHECK(memcmp(em_tensor_data(a), em_tensor_data(c), 8 * 4) == 0);
    CHECK(memcmp(em_tensor_data(b), (int32_t *)em_tensor_data(c) + 8, 8 * 4) == 0);
    em_tensor_free(a);
    em_tensor_free(b);
    em_tensor_free(c);
    /* seeding resets the offset; different seeds differ */
    em_generator_seed(g1, 1);
    em_generator_seed(g2, 2);
    CHECK(offset_of(g1) == 0);
    CHECK_OK(em_random_permutation(g1, 50, &a));
    CHECK_OK(em_random_permutation(g2, 50, &b));
    CHECK(memcmp(em_tensor_data(a), em_tensor_data(b), 50 * 8) != 0);
    em_tensor_free(a);
    em_tensor_free(b);
    /* empty and 0-d draws */
    CHECK_OK(em_random_uniform(g1, 0, 1, EM_F32, 2, (int64_t[]){0, 4}, &a));
    CHECK(em_tensor_numel(a) == 0 && offset_of(g1) == 13); /* 49 swaps = 13 blocks */
    CHECK_OK(em_random_normal(g1, 0, 1, EM_F64, 0, NULL, &b));
    CHECK(em_tensor_ndim(b) == 0 && offset_of(g1) == 14);
    em_tensor_free(a);
    em_tensor_free(b);
    /* NULL is harmless for the void functions */
    em_generator_free(NULL);
    em_generator_seed(NULL, 1);
    em_generator_set_state(NULL, 1, 2);
    em_generator_get_state(g1, NULL, NULL);
    em_generator_free(g1);
    em_generator_free(g2);
}

#define N 100000
TEST(rng_uniform_stats) {
    em_generator *g;
    CHECK_OK(em_generator_new(2024, &g));
    for (int k = 0; k < 2; k++) {
        em_dtype dt = k ? EM_F64 : EM_F32;
        em_tensor *t;
        CHECK_OK(em_random_uniform(g, 2, 5, dt, 1, (int64_t[]){N}, &t));
        double *v = values(t), m, var;
        int bad = 0;
        for (int i = 0; i < N; i++) bad += !(v[i] >= 2 && v[i] < 5);
        CHECK(bad == 0);
        mean_var(v, N, &m, &var);
        CHECK(fabs(m - 3.5) < 0.02);   /* sd of the mean: 0.003 */
        CHECK(fabs(var - 0.75) < 0.02);
        free(v);
        em_tensor_free(t);
    }
    /* a width of one float32 ulp: half of the draws round up to high, and
     * must be pulled back below it */
    em_tensor *t;
    double high = 1.0 + 0x1p-23;
    CHECK_OK(em_random_uniform(g, 1.0, high, EM_F32, 1, (int64_t[]){1000}, &t));
    const float *f = em_tensor_data(t);
    int at_high = 0;
    for (int i = 0; i < 1000; i++) at_high += (double)f[i] >= high;
    CHECK(at_high == 0);
    em_tensor_free(t);
    em_generator_free(g);
}

TEST(rng_normal_stats) {
    em_generator *g;
    CHECK_OK(em_generator_new(77, &g));
    for (int k = 0; k < 2; k++) {
        em_tensor *t;
        CHECK_OK(em_random_normal(g, 1, 2, k ? EM_F64 : EM_F32, 1, (int64_t[]){N + 1}, &t));
        double *v = values(t), m, var, m4 = 0;
        int bad = 0;
        for (int i = 0; i <= N; i++) bad += !isfinite(v[i]);
        CHECK(bad == 0);
        mean_var(v, N + 1, &m, &var);
        for (int i = 0; i <= N; i++) m4 += pow((v[i] - 1) / 2, 4);
        CHECK(fabs(m - 1) < 0.03);     /* sd of the mean: 0.0063 */
        CHECK(fabs(var - 4) < 0.1);    /* sd: 0.018 */
        CHECK(fabs(m4 / N - 3) < 0.15); /* kurtosis of a normal */
        free(v);
        em_tensor_free(t);
    }
    em_tensor *t; /* std 0 gives the mean exactly */
    CHECK_OK(em_random_normal(g, -3, 0, EM_F64, 1, (int64_t[]){5}, &t));
    for (int i = 0; i < 5; i++) CHECK(((double *)em_tensor_data(t))[i] == -3);
    em_tensor_free(t);
    em_generator_free(g);
}

TEST(rng_randint_stats) {
    em_generator *g;
    CHECK_OK(em_generator_new(5, &g));
    static const struct {
        em_dtype dt;
        int64_t lo, hi;
    } cases[] = {{EM_U8, 0, 256}, {EM_I8, -128, 128}, {EM_I32, -3, 7}, {EM_I64, 1000, 1010}, {EM_U8, 250, 256}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        em_tensor *t;
        CHECK_OK(em_random_randint(g, cases[c].lo, cases[c].hi, cases[c].dt, 1, (int64_t[]){N}, &t));
        CHECK(em_tensor_dtype(t) == cases[c].dt);
        double *v = values(t);
        int64_t r = cases[c].hi - cases[c].lo, counts[256] = {0}, bad = 0;
        for (int i = 0; i < N; i++) {
            int64_t k = (int64_t)v[i] - cases[c].lo;
            if (k < 0 || k >= r) bad++;
            else counts[k]++;
        }
        CHECK(bad == 0);
        double want = (double)N / (double)r, tol = 6 * sqrt(want); /* 6 sigma */
        for (int64_t k = 0; k < r; k++) CHECK(counts[k] > 0 && fabs((double)counts[k] - want) < tol);
        free(v);
        em_tensor_free(t);
    }
    /* the widest int64 range */
    em_tensor *t;
    CHECK_OK(em_random_randint(g, INT64_MIN, INT64_MAX, EM_I64, 1, (int64_t[]){1000}, &t));
    const int64_t *v = em_tensor_data(t);
    int neg = 0;
    for (int i = 0; i < 1000; i++) neg += v[i] < 0;
    CHECK(neg > 400 && neg < 600 && v[0] != v[1]);
    em_tensor_free(t);
    CHECK_OK(em_random_randint(g, 7, 8, EM_I8, 1, (int64_t[]){4}, &t)); /* a range of one */
    for (int i = 0; i < 4; i++) CHECK(((int8_t *)em_tensor_data(t))[i] == 7);
    em_tensor_free(t);
    em_generator_free(g);
}

TEST(rng_bernoulli) {
    em_generator *g;
    CHECK_OK(em_generator_new(11, &g));
    static const double pv[6] = {0, 1, 0.5, 0.25, 0.9, 0.1};
    em_tensor *p, *pb, *t;
    CHECK_OK(em_tensor_from_data(EM_F64, 1, (int64_t[]){6}, NULL, (void *)pv, NULL, NULL, &p));
    /* a broadcast view of p: 20000 rows of the same probabilities */
    CHECK_OK(em_tensor_expand(p, 2, (int64_t[]){20000, 6}, &pb));
    const em_dtype dts[] = {EM_BOOL, EM_I64, EM_F32};
    for (int k = 0; k < 3; k++) {
        CHECK_OK(em_random_bernoulli(g, pb, (int)dts[k], &t));
        CHECK(em_tensor_dtype(t) == dts[k] && em_tensor_ndim(t) == 2);
        double *v = values(t), cnt[6] = {0};
        int bad = 0;
        for (int i = 0; i < 120000; i++) {
            bad += v[i] != 0 && v[i] != 1;
            cnt[i % 6] += v[i];
        }
        CHECK(bad == 0);
        CHECK(cnt[0] == 0 && cnt[1] == 20000);
        for (int j = 2; j < 6; j++) CHECK(fabs(cnt[j] / 20000 - pv[j]) < 0.02);
        free(v);
        em_tensor_free(t);
    }
    /* default dtype is p's; a flipped (negatively strided) p is read in C order */
    em_tensor *pf;
    CHECK_OK(em_tensor_flip(p, NULL, 0, &pf));
    CHECK_OK(em_random_bernoulli(g, pf, -1, &t));
    CHECK(em_tensor_dtype(t) == EM_F64);
    CHECK(((double *)em_tensor_data(t))[0] == 0 && ((double *)em_tensor_data(t))[4] == 1 &&
          ((double *)em_tensor_data(t))[5] == 0);
    em_tensor_free(t);
    em_tensor_free(pf);
    em_tensor_free(pb);
    em_tensor_free(p);
    /* a 0-d probability */
    CHECK_OK(em_tensor_full(EM_F32, 0, NULL, 1, &p));
    CHECK_OK(em_random_bernoulli(g, p, EM_BOOL, &t));
    CHECK(*(bool *)em_tensor_data(t) == true);
    em_tensor_free(t);
    em_tensor_free(p);
    em_generator_free(g);
}

TEST(rng_permutation) {
    em_generator *g;
    CHECK_OK(em_generator_new(3, &g));
    em_tensor *t;
    CHECK_OK(em_random_permutation(g, 1000, &t));
    CHECK(em_tensor_dtype(t) == EM_I64 && em_tensor_numel(t) == 1000);
    const int64_t *v = em_tensor_data(t);
    char seen[1000] = {0};
    int fixed = 0, bad = 0;
    for (int i = 0; i < 1000; i++) {
        if (v[i] < 0 || v[i] >= 1000 || seen[v[i]]) bad++;
        else seen[v[i]] = 1;
        fixed += v[i] == i;
    }
    CHECK(bad == 0 && fixed < 10);
    CHECK(offset_of(g) == 250); /* 999 swaps, one word each */
    em_tensor_free(t);
    /* Fisher-Yates with the reference bounded draw */
    em_generator_set_state(g, 99, 4);
    CHECK_OK(em_random_permutation(g, 10, &t));
    int64_t ref[10];
    for (int i = 0; i < 10; i++) ref[i] = i;
    for (int k = 0; k < 9; k++) {
        int i = 9 - k, j = (int)ref_below32(99, 4, (uint64_t)k, (uint64_t)i + 1);
        int64_t tmp = ref[i];
        ref[i] = ref[j];
        ref[j] = tmp;
    }
    CHECK(memcmp(em_tensor_data(t), ref, sizeof ref) == 0);
    em_tensor_free(t);
    /* all 6 orders of 3 are equally likely */
    int counts[9] = {0};
    for (int r = 0; r < 30000; r++) {
        CHECK_OK(em_random_permutation(g, 3, &t));
        v = em_tensor_data(t);
        counts[v[0] * 3 + v[1]]++;
        em_tensor_free(t);
    }
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            if (a != b) CHECK(fabs(counts[a * 3 + b] - 5000.0) < 6 * sqrt(5000.0));
    /* n = 0 and n = 1 */
    CHECK_OK(em_random_permutation(g, 0, &t));
    CHECK(em_tensor_numel(t) == 0);
    em_tensor_free(t);
    CHECK_OK(em_random_permutation(g, 1, &t));
    CHECK(((int64_t *)em_tensor_data(t))[0] == 0);
    em_tensor_free(t);
    em_generator_free(g);
}

/* Checks a failing call's status, message key word, and that nothing was consumed. */
#define CHECK_ERR(expr, st, word)                                              \
    do {                                                                       \
        uint64_t before_ = offset_of(g);                                       \
        CHECK_STATUS(expr, st);                                                \
        CHECK(strstr(em_last_error(), word) != NULL);                          \
        CHECK(offset_of(g) == before_);                                        \
    } while (0)

TEST(rng_errors) {
    em_generator *g;
    CHECK_OK(em_generator_new(1, &g));
    em_tensor *t = NULL;
    const int64_t sh[1] = {4};
    CHECK_ERR(em_random_uniform(g, 0, 1, EM_I32, 1, sh, &t), EM_ERR_DTYPE, "int32");
    CHECK_ERR(em_random_uniform(g, 0, 1, (em_dtype)42, 1, sh, &t), EM_ERR_DTYPE, "float");
    CHECK_ERR(em_random_uniform(g, 1, 1, EM_F32, 1, sh, &t), EM_ERR_INVALID_ARG, "low=1 high=1");
    CHECK_ERR(em_random_uniform(g, 2, 1, EM_F32, 1, sh, &t), EM_ERR_INVALID_ARG, "low < high");
    CHECK_ERR(em_random_uniform(g, NAN, 1, EM_F32, 1, sh, &t), EM_ERR_INVALID_ARG, "nan");
    CHECK_ERR(em_random_uniform(g, -1e308, 1e308, EM_F64, 1, sh, &t), EM_ERR_INVALID_ARG, "width");
    CHECK_ERR(em_random_uniform(g, 0, INFINITY, EM_F64, 1, sh, &t), EM_ERR_INVALID_ARG, "inf");
    CHECK_ERR(em_random_uniform(g, 0, 1e39, EM_F32, 1, sh, &t), EM_ERR_INVALID_ARG, "float32 range");
    CHECK_ERR(em_random_uniform(g, 0, 1, EM_F32, 1, (int64_t[]){-2}, &t), EM_ERR_SHAPE, "negative");
    CHECK_ERR(em_random_uniform(g, 0, 1, EM_F32, 9, sh, &t), EM_ERR_SHAPE, "dimensions");
    CHECK_ERR(em_random_uniform(g, 0, 1, EM_F32, 1, NULL, &t), EM_ERR_INVALID_ARG, "NULL");
    CHECK_ERR(em_random_uniform(g, 0, 1, EM_F32, 1, sh, NULL), EM_ERR_INVALID_ARG, "NULL");
    CHECK_STATUS(em_random_uniform(NULL, 0, 1, EM_F32, 1, sh, &t), EM_ERR_INVALID_ARG);
    CHECK_ERR(em_random_normal(g, 0, -1, EM_F32, 1, sh, &t), EM_ERR_INVALID_ARG, "std");
    CHECK_ERR(em_random_normal(g, 0, NAN, EM_F32, 1, sh, &t), EM_ERR_INVALID_ARG, "std");
    CHECK_ERR(em_random_normal(g, INFINITY, 1, EM_F32, 1, sh, &t), EM_ERR_INVALID_ARG, "mean");
    CHECK_ERR(em_random_normal(g, 0, 1, EM_BOOL, 1, sh, &t), EM_ERR_DTYPE, "bool");
    CHECK_ERR(em_random_randint(g, 0, 10, EM_F32, 1, sh, &t), EM_ERR_DTYPE, "float32");
    CHECK_ERR(em_random_randint(g, 0, 2, EM_BOOL, 1, sh, &t), EM_ERR_DTYPE, "integer");
    CHECK_ERR(em_random_randint(g, 5, 5, EM_I32, 1, sh, &t), EM_ERR_INVALID_ARG, "[5, 5)");
    CHECK_ERR(em_random_randint(g, 0, 257, EM_U8, 1, sh, &t), EM_ERR_INVALID_ARG, "uint8");
    CHECK_ERR(em_random_randint(g, -1, 10, EM_U8, 1, sh, &t), EM_ERR_INVALID_ARG, "uint8");
    CHECK_ERR(em_random_randint(g, -129, 0, EM_I8, 1, sh, &t), EM_ERR_INVALID_ARG, "int8");
    CHECK_ERR(em_random_randint(g, 0, (int64_t)INT32_MAX + 2, EM_I32, 1, sh, &t), EM_ERR_INVALID_ARG, "int32");
    CHECK_ERR(em_random_randint(g, 0, 4, EM_I32, 2, (int64_t[]){2, -1}, &t), EM_ERR_SHAPE, "negative");
    CHECK_ERR(em_random_permutation(g, -1, &t), EM_ERR_INVALID_ARG, "-1");
    CHECK_ERR(em_random_permutation(g, 5, NULL), EM_ERR_INVALID_ARG, "NULL");
    CHECK(t == NULL); /* out untouched on error */
    /* bernoulli: bad probabilities are named with their value and index */
    double pv[6] = {0.1, 0.2, 0.3, 0.4, 0.5, NAN};
    em_tensor *p;
    CHECK_OK(em_tensor_from_data(EM_F64, 2, (int64_t[]){2, 3}, NULL, pv, NULL, NULL, &p));
    CHECK_ERR(em_random_bernoulli(g, p, -1, &t), EM_ERR_INVALID_ARG, "nan at index (1, 2)");
    pv[5] = 0.5;
    pv[1] = 1.5;
    CHECK_ERR(em_random_bernoulli(g, p, -1, &t), EM_ERR_INVALID_ARG, "1.5 at index (0, 1)");
    pv[1] = -0.25;
    CHECK_ERR(em_random_bernoulli(g, p, -1, &t), EM_ERR_INVALID_ARG, "-0.25");
    pv[1] = 0.2;
    CHECK_ERR(em_random_bernoulli(g, p, 99, &t), EM_ERR_DTYPE, "99");
    CHECK_ERR(em_random_bernoulli(g, NULL, -1, &t), EM_ERR_INVALID_ARG, "NULL");
    em_tensor_free(p);
    CHECK_OK(em_tensor_ones(EM_I32, 1, sh, &p));
    CHECK_ERR(em_random_bernoulli(g, p, -1, &t), EM_ERR_DTYPE, "(4,) int32");
    em_tensor_free(p);
    CHECK(t == NULL);
    CHECK_STATUS(em_generator_new(1, NULL), EM_ERR_INVALID_ARG);
    em_generator_free(g);
}
