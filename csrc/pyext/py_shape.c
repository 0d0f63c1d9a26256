/* Python bindings of the shape functions (filled in by its family). */
#include "pyember.h"

PyMethodDef empy_shape_methods[] = {
    {NULL, NULL, 0, NULL},
};
