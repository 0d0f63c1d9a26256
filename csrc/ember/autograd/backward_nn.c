/* Gradients of convolution, pooling and the norm layers.
 *
 * A plain backward (grad mode off) calls the fused gradient kernels of
 * ops/conv.c, pool.c and norm.c.  A recorded backward (create_graph) must
 * build the graph of the gradient instead, so that second derivatives work:
 *  - convolution: the kernels em_conv_grad_input / _weight run as nodes of
 *    their own (bilinear maps, whose gradients are a convolution and the
 *    other kernel, so any order is covered); the bias gradient is a sum;
 *  - average pooling: the backward kernel runs as a node whose gradient is
 *    the pooling itself (both are linear and adjoint to each other);
 *  - max pooling: the gradient is a scatter-add through the saved argmax,
 *    written with recorded ops (its gradient is a gather);
 *  - norms: the backward formula written with recorded ops, with the
 *    statistics recomputed from x (the saved ones carry no graph). */
#include "ag.h"

#define B(op, a, b) em__f_bin(&f, EM_OP_##op, a, b)
#define SAVED(k) em__f_saved(&f, n, k)

/* ---- convolution ----------------------------------------------------------
 * Conv node: inputs x, w (, bias); saved x, w; i[0..6] the geometry.
 * Gradient nodes: inputs (g, w) for the input gradient, (g, x) for the
 * weight gradient, both saved; i[0..6] the geometry, i[7] the rank of the
 * result and params its shape. */
static void opts_put(const em_conv_options *o, int64_t *p) {
    for (int k = 0; k < 2; k++) {
        p[k] = o->stride[k];
        p[2 + k] = o->padding[k];
        p[4 + k] = o->dilation[k];
    }
    p[6] = o->groups;
}

static em_conv_options opts_get(const int64_t *p) {
    em_conv_options o = em_conv_default_options();
    for (int k = 0; k < 2; k++) {
        o.stride[k] = p[k];
        o.padding[k] = p[2 + k];
        o.dilation[k] = p[4 + k];
    }
    o.groups = p[6];
    return o;
}

static em_status conv_grad(bool weight, const em_tensor *g, const em_tensor *other, int nd, const int64_t *shape,
                           const em_conv_options *o, em_tensor **out);

/* Gradient of gx = grad_input(g, w) (or gw = grad_weight(g, x)) given h, the
 * gradient of that result: <grad_input(g, w), h> = <g, conv(h, w)> and
 * <grad_weight(g, x), h> = <g, conv(x, h)>, so d/dg is a convolution and
 * the derivative in the other operand is the other gradient kernel. */
static em_status conv_grad_bw(em__ag_node *n, em_tensor *h, const bool *need, em_tensor **gin) {
    em_conv_options o = opts_get(n->i);
    bool weight = n->op;
    em_tensor *g = NULL, *other = NULL;
    em_status st = em__ag_saved(n, 0, &g);
    if (!st) st = em__ag_saved(n, 1, &other);
    if (!st && need[0]) st = weight ? em_conv(other, h, NULL, &o, &gin[0]) : em_conv(h, other, NULL, &o, &gin[0]);
    if (!st && need[1]) {
        const em__ag_edge *e = &n->in[1];
        st = conv_grad(!weight, g, h, e->ndim, e->shape, &o, &gin[1]);
    }
    em_tensor_free(g), em_tensor_free(other);
    return st;
}

/* weight false: grad_input(g, other = w) of the given x shape; true:
 * grad_weight(g, other = x) of the given w shape.  Recorded when g or the
 * other operand requires grad and grad mode is on. */
static em_status conv_grad(bool weight, const em_tensor *g, const em_tensor *other, int nd, const int64_t *shape,
                           const em_conv_options *o, em_tensor **out) {
    em_status st;
    EM__AG_NOREC(st, weight ? em_conv_grad_weight(g, other, nd, shape, o, out)
                            : em_conv_grad_input(g, other, nd, shape, o, out));
    if (st || !em__ag_want2(g, other)) return st;
    em__ag_node *n;
    const em_tensor *ins[2] = {g, other};
    EM_TRY(em__ag_record(weight ? "ConvolutionBackwardWeightBackward0" : "ConvolutionBackwardInputBackward0",
                         conv_grad_bw, out, 2, ins, &n));
    n->op = weight;
    opts_put(o, n->i);
    st = em__ag_save(n, 0, g, false);
    if (!st) st = em__ag_save(n, 1, other, false);
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

static em_status conv_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em_conv_options o = opts_get(n->i);
    em_tensor *x = NULL, *w = NULL;
    em_status st = em__ag_saved(n, 0, &x);
    if (!st) st = em__ag_saved(n, 1, &w);
    if (!st && need[0]) st = conv_grad(false, g, w, x->ndim, x->shape, &o, &gin[0]);
    if (!st && need[1]) st = conv_grad(true, g, x, w->ndim, w->shape, &o, &gin[1]);
    if (!st && n->nin > 2 && need[2]) {
        if (em__ag_off) {
            st = em_conv_grad_bias(g, &gin[2]);
        } else { /* a recorded sum over batch and space */
            int axes[3] = {0, 2, 3};
            em_reduce_options ro = em_reduce_default_options();
            ro.axes = axes;
            ro.naxes = g->ndim - 1;
            st = em_reduce(EM_OP_SUM, g, &ro, &gin[2]);
        }
    }
    em_tensor_free(x), em_tensor_free(w);
    return st;
}

em_status em__ag_conv(const em_tensor *x, const em_tensor *w, const em_tensor *bias, const em_conv_options *o,
                      em_tensor **out) {
    if (!em_dtype_is_float(x->dtype)) return EM_OK;
    em__ag_node *n;
    const em_tensor *ins[3] = {x, w, bias};
    EM_TRY(em__ag_record("ConvolutionBackward0", conv_bw, out, bias ? 3 : 2, ins, &n));
    em_conv_options d = em_conv_default_options();
    opts_put(o ? o : &d, n->i);
    em_status st = em__ag_save(n, 0, x, false);
    if (!st) st = em__ag_save(n, 1, w, false);
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

/* ---- pooling ------------------------------------------------------------------
 * i[0]: the kind; max keeps the argmax indices (saved 0); avg keeps its
 * options in params; adaptive keeps the output size in i[1..2].  The input's
 * shape comes from the node's edge. */
enum { POOL_MAX, POOL_AVG, POOL_ADAPTIVE };

static em_pool_options avg_opts(const int64_t *p) {
    em_pool_options o = em_pool_default_options();
    for (int k = 0; k < 2; k++) o.kernel[k] = p[k], o.stride[k] = p[2 + k], o.padding[k] = p[4 + k];
    o.ceil_mode = p[6], o.count_include_pad = p[7], o.divisor_override = p[8];
    return o;
}

/* The gradient of the average-pooling backward kernels is the pooling:
 * both are linear and <backward(g), h> = <g, pool(h)>. */
static em_status avg_grad_bw(em__ag_node *n, em_tensor *h, const bool *need, em_tensor **gin) {
    if (n->i[0] == POOL_AVG) {
        em_pool_options o = avg_opts(n->params);
        return em_avg_pool(h, &o, &gin[0]);
    }
    return em_adaptive_avg_pool(h, &n->i[1], &gin[0]);
}

/* gx of an average pooling: the kernel, recorded when g requires grad. */
static em_status avg_grad(em__ag_node *pn, em_tensor *g, em_tensor **out) {
    int nd = pn->in[0].ndim;
    const int64_t *xs = pn->in[0].shape;
    em_pool_options o = pn->i[0] == POOL_AVG ? avg_opts(pn->params) : em_pool_default_options();
    em_status st;
    EM__AG_NOREC(st, pn->i[0] == POOL_AVG ? em_avg_pool_backward(g, nd, xs, &o, out)
                                          : em_adaptive_avg_pool_backward(g, nd, xs, out));
    if (st || !em__ag_want1(g)) return st;
    em__ag_node *n;
    const em_tensor *ins[1] = {g};
    EM_TRY(em__ag_record(pn->i[0] == POOL_AVG ? "AvgPoolBackwardBackward0" : "AdaptiveAvgPoolBackwardBackward0",
                         avg_grad_bw, out, 1, ins, &n));
    memcpy(n->i, pn->i, sizeof n->i);
    if (pn->i[0] == POOL_AVG) {
        if (!(n->params = em__alloc(9 * sizeof(int64_t)))) {
            em_tensor_free(*out);
            *out = NULL;
            return em__error(EM_ERR_NOMEM, "avg_pool: out of memory recording the autograd graph");
        }
        memcpy(n->params, pn->params, 9 * sizeof(int64_t));
    }
    return EM_OK;
}

/* gx of a max pooling with recorded ops: g scattered (added) into the
 * planes at the argmax positions, planes (N, C, H*W). */
static em_status max_grad_graph(em__ag_node *n, em_tensor *g, em_tensor *idx, em_tensor **out) {
    em__f f = {0};
    const em__ag_edge *e = &n->in[0];
    int64_t P = 1, Q = 1;
    for (int d = 2; d < e->ndim; d++) P *= e->shape[d];
    for (int d = 2; d < g->ndim; d++) Q *= g->shape[d];
    int64_t gs[3] = {g->shape[0], g->shape[1], Q}, zs[3] = {e->shape[0], e->shape[1], P};
    em_tensor *g3 = em__f_reshape(&f, g, 3, gs), *i3 = em__f_reshape(&f, idx, 3, gs);
    em_tensor *z = em__f_zeros(&f, g->dtype, 3, zs), *r = NULL;
    if (z && i3 && g3) EM__F_CALL(&f, r, em_scatter(z, 2, i3, g3, EM_SCATTER_ADD, &r));
    return em__f_end(&f, em__f_reshape(&f, r, e->ndim, e->shape), out);
}

static em_status pool_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    if (!need[0]) return EM_OK;
    if (n->i[0] != POOL_MAX) return avg_grad(n, g, &gin[0]);
    em_tensor *idx = NULL;
    em_status st = em__ag_saved(n, 0, &idx);
    if (!st && em__ag_off) st = em_max_pool_backward(g, idx, n->in[0].ndim, n->in[0].shape, &gin[0]);
    else if (!st) st = max_grad_graph(n, g, idx, &gin[0]);
    em_tensor_free(idx);
    return st;
}

em_status em__ag_pool(int kind, const em_tensor *x, const em_pool_options *o, const int64_t *out_size,
                      const em_tensor *indices, em_tensor **out) {
    if (!em_dtype_is_float(x->dtype)) return EM_OK;
    static const char *const names[] = {"MaxPoolBackward0", "AvgPoolBackward0", "AdaptiveAvgPoolBackward0"};
    em__ag_node *n;
    EM_TRY(em__ag_record(names[kind], pool_bw, out, 1, &x, &n));
    n->i[0] = kind;
    em_status st = EM_OK;
    if (kind == POOL_MAX) {
        st = em__ag_save(n, 0, indices, false); /* an int64 side output, no graph of its own */
    } else if (kind == POOL_AVG) {
        em_pool_options d = em_pool_default_options();
        if (!o) o = &d;
        int64_t *p = em__alloc(9 * sizeof *p);
        if (!p) {
            st = em__error(EM_ERR_NOMEM, "avg_pool: out of memory recording the autograd graph");
        } else {
            for (int k = 0; k < 2; k++) p[k] = o->kernel[k], p[2 + k] = o->stride[k], p[4 + k] = o->padding[k];
            p[6] = o->ceil_mode, p[7] = o->count_include_pad, p[8] = o->divisor_override;
            n->params = p;
        }
    } else {
        n->i[1] = out_size[0];
        n->i[2] = x->ndim == 4 ? out_size[1] : 0;
    }
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

/* ---- normalisation layers ------------------------------------------------------
 * Inputs x, weight, bias (either may be absent); saved: x, weight, and the
 * forward's mean and rstd.  i[0] the kind (0 layer, 1 group, 2 batch), then
 * its parameters: k and the normalized shape, the group count, or training;
 * alpha: eps. */
enum { NORM_LAYER, NORM_GROUP, NORM_BATCH };

/* The backward with recorded ops.  With R the reduced axes of one set of
 * statistics (layer: the last k; group: each group of a (N, G, -1) view;
 * batch: all but the channel axis), xh = (x - mean_R x) * rstd and
 * gh = g * weight:
 *   gx = rstd * (gh - mean_R(gh) - xh * mean_R(gh * xh))     (batch eval: gh * rstd)
 *   gw = sum(g * xh), gb = sum(g) over the axes weight does not span. */
static em_status norm_bw_graph(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em__f f = {0};
    int kind = (int)n->i[0];
    bool stats = kind != NORM_BATCH || n->i[1]; /* batch eval uses the running statistics as constants */
    em_tensor *x = SAVED(0), *w = n->saved[1] ? SAVED(1) : NULL;
    if (f.st) return em__f_done(&f);
    int nd = x->ndim, ax[EM_MAX_DIMS], na = 0, pax[EM_MAX_DIMS], npa = 0; /* pax: axes outside weight */
    int64_t cs[EM_MAX_DIMS]; /* (C, 1, ..., 1): a per-channel vector broadcast over x */
    em_tensor *xr = x;
    if (kind == NORM_LAYER) {
        int k = (int)n->i[1];
        for (int d = nd - k; d < nd; d++) ax[na++] = d;
        for (int d = 0; d < nd - k; d++) pax[npa++] = d;
    } else {
        cs[0] = x->shape[1];
        for (int d = 1; d < nd - 1; d++) cs[d] = 1;
        pax[npa++] = 0;
        for (int d = 2; d < nd; d++) pax[npa++] = d;
        if (kind == NORM_GROUP) {
            int64_t G = n->i[1], rs[3] = {x->shape[0], G, 1};
            for (int d = 1; d < nd; d++) rs[2] *= x->shape[d];
            rs[2] = G ? rs[2] / G : 0;
            xr = em__f_reshape(&f, x, 3, rs);
            ax[na++] = 2;
        } else {
            ax[na++] = 0;
            for (int d = 2; d < nd; d++) ax[na++] = d;
        }
    }
    em_tensor *xh, *rstd;
    if (stats) {
        em_tensor *xc = B(SUB, xr, em__f_reduce(&f, EM_OP_MEAN, xr, ax, na, true));
        em_tensor *var = em__f_reduce(&f, EM_OP_MEAN, B(MUL, xc, xc), ax, na, true);
        rstd = em__f_un(&f, EM_OP_RSQRT, em__f_binc(&f, EM_OP_ADD, var, n->alpha));
        xh = B(MUL, xc, rstd);
    } else {
        em_tensor *m = em__f_reshape(&f, SAVED(2), nd - 1, cs);
        rstd = em__f_reshape(&f, SAVED(3), nd - 1, cs);
        xh = B(MUL, B(SUB, x, m), rstd);
    }
    em_tensor *xhx = xr != x ? em__f_reshape(&f, xh, nd, x->shape) : xh; /* xh in x's shape */
    if (need[0]) {
        em_tensor *gh = g;
        if (w) gh = B(MUL, g, kind == NORM_LAYER ? w : em__f_reshape(&f, w, nd - 1, cs));
        em_tensor *gx;
        if (stats) {
            em_tensor *ghr = xr != x ? em__f_reshape(&f, gh, xr->ndim, xr->shape) : gh;
            em_tensor *m1 = em__f_reduce(&f, EM_OP_MEAN, ghr, ax, na, true);
            em_tensor *m2 = em__f_reduce(&f, EM_OP_MEAN, B(MUL, ghr, xh), ax, na, true);
            gx = B(MUL, rstd, B(SUB, B(SUB, ghr, m1), B(MUL, xh, m2)));
            if (xr != x) gx = em__f_reshape(&f, gx, nd, x->shape);
        } else {
            gx = B(MUL, gh, rstd);
        }
        gin[0] = em__f_take(&f, gx);
    }
    if (n->nin > 1 && n->in[1].ndim && need[1] && w) {
        em_tensor *p = B(MUL, g, xhx);
        gin[1] = em__f_take(&f, npa ? em__f_reduce(&f, EM_OP_SUM, p, pax, npa, false) : p);
    }
    if (n->nin > 2 && n->in[2].ndim && need[2])
        gin[2] = em__f_take(&f, npa ? em__f_reduce(&f, EM_OP_SUM, g, pax, npa, false) : g);
    em_status st = em__f_done(&f);
    if (st)
        for (int i = 0; i < 3; i++) {
            em_tensor_free(gin[i]);
            gin[i] = NULL;
        }
    return st;
}

static em_status norm_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    if (!em__ag_off) return norm_bw_graph(n, g, need, gin);
    em_tensor *x = NULL, *w = NULL, *m = NULL, *r = NULL;
    em_status st = em__ag_saved(n, 0, &x);
    if (!st && n->saved[1]) st = em__ag_saved(n, 1, &w);
    if (!st) st = em__ag_saved(n, 2, &m);
    if (!st) st = em__ag_saved(n, 3, &r);
    em_tensor **gx = need[0] ? &gin[0] : NULL;
    em_tensor **gw = n->nin > 1 && n->in[1].ndim && need[1] ? &gin[1] : NULL;
    em_tensor **gb = n->nin > 2 && n->in[2].ndim && need[2] ? &gin[2] : NULL;
    if (!st && n->i[0] == NORM_LAYER)
        st = em_layer_norm_backward(g, x, (int)n->i[1], &n->i[2], m, r, w, gx, gw, gb);
    else if (!st && n->i[0] == NORM_GROUP)
        st = em_group_norm_backward(g, x, n->i[1], m, r, w, gx, gw, gb);
    else if (!st)
        st = em_batch_norm_backward(g, x, w, m, r, n->i[1], gx, gw, gb);
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(m), em_tensor_free(r);
    return st;
}

em_status em__ag_norm(int kind, const em_tensor *x, const em_tensor *w, const em_tensor *b, const em_tensor *mean,
                      const em_tensor *rstd, const int64_t *p, int np, double eps, em_tensor **out) {
    static const char *const names[] = {"NativeLayerNormBackward0", "NativeGroupNormBackward0",
                                        "NativeBatchNormBackward0"};
    em__ag_node *n;
    const em_tensor *ins[3] = {x, w, b};
    EM_TRY(em__ag_record(names[kind], norm_bw, out, 3, ins, &n));
    n->i[0] = kind;
    n->alpha = eps;
    memcpy(&n->i[1], p, (size_t)np * sizeof *p);
    /* mean and rstd are side outputs without a graph: saved as plain tensors */
    em_status st = em__ag_save(n, 0, x, false);
    if (!st && w) st = em__ag_save(n, 1, w, false);
    if (!st) st = em__ag_save(n, 2, mean, false);
    if (!st) st = em__ag_save(n, 3, rstd, false);
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}
