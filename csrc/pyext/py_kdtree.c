/* Private bindings of ember/kdtree.h for ember.ml's nearest neighbours.  A
 * tree crosses into Python as a tuple of arrays, so fitted estimators pickle. */
#include "pyember.h"

/* _kdtree_build(X, leaf_size) -> (order, start, end, left, right, dim, split) */
static PyObject *py_build(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_kdtree_build(X, leaf_size)");
        return NULL;
    }
    long long leaf;
    if (empy_opt_long(args[1], 30, &leaf, "_kdtree_build", "leaf_size") < 0) return NULL;
    em_tensor *X = empy_as_tensor(args[0], EM_F64, "X");
    if (!X) return NULL;
    em_kdtree t = {0};
    em_status st = EMPY_CALL(em_tensor_numel(X), em_kdtree_build(X, leaf, &t));
    em_tensor_free(X);
    if (st) return empy_raise(st);
    em_tensor *parts[7] = {t.order, t.start, t.end, t.left, t.right, t.dim, t.split};
    PyObject *out = PyTuple_New(7);
    for (int i = 0; i < 7; i++) {
        PyObject *w = out ? empy_wrap(parts[i]) : (em_tensor_free(parts[i]), NULL);
        if (out && !w) Py_CLEAR(out);
        if (out) PyTuple_SET_ITEM(out, i, w);
    }
    return out;
}

/* _kdtree_query(order, start, end, left, right, dim, split, X, Q, k) -> (dist, idx) */
static PyObject *py_query(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "_kdtree_query(order, start, end, left, right, dim, split, X, Q, k)");
        return NULL;
    }
    long long k;
    if (empy_opt_long(args[9], 1, &k, "_kdtree_query", "k") < 0) return NULL;
    static const char *const what[9] = {"order", "start", "end", "left", "right", "dim", "split", "X", "Q"};
    em_tensor *t[9] = {NULL}, *dist = NULL, *idx = NULL;
    PyObject *result = NULL;
    for (int i = 0; i < 9; i++)
        if (!(t[i] = empy_as_tensor(args[i], i >= 6 ? EM_F64 : EM_I64, what[i]))) goto done;
    em_kdtree tree = {.n_nodes = em_tensor_numel(t[1]), .order = t[0], .start = t[1], .end = t[2], .left = t[3],
                      .right = t[4], .dim = t[5], .split = t[6]};
    em_status st = EMPY_CALL(em_tensor_numel(t[8]) * 64, em_kdtree_query(&tree, t[7], t[8], k, &dist, &idx));
    if (st) {
        empy_raise(st);
        goto done;
    }
    PyObject *a = empy_wrap(dist), *b = a ? empy_wrap(idx) : (em_tensor_free(idx), NULL);
    if (a && b) result = PyTuple_Pack(2, a, b);
    Py_XDECREF(a), Py_XDECREF(b);
done:
    for (int i = 0; i < 9; i++) em_tensor_free(t[i]);
    return result;
}

/* _knn_brute(X, Q, k) -> (dist, idx) */
static PyObject *py_knn_brute(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_knn_brute(X, Q, k)");
        return NULL;
    }
    long long k;
    if (empy_opt_long(args[2], 1, &k, "_knn_brute", "k") < 0) return NULL;
    em_tensor *X = empy_as_tensor(args[0], EM_F64, "X"), *Q = X ? empy_as_tensor(args[1], EM_F64, "Q") : NULL;
    em_tensor *dist = NULL, *idx = NULL;
    if (!Q) return em_tensor_free(X), NULL;
    em_status st = EMPY_CALL(em_tensor_numel(Q) * em_tensor_numel(X), em_knn_brute(X, Q, k, &dist, &idx));
    em_tensor_free(X), em_tensor_free(Q);
    if (st) return empy_raise(st);
    PyObject *a = empy_wrap(dist), *b = a ? empy_wrap(idx) : (em_tensor_free(idx), NULL), *result = NULL;
    if (a && b) result = PyTuple_Pack(2, a, b);
    Py_XDECREF(a), Py_XDECREF(b);
    return result;
}

PyMethodDef empy_kdtree_methods[] = {
    {"_kdtree_build", (PyCFunction)(void (*)(void))py_build, METH_FASTCALL,
     "_kdtree_build(X, leaf_size)\n--\n\nA KD-tree over the rows of X as a tuple of arrays (private)."},
    {"_kdtree_query", (PyCFunction)(void (*)(void))py_query, METH_FASTCALL,
     "_kdtree_query(order, start, end, left, right, dim, split, X, Q, k)\n--\n\n"
     "Distances and indices of the k nearest rows of X (private)."},
    {"_knn_brute", (PyCFunction)(void (*)(void))py_knn_brute, METH_FASTCALL,
     "_knn_brute(X, Q, k)\n--\n\nDistances and indices of the k nearest rows of X by brute force (private)."},
    {NULL, NULL, 0, NULL},
};
