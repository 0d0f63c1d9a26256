/* AVX-512 micro-kernel of the output-channel-vectorised direct convolution
 * (driver in kernels/conv_ocfwd.c, contract in kernels/conv_kernels.h,
 * design in docs/kernels.md, section Convolution).
 *
 * The tile is np <= 14 consecutive output positions of one output row times
 * 32 output channels: position i, channels 16j..16j+15 in zmm(2i + j), so
 * up to 28 accumulators, each one FMA chain.  Per tap k: the two vectors of
 * packed weights w[k][0..31] (zmm28, zmm29), the tap's input offset from a
 * per-layer table, then per position one broadcast of the input scalar at
 * b + off[k] + i*stride floats (a compile-time displacement, since the
 * positions are consecutive in one row) and two FMAs.  17 loads per 28 FMAs:
 * the FMA ports, not the loads, set the pace, and no padding column nor
 * packed input is computed or written.
 *
 * Compiled for the baseline target like every libember file; only these
 * functions carry target("avx512f"), and the driver calls them only when the
 * GEMM's AVX-512 kernel set is active (CPU and OS checked there). */
#include "../conv_kernels.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx2,fma")))

/* position i at displacement i*S*4 bytes: broadcast into zmm(bc), two FMAs */
#define POS(i, S, bc, a0, a1)                                                                      \
    "vbroadcastss " #i "*" #S "*4(%[b],%[t],1), %%zmm" #bc "\n\t"                                 \
    "vfmadd231ps %%zmm28, %%zmm" #bc ", %%zmm" #a0 "\n\t"                                          \
    "vfmadd231ps %%zmm29, %%zmm" #bc ", %%zmm" #a1 "\n\t"
#define P1(S) POS(0, S, 30, 0, 1)
#define P2(S) P1(S) POS(1, S, 31, 2, 3)
#define P3(S) P2(S) POS(2, S, 30, 4, 5)
#define P4(S) P3(S) POS(3, S, 31, 6, 7)
#define P5(S) P4(S) POS(4, S, 30, 8, 9)
#define P6(S) P5(S) POS(5, S, 31, 10, 11)
#define P7(S) P6(S) POS(6, S, 30, 12, 13)
#define P8(S) P7(S) POS(7, S, 31, 14, 15)
#define P9(S) P8(S) POS(8, S, 30, 16, 17)
#define P10(S) P9(S) POS(9, S, 31, 18, 19)
#define P11(S) P10(S) POS(10, S, 30, 20, 21)
#define P12(S) P11(S) POS(11, S, 31, 22, 23)
#define P13(S) P12(S) POS(12, S, 30, 24, 25)
#define P14(S) P13(S) POS(13, S, 31, 26, 27)

/* two output rows of L positions each (OW <= 7: a one-row tile would stream the weights from L2
 * twice as often per FMA): row 2 at base b2, its position i in zmm(2(L+i)), zmm(2(L+i)+1) */
#define POS2(i, S, bc, a0, a1)                                                                     \
    "vbroadcastss " #i "*" #S "*4(%[b2],%[t],1), %%zmm" #bc "\n\t"                                \
    "vfmadd231ps %%zmm28, %%zmm" #bc ", %%zmm" #a0 "\n\t"                                          \
    "vfmadd231ps %%zmm29, %%zmm" #bc ", %%zmm" #a1 "\n\t"
#define T4(S) P4(S) POS2(0, S, 30, 8, 9) POS2(1, S, 31, 10, 11) POS2(2, S, 30, 12, 13) POS2(3, S, 31, 14, 15)
#define T5(S) P5(S) POS2(0, S, 31, 10, 11) POS2(1, S, 30, 12, 13) POS2(2, S, 31, 14, 15) POS2(3, S, 30, 16, 17) \
    POS2(4, S, 31, 18, 19)
#define T6(S) P6(S) POS2(0, S, 30, 12, 13) POS2(1, S, 31, 14, 15) POS2(2, S, 30, 16, 17) POS2(3, S, 31, 18, 19) \
    POS2(4, S, 30, 20, 21) POS2(5, S, 31, 22, 23)
#define T7(S) P7(S) POS2(0, S, 31, 14, 15) POS2(1, S, 30, 16, 17) POS2(2, S, 31, 18, 19) POS2(3, S, 30, 20, 21) \
    POS2(4, S, 31, 22, 23) POS2(5, S, 30, 24, 25) POS2(6, S, 31, 26, 27)

/* position i's 32 sums to acc[32i .. 32i + 31]: the 12 x 32 tile's stores and zeroing (position i
 * in zmm(2i), zmm(2i+1), as tile row i there), extended to 14 positions */
#include "zmm_tile.h" /* ST, STS1..STS12, ZERO_ACC */
#define STS13 STS12 ST(12, 24, 25)
#define STS14 STS13 ST(13, 26, 27)
#define Z(a) "vpxord %%zmm" #a ", %%zmm" #a ", %%zmm" #a "\n\t"
#define ZERO28 ZERO_ACC Z(24) Z(25) Z(26) Z(27)

#define STEP(PS)                                                                                   \
    "mov (%[off]), %[t]\n\t"                                                                       \
    "vmovups (%[w]), %%zmm28\n\t"                                                                  \
    "vmovups 64(%[w]), %%zmm29\n\t" PS "add $128, %[w]\n\t"                                        \
    "add $8, %[off]\n\t"

/* acc[32i + l] = sum_{k < kc} w[32k + l] * b[off[k]/4 + i*S], k ascending from 0 (one chain per
 * element) */
#include "oc_loop.h"
#define LOOP(PS, STS)                                                                              \
    OC_LOOP(ZERO28, STEP, PS, STS, "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", \
            "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18",      \
            "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28",     \
            "xmm29", "xmm30", "xmm31")

#define CASES(S)                                                                                   \
    switch (np) {                                                                                  \
    case 1: LOOP(P1(S), STS1); break;                                                                \
    case 2: LOOP(P2(S), STS2); break;                                                                \
    case 3: LOOP(P3(S), STS3); break;                                                                \
    case 4: LOOP(P4(S), STS4); break;                                                                \
    case 5: LOOP(P5(S), STS5); break;                                                                \
    case 6: LOOP(P6(S), STS6); break;                                                                \
    case 7: LOOP(P7(S), STS7); break;                                                                \
    case 8: LOOP(P8(S), STS8); break;                                                                \
    case 9: LOOP(P9(S), STS9); break;                                                                \
    case 10: LOOP(P10(S), STS10); break;                                                             \
    case 11: LOOP(P11(S), STS11); break;                                                             \
    case 12: LOOP(P12(S), STS12); break;                                                             \
    case 13: LOOP(P13(S), STS13); break;                                                             \
    default: LOOP(P14(S), STS14); break;                                                             \
    }

#define CASES2(S)                                                                                  \
    switch (np) {                                                                                  \
    case 8: LOOP(T4(S), STS8); break;                                                                \
    case 10: LOOP(T5(S), STS10); break;                                                              \
    case 12: LOOP(T6(S), STS12); break;                                                              \
    default: LOOP(T7(S), STS14); break;                                                              \
    }

TGT static void tile_f32(int64_t kc, const float *w, const int64_t *off, const float *b, int64_t stride, int np,
                         int64_t row2, float *acc) {
    int64_t k = kc, t;
    const float *b2 = b + row2;
    /* a copy of the loop per position count and stride (the displacements are immediates) */
    if (row2) {
        if (stride == 1) {
            CASES2(1)
        } else {
            CASES2(2)
        }
    } else if (stride == 1) {
        CASES(1)
    } else {
        CASES(2)
    }
}

/* y[r*ldy + i] (r < nr, i < np) from the tile acc[32i + r]: the 16 x 16 blocks are transposed
 * in registers (two levels of 2x2 shuffles, then lane permutes), then stored under a mask of
 * np positions. */
TGT static void store_f32(const float *acc, int np, int nr, float *y, int64_t ldy, int room, const float *bias) {
    (void)room; /* masked stores cost no more than full ones here */
    __mmask16 m = (__mmask16)((1u << np) - 1u);
    for (int h = 0; h < 2 && h * 16 < nr; h++) {
        __m512 v[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) v[i] = i < np ? _mm512_loadu_ps(acc + 32 * i + 16 * h) : _mm512_setzero_ps();
        /* v[i] lane r = element (position i, channel r); transpose to t[r] lane i */
        __m512 a[16], c[16];
#pragma GCC unroll 8
        for (int i = 0; i < 16; i += 2) {
            a[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
            a[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
        }
#pragma GCC unroll 4
        for (int i = 0; i < 16; i += 4) {
            c[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a[i]), _mm512_castps_pd(a[i + 2])));
            c[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a[i]), _mm512_castps_pd(a[i + 2])));
            c[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a[i + 1]), _mm512_castps_pd(a[i + 3])));
            c[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a[i + 1]), _mm512_castps_pd(a[i + 3])));
        }
        /* c[4q + s], 128-bit lane L, element e: position 4q + e, channel 4L + s; gather the four
         * 128-bit lanes L of c[s], c[4 + s], c[8 + s], c[12 + s] into channel 4L + s */
#pragma GCC unroll 4
        for (int s = 0; s < 4; s++) {
            __m512 p0 = _mm512_shuffle_f32x4(c[s], c[4 + s], 0x44);      /* L0,L1 of c[s]; L0,L1 of c[4+s] */
            __m512 p1 = _mm512_shuffle_f32x4(c[8 + s], c[12 + s], 0x44);
            __m512 q0 = _mm512_shuffle_f32x4(c[s], c[4 + s], 0xee);      /* L2,L3 ... */
            __m512 q1 = _mm512_shuffle_f32x4(c[8 + s], c[12 + s], 0xee);
            __m512 t[4];
            t[0] = _mm512_shuffle_f32x4(p0, p1, 0x88); /* L0 of each: channel s */
            t[1] = _mm512_shuffle_f32x4(p0, p1, 0xdd); /* L1: channel 4 + s */
            t[2] = _mm512_shuffle_f32x4(q0, q1, 0x88); /* channel 8 + s */
            t[3] = _mm512_shuffle_f32x4(q0, q1, 0xdd); /* channel 12 + s */
#pragma GCC unroll 4
            for (int L = 0; L < 4; L++) {
                int r = 16 * h + 4 * L + s;
                if (r >= nr) continue;
                float *p = y + r * ldy;
                __m512 o = t[L];
                if (bias) o = _mm512_add_ps(o, _mm512_set1_ps(bias[r]));
                _mm512_mask_storeu_ps(p, m, o);
            }
        }
    }
}

/* dst[32k + r] = src[k*kstep + r*rstride] for r < nr, 0 for nr <= r < 32, k < nk: two masked
 * gathers of 16 channels a tap.  The scalar double loop it replaces took ~3.5% of the 256->256
 * 3x3 @14 forward (a strided store per element); gathered, a tap's 32 source lines are reused
 * by the next 15 taps from L1 (non-flipped rows), or are the same few lines (flipped). */
TGT static void pack_f32(float *dst, const float *src, int64_t nk, int64_t kstep, int64_t rstride, int nr) {
    __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                     _mm512_set1_epi32((int)rstride));
    __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xffffu : (1u << nr) - 1u);
    __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xffffu : nr <= 16 ? 0u : (1u << (nr - 16)) - 1u);
    const float *s1 = nr > 16 ? src + 16 * rstride : src; /* not formed past the weights */
    for (int64_t k = 0; k < nk; k++) {
        __m512 a = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, idx, src + k * kstep, 4);
        __m512 b = m1 ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, idx, s1 + k * kstep, 4)
                      : _mm512_setzero_ps();
        _mm512_storeu_ps(dst + 32 * k, a);
        _mm512_storeu_ps(dst + 32 * k + 16, b);
    }
}

static const em__conv_oc_kset kset = {32, 14, tile_f32, store_f32, pack_f32};
const em__conv_oc_kset *em__conv_oc_avx512(void) { return &kset; }

#else
const em__conv_oc_kset *em__conv_oc_avx512(void) { return NULL; }
#endif
