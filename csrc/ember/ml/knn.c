/* Brute-force exact k-nearest neighbours (ember/kdtree.h: em_knn_brute).
 *
 * Queries go in blocks of QB rows and training points in blocks of TB rows.
 * For each pair of blocks one GEMM gives the ranking values
 *   r_ij = |x_j|^2 - 2 q_i . x_j      (|q_i|^2 is the same for every j)
 * with |x_j|^2 as the GEMM's bias, into a QB x TB tile that stays in cache;
 * each query keeps a max-heap of its k best (r, j) and a tile entry is looked
 * at twice only if it beats the heap's top, so selection costs about one
 * compare per distance.  The k winners' distances are then recomputed
 * exactly (sqrt(sum (q - x)^2): the GEMM's cancellation error never reaches
 * the results) and sorted by (distance, index), as em_kdtree_query does.
 * Query blocks run in parallel, each on its own: results do not depend on
 * the thread count. */
/* Let gcc vectorise the candidate test over 8 ranking values (baseline SSE2,
 * no CPU-specific code) despite -O2's "very cheap" cost model. */
#pragma GCC optimize("vect-cost-model=dynamic")

#include "../internal.h"
#include "knn_heap.h"
#include "../base/threadpool.h"
#include "../kernels/gemm.h"

#include <math.h>

#define QB 64   /* queries per block */
#define TB 1024 /* training points per tile: a QB x TB tile of ranking values is 512 KiB */
#define MIN2(a, b) ((a) < (b) ? (a) : (b))

typedef struct {
    const double *x, *q, *sq;
    int64_t n, m, d, k, xs, qs;
    double *dist;
    int64_t *idx;
    double *work; /* per thread: tile QB * TB, heaps QB * k (values), then QB * k indices */
    int64_t per_thread;
    em_status *st;
} knn_ctx;

static em_status knn_block(const knn_ctx *c, int64_t q0, int64_t nq, double *tile, double *hd, int64_t *hi) {
    int64_t k = c->k, d = c->d;
    /* empty heaps: sentinels (+inf, max index) lose to every real candidate */
    for (int64_t i = 0; i < nq * k; i++) hd[i] = INFINITY, hi[i] = INT64_MAX;
    for (int64_t j0 = 0; j0 < c->n; j0 += TB) {
        int64_t nt = c->n - j0 < TB ? c->n - j0 : TB;
        /* tile = -2 Q X^T + |x|^2: B[kk, j] = x[j0 + j, kk] */
        em__gemm_desc g = em__gemm_desc_init(nq, nt, d, c->q + q0 * c->qs, c->qs, 1, c->x + j0 * c->xs, 1, c->xs,
                                             tile, nt);
        g.alpha = -2;
        g.bias = c->sq + j0;
        EM_TRY(em__gemm(EM_F64, &g));
        for (int64_t i = 0; i < nq; i++) {
            const double *t = tile + i * nt;
            double *h = hd + i * k;
            int64_t *hx = hi + i * k;
            double top = h[0];
            /* columns come in ascending index, so a tie with the top (an earlier,
             * lower index) loses: reject on >= */
            for (int64_t j8 = 0; j8 < nt; j8 += 8) {
                int64_t e = nt - j8 < 8 ? nt - j8 : 8;
                if (e == 8) { /* most tiles hold no candidate: one test per 8 values (a min tree) */
                    const double *u = t + j8;
                    double a0 = MIN2(u[0], u[1]), a1 = MIN2(u[2], u[3]), a2 = MIN2(u[4], u[5]), a3 = MIN2(u[6], u[7]);
                    if (MIN2(MIN2(a0, a1), MIN2(a2, a3)) >= top) continue;
                }
                for (int64_t j = j8; j < j8 + e; j++) {
                    if (t[j] >= top) continue;
                    h[0] = t[j], hx[0] = j0 + j;
                    em__knn_sift_down(h, hx, k, 0);
                    top = h[0];
                }
            }
        }
    }
    /* exact distances of the winners, sorted by (distance, index) */
    for (int64_t i = 0; i < nq; i++) {
        double *h = hd + i * k;
        int64_t *hx = hi + i * k;
        const double *q = c->q + (q0 + i) * c->qs;
        for (int64_t a = 0; a < k; a++) {
            const double *x = c->x + hx[a] * c->xs;
            double s = 0;
            for (int64_t j = 0; j < d; j++) s += (q[j] - x[j]) * (q[j] - x[j]);
            h[a] = sqrt(s);
        }
        for (int64_t a = 1; a < k; a++) { /* insertion sort: k is small */
            double v = h[a];
            int64_t vi = hx[a], b = a;
            for (; b > 0 && em__knn_worse(h[b - 1], hx[b - 1], v, vi); b--) h[b] = h[b - 1], hx[b] = hx[b - 1];
            h[b] = v, hx[b] = vi;
        }
        memcpy(c->dist + (q0 + i) * k, h, sizeof(double) * (size_t)k);
        memcpy(c->idx + (q0 + i) * k, hx, sizeof(int64_t) * (size_t)k);
    }
    return EM_OK;
}

static void knn_range(void *vc, int64_t begin, int64_t end, int tid) {
    knn_ctx *c = vc;
    double *tile = c->work + (int64_t)tid * c->per_thread, *hd = tile + QB * TB;
    int64_t *hi = (int64_t *)(hd + QB * c->k);
    for (int64_t b = begin; b < end; b++) {
        int64_t q0 = b * QB, nq = c->m - q0 < QB ? c->m - q0 : QB;
        c->st[b] = knn_block(c, q0, nq, tile, hd, hi);
    }
}

em_status em_knn_brute(const em_tensor *X, const em_tensor *Q, int64_t k, em_tensor **dist, em_tensor **idx) {
    char a[EM_DESC_LEN], b[EM_DESC_LEN];
    if (!X || !Q || !dist || !idx) return em__error(EM_ERR_INVALID_ARG, "knn_brute: NULL argument");
    if (X->dtype != EM_F64 || X->ndim != 2 || Q->dtype != EM_F64 || Q->ndim != 2 || Q->shape[1] != X->shape[1] ||
        X->shape[0] < 1)
        return em__error(EM_ERR_SHAPE, "knn_brute: X (%s) must be non-empty (n, d) float64 and Q (%s) (m, d) float64",
                         em__desc(X, a), em__desc(Q, b));
    if ((X->shape[1] > 1 && X->strides[1] != 1) || (Q->shape[1] > 1 && Q->strides[1] != 1))
        return em__error(EM_ERR_INVALID_ARG, "knn_brute: rows of X (%s) and Q (%s) must be contiguous",
                         em__desc(X, a), em__desc(Q, b));
    int64_t n = X->shape[0], m = Q->shape[0], d = X->shape[1];
    if (k < 1 || k > n)
        return em__error(EM_ERR_INVALID_ARG, "knn_brute: k must be in [1, %lld], got %lld", (long long)n, (long long)k);
    knn_ctx c = {.x = (const double *)em__ptr(X), .q = (const double *)em__ptr(Q), .n = n, .m = m, .d = d, .k = k,
                 .xs = X->strides[0], .qs = Q->strides[0]};
    int64_t nblocks = (m + QB - 1) / QB;
    int th = em__threads();
    if (th > nblocks) th = (int)(nblocks > 0 ? nblocks : 1);
    c.per_thread = QB * TB + 2 * QB * k;
    c.per_thread = (c.per_thread + 7) / 8 * 8;
    double *sq = NULL;
    em_tensor *dt = NULL, *it = NULL;
    em_status st = em__new(EM_F64, 2, (int64_t[]){m, k}, &dt);
    if (!st) st = em__new(EM_I64, 2, (int64_t[]){m, k}, &it);
    if (!st) st = em__alloc_or_fail(sizeof(double) * (size_t)n, "knn_brute", (void **)&sq);
    if (!st) st = em__alloc_or_fail(sizeof(double) * (size_t)(c.per_thread * th), "knn_brute", (void **)&c.work);
    if (!st) st = em__alloc_or_fail(sizeof(em_status) * (size_t)(nblocks + 1), "knn_brute", (void **)&c.st);
    if (st) goto done;
    bool finite = true;
    for (int64_t i = 0; i < n; i++) {
        const double *x = c.x + i * c.xs;
        double s = 0;
        for (int64_t j = 0; j < d; j++) s += x[j] * x[j];
        sq[i] = s;
        finite &= s < INFINITY;
    }
    for (int64_t i = 0; i < m && finite; i++)
        for (int64_t j = 0; j < d; j++) finite &= isfinite(c.q[i * c.qs + j]);
    if (!finite) { /* NaN would lose every comparison and leave sentinels in the result */
        st = em__error(EM_ERR_INVALID_ARG, "knn_brute: X or Q contains NaN or infinity (or |x|^2 overflows)");
        goto done;
    }
    c.sq = sq, c.dist = (double *)em__ptr(dt), c.idx = (int64_t *)em__ptr(it);
    em__parallel_for(nblocks, 1, th, knn_range, &c);
    for (int64_t i = 0; i < nblocks && !st; i++) st = c.st[i];
done:
    em__free(sq), em__free(c.work), em__free(c.st);
    if (st) {
        em_tensor_free(dt), em_tensor_free(it);
        return st;
    }
    *dist = dt, *idx = it;
    return EM_OK;
}
