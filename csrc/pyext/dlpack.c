/* DLPack export (__dlpack__, __dlpack_device__) and import (from_dlpack). */
#include "pyember.h"

PyObject *empy_tensor_dlpack(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyErr_SetString(PyExc_NotImplementedError, "__dlpack__ is not implemented yet");
    return NULL;
}
PyObject *empy_tensor_dlpack_device(PyObject *self, PyObject *unused) { return Py_BuildValue("(ii)", 1, 0); }

PyMethodDef empy_dlpack_methods[] = {
    {NULL, NULL, 0, NULL},
};
