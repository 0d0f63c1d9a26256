/* The bounded max-heap of the k nearest candidates, shared by the KD-tree
 * (kdtree.c) and the brute-force search (knn.c) so both order ties the same
 * way: a larger distance, or an equal one with a larger index, is worse. */
#ifndef EMBER_ML_KNN_HEAP_H
#define EMBER_ML_KNN_HEAP_H

#include <stdbool.h>
#include <stdint.h>

static inline bool em__knn_worse(double da, int64_t ia, double db, int64_t ib) {
    return da > db || (da == db && ia > ib);
}

/* Restores the heap property below i in the heap (hd, hi) of n entries. */
static inline void em__knn_sift_down(double *hd, int64_t *hi, int64_t n, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && em__knn_worse(hd[l], hi[l], hd[w], hi[w])) w = l;
        if (r < n && em__knn_worse(hd[r], hi[r], hd[w], hi[w])) w = r;
        if (w == i) return;
        double td = hd[i];
        int64_t ti = hi[i];
        hd[i] = hd[w], hi[i] = hi[w], hd[w] = td, hi[w] = ti;
        i = w;
    }
}

#endif
