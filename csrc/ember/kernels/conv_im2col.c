/* im2col / col2im for one image (or one group of it), see conv_kernels.h;
 * ld is the row stride of col, so a block of images fills side-by-side columns.
 * Each (channel, tap) row is filled one output row at a time: the valid
 * output columns are computed once per tap so the inner loop has no bounds
 * test. */
#include "conv_kernels.h"

/* Rows are short (an output row: often 7 to 56 elements): a call to memcpy
 * per row costs more than the copy, so keep the copy loops as loops. */
#pragma GCC optimize("no-tree-loop-distribute-patterns")

#define DEF_IM2COL(S, T)                                                                            \
    void em__im2col_##S(const em__conv_geom *g, int64_t nc, const T *x, T *col, int64_t ld) {                 \
        int64_t OH = g->OH, OW = g->OW;                                                             \
        for (int64_t c = 0; c < nc; c++) {                                                          \
            const T *xc = x + c * g->H * g->W;                                                      \
            for (int64_t i = 0; i < g->kh; i++) {                                                   \
                int64_t hlo, hhi;                                                                   \
                em__conv_valid(i * g->dh - g->ph, g->sh, g->H, OH, &hlo, &hhi);                     \
                for (int64_t j = 0; j < g->kw; j++, col += ld) {                                      \
                    int64_t off = j * g->dw - g->pw, lo, hi;                                        \
                    em__conv_valid(off, g->sw, g->W, OW, &lo, &hi);                                 \
                    if (hlo > 0) memset(col, 0, (size_t)(hlo * OW) * sizeof(T));                    \
                    for (int64_t oh = hlo; oh < hhi; oh++) {                                        \
                        T *dst = col + oh * OW;                                                     \
                        const T *src = xc + (oh * g->sh + i * g->dh - g->ph) * g->W + off;          \
                        for (int64_t ow = 0; ow < lo; ow++) dst[ow] = 0;                            \
                        if (g->sw == 1)                                                             \
                            for (int64_t ow = lo; ow < hi; ow++) dst[ow] = src[ow];                 \
                        else                                                                        \
                            for (int64_t ow = lo; ow < hi; ow++) dst[ow] = src[ow * g->sw];         \
                        for (int64_t ow = hi; ow < OW; ow++) dst[ow] = 0;                           \
                    }                                                                               \
                    if (hhi < OH) memset(col + hhi * OW, 0, (size_t)((OH - hhi) * OW) * sizeof(T)); \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
    void em__col2im_##S(const em__conv_geom *g, int64_t nc, const T *col, int64_t ld, T *x) {                 \
        int64_t OH = g->OH, OW = g->OW;                                                             \
        for (int64_t c = 0; c < nc; c++) {                                                          \
            T *xc = x + c * g->H * g->W;                                                            \
            for (int64_t i = 0; i < g->kh; i++) {                                                   \
                int64_t hlo, hhi;                                                                   \
                em__conv_valid(i * g->dh - g->ph, g->sh, g->H, OH, &hlo, &hhi);                     \
                for (int64_t j = 0; j < g->kw; j++, col += ld) {                                      \
                    int64_t off = j * g->dw - g->pw, lo, hi;                                        \
                    em__conv_valid(off, g->sw, g->W, OW, &lo, &hi);                                 \
                    for (int64_t oh = hlo; oh < hhi; oh++) {                                        \
                        const T *src = col + oh * OW;                                               \
                        T *dst = xc + (oh * g->sh + i * g->dh - g->ph) * g->W + off;                \
                        if (g->sw == 1)                                                             \
                            for (int64_t ow = lo; ow < hi; ow++) dst[ow] += src[ow];                \
                        else                                                                        \
                            for (int64_t ow = lo; ow < hi; ow++) dst[ow * g->sw] += src[ow];        \
                    }                                                                               \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }

DEF_IM2COL(f32, float)
DEF_IM2COL(f64, double)

void em__conv_pad_plane_f32(const em__conv_geom *g, const float *x, int64_t Hp, int64_t Wp, int64_t rs, float *dst) {
    for (int64_t h = 0; h < Hp; h++) {
        float *d = dst + h * rs;
        if (h < g->ph || h >= g->ph + g->H) {
            for (int64_t j = 0; j < Wp; j++) d[j] = 0;
            continue;
        }
        for (int64_t j = 0; j < g->pw; j++) d[j] = 0;
        memcpy(d + g->pw, x + (h - g->ph) * g->W, (size_t)g->W * sizeof(float));
        for (int64_t j = g->pw + g->W; j < Wp; j++) d[j] = 0;
    }
}
