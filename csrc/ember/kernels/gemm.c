/* Cache-blocked GEMM driver (the Goto/BLIS loop nest) with batches, a fused
 * epilogue and threads; see gemm.h and docs/kernels.md (section GEMM).
 *
 * Three forms, picked from (M, N, K) and the operands' layout only:
 *  - packed: B in kc x nc panels packed into NR-wide slivers (or, when it is
 *    small and its rows are contiguous, read in place), A read in place when
 *    its rows or its columns are contiguous (the micro-kernels take both),
 *    else packed in mc x kc blocks of MR-tall slivers;
 *  - skinny (M <= 16, rows of B contiguous): as packed, B always in place;
 *  - dot (columns of B contiguous and M <= 16 or N <= 4, i.e. x @ W^T and
 *    GEMV): lane-interleaved dot products, nothing packed.
 * Summation order per output: packed and skinny form one multiply-add chain
 * per kc block of K (k ascending, from 0), and merge blocks in ascending
 * order: C = alpha*s_0 + beta*C, then C = C + alpha*s_b; the dot form keeps
 * LANES partial sums (k mod LANES) over all of K and adds them pairwise.
 * Whether an operand is packed or read in place never changes a value.
 * The epilogue (+ bias, activation) runs on each tile after its last block.
 *
 * Threads: work items are (batch entry, column panel, row group) tiles of C,
 * each packing what it needs; a packed product with fewer batch entries than
 * threads instead has the threads pack each kc x nc block of B together and
 * then share out its tiles (the "shared" form: B is packed once, not once
 * per thread).  K is never split, so a thread count only moves tiles
 * between threads. */
#include "gemm.h"

#include <math.h>
#include <stdlib.h>

#include <pthread.h>

#include "../base/cpu.h"
#include "../base/threadpool.h"
#include "vmath.h"

#define EM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define EM_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CDIV(a, b) (((a) + (b) - 1) / (b))
#define SKINNY_M 16
/* below this many multiply-adds a product runs on the calling thread: waking
 * the pool costs more than it saves */
#define PARALLEL_MIN_FMA (1 << 20)
/* packed form: B with contiguous rows and at most this many bytes is read
 * in place (it stays in L2; measured on 64..512 squares) */
#define B_DIRECT_BYTES (512 * 1024)

enum form { F_PACKED, F_SKINNY, F_DOT };

/* ---- scratch memory --------------------------------------------------------
 * Each calling thread keeps its packing buffer between calls (grow-only, up
 * to SCRATCH_KEEP bytes; bigger ones are allocated per call).  A fresh block
 * per call cost up to a third of a 512 x 512 product: glibc returned the
 * freed block to the OS (heap trimming) and the next call faulted its pages
 * in again.  The block comes from the allocator hooks in use and goes back
 * to the same allocator (if the hooks change, at the next call); it is not
 * an object the caller owns, so em_allocated_bytes() does not count it (like
 * the thread pool's bookkeeping).  Freed when its thread exits (a pthread key
 * destructor) and, for the thread that ends the process, by a destructor. */
#define SCRATCH_KEEP ((size_t)64 << 20)

typedef struct {
    void *p;
    size_t size;
    em_allocator a; /* the hooks that made p */
    bool registered;
} scratch;

static _Thread_local scratch tls_scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_key_ok;

static void scratch_release(void *v) {
    scratch *s = v;
    if (s->p) s->a.free(s->p, s->a.ctx);
    s->p = NULL;
    s->size = 0;
}
static void scratch_key_init(void) { scratch_key_ok = pthread_key_create(&scratch_key, scratch_release) == 0; }
__attribute__((destructor)) static void scratch_at_exit(void) { scratch_release(&tls_scratch); }

/* A 64-byte-aligned block of at least size bytes for this call; *owned says
 * that the caller frees it with em__free (too big to keep).  NULL when out
 * of memory. */
static void *scratch_get(size_t size, bool *owned) {
    *owned = size > SCRATCH_KEEP;
    if (*owned) return em__alloc(size);
    scratch *s = &tls_scratch;
    em_allocator cur = em_get_allocator();
    if (s->p && (s->a.alloc != cur.alloc || s->a.free != cur.free || s->a.ctx != cur.ctx)) scratch_release(s);
    if (s->p && s->size >= size) return s->p;
    scratch_release(s);
    if (!s->registered) { /* so that the block is freed when this thread exits */
        pthread_once(&scratch_once, scratch_key_init);
        s->registered = scratch_key_ok && pthread_setspecific(scratch_key, s) == 0;
    }
    size = (size + 4095) & ~(size_t)4095; /* whole pages: a slightly bigger next call reuses it */
    s->p = cur.alloc(size, EM_ALIGN, cur.ctx);
    if (!s->p) return NULL;
    s->size = size;
    s->a = cur;
    return s->p;
}

/* ---- instruction-set choice --------------------------------------------- */

static _Atomic int forced_isa = -1, chosen_isa = -1;

static bool isa_runs(int isa) {
    switch (isa) {
    case EM__GEMM_PORTABLE: return true;
    case EM__GEMM_AVX2: return em__gemm_avx2_f32() && em__gemm_avx2_f64() && em__cpu_avx2_fma();
    case EM__GEMM_AVX512: return em__gemm_avx512_f32() && em__gemm_avx512_f64() && em__cpu_avx512f();
    default: return false;
    }
}

em__gemm_isa em__gemm_active_isa(void) {
    int f = atomic_load_explicit(&forced_isa, memory_order_relaxed);
    if (f >= 0) return (em__gemm_isa)f;
    int c = atomic_load_explicit(&chosen_isa, memory_order_relaxed);
    if (c < 0) { /* racing first calls store the same value */
        c = EM__GEMM_PORTABLE;
        if (!em__cpu_force_portable()) c = isa_runs(EM__GEMM_AVX512) ? EM__GEMM_AVX512
                                           : isa_runs(EM__GEMM_AVX2) ? EM__GEMM_AVX2
                                                                     : EM__GEMM_PORTABLE;
        atomic_store_explicit(&chosen_isa, c, memory_order_relaxed);
    }
    return (em__gemm_isa)c;
}

em_status em__gemm_set_isa(int isa) {
    if (isa != -1 && (isa < 0 || isa >= EM__GEMM_ISA_COUNT || !isa_runs(isa)))
        return em__error(EM_ERR_UNSUPPORTED, "gemm: instruction set %d is not available on this CPU", isa);
    atomic_store(&forced_isa, isa);
    return EM_OK;
}

static em_op act_op(em_activation act) {
    switch (act) {
    case EM_ACT_RELU: return EM_OP_RELU;
    case EM_ACT_GELU: return EM_OP_GELU;
    case EM_ACT_GELU_TANH: return EM_OP_GELU_TANH;
    case EM_ACT_SIGMOID: return EM_OP_SIGMOID;
    case EM_ACT_TANH: return EM_OP_TANH;
    case EM_ACT_SILU: return EM_OP_SILU;
    default: return EM_OP_UNARY_END_;
    }
}

const char *em_activation_name(em_activation act) {
    static const char *const names[EM_ACT_COUNT_] = {"none", "relu", "gelu", "gelu_tanh", "sigmoid", "tanh", "silu"};
    return (unsigned)act < EM_ACT_COUNT_ ? names[act] : NULL;
}

/* Scalar activations (float64, and float32 ops without a vmath kernel). */
#define SCALAR_ACT(S, T, EXP, TANH, ERF)                                                          \
    static T act1_##S(em_activation act, T x) {                                                   \
        switch (act) {                                                                            \
        case EM_ACT_RELU: return x < 0 ? 0 : x;                                                   \
        case EM_ACT_GELU: return (T)0.5 * x * (1 + ERF(x * (T)0.70710678118654752440));           \
        case EM_ACT_GELU_TANH:                                                                    \
            return (T)0.5 * x * (1 + TANH((T)0.79788456080286535588 * (x + (T)0.044715 * x * x * x))); \
        case EM_ACT_SIGMOID: return 1 / (1 + EXP(-x));                                            \
        case EM_ACT_TANH: return TANH(x);                                                         \
        case EM_ACT_SILU: return x / (1 + EXP(-x));                                               \
        default: return x;                                                                        \
        }                                                                                         \
    }
SCALAR_ACT(f32, float, expf, tanhf, erff)
SCALAR_ACT(f64, double, exp, tanh, erf)

/* ---- portable micro-kernels --------------------------------------------- */

#define PORTABLE_KERNELS(S, T, MR, NR, LANES)                                                              \
    static inline void store1_##S(T *c, T acc, const em__gemm_out_##S *o, int col) {                       \
        T v = o->alpha * acc;                                                                              \
        if (!o->first)                                                                                     \
            v = *c + v;                                                                                    \
        else if (o->beta != 0)                                                                             \
            v = v + o->beta * *c;                                                                          \
        if (o->bias) v = v + o->bias[col];                                                                 \
        if (o->relu) v = v < 0 ? 0 : v;                                                                    \
        *c = v;                                                                                            \
    }                                                                                                      \
    static void ukr_##S(int64_t kc, const T *restrict a, int64_t ars, int64_t acs, const T *restrict b,       \
                        int64_t ldb, T *c, int64_t ldc, int mr, int nr, const em__gemm_out_##S *o) {       \
        T acc[MR][NR];                                                                                     \
        for (int r = 0; r < MR; r++)                                                                       \
            for (int q = 0; q < NR; q++) acc[r][q] = 0;                                                    \
        for (int64_t k = 0; k < kc; k++, a += acs, b += ldb) {                                             \
            _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                         \
                T av = a[(r < mr ? r : 0) * ars]; /* rows past mr (not in A) repeat row 0, dropped */    \
                _Pragma("GCC unroll 16") for (int q = 0; q < NR; q++) acc[r][q] += av * b[q];              \
            }                                                                                              \
        }                                                                                                  \
        for (int r = 0; r < mr; r++)                                                                       \
            for (int q = 0; q < nr; q++) store1_##S(c + r * ldc + q, acc[r][q], o, q);                     \
    }                                                                                                      \
    static void dot_##S(int64_t K, const T *a, int64_t lda, int m, const T *b, int64_t ldb, int n, T *c,   \
                        int64_t ldc, const em__gemm_out_##S *o) {                                          \
        for (int i = 0; i < m; i++)                                                                        \
            for (int j = 0; j < n; j++) {                                                                  \
                const T *x = a + i * lda, *y = b + j * ldb;                                                \
                T lane[LANES] = {0};                                                                       \
                int64_t k = 0;                                                                             \
                for (; k + LANES <= K; k += LANES)                                                         \
                    for (int l = 0; l < LANES; l++) lane[l] += x[k + l] * y[k + l];                        \
                for (int l = 0; k < K; k++, l++) lane[l] += x[k] * y[k];                                   \
                for (int w = LANES / 2; w > 0; w /= 2)                                                     \
                    for (int l = 0; l < w; l++) lane[l] += lane[l + w];                                    \
                store1_##S(c + i * ldc + j, lane[0], o, j);                                                \
            }                                                                                              \
    }                                                                                                      \
    static void row_##S(int64_t kc, const T *a, const T *b, int64_t ldb, T *c, int n,                      \
                        const em__gemm_out_##S *o) {                                                       \
        T acc[64] = {0}; /* rn = 64 */                                                                     \
        for (int64_t k = 0; k < kc; k++, b += ldb)                                                         \
            for (int q = 0; q < n; q++) acc[q] += a[k] * b[q];                                             \
        for (int q = 0; q < n; q++) store1_##S(c + q, acc[q], o, q);                                       \
    }                                                                                                      \
    /* 4 x NR tiles fill the 16 baseline (SSE2) vector registers */                                      \
    static const em__gemm_kset_##S portable_##S = {MR, NR, 1, 1, 64, 0, 256, 144, 4080, ukr_##S, dot_##S, row_##S, \
                                                   NULL, NULL, 0};

PORTABLE_KERNELS(f32, float, 4, 16, 8)
PORTABLE_KERNELS(f64, double, 4, 8, 4)

/* ---- the driver ---------------------------------------------------------- */

#define DEF_DRIVER(S, T)                                                                                       \
    typedef struct {                                                                                           \
        const em__gemm_desc *d;                                                                                \
        const em__gemm_kset_##S *ks;                                                                           \
        enum form form;                                                                                        \
        T alpha, beta;                                                                                         \
        em__vmath_fn vact; /* float32 activation kernel, or NULL */                                            \
        bool sact;         /* activation applied by the scalar loop */                                         \
        bool a_direct;     /* the micro-kernel reads A in place (rows or columns of A contiguous) */           \
        bool b_direct;     /* packed form: B read in place (rows contiguous, small product) */                 \
        /* items run independently (batches, skinny and dot forms, one thread) */                              \
        int64_t mgroups, rows_per_group, npanels, panel_w;                                                     \
        T *work;                                                                                               \
        int64_t per_thread, a_size;                                                                            \
        /* the shared form: the threads pack one kc x nw block of B together, then share it */                 \
        const T *A, *B;                                                                                        \
        T *C, *Bp;                                                                                             \
        int64_t pc, kc, jc, nw, tile_m, tile_n, tiles_n;                                                       \
    } ctx_##S;                                                                                                 \
                                                                                                               \
    /* Ap[ir/MR][k][r] = A[ir + r, k], rows past m zero. */                                                  \
    static void pack_a_##S(const em__gemm_kset_##S *ks, int64_t m, int64_t kc, const T *A, int64_t rs,         \
                           int64_t cs, T *Ap) {                                                                \
        int MR = ks->mr;                                                                                       \
        for (int64_t ir = 0; ir < m; ir += MR, Ap += kc * MR) {                                                \
            int mr = (int)EM_MIN(m - ir, MR);                                                                  \
            const T *a = A + ir * rs;                                                                          \
            if (cs == 1 && ks->pack_t) { /* rows contiguous: a transpose */                                    \
                ks->pack_t(kc, mr, a, rs, MR, Ap);                                                             \
                continue;                                                                                      \
            }                                                                                                  \
            if (cs == 1 && mr == MR) { /* rows contiguous: read each row once, write it with stride MR */      \
                for (int r = 0; r < MR; r++)                                                                   \
                    for (int64_t k = 0; k < kc; k++) Ap[k * MR + r] = a[r * rs + k];                           \
                continue;                                                                                      \
            }                                                                                                  \
            for (int64_t k = 0; k < kc; k++) {                                                                 \
                for (int r = 0; r < mr; r++) Ap[k * MR + r] = a[r * rs + k * cs];                              \
                for (int r = mr; r < MR; r++) Ap[k * MR + r] = 0;                                              \
            }                                                                                                  \
        }                                                                                                      \
    }                                                                                                          \
    /* Bp[jr/NR][k][q] = B[k, jr + q], columns past n zero. */                                               \
    static void pack_b_##S(const em__gemm_kset_##S *ks, int64_t kc, int64_t n, const T *B, int64_t rs,         \
                           int64_t cs, T *Bp) {                                                                \
        int NR = ks->nr;                                                                                       \
        int64_t j0 = 0;                                                                                        \
        if (cs == 1 && n >= NR) {                                                                              \
            /* rows contiguous: the full slivers row by row, so that B is read in order (sliver by sliver,  \
             * each k step a line of a new 4 KiB page that the prefetchers do not follow, packing took a    \
             * quarter of 128 x 4096 x 1024 on Zen 3) */                                                       \
            int64_t ns = n / NR, ss = kc * NR;                                                                 \
            for (int64_t k = 0; k < kc; k++) {                                                                 \
                const T *b = B + k * rs;                                                                       \
                T *dst = Bp + k * NR;                                                                          \
                if (NR * sizeof(T) == 128) /* a constant size: gcc copies it inline */                        \
                    for (int64_t q = 0; q < ns; q++) memcpy(dst + q * ss, b + q * NR, 128);                    \
                else if (NR * sizeof(T) == 64)                                                                 \
                    for (int64_t q = 0; q < ns; q++) memcpy(dst + q * ss, b + q * NR, 64);                     \
                else                                                                                           \
                    for (int64_t q = 0; q < ns; q++) memcpy(dst + q * ss, b + q * NR, (size_t)NR * sizeof(T)); \
            }                                                                                                  \
            j0 = ns * NR, Bp += ns * ss;                                                                       \
        }                                                                                                      \
        for (int64_t jr = j0; jr < n; jr += NR, Bp += kc * NR) {                                               \
            int nr = (int)EM_MIN(n - jr, NR);                                                                  \
            const T *b = B + jr * cs;                                                                          \
            if (rs == 1 && ks->pack_t) { /* columns contiguous (x @ W^T): a transpose */                       \
                ks->pack_t(kc, nr, b, cs, NR, Bp);                                                             \
                continue;                                                                                      \
            }                                                                                                  \
            for (int64_t k = 0; k < kc; k++) {                                                                 \
                for (int q = 0; q < nr; q++) Bp[k * NR + q] = b[k * rs + q * cs];                              \
                for (int q = nr; q < NR; q++) Bp[k * NR + q] = 0;                                              \
            }                                                                                                  \
        }                                                                                                      \
    }                                                                                                          \
                                                                                                               \
    static void act_tile_##S(const ctx_##S *x, T *c, int64_t ldc, int64_t m, int64_t n) {                      \
        if (x->vact) {                                                                                         \
            for (int64_t r = 0; r < m; r++) x->vact((float *)(c + r * ldc), (const float *)(c + r * ldc), n, 0); \
        } else if (x->sact) {                                                                                  \
            for (int64_t r = 0; r < m; r++)                                                                    \
                for (int64_t q = 0; q < n; q++) c[r * ldc + q] = act1_##S(x->d->act, c[r * ldc + q]);          \
        }                                                                                                      \
    }                                                                                                          \
                                                                                                               \
    static em__gemm_out_##S out_##S(const ctx_##S *x, bool first, bool last, int64_t j) {                      \
        em__gemm_out_##S o;                                                                                    \
        o.alpha = x->alpha;                                                                                    \
        o.beta = x->beta;                                                                                      \
        o.first = first;                                                                                       \
        o.relu = last && x->d->act == EM_ACT_RELU;                                                             \
        o.bias = last && x->d->bias ? (const T *)x->d->bias + j : NULL;                                        \
        return o;                                                                                              \
    }                                                                                                          \
                                                                                                               \
    /* One kc block (rows pc.. of B) for rows [i0, i1) and columns [j0, j0 + nw) of C.  B: packed slivers  \
     * (Bp, NR columns each, from column j0) or, if Bd, read in place (Bd + jr, rows ldb apart; a last      \
     * partial sliver is padded into Bs).  A: read in place (a_direct) or packed into Ap, mc rows at a time. */ \
    static void block_##S(const ctx_##S *x, const T *A, const T *Bp, const T *Bd, int64_t ldb, T *C, int64_t pc, \
                          int64_t kc, int64_t i0, int64_t i1, int64_t j0, int64_t nw, T *Ap, T *Bs) {          \
        const em__gemm_desc *d = x->d;                                                                         \
        const em__gemm_kset_##S *ks = x->ks;                                                                   \
        bool first = pc == 0, last = pc + kc == d->K;                                                          \
        for (int64_t ic = i0; ic < i1; ic += ks->mc) {                                                         \
            int64_t mc = EM_MIN(i1 - ic, ks->mc);                                                              \
            const T *a = A + ic * d->lda_row + pc * d->lda_col;                                                \
            int64_t ars = d->lda_row, acs = d->lda_col, th = ks->mr, step = th * ars; /* tile ir: a + ir/th*step */ \
            if (x->a_direct) { /* even tiles: 16 rows run as 8 + 8, not 12 + 4 (a 4-row tile is B-bound) */     \
                th = CDIV(mc, CDIV(mc, ks->mr));                                                               \
                step = th * ars;                                                                               \
            } else {                                                                                           \
                pack_a_##S(ks, mc, kc, a, ars, acs, Ap);                                                       \
                a = Ap, ars = 1, acs = ks->mr, step = ks->mr * kc;                                             \
            }                                                                                                  \
            /* 2..mrw rows and B in place: the wide tiles (2*NR columns) */                                   \
            bool wide = Bd && ks->ukr_w && mc >= 2 && mc <= ks->mrw;                                           \
            int NW = wide ? 2 * ks->nr : ks->nr;                                                               \
            for (int64_t jr = 0; jr < nw; jr += NW) {                                                          \
                int nr = (int)EM_MIN(nw - jr, NW);                                                             \
                bool w = wide && nr > ks->nr; /* a last sliver of <= NR columns: the normal tile */           \
                int NP = w ? NW : ks->nr;                                                                      \
                const T *b = Bp + jr * kc;                                                                     \
                int64_t lb = ks->nr;                                                                           \
                if (Bd) {                                                                                      \
                    b = Bd + jr, lb = ldb;                                                                     \
                    if (nr < NP) { /* the kernel reads NP columns: pad the last sliver (into kc x NP) */       \
                        for (int64_t k = 0; k < kc; k++) {                                                     \
                            memcpy(Bs + k * NP, b + k * lb, (size_t)nr * sizeof(T));                           \
                            memset(Bs + k * NP + nr, 0, (size_t)(NP - nr) * sizeof(T));                        \
                        }                                                                                      \
                        b = Bs, lb = NP;                                                                       \
                    }                                                                                          \
                }                                                                                              \
                em__gemm_out_##S o = out_##S(x, first, last, j0 + jr);                                         \
                const T *ai = a;                                                                               \
                for (int64_t ir = 0; ir < mc; ir += th, ai += step) {                                          \
                    int mr = (int)EM_MIN(mc - ir, th);                                                         \
                    T *c = C + (ic + ir) * d->ldc + j0 + jr;                                                   \
                    (w ? ks->ukr_w : ks->ukr)(kc, ai, ars, acs, b, lb, c, d->ldc, mr, nr, &o);                 \
                    if (last) act_tile_##S(x, c, d->ldc, mr, nr);                                              \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
    }                                                                                                          \
                                                                                                               \
    /* Rows [i0, i1) and columns [j0, j0 + nw) of one product, B packed by this thread (or in place). */     \
    static void tile_packed_##S(const ctx_##S *x, const T *A, const T *B, T *C, int64_t i0, int64_t i1,        \
                                int64_t j0, int64_t nw, T *work) {                                             \
        const em__gemm_desc *d = x->d;                                                                         \
        const em__gemm_kset_##S *ks = x->ks;                                                                   \
        T *Ap = work, *Bp = work + x->a_size;                                                                  \
        for (int64_t pc = 0; pc < d->K; pc += ks->kc) {                                                        \
            int64_t kc = EM_MIN(d->K - pc, ks->kc);                                                            \
            const T *b = B + pc * d->ldb_row + j0 * d->ldb_col;                                                \
            if (x->b_direct) {                                                                                 \
                block_##S(x, A, NULL, b, d->ldb_row, C, pc, kc, i0, i1, j0, nw, Ap, Bp);                       \
                continue;                                                                                      \
            }                                                                                                  \
            pack_b_##S(ks, kc, nw, b, d->ldb_row, d->ldb_col, Bp);                                             \
            block_##S(x, A, Bp, NULL, 0, C, pc, kc, i0, i1, j0, nw, Ap, NULL);                                 \
        }                                                                                                      \
    }                                                                                                          \
                                                                                                               \
    /* All M (<= 16) rows, columns [j0, j0 + nw); B rows are contiguous. */                                  \
    static void tile_skinny_##S(const ctx_##S *x, const T *A, const T *B, T *C, int64_t j0, int64_t nw,        \
                                T *work) {                                                                     \
        const em__gemm_desc *d = x->d;                                                                         \
        const em__gemm_kset_##S *ks = x->ks;                                                                   \
        T *Ap = work, *Bs = work + x->a_size;                                                                  \
        for (int64_t pc = 0; pc < d->K; pc += ks->kc) {                                                        \
            int64_t kc = EM_MIN(d->K - pc, ks->kc);                                                            \
            bool first = pc == 0, last = pc + kc == d->K;                                                      \
            if (d->M == 1 && ks->row) { /* GEMV: rn columns at a time, B streamed once */                     \
                const T *a = A + pc * d->lda_col;                                                              \
                if (d->lda_col != 1) {                                                                         \
                    for (int64_t k = 0; k < kc; k++) Ap[k] = a[k * d->lda_col];                                \
                    a = Ap;                                                                                    \
                }                                                                                              \
                for (int64_t jr = j0; jr < j0 + nw; jr += ks->rn) {                                            \
                    int n = (int)EM_MIN(j0 + nw - jr, ks->rn);                                                 \
                    em__gemm_out_##S o = out_##S(x, first, last, jr);                                          \
                    ks->row(kc, a, B + pc * d->ldb_row + jr, d->ldb_row, C + jr, n, &o);                       \
                    if (last) act_tile_##S(x, C + jr, d->ldc, 1, n);                                           \
                }                                                                                              \
                continue;                                                                                      \
            }                                                                                                  \
            block_##S(x, A, NULL, B + pc * d->ldb_row + j0, d->ldb_row, C, pc, kc, 0, d->M, j0, nw, Ap, Bs);   \
        }                                                                                                      \
    }                                                                                                          \
                                                                                                               \
    /* Rows [i0, i1), columns [j0, j0 + nw); B columns are contiguous. */                                    \
    static void tile_dot_##S(const ctx_##S *x, const T *A, const T *B, T *C, int64_t i0, int64_t i1,           \
                             int64_t j0, int64_t nw, T *work) {                                                \
        const em__gemm_desc *d = x->d;                                                                         \
        const em__gemm_kset_##S *ks = x->ks;                                                                   \
        const T *a = A + i0 * d->lda_row;                                                                      \
        int64_t lda = d->lda_row;                                                                              \
        if (d->lda_col != 1) { /* only for M <= 16: gather the rows */                                        \
            for (int64_t i = i0; i < i1; i++)                                                                  \
                for (int64_t k = 0; k < d->K; k++) work[(i - i0) * d->K + k] = A[i * d->lda_row + k * d->lda_col]; \
            a = work;                                                                                          \
            lda = d->K;                                                                                        \
        }                                                                                                      \
        em__gemm_out_##S o0 = out_##S(x, true, true, 0);                                                       \
        for (int64_t jr = j0; jr < j0 + nw; jr += ks->dn) {                                                    \
            int n = (int)EM_MIN(j0 + nw - jr, ks->dn);                                                         \
            em__gemm_out_##S o = o0;                                                                           \
            if (o.bias) o.bias += jr;                                                                          \
            for (int64_t ir = i0; ir < i1; ir += ks->dm) {                                                     \
                int m = (int)EM_MIN(i1 - ir, ks->dm);                                                          \
                T *c = C + ir * d->ldc + jr;                                                                   \
                ks->dot(d->K, a + (ir - i0) * lda, lda, m, B + jr * d->ldb_col, d->ldb_col, n, c, d->ldc, &o); \
                act_tile_##S(x, c, d->ldc, m, n);                                                              \
            }                                                                                                  \
        }                                                                                                      \
    }                                                                                                          \
                                                                                                               \
    /* K == 0: C = beta*C, then the epilogue. */                                                             \
    static void tile_empty_##S(const ctx_##S *x, T *C, int64_t i0, int64_t i1, int64_t j0, int64_t nw) {      \
        const em__gemm_desc *d = x->d;                                                                         \
        em__gemm_out_##S o = out_##S(x, true, true, j0);                                                       \
        for (int64_t i = i0; i < i1; i++) {                                                                    \
            T *c = C + i * d->ldc + j0;                                                                        \
            for (int64_t j = 0; j < nw; j++) {                                                                 \
                T v = o.beta != 0 ? o.beta * c[j] : 0;                                                         \
                if (o.bias) v = v + o.bias[j];                                                                 \
                if (o.relu) v = v < 0 ? 0 : v;                                                                 \
                c[j] = v;                                                                                      \
            }                                                                                                  \
            act_tile_##S(x, c, d->ldc, 1, nw);                                                                 \
        }                                                                                                      \
    }                                                                                                          \
                                                                                                               \
    /* The operands of batch entry bi. */                                                                    \
    static void batch_ptrs_##S(const em__gemm_desc *d, int64_t bi, const T **A, const T **B, T **C) {          \
        int64_t oa = 0, ob = 0, oc = 0;                                                                        \
        for (int ax = d->nbatch - 1; ax >= 0; ax--) {                                                          \
            int64_t idx = bi % d->bshape[ax];                                                                  \
            bi /= d->bshape[ax];                                                                               \
            oa += idx * d->bsa[ax];                                                                            \
            ob += idx * d->bsb[ax];                                                                            \
            oc += idx * d->bsc[ax];                                                                            \
        }                                                                                                      \
        *A = (const T *)d->A + oa, *B = (const T *)d->B + ob, *C = (T *)d->C + oc;                             \
    }                                                                                                          \
                                                                                                               \
    static void run_items_##S(void *vctx, int64_t begin, int64_t end, int tid) {                               \
        const ctx_##S *x = vctx;                                                                               \
        const em__gemm_desc *d = x->d;                                                                         \
        T *work = x->work ? x->work + tid * x->per_thread : NULL;                                              \
        for (int64_t item = begin; item < end; item++) {                                                       \
            int64_t g = item % x->mgroups, rest = item / x->mgroups;                                           \
            int64_t p = rest % x->npanels, bi = rest / x->npanels;                                             \
            const T *A, *B;                                                                                    \
            T *C;                                                                                              \
            batch_ptrs_##S(d, bi, &A, &B, &C);                                                                 \
            int64_t i0 = g * x->rows_per_group, i1 = EM_MIN(d->M, i0 + x->rows_per_group);                     \
            int64_t j0 = p * x->panel_w, nw = EM_MIN(d->N - j0, x->panel_w);                                   \
            if (d->K == 0)                                                                                     \
                tile_empty_##S(x, C, i0, i1, j0, nw);                                                          \
            else if (x->form == F_PACKED)                                                                      \
                tile_packed_##S(x, A, B, C, i0, i1, j0, nw, work);                                             \
            else if (x->form == F_SKINNY)                                                                      \
                tile_skinny_##S(x, A, B, C, j0, nw, work);                                                     \
            else                                                                                               \
                tile_dot_##S(x, A, B, C, i0, i1, j0, nw, work);                                                \
        }                                                                                                      \
    }                                                                                                          \
                                                                                                               \
    /* The shared form, step 1: slivers [begin, end) of the current kc x nw block of B into x->Bp. */         \
    static void pack_shared_##S(void *vctx, int64_t begin, int64_t end, int tid) {                             \
        const ctx_##S *x = vctx;                                                                               \
        const em__gemm_desc *d = x->d;                                                                         \
        int64_t NR = x->ks->nr, j = begin * NR, n = EM_MIN(x->nw, end * NR) - j;                               \
        pack_b_##S(x->ks, x->kc, n, x->B + x->pc * d->ldb_row + (x->jc + j) * d->ldb_col, d->ldb_row,          \
                   d->ldb_col, x->Bp + j * x->kc);                                                             \
    }                                                                                                          \
    /* Step 2: tiles [begin, end) of C (tile_m rows x tile_n columns) against the packed block. */            \
    static void run_shared_##S(void *vctx, int64_t begin, int64_t end, int tid) {                              \
        const ctx_##S *x = vctx;                                                                               \
        T *Ap = x->work ? x->work + tid * x->per_thread : NULL;                                                \
        for (int64_t item = begin; item < end; item++) {                                                       \
            int64_t i0 = item / x->tiles_n * x->tile_m, j = item % x->tiles_n * x->tile_n;                     \
            int64_t i1 = EM_MIN(x->d->M, i0 + x->tile_m), nw = EM_MIN(x->nw - j, x->tile_n);                   \
            block_##S(x, x->A, x->Bp + j * x->kc, NULL, 0, x->C, x->pc, x->kc, i0, i1, x->jc + j, nw, Ap, NULL);  \
        }                                                                                                      \
    }                                                                                                          \
                                                                                                               \
    /* Packed form with few batch entries on several threads: per batch entry, per nc panel and per kc      \
     * block of K, the threads pack the block of B together and then split its tiles of C.  Each output      \
     * still takes its kc blocks in ascending order, so the bits are those of one thread. */                  \
    static void gemm_shared_##S(ctx_##S *x, int64_t nb, int nt) {                                              \
        const em__gemm_desc *d = x->d;                                                                         \
        const em__gemm_kset_##S *ks = x->ks;                                                                   \
        for (int64_t bi = 0; bi < nb; bi++) {                                                                  \
            batch_ptrs_##S(d, bi, &x->A, &x->B, &x->C);                                                        \
            for (x->jc = 0; x->jc < d->N; x->jc += ks->nc) {                                                   \
                x->nw = EM_MIN(d->N - x->jc, ks->nc);                                                          \
                int64_t slivers = CDIV(x->nw, ks->nr);                                                         \
                /* tiles: mc-row blocks cut into column groups until each thread has several, so that uneven \
                 * counts and a thread the host slows cost little; a packed A is packed again per group, so    \
                 * then only two per thread */                                                                 \
                int64_t rb = CDIV(d->M, ks->mc), cb = EM_MIN(slivers, CDIV((x->a_direct ? 8 : 2) * nt, rb));   \
                x->tile_m = ks->mc;                                                                            \
                x->tile_n = CDIV(slivers, cb) * ks->nr;                                                        \
                x->tiles_n = CDIV(x->nw, x->tile_n);                                                           \
                for (x->pc = 0; x->pc < d->K; x->pc += ks->kc) {                                               \
                    x->kc = EM_MIN(d->K - x->pc, ks->kc);                                                      \
                    em__parallel_for(slivers, EM_MAX(1, 4096 / (x->kc * ks->nr) + 1), nt, pack_shared_##S, x); \
                    em__parallel_for(rb * x->tiles_n, 1, nt, run_shared_##S, x);                               \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
    }                                                                                                          \
                                                                                                               \
    static em_status gemm_##S(const em__gemm_desc *d, em__gemm_isa isa) {                                      \
        ctx_##S x = {0};                                                                                       \
        x.d = d;                                                                                               \
        x.ks = isa == EM__GEMM_AVX512 ? em__gemm_avx512_##S()                                                  \
               : isa == EM__GEMM_AVX2 ? em__gemm_avx2_##S()                                                    \
                                      : &portable_##S;                                                         \
        x.alpha = (T)d->alpha;                                                                                 \
        x.beta = (T)d->beta;                                                                                   \
        const em__gemm_kset_##S *ks = x.ks;                                                                    \
        int64_t M = d->M, N = d->N, K = d->K, nb = em__numel(d->nbatch, d->bshape);                            \
        if (M <= 0 || N <= 0 || nb <= 0) return EM_OK;                                                         \
        if (d->act != EM_ACT_NONE && d->act != EM_ACT_RELU) {                                                  \
            if (sizeof(T) == sizeof(float))                                                                    \
                x.vact = em__vmath_f32_isa(act_op(d->act),                                                     \
                                           isa == EM__GEMM_PORTABLE ? EM__VMATH_PORTABLE : em__vmath_active_isa()); \
            x.sact = !x.vact;                                                                                  \
        }                                                                                                      \
        /* A in place when its rows or its columns are contiguous: the micro-kernels take either */            \
        x.a_direct = d->lda_col == 1 || d->lda_row == 1;                                                       \
        /* form and work units (row unit, column unit) from the shape and layout */                          \
        int64_t runit, cunit, kc = EM_MIN(K, ks->kc);                                                          \
        if (K > 0 && M <= SKINNY_M && d->ldb_col == 1) {                                                       \
            x.form = F_SKINNY, runit = M, cunit = ks->nr;                                                      \
            x.a_size = M == 1 ? kc : x.a_direct ? 0 : CDIV(M, ks->mr) * ks->mr * kc;                           \
            x.per_thread = x.a_size + 2 * ks->nr * kc; /* a padded last sliver, wide tiles included */        \
        } else if (K > 0 && d->ldb_row == 1 && (M <= SKINNY_M || (N <= 4 && d->lda_col == 1))) {               \
            x.form = F_DOT, runit = ks->dm, cunit = ks->dn;                                                    \
            x.per_thread = d->lda_col != 1 ? M * K : 0;                                                        \
        } else {                                                                                               \
            x.form = F_PACKED, runit = ks->mc, cunit = ks->nc;                                                 \
            /* A is packed when an mc x kc block of it spans more than half the L2: rows further apart      \
             * share L2 sets (Zen 3's 8-way 512 KiB L2 repeats every 64 KiB, so mc = 144 rows of a 1024 x 1024  \
             * A, 4 KiB apart, put 9 lines in each set and the block streamed from L3 for every sliver) */  \
            double span = d->lda_col == 1 ? (double)EM_MIN(M, ks->mc) * (double)llabs(d->lda_row)               \
                                          : (double)kc * (double)llabs(d->lda_col);                            \
            if (ks->l2 && span * (double)sizeof(T) > (double)ks->l2 / 2) x.a_direct = false;                   \
            x.a_size = x.a_direct ? 0 : CDIV(EM_MIN(M, ks->mc), ks->mr) * ks->mr * kc;                         \
            /* a small B is read in place: packing would cost more than its strided rows do.  Not when    \
             * its rows are off the kernel's vector loads (two a sliver row): NumPy's arrays start 16     \
             * bytes into a cache line, every other load of a row then spans two lines, and 256^3 ran    \
             * 13-25% slower than with B packed */                                                        \
            uint64_t vb = (uint64_t)ks->nr * sizeof(T) / 2;                                                    \
            bool b_aligned = (uintptr_t)d->B % vb == 0 && (uint64_t)llabs(d->ldb_row) * sizeof(T) % vb == 0;   \
            x.b_direct = d->ldb_col == 1 && b_aligned && (double)K * N * sizeof(T) <= B_DIRECT_BYTES;          \
        }                                                                                                      \
        if (K == 0) runit = M, cunit = N;                                                                      \
        int nt = em__threads();                                                                                \
        if ((double)M * N * (K ? K : 1) * nb < PARALLEL_MIN_FMA) nt = 1;                                       \
        int64_t items;                                                                                         \
        if (x.form == F_PACKED && K > 0 && nt > 1 && nb < nt && !x.b_direct && M > ks->mc) {                   \
            /* shared form: one packed block of B (kc x min(N, nc)), A blocks per thread.  Not for one   \
             * block of rows: the threads then take whole panels of columns and pack their own, with no  \
             * barrier per kc block (2 threads, 64x784x128: 114-128 GFLOPS against 103-111 shared) */     \
            x.per_thread = CDIV(x.a_size, 16) * 16; /* keeps each thread's slice 64-byte aligned */            \
            int64_t bsize = CDIV(EM_MIN(N, ks->nc), ks->nr) * ks->nr * kc;                                     \
            bool owned;                                                                                        \
            T *buf = scratch_get((size_t)(x.per_thread * nt + bsize) * sizeof(T), &owned);                     \
            if (!buf) goto nomem;                                                                              \
            x.work = x.per_thread ? buf : NULL;                                                                \
            x.Bp = buf + x.per_thread * nt;                                                                    \
            gemm_shared_##S(&x, nb, nt);                                                                       \
            if (owned) em__free(buf);                                                                          \
            return EM_OK;                                                                                      \
        }                                                                                                      \
        /* independent items: one per thread at least when there is enough work */                           \
        int64_t rblocks = CDIV(M, runit), cblocks = CDIV(N, cunit), mg = 1, np = cblocks, pw = cunit;          \
        if (x.form == F_SKINNY || x.form == F_DOT) pw = CDIV(N, cunit) * cunit, np = 1;                        \
        if (nt > 1 && nb < nt) {                                                                               \
            int64_t need = CDIV(nt, nb);                                                                       \
            mg = EM_MIN(rblocks, need);                                                                        \
            if (mg * np < need) { /* packed panels narrower than nc where needed: whole slivers */         \
                int64_t u = x.form == F_PACKED ? ks->nr : cunit;                                               \
                np = EM_MIN(CDIV(N, u), CDIV(need, mg));                                                       \
                pw = CDIV(CDIV(N, np), u) * u;                                                                 \
                np = CDIV(N, pw);                                                                              \
            }                                                                                                  \
        }                                                                                                      \
        x.rows_per_group = CDIV(rblocks, mg) * runit;                                                          \
        x.mgroups = CDIV(M, x.rows_per_group);                                                                 \
        x.npanels = np;                                                                                        \
        x.panel_w = pw;                                                                                        \
        if (x.form == F_PACKED && K > 0)                                                                       \
            x.per_thread = x.a_size + (x.b_direct ? 2 * ks->nr : CDIV(EM_MIN(N, pw), ks->nr) * ks->nr) * kc;   \
        if (K == 0) x.per_thread = 0;                                                                          \
        items = nb * x.npanels * x.mgroups;                                                                    \
        if (nt > items) nt = (int)items;                                                                       \
        bool owned = false;                                                                                    \
        if (x.per_thread > 0) {                                                                                \
            x.per_thread = CDIV(x.per_thread, 16) * 16; /* keep each thread's slice 64-byte aligned */         \
            x.work = scratch_get((size_t)(x.per_thread * nt) * sizeof(T), &owned);                             \
            if (!x.work) goto nomem;                                                                           \
        }                                                                                                      \
        em__parallel_for(items, 1, nt, run_items_##S, &x);                                                     \
        if (owned) em__free(x.work);                                                                           \
        return EM_OK;                                                                                          \
    nomem:                                                                                                     \
        return em__error(EM_ERR_NOMEM, "matmul: out of memory for packing buffers (%lld x %lld x %lld)",       \
                         (long long)M, (long long)N, (long long)K);                                            \
    }

DEF_DRIVER(f32, float)
DEF_DRIVER(f64, double)

em__gemm_desc em__gemm_desc_init(int64_t M, int64_t N, int64_t K, const void *A, int64_t lda_row, int64_t lda_col,
                                 const void *B, int64_t ldb_row, int64_t ldb_col, void *C, int64_t ldc) {
    em__gemm_desc d;
    memset(&d, 0, sizeof d);
    d.M = M, d.N = N, d.K = K;
    d.alpha = 1, d.beta = 0;
    d.A = A, d.lda_row = lda_row, d.lda_col = lda_col;
    d.B = B, d.ldb_row = ldb_row, d.ldb_col = ldb_col;
    d.C = C, d.ldc = ldc;
    d.act = EM_ACT_NONE;
    return d;
}

em_status em__gemm(em_dtype dt, const em__gemm_desc *d) {
    em__gemm_isa isa = em__gemm_active_isa();
    if (dt == EM_F32) return gemm_f32(d, isa);
    if (dt == EM_F64) return gemm_f64(d, isa);
    return em__error(EM_ERR_DTYPE, "gemm: dtype %s is not float32 or float64", em_dtype_name(dt) ? em_dtype_name(dt) : "?");
}

em_status em__gemm_f32(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda_row,
                       int64_t lda_col, const float *B, int64_t ldb_row, int64_t ldb_col, float beta, float *C,
                       int64_t ldc) {
    em__gemm_desc d = em__gemm_desc_init(M, N, K, A, lda_row, lda_col, B, ldb_row, ldb_col, C, ldc);
    d.alpha = alpha, d.beta = beta;
    return gemm_f32(&d, em__gemm_active_isa());
}

em_status em__gemm_f64(int64_t M, int64_t N, int64_t K, double alpha, const double *A, int64_t lda_row,
                       int64_t lda_col, const double *B, int64_t ldb_row, int64_t ldb_col, double beta, double *C,
                       int64_t ldc) {
    em__gemm_desc d = em__gemm_desc_init(M, N, K, A, lda_row, lda_col, B, ldb_row, ldb_col, C, ldc);
    d.alpha = alpha, d.beta = beta;
    return gemm_f64(&d, em__gemm_active_isa());
}
