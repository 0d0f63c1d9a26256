/* Gradients of the reductions: the output gradient is broadcast back over
 * the reduced axes and weighted per op. */
#include "ag.h"
#include "formula_short.h"

/* node parameters: i[0] = axes mask (or the scan axis), i[1] = keepdims,
 * i[2] = scan over the flattened tensor; alpha = correction or ord. */

/* op over the axes in mask, keeping them (size 1) so the result broadcasts
 * back against x. */
static em_tensor *reduce_keep(em__f *f, em_op op, em_tensor *x, uint32_t mask) {
    if (f->st || !x) return NULL;
    int axes[EM_MAX_DIMS], na = 0;
    for (int i = 0; i < x->ndim; i++)
        if (mask & (1u << i)) axes[na++] = i;
    return em__f_reduce(f, op, x, axes, na, true);
}

static em_tensor *flip_axis(em__f *f, em_tensor *x, int axis) {
    if (f->st || !x) return NULL;
    em_tensor *r = NULL;
    em_status st_ = em_tensor_flip(x, &axis, 1, &r);
    return em__f_keep(f, st_, r);
}

static em_tensor *cumsum_axis(em__f *f, em_tensor *x, int axis) {
    return em__f_reduce(f, EM_OP_CUMSUM, x, &axis, 1, false);
}

/* Reverse cumulative sum along axis: out_i = sum_{j >= i} t_j. */
static em_tensor *revcumsum(em__f *f, em_tensor *t, int axis) {
    return flip_axis(f, cumsum_axis(f, flip_axis(f, t, axis), axis), axis);
}

static em_tensor *cumprod_axis(em__f *f, em_tensor *x, int axis) {
    return em__f_reduce(f, EM_OP_CUMPROD, x, &axis, 1, false);
}

/* Gradient of y = cumprod(x) along axis: gx_i = sum_{j >= i} g_j prod_{k <= j, k != i} x_k.
 * Without zeros that is revcumsum(g y) / x, an identity near x, so it is
 * also right to differentiate again.  With zeros and grad mode off, an O(n)
 * form: before the first zero of a row the same; after it every product
 * holds the zero; at the first zero z it is revcumsum(g y')_z with y' the
 * cumprod of x with that zero replaced by 1.  With zeros and recording on:
 * cumprod_grad_poly.  *zeros tells the caller which case it is. */
static em_tensor *cumprod_grad_fast(em__f *f, em_tensor *g, em_tensor *x, em_tensor *y, int axis, bool *zeros) {
    *zeros = false;
    if (f->st || !g || !x || !y) return NULL;
    em_tensor *xz = em__f_binc(f, EM_OP_EQ, x, 0.0);
    em_tensor *nz = em__f_reduce(f, EM_OP_ANY, xz, NULL, 0, false); /* is there a zero at all */
    double any = 0;
    if (!f->st && nz && em__numel(x->ndim, x->shape) > 0) f->st = em_tensor_item(nz, &any);
    if (f->st) return NULL;
    if (!any) return em__f_bin(f, EM_OP_DIV, revcumsum(f, em__f_bin(f, EM_OP_MUL, g, y), axis), x);
    *zeros = true;
    if (!em__ag_off) return NULL; /* the caller builds the polynomial form */
    em_tensor *one = em__f_scalar(f, 1.0, x->dtype);
    em_tensor *xs = em__f_where(f, xz, one, x);
    em_tensor *before = em__f_bin(f, EM_OP_DIV, revcumsum(f, em__f_bin(f, EM_OP_MUL, g, y), axis), xs);
    em_tensor *cnt = cumsum_axis(f, em__f_where(f, xz, one, em__f_scalar(f, 0.0, x->dtype)), axis);
    em_tensor *first = em__f_bin(f, EM_OP_LOGICAL_AND, xz, em__f_binc(f, EM_OP_EQ, cnt, 1.0));
    em_tensor *y1 = cumprod_axis(f, em__f_where(f, first, one, x), axis);
    em_tensor *at = revcumsum(f, em__f_bin(f, EM_OP_MUL, g, y1), axis);
    return em__f_where(f, first, at, before);
}

/* The same gradient as a polynomial in x built from recorded ops, for
 * create_graph when x has zeros (the O(n) form has the wrong second
 * derivatives there).  With x moved to (M, n):
 * P[m, i, j] = prod_{k <= j, k != i} x[m, k] (a cumprod of x with x_i set
 * to 1) and gx[m, i] = sum_{j >= i} g[m, j] P[m, i, j].  O(n^2) memory per
 * row, so only used when a zero makes it necessary. */
static em_tensor *cumprod_grad_poly(em__f *f, em_tensor *g, em_tensor *x, int axis) {
    if (f->st || !g || !x) return NULL;
    int nd = x->ndim, perm[EM_MAX_DIMS], inv[EM_MAX_DIMS];
    int64_t ps[EM_MAX_DIMS];
    for (int i = 0, k = 0; i < nd; i++)
        if (i != axis) perm[k++] = i;
    perm[nd - 1] = axis;
    for (int i = 0; i < nd; i++) {
        inv[perm[i]] = i;
        ps[i] = x->shape[perm[i]];
    }
    int64_t n = x->shape[axis], m = n ? em__numel(nd, x->shape) / n : 0;
    int64_t s2[2] = {m, n}, s3a[3] = {m, 1, n}, s3[3] = {m, n, n}, sn[2] = {n, n};
    em_tensor *xm = em__f_reshape(f, em__f_permute(f, x, perm), 3, s3a);
    em_tensor *gm = em__f_reshape(f, em__f_permute(f, g, perm), 3, s3a);
    em_tensor *eye, *ones, *upper;
    EM__F_CALL(f, eye, em_tensor_eye(n, n, 0, x->dtype, &eye));
    EM__F_CALL(f, ones, em_tensor_ones(x->dtype, 2, sn, &ones));
    EM__F_CALL(f, upper, em_triu(ones, 0, &upper)); /* j >= i */
    /* X'[m, i, k] = x[m, k] off the diagonal, 1 on it */
    em_tensor *xp = em__f_bin(f, EM_OP_ADD, em__f_bin(f, EM_OP_MUL, em__f_expand(f, xm, 3, s3),
                                                      em__f_cbin(f, EM_OP_SUB, 1.0, eye)), eye);
    em_tensor *p = cumprod_axis(f, xp, 2);
    int last = 2;
    em_tensor *r = em__f_reduce(f, EM_OP_SUM, em__f_bin(f, EM_OP_MUL, em__f_bin(f, EM_OP_MUL, p, gm), upper), &last,
                                1, false);
    r = em__f_reshape(f, r, 2, s2);
    return em__f_permute(f, em__f_reshape(f, r, nd, ps), inv);
}

static em_status reduce_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em__f f = {0};
    em_op op = (em_op)n->op;
    const em__ag_edge *e = &n->in[0];
    em_tensor *r = NULL;
    if (op == EM_OP_CUMSUM || op == EM_OP_CUMPROD) {
        int axis = (int)n->i[0];
        bool flat = n->i[2];
        if (op == EM_OP_CUMSUM) {
            r = revcumsum(&f, g, axis);
        } else {
            int64_t numel = em__numel(e->ndim, e->shape);
            em_tensor *x = SAVED(0);
            if (flat) x = em__f_reshape(&f, x, 1, &numel);
            bool zeros;
            r = cumprod_grad_fast(&f, g, x, SAVED(1), axis, &zeros);
            if (zeros && !em__ag_off) r = cumprod_grad_poly(&f, g, x, axis);
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
