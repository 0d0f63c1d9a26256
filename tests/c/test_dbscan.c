/* DBSCAN (ember/dbscan.h): hand-checked clusterings, border samples,
 * weights, samples at exactly eps, thread independence, bad input and
 * out-of-memory injection. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

static bool labels_are(const em_tensor *t, int64_t n, const int64_t *want) {
    if (em_tensor_numel(t) != n) return false;
    for (int64_t i = 0; i < n; i++)
        if (int_at(t, i) != want[i]) return false;
    return true;
}
#define L(...) ((const int64_t[]){__VA_ARGS__})

/* 1-d: two groups of three 0.1 apart, a sample 0.5 from both groups' ends,
 * and a far sample.  With eps 0.55 and min_samples 3 the middle sample
 * (2 neighbours + itself) is core and joins the groups into one cluster;
 * with min_samples 4 the cores are 2 and 4 and the middle sample, a border
 * sample of both clusters, joins cluster 0, the first by index. */
TEST(dbscan_line) {
    for (int dt = 0; dt < 2; dt++) {
        em_dtype t = dt ? EM_F32 : EM_F64;
        em_tensor *X = tensor_of(t, 2, SH(8, 1), V(0, 0.1, 0.2, 0.7, 1.2, 1.3, 1.4, 9));
        em_tensor *lab = NULL, *core = NULL;
        CHECK_OK(em_dbscan_fit(X, NULL, 0.55, 3, &lab, &core));
        CHECK(labels_are(lab, 8, L(0, 0, 0, 0, 0, 0, 0, -1)));
        CHECK(labels_are(core, 7, L(0, 1, 2, 3, 4, 5, 6)));
        em_tensor_free(lab), em_tensor_free(core);
        CHECK_OK(em_dbscan_fit(X, NULL, 0.55, 4, &lab, &core));
        /* neighbours: 0:{0,1,2} 1:{0,1,2} 2:{0,1,2,3} 3:{2,3,4} 4:{3,4,5,6} 5:{4,5,6} 6:{4,5,6} */
        CHECK(labels_are(lab, 8, L(0, 0, 0, 0, 1, 1, 1, -1)));
        CHECK(labels_are(core, 2, L(2, 4)));
        em_tensor_free(lab), em_tensor_free(core);
        em_tensor_free(X);
    }
}

/* A 5 x 5 unit grid: the 4 axis neighbours are at exactly eps = 1 and
 * count (<=); just below 1 none does.  Weights of 0 on the odd samples
 * take them out of every count. */
TEST(dbscan_exact_eps_and_weights) {
    double v[50];
    for (int i = 0; i < 25; i++) v[2 * i] = i % 5, v[2 * i + 1] = i / 5;
    em_tensor *X = tensor_of(EM_F64, 2, SH(25, 2), v), *lab = NULL, *core = NULL;
    CHECK_OK(em_dbscan_fit(X, NULL, 1.0, 5, &lab, &core));
    /* interior samples (3 x 3) have 4 neighbours + themselves: core; the rest border */
    CHECK(em_tensor_numel(core) == 9);
    for (int i = 0; i < 25; i++) CHECK(int_at(lab, i) == ((i == 0 || i == 4 || i == 20 || i == 24) ? -1 : 0));
    em_tensor_free(lab), em_tensor_free(core);
    CHECK_OK(em_dbscan_fit(X, NULL, nextafter(1.0, 0.0), 1, &lab, &core));
    for (int i = 0; i < 25; i++) CHECK(int_at(lab, i) == i); /* each alone, numbered by index */
    em_tensor_free(lab), em_tensor_free(core);
    double wv[25];
    for (int i = 0; i < 25; i++) wv[i] = i % 2 ? 0 : 1;
    em_tensor *w = vector_of(EM_F32, 25, wv);
    CHECK_OK(em_dbscan_fit(X, w, 1.0, 4, &lab, &core));
    /* the axis neighbours of sample i = x + 5 y are i -+ 1 and i -+ 5, of the other parity: an odd
     * sample counts its even neighbours alone, 4 for the interior odd ones 7, 11, 13, 17 (no two of
     * them neighbours: four clusters); an even one counts only itself.  A border sample near several
     * clusters joins the first: 12 (near all four) goes to 0, 16 (near 11 and 17) to 1, 18 to 2. */
    CHECK(labels_are(core, 4, L(7, 11, 13, 17)));
    CHECK(labels_are(lab, 25, L(-1, -1, 0, -1, -1, -1, 0, 0, 0, -1, 1, 1, 0, 2, 2, -1, 1, 3, 2, -1, -1, -1, 3, -1,
                                -1)));
    em_tensor_free(lab), em_tensor_free(core), em_tensor_free(w), em_tensor_free(X);
}

/* Many noisy clusters: 1 and 4 threads give the same labels, and every
 * core sample's neighbourhood (checked by brute force) reaches min_samples. */
TEST(dbscan_threads) {
    int64_t n = 3000, d = 3;
    double *v = malloc((size_t)(n * d) * sizeof *v);
    uint32_t s = 7;
    for (int64_t i = 0; i < n * d; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (double)((i / d) % 9) * 2.5 + 2.0 * ((double)(s >> 8) / 16777216.0 - 0.5);
    }
    em_tensor *X = tensor_of(EM_F64, 2, SH(n, d), v), *lab[2] = {NULL}, *core[2] = {NULL};
    for (int th = 0; th < 2; th++) {
        CHECK_OK(em_set_num_threads(th ? 4 : 1));
        CHECK_OK(em_dbscan_fit(X, NULL, 0.3, 6, &lab[th], &core[th]));
    }
    CHECK_OK(em_set_num_threads(0));
    CHECK(em_tensor_numel(core[0]) == em_tensor_numel(core[1]));
    CHECK(!memcmp(em_tensor_data(lab[0]), em_tensor_data(lab[1]), (size_t)n * 8));
    int64_t nc = em_tensor_numel(core[0]), q = 0;
    CHECK(nc > 0 && nc < n);
    for (int64_t i = 0; i < n; i++) {
        int64_t cnt = 0;
        for (int64_t j = 0; j < n; j++) {
            double s2 = 0;
            for (int64_t f = 0; f < d; f++) s2 += (v[i * d + f] - v[j * d + f]) * (v[i * d + f] - v[j * d + f]);
            cnt += s2 <= 0.09;
        }
        bool is_core = q < nc && int_at(core[0], q) == i;
        q += is_core;
        CHECK(is_core == (cnt >= 6));
        if (is_core) CHECK(int_at(lab[0], i) >= 0);
    }
    for (int th = 0; th < 2; th++) em_tensor_free(lab[th]), em_tensor_free(core[th]);
    em_tensor_free(X);
    free(v);
}

TEST(dbscan_errors) {
    em_tensor *X = tensor_of(EM_F64, 2, SH(3, 2), V(0, 1, 2, 3, 4, 5)), *lab = NULL, *core = NULL;
    CHECK_STATUS(em_dbscan_fit(NULL, NULL, 0.5, 2, &lab, &core), EM_ERR_INVALID_ARG);
    CHECK(error_has("NULL X"));
    CHECK_STATUS(em_dbscan_fit(X, NULL, 0.5, 2, NULL, &core), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_dbscan_fit(X, NULL, 0.5, 2, &lab, NULL), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_dbscan_fit(X, NULL, 0.0, 2, &lab, &core), EM_ERR_INVALID_ARG);
    CHECK(error_has("eps must be > 0"));
    CHECK_STATUS(em_dbscan_fit(X, NULL, -1.0, 2, &lab, &core), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_dbscan_fit(X, NULL, NAN, 2, &lab, &core), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_dbscan_fit(X, NULL, 0.5, 0, &lab, &core), EM_ERR_INVALID_ARG);
    CHECK(error_has("min_samples"));
    CHECK_STATUS(em_dbscan_fit(X, NULL, 0.5, INFINITY, &lab, &core), EM_ERR_INVALID_ARG);
    em_tensor *Xi = tensor_of(EM_I32, 2, SH(3, 2), V(0, 1, 2, 3, 4, 5));
    CHECK_STATUS(em_dbscan_fit(Xi, NULL, 0.5, 2, &lab, &core), EM_ERR_DTYPE);
    CHECK(error_has("float32 or float64"));
    em_tensor *X1 = vector_of(EM_F64, 3, V(0, 1, 2));
    CHECK_STATUS(em_dbscan_fit(X1, NULL, 0.5, 2, &lab, &core), EM_ERR_DTYPE);
    em_tensor *Xn = tensor_of(EM_F64, 2, SH(3, 2), V(0, 1, 2, NAN, 4, 5));
    CHECK_STATUS(em_dbscan_fit(Xn, NULL, 0.5, 2, &lab, &core), EM_ERR_INVALID_ARG);
    CHECK(error_has("X[1, 1] is not finite"));
    em_tensor *Xf = tensor_of(EM_F32, 2, SH(3, 2), V(0, 1, 2, 3, -INFINITY, 5));
    CHECK_STATUS(em_dbscan_fit(Xf, NULL, 0.5, 2, &lab, &core), EM_ERR_INVALID_ARG);
    CHECK(error_has("X[2, 0] is not finite"));
    em_tensor *w2 = vector_of(EM_F64, 2, V(1, 1)), *wn = vector_of(EM_F64, 3, V(1, NAN, 1));
    em_tensor *wi = int_vector_of(EM_I64, 3, L(1, 1, 1));
    CHECK_STATUS(em_dbscan_fit(X, w2, 0.5, 2, &lab, &core), EM_ERR_SHAPE);
    CHECK(error_has("sample_weight"));
    CHECK_STATUS(em_dbscan_fit(X, wi, 0.5, 2, &lab, &core), EM_ERR_SHAPE);
    CHECK_STATUS(em_dbscan_fit(X, wn, 0.5, 2, &lab, &core), EM_ERR_INVALID_ARG);
    CHECK(error_has("sample_weight[1] is not finite"));
    /* no samples: empty results; eps = inf: one cluster */
    em_tensor *X0 = tensor_of(EM_F64, 2, SH(0, 2), NULL);
    CHECK_OK(em_dbscan_fit(X0, NULL, 0.5, 2, &lab, &core));
    CHECK(em_tensor_numel(lab) == 0 && em_tensor_numel(core) == 0);
    em_tensor_free(lab), em_tensor_free(core);
    CHECK_OK(em_dbscan_fit(X, NULL, INFINITY, 3, &lab, &core));
    CHECK(labels_are(lab, 3, L(0, 0, 0)) && em_tensor_numel(core) == 3);
    em_tensor_free(lab), em_tensor_free(core);
    em_tensor *objs[] = {X, Xi, X1, Xn, Xf, w2, wn, wi, X0};
    for (size_t q = 0; q < sizeof objs / sizeof objs[0]; q++) em_tensor_free(objs[q]);
}

static em_tensor *oom_X, *oom_w;
static em_status oom_dbscan(void) {
    em_tensor *lab = NULL, *core = NULL;
    em_status st = em_dbscan_fit(oom_X, oom_w, 0.55, 3, &lab, &core);
    em_tensor_free(lab), em_tensor_free(core);
    return st;
}

TEST(dbscan_out_of_memory) {
    CHECK_OK(em_set_num_threads(1));
    oom_X = tensor_of(EM_F32, 2, SH(8, 1), V(0, 0.1, 0.2, 0.7, 1.2, 1.3, 1.4, 9));
    oom_w = vector_of(EM_F64, 8, V(1, 1, 1, 1, 1, 1, 1, 1));
    oom_sweep(oom_dbscan);
    em_tensor_free(oom_w), oom_w = NULL;
    oom_sweep(oom_dbscan);
    CHECK_OK(em_set_num_threads(0));
    em_tensor_free(oom_X);
}
