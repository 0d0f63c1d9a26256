/* Private bindings of ember/linear.h for ember.ml's linear models.  Arguments
 * are positional and already validated by the Python layer (which prepares
 * C-contiguous float64 arrays); libember still checks everything. */
#include "pyember.h"

static int take(PyObject *const *args, int i, int dt, const char *what, em_tensor **out) {
    *out = args[i] == Py_None ? NULL : empy_as_tensor(args[i], dt, what);
    return args[i] != Py_None && !*out ? -1 : 0;
}

static int as_double(PyObject *o, double *v) {
    *v = PyFloat_AsDouble(o);
    return *v == -1.0 && PyErr_Occurred() ? -1 : 0;
}

static int as_ll(PyObject *o, long long *v) {
    *v = PyLong_AsLongLong(o);
    return *v == -1 && PyErr_Occurred() ? -1 : 0;
}

#define NARGS(name, n)                                                                  \
    if (nargs != (n)) {                                                                 \
        PyErr_Format(PyExc_TypeError, name " takes %d positional arguments", (n));     \
        return NULL;                                                                    \
    }

/* _logreg_fit(X, y, sample_weight, n_classes, C, penalty, l1_ratio, fit_intercept, max_iter, tol)
 * penalty: 0 none, 1 l2, 2 l1, 3 elasticnet (em_linear_penalty) */
static PyObject *py_logreg_fit(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    NARGS("_logreg_fit", 10);
    em_logreg_options o = em_logreg_default_options();
    long long k, pen, max_iter;
    if (as_ll(args[3], &k) < 0 || as_double(args[4], &o.C) < 0 || as_ll(args[5], &pen) < 0 ||
        as_double(args[6], &o.l1_ratio) < 0 || as_ll(args[8], &max_iter) < 0 || as_double(args[9], &o.tol) < 0)
        return NULL;
    o.penalty = (em_linear_penalty)pen;
    o.fit_intercept = PyObject_IsTrue(args[7]);
    o.max_iter = max_iter;
    em_tensor *X = NULL, *y = NULL, *w = NULL, *coef = NULL, *b = NULL;
    PyObject *res = NULL;
    if (take(args, 0, EM_F64, "X", &X) || take(args, 1, EM_I64, "y", &y) || take(args, 2, EM_F64, "sample_weight", &w))
        goto done;
    int64_t it = 0;
    em_status st = EMPY_CALL(em_tensor_numel(X), em_logreg_fit(X, y, w, k, &o, &coef, &b, &it));
    if (st) {
        empy_raise(st);
        goto done;
    }
    res = Py_BuildValue("(NNL)", empy_wrap(coef), empy_wrap(b), (long long)it);
done:
    em_tensor_free(X), em_tensor_free(y), em_tensor_free(w);
    return res;
}

/* _enet_fit(X, y, alpha, l1_ratio, max_iter, tol, positive, w0) -> (coef, n_iter, dual_gap) */
static PyObject *py_enet_fit(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    NARGS("_enet_fit", 8);
    double alpha, l1_ratio, tol;
    long long max_iter;
    if (as_double(args[2], &alpha) < 0 || as_double(args[3], &l1_ratio) < 0 || as_ll(args[4], &max_iter) < 0 ||
        as_double(args[5], &tol) < 0)
        return NULL;
    em_tensor *X = NULL, *y = NULL, *w0 = NULL, *coef = NULL;
    PyObject *res = NULL;
    if (take(args, 0, EM_F64, "X", &X) || take(args, 1, EM_F64, "y", &y) || take(args, 7, EM_F64, "w0", &w0)) goto done;
    int64_t it = 0;
    double gap = 0;
    em_status st = EMPY_CALL(em_tensor_numel(X), em_enet_fit(X, y, alpha, l1_ratio, max_iter, tol,
                                                             PyObject_IsTrue(args[6]), w0, &coef, &it, &gap));
    res = st ? empy_raise(st) : Py_BuildValue("(NLd)", empy_wrap(coef), (long long)it, gap);
done:
    em_tensor_free(X), em_tensor_free(y), em_tensor_free(w0);
    return res;
}

/* _sgd_epoch(X, y, sample_weight, order, w, b, t, loss, penalty, schedule, alpha, l1_ratio, eta0,
 *            power_t, epsilon, fit_intercept) -> (b, t, loss_sum); w (a float64 array) is updated in place */
static PyObject *py_sgd_epoch(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    NARGS("_sgd_epoch", 16);
    em_linear_sgd_options o;
    long long loss, pen, sched;
    double b, t;
    if (as_double(args[5], &b) < 0 || as_double(args[6], &t) < 0 || as_ll(args[7], &loss) < 0 ||
        as_ll(args[8], &pen) < 0 || as_ll(args[9], &sched) < 0 || as_double(args[10], &o.alpha) < 0 ||
        as_double(args[11], &o.l1_ratio) < 0 || as_double(args[12], &o.eta0) < 0 || as_double(args[13], &o.power_t) < 0 ||
        as_double(args[14], &o.epsilon) < 0)
        return NULL;
    o.loss = (em_linear_loss)loss;
    o.penalty = (em_linear_penalty)pen;
    o.schedule = (em_linear_schedule)sched;
    o.fit_intercept = PyObject_IsTrue(args[15]);
    em_tensor *X = NULL, *y = NULL, *sw = NULL, *order = NULL, *w = NULL;
    PyObject *res = NULL;
    if (take(args, 0, EM_F64, "X", &X) || take(args, 1, EM_F64, "y", &y) || take(args, 2, EM_F64, "sample_weight", &sw) ||
        take(args, 3, EM_I64, "order", &order))
        goto done;
    /* w must be written through: take it without conversion */
    if (!(w = empy_as_tensor(args[4], -1, "w"))) goto done;
    double sum = 0;
    em_status st = EMPY_CALL(em_tensor_numel(X), em_linear_sgd_epoch(X, y, sw, order, &o, w, &b, &t, &sum));
    res = st ? empy_raise(st) : Py_BuildValue("(ddd)", b, t, sum);
done:
    em_tensor_free(X), em_tensor_free(y), em_tensor_free(sw), em_tensor_free(order), em_tensor_free(w);
    return res;
}

/* _linsvc_fit(X, y, sample_weight, C, squared_hinge, intercept_scaling, max_iter, tol, seed)
 * -> (coef, intercept, n_iter) */
static PyObject *py_linsvc_fit(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    NARGS("_linsvc_fit", 9);
    double C, scaling, tol;
    long long max_iter;
    unsigned long long seed = PyLong_AsUnsignedLongLongMask(args[8]);
    if (PyErr_Occurred() || as_double(args[3], &C) < 0 || as_double(args[5], &scaling) < 0 ||
        as_ll(args[6], &max_iter) < 0 || as_double(args[7], &tol) < 0)
        return NULL;
    em_tensor *X = NULL, *y = NULL, *sw = NULL, *coef = NULL;
    PyObject *res = NULL;
    if (take(args, 0, EM_F64, "X", &X) || take(args, 1, EM_F64, "y", &y) || take(args, 2, EM_F64, "sample_weight", &sw))
        goto done;
    double b = 0;
    int64_t it = 0;
    em_status st = EMPY_CALL(em_tensor_numel(X), em_linsvc_fit(X, y, sw, C, PyObject_IsTrue(args[4]), scaling, max_iter,
                                                               tol, seed, &coef, &b, &it));
    res = st ? empy_raise(st) : Py_BuildValue("(NdL)", empy_wrap(coef), b, (long long)it);
done:
    em_tensor_free(X), em_tensor_free(y), em_tensor_free(sw);
    return res;
}

PyMethodDef empy_linear_models_methods[] = {
    {"_logreg_fit", (PyCFunction)(void (*)(void))py_logreg_fit, METH_FASTCALL,
     "_logreg_fit(X, y, sample_weight, n_classes, C, penalty, l1_ratio, fit_intercept, max_iter, tol)\n--\n\n"
     "(private) penalty: 0 none, 1 l2, 2 l1, 3 elasticnet"},
    {"_enet_fit", (PyCFunction)(void (*)(void))py_enet_fit, METH_FASTCALL,
     "_enet_fit(X, y, alpha, l1_ratio, max_iter, tol, positive, w0)\n--\n\n(private)"},
    {"_sgd_epoch", (PyCFunction)(void (*)(void))py_sgd_epoch, METH_FASTCALL,
     "_sgd_epoch(X, y, sample_weight, order, w, b, t, loss, penalty, schedule, alpha, l1_ratio, eta0, power_t,\n"
     "           epsilon, fit_intercept)\n--\n\n(private)"},
    {"_linsvc_fit", (PyCFunction)(void (*)(void))py_linsvc_fit, METH_FASTCALL,
     "_linsvc_fit(X, y, sample_weight, C, squared_hinge, intercept_scaling, max_iter, tol, seed)\n--\n\n(private)"},
    {NULL, NULL, 0, NULL},
};
