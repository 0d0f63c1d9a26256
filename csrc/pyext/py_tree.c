/* Private bindings of ember/tree.h for ember.ml's trees and forests.  A tree
 * crosses into Python as a tuple of its tensors (see tree_tuple), so it
 * pickles and exports as plain arrays. */
#include "pyember.h"

/* (left, right, feature, threshold, impurity, n_samples, weighted_n_samples,
 * value, max_depth); takes over t's tensors. */
static PyObject *tree_tuple(em_tree *t) {
    em_tensor *parts[8] = {t->left, t->right, t->feature, t->threshold, t->impurity, t->n_samples,
                           t->weighted_n_samples, t->value};
    PyObject *out = PyTuple_New(9);
    if (!out) {
        em_tree_free(t);
        return NULL;
    }
    for (int i = 0; i < 8; i++) {
        PyObject *w = empy_wrap(parts[i]); /* steals, frees on failure */
        parts[i] = NULL;
        if (!w) {
            for (int j = i + 1; j < 8; j++) em_tensor_free(parts[j]);
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, w);
    }
    PyObject *depth = PyLong_FromLongLong(t->max_depth);
    if (!depth) {
        Py_DECREF(out);
        return NULL;
    }
    PyTuple_SET_ITEM(out, 8, depth);
    return out;
}

static const char *const fit_names[] = {"X", "y", "sample_weight", "n_classes", "criterion", "max_depth",
                                        "min_samples_split", "min_samples_leaf", "max_features",
                                        "min_impurity_decrease", "seed", "n_trees", "bootstrap", "max_samples", NULL};

/* _tree_fit(X, y, sample_weight, n_classes, criterion, max_depth, min_samples_split,
 *           min_samples_leaf, max_features, min_impurity_decrease, seed[, n_trees, bootstrap, max_samples])
 * One tree tuple, or a list of n_trees of them when n_trees is given (a forest). */
static PyObject *py_tree_fit(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *a[14];
    if (empy_parse_args("_tree_fit", args, nargs, kwnames, fit_names, 0, 11, a) < 0) return NULL;
    long long n_classes, crit, max_depth, mss, msl, maxf, n_trees = 0, max_samples = 0;
    double mid;
    bool bootstrap = false;
    unsigned long long seed = PyLong_AsUnsignedLongLongMask(a[10]);
    if (PyErr_Occurred()) return NULL;
    if (empy_opt_long(a[3], 0, &n_classes, "_tree_fit", "n_classes") < 0 ||
        empy_opt_long(a[4], 0, &crit, "_tree_fit", "criterion") < 0 ||
        empy_opt_long(a[5], -1, &max_depth, "_tree_fit", "max_depth") < 0 ||
        empy_opt_long(a[6], 2, &mss, "_tree_fit", "min_samples_split") < 0 ||
        empy_opt_long(a[7], 1, &msl, "_tree_fit", "min_samples_leaf") < 0 ||
        empy_opt_long(a[8], 0, &maxf, "_tree_fit", "max_features") < 0 ||
        empy_opt_double(a[9], 0.0, &mid, "_tree_fit", "min_impurity_decrease") < 0 ||
        empy_opt_long(a[11], 0, &n_trees, "_tree_fit", "n_trees") < 0 || empy_opt_bool(a[12], false, &bootstrap) < 0 ||
        empy_opt_long(a[13], 0, &max_samples, "_tree_fit", "max_samples") < 0)
        return NULL;
    em_tree_options opt = em_tree_default_options();
    opt.criterion = (em_tree_criterion)crit;
    opt.max_depth = max_depth;
    opt.min_samples_split = mss;
    opt.min_samples_leaf = msl;
    opt.max_features = maxf;
    opt.min_impurity_decrease = mid;
    opt.seed = seed;
    em_tensor *X = empy_as_tensor(a[0], EM_F32, "X"), *y = NULL, *w = NULL;
    if (!X) return NULL;
    y = empy_as_tensor(a[1], crit == EM_TREE_SQUARED_ERROR ? EM_F64 : EM_I64, "y");
    if (y && a[2] && a[2] != Py_None) w = empy_as_tensor(a[2], EM_F64, "sample_weight");
    PyObject *result = NULL;
    if (y && (!a[2] || a[2] == Py_None || w)) {
        int64_t work = em_tensor_numel(X) * (n_trees > 0 ? n_trees : 1);
        if (!a[11] || a[11] == Py_None) {
            em_tree t;
            em_status st = EMPY_CALL(work, em_tree_fit(X, y, w, n_classes, &opt, &t));
            result = st ? empy_raise(st) : tree_tuple(&t);
        } else {
            em_tree *trees = n_trees > 0 ? PyMem_Calloc((size_t)n_trees, sizeof *trees) : NULL;
            if (n_trees > 0 && !trees) {
                result = PyErr_NoMemory();
            } else {
                em_status st = EMPY_CALL(work, em_forest_fit(X, y, w, n_classes, &opt, n_trees, bootstrap,
                                                             max_samples, trees));
                if (st) {
                    result = empy_raise(st);
                } else {
                    result = PyList_New(n_trees);
                    for (long long b = 0; b < n_trees; b++) {
                        PyObject *tt = result ? tree_tuple(&trees[b]) : NULL;
                        if (!result) {
                            em_tree_free(&trees[b]);
                        } else if (!tt) {
                            Py_CLEAR(result);
                            for (long long r = b + 1; r < n_trees; r++) em_tree_free(&trees[r]);
                            break;
                        } else {
                            PyList_SET_ITEM(result, b, tt);
                        }
                    }
                }
                PyMem_Free(trees);
            }
        }
    }
    em_tensor_free(X), em_tensor_free(y), em_tensor_free(w);
    return result;
}

/* _tree_apply(left, right, feature, threshold, X) -> int64 leaf index per row of X. */
static PyObject *py_tree_apply(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    static const int dts[5] = {EM_I64, EM_I64, EM_I64, EM_F64, EM_F32};
    static const char *const what[5] = {"left", "right", "feature", "threshold", "X"};
    em_tensor *parts[5];
    if (empy_want_nargs(nargs, 5, "_tree_apply(left, right, feature, threshold, X)") < 0 ||
        empy_as_tensors(args, 5, dts, what, 0, parts) < 0)
        return NULL;
    PyObject *result = NULL;
    for (int i = 0; i < 4; i++) {
        if (em_tensor_ndim(parts[i]) != 1 || em_tensor_numel(parts[i]) != em_tensor_numel(parts[0]) ||
            em_tensor_strides(parts[i])[0] != 1) {
            PyErr_Format(PyExc_ValueError, "_tree_apply: %s must be a contiguous 1-d array as long as left", what[i]);
            goto done;
        }
    }
    em_tree t = {.n_nodes = em_tensor_numel(parts[0]), .left = parts[0], .right = parts[1], .feature = parts[2],
                 .threshold = parts[3]};
    em_tensor *out = NULL;
    em_status st = EMPY_CALL(em_tensor_numel(parts[4]), em_tree_apply(&t, parts[4], &out));
    result = st ? empy_raise(st) : empy_wrap(out);
done:
    empy_free_tensors(parts, 5);
    return result;
}

/* Fills *out (PyMem, n_trees entries, each tree's tensors set) from a
 * sequence of (left, right, feature, threshold, value) array tuples; on
 * failure sets a Python error, frees what it made and returns -1. */
static int trees_from_seq(const char *op, PyObject *arg, em_tree **out, Py_ssize_t *n) {
    PyObject *seq = PySequence_Fast(arg, "trees must be a sequence of tuples");
    if (!seq) return -1;
    Py_ssize_t nt = PySequence_Fast_GET_SIZE(seq);
    em_tree *trees = PyMem_Calloc(nt > 0 ? (size_t)nt : 1, sizeof *trees);
    if (!trees) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    static const int dts[5] = {EM_I64, EM_I64, EM_I64, EM_F64, EM_F64};
    static const char *const what[5] = {"left", "right", "feature", "threshold", "value"};
    for (Py_ssize_t b = 0; b < nt; b++) {
        PyObject *tup = PySequence_Fast_GET_ITEM(seq, b);
        if (!PyTuple_Check(tup) || PyTuple_GET_SIZE(tup) != 5) {
            PyErr_Format(PyExc_TypeError, "%s: trees[%zd] must be a (left, right, feature, threshold, value) tuple",
                         op, b);
            goto fail;
        }
        em_tensor **dst[5] = {&trees[b].left, &trees[b].right, &trees[b].feature, &trees[b].threshold,
                              &trees[b].value};
        for (int i = 0; i < 5; i++)
            if (!(*dst[i] = empy_as_tensor(PyTuple_GET_ITEM(tup, i), dts[i], what[i]))) goto fail;
        trees[b].n_nodes = em_tensor_ndim(trees[b].left) == 1 ? em_tensor_shape(trees[b].left)[0] : 0;
    }
    Py_DECREF(seq);
    *out = trees, *n = nt;
    return 0;
fail:
    for (Py_ssize_t b = 0; b < nt; b++) em_tree_free(&trees[b]);
    PyMem_Free(trees);
    Py_DECREF(seq);
    return -1;
}

static void trees_free(em_tree *trees, Py_ssize_t nt) {
    if (!trees) return;
    for (Py_ssize_t b = 0; b < nt; b++) em_tree_free(&trees[b]);
    PyMem_Free(trees);
}

/* _forest_predict(trees, X, normalize) -> float64 (n, n_values): the mean over
 * trees of each row's leaf value (class shares with normalize).  trees: a
 * sequence of (left, right, feature, threshold, value) array tuples. */
static PyObject *py_forest_predict(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (empy_want_nargs(nargs, 3, "_forest_predict(trees, X, normalize)") < 0) return NULL;
    int normalize = PyObject_IsTrue(args[2]);
    if (normalize < 0) return NULL;
    em_tree *trees = NULL;
    Py_ssize_t nt = 0;
    if (trees_from_seq("_forest_predict", args[0], &trees, &nt) < 0) return NULL;
    PyObject *result = NULL;
    em_tensor *X = empy_as_tensor(args[1], EM_F32, "X");
    if (X) {
        em_tensor *out = NULL;
        em_status st = EMPY_CALL(em_tensor_numel(X) * (nt > 0 ? nt : 1),
                                 em_forest_predict(trees, (int64_t)nt, X, normalize != 0, &out));
        result = st ? empy_raise(st) : empy_wrap(out);
    }
    trees_free(trees, nt);
    em_tensor_free(X);
    return result;
}

/* _forest_pack(trees, n_features, normalize) -> (nodes, offsets, values): the
 * packed forest of em_forest_pack as arrays (int32 (n, 4), int64, float64). */
static PyObject *py_forest_pack(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (empy_want_nargs(nargs, 3, "_forest_pack(trees, n_features, normalize)") < 0) return NULL;
    long long d = PyLong_AsLongLong(args[1]);
    if (d == -1 && PyErr_Occurred()) return NULL;
    int normalize = PyObject_IsTrue(args[2]);
    if (normalize < 0) return NULL;
    em_tree *trees = NULL;
    Py_ssize_t nt = 0;
    if (trees_from_seq("_forest_pack", args[0], &trees, &nt) < 0) return NULL;
    em_forest_packed f;
    int64_t work = 0;
    for (Py_ssize_t b = 0; b < nt; b++) work += trees[b].n_nodes;
    em_status st = EMPY_CALL(work, em_forest_pack(trees, (int64_t)nt, (int64_t)d, normalize != 0, &f));
    trees_free(trees, nt);
    return st ? empy_raise(st) : empy_wrap_tuple((em_tensor *[3]){f.nodes, f.offsets, f.values}, 3);
}

/* _forest_predict_packed(nodes, offsets, values, X) -> float64 (n, n_values):
 * em_forest_packed_predict on the arrays of _forest_pack. */
static PyObject *py_forest_predict_packed(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    static const int dts[4] = {EM_I32, EM_I64, EM_F64, EM_F32};
    static const char *const what[4] = {"nodes", "offsets", "values", "X"};
    em_tensor *parts[4];
    if (empy_want_nargs(nargs, 4, "_forest_predict_packed(nodes, offsets, values, X)") < 0 ||
        empy_as_tensors(args, 4, dts, what, 0, parts) < 0)
        return NULL;
    PyObject *result = NULL;
    if (em_tensor_ndim(parts[1]) != 1 || em_tensor_ndim(parts[2]) != 2 || em_tensor_ndim(parts[0]) != 2) {
        PyErr_SetString(PyExc_ValueError, "_forest_predict_packed: nodes must be 2-d, offsets 1-d and values 2-d");
        goto done;
    }
    em_forest_packed f = {.n_trees = em_tensor_shape(parts[1])[0] - 1, .n_values = em_tensor_shape(parts[2])[1],
                          .n_nodes = em_tensor_shape(parts[0])[0], .n_leaves = em_tensor_shape(parts[2])[0],
                          .nodes = parts[0], .offsets = parts[1], .values = parts[2]};
    f.n_features = em_tensor_ndim(parts[3]) == 2 ? em_tensor_shape(parts[3])[1] : 0;
    em_tensor *out = NULL;
    em_status st = EMPY_CALL(em_tensor_numel(parts[3]) * (f.n_trees > 0 ? f.n_trees : 1),
                             em_forest_packed_predict(&f, parts[3], &out));
    result = st ? empy_raise(st) : empy_wrap(out);
done:
    empy_free_tensors(parts, 4);
    return result;
}

PyMethodDef empy_tree_methods[] = {
    {"_forest_pack", (PyCFunction)(void (*)(void))py_forest_pack, METH_FASTCALL,
     "_forest_pack(trees, n_features, normalize)\n--\n\nA forest packed for prediction as (nodes, offsets, values) "
     "arrays (private)."},
    {"_forest_predict_packed", (PyCFunction)(void (*)(void))py_forest_predict_packed, METH_FASTCALL,
     "_forest_predict_packed(nodes, offsets, values, X)\n--\n\nMean leaf value of each row of X over a packed "
     "forest (private)."},
    {"_forest_predict", (PyCFunction)(void (*)(void))py_forest_predict, METH_FASTCALL,
     "_forest_predict(trees, X, normalize)\n--\n\nMean leaf value of each row of X over a forest (private)."},
    {"_tree_fit", (PyCFunction)(void (*)(void))py_tree_fit, METH_FASTCALL | METH_KEYWORDS,
     "_tree_fit(X, y, sample_weight, n_classes, criterion, max_depth, min_samples_split, min_samples_leaf,\n"
     "          max_features, min_impurity_decrease, seed, n_trees=None, bootstrap=False, max_samples=0)\n--\n\n"
     "A CART tree (or, with n_trees, a list of forest trees) as tuples of arrays (private)."},
    {"_tree_apply", (PyCFunction)(void (*)(void))py_tree_apply, METH_FASTCALL,
     "_tree_apply(left, right, feature, threshold, X)\n--\n\nLeaf index of each row of X (private)."},
    {NULL, NULL, 0, NULL},
};
