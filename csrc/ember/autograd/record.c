/* Recording: the node an op attaches to its output, and saved tensors. */
#include "ag.h"

#include <ctype.h>
#include <pthread.h>

static atomic_llong next_seq = 1;

static void edge_set(em__ag_edge *e, const em_tensor *x) {
    if (!x) return;
    e->dtype = x->dtype;
    e->ndim = x->ndim;
    memcpy(e->shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    if (!em__ag_req(x)) return;
    em__ag_meta *m = x->autograd;
    if (m->grad_fn) e->node = em__ag_node_retain(m->grad_fn);
    else e->leaf = em_tensor_retain((em_tensor *)x);
}

em_status em__ag_record(const char *name, em__ag_backward_fn bw, em_tensor **outp, int nin,
                        const em_tensor *const *ins, em__ag_node **node) {
    em_tensor *out = *outp;
    em__ag_node *n = em__alloc_small(sizeof *n);
    em_status st = EM_OK;
    if (!n) {
        st = em__error(EM_ERR_NOMEM, "%s: out of memory recording the autograd graph", name);
        goto fail;
    }
    memset(n, 0, sizeof *n);
    atomic_init(&n->refcount, 1);
    n->name = name;
    n->backward = bw;
    n->nin = nin;
    if (nin > EM__AG_MAX_IN) {
        n->xin = em__calloc(sizeof(em__ag_edge) * (size_t)(nin - EM__AG_MAX_IN));
        if (!n->xin) {
            em__free(n);
            st = em__error(EM_ERR_NOMEM, "%s: out of memory recording the autograd graph", name);
            goto fail;
        }
    }
    for (int i = 0; i < nin; i++) {
        edge_set(i < EM__AG_MAX_IN ? &n->in[i] : &n->xin[i - EM__AG_MAX_IN], ins[i]);
    }
    n->seq = atomic_fetch_add(&next_seq, 1);
    em__ag_meta *m = out->autograd;
    if (!m) {
        m = &n->out_meta;
        m->embedded = true;
        out->autograd = m;
    }
    m->requires_grad = true;
    m->grad_fn = n;
    *node = n;
    return EM_OK;
fail:
    em_tensor_free(out);
    *outp = NULL;
    return st;
}

em_status em__ag_save(em__ag_node *n, int k, const em_tensor *t, bool is_output) {
    n->saved_is_output[k] = is_output;
    n->saved_version[k] = t->storage->version;
    if (!is_output) {
        n->saved[k] = em_tensor_retain((em_tensor *)t);
        return EM_OK;
    }
    return em_tensor_detach(t, &n->saved[k]);
}

em_status em__ag_saved(em__ag_node *n, int k, em_tensor **out) {
    if (n->freed)
        return em__error(EM_ERR_INVALID_ARG,
                         "backward: trying to backward through the graph a second time (%s): its saved tensors "
                         "were freed by the first backward; pass retain_graph=True to the first backward",
                         n->name);
    em_tensor *t = n->saved[k];
    if (t->storage->version != n->saved_version[k])
        return em__error(EM_ERR_INVALID_ARG,
                         "backward: a tensor needed for the gradient of %s was modified in place (its version is "
                         "%u, it was saved at version %u); use an out-of-place op or clone() it first",
                         n->name, t->storage->version, n->saved_version[k]);
    if (!n->saved_is_output[k] || em__ag_off) {
        *out = em_tensor_retain(t);
        return EM_OK;
    }
    /* Recording a backward (create_graph): the saved output must lead back
     * into the graph through this very node. */
    em_tensor *v;
    EM_TRY(em_tensor_detach(t, &v));
    em__ag_meta *m;
    em_status st = em__ag_meta_of(v, &m);
    if (st) {
        em_tensor_free(v);
        return st;
    }
    m->requires_grad = true;
    m->grad_fn = em__ag_node_retain(n);
    *out = v;
    return EM_OK;
}

static char node_names[EM_OP_COUNT][48];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void make_names(void) {
    for (int op = 0; op < EM_OP_COUNT; op++) {
        const char *s = em_op_name((em_op)op);
        if (!s) continue;
        char *d = node_names[op];
        size_t k = 0;
        for (bool up = true; *s && k < sizeof node_names[0] - 10; s++) {
            if (*s == '_') {
                up = true;
                continue;
            }
            d[k++] = up ? (char)toupper((unsigned char)*s) : *s;
            up = false;
        }
        memcpy(d + k, "Backward0", 10);
    }
}

const char *em__ag_op_node_name(em_op op) {
    pthread_once(&names_once, make_names);
    return (unsigned)op < EM_OP_COUNT && node_names[op][0] ? node_names[op] : "UnknownBackward0";
}
