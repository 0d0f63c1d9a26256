/* Shape ops that move elements without arithmetic: concat, stack, split,
 * pad, roll, repeat, tile, tril, triu.  concat/stack copy each input into a
 * view of the output (em_tensor_copy_into casts and handles any strides);
 * pad/roll/repeat/tile are all "out[i0..in] = x[map0[i0], .., mapn[in]]" with
 * one index map per axis, run by remap() below. */
#include "../internal.h"
#include "../autograd/ag.h"

#include <limits.h>

/* Largest element count a tensor may have (em__check_shape's bound). */
#define MAX_NUMEL (INT64_MAX / 8)
#define FILL (-1) /* map entry: take the fill value instead of an element */

/* ---- remap: one pass over the output, one offset table per axis --------- */

/* Per-axis index maps for an output shape, in one allocation. */
typedef struct {
    int64_t *block;
    int64_t *map[EM_MAX_DIMS];
} maps;

/* Checks the output shape too, so callers may pass a computed one. */
static em_status maps_alloc(const char *op, int nd, const int64_t *shape, maps *m) {
    EM_TRY(em__check_shape(op, nd, shape));
    int64_t total = 0;
    for (int d = 0; d < nd; d++) total += shape[d];
    EM_TRY(em__alloc_or_fail((size_t)(total ? total : 1) * sizeof(int64_t), op, (void **)&m->block));
    int64_t *p = m->block;
    for (int d = 0; d < nd; d++) {
        m->map[d] = p;
        p += shape[d];
    }
    return EM_OK;
}

/* out[i] = x[maps[0][i0], ..., maps[n-1][i_n-1]] with x's dtype and ndim, or
 * *fill where an entry is FILL.  The maps are turned into byte offsets in
 * place, so every row is a gather through the last axis' table. */
static em_status remap(const em_tensor *x, const int64_t *shape, maps *m, const void *fill, em_tensor **out) {
    int nd = x->ndim;
    em_tensor *t;
    em_status st = em__new(x->dtype, nd, shape, &t);
    if (st) {
        em__free(m->block);
        return st;
    }
    size_t es = em__dsize(x->dtype);
    for (int d = 0; d < nd; d++)
        for (int64_t i = 0; i < shape[d]; i++)
            if (m->map[d][i] != FILL) m->map[d][i] *= x->strides[d] * (int64_t)es;
            else m->map[d][i] = INT64_MIN;
    int64_t rows = nd ? em__numel(nd - 1, shape) : 1, n = nd ? shape[nd - 1] : 1;
    const int64_t *last = nd ? m->map[nd - 1] : (const int64_t[1]){0};
    const char *src0 = em__ptr(x);
    char *dst = em__ptr(t);
    int64_t idx[EM_MAX_DIMS] = {0};
    for (int64_t r = 0; r < rows && n > 0; r++, dst += n * (int64_t)es) {
        int64_t base = 0;
        bool fill_row = false;
        for (int d = 0; d < nd - 1; d++) {
            int64_t o = m->map[d][idx[d]];
            fill_row |= o == INT64_MIN;
            base += fill_row ? 0 : o;
        }
        const char *src = src0 + base;
#define ROW(ES)                                                                             \
    for (int64_t j = 0; j < n; j++)                                                         \
        memcpy(dst + j * (ES), fill_row || last[j] == INT64_MIN ? fill : src + last[j], ES); \
    break;
        switch (es) {
        case 1: ROW(1)
        case 4: ROW(4)
        case 8: ROW(8)
        default: ROW(es)
        }
#undef ROW
        for (int d = nd - 2; d >= 0 && ++idx[d] == shape[d]; d--) idx[d] = 0;
    }
    em__free(m->block);
    *out = t;
    return EM_OK;
}

/* remap(src, ...) that, when x requires grad, records the remap for
 * autograd (backward_shape.c) with a copy of the maps taken before remap()
 * turns them into byte offsets.  src is x, or (tile) a view of x with
 * leading size-1 axes. */
static em_status remap_rec(const char *name, const em_tensor *x, const em_tensor *src, const int64_t *shape, maps *m,
                           const void *fill, em_tensor **out) {
    int64_t *copy = NULL;
    if (em__ag_want1(x) && em_dtype_is_float(x->dtype)) {
        int64_t total = 0;
        for (int d = 0; d < src->ndim; d++) total += shape[d];
        if (!(copy = em__alloc(sizeof(int64_t) * (size_t)(total ? total : 1)))) {
            em__free(m->block);
            return em__error(EM_ERR_NOMEM, "%s: out of memory recording the autograd graph", name);
        }
        if (total) memcpy(copy, m->block, sizeof(int64_t) * (size_t)total);
    }
    em_status st = remap(src, shape, m, fill, out);
    if (!copy) return st;
    if (st) {
        em__free(copy);
        return st;
    }
    return em__ag_remap(name, x, src->ndim, src->shape, shape, copy, out);
}

/* Identity maps on every axis (callers then overwrite the axes they change). */
static void maps_identity(int nd, const int64_t *shape, maps *m) {
    for (int d = 0; d < nd; d++)
        for (int64_t i = 0; i < shape[d]; i++) m->map[d][i] = i;
}

/* i mod n in [0, n) for any int64 i and n > 0. */
static int64_t mod(int64_t i, int64_t n) {
    int64_t r = i % n;
    return r < 0 ? r + n : r;
}

/* ---- concat / stack / split -------------------------------------------- */

/* Checks the common preconditions of concat and stack. */
static em_status check_list(const char *op, const em_tensor *const *xs, int n, void *out) {
    if (!xs || !out) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    if (n <= 0) return em__error(EM_ERR_INVALID_ARG, "%s: needs at least one tensor, got %d", op, n);
    for (int i = 0; i < n; i++)
        if (!xs[i]) return em__error(EM_ERR_INVALID_ARG, "%s: tensor %d is NULL", op, i);
    return EM_OK;
}

/* Copies xs[i] into the slot i of out along `axis` (stack: each slot is one
 * index of a new axis, which the view drops; concat: a range of the axis). */
static em_status copy_slots(const em_tensor *const *xs, int n, int axis, bool new_axis, em_tensor *out) {
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        const em_tensor *x = xs[i];
        int64_t st[EM_MAX_DIMS];
        for (int d = 0, s = 0; d < out->ndim; d++)
            if (!(new_axis && d == axis)) st[s++] = out->strides[d];
        em_tensor *v;
        EM_TRY(em__view(out, out->dtype, x->ndim, x->shape, st, off * out->strides[axis], &v));
        em_status s = em_tensor_copy_into(v, x);
        em_tensor_free(v);
        EM_TRY(s);
        off += new_axis ? 1 : x->shape[axis];
    }
    return EM_OK;
}

static em_status concat_raw(const em_tensor *const *xs, int n, int axis, em_tensor **out) {
    EM_TRY(check_list("concat", xs, n, out));
    int nd = xs[0]->ndim, a;
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    if (nd == 0) return em__error(EM_ERR_SHAPE, "concat: zero-dimensional tensors cannot be concatenated");
    EM_TRY(em__axis("concat", axis, nd, &a));
    int64_t shape[EM_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof shape);
    em_dtype dt = xs[0]->dtype;
    for (int i = 1; i < n; i++) {
        const em_tensor *x = xs[i];
        bool ok = x->ndim == nd;
        for (int d = 0; ok && d < nd; d++) ok = d == a || x->shape[d] == shape[d];
        if (!ok)
            return em__error(EM_ERR_SHAPE, "concat: tensor %d of shape %s does not match tensor 0 of shape %s "
                             "except on axis %d", i, em__desc(x, b1), em__desc(xs[0], b2), axis);
        if (shape[a] > MAX_NUMEL - x->shape[a]) return em__error(EM_ERR_SHAPE, "concat: result is too large");
        shape[a] += x->shape[a];
        dt = em_promote_types(dt, x->dtype);
    }
    em_tensor *t;
    EM_TRY(em__check_shape("concat", nd, shape));
    EM_TRY(em__new(dt, nd, shape, &t));
    em_status st = copy_slots(xs, n, a, false, t);
    if (st) {
        em_tensor_free(t);
        return st;
    }
    *out = t;
    return EM_OK;
}

static em_status stack_raw(const em_tensor *const *xs, int n, int axis, em_tensor **out) {
    EM_TRY(check_list("stack", xs, n, out));
    int nd = xs[0]->ndim, a;
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    if (nd + 1 > EM_MAX_DIMS)
        return em__error(EM_ERR_SHAPE, "stack: result would have %d dimensions; ember supports %d", nd + 1,
                         EM_MAX_DIMS);
    EM_TRY(em__axis("stack", axis, nd + 1, &a));
    em_dtype dt = xs[0]->dtype;
    for (int i = 1; i < n; i++) {
        const em_tensor *x = xs[i];
        bool ok = x->ndim == nd;
        for (int d = 0; ok && d < nd; d++) ok = x->shape[d] == xs[0]->shape[d];
        if (!ok)
            return em__error(EM_ERR_SHAPE, "stack: tensor %d of shape %s differs from tensor 0 of shape %s", i,
                             em__desc(x, b1), em__desc(xs[0], b2));
        dt = em_promote_types(dt, x->dtype);
    }
    int64_t shape[EM_MAX_DIMS];
    for (int d = 0, s = 0; d <= nd; d++) shape[d] = d == a ? n : xs[0]->shape[s++];
    em_tensor *t;
    EM_TRY(em__check_shape("stack", nd + 1, shape));
    EM_TRY(em__new(dt, nd + 1, shape, &t));
    em_status st = copy_slots(xs, n, a, true, t);
    if (st) {
        em_tensor_free(t);
        return st;
    }
    *out = t;
    return EM_OK;
}

static em_status split_raw(const em_tensor *x, int axis, const int64_t *sizes, int nparts, em_tensor **outs) {
    if (!x || (nparts > 0 && (!sizes || !outs))) return em__error(EM_ERR_INVALID_ARG, "split: NULL argument");
    if (nparts < 0) return em__error(EM_ERR_INVALID_ARG, "split: negative number of parts %d", nparts);
    int a;
    char b[EM_DESC_LEN];
    EM_TRY(em__axis("split", axis, x->ndim, &a));
    int64_t total = 0;
    for (int i = 0; i < nparts; i++) {
        if (sizes[i] < 0 || sizes[i] > x->shape[a] - total)
            return em__error(EM_ERR_SHAPE, "split: part %d has size %lld; sizes must be >= 0 and sum to %lld "
                             "(axis %d of %s)", i, (long long)sizes[i], (long long)x->shape[a], axis, em__desc(x, b));
        total += sizes[i];
    }
    if (total != x->shape[a])
        return em__error(EM_ERR_SHAPE, "split: sizes sum to %lld but axis %d of %s has size %lld", (long long)total,
                         axis, em__desc(x, b), (long long)x->shape[a]);
    /* build into a scratch array so outs is untouched on failure */
    em_tensor **tmp;
    EM_TRY(em__alloc_or_fail((size_t)(nparts ? nparts : 1) * sizeof *tmp, "split", (void **)&tmp));
    int64_t shape[EM_MAX_DIMS], off = 0;
    memcpy(shape, x->shape, sizeof shape);
    em_status st = EM_OK;
    int made = 0;
    for (; made < nparts; made++) {
        shape[a] = sizes[made];
        if ((st = em__view(x, x->dtype, x->ndim, shape, x->strides, x->offset + off, &tmp[made]))) break;
        off += sizes[made] * x->strides[a];
    }
    if (st)
        while (made--) em_tensor_free(tmp[made]);
    else if (nparts)
        memcpy(outs, tmp, (size_t)nparts * sizeof *tmp);
    em__free(tmp);
    return st;
}

/* ---- pad / roll / repeat / tile ---------------------------------------- */

em_status em_pad(const em_tensor *x, const int64_t *pads, em_pad_mode mode, double value, em_tensor **out) {
    if (!x || !out || (x->ndim && !pads)) return em__error(EM_ERR_INVALID_ARG, "pad: NULL argument");
    static const char *const names[] = {"constant", "reflect", "replicate", "circular"};
    if ((unsigned)mode > EM_PAD_CIRCULAR) return em__error(EM_ERR_INVALID_ARG, "pad: unknown mode %d", (int)mode);
    int nd = x->ndim;
    int64_t shape[EM_MAX_DIMS] = {0};
    char b[EM_DESC_LEN];
    for (int d = 0; d < nd; d++) {
        int64_t lo = pads[2 * d], hi = pads[2 * d + 1], n = x->shape[d];
        int64_t worst = lo > hi ? lo : hi;
        if (lo < 0 || hi < 0)
            return em__error(EM_ERR_INVALID_ARG, "pad: negative pad (%lld, %lld) on axis %d of %s", (long long)lo,
                             (long long)hi, d, em__desc(x, b));
        /* reflect never repeats the edge, so it needs pad < size; circular
         * wraps once (pad <= size); replicate needs an edge to copy */
        bool bad = (mode == EM_PAD_REFLECT && worst > 0 && worst >= n) || (mode == EM_PAD_CIRCULAR && worst > n) ||
                   (mode == EM_PAD_REPLICATE && worst > 0 && n == 0);
        if (bad)
            return em__error(EM_ERR_INVALID_ARG, "pad: %s pad %lld on axis %d is too large for size %lld (%s)",
                             names[mode], (long long)worst, d, (long long)n, em__desc(x, b));
        if (lo > MAX_NUMEL - n || hi > MAX_NUMEL - n - lo)
            return em__error(EM_ERR_SHAPE, "pad: padded size of axis %d is too large", d);
        shape[d] = lo + n + hi;
    }
    maps m;
    EM_TRY(maps_alloc("pad", nd, shape, &m));
    for (int d = 0; d < nd; d++) {
        int64_t lo = pads[2 * d], n = x->shape[d];
        for (int64_t i = 0; i < shape[d]; i++) {
            int64_t j = i - lo; /* index into x before folding it back */
            int64_t r = j;
            if (j < 0 || j >= n) {
                switch (mode) {
                case EM_PAD_CONSTANT: r = FILL; break;
                case EM_PAD_REFLECT: r = j < 0 ? -j : 2 * (n - 1) - j; break;
                case EM_PAD_REPLICATE: r = j < 0 ? 0 : n - 1; break;
                case EM_PAD_CIRCULAR: r = mod(j, n); break;
                }
            }
            m.map[d][i] = r;
        }
    }
    char fill[8];
    em__store(x->dtype, fill, value);
    static const char *const nodes[] = {"ConstantPadNdBackward0", "ReflectionPadBackward0", "ReplicationPadBackward0",
                                        "CircularPadBackward0"};
    return remap_rec(nodes[mode], x, x, shape, &m, fill, out);
}

em_status em_roll(const em_tensor *x, const int64_t *shifts, const int *axes, int naxes, em_tensor **out) {
    if (!x || !out || !shifts || (naxes > 0 && !axes)) return em__error(EM_ERR_INVALID_ARG, "roll: NULL argument");
    if (naxes < 0) return em__error(EM_ERR_INVALID_ARG, "roll: negative number of axes %d", naxes);
    if (naxes == 0) { /* the flattened tensor, then back to x's shape */
        int64_t n = em__numel(x->ndim, x->shape);
        em_tensor *flat, *rolled;
        int ax = 0;
        EM_TRY(em_tensor_reshape(x, 1, &n, &flat));
        em_status st = em_roll(flat, shifts, &ax, 1, &rolled);
        em_tensor_free(flat);
        EM_TRY(st);
        st = em_tensor_view(rolled, x->ndim, x->shape, out);
        em_tensor_free(rolled);
        return st;
    }
    int64_t shift[EM_MAX_DIMS] = {0};
    for (int i = 0; i < naxes; i++) {
        int a;
        EM_TRY(em__axis("roll", axes[i], x->ndim, &a));
        /* repeated axes add their shifts (NumPy), kept reduced to avoid overflow */
        if (x->shape[a]) shift[a] = mod(shift[a] + mod(shifts[i], x->shape[a]), x->shape[a]);
    }
    maps m;
    EM_TRY(maps_alloc("roll", x->ndim, x->shape, &m));
    for (int d = 0; d < x->ndim; d++)
        for (int64_t i = 0; i < x->shape[d]; i++) m.map[d][i] = mod(i - shift[d], x->shape[d]);
    return remap_rec("RollBackward0", x, x, x->shape, &m, NULL, out);
}

em_status em_repeat(const em_tensor *x, const int64_t *repeats, int64_t nrep, int axis, em_tensor **out) {
    if (!x || !out || (nrep > 0 && !repeats)) return em__error(EM_ERR_INVALID_ARG, "repeat: NULL argument");
    if (axis == EM_AXIS_NONE) {
        int64_t n = em__numel(x->ndim, x->shape);
        em_tensor *flat;
        EM_TRY(em_tensor_reshape(x, 1, &n, &flat));
        em_status st = em_repeat(flat, repeats, nrep, 0, out);
        em_tensor_free(flat);
        return st;
    }
    int a;
    char b[EM_DESC_LEN];
    EM_TRY(em__axis("repeat", axis, x->ndim, &a));
    int64_t n = x->shape[a], total = 0;
    if (nrep != 1 && nrep != n)
        return em__error(EM_ERR_SHAPE, "repeat: %lld repeat counts for axis %d of %s; give 1 or %lld",
                         (long long)nrep, axis, em__desc(x, b), (long long)n);
    for (int64_t j = 0; j < n; j++) {
        int64_t r = repeats[nrep == 1 ? 0 : j];
        if (r < 0) return em__error(EM_ERR_INVALID_ARG, "repeat: negative count %lld at position %lld",
                                    (long long)r, (long long)(nrep == 1 ? 0 : j));
        if (r > MAX_NUMEL - total) return em__error(EM_ERR_SHAPE, "repeat: result is too large");
        total += r;
    }
    int64_t shape[EM_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[a] = total;
    maps m;
    EM_TRY(maps_alloc("repeat", x->ndim, shape, &m));
    maps_identity(x->ndim, shape, &m);
    for (int64_t j = 0, i = 0; j < n; j++)
        for (int64_t r = repeats[nrep == 1 ? 0 : j]; r > 0; r--) m.map[a][i++] = j;
    return remap_rec("RepeatInterleaveBackward0", x, x, shape, &m, NULL, out);
}

em_status em_tile(const em_tensor *x, const int64_t *reps, int nreps, em_tensor **out) {
    if (!x || !out || (nreps > 0 && !reps)) return em__error(EM_ERR_INVALID_ARG, "tile: NULL argument");
    if (nreps < 0) return em__error(EM_ERR_INVALID_ARG, "tile: negative number of repetitions %d", nreps);
    int nd = nreps > x->ndim ? nreps : x->ndim;
    if (nd > EM_MAX_DIMS)
        return em__error(EM_ERR_SHAPE, "tile: %d repetitions give %d dimensions; ember supports %d", nreps, nd,
                         EM_MAX_DIMS);
    /* x gains leading size-1 axes, reps leading 1s, so both have nd entries */
    int64_t xs[EM_MAX_DIMS], shape[EM_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        int dx = d - (nd - x->ndim), dr = d - (nd - nreps);
        int64_t r = dr >= 0 ? reps[dr] : 1;
        xs[d] = dx >= 0 ? x->shape[dx] : 1;
        if (r < 0) return em__error(EM_ERR_INVALID_ARG, "tile: negative repetition %lld at position %d", (long long)r, dr);
        if (r && xs[d] > MAX_NUMEL / r) return em__error(EM_ERR_SHAPE, "tile: result is too large");
        shape[d] = xs[d] * r;
    }
    em_tensor *xv;
    int64_t st[EM_MAX_DIMS] = {0};
    memcpy(st + nd - x->ndim, x->strides, (size_t)x->ndim * sizeof *st);
    EM_TRY(em__view(x, x->dtype, nd, xs, st, x->offset, &xv));
    maps m;
    em_status s = maps_alloc("tile", nd, shape, &m);
    if (!s) {
        for (int d = 0; d < nd; d++)
            for (int64_t i = 0; i < shape[d]; i++) m.map[d][i] = i % xs[d];
        s = remap_rec("RepeatBackward0", x, xv, shape, &m, NULL, out);
    }
    em_tensor_free(xv);
    return s;
}

/* ---- tril / triu ------------------------------------------------------- */

/* Copy of x with every element outside the kept triangle zeroed (all-zero
 * bytes are 0 for every dtype). */
static em_status triangle(const char *op, const em_tensor *x, int64_t k, bool lower, em_tensor **out) {
    if (!x || !out) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    char b[EM_DESC_LEN];
    if (x->ndim < 2) return em__error(EM_ERR_SHAPE, "%s: needs at least 2 dimensions, got %s", op, em__desc(x, b));
    int64_t rows = x->shape[x->ndim - 2], cols = x->shape[x->ndim - 1];
    /* clamping k keeps i + k from overflowing without changing the result */
    if (k > cols + 1) k = cols + 1;
    if (k < -rows - 1) k = -rows - 1;
    em_tensor *t;
    EM_TRY(em_tensor_clone(x, &t));
    size_t es = em__dsize(x->dtype);
    char *p = em__ptr(t);
    int64_t mats = em__numel(x->ndim - 2, x->shape);
    for (int64_t mi = 0; mi < mats; mi++)
        for (int64_t i = 0; i < rows; i++, p += cols * (int64_t)es) {
            /* tril keeps j <= i + k, triu keeps j >= i + k: zero [lo, hi) */
            int64_t lo = lower ? i + k + 1 : 0, hi = lower ? cols : i + k;
            if (lo < 0) lo = 0;
            if (hi > cols) hi = cols;
            if (hi > lo) memset(p + lo * (int64_t)es, 0, (size_t)(hi - lo) * es);
        }
    *out = t;
    return EM_OK;
}

/* Recorded for autograd (the gradient is the same triangle of g). */
em_status em_tril(const em_tensor *x, int64_t k, em_tensor **out) {
    if (!em__ag_want1(x)) return triangle("tril", x, k, true, out);
    em_status st;
    EM__AG_NOREC(st, triangle("tril", x, k, true, out)); /* its clone must not record a node of its own */
    return st ? st : em__ag_triangle(x, k, true, out);
}
em_status em_triu(const em_tensor *x, int64_t k, em_tensor **out) {
    if (!em__ag_want1(x)) return triangle("triu", x, k, false, out);
    em_status st;
    EM__AG_NOREC(st, triangle("triu", x, k, false, out)); /* its clone must not record a node of its own */
    return st ? st : em__ag_triangle(x, k, false, out);
}

/* ---- public entry points of concat/stack/split with their autograd records */
static bool any_req(const em_tensor *const *xs, int n) {
    if (em__ag_off || !xs) return false;
    for (int i = 0; i < n; i++)
        if (em__ag_req(xs[i])) return true;
    return false;
}

em_status em_concat(const em_tensor *const *xs, int n, int axis, em_tensor **out) {
    if (!any_req(xs, n)) return concat_raw(xs, n, axis, out);
    em_status st;
    EM__AG_NOREC(st, concat_raw(xs, n, axis, out));
    return st ? st : em__ag_concat("concat", xs, n, axis, false, out);
}

em_status em_stack(const em_tensor *const *xs, int n, int axis, em_tensor **out) {
    if (!any_req(xs, n)) return stack_raw(xs, n, axis, out);
    em_status st;
    EM__AG_NOREC(st, stack_raw(xs, n, axis, out));
    return st ? st : em__ag_concat("stack", xs, n, axis, true, out);
}

/* Each part is recorded as a slice of x. */
em_status em_split(const em_tensor *x, int axis, const int64_t *sizes, int nparts, em_tensor **outs) {
    EM_TRY(split_raw(x, axis, sizes, nparts, outs));
    if (!em__ag_want1(x)) return EM_OK;
    int a = axis < 0 ? axis + x->ndim : axis;
    int64_t off = 0;
    em_status st = EM_OK;
    for (int i = 0; i < nparts; i++) {
        int64_t p[4] = {a, off, off + sizes[i], 1};
        off += sizes[i];
        if (!st) st = em__ag_view(EM__AG_SLICE, "SplitWithSizesBackward0", x, p, 4, &outs[i]);
        else em_tensor_free(outs[i]);
    }
    if (st)
        for (int i = 0; i < nparts; i++) {
            em_tensor_free(outs[i]);
            outs[i] = NULL;
        }
    return st;
}
