/* ember.set_num_threads / ember.get_num_threads: the size of libember's
 * thread pool (base/threadpool.c, docs/threads.md). */
#include "pyember.h"

static PyObject *set_num_threads(PyObject *mod, PyObject *arg) {
    if (PyBool_Check(arg) || !PyIndex_Check(arg))
        return PyErr_Format(PyExc_TypeError, "set_num_threads: n must be an int, got %.50s", Py_TYPE(arg)->tp_name);
    int overflow = 0;
    long n = PyLong_AsLongAndOverflow(arg, &overflow);
    if (n == -1 && PyErr_Occurred()) return empy_prefix_error("set_num_threads");
    if (overflow || n < 0 || n > EM_MAX_THREADS)
        return PyErr_Format(PyExc_ValueError, "set_num_threads: n must be in [0, %d] (0: the default), got %R",
                            EM_MAX_THREADS, arg);
    em_status st = em_set_num_threads((int)n);
    if (st != EM_OK) return empy_raise(st);
    Py_RETURN_NONE;
}

static PyObject *get_num_threads(PyObject *mod, PyObject *unused) { return PyLong_FromLong(em_get_num_threads()); }

PyMethodDef empy_threads_methods[] = {
    {"set_num_threads", set_num_threads, METH_O,
     "set_num_threads(n, /)\n--\n\n"
     "Set how many threads ember's kernels use (1 to 256), or restore the default with n = 0:\n"
     "the EMBER_NUM_THREADS environment variable if set, else the CPUs this process may run on.\n"
     "Results are bit-identical for every thread count.  Calls made while another thread's\n"
     "kernel is running in parallel run on their own thread (ember never runs more than n\n"
     "threads), so several Python threads may call ember at once."},
    {"get_num_threads", get_num_threads, METH_NOARGS,
     "get_num_threads()\n--\n\n"
     "The number of threads ember's kernels use now (set_num_threads, else EMBER_NUM_THREADS,\n"
     "else the CPUs this process may run on)."},
    {NULL, NULL, 0, NULL},
};
