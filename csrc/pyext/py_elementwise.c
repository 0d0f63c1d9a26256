/* Python bindings of the elementwise functions (filled in by its family). */
#include "pyember.h"

PyMethodDef empy_elementwise_methods[] = {
    {NULL, NULL, 0, NULL},
};
