/* Tests of the tensor core (the files of csrc/ember/tensor): creation, foreign data,
 * views, copies and casts, element access, dtype promotion, broadcasting and
 * every error path.  Expected values are written out by hand. */
#include <string.h>

#include "test.h"
#include "test_util.h"

/* Status and a key word of em_last_error(). */
#define CHECK_ERR(expr, st, word)                                              \
    do {                                                                       \
        em_clear_error();                                                      \
        CHECK_STATUS(expr, st);                                                \
        if (!strstr(em_last_error(), word)) {                                  \
            fprintf(stderr, "  %s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, em_last_error(), word); \
            test_failures++;                                                   \
        }                                                                      \
    } while (0)

/* HAS(t, DIMS(2, 2), V(1, 2, 3, 4)): t has this shape and these values, any dtype. */
#define HAS(t, ...) CHECK(tensor_values_are(t, __VA_ARGS__))

static bool strides_are(const em_tensor *t, int ndim, const int64_t *st) {
    for (int i = 0; i < ndim; i++)
        if (em_tensor_strides(t)[i] != st[i]) return false;
    return em_tensor_ndim(t) == ndim;
}

/* ---- creation ------------------------------------------------------------ */
TEST(tensor_dtype_info) {
    static const char *names[] = {"bool", "uint8", "int8", "int32", "int64", "float32", "float64"};
    static const size_t sizes[] = {1, 1, 1, 4, 8, 4, 8};
    for (int d = 0; d < EM_DTYPE_COUNT; d++) {
        CHECK(strcmp(em_dtype_name((em_dtype)d), names[d]) == 0);
        CHECK(em_dtype_size((em_dtype)d) == sizes[d]);
        CHECK(em_dtype_is_float((em_dtype)d) == (d >= EM_F32));
        CHECK(em_dtype_is_int((em_dtype)d) == (d >= EM_U8 && d <= EM_I64));
    }
    CHECK(em_dtype_name((em_dtype)7) == NULL && em_dtype_size((em_dtype)-1) == 0);
    CHECK(strcmp(em_status_str(EM_ERR_SHAPE), "EM_ERR_SHAPE") == 0);
    CHECK(strcmp(em_status_str((em_status)99), "EM_ERR_UNKNOWN") == 0);
}

TEST(tensor_create_filled) {
    for (size_t k = 0; k < sizeof all_dtypes / sizeof all_dtypes[0]; k++) {
        em_dtype dt = all_dtypes[k];
        em_tensor *t;
        CHECK_OK(em_tensor_empty(dt, DIMS(2, 3, 4), &t));
        CHECK(em_tensor_dtype(t) == dt && em_tensor_numel(t) == 24 && em_tensor_is_contiguous(t));
        CHECK(strides_are(t, DIMS(12, 4, 1)));
        CHECK(((uintptr_t)em_tensor_data(t) & 63) == 0); /* 64-byte aligned */
        em_tensor_free(t);
        CHECK_OK(em_tensor_zeros(dt, DIMS(2, 2), &t));
        HAS(t, DIMS(2, 2), V(0, 0, 0, 0));
        em_tensor_free(t);
        CHECK_OK(em_tensor_ones(dt, DIMS(3), &t));
        HAS(t, DIMS(3), V(1, 1, 1));
        em_tensor_free(t);
        /* full converts like a C cast: 2.7 -> 2 for integers, != 0 for bool */
        CHECK_OK(em_tensor_full(dt, 0, NULL, 2.75, &t));
        double v;
        CHECK_OK(em_tensor_item(t, &v));
        CHECK(v == (dt == EM_BOOL ? 1 : em_dtype_is_int(dt) ? 2 : 2.75));
        em_tensor_free(t);
    }
    em_tensor *t, *l;
    CHECK_OK(em_tensor_full(EM_U8, DIMS(2), -1, &t)); /* saturates, no UB */
    HAS(t, DIMS(2), V(0, 0));
    CHECK_OK(em_tensor_full_like(t, -1, 7, &l));
    CHECK(em_tensor_dtype(l) == EM_U8);
    HAS(l, DIMS(2), V(7, 7));
    em_tensor_free(l);
    CHECK_OK(em_tensor_full_like(t, EM_F64, 0.5, &l));
    CHECK(em_tensor_dtype(l) == EM_F64);
    HAS(l, DIMS(2), V(0.5, 0.5));
    em_tensor_free(l);
    CHECK_OK(em_tensor_empty_like(t, EM_I32, &l));
    CHECK(em_tensor_dtype(l) == EM_I32 && em_tensor_numel(l) == 2 && !em_tensor_shares_storage(l, t));
    em_tensor_free(l);
    CHECK_ERR(em_tensor_empty_like(t, 9, &l), EM_ERR_DTYPE, "dtype 9");
    em_tensor_free(t);
    /* empty and 0-d */
    CHECK_OK(em_tensor_zeros(EM_F32, DIMS(0, 3), &t));
    CHECK(em_tensor_numel(t) == 0 && em_tensor_is_contiguous(t));
    em_tensor_free(t);
    CHECK_OK(em_tensor_ones(EM_I64, 0, NULL, &t));
    CHECK(em_tensor_ndim(t) == 0 && em_tensor_numel(t) == 1);
    em_tensor_free(t);
    /* retain adds a reference */
    CHECK_OK(em_tensor_zeros(EM_F32, DIMS(1), &t));
    CHECK(em_tensor_retain(t) == t);
    em_tensor_free(t);
    em_tensor_free(t);
    em_tensor_free(NULL);
    CHECK(em_tensor_retain(NULL) == NULL);
}

TEST(tensor_arange) {
    em_tensor *t;
    CHECK_OK(em_tensor_arange(0, 5, 1, EM_I64, &t));
    HAS(t, DIMS(5), V(0, 1, 2, 3, 4));
    em_tensor_free(t);
    CHECK_OK(em_tensor_arange(5, 0, -1, EM_I32, &t));
    HAS(t, DIMS(5), V(5, 4, 3, 2, 1));
    em_tensor_free(t);
    CHECK_OK(em_tensor_arange(0, 1, 0.25, EM_F64, &t));
    HAS(t, DIMS(4), V(0, 0.25, 0.5, 0.75));
    em_tensor_free(t);
    CHECK_OK(em_tensor_arange(2, -1, -0.5, EM_F32, &t));
    HAS(t, DIMS(6), V(2, 1.5, 1, 0.5, 0, -0.5));
    em_tensor_free(t);
    CHECK_OK(em_tensor_arange(0, 1, 0.1, EM_F64, &t)); /* NumPy gives 10 elements */
    CHECK(em_tensor_numel(t) == 10);
    em_tensor_free(t);
    CHECK_OK(em_tensor_arange(0, 10, 3, EM_U8, &t));
    HAS(t, DIMS(4), V(0, 3, 6, 9));
    em_tensor_free(t);
    CHECK_OK(em_tensor_arange(1, 0, 0.3, EM_F32, &t)); /* wrong direction: empty */
    CHECK(em_tensor_numel(t) == 0 && em_tensor_ndim(t) == 1);
    em_tensor_free(t);
    CHECK_ERR(em_tensor_arange(0, 1, 0, EM_F32, &t), EM_ERR_INVALID_ARG, "step");
    CHECK_ERR(em_tensor_arange(0, 1, NAN, EM_F32, &t), EM_ERR_INVALID_ARG, "step");
    CHECK_ERR(em_tensor_arange(0, INFINITY, 1, EM_F32, &t), EM_ERR_INVALID_ARG, "finite");
    CHECK_ERR(em_tensor_arange(0, 1e300, 1, EM_F64, &t), EM_ERR_INVALID_ARG, "too many");
    CHECK_ERR(em_tensor_arange(0, 2, 1, EM_BOOL, &t), EM_ERR_DTYPE, "bool");
    CHECK_ERR(em_tensor_arange(0, 2, 1, (em_dtype)12, &t), EM_ERR_DTYPE, "arange");
}

TEST(tensor_linspace_eye) {
    em_tensor *t;
    CHECK_OK(em_tensor_linspace(0, 1, 5, true, EM_F64, &t));
    HAS(t, DIMS(5), V(0, 0.25, 0.5, 0.75, 1));
    em_tensor_free(t);
    CHECK_OK(em_tensor_linspace(0, 1, 5, false, EM_F64, &t));
    HAS(t, DIMS(5), V(0, 0.2, 0.4, 0.6000000000000001, 0.8));
    em_tensor_free(t);
    CHECK_OK(em_tensor_linspace(3, -3, 4, true, EM_I32, &t));
    HAS(t, DIMS(4), V(3, 1, -1, -3));
    em_tensor_free(t);
    CHECK_OK(em_tensor_linspace(2, 9, 1, true, EM_F32, &t));
    HAS(t, DIMS(1), V(2));
    em_tensor_free(t);
    CHECK_OK(em_tensor_linspace(2, 9, 0, true, EM_F32, &t));
    CHECK(em_tensor_numel(t) == 0);
    em_tensor_free(t);
    CHECK_ERR(em_tensor_linspace(0, 1, -1, true, EM_F32, &t), EM_ERR_INVALID_ARG, "num");
    CHECK_ERR(em_tensor_linspace(0, 1, 2, true, (em_dtype)-1, &t), EM_ERR_DTYPE, "linspace");

    CHECK_OK(em_tensor_eye(3, 3, 0, EM_F32, &t));
    HAS(t, DIMS(3, 3), V(1, 0, 0, 0, 1, 0, 0, 0, 1));
    em_tensor_free(t);
    CHECK_OK(em_tensor_eye(3, 4, 1, EM_I64, &t));
    HAS(t, DIMS(3, 4), V(0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1));
    em_tensor_free(t);
    CHECK_OK(em_tensor_eye(3, 2, -1, EM_BOOL, &t));
    HAS(t, DIMS(3, 2), V(0, 0, 1, 0, 0, 1));
    em_tensor_free(t);
    CHECK_OK(em_tensor_eye(2, -1, 5, EM_U8, &t)); /* m < 0: square; k past the edge: zeros */
    HAS(t, DIMS(2, 2), V(0, 0, 0, 0));
    em_tensor_free(t);
    CHECK_ERR(em_tensor_eye(-2, 2, 0, EM_F32, &t), EM_ERR_SHAPE, "negative");
}

/* ---- foreign data ---------------------------------------------------------- */
TEST(tensor_from_data) {
    float buf[6] = {0, 1, 2, 3, 4, 5};
    em_tensor *t, *v1, *v2, *c;
    releases = 0;
    CHECK_OK(em_tensor_from_data(EM_F32, DIMS(2, 3), NULL, buf, count_release, &buf, &t));
    CHECK(em_tensor_data(t) == buf);
    HAS(t, DIMS(2, 3), V(0, 1, 2, 3, 4, 5));
    CHECK_OK(em_tensor_transpose(t, 0, 1, &v1));
    CHECK_OK(em_tensor_slice(t, 1, 2, 0, -1, &v2));
    CHECK_OK(em_tensor_reshape(v1, DIMS(6), &c)); /* a copy: holds no reference to buf */
    CHECK(!em_tensor_shares_storage(c, t));
    em_tensor_free(c);
    em_tensor_free(t);
    CHECK(releases == 0);
    buf[5] = 50; /* views still see the caller's memory */
    HAS(v2, DIMS(2, 2), V(2, 1, 50, 4));
    em_tensor_free(v1);
    CHECK(releases == 0);
    em_tensor_free(v2);
    CHECK(releases == 1 && released_owner == (void *)&buf);
    /* custom strides in elements: a column-major 2x3 */
    double cm[6] = {0, 3, 1, 4, 2, 5};
    CHECK_OK(em_tensor_from_data(EM_F64, DIMS(2, 3), (int64_t[]){1, 2}, cm, NULL, NULL, &t));
    HAS(t, DIMS(2, 3), V(0, 1, 2, 3, 4, 5));
    CHECK(!em_tensor_is_contiguous(t));
    em_tensor_free(t);
    /* failures never call release */
    releases = 0;
    CHECK_ERR(em_tensor_from_data((em_dtype)8, DIMS(2), NULL, buf, count_release, buf, &t), EM_ERR_DTYPE, "dtype");
    CHECK_ERR(em_tensor_from_data(EM_F32, DIMS(-2), NULL, buf, count_release, buf, &t), EM_ERR_SHAPE, "negative");
    CHECK_ERR(em_tensor_from_data(EM_F32, DIMS(2), NULL, NULL, count_release, buf, &t), EM_ERR_INVALID_ARG, "NULL");
    CHECK_ERR(em_tensor_from_data(EM_F32, DIMS(2), NULL, buf, count_release, buf, NULL), EM_ERR_INVALID_ARG, "NULL");
    CHECK(releases == 0);
    /* an empty foreign tensor may have NULL data; release still runs once */
    CHECK_OK(em_tensor_from_data(EM_F32, DIMS(0), NULL, NULL, count_release, NULL, &t));
    em_tensor_free(t);
    CHECK(releases == 1);
}

/* ---- views --------------------------------------------------------------- */
TEST(tensor_view_reshape) {
    em_tensor *x = tensor_of(EM_I32, DIMS(2, 3, 4), NULL), *v, *w;
    CHECK_OK(em_tensor_view(x, DIMS(6, 4), &v));
    CHECK(em_tensor_shares_storage(v, x) && strides_are(v, DIMS(4, 1)));
    em_tensor_free(v);
    CHECK_OK(em_tensor_view(x, DIMS(4, -1, 2), &v)); /* -1 inferred */
    CHECK(em_tensor_shape(v)[1] == 3 && em_tensor_shares_storage(v, x));
    em_tensor_free(v);
    CHECK_OK(em_tensor_reshape(x, DIMS(24), &v));
    CHECK(em_tensor_shares_storage(v, x));
    em_tensor_free(v);
    /* a transposed tensor cannot be viewed flat: view fails, reshape copies */
    em_tensor *xt;
    CHECK_OK(em_tensor_transpose(x, 0, 2, &xt)); /* (4, 3, 2) */
    CHECK_ERR(em_tensor_view(xt, DIMS(24), &v), EM_ERR_SHAPE, "reshape");
    CHECK_OK(em_tensor_reshape(xt, DIMS(4, 6), &v));
    CHECK(!em_tensor_shares_storage(v, x) && em_tensor_is_contiguous(v));
    HAS(v, DIMS(4, 6), V(0, 12, 4, 16, 8, 20, 1, 13, 5, 17, 9, 21, 2, 14, 6, 18, 10, 22, 3, 15, 7, 19, 11, 23));
    em_tensor_free(v);
    /* splitting or adding unit axes keeps a view of a transposed tensor */
    CHECK_OK(em_tensor_view(xt, DIMS(2, 2, 1, 3, 2), &v));
    const int64_t *st = em_tensor_strides(v); /* the size-1 axis may have any stride */
    CHECK(em_tensor_shares_storage(v, x) && st[0] == 2 && st[1] == 1 && st[3] == 4 && st[4] == 12);
    em_tensor_free(v);
    em_tensor_free(xt);
    /* a sliced last axis: (2,3,3) with strides (12,4,1); merging the first
     * two axes is a view, merging the last two needs a copy */
    em_tensor *s;
    CHECK_OK(em_tensor_slice(x, 2, 0, 3, 1, &s));
    CHECK_OK(em_tensor_view(s, DIMS(6, 3), &v));
    CHECK(em_tensor_shares_storage(v, x) && strides_are(v, DIMS(4, 1)));
    HAS(v, DIMS(6, 3), V(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 16, 17, 18, 20, 21, 22));
    em_tensor_free(v);
    CHECK_ERR(em_tensor_view(s, DIMS(2, 9), &v), EM_ERR_SHAPE, "without a copy");
    CHECK_OK(em_tensor_reshape(s, DIMS(2, 9), &v));
    CHECK(!em_tensor_shares_storage(v, x));
    HAS(v, DIMS(2, 9), V(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 16, 17, 18, 20, 21, 22));
    em_tensor_free(v);
    em_tensor_free(s);
    /* a step-2 slice of the last axis is still evenly spaced: flat view */
    CHECK_OK(em_tensor_slice(x, 2, 0, 4, 2, &s));
    CHECK_OK(em_tensor_view(s, DIMS(12), &v));
    CHECK(strides_are(v, DIMS(2)));
    em_tensor_free(v);
    em_tensor_free(s);
    /* 0-d and empty */
    em_tensor *z = tensor_of(EM_F64, 0, NULL, V(7));
    CHECK_OK(em_tensor_reshape(z, DIMS(1, 1), &v));
    CHECK_OK(em_tensor_view(v, 0, NULL, &w));
    HAS(w, 0, NULL, V(7));
    em_tensor_free(w);
    em_tensor_free(v);
    em_tensor_free(z);
    CHECK_OK(em_tensor_zeros(EM_F32, DIMS(0, 4), &z));
    CHECK_OK(em_tensor_reshape(z, DIMS(2, 0, 5), &v));
    CHECK(em_tensor_numel(v) == 0 && em_tensor_shape(v)[2] == 5);
    em_tensor_free(v);
    /* -1 next to a 0 is ambiguous (NumPy refuses it too) */
    CHECK_ERR(em_tensor_reshape(z, DIMS(-1, 0), &v), EM_ERR_SHAPE, "cannot reshape");
    CHECK_ERR(em_tensor_reshape(z, DIMS(0, INT64_MAX, 4), &v), EM_ERR_SHAPE, "(0, 9223372036854775807, 4)");
    em_tensor_free(z);
    /* errors */
    CHECK_ERR(em_tensor_reshape(x, DIMS(5, -1), &v), EM_ERR_SHAPE, "(2, 3, 4)");
    CHECK_ERR(em_tensor_view(x, DIMS(25), &v), EM_ERR_SHAPE, "cannot reshape");
    CHECK_ERR(em_tensor_reshape(x, DIMS(-1, -1), &v), EM_ERR_SHAPE, "only one");
    CHECK_ERR(em_tensor_reshape(x, DIMS(-2, -12), &v), EM_ERR_SHAPE, "invalid dimension");
    CHECK_ERR(em_tensor_reshape(x, 9, (int64_t[9]){24, 1, 1, 1, 1, 1, 1, 1, 1}, &v), EM_ERR_SHAPE, "dimensions");
    CHECK_ERR(em_tensor_reshape(x, DIMS(INT64_MAX, INT64_MAX), &v), EM_ERR_SHAPE, "reshape");
    CHECK_ERR(em_tensor_reshape(x, DIMS(INT64_MAX, 4, -1), &v), EM_ERR_SHAPE, "reshape");
    em_tensor_free(x);
}

TEST(tensor_permute_transpose) {
    em_tensor *x = tensor_of(EM_F32, DIMS(2, 3, 4), NULL), *v, *w;
    CHECK_OK(em_tensor_permute(x, (int[]){2, 0, 1}, &v));
    CHECK(em_tensor_shares_storage(v, x) && strides_are(v, DIMS(1, 12, 4)) && !em_tensor_is_contiguous(v));
    double got;
    CHECK_OK(em_tensor_get(v, (int64_t[]){3, 1, 2}, &got)); /* = x[1, 2, 3] */
    CHECK(got == 23);
    CHECK_OK(em_tensor_permute(v, (int[]){-2, -1, 0}, &w)); /* inverse permutation */
    CHECK(strides_are(w, DIMS(12, 4, 1)) && em_tensor_is_contiguous(w));
    em_tensor_free(w);
    em_tensor_free(v);
    CHECK_OK(em_tensor_transpose(x, 0, -1, &v));
    CHECK(em_tensor_shape(v)[0] == 4 && strides_are(v, DIMS(1, 4, 12)));
    em_tensor_free(v);
    CHECK_OK(em_tensor_mT(x, &v));
    CHECK(em_tensor_shape(v)[1] == 4 && em_tensor_shape(v)[2] == 3 && strides_are(v, DIMS(12, 1, 4)));
    em_tensor_free(v);
    CHECK_ERR(em_tensor_permute(x, (int[]){0, 0, 1}, &v), EM_ERR_INVALID_ARG, "repeated");
    CHECK_ERR(em_tensor_permute(x, (int[]){0, 3, 1}, &v), EM_ERR_INDEX, "axis 3");
    CHECK_ERR(em_tensor_transpose(x, -4, 0, &v), EM_ERR_INDEX, "axis -4");
    em_tensor *y = tensor_of(EM_F32, DIMS(3), NULL);
    CHECK_ERR(em_tensor_mT(y, &v), EM_ERR_SHAPE, "at least 2");
    em_tensor_free(y);
    em_tensor_free(x);
}

TEST(tensor_slice) {
    em_tensor *x = tensor_of(EM_I64, DIMS(10), NULL), *v;
    static const struct {
        int64_t start, stop, step, n;
        double want[10];
    } cases[] = {
        {2, 8, 2, 3, {2, 4, 6}},
        {8, 2, -2, 3, {8, 6, 4}},
        {-3, 100, 1, 3, {7, 8, 9}},
        {100, -100, -1, 10, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
        {-100, 3, 1, 3, {0, 1, 2}},
        {5, 2, 1, 0, {0}},
        {0, 10, 3, 4, {0, 3, 6, 9}},
        {9, -11, -4, 3, {9, 5, 1}},
        {0, 10, INT64_MAX, 1, {0}},
        {INT64_MAX, INT64_MIN, INT64_MIN, 1, {9}},
        {INT64_MIN, INT64_MAX, 1, 10, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        CHECK_OK(em_tensor_slice(x, 0, cases[k].start, cases[k].stop, cases[k].step, &v));
        CHECK(em_tensor_shares_storage(v, x));
        if (!tensor_values_are(v, 1, &cases[k].n, cases[k].want)) {
            fprintf(stderr, "  slice case %zu\n", k);
            test_failures++;
        }
        em_tensor_free(v);
    }
    em_tensor_free(x);
    /* 2-D: negative step on axis 1, then slice of a slice */
    x = tensor_of(EM_F64, DIMS(3, 4), NULL);
    CHECK_OK(em_tensor_slice(x, -1, 3, 0, -2, &v));
    CHECK(strides_are(v, DIMS(4, -2)));
    HAS(v, DIMS(3, 2), V(3, 1, 7, 5, 11, 9));
    em_tensor *w;
    CHECK_OK(em_tensor_slice(v, 0, 1, 3, 1, &w));
    HAS(w, DIMS(2, 2), V(7, 5, 11, 9));
    em_tensor_free(w);
    em_tensor_free(v);
    CHECK_ERR(em_tensor_slice(x, 0, 0, 3, 0, &v), EM_ERR_INVALID_ARG, "step");
    CHECK_ERR(em_tensor_slice(x, 2, 0, 3, 1, &v), EM_ERR_INDEX, "axis 2");
    em_tensor_free(x);
}

TEST(tensor_select) {
    em_tensor *x = tensor_of(EM_I8, DIMS(3, 4), NULL), *v;
    CHECK_OK(em_tensor_select(x, 0, -1, &v));
    HAS(v, DIMS(4), V(8, 9, 10, 11));
    CHECK(em_tensor_shares_storage(v, x));
    em_tensor_free(v);
    CHECK_OK(em_tensor_select(x, 1, 2, &v));
    HAS(v, DIMS(3), V(2, 6, 10));
    CHECK(strides_are(v, DIMS(4)));
    em_tensor *s;
    CHECK_OK(em_tensor_select(v, 0, 1, &s)); /* down to 0-d */
    HAS(s, 0, NULL, V(6));
    em_tensor_free(s);
    em_tensor_free(v);
    CHECK_ERR(em_tensor_select(x, 0, 3, &v), EM_ERR_INDEX, "index 3 is out of bounds for axis 0 with size 3");
    CHECK_ERR(em_tensor_select(x, 1, -5, &v), EM_ERR_INDEX, "-5");
    CHECK_ERR(em_tensor_select(x, 1, 0, &v), EM_OK, "");
    em_tensor_free(v);
    CHECK_ERR(em_tensor_select(x, 2, 0, &v), EM_ERR_INDEX, "axis 2");
    em_tensor_free(x);
}

TEST(tensor_expand) {
    em_tensor *x = tensor_of(EM_F32, DIMS(3, 1), NULL), *v;
    CHECK_OK(em_tensor_expand(x, DIMS(2, 3, 4), &v));
    CHECK(em_tensor_shares_storage(v, x) && strides_are(v, DIMS(0, 1, 0)));
    double got;
    CHECK_OK(em_tensor_get(v, (int64_t[]){1, 2, 3}, &got));
    CHECK(got == 2);
    em_tensor_free(v);
    em_tensor *z = tensor_of(EM_I32, 0, NULL, V(5));
    CHECK_OK(em_tensor_expand(z, DIMS(2, 2), &v));
    HAS(v, DIMS(2, 2), V(5, 5, 5, 5));
    em_tensor_free(v);
    CHECK_OK(em_tensor_expand(x, DIMS(3, 0), &v)); /* 1 -> 0 is allowed */
    CHECK(em_tensor_numel(v) == 0);
    em_tensor_free(v);
    em_tensor_free(z);
    CHECK_ERR(em_tensor_expand(x, DIMS(2, 4), &v), EM_ERR_SHAPE, "axis 0: 3 vs 2");
    CHECK_ERR(em_tensor_expand(x, DIMS(3), &v), EM_ERR_SHAPE, "fewer dimensions");
    CHECK_ERR(em_tensor_expand(x, DIMS(3, -1), &v), EM_ERR_SHAPE, "negative");
    em_tensor_free(x);
}

TEST(tensor_squeeze_unsqueeze_flatten) {
    em_tensor *x = tensor_of(EM_U8, DIMS(1, 3, 1, 2), NULL), *v, *w;
    CHECK_OK(em_tensor_squeeze(x, NULL, 0, &v));
    HAS(v, DIMS(3, 2), V(0, 1, 2, 3, 4, 5));
    em_tensor_free(v);
    CHECK_OK(em_tensor_squeeze(x, (int[]){0, -2}, 2, &v));
    HAS(v, DIMS(3, 2), V(0, 1, 2, 3, 4, 5));
    CHECK(em_tensor_shares_storage(v, x));
    for (int a = -3; a <= 2; a++) {
        CHECK_OK(em_tensor_unsqueeze(v, a, &w));
        int pos = a < 0 ? a + 3 : a;
        CHECK(em_tensor_ndim(w) == 3 && em_tensor_shape(w)[pos] == 1 && em_tensor_numel(w) == 6);
        em_tensor_free(w);
    }
    CHECK_ERR(em_tensor_unsqueeze(v, 3, &w), EM_ERR_INDEX, "axis 3");
    CHECK_ERR(em_tensor_unsqueeze(v, -4, &w), EM_ERR_INDEX, "axis -4");
    em_tensor_free(v);
    CHECK_ERR(em_tensor_squeeze(x, (int[]){1}, 1, &v), EM_ERR_SHAPE, "size 3");
    CHECK_ERR(em_tensor_squeeze(x, (int[]){0, -4}, 2, &v), EM_ERR_INVALID_ARG, "twice");
    CHECK_ERR(em_tensor_squeeze(x, (int[]){4}, 1, &v), EM_ERR_INDEX, "axis 4");
    em_tensor_free(x);
    em_tensor *big;
    CHECK_OK(em_tensor_zeros(EM_F32, DIMS(1, 1, 1, 1, 1, 1, 1, 1), &big));
    CHECK_ERR(em_tensor_unsqueeze(big, 0, &v), EM_ERR_SHAPE, "maximum");
    em_tensor_free(big);
    /* flatten: a view when possible, a copy otherwise */
    x = tensor_of(EM_F64, DIMS(2, 3, 4), NULL);
    CHECK_OK(em_tensor_flatten(x, 0, -1, &v));
    CHECK(em_tensor_ndim(v) == 1 && em_tensor_shares_storage(v, x));
    em_tensor_free(v);
    CHECK_OK(em_tensor_flatten(x, 1, 2, &v));
    CHECK(em_tensor_shape(v)[1] == 12 && em_tensor_shares_storage(v, x));
    em_tensor_free(v);
    em_tensor *t;
    CHECK_OK(em_tensor_transpose(x, 1, 2, &t));
    CHECK_OK(em_tensor_flatten(t, 1, 2, &v));
    CHECK(!em_tensor_shares_storage(v, x));
    double got;
    CHECK_OK(em_tensor_get(v, (int64_t[]){1, 1}, &got)); /* t[1, 0, 1] = x[1, 1, 0] */
    CHECK(got == 16);
    em_tensor_free(v);
    CHECK_OK(em_tensor_flatten(t, 0, 0, &v)); /* a single axis: unchanged view */
    CHECK(em_tensor_shares_storage(v, x) && em_tensor_ndim(v) == 3);
    em_tensor_free(v);
    em_tensor_free(t);
    CHECK_ERR(em_tensor_flatten(x, 2, 1, &v), EM_ERR_INVALID_ARG, "start axis 2 is after end axis 1");
    CHECK_ERR(em_tensor_flatten(x, 0, 3, &v), EM_ERR_INDEX, "axis 3");
    em_tensor_free(x);
    x = tensor_of(EM_I32, 0, NULL, V(4));
    CHECK_OK(em_tensor_flatten(x, 0, -1, &v));
    HAS(v, DIMS(1), V(4));
    em_tensor_free(v);
    em_tensor_free(x);
}

TEST(tensor_flip) {
    em_tensor *x = tensor_of(EM_I32, DIMS(2, 3), NULL), *v, *w;
    CHECK_OK(em_tensor_flip(x, NULL, 0, &v));
    HAS(v, DIMS(2, 3), V(5, 4, 3, 2, 1, 0));
    CHECK(strides_are(v, DIMS(-3, -1)) && em_tensor_shares_storage(v, x));
    CHECK_OK(em_tensor_flip(v, (int[]){0}, 1, &w)); /* flipping back one axis */
    HAS(w, DIMS(2, 3), V(2, 1, 0, 5, 4, 3));
    em_tensor_free(w);
    em_tensor_free(v);
    CHECK_OK(em_tensor_flip(x, (int[]){-1}, 1, &v));
    HAS(v, DIMS(2, 3), V(2, 1, 0, 5, 4, 3));
    em_tensor_free(v);
    CHECK_ERR(em_tensor_flip(x, (int[]){1, -1}, 2, &v), EM_ERR_INVALID_ARG, "twice");
    CHECK_ERR(em_tensor_flip(x, (int[]){2}, 1, &v), EM_ERR_INDEX, "axis 2");
    em_tensor_free(x);
    CHECK_OK(em_tensor_zeros(EM_F32, DIMS(0, 2), &x));
    CHECK_OK(em_tensor_flip(x, NULL, 0, &v));
    CHECK(em_tensor_numel(v) == 0);
    em_tensor_free(v);
    em_tensor_free(x);
}

/* ---- copies and casts ------------------------------------------------------- */
TEST(tensor_contiguous_clone) {
    em_tensor *x = tensor_of(EM_F32, DIMS(2, 3), NULL), *c, *t;
    CHECK_OK(em_tensor_contiguous(x, &c));
    CHECK(c == x); /* already contiguous: a new reference to x itself */
    em_tensor_free(c);
    CHECK_OK(em_tensor_clone(x, &c));
    CHECK(c != x && !em_tensor_shares_storage(c, x));
    HAS(c, DIMS(2, 3), V(0, 1, 2, 3, 4, 5));
    em_tensor_free(c);
    CHECK_OK(em_tensor_mT(x, &t));
    CHECK_OK(em_tensor_contiguous(t, &c));
    CHECK(em_tensor_is_contiguous(c) && !em_tensor_shares_storage(c, x));
    HAS(c, DIMS(3, 2), V(0, 3, 1, 4, 2, 5));
    em_tensor_free(c);
    em_tensor_free(t);
    CHECK_OK(em_tensor_flip(x, NULL, 0, &t));
    CHECK_OK(em_tensor_clone(t, &c));
    HAS(c, DIMS(2, 3), V(5, 4, 3, 2, 1, 0));
    CHECK(strides_are(c, DIMS(3, 1)));
    em_tensor_free(c);
    em_tensor_free(t);
    CHECK_ERR(em_tensor_clone(NULL, &c), EM_ERR_INVALID_ARG, "clone");
    CHECK_ERR(em_tensor_contiguous(x, NULL), EM_ERR_INVALID_ARG, "contiguous");
    em_tensor_free(x);
}

TEST(tensor_cast) {
    em_tensor *x = tensor_of(EM_F64, DIMS(8), V(-2.75, -0.5, 0.5, 2.75, NAN, -0.0, 100.9, -100.9)), *c;
    static const struct {
        em_dtype dt;
        double want[8];
    } cases[] = {
        {EM_I64, {-2, 0, 0, 2, 0, 0, 100, -100}},
        {EM_I32, {-2, 0, 0, 2, 0, 0, 100, -100}},
        {EM_I8, {-2, 0, 0, 2, 0, 0, 100, -100}},
        {EM_U8, {0, 0, 0, 2, 0, 0, 100, 0}},     /* out of range saturates */
        {EM_BOOL, {1, 1, 1, 1, 1, 0, 1, 1}},     /* != 0: NaN is true, -0.0 false */
        {EM_F32, {-2.75, -0.5, 0.5, 2.75, NAN, -0.0, 100.9f, -100.9f}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        CHECK_OK(em_tensor_cast(x, cases[k].dt, &c));
        CHECK(em_tensor_dtype(c) == cases[k].dt);
        if (!tensor_values_are(c, DIMS(8), cases[k].want)) {
            fprintf(stderr, "  cast to %s\n", em_dtype_name(cases[k].dt));
            test_failures++;
        }
        em_tensor_free(c);
    }
    /* float32 source, strided (every other element) */
    em_tensor *f = tensor_of(EM_F32, DIMS(6), V(1.5, 9, -1.5, 9, NAN, 9)), *s;
    CHECK_OK(em_tensor_slice(f, 0, 0, 6, 2, &s));
    CHECK_OK(em_tensor_cast(s, EM_I32, &c));
    HAS(c, DIMS(3), V(1, -1, 0));
    em_tensor_free(c);
    em_tensor_free(s);
    em_tensor_free(f);
    /* huge and infinite floats to integers: defined, no UB (i64 saturates) */
    em_tensor *h = tensor_of(EM_F64, DIMS(3), V(1e300, -INFINITY, INFINITY));
    CHECK_OK(em_tensor_cast(h, EM_I64, &c));
    CHECK(((int64_t *)em_tensor_data(c))[0] == INT64_MAX && ((int64_t *)em_tensor_data(c))[1] == INT64_MIN);
    em_tensor_free(c);
    CHECK_OK(em_tensor_cast(h, EM_I8, &c));
    em_tensor_free(c);
    em_tensor_free(h);
    /* integers: to bool, wrap into u8, widen */
    em_tensor *i = tensor_of(EM_I64, DIMS(4), V(0, -1, 300, 2));
    CHECK_OK(em_tensor_cast(i, EM_BOOL, &c));
    HAS(c, DIMS(4), V(0, 1, 1, 1));
    em_tensor_free(c);
    CHECK_OK(em_tensor_cast(i, EM_U8, &c));
    HAS(c, DIMS(4), V(0, 255, 44, 2));
    em_tensor_free(c);
    em_tensor_free(i);
    /* every dtype pair carries 0 and 1 exactly */
    for (int a = 0; a < EM_DTYPE_COUNT; a++)
        for (int b = 0; b < EM_DTYPE_COUNT; b++) {
            em_tensor *src = tensor_of((em_dtype)a, DIMS(2), V(1, 0));
            CHECK_OK(em_tensor_cast(src, (em_dtype)b, &c));
            HAS(c, DIMS(2), V(1, 0));
            em_tensor_free(c);
            em_tensor_free(src);
        }
    CHECK_ERR(em_tensor_cast(x, (em_dtype)7, &c), EM_ERR_DTYPE, "dtype 7");
    em_tensor_free(x);
}

TEST(tensor_copy_into_fill) {
    em_tensor *d, *s, *v;
    CHECK_OK(em_tensor_zeros(EM_F32, DIMS(2, 3), &d));
    s = tensor_of(EM_I32, DIMS(3), V(1, 2, 3));
    CHECK_OK(em_tensor_copy_into(d, s)); /* broadcast and cast */
    HAS(d, DIMS(2, 3), V(1, 2, 3, 1, 2, 3));
    em_tensor_free(s);
    s = tensor_of(EM_F64, DIMS(2, 1), V(7, 8));
    CHECK_OK(em_tensor_copy_into(d, s));
    HAS(d, DIMS(2, 3), V(7, 7, 7, 8, 8, 8));
    em_tensor_free(s);
    s = tensor_of(EM_BOOL, 0, NULL, V(1));
    CHECK_OK(em_tensor_copy_into(d, s));
    HAS(d, DIMS(2, 3), V(1, 1, 1, 1, 1, 1));
    em_tensor_free(s);
    /* into a transposed view */
    CHECK_OK(em_tensor_mT(d, &v));
    s = tensor_of(EM_F32, DIMS(3, 2), NULL);
    CHECK_OK(em_tensor_copy_into(v, s));
    HAS(d, DIMS(2, 3), V(0, 2, 4, 1, 3, 5));
    em_tensor_free(s);
    em_tensor_free(v);
    CHECK_ERR(em_tensor_copy_into(d, s = tensor_of(EM_F32, DIMS(4), NULL)), EM_ERR_SHAPE, "(4,)");
    em_tensor_free(s);
    CHECK_ERR(em_tensor_copy_into(d, s = tensor_of(EM_F32, DIMS(1, 2, 3), NULL)), EM_ERR_SHAPE, "(1, 2, 3) float32");
    em_tensor_free(s);
    CHECK_ERR(em_tensor_copy_into(NULL, d), EM_ERR_INVALID_ARG, "copy_into");
    em_tensor_free(d);
    /* overlapping source and destination behave like memmove */
    em_tensor *x = tensor_of(EM_I64, DIMS(6), NULL), *a, *b;
    CHECK_OK(em_tensor_slice(x, 0, 1, 6, 1, &a));
    CHECK_OK(em_tensor_slice(x, 0, 0, 5, 1, &b));
    CHECK_OK(em_tensor_copy_into(a, b)); /* x[1:] = x[:5] */
    HAS(x, DIMS(6), V(0, 0, 1, 2, 3, 4));
    CHECK_OK(em_tensor_copy_into(b, a)); /* x[:5] = x[1:] */
    HAS(x, DIMS(6), V(0, 1, 2, 3, 4, 4));
    em_tensor_free(a);
    em_tensor_free(b);
    CHECK_OK(em_tensor_flip(x, NULL, 0, &a));
    CHECK_OK(em_tensor_copy_into(x, a)); /* reverse in place */
    HAS(x, DIMS(6), V(4, 4, 3, 2, 1, 0));
    CHECK_OK(em_tensor_copy_into(x, x));
    HAS(x, DIMS(6), V(4, 4, 3, 2, 1, 0));
    em_tensor_free(a);
    /* fill: a strided view only touches its elements; NaN into an integer gives 0 */
    CHECK_OK(em_tensor_slice(x, 0, 5, -100, -2, &a));
    CHECK_OK(em_tensor_fill(a, -7));
    HAS(x, DIMS(6), V(4, -7, 3, -7, 1, -7));
    CHECK_OK(em_tensor_fill(a, NAN));
    HAS(x, DIMS(6), V(4, 0, 3, 0, 1, 0));
    em_tensor_free(a);
    em_tensor_free(x);
    CHECK_OK(em_tensor_zeros(EM_BOOL, DIMS(2), &x));
    CHECK_OK(em_tensor_fill(x, 0.25));
    HAS(x, DIMS(2), V(1, 1));
    em_tensor_free(x);
    CHECK_ERR(em_tensor_fill(NULL, 1), EM_ERR_INVALID_ARG, "fill");
}

TEST(tensor_get_set_item) {
    em_tensor *x = tensor_of(EM_F32, DIMS(2, 3), NULL), *v;
    double got;
    CHECK_OK(em_tensor_get(x, (int64_t[]){-1, -1}, &got));
    CHECK(got == 5);
    CHECK_OK(em_tensor_set(x, (int64_t[]){0, -2}, 2.5));
    CHECK_OK(em_tensor_get(x, (int64_t[]){0, 1}, &got));
    CHECK(got == 2.5);
    CHECK_OK(em_tensor_mT(x, &v)); /* writes through a view reach the base */
    CHECK_OK(em_tensor_set(v, (int64_t[]){2, 1}, -9));
    CHECK_OK(em_tensor_get(x, (int64_t[]){1, 2}, &got));
    CHECK(got == -9);
    em_tensor_free(v);
    CHECK_ERR(em_tensor_get(x, (int64_t[]){0, 3}, &got), EM_ERR_INDEX, "index 3 is out of bounds for axis 1 with size 3");
    CHECK_ERR(em_tensor_set(x, (int64_t[]){-3, 0}, 1), EM_ERR_INDEX, "index -3");
    CHECK_ERR(em_tensor_item(x, &got), EM_ERR_SHAPE, "6 elements");
    em_tensor_free(x);
    x = tensor_of(EM_I64, DIMS(1, 1), V(-4));
    CHECK_OK(em_tensor_item(x, &got));
    CHECK(got == -4);
    CHECK_OK(em_tensor_set(x, (int64_t[]){0, 0}, 3.9)); /* truncates */
    CHECK_OK(em_tensor_item(x, &got));
    CHECK(got == 3);
    em_tensor_free(x);
}

/* ---- dtype promotion and broadcasting --------------------------------------- */
TEST(tensor_promote_types) {
#define B EM_BOOL
#define U EM_U8
#define I8 EM_I8
#define I32 EM_I32
#define I64 EM_I64
#define F EM_F32
#define D EM_F64
    static const em_dtype want[7][7] = {
        /*        bool u8   i8   i32  i64  f32 f64 */
        /* bool */ {B, U, I8, I32, I64, F, D},
        /* u8   */ {U, U, I32, I32, I64, F, D},
        /* i8   */ {I8, I32, I8, I32, I64, F, D},
        /* i32  */ {I32, I32, I32, I32, I64, F, D},
        /* i64  */ {I64, I64, I64, I64, I64, F, D},
        /* f32  */ {F, F, F, F, F, F, D},
        /* f64  */ {D, D, D, D, D, D, D},
    };
#undef B
#undef U
#undef I8
#undef I32
#undef I64
#undef F
#undef D
    /* safe casts by hand: row = from, column = to */
    static const bool cast[7][7] = {
        {1, 1, 1, 1, 1, 1, 1}, {0, 1, 0, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1, 1}, {0, 0, 0, 1, 1, 1, 1},
        {0, 0, 0, 0, 1, 1, 1}, {0, 0, 0, 0, 0, 1, 1}, {0, 0, 0, 0, 0, 0, 1},
    };
    for (int a = 0; a < 7; a++)
        for (int b = 0; b < 7; b++) {
            if (em_promote_types((em_dtype)a, (em_dtype)b) != want[a][b]) {
                fprintf(stderr, "  promote(%s, %s)\n", em_dtype_name((em_dtype)a), em_dtype_name((em_dtype)b));
                test_failures++;
            }
            if (em_can_cast((em_dtype)a, (em_dtype)b) != cast[a][b]) {
                fprintf(stderr, "  can_cast(%s, %s)\n", em_dtype_name((em_dtype)a), em_dtype_name((em_dtype)b));
                test_failures++;
            }
        }
    CHECK(!em_can_cast((em_dtype)7, EM_F64) && !em_can_cast(EM_F64, (em_dtype)-1));
}

TEST(tensor_broadcast_shapes) {
    static const struct {
        int na;
        int64_t a[4];
        int nb;
        int64_t b[4];
        int nw;
        int64_t w[4];
    } ok[] = {
        {2, {3, 1}, 2, {1, 4}, 2, {3, 4}},
        {3, {5, 1, 4}, 2, {3, 1}, 3, {5, 3, 4}},
        {0, {0}, 1, {2}, 1, {2}},
        {1, {0}, 1, {1}, 1, {0}},
        {2, {1, 1}, 0, {0}, 2, {1, 1}},
    };
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        int nd = -1;
        int64_t out[EM_MAX_DIMS];
        CHECK_OK(em_broadcast_shapes(ok[k].na, ok[k].a, ok[k].nb, ok[k].b, &nd, out));
        CHECK(nd == ok[k].nw && memcmp(out, ok[k].w, sizeof(int64_t) * (size_t)nd) == 0);
    }
    int nd;
    int64_t out[EM_MAX_DIMS];
    CHECK_ERR(em_broadcast_shapes(DIMS(2, 3), DIMS(3, 2), &nd, out), EM_ERR_SHAPE, "cannot be broadcast (axis 0: 2 vs 3)");
    CHECK_ERR(em_broadcast_shapes(DIMS(0), DIMS(2), &nd, out), EM_ERR_SHAPE, "(0,) and (2,)");
    CHECK_ERR(em_broadcast_shapes(9, (int64_t[9]){1, 1, 1, 1, 1, 1, 1, 1, 1}, DIMS(2), &nd, out), EM_ERR_SHAPE,
              "dimensions");
    CHECK_ERR(em_broadcast_shapes(DIMS(-1), DIMS(1), &nd, out), EM_ERR_SHAPE, "negative");
}

TEST(tensor_shape_errors) {
    em_tensor *t = NULL;
    CHECK_ERR(em_tensor_empty(EM_F32, 9, (int64_t[9]){1, 1, 1, 1, 1, 1, 1, 1, 1}, &t), EM_ERR_SHAPE, "9 dimensions");
    CHECK_ERR(em_tensor_zeros(EM_F32, -1, NULL, &t), EM_ERR_SHAPE, "-1 dimensions");
    CHECK_ERR(em_tensor_ones(EM_F32, DIMS(2, -3), &t), EM_ERR_SHAPE, "negative dimension -3 at axis 1");
    CHECK_ERR(em_tensor_full(EM_F32, DIMS(INT64_MAX, 4), 0, &t), EM_ERR_SHAPE, "too large");
    CHECK_ERR(em_tensor_empty(EM_F32, DIMS(0, INT64_MAX, 4), &t), EM_ERR_SHAPE, "too large");
    CHECK_ERR(em_tensor_empty(EM_F32, 2, NULL, &t), EM_ERR_INVALID_ARG, "NULL");
    CHECK_ERR(em_tensor_empty((em_dtype)-1, DIMS(2), &t), EM_ERR_DTYPE, "dtype -1");
    CHECK_ERR(em_tensor_empty(EM_F32, DIMS(2), NULL), EM_ERR_INVALID_ARG, "NULL");
    CHECK(t == NULL); /* out-parameters are untouched on error */
    /* the last error is per call: cleared, then overwritten */
    em_clear_error();
    CHECK(em_last_error()[0] == '\0');
}
