/* Linear-model solvers (ember/linear.h) against closed forms and optimality
 * conditions, bad input and out-of-memory injection. */
#include <math.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

/* X with orthogonal columns of squared norm n: the elastic net solution is a
 * soft threshold of X^T y / n, shrunk by the l2 part. */
TEST(linear_enet_closed_form) {
    em_tensor *X = tensor_of(EM_F64, 2, SH(4, 2), V(1, 1, 1, -1, -1, 1, -1, -1));
    em_tensor *y = vector_of(EM_F64, 4, V(3, 1, -1, -3)); /* X^T y / n = (2, 1) */
    em_tensor *w = NULL;
    int64_t it = 0;
    double gap = 0;
    CHECK_OK(em_enet_fit(X, y, 0.5, 1.0, 100, 1e-12, false, NULL, &w, &it, &gap));
    CHECK(tensor_values_are(w, 1, SH(2), V(1.5, 0.5)));
    CHECK(gap >= 0 && gap < 1e-9 && it >= 1);
    em_tensor_free(w);
    CHECK_OK(em_enet_fit(X, y, 1.0, 0.5, 100, 1e-12, false, NULL, &w, &it, &gap));
    /* w_j = soft(c_j, 0.5) / (1 + 0.5) */
    CHECK(fabs(value_at(w, 0) - 1.0) < 1e-12 && fabs(value_at(w, 1) - 1.0 / 3.0) < 1e-12);
    em_tensor_free(w);
    CHECK_OK(em_enet_fit(X, y, 3.0, 1.0, 100, 1e-12, false, NULL, &w, &it, &gap));
    CHECK(tensor_values_are(w, 1, SH(2), V(0, 0))); /* everything thresholded away */
    em_tensor_free(w), em_tensor_free(X), em_tensor_free(y);
}

/* At the L-BFGS solution the gradient of the penalised loss vanishes. */
TEST(linear_logreg_optimality) {
    em_tensor *X = tensor_of(EM_F64, 2, SH(6, 2), V(0, 1, 1, 0, 2, 2, 3, 1, 1, 3, 4, 4));
    int64_t labels[6] = {0, 0, 1, 0, 1, 1};
    em_tensor *y = int_vector_of(EM_I64, 6, labels), *coef = NULL, *b = NULL;
    em_logreg_options o = em_logreg_default_options();
    o.tol = 1e-10;
    o.max_iter = 500;
    int64_t it = 0;
    CHECK_OK(em_logreg_fit(X, y, NULL, 2, &o, &coef, &b, &it));
    const double *x = em_tensor_data(X), *w = em_tensor_data(coef), *bb = em_tensor_data(b);
    double g0 = 0, g1 = 0, gb = 0;
    for (int i = 0; i < 6; i++) {
        double z = w[0] * x[2 * i] + w[1] * x[2 * i + 1] + bb[0], r = 1 / (1 + exp(-z)) - labels[i];
        g0 += r * x[2 * i], g1 += r * x[2 * i + 1], gb += r;
    }
    g0 += w[0] / o.C, g1 += w[1] / o.C; /* gradient of sum loss + ||w||^2 / (2C) */
    CHECK(fabs(g0) < 1e-7 && fabs(g1) < 1e-7 && fabs(gb) < 1e-7);
    em_tensor_free(coef), em_tensor_free(b);
    /* three classes: softmax rows, one coefficient row per class */
    int64_t l3[6] = {0, 1, 2, 0, 1, 2};
    em_tensor *y3 = int_vector_of(EM_I64, 6, l3);
    CHECK_OK(em_logreg_fit(X, y3, NULL, 3, &o, &coef, &b, &it));
    CHECK(em_tensor_shape(coef)[0] == 3 && em_tensor_shape(b)[0] == 3);
    em_tensor_free(coef), em_tensor_free(b), em_tensor_free(y3);
    CHECK_STATUS(em_logreg_fit(X, y, NULL, 1, &o, &coef, &b, &it), EM_ERR_INVALID_ARG);
    int64_t bad[6] = {0, 0, 5, 0, 1, 1};
    em_tensor *yb = int_vector_of(EM_I64, 6, bad);
    CHECK_STATUS(em_logreg_fit(X, yb, NULL, 2, &o, &coef, &b, &it), EM_ERR_INDEX);
    CHECK(error_has("y[2] = 5"));
    em_tensor_free(yb), em_tensor_free(X), em_tensor_free(y);
}

/* One SGD step by hand: squared error, constant rate, no penalty. */
TEST(linear_sgd_one_step) {
    em_tensor *X = tensor_of(EM_F64, 2, SH(1, 2), V(1, 2)), *y = vector_of(EM_F64, 1, V(3));
    em_tensor *w = vector_of(EM_F64, 2, V(0.5, 0.5)), *order = int_vector_of(EM_I64, 1, (int64_t[]){0});
    em_linear_sgd_options o = {EM_LINEAR_SQUARED_ERROR, EM_LINEAR_NONE, EM_LINEAR_CONSTANT, 0, 0, 0.1, 0, 0, true};
    double b = 0, t = 1, loss = 0;
    CHECK_OK(em_linear_sgd_epoch(X, y, NULL, order, &o, w, &b, &t, &loss));
    /* z = 1.5, residual -1.5: w += 0.1 * 1.5 * x, b += 0.15 */
    CHECK(tensor_values_are(w, 1, SH(2), V(0.65, 0.8)));
    CHECK(fabs(b - 0.15) < 1e-15 && t == 2 && fabs(loss - 1.125) < 1e-15);
    em_tensor *bad = int_vector_of(EM_I64, 1, (int64_t[]){3});
    CHECK_STATUS(em_linear_sgd_epoch(X, y, NULL, bad, &o, w, &b, &t, &loss), EM_ERR_INDEX);
    em_tensor_free(bad), em_tensor_free(X), em_tensor_free(y), em_tensor_free(w), em_tensor_free(order);
}

/* Two separable points: the hinge SVM puts the boundary halfway. */
TEST(linear_svc_separable) {
    em_tensor *X = tensor_of(EM_F64, 2, SH(2, 1), V(-1, 1)), *y = vector_of(EM_F64, 2, V(-1, 1)), *w = NULL;
    double b = 0;
    int64_t it = 0;
    CHECK_OK(em_linsvc_fit(X, y, NULL, 10.0, false, 0.0, 1000, 1e-12, 1, &w, &b, &it));
    CHECK(fabs(value_at(w, 0) - 1.0) < 1e-9 && b == 0);
    em_tensor_free(w);
    em_tensor *ybad = vector_of(EM_F64, 2, V(0, 1));
    CHECK_STATUS(em_linsvc_fit(X, ybad, NULL, 1.0, true, 1.0, 10, 1e-4, 1, &w, &b, &it), EM_ERR_INVALID_ARG);
    CHECK(error_has("not +1 or -1"));
    em_tensor_free(ybad), em_tensor_free(X), em_tensor_free(y);
}

TEST(linear_rejects_bad_input) {
    em_tensor *Xf = tensor_of(EM_F32, 2, SH(2, 1), V(1, 2)), *y = vector_of(EM_F64, 2, V(1, 2)), *w = NULL;
    int64_t it;
    double gap;
    CHECK_STATUS(em_enet_fit(Xf, y, 1, 1, 10, 1e-4, false, NULL, &w, &it, &gap), EM_ERR_DTYPE);
    CHECK(error_has("float64"));
    em_tensor *Xn = tensor_of(EM_F64, 2, SH(2, 1), V(1, NAN));
    CHECK_STATUS(em_enet_fit(Xn, y, 1, 1, 10, 1e-4, false, NULL, &w, &it, &gap), EM_ERR_INVALID_ARG);
    CHECK(error_has("X[1, 0]"));
    em_tensor *X = tensor_of(EM_F64, 2, SH(2, 1), V(1, 2));
    CHECK_STATUS(em_enet_fit(X, y, -1, 1, 10, 1e-4, false, NULL, &w, &it, &gap), EM_ERR_INVALID_ARG);
    em_tensor *y3 = vector_of(EM_F64, 3, V(1, 2, 3));
    CHECK_STATUS(em_enet_fit(X, y3, 1, 1, 10, 1e-4, false, NULL, &w, &it, &gap), EM_ERR_SHAPE);
    em_tensor_free(Xf), em_tensor_free(Xn), em_tensor_free(X), em_tensor_free(y), em_tensor_free(y3);
}

static em_tensor *oom_X, *oom_y, *oom_yc, *oom_ypm;
static em_status oom_logreg(void) {
    em_logreg_options o = em_logreg_default_options();
    em_tensor *c = NULL, *b = NULL;
    int64_t it;
    em_status st = em_logreg_fit(oom_X, oom_yc, NULL, 2, &o, &c, &b, &it);
    em_tensor_free(c), em_tensor_free(b);
    return st;
}
static em_status oom_enet(void) {
    em_tensor *c = NULL;
    int64_t it;
    double gap;
    em_status st = em_enet_fit(oom_X, oom_y, 0.1, 0.5, 50, 1e-6, false, NULL, &c, &it, &gap);
    em_tensor_free(c);
    return st;
}
static em_status oom_svc(void) {
    em_tensor *c = NULL;
    double b;
    int64_t it;
    em_status st = em_linsvc_fit(oom_X, oom_ypm, NULL, 1.0, true, 1.0, 50, 1e-4, 3, &c, &b, &it);
    em_tensor_free(c);
    return st;
}

TEST(linear_out_of_memory) {
    oom_X = tensor_of(EM_F64, 2, SH(4, 2), V(0, 1, 1, 0, 2, 2, 3, 1));
    oom_y = vector_of(EM_F64, 4, V(1, 2, 3, 4));
    oom_yc = int_vector_of(EM_I64, 4, (int64_t[]){0, 0, 1, 1});
    oom_ypm = vector_of(EM_F64, 4, V(-1, -1, 1, 1));
    oom_sweep(oom_logreg);
    oom_sweep(oom_enet);
    oom_sweep(oom_svc);
    em_tensor_free(oom_X), em_tensor_free(oom_y), em_tensor_free(oom_yc), em_tensor_free(oom_ypm);
}
