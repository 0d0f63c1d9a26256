/* ember/autograd.h — reverse-mode autodiff, optimiser steps, losses (issue 4).  Included by ember.h.
 *
 * Eager tape (docs/autograd.md): while grad mode is on (a per-thread flag,
 * on by default), every differentiable op whose float input requires grad
 * records a node {backward formula, saved tensors, input edges} on its
 * output.  em_backward walks the nodes from a root in reverse topological
 * order and accumulates d(root)/d(leaf) into each leaf's grad.  The backward
 * formulas are written with the public em_* ops, so a backward run with
 * create_graph records its own graph: higher derivatives come for free.
 *
 * Thread contract: grad mode is per thread; a graph is not synchronised, so
 * run one backward over a given graph at a time.
 */
#ifndef EMBER_AUTOGRAD_H
#define EMBER_AUTOGRAD_H

/* ---- per-tensor state --------------------------------------------------- */
/* Marks a leaf as needing its gradient (float dtypes only, EM_ERR_DTYPE
 * otherwise).  Turning it off on a tensor computed from others (not a leaf)
 * is EM_ERR_INVALID_ARG: detach it instead. */
EM_API em_status em_tensor_set_requires_grad(em_tensor *t, bool requires_grad);
/* Whether t requires grad (a leaf marked so, or a result recorded from one). */
EM_API bool em_tensor_requires_grad(const em_tensor *t);
/* Whether t is a leaf: made by the user, or not requiring grad. */
EM_API bool em_tensor_is_leaf(const em_tensor *t);
/* The accumulated gradient of t, or NULL if none.  A BORROWED reference
 * owned by t: valid until t's grad is next set, accumulated or freed.  Call
 * em_tensor_retain to keep it.  In-place writes into it (zeroing, optimiser
 * updates) are allowed. */
EM_API em_tensor *em_tensor_grad(const em_tensor *t);
/* Replaces t's gradient by grad (NULL clears it); t takes a new reference to
 * grad.  grad must have t's shape and dtype. */
EM_API em_status em_tensor_set_grad(em_tensor *t, em_tensor *grad);
/* A new handle sharing t's storage, outside any graph and not requiring
 * grad.  Free with em_tensor_free.  y = x. */
EM_API em_status em_tensor_detach(const em_tensor *t, em_tensor **out);
/* Name of the node that computed t ("AddBackward0"), or NULL for a leaf.
 * Static string. */
EM_API const char *em_tensor_grad_fn_name(const em_tensor *t);

/* ---- grad mode (thread-local) ------------------------------------------- */
/* Sets whether ops record on this thread; returns the previous setting. */
EM_API bool em_set_grad_enabled(bool enabled);
EM_API bool em_is_grad_enabled(void);
/* Inference mode: grad mode off and, while it is on, em_set_grad_enabled
 * cannot turn recording back on.  Returns the previous setting. */
EM_API bool em_set_inference_mode(bool enabled);
EM_API bool em_is_inference_mode(void);

/* ---- hooks -------------------------------------------------------------- */
/* Called with the gradient of the tensor it is registered on, once per
 * backward, when that gradient is complete (before it is accumulated into a
 * leaf's grad, or before the node that made a non-leaf runs).  *replace may
 * be set to a new reference to use instead of grad (same shape); leave it
 * NULL to keep grad.  A non-EM_OK status aborts the backward with it. */
typedef em_status (*em_grad_hook_fn)(const em_tensor *grad, em_tensor **replace, void *ctx);
/* Registers fn on t (which must require grad).  ctx_free(ctx), if not NULL,
 * is called when the hook is removed or t's graph is freed.  *id (may be
 * NULL) receives an id for em_tensor_remove_hook. */
EM_API em_status em_tensor_register_hook(em_tensor *t, em_grad_hook_fn fn, void *ctx, void (*ctx_free)(void *),
                                         int64_t *id);
/* Removes hook id from t; returns whether it was there. */
EM_API bool em_tensor_remove_hook(em_tensor *t, int64_t id);

/* ---- backward ----------------------------------------------------------- */
typedef struct em_backward_options {
    bool retain_graph; /* keep saved tensors so the graph can be run again */
    bool create_graph; /* record the backward itself (higher derivatives); implies retain_graph */
    bool allow_unused; /* em_grad: an input the outputs do not depend on gives NULL instead of an error */
} em_backward_options;
EM_API em_backward_options em_backward_default_options(void);
/* Accumulates d(sum root * grad)/d(leaf) into the grad of every leaf that
 * requires grad and that root depends on.  grad has root's shape (NULL: root
 * must have one element and grad is 1).  Without retain_graph the saved
 * tensors of the graph are freed; a second backward through it is then
 * EM_ERR_INVALID_ARG.  opts NULL = defaults.  Takes no ownership. */
EM_API em_status em_backward(em_tensor *root, const em_tensor *grad, const em_backward_options *opts);
/* The same for n roots at once (grads may be NULL, or hold NULL entries for
 * one-element roots). */
EM_API em_status em_backward_n(em_tensor *const *roots, const em_tensor *const *grads, int n,
                               const em_backward_options *opts);
/* grads_out[j] = d(sum_i outputs[i] * grad_outputs[i]) / d inputs[j], as new
 * references (free each with em_tensor_free), without touching any grad
 * field.  grad_outputs may be NULL (all outputs one-element).  An input the
 * outputs do not depend on is EM_ERR_INVALID_ARG unless opts->allow_unused
 * (then NULL).  With create_graph the results require grad. */
EM_API em_status em_grad(em_tensor *const *outputs, const em_tensor *const *grad_outputs, int nout,
                         em_tensor *const *inputs, int nin, const em_backward_options *opts, em_tensor **grads_out);

#endif
