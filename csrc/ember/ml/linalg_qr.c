/* em_linalg_qr (linalg_qr_t.h). */
/* Let gcc vectorise the unknown-length row loops (baseline SSE2, no
 * CPU-specific code) despite -O2's "very cheap" cost model. */
#pragma GCC optimize("vect-cost-model=dynamic")

#include "linalg_internal.h"

#define LA_TEMPLATE "linalg_qr_t.h"
#include "linalg_inst.h"

em_status em_linalg_qr(const em_tensor *x0, em_qr_mode mode, em_tensor **q, em_tensor **r) {
    if (!x0 || !r || (mode != EM_QR_R && !q)) return em__error(EM_ERR_INVALID_ARG, "qr: NULL argument");
    if (mode != EM_QR_REDUCED && mode != EM_QR_COMPLETE && mode != EM_QR_R)
        return em__error(EM_ERR_INVALID_ARG, "qr: unknown mode %d", (int)mode);
    em_tensor *x = NULL, *qo = NULL, *ro = NULL;
    int64_t bshape[EM_MAX_DIMS];
    int nb = 0;
    em_status st = em__la_matrix("qr", x0, false, &x, bshape, &nb);
    int64_t m = st ? 0 : x->shape[x->ndim - 2], n = st ? 0 : x->shape[x->ndim - 1], k = m < n ? m : n;
    int64_t qc = mode == EM_QR_COMPLETE ? m : k, rr = mode == EM_QR_COMPLETE ? m : k;
    if (!st && mode != EM_QR_R) st = em__la_new(x->dtype, nb, bshape, 2, (int64_t[]){m, qc}, &qo);
    if (!st) st = em__la_new(x->dtype, nb, bshape, 2, (int64_t[]){rr, n}, &ro);
    if (!st)
        st = x->dtype == EM_F32 ? qr_all_f32(x, nb, bshape, qo, qc, ro, rr) : qr_all_f64(x, nb, bshape, qo, qc, ro, rr);
    em_tensor_free(x);
    if (st) {
        em_tensor_free(qo), em_tensor_free(ro);
        return st;
    }
    if (q) *q = qo;
    *r = ro;
    return EM_OK;
}
