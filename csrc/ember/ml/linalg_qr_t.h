/* Householder QR (template, see linalg_inst.h).  A's columns are rows of
 * `at` (n x m row-major), so every reflector and every column it updates is
 * a contiguous vector. */
#include <tgmath.h>

/* ||x|| without overflow or underflow of the squares. */
static T SFX(nrm2)(int64_t n, const T *x) {
    T mx = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs(x[i]) > mx) mx = fabs(x[i]);
    if (mx == 0 || !(mx < INFINITY)) return mx;
    T s = 0, inv = 1 / mx;
    for (int64_t i = 0; i < n; i++) s += (x[i] * inv) * (x[i] * inv);
    return mx * sqrt(s);
}

/* c[0:len] -= tau * (v . c) * v with v[0] = 1 implied. */
static inline void SFX(reflect)(int64_t len, const T *v, T tau, T *c) {
    if (tau == 0) return;
    T w = c[0];
    for (int64_t i = 1; i < len; i++) w += v[i] * c[i];
    w *= tau;
    c[0] -= w;
    for (int64_t i = 1; i < len; i++) c[i] -= w * v[i];
}

void SFX(em__la_qr)(int64_t m, int64_t n, T *at, T *tau) {
    int64_t k = m < n ? m : n;
    for (int64_t j = 0; j < k; j++) {
        T *x = at + j * m + j;
        int64_t len = m - j;
        T alpha = x[0], xn = SFX(nrm2)(len - 1, x + 1);
        if (xn == 0) { /* already upper triangular here: H = I, as LAPACK's larfg */
            tau[j] = 0;
            continue;
        }
        T beta = -copysign(hypot(alpha, xn), alpha);
        tau[j] = (beta - alpha) / beta;
        T sc = 1 / (alpha - beta);
        for (int64_t i = 1; i < len; i++) x[i] *= sc;
        x[0] = beta;
        for (int64_t c = j + 1; c < n; c++) SFX(reflect)(len, x, tau[j], at + c * m + j);
    }
}

void SFX(em__la_qr_apply_qt)(int64_t m, int64_t k, const T *at, const T *tau, T *c, int64_t ncols) {
    for (int64_t r = 0; r < ncols; r++)
        for (int64_t j = 0; j < k; j++) SFX(reflect)(m - j, at + j * m + j, tau[j], c + r * m + j);
}

void SFX(em__la_qr_apply_q)(int64_t m, int64_t k, const T *at, const T *tau, T *c, int64_t ncols) {
    for (int64_t r = 0; r < ncols; r++)
        for (int64_t j = k - 1; j >= 0; j--) SFX(reflect)(m - j, at + j * m + j, tau[j], c + r * m + j);
}

/* q: (m x qc) or NULL, r: (rr x n) outputs of batch item bi. */
static em_status SFX(qr_all)(const em_tensor *x, int nb, const int64_t *bshape, em_tensor *q, int64_t qc,
                             em_tensor *r, int64_t rr) {
    int64_t m = x->shape[x->ndim - 2], n = x->shape[x->ndim - 1], k = m < n ? m : n;
    int64_t nbatch = em__numel(nb, bshape);
    T *at = NULL, *tau = NULL, *qt = NULL;
    em_status st = em__alloc_or_fail(sizeof(T) * (size_t)(m * n + 1), "qr", (void **)&at);
    if (!st) st = em__alloc_or_fail(sizeof(T) * (size_t)(k + 1), "qr", (void **)&tau);
    if (!st && q) st = em__alloc_or_fail(sizeof(T) * (size_t)(qc * m + 1), "qr", (void **)&qt);
    for (int64_t bi = 0; !st && bi < nbatch; bi++) {
        SFX(em__la_load)(x, 2, em__la_boff(x, 2, nb, bshape, bi), at, true);
        SFX(em__la_qr)(m, n, at, tau);
        T *ro = (T *)em__ptr(r) + bi * rr * n;
        for (int64_t i = 0; i < rr; i++)
            for (int64_t j = 0; j < n; j++) ro[i * n + j] = i <= j ? at[j * m + i] : 0;
        if (!q) continue;
        memset(qt, 0, sizeof(T) * (size_t)(qc * m));
        for (int64_t c = 0; c < qc; c++) qt[c * m + c] = 1;
        SFX(em__la_qr_apply_q)(m, k, at, tau, qt, qc);
        T *qo = (T *)em__ptr(q) + bi * m * qc;
        for (int64_t i = 0; i < m; i++)
            for (int64_t c = 0; c < qc; c++) qo[i * qc + c] = qt[c * m + i];
    }
    em__free(at), em__free(tau), em__free(qt);
    return st;
}
