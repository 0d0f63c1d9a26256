/* kmeans_dist.h — the distance kernel of k-means' assignment step
 * (ml/kmeans.c), internal API.
 *
 * For a chunk of m samples X (m, d), row-major, and kp centres packed in
 * groups of NR (EM__KM_NR_F64 = 8 doubles or EM__KM_NR_F32 = 16 floats, one
 * 64-byte line): centre j = g NR + r, feature f at Cp[g d NR + f NR + r]
 * (kp a multiple of NR, padding centres all zero), the kernel writes
 *     D[i ldd + j] = cn[j] + (-2) sum_f X[i d + f] Cp[...]
 * for i < m, j < kp: the squared distances less |x_i|^2 when cn holds the
 * squared norms (cn padded to kp).  Each sum is one multiply-add chain in
 * ascending f, starting from 0, so a result does not depend on where its
 * row falls in the chunk.  X is read in place (nothing packed): with few
 * centres, packing X for a GEMM costs as much as the products.
 *
 * The portable kernel lives in ml/kmeans.c; the AVX2+FMA one in
 * kernels/x86/kmeans_avx2.c is used when em__gemm_active_isa() says AVX2
 * (so EMBER_FORCE_PORTABLE and em__gemm_set_isa steer both). */
#ifndef EMBER_KERNELS_KMEANS_DIST_H
#define EMBER_KERNELS_KMEANS_DIST_H

#include <stdint.h>

#define EM__KM_NR_F64 8
#define EM__KM_NR_F32 16

typedef void (*em__kmdist_f64_fn)(int64_t m, int64_t d, int64_t kp, const double *X, const double *Cp,
                                  const double *cn, double *D, int64_t ldd);
typedef void (*em__kmdist_f32_fn)(int64_t m, int64_t d, int64_t kp, const float *X, const float *Cp, const float *cn,
                                  float *D, int64_t ldd);

/* The AVX2+FMA kernels; NULL where they are not built (not x86-64). */
em__kmdist_f64_fn em__kmdist_avx2_f64(void);
em__kmdist_f32_fn em__kmdist_avx2_f32(void);

#endif
