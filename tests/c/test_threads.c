/* The thread pool (base/threadpool.c): coverage of every index, tid bounds,
 * nested and concurrent regions, resizing, the environment variable, fork,
 * and bit-identical results of the parallel ops for 1, 2 and 3 threads. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "test_util.h"

#include "base/threadpool.h"

/* ---- pool semantics ------------------------------------------------------ */

typedef struct {
    int64_t n, grain;
    int nthreads;
    atomic_int *hits;   /* calls covering each index */
    atomic_int bad;     /* ranges out of contract */
    atomic_int maxtid;
} cover_ctx;

static void cover_fn(void *vc, int64_t b, int64_t e, int tid) {
    cover_ctx *c = vc;
    if (b < 0 || e > c->n || b >= e || tid < 0 || tid >= c->nthreads || (e - b < c->grain && e != c->n))
        atomic_fetch_add(&c->bad, 1);
    for (int64_t i = b; i < e; i++) atomic_fetch_add(&c->hits[i], 1);
    int m = atomic_load(&c->maxtid);
    while (tid > m && !atomic_compare_exchange_weak(&c->maxtid, &m, tid)) {
    }
}

/* Runs one region and checks each index was covered exactly once. */
static bool covers(int64_t n, int64_t grain, int nthreads) {
    cover_ctx c = {n, grain, nthreads, calloc((size_t)(n > 0 ? n : 1), sizeof(atomic_int)), 0, 0};
    em__parallel_for(n, grain, nthreads, cover_fn, &c);
    bool ok = atomic_load(&c.bad) == 0;
    for (int64_t i = 0; i < n; i++) ok = ok && atomic_load(&c.hits[i]) == 1;
    free(c.hits);
    return ok;
}

TEST(threads_every_index_once) {
    int before = em_get_num_threads();
    const int64_t ns[] = {0, 1, 2, 3, 7, 17, 100, 255, 257, 1000, 4099};
    const int64_t grains[] = {1, 2, 3, 16, 1000, 5000};
    for (int nt = 1; nt <= 4; nt++) {
        CHECK_OK(em_set_num_threads(nt));
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (size_t g = 0; g < sizeof grains / sizeof grains[0]; g++)
                for (int req = 1; req <= 5; req++) {
                    bool ok = covers(ns[i], grains[g], req);
                    if (!ok) fprintf(stderr, "  n %lld grain %lld nthreads %d pool %d\n", (long long)ns[i],
                                     (long long)grains[g], req, nt);
                    CHECK(ok);
                }
    }
    CHECK(covers(-5, 1, 3)); /* n <= 0: nothing */
    CHECK(covers(10, 0, 3)); /* grain < 1 acts as 1 */
    em_set_num_threads(before == 1 ? 1 : 0);
}

/* A region whose ranges wait until `want` of them have started: proves the
 * pool runs them on several threads at once (the wait gives up after 20 s,
 * and the check then fails rather than hang). */
typedef struct {
    atomic_int entered, want;
    atomic_int tids; /* bit per tid seen */
} rendezvous;

static void wait_for_others(rendezvous *r) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (atomic_load(&r->entered) < atomic_load(&r->want)) {
        sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 20) return;
    }
}

static void rendezvous_fn(void *vr, int64_t b, int64_t e, int tid) {
    rendezvous *r = vr;
    atomic_fetch_or(&r->tids, 1 << tid);
    atomic_fetch_add(&r->entered, 1);
    wait_for_others(r);
}

TEST(threads_regions_really_run_in_parallel) {
    int before = em_get_num_threads();
    for (int nt = 2; nt <= 3; nt++) {
        CHECK_OK(em_set_num_threads(nt));
        rendezvous r = {0, nt, 0};
        em__parallel_for(nt, 1, nt, rendezvous_fn, &r);
        CHECK(atomic_load(&r.entered) == nt);
        CHECK(atomic_load(&r.tids) == (1 << nt) - 1);
    }
    em_set_num_threads(before == 1 ? 1 : 0);
}

/* Nested: a region inside a range runs inline on that thread as tid 0. */
typedef struct {
    atomic_int bad, inner_calls, outer_calls;
} nest_ctx;

typedef struct {
    nest_ctx *nc;
    pthread_t self;
} inner_ctx;

static void inner_fn(void *vi, int64_t b, int64_t e, int tid) {
    inner_ctx *ic = vi;
    if (tid != 0 || b != 0 || e != 1000 || !pthread_equal(ic->self, pthread_self())) atomic_fetch_add(&ic->nc->bad, 1);
    atomic_fetch_add(&ic->nc->inner_calls, 1);
}

static void outer_fn(void *vn, int64_t b, int64_t e, int tid) {
    nest_ctx *nc = vn;
    atomic_fetch_add(&nc->outer_calls, 1);
    for (int64_t i = b; i < e; i++) {
        inner_ctx ic = {nc, pthread_self()};
        em__parallel_for(1000, 1, 3, inner_fn, &ic);
    }
}

TEST(threads_nested_region_is_serial) {
    int before = em_get_num_threads();
    CHECK_OK(em_set_num_threads(3));
    nest_ctx nc = {0, 0, 0};
    em__parallel_for(12, 1, 3, outer_fn, &nc);
    CHECK(atomic_load(&nc.bad) == 0);
    CHECK(atomic_load(&nc.inner_calls) == 12);
    CHECK(atomic_load(&nc.outer_calls) >= 1);
    em_set_num_threads(before == 1 ? 1 : 0);
}

/* Concurrent: while one thread's region holds the pool, another thread's
 * region runs whole on that thread as tid 0. */
typedef struct {
    rendezvous hold;  /* the first region: waits for `release` */
    atomic_int release;
    atomic_int started;
} hold_ctx;

static void hold_fn(void *vh, int64_t b, int64_t e, int tid) {
    hold_ctx *h = vh;
    atomic_store(&h->started, 1);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!atomic_load(&h->release)) {
        sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 20) return;
    }
}

static void *holder_main(void *vh) {
    em__parallel_for(4, 1, 3, hold_fn, vh);
    return NULL;
}

TEST(threads_concurrent_region_runs_on_caller) {
    int before = em_get_num_threads();
    CHECK_OK(em_set_num_threads(3));
    hold_ctx h = {{0, 0, 0}, 0, 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, holder_main, &h) == 0);
    while (!atomic_load(&h.started)) sched_yield();
    nest_ctx nc = {0, 0, 0};
    inner_ctx ic = {&nc, pthread_self()};
    em__parallel_for(1000, 1, 3, inner_fn, &ic); /* one call, [0, 1000), tid 0, this thread */
    CHECK(atomic_load(&nc.bad) == 0);
    CHECK(atomic_load(&nc.inner_calls) == 1);
    atomic_store(&h.release, 1);
    pthread_join(th, NULL);
    em_set_num_threads(before == 1 ? 1 : 0);
}

/* Several threads run many regions at once: each gets correct results. */
typedef struct {
    const float *x;
    double *partial; /* one per range index */
    int64_t chunk;
} sum_ctx;

static void sum_fn(void *vs, int64_t b, int64_t e, int tid) {
    sum_ctx *s = vs;
    for (int64_t c = b; c < e; c++) {
        double acc = 0;
        for (int64_t i = c * s->chunk; i < (c + 1) * s->chunk; i++) acc += s->x[i];
        s->partial[c] = acc;
    }
}

typedef struct {
    int seed;
    atomic_int *bad;
} worker_arg;

static void *sum_worker(void *va) {
    worker_arg *a = va;
    enum { CHUNKS = 64, CH = 97 };
    float *x = malloc(sizeof(float) * CHUNKS * CH);
    double part[CHUNKS];
    double want = 0;
    for (int i = 0; i < CHUNKS * CH; i++) {
        x[i] = (float)((i * 7 + a->seed * 13) % 101);
        want += x[i];
    }
    for (int rep = 0; rep < 200; rep++) {
        memset(part, 0, sizeof part);
        sum_ctx s = {x, part, CH};
        em__parallel_for(CHUNKS, 2, 3, sum_fn, &s);
        double got = 0;
        for (int c = 0; c < CHUNKS; c++) got += part[c];
        if (got != want) atomic_fetch_add(a->bad, 1);
        /* ember ops from several threads at once */
        em_tensor *t = NULL, *r = NULL;
        if (em_tensor_from_data(EM_F32, 1, (int64_t[]){CHUNKS * CH}, NULL, x, NULL, NULL, &t) == EM_OK &&
            em_reduce(EM_OP_SUM, t, NULL, &r) == EM_OK) {
            if (*(float *)em_tensor_data(r) != (float)want) atomic_fetch_add(a->bad, 1);
        } else {
            atomic_fetch_add(a->bad, 1);
        }
        em_tensor_free(r);
        em_tensor_free(t);
    }
    free(x);
    return NULL;
}

TEST(threads_many_callers_at_once) {
    int before = em_get_num_threads();
    CHECK_OK(em_set_num_threads(3));
    atomic_int bad = 0;
    pthread_t th[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){i, &bad};
        CHECK(pthread_create(&th[i], NULL, sum_worker, &args[i]) == 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    CHECK(atomic_load(&bad) == 0);
    em_set_num_threads(before == 1 ? 1 : 0);
}

TEST(threads_set_get_and_resize) {
    int before = em_get_num_threads();
    CHECK(before >= 1);
    CHECK_STATUS(em_set_num_threads(-1), EM_ERR_INVALID_ARG);
    CHECK(error_has("em_set_num_threads"));
    CHECK_STATUS(em_set_num_threads(EM_MAX_THREADS + 1), EM_ERR_INVALID_ARG);
    CHECK(em_get_num_threads() == before);
    const int seq[] = {1, 3, 2, 4, 1, 3, 7, 2};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        CHECK_OK(em_set_num_threads(seq[i]));
        CHECK(em_get_num_threads() == seq[i]);
        cover_ctx c = {5000, 10, seq[i], calloc(5000, sizeof(atomic_int)), 0, 0};
        em__parallel_for(c.n, c.grain, c.nthreads, cover_fn, &c);
        bool ok = atomic_load(&c.bad) == 0 && atomic_load(&c.maxtid) < seq[i];
        for (int64_t k = 0; k < c.n; k++) ok = ok && atomic_load(&c.hits[k]) == 1;
        free(c.hits);
        CHECK(ok);
    }
    /* a caller asking for more threads than the pool has gets at most the pool */
    CHECK_OK(em_set_num_threads(2));
    cover_ctx c = {5000, 1, 8, calloc(5000, sizeof(atomic_int)), 0, 0};
    em__parallel_for(c.n, c.grain, c.nthreads, cover_fn, &c);
    CHECK(atomic_load(&c.maxtid) < 2);
    free(c.hits);
    em_set_num_threads(before == 1 ? 1 : 0);
}

TEST(threads_environment_variable) {
    int before = em_get_num_threads();
    const char *old = getenv("EMBER_NUM_THREADS");
    char *saved = old ? strdup(old) : NULL;
    setenv("EMBER_NUM_THREADS", "3", 1);
    CHECK_OK(em_set_num_threads(0));
    CHECK(em_get_num_threads() == 3);
    CHECK_OK(em_set_num_threads(2)); /* an explicit count wins */
    CHECK(em_get_num_threads() == 2);
    unsetenv("EMBER_NUM_THREADS");
    CHECK_OK(em_set_num_threads(0));
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    int cpus = CPU_COUNT(&set) < EM_MAX_THREADS ? CPU_COUNT(&set) : EM_MAX_THREADS;
    CHECK(em_get_num_threads() == cpus);
    const char *bad[] = {"0", "-2", "abc", "3x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) { /* ignored: the CPU count */
        setenv("EMBER_NUM_THREADS", bad[i], 1);
        CHECK_OK(em_set_num_threads(0));
        CHECK(em_get_num_threads() == cpus);
    }
    setenv("EMBER_NUM_THREADS", "100000", 1);
    CHECK_OK(em_set_num_threads(0));
    CHECK(em_get_num_threads() == EM_MAX_THREADS);
    if (saved)
        setenv("EMBER_NUM_THREADS", saved, 1);
    else
        unsetenv("EMBER_NUM_THREADS");
    free(saved);
    CHECK_OK(em_set_num_threads(0));
    em_set_num_threads(before == em_get_num_threads() ? 0 : before);
}

TEST(threads_fork_child_builds_its_own_pool) {
    int before = em_get_num_threads();
    CHECK_OK(em_set_num_threads(3));
    CHECK(covers(3000, 10, 3)); /* workers exist in the parent */
    pid_t pid = fork();
    if (pid == 0) {
        rendezvous r = {0, 3, 0};
        em__parallel_for(3, 1, 3, rendezvous_fn, &r);
        bool ok = covers(3000, 10, 3) && atomic_load(&r.tids) == 7;
        /* exec rather than exit: under valgrind the child's exit would run a
         * leak check, which reports the parent's worker threads (their TLS
         * blocks are copied into the child but no thread points at them) */
        execl(ok ? "/bin/true" : "/bin/false", ok ? "true" : "false", (char *)NULL);
        _exit(ok ? 0 : 1);
    }
    CHECK(pid > 0);
    int status = -1;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(covers(3000, 10, 3)); /* and the parent's pool still works */
    em_set_num_threads(before == 1 ? 1 : 0);
}

/* ---- bit-identical ops for 1, 2 and 3 threads ---------------------------- */

#define MAXR 4096
typedef struct {
    em_tensor *r[MAXR];
    int n;
    bool failed;
} results;

/* keep(rs, call, r) would read r before the call sets it: use KEEP. */
#define KEEP(rs, call, r)                \
    do {                                 \
        em_status keep_st_ = (call);     \
        keep((rs), keep_st_, (r));       \
        (r) = NULL;                      \
    } while (0)
static void keep(results *rs, em_status st, em_tensor *t) {
    if (st != EM_OK || !t || rs->n == MAXR) {
        fprintf(stderr, "  result %d: %s\n", rs->n, st != EM_OK ? em_last_error() : t ? "too many results" : "NULL");
        rs->failed = true;
        em_tensor_free(t);
        return;
    }
    rs->r[rs->n++] = t;
}

/* x: values with many ties and, for floats, signed zeros; a NaN at nan_at
 * (< 0: none). */
static em_tensor *input(em_dtype dt, int nd, const int64_t *shape, uint64_t seed, int64_t nan_at) {
    em_generator *g;
    em_tensor *i = NULL, *f = NULL, *x = NULL;
    if (em_generator_new(seed, &g) != EM_OK) return NULL;
    bool fl = em_dtype_is_float(dt);
    if (fl) {
        em_random_normal(g, 0, 1, dt, nd, shape, &x);
        /* a band of ties and zeros of both signs */
        if (x) {
            int64_t n = em_tensor_numel(x);
            for (int64_t k = 0; k < n; k += 5) {
                double v = k % 3 == 0 ? 0.0 : k % 3 == 1 ? -0.0 : 2.5;
                if (dt == EM_F32)
                    ((float *)em_tensor_data(x))[k] = (float)v;
                else
                    ((double *)em_tensor_data(x))[k] = v;
            }
            if (nan_at >= 0 && nan_at < n) {
                if (dt == EM_F32)
                    ((float *)em_tensor_data(x))[nan_at] = NAN;
                else
                    ((double *)em_tensor_data(x))[nan_at] = NAN;
            }
        }
    } else {
        em_random_randint(g, dt == EM_BOOL ? 0 : dt == EM_U8 ? 0 : -3, dt == EM_BOOL ? 2 : 4, EM_I64, nd, shape, &i);
        if (i) em_tensor_cast(i, dt, &x);
        (void)f;
    }
    em_tensor_free(i);
    em_generator_free(g);
    return x;
}

static const em_op reduce_ops[] = {EM_OP_SUM, EM_OP_MEAN, EM_OP_PROD, EM_OP_MAX, EM_OP_MIN,
                                   EM_OP_ARGMAX, EM_OP_ARGMIN, EM_OP_VAR, EM_OP_STD, EM_OP_LOGSUMEXP,
                                   EM_OP_ALL, EM_OP_ANY, EM_OP_NORM, EM_OP_COUNT_NONZERO, EM_OP_CUMSUM};

/* Every reduction of x over each axis and over all of them (all: also the
 * other norms and cumsum). */
static void reductions(results *rs, const em_tensor *x, bool all) {
    int nd = em_tensor_ndim(x);
    for (size_t k = 0; k < sizeof reduce_ops / sizeof reduce_ops[0]; k++) {
        em_op op = reduce_ops[k];
        for (int ax = -1; ax < nd; ax++) {
            if (op == EM_OP_CUMSUM && (ax < 0 || !all)) continue;
            em_reduce_options o = em_reduce_default_options();
            int axes[1] = {ax};
            if (ax >= 0) o.axes = axes, o.naxes = 1;
            bool fl = em_dtype_is_float(em_tensor_dtype(x));
            if ((op == EM_OP_VAR || op == EM_OP_STD || op == EM_OP_LOGSUMEXP || op == EM_OP_NORM) && !fl &&
                em_tensor_dtype(x) == EM_BOOL)
                continue;
            em_tensor *r = NULL;
            KEEP(rs, em_reduce(op, x, &o, &r), r);
            if (op == EM_OP_NORM && fl && all) { /* the other norms */
                const double ords[] = {1, 3, INFINITY, -INFINITY, 0};
                for (int q = 0; q < 5; q++) {
                    o.ord = ords[q];
                    KEEP(rs, em_reduce(op, x, &o, &r), r);
                }
            }
        }
    }
}

/* Elementwise ops, copies and (all) casts to every dtype. */
static void elementwise(results *rs, const em_tensor *x, const em_tensor *y, bool all) {
    em_tensor *r = NULL;
    em_dtype dt = em_tensor_dtype(x);
    KEEP(rs, em_binary(EM_OP_ADD, x, y, &r), r);
    KEEP(rs, em_binary(EM_OP_MUL, x, y, &r), r);
    KEEP(rs, em_binary(EM_OP_GT, x, y, &r), r);
    if (dt != EM_BOOL) KEEP(rs, em_unary(EM_OP_NEG, x, NAN, &r), r);
    if (em_dtype_is_float(dt)) {
        const em_op un[] = {EM_OP_EXP, EM_OP_TANH, EM_OP_SQRT, EM_OP_LOG, EM_OP_SIGMOID, EM_OP_GELU};
        for (size_t k = 0; k < sizeof un / sizeof un[0]; k++) KEEP(rs, em_unary(un[k], x, NAN, &r), r);
    }
    em_tensor *c = NULL;
    if (em_binary(EM_OP_GT, x, y, &c) == EM_OK) {
        KEEP(rs, em_where(c, x, y, &r), r);
        em_tensor_free(c);
    }
    /* casts to every dtype, and a copy */
    for (int d = 0; d < EM_DTYPE_COUNT; d++)
        if (all || d == EM_F64 || d == EM_I32) KEEP(rs, em_tensor_cast(x, (em_dtype)d, &r), r);
    KEEP(rs, em_tensor_clone(x, &r), r);
    /* in place: x + y into a copy of x (the aliasing fast path) */
    if (em_tensor_clone(x, &r) == EM_OK) {
        em_status st = em_binary_into(EM_OP_ADD, r, y, r);
        keep(rs, st == EM_OK || st == EM_ERR_DTYPE ? EM_OK : st, r), r = NULL;
    }
}

/* All the parallel ops over shapes around and across the grains: contiguous,
 * transposed (strided and tiled paths) and broadcast operands.  (Test time
 * matters under valgrind: the small sizes, which run inline, get two
 * dtypes; the long ones just cross the grains.) */
static void run_all(results *rs) {
    const int64_t sizes[] = {1, 3, 7, 17, 255, 257, 1000};
    const em_dtype small[] = {EM_F32, EM_I64};
    uint64_t seed = 1;
    for (int d = 0; d < 2; d++) {
        em_dtype dt = small[d];
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            em_tensor *x = input(dt, 1, &sizes[s], seed++, -1), *y = input(dt, 1, &sizes[s], seed++, -1);
            reductions(rs, x, s % 2 == 0);
            elementwise(rs, x, y, s % 2 == 0);
            em_tensor_free(x), em_tensor_free(y);
        }
        /* 2-D: (257, 255) and its transpose; a broadcast row */
        em_tensor *x = input(dt, 2, SH(257, 255), seed++, -1), *y = input(dt, 2, SH(257, 255), seed++, -1);
        em_tensor *xt = NULL, *row = input(dt, 1, SH(255), seed++, -1);
        if (em_tensor_transpose(x, 0, 1, &xt) == EM_OK) {
            reductions(rs, xt, false);
            em_tensor *yt = NULL;
            if (em_tensor_transpose(y, 0, 1, &yt) == EM_OK) elementwise(rs, xt, yt, false);
            em_tensor_free(yt);
        }
        reductions(rs, x, false);
        elementwise(rs, x, row, true);
        em_tensor_free(x), em_tensor_free(y), em_tensor_free(xt), em_tensor_free(row);
    }
    /* long ones, past every grain: floats with a NaN late or none, ints */
    const em_dtype big[] = {EM_F32, EM_F64, EM_I32, EM_BOOL};
    for (size_t b = 0; b < sizeof big / sizeof big[0]; b++) {
        em_dtype dt = big[b];
        for (int nan = 0; nan < (em_dtype_is_float(dt) ? 2 : 1); nan++) {
            em_tensor *x = input(dt, 1, SH(70001), seed++, nan ? 50001 : -1);
            em_tensor *y = input(dt, 1, SH(70001), seed++, -1);
            reductions(rs, x, !nan);
            elementwise(rs, x, y, !nan);
            em_tensor_free(x), em_tensor_free(y);
        }
        em_tensor *m = input(dt, 2, SH(3, 24001), seed++, -1), *mt = NULL;
        reductions(rs, m, false);
        if (em_tensor_transpose(m, 0, 1, &mt) == EM_OK) {
            em_tensor *c = NULL;
            KEEP(rs, em_tensor_clone(mt, &c), c); /* a copy through the strided path */
            reductions(rs, mt, false);
        }
        em_tensor_free(m), em_tensor_free(mt);
        em_tensor *q = input(dt, 2, SH(400, 300), seed++, -1), *qt = NULL;
        reductions(rs, q, false);
        if (em_tensor_transpose(q, 0, 1, &qt) == EM_OK) {
            em_tensor *c = NULL;
            KEEP(rs, em_tensor_clone(qt, &c), c); /* tiled transposing copy */
            em_tensor *c2 = NULL;
            KEEP(rs, em_tensor_cast(qt, EM_F64, &c2), c2);
        }
        em_tensor_free(q), em_tensor_free(qt);
    }
    em_tensor *f = NULL;
    if (em_tensor_empty(EM_F32, 1, SH(100001), &f) == EM_OK) {
        em_status st = em_tensor_fill(f, 1.25);
        keep(rs, st, f);
    }
}

static bool same_bytes(const em_tensor *a, const em_tensor *b) {
    if (em_tensor_dtype(a) != em_tensor_dtype(b) || em_tensor_numel(a) != em_tensor_numel(b)) return false;
    /* results are contiguous: compare raw bytes (NaN payloads and -0 included) */
    em_tensor *ca = NULL, *cb = NULL;
    if (em_tensor_contiguous(a, &ca) || em_tensor_contiguous(b, &cb)) {
        em_tensor_free(ca);
        em_tensor_free(cb);
        return false;
    }
    size_t bytes = (size_t)em_tensor_numel(a) * em_dtype_size(em_tensor_dtype(a));
    bool same = memcmp(em_tensor_data(ca), em_tensor_data(cb), bytes) == 0;
    em_tensor_free(ca);
    em_tensor_free(cb);
    return same;
}

TEST(threads_ops_bit_identical) {
    int before = em_get_num_threads();
    static results ref, got;
    ref.n = got.n = 0;
    ref.failed = got.failed = false;
    CHECK_OK(em_set_num_threads(1));
    run_all(&ref);
    CHECK(!ref.failed);
    for (int nt = 2; nt <= 3; nt++) {
        CHECK_OK(em_set_num_threads(nt));
        got.n = 0;
        run_all(&got);
        CHECK(!got.failed);
        CHECK(got.n == ref.n);
        int differ = 0;
        for (int i = 0; i < got.n && i < ref.n; i++) {
            if (!same_bytes(ref.r[i], got.r[i])) {
                if (differ++ < 5) fprintf(stderr, "  result %d differs with %d threads\n", i, nt);
            }
            em_tensor_free(got.r[i]);
        }
        CHECK(differ == 0);
    }
    for (int i = 0; i < ref.n; i++) em_tensor_free(ref.r[i]);
    em_set_num_threads(before == 1 ? 1 : 0);
}

/* The parallel paths also give the right values (not just stable ones). */
TEST(threads_parallel_values_match_serial_definition) {
    int before = em_get_num_threads();
    CHECK_OK(em_set_num_threads(3));
    enum { N = 200003 };
    em_tensor *x = NULL, *r = NULL;
    CHECK_OK(em_tensor_arange(0, N, 1, EM_F64, &x));
    CHECK_OK(em_reduce(EM_OP_SUM, x, NULL, &r));
    CHECK(*(double *)em_tensor_data(r) == (double)N * (N - 1) / 2);
    em_tensor_free(r);
    CHECK_OK(em_reduce(EM_OP_ARGMAX, x, NULL, &r));
    CHECK(*(int64_t *)em_tensor_data(r) == N - 1);
    em_tensor_free(r);
    CHECK_OK(em_reduce(EM_OP_MIN, x, NULL, &r));
    CHECK(*(double *)em_tensor_data(r) == 0);
    em_tensor_free(r);
    /* ties: the first index of the maximum wins, NaN wins over everything */
    double *p = em_tensor_data(x);
    for (int64_t i = 0; i < N; i++) p[i] = (double)(i % 1000 == 999 ? 7 : 1);
    CHECK_OK(em_reduce(EM_OP_ARGMAX, x, NULL, &r));
    CHECK(*(int64_t *)em_tensor_data(r) == 999);
    em_tensor_free(r);
    p[150000] = NAN;
    p[170000] = NAN;
    CHECK_OK(em_reduce(EM_OP_ARGMAX, x, NULL, &r));
    CHECK(*(int64_t *)em_tensor_data(r) == 150000);
    em_tensor_free(r);
    CHECK_OK(em_reduce(EM_OP_MAX, x, NULL, &r));
    CHECK(isnan(*(double *)em_tensor_data(r)));
    em_tensor_free(r);
    em_tensor *y = NULL;
    CHECK_OK(em_binary(EM_OP_ADD, x, x, &y));
    double *q = em_tensor_data(y);
    bool ok = true;
    for (int64_t i = 0; i < N; i++) ok = ok && (isnan(p[i]) ? isnan(q[i]) : q[i] == 2 * p[i]);
    CHECK(ok);
    em_tensor_free(y);
    em_tensor_free(x);
    em_set_num_threads(before == 1 ? 1 : 0);
}
