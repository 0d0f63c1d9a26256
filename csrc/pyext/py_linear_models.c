/* Private bindings of ember/linear.h for ember.ml's linear models.  Arguments
 * are positional and already validated by the Python layer (which prepares
 * C-contiguous float64 arrays); libember still checks everything. */
#include "pyember.h"

static const char *const xyw[3] = {"X", "y", "sample_weight"};

static int as_double(PyObject *o, double *v) {
    *v = PyFloat_AsDouble(o);
    return *v == -1.0 && PyErr_Occurred() ? -1 : 0;
}

static int as_ll(PyObject *o, long long *v) {
    *v = PyLong_AsLongLong(o);
    return *v == -1 && PyErr_Occurred() ? -1 : 0;
}

/* _logreg_fit(X, y, sample_weight, n_classes, C, penalty, l1_ratio, fit_intercept, max_iter, tol)
 * penalty: 0 none, 1 l2, 2 l1, 3 elasticnet (em_linear_penalty) */
static PyObject *py_logreg_fit(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (empy_want_nargs(nargs, 10, "_logreg_fit(X, y, sample_weight, n_classes, C, penalty, l1_ratio, fit_intercept, "
                                   "max_iter, tol)") < 0)
        return NULL;
    em_logreg_options o = em_logreg_default_options();
    long long k, pen, max_iter;
    if (as_ll(args[3], &k) < 0 || as_double(args[4], &o.C) < 0 || as_ll(args[5], &pen) < 0 ||
        as_double(args[6], &o.l1_ratio) < 0 || as_ll(args[8], &max_iter) < 0 || as_double(args[9], &o.tol) < 0)
        return NULL;
    o.penalty = (em_linear_penalty)pen;
    o.fit_intercept = PyObject_IsTrue(args[7]);
    o.max_iter = max_iter;
    static const int dts[3] = {EM_F64, EM_I64, EM_F64};
    em_tensor *t[3], *coef = NULL, *b = NULL;
    if (empy_as_tensors(args, 3, dts, xyw, EMPY_OPT(2), t) < 0) return NULL;
    int64_t it = 0;
    em_status st = EMPY_CALL(em_tensor_numel(t[0]), em_logreg_fit(t[0], t[1], t[2], k, &o, &coef, &b, &it));
    empy_free_tensors(t, 3);
    return st ? empy_raise(st) : Py_BuildValue("(NNL)", empy_wrap(coef), empy_wrap(b), (long long)it);
}

/* _enet_fit(X, y, alpha, l1_ratio, max_iter, tol, positive, w0) -> (coef, n_iter, dual_gap) */
static PyObject *py_enet_fit(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (empy_want_nargs(nargs, 8, "_enet_fit(X, y, alpha, l1_ratio, max_iter, tol, positive, w0)") < 0) return NULL;
    double alpha, l1_ratio, tol;
    long long max_iter;
    if (as_double(args[2], &alpha) < 0 || as_double(args[3], &l1_ratio) < 0 || as_ll(args[4], &max_iter) < 0 ||
        as_double(args[5], &tol) < 0)
        return NULL;
    PyObject *const in[3] = {args[0], args[1], args[7]};
    static const int dts[3] = {EM_F64, EM_F64, EM_F64};
    static const char *const what[3] = {"X", "y", "w0"};
    em_tensor *t[3], *coef = NULL;
    if (empy_as_tensors(in, 3, dts, what, EMPY_OPT(2), t) < 0) return NULL;
    int64_t it = 0;
    double gap = 0;
    em_status st = EMPY_CALL(em_tensor_numel(t[0]), em_enet_fit(t[0], t[1], alpha, l1_ratio, max_iter, tol,
                                                                PyObject_IsTrue(args[6]), t[2], &coef, &it, &gap));
    empy_free_tensors(t, 3);
    return st ? empy_raise(st) : Py_BuildValue("(NLd)", empy_wrap(coef), (long long)it, gap);
}

/* _sgd_epoch(X, y, sample_weight, order, w, b, t, loss, penalty, schedule, alpha, l1_ratio, eta0,
 *            power_t, epsilon, fit_intercept) -> (b, t, loss_sum); w (a float64 array) is updated in place */
static PyObject *py_sgd_epoch(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (empy_want_nargs(nargs, 16, "_sgd_epoch(X, y, sample_weight, order, w, b, t, loss, penalty, schedule, alpha, "
                                   "l1_ratio, eta0, power_t, epsilon, fit_intercept)") < 0)
        return NULL;
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
    static const int dts[4] = {EM_F64, EM_F64, EM_F64, EM_I64};
    static const char *const what[4] = {"X", "y", "sample_weight", "order"};
    em_tensor *a[4], *w;
    if (empy_as_tensors(args, 4, dts, what, EMPY_OPT(2), a) < 0) return NULL;
    /* w must be written through: taken without conversion */
    if (!(w = empy_as_tensor(args[4], -1, "w"))) return empy_free_tensors(a, 4), NULL;
    double sum = 0;
    em_status st = EMPY_CALL(em_tensor_numel(a[0]), em_linear_sgd_epoch(a[0], a[1], a[2], a[3], &o, w, &b, &t, &sum));
    empy_free_tensors(a, 4), em_tensor_free(w);
    return st ? empy_raise(st) : Py_BuildValue("(ddd)", b, t, sum);
}

/* _linsvc_fit(X, y, sample_weight, C, squared_hinge, intercept_scaling, max_iter, tol, seed)
 * -> (coef, intercept, n_iter) */
static PyObject *py_linsvc_fit(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (empy_want_nargs(nargs, 9, "_linsvc_fit(X, y, sample_weight, C, squared_hinge, intercept_scaling, max_iter, "
                                  "tol, seed)") < 0)
        return NULL;
    double C, scaling, tol;
    long long max_iter;
    unsigned long long seed = PyLong_AsUnsignedLongLongMask(args[8]);
    if (PyErr_Occurred() || as_double(args[3], &C) < 0 || as_double(args[5], &scaling) < 0 ||
        as_ll(args[6], &max_iter) < 0 || as_double(args[7], &tol) < 0)
        return NULL;
    static const int dts[3] = {EM_F64, EM_F64, EM_F64};
    em_tensor *t[3], *coef = NULL;
    if (empy_as_tensors(args, 3, dts, xyw, EMPY_OPT(2), t) < 0) return NULL;
    double b = 0;
    int64_t it = 0;
    em_status st = EMPY_CALL(em_tensor_numel(t[0]), em_linsvc_fit(t[0], t[1], t[2], C, PyObject_IsTrue(args[4]),
                                                                  scaling, max_iter, tol, seed, &coef, &b, &it));
    empy_free_tensors(t, 3);
    return st ? empy_raise(st) : Py_BuildValue("(NdL)", empy_wrap(coef), b, (long long)it);
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
