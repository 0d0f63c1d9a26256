/* Symmetric eigendecomposition (template, see linalg_inst.h): Householder
 * tridiagonalisation, then implicit QL with Wilkinson shifts. */
#include <tgmath.h>

#define EIG_MAX_ITER 30 /* QL iterations per eigenvalue before giving up */

/* ||x|| without overflow of the squares. */
static T SFX(eig_nrm2)(int64_t n, const T *x) {
    T mx = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs(x[i]) > mx) mx = fabs(x[i]);
    if (mx == 0) return 0;
    T s = 0, inv = 1 / mx;
    for (int64_t i = 0; i < n; i++) s += (x[i] * inv) * (x[i] * inv);
    return mx * sqrt(s);
}

/* a (n x n, full symmetric) -> Q^T a Q = tridiag(d, e); the reflector of step
 * k is kept in row k (v[0] = 1 implied at column k+1), tau[k] its factor. */
static void SFX(tridiag)(int64_t n, T *a, T *d, T *e, T *tau, T *p) {
    for (int64_t k = 0; k + 2 < n; k++) {
        T *x = a + k * n + k + 1;
        int64_t len = n - k - 1;
        T alpha = x[0], xn = SFX(eig_nrm2)(len - 1, x + 1);
        d[k] = a[k * n + k];
        if (xn == 0) {
            tau[k] = 0, e[k] = alpha;
            continue;
        }
        T beta = -copysign(hypot(alpha, xn), alpha), t = (beta - alpha) / beta, sc = 1 / (alpha - beta);
        for (int64_t i = 1; i < len; i++) x[i] *= sc;
        x[0] = 1;
        tau[k] = t, e[k] = beta;
        /* A22 = H A22 H with H = I - t v v^T: A22 -= v w^T + w v^T, w = p - (t/2)(p.v) v, p = t A22 v */
        T *a22 = a + (k + 1) * n + k + 1, pv = 0;
        for (int64_t i = 0; i < len; i++) {
            const T *ri = a22 + i * n;
            T acc[4] = {0, 0, 0, 0}; /* four interleaved partial sums: a dot the compiler vectorises */
            int64_t j = 0;
            for (; j + 4 <= len; j += 4)
                for (int l = 0; l < 4; l++) acc[l] += ri[j + l] * x[j + l];
            for (; j < len; j++) acc[0] += ri[j] * x[j];
            p[i] = t * ((acc[0] + acc[1]) + (acc[2] + acc[3]));
            pv += p[i] * x[i];
        }
        T kk = t * pv / 2;
        for (int64_t i = 0; i < len; i++) p[i] -= kk * x[i];
        for (int64_t i = 0; i < len; i++) {
            T *ri = a22 + i * n, vi = x[i], wi = p[i];
            for (int64_t j = 0; j < len; j++) ri[j] -= vi * p[j] + wi * x[j];
        }
    }
    if (n >= 2) e[n - 2] = a[(n - 2) * n + n - 1], d[n - 2] = a[(n - 2) * n + n - 2];
    if (n >= 1) d[n - 1] = a[(n - 1) * n + n - 1], e[n - 1] = 0;
}

/* zt (n x n) = Q^T with Q = H_0 ... H_{n-3}, accumulated backwards so each
 * reflector meets only the rows and columns it changes. */
static void SFX(form_qt)(int64_t n, const T *a, const T *tau, T *z, T *wrow) {
    memset(z, 0, sizeof(T) * (size_t)(n * n));
    for (int64_t i = 0; i < n; i++) z[i * n + i] = 1;
    for (int64_t k = n - 3; k >= 0; k--) {
        if (tau[k] == 0) continue;
        const T *v = a + k * n + k + 1;
        int64_t len = n - k - 1, c0 = k + 1;
        for (int64_t c = c0; c < n; c++) wrow[c] = 0;
        for (int64_t i = 0; i < len; i++) {
            const T *zi = z + (c0 + i) * n;
            for (int64_t c = c0; c < n; c++) wrow[c] += v[i] * zi[c];
        }
        for (int64_t i = 0; i < len; i++) {
            T *zi = z + (c0 + i) * n, f = tau[k] * v[i];
            for (int64_t c = c0; c < n; c++) zi[c] -= f * wrow[c];
        }
    }
    for (int64_t i = 0; i < n; i++) /* transpose in place: rows of z become Q's columns */
        for (int64_t j = i + 1; j < n; j++) {
            T t = z[i * n + j];
            z[i * n + j] = z[j * n + i];
            z[j * n + i] = t;
        }
}

/* Eigenvalues of tridiag(d, e) into d; if zt, the same rotations on its rows
 * (so row i ends as eigenvector i).  Returns false on no convergence. */
static bool SFX(tql)(int64_t n, T *d, T *e, T *zt) {
    for (int64_t l = 0; l < n; l++) {
        int iter = 0;
        for (;;) {
            int64_t m = l;
            for (; m < n - 1; m++)
                if (fabs(e[m]) <= LA_EPS * (fabs(d[m]) + fabs(d[m + 1]))) break;
            if (m == l) break;
            if (iter++ == EIG_MAX_ITER) return false;
            T g = (d[l + 1] - d[l]) / (2 * e[l]), r = hypot(g, (T)1);
            g = d[m] - d[l] + e[l] / (g + copysign(r, g));
            T s = 1, c = 1, p = 0;
            bool early = false;
            for (int64_t i = m - 1; i >= l; i--) {
                T f = s * e[i], b = c * e[i];
                r = hypot(f, g);
                e[i + 1] = r;
                if (r == 0) { /* underflow: the matrix split here; restart the sweep */
                    d[i + 1] -= p, e[m] = 0, early = true;
                    break;
                }
                s = f / r, c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
                if (zt) {
                    T *zi = zt + i * n, *zj = zt + (i + 1) * n;
                    for (int64_t k = 0; k < n; k++) {
                        T zk = zj[k];
                        zj[k] = s * zi[k] + c * zk;
                        zi[k] = c * zi[k] - s * zk;
                    }
                }
            }
            if (early) continue;
            d[l] -= p, e[l] = g, e[m] = 0;
        }
    }
    return true;
}

static em_status SFX(eigh_all)(const em_tensor *x, int nb, const int64_t *bshape, em_tensor *w, em_tensor *v) {
    int64_t n = x->shape[x->ndim - 1], nbatch = em__numel(nb, bshape);
    T *a = NULL, *z = NULL, *vec = NULL;
    em_status st = em__alloc_or_fail(sizeof(T) * (size_t)(n * n + 1), "eigh", (void **)&a);
    if (!st) st = em__alloc_or_fail(sizeof(T) * (size_t)(4 * n + 1), "eigh", (void **)&vec);
    if (!st && v) st = em__alloc_or_fail(sizeof(T) * (size_t)(n * n + 1), "eigh", (void **)&z);
    T *d = vec, *e = vec + n, *tau = vec + 2 * n, *p = vec + 3 * n;
    char desc[EM_DESC_LEN];
    for (int64_t bi = 0; !st && bi < nbatch; bi++) {
        SFX(em__la_load)(x, 2, em__la_boff(x, 2, nb, bshape, bi), a, false);
        T mx = 0; /* lower triangle only; scaled to max |a| = 1 against overflow */
        bool finite = true;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j <= i; j++) {
                T t = fabs(a[i * n + j]);
                finite &= t < INFINITY;
                mx = t > mx ? t : mx;
            }
        if (!finite) {
            st = em__error(EM_ERR_INVALID_ARG, "eigh: batch item %lld of %s contains NaN or infinity",
                           (long long)bi, em__desc(x, desc));
            break;
        }
        T sc = mx > 0 ? 1 / mx : 1;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = a[i * n + j] * sc;
        SFX(tridiag)(n, a, d, e, tau, p);
        if (z) SFX(form_qt)(n, a, tau, z, p);
        if (!SFX(tql)(n, d, e, z)) {
            st = em__error(EM_ERR_INVALID_ARG, "eigh: eigenvalues did not converge for batch item %lld of %s",
                           (long long)bi, em__desc(x, desc));
            break;
        }
        for (int64_t i = 0; i < n; i++) { /* ascending, as NumPy; selection sort moves each row once */
            int64_t lo = i;
            for (int64_t j = i + 1; j < n; j++)
                if (d[j] < d[lo]) lo = j;
            if (lo == i) continue;
            T t = d[i];
            d[i] = d[lo], d[lo] = t;
            if (z)
                for (int64_t k = 0; k < n; k++) t = z[i * n + k], z[i * n + k] = z[lo * n + k], z[lo * n + k] = t;
        }
        T *wo = (T *)em__ptr(w) + bi * n;
        for (int64_t i = 0; i < n; i++) wo[i] = mx > 0 ? d[i] * mx : d[i];
        if (!z) continue;
        T *vo = (T *)em__ptr(v) + bi * n * n;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) vo[i * n + j] = z[j * n + i];
    }
    em__free(a), em__free(z), em__free(vec);
    return st;
}
