/* Portable row primitives of the convolution kernels and the run-time choice
 * between them and the AVX2+FMA ones (kernels/x86/conv_avx2.c). */
#include "conv_kernels.h"

#include "../base/cpu.h"

#define DEF_ROWOPS(S, T)                                                                  \
    static void axpy_##S(int64_t n, T a, const T *restrict x, T *restrict y) {            \
        for (int64_t p = 0; p < n; p++) y[p] += a * x[p];                                 \
    }                                                                                     \
    static T dot_##S(int64_t n, const T *x, const T *y) {                                 \
        T lane[8] = {0};                                                                  \
        int64_t p = 0;                                                                    \
        for (; p + 8 <= n; p += 8)                                                        \
            for (int l = 0; l < 8; l++) lane[l] += x[p + l] * y[p + l];                   \
        for (int l = 0; p < n; p++, l++) lane[l] += x[p] * y[p];                          \
        for (int w = 4; w > 0; w /= 2)                                                    \
            for (int l = 0; l < w; l++) lane[l] += lane[l + w];                           \
        return lane[0];                                                                   \
    }

DEF_ROWOPS(f32, float)
DEF_ROWOPS(f64, double)

static const em__conv_rowops portable = {axpy_f32, axpy_f64, dot_f32, dot_f64};

const em__conv_rowops *em__conv_rowops_portable(void) { return &portable; }

#if defined(__GNUC__) && defined(__x86_64__)
/* kernels/x86/conv_avx2.c */
extern const em__conv_rowops em__conv_rowops_avx2_table;
const em__conv_rowops *em__conv_rowops_avx2(void) { return em__cpu_avx2_fma() ? &em__conv_rowops_avx2_table : NULL; }
#else
const em__conv_rowops *em__conv_rowops_avx2(void) { return NULL; }
#endif

const em__conv_rowops *em__conv_rowops_active(void) {
    static const em__conv_rowops *_Atomic chosen; /* racing first calls store the same value */
    const em__conv_rowops *c = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (!c) {
        c = em__cpu_force_portable() ? NULL : em__conv_rowops_avx2();
        if (!c) c = &portable;
        atomic_store_explicit(&chosen, c, memory_order_relaxed);
    }
    return c;
}
