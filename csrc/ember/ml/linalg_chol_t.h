/* Cholesky factorisation (template, see linalg_inst.h). */
#include <tgmath.h>

/* Left-looking Cholesky of columns [k0, k1) of the row-major n x n lower
 * triangle, given that the earlier columns' contribution has already been
 * subtracted.  Returns 0 or the order (1-based) of the first leading minor
 * that is not positive (NaN counts as not positive). */
static int64_t SFX(chol_panel)(int64_t n, T *a, int64_t k0, int64_t k1) {
    for (int64_t j = k0; j < k1; j++) {
        T *rj = a + j * n;
        T d = rj[j];
        for (int64_t p = k0; p < j; p++) d -= rj[p] * rj[p];
        if (!(d > 0)) return j + 1;
        T ljj = sqrt(d), inv = 1 / ljj;
        rj[j] = ljj;
        for (int64_t i = j + 1; i < n; i++) {
            T *ri = a + i * n;
            T s = ri[j];
            for (int64_t p = k0; p < j; p++) s -= ri[p] * rj[p];
            ri[j] = s * inv;
        }
    }
    return 0;
}

#define CHOL_NB 64
#define CHOL_BLOCKED_N 128
/* In place a = L L^T (L in the lower triangle; the strict upper triangle is
 * neither read nor cleared).  Above CHOL_BLOCKED_N the columns go in panels
 * whose update by all earlier columns is one GEMM. */
static em_status SFX(chol)(int64_t n, T *a, int64_t *bad) {
    int64_t nb = n > CHOL_BLOCKED_N ? CHOL_NB : n;
    *bad = 0;
    for (int64_t k0 = 0; k0 < n; k0 += nb) {
        int64_t k1 = k0 + nb < n ? k0 + nb : n;
        if (k0 > 0)
            EM_TRY(SFX(em__gemm)(n - k0, k1 - k0, k0, -1, a + k0 * n, n, 1, a + k0 * n, 1, n, 1, a + k0 * n + k0,
                                 n));
        if ((*bad = SFX(chol_panel)(n, a, k0, k1))) return EM_OK;
    }
    return EM_OK;
}

static em_status SFX(chol_all)(const em_tensor *x, bool upper, int nb, const int64_t *bshape, em_tensor *out) {
    int64_t n = x->shape[x->ndim - 1], nbatch = em__numel(nb, bshape);
    T *w = NULL;
    em_status st = em__alloc_or_fail(sizeof(T) * (size_t)(n * n + 1), "cholesky", (void **)&w);
    for (int64_t bi = 0; !st && bi < nbatch; bi++) {
        T *o = (T *)em__ptr(out) + bi * n * n;
        SFX(em__la_load)(x, 2, em__la_boff(x, 2, nb, bshape, bi), w, false);
        int64_t bad;
        st = SFX(chol)(n, w, &bad);
        if (!st && bad) {
            char d[EM_DESC_LEN];
            st = em__error(EM_ERR_INVALID_ARG,
                           "cholesky: matrix is not positive definite (its leading minor of order %lld is not "
                           "positive) in batch item %lld of %s",
                           (long long)bad, (long long)bi, em__desc(x, d));
        }
        for (int64_t i = 0; !st && i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                T v = j <= i ? w[i * n + j] : 0;
                if (upper) o[j * n + i] = v;
                else o[i * n + j] = v;
            }
    }
    em__free(w);
    return st;
}
