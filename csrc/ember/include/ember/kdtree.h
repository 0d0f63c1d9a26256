/* ember/kdtree.h — KD-tree for exact k-nearest-neighbour queries (included by ember.h).
 *
 * A built tree is plain arrays (em_kdtree), so the Python layer can pickle it
 * and hand it back to em_kdtree_query with the training points. */
#ifndef EMBER_KDTREE_H
#define EMBER_KDTREE_H

/* Node i covers the training points order[start[i] .. end[i]); it is a leaf
 * when left[i] == -1, else its first half (by X[., dim[i]]) is left[i], with
 * values <= split[i], the rest right[i], with values >= split[i]; children
 * have larger indices than their parent.  All fields are (n_nodes,)
 * int64 tensors except order, (n,) int64, and split, (n_nodes,) float64; all
 * owned by the struct; free them with em_kdtree_free. */
typedef struct em_kdtree {
    int64_t n_nodes;
    em_tensor *order, *start, *end, *left, *right, *dim; /* int64 */
    em_tensor *split;                                    /* float64 */
} em_kdtree;

/* Releases the tensors of t (not t itself) and zeroes it; NULL is a no-op. */
EM_API void em_kdtree_free(em_kdtree *t);

/* Builds a KD-tree over the rows of X: (n, d) float64, finite, any strides,
 * n >= 1.  Each node splits at the median position of its widest dimension until it
 * holds at most leaf_size (>= 1) points or all its points are equal.  New tensors in *out (free with
 * em_kdtree_free). */
EM_API em_status em_kdtree_build(const em_tensor *X, int64_t leaf_size, em_kdtree *out);

/* For each row q of Q, the k training rows x nearest in Euclidean distance
 * sqrt(sum_j (q_j - x_j)^2), nearest first, ties by lower row index.  X must
 * be the array t was built on; Q: (m, d) float64, any strides; 1 <= k <= n.
 * New (m, k) float64 distances in *dist and int64 indices in *idx (the caller
 * frees both). */
EM_API em_status em_kdtree_query(const em_kdtree *t, const em_tensor *X, const em_tensor *Q, int64_t k,
                                 em_tensor **dist, em_tensor **idx);

/* The same result as em_kdtree_query (k nearest rows of X to each row of Q,
 * exact Euclidean distances, nearest first, ties by lower row index) by
 * brute force: blocked GEMMs of Q against X feed a per-query heap
 * (csrc/ember/ml/knn.c).  X (n, d), Q (m, d): float64 with contiguous rows,
 * finite; 1 <= k <= n.  New (m, k) float64 *dist and int64 *idx (the caller
 * frees both). */
EM_API em_status em_knn_brute(const em_tensor *X, const em_tensor *Q, int64_t k, em_tensor **dist, em_tensor **idx);

#endif
