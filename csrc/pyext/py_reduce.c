/* Python bindings of the reductions (array-API signatures), the scans
 * (cumulative_sum and the NumPy cumsum/cumprod) and matmul. */
#include "pyember.h"

static int64_t numel(const em_tensor *t) { return em__numel(t->ndim, t->shape); }

/* x as a new reference: the tensor itself or a converted copy. */
static em_tensor *as_tensor(PyObject *x, const char *fname) {
    return EmTensor_Check(x) ? em_tensor_retain(EmTensor_T(x)) : empy_as_tensor(x, -1, fname);
}

static PyObject *run_reduce(em_op op, PyObject *xo, const char *fname, const em_reduce_options *o) {
    em_tensor *x = as_tensor(xo, fname), *out;
    if (!x) return NULL;
    em_status st = EMPY_CALL(numel(x), em_reduce(op, x, o, &out));
    em_tensor_free(x);
    return st ? empy_raise(st) : empy_wrap(out);
}

/* ---- reductions: (x, /, *, axis=None, keepdims=False[, extra]) ------------ */

/* The extra keyword of a reduction. */
typedef enum { P_NONE, P_DTYPE, P_CORRECTION, P_ORD } rparam;
static const char *const rnames[][5] = {
    [P_NONE] = {"x", "axis", "keepdims", NULL},
    [P_DTYPE] = {"x", "axis", "keepdims", "dtype", NULL},
    [P_CORRECTION] = {"x", "axis", "keepdims", "correction", NULL},
    [P_ORD] = {"x", "axis", "keepdims", "ord", NULL},
};

static PyObject *reduce(em_op op, const char *fname, rparam p, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames) {
    PyObject *a[4] = {NULL, NULL, NULL, NULL};
    /* norm's ord is keyword-only: numpy.linalg.norm takes ord second, the
     * array API's vector_norm takes axis, so a positional one is ambiguous */
    if (empy_parse_args_kwonly(fname, args, nargs, kwnames, rnames[p], 1, 1, p == P_ORD ? 1 : 3, a) < 0) return NULL;
    em_reduce_options o = em_reduce_default_options();
    int axes[EM_MAX_DIMS], naxes;
    if (empy_parse_axes(a[1], axes, &naxes) < 0 || empy_opt_bool(a[2], false, &o.keepdims) < 0)
        return empy_prefix_error(fname);
    if (naxes >= 0) {
        o.axes = axes;
        o.naxes = naxes;
    }
    int bad = p == P_DTYPE        ? empy_parse_dtype(a[3], &o.dtype, true)
              : p == P_CORRECTION ? empy_opt_double(a[3], 0, &o.correction, fname, "correction")
              : p == P_ORD        ? empy_opt_double(a[3], 2, &o.ord, fname, "ord")
                                  : 0;
    return bad ? NULL : run_reduce(op, a[0], fname, &o);
}

#define AXIS_KEEP "(x, /, *, axis=None, keepdims=False"
/* X(OP, name, extra keyword, signature tail, doc) */
#define REDUCERS(X)                                                                                        \
    X(SUM, sum, P_DTYPE, AXIS_KEEP ", dtype=None)",                                                         \
      "Sum over axis (None: all; int or tuple).  Integers and bool sum in int64 (wrapping);\n"               \
      "floats in their own dtype, pairwise.  dtype: accumulate and return in that dtype.")                  \
    X(PROD, prod, P_DTYPE, AXIS_KEEP ", dtype=None)", "Product over axis; dtypes as sum.")                 \
    X(MEAN, mean, P_NONE, AXIS_KEEP ")", "Arithmetic mean over axis (integers give float32; empty: NaN).") \
    X(MAX, max, P_NONE, AXIS_KEEP ")", "Maximum over axis (NaN propagates; empty axis: ValueError).")      \
    X(MIN, min, P_NONE, AXIS_KEEP ")", "Minimum over axis (NaN propagates; empty axis: ValueError).")      \
    X(ARGMAX, argmax, P_NONE, AXIS_KEEP ")",                                                                \
      "int64 index of the first maximum along axis (None: of the flattened tensor;\n"                      \
      "the first NaN wins).")                                                                              \
    X(ARGMIN, argmin, P_NONE, AXIS_KEEP ")", "int64 index of the first minimum; see argmax.")              \
    X(VAR, var, P_CORRECTION, AXIS_KEEP ", correction=0.0)",                                                \
      "Variance: sum((x - mean)^2) / (n - correction) over axis (integers give float32).")                 \
    X(STD, std, P_CORRECTION, AXIS_KEEP ", correction=0.0)", "Standard deviation: sqrt(var).")             \
    X(LOGSUMEXP, logsumexp, P_NONE, AXIS_KEEP ")", "log(sum(exp(x))) over axis, computed stably.")          \
    X(ALL, all, P_NONE, AXIS_KEEP ")", "Whether every element over axis is nonzero (bool; empty: True).")  \
    X(ANY, any, P_NONE, AXIS_KEEP ")", "Whether some element over axis is nonzero (bool; empty: False).")  \
    X(COUNT_NONZERO, count_nonzero, P_NONE, AXIS_KEEP ")", "Number of nonzero elements over axis (int64).") \
    X(NORM, vector_norm, P_ORD, AXIS_KEEP ", ord=2)",                                                       \
      "Vector norm (sum |x|^ord)^(1/ord) over axis (None: all elements); ord inf: max |x|,\n"              \
      "-inf: min |x|, 0: count of nonzeros.  Integers give float32.")

#define X(OP, name, p, sig, doc)                                                                              \
    static PyObject *py_##name(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kw) {          \
        return reduce(EM_OP_##OP, #name, p, args, nargs, kw);                                                 \
    }
REDUCERS(X)
#undef X

/* ---- scans ----------------------------------------------------------------- */

/* cumulative_sum/cumulative_prod (array API: axis required above 1-D,
 * include_initial) and the NumPy cumsum/cumprod (axis None: flattened). */
static PyObject *scan(em_op op, const char *fname, bool array_api, PyObject *const *args, Py_ssize_t nargs,
                      PyObject *kwnames) {
    static const char *const api_names[] = {"x", "axis", "dtype", "include_initial", NULL};
    static const char *const np_names[] = {"x", "axis", "dtype", NULL};
    PyObject *a[4] = {NULL, NULL, NULL, NULL};
    if (empy_parse_args(fname, args, nargs, kwnames, array_api ? api_names : np_names, 1, 1, a) < 0) return NULL;
    em_reduce_options o = em_reduce_default_options();
    long long axis;
    bool initial;
    if (empy_opt_long(a[1], 0, &axis, fname, "axis") < 0 || empy_parse_dtype(a[2], &o.dtype, true) < 0 ||
        empy_opt_bool(a[3], false, &initial) < 0)
        return NULL;
    int ax = (int)axis;
    if (a[1] && a[1] != Py_None) {
        o.axes = &ax;
        o.naxes = 1;
    }
    em_tensor *x = as_tensor(a[0], fname), *out, *padded;
    if (!x) return NULL;
    if (array_api && !o.axes && x->ndim > 1) {
        char b[EM_DESC_LEN];
        PyErr_Format(PyExc_ValueError, "%s: axis must be given for a tensor of %d dimensions %s", fname, x->ndim,
                     em__desc(x, b));
        em_tensor_free(x);
        return NULL;
    }
    em_status st = EMPY_CALL(numel(x), em_reduce(op, x, &o, &out));
    em_tensor_free(x);
    if (st) return empy_raise(st);
    if (!initial) return empy_wrap(out);
    /* a leading identity along the axis (the result of an empty prefix) */
    int64_t pads[2 * EM_MAX_DIMS] = {0};
    pads[2 * (o.axes ? (ax < 0 ? ax + out->ndim : ax) : 0)] = 1;
    st = em_pad(out, pads, EM_PAD_CONSTANT, op == EM_OP_CUMPROD ? 1 : 0, &padded);
    em_tensor_free(out);
    return st ? empy_raise(st) : empy_wrap(padded);
}

#define SCANS(X)                                                                                    \
    X(cumulative_sum, CUMSUM, true, "(x, /, *, axis=None, dtype=None, include_initial=False)",       \
      "Cumulative sum along axis (needed above 1-D); include_initial prepends 0.\n"                 \
      "Integers and bool accumulate in int64, floats in their own dtype, or in dtype.")             \
    X(cumulative_prod, CUMPROD, true, "(x, /, *, axis=None, dtype=None, include_initial=False)",     \
      "Cumulative product along axis; see cumulative_sum (include_initial prepends 1).")            \
    X(cumsum, CUMSUM, false, "(x, axis=None, dtype=None)",                                          \
      "Cumulative sum along axis (None: of the flattened tensor), as NumPy's cumsum.")              \
    X(cumprod, CUMPROD, false, "(x, axis=None, dtype=None)",                                        \
      "Cumulative product along axis (None: of the flattened tensor), as NumPy's cumprod.")

#define X(name, OP, api, sig, doc)                                                                    \
    static PyObject *py_##name(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kw) { \
        return scan(EM_OP_##OP, #name, api, args, nargs, kw);                                        \
    }
SCANS(X)
#undef X

/* ---- matmul ---------------------------------------------------------------- */

static PyObject *py_matmul(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "matmul() takes exactly 2 positional arguments (x1, x2), %zd given", nargs);
        return NULL;
    }
    em_tensor *a = as_tensor(args[0], "matmul x1"), *b = a ? as_tensor(args[1], "matmul x2") : NULL, *out = NULL;
    em_status st = b ? EMPY_CALL(numel(a) + numel(b), em_matmul(a, b, &out)) : EM_OK;
    em_tensor_free(a);
    em_tensor_free(b);
    if (!b) return NULL;
    return st ? empy_raise(st) : empy_wrap(out);
}

#define FC(f) (PyCFunction)(void (*)(void))(f)
#define RENTRY(OP, name, p, sig, doc) {#name, FC(py_##name), METH_FASTCALL | METH_KEYWORDS, #name sig "\n--\n\n" doc},
#define SENTRY(name, OP, api, sig, doc) {#name, FC(py_##name), METH_FASTCALL | METH_KEYWORDS, #name sig "\n--\n\n" doc},

PyMethodDef empy_reduce_methods[] = {
    REDUCERS(RENTRY)
    {"norm", FC(py_vector_norm), METH_FASTCALL | METH_KEYWORDS,
     "norm" AXIS_KEEP ", ord=2)\n--\n\nVector norm over axis; the same function as vector_norm."},
    SCANS(SENTRY)
    {"matmul", FC(py_matmul), METH_FASTCALL,
     "matmul(x1, x2, /)\n--\n\nMatrix product x1 @ x2 (NumPy rules: 1-D operands become a row/column\n"
     "and that axis is removed; batch axes broadcast; operands promoted)."},
    {NULL, NULL, 0, NULL},
};
