/* Reductions over axes: sum mean prod max min argmax argmin var std
 * logsumexp all any norm count_nonzero, and the scans cumsum/cumprod.
 *
 * Plan: the kept axes go outer and the reduced axes inner; each group is
 * coalesced.  Then one of three loops runs:
 *  - the reduced elements of each output are contiguous (reducing trailing
 *    axes of a contiguous tensor): a kernel runs on them in place;
 *  - the innermost kept axis is contiguous (reducing leading axes): whole
 *    rows are folded into the output row, out[j] op= x[r, j], for the ops
 *    that are plain folds (sum mean prod max min all any count_nonzero);
 *  - otherwise the reduced elements of each output are gathered into a
 *    contiguous buffer (in C order, so argmax indices are flat indices) and
 *    the same kernel runs on the buffer.
 *
 * Accuracy and determinism: floats accumulate in their own type (float32 in
 * float32, as NumPy does).  Contiguous sums are pairwise: leaves of LEAF
 * elements are summed with LANES independent accumulators (a vectorisable
 * loop; each lane adds LEAF/LANES terms) and leaves are combined pairwise, so
 * the error grows like (LEAF/LANES + log2 n) * eps.  Row folds are pairwise
 * over blocks of ROW_LEAF rows.  The order depends only on the shapes and
 * strides, never on threads, so equal inputs give bit-identical results.
 * Integer sums and products wrap in 64 bits (done in uint64_t, where
 * overflow is defined).  var/std take two passes (mean, then the sum of
 * squared deviations). */
#include <math.h>

#include "../internal.h"
#include "../autograd/ag.h"
#include "../kernels/vmath.h"
#include "../base/threadpool.h"

#define LANES 16
#define LEAF 1024
#define ROW_LEAF 32

em_reduce_options em_reduce_default_options(void) {
    return (em_reduce_options){.axes = NULL, .naxes = 0, .keepdims = false, .correction = 0, .ord = 2, .dtype = -1};
}

typedef struct {
    em_op op;
    int64_t n; /* elements reduced into each output */
    double correction, ord;
} rctx;

/* Reduced axes seen from one output: rows of L contiguous elements. */
typedef struct {
    const char *base;
    int nr;
    const int64_t *shape, *strides; /* reduced axes, byte strides */
    int64_t L;
} rows_t;

/* Address of the i-th element (C order) of an n-axis strided block. */
static const char *at(const char *base, int n, const int64_t *shape, const int64_t *strides, int64_t i) {
    for (int d = n - 1; d >= 0; d--) {
        base += (i % shape[d]) * strides[d];
        i /= shape[d];
    }
    return base;
}

/* Hot loops are also built for AVX2 and AVX-512 (x86-64-v4) and the best
 * the CPU runs is chosen at load time (ifunc; GCC >= 11 on x86-64 Linux).
 * Only loops whose result cannot depend on the vector width get this:
 * integer compares, or float operations applied lane by lane in a fixed
 * order (ISO C mode: no FMA contraction).  -DEM_NO_SIMD_CLONES builds the
 * baseline alone (to test it on any machine). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) && defined(__linux__) && \
    !defined(EM_NO_SIMD_CLONES)
#define SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define SIMD_CLONES
#endif

#define OP_ADD(a, b) ((a) + (b))
#define OP_MUL(a, b) ((a) * (b))
/* This operand order is the one gcc maps onto packed max/min instructions. */
#define OP_IMAX(a, b) ((a) > (b) ? (a) : (b))
#define OP_IMIN(a, b) ((a) < (b) ? (a) : (b))
/* NaN-propagating: once a lane holds NaN it keeps it ((b) != (b) is isnan). */
#define OP_FMAX(a, b) ((b) > (a) || (b) != (b) ? (b) : (a))
#define OP_FMIN(a, b) ((b) < (a) || (b) != (b) ? (b) : (a))
#define INT_ISNAN(v) 0
#define FLT_ISNAN(v) ((v) != (v))

/* ---- parallel folds and extremes ----------------------------------------
 * A long fold runs its pairwise tree in parallel: the tree is cut, by the
 * same split as the serial recursion, into subtrees of at most PF_CHUNK
 * elements (at most PF_DEPTH levels down); each subtree is one task, and
 * the partials are joined up the same tree.  Every addition happens as in
 * the serial fold, so the result is bit-identical for any thread count
 * (and to the serial code).  The extremes (max, min, argmax, argmin) scan
 * groups of EXT_CHUNK chunks in parallel, each group reporting its first
 * NaN and its best chunk, and the groups are combined in order with the
 * serial comparison; the groups are fixed by n alone. */
#define PF_CHUNK 32768
#define PF_DEPTH 8
#define PF_MAX (1 << PF_DEPTH)

typedef struct {
    int n;
    int64_t off[PF_MAX], len[PF_MAX];
} pf_plan;

/* Whether the fold of a node of n elements at this depth is split into tasks. */
static bool pf_splits(int64_t n, int depth) { return n > PF_CHUNK && depth < PF_DEPTH; }

static void pf_split(pf_plan *p, int64_t off, int64_t n, int depth) {
    if (pf_splits(n, depth)) {
        int64_t h = n / 2 / LANES * LANES; /* as DEF_FOLD */
        pf_split(p, off, h, depth + 1);
        pf_split(p, off + h, n - h, depth + 1);
        return;
    }
    p->off[p->n] = off;
    p->len[p->n++] = n;
}

/* NAME(x, n, m, p): NAME##_s, the serial fold, run as above when long. */
#define DEF_PFOLD(NAME, T, A, OP)                                                        \
    typedef struct {                                                                     \
        const T *x;                                                                      \
        const pf_plan *plan;                                                             \
        A *part, m, p;                                                                   \
    } NAME##_job;                                                                        \
    static void NAME##_range(void *vj, int64_t b, int64_t e, int tid) {                  \
        const NAME##_job *j = vj;                                                        \
        for (int64_t i = b; i < e; i++)                                                  \
            j->part[i] = NAME##_s(j->x + j->plan->off[i], j->plan->len[i], j->m, j->p);  \
    }                                                                                    \
    static A NAME##_join(const A *part, int *k, int64_t n, int depth) {                  \
        if (!pf_splits(n, depth)) return part[(*k)++];                                   \
        int64_t h = n / 2 / LANES * LANES;                                               \
        A lo = NAME##_join(part, k, h, depth + 1), hi = NAME##_join(part, k, n - h, depth + 1); \
        return OP(lo, hi);                                                               \
    }                                                                                    \
    static A NAME(const T *x, int64_t n, A m, A p) {                                     \
        int nt;                                                                          \
        if (n <= 2 * PF_CHUNK || (nt = em__threads()) <= 1) return NAME##_s(x, n, m, p); \
        pf_plan plan;                                                                    \
        A part[PF_MAX];                                                                  \
        plan.n = 0;                                                                      \
        pf_split(&plan, 0, n, 0);                                                        \
        NAME##_job j = {x, &plan, part, m, p};                                           \
        em__parallel_for(plan.n, 1, nt, NAME##_range, &j);                               \
        int k = 0;                                                                       \
        return NAME##_join(part, &k, n, 0);                                              \
    }

/* extval_S / argext_S: the serial scans (extval_S_s, argext_S_s) or, when long, groups of
 * chunks in parallel.  A group reports the absolute index of its first NaN
 * (-1: none) and its best chunk: by key order for max/min (as extval_s),
 * by strict float order, the first best kept, for argmax/argmin (as
 * argext_s). */
#define DEF_PEXT(S, T, K, KEY)                                                           \
    typedef struct {                                                                     \
        int64_t nan, at;                                                                 \
        T best;                                                                          \
    } ext_grp_##S;                                                                       \
    typedef struct {                                                                     \
        const T *x;                                                                      \
        int64_t n, per; /* chunks per group */                                           \
        bool want_max, arg;                                                              \
        ext_grp_##S *g;                                                                  \
    } ext_job_##S;                                                                       \
    static bool ext_better_##S(T v, T best, bool want_max, bool arg) {                   \
        if (arg) return want_max ? v > best : v < best;                                  \
        K kb, kv;                                                                        \
        memcpy(&kb, &best, sizeof kb);                                                   \
        memcpy(&kv, &v, sizeof kv);                                                      \
        return want_max ? KEY(kv) > KEY(kb) : KEY(kv) < KEY(kb);                         \
    }                                                                                    \
    static void ext_range_##S(void *vj, int64_t b, int64_t e, int tid) {                 \
        const ext_job_##S *j = vj;                                                       \
        const int64_t ch = EXT_CHUNK / (int64_t)sizeof(T), n = j->n;                     \
        for (int64_t gi = b; gi < e; gi++) {                                             \
            ext_grp_##S *r = &j->g[gi];                                                  \
            int64_t c0 = gi * j->per * ch, c1 = c0 + j->per * ch < n ? c0 + j->per * ch : n; \
            r->nan = -1;                                                                 \
            for (int64_t c = c0; c < c1; c += ch) {                                      \
                int64_t at = chunk_at(c, n, ch), m = n - at < ch ? n - at : ch;          \
                T v;                                                                     \
                int64_t nan = ext_chunk_##S(j->x + at, m, j->want_max, &v);              \
                if (nan >= 0) {                                                          \
                    r->nan = at + nan;                                                   \
                    break;                                                               \
                }                                                                        \
                if (c == c0 || ext_better_##S(v, r->best, j->want_max, j->arg)) r->best = v, r->at = at; \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
    /* Runs the groups; returns their count (0: too short, run serially). */            \
    static int ext_groups_##S(const T *x, int64_t n, bool want_max, bool arg, ext_grp_##S *g) { \
        int nt;                                                                          \
        if (n <= 2 * PF_CHUNK || (nt = em__threads()) <= 1) return 0;                    \
        const int64_t ch = EXT_CHUNK / (int64_t)sizeof(T), nc = (n + ch - 1) / ch;       \
        int64_t per = PF_CHUNK / ch, ng;                                                 \
        if ((nc + per - 1) / per > PF_MAX) per = (nc + PF_MAX - 1) / PF_MAX;             \
        ng = (nc + per - 1) / per;                                                       \
        ext_job_##S j = {x, n, per, want_max, arg, g};                                   \
        em__parallel_for(ng, 1, nt, ext_range_##S, &j);                                  \
        return (int)ng;                                                                  \
    }                                                                                    \
    static T extval_##S(const T *x, int64_t n, bool want_max) {                          \
        ext_grp_##S g[PF_MAX];                                                           \
        int ng = ext_groups_##S(x, n, want_max, false, g);                               \
        if (!ng) return extval_##S##_s(x, n, want_max);                                  \
        T best = x[0];                                                                   \
        for (int i = 0; i < ng; i++) {                                                   \
            if (g[i].nan >= 0) return x[g[i].nan];                                       \
            if (i == 0 || ext_better_##S(g[i].best, best, want_max, false)) best = g[i].best; \
        }                                                                                \
        return best;                                                                     \
    }                                                                                    \
    static int64_t argext_##S(const T *x, int64_t n, bool want_max) {                    \
        ext_grp_##S g[PF_MAX];                                                           \
        int ng = ext_groups_##S(x, n, want_max, true, g);                                \
        if (!ng) return argext_##S##_s(x, n, want_max);                                  \
        T best = x[0];                                                                   \
        int64_t best_at = 0;                                                             \
        for (int i = 0; i < ng; i++) {                                                   \
            if (g[i].nan >= 0) return g[i].nan;                                          \
            if (want_max ? g[i].best > best : g[i].best < best) best = g[i].best, best_at = g[i].at; \
        }                                                                                \
        return best_at + first_eq_##S(x + best_at, n - best_at, best);                   \
    }

/* NAME(x, n, m, p) = OP-fold of EXPR(v) over v = x[0..n), n >= 1, pairwise
 * over leaves, LANES accumulators per leaf.  INIT is the lanes' start value
 * (it may use v = x[0]: max/min are idempotent); m, p are EXPR parameters. */
#define DEF_FOLD(NAME, T, A, INIT, OP, EXPR)                                            \
    static A NAME##_s(const T *x, int64_t n, A m, A p) {                                \
        if (n > LEAF) {                                                                 \
            int64_t h = n / 2 / LANES * LANES;                                          \
            A lo = NAME##_s(x, h, m, p), hi = NAME##_s(x + h, n - h, m, p);             \
            return OP(lo, hi);                                                          \
        }                                                                               \
        A acc[LANES];                                                                   \
        {                                                                               \
            T v = x[0];                                                                 \
            (void)v;                                                                    \
            for (int k = 0; k < LANES; k++) acc[k] = (INIT);                            \
        }                                                                               \
        int64_t i = 0;                                                                  \
        for (; i + LANES <= n; i += LANES) {                                            \
            _Pragma("GCC unroll 16") for (int k = 0; k < LANES; k++) {                  \
                T v = x[i + k];                                                         \
                acc[k] = OP(acc[k], (EXPR));                                            \
            }                                                                           \
        }                                                                               \
        for (int k = 0; i < n; i++, k++) {                                              \
            T v = x[i];                                                                 \
            acc[k] = OP(acc[k], (EXPR));                                                \
        }                                                                               \
        for (int w = LANES / 2; w > 0; w /= 2)                                          \
            for (int k = 0; k < w; k++) acc[k] = OP(acc[k], acc[k + w]);                \
        return acc[0];                                                                  \
    }                                                                                   \
    DEF_PFOLD(NAME, T, A, OP)

/* acc[j] = OP(acc[j], EXPR(x[j])) for j < L.  Blocks of LANES because gcc
 * -O2 (its "very cheap" cost model) vectorises only loops of fixed trip
 * count; restrict spares it alias checks.  Not unrolled: gcc vectorises
 * float selects (max/min) in loops but not in straight-line code. */
#define DEF_ROW_STEP(NAME, T, A, OP, EXPR)                                              \
    SIMD_CLONES static void NAME(A *restrict acc, const T *restrict x, int64_t L) {     \
        int64_t j = 0;                                                                  \
        for (; j + LANES <= L; j += LANES) {                                            \
            for (int k = 0; k < LANES; k++) {                                           \
                T v = x[j + k];                                                         \
                acc[j + k] = OP(acc[j + k], (EXPR));                                    \
            }                                                                           \
        }                                                                               \
        for (; j < L; j++) {                                                            \
            T v = x[j];                                                                 \
            acc[j] = OP(acc[j], (EXPR));                                                \
        }                                                                               \
    }

/* acc[j] = OP-fold over rows r in [lo, hi) of EXPR(row r [j]), pairwise over
 * blocks of ROW_LEAF rows; scratch holds one row per recursion level. */
#define DEF_ROWS(NAME, T, A, OP, EXPR)                                                   \
    DEF_ROW_STEP(NAME##_step, T, A, OP, EXPR)                                            \
    DEF_ROW_STEP(NAME##_merge, A, A, OP, v)                                              \
    static void NAME(const rows_t *g, int64_t lo, int64_t hi, A *acc, A *scratch) {      \
        int64_t L = g->L;                                                                \
        if (hi - lo > ROW_LEAF) {                                                        \
            int64_t mid = lo + (hi - lo) / 2;                                            \
            NAME(g, lo, mid, acc, scratch);                                              \
            NAME(g, mid, hi, scratch, scratch + L);                                      \
            NAME##_merge(acc, scratch, L);                                               \
            return;                                                                      \
        }                                                                                \
        const T *x = (const T *)at(g->base, g->nr, g->shape, g->strides, lo);            \
        for (int64_t j = 0; j < L; j++) {                                                \
            T v = x[j];                                                                  \
            acc[j] = (EXPR);                                                             \
        }                                                                                \
        for (int64_t r = lo + 1; r < hi; r++)                                            \
            NAME##_step(acc, (const T *)at(g->base, g->nr, g->shape, g->strides, r), L); \
    }

static void store_count(const rctx *c, int64_t cnt, char *out) {
    if (c->op == EM_OP_COUNT_NONZERO)
        *(int64_t *)out = cnt;
    else
        *(bool *)out = c->op == EM_OP_ALL ? cnt == c->n : cnt > 0;
}

/* ---- max, min, argmax, argmin of contiguous data ----------------------
 * gcc vectorises integer max/min reductions but no float select (NaN and -0
 * semantics), so floats are compared as signed keys of their bits (read as
 * a same-width signed integer s): key(s) = s ^ (s < 0 ? MAX : 0).  Key order
 * is float order, with -0 < +0 and NaNs beyond +-inf, so a max or min is
 * always one of the elements whatever their order; key is its own inverse.
 * NaNs are caught apart ((s & MAX) > the bits of inf), OR-ed alongside.
 * gcc -O2 (the "very cheap" cost model) vectorises only loops of fixed trip
 * count, hence fixed blocks: max and min are idempotent, so a last partial
 * block is replaced by a full one overlapping its neighbour, and only arrays
 * shorter than a block take a scalar loop.  The scans are SIMD_CLONES:
 * integer keys make every build bit-identical.
 *
 * Work goes in chunks of EXT_CHUNK bytes: the first chunk holding a NaN ends
 * the scan (max/min return its first NaN, argmax/argmin its index, as
 * NumPy), and argmax keeps the first chunk whose extreme beats all earlier
 * ones (strict float comparison, so ties and +-0 keep the first) and rescans
 * from that chunk, EXT_EQ_BLOCK bytes at a time, for the first element equal
 * to it.  all/any stop at the first EXT_SUB-byte block that decides. */
#define EXT_CHUNK 8192
#define EXT_SUB 128
#define EXT_EQ_BLOCK 512
#define INT_KEY(s) (s)
#define INT_BAD(s) 0
#define F32_KEY(s) ((s) ^ ((s) < 0 ? INT32_MAX : 0))
#define F32_BAD(s) ((int32_t)(((s)&INT32_MAX) > 0x7f800000))
#define F64_KEY(s) ((s) ^ ((s) < 0 ? INT64_MAX : 0))
#define F64_BAD(s) ((int64_t)(((s)&INT64_MAX) > INT64_C(0x7ff0000000000000)))

/* NAME(x, n, &key): key = OP-extreme of the keys of x[0..n), n >= 1; returns
 * the OR of BAD over them (nonzero iff a NaN).  K: the key type, a signed
 * integer as wide as T (unsigned for bool and uint8). */
#define EXT_STEP(j, KEY, BAD, OP) EXT_STEP_AT(x, j, KEY, BAD, OP)
#define EXT_STEP_AT(y, j, KEY, BAD, OP)                                                \
    {                                                                                  \
        memcpy(&s, (y) + (j), sizeof s);                                               \
        a = OP(a, KEY(s));                                                             \
        b |= BAD(s);                                                                   \
    }
#define DEF_EXT_SCAN(NAME, T, K, KEY, BAD, OP)                                          \
    SIMD_CLONES static K NAME(const T *restrict x, int64_t n, K *key) {                 \
        enum { CH = EXT_CHUNK / sizeof(T), SUB = EXT_SUB / sizeof(T) };                 \
        K s, b = 0;                                                                     \
        memcpy(&s, x, sizeof s);                                                        \
        K a = KEY(s);                                                                   \
        if (n == CH) {                                                                  \
            for (int k = 0; k < CH; k++) EXT_STEP(k, KEY, BAD, OP)                      \
        } else if (n >= SUB) { /* the last block overlaps: OP is idempotent */          \
            for (int64_t i = 0; i < n; i += SUB) {                                      \
                const T *y = x + (i + SUB <= n ? i : n - SUB);                          \
                for (int k = 0; k < SUB; k++) EXT_STEP_AT(y, k, KEY, BAD, OP)           \
            }                                                                           \
        } else {                                                                        \
            for (int64_t i = 0; i < n; i++) EXT_STEP(i, KEY, BAD, OP)                   \
        }                                                                               \
        *key = a;                                                                       \
        return b;                                                                       \
    }

/* ---- fast float32 chunk extremes (x86-64) --------------------------------
 * The key scan above costs ~9 vector instructions per 64 bytes, which on a
 * 16M-element array (L3-resident, 64 MB) leaves it well behind NumPy when
 * the core is shared (SMT siblings, other processes).  For a full float32
 * chunk this computes the plain float max (min) with 8 independent
 * accumulators (native max/min instructions, one per 64 bytes) and, beside
 * it, the float sum of the chunk, used only as a detector: it is finite iff
 * no element is NaN or +-inf (or the sum overflowed).  When the sum is not
 * finite or the extreme is +-0 (where the float order does not say which
 * zero wins, but the key order does: +0 > -0) the chunk is redone by the key
 * scan; otherwise the float extreme is exactly the key extreme, since the
 * values are ordered alike.  So results are bit-identical to the key scan.
 * Built for AVX-512F and AVX2 with target attributes and chosen once by CPU
 * detection; elsewhere (and with EM_NO_SIMD_CLONES) the key scan alone runs. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(EM_NO_SIMD_CLONES)
#include <immintrin.h>
#define FEXT_N 2048 /* = EXT_CHUNK / sizeof(float) */
/* AVX-512 only: software prefetch FEXT_PF floats (4 KiB) ahead, two lines per
 * 8 vectors.  When the array comes from DRAM (beyond what the L3 holds for
 * this core), the loop issues two fused uops per 64 bytes (max and the
 * detector add, each with its load), so the reorder buffer alone keeps fewer
 * lines in flight than NumPy's one-op loop; the prefetch puts them in flight
 * early.  Measured on a Xeon, 512 MB array (1 thread): 13.6 -> 15.1 GB/s,
 * NumPy's max 16 GB/s; no change when L2/L3-resident.  On Zen 3 (AVX2) the
 * same two prefetches per 8 vectors (every other line) cut 16M from 11-13 to
 * 7-8 GB/s, and one per line was level with none at 16M and slower at 1M, so
 * the AVX2 loop has none.  A prefetch past the array end is harmless
 * (prefetches never fault) and it changes no result. */
#define FEXT_PF 1024
#define FEXT_PF512(x, i)                                                                \
    _mm_prefetch((const char *)((x) + (i) + FEXT_PF), _MM_HINT_T0);                     \
    _mm_prefetch((const char *)((x) + (i) + FEXT_PF + 64), _MM_HINT_T0);
#define FEXT_NO_PF(x, i)

#define FEXT_BODY(V, W, LOAD, MAX, MIN, ZERO, ADD, HMAX, HMIN, NONFINITE, PF)          \
    V a[8], s0 = ZERO(), s1 = ZERO();                                                   \
    _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) a[k] = LOAD(x + W * k);         \
    for (int i = 0; i < FEXT_N; i += 8 * W) {                                           \
        PF(x, i)                                                                        \
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) { /* registers, not memory */ \
            V v = LOAD(x + i + W * k);                                                  \
            a[k] = want_max ? MAX(a[k], v) : MIN(a[k], v);                              \
            if (k & 1) s1 = ADD(s1, v);                                                 \
            else s0 = ADD(s0, v);                                                       \
        }                                                                               \
    }                                                                                   \
    _Pragma("GCC unroll 4") for (int w = 4; w > 0; w /= 2)                              \
        _Pragma("GCC unroll 4") for (int k = 0; k < w; k++)                             \
            a[k] = want_max ? MAX(a[k], a[k + w]) : MIN(a[k], a[k + w]);                \
    float m = want_max ? HMAX(a[0]) : HMIN(a[0]);                                       \
    *out = m;                                                                           \
    return !NONFINITE(ADD(s0, s1)) && m != 0;

/* horizontal extremes and "some lane is NaN or +-inf" (v - v is NaN there) */
#define HMAX512(v) _mm512_reduce_max_ps(v)
#define HMIN512(v) _mm512_reduce_min_ps(v)
#define NONFINITE512(v) (_mm512_cmp_ps_mask(_mm512_sub_ps(v, v), _mm512_sub_ps(v, v), _CMP_UNORD_Q) != 0)
#define NONFINITE256(v) (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_sub_ps(v, v), _mm256_sub_ps(v, v), _CMP_UNORD_Q)) != 0)
__attribute__((target("avx2"))) static inline float hext256(__m256 v, bool want_max) {
    __m128 h = _mm256_extractf128_ps(v, 1), l = _mm256_castps256_ps128(v);
    h = want_max ? _mm_max_ps(h, l) : _mm_min_ps(h, l);
    l = _mm_movehl_ps(h, h);
    h = want_max ? _mm_max_ps(h, l) : _mm_min_ps(h, l);
    l = _mm_shuffle_ps(h, h, 1);
    h = want_max ? _mm_max_ss(h, l) : _mm_min_ss(h, l);
    return _mm_cvtss_f32(h);
}
#define HMAX256(v) hext256(v, true)
#define HMIN256(v) hext256(v, false)

/* want_max is a constant in each inlined copy, so the loops carry no branch */
__attribute__((target("avx512f"), always_inline)) static inline bool fext_avx512_(const float *x, const bool want_max,
                                                                                float *out) {
    FEXT_BODY(__m512, 16, _mm512_loadu_ps, _mm512_max_ps, _mm512_min_ps, _mm512_setzero_ps, _mm512_add_ps,
              HMAX512, HMIN512, NONFINITE512, FEXT_PF512)
}
__attribute__((target("avx512f"))) static bool fext_avx512(const float *x, bool want_max, float *out) {
    return want_max ? fext_avx512_(x, true, out) : fext_avx512_(x, false, out);
}
__attribute__((target("avx2"), always_inline)) static inline bool fext_avx2_(const float *x, const bool want_max,
                                                                           float *out) {
    FEXT_BODY(__m256, 8, _mm256_loadu_ps, _mm256_max_ps, _mm256_min_ps, _mm256_setzero_ps, _mm256_add_ps,
              HMAX256, HMIN256, NONFINITE256, FEXT_NO_PF)
}
__attribute__((target("avx2"))) static bool fext_avx2(const float *x, bool want_max, float *out) {
    return want_max ? fext_avx2_(x, true, out) : fext_avx2_(x, false, out);
}
_Static_assert(FEXT_N * sizeof(float) == EXT_CHUNK, "the fast scan covers exactly one chunk");

typedef bool (*fext_fn)(const float *, bool, float *);
static fext_fn fext_choose(void) {
    static _Atomic(fext_fn) chosen;
    static atomic_int done;
    if (atomic_load_explicit(&done, memory_order_acquire)) return atomic_load_explicit(&chosen, memory_order_relaxed);
    __builtin_cpu_init();
    fext_fn f = __builtin_cpu_supports("avx512f") ? fext_avx512 : __builtin_cpu_supports("avx2") ? fext_avx2 : NULL;
    atomic_store_explicit(&chosen, f, memory_order_relaxed); /* racing first calls store the same value */
    atomic_store_explicit(&done, 1, memory_order_release);
    return f;
}
/* Whether chunk x[0..m) got its exact extreme in *v by the fast path. */
static bool fext_f32(const float *x, int64_t m, bool want_max, float *v) {
    fext_fn f;
    return m == FEXT_N && (f = fext_choose()) && f(x, want_max, v);
}
#define EXT_FAST_f32(x, m, want_max, v) fext_f32(x, m, want_max, v)
#else
#define EXT_FAST_f32(x, m, want_max, v) false
#endif
#define EXT_FAST_f64(x, m, want_max, v) false
#define EXT_FAST_b(x, m, want_max, v) false
#define EXT_FAST_u8(x, m, want_max, v) false
#define EXT_FAST_i8(x, m, want_max, v) false
#define EXT_FAST_i32(x, m, want_max, v) false
#define EXT_FAST_i64(x, m, want_max, v) false

/* Chunk c of an n-element array: the last one is moved back to end at n,
 * overlapping the one before, so every chunk of an array of >= ch elements
 * is full (a fixed-count loop); max, min and the NaN flag do not mind. */
static int64_t chunk_at(int64_t c, int64_t n, int64_t ch) { return c + ch > n && n > ch ? n - ch : c; }

#define DEF_EXT(S, T, K, KEY, BAD, ISNAN)                                               \
    DEF_EXT_SCAN(extmax_##S, T, K, KEY, BAD, OP_IMAX)                                   \
    DEF_EXT_SCAN(extmin_##S, T, K, KEY, BAD, OP_IMIN)                                   \
    /* first i with x[i] == v (n - 1 if none): the least hit of each block, */          \
    /* the last block overlapping (its overlap was seen to hold no hit) */              \
    SIMD_CLONES static int64_t first_eq_##S(const T *restrict x, int64_t n, T v) {      \
        enum { EQB = EXT_EQ_BLOCK / sizeof(T) };                                        \
        if (n < EQB) {                                                                  \
            int64_t i = 0;                                                              \
            while (i < n - 1 && !(x[i] == v)) i++;                                      \
            return i;                                                                   \
        }                                                                               \
        for (int64_t i = 0; i < n; i += EQB) {                                          \
            const T *y = x + (i + EQB <= n ? i : n - EQB);                              \
            int hit = EQB;                                                              \
            for (int k = 0; k < EQB; k++) hit = OP_IMIN(hit, y[k] == v ? k : EQB);      \
            if (hit < EQB) return y - x + hit;                                          \
        }                                                                               \
        return n - 1;                                                                   \
    }                                                                                   \
    /* whether x[0..n) holds a zero (zero) or a nonzero element: blocks of */           \
    /* EXT_SUB (the last overlapping), stopping at the first that does */               \
    SIMD_CLONES static bool has_##S(const T *restrict x, int64_t n, bool zero) {        \
        enum { SUB = EXT_SUB / sizeof(T) };                                             \
        if (n < SUB) {                                                                  \
            for (int64_t i = 0; i < n; i++)                                             \
                if ((x[i] == 0) == zero) return true;                                   \
            return false;                                                               \
        }                                                                               \
        for (int64_t i = 0; i < n; i += SUB) {                                          \
            const T *y = x + (i + SUB <= n ? i : n - SUB);                              \
            K all = 1, any = 0;                                                         \
            if (zero)                                                                   \
                for (int k = 0; k < SUB; k++) all &= (K)(y[k] != 0);                    \
            else                                                                        \
                for (int k = 0; k < SUB; k++) any |= (K)(y[k] != 0);                    \
            if (zero ? !all : any) return true;                                         \
        }                                                                               \
        return false;                                                                   \
    }                                                                                   \
    static int64_t first_nan_##S(const T *x, int64_t n) {                               \
        int64_t j = 0;                                                                  \
        while (j < n - 1 && !ISNAN(x[j])) j++;                                          \
        return j;                                                                       \
    }                                                                                   \
    /* Extreme of chunk x[0..m): *v its value; a NaN's index, or -1 if none. */         \
    static int64_t ext_chunk_##S(const T *x, int64_t m, bool want_max, T *v) {          \
        if (EXT_FAST_##S(x, m, want_max, v)) return -1;                                 \
        K k, bad = want_max ? extmax_##S(x, m, &k) : extmin_##S(x, m, &k);              \
        if (bad) return first_nan_##S(x, m);                                            \
        k = KEY(k);                                                                     \
        memcpy(v, &k, sizeof k);                                                        \
        return -1;                                                                      \
    }                                                                                   \
    static T extval_##S##_s(const T *x, int64_t n, bool want_max) {                     \
        const int64_t ch = EXT_CHUNK / (int64_t)sizeof(T);                              \
        T best = x[0], v;                                                               \
        for (int64_t c = 0; c < n; c += ch) {                                           \
            int64_t at = chunk_at(c, n, ch), m = n - at < ch ? n - at : ch;             \
            int64_t nan = ext_chunk_##S(x + at, m, want_max, &v);                       \
            if (nan >= 0) return x[at + nan];                                           \
            /* key order, not float order: +0 beats -0 */                               \
            K kb, kv;                                                                   \
            memcpy(&kb, &best, sizeof kb);                                              \
            memcpy(&kv, &v, sizeof kv);                                                 \
            if (c == 0 || (want_max ? KEY(kv) > KEY(kb) : KEY(kv) < KEY(kb))) best = v; \
        }                                                                               \
        return best;                                                                    \
    }                                                                                   \
    static int64_t argext_##S##_s(const T *x, int64_t n, bool want_max) {               \
        const int64_t ch = EXT_CHUNK / (int64_t)sizeof(T);                              \
        T best = x[0], v;                                                               \
        int64_t best_at = 0;                                                            \
        for (int64_t c = 0; c < n; c += ch) {                                           \
            int64_t at = chunk_at(c, n, ch), m = n - at < ch ? n - at : ch;             \
            int64_t nan = ext_chunk_##S(x + at, m, want_max, &v);                       \
            if (nan >= 0) return at + nan;                                              \
            /* a strictly better value lies past the overlap: the earlier chunk */      \
            /* already saw [at, c) */                                                   \
            if (want_max ? v > best : v < best) best = v, best_at = at;                 \
        }                                                                               \
        return best_at + first_eq_##S(x + best_at, n - best_at, best);                  \
    }                                                                                   \
    DEF_PEXT(S, T, K, KEY)

/* Kernels every dtype has: nonzero counts, max/min rows (the contiguous
 * max/min/argmax/argmin come from DEF_EXT). */
#define DEF_COMMON(S, T, MAXOP, MINOP)                                                  \
    DEF_FOLD(count_##S, T, int64_t, 0, OP_ADD, (int64_t)(v != 0))                       \
    DEF_ROWS(rcount_##S, T, int64_t, OP_ADD, (int64_t)(v != 0))                         \
    DEF_ROWS(rmax_##S, T, T, MAXOP, v)                                                  \
    DEF_ROWS(rmin_##S, T, T, MINOP, v)

#define COMMON_SLICE_CASES(S, T)                                                        \
    case EM_OP_MAX: *(T *)out = extval_##S(x, n, true); break;                          \
    case EM_OP_MIN: *(T *)out = extval_##S(x, n, false); break;                         \
    case EM_OP_ARGMAX: *(int64_t *)out = argext_##S(x, n, true); break;                 \
    case EM_OP_ARGMIN: *(int64_t *)out = argext_##S(x, n, false); break;                \
    case EM_OP_ALL: *(bool *)out = !has_##S(x, n, true); break;                         \
    case EM_OP_ANY: *(bool *)out = has_##S(x, n, false); break;                         \
    case EM_OP_COUNT_NONZERO: store_count(c, count_##S(x, n, 0, 0), out); break;

/* out is the output row (L elements); scratch has room for (levels + 1) rows
 * of 8 bytes: all/any count into its first row. */
#define COMMON_ROWS_CASES(S, T)                                                         \
    case EM_OP_MAX: rmax_##S(g, 0, c->n, (T *)out, (T *)scratch); break;                \
    case EM_OP_MIN: rmin_##S(g, 0, c->n, (T *)out, (T *)scratch); break;                \
    case EM_OP_COUNT_NONZERO: rcount_##S(g, 0, c->n, (int64_t *)out, scratch); break;   \
    case EM_OP_ALL:                                                                     \
    case EM_OP_ANY:                                                                     \
        rcount_##S(g, 0, c->n, scratch, scratch + g->L);                                \
        for (int64_t j = 0; j < g->L; j++) store_count(c, scratch[j], out + j);         \
        break;

/* Integer and bool inputs: sum and prod wrap in 64 bits, output int64. */
#define DEF_INT(S, T, K)                                                                      \
    DEF_COMMON(S, T, OP_IMAX, OP_IMIN)                                                        \
    DEF_EXT(S, T, K, INT_KEY, INT_BAD, INT_ISNAN)                                             \
    DEF_FOLD(isum_##S, T, uint64_t, 0, OP_ADD, (uint64_t)v)                                   \
    DEF_FOLD(iprod_##S, T, uint64_t, 1, OP_MUL, (uint64_t)v)                                  \
    DEF_ROWS(risum_##S, T, uint64_t, OP_ADD, (uint64_t)v)                                     \
    DEF_ROWS(riprod_##S, T, uint64_t, OP_MUL, (uint64_t)v)                                    \
    static void slice_##S(const rctx *c, const void *px, char *out) {                         \
        const T *x = px;                                                                      \
        int64_t n = c->n;                                                                     \
        switch (c->op) {                                                                      \
        case EM_OP_SUM: *(int64_t *)out = (int64_t)isum_##S(x, n, 0, 0); break;               \
        case EM_OP_PROD: *(int64_t *)out = (int64_t)iprod_##S(x, n, 0, 0); break;             \
            COMMON_SLICE_CASES(S, T)                                                          \
        default: break;                                                                       \
        }                                                                                     \
    }                                                                                         \
    static void rows_##S(const rctx *c, const rows_t *g, char *out, int64_t *scratch) {       \
        switch (c->op) {                                                                      \
        case EM_OP_SUM: risum_##S(g, 0, c->n, (uint64_t *)out, (uint64_t *)scratch); break;   \
        case EM_OP_PROD: riprod_##S(g, 0, c->n, (uint64_t *)out, (uint64_t *)scratch); break; \
            COMMON_ROWS_CASES(S, T)                                                           \
        default: break;                                                                       \
        }                                                                                     \
    }

/* Float inputs: everything, computed in T. */
#define DEF_FLOAT(S, T, K, KEY, BAD, SUMEXP, SQRT, EXP, LOG, POW, FABS)                 \
    DEF_COMMON(S, T, OP_FMAX, OP_FMIN)                                                  \
    DEF_EXT(S, T, K, KEY, BAD, FLT_ISNAN)                                               \
    DEF_FOLD(sum_##S, T, T, 0, OP_ADD, v)                                               \
    DEF_FOLD(prod_##S, T, T, 1, OP_MUL, v)                                              \
    DEF_FOLD(sqdev_##S, T, T, 0, OP_ADD, (v - m) * (v - m))                             \
    DEF_FOLD(sumsq_##S, T, T, 0, OP_ADD, v * v)                                         \
    DEF_FOLD(sumabs_##S, T, T, 0, OP_ADD, FABS(v))                                      \
    DEF_FOLD(sumexp_##S, T, T, 0, OP_ADD, EXP(v - m))                                   \
    DEF_FOLD(sumpow_##S, T, T, 0, OP_ADD, POW(FABS(v), p))                              \
    DEF_FOLD(maxabs_##S, T, T, FABS(v), OP_FMAX, FABS(v))                               \
    DEF_FOLD(minabs_##S, T, T, FABS(v), OP_FMIN, FABS(v))                               \
    DEF_ROWS(rsum_##S, T, T, OP_ADD, v)                                                 \
    DEF_ROWS(rprod_##S, T, T, OP_MUL, v)                                                \
    static T var_##S(const T *x, int64_t n, double correction) {                        \
        T mean = sum_##S(x, n, 0, 0) / (T)n;                                            \
        double d = (double)n - correction; /* NumPy: max(n - ddof, 0) */                \
        return sqdev_##S(x, n, mean, 0) / (T)(d > 0 ? d : 0);                           \
    }                                                                                   \
    static T lse_##S(const T *x, int64_t n) {                                           \
        T m = extval_##S(x, n, true);                                                   \
        if (m != m || isinf(m)) return m; /* NaN, all -inf, or some +inf */             \
        return m + LOG(SUMEXP(x, n, m, 0));                                             \
    }                                                                                   \
    static T norm_##S(const T *x, int64_t n, double ord) {                              \
        if (ord == 2) return SQRT(sumsq_##S(x, n, 0, 0));                               \
        if (ord == 1) return sumabs_##S(x, n, 0, 0);                                    \
        if (ord == INFINITY) return maxabs_##S(x, n, 0, 0);                             \
        if (ord == -INFINITY) return minabs_##S(x, n, 0, 0);                            \
        if (ord == 0) return (T)count_##S(x, n, 0, 0);                                  \
        return POW(sumpow_##S(x, n, 0, (T)ord), (T)(1 / ord));                          \
    }                                                                                   \
    static void slice_##S(const rctx *c, const void *px, char *out) {                   \
        const T *x = px;                                                                \
        int64_t n = c->n;                                                               \
        T *o = (T *)out;                                                                \
        switch (c->op) {                                                                \
        case EM_OP_SUM: *o = sum_##S(x, n, 0, 0); break;                                \
        case EM_OP_MEAN: *o = sum_##S(x, n, 0, 0) / (T)n; break;                        \
        case EM_OP_PROD: *o = prod_##S(x, n, 0, 0); break;                              \
        case EM_OP_VAR: *o = var_##S(x, n, c->correction); break;                       \
        case EM_OP_STD: *o = SQRT(var_##S(x, n, c->correction)); break;                 \
        case EM_OP_LOGSUMEXP: *o = lse_##S(x, n); break;                                \
        case EM_OP_NORM: *o = norm_##S(x, n, c->ord); break;                            \
            COMMON_SLICE_CASES(S, T)                                                    \
        default: break;                                                                 \
        }                                                                               \
    }                                                                                   \
    static void rows_##S(const rctx *c, const rows_t *g, char *out, int64_t *scratch) { \
        T *o = (T *)out;                                                                \
        switch (c->op) {                                                                \
        case EM_OP_SUM: rsum_##S(g, 0, c->n, o, (T *)scratch); break;                   \
        case EM_OP_MEAN:                                                                \
            rsum_##S(g, 0, c->n, o, (T *)scratch);                                      \
            for (int64_t j = 0; j < g->L; j++) o[j] /= (T)c->n;                         \
            break;                                                                      \
        case EM_OP_PROD: rprod_##S(g, 0, c->n, o, (T *)scratch); break;                 \
            COMMON_ROWS_CASES(S, T)                                                     \
        default: break;                                                                 \
        }                                                                               \
    }

DEF_INT(b, bool, uint8_t)
DEF_INT(u8, uint8_t, uint8_t)
DEF_INT(i8, int8_t, int8_t)
DEF_INT(i32, int32_t, int32_t)
DEF_INT(i64, int64_t, int64_t)
static float sumexp_fast_f32(const float *x, int64_t n, float m, float p);
DEF_FLOAT(f32, float, int32_t, F32_KEY, F32_BAD, sumexp_fast_f32, sqrtf, expf, logf, powf, fabsf)
DEF_FLOAT(f64, double, int64_t, F64_KEY, F64_BAD, sumexp_f64, sqrt, exp, log, pow, fabs)

/* logsumexp's sum of exp(x - m) in float32: sumexp_f32's pairwise split and
 * leaves, with the vectorised exp of kernels/vmath (libm's expf is scalar). */
static float sumexp_fast_f32_s(const float *x, int64_t n, float m, float p) {
    em__vmath_fn vexp = em__vmath_f32(EM_OP_EXP);
    if (!vexp) return sumexp_f32(x, n, m, p);
    if (n > LEAF) {
        int64_t h = n / 2 / LANES * LANES;
        return sumexp_fast_f32_s(x, h, m, p) + sumexp_fast_f32_s(x + h, n - h, m, p);
    }
    float buf[LEAF];
    for (int64_t i = 0; i < n; i++) buf[i] = x[i] - m;
    vexp(buf, buf, n, 0);
    return sum_f32_s(buf, n, 0, 0);
}
DEF_PFOLD(sumexp_fast_f32, float, float, OP_ADD)

typedef void (*slice_fn)(const rctx *c, const void *x, char *out);
typedef void (*rows_fn)(const rctx *c, const rows_t *g, char *out, int64_t *scratch);
static const slice_fn slice_fns[EM_DTYPE_COUNT] = {slice_b,   slice_u8,  slice_i8, slice_i32,
                                                   slice_i64, slice_f32, slice_f64};
static const rows_fn rows_fns[EM_DTYPE_COUNT] = {rows_b, rows_u8, rows_i8, rows_i32, rows_i64, rows_f32, rows_f64};

/* ---- geometry --------------------------------------------------------- */

typedef struct {
    int nk, nr;                                    /* kept / reduced axes after coalescing */
    int64_t ks[EM_MAX_DIMS], kst[EM_MAX_DIMS];     /* byte strides */
    int64_t rs[EM_MAX_DIMS], rst[EM_MAX_DIMS];
} geom;

/* Appends an axis to a group, dropping size 1 and merging with the previous
 * axis when together they are one strided run (C order is preserved). */
static void push_axis(int *n, int64_t *shape, int64_t *strides, int64_t size, int64_t stride) {
    if (size == 1) return;
    if (*n > 0 && strides[*n - 1] == stride * size) {
        shape[*n - 1] *= size;
        strides[*n - 1] = stride;
        return;
    }
    shape[*n] = size;
    strides[*n] = stride;
    (*n)++;
}

static void make_geom(const em_tensor *x, uint32_t mask, geom *g) {
    int64_t es = (int64_t)em__dsize(x->dtype);
    g->nk = g->nr = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (mask & (1u << i))
            push_axis(&g->nr, g->rs, g->rst, x->shape[i], x->strides[i] * es);
        else
            push_axis(&g->nk, g->ks, g->kst, x->shape[i], x->strides[i] * es);
    }
}

/* Copies the R reduced elements under p, in C order, to dst. */
static void gather(char *dst, const char *p, const geom *g, size_t es) {
    int64_t inner = g->rs[g->nr - 1], s = g->rst[g->nr - 1], nouter = 1;
    for (int d = 0; d < g->nr - 1; d++) nouter *= g->rs[d];
    for (int64_t o = 0; o < nouter; o++) {
        const char *q = at(p, g->nr - 1, g->rs, g->rst, o);
        switch (es) {
        case 1: for (int64_t i = 0; i < inner; i++) dst[i] = q[i * s]; break;
        case 4: for (int64_t i = 0; i < inner; i++) memcpy(dst + 4 * i, q + i * s, 4); break;
        default: for (int64_t i = 0; i < inner; i++) memcpy(dst + 8 * i, q + i * s, 8); break;
        }
        dst += inner * (int64_t)es;
    }
}

static bool is_fold(em_op op) {
    return op == EM_OP_SUM || op == EM_OP_MEAN || op == EM_OP_PROD || op == EM_OP_MAX || op == EM_OP_MIN ||
           op == EM_OP_ALL || op == EM_OP_ANY || op == EM_OP_COUNT_NONZERO;
}

/* Reduced elements per parallel range: ~10-30 us of a sum. */
#define RED_GRAIN 32768

/* The output loops run in parallel over outputs (each output is computed
 * by one thread, exactly as serially, so results do not depend on the
 * thread count): slices gather into the thread's buffer, row folds go by
 * (kept row, block of columns) with the thread's scratch rows. */
typedef struct {
    const rctx *c;
    const geom *g;
    const char *px;
    char *po;
    em_dtype dt;
    size_t es, oes;
    char *bufs;      /* slices: one gather buffer of n elements per thread, or NULL */
    int64_t *scratch; /* rows: `per` int64 per thread */
    int64_t L, cb, ncb, per;
} out_job;

static void slices_range(void *vj, int64_t b, int64_t e, int tid) {
    const out_job *j = vj;
    char *buf = j->bufs ? j->bufs + (size_t)tid * (size_t)j->c->n * j->es : NULL;
    for (int64_t o = b; o < e; o++) {
        const char *p = at(j->px, j->g->nk, j->g->ks, j->g->kst, o);
        if (buf) gather(buf, p, j->g, j->es);
        slice_fns[j->dt](j->c, buf ? buf : p, j->po + o * (int64_t)j->oes);
    }
}

static void rows_range(void *vj, int64_t b, int64_t e, int tid) {
    const out_job *j = vj;
    const geom *g = j->g;
    for (int64_t i = b; i < e; i++) {
        int64_t o = i / j->ncb, c0 = i % j->ncb * j->cb;
        rows_t rg = {at(j->px, g->nk - 1, g->ks, g->kst, o) + c0 * (int64_t)j->es, g->nr, g->rs, g->rst,
                     j->L - c0 < j->cb ? j->L - c0 : j->cb};
        rows_fns[j->dt](j->c, &rg, j->po + (o * j->L + c0) * (int64_t)j->oes, j->scratch + tid * j->per);
    }
}

/* Fills out (contiguous, one element per kept position) from x; n >= 1. */
static em_status reduce_run(const rctx *c, const em_tensor *x, uint32_t mask, em_tensor *out) {
    geom g;
    make_geom(x, mask, &g);
    size_t es = em__dsize(x->dtype), oes = em__dsize(out->dtype);
    int64_t nout = em__numel(g.nk, g.ks);
    if (nout == 0) return EM_OK;
    out_job j = {c, &g, em__ptr(x), em__ptr(out), x->dtype, es, oes, NULL, NULL, 0, 0, 0, 0};
    int nt = nout * c->n > RED_GRAIN ? em__threads() : 1;
    bool contiguous = g.nr == 0 || (g.nr == 1 && g.rst[0] == (int64_t)es);
    if (!contiguous && is_fold(c->op) && g.nk > 0 && g.kst[g.nk - 1] == (int64_t)es) {
        j.L = j.cb = g.ks[g.nk - 1];
        int64_t nrows = nout / j.L;
        if (nt > 1 && nrows < 4 * nt) { /* few kept rows: cut the columns too */
            int64_t cb = (j.L + 4 * nt - 1) / (4 * nt);
            cb = (cb < 256 ? 256 : cb + LANES - 1) / LANES * LANES;
            if (cb < j.L) j.cb = cb;
        }
        j.ncb = (j.L + j.cb - 1) / j.cb;
        int levels = 2; /* one row per pairwise split, plus all/any's count row */
        for (int64_t r = c->n; r > ROW_LEAF; r = (r + 1) / 2) levels++;
        j.per = levels * j.cb;
        EM_TRY(em__alloc_or_fail((size_t)(nt * j.per) * sizeof(int64_t), em_op_name(c->op), (void **)&j.scratch));
        int64_t work = c->n * j.cb;
        em__parallel_for(nrows * j.ncb, work >= RED_GRAIN ? 1 : RED_GRAIN / work, nt, rows_range, &j);
        em__free(j.scratch);
        return EM_OK;
    }
    /* a few long slices: serial over outputs, each fold parallel inside */
    if (nout < 4 * nt && c->n > 2 * PF_CHUNK) nt = 1;
    if (!contiguous)
        EM_TRY(em__alloc_or_fail((size_t)nt * (size_t)c->n * es, em_op_name(c->op), (void **)&j.bufs));
    em__parallel_for(nout, c->n >= RED_GRAIN ? 1 : RED_GRAIN / c->n, nt, slices_range, &j);
    em__free(j.bufs);
    return EM_OK;
}

/* ---- options, dtypes, driver ------------------------------------------ */

/* Normalises opts->axes into a bitmask (NULL = all axes). */
static em_status parse_axes(const char *name, const em_reduce_options *o, int ndim, uint32_t *mask) {
    if (!o->axes) {
        *mask = ndim ? (uint32_t)((1u << ndim) - 1) : 0;
        return EM_OK;
    }
    if (o->naxes < 0 || o->naxes > EM_MAX_DIMS)
        return em__error(EM_ERR_INVALID_ARG, "%s: naxes %d is not in [0, %d]", name, o->naxes, EM_MAX_DIMS);
    uint32_t m = 0;
    for (int i = 0; i < o->naxes; i++) {
        int a;
        EM_TRY(em__axis(name, o->axes[i], ndim, &a));
        if (m & (1u << a))
            return em__error(EM_ERR_INVALID_ARG, "%s: axis %d is repeated in the axes of a tensor of %d dimensions",
                             name, o->axes[i], ndim);
        m |= 1u << a;
    }
    *mask = m;
    return EM_OK;
}

static bool is_intlike(em_dtype d) { return d == EM_BOOL || em_dtype_is_int(d); }

/* ct: the dtype x is cast to before reducing (integer sums skip the cast and
 * accumulate in int64 directly); odt: the output dtype. */
static em_status result_dtypes(const char *name, em_op op, em_dtype in, int want, em_dtype *ct, em_dtype *odt) {
    if (want < -1 || want >= EM_DTYPE_COUNT) return em__error(EM_ERR_DTYPE, "%s: invalid dtype %d", name, want);
    switch (op) {
    case EM_OP_SUM:
    case EM_OP_PROD:
    case EM_OP_CUMSUM:
    case EM_OP_CUMPROD: *ct = *odt = want >= 0 ? (em_dtype)want : em_dtype_is_float(in) ? in : EM_I64; return EM_OK;
    case EM_OP_MEAN:
    case EM_OP_VAR:
    case EM_OP_STD:
    case EM_OP_LOGSUMEXP:
    case EM_OP_NORM:
        if (want >= 0 && !em_dtype_is_float((em_dtype)want))
            return em__error(EM_ERR_DTYPE, "%s: dtype %s is not a float dtype", name, em_dtype_name((em_dtype)want));
        *ct = *odt = want >= 0 ? (em_dtype)want : em_dtype_is_float(in) ? in : EM_F32;
        return EM_OK;
    default:
        if (want >= 0)
            return em__error(EM_ERR_INVALID_ARG,
                             "%s: the dtype option applies to sum, prod, cumsum, cumprod and float reductions only",
                             name);
        *ct = in;
        *odt = op == EM_OP_MAX || op == EM_OP_MIN ? in : op == EM_OP_ALL || op == EM_OP_ANY ? EM_BOOL : EM_I64;
        return EM_OK;
    }
}

/* Whether x must be cast to ct first: not for integer accumulation of
 * integer or bool input (read as is, wrapped on the final store). */
static bool needs_cast(em_dtype in, em_dtype ct) {
    return in != ct && !(em_dtype_is_int(ct) && is_intlike(in));
}

/* Result for zero reduced elements; NAN marks "no identity: error". */
static double empty_value(em_op op) {
    switch (op) {
    case EM_OP_PROD:
    case EM_OP_ALL: return 1;
    case EM_OP_MEAN:
    case EM_OP_VAR:
    case EM_OP_STD: return NAN;
    case EM_OP_LOGSUMEXP: return -INFINITY;
    default: return 0;
    }
}

static bool has_identity(em_op op) {
    return op != EM_OP_MAX && op != EM_OP_MIN && op != EM_OP_ARGMAX && op != EM_OP_ARGMIN;
}

/* *owned = x cast to ct when needs_cast, else NULL (use x itself). */
static em_status cast_for(const em_tensor *x, em_dtype ct, em_tensor **owned) {
    *owned = NULL;
    return needs_cast(x->dtype, ct) ? em_tensor_cast(x, ct, owned) : EM_OK;
}

/* ---- cumsum / cumprod -------------------------------------------------- */
/* Scans are sequential along the axis, as in NumPy: x[i] = x[i-1] op x[i].
 * The work tensor is contiguous with the axis outside the rest, so the
 * inner loop runs over contiguous elements (and vectorises unless the axis
 * is the last one).  Integers accumulate in int64 with wrap-around. */
#define WRAP_ADD(a, b) ((int64_t)((uint64_t)(a) + (uint64_t)(b)))
#define WRAP_MUL(a, b) ((int64_t)((uint64_t)(a) * (uint64_t)(b)))
#define DEF_SCAN(NAME, T, OP)                                                           \
    static void NAME(T *x, int64_t outer, int64_t n, int64_t inner) {                   \
        for (int64_t o = 0; o < outer; o++, x += n * inner)                             \
            for (int64_t i = 1; i < n; i++) {                                           \
                T *cur = x + i * inner;                                                 \
                const T *prev = cur - inner;                                            \
                for (int64_t j = 0; j < inner; j++) cur[j] = OP(prev[j], cur[j]);       \
            }                                                                           \
    }
DEF_SCAN(cumsum_f32, float, OP_ADD)
DEF_SCAN(cumsum_f64, double, OP_ADD)
DEF_SCAN(cumsum_i64, int64_t, WRAP_ADD)
DEF_SCAN(cumprod_f32, float, OP_MUL)
DEF_SCAN(cumprod_f64, double, OP_MUL)
DEF_SCAN(cumprod_i64, int64_t, WRAP_MUL)

/* ct: accumulate/output dtype.  axes NULL scans the flattened tensor. */
static em_status cumulative(em_op op, const em_tensor *x, const em_reduce_options *o, em_dtype ct, em_tensor **out) {
    const char *name = em_op_name(op);
    int axis = -1;
    if (o->axes) {
        if (o->naxes != 1)
            return em__error(EM_ERR_INVALID_ARG,
                             "%s: takes exactly one axis (or axes NULL for the flattened tensor), got %d", name,
                             o->naxes);
        EM_TRY(em__axis(name, o->axes[0], x->ndim, &axis));
    }
    em_dtype adt = em_dtype_is_float(ct) ? ct : EM_I64;
    em_tensor *a = NULL, *w = NULL, *t = NULL;
    em_status st;
    if ((st = cast_for(x, ct, &a)) != EM_OK) goto fail;
    if (a && a->dtype == adt) { /* the cast is already a private contiguous copy */
        w = a;
        a = NULL;
    } else if ((st = em_tensor_cast(a ? a : x, adt, &w)) != EM_OK) {
        goto fail;
    }
    int64_t numel = em__numel(x->ndim, x->shape), n = axis < 0 ? numel : x->shape[axis];
    int64_t outer = axis < 0 ? 1 : em__numel(axis, x->shape);
    int64_t inner = axis < 0 ? 1 : em__numel(x->ndim - axis - 1, x->shape + axis + 1);
    bool sum = op == EM_OP_CUMSUM;
    void *p = em__ptr(w);
    switch (adt) {
    case EM_F32: (sum ? cumsum_f32 : cumprod_f32)(p, outer, n, inner); break;
    case EM_F64: (sum ? cumsum_f64 : cumprod_f64)(p, outer, n, inner); break;
    default: (sum ? cumsum_i64 : cumprod_i64)(p, outer, n, inner); break;
    }
    if (adt != ct) {
        if ((st = em_tensor_cast(w, ct, &t)) != EM_OK) goto fail;
        em_tensor_free(w);
        w = t;
        t = NULL;
    }
    if (axis < 0 && w->ndim != 1) {
        if ((st = em_tensor_view(w, 1, &numel, &t)) != EM_OK) goto fail;
        em_tensor_free(w);
        w = t;
    }
    em_tensor_free(a);
    *out = w;
    return EM_OK;
fail:
    em_tensor_free(a);
    em_tensor_free(w);
    return st;
}

/* ---- the entry point ---------------------------------------------------- */

static em_status reduce_raw(em_op op, const em_tensor *x, const em_reduce_options *opts, em_tensor **out) {
    if (op <= EM_OP_BINARY_END_ || op >= EM_OP_REDUCE_END_)
        return em__error(EM_ERR_INVALID_ARG, "reduce: op %d (%s) is not a reduction", (int)op,
                         em_op_name(op) ? em_op_name(op) : "invalid");
    const char *name = em_op_name(op);
    if (!x || !out) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", name);
    em_reduce_options o = opts ? *opts : em_reduce_default_options();
    em_dtype ct = x->dtype, odt = x->dtype;
    EM_TRY(result_dtypes(name, op, x->dtype, o.dtype, &ct, &odt));
    if (op == EM_OP_CUMSUM || op == EM_OP_CUMPROD) return cumulative(op, x, &o, ct, out);

    char d[EM_DESC_LEN];
    uint32_t mask = 0;
    EM_TRY(parse_axes(name, &o, x->ndim, &mask));
    if ((op == EM_OP_ARGMAX || op == EM_OP_ARGMIN) && o.axes && o.naxes > 1)
        return em__error(EM_ERR_INVALID_ARG, "%s: takes at most one axis, got %d (tensor %s)", name, o.naxes,
                         em__desc(x, d));
    if (op == EM_OP_NORM && !(o.ord > 0 || o.ord == 0 || o.ord == -INFINITY))
        return em__error(EM_ERR_INVALID_ARG, "norm: ord %g is not supported (use 0, inf, -inf or p > 0)", o.ord);
    if (op == EM_OP_VAR || op == EM_OP_STD) {
        if (!isfinite(o.correction))
            return em__error(EM_ERR_INVALID_ARG, "%s: correction %g is not finite", name, o.correction);
    }

    int64_t shape[EM_MAX_DIMS], n = 1;
    int nd = 0, zero_axis = -1;
    for (int i = 0; i < x->ndim; i++) {
        if (!(mask & (1u << i))) {
            shape[nd++] = x->shape[i];
            continue;
        }
        n *= x->shape[i];
        if (x->shape[i] == 0 && zero_axis < 0) zero_axis = i;
        if (o.keepdims) shape[nd++] = 1;
    }
    if (n == 0 && !has_identity(op))
        return em__error(EM_ERR_INVALID_ARG, "%s: zero-size reduction over axis %d of shape %s has no identity", name,
                         zero_axis, em__desc(x, d));

    em_tensor *xc = NULL, *res = NULL, *cast = NULL;
    em_status st;
    if ((st = cast_for(x, ct, &xc)) != EM_OK) goto fail;
    const em_tensor *src = xc ? xc : x;
    /* integer sums/products are computed into int64, then cast to odt */
    em_dtype kdt = (op == EM_OP_SUM || op == EM_OP_PROD) && is_intlike(src->dtype) ? EM_I64 : odt;
    if ((st = em__new(kdt, nd, shape, &res)) != EM_OK) goto fail;
    if (n == 0) {
        st = em_tensor_fill(res, empty_value(op));
    } else {
        rctx c = {op, n, o.correction, o.ord};
        st = reduce_run(&c, src, mask, res);
    }
    if (st != EM_OK) goto fail;
    if (kdt != odt) {
        if ((st = em_tensor_cast(res, odt, &cast)) != EM_OK) goto fail;
        em_tensor_free(res);
        res = cast;
    }
    em_tensor_free(xc);
    *out = res;
    return EM_OK;
fail:
    em_tensor_free(xc);
    em_tensor_free(res);
    return st;
}

/* The public entry: the reduction, then its autograd record. */
em_status em_reduce(em_op op, const em_tensor *x, const em_reduce_options *opts, em_tensor **out) {
    if (!em__ag_want1(x)) return reduce_raw(op, x, opts, out);
    em_status st;
    EM__AG_NOREC(st, reduce_raw(op, x, opts, out));
    return st ? st : em__ag_reduce(op, x, opts, out);
}
