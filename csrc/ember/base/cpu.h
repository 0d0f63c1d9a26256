/* cpu.h — CPU feature detection shared by the kernels that have SIMD
 * variants under kernels/x86/.  Variants are chosen once per process from
 * what the CPU reports (never from how libember was compiled). */
#ifndef EMBER_CPU_H
#define EMBER_CPU_H

#include <stdbool.h>

/* Whether this CPU runs AVX2 and FMA code (false off x86-64 or without
 * GCC/clang builtins). */
bool em__cpu_avx2_fma(void);

/* Whether this CPU and OS run AVX-512 Foundation code (zmm registers and
 * mask registers) as well as AVX2 and FMA. */
bool em__cpu_avx512f(void);

/* Whether the environment variable EMBER_FORCE_PORTABLE is set to anything
 * but "" or "0": every kernel then keeps its portable C path.  Read on each
 * call; kernels cache their choice. */
bool em__cpu_force_portable(void);

#endif
