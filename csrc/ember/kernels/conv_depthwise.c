/* Depthwise convolution kernels (groups == C_in), see conv_kernels.h.
 *
 * im2col + GEMM would multiply a 1 x (kh*kw) weight row per channel: all
 * copying, almost no arithmetic.  Instead each kernel tap is a shifted row
 * update (axpy) or a shifted row dot product, over the output columns where
 * the tap lands inside the input, so no bounds test runs per element.
 * Summation order per output: bias, then taps in (i, j) order. */
#include "conv_kernels.h"

#define DEF_DW(S, T)                                                                                     \
    void em__dwconv_fwd_##S(const em__conv_geom *g, const T *x, const T *w, const T *bias, T *y) {      \
        const em__conv_rowops *ops = em__conv_rowops_active();                                           \
        int64_t m = g->O / g->C, OW = g->OW, P = g->OH * OW, kk = g->kh * g->kw;                         \
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
