/* AVX2+FMA distance kernels of k-means' assignment (contract in
 * kernels/kmeans_dist.h).  Compiled for the baseline target like every
 * libember file; only these functions carry target("avx2,fma"), and
 * ml/kmeans.c calls them only when the GEMM dispatch chose AVX2.
 *
 * A tile is 6 samples x one group of centres (8 doubles or 16 floats = two
 * ymm): 12 accumulators, 12 independent FMA chains fed per feature by two
 * loads of the packed centres and six broadcasts of X read in place.  A
 * chunk whose size is not a multiple of 6 repeats a sample in the spare
 * rows of the last tile and drops them, so each row's bits are the same
 * wherever it falls. */
#include "../kmeans_dist.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))
#define ROWS 6

/* One tile: the 6 rows x0..x5 against the centre group at b (two vectors
 * per feature), written to D rows i .. i + rows - 1.  Named accumulators so
 * all twelve stay in registers. */
#define KM_TILE(VT, SET0, LOAD, BCAST, FMA, ADD, MUL, STORE, W, M2)                                       \
    do {                                                                                                 \
        VT a00 = SET0(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;                          \
        VT a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;                             \
        for (int64_t f = 0; f < d; f++, b += 2 * (W)) {                                                  \
            VT b0 = LOAD(b), b1 = LOAD(b + (W)), xv;                                                     \
            xv = BCAST(x0 + f), a00 = FMA(xv, b0, a00), a01 = FMA(xv, b1, a01);                          \
            xv = BCAST(x1 + f), a10 = FMA(xv, b0, a10), a11 = FMA(xv, b1, a11);                          \
            xv = BCAST(x2 + f), a20 = FMA(xv, b0, a20), a21 = FMA(xv, b1, a21);                          \
            xv = BCAST(x3 + f), a30 = FMA(xv, b0, a30), a31 = FMA(xv, b1, a31);                          \
            xv = BCAST(x4 + f), a40 = FMA(xv, b0, a40), a41 = FMA(xv, b1, a41);                          \
            xv = BCAST(x5 + f), a50 = FMA(xv, b0, a50), a51 = FMA(xv, b1, a51);                          \
        }                                                                                                \
        VT c0 = LOAD(cn + g), c1 = LOAD(cn + g + (W));                                                   \
        VT acc[ROWS][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}, {a40, a41}, {a50, a51}};      \
        for (int r = 0; r < rows; r++) {                                                                 \
            STORE(D + (i + r) * ldd + g, ADD(c0, MUL(M2, acc[r][0])));                                   \
            STORE(D + (i + r) * ldd + g + (W), ADD(c1, MUL(M2, acc[r][1])));                             \
        }                                                                                                \
    } while (0)

/* rows i .. i + 5 (the last real row repeated past m) */
#define KM_ROWS(T)                                                                                       \
    int rows = m - i < ROWS ? (int)(m - i) : ROWS;                                                       \
    const T *x0 = X + i * d, *x1 = X + (rows > 1 ? i + 1 : i) * d, *x2 = X + (rows > 2 ? i + 2 : i) * d; \
    const T *x3 = X + (rows > 3 ? i + 3 : i) * d, *x4 = X + (rows > 4 ? i + 4 : i) * d;                 \
    const T *x5 = X + (rows > 5 ? i + 5 : i) * d

TGT static void kmdist_f64(int64_t m, int64_t d, int64_t kp, const double *X, const double *Cp, const double *cn,
                           double *D, int64_t ldd) {
    const __m256d m2 = _mm256_set1_pd(-2.0);
    for (int64_t i = 0; i < m; i += ROWS) {
        KM_ROWS(double);
        for (int64_t g = 0; g < kp; g += EM__KM_NR_F64) {
            const double *b = Cp + g * d;
            KM_TILE(__m256d, _mm256_setzero_pd, _mm256_loadu_pd, _mm256_broadcast_sd, _mm256_fmadd_pd, _mm256_add_pd,
                    _mm256_mul_pd, _mm256_storeu_pd, 4, m2);
        }
    }
}

TGT static void kmdist_f32(int64_t m, int64_t d, int64_t kp, const float *X, const float *Cp, const float *cn,
                           float *D, int64_t ldd) {
    const __m256 m2 = _mm256_set1_ps(-2.0f);
    for (int64_t i = 0; i < m; i += ROWS) {
        KM_ROWS(float);
        for (int64_t g = 0; g < kp; g += EM__KM_NR_F32) {
            const float *b = Cp + g * d;
            KM_TILE(__m256, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_broadcast_ss, _mm256_fmadd_ps, _mm256_add_ps,
                    _mm256_mul_ps, _mm256_storeu_ps, 8, m2);
        }
    }
}

em__kmdist_f64_fn em__kmdist_avx2_f64(void) { return kmdist_f64; }
em__kmdist_f32_fn em__kmdist_avx2_f32(void) { return kmdist_f32; }

#else
em__kmdist_f64_fn em__kmdist_avx2_f64(void) { return 0; }
em__kmdist_f32_fn em__kmdist_avx2_f32(void) { return 0; }
#endif
