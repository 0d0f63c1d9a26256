/* LU with partial pivoting and its solves (template, see linalg_inst.h).
 * Matrices are row-major n x n with leading dimension n. */
#include <tgmath.h>

/* Gaussian elimination with row swaps on columns [k0, k1) of rows [k0, n):
 * swaps are applied to whole rows, eliminations only inside the panel. */
static void SFX(lu_panel)(int64_t n, T *a, int64_t k0, int64_t k1, int64_t *piv, int64_t *zero_at) {
    for (int64_t j = k0; j < k1; j++) {
        int64_t p = j;
        T best = fabs(a[j * n + j]);
        for (int64_t i = j + 1; i < n; i++)
            if (fabs(a[i * n + j]) > best) best = fabs(a[i * n + j]), p = i;
        piv[j] = p;
        if (p != j)
            for (int64_t c = 0; c < n; c++) {
                T t = a[j * n + c];
                a[j * n + c] = a[p * n + c];
                a[p * n + c] = t;
            }
        T d = a[j * n + j];
        if (d == 0) { /* singular: nothing to eliminate, as LAPACK's getrf */
            if (*zero_at < 0) *zero_at = j;
            continue;
        }
        T inv = 1 / d;
        const T *rj = a + j * n;
        for (int64_t i = j + 1; i < n; i++) {
            T *ri = a + i * n;
            T l = ri[j] *= inv;
            for (int64_t c = j + 1; c < k1; c++) ri[c] -= l * rj[c];
        }
    }
}

/* In place P A = L U (unit L below the diagonal, U on and above); piv[j] is
 * the row swapped with row j at step j; *zero_at the first exactly zero
 * pivot or -1.  Right-looking, blocked above LU_BLOCKED_N: the trailing
 * update A22 -= L21 U12 is a GEMM. */
#define LU_NB 64
#define LU_BLOCKED_N 128
static em_status SFX(lu)(int64_t n, T *a, int64_t *piv, int64_t *zero_at) {
    *zero_at = -1;
    int64_t nb = n > LU_BLOCKED_N ? LU_NB : n;
    for (int64_t k0 = 0; k0 < n; k0 += nb) {
        int64_t k1 = k0 + nb < n ? k0 + nb : n;
        SFX(lu_panel)(n, a, k0, k1, piv, zero_at);
        if (k1 == n) break;
        /* U12 = L11^-1 A12 */
        for (int64_t i = k0 + 1; i < k1; i++) {
            T *ri = a + i * n;
            for (int64_t p = k0; p < i; p++) {
                T l = ri[p];
                const T *rp = a + p * n;
                for (int64_t c = k1; c < n; c++) ri[c] -= l * rp[c];
            }
        }
        int64_t r = n - k1;
        EM_TRY(SFX(em__gemm)(r, r, k1 - k0, -1, a + k1 * n + k0, n, 1, a + k0 * n + k1, n, 1, 1, a + k1 * n + k1,
                             n));
    }
    return EM_OK;
}

/* b (n x k row-major) = A^-1 b from the factors of lu. */
static void SFX(lu_solve)(int64_t n, const T *lu, const int64_t *piv, T *b, int64_t k) {
    for (int64_t j = 0; j < n; j++)
        if (piv[j] != j)
            for (int64_t c = 0; c < k; c++) {
                T t = b[j * k + c];
                b[j * k + c] = b[piv[j] * k + c];
                b[piv[j] * k + c] = t;
            }
    if (k == 1) { /* one right-hand side: dot products along rows of L and U */
        for (int64_t i = 0; i < n; i++) {
            T s = b[i];
            for (int64_t p = 0; p < i; p++) s -= lu[i * n + p] * b[p];
            b[i] = s;
        }
        for (int64_t i = n - 1; i >= 0; i--) {
            T s = b[i];
            for (int64_t p = i + 1; p < n; p++) s -= lu[i * n + p] * b[p];
            b[i] = s / lu[i * n + i];
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        T *bi = b + i * k;
        for (int64_t p = 0; p < i; p++) {
            T l = lu[i * n + p];
            const T *bp = b + p * k;
            for (int64_t c = 0; c < k; c++) bi[c] -= l * bp[c];
        }
    }
    for (int64_t i = n - 1; i >= 0; i--) {
        T *bi = b + i * k;
        for (int64_t p = i + 1; p < n; p++) {
            T u = lu[i * n + p];
            const T *bp = b + p * k;
            for (int64_t c = 0; c < k; c++) bi[c] -= u * bp[c];
        }
        T inv = 1 / lu[i * n + i];
        for (int64_t c = 0; c < k; c++) bi[c] *= inv;
    }
}

/* Shared driver of solve (b given) and inv (b NULL: identity right-hand side). */
static em_status SFX(solve_all)(const char *op, const em_tensor *a, const em_tensor *b, int bcore, int nb,
                                const int64_t *bshape, em_tensor *out) {
    int64_t n = a->shape[a->ndim - 1], k = b ? (bcore == 2 ? b->shape[b->ndim - 1] : 1) : n;
    int64_t nbatch = em__numel(nb, bshape);
    T *lu = NULL, *rhs = (T *)em__ptr(out);
    int64_t *piv = NULL;
    em_status st = em__alloc_or_fail(sizeof(T) * (size_t)(n * n + 1), op, (void **)&lu);
    if (!st) st = em__alloc_or_fail(sizeof(int64_t) * (size_t)(n + 1), op, (void **)&piv);
    for (int64_t bi = 0; !st && bi < nbatch; bi++) {
        T *x = rhs + bi * n * k;
        SFX(em__la_load)(a, 2, em__la_boff(a, 2, nb, bshape, bi), lu, false);
        if (b) {
            SFX(em__la_load)(b, bcore, em__la_boff(b, bcore, nb, bshape, bi), x, false);
        } else {
            memset(x, 0, sizeof(T) * (size_t)(n * n));
            for (int64_t i = 0; i < n; i++) x[i * n + i] = 1;
        }
        int64_t zero_at;
        st = SFX(lu)(n, lu, piv, &zero_at);
        if (st) break;
        if (zero_at >= 0) {
            char d[EM_DESC_LEN];
            st = em__error(EM_ERR_INVALID_ARG,
                           "%s: singular matrix (exactly zero pivot U[%lld, %lld] in the LU factorisation) in "
                           "batch item %lld of %s",
                           op, (long long)zero_at, (long long)zero_at, (long long)bi, em__desc(a, d));
            break;
        }
        SFX(lu_solve)(n, lu, piv, x, k);
    }
    em__free(lu);
    em__free(piv);
    return st;
}

/* Per batch matrix: det = (-1)^swaps * prod(pivots) (directly, as NumPy: it
 * may overflow where slogdet does not), slogdet's sign and log|det|. */
static em_status SFX(det_all)(const em_tensor *a, int nb, const int64_t *bshape, em_tensor *sign,
                              em_tensor *logabs, em_tensor *det) {
    int64_t n = a->shape[a->ndim - 1], nbatch = em__numel(nb, bshape);
    T *lu = NULL;
    int64_t *piv = NULL;
    em_status st = em__alloc_or_fail(sizeof(T) * (size_t)(n * n + 1), "det", (void **)&lu);
    if (!st) st = em__alloc_or_fail(sizeof(int64_t) * (size_t)(n + 1), "det", (void **)&piv);
    for (int64_t bi = 0; !st && bi < nbatch; bi++) {
        SFX(em__la_load)(a, 2, em__la_boff(a, 2, nb, bshape, bi), lu, false);
        int64_t zero_at;
        st = SFX(lu)(n, lu, piv, &zero_at);
        if (st) break;
        T swaps = 1, sg = 1, la = 0, prod = 1;
        for (int64_t i = 0; i < n; i++) {
            T u = lu[i * n + i];
            if (piv[i] != i) swaps = -swaps;
            prod *= u;
            if (u < 0) sg = -sg;
            la += log(fabs(u));
        }
        sg *= swaps;
        if (zero_at >= 0) sg = 0, la = -INFINITY;
        if (det) ((T *)em__ptr(det))[bi] = swaps * prod;
        if (sign) ((T *)em__ptr(sign))[bi] = sg, ((T *)em__ptr(logabs))[bi] = la;
    }
    em__free(lu);
    em__free(piv);
    return st;
}
