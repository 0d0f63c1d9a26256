/* em_linalg_eigh (linalg_eig_t.h). */
/* The rotations and rank-2 updates are plain loops of unknown length: let gcc
 * vectorise them (baseline SSE2, no CPU-specific code) despite -O2's
 * "very cheap" cost model. */
#pragma GCC optimize("vect-cost-model=dynamic")

#include "linalg_internal.h"

#define LA_TEMPLATE "linalg_eig_t.h"
#include "linalg_inst.h"

em_status em_linalg_eigh(const em_tensor *x0, em_tensor **w, em_tensor **v) {
    if (!x0 || !w) return em__error(EM_ERR_INVALID_ARG, "eigh: NULL argument");
    em_tensor *x = NULL, *wo = NULL, *vo = NULL;
    int64_t bshape[EM_MAX_DIMS];
    int nb = 0;
    em_status st = em__la_matrix("eigh", x0, true, &x, bshape, &nb);
    if (!st) st = em__la_new(x->dtype, nb, bshape, 1, x->shape + x->ndim - 1, &wo);
    if (!st && v) st = em__la_new(x->dtype, nb, bshape, 2, x->shape + x->ndim - 2, &vo);
    if (!st) st = x->dtype == EM_F32 ? eigh_all_f32(x, nb, bshape, wo, vo) : eigh_all_f64(x, nb, bshape, wo, vo);
    em_tensor_free(x);
    if (st) {
        em_tensor_free(wo), em_tensor_free(vo);
        return st;
    }
    *w = wo;
    if (v) *v = vo;
    return EM_OK;
}
