/* Number parsing for the CSV reader: the hot spot of numeric files.
 *
 * Two readers of the same grammar ([+-]digits[.digits][e[+-]digits], inf,
 * infinity, nan) give the same doubles:
 *  - csv_field.h: a whole field whose end the tokeniser knows, digits found
 *    and converted with SSE2 vectors (the common case, inlined into csv.c);
 *  - em__csv_scan_f64 here: the longest number at the start of a text, its
 *    digits read eight at a time (SWAR) -- for the C API, quoted or spaced
 *    fields, the first bytes of a buffer and builds without SSE2.
 * Floats are correctly rounded (the same double as strtod / Python's float()):
 *  1. up to 19 significant digits: Eisel-Lemire -- multiply the normalised
 *     mantissa by a 128-bit approximation of 5^q (pow5_table.c) and keep 54
 *     bits; the product is wrong in the last kept bit only when its dropped
 *     bits look like a halfway case, which is detected and sent to 2 (here
 *     the serial reader first tries Clinger's path: mantissa <= 2^53 and
 *     |q| <= 22 are exact doubles, so one IEEE multiply or divide rounds
 *     correctly; the vector reader skips it, as a branch that goes either way
 *     with the digit count costs more than it saves);
 *  2. more than 19 significant digits, subnormal results or ambiguous
 *     products: strtod_l in the C locale (so LC_NUMERIC of the host program
 *     cannot change the result).
 */
#include "csv_internal.h"
#include "csv_field.h"

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

/* Case-insensitive match of word at [p, e); returns its end or NULL. */
static const char *iword(const char *p, const char *e, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(e - p) < n) return NULL;
    for (size_t i = 0; i < n; i++)
        if ((p[i] | 0x20) != word[i]) return NULL;
    return p + n;
}

/* ---- digit runs, eight bytes at a time (SWAR) -----------------------------
 *
 * A word holds 8 text bytes, the first in its low byte.  XOR with '0' turns a
 * digit byte into its value 0..9; any other byte becomes >= 10 and is flagged
 * by (x | (x + 0x76)) having bit 7 set (x + 0x76 >= 0x80 exactly when
 * x >= 10, and x >= 0x80 is flagged by itself).  A carry out of a byte only
 * reaches bytes after a flagged one, so the lowest flag is exact. */

static inline uint64_t load8(const char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* How many of the 8 bytes of x (already XORed with '0') are digits in a row. */
static inline int digit_count(uint64_t x) {
    uint64_t bad = (x | (x + 0x7676767676767676ULL)) & 0x8080808080808080ULL;
    /* flags moved to bits 0, 8, ..., 56, with bit 63 standing for "none"
     * (-> 8): no branch, as digit counts vary from field to field */
    return (__builtin_ctzll((bad >> 7) | (1ULL << 63)) + 1) >> 3;
}

/* Value of the first n (1..8) digits of x: shifting them to the top leaves
 * zeros (leading zero digits) below and drops the non-digit bytes; then
 * pairs, quads and the eight are combined with one multiply-add per step. */
static inline uint64_t digits_value(uint64_t x, int n) {
    x <<= 8 * (8 - n);
    x = (x * 10 + (x >> 8)) & 0x00FF00FF00FF00FFULL;
    x = (x * 100 + (x >> 16)) & 0x0000FFFF0000FFFFULL;
    x = (x * 10000 + (x >> 32)) & 0xFFFFFFFFULL;
    return x;
}

static const uint64_t pow10_u64[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

/* Reads the digits at p (stopping at e or a non-digit), accumulating them into
 * *w modulo 2^64 (callers count the digits and discard w when there were more
 * than 19); returns the end of the digits. */
static inline const char *run_digits(const char *p, const char *e, uint64_t *w) {
    uint64_t v = *w;
    while (e - p >= 8) {
        uint64_t x = load8(p) ^ 0x3030303030303030ULL;
        int n = digit_count(x);
        if (n) v = v * pow10_u64[n] + digits_value(x, n);
        p += n;
        if (n < 8) {
            *w = v;
            return p;
        }
    }
    for (; p < e && (unsigned char)(*p - '0') < 10; p++) v = v * 10 + (uint64_t)(*p - '0');
    *w = v;
    return p;
}

const char *em__csv_scan_f64(const char *s, const char *e, double *out) {
    const char *p = s;
    bool neg = false;
    if (p < e && (*p == '-' || *p == '+')) neg = *p++ == '-';
    const char *ds = p; /* the first digit, or where inf/nan would start */
    while (p < e && *p == '0') p++; /* leading zeros are not significant */
    const char *sig = p;
    uint64_t w = 0;
    p = run_digits(p, e, &w);
    int64_t nd = p - sig;   /* significant digits read into w */
    int64_t ndig = p - ds;  /* all mantissa digits */
    int64_t q = 0;          /* decimal exponent of w */
    if (p < e && *p == '.') {
        const char *fs = ++p;
        if (nd == 0) /* zeros right after the point (0.000123) are not significant either */
            while (p < e && *p == '0') p++;
        const char *fz = p;
        p = run_digits(p, e, &w);
        nd += p - fz;
        q = -(int64_t)(p - fs);
        ndig += p - fs;
    }
    if (ndig == 0) { /* no digits: inf, infinity or nan (at ds: ".inf" is no float) */
        const char *z;
        double v = neg ? -1.0 : 1.0;
        if ((z = iword(ds, e, "infinity")) || (z = iword(ds, e, "inf"))) v *= INFINITY;
        else if ((z = iword(ds, e, "nan"))) v = neg ? -NAN : NAN;
        else return NULL;
        *out = v;
        return z;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        const char *x = p + 1;
        bool eneg = false;
        if (x < e && (*x == '-' || *x == '+')) eneg = *x++ == '-';
        if (x < e && (unsigned char)(*x - '0') < 10) {
            int64_t ex = 0;
            for (; x < e && (unsigned char)(*x - '0') < 10; x++)
                if (ex < 100000) ex = ex * 10 + (*x - '0'); /* beyond: 0 or inf anyway */
            q += eneg ? -ex : ex;
            p = x;
        }
    }
    double v;
    if (nd > 19) { /* w lost digits: the exact (slow) way */
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

const char *em__csv_scan_i64(const char *s, const char *e, int64_t *out) {
    const char *p = s;
    bool neg = false;
    if (p < e && (*p == '-' || *p == '+')) neg = *p++ == '-';
    const char *ds = p;
    while (p < e && *p == '0') p++;
    const char *sig = p;
    uint64_t w = 0;
    p = run_digits(p, e, &w);
    /* 19 digits always fit in 64 bits (10^19 - 1 < 2^64) */
    if (p == ds || p - sig > 19) return NULL;
    if (w > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) return NULL;
    *out = neg ? (int64_t)(0 - w) : (int64_t)w;
    return p;
}

int em__csv_parse_i64(const char *s, const char *e, int64_t *out) {
    if (em__csv_scan_i64(s, e, out) == e) return 1;
    /* not an int64: out of range when it is still all digits */
    const char *p = s;
    if (p < e && (*p == '-' || *p == '+')) p++;
    if (p == e) return 0;
    for (; p < e; p++)
        if ((unsigned char)(*p - '0') >= 10) return 0;
    return 2;
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
