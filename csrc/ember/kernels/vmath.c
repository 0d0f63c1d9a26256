/* Vectorisable float32 math; see vmath.h.  Each vm_* element function is
 * branch-free: values are clamped with selects that let NaN through, NaN
 * then flows through the arithmetic (integer parts computed from a NaN are
 * garbage but only ever used as bits of a factor multiplied by NaN), and
 * special cases are fixed with selects.  Integer work is done in uint32_t so
 * no input can overflow a signed type, and no float is converted to an
 * integer.  Many functions also have a *_fast form for the common range
 * (*_ok), without the clamps, subnormal scaling and special cases; a step
 * holding any other input is redone with the full form.  Polynomials are
 * Cephes' single precision ones (log, sin, cos, one expm1) or fitted for
 * ember (expm1, erf, erfc; docs/accuracy.md).  Where an intermediate needs
 * more than 24 bits (the gelu_tanh argument, gelu's t, the sin/cos
 * reduction) it is formed in double. */
#include "vmath.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* a*b+c contracts into FMA where the target has it (the AVX2 and AVX-512
 * variants), whatever -std the build uses.  So that both contract the same
 * way, no sum here has two products as operands (a*b + c*d could fuse
 * either).  no-trapping-math lets gcc if-convert the selects. */
#if defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast", "no-trapping-math")
#endif

#define VM_INLINE static inline __attribute__((always_inline))

VM_INLINE uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
VM_INLINE float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
VM_INLINE float vabs(float x) { return u2f(f2u(x) & 0x7fffffffu); }
/* |m| with the sign of s */
VM_INLINE float with_sign(float m, float s) { return u2f((f2u(m) & 0x7fffffffu) | (f2u(s) & 0x80000000u)); }
/* Clamps that keep NaN: c < x ? c : x is exactly x86's minps(c, x). */
VM_INLINE float vmin(float x, float c) { return c < x ? c : x; }
VM_INLINE float vmax(float x, float c) { return c > x ? c : x; }
/* 2^n for n in [-126, 127] (n taken modulo 2^32, so garbage stays defined) */
VM_INLINE float pow2i(uint32_t n) { return u2f((n + 127u) << 23); }
/* v * 2^n for n in [-252, 254] with a single rounding when the result is
 * subnormal (2^n itself may not be a float). */
VM_INLINE float scale2(float v, int32_t n) {
    int32_t h = n >> 1;
    return v * pow2i((uint32_t)h) * pow2i((uint32_t)(n - h));
}

/* ---- exp family ----------------------------------------------------------
 * x = n ln2 + r with |r| <= ln2/2: adding 1.5*2^23 rounds x*log2(e) to the
 * integer n, left in the low mantissa bits of k (so bits(k) << 23 is n in
 * the exponent field).  ln2 is split so n*LN2_HI is exact (Cody-Waite).
 * Valid for |x| < 2^21. */
#define SHIFT 0x1.8p23f
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f
VM_INLINE float exp_reduce(float x, float *k) {
    *k = x * 1.44269504f + SHIFT;
    float nf = *k - SHIFT;
    return (x - nf * LN2_HI) - nf * LN2_LO;
}
/* Same for an argument carried in double (|x| < 2^21). */
VM_INLINE float exp_reduce_d(double x, float *k) {
    *k = (float)x * 1.44269504f + SHIFT;
    return (float)(x - (double)(*k - SHIFT) * 0.69314718055994530942);
}
VM_INLINE int32_t exp_n(float k) { return (int32_t)(f2u(k) - f2u(SHIFT)); }
/* v * 2^n for a normal result (v in [1/2, 2], n from exp_reduce) */
VM_INLINE float scale_fast(float v, float k) { return u2f(f2u(v) + (f2u(k) << 23)); }
/* e^r - 1 for |r| <= ln2/2: relative error 2.4e-8 (fitted for ember) */
VM_INLINE float expm1_poly(float r) {
    float p = (((1.39409187e-3f * r + 8.36325344e-3f) * r + 4.16663773e-2f) * r + 1.66665763e-1f) * r + 0.5f;
    return r + r * r * p;
}
/* Same, one degree more, 1.2e-9 (Cephes expf), where the error budget is tight */
VM_INLINE float expm1_poly_hi(float r) {
    float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
               1.6666665459e-1f) * r + 5.0000001201e-1f;
    return r + r * r * p;
}
/* (e^x - 1) / 2 for x in [-40, 89]: (t - 1/2) + t (e^r - 1) with
 * t = 2^(n-1), exact but for the last operation while t - 1/2 is. */
VM_INLINE float half_expm1(float x) {
    float k, e = expm1_poly(exp_reduce(x, &k)), t = pow2i((uint32_t)exp_n(k) - 1u);
    return (t - 0.5f) + t * e;
}

/* The fast range keeps e^x normal: 2^n (1 + e) with n in [-125, 127]. */
VM_INLINE int vm_exp_ok(float x, float al) { return (x > -86.5f) & (x < 88.3f); }
VM_INLINE float vm_exp_fast(float x, float al) {
    float k, r = exp_reduce(x, &k);
    return scale_fast(1.0f + expm1_poly(r), k);
}
VM_INLINE float vm_exp(float x, float al) {
    float k, r = exp_reduce(vmin(vmax(x, -104.0f), 89.0f), &k); /* beyond: 0 or inf */
    return scale2(1.0f + expm1_poly(r), exp_n(k));
}

VM_INLINE float vm_exp2(float x, float al) {
    x = vmin(vmax(x, -151.0f), 129.0f);
    float k = x + SHIFT, nf = k - SHIFT; /* x - nf is exact */
    return scale2(1.0f + expm1_poly((x - nf) * 0.693147181f), exp_n(k));
}

VM_INLINE float vm_expm1(float x, float al) {
    float y = 2.0f * half_expm1(vmin(vmax(x, -40.0f), 89.0f));
    return vabs(x) < 0x1p-25f ? x : y; /* e^x - 1 rounds to x; keeps -0 and subnormals */
}

VM_INLINE float vm_elu(float x, float al) { return x > 0 ? x : al * vm_expm1(x, al); }

/* tanh|x| = e / (e + 2) = h / (h + 1), h = expm1(2|x|) / 2; tanh(9.5)
 * rounds to 1. */
VM_INLINE float vm_tanh(float x, float al) {
    float h = half_expm1(2.0f * vmin(vabs(x), 9.5f));
    return u2f(f2u(h / (h + 1.0f)) | (f2u(x) & 0x80000000u));
}

/* m * sigmoid(v) given e^-|v| = 2^n (1 + e) and neg = v < 0:
 * m / (1 + e^-v) for v >= 0, m e^v / (1 + e^v) below, where m (1 + e) is
 * divided before the scaling so a subnormal result is rounded only once. */
VM_INLINE float mul_sigmoid(float m, int neg, float e, int32_t n) {
    float p = 1.0f + e, d = 1.0f + scale2(p, n);
    int32_t h = n >> 1;
    float s1 = neg ? pow2i((uint32_t)h) : 1.0f, s2 = neg ? pow2i((uint32_t)(n - h)) : 1.0f;
    return m * (neg ? p : 1.0f) / d * s1 * s2;
}
/* m * sigmoid(x); e^-170 times any float m underflows */
VM_INLINE float mul_sigmoid_f(float m, float x) {
    float k, r = exp_reduce(vmax(-vabs(x), -170.0f), &k);
    return mul_sigmoid(m, x < 0, expm1_poly(r), exp_n(k));
}
/* Same where |x| < 86.5: e^-|x| is normal and nothing needs scaling. */
VM_INLINE float mul_sigmoid_fast(float m, float x) {
    float k, r = exp_reduce(-vabs(x), &k), em = scale_fast(1.0f + expm1_poly(r), k);
    return m * (x < 0 ? em : 1.0f) / (1.0f + em);
}
VM_INLINE int vm_sigmoid_ok(float x, float al) { return vabs(x) < 86.5f; }
VM_INLINE float vm_sigmoid_fast(float x, float al) { return mul_sigmoid_fast(1.0f, x); }
VM_INLINE float vm_sigmoid(float x, float al) { return mul_sigmoid_f(1.0f, x); }

/* x * sigmoid(x); -inf gives NaN like the float64 loop (-inf * 0). */
#define vm_silu_ok vm_sigmoid_ok
VM_INLINE float vm_silu_fast(float x, float al) { return mul_sigmoid_fast(x, x); }
VM_INLINE float vm_silu(float x, float al) {
    float xc = vmax(x, -170.0f); /* silu(-170) underflows to -0 */
    float y = mul_sigmoid_f(xc, xc);
    return x == -INFINITY ? NAN : y;
}

/* x/2 (1 + tanh(u)) = x * sigmoid(2u), 2u = x (C1 + C2 x^2) in double: its
 * rounding error, times |2u| up to 104, would otherwise reach e^2u. */
#define GELU_TANH_V(x) ((x) * (1.5957691216057308 + 0.071354816272443 * (x) * (x)))
VM_INLINE int vm_gelu_tanh_ok(float x, float al) { return vabs(x) < 9.5f; } /* |2u| < 77 */
VM_INLINE float vm_gelu_tanh_fast(float x, float al) {
    double v = GELU_TANH_V((double)x);
    float k, r = exp_reduce_d(-fabs(v), &k), em = scale_fast(1.0f + expm1_poly_hi(r), k);
    return x * (v < 0 ? em : 1.0f) / (1.0f + em);
}
VM_INLINE float vm_gelu_tanh(float x, float al) {
    float m = vmax(x, -11.0f); /* gelu_tanh(-11) underflows to -0 */
    double xv = vmin(m, 11.0f);  /* and above 11 it is x */
    double v = GELU_TANH_V(xv);
    float k, r = exp_reduce_d(-fabs(v), &k);
    float y = mul_sigmoid(m, v < 0, expm1_poly_hi(r), exp_n(k));
    return x == -INFINITY ? NAN : y;
}

/* ---- log family ----------------------------------------------------------
 * x = 2^k (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)); x > 0 finite.  The
 * fast form takes normal x, the full one scales subnormals up first. */
VM_INLINE float log_reduce_fast(float x, float *k) {
    uint32_t ix = f2u(x) + (0x3f800000u - 0x3f3504f3u);
    *k = (float)((int32_t)(ix >> 23) - 127);
    return u2f((ix & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
}
VM_INLINE float log_reduce(float x, float *k) {
    int sub = x < 0x1p-126f;
    float f = log_reduce_fast(sub ? x * 0x1p23f : x, k);
    *k -= sub ? 23.0f : 0.0f;
    return f;
}
/* (log(1 + f) - f + f^2/2) / f^3 (Cephes logf) */
VM_INLINE float log1p_poly(float f) {
    return (((((((7.0376836292e-2f * f - 1.1514610310e-1f) * f + 1.1676998740e-1f) * f - 1.2420140846e-1f) * f +
              1.4249322787e-1f) * f - 1.6668057665e-1f) * f + 2.0000714765e-1f) * f - 2.4999993993e-1f) * f +
           3.3333331174e-1f;
}
/* k ln2 + log(1 + f) + c, c a small correction (0 for log: k * LN2_LO + 0
 * stays an FMA, so no sum below has two bare products) */
VM_INLINE float log_join(float k, float f, float c) {
    return ((f * (f * f) * log1p_poly(f) + (k * LN2_LO + c)) - 0.5f * (f * f) + f) + k * LN2_HI;
}
/* log(1 + f) = f + f^2 (f P(f) - 1/2) */
VM_INLINE float log1p_small(float f) { return f + (f * f) * (f * log1p_poly(f) - 0.5f); }
/* y where x is positive and finite; the IEEE value of log(x) elsewhere */
VM_INLINE float log_special(float x, float y) {
    return (x > 0) & (x < INFINITY) ? y : x == 0 ? -INFINITY : x < 0 ? NAN : x;
}
VM_INLINE int vm_log_ok(float x, float al) { return (x >= 0x1p-126f) & (x < INFINITY); }

VM_INLINE float vm_log_fast(float x, float al) {
    float k, f = log_reduce_fast(x, &k);
    return log_join(k, f, 0.0f);
}
VM_INLINE float vm_log(float x, float al) {
    float k, f = log_reduce(x, &k);
    return log_special(x, log_join(k, f, 0.0f));
}

/* k + log(1 + f) log2(e), k exact */
#define vm_log2_ok vm_log_ok
VM_INLINE float vm_log2_fast(float x, float al) {
    float k, f = log_reduce_fast(x, &k);
    return k + log1p_small(f) * 1.44269504f;
}
VM_INLINE float vm_log2(float x, float al) {
    float k, f = log_reduce(x, &k);
    return log_special(x, k + log1p_small(f) * 1.44269504f);
}

/* log(x) log10(e) (k log10(2) + log(1 + f) log10(e) is faster but misses
 * log10(1e6) = 6) */
#define vm_log10_ok vm_log_ok
VM_INLINE float vm_log10_fast(float x, float al) { return vm_log_fast(x, al) * 0.434294482f; }
VM_INLINE float vm_log10(float x, float al) { return vm_log(x, al) * 0.434294482f; }

/* log(1 + x) for x > -1 finite: u = 1 + x = 2^k (1 + f) (u is normal);
 * c = the rounding error of u, added as c / u.  Where k = 0, f = x. */
VM_INLINE float log1p_core(float x) {
    float u = 1.0f + x, k, f = log_reduce_fast(u, &k);
    float c = k >= 2.0f ? 1.0f - (u - x) : x - (u - 1.0f);
    int k0 = k == 0.0f;
    return log_join(k, k0 ? x : f, k0 ? 0.0f : c / u);
}
VM_INLINE int vm_log1p_ok(float x, float al) { return (x > -1.0f) & (x < INFINITY); }
VM_INLINE float vm_log1p_fast(float x, float al) {
    float y = log1p_core(x);
    return x == 0 ? x : y; /* keeps -0 */
}
VM_INLINE float vm_log1p(float x, float al) {
    float y = vm_log1p_fast(x, al);
    return vm_log1p_ok(x, al) ? y : x == -1.0f ? -INFINITY : x < -1.0f ? NAN : x;
}

/* log(1 + e^z) / beta, z = beta x, as (max(z, 0) + log1p(e^-|z|)) / beta;
 * z > 20 gives x (like the float64 loop).  The fast form needs e^-|z|
 * normal. */
VM_INLINE int vm_softplus_ok(float x, float beta) { return vabs(x * beta) < 86.5f; }
VM_INLINE float softplus_join(float x, float z, float t, float beta) {
    float y = ((z > 0 ? z : 0.0f) + log1p_core(t)) / beta;
    return z > 20.0f ? x : y;
}
VM_INLINE float vm_softplus_fast(float x, float beta) {
    float z = x * beta;
    return softplus_join(x, z, vm_exp_fast(-vabs(z), 0.0f), beta);
}
VM_INLINE float vm_softplus(float x, float beta) {
    float z = x * beta;
    return softplus_join(x, z, vm_exp(-vabs(z), 0.0f), beta);
}

/* ---- erf, gelu ------------------------------------------------------------
 * erf(w) = w Q(w^2) for |w| < 1 (fitted, relative error 1e-9). */
VM_INLINE float erf_small(float w) {
    float z = w * w;
    return w * ((((((7.8343699e-5f * z - 8.00567039e-4f) * z + 5.18797152e-3f) * z - 2.68537086e-2f) * z +
                  1.12835847e-1f) * z - 3.7612626e-1f) * z + 1.12837911f);
}
/* |x| >= 1: erf = 1 - e^-x^2 G(x), G fitted to erfcx on [1, 4] around 2.5
 * for an absolute error of 3e-9 in erf; erf(4) rounds to 1. */
VM_INLINE float vm_erf(float x, float al) {
    float a = vmin(vabs(x), 4.0f), s = a - 2.5f, sq = a * a, k;
    float g = (((((((1.06843218e-4f * s + 2.25062831e-4f) * s + 5.43320028e-4f) * s - 6.61120517e-4f) * s +
                  2.30250321e-3f) * s - 8.13225191e-3f) * s + 2.4914626e-2f) * s - 7.43421838e-2f) * s +
              2.10807607e-1f;
    float r = exp_reduce(-sq, &k); /* e^-x^2 is normal */
    float big = 1.0f - scale_fast(1.0f + expm1_poly(r), k) * g;
    return vabs(x) < 1.0f ? erf_small(x) : with_sign(big, x);
}

/* x Phi(x) = x/2 erfc(-x/sqrt2): for x < 0, x/2 erfc(w); for x >= 0,
 * x (1 - erfc(w)/2), w = |x|/sqrt2.  Below w = 1/2, erfc(w) = 1 - |x| G(x^2)
 * (fitted, the rounding of w never enters).  Above, erfc(w) =
 * t exp(-x^2/2 + P(t)), t = 1 / (1 + w/2), with P fitted on w in
 * [1/2, 10.6] (error 2e-9, around t = 0.48).  The relative error of t reaches
 * erfc up to twice over, so t is divided in double.  x^2/2 = hi + lo with hi
 * exact (x split into 12-bit halves), so hi - n LN2_HI is exact and no
 * rounding of x^2 reaches the exponent.  Returns erfc(w) / 2^n. */
VM_INLINE float gelu_erfc(float a, float *k) {
    float z = a * a;
    float es = 1.0f - a * ((((2.08664409e-4f * z - 2.36518844e-3f) * z + 1.99454576e-2f) * z - 1.3298066e-1f) * z +
                           7.97884583e-1f);
    float t = (float)(1.0 / (1.0 + 0.35355339059327376 * a)), s = t - 0.48f;
    float p = s * ((((((((2.53834248e-1f * s - 9.72350165e-2f) * s - 2.79131949e-1f) * s + 1.53509989e-1f) * s +
                        2.65944332e-1f) * s - 1.85425982e-1f) * s - 3.61410022e-1f) * s + 2.11481452e-1f) * s +
                   1.33726656f);
    float ah = u2f(f2u(a) & 0xfffff000u), al = a - ah;
    float hi = -0.5f * (ah * ah), lo = (p + 6.64973854e-9f) - 0.5f * (al * (a + ah)); /* P - C0_HI */
    *k = (hi + (lo - 0.698621094f)) * 1.44269504f + SHIFT;
    float nf = *k - SHIFT;
    float r = (((hi - nf * LN2_HI) - 0.698621094f) + lo) - nf * LN2_LO;
    int small = a < 0.707106781f;
    *k = small ? SHIFT : *k; /* n = 0 */
    return small ? es : t + t * expm1_poly_hi(r);
}
/* Fast range: erfc(w) stays normal, x finite. */
VM_INLINE int vm_gelu_ok(float x, float al) { return vabs(x) < 12.5f; }
VM_INLINE float vm_gelu_fast(float x, float al) {
    float k, e = gelu_erfc(vabs(x), &k);
    e = scale_fast(e, k);
    return x < 0 ? 0.5f * x * e : x * (1.0f - 0.5f * e);
}
/* The x < 0 product is scaled last, so a subnormal result is rounded once;
 * -inf gives NaN like the float64 loop (NaN propagates through x).  |x| is
 * clamped to 15 (gelu(-15) underflows to -0) on its bits: clamped with a
 * float select, gcc (12) contracts the FMAs that follow differently for
 * AVX2 and AVX-512. */
VM_INLINE float vm_gelu(float x, float al) {
    uint32_t ua = f2u(x) & 0x7fffffffu;
    float a = u2f(ua < 0x41700000u ? ua : 0x41700000u), k;
    float e = gelu_erfc(a, &k);
    int32_t n = exp_n(k);
    float y = x < 0 ? scale2(0.5f * with_sign(a, x) * e, n) : x * (1.0f - 0.5f * scale2(e, n));
    return x == -INFINITY ? NAN : y;
}

/* ---- sin, cos --------------------------------------------------------------
 * x = n pi/2 + r in double with pi/2 = P1 + P2, P1 of 33 bits so n P1 is
 * exact for |n| < 2^20 (r is then good to 2^-60 absolute, far below the
 * smallest |r| of a float x); then sin or cos of r (Cephes sinf/cosf)
 * picked and signed by n + q mod 4 (q = 1 for cos).  |x| > 2^20, inf and
 * NaN go to libm. */
VM_INLINE int vm_sin_ok(float x, float al) { return vabs(x) <= 0x1p20f; }
#define vm_cos_ok vm_sin_ok
VM_INLINE float sin_cos(float x, uint32_t q) {
    float k = x * 0.636619772f + SHIFT;
    double nd = (double)(k - SHIFT);
    float r = (float)(((double)x - nd * 1.57079632673412561417) - nd * 6.077100506506192e-11);
    float z = r * r;
    float s = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r + r;
    float c = 1.0f + z * (((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z - 0.5f);
    q += f2u(k);
    return u2f(f2u(q & 1u ? c : s) ^ ((q & 2u) << 30));
}
VM_INLINE float vm_sin(float x, float al) {
    float y = sin_cos(x, 0);
    return x == 0 ? x : y; /* keeps -0 */
}
VM_INLINE float vm_cos(float x, float al) { return sin_cos(x, 1); }

/* ---- kernels -------------------------------------------------------------
 * Steps of VM_STEP elements written to a local array first: the element
 * loop has a fixed trip count and no operand it could alias, so gcc -O2
 * vectorises it without runtime alias checks or epilogues, and y may equal
 * x.  A short last step runs on a zero-padded copy.  How a step computes
 * (KIND): VM_PLAIN, vm_NAME on every element; VM_FAST, vm_NAME_fast unless
 * some element fails vm_NAME_ok, then vm_NAME; VM_LIBM, vm_NAME and the
 * libm function for the elements that fail vm_NAME_ok. */
#define VM_STEP 16
/* Elements ahead that a step prefetches (one line a step): at 16M floats, where the hardware
 * prefetcher let these compute-heavy loops wait on memory, exp went from 11.0-11.1 to 12.5-12.8
 * GB/s and tanh from 10.2-11.3 to 11.3-11.8 on Zen 3 (1 thread, best of 15 alternating); at 1M
 * (in cache) no change. */
#define VM_AHEAD 8192
#define VM_PLAIN(NAME, in, out)                                                                 \
    for (int j = 0; j < VM_STEP; j++) out[j] = vm_##NAME(in[j], al);
#define VM_FAST(NAME, in, out)                                                                  \
    int bad = 0;                                                                                \
    for (int j = 0; j < VM_STEP; j++) {                                                         \
        out[j] = vm_##NAME##_fast(in[j], al);                                                   \
        bad |= !vm_##NAME##_ok(in[j], al);                                                      \
    }                                                                                           \
    if (bad) VM_PLAIN(NAME, in, out)
#define VM_LIBM(NAME, in, out)                                                                  \
    int bad = 0;                                                                                \
    for (int j = 0; j < VM_STEP; j++) {                                                         \
        out[j] = vm_##NAME(in[j], al);                                                          \
        bad |= !vm_##NAME##_ok(in[j], al);                                                      \
    }                                                                                           \
    if (bad)                                                                                    \
        for (int j = 0; j < VM_STEP; j++)                                                       \
            if (!vm_##NAME##_ok(in[j], al)) out[j] = NAME##f(in[j]);
#define VM_STEP_(NAME, KIND, DST, SRC)                                                          \
    {                                                                                           \
        const float *in_ = SRC;                                                                 \
        float out_[VM_STEP];                                                                    \
        KIND(NAME, in_, out_)                                                                   \
        memcpy(DST, out_, sizeof out_);                                                         \
    }
#define VM_KERNEL_(NAME, TARGET, ISA, KIND)                                                     \
    TARGET static void NAME##_##ISA(float *y, const float *x, int64_t n, float al) {            \
        int64_t i = 0;                                                                          \
        for (; i + VM_STEP <= n; i += VM_STEP) {                                                \
            if (i + VM_AHEAD < n) __builtin_prefetch(x + i + VM_AHEAD);                         \
            VM_STEP_(NAME, KIND, y + i, x + i)                                                  \
        }                                                                                       \
        if (i < n) {                                                                            \
            float t[VM_STEP] = {0};                                                             \
            size_t rest = (size_t)(n - i) * sizeof *t;                                          \
            memcpy(t, x + i, rest);                                                             \
            VM_STEP_(NAME, KIND, t, t)                                                          \
            memcpy(y + i, t, rest);                                                             \
        }                                                                                       \
    }

/* y[i] = e^(x[i] - m) and their sum, for softmax: one pass instead of three.
 * Lane j of VM_STEP accumulates elements i = j (mod VM_STEP) in order and the
 * lanes are added pairwise at the end, so the sum's bits depend on n alone,
 * and the AVX2 and AVX-512 variants agree (no product is summed: nothing to
 * contract).  y may be NULL (sum only) or equal x. */
#define VM_EXPSUM_(ISA, TARGET)                                                                 \
    TARGET static float expsum_##ISA(float *y, const float *x, int64_t n, float m) {            \
        const float al = 0.0f;                                                                  \
        float acc[VM_STEP] = {0};                                                               \
        int64_t i = 0;                                                                          \
        for (; i + VM_STEP <= n; i += VM_STEP) {                                                \
            float in_[VM_STEP], out_[VM_STEP];                                                  \
            for (int j = 0; j < VM_STEP; j++) in_[j] = x[i + j] - m;                            \
            VM_FAST(exp, in_, out_)                                                             \
            for (int j = 0; j < VM_STEP; j++) acc[j] += out_[j];                                \
            if (y) memcpy(y + i, out_, sizeof out_);                                            \
        }                                                                                       \
        if (i < n) {                                                                            \
            float in_[VM_STEP] = {0}, out_[VM_STEP];                                            \
            int64_t rest = n - i;                                                               \
            for (int64_t j = 0; j < rest; j++) in_[j] = x[i + j] - m;                           \
            VM_FAST(exp, in_, out_)                                                             \
            for (int64_t j = 0; j < rest; j++) acc[j] += out_[j];                               \
            if (y) memcpy(y + i, out_, (size_t)rest * sizeof *out_);                            \
        }                                                                                       \
        for (int w = VM_STEP / 2; w > 0; w /= 2)                                                \
            for (int j = 0; j < w; j++) acc[j] += acc[j + w];                                   \
        return acc[0];                                                                          \
    }

/* X(OP, name, KIND, A): the ops with a kernel (A passed through) */
#define VM_OPS(X, A)                                                                            \
    X(EXP, exp, VM_FAST, A) X(EXPM1, expm1, VM_PLAIN, A) X(EXP2, exp2, VM_PLAIN, A)             \
    X(LOG, log, VM_FAST, A) X(LOG1P, log1p, VM_FAST, A) X(LOG2, log2, VM_FAST, A)               \
    X(LOG10, log10, VM_FAST, A) X(SIN, sin, VM_LIBM, A) X(COS, cos, VM_LIBM, A)                 \
    X(TANH, tanh, VM_PLAIN, A) X(SIGMOID, sigmoid, VM_FAST, A) X(ELU, elu, VM_PLAIN, A)         \
    X(GELU, gelu, VM_FAST, A) X(GELU_TANH, gelu_tanh, VM_FAST, A) X(SILU, silu, VM_FAST, A)    \
    X(SOFTPLUS, softplus, VM_FAST, A) X(ERF, erf, VM_PLAIN, A)

#define VM_ROW(OP, name, KIND, ISA) [EM_OP_##OP] = name##_##ISA,
#define VM_VARIANT(OP, name, KIND, TARGET_ISA) VM_KERNEL_(name, VM_TARGET_##TARGET_ISA, TARGET_ISA, KIND)
#define VM_TARGET_portable

VM_OPS(VM_VARIANT, portable)
static const em__vmath_fn table_portable[EM_OP_UNARY_END_] = {VM_OPS(VM_ROW, portable)};
VM_EXPSUM_(portable, VM_TARGET_portable)

#if defined(__GNUC__) && defined(__x86_64__)
/* Same code compiled for AVX2+FMA and AVX-512F, chosen at run time: never
 * -march=native. */
#define VM_TARGET_avx2 __attribute__((target("avx2,fma")))
#define VM_TARGET_avx512 __attribute__((target("avx512f,avx2,fma")))
VM_OPS(VM_VARIANT, avx2)
VM_OPS(VM_VARIANT, avx512)
static const em__vmath_fn table_avx2[EM_OP_UNARY_END_] = {VM_OPS(VM_ROW, avx2)};
static const em__vmath_fn table_avx512[EM_OP_UNARY_END_] = {VM_OPS(VM_ROW, avx512)};
static const em__vmath_fn *const tables[EM__VMATH_COUNT] = {table_portable, table_avx2, table_avx512};
VM_EXPSUM_(avx2, VM_TARGET_avx2)
VM_EXPSUM_(avx512, VM_TARGET_avx512)
static const em__vmath_expsum_fn expsums[EM__VMATH_COUNT] = {expsum_portable, expsum_avx2, expsum_avx512};

static bool cpu_has(em__vmath_isa isa) {
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return isa == EM__VMATH_PORTABLE || (isa == EM__VMATH_AVX2 && avx2) ||
           (isa == EM__VMATH_AVX512 && avx2 && __builtin_cpu_supports("avx512f"));
}
#else
static const em__vmath_fn *const tables[EM__VMATH_COUNT] = {table_portable, NULL, NULL};
static const em__vmath_expsum_fn expsums[EM__VMATH_COUNT] = {expsum_portable, NULL, NULL};
static bool cpu_has(em__vmath_isa isa) { return true; }
#endif

em__vmath_isa em__vmath_active_isa(void) {
    static _Atomic int chosen = -1; /* racing first calls store the same value */
    int c = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (c < 0) {
        const char *env = getenv("EMBER_FORCE_PORTABLE");
        bool portable = env && *env && strcmp(env, "0") != 0;
        c = EM__VMATH_PORTABLE;
        for (int i = EM__VMATH_COUNT - 1; i > 0 && !portable; i--) {
            if (tables[i] && cpu_has((em__vmath_isa)i)) {
                c = i;
                break;
            }
        }
        atomic_store_explicit(&chosen, c, memory_order_relaxed);
    }
    return (em__vmath_isa)c;
}

em__vmath_fn em__vmath_f32_isa(em_op op, em__vmath_isa isa) {
    if ((unsigned)op >= EM_OP_UNARY_END_ || (unsigned)isa >= EM__VMATH_COUNT || !tables[isa] || !cpu_has(isa))
        return NULL;
    return tables[isa][op];
}

em__vmath_fn em__vmath_f32(em_op op) {
    return (unsigned)op < EM_OP_UNARY_END_ ? tables[em__vmath_active_isa()][op] : NULL;
}

em__vmath_expsum_fn em__vmath_expsum_f32(void) { return expsums[em__vmath_active_isa()]; }

em__vmath_expsum_fn em__vmath_expsum_f32_isa(em__vmath_isa isa) {
    return (unsigned)isa < EM__VMATH_COUNT && tables[isa] && cpu_has(isa) ? expsums[isa] : NULL;
}
