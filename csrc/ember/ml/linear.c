/* Solvers of the linear models (ember/linear.h): L-BFGS logistic regression,
 * coordinate-descent elastic net, SGD epochs and dual coordinate descent for
 * linear SVMs.  All work in float64 on C-contiguous inputs. */
#include "../internal.h"
#include "../kernels/gemm.h"

#include <float.h>
#include <math.h>

/* ---- shared checks ------------------------------------------------------ */
static em_status check_xy(const char *op, const em_tensor *X, const em_tensor *y, em_dtype ydt,
                          const em_tensor *sw, int64_t *n, int64_t *d) {
    char a[EM_DESC_LEN], b[EM_DESC_LEN];
    if (!X || !y) return em__error(EM_ERR_INVALID_ARG, "%s: NULL X or y", op);
    if (X->dtype != EM_F64 || X->ndim != 2 || !em__is_contiguous(X))
        return em__error(EM_ERR_DTYPE, "%s: X must be a C-contiguous 2-d float64 tensor, got %s", op, em__desc(X, a));
    *n = X->shape[0];
    *d = X->shape[1];
    if (y->dtype != ydt || y->ndim != 1 || y->shape[0] != *n || !em__is_contiguous(y))
        return em__error(EM_ERR_SHAPE, "%s: y must be a contiguous (%lld,) %s tensor for X %s, got %s", op,
                         (long long)*n, ydt == EM_I64 ? "int64" : "float64", em__desc(X, a), em__desc(y, b));
    if (sw && (sw->dtype != EM_F64 || sw->ndim != 1 || sw->shape[0] != *n || !em__is_contiguous(sw)))
        return em__error(EM_ERR_SHAPE, "%s: sample_weight must be a contiguous (%lld,) float64 tensor, got %s", op,
                         (long long)*n, em__desc(sw, b));
    const double *x = (const double *)em__ptr(X);
    for (int64_t i = 0; i < *n * *d; i++)
        if (!isfinite(x[i]))
            return em__error(EM_ERR_INVALID_ARG, "%s: X[%lld, %lld] is not finite", op, (long long)(i / *d),
                             (long long)(i % *d));
    const double *w = sw ? (const double *)em__ptr(sw) : NULL;
    for (int64_t i = 0; w && i < *n; i++)
        if (!(w[i] >= 0) || isinf(w[i]))
            return em__error(EM_ERR_INVALID_ARG, "%s: sample_weight[%lld] = %g is not a finite weight >= 0", op,
                             (long long)i, w[i]);
    return EM_OK;
}

static double soft(double x, double t) { return x > t ? x - t : x < -t ? x + t : 0.0; }

static double dot(const double *a, const double *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- logistic regression --------------------------------------------------- */
em_logreg_options em_logreg_default_options(void) {
    return (em_logreg_options){1.0, EM_LINEAR_L2, 0.0, true, 100, 1e-4, 10, EM_LOGREG_AUTO};
}

typedef struct {
    const double *X, *sw;
    const int64_t *y;
    int64_t n, d, k; /* k = coefficient rows */
    double S, inv_c;  /* sum of weights; the l2 weight (1 - r) / (C S), or 0 */
    bool intercept;
    double *Z;        /* (n, k) scratch */
} lr_problem;

/* f and its gradient at theta = [W (k, d) | b (k)]. */
static em_status lr_eval(lr_problem *p, const double *theta, double *f, double *g) {
    int64_t n = p->n, d = p->d, k = p->k;
    const double *W = theta, *b = theta + k * d;
    EM_TRY(em__gemm_f64(n, k, d, 1.0, p->X, d, 1, W, 1, d, 0.0, p->Z, k));
    double loss = 0;
    for (int64_t i = 0; i < n; i++) {
        double *z = p->Z + i * k, s = p->sw ? p->sw[i] : 1.0;
        if (p->intercept)
            for (int64_t c = 0; c < k; c++) z[c] += b[c];
        /* one exp per output (the loss and its gradient share it): the exps are most of an
         * evaluation's time after the two GEMMs */
        if (k == 1) {
            /* log(1 + e^z) - y z, stable; gradient sigmoid(z) - y; e = e^-|z| in (0, 1] */
            double zz = z[0], yy = (double)p->y[i], e = exp(-fabs(zz));
            double l = (zz > 0 ? zz : 0) + log1p(e);
            loss += s * (l - yy * zz);
            double sig = zz >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
            z[0] = s * (sig - yy) / p->S;
        } else {
            double m = z[0];
            for (int64_t c = 1; c < k; c++) m = z[c] > m ? z[c] : m;
            /* softmax_c = e^(z_c - m) / sum, the exps kept from the sum (up to 64 classes; more
             * take them again) */
            double ex[64], sum = 0;
            for (int64_t c = 0; c < k; c++) {
                double e = exp(z[c] - m);
                if (c < 64) ex[c] = e;
                sum += e;
            }
            double lse = m + log(sum), inv = 1.0 / sum;
            loss += s * (lse - z[p->y[i]]);
            for (int64_t c = 0; c < k; c++)
                z[c] = s * ((c < 64 ? ex[c] * inv : exp(z[c] - lse)) - (c == p->y[i])) / p->S;
        }
    }
    /* grad W = G^T X / ... (G already scaled), + W / (C S) */
    EM_TRY(em__gemm_f64(k, d, n, 1.0, p->Z, 1, k, p->X, d, 1, 0.0, g, d));
    double reg = 0;
    for (int64_t j = 0; j < k * d; j++) {
        reg += W[j] * W[j];
        g[j] += p->inv_c * W[j];
    }
    for (int64_t c = 0; c < k; c++) {
        double gb = 0;
        for (int64_t i = 0; i < n; i++) gb += p->Z[i * k + c];
        g[k * d + c] = p->intercept ? gb : 0.0;
    }
    *f = loss / p->S + 0.5 * p->inv_c * reg;
    return EM_OK;
}

static double max_abs(const double *v, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fabs(v[i]) > m ? fabs(v[i]) : m;
    return m;
}

/* OWL-QN's pseudo-gradient of f + l1 ||theta[0, nw)||_1 (the intercepts
 * after nw are not penalised): the one-sided derivative that points
 * downhill, or 0 at a kink where neither side descends. */
static void pseudo_gradient(const double *theta, const double *g, int64_t nw, int64_t P, double l1, double *pg) {
    for (int64_t j = 0; j < P; j++) {
        if (j >= nw || l1 == 0) pg[j] = g[j];
        else if (theta[j] > 0) pg[j] = g[j] + l1;
        else if (theta[j] < 0) pg[j] = g[j] - l1;
        else pg[j] = g[j] + l1 < 0 ? g[j] + l1 : g[j] - l1 > 0 ? g[j] - l1 : 0.0;
    }
}

static double l1_norm(const double *v, int64_t n) {
    double s = 0;
    for (int64_t j = 0; j < n; j++) s += fabs(v[j]);
    return s;
}

/* ---- logistic regression with an l1 part: proximal Newton ------------------------
 * Each outer step minimises the local model g.D + D'HD/2 + l1 ||W + D_W||_1 by
 * cyclic coordinate descent (the subproblem of glmnet and of liblinear's
 * newGLMNET), then backtracks along D on the true objective (Tseng & Yun's
 * rule).  The Hessian is formed explicitly (P x P) from weighted Gram
 * matrices, so this path is taken while P is small (PN_MAX_PARAMS); above it
 * OWL-QN runs instead.  Unlike OWL-QN it handles the multinomial model's flat
 * direction (adding one vector to every class row changes only the penalty)
 * exactly: the coordinate steps see the kinks. */
#define PN_MAX_PARAMS 2048
#define PN_ROWS 4096 /* samples per chunk of the Hessian's Gram products */

/* Class probabilities q (n, k) at theta: sigmoid (k == 1) or softmax rows. */
static em_status lr_probs(const lr_problem *p, const double *theta, double *q) {
    int64_t n = p->n, d = p->d, k = p->k;
    const double *b = theta + k * d;
    EM_TRY(em__gemm_f64(n, k, d, 1.0, p->X, d, 1, theta, 1, d, 0.0, q, k));
    for (int64_t i = 0; i < n; i++) {
        double *z = q + i * k;
        if (p->intercept)
            for (int64_t c = 0; c < k; c++) z[c] += b[c];
        if (k == 1) {
            z[0] = z[0] >= 0 ? 1.0 / (1.0 + exp(-z[0])) : exp(z[0]) / (1.0 + exp(z[0]));
        } else {
            double m = z[0], sum = 0;
            for (int64_t c = 1; c < k; c++) m = z[c] > m ? z[c] : m;
            for (int64_t c = 0; c < k; c++) sum += (z[c] = exp(z[c] - m));
            for (int64_t c = 0; c < k; c++) z[c] /= sum;
        }
    }
    return EM_OK;
}

/* H (P x P, row-major, exactly symmetric): the Hessian of the smooth part.
 * Block (a, b) of the coefficients is X~' diag(v_ab) X~ with X~ = [X, 1] and
 * v_ab,i = s_i q_ia (delta_ab - q_ib) / S (binary: s_i q_i (1 - q_i) / S),
 * plus the l2 weight on the coefficients' diagonal.  Without intercepts their
 * rows are the identity (their steps stay 0).  wx: PN_ROWS x d scratch,
 * v: PN_ROWS. */
static em_status lr_hessian(const lr_problem *p, const double *q, double *H, double *wx, double *v) {
    int64_t n = p->n, d = p->d, k = p->k, P = k * d + k, kd = k * d;
    memset(H, 0, (size_t)(P * P) * sizeof *H);
    for (int64_t a = 0; a < k; a++)
        for (int64_t b = a; b < k; b++)
            for (int64_t r0 = 0; r0 < n; r0 += PN_ROWS) {
                int64_t m = n - r0 < PN_ROWS ? n - r0 : PN_ROWS;
                double vsum = 0;
                for (int64_t i = 0; i < m; i++) {
                    const double *qi = q + (r0 + i) * k, *xi = p->X + (r0 + i) * d;
                    double s = p->sw ? p->sw[r0 + i] : 1.0;
                    v[i] = s * (k == 1 ? qi[0] * (1 - qi[0]) : qi[a] * ((a == b) - qi[b])) / p->S;
                    vsum += v[i];
                    for (int64_t f = 0; f < d; f++) wx[i * d + f] = v[i] * xi[f];
                }
                /* coefficient block (a, b) += X_chunk' (v X_chunk) */
                EM_TRY(em__gemm_f64(d, d, m, 1.0, p->X + r0 * d, 1, d, wx, d, 1, 1.0, H + a * d * P + b * d, P));
                for (int64_t f = 0; f < d; f++) {
                    double c = 0;
                    for (int64_t i = 0; i < m; i++) c += wx[i * d + f];
                    H[(a * d + f) * P + kd + b] += c; /* W_a,f against b_b; v is symmetric in (a, b) */
                    if (a != b) H[(b * d + f) * P + kd + a] += c;
                }
                H[(kd + a) * P + kd + b] += vsum;
            }
    /* every entry computed above lies on or above the diagonal: mirror it */
    for (int64_t i = 0; i < P; i++)
        for (int64_t j = i + 1; j < P; j++) H[j * P + i] = H[i * P + j];
    for (int64_t j = 0; j < kd; j++) H[j * P + j] += p->inv_c;
    if (!p->intercept)
        for (int64_t c = kd; c < P; c++) {
            for (int64_t j = 0; j < P; j++) H[c * P + j] = H[j * P + c] = 0;
            H[c * P + c] = 1;
        }
    return EM_OK;
}

/* Coordinate descent on g.D + D'HD/2 + l1 ||theta_W + D_W||_1 from D = 0,
 * keeping hd = H D; stops when no coordinate's step moves its gradient by
 * more than tol, or after max_sweeps sweeps. */
static void lr_pn_subproblem(const double *H, const double *g, const double *theta, int64_t P, int64_t nw,
                             bool intercept, double l1, double tol, int64_t max_sweeps, double *D, double *hd) {
    memset(D, 0, (size_t)P * sizeof *D);
    memset(hd, 0, (size_t)P * sizeof *hd);
    for (int64_t sweep = 0; sweep < max_sweeps; sweep++) {
        double big = 0;
        for (int64_t j = 0; j < P; j++) {
            if (j >= nw && !intercept) continue;
            double a = H[j * P + j];
            if (!(a > 0)) continue; /* a feature that is 0 on every weighted sample: nothing to fit */
            double gj = g[j] + hd[j], z = theta[j] + D[j];
            double nz = j < nw ? soft(z - gj / a, l1 / a) : z - gj / a, dj = nz - z;
            if (dj == 0) continue;
            D[j] += dj;
            const double *hj = H + j * P;
            for (int64_t i = 0; i < P; i++) hd[i] += dj * hj[i];
            big = fabs(dj) * a > big ? fabs(dj) * a : big;
        }
        if (big <= tol) break;
    }
}

/* The proximal Newton loop; theta (P) starts at 0 and returns the solution. */
static em_status lr_prox_newton(lr_problem *p, const em_logreg_options *o, double l1, double *theta, int64_t *n_iter) {
    int64_t n = p->n, d = p->d, k = p->k, P = k * d + k, nw = k * d;
    size_t doubles = (size_t)(P * P + 6 * P + n * k + PN_ROWS * d + PN_ROWS);
    double *buf = NULL;
    EM_TRY(em__alloc_or_fail(doubles * sizeof *buf, "logreg_fit", (void **)&buf));
    double *H = buf, *g = H + P * P, *tn = g + P, *gn = tn + P, *D = gn + P, *hd = D + P, *pg = hd + P;
    double *q = pg + P, *wx = q + n * k, *v = wx + PN_ROWS * d;
    /* work per sweep is P^2: bound the sweeps of one subproblem by a budget */
    int64_t max_sweeps = (int64_t)(2e8 / ((double)P * P));
    max_sweeps = max_sweeps < 20 ? 20 : max_sweeps > 1000 ? 1000 : max_sweeps;
    memset(theta, 0, (size_t)P * sizeof *theta);
    double f, fn, F, Fn;
    em_status st = lr_eval(p, theta, &f, g);
    F = f + l1 * l1_norm(theta, nw);
    int64_t it = 0, stalls = 0;
    while (!st) {
        pseudo_gradient(theta, g, nw, P, l1, pg);
        double pgmax = max_abs(pg, P);
        if (pgmax <= o->tol || it >= o->max_iter) break;
        if ((st = lr_probs(p, theta, q)) || (st = lr_hessian(p, q, H, wx, v))) break;
        /* an inexact subproblem is enough far from the optimum: a tenth of the outer residual */
        lr_pn_subproblem(H, g, theta, P, nw, p->intercept, l1, 0.1 * pgmax, max_sweeps, D, hd);
        double model = dot(g, D, P); /* the model's decrease, with the change of the l1 term */
        for (int64_t j = 0; j < nw; j++) model += l1 * (fabs(theta[j] + D[j]) - fabs(theta[j]));
        it++;
        if (!(model < 0)) break; /* the model sees no descent left: at the optimum to rounding */
        double t = 1;
        int tries = 0;
        for (;;) {
            for (int64_t j = 0; j < P; j++) tn[j] = theta[j] + t * D[j];
            if ((st = lr_eval(p, tn, &fn, gn))) break;
            Fn = fn + l1 * l1_norm(tn, nw);
            if (Fn <= F + 1e-4 * t * model || ++tries == 50) break;
            t *= 0.5;
        }
        if (st) break;
        if (!(Fn <= F)) break; /* no step gains: rounding rules */
        /* a relative gain below 64 eps twice in a row: nothing left to gain */
        double scale = fabs(F) > fabs(Fn) ? fabs(F) : fabs(Fn);
        stalls = F - Fn <= 64 * DBL_EPSILON * (scale > 1 ? scale : 1.0) ? stalls + 1 : 0;
        memcpy(theta, tn, (size_t)P * sizeof *theta);
        memcpy(g, gn, (size_t)P * sizeof *g);
        f = fn, F = Fn;
        if (stalls >= 2) break;
    }
    *n_iter = it;
    em__free(buf);
    return st;
}

em_status em_logreg_fit(const em_tensor *X, const em_tensor *y, const em_tensor *sample_weight, int64_t n_classes,
                        const em_logreg_options *o, em_tensor **coef, em_tensor **intercept, int64_t *n_iter) {
    int64_t n, d;
    EM_TRY(check_xy("logreg_fit", X, y, EM_I64, sample_weight, &n, &d));
    if (!o || !coef || !intercept || !n_iter) return em__error(EM_ERR_INVALID_ARG, "logreg_fit: NULL argument");
    if (n_classes < 2) return em__error(EM_ERR_INVALID_ARG, "logreg_fit: needs >= 2 classes, got %lld", (long long)n_classes);
    if ((int)o->penalty < EM_LINEAR_NONE || o->penalty > EM_LINEAR_ELASTICNET)
        return em__error(EM_ERR_INVALID_ARG, "logreg_fit: unknown penalty %d", (int)o->penalty);
    if (o->penalty != EM_LINEAR_NONE && !(o->C > 0))
        return em__error(EM_ERR_INVALID_ARG, "logreg_fit: C must be > 0, got %g", o->C);
    if (o->penalty == EM_LINEAR_ELASTICNET && !(o->l1_ratio >= 0 && o->l1_ratio <= 1))
        return em__error(EM_ERR_INVALID_ARG, "logreg_fit: l1_ratio must be in [0, 1], got %g", o->l1_ratio);
    if (o->max_iter < 0 || o->memory < 1 || !(o->tol >= 0))
        return em__error(EM_ERR_INVALID_ARG, "logreg_fit: need max_iter >= 0, memory >= 1 and tol >= 0");
    if ((int)o->solver < EM_LOGREG_AUTO || o->solver > EM_LOGREG_NEWTON)
        return em__error(EM_ERR_INVALID_ARG, "logreg_fit: unknown solver %d", (int)o->solver);
    if (o->solver == EM_LOGREG_NEWTON && (n_classes == 2 ? 1 : n_classes) * (d + 1) > PN_MAX_PARAMS)
        return em__error(EM_ERR_INVALID_ARG, "logreg_fit: the Newton solver forms the Hessian of at most %d "
                         "coefficients, this problem has %lld; use the quasi-Newton or the automatic solver",
                         PN_MAX_PARAMS, (long long)((n_classes == 2 ? 1 : n_classes) * (d + 1)));
    const int64_t *yy = (const int64_t *)em__ptr(y);
    for (int64_t i = 0; i < n; i++)
        if (yy[i] < 0 || yy[i] >= n_classes)
            return em__error(EM_ERR_INDEX, "logreg_fit: y[%lld] = %lld is not a class index in [0, %lld)", (long long)i,
                             (long long)yy[i], (long long)n_classes);
    const double *sw = sample_weight ? (const double *)em__ptr(sample_weight) : NULL;
    double S = 0;
    for (int64_t i = 0; i < n; i++) S += sw ? sw[i] : 1.0;
    if (!(S > 0)) return em__error(EM_ERR_INVALID_ARG, "logreg_fit: the sample weights sum to 0");
    int64_t k = n_classes == 2 ? 1 : n_classes, P = k * d + k, nw = k * d, m = o->memory;
    double r = o->penalty == EM_LINEAR_L1 ? 1.0 : o->penalty == EM_LINEAR_ELASTICNET ? o->l1_ratio : 0.0;
    double l1 = o->penalty == EM_LINEAR_NONE ? 0.0 : r / (o->C * S);
    /* one block: theta, g, theta_new, g_new, dir, pg, s (m P), y (m P), rho, alpha, Z */
    size_t doubles = (size_t)(6 * P + 2 * m * P + 2 * m + n * k);
    double *buf = NULL;
    EM_TRY(em__alloc_or_fail(doubles * sizeof *buf, "logreg_fit", (void **)&buf));
    double *theta = buf, *g = theta + P, *tn = g + P, *gn = tn + P, *dir = gn + P, *pg = dir + P, *Sm = pg + P;
    double *Ym = Sm + m * P, *rho = Ym + m * P, *al = rho + m, *Z = al + m;
    memset(theta, 0, (size_t)P * sizeof *theta);
    lr_problem p = {(const double *)em__ptr(X), sw, yy, n, d, k, S,
                    o->penalty == EM_LINEAR_NONE ? 0.0 : (1 - r) / (o->C * S), o->fit_intercept, Z};
    int64_t it = 0, stored = 0, head = 0, stalls = 0;
    em_status st = EM_OK;
    if (o->solver == EM_LOGREG_NEWTON || (o->solver == EM_LOGREG_AUTO && l1 > 0 && P <= PN_MAX_PARAMS)) {
        st = lr_prox_newton(&p, o, l1, theta, &it);
        goto out;
    }
    /* f: the smooth part (loss and l2), F = f + l1 ||W||_1 the objective */
    double f, fn, F, Fn;
    if ((st = lr_eval(&p, theta, &f, g)) != EM_OK) goto out; /* g is unset after a failure */
    F = f + l1 * l1_norm(theta, nw);
    pseudo_gradient(theta, g, nw, P, l1, pg);
    while (!st && it < o->max_iter && max_abs(pg, P) > o->tol) {
        /* two-loop recursion: dir = -H pg */
        for (int64_t j = 0; j < P; j++) dir[j] = -pg[j];
        for (int64_t q = 0; q < stored; q++) {
            int64_t h = (head - 1 - q + m) % m;
            al[h] = rho[h] * dot(Sm + h * P, dir, P);
            for (int64_t j = 0; j < P; j++) dir[j] -= al[h] * Ym[h * P + j];
        }
        if (stored) {
            int64_t h = (head - 1 + m) % m;
            double gamma = dot(Sm + h * P, Ym + h * P, P) / dot(Ym + h * P, Ym + h * P, P);
            for (int64_t j = 0; j < P; j++) dir[j] *= gamma;
        } else {
            double gn2 = sqrt(dot(pg, pg, P));
            for (int64_t j = 0; j < P; j++) dir[j] /= gn2 > 1 ? gn2 : 1.0;
        }
        for (int64_t q = stored - 1; q >= 0; q--) {
            int64_t h = (head - 1 - q + m) % m;
            double beta = rho[h] * dot(Ym + h * P, dir, P);
            for (int64_t j = 0; j < P; j++) dir[j] += (al[h] - beta) * Sm[h * P + j];
        }
        /* OWL-QN: a penalised coordinate moves only where its pseudo-gradient says downhill */
        if (l1 > 0)
            for (int64_t j = 0; j < nw; j++)
                if (dir[j] * pg[j] >= 0) dir[j] = 0;
        double slope = dot(pg, dir, P);
        if (!(slope < 0)) { /* not a descent direction: restart from steepest descent */
            stored = 0;
            for (int64_t j = 0; j < P; j++) dir[j] = -pg[j];
            slope = -dot(pg, pg, P);
        }
        /* backtracking line search (Armijo), step 1 first; with l1 each step is
         * projected onto the orthant of theta (sign of theta, or of -pg at 0):
         * a coordinate that would cross zero stops at zero */
        double step = 1.0;
        int tries = 0;
        for (;;) {
            for (int64_t j = 0; j < P; j++) {
                tn[j] = theta[j] + step * dir[j];
                if (l1 > 0 && j < nw) {
                    double side = theta[j] != 0 ? theta[j] : -pg[j];
                    if (tn[j] * side <= 0) tn[j] = 0;
                }
            }
            if ((st = lr_eval(&p, tn, &fn, gn))) break;
            Fn = fn + l1 * l1_norm(tn, nw);
            double decrease = 0; /* pg . (tn - theta): the model's decrease along the projected step */
            for (int64_t j = 0; j < P; j++) decrease += pg[j] * (tn[j] - theta[j]);
            if (Fn <= F + 1e-4 * (l1 > 0 ? decrease : step * slope) || ++tries == 60) break;
            step *= 0.5;
        }
        if (st) break;
        it++;
        double *s_new = Sm + head * P, *y_new = Ym + head * P;
        for (int64_t j = 0; j < P; j++) {
            s_new[j] = tn[j] - theta[j];
            y_new[j] = gn[j] - g[j];
        }
        double sy = dot(s_new, y_new, P);
        if (sy > 1e-12 * dot(y_new, y_new, P)) { /* keep only pairs with positive curvature */
            rho[head] = 1.0 / sy;
            head = (head + 1) % m;
            stored = stored < m ? stored + 1 : m;
        }
        /* relative decrease below 64 eps: nothing left to gain (scikit-learn's ftol).  OWL-QN
         * needs it twice in a row: a step cut short at an orthant boundary can gain little
         * and still leave the next step much to do */
        double scale = fabs(F) > fabs(Fn) ? fabs(F) : fabs(Fn);
        stalls = F - Fn <= 64 * DBL_EPSILON * (scale > 1 ? scale : 1.0) ? stalls + 1 : 0;
        bool stalled = stalls >= (l1 > 0 ? 2 : 1);
        memcpy(theta, tn, (size_t)P * sizeof *theta);
        memcpy(g, gn, (size_t)P * sizeof *g);
        f = fn, F = Fn;
        pseudo_gradient(theta, g, nw, P, l1, pg);
        if (stalled) break; /* no decrease possible in floating point: at the optimum */
    }
out:;
    em_tensor *c = NULL, *b = NULL;
    if (!st) st = em__new(EM_F64, 2, (int64_t[]){k, d}, &c);
    if (!st) st = em__new(EM_F64, 1, &k, &b);
    if (!st) {
        memcpy(em__ptr(c), theta, (size_t)(k * d) * sizeof(double));
        memcpy(em__ptr(b), theta + k * d, (size_t)k * sizeof(double));
        *coef = c, *intercept = b, *n_iter = it;
        c = b = NULL;
    }
    em_tensor_free(c), em_tensor_free(b);
    em__free(buf);
    return st;
}

/* ---- elastic net ------------------------------------------------------------ */

em_status em_enet_fit(const em_tensor *X, const em_tensor *y, double alpha, double l1_ratio, int64_t max_iter,
                      double tol, bool positive, const em_tensor *w0, em_tensor **coef, int64_t *n_iter,
                      double *dual_gap) {
    int64_t n, d;
    EM_TRY(check_xy("enet_fit", X, y, EM_F64, NULL, &n, &d));
    if (!coef || !n_iter || !dual_gap) return em__error(EM_ERR_INVALID_ARG, "enet_fit: NULL output");
    if (!(alpha >= 0) || !(l1_ratio >= 0 && l1_ratio <= 1) || max_iter < 0 || !(tol >= 0))
        return em__error(EM_ERR_INVALID_ARG, "enet_fit: need alpha >= 0, l1_ratio in [0, 1], max_iter >= 0, tol >= 0; "
                         "got %g, %g, %lld, %g", alpha, l1_ratio, (long long)max_iter, tol);
    if (w0 && (w0->dtype != EM_F64 || w0->ndim != 1 || w0->shape[0] != d || !em__is_contiguous(w0)))
        return em__error(EM_ERR_SHAPE, "enet_fit: the starting coefficients must be a contiguous (%lld,) float64 tensor",
                         (long long)d);
    const double *x = (const double *)em__ptr(X), *yy = (const double *)em__ptr(y);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(yy[i])) return em__error(EM_ERR_INVALID_ARG, "enet_fit: y[%lld] is not finite", (long long)i);
    em_tensor *out = NULL;
    EM_TRY(em__new(EM_F64, 1, &d, &out));
    double *w = (double *)em__ptr(out);
    /* columns stored contiguously: coordinate descent reads one at a time */
    double *buf = NULL;
    em_status st = em__alloc_or_fail((size_t)(n * d + n + d + d) * sizeof *buf, "enet_fit", (void **)&buf);
    if (st) {
        em_tensor_free(out);
        return st;
    }
    double *cols = buf, *r = cols + n * d, *norm2 = r + n, *xtr = norm2 + d;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) cols[j * n + i] = x[i * d + j];
    for (int64_t j = 0; j < d; j++) {
        norm2[j] = dot(cols + j * n, cols + j * n, n);
        w[j] = w0 ? ((const double *)em__ptr(w0))[j] : 0.0;
    }
    for (int64_t i = 0; i < n; i++) r[i] = yy[i];
    for (int64_t j = 0; j < d; j++)
        if (w[j] != 0)
            for (int64_t i = 0; i < n; i++) r[i] -= w[j] * cols[j * n + i];
    double l1 = alpha * l1_ratio * n, l2 = alpha * (1 - l1_ratio) * n, ynorm2 = dot(yy, yy, n);
    double gap = tol * ynorm2 + 1, tol_abs = tol * ynorm2;
    int64_t it = 0;
    for (; it < max_iter; it++) {
        double w_max = 0, dw_max = 0;
        for (int64_t j = 0; j < d; j++) {
            if (norm2[j] == 0) continue;
            const double *c = cols + j * n;
            double old = w[j], rho = dot(c, r, n) + norm2[j] * old;
            double nw = positive && rho < 0 ? 0.0 : soft(rho, l1) / (norm2[j] + l2);
            if (nw != old)
                for (int64_t i = 0; i < n; i++) r[i] -= (nw - old) * c[i];
            w[j] = nw;
            dw_max = fabs(nw - old) > dw_max ? fabs(nw - old) : dw_max;
            w_max = fabs(nw) > w_max ? fabs(nw) : w_max;
        }
        if (w_max == 0 || dw_max / w_max < tol || it == max_iter - 1) {
            /* duality gap (as scikit-learn's enet_coordinate_descent) */
            double dual_norm = 0, w1 = 0, w2 = 0;
            for (int64_t j = 0; j < d; j++) {
                xtr[j] = dot(cols + j * n, r, n) - l2 * w[j];
                double v = positive ? xtr[j] : fabs(xtr[j]);
                dual_norm = v > dual_norm ? v : dual_norm;
                w1 += fabs(w[j]);
                w2 += w[j] * w[j];
            }
            double r2 = dot(r, r, n), ry = dot(r, yy, n), const_ = 1.0;
            if (dual_norm > l1) const_ = l1 / dual_norm;
            double a2 = r2 * const_ * const_;
            gap = 0.5 * (r2 + a2) + l1 * w1 - const_ * ry + 0.5 * l2 * (1 + const_ * const_) * w2;
            if (gap < tol_abs) {
                it++;
                break;
            }
        }
    }
    em__free(buf);
    *coef = out;
    *n_iter = it;
    *dual_gap = gap;
    return EM_OK;
}

/* ---- SGD -------------------------------------------------------------------- */
/* loss and its derivative in z for target y */
static double sgd_loss(const em_linear_sgd_options *o, double z, double y, double *dl) {
    double m = z * y, r = z - y, e = o->epsilon;
    switch (o->loss) {
    case EM_LINEAR_HINGE: *dl = m < 1 ? -y : 0; return m < 1 ? 1 - m : 0;
    case EM_LINEAR_PERCEPTRON: *dl = m <= 0 ? -y : 0; return m <= 0 ? -m : 0;
    case EM_LINEAR_SQUARED_HINGE: *dl = m < 1 ? -2 * y * (1 - m) : 0; return m < 1 ? (1 - m) * (1 - m) : 0;
    case EM_LINEAR_LOG: {
        double l = m > 18 ? exp(-m) : m < -18 ? -m : log1p(exp(-m));
        *dl = m > 18 ? -y * exp(-m) : m < -18 ? -y : -y / (exp(m) + 1.0);
        return l;
    }
    case EM_LINEAR_MODIFIED_HUBER:
        if (m >= 1) { *dl = 0; return 0; }
        if (m >= -1) { *dl = -2 * y * (1 - m); return (1 - m) * (1 - m); }
        *dl = -4 * y;
        return -4 * m;
    case EM_LINEAR_SQUARED_ERROR: *dl = r; return 0.5 * r * r;
    case EM_LINEAR_HUBER:
        if (fabs(r) <= e) { *dl = r; return 0.5 * r * r; }
        *dl = r > 0 ? e : -e;
        return e * fabs(r) - 0.5 * e * e;
    case EM_LINEAR_EPSILON_INSENSITIVE: *dl = fabs(r) > e ? (r > 0 ? 1 : -1) : 0; return fabs(r) > e ? fabs(r) - e : 0;
    case EM_LINEAR_SQUARED_EPSILON_INSENSITIVE: {
        double a = fabs(r) - e;
        *dl = a > 0 ? 2 * a * (r > 0 ? 1 : -1) : 0;
        return a > 0 ? a * a : 0;
    }
    }
    *dl = 0;
    return 0;
}

em_status em_linear_sgd_epoch(const em_tensor *X, const em_tensor *y, const em_tensor *sample_weight, const em_tensor *order,
                       const em_linear_sgd_options *o, em_tensor *wt, double *b, double *t, double *loss_sum) {
    int64_t n, d;
    EM_TRY(check_xy("linear_sgd_epoch", X, y, EM_F64, sample_weight, &n, &d));
    char a[EM_DESC_LEN];
    if (!o || !wt || !b || !t || !loss_sum || !order) return em__error(EM_ERR_INVALID_ARG, "linear_sgd_epoch: NULL argument");
    if (wt->dtype != EM_F64 || wt->ndim != 1 || wt->shape[0] != d || !em__is_contiguous(wt))
        return em__error(EM_ERR_SHAPE, "linear_sgd_epoch: coefficients must be a contiguous (%lld,) float64 tensor, got %s",
                         (long long)d, em__desc(wt, a));
    if (order->dtype != EM_I64 || order->ndim != 1 || !em__is_contiguous(order))
        return em__error(EM_ERR_SHAPE, "linear_sgd_epoch: order must be a contiguous 1-d int64 tensor, got %s", em__desc(order, a));
    if ((int)o->loss < 0 || o->loss > EM_LINEAR_SQUARED_EPSILON_INSENSITIVE || (int)o->penalty < 0 ||
        o->penalty > EM_LINEAR_ELASTICNET || (int)o->schedule < 0 || o->schedule > EM_LINEAR_INVSCALING)
        return em__error(EM_ERR_INVALID_ARG, "linear_sgd_epoch: unknown loss, penalty or schedule");
    if (!(o->alpha >= 0) || (o->schedule == EM_LINEAR_OPTIMAL && !(o->alpha > 0)) ||
        (o->schedule != EM_LINEAR_OPTIMAL && !(o->eta0 > 0)))
        return em__error(EM_ERR_INVALID_ARG, "linear_sgd_epoch: need alpha > 0 for the 'optimal' schedule, eta0 > 0 otherwise "
                         "(alpha %g, eta0 %g)", o->alpha, o->eta0);
    const int64_t *ord = (const int64_t *)em__ptr(order);
    for (int64_t q = 0; q < order->shape[0]; q++)
        if (ord[q] < 0 || ord[q] >= n)
            return em__error(EM_ERR_INDEX, "linear_sgd_epoch: order[%lld] = %lld is not a sample index in [0, %lld)",
                             (long long)q, (long long)ord[q], (long long)n);
    const double *x = (const double *)em__ptr(X), *yy = (const double *)em__ptr(y);
    const double *sw = sample_weight ? (const double *)em__ptr(sample_weight) : NULL;
    double *w = (double *)em__ptr(wt);
    double l2 = o->penalty == EM_LINEAR_L2 ? o->alpha : o->penalty == EM_LINEAR_ELASTICNET ? o->alpha * (1 - o->l1_ratio) : 0;
    double l1 = o->penalty == EM_LINEAR_L1 ? o->alpha : o->penalty == EM_LINEAR_ELASTICNET ? o->alpha * o->l1_ratio : 0;
    double t0 = 0;
    if (o->schedule == EM_LINEAR_OPTIMAL) {
        /* Bottou's heuristic: the initial step a sample at margin -typw would take */
        double typw = sqrt(1.0 / sqrt(o->alpha)), dl;
        sgd_loss(o, -typw, 1.0, &dl);
        double eta0 = typw / (fabs(dl) > 1 ? fabs(dl) : 1.0);
        t0 = 1.0 / (eta0 * o->alpha);
    }
    double total = 0;
    for (int64_t q = 0; q < order->shape[0]; q++) {
        int64_t i = ord[q];
        const double *xi = x + i * d;
        double s = sw ? sw[i] : 1.0, eta;
        if (o->schedule == EM_LINEAR_OPTIMAL) eta = 1.0 / (o->alpha * (t0 + *t));
        else if (o->schedule == EM_LINEAR_INVSCALING) eta = o->eta0 / pow(*t + 1.0, o->power_t);
        else eta = o->eta0;
        double z = dot(w, xi, d) + *b, dl;
        total += s * sgd_loss(o, z, yy[i], &dl);
        /* bounded steps on badly scaled data instead of overflow (scikit-learn's MAX_DLOSS) */
        dl = dl > 1e12 ? 1e12 : dl < -1e12 ? -1e12 : dl;
        double gsc = eta * dl * s, shrink = 1 - eta * l2;
        if (shrink < 0) shrink = 0;
        for (int64_t j = 0; j < d; j++) {
            double v = w[j] * shrink - gsc * xi[j];
            w[j] = l1 > 0 ? soft(v, eta * l1) : v;
        }
        if (o->fit_intercept) *b -= gsc;
        *t += 1;
    }
    for (int64_t j = 0; j < d; j++)
        if (!isfinite(w[j]))
            return em__error(EM_ERR_INVALID_ARG, "linear_sgd_epoch: the coefficients diverged to infinity or NaN; scale the "
                             "inputs or lower eta0");
    *loss_sum = total;
    return EM_OK;
}

/* ---- linear SVM: dual coordinate descent --------------------------------------- */
em_status em_linsvc_fit(const em_tensor *X, const em_tensor *y, const em_tensor *sample_weight, double C,
                        bool squared_hinge, double intercept_scaling, int64_t max_iter, double tol, uint64_t seed,
                        em_tensor **coef, double *intercept, int64_t *n_iter) {
    int64_t n, d;
    EM_TRY(check_xy("linsvc_fit", X, y, EM_F64, sample_weight, &n, &d));
    if (!coef || !intercept || !n_iter) return em__error(EM_ERR_INVALID_ARG, "linsvc_fit: NULL output");
    if (!(C > 0) || !(intercept_scaling >= 0) || max_iter < 0 || !(tol > 0))
        return em__error(EM_ERR_INVALID_ARG, "linsvc_fit: need C > 0, intercept_scaling >= 0, max_iter >= 0, tol > 0");
    const double *x = (const double *)em__ptr(X), *yy = (const double *)em__ptr(y);
    const double *sw = sample_weight ? (const double *)em__ptr(sample_weight) : NULL;
    for (int64_t i = 0; i < n; i++)
        if (yy[i] != 1.0 && yy[i] != -1.0)
            return em__error(EM_ERR_INVALID_ARG, "linsvc_fit: y[%lld] = %g is not +1 or -1", (long long)i, yy[i]);
    em_tensor *out = NULL;
    EM_TRY(em__new(EM_F64, 1, &d, &out));
    double *w = (double *)em__ptr(out), *buf = NULL;
    em_status st = em__alloc_or_fail((size_t)(4 * n) * sizeof *buf, "linsvc_fit", (void **)&buf);
    if (st) {
        em_tensor_free(out);
        return st;
    }
    double *alpha = buf, *qd = alpha + n, *upper = qd + n, *diag = upper + n;
    int64_t *perm = NULL;
    if ((st = em__alloc_or_fail((size_t)n * sizeof *perm, "linsvc_fit", (void **)&perm))) {
        em__free(buf);
        em_tensor_free(out);
        return st;
    }
    double bias = 0, is2 = intercept_scaling * intercept_scaling;
    memset(w, 0, (size_t)d * sizeof *w);
    for (int64_t i = 0; i < n; i++) {
        double ci = C * (sw ? sw[i] : 1.0);
        /* squared hinge: the loss becomes a diagonal term 1/(2 C_i); a zero weight excludes the sample */
        diag[i] = squared_hinge ? (ci > 0 ? 0.5 / ci : INFINITY) : 0.0;
        alpha[i] = 0;
        upper[i] = squared_hinge ? INFINITY : ci;
        qd[i] = dot(x + i * d, x + i * d, d) + is2 + diag[i];
        perm[i] = i;
    }
    uint32_t blk[4];
    uint64_t ctr = 0;
    int64_t it = 0;
    for (; it < max_iter; it++) {
        for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates with Philox words */
            em__philox4x32(ctr++, 7, seed, blk);
            int64_t j = (int64_t)(((uint64_t)blk[0] | (uint64_t)blk[1] << 32) % (uint64_t)(i + 1));
            int64_t tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        double pg_max = -INFINITY, pg_min = INFINITY;
        for (int64_t q = 0; q < n; q++) {
            int64_t i = perm[q];
            if (!isfinite(qd[i]) || upper[i] == 0) continue; /* zero weight: the sample cannot enter */
            const double *xi = x + i * d;
            double G = yy[i] * (dot(w, xi, d) + bias * intercept_scaling) - 1 + diag[i] * alpha[i];
            double pg = G;
            if (alpha[i] == 0) pg = G < 0 ? G : 0;
            else if (alpha[i] >= upper[i]) pg = G > 0 ? G : 0;
            pg_max = pg > pg_max ? pg : pg_max;
            pg_min = pg < pg_min ? pg : pg_min;
            if (fabs(pg) > 1e-12) {
                double old = alpha[i], na = old - G / qd[i];
                na = na < 0 ? 0 : na > upper[i] ? upper[i] : na;
                double delta = (na - old) * yy[i];
                for (int64_t j = 0; j < d; j++) w[j] += delta * xi[j];
                bias += delta * intercept_scaling;
                alpha[i] = na;
            }
        }
        if (pg_max - pg_min <= tol) {
            it++;
            break;
        }
    }
    em__free(perm);
    em__free(buf);
    *coef = out;
    *intercept = bias * intercept_scaling;
    *n_iter = it;
    return EM_OK;
}
