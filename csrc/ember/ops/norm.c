/* Layer, batch and group normalisation, forward and backward (ember/norm.h).
 *
 * Every input is first made contiguous in x's dtype (a new reference when
 * it already is).  Statistics are accumulated in double with LANES
 * independent partial sums (so the loops vectorise), in an order fixed by
 * the shapes alone:
 *  - layer and group norm: one row (contiguous) per task item, so any cut of
 *    the rows between threads gives the same bits;
 *  - weight and bias gradients of layer and group norm: one column block or
 *    channel per task item, summed over rows in row order;
 *  - batch norm: channel c's L = N * HW values are cut into fixed chunks of
 *    CHUNK values; each task item sums one (channel, chunk) into its own
 *    slot and the slots are added in chunk order afterwards.
 * mean and rstd are rounded to x's dtype before use, so the forward and a
 * backward given the saved tensors see the same values. */
#include "../internal.h"

#include <math.h>

#include "../autograd/ag.h"
#include "../base/threadpool.h"

#define LANES 8
#define COLS 256         /* columns per task item in the layer-norm weight gradients */
#define CHUNK 4096       /* values per batch-norm partial sum */
#define TASK_ELEMS 16384 /* elements a task item should at least cover */

static int64_t grain_for(int64_t per_item) { return per_item >= TASK_ELEMS ? 1 : TASK_ELEMS / (per_item ? per_item : 1); }

typedef struct {
    const void *x, *g, *w, *b, *mean, *rstd;
    void *y, *gw, *gb;
    double *p1, *p2;       /* batch norm partials */
    int64_t rows, m;       /* rows of m elements (layer/group norm) */
    int64_t n, c, hw, cg;  /* (N, C, HW); cg channels per group */
    int64_t nchunk;        /* batch norm chunks per channel */
    double eps;
    int mode;
    bool training;
} nctx;

/* The task functions are also built for AVX2 and AVX-512 (x86-64-v4),
 * chosen at load time (ifunc; GCC >= 11 on x86-64 Linux); the helpers are
 * inlined into each variant.  Contraction is off and every sum has explicit
 * lanes, so each variant does the same roundings in the same order: results
 * do not depend on the vector width (nor on the thread count, see above). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) && defined(__linux__) && \
    !defined(EM_NO_SIMD_CLONES)
#define NORM_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define NORM_CLONES
#endif
#define NORM_INLINE static inline __attribute__((always_inline))

/* lanes s[0..LANES) added pairwise */
NORM_INLINE double lanes_total(double *s) {
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int j = 0; j < w; j++) s[j] += s[j + w];
    return s[0];
}

/* Segments of one row of layer norm (mode 0: one segment of all m elements,
 * a weight per element) or group norm (mode 1: the group's cg channels, hw
 * elements each, one weight per channel).  Segment k covers elements
 * [k len, (k + 1) len) and its weights start at w + c0 + k, with stride step. */
typedef struct {
    int64_t nseg, len, c0;
    int step;
} segs;
static segs row_segs(const nctx *c, int64_t r) {
    if (c->mode == 0) return (segs){1, c->m, 0, 1};
    return (segs){c->cg, c->hw, r % (c->c / c->cg) * c->cg, 0};
}

#define NORM_KERNELS(T, SUF)                                                                          \
    /* sum (x - mu) (sq false) or sum (x - mu)^2 */                                                   \
    NORM_INLINE double sum_##SUF(const T *x, int64_t n, double mu, bool sq) {                        \
        double s[LANES] = {0};                                                                        \
        int64_t i = 0;                                                                                \
        if (sq)                                                                                       \
            for (; i + LANES <= n; i += LANES)                                                        \
                for (int j = 0; j < LANES; j++) s[j] += ((double)x[i + j] - mu) * ((double)x[i + j] - mu); \
        else                                                                                          \
            for (; i + LANES <= n; i += LANES)                                                        \
                for (int j = 0; j < LANES; j++) s[j] += (double)x[i + j] - mu;                         \
        for (; i < n; i++) s[0] += sq ? ((double)x[i] - mu) * ((double)x[i] - mu) : (double)x[i] - mu; \
        return lanes_total(s);                                                                        \
    }                                                                                                 \
    /* s1 = sum g w, s2 = sum g w (x - mu); w NULL: 1 (a loop of its own, so both vectorise) */      \
    NORM_INLINE void dots_##SUF(const T *g, const T *x, const T *w, int64_t n, double mu, double *s1, double *s2) { \
        double a[LANES] = {0}, b[LANES] = {0};                                                        \
        int64_t i = 0;                                                                                \
        if (w)                                                                                        \
            for (; i + LANES <= n; i += LANES)                                                        \
                for (int j = 0; j < LANES; j++) {                                                     \
                    double gw = (double)g[i + j] * (double)w[i + j];                                  \
                    a[j] += gw;                                                                       \
                    b[j] += gw * ((double)x[i + j] - mu);                                             \
                }                                                                                     \
        else                                                                                          \
            for (; i + LANES <= n; i += LANES)                                                        \
                for (int j = 0; j < LANES; j++) {                                                     \
                    double gw = (double)g[i + j];                                                     \
                    a[j] += gw;                                                                       \
                    b[j] += gw * ((double)x[i + j] - mu);                                             \
                }                                                                                     \
        for (; i < n; i++) {                                                                          \
            double gw = (double)g[i] * (w ? (double)w[i] : 1.0);                                      \
            a[0] += gw;                                                                               \
            b[0] += gw * ((double)x[i] - mu);                                                         \
        }                                                                                             \
        *s1 = lanes_total(a);                                                                         \
        *s2 = lanes_total(b);                                                                         \
    }                                                                                                 \
    /* mean and rstd of a contiguous row, rounded to T */                                             \
    NORM_INLINE void stats_##SUF(const T *x, int64_t m, double eps, T *mean, T *rstd) {               \
        double mu = sum_##SUF(x, m, 0, false) / (double)m;                                            \
        double var = sum_##SUF(x, m, mu, true) / (double)m;                                           \
        *mean = (T)mu;                                                                                \
        *rstd = (T)(1 / sqrt(var + eps));                                                             \
    }                                                                                                 \
    /* y = (x - mu) r w + b over n elements; w, b arrays (step 1) or one value (step 0) or NULL.     \
     * One loop per case, so none tests w or b per element and all vectorise; an absent w            \
     * multiplies by 1 (exact), an absent b adds nothing (adding 0 would turn -0 into +0). */        \
    NORM_INLINE void affine_##SUF(T *y, const T *x, int64_t n, T mu, T r, const T *w, const T *b, int step) { \
        if (step == 0) {                                                                              \
            const T w0 = w ? *w : (T)1;                                                               \
            if (b) {                                                                                  \
                const T b0 = *b;                                                                      \
                for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mu) * r * w0 + b0;                     \
            } else {                                                                                  \
                for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mu) * r * w0;                          \
            }                                                                                         \
        } else if (w && b) {                                                                          \
            for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mu) * r * w[i] + b[i];                     \
        } else if (w) {                                                                               \
            for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mu) * r * w[i];                            \
        } else if (b) {                                                                               \
            for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mu) * r + b[i];                            \
        } else {                                                                                      \
            for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mu) * r;                                   \
        }                                                                                             \
    }                                                                                                 \
    /* grad_x of a row segment: r (g w - a - (x - mu) rb); w as in affine_ */                        \
    NORM_INLINE void gx_##SUF(T *y, const T *g, const T *x, int64_t n, const T *w, int step, T mu, T r, T a, T rb) { \
        if (w && step) {                                                                              \
            for (int64_t i = 0; i < n; i++) y[i] = r * (g[i] * w[i] - a - (x[i] - mu) * rb);          \
        } else {                                                                                      \
            const T w0 = w ? *w : (T)1;                                                               \
            for (int64_t i = 0; i < n; i++) y[i] = r * (g[i] * w0 - a - (x[i] - mu) * rb);            \
        }                                                                                             \
    }                                                                                                 \
    /* layer norm (mode 0) and group norm (mode 1) forward: rows [b, e) */                            \
    NORM_CLONES static void rows_fwd_##SUF(void *ctx, int64_t b, int64_t e, int tid) {                \
        const nctx *c = ctx;                                                                          \
        const T *w = c->w, *bb = c->b;                                                                \
        for (int64_t r = b; r < e; r++) {                                                             \
            const T *x = (const T *)c->x + r * c->m;                                                  \
            T *y = (T *)c->y + r * c->m, mu, rs;                                                      \
            stats_##SUF(x, c->m, c->eps, &mu, &rs);                                                   \
            ((T *)c->mean)[r] = mu;                                                                   \
            ((T *)c->rstd)[r] = rs;                                                                   \
            segs sg = row_segs(c, r);                                                                 \
            for (int64_t k = 0; k < sg.nseg; k++)                                                     \
                affine_##SUF(y + k * sg.len, x + k * sg.len, sg.len, mu, rs, w ? w + sg.c0 + k : NULL, \
                             bb ? bb + sg.c0 + k : NULL, sg.step);                                    \
        }                                                                                             \
    }                                                                                                 \
    /* layer norm (mode 0) and group norm (mode 1) grad_x: rows [b, e) */                             \
    NORM_CLONES static void rows_bwd_##SUF(void *ctx, int64_t b, int64_t e, int tid) {                \
        const nctx *c = ctx;                                                                          \
        const T *w = c->w;                                                                            \
        for (int64_t r = b; r < e; r++) {                                                             \
            const T *x = (const T *)c->x + r * c->m, *g = (const T *)c->g + r * c->m;                 \
            T *y = (T *)c->y + r * c->m, mu = ((const T *)c->mean)[r], rs = ((const T *)c->rstd)[r];  \
            segs sg = row_segs(c, r);                                                                 \
            double s1 = 0, s2 = 0, t1, t2;                                                            \
            for (int64_t k = 0; k < sg.nseg; k++) {                                                   \
                const T *wk = w ? w + sg.c0 + k : NULL;                                               \
                dots_##SUF(g + k * sg.len, x + k * sg.len, sg.step ? wk : NULL, sg.len, mu, &t1, &t2); \
                if (sg.step || !wk) { /* weights inside the dots, or none */                          \
                    s1 += t1;                                                                         \
                    s2 += t2;                                                                         \
                } else {                                                                              \
                    s1 += (double)*wk * t1;                                                           \
                    s2 += (double)*wk * t2;                                                           \
                }                                                                                     \
            }                                                                                         \
            T a = (T)(s1 / (double)c->m), rb = (T)(s2 * (double)rs * (double)rs / (double)c->m);      \
            for (int64_t k = 0; k < sg.nseg; k++)                                                     \
                gx_##SUF(y + k * sg.len, g + k * sg.len, x + k * sg.len, sg.len, w ? w + sg.c0 + k : NULL, \
                         sg.step, mu, rs, a, rb);                                                     \
        }                                                                                             \
    }                                                                                                 \
    /* layer norm weight/bias gradients: column blocks [b, e) summed over rows in order */            \
    NORM_CLONES static void ln_wb_##SUF(void *ctx, int64_t b, int64_t e, int tid) {                   \
        const nctx *c = ctx;                                                                          \
        double aw[COLS], ab[COLS];                                                                    \
        for (int64_t blk = b; blk < e; blk++) {                                                       \
            int64_t j0 = blk * COLS, w = c->m - j0 < COLS ? c->m - j0 : COLS;                         \
            memset(aw, 0, sizeof aw);                                                                 \
            memset(ab, 0, sizeof ab);                                                                 \
            for (int64_t r = 0; r < c->rows; r++) {                                                   \
                const T *x = (const T *)c->x + r * c->m + j0, *g = (const T *)c->g + r * c->m + j0;   \
                double mu = ((const T *)c->mean)[r], rs = ((const T *)c->rstd)[r];                    \
                for (int64_t j = 0; j < w; j++) {                                                     \
                    aw[j] += (double)g[j] * (((double)x[j] - mu) * rs);                               \
                    ab[j] += g[j];                                                                    \
                }                                                                                     \
            }                                                                                         \
            for (int64_t j = 0; j < w; j++) {                                                         \
                if (c->gw) ((T *)c->gw)[j0 + j] = (T)aw[j];                                           \
                if (c->gb) ((T *)c->gb)[j0 + j] = (T)ab[j];                                           \
            }                                                                                         \
        }                                                                                             \
    }                                                                                                 \
    /* group norm weight/bias gradients: channels [b, e), each summed over n in order */              \
    NORM_CLONES static void gn_wb_##SUF(void *ctx, int64_t b, int64_t e, int tid) {                   \
        const nctx *c = ctx;                                                                          \
        int64_t groups = c->c / c->cg;                                                                \
        for (int64_t ch = b; ch < e; ch++) {                                                          \
            double sw = 0, sb = 0, t1, t2;                                                            \
            for (int64_t n = 0; n < c->n; n++) {                                                      \
                int64_t r = n * groups + ch / c->cg, off = (n * c->c + ch) * c->hw;                   \
                double mu = ((const T *)c->mean)[r], rs = ((const T *)c->rstd)[r];                    \
                dots_##SUF((const T *)c->g + off, (const T *)c->x + off, NULL, c->hw, mu, &t1, &t2);  \
                sb += t1;                                                                             \
                sw += t2 * rs;                                                                        \
            }                                                                                         \
            if (c->gw) ((T *)c->gw)[ch] = (T)sw;                                                      \
            if (c->gb) ((T *)c->gb)[ch] = (T)sb;                                                      \
        }                                                                                             \
    }                                                                                                 \
    /* batch norm partial sums of (channel, chunk) items [b, e): mode 0 sum x, mode 1 sum (x - mean)^2, \
     * mode 2 sum g and sum g (x - mean) */                                                           \
    NORM_CLONES static void bn_partial_##SUF(void *ctx, int64_t b, int64_t e, int tid) {              \
        const nctx *c = ctx;                                                                          \
        int64_t len = c->n * c->hw;                                                                   \
        for (int64_t t = b; t < e; t++) {                                                             \
            int64_t ch = t / c->nchunk, m = t % c->nchunk * CHUNK;                                    \
            int64_t end = m + CHUNK < len ? m + CHUNK : len;                                          \
            double mu = c->mode ? ((const T *)c->mean)[ch] : 0, s1 = 0, s2 = 0, t1, t2;               \
            while (m < end) {                                                                         \
                int64_t n = m / c->hw, i = m % c->hw, span = c->hw - i < end - m ? c->hw - i : end - m; \
                int64_t off = (n * c->c + ch) * c->hw + i;                                            \
                const T *x = (const T *)c->x + off;                                                   \
                if (c->mode == 2) {                                                                   \
                    dots_##SUF((const T *)c->g + off, x, NULL, span, mu, &t1, &t2);                   \
                    s1 += t1;                                                                         \
                    s2 += t2;                                                                         \
                } else {                                                                              \
                    s1 += sum_##SUF(x, span, mu, c->mode == 1);                                       \
                }                                                                                     \
                m += span;                                                                            \
            }                                                                                         \
            c->p1[t] = s1;                                                                            \
            if (c->mode == 2) c->p2[t] = s2;                                                          \
        }                                                                                             \
    }                                                                                                 \
    /* batch norm elementwise passes over (n, c) planes [b, e): mode 0 forward, mode 1 grad_x */      \
    NORM_CLONES static void bn_planes_##SUF(void *ctx, int64_t b, int64_t e, int tid) {               \
        const nctx *c = ctx;                                                                          \
        const T *w = c->w;                                                                            \
        for (int64_t p = b; p < e; p++) {                                                             \
            int64_t ch = p % c->c, off = p * c->hw;                                                   \
            T mu = ((const T *)c->mean)[ch], rs = ((const T *)c->rstd)[ch];                           \
            const T *x = (const T *)c->x + off;                                                       \
            T *y = (T *)c->y + off;                                                                   \
            if (c->mode == 0) {                                                                       \
                affine_##SUF(y, x, c->hw, mu, rs, w ? w + ch : NULL, c->b ? (const T *)c->b + ch : NULL, 0); \
                continue;                                                                             \
            }                                                                                         \
            const T *g = (const T *)c->g + off;                                                       \
            T wr = (w ? w[ch] : (T)1) * rs;                                                           \
            if (!c->training) {                                                                       \
                for (int64_t i = 0; i < c->hw; i++) y[i] = g[i] * wr;                                 \
                continue;                                                                             \
            }                                                                                         \
            double l = (double)(c->n * c->hw);                                                        \
            T a = (T)(c->p1[ch] / l), rb = (T)(c->p2[ch] * (double)rs * (double)rs / l);              \
            for (int64_t i = 0; i < c->hw; i++) y[i] = wr * (g[i] - a - (x[i] - mu) * rb);            \
        }                                                                                             \
    }
NORM_KERNELS(float, f32)
NORM_KERNELS(double, f64)

#define PICK(dt, name) ((dt) == EM_F32 ? name##_f32 : name##_f64)

/* ---- argument handling ------------------------------------------------- */

static em_status contiguous_as(const em_tensor *x, em_dtype dt, em_tensor **out) {
    if (x->dtype == dt && em__is_contiguous(x)) {
        *out = em_tensor_retain((em_tensor *)x);
        return EM_OK;
    }
    return em_tensor_cast(x, dt, out);
}

static em_status check_x(const char *op, const em_tensor *x, int min_ndim) {
    char b[EM_DESC_LEN];
    if (!em_dtype_is_float(x->dtype))
        return em__error(EM_ERR_DTYPE, "%s: input %s must be float32 or float64", op, em__desc(x, b));
    if (x->ndim < min_ndim)
        return em__error(EM_ERR_SHAPE, "%s: input %s must have at least %d dimensions", op, em__desc(x, b), min_ndim);
    return EM_OK;
}

/* Optional float tensor t named `what` that must have shape (nd, shape):
 * *out = a contiguous copy in dt, or NULL when t is NULL. */
static em_status param(const char *op, const char *what, const em_tensor *t, em_dtype dt, int nd, const int64_t *shape,
                       em_tensor **out) {
    *out = NULL;
    if (!t) return EM_OK;
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    if (!em_dtype_is_float(t->dtype))
        return em__error(EM_ERR_DTYPE, "%s: %s %s must be float32 or float64", op, what, em__desc(t, b1));
    if (t->ndim != nd || memcmp(t->shape, shape, (size_t)nd * sizeof *shape) != 0)
        return em__error(EM_ERR_SHAPE, "%s: %s has shape %s, expected %s", op, what, em__desc(t, b1),
                         em__shape_str(nd, shape, b2));
    return contiguous_as(t, dt, out);
}

/* Saved statistic (mean/rstd) of a backward: any float tensor of `count` elements. */
static em_status saved(const char *op, const char *what, const em_tensor *t, em_dtype dt, int64_t count,
                       em_tensor **out) {
    *out = NULL;
    char b[EM_DESC_LEN];
    if (!t) return em__error(EM_ERR_INVALID_ARG, "%s: %s is NULL", op, what);
    if (!em_dtype_is_float(t->dtype) || em__numel(t->ndim, t->shape) != count)
        return em__error(EM_ERR_SHAPE, "%s: %s %s must be a float tensor of %lld elements", op, what, em__desc(t, b),
                         (long long)count);
    return contiguous_as(t, dt, out);
}

static em_status check_grad(const char *op, const em_tensor *g, const em_tensor *x) {
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    if (!em_dtype_is_float(g->dtype))
        return em__error(EM_ERR_DTYPE, "%s: grad_out %s must be float32 or float64", op, em__desc(g, b1));
    if (g->ndim != x->ndim || memcmp(g->shape, x->shape, (size_t)x->ndim * sizeof(int64_t)) != 0)
        return em__error(EM_ERR_SHAPE, "%s: grad_out %s must have the shape of input %s", op, em__desc(g, b1),
                         em__desc(x, b2));
    return EM_OK;
}

/* Temporaries of one call: freed together. */
#define NTMP 8
typedef struct {
    em_tensor *t[NTMP];
    void *buf;
} temps;
static void temps_free(temps *tp) {
    for (int i = 0; i < NTMP; i++) em_tensor_free(tp->t[i]);
    em__free(tp->buf);
}
static const void *data_or_null(const em_tensor *t) { return t ? em__ptr(t) : NULL; }

/* Allocates the requested outputs (each `outs[i]` non-NULL) into res[i]. */
static em_status new_outputs(int n, em_tensor **const *outs, em_dtype dt, const int *nds, const int64_t *const *shapes,
                             em_tensor **res) {
    for (int i = 0; i < n; i++) res[i] = NULL;
    for (int i = 0; i < n; i++) {
        if (!outs[i]) continue;
        em_status st = em__new(dt, nds[i], shapes[i], &res[i]);
        if (st) {
            for (int j = 0; j < i; j++) em_tensor_free(res[j]);
            return st;
        }
    }
    return EM_OK;
}
static void publish(int n, em_tensor **const *outs, em_tensor **res) {
    for (int i = 0; i < n; i++)
        if (outs[i]) *outs[i] = res[i];
        else em_tensor_free(res[i]);
}

/* ---- layer norm --------------------------------------------------------- */

static em_status ln_check(const char *op, const em_tensor *x, int k, const int64_t *ns) {
    EM_TRY(check_x(op, x, 1));
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    if (k < 1 || k > x->ndim || !ns)
        return em__error(EM_ERR_SHAPE, "%s: normalized_shape must have 1 to %d dimensions for input %s, got %d", op,
                         x->ndim, em__desc(x, b1), k);
    if (memcmp(x->shape + x->ndim - k, ns, (size_t)k * sizeof *ns) != 0)
        return em__error(EM_ERR_SHAPE, "%s: normalized_shape %s must equal the last dimensions of input %s", op,
                         em__shape_str(k, ns, b2), em__desc(x, b1));
    return EM_OK;
}

static em_status em_layer_norm_raw(const em_tensor *x, int k, const int64_t *normalized_shape, const em_tensor *weight,
                        const em_tensor *bias, double eps, em_tensor **out, em_tensor **mean, em_tensor **rstd) {
    const char *op = "layer_norm";
    if (!x || !out) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    EM_TRY(ln_check(op, x, k, normalized_shape));
    em_dtype dt = x->dtype;
    int nd = x->ndim;
    int64_t sshape[EM_MAX_DIMS];
    memcpy(sshape, x->shape, sizeof sshape);
    for (int i = nd - k; i < nd; i++) sshape[i] = 1;
    em_tensor *res[3], **const outs[3] = {out, mean, rstd};
    const int nds[3] = {nd, nd, nd};
    const int64_t *const shapes[3] = {x->shape, sshape, sshape};
    temps tp = {.buf = NULL};
    em_status st = param(op, "weight", weight, dt, k, normalized_shape, &tp.t[0]);
    if (!st) st = param(op, "bias", bias, dt, k, normalized_shape, &tp.t[1]);
    if (!st) st = contiguous_as(x, dt, &tp.t[2]);
    /* mean and rstd are always computed; unwanted ones are freed at the end */
    em_tensor **const all[3] = {out, out, out};
    if (!st) st = new_outputs(3, all, dt, nds, shapes, res);
    if (st) {
        temps_free(&tp);
        return st;
    }
    nctx c = {.x = em__ptr(tp.t[2]), .w = data_or_null(tp.t[0]), .b = data_or_null(tp.t[1]), .y = em__ptr(res[0]),
              .mean = em__ptr(res[1]), .rstd = em__ptr(res[2]), .m = em__numel(k, normalized_shape), .eps = eps};
    c.rows = em__numel(nd - k, x->shape);
    if (c.m > 0) em__parallel_for(c.rows, grain_for(c.m), em__threads(), PICK(dt, rows_fwd), &c);
    else
        for (int64_t r = 0; r < c.rows; r++) em__store(dt, (char *)em__ptr(res[1]) + r * em__dsize(dt), NAN),
                                             em__store(dt, (char *)em__ptr(res[2]) + r * em__dsize(dt), NAN);
    temps_free(&tp);
    publish(3, outs, res);
    return EM_OK;
}

em_status em_layer_norm_backward(const em_tensor *grad_out, const em_tensor *x, int k, const int64_t *normalized_shape,
                                 const em_tensor *mean, const em_tensor *rstd, const em_tensor *weight,
                                 em_tensor **grad_x, em_tensor **grad_weight, em_tensor **grad_bias) {
    const char *op = "layer_norm_backward";
    if (!grad_out || !x) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    EM_TRY(ln_check(op, x, k, normalized_shape));
    EM_TRY(check_grad(op, grad_out, x));
    if (grad_weight && !weight)
        return em__error(EM_ERR_INVALID_ARG, "%s: grad_weight requested without a weight", op);
    em_dtype dt = x->dtype;
    int nd = x->ndim;
    int64_t rows = em__numel(nd - k, x->shape);
    em_tensor *res[3], **const outs[3] = {grad_x, grad_weight, grad_bias};
    const int nds[3] = {nd, k, k};
    const int64_t *const shapes[3] = {x->shape, normalized_shape, normalized_shape};
    temps tp = {.buf = NULL};
    em_status st = param(op, "weight", weight, dt, k, normalized_shape, &tp.t[0]);
    if (!st) st = saved(op, "mean", mean, dt, rows, &tp.t[1]);
    if (!st) st = saved(op, "rstd", rstd, dt, rows, &tp.t[2]);
    if (!st) st = contiguous_as(x, dt, &tp.t[3]);
    if (!st) st = contiguous_as(grad_out, dt, &tp.t[4]);
    if (!st) st = new_outputs(3, outs, dt, nds, shapes, res);
    if (st) {
        temps_free(&tp);
        return st;
    }
    nctx c = {.x = em__ptr(tp.t[3]), .g = em__ptr(tp.t[4]), .w = data_or_null(tp.t[0]), .mean = em__ptr(tp.t[1]),
              .rstd = em__ptr(tp.t[2]), .y = res[0] ? em__ptr(res[0]) : NULL, .gw = res[1] ? em__ptr(res[1]) : NULL,
              .gb = res[2] ? em__ptr(res[2]) : NULL, .rows = rows, .m = em__numel(k, normalized_shape)};
    int nt = em__threads();
    if (res[0] && c.m > 0) em__parallel_for(rows, grain_for(c.m), nt, PICK(dt, rows_bwd), &c);
    if (res[1] || res[2]) em__parallel_for((c.m + COLS - 1) / COLS, 1, nt, PICK(dt, ln_wb), &c);
    temps_free(&tp);
    publish(3, outs, res);
    return EM_OK;
}

/* ---- group norm --------------------------------------------------------- */

static em_status gn_check(const char *op, const em_tensor *x, int64_t groups) {
    EM_TRY(check_x(op, x, 2));
    char b[EM_DESC_LEN];
    if (groups < 1 || x->shape[1] % groups != 0)
        return em__error(EM_ERR_INVALID_ARG, "%s: num_groups %lld must be >= 1 and divide the channels of input %s",
                         op, (long long)groups, em__desc(x, b));
    return EM_OK;
}

static void gn_geometry(const em_tensor *x, int64_t groups, nctx *c) {
    c->n = x->shape[0];
    c->c = x->shape[1];
    c->hw = em__numel(x->ndim - 2, x->shape + 2);
    c->cg = c->c / groups;
    c->rows = c->n * groups;
    c->m = c->cg * c->hw;
    c->mode = 1;
}

static em_status em_group_norm_raw(const em_tensor *x, int64_t num_groups, const em_tensor *weight, const em_tensor *bias,
                        double eps, em_tensor **out, em_tensor **mean, em_tensor **rstd) {
    const char *op = "group_norm";
    if (!x || !out) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    EM_TRY(gn_check(op, x, num_groups));
    em_dtype dt = x->dtype;
    const int64_t sshape[2] = {x->shape[0], num_groups};
    em_tensor *res[3], **const outs[3] = {out, mean, rstd}, **const all[3] = {out, out, out};
    const int nds[3] = {x->ndim, 2, 2};
    const int64_t *const shapes[3] = {x->shape, sshape, sshape};
    temps tp = {.buf = NULL};
    em_status st = param(op, "weight", weight, dt, 1, x->shape + 1, &tp.t[0]);
    if (!st) st = param(op, "bias", bias, dt, 1, x->shape + 1, &tp.t[1]);
    if (!st) st = contiguous_as(x, dt, &tp.t[2]);
    if (!st) st = new_outputs(3, all, dt, nds, shapes, res);
    if (st) {
        temps_free(&tp);
        return st;
    }
    nctx c = {.x = em__ptr(tp.t[2]), .w = data_or_null(tp.t[0]), .b = data_or_null(tp.t[1]), .y = em__ptr(res[0]),
              .mean = em__ptr(res[1]), .rstd = em__ptr(res[2]), .eps = eps};
    gn_geometry(x, num_groups, &c);
    if (c.m > 0) em__parallel_for(c.rows, grain_for(c.m), em__threads(), PICK(dt, rows_fwd), &c);
    else
        for (int64_t r = 0; r < c.rows; r++) em__store(dt, (char *)em__ptr(res[1]) + r * em__dsize(dt), NAN),
                                             em__store(dt, (char *)em__ptr(res[2]) + r * em__dsize(dt), NAN);
    temps_free(&tp);
    publish(3, outs, res);
    return EM_OK;
}

em_status em_group_norm_backward(const em_tensor *grad_out, const em_tensor *x, int64_t num_groups,
                                 const em_tensor *mean, const em_tensor *rstd, const em_tensor *weight,
                                 em_tensor **grad_x, em_tensor **grad_weight, em_tensor **grad_bias) {
    const char *op = "group_norm_backward";
    if (!grad_out || !x) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    EM_TRY(gn_check(op, x, num_groups));
    EM_TRY(check_grad(op, grad_out, x));
    if (grad_weight && !weight)
        return em__error(EM_ERR_INVALID_ARG, "%s: grad_weight requested without a weight", op);
    em_dtype dt = x->dtype;
    em_tensor *res[3], **const outs[3] = {grad_x, grad_weight, grad_bias};
    const int nds[3] = {x->ndim, 1, 1};
    const int64_t *const shapes[3] = {x->shape, x->shape + 1, x->shape + 1};
    temps tp = {.buf = NULL};
    int64_t rows = x->shape[0] * num_groups;
    em_status st = param(op, "weight", weight, dt, 1, x->shape + 1, &tp.t[0]);
    if (!st) st = saved(op, "mean", mean, dt, rows, &tp.t[1]);
    if (!st) st = saved(op, "rstd", rstd, dt, rows, &tp.t[2]);
    if (!st) st = contiguous_as(x, dt, &tp.t[3]);
    if (!st) st = contiguous_as(grad_out, dt, &tp.t[4]);
    if (!st) st = new_outputs(3, outs, dt, nds, shapes, res);
    if (st) {
        temps_free(&tp);
        return st;
    }
    nctx c = {.x = em__ptr(tp.t[3]), .g = em__ptr(tp.t[4]), .w = data_or_null(tp.t[0]), .mean = em__ptr(tp.t[1]),
              .rstd = em__ptr(tp.t[2]), .y = res[0] ? em__ptr(res[0]) : NULL, .gw = res[1] ? em__ptr(res[1]) : NULL,
              .gb = res[2] ? em__ptr(res[2]) : NULL};
    gn_geometry(x, num_groups, &c);
    int nt = em__threads();
    if (res[0] && c.m > 0) em__parallel_for(c.rows, grain_for(c.m), nt, PICK(dt, rows_bwd), &c);
    if (res[1] || res[2]) em__parallel_for(c.c, grain_for(c.n * c.hw), nt, PICK(dt, gn_wb), &c);
    temps_free(&tp);
    publish(3, outs, res);
    return EM_OK;
}

/* ---- batch norm --------------------------------------------------------- */

em_batch_norm_options em_batch_norm_default_options(void) {
    return (em_batch_norm_options){.training = true, .momentum = 0.1, .eps = 1e-5};
}

static void bn_geometry(const em_tensor *x, nctx *c) {
    c->n = x->shape[0];
    c->c = x->shape[1];
    c->hw = em__numel(x->ndim - 2, x->shape + 2);
    int64_t len = c->n * c->hw;
    c->nchunk = len ? (len + CHUNK - 1) / CHUNK : 0;
}

/* Per-channel sums of the current mode into c->p1 (and c->p2): partials
 * per (channel, chunk), then added in chunk order into slot ch. */
static void bn_sums(nctx *c, em_dtype dt) {
    int64_t items = c->c * c->nchunk;
    em__parallel_for(items, grain_for(CHUNK), em__threads(), PICK(dt, bn_partial), c);
    for (int64_t ch = 0; ch < c->c; ch++) {
        double s1 = 0, s2 = 0;
        for (int64_t k = 0; k < c->nchunk; k++) {
            s1 += c->p1[ch * c->nchunk + k];
            if (c->mode == 2) s2 += c->p2[ch * c->nchunk + k];
        }
        c->p1[ch] = s1; /* ch <= ch * nchunk: slots already read */
        if (c->mode == 2) c->p2[ch] = s2;
    }
}

static em_status running_check(const char *op, const char *what, const em_tensor *t, int64_t ch) {
    char b[EM_DESC_LEN];
    if (!em_dtype_is_float(t->dtype) || t->ndim != 1 || t->shape[0] != ch)
        return em__error(EM_ERR_SHAPE, "%s: %s %s must be a float tensor of shape (%lld,)", op, what, em__desc(t, b),
                         (long long)ch);
    return EM_OK;
}
static double running_get(const em_tensor *t, int64_t i) {
    return em__load(t->dtype, em__ptr(t) + i * t->strides[0] * (int64_t)em__dsize(t->dtype));
}
static void running_set(em_tensor *t, int64_t i, double v) {
    em__store(t->dtype, em__ptr(t) + i * t->strides[0] * (int64_t)em__dsize(t->dtype), v);
}

static em_status em_batch_norm_raw(const em_tensor *x, em_tensor *running_mean, em_tensor *running_var, const em_tensor *weight,
                        const em_tensor *bias, const em_batch_norm_options *opt, em_tensor **out, em_tensor **save_mean,
                        em_tensor **save_rstd) {
    const char *op = "batch_norm";
    if (!x || !out) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    em_batch_norm_options o = opt ? *opt : em_batch_norm_default_options();
    EM_TRY(check_x(op, x, 2));
    char b[EM_DESC_LEN];
    int64_t ch = x->shape[1], len = x->shape[0] * em__numel(x->ndim - 2, x->shape + 2);
    if (!running_mean != !running_var)
        return em__error(EM_ERR_INVALID_ARG, "%s: give both running_mean and running_var or neither", op);
    if (!o.training && !running_mean)
        return em__error(EM_ERR_INVALID_ARG, "%s: eval mode needs running_mean and running_var", op);
    if (o.training && len < 2)
        return em__error(EM_ERR_INVALID_ARG, "%s: expected more than 1 value per channel when training, got input %s",
                         op, em__desc(x, b));
    if (running_mean) {
        EM_TRY(running_check(op, "running_mean", running_mean, ch));
        EM_TRY(running_check(op, "running_var", running_var, ch));
    }
    em_dtype dt = x->dtype;
    em_tensor *res[3], **const outs[3] = {out, save_mean, save_rstd}, **const all[3] = {out, out, out};
    const int nds[3] = {x->ndim, 1, 1};
    const int64_t *const shapes[3] = {x->shape, x->shape + 1, x->shape + 1};
    temps tp = {.buf = NULL};
    nctx c = {.training = o.training};
    bn_geometry(x, &c);
    em_status st = param(op, "weight", weight, dt, 1, x->shape + 1, &tp.t[0]);
    if (!st) st = param(op, "bias", bias, dt, 1, x->shape + 1, &tp.t[1]);
    if (!st) st = contiguous_as(x, dt, &tp.t[2]);
    size_t slots = (size_t)(c.c * (c.nchunk > 1 ? c.nchunk : 1));
    if (!st && o.training) st = em__alloc_or_fail(slots * sizeof(double), op, &tp.buf);
    if (!st) st = new_outputs(3, all, dt, nds, shapes, res);
    if (st) {
        temps_free(&tp);
        return st;
    }
    c.x = em__ptr(tp.t[2]);
    c.w = data_or_null(tp.t[0]);
    c.b = data_or_null(tp.t[1]);
    c.y = em__ptr(res[0]);
    c.mean = em__ptr(res[1]);
    c.rstd = em__ptr(res[2]);
    c.p1 = tp.buf;
    for (int pass = 0; pass < 2 && o.training; pass++) {
        c.mode = pass;
        bn_sums(&c, dt);
        for (int64_t i = 0; i < ch; i++) {
            if (pass == 0) em__store(dt, (char *)c.mean + i * em__dsize(dt), c.p1[i] / (double)len);
            else em__store(dt, (char *)c.rstd + i * em__dsize(dt), 1 / sqrt(c.p1[i] / (double)len + o.eps));
        }
        if (pass == 1 && running_mean)
            for (int64_t i = 0; i < ch; i++) {
                double mu = em__load(dt, (char *)c.mean + i * em__dsize(dt));
                double var_unbiased = c.p1[i] / (double)(len - 1);
                running_set(running_mean, i, (1 - o.momentum) * running_get(running_mean, i) + o.momentum * mu);
                running_set(running_var, i, (1 - o.momentum) * running_get(running_var, i) + o.momentum * var_unbiased);
            }
    }
    if (!o.training)
        for (int64_t i = 0; i < ch; i++) {
            em__store(dt, (char *)c.mean + i * em__dsize(dt), running_get(running_mean, i));
            em__store(dt, (char *)c.rstd + i * em__dsize(dt), 1 / sqrt(running_get(running_var, i) + o.eps));
        }
    c.mode = 0;
    em__parallel_for(c.n * c.c, grain_for(c.hw), em__threads(), PICK(dt, bn_planes), &c);
    temps_free(&tp);
    publish(3, outs, res);
    return EM_OK;
}

em_status em_batch_norm_backward(const em_tensor *grad_out, const em_tensor *x, const em_tensor *weight,
                                 const em_tensor *save_mean, const em_tensor *save_rstd, bool training,
                                 em_tensor **grad_x, em_tensor **grad_weight, em_tensor **grad_bias) {
    const char *op = "batch_norm_backward";
    if (!grad_out || !x) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    EM_TRY(check_x(op, x, 2));
    EM_TRY(check_grad(op, grad_out, x));
    if (grad_weight && !weight)
        return em__error(EM_ERR_INVALID_ARG, "%s: grad_weight requested without a weight", op);
    em_dtype dt = x->dtype;
    em_tensor *res[3], **const outs[3] = {grad_x, grad_weight, grad_bias};
    const int nds[3] = {x->ndim, 1, 1};
    const int64_t *const shapes[3] = {x->shape, x->shape + 1, x->shape + 1};
    temps tp = {.buf = NULL};
    nctx c = {.training = training, .mode = 2};
    bn_geometry(x, &c);
    em_status st = param(op, "weight", weight, dt, 1, x->shape + 1, &tp.t[0]);
    if (!st) st = saved(op, "save_mean", save_mean, dt, c.c, &tp.t[1]);
    if (!st) st = saved(op, "save_rstd", save_rstd, dt, c.c, &tp.t[2]);
    if (!st) st = contiguous_as(x, dt, &tp.t[3]);
    if (!st) st = contiguous_as(grad_out, dt, &tp.t[4]);
    size_t slots = (size_t)(c.c * (c.nchunk > 1 ? c.nchunk : 1));
    if (!st) st = em__alloc_or_fail(2 * slots * sizeof(double), op, &tp.buf);
    if (!st) st = new_outputs(3, outs, dt, nds, shapes, res);
    if (st) {
        temps_free(&tp);
        return st;
    }
    c.w = data_or_null(tp.t[0]);
    c.mean = em__ptr(tp.t[1]);
    c.rstd = em__ptr(tp.t[2]);
    c.x = em__ptr(tp.t[3]);
    c.g = em__ptr(tp.t[4]);
    c.p1 = tp.buf;
    c.p2 = c.p1 + slots;
    bn_sums(&c, dt);
    for (int64_t i = 0; i < c.c; i++) {
        double rs = em__load(dt, (const char *)c.rstd + i * em__dsize(dt));
        if (res[1]) em__store(dt, (char *)em__ptr(res[1]) + i * em__dsize(dt), c.p2[i] * rs);
        if (res[2]) em__store(dt, (char *)em__ptr(res[2]) + i * em__dsize(dt), c.p1[i]);
    }
    if (res[0]) {
        c.y = em__ptr(res[0]);
        c.mode = 1;
        em__parallel_for(c.n * c.c, grain_for(c.hw), em__threads(), PICK(dt, bn_planes), &c);
    }
    temps_free(&tp);
    publish(3, outs, res);
    return EM_OK;
}

/* ---- public entries: compute, then record for autograd when an input
 * requires grad (backward_norm.c); the statistics the backward needs are
 * requested from the kernel even when the caller does not want them. */
static bool norm_rec(const em_tensor *x, const em_tensor *w, const em_tensor *b) {
    return !em__ag_off && (em__ag_req(x) || em__ag_req(w) || em__ag_req(b)) && em_dtype_is_float(x->dtype);
}

static em_status hand_back(em_status st, em_tensor *m, em_tensor *r, em_tensor **mean, em_tensor **rstd) {
    if (!st && mean) *mean = em_tensor_retain(m);
    if (!st && rstd) *rstd = em_tensor_retain(r);
    em_tensor_free(m), em_tensor_free(r);
    return st;
}

em_status em_layer_norm(const em_tensor *x, int k, const int64_t *normalized_shape, const em_tensor *weight,
                        const em_tensor *bias, double eps, em_tensor **out, em_tensor **mean, em_tensor **rstd) {
    if (!x || !norm_rec(x, weight, bias) || k < 0 || k > 6)
        return em_layer_norm_raw(x, k, normalized_shape, weight, bias, eps, out, mean, rstd);
    em_tensor *m = NULL, *r = NULL;
    EM_TRY(em_layer_norm_raw(x, k, normalized_shape, weight, bias, eps, out, &m, &r));
    int64_t p[7] = {k};
    memcpy(p + 1, normalized_shape, (size_t)k * sizeof *p);
    return hand_back(em__ag_norm(0, x, weight, bias, m, r, p, 1 + k, eps, out), m, r, mean, rstd);
}

em_status em_group_norm(const em_tensor *x, int64_t num_groups, const em_tensor *weight, const em_tensor *bias,
                        double eps, em_tensor **out, em_tensor **mean, em_tensor **rstd) {
    if (!x || !norm_rec(x, weight, bias)) return em_group_norm_raw(x, num_groups, weight, bias, eps, out, mean, rstd);
    em_tensor *m = NULL, *r = NULL;
    EM_TRY(em_group_norm_raw(x, num_groups, weight, bias, eps, out, &m, &r));
    return hand_back(em__ag_norm(1, x, weight, bias, m, r, &num_groups, 1, eps, out), m, r, mean, rstd);
}

em_status em_batch_norm(const em_tensor *x, em_tensor *running_mean, em_tensor *running_var, const em_tensor *weight,
                        const em_tensor *bias, const em_batch_norm_options *opt, em_tensor **out,
                        em_tensor **save_mean, em_tensor **save_rstd) {
    if (!x || !norm_rec(x, weight, bias))
        return em_batch_norm_raw(x, running_mean, running_var, weight, bias, opt, out, save_mean, save_rstd);
    em_tensor *m = NULL, *r = NULL;
    EM_TRY(em_batch_norm_raw(x, running_mean, running_var, weight, bias, opt, out, &m, &r));
    em_batch_norm_options d = em_batch_norm_default_options();
    if (!opt) opt = &d;
    int64_t training = opt->training;
    return hand_back(em__ag_norm(2, x, weight, bias, m, r, &training, 1, opt->eps, out), m, r, save_mean, save_rstd);
}
