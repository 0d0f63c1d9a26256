/* Batching helpers shared by the linear-algebra ops (see linalg_internal.h). */
#include "linalg_internal.h"

#define LA_TEMPLATE "linalg_common_t.h"
#include "linalg_inst.h"

em_status em__la_operand(const char *op, const char *what, const em_tensor *x, int core, em_dtype dt,
                         em_tensor **out) {
    char d[EM_DESC_LEN];
    if (x->ndim < core)
        return em__error(EM_ERR_SHAPE, "%s: %s must have at least %d dimension%s, got %s", op, what, core,
                         core == 1 ? "" : "s", em__desc(x, d));
    if (x->dtype == EM_F32 || x->dtype == EM_F64) {
        *out = em_tensor_retain((em_tensor *)x);
        return EM_OK;
    }
    return em_tensor_cast(x, dt, out);
}

em_status em__la_batch_shape(const char *op, const em_tensor *x, int core, const em_tensor *y, int ycore,
                             int64_t *shape, int *nb) {
    int nx = x->ndim - core, ny = y ? y->ndim - ycore : 0;
    int n = nx > ny ? nx : ny;
    for (int i = 0; i < n; i++) {
        int64_t a = i - (n - nx) >= 0 ? x->shape[i - (n - nx)] : 1;
        int64_t b = y && i - (n - ny) >= 0 ? y->shape[i - (n - ny)] : 1;
        if (a != b && a != 1 && b != 1) {
            char d1[EM_DESC_LEN], d2[EM_DESC_LEN];
            return em__error(EM_ERR_SHAPE, "%s: batch dimensions of %s and %s do not broadcast", op,
                             em__desc(x, d1), em__desc(y, d2));
        }
        shape[i] = a == 1 ? b : a;
    }
    *nb = n;
    return EM_OK;
}


em_status em__la_check_square(const char *op, const em_tensor *x) {
    char d[EM_DESC_LEN];
    if (x->shape[x->ndim - 1] != x->shape[x->ndim - 2])
        return em__error(EM_ERR_SHAPE, "%s: expected square matrices in the last two dimensions, got %s", op,
                         em__desc(x, d));
    return EM_OK;
}

em_status em__la_matrix(const char *op, const em_tensor *x0, bool square, em_tensor **x, int64_t *bshape, int *nb) {
    *x = NULL;
    em_status st = em__la_operand(op, "x", x0, 2, EM_F32, x);
    if (!st && square) st = em__la_check_square(op, *x);
    if (!st) st = em__la_batch_shape(op, *x, 2, NULL, 0, bshape, nb);
    if (st) {
        em_tensor_free(*x);
        *x = NULL;
    }
    return st;
}
int64_t em__la_boff(const em_tensor *x, int core, int nb, const int64_t *bshape, int64_t b) {
    int nx = x->ndim - core;
    int64_t off = 0;
    for (int i = nb - 1; i >= 0; i--) {
        int64_t idx = b % bshape[i];
        b /= bshape[i];
        int xi = i - (nb - nx);
        if (xi >= 0 && x->shape[xi] != 1) off += idx * x->strides[xi];
    }
    return off;
}

em_status em__la_new(em_dtype dt, int nb, const int64_t *bshape, int ntail, const int64_t *tail,
                     em_tensor **out) {
    int64_t shape[EM_MAX_DIMS + 2];
    if (nb) memcpy(shape, bshape, sizeof(int64_t) * nb); /* bshape may be NULL for no batch */
    if (ntail) memcpy(shape + nb, tail, sizeof(int64_t) * ntail);
    return em__new(dt, nb + ntail, shape, out);
}
