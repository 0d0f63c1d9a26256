/* Python bindings of the shape, view, index and sort functions.  Array-API
 * names and signatures where the standard has them (reshape, permute_dims,
 * concat, take, sort, ...); PyTorch's where it does not (pad, split, chunk,
 * index_select, scatter, one_hot).  Functions that return a view in libember
 * (reshape of a compatible layout, permute_dims, broadcast_to, expand_dims,
 * squeeze, flip, moveaxis, unstack, split, chunk) share x's memory. */
#include "pyember.h"

#include <limits.h>
#include <math.h>

#define DEF(name) static PyObject *py_##name(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
/* Declares a[] and parses the arguments named in __VA_ARGS__ into it. */
#define PARSE(fname, npos_only, nrequired, ...)                                                           \
    static const char *const names_[] = {__VA_ARGS__, NULL};                                            \
    PyObject *a[sizeof names_ / sizeof *names_ - 1];                                                    \
    if (empy_parse_args(fname, args, nargs, kwnames, names_, npos_only, nrequired, a) < 0) return NULL

/* Frees the inputs (NULL allowed), then raises for st or wraps *out (out
 * NULL: a Python error is already set).  `out` is a pointer so that
 * finish(op(..., &t), &t, ...) reads t only after op has run. */
static PyObject *finish(em_status st, em_tensor **out, em_tensor *in0, em_tensor *in1) {
    em_tensor_free(in0);
    em_tensor_free(in1);
    return st ? empy_raise(st) : out ? empy_wrap(*out) : NULL;
}

/* An int argument (axis, dim): out-of-range Python ints are clamped to values
 * em__axis still rejects, so the error names the op. */
static int int_arg(PyObject *o, int dflt, int *out, const char *fname, const char *what) {
    long long v;
    if (empy_opt_long(o, dflt, &v, fname, what) < 0) return -1;
    *out = v < -(1 << 20) ? -(1 << 20) : v > (1 << 20) ? (1 << 20) : (int)v;
    return 0;
}

/* Tuple of the n tensors (references stolen; all freed on failure). */
static PyObject *tuple_of(em_tensor **ts, Py_ssize_t n) {
    PyObject *tup = PyTuple_New(n);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *w = tup ? empy_wrap(ts[i]) : (em_tensor_free(ts[i]), NULL);
        if (w) PyTuple_SET_ITEM(tup, i, w);
        else Py_CLEAR(tup);
    }
    return tup;
}

/* n objects converted to tensors: a PyMem array of new references, or NULL. */
static em_tensor **tensors_of(PyObject *const *items, Py_ssize_t n, const char *fname) {
    em_tensor **ts = PyMem_Calloc(n ? (size_t)n : 1, sizeof *ts);
    if (!ts) return (em_tensor **)PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++)
        if (!(ts[i] = empy_as_tensor(items[i], -1, fname))) {
            while (i--) em_tensor_free(ts[i]);
            PyMem_Free(ts);
            return NULL;
        }
    return ts;
}

static void tensors_free(em_tensor **ts, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) em_tensor_free(ts[i]);
    PyMem_Free(ts);
}

/* A list of ints (repeats, reps, sizes) from an int or a sequence; *n entries
 * in a PyMem array (freed by the caller), or NULL. */
static int64_t *int_list(PyObject *o, Py_ssize_t *n, const char *fname, const char *what) {
    PyObject *seq = PyIndex_Check(o) && !EmTensor_Check(o) ? PyTuple_Pack(1, o) : PySequence_Fast(o, "");
    if (!seq) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s: %s must be an int or a sequence of ints, got %.50s", fname, what,
                         Py_TYPE(o)->tp_name);
        }
        return NULL;
    }
    *n = PySequence_Fast_GET_SIZE(seq);
    int64_t *v = PyMem_Malloc((*n ? (size_t)*n : 1) * sizeof *v);
    if (!v) PyErr_NoMemory();
    for (Py_ssize_t i = 0; v && i < *n; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
        v[i] = PyIndex_Check(it) ? PyLong_AsLongLong(it) : -1;
        if (!PyIndex_Check(it) || (v[i] == -1 && PyErr_Occurred())) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "%s: %s must be integers, got %.50s", fname, what, Py_TYPE(it)->tp_name);
            PyMem_Free(v);
            v = NULL;
        }
    }
    Py_DECREF(seq);
    return v;
}

static int64_t numel(const em_tensor *t) { return em_tensor_numel(t); }

/* ---- views -------------------------------------------------------------- */

DEF(reshape) {
    PARSE("reshape", 1, 2, "x", "shape", "copy");
    int64_t shape[EM_MAX_DIMS];
    int nd, copy = a[2] && a[2] != Py_None ? PyObject_IsTrue(a[2]) : -1;
    if ((copy < 0 && PyErr_Occurred()) || empy_parse_shape(a[1], shape, &nd, "reshape") < 0) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "reshape"), *c = NULL, *out = NULL;
    if (!x) return NULL;
    em_status st;
    if (copy == 1) {
        if (!(st = EMPY_CALL(numel(x), em_tensor_clone(x, &c)))) st = em_tensor_view(c, nd, shape, &out);
    } else {
        st = copy == 0 ? em_tensor_view(x, nd, shape, &out)
                       : EMPY_CALL(numel(x), em_tensor_reshape(x, nd, shape, &out));
    }
    return finish(st, &out, x, c);
}

DEF(permute_dims) {
    PARSE("permute_dims", 1, 2, "x", "axes");
    int axes[EM_MAX_DIMS], n;
    if (empy_parse_axes(a[1], axes, &n) < 0) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "permute_dims"), *out = NULL;
    if (!x) return NULL;
    if (n != x->ndim) {
        char b[EM_DESC_LEN];
        PyErr_Format(PyExc_ValueError, "permute_dims: axes must list each of the %d axes of %s once, got %d axes",
                     x->ndim, em__desc(x, b), n < 0 ? 0 : n);
        em_tensor_free(x);
        return NULL;
    }
    return finish(em_tensor_permute(x, axes, &out), &out, x, NULL);
}

DEF(broadcast_to) {
    PARSE("broadcast_to", 1, 2, "x", "shape");
    int64_t shape[EM_MAX_DIMS];
    int nd;
    if (empy_parse_shape(a[1], shape, &nd, "broadcast_to") < 0) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "broadcast_to"), *out = NULL;
    if (!x) return NULL;
    return finish(em_tensor_expand(x, nd, shape, &out), &out, x, NULL);
}

/* broadcast_arrays(*arrays): views of every array broadcast to one shape. */
static PyObject *py_broadcast_arrays(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    if (kwnames && PyTuple_GET_SIZE(kwnames)) {
        PyErr_SetString(PyExc_TypeError, "broadcast_arrays() takes no keyword arguments");
        return NULL;
    }
    em_tensor **ts = tensors_of(args, nargs, "broadcast_arrays");
    if (!ts) return NULL;
    int nd = 0;
    int64_t shape[EM_MAX_DIMS];
    em_status st = EM_OK;
    for (Py_ssize_t i = 0; i < nargs && !st; i++) {
        int64_t prev[EM_MAX_DIMS];
        memcpy(prev, shape, sizeof prev);
        st = em_broadcast_shapes(nd, prev, ts[i]->ndim, ts[i]->shape, &nd, shape);
    }
    for (Py_ssize_t i = 0; i < nargs && !st; i++) {
        em_tensor *v;
        if (!(st = em_tensor_expand(ts[i], nd, shape, &v))) {
            em_tensor_free(ts[i]);
            ts[i] = v;
        }
    }
    if (st) {
        tensors_free(ts, nargs);
        return empy_raise(st);
    }
    PyObject *r = tuple_of(ts, nargs);
    PyMem_Free(ts);
    return r;
}

DEF(expand_dims) {
    PARSE("expand_dims", 1, 1, "x", "axis");
    int axis;
    if (int_arg(a[1], 0, &axis, "expand_dims", "axis") < 0) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "expand_dims"), *out = NULL;
    if (!x) return NULL;
    return finish(em_tensor_unsqueeze(x, axis, &out), &out, x, NULL);
}

DEF(squeeze) {
    PARSE("squeeze", 1, 2, "x", "axis");
    int axes[EM_MAX_DIMS], n;
    if (empy_parse_axes(a[1], axes, &n) < 0) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "squeeze"), *out = NULL;
    if (!x) return NULL;
    return finish(em_tensor_squeeze(x, n < 0 ? NULL : axes, n, &out), &out, x, NULL);
}

DEF(flip) {
    PARSE("flip", 1, 1, "x", "axis");
    int axes[EM_MAX_DIMS], n;
    if (empy_parse_axes(a[1], axes, &n) < 0) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "flip"), *out = NULL;
    if (!x) return NULL;
    return finish(em_tensor_flip(x, n < 0 ? NULL : axes, n, &out), &out, x, NULL);
}

DEF(moveaxis) {
    PARSE("moveaxis", 3, 3, "x", "source", "destination");
    int src[EM_MAX_DIMS], dst[EM_MAX_DIMS], ns, nd;
    if (empy_parse_axes(a[1], src, &ns) < 0 || empy_parse_axes(a[2], dst, &nd) < 0) return NULL;
    if (ns != nd || ns < 0) {
        PyErr_Format(PyExc_ValueError, "moveaxis: source and destination must be ints or sequences of the same "
                                       "length, got %R and %R", a[1], a[2]);
        return NULL;
    }
    em_tensor *x = empy_as_tensor(a[0], -1, "moveaxis"), *out = NULL;
    if (!x) return NULL;
    uint32_t ms, md;
    em_status st = em__axes_mask("moveaxis", src, ns, x->ndim, &ms);
    if (!st) st = em__axes_mask("moveaxis", dst, nd, x->ndim, &md);
    if (!st) {
        /* destination slots take the sources in order; the rest keep theirs */
        int perm[EM_MAX_DIMS], rest = 0;
        for (int i = 0; i < ns; i++) {
            int s, d;
            em__axis("moveaxis", src[i], x->ndim, &s);
            em__axis("moveaxis", dst[i], x->ndim, &d);
            perm[d] = s;
        }
        for (int d = 0; d < x->ndim; d++) {
            if (md >> d & 1) continue;
            while (ms >> rest & 1) rest++;
            perm[d] = rest++;
        }
        st = em_tensor_permute(x, perm, &out);
    }
    return finish(st, &out, x, NULL);
}

DEF(unstack) {
    PARSE("unstack", 1, 1, "x", "axis");
    int axis, ax;
    if (int_arg(a[1], 0, &axis, "unstack", "axis") < 0) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "unstack");
    if (!x) return NULL;
    em_status st = em__axis("unstack", axis, x->ndim, &ax);
    Py_ssize_t n = st ? 0 : (Py_ssize_t)x->shape[ax];
    em_tensor **ts = st ? NULL : PyMem_Calloc(n ? (size_t)n : 1, sizeof *ts);
    if (!st && !ts) {
        em_tensor_free(x);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n && !st; i++) st = em_tensor_select(x, ax, i, &ts[i]);
    em_tensor_free(x);
    if (st) {
        if (ts) tensors_free(ts, n);
        return empy_raise(st);
    }
    PyObject *r = tuple_of(ts, n);
    PyMem_Free(ts);
    return r;
}

/* Views of x along dim with the given part sizes (a tuple). */
static PyObject *split_parts(em_tensor *x, int dim, const int64_t *sizes, Py_ssize_t n) {
    em_tensor **ts = PyMem_Calloc(n ? (size_t)n : 1, sizeof *ts);
    if (!ts) return PyErr_NoMemory();
    em_status st = n > INT_MAX ? em__error(EM_ERR_INVALID_ARG, "split: too many parts")
                               : em_split(x, dim, sizes, (int)n, ts);
    if (st) {
        PyMem_Free(ts);
        return empy_raise(st);
    }
    PyObject *r = tuple_of(ts, n);
    PyMem_Free(ts);
    return r;
}

/* split(x, split_size_or_sections, dim=0) and chunk(x, chunks, dim=0) (PyTorch). */
static PyObject *split_common(bool chunk, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const split_names[] = {"x", "split_size_or_sections", "dim", NULL};
    static const char *const chunk_names[] = {"x", "chunks", "dim", NULL};
    const char *fname = chunk ? "chunk" : "split";
    PyObject *a[3], *r = NULL;
    int dim, ax;
    if (empy_parse_args(fname, args, nargs, kwnames, chunk ? chunk_names : split_names, 1, 2, a) < 0 ||
        int_arg(a[2], 0, &dim, fname, "dim") < 0)
        return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, fname);
    if (!x) return NULL;
    em_status st = em__axis(fname, dim, x->ndim, &ax);
    if (st) {
        em_tensor_free(x);
        return empy_raise(st);
    }
    int64_t len = x->shape[ax], *sizes = NULL;
    Py_ssize_t n = 0;
    if (!chunk && !PyIndex_Check(a[1])) { /* explicit sections */
        if ((sizes = int_list(a[1], &n, fname, "section sizes"))) r = split_parts(x, ax, sizes, n);
    } else {
        long long k;
        if (empy_opt_long(a[1], 0, &k, fname, chunk ? "chunks" : "split_size") < 0) goto done;
        if (k <= 0 && !(k == 0 && !chunk && len == 0)) {
            PyErr_Format(PyExc_ValueError, "%s: %s must be positive, got %lld", fname,
                         chunk ? "chunks" : "split_size", k);
            goto done;
        }
        /* chunk: parts of ceil(len / chunks) (fewer parts if that covers len;
         * `chunks` empty parts for an empty axis, like torch) */
        int64_t size = !chunk ? k : len ? (len - 1) / k + 1 : 0;
        n = !size ? (chunk ? (Py_ssize_t)k : 1) : len ? (Py_ssize_t)((len - 1) / size + 1) : 1;
        if (n == 0) n = 1;
        if (!(sizes = PyMem_Malloc((size_t)n * sizeof *sizes))) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++) sizes[i] = size && i == n - 1 ? len - size * (n - 1) : size;
        r = split_parts(x, ax, sizes, n);
    }
done:
    PyMem_Free(sizes);
    em_tensor_free(x);
    return r;
}
DEF(split) { return split_common(false, args, nargs, kwnames); }
DEF(chunk) { return split_common(true, args, nargs, kwnames); }

/* flatten(x, /, start_dim=0, end_dim=-1) (PyTorch): a view when the layout allows. */
DEF(flatten) {
    PARSE("flatten", 1, 1, "x", "start_dim", "end_dim");
    int s, e;
    if (int_arg(a[1], 0, &s, "flatten", "start_dim") < 0 || int_arg(a[2], -1, &e, "flatten", "end_dim") < 0)
        return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "flatten"), *out = NULL;
    if (!x) return NULL;
    return finish(EMPY_CALL(numel(x), em_tensor_flatten(x, s, e, &out)), &out, x, NULL);
}

/* ---- copies: concat, stack, tile, repeat, roll, pad ------------------------ */

/* concat(arrays, /, *, axis=0) and stack(arrays, /, *, axis=0). */
static PyObject *join(bool stack, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"arrays", "axis", NULL};
    const char *fname = stack ? "stack" : "concat";
    PyObject *a[2];
    int axis = 0;
    if (empy_parse_args(fname, args, nargs, kwnames, names, 1, 1, a) < 0) return NULL;
    bool flat = !stack && a[1] == Py_None;
    if (!flat && int_arg(a[1], 0, &axis, fname, "axis") < 0) return NULL;
    PyObject *seq = PySequence_Fast(a[0], "");
    if (!seq) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s: arrays must be a sequence of tensors, got %.50s", fname,
                         Py_TYPE(a[0])->tp_name);
        }
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    em_tensor **ts = n > INT_MAX ? NULL : tensors_of(PySequence_Fast_ITEMS(seq), n, fname), *out = NULL;
    Py_DECREF(seq);
    if (!ts) return n > INT_MAX ? PyErr_Format(PyExc_ValueError, "%s: too many tensors", fname) : NULL;
    em_status st = EM_OK;
    int64_t total = 0;
    for (Py_ssize_t i = 0; i < n && !st; i++) {
        total += numel(ts[i]);
        if (flat) { /* axis=None: the flattened arrays */
            em_tensor *f;
            int64_t len = numel(ts[i]);
            if (!(st = em_tensor_reshape(ts[i], 1, &len, &f))) {
                em_tensor_free(ts[i]);
                ts[i] = f;
            }
        }
    }
    if (!st)
        st = EMPY_CALL(total, stack ? em_stack((const em_tensor *const *)ts, (int)n, axis, &out)
                                    : em_concat((const em_tensor *const *)ts, (int)n, flat ? 0 : axis, &out));
    tensors_free(ts, n);
    return finish(st, &out, NULL, NULL);
}
DEF(concat) { return join(false, args, nargs, kwnames); }
DEF(stack) { return join(true, args, nargs, kwnames); }

DEF(tile) {
    PARSE("tile", 2, 2, "x", "repetitions");
    Py_ssize_t n;
    int64_t *reps = int_list(a[1], &n, "tile", "repetitions");
    if (!reps) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "tile"), *out = NULL;
    em_status st = EM_OK;
    if (x) {
        st = n > EM_MAX_DIMS ? em__error(EM_ERR_SHAPE, "tile: %zd repetitions; ember supports at most %d dimensions", n,
                                         EM_MAX_DIMS)
                             : EMPY_CALL(numel(x), em_tile(x, reps, (int)n, &out));
    }
    PyMem_Free(reps);
    return x ? finish(st, &out, x, NULL) : NULL;
}

DEF(repeat) {
    PARSE("repeat", 2, 2, "x", "repeats", "axis");
    int axis = EM_AXIS_NONE;
    if (a[2] && a[2] != Py_None && int_arg(a[2], 0, &axis, "repeat", "axis") < 0) return NULL;
    Py_ssize_t n;
    int64_t *reps = NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "repeat"), *out = NULL, *r = NULL;
    if (!x) return NULL;
    if (EmTensor_Check(a[1])) { /* a 1-D integer tensor of counts */
        r = empy_as_tensor(a[1], EM_I64, "repeat");
        if (r && r->ndim > 1) {
            char b[EM_DESC_LEN];
            PyErr_Format(PyExc_ValueError, "repeat: repeats must be an int or 1-D, got %s", em__desc(r, b));
            em_tensor_free(r);
            r = NULL;
        } else if (r && !em_tensor_is_contiguous(r)) {
            em_tensor *c = NULL;
            em_status cs = em_tensor_contiguous(r, &c);
            em_tensor_free(r);
            r = cs ? (empy_raise(cs), NULL) : c;
        }
        if (r) n = (Py_ssize_t)numel(r);
    } else {
        reps = int_list(a[1], &n, "repeat", "repeats");
    }
    if (!r && !reps) {
        em_tensor_free(x);
        return NULL;
    }
    em_status st = EMPY_CALL(numel(x), em_repeat(x, r ? (const int64_t *)em_tensor_data(r) : reps, n, axis, &out));
    PyMem_Free(reps);
    return finish(st, &out, x, r);
}

DEF(roll) {
    PARSE("roll", 1, 2, "x", "shift", "axis");
    int axes[EM_MAX_DIMS], na;
    Py_ssize_t ns;
    if (empy_parse_axes(a[2], axes, &na) < 0) return NULL;
    int64_t *shifts = int_list(a[1], &ns, "roll", "shift"), sh[EM_MAX_DIMS];
    if (!shifts) return NULL;
    /* one shift for several axes applies to each; otherwise one per axis */
    bool ok = na < 0 ? ns == 1 : (ns == na || ns == 1);
    if (ok)
        for (int i = 0; i < (na < 0 ? 1 : na); i++) sh[i] = shifts[ns == 1 ? 0 : i];
    PyMem_Free(shifts);
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "roll: shift %R and axis %R must have the same length (or shift one int)", a[1],
                     a[2] ? a[2] : Py_None);
        return NULL;
    }
    em_tensor *x = empy_as_tensor(a[0], -1, "roll"), *out = NULL;
    if (!x) return NULL;
    return finish(EMPY_CALL(numel(x), em_roll(x, sh, na < 0 ? NULL : axes, na < 0 ? 0 : na, &out)), &out, x, NULL);
}

/* pad(x, pad, mode='constant', value=0) with PyTorch's pad order. */
DEF(pad) {
    PARSE("pad", 1, 2, "x", "pad", "mode", "value");
    static const char *const modes[] = {"constant", "reflect", "replicate", "circular"};
    int mode = 0;
    if (a[2] && a[2] != Py_None) {
        while (mode < 4 && !(PyUnicode_Check(a[2]) && PyUnicode_CompareWithASCIIString(a[2], modes[mode]) == 0)) mode++;
        if (mode == 4) {
            PyErr_Format(PyExc_ValueError, "pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got %R",
                         a[2]);
            return NULL;
        }
    }
    double value;
    if (empy_opt_double(a[3], 0, &value, "pad", "value") < 0) return NULL;
    Py_ssize_t n;
    int64_t *p = int_list(a[1], &n, "pad", "pad"), pads[2 * EM_MAX_DIMS] = {0};
    if (!p) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "pad"), *out = NULL;
    if (!x) {
        PyMem_Free(p);
        return NULL;
    }
    if (n % 2 || n > 2 * x->ndim) {
        char b[EM_DESC_LEN];
        PyErr_Format(PyExc_ValueError, "pad: pad must have an even length of at most 2 * ndim = %d for %s, got %zd",
                     2 * x->ndim, em__desc(x, b), n);
        PyMem_Free(p);
        em_tensor_free(x);
        return NULL;
    }
    /* pairs (before, after) from the last axis backwards */
    for (Py_ssize_t j = 0; j < n / 2; j++) {
        pads[2 * (x->ndim - 1 - j)] = p[2 * j];
        pads[2 * (x->ndim - 1 - j) + 1] = p[2 * j + 1];
    }
    PyMem_Free(p);
    return finish(EMPY_CALL(numel(x), em_pad(x, pads, (em_pad_mode)mode, value, &out)), &out, x, NULL);
}

/* ---- indexing ------------------------------------------------------------- */

DEF(take) {
    PARSE("take", 2, 2, "x", "indices", "axis");
    int axis = 0, ax;
    bool flat = !a[2] || a[2] == Py_None;
    if (!flat && int_arg(a[2], 0, &axis, "take", "axis") < 0) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "take"), *idx = NULL, *src = NULL, *flat_idx = NULL, *sel = NULL,
              *out = NULL;
    if (!x) return NULL;
    if (!(idx = empy_as_tensor(a[1], -1, "take"))) goto fail;
    int64_t n = numel(x), m = numel(idx);
    em_status st = flat ? em_tensor_reshape(x, 1, &n, &src) : (src = em_tensor_retain(x), EM_OK);
    if (!st) st = em__axis("take", axis, src->ndim, &ax);
    /* out.shape = x.shape[:axis] + indices.shape + x.shape[axis+1:] */
    int onds = src ? src->ndim - 1 + idx->ndim : 0;
    if (!st && onds > EM_MAX_DIMS)
        st = em__error(EM_ERR_SHAPE, "take: result would have %d dimensions; ember supports %d", onds, EM_MAX_DIMS);
    if (!st) st = em_tensor_reshape(idx, 1, &m, &flat_idx);
    if (!st) st = EMPY_CALL(m, em_index_select(src, ax, flat_idx, &sel));
    if (!st) {
        int64_t shape[EM_MAX_DIMS];
        int k = 0;
        for (int d = 0; d < ax; d++) shape[k++] = src->shape[d];
        for (int d = 0; d < idx->ndim; d++) shape[k++] = idx->shape[d];
        for (int d = ax + 1; d < src->ndim; d++) shape[k++] = src->shape[d];
        st = em_tensor_reshape(sel, k, shape, &out);
    }
    em_tensor_free(src);
    em_tensor_free(flat_idx);
    em_tensor_free(sel);
    return finish(st, &out, x, idx);
fail:
    em_tensor_free(x);
    return NULL;
}

DEF(take_along_axis) {
    PARSE("take_along_axis", 2, 2, "x", "indices", "axis");
    int axis;
    if (int_arg(a[2], -1, &axis, "take_along_axis", "axis") < 0) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "take_along_axis"), *idx, *out = NULL;
    if (!x) return NULL;
    if (!(idx = empy_as_tensor(a[1], -1, "take_along_axis"))) return finish(EM_OK, NULL, x, NULL);
    return finish(EMPY_CALL(numel(idx), em_gather(x, axis, idx, &out)), &out, x, idx);
}

DEF(index_select) {
    PARSE("index_select", 0, 3, "x", "dim", "index");
    int dim;
    if (int_arg(a[1], 0, &dim, "index_select", "dim") < 0) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "index_select"), *idx, *out = NULL;
    if (!x) return NULL;
    if (!(idx = empy_as_tensor(a[2], -1, "index_select"))) return finish(EM_OK, NULL, x, NULL);
    return finish(EMPY_CALL(numel(x), em_index_select(x, dim, idx, &out)), &out, x, idx);
}

/* nonzero(x, /): one 1-D int64 index tensor per axis. */
static PyObject *py_nonzero(PyObject *mod, PyObject *arg) {
    em_tensor *x = empy_as_tensor(arg, -1, "nonzero"), *nz;
    if (!x) return NULL;
    char b[EM_DESC_LEN];
    em_status st = x->ndim == 0 ? em__error(EM_ERR_SHAPE, "nonzero: x must have at least one dimension, got %s",
                                            em__desc(x, b))
                                : EMPY_CALL(numel(x), em_nonzero(x, &nz));
    int nd = x->ndim;
    em_tensor_free(x);
    if (st) return empy_raise(st);
    em_tensor *cols[EM_MAX_DIMS];
    int made = 0;
    while (made < nd && !(st = em_tensor_select(nz, 1, made, &cols[made]))) made++;
    em_tensor_free(nz);
    if (st) {
        while (made--) em_tensor_free(cols[made]);
        return empy_raise(st);
    }
    return tuple_of(cols, nd);
}

DEF(masked_select) {
    PARSE("masked_select", 0, 2, "x", "mask");
    em_tensor *x = empy_as_tensor(a[0], -1, "masked_select"), *m, *out = NULL;
    if (!x) return NULL;
    if (!(m = empy_as_tensor(a[1], -1, "masked_select"))) return finish(EM_OK, NULL, x, NULL);
    return finish(EMPY_CALL(numel(x), em_masked_select(x, m, &out)), &out, x, m);
}

/* masked_fill(x, mask, value) (a copy) and _masked_fill_ (in place, x a Tensor). */
static PyObject *masked_fill_common(bool inplace, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"x", "mask", "value", NULL};
    const char *fname = inplace ? "masked_fill_" : "masked_fill";
    PyObject *a[3];
    double v;
    if (empy_parse_args(fname, args, nargs, kwnames, names, 0, 3, a) < 0 ||
        empy_opt_double(a[2], 0, &v, fname, "value") < 0)
        return NULL;
    if (inplace && !EmTensor_Check(a[0])) {
        PyErr_Format(PyExc_TypeError, "%s: x must be an ember.Tensor, got %.50s", fname, Py_TYPE(a[0])->tp_name);
        return NULL;
    }
    em_tensor *x = empy_as_tensor(a[0], -1, fname), *m, *t = NULL;
    if (!x) return NULL;
    if (!(m = empy_as_tensor(a[1], -1, fname))) return finish(EM_OK, NULL, x, NULL);
    em_status st = inplace ? EM_OK : EMPY_CALL(numel(x), em_tensor_clone(x, &t));
    if (!st) st = EMPY_CALL(numel(x), em_masked_fill(inplace ? x : t, m, v));
    em_tensor_free(m);
    if (st || inplace) {
        em_tensor_free(t);
        em_tensor_free(x);
        return st ? empy_raise(st) : Py_NewRef(a[0]);
    }
    return finish(st, &t, x, NULL);
}
DEF(masked_fill) { return masked_fill_common(false, args, nargs, kwnames); }
DEF(_masked_fill_) { return masked_fill_common(true, args, nargs, kwnames); }

/* scatter(x, dim, index, src) / scatter_add: a copy of x; src (a tensor or
 * a scalar) is cast to x's dtype. */
static PyObject *scatter_common(em_scatter_reduce red, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"x", "dim", "index", "src", NULL};
    const char *fname = red == EM_SCATTER_ADD ? "scatter_add" : "scatter";
    PyObject *a[4];
    int dim;
    if (empy_parse_args(fname, args, nargs, kwnames, names, 0, 4, a) < 0 || int_arg(a[1], 0, &dim, fname, "dim") < 0)
        return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, fname), *idx = NULL, *src = NULL, *out = NULL;
    if (!x || !(idx = empy_as_tensor(a[2], -1, fname)) || !(src = empy_as_tensor(a[3], x->dtype, fname))) {
        em_tensor_free(idx);
        return finish(EM_OK, NULL, x, NULL);
    }
    em_status st = EM_OK;
    if (src->ndim == 0 && idx->ndim > 0) { /* a scalar fills every indexed place */
        em_tensor *e;
        if (!(st = em_tensor_expand(src, idx->ndim, idx->shape, &e))) {
            em_tensor_free(src);
            src = e;
        }
    }
    if (!st) st = EMPY_CALL(numel(x), em_scatter(x, dim, idx, src, red, &out));
    em_tensor_free(idx);
    return finish(st, &out, x, src);
}
DEF(scatter) { return scatter_common(EM_SCATTER_NONE, args, nargs, kwnames); }
DEF(scatter_add) { return scatter_common(EM_SCATTER_ADD, args, nargs, kwnames); }

DEF(one_hot) {
    PARSE("one_hot", 1, 1, "x", "num_classes");
    long long k;
    if (empy_opt_long(a[1], -1, &k, "one_hot", "num_classes") < 0) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "one_hot"), *out = NULL;
    if (!x) return NULL;
    return finish(EMPY_CALL(numel(x), em_one_hot(x, k, &out)), &out, x, NULL);
}

/* softmax(x, axis=-1) / log_softmax(x, axis=-1). */
static PyObject *softmax_common(bool log_, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"x", "axis", NULL};
    const char *fname = log_ ? "log_softmax" : "softmax";
    PyObject *a[2];
    int axis;
    if (empy_parse_args(fname, args, nargs, kwnames, names, 1, 1, a) < 0 || int_arg(a[1], -1, &axis, fname, "axis") < 0)
        return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, fname), *out = NULL;
    if (!x) return NULL;
    return finish(EMPY_CALL(numel(x), (log_ ? em_log_softmax : em_softmax)(x, axis, &out)), &out, x, NULL);
}
DEF(softmax) { return softmax_common(false, args, nargs, kwnames); }
DEF(log_softmax) { return softmax_common(true, args, nargs, kwnames); }

/* ---- sorting -------------------------------------------------------------- */

enum { WANT_VALUES = 1, WANT_INDICES = 2, WANT_BOTH = 3 };

/* sort / argsort / _sort (both) with (x, /, *, axis=-1, descending=False,
 * stable=True); topk (k given, k >= 0) with (x, k, axis=-1, largest=True, sorted=True). */
static PyObject *sort_common(const char *fname, int want, bool topk, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames) {
    static const char *const sort_names[] = {"x", "axis", "descending", "stable", NULL};
    static const char *const topk_names[] = {"x", "k", "axis", "largest", "sorted", NULL};
    PyObject *a[5];
    int axis;
    bool desc;
    long long k = 0;
    if (empy_parse_args(fname, args, nargs, kwnames, topk ? topk_names : sort_names, 1, topk ? 2 : 1, a) < 0 ||
        (topk && empy_opt_long(a[1], 0, &k, fname, "k") < 0) || int_arg(a[1 + topk], -1, &axis, fname, "axis") < 0 ||
        empy_opt_bool(a[2 + topk], topk, &desc) < 0)
        return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, fname), *v = NULL, *i = NULL;
    if (!x) return NULL;
    em_tensor **pv = want & WANT_VALUES ? &v : NULL, **pi = want & WANT_INDICES ? &i : NULL;
    int ax; /* checked here too, so the message names argsort (a 0-d x is one row) */
    em_status st = em__axis(fname, axis, x->ndim ? x->ndim : 1, &ax);
    if (!st) st = EMPY_CALL(numel(x), topk ? em_topk(x, k, axis, desc, pv, pi) : em_sort(x, axis, desc, pv, pi));
    em_tensor_free(x);
    if (st) return empy_raise(st);
    if (want != WANT_BOTH) return empy_wrap(v ? v : i);
    em_tensor *pair[2] = {v, i};
    return tuple_of(pair, 2);
}
DEF(sort) { return sort_common("sort", WANT_VALUES, false, args, nargs, kwnames); }
DEF(argsort) { return sort_common("argsort", WANT_INDICES, false, args, nargs, kwnames); }
DEF(_sort) { return sort_common("sort", WANT_BOTH, false, args, nargs, kwnames); }
DEF(_topk) { return sort_common("topk", WANT_BOTH, true, args, nargs, kwnames); }

DEF(searchsorted) {
    PARSE("searchsorted", 2, 2, "x1", "x2", "side", "sorter");
    bool right = false;
    if (a[2] && a[2] != Py_None) {
        right = PyUnicode_Check(a[2]) && PyUnicode_CompareWithASCIIString(a[2], "right") == 0;
        if (!right && !(PyUnicode_Check(a[2]) && PyUnicode_CompareWithASCIIString(a[2], "left") == 0)) {
            PyErr_Format(PyExc_ValueError, "searchsorted: side must be 'left' or 'right', got %R", a[2]);
            return NULL;
        }
    }
    em_tensor *x1 = empy_as_tensor(a[0], -1, "searchsorted"), *x2 = NULL, *srt = NULL, *out = NULL;
    if (!x1 || !(x2 = empy_as_tensor(a[1], -1, "searchsorted"))) return finish(EM_OK, NULL, x1, NULL);
    em_status st = EM_OK;
    if (a[3] && a[3] != Py_None) { /* x1 seen through the sorting permutation */
        em_tensor *p = empy_as_tensor(a[3], -1, "searchsorted");
        if (!p) goto pyfail;
        char b[EM_DESC_LEN];
        if (x1->ndim == 1 && !(st = em_index_select(x1, 0, p, &srt)) && numel(srt) != numel(x1))
            st = em__error(EM_ERR_SHAPE, "searchsorted: sorter %s must have x1's length %lld", em__desc(p, b),
                           (long long)numel(x1));
        em_tensor_free(p);
    }
    if (!st) st = EMPY_CALL(numel(x2), em_searchsorted(srt ? srt : x1, x2, right, &out));
    em_tensor_free(srt);
    return finish(st, &out, x1, x2);
pyfail:
    em_tensor_free(x2);
    return finish(EM_OK, NULL, x1, NULL);
}

#define FASTKW METH_FASTCALL | METH_KEYWORDS
#define M(name, doc) {#name, (PyCFunction)(void (*)(void))py_##name, FASTKW, doc},
PyMethodDef empy_shape_methods[] = {
    M(reshape, "reshape(x, /, shape, *, copy=None)\n--\n\n"
               "x with a new shape (one entry may be -1).  A view sharing x's memory when the\n"
               "strides allow; copy=True always copies, copy=False raises ValueError instead of copying.")
    M(permute_dims, "permute_dims(x, /, axes)\n--\n\nView with the axes reordered: out.shape[i] = x.shape[axes[i]].")
    M(broadcast_to, "broadcast_to(x, /, shape)\n--\n\nRead-only-in-spirit view of x broadcast to shape (NumPy rules).")
    M(broadcast_arrays,
      "broadcast_arrays(*arrays)\n--\n\nViews of the arrays broadcast to their common shape (a tuple).")
    M(expand_dims, "expand_dims(x, /, *, axis=0)\n--\n\nView with a size-1 axis inserted at position axis.")
    M(squeeze, "squeeze(x, /, axis)\n--\n\nView without the given size-1 axes (axis None: every size-1 axis).")
    M(flip, "flip(x, /, *, axis=None)\n--\n\nView with the order of elements reversed along axis (None: all axes).")
    M(moveaxis,
      "moveaxis(x, source, destination, /)\n--\n\nView with the source axes moved to the destination positions.")
    M(unstack, "unstack(x, /, *, axis=0)\n--\n\nTuple of views x[..., i, ...] along axis.")
    M(split, "split(x, split_size_or_sections, dim=0)\n--\n\n"
             "Views of x along dim (PyTorch): an int gives parts of that size (the last may\n"
             "be smaller); a sequence gives the part sizes, which must sum to x.shape[dim].")
    M(chunk, "chunk(x, chunks, dim=0)\n--\n\n"
             "Views of x along dim (PyTorch): parts of ceil(size / chunks) elements, so there may\n"
             "be fewer than chunks parts.")
    M(flatten, "flatten(x, /, start_dim=0, end_dim=-1)\n--\n\n"
               "x with axes start_dim..end_dim merged into one (a view when the strides allow).")
    M(concat, "concat(arrays, /, *, axis=0)\n--\n\n"
              "Arrays joined along an existing axis (dtypes promoted); axis=None joins the flattened arrays.")
    M(stack, "stack(arrays, /, *, axis=0)\n--\n\nSame-shape arrays joined along a new axis (dtypes promoted).")
    M(tile, "tile(x, repetitions, /)\n--\n\nx repeated repetitions[i] times along each axis (NumPy tile).")
    M(repeat, "repeat(x, repeats, /, *, axis=None)\n--\n\n"
              "Each element repeated: repeats is an int or one count per element along axis\n"
              "(axis None: the flattened x).")
    M(roll, "roll(x, /, shift, *, axis=None)\n--\n\n"
            "Elements shifted cyclically along axis (an int or tuple, with one shift each or\n"
            "one for all); axis None rolls the flattened x.")
    M(pad, "pad(x, pad, mode='constant', value=0)\n--\n\n"
           "x padded like torch.nn.functional.pad: pad is a flat tuple of (before, after)\n"
           "pairs for the LAST axes, last axis first: (left, right) pads axis -1,\n"
           "(left, right, top, bottom) pads axes -1 and -2.  mode: 'constant' (value),\n"
           "'reflect' (mirror without the edge), 'replicate' (edge value), 'circular' (wrap).")
    M(take, "take(x, indices, /, *, axis=None)\n--\n\n"
            "Elements of x at integer indices along axis (negatives count from the end);\n"
            "axis None indexes the flattened x.  out.shape = x.shape[:axis] + indices.shape + x.shape[axis+1:].")
    M(take_along_axis, "take_along_axis(x, indices, /, *, axis=-1)\n--\n\n"
                       "out[..., i, ...] = x[..., indices[..., i, ...], ...] along axis; indices has x's\n"
                       "ndim and broadcasts against x on the other axes.")
    M(index_select, "index_select(x, dim, index)\n--\n\nSlices of x at the 1-D integer index along dim (PyTorch).")
    {"nonzero", py_nonzero, METH_O,
     "nonzero(x, /)\n--\n\nIndices of the nonzero elements: a tuple of one 1-D int64 tensor per axis (C order)."},
    M(masked_select, "masked_select(x, mask)\n--\n\n1-D tensor of x's elements where mask (broadcast to x) is true.")
    M(masked_fill, "masked_fill(x, mask, value)\n--\n\nCopy of x with value where mask (broadcast to x) is true.")
    M(_masked_fill_, "_masked_fill_(x, mask, value)\n--\n\nIn place: x[mask] = value; returns x.")
    M(scatter, "scatter(x, dim, index, src)\n--\n\n"
               "Copy of x with out[index[i][j]][j] = src[i][j] along dim (PyTorch; src may be a scalar\n"
               "and is cast to x's dtype).  With repeated indices the last write in C order wins.")
    M(scatter_add, "scatter_add(x, dim, index, src)\n--\n\n"
                   "Copy of x with out[index[i][j]][j] += src[i][j] along dim, summed in C order.")
    M(one_hot, "one_hot(x, num_classes=-1)\n--\n\n"
               "int64 tensor of shape x.shape + (num_classes,) with a 1 at each index of x\n"
               "(num_classes -1: max(x) + 1).")
    M(softmax, "softmax(x, axis=-1)\n--\n\nexp(x) / sum(exp(x)) along axis, computed stably (float32 for integer x).")
    M(log_softmax, "log_softmax(x, axis=-1)\n--\n\nx - logsumexp(x) along axis, computed stably.")
    M(sort, "sort(x, /, *, axis=-1, descending=False, stable=True)\n--\n\n"
            "Sorted copy of x along axis (always stable; NaN sorts as the largest value).")
    M(argsort, "argsort(x, /, *, axis=-1, descending=False, stable=True)\n--\n\n"
               "int64 indices that sort x along axis (always stable; NaN as the largest value).")
    M(_sort, "_sort(x, /, *, axis=-1, descending=False, stable=True)\n--\n\n(values, indices) of sort.")
    M(_topk, "_topk(x, k, axis=-1, largest=True, sorted=True)\n--\n\n(values, indices) of topk.")
    M(searchsorted, "searchsorted(x1, x2, /, *, side='left', sorter=None)\n--\n\n"
                    "int64 indices where the elements of x2 would be inserted into the sorted 1-D x1\n"
                    "(side='left': before equal elements, 'right': after).  sorter: indices that sort x1.")
    {NULL, NULL, 0, NULL},
};
