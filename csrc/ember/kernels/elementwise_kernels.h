/* Elementwise kernels: one ufunc-style inner loop per (op, dtype), generated
 * from the op lists in ember.h.  The ops layer (ops/elementwise.c) chooses
 * the compute dtype from a kernel row and runs the loop through em__iter. */
#ifndef EMBER_ELEMENTWISE_KERNELS_H
#define EMBER_ELEMENTWISE_KERNELS_H

#include "../internal.h"

/* One op's loops.  Operand order: p[0] = out, p[1] = x or a, p[2] = b; all
 * inputs have the compute dtype, the output that dtype or bool (to_bool).
 * Unary loops read ctx as a `const double *` (the op's alpha, already
 * defaulted); binary loops ignore ctx. */
typedef struct em__ew_kernel {
    em__loop_fn loop[EM_DTYPE_COUNT]; /* NULL: no loop for that compute dtype */
    int fallback; /* dtype that integer/bool operands without a loop compute in; -1: none */
    bool to_bool; /* predicates, comparisons and logical ops */
} em__ew_kernel;

/* Kernel row of a unary or binary op; NULL for any other value. */
const em__ew_kernel *em__ew_kernel_of(em_op op);

#endif
