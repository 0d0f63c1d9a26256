/* softmax and log_softmax along one axis, numerically stable:
 *   softmax(x)_i     = e^(x_i - m) / sum_j e^(x_j - m),   m = max_j x_j
 *   log_softmax(x)_i = (x_i - m) - ln sum_j e^(x_j - m)
 * The input is first cast into a new contiguous output of the compute dtype
 * and then transformed in place.  Along the last axis each row is a
 * contiguous loop; along another axis the loops run over the `inner`
 * elements that follow it, so they stay contiguous too.  Sums are taken
 * in index order, so results do not depend on anything but the input. */
#include "../internal.h"

#include <math.h>

/* One kernel per float type: v is an (outer, n, inner) block, transformed in
 * place; acc is scratch of 2 * inner elements. */
#define SOFTMAX_KERNEL(T, EXP, LOG)                                                      \
    static void softmax_##T(T *v, int64_t outer, int64_t n, int64_t inner, bool log_, T *acc) { \
        T *mx = acc, *sum = acc + inner;                                                 \
        if (inner == 1) { /* the last axis: one contiguous row at a time */             \
            for (int64_t o = 0; o < outer; o++, v += n) {                                \
                T m = v[0], s = 0;                                                       \
                for (int64_t k = 1; k < n; k++) m = v[k] > m ? v[k] : m;                 \
                if (log_) {                                                              \
                    for (int64_t k = 0; k < n; k++) s += EXP(v[k] - m);                  \
                    T ls = LOG(s);                                                       \
                    for (int64_t k = 0; k < n; k++) v[k] = (v[k] - m) - ls;              \
                } else {                                                                 \
                    for (int64_t k = 0; k < n; k++) s += v[k] = EXP(v[k] - m);           \
                    for (int64_t k = 0; k < n; k++) v[k] /= s;                           \
                }                                                                        \
            }                                                                            \
            return;                                                                      \
        }                                                                                \
        for (int64_t o = 0; o < outer; o++, v += n * inner) {                            \
            for (int64_t i = 0; i < inner; i++) {                                        \
                mx[i] = v[i];                                                            \
                sum[i] = 0;                                                              \
            }                                                                            \
            /* NaN never wins the comparison, but then makes its row NaN below */      \
            for (int64_t k = 1; k < n; k++)                                              \
                for (int64_t i = 0; i < inner; i++) mx[i] = v[k * inner + i] > mx[i] ? v[k * inner + i] : mx[i]; \
            for (int64_t k = 0; k < n; k++)                                              \
                for (int64_t i = 0; i < inner; i++) {                                    \
                    T e = EXP(v[k * inner + i] - mx[i]);                                 \
                    sum[i] += e;                                                         \
                    if (!log_) v[k * inner + i] = e;                                     \
                }                                                                        \
            if (log_)                                                                    \
                for (int64_t i = 0; i < inner; i++) sum[i] = LOG(sum[i]);                \
            for (int64_t k = 0; k < n; k++)                                              \
                for (int64_t i = 0; i < inner; i++) {                                    \
                    T *p = &v[k * inner + i];                                            \
                    *p = log_ ? (*p - mx[i]) - sum[i] : *p / sum[i];                     \
                }                                                                        \
        }                                                                                \
    }
SOFTMAX_KERNEL(float, expf, logf)
SOFTMAX_KERNEL(double, exp, log)

static em_status softmax_impl(const char *op, const em_tensor *x, int axis, bool log_, em_tensor **out) {
    if (!x || !out) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    /* a 0-d tensor is one row of one element (axis 0 or -1, like torch) */
    int a, nd = x->ndim;
    EM_TRY(em__axis(op, axis, nd ? nd : 1, &a));
    em_dtype dt = em_dtype_is_float(x->dtype) ? x->dtype : EM_F32;
    int64_t n = nd ? x->shape[a] : 1, outer = em__numel(a, x->shape);
    int64_t inner = nd ? em__numel(nd - a - 1, x->shape + a + 1) : 1;
    em_tensor *t;
    EM_TRY(em_tensor_cast(x, dt, &t));
    if (outer * n * inner == 0) {
        *out = t;
        return EM_OK;
    }
    void *acc;
    em_status st = em__alloc_or_fail(2 * (size_t)inner * em__dsize(dt), op, &acc);
    if (st) {
        em_tensor_free(t);
        return st;
    }
    if (dt == EM_F32) softmax_float((float *)em__ptr(t), outer, n, inner, log_, acc);
    else softmax_double((double *)em__ptr(t), outer, n, inner, log_, acc);
    em__free(acc);
    *out = t;
    return EM_OK;
}

em_status em_softmax(const em_tensor *x, int axis, em_tensor **out) { return softmax_impl("softmax", x, axis, false, out); }
em_status em_log_softmax(const em_tensor *x, int axis, em_tensor **out) {
    return softmax_impl("log_softmax", x, axis, true, out);
}
