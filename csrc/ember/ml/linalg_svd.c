/* em_linalg_svd, pinv and lstsq (linalg_svd_t.h). */
#include <float.h>

/* The rotations and rank-2 updates are plain loops of unknown length: let gcc
 * vectorise them (baseline SSE2, no CPU-specific code) despite -O2's
 * "very cheap" cost model. */
#pragma GCC optimize("vect-cost-model=dynamic")

#include "linalg_internal.h"
#include "../kernels/gemm.h"

#define LA_TEMPLATE "linalg_svd_t.h"
#include "linalg_inst.h"

static double default_tol(em_dtype dt, int64_t m, int64_t n) {
    return (double)(m > n ? m : n) * (dt == EM_F32 ? FLT_EPSILON : DBL_EPSILON);
}

em_status em_linalg_svd(const em_tensor *x0, bool full_matrices, em_tensor **u, em_tensor **s, em_tensor **vh) {
    if (!x0 || !s || (!u) != (!vh)) return em__error(EM_ERR_INVALID_ARG, "svd: NULL argument (u and vh go together)");
    em_tensor *x = NULL, *uo = NULL, *so = NULL, *vo = NULL;
    int64_t bshape[EM_MAX_DIMS];
    int nb = 0;
    em_status st = em__la_matrix("svd", x0, false, &x, bshape, &nb);
    int64_t m = st ? 0 : x->shape[x->ndim - 2], n = st ? 0 : x->shape[x->ndim - 1], k = m < n ? m : n;
    if (!st) st = em__la_new(x->dtype, nb, bshape, 1, &k, &so);
    if (!st && u) st = em__la_new(x->dtype, nb, bshape, 2, (int64_t[]){m, full_matrices ? m : k}, &uo);
    if (!st && u) st = em__la_new(x->dtype, nb, bshape, 2, (int64_t[]){full_matrices ? n : k, n}, &vo);
    if (!st)
        st = x->dtype == EM_F32 ? svd_all_f32(x, nb, bshape, full_matrices, uo, so, vo)
                                : svd_all_f64(x, nb, bshape, full_matrices, uo, so, vo);
    em_tensor_free(x);
    if (st) {
        em_tensor_free(uo), em_tensor_free(so), em_tensor_free(vo);
        return st;
    }
    *s = so;
    if (u) *u = uo, *vh = vo;
    return EM_OK;
}

em_status em_linalg_pinv(const em_tensor *x0, double rtol, em_tensor **out) {
    if (!x0 || !out) return em__error(EM_ERR_INVALID_ARG, "pinv: NULL argument");
    if (rtol != rtol) return em__error(EM_ERR_INVALID_ARG, "pinv: rtol is NaN");
    em_tensor *x = NULL, *res = NULL;
    int64_t bshape[EM_MAX_DIMS];
    int nb = 0;
    em_status st = em__la_matrix("pinv", x0, false, &x, bshape, &nb);
    int64_t m = st ? 0 : x->shape[x->ndim - 2], n = st ? 0 : x->shape[x->ndim - 1];
    if (!st) st = em__la_new(x->dtype, nb, bshape, 2, (int64_t[]){n, m}, &res);
    if (!st) {
        double tol = rtol < 0 ? default_tol(x->dtype, m, n) : rtol;
        st = x->dtype == EM_F32 ? pinv_all_f32(x, nb, bshape, tol, res) : pinv_all_f64(x, nb, bshape, tol, res);
    }
    em_tensor_free(x);
    if (st) {
        em_tensor_free(res);
        return st;
    }
    *out = res;
    return EM_OK;
}

em_status em_linalg_lstsq(const em_tensor *a0, const em_tensor *b0, double rcond, em_tensor **out,
                          em_tensor **residuals, em_tensor **rank, em_tensor **s) {
    if (!a0 || !b0 || !out) return em__error(EM_ERR_INVALID_ARG, "lstsq: NULL argument");
    if (rcond != rcond) return em__error(EM_ERR_INVALID_ARG, "lstsq: rcond is NaN");
    em_dtype dt = a0->dtype == EM_F64 || b0->dtype == EM_F64 ? EM_F64 : EM_F32;
    em_tensor *a = NULL, *b = NULL, *xo = NULL, *ro = NULL, *rk = NULL, *so = NULL, *ac = NULL, *bc = NULL;
    void *res = NULL;
    int64_t bshape[EM_MAX_DIMS];
    int nb = 0, bcore = b0->ndim == a0->ndim - 1 ? 1 : 2;
    char d1[EM_DESC_LEN], d2[EM_DESC_LEN];
    em_status st = em__la_operand("lstsq", "a", a0, 2, dt, &a);
    if (!st) st = em__la_operand("lstsq", "b", b0, bcore, dt, &b);
    if (!st && a->dtype != dt) st = em_tensor_cast(a, dt, &ac);
    if (!st && b->dtype != dt) st = em_tensor_cast(b, dt, &bc);
    const em_tensor *A = ac ? ac : a, *B = bc ? bc : b;
    int64_t m = st ? 0 : A->shape[A->ndim - 2], n = st ? 0 : A->shape[A->ndim - 1], k = m < n ? m : n;
    if (!st && B->shape[B->ndim - bcore] != m)
        st = em__error(EM_ERR_SHAPE, "lstsq: b %s does not have %lld rows to match a %s", em__desc(B, d2),
                       (long long)m, em__desc(A, d1));
    if (!st) st = em__la_batch_shape("lstsq", A, 2, B, bcore, bshape, &nb);
    int64_t kb = st ? 0 : (bcore == 2 ? B->shape[B->ndim - 1] : 1), nbatch = st ? 0 : em__numel(nb, bshape);
    if (!st) st = em__la_new(dt, nb, bshape, bcore, (int64_t[]){n, kb}, &xo);
    if (!st && rank) st = em__la_new(EM_I64, nb, bshape, 0, NULL, &rk);
    if (!st && s) st = em__la_new(dt, nb, bshape, 1, &k, &so);
    if (!st && residuals) st = em__alloc_or_fail(em__dsize(dt) * (size_t)(nbatch * kb + 1), "lstsq", &res);
    bool full_rank = true;
    if (!st) {
        double tol = rcond < 0 ? default_tol(dt, m, n) : rcond;
        st = dt == EM_F32 ? lstsq_all_f32(A, B, bcore, nb, bshape, tol, xo, res, rk, so, &full_rank)
                          : lstsq_all_f64(A, B, bcore, nb, bshape, tol, xo, res, rk, so, &full_rank);
    }
    if (!st && residuals) {
        bool have = m > n && full_rank;
        int64_t len = have ? kb : 0;
        st = em__la_new(dt, nb, bshape, 1, &len, &ro);
        if (!st && have) memcpy(em__ptr(ro), res, em__dsize(dt) * (size_t)(nbatch * kb));
    }
    em__free(res);
    em_tensor_free(a), em_tensor_free(b), em_tensor_free(ac), em_tensor_free(bc);
    if (st) {
        em_tensor_free(xo), em_tensor_free(ro), em_tensor_free(rk), em_tensor_free(so);
        return st;
    }
    *out = xo;
    if (residuals) *residuals = ro;
    if (rank) *rank = rk;
    if (s) *s = so;
    return EM_OK;
}
