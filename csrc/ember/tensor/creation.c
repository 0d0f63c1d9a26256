/* Creation: filled tensors, ranges, identity. */
#include "../internal.h"

#include <math.h>

em_status em_tensor_full(em_dtype dt, int ndim, const int64_t *shape, double value, em_tensor **out) {
    em_tensor *t;
    EM_TRY(em_tensor_empty(dt, ndim, shape, &t));
    em_tensor_fill(t, value);
    *out = t;
    return EM_OK;
}

em_status em_tensor_zeros(em_dtype dt, int ndim, const int64_t *shape, em_tensor **out) {
    return em_tensor_full(dt, ndim, shape, 0.0, out);
}

em_status em_tensor_ones(em_dtype dt, int ndim, const int64_t *shape, em_tensor **out) {
    return em_tensor_full(dt, ndim, shape, 1.0, out);
}

em_status em_tensor_empty_like(const em_tensor *x, int dt, em_tensor **out) {
    if (dt >= 0 && !em__dtype_valid(dt)) return em__error(EM_ERR_DTYPE, "empty_like: invalid dtype %d", dt);
    return em__new(dt < 0 ? x->dtype : (em_dtype)dt, x->ndim, x->shape, out);
}

em_status em_tensor_full_like(const em_tensor *x, int dt, double value, em_tensor **out) {
    em_tensor *t;
    EM_TRY(em_tensor_empty_like(x, dt, &t));
    em_tensor_fill(t, value);
    *out = t;
    return EM_OK;
}

em_status em_tensor_arange(double start, double stop, double step, em_dtype dt, em_tensor **out) {
    if (!em__dtype_valid(dt) || dt == EM_BOOL)
        return em__error(EM_ERR_DTYPE, "arange: dtype %s is not numeric", em_dtype_name(dt) ? em_dtype_name(dt) : "?");
    if (step == 0 || isnan(step)) return em__error(EM_ERR_INVALID_ARG, "arange: step must be nonzero");
    if (!isfinite(start) || !isfinite(stop))
        return em__error(EM_ERR_INVALID_ARG, "arange: start and stop must be finite");
    double len = ceil((stop - start) / step);
    if (len < 0) len = 0;
    if (len > 1e15) return em__error(EM_ERR_INVALID_ARG, "arange: %.0f elements is too many", len);
    int64_t n = (int64_t)len;
    em_tensor *t;
    EM_TRY(em__new(dt, 1, &n, &t));
    char *p = em__ptr(t);
    size_t es = em__dsize(dt);
    for (int64_t i = 0; i < n; i++) em__store(dt, p + i * es, start + (double)i * step);
    *out = t;
    return EM_OK;
}

em_status em_tensor_linspace(double start, double stop, int64_t num, bool endpoint, em_dtype dt, em_tensor **out) {
    if (num < 0) return em__error(EM_ERR_INVALID_ARG, "linspace: num must be >= 0, got %lld", (long long)num);
    if (!em__dtype_valid(dt)) return em__error(EM_ERR_DTYPE, "linspace: invalid dtype");
    em_tensor *t;
    EM_TRY(em_tensor_empty(dt, 1, &num, &t));
    int64_t div = endpoint ? num - 1 : num;
    double step = div > 0 ? (stop - start) / (double)div : 0.0;
    char *p = em__ptr(t);
    size_t es = em__dsize(dt);
    for (int64_t i = 0; i < num; i++) em__store(dt, p + i * es, start + (double)i * step);
    if (endpoint && num > 1) em__store(dt, p + (num - 1) * es, stop);
    *out = t;
    return EM_OK;
}

em_status em_tensor_eye(int64_t n, int64_t m, int64_t k, em_dtype dt, em_tensor **out) {
    if (m < 0) m = n;
    em_tensor *t;
    EM_TRY(em_tensor_zeros(dt, 2, (int64_t[]){n, m}, &t));
    char *p = em__ptr(t);
    size_t es = em__dsize(dt);
    for (int64_t i = 0; i < n; i++) {
        int64_t j = i + k;
        if (j >= 0 && j < m) em__store(dt, p + (i * m + j) * es, 1.0);
    }
    *out = t;
    return EM_OK;
}
