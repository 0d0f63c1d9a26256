/* Max, average and adaptive average pooling (1-D and 2-D), forward and
 * backward; contracts in include/ember/conv.h.  Every (image, channel) plane
 * is independent, so planes run on the thread pool and each backward pass
 * accumulates inside its own plane in a fixed order: results do not depend
 * on the thread count.  Window and divisor rules follow PyTorch's CPU
 * kernels exactly (including which index max pooling reports on ties and
 * NaN), since the backward passes and the tests depend on them. */
#include <math.h>
#include <stdio.h>

#include "../autograd/ag.h"
#include "../base/threadpool.h"
#include "../kernels/conv_kernels.h"

em_pool_options em_pool_default_options(void) {
    em_pool_options o = {{0, 0}, {0, 0}, {0, 0}, {1, 1}, false, true, 0};
    return o;
}

typedef struct pool_geom {
    int64_t planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw;
    bool count_include_pad;
    int64_t divisor;
} pool_geom;

static const char *pname(const char *kind, int ndim, const char *suffix, char *buf) {
    snprintf(buf, 64, "%s_pool%dd%s", kind, ndim == 3 ? 1 : 2, suffix);
    return buf;
}

/* PyTorch's pooling_output_shape. */
static int64_t pool_out(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil, bool ceil_mode) {
    int64_t num = in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
    int64_t q = num >= 0 ? num / stride : -((-num + stride - 1) / stride);
    int64_t out = q + 1;
    if (ceil_mode && (out - 1) * stride >= in + pad) out--;
    return out;
}

static em_status check_x(const char *op, const em_tensor *x) {
    char b[EM_DESC_LEN];
    if (!x) return em__error(EM_ERR_INVALID_ARG, "%s: tensor argument is NULL", op);
    if (x->dtype != EM_F32 && x->dtype != EM_F64)
        return em__error(EM_ERR_DTYPE, "%s: input %s must be float32 or float64", op, em__desc(x, b));
    return EM_OK;
}

static em_status check_rank(const char *op, int nd, const int64_t *xs) {
    char b[EM_DESC_LEN];
    if (nd != 3 && nd != 4)
        return em__error(EM_ERR_SHAPE, "%s: input must be 3-D (N, C, L) or 4-D (N, C, H, W), got %s", op,
                         em__shape_str(nd, xs, b));
    return em__check_shape(op, nd, xs);
}

/* Fills g from the input shape and options (max: dilation allowed). */
static em_status make_geom(const char *op, int nd, const int64_t *xs, const em_pool_options *o, bool max,
                           pool_geom *g) {
    char b[EM_DESC_LEN];
    EM_TRY(check_rank(op, nd, xs));
    int sp = nd - 2;
    int64_t in[2] = {1, xs[nd - 1]}, k[2] = {1, 1}, s[2] = {1, 1}, p[2] = {0, 0}, d[2] = {1, 1}, out[2];
    if (sp == 2) in[0] = xs[2];
    for (int a = 0; a < sp; a++) {
        int e = 2 - sp + a; /* 1-D uses slot 1 (W) */
        k[e] = o->kernel[a], s[e] = o->stride[a] ? o->stride[a] : o->kernel[a], p[e] = o->padding[a];
        d[e] = o->dilation[a];
        if (k[e] < 1 || s[e] < 1 || d[e] < 1 || p[e] < 0)
            return em__error(EM_ERR_INVALID_ARG,
                             "%s: kernel_size (%lld), stride (%lld) and dilation (%lld) must be >= 1 and padding "
                             "(%lld) >= 0 on spatial axis %d",
                             op, (long long)k[e], (long long)s[e], (long long)d[e], (long long)p[e], a);
        if (!max && d[e] != 1)
            return em__error(EM_ERR_INVALID_ARG, "%s: average pooling has no dilation (got %lld)", op, (long long)d[e]);
        if (p[e] > k[e] / 2)
            return em__error(EM_ERR_INVALID_ARG,
                             "%s: padding %lld on spatial axis %d must be at most half of kernel_size %lld", op,
                             (long long)p[e], a, (long long)k[e]);
        if (in[e] < 1 || d[e] > ((int64_t)1 << 40) || k[e] > ((int64_t)1 << 40))
            return em__error(EM_ERR_SHAPE, "%s: input %s has an empty or oversized spatial axis %d", op,
                             em__shape_str(nd, xs, b), a);
        out[e] = pool_out(in[e], k[e], p[e], s[e], d[e], o->ceil_mode);
        if (out[e] < 1)
            return em__error(EM_ERR_SHAPE,
                             "%s: output size on spatial axis %d would be %lld for input %s with kernel_size %lld, "
                             "padding %lld, dilation %lld",
                             op, a, (long long)out[e], em__shape_str(nd, xs, b), (long long)k[e], (long long)p[e],
                             (long long)d[e]);
    }
    if (sp == 1) out[0] = 1;
    if (o->divisor_override < 0)
        return em__error(EM_ERR_INVALID_ARG, "%s: divisor_override must be > 0 (0: none), got %lld", op,
                         (long long)o->divisor_override);
    *g = (pool_geom){xs[0] * xs[1], in[0], in[1], out[0], out[1], k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1],
                     o->count_include_pad, o->divisor_override};
    return EM_OK;
}

static void out_shape(int nd, const int64_t *xs, const pool_geom *g, int64_t *os) {
    os[0] = xs[0], os[1] = xs[1];
    if (nd == 4) os[2] = g->OH;
    os[nd - 1] = g->OW;
}

typedef enum { POOL_MAX, POOL_AVG, POOL_ADAPTIVE } pool_kind;

typedef struct pool_ctx {
    const pool_geom *g;
    pool_kind kind;
    bool backward;
    const void *x;      /* forward: the input; backward: grad_output */
    const int64_t *idx; /* max backward: the argmax of each output */
    void *y;            /* forward: the output; backward: grad_input */
    int64_t *iy;        /* max forward: where the argmaxes go, or NULL */
    bool two_by_two;    /* max pool 2x2, stride 2, windows inside x: the unrolled loop */
    atomic_int bad_index;
} pool_ctx;

/* One step of the max scan: NaN wins (the last one seen), ties keep the
 * first.  Written as integer mask selects, not branches: on real data the
 * comparison is a coin toss that the branch predictor loses. */
#define MAX_STEP(S, v_, k_)                                                             \
    do {                                                                                \
        __typeof__(m) v__ = (v_);                                                       \
        int64_t take__ = -(int64_t)((v__ > m) | (v__ != v__)); /* all ones or zero */   \
        m = max_select_##S(take__, v__, m);                                             \
        best = (best & ~take__) | ((int64_t)(k_) & take__);                             \
    } while (0)

static inline float max_select_f32(int64_t mask, float a, float b) {
    uint32_t ua, ub, r;
    memcpy(&ua, &a, 4), memcpy(&ub, &b, 4);
    r = (ua & (uint32_t)mask) | (ub & ~(uint32_t)mask);
    memcpy(&a, &r, 4);
    return a;
}
static inline double max_select_f64(int64_t mask, double a, double b) {
    uint64_t ua, ub, r;
    memcpy(&ua, &a, 8), memcpy(&ub, &b, 8);
    r = (ua & (uint64_t)mask) | (ub & ~(uint64_t)mask);
    memcpy(&a, &r, 8);
    return a;
}

static bool is_two_by_two(const pool_geom *g) {
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0 && g->dh == 1 &&
           g->dw == 1 && 2 * g->OH <= g->H && 2 * g->OW <= g->W;
}

/* The window of output o along one axis of `in` inputs (PyTorch's rules):
 * inputs lo, lo + d, ... below hi.  Returns the window's length counting
 * padding (avg pooling's divisor with count_include_pad). */
static inline int64_t axis_window(pool_kind kind, int64_t o, int64_t in, int64_t out, int64_t k, int64_t s,
                                  int64_t p, int64_t d, int64_t *lo, int64_t *hi) {
    int64_t a, b, span;
    if (kind == POOL_ADAPTIVE) {
        a = o * in / out, b = ((o + 1) * in + out - 1) / out;
        span = b - a;
    } else if (kind == POOL_MAX) {
        a = o * s - p, b = a + (k - 1) * d + 1, span = 0;
        while (a < 0) a += d;
    } else {
        a = o * s - p, b = a + k < in + p ? a + k : in + p;
        span = b - a;
        a = a > 0 ? a : 0;
    }
    *lo = a, *hi = b < in ? b : in;
    return span;
}

/* Runs the statements ... for every output (oh, ow) of a plane, with its
 * window [h0, h1) x [w0, w1) (max pooling steps through it by the dilation)
 * and avg pooling's divisor div. */
#define FOR_WINDOWS(c, g, ...)                                                                                 \
    for (int64_t oh = 0; oh < (g)->OH; oh++) {                                                                 \
        int64_t h0, h1, hspan = axis_window((c)->kind, oh, (g)->H, (g)->OH, (g)->kh, (g)->sh, (g)->ph, (g)->dh, \
                                            &h0, &h1);                                                         \
        for (int64_t ow = 0; ow < (g)->OW; ow++) {                                                             \
            int64_t w0, w1, wspan = axis_window((c)->kind, ow, (g)->W, (g)->OW, (g)->kw, (g)->sw, (g)->pw,      \
                                                (g)->dw, &w0, &w1);                                            \
            int64_t div = (g)->divisor             ? (g)->divisor                                              \
                          : (g)->count_include_pad ? hspan * wspan                                             \
                                                   : (h1 - h0) * (w1 - w0);                                    \
            (void)div;                                                                                         \
            __VA_ARGS__                                                                                        \
        }                                                                                                      \
    }

#define DEF_POOL(S, T)                                                                                        \
    /* max pool 2x2, stride 2, windows inside x: the same rule and order as                                 \
     * max_fwd, unrolled.  The sizes come by value (stores into iy cannot change                             \
     * them) and it is inlined into two calls, with and without iy, so that                                  \
     * each loop has no branch left and vectorises. */                                                       \
    static inline __attribute__((always_inline)) void max2x2_##S(const T *x, T *y, int64_t *iy, int64_t W,  \
                                                                 int64_t OH, int64_t OW) {                    \
        for (int64_t oh = 0; oh < OH; oh++)                                                                   \
            for (int64_t ow = 0; ow < OW; ow++) {                                                             \
                int64_t k = 2 * oh * W + 2 * ow, best = k;                                                    \
                T m = x[k];                                                                                   \
                MAX_STEP(S, x[k + 1], k + 1);                                                                 \
                MAX_STEP(S, x[k + W], k + W);                                                                 \
                MAX_STEP(S, x[k + W + 1], k + W + 1);                                                         \
                y[oh * OW + ow] = m;                                                                          \
                if (iy) iy[oh * OW + ow] = best;                                                              \
            }                                                                                                 \
    }                                                                                                         \
    static void max_fwd_##S(const pool_ctx *c, const T *x, T *y, int64_t *iy) {                               \
        const pool_geom *g = c->g;                                                                            \
        if (c->two_by_two) {                                                                                  \
            if (iy) max2x2_##S(x, y, iy, g->W, g->OH, g->OW);                                                 \
            else max2x2_##S(x, y, NULL, g->W, g->OH, g->OW);                                                  \
            return;                                                                                           \
        }                                                                                                     \
        FOR_WINDOWS(c, g, {                                                                                   \
            int64_t best = h0 * g->W + w0;                                                                    \
            T m = -INFINITY;                                                                                  \
            for (int64_t ih = h0; ih < h1; ih += g->dh)                                                       \
                for (int64_t iw = w0; iw < w1; iw += g->dw) MAX_STEP(S, x[ih * g->W + iw], ih * g->W + iw);   \
            y[oh * g->OW + ow] = m;                                                                           \
            if (iy) iy[oh * g->OW + ow] = best;                                                               \
        })                                                                                                    \
    }                                                                                                         \
    static void max_bwd_##S(pool_ctx *c, const T *gy, const int64_t *ix, T *gx) {                             \
        int64_t HW = c->g->H * c->g->W, P = c->g->OH * c->g->OW;                                              \
        for (int64_t p = 0; p < P; p++) {                                                                     \
            if (ix[p] < 0 || ix[p] >= HW) {                                                                   \
                atomic_store(&c->bad_index, 1);                                                               \
                continue;                                                                                     \
            }                                                                                                 \
            gx[ix[p]] += gy[p];                                                                               \
        }                                                                                                     \
    }                                                                                                         \
    /* avg and adaptive avg: the mean of each window, and its gradient spread back evenly */                 \
    static void avg_fwd_##S(const pool_ctx *c, const T *x, T *y) {                                            \
        const pool_geom *g = c->g;                                                                            \
        FOR_WINDOWS(c, g, {                                                                                   \
            T s = 0;                                                                                          \
            for (int64_t ih = h0; ih < h1; ih++)                                                              \
                for (int64_t iw = w0; iw < w1; iw++) s += x[ih * g->W + iw];                                  \
            y[oh * g->OW + ow] = h0 < h1 && w0 < w1 ? s / (T)div : 0;                                         \
        })                                                                                                    \
    }                                                                                                         \
    static void avg_bwd_##S(const pool_ctx *c, const T *gy, T *gx) {                                          \
        const pool_geom *g = c->g;                                                                            \
        FOR_WINDOWS(c, g, {                                                                                   \
            T v = gy[oh * g->OW + ow] / (T)div;                                                               \
            for (int64_t ih = h0; ih < h1; ih++)                                                              \
                for (int64_t iw = w0; iw < w1; iw++) gx[ih * g->W + iw] += v;                                 \
        })                                                                                                    \
    }                                                                                                         \
    /* planes [b, e): each backward accumulates into its own zeroed plane */                                 \
    static void planes_##S(void *vc, int64_t b, int64_t e, int tid) {                                         \
        pool_ctx *c = vc;                                                                                     \
        int64_t HW = c->g->H * c->g->W, P = c->g->OH * c->g->OW;                                              \
        for (int64_t pl = b; pl < e; pl++) {                                                                  \
            if (!c->backward) {                                                                               \
                const T *x = (const T *)c->x + pl * HW;                                                       \
                T *y = (T *)c->y + pl * P;                                                                    \
                if (c->kind == POOL_MAX) max_fwd_##S(c, x, y, c->iy ? c->iy + pl * P : NULL);                 \
                else avg_fwd_##S(c, x, y);                                                                    \
                continue;                                                                                     \
            }                                                                                                 \
            const T *gy = (const T *)c->x + pl * P;                                                           \
            T *gx = (T *)c->y + pl * HW;                                                                      \
            memset(gx, 0, (size_t)HW * sizeof(T));                                                            \
            if (c->kind == POOL_MAX) max_bwd_##S(c, gy, c->idx + pl * P, gx);                                 \
            else avg_bwd_##S(c, gy, gx);                                                                      \
        }                                                                                                     \
    }

DEF_POOL(f32, float)
DEF_POOL(f64, double)

/* Runs the kernel of c over the planes (on the pool when there are enough). */
static void run_planes(const pool_geom *g, em_dtype dt, pool_ctx *c) {
    if (g->planes <= 0) return;
    em__range_fn fn = dt == EM_F32 ? planes_f32 : planes_f64;
    int nt = em__threads();
    int64_t work = g->planes * (g->H * g->W + g->OH * g->OW);
    if (nt > 1 && g->planes >= 2 && work >= 16384)
        em__parallel_for(g->planes, 1, nt, fn, c);
    else
        fn(c, 0, g->planes, 0);
}

/* Forward driver: x made contiguous, out allocated, the kernel run over planes. */
static em_status forward(const char *op, const em_tensor *x, const pool_geom *g, pool_kind kind, em_tensor **out,
                         em_tensor **indices) {
    int64_t os[4];
    out_shape(x->ndim, x->shape, g, os);
    EM_TRY(em__check_shape(op, x->ndim, os));
    em_tensor *xc = NULL, *res = NULL, *ix = NULL;
    em_status st = em_tensor_contiguous(x, &xc);
    if (!st) st = em__new(x->dtype, x->ndim, os, &res);
    if (!st && indices) st = em__new(EM_I64, x->ndim, os, &ix);
    if (!st) {
        pool_ctx c = {.g = g, .kind = kind, .x = em__ptr(xc), .y = em__ptr(res),
                      .iy = ix ? (int64_t *)em__ptr(ix) : NULL, .two_by_two = is_two_by_two(g)};
        run_planes(g, x->dtype, &c);
        *out = res;
        if (indices) *indices = ix;
        res = ix = NULL;
    }
    em_tensor_free(xc);
    em_tensor_free(res);
    em_tensor_free(ix);
    return st;
}

/* Backward driver: gout checked against the forward output shape. */
static em_status backward(const char *op, const em_tensor *gout, const em_tensor *idx, int nd, const int64_t *xs,
                          const pool_geom *g, pool_kind kind, em_tensor **out) {
    int64_t os[4];
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN], b3[EM_DESC_LEN];
    out_shape(nd, xs, g, os);
    if (gout->ndim != nd || memcmp(gout->shape, os, (size_t)nd * sizeof(int64_t)))
        return em__error(EM_ERR_SHAPE, "%s: grad_output %s does not match the output shape %s of input %s", op,
                         em__desc(gout, b1), em__shape_str(nd, os, b2), em__shape_str(nd, xs, b3));
    if (idx && (idx->dtype != EM_I64 || idx->ndim != nd || memcmp(idx->shape, os, (size_t)nd * sizeof(int64_t))))
        return em__error(EM_ERR_SHAPE, "%s: indices %s must be int64 of the output shape %s", op, em__desc(idx, b1),
                         em__shape_str(nd, os, b2));
    em_tensor *gc = NULL, *ic = NULL, *res = NULL;
    em_status st = em_tensor_contiguous(gout, &gc);
    if (!st && idx) st = em_tensor_contiguous(idx, &ic);
    if (!st) st = em__new(gout->dtype, nd, xs, &res);
    if (!st) {
        pool_ctx c = {.g = g, .kind = kind, .backward = true, .x = em__ptr(gc),
                      .idx = ic ? (const int64_t *)em__ptr(ic) : NULL, .y = em__ptr(res)};
        run_planes(g, gout->dtype, &c);
        if (atomic_load(&c.bad_index)) {
            st = em__error(EM_ERR_INDEX, "%s: an index in indices %s is outside the input plane of %lld elements", op,
                           em__desc(idx, b1), (long long)(g->H * g->W));
        } else {
            *out = res;
            res = NULL;
        }
    }
    em_tensor_free(gc);
    em_tensor_free(ic);
    em_tensor_free(res);
    return st;
}

static const em_pool_options *opts_or_null(const char *op, const em_pool_options *o) {
    if (!o) em__error(EM_ERR_INVALID_ARG, "%s: options are required (kernel_size)", op);
    return o;
}

/* The checks of a max (or avg) pooling forward: x, out and opts; fills the
 * op name ("max_pool2d") and the geometry. */
static em_status pool_begin(bool max, const em_tensor *x, const em_pool_options *opts, em_tensor **out, char *op,
                            pool_geom *g) {
    EM_TRY(check_x(max ? "max_pool" : "avg_pool", x));
    pname(max ? "max" : "avg", x->ndim, "", op);
    if (!out) return em__error(EM_ERR_INVALID_ARG, "%s: out is NULL", op);
    if (!opts_or_null(op, opts)) return EM_ERR_INVALID_ARG;
    return make_geom(op, x->ndim, x->shape, opts, max, g);
}

em_status em_max_pool(const em_tensor *x, const em_pool_options *opts, em_tensor **out, em_tensor **indices) {
    char op[64];
    pool_geom g;
    EM_TRY(pool_begin(true, x, opts, out, op, &g));
    if (em__ag_off || !em__ag_req(x)) return forward(op, x, &g, POOL_MAX, out, indices);
    /* recording: the backward needs the argmax even when the caller does not */
    em_tensor *idx = NULL;
    EM_TRY(forward(op, x, &g, POOL_MAX, out, &idx));
    em_status st = em__ag_pool(0, x, opts, NULL, idx, out);
    if (!st && indices) *indices = idx;
    else em_tensor_free(idx);
    return st;
}

em_status em_max_pool_backward(const em_tensor *gout, const em_tensor *indices, int ndim, const int64_t *x_shape,
                               em_tensor **out) {
    char op[64];
    EM_TRY(check_x("max_pool_backward", gout));
    pname("max", ndim, "_backward", op);
    if (!indices || !x_shape || !out)
        return em__error(EM_ERR_INVALID_ARG, "%s: indices, x_shape and out must not be NULL", op);
    EM_TRY(check_rank(op, ndim, x_shape));
    if (gout->ndim != ndim)
        return em__error(EM_ERR_SHAPE, "%s: grad_output has %d dims, the input %d", op, gout->ndim, ndim);
    /* only the plane sizes matter: indices carry the windows */
    pool_geom g = {.planes = x_shape[0] * x_shape[1], .H = ndim == 4 ? x_shape[2] : 1, .W = x_shape[ndim - 1],
                   .OH = ndim == 4 ? gout->shape[2] : 1, .OW = gout->shape[gout->ndim - 1]};
    return backward(op, gout, indices, ndim, x_shape, &g, POOL_MAX, out);
}

em_status em_avg_pool(const em_tensor *x, const em_pool_options *opts, em_tensor **out) {
    char op[64];
    pool_geom g;
    EM_TRY(pool_begin(false, x, opts, out, op, &g));
    EM_TRY(forward(op, x, &g, POOL_AVG, out, NULL));
    return em__ag_off || !em__ag_req(x) ? EM_OK : em__ag_pool(1, x, opts, NULL, NULL, out);
}

em_status em_avg_pool_backward(const em_tensor *gout, int ndim, const int64_t *x_shape, const em_pool_options *opts,
                               em_tensor **out) {
    char op[64];
    EM_TRY(check_x("avg_pool_backward", gout));
    pname("avg", ndim, "_backward", op);
    if (!x_shape || !out) return em__error(EM_ERR_INVALID_ARG, "%s: x_shape and out must not be NULL", op);
    if (!opts_or_null(op, opts)) return EM_ERR_INVALID_ARG;
    pool_geom g;
    EM_TRY(make_geom(op, ndim, x_shape, opts, false, &g));
    return backward(op, gout, NULL, ndim, x_shape, &g, POOL_AVG, out);
}

static em_status adaptive_geom(const char *op, int nd, const int64_t *xs, const int64_t *out_size, pool_geom *g) {
    char b[EM_DESC_LEN];
    EM_TRY(check_rank(op, nd, xs));
    if (!out_size) return em__error(EM_ERR_INVALID_ARG, "%s: out_size is NULL", op);
    *g = (pool_geom){.planes = xs[0] * xs[1], .H = nd == 4 ? xs[2] : 1, .W = xs[nd - 1],
                     .OH = nd == 4 ? out_size[0] : 1, .OW = out_size[nd - 3]};
    if (g->OH < 1 || g->OW < 1 || g->OH > ((int64_t)1 << 31) || g->OW > ((int64_t)1 << 31))
        return em__error(EM_ERR_INVALID_ARG, "%s: output size must be >= 1 on every spatial axis", op);
    if (g->H < 1 || g->W < 1)
        return em__error(EM_ERR_SHAPE, "%s: input %s has an empty spatial axis", op, em__shape_str(nd, xs, b));
    return EM_OK;
}

em_status em_adaptive_avg_pool(const em_tensor *x, const int64_t *out_size, em_tensor **out) {
    char op[64];
    EM_TRY(check_x("adaptive_avg_pool", x));
    pname("adaptive_avg", x->ndim, "", op);
    if (!out) return em__error(EM_ERR_INVALID_ARG, "%s: out is NULL", op);
    pool_geom g;
    EM_TRY(adaptive_geom(op, x->ndim, x->shape, out_size, &g));
    EM_TRY(forward(op, x, &g, POOL_ADAPTIVE, out, NULL));
    return em__ag_off || !em__ag_req(x) ? EM_OK : em__ag_pool(2, x, NULL, out_size, NULL, out);
}

em_status em_adaptive_avg_pool_backward(const em_tensor *gout, int ndim, const int64_t *x_shape, em_tensor **out) {
    char op[64];
    EM_TRY(check_x("adaptive_avg_pool_backward", gout));
    pname("adaptive_avg", ndim, "_backward", op);
    if (!x_shape || !out) return em__error(EM_ERR_INVALID_ARG, "%s: x_shape and out must not be NULL", op);
    if (gout->ndim != ndim)
        return em__error(EM_ERR_SHAPE, "%s: grad_output has %d dims, the input %d", op, gout->ndim, ndim);
    int64_t osz[2] = {gout->shape[2], gout->shape[ndim - 1]}; /* 1-D reads osz[0] only */
    pool_geom g;
    EM_TRY(adaptive_geom(op, ndim, x_shape, osz, &g));
    return backward(op, gout, NULL, ndim, x_shape, &g, POOL_ADAPTIVE, out);
}
