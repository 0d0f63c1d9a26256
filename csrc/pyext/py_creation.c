/* Python bindings of the creation functions (filled in by its family). */
#include "pyember.h"

PyMethodDef empy_creation_methods[] = {
    {NULL, NULL, 0, NULL},
};
