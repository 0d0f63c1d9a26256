/* AVX2+FMA micro-kernels for the GEMM driver in kernels/gemm.c (contract in
 * kernels/gemm.h).  Compiled for the baseline target like every libember
 * file; only these functions carry target("avx2,fma"), and gemm.c calls them
 * only after CPU detection said the CPU runs them.
 *
 * ukr (Zen 3: 2 FMA pipes, 4-5 cycle latency): a 6 x 16 float tile (6 x 8
 * double) lives in 12 ymm accumulators, 12 independent FMA chains, fed per k
 * by two loads of B and six broadcasts of A.  Edge tiles run the same code
 * with masked loads and stores, so a result never depends on where its tile
 * falls.
 * dot: 4 rows of A x 3 columns of B (1 x 8 for a single row), each an 8-lane
 * (4-lane for double) partial sum over k, for skinny products whose B
 * columns are contiguous (x @ W^T); both shapes reduce the lanes alike. */
#include "../gemm.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))

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
 * the speed.  One step: two vectors of B, six broadcasts of A, 12 FMAs
 * into ymm0-ymm11 (ymm[2r + h] = row r, half h); pf runs 8 rows ahead in B. */
#define UKR_STEP(BCAST, FMA, ASZ)                                                                  \
    "vmovups (%[b]), %%ymm12\n\t"                                                                  \
    "vmovups 32(%[b]), %%ymm13\n\t"                                                                \
    "prefetcht0 (%[pf])\n\t"                                                                       \
    BCAST " 0*" ASZ "(%[a]), %%ymm14\n\t"                                                          \
    BCAST " 1*" ASZ "(%[a]), %%ymm15\n\t"                                                          \
    FMA " %%ymm12, %%ymm14, %%ymm0\n\t"                                                            \
    FMA " %%ymm13, %%ymm14, %%ymm1\n\t"                                                            \
    FMA " %%ymm12, %%ymm15, %%ymm2\n\t"                                                            \
    FMA " %%ymm13, %%ymm15, %%ymm3\n\t"                                                            \
    BCAST " 2*" ASZ "(%[a]), %%ymm14\n\t"                                                          \
    BCAST " 3*" ASZ "(%[a]), %%ymm15\n\t"                                                          \
    FMA " %%ymm12, %%ymm14, %%ymm4\n\t"                                                            \
    FMA " %%ymm13, %%ymm14, %%ymm5\n\t"                                                            \
    FMA " %%ymm12, %%ymm15, %%ymm6\n\t"                                                            \
    FMA " %%ymm13, %%ymm15, %%ymm7\n\t"                                                            \
    BCAST " 4*" ASZ "(%[a]), %%ymm14\n\t"                                                          \
    BCAST " 5*" ASZ "(%[a]), %%ymm15\n\t"                                                          \
    FMA " %%ymm12, %%ymm14, %%ymm8\n\t"                                                            \
    FMA " %%ymm13, %%ymm14, %%ymm9\n\t"                                                            \
    FMA " %%ymm12, %%ymm15, %%ymm10\n\t"                                                           \
    FMA " %%ymm13, %%ymm15, %%ymm11\n\t"                                                           \
    "add $6*" ASZ ", %[a]\n\t"                                                                     \
    "add %[ldb], %[b]\n\t"                                                                         \
    "add %[ldb], %[pf]\n\t"

/* acc[2r + h] = sum_k a[6k + r] * b[k*ldb + 8h/4h ...] for kc steps (ldb in bytes) */
#define UKR_LOOP(BCAST, FMA, ASZ, ZERO)                                                            \
    __asm__ volatile(ZERO " %%ymm0, %%ymm0, %%ymm0\n\t"                                            \
                     "vmovaps %%ymm0, %%ymm1\n\t"                                                  \
                     "vmovaps %%ymm0, %%ymm2\n\t"                                                  \
                     "vmovaps %%ymm0, %%ymm3\n\t"                                                  \
                     "vmovaps %%ymm0, %%ymm4\n\t"                                                  \
                     "vmovaps %%ymm0, %%ymm5\n\t"                                                  \
                     "vmovaps %%ymm0, %%ymm6\n\t"                                                  \
                     "vmovaps %%ymm0, %%ymm7\n\t"                                                  \
                     "vmovaps %%ymm0, %%ymm8\n\t"                                                  \
                     "vmovaps %%ymm0, %%ymm9\n\t"                                                  \
                     "vmovaps %%ymm0, %%ymm10\n\t"                                                 \
                     "vmovaps %%ymm0, %%ymm11\n\t"                                                 \
                     "cmp $4, %[k4]\n\t"                                                           \
                     "jb 2f\n\t"                                                                   \
                     "1:\n\t" UKR_STEP(BCAST, FMA, ASZ) UKR_STEP(BCAST, FMA, ASZ)                  \
                         UKR_STEP(BCAST, FMA, ASZ) UKR_STEP(BCAST, FMA, ASZ)                       \
                     "sub $4, %[k4]\n\t"                                                           \
                     "cmp $4, %[k4]\n\t"                                                           \
                     "jae 1b\n\t"                                                                  \
                     "2:\n\t"                                                                      \
                     "test %[k4], %[k4]\n\t"                                                       \
                     "jz 4f\n\t"                                                                   \
                     "3:\n\t" UKR_STEP(BCAST, FMA, ASZ)                                            \
                     "dec %[k4]\n\t"                                                               \
                     "jnz 3b\n\t"                                                                  \
                     "4:\n\t"                                                                      \
                     "vmovups %%ymm0, 0(%[acc])\n\t"                                               \
                     "vmovups %%ymm1, 32(%[acc])\n\t"                                              \
                     "vmovups %%ymm2, 64(%[acc])\n\t"                                              \
                     "vmovups %%ymm3, 96(%[acc])\n\t"                                              \
                     "vmovups %%ymm4, 128(%[acc])\n\t"                                             \
                     "vmovups %%ymm5, 160(%[acc])\n\t"                                             \
                     "vmovups %%ymm6, 192(%[acc])\n\t"                                             \
                     "vmovups %%ymm7, 224(%[acc])\n\t"                                             \
                     "vmovups %%ymm8, 256(%[acc])\n\t"                                             \
                     "vmovups %%ymm9, 288(%[acc])\n\t"                                             \
                     "vmovups %%ymm10, 320(%[acc])\n\t"                                            \
                     "vmovups %%ymm11, 352(%[acc])\n\t"                                            \
                     : [a] "+r"(a), [b] "+r"(b), [pf] "+r"(pf), [k4] "+r"(k4)                     \
                     : [ldb] "r"(ldb_bytes), [acc] "r"(acc)                                        \
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",       \
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc")

TGT static void ukr_f32(int64_t kc, const float *a, const float *b, int64_t ldb, float *c, int64_t ldc, int mr,
                        int nr, const em__gemm_out_f32 *o) {
    __m256 acc[12];
    uint64_t k4 = (uint64_t)kc;
    int64_t ldb_bytes = ldb * (int64_t)sizeof(float);
    const float *pf = b + 8 * ldb;
    for (int r = 0; r < mr; r++) { /* the tile of C is read after the loop: start fetching it now */
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + nr - 1), _MM_HINT_T0);
    }
    UKR_LOOP("vbroadcastss", "vfmadd231ps", "4", "vxorps");
    int n0 = nr < 8 ? nr : 8, n1 = nr - n0;
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        out_ps(cr, acc[2 * r], n0, o, o->bias);
        if (n1 > 0) out_ps(cr + 8, acc[2 * r + 1], n1, o, o->bias ? o->bias + 8 : NULL);
    }
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

TGT static void ukr_f64(int64_t kc, const double *a, const double *b, int64_t ldb, double *c, int64_t ldc, int mr,
                        int nr, const em__gemm_out_f64 *o) {
    __m256d acc[12];
    uint64_t k4 = (uint64_t)kc;
    int64_t ldb_bytes = ldb * (int64_t)sizeof(double);
    const double *pf = b + 8 * ldb;
    for (int r = 0; r < mr; r++) { /* the tile of C is read after the loop: start fetching it now */
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + nr - 1), _MM_HINT_T0);
    }
    UKR_LOOP("vbroadcastsd", "vfmadd231pd", "8", "vxorpd");
    int n0 = nr < 4 ? nr : 4, n1 = nr - n0;
    for (int r = 0; r < mr; r++) {
        double *cr = c + r * ldc;
        out_pd(cr, acc[2 * r], n0, o, o->bias);
        if (n1 > 0) out_pd(cr + 4, acc[2 * r + 1], n1, o, o->bias ? o->bias + 4 : NULL);
    }
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

/* Blocks for Zen 3 (32 KiB L1d, 512 KiB L2): a kc x 16 sliver of B (16 KiB)
 * stays in L1 while the mc x kc block of A (144 KiB) streams from L2; the
 * kc x nc panel of B lives in L3. */
static const em__gemm_kset_f32 kset_f32 = {6, 16, 4, 8, 256, 144, 4080, ukr_f32, dot_f32, row_f32};
static const em__gemm_kset_f64 kset_f64 = {6, 8, 4, 8, 256, 72, 4080, ukr_f64, dot_f64, row_f64};
const em__gemm_kset_f32 *em__gemm_avx2_f32(void) { return &kset_f32; }
const em__gemm_kset_f64 *em__gemm_avx2_f64(void) { return &kset_f64; }

#else
const em__gemm_kset_f32 *em__gemm_avx2_f32(void) { return NULL; }
const em__gemm_kset_f64 *em__gemm_avx2_f64(void) { return NULL; }
#endif
