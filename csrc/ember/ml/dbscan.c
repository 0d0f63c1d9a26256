/* DBSCAN (ember/dbscan.h).
 *
 * Region queries: the samples are sorted by the feature of widest range and
 * copied feature-major in that order, so the candidates of a query are one
 * contiguous window (the samples within eps, plus a margin, on that
 * feature) and their distances vectorise across candidates while each one
 * is still summed feature by feature in ascending order (the bits of a
 * plain sequential sum, as scikit-learn's KD-tree computes them).  Queries
 * go in blocks of DB_QBLOCK samples by index, the parallel work items; each
 * block keeps its own neighbour list, so nothing depends on the threads.
 * The expansion is sequential, as scikit-learn's: clusters grow by a
 * depth-first search from each unlabelled core sample in index order. */
#include "../internal.h"
#include "../base/threadpool.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DB_QBLOCK 64  /* queries per work item */
#define DB_TILE 256   /* candidates whose distances are summed together (2 KiB, in L1) */

typedef struct {
    int64_t *list; /* neighbour indices of the block's queries, one after the other */
    int64_t len, cap;
} db_block;

typedef struct {
    int64_t n, d, dim, nblocks;
    const double *X;      /* (n, d) rows, in index order */
    const double *T;      /* (d, n) the same, feature-major, in sorted order */
    const double *key;    /* (n) X[perm[p], dim], ascending */
    const int64_t *perm;  /* sorted position -> index */
    const double *w;      /* (n) weights or NULL */
    double eps, eps2;
    double *acc;          /* (nthreads, DB_TILE) scratch */
    double *wsum;         /* (n) weighted neighbour counts */
    int64_t *start, *cnt; /* (n) where a sample's neighbours start in its block's list, and how many */
    db_block *blocks;
    em_status *bst;
} db_ctx;

/* First position p with key[p] >= v (upper: > v). */
static int64_t db_bound(const double *key, int64_t n, double v, bool upper) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (upper ? key[mid] <= v : key[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static bool db_reserve(db_block *b, int64_t more) {
    if (b->len + more <= b->cap) return true;
    int64_t cap = b->cap * 2 > b->len + more ? b->cap * 2 : b->len + more;
    if (cap < 1024) cap = 1024;
    int64_t *nl = (int64_t *)em__alloc((size_t)cap * sizeof *nl);
    if (!nl) return false;
    if (b->len) memcpy(nl, b->list, (size_t)b->len * sizeof *nl);
    em__free(b->list);
    b->list = nl, b->cap = cap;
    return true;
}

static void db_query_range(void *vc, int64_t b0, int64_t b1, int tid) {
    db_ctx *c = (db_ctx *)vc;
    const int64_t n = c->n, d = c->d;
    double *restrict acc = c->acc + (int64_t)tid * DB_TILE;
    for (int64_t b = b0; b < b1; b++) {
        db_block *blk = &c->blocks[b];
        int64_t q1 = (b + 1) * DB_QBLOCK < n ? (b + 1) * DB_QBLOCK : n;
        for (int64_t i = b * DB_QBLOCK; i < q1; i++) {
            const double *x = c->X + i * d;
            /* a pair farther apart than eps on feature dim is farther than eps: its first term
             * alone exceeds eps^2 (the sum only grows).  The margin keeps the window a superset
             * whatever the rounding of kv -+ wide. */
            double kv = d > 0 ? x[c->dim] : 0.0, wide = c->eps * (1 + 1e-6) + 4 * DBL_EPSILON * fabs(kv);
            int64_t lo = db_bound(c->key, n, kv - wide, false), hi = db_bound(c->key, n, kv + wide, true);
            double ws = 0;
            c->start[i] = blk->len;
            for (int64_t t0 = lo; t0 < hi; t0 += DB_TILE) {
                int64_t m = hi - t0 < DB_TILE ? hi - t0 : DB_TILE;
                if (!db_reserve(blk, m)) {
                    c->bst[b] = EM_ERR_NOMEM;
                    return;
                }
                for (int64_t j = 0; j < m; j++) acc[j] = 0;
                for (int64_t f = 0; f < d; f++) {
                    const double xf = x[f], *restrict col = c->T + f * n + t0;
                    for (int64_t j = 0; j < m; j++) {
                        double e = xf - col[j];
                        acc[j] += e * e;
                    }
                }
                for (int64_t j = 0; j < m; j++) {
                    if (!(acc[j] <= c->eps2)) continue;
                    int64_t o = c->perm[t0 + j];
                    blk->list[blk->len++] = o;
                    ws += c->w ? c->w[o] : 1.0;
                }
            }
            c->cnt[i] = blk->len - c->start[i];
            c->wsum[i] = ws;
        }
    }
}

typedef struct {
    double key;
    int64_t i;
} db_item;

static int db_item_cmp(const void *a, const void *b) {
    const db_item *x = (const db_item *)a, *y = (const db_item *)b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

em_status em_dbscan_fit(const em_tensor *X, const em_tensor *sample_weight, double eps, double min_samples,
                        em_tensor **labels, em_tensor **core_indices) {
    const char *op = "dbscan_fit";
    char a[EM_DESC_LEN];
    if (!labels || !core_indices) return em__error(EM_ERR_INVALID_ARG, "%s: NULL output", op);
    if (!X) return em__error(EM_ERR_INVALID_ARG, "%s: NULL X", op);
    if ((X->dtype != EM_F32 && X->dtype != EM_F64) || X->ndim != 2 || !em__is_contiguous(X))
        return em__error(EM_ERR_DTYPE, "%s: X must be a C-contiguous 2-d float32 or float64 tensor, got %s", op,
                         em__desc(X, a));
    if (!(eps > 0)) return em__error(EM_ERR_INVALID_ARG, "%s: eps must be > 0, got %g", op, eps);
    if (!(min_samples >= 1) || !isfinite(min_samples))
        return em__error(EM_ERR_INVALID_ARG, "%s: min_samples must be >= 1 and finite, got %g", op, min_samples);
    const int64_t n = X->shape[0], d = X->shape[1];
    if (sample_weight && ((sample_weight->dtype != EM_F32 && sample_weight->dtype != EM_F64) ||
                          sample_weight->ndim != 1 || sample_weight->shape[0] != n ||
                          !em__is_contiguous(sample_weight)))
        return em__error(EM_ERR_SHAPE, "%s: sample_weight must be a contiguous (%lld,) float32 or float64 tensor, got %s",
                         op, (long long)n, em__desc(sample_weight, a));
    if (d > 0 && n > INT64_MAX / 64 / d)
        return em__error(EM_ERR_NOMEM, "%s: %lld x %lld data is too large", op, (long long)n, (long long)d);
    const bool f32 = X->dtype == EM_F32;
    const char *xp = em__ptr(X);
    for (int64_t e = 0; e < n * d; e++) {
        double v = f32 ? ((const float *)xp)[e] : ((const double *)xp)[e];
        if (!isfinite(v))
            return em__error(EM_ERR_INVALID_ARG, "%s: X[%lld, %lld] is not finite", op, (long long)(e / d),
                             (long long)(e % d));
    }
    if (sample_weight) {
        const char *wp = em__ptr(sample_weight);
        for (int64_t i = 0; i < n; i++) {
            double v = sample_weight->dtype == EM_F32 ? ((const float *)wp)[i] : ((const double *)wp)[i];
            if (!isfinite(v))
                return em__error(EM_ERR_INVALID_ARG, "%s: sample_weight[%lld] is not finite", op, (long long)i);
        }
    }

    em_tensor *lab = NULL, *core = NULL;
    double *Xd = NULL, *T = NULL, *key = NULL, *w = NULL, *acc = NULL, *wsum = NULL;
    int64_t *perm = NULL, *start = NULL, *cnt = NULL, *stack = NULL;
    db_item *items = NULL;
    db_block *blocks = NULL;
    em_status *bst = NULL;
    const int nthreads = em__threads();
    const int64_t nblocks = (n + DB_QBLOCK - 1) / DB_QBLOCK, nn = n > 0 ? n : 1;
    em_status st = em__new(EM_I64, 1, &n, &lab);
    if (st) goto done;
    int64_t *L = (int64_t *)em__ptr(lab);
    if (n == 0) {
        st = em__new(EM_I64, 1, (int64_t[]){0}, &core);
        goto done;
    }
#define DB_ALLOC(p, count) \
    if ((st = em__alloc_or_fail((size_t)(count) * sizeof *(p), op, (void **)&(p)))) goto done
    if (f32) {
        DB_ALLOC(Xd, nn * (d > 0 ? d : 1));
        for (int64_t e = 0; e < n * d; e++) Xd[e] = ((const float *)xp)[e];
    }
    const double *Xr = f32 ? Xd : (const double *)xp;
    DB_ALLOC(T, nn * (d > 0 ? d : 1));
    DB_ALLOC(key, nn);
    DB_ALLOC(perm, nn);
    DB_ALLOC(items, nn);
    DB_ALLOC(acc, (int64_t)nthreads * DB_TILE);
    DB_ALLOC(wsum, nn);
    DB_ALLOC(start, nn);
    DB_ALLOC(cnt, nn);
    DB_ALLOC(stack, nn);
    DB_ALLOC(bst, nblocks);
    if (!(blocks = (db_block *)em__calloc((size_t)nblocks * sizeof *blocks))) {
        st = em__error(EM_ERR_NOMEM, "%s: out of memory", op);
        goto done;
    }
    if (sample_weight) {
        DB_ALLOC(w, nn);
        const char *wp = em__ptr(sample_weight);
        for (int64_t i = 0; i < n; i++)
            w[i] = sample_weight->dtype == EM_F32 ? ((const float *)wp)[i] : ((const double *)wp)[i];
    }
    /* the sweep feature: the widest range prunes the most pairs */
    int64_t dim = 0;
    double widest = -1;
    for (int64_t f = 0; f < d; f++) {
        double lo = Xr[f], hi = Xr[f];
        for (int64_t i = 1; i < n; i++) {
            double v = Xr[i * d + f];
            lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        }
        if (hi - lo > widest) widest = hi - lo, dim = f;
    }
    for (int64_t i = 0; i < n; i++) items[i].key = d > 0 ? Xr[i * d + dim] : 0.0, items[i].i = i;
    qsort(items, (size_t)n, sizeof *items, db_item_cmp);
    for (int64_t p = 0; p < n; p++) {
        perm[p] = items[p].i, key[p] = items[p].key;
        for (int64_t f = 0; f < d; f++) T[f * n + p] = Xr[items[p].i * d + f];
    }
    db_ctx c = {.n = n, .d = d, .dim = dim, .nblocks = nblocks, .X = Xr, .T = T, .key = key, .perm = perm,
                .w = w, .eps = eps, .eps2 = eps * eps, .acc = acc, .wsum = wsum, .start = start, .cnt = cnt,
                .blocks = blocks, .bst = bst};
    for (int64_t b = 0; b < nblocks; b++) bst[b] = EM_OK;
    em__parallel_for(nblocks, 1, nthreads, db_query_range, &c);
    for (int64_t b = 0; b < nblocks; b++)
        if (bst[b]) {
            st = em__error(bst[b], "%s: out of memory for the neighbour lists (%lld samples, eps %g)", op,
                           (long long)n, eps);
            goto done;
        }
    /* core samples, then the clusters in the order of their first core sample */
    int64_t ncore = 0;
    for (int64_t i = 0; i < n; i++) ncore += wsum[i] >= min_samples;
    if ((st = em__new(EM_I64, 1, &ncore, &core))) goto done;
    int64_t *ci = (int64_t *)em__ptr(core);
    for (int64_t i = 0, q = 0; i < n; i++)
        if (wsum[i] >= min_samples) ci[q++] = i;
    for (int64_t i = 0; i < n; i++) L[i] = -1;
    int64_t cluster = 0;
    for (int64_t i = 0; i < n; i++) {
        if (L[i] != -1 || !(wsum[i] >= min_samples)) continue;
        /* every sample is pushed at most once (labelled when pushed), so the stack holds <= n */
        int64_t top = 0;
        L[i] = cluster;
        stack[top++] = i;
        while (top) {
            int64_t j = stack[--top];
            const int64_t *nb = blocks[j / DB_QBLOCK].list + start[j];
            for (int64_t q = 0; q < cnt[j]; q++) {
                int64_t m = nb[q];
                if (L[m] != -1) continue;
                L[m] = cluster;
                if (wsum[m] >= min_samples) stack[top++] = m;
            }
        }
        cluster++;
    }
#undef DB_ALLOC
done:
    if (blocks)
        for (int64_t b = 0; b < nblocks; b++) em__free(blocks[b].list);
    em__free(blocks);
    em__free(Xd), em__free(T), em__free(key), em__free(w), em__free(acc), em__free(wsum);
    em__free(perm), em__free(start), em__free(cnt), em__free(stack), em__free(items), em__free(bst);
    if (st) {
        em_tensor_free(lab), em_tensor_free(core);
        return st;
    }
    *labels = lab, *core_indices = core;
    return EM_OK;
}
