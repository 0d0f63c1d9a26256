/* CART trees and random forests (ember/tree.h).
 *
 * Growth is depth-first over an index array of the samples with non-zero
 * weight; a node owns a contiguous range of it, and a split partitions the
 * range in place.  At each node the features are visited in a random order
 * (Philox, keyed by the seed and the tree number) until max_features
 * non-constant ones have been tried; for each, the node's values are sorted
 * and every boundary between distinct values is scored with the impurity
 * decrease, kept incrementally (O(1) per step for gini and squared error,
 * O(classes) for entropy).  The first best split wins, so a tree depends only
 * on its inputs and seed. */
#include "../internal.h"
#include "../base/threadpool.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

#define FEATURE_EPS 1e-7f /* values closer than this are not split apart (as scikit-learn) */

em_tree_options em_tree_default_options(void) {
    return (em_tree_options){EM_TREE_GINI, -1, 2, 1, 0, 0.0, 0};
}

void em_tree_free(em_tree *t) {
    if (!t) return;
    em_tensor *fields[] = {t->left, t->right, t->feature, t->threshold, t->impurity, t->n_samples,
                           t->weighted_n_samples, t->value};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) em_tensor_free(fields[i]);
    memset(t, 0, sizeof *t);
}

/* ---- a small counter-based stream for feature orders and bootstraps ---- */
typedef struct {
    uint64_t key, stream, ctr;
    uint32_t buf[4];
    int pos;
} rng;

static uint32_t rng_next(rng *r) {
    if (r->pos == 4) {
        em__philox4x32(r->ctr++, r->stream, r->key, r->buf);
        r->pos = 0;
    }
    return r->buf[r->pos++];
}

/* uniform in [0, n) (multiply-shift on 64 bits; bias below n / 2^64) */
static int64_t rng_below(rng *r, int64_t n) {
    uint64_t u = (uint64_t)rng_next(r) | (uint64_t)rng_next(r) << 32;
    return (int64_t)(((unsigned __int128)u * (uint64_t)n) >> 64);
}

/* ---- sorting (value, sample) pairs ----------------------------------------- */
typedef struct {
    float v;
    int32_t s;
} pair;

static void sort_pairs(pair *a, int64_t n) {
    while (n > 16) {
        /* median of three, Hoare partition; recurse on the smaller side */
        pair *m = a + n / 2, *z = a + n - 1, t;
        if (m->v < a->v) t = *m, *m = *a, *a = t;
        if (z->v < a->v) t = *z, *z = *a, *a = t;
        if (z->v < m->v) t = *z, *z = *m, *m = t;
        float piv = m->v;
        int64_t i = -1, j = n;
        for (;;) {
            do i++; while (a[i].v < piv);
            do j--; while (a[j].v > piv);
            if (i >= j) break;
            t = a[i], a[i] = a[j], a[j] = t;
        }
        if (j + 1 < n - j - 1) {
            sort_pairs(a, j + 1);
            a += j + 1;
            n -= j + 1;
        } else {
            sort_pairs(a + j + 1, n - j - 1);
            n = j + 1;
        }
    }
    for (int64_t i = 1; i < n; i++) {
        pair key = a[i];
        int64_t j = i;
        for (; j > 0 && a[j - 1].v > key.v; j--) a[j] = a[j - 1];
        a[j] = key;
    }
}

/* LSD radix sort of pairs by value for large nodes: three stable passes of 11
 * bits over the float's bits mapped to an unsigned order (negatives
 * flipped), O(n) instead of O(n log n).  tmp holds n pairs; a pass whose
 * digit is the same for every key is skipped.  Equal values may end in
 * another order than sort_pairs leaves them, which the split sweep does not
 * see (it only scores boundaries between distinct values). */
#define RADIX_MIN 1024 /* below this, the 3 * 2048 counters cost more than quicksort */

static inline uint32_t float_key(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}

static void radix_pairs(pair *a, pair *tmp, int64_t n) {
    uint32_t cnt[3][2048];
    memset(cnt, 0, sizeof cnt);
    for (int64_t i = 0; i < n; i++) {
        uint32_t k = float_key(a[i].v);
        cnt[0][k & 2047]++, cnt[1][(k >> 11) & 2047]++, cnt[2][k >> 22]++;
    }
    pair *src = a, *dst = tmp;
    for (int d = 0; d < 3; d++) {
        uint32_t *c = cnt[d], first = (float_key(a[0].v) >> (11 * d)) & 2047;
        if (c[first] == (uint32_t)n) continue; /* one bucket: the pass would copy in order */
        uint32_t sum = 0;
        for (int b = 0; b < 2048; b++) {
            uint32_t t = c[b];
            c[b] = sum;
            sum += t;
        }
        for (int64_t i = 0; i < n; i++) dst[c[(float_key(src[i].v) >> (11 * d)) & 2047]++] = src[i];
        pair *t = src;
        src = dst, dst = t;
    }
    if (src != a) memcpy(a, src, (size_t)n * sizeof *a);
}

/* ---- the builder ------------------------------------------------------------ */
typedef struct {
    /* inputs */
    const float *X;
    int64_t xs0, xs1, n, d;
    const int64_t *yc;  /* class indices (classification) */
    const double *yr;   /* targets (regression) */
    const double *w;    /* per-sample weight (bootstrap counts folded in) */
    int64_t k;          /* classes, or 1 */
    const em_tree_options *opt;
    bool regression;
    rng r;
    /* scratch */
    int32_t *samples;
    pair *pairs, *pairs_tmp;
    double *stats;      /* 6 * (k + 2): see build() */
    int64_t *features;
    /* growing output */
    int64_t cap, count, depth;
    int64_t *left, *right, *feature, *n_samples;
    double *threshold, *impurity, *wn, *value;
} builder;

static float xval(const builder *b, int64_t s, int64_t f) { return b->X[s * b->xs0 + f * b->xs1]; }

/* Weighted class counts (or sum and sum of squares) of samples[lo, hi) into st. */
static void node_stats(const builder *b, int64_t lo, int64_t hi, double *st, double *wsum) {
    double W = 0;
    memset(st, 0, (size_t)(b->k + 2) * sizeof *st);
    for (int64_t i = lo; i < hi; i++) {
        int32_t s = b->samples[i];
        double w = b->w[s];
        W += w;
        if (b->regression) {
            st[0] += w * b->yr[s];
            st[1] += w * b->yr[s] * b->yr[s];
        } else {
            st[b->yc[s]] += w;
        }
    }
    *wsum = W;
}

static double impurity_of(const builder *b, const double *st, double W) {
    if (W <= 0) return 0;
    if (b->regression) {
        double mean = st[0] / W, v = st[1] / W - mean * mean;
        return v > 0 ? v : 0;
    }
    double acc = 0;
    for (int64_t c = 0; c < b->k; c++) {
        double p = st[c] / W;
        if (b->opt->criterion == EM_TREE_GINI) acc += p * p;
        else if (p > 0) acc -= p * log2(p);
    }
    return b->opt->criterion == EM_TREE_GINI ? 1.0 - acc : acc;
}

static em_status grow(builder *b, int64_t need) {
    if (need <= b->cap) return EM_OK;
    int64_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < need) cap *= 2;
    int64_t **ia[] = {&b->left, &b->right, &b->feature, &b->n_samples};
    double **da[] = {&b->threshold, &b->impurity, &b->wn};
    for (size_t i = 0; i < 4; i++) {
        int64_t *p = em__alloc((size_t)cap * sizeof *p);
        if (!p) return em__error(EM_ERR_NOMEM, "tree: out of memory growing %lld nodes", (long long)cap);
        if (*ia[i]) memcpy(p, *ia[i], (size_t)b->count * sizeof *p);
        em__free(*ia[i]);
        *ia[i] = p;
    }
    for (size_t i = 0; i < 3; i++) {
        double *p = em__alloc((size_t)cap * sizeof *p);
        if (!p) return em__error(EM_ERR_NOMEM, "tree: out of memory growing %lld nodes", (long long)cap);
        if (*da[i]) memcpy(p, *da[i], (size_t)b->count * sizeof *p);
        em__free(*da[i]);
        *da[i] = p;
    }
    double *v = em__alloc((size_t)cap * (size_t)b->k * sizeof *v);
    if (!v) return em__error(EM_ERR_NOMEM, "tree: out of memory growing %lld nodes", (long long)cap);
    if (b->value) memcpy(v, b->value, (size_t)b->count * (size_t)b->k * sizeof *v);
    em__free(b->value);
    b->value = v;
    b->cap = cap;
    return EM_OK;
}

typedef struct {
    int64_t feature, pos; /* pos: first sample (in sorted order) going right */
    double threshold, proxy;
} split;

/* Best split of samples[lo, hi) or feature = -1.  Leaves samples[lo, hi)
 * partitioned left | right on success. */
static void best_split(builder *b, int64_t lo, int64_t hi, const double *node_st, double W, split *best) {
    const em_tree_options *o = b->opt;
    int64_t n = hi - lo, k = b->k, msl = o->min_samples_leaf;
    int64_t maxf = o->max_features > 0 && o->max_features < b->d ? o->max_features : b->d;
    double *L = b->stats + (k + 2), *R = L + (k + 2);
    best->feature = -1;
    best->proxy = -INFINITY;
    for (int64_t f = 0; f < b->d; f++) b->features[f] = f;
    int64_t visited = 0;
    for (int64_t j = 0; j < b->d && visited < maxf; j++) {
        int64_t pick = j + rng_below(&b->r, b->d - j), f = b->features[pick];
        b->features[pick] = b->features[j];
        b->features[j] = f;
        pair *pr = b->pairs;
        for (int64_t i = 0; i < n; i++) pr[i] = (pair){xval(b, b->samples[lo + i], f), b->samples[lo + i]};
        if (n >= RADIX_MIN) radix_pairs(pr, b->pairs_tmp, n);
        else sort_pairs(pr, n);
        if (pr[n - 1].v <= pr[0].v + FEATURE_EPS) continue; /* constant here: does not count */
        visited++;
        memset(L, 0, (size_t)(k + 2) * sizeof *L);
        memcpy(R, node_st, (size_t)(k + 2) * sizeof *R);
        double wl = 0, sql = 0, sqr = 0;
        if (!b->regression && o->criterion == EM_TREE_GINI)
            for (int64_t c = 0; c < k; c++) sqr += R[c] * R[c];
        for (int64_t p = 1; p < n; p++) {
            int32_t s = pr[p - 1].s;
            double w = b->w[s];
            wl += w;
            if (b->regression) {
                L[0] += w * b->yr[s];
                R[0] -= w * b->yr[s];
            } else {
                int64_t c = b->yc[s];
                sql += 2 * L[c] * w + w * w;
                sqr += -2 * R[c] * w + w * w;
                L[c] += w;
                R[c] -= w;
            }
            if (pr[p].v <= pr[p - 1].v + FEATURE_EPS) continue;
            if (p < msl || n - p < msl) continue;
            double wr = W - wl;
            if (wl <= 0 || wr <= 0) continue;
            /* proxy: a quantity whose maximum is the maximum impurity decrease */
            double proxy;
            if (b->regression) proxy = L[0] * L[0] / wl + R[0] * R[0] / wr;
            else if (o->criterion == EM_TREE_GINI) proxy = sql / wl + sqr / wr;
            else proxy = -wl * impurity_of(b, L, wl) - wr * impurity_of(b, R, wr);
            if (proxy > best->proxy) {
                double t = pr[p - 1].v / 2.0 + pr[p].v / 2.0;
                if (t == pr[p].v || isinf(t)) t = pr[p - 1].v;
                *best = (split){f, p, t, proxy};
            }
        }
    }
    if (best->feature < 0) return;
    /* partition by the chosen feature (stable order is not needed) */
    int64_t i = lo, j = hi - 1;
    while (i <= j) {
        if ((double)xval(b, b->samples[i], best->feature) <= best->threshold) {
            i++;
        } else {
            int32_t t = b->samples[i];
            b->samples[i] = b->samples[j];
            b->samples[j--] = t;
        }
    }
    best->pos = i - lo;
}

typedef struct {
    int64_t lo, hi, parent, depth;
    bool is_left;
} frame;

static em_status build(builder *b) {
    const em_tree_options *o = b->opt;
    int64_t k = b->k, nsamp = 0;
    for (int64_t s = 0; s < b->n; s++)
        if (b->w[s] != 0) b->samples[nsamp++] = (int32_t)s;
    /* depth-first: a node is pushed once; at most depth+1 frames per level */
    int64_t cap_stack = 64, top = 0;
    frame *stack = em__alloc((size_t)cap_stack * sizeof *stack);
    if (!stack) return em__error(EM_ERR_NOMEM, "tree: out of memory");
    stack[top++] = (frame){0, nsamp, -1, 0, false};
    double *st = b->stats;
    em_status status = EM_OK;
    while (top) {
        frame fr = stack[--top];
        if ((status = grow(b, b->count + 1))) break;
        int64_t id = b->count++;
        if (fr.parent >= 0) {
            if (fr.is_left) b->left[fr.parent] = id;
            else b->right[fr.parent] = id;
        }
        double W;
        node_stats(b, fr.lo, fr.hi, st, &W);
        double imp = impurity_of(b, st, W);
        int64_t n = fr.hi - fr.lo;
        b->left[id] = b->right[id] = -1;
        b->feature[id] = -2;
        b->threshold[id] = -2;
        b->impurity[id] = imp;
        b->n_samples[id] = n;
        b->wn[id] = W;
        for (int64_t c = 0; c < k; c++) b->value[id * k + c] = b->regression ? (W > 0 ? st[0] / W : 0) : st[c];
        if (fr.depth > b->depth) b->depth = fr.depth;
        bool leaf = (o->max_depth >= 0 && fr.depth >= o->max_depth) || n < o->min_samples_split ||
                    n < 2 * o->min_samples_leaf || imp <= DBL_EPSILON;
        if (leaf) continue;
        /* stats scratch: [0] this node, [1] [2] split sweep, [3] node copy, [4] [5] children */
        double *nst = b->stats + 3 * (k + 2), *Ls = nst + (k + 2), *Rs = Ls + (k + 2);
        memcpy(nst, st, (size_t)(k + 2) * sizeof *nst);
        split sp;
        best_split(b, fr.lo, fr.hi, nst, W, &sp);
        if (sp.feature >= 0 && o->min_impurity_decrease > 0) {
            double wL, wR;
            node_stats(b, fr.lo, fr.lo + sp.pos, Ls, &wL);
            node_stats(b, fr.lo + sp.pos, fr.hi, Rs, &wR);
            double dec = (W / b->wn[0]) * (imp - wR / W * impurity_of(b, Rs, wR) - wL / W * impurity_of(b, Ls, wL));
            if (dec + 1e-12 < o->min_impurity_decrease) sp.feature = -1;
        }
        if (sp.feature < 0) continue;
        b->feature[id] = sp.feature;
        b->threshold[id] = sp.threshold;
        if (top + 2 > cap_stack) {
            frame *ns = em__alloc((size_t)cap_stack * 2 * sizeof *ns);
            if (!ns) {
                status = em__error(EM_ERR_NOMEM, "tree: out of memory");
                break;
            }
            memcpy(ns, stack, (size_t)top * sizeof *ns);
            em__free(stack);
            stack = ns;
            cap_stack *= 2;
        }
        /* right pushed first so the left subtree is numbered first (pre-order) */
        stack[top++] = (frame){fr.lo + sp.pos, fr.hi, id, fr.depth + 1, false};
        stack[top++] = (frame){fr.lo, fr.lo + sp.pos, id, fr.depth + 1, true};
    }
    em__free(stack);
    return status;
}

static void builder_free(builder *b) {
    em__free(b->samples), em__free(b->pairs), em__free(b->pairs_tmp), em__free(b->stats), em__free(b->features);
    em__free(b->left), em__free(b->right), em__free(b->feature), em__free(b->n_samples);
    em__free(b->threshold), em__free(b->impurity), em__free(b->wn), em__free(b->value);
}

/* Copies a growing array into a new tensor. */
static em_status to_tensor(em_dtype dt, int nd, int64_t n0, int64_t n1, const void *src, em_tensor **out) {
    int64_t shape[2] = {n0, n1};
    EM_TRY(em__new(dt, nd, shape, out));
    memcpy(em__ptr(*out), src, (size_t)(n0 * n1) * em__dsize(dt));
    return EM_OK;
}

static em_status finish(builder *b, em_tree *out) {
    em_tree t = {.n_nodes = b->count, .n_values = b->k, .max_depth = b->depth};
    em_status st = EM_OK;
    if (!st) st = to_tensor(EM_I64, 1, b->count, 1, b->left, &t.left);
    if (!st) st = to_tensor(EM_I64, 1, b->count, 1, b->right, &t.right);
    if (!st) st = to_tensor(EM_I64, 1, b->count, 1, b->feature, &t.feature);
    if (!st) st = to_tensor(EM_F64, 1, b->count, 1, b->threshold, &t.threshold);
    if (!st) st = to_tensor(EM_F64, 1, b->count, 1, b->impurity, &t.impurity);
    if (!st) st = to_tensor(EM_I64, 1, b->count, 1, b->n_samples, &t.n_samples);
    if (!st) st = to_tensor(EM_F64, 1, b->count, 1, b->wn, &t.weighted_n_samples);
    if (!st) st = to_tensor(EM_F64, 2, b->count, b->k, b->value, &t.value);
    if (st) {
        em_tree_free(&t);
        return st;
    }
    *out = t;
    return EM_OK;
}

/* ---- argument checks ------------------------------------------------------- */
typedef struct {
    const float *X;
    int64_t xs0, xs1, n, d;
    const int64_t *yc;
    const double *yr;
    const double *w;
    bool regression;
} inputs;

static em_status check_inputs(const char *op, const em_tensor *X, const em_tensor *y, const em_tensor *sw,
                              int64_t n_classes, const em_tree_options *o, inputs *in) {
    char a[EM_DESC_LEN], c[EM_DESC_LEN];
    if (!X || !y || !o) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    if (X->dtype != EM_F32 || X->ndim != 2)
        return em__error(EM_ERR_DTYPE, "%s: X must be a 2-d float32 tensor, got %s", op, em__desc(X, a));
    int64_t n = X->shape[0];
    if (n > INT32_MAX) return em__error(EM_ERR_INVALID_ARG, "%s: at most 2^31 - 1 samples, got %lld", op, (long long)n);
    if (n == 0 || X->shape[1] == 0)
        return em__error(EM_ERR_SHAPE, "%s: X must have samples and features, got %s", op, em__desc(X, a));
    bool regression = o->criterion == EM_TREE_SQUARED_ERROR;
    if ((int)o->criterion < 0 || o->criterion > EM_TREE_SQUARED_ERROR)
        return em__error(EM_ERR_INVALID_ARG, "%s: unknown criterion %d", op, (int)o->criterion);
    em_dtype want = regression ? EM_F64 : EM_I64;
    if (y->ndim != 1 || y->shape[0] != n || y->dtype != want || y->strides[0] != 1)
        return em__error(EM_ERR_SHAPE, "%s: y must be a contiguous (%lld,) %s tensor for this criterion, got %s", op,
                         (long long)n, regression ? "float64" : "int64", em__desc(y, c));
    if (sw && (sw->ndim != 1 || sw->shape[0] != n || sw->dtype != EM_F64 || sw->strides[0] != 1))
        return em__error(EM_ERR_SHAPE, "%s: sample_weight must be a contiguous (%lld,) float64 tensor, got %s", op,
                         (long long)n, em__desc(sw, c));
    if (o->min_samples_split < 2 || o->min_samples_leaf < 1)
        return em__error(EM_ERR_INVALID_ARG, "%s: min_samples_split must be >= 2 and min_samples_leaf >= 1, got %lld "
                         "and %lld", op, (long long)o->min_samples_split, (long long)o->min_samples_leaf);
    if (!regression && (n_classes < 1 || n_classes > (1 << 24)))
        return em__error(EM_ERR_INVALID_ARG, "%s: n_classes must be in [1, 2^24], got %lld", op, (long long)n_classes);
    const int64_t *yc = regression ? NULL : (const int64_t *)em__ptr(y);
    const double *yr = regression ? (const double *)em__ptr(y) : NULL;
    for (int64_t i = 0; i < n; i++) {
        if (yc && (yc[i] < 0 || yc[i] >= n_classes))
            return em__error(EM_ERR_INDEX, "%s: y[%lld] = %lld is not a class index in [0, %lld)", op, (long long)i,
                             (long long)yc[i], (long long)n_classes);
        if (yr && !isfinite(yr[i]))
            return em__error(EM_ERR_INVALID_ARG, "%s: y[%lld] is not finite", op, (long long)i);
    }
    const double *w = sw ? (const double *)em__ptr(sw) : NULL;
    for (int64_t i = 0; w && i < n; i++)
        if (!(w[i] >= 0) || isinf(w[i]))
            return em__error(EM_ERR_INVALID_ARG, "%s: sample_weight[%lld] = %g is not a finite weight >= 0", op,
                             (long long)i, w[i]);
    const float *x = (const float *)em__ptr(X);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < X->shape[1]; j++)
            if (!isfinite(x[i * X->strides[0] + j * X->strides[1]]))
                return em__error(EM_ERR_INVALID_ARG, "%s: X[%lld, %lld] is not finite", op, (long long)i, (long long)j);
    *in = (inputs){x, X->strides[0], X->strides[1], n, X->shape[1], yc, yr, w, regression};
    return EM_OK;
}

/* Copies X feature-major into *xt (freed by the caller) and points in at it:
 * a node gathers one feature of its samples at a time, and within one
 * column (4 n bytes) those reads stay in cache, where across the rows of a
 * row-major X each one is a cache miss at large n. */
static em_status feature_major(const char *op, inputs *in, float **xt) {
    int64_t n = in->n, d = in->d;
    EM_TRY(em__alloc_or_fail((size_t)(n * d) * sizeof **xt, op, (void **)xt));
    float *t = *xt;
    for (int64_t i0 = 0; i0 < n; i0 += 256) /* row blocks: both sides stay in cache */
        for (int64_t f = 0; f < d; f++)
            for (int64_t i = i0; i < n && i < i0 + 256; i++) t[f * n + i] = in->X[i * in->xs0 + f * in->xs1];
    in->X = t, in->xs0 = 1, in->xs1 = n;
    return EM_OK;
}

/* One tree from checked inputs with per-sample weights w (n values). */
static em_status fit_one(const inputs *in, const double *w, int64_t n_classes, const em_tree_options *o,
                         uint64_t stream, em_tree *out) {
    int64_t k = in->regression ? 1 : n_classes;
    builder b = {.X = in->X, .xs0 = in->xs0, .xs1 = in->xs1, .n = in->n, .d = in->d, .yc = in->yc, .yr = in->yr,
                 .w = w, .k = k, .opt = o, .regression = in->regression, .r = {o->seed, stream, 0, {0}, 4}};
    b.samples = em__alloc((size_t)in->n * sizeof *b.samples);
    b.pairs = em__alloc((size_t)in->n * sizeof *b.pairs);
    b.pairs_tmp = em__alloc((size_t)in->n * sizeof *b.pairs_tmp);
    b.stats = em__alloc(6 * (size_t)(k + 2) * sizeof *b.stats);
    b.features = em__alloc((size_t)in->d * sizeof *b.features);
    em_status st = b.samples && b.pairs && b.pairs_tmp && b.stats && b.features ? EM_OK
                                                                 : em__error(EM_ERR_NOMEM, "tree: out of memory");
    if (!st) st = build(&b);
    if (!st) st = finish(&b, out);
    builder_free(&b);
    return st;
}

em_status em_tree_fit(const em_tensor *X, const em_tensor *y, const em_tensor *sample_weight, int64_t n_classes,
                      const em_tree_options *opt, em_tree *out) {
    inputs in;
    EM_TRY(check_inputs("tree_fit", X, y, sample_weight, n_classes, opt, &in));
    if (!out) return em__error(EM_ERR_INVALID_ARG, "tree_fit: NULL out");
    double *ones = NULL;
    float *xt = NULL;
    const double *w = in.w;
    em_status st = feature_major("tree_fit", &in, &xt);
    if (!st && !w) {
        st = em__alloc_or_fail((size_t)in.n * sizeof *ones, "tree_fit", (void **)&ones);
        for (int64_t i = 0; !st && i < in.n; i++) ones[i] = 1.0;
        w = ones;
    }
    if (!st) st = fit_one(&in, w, n_classes, opt, 0, out);
    em__free(ones);
    em__free(xt);
    return st;
}

/* Checks that t's node arrays are walkable for rows of X: every internal
 * node names a feature of X and children with larger ids (so walks end). */
static em_status check_tree(const char *op, const em_tree *t, int64_t n_features) {
    char a[EM_DESC_LEN];
    if (!t || !t->left || !t->right || !t->feature || !t->threshold || t->n_nodes < 1)
        return em__error(EM_ERR_INVALID_ARG, "%s: NULL or empty tree", op);
    const em_tensor *arr[4] = {t->left, t->right, t->feature, t->threshold};
    for (int i = 0; i < 4; i++)
        if (arr[i]->ndim != 1 || arr[i]->shape[0] != t->n_nodes || arr[i]->strides[0] != 1 ||
            arr[i]->dtype != (i == 3 ? EM_F64 : EM_I64))
            return em__error(EM_ERR_SHAPE, "%s: tree arrays must be contiguous (%lld,) int64/float64 tensors, got %s",
                             op, (long long)t->n_nodes, em__desc(arr[i], a));
    const int64_t *left = (const int64_t *)em__ptr(t->left), *right = (const int64_t *)em__ptr(t->right);
    const int64_t *feat = (const int64_t *)em__ptr(t->feature);
    for (int64_t i = 0; i < t->n_nodes; i++)
        if (left[i] >= 0 && (feat[i] < 0 || feat[i] >= n_features || left[i] >= t->n_nodes || right[i] < 0 ||
                             right[i] >= t->n_nodes || left[i] <= i || right[i] <= i))
            return em__error(EM_ERR_INVALID_ARG, "%s: node %lld is malformed for X with %lld columns (feature %lld, "
                             "children %lld, %lld)", op, (long long)i, (long long)n_features, (long long)feat[i], (long long)left[i],
                             (long long)right[i]);
    return EM_OK;
}

em_status em_tree_apply(const em_tree *t, const em_tensor *X, em_tensor **out) {
    char a[EM_DESC_LEN];
    if (!t || !X || !out || !t->left) return em__error(EM_ERR_INVALID_ARG, "tree_apply: NULL argument");
    if (X->dtype != EM_F32 || X->ndim != 2)
        return em__error(EM_ERR_DTYPE, "tree_apply: X must be a 2-d float32 tensor, got %s", em__desc(X, a));
    EM_TRY(check_tree("tree_apply", t, X->shape[1]));
    const int64_t *left = (const int64_t *)em__ptr(t->left), *right = (const int64_t *)em__ptr(t->right);
    const int64_t *feat = (const int64_t *)em__ptr(t->feature);
    const double *thr = (const double *)em__ptr(t->threshold);
    EM_TRY(em__new(EM_I64, 1, X->shape, out));
    int64_t *leaf = (int64_t *)em__ptr(*out);
    const float *x = (const float *)em__ptr(X);
    for (int64_t i = 0; i < X->shape[0]; i++) {
        int64_t node = 0; /* children have larger ids than parents (checked), so this ends */
        while (left[node] >= 0)
            node = (double)x[i * X->strides[0] + feat[node] * X->strides[1]] <= thr[node] ? left[node] : right[node];
        leaf[i] = node;
    }
    return EM_OK;
}

/* ---- forest prediction -------------------------------------------------------- */
/* Packed layout (em_forest_pack): one 16-byte node per tree node, in each
 * tree's pre-order, so a node's left child is the next node and only the
 * right child needs storing.  Leaves loop on themselves: their threshold is
 * NaN, so "x <= thr" is false for every x and the walk goes "right" to the
 * leaf again.  That lets a block of rows walk in lock-step without a branch
 * per node (the branch on a data-dependent comparison is mispredicted about
 * every other level, which is what the walk over the int64/float64 node
 * arrays spent most of its time on), and several rows' walks overlap their
 * load latencies.  Thresholds are stored as float32: for a float x and a
 * double t, (double)x <= t exactly when x <= the largest float <= t, so the
 * leaf reached is the same as with the float64 threshold. */
typedef struct {
    float thr;
    int32_t feature; /* leaves: 0 (a valid column, read and ignored) */
    int32_t right;   /* leaves: the node itself */
    int32_t leaf;    /* row of values for a leaf, -1 for an internal node */
} pnode;

_Static_assert(sizeof(pnode) == 16, "pnode is 16 bytes: four to a cache line");

void em_forest_packed_free(em_forest_packed *f) {
    if (!f) return;
    em_tensor_free(f->nodes), em_tensor_free(f->offsets), em_tensor_free(f->values);
    memset(f, 0, sizeof *f);
}

/* Largest float <= t (NaN stays NaN). */
static float float_at_or_below(double t) {
    float f = (float)t;
    if ((double)f > t) f = nextafterf(f, -INFINITY);
    return f;
}

/* Checks the trees em_forest_pack / em_forest_predict read and returns the
 * common n_values in *k. */
static em_status check_forest(const char *op, const em_tree *trees, int64_t n_trees, int64_t n_features,
                              int64_t *k) {
    char a[EM_DESC_LEN];
    if (!trees) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    if (n_trees < 1)
        return em__error(EM_ERR_INVALID_ARG, "%s: n_trees must be >= 1, got %lld", op, (long long)n_trees);
    *k = trees[0].value ? trees[0].value->shape[trees[0].value->ndim - 1] : 0;
    for (int64_t b = 0; b < n_trees; b++) {
        EM_TRY(check_tree(op, &trees[b], n_features));
        const em_tensor *v = trees[b].value;
        if (!v || v->dtype != EM_F64 || v->ndim != 2 || v->shape[0] != trees[b].n_nodes || v->shape[1] != *k ||
            *k < 1 || !em_tensor_is_contiguous(v))
            return em__error(EM_ERR_SHAPE, "%s: tree %lld: value must be a contiguous (%lld, %lld) float64 tensor, "
                             "got %s", op, (long long)b, (long long)trees[b].n_nodes, (long long)*k,
                             v ? em__desc(v, a) : "NULL");
        if (trees[b].n_nodes > INT32_MAX)
            return em__error(EM_ERR_INVALID_ARG, "%s: tree %lld has %lld nodes, at most 2^31 - 1 are supported", op,
                             (long long)b, (long long)trees[b].n_nodes);
    }
    return EM_OK;
}

em_status em_forest_pack(const em_tree *trees, int64_t n_trees, int64_t n_features, bool normalize,
                         em_forest_packed *out) {
    const char *op = "forest_pack";
    if (!out) return em__error(EM_ERR_INVALID_ARG, "%s: NULL out", op);
    if (n_features < 1 || n_features > INT32_MAX)
        return em__error(EM_ERR_INVALID_ARG, "%s: n_features must be in [1, 2^31 - 1], got %lld", op,
                         (long long)n_features);
    int64_t k;
    EM_TRY(check_forest(op, trees, n_trees, n_features, &k));
    int64_t total = 0, leaves = 0;
    for (int64_t b = 0; b < n_trees; b++) {
        const int64_t *left = (const int64_t *)em__ptr(trees[b].left);
        total += trees[b].n_nodes;
        for (int64_t i = 0; i < trees[b].n_nodes; i++) leaves += left[i] < 0;
    }
    if (leaves > INT32_MAX)
        return em__error(EM_ERR_INVALID_ARG, "%s: %lld leaves, at most 2^31 - 1 are supported", op, (long long)leaves);
    em_forest_packed f = {.n_trees = n_trees, .n_values = k, .n_features = n_features, .n_nodes = total,
                          .n_leaves = leaves};
    int64_t nshape[2] = {total, 4}, oshape[1] = {n_trees + 1}, vshape[2] = {leaves, k};
    em_status st = em__new(EM_I32, 2, nshape, &f.nodes);
    if (!st) st = em__new(EM_I64, 1, oshape, &f.offsets);
    if (!st) st = em__new(EM_F64, 2, vshape, &f.values);
    if (st) {
        em_forest_packed_free(&f);
        return st;
    }
    pnode *nodes = (pnode *)em__ptr(f.nodes);
    int64_t *off = (int64_t *)em__ptr(f.offsets);
    double *vals = (double *)em__ptr(f.values);
    int64_t base = 0, leaf = 0;
    for (int64_t b = 0; b < n_trees; b++) {
        const em_tree *t = &trees[b];
        const int64_t *left = (const int64_t *)em__ptr(t->left), *right = (const int64_t *)em__ptr(t->right);
        const int64_t *feat = (const int64_t *)em__ptr(t->feature);
        const double *thr = (const double *)em__ptr(t->threshold), *val = (const double *)em__ptr(t->value);
        /* Pre-order renumbering: trees fitted here are already in pre-order
         * (left child = parent + 1); a tree from elsewhere (checked only for
         * children after parents) is renumbered by a depth-first walk. */
        int64_t n = t->n_nodes;
        int64_t *map = NULL, *stack = NULL; /* map[old] = new */
        bool preorder = true;
        for (int64_t i = 0; i < n && preorder; i++) preorder = left[i] < 0 || left[i] == i + 1;
        if (!preorder) {
            map = em__alloc((size_t)n * sizeof *map);
            stack = em__alloc((size_t)n * sizeof *stack);
            if (!map || !stack) {
                em__free(map), em__free(stack);
                em_forest_packed_free(&f);
                return em__error(EM_ERR_NOMEM, "%s: out of memory", op);
            }
            for (int64_t i = 0; i < n; i++) map[i] = -1;
            int64_t top = 0, next = 0;
            stack[top++] = 0;
            while (top) { /* each node is pushed once (by its parent): at most n entries */
                int64_t i = stack[--top];
                if (map[i] >= 0) continue; /* shared child (not a tree): its first visit wins */
                map[i] = next++;
                if (left[i] >= 0) {
                    if (map[right[i]] < 0 && top < n) stack[top++] = right[i];
                    if (map[left[i]] < 0 && top < n) stack[top++] = left[i];
                }
            }
        }
        /* unreachable nodes (map -1) take the slots after the reached ones;
         * an unreachable internal node is stored as a leaf (never walked) */
        int64_t reached = n, first_leaf = leaf;
        if (map) {
            reached = 0;
            for (int64_t i = 0; i < n; i++) reached += map[i] >= 0;
            int64_t next_free = reached;
            for (int64_t i = 0; i < n; i++)
                if (map[i] < 0) map[i] = next_free++;
        }
        for (int64_t i = 0; i < n; i++) {
            int64_t j = map ? map[i] : i;
            pnode *p = &nodes[base + j];
            if (left[i] >= 0 && j >= reached) {
                *p = (pnode){NAN, 0, (int32_t)j, (int32_t)first_leaf}; /* a tree has a leaf: row first_leaf exists */
            } else if (left[i] < 0) {
                *p = (pnode){NAN, 0, (int32_t)j, (int32_t)leaf};
                const double *v = val + i * k;
                double *o = vals + leaf * k, s = 0;
                if (normalize) {
                    for (int64_t c = 0; c < k; c++) s += v[c];
                    for (int64_t c = 0; c < k; c++) o[c] = s > 0 ? v[c] / s : 0.0;
                } else {
                    for (int64_t c = 0; c < k; c++) o[c] = v[c];
                }
                leaf++;
            } else {
                int64_t r = map ? map[right[i]] : right[i];
                *p = (pnode){float_at_or_below(thr[i]), (int32_t)feat[i], (int32_t)r, -1};
            }
        }
        if (map) {
            /* a renumbered tree must still send every left child to j + 1 */
            bool ok = true;
            for (int64_t i = 0; i < n && ok; i++)
                ok = left[i] < 0 || map[i] >= reached || (map[left[i]] == map[i] + 1 && map[right[i]] > map[i] + 1);
            em__free(map), em__free(stack);
            if (!ok) {
                em_forest_packed_free(&f);
                return em__error(EM_ERR_INVALID_ARG, "%s: tree %lld is not a tree (a node is reached twice)", op,
                                 (long long)b);
            }
        }
        off[b] = base;
        base += n;
    }
    off[n_trees] = base;
    *out = f;
    return EM_OK;
}

/* Checks a packed forest's shape against X: tensors, offsets and tree sizes,
 * O(trees).  The nodes are checked on the paths the rows walk (walk_rows,
 * node_is_bad): a full check read every node on every call, and with 10^6
 * training rows a forest holds ~10^7 nodes, so it cost more than walking
 * 10^4 rows. */
static em_status check_packed(const char *op, const em_forest_packed *f, int64_t d) {
    char a[EM_DESC_LEN];
    if (!f || !f->nodes || !f->offsets || !f->values) return em__error(EM_ERR_INVALID_ARG, "%s: NULL forest", op);
    int64_t nt = f->n_trees, k = f->n_values;
    if (nt < 1 || k < 1 || f->nodes->dtype != EM_I32 || f->nodes->ndim != 2 || f->nodes->shape[1] != 4 ||
        !em_tensor_is_contiguous(f->nodes))
        return em__error(EM_ERR_SHAPE, "%s: nodes must be a contiguous (n, 4) int32 tensor, got %s", op,
                         em__desc(f->nodes, a));
    if (f->offsets->dtype != EM_I64 || f->offsets->ndim != 1 || f->offsets->shape[0] != nt + 1 ||
        !em_tensor_is_contiguous(f->offsets))
        return em__error(EM_ERR_SHAPE, "%s: offsets must be a contiguous (%lld,) int64 tensor, got %s", op,
                         (long long)(nt + 1), em__desc(f->offsets, a));
    if (f->values->dtype != EM_F64 || f->values->ndim != 2 || f->values->shape[1] != k ||
        !em_tensor_is_contiguous(f->values))
        return em__error(EM_ERR_SHAPE, "%s: values must be a contiguous (leaves, %lld) float64 tensor, got %s", op,
                         (long long)k, em__desc(f->values, a));
    if (f->n_features != d)
        return em__error(EM_ERR_SHAPE, "%s: X has %lld columns, the forest was packed for %lld", op, (long long)d,
                         (long long)f->n_features);
    const int64_t *off = (const int64_t *)em__ptr(f->offsets);
    int64_t total = f->nodes->shape[0];
    if (off[0] != 0 || off[nt] != total)
        return em__error(EM_ERR_INVALID_ARG, "%s: offsets must run from 0 to the %lld nodes", op, (long long)total);
    for (int64_t b = 0; b < nt; b++) {
        int64_t n = off[b + 1] - off[b];
        if (n < 1 || n > INT32_MAX || off[b] < 0)
            return em__error(EM_ERR_INVALID_ARG, "%s: tree %lld has %lld nodes", op, (long long)b, (long long)n);
    }
    return EM_OK;
}

/* Whether node i of a tree of n nodes is malformed for X with d columns: an
 * internal node must name a column and a right child after its left one
 * (i + 1) inside the tree, a leaf must loop on itself with a NaN threshold
 * and name one of nleaf values rows.  Then every walk stays in its tree and
 * ends. */
static bool node_is_bad(const pnode *p, int64_t i, int64_t n, int64_t d, int64_t nleaf) {
    bool ok = p->leaf < 0 ? p->feature >= 0 && p->feature < d && i + 1 < n && p->right > i + 1 && p->right < n
                          : p->leaf < nleaf && p->feature == 0 && p->right == i && isnan(p->thr);
    return !ok;
}

/* The first malformed node on row x's path through tree t (the slow walk
 * that names it once the fast one has seen something wrong), or -1. */
static int64_t first_bad_node(const pnode *t, int64_t n, int64_t d, int64_t nleaf, const float *x, int64_t xs1) {
    for (int64_t i = 0;;) {
        const pnode *p = &t[i];
        if (node_is_bad(p, i, n, d, nleaf)) return i;
        if (p->leaf >= 0) return -1;
        i = x[p->feature * xs1] <= p->thr ? i + 1 : p->right; /* checked: moves forward, stays in t */
    }
}

typedef struct {
    const em_forest_packed *f;
    int64_t xs0, xs1;
    const float *x;
    double *out;
    int64_t rows, d; /* d: columns of X */
    int64_t *bad_tree, *bad_node; /* per row block: the first malformed node met, or -1 */
} predict_ctx;

#define PREDICT_BLOCK 64 /* rows per parallel item */
#define WALK_ROWS 8      /* rows walking one tree in lock-step */

/* Walks WALK_ROWS rows (row pointers xr, column stride xs1) down tree t of
 * n nodes until all stand still; leaf rows of values into leaf[].  The step
 * is branch-free; the loop ends at the deepest of the rows' leaves.  It is
 * safe on any nodes: a column outside [0, d) reads column 0, and a move that
 * is not forward inside the tree stays put, so the walk stays in t and ends
 * within n steps.  Returns nonzero when a row met a bad column or a leaf that
 * moves; the caller also checks that each row stopped on a leaf.  On a valid
 * tree every row moves exactly as the plain walk. */
static inline int walk_rows(const pnode *t, int64_t n, int64_t d, const float *const *xr, int64_t xs1,
                            int32_t *leaf) {
    int32_t cur[WALK_ROWS];
    uint32_t bad = 0;
    for (int r = 0; r < WALK_ROWS; r++) cur[r] = 0;
    for (;;) {
        int32_t moved = 0;
#pragma GCC unroll 8 /* the rows' chains interleave only when unrolled: measured 10-25% faster */
        for (int r = 0; r < WALK_ROWS; r++) {
            const pnode *p = &t[cur[r]];
            uint32_t feat = (uint32_t)p->feature, fbad = feat >= (uint64_t)d;
            feat = fbad ? 0 : feat;
            int32_t go_left = -(int32_t)(xr[r][(int64_t)feat * xs1] <= p->thr); /* all ones or zero */
            int32_t nx = p->right ^ ((p->right ^ (cur[r] + 1)) & go_left);
            nx = (uint32_t)nx - (uint32_t)cur[r] - 1u < (uint32_t)(n - cur[r] - 1) ? nx : cur[r]; /* cur < nx < n */
            bad |= fbad | ((p->leaf >= 0) & (nx != cur[r]));
            moved |= nx ^ cur[r];
            cur[r] = nx;
        }
        if (!moved) break;
    }
    for (int r = 0; r < WALK_ROWS; r++) leaf[r] = t[cur[r]].leaf;
    return bad != 0;
}

static void predict_range(void *vctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const predict_ctx *c = vctx;
    const em_forest_packed *f = c->f;
    int64_t k = f->n_values;
    const pnode *nodes = (const pnode *)em__ptr(f->nodes);
    const int64_t *off = (const int64_t *)em__ptr(f->offsets);
    const double *vals = (const double *)em__ptr(f->values);
    int64_t r0 = begin * PREDICT_BLOCK, r1 = end * PREDICT_BLOCK;
    if (r1 > c->rows) r1 = c->rows;
    /* trees outer: one tree's nodes stay in cache while the range's rows walk
     * it, and each row still adds its trees in order 0, 1, ... */
    for (int64_t b = 0; b < f->n_trees; b++) {
        const pnode *t = nodes + off[b];
        for (int64_t i0 = r0; i0 < r1; i0 += WALK_ROWS) {
            const float *xr[WALK_ROWS];
            int32_t leaf[WALK_ROWS];
            int64_t m = r1 - i0 < WALK_ROWS ? r1 - i0 : WALK_ROWS;
            for (int r = 0; r < WALK_ROWS; r++) xr[r] = c->x + (i0 + (r < m ? r : m - 1)) * c->xs0; /* pad: repeat */
            int64_t n = off[b + 1] - off[b], d = c->d, nleaf = f->values->shape[0];
            int bad = c->xs1 == 1 ? walk_rows(t, n, d, xr, 1, leaf) /* inlined with a constant stride */
                                  : walk_rows(t, n, d, xr, c->xs1, leaf);
            for (int r = 0; r < WALK_ROWS; r++) bad |= (uint32_t)leaf[r] >= (uint64_t)nleaf; /* a leaf, in range */
            if (bad) {
                for (int r = 0; r < WALK_ROWS && c->bad_node[begin] < 0; r++) {
                    c->bad_tree[begin] = b;
                    c->bad_node[begin] = first_bad_node(t, n, d, nleaf, xr[r], c->xs1);
                }
                return;
            }
            for (int64_t r = 0; r < m; r++) {
                const double *v = vals + (int64_t)leaf[r] * k;
                double *o = c->out + (i0 + r) * k;
                if (k == 1) o[0] += v[0];
                else
                    for (int64_t j = 0; j < k; j++) o[j] += v[j];
            }
        }
    }
}

em_status em_forest_packed_predict(const em_forest_packed *f, const em_tensor *X, em_tensor **out) {
    char a[EM_DESC_LEN];
    if (!f || !X || !out) return em__error(EM_ERR_INVALID_ARG, "forest_predict: NULL argument");
    if (X->dtype != EM_F32 || X->ndim != 2)
        return em__error(EM_ERR_DTYPE, "forest_predict: X must be a 2-d float32 tensor, got %s", em__desc(X, a));
    EM_TRY(check_packed("forest_predict", f, X->shape[1]));
    int64_t k = f->n_values, shape[2] = {X->shape[0], k};
    EM_TRY(em__new(EM_F64, 2, shape, out));
    double *o = (double *)em__ptr(*out);
    memset(o, 0, (size_t)(shape[0] * k) * sizeof *o);
    if (shape[0] == 0) return EM_OK;
    int64_t blocks = (X->shape[0] + PREDICT_BLOCK - 1) / PREDICT_BLOCK;
    int64_t *bad = em__alloc((size_t)blocks * 2 * sizeof *bad);
    if (!bad) {
        em_tensor_free(*out), *out = NULL;
        return em__error(EM_ERR_NOMEM, "forest_predict: out of memory");
    }
    for (int64_t i = 0; i < 2 * blocks; i++) bad[i] = -1;
    predict_ctx c = {f, X->strides[0], X->strides[1], (const float *)em__ptr(X), o, X->shape[0], X->shape[1], bad, bad + blocks};
    /* a range is worth a thread once it walks ~ 10^4 tree levels */
    int64_t grain = 1 + 256 / (f->n_trees < 256 ? f->n_trees : 256);
    em__parallel_for(blocks, grain, em__threads(), predict_range, &c);
    int64_t bt = -1, bn = -1;
    for (int64_t i = 0; i < blocks && bn < 0; i++) bt = bad[i], bn = bad[blocks + i];
    em__free(bad);
    if (bn >= 0) {
        const pnode *p = (const pnode *)em__ptr(f->nodes) + ((const int64_t *)em__ptr(f->offsets))[bt] + bn;
        em_tensor_free(*out), *out = NULL;
        return em__error(EM_ERR_INVALID_ARG, "forest_predict: tree %lld node %lld is malformed for X with %lld "
                         "columns (feature %d, right %d, leaf %d)", (long long)bt, (long long)bn,
                         (long long)X->shape[1], p->feature, p->right, p->leaf);
    }
    /* each row's sum was taken in tree order; dividing afterwards keeps that */
    for (int64_t i = 0; i < shape[0] * k; i++) o[i] /= (double)f->n_trees;
    return EM_OK;
}

em_status em_forest_predict(const em_tree *trees, int64_t n_trees, const em_tensor *X, bool normalize,
                            em_tensor **out) {
    char a[EM_DESC_LEN];
    if (!trees || !X || !out) return em__error(EM_ERR_INVALID_ARG, "forest_predict: NULL argument");
    if (n_trees < 1) return em__error(EM_ERR_INVALID_ARG, "forest_predict: n_trees must be >= 1, got %lld",
                                      (long long)n_trees);
    if (X->dtype != EM_F32 || X->ndim != 2)
        return em__error(EM_ERR_DTYPE, "forest_predict: X must be a 2-d float32 tensor, got %s", em__desc(X, a));
    int64_t k;
    EM_TRY(check_forest("forest_predict", trees, n_trees, X->shape[1], &k));
    em_forest_packed f;
    EM_TRY(em_forest_pack(trees, n_trees, X->shape[1], normalize, &f));
    em_status st = em_forest_packed_predict(&f, X, out);
    em_forest_packed_free(&f);
    return st;
}

/* ---- forests ---------------------------------------------------------------- */
typedef struct {
    const inputs *in;
    int64_t n_classes, max_samples;
    const em_tree_options *opt;
    bool bootstrap;
    em_tree *trees;
    em_status *status;
    char (*errors)[256];
} forest_ctx;

static void forest_range(void *vctx, int64_t begin, int64_t end, int tid) {
    forest_ctx *c = vctx;
    const inputs *in = c->in;
    for (int64_t b = begin; b < end; b++) {
        double *w = em__alloc((size_t)in->n * sizeof *w);
        if (!w) {
            c->status[b] = em__error(EM_ERR_NOMEM, "forest_fit: out of memory");
            snprintf(c->errors[b], 256, "%s", em_last_error());
            continue;
        }
        for (int64_t i = 0; i < in->n; i++) w[i] = c->bootstrap ? 0.0 : 1.0;
        if (c->bootstrap) {
            /* stream 2b + 1 draws the bootstrap; stream 2b + 2 orders features */
            rng r = {c->opt->seed, (uint64_t)(2 * b + 1), 0, {0}, 4};
            for (int64_t i = 0; i < c->max_samples; i++) w[rng_below(&r, in->n)] += 1.0;
        }
        if (in->w)
            for (int64_t i = 0; i < in->n; i++) w[i] *= in->w[i];
        c->status[b] = fit_one(in, w, c->n_classes, c->opt, (uint64_t)(2 * b + 2), &c->trees[b]);
        if (c->status[b]) snprintf(c->errors[b], 256, "%s", em_last_error());
        em__free(w);
    }
}

em_status em_forest_fit(const em_tensor *X, const em_tensor *y, const em_tensor *sample_weight, int64_t n_classes,
                        const em_tree_options *opt, int64_t n_trees, bool bootstrap, int64_t max_samples,
                        em_tree *trees) {
    inputs in;
    EM_TRY(check_inputs("forest_fit", X, y, sample_weight, n_classes, opt, &in));
    if (!trees || n_trees < 1)
        return em__error(EM_ERR_INVALID_ARG, "forest_fit: need an output array and n_trees >= 1, got %lld",
                         (long long)n_trees);
    if (bootstrap && max_samples < 1)
        return em__error(EM_ERR_INVALID_ARG, "forest_fit: max_samples must be >= 1, got %lld", (long long)max_samples);
    memset(trees, 0, (size_t)n_trees * sizeof *trees);
    float *xt = NULL;
    EM_TRY(feature_major("forest_fit", &in, &xt)); /* shared by all trees */
    em_status *status = em__calloc((size_t)n_trees * sizeof *status);
    char(*errors)[256] = em__calloc((size_t)n_trees * sizeof *errors);
    if (!status || !errors) {
        em__free(status), em__free(errors), em__free(xt);
        return em__error(EM_ERR_NOMEM, "forest_fit: out of memory");
    }
    forest_ctx c = {&in, n_classes, max_samples, opt, bootstrap, trees, status, errors};
    em__parallel_for(n_trees, 1, em__threads(), forest_range, &c);
    em_status st = EM_OK;
    for (int64_t b = 0; b < n_trees && !st; b++)
        if (status[b]) st = em__error(status[b], "forest_fit: tree %lld: %s", (long long)b, errors[b]);
    if (st)
        for (int64_t b = 0; b < n_trees; b++) em_tree_free(&trees[b]);
    em__free(status), em__free(errors), em__free(xt);
    return st;
}
