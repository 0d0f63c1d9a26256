/* em_linalg_tall_gram / em_linalg_tall_qr and em_knn_brute against naive
 * references computed here in double, errors, and out-of-memory injection. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "test.h"
#include "test_util.h"

/* x[i][j] for a test matrix: deterministic, large mean (100) on column 0. */
static double xval(int64_t i, int64_t j) {
    uint32_t h = (uint32_t)((i * 7919 + j * 104729 + 17) * 2654435761u) >> 9;
    return ((int)(h % 2001) - 1000) / 256.0 + (j == 0 ? 100 : 0);
}

static em_tensor *xmat(int64_t m, int64_t n) {
    em_tensor *t = NULL;
    if (em_tensor_zeros(EM_F64, DIMS(m, n), &t)) return NULL; /* out-of-memory injection */
    double *p = em_tensor_data(t);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) p[i * n + j] = xval(i, j);
    return t;
}

/* Reference: centred weighted Gram of [x | y] (p = n + 1). */
static void gram_ref(int64_t m, int64_t n, const double *x, const double *y, const double *w, bool center, double *g,
                     double *mu) {
    int64_t p = n + 1;
    double W = 0;
    memset(mu, 0, sizeof(double) * (size_t)p);
    for (int64_t i = 0; i < m; i++) {
        W += w[i];
        for (int64_t j = 0; j < p; j++) mu[j] += w[i] * (j < n ? x[i * n + j] : y[i]);
    }
    for (int64_t j = 0; j < p; j++) mu[j] = center ? mu[j] / W : 0;
    memset(g, 0, sizeof(double) * (size_t)(p * p));
    for (int64_t i = 0; i < m; i++)
        for (int64_t a = 0; a < p; a++)
            for (int64_t b = 0; b < p; b++) {
                double va = (a < n ? x[i * n + a] : y[i]) - mu[a], vb = (b < n ? x[i * n + b] : y[i]) - mu[b];
                g[a * p + b] += w[i] * va * vb;
            }
}

TEST(tall_gram_qr_match_reference) {
    int64_t sizes[][2] = {{1, 1}, {3, 5}, {50, 4}, {3000, 6}, {20000, 3}};
    for (int s = 0; s < 5; s++) {
        int64_t m = sizes[s][0], n = sizes[s][1], p = n + 1;
        em_tensor *x = xmat(m, n), *y = NULL, *w = NULL;
        em_tensor_zeros(EM_F64, DIMS(m), &y);
        em_tensor_zeros(EM_F64, DIMS(m), &w);
        double *yp = em_tensor_data(y), *wp = em_tensor_data(w), *xp = em_tensor_data(x);
        for (int64_t i = 0; i < m; i++) yp[i] = xp[i * n] * 0.5 - 3 + (double)(i % 7), wp[i] = 0.25 + (double)(i % 5);
        double *g = malloc(sizeof(double) * (size_t)(p * p)), *mu = malloc(sizeof(double) * (size_t)p);
        for (int c = 0; c < 2; c++) {
            gram_ref(m, n, xp, yp, wp, c, g, mu);
            double gmax = 0;
            for (int64_t i = 0; i < p * p; i++) gmax = fabs(g[i]) > gmax ? fabs(g[i]) : gmax;
            em_tensor *G = NULL, *R = NULL, *M1 = NULL, *M2 = NULL;
            CHECK_OK(em_linalg_tall_gram(x, y, w, c, &G, &M1));
            CHECK_OK(em_linalg_tall_qr(x, y, w, c, &R, &M2));
            if (!G || !R) continue;
            const double *gd = em_tensor_data(G), *rd = em_tensor_data(R), *m1 = em_tensor_data(M1),
                         *m2 = em_tensor_data(M2);
            for (int64_t a = 0; a < p; a++) {
                CHECK_NEAR(m1[a], mu[a], 1e-12);
                CHECK_NEAR(m2[a], mu[a], 1e-12);
                for (int64_t b = 0; b < p; b++) {
                    double rtr = 0; /* (R^T R)[a][b] */
                    for (int64_t q = 0; q < p; q++) rtr += rd[q * p + a] * rd[q * p + b];
                    CHECK(fabs(gd[a * p + b] - g[a * p + b]) <= 1e-12 * gmax);
                    CHECK(fabs(rtr - g[a * p + b]) <= 1e-12 * gmax);
                    if (a > b) CHECK(rd[a * p + b] == 0);
                }
                CHECK(rd[a * p + a] >= 0);
            }
            em_tensor_free(G), em_tensor_free(R), em_tensor_free(M1), em_tensor_free(M2);
        }
        free(g), free(mu);
        em_tensor_free(x), em_tensor_free(y), em_tensor_free(w);
    }
}

TEST(tall_same_result_any_thread_count) {
    int64_t m = 40000, n = 5; /* several chunks */
    em_tensor *x = xmat(m, n), *G[2] = {NULL, NULL}, *R[2] = {NULL, NULL}, *M = NULL;
    int before = em_get_num_threads();
    for (int t = 0; t < 2; t++) {
        em_set_num_threads(t ? 3 : 1);
        CHECK_OK(em_linalg_tall_gram(x, NULL, NULL, true, &G[t], &M));
        em_tensor_free(M);
        CHECK_OK(em_linalg_tall_qr(x, NULL, NULL, true, &R[t], &M));
        em_tensor_free(M);
    }
    em_set_num_threads(before);
    if (G[0] && G[1] && R[0] && R[1]) {
        CHECK(memcmp(em_tensor_data(G[0]), em_tensor_data(G[1]), sizeof(double) * (size_t)(n * n)) == 0);
        CHECK(memcmp(em_tensor_data(R[0]), em_tensor_data(R[1]), sizeof(double) * (size_t)(n * n)) == 0);
    }
    for (int t = 0; t < 2; t++) em_tensor_free(G[t]), em_tensor_free(R[t]);
    em_tensor_free(x);
}

TEST(tall_errors) {
    em_tensor *x = xmat(10, 3), *w = vector_of(EM_F64, 10, V(1, 1, 1, -1, 1, 1, 1, 1, 1, 1));
    em_tensor *y = vector_of(EM_F64, 9, NULL), *G = NULL, *M = NULL, *xi = tensor_of(EM_I32, 2, SH(2, 2), NULL);
    CHECK_STATUS(em_linalg_tall_gram(x, NULL, w, true, &G, &M), EM_ERR_INVALID_ARG);
    CHECK(error_has("weight 3"));
    CHECK_STATUS(em_linalg_tall_qr(x, y, NULL, true, &G, &M), EM_ERR_SHAPE);
    CHECK(error_has("y"));
    CHECK_STATUS(em_linalg_tall_gram(xi, NULL, NULL, true, &G, &M), EM_ERR_SHAPE);
    CHECK_STATUS(em_linalg_tall_gram(NULL, NULL, NULL, true, &G, &M), EM_ERR_INVALID_ARG);
    ((double *)em_tensor_data(x))[4] = NAN;
    CHECK_STATUS(em_linalg_tall_gram(x, NULL, NULL, true, &G, &M), EM_ERR_INVALID_ARG);
    CHECK(error_has("NaN"));
    CHECK_STATUS(em_linalg_tall_qr(x, NULL, NULL, false, &G, &M), EM_ERR_INVALID_ARG);
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(y), em_tensor_free(xi);
}

/* KNN: points on an integer grid (many exact ties), reference by sorting all
 * distances by (distance, index). */
static double kval(int64_t i, int64_t j) { return (double)((i * 37 + j * 11 + (i / 7) * j) % 5); }

TEST(knn_brute_matches_reference) {
    int64_t n = 300, m = 70, d = 3, k = 7;
    em_tensor *X = NULL, *Q = NULL, *D = NULL, *I = NULL;
    em_tensor_zeros(EM_F64, DIMS(n, d), &X);
    em_tensor_zeros(EM_F64, DIMS(m, d), &Q);
    double *xp = em_tensor_data(X), *qp = em_tensor_data(Q);
    for (int64_t i = 0; i < n * d; i++) xp[i] = kval(i / d, i % d);
    for (int64_t i = 0; i < m * d; i++) qp[i] = kval(i / d + 1000, i % d) + 0.5 * (i % 2);
    CHECK_OK(em_knn_brute(X, Q, k, &D, &I));
    double *dist = malloc(sizeof(double) * (size_t)n);
    int64_t *ord = malloc(sizeof(int64_t) * (size_t)n);
    for (int64_t r = 0; D && r < m; r++) {
        for (int64_t i = 0; i < n; i++) {
            double s = 0;
            for (int64_t j = 0; j < d; j++) s += (qp[r * d + j] - xp[i * d + j]) * (qp[r * d + j] - xp[i * d + j]);
            dist[i] = sqrt(s), ord[i] = i;
        }
        for (int64_t a = 1; a < n; a++) { /* insertion sort by (distance, index) */
            int64_t v = ord[a], b = a;
            for (; b > 0 && dist[ord[b - 1]] > dist[v]; b--) ord[b] = ord[b - 1];
            ord[b] = v;
        }
        const double *dd = em_tensor_data(D);
        const int64_t *ii = em_tensor_data(I);
        for (int64_t a = 0; a < k; a++) {
            CHECK(ii[r * k + a] == ord[a]);
            CHECK(dd[r * k + a] == dist[ord[a]]);
        }
    }
    free(dist), free(ord);
    em_tensor_free(D), em_tensor_free(I);
    CHECK_STATUS(em_knn_brute(X, Q, n + 1, &D, &I), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_knn_brute(X, Q, 0, &D, &I), EM_ERR_INVALID_ARG);
    qp[5] = INFINITY;
    CHECK_STATUS(em_knn_brute(X, Q, 3, &D, &I), EM_ERR_INVALID_ARG);
    CHECK(error_has("NaN or infinity"));
    em_tensor_free(X), em_tensor_free(Q);
}

static bool same_bits(const em_tensor *a, const em_tensor *b) {
    return em_tensor_numel(a) == em_tensor_numel(b) &&
           !memcmp(em_tensor_data(a), em_tensor_data(b),
                   (size_t)em_tensor_numel(a) * em_dtype_size(em_tensor_dtype(a)));
}

TEST(tall_project_matches_reference) {
    int64_t m = 1000, d = 7, k = 3;
    em_tensor *x = xmat(m, d), *w = xmat(k, d), *b = vector_of(EM_F64, k, V(0.5, -1, 2)), *out = NULL;
    CHECK_OK(em_linalg_tall_project(x, w, b, &out));
    const double *xp = em_tensor_data(x), *wp = em_tensor_data(w), *bp = em_tensor_data(b);
    for (int64_t r = 0; out && r < m; r++)
        for (int64_t j = 0; j < k; j++) {
            double s = bp[j];
            for (int64_t i = 0; i < d; i++) s += xp[r * d + i] * wp[j * d + i];
            CHECK_NEAR(((const double *)em_tensor_data(out))[r * k + j], s, 1e-13);
        }
    em_tensor_free(out), out = NULL;
    /* every register-tile width (k = 1..16, f64 and f32), tail rows (m % 4 != 0), a transposed
     * (strided) w: each kernel the CPU runs against a double reference, and results with the
     * same bits for any thread count */
    int64_t m2 = 1003, d2 = 19;
    em_tensor *x2 = xmat(m2, d2), *x2f = NULL;
    CHECK_OK(em_tensor_cast(x2, EM_F32, &x2f));
    const double *x2p = em_tensor_data(x2);
    for (int64_t kk = 1; kk <= 16; kk++) {
        em_tensor *wt = xmat(d2, kk), *wv = NULL, *bk = xmat(1, kk), *bv = NULL;
        CHECK_OK(em_tensor_transpose(wt, 0, 1, &wv)); /* (kk, d2) view with strides (1, kk) */
        CHECK_OK(em_tensor_reshape(bk, 1, (int64_t[]){kk}, &bv));
        const double *wtp = em_tensor_data(wt), *bkp = em_tensor_data(bk);
        for (int dt = 0; dt < 2; dt++) {
            em_tensor *wc = NULL, *bc = NULL;
            CHECK_OK(em_tensor_cast(wv, dt ? EM_F32 : EM_F64, &wc));
            CHECK_OK(em_tensor_cast(bv, dt ? EM_F32 : EM_F64, &bc));
            em_tensor *first = NULL;
            for (int isa = 0; isa < EM__GEMM_ISA_COUNT; isa++) {
                if (em__gemm_set_isa(isa) != EM_OK) continue; /* this CPU cannot run it */
                em_tensor *o = NULL;
                CHECK_OK(em_linalg_tall_project(dt ? x2f : x2, dt ? wc : wv, bc, &o));
                for (int64_t r = 0; o && r < m2; r++)
                    for (int64_t j = 0; j < kk; j++) {
                        double s = bkp[j], a = fabs(bkp[j]);
                        for (int64_t i = 0; i < d2; i++)
                            s += x2p[r * d2 + i] * wtp[i * kk + j], a += fabs(x2p[r * d2 + i] * wtp[i * kk + j]);
                        double got = dt ? ((const float *)em_tensor_data(o))[r * kk + j]
                                        : ((const double *)em_tensor_data(o))[r * kk + j];
                        CHECK(fabs(got - s) <= (dt ? 1e-5 : 1e-14) * a);
                    }
                if (o && isa == 0) {
                    CHECK_OK(em_set_num_threads(3));
                    em_tensor *o3 = NULL;
                    CHECK_OK(em_linalg_tall_project(dt ? x2f : x2, dt ? wc : wv, bc, &o3));
                    CHECK(o3 && same_bits(o3, o));
                    em_tensor_free(o3);
                    CHECK_OK(em_set_num_threads(0));
                }
                if (!first) first = o;
                else em_tensor_free(o);
            }
            em__gemm_set_isa(-1);
            em_tensor_free(first), em_tensor_free(wc), em_tensor_free(bc);
        }
        em_tensor_free(wt), em_tensor_free(wv), em_tensor_free(bk), em_tensor_free(bv);
    }
    em_tensor_free(x2), em_tensor_free(x2f);
    CHECK_STATUS(em_linalg_tall_project(x, b, NULL, &out), EM_ERR_DTYPE); /* 1-D w */
    em_tensor *w32 = tensor_of(EM_F32, 2, SH(1, 7), NULL);
    CHECK_STATUS(em_linalg_tall_project(x, w32, NULL, &out), EM_ERR_DTYPE);
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(b), em_tensor_free(w32);
}

static em_tensor *oom_x, *oom_y, *oom_w; /* made before the sweep: only the calls under test may fail */

static em_status oom_tall(void) {
    em_tensor *a = NULL, *b = NULL;
    em_status st = em_linalg_tall_gram(oom_x, oom_y, NULL, true, &a, &b);
    em_tensor_free(a), em_tensor_free(b), a = b = NULL;
    if (!st) st = em_linalg_tall_qr(oom_x, oom_y, oom_y, false, &a, &b);
    em_tensor_free(a), em_tensor_free(b), a = b = NULL;
    if (!st) st = em_knn_brute(oom_x, oom_x, 3, &a, &b);
    em_tensor_free(a), em_tensor_free(b), a = b = NULL;
    if (!st) st = em_linalg_tall_project(oom_x, oom_x, NULL, &a); /* 300 directions: refused before allocating */
    if (st == EM_ERR_SHAPE) st = EM_OK;
    if (!st) st = em_linalg_tall_project(oom_x, oom_w, NULL, &a);
    em_tensor_free(a);
    return st;
}

TEST(tall_knn_oom) {
    oom_x = xmat(300, 4), oom_y = vector_of(EM_F64, 300, NULL), oom_w = xmat(2, 4);
    oom_sweep(oom_tall);
    em_tensor_free(oom_x), em_tensor_free(oom_y), em_tensor_free(oom_w);
}
