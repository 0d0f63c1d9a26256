/* Vectorisable float32 math over contiguous arrays (exp, log, tanh, sigmoid,
 * erf, gelu, sin, ...), used by the float32 loops of the unary elementwise ops.
 *
 * Each function is portable C written branch-free (range reduction +
 * polynomial, bit manipulation, selects) so gcc -O2 vectorises it.  vmath.c
 * compiles it three times: baseline (SSE2 on x86-64), AVX2+FMA and
 * AVX-512F; the best variant the CPU runs is chosen once per process, or
 * the baseline one when the environment variable EMBER_FORCE_PORTABLE is
 * set (to anything but "" or "0") before the first call.  The AVX2 and
 * AVX-512 variants give bit-identical results; the baseline one, without
 * FMA, may differ from them in the last bits.  Every variant is within
 * 4 ulp of the exact result (docs/accuracy.md lists the measured errors). */
#ifndef EMBER_VMATH_H
#define EMBER_VMATH_H

#include "../internal.h"

/* y[i] = f(x[i]) for i < n.  y may equal x (in place) but must not overlap it
 * otherwise.  alpha is the op's parameter (elu alpha, softplus beta), ignored
 * by the others. */
typedef void (*em__vmath_fn)(float *y, const float *x, int64_t n, float alpha);

/* Instruction-set variants. */
typedef enum { EM__VMATH_PORTABLE, EM__VMATH_AVX2, EM__VMATH_AVX512, EM__VMATH_COUNT } em__vmath_isa;

/* Float32 kernel of unary op `op` in the variant chosen for this process, or
 * NULL when the op has none (it then keeps its scalar loop). */
em__vmath_fn em__vmath_f32(em_op op);

/* Same for a given variant (tests compare them); NULL if the op has no kernel
 * or the CPU cannot run the variant. */
em__vmath_fn em__vmath_f32_isa(em_op op, em__vmath_isa isa);

/* Softmax's fused pass: y[i] = e^(x[i] - m) for i < n (y NULL: not stored;
 * y may equal x) and returns their float32 sum, added in an order fixed by n
 * (VM_STEP lanes, then pairwise).  Same variants as above. */
typedef float (*em__vmath_expsum_fn)(float *y, const float *x, int64_t n, float m);
em__vmath_expsum_fn em__vmath_expsum_f32(void);
em__vmath_expsum_fn em__vmath_expsum_f32_isa(em__vmath_isa isa);

/* The variant em__vmath_f32 uses. */
em__vmath_isa em__vmath_active_isa(void);

#endif
