/* Private bindings of the dense linear algebra (ember/ml.h); ember.linalg
 * (python/ember/_linalg.py) wraps them with the NumPy / array-API signatures
 * and turns their ValueErrors into ember.linalg.LinAlgError. */
#include "pyember.h"

#define FC(f) (PyCFunction)(void (*)(void))(f)

static em_tensor *arg(PyObject *o, const char *fname) {
    return EmTensor_Check(o) ? em_tensor_retain(EmTensor_T(o)) : empy_as_tensor(o, -1, fname);
}

static int nargs_ok(const char *fname, Py_ssize_t nargs, Py_ssize_t want) {
    if (nargs == want) return 0;
    PyErr_Format(PyExc_TypeError, "%s expects %zd arguments, got %zd", fname, want, nargs);
    return -1;
}

static int64_t numel(const em_tensor *t) { return em__numel(t->ndim, t->shape); }

/* Wraps n result tensors into a tuple (all freed on failure). */
static PyObject *wrap_tuple(int n, em_tensor **ts) {
    PyObject *tup = PyTuple_New(n);
    for (int i = 0; i < n; i++) {
        PyObject *o = tup ? empy_wrap(ts[i]) : (em_tensor_free(ts[i]), NULL);
        if (!o) {
            Py_CLEAR(tup);
            continue;
        }
        PyTuple_SET_ITEM(tup, i, o);
    }
    return tup;
}

/* f(x) -> tensor for inv, det. */
static PyObject *unary(const char *fname, em_status (*f)(const em_tensor *, em_tensor **), PyObject *const *args,
                       Py_ssize_t nargs) {
    if (nargs_ok(fname, nargs, 1) < 0) return NULL;
    em_tensor *x = arg(args[0], fname), *out;
    if (!x) return NULL;
    em_status st = EMPY_CALL(numel(x), f(x, &out));
    em_tensor_free(x);
    return st ? empy_raise(st) : empy_wrap(out);
}

static PyObject *py_inv(PyObject *m, PyObject *const *a, Py_ssize_t n) { return unary("inv", em_linalg_inv, a, n); }
static PyObject *py_det(PyObject *m, PyObject *const *a, Py_ssize_t n) { return unary("det", em_linalg_det, a, n); }

static PyObject *py_slogdet(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs_ok("slogdet", nargs, 1) < 0) return NULL;
    em_tensor *x = arg(args[0], "slogdet"), *out[2];
    if (!x) return NULL;
    em_status st = EMPY_CALL(numel(x), em_linalg_slogdet(x, &out[0], &out[1]));
    em_tensor_free(x);
    return st ? empy_raise(st) : wrap_tuple(2, out);
}

static PyObject *py_solve(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs_ok("solve", nargs, 2) < 0) return NULL;
    em_tensor *a = arg(args[0], "solve"), *b = a ? arg(args[1], "solve") : NULL, *out;
    if (!b) return em_tensor_free(a), NULL;
    em_status st = EMPY_CALL(numel(a), em_linalg_solve(a, b, &out));
    em_tensor_free(a), em_tensor_free(b);
    return st ? empy_raise(st) : empy_wrap(out);
}

static PyObject *py_cholesky(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs_ok("cholesky", nargs, 2) < 0) return NULL;
    int upper = PyObject_IsTrue(args[1]);
    if (upper < 0) return NULL;
    em_tensor *x = arg(args[0], "cholesky"), *out;
    if (!x) return NULL;
    em_status st = EMPY_CALL(numel(x), em_linalg_cholesky(x, upper, &out));
    em_tensor_free(x);
    return st ? empy_raise(st) : empy_wrap(out);
}

static PyObject *py_qr(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs_ok("qr", nargs, 2) < 0) return NULL;
    long mode = PyLong_AsLong(args[1]);
    if (mode == -1 && PyErr_Occurred()) return NULL;
    em_tensor *x = arg(args[0], "qr"), *out[2] = {NULL, NULL};
    if (!x) return NULL;
    em_status st = EMPY_CALL(numel(x), em_linalg_qr(x, (em_qr_mode)mode, &out[0], &out[1]));
    em_tensor_free(x);
    if (st) return empy_raise(st);
    return mode == EM_QR_R ? empy_wrap(out[1]) : wrap_tuple(2, out);
}

static PyObject *py_eigh(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs_ok("eigh", nargs, 2) < 0) return NULL;
    int vecs = PyObject_IsTrue(args[1]);
    if (vecs < 0) return NULL;
    em_tensor *x = arg(args[0], "eigh"), *out[2] = {NULL, NULL};
    if (!x) return NULL;
    em_status st = EMPY_CALL(numel(x), em_linalg_eigh(x, &out[0], vecs ? &out[1] : NULL));
    em_tensor_free(x);
    if (st) return empy_raise(st);
    return vecs ? wrap_tuple(2, out) : empy_wrap(out[0]);
}

static PyObject *py_svd(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs_ok("svd", nargs, 3) < 0) return NULL;
    int full = PyObject_IsTrue(args[1]), uv = PyObject_IsTrue(args[2]);
    if (full < 0 || uv < 0) return NULL;
    em_tensor *x = arg(args[0], "svd"), *out[3] = {NULL, NULL, NULL};
    if (!x) return NULL;
    em_status st = EMPY_CALL(numel(x), em_linalg_svd(x, full, uv ? &out[0] : NULL, &out[1], uv ? &out[2] : NULL));
    em_tensor_free(x);
    if (st) return empy_raise(st);
    return uv ? wrap_tuple(3, out) : empy_wrap(out[1]);
}

static PyObject *py_pinv(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs_ok("pinv", nargs, 2) < 0) return NULL;
    double rtol = PyFloat_AsDouble(args[1]);
    if (rtol == -1 && PyErr_Occurred()) return NULL;
    em_tensor *x = arg(args[0], "pinv"), *out;
    if (!x) return NULL;
    em_status st = EMPY_CALL(numel(x), em_linalg_pinv(x, rtol, &out));
    em_tensor_free(x);
    return st ? empy_raise(st) : empy_wrap(out);
}

static PyObject *py_lstsq(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs_ok("lstsq", nargs, 3) < 0) return NULL;
    double rcond = PyFloat_AsDouble(args[2]);
    if (rcond == -1 && PyErr_Occurred()) return NULL;
    em_tensor *a = arg(args[0], "lstsq"), *b = a ? arg(args[1], "lstsq") : NULL, *out[4];
    if (!b) return em_tensor_free(a), NULL;
    em_status st = EMPY_CALL(numel(a), em_linalg_lstsq(a, b, rcond, &out[0], &out[1], &out[2], &out[3]));
    em_tensor_free(a), em_tensor_free(b);
    return st ? empy_raise(st) : wrap_tuple(4, out);
}

/* _tall(x, y, w, center, qr) -> (gram or r, mean); y and w may be None. */
static PyObject *py_tall(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs_ok("_tall", nargs, 5) < 0) return NULL;
    int center = PyObject_IsTrue(args[3]), qr = PyObject_IsTrue(args[4]);
    if (center < 0 || qr < 0) return NULL;
    em_tensor *t[3] = {NULL, NULL, NULL}, *out[2];
    for (int i = 0; i < 3; i++)
        if ((i == 0 || args[i] != Py_None) && !(t[i] = arg(args[i], "_tall"))) {
            for (int j = 0; j < i; j++) em_tensor_free(t[j]);
            return NULL;
        }
    em_status st = EMPY_CALL(numel(t[0]), qr ? em_linalg_tall_qr(t[0], t[1], t[2], center, &out[0], &out[1])
                                             : em_linalg_tall_gram(t[0], t[1], t[2], center, &out[0], &out[1]));
    for (int i = 0; i < 3; i++) em_tensor_free(t[i]);
    return st ? empy_raise(st) : wrap_tuple(2, out);
}

/* _tall_project(x, w, b) -> x @ w^T + b (b may be None). */
static PyObject *py_tall_project(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs_ok("_tall_project", nargs, 3) < 0) return NULL;
    em_tensor *x = arg(args[0], "_tall_project"), *w = x ? arg(args[1], "_tall_project") : NULL, *b = NULL, *out;
    if (w && args[2] != Py_None) b = arg(args[2], "_tall_project");
    if (!w || (args[2] != Py_None && !b)) return em_tensor_free(x), em_tensor_free(w), NULL;
    em_status st = EMPY_CALL(numel(x), em_linalg_tall_project(x, w, b, &out));
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(b);
    return st ? empy_raise(st) : empy_wrap(out);
}

PyMethodDef empy_linalg_ml_methods[] = {
    {"_solve", FC(py_solve), METH_FASTCALL, "_solve(a, b): em_linalg_solve (see ember.linalg.solve)."},
    {"_inv", FC(py_inv), METH_FASTCALL, "_inv(x): em_linalg_inv."},
    {"_det", FC(py_det), METH_FASTCALL, "_det(x): em_linalg_det."},
    {"_slogdet", FC(py_slogdet), METH_FASTCALL, "_slogdet(x) -> (sign, logabsdet)."},
    {"_cholesky", FC(py_cholesky), METH_FASTCALL, "_cholesky(x, upper): em_linalg_cholesky."},
    {"_qr", FC(py_qr), METH_FASTCALL, "_qr(x, mode): mode 0 reduced, 1 complete (-> (q, r)), 2 r only."},
    {"_eigh", FC(py_eigh), METH_FASTCALL, "_eigh(x, vectors) -> (w, v) or w."},
    {"_svd", FC(py_svd), METH_FASTCALL, "_svd(x, full_matrices, compute_uv) -> (u, s, vh) or s."},
    {"_pinv", FC(py_pinv), METH_FASTCALL, "_pinv(x, rtol): rtol < 0 is the default."},
    {"_lstsq", FC(py_lstsq), METH_FASTCALL, "_lstsq(a, b, rcond) -> (x, residuals, rank, s)."},
    {"_tall", FC(py_tall), METH_FASTCALL,
     "_tall(x, y, w, center, qr) -> (gram or r, mean): em_linalg_tall_gram / em_linalg_tall_qr (y, w may be None)."},
    {"_tall_project", FC(py_tall_project), METH_FASTCALL, "_tall_project(x, w, b): em_linalg_tall_project."},
    {NULL, NULL, 0, NULL},
};
