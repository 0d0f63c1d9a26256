/* ember._C module: multi-phase init, module state, error mapping. */
#include "pyember.h"

#define NPY_NO_DEPRECATED_API NPY_1_25_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL empy_ARRAY_API
#include <numpy/arrayobject.h>

empy_state *empy_st;

PyObject *empy_raise(em_status st) {
    PyObject *type;
    switch (st) {
    case EM_ERR_DTYPE: type = PyExc_TypeError; break;
    case EM_ERR_INDEX: type = PyExc_IndexError; break;
    case EM_ERR_NOMEM: type = PyExc_MemoryError; break;
    case EM_ERR_IO: type = PyExc_OSError; break;
    case EM_ERR_UNSUPPORTED: type = PyExc_NotImplementedError; break;
    case EM_ERR_INTERNAL: type = PyExc_RuntimeError; break;
    default: type = PyExc_ValueError; break; /* invalid arg, shape, parse */
    }
    const char *msg = em_last_error();
    PyErr_SetString(type, msg[0] ? msg : em_status_str(st));
    return NULL;
}

int empy_raise_int(em_status st) {
    empy_raise(st);
    return -1;
}

/* _register_dtypes(tuple of 7 dtype objects in enum order, coerce_fn, repr_fn) */
static PyObject *register_dtypes(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyTuple_Check(args[0]) || PyTuple_GET_SIZE(args[0]) != EM_DTYPE_COUNT) {
        PyErr_SetString(PyExc_TypeError, "_register_dtypes(tuple_of_7_dtypes, coerce, repr)");
        return NULL;
    }
    empy_state *s = PyModule_GetState(mod);
    for (int i = 0; i < EM_DTYPE_COUNT; i++) Py_XSETREF(s->dtypes[i], Py_NewRef(PyTuple_GET_ITEM(args[0], i)));
    Py_XSETREF(s->dtype_coerce, Py_NewRef(args[1]));
    Py_XSETREF(s->repr_fn, Py_NewRef(args[2]));
    Py_RETURN_NONE;
}

static PyObject *allocated_bytes(PyObject *mod, PyObject *unused) {
    return PyLong_FromLongLong(em_allocated_bytes());
}

PyMethodDef empy_module_methods[] = {
    {"_register_dtypes", (PyCFunction)(void (*)(void))register_dtypes, METH_FASTCALL, NULL},
    {"_allocated_bytes", allocated_bytes, METH_NOARGS,
     "Bytes currently allocated by libember (for leak checks)."},
    {NULL, NULL, 0, NULL},
};

extern PyType_Spec empy_tensor_spec;

static PyMethodDef *const method_tables[] = {
    empy_module_methods,   empy_convert_methods, empy_dlpack_methods, empy_creation_methods,
    empy_elementwise_methods, empy_reduce_methods, empy_shape_methods, empy_random_methods, empy_tree_methods, empy_hgb_methods, empy_kdtree_methods, empy_kmeans_methods, empy_linear_models_methods,
    empy_linalg_ml_methods, empy_optim_methods, empy_autograd_methods, empy_threads_methods, empy_memory_methods,
    empy_norm_methods, empy_csv_methods, empy_linear_methods, empy_conv_methods,
};

static int module_exec(PyObject *mod) {
    if (empy_st) {
        PyErr_SetString(PyExc_ImportError, "ember._C can be loaded once per process");
        return -1;
    }
    if (PyArray_ImportNumPyAPI() < 0) return -1;
    empy_state *s = PyModule_GetState(mod);
    s->TensorType = (PyTypeObject *)PyType_FromModuleAndSpec(mod, &empy_tensor_spec, NULL);
    if (!s->TensorType) return -1;
    if (PyModule_AddType(mod, s->TensorType) < 0) return -1;
    PyTypeObject *gen = (PyTypeObject *)PyType_FromModuleAndSpec(mod, &empy_generator_spec, NULL);
    if (!gen) return -1;
    int rc = PyModule_AddType(mod, gen);
    Py_DECREF(gen);
    if (rc < 0) return -1;
    for (size_t i = 0; i < sizeof method_tables / sizeof method_tables[0]; i++)
        if (PyModule_AddFunctions(mod, method_tables[i]) < 0) return -1;
    if (PyModule_AddStringConstant(mod, "__version__", em_version()) < 0) return -1;
    empy_st = s;
    return 0;
}

static int module_traverse(PyObject *mod, visitproc visit, void *arg) {
    empy_state *s = PyModule_GetState(mod);
    Py_VISIT(s->TensorType);
    for (int i = 0; i < EM_DTYPE_COUNT; i++) Py_VISIT(s->dtypes[i]);
    Py_VISIT(s->dtype_coerce);
    Py_VISIT(s->repr_fn);
    return 0;
}

static int module_clear(PyObject *mod) {
    empy_state *s = PyModule_GetState(mod);
    Py_CLEAR(s->TensorType);
    for (int i = 0; i < EM_DTYPE_COUNT; i++) Py_CLEAR(s->dtypes[i]);
    Py_CLEAR(s->dtype_coerce);
    Py_CLEAR(s->repr_fn);
    return 0;
}

static void module_free(void *mod) {
    module_clear(mod);
    empy_st = NULL;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ember._C",
    .m_doc = "ember's C core (libember) and its Tensor type.",
    .m_size = sizeof(empy_state),
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__C(void) { return PyModuleDef_Init(&module_def); }
