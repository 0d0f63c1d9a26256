/* k-means (ember/kmeans.h): hand-checked fits, Lloyd against Elkan, both
 * instruction-set paths, determinism across thread counts, bad input and
 * out-of-memory injection. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "test.h"
#include "test_util.h"

static em_status fit(const em_tensor *X, const em_tensor *w, const em_tensor *init, em_kmeans_algorithm algo,
                     em_tensor **C, em_tensor **labels, double *inertia, int64_t *it) {
    em_kmeans_options o = em_kmeans_default_options();
    o.algorithm = algo;
    return em_kmeans_fit(X, w, init, &o, C, labels, inertia, it);
}

/* Points 0, 1, 10, 11 from centres 0 and 10: one step gives 0.5 and 10.5,
 * the second changes no label (strict convergence after 2 iterations). */
TEST(kmeans_two_pairs) {
    for (int dt = 0; dt < 2; dt++) {
        em_dtype t = dt ? EM_F32 : EM_F64;
        em_tensor *X = tensor_of(t, 2, SH(4, 1), V(0, 1, 10, 11)), *init = tensor_of(t, 2, SH(2, 1), V(0, 10));
        for (int a = 0; a < 2; a++) {
            em_tensor *C = NULL, *lab = NULL;
            double inertia = 0;
            int64_t it = 0;
            CHECK_OK(fit(X, NULL, init, a ? EM_KMEANS_ELKAN : EM_KMEANS_LLOYD, &C, &lab, &inertia, &it));
            CHECK(tensor_equals(C, t, 2, SH(2, 1), V(0.5, 10.5)));
            CHECK(tensor_equals(lab, EM_I64, 1, SH(4), V(0, 0, 1, 1)));
            CHECK(inertia == 1.0 && it == 2);
            em_tensor_free(C), em_tensor_free(lab);
        }
        /* weights move the mean: (0 * 1 + 1 * 3) / 4 */
        em_tensor *w = vector_of(t, 4, V(1, 3, 1, 1)), *C = NULL, *lab = NULL;
        double inertia = 0;
        int64_t it = 0;
        CHECK_OK(fit(X, w, init, EM_KMEANS_LLOYD, &C, &lab, &inertia, &it));
        CHECK(tensor_equals(C, t, 2, SH(2, 1), V(0.75, 10.5)));
        CHECK_NEAR(inertia, 0.75 * 0.75 + 3 * 0.25 * 0.25 + 0.5, 1e-12);
        em_tensor_free(C), em_tensor_free(lab), em_tensor_free(w);
        em_tensor_free(X), em_tensor_free(init);
    }
}

/* Points 0, 1, 2, 10, 11 from centres 0, 100, 10: centre 1 gets nothing, so
 * it takes the sample farthest from its centre (2, at distance 2 from 0),
 * giving 0.5, 2, 10.5; the second pass moves sample 2 to centre 1 and the
 * centres by exactly 0 <= tol, which stops it. */
TEST(kmeans_relocates_an_empty_cluster) {
    em_tensor *X = tensor_of(EM_F64, 2, SH(5, 1), V(0, 1, 2, 10, 11));
    em_tensor *init = tensor_of(EM_F64, 2, SH(3, 1), V(0, 100, 10));
    for (int a = 0; a < 2; a++) {
        em_tensor *C = NULL, *lab = NULL;
        double inertia = 0;
        int64_t it = 0;
        CHECK_OK(fit(X, NULL, init, a ? EM_KMEANS_ELKAN : EM_KMEANS_LLOYD, &C, &lab, &inertia, &it));
        CHECK(tensor_equals(C, EM_F64, 2, SH(3, 1), V(0.5, 2, 10.5)));
        CHECK(tensor_equals(lab, EM_I64, 1, SH(5), V(0, 0, 1, 2, 2)));
        CHECK(inertia == 1.0 && it == 2);
        em_tensor_free(C), em_tensor_free(lab);
    }
    em_tensor_free(X), em_tensor_free(init);
}

/* Noisy clusters: n points around k centres in d dimensions (LCG noise). */
static em_tensor *clusters(em_dtype dt, int64_t n, int64_t d, int64_t k, uint32_t seed) {
    double *v = malloc((size_t)(n * d) * sizeof *v);
    for (int64_t i = 0; i < n; i++)
        for (int64_t f = 0; f < d; f++) {
            seed = seed * 1664525u + 1013904223u;
            v[i * d + f] = (double)((i % k) * 3 + f % 2) + 2.0 * ((double)(seed >> 8) / 16777216.0 - 0.5);
        }
    em_tensor *X = tensor_of(dt, 2, SH(n, d), v);
    free(v);
    return X;
}

static em_tensor *first_rows(const em_tensor *X, int64_t k, int64_t step) {
    int64_t d = em_tensor_shape(X)[1];
    double *v = malloc((size_t)(k * d) * sizeof *v);
    for (int64_t j = 0; j < k; j++)
        for (int64_t f = 0; f < d; f++) v[j * d + f] = value_at(X, j * step * d + f);
    em_tensor *C = tensor_of(em_tensor_dtype(X), 2, SH(k, d), v);
    free(v);
    return C;
}

static bool same_bits(const em_tensor *a, const em_tensor *b) {
    return em_tensor_numel(a) == em_tensor_numel(b) &&
           !memcmp(em_tensor_data(a), em_tensor_data(b),
                   (size_t)em_tensor_numel(a) * em_dtype_size(em_tensor_dtype(a)));
}

/* Lloyd and Elkan reach the same labels; every result is bit-identical for
 * 1 and 4 threads; the labels of the fit are predict's. */
TEST(kmeans_lloyd_elkan_threads) {
    for (int dt = 0; dt < 2; dt++) {
        em_dtype t = dt ? EM_F32 : EM_F64;
        em_tensor *X = clusters(t, 3000, 7, 5, 11), *init = first_rows(X, 5, 1);
        em_tensor *C[2][2] = {{NULL}}, *lab[2][2] = {{NULL}};
        double inertia[2][2];
        int64_t it[2][2];
        for (int th = 0; th < 2; th++) {
            CHECK_OK(em_set_num_threads(th ? 4 : 1));
            for (int a = 0; a < 2; a++)
                CHECK_OK(fit(X, NULL, init, a ? EM_KMEANS_ELKAN : EM_KMEANS_LLOYD, &C[th][a], &lab[th][a],
                             &inertia[th][a], &it[th][a]));
        }
        CHECK_OK(em_set_num_threads(0));
        for (int a = 0; a < 2; a++) {
            CHECK(same_bits(C[0][a], C[1][a]) && same_bits(lab[0][a], lab[1][a]));
            CHECK(inertia[0][a] == inertia[1][a] && it[0][a] == it[1][a]);
        }
        CHECK(same_bits(lab[0][0], lab[0][1]) && it[0][0] == it[0][1]);
        CHECK_NEAR(inertia[0][0], inertia[0][1], 1e-6);
        for (int64_t e = 0; e < 35; e++) CHECK_NEAR(value_at(C[0][0], e), value_at(C[0][1], e), 1e-5);
        em_tensor *pl = NULL, *sq = NULL;
        CHECK_OK(em_kmeans_predict(X, C[0][0], &pl, &sq));
        CHECK(same_bits(pl, lab[0][0]));
        double total = 0;
        for (int64_t i = 0; i < 3000; i++) total += value_at(sq, i);
        CHECK_NEAR(total, inertia[0][0], 1e-5);
        em_tensor_free(pl), em_tensor_free(sq);
        for (int th = 0; th < 2; th++)
            for (int a = 0; a < 2; a++) em_tensor_free(C[th][a]), em_tensor_free(lab[th][a]);
        em_tensor_free(X), em_tensor_free(init);
    }
}

/* The portable and the AVX2 distance kernels pick the same centres, and
 * em_kmeans_distances matches the distances summed directly, for few
 * centres (the kernel) and many (the GEMM). */
TEST(kmeans_kernels_and_distances) {
    for (int many = 0; many < 2; many++) {
        int64_t k = many ? 700 : 3, d = many ? 40 : 13;
        for (int dt = 0; dt < 2; dt++) {
            em_dtype t = dt ? EM_F32 : EM_F64;
            double tol = dt ? 1e-4 : 1e-10;
            em_tensor *X = clusters(t, 1000, d, 5, 3), *Cs = first_rows(X, k, 1);
            em_tensor *lab[EM__GEMM_ISA_COUNT] = {NULL}, *D = NULL;
            for (int isa = 0; isa < EM__GEMM_ISA_COUNT; isa++) {
                if (em__gemm_set_isa(isa) != EM_OK) continue; /* this CPU cannot run it */
                CHECK_OK(em_kmeans_predict(X, Cs, &lab[isa], NULL));
                if (isa) CHECK(same_bits(lab[isa], lab[0]));
            }
            em__gemm_set_isa(-1);
            CHECK_OK(em_kmeans_distances(X, Cs, &D));
            CHECK(em_tensor_shape(D)[0] == 1000 && em_tensor_shape(D)[1] == k);
            for (int64_t i = 0; i < 1000; i += 37) {
                double best = INFINITY;
                int64_t arg = -1;
                for (int64_t j = 0; j < k; j++) {
                    double s = 0;
                    for (int64_t f = 0; f < d; f++) {
                        double e = value_at(X, i * d + f) - value_at(Cs, j * d + f);
                        s += e * e;
                    }
                    CHECK(fabs(value_at(D, i * k + j) - s) <= tol * (1 + s) * 10);
                    if (s < best) best = s, arg = j;
                }
                /* the nearest or a tie within rounding */
                int64_t got = int_at(lab[0], i);
                double sg = value_at(D, i * k + got);
                CHECK(got == arg || fabs(sg - best) <= tol * (1 + best) * 10);
            }
            for (int isa = 0; isa < EM__GEMM_ISA_COUNT; isa++) em_tensor_free(lab[isa]);
            em_tensor_free(D), em_tensor_free(X), em_tensor_free(Cs);
        }
    }
}

TEST(kmeans_errors) {
    em_tensor *X = tensor_of(EM_F64, 2, SH(4, 2), V(0, 1, 2, 3, 4, 5, 6, 7));
    em_tensor *init = tensor_of(EM_F64, 2, SH(2, 2), V(0, 1, 6, 7));
    em_tensor *C = NULL, *lab = NULL;
    double inertia;
    int64_t it;
    em_kmeans_options o = em_kmeans_default_options();
    CHECK_STATUS(em_kmeans_fit(X, NULL, init, NULL, &C, &lab, &inertia, &it), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_kmeans_fit(NULL, NULL, init, &o, &C, &lab, &inertia, &it), EM_ERR_INVALID_ARG);
    em_tensor *i3 = tensor_of(EM_F64, 2, SH(2, 3), NULL), *i5 = tensor_of(EM_F64, 2, SH(5, 2), NULL);
    em_tensor *i32 = tensor_of(EM_F32, 2, SH(2, 2), NULL), *w3 = vector_of(EM_F64, 3, V(1, 1, 1));
    em_tensor *wneg = vector_of(EM_F64, 4, V(1, -1, 1, 1));
    CHECK_STATUS(em_kmeans_fit(X, NULL, i3, &o, &C, &lab, &inertia, &it), EM_ERR_SHAPE);
    CHECK(error_has("must have X's 2 columns"));
    CHECK_STATUS(em_kmeans_fit(X, NULL, i5, &o, &C, &lab, &inertia, &it), EM_ERR_INVALID_ARG);
    CHECK(error_has("5 clusters for 4 samples"));
    CHECK_STATUS(em_kmeans_fit(X, NULL, i32, &o, &C, &lab, &inertia, &it), EM_ERR_DTYPE);
    CHECK_STATUS(em_kmeans_fit(X, w3, init, &o, &C, &lab, &inertia, &it), EM_ERR_SHAPE);
    CHECK_STATUS(em_kmeans_fit(X, wneg, init, &o, &C, &lab, &inertia, &it), EM_ERR_INVALID_ARG);
    CHECK(error_has("sample_weight[1] = -1 is negative"));
    o.max_iter = 0;
    CHECK_STATUS(em_kmeans_fit(X, NULL, init, &o, &C, &lab, &inertia, &it), EM_ERR_INVALID_ARG);
    o = em_kmeans_default_options();
    o.algorithm = (em_kmeans_algorithm)7;
    CHECK_STATUS(em_kmeans_fit(X, NULL, init, &o, &C, &lab, &inertia, &it), EM_ERR_INVALID_ARG);
    o = em_kmeans_default_options();
    /* a NaN or inf in X is named, by both algorithms and by predict */
    em_tensor *bad = tensor_of(EM_F64, 2, SH(4, 2), V(0, 1, 2, 3, 4, INFINITY, 6, 7));
    for (int a = 0; a < 2; a++) {
        o.algorithm = a ? EM_KMEANS_ELKAN : EM_KMEANS_LLOYD;
        CHECK_STATUS(em_kmeans_fit(bad, NULL, init, &o, &C, &lab, &inertia, &it), EM_ERR_INVALID_ARG);
        CHECK(error_has("X[2, 1] is not finite"));
    }
    CHECK_STATUS(em_kmeans_predict(bad, init, &lab, NULL), EM_ERR_INVALID_ARG);
    CHECK(error_has("X[2, 1] is not finite"));
    CHECK_STATUS(em_kmeans_distances(bad, init, &C), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_kmeans_predict(X, i3, &lab, NULL), EM_ERR_SHAPE);
    CHECK_STATUS(em_kmeans_predict(X, init, NULL, NULL), EM_ERR_INVALID_ARG);
    em_tensor *cnan = tensor_of(EM_F64, 2, SH(2, 2), V(0, NAN, 1, 1));
    CHECK_STATUS(em_kmeans_predict(X, cnan, &lab, NULL), EM_ERR_INVALID_ARG);
    CHECK(error_has("centers[0, 1] is not finite"));
    /* no samples: nothing to predict */
    em_tensor *X0 = tensor_of(EM_F64, 2, SH(0, 2), NULL), *sq = NULL;
    CHECK_OK(em_kmeans_predict(X0, init, &lab, &sq));
    CHECK(em_tensor_numel(lab) == 0 && em_tensor_numel(sq) == 0);
    em_tensor_free(lab), em_tensor_free(sq);
    em_tensor *objs[] = {X, init, i3, i5, i32, w3, wneg, bad, cnan, X0};
    for (size_t q = 0; q < sizeof objs / sizeof objs[0]; q++) em_tensor_free(objs[q]);
}

static em_tensor *oom_X, *oom_init;
static em_kmeans_algorithm oom_algo;
static em_status oom_fit(void) {
    em_tensor *C = NULL, *lab = NULL;
    double inertia;
    int64_t it;
    em_status st = fit(oom_X, NULL, oom_init, oom_algo, &C, &lab, &inertia, &it);
    em_tensor_free(C), em_tensor_free(lab);
    return st;
}
static em_status oom_predict(void) {
    em_tensor *lab = NULL, *sq = NULL, *D = NULL;
    em_status st = em_kmeans_predict(oom_X, oom_init, &lab, &sq);
    if (!st) st = em_kmeans_distances(oom_X, oom_init, &D);
    em_tensor_free(lab), em_tensor_free(sq), em_tensor_free(D);
    return st;
}

TEST(kmeans_out_of_memory) {
    /* the empty-cluster case, so the relocation's scratch is swept too */
    oom_X = tensor_of(EM_F64, 2, SH(5, 1), V(0, 1, 2, 10, 11));
    oom_init = tensor_of(EM_F64, 2, SH(3, 1), V(0, 100, 10));
    CHECK_OK(em_set_num_threads(1)); /* one thread: allocation order is fixed */
    for (int a = 0; a < 2; a++) {
        oom_algo = a ? EM_KMEANS_ELKAN : EM_KMEANS_LLOYD;
        oom_sweep(oom_fit);
    }
    oom_sweep(oom_predict);
    em_tensor_free(oom_X), em_tensor_free(oom_init);
    /* many centres: the GEMM path, whose packing buffers can fail too */
    oom_X = clusters(EM_F64, 300, 40, 5, 1), oom_init = first_rows(oom_X, 250, 1);
    oom_algo = EM_KMEANS_LLOYD;
    oom_sweep(oom_fit);
    oom_sweep(oom_predict);
    CHECK_OK(em_set_num_threads(0));
    em_tensor_free(oom_X), em_tensor_free(oom_init);
}

/* ---- k-means++ seeding -------------------------------------------------------------------------- */

static em_status kpp(const em_tensor *X, const em_tensor *w, int64_t k, uint64_t seed, em_tensor **C,
                     em_tensor **idx) {
    em_generator *g = NULL;
    em_status st = em_generator_new(seed, &g);
    if (!st) st = em_kmeans_plusplus(X, w, k, 0, g, C, idx);
    em_generator_free(g);
    return st;
}

/* Three far groups and k = 3: greedy k-means++ takes one sample of each
 * group whatever the seed; the centres are the rows named by the indices. */
TEST(kmeans_plusplus_far_groups) {
    for (int dt = 0; dt < 2; dt++) {
        em_dtype t = dt ? EM_F32 : EM_F64;
        em_tensor *X = tensor_of(t, 2, SH(9, 2), V(0, 0, 0.1, 0, 0, 0.1, 50, 50, 50.1, 50, 50, 50.1, -80, 40, -80.1, 40,
                                                   -80, 40.1));
        for (uint64_t seed = 0; seed < 20; seed++) {
            em_tensor *C = NULL, *idx = NULL;
            CHECK_OK(kpp(X, NULL, 3, seed, &C, &idx));
            int seen[3] = {0, 0, 0};
            for (int j = 0; j < 3; j++) {
                int64_t i = int_at(idx, j);
                CHECK(i >= 0 && i < 9);
                seen[i / 3]++;
                for (int f = 0; f < 2; f++) CHECK(value_at(C, j * 2 + f) == value_at(X, i * 2 + f));
            }
            CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
            em_tensor_free(C), em_tensor_free(idx);
        }
        em_tensor_free(X);
    }
}

/* Zero weights are never drawn; the result is the same for 1 and 4 threads
 * and leaves the generator in the same state; another seed differs. */
TEST(kmeans_plusplus_weights_threads) {
    em_tensor *X = clusters(EM_F64, 2000, 5, 12, 9);
    double *wv = malloc(2000 * sizeof *wv);
    for (int i = 0; i < 2000; i++) wv[i] = i % 3 ? 0.0 : 1.0 + (i % 7);
    em_tensor *w = vector_of(EM_F64, 2000, wv);
    em_tensor *C[2] = {NULL}, *idx[2] = {NULL};
    uint64_t off[2];
    for (int th = 0; th < 2; th++) {
        CHECK_OK(em_set_num_threads(th ? 4 : 1));
        em_generator *g = NULL;
        CHECK_OK(em_generator_new(4, &g));
        CHECK_OK(em_kmeans_plusplus(X, w, 40, 0, g, &C[th], &idx[th]));
        uint64_t seed;
        em_generator_get_state(g, &seed, &off[th]);
        em_generator_free(g);
    }
    CHECK_OK(em_set_num_threads(0));
    CHECK(same_bits(C[0], C[1]) && same_bits(idx[0], idx[1]) && off[0] == off[1]);
    /* 1 uniform for the first centre, then 2 + floor(ln 40) = 5 per centre, 2 words each */
    CHECK(off[0] == 1 + 39 * 3);
    for (int j = 0; j < 40; j++) CHECK(int_at(idx[0], j) % 3 == 0);
    em_tensor *C2 = NULL;
    CHECK_OK(kpp(X, w, 40, 5, &C2, NULL));
    CHECK(!same_bits(C2, C[0]));
    em_tensor_free(C2);
    for (int th = 0; th < 2; th++) em_tensor_free(C[th]), em_tensor_free(idx[th]);
    em_tensor_free(w), em_tensor_free(X);
    free(wv);
}

/* Without room to keep the candidates' distances, the closest distances are
 * recomputed in a second pass: the same kernel lanes, so the same bits. */
extern double em__kpp_keep_bytes; /* ml/kmeans.c, for this test only */
TEST(kmeans_plusplus_keep_or_recompute) {
    for (int dt = 0; dt < 2; dt++) {
        em_tensor *X = clusters(dt ? EM_F32 : EM_F64, 1500, 7, 9, 4), *C[2] = {NULL}, *idx[2] = {NULL};
        double saved = em__kpp_keep_bytes;
        for (int r = 0; r < 2; r++) {
            em__kpp_keep_bytes = r ? 0 : saved;
            CHECK_OK(kpp(X, NULL, 30, 8, &C[r], &idx[r]));
        }
        em__kpp_keep_bytes = saved;
        CHECK(same_bits(C[0], C[1]) && same_bits(idx[0], idx[1]));
        for (int r = 0; r < 2; r++) em_tensor_free(C[r]), em_tensor_free(idx[r]);
        em_tensor_free(X);
    }
}

TEST(kmeans_plusplus_errors) {
    em_tensor *X = tensor_of(EM_F64, 2, SH(4, 2), V(0, 1, 2, 3, 4, 5, 6, 7)), *C = NULL;
    em_generator *g = NULL;
    CHECK_OK(em_generator_new(1, &g));
    CHECK_STATUS(em_kmeans_plusplus(X, NULL, 2, 0, NULL, &C, NULL), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_kmeans_plusplus(X, NULL, 2, 0, g, NULL, NULL), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_kmeans_plusplus(NULL, NULL, 2, 0, g, &C, NULL), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_kmeans_plusplus(X, NULL, 5, 0, g, &C, NULL), EM_ERR_INVALID_ARG);
    CHECK(error_has("5 clusters for 4 samples"));
    CHECK_STATUS(em_kmeans_plusplus(X, NULL, 0, 0, g, &C, NULL), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_kmeans_plusplus(X, NULL, 2, 1000, g, &C, NULL), EM_ERR_INVALID_ARG);
    em_tensor *w32 = vector_of(EM_F32, 4, V(1, 1, 1, 1)), *wneg = vector_of(EM_F64, 4, V(1, 1, -2, 1));
    CHECK_STATUS(em_kmeans_plusplus(X, w32, 2, 0, g, &C, NULL), EM_ERR_SHAPE);
    CHECK_STATUS(em_kmeans_plusplus(X, wneg, 2, 0, g, &C, NULL), EM_ERR_INVALID_ARG);
    CHECK(error_has("sample_weight[2] = -2 is negative"));
    em_tensor *bad = tensor_of(EM_F64, 2, SH(4, 2), V(0, 1, 2, 3, NAN, 5, 6, 7));
    CHECK_STATUS(em_kmeans_plusplus(bad, NULL, 2, 0, g, &C, NULL), EM_ERR_INVALID_ARG);
    CHECK(error_has("X[2, 0] is not finite"));
    em_tensor *Xi = tensor_of(EM_I64, 2, SH(2, 2), V(0, 1, 2, 3));
    CHECK_STATUS(em_kmeans_plusplus(Xi, NULL, 1, 0, g, &C, NULL), EM_ERR_DTYPE);
    uint64_t seed, off;
    em_generator_get_state(g, &seed, &off);
    CHECK(seed == 1 && off == 0); /* failed calls drew nothing */
    em_generator_free(g);
    em_tensor *objs[] = {X, w32, wneg, bad, Xi};
    for (size_t q = 0; q < sizeof objs / sizeof objs[0]; q++) em_tensor_free(objs[q]);
}

static em_tensor *oom_kpp_X;
static em_status oom_kpp(void) {
    em_tensor *C = NULL, *idx = NULL;
    em_generator *g = NULL;
    em_status st = em_generator_new(3, &g);
    if (!st) {
        st = em_kmeans_plusplus(oom_kpp_X, NULL, 4, 0, g, &C, &idx);
        uint64_t seed, off;
        em_generator_get_state(g, &seed, &off);
        if (st && off != 0) st = EM_ERR_INTERNAL; /* a failure must leave the generator untouched */
    }
    em_generator_free(g);
    em_tensor_free(C), em_tensor_free(idx);
    return st;
}

TEST(kmeans_plusplus_out_of_memory) {
    CHECK_OK(em_set_num_threads(1));
    oom_kpp_X = clusters(EM_F32, 600, 3, 4, 2);
    oom_sweep(oom_kpp);
    CHECK_OK(em_set_num_threads(0));
    em_tensor_free(oom_kpp_X);
}
