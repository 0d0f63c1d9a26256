/* Python face of the autograd layer: Tensor attributes (requires_grad, grad,
 * grad_fn, is_leaf), the grad_fn objects, hooks adapted from Python
 * callables, and the private functions python/ember/autograd.py builds on. */
#include "pyember.h"
#include "autograd/ag.h"

/* ---- Tensor attributes (registered in tensor_type.c) ---------------------- */
PyObject *empy_get_requires_grad(PyObject *self, void *c) { return PyBool_FromLong(em_tensor_requires_grad(EmTensor_T(self))); }

int empy_set_requires_grad(PyObject *self, PyObject *v, void *c) {
    if (!v || !PyBool_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "requires_grad must be a bool");
        return -1;
    }
    em_status st = em_tensor_set_requires_grad(EmTensor_T(self), v == Py_True);
    return st ? empy_raise_int(st) : 0;
}

PyObject *empy_get_grad(PyObject *self, void *c) {
    em_tensor *g = em_tensor_grad(EmTensor_T(self));
    if (!g) Py_RETURN_NONE;
    return empy_wrap(em_tensor_retain(g));
}

int empy_set_grad(PyObject *self, PyObject *v, void *c) {
    if (v && v != Py_None && !EmTensor_Check(v)) {
        PyErr_Format(PyExc_TypeError, "grad must be a Tensor or None, not %.100s", Py_TYPE(v)->tp_name);
        return -1;
    }
    em_status st = em_tensor_set_grad(EmTensor_T(self), v && v != Py_None ? EmTensor_T(v) : NULL);
    return st ? empy_raise_int(st) : 0;
}

PyObject *empy_get_is_leaf(PyObject *self, void *c) { return PyBool_FromLong(em_tensor_is_leaf(EmTensor_T(self))); }

/* ---- grad_fn objects -------------------------------------------------------- */
/* A node of the graph (or, for a leaf's edge, its AccumulateGrad). */
typedef struct {
    PyObject_HEAD
    em__ag_node *node; /* retained */
    em_tensor *leaf;   /* retained, for AccumulateGrad */
} GradFnObject;

static PyTypeObject *gradfn_type;

static void gradfn_dealloc(PyObject *self) {
    GradFnObject *o = (GradFnObject *)self;
    PyTypeObject *tp = Py_TYPE(self);
    em__ag_node_release(o->node);
    em_tensor_free(o->leaf);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *gradfn_new(em__ag_node *node, em_tensor *leaf) {
    GradFnObject *o = PyObject_New(GradFnObject, gradfn_type);
    if (!o) return NULL;
    o->node = em__ag_node_retain(node);
    o->leaf = em_tensor_retain(leaf);
    return (PyObject *)o;
}

static PyObject *gradfn_name(PyObject *self, PyObject *unused) {
    GradFnObject *o = (GradFnObject *)self;
    return PyUnicode_FromString(o->node ? o->node->name : "AccumulateGrad");
}

static PyObject *gradfn_repr(PyObject *self) {
    GradFnObject *o = (GradFnObject *)self;
    return PyUnicode_FromFormat("<%s object at %p>", o->node ? o->node->name : "AccumulateGrad", (void *)self);
}

static PyObject *gradfn_next(PyObject *self, void *c) {
    GradFnObject *o = (GradFnObject *)self;
    int n = o->node ? o->node->nin : 0;
    PyObject *tup = PyTuple_New(n);
    for (int i = 0; tup && i < n; i++) {
        em__ag_edge *e = i < EM__AG_MAX_IN ? &o->node->in[i] : &o->node->xin[i - EM__AG_MAX_IN];
        PyObject *f = e->node || e->leaf ? gradfn_new(e->node, e->leaf) : Py_NewRef(Py_None);
        PyObject *pair = f ? Py_BuildValue("(Ni)", f, 0) : NULL;
        if (!pair) {
            Py_DECREF(tup);
            return NULL;
        }
        PyTuple_SET_ITEM(tup, i, pair);
    }
    return tup;
}

static PyObject *gradfn_variable(PyObject *self, void *c) {
    GradFnObject *o = (GradFnObject *)self;
    if (!o->leaf) {
        PyErr_SetString(PyExc_AttributeError, "only AccumulateGrad nodes have a variable");
        return NULL;
    }
    return empy_wrap(em_tensor_retain(o->leaf));
}

static PyObject *gradfn_richcompare(PyObject *a, PyObject *b, int op) {
    if ((op != Py_EQ && op != Py_NE) || Py_TYPE(b) != gradfn_type) Py_RETURN_NOTIMPLEMENTED;
    GradFnObject *x = (GradFnObject *)a, *y = (GradFnObject *)b;
    bool eq = x->node == y->node && (x->node || (x->leaf && y->leaf && x->leaf->autograd == y->leaf->autograd));
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static Py_hash_t gradfn_hash(PyObject *self) {
    GradFnObject *o = (GradFnObject *)self;
    return _Py_HashPointer(o->node ? (void *)o->node : o->leaf ? o->leaf->autograd : NULL);
}

static PyMethodDef gradfn_methods[] = {
    {"name", gradfn_name, METH_NOARGS, "name($self, /)\n--\n\nThe node's name, e.g. 'AddBackward0'."},
    {NULL, NULL, 0, NULL},
};
static PyGetSetDef gradfn_getset[] = {
    {"next_functions", gradfn_next, NULL, "((node, 0), ...) for each input: the nodes gradients flow to next.", NULL},
    {"variable", gradfn_variable, NULL, "The leaf tensor of an AccumulateGrad node.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
static PyType_Slot gradfn_slots[] = {
    {Py_tp_dealloc, gradfn_dealloc},
    {Py_tp_repr, gradfn_repr},
    {Py_tp_methods, gradfn_methods},
    {Py_tp_getset, gradfn_getset},
    {Py_tp_richcompare, gradfn_richcompare},
    {Py_tp_hash, gradfn_hash},
    {Py_tp_doc, "A node of the autograd graph: the backward function of the op that made a tensor."},
    {0, NULL},
};
static PyType_Spec gradfn_spec = {"ember._C.GradFn", sizeof(GradFnObject), 0, Py_TPFLAGS_DEFAULT, gradfn_slots};

PyObject *empy_get_grad_fn(PyObject *self, void *c) {
    em__ag_meta *m = EmTensor_T(self)->autograd;
    if (!m || !m->grad_fn) Py_RETURN_NONE;
    if (!gradfn_type && !(gradfn_type = (PyTypeObject *)PyType_FromSpec(&gradfn_spec))) return NULL;
    return gradfn_new(m->grad_fn, NULL);
}

/* ---- helpers ---------------------------------------------------------------- */
/* A sequence (or one Tensor) of tensors as borrowed em_tensor pointers;
 * entries may be None when allow_none.  Returns the count or -1. */
static Py_ssize_t tensor_list(PyObject *o, const char *fname, const char *what, bool allow_none, em_tensor ***out) {
    PyObject *seq = EmTensor_Check(o) ? PyTuple_Pack(1, o) : PySequence_Fast(o, "");
    if (!seq) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be a Tensor or a sequence of Tensors", fname, what);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    em_tensor **ts = PyMem_Calloc((size_t)(n ? n : 1), sizeof *ts);
    if (!ts) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
        if (EmTensor_Check(it)) {
            ts[i] = EmTensor_T(it);
        } else if (!(allow_none && it == Py_None)) {
            PyErr_Format(PyExc_TypeError, "%s: %s[%zd] must be a Tensor%s, not %.100s", fname, what, i,
                         allow_none ? " or None" : "", Py_TYPE(it)->tp_name);
            Py_DECREF(seq);
            PyMem_Free(ts);
            return -1;
        }
    }
    Py_DECREF(seq); /* the tensors stay alive: the caller holds o */
    *out = ts;
    return n;
}

/* A failing backward: a Python exception raised by a hook wins. */
static PyObject *raise_bw(em_status st) { return PyErr_Occurred() ? NULL : empy_raise(st); }

/* ---- functions ---------------------------------------------------------------- */
static PyObject *py_backward(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"tensors", "grad_tensors", "retain_graph", "create_graph", NULL};
    PyObject *a[4] = {NULL};
    if (empy_parse_args("_backward", args, nargs, kwnames, names, 0, 1, a) < 0) return NULL;
    em_backward_options o = em_backward_default_options();
    if (empy_opt_bool(a[3], false, &o.create_graph) < 0 || empy_opt_bool(a[2], o.create_graph, &o.retain_graph) < 0)
        return NULL;
    em_tensor **ts = NULL, **gs = NULL;
    Py_ssize_t n = tensor_list(a[0], "backward", "tensors", false, &ts);
    if (n < 0) return NULL;
    if (a[1] && a[1] != Py_None) {
        Py_ssize_t ng = tensor_list(a[1], "backward", "grad_tensors", true, &gs);
        if (ng < 0) {
            PyMem_Free(ts);
            return NULL;
        }
        if (ng != n) {
            PyMem_Free(ts);
            PyMem_Free(gs);
            return PyErr_Format(PyExc_ValueError, "backward: got %zd tensors but %zd gradients", n, ng);
        }
    }
    em_status st = em_backward_n(ts, (const em_tensor *const *)gs, (int)n, &o);
    PyMem_Free(ts);
    PyMem_Free(gs);
    if (st) return raise_bw(st);
    Py_RETURN_NONE;
}

static PyObject *py_grad(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"outputs", "inputs", "grad_outputs", "retain_graph", "create_graph",
                                        "allow_unused", NULL};
    PyObject *a[6] = {NULL};
    if (empy_parse_args("grad", args, nargs, kwnames, names, 0, 2, a) < 0) return NULL;
    em_backward_options o = em_backward_default_options();
    if (empy_opt_bool(a[4], false, &o.create_graph) < 0 || empy_opt_bool(a[3], o.create_graph, &o.retain_graph) < 0 ||
        empy_opt_bool(a[5], false, &o.allow_unused) < 0)
        return NULL;
    em_tensor **outs = NULL, **ins = NULL, **gs = NULL, **res = NULL;
    PyObject *ret = NULL;
    Py_ssize_t no = tensor_list(a[0], "grad", "outputs", false, &outs), ni = -1, ng = -1;
    if (no < 0) return NULL;
    if ((ni = tensor_list(a[1], "grad", "inputs", false, &ins)) < 0) goto done;
    if (a[2] && a[2] != Py_None) {
        if ((ng = tensor_list(a[2], "grad", "grad_outputs", true, &gs)) < 0) goto done;
        if (ng != no) {
            PyErr_Format(PyExc_ValueError, "grad: got %zd outputs but %zd grad_outputs", no, ng);
            goto done;
        }
    }
    if (!(res = PyMem_Calloc((size_t)(ni ? ni : 1), sizeof *res))) {
        PyErr_NoMemory();
        goto done;
    }
    em_status st = em_grad(outs, (const em_tensor *const *)gs, (int)no, ins, (int)ni, &o, res);
    if (st) {
        raise_bw(st);
        goto done;
    }
    ret = PyTuple_New(ni);
    for (Py_ssize_t i = 0; i < ni; i++) {
        PyObject *t = res[i] ? empy_wrap(res[i]) : Py_NewRef(Py_None);
        res[i] = NULL;
        if (!t || !ret) {
            Py_XDECREF(t);
            continue;
        }
        PyTuple_SET_ITEM(ret, i, t);
    }
    if (ret && PyErr_Occurred()) Py_CLEAR(ret);
done:
    if (res)
        for (Py_ssize_t i = 0; i < ni; i++) em_tensor_free(res[i]);
    PyMem_Free(res);
    PyMem_Free(outs);
    PyMem_Free(ins);
    PyMem_Free(gs);
    return ret;
}

static PyObject *py_set_grad_enabled(PyObject *m, PyObject *v) {
    int b = PyObject_IsTrue(v);
    if (b < 0) return NULL;
    return PyBool_FromLong(em_set_grad_enabled(b));
}
static PyObject *py_is_grad_enabled(PyObject *m, PyObject *unused) { return PyBool_FromLong(em_is_grad_enabled()); }
static PyObject *py_set_inference_mode(PyObject *m, PyObject *v) {
    int b = PyObject_IsTrue(v);
    if (b < 0) return NULL;
    return PyBool_FromLong(em_set_inference_mode(b));
}
static PyObject *py_is_inference_mode(PyObject *m, PyObject *unused) { return PyBool_FromLong(em_is_inference_mode()); }

static PyObject *check_tensor(PyObject *o, const char *fname) {
    if (EmTensor_Check(o)) return o;
    PyErr_Format(PyExc_TypeError, "%s: expected a Tensor, got %.100s", fname, Py_TYPE(o)->tp_name);
    return NULL;
}

static PyObject *py_detach(PyObject *m, PyObject *t) {
    if (!check_tensor(t, "detach")) return NULL;
    em_tensor *out;
    em_status st = em_tensor_detach(EmTensor_T(t), &out);
    return st ? empy_raise(st) : empy_wrap(out);
}

/* Detaches t itself: it becomes a leaf that does not require grad. */
static PyObject *py_detach_inplace(PyObject *m, PyObject *t) {
    if (!check_tensor(t, "detach_")) return NULL;
    em_status st = em__ag_detach_inplace(EmTensor_T(t));
    return st ? empy_raise(st) : Py_NewRef(t);
}

/* Hooks: the Python callable is the context; it runs with the GIL taken. */
static em_status py_hook(const em_tensor *grad, em_tensor **replace, void *ctx) {
    PyGILState_STATE gs = PyGILState_Ensure();
    em_status st = EM_OK;
    PyObject *g = empy_wrap(em_tensor_retain((em_tensor *)grad));
    PyObject *r = g ? PyObject_CallOneArg((PyObject *)ctx, g) : NULL;
    Py_XDECREF(g);
    if (!r) {
        st = em__error(EM_ERR_INVALID_ARG, "backward: a hook raised an exception");
    } else if (r != Py_None) {
        if (EmTensor_Check(r)) {
            *replace = em_tensor_retain(EmTensor_T(r));
        } else {
            PyErr_Format(PyExc_TypeError, "a hook must return a Tensor or None, not %.100s", Py_TYPE(r)->tp_name);
            st = em__error(EM_ERR_INVALID_ARG, "backward: a hook returned a non-tensor");
        }
    }
    Py_XDECREF(r);
    PyGILState_Release(gs);
    return st;
}
static void py_hook_free(void *ctx) {
    PyGILState_STATE gs = PyGILState_Ensure();
    Py_DECREF((PyObject *)ctx);
    PyGILState_Release(gs);
}

static PyObject *py_register_hook(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !check_tensor(args[0], "register_hook")) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "_register_hook(tensor, fn)");
        return NULL;
    }
    if (!PyCallable_Check(args[1]))
        return PyErr_Format(PyExc_TypeError, "register_hook: the hook must be callable, not %.100s",
                            Py_TYPE(args[1])->tp_name);
    int64_t id = 0;
    em_status st = em_tensor_register_hook(EmTensor_T(args[0]), py_hook, Py_NewRef(args[1]), py_hook_free, &id);
    if (st) {
        Py_DECREF(args[1]);
        return empy_raise(st);
    }
    return PyLong_FromLongLong(id);
}

static PyObject *py_remove_hook(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    long long id;
    if (nargs != 2 || !check_tensor(args[0], "remove_hook") || ((id = PyLong_AsLongLong(args[1])) == -1 && PyErr_Occurred())) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "_remove_hook(tensor, id)");
        return NULL;
    }
    return PyBool_FromLong(em_tensor_remove_hook(EmTensor_T(args[0]), id));
}

PyMethodDef empy_autograd_methods[] = {
    {"_backward", (PyCFunction)(void (*)(void))py_backward, METH_FASTCALL | METH_KEYWORDS, NULL},
    {"_grad", (PyCFunction)(void (*)(void))py_grad, METH_FASTCALL | METH_KEYWORDS, NULL},
    {"_set_grad_enabled", py_set_grad_enabled, METH_O, NULL},
    {"_is_grad_enabled", py_is_grad_enabled, METH_NOARGS, NULL},
    {"_set_inference_mode", py_set_inference_mode, METH_O, NULL},
    {"_is_inference_mode", py_is_inference_mode, METH_NOARGS, NULL},
    {"_detach", py_detach, METH_O, NULL},
    {"_detach_inplace", py_detach_inplace, METH_O, NULL},
    {"_register_hook", (PyCFunction)(void (*)(void))py_register_hook, METH_FASTCALL, NULL},
    {"_remove_hook", (PyCFunction)(void (*)(void))py_remove_hook, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};
