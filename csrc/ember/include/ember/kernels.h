/* ember/kernels.h — fused dense kernels: linear layer = GEMM with a bias and
 * activation epilogue (included by ember.h; design in docs/kernels.md).
 *
 * Dtypes: float32 and float64, every operand of one call the same dtype.
 * Inputs may be any strided view.  Results are new contiguous tensors the
 * caller frees with em_tensor_free().  Results are bit-identical for any
 * thread count: the summation order of each output depends only on the
 * problem's shape and the instruction set chosen at start-up (AVX2+FMA, or
 * the portable C path when the CPU lacks it or EMBER_FORCE_PORTABLE=1). */
#ifndef EMBER_KERNELS_H
#define EMBER_KERNELS_H

/* Activation applied by a fused epilogue, with the same definitions (and,
 * for float32, the same vectorised functions) as the elementwise ops. */
typedef enum em_activation {
    EM_ACT_NONE = 0,  /* y = x */
    EM_ACT_RELU,      /* y = max(x, 0) */
    EM_ACT_GELU,      /* y = x/2 * (1 + erf(x/sqrt2)) */
    EM_ACT_GELU_TANH, /* y = x/2 * (1 + tanh(sqrt(2/pi)*(x + 0.044715 x^3))) */
    EM_ACT_SIGMOID,   /* y = 1 / (1 + e^-x) */
    EM_ACT_TANH,      /* y = tanh x */
    EM_ACT_SILU,      /* y = x * sigmoid(x) */
    EM_ACT_COUNT_
} em_activation;

/* Static name of an activation ("relu"); NULL if invalid. */
EM_API const char *em_activation_name(em_activation act);

/* out[..., o] = act(sum_i x[..., i] * weight[o, i] + bias[o])
 * as torch.nn.functional.linear followed by the activation: x is (..., in)
 * with ndim >= 1, weight (out, in), bias NULL or 1-D (out).  A 1-D x gives a
 * 1-D result (out).  The bias and activation are applied to each output tile
 * while it is in cache, not in extra passes.  New tensor (..., out) in *out
 * (free with em_tensor_free); nothing is retained from the inputs. */
EM_API em_status em_linear(const em_tensor *x, const em_tensor *weight, const em_tensor *bias, em_activation act,
                           em_tensor **out);

#endif
