/* The tap loop shared by the output-channel-vectorised conv micro-kernels
 * (kernels/x86/conv_oc_avx512.c and conv_oc_avx2.c), inline asm:
 * ZERO clears the accumulators, STEP(PS) runs one tap (the weights of tap k
 * into registers, then PS: a broadcast and FMAs per position), STS stores the
 * accumulators to %[acc].  Two taps a turn, then an odd last one.  Operands:
 * w, off, k (taps left) and t (scratch) are updated; b, b2 (the second row of
 * a two-row tile) and acc are read.  CLOBBERS: the vector registers used. */
#ifndef EMBER_KERNELS_X86_OC_LOOP_H
#define EMBER_KERNELS_X86_OC_LOOP_H

#define OC_LOOP(ZERO, STEP, PS, STS, ...)                                                          \
    __asm__ volatile(ZERO "cmp $2, %[k]\n\t"                                                       \
                     "jb 2f\n\t"                                                                   \
                     "1:\n\t" STEP(PS) STEP(PS) "sub $2, %[k]\n\t"                                 \
                     "cmp $2, %[k]\n\t"                                                            \
                     "jae 1b\n\t"                                                                  \
                     "2:\n\t"                                                                      \
                     "test %[k], %[k]\n\t"                                                         \
                     "jz 4f\n\t" STEP(PS) "4:\n\t" STS                                             \
                     : [w] "+r"(w), [off] "+r"(off), [k] "+r"(k), [t] "=&r"(t)                      \
                     : [b] "r"(b), [b2] "r"(b2), [acc] "r"(acc)                                    \
                     : __VA_ARGS__, "memory", "cc")

#endif
