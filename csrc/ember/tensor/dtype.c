/* Dtype table and type promotion (docs/dtypes.md). */
#include "../internal.h"

#include <math.h>

const size_t em__dtype_sizes[EM_DTYPE_COUNT] = {1, 1, 1, 4, 8, 4, 8};
static const char *const dtype_names[EM_DTYPE_COUNT] = {"bool",  "uint8",   "int8",   "int32",
                                                        "int64", "float32", "float64"};
_Static_assert(EM_DTYPE_COUNT == 7, "dtype tables out of date");

const char *em_dtype_name(em_dtype d) { return em__dtype_valid(d) ? dtype_names[d] : NULL; }
size_t em_dtype_size(em_dtype d) { return em__dtype_valid(d) ? em__dtype_sizes[d] : 0; }
bool em_dtype_is_float(em_dtype d) { return d == EM_F32 || d == EM_F64; }
bool em_dtype_is_int(em_dtype d) { return d == EM_U8 || d == EM_I8 || d == EM_I32 || d == EM_I64; }

/* Within a kind the wider type wins; a float beats any integer (as in
 * PyTorch); uint8 with a signed type needs the next signed width that holds
 * both, and ember has no int16, so u8 + i8 -> int32. */
em_dtype em_promote_types(em_dtype a, em_dtype b) {
    if (a == b) return a;
    if (a > b) { em_dtype t = a; a = b; b = t; } /* now a < b in enum order */
    if (a == EM_BOOL) return b;
    if (em_dtype_is_float(b)) return em_dtype_is_float(a) ? EM_F64 : b;
    if (a == EM_U8 && b == EM_I8) return EM_I32;
    return b; /* i32/i64 hold u8 and i8; i64 holds i32 */
}

bool em_can_cast(em_dtype from, em_dtype to) {
    if (!em__dtype_valid(from) || !em__dtype_valid(to)) return false;
    if (from == to) return true;
    if (from == EM_BOOL) return true;
    if (to == EM_BOOL) return false;
    if (em_dtype_is_float(from)) return to == EM_F64;
    if (em_dtype_is_float(to)) return true; /* integers to floats: same-kind ordering */
    if (from == EM_U8) return to != EM_I8;
    if (from == EM_I8) return to == EM_I32 || to == EM_I64;
    return from == EM_I32 && to == EM_I64;
}

/* Float to integer without undefined behaviour: NaN gives 0 and values out
 * of the target's range saturate to its limits (docs/dtypes.md). */
static int64_t f2i(double v, double lo, double hi) {
    if (isnan(v)) return 0;
    if (v <= lo) return (int64_t)lo;
    if (v >= hi) return hi >= 9223372036854775807.0 ? INT64_MAX : (int64_t)hi;
    return (int64_t)v;
}

void em__store(em_dtype dt, void *p, double v) {
    switch (dt) {
    case EM_BOOL: *(bool *)p = v != 0; break;
    case EM_U8: *(uint8_t *)p = (uint8_t)f2i(v, 0, 255); break;
    case EM_I8: *(int8_t *)p = (int8_t)f2i(v, -128, 127); break;
    case EM_I32: *(int32_t *)p = (int32_t)f2i(v, -2147483648.0, 2147483647.0); break;
    case EM_I64: *(int64_t *)p = f2i(v, -9223372036854775808.0, 9223372036854775807.0); break;
    case EM_F32: *(float *)p = (float)v; break;
    case EM_F64: *(double *)p = v; break;
    default: break;
    }
}
