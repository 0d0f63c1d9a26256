/* gemm.h — the internal dense matrix-multiply kernels behind em_matmul.
 *
 * C[i, j] = alpha * sum_k A[i, k] * B[k, j] + beta * C[i, j]
 * for 0 <= i < M, 0 <= j < N, 0 <= k < K, where (strides in elements, any
 * sign, zero allowed)
 *   A[i, k] = A[i * lda_row + k * lda_col]
 *   B[k, j] = B[k * ldb_row + j * ldb_col]
 *   C[i, j] = C[i * ldc + j]          (rows of C are contiguous)
 * beta == 0 overwrites C without reading it (NaN in C does not leak).
 * C must not overlap A or B.  K == 0 gives C = beta * C.
 * The summation order depends only on (M, N, K), never on threads, so equal
 * inputs give bit-identical results.  Returns EM_ERR_NOMEM (with text) if a
 * packing buffer cannot be allocated.
 *
 * This portable version (kernels/gemm.c) is the reference that faster,
 * CPU-specific variants must match. */
#ifndef EMBER_KERNELS_GEMM_H
#define EMBER_KERNELS_GEMM_H

#include "../internal.h"

em_status em__gemm_f32(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda_row,
                       int64_t lda_col, const float *B, int64_t ldb_row, int64_t ldb_col, float beta, float *C,
                       int64_t ldc);
em_status em__gemm_f64(int64_t M, int64_t N, int64_t K, double alpha, const double *A, int64_t lda_row,
                       int64_t lda_col, const double *B, int64_t ldb_row, int64_t ldb_col, double beta, double *C,
                       int64_t ldc);

#endif
