/* Gradients of views, copies, concatenation and indexing. */
#include "ag.h"

/* Applies a slice/select with node parameters p to t (a recorded view). */
static em_status apply_view(em__ag_view_kind kind, const int64_t *p, em_tensor *t, em_tensor **out) {
    if (kind == EM__AG_SLICE) return em_tensor_slice(t, (int)p[0], p[1], p[2], p[3], out);
    return em_tensor_select(t, (int)p[0], p[1], out);
}

static em_status embed_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    return apply_view((em__ag_view_kind)n->op, n->i, g, &gin[0]);
}

/* The gradient of a slice/select: g placed into zeros of the input's shape.
 * Recorded (when g requires grad) as a node whose gradient is the view again. */
static em_status embed(em__ag_view_kind kind, const int64_t *p, em_tensor *g, const em__ag_edge *e, em_tensor **out) {
    em_tensor *z = NULL, *v = NULL;
    EM_TRY(em_tensor_zeros(g->dtype, e->ndim, e->shape, &z));
    bool off = em__ag_off;
    em__ag_off = true;
    em_status st = apply_view(kind, p, z, &v);
    if (!st) st = em_tensor_copy_into(v, g);
    em__ag_off = off;
    em_tensor_free(v);
    if (!st && em__ag_want1(g)) {
        em__ag_node *n;
        const em_tensor *ins[1] = {g};
        st = em__ag_record(kind == EM__AG_SLICE ? "SliceBackwardBackward0" : "SelectBackwardBackward0", embed_bw, &z,
                           1, ins, &n);
        if (!st) {
            n->op = kind;
            memcpy(n->i, p, sizeof(int64_t) * 4);
        }
        if (st) return st; /* z freed by the record */
    }
    if (st) {
        em_tensor_free(z);
        return st;
    }
    *out = z;
    return EM_OK;
}

static em_status view_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    const em__ag_edge *e = &n->in[0];
    switch ((em__ag_view_kind)n->op) {
    case EM__AG_RESHAPE: return em_tensor_reshape(g, e->ndim, e->shape, &gin[0]);
    case EM__AG_PERMUTE: {
        int inv[EM_MAX_DIMS];
        for (int i = 0; i < e->ndim; i++) inv[n->i[i]] = i;
        return em_tensor_permute(g, inv, &gin[0]);
    }
    case EM__AG_SLICE: case EM__AG_SELECT: return embed((em__ag_view_kind)n->op, n->i, g, e, &gin[0]);
    case EM__AG_FLIP: {
        int axes[EM_MAX_DIMS], na = 0;
        for (int i = 0; i < e->ndim; i++)
            if (n->i[0] & (1 << i)) axes[na++] = i;
        return em_tensor_flip(g, axes, na, &gin[0]);
    }
    case EM__AG_EXPAND: case EM__AG_IDENTITY: gin[0] = em_tensor_retain(g); return EM_OK;
    }
    return em__error(EM_ERR_INTERNAL, "backward: unknown view kind %d", n->op);
}

em_status em__ag_view(em__ag_view_kind kind, const char *name, const em_tensor *x, const int64_t *p, int np,
                      em_tensor **out) {
    if (*out == x || !em_dtype_is_float((*out)->dtype) || !em_dtype_is_float(x->dtype)) return EM_OK;
    em__ag_node *n;
    EM_TRY(em__ag_record(name, view_bw, out, 1, &x, &n));
    n->op = kind;
    if (np) memcpy(n->i, p, sizeof(int64_t) * (size_t)np);
    return EM_OK;
}

/* ---- concat / stack ------------------------------------------------------ */
static em_status concat_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    int axis = (int)n->i[0];
    bool stack = n->i[1];
    int64_t off = 0;
    for (int k = 0; k < n->nin; k++) {
        const em__ag_edge *e = k < EM__AG_MAX_IN ? &n->in[k] : &n->xin[k - EM__AG_MAX_IN];
        int64_t sz = stack ? 1 : e->shape[axis];
        if (need[k]) {
            em_status st = stack ? em_tensor_select(g, axis, k, &gin[k]) : em_tensor_slice(g, axis, off, off + sz, 1, &gin[k]);
            if (st) return st;
        }
        off += sz;
    }
    return EM_OK;
}

em_status em__ag_concat(const char *name, const em_tensor *const *xs, int n, int axis, bool stack, em_tensor **out) {
    if (!em_dtype_is_float((*out)->dtype)) return EM_OK;
    int a = 0;
    EM_TRY(em__axis(name, axis, (*out)->ndim, &a));
    em__ag_node *node;
    EM_TRY(em__ag_record(stack ? "StackBackward0" : "CatBackward0", concat_bw, out, n, xs, &node));
    node->i[0] = a;
    node->i[1] = stack;
    return EM_OK;
}

/* ---- gather / index_select / scatter ------------------------------------- */
static em_status gather_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em__f f = {0};
    int axis = (int)n->i[0];
    const em__ag_edge *e = &n->in[0];
    em_tensor *idx = em__f_saved(&f, n, 0);
    int64_t zs[EM_MAX_DIMS];
    memcpy(zs, g->shape, sizeof(int64_t) * (size_t)g->ndim);
    zs[axis] = e->shape[axis];
    em_tensor *z = em__f_zeros(&f, g->dtype, g->ndim, zs);
    em_tensor *ib = em__f_expand(&f, idx, g->ndim, g->shape), *r = NULL;
    if (!f.st) f.st = em_scatter(z, axis, ib, g, EM_SCATTER_ADD, &r);
    if (r) em__f_keep(&f, EM_OK, r);
    gin[0] = em__f_take(&f, r);
    return em__f_done(&f);
}

em_status em__ag_take(const char *name, const em_tensor *x, int axis, const em_tensor *index, em_tensor **out) {
    if (!em_dtype_is_float((*out)->dtype)) return EM_OK;
    if (x->ndim == 0) return em__ag_view(EM__AG_IDENTITY, name, x, NULL, 0, out); /* one element, index 0 */
    int a = 0;
    em_status st = em__axis(name, axis, x->ndim, &a);
    if (st) { /* the forward checked the axis already; keep the "frees *out on failure" contract anyway */
        em_tensor_free(*out);
        *out = NULL;
        return st;
    }
    em__ag_node *n;
    EM_TRY(em__ag_record(name, gather_bw, out, 1, &x, &n));
    n->i[0] = a;
    st = em__ag_save(n, 0, index, false);
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

em_status em__ag_gather(const em_tensor *x, int axis, const em_tensor *index, em_tensor **out) {
    return em__ag_take("GatherBackward0", x, axis, index, out);
}

static em_status index_select_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em__f f = {0};
    int axis = (int)n->i[0];
    const em__ag_edge *e = &n->in[0];
    em_tensor *idx = em__f_saved(&f, n, 0);
    int64_t is[EM_MAX_DIMS];
    for (int i = 0; i < e->ndim; i++) is[i] = i == axis ? g->shape[axis] : 1;
    em_tensor *ib = em__f_expand(&f, em__f_reshape(&f, idx, e->ndim, is), g->ndim, g->shape);
    em_tensor *z = em__f_zeros(&f, g->dtype, e->ndim, e->shape), *r = NULL;
    if (!f.st) f.st = em_scatter(z, axis, ib, g, EM_SCATTER_ADD, &r);
    if (r) em__f_keep(&f, EM_OK, r);
    gin[0] = em__f_take(&f, r);
    return em__f_done(&f);
}

em_status em__ag_index_select(const em_tensor *x, int axis, const em_tensor *index, em_tensor **out) {
    if (!em_dtype_is_float((*out)->dtype)) return EM_OK;
    int a = 0;
    EM_TRY(em__axis("index_select", axis, x->ndim, &a));
    em__ag_node *n;
    EM_TRY(em__ag_record("IndexSelectBackward0", index_select_bw, out, 1, &x, &n));
    n->i[0] = a;
    em_status st = em__ag_save(n, 0, index, false);
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

static em_status scatter_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em__f f = {0};
    int axis = (int)n->i[0];
    em_tensor *idx = em__f_saved(&f, n, 0);
    if (need[0]) {
        if (n->i[1] == EM_SCATTER_ADD) {
            gin[0] = em_tensor_retain(g);
        } else { /* overwritten positions get no gradient */
            em_tensor *z = em__f_zeros(&f, g->dtype, n->in[1].ndim, n->in[1].shape), *r = NULL;
            if (!f.st) f.st = em_scatter(g, axis, idx, z, EM_SCATTER_NONE, &r);
            if (r) gin[0] = r;
        }
    }
    if (need[1] && !f.st) {
        /* index may be smaller than src: gather gives index's shape, padded back by slicing zeros */
        em_tensor *r = NULL;
        if (!(f.st = em_gather(g, axis, idx, &r))) {
            em__f_keep(&f, EM_OK, r);
            const em__ag_edge *e = &n->in[1];
            bool same = !memcmp(r->shape, e->shape, sizeof(int64_t) * (size_t)e->ndim);
            if (same) gin[1] = em__f_take(&f, r);
            else f.st = em__error(EM_ERR_UNSUPPORTED, "backward: scatter with an index smaller than src");
        }
    }
    return em__f_done(&f);
}

em_status em__ag_scatter(const em_tensor *x, int axis, const em_tensor *index, const em_tensor *src, int reduce,
                         em_tensor **out) {
    if (!em_dtype_is_float((*out)->dtype)) return EM_OK;
    int a = 0;
    EM_TRY(em__axis("scatter", axis, x->ndim, &a));
    em__ag_node *n;
    const em_tensor *ins[2] = {x, src};
    EM_TRY(em__ag_record(reduce == EM_SCATTER_ADD ? "ScatterAddBackward0" : "ScatterBackward0", scatter_bw, out, 2,
                         ins, &n));
    n->i[0] = a;
    n->i[1] = reduce;
    em_status st = em__ag_save(n, 0, index, false);
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

/* ---- strided maps (views made by the Python indexing code) ----------------
 * params: L, then geometries A and B as {ndim, shape[8], strides[8], offset}
 * relative to a buffer of L elements.  map(t) writes t at A into zeros(L)
 * and reads B; its gradient is the map from B to A. */
enum { GEO = 2 + 2 * EM_MAX_DIMS };

static em_status strided_map(em_tensor *t, const int64_t *from, const int64_t *to, int64_t L, em_tensor **out);

static em_status strided_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    const int64_t *p = n->params;
    return strided_map(g, p + 1 + GEO, p + 1, p[0], &gin[0]);
}

/* buf[geometry g] += t, element by element in C order: geometries made by
 * the indexing code may overlap themselves, and overlapping elements must
 * sum (a plain copy would keep the last). */
static em_status scatter_add_geo(em_tensor *buf, const int64_t *g, const em_tensor *t) {
    em_tensor *tc = NULL;
    EM_TRY(em_tensor_contiguous(t, &tc));
    int nd = (int)g[0];
    const int64_t *shape = g + 1, *strides = g + 1 + EM_MAX_DIMS;
    int64_t n = em__numel(nd, shape), idx[EM_MAX_DIMS] = {0}, off = g[1 + 2 * EM_MAX_DIMS];
    for (int64_t k = 0; k < n; k++) {
        if (t->dtype == EM_F64) ((double *)em__ptr(buf))[off] += ((const double *)em__ptr(tc))[k];
        else ((float *)em__ptr(buf))[off] += ((const float *)em__ptr(tc))[k];
        for (int d = nd - 1; d >= 0; d--) {
            off += strides[d];
            if (++idx[d] < shape[d]) break;
            off -= strides[d] * shape[d];
            idx[d] = 0;
        }
    }
    em_tensor_free(tc);
    return EM_OK;
}

static em_status strided_map(em_tensor *t, const int64_t *from, const int64_t *to, int64_t L, em_tensor **out) {
    em_tensor *buf = NULL, *vb = NULL, *r = NULL;
    EM_TRY(em_tensor_zeros(t->dtype, 1, &L, &buf));
    bool off = em__ag_off;
    em__ag_off = true;
    em_status st = scatter_add_geo(buf, from, t);
    if (!st) st = em__view(buf, t->dtype, (int)to[0], to + 1, to + 1 + EM_MAX_DIMS, to[1 + 2 * EM_MAX_DIMS], &vb);
    if (!st) st = em_tensor_clone(vb, &r);
    em__ag_off = off;
    em_tensor_free(vb);
    em_tensor_free(buf);
    if (st) return st;
    if (em__ag_want1(t)) {
        em__ag_node *n;
        const em_tensor *ins[1] = {t};
        EM_TRY(em__ag_record("AsStridedBackward0", strided_bw, &r, 1, ins, &n));
        if (!(n->params = em__alloc_small(sizeof(int64_t) * (1 + 2 * GEO)))) {
            em_tensor_free(r);
            return em__error(EM_ERR_NOMEM, "autograd: out of memory");
        }
        n->params[0] = L;
        memcpy(n->params + 1, from, sizeof(int64_t) * GEO);
        memcpy(n->params + 1 + GEO, to, sizeof(int64_t) * GEO);
    }
    *out = r;
    return EM_OK;
}

static void geo_of(const em_tensor *t, int64_t base, int64_t *g) {
    memset(g, 0, sizeof(int64_t) * GEO);
    g[0] = t->ndim;
    for (int i = 0; i < t->ndim; i++) {
        g[1 + i] = t->shape[i];
        g[1 + EM_MAX_DIMS + i] = t->strides[i];
    }
    g[1 + 2 * EM_MAX_DIMS] = t->offset - base;
}

em_status em__ag_view_of(const em_tensor *x, em_tensor **out) {
    if (!em__ag_want1(x) || (*out)->dtype != x->dtype || (x->dtype != EM_F32 && x->dtype != EM_F64)) return EM_OK;
    int64_t lo = x->offset, hi = x->offset;
    for (int i = 0; i < x->ndim; i++) {
        if (!x->shape[i]) {
            hi = lo - 1;
            break;
        }
        int64_t d = (x->shape[i] - 1) * x->strides[i];
        if (d < 0) lo += d;
        else hi += d;
    }
    em__ag_node *n;
    EM_TRY(em__ag_record("AsStridedBackward0", strided_bw, out, 1, &x, &n));
    if (!(n->params = em__alloc_small(sizeof(int64_t) * (1 + 2 * GEO)))) {
        em_tensor_free(*out);
        *out = NULL;
        return em__error(EM_ERR_NOMEM, "autograd: out of memory");
    }
    n->params[0] = hi - lo + 1 > 0 ? hi - lo + 1 : 0;
    geo_of(x, lo, n->params + 1);
    geo_of(*out, lo, n->params + 1 + GEO);
    return EM_OK;
}

/* ---- remaps: pad, roll, repeat, tile --------------------------------------
 * out[i0, .., i_{n-1}] = x[map_0[i0], .., map_{n-1}[i_{n-1}]] (or the fill
 * value where an entry is -1, only at the ends of an axis: constant pad).
 * params: nd, the remapped input's shape (nd), the output's shape (nd), then
 * the maps.  The gradient is the adjoint axis by axis (the maps act on
 * separate axes, so the order does not matter): drop the filled ends with a
 * slice, then scatter-add along the axis through the map.  Both are
 * recorded ops, so the gradient is differentiable again. */
static em_status remap_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    (void)need;
    em__f f = {0};
    const int64_t *p = n->params;
    int nd = (int)p[0];
    const int64_t *in = p + 1, *outs = p + 1 + nd, *map = p + 1 + 2 * nd;
    em_tensor *cur = g;
    int64_t cs[EM_MAX_DIMS];
    memcpy(cs, outs, sizeof(int64_t) * (size_t)nd);
    for (int d = 0; d < nd && !f.st; map += outs[d], d++) {
        int64_t L = outs[d], lo = 0, hi = L;
        while (lo < L && map[lo] < 0) lo++;
        while (hi > lo && map[hi - 1] < 0) hi--;
        for (int64_t i = lo; i < hi; i++)
            if (map[i] < 0) f.st = em__error(EM_ERR_INTERNAL, "backward: %s has a fill inside an axis", n->name);
        if (f.st) break;
        if (lo > 0 || hi < L) {
            cur = em__f_slice(&f, cur, d, lo, hi);
            cs[d] = hi - lo;
        }
        bool ident = hi - lo == in[d];
        for (int64_t i = lo; i < hi && ident; i++) ident = map[i] == i - lo;
        if (ident) continue;
        int64_t is[EM_MAX_DIMS];
        for (int k = 0; k < nd; k++) is[k] = k == d ? hi - lo : 1;
        em_tensor *idx = NULL;
        EM__F_CALL(&f, idx, em_tensor_empty(EM_I64, nd, is, &idx));
        if (f.st) break;
        memcpy(em__ptr(idx), map + lo, sizeof(int64_t) * (size_t)(hi - lo));
        em_tensor *ib = em__f_expand(&f, idx, nd, cs);
        cs[d] = in[d];
        em_tensor *z = em__f_zeros(&f, g->dtype, nd, cs), *r = NULL;
        if (cur && ib && z) EM__F_CALL(&f, r, em_scatter(z, d, ib, cur, EM_SCATTER_ADD, &r));
        cur = r;
    }
    gin[0] = em__f_take(&f, cur);
    return em__f_done(&f);
}

em_status em__ag_remap(const char *name, const em_tensor *x, int nd, const int64_t *in_shape, const int64_t *out_shape,
                       int64_t *maps, em_tensor **out) {
    int64_t total = 0;
    for (int d = 0; d < nd; d++) total += out_shape[d];
    int64_t *p = em__alloc(sizeof(int64_t) * (size_t)(1 + 2 * nd + total));
    if (!p) {
        em__free(maps);
        em_tensor_free(*out);
        *out = NULL;
        return em__error(EM_ERR_NOMEM, "%s: out of memory recording the autograd graph", name);
    }
    p[0] = nd;
    memcpy(p + 1, in_shape, sizeof(int64_t) * (size_t)nd);
    memcpy(p + 1 + nd, out_shape, sizeof(int64_t) * (size_t)nd);
    if (total) memcpy(p + 1 + 2 * nd, maps, sizeof(int64_t) * (size_t)total);
    em__free(maps);
    em__ag_node *n;
    em_status st = em__ag_record(name, remap_bw, out, 1, &x, &n);
    if (st) {
        em__free(p);
        return st;
    }
    n->params = p;
    return EM_OK;
}

/* ---- tril / triu: the gradient is the same triangle of g ---------------- */
static em_status triangle_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    (void)need;
    return n->i[1] ? em_tril(g, n->i[0], &gin[0]) : em_triu(g, n->i[0], &gin[0]);
}

em_status em__ag_triangle(const em_tensor *x, int64_t k, bool lower, em_tensor **out) {
    if (!em_dtype_is_float(x->dtype)) return EM_OK;
    em__ag_node *n;
    EM_TRY(em__ag_record(lower ? "TrilBackward0" : "TriuBackward0", triangle_bw, out, 1, &x, &n));
    n->i[0] = k;
    n->i[1] = lower;
    return EM_OK;
}
