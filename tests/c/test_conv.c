/* Convolution and pooling (include/ember/conv.h) against naive float64
 * loops: forward, grad_input, grad_weight, grad_bias over awkward
 * geometries, thread-count independence, both row-kernel variants, OOM
 * injection and argument errors. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_util.h"
#include "../../csrc/ember/kernels/conv_dw.h"
#include "../../csrc/ember/kernels/conv_kernels.h"
#include "../../csrc/ember/kernels/gemm.h"

typedef struct {
    int64_t N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, G; /* H == 0: 1-D (W is L) */
} geo;

static const geo cases[] = {
    {2, 3, 5, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1},   /* plain 3x3, padded */
    {1, 4, 7, 5, 6, 3, 2, 2, 1, 0, 1, 1, 2, 2},   /* groups, stride, dilation */
    {2, 4, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4},   /* depthwise */
    {2, 3, 6, 5, 6, 3, 3, 2, 2, 1, 1, 1, 1, 3},   /* depthwise, multiplier 2, stride 2 */
    {2, 5, 4, 4, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1},   /* pointwise */
    {1, 2, 9, 8, 3, 1, 1, 2, 2, 0, 0, 1, 1, 1},   /* 1x1 stride 2 */
    {7, 2, 5, 5, 3, 2, 2, 1, 1, 0, 0, 1, 1, 1},   /* batch over several weight chunks */
    {2, 3, 0, 9, 2, 1, 3, 1, 2, 0, 1, 1, 2, 1},   /* 1-D */
    {1, 3, 5, 13, 3, 3, 3, 1, 1, 2, 2, 2, 2, 3},  /* depthwise dilated, odd width (SIMD tails) */
    {3, 2, 0, 19, 2, 1, 5, 1, 1, 2, 2, 1, 1, 2},  /* depthwise 1-D */
    {1, 1, 4, 4, 2, 4, 4, 1, 1, 0, 0, 1, 1, 1},   /* kernel = input */
    {1, 6, 3, 3, 4, 2, 2, 3, 3, 1, 1, 1, 1, 2},   /* stride larger than kernel */
    /* the implicit GEMM (kernels/conv_igemm.c) */
    {2, 72, 5, 4, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1}, /* 648 taps: several kc blocks */
    {1, 3, 34, 33, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1}, /* 1122 positions: tiles straight to y */
    {5, 4, 12, 12, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2}, /* column chunks straddle images */
    {2, 4, 17, 19, 4, 5, 5, 2, 2, 2, 2, 1, 1, 2}, /* stride 2, 5x5: phase rows */
    {1, 2, 5, 5, 3, 3, 3, 1, 1, 3, 3, 1, 1, 1},   /* padding > k-1: grad_input via col2im */
    /* the direct stride-1 kernels (conv_igemm.c, kernels/x86/conv_direct_*.c): images wide enough
     * that the padding columns stay under DIRECT_WASTE */
    {2, 5, 16, 30, 27, 3, 3, 1, 1, 1, 1, 1, 1, 1},   /* 3x3: 27 channels, short last row tile */
    {1, 3, 20, 31, 5, 3, 3, 1, 1, 2, 2, 2, 2, 1},    /* dilation 2, odd width */
    {2, 6, 13, 40, 10, 5, 3, 1, 1, 2, 1, 1, 1, 2},   /* 5x3, groups, unequal padding */
    {1, 130, 9, 30, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1},  /* 1170 taps: three kc blocks */
    {2, 8, 10, 30, 12, 1, 1, 1, 1, 1, 1, 1, 1, 1},   /* padded 1x1 */
    {2, 4, 0, 123, 6, 1, 5, 1, 1, 0, 2, 1, 1, 1},    /* 1-D */
    {3, 4, 7, 61, 5, 3, 3, 1, 1, 0, 0, 1, 1, 1},     /* unpadded: reads run into the slack */
};

static double rnd(int seed, int64_t i) {
    uint32_t h = (uint32_t)((i * 2654435761u) ^ (uint32_t)(seed * 40503u + 977u));
    h ^= h >> 13, h *= 0x5bd1e995u, h ^= h >> 15;
    return ((int)(h % 2001) - 1000) / 500.0;
}

static int nd_of(const geo *g) { return g->H ? 4 : 3; }
static int64_t outsz(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }
static int64_t OHf(const geo *g) { return g->H ? outsz(g->H, g->kh, g->sh, g->ph, g->dh) : 1; }
static int64_t OWf(const geo *g) { return outsz(g->W, g->kw, g->sw, g->pw, g->dw); }

static void shapes(const geo *g, int64_t *xs, int64_t *ws, int64_t *os) {
    int nd = nd_of(g);
    xs[0] = g->N, xs[1] = g->C, ws[0] = g->O, ws[1] = g->C / g->G, os[0] = g->N, os[1] = g->O;
    if (nd == 4) xs[2] = g->H, ws[2] = g->kh, os[2] = OHf(g);
    xs[nd - 1] = g->W, ws[nd - 1] = g->kw, os[nd - 1] = OWf(g);
}

static em_conv_options opts_of(const geo *g) {
    em_conv_options o = em_conv_default_options();
    int a = g->H ? 1 : 0; /* index of the W axis */
    o.stride[a] = g->sw, o.padding[a] = g->pw, o.dilation[a] = g->dw;
    if (g->H) o.stride[0] = g->sh, o.padding[0] = g->ph, o.dilation[0] = g->dh;
    o.groups = g->G;
    return o;
}

/* y[n][o][oh][ow] of the naive convolution in double. */
static void ref_conv(const geo *g, const double *x, const double *w, const double *b, double *y) {
    int64_t H = g->H ? g->H : 1, kh = g->H ? g->kh : 1, OH = OHf(g), OW = OWf(g), Cg = g->C / g->G, Og = g->O / g->G;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t o = 0; o < g->O; o++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double s = b ? b[o] : 0;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t i = 0; i < kh; i++)
                            for (int64_t j = 0; j < g->kw; j++) {
                                int64_t ih = oh * g->sh + i * g->dh - g->ph, iw = ow * g->sw + j * g->dw - g->pw;
                                if (!g->H) ih = oh;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= g->W) continue;
                                int64_t ci = o / Og * Cg + c;
                                s += w[((o * Cg + c) * kh + i) * g->kw + j] * x[((n * g->C + ci) * H + ih) * g->W + iw];
                            }
                    y[((n * g->O + o) * OH + oh) * OW + ow] = s;
                }
}

/* The adjoints, accumulated into zeroed gx and gw. */
static void ref_grads(const geo *g, const double *x, const double *w, const double *gy, double *gx, double *gw,
                      double *gb) {
    int64_t H = g->H ? g->H : 1, kh = g->H ? g->kh : 1, OH = OHf(g), OW = OWf(g), Cg = g->C / g->G, Og = g->O / g->G;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t o = 0; o < g->O; o++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double go = gy[((n * g->O + o) * OH + oh) * OW + ow];
                    gb[o] += go;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t i = 0; i < kh; i++)
                            for (int64_t j = 0; j < g->kw; j++) {
                                int64_t ih = oh * g->sh + i * g->dh - g->ph, iw = ow * g->sw + j * g->dw - g->pw;
                                if (!g->H) ih = oh;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= g->W) continue;
                                int64_t xi = ((n * g->C + o / Og * Cg + c) * H + ih) * g->W + iw;
                                int64_t wi = ((o * Cg + c) * kh + i) * g->kw + j;
                                gx[xi] += go * w[wi];
                                gw[wi] += go * x[xi];
                            }
                }
}

static double *vals(int seed, int64_t n) {
    double *v = malloc((size_t)(n ? n : 1) * sizeof(double));
    for (int64_t i = 0; i < n; i++) v[i] = rnd(seed, i);
    return v;
}

static bool close_to(const em_tensor *t, const double *want, int64_t n, double tol) {
    if (em_tensor_numel(t) != n) return false;
    for (int64_t k = 0; k < n; k++) {
        double a = value_at(t, k);
        if (!(fabs(a - want[k]) <= tol * (1 + fabs(want[k])))) {
            fprintf(stderr, "  element %lld: %.10g, wanted %.10g\n", (long long)k, a, want[k]);
            return false;
        }
    }
    return true;
}

static void check_case(const geo *g, em_dtype dt) {
    int nd = nd_of(g);
    int64_t xs[4], ws[4], os[4];
    shapes(g, xs, ws, os);
    int64_t nx = em__numel(nd, xs), nw = em__numel(nd, ws), ny = em__numel(nd, os);
    double *x = vals(1, nx), *w = vals(2, nw), *b = vals(3, g->O), *gy = vals(4, ny);
    double *y = calloc((size_t)ny, sizeof *y), *gx = calloc((size_t)nx, sizeof *gx);
    double *gw = calloc((size_t)nw, sizeof *gw), *gb = calloc((size_t)g->O, sizeof *gb);
    ref_conv(g, x, w, b, y);
    ref_grads(g, x, w, gy, gx, gw, gb);
    em_tensor *tx = tensor_of(dt, nd, xs, x), *tw = tensor_of(dt, nd, ws, w), *tb = tensor_of(dt, 1, &g->O, b);
    em_tensor *tgy = tensor_of(dt, nd, os, gy), *r = NULL;
    em_conv_options o = opts_of(g);
    double tol = dt == EM_F32 ? 1e-4 : 1e-12;
    CHECK_OK(em_conv(tx, tw, tb, &o, &r));
    CHECK(r && close_to(r, y, ny, tol));
    em_tensor_free(r), r = NULL;
    CHECK_OK(em_conv_grad_input(tgy, tw, nd, xs, &o, &r));
    CHECK(r && close_to(r, gx, nx, tol));
    em_tensor_free(r), r = NULL;
    CHECK_OK(em_conv_grad_weight(tgy, tx, nd, ws, &o, &r));
    CHECK(r && close_to(r, gw, nw, tol));
    em_tensor_free(r), r = NULL;
    CHECK_OK(em_conv_grad_bias(tgy, &r));
    CHECK(r && close_to(r, gb, g->O, tol));
    em_tensor_free(r), r = NULL;
    /* without bias: the reference minus the bias */
    int64_t P = ny / (g->N * g->O);
    for (int64_t k = 0; k < ny; k++) y[k] -= b[k / P % g->O];
    CHECK_OK(em_conv(tx, tw, NULL, &o, &r));
    CHECK(r && close_to(r, y, ny, tol));
    em_tensor_free(r);
    em_tensor_free(tx), em_tensor_free(tw), em_tensor_free(tb), em_tensor_free(tgy);
    free(x), free(w), free(b), free(gy), free(y), free(gx), free(gw), free(gb);
}

TEST(conv_matches_naive_reference) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int before = test_failures;
        check_case(&cases[i], EM_F64);
        check_case(&cases[i], EM_F32);
        if (test_failures != before) fprintf(stderr, "  in case %zu\n", i);
    }
}

TEST(conv_strided_views_and_default_options) {
    /* a transposed (non-contiguous) input gives the same result as its copy */
    em_tensor *x = tensor_of(EM_F64, 4, SH(1, 2, 4, 5), NULL), *w = tensor_of(EM_F64, 4, SH(3, 2, 2, 2), NULL);
    em_tensor *xt = NULL, *xc = NULL, *r1 = NULL, *r2 = NULL;
    CHECK_OK(em_tensor_transpose(x, 2, 3, &xt));
    CHECK_OK(em_tensor_clone(xt, &xc));
    CHECK_OK(em_conv(xt, w, NULL, NULL, &r1));
    CHECK_OK(em_conv(xc, w, NULL, NULL, &r2));
    CHECK(r1 && r2 && em_tensor_numel(r1) == 3 * 4 * 3);
    for (int64_t k = 0; r1 && r2 && k < em_tensor_numel(r1); k++) CHECK(value_at(r1, k) == value_at(r2, k));
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(xt), em_tensor_free(xc), em_tensor_free(r1),
        em_tensor_free(r2);
    CHECK(em_conv_output_size(7, 3, 2, 1, 1) == 4);
    CHECK(em_conv_output_size(7, 3, 1, 0, 2) == 3);
}

/* Results of every conv entry point for threads = 1, 2, 3 must be bit-identical. */
static em_tensor *run_all(int which, const geo *g, em_tensor *x, em_tensor *w, em_tensor *b, em_tensor *gy) {
    int nd = nd_of(g);
    int64_t xs[4], ws[4], os[4];
    shapes(g, xs, ws, os);
    em_conv_options o = opts_of(g);
    em_tensor *r = NULL;
    switch (which) {
    case 0: CHECK_OK(em_conv(x, w, b, &o, &r)); break;
    case 1: CHECK_OK(em_conv_grad_input(gy, w, nd, xs, &o, &r)); break;
    case 2: CHECK_OK(em_conv_grad_weight(gy, x, nd, ws, &o, &r)); break;
    default: CHECK_OK(em_conv_grad_bias(gy, &r)); break;
    }
    return r;
}

/* Results of the first nwhich of run_all's ops (conv, grad_input, grad_weight,
 * grad_bias) on seeded data are bit-identical on 1, 2 and 3 threads. */
static void check_same_bits_across_threads(const geo *g, em_dtype dt, int nwhich) {
    int nd = nd_of(g);
    int64_t xs[4], ws[4], os[4];
    shapes(g, xs, ws, os);
    double *xv = vals(5, em__numel(nd, xs)), *wv = vals(6, em__numel(nd, ws)), *bv = vals(7, g->O);
    double *gv = vals(8, em__numel(nd, os));
    em_tensor *x = tensor_of(dt, nd, xs, xv), *w = tensor_of(dt, nd, ws, wv), *b = tensor_of(dt, 1, &g->O, bv);
    em_tensor *gy = tensor_of(dt, nd, os, gv);
    for (int which = 0; which < nwhich; which++) {
        CHECK_OK(em_set_num_threads(1));
        em_tensor *ref = run_all(which, g, x, w, b, gy);
        for (int nt = 2; nt <= 3; nt++) {
            CHECK_OK(em_set_num_threads(nt));
            em_tensor *r = run_all(which, g, x, w, b, gy);
            CHECK(r && ref && em_tensor_numel(r) == em_tensor_numel(ref) &&
                  !memcmp(em_tensor_data(r), em_tensor_data(ref), (size_t)em_tensor_numel(r) * em_dtype_size(dt)));
            em_tensor_free(r);
        }
        em_tensor_free(ref);
    }
    CHECK_OK(em_set_num_threads(0));
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(b), em_tensor_free(gy);
    free(xv), free(wv), free(bv), free(gv);
}

TEST(conv_bit_identical_across_thread_counts) {
    static const geo tg[] = {{9, 4, 7, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2},
                             {8, 6, 6, 9, 6, 3, 3, 1, 2, 1, 1, 1, 1, 6},
                             {5, 8, 5, 5, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1}};
    for (size_t c = 0; c < 3; c++)
        for (int dti = 0; dti < 2; dti++) check_same_bits_across_threads(&tg[c], dti ? EM_F64 : EM_F32, 4);
}

/* The direct stride-1 route on both SIMD kernel sets: values against the
 * naive reference and bits across 1, 2 and 3 threads. */
TEST(conv_direct_both_isas_and_threads) {
    static const geo dg[] = {{2, 5, 16, 30, 27, 3, 3, 1, 1, 1, 1, 1, 1, 1},
                             {3, 6, 11, 33, 14, 3, 3, 1, 1, 1, 1, 2, 1, 2},
                             {1, 130, 9, 30, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1}};
    int isas[2] = {EM__GEMM_AVX2, EM__GEMM_AVX512};
    for (int ii = 0; ii < 2; ii++) {
        if (em__gemm_set_isa(isas[ii]) != EM_OK) continue; /* the CPU lacks it */
        for (size_t c = 0; c < sizeof dg / sizeof dg[0]; c++) {
            int before = test_failures;
            check_case(&dg[c], EM_F32);
            check_same_bits_across_threads(&dg[c], EM_F32, 2);
            if (test_failures != before) fprintf(stderr, "  in isa %d case %zu\n", isas[ii], c);
        }
    }
    em__gemm_set_isa(-1);
}

/* The direct micro-kernels alone: every row count, segments that split the
 * tile (masked lanes), the first/bias and accumulate store steps. */
TEST(conv_direct_kernels_match_naive) {
    const em__conv_direct_kset *ks[2] = {em__gemm_set_isa(EM__GEMM_AVX2) == EM_OK ? em__conv_direct_avx2() : NULL,
                                         em__gemm_set_isa(EM__GEMM_AVX512) == EM_OK ? em__conv_direct_avx512() : NULL};
    em__gemm_set_isa(-1);
    for (int v = 0; v < 2; v++) {
        const em__conv_direct_kset *k = ks[v];
        if (!k) continue;
        enum { KC = 13, LDC = 80, BN = 400 };
        int64_t off[KC];
        float a[KC * 12], b[BN], bias[12], c[12 * LDC], want[12 * LDC];
        for (int i = 0; i < KC * 12; i++) a[i] = (float)rnd(21, i);
        for (int i = 0; i < BN; i++) b[i] = (float)rnd(22, i);
        for (int i = 0; i < 12; i++) bias[i] = (float)rnd(23, i);
        for (int kk = 0; kk < KC; kk++) off[kk] = 4 * ((kk * 37) % (BN - 2 * k->nr)); /* any order, any offset */
        int nr = k->nr;
        /* lanes [1, 4) -> column 70, [4, nr - 2) -> column 0, lane nr - 1 -> column 40 */
        em__cdseg sg[3] = {{1, 3, 70}, {4, nr - 6, 0}, {nr - 1, 1, 40}};
        for (int mr = 1; mr <= k->mr; mr++)
            for (int mode = 0; mode < 3; mode++) { /* first + bias, first, accumulate */
                for (int i = 0; i < 12 * LDC; i++) c[i] = want[i] = (float)rnd(24, i);
                for (int r = 0; r < mr; r++)
                    for (int s = 0; s < 3; s++)
                        for (int l = sg[s].lane; l < sg[s].lane + sg[s].len; l++) {
                            double acc = 0;
                            for (int kk = 0; kk < KC; kk++) acc += (double)a[kk * k->mr + r] * b[off[kk] / 4 + l];
                            float *w = &want[r * LDC + sg[s].dst + l - sg[s].lane];
                            *w = (float)(mode == 0 ? acc + bias[r] : mode == 1 ? acc : acc + *w);
                        }
                k->ukr(KC, a, off, b, mr, c, LDC, sg, 3, mode < 2, mode == 0 ? bias : NULL);
                for (int i = 0; i < 12 * LDC; i++)
                    if (!(fabsf(c[i] - want[i]) <= 1e-5f * (1 + fabsf(want[i])))) {
                        CHECK(false);
                        fprintf(stderr, "  kernel %d mr %d mode %d element %d: %g, wanted %g\n", v, mr, mode, i,
                                c[i], want[i]);
                        break;
                    }
            }
    }
}

TEST(conv_row_kernels_portable_and_avx2_agree) {
    const em__conv_rowops *p = em__conv_rowops_portable(), *a = em__conv_rowops_avx2();
    const em__conv_rowops *act = em__conv_rowops_active();
    CHECK(act == p || act == a);
    const em__conv_rowops *vs[2] = {p, a};
    for (int v = 0; v < 2; v++) {
        if (!vs[v]) continue; /* CPU without AVX2: the portable path is the only one */
        for (int64_t n = 0; n <= 21; n++) {
            float xf[24], yf[24], y0[24];
            double xd[24], yd[24], d0[24];
            double dref = 0, fref = 0;
            for (int64_t i = 0; i < 24; i++) {
                xd[i] = rnd(11, i), yd[i] = d0[i] = rnd(12, i);
                xf[i] = (float)xd[i], yf[i] = y0[i] = (float)yd[i];
            }
            for (int64_t i = 0; i < n; i++) dref += xd[i] * yd[i], fref += (double)xf[i] * yf[i];
            CHECK_NEAR(vs[v]->dot_f64(n, xd, yd), dref, 1e-13);
            CHECK_NEAR(vs[v]->dot_f32(n, xf, yf), fref, 1e-5);
            vs[v]->axpy_f64(n, 0.75, xd, yd);
            vs[v]->axpy_f32(n, 0.75f, xf, yf);
            for (int64_t i = 0; i < 24; i++) {
                CHECK_NEAR(yd[i], i < n ? d0[i] + 0.75 * xd[i] : d0[i], 1e-14);
                CHECK_NEAR(yf[i], i < n ? y0[i] + 0.75f * xf[i] : y0[i], 1e-6);
            }
        }
    }
}

static em_status oom_conv_all(void) {
    static const geo gs[] = {{2, 4, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2}, {2, 4, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4}};
    em_status st = EM_OK;
    for (int c = 0; c < 2 && !st; c++) {
        const geo *g = &gs[c];
        int64_t xs[4], ws[4], os[4];
        shapes(g, xs, ws, os);
        em_conv_options o = opts_of(g);
        em_tensor *x = NULL, *w = NULL, *gy = NULL, *xt = NULL, *r = NULL;
        st = em_tensor_ones(EM_F32, 4, xs, &x);
        if (!st) st = em_tensor_ones(EM_F32, 4, ws, &w);
        if (!st) st = em_tensor_ones(EM_F32, 4, os, &gy);
        if (!st) st = em_tensor_transpose(x, 2, 3, &xt); /* forces a contiguous copy inside */
        if (!st) st = em_conv(xt, w, NULL, &o, &r);
        em_tensor_free(r), r = NULL;
        if (!st) st = em_conv_grad_input(gy, w, 4, xs, &o, &r);
        em_tensor_free(r), r = NULL;
        if (!st) st = em_conv_grad_weight(gy, xt, 4, ws, &o, &r);
        em_tensor_free(r), r = NULL;
        if (!st) st = em_conv_grad_bias(gy, &r);
        em_tensor_free(r), r = NULL;
        em_tensor_free(x), em_tensor_free(w), em_tensor_free(gy), em_tensor_free(xt);
    }
    return st;
}

static em_status oom_pool_all(void) {
    em_tensor *x = NULL, *y = NULL, *ix = NULL, *g = NULL;
    em_pool_options o = em_pool_default_options();
    o.kernel[0] = o.kernel[1] = 2;
    int64_t xs[4] = {2, 3, 4, 4}, osz[2] = {3, 3};
    em_status st = em_tensor_ones(EM_F64, 4, xs, &x);
    if (!st) st = em_max_pool(x, &o, &y, &ix);
    if (!st) st = em_max_pool_backward(y, ix, 4, xs, &g);
    em_tensor_free(g), g = NULL;
    if (!st) st = em_avg_pool_backward(y, 4, xs, &o, &g);
    em_tensor_free(g), g = NULL;
    em_tensor_free(y), y = NULL;
    if (!st) st = em_adaptive_avg_pool(x, osz, &y);
    if (!st) st = em_adaptive_avg_pool_backward(y, 4, xs, &g);
    em_tensor_free(x), em_tensor_free(y), em_tensor_free(ix), em_tensor_free(g);
    return st;
}

TEST(conv_and_pool_out_of_memory) {
    CHECK_OK(em_set_num_threads(1));
    oom_sweep(oom_conv_all);
    oom_sweep(oom_pool_all);
    CHECK_OK(em_set_num_threads(0));
}

TEST(conv_bad_arguments) {
    em_tensor *x = NULL, *w = NULL, *xi = NULL, *wd = NULL, *b = NULL, *r = NULL, *gy = NULL;
    CHECK_OK(em_tensor_ones(EM_F32, 4, SH(2, 4, 5, 5), &x));
    CHECK_OK(em_tensor_ones(EM_F32, 4, SH(6, 2, 3, 3), &w));
    CHECK_OK(em_tensor_ones(EM_I32, 4, SH(2, 4, 5, 5), &xi));
    CHECK_OK(em_tensor_ones(EM_F64, 4, SH(6, 2, 3, 3), &wd));
    CHECK_OK(em_tensor_ones(EM_F32, 1, SH(5), &b));
    CHECK_OK(em_tensor_ones(EM_F32, 4, SH(2, 6, 3, 3), &gy));
    em_conv_options o = em_conv_default_options();
    CHECK_STATUS(em_conv(x, w, NULL, &o, &r), EM_ERR_SHAPE); /* 4 channels, weight wants 2 (groups 1) */
    CHECK(error_has("groups") && error_has("(6, 2, 3, 3)"));
    o.groups = 2;
    CHECK_STATUS(em_conv(xi, w, NULL, &o, &r), EM_ERR_DTYPE);
    CHECK(error_has("int32"));
    CHECK_STATUS(em_conv(x, wd, NULL, &o, &r), EM_ERR_DTYPE);
    CHECK_STATUS(em_conv(x, w, b, &o, &r), EM_ERR_SHAPE);
    CHECK(error_has("bias"));
    CHECK_STATUS(em_conv(x, w, NULL, NULL, &r), EM_ERR_SHAPE);
    CHECK_STATUS(em_conv(NULL, w, NULL, &o, &r), EM_ERR_INVALID_ARG);
    o.groups = 3;
    CHECK_STATUS(em_conv(x, w, NULL, &o, &r), EM_ERR_SHAPE);
    o.groups = 0;
    CHECK_STATUS(em_conv(x, w, NULL, &o, &r), EM_ERR_INVALID_ARG);
    o.groups = 2, o.stride[1] = 0;
    CHECK_STATUS(em_conv(x, w, NULL, &o, &r), EM_ERR_INVALID_ARG);
    CHECK(error_has("stride"));
    o.stride[1] = 1, o.padding[0] = -1;
    CHECK_STATUS(em_conv(x, w, NULL, &o, &r), EM_ERR_INVALID_ARG);
    o.padding[0] = 0, o.dilation[0] = 3; /* dilated kernel 7 > 5 */
    CHECK_STATUS(em_conv(x, w, NULL, &o, &r), EM_ERR_SHAPE);
    CHECK(error_has("dilated kernel size 7"));
    o.dilation[0] = 1;
    CHECK_STATUS(em_conv(w, x, NULL, &o, &r), EM_ERR_SHAPE);
    CHECK_STATUS(em_conv_grad_input(x, w, 4, SH(2, 4, 5, 5), &o, &r), EM_ERR_SHAPE); /* x is not a gout */
    CHECK(error_has("grad_output"));
    CHECK_STATUS(em_conv_grad_input(gy, w, 5, SH(2, 4, 5, 5, 1), &o, &r), EM_ERR_SHAPE);
    CHECK_STATUS(em_conv_grad_input(gy, w, 4, SH(2, 4, -5, 5), &o, &r), EM_ERR_SHAPE);
    CHECK_STATUS(em_conv_grad_weight(gy, x, 4, SH(6, 2, 3, 4), &o, &r), EM_ERR_SHAPE);
    CHECK_STATUS(em_conv_grad_weight(gy, xi, 4, SH(6, 2, 3, 3), &o, &r), EM_ERR_DTYPE);
    CHECK_STATUS(em_conv_grad_bias(b, &r), EM_ERR_SHAPE);
    CHECK(r == NULL);
    CHECK_OK(em_conv_grad_input(gy, w, 4, SH(2, 4, 5, 5), &o, &r));
    em_tensor_free(r);
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(xi), em_tensor_free(wd), em_tensor_free(b),
        em_tensor_free(gy);
}

/* ---- pooling ---------------------------------------------------------- */

typedef struct {
    int64_t H, W, kh, kw, sh, sw, ph, pw, dh, dw;
    bool ceil, incl;
    int64_t div;
} pgeo;

static int64_t pout(int64_t in, int64_t k, int64_t p, int64_t s, int64_t d, bool c) {
    int64_t num = in + 2 * p - d * (k - 1) - 1, o = (c ? (num + s - 1) / s : num / s) + 1;
    if (c && (o - 1) * s >= in + p) o--;
    return o;
}

TEST(pool_matches_naive_reference) {
    static const pgeo ps[] = {{5, 6, 2, 2, 2, 2, 0, 0, 1, 1, false, true, 0},
                              {7, 5, 3, 3, 2, 2, 1, 1, 1, 1, true, true, 0},
                              {7, 5, 3, 3, 2, 2, 1, 1, 1, 1, true, false, 0},
                              {6, 7, 3, 2, 1, 2, 1, 1, 2, 1, false, true, 3},
                              {1, 9, 1, 4, 1, 3, 0, 2, 1, 2, true, false, 0}};
    for (size_t ci = 0; ci < 5; ci++)
        for (int dti = 0; dti < 2; dti++) {
            const pgeo *p = &ps[ci];
            em_dtype dt = dti ? EM_F64 : EM_F32;
            int64_t OH = pout(p->H, p->kh, p->ph, p->sh, p->dh, p->ceil), OW = pout(p->W, p->kw, p->pw, p->sw, p->dw, p->ceil);
            int64_t xs[4] = {2, 3, p->H, p->W}, os[4] = {2, 3, OH, OW}, np = 6, P = OH * OW, HW = p->H * p->W;
            double *x = vals(20, np * HW), *gy = vals(21, np * P);
            x[5] = x[7]; /* a tie */
            double *mx = malloc(sizeof(double) * np * P), *av = malloc(sizeof(double) * np * P);
            double *gmx = calloc((size_t)(np * HW), sizeof(double)), *gav = calloc((size_t)(np * HW), sizeof(double));
            int64_t *mi = malloc(sizeof(int64_t) * np * P);
            for (int64_t pl = 0; pl < np; pl++)
                for (int64_t oh = 0; oh < OH; oh++)
                    for (int64_t ow = 0; ow < OW; ow++) {
                        double m = -INFINITY, s = 0;
                        int64_t bi = -1, cnt = 0;
                        for (int64_t i = 0; i < p->kh; i++)
                            for (int64_t j = 0; j < p->kw; j++) {
                                int64_t ih = oh * p->sh - p->ph + i * p->dh, iw = ow * p->sw - p->pw + j * p->dw;
                                if (ih < 0 || ih >= p->H || iw < 0 || iw >= p->W) continue;
                                double v = x[pl * HW + ih * p->W + iw];
                                if (v > m || bi < 0) m = v, bi = ih * p->W + iw;
                            }
                        int64_t h0 = oh * p->sh - p->ph, w0 = ow * p->sw - p->pw;
                        int64_t h1 = h0 + p->kh < p->H + p->ph ? h0 + p->kh : p->H + p->ph;
                        int64_t w1 = w0 + p->kw < p->W + p->pw ? w0 + p->kw : p->W + p->pw;
                        int64_t full = (h1 - h0) * (w1 - w0);
                        for (int64_t ih = h0; ih < h1; ih++)
                            for (int64_t iw = w0; iw < w1; iw++)
                                if (ih >= 0 && ih < p->H && iw >= 0 && iw < p->W) s += x[pl * HW + ih * p->W + iw], cnt++;
                        double dv = p->div ? (double)p->div : p->incl ? (double)full : (double)cnt;
                        int64_t k = pl * P + oh * OW + ow;
                        mx[k] = m, mi[k] = bi, av[k] = s / dv;
                        gmx[pl * HW + bi] += gy[k];
                        for (int64_t ih = h0; ih < h1; ih++)
                            for (int64_t iw = w0; iw < w1; iw++)
                                if (ih >= 0 && ih < p->H && iw >= 0 && iw < p->W) gav[pl * HW + ih * p->W + iw] += gy[k] / dv;
                    }
            em_pool_options o = em_pool_default_options();
            o.kernel[0] = p->kh, o.kernel[1] = p->kw, o.stride[0] = p->sh, o.stride[1] = p->sw;
            o.padding[0] = p->ph, o.padding[1] = p->pw, o.dilation[0] = p->dh, o.dilation[1] = p->dw;
            o.ceil_mode = p->ceil, o.count_include_pad = p->incl, o.divisor_override = p->div;
            double tol = dt == EM_F32 ? 1e-5 : 1e-13;
            em_tensor *tx = tensor_of(dt, 4, xs, x), *tg = tensor_of(dt, 4, os, gy), *y = NULL, *ix = NULL, *r = NULL;
            CHECK_OK(em_max_pool(tx, &o, &y, &ix));
            CHECK(y && close_to(y, mx, np * P, tol));
            for (int64_t k = 0; ix && k < np * P; k++) CHECK(int_at(ix, k) == mi[k]);
            CHECK_OK(em_max_pool_backward(tg, ix, 4, xs, &r));
            CHECK(r && close_to(r, gmx, np * HW, tol));
            em_tensor_free(y), em_tensor_free(ix), em_tensor_free(r), r = NULL;
            if (p->dh == 1 && p->dw == 1) {
                CHECK_OK(em_avg_pool(tx, &o, &y));
                CHECK(y && close_to(y, av, np * P, tol));
                em_tensor_free(y);
                CHECK_OK(em_avg_pool_backward(tg, 4, xs, &o, &r));
                CHECK(r && close_to(r, gav, np * HW, tol));
                em_tensor_free(r);
            }
            em_tensor_free(tx), em_tensor_free(tg);
            free(x), free(gy), free(mx), free(av), free(gmx), free(gav), free(mi);
            if (test_failures) fprintf(stderr, "  in pool case %zu\n", ci);
        }
}

TEST(pool_adaptive_and_1d) {
    /* 1 x 1 x 5 x 7 -> 3 x 4: rows [0,2) [1,4) [3,5), columns [0,2) [1,4) [3,6) [5,7) */
    em_tensor *x = tensor_of(EM_F64, 4, SH(1, 1, 5, 7), NULL), *y = NULL, *g = NULL;
    CHECK_OK(em_adaptive_avg_pool(x, SH(3, 4), &y));
    double want[12];
    int64_t hs[3][2] = {{0, 2}, {1, 4}, {3, 5}}, ws[4][2] = {{0, 2}, {1, 4}, {3, 6}, {5, 7}};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            double s = 0;
            for (int64_t h = hs[i][0]; h < hs[i][1]; h++)
                for (int64_t w = ws[j][0]; w < ws[j][1]; w++) s += (double)(h * 7 + w);
            want[i * 4 + j] = s / (double)((hs[i][1] - hs[i][0]) * (ws[j][1] - ws[j][0]));
        }
    CHECK(y && close_to(y, want, 12, 1e-14));
    CHECK_OK(em_adaptive_avg_pool_backward(y, 4, SH(1, 1, 5, 7), &g));
    CHECK(g && em_tensor_numel(g) == 35);
    em_tensor_free(x), em_tensor_free(y), em_tensor_free(g), y = NULL;
    /* 1-D max pool: (1, 1, 6), kernel 2 stride 2 -> max of pairs, indices along L */
    x = tensor_of(EM_F32, 3, SH(1, 1, 6), V(1, 5, 2, 2, 7, -1));
    em_tensor *ix = NULL;
    em_pool_options o = em_pool_default_options();
    o.kernel[0] = 2;
    CHECK_OK(em_max_pool(x, &o, &y, &ix));
    CHECK(y && tensor_values_are(y, 3, SH(1, 1, 3), V(5, 2, 7)));
    CHECK(ix && tensor_values_are(ix, 3, SH(1, 1, 3), V(1, 2, 4)));
    em_tensor_free(y), y = NULL;
    CHECK_OK(em_avg_pool(x, &o, &y));
    CHECK(y && tensor_values_are(y, 3, SH(1, 1, 3), V(3, 2, 3)));
    em_tensor_free(x), em_tensor_free(y), em_tensor_free(ix);
}

TEST(pool_bad_arguments) {
    em_tensor *x = NULL, *xi = NULL, *y = NULL, *ix = NULL, *g = NULL;
    CHECK_OK(em_tensor_ones(EM_F32, 4, SH(1, 2, 4, 4), &x));
    CHECK_OK(em_tensor_ones(EM_I64, 4, SH(1, 2, 4, 4), &xi));
    em_pool_options o = em_pool_default_options();
    CHECK_STATUS(em_max_pool(x, &o, &y, NULL), EM_ERR_INVALID_ARG); /* kernel 0 */
    CHECK(error_has("kernel_size"));
    o.kernel[0] = o.kernel[1] = 2;
    o.padding[0] = 2;
    CHECK_STATUS(em_max_pool(x, &o, &y, NULL), EM_ERR_INVALID_ARG);
    CHECK(error_has("half"));
    o.padding[0] = 0;
    CHECK_STATUS(em_max_pool(xi, &o, &y, NULL), EM_ERR_DTYPE);
    CHECK_STATUS(em_max_pool(x, NULL, &y, NULL), EM_ERR_INVALID_ARG);
    o.kernel[0] = 5;
    CHECK_STATUS(em_avg_pool(x, &o, &y), EM_ERR_SHAPE);
    o.kernel[0] = 2, o.dilation[0] = 2;
    CHECK_STATUS(em_avg_pool(x, &o, &y), EM_ERR_INVALID_ARG);
    o.dilation[0] = 1;
    CHECK_STATUS(em_adaptive_avg_pool(x, SH(0, 2), &y), EM_ERR_INVALID_ARG);
    CHECK_OK(em_max_pool(x, &o, &y, &ix));
    CHECK_STATUS(em_max_pool_backward(y, ix, 4, SH(1, 2, 5, 5), &g), EM_OK); /* indices carry the windows */
    em_tensor_free(g), g = NULL;
    CHECK_STATUS(em_max_pool_backward(y, y, 4, SH(1, 2, 4, 4), &g), EM_ERR_SHAPE); /* float indices */
    CHECK_OK(em_tensor_set(ix, SH(0, 1, 1, 1), 99));
    CHECK_STATUS(em_max_pool_backward(y, ix, 4, SH(1, 2, 4, 4), &g), EM_ERR_INDEX);
    CHECK(g == NULL && error_has("indices"));
    CHECK_STATUS(em_avg_pool_backward(x, 4, SH(1, 2, 4, 4), &o, &g), EM_ERR_SHAPE);
    em_tensor_free(x), em_tensor_free(xi), em_tensor_free(y), em_tensor_free(ix);
}

/* ---- depthwise plane kernels (kernels/conv_dw.h) ------------------------ */

/* Depthwise geometries for every plane-kernel variant: strips of 1-4
 * vectors with tails (W up to 70: AVX-512 strips of 64 + 6), padding 0, 1
 * and above k-1 (grad_input then gathers with a negative padding), 5x5,
 * dilation, stride along H only (grad_input keeps the row primitives),
 * stride along W (all keep them), multiplier 2, 1-D, and kw > DW_KW_MAX. */
static const geo dw_cases[] = {
    {2, 3, 9, 56, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3},   /* the benchmark's shape, small */
    {1, 2, 5, 70, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2},   /* 4-vector strip + a tail strip */
    {1, 2, 6, 13, 2, 3, 3, 1, 1, 0, 0, 1, 1, 2},   /* no padding */
    {1, 2, 5, 9, 2, 3, 3, 1, 1, 3, 3, 1, 1, 2},    /* padding > k-1 */
    {2, 2, 11, 37, 2, 5, 5, 1, 1, 2, 2, 1, 1, 2},  /* 5x5 */
    {1, 3, 12, 33, 3, 3, 3, 1, 1, 2, 2, 2, 2, 3},  /* dilation 2 */
    {1, 2, 9, 21, 2, 3, 3, 2, 1, 1, 1, 1, 1, 2},   /* stride 2 along H */
    {1, 2, 9, 21, 2, 3, 3, 2, 2, 1, 1, 1, 1, 2},   /* stride 2 along both */
    {2, 3, 7, 17, 6, 3, 3, 1, 1, 1, 1, 1, 1, 3},   /* multiplier 2 */
    {2, 2, 0, 40, 2, 1, 7, 1, 1, 3, 3, 1, 1, 2},   /* 1-D */
    {1, 2, 3, 40, 2, 1, 17, 1, 1, 8, 8, 1, 1, 2},  /* kw 17 > DW_KW_MAX */
    {1, 2, 4, 3, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2},    /* plane narrower than a vector */
};

TEST(conv_depthwise_plane_kernels_every_variant) {
    for (int v = 0; v <= 2; v++) {
        if (em__dw_simd_force(v) != EM_OK) continue; /* the CPU lacks this variant */
        for (size_t i = 0; i < sizeof dw_cases / sizeof dw_cases[0]; i++) {
            int before = test_failures;
            check_case(&dw_cases[i], EM_F64);
            check_case(&dw_cases[i], EM_F32);
            if (test_failures != before) fprintf(stderr, "  in depthwise case %zu, variant %d\n", i, v);
        }
    }
    CHECK_OK(em__dw_simd_force(-1));
    CHECK_STATUS(em__dw_simd_force(3), EM_ERR_INVALID_ARG);
}

/* The forward and grad_input kernels of AVX2 and AVX-512 add the same taps
 * in the same order with one FMA each: the same bits.  A tap outside the
 * input is skipped, not multiplied by zero, so an infinite weight on a tap
 * that leaves the input does not turn the border into NaN. */
TEST(conv_depthwise_avx2_avx512_same_bits_and_skipped_taps) {
    const geo g = {2, 3, 7, 41, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3};
    int64_t xs[4], ws[4], os[4];
    shapes(&g, xs, ws, os);
    for (int dti = 0; dti < 2; dti++) {
        em_dtype dt = dti ? EM_F64 : EM_F32;
        double *xv = vals(21, em__numel(4, xs)), *wv = vals(22, em__numel(4, ws)), *gv = vals(23, em__numel(4, os));
        wv[0] = INFINITY; /* channel 0, tap (0, 0): outside on output row 0 and column 0 */
        em_tensor *x = tensor_of(dt, 4, xs, xv), *w = tensor_of(dt, 4, ws, wv), *gy = tensor_of(dt, 4, os, gv);
        em_conv_options o = opts_of(&g);
        em_tensor *r[3][2] = {{NULL}};
        for (int v = 0; v <= 2; v++) {
            if (em__dw_simd_force(v) != EM_OK) continue;
            CHECK_OK(em_conv(x, w, NULL, &o, &r[v][0]));
            CHECK_OK(em_conv_grad_input(gy, w, 4, xs, &o, &r[v][1]));
            /* row 0 and column 0 of channel 0 never use tap (0, 0): finite */
            for (int64_t q = 0; r[v][0] && q < g.W; q++) CHECK(isfinite(value_at(r[v][0], q)));
            for (int64_t h = 0; r[v][0] && h < g.H; h++) CHECK(isfinite(value_at(r[v][0], h * g.W)));
            CHECK(r[v][0] && isinf(value_at(r[v][0], g.W + 1)));
        }
        CHECK_OK(em__dw_simd_force(-1));
        for (int k = 0; k < 2; k++)
            if (r[1][k] && r[2][k])
                CHECK(!memcmp(em_tensor_data(r[1][k]), em_tensor_data(r[2][k]),
                              (size_t)em_tensor_numel(r[1][k]) * em__dsize(dt)));
        for (int v = 0; v <= 2; v++) em_tensor_free(r[v][0]), em_tensor_free(r[v][1]);
        em_tensor_free(x), em_tensor_free(w), em_tensor_free(gy);
        free(xv), free(wv), free(gv);
    }
}
