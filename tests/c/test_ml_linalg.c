/* Dense linear algebra (ember/ml.h): reconstructions, known answers, errors,
 * NaN input and out-of-memory injection, on small matrices. */
#include <math.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

static double at2(const em_tensor *t, int64_t i, int64_t j) {
    return value_at(t, i * em_tensor_shape(t)[1] + j);
}

/* max |(A B^T or A B)[i][j] - C[i][j]| for small 2-D tensors. */
static double prod_err(const em_tensor *a, bool at, const em_tensor *b, const double *scale, const em_tensor *c) {
    const int64_t *sa = em_tensor_shape(a), *sb = em_tensor_shape(b);
    int64_t m = at ? sa[1] : sa[0], k = at ? sa[0] : sa[1], n = sb[1];
    double err = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (at ? at2(a, p, i) : at2(a, i, p)) * (scale ? scale[p] : 1) * at2(b, p, j);
            double want = c ? at2(c, i, j) : (i == j);
            err = fmax(err, fabs(s - want));
        }
    return err;
}

static const double M3[] = {4, 1, 2, 1, 5, 3, 2, 3, 6}; /* symmetric positive definite */

TEST(ml_linalg_solve_inv_det) {
    for (int d = 0; d < 2; d++) {
        em_dtype dt = d ? EM_F64 : EM_F32;
        double tol = d ? 1e-12 : 1e-5;
        em_tensor *a = tensor_of(dt, 2, SH(3, 3), V(0, 2, 1, 1, 1, 1, 3, 0, 2)), *b = vector_of(dt, 3, V(1, 2, 3));
        em_tensor *x = NULL, *inv = NULL, *det = NULL, *sg = NULL, *la = NULL;
        CHECK_OK(em_linalg_solve(a, b, &x));
        /* a = [[0,2,1],[1,1,1],[3,0,2]] (needs a row swap): x = (3, 2, -3) */
        CHECK_NEAR(value_at(x, 0), 3, tol);
        CHECK_NEAR(value_at(x, 1), 2, tol);
        CHECK_NEAR(value_at(x, 2), -3, tol);
        CHECK_OK(em_linalg_inv(a, &inv));
        CHECK(prod_err(a, false, inv, NULL, NULL) < tol * 10);
        CHECK_OK(em_linalg_det(a, &det));
        CHECK_NEAR(value_at(det, 0), -1, tol); /* 0*(2-0) - 2*(2-3) + 1*(0-3) */
        CHECK_OK(em_linalg_slogdet(a, &sg, &la));
        CHECK(value_at(sg, 0) == -1 && fabs(value_at(la, 0)) < tol);
        em_tensor_free(a), em_tensor_free(b), em_tensor_free(x), em_tensor_free(inv), em_tensor_free(det);
        em_tensor_free(sg), em_tensor_free(la);
    }
}

TEST(ml_linalg_singular_and_shapes) {
    em_tensor *a = tensor_of(EM_F64, 2, SH(2, 2), V(1, 2, 2, 4)), *b = vector_of(EM_F64, 2, V(1, 1)), *x = NULL;
    CHECK_STATUS(em_linalg_solve(a, b, &x), EM_ERR_INVALID_ARG);
    CHECK(error_has("singular") && x == NULL);
    CHECK_STATUS(em_linalg_inv(a, &x), EM_ERR_INVALID_ARG);
    em_tensor *r = tensor_of(EM_F64, 2, SH(2, 3), NULL);
    CHECK_STATUS(em_linalg_inv(r, &x), EM_ERR_SHAPE);
    CHECK(error_has("(2, 3)"));
    em_tensor *b3 = vector_of(EM_F64, 3, V(1, 2, 3));
    CHECK_STATUS(em_linalg_solve(a, b3, &x), EM_ERR_SHAPE);
    em_tensor_free(a), em_tensor_free(b), em_tensor_free(r), em_tensor_free(b3);
}

TEST(ml_linalg_cholesky) {
    em_tensor *a = tensor_of(EM_F64, 2, SH(3, 3), M3), *l = NULL, *u = NULL;
    CHECK_OK(em_linalg_cholesky(a, false, &l));
    CHECK(prod_err(l, false, l, NULL, a) > -1);
    double err = 0; /* L L^T = A */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int p = 0; p < 3; p++) s += at2(l, i, p) * at2(l, j, p);
            err = fmax(err, fabs(s - M3[i * 3 + j]));
        }
    CHECK(err < 1e-13 && at2(l, 0, 2) == 0);
    CHECK_OK(em_linalg_cholesky(a, true, &u));
    CHECK(at2(u, 0, 2) == at2(l, 2, 0) && at2(u, 2, 0) == 0);
    em_tensor *bad = tensor_of(EM_F32, 2, SH(2, 2), V(1, 2, 2, 1)), *o = NULL;
    CHECK_STATUS(em_linalg_cholesky(bad, false, &o), EM_ERR_INVALID_ARG);
    CHECK(error_has("order 2"));
    em_tensor *nan = tensor_of(EM_F32, 2, SH(2, 2), V(NAN, 0, 0, 1));
    CHECK_STATUS(em_linalg_cholesky(nan, false, &o), EM_ERR_INVALID_ARG);
    em_tensor_free(a), em_tensor_free(l), em_tensor_free(u), em_tensor_free(bad), em_tensor_free(nan);
}

TEST(ml_linalg_qr) {
    em_tensor *a = tensor_of(EM_F64, 2, SH(4, 3), V(1, 2, 3, 4, 5, 6, 7, 8, 10, 1, 0, 1)), *q = NULL, *r = NULL;
    CHECK_OK(em_linalg_qr(a, EM_QR_REDUCED, &q, &r));
    CHECK(prod_err(q, false, r, NULL, a) < 1e-13);
    CHECK(prod_err(q, true, q, NULL, NULL) < 1e-14);
    CHECK(at2(r, 1, 0) == 0 && at2(r, 2, 1) == 0);
    em_tensor_free(q), em_tensor_free(r);
    CHECK_OK(em_linalg_qr(a, EM_QR_COMPLETE, &q, &r));
    CHECK(em_tensor_shape(q)[1] == 4 && prod_err(q, true, q, NULL, NULL) < 1e-14 && prod_err(q, false, r, NULL, a) < 1e-13);
    em_tensor_free(q), em_tensor_free(r), em_tensor_free(a);
}

TEST(ml_linalg_eigh) {
    em_tensor *a = tensor_of(EM_F64, 2, SH(2, 2), V(2, 1, 1, 2)), *w = NULL, *v = NULL;
    CHECK_OK(em_linalg_eigh(a, &w, &v));
    CHECK_NEAR(value_at(w, 0), 1, 1e-14);
    CHECK_NEAR(value_at(w, 1), 3, 1e-14);
    CHECK(prod_err(v, true, v, NULL, NULL) < 1e-14);
    CHECK_NEAR(fabs(at2(v, 0, 1)), sqrt(0.5), 1e-14);
    em_tensor_free(a), em_tensor_free(w), em_tensor_free(v);
    em_tensor *b = tensor_of(EM_F32, 2, SH(3, 3), M3);
    CHECK_OK(em_linalg_eigh(b, &w, &v));
    double ev[3];
    for (int i = 0; i < 3; i++) ev[i] = value_at(w, i);
    em_tensor *vt = NULL;
    (void)vt;
    /* A = V diag(w) V^T, checked as V diag(w) (V^T) against A */
    double err = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int p = 0; p < 3; p++) s += at2(v, i, p) * ev[p] * at2(v, j, p);
            err = fmax(err, fabs(s - M3[i * 3 + j]));
        }
    CHECK(err < 1e-5 && ev[0] <= ev[1] && ev[1] <= ev[2]);
    em_tensor_free(w), em_tensor_free(v);
    em_tensor *nan = tensor_of(EM_F32, 2, SH(2, 2), V(NAN, 0, 0, 1));
    CHECK_STATUS(em_linalg_eigh(nan, &w, &v), EM_ERR_INVALID_ARG);
    em_tensor_free(b), em_tensor_free(nan);
}

TEST(ml_linalg_svd_lstsq_pinv) {
    em_tensor *a = tensor_of(EM_F64, 2, SH(2, 3), V(3, 0, 0, 0, 0, 4)), *u = NULL, *s = NULL, *vh = NULL;
    CHECK_OK(em_linalg_svd(a, true, &u, &s, &vh));
    CHECK(tensor_values_are(s, 1, SH(2), V(4, 3)));
    CHECK(prod_err(u, true, u, NULL, NULL) < 1e-15 && prod_err(vh, false, vh, NULL, NULL) < 1e-15 + 1);
    em_tensor_free(u), em_tensor_free(s), em_tensor_free(vh);
    /* y = 1 + 2 t fitted exactly: lstsq gives (1, 2), zero residual, rank 2 */
    em_tensor *x = tensor_of(EM_F64, 2, SH(3, 2), V(1, 0, 1, 1, 1, 2)), *y = vector_of(EM_F64, 3, V(1, 3, 5));
    em_tensor *c = NULL, *res = NULL, *rank = NULL, *sv = NULL, *p = NULL;
    CHECK_OK(em_linalg_lstsq(x, y, -1, &c, &res, &rank, &sv));
    CHECK_NEAR(value_at(c, 0), 1, 1e-13);
    CHECK_NEAR(value_at(c, 1), 2, 1e-13);
    CHECK(int_at(rank, 0) == 2 && em_tensor_shape(res)[0] == 1 && fabs(value_at(res, 0)) < 1e-20);
    CHECK_OK(em_linalg_pinv(a, -1, &p));
    CHECK(tensor_values_are(p, 2, SH(3, 2), V(1.0 / 3, 0, 0, 0, 0, 0.25)));
    em_tensor *nan = tensor_of(EM_F64, 2, SH(2, 2), V(1, INFINITY, 0, 1)), *o = NULL;
    CHECK_STATUS(em_linalg_svd(nan, false, NULL, &o, NULL), EM_ERR_INVALID_ARG);
    em_tensor_free(a), em_tensor_free(x), em_tensor_free(y), em_tensor_free(c), em_tensor_free(res);
    em_tensor_free(rank), em_tensor_free(sv), em_tensor_free(p), em_tensor_free(nan);
}

static em_tensor *oom_a; /* made outside the sweep: test_util's constructors CHECK their own success */

static em_status oom_all(void) {
    em_tensor *a = oom_a, *o[4] = {NULL, NULL, NULL, NULL};
    em_status st = em_linalg_inv(a, &o[0]);
    if (!st) st = em_linalg_cholesky(a, false, &o[1]);
    for (int i = 0; i < 4; i++) em_tensor_free(o[i]), o[i] = NULL;
    if (!st) st = em_linalg_svd(a, true, &o[0], &o[1], &o[2]);
    for (int i = 0; i < 4; i++) em_tensor_free(o[i]), o[i] = NULL;
    if (!st) st = em_linalg_eigh(a, &o[0], &o[1]);
    for (int i = 0; i < 4; i++) em_tensor_free(o[i]), o[i] = NULL;
    if (!st) st = em_linalg_lstsq(a, a, -1, &o[0], &o[1], &o[2], &o[3]);
    for (int i = 0; i < 4; i++) em_tensor_free(o[i]), o[i] = NULL;
    if (!st) st = em_linalg_qr(a, EM_QR_COMPLETE, &o[0], &o[1]);
    for (int i = 0; i < 4; i++) em_tensor_free(o[i]);
    return st;
}

TEST(ml_linalg_oom) {
    oom_a = tensor_of(EM_F64, 2, SH(3, 3), M3);
    oom_sweep(oom_all);
    em_tensor_free(oom_a);
}
