/* Autograd through the C API: gradients, broadcasting, higher order,
 * accumulation, retain_graph, in-place checks, hooks, grad mode, and a tiny
 * model trained with em_backward only. */
#include <string.h>

#include "test.h"
#include "test_util.h"

static em_tensor *leaf(em_dtype dt, int nd, const int64_t *shape, const double *v) {
    em_tensor *t = tensor_of(dt, nd, shape, v);
    CHECK_OK(em_tensor_set_requires_grad(t, true));
    return t;
}

static em_tensor *bin(em_op op, em_tensor *a, em_tensor *b) {
    em_tensor *r = NULL;
    CHECK_OK(em_binary(op, a, b, &r));
    return r;
}

static em_tensor *sum_all(em_tensor *x) {
    em_tensor *r = NULL;
    CHECK_OK(em_reduce(EM_OP_SUM, x, NULL, &r));
    return r;
}

TEST(autograd_square_sum) {
    em_tensor *x = leaf(EM_F64, 1, SH(3), V(1, -2, 3));
    em_tensor *y = bin(EM_OP_MUL, x, x), *s = sum_all(y);
    CHECK(em_tensor_requires_grad(s) && !em_tensor_is_leaf(s) && em_tensor_is_leaf(x));
    CHECK(strcmp(em_tensor_grad_fn_name(s), "SumBackward0") == 0);
    CHECK(em_tensor_grad_fn_name(x) == NULL);
    CHECK(em_tensor_grad(x) == NULL);
    CHECK_OK(em_backward(s, NULL, NULL));
    CHECK(tensor_equals(em_tensor_grad(x), EM_F64, 1, SH(3), V(2, -4, 6)));
    em_tensor_free(y);
    em_tensor_free(s);
    em_tensor_free(x);
}

TEST(autograd_broadcast_sums_back) {
    em_tensor *a = leaf(EM_F32, 2, SH(2, 3), V(1, 2, 3, 4, 5, 6));
    em_tensor *b = leaf(EM_F32, 1, SH(3), V(10, 20, 30));
    em_tensor *y = bin(EM_OP_MUL, a, b), *s = sum_all(y);
    CHECK_OK(em_backward(s, NULL, NULL));
    CHECK(tensor_equals(em_tensor_grad(a), EM_F32, 2, SH(2, 3), V(10, 20, 30, 10, 20, 30)));
    CHECK(tensor_equals(em_tensor_grad(b), EM_F32, 1, SH(3), V(5, 7, 9)));
    em_tensor_free(y);
    em_tensor_free(s);
    em_tensor_free(a);
    em_tensor_free(b);
}

TEST(autograd_accumulates_and_retains) {
    em_tensor *x = leaf(EM_F64, 1, SH(2), V(1, 2));
    em_tensor *e = NULL, *s;
    CHECK_OK(em_unary(EM_OP_EXP, x, NAN, &e));
    s = sum_all(e);
    em_backward_options o = em_backward_default_options();
    o.retain_graph = true;
    CHECK_OK(em_backward(s, NULL, &o));
    CHECK_OK(em_backward(s, NULL, NULL)); /* frees the graph */
    CHECK_NEAR(value_at(em_tensor_grad(x), 0), 2 * exp(1.0), 1e-14);
    CHECK_NEAR(value_at(em_tensor_grad(x), 1), 2 * exp(2.0), 1e-14);
    CHECK_STATUS(em_backward(s, NULL, NULL), EM_ERR_INVALID_ARG);
    CHECK(error_has("second time") && error_has("retain_graph"));
    em_tensor_free(e);
    em_tensor_free(s);
    em_tensor_free(x);
}

TEST(autograd_matmul_and_views) {
    /* s = sum((A @ B^T)[:, 1]) */
    em_tensor *A = leaf(EM_F64, 2, SH(2, 3), V(1, 2, 3, 4, 5, 6));
    em_tensor *B = leaf(EM_F64, 2, SH(2, 3), V(1, 0, -1, 2, 1, 0));
    em_tensor *Bt = NULL, *P = NULL, *c = NULL;
    CHECK_OK(em_tensor_transpose(B, 0, 1, &Bt));
    CHECK_OK(em_matmul(A, Bt, &P));
    CHECK_OK(em_tensor_select(P, 1, 1, &c));
    em_tensor *s = sum_all(c);
    CHECK_OK(em_backward(s, NULL, NULL));
    /* d/dA = rows of B[1]; d/dB[1] = column sums of A */
    CHECK(tensor_equals(em_tensor_grad(A), EM_F64, 2, SH(2, 3), V(2, 1, 0, 2, 1, 0)));
    CHECK(tensor_equals(em_tensor_grad(B), EM_F64, 2, SH(2, 3), V(0, 0, 0, 5, 7, 9)));
    em_tensor *ts[] = {A, B, Bt, P, c, s};
    for (int i = 0; i < 6; i++) em_tensor_free(ts[i]);
}

TEST(autograd_second_derivative) {
    /* y = x^3: dy/dx = 3x^2, d2y/dx2 = 6x */
    em_tensor *x = leaf(EM_F64, 0, NULL, V(2));
    em_tensor *x2 = bin(EM_OP_MUL, x, x), *y = bin(EM_OP_MUL, x2, x);
    em_backward_options o = em_backward_default_options();
    o.create_graph = true;
    em_tensor *g = NULL, *gg = NULL;
    CHECK_OK(em_grad(&y, NULL, 1, &x, 1, &o, &g));
    CHECK(g && em_tensor_requires_grad(g));
    CHECK_NEAR(value_at(g, 0), 12, 1e-15);
    CHECK_OK(em_grad(&g, NULL, 1, &x, 1, NULL, &gg));
    CHECK_NEAR(value_at(gg, 0), 12, 1e-15);
    CHECK(em_tensor_grad(x) == NULL); /* em_grad leaves .grad alone */
    em_tensor_free(gg);
    em_tensor_free(g);
    em_tensor_free(y);
    em_tensor_free(x2);
    em_tensor_free(x);
}

TEST(autograd_errors) {
    em_tensor *x = leaf(EM_F32, 1, SH(2), V(1, 2)), *y = bin(EM_OP_MUL, x, x), *z = NULL;
    CHECK_STATUS(em_backward(y, NULL, NULL), EM_ERR_SHAPE); /* non-scalar without a gradient */
    CHECK(error_has("one-element"));
    em_tensor *plain = tensor_of(EM_F32, 1, SH(2), V(1, 2));
    CHECK_STATUS(em_backward(plain, NULL, NULL), EM_ERR_INVALID_ARG);
    CHECK(error_has("does not require grad"));
    em_tensor *i = tensor_of(EM_I64, 1, SH(2), V(1, 2));
    CHECK_STATUS(em_tensor_set_requires_grad(i, true), EM_ERR_DTYPE);
    CHECK_STATUS(em_tensor_set_requires_grad(y, false), EM_ERR_INVALID_ARG);
    /* an in-place write into a leaf that requires grad */
    CHECK_STATUS(em_binary_into(EM_OP_ADD, x, plain, x), EM_ERR_INVALID_ARG);
    CHECK(error_has("leaf"));
    /* em_grad with an unused input */
    em_tensor *w = leaf(EM_F32, 1, SH(2), V(3, 4)), *s = sum_all(y), *g[2] = {NULL, NULL};
    em_tensor *ins[2] = {x, w};
    CHECK_STATUS(em_grad(&s, NULL, 1, ins, 2, NULL, g), EM_ERR_INVALID_ARG);
    CHECK(error_has("allow_unused"));
    em_backward_options o = em_backward_default_options();
    o.allow_unused = true;
    CHECK_OK(em_grad(&s, NULL, 1, ins, 2, &o, g));
    CHECK(g[1] == NULL && tensor_equals(g[0], EM_F32, 1, SH(2), V(2, 4)));
    em_tensor_free(g[0]);
    em_tensor_free(z);
    em_tensor_free(s);
    em_tensor_free(w);
    em_tensor_free(i);
    em_tensor_free(plain);
    em_tensor_free(y);
    em_tensor_free(x);
}

TEST(autograd_inplace_modification_detected) {
    em_tensor *x = leaf(EM_F64, 1, SH(2), V(1, 2)), *e = NULL;
    CHECK_OK(em_unary(EM_OP_EXP, x, NAN, &e)); /* saves its output */
    em_tensor *s = sum_all(e);
    bool prev = em_set_grad_enabled(false);
    CHECK_OK(em_tensor_fill(e, 0));
    em_set_grad_enabled(prev);
    CHECK_STATUS(em_backward(s, NULL, NULL), EM_ERR_INVALID_ARG);
    CHECK(error_has("modified in place") && error_has("ExpBackward0"));
    em_tensor_free(s);
    em_tensor_free(e);
    em_tensor_free(x);
}

static em_status double_hook(const em_tensor *g, em_tensor **rep, void *ctx) {
    (*(int *)ctx)++;
    em_tensor *two = NULL;
    em_status st = em_tensor_full(em_tensor_dtype(g), 0, NULL, 2.0, &two);
    if (!st) st = em_binary(EM_OP_MUL, g, two, rep);
    em_tensor_free(two);
    return st;
}

TEST(autograd_hooks) {
    int calls = 0;
    int64_t id = 0;
    em_tensor *x = leaf(EM_F32, 1, SH(2), V(1, 2)), *y = bin(EM_OP_MUL, x, x);
    CHECK_OK(em_tensor_register_hook(x, double_hook, &calls, NULL, &id));
    CHECK_OK(em_tensor_register_hook(y, double_hook, &calls, NULL, NULL));
    em_tensor *s = sum_all(y);
    CHECK_OK(em_backward(s, NULL, NULL));
    CHECK(calls == 2);
    CHECK(tensor_equals(em_tensor_grad(x), EM_F32, 1, SH(2), V(8, 16))); /* 2x, doubled twice */
    CHECK(em_tensor_remove_hook(x, id) && !em_tensor_remove_hook(x, id));
    em_tensor_free(s);
    em_tensor_free(y);
    em_tensor_free(x);
}

TEST(autograd_grad_mode) {
    em_tensor *x = leaf(EM_F32, 1, SH(2), V(1, 2));
    CHECK(em_is_grad_enabled());
    bool prev = em_set_grad_enabled(false);
    CHECK(prev && !em_is_grad_enabled());
    em_tensor *y = bin(EM_OP_MUL, x, x);
    CHECK(!em_tensor_requires_grad(y));
    em_set_grad_enabled(true);
    em_set_inference_mode(true);
    CHECK(!em_is_grad_enabled() && em_is_inference_mode());
    em_set_grad_enabled(true); /* cannot re-enable inside inference mode */
    em_tensor *z = bin(EM_OP_MUL, x, x);
    CHECK(!em_tensor_requires_grad(z));
    em_set_inference_mode(false);
    CHECK(em_is_grad_enabled());
    em_tensor *d = NULL;
    CHECK_OK(em_tensor_detach(x, &d));
    CHECK(!em_tensor_requires_grad(d) && em_tensor_shares_storage(d, x));
    em_tensor_free(d);
    em_tensor_free(z);
    em_tensor_free(y);
    em_tensor_free(x);
}

/* Linear regression y = 2 x0 - 3 x1 + 0.5 fitted by full-batch gradient
 * descent, with the C API only. */
TEST(autograd_trains_linear_regression) {
    enum { N = 16 };
    double xs[N * 2], ys[N];
    for (int i = 0; i < N; i++) {
        xs[2 * i] = (i % 4) / 2.0 - 0.75;
        xs[2 * i + 1] = (i / 4) / 2.0 - 0.75;
        ys[i] = 2 * xs[2 * i] - 3 * xs[2 * i + 1] + 0.5;
    }
    em_tensor *X = tensor_of(EM_F32, 2, SH(N, 2), xs), *Y = tensor_of(EM_F32, 1, SH(N), ys);
    em_tensor *w = leaf(EM_F32, 1, SH(2), V(0, 0)), *b = leaf(EM_F32, 0, NULL, V(0));
    em_tensor *lr = tensor_of(EM_F32, 0, NULL, V(0.5));
    double first = 0, last = 0;
    for (int step = 0; step < 200; step++) {
        em_tensor *p = NULL, *q = NULL, *d = NULL, *d2 = NULL, *loss = NULL;
        CHECK_OK(em_matmul(X, w, &p));
        q = bin(EM_OP_ADD, p, b);
        d = bin(EM_OP_SUB, q, Y);
        d2 = bin(EM_OP_MUL, d, d);
        CHECK_OK(em_reduce(EM_OP_MEAN, d2, NULL, &loss));
        CHECK_OK(em_tensor_item(loss, step ? &last : &first));
        CHECK_OK(em_tensor_set_grad(w, NULL));
        CHECK_OK(em_tensor_set_grad(b, NULL));
        CHECK_OK(em_backward(loss, NULL, NULL));
        bool prev = em_set_grad_enabled(false); /* the SGD update is not part of the graph */
        em_tensor *pars[2] = {w, b};
        for (int k = 0; k < 2; k++) {
            em_tensor *step_ = bin(EM_OP_MUL, em_tensor_grad(pars[k]), lr);
            CHECK_OK(em_binary_into(EM_OP_SUB, pars[k], step_, pars[k]));
            em_tensor_free(step_);
        }
        em_set_grad_enabled(prev);
        em_tensor *ts[] = {p, q, d, d2, loss};
        for (int k = 0; k < 5; k++) em_tensor_free(ts[k]);
    }
    CHECK(first > 1);
    CHECK(last < 1e-8);
    CHECK_NEAR(value_at(w, 0), 2, 1e-4);
    CHECK_NEAR(value_at(w, 1), -3, 1e-4);
    CHECK_NEAR(value_at(b, 0), 0.5, 1e-4);
    em_tensor *ts[] = {X, Y, w, b, lr};
    for (int k = 0; k < 5; k++) em_tensor_free(ts[k]);
}

/* Every allocation of a forward + backward failing in turn. */
static em_tensor *oom_x;
static em_status forward_backward(void) {
    em_tensor *x = em_tensor_retain(oom_x), *y = NULL, *s = NULL;
    em_status st = em_tensor_set_grad(x, NULL);
    if (!st) st = em_unary(EM_OP_TANH, x, NAN, &y);
    if (!st) st = em_reduce(EM_OP_SUM, y, NULL, &s);
    if (!st) st = em_backward(s, NULL, NULL);
    if (!st && !em_tensor_grad(x)) st = EM_ERR_INTERNAL;
    em_tensor_free(s);
    em_tensor_free(y);
    em_tensor_free(x);
    return st;
}

TEST(autograd_out_of_memory) {
    oom_x = leaf(EM_F32, 1, SH(3), V(1, 2, 3));
    CHECK_OK(em_tensor_set_requires_grad(oom_x, true)); /* its metadata exists before the sweep */
    oom_sweep(forward_backward);
    CHECK(oom_calls() > 5);
    em_tensor_free(oom_x);
}

/* Conv, pooling and norm layers record nodes whose backward calls their
 * gradient kernels: d(sum out)/dx must equal the kernel applied to ones. */
static bool same(const em_tensor *a, const em_tensor *b) {
    if (!a || !b || em_tensor_numel(a) != em_tensor_numel(b)) return false;
    for (int64_t k = 0; k < em_tensor_numel(a); k++)
        if (fabs(value_at(a, k) - value_at(b, k)) > 1e-12 * (1 + fabs(value_at(b, k)))) return false;
    return true;
}

TEST(autograd_conv_pool_norm_nodes) {
    em_tensor *x = tensor_of(EM_F64, 4, SH(1, 2, 4, 4), NULL), *w = tensor_of(EM_F64, 4, SH(3, 2, 3, 3), NULL);
    CHECK_OK(em_tensor_set_requires_grad(x, true));
    CHECK_OK(em_tensor_set_requires_grad(w, true));
    em_conv_options co = em_conv_default_options();
    co.padding[0] = co.padding[1] = 1;
    em_tensor *y = NULL, *s = NULL, *ones = NULL, *gx = NULL, *gw = NULL;
    CHECK_OK(em_conv(x, w, NULL, &co, &y));
    CHECK(y && strcmp(em_tensor_grad_fn_name(y), "ConvolutionBackward0") == 0);
    CHECK_OK(em_reduce(EM_OP_SUM, y, NULL, &s));
    CHECK_OK(em_backward(s, NULL, NULL));
    CHECK_OK(em_tensor_full(EM_F64, 4, em_tensor_shape(y), 1.0, &ones));
    CHECK_OK(em_conv_grad_input(ones, w, 4, em_tensor_shape(x), &co, &gx));
    CHECK_OK(em_conv_grad_weight(ones, x, 4, em_tensor_shape(w), &co, &gw));
    CHECK(same(em_tensor_grad(x), gx) && same(em_tensor_grad(w), gw));
    em_tensor_free(y), em_tensor_free(s), em_tensor_free(ones), em_tensor_free(gx), em_tensor_free(gw);
    /* max pooling: the gradient lands on each window's maximum */
    em_tensor *x2 = tensor_of(EM_F64, 4, SH(1, 1, 2, 2), V(1, 4, 3, 2));
    CHECK_OK(em_tensor_set_requires_grad(x2, true));
    em_pool_options po = em_pool_default_options();
    po.kernel[0] = po.kernel[1] = 2;
    CHECK_OK(em_max_pool(x2, &po, &y, NULL));
    CHECK_OK(em_backward(y, NULL, NULL));
    CHECK(tensor_values_are(em_tensor_grad(x2), 4, SH(1, 1, 2, 2), V(0, 1, 0, 0)));
    em_tensor_free(y);
    /* layer norm of a row: the gradient of the sum of the outputs is 0 */
    em_tensor *x3 = tensor_of(EM_F64, 2, SH(2, 3), V(1, 2, 4, -1, 0, 5));
    CHECK_OK(em_tensor_set_requires_grad(x3, true));
    int64_t ns[1] = {3};
    CHECK_OK(em_layer_norm(x3, 1, ns, NULL, NULL, 1e-5, &y, NULL, NULL));
    CHECK_OK(em_reduce(EM_OP_SUM, y, NULL, &s));
    CHECK_OK(em_backward(s, NULL, NULL));
    const em_tensor *g3 = em_tensor_grad(x3);
    for (int64_t k = 0; g3 && k < 6; k++) CHECK(fabs(value_at(g3, k)) < 1e-12);
    CHECK(g3 != NULL);
    em_tensor_free(y), em_tensor_free(s);
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(x2), em_tensor_free(x3);
}
