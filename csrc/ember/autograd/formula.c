/* Helpers for writing gradient formulas as nested em_* calls: a scope owns
 * every temporary and the first error short-circuits the rest. */
#include "ag.h"

em_tensor *em__f_keep(em__f *f, em_status st, em_tensor *t) {
    if (st) {
        if (!f->st) f->st = st;
        return NULL;
    }
    if (f->n == EM__F_MAX) {
        em_tensor_free(t);
        f->st = em__error(EM_ERR_INTERNAL, "autograd: formula scope overflow");
        return NULL;
    }
    f->t[f->n++] = t;
    return t;
}

#define GUARD(...)                                                              \
    do {                                                                        \
        if (f->st) return NULL;                                                 \
        const void *args_[] = {__VA_ARGS__};                                    \
        for (size_t i_ = 0; i_ < sizeof args_ / sizeof args_[0]; i_++)          \
            if (!args_[i_]) {                                                   \
                if (!f->st) f->st = em__error(EM_ERR_INTERNAL, "autograd: missing operand"); \
                return NULL;                                                    \
            }                                                                   \
    } while (0)

em_tensor *em__f_un_a(em__f *f, em_op op, em_tensor *x, double alpha) {
    GUARD(x);
    em_tensor *r = NULL;
    em_status st = em_unary(op, x, alpha, &r);
    return em__f_keep(f, st, r);
}
em_tensor *em__f_un(em__f *f, em_op op, em_tensor *x) { return em__f_un_a(f, op, x, NAN); }

em_tensor *em__f_bin(em__f *f, em_op op, em_tensor *a, em_tensor *b) {
    GUARD(a, b);
    em_tensor *r = NULL;
    em_status st = em_binary(op, a, b, &r);
    return em__f_keep(f, st, r);
}

em_tensor *em__f_scalar(em__f *f, double v, em_dtype dt) {
    if (f->st) return NULL;
    em_tensor *r = NULL;
    em_status st = em_tensor_full(dt, 0, NULL, v, &r);
    return em__f_keep(f, st, r);
}

em_tensor *em__f_binc(em__f *f, em_op op, em_tensor *a, double c) {
    GUARD(a);
    return em__f_bin(f, op, a, em__f_scalar(f, c, a->dtype));
}
em_tensor *em__f_cbin(em__f *f, em_op op, double c, em_tensor *b) {
    GUARD(b);
    return em__f_bin(f, op, em__f_scalar(f, c, b->dtype), b);
}

em_tensor *em__f_saved(em__f *f, em__ag_node *n, int k) {
    if (f->st) return NULL;
    em_tensor *r = NULL;
    em_status st = em__ag_saved(n, k, &r);
    return em__f_keep(f, st, r);
}

em_tensor *em__f_where(em__f *f, em_tensor *c, em_tensor *a, em_tensor *b) {
    GUARD(c, a, b);
    em_tensor *r = NULL;
    em_status st = em_where(c, a, b, &r);
    return em__f_keep(f, st, r);
}

em_tensor *em__f_reshape(em__f *f, em_tensor *x, int ndim, const int64_t *shape) {
    GUARD(x);
    em_tensor *r = NULL;
    em_status st = em_tensor_reshape(x, ndim, shape, &r);
    return em__f_keep(f, st, r);
}

em_tensor *em__f_expand(em__f *f, em_tensor *x, int ndim, const int64_t *shape) {
    GUARD(x);
    em_tensor *r = NULL;
    em_status st = em_tensor_expand(x, ndim, shape, &r);
    return em__f_keep(f, st, r);
}

em_tensor *em__f_zeros(em__f *f, em_dtype dt, int ndim, const int64_t *shape) {
    if (f->st) return NULL;
    em_tensor *r = NULL;
    em_status st = em_tensor_zeros(dt, ndim, shape, &r);
    return em__f_keep(f, st, r);
}

em_tensor *em__f_reduce(em__f *f, em_op op, em_tensor *x, const int *axes, int naxes, bool keepdims) {
    GUARD(x);
    em_reduce_options o = em_reduce_default_options();
    o.axes = axes;
    o.naxes = naxes;
    o.keepdims = keepdims;
    em_tensor *r = NULL;
    em_status st = em_reduce(op, x, &o, &r);
    return em__f_keep(f, st, r);
}

em_tensor *em__f_permute(em__f *f, em_tensor *x, const int *perm) {
    GUARD(x);
    em_tensor *r = NULL;
    em_status st = em_tensor_permute(x, perm, &r);
    return em__f_keep(f, st, r);
}

em_tensor *em__f_slice(em__f *f, em_tensor *x, int axis, int64_t start, int64_t stop) {
    GUARD(x);
    em_tensor *r = NULL;
    em_status st = em_tensor_slice(x, axis, start, stop, 1, &r);
    return em__f_keep(f, st, r);
}

em_tensor *em__f_own(em__f *f, em_status st, em_tensor *t) {
    if (f->st) { /* an earlier error: the call should not have run, but free what it made */
        em_tensor_free(t);
        return NULL;
    }
    return em__f_keep(f, st, st ? NULL : t);
}

em_tensor *em__f_take(em__f *f, em_tensor *t) {
    if (!f->st && !t) f->st = em__error(EM_ERR_INTERNAL, "autograd: a formula lost its operand");
    return f->st ? NULL : em_tensor_retain(t);
}

em_status em__f_done(em__f *f) {
    for (int i = 0; i < f->n; i++) em_tensor_free(f->t[i]);
    f->n = 0;
    return f->st;
}

em_status em__f_end(em__f *f, em_tensor *t, em_tensor **out) {
    if (!f->st && !t) f->st = em__error(EM_ERR_INTERNAL, "autograd: formula gave no result");
    if (!f->st) *out = em_tensor_retain(t);
    return em__f_done(f);
}
