/* em_linalg_cholesky (linalg_chol_t.h). */
/* Let gcc vectorise the unknown-length row loops (baseline SSE2, no
 * CPU-specific code) despite -O2's "very cheap" cost model. */
#pragma GCC optimize("vect-cost-model=dynamic")

#include "linalg_internal.h"
#include "../kernels/gemm.h"

#define LA_TEMPLATE "linalg_chol_t.h"
#include "linalg_inst.h"

em_status em_linalg_cholesky(const em_tensor *x0, bool upper, em_tensor **out) {
    if (!x0 || !out) return em__error(EM_ERR_INVALID_ARG, "cholesky: NULL argument");
    em_tensor *x = NULL, *res = NULL;
    int64_t bshape[EM_MAX_DIMS];
    int nb = 0;
    em_status st = em__la_matrix("cholesky", x0, true, &x, bshape, &nb);
    if (!st) st = em__la_new(x->dtype, nb, bshape, 2, x->shape + x->ndim - 2, &res);
    if (!st)
        st = x->dtype == EM_F32 ? chol_all_f32(x, upper, nb, bshape, res) : chol_all_f64(x, upper, nb, bshape, res);
    em_tensor_free(x);
    if (st) {
        em_tensor_free(res);
        return st;
    }
    *out = res;
    return EM_OK;
}
