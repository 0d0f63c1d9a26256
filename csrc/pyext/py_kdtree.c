/* Private bindings of ember/kdtree.h for ember.ml's nearest neighbours.  A
 * tree crosses into Python as a tuple of arrays, so fitted estimators pickle. */
#include "pyember.h"

/* _kdtree_build(X, leaf_size) -> (order, start, end, left, right, dim, split) */
static PyObject *py_build(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    long long leaf;
    if (empy_want_nargs(nargs, 2, "_kdtree_build(X, leaf_size)") < 0 ||
        empy_opt_long(args[1], 30, &leaf, "_kdtree_build", "leaf_size") < 0)
        return NULL;
    em_tensor *X = empy_as_tensor(args[0], EM_F64, "X");
    if (!X) return NULL;
    em_kdtree t = {0};
    em_status st = EMPY_CALL(em_tensor_numel(X), em_kdtree_build(X, leaf, &t));
    em_tensor_free(X);
    if (st) return empy_raise(st);
    return empy_wrap_tuple((em_tensor *[7]){t.order, t.start, t.end, t.left, t.right, t.dim, t.split}, 7);
}

/* The k nearest rows of X to each row of Q, by the tree (parts != NULL) or by
 * brute force: the two queries share their conversions and result. */
static PyObject *knn_query(em_tensor *const *parts, PyObject *const *xq, long long k) {
    static const int dts[2] = {EM_F64, EM_F64};
    static const char *const what[2] = {"X", "Q"};
    em_tensor *t[2], *out[2] = {NULL, NULL};
    if (empy_as_tensors(xq, 2, dts, what, 0, t) < 0) return NULL;
    em_status st;
    if (parts) {
        em_kdtree tree = {.n_nodes = em_tensor_numel(parts[1]), .order = parts[0], .start = parts[1], .end = parts[2],
                          .left = parts[3], .right = parts[4], .dim = parts[5], .split = parts[6]};
        st = EMPY_CALL(em_tensor_numel(t[1]) * 64, em_kdtree_query(&tree, t[0], t[1], k, &out[0], &out[1]));
    } else {
        st = EMPY_CALL(em_tensor_numel(t[1]) * em_tensor_numel(t[0]), em_knn_brute(t[0], t[1], k, &out[0], &out[1]));
    }
    empy_free_tensors(t, 2);
    return st ? empy_raise(st) : empy_wrap_tuple(out, 2);
}

/* _kdtree_query(order, start, end, left, right, dim, split, X, Q, k) -> (dist, idx) */
static PyObject *py_query(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    long long k;
    if (empy_want_nargs(nargs, 10, "_kdtree_query(order, start, end, left, right, dim, split, X, Q, k)") < 0 ||
        empy_opt_long(args[9], 1, &k, "_kdtree_query", "k") < 0)
        return NULL;
    static const int dts[7] = {EM_I64, EM_I64, EM_I64, EM_I64, EM_I64, EM_I64, EM_F64};
    static const char *const what[7] = {"order", "start", "end", "left", "right", "dim", "split"};
    em_tensor *parts[7];
    if (empy_as_tensors(args, 7, dts, what, 0, parts) < 0) return NULL;
    PyObject *result = knn_query(parts, args + 7, k);
    empy_free_tensors(parts, 7);
    return result;
}

/* _knn_brute(X, Q, k) -> (dist, idx) */
static PyObject *py_knn_brute(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    long long k;
    if (empy_want_nargs(nargs, 3, "_knn_brute(X, Q, k)") < 0 || empy_opt_long(args[2], 1, &k, "_knn_brute", "k") < 0)
        return NULL;
    return knn_query(NULL, args, k);
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
