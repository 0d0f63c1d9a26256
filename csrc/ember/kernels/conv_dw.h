/* conv_dw.h — whole-plane SIMD kernels of the depthwise convolution
 * (kernels/conv_depthwise.c), with AVX2+FMA (kernels/x86/conv_avx2.c) and
 * AVX-512 (kernels/x86/conv_avx512.c) variants chosen once per process.
 *
 * The row primitives of conv_kernels.h add one tap to a whole output row
 * (y_row += w * x_row), so every output is loaded and stored once per tap
 * and each tap costs a call and a bounds computation.  These kernels instead
 * keep a strip of up to 4 vectors of one output row in registers, add all
 * the taps to it and store it once; the columns where a tap falls outside
 * the input are masked lanes of the same vectors (masked load and masked
 * FMA, so a skipped tap leaves the lane untouched: the same bits as the
 * axpy route, which skips those columns).  Only stride 1 along W. */
#ifndef EMBER_CONV_DW_H
#define EMBER_CONV_DW_H

#include "../internal.h"

/* One correlation of an input plane (H x W) into an output plane (OH x OW),
 * column stride 1:
 *   y[r, q] (+)= sum_{i < kh, j < kw, tap inside x} w[i*kw + j] * x[r*sh + i*dh - ph, q + j*dw - pw]
 * The output starts from b (accumulate false) or from its own value
 * (accumulate true); the taps are added in (i, j) order, one FMA each. */
/* The widest kernel (kw) the plane kernels take; wider ones keep the row
 * primitives. */
#define DW_KW_MAX 16

typedef struct em__dw_plane {
    int64_t H, W, OH, OW, kh, kw, sh, ph, pw, dh, dw;
} em__dw_plane;

/* fwd: the correlation above.
 * wgrad: gw[i*kw + j] += sum_{r, q} gy[r, q] * x[r*sh + i*dh - ph, q + j*dw - pw]
 * over the valid taps (gy is the OH x OW plane), each sum taken in the
 * vector lanes (q - lo) mod VL of 4 accumulators (vector v of a row goes to
 * accumulator v mod 4) added pairwise, so its bits depend on the ISA alone. */
typedef struct em__dw_simd {
    const char *name;
    void (*fwd_f32)(const em__dw_plane *p, const float *x, const float *w, float b, bool accumulate, float *y);
    void (*fwd_f64)(const em__dw_plane *p, const double *x, const double *w, double b, bool accumulate, double *y);
    void (*wgrad_f32)(const em__dw_plane *p, const float *gy, const float *x, float *gw);
    void (*wgrad_f64)(const em__dw_plane *p, const double *gy, const double *x, double *gw);
} em__dw_simd;

/* The variant for this process: AVX-512, else AVX2+FMA, else NULL (the
 * portable row-primitive route), NULL under EMBER_FORCE_PORTABLE=1. */
const em__dw_simd *em__dw_simd_active(void);
/* The given variant, NULL where the CPU cannot run it. */
const em__dw_simd *em__dw_simd_avx2(void);
const em__dw_simd *em__dw_simd_avx512(void);
/* Tests: which = 0 portable, 1 AVX2, 2 AVX-512 for later calls (all
 * threads), -1 back to the automatic choice; EM_ERR_UNSUPPORTED where the
 * CPU cannot run it. */
em_status em__dw_simd_force(int which);

#endif
