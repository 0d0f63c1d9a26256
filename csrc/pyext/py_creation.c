/* Python bindings of the creation functions (array API names and
 * signatures): empty/zeros/ones/full, their *_like forms, arange, linspace,
 * eye, meshgrid, tril/triu.  Floats default to float32, integers to int64. */
#include "pyember.h"

#include <math.h>

#define DEF(name) static PyObject *py_##name(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
/* Declares a[] and parses the arguments named in __VA_ARGS__ into it. */
#define PARSE(fname, npos_only, nrequired, ...)                                                           \
    static const char *const names_[] = {__VA_ARGS__, NULL};                                            \
    PyObject *a[sizeof names_ / sizeof *names_ - 1];                                                    \
    if (empy_parse_args(fname, args, nargs, kwnames, names_, npos_only, nrequired, a) < 0) return NULL

/* device: None or 'cpu' (ember's only device). */
static int check_device(const char *fname, PyObject *dev) {
    if (!dev || dev == Py_None || (PyUnicode_Check(dev) && PyUnicode_CompareWithASCIIString(dev, "cpu") == 0)) return 0;
    PyErr_Format(PyExc_ValueError, "%s(): device must be 'cpu' or None, got %R", fname, dev);
    return -1;
}

static PyObject *wrap_or_raise(em_status st, em_tensor *out) { return st ? empy_raise(st) : empy_wrap(out); }

/* Fills t (whose dtype is final) with the Python value v, exactly for int64. */
static em_status fill_from(em_tensor *t, PyObject *v, const char *fname, bool *pyerr) {
    em_tensor *s = empy_as_tensor(v, t->dtype, fname);
    if (!s) {
        *pyerr = true;
        return EM_ERR_INVALID_ARG;
    }
    em_status st = EMPY_CALL(em_tensor_numel(t), em_tensor_copy_into(t, s));
    em_tensor_free(s);
    return st;
}

/* Default dtype of a fill value: bool, int64 or float32 for Python scalars, else its own. */
static int fill_dtype(PyObject *v, const char *fname) {
    if (PyBool_Check(v)) return EM_BOOL;
    if (PyLong_Check(v)) return EM_DEFAULT_INT;
    if (PyFloat_Check(v)) return EM_DEFAULT_FLOAT;
    em_tensor *s = empy_as_tensor(v, -1, fname);
    if (!s) return -1;
    int dt = s->dtype;
    em_tensor_free(s);
    return dt;
}

/* ---- empty / zeros / ones / full ------------------------------------------ */

enum { K_EMPTY, K_ZEROS, K_ONES, K_FULL };

/* (shape, [fill_value,] *, dtype=None, device=None, requires_grad=False) */
static PyObject *filled(const char *fname, int kind, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const plain[] = {"shape", "dtype", "device", "requires_grad", NULL};
    static const char *const full[] = {"shape", "fill_value", "dtype", "device", "requires_grad", NULL};
    PyObject *a[5];
    bool is_full = kind == K_FULL;
    if (empy_parse_args(fname, args, nargs, kwnames, is_full ? full : plain, 0, 1 + is_full, a) < 0) return NULL;
    PyObject *dto = a[1 + is_full], *fill = is_full ? a[1] : NULL;
    int64_t shape[EM_MAX_DIMS];
    int nd, dt;
    if (check_device(fname, a[2 + is_full]) < 0 || empy_parse_shape(a[0], shape, &nd, fname) < 0 ||
        empy_parse_dtype(dto, &dt, true) < 0)
        return NULL;
    if (dt < 0 && (dt = is_full ? fill_dtype(fill, fname) : EM_DEFAULT_FLOAT) < 0) return NULL;
    em_status st = em__check_shape(fname, nd, shape);
    if (st) return empy_raise(st);
    em_tensor *t;
    switch (kind) {
    case K_ZEROS: st = em_tensor_zeros(dt, nd, shape, &t); break;
    case K_ONES: st = em_tensor_ones(dt, nd, shape, &t); break;
    default: st = em_tensor_empty(dt, nd, shape, &t); break;
    }
    if (st) return empy_raise(st);
    bool pyerr = false;
    if (is_full && (st = fill_from(t, fill, fname, &pyerr))) {
        em_tensor_free(t);
        return pyerr ? NULL : empy_raise(st);
    }
    return empy_apply_requires_grad(empy_wrap(t), a[3 + is_full], fname);
}

/* (x, /, [fill_value,] *, dtype=None, device=None, requires_grad=False): x's shape, x's dtype by default. */
static PyObject *like(const char *fname, int kind, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const plain[] = {"x", "dtype", "device", "requires_grad", NULL};
    static const char *const full[] = {"x", "fill_value", "dtype", "device", "requires_grad", NULL};
    PyObject *a[5];
    bool is_full = kind == K_FULL;
    if (empy_parse_args(fname, args, nargs, kwnames, is_full ? full : plain, 1, 1 + is_full, a) < 0) return NULL;
    int dt;
    if (check_device(fname, a[2 + is_full]) < 0 || empy_parse_dtype(a[1 + is_full], &dt, true) < 0) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, fname), *t;
    if (!x) return NULL;
    em_status st = em_tensor_empty_like(x, dt, &t);
    em_tensor_free(x);
    if (st) return empy_raise(st);
    bool pyerr = false;
    if (kind == K_ZEROS || kind == K_ONES) st = em_tensor_fill(t, kind == K_ONES);
    else if (is_full) st = fill_from(t, a[1], fname, &pyerr);
    if (st) {
        em_tensor_free(t);
        return pyerr ? NULL : empy_raise(st);
    }
    return empy_apply_requires_grad(empy_wrap(t), a[3 + is_full], fname);
}

#define FILLED_KINDS(X) X(empty, K_EMPTY) X(zeros, K_ZEROS) X(ones, K_ONES) X(full, K_FULL)
#define X(name, kind)                                                                     \
    DEF(name) { return filled(#name, kind, args, nargs, kwnames); }                      \
    DEF(name##_like) { return like(#name "_like", kind, args, nargs, kwnames); }
FILLED_KINDS(X)
#undef X

/* ---- ranges --------------------------------------------------------------- */

/* A Python/NumPy integer (not a float, not a tensor). */
static bool is_int_like(PyObject *o) { return PyIndex_Check(o) && !PyFloat_Check(o) && !EmTensor_Check(o); }

DEF(arange) {
    PARSE("arange", 1, 1, "start", "stop", "step", "dtype", "device", "requires_grad");
    PyObject *start = a[0], *stop = a[1] && a[1] != Py_None ? a[1] : NULL, *step = a[2] ? a[2] : NULL;
    int dt;
    if (check_device("arange", a[4]) < 0 || empy_parse_dtype(a[3], &dt, true) < 0) return NULL;
    bool ints = is_int_like(start) && (!stop || is_int_like(stop)) && (!step || is_int_like(step));
    double v0, v1, dv;
    if (empy_opt_double(start, 0, &v0, "arange", "start") < 0 || empy_opt_double(stop, 0, &v1, "arange", "stop") < 0 ||
        empy_opt_double(step, 1, &dv, "arange", "step") < 0)
        return NULL;
    if (!stop) {
        v1 = v0;
        v0 = 0;
    }
    em_tensor *out = NULL;
    em_status st = em_tensor_arange(v0, v1, dv, dt >= 0 ? dt : ints ? EM_DEFAULT_INT : EM_DEFAULT_FLOAT, &out);
    return empy_apply_requires_grad(wrap_or_raise(st, out), a[5], "arange");
}

DEF(linspace) {
    PARSE("linspace", 2, 3, "start", "stop", "num", "dtype", "device", "endpoint", "requires_grad");
    double v0, v1;
    long long num;
    int dt;
    bool endpoint;
    if (empy_opt_double(a[0], 0, &v0, "linspace", "start") < 0 ||
        empy_opt_double(a[1], 0, &v1, "linspace", "stop") < 0 ||
        empy_opt_long(a[2], 0, &num, "linspace", "num") < 0 || empy_parse_dtype(a[3], &dt, true) < 0 ||
        check_device("linspace", a[4]) < 0 || empy_opt_bool(a[5], true, &endpoint) < 0)
        return NULL;
    em_tensor *out = NULL;
    em_status st = em_tensor_linspace(v0, v1, num, endpoint, dt >= 0 ? dt : EM_DEFAULT_FLOAT, &out);
    return empy_apply_requires_grad(wrap_or_raise(st, out), a[6], "linspace");
}

DEF(eye) {
    PARSE("eye", 2, 1, "n_rows", "n_cols", "k", "dtype", "device", "requires_grad");
    long long n, m, k;
    int dt;
    if (empy_opt_long(a[0], 0, &n, "eye", "n_rows") < 0 || empy_opt_long(a[1], -1, &m, "eye", "n_cols") < 0 ||
        empy_opt_long(a[2], 0, &k, "eye", "k") < 0 || empy_parse_dtype(a[3], &dt, true) < 0 ||
        check_device("eye", a[4]) < 0)
        return NULL;
    if (n < 0 || (m < 0 && a[1] && a[1] != Py_None)) {
        PyErr_Format(PyExc_ValueError, "eye: n_rows and n_cols must be >= 0, got %lld and %lld", n, m);
        return NULL;
    }
    em_tensor *out = NULL;
    em_status st = em_tensor_eye(n, m, k, dt >= 0 ? dt : EM_DEFAULT_FLOAT, &out);
    return empy_apply_requires_grad(wrap_or_raise(st, out), a[5], "eye");
}

/* ---- meshgrid, tril, triu ------------------------------------------------- */

/* meshgrid(*arrays, indexing='xy'): contiguous copies, each keeping its dtype. */
static PyObject *py_meshgrid(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *indexing = NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, i), "indexing") != 0) {
            PyErr_Format(PyExc_TypeError, "meshgrid() got an unexpected keyword argument %R",
                         PyTuple_GET_ITEM(kwnames, i));
            return NULL;
        }
        indexing = args[nargs + i];
    }
    bool xy = true;
    if (indexing) {
        bool is_ij = PyUnicode_Check(indexing) && PyUnicode_CompareWithASCIIString(indexing, "ij") == 0;
        if (!is_ij && !(PyUnicode_Check(indexing) && PyUnicode_CompareWithASCIIString(indexing, "xy") == 0)) {
            PyErr_Format(PyExc_ValueError, "meshgrid: indexing must be 'xy' or 'ij', got %R", indexing);
            return NULL;
        }
        xy = !is_ij;
    }
    if (nargs > EM_MAX_DIMS) {
        PyErr_Format(PyExc_ValueError, "meshgrid: %zd arrays give %zd dimensions; ember supports at most %d", nargs,
                     nargs, EM_MAX_DIMS);
        return NULL;
    }
    int nd = (int)nargs;
    em_tensor *xs[EM_MAX_DIMS] = {0};
    int64_t shape[EM_MAX_DIMS];
    PyObject *res = PyTuple_New(nargs);
    if (!res) return NULL;
    for (int i = 0; i < nd; i++) {
        if (!(xs[i] = empy_as_tensor(args[i], -1, "meshgrid"))) goto fail;
        if (xs[i]->ndim != 1) {
            char b[EM_DESC_LEN];
            PyErr_Format(PyExc_ValueError, "meshgrid: array %d must be 1-D, got %s", i, em__desc(xs[i], b));
            goto fail;
        }
    }
    /* 'xy': the first two arrays vary along axes 1 and 0 */
    for (int i = 0; i < nd; i++) shape[xy && nd > 1 && i < 2 ? 1 - i : i] = xs[i]->shape[0];
    for (int i = 0; i < nd; i++) {
        int64_t sh[EM_MAX_DIMS];
        int ax = xy && nd > 1 && i < 2 ? 1 - i : i;
        for (int d = 0; d < nd; d++) sh[d] = d == ax ? shape[d] : 1;
        em_tensor *r, *e, *c = NULL;
        em_status st = em_tensor_reshape(xs[i], nd, sh, &r);
        if (!st) {
            st = em_tensor_expand(r, nd, shape, &e);
            em_tensor_free(r);
        }
        if (!st) {
            st = EMPY_CALL(em_tensor_numel(e), em_tensor_clone(e, &c));
            em_tensor_free(e);
        }
        PyObject *w = st ? empy_raise(st) : empy_wrap(c);
        if (!w) goto fail;
        PyTuple_SET_ITEM(res, i, w);
    }
    for (int i = 0; i < nd; i++) em_tensor_free(xs[i]);
    return res;
fail:
    for (int i = 0; i < nd; i++) em_tensor_free(xs[i]);
    Py_DECREF(res);
    return NULL;
}

static PyObject *triangle(const char *fname, em_status (*fn)(const em_tensor *, int64_t, em_tensor **),
                          PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"x", "k", NULL};
    PyObject *a[2];
    long long k;
    if (empy_parse_args(fname, args, nargs, kwnames, names, 1, 1, a) < 0 || empy_opt_long(a[1], 0, &k, fname, "k") < 0)
        return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, fname), *out = NULL;
    if (!x) return NULL;
    em_status st = EMPY_CALL(em_tensor_numel(x), fn(x, k, &out));
    em_tensor_free(x);
    return wrap_or_raise(st, out);
}
DEF(tril) { return triangle("tril", em_tril, args, nargs, kwnames); }
DEF(triu) { return triangle("triu", em_triu, args, nargs, kwnames); }

#define FASTKW METH_FASTCALL | METH_KEYWORDS
#define M(name, doc) {#name, (PyCFunction)(void (*)(void))py_##name, FASTKW, doc},
PyMethodDef empy_creation_methods[] = {
    M(empty, "empty(shape, *, dtype=None, device=None, requires_grad=False)\n--\n\n"
             "Uninitialised tensor of shape (an int or a tuple); dtype defaults to float32.")
    M(zeros, "zeros(shape, *, dtype=None, device=None, requires_grad=False)\n--\n\n"
             "Tensor of zeros; dtype defaults to float32.")
    M(ones, "ones(shape, *, dtype=None, device=None, requires_grad=False)\n--\n\n"
            "Tensor of ones; dtype defaults to float32.")
    M(full, "full(shape, fill_value, *, dtype=None, device=None, requires_grad=False)\n--\n\n"
            "Tensor filled with fill_value.  The dtype defaults to that of the value:\n"
            "bool -> bool, int -> int64, float -> float32, tensor -> its dtype.")
    M(empty_like, "empty_like(x, /, *, dtype=None, device=None, requires_grad=False)\n--\n\n"
                  "Uninitialised tensor with x's shape and (by default) dtype.")
    M(zeros_like, "zeros_like(x, /, *, dtype=None, device=None, requires_grad=False)\n--\n\n"
                  "Zeros with x's shape and (by default) dtype.")
    M(ones_like, "ones_like(x, /, *, dtype=None, device=None, requires_grad=False)\n--\n\n"
                 "Ones with x's shape and (by default) dtype.")
    M(full_like, "full_like(x, /, fill_value, *, dtype=None, device=None, requires_grad=False)\n--\n\n"
                 "fill_value with x's shape and (by default) dtype.")
    M(arange, "arange(start, /, stop=None, step=1, *, dtype=None, device=None, requires_grad=False)\n--\n\n"
              "Values start, start+step, ... below stop (arange(n): 0 .. n-1).\n"
              "dtype defaults to int64 when every argument is an integer, else float32.")
    M(linspace, "linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True, requires_grad=False)"
                "\n--\n\n"
                "num evenly spaced values from start to stop (stop included iff endpoint);\n"
                "dtype defaults to float32.")
    M(eye, "eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None, requires_grad=False)\n--\n\n"
           "n_rows x n_cols matrix (square if n_cols is None) with ones on diagonal k\n"
           "(k > 0 above the main diagonal); dtype defaults to float32.")
    M(meshgrid, "meshgrid(*arrays, indexing='xy')\n--\n\n"
                "Coordinate grids from 1-D arrays, as a tuple of new tensors.  indexing='xy'\n"
                "(Cartesian) swaps the first two output axes; 'ij' (matrix) does not.")
    M(tril, "tril(x, /, *, k=0)\n--\n\nCopy of x with the elements above diagonal k of the last two axes zeroed.")
    M(triu, "triu(x, /, *, k=0)\n--\n\nCopy of x with the elements below diagonal k of the last two axes zeroed.")
    {NULL, NULL, 0, NULL},
};
