/* Inline-asm pieces shared by the AVX2 6 x 16 micro-kernels (the GEMM's,
 * kernels/x86/gemm_avx2.c, and the direct convolution's,
 * kernels/x86/conv_direct_avx2.c), the AVX2 counterpart of zmm_tile.h: the
 * 12 accumulators are ymm0..ymm11, tile row r in ymm(2r) and ymm(2r+1).
 * STSn stores rows 0..n-1 to the 64-byte rows of %[acc]; ZERO_ACC clears
 * all 12. */
#ifndef EMBER_KERNELS_X86_YMM_TILE_H
#define EMBER_KERNELS_X86_YMM_TILE_H

#define ST(r, a0, a1) "vmovups %%ymm" #a0 ", " #r "*64(%[acc])\n\t" "vmovups %%ymm" #a1 ", " #r "*64+32(%[acc])\n\t"
#define STS1 ST(0, 0, 1)
#define STS2 STS1 ST(1, 2, 3)
#define STS3 STS2 ST(2, 4, 5)
#define STS4 STS3 ST(3, 6, 7)
#define STS5 STS4 ST(4, 8, 9)
#define STS6 STS5 ST(5, 10, 11)

#define ZERO_ACC                                                                                   \
    "vxorps %%ymm0, %%ymm0, %%ymm0\n\t" "vxorps %%ymm1, %%ymm1, %%ymm1\n\t"                          \
    "vxorps %%ymm2, %%ymm2, %%ymm2\n\t" "vxorps %%ymm3, %%ymm3, %%ymm3\n\t"                          \
    "vxorps %%ymm4, %%ymm4, %%ymm4\n\t" "vxorps %%ymm5, %%ymm5, %%ymm5\n\t"                          \
    "vxorps %%ymm6, %%ymm6, %%ymm6\n\t" "vxorps %%ymm7, %%ymm7, %%ymm7\n\t"                          \
    "vxorps %%ymm8, %%ymm8, %%ymm8\n\t" "vxorps %%ymm9, %%ymm9, %%ymm9\n\t"                          \
    "vxorps %%ymm10, %%ymm10, %%ymm10\n\t" "vxorps %%ymm11, %%ymm11, %%ymm11\n\t"

#endif
