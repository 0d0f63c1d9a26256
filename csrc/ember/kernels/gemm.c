/* Cache-blocked GEMM driver (the Goto/BLIS loop nest) with batches, a fused
 * epilogue and threads; see gemm.h and docs/kernels.md (section GEMM).
 *
 * Three forms, picked from (M, N, K) and the operands' layout only:
 *  - packed: B in kc x nc panels packed into NR-wide slivers, A in mc x kc
 *    blocks packed into MR-tall slivers (zero padded), so the micro-kernel
 *    reads two unit-stride streams whatever the caller's strides;
 *  - skinny (M <= 16, rows of B contiguous): A packed, B read in place;
 *  - dot (columns of B contiguous and M <= 16 or N <= 4, i.e. x @ W^T and
 *    GEMV): lane-interleaved dot products, nothing packed.
 * Summation order per output: packed and skinny form one multiply-add chain
 * per kc block of K (k ascending, from 0), and merge blocks in ascending
 * order: C = alpha*s_0 + beta*C, then C = C + alpha*s_b; the dot form keeps
 * LANES partial sums (k mod LANES) over all of K and adds them pairwise.
 * The epilogue (+ bias, activation) runs on each tile after its last block.
 *
 * Threads: work items are (batch entry, column panel, row group) tiles of C;
 * K is never split, so a thread count only moves tiles between threads. */
#include "gemm.h"

#include <math.h>

#include "../base/cpu.h"
#include "../base/threadpool.h"
#include "vmath.h"

#define EM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define EM_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CDIV(a, b) (((a) + (b) - 1) / (b))
#define SKINNY_M 16
#define ROW_N(T) (int64_t)(256 / sizeof(T)) /* columns per call of the row kernel: 8 vectors */
/* below this many multiply-adds a product runs on the calling thread: waking
 * the pool costs more than it saves */
#define PARALLEL_MIN_FMA (1 << 20)

enum form { F_PACKED, F_SKINNY, F_DOT };

/* ---- instruction-set choice --------------------------------------------- */

static _Atomic int forced_isa = -1, chosen_isa = -1;

static bool isa_runs(int isa) {
    return isa == EM__GEMM_PORTABLE ||
           (isa == EM__GEMM_AVX2 && em__gemm_avx2_f32() && em__gemm_avx2_f64() && em__cpu_avx2_fma());
}

em__gemm_isa em__gemm_active_isa(void) {
    int f = atomic_load_explicit(&forced_isa, memory_order_relaxed);
    if (f >= 0) return (em__gemm_isa)f;
    int c = atomic_load_explicit(&chosen_isa, memory_order_relaxed);
    if (c < 0) { /* racing first calls store the same value */
        c = !em__cpu_force_portable() && isa_runs(EM__GEMM_AVX2) ? EM__GEMM_AVX2 : EM__GEMM_PORTABLE;
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
    static void ukr_##S(int64_t kc, const T *restrict a, const T *restrict b, int64_t ldb, T *c, int64_t ldc, \
                        int mr, int nr, const em__gemm_out_##S *o) {                                       \
        T acc[MR][NR];                                                                                     \
        for (int r = 0; r < MR; r++)                                                                       \
            for (int q = 0; q < NR; q++) acc[r][q] = 0;                                                    \
        for (int64_t k = 0; k < kc; k++, a += MR, b += ldb) {                                              \
            _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                         \
                T av = a[r];                                                                               \
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
        T acc[64] = {0};                                                                                   \
        for (int64_t k = 0; k < kc; k++, b += ldb)                                                         \
            for (int q = 0; q < n; q++) acc[q] += a[k] * b[q];                                             \
        for (int q = 0; q < n; q++) store1_##S(c + q, acc[q], o, q);                                       \
    }                                                                                                      \
    /* 4 x NR tiles fill the 16 baseline (SSE2) vector registers */                                      \
    static const em__gemm_kset_##S portable_##S = {MR, NR, 1, 1, 256, 144, 4080, ukr_##S, dot_##S, row_##S};

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
        int64_t mgroups, rows_per_group, npanels, panel_w;                                                     \
        T *work;                                                                                               \
        int64_t per_thread, a_size;                                                                            \
    } ctx_##S;                                                                                                 \
                                                                                                               \
    /* Ap[ir/mr][k][r] = A[ir + r, k], rows past m zero. */                                                  \
    static void pack_a_##S(int64_t m, int64_t kc, const T *A, int64_t rs, int64_t cs, int MR, T *Ap) {         \
        for (int64_t ir = 0; ir < m; ir += MR, Ap += kc * MR) {                                                \
            int mr = (int)EM_MIN(m - ir, MR);                                                                  \
            const T *a = A + ir * rs;                                                                          \
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
    /* Bp[jr/nr][k][q] = B[k, jr + q], columns past n zero. */                                               \
    static void pack_b_##S(int64_t kc, int64_t n, const T *B, int64_t rs, int64_t cs, int NR, T *Bp) {         \
        for (int64_t jr = 0; jr < n; jr += NR, Bp += kc * NR) {                                                \
            int nr = (int)EM_MIN(n - jr, NR);                                                                  \
            const T *b = B + jr * cs;                                                                          \
            if (cs == 1 && nr == NR && NR * sizeof(T) == 64) { /* one cache line per k, copied inline */      \
                for (int64_t k = 0; k < kc; k++) memcpy(Bp + k * NR, b + k * rs, 64);                          \
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
    /* Rows [i0, i1) and columns [j0, j0 + nw) of one product. */                                            \
    static void tile_packed_##S(const ctx_##S *x, const T *A, const T *B, T *C, int64_t i0, int64_t i1,        \
                                int64_t j0, int64_t nw, T *work) {                                             \
        const em__gemm_desc *d = x->d;                                                                         \
        const em__gemm_kset_##S *ks = x->ks;                                                                   \
        T *Ap = work, *Bp = work + x->a_size;                                                                  \
        for (int64_t pc = 0; pc < d->K; pc += ks->kc) {                                                        \
            int64_t kc = EM_MIN(d->K - pc, ks->kc);                                                            \
            bool first = pc == 0, last = pc + kc == d->K;                                                      \
            pack_b_##S(kc, nw, B + pc * d->ldb_row + j0 * d->ldb_col, d->ldb_row, d->ldb_col, ks->nr, Bp);     \
            for (int64_t ic = i0; ic < i1; ic += ks->mc) {                                                     \
                int64_t mc = EM_MIN(i1 - ic, ks->mc);                                                          \
                pack_a_##S(mc, kc, A + ic * d->lda_row + pc * d->lda_col, d->lda_row, d->lda_col, ks->mr, Ap); \
                for (int64_t jr = 0; jr < nw; jr += ks->nr) {                                                  \
                    int nr = (int)EM_MIN(nw - jr, ks->nr);                                                     \
                    em__gemm_out_##S o = out_##S(x, first, last, j0 + jr);                                     \
                    for (int64_t ir = 0; ir < mc; ir += ks->mr) {                                              \
                        int mr = (int)EM_MIN(mc - ir, ks->mr);                                                 \
                        T *c = C + (ic + ir) * d->ldc + j0 + jr;                                               \
                        ks->ukr(kc, Ap + ir * kc, Bp + jr * kc, ks->nr, c, d->ldc, mr, nr, &o);                \
                        if (last) act_tile_##S(x, c, d->ldc, mr, nr);                                          \
                    }                                                                                          \
                }                                                                                              \
            }                                                                                                  \
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
            if (d->M == 1 && ks->row) { /* GEMV: 64 columns at a time, B streamed once */                     \
                const T *a = A + pc * d->lda_col;                                                              \
                if (d->lda_col != 1) {                                                                         \
                    for (int64_t k = 0; k < kc; k++) Ap[k] = a[k * d->lda_col];                                \
                    a = Ap;                                                                                    \
                }                                                                                              \
                for (int64_t jr = j0; jr < j0 + nw; jr += ROW_N(T)) {                                          \
                    int n = (int)EM_MIN(j0 + nw - jr, ROW_N(T));                                               \
                    em__gemm_out_##S o = out_##S(x, first, last, jr);                                          \
                    ks->row(kc, a, B + pc * d->ldb_row + jr, d->ldb_row, C + jr, n, &o);                       \
                    if (last) act_tile_##S(x, C + jr, d->ldc, 1, n);                                           \
                }                                                                                              \
                continue;                                                                                      \
            }                                                                                                  \
            pack_a_##S(d->M, kc, A + pc * d->lda_col, d->lda_row, d->lda_col, ks->mr, Ap);                     \
            for (int64_t jr = j0; jr < j0 + nw; jr += ks->nr) {                                                \
                int nr = (int)EM_MIN(j0 + nw - jr, ks->nr);                                                    \
                const T *b = B + pc * d->ldb_row + jr;                                                         \
                int64_t ldb = d->ldb_row;                                                                      \
                if (nr < ks->nr) { /* the kernel reads NR columns: pad the last sliver */                      \
                    pack_b_##S(kc, nr, b, ldb, 1, ks->nr, Bs);                                                 \
                    b = Bs;                                                                                    \
                    ldb = ks->nr;                                                                              \
                }                                                                                              \
                em__gemm_out_##S o = out_##S(x, first, last, jr);                                              \
                for (int64_t ir = 0; ir < d->M; ir += ks->mr) {                                                \
                    int mr = (int)EM_MIN(d->M - ir, ks->mr);                                                   \
                    T *c = C + ir * d->ldc + jr;                                                               \
                    ks->ukr(kc, Ap + ir * kc, b, ldb, c, d->ldc, mr, nr, &o);                                  \
                    if (last) act_tile_##S(x, c, d->ldc, mr, nr);                                              \
                }                                                                                              \
            }                                                                                                  \
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
    static void run_items_##S(void *vctx, int64_t begin, int64_t end, int tid) {                               \
        const ctx_##S *x = vctx;                                                                               \
        const em__gemm_desc *d = x->d;                                                                         \
        T *work = x->work ? x->work + tid * x->per_thread : NULL;                                              \
        for (int64_t item = begin; item < end; item++) {                                                       \
            int64_t g = item % x->mgroups, rest = item / x->mgroups;                                           \
            int64_t p = rest % x->npanels, bi = rest / x->npanels;                                             \
            int64_t oa = 0, ob = 0, oc = 0;                                                                    \
            for (int ax = d->nbatch - 1; ax >= 0; ax--) {                                                      \
                int64_t idx = bi % d->bshape[ax];                                                              \
                bi /= d->bshape[ax];                                                                           \
                oa += idx * d->bsa[ax];                                                                        \
                ob += idx * d->bsb[ax];                                                                        \
                oc += idx * d->bsc[ax];                                                                        \
            }                                                                                                  \
            const T *A = (const T *)d->A + oa, *B = (const T *)d->B + ob;                                      \
            T *C = (T *)d->C + oc;                                                                             \
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
    static em_status gemm_##S(const em__gemm_desc *d, em__gemm_isa isa) {                                      \
        ctx_##S x = {0};                                                                                       \
        x.d = d;                                                                                               \
        x.ks = isa == EM__GEMM_AVX2 ? em__gemm_avx2_##S() : &portable_##S;                                     \
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
        /* form and work units (row unit, column unit) from the shape and layout */                          \
        int64_t runit, cunit;                                                                                  \
        if (K > 0 && M <= SKINNY_M && d->ldb_col == 1) {                                                       \
            x.form = F_SKINNY, runit = M, cunit = ks->nr;                                                      \
            x.a_size = CDIV(M, ks->mr) * ks->mr * EM_MIN(K, ks->kc);                                           \
            x.per_thread = x.a_size + ks->nr * EM_MIN(K, ks->kc);                                              \
        } else if (K > 0 && d->ldb_row == 1 && (M <= SKINNY_M || (N <= 4 && d->lda_col == 1))) {               \
            x.form = F_DOT, runit = ks->dm, cunit = ks->dn;                                                    \
            x.per_thread = d->lda_col != 1 ? M * K : 0;                                                        \
        } else {                                                                                               \
            x.form = F_PACKED, runit = ks->mc, cunit = ks->nc;                                                 \
        }                                                                                                      \
        if (K == 0) runit = M, cunit = N;                                                                      \
        /* split into items: one per thread at least when there is enough work */                           \
        int nt = em__threads();                                                                                \
        if ((double)M * N * (K ? K : 1) * nb < PARALLEL_MIN_FMA) nt = 1;                                       \
        int64_t rblocks = CDIV(M, runit), cblocks = CDIV(N, cunit), mg = 1, np = cblocks, pw = cunit;          \
        if (x.form == F_SKINNY || x.form == F_DOT) pw = CDIV(N, cunit) * cunit, np = 1;                        \
        if (nt > 1 && nb < nt) {                                                                               \
            int64_t need = CDIV(nt, nb);                                                                       \
            mg = EM_MIN(rblocks, need);                                                                        \
            if (mg * np < need) {                                                                              \
                int64_t unit = x.form == F_PACKED ? ks->nr : cunit;                                            \
                np = EM_MIN(CDIV(N, unit), CDIV(need, mg));                                                    \
                pw = CDIV(CDIV(N, np), unit) * unit;                                                           \
                if (x.form == F_PACKED && pw > ks->nc) pw = ks->nc;                                            \
                np = CDIV(N, pw);                                                                              \
            }                                                                                                  \
        }                                                                                                      \
        x.rows_per_group = CDIV(rblocks, mg) * runit;                                                          \
        x.mgroups = CDIV(M, x.rows_per_group);                                                                 \
        x.npanels = np;                                                                                        \
        x.panel_w = pw;                                                                                        \
        if (x.form == F_PACKED && K > 0) {                                                                     \
            int64_t kc = EM_MIN(K, ks->kc);                                                                    \
            x.a_size = CDIV(EM_MIN(M, ks->mc), ks->mr) * ks->mr * kc;                                          \
            x.per_thread = x.a_size + CDIV(EM_MIN(N, pw), ks->nr) * ks->nr * kc;                               \
        }                                                                                                      \
        if (K == 0) x.per_thread = 0;                                                                          \
        int64_t items = nb * x.npanels * x.mgroups;                                                            \
        if (nt > items) nt = (int)items;                                                                       \
        if (x.per_thread > 0) {                                                                                \
            x.per_thread = CDIV(x.per_thread, 16) * 16; /* keep each thread's slice 64-byte aligned */         \
            x.work = em__alloc((size_t)(x.per_thread * nt) * sizeof(T));                                       \
            if (!x.work)                                                                                       \
                return em__error(EM_ERR_NOMEM, "matmul: out of memory for packing buffers (%lld x %lld x %lld)", \
                                 (long long)M, (long long)N, (long long)K);                                    \
        }                                                                                                      \
        em__parallel_for(items, 1, nt, run_items_##S, &x);                                                     \
        em__free(x.work);                                                                                      \
        return EM_OK;                                                                                          \
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
