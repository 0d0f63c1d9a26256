/* Depthwise convolution kernels (groups == C_in), see conv_kernels.h.
 *
 * im2col + GEMM would multiply a 1 x (kh*kw) weight row per channel: all
 * copying, almost no arithmetic.  Instead each kernel tap is a shifted row
 * update (axpy) or a shifted row dot product, over the output columns where
 * the tap lands inside the input, so no bounds test runs per element.
 * Summation order per output: bias, then taps in (i, j) order.
 *
 * With a SIMD variant (conv_dw.h: AVX-512 or AVX2+FMA) and stride 1 along W
 * the planes go to its whole-plane kernels instead: a strip of one output
 * row stays in registers while all taps are added, with the same order and
 * the same bits as the AVX2 axpy route.  grad_x of a stride-1 convolution
 * is then the forward correlation of gy with the flipped kernel and padding
 * d*(k-1) - p (a gather: each gx element's taps are summed in a register,
 * the m output channels in order), and grad_w keeps vector partial sums over
 * the whole plane (conv_dw.h) instead of one reduced dot per row. */
#include "conv_kernels.h"

#include <stdatomic.h>

#include "../base/cpu.h"
#include "conv_dw.h"

#if defined(__GNUC__) && defined(__x86_64__)
/* kernels/x86/conv_avx2.c and conv_avx512.c */
extern const em__dw_simd em__dw_simd_avx2_table, em__dw_simd_avx512_table;
const em__dw_simd *em__dw_simd_avx2(void) { return em__cpu_avx2_fma() ? &em__dw_simd_avx2_table : NULL; }
const em__dw_simd *em__dw_simd_avx512(void) { return em__cpu_avx512f() ? &em__dw_simd_avx512_table : NULL; }
#else
const em__dw_simd *em__dw_simd_avx2(void) { return NULL; }
const em__dw_simd *em__dw_simd_avx512(void) { return NULL; }
#endif

static atomic_int dw_forced = -1; /* em__dw_simd_force: -1 automatic, else 0..2 */

const em__dw_simd *em__dw_simd_active(void) {
    static const em__dw_simd *_Atomic chosen; /* racing first calls store the same value */
    static atomic_bool decided;
    int f = atomic_load_explicit(&dw_forced, memory_order_relaxed);
    if (f >= 0) return f == 2 ? em__dw_simd_avx512() : f == 1 ? em__dw_simd_avx2() : NULL;
    if (atomic_load_explicit(&decided, memory_order_acquire)) return atomic_load_explicit(&chosen, memory_order_relaxed);
    const em__dw_simd *c = NULL;
    if (!em__cpu_force_portable()) {
        c = em__dw_simd_avx512();
        if (!c) c = em__dw_simd_avx2();
    }
    atomic_store_explicit(&chosen, c, memory_order_relaxed);
    atomic_store_explicit(&decided, true, memory_order_release);
    return c;
}

em_status em__dw_simd_force(int which) {
    if (which < -1 || which > 2) return em__error(EM_ERR_INVALID_ARG, "dw_simd_force: which must be -1..2, got %d", which);
    if ((which == 1 && !em__dw_simd_avx2()) || (which == 2 && !em__dw_simd_avx512()))
        return em__error(EM_ERR_UNSUPPORTED, "dw_simd_force: this CPU cannot run variant %d", which);
    atomic_store(&dw_forced, which);
    return EM_OK;
}

static em__dw_plane plane_of(const em__conv_geom *g) {
    return (em__dw_plane){g->H, g->W, g->OH, g->OW, g->kh, g->kw, g->sh, g->ph, g->pw, g->dh, g->dw};
}

#define DW_FLIP_MAX 64 /* grad_x gathers with a flipped copy of the kernel on the stack */

#define DEF_DW(S, T)                                                                                     \
    void em__dwconv_fwd_##S(const em__conv_geom *g, const T *x, const T *w, const T *bias, T *y) {      \
        const em__conv_rowops *ops = em__conv_rowops_active();                                           \
        int64_t m = g->O / g->C, OW = g->OW, P = g->OH * OW, kk = g->kh * g->kw;                         \
        const em__dw_simd *simd = em__dw_simd_active();                                                  \
        if (simd && g->sw == 1 && g->kw <= DW_KW_MAX) {                                                                        \
            em__dw_plane pl = plane_of(g);                                                               \
            for (int64_t o = 0; o < m; o++)                                                              \
                simd->fwd_##S(&pl, x, w + o * kk, bias ? bias[o] : 0, false, y + o * P);                 \
            return;                                                                                      \
        }                                                                                                \
        for (int64_t o = 0; o < m; o++) {                                                                \
            T *yo = y + o * P, b = bias ? bias[o] : 0;                                                   \
            const T *wo = w + o * kk;                                                                    \
            for (int64_t p = 0; p < P; p++) yo[p] = b;                                                   \
            for (int64_t oh = 0; oh < g->OH; oh++) {                                                     \
                T *yr = yo + oh * OW;                                                                    \
                for (int64_t i = 0; i < g->kh; i++) {                                                    \
                    int64_t ih = oh * g->sh + i * g->dh - g->ph;                                         \
                    if (ih < 0 || ih >= g->H) continue;                                                  \
                    const T *xr = x + ih * g->W;                                                         \
                    for (int64_t j = 0; j < g->kw; j++) {                                                \
                        int64_t off = j * g->dw - g->pw, lo, hi;                                         \
                        em__conv_valid(off, g->sw, g->W, OW, &lo, &hi);                                  \
                        T a = wo[i * g->kw + j];                                                         \
                        if (g->sw == 1)                                                                  \
                            ops->axpy_##S(hi - lo, a, xr + lo + off, yr + lo);                           \
                        else                                                                             \
                            for (int64_t ow = lo; ow < hi; ow++) yr[ow] += a * xr[ow * g->sw + off];     \
                    }                                                                                    \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
    }                                                                                                    \
    void em__dwconv_bwd_x_##S(const em__conv_geom *g, const T *gy, const T *w, T *gx) {                 \
        const em__conv_rowops *ops = em__conv_rowops_active();                                           \
        int64_t m = g->O / g->C, OW = g->OW, P = g->OH * OW, kk = g->kh * g->kw;                         \
        const em__dw_simd *simd = em__dw_simd_active();                                                  \
        if (simd && g->sw == 1 && g->sh == 1 && g->kw <= DW_KW_MAX && kk <= DW_FLIP_MAX) {                                     \
            /* gx[r, q] = sum_o sum_{i,j} w[o, kh-1-i, kw-1-j] * gy[o, r + i*dh - ph', q + j*dw - pw'] */   \
            em__dw_plane pl = {g->OH, g->OW, g->H, g->W, g->kh, g->kw, 1, g->dh * (g->kh - 1) - g->ph,   \
                               g->dw * (g->kw - 1) - g->pw, g->dh, g->dw};                               \
            T wf[DW_FLIP_MAX];                                                                           \
            for (int64_t o = 0; o < m; o++) {                                                            \
                for (int64_t t = 0; t < kk; t++) wf[t] = w[o * kk + kk - 1 - t];                         \
                simd->fwd_##S(&pl, gy + o * P, wf, 0, o > 0, gx);                                        \
            }                                                                                            \
            return;                                                                                      \
        }                                                                                                \
        memset(gx, 0, (size_t)(g->H * g->W) * sizeof(T));                                                \
        for (int64_t o = 0; o < m; o++) {                                                                \
            const T *go = gy + o * P, *wo = w + o * kk;                                                  \
            for (int64_t oh = 0; oh < g->OH; oh++) {                                                     \
                const T *gr = go + oh * OW;                                                              \
                for (int64_t i = 0; i < g->kh; i++) {                                                    \
                    int64_t ih = oh * g->sh + i * g->dh - g->ph;                                         \
                    if (ih < 0 || ih >= g->H) continue;                                                  \
                    T *xr = gx + ih * g->W;                                                              \
                    for (int64_t j = 0; j < g->kw; j++) {                                                \
                        int64_t off = j * g->dw - g->pw, lo, hi;                                         \
                        em__conv_valid(off, g->sw, g->W, OW, &lo, &hi);                                  \
                        T a = wo[i * g->kw + j];                                                         \
                        if (g->sw == 1)                                                                  \
                            ops->axpy_##S(hi - lo, a, gr + lo, xr + lo + off);                           \
                        else                                                                             \
                            for (int64_t ow = lo; ow < hi; ow++) xr[ow * g->sw + off] += a * gr[ow];     \
                    }                                                                                    \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
    }                                                                                                    \
    void em__dwconv_bwd_w_##S(const em__conv_geom *g, const T *gy, const T *x, T *gw) {                 \
        const em__conv_rowops *ops = em__conv_rowops_active();                                           \
        int64_t m = g->O / g->C, OW = g->OW, P = g->OH * OW, kk = g->kh * g->kw;                         \
        const em__dw_simd *simd = em__dw_simd_active();                                                  \
        if (simd && g->sw == 1 && g->kw <= DW_KW_MAX) {                                                                        \
            em__dw_plane pl = plane_of(g);                                                               \
            for (int64_t o = 0; o < m; o++) simd->wgrad_##S(&pl, gy + o * P, x, gw + o * kk);            \
            return;                                                                                      \
        }                                                                                                \
        for (int64_t o = 0; o < m; o++) {                                                                \
            const T *go = gy + o * P;                                                                    \
            for (int64_t i = 0; i < g->kh; i++) {                                                        \
                int64_t hlo, hhi;                                                                        \
                em__conv_valid(i * g->dh - g->ph, g->sh, g->H, g->OH, &hlo, &hhi);                       \
                for (int64_t j = 0; j < g->kw; j++) {                                                    \
                    int64_t off = j * g->dw - g->pw, lo, hi;                                             \
                    em__conv_valid(off, g->sw, g->W, OW, &lo, &hi);                                      \
                    T acc = 0;                                                                           \
                    for (int64_t oh = hlo; oh < hhi; oh++) {                                             \
                        const T *gr = go + oh * OW, *xr = x + (oh * g->sh + i * g->dh - g->ph) * g->W;   \
                        if (g->sw == 1) {                                                                \
                            acc += ops->dot_##S(hi - lo, gr + lo, xr + lo + off);                        \
                        } else {                                                                         \
                            T s = 0;                                                                     \
                            for (int64_t ow = lo; ow < hi; ow++) s += gr[ow] * xr[ow * g->sw + off];     \
                            acc += s;                                                                    \
                        }                                                                                \
                    }                                                                                    \
                    gw[o * kk + i * g->kw + j] += acc;                                                   \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
    }

DEF_DW(f32, float)
DEF_DW(f64, double)
