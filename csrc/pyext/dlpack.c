/* DLPack export (Tensor.__dlpack__, __dlpack_device__) and import
 * (ember.from_dlpack).  The structs follow the DLPack 1.x header
 * (https://dmlc.github.io/dlpack); both the legacy "dltensor" capsule and
 * the versioned "dltensor_versioned" one are produced and consumed. */
#include "pyember.h"

/* ---- DLPack ABI -------------------------------------------------------------- */

typedef enum { kDLCPU = 1, kDLCUDAHost = 3, kDLROCMHost = 11 } DLDeviceType;
typedef struct {
    DLDeviceType device_type;
    int32_t device_id;
} DLDevice;
typedef enum { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBool = 6 } DLDataTypeCode;
typedef struct {
    uint8_t code, bits;
    uint16_t lanes;
} DLDataType;
typedef struct {
    void *data;
    DLDevice device;
    int32_t ndim;
    DLDataType dtype;
    int64_t *shape;
    int64_t *strides; /* in elements; NULL = C-contiguous (legacy only) */
    uint64_t byte_offset;
} DLTensor;
typedef struct DLManagedTensor {
    DLTensor dl_tensor;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensor *self);
} DLManagedTensor;
typedef struct {
    uint32_t major, minor;
} DLPackVersion;
typedef struct DLManagedTensorVersioned {
    DLPackVersion version;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensorVersioned *self);
    uint64_t flags;
    DLTensor dl_tensor;
} DLManagedTensorVersioned;
#define DLPACK_FLAG_BITMASK_READ_ONLY (UINT64_C(1) << 0)
#define DLPACK_FLAG_BITMASK_IS_COPIED (UINT64_C(1) << 1)

static const char CAP_LEGACY[] = "dltensor", CAP_VERSIONED[] = "dltensor_versioned";

static const DLDataType dl_types[EM_DTYPE_COUNT] = {
    {kDLBool, 8, 1}, {kDLUInt, 8, 1}, {kDLInt, 8, 1}, {kDLInt, 32, 1},
    {kDLInt, 64, 1}, {kDLFloat, 32, 1}, {kDLFloat, 64, 1},
};

/* ---- export ----------------------------------------------------------------- */

/* One block: the managed struct, then its shape and strides arrays.  The
 * manager context holds a reference to the em_tensor.  Allocated with the raw
 * allocator since the deleter may run on a thread without the GIL. */
#define EXPORT_BLOCK(T)                                                        \
    typedef struct {                                                           \
        T m;                                                                   \
        int64_t dims[2 * EM_MAX_DIMS];                                         \
    } T##_block;                                                               \
    static void T##_deleter(T *m) {                                            \
        em_tensor_free((em_tensor *)m->manager_ctx);                           \
        PyMem_RawFree(m);                                                      \
    }                                                                          \
    static void T##_capsule_dtor(PyObject *cap) { /* renamed once consumed */ \
        if (!PyCapsule_IsValid(cap, cap_name_##T)) return;                     \
        T *m = PyCapsule_GetPointer(cap, cap_name_##T);                        \
        if (m->deleter) m->deleter(m);                                         \
    }
static const char *const cap_name_DLManagedTensor = CAP_LEGACY;
static const char *const cap_name_DLManagedTensorVersioned = CAP_VERSIONED;
EXPORT_BLOCK(DLManagedTensor)
EXPORT_BLOCK(DLManagedTensorVersioned)

static void fill_dltensor(DLTensor *dl, em_tensor *t, int64_t *dims) {
    dl->data = em__ptr(t);
    dl->device = (DLDevice){kDLCPU, 0};
    dl->ndim = t->ndim;
    dl->dtype = dl_types[t->dtype];
    dl->shape = dims;
    dl->strides = dims + EM_MAX_DIMS;
    dl->byte_offset = 0;
    for (int i = 0; i < t->ndim; i++) {
        dims[i] = t->shape[i];
        dims[EM_MAX_DIMS + i] = t->strides[i];
    }
}

/* Capsule over t, taking its reference (dropped on failure). */
static PyObject *make_capsule(em_tensor *t, bool versioned, bool copied) {
    PyObject *cap;
    if (versioned) {
        DLManagedTensorVersioned_block *b = PyMem_RawCalloc(1, sizeof *b);
        if (!b) goto nomem;
        b->m.version = (DLPackVersion){1, 0};
        b->m.manager_ctx = t;
        b->m.deleter = DLManagedTensorVersioned_deleter;
        b->m.flags = copied ? DLPACK_FLAG_BITMASK_IS_COPIED : 0;
        fill_dltensor(&b->m.dl_tensor, t, b->dims);
        cap = PyCapsule_New(&b->m, CAP_VERSIONED, DLManagedTensorVersioned_capsule_dtor);
        if (!cap) DLManagedTensorVersioned_deleter(&b->m);
    } else {
        DLManagedTensor_block *b = PyMem_RawCalloc(1, sizeof *b);
        if (!b) goto nomem;
        b->m.manager_ctx = t;
        b->m.deleter = DLManagedTensor_deleter;
        fill_dltensor(&b->m.dl_tensor, t, b->dims);
        cap = PyCapsule_New(&b->m, CAP_LEGACY, DLManagedTensor_capsule_dtor);
        if (!cap) DLManagedTensor_deleter(&b->m);
    }
    return cap;
nomem:
    em_tensor_free(t);
    return PyErr_NoMemory();
}

/* (device_type, device_id) tuple -> values; -1 with an error if malformed. */
static int parse_device(PyObject *o, const char *fname, long *type, long *id) {
    if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != 2) {
        PyErr_Format(PyExc_TypeError, "%s: a DLPack device is a (device_type, device_id) tuple, got %R", fname, o);
        return -1;
    }
    *type = PyLong_AsLong(PyTuple_GET_ITEM(o, 0));
    if (*type == -1 && PyErr_Occurred()) return -1;
    *id = PyLong_AsLong(PyTuple_GET_ITEM(o, 1));
    return *id == -1 && PyErr_Occurred() ? -1 : 0;
}

PyObject *empy_tensor_dlpack(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"stream", "max_version", "dl_device", "copy", NULL};
    PyObject *a[4];
    if (nargs) {
        PyErr_SetString(PyExc_TypeError, "__dlpack__() takes keyword arguments only");
        return NULL;
    }
    if (empy_parse_args("__dlpack__", args, nargs, kwnames, names, 0, 0, a) < 0) return NULL;
    if (a[0] && a[0] != Py_None) {
        PyErr_Format(PyExc_ValueError, "__dlpack__: stream must be None for CPU tensors, got %R", a[0]);
        return NULL;
    }
    bool versioned = false;
    if (a[1] && a[1] != Py_None) {
        if (!PyTuple_Check(a[1]) || PyTuple_GET_SIZE(a[1]) != 2) {
            PyErr_Format(PyExc_TypeError, "__dlpack__: max_version must be a (major, minor) tuple, got %R", a[1]);
            return NULL;
        }
        long major = PyLong_AsLong(PyTuple_GET_ITEM(a[1], 0));
        if (major == -1 && PyErr_Occurred()) return NULL;
        versioned = major >= 1;
    }
    if (a[2] && a[2] != Py_None) {
        long type, id;
        if (parse_device(a[2], "__dlpack__", &type, &id) < 0) return NULL;
        if (type != kDLCPU || id != 0) {
            PyErr_Format(PyExc_BufferError, "__dlpack__: cannot export to device %R; ember tensors live on (1, 0) (CPU)",
                         a[2]);
            return NULL;
        }
    }
    int copy = -1;
    if (a[3] && a[3] != Py_None && (copy = PyObject_IsTrue(a[3])) < 0) return NULL;
    em_tensor *t = EmTensor_T(self);
    /* DLPack allows negative strides, but consumers such as PyTorch abort the
     * process on them: such views are exported as a copy. */
    bool negative = false;
    for (int i = 0; i < t->ndim; i++) negative |= t->strides[i] < 0 && t->shape[i] > 1;
    if (negative) {
        if (copy == 0) {
            PyErr_SetString(PyExc_BufferError,
                            "__dlpack__(copy=False): a view with negative strides is exported only as a copy");
            return NULL;
        }
        copy = 1;
    }
    em_tensor *out;
    if (copy == 1) {
        em_status st = EMPY_CALL(em_tensor_numel(t), em_tensor_clone(t, &out));
        if (st) return empy_raise(st);
    } else {
        out = em_tensor_retain(t);
    }
    return make_capsule(out, versioned, copy == 1);
}

PyObject *empy_tensor_dlpack_device(PyObject *self, PyObject *unused) { return Py_BuildValue("(ii)", kDLCPU, 0); }

/* ---- import ------------------------------------------------------------------ */

/* Release callbacks of imported storage: run the producer's deleter with the
 * GIL (Python producers drop Python references there). */
static void release_legacy(void *owner) {
    DLManagedTensor *m = owner;
    PyGILState_STATE g = PyGILState_Ensure();
    if (m->deleter) m->deleter(m);
    PyGILState_Release(g);
}
static void release_versioned(void *owner) {
    DLManagedTensorVersioned *m = owner;
    PyGILState_STATE g = PyGILState_Ensure();
    if (m->deleter) m->deleter(m);
    PyGILState_Release(g);
}

static int dtype_from_dl(DLDataType d) {
    for (int i = 0; i < EM_DTYPE_COUNT; i++)
        if (dl_types[i].code == d.code && dl_types[i].bits == d.bits) return i;
    return -1;
}

static const char *dl_code_name(uint8_t code) {
    static const char *const names[] = {"int", "uint", "float", "opaque", "bfloat", "complex", "bool"};
    return code < sizeof names / sizeof *names ? names[code] : "unknown";
}

/* Checks the DLTensor and returns its ember dtype, or -1 with an error set
 * (the capsule is then left unconsumed: its producer frees it). */
static int check_dltensor(const DLTensor *dl, bool read_only, int copy) {
    if (dl->device.device_type != kDLCPU && dl->device.device_type != kDLCUDAHost &&
        dl->device.device_type != kDLROCMHost) {
        PyErr_Format(PyExc_BufferError,
                     "from_dlpack: the tensor is on DLPack device (%d, %d); ember reads CPU memory only",
                     (int)dl->device.device_type, (int)dl->device.device_id);
        return -1;
    }
    if (dl->dtype.lanes != 1) {
        PyErr_Format(PyExc_TypeError, "from_dlpack: vector dtypes (%s%d x %d lanes) are not supported",
                     dl_code_name(dl->dtype.code), (int)dl->dtype.bits, (int)dl->dtype.lanes);
        return -1;
    }
    int dt = dtype_from_dl(dl->dtype);
    if (dt < 0) {
        PyErr_Format(PyExc_TypeError,
                     "from_dlpack: ember has no dtype for DLPack %s%d (supported: bool, uint8, int8, int32, int64, "
                     "float32, float64)",
                     dl_code_name(dl->dtype.code), (int)dl->dtype.bits);
        return -1;
    }
    if (dl->ndim < 0 || dl->ndim > EM_MAX_DIMS) {
        PyErr_Format(PyExc_ValueError, "from_dlpack: tensor has %d dimensions; ember supports at most %d",
                     (int)dl->ndim, EM_MAX_DIMS);
        return -1;
    }
    if (((uintptr_t)dl->data + dl->byte_offset) % em_dtype_size(dt)) {
        PyErr_Format(PyExc_ValueError, "from_dlpack: %s data is misaligned", em_dtype_name(dt));
        return -1;
    }
    if (read_only && copy != 1) {
        PyErr_SetString(PyExc_BufferError,
                        "from_dlpack: the producer exports read-only memory; pass copy=True to get a writable copy");
        return -1;
    }
    return dt;
}

/* Consumes a "dltensor" or "dltensor_versioned" capsule into a tensor. */
static em_tensor *consume_capsule(PyObject *cap, int copy) {
    bool versioned = PyCapsule_IsValid(cap, CAP_VERSIONED);
    if (!versioned && !PyCapsule_IsValid(cap, CAP_LEGACY)) {
        PyErr_SetString(PyExc_TypeError,
                        "from_dlpack: expected a DLPack capsule (\"dltensor\" or \"dltensor_versioned\"), which was "
                        "not already consumed");
        return NULL;
    }
    void *m = PyCapsule_GetPointer(cap, versioned ? CAP_VERSIONED : CAP_LEGACY);
    DLTensor *dl;
    bool read_only = false;
    if (versioned) {
        DLManagedTensorVersioned *mv = m;
        if (mv->version.major > 1) {
            PyErr_Format(PyExc_BufferError, "from_dlpack: DLPack version %u.%u is newer than ember understands (1.x)",
                         mv->version.major, mv->version.minor);
            return NULL;
        }
        dl = &mv->dl_tensor;
        read_only = mv->flags & DLPACK_FLAG_BITMASK_READ_ONLY;
    } else {
        dl = &((DLManagedTensor *)m)->dl_tensor;
    }
    int dt = check_dltensor(dl, read_only, copy);
    if (dt < 0) return NULL;
    if (PyCapsule_SetName(cap, versioned ? "used_dltensor_versioned" : "used_dltensor") < 0) return NULL;
    void (*release)(void *) = versioned ? release_versioned : release_legacy;
    em_tensor *t;
    em_status st = em_tensor_from_data(dt, dl->ndim, dl->shape, dl->strides, (char *)dl->data + dl->byte_offset,
                                       release, m, &t);
    if (st) {
        release(m); /* consumed: the deleter is ours to call */
        empy_raise(st);
        return NULL;
    }
    if (copy == 1) {
        em_tensor *c;
        st = EMPY_CALL(em_tensor_numel(t), em_tensor_clone(t, &c));
        em_tensor_free(t);
        if (st) {
            empy_raise(st);
            return NULL;
        }
        t = c;
    }
    return t;
}

/* The capsule of x: x itself, or x.__dlpack__(max_version=(1, 0)) (plain
 * x.__dlpack__() for producers that predate the keyword). */
static PyObject *get_capsule(PyObject *x) {
    if (PyCapsule_CheckExact(x)) return Py_NewRef(x);
    PyObject *dev = PyObject_CallMethod(x, "__dlpack_device__", NULL);
    if (dev) {
        long type, id;
        int r = parse_device(dev, "from_dlpack", &type, &id);
        Py_DECREF(dev);
        if (r < 0) return NULL;
        if (type != kDLCPU && type != kDLCUDAHost && type != kDLROCMHost) {
            PyErr_Format(PyExc_BufferError,
                         "from_dlpack: the %.100s is on DLPack device (%ld, %ld); ember reads CPU memory only",
                         Py_TYPE(x)->tp_name, type, id);
            return NULL;
        }
    } else if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
    } else {
        return NULL;
    }
    PyObject *meth = PyObject_GetAttrString(x, "__dlpack__");
    if (!meth) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return NULL;
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "from_dlpack: a %.100s has no __dlpack__ method and is not a DLPack capsule",
                     Py_TYPE(x)->tp_name);
        return NULL;
    }
    PyObject *kwargs = Py_BuildValue("{s:(ii)}", "max_version", 1, 0), *cap = NULL;
    if (kwargs) {
        PyObject *empty = PyTuple_New(0);
        cap = empty ? PyObject_Call(meth, empty, kwargs) : NULL;
        Py_XDECREF(empty);
        Py_DECREF(kwargs);
        if (!cap && PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            cap = PyObject_CallNoArgs(meth);
        }
    }
    Py_DECREF(meth);
    return cap;
}

static PyObject *py_from_dlpack(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"x", "device", "copy", NULL};
    PyObject *a[3];
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "from_dlpack() takes 1 positional argument");
        return NULL;
    }
    if (empy_parse_args("from_dlpack", args, nargs, kwnames, names, 1, 1, a) < 0) return NULL;
    if (a[1] && a[1] != Py_None && !(PyUnicode_Check(a[1]) && PyUnicode_CompareWithASCIIString(a[1], "cpu") == 0)) {
        PyErr_Format(PyExc_ValueError, "from_dlpack(): device must be 'cpu' or None, got %R", a[1]);
        return NULL;
    }
    int copy = -1;
    if (a[2] && a[2] != Py_None && (copy = PyObject_IsTrue(a[2])) < 0) return NULL;
    PyObject *cap = get_capsule(a[0]);
    if (!cap) return NULL;
    em_tensor *t = consume_capsule(cap, copy);
    Py_DECREF(cap);
    return empy_wrap(t);
}

PyMethodDef empy_dlpack_methods[] = {
    {"from_dlpack", (PyCFunction)(void (*)(void))py_from_dlpack, METH_FASTCALL | METH_KEYWORDS,
     "from_dlpack(x, /, *, device=None, copy=None)\n--\n\n"
     "A Tensor sharing the memory of x, any object with __dlpack__ (NumPy arrays, torch tensors, ...)\n"
     "or a DLPack capsule.  copy=True always copies; read-only producers (e.g. read-only NumPy\n"
     "arrays) need copy=True.  Only CPU memory and ember's dtypes (bool, uint8, int8, int32, int64,\n"
     "float32, float64) are accepted; the tensor keeps the producer's memory alive."},
    {NULL, NULL, 0, NULL},
};
