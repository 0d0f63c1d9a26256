/* Private bindings of ember/kmeans.h (k-means, k-means++) and ember/dbscan.h
 * for ember.ml's KMeans and DBSCAN.  Arguments are positional and prepared
 * by the Python layer (C-contiguous arrays of one float dtype); libember
 * still checks everything. */
#include "pyember.h"

/* _kmeans_fit(X, sample_weight, init, elkan, max_iter, tol) -> (centers, labels, inertia, n_iter) */
static PyObject *py_kmeans_fit(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "_kmeans_fit(X, sample_weight, init, elkan, max_iter, tol)");
        return NULL;
    }
    em_kmeans_options o = em_kmeans_default_options();
    long long max_iter;
    int elkan = PyObject_IsTrue(args[3]);
    if (elkan < 0 || empy_opt_long(args[4], 300, &max_iter, "_kmeans_fit", "max_iter") < 0 ||
        empy_opt_double(args[5], 0.0, &o.tol, "_kmeans_fit", "tol") < 0)
        return NULL;
    o.algorithm = elkan ? EM_KMEANS_ELKAN : EM_KMEANS_LLOYD;
    o.max_iter = max_iter;
    em_tensor *X = NULL, *w = NULL, *init = NULL, *centers = NULL, *labels = NULL;
    PyObject *res = NULL;
    if (!(X = empy_as_tensor(args[0], -1, "X"))) goto done;
    if (args[1] != Py_None && !(w = empy_as_tensor(args[1], -1, "sample_weight"))) goto done;
    if (!(init = empy_as_tensor(args[2], -1, "init"))) goto done;
    double inertia = 0;
    int64_t it = 0;
    em_status st = EMPY_CALL(em_tensor_numel(X), em_kmeans_fit(X, w, init, &o, &centers, &labels, &inertia, &it));
    if (st) {
        empy_raise(st);
        goto done;
    }
    res = Py_BuildValue("(NNdL)", empy_wrap(centers), empy_wrap(labels), inertia, (long long)it);
done:
    em_tensor_free(X), em_tensor_free(w), em_tensor_free(init);
    return res;
}

/* _kmeans_predict(X, centers, want_sq_dist) -> (labels, sq_dist or None) */
static PyObject *py_kmeans_predict(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_kmeans_predict(X, centers, want_sq_dist)");
        return NULL;
    }
    int want = PyObject_IsTrue(args[2]);
    if (want < 0) return NULL;
    em_tensor *X = NULL, *C = NULL, *labels = NULL, *sq = NULL;
    PyObject *res = NULL;
    if (!(X = empy_as_tensor(args[0], -1, "X")) || !(C = empy_as_tensor(args[1], -1, "centers"))) goto done;
    em_status st = EMPY_CALL(em_tensor_numel(X), em_kmeans_predict(X, C, &labels, want ? &sq : NULL));
    if (st) {
        empy_raise(st);
        goto done;
    }
    if (want) {
        res = Py_BuildValue("(NN)", empy_wrap(labels), empy_wrap(sq));
    } else {
        res = Py_BuildValue("(NO)", empy_wrap(labels), Py_None);
    }
done:
    em_tensor_free(X), em_tensor_free(C);
    return res;
}

/* _kmeans_distances(X, centers) -> (n, k) squared distances */
static PyObject *py_kmeans_distances(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_kmeans_distances(X, centers)");
        return NULL;
    }
    em_tensor *X = NULL, *C = NULL, *D = NULL;
    PyObject *res = NULL;
    if ((X = empy_as_tensor(args[0], -1, "X")) && (C = empy_as_tensor(args[1], -1, "centers"))) {
        em_status st = EMPY_CALL(em_tensor_numel(X), em_kmeans_distances(X, C, &D));
        res = st ? empy_raise(st) : empy_wrap(D);
    }
    em_tensor_free(X), em_tensor_free(C);
    return res;
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
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "_kmeans_plusplus(X, sample_weight, n_clusters, n_local_trials, seed, offset)");
        return NULL;
    }
    long long k, trials;
    uint64_t seed, offset;
    if (empy_opt_long(args[2], 8, &k, "_kmeans_plusplus", "n_clusters") < 0 ||
        empy_opt_long(args[3], 0, &trials, "_kmeans_plusplus", "n_local_trials") < 0 ||
        kpp_u64(args[4], &seed, "seed") < 0 || kpp_u64(args[5], &offset, "offset") < 0)
        return NULL;
    em_tensor *X = NULL, *w = NULL, *centers = NULL, *idx = NULL;
    em_generator *g = NULL;
    PyObject *res = NULL;
    if (!(X = empy_as_tensor(args[0], -1, "X"))) goto done;
    if (args[1] != Py_None && !(w = empy_as_tensor(args[1], -1, "sample_weight"))) goto done;
    em_status st = em_generator_new(seed, &g);
    if (st) {
        empy_raise(st);
        goto done;
    }
    em_generator_set_state(g, seed, offset);
    st = EMPY_CALL(em_tensor_numel(X) * (k > 0 ? k : 1),
                   em_kmeans_plusplus(X, w, (int64_t)k, (int64_t)trials, g, &centers, &idx));
    if (st) {
        empy_raise(st);
        goto done;
    }
    em_generator_get_state(g, &seed, &offset);
    res = Py_BuildValue("(NNK)", empy_wrap(centers), empy_wrap(idx), (unsigned long long)offset);
done:
    em_generator_free(g);
    em_tensor_free(X), em_tensor_free(w);
    return res;
}

/* _dbscan(X, sample_weight, eps, min_samples) -> (labels, core_sample_indices) */
static PyObject *py_dbscan(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "_dbscan(X, sample_weight, eps, min_samples)");
        return NULL;
    }
    double eps, min_samples;
    if (empy_opt_double(args[2], 0.5, &eps, "_dbscan", "eps") < 0 ||
        empy_opt_double(args[3], 5.0, &min_samples, "_dbscan", "min_samples") < 0)
        return NULL;
    em_tensor *X = NULL, *w = NULL, *labels = NULL, *core = NULL;
    PyObject *res = NULL;
    if (!(X = empy_as_tensor(args[0], -1, "X"))) goto done;
    if (args[1] != Py_None && !(w = empy_as_tensor(args[1], -1, "sample_weight"))) goto done;
    int64_t n = em_tensor_numel(X);
    em_status st = EMPY_CALL(n * (n > 64 ? 64 : 1), em_dbscan_fit(X, w, eps, min_samples, &labels, &core));
    if (st) {
        empy_raise(st);
        goto done;
    }
    res = Py_BuildValue("(NN)", empy_wrap(labels), empy_wrap(core));
done:
    em_tensor_free(X), em_tensor_free(w);
    return res;
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
