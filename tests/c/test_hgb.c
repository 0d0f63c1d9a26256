/* Histogram gradient boosting (ember/hgb.h): exact bins and trees on tiny
 * data, missing values, determinism across thread counts, bad input and
 * out-of-memory injection. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

/* x = 1..4 (and a NaN): midpoint thresholds, codes, NaN in bin max_bins. */
TEST(hgb_bins_are_midpoints_and_quantiles) {
    em_tensor *X = tensor_of(EM_F64, 2, SH(5, 2), V(3, 0, 1, 0, 4, 0, 2, 0, NAN, 0)), *thr = NULL, *nt = NULL;
    CHECK_OK(em_hgb_bin_fit(X, 255, &thr, &nt));
    CHECK(tensor_equals(nt, EM_I64, 1, SH(2), V(3, 0)));
    CHECK(value_at(thr, 0) == 1.5 && value_at(thr, 1) == 2.5 && value_at(thr, 2) == 3.5 && isinf(value_at(thr, 3)));
    em_tensor *codes = NULL;
    CHECK_OK(em_hgb_bin_apply(X, thr, nt, 255, &codes));
    CHECK(tensor_equals(codes, EM_U8, 2, SH(2, 5), V(2, 0, 3, 1, 255, 0, 0, 0, 0, 0)));
    em_tensor_free(thr), em_tensor_free(nt), em_tensor_free(codes), em_tensor_free(X);
    /* 0..9 into 4 bins: NumPy percentile(midpoint) at 25, 50, 75 = 2.5, 4.5, 6.5 */
    X = tensor_of(EM_F64, 2, SH(10, 1), NULL);
    CHECK_OK(em_hgb_bin_fit(X, 4, &thr, &nt));
    CHECK(tensor_equals(thr, EM_F64, 2, SH(1, 3), V(2.5, 4.5, 6.5)));
    CHECK_OK(em_hgb_bin_apply(X, thr, nt, 4, &codes));
    CHECK(tensor_equals(codes, EM_U8, 2, SH(1, 10), V(0, 0, 0, 1, 1, 2, 2, 3, 3, 3)));
    em_tensor_free(thr), em_tensor_free(nt), em_tensor_free(codes), em_tensor_free(X);
}

/* Bins of X and one tree grown on the gradients g (hessians 1). */
static em_status grow_on(em_tensor *X, const double *g, int64_t n, const em_hgb_options *o, em_hgb_tree *t,
                         em_tensor **pred) {
    em_tensor *thr = NULL, *nt = NULL, *codes = NULL, *grad = vector_of(EM_F64, n, g);
    em_status st = em_hgb_bin_fit(X, 255, &thr, &nt);
    if (!st) st = em_hgb_bin_apply(X, thr, nt, 255, &codes);
    if (!st) st = em_hgb_tree_grow(codes, thr, nt, 255, grad, NULL, o, t, pred);
    em_tensor_free(thr), em_tensor_free(nt), em_tensor_free(codes), em_tensor_free(grad);
    return st;
}

/* Gradients -1 on x < 3 and +1 on x >= 3: one split at 2.5, leaves -lr*G/(H+l2). */
TEST(hgb_tree_exact_split_and_values) {
    em_tensor *X = tensor_of(EM_F64, 2, SH(6, 1), V(1, 2, 5, 3, 4, 0));
    em_hgb_options o = em_hgb_default_options();
    o.min_samples_leaf = 1, o.l2_regularization = 1.0, o.shrinkage = 0.5;
    em_hgb_tree t;
    em_tensor *pred = NULL;
    CHECK_OK(grow_on(X, V(-1, -1, 1, 1, 1, -1), 6, &o, &t, &pred));
    CHECK(t.n_nodes == 3 && t.n_leaves == 2 && t.max_depth == 1);
    CHECK(tensor_equals(t.left, EM_I64, 1, SH(3), V(1, -1, -1)));
    CHECK(tensor_equals(t.feature, EM_I64, 1, SH(3), V(0, -1, -1)));
    CHECK(value_at(t.threshold, 0) == 2.5 && value_at(t.bin_threshold, 0) == 2);
    CHECK(tensor_equals(t.count, EM_I64, 1, SH(3), V(6, 3, 3)));
    /* left: G = -3, H = 3 -> -0.5 * -3 / 4 = 0.375; right -0.375; root G = 0 */
    CHECK(tensor_equals(t.value, EM_F64, 1, SH(3), V(0, 0.375, -0.375)));
    CHECK(fabs(value_at(t.gain, 0) - (9.0 / 4 + 9.0 / 4)) < 1e-12);
    CHECK(tensor_equals(pred, EM_F64, 1, SH(6), V(0.375, 0.375, -0.375, -0.375, -0.375, 0.375)));
    /* raw and binned prediction agree; NaN follows missing_left */
    em_tensor *q = tensor_of(EM_F64, 2, SH(3, 1), V(2.5, 2.6, NAN)), *raw = NULL, *roots = NULL, *outs = NULL;
    roots = int_vector_of(EM_I64, 1, (int64_t[]){0}), outs = int_vector_of(EM_I64, 1, (int64_t[]){0});
    CHECK_OK(em_tensor_zeros(EM_F64, 2, SH(3, 1), &raw));
    CHECK_OK(em_hgb_predict(&t, roots, outs, q, 255, raw));
    double nan_side = value_at(t.missing_left, 0) ? 0.375 : -0.375;
    CHECK(tensor_equals(raw, EM_F64, 2, SH(3, 1), V(0.375, -0.375, nan_side)));
    em_tensor_free(raw), em_tensor_free(q), em_tensor_free(roots), em_tensor_free(outs);
    em_tensor_free(pred), em_hgb_tree_free(&t), em_hgb_tree_free(&t);
    /* min_samples_leaf 4 of 6 forbids any split */
    o.min_samples_leaf = 4;
    CHECK_OK(grow_on(X, V(-1, -1, 1, 1, 1, -1), 6, &o, &t, NULL));
    CHECK(t.n_nodes == 1 && t.n_leaves == 1);
    em_hgb_tree_free(&t), em_tensor_free(X);
}

/* Feature 0 carries the signal only through its missing values: they must be
 * sent to the side with the same gradient sign. */
TEST(hgb_missing_values_learn_their_side) {
    em_tensor *X = tensor_of(EM_F64, 2, SH(8, 1), V(1, 2, 3, 4, NAN, NAN, 5, 6));
    em_hgb_options o = em_hgb_default_options();
    o.min_samples_leaf = 1, o.max_leaf_nodes = 2;
    em_hgb_tree t;
    em_tensor *pred = NULL;
    CHECK_OK(grow_on(X, V(-1, -1, -1, -1, -1, -1, 1, 1), 8, &o, &t, &pred));
    CHECK(t.n_nodes == 3 && value_at(t.missing_left, 0) == 1 && value_at(t.threshold, 0) == 4.5);
    CHECK(value_at(pred, 4) == value_at(pred, 0) && value_at(pred, 6) != value_at(pred, 0));
    em_tensor_free(pred), em_hgb_tree_free(&t), em_tensor_free(X);
}

/* max_leaf_nodes bounds the leaves, max_depth the depth (best-first). */
static void noisy(double *x, double *g, int64_t n, int64_t d) {
    uint64_t s = 12345;
    for (int64_t i = 0; i < n * d; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (double)(s >> 11) / 9007199254740992.0;
        if ((s >> 60) == 0) x[i] = NAN;
    }
    for (int64_t i = 0; i < n; i++) g[i] = (isnan(x[i * d]) ? -1 : sin(6 * x[i * d])) + (isnan(x[i * d + 1]) ? 0.5 : x[i * d + 1]);
}

TEST(hgb_limits_and_thread_determinism) {
    enum { N = 600, D = 3 };
    double *x = malloc(N * D * sizeof *x), *g = malloc(N * sizeof *g);
    noisy(x, g, N, D);
    em_tensor *X = tensor_of(EM_F64, 2, SH(N, D), x);
    em_hgb_options o = em_hgb_default_options();
    o.max_leaf_nodes = 7;
    em_hgb_tree ref;
    em_tensor *pref = NULL;
    CHECK_OK(em_set_num_threads(1));
    CHECK_OK(grow_on(X, g, N, &o, &ref, &pref));
    CHECK(ref.n_leaves == 7 && ref.n_nodes == 13);
    for (int th = 2; th <= 3; th++) {
        CHECK_OK(em_set_num_threads(th));
        em_hgb_tree t;
        em_tensor *p = NULL;
        CHECK_OK(grow_on(X, g, N, &o, &t, &p));
        CHECK(t.n_nodes == ref.n_nodes);
        CHECK(memcmp(em_tensor_data(t.value), em_tensor_data(ref.value), (size_t)t.n_nodes * 8) == 0);
        CHECK(memcmp(em_tensor_data(t.feature), em_tensor_data(ref.feature), (size_t)t.n_nodes * 8) == 0);
        CHECK(memcmp(em_tensor_data(p), em_tensor_data(pref), N * 8) == 0);
        em_tensor_free(p), em_hgb_tree_free(&t);
    }
    CHECK_OK(em_set_num_threads(0));
    /* raw prediction of the training rows gives the training leaf values */
    em_tensor *roots = int_vector_of(EM_I64, 1, (int64_t[]){0}), *outs = int_vector_of(EM_I64, 1, (int64_t[]){0});
    em_tensor *raw = NULL;
    CHECK_OK(em_tensor_zeros(EM_F64, 2, SH(N, 1), &raw));
    CHECK_OK(em_hgb_predict(&ref, roots, outs, X, 255, raw));
    CHECK(memcmp(em_tensor_data(raw), em_tensor_data(pref), N * 8) == 0);
    em_tensor_free(raw), em_tensor_free(pref), em_hgb_tree_free(&ref);
    o.max_leaf_nodes = 0, o.max_depth = 2;
    CHECK_OK(grow_on(X, g, N, &o, &ref, NULL));
    CHECK(ref.max_depth == 2 && ref.n_leaves <= 4);
    em_hgb_tree_free(&ref);
    em_tensor_free(roots), em_tensor_free(outs), em_tensor_free(X), free(x), free(g);
}

TEST(hgb_rejects_bad_input) {
    em_tensor *X = tensor_of(EM_F64, 2, SH(4, 1), V(1, 2, 3, 4)), *X32 = tensor_of(EM_F32, 2, SH(4, 1), NULL);
    em_tensor *thr = NULL, *nt = NULL, *codes = NULL;
    CHECK_STATUS(em_hgb_bin_fit(X32, 255, &thr, &nt), EM_ERR_DTYPE);
    CHECK_STATUS(em_hgb_bin_fit(X, 256, &thr, &nt), EM_ERR_INVALID_ARG);
    CHECK(error_has("max_bins"));
    CHECK_OK(em_hgb_bin_fit(X, 255, &thr, &nt));
    CHECK_STATUS(em_hgb_bin_apply(X, thr, nt, 10, &codes), EM_ERR_SHAPE);
    CHECK_OK(em_hgb_bin_apply(X, thr, nt, 255, &codes));
    em_tensor *g3 = vector_of(EM_F64, 3, V(1, 2, 3)), *gnan = vector_of(EM_F64, 4, V(1, NAN, 0, 0));
    em_hgb_options o = em_hgb_default_options();
    em_hgb_tree t;
    CHECK_STATUS(em_hgb_tree_grow(codes, thr, nt, 255, g3, NULL, &o, &t, NULL), EM_ERR_SHAPE);
    CHECK(error_has("grad"));
    CHECK_STATUS(em_hgb_tree_grow(codes, thr, nt, 255, gnan, NULL, &o, &t, NULL), EM_ERR_INVALID_ARG);
    o.max_leaf_nodes = 1;
    em_tensor *g4 = vector_of(EM_F64, 4, V(1, 2, 3, 4));
    CHECK_STATUS(em_hgb_tree_grow(codes, thr, nt, 255, g4, NULL, &o, &t, NULL), EM_ERR_INVALID_ARG);
    o = em_hgb_default_options();
    CHECK_STATUS(em_hgb_tree_grow(X, thr, nt, 255, g4, NULL, &o, &t, NULL), EM_ERR_DTYPE);
    /* codes beyond a feature's thresholds are refused */
    ((uint8_t *)em_tensor_data(codes))[0] = 7;
    CHECK_STATUS(em_hgb_tree_grow(codes, thr, nt, 255, g4, NULL, &o, &t, NULL), EM_ERR_INVALID_ARG);
    CHECK(error_has("codes"));
    /* a malformed tree is refused by predict */
    em_tensor *left = int_vector_of(EM_I64, 1, (int64_t[]){0}), *zi = int_vector_of(EM_I64, 1, (int64_t[]){0});
    em_tensor *zf = vector_of(EM_F64, 1, V(0)), *raw = NULL;
    CHECK_OK(em_tensor_zeros(EM_F64, 2, SH(4, 1), &raw));
    em_hgb_tree bad = {.n_nodes = 1, .left = left, .right = zi, .feature = zi, .bin_threshold = zi,
                       .missing_left = zi, .threshold = zf, .value = zf};
    CHECK_STATUS(em_hgb_predict(&bad, zi, zi, X, 255, raw), EM_ERR_INVALID_ARG);
    CHECK(error_has("malformed"));
    em_tensor_free(left), em_tensor_free(zi), em_tensor_free(zf), em_tensor_free(raw);
    em_tensor_free(g3), em_tensor_free(gnan), em_tensor_free(g4), em_tensor_free(thr), em_tensor_free(nt);
    em_tensor_free(codes), em_tensor_free(X), em_tensor_free(X32);
}

static em_tensor *oom_X, *oom_thr, *oom_nt, *oom_codes, *oom_g;
static em_status oom_bins(void) {
    em_tensor *thr = NULL, *nt = NULL, *codes = NULL;
    em_status st = em_hgb_bin_fit(oom_X, 255, &thr, &nt);
    if (!st) st = em_hgb_bin_apply(oom_X, thr, nt, 255, &codes);
    em_tensor_free(thr), em_tensor_free(nt), em_tensor_free(codes);
    return st;
}
static em_status oom_grow(void) {
    em_hgb_options o = em_hgb_default_options();
    o.min_samples_leaf = 2;
    em_hgb_tree t;
    em_tensor *p = NULL;
    em_status st = em_hgb_tree_grow(oom_codes, oom_thr, oom_nt, 255, oom_g, NULL, &o, &t, &p);
    if (!st) em_tensor_free(p), em_hgb_tree_free(&t);
    return st;
}
static em_status oom_predict(void) {
    em_tensor *roots = NULL, *raw = NULL;
    em_hgb_options o = em_hgb_default_options();
    o.min_samples_leaf = 2;
    em_hgb_tree t = {0};
    em_status st = em_hgb_tree_grow(oom_codes, oom_thr, oom_nt, 255, oom_g, NULL, &o, &t, NULL);
    if (!st) st = em_tensor_zeros(EM_I64, 1, SH(1), &roots);
    if (!st) st = em_tensor_zeros(EM_F64, 2, SH(20, 1), &raw);
    if (!st) st = em_hgb_predict(&t, roots, roots, oom_X, 255, raw);
    em_hgb_tree_free(&t), em_tensor_free(roots), em_tensor_free(raw);
    return st;
}

TEST(hgb_out_of_memory) {
    double x[40], g[20];
    noisy(x, g, 20, 2);
    oom_X = tensor_of(EM_F64, 2, SH(20, 2), x);
    oom_g = vector_of(EM_F64, 20, g);
    CHECK_OK(em_hgb_bin_fit(oom_X, 255, &oom_thr, &oom_nt));
    CHECK_OK(em_hgb_bin_apply(oom_X, oom_thr, oom_nt, 255, &oom_codes));
    CHECK_OK(em_set_num_threads(1));
    oom_sweep(oom_bins);
    oom_sweep(oom_grow);
    oom_sweep(oom_predict);
    CHECK_OK(em_set_num_threads(0));
    em_tensor_free(oom_X), em_tensor_free(oom_g), em_tensor_free(oom_thr), em_tensor_free(oom_nt);
    em_tensor_free(oom_codes);
}

/* ---- the KD-tree of ember/kdtree.h (k-nearest neighbours) ---- */

/* Against a brute-force scan with (distance^2, index) order, on a grid full of ties. */
TEST(kdtree_matches_brute_force_with_ties) {
    enum { N = 75, D = 2, M = 6, K = 9 };
    double x[N * D], q[M * D] = {2.5, 2.5, 0, 0, 4, 4, 1, 3, -2, 7, 2, 2.2};
    for (int i = 0; i < N; i++) x[2 * i] = (i % 25) / 5, x[2 * i + 1] = (i % 25) % 5;
    em_tensor *X = tensor_of(EM_F64, 2, SH(N, D), x), *Q = tensor_of(EM_F64, 2, SH(M, D), q);
    for (int64_t leaf = 1; leaf <= 8; leaf *= 2) {
        em_kdtree t;
        CHECK_OK(em_kdtree_build(X, leaf, &t));
        for (int th = 1; th <= 2; th++) {
            CHECK_OK(em_set_num_threads(th));
            em_tensor *dist = NULL, *idx = NULL;
            CHECK_OK(em_kdtree_query(&t, X, Q, K, &dist, &idx));
            for (int r = 0; r < M; r++) {
                bool used[N] = {false};
                for (int j = 0; j < K; j++) { /* j-th smallest by (d2, index) */
                    int best = -1;
                    double bd = 0;
                    for (int i = 0; i < N; i++) {
                        double dx = q[2 * r] - x[2 * i], dy = q[2 * r + 1] - x[2 * i + 1], d2 = dx * dx + dy * dy;
                        if (!used[i] && (best < 0 || d2 < bd)) best = i, bd = d2;
                    }
                    used[best] = true;
                    CHECK(int_at(idx, r * K + j) == best);
                    CHECK(value_at(dist, r * K + j) == sqrt(bd));
                }
            }
            em_tensor_free(dist), em_tensor_free(idx);
        }
        em_kdtree_free(&t), em_kdtree_free(&t);
    }
    CHECK_OK(em_set_num_threads(0));
    em_tensor_free(X), em_tensor_free(Q);
}

TEST(kdtree_rejects_bad_input) {
    em_tensor *X = tensor_of(EM_F64, 2, SH(4, 2), NULL), *Q3 = tensor_of(EM_F64, 2, SH(1, 3), NULL);
    em_tensor *Xnan = tensor_of(EM_F64, 2, SH(1, 1), V(NAN)), *dist = NULL, *idx = NULL;
    em_kdtree t;
    CHECK_STATUS(em_kdtree_build(X, 0, &t), EM_ERR_INVALID_ARG);
    CHECK(error_has("leaf_size"));
    CHECK_STATUS(em_kdtree_build(Xnan, 1, &t), EM_ERR_INVALID_ARG);
    CHECK_OK(em_kdtree_build(X, 1, &t));
    CHECK_STATUS(em_kdtree_query(&t, X, Q3, 1, &dist, &idx), EM_ERR_SHAPE);
    CHECK_STATUS(em_kdtree_query(&t, X, X, 5, &dist, &idx), EM_ERR_INVALID_ARG);
    CHECK(error_has("k must be"));
    ((int64_t *)em_tensor_data(t.left))[0] = 0; /* a cycle: refused, not followed */
    CHECK_STATUS(em_kdtree_query(&t, X, X, 1, &dist, &idx), EM_ERR_INVALID_ARG);
    CHECK(error_has("malformed"));
    em_kdtree_free(&t), em_tensor_free(X), em_tensor_free(Q3), em_tensor_free(Xnan);
}

static em_tensor *kd_X;
static em_status oom_kdtree(void) {
    em_kdtree t;
    em_tensor *dist = NULL, *idx = NULL;
    em_status st = em_kdtree_build(kd_X, 2, &t);
    if (st) return st;
    st = em_kdtree_query(&t, kd_X, kd_X, 3, &dist, &idx);
    em_tensor_free(dist), em_tensor_free(idx), em_kdtree_free(&t);
    return st;
}

TEST(kdtree_out_of_memory) {
    kd_X = tensor_of(EM_F64, 2, SH(12, 2), NULL);
    CHECK_OK(em_set_num_threads(1));
    oom_sweep(oom_kdtree);
    CHECK_OK(em_set_num_threads(0));
    em_tensor_free(kd_X);
}
