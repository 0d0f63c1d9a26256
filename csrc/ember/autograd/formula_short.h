/* Short forms of the formula helpers (ag.h) for the backward functions of
 * backward_*.c: each expects the scope `em__f f` and the node `n` in scope.
 * Included only by .c files, after ag.h. */
#ifndef EMBER_AG_FORMULA_SHORT_H
#define EMBER_AG_FORMULA_SHORT_H

#define U(op, x) em__f_un(&f, EM_OP_##op, x)
#define B(op, a, b) em__f_bin(&f, EM_OP_##op, a, b)
#define BC(op, a, c) em__f_binc(&f, EM_OP_##op, a, c) /* a op c */
#define CB(op, c, b) em__f_cbin(&f, EM_OP_##op, c, b) /* c op b */
#define SAVED(k) em__f_saved(&f, n, k)
#define ZERO(t) em__f_scalar(&f, 0.0, (t)->dtype)

#endif
