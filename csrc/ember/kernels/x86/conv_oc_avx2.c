/* AVX2+FMA micro-kernel of the output-channel-vectorised direct convolution
 * (driver in kernels/conv_ocfwd.c, contract in kernels/conv_kernels.h,
 * design in docs/kernels.md, section Convolution): the AVX-512 kernel's
 * scheme (conv_oc_avx512.c) on the GEMM's AVX2 register tile.
 *
 * The tile is np <= 6 consecutive output positions of one output row times
 * 16 output channels: position i, channels 8j..8j+7 in ymm(2i + j), so up
 * to 12 accumulators, each one FMA chain.  Per tap k: the two vectors of
 * packed weights w[k][0..15] (ymm12, ymm13), the tap's input offset from a
 * per-layer table, then per position one broadcast of the input scalar at
 * b + off[k] + i*stride floats (a compile-time displacement; ymm14, ymm15
 * in turn) and two FMAs: 8 loads per 12 FMAs, as the GEMM's 6 x 16 kernel.
 *
 * Only these functions carry target("avx2,fma"); the driver calls them only
 * when the GEMM's AVX2 kernel set is active (CPU checked there). */
#include "../conv_kernels.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))

/* position i at displacement i*S*4 bytes: broadcast into ymm(bc), two FMAs */
#define POS(i, S, bc, a0, a1)                                                                      \
    "vbroadcastss " #i "*" #S "*4(%[b],%[t],1), %%ymm" #bc "\n\t"                                 \
    "vfmadd231ps %%ymm12, %%ymm" #bc ", %%ymm" #a0 "\n\t"                                          \
    "vfmadd231ps %%ymm13, %%ymm" #bc ", %%ymm" #a1 "\n\t"
#define P1(S) POS(0, S, 14, 0, 1)
#define P2(S) P1(S) POS(1, S, 15, 2, 3)
#define P3(S) P2(S) POS(2, S, 14, 4, 5)
#define P4(S) P3(S) POS(3, S, 15, 6, 7)
#define P5(S) P4(S) POS(4, S, 14, 8, 9)
#define P6(S) P5(S) POS(5, S, 15, 10, 11)

/* position i's 16 sums to acc[16i .. 16i + 15] (position i is tile row i there) */
#include "ymm_tile.h" /* ST, STS1..STS6, ZERO_ACC */
#include "ymm_store.h" /* store_n_ps */

#define STEP(PS)                                                                                   \
    "mov (%[off]), %[t]\n\t"                                                                       \
    "vmovups (%[w]), %%ymm12\n\t"                                                                  \
    "vmovups 32(%[w]), %%ymm13\n\t" PS "add $64, %[w]\n\t"                                         \
    "add $8, %[off]\n\t"

/* acc[16i + l] = sum_{k < kc} w[16k + l] * b[off[k]/4 + i*S], k ascending from 0 (one chain per
 * element) */
#include "oc_loop.h"
#define LOOP(PS, STS)                                                                              \
    OC_LOOP(ZERO_ACC, STEP, PS, STS, "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",  \
            "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15")

#define CASES(S)                                                                                   \
    switch (np) {                                                                                  \
    case 1: LOOP(P1(S), STS1); break;                                                                \
    case 2: LOOP(P2(S), STS2); break;                                                                \
    case 3: LOOP(P3(S), STS3); break;                                                                \
    case 4: LOOP(P4(S), STS4); break;                                                                \
    case 5: LOOP(P5(S), STS5); break;                                                                \
    default: LOOP(P6(S), STS6); break;                                                               \
    }

/* one row only (row2 is 0: the driver pairs rows only for kernels of 8 or more positions) */
TGT static void tile_f32(int64_t kc, const float *w, const int64_t *off, const float *b, int64_t stride, int np,
                         int64_t row2, float *acc) {
    int64_t k = kc, t;
    (void)row2;
    const float *b2 = b; /* OC_LOOP's second-row operand: unused by these one-row loops */
    /* a copy of the loop per position count and stride (the displacements are immediates) */
    if (stride == 1) {
        CASES(1)
    } else {
        CASES(2)
    }
}

/* y[r*ldy + i] (r < nr, i < np) from the tile acc[16i + r]: each 8 x 8 block (positions x
 * channels) is transposed in registers (unpacks, then 128-bit lane permutes) and each channel's
 * np positions are stored: as one 8-float store where room allows, else in 4-, 2- and 1-float
 * pieces (the pieces made the stem's forward 6% slower: a tile of 5 or 6 positions wrote each
 * output line in two stores, and the stores were the stalls of the store step). */
TGT static void store_f32(const float *acc, int np, int nr, float *y, int64_t ldy, int room, const float *bias) {
    int nst = room >= 8 ? 8 : np;
    for (int h = 0; h < 2 && h * 8 < nr; h++) {
        __m256 v[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) v[i] = i < np ? _mm256_loadu_ps(acc + 16 * i + 8 * h) : _mm256_setzero_ps();
        /* v[i] lane r = (position i, channel r); to t[r] lane i */
        __m256 a[8], c[8], t[8];
#pragma GCC unroll 4
        for (int i = 0; i < 8; i += 2) {
            a[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
            a[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
        }
#pragma GCC unroll 2
        for (int i = 0; i < 8; i += 4) {
            c[i] = _mm256_shuffle_ps(a[i], a[i + 2], 0x44);
            c[i + 1] = _mm256_shuffle_ps(a[i], a[i + 2], 0xee);
            c[i + 2] = _mm256_shuffle_ps(a[i + 1], a[i + 3], 0x44);
            c[i + 3] = _mm256_shuffle_ps(a[i + 1], a[i + 3], 0xee);
        }
        /* c[4q + s], 128-bit lane L, element e: position 4q + e, channel 4L + s */
#pragma GCC unroll 4
        for (int s = 0; s < 4; s++) {
            t[s] = _mm256_permute2f128_ps(c[s], c[4 + s], 0x20);     /* channel s */
            t[4 + s] = _mm256_permute2f128_ps(c[s], c[4 + s], 0x31); /* channel 4 + s */
        }
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            int r = 8 * h + j;
            if (r >= nr) break;
            float *p = y + r * ldy;
            __m256 o = t[j];
            if (bias) o = _mm256_add_ps(o, _mm256_set1_ps(bias[r]));
            store_n_ps(p, o, nst);
        }
    }
}

/* nc 16, npmax 6; no packer: the driver's scalar loop packs */
static const em__conv_oc_kset kset = {16, 6, tile_f32, store_f32, NULL};
const em__conv_oc_kset *em__conv_oc_avx2(void) { return &kset; }

#else
const em__conv_oc_kset *em__conv_oc_avx2(void) { return NULL; }
#endif
