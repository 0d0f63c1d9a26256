/* Random numbers: Philox-4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel
 * random numbers: as easy as 1, 2, 3", SC'11; the Random123 reference).
 *
 * The stream, defined exactly so results never depend on threads, chunking
 * or platform:
 *  - A generator is (seed, offset).  The 64-bit Philox key is the seed (low
 *    32 bits = key word 0).  Block b is philox(counter = (b, hi), key): the
 *    128-bit counter's low 64 bits are b (low 32 bits = counter word 0) and
 *    its high 64 bits are hi; the main stream uses hi = 0.
 *  - A draw of n elements takes w 32-bit words per element (w fixed per
 *    call, below).  Word j of the draw is word j % 4 of block
 *    (offset + j / 4) mod 2^64, and element i owns words [i*w, i*w + w).
 *    So with w = 1, element i uses block offset + i/4, word i%4.
 *  - A 64-bit value from words (j, j+1) is word_j | word_{j+1} << 32.
 *  - Afterwards offset += ceil(words / 4); a failed call consumes nothing.
 * Per distribution:
 *  - uniform float32 (w = 1): u = (word >> 8) * 2^-24;  float64 (w = 2):
 *    u = (u64 >> 11) * 2^-53; out = low + (high - low) * u in double, then
 *    rounded; a value that rounds up to high is replaced by the next value
 *    below it, so out is always in [low, high).
 *  - normal: Box-Muller on elements (2k, 2k+1) with their uniforms u1, u2 as
 *    above: r = sqrt(-2 ln(1 - u1)) (1 - u1 > 0, so never log 0),
 *    out[2k] = mean + std r cos(2 pi u2), out[2k+1] = mean + std r sin(2 pi u2).
 *    An odd n still consumes the words of its last pair.  (The bits come
 *    from Philox; log/sin/cos come from the platform's libm.)
 *  - randint: r = high - low; w = 1 if r < 2^32 else 2.  Lemire's
 *    multiply-shift: x * r = hi * 2^bits + lo, accept hi unless
 *    lo < (2^bits - r) mod r.  A rejected element retries with the same words
 *    of the same block on side stream hi = 1, 2, ... (never used by the main
 *    stream), so retries touch no other element and the offset advance is
 *    fixed.  Each try rejects with probability < 1/2; after 64 retries the
 *    last candidate is accepted (bias below 2^-64).
 *  - bernoulli (w = 2): out[i] = u < p[i] with the float64 uniform u.
 *  - permutation of n (w = 1 if n < 2^32 else 2): Fisher-Yates; step k
 *    (k = 0 .. n-2, i = n-1-k) is element k of a randint draw on [0, i] and
 *    swaps out[i] with out[j].
 */
#include "../internal.h"

#include <float.h>
#include <math.h>

struct em_generator {
    uint64_t seed, offset;
};

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define RANDINT_RETRIES 64

void em__philox4x32(uint64_t counter_lo, uint64_t counter_hi, uint64_t key, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)counter_lo, c1 = (uint32_t)(counter_lo >> 32);
    uint32_t c2 = (uint32_t)counter_hi, c3 = (uint32_t)(counter_hi >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        if (r) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* ---- the stream of one draw --------------------------------------------- */
typedef struct {
    uint64_t key, base, cached;
    bool valid;
    uint32_t buf[4];
} stream;

static stream stream_at(const em_generator *g) { return (stream){g->seed, g->offset, 0, false, {0}}; }

static uint32_t word(stream *s, uint64_t j) {
    uint64_t b = j >> 2;
    if (!s->valid || b != s->cached) {
        em__philox4x32(s->base + b, 0, s->key, s->buf);
        s->cached = b;
        s->valid = true;
    }
    return s->buf[j & 3];
}

/* Element i's bits with w words per element (w = 2 stays inside one block). */
static uint64_t bits(stream *s, uint64_t i, int w) {
    if (w == 1) return word(s, i);
    return word(s, 2 * i) | (uint64_t)word(s, 2 * i + 1) << 32;
}

static double uniform01(stream *s, uint64_t i, em_dtype dt) {
    if (dt == EM_F32) return (double)(word(s, i) >> 8) * 0x1p-24;
    return (double)(bits(s, i, 2) >> 11) * 0x1p-53;
}

static void advance(em_generator *g, uint64_t words) { g->offset += (words + 3) / 4; }

/* hi 64 bits of a * b; low 64 bits into *lo (portable 64x64 -> 128). */
static uint64_t mul64(uint64_t a, uint64_t b, uint64_t *lo) {
    uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;
    *lo = (mid << 32) | (uint32_t)p00;
    return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/* Unbiased integers in [0, r) with w words per element (w = 1 needs
 * r < 2^32); Lemire's nearly divisionless test (see the top comment). */
static int width(uint64_t r) { return r <= UINT32_MAX ? 1 : 2; }

static uint64_t bounded_draw(stream *s, uint64_t r, int w, uint64_t i) {
    uint64_t j = i * (uint64_t)w, x = bits(s, i, w);
    for (int a = 1;; a++) {
        uint64_t hi, lo;
        if (w == 1) {
            uint64_t m = x * r;
            hi = m >> 32;
            lo = (uint32_t)m;
        } else {
            hi = mul64(x, r, &lo);
        }
        /* reject lo < (2^bits - r) mod r; only lo < r can be rejected */
        if (lo >= r || a > RANDINT_RETRIES) return hi;
        uint64_t threshold = w == 1 ? (uint32_t)(0u - (uint32_t)r) % (uint32_t)r : (0 - r) % r;
        if (lo >= threshold) return hi;
        uint32_t blk[4];
        em__philox4x32(s->base + (j >> 2), (uint64_t)a, s->key, blk);
        x = w == 1 ? blk[j & 3] : blk[j & 3] | (uint64_t)blk[(j & 3) + 1] << 32;
    }
}

/* ---- generator ----------------------------------------------------------- */
em_status em_generator_new(uint64_t seed, em_generator **out) {
    if (!out) return em__error(EM_ERR_INVALID_ARG, "generator_new: out is NULL");
    em_generator *g;
    EM_TRY(em__alloc_or_fail(sizeof *g, "generator_new", (void **)&g));
    g->seed = seed;
    g->offset = 0;
    *out = g;
    return EM_OK;
}

void em_generator_free(em_generator *g) { em__free(g); }

void em_generator_seed(em_generator *g, uint64_t seed) {
    if (g) *g = (em_generator){seed, 0};
}

void em_generator_get_state(const em_generator *g, uint64_t *seed, uint64_t *offset) {
    if (!g) return;
    if (seed) *seed = g->seed;
    if (offset) *offset = g->offset;
}

void em_generator_set_state(em_generator *g, uint64_t seed, uint64_t offset) {
    if (g) *g = (em_generator){seed, offset};
}

/* Common checks of a draw; allocates its output into *t (the caller's
 * `out` is only written once the draw succeeded). */
static em_status draw_new(const char *op, em_generator *g, em_dtype dt, int ndim, const int64_t *shape,
                          em_tensor **out, em_tensor **t) {
    if (!g || !out) return em__error(EM_ERR_INVALID_ARG, "%s: generator or out is NULL", op);
    if (!em__dtype_valid(dt)) return em__error(EM_ERR_DTYPE, "%s: invalid dtype %d", op, (int)dt);
    EM_TRY(em__check_shape(op, ndim, shape));
    return em__new(dt, ndim, shape, t);
}

static em_status need_float(const char *op, em_dtype dt) {
    if (em__dtype_valid(dt) && em_dtype_is_float(dt)) return EM_OK;
    return em__error(EM_ERR_DTYPE, "%s: dtype %s is not a float dtype (float32 or float64)", op,
                     em_dtype_name(dt) ? em_dtype_name(dt) : "invalid");
}

/* Stores v rounded to dt, pulled below `high` if rounding reached it. */
static void store_below(em_dtype dt, char *p, double v, double high) {
    if (dt == EM_F32) {
        float f = (float)v;
        if ((double)f >= high) f = nextafterf(f, -INFINITY);
        *(float *)p = f;
    } else {
        if (v >= high) v = nextafter(v, -INFINITY);
        *(double *)p = v;
    }
}

em_status em_random_uniform(em_generator *g, double low, double high, em_dtype dt, int ndim, const int64_t *shape,
                            em_tensor **out) {
    EM_TRY(need_float("random_uniform", dt));
    if (!isfinite(low) || !isfinite(high) || !(low < high) || !isfinite(high - low))
        return em__error(EM_ERR_INVALID_ARG,
                         "random_uniform: needs finite low < high with a finite width, got low=%g high=%g", low, high);
    if (dt == EM_F32 && (fabs(low) > FLT_MAX || fabs(high) > FLT_MAX))
        return em__error(EM_ERR_INVALID_ARG, "random_uniform: low=%g high=%g are outside the float32 range", low, high);
    em_tensor *t;
    EM_TRY(draw_new("random_uniform", g, dt, ndim, shape, out, &t));
    int64_t n = em__numel(ndim, shape);
    size_t es = em__dsize(dt);
    char *p = em__ptr(t);
    stream s = stream_at(g);
    for (int64_t i = 0; i < n; i++) store_below(dt, p + i * es, low + (high - low) * uniform01(&s, i, dt), high);
    advance(g, (uint64_t)n * (dt == EM_F32 ? 1 : 2));
    *out = t;
    return EM_OK;
}

em_status em_random_normal(em_generator *g, double mean, double std, em_dtype dt, int ndim, const int64_t *shape,
                           em_tensor **out) {
    EM_TRY(need_float("random_normal", dt));
    if (!isfinite(mean) || !isfinite(std) || std < 0)
        return em__error(EM_ERR_INVALID_ARG, "random_normal: needs a finite mean and std >= 0, got mean=%g std=%g",
                         mean, std);
    em_tensor *t;
    EM_TRY(draw_new("random_normal", g, dt, ndim, shape, out, &t));
    int64_t n = em__numel(ndim, shape);
    size_t es = em__dsize(dt);
    char *p = em__ptr(t);
    stream s = stream_at(g);
    const double two_pi = 6.283185307179586476925286766559;
    for (int64_t i = 0; i < n; i += 2) {
        double r = sqrt(-2.0 * log(1.0 - uniform01(&s, i, dt))), th = two_pi * uniform01(&s, i + 1, dt);
        em__store(dt, p + i * es, mean + std * r * cos(th));
        if (i + 1 < n) em__store(dt, p + (i + 1) * es, mean + std * r * sin(th));
    }
    advance(g, (uint64_t)(n + n % 2) * (dt == EM_F32 ? 1 : 2));
    *out = t;
    return EM_OK;
}

/* Two's-complement uint64 -> int64 without implementation-defined conversion. */
static int64_t u2i(uint64_t u) { return u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1; }

em_status em_random_randint(em_generator *g, int64_t low, int64_t high, em_dtype dt, int ndim, const int64_t *shape,
                            em_tensor **out) {
    if (!em__dtype_valid(dt) || !em_dtype_is_int(dt))
        return em__error(EM_ERR_DTYPE, "random_randint: dtype %s is not an integer dtype",
                         em_dtype_name(dt) ? em_dtype_name(dt) : "invalid");
    if (high <= low)
        return em__error(EM_ERR_INVALID_ARG, "random_randint: needs low < high, got [%lld, %lld)", (long long)low,
                         (long long)high);
    static const int64_t lo_lim[EM_DTYPE_COUNT] = {[EM_U8] = 0, [EM_I8] = INT8_MIN, [EM_I32] = INT32_MIN,
                                                   [EM_I64] = INT64_MIN};
    static const int64_t hi_lim[EM_DTYPE_COUNT] = {[EM_U8] = UINT8_MAX, [EM_I8] = INT8_MAX, [EM_I32] = INT32_MAX,
                                                   [EM_I64] = INT64_MAX};
    if (low < lo_lim[dt] || high - 1 > hi_lim[dt])
        return em__error(EM_ERR_INVALID_ARG, "random_randint: range [%lld, %lld) does not fit %s [%lld, %lld]",
                         (long long)low, (long long)high, em_dtype_name(dt), (long long)lo_lim[dt],
                         (long long)hi_lim[dt]);
    em_tensor *t;
    EM_TRY(draw_new("random_randint", g, dt, ndim, shape, out, &t));
    int64_t n = em__numel(ndim, shape);
    uint64_t r = (uint64_t)high - (uint64_t)low;
    int w = width(r);
    stream s = stream_at(g);
    char *p = em__ptr(t);
    /* values are in the dtype's range, so the conversions below are exact */
    EM_DISPATCH_ALL(dt, T, {
        T *d = (T *)p;
        for (int64_t i = 0; i < n; i++) d[i] = (T)u2i((uint64_t)low + bounded_draw(&s, r, w, (uint64_t)i));
    })
    advance(g, (uint64_t)n * (uint64_t)w);
    *out = t;
    return EM_OK;
}

em_status em_random_bernoulli(em_generator *g, const em_tensor *p, int dt, em_tensor **out) {
    if (!g || !p || !out) return em__error(EM_ERR_INVALID_ARG, "random_bernoulli: NULL argument");
    char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
    if (!em_dtype_is_float(p->dtype))
        return em__error(EM_ERR_DTYPE, "random_bernoulli: probabilities %s must be a float tensor", em__desc(p, b1));
    if (dt >= EM_DTYPE_COUNT) return em__error(EM_ERR_DTYPE, "random_bernoulli: invalid dtype %d", dt);
    em_dtype odt = dt < 0 ? p->dtype : (em_dtype)dt;
    em_tensor *t;
    EM_TRY(em__new(odt, p->ndim, p->shape, &t));
    int64_t n = em__numel(p->ndim, p->shape), idx[EM_MAX_DIMS] = {0};
    size_t pes = em__dsize(p->dtype), oes = em__dsize(odt);
    const char *src = em__ptr(p);
    char *dst = em__ptr(t);
    stream s = stream_at(g);
    /* p may be any view (broadcast, negative strides): walk it in C order */
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int d = 0; d < p->ndim; d++) off += idx[d] * p->strides[d];
        double q = em__load(p->dtype, src + off * (int64_t)pes);
        if (!(q >= 0 && q <= 1)) {
            em_tensor_free(t);
            return em__error(EM_ERR_INVALID_ARG, "random_bernoulli: probability %g at index %s of %s is not in [0, 1]",
                             q, em__shape_str(p->ndim, idx, b2), em__desc(p, b1));
        }
        em__store(odt, dst + i * oes, uniform01(&s, (uint64_t)i, EM_F64) < q);
        for (int d = p->ndim - 1; d >= 0 && ++idx[d] == p->shape[d]; d--) idx[d] = 0;
    }
    advance(g, (uint64_t)n * 2);
    *out = t;
    return EM_OK;
}

em_status em_random_permutation(em_generator *g, int64_t n, em_tensor **out) {
    if (n < 0) return em__error(EM_ERR_INVALID_ARG, "random_permutation: n must be >= 0, got %lld", (long long)n);
    em_tensor *t;
    EM_TRY(draw_new("random_permutation", g, EM_I64, 1, &n, out, &t));
    int64_t *d = (int64_t *)em__ptr(t);
    for (int64_t i = 0; i < n; i++) d[i] = i;
    int w = width((uint64_t)n); /* one width for the whole draw, from the largest range */
    stream s = stream_at(g);
    for (int64_t k = 0; k + 1 < n; k++) {
        int64_t i = n - 1 - k;
        int64_t j = (int64_t)bounded_draw(&s, (uint64_t)i + 1, w, (uint64_t)k), tmp = d[i];
        d[i] = d[j];
        d[j] = tmp;
    }
    advance(g, n > 1 ? (uint64_t)(n - 1) * (uint64_t)w : 0);
    *out = t;
    return EM_OK;
}
