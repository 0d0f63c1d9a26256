/* Gradients of matmul and softmax. */
#include "ag.h"
#include "ember/norm.h"

#define B(op, a, b) em__f_bin(&f, EM_OP_##op, a, b)

static em_tensor *mm(em__f *f, em_tensor *a, em_tensor *b) {
    if (f->st || !a || !b) return NULL;
    em_tensor *r = NULL;
    em_status st_ = em_matmul(a, b, &r);
    return em__f_keep(f, st_, r);
}
static em_tensor *mT(em__f *f, em_tensor *a) {
    if (f->st || !a) return NULL;
    em_tensor *r = NULL;
    em_status st_ = em_tensor_mT(a, &r);
    return em__f_keep(f, st_, r);
}
static em_tensor *unsq(em__f *f, em_tensor *a, int axis) {
    if (f->st || !a) return NULL;
    em_tensor *r = NULL;
    em_status st_ = em_tensor_unsqueeze(a, axis, &r);
    return em__f_keep(f, st_, r);
}
static em_tensor *sq(em__f *f, em_tensor *a, int axis) {
    if (f->st || !a) return NULL;
    em_tensor *r = NULL;
    em_status st_ = em_tensor_squeeze(a, &axis, 1, &r);
    return em__f_keep(f, st_, r);
}

/* 1-D operands are taken as (1, k) and (k, 1) matrices, like the forward;
 * the engine sums broadcast batch axes back. */
static em_status matmul_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em__f f = {0};
    em_tensor *a = em__f_saved(&f, n, 0), *b = em__f_saved(&f, n, 1);
    bool a1 = a && a->ndim == 1, b1 = b && b->ndim == 1;
    em_tensor *a2 = a1 ? unsq(&f, a, 0) : a, *b2 = b1 ? unsq(&f, b, 1) : b, *g2 = g;
    if (a1 && b1) {
        int64_t s11[2] = {1, 1};
        g2 = em__f_reshape(&f, g, 2, s11);
    } else if (a1) {
        g2 = unsq(&f, g, -2);
    } else if (b1) {
        g2 = unsq(&f, g, -1);
    }
    if (need[0]) {
        em_tensor *ga = mm(&f, g2, mT(&f, b2));
        gin[0] = em__f_take(&f, a1 ? sq(&f, ga, -2) : ga);
    }
    if (need[1]) {
        em_tensor *gb = mm(&f, mT(&f, a2), g2);
        gin[1] = em__f_take(&f, b1 ? sq(&f, gb, -1) : gb);
    }
    return em__f_done(&f);
}

/* y = x @ w^T + b over the rows of x (all leading axes): gx = g @ w,
 * gw = g2^T @ x2 and gb = the column sums of g2, with g2, x2 the rows as
 * matrices.  gw comes out of the product in w's own layout, where the
 * matmul(x, w.mT) spelling would hand the leaf a transposed gradient that
 * costs a copy to accumulate. */
static em_status linear_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em__f f = {0};
    em_tensor *x = em__f_saved(&f, n, 0), *w = em__f_saved(&f, n, 1);
    if (need[0]) gin[0] = em__f_take(&f, mm(&f, g, w));
    if ((need[1] || need[2]) && !f.st) {
        int64_t N = w->shape[0], K = w->shape[1], M = N ? em__numel(g->ndim, g->shape) / N : 0;
        int64_t gs[2] = {M, N}, xs[2] = {M, K};
        em_tensor *g2 = em__f_reshape(&f, g, 2, gs);
        if (need[1]) gin[1] = em__f_take(&f, mm(&f, mT(&f, g2), em__f_reshape(&f, x, 2, xs)));
        if (need[2]) gin[2] = em__f_take(&f, em__f_reduce(&f, EM_OP_SUM, g2, (const int[]){0}, 1, false));
    }
    return em__f_done(&f);
}

em_status em__ag_linear(const em_tensor *x, const em_tensor *w, const em_tensor *bias, em_tensor **out) {
    em__ag_node *n;
    const em_tensor *ins[3] = {x, w, bias};
    EM_TRY(em__ag_record("LinearBackward0", linear_bw, out, 3, ins, &n));
    em_status st = em__ag_save(n, 0, x, false);
    if (!st) st = em__ag_save(n, 1, w, false);
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

em_status em__ag_matmul(const em_tensor *a, const em_tensor *b, em_tensor **out) {
    if (!em_dtype_is_float((*out)->dtype)) return EM_OK;
    em__ag_node *n;
    const em_tensor *ins[2] = {a, b};
    EM_TRY(em__ag_record("MmBackward0", matmul_bw, out, 2, ins, &n));
    em_status st = em__ag_save(n, 0, a, false);
    if (!st) st = em__ag_save(n, 1, b, false);
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

static em_status softmax_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em__f f = {0};
    int axis = (int)n->i[0];
    bool log = n->i[1];
    em_tensor *y = em__f_saved(&f, n, 0), *r = NULL;
    if (f.st) return em__f_done(&f);
    if (em__ag_off) { /* first order: the fused kernel */
        f.st = log ? em_log_softmax_backward(g, y, axis, &gin[0]) : em_softmax_backward(g, y, axis, &gin[0]);
        return em__f_done(&f);
    }
    em_reduce_options o = em_reduce_default_options();
    o.axes = &axis;
    o.naxes = 1;
    o.keepdims = true;
    em_tensor *s = NULL;
    if (log) {
        if (!(f.st = em_reduce(EM_OP_SUM, g, &o, &s))) em__f_keep(&f, EM_OK, s);
        r = B(SUB, g, B(MUL, em__f_un(&f, EM_OP_EXP, y), s));
    } else {
        em_tensor *gy = B(MUL, g, y);
        if (!f.st && !(f.st = em_reduce(EM_OP_SUM, gy, &o, &s))) em__f_keep(&f, EM_OK, s);
        r = B(MUL, y, B(SUB, g, s));
    }
    gin[0] = em__f_take(&f, r);
    return em__f_done(&f);
}

em_status em__ag_softmax(const em_tensor *x, int axis, bool log, em_tensor **out) {
    if (!em_dtype_is_float(x->dtype)) return EM_OK;
    int a = 0;
    if (x->ndim == 0) a = 0;
    else EM_TRY(em__axis(log ? "log_softmax" : "softmax", axis, x->ndim, &a));
    em__ag_node *n;
    EM_TRY(em__ag_record(log ? "LogSoftmaxBackward0" : "SoftmaxBackward0", softmax_bw, out, 1, &x, &n));
    n->i[0] = a;
    n->i[1] = log;
    em_status st = em__ag_save(n, 0, *out, true);
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}
