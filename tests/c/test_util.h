/* Helpers shared by the C unit tests: tensors from literal values, result
 * comparison, element access, dtype lists and out-of-memory injection.
 * Include it after test.h; test_util.c defines everything declared here. */
#ifndef EMBER_TEST_UTIL_H
#define EMBER_TEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "ember.h"

/* Literal shape and values: tensor_of(EM_F32, 2, SH(2, 3), V(1, 2, 3, 4, 5, 6)). */
#define SH(...) ((const int64_t[]){__VA_ARGS__})
#define V(...) ((double[]){__VA_ARGS__})
/* A literal shape as the argument pair "ndim, shape": em_tensor_zeros(dt, DIMS(2, 3), &t). */
#define DIMS(...) (int)(sizeof SH(__VA_ARGS__) / sizeof(int64_t)), SH(__VA_ARGS__)

/* Every dtype in enum order, and the integer dtypes (bool excluded). */
extern const em_dtype all_dtypes[7], int_dtypes[4];

/* New tensor of dtype dt and this shape holding v in C order (v NULL: 0, 1, 2, ...). */
em_tensor *tensor_of(em_dtype dt, int nd, const int64_t *shape, const double *v);
/* New 1-D tensor of the n values v. */
em_tensor *vector_of(em_dtype dt, int64_t n, const double *v);
/* New 1-D integer or bool tensor of the n exact values v, converted as a C cast (bool: != 0). */
em_tensor *int_vector_of(em_dtype dt, int64_t n, const int64_t *v);

/* Whether t has this shape and these values in C order, whatever its dtype (NaN == NaN). */
bool tensor_values_are(const em_tensor *t, int nd, const int64_t *shape, const double *v);
/* Whether t has exactly this dtype, shape and values in C order (NaN == NaN). */
bool tensor_equals(const em_tensor *t, em_dtype dt, int nd, const int64_t *shape, const double *v);

/* The index idx of element k (C order) of t. */
void unravel_index(const em_tensor *t, int64_t k, int64_t *idx);
/* Element k (C order) of any view, as double. */
double value_at(const em_tensor *t, int64_t k);
/* Element k of a contiguous integer or bool tensor, exactly (INT64_MIN for floats). */
int64_t int_at(const em_tensor *t, int64_t k);

/* Whether em_last_error() contains word. */
bool error_has(const char *word);

/* Release callback for foreign data: counts calls in `releases`, keeps the last owner. */
extern int releases;
extern void *released_owner;
void count_release(void *owner);

/* Out-of-memory injection: hooks over the current allocator that fail
 * allocation number `at` (from 0) and, if sticky, every later one; at < 0
 * never fails.  oom_remove restores the default allocator. */
void oom_install(int64_t at, bool sticky);
void oom_remove(void);
/* Allocations requested, and whether one was failed, since oom_install. */
int64_t oom_calls(void);
bool oom_failed(void);
/* Runs op with each of its allocations failing in turn: every failure must be
 * EM_ERR_NOMEM and leave nothing allocated; finally it succeeds. */
void oom_sweep(em_status (*op)(void));

#endif
