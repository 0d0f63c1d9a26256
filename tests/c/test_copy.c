/* Same-dtype copies of views: the tiled path for transposes (the two inner
 * axes swapped, in 2-D and N-D, with negative strides, into a transposed
 * destination) and the strided loop, for every element size.  The reference
 * reads each element of the source view through em_tensor_get. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

/* Exact in every dtype, and different for neighbours. */
static double val(em_dtype dt, int64_t k) {
    if (dt == EM_BOOL) return (k * 7) % 3 != 0;
    return (double)(k % 113) - (dt == EM_U8 ? 0 : 56);
}

/* New contiguous tensor of this shape holding val(dt, k) in C order. */
static em_tensor *filled(em_dtype dt, int nd, const int64_t *shape) {
    em_tensor *t = NULL;
    CHECK_OK(em_tensor_empty(dt, nd, shape, &t));
    if (!t) return NULL;
    for (int64_t k = 0; k < em_tensor_numel(t); k++) {
        int64_t idx[EM_MAX_DIMS];
        unravel_index(t, k, idx);
        CHECK_OK(em_tensor_set(t, idx, val(dt, k)));
    }
    return t;
}

/* Whether the contiguous out holds the elements of view v in C order. */
static bool copy_of(const em_tensor *out, const em_tensor *v) {
    if (!out || !em_tensor_is_contiguous(out) || em_tensor_numel(out) != em_tensor_numel(v) ||
        em_tensor_ndim(out) != em_tensor_ndim(v) || em_tensor_dtype(out) != em_tensor_dtype(v))
        return false;
    for (int64_t k = 0; k < em_tensor_numel(v); k++)
        if (value_at(out, k) != value_at(v, k)) {
            fprintf(stderr, "  element %lld: %g, wanted %g\n", (long long)k, value_at(out, k), value_at(v, k));
            return false;
        }
    return true;
}

/* Clones v and checks the copy. */
static void check_clone(const em_tensor *v) {
    em_tensor *c = NULL;
    CHECK_OK(em_tensor_clone(v, &c));
    CHECK(copy_of(c, v));
    em_tensor_free(c);
}

/* 2-D transposes around the tile size (64), below it (plain loop) and
 * with flipped axes, for every dtype. */
TEST(copy_transpose_2d) {
    static const int64_t shapes[][2] = {{64, 64}, {65, 130}, {200, 70}, {64, 63}, {5, 7}, {1, 80}, {129, 65}};
    for (int d = 0; d < 7; d++)
        for (int s = 0; s < 7; s++) {
            em_tensor *a = filled(all_dtypes[d], 2, shapes[s]), *t = NULL, *f = NULL, *g = NULL;
            if (!a) continue;
            CHECK_OK(em_tensor_transpose(a, 0, 1, &t));
            check_clone(t);
            int ax0 = 0, ax1 = 1;
            CHECK_OK(em_tensor_flip(t, &ax0, 1, &f));
            check_clone(f);
            CHECK_OK(em_tensor_flip(t, &ax1, 1, &g));
            check_clone(g);
            em_tensor_free(g);
            em_tensor_free(f);
            em_tensor_free(t);
            em_tensor_free(a);
        }
}

/* The last two axes swapped under one or two outer axes (which may be
 * permuted too), and a transpose of a strided slice. */
TEST(copy_transpose_nd) {
    static const int64_t sh3[] = {3, 70, 150}, sh4[] = {2, 3, 66, 67};
    static const int p3[] = {0, 2, 1}, p4a[] = {0, 1, 3, 2}, p4b[] = {1, 0, 3, 2};
    for (int d = 0; d < 7; d++) {
        em_tensor *a = filled(all_dtypes[d], 3, sh3), *b = filled(all_dtypes[d], 4, sh4), *t = NULL, *s = NULL;
        if (!a || !b) {
            em_tensor_free(a);
            em_tensor_free(b);
            continue;
        }
        CHECK_OK(em_tensor_permute(a, p3, &t));
        check_clone(t);
        em_tensor_free(t);
        CHECK_OK(em_tensor_permute(b, p4a, &t));
        check_clone(t);
        em_tensor_free(t);
        CHECK_OK(em_tensor_permute(b, p4b, &t));
        check_clone(t);
        em_tensor_free(t);
        CHECK_OK(em_tensor_slice(a, 2, 1, 150, 2, &s)); /* (3, 70, 75), last axis strided */
        CHECK_OK(em_tensor_permute(s, p3, &t));
        check_clone(t);
        em_tensor_free(t);
        em_tensor_free(s);
        em_tensor_free(b);
        em_tensor_free(a);
    }
}

/* copy_into a transposed destination from a contiguous source: the
 * destination's buffer must end up as the source transposed. */
TEST(copy_into_transposed_destination) {
    static const int64_t sh[] = {75, 70}, tsh[] = {70, 75};
    for (int d = 0; d < 7; d++) {
        em_dtype dt = all_dtypes[d];
        em_tensor *src = filled(dt, 2, tsh), *dst = NULL, *dv = NULL;
        CHECK_OK(em_tensor_zeros(dt, 2, sh, &dst));
        if (!src || !dst) {
            em_tensor_free(src);
            em_tensor_free(dst);
            continue;
        }
        CHECK_OK(em_tensor_transpose(dst, 0, 1, &dv));
        CHECK_OK(em_tensor_copy_into(dv, src));
        bool ok = true;
        for (int64_t i = 0; i < 75 && ok; i++)
            for (int64_t j = 0; j < 70 && ok; j++) ok = value_at(dst, i * 70 + j) == val(dt, j * 75 + i);
        CHECK(ok);
        em_tensor_free(dv);
        em_tensor_free(dst);
        em_tensor_free(src);
    }
}

/* Strided (non-transposing) views take the element loop: every other
 * column, every third row flipped, and a column (one strided run). */
TEST(copy_strided_views) {
    static const int64_t sh[] = {60, 50};
    for (int d = 0; d < 7; d++) {
        em_tensor *a = filled(all_dtypes[d], 2, sh), *s = NULL, *r = NULL, *f = NULL, *c = NULL;
        if (!a) continue;
        CHECK_OK(em_tensor_slice(a, 1, 0, 50, 2, &s));
        check_clone(s);
        CHECK_OK(em_tensor_slice(a, 0, 59, INT64_MIN, -3, &r));
        CHECK(r && em_tensor_shape(r)[0] == 20);
        int ax1 = 1;
        CHECK_OK(em_tensor_flip(r, &ax1, 1, &f));
        check_clone(f);
        CHECK_OK(em_tensor_slice(a, 1, 7, 8, 1, &c));
        check_clone(c);
        em_tensor_free(c);
        em_tensor_free(f);
        em_tensor_free(r);
        em_tensor_free(s);
        em_tensor_free(a);
    }
}
