/* Private binding of the CSV reader, used by python/ember/data/_csv.py:
 *
 *   _read_csv(source, /, delimiter, quote, comment, header, skiprows, max_rows,
 *             na_values, usecols, types, default_type, nthreads, strings)
 *
 * source is a str path (read by libember) or a bytes-like buffer; the lists
 * are tuples/lists of str (na_values), str|int (usecols) and (str|int, code)
 * pairs (types; codes are em_csv_type); strings is 1 for NumPy str arrays
 * (missing as '') or 2 for object arrays of str (missing as None).  Returns a
 * list with one (name, code, column) tuple per column: a Tensor for numeric
 * columns (the parser's own buffer, no copy), a NumPy array for text, built
 * here in one pass over the parser's bytes.  The GIL is released while
 * parsing. */
#include "pyember.h"
#include "numpy_api.h"

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

/* Whether the n bytes at d are all ASCII (eight at a time). */
static bool all_ascii(const char *d, size_t n) {
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, d + i, 8);
        acc |= w;
    }
    for (; i < n; i++) acc |= (unsigned char)d[i];
    return !(acc & 0x8080808080808080ULL);
}

/* Rows [off[i], off[i + 1]) of d as a NumPy array: kind 1 = str ('<U' of the
 * longest row, missing rows ''), kind 2 = object (str, missing None).  Text
 * is UTF-8, decoded with errors="replace". */
static PyObject *strings_array(const char *d, const int64_t *off, const uint8_t *miss, int64_t n, int kind) {
    npy_intp dims[1] = {(npy_intp)n};
    if (kind == 2) {
        PyObject *arr = PyArray_SimpleNew(1, dims, NPY_OBJECT); /* NULL-filled */
        if (!arr) return NULL;
        PyObject **items = (PyObject **)PyArray_DATA((PyArrayObject *)arr);
        for (int64_t i = 0; i < n; i++) {
            if (miss[i]) {
                items[i] = Py_NewRef(Py_None);
            } else if (!(items[i] = PyUnicode_DecodeUTF8(d + off[i], (Py_ssize_t)(off[i + 1] - off[i]), "replace"))) {
                Py_DECREF(arr);
                return NULL;
            }
        }
        return arr;
    }
    int64_t width = 1;
    PyObject *arr = NULL;
    if (all_ascii(d, (size_t)off[n])) {
        /* one byte is one code point: widen the bytes straight into the array */
        for (int64_t i = 0; i < n; i++)
            if (off[i + 1] - off[i] > width) width = off[i + 1] - off[i];
        if (width > INT_MAX / 4) return PyErr_Format(PyExc_MemoryError, "read_csv: a %lld-byte text field", (long long)width);
        if (!(arr = PyArray_New(&PyArray_Type, 1, dims, NPY_UNICODE, NULL, NULL, (int)(width * 4), 0, NULL)))
            return NULL;
        Py_UCS4 *u = (Py_UCS4 *)PyArray_DATA((PyArrayObject *)arr);
        Py_BEGIN_ALLOW_THREADS
        for (int64_t i = 0; i < n; i++, u += width) {
            const unsigned char *b = (const unsigned char *)d + off[i];
            int64_t len = off[i + 1] - off[i], k = 0;
            for (; k < len; k++) u[k] = b[k];
            for (; k < width; k++) u[k] = 0;
        }
        Py_END_ALLOW_THREADS
        return arr;
    }
    /* UTF-8: decode every row first (the width is the longest in code points) */
    PyObject *objs = strings_array(d, off, miss, n, 2);
    if (!objs) return NULL;
    PyObject **items = (PyObject **)PyArray_DATA((PyArrayObject *)objs);
    for (int64_t i = 0; i < n; i++)
        if (items[i] != Py_None && PyUnicode_GET_LENGTH(items[i]) > width) width = PyUnicode_GET_LENGTH(items[i]);
    if (width > INT_MAX / 4) {
        Py_DECREF(objs);
        return PyErr_Format(PyExc_MemoryError, "read_csv: a text field of %lld characters", (long long)width);
    }
    if ((arr = PyArray_New(&PyArray_Type, 1, dims, NPY_UNICODE, NULL, NULL, (int)(width * 4), 0, NULL))) {
        Py_UCS4 *u = (Py_UCS4 *)PyArray_DATA((PyArrayObject *)arr);
        memset(u, 0, (size_t)n * (size_t)width * sizeof *u);
        for (int64_t i = 0; i < n; i++)
            if (items[i] != Py_None && !PyUnicode_AsUCS4(items[i], u + i * width, (Py_ssize_t)width, 0)) {
                Py_CLEAR(arr);
                break;
            }
    }
    Py_DECREF(objs);
    return arr;
}

static PyObject *column_tuple(const em_csv_result *r, int64_t j, int kind) {
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
    PyObject *arr = strings_array(d, off, miss, em_csv_result_num_rows(r), kind);
    if (!arr) return NULL;
    return Py_BuildValue("(siN)", name, (int)t, arr);
}

static PyObject *py_read_csv(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"source", "delimiter", "quote", "comment", "header", "skiprows",
                                        "max_rows", "na_values", "usecols", "types", "default_type",
                                        "nthreads", "strings", NULL};
    PyObject *a[13];
    if (empy_parse_args("_read_csv", args, nargs, kwnames, names, 1, 1, a) < 0) return NULL;
    args_t A;
    memset(&A, 0, sizeof A);
    A.o = em_csv_default_options();
    long long skip, maxr, dflt, nth, kind;
    bool header;
    PyObject *res = NULL;
    em_csv_result *r = NULL;
    if (one_char(a[1], "delimiter", false, &A.o.delimiter) < 0 || one_char(a[2], "quotechar", true, &A.o.quote) < 0 ||
        one_char(a[3], "comment", true, &A.o.comment) < 0 || empy_opt_bool(a[4], true, &header) < 0 ||
        empy_opt_long(a[5], 0, &skip, "read_csv", "skiprows") < 0 ||
        empy_opt_long(a[6], -1, &maxr, "read_csv", "max_rows") < 0 ||
        empy_opt_long(a[10], EM_CSV_AUTO, &dflt, "read_csv", "default_type") < 0 ||
        empy_opt_long(a[11], 0, &nth, "read_csv", "nthreads") < 0 ||
        empy_opt_long(a[12], 1, &kind, "read_csv", "strings") < 0 || parse_lists(&A, a[7], a[8], a[9]) < 0)
        goto done;
    if (kind != 1 && kind != 2) {
        PyErr_Format(PyExc_ValueError, "read_csv: strings must be 1 (str) or 2 (object), got %lld", kind);
        goto done;
    }
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
        PyObject *col = column_tuple(r, j, (int)kind);
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
