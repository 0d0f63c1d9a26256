/* KD-tree for exact k-nearest neighbours (ember/kdtree.h).
 *
 * Built top-down: a node's points are split at the median position of the
 * dimension where they spread most (quickselect on the order array): left
 * holds values <= split, right values >= split.  A query descends
 * to the nearer child first and visits the farther one only if the splitting
 * plane is not farther than the current k-th candidate (ties included, so a
 * lower index at the same distance is never missed).  Candidates are kept in
 * a max-heap ordered by (squared distance, index); queries run in parallel
 * over rows, each independent of the others. */
#include "../internal.h"
#include "knn_heap.h"
#include "../base/threadpool.h"

#include <math.h>

void em_kdtree_free(em_kdtree *t) {
    if (!t) return;
    em_tensor *f[] = {t->order, t->start, t->end, t->left, t->right, t->dim, t->split};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) em_tensor_free(f[i]);
    memset(t, 0, sizeof *t);
}

typedef struct {
    const double *x;
    int64_t s0, s1, d, leaf_size;
    int64_t *order, *start, *end, *left, *right, *dim;
    double *split;
    int64_t count;
} builder;

static double xv(const builder *b, int64_t row, int64_t j) { return b->x[row * b->s0 + j * b->s1]; }

/* order[lo, hi) rearranged so that position m holds the m-th smallest by dim j */
static void select_nth(builder *b, int64_t lo, int64_t hi, int64_t m, int64_t j) {
    int64_t *o = b->order;
    while (hi - lo > 1) {
        double piv = xv(b, o[lo + (hi - lo) / 2], j);
        int64_t i = lo, lt = lo, gt = hi; /* three-way: [lo,lt) <, [lt,i) ==, [gt,hi) > */
        while (i < gt) {
            double v = xv(b, o[i], j);
            if (v < piv) {
                int64_t t = o[i];
                o[i++] = o[lt], o[lt++] = t;
            } else if (v > piv) {
                int64_t t = o[i];
                o[i] = o[--gt], o[gt] = t;
            } else {
                i++;
            }
        }
        if (m < lt) hi = lt;
        else if (m >= gt) lo = gt;
        else return;
    }
}

/* Nodes are numbered in pre-order; max nodes 2n - 1. */
static int64_t build(builder *b, int64_t lo, int64_t hi) {
    int64_t id = b->count++;
    b->start[id] = lo, b->end[id] = hi, b->left[id] = b->right[id] = -1, b->dim[id] = -1, b->split[id] = 0;
    if (hi - lo <= b->leaf_size) return id;
    int64_t best = 0;
    double spread = -1;
    for (int64_t j = 0; j < b->d; j++) {
        double mn = INFINITY, mx = -INFINITY;
        for (int64_t i = lo; i < hi; i++) {
            double v = xv(b, b->order[i], j);
            mn = v < mn ? v : mn, mx = v > mx ? v : mx;
        }
        if (mx - mn > spread) spread = mx - mn, best = j;
    }
    if (spread <= 0) return id; /* all points equal: a leaf */
    /* split by position, so every level halves the points (depth <= log2 n + 1); points equal
     * to the split value may lie on both sides, which the query's bound allows for */
    int64_t mid = lo + (hi - lo) / 2;
    select_nth(b, lo, hi, mid, best);
    b->dim[id] = best, b->split[id] = xv(b, b->order[mid], best);
    b->left[id] = build(b, lo, mid);
    b->right[id] = build(b, mid, hi);
    return id;
}

em_status em_kdtree_build(const em_tensor *X, int64_t leaf_size, em_kdtree *out) {
    char a[EM_DESC_LEN];
    if (!X || !out) return em__error(EM_ERR_INVALID_ARG, "kdtree_build: NULL argument");
    if (X->dtype != EM_F64 || X->ndim != 2 || X->shape[0] < 1 || X->shape[1] < 1)
        return em__error(EM_ERR_SHAPE, "kdtree_build: X must be a non-empty (n, d) float64 tensor, got %s",
                         em__desc(X, a));
    if (leaf_size < 1)
        return em__error(EM_ERR_INVALID_ARG, "kdtree_build: leaf_size must be >= 1, got %lld", (long long)leaf_size);
    int64_t n = X->shape[0], d = X->shape[1], m = 2 * n - 1;
    const double *x = (const double *)em__ptr(X);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            if (!isfinite(x[i * X->strides[0] + j * X->strides[1]]))
                return em__error(EM_ERR_INVALID_ARG, "kdtree_build: X[%lld, %lld] is not finite", (long long)i,
                                 (long long)j);
    /* nodes are built into scratch sized for the worst case (2n - 1), then copied out */
    em_kdtree t = {0};
    int64_t *scratch = NULL;
    double *split = NULL;
    em_status st = em__new(EM_I64, 1, &n, &t.order);
    if (!st) st = em__alloc_or_fail((size_t)(5 * m) * sizeof *scratch, "kdtree_build", (void **)&scratch);
    if (!st) st = em__alloc_or_fail((size_t)m * sizeof *split, "kdtree_build", (void **)&split);
    if (st) {
        em__free(scratch), em__free(split), em_kdtree_free(&t);
        return st;
    }
    builder b = {x, X->strides[0], X->strides[1], d, leaf_size, (int64_t *)em__ptr(t.order), scratch,
                 scratch + m, scratch + 2 * m, scratch + 3 * m, scratch + 4 * m, split, 0};
    for (int64_t i = 0; i < n; i++) b.order[i] = i;
    build(&b, 0, n); /* recursion depth <= log2 n + 1 */
    int64_t c = t.n_nodes = b.count;
    em_tensor **it[] = {&t.start, &t.end, &t.left, &t.right, &t.dim};
    for (int i = 0; i < 5 && !st; i++)
        if (!(st = em__new(EM_I64, 1, &c, it[i]))) memcpy(em__ptr(*it[i]), scratch + i * m, (size_t)c * 8);
    if (!st && !(st = em__new(EM_F64, 1, &c, &t.split))) memcpy(em__ptr(t.split), split, (size_t)c * 8);
    em__free(scratch), em__free(split);
    if (st) {
        em_kdtree_free(&t);
        return st;
    }
    *out = t;
    return EM_OK;
}

/* ---- queries ---------------------------------------------------------------- */
typedef struct {
    const em_kdtree *t;
    const int64_t *order, *start, *end, *left, *right, *dim;
    const double *split, *x, *q;
    int64_t xs0, xs1, qs0, qs1, d, k;
    double *dist;
    int64_t *idx;
    int64_t *stack; /* per thread: STACK node ids and their plane bounds */
    double *bound;
    double *heap_d; /* per thread: k */
    int64_t *heap_i;
} query_ctx;

#define STACK 160 /* two entries per level; depth <= log2(2^63) + 1 */

static void query_range(void *vc, int64_t begin, int64_t end, int tid) {
    query_ctx *c = vc;
    int64_t k = c->k, d = c->d;
    double *hd = c->heap_d + (int64_t)tid * k, *bound = c->bound + (int64_t)tid * STACK;
    int64_t *hi = c->heap_i + (int64_t)tid * k, *stack = c->stack + (int64_t)tid * STACK;
    for (int64_t r = begin; r < end; r++) {
        const double *q = c->q + r * c->qs0;
        int64_t size = 0, top = 0;
        stack[top] = 0, bound[top++] = 0;
        while (top) {
            int64_t node = stack[--top];
            /* <=: a point at exactly the k-th distance may still win on a lower index */
            if (size == k && bound[top] > hd[0]) continue;
            if (c->left[node] < 0) {
                for (int64_t p = c->start[node]; p < c->end[node]; p++) {
                    int64_t row = c->order[p];
                    double s = 0;
                    for (int64_t j = 0; j < d; j++) {
                        double diff = q[j * c->qs1] - c->x[row * c->xs0 + j * c->xs1];
                        s += diff * diff;
                    }
                    if (size < k) { /* sift up */
                        int64_t i = size++;
                        while (i > 0 && em__knn_worse(s, row, hd[(i - 1) / 2], hi[(i - 1) / 2])) {
                            hd[i] = hd[(i - 1) / 2], hi[i] = hi[(i - 1) / 2];
                            i = (i - 1) / 2;
                        }
                        hd[i] = s, hi[i] = row;
                    } else if (em__knn_worse(hd[0], hi[0], s, row)) {
                        hd[0] = s, hi[0] = row;
                        em__knn_sift_down(hd, hi, k, 0);
                    }
                }
                continue;
            }
            double off = q[c->dim[node] * c->qs1] - c->split[node];
            bool left_near = off <= 0;
            stack[top] = left_near ? c->right[node] : c->left[node], bound[top++] = off * off;
            stack[top] = left_near ? c->left[node] : c->right[node], bound[top++] = 0;
        }
        /* heap -> ascending by (distance, index) */
        for (int64_t n = size; n > 1; n--) {
            double td = hd[0];
            int64_t ti = hi[0];
            hd[0] = hd[n - 1], hi[0] = hi[n - 1], hd[n - 1] = td, hi[n - 1] = ti;
            em__knn_sift_down(hd, hi, n - 1, 0);
        }
        for (int64_t j = 0; j < k; j++) c->dist[r * k + j] = sqrt(hd[j]), c->idx[r * k + j] = hi[j];
    }
}

em_status em_kdtree_query(const em_kdtree *t, const em_tensor *X, const em_tensor *Q, int64_t k, em_tensor **dist,
                          em_tensor **idx) {
    char a[EM_DESC_LEN], b[EM_DESC_LEN];
    if (!t || !t->order || !X || !Q || !dist || !idx) return em__error(EM_ERR_INVALID_ARG, "kdtree_query: NULL argument");
    if (X->dtype != EM_F64 || X->ndim != 2 || Q->dtype != EM_F64 || Q->ndim != 2 || Q->shape[1] != X->shape[1] ||
        em_tensor_numel(t->order) != X->shape[0])
        return em__error(EM_ERR_SHAPE, "kdtree_query: X (%s) must be the float64 points of the tree (%lld) and Q "
                         "(%s) float64 with as many columns", em__desc(X, a), (long long)em_tensor_numel(t->order),
                         em__desc(Q, b));
    int64_t n = X->shape[0], m = Q->shape[0], nn = t->n_nodes;
    if (k < 1 || k > n)
        return em__error(EM_ERR_INVALID_ARG, "kdtree_query: k must be in [1, %lld], got %lld", (long long)n,
                         (long long)k);
    em_tensor *parts[] = {t->start, t->end, t->left, t->right, t->dim, t->split};
    for (int i = 0; i < 6; i++)
        if (!parts[i] || parts[i]->ndim != 1 || parts[i]->shape[0] != nn || !em__is_contiguous(parts[i]) ||
            parts[i]->dtype != (i == 5 ? EM_F64 : EM_I64))
            return em__error(EM_ERR_SHAPE, "kdtree_query: node arrays must be contiguous (%lld,) tensors",
                             (long long)nn);
    if (!em__is_contiguous(t->order) || t->order->dtype != EM_I64)
        return em__error(EM_ERR_SHAPE, "kdtree_query: order must be a contiguous int64 tensor");
    const int64_t *st = (const int64_t *)em__ptr(t->start), *en = (const int64_t *)em__ptr(t->end);
    const int64_t *l = (const int64_t *)em__ptr(t->left), *r = (const int64_t *)em__ptr(t->right);
    const int64_t *dm = (const int64_t *)em__ptr(t->dim), *ord = (const int64_t *)em__ptr(t->order);
    for (int64_t i = 0; i < n; i++)
        if (ord[i] < 0 || ord[i] >= n)
            return em__error(EM_ERR_INVALID_ARG, "kdtree_query: order[%lld] = %lld is out of range", (long long)i,
                             (long long)ord[i]);
    /* children beyond their parent (walks end), leaves inside order, depth within the stack */
    for (int64_t i = 0; i < nn; i++)
        if (st[i] < 0 || en[i] > n || st[i] > en[i] ||
            (l[i] >= 0 && (l[i] <= i || r[i] <= i || l[i] >= nn || r[i] >= nn || dm[i] < 0 || dm[i] >= X->shape[1])))
            return em__error(EM_ERR_INVALID_ARG, "kdtree_query: node %lld is malformed", (long long)i);
    if (nn > 2 * n - 1) return em__error(EM_ERR_INVALID_ARG, "kdtree_query: %lld nodes for %lld points", (long long)nn,
                                         (long long)n);
    int th = em__threads();
    EM_TRY(em__new(EM_F64, 2, (int64_t[]){m, k}, dist));
    em_status s = em__new(EM_I64, 2, (int64_t[]){m, k}, idx);
    query_ctx c = {t, ord, st, en, l, r, dm, (const double *)em__ptr(t->split), (const double *)em__ptr(X),
                   (const double *)em__ptr(Q), X->strides[0], X->strides[1], Q->strides[0], Q->strides[1],
                   X->shape[1], k, NULL, NULL, NULL, NULL, NULL, NULL};
    if (!s) {
        c.dist = (double *)em__ptr(*dist), c.idx = (int64_t *)em__ptr(*idx);
        c.stack = em__alloc((size_t)th * STACK * sizeof *c.stack);
        c.bound = em__alloc((size_t)th * STACK * sizeof *c.bound);
        c.heap_d = em__alloc((size_t)th * (size_t)k * sizeof *c.heap_d);
        c.heap_i = em__alloc((size_t)th * (size_t)k * sizeof *c.heap_i);
        if (!c.stack || !c.bound || !c.heap_d || !c.heap_i) s = em__error(EM_ERR_NOMEM, "kdtree_query: out of memory");
    }
    if (!s) em__parallel_for(m, 16, th, query_range, &c);
    em__free(c.stack), em__free(c.bound), em__free(c.heap_d), em__free(c.heap_i);
    if (s) {
        em_tensor_free(*dist), em_tensor_free(*idx);
        *dist = *idx = NULL;
    }
    return s;
}
