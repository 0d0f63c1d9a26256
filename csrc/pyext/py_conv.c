/* Private bindings of convolution and pooling (include/ember/conv.h) for
 * python/ember/nn/_conv.py, which normalises PyTorch's argument forms (ints
 * or tuples, padding strings, unbatched inputs) before calling these.  Here
 * every geometry argument is a sequence of one int per spatial axis. */
#include "pyember.h"

#define DEF(name) static PyObject *py_##name(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
#define PARSE(fname, nrequired, ...)                                                                      \
    static const char *const names_[] = {__VA_ARGS__, NULL};                                            \
    PyObject *a[sizeof names_ / sizeof *names_ - 1];                                                    \
    if (empy_parse_args(fname, args, nargs, kwnames, names_, 0, nrequired, a) < 0) return NULL

static em_tensor *tensor_arg(PyObject *o, const char *fname) {
    if (!o || o == Py_None) return NULL;
    return EmTensor_Check(o) ? em_tensor_retain(EmTensor_T(o)) : empy_as_tensor(o, -1, fname);
}

/* One int per spatial axis (sp of them) into v[0..sp). */
static int spatial(PyObject *o, int sp, int64_t *v, const char *fname, const char *what) {
    int64_t tmp[EM_MAX_DIMS];
    int n;
    if (empy_parse_shape(o, tmp, &n, what) < 0) return -1;
    if (n != sp) {
        PyErr_Format(PyExc_ValueError, "%s: %s needs %d value(s), one per spatial axis, got %d", fname, what, sp, n);
        return -1;
    }
    for (int i = 0; i < sp; i++) v[i] = tmp[i];
    return 0;
}

/* A full shape argument (x_shape / w_shape). */
static int shape_arg(PyObject *o, int64_t *s, int *nd, const char *what) { return empy_parse_shape(o, s, nd, what); }

static PyObject *wrap_or_raise(em_status st, em_tensor *out) { return st ? empy_raise(st) : empy_wrap(out); }

static int sp_of(const em_tensor *t, const char *fname) {
    int sp = t->ndim - 2;
    if (sp != 1 && sp != 2) {
        char b[EM_DESC_LEN];
        PyErr_Format(PyExc_ValueError, "%s: expected a 3-D (N, C, L) or 4-D (N, C, H, W) tensor, got %s", fname,
                     em__desc(t, b));
        return -1;
    }
    return sp;
}

/* stride, padding, dilation, groups at a[i0..i0+3] for sp spatial axes. */
static int conv_opts(PyObject **a, int sp, em_conv_options *o, const char *fname) {
    long long groups;
    *o = em_conv_default_options();
    if (spatial(a[0], sp, o->stride, fname, "stride") < 0 || spatial(a[1], sp, o->padding, fname, "padding") < 0 ||
        spatial(a[2], sp, o->dilation, fname, "dilation") < 0 || empy_opt_long(a[3], 1, &groups, fname, "groups") < 0)
        return -1;
    o->groups = groups;
    return 0;
}

DEF(_conv) {
    PARSE("_conv", 7, "x", "weight", "bias", "stride", "padding", "dilation", "groups");
    em_tensor *x = tensor_arg(a[0], "_conv"), *w = NULL, *b = NULL, *out = NULL;
    if (!x) return NULL;
    em_conv_options o;
    em_status st = EM_OK;
    int sp = sp_of(x, "conv");
    if (sp < 0 || !(w = tensor_arg(a[1], "_conv")) || (a[2] != Py_None && !(b = tensor_arg(a[2], "_conv"))) ||
        conv_opts(a + 3, sp, &o, "conv") < 0) {
        em_tensor_free(x), em_tensor_free(w), em_tensor_free(b);
        return NULL;
    }
    int64_t work = em_tensor_numel(x) * em_tensor_numel(w) / (w->shape[0] ? w->shape[0] : 1);
    st = EMPY_CALL(work, em_conv(x, w, b, &o, &out));
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(b);
    return wrap_or_raise(st, out);
}

DEF(_conv_grad_input) {
    PARSE("_conv_grad_input", 7, "grad_output", "weight", "x_shape", "stride", "padding", "dilation", "groups");
    int64_t xs[EM_MAX_DIMS];
    int nd;
    if (shape_arg(a[2], xs, &nd, "x_shape") < 0) return NULL;
    em_tensor *g = tensor_arg(a[0], "_conv_grad_input"), *w = NULL, *out = NULL;
    em_conv_options o;
    if (!g || !(w = tensor_arg(a[1], "_conv_grad_input")) || conv_opts(a + 3, nd - 2, &o, "conv_grad_input") < 0) {
        em_tensor_free(g), em_tensor_free(w);
        return NULL;
    }
    em_status st = EMPY_CALL(em_tensor_numel(g) * em_tensor_numel(w), em_conv_grad_input(g, w, nd, xs, &o, &out));
    em_tensor_free(g), em_tensor_free(w);
    return wrap_or_raise(st, out);
}

DEF(_conv_grad_weight) {
    PARSE("_conv_grad_weight", 7, "grad_output", "x", "w_shape", "stride", "padding", "dilation", "groups");
    int64_t ws[EM_MAX_DIMS];
    int nd;
    if (shape_arg(a[2], ws, &nd, "w_shape") < 0) return NULL;
    em_tensor *g = tensor_arg(a[0], "_conv_grad_weight"), *x = NULL, *out = NULL;
    em_conv_options o;
    if (!g || !(x = tensor_arg(a[1], "_conv_grad_weight")) || conv_opts(a + 3, nd - 2, &o, "conv_grad_weight") < 0) {
        em_tensor_free(g), em_tensor_free(x);
        return NULL;
    }
    em_status st = EMPY_CALL(em_tensor_numel(g) * em_tensor_numel(x), em_conv_grad_weight(g, x, nd, ws, &o, &out));
    em_tensor_free(g), em_tensor_free(x);
    return wrap_or_raise(st, out);
}

DEF(_conv_grad_bias) {
    PARSE("_conv_grad_bias", 1, "grad_output");
    em_tensor *g = tensor_arg(a[0], "_conv_grad_bias"), *out = NULL;
    if (!g) return NULL;
    em_status st = EMPY_CALL(em_tensor_numel(g), em_conv_grad_bias(g, &out));
    em_tensor_free(g);
    return wrap_or_raise(st, out);
}

/* kernel_size, stride, padding at a[0..2] and ceil_mode at a[3]. */
static int pool_opts(PyObject **a, int sp, em_pool_options *o, const char *fname) {
    *o = em_pool_default_options();
    if (spatial(a[0], sp, o->kernel, fname, "kernel_size") < 0 || spatial(a[1], sp, o->stride, fname, "stride") < 0 ||
        spatial(a[2], sp, o->padding, fname, "padding") < 0 || empy_opt_bool(a[3], false, &o->ceil_mode) < 0)
        return -1;
    return 0;
}

DEF(_max_pool) {
    PARSE("_max_pool", 6, "x", "kernel_size", "stride", "padding", "dilation", "ceil_mode");
    em_tensor *x = tensor_arg(a[0], "_max_pool"), *out = NULL, *idx = NULL;
    if (!x) return NULL;
    em_pool_options o;
    PyObject *pa[4] = {a[1], a[2], a[3], a[5]};
    int sp = sp_of(x, "max_pool");
    if (sp < 0 || pool_opts(pa, sp, &o, "max_pool") < 0 || spatial(a[4], sp, o.dilation, "max_pool", "dilation") < 0) {
        em_tensor_free(x);
        return NULL;
    }
    em_status st = EMPY_CALL(em_tensor_numel(x), em_max_pool(x, &o, &out, &idx));
    em_tensor_free(x);
    if (st) return empy_raise(st);
    PyObject *po = empy_wrap(out), *pi = po ? empy_wrap(idx) : (em_tensor_free(idx), NULL);
    if (!pi) {
        Py_XDECREF(po);
        return NULL;
    }
    return Py_BuildValue("(NN)", po, pi);
}

DEF(_max_pool_backward) {
    PARSE("_max_pool_backward", 3, "grad_output", "indices", "x_shape");
    int64_t xs[EM_MAX_DIMS];
    int nd;
    if (shape_arg(a[2], xs, &nd, "x_shape") < 0) return NULL;
    em_tensor *g = tensor_arg(a[0], "_max_pool_backward"), *i = NULL, *out = NULL;
    if (!g || !(i = tensor_arg(a[1], "_max_pool_backward"))) {
        em_tensor_free(g);
        return NULL;
    }
    em_status st = EMPY_CALL(em_tensor_numel(g), em_max_pool_backward(g, i, nd, xs, &out));
    em_tensor_free(g), em_tensor_free(i);
    return wrap_or_raise(st, out);
}

/* count_include_pad and divisor_override at a[0..1]. */
static int avg_extra(PyObject **a, em_pool_options *o, const char *fname) {
    long long div;
    if (empy_opt_bool(a[0], true, &o->count_include_pad) < 0 || empy_opt_long(a[1], 0, &div, fname, "divisor_override") < 0)
        return -1;
    if (a[1] && a[1] != Py_None && div <= 0) {
        PyErr_Format(PyExc_ValueError, "%s: divisor_override must be > 0, got %lld", fname, div);
        return -1;
    }
    o->divisor_override = div;
    return 0;
}

DEF(_avg_pool) {
    PARSE("_avg_pool", 7, "x", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override");
    em_tensor *x = tensor_arg(a[0], "_avg_pool"), *out = NULL;
    if (!x) return NULL;
    em_pool_options o;
    int sp = sp_of(x, "avg_pool");
    if (sp < 0 || pool_opts(a + 1, sp, &o, "avg_pool") < 0 || avg_extra(a + 5, &o, "avg_pool") < 0) {
        em_tensor_free(x);
        return NULL;
    }
    em_status st = EMPY_CALL(em_tensor_numel(x), em_avg_pool(x, &o, &out));
    em_tensor_free(x);
    return wrap_or_raise(st, out);
}

DEF(_avg_pool_backward) {
    PARSE("_avg_pool_backward", 8, "grad_output", "x_shape", "kernel_size", "stride", "padding", "ceil_mode",
          "count_include_pad", "divisor_override");
    int64_t xs[EM_MAX_DIMS];
    int nd;
    if (shape_arg(a[1], xs, &nd, "x_shape") < 0) return NULL;
    em_pool_options o;
    if (pool_opts(a + 2, nd - 2, &o, "avg_pool_backward") < 0 || avg_extra(a + 6, &o, "avg_pool_backward") < 0)
        return NULL;
    em_tensor *g = tensor_arg(a[0], "_avg_pool_backward"), *out = NULL;
    if (!g) return NULL;
    em_status st = EMPY_CALL(em_tensor_numel(g), em_avg_pool_backward(g, nd, xs, &o, &out));
    em_tensor_free(g);
    return wrap_or_raise(st, out);
}

DEF(_adaptive_avg_pool) {
    PARSE("_adaptive_avg_pool", 2, "x", "output_size");
    em_tensor *x = tensor_arg(a[0], "_adaptive_avg_pool"), *out = NULL;
    if (!x) return NULL;
    int64_t os[2];
    int sp = sp_of(x, "adaptive_avg_pool");
    if (sp < 0 || spatial(a[1], sp, os, "adaptive_avg_pool", "output_size") < 0) {
        em_tensor_free(x);
        return NULL;
    }
    em_status st = EMPY_CALL(em_tensor_numel(x), em_adaptive_avg_pool(x, os, &out));
    em_tensor_free(x);
    return wrap_or_raise(st, out);
}

DEF(_adaptive_avg_pool_backward) {
    PARSE("_adaptive_avg_pool_backward", 2, "grad_output", "x_shape");
    int64_t xs[EM_MAX_DIMS];
    int nd;
    if (shape_arg(a[1], xs, &nd, "x_shape") < 0) return NULL;
    em_tensor *g = tensor_arg(a[0], "_adaptive_avg_pool_backward"), *out = NULL;
    if (!g) return NULL;
    em_status st = EMPY_CALL(em_tensor_numel(g), em_adaptive_avg_pool_backward(g, nd, xs, &out));
    em_tensor_free(g);
    return wrap_or_raise(st, out);
}

#define M(name, doc) {#name, (PyCFunction)(void (*)(void))py_##name, METH_FASTCALL | METH_KEYWORDS, doc},
PyMethodDef empy_conv_methods[] = {
    M(_conv, "_conv(x, weight, bias, stride, padding, dilation, groups)\n--\n\n"
             "Convolution over 1 or 2 spatial axes (see ember.nn.functional.conv2d); geometry per spatial axis.")
    M(_conv_grad_input, "_conv_grad_input(grad_output, weight, x_shape, stride, padding, dilation, groups)\n--\n\n"
                        "Gradient of _conv with respect to its input (of shape x_shape).")
    M(_conv_grad_weight, "_conv_grad_weight(grad_output, x, w_shape, stride, padding, dilation, groups)\n--\n\n"
                         "Gradient of _conv with respect to its weight (of shape w_shape).")
    M(_conv_grad_bias, "_conv_grad_bias(grad_output)\n--\n\nGradient of _conv with respect to its bias.")
    M(_max_pool, "_max_pool(x, kernel_size, stride, padding, dilation, ceil_mode)\n--\n\n"
                 "Max pooling: (output, int64 indices into each input plane).")
    M(_max_pool_backward, "_max_pool_backward(grad_output, indices, x_shape)\n--\n\nGradient of _max_pool.")
    M(_avg_pool, "_avg_pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)\n--\n\n"
                 "Average pooling with PyTorch's divisor rules.")
    M(_avg_pool_backward, "_avg_pool_backward(grad_output, x_shape, kernel_size, stride, padding, ceil_mode, "
                          "count_include_pad, divisor_override)\n--\n\nGradient of _avg_pool.")
    M(_adaptive_avg_pool, "_adaptive_avg_pool(x, output_size)\n--\n\nAdaptive average pooling (PyTorch's windows).")
    M(_adaptive_avg_pool_backward, "_adaptive_avg_pool_backward(grad_output, x_shape)\n--\n\n"
                                   "Gradient of _adaptive_avg_pool.")
    {NULL, NULL, 0, NULL},
};
