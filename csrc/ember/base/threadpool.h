/* threadpool.h — libember's own thread pool (pthreads), internal API.
 *
 * Kernels split work by index, ggml-style: em__parallel_for cuts [0, n) into
 * contiguous ranges and calls fn(ctx, begin, end, tid) for each, with tid in
 * [0, nthreads).  A kernel that needs scratch memory allocates nthreads
 * slices up front (the "planned work buffer") and indexes them by tid.
 *
 * Determinism: how [0, n) is cut depends on the thread count, so fn must
 * give results that do not depend on where the cuts fall (elementwise work,
 * GEMM tiles whose K order is fixed).  A parallel reduction instead fixes
 * its chunks from n alone, runs em__parallel_for over chunk indices, writes
 * one partial per chunk and combines the partials in chunk order.  Which
 * ranges a tid gets varies from run to run (threads take ranges from a
 * shared counter, several each), so never accumulate results per tid.
 *
 * Oversubscription: the pool serves one parallel region at a time.  A call
 * made while another region runs (several Python threads calling ember at
 * once, or a kernel nested inside another) runs serially on the calling
 * thread with tid 0, so ember never runs more than em__threads() workers.
 *
 * Cost: a call with n <= grain or nthreads <= 1 runs fn inline at once (no
 * lock, no atomic), so small ops can call em__parallel_for unconditionally;
 * choose grain so that one range is worth waking a thread for (tens of
 * microseconds of work: tens of thousands of cheap elements).  The pool
 * design, the environment variable and fork behaviour: docs/threads.md. */
#ifndef EMBER_THREADPOOL_H
#define EMBER_THREADPOOL_H

#include <stdint.h>

typedef void (*em__range_fn)(void *ctx, int64_t begin, int64_t end, int tid);

/* Threads the next parallel region may use (>= 1): em_set_num_threads(), else
 * EMBER_NUM_THREADS, else the CPUs this process may run on. */
int em__threads(void);

/* Runs fn over [0, n) in ranges of at least `grain` items (the last may be
 * shorter) on at most nthreads threads, and returns when all are done.
 * nthreads is what the caller sized its scratch for (normally em__threads()
 * read just before); tid < nthreads always.  n <= 0 does nothing. */
void em__parallel_for(int64_t n, int64_t grain, int nthreads, em__range_fn fn, void *ctx);

/* em__iter_run (internal.h) in parallel: the iteration space, in C order,
 * is cut into ranges of at least grain elements, each run as inner loops
 * over its part of the rows.  Only for elementwise loops (each element of
 * the output depends on the same element of the inputs alone), whose results
 * therefore do not depend on the cuts. */
struct em__iter;
void em__iter_run_parallel(const struct em__iter *it, int64_t grain,
                           void (*loop)(int64_t n, char **p, const int64_t *s, void *ctx), void *ctx);

#endif
