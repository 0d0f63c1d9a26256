/* Histogram gradient boosting trees (ember/hgb.h).
 *
 * A tree is grown on feature-major uint8 codes.  Each node owns a contiguous
 * range of a sample index array (split by a stable partition) and, while it
 * may still be split, a histogram per feature of (sum g, sum h, count) per
 * bin.  Only the smaller child's histograms are built from its samples; the
 * larger child's are parent - smaller (the subtraction trick).  Histograms are
 * built in parallel over features: each feature's bins are summed by one
 * thread in sample order, so the sums do not depend on the thread count.
 * Split search scans bins left to right (missing right) and, when the feature
 * has missing values, right to left (missing left), keeping the first best
 * gain in feature order, like scikit-learn. */
#include "../internal.h"
#include "../base/threadpool.h"

#include <math.h>
#include <stdlib.h>

#define ALMOST_INF 1e300

em_hgb_options em_hgb_default_options(void) { return (em_hgb_options){31, -1, 20, 0.0, 1e-3, 0.1}; }

void em_hgb_tree_free(em_hgb_tree *t) {
    if (!t) return;
    em_tensor *f[] = {t->left, t->right, t->feature, t->bin_threshold, t->missing_left, t->count,
                      t->threshold, t->value, t->gain};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) em_tensor_free(f[i]);
    memset(t, 0, sizeof *t);
}

/* ---- binning ----------------------------------------------------------------- */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static em_status check_x64(const char *op, const em_tensor *X) {
    char a[EM_DESC_LEN];
    if (!X) return em__error(EM_ERR_INVALID_ARG, "%s: NULL X", op);
    if (X->dtype != EM_F64 || X->ndim != 2)
        return em__error(EM_ERR_DTYPE, "%s: X must be a 2-d float64 tensor, got %s", op, em__desc(X, a));
    if (X->shape[0] > INT32_MAX)
        return em__error(EM_ERR_INVALID_ARG, "%s: at most 2^31 - 1 samples, got %s", op, em__desc(X, a));
    return EM_OK;
}

em_status em_hgb_bin_fit(const em_tensor *X, int64_t max_bins, em_tensor **thresholds, em_tensor **n_thresholds) {
    EM_TRY(check_x64("hgb_bin_fit", X));
    if (!thresholds || !n_thresholds) return em__error(EM_ERR_INVALID_ARG, "hgb_bin_fit: NULL output");
    if (max_bins < 2 || max_bins > 255)
        return em__error(EM_ERR_INVALID_ARG, "hgb_bin_fit: max_bins must be in [2, 255], got %lld",
                         (long long)max_bins);
    int64_t n = X->shape[0], d = X->shape[1];
    const double *x = (const double *)em__ptr(X);
    em_tensor *thr = NULL, *nt = NULL;
    double *col = NULL;
    EM_TRY(em__new(EM_F64, 2, (int64_t[]){d, max_bins - 1}, &thr));
    em_status st = em__new(EM_I64, 1, &d, &nt);
    if (!st) st = em__alloc_or_fail((size_t)(n ? n : 1) * sizeof *col, "hgb_bin_fit", (void **)&col);
    if (st) {
        em_tensor_free(thr), em_tensor_free(nt);
        return st;
    }
    double *T = (double *)em__ptr(thr);
    int64_t *NT = (int64_t *)em__ptr(nt);
    for (int64_t f = 0; f < d; f++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++) {
            double v = x[i * X->strides[0] + f * X->strides[1]];
            if (!isnan(v)) col[m++] = v;
        }
        qsort(col, (size_t)m, sizeof *col, cmp_double);
        int64_t distinct = m ? 1 : 0;
        for (int64_t i = 1; i < m; i++) distinct += col[i] != col[i - 1];
        double *row = T + f * (max_bins - 1);
        int64_t k = 0;
        if (distinct <= max_bins) {
            for (int64_t i = 1; i < m; i++)
                if (col[i] != col[i - 1]) row[k++] = (col[i - 1] + col[i]) * 0.5;
        } else {
            for (int64_t j = 1; j < max_bins; j++) {
                /* NumPy's percentile(method="midpoint") at 100 j / max_bins */
                double q = (double)j * (100.0 / (double)max_bins) / 100.0, pos = q * (double)(m - 1);
                int64_t lo = (int64_t)floor(pos), hi = (int64_t)ceil(pos);
                if (hi >= m) hi = m - 1;
                double a = col[lo], b = col[hi];
                row[k++] = lo == hi ? a : b - (b - a) * 0.5;
            }
        }
        for (int64_t i = 0; i < k; i++)
            if (row[i] > ALMOST_INF) row[i] = ALMOST_INF;
        NT[f] = k;
        for (int64_t i = k; i < max_bins - 1; i++) row[i] = INFINITY;
    }
    em__free(col);
    *thresholds = thr;
    *n_thresholds = nt;
    return EM_OK;
}

/* thresholds / n_thresholds consistent with d features and max_bins */
static em_status check_bins(const char *op, const em_tensor *thr, const em_tensor *nt, int64_t d, int64_t max_bins) {
    char a[EM_DESC_LEN], b[EM_DESC_LEN];
    if (!thr || !nt) return em__error(EM_ERR_INVALID_ARG, "%s: NULL thresholds", op);
    if (max_bins < 2 || max_bins > 255)
        return em__error(EM_ERR_INVALID_ARG, "%s: max_bins must be in [2, 255], got %lld", op, (long long)max_bins);
    if (thr->dtype != EM_F64 || thr->ndim != 2 || thr->shape[0] != d || thr->shape[1] != max_bins - 1 ||
        !em__is_contiguous(thr) || nt->dtype != EM_I64 || nt->ndim != 1 || nt->shape[0] != d ||
        !em__is_contiguous(nt))
        return em__error(EM_ERR_SHAPE, "%s: thresholds must be contiguous (%lld, %lld) float64 and n_thresholds "
                         "(%lld,) int64, got %s and %s", op, (long long)d, (long long)(max_bins - 1), (long long)d,
                         em__desc(thr, a), em__desc(nt, b));
    const int64_t *NT = (const int64_t *)em__ptr(nt);
    for (int64_t f = 0; f < d; f++)
        if (NT[f] < 0 || NT[f] > max_bins - 1)
            return em__error(EM_ERR_INVALID_ARG, "%s: n_thresholds[%lld] = %lld is not in [0, %lld]", op,
                             (long long)f, (long long)NT[f], (long long)(max_bins - 1));
    return EM_OK;
}

typedef struct {
    const em_tensor *X;
    const double *T;
    const int64_t *NT;
    int64_t max_bins;
    uint8_t *codes;
} bin_ctx;

static void bin_range(void *vc, int64_t begin, int64_t end, int tid) {
    (void)tid;
    bin_ctx *c = vc;
    const em_tensor *X = c->X;
    const double *x = (const double *)em__ptr(X);
    int64_t n = X->shape[0], d = X->shape[1];
    for (int64_t f = 0; f < d; f++) {
        const double *t = c->T + f * (c->max_bins - 1);
        int64_t m = c->NT[f];
        for (int64_t i = begin; i < end; i++) {
            double v = x[i * X->strides[0] + f * X->strides[1]];
            int64_t lo = 0, hi = m;
            if (isnan(v)) {
                lo = c->max_bins;
            } else {
                while (lo < hi) { /* first threshold >= v */
                    int64_t mid = (lo + hi) / 2;
                    if (v <= t[mid]) hi = mid;
                    else lo = mid + 1;
                }
            }
            c->codes[f * n + i] = (uint8_t)lo;
        }
    }
}

em_status em_hgb_bin_apply(const em_tensor *X, const em_tensor *thresholds, const em_tensor *n_thresholds,
                           int64_t max_bins, em_tensor **codes) {
    EM_TRY(check_x64("hgb_bin_apply", X));
    EM_TRY(check_bins("hgb_bin_apply", thresholds, n_thresholds, X->shape[1], max_bins));
    if (!codes) return em__error(EM_ERR_INVALID_ARG, "hgb_bin_apply: NULL output");
    EM_TRY(em__new(EM_U8, 2, (int64_t[]){X->shape[1], X->shape[0]}, codes));
    bin_ctx c = {X, (const double *)em__ptr(thresholds), (const int64_t *)em__ptr(n_thresholds), max_bins,
                 (uint8_t *)em__ptr(*codes)};
    int64_t grain = 4096 / (X->shape[1] ? X->shape[1] : 1) + 1;
    em__parallel_for(X->shape[0], grain, em__threads(), bin_range, &c);
    return EM_OK;
}

/* ---- growing ------------------------------------------------------------------ */
typedef struct {
    double g, h;
    int64_t c;
} hbin;

typedef struct {
    int64_t feature, bin, n_left;
    bool missing_left;
    double gain, g_left, h_left;
} split_info;

typedef struct {
    int64_t lo, hi, depth, child; /* child: the left child's id (right = child + 1), -1 for a leaf */
    double G, H;
    hbin *hist;          /* d * nb bins while the node may be split, else NULL */
    split_info split;    /* split.feature < 0: none */
} node;

typedef struct {
    /* inputs */
    const uint8_t *codes;
    const double *T;
    const int64_t *NT;
    const double *g, *h; /* h NULL: all 1 */
    int64_t n, d, nb, max_bins;
    const em_hgb_options *o;
    bool *has_missing;
    /* scratch */
    int32_t *samples, *tmp;
    double *og, *oh; /* gradients (hessians) in the order of samples[lo, hi) */
    /* the node being built (histogram jobs) */
    int64_t job_lo, job_hi;
    hbin *job_hist;
    /* growing output */
    node *nodes;
    int64_t count, cap;
} grower;

static void hist_range(void *vc, int64_t begin, int64_t end, int tid) {
    (void)tid;
    grower *w = vc;
    int64_t lo = w->job_lo, hi = w->job_hi, n = w->n;
    bool root = lo == 0 && hi == n;
    for (int64_t f = begin; f < end; f++) {
        hbin *hist = w->job_hist + f * w->nb;
        memset(hist, 0, (size_t)w->nb * sizeof *hist);
        const uint8_t *code = w->codes + f * n;
        if (root) { /* samples are 0..n-1 in order: read everything sequentially */
            for (int64_t i = 0; i < n; i++) {
                hbin *b = &hist[code[i]];
                b->g += w->g[i];
                if (w->h) b->h += w->h[i];
                b->c++;
            }
        } else {
            const int32_t *s = w->samples + lo;
            for (int64_t i = 0; i < hi - lo; i++) {
                hbin *b = &hist[code[s[i]]];
                b->g += w->og[i];
                if (w->h) b->h += w->oh[i];
                b->c++;
            }
        }
        if (!w->h)
            for (int64_t k = 0; k < w->nb; k++) hist[k].h = (double)hist[k].c;
    }
}

static void build_hist(grower *w, const node *nd, hbin *hist) {
    if (!(nd->lo == 0 && nd->hi == w->n)) {
        for (int64_t i = nd->lo; i < nd->hi; i++) {
            w->og[i - nd->lo] = w->g[w->samples[i]];
            if (w->h) w->oh[i - nd->lo] = w->h[w->samples[i]];
        }
    }
    w->job_lo = nd->lo, w->job_hi = nd->hi, w->job_hist = hist;
    int64_t per_feature = nd->hi - nd->lo + w->nb;
    int64_t grain = 32768 / per_feature + 1;
    em__parallel_for(w->d, grain, em__threads(), hist_range, w);
}

static double neg_loss(double G, double H, double l2) { return G * G / (H + l2); }

/* The best split of node nd from its histograms (feature < 0 when none). */
static void find_split(const grower *w, node *nd) {
    const em_hgb_options *o = w->o;
    double l2 = o->l2_regularization, parent = neg_loss(nd->G, nd->H, l2), mh = o->min_hessian_to_split;
    int64_t C = nd->hi - nd->lo, msl = o->min_samples_leaf;
    split_info best = {.feature = -1, .gain = -1.0};
    for (int64_t f = 0; f < w->d; f++) {
        const hbin *hist = nd->hist + f * w->nb;
        int64_t nnm = w->NT[f] + 1;
        bool miss = w->has_missing[f];
        double gl = 0, hl = 0;
        int64_t cl = 0;
        int64_t end = nnm - 1 + (miss ? 1 : 0);
        for (int64_t b = 0; b < end; b++) { /* missing values go right */
            gl += hist[b].g, hl += hist[b].h, cl += hist[b].c;
            int64_t cr = C - cl;
            double gr = nd->G - gl, hr = nd->H - hl;
            if (cl < msl) continue;
            if (cr < msl) break;
            if (hl < mh) continue;
            if (hr < mh) break;
            double gain = neg_loss(gl, hl, l2) + neg_loss(gr, hr, l2) - parent;
            if (gain > best.gain && gain > 0)
                best = (split_info){f, b, cl, miss ? false : cl > cr, gain, gl, hl};
        }
        if (!miss) continue;
        double gr = 0, hr = 0;
        int64_t cr = 0;
        for (int64_t b = nnm - 2; b >= 0; b--) { /* missing values go left */
            gr += hist[b + 1].g, hr += hist[b + 1].h, cr += hist[b + 1].c;
            int64_t cl2 = C - cr;
            double gl2 = nd->G - gr, hl2 = nd->H - hr;
            if (cr < msl) continue;
            if (cl2 < msl) break;
            if (hr < mh) continue;
            if (hl2 < mh) break;
            double gain = neg_loss(gl2, hl2, l2) + neg_loss(gr, hr, l2) - parent;
            if (gain > best.gain && gain > 0) best = (split_info){f, b, cl2, true, gain, gl2, hl2};
        }
    }
    nd->split = best;
}

static em_status new_node(grower *w, int64_t lo, int64_t hi, int64_t depth, double G, double H, int64_t *id) {
    if (w->count == w->cap) {
        int64_t cap = w->cap ? w->cap * 2 : 64;
        node *p = em__alloc((size_t)cap * sizeof *p);
        if (!p) return em__error(EM_ERR_NOMEM, "hgb_tree_grow: out of memory");
        if (w->nodes) memcpy(p, w->nodes, (size_t)w->count * sizeof *p);
        em__free(w->nodes);
        w->nodes = p, w->cap = cap;
    }
    *id = w->count;
    w->nodes[w->count++] = (node){lo, hi, depth, -1, G, H, NULL, {.feature = -1}};
    return EM_OK;
}

static bool goes_left(const grower *w, const split_info *s, uint8_t code) {
    return code == w->max_bins ? s->missing_left : code <= s->bin;
}

/* Whether node id may still be split (scikit-learn's stopping rules). */
static bool splittable(const grower *w, const node *nd) {
    const em_hgb_options *o = w->o;
    if (o->max_depth >= 0 && nd->depth >= o->max_depth) return false;
    if (nd->hi - nd->lo < 2 * o->min_samples_leaf) return false;
    if (nd->H < o->min_hessian_to_split) return false;
    return true;
}

static em_status grow_tree(grower *w) {
    const em_hgb_options *o = w->o;
    int64_t n = w->n, id;
    size_t hsize = (size_t)(w->d * w->nb) * sizeof(hbin);
    for (int64_t i = 0; i < n; i++) w->samples[i] = (int32_t)i;
    double G = 0, H = 0;
    for (int64_t i = 0; i < n; i++) G += w->g[i], H += w->h ? w->h[i] : 1.0;
    EM_TRY(new_node(w, 0, n, 0, G, H, &id));
    int64_t leaves = 1, max_leaves = o->max_leaf_nodes > 0 ? o->max_leaf_nodes : INT64_MAX;
    if (splittable(w, &w->nodes[0]) && max_leaves > 1) {
        if (!(w->nodes[0].hist = em__alloc(hsize))) return em__error(EM_ERR_NOMEM, "hgb_tree_grow: out of memory");
        build_hist(w, &w->nodes[0], w->nodes[0].hist);
        find_split(w, &w->nodes[0]);
        if (w->nodes[0].split.feature < 0) em__free(w->nodes[0].hist), w->nodes[0].hist = NULL;
    }
    while (leaves < max_leaves) {
        /* the open leaf with the largest gain (lowest id on ties) */
        int64_t p = -1;
        for (int64_t i = 0; i < w->count; i++)
            if (w->nodes[i].hist && (p < 0 || w->nodes[i].split.gain > w->nodes[p].split.gain)) p = i;
        if (p < 0) break;
        node nd = w->nodes[p];
        split_info s = nd.split;
        /* stable partition of samples[lo, hi) */
        const uint8_t *code = w->codes + s.feature * n;
        int64_t l = nd.lo, r = 0;
        for (int64_t i = nd.lo; i < nd.hi; i++) {
            int32_t smp = w->samples[i];
            if (goes_left(w, &s, code[smp])) w->samples[l++] = smp;
            else w->tmp[r++] = smp;
        }
        memcpy(w->samples + l, w->tmp, (size_t)r * sizeof *w->tmp);
        EM_ASSERT(l - nd.lo == s.n_left);
        int64_t li, ri;
        EM_TRY(new_node(w, nd.lo, l, nd.depth + 1, s.g_left, s.h_left, &li));
        EM_TRY(new_node(w, l, nd.hi, nd.depth + 1, nd.G - s.g_left, nd.H - s.h_left, &ri));
        leaves++;
        node *L = &w->nodes[li], *R = &w->nodes[ri];
        hbin *ph = w->nodes[p].hist;
        bool want_l = splittable(w, L) && leaves < max_leaves, want_r = splittable(w, R) && leaves < max_leaves;
        if (want_l || want_r) {
            /* histograms of the smaller child from its samples, the larger = parent - smaller */
            node *small = (L->hi - L->lo) <= (R->hi - R->lo) ? L : R, *large = small == L ? R : L;
            hbin *hs = em__alloc(hsize);
            if (!hs) return em__error(EM_ERR_NOMEM, "hgb_tree_grow: out of memory");
            build_hist(w, small, hs);
            for (int64_t k = 0; k < w->d * w->nb; k++)
                ph[k].g -= hs[k].g, ph[k].h -= hs[k].h, ph[k].c -= hs[k].c;
            small->hist = hs, large->hist = ph;
            w->nodes[p].hist = NULL;
            node *ch[2] = {L, R};
            bool want[2] = {want_l, want_r};
            for (int c = 0; c < 2; c++) {
                if (want[c]) find_split(w, ch[c]);
                if (!want[c] || ch[c]->split.feature < 0) em__free(ch[c]->hist), ch[c]->hist = NULL;
            }
        } else {
            em__free(ph);
            w->nodes[p].hist = NULL;
        }
        w->nodes[p].child = li;
    }
    return EM_OK;
}

static em_status tensor_from(em_dtype dt, int64_t n, em_tensor **out) { return em__new(dt, 1, &n, out); }

static em_status finish(grower *w, em_hgb_tree *out, em_tensor **train_pred) {
    int64_t m = w->count;
    em_hgb_tree t = {.n_nodes = m};
    em_tensor *pred = NULL;
    em_status st = EM_OK;
    em_tensor **it[] = {&t.left, &t.right, &t.feature, &t.bin_threshold, &t.missing_left, &t.count};
    em_tensor **ft[] = {&t.threshold, &t.value, &t.gain};
    for (size_t i = 0; i < 6 && !st; i++) st = tensor_from(EM_I64, m, it[i]);
    for (size_t i = 0; i < 3 && !st; i++) st = tensor_from(EM_F64, m, ft[i]);
    if (!st && train_pred) st = tensor_from(EM_F64, w->n, &pred);
    if (st) {
        em_hgb_tree_free(&t);
        return st;
    }
    int64_t *left = (int64_t *)em__ptr(t.left), *right = (int64_t *)em__ptr(t.right);
    int64_t *feat = (int64_t *)em__ptr(t.feature), *bt = (int64_t *)em__ptr(t.bin_threshold);
    int64_t *ml = (int64_t *)em__ptr(t.missing_left), *cnt = (int64_t *)em__ptr(t.count);
    double *thr = (double *)em__ptr(t.threshold), *val = (double *)em__ptr(t.value), *gain = (double *)em__ptr(t.gain);
    double *pp = pred ? (double *)em__ptr(pred) : NULL;
    const em_hgb_options *o = w->o;
    for (int64_t i = 0; i < m; i++) {
        const node *nd = &w->nodes[i];
        bool internal = nd->child >= 0;
        val[i] = -o->shrinkage * nd->G / (nd->H + o->l2_regularization);
        cnt[i] = nd->hi - nd->lo;
        if (nd->depth > t.max_depth) t.max_depth = nd->depth;
        if (internal) {
            const split_info *s = &nd->split;
            left[i] = nd->child, right[i] = nd->child + 1, feat[i] = s->feature, bt[i] = s->bin;
            ml[i] = s->missing_left, gain[i] = s->gain;
            thr[i] = s->bin < w->NT[s->feature] ? w->T[s->feature * (w->max_bins - 1) + s->bin] : INFINITY;
        } else {
            left[i] = right[i] = -1, feat[i] = -1, bt[i] = 0, ml[i] = 0, gain[i] = 0, thr[i] = 0;
            t.n_leaves++;
            for (int64_t k = nd->lo; pp && k < nd->hi; k++) pp[w->samples[k]] = val[i];
        }
    }
    *out = t;
    if (train_pred) *train_pred = pred;
    return EM_OK;
}

em_status em_hgb_tree_grow(const em_tensor *codes, const em_tensor *thresholds, const em_tensor *n_thresholds,
                           int64_t max_bins, const em_tensor *grad, const em_tensor *hess, const em_hgb_options *opt,
                           em_hgb_tree *out, em_tensor **train_pred) {
    const char *op = "hgb_tree_grow";
    char a[EM_DESC_LEN], b[EM_DESC_LEN];
    if (!codes || !grad || !opt || !out) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    if (codes->dtype != EM_U8 || codes->ndim != 2 || !em__is_contiguous(codes))
        return em__error(EM_ERR_DTYPE, "%s: codes must be a contiguous (d, n) uint8 tensor, got %s", op,
                         em__desc(codes, a));
    int64_t d = codes->shape[0], n = codes->shape[1];
    if (n < 1 || d < 1 || n > INT32_MAX)
        return em__error(EM_ERR_SHAPE, "%s: codes must hold 1 to 2^31 - 1 samples and >= 1 feature, got %s", op,
                         em__desc(codes, a));
    EM_TRY(check_bins(op, thresholds, n_thresholds, d, max_bins));
    const em_tensor *gh[2] = {grad, hess};
    for (int i = 0; i < 2; i++)
        if (gh[i] && (gh[i]->dtype != EM_F64 || gh[i]->ndim != 1 || gh[i]->shape[0] != n || !em__is_contiguous(gh[i])))
            return em__error(EM_ERR_SHAPE, "%s: %s must be a contiguous (%lld,) float64 tensor for codes %s, got %s", op,
                             i ? "hess" : "grad", (long long)n, em__desc(codes, a), em__desc(gh[i], b));
    if (opt->min_samples_leaf < 1 || !(opt->l2_regularization >= 0) || !(opt->shrinkage > 0) ||
        !(opt->min_hessian_to_split >= 0) || (opt->max_leaf_nodes > 0 && opt->max_leaf_nodes < 2))
        return em__error(EM_ERR_INVALID_ARG, "%s: need min_samples_leaf >= 1, l2_regularization >= 0, shrinkage > 0, "
                         "min_hessian_to_split >= 0 and max_leaf_nodes >= 2 (or <= 0), got %lld, %g, %g, %g, %lld", op,
                         (long long)opt->min_samples_leaf, opt->l2_regularization, opt->shrinkage,
                         opt->min_hessian_to_split, (long long)opt->max_leaf_nodes);
    const double *g = (const double *)em__ptr(grad), *h = hess ? (const double *)em__ptr(hess) : NULL;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(g[i]) || (h && !(h[i] >= 0 && isfinite(h[i]))))
            return em__error(EM_ERR_INVALID_ARG, "%s: grad[%lld] = %g, hess[%lld] = %g: need finite values, hess >= 0",
                             op, (long long)i, g[i], (long long)i, h ? h[i] : 1.0);
    const uint8_t *c = (const uint8_t *)em__ptr(codes);
    const int64_t *NT = (const int64_t *)em__ptr(n_thresholds);
    grower w = {.codes = c, .T = (const double *)em__ptr(thresholds), .NT = NT, .g = g, .h = h, .n = n, .d = d,
                .nb = max_bins + 1, .max_bins = max_bins, .o = opt};
    em_status st = EM_OK;
    w.has_missing = em__calloc((size_t)d * sizeof *w.has_missing);
    w.samples = em__alloc((size_t)n * sizeof *w.samples);
    w.tmp = em__alloc((size_t)n * sizeof *w.tmp);
    w.og = em__alloc((size_t)n * sizeof *w.og);
    w.oh = em__alloc((size_t)n * sizeof *w.oh);
    if (!w.has_missing || !w.samples || !w.tmp || !w.og || !w.oh) st = em__error(EM_ERR_NOMEM, "%s: out of memory", op);
    for (int64_t f = 0; f < d && !st; f++) {
        for (int64_t i = 0; i < n; i++) {
            if (c[f * n + i] == max_bins) w.has_missing[f] = true;
            else if (c[f * n + i] > NT[f]) {
                st = em__error(EM_ERR_INVALID_ARG, "%s: codes[%lld, %lld] = %d exceeds the %lld thresholds of feature "
                               "%lld", op, (long long)f, (long long)i, c[f * n + i], (long long)NT[f], (long long)f);
                break;
            }
        }
    }
    if (!st) st = grow_tree(&w);
    if (!st) st = finish(&w, out, train_pred);
    for (int64_t i = 0; i < w.count; i++) em__free(w.nodes[i].hist);
    em__free(w.nodes), em__free(w.has_missing), em__free(w.samples), em__free(w.tmp), em__free(w.og), em__free(w.oh);
    return st;
}

/* ---- prediction ----------------------------------------------------------------- */
typedef struct {
    const int64_t *left, *right, *feat, *bt, *ml, *roots, *outputs;
    const double *thr, *val;
    int64_t T, K, max_bins;
    const em_tensor *X;
    double *raw;
} pred_ctx;

static void pred_range(void *vc, int64_t begin, int64_t end, int tid) {
    (void)tid;
    pred_ctx *c = vc;
    const em_tensor *X = c->X;
    bool binned = X->dtype == EM_U8;
    const double *x = binned ? NULL : (const double *)em__ptr(X);
    const uint8_t *codes = binned ? (const uint8_t *)em__ptr(X) : NULL;
    int64_t n = binned ? X->shape[1] : X->shape[0];
    for (int64_t i = begin; i < end; i++) {
        for (int64_t t = 0; t < c->T; t++) {
            int64_t k = c->roots[t];
            while (c->left[k] >= 0) {
                int64_t f = c->feat[k];
                bool left;
                if (binned) {
                    uint8_t b = codes[f * n + i];
                    left = b == c->max_bins ? c->ml[k] != 0 : b <= c->bt[k];
                } else {
                    double v = x[i * X->strides[0] + f * X->strides[1]];
                    left = isnan(v) ? c->ml[k] != 0 : v <= c->thr[k];
                }
                k = left ? c->left[k] : c->right[k];
            }
            c->raw[i * c->K + c->outputs[t]] += c->val[k];
        }
    }
}

em_status em_hgb_predict(const em_hgb_tree *nodes, const em_tensor *roots, const em_tensor *outputs,
                         const em_tensor *X, int64_t max_bins, em_tensor *raw) {
    const char *op = "hgb_predict";
    char a[EM_DESC_LEN], b[EM_DESC_LEN];
    if (!nodes || !roots || !outputs || !X || !raw || !nodes->left)
        return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    int64_t m = nodes->n_nodes;
    em_tensor *it[] = {nodes->left, nodes->right, nodes->feature, nodes->bin_threshold, nodes->missing_left};
    em_tensor *ft[] = {nodes->threshold, nodes->value};
    for (int i = 0; i < 7; i++) {
        em_tensor *t = i < 5 ? it[i] : ft[i - 5];
        if (!t || t->dtype != (i < 5 ? EM_I64 : EM_F64) || t->ndim != 1 || t->shape[0] != m || !em__is_contiguous(t))
            return em__error(EM_ERR_SHAPE, "%s: every node array must be a contiguous (%lld,) %s tensor", op,
                             (long long)m, i < 5 ? "int64" : "float64");
    }
    bool binned = X->dtype == EM_U8;
    if (!(binned && X->ndim == 2 && em__is_contiguous(X)) && !(X->dtype == EM_F64 && X->ndim == 2))
        return em__error(EM_ERR_DTYPE, "%s: X must be (n, d) float64 or contiguous (d, n) uint8 codes, got %s", op,
                         em__desc(X, a));
    if (binned && (max_bins < 2 || max_bins > 255))
        return em__error(EM_ERR_INVALID_ARG, "%s: max_bins must be in [2, 255], got %lld", op, (long long)max_bins);
    int64_t n = binned ? X->shape[1] : X->shape[0], d = binned ? X->shape[0] : X->shape[1];
    if (roots->dtype != EM_I64 || roots->ndim != 1 || !em__is_contiguous(roots) || outputs->dtype != EM_I64 ||
        outputs->ndim != 1 || outputs->shape[0] != roots->shape[0] || !em__is_contiguous(outputs))
        return em__error(EM_ERR_SHAPE, "%s: roots and outputs must be contiguous int64 vectors of one length, got %s "
                         "and %s", op, em__desc(roots, a), em__desc(outputs, b));
    if (raw->dtype != EM_F64 || raw->ndim != 2 || raw->shape[0] != n || !em__is_contiguous(raw))
        return em__error(EM_ERR_SHAPE, "%s: raw must be a contiguous (%lld, K) float64 tensor, got %s", op,
                         (long long)n, em__desc(raw, a));
    pred_ctx c = {(const int64_t *)em__ptr(nodes->left), (const int64_t *)em__ptr(nodes->right),
                  (const int64_t *)em__ptr(nodes->feature), (const int64_t *)em__ptr(nodes->bin_threshold),
                  (const int64_t *)em__ptr(nodes->missing_left), (const int64_t *)em__ptr(roots),
                  (const int64_t *)em__ptr(outputs), (const double *)em__ptr(nodes->threshold),
                  (const double *)em__ptr(nodes->value), roots->shape[0], raw->shape[1], max_bins, X,
                  (double *)em__ptr(raw)};
    /* a walk ends only if children lie beyond their parent, inside the array */
    for (int64_t i = 0; i < m; i++)
        if (c.left[i] >= 0 && (c.left[i] <= i || c.right[i] <= i || c.left[i] >= m || c.right[i] >= m ||
                               c.feat[i] < 0 || c.feat[i] >= d))
            return em__error(EM_ERR_INVALID_ARG, "%s: node %lld is malformed for %lld features (feature %lld, children "
                             "%lld, %lld)", op, (long long)i, (long long)d, (long long)c.feat[i],
                             (long long)c.left[i], (long long)c.right[i]);
    for (int64_t t = 0; t < c.T; t++)
        if (c.roots[t] < 0 || c.roots[t] >= m || c.outputs[t] < 0 || c.outputs[t] >= c.K)
            return em__error(EM_ERR_INDEX, "%s: tree %lld has root %lld of %lld nodes and output %lld of %lld", op,
                             (long long)t, (long long)c.roots[t], (long long)m, (long long)c.outputs[t],
                             (long long)c.K);
    int64_t grain = 65536 / (c.T * 8 + 1) + 1;
    em__parallel_for(n, grain, em__threads(), pred_range, &c);
    return EM_OK;
}
