/* softmax and log_softmax along one axis, numerically stable, and their
 * backward kernels:
 *   softmax(x)_i     = e^(x_i - m) / sum_j e^(x_j - m),   m = max_j x_j
 *   log_softmax(x)_i = (x_i - m) - ln sum_j e^(x_j - m)
 *   softmax backward:     gi = y * (g - sum_j g_j y_j)
 *   log_softmax backward: gi = g - e^y * sum_j g_j
 *
 * The tensor is seen as (outer, n, inner) with n the reduced axis.  Inputs
 * are read contiguous in the compute dtype (copied first when they are
 * not).  Along the last axis (inner == 1) a task is a range of rows;
 * otherwise a task is a block of up to COLS columns of one outer slab, so
 * the loops still run over contiguous memory.  Every output element depends
 * only on its own row or column, summed in a fixed lane order, so results
 * are bit-identical for any thread count.  float32 e^x comes from the
 * vectorised kernel of kernels/vmath.c. */
#include "../internal.h"
#include "../autograd/ag.h"

#include <math.h>

#include "../base/threadpool.h"
#include "../kernels/vmath.h"

#define LANES 8    /* independent accumulators: lets gcc vectorise the sums */
#define COLS 256   /* columns per task along a non-last axis; also the exp block */
#define TASK_ELEMS 16384

/* The row and column loops are also built for AVX2 and AVX-512
 * (x86-64-v4), chosen at load time (ifunc; GCC >= 11 on x86-64 Linux), so
 * the max, sum and scaling passes run at the vector width of the exp
 * kernel.  With contraction off every variant does the same roundings: the
 * lanes are explicit, so the results do not depend on the vector width. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) && defined(__linux__) && \
    !defined(EM_NO_SIMD_CLONES)
#define SM_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define SM_CLONES
#endif

/* e^v in place over n contiguous elements */
static void exp_f32(float *v, int64_t n) { em__vmath_f32(EM_OP_EXP)(v, v, n, 0.0f); }
static void exp_f64(double *v, int64_t n) {
    for (int64_t i = 0; i < n; i++) v[i] = exp(v[i]);
}
/* y = e^(x - m) (y NULL: not stored) and its sum */
static float expsum_f32(float *y, const float *x, int64_t n, float m) { return em__vmath_expsum_f32()(y, x, n, m); }
static double expsum_f64(double *y, const double *x, int64_t n, double m) {
    double sv[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            double e = exp(x[i + j] - m);
            if (y) y[i + j] = e;
            sv[j] += e;
        }
    for (; i < n; i++) {
        double e = exp(x[i] - m);
        if (y) y[i] = e;
        sv[i % LANES] += e;
    }
    double s = 0;
    for (int j = 0; j < LANES; j++) s += sv[j];
    return s;
}

typedef struct {
    const void *x, *g; /* x: input (forward) or y (backward); g: grad_out */
    void *y;           /* output; may equal x */
    int64_t n, inner, ncb; /* ncb: column blocks per outer slab */
    int kind;          /* 0 softmax, 1 log_softmax, 2 softmax backward, 3 log_softmax backward */
} sm_ctx;

/* Lane helpers: fixed 8-way partial sums / maxima combined in lane order.
 * NaN never wins a comparison, but it then makes its row NaN below. */
#define SM_KERNELS(T, SUF)                                                                        \
    static inline __attribute__((always_inline)) T max_##SUF(const T *x, int64_t n) {            \
        T mv[LANES];                                                                              \
        for (int j = 0; j < LANES; j++) mv[j] = x[0];                                            \
        int64_t i = 0;                                                                            \
        for (; i + LANES <= n; i += LANES)                                                        \
            for (int j = 0; j < LANES; j++) mv[j] = x[i + j] > mv[j] ? x[i + j] : mv[j];          \
        for (; i < n; i++) mv[0] = x[i] > mv[0] ? x[i] : mv[0];                                  \
        T m = mv[0];                                                                              \
        for (int j = 1; j < LANES; j++) m = mv[j] > m ? mv[j] : m;                               \
        return m;                                                                                 \
    }                                                                                             \
    /* sum x[i] (b NULL) or sum x[i] * b[i] */                                                    \
    static inline __attribute__((always_inline)) T sum_##SUF(const T *x, const T *b, int64_t n) { \
        T sv[LANES] = {0};                                                                        \
        int64_t i = 0;                                                                            \
        if (b)                                                                                    \
            for (; i + LANES <= n; i += LANES)                                                    \
                for (int j = 0; j < LANES; j++) sv[j] += x[i + j] * b[i + j];                     \
        else                                                                                      \
            for (; i + LANES <= n; i += LANES)                                                    \
                for (int j = 0; j < LANES; j++) sv[j] += x[i + j];                                \
        for (; i < n; i++) sv[i % LANES] += b ? x[i] * b[i] : x[i];                               \
        T s = 0;                                                                                  \
        for (int j = 0; j < LANES; j++) s += sv[j];                                               \
        return s;                                                                                 \
    }                                                                                             \
    static inline __attribute__((always_inline)) void row_##SUF(const sm_ctx *c, const T *x, const T *g, T *y) { \
        int64_t n = c->n;                                                                         \
        T tmp[COLS];                                                                              \
        if (c->kind == 0) {                                                                       \
            T m = max_##SUF(x, n);                                                                \
            T r = 1 / expsum_##SUF(y, x, n, m);                                                   \
            for (int64_t i = 0; i < n; i++) y[i] *= r;                                            \
        } else if (c->kind == 1) {                                                                \
            T m = max_##SUF(x, n), s = expsum_##SUF(NULL, x, n, m);                               \
            T ls = log(s);                                                                        \
            for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) - ls;                               \
        } else if (c->kind == 2) {                                                                \
            T s = sum_##SUF(g, x, n);                                                             \
            for (int64_t i = 0; i < n; i++) y[i] = x[i] * (g[i] - s);                             \
        } else {                                                                                  \
            T s = sum_##SUF(g, NULL, n);                                                          \
            for (int64_t i0 = 0; i0 < n; i0 += COLS) {                                            \
                int64_t b = n - i0 < COLS ? n - i0 : COLS;                                        \
                memcpy(tmp, x + i0, (size_t)b * sizeof(T));                                       \
                exp_##SUF(tmp, b);                                                                \
                for (int64_t i = 0; i < b; i++) y[i0 + i] = g[i0 + i] - tmp[i] * s;               \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
    /* w columns of a slab whose rows are `inner` apart */                                        \
    static inline __attribute__((always_inline)) void cols_##SUF(const sm_ctx *c, const T *x, const T *g, T *y, int64_t w) {            \
        int64_t n = c->n, in = c->inner;                                                          \
        T acc[COLS], tmp[COLS];                                                                   \
        if (c->kind <= 1) {                                                                       \
            memcpy(acc, x, (size_t)w * sizeof(T));                                                \
            for (int64_t k = 1; k < n; k++)                                                       \
                for (int64_t i = 0; i < w; i++) acc[i] = x[k * in + i] > acc[i] ? x[k * in + i] : acc[i]; \
            T s[COLS] = {0};                                                                      \
            for (int64_t k = 0; k < n; k++) {                                                     \
                T *e = c->kind == 0 ? y + k * in : tmp;                                           \
                for (int64_t i = 0; i < w; i++) e[i] = x[k * in + i] - acc[i];                    \
                exp_##SUF(e, w);                                                                  \
                for (int64_t i = 0; i < w; i++) s[i] += e[i];                                     \
            }                                                                                     \
            if (c->kind == 0) {                                                                   \
                for (int64_t i = 0; i < w; i++) s[i] = 1 / s[i];                                  \
                for (int64_t k = 0; k < n; k++)                                                   \
                    for (int64_t i = 0; i < w; i++) y[k * in + i] *= s[i];                        \
            } else {                                                                              \
                for (int64_t i = 0; i < w; i++) s[i] = log(s[i]);                                 \
                for (int64_t k = 0; k < n; k++)                                                   \
                    for (int64_t i = 0; i < w; i++) y[k * in + i] = (x[k * in + i] - acc[i]) - s[i]; \
            }                                                                                     \
            return;                                                                               \
        }                                                                                         \
        memset(acc, 0, sizeof acc);                                                               \
        for (int64_t k = 0; k < n; k++)                                                           \
            for (int64_t i = 0; i < w; i++) acc[i] += c->kind == 2 ? g[k * in + i] * x[k * in + i] : g[k * in + i]; \
        for (int64_t k = 0; k < n; k++) {                                                         \
            const T *xr = x + k * in, *gr = g + k * in;                                           \
            T *yr = y + k * in;                                                                   \
            if (c->kind == 2) {                                                                   \
                for (int64_t i = 0; i < w; i++) yr[i] = xr[i] * (gr[i] - acc[i]);                 \
            } else {                                                                              \
                memcpy(tmp, xr, (size_t)w * sizeof(T));                                           \
                exp_##SUF(tmp, w);                                                                \
                for (int64_t i = 0; i < w; i++) yr[i] = gr[i] - tmp[i] * acc[i];                  \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
    SM_CLONES static void task_##SUF(void *ctx, int64_t b, int64_t e, int tid) {                  \
        const sm_ctx *c = ctx;                                                                    \
        const T *x = c->x, *g = c->g;                                                             \
        T *y = c->y;                                                                              \
        for (int64_t t = b; t < e; t++) {                                                         \
            if (c->inner == 1) {                                                                  \
                row_##SUF(c, x + t * c->n, g ? g + t * c->n : NULL, y + t * c->n);                \
                continue;                                                                         \
            }                                                                                     \
            int64_t o = t / c->ncb, i0 = t % c->ncb * COLS;                                       \
            int64_t off = o * c->n * c->inner + i0, w = c->inner - i0 < COLS ? c->inner - i0 : COLS; \
            cols_##SUF(c, x + off, g ? g + off : NULL, y + off, w);                               \
        }                                                                                         \
    }
SM_KERNELS(float, f32)
SM_KERNELS(double, f64)

/* A contiguous tensor of x's values in dtype dt: x itself (a new
 * reference) when it already is one, else a copy. */
static em_status contiguous_as(const em_tensor *x, em_dtype dt, em_tensor **out) {
    if (x->dtype == dt && em__is_contiguous(x)) {
        *out = em_tensor_retain((em_tensor *)x);
        return EM_OK;
    }
    return em_tensor_cast(x, dt, out);
}

/* Runs kind over the contiguous inputs (x, g) into y, all of shape `shape`. */
static void run(int kind, const em_tensor *x, const em_tensor *g, em_tensor *y, int a) {
    int nd = x->ndim;
    sm_ctx c = {.x = em__ptr(x), .g = g ? em__ptr(g) : NULL, .y = em__ptr(y), .kind = kind};
    c.n = nd ? x->shape[a] : 1;
    c.inner = nd ? em__numel(nd - a - 1, x->shape + a + 1) : 1;
    int64_t outer = nd ? em__numel(a, x->shape) : 1;
    if (outer * c.n * c.inner == 0) return;
    c.ncb = (c.inner + COLS - 1) / COLS;
    int64_t tasks = c.inner == 1 ? outer : outer * c.ncb;
    int64_t per = c.inner == 1 ? c.n : c.n * (c.inner < COLS ? c.inner : COLS);
    int64_t grain = per >= TASK_ELEMS ? 1 : TASK_ELEMS / per;
    em__parallel_for(tasks, grain, em__threads(), x->dtype == EM_F32 ? task_f32 : task_f64, &c);
}

static em_status softmax_impl(const char *op, const em_tensor *x, int axis, bool log_, em_tensor **out) {
    if (!x || !out) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    /* a 0-d tensor is one row of one element (axis 0 or -1, like torch) */
    int a, nd = x->ndim;
    EM_TRY(em__axis(op, axis, nd ? nd : 1, &a));
    em_dtype dt = em_dtype_is_float(x->dtype) ? x->dtype : EM_F32;
    em_tensor *xc, *y;
    EM_TRY(contiguous_as(x, dt, &xc));
    if (xc != x) {
        y = xc; /* a private copy: transform it in place */
    } else {
        em_status st = em__new(dt, nd, x->shape, &y);
        if (st) {
            em_tensor_free(xc);
            return st;
        }
    }
    run(log_, xc, NULL, y, a);
    if (xc != y) em_tensor_free(xc);
    *out = y;
    return EM_OK;
}

em_status em_softmax(const em_tensor *x, int axis, em_tensor **out) {
    EM_TRY(softmax_impl("softmax", x, axis, false, out));
    return em__ag_want1(x) ? em__ag_softmax(x, axis, false, out) : EM_OK;
}
em_status em_log_softmax(const em_tensor *x, int axis, em_tensor **out) {
    EM_TRY(softmax_impl("log_softmax", x, axis, true, out));
    return em__ag_want1(x) ? em__ag_softmax(x, axis, true, out) : EM_OK;
}

static em_status backward_impl(const char *op, const em_tensor *g, const em_tensor *y, int axis, bool log_,
                               em_tensor **out) {
    if (!g || !y || !out) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    if (!em_dtype_is_float(y->dtype) || !em_dtype_is_float(g->dtype))
        return em__error(EM_ERR_DTYPE, "%s: grad_out %s and output %s must be float32 or float64", op,
                         em__desc(g, b1), em__desc(y, b2));
    if (g->ndim != y->ndim || memcmp(g->shape, y->shape, (size_t)y->ndim * sizeof(int64_t)) != 0)
        return em__error(EM_ERR_SHAPE, "%s: grad_out %s and output %s must have the same shape", op,
                         em__desc(g, b1), em__desc(y, b2));
    int a, nd = y->ndim;
    EM_TRY(em__axis(op, axis, nd ? nd : 1, &a));
    em_dtype dt = y->dtype;
    em_tensor *yc = NULL, *gc = NULL, *r = NULL;
    em_status st = contiguous_as(y, dt, &yc);
    if (!st) st = contiguous_as(g, dt, &gc);
    if (!st) st = em__new(dt, nd, y->shape, &r);
    if (!st) run(log_ ? 3 : 2, yc, gc, r, a);
    em_tensor_free(yc);
    em_tensor_free(gc);
    if (st) return st;
    *out = r;
    return EM_OK;
}

em_status em_softmax_backward(const em_tensor *grad_out, const em_tensor *y, int axis, em_tensor **grad_in) {
    return backward_impl("softmax_backward", grad_out, y, axis, false, grad_in);
}
em_status em_log_softmax_backward(const em_tensor *grad_out, const em_tensor *y, int axis, em_tensor **grad_in) {
    return backward_impl("log_softmax_backward", grad_out, y, axis, true, grad_in);
}
