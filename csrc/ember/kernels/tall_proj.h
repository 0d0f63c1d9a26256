/* tall_proj.h — the kernel of em_linalg_tall_project (ml/linalg_tall.c),
 * internal API: a tall X (m, d) times a few directions, X W^T + b.
 *
 * W^T comes packed as Wp (d, kp), row f holding w_0[f] .. w_{k-1}[f] and
 * kp - k zeros, kp a multiple of EM__TP_NR_F64 (4 doubles) or
 * EM__TP_NR_F32 (8 floats), one 32-byte vector.  The kernel writes
 *     out[i k + j] = b[j] + sum_f X[i ldx + f] Wp[f kp + j]   (b NULL: 0)
 * for i < m, j < k.  Each sum is one multiply-add chain in ascending f,
 * starting from 0, with b added last, so a result does not depend on where
 * its row falls in a tile or a chunk (hence not on the thread count).  X is
 * read once, in place: each row is broadcast against the packed W^T rows,
 * which stay in L1; a GEMM would pack X or waste most of its register tile
 * on a result 1 to 16 wide.
 *
 * The portable kernel lives in ml/linalg_tall.c; the AVX2+FMA one in
 * kernels/x86/tall_avx2.c is used when em__gemm_active_isa() says AVX2 or
 * better (so EMBER_FORCE_PORTABLE and em__gemm_set_isa steer it too). */
#ifndef EMBER_KERNELS_TALL_PROJ_H
#define EMBER_KERNELS_TALL_PROJ_H

#include <stdint.h>

#define EM__TP_NR_F64 4
#define EM__TP_NR_F32 8
#define EM__TP_MAX_K 16 /* directions at most (the register tile's width) */

typedef void (*em__tallproj_f64_fn)(int64_t m, int64_t d, int64_t k, int64_t kp, const double *X, int64_t ldx,
                                    const double *Wp, const double *b, double *out);
typedef void (*em__tallproj_f32_fn)(int64_t m, int64_t d, int64_t k, int64_t kp, const float *X, int64_t ldx,
                                    const float *Wp, const float *b, float *out);

/* The AVX2+FMA kernels; NULL where they are not built (not x86-64). */
em__tallproj_f64_fn em__tallproj_avx2_f64(void);
em__tallproj_f32_fn em__tallproj_avx2_f32(void);

#endif
