/* sort and topk along one axis.  Each row is copied into scratch with its
 * positions, merge sorted (stable, O(n log n)), and its first k entries are
 * written out; a topk with small k selects in one pass instead (O(n) for
 * typical data) with the same result.  Order: ascending puts NaN last; descending puts NaN first;
 * equal elements keep their original order either way, so topk breaks ties
 * by the lower index. */
#include "../internal.h"
#include "../autograd/ag.h"

/* a < b with NaN after every number; x != x is false for integers, so the
 * one definition serves every dtype. */
#define LESS(a, b) ((a) < (b) || ((b) != (b) && (a) == (a)))
#define BEFORE(a, b) (desc ? LESS(b, a) : LESS(a, b))
#define RUN 16 /* rows are insertion sorted in runs of this length, then merged */
#define SELECT_MAX_K 32 /* topk up to this k selects in one pass instead of sorting the row */

typedef struct {
    const char *x;
    char *vals;     /* NULL when not wanted */
    int64_t *idxs;  /* NULL when not wanted */
    int nd, a;
    const int64_t *shape; /* x's shape */
    const int64_t *xst;   /* x's strides */
    int64_t ost[EM_MAX_DIMS]; /* strides of the (contiguous) outputs */
    int64_t n, k;
    bool desc;
    void *scratch; /* 2n int64 then 2n elements */
} rows_ctx;

/* Stable merge sort of n (value, position) pairs in place, tv/tix scratch. */
#define SORT_KERNEL(T)                                                                   \
    static void sort_##T(T *v, int64_t *ix, T *tv, int64_t *tix, int64_t n, bool desc) { \
        for (int64_t lo = 0; lo < n; lo += RUN) {                                        \
            int64_t hi = lo + RUN < n ? lo + RUN : n;                                    \
            for (int64_t i = lo + 1; i < hi; i++) {                                      \
                T key = v[i];                                                            \
                int64_t ki = ix[i], j = i;                                               \
                for (; j > lo && BEFORE(key, v[j - 1]); j--) {                           \
                    v[j] = v[j - 1];                                                     \
                    ix[j] = ix[j - 1];                                                   \
                }                                                                        \
                v[j] = key;                                                              \
                ix[j] = ki;                                                              \
            }                                                                            \
        }                                                                                \
        T *sv = v, *dv = tv;                                                             \
        int64_t *si = ix, *di = tix;                                                     \
        for (int64_t w = RUN; w < n; w *= 2) {                                           \
            for (int64_t lo = 0; lo < n; lo += 2 * w) {                                  \
                int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n; \
                int64_t i = lo, j = mid, o = lo;                                         \
                while (i < mid && j < hi) {                                              \
                    /* the right run wins only when strictly before: stable */           \
                    int64_t s = BEFORE(sv[j], sv[i]) ? j++ : i++;                        \
                    dv[o] = sv[s];                                                       \
                    di[o++] = si[s];                                                     \
                }                                                                        \
                for (; i < mid; i++, o++) dv[o] = sv[i], di[o] = si[i];                  \
                for (; j < hi; j++, o++) dv[o] = sv[j], di[o] = si[j];                   \
            }                                                                            \
            T *t = sv;                                                                   \
            sv = dv;                                                                     \
            dv = t;                                                                      \
            int64_t *ti = si;                                                            \
            si = di;                                                                     \
            di = ti;                                                                     \
        }                                                                                \
        if (sv != v) {                                                                   \
            memcpy(v, sv, (size_t)n * sizeof *v);                                        \
            memcpy(ix, si, (size_t)n * sizeof *ix);                                      \
        }                                                                                \
    }                                                                                    \
                                                                                         \
    /* The first k of a row in sorted order without sorting it (small k): a     \
     * sorted buffer of the best k so far; an element enters only when strictly  \
     * before the buffer's last, and is inserted after its equals, so the result \
     * is exactly the stable sort's first k. */                                  \
    static void select_##T(const T *x, int64_t xa, int64_t n, int64_t k, T *v, int64_t *ix, bool desc) { \
        int64_t m = 0;                                                                   \
        for (int64_t j = 0; j < n; j++) {                                                \
            T key = x[j * xa];                                                           \
            if (m == k && !BEFORE(key, v[k - 1])) continue;                              \
            int64_t i = m < k ? m++ : k - 1;                                             \
            for (; i > 0 && BEFORE(key, v[i - 1]); i--) {                                \
                v[i] = v[i - 1];                                                         \
                ix[i] = ix[i - 1];                                                       \
            }                                                                            \
            v[i] = key;                                                                  \
            ix[i] = j;                                                                   \
        }                                                                                \
    }                                                                                    \
                                                                                         \
    /* Every row along c->a: load, sort (or select), store the first k. */              \
    static void rows_##T(const rows_ctx *c) {                                            \
        int64_t n = c->n, *ix = c->scratch, *tix = ix + n;                               \
        T *v = (T *)(tix + n), *tv = v + n;                                              \
        const T *x = (const T *)c->x;                                                    \
        int64_t xa = c->nd ? c->xst[c->a] : 0, oa = c->nd ? c->ost[c->a] : 0;           \
        int64_t rows = 1, idx[EM_MAX_DIMS] = {0};                                        \
        for (int d = 0; d < c->nd; d++) rows *= d == c->a ? 1 : c->shape[d];             \
        for (int64_t r = 0; r < rows; r++) {                                             \
            int64_t xo = 0, oo = 0;                                                      \
            for (int d = 0; d < c->nd; d++) {                                            \
                xo += idx[d] * c->xst[d];                                                \
                oo += idx[d] * c->ost[d];                                                \
            }                                                                            \
            if (c->k <= SELECT_MAX_K && c->k < n) {                                      \
                select_##T(x + xo, xa, n, c->k, v, ix, c->desc);                         \
            } else {                                                                     \
                for (int64_t j = 0; j < n; j++) {                                        \
                    v[j] = x[xo + j * xa];                                               \
                    ix[j] = j;                                                           \
                }                                                                        \
                sort_##T(v, ix, tv, tix, n, c->desc);                                    \
            }                                                                            \
            if (c->vals)                                                                 \
                for (int64_t j = 0; j < c->k; j++) ((T *)c->vals)[oo + j * oa] = v[j];   \
            if (c->idxs)                                                                 \
                for (int64_t j = 0; j < c->k; j++) c->idxs[oo + j * oa] = ix[j];         \
            for (int d = c->nd - 1; d >= 0; d--) {                                       \
                if (d == c->a) continue;                                                 \
                if (++idx[d] < c->shape[d]) break;                                       \
                idx[d] = 0;                                                              \
            }                                                                            \
        }                                                                                \
    }
SORT_KERNEL(bool)
SORT_KERNEL(uint8_t)
SORT_KERNEL(int8_t)
SORT_KERNEL(int32_t)
SORT_KERNEL(int64_t)
SORT_KERNEL(float)
SORT_KERNEL(double)

/* values/indices: the first k of each sorted row (k == size for sort). */
static em_status sort_impl(const char *op, const em_tensor *x, int axis, bool desc, int64_t k, em_tensor **values,
                           em_tensor **indices) {
    int nd = x->ndim, a;
    int64_t shape[EM_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    if (nd) shape[a = axis < 0 ? axis + nd : axis] = k; /* axis already checked */
    else a = 0;
    em_tensor *vt = NULL, *it = NULL;
    void *scratch = NULL;
    rows_ctx c = {em__ptr(x), NULL, NULL, nd, a, x->shape, x->strides, {0}, nd ? x->shape[a] : 1, k, desc, NULL};
    em__contig_strides(nd, shape, c.ost);
    em_status st = EM_OK;
    if (values && !(st = em__new(x->dtype, nd, shape, &vt))) c.vals = em__ptr(vt);
    if (!st && indices && !(st = em__new(EM_I64, nd, shape, &it))) c.idxs = (int64_t *)em__ptr(it);
    size_t row_bytes = 2 * (sizeof(int64_t) + em__dsize(x->dtype));
    if (!st && (uint64_t)c.n > SIZE_MAX / row_bytes) /* a huge broadcast row */
        st = em__error(EM_ERR_NOMEM, "%s: rows of %lld elements are too long to sort", op, (long long)c.n);
    if (!st && c.n && em__numel(nd, shape) > 0 &&
        !(st = em__alloc_or_fail((size_t)c.n * row_bytes, op, &scratch))) {
        c.scratch = scratch;
        switch (x->dtype) {
        case EM_BOOL: rows_bool(&c); break;
        case EM_U8: rows_uint8_t(&c); break;
        case EM_I8: rows_int8_t(&c); break;
        case EM_I32: rows_int32_t(&c); break;
        case EM_I64: rows_int64_t(&c); break;
        case EM_F32: rows_float(&c); break;
        case EM_F64: rows_double(&c); break;
        default: break;
        }
    }
    em__free(scratch);
    if (st) {
        em_tensor_free(vt);
        em_tensor_free(it);
        return st;
    }
    if (values) *values = vt;
    if (indices) *indices = it;
    return EM_OK;
}

/* Shared argument checks; a 0-d tensor is one row of one element (axis 0 or -1, like torch). */
static em_status check_args(const char *op, const em_tensor *x, int axis, em_tensor **values, em_tensor **indices,
                            int64_t *size) {
    if (!x) return em__error(EM_ERR_INVALID_ARG, "%s: NULL tensor", op);
    if (!values && !indices) return em__error(EM_ERR_INVALID_ARG, "%s: neither values nor indices requested", op);
    int a;
    EM_TRY(em__axis(op, axis, x->ndim ? x->ndim : 1, &a));
    *size = x->ndim ? x->shape[a] : 1;
    return EM_OK;
}

/* sort_impl, then (values requiring grad) the values recorded as x
 * gathered at the indices, which the gradient scatters back through. */
static em_status sort_rec(const char *op, const char *node, const em_tensor *x, int axis, bool desc, int64_t k,
                          em_tensor **values, em_tensor **indices) {
    if (!values || !em__ag_want1(x) || !em_dtype_is_float(x->dtype))
        return sort_impl(op, x, axis, desc, k, values, indices);
    em_tensor *v = NULL, *i = NULL;
    EM_TRY(sort_impl(op, x, axis, desc, k, &v, &i));
    em_status st = em__ag_take(node, x, axis, i, &v);
    if (st || !indices) em_tensor_free(i);
    if (st) return st;
    *values = v;
    if (indices) *indices = i;
    return EM_OK;
}

em_status em_sort(const em_tensor *x, int axis, bool descending, em_tensor **values, em_tensor **indices) {
    int64_t n = 0;
    EM_TRY(check_args("sort", x, axis, values, indices, &n));
    return sort_rec("sort", "SortBackward0", x, axis, descending, n, values, indices);
}

em_status em_topk(const em_tensor *x, int64_t k, int axis, bool largest, em_tensor **values, em_tensor **indices) {
    int64_t n = 0;
    EM_TRY(check_args("topk", x, axis, values, indices, &n));
    if (k < 0 || k > n) {
        char b[EM_DESC_LEN];
        return em__error(EM_ERR_INDEX, "topk: k = %lld is out of range [0, %lld] for axis %d of %s", (long long)k,
                         (long long)n, axis, em__desc(x, b));
    }
    return sort_rec("topk", "TopkBackward0", x, axis, largest, k, values, indices);
}

/* Binary search of each value in a contiguous copy of sorted, in the
 * promoted dtype. */
em_status em_searchsorted(const em_tensor *sorted, const em_tensor *values, bool right, em_tensor **out) {
    if (!sorted || !values || !out) return em__error(EM_ERR_INVALID_ARG, "searchsorted: NULL argument");
    char b[EM_DESC_LEN];
    if (sorted->ndim != 1)
        return em__error(EM_ERR_SHAPE, "searchsorted: x1 must be 1-D, got %s", em__desc(sorted, b));
    em_dtype dt = em_promote_types(sorted->dtype, values->dtype);
    em_tensor *s = NULL, *v = NULL, *o = NULL;
    em_status st = em_tensor_cast(sorted, dt, &s);
    if (!st) st = em_tensor_cast(values, dt, &v);
    if (!st) st = em__new(EM_I64, values->ndim, values->shape, &o);
    if (st) goto done;
    int64_t n = sorted->shape[0], m = em__numel(values->ndim, values->shape), *r = (int64_t *)em__ptr(o);
    EM_DISPATCH_ALL(dt, T, {
        const T *a = (const T *)em__ptr(s), *q = (const T *)em__ptr(v);
        for (int64_t k = 0; k < m; k++) {
            int64_t lo = 0, hi = n;
            while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;
                if (right ? !LESS(q[k], a[mid]) : LESS(a[mid], q[k])) lo = mid + 1;
                else hi = mid;
            }
            r[k] = lo;
        }
    })
    *out = o;
    o = NULL;
done:
    em_tensor_free(s);
    em_tensor_free(v);
    em_tensor_free(o);
    return st;
}
