/* ember.Generator: a Python object owning one libember Philox generator
 * (em_generator).  Its numbers depend only on the seed and on what was drawn
 * before, never on the platform or the thread count.  Method names follow
 * numpy.random.Generator (random, uniform, normal, integers, permutation)
 * plus bernoulli and PyTorch's manual_seed.
 *
 * Thread safety: a draw over more than EMPY_GIL_THRESHOLD elements releases
 * the GIL, so each generator has its own lock, taken without holding the GIL
 * when it is contended (a thread waiting for the lock never blocks the
 * thread that holds it from getting the GIL back). */
#include "pyember.h"

#include <limits.h>
#include <pythread.h>

typedef struct {
    PyObject_HEAD
    em_generator *g;
    PyThread_type_lock lock;
} GenObject;

static void gen_lock(GenObject *self) {
    if (PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) return;
    Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(self->lock, WAIT_LOCK);
    Py_END_ALLOW_THREADS
}

/* Runs expr (an em_status expression over self->g) under the generator lock,
 * without the GIL for large draws. */
#define GEN_CALL(self, n, expr)                                 \
    ({                                                          \
        gen_lock(self);                                         \
        em_status gen_st_ = EMPY_CALL(n, expr);                 \
        PyThread_release_lock((self)->lock);                    \
        gen_st_;                                                \
    })

/* A seed: an integer in [0, 2**64), or None for fresh OS entropy. */
static int parse_seed(PyObject *o, uint64_t *seed) {
    PyObject *v = NULL;
    if (!o || o == Py_None) {
        PyObject *os = PyImport_ImportModule("os");
        PyObject *bytes = os ? PyObject_CallMethod(os, "urandom", "i", 8) : NULL;
        Py_XDECREF(os);
        if (!bytes) return -1;
        memcpy(seed, PyBytes_AS_STRING(bytes), sizeof *seed);
        Py_DECREF(bytes);
        return 0;
    }
    if (!PyIndex_Check(o) || PyBool_Check(o) || !(v = PyNumber_Index(o))) {
        if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "Generator: seed must be an integer or None, got %.50s", Py_TYPE(o)->tp_name);
        }
        Py_XDECREF(v);
        return -1;
    }
    unsigned long long s = PyLong_AsUnsignedLongLong(v);
    Py_DECREF(v);
    if (s == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Format(PyExc_ValueError, "Generator: seed must be in [0, 2**64), got %R", o);
        return -1;
    }
    *seed = s;
    return 0;
}

static PyObject *gen_new(PyTypeObject *tp, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"seed", NULL};
    PyObject *seedo = NULL;
    uint64_t seed;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:Generator", kwlist, &seedo) || parse_seed(seedo, &seed) < 0)
        return NULL;
    GenObject *self = (GenObject *)tp->tp_alloc(tp, 0);
    if (!self) return NULL;
    if (!(self->lock = PyThread_allocate_lock())) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    em_status st = em_generator_new(seed, &self->g);
    if (st) {
        Py_DECREF(self);
        return empy_raise(st);
    }
    return (PyObject *)self;
}

static void gen_dealloc(PyObject *o) {
    GenObject *self = (GenObject *)o;
    PyTypeObject *tp = Py_TYPE(o);
    em_generator_free(self->g);
    if (self->lock) PyThread_free_lock(self->lock);
    tp->tp_free(o);
    Py_DECREF(tp);
}

static PyObject *gen_repr(PyObject *o) {
    GenObject *self = (GenObject *)o;
    uint64_t seed, offset;
    em_generator_get_state(self->g, &seed, &offset);
    return PyUnicode_FromFormat("Generator(seed=%llu, offset=%llu)", (unsigned long long)seed,
                                (unsigned long long)offset);
}

/* ---- state ---------------------------------------------------------------- */

static PyObject *gen_manual_seed(PyObject *o, PyObject *seedo) {
    GenObject *self = (GenObject *)o;
    uint64_t seed;
    if (parse_seed(seedo, &seed) < 0) return NULL;
    gen_lock(self);
    em_generator_seed(self->g, seed);
    PyThread_release_lock(self->lock);
    return Py_NewRef(o);
}

static PyObject *gen_get_state(PyObject *o, PyObject *unused) {
    GenObject *self = (GenObject *)o;
    uint64_t seed, offset;
    gen_lock(self);
    em_generator_get_state(self->g, &seed, &offset);
    PyThread_release_lock(self->lock);
    return Py_BuildValue("(KK)", (unsigned long long)seed, (unsigned long long)offset);
}

static PyObject *gen_set_state(PyObject *o, PyObject *state) {
    GenObject *self = (GenObject *)o;
    unsigned long long v[2];
    if (!PyTuple_Check(state) || PyTuple_GET_SIZE(state) != 2) {
        PyErr_Format(PyExc_TypeError, "set_state: state must be a (seed, offset) tuple from get_state(), got %R",
                     state);
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        PyObject *it = PyTuple_GET_ITEM(state, i);
        v[i] = PyLong_Check(it) ? PyLong_AsUnsignedLongLong(it) : (unsigned long long)-1;
        if (!PyLong_Check(it) || (v[i] == (unsigned long long)-1 && PyErr_Occurred())) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "set_state: seed and offset must be integers in [0, 2**64), got %R", state);
            return NULL;
        }
    }
    gen_lock((GenObject *)o);
    em_generator_set_state(self->g, v[0], v[1]);
    PyThread_release_lock(self->lock);
    Py_RETURN_NONE;
}

/* ---- draws ---------------------------------------------------------------- */

#define DEF(name) \
    static PyObject *gen_##name(PyObject *o, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
#define PARSE(fname, npos_only, nrequired, ...)                                                           \
    static const char *const names_[] = {__VA_ARGS__, NULL};                                            \
    PyObject *a[sizeof names_ / sizeof *names_ - 1];                                                    \
    if (empy_parse_args(fname, args, nargs, kwnames, names_, npos_only, nrequired, a) < 0) return NULL

/* size: None (a 0-d result), an int or a tuple of ints. */
static int parse_size(PyObject *o, int64_t *shape, int *nd, const char *fname) {
    if (!o || o == Py_None) {
        *nd = 0;
        return 0;
    }
    if (empy_parse_shape(o, shape, nd, fname) < 0) return -1;
    em_status st = em__check_shape(fname, *nd, shape);
    return st ? empy_raise_int(st) : 0;
}

/* random / uniform / normal: float draws of size with a float dtype (float32 default). */
static PyObject *float_draw(GenObject *self, const char *fname, bool normal, double p0, double p1, PyObject *sizeo,
                            PyObject *dto) {
    int64_t shape[EM_MAX_DIMS];
    int nd, dt;
    if (parse_size(sizeo, shape, &nd, fname) < 0 || empy_parse_dtype(dto, &dt, true) < 0) return NULL;
    if (dt < 0) dt = EM_DEFAULT_FLOAT;
    em_tensor *out = NULL;
    int64_t n = em__numel(nd, shape);
    em_status st = normal ? GEN_CALL(self, n, em_random_normal(self->g, p0, p1, dt, nd, shape, &out))
                          : GEN_CALL(self, n, em_random_uniform(self->g, p0, p1, dt, nd, shape, &out));
    return st ? empy_raise(st) : empy_wrap(out);
}

DEF(random) {
    PARSE("random", 0, 0, "size", "dtype");
    return float_draw((GenObject *)o, "random", false, 0.0, 1.0, a[0], a[1]);
}

DEF(uniform) {
    PARSE("uniform", 0, 0, "low", "high", "size", "dtype");
    double lo, hi;
    if (empy_opt_double(a[0], 0.0, &lo, "uniform", "low") < 0 || empy_opt_double(a[1], 1.0, &hi, "uniform", "high") < 0)
        return NULL;
    return float_draw((GenObject *)o, "uniform", false, lo, hi, a[2], a[3]);
}

DEF(normal) {
    PARSE("normal", 0, 0, "loc", "scale", "size", "dtype");
    double mean, std;
    if (empy_opt_double(a[0], 0.0, &mean, "normal", "loc") < 0 ||
        empy_opt_double(a[1], 1.0, &std, "normal", "scale") < 0)
        return NULL;
    return float_draw((GenObject *)o, "normal", true, mean, std, a[2], a[3]);
}

DEF(integers) {
    GenObject *self = (GenObject *)o;
    PARSE("integers", 0, 1, "low", "high", "size", "dtype", "endpoint");
    long long lo, hi;
    int64_t shape[EM_MAX_DIMS];
    int nd, dt;
    bool endpoint;
    if (empy_opt_long(a[0], 0, &lo, "integers", "low") < 0 || empy_opt_long(a[1], 0, &hi, "integers", "high") < 0 ||
        parse_size(a[2], shape, &nd, "integers") < 0 || empy_parse_dtype(a[3], &dt, true) < 0 ||
        empy_opt_bool(a[4], false, &endpoint) < 0)
        return NULL;
    if (!a[1] || a[1] == Py_None) { /* integers(high): [0, high) */
        hi = lo;
        lo = 0;
    }
    if (endpoint) {
        if (hi == LLONG_MAX) {
            PyErr_SetString(PyExc_ValueError, "integers: high must be below 2**63 - 1 with endpoint=True");
            return NULL;
        }
        hi++;
    }
    em_tensor *out = NULL;
    em_status st = GEN_CALL(self, em__numel(nd, shape),
                            em_random_randint(self->g, lo, hi, dt < 0 ? EM_DEFAULT_INT : dt, nd, shape, &out));
    return st ? empy_raise(st) : empy_wrap(out);
}

/* permutation(x): a shuffled arange(x) for an int, else x shuffled along axis 0 (a copy). */
DEF(permutation) {
    GenObject *self = (GenObject *)o;
    PARSE("permutation", 0, 1, "x");
    em_tensor *x = NULL, *perm = NULL, *out = NULL;
    long long n;
    if (PyIndex_Check(a[0]) && !EmTensor_Check(a[0])) {
        if (empy_opt_long(a[0], 0, &n, "permutation", "n") < 0) return NULL;
    } else {
        if (!(x = empy_as_tensor(a[0], -1, "permutation"))) return NULL;
        if (x->ndim == 0) {
            char b[EM_DESC_LEN];
            PyErr_Format(PyExc_ValueError, "permutation: x must be an int or have at least one dimension, got %s",
                         em__desc(x, b));
            em_tensor_free(x);
            return NULL;
        }
        n = x->shape[0];
    }
    em_status st = GEN_CALL(self, n, em_random_permutation(self->g, n, &perm));
    if (!st && x) {
        st = EMPY_CALL(em_tensor_numel(x), em_index_select(x, 0, perm, &out));
        em_tensor_free(perm);
        perm = out;
    }
    em_tensor_free(x);
    return st ? empy_raise(st) : empy_wrap(perm);
}

/* bernoulli(p, size=None, *, dtype=None): 1 with probability p.  p is a float
 * or a float tensor (broadcast to size if given); the result has p's dtype
 * (float32 for a Python float) unless dtype says otherwise. */
DEF(bernoulli) {
    GenObject *self = (GenObject *)o;
    PARSE("bernoulli", 0, 1, "p", "size", "dtype");
    int64_t shape[EM_MAX_DIMS];
    int nd, dt;
    bool scalar = PyFloat_Check(a[0]) || PyLong_Check(a[0]);
    if ((a[1] && a[1] != Py_None && parse_size(a[1], shape, &nd, "bernoulli") < 0) ||
        empy_parse_dtype(a[2], &dt, true) < 0)
        return NULL;
    if (scalar && dt < 0) dt = EM_DEFAULT_FLOAT;
    em_tensor *p = empy_as_tensor(a[0], scalar ? EM_F64 : -1, "bernoulli"), *out = NULL;
    if (!p) return NULL;
    em_status st = EM_OK;
    if (a[1] && a[1] != Py_None) {
        em_tensor *e;
        if (!(st = em_tensor_expand(p, nd, shape, &e))) {
            em_tensor_free(p);
            p = e;
        }
    }
    if (!st) st = GEN_CALL(self, em_tensor_numel(p), em_random_bernoulli(self->g, p, dt, &out));
    em_tensor_free(p);
    return st ? empy_raise(st) : empy_wrap(out);
}

#define FASTKW METH_FASTCALL | METH_KEYWORDS
#define M(name, doc) {#name, (PyCFunction)(void (*)(void))gen_##name, FASTKW, doc},
static PyMethodDef gen_methods[] = {
    M(random, "random($self, size=None, dtype=None)\n--\n\n"
              "Uniform floats in [0, 1) of shape size (None: a 0-d tensor); dtype float32 or float64.")
    M(uniform, "uniform($self, low=0.0, high=1.0, size=None, dtype=None)\n--\n\nUniform floats in [low, high).")
    M(normal, "normal($self, loc=0.0, scale=1.0, size=None, dtype=None)\n--\n\nNormal(loc, scale) floats (Box-Muller).")
    M(integers, "integers($self, low, high=None, size=None, dtype=None, endpoint=False)\n--\n\n"
                "Uniform integers in [low, high) ([low, high] with endpoint; [0, low) without high);\n"
                "dtype int64 by default, any integer dtype that holds the range.")
    M(permutation, "permutation($self, x)\n--\n\n"
                   "A random permutation of arange(x) for an int x, else a copy of x shuffled along axis 0.")
    M(bernoulli, "bernoulli($self, p, size=None, dtype=None)\n--\n\n"
                 "1 with probability p (a float or a float tensor in [0, 1], broadcast to size), else 0;\n"
                 "p's dtype (float32 for a Python float) unless dtype is given.")
    {"manual_seed", gen_manual_seed, METH_O,
     "manual_seed($self, seed, /)\n--\n\nRestart the stream from seed (an int in [0, 2**64)); returns the generator."},
    {"get_state", gen_get_state, METH_NOARGS,
     "get_state($self, /)\n--\n\nThe state as a (seed, offset) tuple; set_state(state) resumes the stream there."},
    {"set_state", gen_set_state, METH_O, "set_state($self, state, /)\n--\n\nRestore a state returned by get_state()."},
    {NULL, NULL, 0, NULL},
};

PyMethodDef empy_random_methods[] = {
    {NULL, NULL, 0, NULL},
};

static PyType_Slot generator_slots[] = {
    {Py_tp_doc, "Generator(seed=None)\n--\n\n"
                "A Philox-4x32-10 random generator: the same seed gives the same numbers on every\n"
                "platform and thread count.  seed is an int in [0, 2**64); None seeds from OS entropy.\n"
                "Generators are independent of each other and of ember.random's default generator."},
    {Py_tp_new, gen_new},
    {Py_tp_dealloc, gen_dealloc},
    {Py_tp_repr, gen_repr},
    {Py_tp_methods, gen_methods},
    {0, NULL},
};

PyType_Spec empy_generator_spec = {
    .name = "ember.Generator",
    .basicsize = sizeof(GenObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = generator_slots,
};
