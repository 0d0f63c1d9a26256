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
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "_tree_apply(left, right, feature, threshold, X)");
        return NULL;
    }
    em_tensor *parts[5] = {NULL};
    static const int dts[5] = {EM_I64, EM_I64, EM_I64, EM_F64, EM_F32};
    static const char *const what[5] = {"left", "right", "feature", "threshold", "X"};
    PyObject *result = NULL;
    for (int i = 0; i < 5; i++)
        if (!(parts[i] = empy_as_tensor(args[i], dts[i], what[i]))) goto done;
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
    for (int i = 0; i < 5; i++) em_tensor_free(parts[i]);
    return result;
}

/* _forest_predict(trees, X, normalize) -> float64 (n, n_values): the mean over
 * trees of each row's leaf value (class shares with normalize).  trees: a
 * sequence of (left, right, feature, threshold, value) array tuples. */
static PyObject *py_forest_predict(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_forest_predict(trees, X, normalize)");
        return NULL;
    }
    int normalize = PyObject_IsTrue(args[2]);
    if (normalize < 0) return NULL;
    PyObject *seq = PySequence_Fast(args[0], "_forest_predict: trees must be a sequence of tuples");
    if (!seq) return NULL;
    Py_ssize_t nt = PySequence_Fast_GET_SIZE(seq);
    em_tree *trees = PyMem_Calloc(nt > 0 ? (size_t)nt : 1, sizeof *trees);
    em_tensor *X = NULL;
    PyObject *result = NULL;
    if (!trees) {
        PyErr_NoMemory();
        goto done;
    }
    static const int dts[5] = {EM_I64, EM_I64, EM_I64, EM_F64, EM_F64};
    static const char *const what[5] = {"left", "right", "feature", "threshold", "value"};
    for (Py_ssize_t b = 0; b < nt; b++) {
        PyObject *tup = PySequence_Fast_GET_ITEM(seq, b);
        if (!PyTuple_Check(tup) || PyTuple_GET_SIZE(tup) != 5) {
            PyErr_Format(PyExc_TypeError, "_forest_predict: trees[%zd] must be a (left, right, feature, threshold, "
                         "value) tuple", b);
            goto done;
        }
        em_tensor **dst[5] = {&trees[b].left, &trees[b].right, &trees[b].feature, &trees[b].threshold,
                              &trees[b].value};
        for (int i = 0; i < 5; i++)
            if (!(*dst[i] = empy_as_tensor(PyTuple_GET_ITEM(tup, i), dts[i], what[i]))) goto done;
        trees[b].n_nodes = em_tensor_ndim(trees[b].left) == 1 ? em_tensor_shape(trees[b].left)[0] : 0;
    }
    if (!(X = empy_as_tensor(args[1], EM_F32, "X"))) goto done;
    em_tensor *out = NULL;
    em_status st = EMPY_CALL(em_tensor_numel(X) * (nt > 0 ? nt : 1),
                             em_forest_predict(trees, (int64_t)nt, X, normalize != 0, &out));
    result = st ? empy_raise(st) : empy_wrap(out);
done:
    if (trees)
        for (Py_ssize_t b = 0; b < nt; b++) em_tree_free(&trees[b]);
    PyMem_Free(trees);
    em_tensor_free(X);
    Py_DECREF(seq);
    return result;
}

PyMethodDef empy_tree_methods[] = {
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
