/* ember/kmeans.h — k-means clustering (included by ember.h).
 *
 * The iterations of k-means from given starting centres (the seeding, e.g.
 * k-means++, and the choice among several runs live with the caller), by
 * Lloyd's algorithm or by Elkan's (the same iterates, fewer distances: it
 * keeps per-sample bounds and skips centres the triangle inequality rules
 * out).  Both follow scikit-learn's KMeans step for step: assignment, empty
 * clusters moved to the samples farthest from their centres, weighted means,
 * stop on unchanged labels or on a total squared centre shift <= tol, then a
 * last assignment to the final centres.
 *
 * X is float32 or float64, C-contiguous and finite; the weights and centres
 * have X's dtype.  Work is split into fixed chunks of samples whose partial
 * sums are combined in chunk order, so the results are bit-identical for any
 * thread count.  Lloyd's distances come from one GEMM per chunk,
 * |c|^2 - 2 x.c (|x|^2 does not change the argmin); Elkan's are direct. */
#ifndef EMBER_KMEANS_H
#define EMBER_KMEANS_H

typedef enum em_kmeans_algorithm { EM_KMEANS_LLOYD = 0, EM_KMEANS_ELKAN = 1 } em_kmeans_algorithm;

typedef struct em_kmeans_options {
    em_kmeans_algorithm algorithm;
    int64_t max_iter; /* >= 1 */
    double tol;       /* >= 0: stop once sum_j ||c_j(new) - c_j(old)||^2 <= tol (absolute; scikit-learn
                         passes its tol times the mean variance of X's columns) */
} em_kmeans_options;

/* Lloyd, 300 iterations, tol 0. */
EM_API em_kmeans_options em_kmeans_default_options(void);

/* Runs k-means on X (n, d) from init (k, d), 1 <= k <= n, with
 * sample_weight (n,) >= 0 (NULL: all 1).  Returns new tensors the caller
 * frees with em_tensor_free: *centers (k, d) in X's dtype, *labels (n,)
 * int64 (the nearest centre of each sample under the final centres); and
 * *inertia = sum_i w_i ||x_i - c_{label_i}||^2 (computed exactly, in double),
 * *n_iter the iterations run (max_iter when it did not converge). */
EM_API em_status em_kmeans_fit(const em_tensor *X, const em_tensor *sample_weight, const em_tensor *init,
                               const em_kmeans_options *opt, em_tensor **centers, em_tensor **labels,
                               double *inertia, int64_t *n_iter);

/* Nearest centre of each row of X (n, d) among centers (k, d) (same dtype,
 * k >= 1), by the GEMM distances of the fit (ties: the lower index).  New
 * *labels (n,) int64 and, when sq_dist is not NULL, new *sq_dist (n,) in
 * X's dtype: ||x_i - c_{label_i}||^2 computed exactly.  The caller frees
 * both. */
EM_API em_status em_kmeans_predict(const em_tensor *X, const em_tensor *centers, em_tensor **labels,
                                   em_tensor **sq_dist);

/* All squared Euclidean distances of the rows of X (n, d) to centers (k, d)
 * (same dtype, k >= 1), in the GEMM form |x|^2 + |c|^2 - 2 x.c clamped at
 * 0 (as scikit-learn's euclidean_distances): new *sq_dist (n, k) in X's
 * dtype, which the caller frees. */
EM_API em_status em_kmeans_distances(const em_tensor *X, const em_tensor *centers, em_tensor **sq_dist);

/* Greedy k-means++ seeding (Arthur & Vassilvitskii, as scikit-learn's
 * kmeans_plusplus): the first centre is row i with probability
 * w_i / sum(w); each next one is the best of n_local_trials candidates
 * (<= 0: 2 + floor(ln n_clusters); at most 256) drawn with probability
 * w_i D_i / sum(w D), D_i the squared distance of row i to its nearest centre
 * so far: the candidate leaving the smallest sum_i w_i min(D_i, d(x_i, cand))
 * (the first on ties).  Distances in the GEMM form |x|^2 + |c|^2 - 2 x.c,
 * clamped at 0.  X (n, d) float32 or float64, C-contiguous, finite;
 * sample_weight (n,) of X's dtype, >= 0, or NULL (all 1);
 * 1 <= n_clusters <= n.  The uniforms come from gen (one float64 draw for the
 * first centre, then one draw of n_local_trials per centre), so the result
 * depends only on the data and the generator's state, never on the thread
 * count; on failure gen is left as it was.  New *centers (n_clusters, d) in
 * X's dtype and, when indices is not NULL, new *indices (n_clusters,) int64
 * (the rows taken); the caller frees both. */
EM_API em_status em_kmeans_plusplus(const em_tensor *X, const em_tensor *sample_weight, int64_t n_clusters,
                                    int64_t n_local_trials, em_generator *gen, em_tensor **centers,
                                    em_tensor **indices);

#endif
