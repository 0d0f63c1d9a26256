/* SVD by one-sided (Hestenes) Jacobi after a Householder QR, and the
 * drivers of svd, pinv and lstsq built on it (template, see linalg_inst.h). */
#include <tgmath.h>

#define SVD_MAX_SWEEPS 60

static T SFX(sdot)(int64_t n, const T *x, const T *y) {
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0; /* four chains: latency, not order, bounds a dot */
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) s0 += x[i] * y[i], s1 += x[i + 1] * y[i + 1], s2 += x[i + 2] * y[i + 2], s3 += x[i + 3] * y[i + 3];
    for (; i < n; i++) s0 += x[i] * y[i];
    return (s0 + s1) + (s2 + s3);
}

static void SFX(srot)(int64_t n, T *x, T *y, T c, T s) {
    for (int64_t i = 0; i < n; i++) {
        T xi = x[i], yi = y[i];
        x[i] = c * xi - s * yi;
        y[i] = s * xi + c * yi;
    }
}

/* Rows of w (n x n) made mutually orthogonal by plane rotations, each also
 * applied to the rows of vt when given.  Returns false at the sweep cap. */
static bool SFX(jacobi)(int64_t n, T *w, T *vt, T *nrm) {
    T tol = LA_EPS * sqrt((T)(n > 1 ? n : 1));
    for (int sweep = 0; sweep < SVD_MAX_SWEEPS; sweep++) {
        for (int64_t i = 0; i < n; i++) nrm[i] = SFX(sdot)(n, w + i * n, w + i * n);
        bool rotated = false;
        for (int64_t i = 0; i + 1 < n; i++)
            for (int64_t j = i + 1; j < n; j++) {
                T a = nrm[i], b = nrm[j];
                if (a == 0 || b == 0) continue;
                T g = SFX(sdot)(n, w + i * n, w + j * n);
                if (fabs(g) <= tol * sqrt(a) * sqrt(b)) continue;
                rotated = true;
                T zeta = (b - a) / (2 * g);
                T t = copysign((T)1, zeta) / (fabs(zeta) + sqrt(1 + zeta * zeta));
                T c = 1 / sqrt(1 + t * t), s = c * t;
                SFX(srot)(n, w + i * n, w + j * n, c, s);
                if (vt) SFX(srot)(n, vt + i * n, vt + j * n, c, s);
                nrm[i] = a - t * g, nrm[j] = b + t * g;
            }
        if (!rotated) return true;
    }
    return false;
}

/* Rows r0.. of u (len each) completed to an orthonormal set against rows
 * 0..r0-1 (Gram-Schmidt twice from unit vectors). */
static void SFX(complete_basis)(int64_t rows, int64_t len, int64_t r0, T *u) {
    int64_t cand = 0;
    for (int64_t r = r0; r < rows; r++) {
        T *x = u + r * len;
        for (; cand < len; cand++) {
            memset(x, 0, sizeof(T) * (size_t)len);
            x[cand] = 1;
            for (int pass = 0; pass < 2; pass++)
                for (int64_t q = 0; q < r; q++) {
                    T d = SFX(sdot)(len, u + q * len, x);
                    for (int64_t i = 0; i < len; i++) x[i] -= d * u[q * len + i];
                }
            T nx = sqrt(SFX(sdot)(len, x, x));
            if (nx > (T)0.5) {
                for (int64_t i = 0; i < len; i++) x[i] /= nx;
                cand++;
                break;
            }
        }
    }
}

em_status SFX(em__la_svd)(int64_t m, int64_t n, const T *a, T *s, T *ut, bool full, T *vt, bool *noconv) {
    *noconv = false;
    T *at = NULL, *w = NULL, *work = NULL;
    int64_t *order = NULL;
    bool vecs = ut || vt;
    em_status st = em__alloc_or_fail(sizeof(T) * (size_t)(m * n + 1), "svd", (void **)&at);
    if (!st) st = em__alloc_or_fail(sizeof(T) * (size_t)(3 * n * n + 1), "svd", (void **)&w);
    if (!st) st = em__alloc_or_fail(sizeof(T) * (size_t)(3 * n + 1), "svd", (void **)&work);
    if (!st) st = em__alloc_or_fail(sizeof(int64_t) * (size_t)(n + 1), "svd", (void **)&order);
    if (st) goto done;
    T *v = w + n * n, *u = w + 2 * n * n, *nrm = work, *tau = work + n, *sig = work + 2 * n;
    T mx = 0; /* scaled to max |a| = 1 so that no square overflows */
    for (int64_t i = 0; i < m * n; i++) mx = fabs(a[i]) > mx ? fabs(a[i]) : mx;
    T sc = mx > 0 ? 1 / mx : 1;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) at[j * m + i] = a[i * n + j] * sc;
    /* w's rows: the columns of R (m > n, after A = QR; Jacobi then works on
     * n x n instead of m x n) or of A (m == n) */
    if (m > n) SFX(em__la_qr)(m, n, at, tau);
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < n; i++) w[j * n + i] = m > n && i > j ? 0 : at[j * m + i];
    if (vecs) {
        memset(v, 0, sizeof(T) * (size_t)(n * n));
        for (int64_t i = 0; i < n; i++) v[i * n + i] = 1;
    }
    if (!SFX(jacobi)(n, w, vecs ? v : NULL, nrm)) {
        *noconv = true;
        goto done;
    }
    for (int64_t j = 0; j < n; j++) sig[j] = sqrt(SFX(sdot)(n, w + j * n, w + j * n)), order[j] = j;
    for (int64_t i = 1; i < n; i++) { /* stable insertion sort, descending */
        int64_t o = order[i], p = i;
        for (; p > 0 && sig[order[p - 1]] < sig[o]; p--) order[p] = order[p - 1];
        order[p] = o;
    }
    int64_t nz = 0; /* rows with a usable direction */
    for (int64_t r = 0; r < n; r++) {
        int64_t j = order[r];
        s[r] = sig[j] * mx;
        if (sig[j] >= LA_TINY / LA_EPS) nz = r + 1;
    }
    if (!vecs) goto done;
    if (vt)
        for (int64_t r = 0; r < n; r++) memcpy(vt + r * n, v + order[r] * n, sizeof(T) * (size_t)n);
    if (!ut) goto done;
    for (int64_t r = 0; r < nz; r++) {
        const T *x = w + order[r] * n;
        T inv = 1 / sig[order[r]];
        for (int64_t i = 0; i < n; i++) u[r * n + i] = x[i] * inv;
    }
    SFX(complete_basis)(n, n, nz, u);
    if (m == n) {
        memcpy(ut, u, sizeof(T) * (size_t)(n * n));
        goto done;
    }
    int64_t rows = full ? m : n; /* U = Q [U_R 0; 0 I] */
    memset(ut, 0, sizeof(T) * (size_t)(rows * m));
    for (int64_t r = 0; r < n; r++) memcpy(ut + r * m, u + r * n, sizeof(T) * (size_t)n);
    for (int64_t r = n; r < rows; r++) ut[r * m + r] = 1;
    SFX(em__la_qr_apply_q)(m, n, at, tau, ut, rows);
done:
    em__free(at), em__free(w), em__free(work), em__free(order);
    return st;
}

/* One batch matrix x (m x n) in the kernel's tall orientation: buf holds it
 * (trans: x^T, n x m).  Returns EM_ERR_INVALID_ARG for NaN/inf or no
 * convergence, naming op and the batch item. */
static em_status SFX(svd_one)(const char *op, const em_tensor *x, int nb, const int64_t *bshape, int64_t bi, T *buf,
                              T *s, T *ut, bool full, T *vt) {
    int64_t m = x->shape[x->ndim - 2], n = x->shape[x->ndim - 1];
    bool trans = m < n;
    char d[EM_DESC_LEN];
    SFX(em__la_load)(x, 2, em__la_boff(x, 2, nb, bshape, bi), buf, trans);
    if (!SFX(em__la_finite)(m * n, buf))
        return em__error(EM_ERR_INVALID_ARG, "%s: batch item %lld of %s contains NaN or infinity", op, (long long)bi,
                         em__desc(x, d));
    bool noconv;
    EM_TRY(SFX(em__la_svd)(trans ? n : m, trans ? m : n, buf, s, ut, full, vt, &noconv));
    if (noconv)
        return em__error(EM_ERR_INVALID_ARG, "%s: SVD did not converge for batch item %lld of %s", op, (long long)bi,
                         em__desc(x, d));
    return EM_OK;
}

/* Work buffers for one matrix: buf (m n), s (k), ut ((full ? big : k) x big), vt (k x k). */
typedef struct {
    T *buf, *s, *ut, *vt;
} SFX(svd_work);

static em_status SFX(svd_work_alloc)(const char *op, int64_t m, int64_t n, bool full, SFX(svd_work) *wk) {
    int64_t big = m > n ? m : n, k = m < n ? m : n;
    memset(wk, 0, sizeof *wk);
    EM_TRY(em__alloc_or_fail(sizeof(T) * (size_t)(m * n + 1), op, (void **)&wk->buf));
    EM_TRY(em__alloc_or_fail(sizeof(T) * (size_t)(k + 1), op, (void **)&wk->s));
    /* the long singular vectors: big of them only for full matrices (a tall
     * m x n needs n rows of length m, not m x m) */
    EM_TRY(em__alloc_or_fail(sizeof(T) * (size_t)((full ? big : k) * big + 1), op, (void **)&wk->ut));
    return em__alloc_or_fail(sizeof(T) * (size_t)(k * k + 1), op, (void **)&wk->vt);
}

static void SFX(svd_work_free)(SFX(svd_work) *wk) {
    em__free(wk->buf), em__free(wk->s), em__free(wk->ut), em__free(wk->vt);
}

static em_status SFX(svd_all)(const em_tensor *x, int nb, const int64_t *bshape, bool full, em_tensor *u,
                              em_tensor *s, em_tensor *vh) {
    int64_t m = x->shape[x->ndim - 2], n = x->shape[x->ndim - 1], k = m < n ? m : n;
    int64_t big = m > n ? m : n, nbatch = em__numel(nb, bshape), uc = full ? m : k, vr = full ? n : k;
    bool trans = m < n;
    SFX(svd_work) wk;
    em_status st = SFX(svd_work_alloc)("svd", m, n, full, &wk);
    for (int64_t bi = 0; !st && bi < nbatch; bi++) {
        T *so = (T *)em__ptr(s) + bi * k;
        st = SFX(svd_one)("svd", x, nb, bshape, bi, wk.buf, so, u ? wk.ut : NULL, full, u ? wk.vt : NULL);
        if (st || !u) continue;
        T *uo = (T *)em__ptr(u) + bi * m * uc, *vo = (T *)em__ptr(vh) + bi * vr * n;
        if (!trans) { /* ut rows: U's columns (length m); vt = V^T */
            for (int64_t i = 0; i < m; i++)
                for (int64_t c = 0; c < uc; c++) uo[i * uc + c] = wk.ut[c * m + i];
            memcpy(vo, wk.vt, sizeof(T) * (size_t)(k * n));
        } else { /* x^T = U' S V'^T: U = V', V^T = U'^T */
            for (int64_t i = 0; i < m; i++)
                for (int64_t c = 0; c < m; c++) uo[i * m + c] = wk.vt[c * m + i];
            memcpy(vo, wk.ut, sizeof(T) * (size_t)(vr * big));
        }
    }
    SFX(svd_work_free)(&wk);
    return st;
}

/* Number of singular values (descending s[k]) above rtol * s[0]. */
static int64_t SFX(rank_of)(int64_t k, const T *s, double rtol) {
    int64_t r = 0;
    while (r < k && s[r] > (T)rtol * s[0]) r++;
    return r;
}

static em_status SFX(pinv_all)(const em_tensor *x, int nb, const int64_t *bshape, double rtol, em_tensor *out) {
    int64_t m = x->shape[x->ndim - 2], n = x->shape[x->ndim - 1], k = m < n ? m : n;
    int64_t big = m > n ? m : n, nbatch = em__numel(nb, bshape);
    bool trans = m < n;
    SFX(svd_work) wk;
    em_status st = SFX(svd_work_alloc)("pinv", m, n, false, &wk);
    for (int64_t bi = 0; !st && bi < nbatch; bi++) {
        st = SFX(svd_one)("pinv", x, nb, bshape, bi, wk.buf, wk.s, wk.ut, false, wk.vt);
        if (st) break;
        int64_t r = SFX(rank_of)(k, wk.s, rtol);
        for (int64_t q = 0; q < r; q++)
            for (int64_t i = 0; i < big; i++) wk.ut[q * big + i] /= wk.s[q];
        T *o = (T *)em__ptr(out) + bi * m * n;
        /* tall B (big x k) = U S V^T: pinv(B) = V S+ U^T (k x big); x = B or B^T */
        if (r == 0) memset(o, 0, sizeof(T) * (size_t)(m * n));
        else if (!trans)
            st = SFX(em__gemm)(k, big, r, 1, wk.vt, 1, k, wk.ut, big, 1, 0, o, big);
        else
            st = SFX(em__gemm)(big, k, r, 1, wk.ut, 1, big, wk.vt, k, 1, 0, o, k);
    }
    SFX(svd_work_free)(&wk);
    return st;
}

/* x = V S+ U^T b per batch item; res (batch x kb) squared residuals when m > n. */
static em_status SFX(lstsq_all)(const em_tensor *a, const em_tensor *b, int bcore, int nb, const int64_t *bshape,
                                double rcond, em_tensor *xo, T *res, em_tensor *ranko, em_tensor *so,
                                bool *full_rank) {
    int64_t m = a->shape[a->ndim - 2], n = a->shape[a->ndim - 1], k = m < n ? m : n, big = m > n ? m : n;
    int64_t kb = bcore == 2 ? b->shape[b->ndim - 1] : 1, nbatch = em__numel(nb, bshape);
    bool trans = m < n;
    SFX(svd_work) wk;
    T *bt = NULL, *am = NULL, *y = NULL;
    em_status st = SFX(svd_work_alloc)("lstsq", m, n, false, &wk);
    if (!st) st = em__alloc_or_fail(sizeof(T) * (size_t)(kb * m + 1), "lstsq", (void **)&bt);
    if (!st) st = em__alloc_or_fail(sizeof(T) * (size_t)(m * n + 1), "lstsq", (void **)&am);
    if (!st) st = em__alloc_or_fail(sizeof(T) * (size_t)(k + 1), "lstsq", (void **)&y);
    *full_rank = true;
    for (int64_t bi = 0; !st && bi < nbatch; bi++) {
        T *s = so ? (T *)em__ptr(so) + bi * k : wk.s;
        st = SFX(svd_one)("lstsq", a, nb, bshape, bi, wk.buf, s, wk.ut, false, wk.vt);
        if (st) break;
        int64_t r = SFX(rank_of)(k, s, rcond);
        if (r < n) *full_rank = false;
        if (ranko) ((int64_t *)em__ptr(ranko))[bi] = r;
        /* left vectors (length m) and right vectors (length n) as rows */
        const T *ul = trans ? wk.vt : wk.ut, *vr = trans ? wk.ut : wk.vt;
        SFX(em__la_load)(b, bcore, em__la_boff(b, bcore, nb, bshape, bi), bt, true);
        T *x = (T *)em__ptr(xo) + bi * n * kb;
        for (int64_t c = 0; c < kb; c++) {
            const T *bc = bt + c * m;
            for (int64_t q = 0; q < r; q++) y[q] = SFX(sdot)(m, ul + q * m, bc) / s[q];
            for (int64_t i = 0; i < n; i++) {
                T acc = 0;
                for (int64_t q = 0; q < r; q++) acc += vr[q * n + i] * y[q];
                x[i * kb + c] = acc;
            }
        }
        if (m <= n || !res) continue;
        SFX(em__la_load)(a, 2, em__la_boff(a, 2, nb, bshape, bi), am, false);
        for (int64_t c = 0; c < kb; c++) {
            T acc = 0;
            for (int64_t i = 0; i < m; i++) {
                T e = -bt[c * m + i];
                for (int64_t j = 0; j < n; j++) e += am[i * n + j] * x[j * kb + c];
                acc += e * e;
            }
            res[bi * kb + c] = acc;
        }
    }
    (void)big;
    SFX(svd_work_free)(&wk);
    em__free(bt), em__free(am), em__free(y);
    return st;
}
