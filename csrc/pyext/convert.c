/* Python objects <-> tensors: wrapping, NumPy interop, scalars, dtypes,
 * axis and shape arguments, and the asarray/tensor/from_numpy functions. */
#include "pyember.h"
#include "numpy_api.h"

PyObject *empy_wrap(em_tensor *t) {
    if (!t) return NULL;
    EmTensorObject *o = PyObject_New(EmTensorObject, empy_st->TensorType);
    if (!o) {
        em_tensor_free(t);
        return NULL;
    }
    o->t = t;
    o->weakreflist = NULL;
    return (PyObject *)o;
}

/* Raises for st; returns NULL typed as a tensor. */
static em_tensor *raise_t(em_status st) {
    empy_raise(st);
    return NULL;
}

/* ---- dtypes ------------------------------------------------------------ */

PyObject *empy_dtype_obj(em_dtype dt) { return empy_st->dtypes[dt]; }

static int dtype_index(PyObject *obj) {
    for (int i = 0; i < EM_DTYPE_COUNT; i++)
        if (empy_st->dtypes[i] == obj) return i;
    return -1;
}

int empy_parse_dtype(PyObject *obj, int *dt, bool allow_none) {
    if (obj == NULL || obj == Py_None) {
        if (allow_none) {
            *dt = -1;
            return 0;
        }
        PyErr_SetString(PyExc_TypeError, "dtype must not be None");
        return -1;
    }
    int i = dtype_index(obj);
    if (i < 0 && empy_st->dtype_coerce) {
        PyObject *r = PyObject_CallOneArg(empy_st->dtype_coerce, obj);
        if (!r) return -1;
        i = dtype_index(r);
        Py_DECREF(r);
    }
    if (i < 0) {
        PyErr_Format(PyExc_TypeError, "%R is not an ember dtype", obj);
        return -1;
    }
    *dt = i;
    return 0;
}

/* ember dtype of a NumPy dtype, or -1 if ember has no such type. */
static int dtype_from_descr(PyArray_Descr *d) {
    int n = (int)PyDataType_ELSIZE(d);
    switch (d->kind) {
    case 'b': return EM_BOOL;
    case 'u': return n == 1 ? EM_U8 : -1;
    case 'i': return n == 1 ? EM_I8 : n == 4 ? EM_I32 : n == 8 ? EM_I64 : -1;
    case 'f': return n == 4 ? EM_F32 : n == 8 ? EM_F64 : -1;
    default: return -1;
    }
}

/* The ember dtype that holds every value of an unsupported NumPy type, or -1. */
static int widened_dtype(PyArray_Descr *d) {
    int n = (int)PyDataType_ELSIZE(d);
    if (d->kind == 'i' && n == 2) return EM_I32;
    if (d->kind == 'u' && n == 2) return EM_I32;
    if (d->kind == 'u' && n == 4) return EM_I64;
    if (d->kind == 'f' && n == 2) return EM_F32;
    return -1;
}

static const int npy_types[EM_DTYPE_COUNT] = {NPY_BOOL, NPY_UINT8, NPY_INT8, NPY_INT32,
                                              NPY_INT64, NPY_FLOAT32, NPY_FLOAT64};

/* ---- NumPy arrays -> tensors ------------------------------------------ */

static void release_pyobject(void *owner) {
    /* storage may be released from a thread without the GIL */
    PyGILState_STATE g = PyGILState_Ensure();
    Py_DECREF((PyObject *)owner);
    PyGILState_Release(g);
}

/* Zero-copy view of arr when its layout allows, else (unless no_copy) a
 * converted copy. */
static em_tensor *from_ndarray(PyArrayObject *arr, const char *what, bool no_copy) {
    PyArray_Descr *d = PyArray_DESCR(arr);
    int dt = dtype_from_descr(d);
    bool need_copy = dt < 0 || !PyArray_ISALIGNED(arr) || !PyArray_ISNOTSWAPPED(arr) || !PyArray_ISWRITEABLE(arr);
    int nd = PyArray_NDIM(arr);
    if (nd > EM_MAX_DIMS) {
        PyErr_Format(PyExc_ValueError, "%s: array has %d dimensions; ember supports at most %d", what, nd,
                     EM_MAX_DIMS);
        return NULL;
    }
    int64_t shape[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    if (!need_copy) {
        int64_t es = (int64_t)em_dtype_size(dt);
        for (int i = 0; i < nd; i++) {
            shape[i] = PyArray_DIM(arr, i);
            strides[i] = PyArray_STRIDE(arr, i) / es;
            if (PyArray_STRIDE(arr, i) % es) need_copy = true;
        }
    }
    if (need_copy) {
        if (no_copy && dt < 0 && widened_dtype(d) < 0) {
            PyErr_Format(PyExc_TypeError, "%s: ember has no dtype for NumPy dtype %S", what, (PyObject *)d);
            return NULL;
        }
        if (no_copy) {
            PyErr_Format(PyExc_ValueError,
                         "%s: NumPy array of dtype %S cannot be shared without a copy (it is read-only, "
                         "misaligned, byte-swapped or of a type ember lacks)",
                         what, (PyObject *)d);
            return NULL;
        }
        if (dt < 0) dt = widened_dtype(d);
        if (dt < 0) {
            PyErr_Format(PyExc_TypeError, "%s: ember has no dtype for NumPy dtype %S", what, (PyObject *)d);
            return NULL;
        }
        PyObject *c = PyArray_FromAny((PyObject *)arr, PyArray_DescrFromType(npy_types[dt]), 0, 0,
                                      NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_ENSURECOPY, NULL);
        if (!c) return NULL;
        em_tensor *t = from_ndarray((PyArrayObject *)c, what, true);
        Py_DECREF(c);
        return t;
    }
    em_tensor *t;
    Py_INCREF(arr);
    em_status st = em_tensor_from_data(dt, nd, shape, strides, PyArray_DATA(arr), release_pyobject, arr, &t);
    if (st) {
        Py_DECREF(arr);
        return raise_t(st);
    }
    return t;
}

/* ---- scalars ----------------------------------------------------------- */

static em_tensor *scalar_tensor(em_dtype dt, double v, int64_t iv, bool use_int) {
    em_tensor *t;
    em_status st = em__new(dt, 0, NULL, &t);
    if (st) return raise_t(st);
    if (use_int && dt == EM_I64)
        *(int64_t *)em__ptr(t) = iv;
    else
        em__store(dt, em__ptr(t), use_int ? (double)iv : v);
    return t;
}

static bool int_fits(em_dtype dt, long long v) {
    switch (dt) {
    case EM_U8: return v >= 0 && v <= 255;
    case EM_I8: return v >= -128 && v <= 127;
    case EM_I32: return v >= INT32_MIN && v <= INT32_MAX;
    default: return true;
    }
}

em_tensor *empy_scalar_for(PyObject *obj, em_dtype other) {
    if (PyBool_Check(obj)) return scalar_tensor(EM_BOOL, obj == Py_True, 0, false);
    /* exact types only: NumPy scalars (np.float64 subclasses float) are
     * strongly typed, as in NumPy 2 */
    if (PyLong_CheckExact(obj)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (v == -1 && PyErr_Occurred()) return NULL;
        if (em_dtype_is_float(other)) return scalar_tensor(other, overflow ? PyLong_AsDouble(obj) : (double)v, 0, false);
        em_dtype dt = other == EM_BOOL ? EM_I64 : other;
        if (overflow || !int_fits(dt, v)) {
            PyErr_Format(PyExc_OverflowError, "Python integer %R out of bounds for %s", obj, em_dtype_name(dt));
            return NULL;
        }
        return scalar_tensor(dt, 0, v, true);
    }
    if (PyFloat_CheckExact(obj)) {
        double v = PyFloat_AS_DOUBLE(obj);
        return scalar_tensor(em_dtype_is_float(other) ? other : EM_DEFAULT_FLOAT, v, 0, false);
    }
    return NULL;
}

/* A standalone Python scalar: bool, int64 or the default float. */
static em_tensor *python_scalar(PyObject *obj, int dt) {
    if (PyBool_Check(obj)) return scalar_tensor(dt >= 0 ? dt : EM_BOOL, obj == Py_True, 0, false);
    if (PyLong_Check(obj)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (v == -1 && PyErr_Occurred()) return NULL;
        if (dt >= 0 && em_dtype_is_float(dt)) return scalar_tensor(dt, PyLong_AsDouble(obj), 0, false);
        em_dtype d = dt >= 0 ? (em_dtype)dt : EM_I64;
        if (overflow || !int_fits(d, v)) {
            PyErr_Format(PyExc_OverflowError, "Python integer %R out of bounds for %s", obj, em_dtype_name(d));
            return NULL;
        }
        return scalar_tensor(d, 0, v, true);
    }
    return scalar_tensor(dt >= 0 ? dt : EM_DEFAULT_FLOAT, PyFloat_AsDouble(obj), 0, false);
}

/* ---- any object -> tensor ---------------------------------------------- */

static em_tensor *cast_if(em_tensor *t, int dt) {
    if (!t || dt < 0 || t->dtype == (em_dtype)dt) return t;
    em_tensor *c;
    em_status st = em_tensor_cast(t, dt, &c);
    em_tensor_free(t);
    return st ? raise_t(st) : c;
}

em_tensor *empy_as_tensor(PyObject *obj, int dt, const char *what) {
    if (EmTensor_Check(obj)) return cast_if(em_tensor_retain(EmTensor_T(obj)), dt);
    if (PyBool_Check(obj) || PyLong_CheckExact(obj) || PyFloat_CheckExact(obj)) return python_scalar(obj, dt);
    if (PyArray_Check(obj)) return cast_if(from_ndarray((PyArrayObject *)obj, what, false), dt);
    if (PyComplex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s: ember has no complex dtype", what);
        return NULL;
    }
    PyObject *arr = PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
    if (!arr) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: cannot convert %.100s to a tensor", what, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    /* nested Python lists of floats take the default float dtype, as
     * Python float scalars do (NumPy would say float64) */
    if (dt < 0 && (PyList_Check(obj) || PyTuple_Check(obj)) && PyArray_TYPE((PyArrayObject *)arr) == NPY_FLOAT64)
        dt = EM_DEFAULT_FLOAT;
    if (PyArray_TYPE((PyArrayObject *)arr) == NPY_OBJECT) {
        Py_DECREF(arr);
        PyErr_Format(PyExc_TypeError, "%s: cannot convert %.100s to a tensor (ragged or non-numeric)", what,
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    em_tensor *t = from_ndarray((PyArrayObject *)arr, what, false);
    Py_DECREF(arr);
    return cast_if(t, dt);
}

int empy_binary_operands(PyObject *a, PyObject *b, em_tensor **ta, em_tensor **tb) {
    bool at = EmTensor_Check(a), bt = EmTensor_Check(b);
    if (!at && !bt) return 0;
    if (at && bt) {
        *ta = em_tensor_retain(EmTensor_T(a));
        *tb = em_tensor_retain(EmTensor_T(b));
        return 1;
    }
    PyObject *other = at ? b : a;
    em_tensor *known = at ? EmTensor_T(a) : EmTensor_T(b);
    em_tensor *conv = empy_scalar_for(other, known->dtype);
    if (!conv) {
        if (PyErr_Occurred()) return -1;
        if (!(PyArray_Check(other) || PyArray_IsScalar(other, Generic) || PyList_Check(other) ||
              PyTuple_Check(other)))
            return 0;
        conv = empy_as_tensor(other, -1, "operand");
        if (!conv) return -1;
    }
    *ta = at ? em_tensor_retain(known) : conv;
    *tb = at ? conv : em_tensor_retain(known);
    return 1;
}

/* ---- axes and shapes --------------------------------------------------- */

int empy_parse_axes(PyObject *obj, int *axes, int *naxes) {
    if (obj == NULL || obj == Py_None) {
        *naxes = -1;
        return 0;
    }
    if (PyIndex_Check(obj) && !PyTuple_Check(obj) && !PyList_Check(obj)) {
        long v = PyLong_AsLong(obj);
        if (v == -1 && PyErr_Occurred()) return -1;
        axes[0] = (int)v;
        *naxes = 1;
        return 0;
    }
    if (PyUnicode_Check(obj) || PyBytes_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "axis must be an int, a tuple of ints or None, not %.50s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    PyObject *seq = PySequence_Fast(obj, "axis must be an int, a tuple of ints or None");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > EM_MAX_DIMS) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "too many axes (%zd); tensors have at most %d", n, EM_MAX_DIMS);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
        axes[i] = (int)v;
    }
    Py_DECREF(seq);
    *naxes = (int)n;
    return 0;
}

int empy_parse_shape(PyObject *obj, int64_t *shape, int *ndim, const char *what) {
    if (PyIndex_Check(obj)) {
        Py_ssize_t v = PyNumber_AsSsize_t(obj, PyExc_OverflowError);
        if (v == -1 && PyErr_Occurred()) return -1;
        shape[0] = v;
        *ndim = 1;
        return 0;
    }
    PyObject *seq = PySequence_Fast(obj, "shape must be an int or a sequence of ints");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > EM_MAX_DIMS) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "%s: %zd dimensions requested; ember supports at most %d", what, n,
                     EM_MAX_DIMS);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyIndex_Check(it)) {
            Py_DECREF(seq);
            PyErr_Format(PyExc_TypeError, "%s: shape entries must be integers, got %.50s", what,
                         Py_TYPE(it)->tp_name);
            return -1;
        }
        Py_ssize_t v = PyNumber_AsSsize_t(it, PyExc_OverflowError);
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
        shape[i] = v;
    }
    Py_DECREF(seq);
    *ndim = (int)n;
    return 0;
}

/* ---- tensors -> NumPy ---------------------------------------------------- */

PyObject *empy_tensor_to_numpy(PyObject *self, PyObject *unused) {
    em_tensor *t = EmTensor_T(self);
    npy_intp dims[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    int64_t es = (int64_t)em_dtype_size(t->dtype);
    for (int i = 0; i < t->ndim; i++) {
        dims[i] = t->shape[i];
        strides[i] = t->strides[i] * es;
    }
    PyObject *arr = PyArray_NewFromDescr(&PyArray_Type, PyArray_DescrFromType(npy_types[t->dtype]), t->ndim, dims,
                                         strides, em__ptr(t), NPY_ARRAY_WRITEABLE, NULL);
    if (!arr) return NULL;
    if (PyArray_SetBaseObject((PyArrayObject *)arr, Py_NewRef(self)) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

/* ---- module functions ---------------------------------------------------- */

static const char *const asarray_kw[] = {"obj", "dtype", "copy", "device", "requires_grad", NULL};

/* Parses (obj, dtype=None, copy=None, device=None, requires_grad=None). */
static int parse_asarray(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, const char *fname,
                         PyObject **obj, int *dt, int *copy, PyObject **rg) {
    PyObject *vals[5] = {NULL, Py_None, Py_None, Py_None, Py_None};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "%s() takes 1 positional argument (and dtype)", fname);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) vals[i] = args[i];
    for (Py_ssize_t i = 0; i < nkw; i++) {
        const char *k = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, i));
        int j = 1;
        while (asarray_kw[j] && strcmp(asarray_kw[j], k)) j++;
        if (!asarray_kw[j]) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%s'", fname, k);
            return -1;
        }
        vals[j] = args[nargs + i];
    }
    if (vals[3] != Py_None && !(PyUnicode_Check(vals[3]) && PyUnicode_CompareWithASCIIString(vals[3], "cpu") == 0)) {
        PyErr_Format(PyExc_ValueError, "%s(): device must be 'cpu' or None, got %R", fname, vals[3]);
        return -1;
    }
    if (vals[4] != Py_None && !PyBool_Check(vals[4])) {
        PyErr_Format(PyExc_TypeError, "%s(): requires_grad must be a bool, not %.50s", fname,
                     Py_TYPE(vals[4])->tp_name);
        return -1;
    }
    *rg = vals[4];
    *obj = vals[0];
    *copy = vals[2] == Py_None ? -1 : PyObject_IsTrue(vals[2]);
    if (*copy == -1 && vals[2] != Py_None) return -1;
    return empy_parse_dtype(vals[1], dt, true);
}

PyObject *empy_apply_requires_grad(PyObject *res, PyObject *flag, const char *fname) {
    if (!res || !flag || flag == Py_None) return res;
    if (!PyBool_Check(flag)) {
        PyErr_Format(PyExc_TypeError, "%s(): requires_grad must be a bool, not %.50s", fname, Py_TYPE(flag)->tp_name);
        Py_DECREF(res);
        return NULL;
    }
    em_tensor *t = EmTensor_T(res);
    if (flag == Py_False) {
        if (!em_tensor_requires_grad(t)) return res;
        em_tensor *d = NULL;
        em_status st = em_tensor_detach(t, &d);
        Py_DECREF(res);
        return st ? empy_raise(st) : empy_wrap(d);
    }
    if (!em_dtype_is_float(t->dtype)) {
        PyErr_Format(PyExc_TypeError, "%s(): Only Tensors of floating point dtype can require gradients, got %s",
                     fname, em_dtype_name(t->dtype));
        Py_DECREF(res);
        return NULL;
    }
    em_status st = em_tensor_set_requires_grad(t, true);
    if (st) {
        Py_DECREF(res);
        return empy_raise(st);
    }
    return res;
}

/* asarray(obj, /, *, dtype=None, copy=None, device=None, requires_grad=None):
 * shares memory with tensors and NumPy arrays where it can; copy=True always
 * copies, copy=False raises ValueError if a copy would be needed. */
static PyObject *asarray_impl(PyObject *obj, int dt, int copy) {
    em_tensor *t;
    if (copy == 0) {
        if (EmTensor_Check(obj) && (dt < 0 || EmTensor_T(obj)->dtype == (em_dtype)dt)) return Py_NewRef(obj);
        if (PyArray_Check(obj)) {
            t = from_ndarray((PyArrayObject *)obj, "asarray", true);
            if (t && dt >= 0 && t->dtype != (em_dtype)dt) {
                em_tensor_free(t);
                PyErr_SetString(PyExc_ValueError, "asarray(copy=False): the dtype change needs a copy");
                return NULL;
            }
            return empy_wrap(t);
        }
        PyErr_Format(PyExc_ValueError, "asarray(copy=False): a %.100s cannot be converted without a copy",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    if (copy == -1 && EmTensor_Check(obj) && (dt < 0 || EmTensor_T(obj)->dtype == (em_dtype)dt))
        return Py_NewRef(obj);
    t = empy_as_tensor(obj, dt, "asarray");
    if (!t) return NULL;
    /* only tensors and array-likes can share; lists and scalars were converted */
    bool shares = EmTensor_Check(obj) ? em_tensor_shares_storage(t, EmTensor_T(obj))
                                      : !PyList_Check(obj) && !PyTuple_Check(obj) && t->storage->release != NULL;
    if (copy == 1 && shares) {
        em_tensor *c;
        em_status st = em_tensor_clone(t, &c);
        em_tensor_free(t);
        if (st) return empy_raise(st);
        t = c;
    }
    return empy_wrap(t);
}

/* requires_grad=True on a tensor returned as is sets it on that tensor (as
 * torch.asarray does). */
static PyObject *py_asarray(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *obj, *rg;
    int dt, copy;
    if (parse_asarray(args, nargs, kwnames, "asarray", &obj, &dt, &copy, &rg) < 0) return NULL;
    return empy_apply_requires_grad(asarray_impl(obj, dt, copy), rg, "asarray");
}

/* tensor(data, dtype=None, requires_grad=False): always a new leaf tensor
 * owning a copy of data (a tensor's graph is not copied, as torch.tensor). */
static PyObject *py_tensor(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *obj, *rg;
    int dt, copy;
    if (parse_asarray(args, nargs, kwnames, "tensor", &obj, &dt, &copy, &rg) < 0) return NULL;
    em_tensor *t = empy_as_tensor(obj, dt, "tensor");
    if (!t) return NULL;
    em_tensor *c;
    bool prev = em_set_grad_enabled(false);
    em_status st = em_tensor_clone(t, &c);
    em_set_grad_enabled(prev);
    em_tensor_free(t);
    return st ? empy_raise(st) : empy_apply_requires_grad(empy_wrap(c), rg, "tensor");
}

/* from_numpy(array): a tensor sharing the array's memory (never a copy). */
static PyObject *py_from_numpy(PyObject *mod, PyObject *arr) {
    if (!PyArray_Check(arr)) {
        PyErr_Format(PyExc_TypeError, "from_numpy: expected a numpy.ndarray, got %.100s", Py_TYPE(arr)->tp_name);
        return NULL;
    }
    return empy_wrap(from_ndarray((PyArrayObject *)arr, "from_numpy", true));
}

PyMethodDef empy_convert_methods[] = {
    {"asarray", (PyCFunction)(void (*)(void))py_asarray, METH_FASTCALL | METH_KEYWORDS,
     "asarray(obj, /, *, dtype=None, copy=None, device=None, requires_grad=None)\n--\n\n"
     "Convert obj (tensor, NumPy array, buffer, nested sequence or scalar) to a Tensor.\n"
     "Shares memory with NumPy arrays and tensors when possible; copy=True always copies,\n"
     "copy=False raises ValueError when a copy would be needed.  requires_grad=True makes the\n"
     "result require grad (float dtypes only; a tensor returned as is is changed itself, as\n"
     "torch.asarray), False gives a detached result, None keeps obj's."},
    {"tensor", (PyCFunction)(void (*)(void))py_tensor, METH_FASTCALL | METH_KEYWORDS,
     "tensor(data, dtype=None, *, requires_grad=False)\n--\n\n"
     "A new Tensor holding a copy of data (like torch.tensor).\n"
     "Python floats give float32, ints int64, bools bool.  The result is a leaf (a tensor's graph\n"
     "is not copied); requires_grad=True makes it require grad (float dtypes only)."},
    {"from_numpy", py_from_numpy, METH_O,
     "from_numpy(array, /)\n--\n\nA Tensor sharing array's memory (never copies; raises ValueError\n"
     "for read-only, misaligned, byte-swapped arrays or dtypes ember lacks)."},
    {NULL, NULL, 0, NULL},
};
