/* AVX-512 depthwise plane kernels (conv_dw.h): conv_dw_simd.inc on 16
 * floats or 8 doubles per vector, with mask registers for the lanes where a
 * tap leaves the input.  Compiled for the build's baseline; only these
 * functions carry the avx512f target, and conv_depthwise.c calls them only
 * on CPUs that have it.  The forward kernel gives the AVX2 one's bits (one
 * FMA per tap in the same order, skipped lanes untouched); the weight
 * gradient's lane sums differ (16 or 8 lanes per accumulator). */
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#include "../conv_dw.h"
#include "../conv_kernels.h"

#define DW_TGT __attribute__((target("avx512f,avx2,fma")))
#define DW_CHEAP_MASKS 1 /* masked loads and FMAs cost what plain ones do: no branches */

#define DW_T float
#define DW_V __m512
#define DW_M __mmask16
#define DW_VL 16
#define DW_FN(name) dw_##name##_f32
#define DW_SET1(a) _mm512_set1_ps(a)
#define DW_LOAD(p) _mm512_loadu_ps(p)
#define DW_STORE(p, v) _mm512_storeu_ps(p, v)
#define DW_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define DW_MASK(lo, hi) ((__mmask16)((((uint32_t)1 << (hi)) - 1) & ~(((uint32_t)1 << (lo)) - 1)))
#define DW_MLOAD(p, m) _mm512_maskz_loadu_ps(m, p)
#define DW_MFMA(a, b, c, m) _mm512_mask3_fmadd_ps(a, b, c, m)
#define DW_MSTORE(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define DW_ADD(a, b) _mm512_add_ps(a, b)
#define DW_HSUM(v) _mm512_reduce_add_ps(v)
#define DW_ZERO() _mm512_setzero_ps()
#include "conv_dw_simd.inc"

#define DW_T double
#define DW_V __m512d
#define DW_M __mmask8
#define DW_VL 8
#define DW_FN(name) dw_##name##_f64
#define DW_SET1(a) _mm512_set1_pd(a)
#define DW_LOAD(p) _mm512_loadu_pd(p)
#define DW_STORE(p, v) _mm512_storeu_pd(p, v)
#define DW_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define DW_MASK(lo, hi) ((__mmask8)((((uint32_t)1 << (hi)) - 1) & ~(((uint32_t)1 << (lo)) - 1)))
#define DW_MLOAD(p, m) _mm512_maskz_loadu_pd(m, p)
#define DW_MFMA(a, b, c, m) _mm512_mask3_fmadd_pd(a, b, c, m)
#define DW_MSTORE(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#define DW_ADD(a, b) _mm512_add_pd(a, b)
#define DW_HSUM(v) _mm512_reduce_add_pd(v)
#define DW_ZERO() _mm512_setzero_pd()
#include "conv_dw_simd.inc"

const em__dw_simd em__dw_simd_avx512_table = {"avx512", dw_fwd_f32, dw_fwd_f64, dw_wgrad_any_f32, dw_wgrad_any_f64};
#endif
