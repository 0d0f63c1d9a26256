/* ember/conv.h — convolution and pooling over NCL / NCHW tensors, forward and
 * the gradients autograd needs (included by ember.h; see docs/kernels.md).
 *
 * Layouts follow PyTorch: input (N, C, L) or (N, C, H, W); conv weight
 * (C_out, C_in / groups, kL) or (C_out, C_in / groups, kH, kW).  The spatial
 * rank (1 or 2) is the input's ndim - 2.  Inputs may be any strided view;
 * results are new contiguous tensors the caller frees with em_tensor_free().
 * Dtypes: float32 and float64, every operand of one call the same dtype
 * (indices: int64).  Results are bit-identical for any thread count. */
#ifndef EMBER_CONV_H
#define EMBER_CONV_H

/* Geometry of a convolution.  Index 0 is the first spatial axis (H, or L for
 * 1-D), index 1 the second (W); 1-D convolutions use index 0 only. */
typedef struct em_conv_options {
    int64_t stride[2];   /* >= 1 (default 1) */
    int64_t padding[2];  /* implicit zeros on both sides of the axis, >= 0 (default 0) */
    int64_t dilation[2]; /* spacing of kernel taps, >= 1 (default 1) */
    int64_t groups;      /* C_in and C_out divisible by it, >= 1 (default 1) */
} em_conv_options;
EM_API em_conv_options em_conv_default_options(void);

/* Output length of one spatial axis: floor((in + 2*pad - dil*(k-1) - 1) / stride) + 1. */
EM_API int64_t em_conv_output_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil);

/* out[n, o, p] = bias[o] + sum_{c in group(o), t} w[o, c, t] * x[n, c, p*stride + t*dil - pad]
 * (cross-correlation as torch.nn.functional.conv1d/conv2d; x zero outside).
 * bias may be NULL (no bias) or a 1-D tensor of C_out.  opts NULL = defaults.
 * New tensor (N, C_out, out spatial...) in *out. */
EM_API em_status em_conv(const em_tensor *x, const em_tensor *w, const em_tensor *bias, const em_conv_options *opts,
                         em_tensor **out);
/* Gradient of em_conv w.r.t. x: gx[n, c, i] = sum_{o, t, p : p*stride + t*dil - pad = i} gout[n, o, p] * w[o, c, t].
 * x_shape (ndim entries, 3 or 4) is the shape of the forward input (it is not
 * determined by gout when stride > 1).  New tensor of x_shape in *out. */
EM_API em_status em_conv_grad_input(const em_tensor *gout, const em_tensor *w, int ndim, const int64_t *x_shape,
                                    const em_conv_options *opts, em_tensor **out);
/* Gradient of em_conv w.r.t. w: gw[o, c, t] = sum_{n, p} gout[n, o, p] * x[n, c, p*stride + t*dil - pad].
 * w_shape (ndim entries) is the shape of the forward weight.  The sum over
 * the batch is taken in fixed chunks added in a fixed order.  New tensor of
 * w_shape in *out. */
EM_API em_status em_conv_grad_weight(const em_tensor *gout, const em_tensor *x, int ndim, const int64_t *w_shape,
                                     const em_conv_options *opts, em_tensor **out);
/* Gradient of em_conv w.r.t. bias: gb[o] = sum_{n, p} gout[n, o, p].  New 1-D tensor in *out. */
EM_API em_status em_conv_grad_bias(const em_tensor *gout, em_tensor **out);

/* Geometry of a pooling window (index 0 = H or L, index 1 = W, as above). */
typedef struct em_pool_options {
    int64_t kernel[2];         /* window size, >= 1 (no default: must be set) */
    int64_t stride[2];         /* >= 1; 0 = the kernel size (default 0) */
    int64_t padding[2];        /* >= 0 and at most half the (dilated) window (default 0) */
    int64_t dilation[2];       /* max pooling only, >= 1 (default 1) */
    bool ceil_mode;            /* output length rounds up; a window must start inside input or left padding */
    bool count_include_pad;    /* avg: padded zeros count in the divisor (default true) */
    int64_t divisor_override;  /* avg: > 0 replaces the divisor; 0 = none (default) */
} em_pool_options;
EM_API em_pool_options em_pool_default_options(void);

/* out[n, c, p] = max over the window of p of x[n, c, .] (NaN wins; padding is
 * never chosen).  indices (may be NULL) receives a new int64 tensor of out's
 * shape holding the flat position in the input plane (h * W + w) of each
 * maximum, the first in window order on ties, for em_max_pool_backward.
 * New tensor in *out; with indices, both or neither are set. */
EM_API em_status em_max_pool(const em_tensor *x, const em_pool_options *opts, em_tensor **out, em_tensor **indices);
/* gx[n, c, i] = sum_{p : indices[n, c, p] = i} gout[n, c, p]; x_shape as in
 * em_conv_grad_input.  New tensor of x_shape in *out. */
EM_API em_status em_max_pool_backward(const em_tensor *gout, const em_tensor *indices, int ndim, const int64_t *x_shape,
                                      em_tensor **out);
/* out[n, c, p] = sum over the window of p of x / divisor, with divisor as in
 * torch.nn.functional.avg_pool2d (window clipped to input+padding, padding
 * counted if count_include_pad, or divisor_override).  New tensor in *out. */
EM_API em_status em_avg_pool(const em_tensor *x, const em_pool_options *opts, em_tensor **out);
/* gx[n, c, i] = sum_{p : i in window(p)} gout[n, c, p] / divisor(p).  New tensor of x_shape in *out. */
EM_API em_status em_avg_pool_backward(const em_tensor *gout, int ndim, const int64_t *x_shape,
                                      const em_pool_options *opts, em_tensor **out);
/* out[n, c, i, j] = mean of x[n, c, h0(i):h1(i), w0(j):w1(j)] with
 * h0(i) = floor(i*H/OH), h1(i) = ceil((i+1)*H/OH) (and the same for W), as
 * torch's adaptive_avg_pool.  out_size has ndim - 2 entries, each >= 1.
 * New tensor (N, C, out_size...) in *out. */
EM_API em_status em_adaptive_avg_pool(const em_tensor *x, const int64_t *out_size, em_tensor **out);
/* gx[n, c, h, w] = sum over the windows (i, j) containing (h, w) of gout[n, c, i, j] / window size.
 * New tensor of x_shape in *out. */
EM_API em_status em_adaptive_avg_pool_backward(const em_tensor *gout, int ndim, const int64_t *x_shape,
                                               em_tensor **out);

#endif
