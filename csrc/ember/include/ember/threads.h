/* ember/threads.h — the thread pool (included by ember.h). */
#ifndef EMBER_THREADS_H
#define EMBER_THREADS_H

/* Most threads the pool will run. */
#define EM_MAX_THREADS 256

/* Sets how many threads ember's kernels use (n >= 1), or restores the
 * default with n = 0: the EMBER_NUM_THREADS environment variable if set,
 * else the CPUs this process may run on.  Results are bit-identical for any
 * thread count.  Call it while no other thread is inside an ember call.
 * EM_ERR_INVALID_ARG for n < 0 or n > EM_MAX_THREADS. */
EM_API em_status em_set_num_threads(int n);
/* The number of threads kernels use now (>= 1). */
EM_API int em_get_num_threads(void);

#endif
