/* AVX-512 micro-kernels of the direct grad_weight convolution (driver in
 * kernels/conv_gwdirect.c, contract in kernels/conv_kernels.h, design in
 * docs/kernels.md, section Convolution).
 *
 * The tile is ov zmm of output channels (16 each) by t taps: ov * t
 * accumulators, acc[j][o] += gyT[pos][o] * x[pos + off[j]].  Per output
 * position: ov vector loads of the transposed output gradient (its channels
 * contiguous) and, per tap, one broadcast of an input element, used by ov
 * FMAs.  (ov, t) = (4, 6), (3, 8), (2, 12), (1, 12): 24 or 12 accumulators
 * plus ov + 1 or 2 registers, and at most 12 tap pointers, which fit in the
 * general registers (more would be reloaded from the stack each position).
 *
 * Each accumulator is one chain: loaded from acc, positions added in order
 * (rows ascending, columns ascending), stored back; the driver calls it over
 * chunks of positions in a fixed order, so the bits do not depend on how
 * tiles are spread over threads.
 *
 * Compiled for the baseline target like every libember file; only these
 * functions carry target("avx512f"), and the driver calls them only when the
 * GEMM's AVX-512 kernel set is active (CPU and OS checked there). */
#include "../conv_kernels.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx2,fma")))

/* The loops over OV and T have constant trip counts and are unrolled, so the
 * accumulator array lives in registers (checked in the assembly: no spills). */
#define DEF_GW(OV, T)                                                                                   \
    static TGT void gw_##OV##_##T(const float *gy, int64_t ldg, const float *x, const int64_t *off,    \
                                  int64_t nrows, int64_t ow, int64_t sw, int64_t rs, float *acc) {      \
        __m512 a[T][OV];                                                                                \
        _Pragma("GCC unroll 16") for (int j = 0; j < T; j++)                                            \
            _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) a[j][v] = _mm512_loadu_ps(acc + (j * OV + v) * 16); \
        for (int64_t r = 0; r < nrows; r++) {                                                           \
            const float *xp[T];                                                                         \
            _Pragma("GCC unroll 16") for (int j = 0; j < T; j++) xp[j] = x + r * rs + off[j];           \
            for (int64_t i = 0, e = ow * sw; i < e; i += sw) {                                          \
                __m512 g[OV];                                                                           \
                _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) g[v] = _mm512_loadu_ps(gy + v * 16); \
                _Pragma("GCC unroll 16") for (int j = 0; j < T; j++) {                                  \
                    __m512 b = _mm512_set1_ps(xp[j][i]);                                                \
                    _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) a[j][v] = _mm512_fmadd_ps(g[v], b, a[j][v]); \
                }                                                                                       \
                gy += ldg;                                                                              \
            }                                                                                           \
        }                                                                                               \
        _Pragma("GCC unroll 16") for (int j = 0; j < T; j++)                                            \
            _Pragma("GCC unroll 4") for (int v = 0; v < OV; v++) _mm512_storeu_ps(acc + (j * OV + v) * 16, a[j][v]); \
    }

DEF_GW(1, 12)
DEF_GW(2, 12)
DEF_GW(3, 8)
DEF_GW(4, 6)

/* dst[j*ldd + i] = src[i*lds + j], i, j < 16: unpack pairs of rows, then shuffles within and
 * across 128-bit lanes (four stages, 64 shuffles for 256 floats; the driver's scalar loop took
 * a tenth of grad_weight at 56x56). */
static TGT void tr16(const float *src, int64_t lds, float *dst, int64_t ldd) {
    __m512 r[16], t[16], u[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * lds);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    /* u[4q + k], lane L: rows 4q .. 4q+3 of column 4L + k */
    for (int q = 0; q < 16; q += 4) {
        u[q] = _mm512_shuffle_ps(t[q], t[q + 2], 0x44);
        u[q + 1] = _mm512_shuffle_ps(t[q], t[q + 2], 0xEE);
        u[q + 2] = _mm512_shuffle_ps(t[q + 1], t[q + 3], 0x44);
        u[q + 3] = _mm512_shuffle_ps(t[q + 1], t[q + 3], 0xEE);
    }
    for (int k = 0; k < 4; k++) {
        __m512 v = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88), w = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xDD);
        __m512 v2 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88), w2 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xDD);
        _mm512_storeu_ps(dst + k * ldd, _mm512_shuffle_f32x4(v, v2, 0x88));
        _mm512_storeu_ps(dst + (8 + k) * ldd, _mm512_shuffle_f32x4(v, v2, 0xDD));
        _mm512_storeu_ps(dst + (4 + k) * ldd, _mm512_shuffle_f32x4(w, w2, 0x88));
        _mm512_storeu_ps(dst + (12 + k) * ldd, _mm512_shuffle_f32x4(w, w2, 0xDD));
    }
}

static const em__conv_gw_kset kset = {{0, 12, 12, 8, 6}, {NULL, gw_1_12, gw_2_12, gw_3_8, gw_4_6}, tr16};
const em__conv_gw_kset *em__conv_gw_avx512(void) { return &kset; }

#else
const em__conv_gw_kset *em__conv_gw_avx512(void) { return NULL; }
#endif
