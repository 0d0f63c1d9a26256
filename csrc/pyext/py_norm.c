/* Private bindings of ember/norm.h: the forward functions that also return
 * the saved statistics, and the backward functions (for autograd and the
 * tests).  ember.nn.functional (python/ember/nn/_norm.py) wraps them with
 * torch.nn.functional's names and signatures.  softmax and log_softmax
 * themselves are bound in py_shape.c. */
#include "pyember.h"

#define DEF(name) static PyObject *py_##name(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
#define PARSE(fname, nrequired, ...)                                                                       \
    static const char *const names_[] = {__VA_ARGS__, NULL};                                             \
    PyObject *a[sizeof names_ / sizeof *names_ - 1];                                                     \
    if (empy_parse_args(fname, args, nargs, kwnames, names_, 0, nrequired, a) < 0) return NULL

#define NT 6 /* tensors one call converts at most */

/* Converted arguments, freed together. */
typedef struct {
    em_tensor *t[NT];
    int n;
} targs;
static void targs_free(targs *ta) {
    for (int i = 0; i < ta->n; i++) em_tensor_free(ta->t[i]);
}
/* Adds obj converted to a tensor (None or absent: NULL when optional). */
static int targ(targs *ta, PyObject *obj, bool optional, const char *fname, em_tensor **out) {
    *out = NULL;
    if (!obj || obj == Py_None) {
        if (optional) return 0;
        PyErr_Format(PyExc_TypeError, "%s(): a tensor argument is None", fname);
        return -1;
    }
    if (!(*out = empy_as_tensor(obj, -1, fname))) return -1;
    ta->t[ta->n++] = *out;
    return 0;
}
/* A running statistic updated in place: an ember Tensor or None. */
static int running_arg(targs *ta, PyObject *obj, const char *fname, const char *what, em_tensor **out) {
    *out = NULL;
    if (!obj || obj == Py_None) return 0;
    if (!EmTensor_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s(): %s must be an ember Tensor (updated in place) or None, not %.50s", fname,
                     what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    *out = em_tensor_retain(EmTensor_T(obj));
    ta->t[ta->n++] = *out;
    return 0;
}

/* Tuple of three results (NULL entries become None; references stolen). */
static PyObject *triple(em_tensor *r0, em_tensor *r1, em_tensor *r2) {
    em_tensor *rs[3] = {r0, r1, r2};
    PyObject *tup = PyTuple_New(3);
    for (int i = 0; i < 3; i++) {
        PyObject *w = !tup ? (em_tensor_free(rs[i]), NULL) : rs[i] ? empy_wrap(rs[i]) : Py_NewRef(Py_None);
        if (w) PyTuple_SET_ITEM(tup, i, w);
        else Py_CLEAR(tup);
    }
    return tup;
}

static int dim_arg(PyObject *o, int *out, const char *fname) {
    long long v;
    if (empy_opt_long(o, 0, &v, fname, "dim") < 0) return -1;
    *out = v < -(1 << 20) ? -(1 << 20) : v > (1 << 20) ? (1 << 20) : (int)v;
    return 0;
}

static PyObject *softmax_bwd(bool log_, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    const char *fname = log_ ? "_log_softmax_backward" : "_softmax_backward";
    static const char *const names[] = {"grad_output", "output", "dim", NULL};
    PyObject *a[3];
    int dim;
    if (empy_parse_args(fname, args, nargs, kwnames, names, 0, 3, a) < 0 || dim_arg(a[2], &dim, fname) < 0)
        return NULL;
    targs ta = {.n = 0};
    em_tensor *g, *y, *r = NULL;
    em_status st = EM_OK;
    if (targ(&ta, a[0], false, fname, &g) < 0 || targ(&ta, a[1], false, fname, &y) < 0) {
        targs_free(&ta);
        return NULL;
    }
    st = EMPY_CALL(em_tensor_numel(y), (log_ ? em_log_softmax_backward : em_softmax_backward)(g, y, dim, &r));
    targs_free(&ta);
    return st ? empy_raise(st) : empy_wrap(r);
}
DEF(_softmax_backward) { return softmax_bwd(false, args, nargs, kwnames); }
DEF(_log_softmax_backward) { return softmax_bwd(true, args, nargs, kwnames); }

DEF(_layer_norm) {
    PARSE("_layer_norm", 2, "input", "normalized_shape", "weight", "bias", "eps");
    int64_t ns[EM_MAX_DIMS];
    int k;
    double eps;
    if (empy_parse_shape(a[1], ns, &k, "_layer_norm") < 0 || empy_opt_double(a[4], 1e-5, &eps, "_layer_norm", "eps") < 0)
        return NULL;
    targs ta = {.n = 0};
    em_tensor *x, *w, *b, *r0 = NULL, *r1 = NULL, *r2 = NULL;
    if (targ(&ta, a[0], false, "_layer_norm", &x) < 0 || targ(&ta, a[2], true, "_layer_norm", &w) < 0 ||
        targ(&ta, a[3], true, "_layer_norm", &b) < 0) {
        targs_free(&ta);
        return NULL;
    }
    em_status st = EMPY_CALL(em_tensor_numel(x), em_layer_norm(x, k, ns, w, b, eps, &r0, &r1, &r2));
    targs_free(&ta);
    return st ? empy_raise(st) : triple(r0, r1, r2);
}

DEF(_layer_norm_backward) {
    PARSE("_layer_norm_backward", 5, "grad_output", "input", "normalized_shape", "mean", "rstd", "weight");
    int64_t ns[EM_MAX_DIMS];
    int k;
    if (empy_parse_shape(a[2], ns, &k, "_layer_norm_backward") < 0) return NULL;
    targs ta = {.n = 0};
    em_tensor *g, *x, *m, *r, *w, *r0 = NULL, *r1 = NULL, *r2 = NULL;
    const char *f = "_layer_norm_backward";
    if (targ(&ta, a[0], false, f, &g) < 0 || targ(&ta, a[1], false, f, &x) < 0 || targ(&ta, a[3], false, f, &m) < 0 ||
        targ(&ta, a[4], false, f, &r) < 0 || targ(&ta, a[5], true, f, &w) < 0) {
        targs_free(&ta);
        return NULL;
    }
    em_status st = EMPY_CALL(em_tensor_numel(x),
                             em_layer_norm_backward(g, x, k, ns, m, r, w, &r0, w ? &r1 : NULL, &r2));
    targs_free(&ta);
    return st ? empy_raise(st) : triple(r0, r1, r2);
}

DEF(_batch_norm) {
    PARSE("_batch_norm", 1, "input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps");
    const char *f = "_batch_norm";
    em_batch_norm_options o = em_batch_norm_default_options();
    if (empy_opt_bool(a[5], false, &o.training) < 0 || empy_opt_double(a[6], 0.1, &o.momentum, f, "momentum") < 0 ||
        empy_opt_double(a[7], 1e-5, &o.eps, f, "eps") < 0)
        return NULL;
    targs ta = {.n = 0};
    em_tensor *x, *rm, *rv, *w, *b, *r0 = NULL, *r1 = NULL, *r2 = NULL;
    if (targ(&ta, a[0], false, f, &x) < 0 || running_arg(&ta, a[1], f, "running_mean", &rm) < 0 ||
        running_arg(&ta, a[2], f, "running_var", &rv) < 0 || targ(&ta, a[3], true, f, &w) < 0 ||
        targ(&ta, a[4], true, f, &b) < 0) {
        targs_free(&ta);
        return NULL;
    }
    em_status st = EMPY_CALL(em_tensor_numel(x), em_batch_norm(x, rm, rv, w, b, &o, &r0, &r1, &r2));
    targs_free(&ta);
    return st ? empy_raise(st) : triple(r0, r1, r2);
}

DEF(_batch_norm_backward) {
    PARSE("_batch_norm_backward", 5, "grad_output", "input", "weight", "save_mean", "save_rstd", "training");
    const char *f = "_batch_norm_backward";
    bool training;
    if (empy_opt_bool(a[5], true, &training) < 0) return NULL;
    targs ta = {.n = 0};
    em_tensor *g, *x, *w, *m, *r, *r0 = NULL, *r1 = NULL, *r2 = NULL;
    if (targ(&ta, a[0], false, f, &g) < 0 || targ(&ta, a[1], false, f, &x) < 0 || targ(&ta, a[2], true, f, &w) < 0 ||
        targ(&ta, a[3], false, f, &m) < 0 || targ(&ta, a[4], false, f, &r) < 0) {
        targs_free(&ta);
        return NULL;
    }
    em_status st = EMPY_CALL(em_tensor_numel(x),
                             em_batch_norm_backward(g, x, w, m, r, training, &r0, w ? &r1 : NULL, &r2));
    targs_free(&ta);
    return st ? empy_raise(st) : triple(r0, r1, r2);
}

DEF(_group_norm) {
    PARSE("_group_norm", 2, "input", "num_groups", "weight", "bias", "eps");
    const char *f = "_group_norm";
    long long groups;
    double eps;
    if (empy_opt_long(a[1], 1, &groups, f, "num_groups") < 0 || empy_opt_double(a[4], 1e-5, &eps, f, "eps") < 0)
        return NULL;
    targs ta = {.n = 0};
    em_tensor *x, *w, *b, *r0 = NULL, *r1 = NULL, *r2 = NULL;
    if (targ(&ta, a[0], false, f, &x) < 0 || targ(&ta, a[2], true, f, &w) < 0 || targ(&ta, a[3], true, f, &b) < 0) {
        targs_free(&ta);
        return NULL;
    }
    em_status st = EMPY_CALL(em_tensor_numel(x), em_group_norm(x, groups, w, b, eps, &r0, &r1, &r2));
    targs_free(&ta);
    return st ? empy_raise(st) : triple(r0, r1, r2);
}

DEF(_group_norm_backward) {
    PARSE("_group_norm_backward", 5, "grad_output", "input", "num_groups", "mean", "rstd", "weight");
    const char *f = "_group_norm_backward";
    long long groups;
    if (empy_opt_long(a[2], 1, &groups, f, "num_groups") < 0) return NULL;
    targs ta = {.n = 0};
    em_tensor *g, *x, *m, *r, *w, *r0 = NULL, *r1 = NULL, *r2 = NULL;
    if (targ(&ta, a[0], false, f, &g) < 0 || targ(&ta, a[1], false, f, &x) < 0 || targ(&ta, a[3], false, f, &m) < 0 ||
        targ(&ta, a[4], false, f, &r) < 0 || targ(&ta, a[5], true, f, &w) < 0) {
        targs_free(&ta);
        return NULL;
    }
    em_status st = EMPY_CALL(em_tensor_numel(x),
                             em_group_norm_backward(g, x, groups, m, r, w, &r0, w ? &r1 : NULL, &r2));
    targs_free(&ta);
    return st ? empy_raise(st) : triple(r0, r1, r2);
}

#define M(name, doc) {#name, (PyCFunction)(void (*)(void))py_##name, METH_FASTCALL | METH_KEYWORDS, doc},
PyMethodDef empy_norm_methods[] = {
    M(_softmax_backward, "_softmax_backward(grad_output, output, dim)\n--\n\n"
                         "Gradient of softmax given its output y: y * (g - sum(g * y, dim)).")
    M(_log_softmax_backward, "_log_softmax_backward(grad_output, output, dim)\n--\n\n"
                             "Gradient of log_softmax given its output y: g - exp(y) * sum(g, dim).")
    M(_layer_norm, "_layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05)\n--\n\n"
                   "(output, mean, rstd) of layer normalisation over the trailing normalized_shape.")
    M(_layer_norm_backward, "_layer_norm_backward(grad_output, input, normalized_shape, mean, rstd, weight=None)\n--\n\n"
                            "(grad_input, grad_weight or None, grad_bias) of layer normalisation.")
    M(_batch_norm, "_batch_norm(input, running_mean=None, running_var=None, weight=None, bias=None, training=False, "
                   "momentum=0.1, eps=1e-05)\n--\n\n"
                   "(output, save_mean, save_rstd) of batch normalisation; training updates the running\n"
                   "statistics in place.")
    M(_batch_norm_backward, "_batch_norm_backward(grad_output, input, weight, save_mean, save_rstd, training=True)\n--\n\n"
                            "(grad_input, grad_weight or None, grad_bias) of batch normalisation.")
    M(_group_norm, "_group_norm(input, num_groups, weight=None, bias=None, eps=1e-05)\n--\n\n"
                   "(output, mean, rstd) of group normalisation; mean and rstd have shape (N, num_groups).")
    M(_group_norm_backward, "_group_norm_backward(grad_output, input, num_groups, mean, rstd, weight=None)\n--\n\n"
                            "(grad_input, grad_weight or None, grad_bias) of group normalisation.")
    {NULL, NULL, 0, NULL},
};
