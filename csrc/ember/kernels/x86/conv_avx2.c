/* AVX2+FMA row primitives of the convolution kernels (see conv_kernels.h).
 * Compiled for the whole build's baseline; only these functions carry the
 * avx2,fma target, and conv_rowops.c calls them only on CPUs that have it.
 * The dot keeps the portable version's lane structure (lane l takes
 * p = l mod 8, lanes added pairwise), so the two differ only by FMA rounding. */
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#include "../conv_kernels.h"

#define TARGET __attribute__((target("avx2,fma")))

/* Mask selecting the first r (< 8) 32-bit lanes. */
TARGET static __m256i mask32(int64_t r) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
/* Mask selecting the first r (< 4) 64-bit lanes. */
TARGET static __m256i mask64(int64_t r) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(r), _mm256_setr_epi64x(0, 1, 2, 3));
}

TARGET static void axpy_f32(int64_t n, float a, const float *x, float *y) {
    __m256 va = _mm256_set1_ps(a);
    int64_t p = 0;
    for (; p + 16 <= n; p += 16) {
        _mm256_storeu_ps(y + p, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + p), _mm256_loadu_ps(y + p)));
        _mm256_storeu_ps(y + p + 8, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + p + 8), _mm256_loadu_ps(y + p + 8)));
    }
    for (; p + 8 <= n; p += 8)
        _mm256_storeu_ps(y + p, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + p), _mm256_loadu_ps(y + p)));
    if (p < n) {
        __m256i m = mask32(n - p);
        __m256 r = _mm256_fmadd_ps(va, _mm256_maskload_ps(x + p, m), _mm256_maskload_ps(y + p, m));
        _mm256_maskstore_ps(y + p, m, r);
    }
}

TARGET static void axpy_f64(int64_t n, double a, const double *x, double *y) {
    __m256d va = _mm256_set1_pd(a);
    int64_t p = 0;
    for (; p + 4 <= n; p += 4)
        _mm256_storeu_pd(y + p, _mm256_fmadd_pd(va, _mm256_loadu_pd(x + p), _mm256_loadu_pd(y + p)));
    if (p < n) {
        __m256i m = mask64(n - p);
        __m256d r = _mm256_fmadd_pd(va, _mm256_maskload_pd(x + p, m), _mm256_maskload_pd(y + p, m));
        _mm256_maskstore_pd(y + p, m, r);
    }
}

TARGET static float dot_f32(int64_t n, const float *x, const float *y) {
    __m256 acc = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 8 <= n; p += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + p), _mm256_loadu_ps(y + p), acc);
    if (p < n) {
        __m256i m = mask32(n - p);
        acc = _mm256_fmadd_ps(_mm256_maskload_ps(x + p, m), _mm256_maskload_ps(y + p, m), acc);
    }
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)); /* l + (l+4) */
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));                                              /* l + (l+2) */
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));                                          /* 0 + 1 */
    return _mm_cvtss_f32(s);
}

TARGET static double dot_f64(int64_t n, const double *x, const double *y) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd(); /* lanes 0-3 and 4-7 */
    int64_t p = 0;
    for (; p + 8 <= n; p += 8) {
        lo = _mm256_fmadd_pd(_mm256_loadu_pd(x + p), _mm256_loadu_pd(y + p), lo);
        hi = _mm256_fmadd_pd(_mm256_loadu_pd(x + p + 4), _mm256_loadu_pd(y + p + 4), hi);
    }
    if (p < n) {
        int64_t r = n - p;
        __m256i m0 = mask64(r < 4 ? r : 4);
        lo = _mm256_fmadd_pd(_mm256_maskload_pd(x + p, m0), _mm256_maskload_pd(y + p, m0), lo);
        if (r > 4) {
            __m256i m1 = mask64(r - 4);
            hi = _mm256_fmadd_pd(_mm256_maskload_pd(x + p + 4, m1), _mm256_maskload_pd(y + p + 4, m1), hi);
        }
    }
    __m256d s4 = _mm256_add_pd(lo, hi);                                                  /* l + (l+4) */
    __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));  /* l + (l+2) */
    return _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
}

const em__conv_rowops em__conv_rowops_avx2_table = {axpy_f32, axpy_f64, dot_f32, dot_f64};
#endif
