/* Internals of the autograd layer: per-tensor metadata, graph nodes, and the
 * cheap record hooks the ops call (see docs/autograd.md). */
#ifndef EMBER_AG_H
#define EMBER_AG_H

#include "../internal.h"

#include <math.h>

typedef struct em__ag_node em__ag_node;

typedef struct em__ag_hook {
    struct em__ag_hook *next;
    em_grad_hook_fn fn;
    void *ctx;
    void (*ctx_free)(void *);
    int64_t id;
} em__ag_hook;

/* Hung on em_tensor.autograd.  Owned by the handle; freed with it. */
typedef struct em__ag_meta {
    bool requires_grad;   /* first: the record hook reads only this */
    bool embedded;        /* lives inside its grad_fn node (one allocation per recorded op) */
    em__ag_node *grad_fn; /* strong reference; NULL for a leaf */
    em_tensor *grad;      /* strong reference or NULL */
    em__ag_hook *hooks;   /* leaf hooks (a non-leaf's live on its node) */
} em__ag_meta;

/* Where the gradient of one input goes: into a node, or a leaf's grad. */
typedef struct em__ag_edge {
    em__ag_node *node; /* strong reference */
    em_tensor *leaf;   /* strong reference (a leaf requiring grad) */
    em_dtype dtype;    /* the input's dtype and shape: gradients are cast and summed back to them */
    int ndim;
    int64_t shape[EM_MAX_DIMS];
} em__ag_edge;

#define EM__AG_MAX_SAVED 4
#define EM__AG_MAX_IN 3

/* Gradient formula: g is the gradient of the node's output (never NULL);
 * gin[i] receives a new reference to the gradient of input i, or stays NULL
 * (zero / not needed).  need[i] says which inputs want one. */
typedef em_status (*em__ag_backward_fn)(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin);

struct em__ag_node {
    atomic_int refcount;
    int nin;
    const char *name;            /* "AddBackward0" */
    em__ag_backward_fn backward;
    int64_t seq;                 /* creation order: later nodes run first */
    em__ag_edge in[EM__AG_MAX_IN];
    em_tensor *saved[EM__AG_MAX_SAVED];   /* inputs (their handles) or detached outputs */
    uint32_t saved_version[EM__AG_MAX_SAVED];
    bool saved_is_output[EM__AG_MAX_SAVED];
    bool freed;                  /* saved tensors released by a backward without retain_graph */
    /* op parameters */
    int op;
    double alpha;
    int64_t i[EM_MAX_DIMS];
    em_tensor **extra;           /* variable-length inputs (concat): strong references */
    int nextra;
    em__ag_edge *xin;            /* edges beyond EM__AG_MAX_IN (concat/stack) */
    em__ag_hook *hooks;          /* hooks of the output tensor */
    int64_t *params;             /* large op parameters (em__alloc), freed with the node */
    /* engine scratch, valid during one backward */
    em_tensor *buf;
    int deps;
    int state;
    em__ag_node *free_next; /* destruction worklist (no recursion on long chains) */
    em__ag_meta out_meta;   /* the output's metadata, when it had none */
};

/* ---- grad mode ------------------------------------------------------------ */
extern _Thread_local bool em__ag_off;  /* true: grad mode disabled */

static inline bool em__ag_req(const em_tensor *t) {
    return t && t->autograd && ((const em__ag_meta *)t->autograd)->requires_grad;
}
/* Whether an op with these inputs must record (cheap: the common case is
 * one load and a branch). */
static inline bool em__ag_want1(const em_tensor *a) { return !em__ag_off && em__ag_req(a); }
static inline bool em__ag_want2(const em_tensor *a, const em_tensor *b) {
    return !em__ag_off && (em__ag_req(a) || em__ag_req(b));
}

/* Runs expr with recording off (an op built from other public ops records
 * one node for itself, not one per inner op). */
#define EM__AG_NOREC(st, expr)            \
    do {                                  \
        bool em_ag_o_ = em__ag_off;       \
        em__ag_off = true;                \
        st = (expr);                      \
        em__ag_off = em_ag_o_;            \
    } while (0)

/* ---- metadata -------------------------------------------------------------- */
em_status em__ag_meta_of(em_tensor *t, em__ag_meta **out); /* creates on demand */
void em__ag_meta_free(void *meta);                         /* called by em_tensor_free */
void em__ag_node_release(em__ag_node *n);
em__ag_node *em__ag_node_retain(em__ag_node *n);
void em__ag_hooks_free(em__ag_hook *h);
/* Makes t a leaf that does not require grad (Tensor.detach_). */
em_status em__ag_detach_inplace(em_tensor *t);

/* ---- recording ------------------------------------------------------------- */
/* PyTorch-style node name of an op: "leaky_relu" -> "LeakyReluBackward0". */
const char *em__ag_op_node_name(em_op op);
/* New node for output `out` with inputs ins[0..nin) (NULL entries allowed):
 * the node is attached to out (which then requires grad) and returned
 * (borrowed) for the caller to fill saved tensors and parameters.  On
 * failure out is freed and *outp set to NULL. */
em_status em__ag_record(const char *name, em__ag_backward_fn bw, em_tensor **outp, int nin,
                        const em_tensor *const *ins, em__ag_node **node);
/* Saves a tensor for backward (slot k): an input handle (retained) or, with
 * is_output, a detached view of the node's own output (no reference cycle). */
em_status em__ag_save(em__ag_node *n, int k, const em_tensor *t, bool is_output);
/* The saved tensor k for use in a formula: a new reference, checked against
 * in-place modification; an output saved detached is re-attached to the node
 * when recording (create_graph). */
em_status em__ag_saved(em__ag_node *n, int k, em_tensor **out);
/* Increments the version counter of t's storage: every in-place write
 * through the public API calls it. */
static inline void em__ag_bump(em_tensor *t) { t->storage->version++; }
/* Checks an in-place write into out is allowed under the current grad mode
 * (out must not require grad while recording); bumps out's version. */
em_status em__ag_check_inplace(const char *op, em_tensor *out, const em_tensor *a, const em_tensor *b);

/* Record hooks of each op family (backward_*.c): called after the forward
 * succeeded when em__ag_want*; on failure they free *out. */
em_status em__ag_unary(em_op op, const em_tensor *x, double alpha, em_tensor **out);
em_status em__ag_binary(em_op op, const em_tensor *a, const em_tensor *b, em_tensor **out);
em_status em__ag_where(const em_tensor *cond, const em_tensor *a, const em_tensor *b, em_tensor **out);
em_status em__ag_clip(const em_tensor *x, const em_tensor *lo, const em_tensor *hi, em_tensor **out);
em_status em__ag_reduce(em_op op, const em_tensor *x, const em_reduce_options *opts, em_tensor **out);
em_status em__ag_matmul(const em_tensor *a, const em_tensor *b, em_tensor **out);
em_status em__ag_linear(const em_tensor *x, const em_tensor *w, const em_tensor *bias, em_tensor **out);
/* Views and copies whose gradient only depends on geometry. */
typedef enum {
    EM__AG_RESHAPE, EM__AG_PERMUTE, EM__AG_SLICE, EM__AG_SELECT, EM__AG_EXPAND, EM__AG_FLIP, EM__AG_IDENTITY
} em__ag_view_kind;
/* p: the op's integer parameters (permute: perm; slice: axis,start,stop,step;
 * select: axis,index; flip: mask of axes). */
em_status em__ag_view(em__ag_view_kind kind, const char *name, const em_tensor *x, const int64_t *p, int np,
                      em_tensor **out);
em_status em__ag_concat(const char *name, const em_tensor *const *xs, int n, int axis, bool stack, em_tensor **out);
em_status em__ag_gather(const em_tensor *x, int axis, const em_tensor *index, em_tensor **out);
/* Records values = x gathered at index along axis under another node name
 * (sort, topk: the gradient scatters back through the indices); on failure
 * frees *out. */
em_status em__ag_take(const char *name, const em_tensor *x, int axis, const em_tensor *index, em_tensor **out);
/* Records out = remap of x (pad, roll, repeat, tile; shape.c): nd axes,
 * in_shape the remapped input's shape (x's, with leading 1s for tile),
 * maps[d] of out_shape[d] entries each (the index along axis d of the
 * input, -1 for a fill).  Takes ownership of maps (em__alloc) in every case;
 * on failure frees *out. */
em_status em__ag_remap(const char *name, const em_tensor *x, int nd, const int64_t *in_shape, const int64_t *out_shape,
                       int64_t *maps, em_tensor **out);
/* Records out = tril(x, k) (lower) or triu(x, k). */
em_status em__ag_triangle(const em_tensor *x, int64_t k, bool lower, em_tensor **out);
em_status em__ag_index_select(const em_tensor *x, int axis, const em_tensor *index, em_tensor **out);
em_status em__ag_scatter(const em_tensor *x, int axis, const em_tensor *index, const em_tensor *src, int reduce,
                         em_tensor **out);
/* A view `out` of x made directly with em__view (the Python indexing fast
 * path): recorded as a strided map over x's memory extent. */
em_status em__ag_view_of(const em_tensor *x, em_tensor **out);
em_status em__ag_softmax(const em_tensor *x, int axis, bool log, em_tensor **out);
/* Records a convolution node for out = conv(x, w, bias) (backward_conv.c). */
em_status em__ag_conv(const em_tensor *x, const em_tensor *w, const em_tensor *bias, const em_conv_options *o,
                      em_tensor **out);
/* Records a pooling node: kind 0 max (indices: the forward's argmax), 1 avg (o), 2 adaptive avg (out_size). */
em_status em__ag_pool(int kind, const em_tensor *x, const em_pool_options *o, const int64_t *out_size,
                      const em_tensor *indices, em_tensor **out);
/* Records a norm node: kind 0 layer (p = k, normalized shape), 1 group (p = groups), 2 batch (p = training);
 * eps as in the forward (the recorded backward recomputes the statistics). */
em_status em__ag_norm(int kind, const em_tensor *x, const em_tensor *w, const em_tensor *b, const em_tensor *mean,
                      const em_tensor *rstd, const int64_t *p, int np, double eps, em_tensor **out);

/* ---- formula helpers (formula.c) ------------------------------------------ */
/* A scope of temporaries for writing formulas as nested calls: every helper
 * returns a tensor owned by the scope (NULL once an error occurred, which
 * later calls propagate), and em__f_end frees them all. */
#define EM__F_MAX 96
typedef struct {
    em_status st;
    int n;
    em_tensor *t[EM__F_MAX];
} em__f;
em_tensor *em__f_keep(em__f *f, em_status st, em_tensor *t);
em_tensor *em__f_un(em__f *f, em_op op, em_tensor *x);
em_tensor *em__f_un_a(em__f *f, em_op op, em_tensor *x, double alpha);
em_tensor *em__f_bin(em__f *f, em_op op, em_tensor *a, em_tensor *b);
em_tensor *em__f_scalar(em__f *f, double v, em_dtype dt);
em_tensor *em__f_binc(em__f *f, em_op op, em_tensor *a, double c); /* a op c */
em_tensor *em__f_cbin(em__f *f, em_op op, double c, em_tensor *b); /* c op b */
em_tensor *em__f_saved(em__f *f, em__ag_node *n, int k);
em_tensor *em__f_where(em__f *f, em_tensor *c, em_tensor *a, em_tensor *b);
em_tensor *em__f_reshape(em__f *f, em_tensor *x, int ndim, const int64_t *shape);
em_tensor *em__f_expand(em__f *f, em_tensor *x, int ndim, const int64_t *shape);
em_tensor *em__f_zeros(em__f *f, em_dtype dt, int ndim, const int64_t *shape);
/* Reduction op (sum, mean, cumsum, ...) of x over axes[0..naxes). */
em_tensor *em__f_reduce(em__f *f, em_op op, em_tensor *x, const int *axes, int naxes, bool keepdims);
em_tensor *em__f_permute(em__f *f, em_tensor *x, const int *perm);
em_tensor *em__f_slice(em__f *f, em_tensor *x, int axis, int64_t start, int64_t stop);
/* Takes over t (a new reference from a call made outside the helpers). */
em_tensor *em__f_own(em__f *f, em_status st, em_tensor *t);
/* var = the result of call, which writes it through &var, owned by the
 * scope; skipped (var NULL) once the scope has failed. */
#define EM__F_CALL(f, var, call)                          \
    do {                                                  \
        (var) = NULL;                                     \
        if (!(f)->st) {                                   \
            em_status f_st_ = (call);                     \
            (var) = em__f_own((f), f_st_, (var));         \
        }                                                 \
    } while (0)
/* Result: a new reference to t (or an error); frees the scope. */
em_status em__f_end(em__f *f, em_tensor *t, em_tensor **out);
/* Frees the scope and returns its status (when the results were taken with em__f_take). */
em_status em__f_done(em__f *f);
em_tensor *em__f_take(em__f *f, em_tensor *t); /* new reference to a scope tensor, or NULL */

#endif
