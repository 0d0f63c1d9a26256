/* Private bindings of libember's fused optimiser updates and gradient
 * clipping (ember/optim.h), used by python/ember/optim and ember.nn.utils.
 * They update Tensor objects in place, so they take Tensors only (a NumPy
 * array would be converted into a copy and the update lost).  Every option
 * is positional: the Python optimisers pass them all on each step. */
#include "pyember.h"

#include <string.h>

#define DEF(name) static PyObject *py_##name(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
#define PARSE(fname, nrequired, ...)                                                                     \
    static const char *const names_[] = {__VA_ARGS__, NULL};                                            \
    PyObject *a[sizeof names_ / sizeof *names_ - 1];                                                    \
    if (empy_parse_args(fname, args, nargs, kwnames, names_, 0, nrequired, a) < 0) return NULL

/* The em_tensor of a Tensor argument (borrowed); None gives NULL when
 * allowed.  Sets *bad on a TypeError. */
static em_tensor *tensor_arg(PyObject *o, bool allow_none, const char *fname, const char *what, bool *bad) {
    if (allow_none && (!o || o == Py_None)) return NULL;
    if (o && EmTensor_Check(o)) return EmTensor_T(o);
    PyErr_Format(PyExc_TypeError, "%s: %s must be an ember Tensor%s, got %.60s", fname, what,
                 allow_none ? " or None" : "", o ? Py_TYPE(o)->tp_name : "nothing");
    *bad = true;
    return NULL;
}

static int dbl(PyObject *o, double *out, const char *fname, const char *what) {
    return empy_opt_double(o, 0, out, fname, what);
}

static int flag(PyObject *o, bool *out) {
    int r = o ? PyObject_IsTrue(o) : 0;
    if (r < 0) return -1;
    *out = r;
    return 0;
}

static PyObject *done(em_status st) { return st ? empy_raise(st) : Py_NewRef(Py_None); }

DEF(_sgd_step) {
    static const char f[] = "_sgd_step";
    PARSE(f, 10, "param", "grad", "momentum_buf", "first_step", "lr", "momentum", "dampening", "weight_decay",
          "nesterov", "maximize");
    bool bad = false, first;
    em_sgd_options o;
    em_tensor *p = tensor_arg(a[0], false, f, "param", &bad), *g = tensor_arg(a[1], false, f, "grad", &bad);
    em_tensor *b = bad ? NULL : tensor_arg(a[2], true, f, "momentum_buf", &bad);
    if (bad || flag(a[3], &first) || dbl(a[4], &o.lr, f, "lr") || dbl(a[5], &o.momentum, f, "momentum") ||
        dbl(a[6], &o.dampening, f, "dampening") || dbl(a[7], &o.weight_decay, f, "weight_decay") ||
        flag(a[8], &o.nesterov) || flag(a[9], &o.maximize))
        return NULL;
    return done(EMPY_CALL(em_tensor_numel(p), em_sgd_step(p, g, b, first, &o)));
}

DEF(_adam_step) {
    static const char f[] = "_adam_step";
    PARSE(f, 14, "param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step", "lr", "beta1", "beta2", "eps",
          "weight_decay", "amsgrad", "maximize", "decoupled_weight_decay");
    bool bad = false;
    em_adam_options o;
    double step;
    em_tensor *p = tensor_arg(a[0], false, f, "param", &bad);
    em_tensor *g = bad ? NULL : tensor_arg(a[1], false, f, "grad", &bad);
    em_tensor *m = bad ? NULL : tensor_arg(a[2], false, f, "exp_avg", &bad);
    em_tensor *v = bad ? NULL : tensor_arg(a[3], false, f, "exp_avg_sq", &bad);
    em_tensor *vmax = bad ? NULL : tensor_arg(a[4], true, f, "max_exp_avg_sq", &bad);
    if (bad || dbl(a[5], &step, f, "step") || dbl(a[6], &o.lr, f, "lr") || dbl(a[7], &o.beta1, f, "beta1") ||
        dbl(a[8], &o.beta2, f, "beta2") || dbl(a[9], &o.eps, f, "eps") ||
        dbl(a[10], &o.weight_decay, f, "weight_decay") || flag(a[11], &o.amsgrad) || flag(a[12], &o.maximize) ||
        flag(a[13], &o.decoupled_weight_decay))
        return NULL;
    return done(EMPY_CALL(em_tensor_numel(p), em_adam_step(p, g, m, v, vmax, step, &o)));
}

DEF(_rmsprop_step) {
    static const char f[] = "_rmsprop_step";
    PARSE(f, 12, "param", "grad", "square_avg", "momentum_buf", "grad_avg", "lr", "alpha", "eps", "weight_decay",
          "momentum", "centered", "maximize");
    bool bad = false;
    em_rmsprop_options o;
    em_tensor *p = tensor_arg(a[0], false, f, "param", &bad);
    em_tensor *g = bad ? NULL : tensor_arg(a[1], false, f, "grad", &bad);
    em_tensor *s = bad ? NULL : tensor_arg(a[2], false, f, "square_avg", &bad);
    em_tensor *b = bad ? NULL : tensor_arg(a[3], true, f, "momentum_buf", &bad);
    em_tensor *ga = bad ? NULL : tensor_arg(a[4], true, f, "grad_avg", &bad);
    if (bad || dbl(a[5], &o.lr, f, "lr") || dbl(a[6], &o.alpha, f, "alpha") || dbl(a[7], &o.eps, f, "eps") ||
        dbl(a[8], &o.weight_decay, f, "weight_decay") || dbl(a[9], &o.momentum, f, "momentum") ||
        flag(a[10], &o.centered) || flag(a[11], &o.maximize))
        return NULL;
    return done(EMPY_CALL(em_tensor_numel(p), em_rmsprop_step(p, g, s, b, ga, &o)));
}

DEF(_adagrad_step) {
    static const char f[] = "_adagrad_step";
    PARSE(f, 9, "param", "grad", "state_sum", "step", "lr", "lr_decay", "weight_decay", "eps", "maximize");
    bool bad = false;
    em_adagrad_options o = em_adagrad_default_options();
    double step;
    em_tensor *p = tensor_arg(a[0], false, f, "param", &bad);
    em_tensor *g = bad ? NULL : tensor_arg(a[1], false, f, "grad", &bad);
    em_tensor *s = bad ? NULL : tensor_arg(a[2], false, f, "state_sum", &bad);
    if (bad || dbl(a[3], &step, f, "step") || dbl(a[4], &o.lr, f, "lr") || dbl(a[5], &o.lr_decay, f, "lr_decay") ||
        dbl(a[6], &o.weight_decay, f, "weight_decay") || dbl(a[7], &o.eps, f, "eps") || flag(a[8], &o.maximize))
        return NULL;
    return done(EMPY_CALL(em_tensor_numel(p), em_adagrad_step(p, g, s, step, &o)));
}

/* The tensors of a sequence of Tensors: a PyMem array of borrowed pointers
 * (kept alive by *seq, a new reference), or NULL with an error set. */
static em_tensor **grad_list(PyObject *obj, PyObject **seq, int *n, int64_t *numel, const char *f) {
    *seq = PySequence_Fast(obj, "grads must be a sequence of Tensors");
    if (!*seq) return (em_tensor **)empy_prefix_error(f);
    Py_ssize_t len = PySequence_Fast_GET_SIZE(*seq);
    if (len > INT32_MAX) {
        Py_CLEAR(*seq);
        PyErr_Format(PyExc_ValueError, "%s: too many gradients", f);
        return NULL;
    }
    em_tensor **ts = PyMem_Calloc(len ? (size_t)len : 1, sizeof *ts);
    if (!ts) {
        Py_CLEAR(*seq);
        return (em_tensor **)PyErr_NoMemory();
    }
    *numel = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(*seq, i);
        if (!EmTensor_Check(o)) {
            PyErr_Format(PyExc_TypeError, "%s: grads[%zd] must be an ember Tensor, got %.60s", f, i,
                         Py_TYPE(o)->tp_name);
            PyMem_Free(ts);
            Py_CLEAR(*seq);
            return NULL;
        }
        ts[i] = EmTensor_T(o);
        *numel += em_tensor_numel(ts[i]);
    }
    *n = (int)len;
    return ts;
}

DEF(_grad_total_norm) {
    static const char f[] = "_grad_total_norm";
    PARSE(f, 2, "grads", "norm_type");
    double p, out = 0;
    PyObject *seq;
    int n;
    int64_t numel;
    if (dbl(a[1], &p, f, "norm_type")) return NULL;
    em_tensor **ts = grad_list(a[0], &seq, &n, &numel, f);
    if (!ts) return NULL;
    em_status st = EMPY_CALL(numel, em_grad_total_norm((const em_tensor *const *)ts, n, p, &out));
    PyMem_Free(ts);
    Py_DECREF(seq);
    return st ? empy_raise(st) : PyFloat_FromDouble(out);
}

DEF(_clip_grad_norm) {
    static const char f[] = "_clip_grad_norm";
    PARSE(f, 4, "grads", "max_norm", "norm_type", "error_if_nonfinite");
    double max_norm, p, out = 0;
    bool err;
    PyObject *seq;
    int n;
    int64_t numel;
    if (dbl(a[1], &max_norm, f, "max_norm") || dbl(a[2], &p, f, "norm_type") || flag(a[3], &err)) return NULL;
    em_tensor **ts = grad_list(a[0], &seq, &n, &numel, f);
    if (!ts) return NULL;
    em_status st = EMPY_CALL(numel, em_clip_grad_norm(ts, n, max_norm, p, err, &out));
    PyMem_Free(ts);
    Py_DECREF(seq);
    if (st == EM_ERR_INVALID_ARG && err && strstr(em_last_error(), "error_if_nonfinite")) {
        PyErr_SetString(PyExc_RuntimeError, em_last_error()); /* torch raises RuntimeError here */
        return NULL;
    }
    return st ? empy_raise(st) : PyFloat_FromDouble(out);
}

DEF(_clip_grad_value) {
    static const char f[] = "_clip_grad_value";
    PARSE(f, 2, "grads", "clip_value");
    double c;
    PyObject *seq;
    int n;
    int64_t numel;
    if (dbl(a[1], &c, f, "clip_value")) return NULL;
    em_tensor **ts = grad_list(a[0], &seq, &n, &numel, f);
    if (!ts) return NULL;
    em_status st = EMPY_CALL(numel, em_clip_grad_value(ts, n, c));
    PyMem_Free(ts);
    Py_DECREF(seq);
    return done(st);
}

#define M(name, doc) {#name, (PyCFunction)(void (*)(void))py_##name, METH_FASTCALL | METH_KEYWORDS, doc},
PyMethodDef empy_optim_methods[] = {
    M(_sgd_step, "_sgd_step(param, grad, momentum_buf, first_step, lr, momentum, dampening, weight_decay, "
                 "nesterov, maximize)\n--\n\nOne fused SGD update in place (ember.optim.SGD).")
    M(_adam_step, "_adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, "
                  "weight_decay, amsgrad, maximize, decoupled_weight_decay)\n--\n\n"
                  "One fused Adam/AdamW update in place (ember.optim.Adam, AdamW).")
    M(_rmsprop_step, "_rmsprop_step(param, grad, square_avg, momentum_buf, grad_avg, lr, alpha, eps, weight_decay, "
                     "momentum, centered, maximize)\n--\n\nOne fused RMSprop update in place (ember.optim.RMSprop).")
    M(_adagrad_step, "_adagrad_step(param, grad, state_sum, step, lr, lr_decay, weight_decay, eps, maximize)\n--\n\n"
                     "One fused Adagrad update in place (ember.optim.Adagrad).")
    M(_grad_total_norm, "_grad_total_norm(grads, norm_type)\n--\n\nTotal norm of a list of tensors (a float).")
    M(_clip_grad_norm, "_clip_grad_norm(grads, max_norm, norm_type, error_if_nonfinite)\n--\n\n"
                       "Scales the tensors in place so their total norm is at most max_norm; returns the norm.")
    M(_clip_grad_value, "_clip_grad_value(grads, clip_value)\n--\n\nClamps the tensors in place to "
                        "[-clip_value, clip_value].")
    {NULL, NULL, 0, NULL},
};
