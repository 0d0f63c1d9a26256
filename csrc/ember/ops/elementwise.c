/* Elementwise ops: broadcasting, dtype resolution (docs/dtypes.md), output
 * and aliasing rules.  The per-dtype loops are in kernels/elementwise_kernels.c. */
#include "../kernels/elementwise_kernels.h"
#include "../autograd/ag.h"

#include <math.h>

#include "../base/threadpool.h"

/* Elements per parallel range: ~10-30 us of a cheap loop (add), so waking a
 * worker pays off and small tensors run inline. */
#define EW_GRAIN 32768

/* One elementwise run: inputs are cast to in_dt (only those whose dtype
 * differs) and the loop writes the result dtype rt over (ndim, shape). */
typedef struct {
    em__loop_fn loop;
    void *ctx;
    int nin;
    const em_tensor *in[3];
    em_dtype in_dt[3];
    em_dtype rt;
    int ndim;
    int64_t shape[EM_MAX_DIMS];
} ew_call;

/* Byte range [lo, hi) touched by a non-empty tensor. */
static void extent(const em_tensor *t, uintptr_t *lo, uintptr_t *hi) {
    int64_t es = (int64_t)em__dsize(t->dtype), neg = 0, pos = 0;
    for (int i = 0; i < t->ndim; i++) {
        int64_t d = (t->shape[i] - 1) * t->strides[i];
        if (d < 0) neg += d;
        else pos += d;
    }
    uintptr_t base = (uintptr_t)em__ptr(t);
    *lo = base - (uintptr_t)(-neg * es);
    *hi = base + (uintptr_t)((pos + 1) * es);
}

/* Whether writing out element by element while reading in gives the
 * out-of-place result: disjoint memory, or exactly the same elements in the
 * same order (a += b).  Anything else (a[1:] += a[:-1], a broadcast input
 * inside out) must go through a temporary. */
static bool safe_alias(const em_tensor *out, const em_tensor *in) {
    if (!em__numel(out->ndim, out->shape) || !em__numel(in->ndim, in->shape)) return true;
    uintptr_t olo, ohi, ilo, ihi;
    extent(out, &olo, &ohi);
    extent(in, &ilo, &ihi);
    if (ohi <= ilo || ihi <= olo) return true;
    if (em__ptr(out) != em__ptr(in) || out->dtype != in->dtype) return false;
    int lead = out->ndim - in->ndim;
    for (int i = 0; i < out->ndim; i++) {
        if (out->shape[i] == 1) continue;
        if (i < lead || in->shape[i - lead] != out->shape[i] || in->strides[i - lead] != out->strides[i]) return false;
    }
    return true;
}

typedef struct {
    const ew_call *c;
    char *p[4];
    int64_t s[4];
} flat_job;

static void flat_range(void *vj, int64_t b, int64_t e, int tid) {
    const flat_job *j = vj;
    char *p[4];
    for (int i = 0; i <= j->c->nin; i++) p[i] = j->p[i] + b * j->s[i];
    j->c->loop(e - b, p, j->s, j->c->ctx);
}

/* The common case without the iterator: a contiguous output and inputs that
 * are contiguous with its element count or single elements (stride 0).
 * Returns false when the layout needs em__iter. */
static bool run_flat(const ew_call *c, const em_tensor *const *ops) {
    int64_t n = em__numel(c->ndim, c->shape);
    if (!em__is_contiguous(ops[0])) return false;
    char *p[4] = {0};
    int64_t s[4] = {0};
    for (int i = 0; i <= c->nin; i++) {
        int64_t m = em__numel(ops[i]->ndim, ops[i]->shape);
        if (m == n && em__is_contiguous(ops[i])) s[i] = (int64_t)em__dsize(ops[i]->dtype);
        else if (m == 1) s[i] = 0;
        else return false;
        p[i] = em__ptr(ops[i]);
    }
    if (n > EW_GRAIN && em__threads() > 1) {
        flat_job j = {c, {p[0], p[1], p[2], p[3]}, {s[0], s[1], s[2], s[3]}};
        em__parallel_for(n, EW_GRAIN, em__threads(), flat_range, &j);
    } else if (n) {
        c->loop(n, p, s, c->ctx);
    }
    return true;
}

/* Runs c into out (which has the result shape and a dtype rt casts to) or,
 * with out NULL, into a new tensor returned in *result. */
static em_status ew_run(const ew_call *c, em_tensor *out, em_tensor **result) {
    em_tensor *cast[3] = {NULL, NULL, NULL}, *tmp = NULL;
    const em_tensor *ops[4];
    em_status st = EM_OK;
    for (int i = 0; i < c->nin; i++) {
        ops[i + 1] = c->in[i];
        if (c->in[i]->dtype != c->in_dt[i]) {
            if ((st = em_tensor_cast(c->in[i], c->in_dt[i], &cast[i]))) goto done;
            ops[i + 1] = cast[i];
        }
    }
    bool direct = out && out->dtype == c->rt;
    for (int i = 0; direct && i < c->nin; i++) direct = safe_alias(out, ops[i + 1]);
    if (!direct && (st = em__new(c->rt, c->ndim, c->shape, &tmp))) goto done;
    ops[0] = direct ? out : tmp;
    if (!run_flat(c, ops)) {
        em__iter it;
        if ((st = em__iter_init(&it, c->nin + 1, ops, c->ndim, c->shape))) goto done;
        em__iter_run_parallel(&it, EW_GRAIN, c->loop, c->ctx);
    }
    if (out && tmp) {
        st = em_tensor_copy_into(out, tmp);
    } else if (!out) {
        *result = tmp;
        tmp = NULL;
    }
done:
    em_tensor_free(tmp);
    for (int i = 0; i < c->nin; i++) em_tensor_free(cast[i]);
    return st;
}

/* "Same kind" casting of a result into an existing output: bool to
 * anything, integers to integers or floats, floats to floats. */
static bool same_kind(em_dtype from, em_dtype to) {
    if (from == EM_BOOL || from == to) return true;
    if (to == EM_BOOL) return false;
    return !em_dtype_is_float(from) || em_dtype_is_float(to);
}

static em_status check_out(const char *name, const ew_call *c, const em_tensor *out) {
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    bool same = out->ndim == c->ndim;
    for (int i = 0; same && i < c->ndim; i++) same = out->shape[i] == c->shape[i];
    if (!same)
        return em__error(EM_ERR_SHAPE, "%s: output %s does not have the result shape %s", name, em__desc(out, b1),
                         em__shape_str(c->ndim, c->shape, b2));
    if (!same_kind(c->rt, out->dtype))
        return em__error(EM_ERR_DTYPE, "%s: result dtype %s cannot be cast to output dtype %s", name,
                         em_dtype_name(c->rt), em_dtype_name(out->dtype));
    return EM_OK;
}

/* Compute dtype of op for operands promoted to dt, or -1 if unsupported. */
static int compute_dtype(const em__ew_kernel *k, em_dtype dt) {
    if (!k->loop[dt] && k->fallback >= 0 && !em_dtype_is_float(dt)) dt = (em_dtype)k->fallback;
    return k->loop[dt] ? (int)dt : -1;
}

/* ---- unary -------------------------------------------------------------- */
static em_status unary(em_op op, const em_tensor *x, double alpha, em_tensor *out, em_tensor **result) {
    if ((unsigned)op >= EM_OP_UNARY_END_) return em__error(EM_ERR_INVALID_ARG, "unary: %d is not a unary op", (int)op);
    const char *name = em_op_name(op);
    if (!x || !(out || result)) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", name);
    if (op == EM_OP_LEAKY_RELU || op == EM_OP_ELU || op == EM_OP_SOFTPLUS) {
        if (isnan(alpha)) alpha = op == EM_OP_LEAKY_RELU ? 0.01 : 1.0;
        if (!isfinite(alpha) || (op == EM_OP_SOFTPLUS && alpha == 0))
            return em__error(EM_ERR_INVALID_ARG, "%s: parameter must be finite%s, got %g", name,
                             op == EM_OP_SOFTPLUS ? " and nonzero" : "", alpha);
    }
    const em__ew_kernel *k = em__ew_kernel_of(op);
    int ct = compute_dtype(k, x->dtype);
    char b1[EM_DESC_LEN];
    if (ct < 0) return em__error(EM_ERR_DTYPE, "%s: unsupported input %s", name, em__desc(x, b1));
    ew_call c = {k->loop[ct], &alpha, 1, {x}, {(em_dtype)ct}, k->to_bool ? EM_BOOL : (em_dtype)ct, x->ndim, {0}};
    memcpy(c.shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    if (out) EM_TRY(check_out(name, &c, out));
    return ew_run(&c, out, result);
}

em_status em_unary(em_op op, const em_tensor *x, double alpha, em_tensor **out) {
    EM_TRY(unary(op, x, alpha, NULL, out));
    return em__ag_want1(x) ? em__ag_unary(op, x, alpha, out) : EM_OK;
}

em_status em_unary_into(em_op op, const em_tensor *x, double alpha, em_tensor *out) {
    if (out) EM_TRY(em__ag_check_inplace(em_op_name(op), out, x, NULL));
    return unary(op, x, alpha, out, NULL);
}

/* ---- binary ------------------------------------------------------------- */
static em_status broadcast2(const char *name, const em_tensor *a, const em_tensor *b, int *nd, int64_t *shape) {
    if (a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim)) {
        *nd = a->ndim;
        memcpy(shape, a->shape, sizeof(int64_t) * (size_t)a->ndim);
        return EM_OK;
    }
    if (em_broadcast_shapes(a->ndim, a->shape, b->ndim, b->shape, nd, shape) == EM_OK) return EM_OK;
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    return em__error(EM_ERR_SHAPE, "%s: shapes %s and %s cannot be broadcast", name, em__desc(a, b1), em__desc(b, b2));
}

static em_status binary(em_op op, const em_tensor *a, const em_tensor *b, em_tensor *out, em_tensor **result) {
    const em__ew_kernel *k = em__ew_kernel_of(op);
    if (!k || op < EM_OP_UNARY_END_) return em__error(EM_ERR_INVALID_ARG, "binary: %d is not a binary op", (int)op);
    const char *name = em_op_name(op);
    if (!a || !b || !(out || result)) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", name);
    ew_call c = {NULL, NULL, 2, {a, b}, {0}, 0, 0, {0}};
    EM_TRY(broadcast2(name, a, b, &c.ndim, c.shape));
    int ct = compute_dtype(k, em_promote_types(a->dtype, b->dtype));
    if (ct < 0) {
        char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
        return em__error(EM_ERR_DTYPE, "%s: unsupported operands %s and %s", name, em__desc(a, b1), em__desc(b, b2));
    }
    c.loop = k->loop[ct];
    c.in_dt[0] = c.in_dt[1] = (em_dtype)ct;
    c.rt = k->to_bool ? EM_BOOL : (em_dtype)ct;
    if (out) EM_TRY(check_out(name, &c, out));
    return ew_run(&c, out, result);
}

em_status em_binary(em_op op, const em_tensor *a, const em_tensor *b, em_tensor **out) {
    EM_TRY(binary(op, a, b, NULL, out));
    return em__ag_want2(a, b) ? em__ag_binary(op, a, b, out) : EM_OK;
}

em_status em_binary_into(em_op op, const em_tensor *a, const em_tensor *b, em_tensor *out) {
    if (out) EM_TRY(em__ag_check_inplace(em_op_name(op), out, a, b));
    return binary(op, a, b, out, NULL);
}

/* ---- where -------------------------------------------------------------- */
/* A pure selection: moves elements by size (1, 4 or 8 bytes); cond is read
 * as bytes so any nonzero byte is true.
 * Each of x and y is either contiguous or broadcast from one element (stride
 * 0: autograd's masks, where(x > 0, g, 0) with an expanded g); those four
 * cases get loops the compiler vectorises, anything else the strided one. */
static void where_loop(int64_t n, char **p, const int64_t *s, void *ctx) {
    size_t es = *(const size_t *)ctx;
    const uint8_t *c = (const uint8_t *)p[1];
#define WHERE_SEL(T, c, a, b) ((T)(((a) & ((T)0 - (T)((c) != 0))) | ((b) & ~((T)0 - (T)((c) != 0)))))
#define WHERE_BODY(T)                                                                      \
    const int64_t sz = (int64_t)sizeof(T);                                                 \
    if (s[0] == sz && s[1] == 1 && (s[2] == sz || s[2] == 0) && (s[3] == sz || s[3] == 0)) { \
        T *o = (T *)p[0];                                                                  \
        const T *x = (const T *)p[2], *y = (const T *)p[3], xv = *x, yv = *y;              \
        /* a mask select (every load unconditional) so the loops vectorise */           \
        if (s[2] && s[3])                                                                  \
            for (int64_t i = 0; i < n; i++) o[i] = WHERE_SEL(T, c[i], x[i], y[i]);          \
        else if (s[2])                                                                     \
            for (int64_t i = 0; i < n; i++) o[i] = WHERE_SEL(T, c[i], x[i], yv);            \
        else if (s[3])                                                                     \
            for (int64_t i = 0; i < n; i++) o[i] = WHERE_SEL(T, c[i], xv, y[i]);            \
        else                                                                               \
            for (int64_t i = 0; i < n; i++) o[i] = WHERE_SEL(T, c[i], xv, yv);              \
    } else {                                                                               \
        for (int64_t i = 0; i < n; i++) {                                                  \
            int k = c[i * s[1]] ? 2 : 3;                                                   \
            *(T *)(p[0] + i * s[0]) = *(const T *)(p[k] + i * s[k]);                       \
        }                                                                                  \
    }
    switch (es) {
    case 1: { WHERE_BODY(uint8_t) } break;
    case 4: { WHERE_BODY(uint32_t) } break;
    default: { WHERE_BODY(uint64_t) } break;
    }
#undef WHERE_BODY
#undef WHERE_SEL
}

em_status em_where(const em_tensor *cond, const em_tensor *a, const em_tensor *b, em_tensor **out) {
    if (!cond || !a || !b || !out) return em__error(EM_ERR_INVALID_ARG, "where: NULL argument");
    int nd;
    int64_t sh[EM_MAX_DIMS];
    ew_call c = {where_loop, NULL, 3, {cond, a, b}, {EM_BOOL, 0, 0}, em_promote_types(a->dtype, b->dtype), 0, {0}};
    if (em_broadcast_shapes(cond->ndim, cond->shape, a->ndim, a->shape, &nd, sh) ||
        em_broadcast_shapes(nd, sh, b->ndim, b->shape, &c.ndim, c.shape)) {
        char b1[EM_DESC_LEN], b2[EM_DESC_LEN], b3[EM_DESC_LEN];
        return em__error(EM_ERR_SHAPE, "where: shapes %s, %s and %s cannot be broadcast", em__desc(cond, b1),
                         em__desc(a, b2), em__desc(b, b3));
    }
    c.in_dt[1] = c.in_dt[2] = c.rt;
    size_t es = em__dsize(c.rt);
    c.ctx = &es;
    EM_TRY(ew_run(&c, NULL, out));
    return em__ag_want2(a, b) ? em__ag_where(cond, a, b, out) : EM_OK;
}

/* ---- clip --------------------------------------------------------------- */
/* clip = minimum(maximum(x, lo), hi) in x's dtype, so NaN in x or in a
 * bound propagates and lo > hi gives hi (as NumPy). */
em_status em_clip(const em_tensor *x, const em_tensor *lo, const em_tensor *hi, em_tensor **out) {
    if (!x || !out) return em__error(EM_ERR_INVALID_ARG, "clip: NULL argument");
    const em_tensor *bounds[2] = {lo, hi};
    for (int i = 0; i < 2; i++) {
        int nd;
        int64_t sh[EM_MAX_DIMS];
        if (!bounds[i]) continue;
        bool ok = em_broadcast_shapes(x->ndim, x->shape, bounds[i]->ndim, bounds[i]->shape, &nd, sh) == EM_OK &&
                  nd == x->ndim && !memcmp(sh, x->shape, sizeof(int64_t) * (size_t)nd);
        if (!ok) {
            char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
            return em__error(EM_ERR_SHAPE, "clip: %s bound %s cannot be broadcast to x's shape %s",
                             i ? "upper" : "lower", em__desc(bounds[i], b1), em__desc(x, b2));
        }
    }
    if (!lo && !hi) return em_tensor_clone(x, out); /* recorded by clone */
    em_dtype dt = x->dtype;
    ew_call c = {NULL, NULL, 2, {x, NULL}, {dt, dt}, dt, x->ndim, {0}};
    memcpy(c.shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    em_tensor *r = NULL;
    if (lo) {
        c.loop = em__ew_kernel_of(EM_OP_MAXIMUM)->loop[dt];
        c.in[1] = lo;
        EM_TRY(ew_run(&c, NULL, &r));
        c.in[0] = r;
    }
    if (hi) {
        c.loop = em__ew_kernel_of(EM_OP_MINIMUM)->loop[dt];
        c.in[1] = hi;
        em_status st = ew_run(&c, r, r ? NULL : &r); /* in place over the maximum */
        if (st) {
            em_tensor_free(r);
            return st;
        }
    }
    *out = r;
    return !em__ag_off && (em__ag_req(x) || em__ag_req(lo) || em__ag_req(hi)) ? em__ag_clip(x, lo, hi, out) : EM_OK;
}
