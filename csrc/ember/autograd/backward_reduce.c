/* Gradients of the reductions: the output gradient is broadcast back over
 * the reduced axes and weighted per op. */
#include "ag.h"

#define U(op, x) em__f_un(&f, EM_OP_##op, x)
#define B(op, a, b) em__f_bin(&f, EM_OP_##op, a, b)
#define BC(op, a, c) em__f_binc(&f, EM_OP_##op, a, c)
#define CB(op, c, b) em__f_cbin(&f, EM_OP_##op, c, b)
#define SAVED(k) em__f_saved(&f, n, k)
#define ZERO(t) em__f_scalar(&f, 0.0, (t)->dtype)

/* node parameters: i[0] = axes mask (or the scan axis), i[1] = keepdims,
 * i[2] = scan over the flattened tensor; alpha = correction or ord. */

static em_tensor *reduce_keep(em__f *f, em_op op, em_tensor *x, uint32_t mask) {
    if (f->st || !x) return NULL;
    int axes[EM_MAX_DIMS], na = 0;
    for (int i = 0; i < x->ndim; i++)
        if (mask & (1u << i)) axes[na++] = i;
    em_reduce_options o = em_reduce_default_options();
    o.axes = axes;
    o.naxes = na;
    o.keepdims = true;
    em_tensor *r = NULL;
    em_status st_ = em_reduce(op, x, &o, &r);
    return em__f_keep(f, st_, r);
}

static em_tensor *flip_axis(em__f *f, em_tensor *x, int axis) {
    if (f->st || !x) return NULL;
    em_tensor *r = NULL;
    em_status st_ = em_tensor_flip(x, &axis, 1, &r);
    return em__f_keep(f, st_, r);
}

static em_tensor *cumsum_axis(em__f *f, em_tensor *x, int axis) {
    if (f->st || !x) return NULL;
    em_reduce_options o = em_reduce_default_options();
    o.axes = &axis;
    o.naxes = 1;
    em_tensor *r = NULL;
    em_status st_ = em_reduce(EM_OP_CUMSUM, x, &o, &r);
    return em__f_keep(f, st_, r);
}

static em_status reduce_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em__f f = {0};
    em_op op = (em_op)n->op;
    const em__ag_edge *e = &n->in[0];
    em_tensor *r = NULL;
    if (op == EM_OP_CUMSUM || op == EM_OP_CUMPROD) {
        int axis = (int)n->i[0];
        bool flat = n->i[2];
        em_tensor *gx = op == EM_OP_CUMPROD ? B(MUL, g, SAVED(1)) : g;
        r = flip_axis(&f, cumsum_axis(&f, flip_axis(&f, gx, axis), axis), axis);
        if (op == EM_OP_CUMPROD) {
            int64_t numel = em__numel(e->ndim, e->shape);
            em_tensor *x = SAVED(0);
            r = B(DIV, r, flat ? em__f_reshape(&f, x, 1, &numel) : x);
        }
        if (flat) r = em__f_reshape(&f, r, e->ndim, e->shape);
        gin[0] = em__f_take(&f, r);
        return em__f_done(&f);
    }
    uint32_t mask = (uint32_t)n->i[0];
    int64_t ks[EM_MAX_DIMS], cnt = 1;
    for (int i = 0; i < e->ndim; i++) {
        ks[i] = mask & (1u << i) ? 1 : e->shape[i];
        if (mask & (1u << i)) cnt *= e->shape[i];
    }
    em_tensor *gk = em__f_reshape(&f, g, e->ndim, ks); /* keepdims shape */
    em_tensor *x = NULL, *y = NULL;
    if (op != EM_OP_SUM && op != EM_OP_MEAN) x = SAVED(0);
    if (op == EM_OP_MAX || op == EM_OP_MIN || op == EM_OP_STD || op == EM_OP_LOGSUMEXP || op == EM_OP_NORM)
        y = em__f_reshape(&f, SAVED(1), e->ndim, ks);
    switch (op) {
    case EM_OP_SUM: r = gk; break;
    case EM_OP_MEAN: r = BC(DIV, gk, (double)cnt); break;
    case EM_OP_PROD: {
        /* prod of the others, also where x has zeros: with one zero only its
         * position gets the product of the rest; with more, all get 0 */
        em_tensor *xz = BC(EQ, x, 0.0);
        em_tensor *xs = em__f_where(&f, xz, em__f_scalar(&f, 1.0, x->dtype), x);
        em_tensor *nz = reduce_keep(&f, EM_OP_SUM, xz, mask);
        em_tensor *p1 = reduce_keep(&f, EM_OP_PROD, xs, mask);
        em_tensor *at_zero = em__f_where(&f, BC(EQ, nz, 1.0), p1, ZERO(x));
        em_tensor *off_zero = em__f_where(&f, BC(EQ, nz, 0.0), B(DIV, p1, xs), ZERO(x));
        r = B(MUL, gk, em__f_where(&f, xz, at_zero, off_zero));
        break;
    }
    case EM_OP_MAX: case EM_OP_MIN: {
        em_tensor *m = B(EQ, x, y);
        em_tensor *c = reduce_keep(&f, EM_OP_SUM, m, mask);
        r = em__f_where(&f, m, B(DIV, gk, c), ZERO(g));
        break;
    }
    case EM_OP_VAR: case EM_OP_STD: {
        em_tensor *d = B(SUB, x, reduce_keep(&f, EM_OP_MEAN, x, mask));
        double dof = (double)cnt - n->alpha;
        r = op == EM_OP_VAR ? B(MUL, gk, BC(MUL, d, 2.0 / dof)) : B(MUL, B(DIV, gk, BC(MUL, y, dof)), d);
        break;
    }
    case EM_OP_LOGSUMEXP: r = B(MUL, gk, U(EXP, B(SUB, x, y))); break;
    case EM_OP_NORM: {
        double p = n->alpha;
        em_tensor *safe_y = em__f_where(&f, BC(EQ, y, 0.0), em__f_scalar(&f, 1.0, y->dtype), y);
        em_tensor *zero_y = BC(EQ, y, 0.0);
        if (p == 0) {
            r = em__f_zeros(&f, e->dtype, e->ndim, e->shape);
        } else if (p == 1) {
            r = B(MUL, gk, U(SIGN, x));
        } else if (isinf(p)) {
            em_tensor *m = B(EQ, U(ABS, x), y);
            em_tensor *c = reduce_keep(&f, EM_OP_SUM, m, mask);
            r = em__f_where(&f, m, B(MUL, U(SIGN, x), B(DIV, gk, c)), ZERO(g));
        } else if (p == 2) {
            r = em__f_where(&f, zero_y, ZERO(g), B(MUL, gk, B(DIV, x, safe_y)));
        } else {
            em_tensor *num = B(MUL, U(SIGN, x), BC(POW, U(ABS, x), p - 1));
            r = em__f_where(&f, zero_y, ZERO(g), B(MUL, gk, B(DIV, num, BC(POW, safe_y, p - 1))));
        }
        break;
    }
    default:
        if (!f.st) f.st = em__error(EM_ERR_UNSUPPORTED, "backward: %s is not differentiable", n->name);
    }
    if (r && !f.st && (r->ndim != e->ndim || memcmp(r->shape, e->shape, sizeof(int64_t) * (size_t)e->ndim)))
        r = em__f_expand(&f, r, e->ndim, e->shape);
    gin[0] = em__f_take(&f, r);
    return em__f_done(&f);
}

em_status em__ag_reduce(em_op op, const em_tensor *x, const em_reduce_options *opts, em_tensor **out) {
    if (!em_dtype_is_float((*out)->dtype) || !em_dtype_is_float(x->dtype)) return EM_OK;
    em_reduce_options o = opts ? *opts : em_reduce_default_options();
    int64_t p0 = 0, p2 = 0;
    if (op == EM_OP_CUMSUM || op == EM_OP_CUMPROD) {
        int a = 0;
        if (o.axes) EM_TRY(em__axis("cumsum", o.axes[0], x->ndim, &a));
        else {
            a = 0;
            p2 = 1;
        }
        p0 = a;
    } else {
        uint32_t m = 0;
        EM_TRY(em__axes_mask("reduce", o.axes, o.naxes, x->ndim, &m));
        p0 = m;
    }
    em__ag_node *n;
    EM_TRY(em__ag_record(em__ag_op_node_name(op), reduce_bw, out, 1, &x, &n));
    n->op = op;
    n->i[0] = p0;
    n->i[1] = o.keepdims;
    n->i[2] = p2;
    n->alpha = op == EM_OP_NORM ? o.ord : o.correction;
    em_status st = EM_OK;
    if (op != EM_OP_SUM && op != EM_OP_MEAN && op != EM_OP_CUMSUM) st = em__ag_save(n, 0, x, false);
    if (!st && (op == EM_OP_MAX || op == EM_OP_MIN || op == EM_OP_STD || op == EM_OP_LOGSUMEXP || op == EM_OP_NORM ||
                op == EM_OP_CUMPROD))
        st = em__ag_save(n, 1, *out, true);
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}
