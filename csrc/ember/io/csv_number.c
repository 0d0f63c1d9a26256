/* Number parsing for the CSV reader: the hot spot of numeric files.
 *
 * Floats are correctly rounded (the same double as strtod / Python's float()):
 *  1. up to 19 significant digits, |q| <= 22 and mantissa <= 2^53: the
 *     mantissa and 10^|q| are exact doubles, so one IEEE multiply or divide
 *     rounds correctly (Clinger's fast path);
 *  2. otherwise up to 19 digits: Eisel-Lemire — multiply the normalised
 *     mantissa by a 128-bit approximation of 5^q (pow5_table.c) and keep 54
 *     bits; the product is wrong in the last kept bit only when its dropped
 *     bits look like a halfway case, which is detected and sent to 3;
 *  3. more than 19 digits, subnormal results or ambiguous products: strtod_l
 *     in the C locale (so LC_NUMERIC of the host program cannot change it).
 */
#include "csv_internal.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static bool slow_parse(const char *s, const char *e, double *out) {
    char stack[256];
    size_t n = (size_t)(e - s);
    char *buf = n < sizeof stack ? stack : em__alloc(n + 1);
    if (!buf) return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    pthread_once(&c_locale_once, c_locale_init);
    char *end;
    double v = c_locale ? strtod_l(buf, &end, c_locale) : strtod(buf, &end);
    bool ok = end == buf + n;
    if (buf != stack) em__free(buf);
    if (ok) *out = v;
    return ok;
}

static const double exact_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* w * 10^q for 0 < w < 10^19, -342 <= q <= 308, or false when the 128-bit
 * product cannot decide the rounding or the result is subnormal. */
static bool eisel_lemire(uint64_t w, int q, double *out) {
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

/* Case-insensitive match of word at [p, e); returns its end or NULL. */
static const char *iword(const char *p, const char *e, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(e - p) < n) return NULL;
    for (size_t i = 0; i < n; i++)
        if ((p[i] | 0x20) != word[i]) return NULL;
    return p + n;
}

/* Eight ASCII digits at p (little-endian load) as their value, or -1 when
 * they are not all digits.  Pairs, then quads, then the eight are combined
 * with one multiply-add per step on 2-, 4- and 8-byte lanes. */
static inline int64_t eight_digits(const char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    if (((v & 0xF0F0F0F0F0F0F0F0ULL) | (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) !=
        0x3333333333333333ULL)
        return -1;
    v -= 0x3030303030303030ULL;
    v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFULL;
    v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFULL;
    v = (v * 10000 + (v >> 32)) & 0xFFFFFFFFULL;
    return (int64_t)v;
}

/* Digits at *pp (advancing it) into w / nd (significant digits, at most 19
 * kept in w); returns how many digits were read. */
static inline int64_t digits(const char **pp, const char *e, uint64_t *w, int *nd) {
    const char *p = *pp, *s = p;
    if (*w == 0) /* leading zeros are not significant */
        while (p < e && *p == '0') p++;
    while (*nd <= 11 && e - p >= 8) {
        int64_t v = eight_digits(p);
        if (v < 0) break;
        *w = *w * 100000000ULL + (uint64_t)v;
        *nd += 8; /* the first of the eight is nonzero: zeros before it were skipped */
        p += 8;
    }
    for (; p < e && (unsigned)(*p - '0') < 10; p++) {
        if (*w || *p != '0') {
            if (++*nd <= 19) *w = *w * 10 + (uint64_t)(*p - '0');
        }
    }
    *pp = p;
    return p - s;
}

const char *em__csv_scan_f64(const char *s, const char *e, double *out) {
    const char *p = s;
    bool neg = false;
    if (p < e && (*p == '-' || *p == '+')) neg = *p++ == '-';
    uint64_t w = 0;
    int nd = 0;    /* significant digits seen */
    int64_t q = 0; /* decimal exponent of w */
    int64_t nint = digits(&p, e, &w, &nd), nfrac = 0;
    if (p < e && *p == '.') {
        p++;
        nfrac = digits(&p, e, &w, &nd);
        q -= nfrac;
    }
    if (nint + nfrac == 0) {
        const char *z;
        double v = neg ? -1.0 : 1.0;
        if ((z = iword(p, e, "infinity")) || (z = iword(p, e, "inf"))) v *= INFINITY;
        else if ((z = iword(p, e, "nan"))) v = neg ? -NAN : NAN;
        else return NULL;
        *out = v;
        return z;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        const char *x = p + 1;
        bool eneg = false;
        if (x < e && (*x == '-' || *x == '+')) eneg = *x++ == '-';
        if (x < e && (unsigned)(*x - '0') < 10) {
            int64_t ex = 0;
            for (; x < e && (unsigned)(*x - '0') < 10; x++)
                if (ex < 100000) ex = ex * 10 + (*x - '0');
            q += eneg ? -ex : ex;
            p = x;
        }
    }
    double v;
    if (nd > 19) { /* digits were dropped from w */
        if (!slow_parse(s, p, out)) return NULL;
        return p;
    }
    if (w == 0) {
        v = 0.0;
    } else if (q >= -22 && q <= 22 && w <= ((uint64_t)1 << 53)) {
        v = (double)w;
        v = q < 0 ? v / exact_pow10[-q] : v * exact_pow10[q];
    } else if (q < EM__CSV_POW5_QMIN) {
        v = 0.0; /* below 10^19 * 10^-343 < half the smallest subnormal */
    } else if (q > EM__CSV_POW5_QMAX) {
        v = INFINITY;
    } else if (!eisel_lemire(w, (int)q, &v)) {
        if (!slow_parse(s, p, out)) return NULL;
        return p;
    }
    *out = neg ? -v : v;
    return p;
}

bool em__csv_parse_f64(const char *s, const char *e, double *out) {
    double v;
    const char *z = em__csv_scan_f64(s, e, &v);
    if (z != e) return false;
    *out = v;
    return true;
}

int em__csv_parse_i64(const char *s, const char *e, int64_t *out) {
    const char *p = s;
    bool neg = false;
    if (p < e && (*p == '-' || *p == '+')) neg = *p++ == '-';
    if (p == e) return 0;
    uint64_t v = 0;
    bool over = false;
    for (; p < e; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d >= 10) return 0;
        if (v > (UINT64_MAX - d) / 10) over = true;
        else v = v * 10 + d;
    }
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (over || v > lim) return 2;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

int em__csv_parse_bool(const char *s, const char *e) {
    size_t n = (size_t)(e - s);
    if (n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4))) return 1;
    if (n == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5))) return 0;
    return -1;
}

bool em_csv_parse_double(const char *s, size_t n, double *out) {
    if (!s || !out) return false;
    return em__csv_parse_f64(s, s + n, out);
}
