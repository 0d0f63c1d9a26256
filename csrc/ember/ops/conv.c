/* Convolution (1-D and 2-D, NCL / NCHW) forward and gradients: see
 * include/ember/conv.h for the contracts and docs/kernels.md for the design.
 *
 * With an AVX2 or AVX-512 GEMM kernel set, convolutions other than depthwise
 * and 1x1 stride-1 ones run as an implicit GEMM (kernels/conv_igemm.c: the
 * micro-kernels fed straight from the padded image, no im2col matrix), and
 * grad_input of a stride-1 one is the forward convolution with the flipped,
 * in/out-swapped kernel (no col2im); float32 grad_weight with the AVX-512 set
 * (groups 1, no dilation, kernels over 1x1) runs the direct route of
 * kernels/conv_gwdirect.c instead.  Otherwise (portable kernels):
 * per block of images (plan_blocks) and group the forward pass is one GEMM
 *   y[g] (Og x nb*P) = w[g] (Og x R) @ col (R x nb*P),   R = Cg*kh*kw, P = OH*OW,
 * where col is im2col of the block's images side by side (skipped for 1x1
 * stride-1 unpadded kernels: the input planes are col).  grad_input is col = w^T @ gy then
 * col2im; grad_weight is gy @ col^T summed over the batch.  Depthwise
 * convolutions use direct kernels (kernels/conv_depthwise.c).
 *
 * Threads: (block, group) items run on the pool, each thread with its own
 * scratch slice planned up front; with fewer items than threads they run on
 * the caller, so the GEMM can use the pool itself.  grad_weight sums the
 * batch in CONV_WCHUNKS fixed chunks (fixed by N alone) added in order. */
#include "../autograd/ag.h"
#include "../base/threadpool.h"
#include "../kernels/conv_kernels.h"
#include "../kernels/gemm.h"

#include <stdio.h>

#define CONV_WCHUNKS 6 /* divides evenly over 1, 2 and 3 threads */
/* 1x1 grad_input chunks (plan_pointwise_bwd_x) */
#define PW_COLS 256
#define PW_SKEW 16
#define PW_DIRECT_BYTES (512 * 1024) /* kernels/gemm.c: B_DIRECT_BYTES */

em_conv_options em_conv_default_options(void) {
    em_conv_options o = {{1, 1}, {0, 0}, {1, 1}, 1};
    return o;
}

int64_t em_conv_output_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
    if (stride < 1) return 0;
    int64_t span = in + 2 * pad - dil * (k - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
}

static const char *op_name(int ndim, const char *suffix, char *buf) {
    snprintf(buf, 48, "conv%dd%s", ndim == 3 ? 1 : 2, suffix);
    return buf;
}

/* Checks the input and weight shapes and the options; fills g. */
static em_status make_geom(const char *op, int xnd, const int64_t *xs, int wnd, const int64_t *ws,
                           const em_conv_options *o, em__conv_geom *g) {
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    if (xnd != 3 && xnd != 4)
        return em__error(EM_ERR_SHAPE, "%s: input must be 3-D (N, C, L) or 4-D (N, C, H, W), got %s", op,
                         em__shape_str(xnd, xs, b1));
    if (wnd != xnd)
        return em__error(EM_ERR_SHAPE, "%s: weight %s must have %d dims like the input %s", op,
                         em__shape_str(wnd, ws, b1), xnd, em__shape_str(xnd, xs, b2));
    EM_TRY(em__check_shape(op, xnd, xs));
    EM_TRY(em__check_shape(op, wnd, ws));
    int sp = xnd - 2;
    for (int d = 0; d < sp; d++) {
        if (o->stride[d] < 1 || o->padding[d] < 0 || o->dilation[d] < 1)
            return em__error(EM_ERR_INVALID_ARG,
                             "%s: stride (%lld) and dilation (%lld) must be >= 1 and padding (%lld) >= 0 on spatial axis %d",
                             op, (long long)o->stride[d], (long long)o->dilation[d], (long long)o->padding[d], d);
        if (o->padding[d] > ((int64_t)1 << 40) || o->dilation[d] > ((int64_t)1 << 40))
            return em__error(EM_ERR_INVALID_ARG, "%s: padding or dilation too large on spatial axis %d", op, d);
    }
    int64_t G = o->groups;
    if (G < 1) return em__error(EM_ERR_INVALID_ARG, "%s: groups must be >= 1, got %lld", op, (long long)G);
    if (xs[1] % G || ws[0] % G || ws[1] * G != xs[1])
        return em__error(EM_ERR_SHAPE,
                         "%s: with groups=%lld, input channels (input %s) and output channels (weight %s) must "
                         "be divisible by groups and weight.shape[1] * groups must equal the input channels",
                         op, (long long)G, em__shape_str(xnd, xs, b1), em__shape_str(wnd, ws, b2));
    if (ws[1] < 1)
        return em__error(EM_ERR_SHAPE, "%s: weight %s has no input channels", op, em__shape_str(wnd, ws, b1));
    *g = (em__conv_geom){.N = xs[0], .C = xs[1], .H = 1, .W = xs[xnd - 1], .O = ws[0], .kh = 1,
                         .kw = ws[wnd - 1], .sh = 1, .ph = 0, .dh = 1, .groups = G};
    g->sw = o->stride[sp - 1], g->pw = o->padding[sp - 1], g->dw = o->dilation[sp - 1];
    if (sp == 2) {
        g->H = xs[2], g->kh = ws[2];
        g->sh = o->stride[0], g->ph = o->padding[0], g->dh = o->dilation[0];
    }
    int64_t in[2] = {g->H, g->W}, k[2] = {g->kh, g->kw}, pad[2] = {g->ph, g->pw}, dil[2] = {g->dh, g->dw};
    for (int d = 2 - sp; d < 2; d++) {
        if (k[d] < 1)
            return em__error(EM_ERR_SHAPE, "%s: weight %s has an empty kernel", op, em__shape_str(wnd, ws, b1));
        if (dil[d] * (k[d] - 1) + 1 > in[d] + 2 * pad[d])
            return em__error(EM_ERR_SHAPE,
                             "%s: dilated kernel size %lld on spatial axis %d is larger than the padded input "
                             "size %lld (input %s, weight %s)",
                             op, (long long)(dil[d] * (k[d] - 1) + 1), d - (2 - sp), (long long)(in[d] + 2 * pad[d]),
                             em__shape_str(xnd, xs, b1), em__shape_str(wnd, ws, b2));
    }
    g->OH = em_conv_output_size(g->H, g->kh, g->sh, g->ph, g->dh);
    g->OW = em_conv_output_size(g->W, g->kw, g->sw, g->pw, g->dw);
    return EM_OK;
}

static int out_shape(const em__conv_geom *g, int nd, int64_t *s) {
    s[0] = g->N, s[1] = g->O;
    if (nd == 4) s[2] = g->OH;
    s[nd - 1] = g->OW;
    return nd;
}

static em_status check_float(const char *op, const char *what, const em_tensor *t, em_dtype want) {
    char b[EM_DESC_LEN];
    if (!t) return em__error(EM_ERR_INVALID_ARG, "%s: %s is NULL", op, what);
    if (t->dtype != EM_F32 && t->dtype != EM_F64)
        return em__error(EM_ERR_DTYPE, "%s: %s %s must be float32 or float64", op, what, em__desc(t, b));
    if ((int)want >= 0 && t->dtype != want)
        return em__error(EM_ERR_DTYPE, "%s: %s %s must have the input's dtype %s", op, what, em__desc(t, b),
                         em_dtype_name(want));
    return EM_OK;
}

static bool is_pointwise(const em__conv_geom *g) {
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}
static bool is_depthwise(const em__conv_geom *g) { return g->groups == g->C && g->C > 1; }

/* The implicit GEMM (kernels/conv_igemm.c) needs a SIMD GEMM kernel set;
 * depthwise convolutions keep their direct kernels, 1x1 stride-1 unpadded
 * ones their plain GEMM on the input planes, and weights without output
 * channels the im2col route (nothing to tile). */
static bool use_igemm(const em__conv_geom *g) {
    return g->O > 0 && !is_depthwise(g) && !is_pointwise(g) && em__conv_igemm_ok();
}

typedef struct conv_ctx {
    const em__conv_geom *g;
    const void *a, *b, *bias; /* the two operands (x or gy, w or x) and the bias */
    void *y;
    void *scratch;            /* per-thread slices: im2col (R x nb*P), then gy/y (Og x nb*P) */
    int64_t slice;            /* elements per slice */
    int64_t nb;               /* images per block (image_block) */
    int64_t nchunks;          /* grad_weight */
    int64_t pw_cols;          /* 1x1 grad_input: columns per chunk (scratch: Og x (pw_cols + PW_SKEW) per thread) */
    void *partials;           /* grad_weight: chunks 1.. */
    atomic_int failed;
} conv_ctx;

#define GEOM_VARS                                                                             \
    const em__conv_geom *g = c->g;                                                            \
    int64_t G = g->groups, Cg = g->C / G, Og = g->O / G, R = Cg * g->kh * g->kw;              \
    int64_t P = g->OH * g->OW, HW = g->H * g->W, kk = g->kh * g->kw;                          \
    (void)kk, (void)R, (void)Og, (void)HW, (void)P

#define DEF_CONV(S, T)                                                                                          \
    /* y[n, g] = w[g] @ im2col(x[n, g]) for the images of one block side by side */                          \
    static void fwd_##S(void *vc, int64_t b, int64_t e, int tid) {                                              \
        conv_ctx *c = vc;                                                                                       \
        GEOM_VARS;                                                                                              \
        const T *bias = c->bias;                                                                                \
        for (int64_t it = b; it < e; it++) {                                                                    \
            int64_t gi = it % G, n0 = it / G * c->nb, m = g->N - n0 < c->nb ? g->N - n0 : c->nb, cols = m * P;  \
            const T *w = (const T *)c->b + gi * Og * R;                                                         \
            if (!c->scratch) { /* 1x1: the input planes are col; one image per block */                        \
                T *y = (T *)c->y + (n0 * g->O + gi * Og) * P, beta = 0;                                         \
                if (bias) {                                                                                     \
                    for (int64_t o = 0; o < Og; o++)                                                            \
                        for (int64_t p = 0; p < P; p++) y[o * P + p] = bias[gi * Og + o];                       \
                    beta = 1;                                                                                   \
                }                                                                                               \
                const T *x = (const T *)c->a + (n0 * g->C + gi * Cg) * HW;                                      \
                if (em__gemm_##S(Og, P, R, 1, w, R, 1, x, P, 1, beta, y, P)) atomic_store(&c->failed, 1);       \
                continue;                                                                                       \
            }                                                                                                   \
            T *col = (T *)c->scratch + tid * c->slice, *tmp = col + R * c->nb * P;                              \
            for (int64_t k = 0; k < m; k++)                                                                     \
                em__im2col_##S(g, Cg, (const T *)c->a + ((n0 + k) * g->C + gi * Cg) * HW, col + k * P, cols);  \
            if (em__gemm_##S(Og, cols, R, 1, w, R, 1, col, cols, 1, 0, tmp, cols)) atomic_store(&c->failed, 1); \
            for (int64_t k = 0; k < m; k++)                                                                     \
                for (int64_t o = 0; o < Og; o++) {                                                              \
                    T *y = (T *)c->y + ((n0 + k) * g->O + gi * Og + o) * P;                                     \
                    const T *t = tmp + o * cols + k * P;                                                        \
                    if (bias)                                                                                   \
                        for (int64_t p = 0; p < P; p++) y[p] = t[p] + bias[gi * Og + o];                        \
                    else                                                                                        \
                        memcpy(y, t, (size_t)P * sizeof(T));                                                    \
                }                                                                                               \
        }                                                                                                       \
    }                                                                                                           \
    /* tmp (Og x m*P) = gy[n0..n0+m, group gi], the images side by side */                                    \
    static void gather_gy_##S(const conv_ctx *c, int64_t n0, int64_t m, int64_t gi, T *tmp) {                  \
        const em__conv_geom *g = c->g;                                                                          \
        int64_t Og = g->O / g->groups, P = g->OH * g->OW;                                                       \
        for (int64_t k = 0; k < m; k++)                                                                         \
            for (int64_t o = 0; o < Og; o++)                                                                    \
                memcpy(tmp + o * m * P + k * P, (const T *)c->a + ((n0 + k) * g->O + gi * Og + o) * P,          \
                       (size_t)P * sizeof(T));                                                                  \
    }                                                                                                           \
    static void dw_fwd_##S(void *vc, int64_t b, int64_t e, int tid) {                                           \
        conv_ctx *c = vc;                                                                                       \
        GEOM_VARS;                                                                                              \
        int64_t m = g->O / g->C;                                                                                \
        for (int64_t it = b; it < e; it++) {                                                                    \
            int64_t n = it / g->C, ch = it % g->C;                                                              \
            em__dwconv_fwd_##S(g, (const T *)c->a + it * HW, (const T *)c->b + ch * m * kk,                     \
                               c->bias ? (const T *)c->bias + ch * m : NULL, (T *)c->y + (n * g->O + ch * m) * P); \
        }                                                                                                       \
    }                                                                                                           \
    /* a = gy, b = w, y = gx: col = w[g]^T @ gy for a block of images, then col2im */                       \
    static void bwd_x_##S(void *vc, int64_t b, int64_t e, int tid) {                                            \
        conv_ctx *c = vc;                                                                                       \
        GEOM_VARS;                                                                                              \
        for (int64_t it = b; it < e; it++) {                                                                    \
            int64_t gi = it % G, n0 = it / G * c->nb, m = g->N - n0 < c->nb ? g->N - n0 : c->nb, cols = m * P;  \
            const T *w = (const T *)c->b + gi * Og * R;                                                         \
            if (is_pointwise(g)) {                                                                              \
                const T *gy = (const T *)c->a + (n0 * g->O + gi * Og) * P;                                      \
                T *gx = (T *)c->y + (n0 * g->C + gi * Cg) * HW;                                                 \
                if (!c->scratch) {                                                                              \
                    if (em__gemm_##S(Cg, P, Og, 1, w, 1, R, gy, P, 1, 0, gx, HW)) atomic_store(&c->failed, 1);  \
                    continue;                                                                                   \
                }                                                                                               \
                /* column chunks of gy copied row by row into a small buffer that the GEMM reads in place       \
                 * (see plan_pointwise_bwd_x) */                                                               \
                T *buf = (T *)c->scratch + tid * c->slice;                                                      \
                int64_t cw = c->pw_cols, ld = cw + PW_SKEW;                                                     \
                for (int64_t j = 0; j < P; j += cw) {                                                           \
                    int64_t nw = P - j < cw ? P - j : cw;                                                       \
                    for (int64_t o = 0; o < Og; o++) memcpy(buf + o * ld, gy + o * P + j, (size_t)nw * sizeof(T)); \
                    if (em__gemm_##S(Cg, nw, Og, 1, w, 1, R, buf, ld, 1, 0, gx + j, HW)) atomic_store(&c->failed, 1); \
                }                                                                                               \
                continue;                                                                                       \
            }                                                                                                   \
            T *col = (T *)c->scratch + tid * c->slice, *tmp = col + R * c->nb * P;                              \
            gather_gy_##S(c, n0, m, gi, tmp);                                                                   \
            if (em__gemm_##S(R, cols, Og, 1, w, 1, R, tmp, cols, 1, 0, col, cols)) atomic_store(&c->failed, 1); \
            for (int64_t k = 0; k < m; k++) {                                                                   \
                T *gx = (T *)c->y + ((n0 + k) * g->C + gi * Cg) * HW;                                           \
                memset(gx, 0, (size_t)(Cg * HW) * sizeof(T));                                                   \
                em__col2im_##S(g, Cg, col + k * P, cols, gx);                                                   \
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
    static void dw_bwd_x_##S(void *vc, int64_t b, int64_t e, int tid) {                                         \
        conv_ctx *c = vc;                                                                                       \
        GEOM_VARS;                                                                                              \
        int64_t m = g->O / g->C;                                                                                \
        for (int64_t it = b; it < e; it++) {                                                                    \
            int64_t n = it / g->C, ch = it % g->C;                                                              \
            em__dwconv_bwd_x_##S(g, (const T *)c->a + (n * g->O + ch * m) * P, (const T *)c->b + ch * m * kk,   \
                                 (T *)c->y + it * HW);                                                          \
        }                                                                                                       \
    }                                                                                                           \
    /* a = gy, b = x, y = gw; items are batch chunks, each summed block by block */                           \
    static void bwd_w_##S(void *vc, int64_t b, int64_t e, int tid) {                                            \
        conv_ctx *c = vc;                                                                                       \
        GEOM_VARS;                                                                                              \
        int64_t wsize = g->O * R;                                                                               \
        for (int64_t ch = b; ch < e; ch++) {                                                                    \
            T *dst = ch == 0 ? (T *)c->y : (T *)c->partials + (ch - 1) * wsize;                                \
            int64_t n0 = ch * g->N / c->nchunks, n1 = (ch + 1) * g->N / c->nchunks;                             \
            for (int64_t n = n0; n < n1; n += c->nb) {                                                          \
                int64_t m = n1 - n < c->nb ? n1 - n : c->nb, cols = m * P;                                      \
                for (int64_t gi = 0; gi < G; gi++) {                                                            \
                    const T *gy = (const T *)c->a + (n * g->O + gi * Og) * P;                                   \
                    const T *B = (const T *)c->b + (n * g->C + gi * Cg) * HW;                                   \
                    if (c->scratch) {                                                                           \
                        T *col = (T *)c->scratch + tid * c->slice, *tmp = col + R * c->nb * P;                  \
                        for (int64_t k = 0; k < m; k++)                                                         \
                            em__im2col_##S(g, Cg, B + k * g->C * HW, col + k * P, cols);                        \
                        gather_gy_##S(c, n, m, gi, tmp);                                                        \
                        gy = tmp, B = col;                                                                      \
                    }                                                                                           \
                    if (em__gemm_##S(Og, R, cols, 1, gy, cols, 1, B, 1, cols, n == n0 ? 0 : 1, dst + gi * Og * R, R)) \
                        atomic_store(&c->failed, 1);                                                            \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
    static void dw_bwd_w_##S(void *vc, int64_t b, int64_t e, int tid) {                                         \
        conv_ctx *c = vc;                                                                                       \
        GEOM_VARS;                                                                                              \
        int64_t m = g->O / g->C;                                                                                \
        for (int64_t ch = b; ch < e; ch++) {                                                                    \
            T *gw = (T *)c->y + ch * m * kk;                                                                    \
            memset(gw, 0, (size_t)(m * kk) * sizeof(T));                                                        \
            for (int64_t n = 0; n < g->N; n++)                                                                  \
                em__dwconv_bwd_w_##S(g, (const T *)c->a + (n * g->O + ch * m) * P,                              \
                                     (const T *)c->b + (n * g->C + ch) * HW, gw);                               \
        }                                                                                                       \
    }                                                                                                           \
    static void add_partials_##S(void *vc, int64_t b, int64_t e, int tid) {                                     \
        conv_ctx *c = vc;                                                                                       \
        const em__conv_geom *g = c->g;                                                                          \
        int64_t R = g->C / g->groups * g->kh * g->kw;                                                           \
        T *y = c->y;                                                                                            \
        const T *pp = c->partials;                                                                              \
        for (int64_t ch = 1; ch < c->nchunks; ch++)                                                             \
            for (int64_t i = b; i < e; i++) y[i] += pp[(ch - 1) * g->O * R + i];                                \
    }                                                                                                           \
    /* a = gy, y = gb; items are output channels */                                                             \
    static void bwd_b_##S(void *vc, int64_t b, int64_t e, int tid) {                                            \
        conv_ctx *c = vc;                                                                                       \
        const em__conv_geom *g = c->g;                                                                          \
        int64_t P = g->OH * g->OW;                                                                              \
        for (int64_t o = b; o < e; o++) {                                                                       \
            T acc = 0;                                                                                          \
            for (int64_t n = 0; n < g->N; n++) {                                                                \
                const T *x = (const T *)c->a + (n * g->O + o) * P;                                              \
                T lane[8] = {0};                                                                                \
                int64_t p = 0;                                                                                  \
                for (; p + 8 <= P; p += 8)                                                                      \
                    for (int l = 0; l < 8; l++) lane[l] += x[p + l];                                            \
                for (int l = 0; p < P; p++, l++) lane[l] += x[p];                                               \
                for (int w = 4; w > 0; w /= 2)                                                                  \
                    for (int l = 0; l < w; l++) lane[l] += lane[l + w];                                         \
                acc += lane[0];                                                                                 \
            }                                                                                                   \
            ((T *)c->y)[o] = acc;                                                                               \
        }                                                                                                       \
    }

DEF_CONV(f32, float)
DEF_CONV(f64, double)

/* Runs fn over n items: on the pool when every thread gets one, else on the
 * caller (tid 0), leaving the pool to the GEMM inside. */
static int plan_threads(int64_t items) {
    int nt = em__threads();
    return nt > 1 && items >= nt ? nt : 1;
}
static void run(int64_t items, int nt, em__range_fn fn, conv_ctx *c) {
    if (items <= 0) return;
    if (nt > 1)
        em__parallel_for(items, 1, nt, fn, c);
    else
        fn(c, 0, items, 0);
}

/* Contiguous version of t (new reference) or NULL. */
static em_status contig(const em_tensor *t, em_tensor **out) {
    if (!t) {
        *out = NULL;
        return EM_OK;
    }
    return em_tensor_contiguous(t, out);
}

/* Images per block and the per-thread scratch (elements) they need.  A
 * block's im2col columns sit side by side so one GEMM covers several small
 * images (a 10x10 output alone is too narrow a matrix to amortise packing).
 * The block depends on the geometry alone, so the bits do not depend on the
 * thread count.  1x1 stride-1 kernels need no im2col: one image per block
 * and no scratch. */
#define BLOCK_COLS 2048        /* target GEMM width */
#define BLOCK_MAX (1 << 20)    /* at most this many im2col elements per block */
static int64_t plan_blocks(const em__conv_geom *g, conv_ctx *c) {
    c->nb = 1;
    if (is_pointwise(g)) return 0;
    int64_t P = g->OH * g->OW, R = g->C / g->groups * g->kh * g->kw, nb = P > 0 ? (BLOCK_COLS + P - 1) / P : 1;
    if (R * P > 0 && nb * R * P > BLOCK_MAX) nb = BLOCK_MAX / (R * P);
    c->nb = nb < 1 ? 1 : nb > g->N ? (g->N > 0 ? g->N : 1) : nb;
    return (R + g->O / g->groups) * c->nb * P;
}

/* 1x1 stride-1 grad_input is gx[n] (Cg x P) = w^T (Cg x Og) @ gy[n] (Og x P) per image and group.  With
 * gy[n] larger than the GEMM's read-in-place limit, the GEMM packs it sliver by sliver, 128 bytes from each
 * of Og rows P floats apart: a gather the prefetchers do not follow (at 64->256 @56 the packing took 40% of
 * the multiply-adds' time).  Instead chunks of PW_COLS columns are copied row by row (sequential reads)
 * into a buffer of Og x PW_COLS, small enough for the GEMM to read in place from L2; rows PW_SKEW floats
 * longer than the chunk, so that they do not all map to the same L1 sets.  Measured at 64->256 @56, one
 * thread: 256 columns 20% faster than one call, 512 and 128 slower than 256.  Returns the per-thread
 * scratch (elements), 0 where one call is kept (small gy: already read in place).  The GEMM's summation
 * order does not depend on N, so the bits are those of one call.  For 1x1 stride-1 geometries only. */
static int64_t plan_pointwise_bwd_x(const em__conv_geom *g, size_t es, conv_ctx *c) {
    int64_t Og = g->O / g->groups, P = g->OH * g->OW;
    c->pw_cols = 0;
    if ((double)Og * (double)P * (double)es <= PW_DIRECT_BYTES || P <= PW_COLS ||
        (double)Og * PW_COLS * (double)es > PW_DIRECT_BYTES)
        return 0;
    c->pw_cols = PW_COLS;
    return Og * (PW_COLS + PW_SKEW);
}

static em_status alloc_scratch(const char *op, conv_ctx *c, int nt, int64_t per_thread, size_t es) {
    c->slice = per_thread;
    c->scratch = NULL;
    if (per_thread <= 0) return EM_OK;
    return em__alloc_or_fail((size_t)(nt * per_thread) * es, op, &c->scratch);
}

static em_status finish(const char *op, conv_ctx *c, em_tensor *res, em_tensor **out) {
    em__free(c->scratch);
    em__free(c->partials);
    if (atomic_load(&c->failed)) {
        em_tensor_free(res);
        return em__error(EM_ERR_NOMEM, "%s: out of memory in the matrix product", op);
    }
    *out = res;
    return EM_OK;
}

em_status em_conv(const em_tensor *x, const em_tensor *w, const em_tensor *bias, const em_conv_options *opts,
                  em_tensor **out) {
    char op[48], b1[EM_DESC_LEN];
    em_conv_options dflt = em_conv_default_options();
    const em_conv_options *o = opts ? opts : &dflt;
    if (!x || !w || !out) return em__error(EM_ERR_INVALID_ARG, "conv: x, w and out must not be NULL");
    op_name(x->ndim, "", op);
    EM_TRY(check_float(op, "input", x, (em_dtype)-1));
    EM_TRY(check_float(op, "weight", w, x->dtype));
    em__conv_geom g;
    EM_TRY(make_geom(op, x->ndim, x->shape, w->ndim, w->shape, o, &g));
    if (bias) {
        EM_TRY(check_float(op, "bias", bias, x->dtype));
        if (bias->ndim != 1 || bias->shape[0] != g.O)
            return em__error(EM_ERR_SHAPE, "%s: bias %s must be 1-D of the %lld output channels", op,
                             em__desc(bias, b1), (long long)g.O);
    }
    int64_t os[4];
    int nd = out_shape(&g, x->ndim, os);
    EM_TRY(em__check_shape(op, nd, os));
    em_tensor *xc = NULL, *wc = NULL, *bc = NULL, *res = NULL;
    em_status st = contig(x, &xc);
    if (!st) st = contig(w, &wc);
    if (!st) st = contig(bias, &bc);
    if (!st) st = em__new(x->dtype, nd, os, &res);
    conv_ctx c = {.g = &g};
    if (!st) {
        bool f32 = x->dtype == EM_F32, dw = is_depthwise(&g);
        c.a = em__ptr(xc), c.b = em__ptr(wc), c.bias = bc ? em__ptr(bc) : NULL, c.y = em__ptr(res);
        if (use_igemm(&g)) {
            st = f32 ? em__conv_igemm_fwd_f32(&g, c.a, c.b, false, c.bias, c.y)
                     : em__conv_igemm_fwd_f64(&g, c.a, c.b, false, c.bias, c.y);
            if (!st) *out = res, res = NULL;
            goto done;
        }
        int64_t slice = dw ? 0 : plan_blocks(&g, &c);
        int64_t items = dw ? g.N * g.C : (g.N + c.nb - 1) / c.nb * g.groups;
        int nt = plan_threads(items);
        st = alloc_scratch(op, &c, nt, slice, em__dsize(x->dtype));
        if (!st) {
            run(items, nt, dw ? (f32 ? dw_fwd_f32 : dw_fwd_f64) : (f32 ? fwd_f32 : fwd_f64), &c);
            st = finish(op, &c, res, out);
            res = NULL;
        }
    }
done:
    em_tensor_free(res);
    em_tensor_free(xc);
    em_tensor_free(wc);
    em_tensor_free(bc);
    if (!st && !em__ag_off && (em__ag_req(x) || em__ag_req(w) || em__ag_req(bias)))
        st = em__ag_conv(x, w, bias, o, out);
    return st;
}

/* Checks gout against the output shape the geometry gives. */
static em_status check_gout(const char *op, const em__conv_geom *g, int nd, const em_tensor *gout, int xnd,
                            const int64_t *xs, int wnd, const int64_t *ws) {
    int64_t os[4];
    out_shape(g, nd, os);
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN], b3[EM_DESC_LEN], b4[EM_DESC_LEN];
    if (gout->ndim != nd || memcmp(gout->shape, os, (size_t)nd * sizeof(int64_t)))
        return em__error(EM_ERR_SHAPE, "%s: grad_output %s does not match the output shape %s of input %s and weight %s",
                         op, em__desc(gout, b1), em__shape_str(nd, os, b2), em__shape_str(xnd, xs, b3),
                         em__shape_str(wnd, ws, b4));
    return EM_OK;
}

em_status em_conv_grad_input(const em_tensor *gout, const em_tensor *w, int ndim, const int64_t *x_shape,
                             const em_conv_options *opts, em_tensor **out) {
    char op[48];
    em_conv_options dflt = em_conv_default_options();
    const em_conv_options *o = opts ? opts : &dflt;
    if (!gout || !w || !x_shape || !out)
        return em__error(EM_ERR_INVALID_ARG, "conv_grad_input: gout, w, x_shape and out must not be NULL");
    op_name(ndim, "_grad_input", op);
    EM_TRY(check_float(op, "grad_output", gout, (em_dtype)-1));
    EM_TRY(check_float(op, "weight", w, gout->dtype));
    em__conv_geom g;
    EM_TRY(make_geom(op, ndim, x_shape, w->ndim, w->shape, o, &g));
    EM_TRY(check_gout(op, &g, ndim, gout, ndim, x_shape, w->ndim, w->shape));
    em_tensor *gc = NULL, *wc = NULL, *res = NULL;
    em_status st = contig(gout, &gc);
    if (!st) st = contig(w, &wc);
    if (!st) st = em__new(gout->dtype, ndim, x_shape, &res);
    conv_ctx c = {.g = &g};
    if (!st) {
        bool f32 = gout->dtype == EM_F32, dw = is_depthwise(&g);
        c.a = em__ptr(gc), c.b = em__ptr(wc), c.y = em__ptr(res);
        if (use_igemm(&g) && g.sh == 1 && g.sw == 1 && g.ph <= g.dh * (g.kh - 1) && g.pw <= g.dw * (g.kw - 1)) {
            /* stride 1: grad_input is the forward convolution of gy with the in/out-swapped, flipped
             * kernel and padding d*(k-1)-p, so no col2im (scatter-add) pass is needed */
            em__conv_geom t = g;
            t.C = g.O, t.H = g.OH, t.W = g.OW, t.O = g.C, t.OH = g.H, t.OW = g.W;
            t.ph = g.dh * (g.kh - 1) - g.ph, t.pw = g.dw * (g.kw - 1) - g.pw;
            st = f32 ? em__conv_igemm_fwd_f32(&t, c.a, c.b, true, NULL, c.y)
                     : em__conv_igemm_fwd_f64(&t, c.a, c.b, true, NULL, c.y);
            if (!st) *out = res, res = NULL;
            goto done;
        }
        int64_t slice = dw ? 0 : plan_blocks(&g, &c);
        if (!dw && is_pointwise(&g)) slice = plan_pointwise_bwd_x(&g, em__dsize(gout->dtype), &c);
        int64_t items = dw ? g.N * g.C : (g.N + c.nb - 1) / c.nb * g.groups;
        int nt = plan_threads(items);
        st = alloc_scratch(op, &c, nt, slice, em__dsize(gout->dtype));
        if (!st) {
            run(items, nt, dw ? (f32 ? dw_bwd_x_f32 : dw_bwd_x_f64) : (f32 ? bwd_x_f32 : bwd_x_f64), &c);
            st = finish(op, &c, res, out);
            res = NULL;
        }
    }
done:
    em_tensor_free(res);
    em_tensor_free(gc);
    em_tensor_free(wc);
    return st;
}

em_status em_conv_grad_weight(const em_tensor *gout, const em_tensor *x, int ndim, const int64_t *w_shape,
                              const em_conv_options *opts, em_tensor **out) {
    char op[48];
    em_conv_options dflt = em_conv_default_options();
    const em_conv_options *o = opts ? opts : &dflt;
    if (!gout || !x || !w_shape || !out)
        return em__error(EM_ERR_INVALID_ARG, "conv_grad_weight: gout, x, w_shape and out must not be NULL");
    op_name(x->ndim, "_grad_weight", op);
    EM_TRY(check_float(op, "grad_output", gout, (em_dtype)-1));
    EM_TRY(check_float(op, "input", x, gout->dtype));
    em__conv_geom g;
    EM_TRY(make_geom(op, x->ndim, x->shape, ndim, w_shape, o, &g));
    EM_TRY(check_gout(op, &g, x->ndim, gout, x->ndim, x->shape, ndim, w_shape));
    em_tensor *gc = NULL, *xc = NULL, *res = NULL;
    em_status st = contig(gout, &gc);
    if (!st) st = contig(x, &xc);
    if (!st) st = em__new(gout->dtype, ndim, w_shape, &res);
    conv_ctx c = {.g = &g};
    if (!st) {
        bool f32 = gout->dtype == EM_F32, dw = is_depthwise(&g);
        size_t es = em__dsize(gout->dtype);
        int64_t wsize = em__numel(ndim, w_shape);
        c.a = em__ptr(gc), c.b = em__ptr(xc), c.y = em__ptr(res);
        if (g.N == 0 || g.OH * g.OW == 0) {
            memset(c.y, 0, (size_t)wsize * es);
            *out = res;
            res = NULL;
        } else if (f32 && em__conv_gwdirect_f32(&g, c.a, c.b, c.y, &st)) {
            if (!st) *out = res, res = NULL; /* the direct route (kernels/conv_gwdirect.c) */
        } else if (dw) {
            run(g.C, plan_threads(g.C), f32 ? dw_bwd_w_f32 : dw_bwd_w_f64, &c);
            *out = res;
            res = NULL;
        } else if (use_igemm(&g)) {
            st = f32 ? em__conv_igemm_bwd_w_f32(&g, c.a, c.b, c.y) : em__conv_igemm_bwd_w_f64(&g, c.a, c.b, c.y);
            if (!st) *out = res, res = NULL;
        } else {
            c.nchunks = g.N < CONV_WCHUNKS ? g.N : CONV_WCHUNKS;
            int nt = plan_threads(c.nchunks);
            st = alloc_scratch(op, &c, nt, plan_blocks(&g, &c), es);
            if (!st && c.nchunks > 1)
                st = em__alloc_or_fail((size_t)((c.nchunks - 1) * wsize) * es, op, &c.partials);
            if (!st) {
                run(c.nchunks, nt, f32 ? bwd_w_f32 : bwd_w_f64, &c);
                if (c.nchunks > 1) {
                    int nt2 = em__threads();
                    if (nt2 > 1 && wsize >= 4096)
                        em__parallel_for(wsize, 1024, nt2, f32 ? add_partials_f32 : add_partials_f64, &c);
                    else
                        (f32 ? add_partials_f32 : add_partials_f64)(&c, 0, wsize, 0);
                }
                st = finish(op, &c, res, out);
                res = NULL;
            } else {
                em__free(c.scratch);
                em__free(c.partials);
            }
        }
    }
    em_tensor_free(res);
    em_tensor_free(gc);
    em_tensor_free(xc);
    return st;
}

em_status em_conv_grad_bias(const em_tensor *gout, em_tensor **out) {
    char b1[EM_DESC_LEN];
    if (!gout || !out) return em__error(EM_ERR_INVALID_ARG, "conv_grad_bias: gout and out must not be NULL");
    EM_TRY(check_float("conv_grad_bias", "grad_output", gout, (em_dtype)-1));
    if (gout->ndim != 3 && gout->ndim != 4)
        return em__error(EM_ERR_SHAPE, "conv_grad_bias: grad_output %s must be 3-D or 4-D", em__desc(gout, b1));
    em__conv_geom g = {.N = gout->shape[0], .O = gout->shape[1], .OH = gout->ndim == 4 ? gout->shape[2] : 1,
                       .OW = gout->shape[gout->ndim - 1]};
    em_tensor *gc = NULL, *res = NULL;
    em_status st = contig(gout, &gc);
    if (!st) st = em__new(gout->dtype, 1, &g.O, &res);
    if (!st) {
        conv_ctx c = {.g = &g, .a = em__ptr(gc), .y = em__ptr(res)};
        bool f32 = gout->dtype == EM_F32;
        run(g.O, plan_threads(g.O), f32 ? bwd_b_f32 : bwd_b_f64, &c);
        *out = res;
        res = NULL;
    }
    em_tensor_free(res);
    em_tensor_free(gc);
    return st;
}
