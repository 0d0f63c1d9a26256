/* AVX2+FMA row primitives of the convolution kernels (see conv_kernels.h).
 * Compiled for the whole build's baseline; only these functions carry the
 * avx2,fma target, and conv_rowops.c calls them only on CPUs that have it.
 * The dot keeps the portable version's lane structure (lane l takes
 * p = l mod 8, lanes added pairwise), so the two differ only by FMA rounding. */
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#include "../conv_dw.h"
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
/* The depthwise plane kernels (conv_dw.h, conv_dw_simd.inc) on 8 floats or
 * 4 doubles per vector; masks are lane-index compares. */
TARGET static __m256i lanes32(int64_t lo, int64_t hi) {
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), idx),
                            _mm256_cmpgt_epi32(idx, _mm256_set1_epi32((int)lo - 1)));
}
TARGET static __m256i lanes64(int64_t lo, int64_t hi) {
    __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_and_si256(_mm256_cmpgt_epi64(_mm256_set1_epi64x(hi), idx),
                            _mm256_cmpgt_epi64(idx, _mm256_set1_epi64x(lo - 1)));
}
TARGET static float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
TARGET static double hsum_pd(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

#define DW_TGT TARGET
#define DW_CHEAP_MASKS 0 /* vmaskmov + blend: keep plain FMAs where the lanes are all inside */
#define DW_T float
#define DW_V __m256
#define DW_M __m256i
#define DW_VL 8
#define DW_FN(name) dw_##name##_f32
#define DW_SET1(a) _mm256_set1_ps(a)
#define DW_LOAD(p) _mm256_loadu_ps(p)
#define DW_STORE(p, v) _mm256_storeu_ps(p, v)
#define DW_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define DW_MASK(lo, hi) lanes32(lo, hi)
#define DW_MLOAD(p, m) _mm256_maskload_ps(p, m)
#define DW_MFMA(a, b, c, m) _mm256_blendv_ps(c, _mm256_fmadd_ps(a, b, c), _mm256_castsi256_ps(m))
#define DW_MSTORE(p, m, v) _mm256_maskstore_ps(p, m, v)
#define DW_ADD(a, b) _mm256_add_ps(a, b)
#define DW_HSUM(v) hsum_ps(v)
#define DW_ZERO() _mm256_setzero_ps()
#include "conv_dw_simd.inc"

#define DW_T double
#define DW_V __m256d
#define DW_M __m256i
#define DW_VL 4
#define DW_FN(name) dw_##name##_f64
#define DW_SET1(a) _mm256_set1_pd(a)
#define DW_LOAD(p) _mm256_loadu_pd(p)
#define DW_STORE(p, v) _mm256_storeu_pd(p, v)
#define DW_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define DW_MASK(lo, hi) lanes64(lo, hi)
#define DW_MLOAD(p, m) _mm256_maskload_pd(p, m)
#define DW_MFMA(a, b, c, m) _mm256_blendv_pd(c, _mm256_fmadd_pd(a, b, c), _mm256_castsi256_pd(m))
#define DW_MSTORE(p, m, v) _mm256_maskstore_pd(p, m, v)
#define DW_ADD(a, b) _mm256_add_pd(a, b)
#define DW_HSUM(v) hsum_pd(v)
#define DW_ZERO() _mm256_setzero_pd()
#include "conv_dw_simd.inc"

const em__dw_simd em__dw_simd_avx2_table = {"avx2", dw_fwd_f32, dw_fwd_f64, dw_wgrad_any_f32, dw_wgrad_any_f64};
#endif
