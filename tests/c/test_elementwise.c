/* Elementwise ops: em_unary, em_binary, *_into, em_where, em_clip.
 * Float references are libm in double; integer references follow Python's
 * rules computed independently (double floor, 64-bit wrapping). */
#include <float.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

/* ---- helpers ------------------------------------------------------------ */
/* Wraps an integer into dt as a C conversion to that width would. */
static int64_t wrap(em_dtype dt, int64_t v) {
    switch (dt) {
    case EM_BOOL: return v != 0;
    case EM_U8: return (uint8_t)v;
    case EM_I8: return (int8_t)v;
    case EM_I32: return (int32_t)v;
    default: return v;
    }
}

/* got ~ want: NaN matches NaN, infinities match exactly. */
static void check_close(const char *what, int64_t i, double got, double want, double rtol, double atol) {
    bool ok = isnan(want) ? isnan(got) : isinf(want) ? got == want : fabs(got - want) <= rtol * fabs(want) + atol;
    if (!ok) {
        fprintf(stderr, "  %s [%lld]: got %.9g, wanted %.9g\n", what, (long long)i, got, want);
        test_failures++;
    }
}

/* The exact value v rounded to dt (float32 underflows and overflows). */
static double rounded(em_dtype dt, double v) { return dt == EM_F32 ? (double)(float)v : v; }

static const em_op unary_ops[] = {
#define X(NAME, name, doc) EM_OP_##NAME,
    EM_UNARY_OPS(X)
#undef X
};
static const em_op binary_ops[] = {
#define X(NAME, name, doc) EM_OP_##NAME,
    EM_BINARY_OPS(X)
#undef X
};
#define NUNARY (int)(sizeof unary_ops / sizeof unary_ops[0])
#define NBINARY (int)(sizeof binary_ops / sizeof binary_ops[0])

/* ---- unary references ----------------------------------------------------- */
static double round_half_even(double x) {
    double r = floor(x), d = x - r;
    if (d > 0.5 || (d == 0.5 && fmod(r, 2) != 0)) r += 1;
    return r;
}

static double ref_unary(em_op op, double x, double al) {
    switch (op) {
    case EM_OP_NEG: return -x;
    case EM_OP_POSITIVE: return x;
    case EM_OP_ABS: return fabs(x);
    case EM_OP_SIGN: return x > 0 ? 1 : x < 0 ? -1 : x;
    case EM_OP_EXP: return exp(x);
    case EM_OP_EXPM1: return expm1(x);
    case EM_OP_EXP2: return pow(2, x);
    case EM_OP_LOG: return log(x);
    case EM_OP_LOG1P: return log1p(x);
    case EM_OP_LOG2: return log2(x);
    case EM_OP_LOG10: return log10(x);
    case EM_OP_SQRT: return sqrt(x);
    case EM_OP_RSQRT: return 1 / sqrt(x);
    case EM_OP_SQUARE: return x * x;
    case EM_OP_RECIPROCAL: return 1 / x;
    case EM_OP_SIN: return sin(x);
    case EM_OP_COS: return cos(x);
    case EM_OP_TAN: return tan(x);
    case EM_OP_ASIN: return asin(x);
    case EM_OP_ACOS: return acos(x);
    case EM_OP_ATAN: return atan(x);
    case EM_OP_SINH: return sinh(x);
    case EM_OP_COSH: return cosh(x);
    case EM_OP_TANH: return tanh(x);
    case EM_OP_ASINH: return asinh(x);
    case EM_OP_ACOSH: return acosh(x);
    case EM_OP_ATANH: return atanh(x);
    case EM_OP_SIGMOID: return 1 / (1 + exp(-x));
    case EM_OP_RELU: return x < 0 ? 0 : x;
    case EM_OP_LEAKY_RELU: return x > 0 ? x : (isnan(al) ? 0.01 : al) * x;
    case EM_OP_ELU: return x > 0 ? x : (isnan(al) ? 1 : al) * (exp(x) - 1);
    case EM_OP_GELU: return x * 0.5 * erfc(-x / sqrt(2.0));
    case EM_OP_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case EM_OP_SILU: return x / (1 + exp(-x));
    case EM_OP_SOFTPLUS: {
        double beta = isnan(al) ? 1 : al;
        return x * beta > 20 ? x : log1p(exp(beta * x)) / beta;
    }
    case EM_OP_ERF: return erf(x);
    case EM_OP_FLOOR: return floor(x);
    case EM_OP_CEIL: return ceil(x);
    case EM_OP_ROUND: return isfinite(x) ? round_half_even(x) : x;
    case EM_OP_TRUNC: return trunc(x);
    case EM_OP_ISNAN: return isnan(x);
    case EM_OP_ISINF: return isinf(x) != 0;
    case EM_OP_ISFINITE: return isfinite(x);
    case EM_OP_SIGNBIT: return signbit(x) != 0;
    case EM_OP_LOGICAL_NOT: return x == 0;
    case EM_OP_BITWISE_INVERT: return (double)~(int64_t)x;
    default: return NAN;
    }
}

static bool unary_to_bool(em_op op) { return op >= EM_OP_ISNAN && op <= EM_OP_LOGICAL_NOT; }
/* Ops that keep integer dtypes (the rest compute integers in float32). */
static bool unary_keeps_int(em_op op) {
    return op <= EM_OP_SIGN || op == EM_OP_SQUARE || op == EM_OP_RELU ||
           (op >= EM_OP_FLOOR && op <= EM_OP_TRUNC) || op == EM_OP_BITWISE_INVERT;
}

/* f32: ~1e-6 relative; gelu's 1 + erf(x) cancels for negative x, so it
 * gets a few ulp of |x| on top. */
static void tol_for(em_op op, em_dtype dt, double x, double *rtol, double *atol) {
    double eps = dt == EM_F64 ? DBL_EPSILON : FLT_EPSILON;
    *rtol = dt == EM_F64 ? 1e-13 : 1e-6;
    *atol = (op == EM_OP_GELU || op == EM_OP_GELU_TANH) && isfinite(x) ? 4 * eps * fabs(x) : 0;
}

TEST(ew_unary_float_all_ops) {
    static const double xs[] = {-25, -2.5, -1.5, -1, -0.75, -0.5, -0.0, 0.0, 0.3, 0.5, 0.9,
                                1,   1.5,  2.5,  3.7, 25,    INFINITY, -INFINITY, NAN};
    const int64_t n = sizeof xs / sizeof xs[0];
    const em_dtype dts[] = {EM_F32, EM_F64};
    for (int d = 0; d < 2; d++) {
        em_tensor *x = vector_of(dts[d], n, xs);
        for (int k = 0; k < NUNARY; k++) {
            em_op op = unary_ops[k];
            em_tensor *y = NULL;
            if (op == EM_OP_BITWISE_INVERT) {
                CHECK_STATUS(em_unary(op, x, NAN, &y), EM_ERR_DTYPE);
                continue;
            }
            CHECK_OK(em_unary(op, x, NAN, &y));
            if (!y) continue;
            CHECK(em_tensor_dtype(y) == (unary_to_bool(op) ? EM_BOOL : dts[d]));
            CHECK(em_tensor_ndim(y) == 1 && em_tensor_shape(y)[0] == n);
            char what[64];
            snprintf(what, sizeof what, "%s %s", em_op_name(op), em_dtype_name(dts[d]));
            for (int64_t i = 0; i < n; i++) {
                double xi = value_at(x, i), rtol, atol;
                tol_for(op, dts[d], xi, &rtol, &atol);
                check_close(what, i, value_at(y, i), rounded(dts[d], ref_unary(op, xi, NAN)), rtol, atol);
            }
            em_tensor_free(y);
        }
        em_tensor_free(x);
    }
}

TEST(ew_unary_integer_inputs) {
    static const int64_t vb[] = {0, 1}, vu8[] = {0, 1, 2, 7, 200}, vi8[] = {-128, -3, 0, 5, 127},
                         vi32[] = {-3, -1, 0, 1, 2, 7}, vi64[] = {-40000, -3, 0, 9, 3000000000LL};
    const struct {
        em_dtype dt;
        const int64_t *v;
        int64_t n;
    } cases[] = {{EM_BOOL, vb, 2}, {EM_U8, vu8, 5}, {EM_I8, vi8, 5}, {EM_I32, vi32, 6}, {EM_I64, vi64, 5}};
    for (int c = 0; c < 5; c++) {
        em_dtype dt = cases[c].dt;
        em_tensor *x = int_vector_of(dt, cases[c].n, cases[c].v);
        for (int k = 0; k < NUNARY; k++) {
            em_op op = unary_ops[k];
            em_tensor *y = NULL;
            char what[64];
            snprintf(what, sizeof what, "%s %s", em_op_name(op), em_dtype_name(dt));
            if (op == EM_OP_NEG && dt == EM_BOOL) {
                CHECK_STATUS(em_unary(op, x, NAN, &y), EM_ERR_DTYPE);
                continue;
            }
            CHECK_OK(em_unary(op, x, NAN, &y));
            if (!y) continue;
            em_dtype want_dt = unary_to_bool(op) ? EM_BOOL : unary_keeps_int(op) ? dt : EM_F32;
            CHECK(em_tensor_dtype(y) == want_dt);
            for (int64_t i = 0; i < cases[c].n && em_tensor_dtype(y) == want_dt; i++) {
                int64_t xi = cases[c].v[i];
                if (want_dt == EM_F32) {
                    double xf = (float)xi, rtol, atol;
                    tol_for(op, EM_F32, xf, &rtol, &atol);
                    check_close(what, i, value_at(y, i), rounded(EM_F32, ref_unary(op, xf, NAN)), rtol, atol);
                } else if (op == EM_OP_BITWISE_INVERT && dt == EM_BOOL) {
                    CHECK(int_at(y, i) == !xi);
                } else {
                    /* keep-dtype ops wrap; computed exactly in int64 here */
                    int64_t want = op == EM_OP_NEG ? (int64_t)(0 - (uint64_t)xi)
                                 : op == EM_OP_ABS ? (xi < 0 ? (int64_t)(0 - (uint64_t)xi) : xi)
                                 : op == EM_OP_SQUARE ? (int64_t)((uint64_t)xi * (uint64_t)xi)
                                 : op == EM_OP_BITWISE_INVERT ? ~xi
                                 : (int64_t)ref_unary(op, (double)xi, NAN);
                    if (int_at(y, i) != wrap(want_dt, want)) {
                        fprintf(stderr, "  %s [%lld]: got %lld, wanted %lld\n", what, (long long)i,
                                (long long)int_at(y, i), (long long)wrap(want_dt, want));
                        test_failures++;
                    }
                }
            }
            em_tensor_free(y);
        }
        em_tensor_free(x);
    }
}

TEST(ew_unary_rounding_and_wrapping) {
    static const double xs[] = {0.5, 1.5, 2.5, -0.5, -2.5, 3.5, -3.7, 2.4999};
    static const double want[] = {0, 2, 2, -0.0, -2, 4, -4, 2};
    em_tensor *x = vector_of(EM_F32, 8, xs), *y = NULL;
    CHECK_OK(em_unary(EM_OP_ROUND, x, NAN, &y));
    for (int i = 0; i < 8; i++) CHECK(value_at(y, i) == want[i]);
    CHECK(signbit(value_at(y, 3)));
    em_tensor_free(y);
    em_tensor_free(x);
    /* abs/neg of the most negative value wrap as in NumPy */
    static const int64_t vi[] = {INT32_MIN, INT32_MAX, -5};
    x = int_vector_of(EM_I32, 3, vi);
    CHECK_OK(em_unary(EM_OP_NEG, x, NAN, &y));
    CHECK(int_at(y, 0) == INT32_MIN && int_at(y, 1) == -INT32_MAX && int_at(y, 2) == 5);
    em_tensor_free(y);
    CHECK_OK(em_unary(EM_OP_ABS, x, NAN, &y));
    CHECK(int_at(y, 0) == INT32_MIN && int_at(y, 2) == 5);
    em_tensor_free(y);
    CHECK_OK(em_unary(EM_OP_SQUARE, x, NAN, &y));
    CHECK(int_at(y, 0) == 0 && int_at(y, 1) == 1 && int_at(y, 2) == 25);
    em_tensor_free(y);
    em_tensor_free(x);
    static const int64_t v64[] = {INT64_MIN, 0};
    x = int_vector_of(EM_I64, 2, v64);
    CHECK_OK(em_unary(EM_OP_NEG, x, NAN, &y));
    CHECK(int_at(y, 0) == INT64_MIN && int_at(y, 1) == 0);
    em_tensor_free(y);
    CHECK_OK(em_unary(EM_OP_SIGNBIT, x, NAN, &y));
    CHECK(int_at(y, 0) == 1 && int_at(y, 1) == 0);
    em_tensor_free(y);
    em_tensor_free(x);
}

TEST(ew_unary_alpha) {
    static const double xs[] = {-2, -0.5, 0, 3, 10, 30};
    const em_dtype dts[] = {EM_F32, EM_F64};
    const em_op ops[] = {EM_OP_LEAKY_RELU, EM_OP_ELU, EM_OP_SOFTPLUS};
    const double alphas[] = {0.2, 2.5, -1.5, 3};
    for (int d = 0; d < 2; d++) {
        em_tensor *x = vector_of(dts[d], 6, xs);
        for (int k = 0; k < 3; k++) {
            for (int a = 0; a < 4; a++) {
                em_tensor *y = NULL;
                CHECK_OK(em_unary(ops[k], x, alphas[a], &y));
                for (int i = 0; y && i < 6; i++)
                    check_close(em_op_name(ops[k]), i, value_at(y, i), ref_unary(ops[k], xs[i], alphas[a]),
                                dts[d] == EM_F64 ? 1e-13 : 1e-6, 0);
                em_tensor_free(y);
            }
        }
        em_tensor_free(x);
    }
    /* softplus with beta = 3: 3 * 10 > 20 returns x itself */
    em_tensor *x = vector_of(EM_F64, 6, xs), *y = NULL;
    CHECK_OK(em_unary(EM_OP_SOFTPLUS, x, 3, &y));
    CHECK(value_at(y, 4) == 10 && value_at(y, 5) == 30);
    CHECK_NEAR(value_at(y, 3), log1p(exp(9.0)) / 3, 1e-15);
    em_tensor_free(y);
    /* leaky_relu default slope 0.01, elu default alpha 1 */
    CHECK_OK(em_unary(EM_OP_LEAKY_RELU, x, NAN, &y));
    CHECK_NEAR(value_at(y, 0), -0.02, 1e-15);
    em_tensor_free(y);
    CHECK_OK(em_unary(EM_OP_ELU, x, NAN, &y));
    CHECK_NEAR(value_at(y, 0), expm1(-2.0), 1e-15);
    em_tensor_free(y);
    y = NULL;
    CHECK_STATUS(em_unary(EM_OP_LEAKY_RELU, x, INFINITY, &y), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_unary(EM_OP_ELU, x, -INFINITY, &y), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_unary(EM_OP_SOFTPLUS, x, 0, &y), EM_ERR_INVALID_ARG);
    CHECK(y == NULL);
    em_tensor_free(x);
}

/* ---- binary references ------------------------------------------------------ */
static double ref_binary_float(em_op op, double a, double b) {
    switch (op) {
    case EM_OP_ADD: return a + b;
    case EM_OP_SUB: return a - b;
    case EM_OP_MUL: return a * b;
    case EM_OP_DIV: return a / b;
    case EM_OP_FLOOR_DIVIDE: return floor(a / b);
    case EM_OP_REMAINDER: return a - b * floor(a / b);
    case EM_OP_POW: return pow(a, b);
    case EM_OP_MAXIMUM: return isnan(a) || isnan(b) ? NAN : fmax(a, b);
    case EM_OP_MINIMUM: return isnan(a) || isnan(b) ? NAN : fmin(a, b);
    case EM_OP_ATAN2: return atan2(a, b);
    case EM_OP_HYPOT: return hypot(a, b);
    case EM_OP_LOGADDEXP: {
        double m = fmax(a, b);
        return isinf(m) ? m : m + log(exp(a - m) + exp(b - m));
    }
    case EM_OP_COPYSIGN: return copysign(a, b);
    case EM_OP_EQ: return a == b;
    case EM_OP_NE: return a != b;
    case EM_OP_LT: return a < b;
    case EM_OP_LE: return a <= b;
    case EM_OP_GT: return a > b;
    case EM_OP_GE: return a >= b;
    case EM_OP_LOGICAL_AND: return a != 0 && b != 0;
    case EM_OP_LOGICAL_OR: return a != 0 || b != 0;
    case EM_OP_LOGICAL_XOR: return (a != 0) != (b != 0);
    default: return NAN;
    }
}

static bool binary_to_bool(em_op op) { return op >= EM_OP_EQ && op <= EM_OP_LOGICAL_XOR; }
static bool binary_float_only(em_op op) { return op == EM_OP_DIV || (op >= EM_OP_ATAN2 && op <= EM_OP_COPYSIGN); }
static bool binary_int_only(em_op op) { return op >= EM_OP_BITWISE_AND; }

/* Builds the grid of all (a, b) pairs as two flat tensors. */
static void pair_grid(em_dtype dt, const double *va, int na, const double *vb, int nb, em_tensor **a, em_tensor **b) {
    double *pa = malloc(sizeof(double) * (size_t)(na * nb)), *pb = malloc(sizeof(double) * (size_t)(na * nb));
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++) {
            pa[i * nb + j] = va[i];
            pb[i * nb + j] = vb[j];
        }
    *a = vector_of(dt, na * nb, pa);
    *b = vector_of(dt, na * nb, pb);
    free(pa);
    free(pb);
}

TEST(ew_binary_float_all_ops) {
    static const double va[] = {-3.5, -2, -0.5, 0, 0.5, 1, 2, 3, 7.25}, vb[] = {-3.5, -2, -0.5, 0.5, 1, 2, 3, 7.25};
    const em_dtype dts[] = {EM_F32, EM_F64};
    for (int d = 0; d < 2; d++) {
        em_tensor *a, *b;
        pair_grid(dts[d], va, 9, vb, 8, &a, &b);
        int64_t n = em_tensor_numel(a);
        for (int k = 0; k < NBINARY; k++) {
            em_op op = binary_ops[k];
            em_tensor *y = NULL;
            if (binary_int_only(op)) {
                CHECK_STATUS(em_binary(op, a, b, &y), EM_ERR_DTYPE);
                continue;
            }
            CHECK_OK(em_binary(op, a, b, &y));
            if (!y) continue;
            CHECK(em_tensor_dtype(y) == (binary_to_bool(op) ? EM_BOOL : dts[d]));
            char what[64];
            snprintf(what, sizeof what, "%s %s", em_op_name(op), em_dtype_name(dts[d]));
            for (int64_t i = 0; i < n; i++)
                check_close(what, i, value_at(y, i), ref_binary_float(op, value_at(a, i), value_at(b, i)),
                            dts[d] == EM_F64 ? 1e-13 : 1e-6, 0);
            em_tensor_free(y);
        }
        em_tensor_free(a);
        em_tensor_free(b);
    }
}

/* Python semantics on integers, wrapped to dt; values stay below 2^53 so the
 * double floor is exact. */
static int64_t ref_binary_int(em_op op, em_dtype dt, int64_t a, int64_t b) {
    int bits = dt == EM_U8 || dt == EM_I8 ? 8 : dt == EM_I32 ? 32 : 64;
    double fa = (double)a, fb = (double)b;
    switch (op) {
    case EM_OP_ADD: return wrap(dt, (int64_t)((uint64_t)a + (uint64_t)b));
    case EM_OP_SUB: return wrap(dt, (int64_t)((uint64_t)a - (uint64_t)b));
    case EM_OP_MUL: return wrap(dt, (int64_t)((uint64_t)a * (uint64_t)b));
    case EM_OP_FLOOR_DIVIDE: return b == 0 ? 0 : wrap(dt, (int64_t)floor(fa / fb));
    case EM_OP_REMAINDER: return b == 0 ? 0 : (int64_t)(fa - fb * floor(fa / fb));
    case EM_OP_POW: {
        if (b < 0) return a == 1 ? 1 : a == -1 ? (b % 2 ? -1 : 1) : 0;
        uint64_t r = 1, x = (uint64_t)a; /* in 64 bits, wrapped at the end */
        for (uint64_t e = (uint64_t)b; e; e >>= 1, x *= x)
            if (e & 1) r *= x;
        return wrap(dt, (int64_t)r);
    }
    case EM_OP_MAXIMUM: return a > b ? a : b;
    case EM_OP_MINIMUM: return a < b ? a : b;
    case EM_OP_EQ: return a == b;
    case EM_OP_NE: return a != b;
    case EM_OP_LT: return a < b;
    case EM_OP_LE: return a <= b;
    case EM_OP_GT: return a > b;
    case EM_OP_GE: return a >= b;
    case EM_OP_LOGICAL_AND: return a && b;
    case EM_OP_LOGICAL_OR: return a || b;
    case EM_OP_LOGICAL_XOR: return !a != !b;
    case EM_OP_BITWISE_AND: return a & b;
    case EM_OP_BITWISE_OR: return a | b;
    case EM_OP_BITWISE_XOR: return a ^ b;
    case EM_OP_BITWISE_LEFT_SHIFT: return b < 0 || b >= bits ? 0 : wrap(dt, (int64_t)((uint64_t)a << b));
    case EM_OP_BITWISE_RIGHT_SHIFT: return b < 0 || b >= bits ? (a < 0 ? -1 : 0) : (int64_t)floor(fa / ldexp(1, (int)b));
    default: return INT64_MIN;
    }
}

TEST(ew_binary_integer_all_ops) {
    static const int64_t vu8[] = {0, 1, 2, 3, 7, 9, 200, 255}, vi8[] = {-128, -7, -2, -1, 0, 1, 2, 3, 7, 9, 127},
                         vi32[] = {INT32_MIN, -7, -2, -1, 0, 1, 2, 3, 7, 31, 32, 40, INT32_MAX},
                         vi64[] = {-(1LL << 40), -7, -2, -1, 0, 1, 2, 3, 7, 63, 64, 1LL << 40};
    const struct {
        em_dtype dt;
        const int64_t *v;
        int n;
    } cases[] = {{EM_U8, vu8, 8}, {EM_I8, vi8, 11}, {EM_I32, vi32, 13}, {EM_I64, vi64, 12}};
    for (int c = 0; c < 4; c++) {
        em_dtype dt = cases[c].dt;
        int nv = cases[c].n, n = nv * nv;
        int64_t *pa = malloc(sizeof(int64_t) * (size_t)n), *pb = malloc(sizeof(int64_t) * (size_t)n);
        for (int i = 0; i < n; i++) {
            pa[i] = cases[c].v[i / nv];
            pb[i] = cases[c].v[i % nv];
        }
        em_tensor *a = int_vector_of(dt, n, pa), *b = int_vector_of(dt, n, pb);
        for (int k = 0; k < NBINARY; k++) {
            em_op op = binary_ops[k];
            em_tensor *y = NULL;
            char what[64];
            snprintf(what, sizeof what, "%s %s", em_op_name(op), em_dtype_name(dt));
            CHECK_OK(em_binary(op, a, b, &y));
            if (!y) continue;
            em_dtype want_dt = binary_to_bool(op) ? EM_BOOL : binary_float_only(op) ? EM_F32 : dt;
            CHECK(em_tensor_dtype(y) == want_dt);
            for (int i = 0; i < n && em_tensor_dtype(y) == want_dt; i++) {
                if (want_dt == EM_F32) {
                    check_close(what, i, value_at(y, i), ref_binary_float(op, (float)pa[i], (float)pb[i]), 1e-6, 0);
                } else if (int_at(y, i) != ref_binary_int(op, dt, pa[i], pb[i])) {
                    fprintf(stderr, "  %s(%lld, %lld): got %lld, wanted %lld\n", what, (long long)pa[i],
                            (long long)pb[i], (long long)int_at(y, i), (long long)ref_binary_int(op, dt, pa[i], pb[i]));
                    test_failures++;
                }
            }
            em_tensor_free(y);
        }
        em_tensor_free(a);
        em_tensor_free(b);
        free(pa);
        free(pb);
    }
}

/* One binary op on two 1-D int64 tensors of dtype dt; returns y[i]. */
static int64_t bin_i(em_op op, em_dtype dt, int64_t a, int64_t b) {
    em_tensor *ta = int_vector_of(dt, 1, &a), *tb = int_vector_of(dt, 1, &b), *y = NULL;
    CHECK_OK(em_binary(op, ta, tb, &y));
    int64_t r = y ? int_at(y, 0) : INT64_MIN + 1;
    em_tensor_free(ta);
    em_tensor_free(tb);
    em_tensor_free(y);
    return r;
}

TEST(ew_binary_integer_edges) {
    /* hand-worked, Python/NumPy values */
    CHECK(bin_i(EM_OP_FLOOR_DIVIDE, EM_I32, -7, 2) == -4);
    CHECK(bin_i(EM_OP_FLOOR_DIVIDE, EM_I32, 7, -2) == -4);
    CHECK(bin_i(EM_OP_FLOOR_DIVIDE, EM_I32, -7, -2) == 3);
    CHECK(bin_i(EM_OP_REMAINDER, EM_I32, -7, 2) == 1);
    CHECK(bin_i(EM_OP_REMAINDER, EM_I32, 7, -2) == -1);
    CHECK(bin_i(EM_OP_REMAINDER, EM_I32, -7, -2) == -1);
    CHECK(bin_i(EM_OP_FLOOR_DIVIDE, EM_I32, 5, 0) == 0);
    CHECK(bin_i(EM_OP_REMAINDER, EM_I64, 5, 0) == 0);
    CHECK(bin_i(EM_OP_FLOOR_DIVIDE, EM_I32, INT32_MIN, -1) == INT32_MIN);
    CHECK(bin_i(EM_OP_REMAINDER, EM_I32, INT32_MIN, -1) == 0);
    CHECK(bin_i(EM_OP_FLOOR_DIVIDE, EM_I64, INT64_MIN, -1) == INT64_MIN);
    CHECK(bin_i(EM_OP_REMAINDER, EM_I64, INT64_MIN, -1) == 0);
    CHECK(bin_i(EM_OP_FLOOR_DIVIDE, EM_I8, -128, -1) == -128);
    CHECK(bin_i(EM_OP_FLOOR_DIVIDE, EM_I64, INT64_MIN, 2) == INT64_MIN / 2);
    CHECK(bin_i(EM_OP_ADD, EM_I64, INT64_MAX, 1) == INT64_MIN);
    CHECK(bin_i(EM_OP_MUL, EM_I64, INT64_MIN, -1) == INT64_MIN);
    CHECK(bin_i(EM_OP_SUB, EM_I32, INT32_MIN, 1) == INT32_MAX);
    CHECK(bin_i(EM_OP_POW, EM_I32, 2, 10) == 1024);
    CHECK(bin_i(EM_OP_POW, EM_I64, 3, 39) == 4052555153018976267LL);
    CHECK(bin_i(EM_OP_POW, EM_I64, 2, 64) == 0);
    CHECK(bin_i(EM_OP_POW, EM_I64, -2, 63) == INT64_MIN);
    /* 3 has order 2^62 mod 2^64, so 3^(2^63 - 1) is the inverse of 3 */
    CHECK(bin_i(EM_OP_POW, EM_I64, 3, INT64_MAX) == (int64_t)0xAAAAAAAAAAAAAAABULL);
    CHECK(bin_i(EM_OP_POW, EM_I32, 0, 0) == 1);
    CHECK(bin_i(EM_OP_POW, EM_I32, 3, -1) == 0);
    CHECK(bin_i(EM_OP_POW, EM_I32, 1, -5) == 1);
    CHECK(bin_i(EM_OP_POW, EM_I32, -1, -3) == -1);
    CHECK(bin_i(EM_OP_POW, EM_I32, -1, -4) == 1);
    CHECK(bin_i(EM_OP_POW, EM_U8, 2, 8) == 0);
    CHECK(bin_i(EM_OP_POW, EM_U8, 3, 5) == 243);
    CHECK(bin_i(EM_OP_BITWISE_LEFT_SHIFT, EM_I32, 1, 31) == INT32_MIN);
    CHECK(bin_i(EM_OP_BITWISE_LEFT_SHIFT, EM_I32, 1, 32) == 0);
    CHECK(bin_i(EM_OP_BITWISE_LEFT_SHIFT, EM_I32, 1, -1) == 0);
    CHECK(bin_i(EM_OP_BITWISE_LEFT_SHIFT, EM_I64, 3, 64) == 0);
    CHECK(bin_i(EM_OP_BITWISE_LEFT_SHIFT, EM_U8, 255, 1) == 254);
    CHECK(bin_i(EM_OP_BITWISE_LEFT_SHIFT, EM_I8, 64, 1) == -128);
    CHECK(bin_i(EM_OP_BITWISE_RIGHT_SHIFT, EM_I32, -8, 1) == -4);
    CHECK(bin_i(EM_OP_BITWISE_RIGHT_SHIFT, EM_I32, -8, 40) == -1);
    CHECK(bin_i(EM_OP_BITWISE_RIGHT_SHIFT, EM_I32, 8, 40) == 0);
    CHECK(bin_i(EM_OP_BITWISE_RIGHT_SHIFT, EM_I64, -8, -1) == -1);
    CHECK(bin_i(EM_OP_BITWISE_RIGHT_SHIFT, EM_I64, INT64_MIN, 63) == -1);
    CHECK(bin_i(EM_OP_BITWISE_RIGHT_SHIFT, EM_U8, 200, 7) == 1);
    CHECK(bin_i(EM_OP_BITWISE_RIGHT_SHIFT, EM_U8, 200, 8) == 0);
    CHECK(bin_i(EM_OP_BITWISE_RIGHT_SHIFT, EM_I8, -128, 200 - 256) == -1);
}

/* One binary op on two float64 scalars (0-d). */
static double bin_f(em_op op, double a, double b) {
    em_tensor *ta = tensor_of(EM_F64, 0, NULL, &a), *tb = tensor_of(EM_F64, 0, NULL, &b), *y = NULL;
    double r = -12345;
    CHECK_OK(em_binary(op, ta, tb, &y));
    if (y) CHECK_OK(em_tensor_item(y, &r));
    em_tensor_free(ta);
    em_tensor_free(tb);
    em_tensor_free(y);
    return r;
}

static bool same(double a, double b) { return isnan(a) ? isnan(b) : a == b && signbit(a) == signbit(b); }

TEST(ew_binary_float_edges) {
    CHECK(same(bin_f(EM_OP_FLOOR_DIVIDE, 7.5, 2), 3));
    CHECK(same(bin_f(EM_OP_FLOOR_DIVIDE, -7.5, 2), -4));
    CHECK(same(bin_f(EM_OP_REMAINDER, -7.5, 2), 0.5));
    CHECK(same(bin_f(EM_OP_REMAINDER, 7.5, -2), -0.5));
    CHECK(same(bin_f(EM_OP_REMAINDER, -4, 2), 0.0));
    CHECK(same(bin_f(EM_OP_REMAINDER, 4, -2), -0.0));
    CHECK(same(bin_f(EM_OP_FLOOR_DIVIDE, -0.0, 2), -0.0));
    CHECK(same(bin_f(EM_OP_FLOOR_DIVIDE, 1, 0), INFINITY));
    CHECK(same(bin_f(EM_OP_FLOOR_DIVIDE, -1, 0), -INFINITY));
    CHECK(same(bin_f(EM_OP_FLOOR_DIVIDE, 0, 0), NAN));
    CHECK(same(bin_f(EM_OP_REMAINDER, 1, 0), NAN));
    CHECK(same(bin_f(EM_OP_REMAINDER, 5, INFINITY), 5));
    CHECK(same(bin_f(EM_OP_REMAINDER, -5, INFINITY), INFINITY));
    CHECK(same(bin_f(EM_OP_FLOOR_DIVIDE, -5, INFINITY), -1));
    CHECK(same(bin_f(EM_OP_REMAINDER, 0.3, 0.1), fmod(0.3, 0.1))); /* exact, fmod-based */
    CHECK(same(bin_f(EM_OP_DIV, 1, 0), INFINITY));
    CHECK(same(bin_f(EM_OP_MAXIMUM, NAN, 1), NAN));
    CHECK(same(bin_f(EM_OP_MAXIMUM, 1, NAN), NAN));
    CHECK(same(bin_f(EM_OP_MINIMUM, NAN, 1), NAN));
    CHECK(same(bin_f(EM_OP_MINIMUM, 1, NAN), NAN));
    CHECK(same(bin_f(EM_OP_MAXIMUM, -INFINITY, 2), 2));
    CHECK(same(bin_f(EM_OP_LOGADDEXP, -INFINITY, -INFINITY), -INFINITY));
    CHECK(same(bin_f(EM_OP_LOGADDEXP, INFINITY, INFINITY), INFINITY));
    CHECK(same(bin_f(EM_OP_LOGADDEXP, 1000, 1000), 1000 + log(2.0)));
    CHECK(same(bin_f(EM_OP_LOGADDEXP, NAN, 1), NAN));
    CHECK_NEAR(bin_f(EM_OP_LOGADDEXP, 1000, 0), 1000, 1e-15);
    CHECK(same(bin_f(EM_OP_COPYSIGN, 3, -0.0), -3));
    CHECK(same(bin_f(EM_OP_POW, 0, -1), INFINITY));
    CHECK(same(bin_f(EM_OP_EQ, NAN, NAN), 0));
    CHECK(same(bin_f(EM_OP_NE, NAN, NAN), 1));
    CHECK(same(bin_f(EM_OP_LOGICAL_AND, NAN, 2), 1)); /* NaN is true */
    CHECK(same(bin_f(EM_OP_LOGICAL_XOR, 0.0, -0.0), 0));
}

TEST(ew_binary_bool_rules) {
    static const int64_t va[] = {0, 0, 1, 1}, vb[] = {0, 1, 0, 1};
    em_tensor *a = int_vector_of(EM_BOOL, 4, va), *b = int_vector_of(EM_BOOL, 4, vb), *y = NULL;
    const struct {
        em_op op;
        em_dtype dt;
        int64_t want[4];
    } cases[] = {
        {EM_OP_ADD, EM_BOOL, {0, 1, 1, 1}},          {EM_OP_MUL, EM_BOOL, {0, 0, 0, 1}},
        {EM_OP_MAXIMUM, EM_BOOL, {0, 1, 1, 1}},      {EM_OP_MINIMUM, EM_BOOL, {0, 0, 0, 1}},
        {EM_OP_BITWISE_XOR, EM_BOOL, {0, 1, 1, 0}},  {EM_OP_BITWISE_AND, EM_BOOL, {0, 0, 0, 1}},
        {EM_OP_BITWISE_OR, EM_BOOL, {0, 1, 1, 1}},   {EM_OP_LT, EM_BOOL, {0, 1, 0, 0}},
        {EM_OP_FLOOR_DIVIDE, EM_I8, {0, 0, 0, 1}},   {EM_OP_REMAINDER, EM_I8, {0, 0, 0, 0}},
        {EM_OP_POW, EM_I8, {1, 0, 1, 1}},            {EM_OP_LOGICAL_XOR, EM_BOOL, {0, 1, 1, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_OK(em_binary(cases[i].op, a, b, &y));
        if (!y) continue;
        CHECK(em_tensor_dtype(y) == cases[i].dt);
        for (int j = 0; j < 4; j++) CHECK(int_at(y, j) == cases[i].want[j]);
        em_tensor_free(y);
        y = NULL;
    }
    CHECK_OK(em_binary(EM_OP_DIV, a, b, &y));
    CHECK(em_tensor_dtype(y) == EM_F32 && value_at(y, 1) == 0 && isnan(value_at(y, 0)) && isinf(value_at(y, 2)) &&
          value_at(y, 3) == 1);
    em_tensor_free(y);
    y = NULL;
    CHECK_STATUS(em_binary(EM_OP_SUB, a, b, &y), EM_ERR_DTYPE);
    CHECK(error_has("sub") && error_has("bool"));
    CHECK_STATUS(em_binary(EM_OP_BITWISE_LEFT_SHIFT, a, b, &y), EM_ERR_DTYPE);
    CHECK_STATUS(em_binary(EM_OP_BITWISE_RIGHT_SHIFT, a, b, &y), EM_ERR_DTYPE);
    CHECK_STATUS(em_unary(EM_OP_NEG, a, NAN, &y), EM_ERR_DTYPE);
    CHECK(y == NULL);
    /* bool with an integer promotes: True - 3 is -2 in int8 */
    int64_t three = 3;
    em_tensor *t3 = int_vector_of(EM_I8, 1, &three);
    CHECK_OK(em_binary(EM_OP_SUB, a, t3, &y));
    CHECK(em_tensor_dtype(y) == EM_I8 && int_at(y, 2) == -2);
    em_tensor_free(y);
    em_tensor_free(t3);
    em_tensor_free(a);
    em_tensor_free(b);
}

TEST(ew_binary_promotion) {
    const struct {
        em_dtype a, b, want;
    } cases[] = {{EM_I8, EM_U8, EM_I32}, {EM_U8, EM_I32, EM_I32}, {EM_I32, EM_I64, EM_I64},
                 {EM_I32, EM_F32, EM_F32}, {EM_I64, EM_F32, EM_F32}, {EM_F32, EM_F64, EM_F64},
                 {EM_BOOL, EM_U8, EM_U8}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const double va[] = {1, cases[i].a == EM_BOOL ? 1 : 7}, vb[] = {100, 3};
        em_tensor *a = vector_of(cases[i].a, 2, va), *b = vector_of(cases[i].b, 2, vb), *y = NULL;
        CHECK_OK(em_binary(EM_OP_ADD, a, b, &y));
        CHECK(em_tensor_dtype(y) == cases[i].want);
        CHECK(value_at(y, 0) == 101 && value_at(y, 1) == va[1] + 3);
        em_tensor_free(y);
        em_tensor_free(a);
        em_tensor_free(b);
    }
    /* comparisons happen in the promoted type: int 2 vs float 2.5 */
    double two = 2, twohalf = 2.5;
    em_tensor *a = tensor_of(EM_I32, 0, NULL, &two), *b = tensor_of(EM_F32, 0, NULL, &twohalf), *y = NULL;
    CHECK_OK(em_binary(EM_OP_LT, a, b, &y));
    CHECK(em_tensor_dtype(y) == EM_BOOL && em_tensor_ndim(y) == 0 && int_at(y, 0) == 1);
    em_tensor_free(y);
    CHECK_OK(em_binary(EM_OP_ATAN2, a, a, &y));
    CHECK(em_tensor_dtype(y) == EM_F32);
    CHECK_NEAR(value_at(y, 0), atan2(2.0, 2.0), 1e-7);
    em_tensor_free(y);
    em_tensor_free(a);
    em_tensor_free(b);
}

TEST(ew_binary_broadcast) {
    static const double va[] = {1, 2, 3}, vb[] = {10, 20, 30, 40};
    int64_t s31[] = {3, 1}, s14[] = {1, 4};
    em_tensor *a = tensor_of(EM_F32, 2, s31, va), *b = tensor_of(EM_F32, 2, s14, vb), *y = NULL;
    CHECK_OK(em_binary(EM_OP_SUB, a, b, &y));
    CHECK(em_tensor_ndim(y) == 2 && em_tensor_shape(y)[0] == 3 && em_tensor_shape(y)[1] == 4);
    for (int i = 0; i < 12; i++) CHECK(value_at(y, i) == va[i / 4] - vb[i % 4]);
    em_tensor_free(y);
    /* 0-d with (3, 1), and two 0-d give 0-d */
    double s = 0.5;
    em_tensor *z = tensor_of(EM_F64, 0, NULL, &s);
    CHECK_OK(em_binary(EM_OP_MUL, z, a, &y));
    CHECK(em_tensor_ndim(y) == 2 && em_tensor_dtype(y) == EM_F64 && value_at(y, 2) == 1.5);
    em_tensor_free(y);
    CHECK_OK(em_binary(EM_OP_ADD, z, z, &y));
    CHECK(em_tensor_ndim(y) == 0 && value_at(y, 0) == 1);
    em_tensor_free(y);
    /* empty: (0, 3) with (3,) and (0,) with 0-d */
    int64_t s03[] = {0, 3}, s3[] = {3};
    em_tensor *e = NULL, *row = tensor_of(EM_F32, 1, s3, va);
    CHECK_OK(em_tensor_empty(EM_F32, 2, s03, &e));
    CHECK_OK(em_binary(EM_OP_ADD, e, row, &y));
    CHECK(em_tensor_ndim(y) == 2 && em_tensor_shape(y)[0] == 0 && em_tensor_shape(y)[1] == 3);
    em_tensor_free(y);
    CHECK_OK(em_unary(EM_OP_EXP, e, NAN, &y));
    CHECK(em_tensor_numel(y) == 0);
    em_tensor_free(y);
    /* a long (3, 40) x (40,) case exercises the vector loops and tails */
    int64_t s340[] = {3, 40}, n40 = 40;
    double big[120];
    for (int i = 0; i < 120; i++) big[i] = i * 0.25 - 7;
    em_tensor *m = tensor_of(EM_F64, 2, s340, big), *v = vector_of(EM_F64, 40, big + 80);
    CHECK_OK(em_binary(EM_OP_MAXIMUM, m, v, &y));
    for (int i = 0; i < 120; i++) CHECK(value_at(y, i) == fmax(big[i], big[80 + i % 40]));
    em_tensor_free(y);
    CHECK_OK(em_binary(EM_OP_DIV, v, z, &y)); /* tensor / scalar */
    for (int i = 0; i < n40; i++) CHECK(value_at(y, i) == big[80 + i] / 0.5);
    em_tensor_free(y);
    CHECK_OK(em_binary(EM_OP_DIV, z, v, &y)); /* scalar / tensor */
    for (int i = 0; i < n40; i++) CHECK(value_at(y, i) == 0.5 / big[80 + i]);
    em_tensor_free(y);
    /* failure names the op, both shapes and dtypes */
    int64_t s23[] = {2, 3}, s4[] = {4};
    em_tensor *p = NULL, *q = NULL;
    CHECK_OK(em_tensor_zeros(EM_F32, 2, s23, &p));
    CHECK_OK(em_tensor_zeros(EM_F32, 1, s4, &q));
    y = NULL;
    CHECK_STATUS(em_binary(EM_OP_ADD, p, q, &y), EM_ERR_SHAPE);
    CHECK(strcmp(em_last_error(), "add: shapes (2, 3) float32 and (4,) float32 cannot be broadcast") == 0);
    CHECK(y == NULL);
    em_tensor_free(p);
    em_tensor_free(q);
    em_tensor_free(m);
    em_tensor_free(v);
    em_tensor_free(e);
    em_tensor_free(row);
    em_tensor_free(z);
    em_tensor_free(a);
    em_tensor_free(b);
}

/* 4x5 float64 matrix with values 0..19 (times step, plus base). */
static em_tensor *matrix45(em_dtype dt, double base) {
    double v[20];
    for (int i = 0; i < 20; i++) v[i] = base + i;
    int64_t s[] = {4, 5};
    return tensor_of(dt, 2, s, v);
}

TEST(ew_noncontiguous_inputs) {
    em_tensor *m = matrix45(EM_F64, 1), *k = matrix45(EM_I32, -10), *t = NULL, *f = NULL, *sl = NULL, *y = NULL;
    int ax1 = 1;
    CHECK_OK(em_tensor_transpose(m, 0, 1, &t));    /* (5, 4), strides (1, 5) */
    CHECK_OK(em_tensor_flip(k, &ax1, 1, &f));       /* (4, 5), stride -1 on axis 1 */
    CHECK_OK(em_tensor_slice(m, 1, 4, 0, -2, &sl)); /* (4, 2): columns 4, 2 */
    /* unary on a transposed and a flipped view */
    CHECK_OK(em_unary(EM_OP_SQRT, t, NAN, &y));
    for (int i = 0; i < 20; i++) CHECK_NEAR(value_at(y, i), sqrt(1 + (i % 4) * 5 + i / 4), 1e-15);
    em_tensor_free(y);
    CHECK_OK(em_unary(EM_OP_ABS, f, NAN, &y));
    CHECK(em_tensor_dtype(y) == EM_I32);
    for (int i = 0; i < 20; i++) CHECK(value_at(y, i) == fabs((double)(-10 + (i / 5) * 5 + (4 - i % 5))));
    em_tensor_free(y);
    /* binary: flipped int with the matrix (promotes to f64), sliced with a column */
    CHECK_OK(em_binary(EM_OP_SUB, m, f, &y));
    CHECK(em_tensor_dtype(y) == EM_F64);
    for (int i = 0; i < 20; i++) CHECK(value_at(y, i) == (1 + i) - (-10 + (i / 5) * 5 + (4 - i % 5)));
    em_tensor_free(y);
    em_tensor *col = NULL;
    int64_t c41[] = {4, 1};
    CHECK_OK(em_tensor_slice(t, 0, 0, 4, 1, &col)); /* (4, 4) rows of t */
    em_tensor_free(col);
    double cv[] = {100, 200, 300, 400};
    col = tensor_of(EM_F64, 2, c41, cv);
    CHECK_OK(em_binary(EM_OP_ADD, sl, col, &y));
    for (int i = 0; i < 8; i++) CHECK(value_at(y, i) == 1 + (i / 2) * 5 + (4 - 2 * (i % 2)) + cv[i / 2]);
    em_tensor_free(y);
    /* transposed with flipped-transposed: both strided */
    em_tensor *ft = NULL;
    CHECK_OK(em_tensor_transpose(f, 0, 1, &ft));
    CHECK_OK(em_binary(EM_OP_MUL, t, ft, &y));
    for (int i = 0; i < 20; i++) CHECK(value_at(y, i) == value_at(t, i) * value_at(ft, i));
    em_tensor_free(y);
    em_tensor_free(ft);
    em_tensor_free(col);
    em_tensor_free(sl);
    em_tensor_free(f);
    em_tensor_free(t);
    em_tensor_free(k);
    em_tensor_free(m);
}

TEST(ew_into_alias_and_overlap) {
    /* a += b with out == a */
    em_tensor *a = matrix45(EM_F32, 0), *b = matrix45(EM_F32, 100);
    CHECK_OK(em_binary_into(EM_OP_ADD, a, b, a));
    for (int i = 0; i < 20; i++) CHECK(value_at(a, i) == i + 100 + i);
    /* out aliases b through a different handle on the same memory */
    em_tensor *bv = NULL;
    CHECK_OK(em_tensor_view(b, 2, em_tensor_shape(b), &bv));
    CHECK_OK(em_binary_into(EM_OP_SUB, a, b, bv));
    for (int i = 0; i < 20; i++) CHECK(value_at(b, i) == i);
    em_tensor_free(bv);
    /* partial overlap: x[1:] += x[:-1] must equal the out-of-place result */
    double v[10];
    for (int i = 0; i < 10; i++) v[i] = i + 1;
    em_tensor *x = vector_of(EM_I64, 10, v), *hi = NULL, *lo = NULL;
    CHECK_OK(em_tensor_slice(x, 0, 1, 10, 1, &hi));
    CHECK_OK(em_tensor_slice(x, 0, 0, 9, 1, &lo));
    CHECK_OK(em_binary_into(EM_OP_ADD, hi, lo, hi));
    CHECK(value_at(x, 0) == 1);
    for (int i = 1; i < 10; i++) CHECK(value_at(x, i) == (i + 1) + i);
    em_tensor_free(hi);
    em_tensor_free(lo);
    /* out is the reverse of the input: y = flip(x) * 2 written into x */
    em_tensor *fx = NULL;
    CHECK_OK(em_tensor_flip(x, NULL, 0, &fx));
    double before[10];
    for (int i = 0; i < 10; i++) before[i] = value_at(x, i);
    CHECK_OK(em_binary_into(EM_OP_MUL, fx, fx, x));
    for (int i = 0; i < 10; i++) CHECK(value_at(x, i) == before[9 - i] * before[9 - i]);
    /* unary into itself, and into its own reverse */
    CHECK_OK(em_unary_into(EM_OP_NEG, x, NAN, x));
    for (int i = 0; i < 10; i++) CHECK(value_at(x, i) == -before[9 - i] * before[9 - i]);
    CHECK_OK(em_unary_into(EM_OP_NEG, x, NAN, fx));
    for (int i = 0; i < 10; i++) CHECK(value_at(x, i) == before[i] * before[i]);
    /* broadcast input that lives inside out: row 0 of m broadcast over m */
    em_tensor *m = matrix45(EM_F64, 0), *r0 = NULL;
    CHECK_OK(em_tensor_slice(m, 0, 0, 1, 1, &r0)); /* (1, 5) view of row 0 */
    CHECK_OK(em_binary_into(EM_OP_ADD, m, r0, m));
    for (int i = 0; i < 20; i++) CHECK(value_at(m, i) == i + i % 5);
    /* a strided out (every other column) */
    em_tensor *mc = NULL, *src = NULL;
    CHECK_OK(em_tensor_slice(m, 1, 0, 5, 2, &mc)); /* (4, 3) */
    int64_t s43[] = {4, 3};
    CHECK_OK(em_tensor_ones(EM_F64, 2, s43, &src));
    CHECK_OK(em_binary_into(EM_OP_MUL, src, src, mc));
    for (int i = 0; i < 20; i++) CHECK(value_at(m, i) == (i % 5 % 2 == 0 ? 1 : i + i % 5));
    em_tensor_free(src);
    em_tensor_free(mc);
    em_tensor_free(r0);
    em_tensor_free(m);
    em_tensor_free(fx);
    em_tensor_free(x);
    em_tensor_free(a);
    em_tensor_free(b);
}

TEST(ew_into_casting) {
    em_tensor *fa = matrix45(EM_F32, 0.5), *ia = matrix45(EM_I32, -3), *o64 = matrix45(EM_F64, 0),
              *oi = matrix45(EM_I32, 0), *oi8 = matrix45(EM_I8, 0), *ob = matrix45(EM_BOOL, 0);
    /* float32 result into float64, int32 into float64, bool into int32 */
    CHECK_OK(em_binary_into(EM_OP_MUL, fa, fa, o64));
    for (int i = 0; i < 20; i++) CHECK(value_at(o64, i) == (0.5 + i) * (0.5 + i));
    CHECK_OK(em_binary_into(EM_OP_ADD, ia, ia, o64));
    for (int i = 0; i < 20; i++) CHECK(value_at(o64, i) == 2 * (i - 3));
    CHECK_OK(em_binary_into(EM_OP_LT, ia, fa, oi));
    for (int i = 0; i < 20; i++) CHECK(value_at(oi, i) == 1);
    CHECK_OK(em_binary_into(EM_OP_ADD, ia, ia, oi8)); /* int to int is the same kind */
    CHECK(value_at(oi8, 19) == 32);
    CHECK_OK(em_unary_into(EM_OP_ISNAN, fa, NAN, oi8));
    CHECK(value_at(oi8, 0) == 0);
    CHECK_OK(em_unary_into(EM_OP_SQUARE, ia, NAN, o64));
    CHECK(value_at(o64, 0) == 9);
    /* float into int and anything into bool are errors, out untouched */
    CHECK_STATUS(em_binary_into(EM_OP_ADD, fa, ia, oi), EM_ERR_DTYPE);
    CHECK(strcmp(em_last_error(), "add: result dtype float32 cannot be cast to output dtype int32") == 0);
    CHECK_STATUS(em_binary_into(EM_OP_DIV, ia, ia, oi), EM_ERR_DTYPE);
    CHECK_STATUS(em_binary_into(EM_OP_ADD, ia, ia, ob), EM_ERR_DTYPE);
    CHECK_STATUS(em_unary_into(EM_OP_EXP, ia, NAN, oi), EM_ERR_DTYPE);
    CHECK(value_at(oi, 0) == 1);
    /* wrong output shape */
    int64_t s54[] = {5, 4};
    em_tensor *w = NULL;
    CHECK_OK(em_tensor_zeros(EM_F32, 2, s54, &w));
    CHECK_STATUS(em_binary_into(EM_OP_ADD, fa, fa, w), EM_ERR_SHAPE);
    CHECK(error_has("add") && error_has("(5, 4)") && error_has("(4, 5)"));
    CHECK_STATUS(em_unary_into(EM_OP_EXP, fa, NAN, w), EM_ERR_SHAPE);
    em_tensor *s0 = NULL;
    CHECK_OK(em_tensor_zeros(EM_F32, 0, NULL, &s0));
    CHECK_STATUS(em_binary_into(EM_OP_ADD, s0, s0, w), EM_ERR_SHAPE); /* out may not be larger */
    em_tensor_free(s0);
    em_tensor_free(w);
    em_tensor_free(fa);
    em_tensor_free(ia);
    em_tensor_free(o64);
    em_tensor_free(oi);
    em_tensor_free(oi8);
    em_tensor_free(ob);
}

TEST(ew_where) {
    static const double vc[] = {1, 0, NAN}, va[] = {1, 2, 3, 4};
    int64_t s31[] = {3, 1};
    double bval = -1;
    em_tensor *c = tensor_of(EM_F32, 2, s31, vc), *a = vector_of(EM_I32, 4, va);
    em_tensor *b = tensor_of(EM_F64, 0, NULL, &bval), *y = NULL;
    CHECK_OK(em_where(c, a, b, &y));
    CHECK(em_tensor_dtype(y) == EM_F64 && em_tensor_ndim(y) == 2 && em_tensor_shape(y)[0] == 3);
    for (int i = 0; i < 12; i++) CHECK(value_at(y, i) == (i / 4 == 1 ? -1 : va[i % 4])); /* NaN is true */
    em_tensor_free(y);
    /* bool cond, same-dtype operands, strided (flipped) a, every element size */
    double vcond[] = {1, 0, 0, 1}, v1[] = {1, 0, 1, 0}, v2[] = {0, 1, 1, 1};
    em_tensor *cb = vector_of(EM_BOOL, 4, vcond);
    for (int d = 0; d < 7; d++) {
        em_tensor *x1 = vector_of(all_dtypes[d], 4, v1), *x2 = vector_of(all_dtypes[d], 4, v2), *fl = NULL;
        CHECK_OK(em_tensor_flip(x1, NULL, 0, &fl));
        CHECK_OK(em_where(cb, fl, x2, &y));
        CHECK(em_tensor_dtype(y) == all_dtypes[d]);
        for (int i = 0; i < 4; i++) CHECK(value_at(y, i) == (vcond[i] ? v1[3 - i] : v2[i]));
        em_tensor_free(y);
        CHECK_OK(em_where(cb, x1, x2, &y)); /* contiguous path */
        for (int i = 0; i < 4; i++) CHECK(value_at(y, i) == (vcond[i] ? v1[i] : v2[i]));
        em_tensor_free(y);
        em_tensor_free(fl);
        em_tensor_free(x1);
        em_tensor_free(x2);
    }
    /* errors */
    em_tensor *a3 = vector_of(EM_I32, 3, va);
    y = NULL;
    CHECK_STATUS(em_where(cb, a3, b, &y), EM_ERR_SHAPE);
    CHECK(error_has("where") && error_has("(4,) bool") && error_has("(3,) int32"));
    CHECK_STATUS(em_where(NULL, a, b, &y), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_where(c, a, NULL, &y), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_where(c, a, b, NULL), EM_ERR_INVALID_ARG);
    CHECK(y == NULL);
    em_tensor_free(a3);
    em_tensor_free(cb);
    em_tensor_free(c);
    em_tensor_free(a);
    em_tensor_free(b);
}

TEST(ew_clip) {
    static const double vx[] = {-3, -1, 0, NAN, 2, 5}, vlo[] = {-2, 0, -1, 0, 3, 1};
    double hv = 4, lo0 = -1.5;
    em_tensor *x = vector_of(EM_F32, 6, vx), *lo = vector_of(EM_F64, 6, vlo), *hi = tensor_of(EM_F64, 0, NULL, &hv);
    em_tensor *y = NULL;
    CHECK_OK(em_clip(x, lo, hi, &y));
    static const double want[] = {-2, 0, 0, NAN, 3, 4};
    CHECK(em_tensor_dtype(y) == EM_F32);
    for (int i = 0; i < 6; i++) CHECK(same(value_at(y, i), want[i]));
    em_tensor_free(y);
    CHECK_OK(em_clip(x, NULL, hi, &y));
    for (int i = 0; i < 6; i++) CHECK(same(value_at(y, i), isnan(vx[i]) ? NAN : fmin(vx[i], 4)));
    em_tensor_free(y);
    em_tensor *l0 = tensor_of(EM_F64, 0, NULL, &lo0);
    CHECK_OK(em_clip(x, l0, NULL, &y));
    for (int i = 0; i < 6; i++) CHECK(same(value_at(y, i), isnan(vx[i]) ? NAN : fmax(vx[i], -1.5)));
    em_tensor_free(y);
    CHECK_OK(em_clip(x, NULL, NULL, &y));
    for (int i = 0; i < 6; i++) CHECK(same(value_at(y, i), vx[i]));
    CHECK(!em_tensor_shares_storage(x, y));
    em_tensor_free(y);
    /* lo > hi gives hi; a flipped x */
    em_tensor *fx = NULL, *big = NULL;
    double bigv = 10;
    big = tensor_of(EM_F64, 0, NULL, &bigv);
    CHECK_OK(em_tensor_flip(x, NULL, 0, &fx));
    CHECK_OK(em_clip(fx, big, hi, &y));
    for (int i = 0; i < 6; i++) CHECK(isnan(vx[5 - i]) ? isnan(value_at(y, i)) : value_at(y, i) == 4);
    em_tensor_free(y);
    /* integers keep their dtype; float bounds are cast (truncated) */
    em_tensor *xi = vector_of(EM_I32, 6, vlo);
    CHECK_OK(em_clip(xi, l0, hi, &y));
    CHECK(em_tensor_dtype(y) == EM_I32);
    for (int i = 0; i < 6; i++) CHECK(value_at(y, i) == fmin(fmax(vlo[i], -1), 4));
    em_tensor_free(y);
    /* bounds may not enlarge x's shape */
    int64_t s26[] = {2, 6};
    em_tensor *wide = NULL;
    CHECK_OK(em_tensor_zeros(EM_F32, 2, s26, &wide));
    y = NULL;
    CHECK_STATUS(em_clip(x, wide, NULL, &y), EM_ERR_SHAPE);
    CHECK(error_has("clip") && error_has("(2, 6)"));
    CHECK_STATUS(em_clip(x, NULL, wide, &y), EM_ERR_SHAPE);
    CHECK_STATUS(em_clip(NULL, lo, hi, &y), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_clip(x, lo, hi, NULL), EM_ERR_INVALID_ARG);
    CHECK(y == NULL);
    em_tensor_free(wide);
    em_tensor_free(xi);
    em_tensor_free(fx);
    em_tensor_free(big);
    em_tensor_free(l0);
    em_tensor_free(x);
    em_tensor_free(lo);
    em_tensor_free(hi);
}

TEST(ew_errors) {
    double one = 1;
    em_tensor *x = tensor_of(EM_F32, 0, NULL, &one), *y = NULL;
    const int bad_unary[] = {-1, EM_OP_UNARY_END_, EM_OP_ADD, EM_OP_SUM, EM_OP_COUNT};
    for (int i = 0; i < 5; i++) {
        CHECK_STATUS(em_unary((em_op)bad_unary[i], x, NAN, &y), EM_ERR_INVALID_ARG);
        CHECK_STATUS(em_unary_into((em_op)bad_unary[i], x, NAN, x), EM_ERR_INVALID_ARG);
    }
    const int bad_binary[] = {-1, EM_OP_NEG, EM_OP_UNARY_END_, EM_OP_BINARY_END_, EM_OP_SUM, EM_OP_COUNT};
    for (int i = 0; i < 6; i++) {
        CHECK_STATUS(em_binary((em_op)bad_binary[i], x, x, &y), EM_ERR_INVALID_ARG);
        CHECK_STATUS(em_binary_into((em_op)bad_binary[i], x, x, x), EM_ERR_INVALID_ARG);
    }
    CHECK_STATUS(em_unary(EM_OP_EXP, NULL, NAN, &y), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_unary(EM_OP_EXP, x, NAN, NULL), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_unary_into(EM_OP_EXP, x, NAN, NULL), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_binary(EM_OP_ADD, NULL, x, &y), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_binary(EM_OP_ADD, x, NULL, &y), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_binary(EM_OP_ADD, x, x, NULL), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_binary_into(EM_OP_ADD, x, x, NULL), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_unary(EM_OP_BITWISE_INVERT, x, NAN, &y), EM_ERR_DTYPE);
    CHECK(error_has("bitwise_invert") && error_has("float32"));
    CHECK_STATUS(em_binary(EM_OP_BITWISE_AND, x, x, &y), EM_ERR_DTYPE);
    CHECK(error_has("bitwise_and") && error_has("float32"));
    CHECK(y == NULL);
    em_tensor_free(x);
}

TEST(ew_out_of_memory) {
    em_tensor *a = matrix45(EM_I32, 0), *b = matrix45(EM_F64, 1), *fb = NULL, *x = matrix45(EM_F32, 0);
    CHECK_OK(em_tensor_flip(b, NULL, 0, &fb));
    /* each call must fail cleanly at every allocation, then succeed */
    for (int call = 0; call < 5; call++) {
        bool done = false;
        for (int budget = 0; budget < 20 && !done; budget++) {
            int64_t before = em_allocated_bytes();
            em_tensor *y = NULL;
            em_status st;
            oom_install(budget, true); /* allocations from number `budget` on fail */
            switch (call) {
            case 0: st = em_binary(EM_OP_ADD, a, fb, &y); break;       /* casts a */
            case 1: st = em_binary_into(EM_OP_MUL, a, a, x); break;    /* temp for the cast into out */
            case 2: st = em_where(a, a, fb, &y); break;                /* casts cond and a */
            case 3: st = em_clip(b, a, a, &y); break;                  /* two passes, casts bounds */
            default: st = em_unary(EM_OP_EXP, a, NAN, &y); break;      /* int -> float32 */
            }
            oom_remove();
            if (st == EM_OK) {
                done = true;
                em_tensor_free(y);
            } else {
                CHECK(st == EM_ERR_NOMEM);
                CHECK(y == NULL);
                CHECK(em_allocated_bytes() == before);
            }
        }
        CHECK(done);
    }
    em_tensor_free(fb);
    em_tensor_free(a);
    em_tensor_free(b);
    em_tensor_free(x);
}
