/* Thread pool: see threadpool.h.  (Serial stand-in until the pthread pool
 * lands: every region runs on the caller as tid 0.) */
#include "threadpool.h"

#include "../internal.h"

#include <stdatomic.h>

static atomic_int requested; /* 0 = default */

int em__threads(void) {
    int n = atomic_load(&requested);
    return n > 0 ? n : 1;
}

void em__parallel_for(int64_t n, int64_t grain, int nthreads, em__range_fn fn, void *ctx) {
    if (n > 0) fn(ctx, 0, n, 0);
}

em_status em_set_num_threads(int n) {
    if (n < 0 || n > EM_MAX_THREADS)
        return em__error(EM_ERR_INVALID_ARG, "em_set_num_threads: n must be in [0, %d], got %d", EM_MAX_THREADS, n);
    atomic_store(&requested, n);
    return EM_OK;
}

int em_get_num_threads(void) { return em__threads(); }
