/* ember/tree.h — CART decision trees and random forests (included by ember.h).
 *
 * A fitted tree is plain arrays (em_tree), so the Python layer can pickle
 * it, export it (ONNX TreeEnsemble) and hand it back to em_tree_apply /
 * em_tree_predict without any hidden state. */
#ifndef EMBER_TREE_H
#define EMBER_TREE_H

typedef enum em_tree_criterion {
    EM_TREE_GINI = 0,          /* classification: 1 - sum_k p_k^2 */
    EM_TREE_ENTROPY = 1,       /* classification: -sum_k p_k log2 p_k */
    EM_TREE_SQUARED_ERROR = 2, /* regression: weighted variance of y */
} em_tree_criterion;

typedef struct em_tree_options {
    em_tree_criterion criterion;
    int64_t max_depth;          /* < 0: unlimited */
    int64_t min_samples_split;  /* >= 2 */
    int64_t min_samples_leaf;   /* >= 1 */
    int64_t max_features;       /* features tried per split, 1..n_features; <= 0: all */
    double min_impurity_decrease; /* weighted impurity decrease a split must reach */
    uint64_t seed;              /* feature order and sampling (Philox) */
} em_tree_options;

/* Defaults: gini, unlimited depth, min_samples_split 2, min_samples_leaf 1,
 * all features, no minimum decrease, seed 0. */
EM_API em_tree_options em_tree_default_options(void);

/* A fitted tree: node i is a leaf when left[i] == -1.  Internal nodes send a
 * sample x to left[i] when x[feature[i]] <= threshold[i] (x compared as
 * float32, as fitted), else to right[i].  value is (n_nodes, n_values): the
 * weighted class counts (classification; n_values = n_classes) or the
 * weighted mean target (regression; n_values = 1) of the training samples
 * that reached the node.  Every field is an int64 or float64 tensor owned by
 * the struct; free them all with em_tree_free. */
typedef struct em_tree {
    int64_t n_nodes, n_values, max_depth;
    em_tensor *left, *right, *feature;       /* int64 (n_nodes,) */
    em_tensor *threshold, *impurity;         /* float64 (n_nodes,) */
    em_tensor *n_samples;                    /* int64 (n_nodes,) */
    em_tensor *weighted_n_samples;           /* float64 (n_nodes,) */
    em_tensor *value;                        /* float64 (n_nodes, n_values) */
} em_tree;

/* Releases the tensors of t (not t itself) and zeroes it; NULL is a no-op. */
EM_API void em_tree_free(em_tree *t);

/* Grows a CART tree (best split per node over max_features randomly ordered
 * features; threshold = midpoint of consecutive distinct float32 values).
 * X: (n, d) float32, any strides.  y: (n,) int64 class indices in [0,
 * n_classes) for gini/entropy, float64 targets for squared_error (then
 * n_classes is ignored).  sample_weight: (n,) float64 >= 0 or NULL (all 1).
 * On success *out holds new tensors the caller frees with em_tree_free. */
EM_API em_status em_tree_fit(const em_tensor *X, const em_tensor *y, const em_tensor *sample_weight,
                             int64_t n_classes, const em_tree_options *opt, em_tree *out);

/* leaf[i] = index of the leaf sample X[i] reaches.  X: (n, d) float32 with
 * d > every feature index of t.  New int64 (n,) tensor in *out. */
EM_API em_status em_tree_apply(const em_tree *t, const em_tensor *X, em_tensor **out);

/* A random forest: n_trees trees grown in parallel on the thread pool.
 * Tree b uses seed (opt->seed, b): with bootstrap, its sample weights are
 * sample_weight times the counts of max_samples draws with replacement.
 * The trees, and so the forest, are identical for any thread count.
 * trees: caller array of n_trees em_tree, filled on success (free each with
 * em_tree_free); on failure none is left allocated. */
EM_API em_status em_forest_fit(const em_tensor *X, const em_tensor *y, const em_tensor *sample_weight,
                               int64_t n_classes, const em_tree_options *opt, int64_t n_trees, bool bootstrap,
                               int64_t max_samples, em_tree *trees);

/* Forest prediction: out[i, :] = (1 / n_trees) * sum over b = 0 .. n_trees-1
 * (in that order) of the value row of the leaf X[i] reaches in trees[b];
 * with normalize, each leaf row is first divided by its sum (class shares,
 * as a classifier's predict_proba; a row summing to 0 stays 0).  Only the
 * left, right, feature, threshold and value fields of the trees are read, and
 * every tree must have the same n_values.  Rows run in parallel, each row
 * summing its trees in the fixed order, so the result is bit-identical for
 * any thread count.  X: (n, d) float32, d > every feature index.  New
 * float64 (n, n_values) tensor in *out.  Packs the trees (em_forest_pack)
 * for this one call; a caller predicting repeatedly packs once and calls
 * em_forest_packed_predict.  A node reached from two parents (not a tree)
 * is an error. */
EM_API em_status em_forest_predict(const em_tree *trees, int64_t n_trees, const em_tensor *X, bool normalize,
                                   em_tensor **out);

/* A forest packed for prediction (em_forest_pack): all trees' nodes in one
 * int32 (n_nodes, 4) tensor, tree b's nodes at rows offsets[b] ..
 * offsets[b+1] - 1 in pre-order (the left child of node i is node i + 1).
 * Row layout: (threshold as float32 bits, feature, right child, leaf row);
 * internal nodes have leaf row -1 and threshold the largest float32 <= the
 * tree's float64 threshold (the same comparison for float32 x); a leaf has a
 * NaN threshold, feature 0 and right child itself, and its value row
 * (normalised to class shares if asked) is values[leaf row].  Packing once
 * (at fit) and predicting from the pack saves the per-call conversion, and
 * the layout is what the branch-free walk of em_forest_packed_predict needs.
 * Plain tensors, so the Python layer can keep (and pickle) them as arrays. */
typedef struct em_forest_packed {
    int64_t n_trees, n_values, n_features, n_nodes, n_leaves;
    em_tensor *nodes;   /* int32 (n_nodes, 4) */
    em_tensor *offsets; /* int64 (n_trees + 1,) */
    em_tensor *values;  /* float64 (n_leaves, n_values) */
} em_forest_packed;

/* Packs trees[0 .. n_trees-1] (checked as for em_forest_predict, for rows of
 * n_features columns; at most 2^31 - 1 nodes per tree and leaves in all).
 * On success *out holds new tensors freed with em_forest_packed_free. */
EM_API em_status em_forest_pack(const em_tree *trees, int64_t n_trees, int64_t n_features, bool normalize,
                                em_forest_packed *out);

/* Releases the tensors of f (not f itself) and zeroes it; NULL is a no-op. */
EM_API void em_forest_packed_free(em_forest_packed *f);

/* em_forest_predict on a packed forest: out[i, :] = (1 / n_trees) * sum
 * over b in order of values[leaf row X[i] reaches in tree b], the same bits
 * as em_forest_predict on the unpacked trees, for any thread count.
 * f->n_features must equal X's columns.  The tensors and offsets are checked
 * up front (O(n_trees)); the nodes on the paths the rows take as they are
 * walked (a full O(n_nodes) pass per call cost more than the walk on large
 * forests): a node naming a column >= X's, a child outside its tree or before
 * its parent, or a leaf that does not loop on itself or names no values row
 * is an error naming the tree and node, and the walk never reads outside the
 * pack or X on the way.  Malformed nodes no row reaches go unnoticed.  Reads
 * f only (many threads may share one pack).  New float64 (n, n_values)
 * tensor in *out. */
EM_API em_status em_forest_packed_predict(const em_forest_packed *f, const em_tensor *X, em_tensor **out);

#endif
