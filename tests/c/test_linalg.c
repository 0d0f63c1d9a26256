/* em_matmul against a naive triple loop in double. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

/* A rows x cols matrix of dtype dt whose element (i, j) is val(seed, i, j),
 * stored transposed (column-major), with a column stride of 2, or with both
 * axes reversed (negative strides), as `lay` says.  *buf receives the
 * caller-owned storage (free() it after the tensor). */
enum layout { ROWMAJOR, COLMAJOR, GAPPED, REVERSED, NLAYOUTS };

static double val(em_dtype dt, int seed, int64_t i, int64_t j) {
    uint32_t h = (uint32_t)((i * 7919 + j * 104729 + seed * 15485863) * 2654435761u) >> 9;
    if (dt == EM_BOOL) return h % 3 == 0;
    if (dt == EM_U8) return h % 5;
    if (dt == EM_F32 || dt == EM_F64) return ((int)(h % 2001) - 1000) / 256.0;
    return (int)(h % 9) - 4;
}

static void put(em_dtype dt, char *p, double v) {
    switch (dt) {
    case EM_BOOL: *(bool *)p = v != 0; break;
    case EM_U8: *(uint8_t *)p = (uint8_t)v; break;
    case EM_I8: *(int8_t *)p = (int8_t)v; break;
    case EM_I32: *(int32_t *)p = (int32_t)v; break;
    case EM_I64: *(int64_t *)p = (int64_t)v; break;
    case EM_F32: *(float *)p = (float)v; break;
    default: *(double *)p = v;
    }
}

static em_tensor *matrix(em_dtype dt, int64_t rows, int64_t cols, int seed, enum layout lay, void **buf) {
    size_t es = em_dtype_size(dt);
    int64_t n = rows * cols, st[2];
    char *data = calloc((size_t)(2 * n + 1), es);
    char *origin = data;
    switch (lay) {
    case ROWMAJOR: st[0] = cols, st[1] = 1; break;
    case COLMAJOR: st[0] = 1, st[1] = rows; break;
    case GAPPED: st[0] = 2 * cols, st[1] = 2; break;
    default:
        st[0] = -cols, st[1] = -1;
        origin = data + (n ? n - 1 : 0) * (int64_t)es;
        break;
    }
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) put(dt, origin + (i * st[0] + j * st[1]) * (int64_t)es, val(dt, seed, i, j));
    int64_t shape[] = {rows, cols};
    em_tensor *t = NULL;
    em_tensor_from_data(dt, 2, shape, st, origin, NULL, NULL, &t);
    *buf = data;
    return t;
}

static double get2(const em_tensor *t, int64_t i, int64_t j) {
    int64_t idx[] = {i, j};
    double v = 0;
    em_tensor_get(t, idx, &v);
    return v;
}

/* Checks out == A @ B with A(i,k) = val(dt, 1, i, k), B(k,j) = val(dt, 2, k, j). */
static void check_product(const em_tensor *out, em_dtype dt, int64_t M, int64_t N, int64_t K, double tol) {
    CHECK(em_tensor_ndim(out) == 2 && em_tensor_shape(out)[0] == M && em_tensor_shape(out)[1] == N);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
                double p = val(dt, 1, i, k) * val(dt, 2, k, j);
                s += p;
                mag += fabs(p);
            }
            /* integer results wrap into the result type; bool is "any" */
            if (dt == EM_BOOL) s = s != 0;
            if (dt == EM_U8) s = (uint8_t)(int64_t)s;
            if (dt == EM_I8) s = (int8_t)(int64_t)s;
            double got = get2(out, i, j);
            if (!(fabs(got - s) <= tol * (1 + mag))) {
                fprintf(stderr, "  %s M=%lld N=%lld K=%lld [%lld,%lld] = %.9g, wanted %.9g\n", em_dtype_name(dt),
                        (long long)M, (long long)N, (long long)K, (long long)i, (long long)j, got, s);
                test_failures++;
                return;
            }
        }
}

static void run_case(em_dtype dt, int64_t M, int64_t N, int64_t K, enum layout la, enum layout lb, double tol) {
    void *ba, *bb;
    em_tensor *a = matrix(dt, M, K, 1, la, &ba), *b = matrix(dt, K, N, 2, lb, &bb), *out = NULL;
    CHECK_OK(em_matmul(a, b, &out));
    if (out) {
        CHECK(em_tensor_dtype(out) == dt);
        check_product(out, dt, M, N, K, tol);
    }
    em_tensor_free(out);
    em_tensor_free(a);
    em_tensor_free(b);
    free(ba);
    free(bb);
}

static const int64_t sizes[] = {1, 3, 7, 17, 33, 65, 130};

TEST(matmul_float_awkward_sizes) {
    int c = 0;
    for (int mi = 0; mi < 7; mi++)
        for (int ni = 0; ni < 7; ni++)
            for (int ki = 0; ki < 7; ki += 2, c++) {
                enum layout la = (enum layout)(c % NLAYOUTS), lb = (enum layout)((c / NLAYOUTS) % NLAYOUTS);
                run_case(EM_F32, sizes[mi], sizes[ni], sizes[ki], la, lb, 1e-6);
                if (c % 3 == 0) run_case(EM_F64, sizes[mi], sizes[ni], sizes[ki], lb, la, 1e-14);
            }
}

/* Crosses the K (256), M (96) and N (2048) block edges of the GEMM. */
TEST(matmul_block_edges) {
    run_case(EM_F32, 97, 19, 300, ROWMAJOR, COLMAJOR, 1e-6);
    run_case(EM_F64, 100, 21, 513, COLMAJOR, ROWMAJOR, 1e-14);
    run_case(EM_F32, 5, 2100, 3, GAPPED, ROWMAJOR, 1e-6);
    run_case(EM_F64, 2, 2053, 257, ROWMAJOR, REVERSED, 1e-14);
    run_case(EM_F32, 1, 600, 300, REVERSED, COLMAJOR, 1e-6); /* vector x matrix, dot-product form */
    run_case(EM_F64, 300, 1, 600, COLMAJOR, GAPPED, 1e-14);  /* matrix x vector */
}

TEST(matmul_integer_and_bool) {
    static const em_dtype dts[] = {EM_U8, EM_I8, EM_I32, EM_I64, EM_BOOL};
    for (int d = 0; d < 5; d++)
        for (int lay = 0; lay < NLAYOUTS; lay++) {
            run_case(dts[d], 7, 17, 33, (enum layout)lay, (enum layout)((lay + 1) % NLAYOUTS), 0);
            run_case(dts[d], 1, 5, 3, (enum layout)lay, ROWMAJOR, 0);
        }
}

/* Bool product is "some k with a and b"; checked against its own loop
 * because the numeric reference above counts instead. */
TEST(matmul_bool_is_logical) {
    bool a[] = {1, 1, 0, 0, 1, 0}, b[] = {1, 0, 1, 1, 0, 0};
    int64_t sa[] = {2, 3}, sb[] = {3, 2};
    em_tensor *ta = NULL, *tb = NULL, *out = NULL;
    CHECK_OK(em_tensor_from_data(EM_BOOL, 2, sa, NULL, a, NULL, NULL, &ta));
    CHECK_OK(em_tensor_from_data(EM_BOOL, 2, sb, NULL, b, NULL, NULL, &tb));
    CHECK_OK(em_matmul(ta, tb, &out));
    CHECK(em_tensor_dtype(out) == EM_BOOL);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            bool want = false;
            for (int k = 0; k < 3; k++) want |= a[i * 3 + k] && b[k * 2 + j];
            CHECK(((const bool *)em_tensor_data(out))[i * 2 + j] == want);
        }
    em_tensor_free(out);
    em_tensor_free(ta);
    em_tensor_free(tb);
}

TEST(matmul_integer_wraps) {
    int8_t a[] = {100, 1}, b[] = {2, 3};
    int64_t sa[] = {1, 2}, sb[] = {2, 1};
    em_tensor *ta = NULL, *tb = NULL, *out = NULL;
    CHECK_OK(em_tensor_from_data(EM_I8, 2, sa, NULL, a, NULL, NULL, &ta));
    CHECK_OK(em_tensor_from_data(EM_I8, 2, sb, NULL, b, NULL, NULL, &tb));
    CHECK_OK(em_matmul(ta, tb, &out));
    CHECK(em_tensor_dtype(out) == EM_I8 && *(int8_t *)em_tensor_data(out) == (int8_t)(203 - 256));
    em_tensor_free(out);
    em_tensor_free(ta);
    em_tensor_free(tb);
    int64_t c[] = {INT64_MAX, 2}, d[] = {2, 1};
    CHECK_OK(em_tensor_from_data(EM_I64, 2, sa, NULL, c, NULL, NULL, &ta));
    CHECK_OK(em_tensor_from_data(EM_I64, 2, sb, NULL, d, NULL, NULL, &tb));
    CHECK_OK(em_matmul(ta, tb, &out));
    CHECK(*(int64_t *)em_tensor_data(out) == 0); /* 2*(2^63-1) + 2 wraps to 0 */
    em_tensor_free(out);
    em_tensor_free(ta);
    em_tensor_free(tb);
}

TEST(matmul_promotion) {
    void *ba, *bb;
    em_tensor *a = matrix(EM_U8, 3, 4, 1, ROWMAJOR, &ba), *b = matrix(EM_I8, 4, 2, 2, COLMAJOR, &bb), *out = NULL;
    CHECK_OK(em_matmul(a, b, &out));
    CHECK(em_tensor_dtype(out) == EM_I32);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            double s = 0;
            for (int k = 0; k < 4; k++) s += val(EM_U8, 1, i, k) * val(EM_I8, 2, k, j);
            CHECK(get2(out, i, j) == s);
        }
    em_tensor_free(out);
    em_tensor_free(b);
    free(bb);
    b = matrix(EM_F32, 4, 2, 2, ROWMAJOR, &bb);
    CHECK_OK(em_matmul(a, b, &out));
    CHECK(em_tensor_dtype(out) == EM_F32);
    CHECK(get2(out, 1, 1) == val(EM_U8, 1, 1, 0) * val(EM_F32, 2, 0, 1) + val(EM_U8, 1, 1, 1) * val(EM_F32, 2, 1, 1) +
                                 val(EM_U8, 1, 1, 2) * val(EM_F32, 2, 2, 1) + val(EM_U8, 1, 1, 3) * val(EM_F32, 2, 3, 1));
    em_tensor_free(out);
    em_tensor_free(a);
    em_tensor_free(b);
    free(ba);
    free(bb);
}

/* 1-D operands: (K) @ (K, N) -> (N), (M, K) @ (K) -> (M), (K) @ (K) -> (). */
TEST(matmul_vectors) {
    double av[] = {1, 2, 3}, m[] = {1, 2, 3, 4, 5, 6}; /* m is 3 x 2 */
    int64_t s1[] = {3}, s2[] = {3, 2};
    em_tensor *v = NULL, *mat = NULL, *matt = NULL, *out = NULL;
    CHECK_OK(em_tensor_from_data(EM_F64, 1, s1, NULL, av, NULL, NULL, &v));
    CHECK_OK(em_tensor_from_data(EM_F64, 2, s2, NULL, m, NULL, NULL, &mat));
    CHECK_OK(em_tensor_mT(mat, &matt));
    CHECK_OK(em_matmul(v, mat, &out));
    CHECK(em_tensor_ndim(out) == 1 && em_tensor_shape(out)[0] == 2);
    CHECK(((double *)em_tensor_data(out))[0] == 22 && ((double *)em_tensor_data(out))[1] == 28);
    em_tensor_free(out);
    CHECK_OK(em_matmul(matt, v, &out));
    CHECK(em_tensor_ndim(out) == 1 && em_tensor_shape(out)[0] == 2);
    CHECK(((double *)em_tensor_data(out))[0] == 22 && ((double *)em_tensor_data(out))[1] == 28);
    em_tensor_free(out);
    CHECK_OK(em_matmul(v, v, &out));
    double r = 0;
    CHECK(em_tensor_ndim(out) == 0);
    CHECK_OK(em_tensor_item(out, &r));
    CHECK(r == 14);
    em_tensor_free(out);
    /* batched matrix times vector: (2, 2, 3) @ (3) -> (2, 2) */
    em_tensor *st = NULL;
    int64_t sb[] = {2, 2, 3};
    CHECK_OK(em_tensor_arange(0, 12, 1, EM_F32, &st));
    em_tensor *b3 = NULL;
    CHECK_OK(em_tensor_reshape(st, 3, sb, &b3));
    em_tensor *vf = NULL;
    CHECK_OK(em_tensor_cast(v, EM_F32, &vf));
    CHECK_OK(em_matmul(b3, vf, &out));
    CHECK(em_tensor_dtype(out) == EM_F32 && em_tensor_ndim(out) == 2 && em_tensor_shape(out)[0] == 2);
    for (int i = 0; i < 4; i++) CHECK(((float *)em_tensor_data(out))[i] == 3 * i * 6 + 8);
    em_tensor_free(out);
    /* vector times batched matrix: (2) @ (2, 2, 3) -> (2, 3) */
    double w[] = {1, -1};
    int64_t s2v[] = {2};
    em_tensor *wv = NULL;
    CHECK_OK(em_tensor_from_data(EM_F64, 1, s2v, NULL, w, NULL, NULL, &wv));
    CHECK_OK(em_matmul(wv, b3, &out)); /* f64 @ f32 -> f64 */
    CHECK(em_tensor_dtype(out) == EM_F64 && em_tensor_ndim(out) == 2 && em_tensor_shape(out)[1] == 3);
    for (int i = 0; i < 6; i++) CHECK(((double *)em_tensor_data(out))[i] == -3);
    em_tensor_free(out);
    em_tensor_free(wv);
    em_tensor_free(vf);
    em_tensor_free(b3);
    em_tensor_free(st);
    em_tensor_free(v);
    em_tensor_free(mat);
    em_tensor_free(matt);
}

/* (2, 1, 3, 4) @ (5, 4, 2) -> (2, 5, 3, 2), with a transposed, sliced b. */
TEST(matmul_broadcast_batch) {
    int64_t sa[] = {2, 1, 3, 4}, sbase[] = {5, 2, 8};
    em_tensor *a = NULL, *base = NULL, *bt = NULL, *b = NULL, *out = NULL;
    CHECK_OK(em_tensor_empty(EM_F32, 4, sa, &a));
    CHECK_OK(em_tensor_empty(EM_F32, 3, sbase, &base));
    for (int64_t i = 0; i < 24; i++) {
        int64_t idx[] = {i / 12, 0, (i / 4) % 3, i % 4};
        CHECK_OK(em_tensor_set(a, idx, (double)(i % 7) - 3));
    }
    for (int64_t i = 0; i < 80; i++) {
        int64_t idx[] = {i / 16, (i / 8) % 2, i % 8};
        CHECK_OK(em_tensor_set(base, idx, (double)(i % 5) - 2));
    }
    CHECK_OK(em_tensor_slice(base, 2, 0, 8, 2, &bt)); /* (5, 2, 4) with stride 2 */
    CHECK_OK(em_tensor_mT(bt, &b));                    /* (5, 4, 2) */
    CHECK_OK(em_matmul(a, b, &out));
    const int64_t *so = em_tensor_shape(out);
    CHECK(em_tensor_ndim(out) == 4 && so[0] == 2 && so[1] == 5 && so[2] == 3 && so[3] == 2);
    for (int64_t p = 0; p < 2; p++)
        for (int64_t q = 0; q < 5; q++)
            for (int64_t i = 0; i < 3; i++)
                for (int64_t j = 0; j < 2; j++) {
                    double s = 0, x, y;
                    for (int64_t k = 0; k < 4; k++) {
                        int64_t ia[] = {p, 0, i, k}, ib[] = {q, k, j};
                        em_tensor_get(a, ia, &x);
                        em_tensor_get(b, ib, &y);
                        s += x * y;
                    }
                    int64_t io[] = {p, q, i, j};
                    em_tensor_get(out, io, &x);
                    CHECK(x == s);
                }
    em_tensor_free(out);
    em_tensor_free(a);
    em_tensor_free(b);
    em_tensor_free(bt);
    em_tensor_free(base);
}

TEST(matmul_k_zero_and_empty) {
    static const em_dtype dts[] = {EM_F32, EM_F64, EM_I32, EM_BOOL};
    static const int64_t mn[][2] = {{3, 4}, {1, 4}, {3, 1}, {0, 4}, {3, 0}};
    for (int d = 0; d < 4; d++)
        for (int c = 0; c < 5; c++) {
            int64_t sa[] = {mn[c][0], 0}, sb[] = {0, mn[c][1]};
            em_tensor *a = NULL, *b = NULL, *out = NULL;
            CHECK_OK(em_tensor_empty(dts[d], 2, sa, &a));
            CHECK_OK(em_tensor_empty(dts[d], 2, sb, &b));
            CHECK_OK(em_matmul(a, b, &out));
            CHECK(em_tensor_numel(out) == mn[c][0] * mn[c][1]);
            for (int64_t i = 0; i < em_tensor_numel(out); i++) CHECK(get2(out, i / mn[c][1], i % mn[c][1]) == 0);
            em_tensor_free(out);
            em_tensor_free(a);
            em_tensor_free(b);
        }
}

TEST(matmul_deterministic) {
    void *ba, *bb;
    em_tensor *a = matrix(EM_F32, 65, 130, 1, COLMAJOR, &ba), *b = matrix(EM_F32, 130, 33, 2, ROWMAJOR, &bb);
    em_tensor *o1 = NULL, *o2 = NULL;
    CHECK_OK(em_matmul(a, b, &o1));
    CHECK_OK(em_matmul(a, b, &o2));
    CHECK(memcmp(em_tensor_data(o1), em_tensor_data(o2), 65 * 33 * sizeof(float)) == 0);
    em_tensor_free(o1);
    em_tensor_free(o2);
    em_tensor_free(a);
    em_tensor_free(b);
    free(ba);
    free(bb);
}

TEST(matmul_errors) {
    int64_t s23[] = {2, 3}, s45[] = {4, 5}, s3[] = {3}, s234[] = {2, 3, 4}, s342[] = {3, 4, 2};
    em_tensor *a = NULL, *b = NULL, *z = NULL, *v = NULL, *c = NULL, *d = NULL, *out = NULL;
    CHECK_OK(em_tensor_zeros(EM_F32, 2, s23, &a));
    CHECK_OK(em_tensor_zeros(EM_F32, 2, s45, &b));
    CHECK_OK(em_tensor_zeros(EM_F32, 0, NULL, &z));
    CHECK_OK(em_tensor_zeros(EM_F32, 1, s3, &v));
    CHECK_OK(em_tensor_zeros(EM_F32, 3, s234, &c));
    CHECK_OK(em_tensor_zeros(EM_F32, 3, s342, &d));
    CHECK_STATUS(em_matmul(a, b, &out), EM_ERR_SHAPE);
    CHECK(strcmp(em_last_error(),
                 "matmul: shapes (2, 3) float32 and (4, 5) float32 are not aligned: 3 (axis 1 of a) != 4 (axis 0 of b)") == 0);
    CHECK_STATUS(em_matmul(z, a, &out), EM_ERR_SHAPE);
    CHECK(strcmp(em_last_error(), "matmul: operand 0 is 0-d; use mul") == 0);
    CHECK_STATUS(em_matmul(a, z, &out), EM_ERR_SHAPE);
    CHECK(strcmp(em_last_error(), "matmul: operand 1 is 0-d; use mul") == 0);
    CHECK_STATUS(em_matmul(v, b, &out), EM_ERR_SHAPE); /* (3) @ (4, 5) */
    CHECK(strstr(em_last_error(), "3 (axis 0 of a) != 4 (axis 0 of b)") != NULL);
    CHECK_STATUS(em_matmul(b, v, &out), EM_ERR_SHAPE);
    CHECK_STATUS(em_matmul(c, d, &out), EM_ERR_SHAPE); /* batch 2 vs 3 */
    CHECK(strstr(em_last_error(), "matmul: batch") == em_last_error());
    CHECK_STATUS(em_matmul(NULL, a, &out), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_matmul(a, NULL, &out), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_matmul(a, a, NULL), EM_ERR_INVALID_ARG);
    CHECK(out == NULL);
    em_tensor_free(a);
    em_tensor_free(b);
    em_tensor_free(z);
    em_tensor_free(v);
    em_tensor_free(c);
    em_tensor_free(d);
}

TEST(matmul_out_of_memory) {
    void *ba, *bb;
    em_tensor *a = matrix(EM_I32, 9, 8, 1, ROWMAJOR, &ba), *b = matrix(EM_F32, 8, 7, 2, COLMAJOR, &bb);
    em_status st = EM_ERR_NOMEM;
    for (int budget = 0; budget < 20 && st == EM_ERR_NOMEM; budget++) {
        oom_install(budget, true); /* allocations from number `budget` on fail */
        em_tensor *out = NULL;
        st = em_matmul(a, b, &out);
        em_tensor_free(out);
        oom_remove();
    }
    CHECK(st == EM_OK);
    em_tensor_free(a);
    em_tensor_free(b);
    free(ba);
    free(bb);
}
