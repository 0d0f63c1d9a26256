/* CART trees and forests (ember/tree.h): exact trees on hand-checked data,
 * invariants of larger fits, determinism across thread counts, bad input and
 * out-of-memory injection. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

/* x in {1, 2, 3, 4}: classes 0 0 1 1 -> one split at 2.5 into two pure leaves. */
TEST(tree_fits_the_obvious_split) {
    em_tensor *X = tensor_of(EM_F32, 2, SH(4, 1), V(3, 1, 4, 2)), *y = int_vector_of(EM_I64, 4, (int64_t[]){1, 0, 1, 0});
    em_tree_options o = em_tree_default_options();
    em_tree t;
    CHECK_OK(em_tree_fit(X, y, NULL, 2, &o, &t));
    CHECK(t.n_nodes == 3 && t.max_depth == 1 && t.n_values == 2);
    CHECK(tensor_equals(t.left, EM_I64, 1, SH(3), V(1, -1, -1)));
    CHECK(tensor_equals(t.right, EM_I64, 1, SH(3), V(2, -1, -1)));
    CHECK(tensor_equals(t.threshold, EM_F64, 1, SH(3), V(2.5, -2, -2)));
    CHECK(tensor_equals(t.value, EM_F64, 2, SH(3, 2), V(2, 2, 2, 0, 0, 2)));
    CHECK(tensor_equals(t.impurity, EM_F64, 1, SH(3), V(0.5, 0, 0)));
    em_tensor *q = tensor_of(EM_F32, 2, SH(3, 1), V(2.5, 2.6, -7)), *leaf = NULL;
    CHECK_OK(em_tree_apply(&t, q, &leaf));
    CHECK(tensor_equals(leaf, EM_I64, 1, SH(3), V(1, 2, 1)));
    em_tensor_free(leaf), em_tensor_free(q), em_tree_free(&t), em_tree_free(&t);
    /* weights move the majority; entropy of a 1:3 node is 0.8113 bits */
    em_tensor *w = vector_of(EM_F64, 4, V(1, 1, 3, 1));
    o.criterion = EM_TREE_ENTROPY;
    o.max_depth = 0;
    CHECK_OK(em_tree_fit(X, y, w, 2, &o, &t));
    CHECK(t.n_nodes == 1 && tensor_equals(t.value, EM_F64, 2, SH(1, 2), V(2, 4)));
    CHECK(fabs(value_at(t.impurity, 0) - 0.9182958340544896) < 1e-12); /* H(1/3, 2/3) */
    em_tree_free(&t), em_tensor_free(w), em_tensor_free(X), em_tensor_free(y);
}

TEST(tree_regression_means_and_variances) {
    em_tensor *X = tensor_of(EM_F32, 2, SH(6, 2), V(0, 5, 1, 5, 2, 5, 10, 5, 11, 5, 12, 5));
    em_tensor *y = vector_of(EM_F64, 6, V(1, 2, 3, 10, 11, 12));
    em_tree_options o = em_tree_default_options();
    o.criterion = EM_TREE_SQUARED_ERROR;
    o.max_depth = 1;
    em_tree t;
    CHECK_OK(em_tree_fit(X, y, NULL, 0, &o, &t));
    /* feature 1 is constant, so the split is on feature 0 between 2 and 10 */
    CHECK(tensor_equals(t.feature, EM_I64, 1, SH(3), V(0, -2, -2)));
    CHECK(tensor_equals(t.threshold, EM_F64, 1, SH(3), V(6, -2, -2)));
    CHECK(tensor_equals(t.value, EM_F64, 2, SH(3, 1), V(6.5, 2, 11)));
    CHECK(fabs(value_at(t.impurity, 1) - 2.0 / 3.0) < 1e-12);
    em_tree_free(&t), em_tensor_free(X), em_tensor_free(y);
}

/* A noisy two-class problem: invariants that any correct tree satisfies. */
static void noisy_data(int64_t n, em_tensor **X, em_tensor **y) {
    float *x = malloc((size_t)n * 3 * sizeof *x);
    int64_t *c = malloc((size_t)n * sizeof *c);
    uint32_t s = 7;
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < 3; j++) {
            s = s * 1664525u + 1013904223u;
            x[i * 3 + j] = (float)(s >> 8) / 16777216.0f;
        }
        s = s * 1664525u + 1013904223u;
        c[i] = (x[i * 3] + 0.3f * x[i * 3 + 1] > 0.6f) ^ ((s >> 28) == 0);
    }
    CHECK_OK(em_tensor_empty(EM_F32, 2, SH(n, 3), X));
    memcpy(em_tensor_data(*X), x, (size_t)n * 3 * sizeof *x);
    *y = int_vector_of(EM_I64, n, c);
    free(x), free(c);
}

TEST(tree_invariants_on_noisy_data) {
    em_tensor *X, *y;
    noisy_data(300, &X, &y);
    em_tree_options o = em_tree_default_options();
    o.min_samples_leaf = 5;
    em_tree t;
    CHECK_OK(em_tree_fit(X, y, NULL, 2, &o, &t));
    const int64_t *left = em_tensor_data(t.left), *right = em_tensor_data(t.right), *ns = em_tensor_data(t.n_samples);
    const double *val = em_tensor_data(t.value);
    CHECK(ns[0] == 300);
    for (int64_t i = 0; i < t.n_nodes; i++) {
        CHECK(ns[i] >= 5);
        if (left[i] >= 0) {
            CHECK(ns[left[i]] + ns[right[i]] == ns[i]);
            CHECK(val[left[i] * 2] + val[right[i] * 2] == val[i * 2]);
        }
    }
    /* every training sample lands in a leaf whose counts include its class */
    em_tensor *leaf = NULL;
    CHECK_OK(em_tree_apply(&t, X, &leaf));
    const int64_t *lf = em_tensor_data(leaf), *cls = em_tensor_data(y);
    for (int64_t i = 0; i < 300; i++) CHECK(left[lf[i]] == -1 && val[lf[i] * 2 + cls[i]] >= 1);
    em_tensor_free(leaf), em_tree_free(&t), em_tensor_free(X), em_tensor_free(y);
}

TEST(forest_same_for_any_thread_count) {
    em_tensor *X, *y;
    noisy_data(200, &X, &y);
    em_tree_options o = em_tree_default_options();
    o.max_features = 2;
    o.seed = 42;
    em_tree ref[6], got[6];
    CHECK_OK(em_set_num_threads(1));
    CHECK_OK(em_forest_fit(X, y, NULL, 2, &o, 6, true, 200, ref));
    for (int nt = 2; nt <= 3; nt++) {
        CHECK_OK(em_set_num_threads(nt));
        CHECK_OK(em_forest_fit(X, y, NULL, 2, &o, 6, true, 200, got));
        for (int b = 0; b < 6; b++) {
            CHECK(got[b].n_nodes == ref[b].n_nodes);
            CHECK(got[b].n_nodes == ref[b].n_nodes &&
                  memcmp(em_tensor_data(got[b].threshold), em_tensor_data(ref[b].threshold),
                         (size_t)ref[b].n_nodes * sizeof(double)) == 0);
            em_tree_free(&got[b]);
        }
    }
    CHECK_OK(em_set_num_threads(0));
    /* bootstrap: different trees; their root counts are the draws with weight */
    CHECK(memcmp(em_tensor_data(ref[0].threshold), em_tensor_data(ref[1].threshold), sizeof(double)) != 0 ||
          ref[0].n_nodes != ref[1].n_nodes);
    CHECK(value_at(ref[0].weighted_n_samples, 0) == 200);
    for (int b = 0; b < 6; b++) em_tree_free(&ref[b]);
    em_tensor_free(X), em_tensor_free(y);
}

/* em_forest_predict = mean over trees of the leaf class shares, the same bits
 * for any thread count; 3000 rows also take the radix-sorted node path. */
TEST(forest_predict_is_the_mean_of_leaf_shares) {
    em_tensor *X, *y;
    noisy_data(3000, &X, &y);
    em_tree_options o = em_tree_default_options();
    o.max_features = 2;
    o.seed = 3;
    em_tree t[4];
    CHECK_OK(em_forest_fit(X, y, NULL, 2, &o, 4, true, 3000, t));
    em_tensor *p1 = NULL, *p3 = NULL, *leaf[4] = {NULL};
    CHECK_OK(em_set_num_threads(1));
    CHECK_OK(em_forest_predict(t, 4, X, true, &p1));
    CHECK_OK(em_set_num_threads(3));
    CHECK_OK(em_forest_predict(t, 4, X, true, &p3));
    CHECK_OK(em_set_num_threads(0));
    CHECK(memcmp(em_tensor_data(p1), em_tensor_data(p3), 3000 * 2 * sizeof(double)) == 0);
    for (int b = 0; b < 4; b++) CHECK_OK(em_tree_apply(&t[b], X, &leaf[b]));
    const double *p = em_tensor_data(p1);
    int bad = 0;
    for (int64_t i = 0; i < 3000; i++)
        for (int c = 0; c < 2; c++) {
            double want = 0;
            for (int b = 0; b < 4; b++) {
                const double *v = (const double *)em_tensor_data(t[b].value) + 2 * ((int64_t *)em_tensor_data(leaf[b]))[i];
                want += v[c] / (v[0] + v[1]);
            }
            bad += fabs(p[i * 2 + c] - want / 4) > 1e-12;
        }
    CHECK(bad == 0);
    em_tensor *q = NULL;
    CHECK_STATUS(em_forest_predict(t, 0, X, true, &q), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_forest_predict(NULL, 4, X, true, &q), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_forest_predict(t, 4, y, true, &q), EM_ERR_DTYPE);
    CHECK(q == NULL);
    em_tensor_free(p1), em_tensor_free(p3);
    for (int b = 0; b < 4; b++) em_tensor_free(leaf[b]), em_tree_free(&t[b]);
    em_tensor_free(X), em_tensor_free(y);
}

/* The packed forest (em_forest_pack / em_forest_packed_predict) gives the
 * bits of em_forest_predict for any thread count and for regression values;
 * a tree numbered in another order than pre-order (here: breadth-first) is
 * renumbered and walks to the same leaves; a tampered pack is refused. */
TEST(forest_packed_predict_matches_unpacked) {
    em_tensor *X, *y;
    noisy_data(2000, &X, &y);
    em_tree_options o = em_tree_default_options();
    o.seed = 5;
    em_tree t[3];
    CHECK_OK(em_forest_fit(X, y, NULL, 2, &o, 3, true, 2000, t));
    em_forest_packed f;
    CHECK_OK(em_forest_pack(t, 3, 3, true, &f));
    CHECK(f.n_trees == 3 && f.n_values == 2 && f.n_nodes == t[0].n_nodes + t[1].n_nodes + t[2].n_nodes);
    em_tensor *ref = NULL, *p1 = NULL, *p3 = NULL, *q = NULL;
    CHECK_OK(em_forest_predict(t, 3, X, true, &ref));
    CHECK_OK(em_set_num_threads(1));
    CHECK_OK(em_forest_packed_predict(&f, X, &p1));
    CHECK_OK(em_set_num_threads(3));
    CHECK_OK(em_forest_packed_predict(&f, X, &p3));
    CHECK_OK(em_set_num_threads(0));
    CHECK(memcmp(em_tensor_data(ref), em_tensor_data(p1), 2000 * 2 * sizeof(double)) == 0);
    CHECK(memcmp(em_tensor_data(ref), em_tensor_data(p3), 2000 * 2 * sizeof(double)) == 0);
    em_tensor_free(p1), em_tensor_free(p3);
    p1 = p3 = NULL;

    /* tree 0 renumbered breadth-first (children still after parents) */
    int64_t n = t[0].n_nodes;
    const int64_t *L = em_tensor_data(t[0].left), *R = em_tensor_data(t[0].right), *F = em_tensor_data(t[0].feature);
    const double *T = em_tensor_data(t[0].threshold), *V = em_tensor_data(t[0].value);
    int64_t *order = malloc((size_t)n * sizeof *order), *pos = malloc((size_t)n * sizeof *pos);
    int64_t head = 0, tail = 0;
    order[tail++] = 0;
    while (head < tail) {
        int64_t i = order[head++];
        if (L[i] >= 0) order[tail++] = L[i], order[tail++] = R[i];
    }
    CHECK(tail == n);
    for (int64_t j = 0; j < n; j++) pos[order[j]] = j;
    em_tree bfs = {.n_nodes = n, .n_values = 2};
    CHECK_OK(em_tensor_empty(EM_I64, 1, SH(n), &bfs.left));
    CHECK_OK(em_tensor_empty(EM_I64, 1, SH(n), &bfs.right));
    CHECK_OK(em_tensor_empty(EM_I64, 1, SH(n), &bfs.feature));
    CHECK_OK(em_tensor_empty(EM_F64, 1, SH(n), &bfs.threshold));
    CHECK_OK(em_tensor_empty(EM_F64, 2, SH(n, 2), &bfs.value));
    int64_t *bl = em_tensor_data(bfs.left), *br = em_tensor_data(bfs.right), *bf = em_tensor_data(bfs.feature);
    double *bt = em_tensor_data(bfs.threshold), *bv = em_tensor_data(bfs.value);
    for (int64_t j = 0; j < n; j++) {
        int64_t i = order[j];
        bl[j] = L[i] >= 0 ? pos[L[i]] : -1, br[j] = L[i] >= 0 ? pos[R[i]] : -1;
        bf[j] = F[i], bt[j] = T[i], bv[2 * j] = V[2 * i], bv[2 * j + 1] = V[2 * i + 1];
    }
    em_tree mixed[3] = {bfs, t[1], t[2]};
    CHECK_OK(em_forest_predict(mixed, 3, X, true, &p1));
    CHECK(memcmp(em_tensor_data(ref), em_tensor_data(p1), 2000 * 2 * sizeof(double)) == 0);
    em_tensor_free(p1);
    p1 = NULL;

    /* regression values (no normalising): the mean of the raw leaf values */
    CHECK_OK(em_forest_predict(&bfs, 1, X, false, &p1));
    em_tensor *leaf = NULL;
    CHECK_OK(em_tree_apply(&t[0], X, &leaf));
    const int64_t *lf = em_tensor_data(leaf);
    const double *pp = em_tensor_data(p1);
    int bad = 0;
    for (int64_t i = 0; i < 2000; i++) bad += pp[2 * i] != V[2 * lf[i]] || pp[2 * i + 1] != V[2 * lf[i] + 1];
    CHECK(bad == 0);
    em_tensor_free(p1), em_tensor_free(leaf);
    em_tree_free(&bfs);
    free(order), free(pos);

    /* tampering: a column X lacks, a leaf that does not loop, a child before its parent */
    int32_t *nodes = em_tensor_data(f.nodes);
    int64_t leaf0 = -1, inner = 0;
    for (int64_t i = 0; i < t[0].n_nodes && leaf0 < 0; i++)
        if (nodes[4 * i + 3] >= 0) leaf0 = i;
    int32_t keep = nodes[4 * inner + 1];
    nodes[4 * inner + 1] = 3;
    CHECK_STATUS(em_forest_packed_predict(&f, X, &q), EM_ERR_INVALID_ARG);
    CHECK(error_has("tree 0 node 0 is malformed"));
    nodes[4 * inner + 1] = keep;
    keep = nodes[4 * leaf0 + 2];
    nodes[4 * leaf0 + 2] = (int32_t)leaf0 + 1;
    CHECK_STATUS(em_forest_packed_predict(&f, X, &q), EM_ERR_INVALID_ARG);
    nodes[4 * leaf0 + 2] = keep;
    keep = nodes[4 * inner + 2];
    nodes[4 * inner + 2] = 0;
    CHECK_STATUS(em_forest_packed_predict(&f, X, &q), EM_ERR_INVALID_ARG);
    nodes[4 * inner + 2] = keep;
    CHECK_OK(em_forest_packed_predict(&f, X, &q));
    em_tensor_free(q);
    q = NULL;
    CHECK_STATUS(em_forest_pack(t, 3, 2, true, &f), EM_ERR_INVALID_ARG); /* X with 2 columns: features 2 invalid */
    CHECK_STATUS(em_forest_packed_predict(NULL, X, &q), EM_ERR_INVALID_ARG);
    CHECK(q == NULL);
    em_forest_packed_free(&f), em_forest_packed_free(&f), em_forest_packed_free(NULL);
    em_tensor_free(ref);
    for (int b = 0; b < 3; b++) em_tree_free(&t[b]);
    em_tensor_free(X), em_tensor_free(y);
}

TEST(tree_rejects_bad_input) {
    em_tensor *X = tensor_of(EM_F32, 2, SH(3, 1), V(1, 2, 3)), *y = int_vector_of(EM_I64, 3, (int64_t[]){0, 1, 2});
    em_tree_options o = em_tree_default_options();
    em_tree t;
    CHECK_STATUS(em_tree_fit(X, y, NULL, 2, &o, &t), EM_ERR_INDEX);
    CHECK(error_has("y[2] = 2"));
    em_tensor *Xd = tensor_of(EM_F64, 2, SH(3, 1), V(1, 2, 3));
    CHECK_STATUS(em_tree_fit(Xd, y, NULL, 3, &o, &t), EM_ERR_DTYPE);
    CHECK(error_has("float32"));
    em_tensor *Xn = tensor_of(EM_F32, 2, SH(3, 1), V(1, NAN, 3));
    CHECK_STATUS(em_tree_fit(Xn, y, NULL, 3, &o, &t), EM_ERR_INVALID_ARG);
    CHECK(error_has("X[1, 0]"));
    em_tensor *w = vector_of(EM_F64, 3, V(1, -1, 1));
    CHECK_STATUS(em_tree_fit(X, y, w, 3, &o, &t), EM_ERR_INVALID_ARG);
    CHECK(error_has("sample_weight[1]"));
    em_tensor *yr = vector_of(EM_F64, 3, V(1, 2, 3));
    CHECK_STATUS(em_tree_fit(X, yr, NULL, 3, &o, &t), EM_ERR_SHAPE); /* gini needs int64 labels */
    o.min_samples_leaf = 0;
    CHECK_STATUS(em_tree_fit(X, y, NULL, 3, &o, &t), EM_ERR_INVALID_ARG);
    o = em_tree_default_options();
    CHECK_STATUS(em_forest_fit(X, y, NULL, 3, &o, 0, true, 3, &t), EM_ERR_INVALID_ARG);
    /* apply refuses a tree whose nodes point backwards (would loop) */
    CHECK_OK(em_tree_fit(X, y, NULL, 3, &o, &t));
    int64_t *left = em_tensor_data(t.left);
    left[0] = 0;
    em_tensor *leaf = NULL;
    CHECK_STATUS(em_tree_apply(&t, X, &leaf), EM_ERR_INVALID_ARG);
    CHECK(error_has("node 0 is malformed"));
    em_tree_free(&t);
    em_tensor_free(X), em_tensor_free(y), em_tensor_free(Xd), em_tensor_free(Xn), em_tensor_free(w), em_tensor_free(yr);
}

static em_tensor *oom_X, *oom_y;
static em_status oom_fit(void) {
    em_tree_options o = em_tree_default_options();
    em_tree t;
    em_status st = em_tree_fit(oom_X, oom_y, NULL, 2, &o, &t);
    if (!st) em_tree_free(&t);
    return st;
}
static em_status oom_forest(void) {
    em_tree_options o = em_tree_default_options();
    em_tree t[2];
    em_status st = em_forest_fit(oom_X, oom_y, NULL, 2, &o, 2, true, 20, t);
    if (!st) em_tree_free(&t[0]), em_tree_free(&t[1]);
    return st;
}

static em_status oom_packed(void) {
    em_tree_options o = em_tree_default_options();
    em_tree t[2];
    em_status fst = em_forest_fit(oom_X, oom_y, NULL, 2, &o, 2, true, 20, t);
    if (fst) return fst;
    em_forest_packed f = {0}; /* pack fills it on success only */
    em_tensor *p = NULL;
    em_status st = em_forest_pack(t, 2, 3, true, &f);
    if (!st) st = em_forest_packed_predict(&f, oom_X, &p);
    em_tensor_free(p), em_forest_packed_free(&f), em_tree_free(&t[0]), em_tree_free(&t[1]);
    return st;
}

TEST(tree_out_of_memory) {
    noisy_data(20, &oom_X, &oom_y);
    CHECK_OK(em_set_num_threads(1)); /* one thread: allocation order is fixed */
    oom_sweep(oom_fit);
    oom_sweep(oom_forest);
    oom_sweep(oom_packed);
    CHECK_OK(em_set_num_threads(0));
    em_tensor_free(oom_X), em_tensor_free(oom_y);
}
