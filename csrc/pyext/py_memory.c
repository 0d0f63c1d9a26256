/* ember.empty_cache / cached_bytes / get_alloc_cache_limit /
 * set_alloc_cache_limit: libember's cache of freed large blocks
 * (base/alloc.c, docs/kernels.md "Memory"). */
#include "pyember.h"

static PyObject *empty_cache(PyObject *mod, PyObject *unused) {
    int64_t freed;
    Py_BEGIN_ALLOW_THREADS /* freeing many large blocks unmaps pages */
    freed = em_release_cached_memory();
    Py_END_ALLOW_THREADS
    return PyLong_FromLongLong(freed);
}

static PyObject *cached_bytes(PyObject *mod, PyObject *unused) { return PyLong_FromLongLong(em_cached_bytes()); }

static PyObject *get_alloc_cache_limit(PyObject *mod, PyObject *unused) {
    return PyLong_FromLongLong(em_alloc_cache_limit());
}

static PyObject *set_alloc_cache_limit(PyObject *mod, PyObject *arg) {
    int64_t n = -1; /* None: the default */
    if (arg != Py_None) {
        if (PyBool_Check(arg) || !PyIndex_Check(arg))
            return PyErr_Format(PyExc_TypeError, "set_alloc_cache_limit: nbytes must be an int or None, got %.50s",
                                Py_TYPE(arg)->tp_name);
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(arg, &overflow);
        if (v == -1 && PyErr_Occurred()) return empy_prefix_error("set_alloc_cache_limit");
        if (overflow < 0 || (!overflow && v < 0))
            return PyErr_Format(PyExc_ValueError,
                                "set_alloc_cache_limit: nbytes must be >= 0 (0 disables the cache), got %R", arg);
        n = overflow ? INT64_MAX : (int64_t)v; /* more than any memory: no limit */
    }
    Py_BEGIN_ALLOW_THREADS
    em_set_alloc_cache_limit(n);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *alloc_cache_supported(PyObject *mod, PyObject *unused) {
    return PyBool_FromLong(em_alloc_cache_supported());
}

PyMethodDef empy_memory_methods[] = {
    {"empty_cache", empty_cache, METH_NOARGS,
     "empty_cache()\n--\n\n"
     "Free every block held in ember's cache of freed large blocks and return the bytes freed.\n"
     "ember keeps freed blocks of 1 MiB and more (up to get_alloc_cache_limit() bytes) to reuse\n"
     "them for later results of close size without new page faults, like PyTorch's caching\n"
     "allocator; call this to hand that memory back to the system."},
    {"cached_bytes", cached_bytes, METH_NOARGS,
     "cached_bytes()\n--\n\n"
     "Bytes held now in ember's cache of freed large blocks (not counted as allocated)."},
    {"get_alloc_cache_limit", get_alloc_cache_limit, METH_NOARGS,
     "get_alloc_cache_limit()\n--\n\n"
     "The most bytes ember's cache of freed large blocks may hold (0: disabled): set_alloc_cache_limit,\n"
     "else the EMBER_ALLOC_CACHE environment variable, else min(1 GiB, RAM / 8).  Always 0 in a\n"
     "build under AddressSanitizer, where the cache is compiled out."},
    {"set_alloc_cache_limit", set_alloc_cache_limit, METH_O,
     "set_alloc_cache_limit(nbytes, /)\n--\n\n"
     "Set the most bytes ember's cache of freed large blocks may hold, freeing the oldest blocks\n"
     "above it; 0 disables the cache, None restores the default (EMBER_ALLOC_CACHE, else\n"
     "min(1 GiB, RAM / 8))."},
    {"_alloc_cache_supported", alloc_cache_supported, METH_NOARGS,
     "Whether libember was built with the cache of large blocks (not under AddressSanitizer)."},
    {NULL, NULL, 0, NULL},
};
