/* Include NumPy's C API in the files of the extension other than module.c. */
#ifndef EMPY_NUMPY_API_H
#define EMPY_NUMPY_API_H
#define NPY_NO_DEPRECATED_API NPY_1_25_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL empy_ARRAY_API
#define NO_IMPORT_ARRAY
#include <numpy/arrayobject.h>
#endif
