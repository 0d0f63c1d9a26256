/* Tests of softmax / log_softmax (forward and backward), layer norm, batch
 * norm and group norm (forward and backward) against float64 references
 * written here from the definitions; awkward row lengths (vector tails),
 * strided and transposed inputs, extreme logits, bit-identical results for
 * 1, 2 and 3 threads, bad arguments and out-of-memory injection. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

static const int64_t lens[] = {1, 3, 7, 17, 255, 257, 1000};
#define NLENS (int)(sizeof lens / sizeof lens[0])

/* Deterministic values in [-scale, scale). */
static uint64_t seed = 12345;
static double rnd(double scale) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(seed >> 11) / 9007199254740992.0 * 2 - 1) * scale;
}
static double *rnd_array(int64_t n, double scale, double shift) {
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = rnd(scale) + shift;
    return v;
}
/* the values actually held by a tensor of dtype dt */
static void round_to(double *v, int64_t n, em_dtype dt) {
    if (dt == EM_F32)
        for (int64_t i = 0; i < n; i++) v[i] = (float)v[i];
}
static double tol_of(em_dtype dt) { return dt == EM_F32 ? 2e-5 : 1e-11; }

/* Whether t (any view) holds ref within tol relative to the largest |ref|
 * of the tensor (differences of nearly equal terms make a relative bound
 * per element meaningless for gradients). */
static bool close_to(const em_tensor *t, const double *ref, int64_t n, double tol) {
    if (!t || em_tensor_numel(t) != n) return false;
    double big = 0;
    for (int64_t i = 0; i < n; i++) big = fabs(ref[i]) > big && isfinite(ref[i]) ? fabs(ref[i]) : big;
    for (int64_t i = 0; i < n; i++) {
        double v = value_at(t, i);
        bool ok = isnan(ref[i]) ? isnan(v) : isinf(ref[i]) ? v == ref[i] : fabs(v - ref[i]) <= tol * (big + 1e-300);
        if (!ok) {
            fprintf(stderr, "  element %lld: got %.17g, wanted %.17g (scale %g)\n", (long long)i, v, ref[i], big);
            return false;
        }
    }
    return true;
}

/* ---- references ---------------------------------------------------------- */

/* softmax over (outer, n, inner), kind 0..3 as the backward kinds in softmax.c */
static void ref_softmax(int kind, const double *x, const double *g, int64_t outer, int64_t n, int64_t inner,
                        double *y) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
#define AT(a, k) a[(o * n + (k)) * inner + i]
            if (kind <= 1) {
                double m = -INFINITY, s = 0;
                for (int64_t k = 0; k < n; k++) m = AT(x, k) > m ? AT(x, k) : m;
                for (int64_t k = 0; k < n; k++) s += exp(AT(x, k) - m);
                for (int64_t k = 0; k < n; k++)
                    AT(y, k) = kind ? (AT(x, k) - m) - log(s) : exp(AT(x, k) - m) / s;
            } else {
                double s = 0;
                for (int64_t k = 0; k < n; k++) s += kind == 2 ? AT(g, k) * AT(x, k) : AT(g, k);
                for (int64_t k = 0; k < n; k++)
                    AT(y, k) = kind == 2 ? AT(x, k) * (AT(g, k) - s) : AT(g, k) - exp(AT(x, k)) * s;
            }
#undef AT
        }
}

/* Normalisation of `sets` sets of m values each; element j of set s is at
 * x[idx(s, j)] and uses affine parameter par(s, j) of w and b (NULL: 1, 0).
 * Forward into y, mean, rstd (per set); backward (g non-NULL) into gx and
 * accumulates gw, gb (indexed by par) with training-style statistics. */
typedef int64_t (*index_fn)(int64_t s, int64_t j, const int64_t *geo);
static void ref_norm(int64_t sets, int64_t m, index_fn idx, index_fn par, const int64_t *geo, const double *x,
                     const double *w, const double *b, double eps, double *y, double *mean, double *rstd,
                     const double *g, double *gx, double *gw, double *gb) {
    for (int64_t s = 0; s < sets; s++) {
        double mu = 0, var = 0;
        for (int64_t j = 0; j < m; j++) mu += x[idx(s, j, geo)];
        mu /= (double)m;
        for (int64_t j = 0; j < m; j++) var += (x[idx(s, j, geo)] - mu) * (x[idx(s, j, geo)] - mu);
        var /= (double)m;
        double r = 1 / sqrt(var + eps);
        if (mean) mean[s] = mu, rstd[s] = r;
        if (!g) {
            for (int64_t j = 0; j < m; j++) {
                int64_t k = idx(s, j, geo), p = par(s, j, geo);
                y[k] = (x[k] - mu) * r * (w ? w[p] : 1) + (b ? b[p] : 0);
            }
            continue;
        }
        double a = 0, c = 0;
        for (int64_t j = 0; j < m; j++) {
            int64_t k = idx(s, j, geo), p = par(s, j, geo);
            double gh = g[k] * (w ? w[p] : 1);
            a += gh;
            c += gh * (x[k] - mu) * r;
        }
        for (int64_t j = 0; j < m; j++) {
            int64_t k = idx(s, j, geo), p = par(s, j, geo);
            double gh = g[k] * (w ? w[p] : 1), xh = (x[k] - mu) * r;
            gx[k] = r * (gh - a / (double)m - xh * c / (double)m);
            if (gw) gw[p] += g[k] * xh;
            if (gb) gb[p] += g[k];
        }
    }
}
/* layer norm: geo = {m}; group norm: geo = {C, HW, groups}; batch norm: geo = {C, HW, N} */
static int64_t ln_idx(int64_t s, int64_t j, const int64_t *geo) { return s * geo[0] + j; }
static int64_t ln_par(int64_t s, int64_t j, const int64_t *geo) { return j; }
static int64_t gn_idx(int64_t s, int64_t j, const int64_t *geo) { return s * (geo[0] / geo[2]) * geo[1] + j; }
static int64_t gn_par(int64_t s, int64_t j, const int64_t *geo) { return s % geo[2] * (geo[0] / geo[2]) + j / geo[1]; }
static int64_t bn_idx(int64_t s, int64_t j, const int64_t *geo) { return (j / geo[1] * geo[0] + s) * geo[1] + j % geo[1]; }
static int64_t bn_par(int64_t s, int64_t j, const int64_t *geo) { return s; }

/* ---- softmax ------------------------------------------------------------- */

/* softmax-family kind of x (rows, n) along the last axis, and of its
 * transpose along axis 0 (a strided input), against the reference. */
static void check_softmax_kind(int kind, em_dtype dt, int64_t rows, int64_t n, const double *x, const double *g) {
    int64_t total = rows * n;
    double *ref = malloc((size_t)total * sizeof *ref);
    ref_softmax(kind, x, g, rows, n, 1, ref);
    em_tensor *xt = tensor_of(dt, 2, SH(rows, n), x), *gt = g ? tensor_of(dt, 2, SH(rows, n), g) : NULL, *y = NULL;
    em_tensor *xT = NULL, *gT = NULL, *yT = NULL, *yTT = NULL;
    em_status st = kind == 0 ? em_softmax(xt, -1, &y) : kind == 1 ? em_log_softmax(xt, 1, &y)
                 : kind == 2 ? em_softmax_backward(gt, xt, -1, &y) : em_log_softmax_backward(gt, xt, 1, &y);
    CHECK_OK(st);
    CHECK(close_to(y, ref, total, tol_of(dt)));
    /* the same rows as columns of a transposed view: along axis 0 */
    CHECK_OK(em_tensor_transpose(xt, 0, 1, &xT));
    if (gt) CHECK_OK(em_tensor_transpose(gt, 0, 1, &gT));
    st = kind == 0 ? em_softmax(xT, 0, &yT) : kind == 1 ? em_log_softmax(xT, -2, &yT)
       : kind == 2 ? em_softmax_backward(gT, xT, 0, &yT) : em_log_softmax_backward(gT, xT, 0, &yT);
    CHECK_OK(st);
    if (yT) CHECK_OK(em_tensor_transpose(yT, 0, 1, &yTT));
    CHECK(close_to(yTT, ref, total, tol_of(dt)));
    em_tensor_free(xt), em_tensor_free(gt), em_tensor_free(y), em_tensor_free(xT), em_tensor_free(gT);
    em_tensor_free(yT), em_tensor_free(yTT);
    free(ref);
}

TEST(norm_softmax_lengths) {
    for (int d = 0; d < 2; d++) {
        em_dtype dt = d ? EM_F64 : EM_F32;
        for (int l = 0; l < NLENS; l++) {
            int64_t rows = 3, n = lens[l];
            double *x = rnd_array(rows * n, 8, 0), *g = rnd_array(rows * n, 1, 0), *y = malloc((size_t)(rows * n) * 8);
            round_to(x, rows * n, dt), round_to(g, rows * n, dt);
            check_softmax_kind(0, dt, rows, n, x, NULL);
            check_softmax_kind(1, dt, rows, n, x, NULL);
            /* backward given outputs y of the forward, rounded as the caller holds them */
            ref_softmax(0, x, NULL, rows, n, 1, y);
            round_to(y, rows * n, dt);
            check_softmax_kind(2, dt, rows, n, y, g);
            ref_softmax(1, x, NULL, rows, n, 1, y);
            round_to(y, rows * n, dt);
            check_softmax_kind(3, dt, rows, n, y, g);
            free(x), free(g), free(y);
        }
    }
}

/* A middle axis of a 3-d tensor (inner > the column block too). */
TEST(norm_softmax_middle_axis) {
    const int64_t outer = 2, n = 5, inner = 300, total = outer * n * inner;
    double *x = rnd_array(total, 5, 0), *g = rnd_array(total, 1, 0), *ref = malloc(total * 8), *y = malloc(total * 8);
    for (int kind = 0; kind < 4; kind++) {
        const double *in = x;
        if (kind >= 2) {
            ref_softmax(kind - 2, x, NULL, outer, n, inner, y);
            in = y;
        }
        ref_softmax(kind, in, g, outer, n, inner, ref);
        em_tensor *xt = tensor_of(EM_F64, 3, SH(outer, n, inner), in), *gt = tensor_of(EM_F64, 3, SH(outer, n, inner), g);
        em_tensor *r = NULL;
        CHECK_OK(kind == 0 ? em_softmax(xt, 1, &r) : kind == 1 ? em_log_softmax(xt, -2, &r)
                 : kind == 2 ? em_softmax_backward(gt, xt, 1, &r) : em_log_softmax_backward(gt, xt, 1, &r));
        CHECK(close_to(r, ref, total, 1e-12));
        em_tensor_free(xt), em_tensor_free(gt), em_tensor_free(r);
    }
    free(x), free(g), free(ref), free(y);
}

/* 1e4 logits (e^x overflows without the max shift), -inf entries (weight 0),
 * and rows of all -inf or with NaN / +inf (NaN rows, like torch). */
TEST(norm_softmax_extremes) {
    for (int d = 0; d < 2; d++) {
        em_dtype dt = d ? EM_F64 : EM_F32;
        em_tensor *x = tensor_of(dt, 2, SH(4, 3),
                                 V(1e4, 1e4 - 1, -1e4, 0, -INFINITY, 1, -INFINITY, -INFINITY, -INFINITY, NAN, 1, 2));
        em_tensor *s = NULL, *l = NULL;
        CHECK_OK(em_softmax(x, 1, &s));
        CHECK_OK(em_log_softmax(x, 1, &l));
        double e1 = exp(-1.0), z = 1 + e1, z2 = 1 + exp(1.0);
        const double ws[] = {1 / z, e1 / z, 0, 1 / z2, 0, exp(1.0) / z2, NAN, NAN, NAN, NAN, NAN, NAN};
        const double wl[] = {-log(z), -1 - log(z), -2e4 - log(z), -log(z2), -INFINITY, 1 - log(z2), NAN, NAN, NAN,
                             NAN, NAN, NAN};
        CHECK(close_to(s, ws, 12, tol_of(dt)));
        CHECK(close_to(l, wl, 12, tol_of(dt)));
        em_tensor_free(x), em_tensor_free(s), em_tensor_free(l);
    }
    /* integer input computes in float32; a 0-d tensor is one row */
    em_tensor *xi = tensor_of(EM_I32, 1, SH(3), V(1, 2, 3)), *x0 = tensor_of(EM_F64, 0, NULL, V(7)), *s = NULL, *s0 = NULL;
    CHECK_OK(em_softmax(xi, 0, &s));
    CHECK(s && em_tensor_dtype(s) == EM_F32);
    CHECK_OK(em_softmax(x0, -1, &s0));
    CHECK(tensor_equals(s0, EM_F64, 0, NULL, V(1)));
    em_tensor_free(xi), em_tensor_free(x0), em_tensor_free(s), em_tensor_free(s0);
}

/* ---- layer norm ---------------------------------------------------------- */

static void check_layer_norm(em_dtype dt, int64_t rows, int64_t m, bool affine, bool transposed) {
    int64_t total = rows * m, geo[1] = {m};
    double *x = rnd_array(total, 3, 2), *g = rnd_array(total, 1, 0), *w = rnd_array(m, 1, 1), *b = rnd_array(m, 1, 0);
    round_to(x, total, dt), round_to(g, total, dt), round_to(w, m, dt), round_to(b, m, dt);
    double *y = malloc(total * 8), *mean = malloc(rows * 8), *rstd = malloc(rows * 8), *gx = malloc(total * 8);
    double *gw = calloc(m, 8), *gb = calloc(m, 8);
    const double *wp = affine ? w : NULL, *bp = affine ? b : NULL;
    ref_norm(rows, m, ln_idx, ln_par, geo, x, wp, bp, 1e-5, y, mean, rstd, NULL, NULL, NULL, NULL);
    ref_norm(rows, m, ln_idx, ln_par, geo, x, wp, bp, 1e-5, y, NULL, NULL, g, gx, gw, gb);
    ref_norm(rows, m, ln_idx, ln_par, geo, x, wp, bp, 1e-5, y, NULL, NULL, NULL, NULL, NULL, NULL);
    em_tensor *xt, *gt, *wt = tensor_of(dt, 1, SH(m), w), *bt = tensor_of(dt, 1, SH(m), b);
    if (transposed) { /* (rows, m) seen through a transposed (m, rows) */
        double *xT = malloc(total * 8), *gT = malloc(total * 8);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < m; j++) xT[j * rows + r] = x[r * m + j], gT[j * rows + r] = g[r * m + j];
        em_tensor *a = tensor_of(dt, 2, SH(m, rows), xT), *c = tensor_of(dt, 2, SH(m, rows), gT);
        em_tensor_transpose(a, 0, 1, &xt), em_tensor_transpose(c, 0, 1, &gt);
        em_tensor_free(a), em_tensor_free(c), free(xT), free(gT);
    } else {
        xt = tensor_of(dt, 2, SH(rows, m), x), gt = tensor_of(dt, 2, SH(rows, m), g);
    }
    em_tensor *out = NULL, *mt = NULL, *rt = NULL, *gxt = NULL, *gwt = NULL, *gbt = NULL;
    CHECK_OK(em_layer_norm(xt, 1, SH(m), affine ? wt : NULL, affine ? bt : NULL, 1e-5, &out, &mt, &rt));
    CHECK(close_to(out, y, total, tol_of(dt) * 4));
    CHECK(close_to(mt, mean, rows, tol_of(dt)));
    CHECK(close_to(rt, rstd, rows, tol_of(dt)));
    CHECK(mt && em_tensor_ndim(mt) == 2 && em_tensor_shape(mt)[1] == 1);
    CHECK_OK(em_layer_norm_backward(gt, xt, 1, SH(m), mt, rt, affine ? wt : NULL, &gxt, affine ? &gwt : NULL, &gbt));
    CHECK(close_to(gxt, gx, total, tol_of(dt) * 20));
    if (affine) CHECK(close_to(gwt, gw, m, tol_of(dt) * 4));
    CHECK(close_to(gbt, gb, m, tol_of(dt) * 4));
    em_tensor_free(xt), em_tensor_free(gt), em_tensor_free(wt), em_tensor_free(bt), em_tensor_free(out);
    em_tensor_free(mt), em_tensor_free(rt), em_tensor_free(gxt), em_tensor_free(gwt), em_tensor_free(gbt);
    free(x), free(g), free(w), free(b), free(y), free(mean), free(rstd), free(gx), free(gw), free(gb);
}

TEST(norm_layer_norm) {
    for (int d = 0; d < 2; d++)
        for (int l = 0; l < NLENS; l++) {
            em_dtype dt = d ? EM_F64 : EM_F32;
            check_layer_norm(dt, 3, lens[l], l % 2 == 0, false);
            if (lens[l] > 1) check_layer_norm(dt, 5, lens[l], l % 2 == 1, true);
        }
    /* two trailing dims, output shapes */
    em_tensor *x = tensor_of(EM_F64, 3, SH(2, 2, 3), NULL), *y = NULL, *m = NULL;
    CHECK_OK(em_layer_norm(x, 2, SH(2, 3), NULL, NULL, 0, &y, &m, NULL));
    double s = sqrt(35.0 / 12);
    CHECK(close_to(y, V(-2.5 / s, -1.5 / s, -.5 / s, .5 / s, 1.5 / s, 2.5 / s, -2.5 / s, -1.5 / s, -.5 / s, .5 / s,
                        1.5 / s, 2.5 / s), 12, 1e-12));
    CHECK(tensor_values_are(m, 3, SH(2, 1, 1), V(2.5, 8.5)));
    em_tensor_free(x), em_tensor_free(y), em_tensor_free(m);
}

/* ---- batch norm ---------------------------------------------------------- */

static void check_batch_norm(em_dtype dt, int64_t n, int64_t ch, int64_t hw, bool affine) {
    int64_t total = n * ch * hw, len = n * hw, geo[3] = {ch, hw, n};
    double *x = rnd_array(total, 2, 3), *g = rnd_array(total, 1, 0), *w = rnd_array(ch, 1, 1), *b = rnd_array(ch, 1, 0);
    round_to(x, total, dt), round_to(g, total, dt), round_to(w, ch, dt), round_to(b, ch, dt);
    double *y = malloc(total * 8), *mean = malloc(ch * 8), *rstd = malloc(ch * 8), *gx = malloc(total * 8);
    double *gw = calloc(ch, 8), *gb = calloc(ch, 8), rm[8], rv[8];
    const double *wp = affine ? w : NULL, *bp = affine ? b : NULL;
    ref_norm(ch, len, bn_idx, bn_par, geo, x, wp, bp, 1e-5, y, mean, rstd, g, gx, gw, gb);
    ref_norm(ch, len, bn_idx, bn_par, geo, x, wp, bp, 1e-5, y, NULL, NULL, NULL, NULL, NULL, NULL);
    for (int64_t c = 0; c < ch; c++) {
        double var = 1 / (rstd[c] * rstd[c]) - 1e-5;
        rm[c] = 0.9 * 0.5 + 0.1 * mean[c];
        rv[c] = 0.9 * 2 + 0.1 * var * (double)len / (double)(len - 1);
    }
    em_tensor *xt = tensor_of(dt, 3, SH(n, ch, hw), x), *gt = tensor_of(dt, 3, SH(n, ch, hw), g);
    em_tensor *wt = tensor_of(dt, 1, SH(ch), w), *bt = tensor_of(dt, 1, SH(ch), b);
    em_tensor *rmt = NULL, *rvt = NULL, *out = NULL, *mt = NULL, *rt = NULL, *gxt = NULL, *gwt = NULL, *gbt = NULL;
    CHECK_OK(em_tensor_full(EM_F64, 1, SH(ch), 0.5, &rmt));
    CHECK_OK(em_tensor_full(EM_F32, 1, SH(ch), 2, &rvt)); /* another dtype than x is fine */
    em_batch_norm_options o = em_batch_norm_default_options();
    CHECK_OK(em_batch_norm(xt, rmt, rvt, affine ? wt : NULL, affine ? bt : NULL, &o, &out, &mt, &rt));
    CHECK(close_to(out, y, total, tol_of(dt) * 4));
    CHECK(close_to(mt, mean, ch, tol_of(dt)));
    CHECK(close_to(rt, rstd, ch, tol_of(dt)));
    CHECK(close_to(rmt, rm, ch, tol_of(dt)));
    CHECK(close_to(rvt, rv, ch, 2e-6));
    CHECK_OK(em_batch_norm_backward(gt, xt, affine ? wt : NULL, mt, rt, true, &gxt, affine ? &gwt : NULL, &gbt));
    CHECK(close_to(gxt, gx, total, tol_of(dt) * 20));
    if (affine) CHECK(close_to(gwt, gw, ch, tol_of(dt) * 4));
    CHECK(close_to(gbt, gb, ch, tol_of(dt) * 4));
    em_tensor_free(out), em_tensor_free(mt), em_tensor_free(rt), em_tensor_free(gxt);
    /* eval: running statistics, read only; backward scales grad_out */
    o.training = false;
    CHECK_OK(em_batch_norm(xt, rmt, rvt, wt, bt, &o, &out, &mt, &rt));
    for (int64_t k = 0; k < total; k++) {
        int64_t c = k / hw % ch;
        double r = 1 / sqrt((double)(float)rv[c] + 1e-5);
        y[k] = (x[k] - rm[c]) * r * w[c] + b[c];
        gx[k] = g[k] * w[c] * r;
    }
    CHECK(close_to(out, y, total, tol_of(dt) * 4));
    CHECK(close_to(rmt, rm, ch, tol_of(dt)));
    CHECK_OK(em_batch_norm_backward(gt, xt, wt, mt, rt, false, &gxt, NULL, NULL));
    CHECK(close_to(gxt, gx, total, tol_of(dt) * 4));
    em_tensor_free(xt), em_tensor_free(gt), em_tensor_free(wt), em_tensor_free(bt), em_tensor_free(rmt);
    em_tensor_free(rvt), em_tensor_free(out), em_tensor_free(mt), em_tensor_free(rt), em_tensor_free(gxt);
    em_tensor_free(gwt), em_tensor_free(gbt);
    free(x), free(g), free(w), free(b), free(y), free(mean), free(rstd), free(gx), free(gw), free(gb);
}

TEST(norm_batch_norm) {
    for (int d = 0; d < 2; d++) {
        em_dtype dt = d ? EM_F64 : EM_F32;
        check_batch_norm(dt, 4, 3, 7, true);
        check_batch_norm(dt, 2, 2, 1000, false); /* more than one chunk per channel is 4096: use 3 below */
        check_batch_norm(dt, 3, 2, 1500, true);
        check_batch_norm(dt, 17, 5, 1, true);
    }
    /* (N, C) input, and a permuted (strided) (N, C, H) view */
    em_tensor *x = tensor_of(EM_F64, 2, SH(2, 2), V(1, 10, 3, 30)), *y = NULL, *p = NULL, *q = NULL;
    CHECK_OK(em_batch_norm(x, NULL, NULL, NULL, NULL, NULL, &y, NULL, NULL));
    double r = 1 / sqrt(1 + 1e-5), r2 = 1 / sqrt(100 + 1e-5);
    CHECK(close_to(y, V(-r, -10 * r2, r, 10 * r2), 4, 1e-12));
    em_tensor_free(y);
    em_tensor *x3 = tensor_of(EM_F64, 3, SH(2, 2, 2), V(1, 2, 3, 4, 5, 6, 7, 8));
    CHECK_OK(em_tensor_permute(x3, (const int[]){0, 2, 1}, &p));
    CHECK_OK(em_batch_norm(p, NULL, NULL, NULL, NULL, NULL, &y, &q, NULL));
    CHECK(tensor_values_are(q, 1, SH(2), V(4, 5)));
    em_tensor_free(x), em_tensor_free(x3), em_tensor_free(p), em_tensor_free(q), em_tensor_free(y);
}

/* ---- group norm ---------------------------------------------------------- */

static void check_group_norm(em_dtype dt, int64_t n, int64_t ch, int64_t hw, int64_t groups, bool affine) {
    int64_t total = n * ch * hw, m = ch / groups * hw, geo[3] = {ch, hw, groups};
    double *x = rnd_array(total, 2, -1), *g = rnd_array(total, 1, 0), *w = rnd_array(ch, 1, 1), *b = rnd_array(ch, 1, 0);
    round_to(x, total, dt), round_to(g, total, dt), round_to(w, ch, dt), round_to(b, ch, dt);
    double *y = malloc(total * 8), *mean = malloc(n * groups * 8), *rstd = malloc(n * groups * 8), *gx = malloc(total * 8);
    double *gw = calloc(ch, 8), *gb = calloc(ch, 8);
    const double *wp = affine ? w : NULL, *bp = affine ? b : NULL;
    ref_norm(n * groups, m, gn_idx, gn_par, geo, x, wp, bp, 1e-5, y, mean, rstd, g, gx, gw, gb);
    ref_norm(n * groups, m, gn_idx, gn_par, geo, x, wp, bp, 1e-5, y, NULL, NULL, NULL, NULL, NULL, NULL);
    em_tensor *xt = tensor_of(dt, 3, SH(n, ch, hw), x), *gt = tensor_of(dt, 3, SH(n, ch, hw), g);
    em_tensor *wt = tensor_of(dt, 1, SH(ch), w), *bt = tensor_of(dt, 1, SH(ch), b);
    em_tensor *out = NULL, *mt = NULL, *rt = NULL, *gxt = NULL, *gwt = NULL, *gbt = NULL;
    CHECK_OK(em_group_norm(xt, groups, affine ? wt : NULL, affine ? bt : NULL, 1e-5, &out, &mt, &rt));
    CHECK(close_to(out, y, total, tol_of(dt) * 4));
    CHECK(close_to(mt, mean, n * groups, tol_of(dt)));
    CHECK(close_to(rt, rstd, n * groups, tol_of(dt)));
    CHECK_OK(em_group_norm_backward(gt, xt, groups, mt, rt, affine ? wt : NULL, &gxt, affine ? &gwt : NULL, &gbt));
    CHECK(close_to(gxt, gx, total, tol_of(dt) * 20));
    if (affine) CHECK(close_to(gwt, gw, ch, tol_of(dt) * 4));
    CHECK(close_to(gbt, gb, ch, tol_of(dt) * 4));
    em_tensor_free(xt), em_tensor_free(gt), em_tensor_free(wt), em_tensor_free(bt), em_tensor_free(out);
    em_tensor_free(mt), em_tensor_free(rt), em_tensor_free(gxt), em_tensor_free(gwt), em_tensor_free(gbt);
    free(x), free(g), free(w), free(b), free(y), free(mean), free(rstd), free(gx), free(gw), free(gb);
}

TEST(norm_group_norm) {
    for (int d = 0; d < 2; d++) {
        em_dtype dt = d ? EM_F64 : EM_F32;
        check_group_norm(dt, 2, 6, 7, 3, true);
        check_group_norm(dt, 3, 4, 17, 1, false);
        check_group_norm(dt, 2, 4, 3, 4, true);
        check_group_norm(dt, 1, 2, 257, 2, true);
    }
}

/* ---- determinism across thread counts ------------------------------------ */

/* Runs every op on inputs large enough to be split, with 1, 2 and 3
 * threads, and compares all outputs bit for bit. */
enum { NOUT = 16 };
static void run_all(em_tensor **outs) {
    double *v = rnd_array(40 * 1100 + 100, 3, 1);
    em_tensor *x = tensor_of(EM_F32, 2, SH(40, 1100), v), *g = tensor_of(EM_F32, 2, SH(40, 1100), v + 100);
    em_tensor *x3 = tensor_of(EM_F32, 3, SH(8, 5, 1100), v), *g3 = tensor_of(EM_F32, 3, SH(8, 5, 1100), v + 7);
    em_tensor *w = tensor_of(EM_F32, 1, SH(1100), v + 5), *w5 = tensor_of(EM_F32, 1, SH(5), v + 9);
    em_tensor *rm = NULL, *rv = NULL;
    em_tensor_zeros(EM_F32, 1, SH(5), &rm), em_tensor_ones(EM_F32, 1, SH(5), &rv);
    CHECK_OK(em_softmax(x, 1, &outs[0]));
    CHECK_OK(em_log_softmax(x3, 1, &outs[1]));
    CHECK_OK(em_softmax_backward(g, outs[0], 1, &outs[2]));
    CHECK_OK(em_log_softmax_backward(g3, outs[1], 1, &outs[3]));
    CHECK_OK(em_layer_norm(x, 1, SH(1100), w, w, 1e-5, &outs[4], &outs[5], &outs[6]));
    CHECK_OK(em_layer_norm_backward(g, x, 1, SH(1100), outs[5], outs[6], w, &outs[7], &outs[8], NULL));
    CHECK_OK(em_batch_norm(x3, rm, rv, w5, w5, NULL, &outs[9], &outs[10], &outs[11]));
    CHECK_OK(em_batch_norm_backward(g3, x3, w5, outs[10], outs[11], true, &outs[12], &outs[13], NULL));
    CHECK_OK(em_group_norm(x3, 5, w5, NULL, 1e-5, &outs[14], NULL, NULL));
    outs[15] = rv, rv = NULL;
    em_tensor_free(x), em_tensor_free(g), em_tensor_free(x3), em_tensor_free(g3), em_tensor_free(w);
    em_tensor_free(w5), em_tensor_free(rm), em_tensor_free(rv);
    free(v);
}

TEST(norm_threads_bit_identical) {
    em_tensor *ref[NOUT] = {0}, *got[NOUT] = {0};
    int before = em_get_num_threads();
    em_set_num_threads(1);
    uint64_t s0 = seed;
    run_all(ref);
    for (int nt = 2; nt <= 3; nt++) {
        em_set_num_threads(nt);
        seed = s0;
        run_all(got);
        for (int i = 0; i < NOUT; i++) {
            bool same = ref[i] && got[i] && em_tensor_numel(ref[i]) == em_tensor_numel(got[i]) &&
                        memcmp(em_tensor_data(ref[i]), em_tensor_data(got[i]), (size_t)em_tensor_numel(ref[i]) * 4) == 0;
            if (!same) fprintf(stderr, "  output %d differs with %d threads\n", i, nt);
            CHECK(same);
            em_tensor_free(got[i]);
        }
    }
    for (int i = 0; i < NOUT; i++) em_tensor_free(ref[i]);
    em_set_num_threads(before == 1 ? 1 : 0);
}

/* ---- errors and out of memory --------------------------------------------- */

TEST(norm_errors) {
    em_tensor *x = tensor_of(EM_F32, 3, SH(2, 4, 3), NULL), *xi = tensor_of(EM_I64, 2, SH(2, 4), NULL);
    em_tensor *w3 = tensor_of(EM_F32, 1, SH(3), NULL), *w5 = tensor_of(EM_F32, 1, SH(5), NULL), *y = NULL;
    em_tensor *g = tensor_of(EM_F32, 2, SH(2, 4), NULL), *m = NULL, *r = NULL;
    CHECK_STATUS(em_softmax(x, 3, &y), EM_ERR_INDEX);
    CHECK_STATUS(em_softmax_backward(g, x, 0, &y), EM_ERR_SHAPE);
    CHECK(error_has("(2, 4)") && error_has("(2, 4, 3)"));
    CHECK_STATUS(em_log_softmax_backward(xi, xi, 0, &y), EM_ERR_DTYPE);
    CHECK_STATUS(em_layer_norm(x, 1, SH(4), NULL, NULL, 1e-5, &y, NULL, NULL), EM_ERR_SHAPE);
    CHECK(error_has("normalized_shape") && error_has("(4,)"));
    CHECK_STATUS(em_layer_norm(x, 4, SH(1, 2, 4, 3), NULL, NULL, 1e-5, &y, NULL, NULL), EM_ERR_SHAPE);
    CHECK_STATUS(em_layer_norm(x, 1, SH(3), w5, NULL, 1e-5, &y, NULL, NULL), EM_ERR_SHAPE);
    CHECK(error_has("weight") && error_has("(5,)"));
    CHECK_STATUS(em_layer_norm(xi, 1, SH(4), NULL, NULL, 1e-5, &y, NULL, NULL), EM_ERR_DTYPE);
    CHECK_OK(em_layer_norm(x, 1, SH(3), NULL, NULL, 1e-5, &y, &m, &r));
    CHECK_STATUS(em_layer_norm_backward(g, x, 1, SH(3), m, r, NULL, &y, NULL, NULL), EM_ERR_SHAPE);
    CHECK_STATUS(em_layer_norm_backward(x, x, 1, SH(3), w3, r, NULL, &y, NULL, NULL), EM_ERR_SHAPE);
    CHECK(error_has("mean"));
    CHECK_STATUS(em_layer_norm_backward(x, x, 1, SH(3), m, r, NULL, &y, &y, NULL), EM_ERR_INVALID_ARG);
    em_tensor_free(m), em_tensor_free(r), em_tensor_free(y);
    CHECK_STATUS(em_group_norm(x, 3, NULL, NULL, 1e-5, &y, NULL, NULL), EM_ERR_INVALID_ARG);
    CHECK(error_has("num_groups 3"));
    CHECK_STATUS(em_group_norm(x, 0, NULL, NULL, 1e-5, &y, NULL, NULL), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_group_norm(w3, 1, NULL, NULL, 1e-5, &y, NULL, NULL), EM_ERR_SHAPE);
    CHECK_STATUS(em_group_norm(x, 2, w3, NULL, 1e-5, &y, NULL, NULL), EM_ERR_SHAPE);
    em_batch_norm_options o = em_batch_norm_default_options();
    CHECK_STATUS(em_batch_norm(x, w3, w3, NULL, NULL, &o, &y, NULL, NULL), EM_ERR_SHAPE);
    CHECK(error_has("running_mean") && error_has("(4,)"));
    CHECK_STATUS(em_batch_norm(x, w3, NULL, NULL, NULL, &o, &y, NULL, NULL), EM_ERR_INVALID_ARG);
    em_tensor *one = tensor_of(EM_F32, 2, SH(1, 4), NULL);
    CHECK_STATUS(em_batch_norm(one, NULL, NULL, NULL, NULL, &o, &y, NULL, NULL), EM_ERR_INVALID_ARG);
    CHECK(error_has("more than 1 value per channel"));
    o.training = false;
    CHECK_STATUS(em_batch_norm(x, NULL, NULL, NULL, NULL, &o, &y, NULL, NULL), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_batch_norm(w3, NULL, NULL, NULL, NULL, &o, &y, NULL, NULL), EM_ERR_SHAPE);
    CHECK_STATUS(em_batch_norm_backward(x, x, NULL, w3, w3, true, &y, NULL, NULL), EM_ERR_SHAPE);
    CHECK_STATUS(em_batch_norm(NULL, NULL, NULL, NULL, NULL, &o, &y, NULL, NULL), EM_ERR_INVALID_ARG);
    em_tensor_free(x), em_tensor_free(xi), em_tensor_free(w3), em_tensor_free(w5), em_tensor_free(g);
    em_tensor_free(one);
}

static em_tensor *ox, *og, *ow;
static em_status oom_ops(void) {
    em_tensor *a = NULL, *m = NULL, *r = NULL, *b = NULL, *c = NULL, *rm = NULL, *rv = NULL;
    em_status st = em_softmax(ox, 1, &a);
    if (!st) em_tensor_free(a), a = NULL, st = em_log_softmax_backward(og, ox, 0, &a);
    if (!st) em_tensor_free(a), a = NULL, st = em_layer_norm(ox, 1, SH(6), ow, ow, 1e-5, &a, &m, &r);
    if (!st) st = em_layer_norm_backward(og, ox, 1, SH(6), m, r, ow, &b, &c, NULL);
    em_tensor_free(a), em_tensor_free(m), em_tensor_free(r), em_tensor_free(b), em_tensor_free(c);
    a = m = r = b = c = NULL;
    if (!st) st = em_tensor_zeros(EM_F32, 1, SH(6), &rm);
    if (!st) st = em_tensor_ones(EM_F32, 1, SH(6), &rv);
    if (!st) st = em_batch_norm(ox, rm, rv, NULL, NULL, NULL, &a, &m, &r);
    if (!st) st = em_batch_norm_backward(og, ox, NULL, m, r, true, &b, NULL, &c);
    em_tensor_free(a), em_tensor_free(m), em_tensor_free(r), em_tensor_free(b), em_tensor_free(c);
    a = m = r = b = c = NULL;
    if (!st) st = em_group_norm(ox, 2, NULL, NULL, 1e-5, &a, &m, &r);
    if (!st) st = em_group_norm_backward(og, ox, 2, m, r, NULL, &b, NULL, &c);
    em_tensor_free(a), em_tensor_free(m), em_tensor_free(r), em_tensor_free(b), em_tensor_free(c);
    em_tensor_free(rm), em_tensor_free(rv);
    return st;
}

TEST(norm_out_of_memory) {
    em_tensor *base = tensor_of(EM_F32, 2, SH(6, 4), NULL);
    em_tensor_transpose(base, 0, 1, &ox); /* strided: forces the copies */
    og = tensor_of(EM_F64, 2, SH(4, 6), NULL);
    ow = tensor_of(EM_F64, 1, SH(6), NULL);
    oom_sweep(oom_ops);
    em_tensor_free(base), em_tensor_free(ox), em_tensor_free(og), em_tensor_free(ow);
}
