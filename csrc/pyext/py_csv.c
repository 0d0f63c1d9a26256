/* Private binding of the CSV reader, used by python/ember/data/_csv.py:
 *
 *   _read_csv(source, /, delimiter, quote, comment, header, skiprows, max_rows,
 *             na_values, usecols, types, default_type, nthreads)
 *
 * source is a str path (read by libember) or a bytes-like buffer; the lists
 * are tuples/lists of str (na_values), str|int (usecols) and (str|int, code)
 * pairs (types; codes are em_csv_type).  Returns a list with one tuple per
 * column: (name, code, Tensor) for numeric columns, or (name, code, data,
 * offsets, missing) with three bytes objects for strings (offsets: int64
 * native order, missing: one byte per row).  The GIL is released while
 * parsing. */
#include "pyember.h"

/* One ASCII character, or 0 for None when allow_none. */
static int one_char(PyObject *o, const char *what, bool allow_none, char *out) {
    if (!o || o == Py_None) {
        if (allow_none) {
            *out = 0;
            return 0;
        }
    } else if (PyUnicode_Check(o) && PyUnicode_GET_LENGTH(o) == 1 && PyUnicode_READ_CHAR(o, 0) < 128) {
        *out = (char)PyUnicode_READ_CHAR(o, 0);
        return 0;
    }
    PyErr_Format(PyExc_ValueError, "read_csv: %s must be one ASCII character%s, got %R", what,
                 allow_none ? " or None" : "", o ? o : Py_None);
    return -1;
}

/* A column reference: str name or int index. */
static int column_ref(PyObject *o, const char *what, em_csv_column *c) {
    if (PyUnicode_Check(o)) {
        c->name = PyUnicode_AsUTF8(o);
        c->index = 0;
        return c->name ? 0 : -1;
    }
    if (PyLong_Check(o) && !PyBool_Check(o)) {
        c->name = NULL;
        c->index = PyLong_AsLongLong(o);
        if (c->index == -1 && PyErr_Occurred()) return -1;
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "read_csv: %s entries must be column names (str) or indices (int), got %.50s",
                 what, Py_TYPE(o)->tp_name);
    return -1;
}

/* Parsed arguments; the tuples keep the strings the options point into alive. */
typedef struct {
    em_csv_options o;
    PyObject *na, *use, *types;
    const char **na_v;
    em_csv_column *use_v;
    em_csv_column_type *types_v;
} args_t;

static void args_free(args_t *a) {
    Py_XDECREF(a->na);
    Py_XDECREF(a->use);
    Py_XDECREF(a->types);
    PyMem_Free(a->na_v);
    PyMem_Free(a->use_v);
    PyMem_Free(a->types_v);
}

static int parse_lists(args_t *A, PyObject *na, PyObject *use, PyObject *types) {
    if (na && na != Py_None) {
        if (!(A->na = PySequence_Tuple(na))) return -1;
        Py_ssize_t n = PyTuple_GET_SIZE(A->na);
        if (!(A->na_v = PyMem_Calloc((size_t)n + 1, sizeof *A->na_v))) return PyErr_NoMemory(), -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *s = PyTuple_GET_ITEM(A->na, i);
            if (!PyUnicode_Check(s)) {
                PyErr_Format(PyExc_TypeError, "read_csv: na_values must be strings, got %.50s", Py_TYPE(s)->tp_name);
                return -1;
            }
            if (!(A->na_v[i] = PyUnicode_AsUTF8(s))) return -1;
        }
        A->o.na_values = A->na_v;
        A->o.n_na_values = n;
    }
    if (use && use != Py_None) {
        if (!(A->use = PySequence_Tuple(use))) return -1;
        Py_ssize_t n = PyTuple_GET_SIZE(A->use);
        if (!(A->use_v = PyMem_Calloc((size_t)n + 1, sizeof *A->use_v))) return PyErr_NoMemory(), -1;
        for (Py_ssize_t i = 0; i < n; i++)
            if (column_ref(PyTuple_GET_ITEM(A->use, i), "usecols", &A->use_v[i]) < 0) return -1;
        A->o.usecols = A->use_v;
        A->o.n_usecols = n;
    }
    if (types && types != Py_None) {
        if (!(A->types = PySequence_Tuple(types))) return -1;
        Py_ssize_t n = PyTuple_GET_SIZE(A->types);
        if (!(A->types_v = PyMem_Calloc((size_t)n + 1, sizeof *A->types_v))) return PyErr_NoMemory(), -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *p = PyTuple_GET_ITEM(A->types, i);
            if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) != 2) {
                PyErr_SetString(PyExc_TypeError, "read_csv: types must be (column, code) pairs");
                return -1;
            }
            if (column_ref(PyTuple_GET_ITEM(p, 0), "dtype", &A->types_v[i].column) < 0) return -1;
            long code = PyLong_AsLong(PyTuple_GET_ITEM(p, 1));
            if (code == -1 && PyErr_Occurred()) return -1;
            A->types_v[i].type = (em_csv_type)code;
        }
        A->o.types = A->types_v;
        A->o.n_types = n;
    }
    return 0;
}

static PyObject *column_tuple(const em_csv_result *r, int64_t j) {
    const char *name = em_csv_result_column_name(r, j);
    em_csv_type t = em_csv_result_column_type(r, j);
    if (t != EM_CSV_STRING) {
        em_tensor *x;
        em_status st = em_csv_result_column_tensor(r, j, &x);
        if (st) return empy_raise(st);
        PyObject *w = empy_wrap(x);
        if (!w) return NULL;
        return Py_BuildValue("(siN)", name, (int)t, w);
    }
    const char *d;
    const int64_t *off;
    const uint8_t *miss;
    em_status st = em_csv_result_column_strings(r, j, &d, &off, &miss);
    if (st) return empy_raise(st);
    int64_t n = em_csv_result_num_rows(r);
    return Py_BuildValue("(siy#y#y#)", name, (int)t, d, (Py_ssize_t)off[n], (const char *)off,
                         (Py_ssize_t)((n + 1) * (int64_t)sizeof(int64_t)), (const char *)miss, (Py_ssize_t)n);
}

static PyObject *py_read_csv(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"source", "delimiter", "quote", "comment", "header", "skiprows",
                                        "max_rows", "na_values", "usecols", "types", "default_type",
                                        "nthreads", NULL};
    PyObject *a[12];
    if (empy_parse_args("_read_csv", args, nargs, kwnames, names, 1, 1, a) < 0) return NULL;
    args_t A;
    memset(&A, 0, sizeof A);
    A.o = em_csv_default_options();
    long long skip, maxr, dflt, nth;
    bool header;
    PyObject *res = NULL;
    em_csv_result *r = NULL;
    if (one_char(a[1], "delimiter", false, &A.o.delimiter) < 0 || one_char(a[2], "quotechar", true, &A.o.quote) < 0 ||
        one_char(a[3], "comment", true, &A.o.comment) < 0 || empy_opt_bool(a[4], true, &header) < 0 ||
        empy_opt_long(a[5], 0, &skip, "read_csv", "skiprows") < 0 ||
        empy_opt_long(a[6], -1, &maxr, "read_csv", "max_rows") < 0 ||
        empy_opt_long(a[10], EM_CSV_AUTO, &dflt, "read_csv", "default_type") < 0 ||
        empy_opt_long(a[11], 0, &nth, "read_csv", "nthreads") < 0 || parse_lists(&A, a[7], a[8], a[9]) < 0)
        goto done;
    A.o.header = header;
    A.o.skip_rows = skip;
    A.o.max_rows = maxr;
    A.o.default_type = (em_csv_type)dflt;
    A.o.nthreads = nth < 0 || nth > EM_MAX_THREADS ? 0 : (int)nth;
    em_status st;
    if (PyUnicode_Check(a[0])) {
        const char *path = PyUnicode_AsUTF8(a[0]);
        if (!path) goto done;
        Py_BEGIN_ALLOW_THREADS st = em_csv_read_file(path, &A.o, &r);
        Py_END_ALLOW_THREADS
    } else {
        Py_buffer view;
        if (PyObject_GetBuffer(a[0], &view, PyBUF_SIMPLE) < 0) goto done;
        st = EMPY_CALL(view.len, em_csv_read_buffer(view.buf, (size_t)view.len, &A.o, &r));
        PyBuffer_Release(&view);
    }
    if (st) {
        empy_raise(st);
        goto done;
    }
    int64_t nc = em_csv_result_num_cols(r);
    if (!(res = PyList_New((Py_ssize_t)nc))) goto done;
    for (int64_t j = 0; j < nc; j++) {
        PyObject *col = column_tuple(r, j);
        if (!col) {
            Py_CLEAR(res);
            goto done;
        }
        PyList_SET_ITEM(res, (Py_ssize_t)j, col);
    }
done:
    em_csv_result_free(r);
    args_free(&A);
    return res;
}

PyMethodDef empy_csv_methods[] = {
    {"_read_csv", (PyCFunction)(void (*)(void))py_read_csv, METH_FASTCALL | METH_KEYWORDS,
     "_read_csv(source, /, ...): private binding of ember.data.read_csv."},
    {NULL, NULL, 0, NULL},
};
