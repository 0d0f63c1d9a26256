/* Broadcast strided iteration shared by copies, casts and elementwise ops. */
#include "../internal.h"

em_status em_broadcast_shapes(int nda, const int64_t *sa, int ndb, const int64_t *sb, int *out_ndim,
                              int64_t *out_shape) {
    EM_TRY(em__check_shape("broadcast_shapes", nda, sa)); /* ndim <= EM_MAX_DIMS bounds out_shape */
    EM_TRY(em__check_shape("broadcast_shapes", ndb, sb));
    int nd = nda > ndb ? nda : ndb;
    for (int i = 0; i < nd; i++) {
        int64_t a = i < nd - nda ? 1 : sa[i - (nd - nda)];
        int64_t b = i < nd - ndb ? 1 : sb[i - (nd - ndb)];
        if (a != b && a != 1 && b != 1) {
            char ba[EM_DESC_LEN], bb[EM_DESC_LEN];
            return em__error(EM_ERR_SHAPE, "shapes %s and %s cannot be broadcast (axis %d: %lld vs %lld)",
                             em__shape_str(nda, sa, ba), em__shape_str(ndb, sb, bb), i, (long long)a, (long long)b);
        }
        out_shape[i] = a == 1 ? b : a;
    }
    *out_ndim = nd;
    return EM_OK;
}

em_status em__iter_init(em__iter *it, int nops, const em_tensor *const *ops, int ndim, const int64_t *shape) {
    EM_ASSERT(nops > 0 && nops <= EM_ITER_MAX_OPS);
    it->nops = nops;
    /* right-align each operand against the iteration shape */
    int64_t st[EM_ITER_MAX_OPS][EM_MAX_DIMS];
    for (int k = 0; k < nops; k++) {
        const em_tensor *t = ops[k];
        int lead = ndim - t->ndim;
        if (lead < 0) return em__error(EM_ERR_SHAPE, "internal: operand has more dimensions than the iteration");
        int64_t es = (int64_t)em__dsize(t->dtype);
        for (int i = 0; i < ndim; i++) {
            if (i < lead) {
                st[k][i] = 0;
                continue;
            }
            int64_t d = t->shape[i - lead];
            if (d != shape[i] && d != 1) {
                char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
                return em__error(EM_ERR_SHAPE, "shape %s cannot be broadcast to %s",
                                 em__shape_str(t->ndim, t->shape, b1), em__shape_str(ndim, shape, b2));
            }
            st[k][i] = d == 1 ? 0 : t->strides[i - lead] * es;
        }
        it->base[k] = em__ptr(t);
    }
    /* drop size-1 dims, then merge dim i into i+1 when every operand's
     * stride allows (stride[i] == stride[i+1] * shape[i+1]) */
    int nd = 0;
    int64_t sh[EM_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 1) continue;
        sh[nd] = shape[i];
        for (int k = 0; k < nops; k++) st[k][nd] = st[k][i];
        nd++;
    }
    int out = 0;
    for (int i = 0; i < nd; i++) {
        if (out > 0) {
            bool merge = true;
            for (int k = 0; k < nops && merge; k++) merge = it->strides[k][out - 1] == st[k][i] * sh[i];
            if (merge) {
                it->shape[out - 1] *= sh[i];
                for (int k = 0; k < nops; k++) it->strides[k][out - 1] = st[k][i];
                continue;
            }
        }
        it->shape[out] = sh[i];
        for (int k = 0; k < nops; k++) it->strides[k][out] = st[k][i];
        out++;
    }
    if (out == 0) {
        it->shape[0] = em__numel(ndim, shape) ? 1 : 0;
        for (int k = 0; k < nops; k++) it->strides[k][0] = 0;
        out = 1;
    }
    it->ndim = out;
    return EM_OK;
}

void em__iter_run(const em__iter *it, em__loop_fn loop, void *ctx) {
    int nd = it->ndim, nops = it->nops;
    for (int i = 0; i < nd; i++)
        if (it->shape[i] == 0) return;
    int64_t inner = it->shape[nd - 1];
    int64_t s[EM_ITER_MAX_OPS];
    char *p[EM_ITER_MAX_OPS];
    for (int k = 0; k < nops; k++) s[k] = it->strides[k][nd - 1];
    if (nd == 1) {
        for (int k = 0; k < nops; k++) p[k] = it->base[k];
        loop(inner, p, s, ctx);
        return;
    }
    int64_t idx[EM_MAX_DIMS] = {0};
    for (;;) {
        for (int k = 0; k < nops; k++) {
            char *q = it->base[k];
            for (int i = 0; i < nd - 1; i++) q += idx[i] * it->strides[k][i];
            p[k] = q;
        }
        loop(inner, p, s, ctx);
        int i = nd - 2;
        while (i >= 0 && ++idx[i] == it->shape[i]) idx[i--] = 0;
        if (i < 0) break;
    }
}
