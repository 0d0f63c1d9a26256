/*
 * internal.h — shared internals of libember (never installed).
 * Internal non-static symbols are named em__*.
 */
#ifndef EMBER_INTERNAL_H
#define EMBER_INTERNAL_H

#include "include/ember.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

#define EM_ALIGN 64

/* Internal invariant (never for caller input). */
#define EM_ASSERT(cond)                                                                \
    do {                                                                               \
        if (!(cond)) em__assert_fail(#cond, __FILE__, __LINE__);                       \
    } while (0)
void em__assert_fail(const char *cond, const char *file, int line);

/* ---- errors ------------------------------------------------------------ */
/* Sets this thread's last-error text (printf format) and returns st. */
em_status em__error(em_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes "(2, 3) float32" into buf (at least EM_DESC_LEN bytes); returns buf. */
#define EM_DESC_LEN 160
const char *em__desc(const em_tensor *t, char *buf);
/* Writes "(2, 3)" for a shape. */
const char *em__shape_str(int ndim, const int64_t *shape, char *buf);

/* Propagate a failing status. */
#define EM_TRY(expr)                        \
    do {                                    \
        em_status em_try_st_ = (expr);      \
        if (em_try_st_ != EM_OK) return em_try_st_; \
    } while (0)

/* ---- allocation -------------------------------------------------------- */
void *em__alloc(size_t size);  /* 64-byte aligned; NULL on failure (no error text set) */
void *em__alloc_small(size_t size); /* 16-byte aligned, for small headers */
void *em__calloc(size_t size); /* zeroed */
void em__free(void *p);
/* Allocation that sets EM_ERR_NOMEM text naming `what`. */
em_status em__alloc_or_fail(size_t size, const char *what, void **out);

/* ---- tensors ----------------------------------------------------------- */
typedef struct em_storage {
    atomic_int refcount;
    void *data;
    size_t nbytes;
    void (*release)(void *owner); /* foreign memory: called on last unref */
    void *owner;
    void *block;                  /* the allocation to free (holds this header, maybe the data and a handle) */
    uint32_t version;             /* bumped by every in-place write (autograd checks saved tensors) */
} em_storage;

struct em_tensor {
    atomic_int refcount;
    em_dtype dtype;
    int ndim;
    em_storage *storage;
    int64_t offset;               /* in elements, from storage->data */
    int64_t shape[EM_MAX_DIMS];
    int64_t strides[EM_MAX_DIMS]; /* in elements; may be 0 or negative */
    void *autograd;               /* reserved for the autograd layer */
    bool embedded;                /* lives in its storage's block (freed with it) */
};
void em__ag_meta_free(void *meta); /* autograd/meta.c: frees em_tensor.autograd */

extern const size_t em__dtype_sizes[EM_DTYPE_COUNT];
static inline size_t em__dsize(em_dtype d) { return em__dtype_sizes[d]; }
static inline bool em__dtype_valid(int d) { return d >= 0 && d < EM_DTYPE_COUNT; }

static inline char *em__ptr(const em_tensor *t) {
    return (char *)t->storage->data + t->offset * (int64_t)em__dsize(t->dtype);
}
static inline int64_t em__numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}
/* Contiguous strides for a shape. */
void em__contig_strides(int ndim, const int64_t *shape, int64_t *strides);
bool em__is_contiguous(const em_tensor *t);
/* Checks ndim in [0, EM_MAX_DIMS], every dim >= 0 and the product fits. */
em_status em__check_shape(const char *op, int ndim, const int64_t *shape);
/* New contiguous uninitialised tensor (shape already checked or trusted). */
em_status em__new(em_dtype dt, int ndim, const int64_t *shape, em_tensor **out);
/* New view handle over x's storage with given geometry (storage retained). */
em_status em__view(const em_tensor *x, em_dtype dt, int ndim, const int64_t *shape, const int64_t *strides,
                   int64_t offset, em_tensor **out);
/* Normalises axis into [0, ndim) or sets an EM_ERR_INDEX error naming op. */
em_status em__axis(const char *op, int axis, int ndim, int *out);
/* Normalises a list of axes into a bitmask (duplicates are an error); axes NULL = all. */
em_status em__axes_mask(const char *op, const int *axes, int naxes, int ndim, uint32_t *mask);

/* ---- element access as double ------------------------------------------ */
static inline double em__load(em_dtype dt, const void *p) {
    switch (dt) {
    case EM_BOOL: return *(const bool *)p;
    case EM_U8: return *(const uint8_t *)p;
    case EM_I8: return *(const int8_t *)p;
    case EM_I32: return *(const int32_t *)p;
    case EM_I64: return (double)*(const int64_t *)p;
    case EM_F32: return *(const float *)p;
    case EM_F64: return *(const double *)p;
    default: return 0;
    }
}
/* Converts as a C cast would, except NaN/inf/out-of-range to integers gives 0
 * or the wrapped value without undefined behaviour. */
void em__store(em_dtype dt, void *p, double v);
static inline int64_t em__load_i64(em_dtype dt, const void *p) {
    switch (dt) {
    case EM_I64: return *(const int64_t *)p;
    case EM_I32: return *(const int32_t *)p;
    case EM_I8: return *(const int8_t *)p;
    case EM_U8: return *(const uint8_t *)p;
    case EM_BOOL: return *(const bool *)p;
    default: return (int64_t)em__load(dt, p);
    }
}

/* ---- strided iteration ------------------------------------------------- */
/* Iterates n operands of one common (broadcast) shape.  Dimensions are
 * coalesced where every operand allows it, so a contiguous operation becomes
 * one inner loop.  Strides are in BYTES here (ufunc-style inner loops). */
#define EM_ITER_MAX_OPS 4
typedef struct em__iter {
    int nops;
    int ndim;                                 /* >= 1 after init */
    int64_t shape[EM_MAX_DIMS];
    int64_t strides[EM_ITER_MAX_OPS][EM_MAX_DIMS]; /* bytes */
    char *base[EM_ITER_MAX_OPS];
} em__iter;
/* ops[i] must already have the common shape or broadcast to it; the
 * iteration shape is (ndim, shape). */
em_status em__iter_init(em__iter *it, int nops, const em_tensor *const *ops, int ndim, const int64_t *shape);
/* Inner loop: n elements; p[i] = pointer of operand i; s[i] = its byte stride. */
typedef void (*em__loop_fn)(int64_t n, char **p, const int64_t *s, void *ctx);
/* Runs loop over the whole iteration space in C order. */
void em__iter_run(const em__iter *it, em__loop_fn loop, void *ctx);

/* Dispatch a statement on a dtype with T bound to the C type. */
#define EM_DISPATCH_ALL(dt, T, ...)                             \
    switch (dt) {                                               \
    case EM_BOOL: { typedef bool T; __VA_ARGS__; } break;       \
    case EM_U8: { typedef uint8_t T; __VA_ARGS__; } break;      \
    case EM_I8: { typedef int8_t T; __VA_ARGS__; } break;       \
    case EM_I32: { typedef int32_t T; __VA_ARGS__; } break;     \
    case EM_I64: { typedef int64_t T; __VA_ARGS__; } break;     \
    case EM_F32: { typedef float T; __VA_ARGS__; } break;       \
    case EM_F64: { typedef double T; __VA_ARGS__; } break;      \
    default: break;                                             \
    }

/* ---- RNG (exposed for tests) ------------------------------------------- */
/* Philox-4x32-10 block: 4 outputs for a 128-bit counter and 64-bit key. */
void em__philox4x32(uint64_t counter_lo, uint64_t counter_hi, uint64_t key, uint32_t out[4]);

#endif
