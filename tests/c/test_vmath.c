/* Float32 vector math (kernels/vmath.c): ulp error against double libm over
 * a sweep of float bit patterns, exact special values, bit-identical results
 * from every instruction-set variant the CPU runs, and the hookup into the
 * float32 unary ops (contiguous, strided, in place).
 *
 * EMBER_VMATH_ULP_POINTS=N (0: every bit pattern in the range) changes the
 * sweep density and prints each function's measured maximum error; that is
 * how docs/accuracy.md was measured. */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/vmath.h"
#include "test.h"

/* ---- double references ---------------------------------------------------- */
static double sigmoid_d(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static double r_exp(double x) { return exp(x); }
static double r_expm1(double x) { return expm1(x); }
static double r_exp2(double x) { return exp2(x); }
static double r_log(double x) { return log(x); }
static double r_log1p(double x) { return log1p(x); }
static double r_log2(double x) { return log2(x); }
static double r_log10(double x) { return log10(x); }
static double r_sin(double x) { return sin(x); }
static double r_cos(double x) { return cos(x); }
static double r_tanh(double x) { return tanh(x); }
static double r_sigmoid(double x) { return sigmoid_d(x); }
static double r_silu(double x) { return x * sigmoid_d(x); }
static double r_elu(double x) { return x > 0 ? x : expm1(x); }               /* alpha 1 */
static double r_softplus(double x) { return x > 20 ? x : log1p(exp(x)); }  /* beta 1 */
static double r_erf(double x) { return erf(x); }
static double r_gelu(double x) { return 0.5 * x * erfc(-x * M_SQRT1_2); }
/* x/2 (1 + tanh u) = x sigmoid(2u), which does not cancel for x < 0 */
static double r_gelu_tanh(double x) {
    double v = 2 * sqrt(2 / M_PI) * (x + 0.044715 * x * x * x);
    return x / (1 + exp(-v));
}

/* Each function: the range swept (the rest saturates or is libm) and the
 * asserted bound in ulp. */
static const struct vm_case {
    em_op op;
    double (*ref)(double);
    float lo, hi;
    double bound;
} cases[] = {
    {EM_OP_EXP, r_exp, -104, 89, 4},           {EM_OP_EXPM1, r_expm1, -40, 89, 4},
    {EM_OP_EXP2, r_exp2, -151, 129, 4},        {EM_OP_LOG, r_log, 0, FLT_MAX, 4},
    {EM_OP_LOG1P, r_log1p, -1, FLT_MAX, 4},    {EM_OP_LOG2, r_log2, 0, FLT_MAX, 4},
    {EM_OP_LOG10, r_log10, 0, FLT_MAX, 4},     {EM_OP_SIN, r_sin, -0x1p22f, 0x1p22f, 4},
    {EM_OP_COS, r_cos, -0x1p22f, 0x1p22f, 4},  {EM_OP_TANH, r_tanh, -10, 10, 4},
    {EM_OP_SIGMOID, r_sigmoid, -110, 110, 4},  {EM_OP_SILU, r_silu, -110, 110, 4},
    {EM_OP_ELU, r_elu, -40, 10, 4},            {EM_OP_SOFTPLUS, r_softplus, -110, 30, 4},
    {EM_OP_ERF, r_erf, -5, 5, 4},              {EM_OP_GELU, r_gelu, -16, 16, 4},
    {EM_OP_GELU_TANH, r_gelu_tanh, -12, 12, 4},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

/* Error of y in units of the last place of the float nearest ref; inf counts
 * as 2^128 (the float after FLT_MAX), subnormals have ulp 2^-149. */
static double ulp_err(float y, double ref) {
    if (isnan(ref) || isnan(y)) return isnan(ref) && isnan(y) ? 0 : INFINITY;
    double yd = isinf(y) ? copysign(0x1p128, y) : y, rd = fabs(ref) > 0x1p128 ? copysign(0x1p128, ref) : ref;
    int e = -126;
    if (rd != 0) {
        frexp(rd, &e);
        e = e - 1 < -126 ? -126 : e - 1;
    }
    return fabs(yd - rd) / ldexp(1, e - 23);
}

/* Floats in key order: key(-x) = -key(x), consecutive floats differ by 1. */
static int64_t key_of(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u >> 31 ? -(int64_t)(u & 0x7fffffffu) : (int64_t)u;
}
static float float_of(int64_t k) {
    uint32_t u = k < 0 ? 0x80000000u | (uint32_t)-k : (uint32_t)k;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static const char *const isa_names[EM__VMATH_COUNT] = {"portable", "avx2", "avx512"};
static em__vmath_isa isas[EM__VMATH_COUNT];
static int nisa; /* variants this CPU runs; isas[0] is the portable one */
static void find_isas(void) {
    nisa = 0;
    for (int i = 0; i < EM__VMATH_COUNT; i++)
        if (em__vmath_f32_isa(EM_OP_EXP, (em__vmath_isa)i)) isas[nisa++] = (em__vmath_isa)i;
}

/* ---- sweep ---------------------------------------------------------------- */
#define CHUNK 65536
static float sx[CHUNK], sy[EM__VMATH_COUNT][CHUNK];

TEST(vmath_ulp_sweep) {
    find_isas();
    CHECK(nisa >= 1 && isas[0] == EM__VMATH_PORTABLE);
    const char *env = getenv("EMBER_VMATH_ULP_POINTS");
    int64_t points = env ? atoll(env) : 1 << 19;
    for (int c = 0; c < NCASES; c++) {
        const struct vm_case *vc = &cases[c];
        int64_t klo = key_of(vc->lo), khi = key_of(vc->hi);
        int64_t step = points > 0 && (khi - klo) / points > 1 ? ((khi - klo) / points) | 1 : 1;
        double worst[EM__VMATH_COUNT] = {0};
        float worst_x[EM__VMATH_COUNT] = {0};
        int64_t count = 0, mismatches = 0;
        for (int64_t k = klo; k <= khi;) {
            int m = 0;
            for (; m < CHUNK && k <= khi; k += step) sx[m++] = float_of(k);
            for (int v = 0; v < nisa; v++) em__vmath_f32_isa(vc->op, isas[v])(sy[v], sx, m, 1.0f);
            for (int i = 0; i < m; i++) {
                double ref = vc->ref(sx[i]);
                for (int v = 0; v < nisa; v++) {
                    double e = ulp_err(sy[v][i], ref);
                    if (e > worst[v]) worst[v] = e, worst_x[v] = sx[i];
                }
                /* the FMA variants (AVX2, AVX-512) round identically */
                for (int v = 2; v < nisa; v++) mismatches += memcmp(&sy[v][i], &sy[1][i], sizeof(float)) != 0;
            }
            count += m;
        }
        for (int v = 0; v < nisa; v++) {
            if (env)
                printf("  %-10s %-8s [%g, %g] %lld points: max %.3f ulp at x = %.9g\n", em_op_name(vc->op),
                       isa_names[isas[v]], vc->lo, vc->hi, (long long)count, worst[v], worst_x[v]);
            if (worst[v] > vc->bound) {
                fprintf(stderr, "  %s (%s): max error %.3f ulp at x = %.9g (bound %g)\n", em_op_name(vc->op),
                        isa_names[isas[v]], worst[v], worst_x[v], vc->bound);
                test_failures++;
            }
        }
        if (mismatches) {
            fprintf(stderr, "  %s: %lld results differ between AVX2 and AVX-512\n", em_op_name(vc->op),
                    (long long)mismatches);
            test_failures++;
        }
    }
}

/* ---- special values --------------------------------------------------------
 * Each function on each input: NaN gives NaN; a result that rounds to +-inf,
 * +-0 or an exactly representable value must be that (sign included); any
 * other within the function's bound. */
TEST(vmath_special_values) {
    static const float xs[] = {
        NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN, 0x1p-149f,
        -0x1p-149f, 0x1.8p-140f, 1, -1, 2, 0.5f, 88.7228394f, 88.7228317f, -87.3365479f, -103.972f, -104.5f,
        89, 128, -150, 20, 20.0001f, -20, 9.5f, -9.01f, 4, -3.92f, -15, 15, -11, 11, -40, 1e6f, 0x1p20f,
        0x1.000002p20f, -3e7f, 1e30f, 0x1p24f, 1e-30f, -1e-30f, -0.99999994f, 1e10f};
    const int n = sizeof xs / sizeof xs[0];
    find_isas();
    float y[sizeof xs / sizeof xs[0]];
    for (int c = 0; c < NCASES; c++) {
        for (int v = 0; v < nisa; v++) {
            em__vmath_f32_isa(cases[c].op, isas[v])(y, xs, n, 1.0f);
            for (int i = 0; i < n; i++) {
                double ref = cases[c].ref(xs[i]);
                float rf = (float)ref;
                bool ok = isnan(ref) ? isnan(y[i])
                        : (isinf(rf) || rf == 0 || (double)rf == ref) ? memcmp(&y[i], &rf, sizeof rf) == 0
                                                                      : ulp_err(y[i], ref) <= cases[c].bound;
                if (!ok) {
                    fprintf(stderr, "  %s (%s) of %.9g: got %.9g, wanted %.9g\n", em_op_name(cases[c].op),
                            isa_names[isas[v]], xs[i], y[i], rf);
                    test_failures++;
                }
            }
        }
    }
}

/* The alpha parameter: elu's scale and softplus' beta (2: z = 2x exactly). */
TEST(vmath_alpha) {
    float xs[300], y[300];
    for (int i = 0; i < 300; i++) xs[i] = (float)(i - 150) * 0.37f;
    find_isas();
    for (int v = 0; v < nisa; v++) {
        em__vmath_f32_isa(EM_OP_ELU, isas[v])(y, xs, 300, 0.25f);
        for (int i = 0; i < 300; i++) CHECK(ulp_err(y[i], xs[i] > 0 ? xs[i] : 0.25 * expm1(xs[i])) <= 4);
        em__vmath_f32_isa(EM_OP_SOFTPLUS, isas[v])(y, xs, 300, 2.0f);
        for (int i = 0; i < 300; i++) {
            double z = 2.0 * xs[i];
            CHECK(ulp_err(y[i], z > 20 ? xs[i] : log1p(exp(z)) / 2) <= 4);
        }
    }
}

/* Lengths around the block size, in place, and no access past n. */
TEST(vmath_lengths_and_in_place) {
    enum { N = 200 };
    float x[N + 1], y[N + 1], z[N + 1];
    find_isas();
    for (int i = 0; i < N; i++) x[i] = (float)i * 0.173f - 17.0f;
    static const int64_t lens[] = {0, 1, 3, 63, 64, 65, 128, 199};
    for (int v = 0; v < nisa; v++) {
        for (int c = 0; c < NCASES; c++) {
            em__vmath_fn f = em__vmath_f32_isa(cases[c].op, isas[v]);
            f(y, x, N, 1.0f);
            for (int l = 0; l < 8; l++) {
                z[lens[l]] = 12345.0f;
                memcpy(z, x, (size_t)lens[l] * sizeof *z);
                f(z, z, lens[l], 1.0f);
                CHECK(memcmp(z, y, (size_t)lens[l] * sizeof *z) == 0);
                CHECK(z[lens[l]] == 12345.0f);
            }
        }
    }
    CHECK(em__vmath_f32_isa(EM_OP_RELU, EM__VMATH_PORTABLE) == NULL);
    CHECK(em__vmath_f32_isa(EM_OP_EXP, EM__VMATH_COUNT) == NULL);
    CHECK(em__vmath_f32(EM_OP_ADD) == NULL && em__vmath_f32(EM_OP_ABS) == NULL);
}

/* The chosen variant: one the CPU runs, the portable one when forced. */
TEST(vmath_dispatch) {
    em__vmath_isa a = em__vmath_active_isa();
    CHECK(em__vmath_f32_isa(EM_OP_TANH, a) != NULL);
    CHECK(em__vmath_f32(EM_OP_TANH) == em__vmath_f32_isa(EM_OP_TANH, a));
    const char *env = getenv("EMBER_FORCE_PORTABLE");
    if (env && strcmp(env, "1") == 0) CHECK(a == EM__VMATH_PORTABLE);
    find_isas();
    if (!env) CHECK(a == isas[nisa - 1]);
}

/* em_unary on float32: contiguous, reversed (negative stride) and strided
 * inputs give the kernel's values bit for bit; so does em_unary_into in place. */
TEST(vmath_through_em_unary) {
    enum { N = 301 };
    float buf[2 * N], want[N];
    for (int i = 0; i < 2 * N; i++) buf[i] = (float)(i - N) * 0.0917f;
    int64_t shape = N, stride2 = 2;
    for (int c = 0; c < NCASES; c++) {
        em_op op = cases[c].op;
        em_tensor *x = NULL, *xs = NULL, *xr = NULL, *y = NULL, *ys = NULL, *yr = NULL;
        CHECK_OK(em_tensor_from_data(EM_F32, 1, &shape, NULL, buf, NULL, NULL, &x));
        CHECK_OK(em_tensor_from_data(EM_F32, 1, &shape, &stride2, buf, NULL, NULL, &xs));
        CHECK_OK(em_tensor_slice(x, 0, INT64_MAX, INT64_MIN, -1, &xr));
        CHECK_OK(em_unary(op, x, NAN, &y));
        CHECK_OK(em_unary(op, xs, NAN, &ys));
        CHECK_OK(em_unary(op, xr, NAN, &yr));
        if (y && ys && yr) {
            em__vmath_f32(op)(want, buf, N, 1.0f);
            CHECK(memcmp(em_tensor_data(y), want, sizeof want) == 0);
            const float *pr = em_tensor_data(yr), *ps = em_tensor_data(ys);
            for (int i = 0; i < N; i++) CHECK(memcmp(&pr[i], &want[N - 1 - i], sizeof(float)) == 0);
            float strided[N];
            for (int i = 0; i < N; i++) strided[i] = buf[2 * i];
            em__vmath_f32(op)(strided, strided, N, 1.0f);
            CHECK(memcmp(ps, strided, sizeof strided) == 0);
            /* in place over the strided view, then the untouched odd elements */
            float before = buf[1];
            CHECK_OK(em_unary_into(op, xs, NAN, xs));
            for (int i = 0; i < N; i++) CHECK(memcmp(&buf[2 * i], &strided[i], sizeof(float)) == 0);
            CHECK(buf[1] == before);
            for (int i = 0; i < 2 * N; i++) buf[i] = (float)(i - N) * 0.0917f;
        }
        em_tensor_free(x), em_tensor_free(xs), em_tensor_free(xr);
        em_tensor_free(y), em_tensor_free(ys), em_tensor_free(yr);
    }
}

/* The vector tails (issue 3): every function on every variant at lengths
 * that are not multiples of the 16-element step, with inputs spread over
 * the binades of its swept range: each result within the bound, the same
 * bits as the same input at another position of a long array, and nothing
 * written past n.  Run the binary with EMBER_FORCE_PORTABLE=1 as well:
 * vmath_dispatch then checks that the portable variant is the one used. */
TEST(vmath_awkward_lengths_every_variant) {
    static const int64_t ns[] = {1, 3, 7, 17, 255, 257, 1000};
    enum { NMAX = 1000 };
    static float x[NMAX + 1], y[NMAX + 1], full[NMAX + 16];
    static float xs[NMAX + 16];
    find_isas();
    for (int c = 0; c < NCASES; c++) {
        int64_t klo = key_of(cases[c].lo), khi = key_of(cases[c].hi);
        for (int v = 0; v < nisa; v++) {
            em__vmath_fn f = em__vmath_f32_isa(cases[c].op, isas[v]);
            for (int l = 0; l < 7; l++) {
                int64_t n = ns[l];
                for (int64_t i = 0; i < n; i++) /* golden-ratio spread over the keys */
                    x[i] = float_of(klo + (int64_t)((double)(khi - klo) * fmod((double)(i + l) * 0.6180339887, 1.0)));
                y[n] = 777.0f;
                f(y, x, n, 1.0f);
                CHECK(y[n] == 777.0f);
                /* the same inputs shifted by 5 positions of a longer array */
                memset(xs, 0, sizeof xs);
                memcpy(xs + 5, x, (size_t)n * sizeof *x);
                f(full, xs, n + 5, 1.0f);
                bool same = memcmp(full + 5, y, (size_t)n * sizeof *y) == 0;
                double worst = 0;
                for (int64_t i = 0; i < n; i++) {
                    double e = ulp_err(y[i], cases[c].ref(x[i]));
                    worst = e > worst ? e : worst;
                }
                if (!same || worst > cases[c].bound) {
                    fprintf(stderr, "  %s (%s) n = %lld: max %.3f ulp, position-independent %d\n",
                            em_op_name(cases[c].op), isa_names[isas[v]], (long long)n, worst, same);
                    test_failures++;
                }
            }
        }
    }
}
