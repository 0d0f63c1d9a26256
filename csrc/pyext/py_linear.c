/* Private bindings of the fused linear kernel (ember/kernels.h):
 * _linear(x, weight, bias=None, activation=None) for ember.nn.functional.linear,
 * _gemm_set_isa(name) so tests can force any GEMM instruction set, and
 * _gemm_isa() naming the one in use (benchmarks). */
#include "pyember.h"

#include "../ember/kernels/gemm.h"

static int parse_activation(PyObject *o, em_activation *act) {
    *act = EM_ACT_NONE;
    if (!o || o == Py_None) return 0;
    const char *name = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
    if (name)
        for (int a = 0; a < EM_ACT_COUNT_; a++)
            if (strcmp(name, em_activation_name((em_activation)a)) == 0) {
                *act = (em_activation)a;
                return 0;
            }
    PyErr_Format(PyExc_ValueError, "_linear: unknown activation %R (none, relu, gelu, gelu_tanh, sigmoid, tanh, silu)",
                 o);
    return -1;
}

static PyObject *py_linear(PyObject *mod, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"input", "weight", "bias", "activation", NULL};
    PyObject *a[4];
    if (empy_parse_args("_linear", args, nargs, kwnames, names, 0, 2, a) < 0) return NULL;
    em_activation act;
    if (parse_activation(a[3], &act) < 0) return NULL;
    em_tensor *x = empy_as_tensor(a[0], -1, "input"), *w = NULL, *b = NULL, *out = NULL;
    PyObject *res = NULL;
    if (!x || !(w = empy_as_tensor(a[1], -1, "weight"))) goto done;
    if (a[2] && a[2] != Py_None && !(b = empy_as_tensor(a[2], -1, "bias"))) goto done;
    em_status st = EMPY_CALL(em_tensor_numel(x) * em_tensor_shape(w)[0], em_linear(x, w, b, act, &out));
    res = st ? empy_raise(st) : empy_wrap(out);
done:
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(b);
    return res;
}

static const char *const gemm_isas[EM__GEMM_ISA_COUNT] = {"portable", "avx2", "avx512"};

static PyObject *py_gemm_isa(PyObject *mod, PyObject *unused) {
    return PyUnicode_FromString(gemm_isas[em__gemm_active_isa()]);
}

static PyObject *py_gemm_set_isa(PyObject *mod, PyObject *arg) {
    const char *const *isas = gemm_isas;
    const char *name = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    int isa = -2;
    if (name && strcmp(name, "auto") == 0) isa = -1;
    for (int i = 0; name && i < EM__GEMM_ISA_COUNT; i++)
        if (strcmp(name, isas[i]) == 0) isa = i;
    if (isa == -2) {
        PyErr_Format(PyExc_ValueError, "_gemm_set_isa: unknown instruction set %R ('auto', 'portable', 'avx2', 'avx512')", arg);
        return NULL;
    }
    em_status st = em__gemm_set_isa(isa);
    if (st) return empy_raise(st);
    Py_RETURN_NONE;
}

PyMethodDef empy_linear_methods[] = {
    {"_linear", (PyCFunction)(void (*)(void))py_linear, METH_FASTCALL | METH_KEYWORDS,
     "_linear(input, weight, bias=None, activation=None)\n--\n\n"
     "act(input @ weight.T + bias) in one fused GEMM (private; see ember.nn.functional.linear)."},
    {"_gemm_set_isa", py_gemm_set_isa, METH_O,
     "_gemm_set_isa(name)\n--\n\nForce the GEMM instruction set: 'auto', 'portable', 'avx2' or 'avx512' (private, for tests)."},
    {"_gemm_isa", py_gemm_isa, METH_NOARGS,
     "_gemm_isa()\n--\n\nThe GEMM instruction set in use: 'portable', 'avx2' or 'avx512' (private, for benchmarks)."},
    {NULL, NULL, 0, NULL},
};
