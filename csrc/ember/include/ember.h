/*
 * ember.h — the public C API of libember.
 *
 * Conventions (see docs/c-api.md):
 *  - Every fallible function returns em_status; results come back through
 *    out-parameters.  On failure, em_last_error() holds a message naming the
 *    op, shapes and dtypes.  It is thread-local and overwritten by the next
 *    failing call on the same thread.  Out-parameters are untouched on error.
 *  - Caller input never aborts the process.
 *  - Ownership: a function that returns a new em_tensor* through `out` gives
 *    the caller one reference; release it with em_tensor_free().  Views share
 *    the storage of their base; the storage lives while any view lives.
 *    em_tensor_free(NULL) is a no-op.
 *  - Thread contract: a tensor is not synchronised.  Two threads may read the
 *    same tensor at once; a thread that writes must be alone.
 */
#ifndef EMBER_H
#define EMBER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define EM_API __declspec(dllexport)
#else
#define EM_API __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */
#define EM_VERSION_MAJOR 0
#define EM_VERSION_MINOR 1
#define EM_VERSION_PATCH 0
#define EM_VERSION_STRING "0.1.0"
/* The version of the library actually linked, "MAJOR.MINOR.PATCH". Static string. */
EM_API const char *em_version(void);

/* ------------------------------------------------------------------ */
/* Status codes (append-only)                                          */
/* ------------------------------------------------------------------ */
typedef enum em_status {
    EM_OK = 0,
    EM_ERR_INVALID_ARG = 1, /* a bad argument value (maps to ValueError) */
    EM_ERR_SHAPE = 2,       /* shapes do not agree (ValueError) */
    EM_ERR_DTYPE = 3,       /* dtype not accepted (TypeError) */
    EM_ERR_INDEX = 4,       /* index or axis out of range (IndexError) */
    EM_ERR_NOMEM = 5,       /* an allocation failed (MemoryError) */
    EM_ERR_IO = 6,          /* file could not be read or written */
    EM_ERR_PARSE = 7,       /* malformed input data */
    EM_ERR_UNSUPPORTED = 8, /* valid request ember does not implement */
    EM_ERR_INTERNAL = 9,    /* a bug in ember */
    EM_STATUS_COUNT_
} em_status;

/* Static name of a status code, "EM_ERR_SHAPE" etc. */
EM_API const char *em_status_str(em_status s);
/* Message of the last failing call on this thread ("" if none). Static per-thread buffer. */
EM_API const char *em_last_error(void);
/* Clears the last error message of this thread. */
EM_API void em_clear_error(void);

/* ------------------------------------------------------------------ */
/* Allocator hooks                                                     */
/* ------------------------------------------------------------------ */
/* Every allocation of libember goes through these hooks.  `alloc` must return
 * memory aligned to `align` (a power of two, at most 4096) or NULL. */
typedef struct em_allocator {
    void *(*alloc)(size_t size, size_t align, void *ctx);
    void (*free)(void *ptr, void *ctx);
    void *ctx;
} em_allocator;
/* Install hooks (NULL restores the default posix_memalign/free).  Not thread
 * safe: call before other threads use ember.  Memory must be freed by the
 * allocator that made it, so swap only while no ember object is alive.
 * Frees the cache of large blocks first (see below), which only the default
 * hooks use: custom hooks see every allocation. */
EM_API void em_set_allocator(const em_allocator *a);
EM_API em_allocator em_get_allocator(void);
/* Bytes currently handed out (live blocks; cached ones not counted; for leak tests). */
EM_API int64_t em_allocated_bytes(void);
/* Cache of freed large blocks (docs/kernels.md, "Memory"): with the default
 * hooks, blocks of 1 MiB and more are kept on free and reused by later
 * allocations of close size (never zeroed), up to a limit: EMBER_ALLOC_CACHE
 * bytes (0 disables), else min(1 GiB, RAM / 8).  Thread safe.  Compiled out
 * under AddressSanitizer (em_alloc_cache_supported() is then false, the
 * limit 0 and the other calls no-ops).  em_set_allocator releases it. */
EM_API bool em_alloc_cache_supported(void);
EM_API int64_t em_cached_bytes(void);           /* bytes held in the cache now */
EM_API int64_t em_release_cached_memory(void);  /* frees every cached block; returns the bytes freed */
EM_API int64_t em_alloc_cache_limit(void);      /* the limit now, in bytes (0: disabled) */
/* Sets the limit (bytes >= 0; 0 disables and frees the cache), freeing the
 * oldest blocks above it; bytes < 0 restores the default (EMBER_ALLOC_CACHE,
 * read again, else min(1 GiB, RAM / 8)). */
EM_API void em_set_alloc_cache_limit(int64_t bytes);

/* ------------------------------------------------------------------ */
/* Dtypes                                                              */
/* ------------------------------------------------------------------ */
typedef enum em_dtype {
    EM_BOOL = 0,
    EM_U8 = 1,
    EM_I8 = 2,
    EM_I32 = 3,
    EM_I64 = 4,
    EM_F32 = 5,
    EM_F64 = 6,
    EM_DTYPE_COUNT
} em_dtype;

#define EM_DEFAULT_FLOAT EM_F32
#define EM_DEFAULT_INT EM_I64

EM_API const char *em_dtype_name(em_dtype d);  /* "float32" etc.; NULL if invalid */
EM_API size_t em_dtype_size(em_dtype d);       /* bytes per element; 0 if invalid */
EM_API bool em_dtype_is_float(em_dtype d);
EM_API bool em_dtype_is_int(em_dtype d);       /* u8 i8 i32 i64 (not bool) */
/* Result dtype of a binary op between a and b, documented in docs/dtypes.md:
 * bool < integers < floats; i8 with u8 gives i32 (ember has no i16);
 * any int with i64 or u8 with i32 widens to the larger signed type. */
EM_API em_dtype em_promote_types(em_dtype a, em_dtype b);
/* Whether casting from -> to is "safe" (no loss by the promotion lattice). */
EM_API bool em_can_cast(em_dtype from, em_dtype to);

/* ------------------------------------------------------------------ */
/* Tensors                                                             */
/* ------------------------------------------------------------------ */
#define EM_MAX_DIMS 8

/* Opaque handle: a view (dtype, shape, strides, offset) over refcounted,
 * 64-byte aligned storage. */
typedef struct em_tensor em_tensor;

/* New uninitialised contiguous tensor.  Free with em_tensor_free(). */
EM_API em_status em_tensor_empty(em_dtype dt, int ndim, const int64_t *shape, em_tensor **out);
EM_API em_status em_tensor_zeros(em_dtype dt, int ndim, const int64_t *shape, em_tensor **out);
EM_API em_status em_tensor_ones(em_dtype dt, int ndim, const int64_t *shape, em_tensor **out);
/* out = value (converted to dt as a C cast would, bool: value != 0). */
EM_API em_status em_tensor_full(em_dtype dt, int ndim, const int64_t *shape, double value, em_tensor **out);
/* Same shape as x; dtype dt, or x's dtype if dt < 0. */
EM_API em_status em_tensor_empty_like(const em_tensor *x, int dt, em_tensor **out);
EM_API em_status em_tensor_full_like(const em_tensor *x, int dt, double value, em_tensor **out);
/* out[i] = start + i*step for i in [0, ceil((stop-start)/step)). */
EM_API em_status em_tensor_arange(double start, double stop, double step, em_dtype dt, em_tensor **out);
/* num points from start to stop (stop included iff endpoint). */
EM_API em_status em_tensor_linspace(double start, double stop, int64_t num, bool endpoint, em_dtype dt, em_tensor **out);
/* n x m matrix with ones on diagonal k. */
EM_API em_status em_tensor_eye(int64_t n, int64_t m, int64_t k, em_dtype dt, em_tensor **out);

/* Wrap foreign memory without copying.  `strides` are in elements (NULL =
 * C-contiguous) and must keep every element inside the buffer the caller
 * owns.  `release(owner)` is called once when the last view is freed (may be
 * NULL).  On failure `release` is NOT called: the caller still owns owner. */
EM_API em_status em_tensor_from_data(em_dtype dt, int ndim, const int64_t *shape, const int64_t *strides,
                                     void *data, void (*release)(void *owner), void *owner, em_tensor **out);

/* Adds a reference; each reference is dropped with em_tensor_free(). */
EM_API em_tensor *em_tensor_retain(em_tensor *t);
EM_API void em_tensor_free(em_tensor *t);

EM_API em_dtype em_tensor_dtype(const em_tensor *t);
EM_API int em_tensor_ndim(const em_tensor *t);
EM_API const int64_t *em_tensor_shape(const em_tensor *t);    /* ndim entries, owned by t */
EM_API const int64_t *em_tensor_strides(const em_tensor *t);  /* in elements */
EM_API int64_t em_tensor_numel(const em_tensor *t);
/* Address of element [0,...,0]; owned by the storage. */
EM_API void *em_tensor_data(const em_tensor *t);
EM_API bool em_tensor_is_contiguous(const em_tensor *t);
/* Whether a and b share storage. */
EM_API bool em_tensor_shares_storage(const em_tensor *a, const em_tensor *b);

/* Read/write one element as double (for tests and scalars); `index` has ndim entries. */
EM_API em_status em_tensor_get(const em_tensor *t, const int64_t *index, double *value);
EM_API em_status em_tensor_set(em_tensor *t, const int64_t *index, double value);
/* Read the only element of a one-element tensor. */
EM_API em_status em_tensor_item(const em_tensor *t, double *value);

/* ---- views: share storage, never copy ---------------------------------- */
/* New shape with the same number of elements; -1 (once) is inferred.
 * em_tensor_view fails (EM_ERR_SHAPE) if strides forbid a view;
 * em_tensor_reshape then copies. */
EM_API em_status em_tensor_view(const em_tensor *x, int ndim, const int64_t *shape, em_tensor **out);
EM_API em_status em_tensor_reshape(const em_tensor *x, int ndim, const int64_t *shape, em_tensor **out);
/* out.shape[i] = x.shape[perm[i]]; perm entries may be negative. */
EM_API em_status em_tensor_permute(const em_tensor *x, const int *perm, em_tensor **out);
EM_API em_status em_tensor_transpose(const em_tensor *x, int dim0, int dim1, em_tensor **out);
/* Python slice x[start:stop:step] on one axis (step != 0), with Python's
 * rules for the raw values: negatives count from the end and out-of-range
 * values are clamped.  For "from the end" / "to the beginning" with a
 * negative step pass INT64_MAX / INT64_MIN (what PySlice_Unpack gives for
 * None). */
EM_API em_status em_tensor_slice(const em_tensor *x, int axis, int64_t start, int64_t stop, int64_t step, em_tensor **out);
/* x[..., index, ...] on one axis (drops the axis); negative index counts from the end. */
EM_API em_status em_tensor_select(const em_tensor *x, int axis, int64_t index, em_tensor **out);
/* Broadcast x to shape (NumPy rules; stride 0 on broadcast axes). */
EM_API em_status em_tensor_expand(const em_tensor *x, int ndim, const int64_t *shape, em_tensor **out);
/* Removes the listed size-1 axes (axes NULL: all size-1 axes). */
EM_API em_status em_tensor_squeeze(const em_tensor *x, const int *axes, int naxes, em_tensor **out);
/* Inserts a size-1 axis at position axis in [-ndim-1, ndim]. */
EM_API em_status em_tensor_unsqueeze(const em_tensor *x, int axis, em_tensor **out);
/* Merges axes start..end (inclusive, negatives allowed); copies only if needed. */
EM_API em_status em_tensor_flatten(const em_tensor *x, int start, int end, em_tensor **out);
/* Reverses the listed axes (axes NULL: all); a view with negative strides. */
EM_API em_status em_tensor_flip(const em_tensor *x, const int *axes, int naxes, em_tensor **out);
/* Swap the last two axes (array API matrix_transpose). */
EM_API em_status em_tensor_mT(const em_tensor *x, em_tensor **out);

/* ---- copies ------------------------------------------------------------ */
/* C-contiguous tensor with x's values: a new reference to x itself if x is
 * already contiguous, else a copy. */
EM_API em_status em_tensor_contiguous(const em_tensor *x, em_tensor **out);
/* Always a new contiguous copy. */
EM_API em_status em_tensor_clone(const em_tensor *x, em_tensor **out);
/* New contiguous tensor of dtype dt (float->int truncates toward zero,
 * anything->bool is != 0). */
EM_API em_status em_tensor_cast(const em_tensor *x, em_dtype dt, em_tensor **out);
/* dst[...] = src broadcast to dst's shape, cast to dst's dtype.  dst may be
 * any view; src may overlap dst (handled by copying src first). */
EM_API em_status em_tensor_copy_into(em_tensor *dst, const em_tensor *src);
/* dst[...] = value. */
EM_API em_status em_tensor_fill(em_tensor *dst, double value);
/* Broadcast shape of a and b (NumPy rules) into out_shape[EM_MAX_DIMS]. */
EM_API em_status em_broadcast_shapes(int nda, const int64_t *sa, int ndb, const int64_t *sb,
                                     int *out_ndim, int64_t *out_shape);

/* ------------------------------------------------------------------ */
/* The op list                                                         */
/* ------------------------------------------------------------------ */
/* X(NAME, name, "math definition").  One list generates the op enum, the
 * name table and the kernel tables; see csrc/ember/ops/. */
#define EM_UNARY_OPS(X)                                             \
    X(NEG, neg, "y = -x")                                           \
    X(POSITIVE, positive, "y = x")                                  \
    X(ABS, abs, "y = |x|")                                          \
    X(SIGN, sign, "y = (x > 0) - (x < 0)")                          \
    X(EXP, exp, "y = e^x")                                          \
    X(EXPM1, expm1, "y = e^x - 1")                                  \
    X(EXP2, exp2, "y = 2^x")                                        \
    X(LOG, log, "y = ln x")                                         \
    X(LOG1P, log1p, "y = ln(1 + x)")                                \
    X(LOG2, log2, "y = log2 x")                                     \
    X(LOG10, log10, "y = log10 x")                                  \
    X(SQRT, sqrt, "y = sqrt(x)")                                    \
    X(RSQRT, rsqrt, "y = 1 / sqrt(x)")                              \
    X(SQUARE, square, "y = x * x")                                  \
    X(RECIPROCAL, reciprocal, "y = 1 / x")                          \
    X(SIN, sin, "y = sin x")                                        \
    X(COS, cos, "y = cos x")                                        \
    X(TAN, tan, "y = tan x")                                        \
    X(ASIN, asin, "y = asin x")                                     \
    X(ACOS, acos, "y = acos x")                                     \
    X(ATAN, atan, "y = atan x")                                     \
    X(SINH, sinh, "y = sinh x")                                     \
    X(COSH, cosh, "y = cosh x")                                     \
    X(TANH, tanh, "y = tanh x")                                     \
    X(ASINH, asinh, "y = asinh x")                                  \
    X(ACOSH, acosh, "y = acosh x")                                  \
    X(ATANH, atanh, "y = atanh x")                                  \
    X(SIGMOID, sigmoid, "y = 1 / (1 + e^-x)")                       \
    X(RELU, relu, "y = max(x, 0)")                                  \
    X(LEAKY_RELU, leaky_relu, "y = x if x > 0 else alpha*x (alpha=0.01)") \
    X(ELU, elu, "y = x if x > 0 else alpha*(e^x - 1) (alpha=1)")    \
    X(GELU, gelu, "y = x * Phi(x) = x/2 * (1 + erf(x/sqrt2))")      \
    X(GELU_TANH, gelu_tanh, "y = x/2 * (1 + tanh(sqrt(2/pi)*(x + 0.044715 x^3)))") \
    X(SILU, silu, "y = x * sigmoid(x)")                             \
    X(SOFTPLUS, softplus, "y = ln(1 + e^(alpha*x)) / alpha (alpha=1)") \
    X(ERF, erf, "y = 2/sqrt(pi) * int_0^x e^-t^2 dt")               \
    X(FLOOR, floor, "y = floor x")                                  \
    X(CEIL, ceil, "y = ceil x")                                     \
    X(ROUND, round, "y = x rounded half to even")                   \
    X(TRUNC, trunc, "y = x rounded toward zero")                    \
    X(ISNAN, isnan, "y = x is NaN (bool)")                          \
    X(ISINF, isinf, "y = x is +-inf (bool)")                        \
    X(ISFINITE, isfinite, "y = x is finite (bool)")                 \
    X(SIGNBIT, signbit, "y = sign bit of x set (bool)")             \
    X(LOGICAL_NOT, logical_not, "y = !x (bool)")                    \
    X(BITWISE_INVERT, bitwise_invert, "y = ~x (integers and bool)")

#define EM_BINARY_OPS(X)                                            \
    X(ADD, add, "y = a + b")                                        \
    X(SUB, sub, "y = a - b")                                        \
    X(MUL, mul, "y = a * b")                                        \
    X(DIV, div, "y = a / b (true division: integers give float32)") \
    X(FLOOR_DIVIDE, floor_divide, "y = floor(a / b)")               \
    X(REMAINDER, remainder, "y = a - floor(a / b) * b (sign of b)") \
    X(POW, pow, "y = a ^ b")                                        \
    X(MAXIMUM, maximum, "y = max(a, b) (NaN propagates)")           \
    X(MINIMUM, minimum, "y = min(a, b) (NaN propagates)")           \
    X(ATAN2, atan2, "y = atan2(a, b)")                              \
    X(HYPOT, hypot, "y = sqrt(a^2 + b^2)")                          \
    X(LOGADDEXP, logaddexp, "y = ln(e^a + e^b)")                    \
    X(COPYSIGN, copysign, "y = |a| with the sign of b")             \
    X(EQ, equal, "y = a == b (bool)")                               \
    X(NE, not_equal, "y = a != b (bool)")                           \
    X(LT, less, "y = a < b (bool)")                                 \
    X(LE, less_equal, "y = a <= b (bool)")                          \
    X(GT, greater, "y = a > b (bool)")                              \
    X(GE, greater_equal, "y = a >= b (bool)")                       \
    X(LOGICAL_AND, logical_and, "y = a && b (bool)")                \
    X(LOGICAL_OR, logical_or, "y = a || b (bool)")                  \
    X(LOGICAL_XOR, logical_xor, "y = a != b as truth values (bool)") \
    X(BITWISE_AND, bitwise_and, "y = a & b (integers and bool)")    \
    X(BITWISE_OR, bitwise_or, "y = a | b (integers and bool)")      \
    X(BITWISE_XOR, bitwise_xor, "y = a ^ b (integers and bool)")    \
    X(BITWISE_LEFT_SHIFT, bitwise_left_shift, "y = a << b (integers)") \
    X(BITWISE_RIGHT_SHIFT, bitwise_right_shift, "y = a >> b (integers)")

#define EM_REDUCE_OPS(X)                                            \
    X(SUM, sum, "y = sum x over axes")                              \
    X(MEAN, mean, "y = sum x / n")                                  \
    X(PROD, prod, "y = prod x over axes")                           \
    X(MAX, max, "y = max x (NaN propagates)")                       \
    X(MIN, min, "y = min x (NaN propagates)")                       \
    X(ARGMAX, argmax, "y = first index of max x (int64)")           \
    X(ARGMIN, argmin, "y = first index of min x (int64)")           \
    X(VAR, var, "y = sum (x - mean)^2 / (n - correction)")          \
    X(STD, std, "y = sqrt(var)")                                    \
    X(LOGSUMEXP, logsumexp, "y = m + ln sum e^(x - m), m = max x")  \
    X(ALL, all, "y = every x != 0 (bool)")                          \
    X(ANY, any, "y = some x != 0 (bool)")                           \
    X(NORM, norm, "y = (sum |x|^ord)^(1/ord); ord inf: max |x|")    \
    X(COUNT_NONZERO, count_nonzero, "y = number of x != 0 (int64)") \
    X(CUMSUM, cumsum, "y_i = sum_{j<=i} x_j along one axis")        \
    X(CUMPROD, cumprod, "y_i = prod_{j<=i} x_j along one axis")

typedef enum em_op {
#define EM_X_ENUM(NAME, name, doc) EM_OP_##NAME,
    EM_UNARY_OPS(EM_X_ENUM)
    EM_OP_UNARY_END_,
    EM_BINARY_OPS(EM_X_ENUM)
    EM_OP_BINARY_END_,
    EM_REDUCE_OPS(EM_X_ENUM)
    EM_OP_REDUCE_END_,
#undef EM_X_ENUM
    EM_OP_COUNT
} em_op;

/* Name of an op ("add"); NULL for an invalid value. */
EM_API const char *em_op_name(em_op op);

/* ------------------------------------------------------------------ */
/* Elementwise ops (csrc/ember/ops/elementwise.c)                      */
/* ------------------------------------------------------------------ */
/* Unary op on any dtype it accepts.  Float ops on integer/bool input compute
 * in float32.  abs/neg/sign/square/positive keep the dtype; floor/ceil/round/
 * trunc keep integers as they are; predicates give bool.  `alpha` is the op's
 * parameter (leaky_relu slope, elu alpha, softplus beta); pass NAN for the
 * default.  New tensor in *out. */
EM_API em_status em_unary(em_op op, const em_tensor *x, double alpha, em_tensor **out);
/* Same, writing into out (same shape as x, may alias x); the result is cast
 * to out's dtype, which must be able to hold it (same kind or wider). */
EM_API em_status em_unary_into(em_op op, const em_tensor *x, double alpha, em_tensor *out);
/* Binary op with NumPy broadcasting and em_promote_types promotion. */
EM_API em_status em_binary(em_op op, const em_tensor *a, const em_tensor *b, em_tensor **out);
/* Same, writing into out (which has the broadcast shape; may alias a or b). */
EM_API em_status em_binary_into(em_op op, const em_tensor *a, const em_tensor *b, em_tensor *out);
/* out = cond ? a : b, broadcasting all three; a, b promoted. */
EM_API em_status em_where(const em_tensor *cond, const em_tensor *a, const em_tensor *b, em_tensor **out);
/* out = min(max(x, lo), hi); lo or hi may be NULL (unbounded). Keeps x's dtype. */
EM_API em_status em_clip(const em_tensor *x, const em_tensor *lo, const em_tensor *hi, em_tensor **out);

/* ------------------------------------------------------------------ */
/* Reductions (csrc/ember/ops/reduce.c)                                */
/* ------------------------------------------------------------------ */
typedef struct em_reduce_options {
    const int *axes;   /* axes to reduce (negatives allowed); NULL = all axes */
    int naxes;         /* entries in axes; with axes != NULL, 0 means none */
    bool keepdims;     /* keep reduced axes with size 1 */
    double correction; /* var/std: divisor is n - correction (default 0) */
    double ord;        /* norm: 1, 2, inf, -inf, 0 or any p > 0 (default 2) */
    int dtype;         /* sum/prod/cumsum/cumprod accumulate and output dtype; -1 = default */
} em_reduce_options;
EM_API em_reduce_options em_reduce_default_options(void);
/* Reduction op over opts->axes (opts NULL = em_reduce_default_options()).
 * Output dtypes: sum/prod/cumsum/cumprod of bool and integers -> int64
 * (integer arithmetic wraps), floats keep theirs, or opts->dtype when >= 0;
 * mean/var/std/logsumexp/norm of integers and bool -> float32 (opts->dtype
 * may pick another float); max/min keep the dtype; argmax/argmin/
 * count_nonzero -> int64; all/any -> bool.  argmax/argmin take at most one
 * axis (NULL = the flattened tensor); cumsum/cumprod take exactly one (NULL =
 * the flattened tensor, giving a 1-D result) and ignore keepdims.  Empty
 * reductions: sum 0, prod 1, all true, any false, count_nonzero 0, norm 0,
 * logsumexp -inf, mean/var/std NaN; max/min/argmax/argmin over a zero-size
 * axis is EM_ERR_INVALID_ARG.  NaN propagates through max/min; argmax/argmin
 * give the first NaN.  New tensor in *out (free with em_tensor_free). */
EM_API em_status em_reduce(em_op op, const em_tensor *x, const em_reduce_options *opts, em_tensor **out);

/* ------------------------------------------------------------------ */
/* Linear algebra (csrc/ember/ops/linalg.c)                            */
/* ------------------------------------------------------------------ */
/* NumPy matmul: 1-D operands are promoted to matrices and the added axis
 * removed; batch axes broadcast.  out = a @ b. */
EM_API em_status em_matmul(const em_tensor *a, const em_tensor *b, em_tensor **out);

/* ------------------------------------------------------------------ */
/* Shape and index ops (csrc/ember/ops/shape.c, index.c, softmax.c, sort.c) */
/* ------------------------------------------------------------------ */
/* All return a new tensor in *out (free with em_tensor_free) unless marked
 * in place or as views; integer index tensors may be any integer dtype (not
 * bool); out-of-range indices give EM_ERR_INDEX naming the value, its
 * position, the axis and its size. */
/* NumPy concatenate: out = [xs[0], ..., xs[n-1]] along axis.  n >= 1; every
 * input has the same ndim >= 1 and equal sizes except on axis; the dtype is
 * em_promote_types of all inputs. */
EM_API em_status em_concat(const em_tensor *const *xs, int n, int axis, em_tensor **out);
/* NumPy stack: out[..., i, ...] = xs[i] with i on a new axis in
 * [-ndim-1, ndim].  n >= 1 inputs of one shape; dtypes promoted. */
EM_API em_status em_stack(const em_tensor *const *xs, int n, int axis, em_tensor **out);
/* torch.split with explicit sizes: views of x (sharing its storage) along
 * axis of sizes[i] >= 0 with sum = shape[axis].  outs has nparts entries;
 * each is a new reference; outs is untouched on error. */
EM_API em_status em_split(const em_tensor *x, int axis, const int64_t *sizes, int nparts, em_tensor **outs);

typedef enum em_pad_mode { EM_PAD_CONSTANT = 0, EM_PAD_REFLECT = 1, EM_PAD_REPLICATE = 2, EM_PAD_CIRCULAR = 3 } em_pad_mode;
/* torch.nn.functional.pad / numpy.pad on every axis: pads[2*i], pads[2*i+1]
 * (>= 0) elements are added before/after axis i (ndim pairs; pads may be
 * NULL for a 0-d x).  constant: `value` (cast to x's dtype); reflect:
 * mirrored without repeating the edge (pad < size); replicate: the edge
 * element (size >= 1 if padded); circular: wrapped (pad <= size).  A pad too
 * large for its mode is EM_ERR_INVALID_ARG naming the axis, pad and size. */
EM_API em_status em_pad(const em_tensor *x, const int64_t *pads, em_pad_mode mode, double value, em_tensor **out);
/* NumPy roll: out[(i + shifts[j]) mod size] = x[i] along axes[j]; shifts may be
 * negative or larger than the size; repeated axes add their shifts.
 * naxes = 0 (axes NULL): the flattened tensor by shifts[0], shape kept. */
EM_API em_status em_roll(const em_tensor *x, const int64_t *shifts, const int *axes, int naxes, em_tensor **out);
/* NumPy repeat: each element along axis repeated repeats[i] >= 0 times
 * (nrep == 1: one count for all; nrep == shape[axis]: one per element).
 * axis EM_AXIS_NONE: x is flattened first (1-D result). */
EM_API em_status em_repeat(const em_tensor *x, const int64_t *repeats, int64_t nrep, int axis, em_tensor **out);
#define EM_AXIS_NONE (-(EM_MAX_DIMS) - 1)
/* NumPy tile: out[i] = x[i mod shape] with out.shape = shape * reps.  reps
 * (>= 0) shorter than ndim are padded with 1s in front; longer ones give x
 * leading size-1 axes (at most EM_MAX_DIMS).  nreps = 0: a copy. */
EM_API em_status em_tile(const em_tensor *x, const int64_t *reps, int nreps, em_tensor **out);
/* NumPy tril/triu over the last two axes (ndim >= 2): keeps x[..., i, j]
 * where j <= i + k (tril) or j >= i + k (triu), zero elsewhere; any k. */
EM_API em_status em_tril(const em_tensor *x, int64_t k, em_tensor **out);
EM_API em_status em_triu(const em_tensor *x, int64_t k, em_tensor **out);
/* NumPy take_along_axis (torch.gather): for axis 0 of a 3-D x,
 * out[i][j][k] = x[index[i][j][k]][j][k].  index has x's ndim; on the
 * other axes index and x broadcast against each other (NumPy rules, so
 * torch's "index smaller than x" is an error unless the size is 1); out
 * has the broadcast shape with index's size on axis; negatives wrap. */
EM_API em_status em_gather(const em_tensor *x, int axis, const em_tensor *index, em_tensor **out);
/* torch.index_select / NumPy take with axis: out[..., i, ...] =
 * x[..., index[i], ...] for a 1-D integer index; negatives wrap. */
EM_API em_status em_index_select(const em_tensor *x, int axis, const em_tensor *index, em_tensor **out);
/* torch.masked_select with the mask broadcast to x (not x to the mask): a
 * 1-D tensor of x's entries where mask != 0 (any dtype; NaN is true), in C
 * order. */
EM_API em_status em_masked_select(const em_tensor *x, const em_tensor *mask, em_tensor **out);
/* torch.nonzero: the C-ordered indices of entries != 0 (NaN counts) as an
 * (nnz, ndim) int64 tensor; a 0-d x gives shape (nnz, 0). */
EM_API em_status em_nonzero(const em_tensor *x, em_tensor **out);
typedef enum em_scatter_reduce { EM_SCATTER_NONE = 0, EM_SCATTER_ADD = 1 } em_scatter_reduce;
/* torch scatter / scatter_add: out = copy of x, then for axis 1 of 2-D,
 * out[i][index[i][j]] (op)= src[i][j] over every position of index.  x,
 * index and src have one ndim >= 1; index sizes <= src's on every axis and
 * <= x's except on axis; src has x's dtype; negatives wrap.  Repeated
 * indices: EM_SCATTER_NONE keeps the last write in C order of index;
 * EM_SCATTER_ADD adds in C order (integers wrap, bool ors): deterministic. */
EM_API em_status em_scatter(const em_tensor *x, int axis, const em_tensor *index, const em_tensor *src,
                            em_scatter_reduce reduce, em_tensor **out);
/* In place, torch index_put_: x[indices[0], ..., indices[n-1]] = values
 * (+= with accumulate).  The n <= ndim integer index tensors broadcast
 * together to a shape B and address the first n axes (negatives wrap); the
 * indexed shape is B + x.shape[n:] and values (any dtype, cast to x's)
 * broadcast to it.  Writes and adds happen in C order of that shape, so a
 * repeated index keeps the last value or sums every one.  values that share
 * x's storage are copied first.  A bool mask is not accepted (EM_ERR_DTYPE):
 * convert it with em_nonzero.  On error x is unchanged. */
EM_API em_status em_index_put(em_tensor *x, const em_tensor *const *indices, int n, const em_tensor *values,
                              bool accumulate);
/* In place, torch masked_fill_: x[mask != 0] = value (cast to x's dtype),
 * mask of any dtype broadcast to x. */
EM_API em_status em_masked_fill(em_tensor *x, const em_tensor *mask, double value);
/* torch one_hot: out[..., c] = (index[...] == c) as int64 with shape
 * index.shape + (num_classes,).  Entries must be in [0, num_classes);
 * num_classes < 0 means max(index) + 1 (an error for an empty index). */
EM_API em_status em_one_hot(const em_tensor *index, int64_t num_classes, em_tensor **out);
/* torch softmax / log_softmax along axis, numerically stable:
 * y_i = e^(x_i - m) / sum_j e^(x_j - m), log: (x_i - m) - ln sum_j e^(x_j - m),
 * m = max x.  Float input keeps its dtype; integers and bool compute in
 * float32.  A row with NaN, +inf or only -inf gives NaN (like torch).  A 0-d
 * x is one row of one element (axis 0 or -1). */
EM_API em_status em_softmax(const em_tensor *x, int axis, em_tensor **out);
EM_API em_status em_log_softmax(const em_tensor *x, int axis, em_tensor **out);
/* torch.sort(stable=True): sorts along axis, any dtype.  Ascending puts NaN
 * last, descending puts NaN first; equal elements keep their order in both.
 * values (x's dtype) and indices (int64 positions along axis) are new
 * tensors of x's shape; either may be NULL, not both.  A 0-d x is one
 * element (axis 0 or -1). */
EM_API em_status em_sort(const em_tensor *x, int axis, bool descending, em_tensor **values, em_tensor **indices);
/* torch.topk(sorted=True): the k in [0, size] largest (NaN counts as largest)
 * or smallest entries along axis, in that order; ties go to the lower index
 * first.  Outputs as em_sort with size k on axis. */
EM_API em_status em_topk(const em_tensor *x, int64_t k, int axis, bool largest, em_tensor **values,
                         em_tensor **indices);
/* out[i] = insertion point of values[i] in the ascending 1-D tensor sorted
 * (NaN last, as em_sort orders it): the first position p with
 * sorted[p] >= values[i] (right: > values[i]).  int64, values' shape;
 * both are compared in their promoted dtype. */
EM_API em_status em_searchsorted(const em_tensor *sorted, const em_tensor *values, bool right, em_tensor **out);

/* ------------------------------------------------------------------ */
/* Random numbers (csrc/ember/base/rng.c)                              */
/* ------------------------------------------------------------------ */
/* A Philox-4x32-10 counter-based generator: the numbers depend only on the
 * seed and on how many were drawn before, never on threads or platform. */
typedef struct em_generator em_generator;
/* New generator; free with em_generator_free(). */
EM_API em_status em_generator_new(uint64_t seed, em_generator **out);
EM_API void em_generator_free(em_generator *g);
EM_API void em_generator_seed(em_generator *g, uint64_t seed);
/* Copies the state (seed, offset) out / back in. */
EM_API void em_generator_get_state(const em_generator *g, uint64_t *seed, uint64_t *offset);
EM_API void em_generator_set_state(em_generator *g, uint64_t seed, uint64_t offset);
/* Float dtype tensors of the given shape: uniform in [low, high). */
EM_API em_status em_random_uniform(em_generator *g, double low, double high, em_dtype dt, int ndim,
                                   const int64_t *shape, em_tensor **out);
/* Normal(mean, std) via Box-Muller. */
EM_API em_status em_random_normal(em_generator *g, double mean, double std, em_dtype dt, int ndim,
                                  const int64_t *shape, em_tensor **out);
/* Integers uniform in [low, high) (integer dtype). */
EM_API em_status em_random_randint(em_generator *g, int64_t low, int64_t high, em_dtype dt, int ndim,
                                   const int64_t *shape, em_tensor **out);
/* out[i] = 1 with probability p[i] (p broadcast float tensor in [0,1]); dtype of p, or dt >= 0. */
EM_API em_status em_random_bernoulli(em_generator *g, const em_tensor *p, int dt, em_tensor **out);
/* A random permutation of 0..n-1 (int64). */
EM_API em_status em_random_permutation(em_generator *g, int64_t n, em_tensor **out);

/* The API of each layer above the core, one header per layer. */
#include "ember/threads.h"
#include "ember/kernels.h"
#include "ember/conv.h"
#include "ember/autograd.h"
#include "ember/ml.h"
#include "ember/tree.h"
#include "ember/hgb.h"
#include "ember/kdtree.h"
#include "ember/kmeans.h"
#include "ember/dbscan.h"
#include "ember/linear.h"
#include "ember/io.h"
#include "ember/optim.h"
#include "ember/norm.h"

#ifdef __cplusplus
}
#endif
#endif /* EMBER_H */
