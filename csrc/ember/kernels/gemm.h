/* gemm.h — the internal dense matrix-multiply kernels behind em_matmul and
 * em_linear (design: docs/kernels.md, section GEMM).
 *
 * C[i, j] = alpha * sum_k A[i, k] * B[k, j] + beta * C[i, j]
 * for 0 <= i < M, 0 <= j < N, 0 <= k < K, where (strides in elements, any
 * sign, zero allowed)
 *   A[i, k] = A[i * lda_row + k * lda_col]
 *   B[k, j] = B[k * ldb_row + j * ldb_col]
 *   C[i, j] = C[i * ldc + j]          (rows of C are contiguous)
 * beta == 0 overwrites C without reading it (NaN in C does not leak).
 * C must not overlap A or B.  K == 0 gives C = beta * C.
 * The summation order depends only on (M, N, K), the layout class of the
 * operands (below) and the instruction set in use, never on threads, so
 * equal inputs give bit-identical results.  Returns EM_ERR_NOMEM (with text)
 * if a packing buffer cannot be allocated. */
#ifndef EMBER_KERNELS_GEMM_H
#define EMBER_KERNELS_GEMM_H

#include "../internal.h"

em_status em__gemm_f32(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda_row,
                       int64_t lda_col, const float *B, int64_t ldb_row, int64_t ldb_col, float beta, float *C,
                       int64_t ldc);
em_status em__gemm_f64(int64_t M, int64_t N, int64_t K, double alpha, const double *A, int64_t lda_row,
                       int64_t lda_col, const double *B, int64_t ldb_row, int64_t ldb_col, double beta, double *C,
                       int64_t ldc);

/* The full problem: a batch of GEMMs with a fused epilogue,
 *   C_b[i, j] = act(alpha * sum_k A_b[i, k] B_b[k, j] + beta * C_b[i, j] + bias[j])
 * for every batch index b of the batch shape (nbatch axes, strides in
 * elements per operand; 0 broadcasts).  bias is NULL or N contiguous
 * elements.  Same dtype (f32 or f64) for every pointer. */
typedef struct {
    int64_t M, N, K;
    double alpha, beta;
    const void *A;
    int64_t lda_row, lda_col;
    const void *B;
    int64_t ldb_row, ldb_col;
    void *C;
    int64_t ldc;
    int nbatch;
    int64_t bshape[EM_MAX_DIMS], bsa[EM_MAX_DIMS], bsb[EM_MAX_DIMS], bsc[EM_MAX_DIMS];
    const void *bias;
    em_activation act;
} em__gemm_desc;

/* A desc for one plain product (alpha 1, beta 0, no batch, no epilogue). */
em__gemm_desc em__gemm_desc_init(int64_t M, int64_t N, int64_t K, const void *A, int64_t lda_row, int64_t lda_col,
                                 const void *B, int64_t ldb_row, int64_t ldb_col, void *C, int64_t ldc);
em_status em__gemm(em_dtype dt, const em__gemm_desc *d);

/* Instruction-set variants of the micro-kernels. */
typedef enum { EM__GEMM_PORTABLE, EM__GEMM_AVX2, EM__GEMM_AVX512, EM__GEMM_ISA_COUNT } em__gemm_isa;
/* The variant in use: the best the CPU runs (AVX-512, else AVX2+FMA, else
 * portable), chosen on first use, or the portable one under
 * EMBER_FORCE_PORTABLE=1. */
em__gemm_isa em__gemm_active_isa(void);
/* Tests: makes later calls (all threads) use isa; EM_ERR_UNSUPPORTED if the
 * CPU cannot run it.  (int)-1 returns to the automatic choice. */
em_status em__gemm_set_isa(int isa);

/* ---- micro-kernel contract (kernels/x86/gemm_avx2.c and the portable C
 * ones in gemm.c) ------------------------------------------------------
 * ukr: acc[r][c] = sum_{k < kc} a[r*ars + k*acs] * b[k*ldb + c], one multiply-add
 * chain per element in ascending k, starting from 0; then for r < mr, c < nr
 * (rows past mr may be skipped or computed and dropped, columns past nr are
 * dropped; neither changes the bits of the others; rows past mr are never
 * read from a).  ars == 1 (packed slivers: acs == MR, or columns of A
 * contiguous) or acs == 1 (rows of A contiguous, read in place):
 *   first: C = alpha*acc + beta*C (beta == 0: alpha*acc, C not read)
 *   else:  C = C + alpha*acc
 *   then bias != NULL: C = C + bias[c]; relu: C = max(C, 0).
 * C[r][c] is c[r*ldc + c].  b must hold kc rows of NR readable elements.
 * row (may be NULL): the same chains and store step for one row of A and
 * n <= rn columns (M == 1, rows of B contiguous: the GEMV x @ W), so it
 * gives the bits ukr would.
 * ukr_w (may be NULL): ukr for 2 <= mr <= mrw rows and nr <= 2*NR columns
 * (b holds 2*NR readable columns), so that very short tiles still run
 * enough independent chains; the same chains, so the same bits.
 * pack_t (may be NULL): the transposing copy behind both packers,
 * dst[k*W + q] = src[q*ld + k] for k < kc, q < w, and 0 for w <= q < W.
 * dot: for i < m, j < n: s = sum_k a[i*lda + k] * b[j*ldb + k] taken in
 * LANES interleaved partial sums (k mod LANES) added pairwise at the end,
 * then C = alpha*s + beta*C (+ bias[j], relu) as ukr's first case, with C[i][j] = c[i*ldc + j]. */
#define EM__GEMM_OUT(T)                                                                   \
    struct {                                                                              \
        T alpha, beta;                                                                    \
        bool first, relu;                                                                 \
        const T *bias;                                                                    \
    }
typedef EM__GEMM_OUT(float) em__gemm_out_f32;
typedef EM__GEMM_OUT(double) em__gemm_out_f64;

#define EM__GEMM_KSET(S, T)                                                                                   \
    typedef struct {                                                                                          \
        int mr, nr, dm, dn; /* ukr tile; dot block (m <= dm, n <= dn) */                                      \
        int rn;             /* columns per call of row */                                                     \
        int mrw;            /* rows of ukr_w's tiles (0: none) */                                             \
        int64_t kc, mc, nc; /* cache blocks: kc rows of B, mc rows of A, nc columns of B */                   \
        void (*ukr)(int64_t kc, const T *a, int64_t ars, int64_t acs, const T *b, int64_t ldb, T *c,          \
                    int64_t ldc, int mr, int nr, const em__gemm_out_##S *o);                                  \
        void (*dot)(int64_t K, const T *a, int64_t lda, int m, const T *b, int64_t ldb, int n, T *c,          \
                    int64_t ldc, const em__gemm_out_##S *o);                                                  \
        /* row: ukr for one row of A (contiguous, kc long) and n <= rn columns of B in place */           \
        void (*row)(int64_t kc, const T *a, const T *b, int64_t ldb, T *c, int n, const em__gemm_out_##S *o); \
        void (*pack_t)(int64_t kc, int w, const T *src, int64_t ld, int W, T *dst);                           \
        void (*ukr_w)(int64_t kc, const T *a, int64_t ars, int64_t acs, const T *b, int64_t ldb, T *c,        \
                      int64_t ldc, int mr, int nr, const em__gemm_out_##S *o);                                \
        int64_t l2; /* bytes of L2 the blocks are sized for (0: no rule on reading A in place) */          \
    } em__gemm_kset_##S;
EM__GEMM_KSET(f32, float)
EM__GEMM_KSET(f64, double)

/* AVX2+FMA kernel sets (kernels/x86/gemm_avx2.c) and AVX-512 ones
 * (kernels/x86/gemm_avx512.c); NULL where not built. */
const em__gemm_kset_f32 *em__gemm_avx2_f32(void);
const em__gemm_kset_f64 *em__gemm_avx2_f64(void);
const em__gemm_kset_f32 *em__gemm_avx512_f32(void);
const em__gemm_kset_f64 *em__gemm_avx512_f64(void);
/* The AVX2 transposing packers (pack_t above), shared by both sets. */
void em__gemm_pack_t_f32(int64_t kc, int w, const float *src, int64_t ld, int W, float *dst);
void em__gemm_pack_t_f64(int64_t kc, int w, const double *src, int64_t ld, int W, double *dst);

#endif
