/* Argument parsing for METH_FASTCALL | METH_KEYWORDS functions, without
 * the cost of PyArg_ParseTupleAndKeywords. */
#include "pyember.h"

int empy_parse_args_kwonly(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                           const char *const *names, int npos_only, int nrequired, int npos_max, PyObject **out) {
    int n = 0;
    while (names[n]) n++;
    if (npos_max > n) npos_max = n;
    if (nargs > npos_max) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional argument%s (%zd given)", fname, npos_max,
                     npos_max == 1 ? "" : "s", nargs);
        return -1;
    }
    for (int i = 0; i < n; i++) out[i] = i < nargs ? args[i] : NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int i = npos_only;
        while (i < n && PyUnicode_CompareWithASCIIString(key, names[i]) != 0) i++;
        if (i == n) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", fname, key);
            return -1;
        }
        if (out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname, names[i]);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (int i = 0; i < nrequired; i++)
        if (!out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname, names[i]);
            return -1;
        }
    return 0;
}

int empy_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                    const char *const *names, int npos_only, int nrequired, PyObject **out) {
    return empy_parse_args_kwonly(fname, args, nargs, kwnames, names, npos_only, nrequired, INT_MAX, out);
}

int empy_opt_bool(PyObject *o, bool dflt, bool *out) {
    if (!o || o == Py_None) {
        *out = dflt;
        return 0;
    }
    int r = PyObject_IsTrue(o);
    if (r < 0) return -1;
    *out = r;
    return 0;
}

int empy_opt_long(PyObject *o, long long dflt, long long *out, const char *fname, const char *what) {
    if (!o || o == Py_None) {
        *out = dflt;
        return 0;
    }
    if (!PyIndex_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s(): %s must be an integer, not %.50s", fname, what, Py_TYPE(o)->tp_name);
        return -1;
    }
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) return -1;
    *out = v;
    return 0;
}

int empy_opt_double(PyObject *o, double dflt, double *out, const char *fname, const char *what) {
    if (!o || o == Py_None) {
        *out = dflt;
        return 0;
    }
    double v = PyFloat_AsDouble(o);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Format(PyExc_TypeError, "%s(): %s must be a number, not %.50s", fname, what, Py_TYPE(o)->tp_name);
        return -1;
    }
    *out = v;
    return 0;
}

PyObject *empy_prefix_error(const char *fname) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (!type) return NULL;
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *msg = value ? PyObject_Str(value) : NULL;
    size_t n = strlen(fname);
    const char *text = msg ? PyUnicode_AsUTF8(msg) : NULL;
    if (text && !(strncmp(text, fname, n) == 0 && text[n] == ':')) {
        PyObject *prefixed = PyUnicode_FromFormat("%s: %s", fname, text);
        if (prefixed) {
            Py_XDECREF(msg);
            Py_XDECREF(value);
            Py_XDECREF(tb);
            PyErr_SetObject(type, prefixed);
            Py_DECREF(type);
            Py_DECREF(prefixed);
            return NULL;
        }
        PyErr_Clear();
    }
    Py_XDECREF(msg);
    PyErr_Restore(type, value, tb);
    return NULL;
}

int empy_want_nargs(Py_ssize_t nargs, Py_ssize_t n, const char *sig) {
    if (nargs == n) return 0;
    PyErr_Format(PyExc_TypeError, "%s takes %zd arguments, got %zd", sig, n, nargs);
    return -1;
}

int empy_as_tensors(PyObject *const *args, int n, const int *dts, const char *const *what, unsigned optional,
                    em_tensor **out) {
    for (int i = 0; i < n; i++) out[i] = NULL;
    for (int i = 0; i < n; i++) {
        if (args[i] == Py_None && (optional & EMPY_OPT(i))) continue;
        if (args[i] == Py_None) PyErr_Format(PyExc_TypeError, "%s must not be None", what[i]);
        else out[i] = empy_as_tensor(args[i], dts[i], what[i]);
        if (!out[i]) {
            empy_free_tensors(out, i);
            for (int j = 0; j < i; j++) out[j] = NULL;
            return -1;
        }
    }
    return 0;
}

void empy_free_tensors(em_tensor **t, int n) {
    for (int i = 0; i < n; i++) em_tensor_free(t[i]);
}

PyObject *empy_wrap_tuple(em_tensor *const *t, int n) {
    PyObject *out = PyTuple_New(n);
    for (int i = 0; i < n; i++) {
        PyObject *w = out ? empy_wrap(t[i]) : (em_tensor_free(t[i]), NULL);
        if (out && !w) Py_CLEAR(out);
        if (out) PyTuple_SET_ITEM(out, i, w);
    }
    return out;
}
