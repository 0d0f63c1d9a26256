/* Python bindings of the reduce functions (filled in by its family). */
#include "pyember.h"

PyMethodDef empy_reduce_methods[] = {
    {NULL, NULL, 0, NULL},
};
