/* Inline-asm pieces shared by the AVX-512 12 x 32 micro-kernels (the GEMM's,
 * kernels/x86/gemm_avx512.c, and the direct convolution's,
 * kernels/x86/conv_direct_avx512.c; the output-channel conv kernel,
 * kernels/x86/conv_oc_avx512.c, adds two rows): the 24 accumulators are zmm0..zmm23,
 * tile row r in zmm(2r) and zmm(2r+1).  STSn stores rows 0..n-1 to the
 * 128-byte rows of %[acc]; ZERO_ACC clears all 24. */
#ifndef EMBER_KERNELS_X86_ZMM_TILE_H
#define EMBER_KERNELS_X86_ZMM_TILE_H

#define ST(r, a0, a1) "vmovups %%zmm" #a0 ", " #r "*128(%[acc])\n\t" "vmovups %%zmm" #a1 ", " #r "*128+64(%[acc])\n\t"
#define STS1 ST(0, 0, 1)
#define STS2 STS1 ST(1, 2, 3)
#define STS3 STS2 ST(2, 4, 5)
#define STS4 STS3 ST(3, 6, 7)
#define STS5 STS4 ST(4, 8, 9)
#define STS6 STS5 ST(5, 10, 11)
#define STS7 STS6 ST(6, 12, 13)
#define STS8 STS7 ST(7, 14, 15)
#define STS9 STS8 ST(8, 16, 17)
#define STS10 STS9 ST(9, 18, 19)
#define STS11 STS10 ST(10, 20, 21)
#define STS12 STS11 ST(11, 22, 23)

#define ZERO_ACC                                                                                   \
    "vpxord %%zmm0, %%zmm0, %%zmm0\n\t" "vpxord %%zmm1, %%zmm1, %%zmm1\n\t"                          \
    "vpxord %%zmm2, %%zmm2, %%zmm2\n\t" "vpxord %%zmm3, %%zmm3, %%zmm3\n\t"                          \
    "vpxord %%zmm4, %%zmm4, %%zmm4\n\t" "vpxord %%zmm5, %%zmm5, %%zmm5\n\t"                          \
    "vpxord %%zmm6, %%zmm6, %%zmm6\n\t" "vpxord %%zmm7, %%zmm7, %%zmm7\n\t"                          \
    "vpxord %%zmm8, %%zmm8, %%zmm8\n\t" "vpxord %%zmm9, %%zmm9, %%zmm9\n\t"                          \
    "vpxord %%zmm10, %%zmm10, %%zmm10\n\t" "vpxord %%zmm11, %%zmm11, %%zmm11\n\t"                    \
    "vpxord %%zmm12, %%zmm12, %%zmm12\n\t" "vpxord %%zmm13, %%zmm13, %%zmm13\n\t"                    \
    "vpxord %%zmm14, %%zmm14, %%zmm14\n\t" "vpxord %%zmm15, %%zmm15, %%zmm15\n\t"                    \
    "vpxord %%zmm16, %%zmm16, %%zmm16\n\t" "vpxord %%zmm17, %%zmm17, %%zmm17\n\t"                    \
    "vpxord %%zmm18, %%zmm18, %%zmm18\n\t" "vpxord %%zmm19, %%zmm19, %%zmm19\n\t"                    \
    "vpxord %%zmm20, %%zmm20, %%zmm20\n\t" "vpxord %%zmm21, %%zmm21, %%zmm21\n\t"                    \
    "vpxord %%zmm22, %%zmm22, %%zmm22\n\t" "vpxord %%zmm23, %%zmm23, %%zmm23\n\t"

#endif
