/* Thread pool: see threadpool.h and docs/threads.md.
 *
 * Workers are started by the first region that wants them and park between
 * regions: each spins briefly on its own assignment word (a region that
 * follows closely, as in a sequence of large eager ops, then costs no system
 * call), then sleeps on one condition variable.  The caller that owns a
 * region runs a share of it as tid 0, so a region of k threads wakes k - 1
 * workers.  Ranges are handed out by an atomic counter, so a worker delayed
 * by another process (this host is shared) does not hold the others back,
 * and a worker that has not started when the owner has taken the last range
 * is left out: the owner closes the region and waits only for the workers
 * that joined it, never for a wake-up.
 *
 * The pool is process infrastructure, not a caller object: its bookkeeping
 * lives in static storage (never em__alloc, so em_allocated_bytes() does not
 * see it), the workers are joined at exit, and a forked child starts with no
 * workers and builds its own on demand. */
#include "threadpool.h"

#include "../internal.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

/* Spin iterations before a worker sleeps (a pause is ~10-140 cycles, so a
 * few tens of microseconds) and before the owner sleeps on the last ones. */
#define WORKER_SPIN 4000
#define OWNER_SPIN 4000
/* Ranges per thread a region is cut into (at least `grain` items each):
 * enough that a thread slowed by the shared host leaves its tail to others. */
#define RANGES_PER_THREAD 4

typedef struct {
    _Alignas(64) _Atomic uint64_t go; /* region number assigned to this worker */
    uint64_t born;                    /* go when the thread was started */
    pthread_t th;
} worker;

static struct {
    /* guards the sleep/wake handshakes and the worker list; never held
     * while a range runs */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* workers: a new assignment or a quit request */
    pthread_cond_t done; /* the owner: the last worker finished */
    int sleepers;        /* workers waiting on `wake` */
    bool owner_waits;

    atomic_int busy;     /* 1 while a region runs (or after shutdown) */
    int nworkers;        /* started workers: ids 0 .. nworkers - 1 = tids 1 .. */
    atomic_int keep;     /* workers with id >= keep exit */
    uint64_t region;     /* number of the last region handed out */

    /* the running region: written by its owner before it publishes `go` */
    em__range_fn fn;
    void *ctx;
    int64_t n, chunk, nchunks;
    atomic_llong next;   /* next chunk index to take */
    /* region tag (high 32 bits), CLOSED, and the number of workers that
     * joined (low bits): a worker joins with a CAS that checks the tag of the
     * region it was assigned and that the owner has not closed it */
    _Atomic uint64_t entry;
    atomic_int finished; /* joined workers done */

    worker w[EM_MAX_THREADS];
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static atomic_int requested;     /* em_set_num_threads; 0 = default */
static atomic_int default_count; /* 0 = not computed yet */

/* ---- thread count ------------------------------------------------------- */

static int cpus_available(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int c = CPU_COUNT(&set);
        if (c > 0) return c;
    }
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (int)(c < EM_MAX_THREADS ? c : EM_MAX_THREADS) : 1;
}

/* EMBER_NUM_THREADS when it is a whole number >= 1 (clamped to
 * EM_MAX_THREADS), else the CPUs of this process's affinity mask. */
static int compute_default(void) {
    const char *env = getenv("EMBER_NUM_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\n') end++;
        if (*end == '\0' && v >= 1) return v < EM_MAX_THREADS ? (int)v : EM_MAX_THREADS;
    }
    int c = cpus_available();
    return c < EM_MAX_THREADS ? c : EM_MAX_THREADS;
}

int em__threads(void) {
    int n = atomic_load_explicit(&requested, memory_order_relaxed);
    if (n > 0) return n;
    n = atomic_load_explicit(&default_count, memory_order_relaxed);
    if (n > 0) return n;
    n = compute_default(); /* racing first calls store the same value */
    atomic_store_explicit(&default_count, n, memory_order_relaxed);
    return n;
}

em_status em_set_num_threads(int n) {
    if (n < 0 || n > EM_MAX_THREADS)
        return em__error(EM_ERR_INVALID_ARG, "em_set_num_threads: n must be in [0, %d], got %d", EM_MAX_THREADS, n);
    if (n == 0) atomic_store(&default_count, compute_default()); /* the environment may have changed */
    atomic_store(&requested, n);
    /* the pool itself is resized by the next region (it holds the pool) */
    return EM_OK;
}

int em_get_num_threads(void) { return em__threads(); }

/* ---- workers ------------------------------------------------------------ */

#define CLOSED (UINT64_C(1) << 31)
#define JOINED_MASK (CLOSED - 1)
static uint64_t tag_of(uint64_t region) { return (region & 0xffffffffu) << 32; }

/* Joins region r if it is still open (else it is over or another one runs:
 * touch nothing of it). */
static bool join(uint64_t r) {
    uint64_t e = atomic_load_explicit(&pool.entry, memory_order_acquire);
    while ((e & ~JOINED_MASK) == tag_of(r))
        if (atomic_compare_exchange_weak_explicit(&pool.entry, &e, e + 1, memory_order_acq_rel, memory_order_acquire))
            return true;
    return false;
}

/* Takes chunks until none is left. */
static void run_chunks(int tid) {
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&pool.next, 1, memory_order_relaxed);
        if (c >= pool.nchunks) return;
        int64_t b = c * pool.chunk, e = b + pool.chunk < pool.n ? b + pool.chunk : pool.n;
        pool.fn(pool.ctx, b, e, tid);
    }
}

static void *worker_main(void *arg) {
    int id = (int)(intptr_t)arg;
    worker *me = &pool.w[id];
    uint64_t seen = me->born; /* not go: a region may be assigned before this thread runs */
    for (;;) {
        uint64_t g = seen;
        for (int i = 0; i < WORKER_SPIN; i++) {
            g = atomic_load_explicit(&me->go, memory_order_acquire);
            if (g != seen || id >= atomic_load_explicit(&pool.keep, memory_order_relaxed)) break;
            CPU_RELAX();
        }
        if (g == seen) {
            pthread_mutex_lock(&pool.mu);
            pool.sleepers++;
            while ((g = atomic_load_explicit(&me->go, memory_order_acquire)) == seen &&
                   id < atomic_load_explicit(&pool.keep, memory_order_relaxed))
                pthread_cond_wait(&pool.wake, &pool.mu);
            pool.sleepers--;
            pthread_mutex_unlock(&pool.mu);
        }
        if (g == seen) return NULL; /* asked to quit, and no region assigned */
        seen = g;
        if (!join(g)) continue;
        run_chunks(id + 1);
        atomic_fetch_add_explicit(&pool.finished, 1, memory_order_acq_rel);
        pthread_mutex_lock(&pool.mu);
        if (pool.owner_waits) pthread_cond_signal(&pool.done);
        pthread_mutex_unlock(&pool.mu);
    }
}

/* Starts or stops workers so that want of them exist; the caller holds
 * `busy`, so no region runs meanwhile.  Returns the number that exist (fewer
 * than want if the system refuses threads). */
static int resize(int want) {
    if (want > pool.nworkers) {
        /* workers block every signal: they belong to the threads that use ember */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        atomic_store(&pool.keep, want);
        while (pool.nworkers < want) {
            worker *w = &pool.w[pool.nworkers];
            w->born = atomic_load_explicit(&w->go, memory_order_relaxed);
            if (pthread_create(&w->th, NULL, worker_main, (void *)(intptr_t)pool.nworkers) != 0) break;
            pool.nworkers++;
        }
        atomic_store(&pool.keep, pool.nworkers);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    } else if (want < pool.nworkers) {
        pthread_mutex_lock(&pool.mu);
        atomic_store(&pool.keep, want);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.mu);
        for (int i = want; i < pool.nworkers; i++) pthread_join(pool.w[i].th, NULL);
        pool.nworkers = want;
    }
    return pool.nworkers;
}

void em__parallel_for(int64_t n, int64_t grain, int nthreads, em__range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (n <= grain || nthreads <= 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    int total = em__threads();
    int k = nthreads < total ? nthreads : total;
    int64_t ranges = (n + grain - 1) / grain;
    if (ranges < k) k = (int)ranges;
    int expected = 0;
    if (k <= 1 || !atomic_compare_exchange_strong_explicit(&pool.busy, &expected, 1, memory_order_acquire,
                                                           memory_order_relaxed)) {
        fn(ctx, 0, n, 0); /* nested, or another thread's region runs: no oversubscription */
        return;
    }
    int have = resize(total - 1);
    if (k > have + 1) k = have + 1;
    if (k <= 1) {
        atomic_store_explicit(&pool.busy, 0, memory_order_release);
        fn(ctx, 0, n, 0);
        return;
    }
    int64_t chunk = (n + (int64_t)k * RANGES_PER_THREAD - 1) / ((int64_t)k * RANGES_PER_THREAD);
    if (chunk < grain) chunk = grain;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.chunk = chunk;
    pool.nchunks = (n + chunk - 1) / chunk;
    atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.finished, 0, memory_order_relaxed);
    pthread_mutex_lock(&pool.mu);
    uint64_t r = ++pool.region;
    atomic_store_explicit(&pool.entry, tag_of(r), memory_order_release);
    for (int i = 0; i < k - 1; i++) atomic_store_explicit(&pool.w[i].go, r, memory_order_release);
    if (pool.sleepers) pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);

    run_chunks(0);

    int joined = (int)(atomic_fetch_or_explicit(&pool.entry, CLOSED, memory_order_acq_rel) & JOINED_MASK);
    for (int i = 0; i < OWNER_SPIN && atomic_load_explicit(&pool.finished, memory_order_acquire) < joined; i++)
        CPU_RELAX();
    if (atomic_load_explicit(&pool.finished, memory_order_acquire) < joined) {
        pthread_mutex_lock(&pool.mu);
        pool.owner_waits = true;
        while (atomic_load_explicit(&pool.finished, memory_order_acquire) < joined)
            pthread_cond_wait(&pool.done, &pool.mu);
        pool.owner_waits = false;
        pthread_mutex_unlock(&pool.mu);
    }
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
}

/* ---- exit and fork ------------------------------------------------------ */

/* At exit: join the workers so nothing of theirs outlives the process's
 * last destructor (valgrind sees no thread stacks).  If a region still runs
 * (a thread other than the exiting one is inside ember), leave it alone;
 * later regions, from other destructors, run serially. */
__attribute__((destructor)) static void pool_shutdown(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&pool.busy, &expected, 1)) return;
    resize(0); /* busy stays 1: the pool is closed */
}

/* fork() copies only the calling thread.  Holding the mutex across fork
 * keeps its state consistent; the child then forgets the workers it does
 * not have (their stacks are not mapped there: nothing to free) and starts
 * its own on demand. */
static void before_fork(void) { pthread_mutex_lock(&pool.mu); }
static void after_fork_parent(void) { pthread_mutex_unlock(&pool.mu); }
static void after_fork_child(void) {
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.sleepers = 0;
    pool.owner_waits = false;
    pool.nworkers = 0;
    atomic_store(&pool.keep, 0);
    atomic_store(&pool.entry, CLOSED);
    atomic_store(&pool.busy, 0); /* a region the parent ran on another thread has no owner here */
    atomic_store(&default_count, 0); /* the child may have another affinity */
}

__attribute__((constructor)) static void pool_init(void) {
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* ---- parallel strided iteration ---------------------------------------- */

typedef struct {
    const em__iter *it;
    em__loop_fn loop;
    void *ctx;
} iter_job;

/* Runs the flat elements [b, e) of the iteration: a partial first row, whole
 * rows, a partial last row. */
static void iter_range(void *vjob, int64_t b, int64_t e, int tid) {
    const iter_job *j = vjob;
    const em__iter *it = j->it;
    int nd = it->ndim, nops = it->nops;
    int64_t inner = it->shape[nd - 1], idx[EM_MAX_DIMS], s[EM_ITER_MAX_OPS];
    int64_t r = b;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = r % it->shape[d];
        r /= it->shape[d];
    }
    for (int k = 0; k < nops; k++) s[k] = it->strides[k][nd - 1];
    while (b < e) {
        char *p[EM_ITER_MAX_OPS];
        for (int k = 0; k < nops; k++) {
            char *q = it->base[k];
            for (int d = 0; d < nd; d++) q += idx[d] * it->strides[k][d];
            p[k] = q;
        }
        int64_t m = inner - idx[nd - 1] < e - b ? inner - idx[nd - 1] : e - b;
        j->loop(m, p, s, j->ctx);
        b += m;
        idx[nd - 1] += m;
        for (int d = nd - 1; d > 0 && idx[d] == it->shape[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

void em__iter_run_parallel(const em__iter *it, int64_t grain, em__loop_fn loop, void *ctx) {
    int64_t n = em__numel(it->ndim, it->shape);
    int nt = n > grain ? em__threads() : 1;
    if (nt <= 1) {
        em__iter_run(it, loop, ctx);
        return;
    }
    iter_job j = {it, loop, ctx};
    em__parallel_for(n, grain, nt, iter_range, &j);
}
