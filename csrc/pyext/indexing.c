/* Tensor __getitem__ / __setitem__: NumPy indexing rules.
 * Basic indices (int, slice, None, Ellipsis) give views. */
#include "pyember.h"

/* Applies a tuple of basic indices to t; returns a new view or NULL with
 * an IndexError set. */
static em_tensor *basic_index(em_tensor *t, PyObject *const *items, Py_ssize_t n) {
    int consumed = 0, ellipsis = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (items[i] == Py_Ellipsis) {
            if (ellipsis >= 0) {
                PyErr_SetString(PyExc_IndexError, "an index can only have a single ellipsis ('...')");
                return NULL;
            }
            ellipsis = (int)i;
        } else if (items[i] != Py_None) {
            consumed++;
        }
    }
    if (consumed > t->ndim) {
        char b[EM_DESC_LEN];
        PyErr_Format(PyExc_IndexError, "too many indices for tensor %s: %d were indexed", em__desc(t, b), consumed);
        return NULL;
    }
    em_tensor *cur = em_tensor_retain(t), *next;
    int axis = 0; /* axis of cur that the next index applies to */
    em_status st = EM_OK;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = items[i];
        if (k == Py_Ellipsis) {
            axis += t->ndim - consumed;
            continue;
        }
        if (k == Py_None) {
            st = em_tensor_unsqueeze(cur, axis, &next);
            axis++;
        } else if (PySlice_Check(k)) {
            Py_ssize_t start, stop, step;
            if (PySlice_Unpack(k, &start, &stop, &step) < 0) goto fail;
            PySlice_AdjustIndices((Py_ssize_t)cur->shape[axis], &start, &stop, step);
            st = em_tensor_slice(cur, axis, start, stop, step, &next);
            axis++;
        } else {
            Py_ssize_t v = PyNumber_AsSsize_t(k, PyExc_IndexError);
            if (v == -1 && PyErr_Occurred()) goto fail;
            st = em_tensor_select(cur, axis, v, &next);
        }
        if (st) {
            empy_raise(st);
            goto fail;
        }
        em_tensor_free(cur);
        cur = next;
    }
    return cur;
fail:
    em_tensor_free(cur);
    return NULL;
}

static bool is_basic(PyObject *k) {
    return k == Py_None || k == Py_Ellipsis || PySlice_Check(k) ||
           (PyLong_Check(k) && !PyBool_Check(k)) ||
           (PyIndex_Check(k) && !PyBool_Check(k) && !EmTensor_Check(k) && !PySequence_Check(k));
}

/* Splits key into an array of items; returns the count or -1. */
static Py_ssize_t key_items(PyObject *key, PyObject *const **items) {
    if (PyTuple_Check(key)) {
        *items = &PyTuple_GET_ITEM(key, 0);
        return PyTuple_GET_SIZE(key);
    }
    return -2; /* single key: caller passes &key */
}

static em_tensor *index_view(PyObject *self, PyObject *key) {
    PyObject *const *items;
    Py_ssize_t n = key_items(key, &items);
    if (n == -2) {
        items = &key;
        n = 1;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (!is_basic(items[i])) {
            PyErr_Format(PyExc_IndexError,
                         "index %zd of type %.50s: only integers, slices, None, '...', and integer or boolean "
                         "arrays are valid indices",
                         i, Py_TYPE(items[i])->tp_name);
            return NULL;
        }
    return basic_index(EmTensor_T(self), items, n);
}

PyObject *empy_getitem(PyObject *self, PyObject *key) { return empy_wrap(index_view(self, key)); }

int empy_setitem(PyObject *self, PyObject *key, PyObject *value) {
    if (!value) {
        PyErr_SetString(PyExc_TypeError, "tensor elements cannot be deleted");
        return -1;
    }
    em_tensor *dst = index_view(self, key);
    if (!dst) return -1;
    em_tensor *src = empy_as_tensor(value, -1, "assigned value");
    if (!src) {
        em_tensor_free(dst);
        return -1;
    }
    em_status st = EMPY_CALL(em_tensor_numel(dst), em_tensor_copy_into(dst, src));
    em_tensor_free(dst);
    em_tensor_free(src);
    return st ? empy_raise_int(st) : 0;
}
