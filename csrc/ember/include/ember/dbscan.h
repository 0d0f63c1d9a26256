/* ember/dbscan.h — DBSCAN clustering (included by ember.h).
 *
 * Density-based clustering (Ester, Kriegel, Sander, Xu, KDD'96) with the
 * Euclidean metric, as scikit-learn's DBSCAN: the neighbours of a sample are
 * the samples within eps of it (itself included); it is a core sample when
 * the sum of its neighbours' weights is >= min_samples; clusters are the
 * connected core samples plus the samples within eps of one of them, numbered
 * in the order of their first core sample by index; a non-core sample within
 * eps of several clusters joins the lowest-numbered; the rest is noise (-1).
 *
 * Neighbourhoods: ||x_i - x_j||^2 is summed feature by feature in ascending
 * order, in double ((x_if - x_jf)^2 each, no fused multiply-add), and
 * compared with eps^2 by <=, as scikit-learn's KD-tree does, so samples at
 * exactly eps agree with it.  The candidate pairs come from a sweep along
 * the feature of widest range (pairs farther apart than eps on it are
 * skipped, exactly); the rest is brute force, in blocks of queries run in
 * parallel.  Results do not depend on the thread count. */
#ifndef EMBER_DBSCAN_H
#define EMBER_DBSCAN_H

/* Clusters the rows of X (n, d): float32 or float64, C-contiguous, finite
 * (n may be 0).  eps > 0 (+inf: every pair), min_samples >= 1 and finite;
 * sample_weight (n,) float32 or float64, finite (negative weights allowed,
 * as scikit-learn), or NULL (all 1).  New *labels (n,) int64 (cluster
 * number or -1) and new *core_indices (n_core,) int64, ascending; the
 * caller frees both.  Memory: the neighbour lists of all samples are kept
 * (8 bytes per neighbour pair). */
EM_API em_status em_dbscan_fit(const em_tensor *X, const em_tensor *sample_weight, double eps, double min_samples,
                               em_tensor **labels, em_tensor **core_indices);

#endif
