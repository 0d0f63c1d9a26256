/* Index ops: gather, index_select, scatter, index_put, masked_select,
 * masked_fill, nonzero, one_hot.  Every index tensor is first turned into a
 * contiguous int64 copy with negatives wrapped and each entry checked
 * (load_index), so the kernels never see a bad index and an error names the
 * first bad value with its position.  The kernels then run on em__iter with
 * the index as one more operand. */
#include "../internal.h"
#include "../autograd/ag.h"

/* Contiguous int64 copy of an integer index with negatives wrapped (if
 * `wrap`) and every entry checked against [0, size); size INT64_MAX means
 * "only non-negative". */
static em_status load_index(const char *op, const em_tensor *idx, int axis, int64_t size, bool wrap,
                            em_tensor **out) {
    char b[EM_DESC_LEN];
    if (idx->dtype == EM_BOOL)
        return em__error(EM_ERR_DTYPE, "%s: bool index %s is not accepted; convert a mask with em_nonzero", op,
                         em__desc(idx, b));
    if (!em_dtype_is_int(idx->dtype))
        return em__error(EM_ERR_DTYPE, "%s: index must be an integer tensor, got %s", op, em__desc(idx, b));
    em_tensor *t;
    EM_TRY(em_tensor_cast(idx, EM_I64, &t));
    int64_t *v = (int64_t *)em__ptr(t), n = em__numel(t->ndim, t->shape);
    for (int64_t k = 0; k < n; k++) {
        int64_t i = wrap && v[k] < 0 ? v[k] + size : v[k];
        if (i >= 0 && i < size) {
            v[k] = i;
            continue;
        }
        int64_t pos[EM_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++) pos[d] = k / t->strides[d] % t->shape[d];
        em_status st = size == INT64_MAX
                           ? em__error(EM_ERR_INDEX, "%s: index %lld at position %s is negative", op,
                                       (long long)v[k], em__shape_str(t->ndim, pos, b))
                           : em__error(EM_ERR_INDEX, "%s: index %lld at position %s is out of range for axis %d "
                                       "of size %lld", op, (long long)v[k], em__shape_str(t->ndim, pos, b), axis,
                                       (long long)size);
        em_tensor_free(t);
        return st;
    }
    *out = t;
    return EM_OK;
}

/* Checks that t (named `what`) broadcasts to shape without changing it. */
static em_status check_bcast(const char *op, const char *what, const em_tensor *t, int nd, const int64_t *shape) {
    bool ok = t->ndim <= nd;
    for (int d = 0; ok && d < t->ndim; d++) {
        int64_t s = t->shape[d], want = shape[nd - t->ndim + d];
        ok = s == want || s == 1;
    }
    if (ok) return EM_OK;
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    return em__error(EM_ERR_SHAPE, "%s: %s of shape %s cannot be broadcast to %s", op, what, em__desc(t, b1),
                     em__shape_str(nd, shape, b2));
}

/* Runs a statement with ES bound to the element size as a constant, so the
 * memcpy calls in it compile to single moves. */
#define BY_SIZE(es, STMT)                  \
    switch (es) {                          \
    case 1: { enum { ES = 1 }; STMT; } break; \
    case 4: { enum { ES = 4 }; STMT; } break; \
    default: { enum { ES = 8 }; STMT; } break; \
    }

/* ---- take / put through an int64 index operand ------------------------- */

typedef struct {
    size_t es;
    em_dtype dt;
    int64_t mul;    /* bytes per index unit on the indexed operand */
    bool put, add;
} take_ctx;

/* p[0]: the directly addressed operand; p[1]: base of the indexed one, whose
 * element is p[1] + k * mul for the int64 k at p[2].  take: p0 = that
 * element; put: element = p0, or += p0 with `add` (wrapping for integers,
 * logical or for bool).  Iterations run in C order, so repeated indices
 * resolve deterministically (last write wins, adds in order). */
static void take_put_loop(int64_t n, char **p, const int64_t *s, void *vctx) {
    const take_ctx *c = vctx;
    const char *ix = p[2];
#define AT(i) (p[1] + (i) * s[1] + *(const int64_t *)(ix + (i) * s[2]) * c->mul)
#define ACC(T, EXPR)                                        \
    for (int64_t i = 0; i < n; i++) {                       \
        T *d = (T *)AT(i), u = *d, v = *(const T *)(p[0] + i * s[0]); \
        *d = EXPR;                                          \
    }                                                       \
    break;
    if (c->add) {
        switch (c->dt) {
        case EM_BOOL: ACC(bool, u || v)
        case EM_U8: ACC(uint8_t, (uint8_t)(u + v))
        case EM_I8: ACC(int8_t, (int8_t)(u + v))
        case EM_I32: ACC(int32_t, (int32_t)((uint32_t)u + (uint32_t)v))
        case EM_I64: ACC(int64_t, (int64_t)((uint64_t)u + (uint64_t)v))
        case EM_F32: ACC(float, u + v)
        case EM_F64: ACC(double, u + v)
        default: break;
        }
    } else if (c->put) {
        BY_SIZE(c->es, for (int64_t i = 0; i < n; i++) memcpy(AT(i), p[0] + i * s[0], ES))
    } else {
        BY_SIZE(c->es, for (int64_t i = 0; i < n; i++) memcpy(p[0] + i * s[0], AT(i), ES))
    }
#undef ACC
#undef AT
}

/* Iterates (direct, indexed, index) over shape with take_put_loop. */
static em_status take_put(const em_tensor *direct, const em_tensor *indexed, const em_tensor *index, int nd,
                          const int64_t *shape, int64_t mul, bool put, bool add) {
    em__iter it;
    const em_tensor *ops[3] = {direct, indexed, index};
    EM_TRY(em__iter_init(&it, 3, ops, nd, shape));
    take_ctx c = {em__dsize(direct->dtype), direct->dtype, mul, put, add};
    em__iter_run(&it, take_put_loop, &c);
    return EM_OK;
}

/* A view of t with size 1 on `axis` (other geometry unchanged): the indexed
 * operand, which the index then addresses along that axis. */
static em_status squash_axis(const em_tensor *t, int nd, const int64_t *shape, int axis, em_tensor **out) {
    int64_t sh[EM_MAX_DIMS];
    memcpy(sh, shape, (size_t)nd * sizeof *sh);
    sh[axis] = 1;
    return em__view(t, t->dtype, nd, sh, t->strides, t->offset, out);
}

/* out = x[..., nidx, ...] along axis a, nidx a checked int64 index of x's
 * ndim broadcasting against x on the other axes (take_along_axis). */
static em_status gather_checked(const char *op, const em_tensor *x, int a, const em_tensor *nidx, em_tensor **out) {
    int nd = x->ndim;
    int64_t shape[EM_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        int64_t xd = x->shape[d], id = nidx->shape[d];
        if (d != a && xd != id && xd != 1 && id != 1) {
            char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
            return em__error(EM_ERR_SHAPE, "%s: index of shape %s does not broadcast with x %s on axis %d", op,
                             em__shape_str(nd, nidx->shape, b1), em__desc(x, b2), d);
        }
        shape[d] = d == a || xd == 1 ? id : xd;
    }
    em_tensor *t, *xv;
    EM_TRY(em__check_shape(op, nd, shape));
    EM_TRY(em__new(x->dtype, nd, shape, &t));
    em_status st = squash_axis(x, nd, x->shape, a, &xv);
    if (!st) {
        st = take_put(t, xv, nidx, nd, shape, x->strides[a] * (int64_t)em__dsize(x->dtype), false, false);
        em_tensor_free(xv);
    }
    if (st) {
        em_tensor_free(t);
        return st;
    }
    *out = t;
    return EM_OK;
}

static em_status gather_raw(const em_tensor *x, int axis, const em_tensor *index, em_tensor **out) {
    if (!x || !index || !out) return em__error(EM_ERR_INVALID_ARG, "gather: NULL argument");
    int a;
    EM_TRY(em__axis("gather", axis, x->ndim, &a));
    if (index->ndim != x->ndim) {
        char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
        return em__error(EM_ERR_SHAPE, "gather: index %s must have the same number of dimensions as x %s",
                         em__desc(index, b1), em__desc(x, b2));
    }
    em_tensor *ni;
    EM_TRY(load_index("gather", index, axis, x->shape[a], true, &ni));
    em_status st = gather_checked("gather", x, a, ni, out);
    em_tensor_free(ni);
    return st;
}

static em_status index_select_raw(const em_tensor *x, int axis, const em_tensor *index, em_tensor **out) {
    if (!x || !index || !out) return em__error(EM_ERR_INVALID_ARG, "index_select: NULL argument");
    int a;
    EM_TRY(em__axis("index_select", axis, x->ndim, &a));
    if (index->ndim != 1) {
        char b[EM_DESC_LEN];
        return em__error(EM_ERR_SHAPE, "index_select: index must be 1-D, got %s", em__desc(index, b));
    }
    em_tensor *ni, *v;
    EM_TRY(load_index("index_select", index, axis, x->shape[a], true, &ni));
    /* the index laid along axis a, size 1 elsewhere, gathers whole slices */
    int64_t sh[EM_MAX_DIMS], st[EM_MAX_DIMS] = {0};
    for (int d = 0; d < x->ndim; d++) sh[d] = d == a ? ni->shape[0] : 1;
    st[a] = 1;
    em_status s = em__view(ni, EM_I64, x->ndim, sh, st, 0, &v);
    if (!s) {
        s = gather_checked("index_select", x, a, v, out);
        em_tensor_free(v);
    }
    em_tensor_free(ni);
    return s;
}

static em_status scatter_raw(const em_tensor *x, int axis, const em_tensor *index, const em_tensor *src,
                     em_scatter_reduce reduce, em_tensor **out) {
    if (!x || !index || !src || !out) return em__error(EM_ERR_INVALID_ARG, "scatter: NULL argument");
    if ((unsigned)reduce > EM_SCATTER_ADD)
        return em__error(EM_ERR_INVALID_ARG, "scatter: unknown reduction %d", (int)reduce);
    int a, nd = x->ndim;
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN], b3[EM_DESC_LEN];
    EM_TRY(em__axis("scatter", axis, nd, &a));
    bool ok = index->ndim == nd && src->ndim == nd;
    for (int d = 0; ok && d < nd; d++)
        ok = index->shape[d] <= src->shape[d] && (d == a || index->shape[d] <= x->shape[d]);
    if (!ok)
        return em__error(EM_ERR_SHAPE, "scatter: index %s must have x's ndim and sizes <= src %s and <= x %s "
                         "(except on axis %d)", em__desc(index, b1), em__desc(src, b2), em__desc(x, b3), axis);
    if (src->dtype != x->dtype)
        return em__error(EM_ERR_DTYPE, "scatter: src %s must have x's dtype (%s)", em__desc(src, b1),
                         em_dtype_name(x->dtype));
    em_tensor *ni, *t = NULL, *sv = NULL, *tv = NULL;
    EM_TRY(load_index("scatter", index, axis, x->shape[a], true, &ni));
    em_status st = em_tensor_clone(x, &t);
    if (!st) st = em__view(src, src->dtype, nd, index->shape, src->strides, src->offset, &sv);
    if (!st) st = squash_axis(t, nd, index->shape, a, &tv);
    if (!st)
        st = take_put(sv, tv, ni, nd, index->shape, t->strides[a] * (int64_t)em__dsize(t->dtype), true,
                      reduce == EM_SCATTER_ADD);
    em_tensor_free(ni);
    em_tensor_free(sv);
    em_tensor_free(tv);
    if (st) {
        em_tensor_free(t);
        return st;
    }
    *out = t;
    return EM_OK;
}

typedef struct {
    int64_t mul;
} offset_ctx;

/* p[0] (int64 byte offsets) += p[1] (int64 index) * mul. */
static void offset_loop(int64_t n, char **p, const int64_t *s, void *vctx) {
    int64_t mul = ((const offset_ctx *)vctx)->mul;
    for (int64_t i = 0; i < n; i++) *(int64_t *)(p[0] + i * s[0]) += *(const int64_t *)(p[1] + i * s[1]) * mul;
}

em_status em_index_put(em_tensor *x, const em_tensor *const *indices, int n, const em_tensor *values,
                       bool accumulate) {
    static const char op[] = "index_put";
    if (!x || !values || (n > 0 && !indices)) return em__error(EM_ERR_INVALID_ARG, "index_put: NULL argument");
    EM_TRY(em__ag_check_inplace(op, x, values, NULL));
    char b[EM_DESC_LEN];
    if (n < 0 || n > x->ndim)
        return em__error(EM_ERR_INDEX, "index_put: %d index tensors for x %s", n, em__desc(x, b));
    for (int k = 0; k < n; k++)
        if (!indices[k]) return em__error(EM_ERR_INVALID_ARG, "index_put: index tensor %d is NULL", k);
    em_tensor *ni[EM_MAX_DIMS] = {0}, *vv = NULL, *off = NULL, *xv = NULL, *ov = NULL;
    em_status st = EM_OK;
    /* B: the broadcast index shape; the indexed shape is B + x.shape[n:] */
    int bnd = 0, tnd;
    int64_t bsh[EM_MAX_DIMS] = {0}, sh[EM_MAX_DIMS], xst[EM_MAX_DIMS] = {0}, ost[EM_MAX_DIMS] = {0};
    for (int k = 0; k < n && !st; k++) {
        int64_t prev[EM_MAX_DIMS];
        memcpy(prev, bsh, sizeof prev);
        st = load_index(op, indices[k], k, x->shape[k], true, &ni[k]);
        if (!st) st = em_broadcast_shapes(bnd, prev, ni[k]->ndim, ni[k]->shape, &bnd, bsh);
    }
    if (st) goto done;
    tnd = bnd + x->ndim - n;
    if (tnd > EM_MAX_DIMS) {
        st = em__error(EM_ERR_SHAPE, "index_put: indexed shape would have %d dimensions; ember supports %d", tnd,
                       EM_MAX_DIMS);
        goto done;
    }
    memcpy(sh, bsh, (size_t)bnd * sizeof *sh);
    memcpy(sh + bnd, x->shape + n, (size_t)(x->ndim - n) * sizeof *sh);
    if ((st = check_bcast(op, "values", values, tnd, sh))) goto done;
    /* NumPy evaluates the right side first: values that alias x are copied */
    if (values->dtype != x->dtype || em_tensor_shares_storage(values, x))
        st = em_tensor_cast(values, x->dtype, &vv);
    else
        vv = em_tensor_retain((em_tensor *)values);
    if (!st) st = em_tensor_zeros(EM_I64, bnd, bsh, &off);
    /* byte offset of x[idx0[b], ..., idx_{n-1}[b]] for every b in B */
    for (int k = 0; k < n && !st; k++) {
        em__iter it;
        const em_tensor *ops[2] = {off, ni[k]};
        offset_ctx c = {x->strides[k] * (int64_t)em__dsize(x->dtype)};
        if (!(st = em__iter_init(&it, 2, ops, bnd, bsh))) em__iter_run(&it, offset_loop, &c);
    }
    if (st) goto done;
    /* x seen with B as broadcast (stride 0) axes, the offsets with the
     * trailing axes broadcast: put then adds the offset to x's element */
    memcpy(xst + bnd, x->strides + n, (size_t)(x->ndim - n) * sizeof *xst);
    memcpy(ost, off->strides, (size_t)bnd * sizeof *ost);
    int64_t ones[EM_MAX_DIMS], osh[EM_MAX_DIMS];
    for (int d = 0; d < tnd; d++) {
        ones[d] = d < bnd ? 1 : sh[d];
        osh[d] = d < bnd ? bsh[d] : 1;
    }
    if (!(st = em__view(x, x->dtype, tnd, ones, xst, x->offset, &xv)) &&
        !(st = em__view(off, EM_I64, tnd, osh, ost, 0, &ov)))
        st = take_put(vv, xv, ov, tnd, sh, 1, true, accumulate);
done:
    for (int k = 0; k < n; k++) em_tensor_free(ni[k]);
    em_tensor_free(vv);
    em_tensor_free(off);
    em_tensor_free(xv);
    em_tensor_free(ov);
    return st;
}

/* ---- masks -------------------------------------------------------------- */

/* mask as a bool tensor: itself if already bool and not sharing x's storage
 * (an in-place write must not change the mask it reads), else a bool copy
 * (truth = != 0, NaN true). */
static em_status as_bool(const em_tensor *mask, const em_tensor *x, em_tensor **out) {
    if (mask->dtype == EM_BOOL && !em_tensor_shares_storage(mask, x)) {
        *out = em_tensor_retain((em_tensor *)mask);
        return EM_OK;
    }
    return em_tensor_cast(mask, EM_BOOL, out);
}

typedef struct {
    size_t es;
    char *cursor;    /* masked_select: next output element */
    const char *val; /* masked_fill: the value's bytes */
    int64_t count;   /* count_loop */
} mask_ctx;

static void count_loop(int64_t n, char **p, const int64_t *s, void *vctx) {
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) c += *(const bool *)(p[0] + i * s[0]);
    ((mask_ctx *)vctx)->count += c;
}

/* p[0]: x, p[1]: bool mask; appends selected elements at the cursor. */
static void select_loop(int64_t n, char **p, const int64_t *s, void *vctx) {
    mask_ctx *c = vctx;
    char *o = c->cursor;
    BY_SIZE(c->es, for (int64_t i = 0; i < n; i++) if (*(const bool *)(p[1] + i * s[1])) {
        memcpy(o, p[0] + i * s[0], ES);
        o += ES;
    })
    c->cursor = o;
}

static void fill_loop(int64_t n, char **p, const int64_t *s, void *vctx) {
    const mask_ctx *c = vctx;
    BY_SIZE(c->es, for (int64_t i = 0; i < n; i++) if (*(const bool *)(p[1] + i * s[1]))
                       memcpy(p[0] + i * s[0], c->val, ES))
}

/* Runs loop over (x, bool mask broadcast to x). */
static em_status run_mask(const em_tensor *x, const em_tensor *m, em__loop_fn loop, mask_ctx *c) {
    em__iter it;
    const em_tensor *ops[2] = {x, m};
    EM_TRY(em__iter_init(&it, 2, ops, x->ndim, x->shape));
    em__iter_run(&it, loop, c);
    return EM_OK;
}

/* Recorded as a gather of the flattened x at the selected C-order positions
 * (masked_select of an arange), so the gradient is index_select's
 * scatter-add and differentiable again. */
static em_status masked_select_recorded(const em_tensor *x, const em_tensor *mask, em_tensor **out) {
    int64_t n = em__numel(x->ndim, x->shape);
    em_tensor *ar = NULL, *pos = NULL, *idx = NULL, *flat = NULL;
    em_status st = em_tensor_arange(0, (double)n, 1, EM_I64, &ar);
    if (!st) st = em_tensor_reshape(ar, x->ndim, x->shape, &pos);
    if (!st) st = em_masked_select(pos, mask, &idx); /* pos needs no grad: the plain path */
    if (!st) st = em_tensor_reshape(x, 1, &n, &flat);
    if (!st) st = em_index_select(flat, 0, idx, out);
    em_tensor_free(ar);
    em_tensor_free(pos);
    em_tensor_free(idx);
    em_tensor_free(flat);
    return st;
}

em_status em_masked_select(const em_tensor *x, const em_tensor *mask, em_tensor **out) {
    if (!x || !mask || !out) return em__error(EM_ERR_INVALID_ARG, "masked_select: NULL argument");
    EM_TRY(check_bcast("masked_select", "mask", mask, x->ndim, x->shape));
    if (em__ag_want1(x)) return masked_select_recorded(x, mask, out);
    em_tensor *m, *t = NULL;
    EM_TRY(as_bool(mask, NULL, &m));
    em__iter it;
    mask_ctx c = {em__dsize(x->dtype), NULL, NULL, 0};
    em_status st = em__iter_init(&it, 1, (const em_tensor *const[]){m}, x->ndim, x->shape);
    if (!st) {
        em__iter_run(&it, count_loop, &c);
        st = em__new(x->dtype, 1, &c.count, &t);
    }
    if (!st) {
        c.cursor = em__ptr(t);
        st = run_mask(x, m, select_loop, &c);
    }
    em_tensor_free(m);
    if (st) {
        em_tensor_free(t);
        return st;
    }
    *out = t;
    return EM_OK;
}

em_status em_masked_fill(em_tensor *x, const em_tensor *mask, double value) {
    if (!x || !mask) return em__error(EM_ERR_INVALID_ARG, "masked_fill: NULL argument");
    EM_TRY(em__ag_check_inplace("masked_fill", x, NULL, NULL));
    EM_TRY(check_bcast("masked_fill", "mask", mask, x->ndim, x->shape));
    em_tensor *m;
    EM_TRY(as_bool(mask, x, &m));
    char v[8];
    em__store(x->dtype, v, value);
    mask_ctx c = {em__dsize(x->dtype), NULL, v, 0};
    em_status st = run_mask(x, m, fill_loop, &c);
    em_tensor_free(m);
    return st;
}

em_status em_nonzero(const em_tensor *x, em_tensor **out) {
    if (!x || !out) return em__error(EM_ERR_INVALID_ARG, "nonzero: NULL argument");
    em_tensor *b, *t;
    EM_TRY(em_tensor_cast(x, EM_BOOL, &b));
    const bool *v = (const bool *)em__ptr(b);
    int nd = x->ndim;
    int64_t n = em__numel(nd, x->shape), nnz = 0;
    for (int64_t k = 0; k < n; k++) nnz += v[k];
    em_status st = em__new(EM_I64, 2, (const int64_t[2]){nnz, nd}, &t);
    if (st) {
        em_tensor_free(b);
        return st;
    }
    int64_t *o = (int64_t *)em__ptr(t), idx[EM_MAX_DIMS] = {0};
    for (int64_t k = 0; k < n; k++) {
        if (v[k]) {
            memcpy(o, idx, (size_t)nd * sizeof *o);
            o += nd;
        }
        for (int d = nd - 1; d >= 0 && ++idx[d] == x->shape[d]; d--) idx[d] = 0;
    }
    em_tensor_free(b);
    *out = t;
    return EM_OK;
}

em_status em_one_hot(const em_tensor *index, int64_t num_classes, em_tensor **out) {
    if (!index || !out) return em__error(EM_ERR_INVALID_ARG, "one_hot: NULL argument");
    int nd = index->ndim;
    char b[EM_DESC_LEN];
    if (nd + 1 > EM_MAX_DIMS)
        return em__error(EM_ERR_SHAPE, "one_hot: index %s would give %d dimensions; ember supports %d",
                         em__desc(index, b), nd + 1, EM_MAX_DIMS);
    em_tensor *ni, *t = NULL;
    EM_TRY(load_index("one_hot", index, -1, num_classes < 0 ? INT64_MAX : num_classes, false, &ni));
    const int64_t *v = (const int64_t *)em__ptr(ni);
    int64_t n = em__numel(nd, index->shape), shape[EM_MAX_DIMS];
    em_status st = EM_OK;
    if (num_classes < 0) {
        if (n == 0)
            st = em__error(EM_ERR_INVALID_ARG, "one_hot: cannot infer the number of classes from an empty index");
        num_classes = 0;
        for (int64_t k = 0; k < n; k++) num_classes = v[k] >= num_classes ? v[k] + 1 : num_classes;
    }
    memcpy(shape, index->shape, (size_t)nd * sizeof *shape);
    shape[nd] = num_classes;
    if (!st) st = em__check_shape("one_hot", nd + 1, shape);
    if (!st) st = em_tensor_zeros(EM_I64, nd + 1, shape, &t);
    if (!st) {
        int64_t *o = (int64_t *)em__ptr(t);
        for (int64_t k = 0; k < n; k++) o[k * num_classes + v[k]] = 1;
        *out = t;
    }
    em_tensor_free(ni);
    return st;
}

/* ---- public entry points of gather/index_select/scatter with their autograd records */
em_status em_gather(const em_tensor *x, int axis, const em_tensor *index, em_tensor **out) {
    EM_TRY(gather_raw(x, axis, index, out));
    return em__ag_want1(x) ? em__ag_gather(x, axis, index, out) : EM_OK;
}

em_status em_index_select(const em_tensor *x, int axis, const em_tensor *index, em_tensor **out) {
    EM_TRY(index_select_raw(x, axis, index, out));
    return em__ag_want1(x) ? em__ag_index_select(x, axis, index, out) : EM_OK;
}

em_status em_scatter(const em_tensor *x, int axis, const em_tensor *index, const em_tensor *src,
                     em_scatter_reduce reduce, em_tensor **out) {
    if (!em__ag_want2(x, src)) return scatter_raw(x, axis, index, src, reduce, out);
    em_status st;
    EM__AG_NOREC(st, scatter_raw(x, axis, index, src, reduce, out));
    return st ? st : em__ag_scatter(x, axis, index, src, (int)reduce, out);
}
