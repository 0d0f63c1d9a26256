/* Elementwise inner loops, generated per (op, dtype) from EM_UNARY_OPS and
 * EM_BINARY_OPS.  Each op names a dtype class (UC_* / BC_* below) and an
 * element expression (UE_* / BE_*); the macros at the bottom stamp out one
 * loop per dtype of the class and one table row per op.  Semantics are
 * documented in docs/dtypes.md. */
#include "elementwise_kernels.h"

#include "vmath.h"

#include <tgmath.h> /* exp(x) on a float is expf: f32 ops compute in float */

/* Generic integer code compares values that may be unsigned with 0. */
#pragma GCC diagnostic ignored "-Wtype-limits"
/* gcc's -O2 "very cheap" vectoriser skips every loop here (the trip count is
 * unknown and out may alias an input, so it needs an epilogue and a runtime
 * alias check); the cheap model allows both. Other compilers ignore this. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=cheap")
#endif

/* ---- dtype lists: X(OP, CLASS, N, DT, T, U, K) --------------------------
 * N: loop-name suffix; T: C type; U: type for wrapping integer arithmetic
 * (signed overflow is undefined in C, unsigned wraps); K: kind, kb/ki/kf (I is a macro of complex.h). */
#define DT_B(X, OP, C) X(OP, C, b, EM_BOOL, bool, bool, kb)
#define DT_I(X, OP, C)                                                                \
    X(OP, C, u8, EM_U8, uint8_t, uint8_t, ki) X(OP, C, i8, EM_I8, int8_t, uint8_t, ki) \
    X(OP, C, i32, EM_I32, int32_t, uint32_t, ki) X(OP, C, i64, EM_I64, int64_t, uint64_t, ki)
#define DT_F(X, OP, C) X(OP, C, f32, EM_F32, float, float, kf) X(OP, C, f64, EM_F64, double, double, kf)

/* Picks the expression for the kind K (bool, integer, float). */
#define BY_KIND(K, b, i, f) BY_KIND_##K(b, i, f)
#define BY_KIND_kb(b, i, f) b
#define BY_KIND_ki(b, i, f) i
#define BY_KIND_kf(b, i, f) f

/* ---- dtype classes ------------------------------------------------------
 * ALL: every dtype; NUM: integers and floats; NUM8: same, two bools compute
 * in int8 (as NumPy); FLT: floats, integers/bool compute in float32; BITS:
 * bool and integers; INTS: integers; TEST: every dtype, bool output. */
#define DTS_ALL(X, OP) DT_B(X, OP, ALL) DT_I(X, OP, ALL) DT_F(X, OP, ALL)
#define DTS_NUM(X, OP) DT_I(X, OP, NUM) DT_F(X, OP, NUM)
#define DTS_NUM8(X, OP) DT_I(X, OP, NUM8) DT_F(X, OP, NUM8)
#define DTS_FLT(X, OP) DT_F(X, OP, FLT)
#define DTS_BITS(X, OP) DT_B(X, OP, BITS) DT_I(X, OP, BITS)
#define DTS_INTS(X, OP) DT_I(X, OP, INTS)
#define DTS_TEST(X, OP) DT_B(X, OP, TEST) DT_I(X, OP, TEST) DT_F(X, OP, TEST)
#define FALLBACK_ALL -1
#define FALLBACK_NUM -1
#define FALLBACK_NUM8 EM_I8
#define FALLBACK_FLT EM_F32
#define FALLBACK_BITS -1
#define FALLBACK_INTS -1
#define FALLBACK_TEST -1
#define OUT_ALL(T) T
#define OUT_NUM(T) T
#define OUT_NUM8(T) T
#define OUT_FLT(T) T
#define OUT_BITS(T) T
#define OUT_INTS(T) T
#define OUT_TEST(T) bool
#define TOBOOL(C) TOBOOL_##C
#define TOBOOL_ALL false
#define TOBOOL_NUM false
#define TOBOOL_NUM8 false
#define TOBOOL_FLT false
#define TOBOOL_BITS false
#define TOBOOL_INTS false
#define TOBOOL_TEST true

/* ---- scalar helpers ----------------------------------------------------- */
/* Integers: Python floor division and remainder; division by 0 gives 0 and
 * x // -1 wraps (never a trap); exact power by squaring, wrapping. */
#define INT_HELPERS(OP, C, N, DT, T, U, K)                                            \
    static inline T floordiv_##N(T a, T b) {                                          \
        if (b == 0) return 0;                                                         \
        if ((int64_t)b == -1) return (T)(0 - (U)a);                                   \
        T q = (T)(a / b), r = (T)(a % b);                                             \
        return (T)(r != 0 && (r < 0) != (b < 0) ? q - 1 : q);                         \
    }                                                                                 \
    static inline T mod_##N(T a, T b) {                                               \
        if (b == 0 || (int64_t)b == -1) return 0;                                     \
        T r = (T)(a % b);                                                             \
        return (T)(r != 0 && (r < 0) != (b < 0) ? r + b : r);                         \
    }                                                                                 \
    static inline T pow_##N(T a, T b) {                                               \
        if (b < 0) return (T)(a == 1 ? 1 : (int64_t)a == -1 ? ((b & 1) ? -1 : 1) : 0); \
        U r = 1, x = (U)a;                                                            \
        for (uint64_t e = (uint64_t)b; e; e >>= 1) {                                  \
            if (e & 1) r = (U)(r * x);                                                \
            x = (U)(x * x);                                                           \
        }                                                                             \
        return (T)r;                                                                  \
    }                                                                                 \
    /* shift counts outside [0, width) shift everything out */                       \
    static inline T shl_##N(T a, T b) {                                               \
        return (uint64_t)(int64_t)b >= 8 * sizeof(T) ? (T)0 : (T)((U)a << b);         \
    }                                                                                 \
    static inline T shr_##N(T a, T b) {                                               \
        int over = (uint64_t)(int64_t)b >= 8 * sizeof(T);                             \
        return (T)((a >> (over ? (T)(8 * sizeof(T) - 1) : b)) >> over);               \
    }

/* Floats: NumPy's npy_divmod (floor toward -inf, remainder with the sign of
 * the divisor, fmod-based so it is exact), stable sigmoid and logaddexp. */
#define FLT_HELPERS(OP, C, N, DT, T, U, K)                                            \
    static inline T divmod_##N(T a, T b, T *mod) {                                    \
        T m = fmod(a, b);                                                             \
        if (b == 0) {                                                                 \
            *mod = m;                                                                 \
            return a / b;                                                             \
        }                                                                             \
        T div = (a - m) / b;                                                          \
        if (m != 0) {                                                                 \
            if ((b < 0) != (m < 0)) {                                                 \
                m += b;                                                               \
                div -= 1;                                                             \
            }                                                                         \
        } else {                                                                      \
            m = copysign((T)0, b);                                                    \
        }                                                                             \
        *mod = m;                                                                     \
        if (div == 0) return copysign((T)0, a / b);                                   \
        T fl = floor(div);                                                            \
        return div - fl > (T)0.5 ? fl + 1 : fl;                                       \
    }                                                                                 \
    static inline T floordiv_##N(T a, T b) {                                          \
        T m;                                                                          \
        return divmod_##N(a, b, &m);                                                  \
    }                                                                                 \
    static inline T mod_##N(T a, T b) {                                               \
        T m;                                                                          \
        divmod_##N(a, b, &m);                                                         \
        return m;                                                                     \
    }                                                                                 \
    static inline T pow_##N(T a, T b) { return pow(a, b); }                           \
    static inline T sigmoid_##N(T x) {                                                \
        if (x >= 0) return (T)1 / ((T)1 + exp(-x));                                   \
        T e = exp(x);                                                                 \
        return e / ((T)1 + e);                                                        \
    }                                                                                 \
    static inline T logaddexp_##N(T a, T b) {                                         \
        if (a == b) return a + (T)0.693147180559945309417; /* also +-inf */           \
        T d = a - b;                                                                  \
        if (d > 0) return a + log1p(exp(-d));                                         \
        if (d <= 0) return b + log1p(exp(d));                                         \
        return d; /* NaN */                                                           \
    }

DT_I(INT_HELPERS, _, _)
DT_F(FLT_HELPERS, _, _)

/* ---- unary ops: class and element expression of x (alpha: double al) ---- */
#define UC_NEG NUM
#define UE_NEG(N, K, T, U, x, al) ((T) - (U)(x))
#define UC_POSITIVE ALL
#define UE_POSITIVE(N, K, T, U, x, al) (x)
#define UC_ABS ALL
#define UE_ABS(N, K, T, U, x, al) BY_KIND(K, (x), (T)((x) < 0 ? -(U)(x) : (U)(x)), fabs(x))
#define UC_SIGN ALL /* NaN and signed zeros pass through */
#define UE_SIGN(N, K, T, U, x, al) BY_KIND(K, (x), (T)(((x) > 0) - ((x) < 0)), ((x) > 0 ? (T)1 : (x) < 0 ? (T)-1 : (x)))
#define UC_EXP FLT
#define UE_EXP(N, K, T, U, x, al) exp(x)
#define UC_EXPM1 FLT
#define UE_EXPM1(N, K, T, U, x, al) expm1(x)
#define UC_EXP2 FLT
#define UE_EXP2(N, K, T, U, x, al) exp2(x)
#define UC_LOG FLT
#define UE_LOG(N, K, T, U, x, al) log(x)
#define UC_LOG1P FLT
#define UE_LOG1P(N, K, T, U, x, al) log1p(x)
#define UC_LOG2 FLT
#define UE_LOG2(N, K, T, U, x, al) log2(x)
#define UC_LOG10 FLT
#define UE_LOG10(N, K, T, U, x, al) log10(x)
#define UC_SQRT FLT
#define UE_SQRT(N, K, T, U, x, al) sqrt(x)
#define UC_RSQRT FLT
#define UE_RSQRT(N, K, T, U, x, al) ((T)1 / sqrt(x))
#define UC_SQUARE ALL
#define UE_SQUARE(N, K, T, U, x, al) BY_KIND(K, (x), (T)((U)(x) * (U)(x)), (x) * (x))
#define UC_RECIPROCAL FLT
#define UE_RECIPROCAL(N, K, T, U, x, al) ((T)1 / (x))
#define UC_SIN FLT
#define UE_SIN(N, K, T, U, x, al) sin(x)
#define UC_COS FLT
#define UE_COS(N, K, T, U, x, al) cos(x)
#define UC_TAN FLT
#define UE_TAN(N, K, T, U, x, al) tan(x)
#define UC_ASIN FLT
#define UE_ASIN(N, K, T, U, x, al) asin(x)
#define UC_ACOS FLT
#define UE_ACOS(N, K, T, U, x, al) acos(x)
#define UC_ATAN FLT
#define UE_ATAN(N, K, T, U, x, al) atan(x)
#define UC_SINH FLT
#define UE_SINH(N, K, T, U, x, al) sinh(x)
#define UC_COSH FLT
#define UE_COSH(N, K, T, U, x, al) cosh(x)
#define UC_TANH FLT
#define UE_TANH(N, K, T, U, x, al) tanh(x)
#define UC_ASINH FLT
#define UE_ASINH(N, K, T, U, x, al) asinh(x)
#define UC_ACOSH FLT
#define UE_ACOSH(N, K, T, U, x, al) acosh(x)
#define UC_ATANH FLT
#define UE_ATANH(N, K, T, U, x, al) atanh(x)
#define UC_SIGMOID FLT
#define UE_SIGMOID(N, K, T, U, x, al) sigmoid_##N(x)
#define UC_RELU ALL /* NaN passes through */
#define UE_RELU(N, K, T, U, x, al) BY_KIND(K, (x), ((x) < 0 ? (T)0 : (x)), ((x) < 0 ? (T)0 : (x)))
#define UC_LEAKY_RELU FLT
#define UE_LEAKY_RELU(N, K, T, U, x, al) ((x) > 0 ? (x) : (x) * (T)(al))
#define UC_ELU FLT
#define UE_ELU(N, K, T, U, x, al) ((x) > 0 ? (x) : (T)(al) * expm1(x))
#define UC_GELU FLT
#define UE_GELU(N, K, T, U, x, al) ((T)0.5 * (x) * ((T)1 + erf((x) * (T)0.70710678118654752440)))
#define UC_GELU_TANH FLT
#define UE_GELU_TANH(N, K, T, U, x, al) \
    ((T)0.5 * (x) * ((T)1 + tanh((T)0.79788456080286535588 * ((x) + (T)0.044715 * (x) * (x) * (x)))))
#define UC_SILU FLT
#define UE_SILU(N, K, T, U, x, al) ((x) * sigmoid_##N(x))
#define UC_SOFTPLUS FLT /* al = beta; like torch, linear above beta*x > 20 */
#define UE_SOFTPLUS(N, K, T, U, x, al) \
    ((x) * (T)(al) > 20 ? (x) : log1p(exp((x) * (T)(al))) / (T)(al))
#define UC_ERF FLT
#define UE_ERF(N, K, T, U, x, al) erf(x)
#define UC_FLOOR ALL /* integers and bool are already whole */
#define UE_FLOOR(N, K, T, U, x, al) BY_KIND(K, (x), (x), floor(x))
#define UC_CEIL ALL
#define UE_CEIL(N, K, T, U, x, al) BY_KIND(K, (x), (x), ceil(x))
#define UC_ROUND ALL /* rint: half to even in the default rounding mode */
#define UE_ROUND(N, K, T, U, x, al) BY_KIND(K, (x), (x), rint(x))
#define UC_TRUNC ALL
#define UE_TRUNC(N, K, T, U, x, al) BY_KIND(K, (x), (x), trunc(x))
#define UC_ISNAN TEST
#define UE_ISNAN(N, K, T, U, x, al) BY_KIND(K, false, false, isnan(x) != 0)
#define UC_ISINF TEST
#define UE_ISINF(N, K, T, U, x, al) BY_KIND(K, false, false, isinf(x) != 0)
#define UC_ISFINITE TEST
#define UE_ISFINITE(N, K, T, U, x, al) BY_KIND(K, true, true, isfinite(x) != 0)
#define UC_SIGNBIT TEST
#define UE_SIGNBIT(N, K, T, U, x, al) BY_KIND(K, false, (x) < 0, signbit(x) != 0)
#define UC_LOGICAL_NOT TEST
#define UE_LOGICAL_NOT(N, K, T, U, x, al) ((x) == 0)
#define UC_BITWISE_INVERT BITS
#define UE_BITWISE_INVERT(N, K, T, U, x, al) BY_KIND(K, !(x), (T) ~(U)(x), 0)

/* ---- binary ops: class and element expression of a, b ------------------- */
#define BC_ADD ALL /* bool: or */
#define BE_ADD(N, K, T, U, a, b) ((T)((U)(a) + (U)(b)))
#define BC_SUB NUM
#define BE_SUB(N, K, T, U, a, b) ((T)((U)(a) - (U)(b)))
#define BC_MUL ALL /* bool: and */
#define BE_MUL(N, K, T, U, a, b) BY_KIND(K, (a) & (b), (T)((U)(a) * (U)(b)), (a) * (b))
#define BC_DIV FLT
#define BE_DIV(N, K, T, U, a, b) ((a) / (b))
#define BC_FLOOR_DIVIDE NUM8
#define BE_FLOOR_DIVIDE(N, K, T, U, a, b) floordiv_##N(a, b)
#define BC_REMAINDER NUM8
#define BE_REMAINDER(N, K, T, U, a, b) mod_##N(a, b)
#define BC_POW NUM8
#define BE_POW(N, K, T, U, a, b) pow_##N(a, b)
#define BC_MAXIMUM ALL /* NaN propagates */
#define BE_MAXIMUM(N, K, T, U, a, b) BY_KIND(K, (a) | (b), ((a) > (b) ? (a) : (b)), ((a) >= (b) || (a) != (a) ? (a) : (b)))
#define BC_MINIMUM ALL
#define BE_MINIMUM(N, K, T, U, a, b) BY_KIND(K, (a) & (b), ((a) < (b) ? (a) : (b)), ((a) <= (b) || (a) != (a) ? (a) : (b)))
#define BC_ATAN2 FLT
#define BE_ATAN2(N, K, T, U, a, b) atan2(a, b)
#define BC_HYPOT FLT
#define BE_HYPOT(N, K, T, U, a, b) hypot(a, b)
#define BC_LOGADDEXP FLT
#define BE_LOGADDEXP(N, K, T, U, a, b) logaddexp_##N(a, b)
#define BC_COPYSIGN FLT
#define BE_COPYSIGN(N, K, T, U, a, b) copysign(a, b)
#define BC_EQ TEST
#define BE_EQ(N, K, T, U, a, b) ((a) == (b))
#define BC_NE TEST
#define BE_NE(N, K, T, U, a, b) ((a) != (b))
#define BC_LT TEST
#define BE_LT(N, K, T, U, a, b) ((a) < (b))
#define BC_LE TEST
#define BE_LE(N, K, T, U, a, b) ((a) <= (b))
#define BC_GT TEST
#define BE_GT(N, K, T, U, a, b) ((a) > (b))
#define BC_GE TEST
#define BE_GE(N, K, T, U, a, b) ((a) >= (b))
#define BC_LOGICAL_AND TEST /* NaN is true */
#define BE_LOGICAL_AND(N, K, T, U, a, b) (((a) != 0) & ((b) != 0))
#define BC_LOGICAL_OR TEST
#define BE_LOGICAL_OR(N, K, T, U, a, b) (((a) != 0) | ((b) != 0))
#define BC_LOGICAL_XOR TEST
#define BE_LOGICAL_XOR(N, K, T, U, a, b) (((a) != 0) ^ ((b) != 0))
#define BC_BITWISE_AND BITS
#define BE_BITWISE_AND(N, K, T, U, a, b) ((T)((a) & (b)))
#define BC_BITWISE_OR BITS
#define BE_BITWISE_OR(N, K, T, U, a, b) ((T)((a) | (b)))
#define BC_BITWISE_XOR BITS
#define BE_BITWISE_XOR(N, K, T, U, a, b) ((T)((a) ^ (b)))
#define BC_BITWISE_LEFT_SHIFT INTS
#define BE_BITWISE_LEFT_SHIFT(N, K, T, U, a, b) shl_##N(a, b)
#define BC_BITWISE_RIGHT_SHIFT INTS
#define BE_BITWISE_RIGHT_SHIFT(N, K, T, U, a, b) shr_##N(a, b)

/* ---- loops --------------------------------------------------------------
 * Contiguous operands (and, for binary ops, one broadcast scalar) get plain
 * indexed loops gcc -O2 can vectorise; anything else walks byte strides.
 * Float32 ops with a vector kernel (kernels/vmath.h: exp, log, tanh, ...)
 * hand contiguous data to it and strided data through a stack buffer. */
static void vmath_loop(em__vmath_fn f, int64_t n, char **p, const int64_t *s, float al) {
    if (s[0] == (int64_t)sizeof(float) && s[1] == (int64_t)sizeof(float)) {
        f((float *)p[0], (const float *)p[1], n, al);
        return;
    }
    float buf[256];
    for (int64_t i = 0; i < n; i += 256) {
        int64_t m = n - i < 256 ? n - i : 256;
        for (int64_t j = 0; j < m; j++) buf[j] = *(const float *)(p[1] + (i + j) * s[1]);
        f(buf, buf, m, al);
        for (int64_t j = 0; j < m; j++) *(float *)(p[0] + (i + j) * s[0]) = buf[j];
    }
}

#define UNARY_LOOP(OP, C, N, DT, T, U, K)                                             \
    static void un_##OP##_##N(int64_t n, char **p, const int64_t *s, void *ctx) {     \
        typedef OUT_##C(T) TO;                                                        \
        const double al = *(const double *)ctx;                                       \
        (void)al;                                                                     \
        em__vmath_fn vf_ = DT == EM_F32 && !TOBOOL(C) ? em__vmath_f32(EM_OP_##OP) : NULL; \
        if (vf_) {                                                                    \
            vmath_loop(vf_, n, p, s, (float)al);                                      \
            return;                                                                   \
        }                                                                             \
        if (s[0] == (int64_t)sizeof(TO) && s[1] == (int64_t)sizeof(T)) {              \
            TO *o = (TO *)p[0];                                                       \
            const T *x = (const T *)p[1];                                             \
            (void)x; /* predicates of integers may not read x */                      \
            for (int64_t i = 0; i < n; i++) o[i] = (TO)(UE_##OP(N, K, T, U, x[i], al)); \
        } else {                                                                      \
            for (int64_t i = 0; i < n; i++) {                                         \
                T v = *(const T *)(p[1] + i * s[1]);                                  \
                (void)v;                                                              \
                *(TO *)(p[0] + i * s[0]) = (TO)(UE_##OP(N, K, T, U, v, al));            \
            }                                                                         \
        }                                                                             \
    }

/* The arithmetic ops, which large tensors mostly run, are also built for
 * AVX2 and AVX-512 (x86-64-v4) and the best the CPU runs is chosen at load
 * time (ifunc; GCC >= 11 on x86-64 Linux): one operation per element, so
 * every variant gives the same bits.  -DEM_NO_SIMD_CLONES builds the
 * baseline alone. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) && defined(__linux__) && \
    !defined(EM_NO_SIMD_CLONES)
#define BIN_CLONES_1 __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define BIN_CLONES_1
#endif
#define BIN_CLONES_0
#define CLONED_ADD ~, 1
#define CLONED_SUB ~, 1
#define CLONED_MUL ~, 1
#define CLONED_DIV ~, 1
#define SECOND_(a, b, ...) b
#define SECOND(...) SECOND_(__VA_ARGS__)
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
/* BIN_CLONES_1 for the ops with a CLONED_ entry, else nothing */
#define BIN_CLONES(OP) CAT(BIN_CLONES_, SECOND(CLONED_##OP, 0, ~))

#define BINARY_LOOP(OP, C, N, DT, T, U, K)                                            \
    BIN_CLONES(OP) static void bin_##OP##_##N(int64_t n, char **p, const int64_t *s, void *ctx) {    \
        typedef OUT_##C(T) TO;                                                        \
        const int64_t so = (int64_t)sizeof(TO), st = (int64_t)sizeof(T);              \
        TO *o = (TO *)p[0];                                                           \
        const T *a = (const T *)p[1], *b = (const T *)p[2];                           \
        if (s[0] == so && s[1] == st && s[2] == st) {                                 \
            for (int64_t i = 0; i < n; i++) o[i] = (TO)(BE_##OP(N, K, T, U, a[i], b[i])); \
        } else if (s[0] == so && s[1] == st && s[2] == 0) {                           \
            const T y = *b;                                                           \
            for (int64_t i = 0; i < n; i++) o[i] = (TO)(BE_##OP(N, K, T, U, a[i], y));  \
        } else if (s[0] == so && s[1] == 0 && s[2] == st) {                           \
            const T x = *a;                                                           \
            for (int64_t i = 0; i < n; i++) o[i] = (TO)(BE_##OP(N, K, T, U, x, b[i]));  \
        } else {                                                                      \
            for (int64_t i = 0; i < n; i++) {                                         \
                T x = *(const T *)(p[1] + i * s[1]), y = *(const T *)(p[2] + i * s[2]); \
                *(TO *)(p[0] + i * s[0]) = (TO)(BE_##OP(N, K, T, U, x, y));             \
            }                                                                         \
        }                                                                             \
    }

/* ---- generation: one loop per (op, dtype of its class), one row per op -- */
#define CALL_CLASS(M, NAME, C) M(NAME, C) /* expands C (UC_x -> ALL) before pasting */
#define GEN_UNARY_(NAME, C) DTS_##C(UNARY_LOOP, NAME)
#define GEN_UNARY(NAME, name, doc) CALL_CLASS(GEN_UNARY_, NAME, UC_##NAME)
#define GEN_BINARY_(NAME, C) DTS_##C(BINARY_LOOP, NAME)
#define GEN_BINARY(NAME, name, doc) CALL_CLASS(GEN_BINARY_, NAME, BC_##NAME)
EM_UNARY_OPS(GEN_UNARY)
EM_BINARY_OPS(GEN_BINARY)

#define UCELL(OP, C, N, DT, T, U, K) [DT] = un_##OP##_##N,
#define BCELL(OP, C, N, DT, T, U, K) [DT] = bin_##OP##_##N,
#define UROW_(NAME, C) [EM_OP_##NAME] = {{DTS_##C(UCELL, NAME)}, FALLBACK_##C, TOBOOL(C)},
#define UROW(NAME, name, doc) CALL_CLASS(UROW_, NAME, UC_##NAME)
#define BROW_(NAME, C) [EM_OP_##NAME - EM_OP_UNARY_END_ - 1] = {{DTS_##C(BCELL, NAME)}, FALLBACK_##C, TOBOOL(C)},
#define BROW(NAME, name, doc) CALL_CLASS(BROW_, NAME, BC_##NAME)

static const em__ew_kernel unary_kernels[EM_OP_UNARY_END_] = {EM_UNARY_OPS(UROW)};
static const em__ew_kernel binary_kernels[EM_OP_BINARY_END_ - EM_OP_UNARY_END_ - 1] = {EM_BINARY_OPS(BROW)};

const em__ew_kernel *em__ew_kernel_of(em_op op) {
    if ((unsigned)op < EM_OP_UNARY_END_) return &unary_kernels[op];
    if (op > EM_OP_UNARY_END_ && op < EM_OP_BINARY_END_) return &binary_kernels[op - EM_OP_UNARY_END_ - 1];
    return NULL;
}
