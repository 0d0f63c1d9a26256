/* Per-tensor autograd state (requires_grad, grad, hooks), grad mode, and the
 * lifetime of graph nodes. */
#include "ag.h"

#include <stdlib.h>

_Thread_local bool em__ag_off = false;
static _Thread_local bool inference_on = false;
static atomic_llong next_hook_id = 1;

bool em_set_grad_enabled(bool enabled) {
    bool prev = !em__ag_off;
    if (!inference_on) em__ag_off = !enabled;
    return prev;
}
bool em_is_grad_enabled(void) { return !em__ag_off; }

bool em_set_inference_mode(bool enabled) {
    bool prev = inference_on;
    if (enabled && !inference_on) {
        inference_on = true;
        em__ag_off = true;
    } else if (!enabled && inference_on) {
        inference_on = false;
        em__ag_off = false;
    }
    return prev;
}
bool em_is_inference_mode(void) { return inference_on; }

void em__ag_hooks_free(em__ag_hook *h) {
    while (h) {
        em__ag_hook *next = h->next;
        if (h->ctx_free) h->ctx_free(h->ctx);
        em__free(h);
        h = next;
    }
}

em__ag_node *em__ag_node_retain(em__ag_node *n) {
    if (n) atomic_fetch_add(&n->refcount, 1);
    return n;
}

static void edge_clear(em__ag_edge *e, em__ag_node **list) {
    em_tensor_free(e->leaf);
    e->leaf = NULL;
    em__ag_node *c = e->node;
    e->node = NULL;
    if (c && atomic_fetch_sub(&c->refcount, 1) == 1) {
        c->free_next = *list;
        *list = c;
    }
}

/* Releasing the last reference to a long chain frees it with a worklist, so
 * a graph of a million ops cannot overflow the C stack. */
void em__ag_node_release(em__ag_node *n) {
    if (!n || atomic_fetch_sub(&n->refcount, 1) != 1) return;
    n->free_next = NULL;
    em__ag_node *list = n;
    while (list) {
        em__ag_node *c = list;
        list = c->free_next;
        for (int i = 0; i < c->nin; i++) edge_clear(i < EM__AG_MAX_IN ? &c->in[i] : &c->xin[i - EM__AG_MAX_IN], &list);
        for (int k = 0; k < EM__AG_MAX_SAVED; k++) em_tensor_free(c->saved[k]);
        for (int k = 0; k < c->nextra; k++) em_tensor_free(c->extra[k]);
        em__free(c->extra);
        em__free(c->xin);
        em__free(c->params);
        em__ag_hooks_free(c->hooks);
        em_tensor_free(c->buf);
        em__free(c);
    }
}

void em__ag_meta_free(void *p) {
    em__ag_meta *m = p;
    em__ag_node *n = m->grad_fn;
    bool embedded = m->embedded;
    em_tensor_free(m->grad);
    em__ag_hooks_free(m->hooks);
    if (!embedded) em__free(m);
    em__ag_node_release(n); /* last: an embedded meta lives in n */
}

em_status em__ag_detach_inplace(em_tensor *t) {
    em__ag_meta *m = t->autograd;
    if (!m) return EM_OK;
    if (m->embedded) { /* move out of the node before releasing it */
        em__ag_meta *c = em__alloc_small(sizeof *c);
        if (!c) return em__error(EM_ERR_NOMEM, "detach_: out of memory");
        *c = *m;
        c->embedded = false;
        t->autograd = c;
        m = c;
    }
    em__ag_node *n = m->grad_fn;
    m->grad_fn = NULL;
    m->requires_grad = false;
    em__ag_node_release(n);
    return EM_OK;
}

em_status em__ag_meta_of(em_tensor *t, em__ag_meta **out) {
    if (!t->autograd) {
        em__ag_meta *m = em__alloc_small(sizeof *m);
        if (!m) return em__error(EM_ERR_NOMEM, "autograd: out of memory");
        memset(m, 0, sizeof *m);
        t->autograd = m;
    }
    *out = t->autograd;
    return EM_OK;
}

em_status em_tensor_set_requires_grad(em_tensor *t, bool requires_grad) {
    if (!t) return em__error(EM_ERR_INVALID_ARG, "set_requires_grad: NULL tensor");
    em__ag_meta *m = t->autograd;
    if (m && m->grad_fn) {
        if (requires_grad) return EM_OK;
        return em__error(EM_ERR_INVALID_ARG,
                         "set_requires_grad: the tensor was computed by %s and is not a leaf; requires_grad can only "
                         "be turned off on leaves (use detach())", m->grad_fn->name);
    }
    if (requires_grad && !em_dtype_is_float(t->dtype)) {
        char b[EM_DESC_LEN];
        return em__error(EM_ERR_DTYPE,
                         "set_requires_grad: Only Tensors of floating point dtype can require gradients, not %s",
                         em__desc(t, b));
    }
    if (!m && !requires_grad) return EM_OK;
    EM_TRY(em__ag_meta_of(t, &m));
    m->requires_grad = requires_grad;
    return EM_OK;
}

bool em_tensor_requires_grad(const em_tensor *t) { return em__ag_req(t); }

bool em_tensor_is_leaf(const em_tensor *t) {
    return !t || !t->autograd || !((const em__ag_meta *)t->autograd)->grad_fn;
}

em_tensor *em_tensor_grad(const em_tensor *t) {
    return t && t->autograd ? ((const em__ag_meta *)t->autograd)->grad : NULL;
}

em_status em_tensor_set_grad(em_tensor *t, em_tensor *grad) {
    if (!t) return em__error(EM_ERR_INVALID_ARG, "set_grad: NULL tensor");
    if (grad) {
        char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
        bool same = grad->ndim == t->ndim && !memcmp(grad->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
        if (!same)
            return em__error(EM_ERR_SHAPE, "set_grad: gradient %s does not have the tensor's shape %s",
                             em__desc(grad, b1), em__desc(t, b2));
        if (grad->dtype != t->dtype)
            return em__error(EM_ERR_DTYPE, "set_grad: gradient %s does not have the tensor's dtype %s",
                             em__desc(grad, b1), em_dtype_name(t->dtype));
        if (grad == t) return em__error(EM_ERR_INVALID_ARG, "set_grad: a tensor cannot be its own gradient");
    }
    em__ag_meta *m = NULL;
    if (!grad && !t->autograd) return EM_OK;
    EM_TRY(em__ag_meta_of(t, &m));
    em_tensor *old = m->grad;
    m->grad = em_tensor_retain(grad);
    em_tensor_free(old);
    return EM_OK;
}

em_status em_tensor_detach(const em_tensor *t, em_tensor **out) {
    if (!t || !out) return em__error(EM_ERR_INVALID_ARG, "detach: NULL argument");
    return em__view(t, t->dtype, t->ndim, t->shape, t->strides, t->offset, out);
}

const char *em_tensor_grad_fn_name(const em_tensor *t) {
    em__ag_meta *m = t ? t->autograd : NULL;
    return m && m->grad_fn ? m->grad_fn->name : NULL;
}

em_status em_tensor_register_hook(em_tensor *t, em_grad_hook_fn fn, void *ctx, void (*ctx_free)(void *),
                                  int64_t *id) {
    if (!t || !fn) return em__error(EM_ERR_INVALID_ARG, "register_hook: NULL argument");
    if (!em__ag_req(t))
        return em__error(EM_ERR_INVALID_ARG,
                         "register_hook: cannot register a hook on a tensor that doesn't require gradient");
    em__ag_hook *h = em__alloc_small(sizeof *h);
    if (!h) return em__error(EM_ERR_NOMEM, "register_hook: out of memory");
    em__ag_meta *m = t->autograd;
    em__ag_hook **head = m->grad_fn ? &m->grad_fn->hooks : &m->hooks;
    h->fn = fn;
    h->ctx = ctx;
    h->ctx_free = ctx_free;
    h->id = atomic_fetch_add(&next_hook_id, 1);
    h->next = NULL;
    while (*head) head = &(*head)->next; /* registration order is call order */
    *head = h;
    if (id) *id = h->id;
    return EM_OK;
}

bool em_tensor_remove_hook(em_tensor *t, int64_t id) {
    em__ag_meta *m = t ? t->autograd : NULL;
    if (!m) return false;
    em__ag_hook **head = m->grad_fn ? &m->grad_fn->hooks : &m->hooks;
    for (; *head; head = &(*head)->next)
        if ((*head)->id == id) {
            em__ag_hook *h = *head;
            *head = h->next;
            h->next = NULL;
            em__ag_hooks_free(h);
            return true;
        }
    return false;
}

em_status em__ag_check_inplace(const char *op, em_tensor *out, const em_tensor *a, const em_tensor *b) {
    /* Only the destination matters: kernels of unrecorded ops write inputs
     * that require grad into fresh buffers all the time (their results
     * simply do not require grad). */
    (void)a;
    (void)b;
    if (!em__ag_off && em__ag_req(out)) {
        if (em__ag_req(out) && em_tensor_is_leaf(out))
            return em__error(EM_ERR_INVALID_ARG,
                             "%s: a leaf tensor that requires grad is being used in an in-place operation; "
                             "wrap it in no_grad() (e.g. for an optimiser update)", op);
        return em__error(EM_ERR_UNSUPPORTED,
                         "%s: in-place operations on tensors that require grad are not recorded by ember's "
                         "autograd; use the out-of-place op, or no_grad()", op);
    }
    em__ag_bump(out);
    return EM_OK;
}
