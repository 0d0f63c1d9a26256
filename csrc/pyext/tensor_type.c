/* The Tensor heap type: attributes, operators, buffer protocol, repr. */
#include "pyember.h"

#include <math.h>
#include <structmember.h>

static void tensor_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    EmTensorObject *o = (EmTensorObject *)self;
    if (o->weakreflist) PyObject_ClearWeakRefs(self);
    em_tensor_free(o->t);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int64_t numel(const em_tensor *t) { return em__numel(t->ndim, t->shape); }

/* ---- attributes ---------------------------------------------------------- */

static PyObject *shape_tuple(const em_tensor *t) {
    PyObject *tup = PyTuple_New(t->ndim);
    if (!tup) return NULL;
    for (int i = 0; i < t->ndim; i++) {
        PyObject *v = PyLong_FromLongLong(t->shape[i]);
        if (!v) {
            Py_DECREF(tup);
            return NULL;
        }
        PyTuple_SET_ITEM(tup, i, v);
    }
    return tup;
}

static PyObject *get_shape(PyObject *self, void *c) { return shape_tuple(EmTensor_T(self)); }
static PyObject *get_dtype(PyObject *self, void *c) { return Py_NewRef(empy_dtype_obj(EmTensor_T(self)->dtype)); }
static PyObject *get_ndim(PyObject *self, void *c) { return PyLong_FromLong(EmTensor_T(self)->ndim); }
static PyObject *get_size(PyObject *self, void *c) { return PyLong_FromLongLong(numel(EmTensor_T(self))); }
static PyObject *get_itemsize(PyObject *self, void *c) {
    return PyLong_FromSize_t(em_dtype_size(EmTensor_T(self)->dtype));
}
static PyObject *get_nbytes(PyObject *self, void *c) {
    em_tensor *t = EmTensor_T(self);
    return PyLong_FromLongLong(numel(t) * (int64_t)em_dtype_size(t->dtype));
}
static PyObject *get_device(PyObject *self, void *c) { return PyUnicode_FromString("cpu"); }

/* Strides in bytes, as NumPy reports them (Tensor.stride() gives elements). */
static PyObject *get_strides(PyObject *self, void *c) {
    em_tensor *t = EmTensor_T(self);
    PyObject *tup = PyTuple_New(t->ndim);
    if (!tup) return NULL;
    for (int i = 0; i < t->ndim; i++) {
        PyObject *v = PyLong_FromLongLong(t->strides[i] * (int64_t)em_dtype_size(t->dtype));
        if (!v) {
            Py_DECREF(tup);
            return NULL;
        }
        PyTuple_SET_ITEM(tup, i, v);
    }
    return tup;
}

static PyObject *get_T(PyObject *self, void *c) {
    em_tensor *t = EmTensor_T(self), *out;
    int perm[EM_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) perm[i] = t->ndim - 1 - i;
    em_status st = em_tensor_permute(t, perm, &out);
    return st ? empy_raise(st) : empy_wrap(out);
}

static PyObject *get_mT(PyObject *self, void *c) {
    em_tensor *out;
    em_status st = em_tensor_mT(EmTensor_T(self), &out);
    return st ? empy_raise(st) : empy_wrap(out);
}

static const char typestr_of[EM_DTYPE_COUNT][4] = {"|b1", "|u1", "|i1", "<i4", "<i8", "<f4", "<f8"};

static PyObject *get_array_interface(PyObject *self, void *c) {
    em_tensor *t = EmTensor_T(self);
    PyObject *shape = shape_tuple(t), *strides = get_strides(self, NULL);
    if (!shape || !strides) {
        Py_XDECREF(shape);
        Py_XDECREF(strides);
        return NULL;
    }
    return Py_BuildValue("{s:N,s:s,s:(N,O),s:N,s:i}", "shape", shape, "typestr", typestr_of[t->dtype], "data",
                         PyLong_FromVoidPtr(em__ptr(t)), Py_False, "strides", strides, "version", 3);
}

/* autograd attributes (py_autograd.c) */
PyObject *empy_get_requires_grad(PyObject *self, void *c);
int empy_set_requires_grad(PyObject *self, PyObject *v, void *c);
PyObject *empy_get_grad(PyObject *self, void *c);
int empy_set_grad(PyObject *self, PyObject *v, void *c);
PyObject *empy_get_grad_fn(PyObject *self, void *c);
PyObject *empy_get_is_leaf(PyObject *self, void *c);

static PyGetSetDef tensor_getset[] = {
    {"shape", get_shape, NULL, "Tuple of dimension sizes.", NULL},
    {"dtype", get_dtype, NULL, "Element type (an ember dtype object).", NULL},
    {"ndim", get_ndim, NULL, "Number of dimensions.", NULL},
    {"size", get_size, NULL, "Number of elements.", NULL},
    {"itemsize", get_itemsize, NULL, "Bytes per element.", NULL},
    {"nbytes", get_nbytes, NULL, "Bytes of all elements (size * itemsize).", NULL},
    {"device", get_device, NULL, "Always 'cpu'.", NULL},
    {"strides", get_strides, NULL, "Byte step of each dimension, as NumPy reports it.", NULL},
    {"T", get_T, NULL, "View with the dimensions reversed.", NULL},
    {"mT", get_mT, NULL, "View with the last two dimensions swapped.", NULL},
    {"__array_interface__", get_array_interface, NULL, "NumPy array interface (shares memory).", NULL},
    {"requires_grad", empy_get_requires_grad, empy_set_requires_grad,
     "Whether autograd records ops on this tensor (settable on leaves; float dtypes only).", NULL},
    {"grad", empy_get_grad, empy_set_grad, "The gradient accumulated by backward() (None until then); settable.", NULL},
    {"grad_fn", empy_get_grad_fn, NULL, "The node that computed this tensor (None for a leaf).", NULL},
    {"is_leaf", empy_get_is_leaf, NULL, "Whether this tensor is a leaf of the autograd graph.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ---- operators ------------------------------------------------------------ */

static PyObject *binop(PyObject *a, PyObject *b, em_op op) {
    em_tensor *ta, *tb, *out;
    int r = empy_binary_operands(a, b, &ta, &tb);
    if (r <= 0) {
        if (r == 0) Py_RETURN_NOTIMPLEMENTED;
        return NULL;
    }
    int64_t n = numel(ta) > numel(tb) ? numel(ta) : numel(tb);
    em_status st = EMPY_CALL(n, em_binary(op, ta, tb, &out));
    em_tensor_free(ta);
    em_tensor_free(tb);
    return st ? empy_raise(st) : empy_wrap(out);
}

/* a op= b: writes into a's memory (same-kind casting, like NumPy). */
static PyObject *inplace_binop(PyObject *a, PyObject *b, em_op op) {
    if (!EmTensor_Check(a)) Py_RETURN_NOTIMPLEMENTED;
    em_tensor *ta, *tb;
    int r = empy_binary_operands(a, b, &ta, &tb);
    if (r <= 0) {
        if (r == 0) Py_RETURN_NOTIMPLEMENTED;
        return NULL;
    }
    em_status st = EMPY_CALL(numel(ta), em_binary_into(op, ta, tb, ta));
    em_tensor_free(ta);
    em_tensor_free(tb);
    return st ? empy_raise(st) : Py_NewRef(a);
}

#define BINOPS(X)                                             \
    X(add, EM_OP_ADD, add)                                    \
    X(sub, EM_OP_SUB, subtract)                               \
    X(mul, EM_OP_MUL, multiply)                               \
    X(truediv, EM_OP_DIV, true_divide)                        \
    X(floordiv, EM_OP_FLOOR_DIVIDE, floor_divide)             \
    X(mod, EM_OP_REMAINDER, remainder)                        \
    X(and, EM_OP_BITWISE_AND, and)                            \
    X(or, EM_OP_BITWISE_OR, or)                               \
    X(xor, EM_OP_BITWISE_XOR, xor)                            \
    X(lshift, EM_OP_BITWISE_LEFT_SHIFT, lshift)               \
    X(rshift, EM_OP_BITWISE_RIGHT_SHIFT, rshift)
#define X(name, op, slot)                                                                  \
    static PyObject *nb_##name(PyObject *a, PyObject *b) { return binop(a, b, op); }       \
    static PyObject *nb_i##name(PyObject *a, PyObject *b) { return inplace_binop(a, b, op); }
BINOPS(X)
#undef X

static PyObject *nb_pow(PyObject *a, PyObject *b, PyObject *mod) {
    if (mod != Py_None) {
        PyErr_SetString(PyExc_TypeError, "pow() with a modulus is not supported for tensors");
        return NULL;
    }
    return binop(a, b, EM_OP_POW);
}
static PyObject *nb_ipow(PyObject *a, PyObject *b, PyObject *mod) {
    if (mod != Py_None) {
        PyErr_SetString(PyExc_TypeError, "pow() with a modulus is not supported for tensors");
        return NULL;
    }
    return inplace_binop(a, b, EM_OP_POW);
}

static PyObject *matmul_impl(PyObject *a, PyObject *b) {
    if (!EmTensor_Check(b) && (PyLong_Check(b) || PyFloat_Check(b))) Py_RETURN_NOTIMPLEMENTED;
    if (!EmTensor_Check(a) && (PyLong_Check(a) || PyFloat_Check(a))) Py_RETURN_NOTIMPLEMENTED;
    em_tensor *ta = empy_as_tensor(a, -1, "matmul operand 0");
    if (!ta) return NULL;
    em_tensor *tb = empy_as_tensor(b, -1, "matmul operand 1"), *out;
    if (!tb) {
        em_tensor_free(ta);
        return NULL;
    }
    em_status st = EMPY_CALL(numel(ta) + numel(tb), em_matmul(ta, tb, &out));
    em_tensor_free(ta);
    em_tensor_free(tb);
    return st ? empy_raise(st) : empy_wrap(out);
}
static PyObject *nb_matmul(PyObject *a, PyObject *b) { return matmul_impl(a, b); }
static PyObject *nb_imatmul(PyObject *a, PyObject *b) {
    PyObject *r = matmul_impl(a, b);
    if (!r || r == Py_NotImplemented) return r;
    em_status st = em_tensor_copy_into(EmTensor_T(a), EmTensor_T(r));
    Py_DECREF(r);
    if (st) return empy_raise(st);
    return Py_NewRef(a);
}

static PyObject *unop(PyObject *a, em_op op) {
    em_tensor *out;
    em_status st = EMPY_CALL(numel(EmTensor_T(a)), em_unary(op, EmTensor_T(a), NAN, &out));
    return st ? empy_raise(st) : empy_wrap(out);
}
static PyObject *nb_neg(PyObject *a) { return unop(a, EM_OP_NEG); }
static PyObject *nb_pos(PyObject *a) { return unop(a, EM_OP_POSITIVE); }
static PyObject *nb_abs(PyObject *a) { return unop(a, EM_OP_ABS); }
static PyObject *nb_invert(PyObject *a) { return unop(a, EM_OP_BITWISE_INVERT); }

/* The value of a one-element tensor, or -1 with an error naming `what`. */
static int one_value(PyObject *self, const char *what, double *v) {
    em_tensor *t = EmTensor_T(self);
    if (numel(t) != 1) {
        char b[EM_DESC_LEN];
        PyErr_Format(PyExc_ValueError,
                     "%s of a tensor with %lld elements %s is ambiguous; it needs exactly one element", what,
                     (long long)numel(t), em__desc(t, b));
        return -1;
    }
    *v = em__load(t->dtype, em__ptr(t));
    return 0;
}

static int nb_bool(PyObject *self) {
    double v;
    if (one_value(self, "the truth value", &v) < 0) return -1;
    return v != 0;
}

static PyObject *nb_float(PyObject *self) {
    double v;
    if (one_value(self, "float()", &v) < 0) return NULL;
    return PyFloat_FromDouble(v);
}

static PyObject *nb_int(PyObject *self) {
    em_tensor *t = EmTensor_T(self);
    double v;
    if (one_value(self, "int()", &v) < 0) return NULL;
    if (t->dtype == EM_I64) return PyLong_FromLongLong(*(int64_t *)em__ptr(t));
    if (!isfinite(v)) {
        PyErr_SetString(PyExc_ValueError, "int(): cannot convert a NaN or infinite value to an integer");
        return NULL;
    }
    return PyLong_FromDouble(v);
}

static PyObject *nb_index(PyObject *self) {
    em_tensor *t = EmTensor_T(self);
    if (!em_dtype_is_int(t->dtype) && t->dtype != EM_BOOL) {
        PyErr_Format(PyExc_TypeError, "only integer tensors can be used as an index, not %s",
                     em_dtype_name(t->dtype));
        return NULL;
    }
    return nb_int(self);
}

static PyObject *richcompare(PyObject *a, PyObject *b, int cmp) {
    static const em_op ops[] = {[Py_LT] = EM_OP_LT, [Py_LE] = EM_OP_LE, [Py_EQ] = EM_OP_EQ,
                                [Py_NE] = EM_OP_NE, [Py_GT] = EM_OP_GT, [Py_GE] = EM_OP_GE};
    return binop(a, b, ops[cmp]);
}

static Py_ssize_t mp_length(PyObject *self) {
    em_tensor *t = EmTensor_T(self);
    if (t->ndim == 0) {
        PyErr_SetString(PyExc_TypeError, "len() of a 0-d tensor");
        return -1;
    }
    return (Py_ssize_t)t->shape[0];
}

static PyObject *tensor_repr(PyObject *self) {
    if (empy_st->repr_fn) return PyObject_CallOneArg(empy_st->repr_fn, self);
    char b[EM_DESC_LEN];
    return PyUnicode_FromFormat("<ember.Tensor %s>", em__desc(EmTensor_T(self), b));
}

/* ---- buffer protocol ------------------------------------------------------ */

static const char *const buffer_formats[EM_DTYPE_COUNT] = {"?", "B", "b", "i", "q", "f", "d"};

static int getbuffer(PyObject *self, Py_buffer *view, int flags) {
    em_tensor *t = EmTensor_T(self);
    bool contig = em__is_contiguous(t);
    if (!contig && ((flags & PyBUF_STRIDES) != PyBUF_STRIDES || (flags & PyBUF_ANY_CONTIGUOUS) == PyBUF_ANY_CONTIGUOUS)) {
        PyErr_SetString(PyExc_BufferError, "tensor is not contiguous; call .contiguous() first");
        return -1;
    }
    Py_ssize_t *dims = PyMem_Malloc(sizeof(Py_ssize_t) * 2 * (t->ndim ? t->ndim : 1));
    if (!dims) {
        PyErr_NoMemory();
        return -1;
    }
    int64_t es = (int64_t)em_dtype_size(t->dtype);
    for (int i = 0; i < t->ndim; i++) {
        dims[i] = (Py_ssize_t)t->shape[i];
        dims[t->ndim + i] = (Py_ssize_t)(t->strides[i] * es);
    }
    view->buf = em__ptr(t);
    view->obj = Py_NewRef(self);
    view->len = (Py_ssize_t)(numel(t) * es);
    view->readonly = 0;
    view->itemsize = (Py_ssize_t)es;
    view->format = (flags & PyBUF_FORMAT) ? (char *)buffer_formats[t->dtype] : NULL;
    view->ndim = t->ndim;
    view->shape = (flags & PyBUF_ND) == PyBUF_ND ? dims : NULL;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? dims + t->ndim : NULL;
    view->suboffsets = NULL;
    view->internal = dims;
    return 0;
}

static void releasebuffer(PyObject *self, Py_buffer *view) { PyMem_Free(view->internal); }

/* ---- methods -------------------------------------------------------------- */

static PyObject *tensor_item(PyObject *self, PyObject *unused) {
    em_tensor *t = EmTensor_T(self);
    double v;
    if (one_value(self, "item()", &v) < 0) return NULL;
    if (t->dtype == EM_BOOL) return PyBool_FromLong(v != 0);
    if (em_dtype_is_int(t->dtype)) return nb_int(self);
    return PyFloat_FromDouble(v);
}

/* astype(dtype, /, *, copy=True) */
static PyObject *tensor_astype(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *dto = nargs > 0 ? args[0] : NULL, *copyo = Py_True;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(k, "copy") == 0) copyo = args[nargs + i];
        else if (PyUnicode_CompareWithASCIIString(k, "dtype") == 0 && !dto) dto = args[nargs + i];
        else {
            PyErr_Format(PyExc_TypeError, "astype() got an unexpected keyword argument %R", k);
            return NULL;
        }
    }
    if (!dto || nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "astype(dtype, /, *, copy=True) takes one dtype");
        return NULL;
    }
    int dt;
    if (empy_parse_dtype(dto, &dt, false) < 0) return NULL;
    em_tensor *t = EmTensor_T(self), *out;
    int copy = PyObject_IsTrue(copyo);
    if (copy < 0) return NULL;
    if (!copy && t->dtype == (em_dtype)dt) return Py_NewRef(self);
    em_status st = EMPY_CALL(numel(t), em_tensor_cast(t, dt, &out));
    return st ? empy_raise(st) : empy_wrap(out);
}

static PyObject *tensor_contiguous(PyObject *self, PyObject *unused) {
    em_tensor *out;
    em_status st = em_tensor_contiguous(EmTensor_T(self), &out);
    if (st) return empy_raise(st);
    if (out == EmTensor_T(self)) {
        em_tensor_free(out);
        return Py_NewRef(self);
    }
    return empy_wrap(out);
}

static PyObject *tensor_clone(PyObject *self, PyObject *unused) {
    em_tensor *out;
    em_status st = EMPY_CALL(numel(EmTensor_T(self)), em_tensor_clone(EmTensor_T(self), &out));
    return st ? empy_raise(st) : empy_wrap(out);
}

static PyObject *tensor_is_contiguous(PyObject *self, PyObject *unused) {
    return PyBool_FromLong(em__is_contiguous(EmTensor_T(self)));
}

/* stride(): element steps, as PyTorch reports them. */
static PyObject *tensor_stride(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    em_tensor *t = EmTensor_T(self);
    if (nargs == 1 && args[0] != Py_None) {
        long d = PyLong_AsLong(args[0]);
        if (d == -1 && PyErr_Occurred()) return NULL;
        int a;
        em_status st = em__axis("stride", (int)d, t->ndim, &a);
        return st ? empy_raise(st) : PyLong_FromLongLong(t->strides[a]);
    }
    PyObject *tup = PyTuple_New(t->ndim);
    for (int i = 0; tup && i < t->ndim; i++) PyTuple_SET_ITEM(tup, i, PyLong_FromLongLong(t->strides[i]));
    return tup;
}

/* _shares_memory(other): whether both views use the same storage. */
static PyObject *tensor_shares_memory(PyObject *self, PyObject *other) {
    if (!EmTensor_Check(other)) Py_RETURN_FALSE;
    return PyBool_FromLong(em_tensor_shares_storage(EmTensor_T(self), EmTensor_T(other)));
}

static PyMethodDef tensor_methods[] = {
    {"item", tensor_item, METH_NOARGS, "item($self, /)\n--\n\nThe value of a one-element tensor as a Python scalar."},
    {"numpy", empy_tensor_to_numpy, METH_NOARGS,
     "numpy($self, /)\n--\n\nA NumPy array sharing this tensor's memory (no copy)."},
    {"astype", (PyCFunction)(void (*)(void))tensor_astype, METH_FASTCALL | METH_KEYWORDS,
     "astype($self, dtype, /, *, copy=True)\n--\n\nThis tensor converted to dtype (a copy unless copy=False and the "
     "dtype already matches)."},
    {"contiguous", tensor_contiguous, METH_NOARGS,
     "contiguous($self, /)\n--\n\nThis tensor if C-contiguous, else a contiguous copy."},
    {"clone", tensor_clone, METH_NOARGS, "clone($self, /)\n--\n\nA contiguous copy."},
    {"is_contiguous", tensor_is_contiguous, METH_NOARGS,
     "is_contiguous($self, /)\n--\n\nWhether the layout is C-contiguous."},
    {"stride", (PyCFunction)(void (*)(void))tensor_stride, METH_FASTCALL,
     "stride($self, dim=None, /)\n--\n\nElement steps of each dimension (PyTorch's convention; .strides is in bytes)."},
    {"_shares_memory", tensor_shares_memory, METH_O, NULL},
    {"__dlpack__", (PyCFunction)(void (*)(void))empy_tensor_dlpack, METH_FASTCALL | METH_KEYWORDS,
     "__dlpack__($self, /, *, stream=None, max_version=None, dl_device=None, copy=None)\n--\n\n"
     "Export as a DLPack capsule (versioned when max_version >= (1, 0))."},
    {"__dlpack_device__", empy_tensor_dlpack_device, METH_NOARGS,
     "__dlpack_device__($self, /)\n--\n\n(kDLCPU, 0)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef tensor_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(EmTensorObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyObject *tensor_new(PyTypeObject *tp, PyObject *args, PyObject *kw) {
    PyErr_SetString(PyExc_TypeError, "create tensors with ember.tensor(), ember.asarray() or ember.zeros()");
    return NULL;
}

static PyType_Slot tensor_slots[] = {
    {Py_tp_doc, "An N-dimensional array: a view (dtype, shape, strides) over shared storage.\n\n"
                "Create with ember.tensor, ember.asarray, ember.zeros, ember.arange, ..."},
    {Py_tp_new, tensor_new},
    {Py_tp_dealloc, tensor_dealloc},
    {Py_tp_repr, tensor_repr},
    {Py_tp_getset, tensor_getset},
    {Py_tp_methods, tensor_methods},
    {Py_tp_members, tensor_members},
    {Py_tp_richcompare, richcompare},
#define X(name, op, slot) {Py_nb_##slot, nb_##name}, {Py_nb_inplace_##slot, nb_i##name},
    BINOPS(X)
#undef X
    {Py_nb_power, nb_pow},
    {Py_nb_inplace_power, nb_ipow},
    {Py_nb_matrix_multiply, nb_matmul},
    {Py_nb_inplace_matrix_multiply, nb_imatmul},
    {Py_nb_negative, nb_neg},
    {Py_nb_positive, nb_pos},
    {Py_nb_absolute, nb_abs},
    {Py_nb_invert, nb_invert},
    {Py_nb_bool, nb_bool},
    {Py_nb_int, nb_int},
    {Py_nb_float, nb_float},
    {Py_nb_index, nb_index},
    {Py_mp_length, mp_length},
    {Py_mp_subscript, empy_getitem},
    {Py_mp_ass_subscript, empy_setitem},
    {Py_bf_getbuffer, getbuffer},
    {Py_bf_releasebuffer, releasebuffer},
    {0, NULL},
};

PyType_Spec empy_tensor_spec = {
    .name = "ember.Tensor",
    .basicsize = sizeof(EmTensorObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = tensor_slots,
};
