/* ember/hgb.h — histogram gradient boosting (included by ember.h).
 *
 * The building blocks of scikit-learn-style HistGradientBoosting: features
 * are binned once into uint8 codes (quantile thresholds, NaN in a bin of its
 * own), then each boosting step grows one tree on the codes from per-sample
 * gradients and hessians, best-first by gain.  The boosting loop itself
 * (losses, baseline, early stopping) lives with the caller.  A fitted tree is
 * plain arrays (em_hgb_tree) so the Python layer can pickle it and hand it
 * back to em_hgb_predict.  All results are identical for any thread count. */
#ifndef EMBER_HGB_H
#define EMBER_HGB_H

typedef struct em_hgb_options {
    int64_t max_leaf_nodes;      /* >= 2; <= 0: unlimited */
    int64_t max_depth;           /* edges from root to deepest leaf; < 0: unlimited */
    int64_t min_samples_leaf;    /* >= 1 */
    double l2_regularization;    /* >= 0, added to every hessian sum */
    double min_hessian_to_split; /* each child's hessian sum must reach it */
    double shrinkage;            /* learning rate > 0, applied to the leaf values */
} em_hgb_options;

/* Defaults (scikit-learn's): 31 leaves, unlimited depth, min_samples_leaf 20,
 * no l2, min_hessian_to_split 1e-3, shrinkage 0.1. */
EM_API em_hgb_options em_hgb_default_options(void);

/* Bin thresholds of each feature of X: (n, d) float64, any strides, NaN
 * allowed (ignored).  For a feature with m <= max_bins distinct values the
 * thresholds are the midpoints of consecutive distinct values (m - 1 of them);
 * otherwise the max_bins - 1 "midpoint" percentiles at 100 j / max_bins,
 * j = 1 .. max_bins - 1, clipped to 1e300.  max_bins in [2, 255].
 * thresholds: new (d, max_bins - 1) float64 tensor, row f padded with +inf
 * after its n_thresholds[f] values; n_thresholds: new (d,) int64 tensor.
 * The caller frees both with em_tensor_free. */
EM_API em_status em_hgb_bin_fit(const em_tensor *X, int64_t max_bins, em_tensor **thresholds,
                                em_tensor **n_thresholds);

/* codes[f, i] = #{t < X[i, f]} over the thresholds of feature f (so
 * X[i, f] <= thresholds[f, b] iff codes[f, i] <= b), or max_bins for NaN.
 * X: (n, d) float64, any strides; thresholds, n_thresholds as from
 * em_hgb_bin_fit.  New contiguous (d, n) uint8 tensor (feature-major: the
 * transpose of X's layout) in *codes; the caller frees it. */
EM_API em_status em_hgb_bin_apply(const em_tensor *X, const em_tensor *thresholds, const em_tensor *n_thresholds,
                                  int64_t max_bins, em_tensor **codes);

/* A fitted tree: node i is a leaf when left[i] == -1.  An internal node sends
 * a raw sample x to left[i] when x[feature[i]] <= threshold[i], or, when it is
 * NaN, when missing_left[i] != 0; a binned one when its code <= bin_threshold[i]
 * (the missing code follows missing_left).  value[i] = -shrinkage * G / (H + l2)
 * over the node's training samples (the leaf output); count[i] is how many
 * reached it, gain[i] the split's gain (0 at leaves).  Children have larger
 * indices than their parent.  Every field is an int64 or float64 (n_nodes,)
 * tensor owned by the struct; free them all with em_hgb_tree_free. */
typedef struct em_hgb_tree {
    int64_t n_nodes, n_leaves, max_depth;
    em_tensor *left, *right, *feature, *bin_threshold, *missing_left, *count; /* int64 */
    em_tensor *threshold, *value, *gain;                                      /* float64 */
} em_hgb_tree;

/* Releases the tensors of t (not t itself) and zeroes it; NULL is a no-op. */
EM_API void em_hgb_tree_free(em_hgb_tree *t);

/* Grows one tree best-first: the leaf whose best split has the largest gain
 * GL^2/(HL + l2) + GR^2/(HR + l2) - G^2/(H + l2) > 0 is split next, until
 * max_leaf_nodes leaves or no leaf can be split.  Missing values go to the
 * side that scores best when the training codes of that feature hold any,
 * else to the child with more samples.
 * codes: contiguous (d, n) uint8 from em_hgb_bin_apply with the same
 * thresholds / n_thresholds / max_bins.  grad, hess: contiguous (n,) float64;
 * hess NULL means every hessian is 1.  On success *out holds new tensors (free
 * with em_hgb_tree_free) and, when train_pred is not NULL, *train_pred a new
 * (n,) float64 tensor holding the value of the leaf of each training sample. */
EM_API em_status em_hgb_tree_grow(const em_tensor *codes, const em_tensor *thresholds,
                                  const em_tensor *n_thresholds, int64_t max_bins, const em_tensor *grad,
                                  const em_tensor *hess, const em_hgb_options *opt, em_hgb_tree *out,
                                  em_tensor **train_pred);

/* raw[i, outputs[t]] += value of the leaf that sample i reaches in tree t, for
 * t = 0 .. T-1 in order.  The T trees are concatenated in nodes (child indices
 * global), tree t rooted at roots[t]; only left, right, feature,
 * bin_threshold, missing_left, threshold and value are read.  X is either raw
 * (n, d) float64 (any strides) or binned (d, n) contiguous uint8 codes whose
 * missing code is max_bins.  roots, outputs: contiguous (T,) int64.
 * raw: contiguous (n, K) float64, updated in place (owned by the caller). */
EM_API em_status em_hgb_predict(const em_hgb_tree *nodes, const em_tensor *roots, const em_tensor *outputs,
                                const em_tensor *X, int64_t max_bins, em_tensor *raw);

#endif
