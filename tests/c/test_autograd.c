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

/* Gradients of the remaps (pad, roll), sort, and cumprod with zeros, whose
 * second derivative is also checked at the zeros. */
TEST(autograd_pad_sort_cumprod) {
    em_tensor *x = leaf(EM_F64, 1, SH(3), V(1, 2, 3)), *wts = tensor_of(EM_F64, 1, SH(5), V(1, 2, 3, 4, 5));
    em_tensor *y = NULL, *p = NULL, *s = NULL;
    /* reflect (2, 0): out = [x2, x1, x0, x1, x2] */
    CHECK_OK(em_pad(x, SH(2, 0), EM_PAD_REFLECT, 0, &y));
    CHECK(y && strcmp(em_tensor_grad_fn_name(y), "ReflectionPadBackward0") == 0);
    p = bin(EM_OP_MUL, y, wts), s = sum_all(p);
    CHECK_OK(em_backward(s, NULL, NULL));
    CHECK(tensor_values_are(em_tensor_grad(x), 1, SH(3), V(3, 6, 6)));
    em_tensor_free(y), em_tensor_free(p), em_tensor_free(s);
    CHECK_OK(em_tensor_set_grad(x, NULL));
    /* constant (1, 1): the ends get nothing */
    CHECK_OK(em_pad(x, SH(1, 1), EM_PAD_CONSTANT, 7, &y));
    p = bin(EM_OP_MUL, y, wts), s = sum_all(p);
    CHECK_OK(em_backward(s, NULL, NULL));
    CHECK(tensor_values_are(em_tensor_grad(x), 1, SH(3), V(2, 3, 4)));
    em_tensor_free(y), em_tensor_free(p), em_tensor_free(s);
    CHECK_OK(em_tensor_set_grad(x, NULL));
    /* sort of [3, 1, 2]: values [1, 2, 3] from positions [1, 2, 0] */
    em_tensor *u = leaf(EM_F64, 1, SH(3), V(3, 1, 2)), *w3 = tensor_of(EM_F64, 1, SH(3), V(1, 2, 3)), *idx = NULL;
    CHECK_OK(em_sort(u, 0, false, &y, &idx));
    CHECK(y && strcmp(em_tensor_grad_fn_name(y), "SortBackward0") == 0 && tensor_values_are(idx, 1, SH(3), V(1, 2, 0)));
    p = bin(EM_OP_MUL, y, w3), s = sum_all(p);
    CHECK_OK(em_backward(s, NULL, NULL));
    CHECK(tensor_values_are(em_tensor_grad(u), 1, SH(3), V(3, 1, 2)));
    em_tensor_free(y), em_tensor_free(p), em_tensor_free(s), em_tensor_free(idx), em_tensor_free(u), em_tensor_free(w3);
    /* cumprod of [2, 0, 3, 0, 5]: gx_i = sum_{j >= i} prod_{k <= j, k != i} x_k = [1, 8, 0, 0, 0] */
    em_tensor *c = leaf(EM_F64, 1, SH(5), V(2, 0, 3, 0, 5)), *g = NULL, *h = NULL;
    em_reduce_options ro = em_reduce_default_options();
    int ax = 0;
    ro.axes = &ax;
    ro.naxes = 1;
    CHECK_OK(em_reduce(EM_OP_CUMPROD, c, &ro, &y));
    s = sum_all(y);
    em_backward_options o = em_backward_default_options();
    o.create_graph = true;
    CHECK_OK(em_grad(&s, NULL, 1, &c, 1, &o, &g));
    CHECK(tensor_values_are(g, 1, SH(5), V(1, 8, 0, 0, 0)));
    /* d gx_1 / dx with gx_1 = x0 + x0 x2 + x0 x2 x3 + x0 x2 x3 x4: [4, 0, 2, 36, 0] */
    em_tensor *e1 = tensor_of(EM_F64, 1, SH(5), V(0, 1, 0, 0, 0));
    CHECK_OK(em_grad(&g, (const em_tensor *const *)&e1, 1, &c, 1, NULL, &h));
    CHECK(tensor_values_are(h, 1, SH(5), V(4, 0, 2, 36, 0)));
    em_tensor_free(y), em_tensor_free(s), em_tensor_free(g), em_tensor_free(h), em_tensor_free(e1), em_tensor_free(c);
    em_tensor_free(x), em_tensor_free(wts);
}

/* create_graph through a convolution and an average pooling: the gradients
 * are themselves differentiable. */
TEST(autograd_conv_pool_second_order) {
    /* y = conv(x, w) with a 1x1 kernel w = 2: s = sum(y^2), gx = 2 w^2 x */
    em_tensor *x = leaf(EM_F64, 4, SH(1, 1, 1, 3), V(1, 2, 3)), *w = leaf(EM_F64, 4, SH(1, 1, 1, 1), V(2));
    em_tensor *y = NULL, *s = NULL, *g[2] = {NULL, NULL}, *sg = NULL, *h[2] = {NULL, NULL};
    CHECK_OK(em_conv(x, w, NULL, NULL, &y));
    em_tensor *y2 = bin(EM_OP_MUL, y, y);
    s = sum_all(y2);
    em_tensor *ins[2] = {x, w};
    em_backward_options o = em_backward_default_options();
    o.create_graph = true;
    CHECK_OK(em_grad(&s, NULL, 1, ins, 2, &o, g));
    CHECK(tensor_values_are(g[0], 4, SH(1, 1, 1, 3), V(8, 16, 24)) && em_tensor_requires_grad(g[0]));
    sg = sum_all(g[0]); /* = 2 w^2 sum(x): d/dx = 2 w^2 = 8, d/dw = 4 w sum(x) = 48 */
    CHECK_OK(em_grad(&sg, NULL, 1, ins, 2, NULL, h));
    CHECK(tensor_values_are(h[0], 4, SH(1, 1, 1, 3), V(8, 8, 8)));
    CHECK(tensor_values_are(h[1], 4, SH(1, 1, 1, 1), V(48)));
    for (int i = 0; i < 2; i++) em_tensor_free(g[i]), em_tensor_free(h[i]);
    em_tensor_free(y), em_tensor_free(y2), em_tensor_free(s), em_tensor_free(sg), em_tensor_free(w);
    /* avg pool (k = 2) of [1, 2, 3, 4], s = sum(y^2): gx_i = y_j(i), sum(gx) = sum(x), d/dx = 1 */
    em_tensor *a = leaf(EM_F64, 3, SH(1, 1, 4), V(1, 2, 3, 4));
    em_pool_options po = em_pool_default_options();
    po.kernel[0] = 2;
    CHECK_OK(em_avg_pool(a, &po, &y));
    y2 = bin(EM_OP_MUL, y, y);
    s = sum_all(y2);
    CHECK_OK(em_grad(&s, NULL, 1, &a, 1, &o, g));
    CHECK(tensor_values_are(g[0], 3, SH(1, 1, 4), V(1.5, 1.5, 3.5, 3.5)));
    CHECK(g[0] && strcmp(em_tensor_grad_fn_name(g[0]), "AvgPoolBackwardBackward0") == 0);
    sg = sum_all(g[0]);
    CHECK_OK(em_grad(&sg, NULL, 1, &a, 1, NULL, h));
    CHECK(tensor_values_are(h[0], 3, SH(1, 1, 4), V(1, 1, 1, 1)));
    em_tensor_free(g[0]), em_tensor_free(h[0]);
    em_tensor_free(y), em_tensor_free(y2), em_tensor_free(s), em_tensor_free(sg), em_tensor_free(a), em_tensor_free(x);
}

/* Norm layers under create_graph: the recorded backward (statistics
 * recomputed from x) must give the fast kernel's first derivative, and its
 * Hessian-vector product must match central differences of that gradient. */
typedef em_status (*norm_fn)(const em_tensor *x, const em_tensor *w, em_tensor **out);
static em_status ln_fn(const em_tensor *x, const em_tensor *w, em_tensor **out) {
    return em_layer_norm(x, 1, SH(4), w, NULL, 1e-5, out, NULL, NULL);
}
static em_status gn_fn(const em_tensor *x, const em_tensor *w, em_tensor **out) {
    return em_group_norm(x, 2, w, NULL, 1e-5, out, NULL, NULL);
}
static em_status bn_fn(const em_tensor *x, const em_tensor *w, em_tensor **out) {
    em_batch_norm_options o = em_batch_norm_default_options();
    return em_batch_norm(x, NULL, NULL, w, NULL, &o, out, NULL, NULL);
}

/* d/dx sum(norm(x) * c) at x, with create_graph (recorded) or not. */
static em_tensor *norm_grad(norm_fn fn, em_tensor *x, em_tensor *w, em_tensor *c, bool create) {
    em_tensor *y = NULL, *g = NULL;
    CHECK_OK(fn(x, w, &y));
    em_tensor *p = bin(EM_OP_MUL, y, c), *s = sum_all(p);
    em_backward_options o = em_backward_default_options();
    o.create_graph = create;
    CHECK_OK(em_grad(&s, NULL, 1, &x, 1, &o, &g));
    em_tensor_free(y), em_tensor_free(p), em_tensor_free(s);
    return g;
}

TEST(autograd_norm_second_order) {
    static const double xv[12] = {0.3, -1.2, 2.0, 0.7, 1.1, -0.4, 0.9, -2.2, 1.6, 0.2, -0.8, 0.5};
    static const double cv[12] = {1.0, -0.5, 0.25, 2.0, -1.5, 0.75, 0.3, -0.2, 1.2, -0.9, 0.4, 0.6};
    static const double vv[12] = {0.5, 0.1, -0.3, 0.2, -0.7, 0.4, 0.6, -0.1, 0.3, 0.8, -0.5, 0.2};
    norm_fn fns[3] = {ln_fn, gn_fn, bn_fn};
    const int64_t *wshape[3] = {SH(4), SH(4), SH(4)};
    for (int f = 0; f < 3; f++) {
        em_tensor *x = leaf(EM_F64, 3, SH(3, 4, 1), (double *)xv), *c = tensor_of(EM_F64, 3, SH(3, 4, 1), (double *)cv);
        if (f == 0) { /* layer norm over the last axis: use (3, 1, 4) */
            em_tensor_free(x), em_tensor_free(c);
            x = leaf(EM_F64, 3, SH(3, 1, 4), (double *)xv), c = tensor_of(EM_F64, 3, SH(3, 1, 4), (double *)cv);
        }
        em_tensor *w = leaf(EM_F64, 1, wshape[f], V(1.5, -0.5, 0.8, 1.2));
        em_tensor *g_fast = norm_grad(fns[f], x, w, c, false), *g_rec = norm_grad(fns[f], x, w, c, true);
        CHECK(g_rec && em_tensor_requires_grad(g_rec) && !em_tensor_requires_grad(g_fast));
        for (int64_t k = 0; k < 12; k++) CHECK_NEAR(value_at(g_rec, k), value_at(g_fast, k), 1e-12);
        /* H v = d/dx <g(x), v> against (g(x + e v) - g(x - e v)) / 2e */
        em_tensor *v = tensor_of(EM_F64, em_tensor_ndim(x), em_tensor_shape(x), (double *)vv);
        em_tensor *gv = bin(EM_OP_MUL, g_rec, v), *sgv = sum_all(gv), *hv = NULL;
        CHECK_OK(em_grad(&sgv, NULL, 1, &x, 1, NULL, &hv));
        const double e = 1e-6;
        double xp[12], xm[12];
        for (int k = 0; k < 12; k++) xp[k] = xv[k] + e * vv[k], xm[k] = xv[k] - e * vv[k];
        em_tensor *xpt = leaf(EM_F64, em_tensor_ndim(x), em_tensor_shape(x), xp);
        em_tensor *xmt = leaf(EM_F64, em_tensor_ndim(x), em_tensor_shape(x), xm);
        em_tensor *gp = norm_grad(fns[f], xpt, w, c, false), *gm = norm_grad(fns[f], xmt, w, c, false);
        for (int64_t k = 0; hv && gp && gm && k < 12; k++)
            CHECK_NEAR(value_at(hv, k), (value_at(gp, k) - value_at(gm, k)) / (2 * e), 1e-6);
        CHECK(hv != NULL);
        em_tensor_free(gp), em_tensor_free(gm), em_tensor_free(xpt), em_tensor_free(xmt);
        em_tensor_free(hv), em_tensor_free(sgv), em_tensor_free(gv), em_tensor_free(v);
        em_tensor_free(g_fast), em_tensor_free(g_rec), em_tensor_free(w), em_tensor_free(x), em_tensor_free(c);
    }
}
