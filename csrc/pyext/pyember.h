/*
 * pyember.h — shared declarations of the ember._C extension.
 *
 * The extension is one module built from csrc/ember (linked in statically)
 * and the files of this folder, one per concern: module.c (init, state,
 * errors), tensor_type.c (the Tensor heap type), convert.c (Python objects ->
 * tensors, dtypes), indexing.c, dlpack.c, and py_<family>.c files that bind
 * each op family as METH_FASTCALL functions.
 */
#ifndef PYEMBER_H
#define PYEMBER_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "ember.h"
#include "internal.h"

/* Tensor object: owns one reference to an em_tensor. */
typedef struct {
    PyObject_HEAD
    em_tensor *t;
    PyObject *weakreflist;
} EmTensorObject;

/* Per-module state. */
typedef struct {
    PyTypeObject *TensorType;
    PyObject *dtypes[EM_DTYPE_COUNT]; /* ember.float32 ... registered by python/ember/_dtype.py */
    PyObject *dtype_coerce;           /* ember._dtype._coerce(obj) -> dtype object */
    PyObject *repr_fn;                /* ember._format.tensor_repr(t) */
} empy_state;

/* The hot paths (operators on tensors) cannot look module state up from a
 * slot cheaply, so the one loaded module's state is cached here.  ember
 * supports one instance of the module per process (it refuses a second,
 * e.g. in a subinterpreter, with ImportError). */
extern empy_state *empy_st;

#define EmTensor_Check(o) PyObject_TypeCheck((o), empy_st->TensorType)
#define EmTensor_T(o) (((EmTensorObject *)(o))->t)

/* Wraps t in a new Tensor object, stealing the reference (freed on failure). */
PyObject *empy_wrap(em_tensor *t);
/* Maps a failing em_status (with em_last_error()) to a Python exception;
 * returns NULL so callers can `return empy_raise(st);`. */
PyObject *empy_raise(em_status st);
int empy_raise_int(em_status st); /* same, returns -1 */
/* requires_grad= of a creation function (convert.c): res (stolen) with
 * requires_grad set when flag is True (floating dtypes only, as torch), a
 * detached alias when False and res requires grad; None keeps res. */
PyObject *empy_apply_requires_grad(PyObject *res, PyObject *flag, const char *fname);

/* Conversion of any tensor-like (Tensor, NumPy array, buffer, list, Python
 * scalar) to a new em_tensor reference.  dt < 0: keep/infer the dtype; else
 * cast to dt.  `what` names the argument in error messages. */
em_tensor *empy_as_tensor(PyObject *obj, int dt, const char *what);
/* Python scalar operand of a binary op with a tensor of dtype `other`:
 * "weak" typing as in the array API (int with a float tensor adopts the
 * tensor's dtype, ...).  Returns a new 0-d tensor or NULL with an error set;
 * returns NULL with no error set if obj is not a Python scalar. */
em_tensor *empy_scalar_for(PyObject *obj, em_dtype other);
/* Result of a binary operator: both operands converted (scalars weakly
 * typed); NULL with no error means "not convertible" (-> NotImplemented). */
int empy_binary_operands(PyObject *a, PyObject *b, em_tensor **ta, em_tensor **tb);

/* dtype argument: ember dtype object, str, NumPy dtype or Python type.
 * None gives -1 when allow_none. Returns 0 or -1 with TypeError set. */
int empy_parse_dtype(PyObject *obj, int *dt, bool allow_none);
PyObject *empy_dtype_obj(em_dtype dt); /* borrowed */

/* Axis lists: None -> *naxes = -1 (all); int or sequence of ints. */
int empy_parse_axes(PyObject *obj, int *axes, int *naxes);
/* Shape from a tuple/list of ints or from positional ints. */
int empy_parse_shape(PyObject *obj, int64_t *shape, int *ndim, const char *what);

/* FASTCALL argument parsing (args.c).  names: NULL-terminated parameter
 * names; the first npos_only are positional-only; the first nrequired must
 * be given.  out[i] is the argument or NULL when absent (borrowed). */
int empy_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                    const char *const *names, int npos_only, int nrequired, PyObject **out);
/* Same, with at most npos_max positional arguments (the rest keyword-only). */
int empy_parse_args_kwonly(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                           const char *const *names, int npos_only, int nrequired, int npos_max, PyObject **out);
/* Prefixes the pending exception's message with "fname: " unless it
 * already names fname, so argument errors name the function; returns NULL. */
PyObject *empy_prefix_error(const char *fname);
/* Optional argument conversions: NULL or None gives the default. */
int empy_opt_bool(PyObject *o, bool dflt, bool *out);
int empy_opt_long(PyObject *o, long long dflt, long long *out, const char *fname, const char *what);
int empy_opt_double(PyObject *o, double dflt, double *out, const char *fname, const char *what);

/* Positional private bindings (ember.ml's C calls).  empy_want_nargs: 0, or
 * -1 with a TypeError naming the signature sig ("_f(a, b)"). */
int empy_want_nargs(Py_ssize_t nargs, Py_ssize_t n, const char *sig);
/* args[i] for i < n as tensors of dtype dts[i] (-1: keep), named what[i] in
 * errors.  None gives NULL where bit i of `optional` is set, else a
 * TypeError.  On failure what was made is freed, out[] is all NULL and -1
 * is returned. */
#define EMPY_OPT(i) (1u << (i))
int empy_as_tensors(PyObject *const *args, int n, const int *dts, const char *const *what, unsigned optional,
                    em_tensor **out);
void empy_free_tensors(em_tensor **t, int n); /* NULL entries are skipped */
/* A tuple of the n tensors t[] (references stolen; all freed on failure). */
PyObject *empy_wrap_tuple(em_tensor *const *t, int n);

/* Releases the GIL around kernels over more than this many elements, so
 * other Python threads run meanwhile; below it the release costs more than
 * it gives. */
#define EMPY_GIL_THRESHOLD 65536
#define EMPY_CALL(numel, expr)                                     \
    ({                                                             \
        em_status empy_st_;                                        \
        if ((numel) > EMPY_GIL_THRESHOLD) {                        \
            Py_BEGIN_ALLOW_THREADS empy_st_ = (expr);              \
            Py_END_ALLOW_THREADS                                   \
        } else {                                                   \
            empy_st_ = (expr);                                     \
        }                                                          \
        empy_st_;                                                  \
    })

/* Slots implemented in indexing.c and dlpack.c. */
PyObject *empy_getitem(PyObject *self, PyObject *key);
int empy_setitem(PyObject *self, PyObject *key, PyObject *value);
PyObject *empy_tensor_dlpack(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
PyObject *empy_tensor_dlpack_device(PyObject *self, PyObject *unused);
PyObject *empy_tensor_to_numpy(PyObject *self, PyObject *unused);

/* Method tables of each family, added to the module at init. */
extern PyMethodDef empy_module_methods[];      /* module.c */
extern PyMethodDef empy_convert_methods[];     /* convert.c: tensor, asarray, from_numpy */
extern PyMethodDef empy_dlpack_methods[];      /* dlpack.c: from_dlpack */
extern PyMethodDef empy_creation_methods[];    /* py_creation.c */
extern PyMethodDef empy_elementwise_methods[]; /* py_elementwise.c */
extern PyMethodDef empy_reduce_methods[];      /* py_reduce.c */
extern PyMethodDef empy_shape_methods[];       /* py_shape.c */
extern PyMethodDef empy_random_methods[];      /* py_random.c */
extern PyMethodDef empy_tree_methods[];        /* py_tree.c: private tree/forest bindings */
extern PyMethodDef empy_hgb_methods[];         /* py_hgb.c: private gradient-boosting bindings */
extern PyMethodDef empy_kdtree_methods[];      /* py_kdtree.c: private KD-tree bindings */
extern PyMethodDef empy_kmeans_methods[];      /* py_kmeans.c: private k-means bindings */
extern PyMethodDef empy_linear_models_methods[]; /* py_linear_models.c: private linear-model solvers */
extern PyMethodDef empy_threads_methods[];     /* py_threads.c: set_num_threads, get_num_threads */
extern PyMethodDef empy_memory_methods[];      /* py_memory.c: empty_cache, cached_bytes, alloc cache limit */
extern PyMethodDef empy_linalg_ml_methods[];  /* py_linalg_ml.c */
extern PyMethodDef empy_optim_methods[];       /* py_optim.c: private optimiser steps, clipping */
extern PyMethodDef empy_autograd_methods[];    /* py_autograd.c: private backward/grad/grad-mode/hooks */
extern PyMethodDef empy_norm_methods[];        /* py_norm.c: private norm forward/backward */
extern PyMethodDef empy_csv_methods[];         /* py_csv.c: private _read_csv */
extern PyMethodDef empy_linear_methods[];      /* py_linear.c: private _linear, GEMM isa hook */
extern PyMethodDef empy_conv_methods[];        /* py_conv.c: private conv/pool forward and backward */
extern PyType_Spec empy_generator_spec;        /* py_random.c: Generator type */

#endif
