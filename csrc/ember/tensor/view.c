/* Views: new geometry over the same storage, never a copy (except
 * reshape/flatten, which copy when the strides forbid a view). */
#include "../internal.h"
#include "../autograd/ag.h"

/* Resolves one -1 entry and checks the element count. */
static em_status infer_shape(const char *op, const em_tensor *x, int ndim, const int64_t *shape, int64_t *out) {
    if (ndim < 0 || ndim > EM_MAX_DIMS)
        return em__error(EM_ERR_SHAPE, "%s: %d dimensions requested; ember supports 0 to %d", op, ndim, EM_MAX_DIMS);
    int infer = -1;
    int64_t n = em__numel(x->ndim, x->shape);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == -1) {
            if (infer >= 0) return em__error(EM_ERR_SHAPE, "%s: only one dimension can be -1", op);
            infer = i;
        } else if (shape[i] < 0) {
            return em__error(EM_ERR_SHAPE, "%s: invalid dimension %lld", op, (long long)shape[i]);
        }
        out[i] = shape[i] == -1 ? 1 : shape[i];
    }
    if (em__check_shape(op, ndim, out)) goto bad; /* the product below cannot overflow */
    int64_t known = em__numel(ndim, out);
    if (infer >= 0) {
        if (known == 0 || n % known) goto bad;
        out[infer] = n / known;
    } else if (known != n) {
        goto bad;
    }
    return EM_OK;
bad:;
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    return em__error(EM_ERR_SHAPE, "%s: cannot reshape tensor of shape %s (%lld elements) into shape %s", op,
                     em__shape_str(x->ndim, x->shape, b1), (long long)n, em__shape_str(ndim, shape, b2));
}

/* Strides for viewing x with a new shape, if the memory layout allows it
 * (the same rule as NumPy's _attempt_nocopy_reshape). */
static bool view_strides(const em_tensor *x, int ndim, const int64_t *shape, int64_t *strides) {
    int64_t osh[EM_MAX_DIMS], ost[EM_MAX_DIMS];
    int ond = 0;
    for (int i = 0; i < x->ndim; i++)
        if (x->shape[i] != 1) {
            osh[ond] = x->shape[i];
            ost[ond++] = x->strides[i];
        }
    if (em__numel(x->ndim, x->shape) == 0) {
        em__contig_strides(ndim, shape, strides);
        return true;
    }
    int oi = 0, oj = 1, ni = 0, nj = 1;
    while (ni < ndim && oi < ond) {
        int64_t np = shape[ni], op = osh[oi];
        while (np != op) {
            if (np < op) np *= shape[nj++];
            else op *= osh[oj++];
        }
        for (int ok = oi; ok < oj - 1; ok++)
            if (ost[ok] != osh[ok + 1] * ost[ok + 1]) return false;
        strides[nj - 1] = ost[oj - 1];
        for (int nk = nj - 1; nk > ni; nk--) strides[nk - 1] = strides[nk] * shape[nk];
        ni = nj++;
        oi = oj++;
    }
    /* trailing size-1 dims */
    for (int i = ni; i < ndim; i++) strides[i] = 1;
    return true;
}

static em_status view_raw(const em_tensor *x, int ndim, const int64_t *shape, em_tensor **out) {
    int64_t sh[EM_MAX_DIMS], st[EM_MAX_DIMS];
    EM_TRY(infer_shape("view", x, ndim, shape, sh));
    if (!view_strides(x, ndim, sh, st)) {
        char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
        return em__error(EM_ERR_SHAPE,
                         "view: tensor of shape %s with its strides cannot be viewed as %s without a copy; "
                         "use reshape",
                         em__shape_str(x->ndim, x->shape, b1), em__shape_str(ndim, sh, b2));
    }
    return em__view(x, x->dtype, ndim, sh, st, x->offset, out);
}

static em_status reshape_raw(const em_tensor *x, int ndim, const int64_t *shape, em_tensor **out) {
    int64_t sh[EM_MAX_DIMS], st[EM_MAX_DIMS];
    EM_TRY(infer_shape("reshape", x, ndim, shape, sh));
    if (view_strides(x, ndim, sh, st)) return em__view(x, x->dtype, ndim, sh, st, x->offset, out);
    em_tensor *c;
    EM_TRY(em_tensor_clone(x, &c));
    em__contig_strides(ndim, sh, st);
    em_status s = em__view(c, c->dtype, ndim, sh, st, 0, out);
    em_tensor_free(c);
    return s;
}

static em_status permute_raw(const em_tensor *x, const int *perm, em_tensor **out) {
    int64_t sh[EM_MAX_DIMS], st[EM_MAX_DIMS];
    uint32_t seen = 0;
    for (int i = 0; i < x->ndim; i++) {
        int a;
        EM_TRY(em__axis("permute", perm[i], x->ndim, &a));
        if (seen & (1u << a)) return em__error(EM_ERR_INVALID_ARG, "permute: axis %d repeated in the permutation", a);
        seen |= 1u << a;
        sh[i] = x->shape[a];
        st[i] = x->strides[a];
    }
    return em__view(x, x->dtype, x->ndim, sh, st, x->offset, out);
}

em_status em_tensor_transpose(const em_tensor *x, int dim0, int dim1, em_tensor **out) {
    int a, b;
    EM_TRY(em__axis("transpose", dim0, x->ndim, &a));
    EM_TRY(em__axis("transpose", dim1, x->ndim, &b));
    int perm[EM_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    perm[a] = b;
    perm[b] = a;
    return em_tensor_permute(x, perm, out);
}

em_status em_tensor_mT(const em_tensor *x, em_tensor **out) {
    if (x->ndim < 2) {
        char b[EM_DESC_LEN];
        return em__error(EM_ERR_SHAPE, "matrix_transpose: needs at least 2 dimensions, got %s", em__desc(x, b));
    }
    return em_tensor_transpose(x, -2, -1, out);
}

static em_status slice_raw(const em_tensor *x, int axis, int64_t start, int64_t stop, int64_t step, em_tensor **out) {
    int a;
    EM_TRY(em__axis("slice", axis, x->ndim, &a));
    if (step == 0) return em__error(EM_ERR_INVALID_ARG, "slice: step cannot be zero");
    int64_t n = x->shape[a];
    /* clamp like PySlice_AdjustIndices so any caller values are safe */
    if (start < 0) start = start + n < 0 ? (step < 0 ? -1 : 0) : start + n;
    else if (start >= n) start = step < 0 ? n - 1 : n;
    if (stop < 0) stop = stop + n < 0 ? (step < 0 ? -1 : 0) : stop + n;
    else if (stop >= n) stop = step < 0 ? n - 1 : n;
    int64_t len = 0;
    /* unsigned: -INT64_MIN would overflow */
    if (step > 0 && stop > start) len = (int64_t)((uint64_t)(stop - start - 1) / (uint64_t)step) + 1;
    if (step < 0 && stop < start) len = (int64_t)((uint64_t)(start - stop - 1) / (0 - (uint64_t)step)) + 1;
    int64_t sh[EM_MAX_DIMS], st[EM_MAX_DIMS];
    memcpy(sh, x->shape, sizeof sh);
    memcpy(st, x->strides, sizeof st);
    sh[a] = len;
    st[a] = len > 1 ? x->strides[a] * step : x->strides[a]; /* len > 1 implies |step| < n: no overflow */
    int64_t off = x->offset + (len ? start * x->strides[a] : 0);
    return em__view(x, x->dtype, x->ndim, sh, st, off, out);
}

static em_status select_raw(const em_tensor *x, int axis, int64_t index, em_tensor **out) {
    int a;
    EM_TRY(em__axis("select", axis, x->ndim, &a));
    int64_t n = x->shape[a], k = index < 0 ? index + n : index;
    if (k < 0 || k >= n)
        return em__error(EM_ERR_INDEX, "select: index %lld is out of bounds for axis %d with size %lld", (long long)index, a,
                         (long long)n);
    int64_t sh[EM_MAX_DIMS], st[EM_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != a) {
            sh[nd] = x->shape[i];
            st[nd++] = x->strides[i];
        }
    return em__view(x, x->dtype, nd, sh, st, x->offset + k * x->strides[a], out);
}

static em_status expand_raw(const em_tensor *x, int ndim, const int64_t *shape, em_tensor **out) {
    EM_TRY(em__check_shape("broadcast_to", ndim, shape));
    int lead = ndim - x->ndim;
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    if (lead < 0)
        return em__error(EM_ERR_SHAPE, "broadcast_to: cannot broadcast %s to %s (fewer dimensions)", em__desc(x, b1),
                         em__shape_str(ndim, shape, b2));
    int64_t st[EM_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        if (i < lead) {
            st[i] = 0;
            continue;
        }
        int64_t d = x->shape[i - lead];
        if (d == shape[i]) st[i] = x->strides[i - lead];
        else if (d == 1) st[i] = 0;
        else
            return em__error(EM_ERR_SHAPE, "broadcast_to: cannot broadcast %s to %s (axis %d: %lld vs %lld)",
                             em__desc(x, b1), em__shape_str(ndim, shape, b2), i, (long long)d, (long long)shape[i]);
    }
    return em__view(x, x->dtype, ndim, shape, st, x->offset, out);
}

static em_status squeeze_raw(const em_tensor *x, const int *axes, int naxes, em_tensor **out) {
    uint32_t mask = 0;
    if (axes) {
        EM_TRY(em__axes_mask("squeeze", axes, naxes, x->ndim, &mask));
        for (int i = 0; i < x->ndim; i++)
            if ((mask >> i & 1) && x->shape[i] != 1)
                return em__error(EM_ERR_SHAPE, "squeeze: cannot remove axis %d of size %lld (only size 1)", i,
                                 (long long)x->shape[i]);
    } else {
        for (int i = 0; i < x->ndim; i++)
            if (x->shape[i] == 1) mask |= 1u << i;
    }
    int64_t sh[EM_MAX_DIMS], st[EM_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++)
        if (!(mask >> i & 1)) {
            sh[nd] = x->shape[i];
            st[nd++] = x->strides[i];
        }
    return em__view(x, x->dtype, nd, sh, st, x->offset, out);
}

static em_status unsqueeze_raw(const em_tensor *x, int axis, em_tensor **out) {
    if (x->ndim >= EM_MAX_DIMS)
        return em__error(EM_ERR_SHAPE, "unsqueeze: tensor already has the maximum of %d dimensions", EM_MAX_DIMS);
    int a;
    EM_TRY(em__axis("unsqueeze", axis, x->ndim + 1, &a));
    int64_t sh[EM_MAX_DIMS], st[EM_MAX_DIMS];
    for (int i = 0, j = 0; i <= x->ndim; i++) {
        if (i == a) {
            sh[i] = 1;
            st[i] = a < x->ndim ? x->strides[a] * x->shape[a] : 1;
            continue;
        }
        sh[i] = x->shape[j];
        st[i] = x->strides[j++];
    }
    return em__view(x, x->dtype, x->ndim + 1, sh, st, x->offset, out);
}

em_status em_tensor_flatten(const em_tensor *x, int start, int end, em_tensor **out) {
    if (x->ndim == 0) return em_tensor_reshape(x, 1, (int64_t[]){1}, out);
    int s, e;
    EM_TRY(em__axis("flatten", start, x->ndim, &s));
    EM_TRY(em__axis("flatten", end, x->ndim, &e));
    if (s > e) return em__error(EM_ERR_INVALID_ARG, "flatten: start axis %d is after end axis %d", s, e);
    int64_t sh[EM_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < s; i++) sh[nd++] = x->shape[i];
    int64_t m = 1;
    for (int i = s; i <= e; i++) m *= x->shape[i];
    sh[nd++] = m;
    for (int i = e + 1; i < x->ndim; i++) sh[nd++] = x->shape[i];
    return em_tensor_reshape(x, nd, sh, out);
}

static em_status flip_raw(const em_tensor *x, const int *axes, int naxes, em_tensor **out) {
    uint32_t mask;
    EM_TRY(em__axes_mask("flip", axes, naxes, x->ndim, &mask));
    int64_t st[EM_MAX_DIMS], off = x->offset;
    for (int i = 0; i < x->ndim; i++) {
        st[i] = x->strides[i];
        if ((mask >> i & 1) && x->shape[i] > 0) {
            off += (x->shape[i] - 1) * x->strides[i];
            st[i] = -x->strides[i];
        }
    }
    return em__view(x, x->dtype, x->ndim, x->shape, st, off, out);
}

/* ---- public entry points: the view, then its autograd record ---------- */
#define VIEW_ENTRY(call, kind, name, np)                                          \
    do {                                                                          \
        if (!em__ag_want1(x)) return call;                                        \
        em_status st_;                                                            \
        EM__AG_NOREC(st_, call);                                                  \
        return st_ ? st_ : em__ag_view(kind, name, x, p, np, out);                \
    } while (0)

em_status em_tensor_view(const em_tensor *x, int ndim, const int64_t *shape, em_tensor **out) {
    const int64_t *p = NULL;
    VIEW_ENTRY(view_raw(x, ndim, shape, out), EM__AG_RESHAPE, "ViewBackward0", 0);
}
em_status em_tensor_reshape(const em_tensor *x, int ndim, const int64_t *shape, em_tensor **out) {
    const int64_t *p = NULL;
    VIEW_ENTRY(reshape_raw(x, ndim, shape, out), EM__AG_RESHAPE, "ReshapeAliasBackward0", 0);
}
em_status em_tensor_permute(const em_tensor *x, const int *perm, em_tensor **out) {
    int64_t p[EM_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) p[i] = perm[i] < 0 ? perm[i] + x->ndim : perm[i];
    VIEW_ENTRY(permute_raw(x, perm, out), EM__AG_PERMUTE, "PermuteBackward0", x->ndim);
}
em_status em_tensor_slice(const em_tensor *x, int axis, int64_t start, int64_t stop, int64_t step, em_tensor **out) {
    int64_t p[4] = {axis, start, stop, step};
    VIEW_ENTRY(slice_raw(x, axis, start, stop, step, out), EM__AG_SLICE, "SliceBackward0", 4);
}
em_status em_tensor_select(const em_tensor *x, int axis, int64_t index, em_tensor **out) {
    int64_t p[2] = {axis, index};
    VIEW_ENTRY(select_raw(x, axis, index, out), EM__AG_SELECT, "SelectBackward0", 2);
}
em_status em_tensor_expand(const em_tensor *x, int ndim, const int64_t *shape, em_tensor **out) {
    const int64_t *p = NULL;
    VIEW_ENTRY(expand_raw(x, ndim, shape, out), EM__AG_EXPAND, "ExpandBackward0", 0);
}
em_status em_tensor_squeeze(const em_tensor *x, const int *axes, int naxes, em_tensor **out) {
    const int64_t *p = NULL;
    VIEW_ENTRY(squeeze_raw(x, axes, naxes, out), EM__AG_RESHAPE, "SqueezeBackward0", 0);
}
em_status em_tensor_unsqueeze(const em_tensor *x, int axis, em_tensor **out) {
    const int64_t *p = NULL;
    VIEW_ENTRY(unsqueeze_raw(x, axis, out), EM__AG_RESHAPE, "UnsqueezeBackward0", 0);
}
em_status em_tensor_flip(const em_tensor *x, const int *axes, int naxes, em_tensor **out) {
    uint32_t m = 0;
    EM_TRY(em__axes_mask("flip", axes, naxes, x->ndim, &m));
    int64_t p[1] = {m};
    VIEW_ENTRY(flip_raw(x, axes, naxes, out), EM__AG_FLIP, "FlipBackward0", 1);
}
