/* Python bindings of the elementwise ops: one module function per op of
 * EM_UNARY_OPS and EM_BINARY_OPS (generated), the array-API aliases, where
 * and clip.  ember.add(a, b) and ember.exp(x) on small tensors are on the
 * hot path: tensors go straight to libember, and only non-tensor operands
 * take the conversion path. */
#include "pyember.h"

#include <math.h>

static int64_t numel(const em_tensor *t) { return em__numel(t->ndim, t->shape); }

/* Takes &out so that out is read after the call in finish(EMPY_CALL(..., &out), &out). */
static PyObject *finish(em_status st, em_tensor **out) { return st ? empy_raise(st) : empy_wrap(*out); }

/* ---- unary -------------------------------------------------------------- */

/* The keyword parameter of the unary ops that take one (else NULL). */
static const char *const unary_param[EM_OP_UNARY_END_] = {
    [EM_OP_LEAKY_RELU] = "negative_slope",
    [EM_OP_ELU] = "alpha",
    [EM_OP_SOFTPLUS] = "beta",
};

/* name(x, /) or name(x, /, param=default). */
static PyObject *unary(em_op op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    const char *name = em_op_name(op);
    double alpha = NAN;
    if (kwnames || nargs != 1) {
        const char *const names[] = {"x", unary_param[op], NULL};
        PyObject *a[2] = {NULL, NULL};
        if (empy_parse_args(name, args, nargs, kwnames, names, 1, 1, a) < 0 ||
            empy_opt_double(a[1], NAN, &alpha, name, names[1]) < 0)
            return NULL;
    }
    em_tensor *out;
    if (EmTensor_Check(args[0])) {
        em_tensor *x = EmTensor_T(args[0]);
        return finish(EMPY_CALL(numel(x), em_unary(op, x, alpha, &out)), &out);
    }
    em_tensor *x = empy_as_tensor(args[0], -1, "x");
    if (!x) return empy_prefix_error(name);
    em_status st = EMPY_CALL(numel(x), em_unary(op, x, alpha, &out));
    em_tensor_free(x);
    return finish(st, &out);
}

#define X(NAME, name, doc)                                                                          \
    static PyObject *py_##name(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kw) { \
        return unary(EM_OP_##NAME, args, nargs, kw);                                                \
    }
EM_UNARY_OPS(X)
#undef X

/* ---- binary ------------------------------------------------------------- */

/* Both operands as new tensor references: a Python scalar is weakly typed
 * against the other operand (a tensor, or else the array-like, or else x1). */
static int operands(PyObject *a, PyObject *b, em_tensor **ta, em_tensor **tb) {
    if (EmTensor_Check(a) || EmTensor_Check(b)) {
        int r = empy_binary_operands(a, b, ta, tb);
        if (r) return r < 0 ? -1 : 0;
        /* the other operand is an array-like that operators leave alone */
    }
    bool swap = (PyLong_Check(a) || PyFloat_Check(a)) && !(PyLong_Check(b) || PyFloat_Check(b));
    em_tensor **tfirst = swap ? tb : ta, **tsecond = swap ? ta : tb;
    if (!(*tfirst = empy_as_tensor(swap ? b : a, -1, swap ? "x2" : "x1"))) return -1;
    *tsecond = empy_scalar_for(swap ? a : b, (*tfirst)->dtype);
    if (!*tsecond && !PyErr_Occurred()) *tsecond = empy_as_tensor(b, -1, "x2");
    if (*tsecond) return 0;
    em_tensor_free(*tfirst);
    return -1;
}

static PyObject *binary(em_op op, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly 2 positional arguments (x1, x2), %zd given",
                     em_op_name(op), nargs);
        return NULL;
    }
    em_tensor *a, *b, *out;
    if (EmTensor_Check(args[0]) && EmTensor_Check(args[1])) {
        a = EmTensor_T(args[0]);
        b = EmTensor_T(args[1]);
        return finish(EMPY_CALL(numel(a) + numel(b), em_binary(op, a, b, &out)), &out);
    }
    if (operands(args[0], args[1], &a, &b) < 0) return empy_prefix_error(em_op_name(op));
    em_status st = EMPY_CALL(numel(a) + numel(b), em_binary(op, a, b, &out));
    em_tensor_free(a);
    em_tensor_free(b);
    return finish(st, &out);
}

#define X(NAME, name, doc)                                                           \
    static PyObject *py_##name(PyObject *m, PyObject *const *args, Py_ssize_t nargs) { \
        return binary(EM_OP_##NAME, args, nargs);                                    \
    }
EM_BINARY_OPS(X)
#undef X

/* ---- where, clip -------------------------------------------------------- */

static PyObject *py_where(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "where() takes exactly 3 positional arguments (condition, x1, x2), %zd given",
                     nargs);
        return NULL;
    }
    em_tensor *c = empy_as_tensor(args[0], -1, "where condition"), *a, *b, *out;
    if (!c) return NULL;
    if (operands(args[1], args[2], &a, &b) < 0) {
        em_tensor_free(c);
        return NULL;
    }
    em_status st = EMPY_CALL(numel(c) + numel(a) + numel(b), em_where(c, a, b, &out));
    em_tensor_free(c);
    em_tensor_free(a);
    em_tensor_free(b);
    return finish(st, &out);
}

/* A clip bound: NULL for None/absent, a scalar weakly typed against x. */
static int clip_bound(PyObject *o, const em_tensor *x, const char *what, em_tensor **out) {
    *out = NULL;
    if (!o || o == Py_None) return 0;
    *out = empy_scalar_for(o, x->dtype);
    if (!*out && !PyErr_Occurred()) *out = empy_as_tensor(o, -1, what);
    return *out ? 0 : -1;
}

static PyObject *py_clip(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"x", "min", "max", NULL};
    PyObject *a[3];
    if (empy_parse_args("clip", args, nargs, kwnames, names, 1, 1, a) < 0) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "clip"), *lo = NULL, *hi = NULL, *out = NULL;
    if (!x) return NULL;
    PyObject *res = NULL;
    if (clip_bound(a[1], x, "clip min", &lo) == 0 && clip_bound(a[2], x, "clip max", &hi) == 0)
        res = finish(EMPY_CALL(numel(x), em_clip(x, lo, hi, &out)), &out);
    em_tensor_free(x);
    em_tensor_free(lo);
    em_tensor_free(hi);
    return res;
}

/* ---- method table -------------------------------------------------------- */

/* Signature tail of a unary op's docstring: the probe SECOND(UPARAM_NAME, "")
 * picks the string of the ops that define UPARAM_<NAME>, else "". */
#define UPARAM_LEAKY_RELU ~, ", negative_slope=0.01"
#define UPARAM_ELU ~, ", alpha=1.0"
#define UPARAM_SOFTPLUS ~, ", beta=1.0"
#define SECOND_(a, b, ...) b
#define SECOND(...) SECOND_(__VA_ARGS__)
#define UPARAM(NAME) SECOND(UPARAM_##NAME, "", ~)

#define FC(f) (PyCFunction)(void (*)(void))(f)
#define UDOC(NAME, name, doc) #name "(x, /" UPARAM(NAME) ")\n--\n\nElementwise " doc "."
#define BDOC(name, doc) #name "(x1, x2, /)\n--\n\nElementwise " doc ", with broadcasting and type promotion."
#define UENTRY(NAME, name, doc) {#name, FC(py_##name), METH_FASTCALL | METH_KEYWORDS, UDOC(NAME, name, doc)},
#define BENTRY(NAME, name, doc) {#name, FC(py_##name), METH_FASTCALL, BDOC(name, doc)},
/* array-API and NumPy names for the same functions */
#define ALIASES(U, B)                                               \
    B(subtract, sub, "y = a - b")                                   \
    B(multiply, mul, "y = a * b")                                   \
    B(divide, div, "y = a / b (true division: integers give float32)") \
    B(true_divide, div, "y = a / b")                                \
    B(power, pow, "y = a ^ b")                                      \
    U(bitwise_not, bitwise_invert, "y = ~x")                        \
    U(negative, neg, "y = -x")
#define UALIAS(alias, name, doc) \
    {#alias, FC(py_##name), METH_FASTCALL | METH_KEYWORDS, #alias "(x, /)\n--\n\nElementwise " doc "."},
#define BALIAS(alias, name, doc) {#alias, FC(py_##name), METH_FASTCALL, BDOC(alias, doc)},

PyMethodDef empy_elementwise_methods[] = {
    EM_UNARY_OPS(UENTRY)
    EM_BINARY_OPS(BENTRY)
    ALIASES(UALIAS, BALIAS)
    {"where", FC(py_where), METH_FASTCALL,
     "where(condition, x1, x2, /)\n--\n\nElements of x1 where condition is true, else of x2 (all three\n"
     "broadcast; x1 and x2 promoted, Python scalars weakly typed)."},
    {"clip", FC(py_clip), METH_FASTCALL | METH_KEYWORDS,
     "clip(x, /, min=None, max=None)\n--\n\nx clamped to [min, max] (scalars or tensors broadcast to x; None: "
     "unbounded).\nKeeps x's dtype; NaN propagates; min > max gives max, as NumPy."},
    {NULL, NULL, 0, NULL},
};
