/* Gradients of convolution, pooling and the norm layers.  Convolution: the node keeps x and w and the geometry, and the
 * backward calls the gradient kernels of ops/conv.c (em_conv_grad_input,
 * _weight, _bias).  Those kernels are not themselves recorded, so a
 * convolution has first derivatives only (create_graph through it gives
 * gradients that do not require grad). */
#include "ag.h"

static em_status conv_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em_conv_options o = em_conv_default_options();
    for (int k = 0; k < 2; k++) {
        o.stride[k] = n->i[k];
        o.padding[k] = n->i[2 + k];
        o.dilation[k] = n->i[4 + k];
    }
    o.groups = n->i[6];
    em_tensor *x = NULL, *w = NULL;
    em_status st = em__ag_saved(n, 0, &x);
    if (!st) st = em__ag_saved(n, 1, &w);
    bool off = em__ag_off;
    em__ag_off = true; /* the kernels' results are gradients, not recorded ops */
    if (!st && need[0]) st = em_conv_grad_input(g, w, x->ndim, x->shape, &o, &gin[0]);
    if (!st && need[1]) st = em_conv_grad_weight(g, x, w->ndim, w->shape, &o, &gin[1]);
    if (!st && n->nin > 2 && need[2]) st = em_conv_grad_bias(g, &gin[2]);
    em__ag_off = off;
    em_tensor_free(x), em_tensor_free(w);
    return st;
}

em_status em__ag_conv(const em_tensor *x, const em_tensor *w, const em_tensor *bias, const em_conv_options *o,
                      em_tensor **out) {
    if (!em_dtype_is_float(x->dtype)) return EM_OK;
    em__ag_node *n;
    const em_tensor *ins[3] = {x, w, bias};
    EM_TRY(em__ag_record("ConvolutionBackward0", conv_bw, out, bias ? 3 : 2, ins, &n));
    for (int k = 0; k < 2; k++) {
        n->i[k] = o->stride[k];
        n->i[2 + k] = o->padding[k];
        n->i[4 + k] = o->dilation[k];
    }
    n->i[6] = o->groups;
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

static em_status pool_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    if (!need[0]) return EM_OK;
    int nd = n->in[0].ndim;
    const int64_t *xs = n->in[0].shape;
    bool off = em__ag_off;
    em__ag_off = true;
    em_status st = EM_OK;
    if (n->i[0] == POOL_MAX) {
        em_tensor *idx = NULL;
        st = em__ag_saved(n, 0, &idx);
        if (!st) st = em_max_pool_backward(g, idx, nd, xs, &gin[0]);
        em_tensor_free(idx);
    } else if (n->i[0] == POOL_AVG) {
        const int64_t *p = n->params;
        em_pool_options o = em_pool_default_options();
        for (int k = 0; k < 2; k++) o.kernel[k] = p[k], o.stride[k] = p[2 + k], o.padding[k] = p[4 + k];
        o.ceil_mode = p[6], o.count_include_pad = p[7], o.divisor_override = p[8];
        st = em_avg_pool_backward(g, nd, xs, &o, &gin[0]);
    } else {
        st = em_adaptive_avg_pool_backward(g, nd, xs, &gin[0]);
    }
    em__ag_off = off;
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
        st = em__ag_save(n, 0, indices, true);
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
 * its parameters: k and the normalized shape, the group count, or training. */
static em_status norm_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em_tensor *x = NULL, *w = NULL, *m = NULL, *r = NULL;
    em_status st = em__ag_saved(n, 0, &x);
    if (!st && n->saved[1]) st = em__ag_saved(n, 1, &w);
    if (!st) st = em__ag_saved(n, 2, &m);
    if (!st) st = em__ag_saved(n, 3, &r);
    em_tensor **gx = need[0] ? &gin[0] : NULL;
    em_tensor **gw = n->nin > 1 && n->in[1].ndim && need[1] ? &gin[1] : NULL;
    em_tensor **gb = n->nin > 2 && n->in[2].ndim && need[2] ? &gin[2] : NULL;
    bool off = em__ag_off;
    em__ag_off = true;
    if (!st && n->i[0] == 0)
        st = em_layer_norm_backward(g, x, (int)n->i[1], &n->i[2], m, r, w, gx, gw, gb);
    else if (!st && n->i[0] == 1)
        st = em_group_norm_backward(g, x, n->i[1], m, r, w, gx, gw, gb);
    else if (!st)
        st = em_batch_norm_backward(g, x, w, m, r, n->i[1], gx, gw, gb);
    em__ag_off = off;
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(m), em_tensor_free(r);
    return st;
}

em_status em__ag_norm(int kind, const em_tensor *x, const em_tensor *w, const em_tensor *b, const em_tensor *mean,
                      const em_tensor *rstd, const int64_t *p, int np, em_tensor **out) {
    static const char *const names[] = {"NativeLayerNormBackward0", "NativeGroupNormBackward0",
                                        "NativeBatchNormBackward0"};
    em__ag_node *n;
    const em_tensor *ins[3] = {x, w, b};
    EM_TRY(em__ag_record(names[kind], norm_bw, out, 3, ins, &n));
    n->i[0] = kind;
    memcpy(&n->i[1], p, (size_t)np * sizeof *p);
    em_status st = em__ag_save(n, 0, x, false);
    if (!st && w) st = em__ag_save(n, 1, w, false);
    if (!st) st = em__ag_save(n, 2, mean, true);
    if (!st) st = em__ag_save(n, 3, rstd, true);
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}
