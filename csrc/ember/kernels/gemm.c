/* Portable cache-blocked GEMM (the Goto/BLIS loop nest), see gemm.h.
 *
 * Loop nest: N in panels of NC columns, K in blocks of KC, M in blocks of MC.
 * For each (KC x NC) panel of B and (MC x KC) block of A both are packed into
 * contiguous slivers (B: NR columns wide, A: MR rows tall, zero padded), so
 * the micro-kernel reads two unit-stride streams whatever the caller's
 * strides (transposed operands are never copied as a whole).  The micro-kernel
 * keeps an MR x NR tile of accumulators that gcc -O2 holds in vector
 * registers.  Summation order: per (i, j), k ascending inside each KC block,
 * blocks added in ascending order — fixed by K alone.
 *
 * M == 1 or N == 1 is a matrix-vector product: packing would cost as much as
 * the product, so it streams B (or A) directly. */
#include "gemm.h"

#define GEMM_KC 256
#define GEMM_MC 96
#define GEMM_NC 2048
#define GEMV_CHUNK 256 /* columns accumulated on the stack at once */
#define DOT_LANES 8

#define EM_MIN(a, b) ((a) < (b) ? (a) : (b))

#define DEF_GEMM(S, T, MR, NR)                                                                               \
    /* Ap[ir/MR][k][r] = A[ir + r, k], rows past mc are zero. */                                             \
    static void pack_a_##S(int64_t mc, int64_t kc, const T *A, int64_t rs, int64_t cs, T *Ap) {              \
        for (int64_t ir = 0; ir < mc; ir += MR, Ap += kc * MR) {                                             \
            int mr = (int)EM_MIN(mc - ir, MR);                                                               \
            for (int64_t k = 0; k < kc; k++) {                                                               \
                for (int r = 0; r < mr; r++) Ap[k * MR + r] = A[(ir + r) * rs + k * cs];                     \
                for (int r = mr; r < MR; r++) Ap[k * MR + r] = 0;                                            \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
    /* Bp[jr/NR][k][c] = B[k, jr + c], columns past nc are zero. */                                          \
    static void pack_b_##S(int64_t kc, int64_t nc, const T *B, int64_t rs, int64_t cs, T *Bp) {              \
        for (int64_t jr = 0; jr < nc; jr += NR, Bp += kc * NR) {                                             \
            int nr = (int)EM_MIN(nc - jr, NR);                                                               \
            for (int64_t k = 0; k < kc; k++) {                                                               \
                for (int c = 0; c < nr; c++) Bp[k * NR + c] = B[k * rs + (jr + c) * cs];                     \
                for (int c = nr; c < NR; c++) Bp[k * NR + c] = 0;                                            \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
    static void micro_##S(int64_t kc, const T *restrict a, const T *restrict b, T *restrict tile) {          \
        T acc[MR][NR];                                                                                       \
        for (int r = 0; r < MR; r++)                                                                         \
            for (int c = 0; c < NR; c++) acc[r][c] = 0;                                                      \
        for (int64_t k = 0; k < kc; k++, a += MR, b += NR) {                                                 \
            _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                           \
                T av = a[r];                                                                                 \
                _Pragma("GCC unroll 16") for (int c = 0; c < NR; c++) acc[r][c] += av * b[c];                \
            }                                                                                                \
        }                                                                                                    \
        memcpy(tile, acc, sizeof acc);                                                                       \
    }                                                                                                        \
    /* c[j * cs] = alpha * sum_k a[k * as] * B[k * bk + j * bn] + beta * c[j * cs] for j < n. */             \
    static void gemv_##S(int64_t n, int64_t K, T alpha, const T *a, int64_t as, const T *B, int64_t bk,      \
                         int64_t bn, T beta, T *c, int64_t cs) {                                             \
        if (bk == 1 && bn != 1) { /* columns of B are contiguous: one dot product each */                    \
            for (int64_t j = 0; j < n; j++) {                                                                \
                const T *b = B + j * bn;                                                                     \
                T lane[DOT_LANES] = {0};                                                                     \
                int64_t k = 0;                                                                               \
                for (; k + DOT_LANES <= K; k += DOT_LANES)                                                   \
                    for (int l = 0; l < DOT_LANES; l++) lane[l] += a[(k + l) * as] * b[k + l];               \
                for (int l = 0; k < K; k++, l++) lane[l] += a[k * as] * b[k];                                \
                for (int w = DOT_LANES / 2; w > 0; w /= 2)                                                   \
                    for (int l = 0; l < w; l++) lane[l] += lane[l + w];                                      \
                c[j * cs] = alpha * lane[0] + (beta == 0 ? 0 : beta * c[j * cs]);                            \
            }                                                                                                \
            return;                                                                                          \
        }                                                                                                    \
        for (int64_t j0 = 0; j0 < n; j0 += GEMV_CHUNK) { /* stream rows of B into a stack row */             \
            int64_t nc = EM_MIN(n - j0, GEMV_CHUNK);                                                         \
            T acc[GEMV_CHUNK] = {0};                                                                         \
            for (int64_t k = 0; k < K; k++) {                                                                \
                T av = a[k * as];                                                                            \
                const T *b = B + k * bk + j0 * bn;                                                           \
                if (bn == 1)                                                                                 \
                    for (int64_t j = 0; j < nc; j++) acc[j] += av * b[j];                                    \
                else                                                                                         \
                    for (int64_t j = 0; j < nc; j++) acc[j] += av * b[j * bn];                               \
            }                                                                                                \
            for (int64_t j = 0; j < nc; j++)                                                                 \
                c[(j0 + j) * cs] = alpha * acc[j] + (beta == 0 ? 0 : beta * c[(j0 + j) * cs]);               \
        }                                                                                                    \
    }                                                                                                        \
    em_status em__gemm_##S(int64_t M, int64_t N, int64_t K, T alpha, const T *A, int64_t lda_row,            \
                           int64_t lda_col, const T *B, int64_t ldb_row, int64_t ldb_col, T beta, T *C,      \
                           int64_t ldc) {                                                                    \
        if (M <= 0 || N <= 0) return EM_OK;                                                                  \
        if (M == 1) {                                                                                        \
            gemv_##S(N, K, alpha, A, lda_col, B, ldb_row, ldb_col, beta, C, 1);                              \
            return EM_OK;                                                                                    \
        }                                                                                                    \
        if (N == 1) { /* C^T = B^T A^T */                                                                    \
            gemv_##S(M, K, alpha, B, ldb_row, A, lda_col, lda_row, beta, C, ldc);                            \
            return EM_OK;                                                                                    \
        }                                                                                                    \
        if (K == 0) {                                                                                        \
            for (int64_t i = 0; i < M; i++)                                                                  \
                for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];      \
            return EM_OK;                                                                                    \
        }                                                                                                    \
        int64_t kcmax = EM_MIN(K, GEMM_KC), mcmax = EM_MIN(M, GEMM_MC), ncmax = EM_MIN(N, GEMM_NC);          \
        int64_t mpad = (mcmax + MR - 1) / MR * MR, npad = (ncmax + NR - 1) / NR * NR;                        \
        T *Ap = em__alloc((size_t)(mpad * kcmax) * sizeof(T));                                               \
        T *Bp = em__alloc((size_t)(npad * kcmax) * sizeof(T));                                               \
        if (!Ap || !Bp) {                                                                                    \
            em__free(Ap);                                                                                    \
            em__free(Bp);                                                                                    \
            return em__error(EM_ERR_NOMEM, "matmul: out of memory for packing buffers (%lld x %lld x %lld)", \
                             (long long)M, (long long)N, (long long)K);                                      \
        }                                                                                                    \
        T tile[MR * NR];                                                                                     \
        for (int64_t jc = 0; jc < N; jc += GEMM_NC) {                                                        \
            int64_t nc = EM_MIN(N - jc, GEMM_NC);                                                            \
            for (int64_t pc = 0; pc < K; pc += GEMM_KC) {                                                    \
                int64_t kc = EM_MIN(K - pc, GEMM_KC);                                                        \
                pack_b_##S(kc, nc, B + pc * ldb_row + jc * ldb_col, ldb_row, ldb_col, Bp);                   \
                for (int64_t ic = 0; ic < M; ic += GEMM_MC) {                                                \
                    int64_t mc = EM_MIN(M - ic, GEMM_MC);                                                    \
                    pack_a_##S(mc, kc, A + ic * lda_row + pc * lda_col, lda_row, lda_col, Ap);               \
                    for (int64_t jr = 0; jr < nc; jr += NR) {                                                \
                        int nr = (int)EM_MIN(nc - jr, NR);                                                   \
                        for (int64_t ir = 0; ir < mc; ir += MR) {                                            \
                            int mr = (int)EM_MIN(mc - ir, MR);                                               \
                            micro_##S(kc, Ap + ir * kc, Bp + jr * kc, tile);                                 \
                            T *c = C + (ic + ir) * ldc + jc + jr;                                            \
                            for (int r = 0; r < mr; r++)                                                     \
                                for (int q = 0; q < nr; q++) {                                               \
                                    T prev = pc ? c[r * ldc + q] : beta == 0 ? 0 : beta * c[r * ldc + q];    \
                                    c[r * ldc + q] = prev + alpha * tile[r * NR + q];                        \
                                }                                                                            \
                        }                                                                                    \
                    }                                                                                        \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
        em__free(Ap);                                                                                        \
        em__free(Bp);                                                                                        \
        return EM_OK;                                                                                        \
    }

/* Tile shapes measured with gcc -O2 on x86-64 baseline (SSE2): 4x16 floats
 * and 4x8 doubles keep the accumulators in the 16 vector registers. */
DEF_GEMM(f32, float, 4, 16)
DEF_GEMM(f64, double, 4, 8)
