/* ember/ml.h — dense linear algebra and classic machine learning (issue 5).  Included by ember.h. */
#ifndef EMBER_ML_H
#define EMBER_ML_H

/* ------------------------------------------------------------------ */
/* Dense linear algebra (csrc/ember/ml/linalg_*.c, docs/linalg.md)     */
/* ------------------------------------------------------------------ */
/* Common rules:
 *  - Matrices are the last two dimensions; leading dimensions are a batch
 *    (NumPy's gufunc convention).  Inputs may have any strides.
 *  - float32 and float64 inputs compute in their own dtype; other dtypes are
 *    cast to float32 (ember's default float).  Two operands of which one is
 *    float64 compute in float64.
 *  - Results are new contiguous tensors owned by the caller: free each with
 *    em_tensor_free().  On error no out-parameter is written.
 *  - A singular matrix (solve, inv) or one that is not positive definite
 *    (cholesky) is EM_ERR_INVALID_ARG with a message naming the batch item;
 *    Python raises ember.linalg.LinAlgError (a ValueError).
 *  - NaN/inf: direct methods (LU, QR, Cholesky) propagate them into the
 *    result (Cholesky reports "not positive definite"); the iterative ones
 *    (eigh, svd, lstsq, pinv) refuse them with EM_ERR_INVALID_ARG and stop
 *    after a fixed number of sweeps (EM_ERR_INVALID_ARG "did not converge"),
 *    so no input hangs. */

/* Solves a @ out = b.  a: (..., n, n); b: (n,) (one vector for every batch
 * item, out (..., n)) or (..., n, k) with batch dims broadcast against a's.
 * LU with partial pivoting. */
EM_API em_status em_linalg_solve(const em_tensor *a, const em_tensor *b, em_tensor **out);
/* out = x^-1 for x (..., n, n).  LU with partial pivoting. */
EM_API em_status em_linalg_inv(const em_tensor *x, em_tensor **out);
/* out[...] = det(x[...]) for x (..., n, n): product of the LU pivots. */
EM_API em_status em_linalg_det(const em_tensor *x, em_tensor **out);
/* det(x) = sign * exp(logabsdet) without overflow; singular: sign 0,
 * logabsdet -inf.  Two new tensors of shape (...). */
EM_API em_status em_linalg_slogdet(const em_tensor *x, em_tensor **sign, em_tensor **logabsdet);

/* Cholesky factor of a symmetric positive-definite x (..., n, n), reading
 * only its lower triangle: x = L L^T with L lower (upper: x = U^T U, U = L^T).
 * Not positive definite: EM_ERR_INVALID_ARG naming the leading minor. */
EM_API em_status em_linalg_cholesky(const em_tensor *x, bool upper, em_tensor **out);

typedef enum em_qr_mode {
    EM_QR_REDUCED = 0,  /* q (..., m, k), r (..., k, n), k = min(m, n) */
    EM_QR_COMPLETE = 1, /* q (..., m, m), r (..., m, n) */
    EM_QR_R = 2,        /* r (..., k, n) only; *q is set to NULL */
} em_qr_mode;
/* x = q @ r with q orthonormal columns and r upper triangular (Householder,
 * LAPACK's sign convention: r's diagonal may be negative, as NumPy's). */
EM_API em_status em_linalg_qr(const em_tensor *x, em_qr_mode mode, em_tensor **q, em_tensor **r);

/* Eigendecomposition of a symmetric x (..., n, n), reading its lower
 * triangle: x = v @ diag(w) @ v^T, w (..., n) ascending, v (..., n, n) with
 * the eigenvectors as columns.  v may be NULL (eigenvalues only). */
EM_API em_status em_linalg_eigh(const em_tensor *x, em_tensor **w, em_tensor **v);

/* x (..., m, n) = u @ diag(s) @ vh with s (..., k) descending, k = min(m, n).
 * full_matrices: u (..., m, m), vh (..., n, n); else u (..., m, k),
 * vh (..., k, n).  u and vh may both be NULL (singular values only). */
EM_API em_status em_linalg_svd(const em_tensor *x, bool full_matrices, em_tensor **u, em_tensor **s,
                               em_tensor **vh);

/* Minimum-norm least squares: out = argmin ||a @ out - b|| of smallest norm,
 * via the SVD, ignoring singular values <= rcond * max(s) (rcond < 0: the
 * default max(m, n) * eps, as NumPy).  a (..., m, n); b (..., m) when
 * b->ndim == a->ndim - 1, else (..., m, k); batch dims equal or broadcast.
 * residuals: squared residual norms (..., k) (or (..., 1) for a vector b)
 * when m > n and every batch item has rank n, else (..., 0); rank: int64
 * (...); s: singular values (..., min(m, n)).  Any of residuals, rank, s may
 * be NULL. */
EM_API em_status em_linalg_lstsq(const em_tensor *a, const em_tensor *b, double rcond, em_tensor **out,
                                 em_tensor **residuals, em_tensor **rank, em_tensor **s);

/* Moore–Penrose pseudo-inverse of x (..., m, n), out (..., n, m) =
 * v @ diag(1/s) @ u^T over singular values s > rtol * max(s) (rtol < 0: the
 * default max(m, n) * eps). */
EM_API em_status em_linalg_pinv(const em_tensor *x, double rtol, em_tensor **out);

/* Tall matrices (csrc/ember/ml/linalg_tall.c): one pass over the rows of
 * x (m, n) float32/float64, optional targets y (m,) or (m, k) and optional
 * row weights w (m,) float64, finite and >= 0 (NULL: all 1), any strides.
 * With a = [x | y] (p = n + k columns), mu the weighted column means of a
 * (zeros unless center) and a_c = a - mu:
 *  - tall_gram: gram (p, p) = sum_i w_i a_c,i a_c,i^T, the weighted, centred
 *    Gram matrix (blocks centred on their own means and merged pairwise, so
 *    a large mean costs no accuracy);
 *  - tall_qr: r (p, p) upper triangular with a diagonal >= 0 and
 *    r^T r = that Gram matrix, by Householder reflections on the rows
 *    sqrt(w_i) [1 | a_i] (backward stable however ill-conditioned x is).
 * For least squares, r[:n, :n] is the R factor of the centred, weighted x
 * and r[:n, n:] is Q^T of the centred, weighted y.  mean: (p,) float64.
 * New float64 tensors; the caller frees both.  The result does not depend
 * on the thread count.  NaN/inf in the data: EM_ERR_INVALID_ARG. */
EM_API em_status em_linalg_tall_gram(const em_tensor *x, const em_tensor *y, const em_tensor *w, bool center,
                                     em_tensor **gram, em_tensor **mean);
EM_API em_status em_linalg_tall_qr(const em_tensor *x, const em_tensor *y, const em_tensor *w, bool center,
                                   em_tensor **r, em_tensor **mean);
/* out (m, k) = x @ w^T + b for many rows x (m, d) and a few directions
 * w (k, d), 1 <= k <= 16 (a linear model's decision function, PCA's
 * projection): one streaming pass over x.  b (k,) or NULL; one float dtype;
 * rows of x and w contiguous.  The same bits for any thread count.  New
 * tensor; the caller frees it. */
EM_API em_status em_linalg_tall_project(const em_tensor *x, const em_tensor *w, const em_tensor *b, em_tensor **out);

#endif
