/* Reductions and scans against a reference computed here in double. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* ---- helpers ----------------------------------------------------------- */

static void unravel(int nd, const int64_t *shape, int64_t flat, int64_t *idx) {
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = shape[d] ? flat % shape[d] : 0;
        flat = shape[d] ? flat / shape[d] : 0;
    }
}

static double get_flat(const em_tensor *t, int64_t flat) {
    int64_t idx[EM_MAX_DIMS];
    unravel(em_tensor_ndim(t), em_tensor_shape(t), flat, idx);
    double v = 0;
    em_tensor_get(t, idx, &v);
    return v;
}

enum layout { CONTIG, PERMUTED, FLIPPED, STRIDED, NLAYOUTS };

/* A tensor of logical shape `shape` holding vals (C order), stored in the
 * given layout: permuted (reversed axes), flipped (negative strides) or
 * strided (every other element of the last axis). */
static em_tensor *make(em_dtype dt, int nd, const int64_t *shape, const double *vals, enum layout lay) {
    int64_t bshape[EM_MAX_DIMS] = {0};
    int perm[EM_MAX_DIMS];
    em_tensor *base = NULL, *t = NULL;
    if (nd == 0) lay = CONTIG;
    for (int i = 0; i < nd; i++) {
        bshape[i] = lay == PERMUTED ? shape[nd - 1 - i] : shape[i];
        perm[i] = nd - 1 - i;
    }
    if (lay == STRIDED) bshape[nd - 1] *= 2;
    if (em_tensor_zeros(dt, nd, bshape, &base) != EM_OK) return NULL;
    switch (lay) {
    case CONTIG: t = em_tensor_retain(base); break;
    case PERMUTED: em_tensor_permute(base, perm, &t); break;
    case FLIPPED: em_tensor_flip(base, NULL, 0, &t); break;
    default: em_tensor_slice(base, nd - 1, 0, bshape[nd - 1], 2, &t); break;
    }
    em_tensor_free(base);
    int64_t n = 1, idx[EM_MAX_DIMS];
    for (int i = 0; i < nd; i++) n *= shape[i];
    for (int64_t f = 0; f < n; f++) {
        unravel(nd, shape, f, idx);
        em_tensor_set(t, idx, vals[f]);
    }
    return t;
}

/* Deterministic small values exactly representable in every dtype. */
static double gen(em_dtype dt, int64_t i) {
    uint32_t h = (uint32_t)(i * 2654435761u + 12345u) >> 7;
    switch (dt) {
    case EM_BOOL: return h % 3 != 0;
    case EM_U8: return h % 7;
    case EM_F32:
    case EM_F64: return ((int)(h % 17) - 8) * 0.25;
    default: return (int)(h % 11) - 5;
    }
}

/* Equal up to tol (relative), NaN only equal to NaN, infinities exact. */
static bool same(double got, double want, double tol) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= tol * (1 + fabs(want));
}

/* ---- reference --------------------------------------------------------- */

static double ref_op(em_op op, const double *x, int64_t n, double corr, double ord) {
    double s = 0, p = 1, m;
    int64_t cnt = 0, best = 0;
    for (int64_t i = 0; i < n; i++) {
        s += x[i];
        p *= x[i];
        cnt += x[i] != 0;
    }
    switch (op) {
    case EM_OP_SUM: return s;
    case EM_OP_PROD: return p;
    case EM_OP_MEAN: return n ? s / n : NAN;
    case EM_OP_VAR:
    case EM_OP_STD: {
        if (!n) return NAN;
        double mean = s / n, ss = 0, d = n - corr;
        for (int64_t i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
        double v = ss / (d > 0 ? d : 0);
        return op == EM_OP_VAR ? v : sqrt(v);
    }
    case EM_OP_MAX:
    case EM_OP_MIN:
    case EM_OP_ARGMAX:
    case EM_OP_ARGMIN: {
        bool mx = op == EM_OP_MAX || op == EM_OP_ARGMAX;
        for (int64_t i = 0; i < n; i++) {
            if (isnan(x[i])) {
                best = i;
                break;
            }
            if (mx ? x[i] > x[best] : x[i] < x[best]) best = i;
        }
        return op == EM_OP_MAX || op == EM_OP_MIN ? x[best] : (double)best;
    }
    case EM_OP_LOGSUMEXP: {
        if (!n) return -INFINITY;
        m = x[0];
        for (int64_t i = 0; i < n; i++) {
            if (isnan(x[i])) return NAN;
            if (x[i] > m) m = x[i];
        }
        if (isinf(m)) return m;
        double e = 0;
        for (int64_t i = 0; i < n; i++) e += exp(x[i] - m);
        return m + log(e);
    }
    case EM_OP_ALL: return cnt == n;
    case EM_OP_ANY: return cnt > 0;
    case EM_OP_COUNT_NONZERO: return (double)cnt;
    case EM_OP_NORM: {
        if (ord == 0) return (double)cnt;
        if (!n) return 0;
        double acc = isinf(ord) ? fabs(x[0]) : 0;
        for (int64_t i = 0; i < n; i++) {
            double a = fabs(x[i]);
            if (ord == INFINITY) acc = a > acc || isnan(a) ? a : acc;
            else if (ord == -INFINITY) acc = a < acc || isnan(a) ? a : acc;
            else acc += pow(a, ord);
        }
        return isinf(ord) ? acc : pow(acc, 1 / ord);
    }
    default: return NAN;
    }
}

/* Reference reduction of vals (C order, shape) over the axes in mask:
 * fills want[] in output C order and returns the number of outputs. */
static int64_t ref_reduce(em_op op, const double *vals, int nd, const int64_t *shape, uint32_t mask, double corr,
                          double ord, double *want) {
    int64_t ks[EM_MAX_DIMS], rs[EM_MAX_DIMS], nout = 1, n = 1;
    int nk = 0, nr = 0, kax[EM_MAX_DIMS], rax[EM_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        if (mask & (1u << i)) {
            rax[nr] = i;
            rs[nr++] = shape[i];
            n *= shape[i];
        } else {
            kax[nk] = i;
            ks[nk++] = shape[i];
            nout *= shape[i];
        }
    }
    double *x = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t o = 0; o < nout; o++) {
        int64_t ki[EM_MAX_DIMS], ri[EM_MAX_DIMS], full[EM_MAX_DIMS];
        unravel(nk, ks, o, ki);
        for (int i = 0; i < nk; i++) full[kax[i]] = ki[i];
        for (int64_t r = 0; r < n; r++) {
            unravel(nr, rs, r, ri);
            for (int i = 0; i < nr; i++) full[rax[i]] = ri[i];
            int64_t f = 0;
            for (int i = 0; i < nd; i++) f = f * shape[i] + full[i];
            x[r] = vals[f];
        }
        want[o] = ref_op(op, x, n, corr, ord);
    }
    free(x);
    return nout;
}

/* The output dtype rules, restated independently of the library. */
static em_dtype want_dtype(em_op op, em_dtype in) {
    bool fl = in == EM_F32 || in == EM_F64;
    switch (op) {
    case EM_OP_SUM:
    case EM_OP_PROD:
    case EM_OP_CUMSUM:
    case EM_OP_CUMPROD: return fl ? in : EM_I64;
    case EM_OP_MEAN:
    case EM_OP_VAR:
    case EM_OP_STD:
    case EM_OP_LOGSUMEXP:
    case EM_OP_NORM: return fl ? in : EM_F32;
    case EM_OP_MAX:
    case EM_OP_MIN: return in;
    case EM_OP_ALL:
    case EM_OP_ANY: return EM_BOOL;
    default: return EM_I64;
    }
}

static bool has_identity(em_op op) {
    return op != EM_OP_MAX && op != EM_OP_MIN && op != EM_OP_ARGMAX && op != EM_OP_ARGMIN;
}

/* Runs one reduction of t (logical values vals) and compares everything:
 * status, dtype, shape and values. */
static void check_reduce(em_op op, const em_tensor *t, const double *vals, const em_reduce_options *o) {
    int nd = em_tensor_ndim(t);
    const int64_t *shape = em_tensor_shape(t);
    em_dtype in = em_tensor_dtype(t);
    uint32_t mask = 0;
    if (!o->axes) mask = (1u << nd) - 1;
    for (int i = 0; i < (o->axes ? o->naxes : 0); i++) mask |= 1u << (o->axes[i] < 0 ? o->axes[i] + nd : o->axes[i]);
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        if (mask & (1u << i)) n *= shape[i];
    em_tensor *out = NULL;
    em_status st = em_reduce(op, t, o, &out);
    if (n == 0 && !has_identity(op)) {
        CHECK(st == EM_ERR_INVALID_ARG);
        CHECK(strstr(em_last_error(), "zero-size reduction") != NULL);
        return;
    }
    if (st != EM_OK) {
        fprintf(stderr, "  %s on %s: %s\n", em_op_name(op), em_dtype_name(in), em_last_error());
        test_failures++;
        return;
    }
    CHECK(em_tensor_dtype(out) == want_dtype(op, in));
    int k = 0;
    bool shape_ok = true;
    for (int i = 0; i < nd; i++) {
        if (mask & (1u << i)) {
            if (o->keepdims) shape_ok &= em_tensor_shape(out)[k++] == 1;
        } else {
            shape_ok &= em_tensor_shape(out)[k++] == shape[i];
        }
    }
    CHECK(shape_ok && em_tensor_ndim(out) == k);
    /* the reference sees the values as the kernel does: cast to float32 for
     * float ops on integer input (exact for these small values) */
    double *want = malloc(sizeof(double) * 4096);
    int64_t nout = ref_reduce(op, vals, nd, shape, mask, o->correction, o->ord, want);
    CHECK(nout == em_tensor_numel(out));
    double tol = em_tensor_dtype(out) == EM_F32 ? 2e-6 : 1e-12;
    for (int64_t i = 0; i < nout; i++) {
        double got = get_flat(out, i);
        if (!same(got, want[i], tol)) {
            fprintf(stderr, "  %s %s ndim %d mask %x keepdims %d out[%lld] = %.9g, wanted %.9g\n", em_op_name(op),
                    em_dtype_name(in), nd, mask, o->keepdims, (long long)i, got, want[i]);
            test_failures++;
            break;
        }
    }
    free(want);
    em_tensor_free(out);
}

static const em_op reduce_ops[] = {EM_OP_SUM,  EM_OP_MEAN, EM_OP_PROD,      EM_OP_MAX, EM_OP_MIN,
                                   EM_OP_ARGMAX, EM_OP_ARGMIN, EM_OP_VAR,   EM_OP_STD, EM_OP_LOGSUMEXP,
                                   EM_OP_ALL,  EM_OP_ANY,  EM_OP_NORM, EM_OP_COUNT_NONZERO};
#define NOPS (int)(sizeof reduce_ops / sizeof reduce_ops[0])

/* Every op x dtype x shape x layout x axes subset (positive and negative
 * spellings) x keepdims, plus axes NULL and the empty axes list. */
TEST(reduce_matrix) {
    static const int64_t shapes[][3] = {{0}, {5}, {3, 4}, {2, 3, 4}, {2, 0, 3}, {1, 4, 1}};
    static const int ndims[] = {0, 1, 2, 3, 3, 3};
    double vals[64];
    for (int dt = 0; dt < EM_DTYPE_COUNT; dt++)
        for (int s = 0; s < 6; s++) {
            int nd = ndims[s];
            int64_t n = 1;
            for (int i = 0; i < nd; i++) n *= shapes[s][i];
            for (int64_t i = 0; i < n; i++) vals[i] = gen((em_dtype)dt, i + 7 * s);
            for (int lay = 0; lay < NLAYOUTS; lay++) {
                em_tensor *t = make((em_dtype)dt, nd, shapes[s], vals, (enum layout)lay);
                CHECK(t != NULL);
                if (!t) continue;
                for (int k = 0; k < NOPS; k++) {
                    em_op op = reduce_ops[k];
                    bool single = op == EM_OP_ARGMAX || op == EM_OP_ARGMIN;
                    for (int sub = -1; sub < (1 << nd); sub++) {
                        int axes[EM_MAX_DIMS], na = 0;
                        for (int i = 0; i < nd; i++)
                            if (sub >= 0 && (sub & (1 << i))) axes[na++] = (sub + i) % 2 ? i - nd : i;
                        if (single && na > 1) continue;
                        for (int kd = 0; kd < 2; kd++) {
                            em_reduce_options o = em_reduce_default_options();
                            o.axes = sub < 0 ? NULL : axes;
                            o.naxes = na;
                            o.keepdims = kd;
                            check_reduce(op, t, vals, &o);
                        }
                    }
                }
                em_tensor_free(t);
            }
        }
}

TEST(reduce_default_options) {
    em_reduce_options o = em_reduce_default_options();
    CHECK(o.axes == NULL && o.naxes == 0 && !o.keepdims && o.correction == 0 && o.ord == 2 && o.dtype == -1);
    /* opts NULL means the defaults: sum over everything */
    double v[] = {1, 2, 3, 4};
    int64_t sh[] = {2, 2};
    em_tensor *t = make(EM_F64, 2, sh, v, CONTIG), *out = NULL;
    CHECK_OK(em_reduce(EM_OP_SUM, t, NULL, &out));
    double got = 0;
    CHECK_OK(em_tensor_item(out, &got));
    CHECK(got == 10 && em_tensor_ndim(out) == 0);
    em_tensor_free(out);
    em_tensor_free(t);
}

/* Sizes around the lane width, the pairwise leaf and the row leaf, on the
 * three paths: contiguous, row folding (axis 0) and gather (transposed). */
TEST(reduce_sizes_and_paths) {
    static const int64_t sizes[] = {1, 15, 16, 17, 33, 1023, 1024, 1025, 3001};
    static const em_op ops[] = {EM_OP_SUM, EM_OP_MEAN, EM_OP_MAX, EM_OP_MIN, EM_OP_ARGMAX, EM_OP_COUNT_NONZERO,
                                EM_OP_ALL, EM_OP_ANY, EM_OP_VAR, EM_OP_NORM, EM_OP_LOGSUMEXP, EM_OP_PROD};
    static const em_dtype dts[] = {EM_F32, EM_F64, EM_I32, EM_U8};
    double *vals = malloc(sizeof(double) * 3001 * 3);
    for (int si = 0; si < 9; si++)
        for (int di = 0; di < 4; di++) {
            int64_t n = sizes[si];
            for (int64_t i = 0; i < 3 * n; i++) {
                /* products stay finite: factors near 1 for prod */
                vals[i] = gen(dts[di], i);
            }
            int64_t sh1[] = {n}, sh2[] = {n, 3};
            for (int k = 0; k < 12; k++) {
                em_op op = ops[k];
                if (op == EM_OP_PROD && n > 17) continue; /* overflow is tested elsewhere */
                em_reduce_options o = em_reduce_default_options();
                em_tensor *t = make(dts[di], 1, sh1, vals, CONTIG);
                check_reduce(op, t, vals, &o);
                em_tensor_free(t);
                int ax0 = 0, ax1 = 1;
                for (int lay = 0; lay < NLAYOUTS; lay++) {
                    t = make(dts[di], 2, sh2, vals, (enum layout)lay);
                    o.axes = &ax0;
                    o.naxes = 1;
                    check_reduce(op, t, vals, &o);
                    o.axes = &ax1;
                    check_reduce(op, t, vals, &o);
                    em_tensor_free(t);
                }
            }
        }
    free(vals);
}

TEST(reduce_f32_accuracy_and_determinism) {
    int64_t n = 1 << 20;
    float *x = malloc(sizeof(float) * (size_t)n);
    double exact = 0;
    uint32_t h = 1;
    for (int64_t i = 0; i < n; i++) {
        h = h * 1664525u + 1013904223u;
        x[i] = (float)(h >> 8) / (float)(1 << 24);
        exact += x[i];
    }
    int64_t sh[] = {n}, sh2[] = {n / 4, 4};
    em_tensor *t = NULL, *t2 = NULL, *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(em_tensor_from_data(EM_F32, 1, sh, NULL, x, NULL, NULL, &t));
    CHECK_OK(em_reduce(EM_OP_SUM, t, NULL, &a));
    CHECK_OK(em_reduce(EM_OP_SUM, t, NULL, &b));
    double ga = 0, gb = 0;
    em_tensor_item(a, &ga);
    em_tensor_item(b, &gb);
    CHECK(fabs(ga - exact) <= 1e-6 * exact); /* naive float32 summation is off by ~1e-4 */
    CHECK(memcmp(em_tensor_data(a), em_tensor_data(b), 4) == 0);
    /* leading-axis sum (row folding) is pairwise over rows too */
    int ax0 = 0;
    em_reduce_options o = em_reduce_default_options();
    o.axes = &ax0;
    o.naxes = 1;
    CHECK_OK(em_tensor_from_data(EM_F32, 2, sh2, NULL, x, NULL, NULL, &t2));
    CHECK_OK(em_reduce(EM_OP_SUM, t2, &o, &c));
    double col[4] = {0};
    for (int64_t i = 0; i < n; i++) col[i % 4] += x[i];
    for (int j = 0; j < 4; j++) {
        double g = 0;
        int64_t idx[] = {j};
        em_tensor_get(c, idx, &g);
        CHECK(fabs(g - col[j]) <= 1e-6 * col[j]);
    }
    em_tensor_free(a);
    em_tensor_free(b);
    em_tensor_free(c);
    em_tensor_free(t);
    em_tensor_free(t2);
    free(x);
}

/* One-element result of op over a 1-D float64 or float32 tensor. */
static double reduce1(em_op op, em_dtype dt, int n, const double *v, const em_reduce_options *o) {
    int64_t sh[] = {n};
    em_tensor *t = make(dt, 1, sh, v, CONTIG), *out = NULL;
    double r = -12345;
    em_status st = em_reduce(op, t, o, &out);
    if (st != EM_OK) {
        fprintf(stderr, "  %s: %s\n", em_op_name(op), em_last_error());
        test_failures++;
    } else {
        em_tensor_item(out, &r);
    }
    em_tensor_free(out);
    em_tensor_free(t);
    return r;
}

TEST(reduce_nan_and_inf) {
    double v[] = {1, NAN, 3, NAN, -2};
    for (int dt = EM_F32; dt <= EM_F64; dt++) {
        CHECK(isnan(reduce1(EM_OP_MAX, dt, 5, v, NULL)));
        CHECK(isnan(reduce1(EM_OP_MIN, dt, 5, v, NULL)));
        CHECK(isnan(reduce1(EM_OP_SUM, dt, 5, v, NULL)));
        CHECK(isnan(reduce1(EM_OP_LOGSUMEXP, dt, 5, v, NULL)));
        CHECK(reduce1(EM_OP_ARGMAX, dt, 5, v, NULL) == 1);
        CHECK(reduce1(EM_OP_ARGMIN, dt, 5, v, NULL) == 1);
        CHECK(reduce1(EM_OP_COUNT_NONZERO, dt, 5, v, NULL) == 5); /* NaN is nonzero */
        double w[] = {-INFINITY, -INFINITY};
        CHECK(reduce1(EM_OP_LOGSUMEXP, dt, 2, w, NULL) == -INFINITY);
        double w2[] = {1, INFINITY, -INFINITY};
        CHECK(reduce1(EM_OP_LOGSUMEXP, dt, 3, w2, NULL) == INFINITY);
        double big[] = {1000, 1000};
        CHECK_NEAR(reduce1(EM_OP_LOGSUMEXP, dt, 2, big, NULL), 1000 + log(2), 1e-7);
        double z[] = {0.0, -0.0, 0.0};
        CHECK(reduce1(EM_OP_ANY, dt, 3, z, NULL) == 0);
    }
    /* infinities without NaN (the NaN screen's false alarm) and a NaN deep
     * inside a long input */
    double inf[] = {1, INFINITY, -INFINITY, 2};
    CHECK(reduce1(EM_OP_MAX, EM_F32, 4, inf, NULL) == INFINITY);
    CHECK(reduce1(EM_OP_MIN, EM_F64, 4, inf, NULL) == -INFINITY);
    double *longv = malloc(sizeof(double) * 5000);
    for (int i = 0; i < 5000; i++) longv[i] = i % 13;
    longv[3777] = NAN;
    CHECK(isnan(reduce1(EM_OP_MAX, EM_F32, 5000, longv, NULL)));
    CHECK(isnan(reduce1(EM_OP_MIN, EM_F64, 5000, longv, NULL)));
    CHECK(reduce1(EM_OP_ARGMAX, EM_F32, 5000, longv, NULL) == 3777);
    free(longv);
    /* NaN on the row-folding and gather paths as well */
    double m[] = {1, 2, NAN, 4, 5, 6};
    int64_t sh[] = {3, 2};
    int ax = 0;
    em_reduce_options o = em_reduce_default_options();
    o.axes = &ax;
    o.naxes = 1;
    for (int lay = 0; lay < NLAYOUTS; lay++) {
        em_tensor *t = make(EM_F32, 2, sh, m, (enum layout)lay);
        check_reduce(EM_OP_MAX, t, m, &o);
        check_reduce(EM_OP_MIN, t, m, &o);
        check_reduce(EM_OP_ARGMIN, t, m, &o);
        check_reduce(EM_OP_SUM, t, m, &o);
        em_tensor_free(t);
    }
}

TEST(reduce_argmax_ties_and_flat) {
    double v[] = {3, 1, 3, 0, -1, 0};
    CHECK(reduce1(EM_OP_ARGMAX, EM_F64, 6, v, NULL) == 0);
    CHECK(reduce1(EM_OP_ARGMIN, EM_F64, 6, v, NULL) == 4);
    double t2[] = {0, 5, 5, 1};
    CHECK(reduce1(EM_OP_ARGMAX, EM_F32, 4, t2, NULL) == 1);
    /* flattened index of a transposed tensor counts in logical C order */
    double m[] = {1, 2, 3, 9, 5, 6};
    int64_t sh[] = {2, 3};
    em_tensor *t = make(EM_I32, 2, sh, m, PERMUTED), *out = NULL;
    em_reduce_options o = em_reduce_default_options();
    o.keepdims = true;
    CHECK_OK(em_reduce(EM_OP_ARGMAX, t, &o, &out));
    CHECK(em_tensor_ndim(out) == 2 && em_tensor_shape(out)[0] == 1 && em_tensor_shape(out)[1] == 1);
    CHECK(get_flat(out, 0) == 3 && em_tensor_dtype(out) == EM_I64);
    em_tensor_free(out);
    em_tensor_free(t);
}

TEST(reduce_var_correction) {
    double v[] = {1, 2, 3, 4};
    em_reduce_options o = em_reduce_default_options();
    CHECK_NEAR(reduce1(EM_OP_VAR, EM_F64, 4, v, &o), 1.25, 1e-15);
    o.correction = 1;
    CHECK_NEAR(reduce1(EM_OP_VAR, EM_F64, 4, v, &o), 5.0 / 3, 1e-15);
    CHECK_NEAR(reduce1(EM_OP_STD, EM_F32, 4, v, &o), sqrt(5.0 / 3), 1e-6);
    o.correction = 4; /* divisor 0: inf */
    CHECK(reduce1(EM_OP_VAR, EM_F64, 4, v, &o) == INFINITY);
    o.correction = 6; /* negative divisor clamps to 0 like NumPy */
    CHECK(reduce1(EM_OP_VAR, EM_F64, 4, v, &o) == INFINITY);
    double c[] = {2, 2};
    o.correction = 2;
    CHECK(isnan(reduce1(EM_OP_VAR, EM_F64, 2, c, &o))); /* 0 / 0 */
    /* two passes: a large offset does not swamp the variance */
    double big[] = {1e9 + 1, 1e9 + 2, 1e9 + 3};
    o.correction = 0;
    CHECK_NEAR(reduce1(EM_OP_VAR, EM_F64, 3, big, &o), 2.0 / 3, 1e-9);
    o.correction = NAN;
    em_tensor *t = NULL, *out = NULL;
    int64_t sh[] = {4};
    t = make(EM_F64, 1, sh, v, CONTIG);
    CHECK_STATUS(em_reduce(EM_OP_VAR, t, &o, &out), EM_ERR_INVALID_ARG);
    em_tensor_free(t);
}

TEST(reduce_norm_ords) {
    double v[] = {3, -4, 0, 1};
    static const double ords[] = {2, 1, INFINITY, -INFINITY, 0, 3, 0.5};
    em_reduce_options o = em_reduce_default_options();
    for (int i = 0; i < 7; i++) {
        o.ord = ords[i];
        for (int dt = EM_I32; dt <= EM_F64; dt++) {
            if (dt == EM_I64) continue;
            double want = ref_op(EM_OP_NORM, v, 4, 0, ords[i]);
            CHECK_NEAR(reduce1(EM_OP_NORM, (em_dtype)dt, 4, v, &o), want, 1e-6);
        }
    }
    o.ord = -INFINITY;
    double w[] = {-3, 2, 5};
    CHECK(reduce1(EM_OP_NORM, EM_F32, 3, w, &o) == 2);
    int64_t sh[] = {4};
    em_tensor *t = make(EM_F32, 1, sh, v, CONTIG), *out = NULL;
    o.ord = -1;
    CHECK_STATUS(em_reduce(EM_OP_NORM, t, &o, &out), EM_ERR_INVALID_ARG);
    CHECK(strstr(em_last_error(), "norm: ord -1") != NULL);
    o.ord = NAN;
    CHECK_STATUS(em_reduce(EM_OP_NORM, t, &o, &out), EM_ERR_INVALID_ARG);
    /* norm over two axes is the vector norm of all their elements */
    int64_t sh2[] = {2, 2};
    em_tensor *m = make(EM_F64, 2, sh2, v, FLIPPED);
    int axes[] = {0, -1};
    o = em_reduce_default_options();
    o.axes = axes;
    o.naxes = 2;
    CHECK_OK(em_reduce(EM_OP_NORM, m, &o, &out));
    CHECK_NEAR(get_flat(out, 0), sqrt(26), 1e-15);
    em_tensor_free(out);
    em_tensor_free(m);
    em_tensor_free(t);
}

TEST(reduce_empty_identities) {
    int64_t sh[] = {0, 3};
    em_tensor *t = NULL, *out = NULL;
    CHECK_OK(em_tensor_zeros(EM_F32, 2, sh, &t));
    struct {
        em_op op;
        double want;
    } cases[] = {{EM_OP_SUM, 0},  {EM_OP_PROD, 1},           {EM_OP_ALL, 1},        {EM_OP_ANY, 0},
                 {EM_OP_COUNT_NONZERO, 0}, {EM_OP_MEAN, NAN}, {EM_OP_VAR, NAN},     {EM_OP_STD, NAN},
                 {EM_OP_LOGSUMEXP, -INFINITY}, {EM_OP_NORM, 0}};
    int ax = 0;
    em_reduce_options o = em_reduce_default_options();
    o.axes = &ax;
    o.naxes = 1;
    for (int i = 0; i < 10; i++) {
        CHECK_OK(em_reduce(cases[i].op, t, &o, &out));
        CHECK(em_tensor_numel(out) == 3);
        for (int j = 0; j < 3; j++) CHECK(same(get_flat(out, j), cases[i].want, 0));
        em_tensor_free(out);
    }
    static const em_op none[] = {EM_OP_MAX, EM_OP_MIN, EM_OP_ARGMAX, EM_OP_ARGMIN};
    for (int i = 0; i < 4; i++) {
        CHECK_STATUS(em_reduce(none[i], t, &o, &out), EM_ERR_INVALID_ARG);
        CHECK(strstr(em_last_error(), "zero-size reduction over axis 0 of shape (0, 3) float32 has no identity"));
        CHECK(strncmp(em_last_error(), em_op_name(none[i]), strlen(em_op_name(none[i]))) == 0);
    }
    /* reducing the non-empty axis of an empty tensor is fine for max */
    ax = 1;
    CHECK_OK(em_reduce(EM_OP_MAX, t, &o, &out));
    CHECK(em_tensor_numel(out) == 0 && em_tensor_shape(out)[0] == 0);
    em_tensor_free(out);
    em_tensor_free(t);
}

static void check_i64(em_op op, em_dtype dt, int n, const double *v, int want_dtype, double want) {
    int64_t sh[] = {n};
    em_tensor *t = make(dt, 1, sh, v, CONTIG), *out = NULL;
    em_reduce_options o = em_reduce_default_options();
    o.dtype = want_dtype;
    CHECK_OK(em_reduce(op, t, &o, &out));
    if (out) {
        if (want_dtype >= 0) CHECK(em_tensor_dtype(out) == (em_dtype)want_dtype);
        if (em_tensor_dtype(out) == EM_I64) {
            int64_t g = *(const int64_t *)em_tensor_data(out);
            CHECK(g == (int64_t)want);
        } else {
            double g = 0;
            em_tensor_item(out, &g);
            if (!same(g, want, 1e-7)) {
                fprintf(stderr, "  %s of %s with dtype %d: %g, wanted %g\n", em_op_name(op), em_dtype_name(dt),
                        want_dtype, g, want);
                test_failures++;
            }
        }
    }
    em_tensor_free(out);
    em_tensor_free(t);
}

TEST(reduce_dtype_option_and_wrap) {
    double a[] = {100, 100};
    check_i64(EM_OP_SUM, EM_I32, 2, a, EM_I8, -56);      /* wraps like int8 arithmetic */
    check_i64(EM_OP_SUM, EM_U8, 2, a, EM_U8, 200);
    check_i64(EM_OP_SUM, EM_I32, 2, a, EM_F64, 200);
    double f[] = {1.5, 2.5, -0.75};
    check_i64(EM_OP_SUM, EM_F32, 3, f, EM_I32, 3);       /* each cast first: 1 + 2 + 0 */
    check_i64(EM_OP_SUM, EM_F32, 3, f, EM_F64, 3.25);
    check_i64(EM_OP_PROD, EM_F64, 3, f, EM_I64, 0);
    double pm[] = {1, -1};
    check_i64(EM_OP_SUM, EM_I64, 2, pm, EM_BOOL, 1);    /* logical or of truth values */
    check_i64(EM_OP_PROD, EM_I64, 2, pm, EM_BOOL, 1);   /* logical and */
    double z[] = {3, 0};
    check_i64(EM_OP_PROD, EM_I32, 2, z, EM_BOOL, 0);
    check_i64(EM_OP_MEAN, EM_I32, 2, a, EM_F64, 100);
    check_i64(EM_OP_SUM, EM_BOOL, 2, pm, -1, 2);        /* bool sums count */
    /* int64 wrap-around without undefined behaviour */
    int64_t big[] = {INT64_MAX, 1}, sh[] = {2};
    em_tensor *t = NULL, *out = NULL;
    CHECK_OK(em_tensor_from_data(EM_I64, 1, sh, NULL, big, NULL, NULL, &t));
    CHECK_OK(em_reduce(EM_OP_SUM, t, NULL, &out));
    CHECK(*(int64_t *)em_tensor_data(out) == INT64_MIN);
    em_tensor_free(out);
    big[1] = 2;
    CHECK_OK(em_reduce(EM_OP_PROD, t, NULL, &out));
    CHECK(*(int64_t *)em_tensor_data(out) == -2);
    em_tensor_free(out);
    big[0] = 5;
    big[1] = 7;
    CHECK_OK(em_reduce(EM_OP_MAX, t, NULL, &out));
    CHECK(*(int64_t *)em_tensor_data(out) == 7 && em_tensor_dtype(out) == EM_I64);
    em_tensor_free(out);
    /* the option is refused where it means nothing, and must be a dtype */
    em_reduce_options o = em_reduce_default_options();
    o.dtype = EM_I32;
    CHECK_STATUS(em_reduce(EM_OP_MEAN, t, &o, &out), EM_ERR_DTYPE);
    CHECK_STATUS(em_reduce(EM_OP_MAX, t, &o, &out), EM_ERR_INVALID_ARG);
    CHECK(strstr(em_last_error(), "max:") == em_last_error());
    o.dtype = 99;
    CHECK_STATUS(em_reduce(EM_OP_SUM, t, &o, &out), EM_ERR_DTYPE);
    o.dtype = -2;
    CHECK_STATUS(em_reduce(EM_OP_SUM, t, &o, &out), EM_ERR_DTYPE);
    em_tensor_free(t);
}

TEST(reduce_no_axes_is_elementwise) {
    double v[] = {1.5, -2, 0, 4};
    int64_t sh[] = {2, 2};
    em_tensor *t = make(EM_F32, 2, sh, v, PERMUTED), *out = NULL;
    em_reduce_options o = em_reduce_default_options();
    int dummy = 0;
    o.axes = &dummy;
    o.naxes = 0;
    CHECK_OK(em_reduce(EM_OP_SUM, t, &o, &out));
    CHECK(em_tensor_ndim(out) == 2 && em_tensor_dtype(out) == EM_F32);
    for (int i = 0; i < 4; i++) CHECK(get_flat(out, i) == v[i]);
    em_tensor_free(out);
    CHECK_OK(em_reduce(EM_OP_ARGMAX, t, &o, &out));
    for (int i = 0; i < 4; i++) CHECK(get_flat(out, i) == 0);
    em_tensor_free(out);
    em_tensor_free(t);
}

TEST(reduce_errors) {
    double v[] = {1, 2, 3, 4, 5, 6};
    int64_t sh[] = {2, 3};
    em_tensor *t = make(EM_F32, 2, sh, v, CONTIG), *out = NULL;
    em_reduce_options o = em_reduce_default_options();
    CHECK_STATUS(em_reduce(EM_OP_ADD, t, &o, &out), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_reduce(EM_OP_REDUCE_END_, t, &o, &out), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_reduce((em_op)-1, t, &o, &out), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_reduce(EM_OP_SUM, NULL, &o, &out), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_reduce(EM_OP_SUM, t, &o, NULL), EM_ERR_INVALID_ARG);
    int dup[] = {1, -1};
    o.axes = dup;
    o.naxes = 2;
    CHECK_STATUS(em_reduce(EM_OP_SUM, t, &o, &out), EM_ERR_INVALID_ARG);
    CHECK(strstr(em_last_error(), "sum:") && strstr(em_last_error(), "axis -1") && strstr(em_last_error(), "2 dim"));
    int bad[] = {2};
    o.naxes = 1;
    o.axes = bad;
    CHECK_STATUS(em_reduce(EM_OP_MEAN, t, &o, &out), EM_ERR_INDEX);
    CHECK(strstr(em_last_error(), "mean:") && strstr(em_last_error(), "axis 2") && strstr(em_last_error(), "2 dim"));
    bad[0] = -3;
    CHECK_STATUS(em_reduce(EM_OP_CUMSUM, t, &o, &out), EM_ERR_INDEX);
    o.naxes = -1;
    CHECK_STATUS(em_reduce(EM_OP_SUM, t, &o, &out), EM_ERR_INVALID_ARG);
    int two[] = {0, 1};
    o.axes = two;
    o.naxes = 2;
    CHECK_STATUS(em_reduce(EM_OP_ARGMAX, t, &o, &out), EM_ERR_INVALID_ARG);
    CHECK(strstr(em_last_error(), "argmax:") == em_last_error());
    CHECK_STATUS(em_reduce(EM_OP_CUMPROD, t, &o, &out), EM_ERR_INVALID_ARG);
    o.naxes = 0;
    CHECK_STATUS(em_reduce(EM_OP_CUMSUM, t, &o, &out), EM_ERR_INVALID_ARG);
    CHECK(strstr(em_last_error(), "cumsum:") == em_last_error());
    em_tensor_free(t);
}

/* Reference scan of vals along axis (axis < 0: flattened) in double. */
static void ref_scan(bool sum, const double *vals, int nd, const int64_t *shape, int axis, double *want) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= shape[i];
    int64_t inner = 1, len = n;
    if (axis >= 0) {
        len = shape[axis];
        for (int i = axis + 1; i < nd; i++) inner *= shape[i];
    }
    for (int64_t f = 0; f < n; f++) {
        int64_t pos = (f / inner) % (len ? len : 1);
        want[f] = pos == 0 ? vals[f] : sum ? want[f - inner] + vals[f] : want[f - inner] * vals[f];
    }
}

TEST(reduce_cumulative) {
    static const int64_t shapes[][3] = {{0}, {6}, {3, 4}, {2, 3, 4}, {2, 0, 3}};
    static const int ndims[] = {0, 1, 2, 3, 3};
    double vals[64], want[64];
    for (int dt = 0; dt < EM_DTYPE_COUNT; dt++)
        for (int s = 0; s < 5; s++) {
            int nd = ndims[s];
            int64_t n = 1;
            for (int i = 0; i < nd; i++) n *= shapes[s][i];
            for (int64_t i = 0; i < n; i++) vals[i] = gen((em_dtype)dt, i + s);
            for (int lay = 0; lay < NLAYOUTS; lay++) {
                em_tensor *t = make((em_dtype)dt, nd, shapes[s], vals, (enum layout)lay);
                for (int p = 0; p < 2; p++)
                    for (int ax = -nd - 1; ax < nd; ax++) { /* -nd-1 stands for axes NULL */
                        em_op op = p ? EM_OP_CUMPROD : EM_OP_CUMSUM;
                        int a = ax;
                        em_reduce_options o = em_reduce_default_options();
                        o.keepdims = true; /* ignored */
                        if (ax >= -nd) {
                            o.axes = &a;
                            o.naxes = 1;
                        }
                        em_tensor *out = NULL;
                        CHECK_OK(em_reduce(op, t, &o, &out));
                        if (!out) continue;
                        int norm = ax < -nd ? -1 : ax < 0 ? ax + nd : ax;
                        ref_scan(!p, vals, nd, shapes[s], norm, want);
                        CHECK(em_tensor_dtype(out) == want_dtype(op, (em_dtype)dt));
                        CHECK(em_tensor_ndim(out) == (norm < 0 ? 1 : nd));
                        CHECK(em_tensor_numel(out) == n);
                        for (int64_t i = 0; i < n; i++) {
                            if (!same(get_flat(out, i), want[i], 1e-6)) {
                                fprintf(stderr, "  %s %s shape %d axis %d [%lld]: %g vs %g\n", em_op_name(op),
                                        em_dtype_name((em_dtype)dt), s, ax, (long long)i, get_flat(out, i), want[i]);
                                test_failures++;
                                break;
                            }
                        }
                        em_tensor_free(out);
                    }
                em_tensor_free(t);
            }
        }
}

TEST(reduce_cumulative_dtype_option) {
    double v[] = {100, 100, 100};
    int64_t sh[] = {3};
    em_tensor *t = make(EM_I32, 1, sh, v, FLIPPED), *out = NULL;
    em_reduce_options o = em_reduce_default_options();
    o.dtype = EM_I8;
    CHECK_OK(em_reduce(EM_OP_CUMSUM, t, &o, &out));
    CHECK(em_tensor_dtype(out) == EM_I8);
    CHECK(get_flat(out, 0) == 100 && get_flat(out, 1) == -56 && get_flat(out, 2) == 44);
    em_tensor_free(out);
    o.dtype = EM_F32;
    CHECK_OK(em_reduce(EM_OP_CUMPROD, t, &o, &out));
    CHECK(em_tensor_dtype(out) == EM_F32 && get_flat(out, 2) == 1e6);
    em_tensor_free(out);
    double b[] = {0, 1, 1};
    em_tensor *tb = make(EM_BOOL, 1, sh, b, CONTIG);
    o.dtype = EM_BOOL;
    CHECK_OK(em_reduce(EM_OP_CUMSUM, tb, &o, &out));
    CHECK(em_tensor_dtype(out) == EM_BOOL && get_flat(out, 0) == 0 && get_flat(out, 2) == 1);
    em_tensor_free(out);
    /* 0-d input flattened gives a 1-element 1-D result */
    em_tensor *z = NULL;
    CHECK_OK(em_tensor_full(EM_F64, 0, NULL, 2.5, &z));
    CHECK_OK(em_reduce(EM_OP_CUMSUM, z, NULL, &out));
    CHECK(em_tensor_ndim(out) == 1 && em_tensor_shape(out)[0] == 1 && get_flat(out, 0) == 2.5);
    em_tensor_free(out);
    em_tensor_free(z);
    em_tensor_free(tb);
    em_tensor_free(t);
}

/* Every allocation failure returns EM_ERR_NOMEM and leaks nothing. */
static int64_t fail_after;
static void *failing_alloc(size_t size, size_t align, void *ctx) {
    (void)ctx;
    if (fail_after-- <= 0) return NULL;
    void *p = NULL;
    return posix_memalign(&p, align, size ? size : 1) ? NULL : p;
}
static void plain_free(void *p, void *ctx) {
    (void)ctx;
    free(p);
}

TEST(reduce_out_of_memory) {
    double v[64];
    for (int i = 0; i < 64; i++) v[i] = gen(EM_F32, i);
    int64_t sh[] = {4, 16};
    int ax = 0;
    em_reduce_options o = em_reduce_default_options();
    o.axes = &ax;
    o.naxes = 1;
    static const em_op ops[] = {EM_OP_SUM, EM_OP_VAR, EM_OP_CUMSUM, EM_OP_ALL};
    for (int k = 0; k < 4; k++)
        for (int lay = 0; lay < NLAYOUTS; lay++) {
            em_tensor *t = make(EM_I32, 2, sh, v, (enum layout)lay);
            em_status st = EM_ERR_NOMEM;
            for (int budget = 0; budget < 20 && st == EM_ERR_NOMEM; budget++) {
                em_allocator hooks = {failing_alloc, plain_free, NULL};
                fail_after = budget;
                em_set_allocator(&hooks);
                em_tensor *out = NULL;
                st = em_reduce(ops[k], t, &o, &out);
                em_tensor_free(out);
                em_set_allocator(NULL);
            }
            CHECK(st == EM_OK);
            em_tensor_free(t);
        }
}

/* ---- contiguous fast paths ----------------------------------------------
 * max/min/argmax/argmin run on blocks of 128 bytes and chunks of 8192 bytes
 * (the last one overlapping its neighbour) before a scalar tail; floats are
 * compared through integer keys with a separate NaN flag; all/any stop at
 * the first deciding block.  The sizes straddle every boundary for every
 * element size; the reference is a plain loop read straight off the buffer. */

static const int64_t edge_sizes[] = {1,   3,   15,  16,   17,   31,   32,   33,   63,   64,   65,   127,  128, 129,
                                     255, 256, 257, 511,  512,  513,  1000, 1023, 1024, 1025, 2047, 2048, 2049, 5000,
                                     8191, 8192, 8193};
#define NEDGE (int)(sizeof edge_sizes / sizeof edge_sizes[0])

static bool is_flt(em_dtype dt) { return dt == EM_F32 || dt == EM_F64; }

static double rd_f(em_dtype dt, const void *d, int64_t i) {
    return dt == EM_F32 ? ((const float *)d)[i] : ((const double *)d)[i];
}

static int64_t rd_i(em_dtype dt, const void *d, int64_t i) {
    switch (dt) {
    case EM_BOOL: return ((const bool *)d)[i];
    case EM_U8: return ((const uint8_t *)d)[i];
    case EM_I8: return ((const int8_t *)d)[i];
    case EM_I32: return ((const int32_t *)d)[i];
    default: return ((const int64_t *)d)[i];
    }
}

/* Element i = v (floats) or the integer iv (integers, wrapped to the dtype). */
static void put(em_dtype dt, void *d, int64_t i, int64_t iv, double v) {
    switch (dt) {
    case EM_BOOL: ((bool *)d)[i] = iv != 0; break;
    case EM_U8: ((uint8_t *)d)[i] = (uint8_t)iv; break;
    case EM_I8: ((int8_t *)d)[i] = (int8_t)(uint8_t)iv; break;
    case EM_I32: ((int32_t *)d)[i] = (int32_t)(uint32_t)iv; break;
    case EM_I64: ((int64_t *)d)[i] = iv; break;
    case EM_F32: ((float *)d)[i] = (float)v; break;
    default: ((double *)d)[i] = v; break;
    }
}

/* The dtype's largest (hi) or smallest value; +-inf for floats. */
static void put_extreme(em_dtype dt, void *d, int64_t i, bool hi) {
    static const int64_t his[] = {1, 255, 127, INT32_MAX, INT64_MAX}, los[] = {0, 0, -128, INT32_MIN, INT64_MIN};
    int k = dt == EM_BOOL ? 0 : dt == EM_U8 ? 1 : dt == EM_I8 ? 2 : dt == EM_I32 ? 3 : 4;
    put(dt, d, i, hi ? his[k] : los[k], hi ? INFINITY : -INFINITY);
}

static uint64_t hash64(uint64_t i) {
    i = (i + 0x9e3779b97f4a7c15u) * 0xbf58476d1ce4e5b9u;
    return (i ^ (i >> 31)) * 0x94d049bb133111ebu;
}

/* First index of the max (mx) or min, the first NaN winning. */
static int64_t ref_arg(em_dtype dt, const void *d, int64_t n, bool mx) {
    int64_t b = 0;
    for (int64_t i = 0; i < n; i++) {
        if (is_flt(dt)) {
            double v = rd_f(dt, d, i), w = rd_f(dt, d, b);
            if (isnan(v)) return i;
            if (mx ? v > w : v < w) b = i;
        } else {
            int64_t v = rd_i(dt, d, i), w = rd_i(dt, d, b);
            if (mx ? v > w : v < w) b = i;
        }
    }
    return b;
}

/* op over all of t, as an integer (argmax/argmin/all/any); -1 on error. */
static int64_t reduce_i64(em_op op, const em_tensor *t) {
    em_tensor *o = NULL;
    double v = -1;
    CHECK_OK(em_reduce(op, t, NULL, &o));
    if (o) em_tensor_item(o, &v);
    em_tensor_free(o);
    return (int64_t)v;
}

/* max, min, argmax and argmin of the contiguous vector t (buffer d) against
 * ref_arg: the index exactly, the value equal (NaN for NaN). */
static void check_ext(const em_tensor *t, em_dtype dt, const void *d, int64_t n, const char *what) {
    for (int mx = 0; mx < 2; mx++) {
        int64_t want = ref_arg(dt, d, n, mx), got = -1;
        em_tensor *o = NULL;
        CHECK_OK(em_reduce(mx ? EM_OP_ARGMAX : EM_OP_ARGMIN, t, NULL, &o));
        if (o) got = *(const int64_t *)em_tensor_data(o);
        em_tensor_free(o);
        o = NULL;
        bool vok = false;
        CHECK_OK(em_reduce(mx ? EM_OP_MAX : EM_OP_MIN, t, NULL, &o));
        if (o && is_flt(dt)) {
            double a = rd_f(dt, em_tensor_data(o), 0), b = rd_f(dt, d, want);
            vok = isnan(b) ? isnan(a) : a == b;
        } else if (o) {
            vok = rd_i(dt, em_tensor_data(o), 0) == rd_i(dt, d, want);
        }
        em_tensor_free(o);
        if (got != want || !vok) {
            fprintf(stderr, "  %s n=%lld %s arg%s = %lld, wanted %lld; value %s\n", em_dtype_name(dt), (long long)n,
                    what, mx ? "max" : "min", (long long)got, (long long)want, vok ? "ok" : "WRONG");
            test_failures++;
        }
    }
}

static em_tensor *vec_zeros(em_dtype dt, int64_t n, void **d) {
    em_tensor *t = NULL;
    CHECK_OK(em_tensor_zeros(dt, 1, &n, &t));
    *d = t ? em_tensor_data(t) : NULL;
    return t;
}

/* Every dtype and edge size: values with many ties, values over the whole
 * range of the dtype, and extremes planted first, middle, last and in the
 * tail (each with a later tie, which must lose). */
TEST(reduce_fast_extremes) {
    for (int dt = 0; dt < EM_DTYPE_COUNT; dt++)
        for (int si = 0; si < NEDGE; si++) {
            int64_t n = edge_sizes[si];
            void *d;
            em_tensor *t = vec_zeros((em_dtype)dt, n, &d);
            if (!t) continue;
            for (int64_t i = 0; i < n; i++) put((em_dtype)dt, d, i, (int64_t)(hash64(i) % 7) - 3, (double)(hash64(i) % 7) - 3);
            check_ext(t, (em_dtype)dt, d, n, "ties");
            for (int64_t i = 0; i < n; i++)
                put((em_dtype)dt, d, i, (int64_t)hash64(i + 99), (double)(int32_t)(uint32_t)hash64(i + 99) / 1024);
            check_ext(t, (em_dtype)dt, d, n, "full range");
            int64_t pos[] = {0, n / 2, n - 1, n - 1 - n % 17, n > 600 ? 600 : n / 3};
            for (int p = 0; p < 5; p++) {
                for (int64_t i = 0; i < n; i++) put((em_dtype)dt, d, i, (int64_t)(hash64(i) % 5), (double)(hash64(i) % 5));
                put_extreme((em_dtype)dt, d, pos[p], true);
                put_extreme((em_dtype)dt, d, (pos[p] + n / 3) % n, false);
                if (pos[p] + 1 < n) put_extreme((em_dtype)dt, d, n - 1, true);
                check_ext(t, (em_dtype)dt, d, n, "planted");
            }
            em_tensor_free(t);
        }
}

/* NaNs (positive, negative, with payload) first, in the middle, last, in
 * the tail and at block/chunk edges; later NaNs and infinities around them. */
TEST(reduce_fast_nan) {
    static const uint32_t nan32[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xffbfffffu};
    static const uint64_t nan64[] = {0x7ff8000000000000u, 0xfff8000000000000u, 0x7ff0000000000001u,
                                     0xfff7ffffffffffffu};
    for (int dt = EM_F32; dt <= EM_F64; dt++)
        for (int si = 0; si < NEDGE; si++) {
            int64_t n = edge_sizes[si];
            void *d;
            em_tensor *t = vec_zeros((em_dtype)dt, n, &d);
            if (!t) continue;
            int64_t pos[] = {0, n / 2, n - 1, n - 2, 31, 32, 255, 256, 511, 512, 1024};
            for (int p = 0; p < 11; p++) {
                if (pos[p] < 0 || pos[p] >= n) continue;
                for (int k = 0; k < 4; k++) {
                    for (int64_t i = 0; i < n; i++) put((em_dtype)dt, d, i, 0, (double)(hash64(i) % 9) - 4);
                    put((em_dtype)dt, d, n - 1 - pos[p] / 2, 0, k % 2 ? -INFINITY : INFINITY);
                    if (dt == EM_F32)
                        memcpy((float *)d + pos[p], &nan32[k], 4);
                    else
                        memcpy((double *)d + pos[p], &nan64[k], 8);
                    if (pos[p] + 3 < n) put((em_dtype)dt, d, pos[p] + 3, 0, NAN);
                    check_ext(t, (em_dtype)dt, d, n, "nan");
                }
            }
            em_tensor_free(t);
        }
}

/* -0 and +0 compare equal: argmax/argmin keep the first; max and min return
 * one of the elements, +0 over -0 for max and -0 for min whatever the order
 * (float keys order -0 below +0). */
TEST(reduce_fast_signed_zeros) {
    for (int dt = EM_F32; dt <= EM_F64; dt++) {
        int64_t sizes[] = {2, 40, 3000};
        for (int s = 0; s < 3; s++) {
            int64_t n = sizes[s];
            void *d;
            em_tensor *t = vec_zeros((em_dtype)dt, n, &d), *o = NULL;
            if (!t) continue;
            for (int64_t i = 0; i < n; i++) put((em_dtype)dt, d, i, 0, -1);
            put((em_dtype)dt, d, 0, 0, -0.0);
            put((em_dtype)dt, d, n - 1, 0, 0.0);
            CHECK(reduce_i64(EM_OP_ARGMAX, t) == 0);
            CHECK_OK(em_reduce(EM_OP_MAX, t, NULL, &o));
            CHECK(o && rd_f((em_dtype)dt, em_tensor_data(o), 0) == 0 && !signbit(rd_f((em_dtype)dt, em_tensor_data(o), 0)));
            em_tensor_free(o);
            for (int64_t i = 0; i < n; i++) put((em_dtype)dt, d, i, 0, 1);
            put((em_dtype)dt, d, 0, 0, 0.0);
            put((em_dtype)dt, d, n - 1, 0, -0.0);
            CHECK(reduce_i64(EM_OP_ARGMIN, t) == 0);
            CHECK_OK(em_reduce(EM_OP_MIN, t, NULL, &o));
            CHECK(o && signbit(rd_f((em_dtype)dt, em_tensor_data(o), 0)));
            em_tensor_free(o);
            for (int64_t i = 0; i < n; i++) put((em_dtype)dt, d, i, 0, -0.0);
            CHECK_OK(em_reduce(EM_OP_MAX, t, NULL, &o));
            CHECK(o && signbit(rd_f((em_dtype)dt, em_tensor_data(o), 0)));
            em_tensor_free(o);
            em_tensor_free(t);
        }
    }
}

/* all/any on every dtype and edge size: one deciding element first, in the
 * middle or last (-0 is a zero, NaN is not). */
TEST(reduce_fast_all_any) {
    for (int dt = 0; dt < EM_DTYPE_COUNT; dt++)
        for (int si = 0; si < NEDGE; si++) {
            int64_t n = edge_sizes[si];
            void *d;
            em_tensor *t = vec_zeros((em_dtype)dt, n, &d);
            if (!t) continue;
            CHECK(reduce_i64(EM_OP_ANY, t) == 0 && reduce_i64(EM_OP_ALL, t) == 0);
            for (int64_t i = 0; i < n; i++) put((em_dtype)dt, d, i, 1 + (int64_t)(hash64(i) % 3), 0.5);
            CHECK(reduce_i64(EM_OP_ANY, t) == 1 && reduce_i64(EM_OP_ALL, t) == 1);
            int64_t pos[] = {0, n / 2, n - 1};
            for (int p = 0; p < 3; p++) {
                put((em_dtype)dt, d, pos[p], 0, -0.0);
                CHECK(reduce_i64(EM_OP_ALL, t) == 0 && reduce_i64(EM_OP_ANY, t) == (n > 1));
                put((em_dtype)dt, d, pos[p], 1, 0.5);
            }
            for (int p = 0; p < 3; p++) {
                for (int64_t i = 0; i < n; i++) put((em_dtype)dt, d, i, 0, i % 2 ? 0.0 : -0.0);
                put((em_dtype)dt, d, pos[p], 1, NAN);
                CHECK(reduce_i64(EM_OP_ANY, t) == 1 && reduce_i64(EM_OP_ALL, t) == (n == 1));
            }
            em_tensor_free(t);
        }
}

/* Along axis 1 (each row one contiguous slice, several chunks) and axis 0
 * (row folding), with NaNs in some rows and columns. */
TEST(reduce_fast_axes) {
    static const int64_t shapes[][2] = {{7, 1000}, {3, 513}, {37, 17}, {5, 2049}, {70, 40}};
    static const em_dtype dts[] = {EM_F32, EM_F64, EM_I8, EM_U8, EM_I32, EM_I64, EM_BOOL};
    static const em_op ops[] = {EM_OP_MAX, EM_OP_MIN, EM_OP_ARGMAX, EM_OP_ARGMIN, EM_OP_ALL, EM_OP_ANY};
    double *vals = malloc(sizeof(double) * 70 * 2049);
    for (int s = 0; s < 5; s++)
        for (int di = 0; di < 7; di++) {
            int64_t n = shapes[s][0] * shapes[s][1];
            for (int64_t i = 0; i < n; i++) vals[i] = gen(dts[di], i + s);
            if (is_flt(dts[di])) vals[n / 2] = vals[n - 1] = vals[shapes[s][1] + 3] = NAN;
            em_tensor *t = make(dts[di], 2, shapes[s], vals, CONTIG);
            for (int ax = 0; ax < 2; ax++)
                for (int k = 0; k < 6; k++) {
                    em_reduce_options o = em_reduce_default_options();
                    o.axes = &ax;
                    o.naxes = 1;
                    check_reduce(ops[k], t, vals, &o);
                }
            em_tensor_free(t);
        }
    free(vals);
}

/* float32 logsumexp goes through the vectorised exp: close to a double
 * reference, and bit-identical from call to call. */
TEST(reduce_fast_logsumexp_f32) {
    static const int64_t sizes[] = {1, 3, 17, 1000, 1025, 5000};
    for (int s = 0; s < 6; s++) {
        int64_t n = sizes[s];
        void *d;
        em_tensor *t = vec_zeros(EM_F32, n, &d), *o1 = NULL, *o2 = NULL;
        if (!t) continue;
        for (int64_t i = 0; i < n; i++) put(EM_F32, d, i, 0, ((double)(hash64(i) % 2001) - 1000) / 50);
        if (n > 3) put(EM_F32, d, 2, 0, -INFINITY);
        double m = -INFINITY, e = 0;
        for (int64_t i = 0; i < n; i++) m = fmax(m, rd_f(EM_F32, d, i));
        for (int64_t i = 0; i < n; i++) e += exp(rd_f(EM_F32, d, i) - m);
        CHECK_OK(em_reduce(EM_OP_LOGSUMEXP, t, NULL, &o1));
        CHECK_OK(em_reduce(EM_OP_LOGSUMEXP, t, NULL, &o2));
        if (o1 && o2) {
            CHECK_NEAR(rd_f(EM_F32, em_tensor_data(o1), 0), m + log(e), 2e-6);
            CHECK(memcmp(em_tensor_data(o1), em_tensor_data(o2), 4) == 0);
        }
        em_tensor_free(o1);
        em_tensor_free(o2);
        em_tensor_free(t);
    }
}

/* float32 chunks of 2048 take a fast path (native max/min, a running sum
 * that flags NaN and +-inf) that hands the chunk back to the key scan when
 * the sum is not finite or the extreme is +-0.  Each case below forces one
 * of those hand-backs inside a single chunk, at several places of several
 * chunks, and must still match the plain reference (values, first indices,
 * +0 over -0 for max and -0 for min). */
TEST(reduce_fast_f32_fallbacks) {
    const int64_t n = 4 * 2048 + 77;
    void *d;
    em_tensor *t = vec_zeros(EM_F32, n, &d), *o = NULL;
    if (!t) return;
    float *x = d;
    int64_t pos[] = {0, 5, 2047, 2048, 4000, 6143, 8191, 8192, n - 1};
    for (int p = 0; p < 9; p++) {
        /* finite values whose sum overflows: no NaN, the extremes are exact */
        for (int64_t i = 0; i < n; i++) x[i] = (i % 3 ? 3.0e38f : -2.0e38f) * (1.0f - (float)(hash64(i) % 97) / 1000);
        x[pos[p]] = 3.4e38f;
        x[(pos[p] + 700) % n] = -3.4e38f;
        check_ext(t, EM_F32, d, n, "overflowing sum");
        /* a zero maximum: -0 first, +0 later in the same chunk */
        for (int64_t i = 0; i < n; i++) x[i] = -1.0f - (float)(hash64(i) % 13);
        x[pos[p]] = -0.0f;
        if (pos[p] + 3 < n) x[pos[p] + 3] = 0.0f;
        check_ext(t, EM_F32, d, n, "zero max");
        CHECK_OK(em_reduce(EM_OP_MAX, t, NULL, &o));
        CHECK(o && ((const float *)em_tensor_data(o))[0] == 0 &&
              !!signbit(((const float *)em_tensor_data(o))[0]) == (pos[p] + 3 >= n));
        em_tensor_free(o);
        o = NULL;
        /* a zero minimum: +0 first, -0 later */
        for (int64_t i = 0; i < n; i++) x[i] = 1.0f + (float)(hash64(i) % 13);
        x[pos[p]] = 0.0f;
        if (pos[p] + 3 < n) x[pos[p] + 3] = -0.0f;
        check_ext(t, EM_F32, d, n, "zero min");
        CHECK_OK(em_reduce(EM_OP_MIN, t, NULL, &o));
        CHECK(o && !!signbit(((const float *)em_tensor_data(o))[0]) == (pos[p] + 3 < n));
        em_tensor_free(o);
        o = NULL;
        /* an infinity among finite values (the sum flags it; no NaN) */
        for (int64_t i = 0; i < n; i++) x[i] = (float)(hash64(i) % 1000) - 500;
        x[pos[p]] = p % 2 ? -INFINITY : INFINITY;
        check_ext(t, EM_F32, d, n, "infinity");
    }
    em_tensor_free(t);
}
