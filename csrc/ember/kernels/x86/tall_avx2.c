/* AVX2+FMA kernel of em_linalg_tall_project (contract in
 * kernels/tall_proj.h).  Compiled for the baseline target like every
 * libember file; only these functions carry target("avx2,fma"), and
 * ml/linalg_tall.c calls them only when the GEMM dispatch chose AVX2 or
 * AVX-512.
 *
 * A tile is R rows x NV vectors of directions (NV = kp / vector width): per
 * feature, NV loads of the packed W^T row and R broadcasts of X read in
 * place feed R * NV independent FMA chains.  R = 4 for up to two vectors
 * (8 accumulators), 2 for three or four (up to 8).  A tile past the last
 * row repeats that row and drops the copies, so each row's bits are the
 * same wherever it falls. */
#include "../tall_proj.h"

#include <string.h>

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))

/* One kernel per (element type, NV, R); the constant trip counts are fully
 * unrolled so the accumulators stay in registers. */
#define DEF_TP(S, T, VT, W, NV, R, SET0, LOAD, BCAST, FMA, ADD, STORE)                                       \
    TGT static void tp_##S##_##NV(int64_t m, int64_t d, int64_t k, int64_t kp, const T *X, int64_t ldx,       \
                                  const T *Wp, const T *b, T *out) {                                          \
        T bias[NV * W], tmp[R][NV * W];                                                                     \
        memset(bias, 0, sizeof bias);                                                                       \
        if (b) memcpy(bias, b, (size_t)k * sizeof(T));                                                      \
        for (int64_t i = 0; i < m; i += R) {                                                                \
            int rows = m - i < R ? (int)(m - i) : R;                                                        \
            const T *x[R];                                                                                  \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) x[r] = X + (i + (r < rows ? r : 0)) * ldx;  \
            VT acc[R][NV];                                                                                  \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                                             \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] = SET0();                    \
            const T *wf = Wp;                                                                               \
            for (int64_t f = 0; f < d; f++, wf += kp) {                                                     \
                VT wv[NV];                                                                                  \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) wv[v] = LOAD(wf + v * W);              \
                _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                                       \
                    VT xv = BCAST(x[r] + f);                                                                \
                    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] = FMA(xv, wv[v], acc[r][v]); \
                }                                                                                           \
            }                                                                                               \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                                             \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                        \
                    STORE(tmp[r] + v * W, ADD(acc[r][v], LOAD(bias + v * W)));                              \
            for (int r = 0; r < rows; r++)                                                                  \
                for (int64_t j = 0; j < k; j++) out[(i + r) * k + j] = tmp[r][j]; /* k is small: no memcpy call */ \
        }                                                                                                   \
    }

#define DEF_TP64(NV, R)                                                                                       \
    DEF_TP(f64, double, __m256d, 4, NV, R, _mm256_setzero_pd, _mm256_loadu_pd, _mm256_broadcast_sd,          \
           _mm256_fmadd_pd, _mm256_add_pd, _mm256_storeu_pd)
#define DEF_TP32(NV, R)                                                                                       \
    DEF_TP(f32, float, __m256, 8, NV, R, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_broadcast_ss,            \
           _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps)
DEF_TP64(1, 4)
DEF_TP64(2, 4)
DEF_TP64(3, 2)
DEF_TP64(4, 2)
DEF_TP32(1, 4)
DEF_TP32(2, 4)

TGT static void tallproj_f64(int64_t m, int64_t d, int64_t k, int64_t kp, const double *X, int64_t ldx,
                             const double *Wp, const double *b, double *out) {
    switch (kp / EM__TP_NR_F64) {
    case 1: tp_f64_1(m, d, k, kp, X, ldx, Wp, b, out); break;
    case 2: tp_f64_2(m, d, k, kp, X, ldx, Wp, b, out); break;
    case 3: tp_f64_3(m, d, k, kp, X, ldx, Wp, b, out); break;
    default: tp_f64_4(m, d, k, kp, X, ldx, Wp, b, out); break;
    }
}

TGT static void tallproj_f32(int64_t m, int64_t d, int64_t k, int64_t kp, const float *X, int64_t ldx,
                             const float *Wp, const float *b, float *out) {
    if (kp <= EM__TP_NR_F32) tp_f32_1(m, d, k, kp, X, ldx, Wp, b, out);
    else tp_f32_2(m, d, k, kp, X, ldx, Wp, b, out);
}

em__tallproj_f64_fn em__tallproj_avx2_f64(void) { return tallproj_f64; }
em__tallproj_f32_fn em__tallproj_avx2_f32(void) { return tallproj_f32; }

#else
em__tallproj_f64_fn em__tallproj_avx2_f64(void) { return 0; }
em__tallproj_f32_fn em__tallproj_avx2_f32(void) { return 0; }
#endif
