/* ember/norm.h — softmax backward, layer norm, batch norm and group norm,
 * forward and backward (csrc/ember/ops/softmax.c, norm.c; issue 3).
 * Included by ember.h; em_softmax / em_log_softmax are in ember.h itself.
 *
 * Common rules:
 *  - x is float32 or float64 (else EM_ERR_DTYPE), any strides.  weight,
 *    bias and running statistics may be any float dtype and strides; they
 *    are read in x's dtype.  Every output is a new contiguous tensor of x's
 *    dtype that the caller frees with em_tensor_free().  Output pointers
 *    marked "may be NULL" are skipped.  On error no output is written.
 *  - Statistics are accumulated in double; the variance is the biased one
 *    (divided by the count) and rstd = 1 / sqrt(var + eps).
 *  - Results are bit-identical for any thread count.
 *  - Backward contracts (for autograd): each backward takes the forward's
 *    inputs and the saved tensors it returned (mean, rstd) unchanged, and
 *    grad_out of the forward output's shape (any float dtype and strides).
 */
#ifndef EMBER_NORM_H
#define EMBER_NORM_H

/* Backward of em_softmax along axis, given its output y:
 * grad_in = y * (grad_out - sum_axis(grad_out * y)).  grad_in has y's
 * dtype (float) and shape; grad_out must have y's shape. */
EM_API em_status em_softmax_backward(const em_tensor *grad_out, const em_tensor *y, int axis, em_tensor **grad_in);
/* Backward of em_log_softmax along axis, given its output y:
 * grad_in = grad_out - exp(y) * sum_axis(grad_out).  As above. */
EM_API em_status em_log_softmax_backward(const em_tensor *grad_out, const em_tensor *y, int axis,
                                         em_tensor **grad_in);

/* torch layer_norm over the k trailing dims, which must equal
 * normalized_shape[0..k) (1 <= k <= ndim):
 * out = (x - mean) * rstd * weight + bias, mean and var over each row of
 * the trailing prod(normalized_shape) elements.  weight and bias (may be
 * NULL: 1 and 0) have normalized_shape.  mean and rstd (may be NULL) get
 * shape x.shape[:-k] + (1,) * k, x's dtype: keep them for the backward. */
EM_API em_status em_layer_norm(const em_tensor *x, int k, const int64_t *normalized_shape, const em_tensor *weight,
                               const em_tensor *bias, double eps, em_tensor **out, em_tensor **mean,
                               em_tensor **rstd);
/* Backward of em_layer_norm (same x, k, normalized_shape, weight, and its
 * mean and rstd), with xh = (x - mean) * rstd, gh = grad_out * weight:
 *   grad_x = rstd * (gh - mean_row(gh) - xh * mean_row(gh * xh))
 *   grad_weight = sum_rows(grad_out * xh), grad_bias = sum_rows(grad_out)
 * grad_weight and grad_bias have normalized_shape.  Each output may be
 * NULL; grad_weight needs weight. */
EM_API em_status em_layer_norm_backward(const em_tensor *grad_out, const em_tensor *x, int k,
                                        const int64_t *normalized_shape, const em_tensor *mean,
                                        const em_tensor *rstd, const em_tensor *weight, em_tensor **grad_x,
                                        em_tensor **grad_weight, em_tensor **grad_bias);

/* Options of em_batch_norm; initialise with em_batch_norm_default_options(). */
typedef struct em_batch_norm_options {
    bool training;   /* batch statistics (true) or running ones (false) */
    double momentum; /* running = (1 - momentum) * running + momentum * batch */
    double eps;
} em_batch_norm_options;
/* {training = true, momentum = 0.1, eps = 1e-5}, PyTorch's defaults. */
EM_API em_batch_norm_options em_batch_norm_default_options(void);

/* torch batch_norm on x of shape (N, C, *) (ndim >= 2), per channel c:
 * out = (x - mean_c) * rstd_c * weight_c + bias_c.  weight, bias (may be
 * NULL) and running_mean, running_var have shape (C,).
 * Training: mean_c and var_c over the N * prod(*) values of channel c (at
 * least 2, else EM_ERR_INVALID_ARG); running_mean and running_var (both
 * or neither may be NULL) are updated in place with momentum, running_var
 * from the unbiased variance var_c * L / (L - 1).
 * Eval: mean_c = running_mean_c, var_c = running_var_c (both required,
 * read only).  save_mean and save_rstd (may be NULL) get shape (C,): the
 * mean and rstd used, to pass to the backward.  opt NULL: defaults. */
EM_API em_status em_batch_norm(const em_tensor *x, em_tensor *running_mean, em_tensor *running_var,
                               const em_tensor *weight, const em_tensor *bias, const em_batch_norm_options *opt,
                               em_tensor **out, em_tensor **save_mean, em_tensor **save_rstd);
/* Backward of em_batch_norm given its save_mean and save_rstd, with
 * xh = (x - mean) * rstd, L = N * prod(*) and sums over all but axis 1:
 *   training: grad_x = weight * rstd * (grad_out - sum(grad_out) / L - xh * sum(grad_out * xh) / L)
 *   eval:     grad_x = weight * rstd * grad_out
 *   grad_weight = sum(grad_out * xh), grad_bias = sum(grad_out)   (shape (C,))
 * weight may be NULL (1).  Each output may be NULL; grad_weight needs
 * weight. */
EM_API em_status em_batch_norm_backward(const em_tensor *grad_out, const em_tensor *x, const em_tensor *weight,
                                        const em_tensor *save_mean, const em_tensor *save_rstd, bool training,
                                        em_tensor **grad_x, em_tensor **grad_weight, em_tensor **grad_bias);

/* torch group_norm on x of shape (N, C, *) (ndim >= 2), C divisible by
 * num_groups >= 1: statistics over each group of C / num_groups channels
 * and all of *, then out = (x - mean_ng) * rstd_ng * weight_c + bias_c.
 * weight, bias (may be NULL) have shape (C,); mean and rstd (may be NULL)
 * get shape (N, num_groups). */
EM_API em_status em_group_norm(const em_tensor *x, int64_t num_groups, const em_tensor *weight,
                               const em_tensor *bias, double eps, em_tensor **out, em_tensor **mean,
                               em_tensor **rstd);
/* Backward of em_group_norm, per group as em_layer_norm_backward with
 * gh = grad_out * weight_c; grad_weight_c = sum(grad_out * xh) and
 * grad_bias_c = sum(grad_out) over N and *.  Each output may be NULL;
 * grad_weight needs weight. */
EM_API em_status em_group_norm_backward(const em_tensor *grad_out, const em_tensor *x, int64_t num_groups,
                                        const em_tensor *mean, const em_tensor *rstd, const em_tensor *weight,
                                        em_tensor **grad_x, em_tensor **grad_weight, em_tensor **grad_bias);

#endif
