/* conv_kernels.h — internal kernels behind ops/conv.c and ops/pool.c.
 *
 * All work on one contiguous (H, W) plane at a time (1-D: H = 1); the ops
 * split a batch into planes and run them on the thread pool.  Every kernel
 * fixes its summation order from the geometry alone, never from the thread
 * count.  The row primitives (axpy / dot) have a portable C version and an
 * AVX2+FMA one (kernels/x86/conv_avx2.c) chosen once per process like
 * kernels/vmath.c (EMBER_FORCE_PORTABLE=1 forces the portable one). */
#ifndef EMBER_CONV_KERNELS_H
#define EMBER_CONV_KERNELS_H

#include "../internal.h"

/* The geometry of one convolution, 1-D mapped to 2-D with H = kh = 1. */
typedef struct em__conv_geom {
    int64_t N, C, H, W;  /* input */
    int64_t O, OH, OW;   /* output channels and spatial size */
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
    int64_t groups;
} em__conv_geom;

/* Output positions p in [0, n_out) with 0 <= p*stride + off < n_in form the
 * range [*lo, *hi) (empty: lo == hi). */
static inline void em__conv_valid(int64_t off, int64_t stride, int64_t n_in, int64_t n_out, int64_t *lo,
                                  int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t b = n_in - off <= 0 ? 0 : (n_in - off + stride - 1) / stride;
    if (b > n_out) b = n_out;
    if (a > b) a = b;
    *lo = a, *hi = b;
}

/* col[((c*kh + i)*kw + j) * ld + oh*OW + ow] = x[c, oh*sh + i*dh - ph, ow*sw + j*dw - pw]
 * (0 outside x) for c < nc: x holds nc contiguous H x W planes; ld >= OH*OW. */
void em__im2col_f32(const em__conv_geom *g, int64_t nc, const float *x, float *col, int64_t ld);
void em__im2col_f64(const em__conv_geom *g, int64_t nc, const double *x, double *col, int64_t ld);
/* One H x W plane (x, g's H, W, ph, pw) into its zero-padded copy: Hp rows rs
 * floats apart, each Wp wide; x's row h at row h + ph, columns [pw, pw + W),
 * zeros in the rest of the Hp x Wp window (Hp >= H + ph, Wp >= W + pw). */
void em__conv_pad_plane_f32(const em__conv_geom *g, const float *x, int64_t Hp, int64_t Wp, int64_t rs, float *dst);
/* The adjoint: x[c, ih, iw] += col[...] for every col entry above (x is not cleared). */
void em__col2im_f32(const em__conv_geom *g, int64_t nc, const float *col, int64_t ld, float *x);
void em__col2im_f64(const em__conv_geom *g, int64_t nc, const double *col, int64_t ld, double *x);

/* Depthwise (groups == C, one input channel per group), for input channel c
 * of one image: m = O / C output channels o = c*m .. c*m + m - 1.
 * forward:  y[o] = bias[o] + sum_{i,j} w[o, i, j] * x shifted (bias may be NULL)
 * grad_x:   gx = sum_o adjoint of the above applied to gy[o] (gx overwritten)
 * grad_w:   gw[o, i, j] += sum_p gy[o, p] * x shifted (one image; caller loops n) */
void em__dwconv_fwd_f32(const em__conv_geom *g, const float *x, const float *w, const float *bias, float *y);
void em__dwconv_fwd_f64(const em__conv_geom *g, const double *x, const double *w, const double *bias, double *y);
void em__dwconv_bwd_x_f32(const em__conv_geom *g, const float *gy, const float *w, float *gx);
void em__dwconv_bwd_x_f64(const em__conv_geom *g, const double *gy, const double *w, double *gx);
void em__dwconv_bwd_w_f32(const em__conv_geom *g, const float *gy, const float *x, float *gw);
void em__dwconv_bwd_w_f64(const em__conv_geom *g, const double *gy, const double *x, double *gw);

/* Implicit GEMM (kernels/conv_igemm.c) on the active SIMD GEMM kernel set;
 * em__conv_igemm_ok says whether there is one (else EM_ERR_UNSUPPORTED).
 * Run on the thread pool; bits independent of the thread count.
 * fwd:   y = conv(x, w) + bias (bias may be NULL).  flip: w is instead the
 *        weight of the transposed problem, (C, O/groups, kh, kw) of g's C and
 *        O, used in/out-swapped and spatially flipped (grad_input of a stride-1
 *        convolution as a forward one).
 * bwd_w: gw = grad of the weight (overwritten). */
bool em__conv_igemm_ok(void);
em_status em__conv_igemm_fwd_f32(const em__conv_geom *g, const float *x, const float *w, bool flip, const float *bias,
                                 float *y);
em_status em__conv_igemm_fwd_f64(const em__conv_geom *g, const double *x, const double *w, bool flip,
                                 const double *bias, double *y);
em_status em__conv_igemm_bwd_w_f32(const em__conv_geom *g, const float *gy, const float *x, float *gw);
em_status em__conv_igemm_bwd_w_f64(const em__conv_geom *g, const double *gy, const double *x, double *gw);

/* Direct stride-1 convolution micro-kernels (kernels/x86/conv_direct_*.c),
 * driven by em__conv_igemm_fwd_f32: the output is computed over the padded
 * row width, so row k of the GEMM's B is a shifted slice of the zero-padded
 * input, b + off[k] bytes, and nothing is packed but the weights.
 * ukr: acc[r][l] = sum_{k < kc} a[k*mr_max + r] * b[off[k]/4 + l] (one chain
 * per element, k ascending from 0; b must have nr readable floats at every
 * offset) for r < mr, l < nr; then for each segment s and row r, lanes
 * l in [lane, lane + len) go to c[r*ldc + dst + l - lane]:
 *   first: C = acc (+ bias[r] when bias != NULL); else C = C + acc.
 * Lanes outside the segments are dropped (the padding columns). */
typedef struct {
    int32_t lane, len;
    int64_t dst;
} em__cdseg;
typedef struct {
    int mr, nr;
    int64_t kc; /* taps per block (the GEMM's kc for this instruction set) */
    void (*ukr)(int64_t kc, const float *a, const int64_t *off, const float *b, int mr, float *c, int64_t ldc,
                const em__cdseg *sg, int nseg, bool first, const float *bias);
} em__conv_direct_kset;
/* NULL where not built for x86-64 (callers pick by the GEMM's active ISA). */
const em__conv_direct_kset *em__conv_direct_avx512(void);
const em__conv_direct_kset *em__conv_direct_avx2(void);

/* Direct grad_weight (kernels/conv_gwdirect.c, micro-kernels in
 * kernels/x86/conv_gw_avx512.c).  ukr[ov] (ov = 1..4 zmm of 16 output
 * channels, t = tmax[ov] taps): for each of nrows rows r and columns
 * i < ow, position p = r*ow + i:
 *   acc[j*ov*16 + o] += gy[p*ldg + o] * x[r*rs + i*sw + off[j]]
 * for j < t, o < 16*ov, one chain per element, positions in order.
 * em__conv_gwdirect_f32 runs the whole grad_weight that way and returns
 * true with *st set, or false where it does not apply (the caller takes
 * another route). */
typedef struct {
    int tmax[5];
    void (*ukr[5])(const float *gy, int64_t ldg, const float *x, const int64_t *off, int64_t nrows, int64_t ow,
                   int64_t sw, int64_t rs, float *acc);
    /* dst[j*ldd + i] = src[i*lds + j] for i, j < 16 */
    void (*tr16)(const float *src, int64_t lds, float *dst, int64_t ldd);
} em__conv_gw_kset;
const em__conv_gw_kset *em__conv_gw_avx512(void); /* NULL where not built for x86-64 */
bool em__conv_gwdirect_f32(const em__conv_geom *g, const float *gy, const float *x, float *gw, em_status *st);

/* Output-channel-vectorised direct convolution (kernels/conv_ocfwd.c, kernels
 * kernels/x86/conv_oc_avx512.c and conv_oc_avx2.c).  em__conv_ocfwd_f32 runs the forward of
 * em__conv_igemm_fwd_f32 (same contract, flip included) and returns true with
 * *st set, or false where it does not apply (the caller's route runs).
 * tile: acc[nc*i + l] = sum_{k < kc} w[nc*k + l] * b[off[k]/4 + i*stride] for
 *   i < np <= npmax, l < nc (one FMA chain per element, k ascending from 0;
 *   stride 1 or 2; off in bytes).  row2 != 0 (npmax >= 8 only; the driver
 *   pairs rows where 2*OW <= npmax): two rows of L = np/2 positions
 *   (np in 8, 10, 12, 14), position L + i at b + row2 + i*stride instead.
 * store: y[r*ldy + i] = acc[nc*i + r] (+ bias[r] when bias != NULL) for r < nr <= nc,
 *   i < np <= npmax; it may also write anything to y[r*ldy + i] for np <= i < room (the
 *   caller's later tiles overwrite those positions). */
typedef struct {
    int nc, npmax; /* output channels and positions of a tile */
    void (*tile)(int64_t kc, const float *w, const int64_t *off, const float *b, int64_t stride, int np,
                 int64_t row2, float *acc);
    void (*store)(const float *acc, int np, int nr, float *y, int64_t ldy, int room, const float *bias);
    /* (may be NULL: the driver packs) dst[32k + r] = src[k*kstep + r*rstride] (r < nr),
     * 0 (nr <= r < 32), k < nk, for nc = 32;
     * needs 31*|rstride| < 2^31 */
    void (*pack)(float *dst, const float *src, int64_t nk, int64_t kstep, int64_t rstride, int nr);
} em__conv_oc_kset;
/* NULL where not built for x86-64 */
const em__conv_oc_kset *em__conv_oc_avx512(void); /* nc 32, npmax 14, two-row tiles */
const em__conv_oc_kset *em__conv_oc_avx2(void);   /* nc 16, npmax 6, one row a tile */
bool em__conv_ocfwd_f32(const em__conv_geom *g, const float *x, const float *w, bool flip, const float *bias,
                        float *y, em_status *st);

/* Row primitives: y[p] += a * x[p] and sum_p x[p] * y[p] over n contiguous
 * elements.  The dot keeps 8 partial sums (lane l takes p = l mod 8) added
 * pairwise at the end, in every variant. */
typedef struct em__conv_rowops {
    void (*axpy_f32)(int64_t n, float a, const float *x, float *y);
    void (*axpy_f64)(int64_t n, double a, const double *x, double *y);
    float (*dot_f32)(int64_t n, const float *x, const float *y);
    double (*dot_f64)(int64_t n, const double *x, const double *y);
} em__conv_rowops;
/* The variant for this process (AVX2+FMA when the CPU has it and
 * EMBER_FORCE_PORTABLE is unset), or a given one (avx2: NULL without CPU support). */
const em__conv_rowops *em__conv_rowops_active(void);
const em__conv_rowops *em__conv_rowops_portable(void);
const em__conv_rowops *em__conv_rowops_avx2(void);

#endif
