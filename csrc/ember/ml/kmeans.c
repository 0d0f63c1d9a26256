/* k-means iterations (ember/kmeans.h): Lloyd and Elkan, float32 and float64.
 *
 * Samples are cut into chunks of up to KM_CHUNK rows (one GEMM each for Lloyd)
 * grouped into at most KM_MAX_BLOCKS blocks; the blocks are the parallel
 * work items and each writes its own partial centre sums, weights, inertia
 * and label-change count, combined afterwards in block order.  The cuts
 * depend on (n, k, d) only, never on the thread count, so every result is
 * bit-identical for any number of threads.  The element-type code lives in
 * kmeans_t.h. */
#include "../internal.h"
#include "../base/threadpool.h"
#include "../kernels/gemm.h"
#include "../kernels/kmeans_dist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KM_CHUNK 4096 /* rows per chunk at most; fewer with many centres (KM_SCRATCH_BYTES) */
#define KM_SCRATCH_BYTES (1 << 20)
#define KM_MAX_BLOCKS 128
/* doubles of per-block partial sums at most (32 MiB): many clusters and
 * features get fewer, larger blocks */
#define KM_PARTIAL_BUDGET ((int64_t)1 << 22)

typedef struct {
    int64_t chunk, rows, nblocks; /* block b holds rows [b rows, (b + 1) rows), cut into chunks */
} km_layout;

typedef struct {
    km_layout L;
    int nthreads;
    int64_t n, d, k;
    const void *X, *w, *C; /* element type T; w may be NULL */
    /* the assignment's distances: the kernel (few centres) or a GEMM */
    bool use_kernel;
    int64_t kp, ldd;       /* centres padded to the kernel's groups (k for the GEMM); row stride of scratch */
    em__kmdist_f64_fn dist_f64;
    em__kmdist_f32_fn dist_f32;
    void *cn_buf, *cp_buf; /* (kp) |c|^2 (the GEMM's bias), (kp, d) packed centres or NULL */
    int64_t *labels;
    void *sq;              /* (n) exact squared distances out, or NULL */
    void *full;            /* (n, k) all squared distances out (no labels), or NULL */
    bool assign;           /* recompute labels (else: keep them) */
    bool elkan_init;       /* Elkan: set the first bounds */
    double *psum, *pw;     /* (nblocks, k, d), (nblocks, k) partial sums, or NULL */
    double *pin;           /* (nblocks) partial inertia, or NULL */
    int64_t *pchg;         /* (nblocks) labels changed, or NULL */
    em_status *pst;        /* (nblocks) status of the block's GEMMs */
    bool check;            /* test the rows of X for inf and NaN on the way */
    int64_t *pbad;         /* (nblocks) first non-finite element of X in the block, or -1 */
    const char *op;
    void *scratch;         /* (nthreads, chunk, ldd) distances */
    void *upper, *lower;   /* Elkan bounds (n), (n, k) */
    const void *hd, *dnext, *shift; /* Elkan: (k, k) half centre gaps, (k) nearest gap, (k) last shifts or NULL */
} km_ctx;

/* k-means++ seeding (em_kmeans_plusplus): rows in fixed blocks of KPP_BLOCK,
 * the parallel work items, each writing its own partial sums. */
#define KPP_BLOCK 256
#define KPP_MAX_TRIALS 256
/* bytes of kept candidate distances at most (beyond: the newest centre's distances are recomputed);
 * a variable, not a constant, only so that the C tests can run both paths */
double em__kpp_keep_bytes = (double)(256 << 20);
#define KPP_KEEP_BYTES em__kpp_keep_bytes

typedef struct {
    int64_t n, d, block, nblocks;
    int nthreads;
    const void *X, *w;      /* element type T; w may be NULL */
    const void *xn;         /* (n) |x|^2, T */
    void *cp, *cn;          /* (kp, d) packed centres, (kp) their |c|^2, T */
    int64_t kp, nc;         /* padded and used centres of the pass */
    void *scratch;          /* (nthreads, block, kp) distances, T */
    double *closest;        /* (n) squared distance to the nearest centre so far */
    double *bsum;           /* (nblocks) block sums of w_i closest[i] */
    double *part;           /* (nblocks, nc) block partial potentials of the candidates */
    double *keep;           /* (nblocks, block, kp) kept min(closest, d to candidate), or NULL */
    bool update;            /* the pass folds centre 0 into closest (else: scores candidates) */
    em__kmdist_f64_fn dist_f64;
    em__kmdist_f32_fn dist_f32;
} kpp_ctx;

static km_layout km_layout_of(int64_t n, int64_t k, int64_t d) {
    km_layout L;
    /* the chunk's distances (chunk x k) stay within KM_SCRATCH_BYTES, in L2, for the argmin
     * that reads them back: with 1000 centres 4096 rows would write and re-read 32 MiB */
    int64_t fit = KM_SCRATCH_BYTES / (8 * (k > 1 ? k : 1)) / 256 * 256;
    L.chunk = fit < 256 ? 256 : fit > KM_CHUNK ? KM_CHUNK : fit;
    int64_t nchunks = (n + L.chunk - 1) / L.chunk, per = k * (d + 1) + 1;
    int64_t nb = KM_PARTIAL_BUDGET / per;
    nb = nb < 1 ? 1 : nb > KM_MAX_BLOCKS ? KM_MAX_BLOCKS : nb;
    if (nb > nchunks) nb = nchunks;
    if (nb < 1) nb = 1; /* no samples: no blocks */
    int64_t per_block = (nchunks + nb - 1) / nb;
    L.rows = per_block * L.chunk;
    L.nblocks = (n + L.rows - 1) / L.rows;
    return L;
}

/* A sample and its squared distance to its centre, for the empty-cluster
 * relocation: farthest first, ties by lower index. */
typedef struct {
    double d;
    int64_t i;
} km_far;

static int km_far_cmp(const void *a, const void *b) {
    const km_far *x = (const km_far *)a, *y = (const km_far *)b;
    if (x->d != y->d) return x->d > y->d ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Index of the first non-finite element of x[0, n), or -1.  Blocks of 256
 * are first screened by adding x * 0 (NaN for inf and NaN, else +-0) into
 * 8 independent lanes, a loop the compiler vectorises; isfinite runs only on
 * the tail and on a block that failed. */
#define KM_FINITE_BLOCK 256
#define DEF_FIRST_NONFINITE(S, T)                                                 \
    static int64_t first_nonfinite_##S(const T *x, int64_t n) {                    \
        int64_t e = 0;                                                             \
        for (; e + KM_FINITE_BLOCK <= n; e += KM_FINITE_BLOCK) {                   \
            T acc[8] = {0};                                                        \
            for (int q = 0; q < KM_FINITE_BLOCK; q += 8)                           \
                for (int r = 0; r < 8; r++) acc[r] += x[e + q + r] * (T)0;         \
            T all = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])); \
            if (all != all) break;                                                 \
        }                                                                          \
        for (; e < n; e++)                                                         \
            if (!isfinite(x[e])) return e;                                         \
        return -1;                                                                 \
    }
DEF_FIRST_NONFINITE(f64, double)
DEF_FIRST_NONFINITE(f32, float)

#define T float
#define SFX(x) x##_f32
#define KM_DT EM_F32
#define KM_NR EM__KM_NR_F32
#define KM_DIST dist_f32
#include "kmeans_t.h"
#undef T
#undef SFX
#undef KM_DT
#undef KM_NR
#undef KM_DIST

#define T double
#define SFX(x) x##_f64
#define KM_DT EM_F64
#define KM_NR EM__KM_NR_F64
#define KM_DIST dist_f64
#include "kmeans_t.h"
#undef T
#undef SFX
#undef KM_DT
#undef KM_NR
#undef KM_DIST

/* Chooses how the assignment gets its distances: the kernel reads X in
 * place against all centres packed, worth it while the packed centres stay
 * in cache (64 KiB); more centres take the cache-blocked GEMM. */
#define KM_KERNEL_BYTES (64 << 10)
static void km_setup(km_ctx *c, em_dtype dt) {
    int64_t nr = dt == EM_F32 ? EM__KM_NR_F32 : EM__KM_NR_F64;
    int64_t kp = (c->k + nr - 1) / nr * nr;
    c->use_kernel = kp * c->d * (int64_t)em__dsize(dt) <= KM_KERNEL_BYTES;
    c->kp = c->ldd = c->use_kernel ? kp : c->k;
    bool avx2 = em__gemm_active_isa() >= EM__GEMM_AVX2; /* the AVX-512 GEMM implies AVX2 */
    c->dist_f64 = avx2 && em__kmdist_avx2_f64() ? em__kmdist_avx2_f64() : kmdist_portable_f64;
    c->dist_f32 = avx2 && em__kmdist_avx2_f32() ? em__kmdist_avx2_f32() : kmdist_portable_f32;
}

/* ---- checks --------------------------------------------------------------- */
/* EM_ERR_INVALID_ARG naming the first non-finite element of t (contiguous, 1-d or 2-d). */
static em_status check_finite(const char *op, const char *name, const em_tensor *t) {
    int64_t cols = t->ndim == 2 ? t->shape[1] : 1, n = t->shape[0] * cols;
    int64_t at = t->dtype == EM_F32 ? first_nonfinite_f32((const float *)em__ptr(t), n)
                                    : first_nonfinite_f64((const double *)em__ptr(t), n);
    if (at < 0) return EM_OK;
    if (t->ndim == 2)
        return em__error(EM_ERR_INVALID_ARG, "%s: %s[%lld, %lld] is not finite", op, name, (long long)(at / cols),
                         (long long)(at % cols));
    return em__error(EM_ERR_INVALID_ARG, "%s: %s[%lld] is not finite", op, name, (long long)at);
}

/* sample_weight (n values of dtype dt, shape already checked): finite and >= 0. */
static em_status check_weights(const char *op, const em_tensor *sample_weight, em_dtype dt, int64_t n) {
    EM_TRY(check_finite(op, "sample_weight", sample_weight));
    const void *wp = em__ptr(sample_weight);
    for (int64_t i = 0; i < n; i++) {
        double v = dt == EM_F32 ? ((const float *)wp)[i] : ((const double *)wp)[i];
        if (v < 0) return em__error(EM_ERR_INVALID_ARG, "%s: sample_weight[%lld] = %g is negative", op, (long long)i, v);
    }
    return EM_OK;
}

static em_status check_matrix(const char *op, const char *name, const em_tensor *t, int want) {
    char a[EM_DESC_LEN];
    if (!t) return em__error(EM_ERR_INVALID_ARG, "%s: NULL %s", op, name);
    if ((t->dtype != EM_F32 && t->dtype != EM_F64) || (want >= 0 && (int)t->dtype != want) || t->ndim != 2 ||
        !em__is_contiguous(t))
        return em__error(EM_ERR_DTYPE, "%s: %s must be a C-contiguous 2-d %s tensor, got %s", op, name,
                         want == EM_F32 ? "float32" : want == EM_F64 ? "float64" : "float32 or float64",
                         em__desc(t, a));
    return EM_OK;
}

/* ---- API -------------------------------------------------------------------- */
em_kmeans_options em_kmeans_default_options(void) { return (em_kmeans_options){EM_KMEANS_LLOYD, 300, 0.0}; }

em_status em_kmeans_fit(const em_tensor *X, const em_tensor *sample_weight, const em_tensor *init,
                        const em_kmeans_options *o, em_tensor **centers, em_tensor **labels, double *inertia,
                        int64_t *n_iter) {
    const char *op = "kmeans_fit";
    char a[EM_DESC_LEN], b[EM_DESC_LEN];
    if (!o || !centers || !labels || !inertia || !n_iter) return em__error(EM_ERR_INVALID_ARG, "%s: NULL argument", op);
    EM_TRY(check_matrix(op, "X", X, -1));
    EM_TRY(check_matrix(op, "init", init, (int)X->dtype));
    int64_t n = X->shape[0], d = X->shape[1], k = init->shape[0];
    if (init->shape[1] != d)
        return em__error(EM_ERR_SHAPE, "%s: init %s must have X's %lld columns (X %s)", op, em__desc(init, a),
                         (long long)d, em__desc(X, b));
    if (k < 1 || k > n)
        return em__error(EM_ERR_INVALID_ARG,
                         "%s: need 1 <= n_clusters <= n_samples, got %lld clusters for %lld samples",
                         op, (long long)k, (long long)n);
    if (sample_weight && (sample_weight->dtype != X->dtype || sample_weight->ndim != 1 ||
                          sample_weight->shape[0] != n || !em__is_contiguous(sample_weight)))
        return em__error(EM_ERR_SHAPE, "%s: sample_weight must be a contiguous (%lld,) tensor of X's dtype %s, got %s",
                         op, (long long)n, em_dtype_name(X->dtype), em__desc(sample_weight, a));
    if ((int)o->algorithm != EM_KMEANS_LLOYD && (int)o->algorithm != EM_KMEANS_ELKAN)
        return em__error(EM_ERR_INVALID_ARG, "%s: unknown algorithm %d", op, (int)o->algorithm);
    if (o->max_iter < 1 || !(o->tol >= 0))
        return em__error(EM_ERR_INVALID_ARG, "%s: need max_iter >= 1 and tol >= 0, got %lld and %g", op,
                         (long long)o->max_iter, o->tol);
    /* Elkan keeps n x k lower bounds: refuse sizes whose byte counts would overflow */
    if (d > 0 && (k > INT64_MAX / 16 / d || n > INT64_MAX / 16 / (k + d + 1)))
        return em__error(EM_ERR_NOMEM, "%s: %lld x %lld data with %lld clusters is too large", op, (long long)n,
                         (long long)d, (long long)k);
    km_layout L = km_layout_of(n, k, d);
    EM_TRY(check_finite(op, "init", init));
    if (sample_weight) EM_TRY(check_weights(op, sample_weight, X->dtype, n));
    em_tensor *C = NULL, *lab = NULL;
    EM_TRY(em__new(X->dtype, 2, (int64_t[]){k, d}, &C));
    em_status st = em__new(EM_I64, 1, &n, &lab);
    if (!st) {
        memcpy(em__ptr(C), em__ptr(init), (size_t)(k * d) * em__dsize(X->dtype));
        km_ctx c;
        memset(&c, 0, sizeof c);
        c.L = L, c.nthreads = em__threads(), c.n = n, c.d = d, c.k = k;
        c.X = em__ptr(X), c.w = sample_weight ? em__ptr(sample_weight) : NULL;
        c.labels = (int64_t *)em__ptr(lab);
        c.check = true, c.op = op; /* X is checked during the first pass */
        km_setup(&c, X->dtype);
        st = X->dtype == EM_F32 ? fit_f32(&c, o, (float *)em__ptr(C), inertia, n_iter)
                                : fit_f64(&c, o, (double *)em__ptr(C), inertia, n_iter);
    }
    if (st) {
        em_tensor_free(C), em_tensor_free(lab);
        return st;
    }
    *centers = C, *labels = lab;
    return EM_OK;
}

/* Shared by predict and distances: checks, then one assignment pass. */
static em_status km_assign(const char *op, const em_tensor *X, const em_tensor *centers, em_tensor **labels,
                           em_tensor **sq_dist, em_tensor **full) {
    char a[EM_DESC_LEN], b[EM_DESC_LEN];
    EM_TRY(check_matrix(op, "X", X, -1));
    EM_TRY(check_matrix(op, "centers", centers, (int)X->dtype));
    int64_t n = X->shape[0], d = X->shape[1], k = centers->shape[0];
    if (centers->shape[1] != d || k < 1)
        return em__error(EM_ERR_SHAPE, "%s: centers %s must be (k >= 1, %lld) for X %s", op, em__desc(centers, a),
                         (long long)d, em__desc(X, b));
    EM_TRY(check_finite(op, "centers", centers));
    em_tensor *lab = NULL, *sq = NULL, *all = NULL;
    em_status st = labels ? em__new(EM_I64, 1, &n, &lab) : EM_OK;
    if (!st && sq_dist) st = em__new(X->dtype, 1, &n, &sq);
    if (!st && full) st = em__new(X->dtype, 2, (int64_t[]){n, k}, &all);
    if (!st && n > 0) {
        km_ctx c;
        memset(&c, 0, sizeof c);
        c.L = km_layout_of(n, k, d), c.nthreads = em__threads(), c.n = n, c.d = d, c.k = k;
        c.X = em__ptr(X), c.C = em__ptr(centers), c.labels = lab ? (int64_t *)em__ptr(lab) : NULL;
        c.sq = sq ? em__ptr(sq) : NULL, c.full = all ? em__ptr(all) : NULL;
        c.check = true, c.op = op; /* X is checked during the pass */
        km_setup(&c, X->dtype);
        st = X->dtype == EM_F32 ? predict_f32(&c) : predict_f64(&c);
    }
    if (st) {
        em_tensor_free(lab), em_tensor_free(sq), em_tensor_free(all);
        return st;
    }
    if (labels) *labels = lab;
    if (sq_dist) *sq_dist = sq;
    if (full) *full = all;
    return EM_OK;
}

em_status em_kmeans_predict(const em_tensor *X, const em_tensor *centers, em_tensor **labels, em_tensor **sq_dist) {
    if (!labels) return em__error(EM_ERR_INVALID_ARG, "kmeans_predict: NULL labels");
    return km_assign("kmeans_predict", X, centers, labels, sq_dist, NULL);
}

em_status em_kmeans_distances(const em_tensor *X, const em_tensor *centers, em_tensor **sq_dist) {
    if (!sq_dist) return em__error(EM_ERR_INVALID_ARG, "kmeans_distances: NULL output");
    return km_assign("kmeans_distances", X, centers, NULL, NULL, sq_dist);
}

em_status em_kmeans_plusplus(const em_tensor *X, const em_tensor *sample_weight, int64_t n_clusters,
                             int64_t n_local_trials, em_generator *gen, em_tensor **centers, em_tensor **indices) {
    const char *op = "kmeans_plusplus";
    char a[EM_DESC_LEN];
    if (!gen || !centers) return em__error(EM_ERR_INVALID_ARG, "%s: NULL %s", op, gen ? "centers" : "generator");
    EM_TRY(check_matrix(op, "X", X, -1));
    int64_t n = X->shape[0], d = X->shape[1], k = n_clusters;
    if (k < 1 || k > n)
        return em__error(EM_ERR_INVALID_ARG,
                         "%s: need 1 <= n_clusters <= n_samples, got %lld clusters for %lld samples", op,
                         (long long)k, (long long)n);
    /* scikit-learn's default: 2 + floor(ln k) candidates per centre */
    int64_t trials = n_local_trials > 0 ? n_local_trials : 2 + (int64_t)floor(log((double)k));
    if (trials > KPP_MAX_TRIALS)
        return em__error(EM_ERR_INVALID_ARG, "%s: n_local_trials = %lld is above the supported %d", op,
                         (long long)trials, KPP_MAX_TRIALS);
    if (sample_weight && (sample_weight->dtype != X->dtype || sample_weight->ndim != 1 ||
                          sample_weight->shape[0] != n || !em__is_contiguous(sample_weight)))
        return em__error(EM_ERR_SHAPE, "%s: sample_weight must be a contiguous (%lld,) tensor of X's dtype %s, got %s",
                         op, (long long)n, em_dtype_name(X->dtype), em__desc(sample_weight, a));
    if (d > 0 && n > INT64_MAX / 16 / (d + KPP_MAX_TRIALS))
        return em__error(EM_ERR_NOMEM, "%s: %lld x %lld data is too large", op, (long long)n, (long long)d);
    EM_TRY(check_finite(op, "X", X));
    if (sample_weight) EM_TRY(check_weights(op, sample_weight, X->dtype, n));
    em_tensor *C = NULL, *idx = NULL;
    EM_TRY(em__new(X->dtype, 2, (int64_t[]){k, d}, &C));
    em_status st = em__new(EM_I64, 1, &k, &idx);
    if (!st) {
        /* the draws are taken from a copy of the generator's state, committed only on success,
         * so a failed call consumes nothing */
        uint64_t seed, offset;
        em_generator_get_state(gen, &seed, &offset);
        kpp_ctx c;
        memset(&c, 0, sizeof c);
        c.n = n, c.d = d, c.block = KPP_BLOCK, c.nblocks = (n + KPP_BLOCK - 1) / KPP_BLOCK;
        c.nthreads = em__threads();
        c.X = em__ptr(X), c.w = sample_weight ? em__ptr(sample_weight) : NULL;
        km_ctx kc; /* only to pick the kernels */
        memset(&kc, 0, sizeof kc);
        kc.k = 1, kc.d = d;
        km_setup(&kc, X->dtype);
        c.dist_f64 = kc.dist_f64, c.dist_f32 = kc.dist_f32;
        st = X->dtype == EM_F32 ? kpp_f32(&c, k, trials, gen, (float *)em__ptr(C), (int64_t *)em__ptr(idx))
                                : kpp_f64(&c, k, trials, gen, (double *)em__ptr(C), (int64_t *)em__ptr(idx));
        if (st) em_generator_set_state(gen, seed, offset);
    }
    if (st) {
        em_tensor_free(C), em_tensor_free(idx);
        return st;
    }
    *centers = C;
    if (indices) *indices = idx;
    else em_tensor_free(idx);
    return EM_OK;
}
