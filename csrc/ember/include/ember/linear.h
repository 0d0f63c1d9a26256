/* ember/linear.h — solvers of ember.ml's linear models (included by ember.h).
 *
 * Every solver takes float64 C-contiguous inputs (the Python layer prepares
 * them), returns new tensors the caller frees with em_tensor_free, and gives
 * the same result for any thread count (GEMMs split over outputs only). */
#ifndef EMBER_LINEAR_H
#define EMBER_LINEAR_H

/* Penalties of the linear models (logistic regression and SGD). */
typedef enum em_linear_penalty { EM_LINEAR_NONE, EM_LINEAR_L2, EM_LINEAR_L1, EM_LINEAR_ELASTICNET } em_linear_penalty;

/* ---- logistic regression: L-BFGS, OWL-QN or proximal Newton ---------------- */
typedef enum em_logreg_solver {
    EM_LOGREG_AUTO,         /* L-BFGS for l2 or none; with an l1 part proximal Newton while
                               k (d + 1) <= 2048 coefficients (k = 1 binary, else n_classes), else OWL-QN */
    EM_LOGREG_QUASI_NEWTON, /* L-BFGS, OWL-QN with an l1 part */
    EM_LOGREG_NEWTON,       /* proximal Newton (any penalty), k (d + 1) <= 2048 */
} em_logreg_solver;

typedef struct em_logreg_options {
    double C;                  /* inverse regularisation strength (> 0); ignored without penalty */
    em_linear_penalty penalty; /* none, l2, l1 or elasticnet */
    double l1_ratio;           /* elasticnet's share of l1 in [0, 1] (l2: 0, l1: 1 whatever it says) */
    bool fit_intercept;        /* intercepts are never penalised */
    int64_t max_iter;          /* solver iterations (quasi-Newton or Newton steps) */
    double tol;                /* stop when max |(pseudo-)gradient| <= tol */
    int64_t memory;            /* L-BFGS history pairs (>= 1) */
    em_logreg_solver solver;
} em_logreg_options;

/* C = 1, l2 (l1_ratio 0), intercept, 100 iterations, tol 1e-4, memory 10, auto solver. */
EM_API em_logreg_options em_logreg_default_options(void);

/* Minimises (1/S) sum_i s_i loss_i + (r ||W||_1 + (1 - r) ||W||^2 / 2) / (C S),
 * S = sum_i s_i, r the l1 share (0 for l2, 1 for l1, l1_ratio for the
 * elastic net; no penalty term at all for none):
 * binary (n_classes == 2): loss_i = log(1 + e^z_i) - y_i z_i, z_i = x_i.w + b,
 * one coefficient row; multinomial (n_classes > 2): loss_i = logsumexp(z_i) -
 * z_i[y_i], z_i = W x_i + b, one row per class.  This is scikit-learn's
 * objective divided by C S, so the minimiser is the same.
 * Solvers: L-BFGS; OWL-QN (Andrew & Gao, 2007), L-BFGS steps along the
 * pseudo-gradient kept in the orthant of the current point; proximal Newton
 * (glmnet's and newGLMNET's scheme), coordinate descent on the local
 * quadratic model with the l1 term, then a line search.  With an l1 part
 * both reach exact zeros; the Newton steps converge in a few iterations
 * where OWL-QN can crawl (the multinomial model is flat along "add one
 * vector to every class row" but for the kinks of the l1 term), at the cost
 * of forming the (k (d + 1))^2 Hessian, hence the size limit.  *n_iter
 * counts the solver's iterations (quasi-Newton steps or Newton steps).
 * X (n, d) float64, y (n,) int64 in [0, n_classes), sample_weight (n,)
 * float64 >= 0 or NULL.  *coef: (rows, d), *intercept: (rows,), *n_iter:
 * iterations run (== max_iter when it stopped without converging). */
EM_API em_status em_logreg_fit(const em_tensor *X, const em_tensor *y, const em_tensor *sample_weight,
                               int64_t n_classes, const em_logreg_options *opt, em_tensor **coef,
                               em_tensor **intercept, int64_t *n_iter);

/* ---- elastic net: cyclic coordinate descent -------------------------------- */
/* Minimises (1/(2n)) ||y - X w||^2 + alpha l1_ratio ||w||_1
 *           + (alpha (1 - l1_ratio) / 2) ||w||^2
 * (no intercept: the caller centres X and y).  Stops when the largest
 * coordinate step is below tol times the largest coefficient and the duality
 * gap is below tol ||y||^2, or after max_iter sweeps.  positive: w >= 0.
 * w0: (d,) starting point or NULL (zeros).  *coef (d,), *n_iter sweeps,
 * *dual_gap the final gap. */
EM_API em_status em_enet_fit(const em_tensor *X, const em_tensor *y, double alpha, double l1_ratio, int64_t max_iter,
                             double tol, bool positive, const em_tensor *w0, em_tensor **coef, int64_t *n_iter,
                             double *dual_gap);

/* ---- stochastic gradient descent: one epoch -------------------------------- */
typedef enum em_linear_loss {
    EM_LINEAR_HINGE, EM_LINEAR_LOG, EM_LINEAR_MODIFIED_HUBER, EM_LINEAR_SQUARED_HINGE, EM_LINEAR_PERCEPTRON,
    EM_LINEAR_SQUARED_ERROR, EM_LINEAR_HUBER, EM_LINEAR_EPSILON_INSENSITIVE, EM_LINEAR_SQUARED_EPSILON_INSENSITIVE,
} em_linear_loss;
typedef enum em_linear_schedule { EM_LINEAR_CONSTANT, EM_LINEAR_OPTIMAL, EM_LINEAR_INVSCALING } em_linear_schedule;

typedef struct em_linear_sgd_options {
    em_linear_loss loss;
    em_linear_penalty penalty;
    em_linear_schedule schedule;
    double alpha, l1_ratio, eta0, power_t, epsilon;
    bool fit_intercept;
} em_linear_sgd_options;

/* One pass over the samples in `order` (int64 indices), updating w (d,) and
 * *b in place: for each sample, z = w.x + b, g = dloss(z, y) s (s its
 * weight), eta from the schedule at step *t ('optimal': 1 / (alpha (t0 +
 * t)), t0 from Bottou's heuristic), then the penalty shrink and w -= eta g x,
 * b -= eta g.  y is +-1 for the classification losses.  *t counts steps
 * across calls; *loss_sum receives the summed loss of the pass. */
EM_API em_status em_linear_sgd_epoch(const em_tensor *X, const em_tensor *y, const em_tensor *sample_weight,
                              const em_tensor *order, const em_linear_sgd_options *opt, em_tensor *w, double *b, double *t,
                              double *loss_sum);

/* ---- linear SVM: dual coordinate descent (Hsieh et al., ICML 2008) --------- */
/* Minimises 1/2 ||w||^2 + C sum_i s_i xi_i over w (d,) and, with
 * intercept_scaling > 0, a bias folded in as an extra feature of that value
 * (regularised, as liblinear); xi_i = max(0, 1 - y_i w.x_i) (hinge) or its
 * square (squared hinge).  y is +-1.  Coordinates are visited in a random
 * order per sweep (Philox, seed); stops when the projected-gradient spread
 * is below tol.  *coef: (d,), *intercept, *n_iter. */
EM_API em_status em_linsvc_fit(const em_tensor *X, const em_tensor *y, const em_tensor *sample_weight, double C,
                               bool squared_hinge, double intercept_scaling, int64_t max_iter, double tol,
                               uint64_t seed, em_tensor **coef, double *intercept, int64_t *n_iter);

#endif
