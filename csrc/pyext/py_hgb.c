/* Private bindings of ember/hgb.h for ember.ml's histogram gradient boosting.
 * A tree crosses into Python as a tuple of its arrays, so fitted estimators
 * pickle as plain arrays. */
#include "pyember.h"

/* _hgb_bin_fit(X, max_bins) -> (thresholds, n_thresholds) */
static PyObject *py_bin_fit(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (empy_want_nargs(nargs, 2, "_hgb_bin_fit(X, max_bins)") < 0) return NULL;
    long long max_bins;
    if (empy_opt_long(args[1], 255, &max_bins, "_hgb_bin_fit", "max_bins") < 0) return NULL;
    em_tensor *X = empy_as_tensor(args[0], EM_F64, "X"), *thr = NULL, *nt = NULL;
    if (!X) return NULL;
    em_status st = EMPY_CALL(em_tensor_numel(X), em_hgb_bin_fit(X, max_bins, &thr, &nt));
    em_tensor_free(X);
    return st ? empy_raise(st) : empy_wrap_tuple((em_tensor *[2]){thr, nt}, 2);
}

/* _hgb_bin_apply(X, thresholds, n_thresholds, max_bins) -> (d, n) uint8 codes */
static PyObject *py_bin_apply(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (empy_want_nargs(nargs, 4, "_hgb_bin_apply(X, thresholds, n_thresholds, max_bins)") < 0) return NULL;
    long long max_bins;
    if (empy_opt_long(args[3], 255, &max_bins, "_hgb_bin_apply", "max_bins") < 0) return NULL;
    static const int dts[3] = {EM_F64, EM_F64, EM_I64};
    static const char *const what[3] = {"X", "thresholds", "n_thresholds"};
    em_tensor *t[3], *codes = NULL;
    if (empy_as_tensors(args, 3, dts, what, 0, t) < 0) return NULL;
    em_status st = EMPY_CALL(em_tensor_numel(t[0]), em_hgb_bin_apply(t[0], t[1], t[2], max_bins, &codes));
    empy_free_tensors(t, 3);
    return st ? empy_raise(st) : empy_wrap(codes);
}

/* _hgb_grow(codes, thresholds, n_thresholds, max_bins, grad, hess, max_leaf_nodes, max_depth,
 *           min_samples_leaf, l2_regularization, shrinkage)
 * -> ((left, right, feature, bin_threshold, missing_left, count, threshold, value, gain), train_pred) */
static PyObject *py_grow(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (empy_want_nargs(nargs, 11, "_hgb_grow(codes, thresholds, n_thresholds, max_bins, grad, hess, max_leaf_nodes, "
                         "max_depth, min_samples_leaf, l2_regularization, shrinkage)") < 0)
        return NULL;
    long long max_bins, mln, md, msl;
    double l2, lr;
    em_hgb_options o = em_hgb_default_options();
    if (empy_opt_long(args[3], 255, &max_bins, "_hgb_grow", "max_bins") < 0 ||
        empy_opt_long(args[6], 0, &mln, "_hgb_grow", "max_leaf_nodes") < 0 ||
        empy_opt_long(args[7], -1, &md, "_hgb_grow", "max_depth") < 0 ||
        empy_opt_long(args[8], 20, &msl, "_hgb_grow", "min_samples_leaf") < 0 ||
        empy_opt_double(args[9], 0.0, &l2, "_hgb_grow", "l2_regularization") < 0 ||
        empy_opt_double(args[10], 0.1, &lr, "_hgb_grow", "shrinkage") < 0)
        return NULL;
    o.max_leaf_nodes = mln, o.max_depth = md, o.min_samples_leaf = msl, o.l2_regularization = l2, o.shrinkage = lr;
    PyObject *const in[5] = {args[0], args[1], args[2], args[4], args[5]};
    static const int dts[5] = {EM_U8, EM_F64, EM_I64, EM_F64, EM_F64};
    static const char *const what[5] = {"codes", "thresholds", "n_thresholds", "grad", "hess"};
    em_tensor *t[5], *pred = NULL;
    if (empy_as_tensors(in, 5, dts, what, EMPY_OPT(4), t) < 0) return NULL;
    em_hgb_tree tree = {0};
    em_status st = EMPY_CALL(em_tensor_numel(t[0]),
                             em_hgb_tree_grow(t[0], t[1], t[2], max_bins, t[3], t[4], &o, &tree, &pred));
    empy_free_tensors(t, 5);
    if (st) return empy_raise(st);
    em_tensor *parts[9] = {tree.left,  tree.right,     tree.feature, tree.bin_threshold, tree.missing_left,
                           tree.count, tree.threshold, tree.value,   tree.gain};
    PyObject *tup = empy_wrap_tuple(parts, 9);
    if (!tup) return em_tensor_free(pred), NULL;
    return Py_BuildValue("(NN)", tup, empy_wrap(pred));
}

/* _hgb_predict(left, right, feature, bin_threshold, missing_left, threshold, value, roots, outputs,
 *              X, max_bins, n_outputs) -> (n, n_outputs) float64 sums of leaf values */
static PyObject *py_predict(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (empy_want_nargs(nargs, 12, "_hgb_predict(left, right, feature, bin_threshold, missing_left, threshold, value, "
                         "roots, outputs, X, max_bins, n_outputs)") < 0)
        return NULL;
    long long max_bins, k;
    if (empy_opt_long(args[10], 255, &max_bins, "_hgb_predict", "max_bins") < 0 ||
        empy_opt_long(args[11], 1, &k, "_hgb_predict", "n_outputs") < 0)
        return NULL;
    static const int dts[10] = {EM_I64, EM_I64, EM_I64, EM_I64, EM_I64, EM_F64, EM_F64, EM_I64, EM_I64, -1};
    static const char *const what[10] = {"left", "right", "feature", "bin_threshold", "missing_left",
                                         "threshold", "value", "roots", "outputs", "X"};
    em_tensor *t[10], *X = NULL, *raw = NULL;
    if (empy_as_tensors(args, 10, dts, what, 0, t) < 0) return NULL;
    PyObject *result = NULL;
    /* raw values as float64 (NaN kept); codes stay uint8 */
    if (em_tensor_dtype(t[9]) == EM_U8) X = t[9], t[9] = NULL;
    else if (!(X = empy_as_tensor(args[9], EM_F64, "X"))) goto done;
    int64_t n = em_tensor_ndim(X) == 2 ? em_tensor_shape(X)[em_tensor_dtype(X) == EM_U8 ? 1 : 0] : 0;
    if (k < 1) {
        PyErr_Format(PyExc_ValueError, "_hgb_predict: n_outputs must be >= 1, got %lld", k);
        goto done;
    }
    em_status st = em_tensor_zeros(EM_F64, 2, (int64_t[]){n, k}, &raw);
    if (st) {
        empy_raise(st);
        goto done;
    }
    em_hgb_tree nodes = {.n_nodes = em_tensor_numel(t[0]), .left = t[0], .right = t[1], .feature = t[2],
                         .bin_threshold = t[3], .missing_left = t[4], .threshold = t[5], .value = t[6]};
    st = EMPY_CALL(em_tensor_numel(X) * em_tensor_numel(t[7]), em_hgb_predict(&nodes, t[7], t[8], X, max_bins, raw));
    if (st) {
        em_tensor_free(raw);
        empy_raise(st);
    } else {
        result = empy_wrap(raw);
    }
done:
    empy_free_tensors(t, 10);
    em_tensor_free(X);
    return result;
}

PyMethodDef empy_hgb_methods[] = {
    {"_hgb_bin_fit", (PyCFunction)(void (*)(void))py_bin_fit, METH_FASTCALL,
     "_hgb_bin_fit(X, max_bins)\n--\n\nBin thresholds per feature (private)."},
    {"_hgb_bin_apply", (PyCFunction)(void (*)(void))py_bin_apply, METH_FASTCALL,
     "_hgb_bin_apply(X, thresholds, n_thresholds, max_bins)\n--\n\nFeature-major uint8 bin codes (private)."},
    {"_hgb_grow", (PyCFunction)(void (*)(void))py_grow, METH_FASTCALL,
     "_hgb_grow(codes, thresholds, n_thresholds, max_bins, grad, hess, max_leaf_nodes, max_depth,\n"
     "          min_samples_leaf, l2_regularization, shrinkage)\n--\n\nOne boosting tree (private)."},
    {"_hgb_predict", (PyCFunction)(void (*)(void))py_predict, METH_FASTCALL,
     "_hgb_predict(left, right, feature, bin_threshold, missing_left, threshold, value, roots, outputs,\n"
     "             X, max_bins, n_outputs)\n--\n\nSums of leaf values of an ensemble (private)."},
    {NULL, NULL, 0, NULL},
};
