/* The backward engine: graph discovery, dependency counting, execution in
 * reverse creation order (deterministic), gradient accumulation. */
#include "ag.h"

#include <stdlib.h>

static em__ag_edge *edge_at(em__ag_node *n, int i) { return i < EM__AG_MAX_IN ? &n->in[i] : &n->xin[i - EM__AG_MAX_IN]; }

/* Growable arrays through the allocator hooks. */
typedef struct {
    void **p;
    int n, cap;
} vec;
static em_status vec_push(vec *v, void *x) {
    if (v->n == v->cap) {
        int cap = v->cap ? 2 * v->cap : 64;
        void **p = em__alloc_small(sizeof(void *) * (size_t)cap);
        if (!p) return em__error(EM_ERR_NOMEM, "backward: out of memory");
        if (v->n) memcpy(p, v->p, sizeof(void *) * (size_t)v->n);
        em__free(v->p);
        v->p = p;
        v->cap = cap;
    }
    v->p[v->n++] = x;
    return EM_OK;
}

/* g summed over broadcast axes and cast, so it has the edge's shape and dtype. */
static em_status fit_to_edge(const char *name, em_tensor *g, const em__ag_edge *e, em_tensor **out) {
    em_tensor *cur = em_tensor_retain(g), *nxt = NULL;
    bool same = cur->ndim == e->ndim && !memcmp(cur->shape, e->shape, sizeof(int64_t) * (size_t)e->ndim);
    if (!same) {
        int lead = cur->ndim - e->ndim, axes[EM_MAX_DIMS], na = 0;
        if (lead < 0) goto bad;
        for (int i = 0; i < cur->ndim; i++) {
            if (i < lead) axes[na++] = i;
            else if (e->shape[i - lead] == 1 && cur->shape[i] != 1) axes[na++] = i;
            else if (e->shape[i - lead] != cur->shape[i]) goto bad;
        }
        if (na) {
            em_reduce_options o = em_reduce_default_options();
            o.axes = axes;
            o.naxes = na;
            o.keepdims = true;
            em_status st = em_reduce(EM_OP_SUM, cur, &o, &nxt);
            em_tensor_free(cur);
            if (st) return st;
            cur = nxt;
        }
        em_status st = em_tensor_reshape(cur, e->ndim, e->shape, &nxt);
        em_tensor_free(cur);
        if (st) return st;
        cur = nxt;
    }
    if (cur->dtype != e->dtype) {
        em_status st = em_tensor_cast(cur, e->dtype, &nxt);
        em_tensor_free(cur);
        if (st) return st;
        cur = nxt;
    }
    *out = cur;
    return EM_OK;
bad:;
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    em_tensor_free(cur);
    return em__error(EM_ERR_INTERNAL, "backward: %s produced a gradient of shape %s for an input of shape %s", name,
                     em__desc(g, b1), em__shape_str(e->ndim, e->shape, b2));
}

/* *acc += g out of place (a gradient may be shared by several edges). */
static em_status accumulate(em_tensor **acc, em_tensor *g) {
    if (!*acc) {
        *acc = em_tensor_retain(g);
        return EM_OK;
    }
    em_tensor *s;
    EM_TRY(em_binary(EM_OP_ADD, *acc, g, &s));
    em_tensor_free(*acc);
    *acc = s;
    return EM_OK;
}

static em_status run_hooks(em__ag_hook *h, em_tensor **g) {
    for (; h; h = h->next) {
        em_tensor *rep = NULL;
        em_status st = h->fn(*g, &rep, h->ctx);
        if (st) {
            em_tensor_free(rep);
            return st;
        }
        if (rep) {
            char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
            bool same = rep->ndim == (*g)->ndim && !memcmp(rep->shape, (*g)->shape, sizeof(int64_t) * (size_t)rep->ndim);
            if (!same) {
                em__error(EM_ERR_SHAPE, "backward: a hook returned a gradient of shape %s for one of shape %s",
                          em__desc(rep, b1), em__desc(*g, b2));
                em_tensor_free(rep);
                return EM_ERR_SHAPE;
            }
            em_tensor_free(*g);
            *g = rep;
        }
    }
    return EM_OK;
}

/* A leaf reached during a run and the sum of its gradients. */
typedef struct {
    em_tensor *leaf;
    em_tensor *g;
} leaf_acc;

typedef struct {
    vec nodes;   /* discovered */
    vec heap;    /* ready nodes, max seq on top */
    leaf_acc *leaves;
    int nleaves, capleaves;
    /* em_grad: the requested inputs */
    em_tensor *const *inputs;
    int ninputs;
    em_tensor **captured;
    bool accumulate;
    bool create_graph, retain_graph;
} run_ctx;

static em_status leaf_add(run_ctx *c, em_tensor *leaf, em_tensor *g) {
    for (int i = 0; i < c->nleaves; i++)
        if (c->leaves[i].leaf->autograd == leaf->autograd) return accumulate(&c->leaves[i].g, g);
    if (c->nleaves == c->capleaves) {
        int cap = c->capleaves ? 2 * c->capleaves : 16;
        leaf_acc *p = em__alloc_small(sizeof *p * (size_t)cap);
        if (!p) return em__error(EM_ERR_NOMEM, "backward: out of memory");
        if (c->nleaves) memcpy(p, c->leaves, sizeof *p * (size_t)c->nleaves);
        em__free(c->leaves);
        c->leaves = p;
        c->capleaves = cap;
    }
    c->leaves[c->nleaves].leaf = leaf;
    c->leaves[c->nleaves++].g = em_tensor_retain(g);
    return EM_OK;
}

static void heap_push(vec *h, em__ag_node *n) {
    /* capacity reserved at discovery */
    int i = h->n++;
    h->p[i] = n;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (((em__ag_node *)h->p[p])->seq >= n->seq) break;
        h->p[i] = h->p[p];
        h->p[p] = n;
        i = p;
    }
}
static em__ag_node *heap_pop(vec *h) {
    em__ag_node *top = h->p[0];
    em__ag_node *last = h->p[--h->n];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        int64_t ms = last->seq;
        if (l < h->n && ((em__ag_node *)h->p[l])->seq > ms) {
            m = l;
            ms = ((em__ag_node *)h->p[l])->seq;
        }
        if (r < h->n && ((em__ag_node *)h->p[r])->seq > ms) m = r;
        if (m == i) break;
        h->p[i] = h->p[m];
        i = m;
    }
    if (h->n) h->p[i] = last;
    return top;
}

static int input_index(const run_ctx *c, const em_tensor *t) {
    for (int i = 0; i < c->ninputs; i++)
        if (c->inputs[i]->autograd == t->autograd) return i;
    return -1;
}
static int input_of_node(const run_ctx *c, const em__ag_node *n) {
    for (int i = 0; i < c->ninputs; i++)
        if (((em__ag_meta *)c->inputs[i]->autograd)->grad_fn == n) return i;
    return -1;
}

/* Discovers the graph under the roots; state: 1 = discovered, 2 = needed. */
static em_status discover(run_ctx *c, em__ag_node *const *roots, int nroots) {
    vec stack = {0};
    em_status st = EM_OK;
    for (int r = 0; r < nroots && !st; r++) {
        if (!roots[r] || roots[r]->state) continue;
        roots[r]->state = 1;
        roots[r]->deps = 0;
        if ((st = vec_push(&c->nodes, roots[r])) || (st = vec_push(&stack, roots[r]))) break;
        while (stack.n && !st) {
            em__ag_node *n = stack.p[--stack.n];
            for (int i = 0; i < n->nin; i++) {
                em__ag_node *ch = edge_at(n, i)->node;
                if (!ch) continue;
                if (!ch->state) {
                    ch->state = 1;
                    ch->deps = 0;
                    if ((st = vec_push(&c->nodes, ch)) || (st = vec_push(&stack, ch))) break;
                }
                ch->deps++;
            }
        }
    }
    em__free(stack.p);
    if (st) return st;
    /* heap capacity: every node at most once */
    c->heap.p = em__alloc_small(sizeof(void *) * (size_t)(c->nodes.n + 1));
    if (!c->heap.p) return em__error(EM_ERR_NOMEM, "backward: out of memory");
    c->heap.cap = c->nodes.n + 1;
    return EM_OK;
}

static int by_seq(const void *a, const void *b) {
    int64_t x = (*(em__ag_node *const *)a)->seq, y = (*(em__ag_node *const *)b)->seq;
    return x < y ? -1 : x > y;
}

/* em_grad: a node is needed when it leads to a requested input.  Inputs of
 * a node were created before it, so one pass in creation order suffices. */
static void mark_needed(run_ctx *c) {
    vec *v = &c->nodes;
    qsort(v->p, (size_t)v->n, sizeof(void *), by_seq);
    for (int k = 0; k < v->n; k++) {
        em__ag_node *n = v->p[k];
        bool need = c->accumulate || input_of_node(c, n) >= 0;
        for (int i = 0; i < n->nin && !need; i++) {
            em__ag_edge *e = edge_at(n, i);
            if (e->node && e->node->state == 2) need = true;
            if (e->leaf && input_index(c, e->leaf) >= 0) need = true;
        }
        if (need) n->state = 2;
    }
}

static bool edge_needed(const run_ctx *c, const em__ag_edge *e) {
    if (e->node) return e->node->state == 2;
    if (e->leaf) return c->accumulate || input_index(c, e->leaf) >= 0;
    return false;
}

static em_status run_node(run_ctx *c, em__ag_node *n) {
    em_status st = EM_OK;
    em_tensor *g = n->buf;
    n->buf = NULL;
    if (n->hooks && (st = run_hooks(n->hooks, &g))) goto out;
    if (c->captured) {
        int k = input_of_node(c, n);
        if (k >= 0 && (st = accumulate(&c->captured[k], g))) goto out;
    }
    if (n->state != 2) goto out;
    bool need[256], any = false;
    em_tensor *gin_small[8] = {0}, **gin = gin_small;
    if (n->nin > 256) {
        st = em__error(EM_ERR_UNSUPPORTED, "backward: %s has %d inputs (at most 256)", n->name, n->nin);
        goto out;
    }
    if (n->nin > 8 && !(gin = em__calloc(sizeof(em_tensor *) * (size_t)n->nin))) {
        st = em__error(EM_ERR_NOMEM, "backward: out of memory");
        goto out;
    }
    for (int i = 0; i < n->nin; i++) any |= need[i] = edge_needed(c, edge_at(n, i));
    if (any) st = n->backward(n, g, need, gin);
    for (int i = 0; i < n->nin; i++) {
        em__ag_edge *e = edge_at(n, i);
        if (!gin[i]) continue;
        em_tensor *f = NULL;
        if (!st && need[i] && !(st = fit_to_edge(n->name, gin[i], e, &f))) {
            if (e->node) st = accumulate(&e->node->buf, f);
            else st = leaf_add(c, e->leaf, f);
        }
        em_tensor_free(f);
        em_tensor_free(gin[i]);
    }
    if (gin != gin_small) em__free(gin);
    if (!c->retain_graph && !st) {
        for (int k = 0; k < EM__AG_MAX_SAVED; k++) {
            em_tensor_free(n->saved[k]);
            n->saved[k] = NULL;
        }
        n->freed = true;
    }
out:
    em_tensor_free(g);
    return st;
}

/* Accumulates into a leaf's grad: the first gradient is taken over when
 * nothing else references it (else copied), later ones are added in place
 * (out of place when recording, so the grad keeps its graph). */
static em_status accumulate_leaf(em_tensor *leaf, em_tensor *g, bool create_graph) {
    em__ag_meta *m = leaf->autograd;
    if (!m->grad) {
        bool own = atomic_load(&g->refcount) == 1 && atomic_load(&g->storage->refcount) == 1 &&
                   em__is_contiguous(g) && !g->autograd && g->storage->release == NULL;
        if (own || create_graph) m->grad = em_tensor_retain(g);
        else EM_TRY(em_tensor_clone(g, &m->grad));
        return EM_OK;
    }
    if (create_graph || em__ag_req(m->grad)) {
        em_tensor *s;
        EM_TRY(em_binary(EM_OP_ADD, m->grad, g, &s));
        em_tensor_free(m->grad);
        m->grad = s;
        return EM_OK;
    }
    return em_binary_into(EM_OP_ADD, m->grad, g, m->grad);
}

static em_status check_root_grad(const em_tensor *root, const em_tensor *g, int i, em_tensor **out) {
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    if (!g) {
        if (em__numel(root->ndim, root->shape) != 1)
            return em__error(EM_ERR_SHAPE,
                             "backward: grad can be implicitly created only for one-element outputs; output %d is %s "
                             "(pass a gradient of its shape)", i, em__desc(root, b1));
        return em_tensor_full(root->dtype, root->ndim, root->shape, 1.0, out);
    }
    bool same = g->ndim == root->ndim && !memcmp(g->shape, root->shape, sizeof(int64_t) * (size_t)g->ndim);
    if (!same)
        return em__error(EM_ERR_SHAPE, "backward: gradient %s does not have the shape of output %d, %s",
                         em__desc(g, b1), i, em__desc(root, b2));
    if (g->dtype != root->dtype) return em_tensor_cast(g, root->dtype, out);
    *out = em_tensor_retain((em_tensor *)g);
    return EM_OK;
}

static em_status run(em_tensor *const *roots, const em_tensor *const *grads, int nroots, em_tensor *const *inputs,
                     int ninputs, const em_backward_options *opts, em_tensor **grads_out) {
    em_backward_options o = opts ? *opts : em_backward_default_options();
    const char *op = grads_out ? "grad" : "backward";
    if (nroots < 0 || (nroots && !roots) || (ninputs && !inputs) || ninputs < 0)
        return em__error(EM_ERR_INVALID_ARG, "%s: NULL or negative argument", op);
    for (int i = 0; i < nroots; i++) {
        if (!roots[i]) return em__error(EM_ERR_INVALID_ARG, "%s: output %d is NULL", op, i);
        if (!em__ag_req(roots[i]))
            return em__error(EM_ERR_INVALID_ARG,
                             "%s: element %d of the outputs does not require grad and has no grad_fn (did a leaf "
                             "miss requires_grad, or did it run under no_grad?)", op, i);
    }
    for (int i = 0; i < ninputs; i++) {
        if (!inputs[i]) return em__error(EM_ERR_INVALID_ARG, "%s: input %d is NULL", op, i);
        if (!em__ag_req(inputs[i]))
            return em__error(EM_ERR_INVALID_ARG, "%s: input %d does not require grad", op, i);
    }
    run_ctx c = {0};
    c.inputs = inputs;
    c.ninputs = ninputs;
    c.captured = grads_out ? em__calloc(sizeof(em_tensor *) * (size_t)(ninputs + 1)) : NULL;
    c.accumulate = !grads_out;
    c.create_graph = o.create_graph;
    c.retain_graph = o.retain_graph || o.create_graph; /* a recorded backward reads the saved tensors again */
    em__ag_node *rn_small[8], **rn = rn_small;
    if ((grads_out && !c.captured) || (nroots > 8 && !(rn = em__alloc_small(sizeof(void *) * (size_t)nroots)))) {
        em__free(c.captured);
        return em__error(EM_ERR_NOMEM, "%s: out of memory", op);
    }
    bool saved_off = em__ag_off;
    em__ag_off = !o.create_graph;
    em_status st = EM_OK;
    for (int i = 0; i < nroots; i++) rn[i] = ((em__ag_meta *)roots[i]->autograd)->grad_fn;
    if ((st = discover(&c, rn, nroots))) goto done;
    mark_needed(&c);
    if (grads_out && !o.allow_unused) /* before running, so a failing call leaves the graph intact */
        for (int i = 0; i < ninputs && !st; i++) {
            em__ag_meta *m = inputs[i]->autograd;
            bool used = m->grad_fn ? m->grad_fn->state != 0 : false;
            for (int r = 0; r < nroots && !used; r++) used = roots[r]->autograd == m;
            for (int k = 0; k < c.nodes.n && !used; k++) {
                em__ag_node *n = c.nodes.p[k];
                for (int j = 0; j < n->nin && !used; j++) used = edge_at(n, j)->leaf && edge_at(n, j)->leaf->autograd == m;
            }
            if (!used)
                st = em__error(EM_ERR_INVALID_ARG,
                               "grad: input %d was not used to compute the outputs (pass allow_unused=True to get "
                               "None for it)", i);
        }
    if (st) goto done;
    for (int i = 0; i < nroots && !st; i++) {
        em_tensor *g = NULL;
        if ((st = check_root_grad(roots[i], grads ? grads[i] : NULL, i, &g))) break;
        if (rn[i]) st = accumulate(&rn[i]->buf, g);
        else if (c.accumulate || input_index(&c, roots[i]) >= 0) st = leaf_add(&c, roots[i], g);
        em_tensor_free(g);
    }
    for (int k = 0; k < c.nodes.n && !st; k++)
        if (((em__ag_node *)c.nodes.p[k])->deps == 0) heap_push(&c.heap, c.nodes.p[k]);
    while (c.heap.n && !st) {
        em__ag_node *n = heap_pop(&c.heap);
        if (n->buf) st = run_node(&c, n);
        for (int i = 0; i < n->nin; i++) {
            em__ag_node *ch = edge_at(n, i)->node;
            if (ch && --ch->deps == 0) heap_push(&c.heap, ch);
        }
    }
    for (int i = 0; i < c.nleaves && !st; i++) {
        leaf_acc *l = &c.leaves[i];
        em__ag_meta *m = l->leaf->autograd;
        if (m->hooks && (st = run_hooks(m->hooks, &l->g))) break;
        if (c.accumulate) st = accumulate_leaf(l->leaf, l->g, o.create_graph);
        else st = accumulate(&c.captured[input_index(&c, l->leaf)], l->g);
    }
    if (!st && grads_out) {
        for (int i = 0; i < ninputs && !st; i++) /* used, but no gradient reached it: zero */
            if (!c.captured[i] && !o.allow_unused)
                st = em_tensor_zeros(inputs[i]->dtype, inputs[i]->ndim, inputs[i]->shape, &c.captured[i]);
        if (!st) {
            /* the caller owns results outside any graph unless create_graph */
            for (int i = 0; i < ninputs; i++) grads_out[i] = c.captured[i];
            em__free(c.captured);
            c.captured = NULL;
        }
    }
done:
    em__ag_off = saved_off;
    for (int k = 0; k < c.nodes.n; k++) {
        em__ag_node *n = c.nodes.p[k];
        em_tensor_free(n->buf);
        n->buf = NULL;
        n->state = 0;
        n->deps = 0;
    }
    for (int i = 0; i < c.nleaves; i++) em_tensor_free(c.leaves[i].g);
    if (c.captured)
        for (int i = 0; i < ninputs; i++) em_tensor_free(c.captured[i]);
    em__free(c.captured);
    em__free(c.leaves);
    em__free(c.nodes.p);
    em__free(c.heap.p);
    if (rn != rn_small) em__free(rn);
    return st;
}

em_backward_options em_backward_default_options(void) {
    em_backward_options o = {false, false, false};
    return o;
}

em_status em_backward(em_tensor *root, const em_tensor *grad, const em_backward_options *opts) {
    if (!root) return em__error(EM_ERR_INVALID_ARG, "backward: NULL tensor");
    const em_tensor *g[1] = {grad};
    return run(&root, g, 1, NULL, 0, opts, NULL);
}

em_status em_backward_n(em_tensor *const *roots, const em_tensor *const *grads, int n,
                        const em_backward_options *opts) {
    return run(roots, grads, n, NULL, 0, opts, NULL);
}

em_status em_grad(em_tensor *const *outputs, const em_tensor *const *grad_outputs, int nout,
                  em_tensor *const *inputs, int nin, const em_backward_options *opts, em_tensor **grads_out) {
    if (!grads_out && nin) return em__error(EM_ERR_INVALID_ARG, "grad: grads_out is NULL");
    em_tensor *dummy[1];
    return run(outputs, grad_outputs, nout, inputs, nin, opts, grads_out ? grads_out : dummy);
}
