/* AVX-512 micro-kernels for the GEMM driver in kernels/gemm.c (contract in
 * kernels/gemm.h).  Compiled for the baseline target like every libember
 * file; only these functions carry target("avx512f"), and gemm.c calls them
 * only after CPU detection said the CPU (and the OS) run AVX-512.
 *
 * ukr: a 12 x 32 float tile (12 x 16 double) lives in 24 zmm accumulators
 * (24 independent FMA chains: 2 FMA ports x 4 cycles of latency need 8),
 * fed per k by two loads of B and twelve broadcasts of A: 14 loads per 24
 * FMAs, so the load ports keep up.  A is read packed, or in place by
 * columns or by rows (then through four row pointers and the row stride).
 * A tile with mr < 12 rows runs a copy of the loop with mr rows (its own asm
 * block), so the small-M products of inference do not pay for rows they
 * drop; every row runs the same chain whatever the copy, so the bits do not
 * depend on mr.  Columns past nr are dropped with mask registers.
 * row (M == 1): 8 vectors of columns, 8 chains (x @ W, GEMV).
 * dot: 4 rows of A x 4 columns of B (1 x 8 for one row, 2 x 8 for two), 16-lane
 * partial sums over k, for skinny products whose B columns are contiguous
 * (x @ W^T).  Rows of B that share a misalignment (NumPy's 16-byte
 * aligned arrays) are read as aligned lines and shifted into place (the
 * dot*s kernels): same lanes, same bits, no loads split across lines.
 * The transposing packer is shared with the AVX2 set (gemm_avx2.c). */
#include "../gemm.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx2,fma")))
#define MR 12
#define NR_F32 32
#define NR_F64 16

/* ---- the k loop, in assembly ---------------------------------------------
 * As in gemm_avx2.c, gcc's allocator spills accumulators of an intrinsics
 * version.  One step: B row k in zmm30/zmm31; per tile row r a broadcast of
 * A(r, k) (alternating zmm28/zmm29) and two FMAs into zmm(2r), zmm(2r+1).
 * X is "s" (float) or "d" (double). */
#define ROW(X, AD, r, bc, a0, a1)                                                                  \
    "vbroadcasts" X " " AD(r) ", %%zmm" #bc "\n\t"                                                 \
    "vfmadd231p" X " %%zmm30, %%zmm" #bc ", %%zmm" #a0 "\n\t"                                       \
    "vfmadd231p" X " %%zmm31, %%zmm" #bc ", %%zmm" #a1 "\n\t"
#define ROWS1(X, AD) ROW(X, AD, 0, 28, 0, 1)
#define ROWS2(X, AD) ROWS1(X, AD) ROW(X, AD, 1, 29, 2, 3)
#define ROWS3(X, AD) ROWS2(X, AD) ROW(X, AD, 2, 28, 4, 5)
#define ROWS4(X, AD) ROWS3(X, AD) ROW(X, AD, 3, 29, 6, 7)
#define ROWS5(X, AD) ROWS4(X, AD) ROW(X, AD, 4, 28, 8, 9)
#define ROWS6(X, AD) ROWS5(X, AD) ROW(X, AD, 5, 29, 10, 11)
#define ROWS7(X, AD) ROWS6(X, AD) ROW(X, AD, 6, 28, 12, 13)
#define ROWS8(X, AD) ROWS7(X, AD) ROW(X, AD, 7, 29, 14, 15)
#define ROWS9(X, AD) ROWS8(X, AD) ROW(X, AD, 8, 28, 16, 17)
#define ROWS10(X, AD) ROWS9(X, AD) ROW(X, AD, 9, 29, 18, 19)
#define ROWS11(X, AD) ROWS10(X, AD) ROW(X, AD, 10, 28, 20, 21)
#define ROWS12(X, AD) ROWS11(X, AD) ROW(X, AD, 11, 29, 22, 23)
/* where row r of A is at step k: packed / column-major A (a[r + k*acs]), 4-
 * and 8-byte elements; row-major A (a[r*ars + k]): four row pointers (rows
 * 0, 3, 6, 9) and the row stride in %[L] reach rows 0-11 */
#define AK4(r) #r "*4(%[a])"
#define AK8(r) #r "*8(%[a])"
#define AR(r) AR_##r
#define AR_0 "(%[a])"
#define AR_1 "(%[a],%[L],1)"
#define AR_2 "(%[a],%[L],2)"
#define AR_3 "(%[a3])"
#define AR_4 "(%[a3],%[L],1)"
#define AR_5 "(%[a3],%[L],2)"
#define AR_6 "(%[a6])"
#define AR_7 "(%[a6],%[L],1)"
#define AR_8 "(%[a6],%[L],2)"
#define AR_9 "(%[a9])"
#define AR_10 "(%[a9],%[L],1)"
#define AR_11 "(%[a9],%[L],2)"

#include "zmm_tile.h" /* ST, STS1..STS12, ZERO_ACC */

/* Half-width tiles (nr <= NR/2, the last columns of N): one vector of B per k, one FMA per row. */
#define HROW(X, AD, r, bc, a0)                                                                    \
    "vbroadcasts" X " " AD(r) ", %%zmm" #bc "\n\t"                                                 \
    "vfmadd231p" X " %%zmm30, %%zmm" #bc ", %%zmm" #a0 "\n\t"
#define HROWS1(X, AD) HROW(X, AD, 0, 28, 0)
#define HROWS2(X, AD) HROWS1(X, AD) HROW(X, AD, 1, 29, 2)
#define HROWS3(X, AD) HROWS2(X, AD) HROW(X, AD, 2, 28, 4)
#define HROWS4(X, AD) HROWS3(X, AD) HROW(X, AD, 3, 29, 6)
#define HROWS5(X, AD) HROWS4(X, AD) HROW(X, AD, 4, 28, 8)
#define HROWS6(X, AD) HROWS5(X, AD) HROW(X, AD, 5, 29, 10)
#define HROWS7(X, AD) HROWS6(X, AD) HROW(X, AD, 6, 28, 12)
#define HROWS8(X, AD) HROWS7(X, AD) HROW(X, AD, 7, 29, 14)
#define HROWS9(X, AD) HROWS8(X, AD) HROW(X, AD, 8, 28, 16)
#define HROWS10(X, AD) HROWS9(X, AD) HROW(X, AD, 9, 29, 18)
#define HROWS11(X, AD) HROWS10(X, AD) HROW(X, AD, 10, 28, 20)
#define HROWS12(X, AD) HROWS11(X, AD) HROW(X, AD, 11, 29, 22)
#define HST(r, a0) "vmovups %%zmm" #a0 ", " #r "*128(%[acc])\n\t"
#define HSTS1 HST(0, 0)
#define HSTS2 HSTS1 HST(1, 2)
#define HSTS3 HSTS2 HST(2, 4)
#define HSTS4 HSTS3 HST(3, 6)
#define HSTS5 HSTS4 HST(4, 8)
#define HSTS6 HSTS5 HST(5, 10)
#define HSTS7 HSTS6 HST(6, 12)
#define HSTS8 HSTS7 HST(7, 14)
#define HSTS9 HSTS8 HST(8, 16)
#define HSTS10 HSTS9 HST(9, 18)
#define HSTS11 HSTS10 HST(10, 20)
#define HSTS12 HSTS11 HST(11, 22)

#define BL2(X) "vmovup" X " (%[b]), %%zmm30\n\t" "vmovup" X " 64(%[b]), %%zmm31\n\t"
#define BL1(X) "vmovup" X " (%[b]), %%zmm30\n\t"
#define STEP(X, AD, ROWS, ADV, BL) BL(X) ROWS(X, AD) ADV "add %[ldb], %[b]\n\t"

/* acc[2r + h] = sum_k A(r, k) * b[k*ldb + 16h/8h ...] for r < rows */
#define LOOP_BODY(X, AD, ROWS, STS, ADV, BL)                                                           \
    ZERO_ACC "cmp $4, %[k]\n\t"                                                                    \
    "jb 2f\n\t"                                                                                    \
    "1:\n\t" STEP(X, AD, ROWS, ADV, BL) STEP(X, AD, ROWS, ADV, BL) STEP(X, AD, ROWS, ADV, BL)                  \
        STEP(X, AD, ROWS, ADV, BL) "sub $4, %[k]\n\t"                                                  \
    "cmp $4, %[k]\n\t"                                                                             \
    "jae 1b\n\t"                                                                                   \
    "2:\n\t"                                                                                       \
    "test %[k], %[k]\n\t"                                                                          \
    "jz 4f\n\t"                                                                                    \
    "3:\n\t" STEP(X, AD, ROWS, ADV, BL) "dec %[k]\n\t"                                                 \
    "jnz 3b\n\t"                                                                                   \
    "4:\n\t" STS
#define CLOBBERS                                                                                   \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
        "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",   \
        "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "memory", "cc"
/* A packed or column-major: a moves by %[as] bytes per k */
#define LOOP_K(X, AK, ROWS, STS, BL)                                                                   \
    __asm__ volatile(LOOP_BODY(X, AK, ROWS, STS, "add %[as], %[a]\n\t", BL)                             \
                     : [a] "+r"(a), [b] "+r"(b), [k] "+r"(k)                                       \
                     : [ldb] "r"(ldb_bytes), [as] "r"(as), [acc] "r"(acc)                          \
                     : CLOBBERS)
/* A row-major: the four row pointers move by one element per k */
#define LOOP_R(X, Z, ROWS, STS, BL)                                                                    \
    __asm__ volatile(LOOP_BODY(X, AR, ROWS, STS,                                                   \
                               "add $" Z ", %[a]\n\tadd $" Z ", %[a3]\n\tadd $" Z ", %[a6]\n\tadd $" Z \
                               ", %[a9]\n\t", BL)                                                      \
                     : [a] "+r"(a), [a3] "+r"(a3), [a6] "+r"(a6), [a9] "+r"(a9), [b] "+r"(b),      \
                       [k] "+r"(k)                                                                 \
                     : [ldb] "r"(ldb_bytes), [L] "r"(L), [acc] "r"(acc)                            \
                     : CLOBBERS)

/* The asm block for mr rows (1 <= mr <= MR). */
#define LOOP_ROWS(LOOP, X, AD, mr, P, BL)                                                          \
    switch (mr) {                                                                                  \
    case 1: LOOP(X, AD, P##ROWS1, P##STS1, BL); break;                                             \
    case 2: LOOP(X, AD, P##ROWS2, P##STS2, BL); break;                                             \
    case 3: LOOP(X, AD, P##ROWS3, P##STS3, BL); break;                                             \
    case 4: LOOP(X, AD, P##ROWS4, P##STS4, BL); break;                                             \
    case 5: LOOP(X, AD, P##ROWS5, P##STS5, BL); break;                                             \
    case 6: LOOP(X, AD, P##ROWS6, P##STS6, BL); break;                                             \
    case 7: LOOP(X, AD, P##ROWS7, P##STS7, BL); break;                                             \
    case 8: LOOP(X, AD, P##ROWS8, P##STS8, BL); break;                                             \
    case 9: LOOP(X, AD, P##ROWS9, P##STS9, BL); break;                                             \
    case 10: LOOP(X, AD, P##ROWS10, P##STS10, BL); break;                                          \
    case 11: LOOP(X, AD, P##ROWS11, P##STS11, BL); break;                                          \
    default: LOOP(X, AD, P##ROWS12, P##STS12, BL); break;                                          \
    }

/* Wide tiles for 2 to 4 rows (skinny products, B read in place): 4 vectors of B per k (zmm24-27), so
 * that 2 rows still run 8 chains (a 2 x 32 tile runs 4 and waits on the FMA latency), and B's rows
 * are read 256 bytes at a time. */
#define WROW(X, AD, r, bc, a0, a1, a2, a3)                                                         \
    "vbroadcasts" X " " AD(r) ", %%zmm" #bc "\n\t"                                                 \
    "vfmadd231p" X " %%zmm24, %%zmm" #bc ", %%zmm" #a0 "\n\t"                                       \
    "vfmadd231p" X " %%zmm25, %%zmm" #bc ", %%zmm" #a1 "\n\t"                                       \
    "vfmadd231p" X " %%zmm26, %%zmm" #bc ", %%zmm" #a2 "\n\t"                                       \
    "vfmadd231p" X " %%zmm27, %%zmm" #bc ", %%zmm" #a3 "\n\t"
#define WROWS2(X, AD) WROW(X, AD, 0, 28, 0, 1, 2, 3) WROW(X, AD, 1, 29, 4, 5, 6, 7)
#define WROWS3(X, AD) WROWS2(X, AD) WROW(X, AD, 2, 28, 8, 9, 10, 11)
#define WROWS4(X, AD) WROWS3(X, AD) WROW(X, AD, 3, 29, 12, 13, 14, 15)
#define WST(r, a0, a1, a2, a3)                                                                     \
    "vmovups %%zmm" #a0 ", " #r "*256(%[acc])\n\t" "vmovups %%zmm" #a1 ", " #r "*256+64(%[acc])\n\t"  \
    "vmovups %%zmm" #a2 ", " #r "*256+128(%[acc])\n\t" "vmovups %%zmm" #a3 ", " #r "*256+192(%[acc])\n\t"
#define WSTS2 WST(0, 0, 1, 2, 3) WST(1, 4, 5, 6, 7)
#define WSTS3 WSTS2 WST(2, 8, 9, 10, 11)
#define WSTS4 WSTS3 WST(3, 12, 13, 14, 15)
#define BL4(X)                                                                                     \
    "vmovup" X " (%[b]), %%zmm24\n\t" "vmovup" X " 64(%[b]), %%zmm25\n\t"                          \
    "vmovup" X " 128(%[b]), %%zmm26\n\t" "vmovup" X " 192(%[b]), %%zmm27\n\t"

/* The k loop for the layout of A: acc[24] gets rows r < mr. */
#define UKR_KLOOP(T, X, Z, AK, half, wide)                                                                     \
    do {                                                                                           \
        uint64_t k = (uint64_t)kc;                                                                 \
        int64_t ldb_bytes = ldb * (int64_t)sizeof(T);                                              \
        if (acs == 1 && ars != 1) { /* rows of A contiguous */                                     \
            int64_t L = ars * (int64_t)sizeof(T);                                                  \
            /* rows 3, 6, 9 as integers: past mr they lie outside A and are never read */         \
            uintptr_t a3 = (uintptr_t)a + 3 * (uintptr_t)L, a6 = a3 + 3 * (uintptr_t)L,             \
                      a9 = a6 + 3 * (uintptr_t)L;                                                  \
            if (wide)                                                                              \
                switch (mr) {                                                                      \
                case 2: LOOP_R(X, Z, WROWS2, WSTS2, BL4); break;                                   \
                case 3: LOOP_R(X, Z, WROWS3, WSTS3, BL4); break;                                   \
                default: LOOP_R(X, Z, WROWS4, WSTS4, BL4); break;                                  \
                }                                                                                  \
            else if (half)                                                                         \
                LOOP_ROWS(LOOP_R, X, Z, mr, H, BL1)                                                \
            else                                                                                   \
                LOOP_ROWS(LOOP_R, X, Z, mr, , BL2)                                                 \
        } else {                                                                                   \
            int64_t as = acs * (int64_t)sizeof(T);                                                 \
            if (wide)                                                                              \
                switch (mr) {                                                                      \
                case 2: LOOP_K(X, AK, WROWS2, WSTS2, BL4); break;                                  \
                case 3: LOOP_K(X, AK, WROWS3, WSTS3, BL4); break;                                  \
                default: LOOP_K(X, AK, WROWS4, WSTS4, BL4); break;                                 \
                }                                                                                  \
            else if (half)                                                                         \
                LOOP_ROWS(LOOP_K, X, AK, mr, H, BL1)                                               \
            else                                                                                   \
                LOOP_ROWS(LOOP_K, X, AK, mr, , BL2)                                                \
        }                                                                                          \
    } while (0)

static inline __mmask16 mask16(int n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }
static inline __mmask8 mask8(int n) { return n >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << n) - 1); }

/* ---- float32 ----------------------------------------------------------- */

/* One output vector (n <= 16 floats of a row) through the store step. */
TGT static inline void out_ps(float *c, __m512 acc, int n, const em__gemm_out_f32 *o, const float *bias) {
    __mmask16 m = mask16(n);
    __m512 v = _mm512_mul_ps(_mm512_set1_ps(o->alpha), acc);
    if (!o->first)
        v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, c), v);
    else if (o->beta != 0)
        v = _mm512_add_ps(v, _mm512_mul_ps(_mm512_set1_ps(o->beta), _mm512_maskz_loadu_ps(m, c)));
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias));
    if (o->relu) v = _mm512_max_ps(_mm512_setzero_ps(), v); /* NaN passes: max returns its 2nd operand */
    _mm512_mask_storeu_ps(c, m, v);
}

TGT static void ukr_f32(int64_t kc, const float *a, int64_t ars, int64_t acs, const float *b, int64_t ldb, float *c,
                        int64_t ldc, int mr, int nr, const em__gemm_out_f32 *o) {
    __m512 acc[2 * MR];
    for (int r = 0; r < mr; r++) { /* the tile of C is read after the loop: start fetching it now */
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + nr - 1), _MM_HINT_T0);
    }
    UKR_KLOOP(float, "s", "4", AK4, nr <= NR_F32 / 2, false);
    if (nr == NR_F32 && o->alpha == 1 && !o->bias && !o->relu && (!o->first || o->beta == 0)) {
        /* the common store steps without masks or branches (alpha*acc == acc when alpha is 1) */
        if (o->first)
            for (int r = 0; r < mr; r++) {
                _mm512_storeu_ps(c + r * ldc, acc[2 * r]);
                _mm512_storeu_ps(c + r * ldc + 16, acc[2 * r + 1]);
            }
        else
            for (int r = 0; r < mr; r++) {
                _mm512_storeu_ps(c + r * ldc, _mm512_add_ps(_mm512_loadu_ps(c + r * ldc), acc[2 * r]));
                _mm512_storeu_ps(c + r * ldc + 16, _mm512_add_ps(_mm512_loadu_ps(c + r * ldc + 16), acc[2 * r + 1]));
            }
        return;
    }
    int n0 = nr < 16 ? nr : 16, n1 = nr - n0;
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        out_ps(cr, acc[2 * r], n0, o, o->bias);
        if (n1 > 0) out_ps(cr + 16, acc[2 * r + 1], n1, o, o->bias ? o->bias + 16 : NULL);
    }
}

/* 2 to 4 rows x nr <= 64 columns (b holds 64 readable columns): the wide tile. */
TGT static void ukr_wide_f32(int64_t kc, const float *a, int64_t ars, int64_t acs, const float *b, int64_t ldb,
                             float *c, int64_t ldc, int mr, int nr, const em__gemm_out_f32 *o) {
    __m512 acc[16];
    UKR_KLOOP(float, "s", "4", AK4, false, true);
    for (int r = 0; r < mr; r++)
        for (int v = 0; v * 16 < nr; v++)
            out_ps(c + r * ldc + v * 16, acc[4 * r + v], nr - v * 16, o, o->bias ? o->bias + v * 16 : NULL);
}

/* 16 lanes, added pairwise: l and l+8, then l+4, l+2, l+1 */
TGT static inline float hsum_ps(__m512 v) {
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* the store step of the dot form for one output */
#define DOT_OUT(T, cij, sum, j)                                                                    \
    do {                                                                                           \
        T v_ = o->alpha * (sum);                                                                   \
        if (o->beta != 0) v_ = v_ + o->beta * *(cij);                                              \
        if (o->bias) v_ = v_ + o->bias[j];                                                         \
        if (o->relu) v_ = v_ < 0 ? 0 : v_;                                                         \
        *(cij) = v_;                                                                               \
    } while (0)

/* m <= 4 rows x n <= 4 columns; rows/columns past m/n repeat the last one
 * and their sums are dropped.  The K tail is a masked (zero-filled) load,
 * which adds 0*0 to the lanes past K: the same as not adding. */
TGT static void dot4x4_f32(int64_t K, const float *a, int64_t lda, int m, const float *b, int64_t ldb, int n,
                           float *c, int64_t ldc, const em__gemm_out_f32 *o) {
    const float *ar[4], *br[4];
    for (int i = 0; i < 4; i++) ar[i] = a + (i < m ? i : m - 1) * lda, br[i] = b + (i < n ? i : n - 1) * ldb;
    __m512 s00 = _mm512_setzero_ps(), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00, s13 = s00,
           s20 = s00, s21 = s00, s22 = s00, s23 = s00, s30 = s00, s31 = s00, s32 = s00, s33 = s00;
#define DOT_STEP(LOAD)                                                                             \
    do {                                                                                           \
        __m512 x0 = LOAD(br[0] + k), x1 = LOAD(br[1] + k), x2 = LOAD(br[2] + k), x3 = LOAD(br[3] + k); \
        __m512 y = LOAD(ar[0] + k);                                                                \
        s00 = _mm512_fmadd_ps(y, x0, s00), s01 = _mm512_fmadd_ps(y, x1, s01);                      \
        s02 = _mm512_fmadd_ps(y, x2, s02), s03 = _mm512_fmadd_ps(y, x3, s03);                      \
        y = LOAD(ar[1] + k);                                                                       \
        s10 = _mm512_fmadd_ps(y, x0, s10), s11 = _mm512_fmadd_ps(y, x1, s11);                      \
        s12 = _mm512_fmadd_ps(y, x2, s12), s13 = _mm512_fmadd_ps(y, x3, s13);                      \
        y = LOAD(ar[2] + k);                                                                       \
        s20 = _mm512_fmadd_ps(y, x0, s20), s21 = _mm512_fmadd_ps(y, x1, s21);                      \
        s22 = _mm512_fmadd_ps(y, x2, s22), s23 = _mm512_fmadd_ps(y, x3, s23);                      \
        y = LOAD(ar[3] + k);                                                                       \
        s30 = _mm512_fmadd_ps(y, x0, s30), s31 = _mm512_fmadd_ps(y, x1, s31);                      \
        s32 = _mm512_fmadd_ps(y, x2, s32), s33 = _mm512_fmadd_ps(y, x3, s33);                      \
    } while (0)
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) DOT_STEP(_mm512_loadu_ps);
    if (k < K) {
        __mmask16 mk = mask16((int)(K - k));
#define MLOAD(p) _mm512_maskz_loadu_ps(mk, (p))
        DOT_STEP(MLOAD);
#undef MLOAD
    }
#undef DOT_STEP
    __m512 s[4][4] = {{s00, s01, s02, s03}, {s10, s11, s12, s13}, {s20, s21, s22, s23}, {s30, s31, s32, s33}};
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) DOT_OUT(float, c + i * ldc + j, hsum_ps(s[i][j]), j);
}

/* one row of A against up to 8 columns: 8 independent chains */
TGT static void dot1x8_f32(int64_t K, const float *a, int n, const float *b, int64_t ldb, float *c,
                           const em__gemm_out_f32 *o) {
    const float *bj[8];
    for (int j = 0; j < 8; j++) bj[j] = b + (j < n ? j : n - 1) * ldb;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
#define DOT1_STEP(LOAD)                                                                            \
    do {                                                                                           \
        __m512 y = LOAD(a + k);                                                                    \
        s0 = _mm512_fmadd_ps(y, LOAD(bj[0] + k), s0);                                              \
        s1 = _mm512_fmadd_ps(y, LOAD(bj[1] + k), s1);                                              \
        s2 = _mm512_fmadd_ps(y, LOAD(bj[2] + k), s2);                                              \
        s3 = _mm512_fmadd_ps(y, LOAD(bj[3] + k), s3);                                              \
        s4 = _mm512_fmadd_ps(y, LOAD(bj[4] + k), s4);                                              \
        s5 = _mm512_fmadd_ps(y, LOAD(bj[5] + k), s5);                                              \
        s6 = _mm512_fmadd_ps(y, LOAD(bj[6] + k), s6);                                              \
        s7 = _mm512_fmadd_ps(y, LOAD(bj[7] + k), s7);                                              \
    } while (0)
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) DOT1_STEP(_mm512_loadu_ps);
    if (k < K) {
        __mmask16 mk = mask16((int)(K - k));
#define MLOAD(p) _mm512_maskz_loadu_ps(mk, (p))
        DOT1_STEP(MLOAD);
#undef MLOAD
    }
#undef DOT1_STEP
    __m512 s[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
    for (int j = 0; j < n; j++) DOT_OUT(float, c + j, hsum_ps(s[j]), j);
}

/* keeps v in a register: gcc would fold a load of B used by two FMAs into both, loading it twice */
#define IN_REG(v) ({ __asm__("" : "+v"(v)); })
/* two rows of A against up to 8 columns: 16 chains (m == 2 would waste half of dot4x4) */
TGT static void dot2x8_f32(int64_t K, const float *a, int64_t lda, const float *b, int64_t ldb, int n, float *c, int64_t ldc,
                           const em__gemm_out_f32 *o) {
    const float *bj[8], *a1 = a + lda;
    for (int j = 0; j < 8; j++) bj[j] = b + (j < n ? j : n - 1) * ldb;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    __m512 t0 = s0, t1 = s0, t2 = s0, t3 = s0, t4 = s0, t5 = s0, t6 = s0, t7 = s0;
#define DOT2_STEP(LOAD)                                                                            \
    do {                                                                                           \
        __m512 y = LOAD(a + k), z = LOAD(a1 + k), x;                                                \
        x = LOAD(bj[0] + k), IN_REG(x), s0 = _mm512_fmadd_ps(y, x, s0), t0 = _mm512_fmadd_ps(z, x, t0);                  \
        x = LOAD(bj[1] + k), IN_REG(x), s1 = _mm512_fmadd_ps(y, x, s1), t1 = _mm512_fmadd_ps(z, x, t1);                  \
        x = LOAD(bj[2] + k), IN_REG(x), s2 = _mm512_fmadd_ps(y, x, s2), t2 = _mm512_fmadd_ps(z, x, t2);                  \
        x = LOAD(bj[3] + k), IN_REG(x), s3 = _mm512_fmadd_ps(y, x, s3), t3 = _mm512_fmadd_ps(z, x, t3);                  \
        x = LOAD(bj[4] + k), IN_REG(x), s4 = _mm512_fmadd_ps(y, x, s4), t4 = _mm512_fmadd_ps(z, x, t4);                  \
        x = LOAD(bj[5] + k), IN_REG(x), s5 = _mm512_fmadd_ps(y, x, s5), t5 = _mm512_fmadd_ps(z, x, t5);                  \
        x = LOAD(bj[6] + k), IN_REG(x), s6 = _mm512_fmadd_ps(y, x, s6), t6 = _mm512_fmadd_ps(z, x, t6);                  \
        x = LOAD(bj[7] + k), IN_REG(x), s7 = _mm512_fmadd_ps(y, x, s7), t7 = _mm512_fmadd_ps(z, x, t7);                  \
    } while (0)
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) DOT2_STEP(_mm512_loadu_ps);
    if (k < K) {
        __mmask16 mk = mask16((int)(K - k));
#define MLOAD(p) _mm512_maskz_loadu_ps(mk, (p))
        DOT2_STEP(MLOAD);
#undef MLOAD
    }
#undef DOT2_STEP
    __m512 s[8] = {s0, s1, s2, s3, s4, s5, s6, s7}, t[8] = {t0, t1, t2, t3, t4, t5, t6, t7};
    for (int j = 0; j < n; j++) {
        DOT_OUT(float, c + j, hsum_ps(s[j]), j);
        DOT_OUT(float, c + ldc + j, hsum_ps(t[j]), j);
    }
}

/* ---- dot kernels for rows of B that are not 64-byte aligned -------------
 * x @ W^T streams the rows of W from L2; with W at an address that is not a
 * multiple of 64 bytes (NumPy's arrays are 16-byte aligned), every 64-byte
 * load spans two cache lines and the kernel runs at ~60% of its aligned
 * speed.  When all rows of B share one misalignment (ldb a multiple of 16
 * floats), these kernels read each line of a row once, aligned, and build
 * the vector of k .. k+15 from two neighbouring lines with one permute: the
 * lanes hold the same k as the unaligned loads would, so the partial sums and
 * the bits are the same whatever the address.  Lines at the ends of a row
 * are loaded under a mask, so nothing outside the row is read. */
typedef struct {
    __m512i idx;   /* lane l takes element off + l of the pair (line t, line t + 1) */
    int off;       /* the rows' misalignment, in floats (1..15) */
    __mmask16 m0;  /* the part of the first line inside the row */
} shift_f32;

TGT static inline shift_f32 shift_init_f32(const float *b, int64_t K) {
    shift_f32 s;
    s.off = (int)(((uintptr_t)b >> 2) & 15);
    s.idx = _mm512_add_epi32(_mm512_set1_epi32(s.off),
                             _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
    int hi = K < 16 - s.off ? s.off + (int)K : 16;
    s.m0 = (__mmask16)(mask16(hi) & ~mask16(s.off));
    return s;
}
/* the aligned line holding element 0 of row p */
#define SH_BASE(p, sh) ((p) - (sh).off)
/* element k .. k+15 of a row (line cur then the next one, nxt) */
#define SH_VEC(cur, nxt, sh) _mm512_permutex2var_ps((cur), (sh).idx, (nxt))

/* Steps: full ones while line t + 1 lies inside the row (k + 32 <= K), then
 * one or two under masks (k < K).  STEP(LOADN, LOADY, VEC) loads the next
 * lines with LOADN, A with LOADY and makes vectors with VEC. */
#define SH_LOOP(K, sh, STEP)                                                                       \
    do {                                                                                           \
        int64_t k = 0;                                                                             \
        for (; k + 32 <= (K); k += 16) {                                                           \
            STEP(_mm512_load_ps, _mm512_loadu_ps, SH_FULL);                                        \
        }                                                                                          \
        for (; k < (K); k += 16) {                                                                 \
            int64_t rest_ = (K) - k - 16 + (sh).off;                                               \
            __mmask16 mn = mask16(rest_ <= 0 ? 0 : (int)rest_), mk = mask16((int)((K) - k));        \
            STEP(SH_NLOAD, SH_YLOAD, SH_PART);                                                     \
        }                                                                                          \
    } while (0)
#define SH_FULL(cur, nxt) SH_VEC(cur, nxt, sh)
#define SH_PART(cur, nxt) _mm512_maskz_permutex2var_ps(mk, (cur), sh.idx, (nxt))
#define SH_NLOAD(p) _mm512_maskz_load_ps(mn, (p))
#define SH_YLOAD(p) _mm512_maskz_loadu_ps(mk, (p))

/* dot1x8_f32 with shifted rows */
TGT static void dot1x8s_f32(int64_t K, const float *a, int n, const float *b, int64_t ldb, float *c,
                            const em__gemm_out_f32 *o) {
    shift_f32 sh = shift_init_f32(b, K);
    const float *bj[8];
    __m512 cur[8], s[8];
    for (int j = 0; j < 8; j++) {
        bj[j] = SH_BASE(b + (j < n ? j : n - 1) * ldb, sh);
        cur[j] = _mm512_maskz_load_ps(sh.m0, bj[j]);
        s[j] = _mm512_setzero_ps();
    }
#define S1_STEP(LOADN, LOADY, VEC)                                                                 \
    do {                                                                                           \
        __m512 y = LOADY(a + k);                                                                   \
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {                                      \
            __m512 nx = LOADN(bj[j] + k + 16);                                                     \
            s[j] = _mm512_fmadd_ps(y, VEC(cur[j], nx), s[j]);                                      \
            cur[j] = nx;                                                                           \
        }                                                                                          \
    } while (0)
    SH_LOOP(K, sh, S1_STEP);
#undef S1_STEP
    for (int j = 0; j < n; j++) DOT_OUT(float, c + j, hsum_ps(s[j]), j);
}

/* dot2x8_f32 with shifted rows */
TGT static void dot2x8s_f32(int64_t K, const float *a, int64_t lda, const float *b, int64_t ldb, int n, float *c,
                            int64_t ldc, const em__gemm_out_f32 *o) {
    shift_f32 sh = shift_init_f32(b, K);
    const float *bj[8], *a1 = a + lda;
    __m512 cur[8], s[8], t[8];
    for (int j = 0; j < 8; j++) {
        bj[j] = SH_BASE(b + (j < n ? j : n - 1) * ldb, sh);
        cur[j] = _mm512_maskz_load_ps(sh.m0, bj[j]);
        s[j] = t[j] = _mm512_setzero_ps();
    }
#define S2_STEP(LOADN, LOADY, VEC)                                                                 \
    do {                                                                                           \
        __m512 y = LOADY(a + k), z = LOADY(a1 + k);                                                \
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {                                      \
            __m512 nx = LOADN(bj[j] + k + 16), x = VEC(cur[j], nx);                                \
            s[j] = _mm512_fmadd_ps(y, x, s[j]);                                                    \
            t[j] = _mm512_fmadd_ps(z, x, t[j]);                                                    \
            cur[j] = nx;                                                                           \
        }                                                                                          \
    } while (0)
    SH_LOOP(K, sh, S2_STEP);
#undef S2_STEP
    for (int j = 0; j < n; j++) {
        DOT_OUT(float, c + j, hsum_ps(s[j]), j);
        DOT_OUT(float, c + ldc + j, hsum_ps(t[j]), j);
    }
}

/* dot4x4_f32 with shifted rows */
TGT static void dot4x4s_f32(int64_t K, const float *a, int64_t lda, int m, const float *b, int64_t ldb, int n,
                            float *c, int64_t ldc, const em__gemm_out_f32 *o) {
    shift_f32 sh = shift_init_f32(b, K);
    const float *ar[4], *br[4];
    __m512 cur[4], s[4][4];
    for (int i = 0; i < 4; i++) {
        ar[i] = a + (i < m ? i : m - 1) * lda;
        br[i] = SH_BASE(b + (i < n ? i : n - 1) * ldb, sh);
        cur[i] = _mm512_maskz_load_ps(sh.m0, br[i]);
        for (int j = 0; j < 4; j++) s[i][j] = _mm512_setzero_ps();
    }
#define S4_STEP(LOADN, LOADY, VEC)                                                                 \
    do {                                                                                           \
        __m512 x[4];                                                                               \
        _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {                                      \
            __m512 nx = LOADN(br[j] + k + 16);                                                     \
            x[j] = VEC(cur[j], nx);                                                                \
            cur[j] = nx;                                                                           \
        }                                                                                          \
        _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++) {                                      \
            __m512 y = LOADY(ar[i] + k);                                                           \
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) s[i][j] = _mm512_fmadd_ps(y, x[j], s[i][j]);               \
        }                                                                                          \
    } while (0)
    SH_LOOP(K, sh, S4_STEP);
#undef S4_STEP
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) DOT_OUT(float, c + i * ldc + j, hsum_ps(s[i][j]), j);
}

/* m <= 4 rows, n <= 8 columns */
TGT static void dot_f32(int64_t K, const float *a, int64_t lda, int m, const float *b, int64_t ldb, int n, float *c,
                        int64_t ldc, const em__gemm_out_f32 *o) {
    /* rows of B sharing one misalignment: the shifted kernels (same bits) */
    bool sh = ((uintptr_t)b & 63) != 0 && ((uintptr_t)b & 3) == 0 && (ldb & 15) == 0;
    if (m == 1) {
        (sh ? dot1x8s_f32 : dot1x8_f32)(K, a, n, b, ldb, c, o);
        return;
    }
    if (m == 2) {
        (sh ? dot2x8s_f32 : dot2x8_f32)(K, a, lda, b, ldb, n, c, ldc, o);
        return;
    }
    for (int j = 0; j < n; j += 4) {
        em__gemm_out_f32 oj = *o;
        if (oj.bias) oj.bias += j;
        (sh ? dot4x4s_f32 : dot4x4_f32)(K, a, lda, m, b + j * ldb, ldb, n - j < 4 ? n - j : 4, c + j, ldc, &oj);
    }
}

/* One row of A against n <= 128 columns: 8 chains of 16 columns.  Full
 * chunks keep all 8 accumulators in registers; a shorter one runs the
 * vectors one at a time (same chains, same bits). */
TGT static void row_f32(int64_t kc, const float *a, const float *b, int64_t ldb, float *c, int n,
                        const em__gemm_out_f32 *o) {
    enum { W = 16 };
    if (n == 8 * W) {
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        for (int64_t k = 0; k < kc; k++, b += ldb) {
            __m512 av = _mm512_set1_ps(a[k]);
            s0 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b), s0);
            s1 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + W), s1);
            s2 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + 2 * W), s2);
            s3 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + 3 * W), s3);
            s4 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + 4 * W), s4);
            s5 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + 5 * W), s5);
            s6 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + 6 * W), s6);
            s7 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + 7 * W), s7);
        }
        __m512 s[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
        for (int v = 0; v < 8; v++) out_ps(c + v * W, s[v], W, o, o->bias ? o->bias + v * W : NULL);
        return;
    }
    for (int v = 0; v * W < n; v++) {
        int nv = n - v * W < W ? n - v * W : W;
        __mmask16 m = mask16(nv);
        __m512 acc = _mm512_setzero_ps();
        const float *bv = b + v * W;
        for (int64_t k = 0; k < kc; k++)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(a[k]), _mm512_maskz_loadu_ps(m, bv + k * ldb), acc);
        out_ps(c + v * W, acc, nv, o, o->bias ? o->bias + v * W : NULL);
    }
}

/* ---- float64 ----------------------------------------------------------- */

TGT static inline void out_pd(double *c, __m512d acc, int n, const em__gemm_out_f64 *o, const double *bias) {
    __mmask8 m = mask8(n);
    __m512d v = _mm512_mul_pd(_mm512_set1_pd(o->alpha), acc);
    if (!o->first)
        v = _mm512_add_pd(_mm512_maskz_loadu_pd(m, c), v);
    else if (o->beta != 0)
        v = _mm512_add_pd(v, _mm512_mul_pd(_mm512_set1_pd(o->beta), _mm512_maskz_loadu_pd(m, c)));
    if (bias) v = _mm512_add_pd(v, _mm512_maskz_loadu_pd(m, bias));
    if (o->relu) v = _mm512_max_pd(_mm512_setzero_pd(), v);
    _mm512_mask_storeu_pd(c, m, v);
}

TGT static void ukr_f64(int64_t kc, const double *a, int64_t ars, int64_t acs, const double *b, int64_t ldb,
                        double *c, int64_t ldc, int mr, int nr, const em__gemm_out_f64 *o) {
    __m512d acc[2 * MR];
    for (int r = 0; r < mr; r++) {
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + nr - 1), _MM_HINT_T0);
    }
    UKR_KLOOP(double, "d", "8", AK8, nr <= NR_F64 / 2, false);
    if (nr == NR_F64 && o->alpha == 1 && !o->bias && !o->relu && (!o->first || o->beta == 0)) {
        if (o->first)
            for (int r = 0; r < mr; r++) {
                _mm512_storeu_pd(c + r * ldc, acc[2 * r]);
                _mm512_storeu_pd(c + r * ldc + 8, acc[2 * r + 1]);
            }
        else
            for (int r = 0; r < mr; r++) {
                _mm512_storeu_pd(c + r * ldc, _mm512_add_pd(_mm512_loadu_pd(c + r * ldc), acc[2 * r]));
                _mm512_storeu_pd(c + r * ldc + 8, _mm512_add_pd(_mm512_loadu_pd(c + r * ldc + 8), acc[2 * r + 1]));
            }
        return;
    }
    int n0 = nr < 8 ? nr : 8, n1 = nr - n0;
    for (int r = 0; r < mr; r++) {
        double *cr = c + r * ldc;
        out_pd(cr, acc[2 * r], n0, o, o->bias);
        if (n1 > 0) out_pd(cr + 8, acc[2 * r + 1], n1, o, o->bias ? o->bias + 8 : NULL);
    }
}

TGT static void ukr_wide_f64(int64_t kc, const double *a, int64_t ars, int64_t acs, const double *b, int64_t ldb,
                             double *c, int64_t ldc, int mr, int nr, const em__gemm_out_f64 *o) {
    __m512d acc[16];
    UKR_KLOOP(double, "d", "8", AK8, false, true);
    for (int r = 0; r < mr; r++)
        for (int v = 0; v * 8 < nr; v++)
            out_pd(c + r * ldc + v * 8, acc[4 * r + v], nr - v * 8, o, o->bias ? o->bias + v * 8 : NULL);
}

/* 8 lanes, added pairwise: l and l+4, then l+2, l+1 */
TGT static inline double hsum_pd(__m512d v) {
    __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1));
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

TGT static void dot4x4_f64(int64_t K, const double *a, int64_t lda, int m, const double *b, int64_t ldb, int n,
                           double *c, int64_t ldc, const em__gemm_out_f64 *o) {
    const double *ar[4], *br[4];
    for (int i = 0; i < 4; i++) ar[i] = a + (i < m ? i : m - 1) * lda, br[i] = b + (i < n ? i : n - 1) * ldb;
    __m512d s00 = _mm512_setzero_pd(), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00, s13 = s00,
            s20 = s00, s21 = s00, s22 = s00, s23 = s00, s30 = s00, s31 = s00, s32 = s00, s33 = s00;
#define DOT_STEP(LOAD)                                                                             \
    do {                                                                                           \
        __m512d x0 = LOAD(br[0] + k), x1 = LOAD(br[1] + k), x2 = LOAD(br[2] + k), x3 = LOAD(br[3] + k); \
        __m512d y = LOAD(ar[0] + k);                                                               \
        s00 = _mm512_fmadd_pd(y, x0, s00), s01 = _mm512_fmadd_pd(y, x1, s01);                      \
        s02 = _mm512_fmadd_pd(y, x2, s02), s03 = _mm512_fmadd_pd(y, x3, s03);                      \
        y = LOAD(ar[1] + k);                                                                       \
        s10 = _mm512_fmadd_pd(y, x0, s10), s11 = _mm512_fmadd_pd(y, x1, s11);                      \
        s12 = _mm512_fmadd_pd(y, x2, s12), s13 = _mm512_fmadd_pd(y, x3, s13);                      \
        y = LOAD(ar[2] + k);                                                                       \
        s20 = _mm512_fmadd_pd(y, x0, s20), s21 = _mm512_fmadd_pd(y, x1, s21);                      \
        s22 = _mm512_fmadd_pd(y, x2, s22), s23 = _mm512_fmadd_pd(y, x3, s23);                      \
        y = LOAD(ar[3] + k);                                                                       \
        s30 = _mm512_fmadd_pd(y, x0, s30), s31 = _mm512_fmadd_pd(y, x1, s31);                      \
        s32 = _mm512_fmadd_pd(y, x2, s32), s33 = _mm512_fmadd_pd(y, x3, s33);                      \
    } while (0)
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) DOT_STEP(_mm512_loadu_pd);
    if (k < K) {
        __mmask8 mk = mask8((int)(K - k));
#define MLOAD(p) _mm512_maskz_loadu_pd(mk, (p))
        DOT_STEP(MLOAD);
#undef MLOAD
    }
#undef DOT_STEP
    __m512d s[4][4] = {{s00, s01, s02, s03}, {s10, s11, s12, s13}, {s20, s21, s22, s23}, {s30, s31, s32, s33}};
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) DOT_OUT(double, c + i * ldc + j, hsum_pd(s[i][j]), j);
}

TGT static void dot1x8_f64(int64_t K, const double *a, int n, const double *b, int64_t ldb, double *c,
                           const em__gemm_out_f64 *o) {
    const double *bj[8];
    for (int j = 0; j < 8; j++) bj[j] = b + (j < n ? j : n - 1) * ldb;
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
#define DOT1_STEP(LOAD)                                                                            \
    do {                                                                                           \
        __m512d y = LOAD(a + k);                                                                   \
        s0 = _mm512_fmadd_pd(y, LOAD(bj[0] + k), s0);                                              \
        s1 = _mm512_fmadd_pd(y, LOAD(bj[1] + k), s1);                                              \
        s2 = _mm512_fmadd_pd(y, LOAD(bj[2] + k), s2);                                              \
        s3 = _mm512_fmadd_pd(y, LOAD(bj[3] + k), s3);                                              \
        s4 = _mm512_fmadd_pd(y, LOAD(bj[4] + k), s4);                                              \
        s5 = _mm512_fmadd_pd(y, LOAD(bj[5] + k), s5);                                              \
        s6 = _mm512_fmadd_pd(y, LOAD(bj[6] + k), s6);                                              \
        s7 = _mm512_fmadd_pd(y, LOAD(bj[7] + k), s7);                                              \
    } while (0)
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) DOT1_STEP(_mm512_loadu_pd);
    if (k < K) {
        __mmask8 mk = mask8((int)(K - k));
#define MLOAD(p) _mm512_maskz_loadu_pd(mk, (p))
        DOT1_STEP(MLOAD);
#undef MLOAD
    }
#undef DOT1_STEP
    __m512d s[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
    for (int j = 0; j < n; j++) DOT_OUT(double, c + j, hsum_pd(s[j]), j);
}

/* two rows of A against up to 8 columns: 16 chains (m == 2 would waste half of dot4x4) */
TGT static void dot2x8_f64(int64_t K, const double *a, int64_t lda, const double *b, int64_t ldb, int n, double *c, int64_t ldc,
                           const em__gemm_out_f64 *o) {
    const double *bj[8], *a1 = a + lda;
    for (int j = 0; j < 8; j++) bj[j] = b + (j < n ? j : n - 1) * ldb;
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    __m512d t0 = s0, t1 = s0, t2 = s0, t3 = s0, t4 = s0, t5 = s0, t6 = s0, t7 = s0;
#define DOT2_STEP(LOAD)                                                                            \
    do {                                                                                           \
        __m512d y = LOAD(a + k), z = LOAD(a1 + k), x;                                                \
        x = LOAD(bj[0] + k), s0 = _mm512_fmadd_pd(y, x, s0), t0 = _mm512_fmadd_pd(z, x, t0);                  \
        x = LOAD(bj[1] + k), s1 = _mm512_fmadd_pd(y, x, s1), t1 = _mm512_fmadd_pd(z, x, t1);                  \
        x = LOAD(bj[2] + k), s2 = _mm512_fmadd_pd(y, x, s2), t2 = _mm512_fmadd_pd(z, x, t2);                  \
        x = LOAD(bj[3] + k), s3 = _mm512_fmadd_pd(y, x, s3), t3 = _mm512_fmadd_pd(z, x, t3);                  \
        x = LOAD(bj[4] + k), s4 = _mm512_fmadd_pd(y, x, s4), t4 = _mm512_fmadd_pd(z, x, t4);                  \
        x = LOAD(bj[5] + k), s5 = _mm512_fmadd_pd(y, x, s5), t5 = _mm512_fmadd_pd(z, x, t5);                  \
        x = LOAD(bj[6] + k), s6 = _mm512_fmadd_pd(y, x, s6), t6 = _mm512_fmadd_pd(z, x, t6);                  \
        x = LOAD(bj[7] + k), s7 = _mm512_fmadd_pd(y, x, s7), t7 = _mm512_fmadd_pd(z, x, t7);                  \
    } while (0)
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) DOT2_STEP(_mm512_loadu_pd);
    if (k < K) {
        __mmask8 mk = mask8((int)(K - k));
#define MLOAD(p) _mm512_maskz_loadu_pd(mk, (p))
        DOT2_STEP(MLOAD);
#undef MLOAD
    }
#undef DOT2_STEP
    __m512d s[8] = {s0, s1, s2, s3, s4, s5, s6, s7}, t[8] = {t0, t1, t2, t3, t4, t5, t6, t7};
    for (int j = 0; j < n; j++) {
        DOT_OUT(double, c + j, hsum_pd(s[j]), j);
        DOT_OUT(double, c + ldc + j, hsum_pd(t[j]), j);
    }
}

TGT static void dot_f64(int64_t K, const double *a, int64_t lda, int m, const double *b, int64_t ldb, int n,
                        double *c, int64_t ldc, const em__gemm_out_f64 *o) {
    if (m == 1) {
        dot1x8_f64(K, a, n, b, ldb, c, o);
        return;
    }
    if (m == 2) {
        dot2x8_f64(K, a, lda, b, ldb, n, c, ldc, o);
        return;
    }
    for (int j = 0; j < n; j += 4) {
        em__gemm_out_f64 oj = *o;
        if (oj.bias) oj.bias += j;
        dot4x4_f64(K, a, lda, m, b + j * ldb, ldb, n - j < 4 ? n - j : 4, c + j, ldc, &oj);
    }
}

TGT static void row_f64(int64_t kc, const double *a, const double *b, int64_t ldb, double *c, int n,
                        const em__gemm_out_f64 *o) {
    enum { W = 8 };
    if (n == 8 * W) {
        __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        for (int64_t k = 0; k < kc; k++, b += ldb) {
            __m512d av = _mm512_set1_pd(a[k]);
            s0 = _mm512_fmadd_pd(av, _mm512_loadu_pd(b), s0);
            s1 = _mm512_fmadd_pd(av, _mm512_loadu_pd(b + W), s1);
            s2 = _mm512_fmadd_pd(av, _mm512_loadu_pd(b + 2 * W), s2);
            s3 = _mm512_fmadd_pd(av, _mm512_loadu_pd(b + 3 * W), s3);
            s4 = _mm512_fmadd_pd(av, _mm512_loadu_pd(b + 4 * W), s4);
            s5 = _mm512_fmadd_pd(av, _mm512_loadu_pd(b + 5 * W), s5);
            s6 = _mm512_fmadd_pd(av, _mm512_loadu_pd(b + 6 * W), s6);
            s7 = _mm512_fmadd_pd(av, _mm512_loadu_pd(b + 7 * W), s7);
        }
        __m512d s[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
        for (int v = 0; v < 8; v++) out_pd(c + v * W, s[v], W, o, o->bias ? o->bias + v * W : NULL);
        return;
    }
    for (int v = 0; v * W < n; v++) {
        int nv = n - v * W < W ? n - v * W : W;
        __mmask8 m = mask8(nv);
        __m512d acc = _mm512_setzero_pd();
        const double *bv = b + v * W;
        for (int64_t k = 0; k < kc; k++)
            acc = _mm512_fmadd_pd(_mm512_set1_pd(a[k]), _mm512_maskz_loadu_pd(m, bv + k * ldb), acc);
        out_pd(c + v * W, acc, nv, o, o->bias ? o->bias + v * W : NULL);
    }
}

/* Blocks, measured on a Sapphire Rapids Xeon (48 KiB L1d, 2 MiB L2; see
 * docs/kernels.md): kc = 512 (the kernel streams its 64 KiB sliver of B
 * from L1/L2 at full speed, 97% of peak with kc = 256 in L1, and a longer kc
 * halves the passes over C: 3-8% faster than 256 at 1024 and 2048), mc = 96
 * rows of A per B sliver, nc = 512 floats / 256 doubles (the kc x nc panel
 * of B, 1 MiB, stays in L2).  Row kernel: 8 vectors = 128 floats / 64
 * doubles. */
static const em__gemm_kset_f32 kset_f32 = {MR, NR_F32, 4, 8, 128, 4, 512, 96, 512, ukr_f32, dot_f32, row_f32,
                                           em__gemm_pack_t_f32, ukr_wide_f32, 2048 * 1024};
static const em__gemm_kset_f64 kset_f64 = {MR, NR_F64, 4, 8, 64, 4, 512, 96, 256, ukr_f64, dot_f64, row_f64,
                                           em__gemm_pack_t_f64, ukr_wide_f64, 2048 * 1024};
const em__gemm_kset_f32 *em__gemm_avx512_f32(void) { return &kset_f32; }
const em__gemm_kset_f64 *em__gemm_avx512_f64(void) { return &kset_f64; }

#else
const em__gemm_kset_f32 *em__gemm_avx512_f32(void) { return NULL; }
const em__gemm_kset_f64 *em__gemm_avx512_f64(void) { return NULL; }
#endif
