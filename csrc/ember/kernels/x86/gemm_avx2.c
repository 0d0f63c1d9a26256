/* AVX2+FMA micro-kernels for the GEMM driver in kernels/gemm.c (contract in
 * kernels/gemm.h).  Compiled for the baseline target like every libember
 * file; only these functions carry target("avx2,fma"), and gemm.c calls them
 * only after CPU detection said the CPU runs them.
 *
 * ukr (2 FMA pipes, 4-5 cycle latency): a 6 x 16 float tile (6 x 8 double)
 * lives in 12 ymm accumulators, 12 independent FMA chains, fed per k by two
 * loads of B and six broadcasts of A.  A is read packed, or in place by
 * columns or by rows (then through two row pointers and the row stride).  A
 * tile of mr < 6 rows runs a copy of the loop with mr rows; columns past nr
 * are dropped with masked stores; neither changes any kept element's chain,
 * so a result never depends on where its tile falls.
 * dot: 4 rows of A x 3 columns of B (1 x 8 for a single row), each an 8-lane
 * (4-lane for double) partial sum over k, for skinny products whose B
 * columns are contiguous (x @ W^T); both shapes reduce the lanes alike. */
#include "../gemm.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))
#define NR_F32 16
#define NR_F64 8

/* mask_n(n): lanes < n set (n in [0, 8]). */
static const int32_t mask32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t mask64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

TGT static inline __m256i mask_ps(int n) { return _mm256_loadu_si256((const __m256i *)(mask32 + 8 - n)); }
TGT static inline __m256i mask_pd(int n) { return _mm256_loadu_si256((const __m256i *)(mask64 + 4 - n)); }

/* ---- float32 ----------------------------------------------------------- */

/* One output vector (8 floats of a row) through the store step. */
TGT static inline void out_ps(float *c, __m256 acc, int n, const em__gemm_out_f32 *o, const float *bias) {
    __m256i m = n >= 8 ? _mm256_set1_epi32(-1) : mask_ps(n);
    __m256 v = _mm256_mul_ps(_mm256_set1_ps(o->alpha), acc);
    if (!o->first)
        v = _mm256_add_ps(n >= 8 ? _mm256_loadu_ps(c) : _mm256_maskload_ps(c, m), v);
    else if (o->beta != 0)
        v = _mm256_add_ps(v, _mm256_mul_ps(_mm256_set1_ps(o->beta),
                                           n >= 8 ? _mm256_loadu_ps(c) : _mm256_maskload_ps(c, m)));
    if (bias) v = _mm256_add_ps(v, n >= 8 ? _mm256_loadu_ps(bias) : _mm256_maskload_ps(bias, m));
    if (o->relu) v = _mm256_max_ps(_mm256_setzero_ps(), v); /* NaN passes: max_ps returns its 2nd operand */
    if (n >= 8)
        _mm256_storeu_ps(c, v);
    else
        _mm256_maskstore_ps(c, m, v);
}

/* The k loop in assembly: gcc's allocator spills some of the 12
 * accumulators when it schedules the intrinsics version, which costs half
 * the speed.  One step: two vectors of B (ymm12, ymm13), then per tile row r
 * a broadcast of a[r] (alternating ymm14/ymm15) and two FMAs into
 * ymm(2r), ymm(2r+1).  X is "s" (float) or "d" (double), Z the element size.
 * A tile of mr < 6 rows runs its own copy of the loop with mr rows: the
 * same chains for the rows it keeps, fewer FMAs (M = 2..5 products). */
#define ROW(X, AD, r, bc, a0, a1)                                                                  \
    "vbroadcasts" X " " AD(r) ", %%ymm" #bc "\n\t"                                                 \
    "vfmadd231p" X " %%ymm12, %%ymm" #bc ", %%ymm" #a0 "\n\t"                                       \
    "vfmadd231p" X " %%ymm13, %%ymm" #bc ", %%ymm" #a1 "\n\t"
#define ROWS1(X, AD) ROW(X, AD, 0, 14, 0, 1)
#define ROWS2(X, AD) ROWS1(X, AD) ROW(X, AD, 1, 15, 2, 3)
#define ROWS3(X, AD) ROWS2(X, AD) ROW(X, AD, 2, 14, 4, 5)
#define ROWS4(X, AD) ROWS3(X, AD) ROW(X, AD, 3, 15, 6, 7)
#define ROWS5(X, AD) ROWS4(X, AD) ROW(X, AD, 4, 14, 8, 9)
#define ROWS6(X, AD) ROWS5(X, AD) ROW(X, AD, 5, 15, 10, 11)
/* where row r of A is at step k: packed / column-major A (a[r + k*acs]), 4-
 * and 8-byte elements; row-major A (a[r*ars + k]): two row pointers and the
 * row stride in %[L] reach rows 0-5 */
#define AK4(r) #r "*4(%[a])"
#define AK8(r) #r "*8(%[a])"
#define AR(r) AR_##r
#define AR_0 "(%[a])"
#define AR_1 "(%[a],%[L],1)"
#define AR_2 "(%[a],%[L],2)"
#define AR_3 "(%[a3])"
#define AR_4 "(%[a3],%[L],1)"
#define AR_5 "(%[a3],%[L],2)"

#include "ymm_tile.h" /* ST, STS1..STS6, ZERO_ACC */
#include "ymm_store.h" /* store_n_ps */

/* Half-width tiles (nr <= NR/2, the last columns of N): one vector of B per k, one FMA per row. */
#define HROW(X, AD, r, bc, a0)                                                                    \
    "vbroadcasts" X " " AD(r) ", %%ymm" #bc "\n\t"                                                 \
    "vfmadd231p" X " %%ymm12, %%ymm" #bc ", %%ymm" #a0 "\n\t"
#define HROWS1(X, AD) HROW(X, AD, 0, 14, 0)
#define HROWS2(X, AD) HROWS1(X, AD) HROW(X, AD, 1, 15, 2)
#define HROWS3(X, AD) HROWS2(X, AD) HROW(X, AD, 2, 14, 4)
#define HROWS4(X, AD) HROWS3(X, AD) HROW(X, AD, 3, 15, 6)
#define HROWS5(X, AD) HROWS4(X, AD) HROW(X, AD, 4, 14, 8)
#define HROWS6(X, AD) HROWS5(X, AD) HROW(X, AD, 5, 15, 10)
#define HST(r, a0) "vmovups %%ymm" #a0 ", " #r "*64(%[acc])\n\t"
#define HSTS1 HST(0, 0)
#define HSTS2 HSTS1 HST(1, 2)
#define HSTS3 HSTS2 HST(2, 4)
#define HSTS4 HSTS3 HST(3, 6)
#define HSTS5 HSTS4 HST(4, 8)
#define HSTS6 HSTS5 HST(5, 10)

#define BL2(X) "vmovup" X " (%[b]), %%ymm12\n\t" "vmovup" X " 32(%[b]), %%ymm13\n\t"
#define BL1(X) "vmovup" X " (%[b]), %%ymm12\n\t"
#define STEP(X, AD, ROWS, ADV, BL) BL(X) ROWS(X, AD) ADV "add %[ldb], %[b]\n\t"

/* acc[2r + h] = sum_k A(r, k) * b[k*ldb + 8h/4h ...] for r < rows (ldb in bytes) */
#define LOOP_BODY(X, AD, ROWS, STS, ADV, BL)                                                           \
    ZERO_ACC                                                                                       \
    "cmp $4, %[k4]\n\t"                                                                            \
    "jb 2f\n\t"                                                                                    \
    "1:\n\t" STEP(X, AD, ROWS, ADV, BL) STEP(X, AD, ROWS, ADV, BL) STEP(X, AD, ROWS, ADV, BL)                  \
        STEP(X, AD, ROWS, ADV, BL) "sub $4, %[k4]\n\t"                                                 \
    "cmp $4, %[k4]\n\t"                                                                            \
    "jae 1b\n\t"                                                                                   \
    "2:\n\t"                                                                                       \
    "test %[k4], %[k4]\n\t"                                                                        \
    "jz 4f\n\t"                                                                                    \
    "3:\n\t" STEP(X, AD, ROWS, ADV, BL) "dec %[k4]\n\t"                                                \
    "jnz 3b\n\t"                                                                                   \
    "4:\n\t" STS
#define CLOBBERS                                                                                   \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
        "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc"
/* A packed or column-major: a moves by %[as] bytes per k */
#define LOOP_K(X, AK, ROWS, STS, BL)                                                                   \
    __asm__ volatile(LOOP_BODY(X, AK, ROWS, STS, "add %[as], %[a]\n\t", BL)                             \
                     : [a] "+r"(a), [b] "+r"(b), [k4] "+r"(k4)                                     \
                     : [ldb] "r"(ldb_bytes), [as] "r"(as), [acc] "r"(acc)                          \
                     : CLOBBERS)
/* A row-major: both row pointers move by one element per k */
#define LOOP_R(X, Z, ROWS, STS, BL)                                                                    \
    __asm__ volatile(LOOP_BODY(X, AR, ROWS, STS, "add $" Z ", %[a]\n\tadd $" Z ", %[a3]\n\t", BL)       \
                     : [a] "+r"(a), [a3] "+r"(a3), [b] "+r"(b), [k4] "+r"(k4)                      \
                     : [ldb] "r"(ldb_bytes), [L] "r"(L), [acc] "r"(acc)                            \
                     : CLOBBERS)

#define LOOP_ROWS(LOOP, X, AD, mr, P, BL)                                                          \
    switch (mr) {                                                                                  \
    case 1: LOOP(X, AD, P##ROWS1, P##STS1, BL); break;                                             \
    case 2: LOOP(X, AD, P##ROWS2, P##STS2, BL); break;                                             \
    case 3: LOOP(X, AD, P##ROWS3, P##STS3, BL); break;                                             \
    case 4: LOOP(X, AD, P##ROWS4, P##STS4, BL); break;                                             \
    case 5: LOOP(X, AD, P##ROWS5, P##STS5, BL); break;                                             \
    default: LOOP(X, AD, P##ROWS6, P##STS6, BL); break;                                            \
    }

/* Wide tiles for 2 rows (skinny products, B read in place): 4 vectors of B per k (ymm12-15, the
 * broadcast in ymm8), so that 2 rows run 8 chains, not 4. */
#define WROW(X, AD, r, a0, a1, a2, a3)                                                             \
    "vbroadcasts" X " " AD(r) ", %%ymm8\n\t"                                                       \
    "vfmadd231p" X " %%ymm12, %%ymm8, %%ymm" #a0 "\n\t"                                            \
    "vfmadd231p" X " %%ymm13, %%ymm8, %%ymm" #a1 "\n\t"                                            \
    "vfmadd231p" X " %%ymm14, %%ymm8, %%ymm" #a2 "\n\t"                                            \
    "vfmadd231p" X " %%ymm15, %%ymm8, %%ymm" #a3 "\n\t"
#define WROWS2(X, AD) WROW(X, AD, 0, 0, 1, 2, 3) WROW(X, AD, 1, 4, 5, 6, 7)
#define WSTS2                                                                                      \
    "vmovups %%ymm0, 0(%[acc])\n\t" "vmovups %%ymm1, 32(%[acc])\n\t" "vmovups %%ymm2, 64(%[acc])\n\t" \
    "vmovups %%ymm3, 96(%[acc])\n\t" "vmovups %%ymm4, 128(%[acc])\n\t" "vmovups %%ymm5, 160(%[acc])\n\t" \
    "vmovups %%ymm6, 192(%[acc])\n\t" "vmovups %%ymm7, 224(%[acc])\n\t"
#define BL4(X)                                                                                     \
    "vmovup" X " (%[b]), %%ymm12\n\t" "vmovup" X " 32(%[b]), %%ymm13\n\t"                          \
    "vmovup" X " 64(%[b]), %%ymm14\n\t" "vmovup" X " 96(%[b]), %%ymm15\n\t"

/* The k loop for the layout of A: acc[12] gets rows r < mr. */
#define UKR_KLOOP(T, X, Z, AK, half, wide)                                                                     \
    do {                                                                                           \
        uint64_t k4 = (uint64_t)kc;                                                                \
        int64_t ldb_bytes = ldb * (int64_t)sizeof(T);                                              \
        if (acs == 1 && ars != 1) { /* rows of A contiguous */                                     \
            int64_t L = ars * (int64_t)sizeof(T);                                                  \
            /* row 3's pointer as an integer: with mr <= 3 it lies past A and is never read */   \
            uintptr_t a3 = (uintptr_t)a + 3 * (uintptr_t)L;                                        \
            if (wide)                                                                              \
                LOOP_R(X, Z, WROWS2, WSTS2, BL4);                                                  \
            else if (half)                                                                         \
                LOOP_ROWS(LOOP_R, X, Z, mr, H, BL1)                                                \
            else                                                                                   \
                LOOP_ROWS(LOOP_R, X, Z, mr, , BL2)                                                 \
        } else {                                                                                   \
            int64_t as = acs * (int64_t)sizeof(T);                                                 \
            if (wide)                                                                              \
                LOOP_K(X, AK, WROWS2, WSTS2, BL4);                                                 \
            else if (half)                                                                         \
                LOOP_ROWS(LOOP_K, X, AK, mr, H, BL1)                                               \
            else                                                                                   \
                LOOP_ROWS(LOOP_K, X, AK, mr, , BL2)                                                \
        }                                                                                          \
    } while (0)

TGT static void ukr_f32(int64_t kc, const float *a, int64_t ars, int64_t acs, const float *b, int64_t ldb, float *c,
                        int64_t ldc, int mr, int nr, const em__gemm_out_f32 *o) {
    __m256 acc[12];
    for (int r = 0; r < mr; r++) { /* the tile of C is read after the loop: start fetching it now */
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + nr - 1), _MM_HINT_T0);
    }
    UKR_KLOOP(float, "s", "4", AK4, nr <= NR_F32 / 2, false);
    if (nr == NR_F32 && o->alpha == 1 && !o->bias && !o->relu && (!o->first || o->beta == 0)) {
        /* the common store steps without masks or branches (alpha*acc == acc when alpha is 1) */
        if (o->first)
            for (int r = 0; r < mr; r++) {
                _mm256_storeu_ps(c + r * ldc, acc[2 * r]);
                _mm256_storeu_ps(c + r * ldc + 8, acc[2 * r + 1]);
            }
        else
            for (int r = 0; r < mr; r++) {
                _mm256_storeu_ps(c + r * ldc, _mm256_add_ps(_mm256_loadu_ps(c + r * ldc), acc[2 * r]));
                _mm256_storeu_ps(c + r * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(c + r * ldc + 8), acc[2 * r + 1]));
            }
        return;
    }
    int n0 = nr < 8 ? nr : 8, n1 = nr - n0;
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        out_ps(cr, acc[2 * r], n0, o, o->bias);
        if (n1 > 0) out_ps(cr + 8, acc[2 * r + 1], n1, o, o->bias ? o->bias + 8 : NULL);
    }
}

/* 2 rows x nr <= 32 columns (b holds 32 readable columns): the wide tile. */
TGT static void ukr_wide_f32(int64_t kc, const float *a, int64_t ars, int64_t acs, const float *b, int64_t ldb,
                             float *c, int64_t ldc, int mr, int nr, const em__gemm_out_f32 *o) {
    __m256 acc[12];
    UKR_KLOOP(float, "s", "4", AK4, false, true);
    for (int r = 0; r < 2; r++)
        for (int v = 0; v * 8 < nr; v++)
            out_ps(c + r * ldc + v * 8, acc[4 * r + v], nr - v * 8, o, o->bias ? o->bias + v * 8 : NULL);
}

/* lanes l and l+4, then l and l+2, then l and l+1 */
TGT static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

TGT static inline void dot4x3_f32(int64_t K, const float *a, int64_t lda, int m, const float *b, int64_t ldb, int n, float *c,
                        int64_t ldc, const em__gemm_out_f32 *o) {
    /* rows/columns past m/n repeat the last one; their sums are dropped */
    const float *a0 = a, *a1 = a + (m > 1 ? 1 : 0) * lda, *a2 = a + (m > 2 ? 2 : m - 1) * lda,
                *a3 = a + (m > 3 ? 3 : m - 1) * lda;
    const float *b0 = b, *b1 = b + (n > 1 ? 1 : 0) * ldb, *b2 = b + (n > 2 ? 2 : n - 1) * ldb;
    __m256 s[4][3];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) s[i][j] = _mm256_setzero_ps();
#define DOT_STEP(LOAD)                                                                             \
    do {                                                                                           \
        __m256 x0 = LOAD(b0 + k), x1 = LOAD(b1 + k), x2 = LOAD(b2 + k);                            \
        __m256 y = LOAD(a0 + k);                                                                   \
        s[0][0] = _mm256_fmadd_ps(y, x0, s[0][0]);                                                 \
        s[0][1] = _mm256_fmadd_ps(y, x1, s[0][1]);                                                 \
        s[0][2] = _mm256_fmadd_ps(y, x2, s[0][2]);                                                 \
        y = LOAD(a1 + k);                                                                          \
        s[1][0] = _mm256_fmadd_ps(y, x0, s[1][0]);                                                 \
        s[1][1] = _mm256_fmadd_ps(y, x1, s[1][1]);                                                 \
        s[1][2] = _mm256_fmadd_ps(y, x2, s[1][2]);                                                 \
        y = LOAD(a2 + k);                                                                          \
        s[2][0] = _mm256_fmadd_ps(y, x0, s[2][0]);                                                 \
        s[2][1] = _mm256_fmadd_ps(y, x1, s[2][1]);                                                 \
        s[2][2] = _mm256_fmadd_ps(y, x2, s[2][2]);                                                 \
        y = LOAD(a3 + k);                                                                          \
        s[3][0] = _mm256_fmadd_ps(y, x0, s[3][0]);                                                 \
        s[3][1] = _mm256_fmadd_ps(y, x1, s[3][1]);                                                 \
        s[3][2] = _mm256_fmadd_ps(y, x2, s[3][2]);                                                 \
    } while (0)
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) DOT_STEP(_mm256_loadu_ps);
    if (k < K) {
        __m256i mk = mask_ps((int)(K - k));
#define MLOAD_PS(p) _mm256_maskload_ps((p), mk)
        DOT_STEP(MLOAD_PS);
#undef MLOAD_PS
    }
#undef DOT_STEP
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float *cij = c + i * ldc + j, v = o->alpha * hsum_ps(s[i][j]);
            if (o->beta != 0) v = v + o->beta * *cij;
            if (o->bias) v = v + o->bias[j];
            if (o->relu) v = v < 0 ? 0 : v;
            *cij = v;
        }
}

/* one row of A against up to 8 columns: 8 independent chains */
TGT static inline void dot1x8_f32(int64_t K, const float *a, int n, const float *b, int64_t ldb, float *c,
                                  const em__gemm_out_f32 *o) {
    const float *bj[8];
    for (int j = 0; j < 8; j++) bj[j] = b + (j < n ? j : n - 1) * ldb;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
#define DOT1_STEP(LOAD)                                                                            \
    do {                                                                                           \
        __m256 y = LOAD(a + k);                                                                     \
        s0 = _mm256_fmadd_ps(y, LOAD(bj[0] + k), s0);                                              \
        s1 = _mm256_fmadd_ps(y, LOAD(bj[1] + k), s1);                                              \
        s2 = _mm256_fmadd_ps(y, LOAD(bj[2] + k), s2);                                              \
        s3 = _mm256_fmadd_ps(y, LOAD(bj[3] + k), s3);                                              \
        s4 = _mm256_fmadd_ps(y, LOAD(bj[4] + k), s4);                                              \
        s5 = _mm256_fmadd_ps(y, LOAD(bj[5] + k), s5);                                              \
        s6 = _mm256_fmadd_ps(y, LOAD(bj[6] + k), s6);                                              \
        s7 = _mm256_fmadd_ps(y, LOAD(bj[7] + k), s7);                                              \
    } while (0)
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) DOT1_STEP(_mm256_loadu_ps);
    if (k < K) {
        __m256i mk = mask_ps((int)(K - k));
#define MLOAD1(p) _mm256_maskload_ps((p), mk)
        DOT1_STEP(MLOAD1);
#undef MLOAD1
    }
#undef DOT1_STEP
    __m256 s[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
    for (int j = 0; j < n; j++) {
        float v = o->alpha * hsum_ps(s[j]);
        if (o->beta != 0) v = v + o->beta * c[j];
        if (o->bias) v = v + o->bias[j];
        if (o->relu) v = v < 0 ? 0 : v;
        c[j] = v;
    }
}

/* m <= 4 rows, n <= 8 columns */
TGT static void dot_f32(int64_t K, const float *a, int64_t lda, int m, const float *b, int64_t ldb, int n, float *c,
                        int64_t ldc, const em__gemm_out_f32 *o) {
    if (m == 1) {
        dot1x8_f32(K, a, n, b, ldb, c, o);
        return;
    }
    for (int j = 0; j < n; j += 3) {
        em__gemm_out_f32 oj = *o;
        if (oj.bias) oj.bias += j;
        dot4x3_f32(K, a, lda, m, b + j * ldb, ldb, n - j < 3 ? n - j : 3, c + j, ldc, &oj);
    }
}

/* One row of A against n <= 64 (float) / 32 (double) columns: 8 chains of
 * 8 (4) columns.  Full chunks keep all 8 accumulators in registers; a
 * shorter one runs the vectors one at a time (same chains, same bits). */
TGT static void row_f32(int64_t kc, const float *a, const float *b, int64_t ldb, float *c, int n,
                        const em__gemm_out_f32 *o) {
    enum { W = 8 };
    if (n == 8 * W) {
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        for (int64_t k = 0; k < kc; k++, b += ldb) {
            __m256 av = _mm256_set1_ps(a[k]);
            s0 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b), s0);
            s1 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b + W), s1);
            s2 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b + 2 * W), s2);
            s3 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b + 3 * W), s3);
            s4 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b + 4 * W), s4);
            s5 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b + 5 * W), s5);
            s6 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b + 6 * W), s6);
            s7 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b + 7 * W), s7);
        }
        __m256 s[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
        for (int v = 0; v < 8; v++) out_ps(c + v * W, s[v], W, o, o->bias ? o->bias + v * W : NULL);
        return;
    }
    for (int v = 0; v * W < n; v++) {
        int nv = n - v * W < W ? n - v * W : W;
        __m256i m = mask_ps(nv);
        __m256 acc = _mm256_setzero_ps();
        const float *bv = b + v * W;
        for (int64_t k = 0; k < kc; k++) acc = _mm256_fmadd_ps(_mm256_set1_ps(a[k]), _mm256_maskload_ps(bv + k * ldb, m), acc);
        out_ps(c + v * W, acc, nv, o, o->bias ? o->bias + v * W : NULL);
    }
}

/* ---- float64 ----------------------------------------------------------- */

TGT static inline void out_pd(double *c, __m256d acc, int n, const em__gemm_out_f64 *o, const double *bias) {
    __m256i m = n >= 4 ? _mm256_set1_epi64x(-1) : mask_pd(n);
    __m256d v = _mm256_mul_pd(_mm256_set1_pd(o->alpha), acc);
    if (!o->first)
        v = _mm256_add_pd(n >= 4 ? _mm256_loadu_pd(c) : _mm256_maskload_pd(c, m), v);
    else if (o->beta != 0)
        v = _mm256_add_pd(v, _mm256_mul_pd(_mm256_set1_pd(o->beta),
                                           n >= 4 ? _mm256_loadu_pd(c) : _mm256_maskload_pd(c, m)));
    if (bias) v = _mm256_add_pd(v, n >= 4 ? _mm256_loadu_pd(bias) : _mm256_maskload_pd(bias, m));
    if (o->relu) v = _mm256_max_pd(_mm256_setzero_pd(), v);
    if (n >= 4)
        _mm256_storeu_pd(c, v);
    else
        _mm256_maskstore_pd(c, m, v);
}

TGT static void ukr_f64(int64_t kc, const double *a, int64_t ars, int64_t acs, const double *b, int64_t ldb,
                        double *c, int64_t ldc, int mr, int nr, const em__gemm_out_f64 *o) {
    __m256d acc[12];
    for (int r = 0; r < mr; r++) {
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + nr - 1), _MM_HINT_T0);
    }
    UKR_KLOOP(double, "d", "8", AK8, nr <= NR_F64 / 2, false);
    if (nr == NR_F64 && o->alpha == 1 && !o->bias && !o->relu && (!o->first || o->beta == 0)) {
        if (o->first)
            for (int r = 0; r < mr; r++) {
                _mm256_storeu_pd(c + r * ldc, acc[2 * r]);
                _mm256_storeu_pd(c + r * ldc + 4, acc[2 * r + 1]);
            }
        else
            for (int r = 0; r < mr; r++) {
                _mm256_storeu_pd(c + r * ldc, _mm256_add_pd(_mm256_loadu_pd(c + r * ldc), acc[2 * r]));
                _mm256_storeu_pd(c + r * ldc + 4, _mm256_add_pd(_mm256_loadu_pd(c + r * ldc + 4), acc[2 * r + 1]));
            }
        return;
    }
    int n0 = nr < 4 ? nr : 4, n1 = nr - n0;
    for (int r = 0; r < mr; r++) {
        double *cr = c + r * ldc;
        out_pd(cr, acc[2 * r], n0, o, o->bias);
        if (n1 > 0) out_pd(cr + 4, acc[2 * r + 1], n1, o, o->bias ? o->bias + 4 : NULL);
    }
}

TGT static void ukr_wide_f64(int64_t kc, const double *a, int64_t ars, int64_t acs, const double *b, int64_t ldb,
                             double *c, int64_t ldc, int mr, int nr, const em__gemm_out_f64 *o) {
    __m256d acc[12];
    UKR_KLOOP(double, "d", "8", AK8, false, true);
    for (int r = 0; r < 2; r++)
        for (int v = 0; v * 4 < nr; v++)
            out_pd(c + r * ldc + v * 4, acc[4 * r + v], nr - v * 4, o, o->bias ? o->bias + v * 4 : NULL);
}

TGT static inline double hsum_pd(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

TGT static inline void dot4x3_f64(int64_t K, const double *a, int64_t lda, int m, const double *b, int64_t ldb, int n,
                        double *c, int64_t ldc, const em__gemm_out_f64 *o) {
    const double *a0 = a, *a1 = a + (m > 1 ? 1 : 0) * lda, *a2 = a + (m > 2 ? 2 : m - 1) * lda,
                 *a3 = a + (m > 3 ? 3 : m - 1) * lda;
    const double *b0 = b, *b1 = b + (n > 1 ? 1 : 0) * ldb, *b2 = b + (n > 2 ? 2 : n - 1) * ldb;
    __m256d s[4][3];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) s[i][j] = _mm256_setzero_pd();
#define DOT_STEP_PD(LOAD)                                                                          \
    do {                                                                                           \
        __m256d x0 = LOAD(b0 + k), x1 = LOAD(b1 + k), x2 = LOAD(b2 + k);                           \
        __m256d y = LOAD(a0 + k);                                                                  \
        s[0][0] = _mm256_fmadd_pd(y, x0, s[0][0]);                                                 \
        s[0][1] = _mm256_fmadd_pd(y, x1, s[0][1]);                                                 \
        s[0][2] = _mm256_fmadd_pd(y, x2, s[0][2]);                                                 \
        y = LOAD(a1 + k);                                                                          \
        s[1][0] = _mm256_fmadd_pd(y, x0, s[1][0]);                                                 \
        s[1][1] = _mm256_fmadd_pd(y, x1, s[1][1]);                                                 \
        s[1][2] = _mm256_fmadd_pd(y, x2, s[1][2]);                                                 \
        y = LOAD(a2 + k);                                                                          \
        s[2][0] = _mm256_fmadd_pd(y, x0, s[2][0]);                                                 \
        s[2][1] = _mm256_fmadd_pd(y, x1, s[2][1]);                                                 \
        s[2][2] = _mm256_fmadd_pd(y, x2, s[2][2]);                                                 \
        y = LOAD(a3 + k);                                                                          \
        s[3][0] = _mm256_fmadd_pd(y, x0, s[3][0]);                                                 \
        s[3][1] = _mm256_fmadd_pd(y, x1, s[3][1]);                                                 \
        s[3][2] = _mm256_fmadd_pd(y, x2, s[3][2]);                                                 \
    } while (0)
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) DOT_STEP_PD(_mm256_loadu_pd);
    if (k < K) {
        __m256i mk = mask_pd((int)(K - k));
#define MLOAD_PD(p) _mm256_maskload_pd((p), mk)
        DOT_STEP_PD(MLOAD_PD);
#undef MLOAD_PD
    }
#undef DOT_STEP_PD
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double *cij = c + i * ldc + j, v = o->alpha * hsum_pd(s[i][j]);
            if (o->beta != 0) v = v + o->beta * *cij;
            if (o->bias) v = v + o->bias[j];
            if (o->relu) v = v < 0 ? 0 : v;
            *cij = v;
        }
}

/* one row of A against up to 8 columns: 8 independent chains */
TGT static inline void dot1x8_f64(int64_t K, const double *a, int n, const double *b, int64_t ldb, double *c,
                                  const em__gemm_out_f64 *o) {
    const double *bj[8];
    for (int j = 0; j < 8; j++) bj[j] = b + (j < n ? j : n - 1) * ldb;
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
#define DOT1_STEP(LOAD)                                                                            \
    do {                                                                                           \
        __m256d y = LOAD(a + k);                                                                     \
        s0 = _mm256_fmadd_pd(y, LOAD(bj[0] + k), s0);                                              \
        s1 = _mm256_fmadd_pd(y, LOAD(bj[1] + k), s1);                                              \
        s2 = _mm256_fmadd_pd(y, LOAD(bj[2] + k), s2);                                              \
        s3 = _mm256_fmadd_pd(y, LOAD(bj[3] + k), s3);                                              \
        s4 = _mm256_fmadd_pd(y, LOAD(bj[4] + k), s4);                                              \
        s5 = _mm256_fmadd_pd(y, LOAD(bj[5] + k), s5);                                              \
        s6 = _mm256_fmadd_pd(y, LOAD(bj[6] + k), s6);                                              \
        s7 = _mm256_fmadd_pd(y, LOAD(bj[7] + k), s7);                                              \
    } while (0)
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) DOT1_STEP(_mm256_loadu_pd);
    if (k < K) {
        __m256i mk = mask_pd((int)(K - k));
#define MLOAD1(p) _mm256_maskload_pd((p), mk)
        DOT1_STEP(MLOAD1);
#undef MLOAD1
    }
#undef DOT1_STEP
    __m256d s[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
    for (int j = 0; j < n; j++) {
        double v = o->alpha * hsum_pd(s[j]);
        if (o->beta != 0) v = v + o->beta * c[j];
        if (o->bias) v = v + o->bias[j];
        if (o->relu) v = v < 0 ? 0 : v;
        c[j] = v;
    }
}

/* m <= 4 rows, n <= 8 columns */
TGT static void dot_f64(int64_t K, const double *a, int64_t lda, int m, const double *b, int64_t ldb, int n, double *c,
                        int64_t ldc, const em__gemm_out_f64 *o) {
    if (m == 1) {
        dot1x8_f64(K, a, n, b, ldb, c, o);
        return;
    }
    for (int j = 0; j < n; j += 3) {
        em__gemm_out_f64 oj = *o;
        if (oj.bias) oj.bias += j;
        dot4x3_f64(K, a, lda, m, b + j * ldb, ldb, n - j < 3 ? n - j : 3, c + j, ldc, &oj);
    }
}

/* One row of A against n <= 64 (float) / 32 (double) columns: 8 chains of
 * 8 (4) columns.  Full chunks keep all 8 accumulators in registers; a
 * shorter one runs the vectors one at a time (same chains, same bits). */
TGT static void row_f64(int64_t kc, const double *a, const double *b, int64_t ldb, double *c, int n,
                        const em__gemm_out_f64 *o) {
    enum { W = 4 };
    if (n == 8 * W) {
        __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        for (int64_t k = 0; k < kc; k++, b += ldb) {
            __m256d av = _mm256_set1_pd(a[k]);
            s0 = _mm256_fmadd_pd(av, _mm256_loadu_pd(b), s0);
            s1 = _mm256_fmadd_pd(av, _mm256_loadu_pd(b + W), s1);
            s2 = _mm256_fmadd_pd(av, _mm256_loadu_pd(b + 2 * W), s2);
            s3 = _mm256_fmadd_pd(av, _mm256_loadu_pd(b + 3 * W), s3);
            s4 = _mm256_fmadd_pd(av, _mm256_loadu_pd(b + 4 * W), s4);
            s5 = _mm256_fmadd_pd(av, _mm256_loadu_pd(b + 5 * W), s5);
            s6 = _mm256_fmadd_pd(av, _mm256_loadu_pd(b + 6 * W), s6);
            s7 = _mm256_fmadd_pd(av, _mm256_loadu_pd(b + 7 * W), s7);
        }
        __m256d s[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
        for (int v = 0; v < 8; v++) out_pd(c + v * W, s[v], W, o, o->bias ? o->bias + v * W : NULL);
        return;
    }
    for (int v = 0; v * W < n; v++) {
        int nv = n - v * W < W ? n - v * W : W;
        __m256i m = mask_pd(nv);
        __m256d acc = _mm256_setzero_pd();
        const double *bv = b + v * W;
        for (int64_t k = 0; k < kc; k++) acc = _mm256_fmadd_pd(_mm256_set1_pd(a[k]), _mm256_maskload_pd(bv + k * ldb, m), acc);
        out_pd(c + v * W, acc, nv, o, o->bias ? o->bias + v * W : NULL);
    }
}

/* ---- transposing packers (both sets) ------------------------------------ */

/* dst[k*W + q] = src[q*ld + k]: 8 x 8 blocks (8 rows of src, 8 k) go through
 * registers, so do 5..7 rows (a 6-row sliver of A: one by one, its last two
 * rows took most of the packing time), then 4 x 8 blocks, the rest one by one. */
TGT static inline void tr8x8_ps(__m256 *r) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20), r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20), r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31), r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31), r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

TGT void em__gemm_pack_t_f32(int64_t kc, int w, const float *src, int64_t ld, int W, float *dst) {
    int q = 0;
    int64_t k8 = kc & ~(int64_t)7;
    while (q < w && w - q > 4) { /* 8 rows, or the last 5..7 (an MR = 6 sliver) with the last row repeated */
        int n = w - q < 8 ? w - q : 8;
        const float *s[8];
        for (int i = 0; i < 8; i++) s[i] = src + (q + (i < n ? i : n - 1)) * ld;
        for (int64_t k = 0; k < k8; k += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(s[i] + k);
            tr8x8_ps(r);
            for (int i = 0; i < 8; i++) store_n_ps(dst + (k + i) * W + q, r[i], n);
        }
        for (int64_t k = k8; k < kc; k++)
            for (int i = 0; i < n; i++) dst[k * W + q + i] = s[i][k];
        q += n;
    }
    for (; q + 4 <= w; q += 4) {
        const float *s = src + q * ld;
        for (int64_t k = 0; k < k8; k += 8) {
            __m256 r0 = _mm256_loadu_ps(s + k), r1 = _mm256_loadu_ps(s + ld + k);
            __m256 r2 = _mm256_loadu_ps(s + 2 * ld + k), r3 = _mm256_loadu_ps(s + 3 * ld + k);
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            /* u_j holds k + j in its low half and k + 4 + j in its high half */
            __m256 u[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                           _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
            for (int j = 0; j < 4; j++) {
                _mm_storeu_ps(dst + (k + j) * W + q, _mm256_castps256_ps128(u[j]));
                _mm_storeu_ps(dst + (k + 4 + j) * W + q, _mm256_extractf128_ps(u[j], 1));
            }
        }
        for (int64_t k = k8; k < kc; k++)
            for (int i = 0; i < 4; i++) dst[k * W + q + i] = s[i * ld + k];
    }
    for (; q < w; q++) /* one row of src: read once, written with stride W */
        for (int64_t k = 0; k < kc; k++) dst[k * W + q] = src[q * ld + k];
    if (w < W)
        for (int64_t k = 0; k < kc; k++) memset(dst + k * W + w, 0, (size_t)(W - w) * sizeof(float));
}

TGT void em__gemm_pack_t_f64(int64_t kc, int w, const double *src, int64_t ld, int W, double *dst) {
    int q = 0;
    int64_t k4 = kc & ~(int64_t)3;
    for (; q + 4 <= w; q += 4) {
        const double *s = src + q * ld;
        for (int64_t k = 0; k < k4; k += 4) {
            __m256d r0 = _mm256_loadu_pd(s + k), r1 = _mm256_loadu_pd(s + ld + k);
            __m256d r2 = _mm256_loadu_pd(s + 2 * ld + k), r3 = _mm256_loadu_pd(s + 3 * ld + k);
            __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
            __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
            _mm256_storeu_pd(dst + k * W + q, _mm256_permute2f128_pd(t0, t2, 0x20));
            _mm256_storeu_pd(dst + (k + 1) * W + q, _mm256_permute2f128_pd(t1, t3, 0x20));
            _mm256_storeu_pd(dst + (k + 2) * W + q, _mm256_permute2f128_pd(t0, t2, 0x31));
            _mm256_storeu_pd(dst + (k + 3) * W + q, _mm256_permute2f128_pd(t1, t3, 0x31));
        }
        for (int64_t k = k4; k < kc; k++)
            for (int i = 0; i < 4; i++) dst[k * W + q + i] = s[i * ld + k];
    }
    for (; q < w; q++)
        for (int64_t k = 0; k < kc; k++) dst[k * W + q] = src[q * ld + k];
    if (w < W)
        for (int64_t k = 0; k < kc; k++) memset(dst + k * W + w, 0, (size_t)(W - w) * sizeof(double));
}

/* Blocks (first chosen on Zen 3, 32 KiB L1d / 512 KiB L2; still right on a
 * Sapphire Rapids Xeon, 48 KiB / 2 MiB): the kc x 16 sliver of B (16 KiB)
 * stays in L1 while the mc rows of A stream from L2; the kc x nc panel of B
 * lives in L2/L3.  mc 96 rather than 144 for float: on Zen 3, 1-2% faster at
 * every square size from 256 to 2048, in 8 of 8 alternating comparisons.
 * Row kernel: 8 vectors = 64 floats / 32 doubles. */
static const em__gemm_kset_f32 kset_f32 = {6, NR_F32, 4, 8, 64, 2, 256, 96, 4080, ukr_f32, dot_f32, row_f32,
                                           em__gemm_pack_t_f32, ukr_wide_f32, 512 * 1024};
static const em__gemm_kset_f64 kset_f64 = {6, NR_F64, 4, 8, 32, 2, 256, 72, 4080, ukr_f64, dot_f64, row_f64,
                                           em__gemm_pack_t_f64, ukr_wide_f64, 512 * 1024};
const em__gemm_kset_f32 *em__gemm_avx2_f32(void) { return &kset_f32; }
const em__gemm_kset_f64 *em__gemm_avx2_f64(void) { return &kset_f64; }

#else
const em__gemm_kset_f32 *em__gemm_avx2_f32(void) { return NULL; }
const em__gemm_kset_f64 *em__gemm_avx2_f64(void) { return NULL; }
#endif
