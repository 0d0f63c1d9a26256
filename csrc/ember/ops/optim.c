/* Fused optimiser updates and gradient clipping (ember/optim.h).
 *
 * PyTorch's single-tensor optimisers run a chain of in-place tensor ops per
 * parameter (mul_, add_, lerp_, addcmul_, sqrt, addcdiv_), each a pass over
 * memory.  Here one loop reads every operand once and writes each once, but
 * keeps torch's order of operations and rounds its scalar coefficients to the
 * parameter's dtype as torch's kernels do, so float32 runs track torch to a
 * few ulps per step.  The updates are elementwise, so any cut of the index
 * range across threads gives the same bits. */
#include "internal.h"
#include "base/threadpool.h"

#include <math.h>

/* Elements per parallel range: updates stream 3-5 arrays, so a range this
 * size is tens of microseconds, well above the pool's wake-up cost. */
#define OPT_GRAIN 32768

/* ---- argument checks ------------------------------------------------------------------------ */

static em_status check_param(const char *op, const em_tensor *p) {
    char d[EM_DESC_LEN];
    if (!p) return em__error(EM_ERR_INVALID_ARG, "%s: param is NULL", op);
    if (p->dtype != EM_F32 && p->dtype != EM_F64)
        return em__error(EM_ERR_DTYPE, "%s: param %s must be float32 or float64", op, em__desc(p, d));
    if (!em__is_contiguous(p))
        return em__error(EM_ERR_INVALID_ARG, "%s: param %s must be contiguous", op, em__desc(p, d));
    return EM_OK;
}

/* t must exist and match p's shape and dtype, contiguous. */
static em_status check_like(const char *op, const em_tensor *p, const em_tensor *t, const char *what) {
    char dp[EM_DESC_LEN], dt[EM_DESC_LEN];
    if (!t) return em__error(EM_ERR_INVALID_ARG, "%s: %s is NULL", op, what);
    bool same_shape = t->ndim == p->ndim;
    for (int i = 0; same_shape && i < p->ndim; i++) same_shape = t->shape[i] == p->shape[i];
    if (!same_shape)
        return em__error(EM_ERR_SHAPE, "%s: %s %s does not match param %s", op, what, em__desc(t, dt),
                         em__desc(p, dp));
    if (t->dtype != p->dtype)
        return em__error(EM_ERR_DTYPE, "%s: %s %s does not match param %s", op, what, em__desc(t, dt),
                         em__desc(p, dp));
    if (!em__is_contiguous(t))
        return em__error(EM_ERR_INVALID_ARG, "%s: %s %s must be contiguous", op, what, em__desc(t, dt));
    return EM_OK;
}

static em_status check_finite(const char *op, const char *name, double v, bool nonneg) {
    if (isnan(v) || (nonneg && v < 0))
        return em__error(EM_ERR_INVALID_ARG, "%s: %s must be %s, got %g", op, name,
                         nonneg ? "a non-negative number" : "a number", v);
    return EM_OK;
}

static em_status check_beta(const char *op, const char *name, double v) {
    if (!(v >= 0 && v < 1)) return em__error(EM_ERR_INVALID_ARG, "%s: %s must be in [0, 1), got %g", op, name, v);
    return EM_OK;
}

/* torch.lerp: two forms so that a weight near 1 keeps its precision. */
#define LERP(a, b, w) ((w) < 0.5f ? (a) + (w) * ((b) - (a)) : (b) - ((b) - (a)) * (1 - (w)))
#define SQRT_f32 sqrtf
#define SQRT_f64 sqrt

/* The update loops vectorise: every option that does not change which
 * arrays are touched is a select on a loop-invariant flag (both sides are
 * computed, one is kept, so the rounding is that of the scalar code), and
 * options that add an array (momentum, amsgrad, centered) pick one of a few
 * loop variants through an always-inlined body with constant flags.  Lanes
 * do not interact, so the bits are those of the scalar loop.  The default
 * -O2 cost model would leave loops with a remainder scalar, and trapping
 * math would forbid computing a discarded side. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic", "no-trapping-math")
#endif
#define BODY static inline __attribute__((always_inline)) void

/* ---- SGD ------------------------------------------------------------------------------------ */

em_sgd_options em_sgd_default_options(void) {
    return (em_sgd_options){.lr = 1e-3};
}

typedef struct {
    void *p, *b;
    const void *g;
    double lr, mom, damp, wd;
    bool nesterov, maximize, first, has_mom;
} sgd_ctx;

#define SGD_RANGE(T, S)                                                                 \
    BODY sgd_body_##S(T *restrict p, T *restrict b, const T *restrict gr, int64_t lo, int64_t hi, \
                      const sgd_ctx *c, const bool has_mom) {                            \
        const T neg_lr = (T)-c->lr, wd = (T)c->wd, mom = (T)c->mom, keep = (T)(1 - c->damp), \
                sign = c->maximize ? -1 : 1;                                            \
        const bool use_wd = c->wd != 0, nesterov = c->nesterov, first = c->first;       \
        for (int64_t i = lo; i < hi; i++) {                                             \
            T g = sign * gr[i];                                                         \
            T gw = g + wd * p[i];                                                       \
            g = use_wd ? gw : g;                                                        \
            if (has_mom) {                                                              \
                T bi = b[i] * mom + keep * g;                                           \
                bi = first ? g : bi;                                                    \
                b[i] = bi;                                                              \
                T gn = g + mom * bi;                                                    \
                g = nesterov ? gn : bi;                                                 \
            }                                                                           \
            p[i] = p[i] + neg_lr * g;                                                   \
        }                                                                               \
    }                                                                                   \
    static void sgd_range_##S(void *vctx, int64_t lo, int64_t hi, int tid) {            \
        const sgd_ctx *c = vctx;                                                        \
        if (c->has_mom) sgd_body_##S(c->p, c->b, c->g, lo, hi, c, true);                \
        else sgd_body_##S(c->p, NULL, c->g, lo, hi, c, false);                          \
    }
SGD_RANGE(float, f32)
SGD_RANGE(double, f64)

em_status em_sgd_step(em_tensor *param, const em_tensor *grad, em_tensor *momentum_buf, bool first_step,
                      const em_sgd_options *opts) {
    static const char op[] = "em_sgd_step";
    em_sgd_options o = opts ? *opts : em_sgd_default_options();
    EM_TRY(check_param(op, param));
    EM_TRY(check_like(op, param, grad, "grad"));
    EM_TRY(check_finite(op, "lr", o.lr, true));
    EM_TRY(check_finite(op, "momentum", o.momentum, true));
    EM_TRY(check_finite(op, "dampening", o.dampening, false));
    EM_TRY(check_finite(op, "weight_decay", o.weight_decay, true));
    if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
        return em__error(EM_ERR_INVALID_ARG, "%s: nesterov needs momentum > 0 and dampening 0 (got %g, %g)", op,
                         o.momentum, o.dampening);
    if (o.momentum != 0) EM_TRY(check_like(op, param, momentum_buf, "momentum_buf"));
    sgd_ctx c = {em__ptr(param), o.momentum != 0 ? em__ptr(momentum_buf) : NULL, em__ptr(grad), o.lr, o.momentum,
                 o.dampening, o.weight_decay, o.nesterov, o.maximize, first_step, o.momentum != 0};
    em__parallel_for(em_tensor_numel(param), OPT_GRAIN, em__threads(),
                     param->dtype == EM_F32 ? sgd_range_f32 : sgd_range_f64, &c);
    return EM_OK;
}

/* ---- Adam / AdamW --------------------------------------------------------------------------- */

em_adam_options em_adam_default_options(void) {
    return (em_adam_options){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
}

em_adam_options em_adamw_default_options(void) {
    em_adam_options o = em_adam_default_options();
    o.weight_decay = 1e-2;
    o.decoupled_weight_decay = true;
    return o;
}

typedef struct {
    void *p, *m, *v, *vmax;
    const void *g;
    double decay, wd, w1, beta2, c2, neg_step, bc2_sqrt, eps;
    bool maximize, amsgrad, decoupled;
} adam_ctx;

#define ADAM_RANGE(T, S)                                                                \
    BODY adam_body_##S(T *restrict p, T *restrict m, T *restrict v, T *restrict vmax,   \
                       const T *restrict gr, int64_t lo, int64_t hi, const adam_ctx *c, const bool ams) { \
        const T decay = (T)c->decay, wd = (T)c->wd, w1 = (T)c->w1, b2 = (T)c->beta2,    \
                c2 = (T)c->c2, neg_step = (T)c->neg_step, bc2 = (T)c->bc2_sqrt, eps = (T)c->eps, \
                sign = c->maximize ? -1 : 1;                                            \
        const bool l2 = c->wd != 0 && !c->decoupled, dec = c->wd != 0 && c->decoupled;  \
        for (int64_t i = lo; i < hi; i++) {                                             \
            T g = sign * gr[i];                                                         \
            T pi = p[i];                                                                \
            T pd = pi * decay;                                                          \
            pi = dec ? pd : pi;                                                         \
            T gw = g + wd * pi;                                                         \
            g = l2 ? gw : g;                                                            \
            T mi = LERP(m[i], g, w1);                                                   \
            T vi = v[i] * b2 + c2 * g * g;                                              \
            m[i] = mi;                                                                  \
            v[i] = vi;                                                                  \
            if (ams) {                                                                  \
                T old = vmax[i];                                                        \
                vi = old > vi || old != old ? old : vi; /* torch.maximum keeps NaN */  \
                vmax[i] = vi;                                                           \
            }                                                                           \
            T denom = SQRT_##S(vi) / bc2 + eps;                                         \
            p[i] = pi + neg_step * mi / denom;                                          \
        }                                                                               \
    }                                                                                   \
    static void adam_range_##S(void *vctx, int64_t lo, int64_t hi, int tid) {           \
        const adam_ctx *c = vctx;                                                       \
        if (c->amsgrad) adam_body_##S(c->p, c->m, c->v, c->vmax, c->g, lo, hi, c, true); \
        else adam_body_##S(c->p, c->m, c->v, NULL, c->g, lo, hi, c, false);             \
    }
ADAM_RANGE(float, f32)
ADAM_RANGE(double, f64)

em_status em_adam_step(em_tensor *param, const em_tensor *grad, em_tensor *exp_avg, em_tensor *exp_avg_sq,
                       em_tensor *max_exp_avg_sq, double step, const em_adam_options *opts) {
    static const char op[] = "em_adam_step";
    em_adam_options o = opts ? *opts : em_adam_default_options();
    EM_TRY(check_param(op, param));
    EM_TRY(check_like(op, param, grad, "grad"));
    EM_TRY(check_like(op, param, exp_avg, "exp_avg"));
    EM_TRY(check_like(op, param, exp_avg_sq, "exp_avg_sq"));
    if (o.amsgrad) EM_TRY(check_like(op, param, max_exp_avg_sq, "max_exp_avg_sq"));
    EM_TRY(check_finite(op, "lr", o.lr, true));
    EM_TRY(check_finite(op, "eps", o.eps, true));
    EM_TRY(check_finite(op, "weight_decay", o.weight_decay, true));
    EM_TRY(check_beta(op, "beta1", o.beta1));
    EM_TRY(check_beta(op, "beta2", o.beta2));
    if (!(step >= 1)) return em__error(EM_ERR_INVALID_ARG, "%s: step must be >= 1, got %g", op, step);
    /* Scalars as torch forms them, in Python floats (double). */
    double bc1 = 1 - pow(o.beta1, step), bc2 = 1 - pow(o.beta2, step);
    adam_ctx c = {em__ptr(param),       em__ptr(exp_avg), em__ptr(exp_avg_sq),
                  o.amsgrad ? em__ptr(max_exp_avg_sq) : NULL,
                  em__ptr(grad),        1 - o.lr * o.weight_decay, o.weight_decay, 1 - o.beta1, o.beta2, 1 - o.beta2,
                  -(o.lr / bc1),        pow(bc2, 0.5), o.eps, o.maximize, o.amsgrad, o.decoupled_weight_decay};
    em__parallel_for(em_tensor_numel(param), OPT_GRAIN, em__threads(),
                     param->dtype == EM_F32 ? adam_range_f32 : adam_range_f64, &c);
    return EM_OK;
}

/* ---- RMSprop -------------------------------------------------------------------------------- */

em_rmsprop_options em_rmsprop_default_options(void) {
    return (em_rmsprop_options){.lr = 1e-2, .alpha = 0.99, .eps = 1e-8};
}

typedef struct {
    void *p, *s, *b, *a;
    const void *g;
    double lr, alpha, eps, wd, mom;
    bool centered, maximize;
} rms_ctx;

#define RMS_RANGE(T, S)                                                                 \
    BODY rms_body_##S(T *restrict p, T *restrict s, T *restrict b, T *restrict a, const T *restrict gr, \
                      int64_t lo, int64_t hi, const rms_ctx *c, const bool centered, const bool has_mom) { \
        const T alpha = (T)c->alpha, w = (T)(1 - c->alpha), wd = (T)c->wd, eps = (T)c->eps, \
                mom = (T)c->mom, neg_lr = (T)-c->lr, sign = c->maximize ? -1 : 1;       \
        const bool use_wd = c->wd != 0;                                                 \
        for (int64_t i = lo; i < hi; i++) {                                             \
            T g = sign * gr[i];                                                         \
            T gw = g + wd * p[i];                                                       \
            g = use_wd ? gw : g;                                                        \
            T si = s[i] * alpha + w * g * g;                                            \
            s[i] = si;                                                                  \
            T d;                                                                        \
            if (centered) {                                                             \
                T ai = LERP(a[i], g, w);                                                \
                a[i] = ai;                                                              \
                d = SQRT_##S(si + (T)-1 * ai * ai) + eps;                               \
            } else {                                                                    \
                d = SQRT_##S(si) + eps;                                                 \
            }                                                                           \
            if (has_mom) {                                                              \
                T bi = b[i] * mom + (T)1 * g / d;                                       \
                b[i] = bi;                                                              \
                p[i] = p[i] + neg_lr * bi;                                              \
            } else {                                                                    \
                p[i] = p[i] + neg_lr * g / d;                                           \
            }                                                                           \
        }                                                                               \
    }                                                                                   \
    static void rms_range_##S(void *vctx, int64_t lo, int64_t hi, int tid) {            \
        const rms_ctx *c = vctx;                                                        \
        bool m = c->mom > 0;                                                            \
        if (c->centered && m) rms_body_##S(c->p, c->s, c->b, c->a, c->g, lo, hi, c, true, true); \
        else if (c->centered) rms_body_##S(c->p, c->s, NULL, c->a, c->g, lo, hi, c, true, false); \
        else if (m) rms_body_##S(c->p, c->s, c->b, NULL, c->g, lo, hi, c, false, true); \
        else rms_body_##S(c->p, c->s, NULL, NULL, c->g, lo, hi, c, false, false);       \
    }
RMS_RANGE(float, f32)
RMS_RANGE(double, f64)

em_status em_rmsprop_step(em_tensor *param, const em_tensor *grad, em_tensor *square_avg, em_tensor *momentum_buf,
                          em_tensor *grad_avg, const em_rmsprop_options *opts) {
    static const char op[] = "em_rmsprop_step";
    em_rmsprop_options o = opts ? *opts : em_rmsprop_default_options();
    EM_TRY(check_param(op, param));
    EM_TRY(check_like(op, param, grad, "grad"));
    EM_TRY(check_like(op, param, square_avg, "square_avg"));
    if (o.momentum > 0) EM_TRY(check_like(op, param, momentum_buf, "momentum_buf"));
    if (o.centered) EM_TRY(check_like(op, param, grad_avg, "grad_avg"));
    EM_TRY(check_finite(op, "lr", o.lr, true));
    EM_TRY(check_finite(op, "alpha", o.alpha, true));
    EM_TRY(check_finite(op, "eps", o.eps, true));
    EM_TRY(check_finite(op, "weight_decay", o.weight_decay, true));
    EM_TRY(check_finite(op, "momentum", o.momentum, true));
    rms_ctx c = {em__ptr(param),
                 em__ptr(square_avg),
                 o.momentum > 0 ? em__ptr(momentum_buf) : NULL,
                 o.centered ? em__ptr(grad_avg) : NULL,
                 em__ptr(grad),
                 o.lr,
                 o.alpha,
                 o.eps,
                 o.weight_decay,
                 o.momentum,
                 o.centered,
                 o.maximize};
    em__parallel_for(em_tensor_numel(param), OPT_GRAIN, em__threads(),
                     param->dtype == EM_F32 ? rms_range_f32 : rms_range_f64, &c);
    return EM_OK;
}

/* ---- Adagrad -------------------------------------------------------------------------------- */

em_adagrad_options em_adagrad_default_options(void) {
    return (em_adagrad_options){.lr = 1e-2, .eps = 1e-10};
}

typedef struct {
    void *p, *s;
    const void *g;
    double neg_clr, wd, eps;
    bool maximize;
} adagrad_ctx;

#define ADAGRAD_RANGE(T, S)                                                             \
    static void adagrad_range_##S(void *vctx, int64_t lo, int64_t hi, int tid) {        \
        const adagrad_ctx *c = vctx;                                                    \
        T *restrict p = c->p, *restrict s = c->s;                                       \
        const T *restrict gr = c->g;                                                    \
        const T wd = (T)c->wd, eps = (T)c->eps, neg_clr = (T)c->neg_clr, sign = c->maximize ? -1 : 1; \
        const bool use_wd = c->wd != 0;                                                 \
        for (int64_t i = lo; i < hi; i++) {                                             \
            T g = sign * gr[i];                                                         \
            T gw = g + wd * p[i];                                                       \
            g = use_wd ? gw : g;                                                        \
            T si = s[i] + (T)1 * g * g;                                                 \
            s[i] = si;                                                                  \
            p[i] = p[i] + neg_clr * g / (SQRT_##S(si) + eps);                           \
        }                                                                               \
    }
ADAGRAD_RANGE(float, f32)
ADAGRAD_RANGE(double, f64)

em_status em_adagrad_step(em_tensor *param, const em_tensor *grad, em_tensor *state_sum, double step,
                          const em_adagrad_options *opts) {
    static const char op[] = "em_adagrad_step";
    em_adagrad_options o = opts ? *opts : em_adagrad_default_options();
    EM_TRY(check_param(op, param));
    EM_TRY(check_like(op, param, grad, "grad"));
    EM_TRY(check_like(op, param, state_sum, "state_sum"));
    EM_TRY(check_finite(op, "lr", o.lr, true));
    EM_TRY(check_finite(op, "lr_decay", o.lr_decay, true));
    EM_TRY(check_finite(op, "eps", o.eps, true));
    EM_TRY(check_finite(op, "weight_decay", o.weight_decay, true));
    if (!(step >= 1)) return em__error(EM_ERR_INVALID_ARG, "%s: step must be >= 1, got %g", op, step);
    adagrad_ctx c = {em__ptr(param), em__ptr(state_sum), em__ptr(grad), -(o.lr / (1 + (step - 1) * o.lr_decay)),
                     o.weight_decay, o.eps, o.maximize};
    em__parallel_for(em_tensor_numel(param), OPT_GRAIN, em__threads(),
                     param->dtype == EM_F32 ? adagrad_range_f32 : adagrad_range_f64, &c);
    return EM_OK;
}

/* ---- gradient clipping ---------------------------------------------------------------------- */

/* The total norm is a parallel reduction: each tensor is cut into chunks of
 * NORM_CHUNK elements (fixed by its size alone), each chunk's partial is
 * accumulated in double in a fixed order, and the partials are combined in
 * chunk order, so the result does not depend on the thread count. */
#define NORM_CHUNK 8192

enum { NORM_P, NORM_TWO, NORM_ONE, NORM_INF, NORM_ZERO };

typedef struct {
    const em_tensor *const *g;
    const int64_t *first; /* first chunk index of tensor i; first[n] = total chunks */
    int n;
    int kind;
    double p;
    double *partial;
} norm_ctx;

/* Eight interleaved accumulators: a fixed order that lets the loop pipeline. */
#define NORM_CHUNK_FN(T, S)                                                             \
    static double norm_chunk_##S(const T *x, int64_t m, int kind, double p) {           \
        double acc[8] = {0};                                                            \
        int64_t i = 0;                                                                  \
        switch (kind) {                                                                 \
        case NORM_TWO:                                                                  \
            for (; i + 8 <= m; i += 8)                                                  \
                for (int k = 0; k < 8; k++) acc[k] += (double)x[i + k] * x[i + k];       \
            for (; i < m; i++) acc[0] += (double)x[i] * x[i];                           \
            break;                                                                      \
        case NORM_ONE:                                                                  \
            for (; i + 8 <= m; i += 8)                                                  \
                for (int k = 0; k < 8; k++) acc[k] += fabs((double)x[i + k]);           \
            for (; i < m; i++) acc[0] += fabs((double)x[i]);                            \
            break;                                                                      \
        case NORM_ZERO:                                                                 \
            for (; i < m; i++) acc[0] += x[i] != 0;                                     \
            break;                                                                      \
        case NORM_INF:                                                                  \
            for (; i < m; i++) {                                                        \
                double a = fabs((double)x[i]);                                          \
                if (!(a <= acc[0])) acc[0] = a; /* a NaN sticks */                     \
                if (isnan(acc[0])) return acc[0];                                       \
            }                                                                           \
            return acc[0];                                                              \
        default:                                                                        \
            for (; i < m; i++) acc[0] += pow(fabs((double)x[i]), p);                    \
            break;                                                                      \
        }                                                                               \
        return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])); \
    }
NORM_CHUNK_FN(float, f32)
NORM_CHUNK_FN(double, f64)

static void norm_range(void *vctx, int64_t lo, int64_t hi, int tid) {
    const norm_ctx *c = vctx;
    int t = 0;
    while (c->first[t + 1] <= lo) t++;
    for (int64_t k = lo; k < hi; k++) {
        while (c->first[t + 1] <= k) t++;
        const em_tensor *g = c->g[t];
        int64_t n = em_tensor_numel(g), at = (k - c->first[t]) * NORM_CHUNK;
        int64_t m = n - at < NORM_CHUNK ? n - at : NORM_CHUNK;
        c->partial[k] = g->dtype == EM_F32 ? norm_chunk_f32((const float *)em__ptr(g) + at, m, c->kind, c->p)
                                           : norm_chunk_f64((const double *)em__ptr(g) + at, m, c->kind, c->p);
    }
}

static em_status check_grads(const char *op, const em_tensor *const *grads, int n) {
    char d[EM_DESC_LEN];
    if (n < 0 || (n > 0 && !grads)) return em__error(EM_ERR_INVALID_ARG, "%s: bad gradient list (n = %d)", op, n);
    for (int i = 0; i < n; i++) {
        const em_tensor *g = grads[i];
        if (!g) return em__error(EM_ERR_INVALID_ARG, "%s: gradient %d is NULL", op, i);
        if (g->dtype != EM_F32 && g->dtype != EM_F64)
            return em__error(EM_ERR_DTYPE, "%s: gradient %d %s must be float32 or float64", op, i, em__desc(g, d));
        if (!em__is_contiguous(g))
            return em__error(EM_ERR_INVALID_ARG, "%s: gradient %d %s must be contiguous", op, i, em__desc(g, d));
    }
    return EM_OK;
}

static em_status total_norm(const char *op, const em_tensor *const *grads, int n, double p, double *out) {
    EM_TRY(check_grads(op, grads, n));
    if (!(p >= 0)) return em__error(EM_ERR_INVALID_ARG, "%s: norm_type must be >= 0 or inf, got %g", op, p);
    int kind = p == 2 ? NORM_TWO : p == 1 ? NORM_ONE : p == 0 ? NORM_ZERO : isinf(p) ? NORM_INF : NORM_P;
    int64_t *first = NULL;
    EM_TRY(em__alloc_or_fail((size_t)(n + 1) * sizeof *first, "total norm chunk table", (void **)&first));
    first[0] = 0;
    for (int i = 0; i < n; i++) first[i + 1] = first[i] + (em_tensor_numel(grads[i]) + NORM_CHUNK - 1) / NORM_CHUNK;
    int64_t nchunks = first[n];
    double *partial = NULL;
    if (nchunks > 0) {
        em_status st = em__alloc_or_fail((size_t)nchunks * sizeof *partial, "total norm partials", (void **)&partial);
        if (st) {
            em__free(first);
            return st;
        }
        norm_ctx c = {grads, first, n, kind, p, partial};
        em__parallel_for(nchunks, 4, em__threads(), norm_range, &c);
    }
    double acc = 0;
    for (int64_t k = 0; k < nchunks; k++) {
        if (kind == NORM_INF) {
            if (!(partial[k] <= acc)) acc = partial[k];
            if (isnan(acc)) break;
        } else {
            acc += partial[k];
        }
    }
    em__free(partial);
    em__free(first);
    *out = kind == NORM_TWO ? sqrt(acc) : kind == NORM_P ? pow(acc, 1 / p) : acc;
    return EM_OK;
}

em_status em_grad_total_norm(const em_tensor *const *grads, int n, double norm_type, double *out) {
    return total_norm("em_grad_total_norm", grads, n, norm_type, out);
}

typedef struct {
    void *x;
    double a, b; /* scale: x *= a; clamp: x in [a, b] */
} scale_ctx;

#define SCALE_RANGE(T, S)                                                               \
    static void scale_range_##S(void *vctx, int64_t lo, int64_t hi, int tid) {          \
        const scale_ctx *c = vctx;                                                      \
        T *x = c->x;                                                                    \
        const T a = (T)c->a;                                                            \
        for (int64_t i = lo; i < hi; i++) x[i] = x[i] * a;                              \
    }                                                                                   \
    static void clamp_range_##S(void *vctx, int64_t lo, int64_t hi, int tid) {          \
        const scale_ctx *c = vctx;                                                      \
        T *x = c->x;                                                                    \
        const T a = (T)c->a, b = (T)c->b;                                               \
        for (int64_t i = lo; i < hi; i++) {                                             \
            T v = x[i];                                                                 \
            v = v < a ? a : v;                                                          \
            x[i] = v > b ? b : v;                                                       \
        }                                                                               \
    }
SCALE_RANGE(float, f32)
SCALE_RANGE(double, f64)

em_status em_clip_grad_norm(em_tensor *const *grads, int n, double max_norm, double norm_type,
                            bool error_if_nonfinite, double *total_norm_out) {
    static const char op[] = "em_clip_grad_norm";
    if (isnan(max_norm)) return em__error(EM_ERR_INVALID_ARG, "%s: max_norm is NaN", op);
    double t;
    EM_TRY(total_norm(op, (const em_tensor *const *)grads, n, norm_type, &t));
    if (error_if_nonfinite && !isfinite(t))
        return em__error(EM_ERR_INVALID_ARG,
                         "%s: the total norm of order %g of the gradients is %g, so they cannot be clipped "
                         "(pass error_if_nonfinite=false to clip anyway)",
                         op, norm_type, t);
    double coef = max_norm / (t + 1e-6);
    if (isnan(coef) || coef < 1) {
        for (int i = 0; i < n; i++) {
            scale_ctx c = {em__ptr(grads[i]), coef, 0};
            em__parallel_for(em_tensor_numel(grads[i]), OPT_GRAIN, em__threads(),
                             grads[i]->dtype == EM_F32 ? scale_range_f32 : scale_range_f64, &c);
        }
    }
    if (total_norm_out) *total_norm_out = t;
    return EM_OK;
}

em_status em_clip_grad_value(em_tensor *const *grads, int n, double clip_value) {
    static const char op[] = "em_clip_grad_value";
    EM_TRY(check_grads(op, (const em_tensor *const *)grads, n));
    if (!(clip_value >= 0))
        return em__error(EM_ERR_INVALID_ARG, "%s: clip_value must be >= 0, got %g", op, clip_value);
    for (int i = 0; i < n; i++) {
        scale_ctx c = {em__ptr(grads[i]), -clip_value, clip_value};
        em__parallel_for(em_tensor_numel(grads[i]), OPT_GRAIN, em__threads(),
                         grads[i]->dtype == EM_F32 ? clamp_range_f32 : clamp_range_f64, &c);
    }
    return EM_OK;
}
