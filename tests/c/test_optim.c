/* Fused optimiser updates and gradient clipping against plain float64
 * references written here from the textbook update rules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

#define N 37     /* odd, so no loop is a multiple of any vector width */
#define STEPS 4

/* Deterministic "gradients" and initial weights of mixed sign and scale. */
static double init_w(int i) { return sin(0.7 * i + 0.3) * (1 + (i % 5)); }
static double grad_at(int s, int i) { return cos(1.3 * i - 0.4 * s) * (0.5 + (i % 3)) + 0.01 * s; }


/* Kernel state of one run: the param and up to three state tensors, f32 or f64. */
typedef struct {
    em_tensor *p, *g, *s[3];
} run;

static run run_new(em_dtype dt, double init_state) {
    run r = {0};
    double w[N], z[N];
    for (int i = 0; i < N; i++) w[i] = init_w(i), z[i] = init_state;
    r.p = vector_of(dt, N, w);
    r.g = vector_of(dt, N, NULL);
    for (int k = 0; k < 3; k++) r.s[k] = vector_of(dt, N, k == 0 ? z : NULL), em_tensor_fill(r.s[k], k == 0 ? init_state : 0);
    return r;
}

static void run_set_grad(run *r, int s) {
    for (int i = 0; i < N; i++) {
        int64_t ix = i;
        em_tensor_set(r->g, &ix, grad_at(s, i));
    }
}

static void run_free(run *r) {
    em_tensor_free(r->p);
    em_tensor_free(r->g);
    for (int k = 0; k < 3; k++) em_tensor_free(r->s[k]);
}

/* Compares a run's param with the reference: float64 to rounding, float32 to its precision. */
static void check_param(const run *r, const double *ref, double tol) {
    for (int i = 0; i < N; i++) CHECK_NEAR(value_at(r->p, i), ref[i], tol);
}

/* ---- SGD ------------------------------------------------------------------------------------- */

static void sgd_ref(const em_sgd_options *o, double *w) {
    double b[N] = {0};
    for (int s = 0; s < STEPS; s++)
        for (int i = 0; i < N; i++) {
            double g = grad_at(s, i) * (o->maximize ? -1 : 1) + o->weight_decay * w[i];
            if (o->momentum != 0) {
                b[i] = s == 0 ? g : o->momentum * b[i] + (1 - o->dampening) * g;
                g = o->nesterov ? g + o->momentum * b[i] : b[i];
            }
            w[i] -= o->lr * g;
        }
}

static void check_sgd(em_sgd_options o) {
    double ref[N];
    for (int i = 0; i < N; i++) ref[i] = init_w(i);
    sgd_ref(&o, ref);
    for (int d = 0; d < 2; d++) {
        run r = run_new(d ? EM_F64 : EM_F32, 0);
        for (int s = 0; s < STEPS; s++) {
            run_set_grad(&r, s);
            CHECK_OK(em_sgd_step(r.p, r.g, r.s[0], s == 0, &o));
        }
        check_param(&r, ref, d ? 1e-13 : 2e-6);
        run_free(&r);
    }
}

TEST(optim_sgd_matches_reference) {
    em_sgd_options o = em_sgd_default_options();
    CHECK(o.lr == 1e-3 && o.momentum == 0 && !o.nesterov);
    o.lr = 0.1;
    check_sgd(o);
    o.momentum = 0.9, o.dampening = 0.25, o.weight_decay = 0.01;
    check_sgd(o);
    o.dampening = 0, o.nesterov = true, o.maximize = true;
    check_sgd(o);
}

/* ---- Adam / AdamW ---------------------------------------------------------------------------- */

static void adam_ref(const em_adam_options *o, double *w) {
    double m[N] = {0}, v[N] = {0}, vmax[N] = {0};
    for (int s = 1; s <= STEPS; s++)
        for (int i = 0; i < N; i++) {
            double g = grad_at(s - 1, i) * (o->maximize ? -1 : 1);
            if (o->decoupled_weight_decay) w[i] *= 1 - o->lr * o->weight_decay;
            else g += o->weight_decay * w[i];
            m[i] = o->beta1 * m[i] + (1 - o->beta1) * g;
            v[i] = o->beta2 * v[i] + (1 - o->beta2) * g * g;
            vmax[i] = fmax(vmax[i], v[i]);
            double mhat = m[i] / (1 - pow(o->beta1, s));
            double vhat = (o->amsgrad ? vmax[i] : v[i]) / (1 - pow(o->beta2, s));
            w[i] -= o->lr * mhat / (sqrt(vhat) + o->eps);
        }
}

static void check_adam(em_adam_options o) {
    double ref[N];
    for (int i = 0; i < N; i++) ref[i] = init_w(i);
    adam_ref(&o, ref);
    for (int d = 0; d < 2; d++) {
        run r = run_new(d ? EM_F64 : EM_F32, 0);
        for (int s = 1; s <= STEPS; s++) {
            run_set_grad(&r, s - 1);
            CHECK_OK(em_adam_step(r.p, r.g, r.s[0], r.s[1], o.amsgrad ? r.s[2] : NULL, s, &o));
        }
        check_param(&r, ref, d ? 1e-12 : 2e-6);
        run_free(&r);
    }
}

TEST(optim_adam_matches_reference) {
    em_adam_options o = em_adam_default_options();
    CHECK(o.beta1 == 0.9 && o.beta2 == 0.999 && !o.decoupled_weight_decay && o.weight_decay == 0);
    o.lr = 0.05;
    check_adam(o);
    o.amsgrad = true, o.weight_decay = 0.1, o.maximize = true;
    check_adam(o);
    em_adam_options w = em_adamw_default_options();
    CHECK(w.decoupled_weight_decay && w.weight_decay == 1e-2);
    w.lr = 0.05, w.weight_decay = 0.5, w.beta1 = 0.5, w.beta2 = 0.75;
    check_adam(w);
    w.amsgrad = true;
    check_adam(w);
}

/* ---- RMSprop --------------------------------------------------------------------------------- */

static void rms_ref(const em_rmsprop_options *o, double *w) {
    double sq[N] = {0}, b[N] = {0}, a[N] = {0};
    for (int s = 0; s < STEPS; s++)
        for (int i = 0; i < N; i++) {
            double g = grad_at(s, i) * (o->maximize ? -1 : 1) + o->weight_decay * w[i];
            sq[i] = o->alpha * sq[i] + (1 - o->alpha) * g * g;
            a[i] = o->alpha * a[i] + (1 - o->alpha) * g;
            double d = sqrt(o->centered ? sq[i] - a[i] * a[i] : sq[i]) + o->eps;
            if (o->momentum > 0) {
                b[i] = o->momentum * b[i] + g / d;
                w[i] -= o->lr * b[i];
            } else {
                w[i] -= o->lr * g / d;
            }
        }
}

static void check_rms(em_rmsprop_options o) {
    double ref[N];
    for (int i = 0; i < N; i++) ref[i] = init_w(i);
    rms_ref(&o, ref);
    for (int d = 0; d < 2; d++) {
        run r = run_new(d ? EM_F64 : EM_F32, 0);
        for (int s = 0; s < STEPS; s++) {
            run_set_grad(&r, s);
            CHECK_OK(em_rmsprop_step(r.p, r.g, r.s[0], o.momentum > 0 ? r.s[1] : NULL, o.centered ? r.s[2] : NULL,
                                     &o));
        }
        check_param(&r, ref, d ? 1e-12 : 5e-6);
        run_free(&r);
    }
}

TEST(optim_rmsprop_matches_reference) {
    em_rmsprop_options o = em_rmsprop_default_options();
    CHECK(o.lr == 1e-2 && o.alpha == 0.99 && o.eps == 1e-8);
    check_rms(o);
    o.centered = true, o.momentum = 0.5, o.weight_decay = 0.1, o.alpha = 0.9;
    check_rms(o);
    o.centered = false, o.maximize = true;
    check_rms(o);
}

/* ---- Adagrad --------------------------------------------------------------------------------- */

static void adagrad_ref(const em_adagrad_options *o, double *w) {
    double sum[N];
    for (int i = 0; i < N; i++) sum[i] = o->initial_accumulator_value;
    for (int s = 1; s <= STEPS; s++)
        for (int i = 0; i < N; i++) {
            double g = grad_at(s - 1, i) * (o->maximize ? -1 : 1) + o->weight_decay * w[i];
            sum[i] += g * g;
            w[i] -= o->lr / (1 + (s - 1) * o->lr_decay) * g / (sqrt(sum[i]) + o->eps);
        }
}

static void check_adagrad(em_adagrad_options o) {
    double ref[N];
    for (int i = 0; i < N; i++) ref[i] = init_w(i);
    adagrad_ref(&o, ref);
    for (int d = 0; d < 2; d++) {
        run r = run_new(d ? EM_F64 : EM_F32, o.initial_accumulator_value);
        for (int s = 1; s <= STEPS; s++) {
            run_set_grad(&r, s - 1);
            CHECK_OK(em_adagrad_step(r.p, r.g, r.s[0], s, &o));
        }
        check_param(&r, ref, d ? 1e-12 : 2e-6);
        run_free(&r);
    }
}

TEST(optim_adagrad_matches_reference) {
    em_adagrad_options o = em_adagrad_default_options();
    CHECK(o.lr == 1e-2 && o.eps == 1e-10 && o.lr_decay == 0);
    check_adagrad(o);
    o.lr = 0.3, o.lr_decay = 0.1, o.weight_decay = 0.05, o.initial_accumulator_value = 0.2, o.maximize = true;
    check_adagrad(o);
}

/* ---- errors ---------------------------------------------------------------------------------- */

TEST(optim_errors) {
    em_tensor *p = tensor_of(EM_F32, 2, SH(2, 3), NULL), *g = tensor_of(EM_F32, 2, SH(2, 3), NULL);
    em_tensor *g64 = tensor_of(EM_F64, 2, SH(2, 3), NULL), *g32 = tensor_of(EM_F32, 2, SH(3, 2), NULL);
    em_tensor *pi = tensor_of(EM_I32, 2, SH(2, 3), NULL), *gt = NULL, *m = tensor_of(EM_F32, 2, SH(2, 3), NULL);
    CHECK_OK(em_tensor_transpose(g32, 0, 1, &gt)); /* shape (2, 3) but not contiguous */
    double before = value_at(p, 4);
    em_sgd_options so = em_sgd_default_options();
    CHECK_STATUS(em_sgd_step(p, g64, NULL, false, &so), EM_ERR_DTYPE);
    CHECK(error_has("em_sgd_step") && error_has("grad") && error_has("float64") && error_has("(2, 3) float32"));
    CHECK_STATUS(em_sgd_step(p, g32, NULL, false, &so), EM_ERR_SHAPE);
    CHECK(error_has("(3, 2)"));
    CHECK_STATUS(em_sgd_step(p, gt, NULL, false, &so), EM_ERR_INVALID_ARG);
    CHECK(error_has("contiguous"));
    CHECK_STATUS(em_sgd_step(pi, g, NULL, false, &so), EM_ERR_DTYPE);
    CHECK(error_has("int32"));
    CHECK_STATUS(em_sgd_step(p, NULL, NULL, false, &so), EM_ERR_INVALID_ARG);
    so.momentum = 0.9;
    CHECK_STATUS(em_sgd_step(p, g, NULL, false, &so), EM_ERR_INVALID_ARG);
    CHECK(error_has("momentum_buf"));
    so.nesterov = true, so.dampening = 0.5;
    CHECK_STATUS(em_sgd_step(p, g, m, false, &so), EM_ERR_INVALID_ARG);
    CHECK(error_has("nesterov"));
    so = em_sgd_default_options(), so.lr = NAN;
    CHECK_STATUS(em_sgd_step(p, g, NULL, false, &so), EM_ERR_INVALID_ARG);
    CHECK(error_has("lr"));

    em_adam_options ao = em_adam_default_options();
    CHECK_STATUS(em_adam_step(p, g, m, g64, NULL, 1, &ao), EM_ERR_DTYPE);
    CHECK(error_has("exp_avg_sq"));
    ao.amsgrad = true;
    CHECK_STATUS(em_adam_step(p, g, m, m, NULL, 1, &ao), EM_ERR_INVALID_ARG);
    CHECK(error_has("max_exp_avg_sq"));
    ao = em_adam_default_options(), ao.beta1 = 1;
    CHECK_STATUS(em_adam_step(p, g, m, m, NULL, 1, &ao), EM_ERR_INVALID_ARG);
    CHECK(error_has("beta1"));
    ao.beta1 = 0.9;
    CHECK_STATUS(em_adam_step(p, g, m, m, NULL, 0, &ao), EM_ERR_INVALID_ARG);
    CHECK(error_has("step"));
    em_rmsprop_options ro = em_rmsprop_default_options();
    ro.centered = true;
    CHECK_STATUS(em_rmsprop_step(p, g, m, NULL, NULL, &ro), EM_ERR_INVALID_ARG);
    CHECK(error_has("grad_avg"));
    em_adagrad_options go = em_adagrad_default_options();
    CHECK_STATUS(em_adagrad_step(p, g, g32, 1, &go), EM_ERR_SHAPE);
    CHECK(error_has("state_sum"));
    go.lr_decay = -1;
    CHECK_STATUS(em_adagrad_step(p, g, m, 1, &go), EM_ERR_INVALID_ARG);
    CHECK(value_at(p, 4) == before); /* nothing written on error */

    em_tensor *gl[2] = {g, pi};
    double t;
    CHECK_STATUS(em_grad_total_norm((const em_tensor *const *)gl, 2, 2, &t), EM_ERR_DTYPE);
    CHECK(error_has("gradient 1"));
    CHECK_STATUS(em_grad_total_norm((const em_tensor *const *)gl, 1, -1, &t), EM_ERR_INVALID_ARG);
    CHECK(error_has("norm_type"));
    CHECK_STATUS(em_clip_grad_value(gl, 1, -1), EM_ERR_INVALID_ARG);
    gl[1] = gt;
    CHECK_STATUS(em_clip_grad_value(gl, 2, 1), EM_ERR_INVALID_ARG);
    CHECK(error_has("contiguous"));
    em_tensor *all[] = {p, g, g64, g32, pi, gt, m};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) em_tensor_free(all[i]);
}

/* ---- clipping -------------------------------------------------------------------------------- */

/* Two gradients spanning several norm chunks (8192 elements) and a small one. */
static em_tensor *clip_g[3];
static void clip_setup(void) {
    int64_t sizes[3] = {20001, 5, 9000};
    for (int k = 0; k < 3; k++) {
        em_dtype dt = k == 1 ? EM_F64 : EM_F32;
        CHECK_OK(em_tensor_empty(dt, 1, &sizes[k], &clip_g[k]));
        for (int64_t i = 0; i < sizes[k]; i++) {
            double v = sin(0.37 * i + k) * (1 + (double)(i % 7) / 3);
            if (dt == EM_F32) ((float *)em_tensor_data(clip_g[k]))[i] = (float)v;
            else ((double *)em_tensor_data(clip_g[k]))[i] = v;
        }
    }
}
static void clip_teardown(void) {
    for (int k = 0; k < 3; k++) em_tensor_free(clip_g[k]), clip_g[k] = NULL;
}

static double norm_ref(double p) {
    double acc = 0;
    for (int k = 0; k < 3; k++)
        for (int64_t i = 0; i < em_tensor_numel(clip_g[k]); i++) {
            double a = fabs(value_at(clip_g[k], i));
            if (isinf(p)) acc = fmax(acc, a);
            else if (p == 0) acc += a != 0;
            else acc += pow(a, p);
        }
    return isinf(p) || p == 0 ? acc : pow(acc, 1 / p);
}

TEST(optim_total_norm_matches_reference_and_thread_count) {
    clip_setup();
    const double ps[] = {2, 1, INFINITY, 3, 0.5, 0};
    for (size_t j = 0; j < sizeof ps / sizeof *ps; j++) {
        double t1, t2;
        int saved = em_get_num_threads();
        em_set_num_threads(1);
        CHECK_OK(em_grad_total_norm((const em_tensor *const *)clip_g, 3, ps[j], &t1));
        em_set_num_threads(3);
        CHECK_OK(em_grad_total_norm((const em_tensor *const *)clip_g, 3, ps[j], &t2));
        em_set_num_threads(saved);
        CHECK(t1 == t2); /* bit-identical whatever the thread count */
        CHECK_NEAR(t1, norm_ref(ps[j]), 1e-12);
    }
    double t = -1;
    CHECK_OK(em_grad_total_norm(NULL, 0, 2, &t));
    CHECK(t == 0);
    ((float *)em_tensor_data(clip_g[2]))[8999] = NAN;
    CHECK_OK(em_grad_total_norm((const em_tensor *const *)clip_g, 3, INFINITY, &t));
    CHECK(isnan(t));
    clip_teardown();
}

TEST(optim_clip_grad_norm) {
    clip_setup();
    double want = norm_ref(2), t = 0;
    double v0 = value_at(clip_g[0], 11), v1 = value_at(clip_g[1], 3);
    CHECK_OK(em_clip_grad_norm(clip_g, 3, 2 * want, 2, true, &t)); /* under the limit: untouched */
    CHECK_NEAR(t, want, 1e-12);
    CHECK(value_at(clip_g[0], 11) == v0 && value_at(clip_g[1], 3) == v1);
    CHECK_OK(em_clip_grad_norm(clip_g, 3, 1.5, 2, false, &t));
    double coef = 1.5 / (want + 1e-6);
    CHECK_NEAR(value_at(clip_g[0], 11), v0 * coef, 1e-6);
    CHECK_NEAR(value_at(clip_g[1], 3), v1 * coef, 1e-13);
    CHECK_NEAR(norm_ref(2), 1.5, 1e-5);
    ((double *)em_tensor_data(clip_g[1]))[0] = INFINITY;
    double v2 = value_at(clip_g[2], 7);
    CHECK_STATUS(em_clip_grad_norm(clip_g, 3, 1, 2, true, &t), EM_ERR_INVALID_ARG);
    CHECK(error_has("inf") && error_has("error_if_nonfinite"));
    CHECK(value_at(clip_g[2], 7) == v2);
    CHECK_OK(em_clip_grad_norm(clip_g, 3, 1, 2, false, NULL)); /* torch: inf norm zeroes finite entries */
    CHECK(value_at(clip_g[2], 7) == 0);
    clip_teardown();
}

TEST(optim_clip_grad_value) {
    em_tensor *a = vector_of(EM_F32, 5, V(-3, -0.5, 0.25, 2, NAN)), *b = vector_of(EM_F64, 2, V(1.5, -1.5));
    em_tensor *gl[2] = {a, b};
    CHECK_OK(em_clip_grad_value(gl, 2, 1));
    CHECK(tensor_equals(a, EM_F32, 1, SH(5), V(-1, -0.5, 0.25, 1, NAN)));
    CHECK(tensor_equals(b, EM_F64, 1, SH(2), V(1, -1)));
    em_tensor_free(a);
    em_tensor_free(b);
}

static em_status clip_oom_op(void) {
    double t;
    return em_clip_grad_norm(clip_g, 3, 1e9, 2, false, &t);
}

TEST(optim_clip_grad_norm_oom) {
    clip_setup();
    oom_sweep(clip_oom_op);
    clip_teardown();
}
