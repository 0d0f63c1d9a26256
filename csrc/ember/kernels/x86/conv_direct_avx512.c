/* AVX-512 micro-kernel of the direct stride-1 convolution (driver in
 * kernels/conv_igemm.c, contract in kernels/conv_kernels.h, design in
 * docs/kernels.md, section Convolution).
 *
 * The tile is the GEMM's 12 x 32 floats in 24 zmm accumulators (24
 * independent FMA chains), fed per k by two loads of B and twelve broadcasts
 * of the packed weights.  What differs from the GEMM kernel: B is not a
 * packed sliver but the zero-padded input plane read in place, row k of B
 * starting at b + off[k] (a per-layer table of tap offsets, in bytes), so one
 * scalar load of the offset joins the two vector loads per k (15 loads per 24
 * FMAs; the two load ports keep up).  The tile's 32 columns are positions of
 * the padded output grid (rows Wp wide); the columns that are padding are
 * computed and dropped in the store step, which writes the others straight
 * into y through a short list of segments.
 *
 * Compiled for the baseline target like every libember file; only these
 * functions carry target("avx512f"), and the driver calls them only when the
 * GEMM's AVX-512 kernel set is active (CPU and OS checked there). */
#include "../conv_kernels.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx2,fma")))
#define MR 12
#define NR 32

/* One k step: the offset of B row k, its two vectors in zmm30/zmm31, then per
 * tile row r a broadcast of a[r] (alternating zmm28/zmm29) and two FMAs into
 * zmm(2r), zmm(2r+1).  The packed weights move by MR floats per k. */
#define ROW(r, bc, a0, a1)                                                                         \
    "vbroadcastss " #r "*4(%[a]), %%zmm" #bc "\n\t"                                                \
    "vfmadd231ps %%zmm30, %%zmm" #bc ", %%zmm" #a0 "\n\t"                                          \
    "vfmadd231ps %%zmm31, %%zmm" #bc ", %%zmm" #a1 "\n\t"
#define ROWS1 ROW(0, 28, 0, 1)
#define ROWS2 ROWS1 ROW(1, 29, 2, 3)
#define ROWS3 ROWS2 ROW(2, 28, 4, 5)
#define ROWS4 ROWS3 ROW(3, 29, 6, 7)
#define ROWS5 ROWS4 ROW(4, 28, 8, 9)
#define ROWS6 ROWS5 ROW(5, 29, 10, 11)
#define ROWS7 ROWS6 ROW(6, 28, 12, 13)
#define ROWS8 ROWS7 ROW(7, 29, 14, 15)
#define ROWS9 ROWS8 ROW(8, 28, 16, 17)
#define ROWS10 ROWS9 ROW(9, 29, 18, 19)
#define ROWS11 ROWS10 ROW(10, 28, 20, 21)
#define ROWS12 ROWS11 ROW(11, 29, 22, 23)

#include "zmm_tile.h" /* ST, STS1..STS12, ZERO_ACC */

#define STEP(ROWS)                                                                                 \
    "mov (%[off]), %[t]\n\t"                                                                       \
    "vmovups (%[b],%[t],1), %%zmm30\n\t"                                                           \
    "vmovups 64(%[b],%[t],1), %%zmm31\n\t" ROWS "add $48, %[a]\n\t"                                \
    "add $8, %[off]\n\t"

/* acc[r][0..31] = sum_{k < kc} a[k*MR + r] * b[off[k]/4 + 0..31], k ascending from 0 */
#define LOOP(ROWS, STS)                                                                            \
    __asm__ volatile(ZERO_ACC "cmp $4, %[k]\n\t"                                                   \
                     "jb 2f\n\t"                                                                   \
                     "1:\n\t" STEP(ROWS) STEP(ROWS) STEP(ROWS) STEP(ROWS) "sub $4, %[k]\n\t"       \
                     "cmp $4, %[k]\n\t"                                                            \
                     "jae 1b\n\t"                                                                  \
                     "2:\n\t"                                                                      \
                     "test %[k], %[k]\n\t"                                                         \
                     "jz 4f\n\t"                                                                   \
                     "3:\n\t" STEP(ROWS) "dec %[k]\n\t"                                            \
                     "jnz 3b\n\t"                                                                  \
                     "4:\n\t" STS                                                                  \
                     : [a] "+r"(a), [off] "+r"(off), [k] "+r"(k), [t] "=&r"(t)                      \
                     : [b] "r"(b), [acc] "r"(acc)                                                  \
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",     \
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16",      \
                       "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24",     \
                       "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "memory", "cc")

TGT static void ukr_f32(int64_t kc, const float *a, const int64_t *off, const float *b, int mr, float *c,
                        int64_t ldc, const em__cdseg *sg, int nseg, bool first, const float *bias) {
    float acc[MR * NR] __attribute__((aligned(64)));
    int64_t k = kc, t;
    /* a copy of the loop per row count: a short tile (the last rows of the
     * output channels) skips the FMAs of rows it would drop; each kept row
     * runs the same chain whatever the copy */
    switch (mr) {
    case 1: LOOP(ROWS1, STS1); break;
    case 2: LOOP(ROWS2, STS2); break;
    case 3: LOOP(ROWS3, STS3); break;
    case 4: LOOP(ROWS4, STS4); break;
    case 5: LOOP(ROWS5, STS5); break;
    case 6: LOOP(ROWS6, STS6); break;
    case 7: LOOP(ROWS7, STS7); break;
    case 8: LOOP(ROWS8, STS8); break;
    case 9: LOOP(ROWS9, STS9); break;
    case 10: LOOP(ROWS10, STS10); break;
    case 11: LOOP(ROWS11, STS11); break;
    default: LOOP(ROWS12, STS12); break;
    }
    /* the store step: lanes [lane, lane + len) of each segment go to
     * c + dst + (lane - l0) of every row, under masks (masked-off lanes are
     * neither read nor written, so the pointer may sit before the row) */
    for (int s = 0; s < nseg; s++) {
        uint32_t m = (sg[s].len >= 32 ? 0xffffffffu : (1u << sg[s].len) - 1u) << sg[s].lane;
        __mmask16 m0 = (__mmask16)(m & 0xffffu), m1 = (__mmask16)(m >> 16);
        for (int r = 0; r < mr; r++) {
            float *p = c + r * ldc + sg[s].dst - sg[s].lane;
            __m512 v0 = _mm512_load_ps(acc + r * NR), v1 = _mm512_load_ps(acc + r * NR + 16);
            if (first) {
                if (bias) {
                    __m512 bv = _mm512_set1_ps(bias[r]);
                    v0 = _mm512_add_ps(v0, bv), v1 = _mm512_add_ps(v1, bv);
                }
            } else {
                v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, p), v0);
                v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, p + 16), v1);
            }
            if (m0) _mm512_mask_storeu_ps(p, m0, v0);
            if (m1) _mm512_mask_storeu_ps(p + 16, m1, v1);
        }
    }
}

static const em__conv_direct_kset kset = {MR, NR, 512, ukr_f32};
const em__conv_direct_kset *em__conv_direct_avx512(void) { return &kset; }

#else
const em__conv_direct_kset *em__conv_direct_avx512(void) { return NULL; }
#endif
