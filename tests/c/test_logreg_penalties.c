/* Logistic regression's l1 and elastic-net penalties (OWL-QN in
 * ml/linear.c): the optimality conditions of the non-smooth objective, the
 * exact zeros, the l2 and no-penalty limits, bad options, out-of-memory. */
#include <math.h>
#include <stdlib.h>

#include "test.h"
#include "test_util.h"

/* n samples, d features, LCG noise; labels from a sparse linear rule plus noise. */
static void data(int64_t n, int64_t d, int64_t classes, em_tensor **X, em_tensor **y) {
    double *x = malloc((size_t)(n * d) * sizeof *x);
    int64_t *c = malloc((size_t)n * sizeof *c);
    uint32_t s = 12345;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t f = 0; f < d; f++) {
            s = s * 1664525u + 1013904223u;
            x[i * d + f] = (double)(s >> 8) / 16777216.0 * 2 - 1;
        }
        s = s * 1664525u + 1013904223u;
        double z = 2 * x[i * d] - 1.5 * x[i * d + 1] + 0.8 * ((double)(s >> 8) / 16777216.0 - 0.5);
        c[i] = classes == 2 ? z > 0 : z < -0.5 ? 0 : z < 0.5 ? 1 : 2;
    }
    *X = tensor_of(EM_F64, 2, SH(n, d), x);
    *y = int_vector_of(EM_I64, n, c);
    free(x), free(c);
}

/* Gradient of (1/n) sum loss + (1 - r) ||W||^2 / (2 C n) at the fit, one row per class (k rows). */
static void smooth_gradient(const em_tensor *X, const em_tensor *y, const em_tensor *coef, const em_tensor *b,
                            int64_t k, double C, double r, double *g, double *gb) {
    int64_t n = em_tensor_shape(X)[0], d = em_tensor_shape(X)[1];
    const double *x = em_tensor_data(X), *w = em_tensor_data(coef), *bb = em_tensor_data(b);
    const int64_t *yy = em_tensor_data(y);
    for (int64_t e = 0; e < k * d; e++) g[e] = (1 - r) * w[e] / (C * n);
    for (int64_t c = 0; c < k; c++) gb[c] = 0;
    for (int64_t i = 0; i < n; i++) {
        double z[8], m = -INFINITY, sum = 0;
        for (int64_t c = 0; c < k; c++) {
            z[c] = bb[c];
            for (int64_t f = 0; f < d; f++) z[c] += w[c * d + f] * x[i * d + f];
            m = z[c] > m ? z[c] : m;
        }
        for (int64_t c = 0; c < k; c++) sum += exp(z[c] - m);
        for (int64_t c = 0; c < k; c++) {
            double p = k == 1 ? 1 / (1 + exp(-z[0])) : exp(z[c] - m) / sum;
            double r_ = (p - (k == 1 ? (double)yy[i] : (double)(yy[i] == c))) / n;
            for (int64_t f = 0; f < d; f++) g[c * d + f] += r_ * x[i * d + f];
            gb[c] += r_;
        }
    }
}

/* At the optimum: |g_j| <= l1 where w_j = 0, g_j = -l1 sign(w_j) elsewhere,
 * and the intercept gradient vanishes; for both solvers of an l1 part. */
TEST(logreg_l1_and_elasticnet_optimality) {
    for (int64_t classes = 2; classes <= 3; classes++) {
        em_tensor *X = NULL, *y = NULL;
        data(300, 6, classes, &X, &y);
        int64_t k = classes == 2 ? 1 : classes;
        for (int run = 0; run < 4; run++) {
            int pen = run % 2;
            em_logreg_options o = em_logreg_default_options();
            o.solver = run >= 2 ? EM_LOGREG_QUASI_NEWTON : EM_LOGREG_AUTO; /* OWL-QN, proximal Newton */
            o.penalty = pen ? EM_LINEAR_ELASTICNET : EM_LINEAR_L1;
            o.l1_ratio = pen ? 0.6 : 0.3; /* l1 ignores l1_ratio */
            o.C = 0.05, o.tol = 1e-10, o.max_iter = 2000;
            double r = pen ? 0.6 : 1.0, l1 = r / (o.C * 300);
            em_tensor *coef = NULL, *b = NULL;
            int64_t it = 0;
            CHECK_OK(em_logreg_fit(X, y, NULL, classes, &o, &coef, &b, &it));
            double g[24], gb[3];
            smooth_gradient(X, y, coef, b, k, o.C, r, g, gb);
            const double *w = em_tensor_data(coef);
            int zeros = 0;
            for (int64_t e = 0; e < k * 6; e++) {
                if (w[e] == 0) {
                    zeros++;
                    CHECK(fabs(g[e]) <= l1 * (1 + 1e-7));
                } else {
                    CHECK(fabs(g[e] + l1 * (w[e] > 0 ? 1 : -1)) < 1e-8);
                }
            }
            CHECK(zeros > 0 && zeros < k * 6); /* noise features drop out, the rule's stay */
            for (int64_t c = 0; c < k; c++) CHECK(fabs(gb[c]) < 1e-8);
            em_tensor_free(coef), em_tensor_free(b);
        }
        em_tensor_free(X), em_tensor_free(y);
    }
}

/* l1_ratio 0 is the l2 fit bit for bit; a huge C with l1 approaches no
 * penalty; C small enough zeroes everything. */
TEST(logreg_penalty_limits) {
    em_tensor *X = NULL, *y = NULL;
    data(200, 4, 2, &X, &y);
    em_logreg_options o = em_logreg_default_options();
    o.tol = 1e-10, o.max_iter = 1000;
    em_tensor *c2 = NULL, *b2 = NULL, *ce = NULL, *be = NULL;
    int64_t it;
    CHECK_OK(em_logreg_fit(X, y, NULL, 2, &o, &c2, &b2, &it));
    o.penalty = EM_LINEAR_ELASTICNET, o.l1_ratio = 0;
    CHECK_OK(em_logreg_fit(X, y, NULL, 2, &o, &ce, &be, &it));
    for (int64_t e = 0; e < 4; e++) CHECK(value_at(c2, e) == value_at(ce, e));
    em_tensor_free(c2), em_tensor_free(b2), em_tensor_free(ce), em_tensor_free(be);
    o.penalty = EM_LINEAR_L1, o.C = 1e-4;
    CHECK_OK(em_logreg_fit(X, y, NULL, 2, &o, &ce, &be, &it));
    for (int64_t e = 0; e < 4; e++) CHECK(value_at(ce, e) == 0);
    em_tensor_free(ce), em_tensor_free(be);
    o.penalty = EM_LINEAR_L1, o.C = 1e9;
    CHECK_OK(em_logreg_fit(X, y, NULL, 2, &o, &ce, &be, &it));
    o.penalty = EM_LINEAR_NONE;
    CHECK_OK(em_logreg_fit(X, y, NULL, 2, &o, &c2, &b2, &it));
    for (int64_t e = 0; e < 4; e++) CHECK_NEAR(value_at(ce, e), value_at(c2, e), 1e-5);
    em_tensor_free(c2), em_tensor_free(b2), em_tensor_free(ce), em_tensor_free(be);
    /* the Newton solver on the smooth penalties reaches L-BFGS's optimum, in fewer steps */
    for (int pen = 0; pen < 2; pen++) {
        o = em_logreg_default_options();
        o.penalty = pen ? EM_LINEAR_NONE : EM_LINEAR_L2, o.tol = 1e-10, o.max_iter = 1000;
        int64_t it_q, it_n;
        CHECK_OK(em_logreg_fit(X, y, NULL, 2, &o, &c2, &b2, &it_q));
        o.solver = EM_LOGREG_NEWTON;
        CHECK_OK(em_logreg_fit(X, y, NULL, 2, &o, &ce, &be, &it_n));
        for (int64_t e = 0; e < 4; e++) CHECK_NEAR(value_at(ce, e), value_at(c2, e), 1e-7);
        CHECK_NEAR(value_at(be, 0), value_at(b2, 0), 1e-7);
        CHECK(it_n < it_q);
        em_tensor_free(c2), em_tensor_free(b2), em_tensor_free(ce), em_tensor_free(be);
    }
    /* bad options */
    o = em_logreg_default_options();
    o.penalty = EM_LINEAR_ELASTICNET, o.l1_ratio = 1.5;
    CHECK_STATUS(em_logreg_fit(X, y, NULL, 2, &o, &ce, &be, &it), EM_ERR_INVALID_ARG);
    CHECK(error_has("l1_ratio must be in [0, 1]"));
    o.l1_ratio = NAN;
    CHECK_STATUS(em_logreg_fit(X, y, NULL, 2, &o, &ce, &be, &it), EM_ERR_INVALID_ARG);
    o = em_logreg_default_options();
    o.penalty = (em_linear_penalty)9;
    CHECK_STATUS(em_logreg_fit(X, y, NULL, 2, &o, &ce, &be, &it), EM_ERR_INVALID_ARG);
    CHECK(error_has("unknown penalty 9"));
    o.penalty = EM_LINEAR_L1, o.C = 0;
    CHECK_STATUS(em_logreg_fit(X, y, NULL, 2, &o, &ce, &be, &it), EM_ERR_INVALID_ARG);
    o = em_logreg_default_options();
    o.solver = (em_logreg_solver)5;
    CHECK_STATUS(em_logreg_fit(X, y, NULL, 2, &o, &ce, &be, &it), EM_ERR_INVALID_ARG);
    CHECK(error_has("unknown solver 5"));
    em_tensor_free(X), em_tensor_free(y);
    /* the Newton solver's Hessian has a size limit; the automatic one switches to OWL-QN past it */
    data(40, 1100, 2, &X, &y); /* 1101 coefficients: fine */
    o = em_logreg_default_options();
    o.penalty = EM_LINEAR_L1, o.solver = EM_LOGREG_NEWTON;
    CHECK_OK(em_logreg_fit(X, y, NULL, 2, &o, &ce, &be, &it));
    em_tensor_free(ce), em_tensor_free(be), em_tensor_free(y);
    int64_t three[40];
    for (int i = 0; i < 40; i++) three[i] = i % 3;
    y = int_vector_of(EM_I64, 40, three); /* 3 x 1101 coefficients: too many */
    CHECK_STATUS(em_logreg_fit(X, y, NULL, 3, &o, &ce, &be, &it), EM_ERR_INVALID_ARG);
    CHECK(error_has("at most 2048 coefficients, this problem has 3303"));
    o.solver = EM_LOGREG_AUTO;
    CHECK_OK(em_logreg_fit(X, y, NULL, 3, &o, &ce, &be, &it));
    em_tensor_free(ce), em_tensor_free(be);
    em_tensor_free(X), em_tensor_free(y);
}

static em_tensor *oom_X, *oom_y;
static em_logreg_solver oom_solver;
static em_status oom_l1(void) {
    em_logreg_options o = em_logreg_default_options();
    o.penalty = EM_LINEAR_L1, o.solver = oom_solver;
    em_tensor *c = NULL, *b = NULL;
    int64_t it;
    em_status st = em_logreg_fit(oom_X, oom_y, NULL, 3, &o, &c, &b, &it);
    em_tensor_free(c), em_tensor_free(b);
    return st;
}

TEST(logreg_l1_out_of_memory) {
    data(50, 3, 3, &oom_X, &oom_y);
    CHECK_OK(em_set_num_threads(1));
    for (int s = 0; s < 2; s++) {
        oom_solver = s ? EM_LOGREG_QUASI_NEWTON : EM_LOGREG_AUTO;
        oom_sweep(oom_l1);
    }
    CHECK_OK(em_set_num_threads(0));
    em_tensor_free(oom_X), em_tensor_free(oom_y);
}
