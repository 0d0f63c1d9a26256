/* Python bindings of the random functions (filled in by its family). */
#include "pyember.h"

PyMethodDef empy_random_methods[] = {
    {NULL, NULL, 0, NULL},
};

static PyType_Slot generator_slots[] = {{0, NULL}};
PyType_Spec empy_generator_spec = {
    .name = "ember.Generator",
    .basicsize = sizeof(PyObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = generator_slots,
};
