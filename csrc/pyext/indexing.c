/* Tensor __getitem__ / __setitem__ with NumPy's indexing rules.
 *
 * Basic indices (int, slice, None, Ellipsis) give views.  Advanced indices
 * (integer tensors, NumPy arrays or nested lists; boolean masks; the scalars
 * True/False) give copies in getitem and write through in setitem:
 *  - the integer arrays broadcast together to one shape B; a k-dim mask
 *    stands for the k integer arrays of its nonzero positions (em_nonzero);
 *    True/False add an axis of size 1 indexed by [0] or []; when any advanced
 *    index is present a plain int counts as a 0-d integer array (NumPy's
 *    rule: x[0, :, [0, 1]] has shape (2, n));
 *  - B replaces the indexed axes in place when they are adjacent, else B
 *    goes first.
 * Method: the basic indices are applied first, giving a view V that keeps
 * the advanced axes.  One C loop over B computes the element offsets
 * L = sum_k idx_k * stride_k of the m advanced axes (negatives wrapped, each
 * index checked, NumPy's message).  V is then seen with those m axes replaced
 * by one stride-1 "span" axis covering [min L, max L] (every element of this
 * view lies within V's extent, hence inside the storage), and one
 * em_index_select (get) or em_index_put (set) with L - min L does the work:
 * V is never copied, whatever its layout.
 * Setting through repeated indices: the last write in C order of B wins
 * (em_index_put's rule; NumPy behaves the same, without promising it).
 * Values are cast to the tensor's dtype as NumPy casts them (x[i] = 1.7 on
 * an integer tensor stores 1; an out-of-range Python int raises
 * OverflowError). */
#include "pyember.h"
#include "autograd/ag.h"

/* ints, slices and arrays index at most EM_MAX_DIMS axes, None/True/False
 * add at most EM_MAX_DIMS, plus one '...' */
#define MAX_ITEMS (2 * EM_MAX_DIMS + 1)

enum { K_INT, K_SLICE, K_NONE, K_ELLIPSIS, K_ARRAY, K_MASK, K_BOOL };

/* A key split into classified items; array-likes converted to tensors. */
typedef struct {
    int n, consumed;     /* items; axes of the base they index */
    int nnew, nint;      /* axes added (None, True/False); plain ints */
    int nadv, nmask;     /* integer arrays and True/False; masks of >= 1 dim */
    bool ellipsis;
    PyObject *const *items;
    signed char kind[MAX_ITEMS];
    Py_ssize_t ival[MAX_ITEMS]; /* K_INT: the int; K_BOOL: its truth */
    em_tensor *arr[MAX_ITEMS];  /* K_ARRAY, K_MASK: owned */
} parsed_key;

/* Geometry of a view being built (strides and offset in elements).  It
 * may briefly hold more than EM_MAX_DIMS axes (x[None, 0] on 8 dims). */
typedef struct {
    int nd;
    int64_t shape[2 * EM_MAX_DIMS], strides[2 * EM_MAX_DIMS], offset;
} geom;

/* The basic part of a key applied, and its advanced axes. */
typedef struct {
    em_tensor *base;              /* the indexed tensor (borrowed) */
    geom v;                       /* the view of it that the basic indices give; advanced axes kept */
    int m;                        /* advanced axes of v */
    int vaxis[EM_MAX_DIMS];       /* their axes in v (increasing) */
    int orig[EM_MAX_DIMS];        /* their axes in the base (-1: added by True/False) */
    em_tensor *idx[EM_MAX_DIMS];  /* integer index of each (owned) */
    em_tensor *mask;              /* keep_mask mode: the mask (borrowed) ... */
    int mask_axis;                /* ... and its first axis in v */
} plan;

static void key_clear(parsed_key *k) {
    for (int i = 0; i < k->n; i++) em_tensor_free(k->arr[i]);
}

static void plan_clear(plan *p) {
    for (int i = 0; i < p->m; i++) em_tensor_free(p->idx[i]);
}

static int invalid_index(PyObject *o) {
    PyErr_Format(PyExc_IndexError,
                 "only integers, slices (`:`), ellipsis (`...`), None and integer or boolean arrays are valid "
                 "indices, not %.50s",
                 Py_TYPE(o)->tp_name);
    return -1;
}

static int too_many(const em_tensor *t, int n) {
    char b[EM_DESC_LEN];
    PyErr_Format(PyExc_IndexError, "too many indices for tensor of shape %s: it is %d-dimensional, but %d were indexed",
                 em__shape_str(t->ndim, t->shape, b), t->ndim, n);
    return -1;
}

/* ---- basic indices -------------------------------------------------------- */

/* Each index edits the geometry; one em__view is made at the end, so
 * x[i, j, ::2] allocates one tensor handle, not three. */
static void geom_init(geom *g, const em_tensor *t) {
    g->nd = t->ndim;
    g->offset = t->offset;
    memcpy(g->shape, t->shape, (size_t)t->ndim * sizeof *g->shape);
    memcpy(g->strides, t->strides, (size_t)t->ndim * sizeof *g->strides);
}

static em_tensor *geom_view(const geom *g, const em_tensor *t) {
    em_tensor *out;
    em_status st = em__view(t, t->dtype, g->nd, g->shape, g->strides, g->offset, &out);
    if (!st) st = em__ag_view_of(t, &out); /* autograd: a recorded view */
    return st ? (empy_raise(st), NULL) : out;
}

/* Drops axis after moving to index v (axis `orig` of the base, for the message). */
static int geom_select(geom *g, int axis, int orig, Py_ssize_t v) {
    int64_t n = g->shape[axis];
    if (v < -n || v >= n) {
        PyErr_Format(PyExc_IndexError, "index %zd is out of bounds for axis %d with size %lld", v, orig, (long long)n);
        return -1;
    }
    g->offset += (v < 0 ? v + n : v) * g->strides[axis];
    g->nd--;
    memmove(g->shape + axis, g->shape + axis + 1, (size_t)(g->nd - axis) * sizeof *g->shape);
    memmove(g->strides + axis, g->strides + axis + 1, (size_t)(g->nd - axis) * sizeof *g->strides);
    return 0;
}

static int geom_slice(geom *g, int axis, PyObject *s) {
    Py_ssize_t start, stop, step;
    if (PySlice_Unpack(s, &start, &stop, &step) < 0) return -1;
    Py_ssize_t len = PySlice_AdjustIndices((Py_ssize_t)g->shape[axis], &start, &stop, step);
    if (len) g->offset += start * g->strides[axis];
    g->shape[axis] = len;
    if (len > 1) g->strides[axis] *= step; /* then |step| < size: no overflow */
    return 0;
}

/* Inserts an axis of size 1 (None, True, False). */
static void geom_insert(geom *g, int axis) {
    memmove(g->shape + axis + 1, g->shape + axis, (size_t)(g->nd - axis) * sizeof *g->shape);
    memmove(g->strides + axis + 1, g->strides + axis, (size_t)(g->nd - axis) * sizeof *g->strides);
    g->shape[axis] = 1;
    g->strides[axis] = 0;
    g->nd++;
}

/* ---- parsing ---------------------------------------------------------------- */

/* Classifies item i (o) of the key; array-likes become tensors in k->arr[i]. */
static int parse_item(parsed_key *k, int i, PyObject *o) {
    k->arr[i] = NULL;
    if (o == Py_None) {
        k->kind[i] = K_NONE;
        k->nnew++;
        return 0;
    }
    if (o == Py_Ellipsis) {
        if (k->ellipsis) {
            PyErr_SetString(PyExc_IndexError, "an index can only have a single ellipsis ('...')");
            return -1;
        }
        k->ellipsis = true;
        k->kind[i] = K_ELLIPSIS;
        return 0;
    }
    if (PySlice_Check(o)) {
        k->kind[i] = K_SLICE;
        k->consumed++;
        return 0;
    }
    if (PyBool_Check(o)) {
        k->kind[i] = K_BOOL;
        k->ival[i] = o == Py_True;
        k->nnew++;
        k->nadv++;
        return 0;
    }
    if (PyFloat_Check(o)) return invalid_index(o);
    if (PyLong_Check(o) || (PyIndex_Check(o) && !EmTensor_Check(o) && !PySequence_Check(o))) {
        Py_ssize_t v = PyNumber_AsSsize_t(o, PyExc_IndexError);
        if (v == -1 && PyErr_Occurred()) return -1;
        k->kind[i] = K_INT;
        k->ival[i] = v;
        k->consumed++;
        k->nint++;
        return 0;
    }
    em_tensor *t = empy_as_tensor(o, -1, "index");
    if (!t) {
        if (!PyErr_ExceptionMatches(PyExc_TypeError)) return -1;
        PyErr_Clear();
        return invalid_index(o);
    }
    bool from_list = PyList_Check(o) || PyTuple_Check(o);
    if (t->dtype == EM_BOOL && t->ndim == 0) {
        k->kind[i] = K_BOOL;
        k->ival[i] = *(const bool *)em__ptr(t);
        k->nnew++;
        k->nadv++;
        em_tensor_free(t);
        return 0;
    }
    if (t->dtype == EM_BOOL) {
        k->kind[i] = K_MASK;
        k->consumed += t->ndim;
        k->nmask++;
    } else if (em_dtype_is_int(t->dtype) || (from_list && em_tensor_numel(t) == 0)) { /* [] is an int index */
        k->kind[i] = K_ARRAY;
        k->consumed++;
        k->nadv++;
    } else {
        em_dtype dt = t->dtype;
        int nd = t->ndim;
        em_tensor_free(t);
        if (nd == 0 && !EmTensor_Check(o)) return invalid_index(o); /* a NumPy float scalar */
        PyErr_Format(PyExc_IndexError, "arrays used as indices must be of integer (or boolean) type, not %s",
                     em_dtype_name(dt));
        return -1;
    }
    k->arr[i] = t;
    return 0;
}

static int parse_key(const em_tensor *t, PyObject *key, parsed_key *k) {
    PyObject *const *items = &key;
    Py_ssize_t n = 1;
    if (PyTuple_Check(key)) {
        items = &PyTuple_GET_ITEM(key, 0);
        n = PyTuple_GET_SIZE(key);
    }
    memset(k, 0, offsetof(parsed_key, items));
    k->items = items;
    if (n > MAX_ITEMS) return too_many(t, (int)n);
    for (int i = 0; i < n; i++) {
        k->n = i + 1;
        if (parse_item(k, i, items[i]) < 0) goto fail;
    }
    if (k->consumed > t->ndim) {
        too_many(t, k->consumed);
        goto fail;
    }
    int vnd = t->ndim + k->nnew - (k->nadv + k->nmask ? 0 : k->nint);
    if (vnd > EM_MAX_DIMS) {
        PyErr_Format(PyExc_IndexError, "index adds axes beyond the %d dimensions ember supports", EM_MAX_DIMS);
        goto fail;
    }
    return 0;
fail:
    key_clear(k);
    return -1;
}

/* ---- applying a key -------------------------------------------------------- */

/* Records advanced axis vaxis (orig in the base) indexed by idx (stolen). */
static void add_index(plan *p, int vaxis, int orig, em_tensor *idx) {
    p->vaxis[p->m] = vaxis;
    p->orig[p->m] = orig;
    p->idx[p->m++] = idx;
}

/* Checks that mask has the shape of v's axes axis.. (no broadcasting). */
static em_status check_mask(const geom *v, int axis, const em_tensor *mask) {
    for (int j = 0; j < mask->ndim; j++)
        if (mask->shape[j] != v->shape[axis + j]) {
            char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
            return em__error(EM_ERR_INDEX,
                             "boolean index of shape %s does not match the indexed shape %s (size %lld vs %lld on "
                             "the mask's axis %d)",
                             em__shape_str(mask->ndim, mask->shape, b1),
                             em__shape_str(mask->ndim, v->shape + axis, b2), (long long)v->shape[axis + j],
                             (long long)mask->shape[j], j);
        }
    return EM_OK;
}

/* Records the k columns of the mask's nonzero positions as the indices of
 * axes axis..axis+k-1. */
static em_status mask_indices(plan *p, const em_tensor *mask, int axis, int orig) {
    em_tensor *nz, *col;
    EM_TRY(em_nonzero(mask, &nz));
    int64_t nnz = nz->shape[0], k = mask->ndim;
    em_status st = EM_OK;
    for (int j = 0; j < k && !st; j++)
        if (!(st = em__view(nz, EM_I64, 1, &nnz, &k, nz->offset + j, &col))) add_index(p, axis + j, orig + j, col);
    em_tensor_free(nz);
    return st;
}

/* Applies the basic part of key k to t into p->v, recording the advanced
 * axes; keep_mask: ints stay basic and the one mask is only recorded (for
 * a masked fill). */
static int build(em_tensor *t, const parsed_key *k, bool keep_mask, plan *p) {
    bool adv = !keep_mask && k->nadv + k->nmask > 0;
    em_tensor *ix;
    geom *g = &p->v;
    int axis = 0, orig = 0;
    em_status st = EM_OK;
    p->base = t;
    p->m = 0;
    geom_init(g, t);
    for (int i = 0; i < k->n && !st; i++) {
        em_tensor *a = k->arr[i];
        switch (k->kind[i]) {
        case K_ELLIPSIS:
            axis += t->ndim - k->consumed;
            orig += t->ndim - k->consumed;
            break;
        case K_NONE: geom_insert(g, axis++); break;
        case K_BOOL:
            geom_insert(g, axis);
            if (!(st = em_tensor_zeros(EM_I64, 1, (int64_t[]){k->ival[i]}, &ix))) add_index(p, axis, -1, ix);
            axis++;
            break;
        case K_SLICE:
            if (geom_slice(g, axis++, k->items[i]) < 0) goto fail;
            orig++;
            break;
        case K_INT:
            if (!adv) {
                if (geom_select(g, axis, orig++, k->ival[i]) < 0) goto fail;
                break;
            }
            if (!(st = em_tensor_empty(EM_I64, 0, NULL, &ix))) {
                *(int64_t *)em__ptr(ix) = k->ival[i];
                add_index(p, axis++, orig++, ix);
            }
            break;
        case K_ARRAY: add_index(p, axis++, orig++, em_tensor_retain(a)); break;
        case K_MASK:
            if ((st = check_mask(g, axis, a))) break;
            if (keep_mask) {
                p->mask = a;
                p->mask_axis = axis;
            } else {
                st = mask_indices(p, a, axis, orig);
            }
            axis += a->ndim;
            orig += a->ndim;
            break;
        }
    }
    if (st) {
        empy_raise(st);
        goto fail;
    }
    return 0;
fail:
    plan_clear(p);
    p->m = 0;
    return -1;
}

/* ---- advanced indices ------------------------------------------------------- */

/* Broadcasts the indices of p to B (bnd, bsh) and returns L (shape B,
 * int64): the offset of each indexed element relative to v's first, minus
 * the smallest (*lo); *span = max - min + 1 (0 when B is empty). */
static em_tensor *offsets(plan *p, int *bnd, int64_t *bsh, int64_t *lo, int64_t *span) {
    const geom *v = &p->v;
    int nd = 0;
    for (int k = 0; k < p->m; k++) {
        em_tensor *ix = p->idx[k], *c;
        if (ix->dtype != EM_I64) {
            em_status st = em_tensor_cast(ix, EM_I64, &c);
            if (st) return empy_raise(st), NULL;
            em_tensor_free(ix);
            p->idx[k] = ix = c;
        }
        int64_t prev[EM_MAX_DIMS];
        memcpy(prev, bsh, sizeof prev);
        if (em_broadcast_shapes(nd, prev, ix->ndim, ix->shape, &nd, bsh)) {
            char msg[EM_MAX_DIMS * EM_DESC_LEN] = "", b[EM_DESC_LEN];
            for (int j = 0; j < p->m; j++) {
                strcat(msg, " ");
                strcat(msg, em__shape_str(p->idx[j]->ndim, p->idx[j]->shape, b));
            }
            PyErr_Format(PyExc_IndexError, "shape mismatch: indexing arrays could not be broadcast together with "
                         "shapes%s", msg);
            return NULL;
        }
    }
    em_tensor *L;
    em_status st = em_tensor_empty(EM_I64, nd, bsh, &L);
    if (st) return empy_raise(st), NULL;
    /* odometer over B; each index read through its broadcast strides */
    const int64_t *ptr[EM_MAX_DIMS];
    int64_t bst[EM_MAX_DIMS][EM_MAX_DIMS], pos[EM_MAX_DIMS] = {0}, size[EM_MAX_DIMS], stride[EM_MAX_DIMS];
    for (int k = 0; k < p->m; k++) {
        const em_tensor *ix = p->idx[k];
        int lead = nd - ix->ndim;
        ptr[k] = (const int64_t *)em__ptr(ix);
        for (int d = 0; d < nd; d++) bst[k][d] = d < lead || ix->shape[d - lead] == 1 ? 0 : ix->strides[d - lead];
        size[k] = v->shape[p->vaxis[k]];
        stride[k] = v->strides[p->vaxis[k]];
    }
    int64_t n = em_tensor_numel(L), *out = (int64_t *)em__ptr(L), mn = INT64_MAX, mx = INT64_MIN;
    for (int64_t e = 0; e < n; e++) {
        int64_t off = 0;
        for (int k = 0; k < p->m; k++) {
            int64_t i = *ptr[k], w = i < 0 ? i + size[k] : i;
            if (w < 0 || w >= size[k]) {
                em_tensor_free(L);
                PyErr_Format(PyExc_IndexError, "index %lld is out of bounds for axis %d with size %lld",
                             (long long)i, p->orig[k], (long long)size[k]);
                return NULL;
            }
            off += w * stride[k];
        }
        out[e] = off;
        mn = off < mn ? off : mn;
        mx = off > mx ? off : mx;
        for (int d = nd - 1; d >= 0; d--) {
            for (int k = 0; k < p->m; k++) ptr[k] += bst[k][d];
            if (++pos[d] < bsh[d]) break;
            for (int k = 0; k < p->m; k++) ptr[k] -= bst[k][d] * bsh[d];
            pos[d] = 0;
        }
    }
    for (int64_t e = 0; e < n; e++) out[e] -= mn;
    *bnd = nd;
    *lo = n ? mn : 0;
    *span = n ? mx - mn + 1 : 0;
    return L;
}

/* p->v with its advanced axes replaced by one stride-1 axis of `span`
 * elements starting `lo` elements on, at *at (where B goes in the result).
 * The result shape (v's with B at *at) goes to rnd, rsh. */
static int span_view(const plan *p, int64_t lo, int64_t span, int bnd, const int64_t *bsh, int *at, int *rnd,
                     int64_t *rsh, em_tensor **out) {
    const geom *v = &p->v;
    bool adj = p->vaxis[p->m - 1] - p->vaxis[0] == p->m - 1;
    int64_t sh[EM_MAX_DIMS], st[EM_MAX_DIMS];
    int nd = 0;
    if (!adj) {
        sh[nd] = span;
        st[nd++] = 1;
    }
    for (int d = 0, k = 0; d < v->nd; d++) {
        if (k < p->m && p->vaxis[k] == d) {
            if (adj && k == 0) {
                sh[nd] = span;
                st[nd++] = 1;
            }
            k++;
        } else {
            sh[nd] = v->shape[d];
            st[nd++] = v->strides[d];
        }
    }
    *at = adj ? p->vaxis[0] : 0;
    *rnd = nd - 1 + bnd;
    if (*rnd > EM_MAX_DIMS) {
        PyErr_Format(PyExc_IndexError, "the indexing result would have %d dimensions; ember supports at most %d",
                     *rnd, EM_MAX_DIMS);
        return -1;
    }
    memcpy(rsh, sh, (size_t)*at * sizeof *rsh);
    memcpy(rsh + *at, bsh, (size_t)bnd * sizeof *rsh);
    memcpy(rsh + *at + bnd, sh + *at + 1, (size_t)(nd - *at - 1) * sizeof *rsh);
    const em_tensor *t = p->base;
    em_status s = em__view(t, t->dtype, nd, sh, st, v->offset + lo, out);
    if (!s) s = em__ag_view_of(t, out); /* autograd: a recorded view */
    return s ? empy_raise_int(s) : 0;
}

static em_tensor *advanced_get(plan *p) {
    int bnd, at, rnd;
    int64_t bsh[EM_MAX_DIMS], rsh[EM_MAX_DIMS], lo, span;
    em_tensor *L = offsets(p, &bnd, bsh, &lo, &span), *sv = NULL, *flat = NULL, *r = NULL, *out = NULL;
    if (!L || span_view(p, lo, span, bnd, bsh, &at, &rnd, rsh, &sv) < 0) goto done;
    int64_t n = em_tensor_numel(L);
    em_status st = em_tensor_view(L, 1, &n, &flat);
    if (!st) st = EMPY_CALL(em__numel(rnd, rsh), em_index_select(sv, at, flat, &r));
    if (!st) st = em_tensor_view(r, rnd, rsh, &out);
    if (st) empy_raise(st);
done:
    em_tensor_free(L);
    em_tensor_free(sv);
    em_tensor_free(flat);
    em_tensor_free(r);
    return out;
}

/* Value src of a setitem as an index_put operand: broadcast to the result
 * shape rsh (NumPy's "shape mismatch" ValueError otherwise). */
static em_tensor *broadcast_value(const em_tensor *src, int rnd, const int64_t *rsh) {
    int lead = 0; /* NumPy drops leading size-1 axes of the value */
    while (src->ndim - lead > rnd && src->shape[lead] == 1) lead++;
    em_tensor *s, *out = NULL;
    em_status st = em__view(src, src->dtype, src->ndim - lead, src->shape + lead, src->strides + lead, src->offset, &s);
    if (st) return empy_raise(st), NULL;
    if (em_tensor_expand(s, rnd, rsh, &out)) {
        char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
        PyErr_Format(PyExc_ValueError,
                     "shape mismatch: value array of shape %s could not be broadcast to indexing result of shape %s",
                     em__shape_str(src->ndim, src->shape, b1), em__shape_str(rnd, rsh, b2));
    }
    em_tensor_free(s);
    return out;
}

static int advanced_set(plan *p, const em_tensor *src) {
    int bnd, at, rnd, rc = -1;
    int64_t bsh[EM_MAX_DIMS], rsh[EM_MAX_DIMS], lo, span;
    em_tensor *L = offsets(p, &bnd, bsh, &lo, &span), *sv = NULL, *ev = NULL, *vp = NULL, *ep = NULL;
    if (!L || span_view(p, lo, span, bnd, bsh, &at, &rnd, rsh, &sv) < 0) goto done;
    if (!(ev = broadcast_value(src, rnd, rsh))) goto done;
    /* index_put indexes leading axes: the span axis of sv and B of the value go first */
    int pv[EM_MAX_DIMS], pe[EM_MAX_DIMS], nv = 0, ne = 0;
    pv[nv++] = at;
    for (int d = 0; d < bnd; d++) pe[ne++] = at + d;
    for (int d = 0; d < sv->ndim; d++)
        if (d != at) {
            pv[nv++] = d;
            pe[ne++] = d < at ? d : d + bnd - 1;
        }
    em_status st = em_tensor_permute(sv, pv, &vp);
    if (!st) st = em_tensor_permute(ev, pe, &ep);
    if (!st) st = EMPY_CALL(em_tensor_numel(ep), em_index_put(vp, (const em_tensor *const[]){L}, 1, ep, false));
    rc = st ? empy_raise_int(st) : 0;
done:
    em_tensor_free(L);
    em_tensor_free(sv);
    em_tensor_free(ev);
    em_tensor_free(vp);
    em_tensor_free(ep);
    return rc;
}

/* Whether src is one value that em_masked_fill can store exactly into dt
 * (it takes a double); the value in *d. */
static bool fill_value(const em_tensor *src, em_dtype dt, double *d) {
    em_tensor *c;
    if (src->ndim != 0 || em_tensor_cast(src, dt, &c)) return false;
    char buf[8];
    *d = em__load(dt, em__ptr(c));
    em__store(dt, buf, *d);
    bool exact = memcmp(buf, em__ptr(c), em__dsize(dt)) == 0;
    em_tensor_free(c);
    return exact;
}

/* v[mask] = d, the mask covering v's axes mask_axis.. (trailing axes broadcast). */
static int mask_fill(const plan *p, double d) {
    const em_tensor *m = p->mask;
    int trail = p->v.nd - p->mask_axis - m->ndim;
    int64_t sh[EM_MAX_DIMS], st[EM_MAX_DIMS];
    for (int i = 0; i < m->ndim + trail; i++) {
        sh[i] = i < m->ndim ? m->shape[i] : 1;
        st[i] = i < m->ndim ? m->strides[i] : 0;
    }
    em_tensor *mv = NULL, *v = geom_view(&p->v, p->base);
    if (!v) return -1;
    em_status s = em__view(m, m->dtype, m->ndim + trail, sh, st, m->offset, &mv);
    if (!s) s = EMPY_CALL(em_tensor_numel(v), em_masked_fill(v, mv, d));
    em_tensor_free(mv);
    em_tensor_free(v);
    return s ? empy_raise_int(s) : 0;
}

/* ---- the slots ------------------------------------------------------------ */

/* Single int or slice on a tensor of >= 1 dim: the fast path (timed);
 * returns 1 when key is neither. */
static int simple_view(em_tensor *t, PyObject *key, em_tensor **out) {
    bool is_int = PyLong_CheckExact(key);
    if (t->ndim == 0 || !(is_int || PySlice_Check(key))) return 1;
    geom g;
    geom_init(&g, t);
    if (is_int) {
        Py_ssize_t v = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if ((v == -1 && PyErr_Occurred()) || geom_select(&g, 0, 0, v) < 0) return -1;
    } else if (geom_slice(&g, 0, key) < 0) {
        return -1;
    }
    return (*out = geom_view(&g, t)) ? 0 : -1;
}

static bool same_shape(const em_tensor *a, const em_tensor *b) {
    return a->ndim == b->ndim && memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof *a->shape) == 0;
}

PyObject *empy_getitem(PyObject *self, PyObject *key) {
    em_tensor *t = EmTensor_T(self), *out = NULL;
    int rc = simple_view(t, key, &out);
    if (rc <= 0) return rc ? NULL : empy_wrap(out);
    parsed_key k;
    if (parse_key(t, key, &k) < 0) return NULL;
    if (k.n == 1 && k.kind[0] == K_MASK && same_shape(k.arr[0], t)) { /* x[mask]: one pass */
        em_status st = EMPY_CALL(em_tensor_numel(t), em_masked_select(t, k.arr[0], &out));
        key_clear(&k);
        return st ? empy_raise(st) : empy_wrap(out);
    }
    plan p = {0};
    rc = build(t, &k, false, &p);
    key_clear(&k);
    if (rc < 0) return NULL;
    out = p.m ? advanced_get(&p) : geom_view(&p.v, t);
    plan_clear(&p);
    return empy_wrap(out);
}

int empy_setitem(PyObject *self, PyObject *key, PyObject *value) {
    if (!value) {
        PyErr_SetString(PyExc_TypeError, "tensor elements cannot be deleted");
        return -1;
    }
    em_tensor *t = EmTensor_T(self), *dst = NULL;
    /* Python scalars convert straight to t's dtype (with NumPy's overflow
     * check); arrays and tensors are cast by the copy itself */
    bool scalar = PyLong_Check(value) || PyFloat_Check(value);
    em_tensor *src = empy_as_tensor(value, scalar ? (int)t->dtype : -1, "assigned value");
    if (!src) return -1;
    int rc = simple_view(t, key, &dst);
    if (rc > 0) {
        parsed_key k;
        plan p = {0};
        double d = 0;
        rc = parse_key(t, key, &k);
        if (rc < 0) goto done;
        bool fill = k.nmask == 1 && k.nadv == 0 && fill_value(src, t->dtype, &d);
        rc = build(t, &k, fill, &p);
        if (!rc) {
            if (fill) rc = mask_fill(&p, d);
            else if (p.m) rc = advanced_set(&p, src);
            else rc = (dst = geom_view(&p.v, t)) ? 0 : -1;
        }
        plan_clear(&p);
        key_clear(&k);
    }
    if (!rc && dst) {
        em_status st = EMPY_CALL(em_tensor_numel(dst), em_tensor_copy_into(dst, src));
        rc = st ? empy_raise_int(st) : 0;
    }
done:
    em_tensor_free(dst);
    em_tensor_free(src);
    return rc;
}
