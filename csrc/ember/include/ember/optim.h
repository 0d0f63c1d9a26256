/* ember/optim.h — fused optimiser updates and gradient clipping (issue 4).  Included by ember.h.
 *
 * Each *_step function updates one parameter and its state tensors in place,
 * in one pass over memory, with the arithmetic of PyTorch's single-tensor
 * (foreach=False) implementation in the parameter's dtype, so a training run
 * follows torch.optim step by step.  The parameter must be a contiguous
 * float32 or float64 tensor; the gradient and every state tensor must have
 * its shape and dtype and be contiguous (EM_ERR_SHAPE / EM_ERR_DTYPE /
 * EM_ERR_INVALID_ARG otherwise, naming the argument).  Nothing is allocated
 * and the caller keeps every reference.  Results are bit-identical whatever
 * the thread count.  On error nothing has been written. */
#ifndef EMBER_OPTIM_H
#define EMBER_OPTIM_H

/* ---- SGD ----------------------------------------------------------------------------------- */
typedef struct em_sgd_options {
    double lr;           /* default 1e-3 */
    double momentum;     /* default 0 */
    double dampening;    /* default 0 */
    double weight_decay; /* default 0 */
    bool nesterov;       /* default false (needs momentum > 0 and dampening 0) */
    bool maximize;       /* default false */
} em_sgd_options;
EM_API em_sgd_options em_sgd_default_options(void);
/* g = (maximize ? -grad : grad) + weight_decay * p;
 * with momentum: b = first_step ? g : momentum * b + (1 - dampening) * g,
 *                g = nesterov ? g + momentum * b : b;
 * p -= lr * g.  momentum_buf may be NULL only when momentum == 0. */
EM_API em_status em_sgd_step(em_tensor *param, const em_tensor *grad, em_tensor *momentum_buf, bool first_step,
                             const em_sgd_options *opts);

/* ---- Adam / AdamW -------------------------------------------------------------------------- */
typedef struct em_adam_options {
    double lr;                   /* default 1e-3 */
    double beta1, beta2;         /* default 0.9, 0.999 */
    double eps;                  /* default 1e-8 */
    double weight_decay;         /* default 0 (AdamW: 1e-2) */
    bool amsgrad;                /* default false */
    bool maximize;               /* default false */
    bool decoupled_weight_decay; /* false: Adam (L2 added to g); true: AdamW (p *= 1 - lr*wd) */
} em_adam_options;
EM_API em_adam_options em_adam_default_options(void);
EM_API em_adam_options em_adamw_default_options(void);
/* Step number `step` >= 1 (counting this one).  g = maximize ? -grad : grad;
 * AdamW: p *= 1 - lr*wd, Adam: g += wd * p;  m = lerp(m, g, 1 - beta1);
 * v = beta2 * v + (1 - beta2) * g^2;  vmax = max(vmax, v) with amsgrad;
 * p -= lr / (1 - beta1^step) * m / (sqrt(v or vmax) / sqrt(1 - beta2^step) + eps).
 * max_exp_avg_sq may be NULL unless amsgrad. */
EM_API em_status em_adam_step(em_tensor *param, const em_tensor *grad, em_tensor *exp_avg, em_tensor *exp_avg_sq,
                              em_tensor *max_exp_avg_sq, double step, const em_adam_options *opts);

/* ---- RMSprop ------------------------------------------------------------------------------- */
typedef struct em_rmsprop_options {
    double lr;           /* default 1e-2 */
    double alpha;        /* default 0.99 */
    double eps;          /* default 1e-8 */
    double weight_decay; /* default 0 */
    double momentum;     /* default 0 */
    bool centered;       /* default false */
    bool maximize;       /* default false */
} em_rmsprop_options;
EM_API em_rmsprop_options em_rmsprop_default_options(void);
/* g = (maximize ? -grad : grad) + wd * p;  s = alpha * s + (1 - alpha) * g^2;
 * centered: a = lerp(a, g, 1 - alpha), d = sqrt(s - a^2) + eps, else d = sqrt(s) + eps;
 * momentum > 0: b = momentum * b + g / d, p -= lr * b;  else p -= lr * g / d.
 * momentum_buf may be NULL when momentum == 0, grad_avg when !centered. */
EM_API em_status em_rmsprop_step(em_tensor *param, const em_tensor *grad, em_tensor *square_avg,
                                 em_tensor *momentum_buf, em_tensor *grad_avg, const em_rmsprop_options *opts);

/* ---- Adagrad ------------------------------------------------------------------------------- */
typedef struct em_adagrad_options {
    double lr;                        /* default 1e-2 */
    double lr_decay;                  /* default 0 */
    double weight_decay;              /* default 0 */
    double initial_accumulator_value; /* default 0: the caller fills state_sum with it before step 1 */
    double eps;                       /* default 1e-10 */
    bool maximize;                    /* default false */
} em_adagrad_options;
EM_API em_adagrad_options em_adagrad_default_options(void);
/* Step number `step` >= 1.  g = (maximize ? -grad : grad) + wd * p;  s += g^2;
 * p -= lr / (1 + (step - 1) * lr_decay) * g / (sqrt(s) + eps). */
EM_API em_status em_adagrad_step(em_tensor *param, const em_tensor *grad, em_tensor *state_sum, double step,
                                 const em_adagrad_options *opts);

/* ---- gradient clipping --------------------------------------------------------------------- */
/* torch.nn.utils.get_total_norm: *out = (sum_i sum_j |g_ij|^p)^(1/p) over the n
 * contiguous float tensors grads (any mix of float32/float64), accumulated in
 * double in fixed chunks (deterministic); p = inf: max |g|, p = 0: the count
 * of nonzeros.  p < 0 or NaN is EM_ERR_INVALID_ARG.  n = 0 gives 0.
 * Allocates scratch only (EM_ERR_NOMEM on failure). */
EM_API em_status em_grad_total_norm(const em_tensor *const *grads, int n, double norm_type, double *out);
/* torch.nn.utils.clip_grad_norm_: t = em_grad_total_norm(...), then every
 * g *= min(max_norm / (t + 1e-6), 1) (NaN propagates).  With
 * error_if_nonfinite, a NaN or infinite t is EM_ERR_INVALID_ARG and the
 * gradients are left as they were.  *total_norm (may be NULL) receives t. */
EM_API em_status em_clip_grad_norm(em_tensor *const *grads, int n, double max_norm, double norm_type,
                                   bool error_if_nonfinite, double *total_norm);
/* torch.nn.utils.clip_grad_value_: every g = min(max(g, -clip_value), clip_value)
 * (NaN stays NaN); clip_value >= 0. */
EM_API em_status em_clip_grad_value(em_tensor *const *grads, int n, double clip_value);

#endif
