/* AVX2+FMA micro-kernel of the direct stride-1 convolution (driver in
 * kernels/conv_igemm.c, contract in kernels/conv_kernels.h): the AVX-512
 * kernel's scheme (conv_direct_avx512.c) on the GEMM's AVX2 tile, 6 x 16
 * floats in 12 ymm accumulators, B row k read in place at b + off[k].  It
 * is also the path valgrind checks (valgrind hides AVX-512).
 *
 * Only these functions carry target("avx2,fma"); the driver calls them only
 * when the GEMM's AVX2 kernel set is active (CPU checked there). */
#include "../conv_kernels.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))
#define MR 6
#define NR 16

/* One k step: B row k in ymm12/ymm13, per tile row r a broadcast of a[r]
 * (alternating ymm14/ymm15) and two FMAs into ymm(2r), ymm(2r+1). */
#define ROW(r, bc, a0, a1)                                                                         \
    "vbroadcastss " #r "*4(%[a]), %%ymm" #bc "\n\t"                                                \
    "vfmadd231ps %%ymm12, %%ymm" #bc ", %%ymm" #a0 "\n\t"                                          \
    "vfmadd231ps %%ymm13, %%ymm" #bc ", %%ymm" #a1 "\n\t"
#define ROWS1 ROW(0, 14, 0, 1)
#define ROWS2 ROWS1 ROW(1, 15, 2, 3)
#define ROWS3 ROWS2 ROW(2, 14, 4, 5)
#define ROWS4 ROWS3 ROW(3, 15, 6, 7)
#define ROWS5 ROWS4 ROW(4, 14, 8, 9)
#define ROWS6 ROWS5 ROW(5, 15, 10, 11)

#include "ymm_tile.h" /* ST, STS1..STS6, ZERO_ACC */

#define STEP(ROWS)                                                                                 \
    "mov (%[off]), %[t]\n\t"                                                                       \
    "vmovups (%[b],%[t],1), %%ymm12\n\t"                                                           \
    "vmovups 32(%[b],%[t],1), %%ymm13\n\t" ROWS "add $24, %[a]\n\t"                                \
    "add $8, %[off]\n\t"

/* acc[r][0..15] = sum_{k < kc} a[k*MR + r] * b[off[k]/4 + 0..15], k ascending from 0 */
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
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc")

TGT static void ukr_f32(int64_t kc, const float *a, const int64_t *off, const float *b, int mr, float *c,
                        int64_t ldc, const em__cdseg *sg, int nseg, bool first, const float *bias) {
    float acc[MR * NR] __attribute__((aligned(32)));
    int64_t k = kc, t;
    switch (mr) {
    case 1: LOOP(ROWS1, STS1); break;
    case 2: LOOP(ROWS2, STS2); break;
    case 3: LOOP(ROWS3, STS3); break;
    case 4: LOOP(ROWS4, STS4); break;
    case 5: LOOP(ROWS5, STS5); break;
    default: LOOP(ROWS6, STS6); break;
    }
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int s = 0; s < nseg; s++) {
        int lo = sg[s].lane, hi = sg[s].lane + sg[s].len;
        /* lanes [lo, hi) of the tile go to c + dst + (lane - lo): per 8-lane
         * half h, a full vector or a masked one (masked-off lanes are not
         * touched, so the pointer may sit before the row) */
        for (int h = 0; h < 2; h++) {
            int l0 = lo > 8 * h ? lo - 8 * h : 0, l1 = hi < 8 * h + 8 ? hi - 8 * h : 8;
            if (l0 >= l1) continue;
            bool full = l0 == 0 && l1 == 8;
            __m256i m = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(l0), iota),
                                            _mm256_cmpgt_epi32(_mm256_set1_epi32(l1), iota));
            for (int r = 0; r < mr; r++) {
                float *p = c + r * ldc + sg[s].dst - lo + 8 * h;
                __m256 v = _mm256_load_ps(acc + r * NR + 8 * h);
                if (first) {
                    if (bias) v = _mm256_add_ps(v, _mm256_set1_ps(bias[r]));
                } else
                    v = _mm256_add_ps(full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m), v);
                if (full)
                    _mm256_storeu_ps(p, v);
                else
                    _mm256_maskstore_ps(p, m, v);
            }
        }
    }
}

static const em__conv_direct_kset kset = {MR, NR, 256, ukr_f32};
const em__conv_direct_kset *em__conv_direct_avx2(void) { return &kset; }

#else
const em__conv_direct_kset *em__conv_direct_avx2(void) { return NULL; }
#endif
