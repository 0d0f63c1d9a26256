/* em_linalg_solve, inv, det, slogdet: LU with partial pivoting (linalg_lu_t.h). */
/* Let gcc vectorise the unknown-length row loops (baseline SSE2, no
 * CPU-specific code) despite -O2's "very cheap" cost model. */
#pragma GCC optimize("vect-cost-model=dynamic")

#include "linalg_internal.h"
#include "../kernels/gemm.h"

#define LA_TEMPLATE "linalg_lu_t.h"
#include "linalg_inst.h"

static em_dtype pair_dtype(const em_tensor *a, const em_tensor *b) {
    return a->dtype == EM_F64 || (b && b->dtype == EM_F64) ? EM_F64 : EM_F32;
}

em_status em_linalg_solve(const em_tensor *a0, const em_tensor *b0, em_tensor **out) {
    if (!a0 || !b0 || !out) return em__error(EM_ERR_INVALID_ARG, "solve: NULL argument");
    em_dtype dt = pair_dtype(a0, b0);
    em_tensor *a = NULL, *b = NULL, *ac = NULL, *bc = NULL, *res = NULL;
    int bcore = b0->ndim == 1 ? 1 : 2;
    em_status st = em__la_operand("solve", "a", a0, 2, dt, &a);
    if (!st) st = em__la_operand("solve", "b", b0, bcore, dt, &b);
    if (!st) st = em__la_check_square("solve", a);
    char d1[EM_DESC_LEN], d2[EM_DESC_LEN];
    int64_t bshape[EM_MAX_DIMS];
    int nb = 0;
    if (!st && b->shape[b->ndim - bcore] != a->shape[a->ndim - 1])
        st = em__error(EM_ERR_SHAPE, "solve: b %s does not have %lld rows to match a %s", em__desc(b, d2),
                       (long long)a->shape[a->ndim - 1], em__desc(a, d1));
    if (!st) st = em__la_batch_shape("solve", a, 2, bcore == 2 ? b : NULL, 2, bshape, &nb);
    /* both operands in the compute dtype */
    if (!st && a->dtype != dt) st = em_tensor_cast(a, dt, &ac);
    if (!st && b->dtype != dt) st = em_tensor_cast(b, dt, &bc);
    const em_tensor *A = ac ? ac : a, *B = bc ? bc : b;
    if (!st) {
        int64_t tail[2] = {A->shape[A->ndim - 1], bcore == 2 ? B->shape[B->ndim - 1] : 1};
        st = em__la_new(dt, nb, bshape, bcore, tail, &res);
    }
    if (!st) {
        /* a vector b is shared by every batch item: its batch offset is 0 */
        st = dt == EM_F32 ? solve_all_f32("solve", A, B, bcore, nb, bshape, res)
                          : solve_all_f64("solve", A, B, bcore, nb, bshape, res);
    }
    em_tensor_free(a), em_tensor_free(b), em_tensor_free(ac), em_tensor_free(bc);
    if (st) {
        em_tensor_free(res);
        return st;
    }
    *out = res;
    return EM_OK;
}

em_status em_linalg_inv(const em_tensor *x0, em_tensor **out) {
    if (!x0 || !out) return em__error(EM_ERR_INVALID_ARG, "inv: NULL argument");
    em_tensor *x = NULL, *res = NULL;
    int64_t bshape[EM_MAX_DIMS];
    int nb = 0;
    em_status st = em__la_matrix("inv", x0, true, &x, bshape, &nb);
    if (!st) st = em__la_new(x->dtype, nb, bshape, 2, x->shape + x->ndim - 2, &res);
    if (!st)
        st = x->dtype == EM_F32 ? solve_all_f32("inv", x, NULL, 2, nb, bshape, res)
                                : solve_all_f64("inv", x, NULL, 2, nb, bshape, res);
    em_tensor_free(x);
    if (st) {
        em_tensor_free(res);
        return st;
    }
    *out = res;
    return EM_OK;
}

static em_status det_common(const char *op, const em_tensor *x0, em_tensor **sign, em_tensor **logabs,
                            em_tensor **det) {
    em_tensor *x = NULL, *s = NULL, *l = NULL, *d = NULL;
    int64_t bshape[EM_MAX_DIMS];
    int nb = 0;
    em_status st = em__la_matrix(op, x0, true, &x, bshape, &nb);
    if (!st && det) st = em__la_new(x->dtype, nb, bshape, 0, NULL, &d);
    if (!st && sign) st = em__la_new(x->dtype, nb, bshape, 0, NULL, &s);
    if (!st && sign) st = em__la_new(x->dtype, nb, bshape, 0, NULL, &l);
    if (!st)
        st = x->dtype == EM_F32 ? det_all_f32(x, nb, bshape, s, l, d) : det_all_f64(x, nb, bshape, s, l, d);
    em_tensor_free(x);
    if (st) {
        em_tensor_free(s), em_tensor_free(l), em_tensor_free(d);
        return st;
    }
    if (det) *det = d;
    if (sign) *sign = s, *logabs = l;
    return EM_OK;
}

em_status em_linalg_det(const em_tensor *x, em_tensor **out) {
    if (!x || !out) return em__error(EM_ERR_INVALID_ARG, "det: NULL argument");
    return det_common("det", x, NULL, NULL, out);
}

em_status em_linalg_slogdet(const em_tensor *x, em_tensor **sign, em_tensor **logabsdet) {
    if (!x || !sign || !logabsdet) return em__error(EM_ERR_INVALID_ARG, "slogdet: NULL argument");
    return det_common("slogdet", x, sign, logabsdet, NULL);
}
