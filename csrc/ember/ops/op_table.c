/* The op name table, generated from the one op list in ember.h. */
#include "../internal.h"

static const char *const op_names[EM_OP_COUNT + 1] = {
#define EM_X_NAME(NAME, name, doc) [EM_OP_##NAME] = #name,
    EM_UNARY_OPS(EM_X_NAME) EM_BINARY_OPS(EM_X_NAME) EM_REDUCE_OPS(EM_X_NAME)
#undef EM_X_NAME
    [EM_OP_COUNT] = NULL,
};
#define EM_X_COUNT(NAME, name, doc) +1
_Static_assert(0 EM_UNARY_OPS(EM_X_COUNT) EM_BINARY_OPS(EM_X_COUNT) EM_REDUCE_OPS(EM_X_COUNT) + 3 == EM_OP_COUNT,
               "op enum and op lists disagree");
#undef EM_X_COUNT

const char *em_op_name(em_op op) {
    if ((unsigned)op >= EM_OP_COUNT) return NULL;
    return op_names[op]; /* NULL for the *_END_ markers */
}
