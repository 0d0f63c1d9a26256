/* Private bindings of ember/kmeans.h (k-means, k-means++) and ember/dbscan.h
 * for ember.ml's KMeans and DBSCAN.  Arguments are positional and prepared
 * by the Python layer (C-contiguous arrays of one float dtype); libember
 * still checks everything. */
#include "pyember.h"

static const char *const xw_names[2] = {"X", "sample_weight"};
static const int keep2[2] = {-1, -1};

/* _kmeans_fit(X, sample_weight, init, elkan, max_iter, tol) -> (centers, labels, inertia, n_iter) */
static PyObject *py_kmeans_fit(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (empy_want_nargs(nargs, 6, "_kmeans_fit(X, sample_weight, init, elkan, max_iter, tol)") < 0) return NULL;
    em_kmeans_options o = em_kmeans_default_options();
    long long max_iter;
    int elkan = PyObject_IsTrue(args[3]);
    if (elkan < 0 || empy_opt_long(args[4], 300, &max_iter, "_kmeans_fit", "max_iter") < 0 ||
        empy_opt_double(args[5], 0.0, &o.tol, "_kmeans_fit", "tol") < 0)
        return NULL;
    o.algorithm = elkan ? EM_KMEANS_ELKAN : EM_KMEANS_LLOYD;
    o.max_iter = max_iter;
    static const int dts[3] = {-1, -1, -1};
    static const char *const what[3] = {"X", "sample_weight", "init"};
    em_tensor *t[3], *centers = NULL, *labels = NULL;
    if (empy_as_tensors(args, 3, dts, what, EMPY_OPT(1), t) < 0) return NULL;
    double inertia = 0;
    int64_t it = 0;
    em_status st =
        EMPY_CALL(em_tensor_numel(t[0]), em_kmeans_fit(t[0], t[1], t[2], &o, &centers, &labels, &inertia, &it));
    empy_free_tensors(t, 3);
    return st ? empy_raise(st) : Py_BuildValue("(NNdL)", empy_wrap(centers), empy_wrap(labels), inertia, (long long)it);
}

static const char *const xc_names[2] = {"X", "centers"};

/* _kmeans_predict(X, centers, want_sq_dist) -> (labels, sq_dist or None) */
static PyObject *py_kmeans_predict(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (empy_want_nargs(nargs, 3, "_kmeans_predict(X, centers, want_sq_dist)") < 0) return NULL;
    int want = PyObject_IsTrue(args[2]);
    em_tensor *t[2], *labels = NULL, *sq = NULL;
    if (want < 0 || empy_as_tensors(args, 2, keep2, xc_names, 0, t) < 0) return NULL;
    em_status st = EMPY_CALL(em_tensor_numel(t[0]), em_kmeans_predict(t[0], t[1], &labels, want ? &sq : NULL));
    empy_free_tensors(t, 2);
    if (st) return empy_raise(st);
    return want ? empy_wrap_tuple((em_tensor *[2]){labels, sq}, 2) : Py_BuildValue("(NO)", empy_wrap(labels), Py_None);
}

/* _kmeans_distances(X, centers) -> (n, k) squared distances */
static PyObject *py_kmeans_distances(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    em_tensor *t[2], *D = NULL;
    if (empy_want_nargs(nargs, 2, "_kmeans_distances(X, centers)") < 0 ||
        empy_as_tensors(args, 2, keep2, xc_names, 0, t) < 0)
        return NULL;
    em_status st = EMPY_CALL(em_tensor_numel(t[0]), em_kmeans_distances(t[0], t[1], &D));
    empy_free_tensors(t, 2);
    return st ? empy_raise(st) : empy_wrap(D);
}

/* Reads a Python int in [0, 2**64) (a generator's seed or offset). */
static int kpp_u64(PyObject *o, uint64_t *out, const char *name) {
    unsigned long long v = PyLong_Check(o) ? PyLong_AsUnsignedLongLong(o) : (unsigned long long)-1;
    if (!PyLong_Check(o) || (v == (unsigned long long)-1 && PyErr_Occurred())) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "_kmeans_plusplus: %s must be an int in [0, 2**64), got %R", name, o);
        return -1;
    }
    *out = v;
    return 0;
}

/* _kmeans_plusplus(X, sample_weight, n_clusters, n_local_trials, seed, offset)
 *   -> (centers, indices, offset): the draws come from a generator at state
 *   (seed, offset); the new offset is returned for the caller's generator. */
static PyObject *py_kmeans_plusplus(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (empy_want_nargs(nargs, 6, "_kmeans_plusplus(X, sample_weight, n_clusters, n_local_trials, seed, offset)") < 0)
        return NULL;
    long long k, trials;
    uint64_t seed, offset;
    if (empy_opt_long(args[2], 8, &k, "_kmeans_plusplus", "n_clusters") < 0 ||
        empy_opt_long(args[3], 0, &trials, "_kmeans_plusplus", "n_local_trials") < 0 ||
        kpp_u64(args[4], &seed, "seed") < 0 || kpp_u64(args[5], &offset, "offset") < 0)
        return NULL;
    em_tensor *t[2], *centers = NULL, *idx = NULL;
    em_generator *g = NULL;
    if (empy_as_tensors(args, 2, keep2, xw_names, EMPY_OPT(1), t) < 0) return NULL;
    em_status st = em_generator_new(seed, &g);
    if (!st) {
        em_generator_set_state(g, seed, offset);
        st = EMPY_CALL(em_tensor_numel(t[0]) * (k > 0 ? k : 1),
                       em_kmeans_plusplus(t[0], t[1], (int64_t)k, (int64_t)trials, g, &centers, &idx));
        em_generator_get_state(g, &seed, &offset);
    }
    em_generator_free(g);
    empy_free_tensors(t, 2);
    return st ? empy_raise(st)
              : Py_BuildValue("(NNK)", empy_wrap(centers), empy_wrap(idx), (unsigned long long)offset);
}

/* _dbscan(X, sample_weight, eps, min_samples) -> (labels, core_sample_indices) */
static PyObject *py_dbscan(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    double eps, min_samples;
    if (empy_want_nargs(nargs, 4, "_dbscan(X, sample_weight, eps, min_samples)") < 0 ||
        empy_opt_double(args[2], 0.5, &eps, "_dbscan", "eps") < 0 ||
        empy_opt_double(args[3], 5.0, &min_samples, "_dbscan", "min_samples") < 0)
        return NULL;
    em_tensor *t[2], *labels = NULL, *core = NULL;
    if (empy_as_tensors(args, 2, keep2, xw_names, EMPY_OPT(1), t) < 0) return NULL;
    int64_t n = em_tensor_numel(t[0]);
    em_status st = EMPY_CALL(n * (n > 64 ? 64 : 1), em_dbscan_fit(t[0], t[1], eps, min_samples, &labels, &core));
    empy_free_tensors(t, 2);
    return st ? empy_raise(st) : empy_wrap_tuple((em_tensor *[2]){labels, core}, 2);
}

PyMethodDef empy_kmeans_methods[] = {
    {"_kmeans_fit", (PyCFunction)(void (*)(void))py_kmeans_fit, METH_FASTCALL,
     "_kmeans_fit(X, sample_weight, init, elkan, max_iter, tol)\n--\n\n"
     "k-means iterations from init: (centers, labels, inertia, n_iter) (private)."},
    {"_kmeans_predict", (PyCFunction)(void (*)(void))py_kmeans_predict, METH_FASTCALL,
     "_kmeans_predict(X, centers, want_sq_dist)\n--\n\n"
     "Nearest centre of each row and, if asked, its squared distance (private)."},
    {"_kmeans_distances", (PyCFunction)(void (*)(void))py_kmeans_distances, METH_FASTCALL,
     "_kmeans_distances(X, centers)\n--\n\nSquared distances of every row to every centre (private)."},
    {"_kmeans_plusplus", (PyCFunction)(void (*)(void))py_kmeans_plusplus, METH_FASTCALL,
     "_kmeans_plusplus(X, sample_weight, n_clusters, n_local_trials, seed, offset)\n--\n\n"
     "Greedy k-means++ seeding from a generator state: (centers, indices, new offset) (private)."},
    {"_dbscan", (PyCFunction)(void (*)(void))py_dbscan, METH_FASTCALL,
     "_dbscan(X, sample_weight, eps, min_samples)\n--\n\n"
     "DBSCAN labels and core sample indices (private)."},
    {NULL, NULL, 0, NULL},
};
