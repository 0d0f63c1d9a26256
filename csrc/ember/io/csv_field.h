/* csv_field.h — the number parsers that csv.c inlines into its field loop
 * (and csv_number.c shares): Eisel-Lemire rounding and whole-field parsing
 * with SSE2.  Internal to the CSV reader, never installed. */
#ifndef EMBER_CSV_FIELD_H
#define EMBER_CSV_FIELD_H

#include "csv_internal.h"

#include <math.h>
/* SSE2 is part of x86-64 itself: no run-time dispatch is needed */
#if defined(__SSE2__) && defined(__x86_64__) && !defined(EM_CSV_PORTABLE) /* -DEM_CSV_PORTABLE: test the plain C path */
#define EM_CSV_SSE2 1
#include <emmintrin.h>
#endif

/* w * 10^q for 0 < w < 10^19, -342 <= q <= 308, or false when the 128-bit
 * product cannot decide the rounding or the result is subnormal. */
static inline __attribute__((always_inline)) bool eisel_lemire(uint64_t w, int q, double *out) {
    int lz = __builtin_clzll(w);
    w <<= lz;
    const uint64_t *p5 = em__csv_pow5[q - EM__CSV_POW5_QMIN];
    unsigned __int128 first = (unsigned __int128)w * p5[0];
    uint64_t hi = (uint64_t)(first >> 64), lo = (uint64_t)first;
    if ((hi & 0x1FF) == 0x1FF) {
        /* the dropped 9 bits are all ones: the low half of 5^q may carry into them */
        unsigned __int128 second = (unsigned __int128)w * p5[1];
        uint64_t shi = (uint64_t)(second >> 64);
        lo += shi;
        if (shi > lo) hi++;
        if ((hi & 0x1FF) == 0x1FF && lo == UINT64_MAX) return false;
    }
    int upper = (int)(hi >> 63);
    int shift = upper + 9;
    uint64_t m = hi >> shift;
    /* floor(log2(10^q)) + 63, then the IEEE bias */
    int32_t p2 = (int32_t)((((152170 + 65536) * (int64_t)q) >> 16) + 63) + upper - lz + 1023;
    if (p2 <= 0) return false; /* subnormal: rare, leave it to strtod */
    /* exactly halfway between two doubles: only possible for small q, round to even */
    if (lo <= 1 && q >= -4 && q <= 23 && (m & 3) == 1 && (m << shift) == hi) m &= ~(uint64_t)1;
    m += m & 1;
    m >>= 1;
    if (m >= ((uint64_t)2 << 52)) {
        m = (uint64_t)1 << 52;
        p2++;
    }
    m &= ~((uint64_t)1 << 52);
    if (p2 >= 0x7FF) {
        *out = INFINITY;
        return true;
    }
    uint64_t bits = ((uint64_t)p2 << 52) | m;
    memcpy(out, &bits, sizeof bits);
    return true;
}

/* ---- whole fields, 16 bytes at a time (SSE2) -------------------------------
 *
 * When the tokeniser already knows where a field ends, the digits need not be
 * found one word after the other: the mantissa [p, m) is read with four
 * unaligned loads ending at m (m-16, m-17, m-32, m-33).  Byte i of the
 * vector ending at m is the i-th digit from the end when that digit lies
 * after the point, and the vector ending one byte earlier supplies the digits
 * before the point, already shifted over it; a mask blends the two and a
 * second mask clears what lies before the first digit.  So up to 32 digits
 * land right-aligned in two vectors with the point squeezed out, are checked
 * to be digits in one compare, and are converted with three multiply-adds per
 * 16 digits.  Digits are thus found without a chain of dependent steps, and
 * fields of varying length cost the same. */
/* Pieces of the short-number paths (csv_field_f64 and its AVX2 build).
 * exponent_mark: the 'e' of a field p..e when it is among the last 6 bytes
 * (e-308 at most; longer exponents go the general way), else NULL. */
static inline __attribute__((always_inline)) const char *exponent_mark(const char *p, const char *e) {
    const char *x = e - 1;
    while (x > p && x >= e - 6 && (*x | 0x20) != 'e') x--;
    return x > p && (*x | 0x20) == 'e' ? x : NULL;
}

/* The exponent t..e: an optional sign and 1 to 4 digits. */
static inline __attribute__((always_inline)) bool short_exponent(const char *t, const char *e, int *ex) {
    bool eneg = t < e && *t == '-';
    t += t < e && (*t == '-' || *t == '+');
    if (t == e || e - t > 4) return false;
    int v = 0;
    for (; t < e; t++) {
        if ((unsigned char)(*t - '0') >= 10) return false;
        v = v * 10 + (*t - '0');
    }
    *ex = eneg ? -v : v;
    return true;
}

/* (-1)^neg * w * 10^q into *out when Eisel-Lemire rounds it correctly. */
static inline __attribute__((always_inline)) bool short_f64(uint64_t w, int q, uint64_t neg, double *out) {
    double v;
    if (w == 0) v = 0.0;
    else if (q < EM__CSV_POW5_QMIN || q > EM__CSV_POW5_QMAX || !eisel_lemire(w, q, &v)) return false;
    /* the sign as a bit, not a branch: signs vary from field to field */
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits |= neg << 63;
    memcpy(out, &bits, sizeof bits);
    return true;
}

#ifdef EM_CSV_SSE2

/* 16 bytes from ramp + 16 + k: byte i is 0xFF when i + k >= 16, i.e. the
 * last k bytes are set (k in -16..32, no clamping needed) */
static const uint8_t ramp[64] = {0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
                                 0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
                                 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
                                 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255};

static inline __m128i upper_bytes(int k) { return _mm_loadu_si128((const __m128i *)(const void *)(ramp + 16 + k)); }

static inline __m128i load16(const char *p) { return _mm_loadu_si128((const __m128i *)(const void *)p); }

/* Pairs, then quads of digits (0..9 per byte, the first byte most
 * significant) in 16-bit / 32-bit lanes. */
static inline __m128i quads16(__m128i v) {
    __m128i hi = _mm_and_si128(v, _mm_set1_epi16(0x00FF)), lo = _mm_srli_epi16(v, 8);
    __m128i pairs = _mm_add_epi16(_mm_mullo_epi16(hi, _mm_set1_epi16(10)), lo);   /* 8 x 0..99 */
    return _mm_madd_epi16(pairs, _mm_set_epi16(1, 100, 1, 100, 1, 100, 1, 100)); /* 4 x 0..9999 */
}

/* The value of the 32 digits hi (first) and lo: both vectors' quads packed
 * into one, eights from one multiply-add, the four eights joined in 64-bit
 * lanes; the caller has made sure the value is below 10^19. */
static inline uint64_t value32(__m128i hi, __m128i lo) {
    __m128i oct = _mm_madd_epi16(_mm_packs_epi32(quads16(hi), quads16(lo)),
                                 _mm_set_epi16(1, 10000, 1, 10000, 1, 10000, 1, 10000)); /* 4 x 8 digits */
    __m128i two = _mm_add_epi64(_mm_mul_epu32(oct, _mm_set1_epi32(100000000)), _mm_srli_epi64(oct, 32));
    uint64_t h = (uint64_t)_mm_cvtsi128_si64(two), l = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(two, two));
    return h * 10000000000000000ULL + l;
}

/* The mantissa [p, m): 1 to 32 digits and at most one '.', nothing else, at
 * most 19 significant digits (so *w is exact); bytes from m - 33 must be
 * readable.  *nfrac: digits after the point; *dot: whether there is one. */
static inline __attribute__((always_inline)) bool sse_mantissa(const char *p, const char *m, uint64_t *w, int *nfrac, bool *dot) {
    int len = (int)(m - p);
    if (len < 1 || len > 32) return false;
    __m128i a = load16(m - 16), b = load16(m - 17), c = load16(m - 32), d = load16(m - 33);
    const __m128i pt = _mm_set1_epi8('.');
    /* bit i <-> byte m - 32 + i; only the mantissa's bytes count */
    uint32_t dm = ((uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(a, pt)) << 16) |
                  (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(c, pt));
    dm &= (uint32_t)(0xFFFFFFFFULL << (32 - len));
    if (dm & (dm - 1)) return false; /* two points */
    int nf = 31 - __builtin_ctz(dm | 0x80000000u), nd = len - (dm != 0); /* no point: nf = 0 */
    if (nd == 0) return false;
    /* digit i from the end (1-based) is at m - i after the point (or when
     * there is none), m - i - 1 before it */
    int after = dm ? nf : 32;
    __m128i af = upper_bytes(after), ah = upper_bytes(after - 16);
    __m128i in = upper_bytes(nd), ih = upper_bytes(nd - 16);
    const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9);
    __m128i lo = _mm_sub_epi8(_mm_or_si128(_mm_and_si128(a, af), _mm_andnot_si128(af, b)), zero);
    __m128i hi = _mm_sub_epi8(_mm_or_si128(_mm_and_si128(c, ah), _mm_andnot_si128(ah, d)), zero);
    /* every byte in the digit range must be 0..9 (unsigned) */
    __m128i oklo = _mm_cmpeq_epi8(_mm_max_epu8(lo, nine), nine), okhi = _mm_cmpeq_epi8(_mm_max_epu8(hi, nine), nine);
    if (_mm_movemask_epi8(_mm_andnot_si128(oklo, in)) | _mm_movemask_epi8(_mm_andnot_si128(okhi, ih))) return false;
    lo = _mm_and_si128(lo, in);
    hi = _mm_and_si128(hi, ih);
    if (nd > 19) { /* leading zeros do not count: from the first nonzero digit (bit i <-> digit 32 - i from the end) */
        const __m128i z = _mm_setzero_si128();
        uint32_t nz = ~(((uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(lo, z)) << 16) |
                        (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(hi, z)));
        if (nz & 0x1FFF) return false; /* a nonzero digit more than 19 from the end */
    }
    *w = value32(hi, lo);
    *nfrac = nf;
    *dot = dm != 0;
    return true;
}
#endif

static inline __attribute__((always_inline)) bool csv_field_f64(const char *s, const char *e, const char *lo, double *out) {
#ifdef EM_CSV_SSE2
    /* s < e: the callers pass non-empty fields */
    const uint64_t neg = *s == '-';
    const char *p = s + (neg | (*s == '+'));
    uint64_t w;
    int nf, q;
    bool dot;
    if (e - lo >= 33 && sse_mantissa(p, e, &w, &nf, &dot)) {
        q = -nf;
    } else {
        const char *x = exponent_mark(p, e);
        int ex;
        if (!x || x - lo < 33 || !sse_mantissa(p, x, &w, &nf, &dot) || !short_exponent(x + 1, e, &ex)) goto general;
        q = -nf + ex;
    }
    if (short_f64(w, q, neg, out)) return true;
general:
#endif
    (void)lo;
    return em__csv_scan_f64(s, e, out) == e;
}

#ifdef EM_CSV_SSE2
/* ---- whole fields, 32 bytes at a time (AVX2, chosen at run time) ----------
 *
 * The same reading as sse_mantissa in one 32-byte vector: two loads (ending
 * at m and one byte earlier) blended by one mask from the ramp give the up
 * to 32 digits right-aligned with the point squeezed out.  The conversion
 * takes one multiply-add per step (vpmaddubsw pairs, vpmaddwd quads and
 * eights, vpmuludq sixteens) instead of two vectors' worth, and the checks
 * (digits only, at most 19 significant) are done without a branch on the
 * digit count, which varies from field to field.  About half the
 * instructions of the SSE2 reader per field; csv.c compiles its record loop
 * a second time for CPUs with AVX2 and BMI2 and calls these there. */
#define EM_CSV_AVX2 1
#define EM_CSV_AVX2_TARGET __attribute__((target("avx2,bmi,bmi2,lzcnt,popcnt")))
#include <immintrin.h>

/* 32 bytes from ramp + k (k in 0..32): the last k bytes are 0xFF */
static inline EM_CSV_AVX2_TARGET __m256i last_bytes32(int k) {
    return _mm256_loadu_si256((const __m256i *)(const void *)(ramp + k));
}

/* As sse_mantissa: [p, m) is 1 to 32 digits with at most one '.', at most 19
 * of them significant; bytes from m - 33 must be readable. */
static inline EM_CSV_AVX2_TARGET bool avx2_mantissa(const char *p, const char *m, uint64_t *w, int *nfrac) {
    const int len = (int)(m - p);
    if ((unsigned)(len - 1) > 31u) return false;
    const __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(m - 32));
    const __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(m - 33));
    /* bit i <-> byte m - 32 + i; only the mantissa's bytes count */
    uint32_t dm = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, _mm256_set1_epi8('.')));
    dm &= (uint32_t)(0xFFFFFFFFULL << (32 - len));
    if (dm & (dm - 1)) return false; /* two points */
    const int nf = 31 - __builtin_ctz(dm | 0x80000000u); /* digits after the point; 0 without one */
    const int nd = len - (dm != 0);
    if (nd == 0) return false;
    /* the last nf bytes of a are the digits after the point, the bytes of b
     * before them the digits before it (b is a shifted over the point) */
    const __m256i x = _mm256_sub_epi8(_mm256_blendv_epi8(b, a, last_bytes32(dm ? nf : 32)), _mm256_set1_epi8('0'));
    const uint32_t in = (uint32_t)(0xFFFFFFFFULL << (32 - nd)); /* the nd digit bytes */
    const __m256i nine = _mm256_set1_epi8(9);
    const uint32_t ok = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_max_epu8(x, nine), nine));
    if (~ok & in) return false; /* a byte other than a digit */
    const __m256i d = _mm256_and_si256(x, last_bytes32(nd));
    /* at most 19 significant digits: the first 13 of the 32 must be zeros */
    const uint32_t zero = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(d, _mm256_setzero_si256()));
    if (~zero & 0x1FFFu) return false;
    /* 32 digits (the first most significant) -> 16 pairs -> 8 quads -> 4 eights -> 2 sixteens */
    const __m256i pairs = _mm256_maddubs_epi16(d, _mm256_set1_epi16(0x010A));            /* 10, 1 */
    const __m256i quads = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00010064));       /* 100, 1 */
    const __m256i eights = _mm256_madd_epi16(_mm256_packus_epi32(quads, quads), _mm256_set1_epi32(0x00012710)); /* 10000, 1 */
    const __m256i sixteens = _mm256_add_epi64(_mm256_mul_epu32(eights, _mm256_set1_epi64x(100000000)),
                                              _mm256_srli_epi64(eights, 32));
    const uint64_t h = (uint64_t)_mm_cvtsi128_si64(_mm256_castsi256_si128(sixteens));
    const uint64_t l = (uint64_t)_mm_cvtsi128_si64(_mm256_extracti128_si256(sixteens, 1));
    *w = h * 10000000000000000ULL + l;
    *nfrac = nf;
    return true;
}

/* csv_field_f64 with the AVX2 mantissa reader. */
static inline EM_CSV_AVX2_TARGET bool csv_field_f64_avx2(const char *s, const char *e, const char *lo, double *out) {
    const uint64_t neg = *s == '-';
    const char *p = s + (neg | (*s == '+'));
    uint64_t w;
    int nf, q;
    if (e - lo < 33) goto general;
    if (avx2_mantissa(p, e, &w, &nf)) {
        q = -nf;
    } else {
        const char *x = exponent_mark(p, e);
        int ex;
        if (!x || x - lo < 33 || !avx2_mantissa(p, x, &w, &nf) || !short_exponent(x + 1, e, &ex)) goto general;
        q = -nf + ex;
    }
    if (short_f64(w, q, neg, out)) return true;
general:
    return em__csv_scan_f64(s, e, out) == e;
}
#endif /* EM_CSV_SSE2 */

static inline __attribute__((always_inline)) bool csv_field_i64(const char *s, const char *e, const char *lo, int64_t *out) {
#ifdef EM_CSV_SSE2
    /* s < e: the callers pass non-empty fields */
    const bool neg = *s == '-';
    const char *p = s + (neg | (*s == '+'));
    uint64_t w;
    int nf;
    bool dot;
    if (e - lo >= 33 && sse_mantissa(p, e, &w, &nf, &dot) && !dot) {
        if (w > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) return false;
        *out = neg ? (int64_t)(0 - w) : (int64_t)w;
        return true;
    }
#endif
    (void)lo;
    return em__csv_scan_i64(s, e, out) == e;
}

#endif
