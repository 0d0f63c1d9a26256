/* Tall least-squares reductions (ember/ml.h: em_linalg_tall_gram,
 * em_linalg_tall_qr; docs/linalg.md, section "Tall matrices").
 *
 * A tall X (m x n, m >> n) with optional targets Y (m x k) and row weights
 * w is reduced in ONE pass over its rows to a small p x p matrix (p = n + k)
 * of the weighted, optionally centred augmented matrix A = [X | Y]:
 *   - gram: C = sum_i w_i (a_i - mu)(a_i - mu)^T, mu the weighted mean;
 *   - qr:   R upper triangular with R^T R = C, from Householder reflections.
 * Everything a linear regression or a PCA needs follows from that small
 * matrix (R's SVD is the SVD of the centred X up to the orthogonal Q), so
 * the data is read once and never centred, scaled or copied as a whole.
 *
 * Rows go in blocks small enough for the L2 cache (block_rows(p)):
 *   - gram: each block is centred on its own weighted mean, its Gram matrix
 *     is one GEMM, and blocks merge with the pairwise update of Chan, Golub
 *     and LeVeque, C = C_a + C_b + (W_a W_b / (W_a + W_b)) d d^T with
 *     d = mu_b - mu_a, so no sum of squares of uncentred data is ever
 *     formed (no cancellation however large the mean is);
 *   - qr: the block (columns contiguous) is stacked under the running R and
 *     reduced by Householder reflectors that touch only R's diagonal row and
 *     the block (a flat-tree TSQR).  Centring is exact and implicit: the
 *     augmented matrix starts with the column sqrt(w), which the first
 *     reflector eliminates, so R's trailing block is the R factor of the
 *     centred data and R's first row holds the weighted column sums.
 *
 * Determinism: rows are cut into chunks fixed by (m, p) alone; each chunk is
 * reduced on its own (in parallel) and the chunk results are merged in chunk
 * order, so the result does not depend on the thread count. */
#include <math.h>
#include <string.h>

/* Let gcc vectorise the unknown-length column loops (baseline SSE2, no
 * CPU-specific code) despite -O2's "very cheap" cost model. */
#pragma GCC optimize("vect-cost-model=dynamic")

#include "../base/threadpool.h"
#include "../kernels/gemm.h"
#include "../kernels/tall_proj.h"
#include "linalg_internal.h"

#define MIN_CHUNK_ROWS 8192
#define MAX_CHUNKS 64
#define QR_BLOCK_BYTES (32 << 10)
#define GRAM_BLOCK_BYTES (128 << 10)
#define PART_BUDGET (1 << 25) /* doubles held by all chunk partials together (256 MB) */

/* Rows per block: the block (rows x cols doubles) stays within `bytes`. */
static int64_t block_rows(int64_t cols, int64_t bytes) {
    int64_t b = bytes / 8 / (cols > 0 ? cols : 1);
    return b < 64 ? 64 : b > 2048 ? 2048 : b;
}

typedef struct {
    const em_tensor *x, *y, *w;
    int64_t m, n, k, p, q; /* q: columns of the QR's augmented matrix (p, + 1 when centring) */
    bool center, qr;
    int64_t chunk_rows, nchunks, brows, per_thread;
    double *part; /* per chunk: gram: W, mu[p], C[p*p]; qr: R[q*q] */
    double *work; /* per thread: block buffer, then (gram) the block's C */
    em_status *st;
} tall_ctx;

static int64_t part_size(const tall_ctx *c) { return c->qr ? c->q * c->q : 1 + c->p + c->p * c->p; }

/* dst[r * rs + (off + j) * cs] = column j of src's rows r0 .. r0 + nr (as double). */
static void load_cols(const em_tensor *src, int64_t r0, int64_t nr, double *dst, int64_t rs, int64_t cs,
                      int64_t off) {
    int64_t cols = src->ndim == 2 ? src->shape[1] : 1;
    int64_t s0 = src->strides[0], s1 = src->ndim == 2 ? src->strides[1] : 0;
    if (src->dtype == EM_F64) {
        const double *p = (const double *)em__ptr(src) + r0 * s0;
        if (s1 == 1 && cs == 1) {
            for (int64_t r = 0; r < nr; r++) memcpy(dst + r * rs + off, p + r * s0, sizeof(double) * (size_t)cols);
            return;
        }
        for (int64_t r = 0; r < nr; r++)
            for (int64_t j = 0; j < cols; j++) dst[r * rs + (off + j) * cs] = p[r * s0 + j * s1];
    } else {
        const float *p = (const float *)em__ptr(src) + r0 * s0;
        for (int64_t r = 0; r < nr; r++)
            for (int64_t j = 0; j < cols; j++) dst[r * rs + (off + j) * cs] = p[r * s0 + j * s1];
    }
}

static double weight(const tall_ctx *c, int64_t i) {
    return ((const double *)em__ptr(c->w))[i * c->w->strides[0]];
}

/* ---- gram -------------------------------------------------------------- */

/* (W, mu, C) += (wb, mub, cb) by the pairwise update, upper triangles only. */
static void gram_merge(int64_t p, bool center, double *W, double *mu, double *C, double wb, const double *mub,
                       const double *cb) {
    if (center && wb > 0 && *W > 0) {
        double tot = *W + wb, f = *W * wb / tot;
        for (int64_t i = 0; i < p; i++) {
            double di = f * (mub[i] - mu[i]);
            for (int64_t j = i; j < p; j++) C[i * p + j] += cb[i * p + j] + di * (mub[j] - mu[j]);
        }
        for (int64_t i = 0; i < p; i++) mu[i] += (mub[i] - mu[i]) * (wb / tot);
        *W = tot;
        return;
    }
    for (int64_t i = 0; i < p; i++)
        for (int64_t j = i; j < p; j++) C[i * p + j] += cb[i * p + j];
    if (center && wb > 0) memcpy(mu, mub, sizeof(double) * (size_t)p); /* first non-empty block */
    *W += wb;
}

/* sum of x[0..len) in 4 interleaved partial sums (vectorisable, fixed order) */
static double sum4(int64_t len, const double *x) {
    double s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int l = 0; l < 4; l++) s[l] += x[i + l];
    for (; i < len; i++) s[0] += x[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static double dot4(int64_t len, const double *x, const double *y) {
    double s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int l = 0; l < 4; l++) s[l] += x[i + l] * y[i + l];
    for (; i < len; i++) s[0] += x[i] * y[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* The block is held transposed (column j of the rows at Bt + j * ld,
 * contiguous), so centring runs down contiguous columns and the Gram matrix
 * is a product of two row-contiguous operands: GEMM's dot form, unpacked. */
static em_status gram_chunk(const tall_ctx *c, int64_t r0, int64_t r1, double *part, double *work) {
    int64_t p = c->p, n = c->n, ld = c->brows;
    double *W = part, *mu = part + 1, *C = part + 1 + p;
    double *Bt = work, *cb = work + ld * p, *mub = cb + p * p, *sw = mub + p;
    memset(part, 0, sizeof(double) * (size_t)part_size(c));
    for (int64_t b0 = r0; b0 < r1; b0 += c->brows) {
        int64_t nr = b0 + c->brows < r1 ? c->brows : r1 - b0;
        load_cols(c->x, b0, nr, Bt, 1, ld, 0);
        if (c->y) load_cols(c->y, b0, nr, Bt, 1, ld, n);
        double wb = (double)nr;
        if (c->w) {
            wb = 0;
            for (int64_t r = 0; r < nr; r++) sw[r] = weight(c, b0 + r), wb += sw[r];
        }
        if (c->center) {
            double inv = wb > 0 ? 1 / wb : 0;
            for (int64_t j = 0; j < p; j++) mub[j] = (c->w ? dot4(nr, sw, Bt + j * ld) : sum4(nr, Bt + j * ld)) * inv;
        }
        if (c->w)
            for (int64_t r = 0; r < nr; r++) sw[r] = sqrt(sw[r]);
        if (c->center || c->w)
            for (int64_t j = 0; j < p; j++) {
                double *col = Bt + j * ld, m = c->center ? mub[j] : 0;
                if (c->w)
                    for (int64_t r = 0; r < nr; r++) col[r] = (col[r] - m) * sw[r];
                else
                    for (int64_t r = 0; r < nr; r++) col[r] -= m;
            }
        /* upper triangle of cb = Bt Bt^T in panels of 4 rows (GEMM's unpacked dot form; its
         * 4-row blocks, so little of the lower triangle is computed) */
        for (int64_t i0 = 0; i0 < p; i0 += 4) {
            int64_t mm = p - i0 < 4 ? p - i0 : 4;
            EM_TRY(em__gemm_f64(mm, p - i0, nr, 1, Bt + i0 * ld, ld, 1, Bt + i0 * ld, 1, ld, 0, cb + i0 * p + i0, p));
        }
        gram_merge(p, c->center, W, mu, C, wb, mub, cb);
    }
    return EM_OK;
}

/* ---- qr ---------------------------------------------------------------- */

/* ||x|| of a column without overflow or underflow of the squares. */
static double col_norm(int64_t len, const double *x) {
    double s = 0;
    for (int64_t i = 0; i < len; i++) s += x[i] * x[i];
    if (s > 1e-280 && s < 1e280) return sqrt(s);
    double mx = 0;
    for (int64_t i = 0; i < len; i++) mx = fabs(x[i]) > mx ? fabs(x[i]) : mx;
    if (mx == 0 || !(mx < INFINITY)) return mx == 0 ? 0 : mx + s; /* NaN stays NaN */
    s = 0;
    for (int64_t i = 0; i < len; i++) s += (x[i] / mx) * (x[i] / mx);
    return mx * sqrt(s);
}

/* Stacks the nr-row block B (q columns, column j at B + j * ld) under the
 * upper-triangular q x q R and reduces the stack to triangular again: R is
 * replaced by the new factor and B is destroyed.  Reflector j acts on R's
 * row j and the block's rows only (R's rows below j are zero in column j). */
static void absorb(int64_t q, double *R, double *B, int64_t ld, int64_t nr) {
    for (int64_t j = 0; j < q; j++) {
        double *v = B + j * ld, *rj = R + j * q;
        double xn = col_norm(nr, v);
        if (xn == 0) continue; /* the column is already reduced: H = I */
        double alpha = rj[j], beta = -copysign(hypot(alpha, xn), alpha), tau = (beta - alpha) / beta;
        double sc = 1 / (alpha - beta);
        for (int64_t i = 0; i < nr; i++) v[i] *= sc;
        rj[j] = beta;
        for (int64_t c = j + 1; c < q; c++) { /* [R_jc; B_c] -= tau (v . [R_jc; B_c]) v, v = [1; v] */
            double *bc = B + c * ld, s = tau * (rj[c] + dot4(nr, v, bc));
            rj[c] -= s;
            for (int64_t i = 0; i < nr; i++) bc[i] -= s * v[i];
        }
    }
}

static em_status qr_chunk(const tall_ctx *c, int64_t r0, int64_t r1, double *R, double *work) {
    int64_t q = c->q, off = c->center ? 1 : 0, ld = c->brows;
    memset(R, 0, sizeof(double) * (size_t)(q * q));
    for (int64_t b0 = r0; b0 < r1; b0 += c->brows) {
        int64_t nr = b0 + c->brows < r1 ? c->brows : r1 - b0;
        load_cols(c->x, b0, nr, work, 1, ld, off);
        if (c->y) load_cols(c->y, b0, nr, work, 1, ld, off + c->n);
        if (c->center)
            for (int64_t r = 0; r < nr; r++) work[r] = c->w ? sqrt(weight(c, b0 + r)) : 1;
        if (c->w)
            for (int64_t j = off; j < q; j++)
                for (int64_t r = 0; r < nr; r++) work[j * ld + r] *= c->center ? work[r] : sqrt(weight(c, b0 + r));
        absorb(q, R, work, ld, nr);
    }
    return EM_OK;
}

static void run_chunks(void *vctx, int64_t begin, int64_t end, int tid) {
    tall_ctx *c = vctx;
    double *work = c->work + (int64_t)tid * c->per_thread;
    for (int64_t ch = begin; ch < end; ch++) {
        int64_t r0 = ch * c->chunk_rows, r1 = r0 + c->chunk_rows < c->m ? r0 + c->chunk_rows : c->m;
        double *part = c->part + ch * part_size(c);
        c->st[ch] = c->qr ? qr_chunk(c, r0, r1, part, work) : gram_chunk(c, r0, r1, part, work);
    }
}

/* ---- public ------------------------------------------------------------ */

static em_status check_args(const char *op, const em_tensor *x, const em_tensor *y, const em_tensor *w) {
    char d1[EM_DESC_LEN], d2[EM_DESC_LEN];
    if (x->ndim != 2 || (x->dtype != EM_F32 && x->dtype != EM_F64))
        return em__error(EM_ERR_SHAPE, "%s: x must be a 2-D float32 or float64 matrix, got %s", op, em__desc(x, d1));
    if (x->shape[0] < 1 || x->shape[1] < 1)
        return em__error(EM_ERR_SHAPE, "%s: x %s has no rows or no columns", op, em__desc(x, d1));
    if (y && ((y->ndim != 1 && y->ndim != 2) || (y->dtype != EM_F32 && y->dtype != EM_F64) ||
              y->shape[0] != x->shape[0] || (y->ndim == 2 && y->shape[1] < 1)))
        return em__error(EM_ERR_SHAPE, "%s: y %s must be float32/float64 (m,) or (m, k) with m = %lld rows as x %s", op,
                         em__desc(y, d2), (long long)x->shape[0], em__desc(x, d1));
    if (w && (w->ndim != 1 || w->dtype != EM_F64 || w->shape[0] != x->shape[0]))
        return em__error(EM_ERR_SHAPE, "%s: w %s must be float64 (m,) with m = %lld rows as x %s", op,
                         em__desc(w, d2), (long long)x->shape[0], em__desc(x, d1));
    if (w) {
        const double *pw = (const double *)em__ptr(w);
        for (int64_t i = 0; i < w->shape[0]; i++) {
            double v = pw[i * w->strides[0]];
            if (!(v >= 0 && v < INFINITY))
                return em__error(EM_ERR_INVALID_ARG, "%s: weight %lld is %g; weights must be finite and >= 0", op,
                                 (long long)i, v);
        }
    }
    return EM_OK;
}

static bool all_finite(int64_t len, const double *a) {
    double acc = 0;
    for (int64_t i = 0; i < len; i++) acc += a[i] * 0; /* NaN/inf give NaN */
    return acc == 0;
}

/* Runs the chunks and merges them into *res (gram: W, mu, C; qr: R). */
static em_status tall_run(const char *op, const em_tensor *x, const em_tensor *y, const em_tensor *w, bool center,
                          bool qr, double *res) {
    tall_ctx c = {.x = x, .y = y, .w = w, .center = center, .qr = qr};
    c.m = x->shape[0], c.n = x->shape[1], c.k = y ? (y->ndim == 2 ? y->shape[1] : 1) : 0;
    c.p = c.n + c.k, c.q = c.p + (center ? 1 : 0);
    int64_t cols = qr ? c.q : c.p, psz = part_size(&c);
    /* the QR's reflectors sweep the block once per column: keep it in L1; the
     * Gram's block is read about twice: L2 is enough */
    c.brows = block_rows(cols, qr ? QR_BLOCK_BYTES : GRAM_BLOCK_BYTES);
    int64_t maxch = PART_BUDGET / psz;
    maxch = maxch < 1 ? 1 : maxch > MAX_CHUNKS ? MAX_CHUNKS : maxch;
    c.chunk_rows = (c.m + maxch - 1) / maxch;
    if (c.chunk_rows < MIN_CHUNK_ROWS) c.chunk_rows = MIN_CHUNK_ROWS;
    c.chunk_rows = (c.chunk_rows + c.brows - 1) / c.brows * c.brows;
    c.nchunks = (c.m + c.chunk_rows - 1) / c.chunk_rows;
    c.per_thread = c.brows * cols + (qr ? 0 : c.p * c.p + c.p + c.brows);
    if (qr && c.per_thread < c.q * c.q) c.per_thread = c.q * c.q; /* the chunk merge stacks a q x q block */
    c.per_thread = (c.per_thread + 7) / 8 * 8; /* 64-byte aligned slices */
    int nt = em__threads();
    if (nt > c.nchunks) nt = (int)c.nchunks;
    em_status st = em__alloc_or_fail(sizeof(double) * (size_t)(psz * c.nchunks), op, (void **)&c.part);
    if (!st) st = em__alloc_or_fail(sizeof(double) * (size_t)(c.per_thread * nt), op, (void **)&c.work);
    if (!st) st = em__alloc_or_fail(sizeof(em_status) * (size_t)c.nchunks, op, (void **)&c.st);
    if (st) goto done;
    em__parallel_for(c.nchunks, 1, nt, run_chunks, &c);
    for (int64_t ch = 0; ch < c.nchunks && !st; ch++) st = c.st[ch];
    if (st) goto done;
    memcpy(res, c.part, sizeof(double) * (size_t)psz);
    for (int64_t ch = 1; ch < c.nchunks; ch++) {
        const double *pc = c.part + ch * psz;
        if (!qr) {
            gram_merge(c.p, center, res, res + 1, res + 1 + c.p, pc[0], pc + 1, pc + 1 + c.p);
            continue;
        }
        /* the chunk's R as a q-row block (columns contiguous) under the running R */
        double *B = c.work;
        for (int64_t i = 0; i < c.q; i++)
            for (int64_t j = 0; j < c.q; j++) B[j * c.q + i] = pc[i * c.q + j];
        absorb(c.q, res, B, c.q, c.q);
    }
done:
    em__free(c.part), em__free(c.work), em__free(c.st);
    return st;
}

static em_status new_vec(int64_t len, const double *src, em_tensor **out) {
    EM_TRY(em__new(EM_F64, 1, (int64_t[]){len}, out));
    if (src) memcpy(em__ptr(*out), src, sizeof(double) * (size_t)len);
    else memset(em__ptr(*out), 0, sizeof(double) * (size_t)len);
    return EM_OK;
}

em_status em_linalg_tall_gram(const em_tensor *x, const em_tensor *y, const em_tensor *w, bool center,
                              em_tensor **gram, em_tensor **mean) {
    if (!x || !gram || !mean) return em__error(EM_ERR_INVALID_ARG, "tall_gram: NULL argument");
    EM_TRY(check_args("tall_gram", x, y, w));
    int64_t p = x->shape[1] + (y ? (y->ndim == 2 ? y->shape[1] : 1) : 0);
    double *res = NULL;
    em_tensor *g = NULL, *mu = NULL;
    em_status st = em__alloc_or_fail(sizeof(double) * (size_t)(1 + p + p * p), "tall_gram", (void **)&res);
    if (!st) st = tall_run("tall_gram", x, y, w, center, false, res);
    if (!st && !all_finite(p * p, res + 1 + p))
        st = em__error(EM_ERR_INVALID_ARG, "tall_gram: x, y or w contains NaN or infinity (or the sums overflow)");
    if (!st) st = em__new(EM_F64, 2, (int64_t[]){p, p}, &g);
    if (!st) {
        double *gd = (double *)em__ptr(g);
        for (int64_t i = 0; i < p; i++) /* symmetric up to rounding: keep the upper triangle's values */
            for (int64_t j = 0; j < p; j++) gd[i * p + j] = i <= j ? res[1 + p + i * p + j] : res[1 + p + j * p + i];
        st = new_vec(p, center ? res + 1 : NULL, &mu);
    }
    em__free(res);
    if (st) {
        em_tensor_free(g);
        return st;
    }
    *gram = g, *mean = mu;
    return EM_OK;
}

em_status em_linalg_tall_qr(const em_tensor *x, const em_tensor *y, const em_tensor *w, bool center, em_tensor **r,
                            em_tensor **mean) {
    if (!x || !r || !mean) return em__error(EM_ERR_INVALID_ARG, "tall_qr: NULL argument");
    EM_TRY(check_args("tall_qr", x, y, w));
    int64_t p = x->shape[1] + (y ? (y->ndim == 2 ? y->shape[1] : 1) : 0), q = p + (center ? 1 : 0), off = q - p;
    double *res = NULL;
    em_tensor *ro = NULL, *mu = NULL;
    em_status st = em__alloc_or_fail(sizeof(double) * (size_t)(q * q), "tall_qr", (void **)&res);
    if (!st) st = tall_run("tall_qr", x, y, w, center, true, res);
    if (!st && !all_finite(q * q, res))
        st = em__error(EM_ERR_INVALID_ARG, "tall_qr: x, y or w contains NaN or infinity");
    if (!st) st = em__new(EM_F64, 2, (int64_t[]){p, p}, &ro);
    if (!st) st = new_vec(p, NULL, &mu);
    if (!st) {
        for (int64_t i = 0; i < q; i++) /* rows signed so that R's diagonal is >= 0 (as a Cholesky factor) */
            if (res[i * q + i] < 0)
                for (int64_t j = i; j < q; j++) res[i * q + j] = -res[i * q + j];
        double *rd = (double *)em__ptr(ro), *md = (double *)em__ptr(mu);
        for (int64_t i = 0; i < p; i++)
            for (int64_t j = 0; j < p; j++) rd[i * p + j] = i <= j ? res[(i + off) * q + j + off] : 0;
        /* first row of R: sqrt(W) and the weighted column sums / sqrt(W) */
        if (center && res[0] > 0)
            for (int64_t j = 0; j < p; j++) md[j] = res[j + 1] / res[0];
    }
    em__free(res);
    if (st) {
        em_tensor_free(ro), em_tensor_free(mu);
        return st;
    }
    *r = ro, *mean = mu;
    return EM_OK;
}

/* ---- projection onto a few directions ---------------------------------- */

#define PROJ_ROWS 256 /* rows per parallel work item */

typedef struct {
    const void *x, *wp, *b; /* x (m, d) rows ldx apart; W^T packed (d, kp); bias (k) or NULL */
    void *out;
    int64_t m, d, k, kp, ldx;
    em__tallproj_f64_fn f64;
    em__tallproj_f32_fn f32;
} proj_ctx;

/* The portable kernel (contract in kernels/tall_proj.h): per row, one
 * accumulator per direction, each a chain in ascending f. */
#define DEF_PROJ(S, T)                                                                                         \
    static void tallproj_portable_##S(int64_t m, int64_t d, int64_t k, int64_t kp, const T *X, int64_t ldx,    \
                                      const T *Wp, const T *b, T *out) {                                       \
        for (int64_t i = 0; i < m; i++) {                                                                      \
            const T *x = X + i * ldx, *wf = Wp;                                                                \
            T acc[EM__TP_MAX_K] = {0};                                                                         \
            for (int64_t f = 0; f < d; f++, wf += kp)                                                          \
                for (int64_t j = 0; j < k; j++) acc[j] += x[f] * wf[j];                                        \
            for (int64_t j = 0; j < k; j++) out[i * k + j] = acc[j] + (b ? b[j] : 0);                          \
        }                                                                                                      \
    }
DEF_PROJ(f32, float)
DEF_PROJ(f64, double)

static void proj_run(void *vctx, int64_t begin, int64_t end, int tid) {
    const proj_ctx *c = vctx;
    int64_t r0 = begin * PROJ_ROWS, r1 = end * PROJ_ROWS < c->m ? end * PROJ_ROWS : c->m;
    if (c->f32)
        c->f32(r1 - r0, c->d, c->k, c->kp, (const float *)c->x + r0 * c->ldx, c->ldx, c->wp, c->b,
               (float *)c->out + r0 * c->k);
    else
        c->f64(r1 - r0, c->d, c->k, c->kp, (const double *)c->x + r0 * c->ldx, c->ldx, c->wp, c->b,
               (double *)c->out + r0 * c->k);
}

em_status em_linalg_tall_project(const em_tensor *x, const em_tensor *w, const em_tensor *b, em_tensor **out) {
    if (!x || !w || !out) return em__error(EM_ERR_INVALID_ARG, "tall_project: NULL argument");
    char d1[EM_DESC_LEN], d2[EM_DESC_LEN], d3[EM_DESC_LEN];
    if (x->ndim != 2 || w->ndim != 2 || (x->dtype != EM_F32 && x->dtype != EM_F64) || w->dtype != x->dtype ||
        (b && (b->ndim != 1 || b->dtype != x->dtype)))
        return em__error(EM_ERR_DTYPE, "tall_project: x %s, w %s and b %s must be 2-D, 2-D and 1-D of one float dtype",
                         em__desc(x, d1), em__desc(w, d2), b ? em__desc(b, d3) : "None");
    if (w->shape[1] != x->shape[1] || (b && b->shape[0] != w->shape[0]) || w->shape[0] < 1 ||
        w->shape[0] > EM__TP_MAX_K)
        return em__error(EM_ERR_SHAPE, "tall_project: want x (m, d), w (k, d) with 1 <= k <= 16, b (k,); got x %s, "
                         "w %s, b %s", em__desc(x, d1), em__desc(w, d2), b ? em__desc(b, d3) : "None");
    if (x->shape[1] > 1 && x->strides[1] != 1)
        return em__error(EM_ERR_INVALID_ARG, "tall_project: rows of x %s must be contiguous", em__desc(x, d1));
    bool f32 = x->dtype == EM_F32, avx2 = em__gemm_active_isa() >= EM__GEMM_AVX2;
    int64_t d = x->shape[1], k = w->shape[0], nr = f32 ? EM__TP_NR_F32 : EM__TP_NR_F64, es = (int64_t)em__dsize(x->dtype);
    proj_ctx c = {.x = em__ptr(x), .m = x->shape[0], .d = d, .k = k, .kp = (k + nr - 1) / nr * nr,
                  .ldx = x->shape[0] > 1 ? x->strides[0] : d};
    if (f32) c.f32 = avx2 && em__tallproj_avx2_f32() ? em__tallproj_avx2_f32() : tallproj_portable_f32;
    else c.f64 = avx2 && em__tallproj_avx2_f64() ? em__tallproj_avx2_f64() : tallproj_portable_f64;
    /* W^T packed (d, kp) and the bias padded to kp, zeros in the padding (any strides in w and b) */
    void *pack = em__calloc((size_t)((d + 1) * c.kp * es));
    if (!pack) return em__error(EM_ERR_NOMEM, "tall_project: out of memory packing w %s", em__desc(w, d2));
    for (int64_t j = 0; j < k; j++)
        for (int64_t f = 0; f < d; f++) {
            const char *src = (const char *)em__ptr(w) + (j * w->strides[0] + f * w->strides[1]) * es;
            memcpy((char *)pack + (f * c.kp + j) * es, src, (size_t)es);
        }
    c.wp = pack;
    if (b) {
        char *bp = (char *)pack + d * c.kp * es;
        for (int64_t j = 0; j < k; j++) memcpy(bp + j * es, (const char *)em__ptr(b) + j * b->strides[0] * es, (size_t)es);
        c.b = bp;
    }
    em_tensor *o = NULL;
    em_status st = em__new(x->dtype, 2, (int64_t[]){c.m, k}, &o);
    if (!st) {
        c.out = em__ptr(o);
        /* work items of 256 rows; a thread takes 64 of them (~ 16384 rows) at least */
        em__parallel_for((c.m + PROJ_ROWS - 1) / PROJ_ROWS, 64, em__threads(), proj_run, &c);
        *out = o;
    }
    em__free(pack);
    return st;
}
