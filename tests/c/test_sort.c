/* Tests of sort, topk, softmax and log_softmax.  Sort results are checked
 * against hand-written values and, for long rows, against the definition of
 * a stable sort; softmax against a double-precision libm reference. */
#include <stdint.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

/* ---- sort ----------------------------------------------------------------- */

TEST(sort_nan_ties_and_direction) {
    em_tensor *x = tensor_of(EM_F32, 1, SH(6), V(3, NAN, 1, 3, -INFINITY, 1)), *v, *i;
    CHECK_OK(em_sort(x, 0, false, &v, &i));
    CHECK(tensor_equals(v, EM_F32, 1, SH(6), V(-INFINITY, 1, 1, 3, 3, NAN)));
    CHECK(tensor_equals(i, EM_I64, 1, SH(6), V(4, 2, 5, 0, 3, 1)));
    em_tensor_free(v), em_tensor_free(i);
    CHECK_OK(em_sort(x, -1, true, &v, &i));
    CHECK(tensor_equals(v, EM_F32, 1, SH(6), V(NAN, 3, 3, 1, 1, -INFINITY)));
    CHECK(tensor_equals(i, EM_I64, 1, SH(6), V(1, 0, 3, 2, 5, 4)));
    em_tensor_free(v), em_tensor_free(i), em_tensor_free(x);
    /* -0.0 and 0.0 are equal: original order kept */
    x = tensor_of(EM_F64, 1, SH(3), V(0.0, -0.0, -1));
    CHECK_OK(em_sort(x, 0, false, NULL, &i));
    CHECK(tensor_equals(i, EM_I64, 1, SH(3), V(2, 0, 1)));
    em_tensor_free(i);
    CHECK_OK(em_sort(x, 0, true, NULL, &i));
    CHECK(tensor_equals(i, EM_I64, 1, SH(3), V(0, 1, 2)));
    em_tensor_free(i), em_tensor_free(x);
}

TEST(sort_every_dtype) {
    for (int k = 0; k < 7; k++) {
        em_dtype dt = all_dtypes[k];
        em_tensor *x = tensor_of(dt, 1, SH(5), V(1, 0, 1, 0, 1)), *v, *i;
        CHECK_OK(em_sort(x, 0, false, &v, &i));
        CHECK(tensor_equals(v, dt, 1, SH(5), V(0, 0, 1, 1, 1)));
        CHECK(tensor_equals(i, EM_I64, 1, SH(5), V(1, 3, 0, 2, 4)));
        em_tensor_free(v), em_tensor_free(i);
        CHECK_OK(em_sort(x, 0, true, &v, NULL));
        CHECK(tensor_equals(v, dt, 1, SH(5), V(1, 1, 1, 0, 0)));
        em_tensor_free(v), em_tensor_free(x);
    }
    /* full ranges of the narrow and wide types */
    em_tensor *u = tensor_of(EM_U8, 1, SH(3), V(255, 0, 128)), *s = tensor_of(EM_I8, 1, SH(3), V(127, -128, 0)), *v;
    CHECK_OK(em_sort(u, 0, false, &v, NULL));
    CHECK(tensor_equals(v, EM_U8, 1, SH(3), V(0, 128, 255)));
    em_tensor_free(v);
    CHECK_OK(em_sort(s, 0, false, &v, NULL));
    CHECK(tensor_equals(v, EM_I8, 1, SH(3), V(-128, 0, 127)));
    em_tensor_free(v), em_tensor_free(u), em_tensor_free(s);
    em_tensor *l;
    CHECK_OK(em_tensor_empty(EM_I64, 1, SH(3), &l));
    int64_t *p = em_tensor_data(l);
    p[0] = INT64_MAX, p[1] = INT64_MIN, p[2] = -1;
    CHECK_OK(em_sort(l, 0, false, &v, NULL));
    const int64_t *q = em_tensor_data(v);
    CHECK(q[0] == INT64_MIN && q[1] == -1 && q[2] == INT64_MAX);
    em_tensor_free(v), em_tensor_free(l);
}

TEST(sort_axes_and_views) {
    /* [[3,1,2],[0,5,4]] */
    em_tensor *x = tensor_of(EM_I32, 2, SH(2, 3), V(3, 1, 2, 0, 5, 4)), *v, *i, *xt, *xf;
    CHECK_OK(em_sort(x, 0, false, &v, &i));
    CHECK(tensor_equals(v, EM_I32, 2, SH(2, 3), V(0, 1, 2, 3, 5, 4)));
    CHECK(tensor_equals(i, EM_I64, 2, SH(2, 3), V(1, 0, 0, 0, 1, 1)));
    em_tensor_free(v), em_tensor_free(i);
    CHECK_OK(em_sort(x, 1, true, &v, &i));
    CHECK(tensor_equals(v, EM_I32, 2, SH(2, 3), V(3, 2, 1, 5, 4, 0)));
    CHECK(tensor_equals(i, EM_I64, 2, SH(2, 3), V(0, 2, 1, 1, 2, 0)));
    em_tensor_free(v), em_tensor_free(i);
    /* transposed: [[3,0],[1,5],[2,4]] sorted along axis 0 */
    CHECK_OK(em_tensor_transpose(x, 0, 1, &xt));
    CHECK_OK(em_sort(xt, -2, false, &v, &i));
    CHECK(tensor_equals(v, EM_I32, 2, SH(3, 2), V(1, 0, 2, 4, 3, 5)));
    CHECK(tensor_equals(i, EM_I64, 2, SH(3, 2), V(1, 0, 2, 2, 0, 1)));
    em_tensor_free(v), em_tensor_free(i);
    /* flipped rows: [[2,1,3],[4,5,0]] */
    CHECK_OK(em_tensor_flip(x, (const int[]){1}, 1, &xf));
    CHECK_OK(em_sort(xf, 1, false, &v, &i));
    CHECK(tensor_equals(v, EM_I32, 2, SH(2, 3), V(1, 2, 3, 0, 4, 5)));
    CHECK(tensor_equals(i, EM_I64, 2, SH(2, 3), V(1, 0, 2, 2, 0, 1)));
    em_tensor_free(v), em_tensor_free(i), em_tensor_free(xt), em_tensor_free(xf), em_tensor_free(x);
    /* 0-d and empty */
    em_tensor *s = tensor_of(EM_F32, 0, NULL, V(4)), *e = tensor_of(EM_F32, 2, SH(0, 3), V(0));
    em_tensor *e2 = tensor_of(EM_F32, 2, SH(2, 0), V(0));
    CHECK_OK(em_sort(s, -1, false, &v, &i));
    CHECK(tensor_equals(v, EM_F32, 0, NULL, V(4)) && tensor_equals(i, EM_I64, 0, NULL, V(0)));
    em_tensor_free(v), em_tensor_free(i);
    CHECK_OK(em_sort(e, 1, false, &v, &i));
    CHECK(tensor_equals(v, EM_F32, 2, SH(0, 3), V(0)) && tensor_equals(i, EM_I64, 2, SH(0, 3), V(0)));
    em_tensor_free(v), em_tensor_free(i);
    CHECK_OK(em_sort(e2, 1, true, &v, &i));
    CHECK(tensor_equals(v, EM_F32, 2, SH(2, 0), V(0)));
    em_tensor_free(v), em_tensor_free(i);
    /* errors */
    v = i = NULL;
    CHECK_STATUS(em_sort(e, 2, false, &v, &i), EM_ERR_INDEX);
    CHECK_STATUS(em_sort(s, 1, false, &v, &i), EM_ERR_INDEX);
    CHECK_STATUS(em_sort(e, 0, false, NULL, NULL), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_sort(NULL, 0, false, &v, &i), EM_ERR_INVALID_ARG);
    CHECK(v == NULL && i == NULL);
    em_tensor_free(s), em_tensor_free(e), em_tensor_free(e2);
}

/* Long rows (beyond the insertion-sort runs): checks the definition of a
 * stable sort: indices are a permutation, values[j] = x[indices[j]], values
 * ordered, and equal values keep increasing indices. */
TEST(sort_long_rows_are_stable) {
    enum { N = 1000 };
    static double buf[N];
    uint32_t r = 12345;
    for (int j = 0; j < N; j++) {
        r = r * 1664525u + 1013904223u;
        buf[j] = (r >> 16) % 37 == 0 ? NAN : (double)((int)((r >> 8) % 50) - 25);
    }
    for (int desc = 0; desc < 2; desc++)
        for (int k = 3; k < 7; k++) {
            em_dtype dt = all_dtypes[k];
            em_tensor *x = tensor_of(dt, 1, SH(N), buf), *v, *i;
            CHECK_OK(em_sort(x, 0, desc, &v, &i));
            static bool seen[N];
            memset(seen, 0, sizeof seen);
            bool ok = true;
            for (int j = 0; j < N; j++) {
                int64_t ix = (int64_t)value_at(i, j);
                double vj = value_at(v, j), xj = value_at(x, ix);
                ok &= ix >= 0 && ix < N && !seen[ix] && (vj == xj || (vj != vj && xj != xj));
                if (ix >= 0 && ix < N) seen[ix] = true;
                if (j == 0) continue;
                double a = value_at(v, j - 1), b = vj;
                bool a_nan = a != a, b_nan = b != b;
                /* ascending: a <= b, NaN last; descending: a >= b, NaN first */
                bool ordered = desc ? (a_nan || (!b_nan && a >= b)) : (b_nan || (!a_nan && a <= b));
                bool tie = (a == b) || (a_nan && b_nan);
                ok &= ordered && (!tie || value_at(i, j - 1) < ix);
            }
            CHECK(ok);
            em_tensor_free(v), em_tensor_free(i), em_tensor_free(x);
        }
}

/* ---- topk ----------------------------------------------------------------- */

TEST(sort_topk) {
    em_tensor *x = tensor_of(EM_F64, 1, SH(5), V(1, 3, 2, 3, NAN)), *v, *i;
    CHECK_OK(em_topk(x, 3, 0, true, &v, &i));
    CHECK(tensor_equals(v, EM_F64, 1, SH(3), V(NAN, 3, 3)));
    CHECK(tensor_equals(i, EM_I64, 1, SH(3), V(4, 1, 3)));
    em_tensor_free(v), em_tensor_free(i);
    CHECK_OK(em_topk(x, 2, -1, false, &v, &i));
    CHECK(tensor_equals(v, EM_F64, 1, SH(2), V(1, 2)));
    CHECK(tensor_equals(i, EM_I64, 1, SH(2), V(0, 2)));
    em_tensor_free(v), em_tensor_free(i);
    CHECK_OK(em_topk(x, 0, 0, true, &v, &i));
    CHECK(tensor_equals(v, EM_F64, 1, SH(0), V(0)) && tensor_equals(i, EM_I64, 1, SH(0), V(0)));
    em_tensor_free(v), em_tensor_free(i);
    CHECK_OK(em_topk(x, 5, 0, false, NULL, &i));
    CHECK(tensor_equals(i, EM_I64, 1, SH(5), V(0, 2, 1, 3, 4)));
    em_tensor_free(i);
    /* along axis 0 of a transposed u8 matrix: xt = [[5,7],[9,7],[5,8]] */
    em_tensor *m = tensor_of(EM_U8, 2, SH(2, 3), V(5, 9, 5, 7, 7, 8)), *mt;
    CHECK_OK(em_tensor_transpose(m, 0, 1, &mt));
    CHECK_OK(em_topk(mt, 2, 0, true, &v, &i));
    CHECK(tensor_equals(v, EM_U8, 2, SH(2, 2), V(9, 8, 5, 7)));
    CHECK(tensor_equals(i, EM_I64, 2, SH(2, 2), V(1, 2, 0, 0)));
    em_tensor_free(v), em_tensor_free(i);
    CHECK_OK(em_topk(mt, 1, 1, false, &v, &i));
    CHECK(tensor_equals(v, EM_U8, 2, SH(3, 1), V(5, 7, 5)));
    CHECK(tensor_equals(i, EM_I64, 2, SH(3, 1), V(0, 1, 0)));
    em_tensor_free(v), em_tensor_free(i);
    /* errors */
    v = i = NULL;
    CHECK_STATUS(em_topk(x, 6, 0, true, &v, &i), EM_ERR_INDEX);
    CHECK_STATUS(em_topk(x, -1, 0, true, &v, &i), EM_ERR_INDEX);
    CHECK_STATUS(em_topk(x, 1, 1, true, &v, &i), EM_ERR_INDEX);
    CHECK_STATUS(em_topk(x, 1, 0, true, NULL, NULL), EM_ERR_INVALID_ARG);
    CHECK(v == NULL && i == NULL);
    /* a huge broadcast row is refused, not overflowed */
    em_tensor *s = tensor_of(EM_F64, 0, NULL, V(1)), *big;
    CHECK_OK(em_tensor_expand(s, 1, SH(INT64_MAX / 8), &big));
    CHECK_STATUS(em_topk(big, 1, 0, true, &v, NULL), EM_ERR_NOMEM);
    em_tensor_free(big), em_tensor_free(s);
    em_tensor_free(m), em_tensor_free(mt), em_tensor_free(x);
}

/* ---- softmax / log_softmax ------------------------------------------------ */

/* Checks softmax and log_softmax of x (shape (rows, n) as seen through
 * along, axis) against a double reference from the values `ref`
 * laid out as ref[row * n + j]. */
static void check_softmax_rows(const em_tensor *x, int axis, const double *ref, int64_t rows, int64_t n,
                               em_dtype want, double tol) {
    em_tensor *s, *l;
    CHECK_OK(em_softmax(x, axis, &s));
    CHECK_OK(em_log_softmax(x, axis, &l));
    if (!s || !l) return;
    CHECK(em_tensor_dtype(s) == want && em_tensor_dtype(l) == want);
    for (int64_t r = 0; r < rows; r++) {
        double z = 0;
        for (int64_t j = 0; j < n; j++) z += exp(ref[r * n + j]);
        for (int64_t j = 0; j < n; j++) {
            /* element (r, j) of the output lies at C position r*n+j when axis is last, j*rows+r otherwise */
            int64_t k = axis == -1 || axis == em_tensor_ndim(x) - 1 ? r * n + j : j * rows + r;
            CHECK_NEAR(value_at(s, k), exp(ref[r * n + j]) / z, tol);
            CHECK_NEAR(value_at(l, k), ref[r * n + j] - log(z), tol);
        }
    }
    em_tensor_free(s), em_tensor_free(l);
}

TEST(sort_softmax_values) {
    const double v[] = {1, 2, 3, -1, 0.5, 4};
    for (int k = 5; k < 7; k++) {
        em_dtype dt = all_dtypes[k];
        double tol = dt == EM_F32 ? 1e-6 : 1e-14;
        em_tensor *x = tensor_of(dt, 2, SH(2, 3), v), *xt, *xf;
        check_softmax_rows(x, 1, v, 2, 3, dt, tol);
        check_softmax_rows(x, -1, v, 2, 3, dt, tol);
        /* axis 0: rows of the reference are the columns of x */
        const double cols[] = {1, -1, 2, 0.5, 3, 4};
        check_softmax_rows(x, 0, cols, 3, 2, dt, tol);
        CHECK_OK(em_tensor_transpose(x, 0, 1, &xt)); /* (3, 2): softmax along axis 1 = rows of cols */
        check_softmax_rows(xt, 1, cols, 3, 2, dt, tol);
        CHECK_OK(em_tensor_flip(x, (const int[]){1}, 1, &xf)); /* [[3,2,1],[4,0.5,-1]] */
        const double flipped[] = {3, 2, 1, 4, 0.5, -1};
        check_softmax_rows(xf, 1, flipped, 2, 3, dt, tol);
        em_tensor_free(x), em_tensor_free(xt), em_tensor_free(xf);
    }
    /* integer and bool input compute in float32 */
    for (int k = 0; k < 5; k++) {
        const double iv[] = {1, 0, 1, 1};
        em_tensor *x = tensor_of(all_dtypes[k], 2, SH(2, 2), iv);
        check_softmax_rows(x, -1, iv, 2, 2, EM_F32, 1e-6);
        em_tensor_free(x);
    }
    /* a 3-D middle axis: inner loops over the trailing axis */
    double big[24];
    for (int j = 0; j < 24; j++) big[j] = sin(j) * 3;
    em_tensor *x3 = tensor_of(EM_F64, 3, SH(2, 3, 4), big), *s;
    CHECK_OK(em_softmax(x3, 1, &s));
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 4; c++) {
            double z = 0;
            for (int b = 0; b < 3; b++) z += exp(big[a * 12 + b * 4 + c]);
            for (int b = 0; b < 3; b++)
                CHECK_NEAR(value_at(s, a * 12 + b * 4 + c), exp(big[a * 12 + b * 4 + c]) / z, 1e-14);
        }
    em_tensor_free(s), em_tensor_free(x3);
}

TEST(sort_softmax_stability_and_edges) {
    /* large inputs do not overflow: softmax([1000, 1001]) = [1/(1+e), e/(1+e)] */
    em_tensor *x = tensor_of(EM_F32, 1, SH(2), V(1000, 1001)), *s, *l;
    CHECK_OK(em_softmax(x, 0, &s));
    CHECK_OK(em_log_softmax(x, 0, &l));
    CHECK_NEAR(value_at(s, 0), 1 / (1 + exp(1)), 1e-6);
    CHECK_NEAR(value_at(s, 1), exp(1) / (1 + exp(1)), 1e-6);
    CHECK_NEAR(value_at(l, 0), -log1p(exp(1)), 1e-6);
    CHECK_NEAR(value_at(l, 1), 1 - log1p(exp(1)), 1e-6);
    em_tensor_free(s), em_tensor_free(l), em_tensor_free(x);
    /* -inf entries give 0 (log: -inf); a row of all -inf or with NaN is NaN */
    x = tensor_of(EM_F64, 2, SH(3, 2), V(-INFINITY, 0, -INFINITY, -INFINITY, NAN, 1));
    CHECK_OK(em_softmax(x, 1, &s));
    CHECK(tensor_equals(s, EM_F64, 2, SH(3, 2), V(0, 1, NAN, NAN, NAN, NAN)));
    CHECK_OK(em_log_softmax(x, 1, &l));
    CHECK(tensor_equals(l, EM_F64, 2, SH(3, 2), V(-INFINITY, 0, NAN, NAN, NAN, NAN)));
    em_tensor_free(s), em_tensor_free(l), em_tensor_free(x);
    /* bit-identical on repeat */
    double v[64];
    for (int j = 0; j < 64; j++) v[j] = cos(j * 0.7) * 10;
    x = tensor_of(EM_F32, 2, SH(4, 16), v);
    em_tensor *s2;
    CHECK_OK(em_softmax(x, 0, &s));
    CHECK_OK(em_softmax(x, 0, &s2));
    CHECK(memcmp(em_tensor_data(s), em_tensor_data(s2), 64 * sizeof(float)) == 0);
    em_tensor_free(s), em_tensor_free(s2), em_tensor_free(x);
    /* 0-d: one element; empty */
    x = tensor_of(EM_F64, 0, NULL, V(-3));
    CHECK_OK(em_softmax(x, -1, &s));
    CHECK_OK(em_log_softmax(x, 0, &l));
    CHECK(tensor_equals(s, EM_F64, 0, NULL, V(1)) && tensor_equals(l, EM_F64, 0, NULL, V(0)));
    em_tensor_free(s), em_tensor_free(l);
    CHECK_STATUS(em_softmax(x, 1, &s), EM_ERR_INDEX);
    em_tensor_free(x);
    x = tensor_of(EM_F32, 2, SH(0, 3), V(0));
    CHECK_OK(em_softmax(x, 1, &s));
    CHECK(tensor_equals(s, EM_F32, 2, SH(0, 3), V(0)));
    em_tensor_free(s);
    CHECK_OK(em_log_softmax(x, 0, &s));
    CHECK(tensor_equals(s, EM_F32, 2, SH(0, 3), V(0)));
    em_tensor_free(s);
    s = NULL;
    CHECK_STATUS(em_softmax(x, 2, &s), EM_ERR_INDEX);
    CHECK_STATUS(em_log_softmax(x, -3, &s), EM_ERR_INDEX);
    CHECK_STATUS(em_softmax(NULL, 0, &s), EM_ERR_INVALID_ARG);
    CHECK(s == NULL);
    em_tensor_free(x);
}

TEST(searchsorted_left_right_nan_and_promotion) {
    em_tensor *s = tensor_of(EM_F32, 1, SH(5), V(1, 2, 2, 3, NAN));
    em_tensor *v = tensor_of(EM_I64, 2, SH(2, 3), V(0, 2, 3, 4, 1, 2)), *o = NULL;
    CHECK_OK(em_searchsorted(s, v, false, &o));
    CHECK(o && tensor_equals(o, EM_I64, 2, SH(2, 3), V(0, 1, 3, 4, 0, 1)));
    em_tensor_free(o);
    CHECK_OK(em_searchsorted(s, v, true, &o));
    CHECK(o && tensor_equals(o, EM_I64, 2, SH(2, 3), V(0, 3, 4, 4, 1, 3)));
    em_tensor_free(o);
    em_tensor *nan = tensor_of(EM_F64, 1, SH(1), V(NAN));
    CHECK_OK(em_searchsorted(s, nan, false, &o)); /* NaN sorts last: before the NaN entry */
    CHECK(o && tensor_equals(o, EM_I64, 1, SH(1), V(4)));
    em_tensor_free(o);
    em_tensor *gaps = tensor_of(EM_I32, 1, SH(5), V(1, 9, 2, 9, 3)), *every2 = NULL;
    CHECK_OK(em_tensor_slice(gaps, 0, 0, 5, 2, &every2)); /* strided input: (1, 2, 3) */
    CHECK_OK(em_searchsorted(every2, v, false, &o));
    CHECK(o && tensor_equals(o, EM_I64, 2, SH(2, 3), V(0, 1, 2, 3, 0, 1)));
    em_tensor_free(o);
    em_tensor *empty = tensor_of(EM_I32, 1, SH(0), NULL);
    CHECK_OK(em_searchsorted(empty, v, false, &o));
    CHECK(o && tensor_equals(o, EM_I64, 2, SH(2, 3), V(0, 0, 0, 0, 0, 0)));
    em_tensor_free(o);
    o = NULL;
    em_tensor *m = tensor_of(EM_F32, 2, SH(1, 5), NULL);
    CHECK_STATUS(em_searchsorted(m, v, false, &o), EM_ERR_SHAPE);
    CHECK(o == NULL && error_has("1-D"));
    em_tensor_free(m);
    em_tensor_free(every2);
    em_tensor_free(gaps);
    em_tensor_free(empty);
    em_tensor_free(nan);
    em_tensor_free(v);
    em_tensor_free(s);
}

/* topk with small k takes the one-pass selection path; it must return exactly
 * the stable sort's first k (ties by lower index, NaN last/first) for every k
 * up to the selection limit, both directions, floats and integers. */
TEST(sort_topk_selection_matches_sort) {
    enum { N = 200 };
    float f[N];
    int32_t ints[N];
    uint32_t s = 12345;
    for (int j = 0; j < N; j++) {
        s = s * 1664525u + 1013904223u;
        f[j] = (float)((s >> 16) % 23) - 11.0f; /* many ties */
        ints[j] = (int32_t)((s >> 8) % 17);
        if (j % 37 == 5) f[j] = NAN;
    }
    em_tensor *xf = NULL, *xi = NULL;
    int64_t shape[1] = {N};
    CHECK_OK(em_tensor_from_data(EM_F32, 1, shape, NULL, f, NULL, NULL, &xf));
    CHECK_OK(em_tensor_from_data(EM_I32, 1, shape, NULL, ints, NULL, NULL, &xi));
    em_tensor *xs[2] = {xf, xi};
    for (int t = 0; t < 2; t++) {
        for (int dir = 0; dir < 2; dir++) {
            em_tensor *sv = NULL, *si = NULL;
            CHECK_OK(em_sort(xs[t], 0, dir, &sv, &si));
            for (int64_t k = 1; k <= 33; k++) {
                em_tensor *v = NULL, *i = NULL;
                CHECK_OK(em_topk(xs[t], k, 0, dir, &v, &i));
                size_t es = t ? sizeof(int32_t) : sizeof(float);
                CHECK(v && i && memcmp(em_tensor_data(i), em_tensor_data(si), (size_t)k * sizeof(int64_t)) == 0);
                CHECK(v && memcmp(em_tensor_data(v), em_tensor_data(sv), (size_t)k * es) == 0);
                em_tensor_free(v), em_tensor_free(i);
            }
            em_tensor_free(sv), em_tensor_free(si);
        }
    }
    em_tensor_free(xf), em_tensor_free(xi);
}
