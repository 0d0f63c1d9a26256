/* Copies and casts between any views and dtypes. */
#include "../internal.h"
#include "../autograd/ag.h"

#include "../base/threadpool.h"

/* Bytes per parallel range of a copy (memcpy-speed work: ~20 us), and
 * elements per range of a converting cast or a fill. */
#define COPY_GRAIN_BYTES (256 * 1024)
#define CAST_GRAIN 32768

typedef struct {
    em_dtype dst, src;
} cast_ctx;

/* Same-dtype strided copy, with a memcpy fast path.  Elements move as
 * fixed-size memcpy (one load and one store, no aliasing assumptions). */
#define STRIDED_COPY(T, n, d, sd, q, sq)                                                       \
    for (int64_t i = 0; i < (n); i++) memcpy((d) + i * (sd), (q) + i * (sq), sizeof(T))
static void copy_loop(int64_t n, char **p, const int64_t *s, void *ctx) {
    size_t es = *(size_t *)ctx;
    if (s[0] == (int64_t)es && s[1] == (int64_t)es) {
        memcpy(p[0], p[1], (size_t)n * es);
        return;
    }
    char *d = p[0]; /* locals: the stores could alias p and s */
    const char *q = p[1];
    int64_t sd = s[0], sq = s[1];
    switch (es) {
    case 1: STRIDED_COPY(uint8_t, n, d, sd, q, sq); break;
    case 4: STRIDED_COPY(uint32_t, n, d, sd, q, sq); break;
    default: STRIDED_COPY(uint64_t, n, d, sd, q, sq); break;
    }
}

/* Transposing copies (one side runs along the innermost axis, the other
 * along the next one) go tile by tile, TILE x TILE elements, so that both
 * the rows written and the columns read stay in cache; a plain loop would
 * touch a new cache line on every read. */
#define TILE 64
typedef struct {
    size_t es;
    int64_t rows, cols;    /* the two innermost axes */
    int64_t dr, dc, sr, sc; /* their byte strides: destination, source */
} tile_ctx;

/* Copies the rows x cols block: ctx fields are read into locals first, as
 * the stores could alias them. */
#define TILE_COPY(T, c, d, q)                                                                         \
    {                                                                                                 \
        int64_t rows = (c)->rows, cols = (c)->cols, dr = (c)->dr, dc = (c)->dc, sr = (c)->sr,         \
                sc = (c)->sc;                                                                         \
        for (int64_t r0 = 0; r0 < rows; r0 += TILE)                                                   \
            for (int64_t c0 = 0; c0 < cols; c0 += TILE) {                                             \
                int64_t r1 = r0 + TILE < rows ? r0 + TILE : rows;                                     \
                int64_t c1 = c0 + TILE < cols ? c0 + TILE : cols;                                     \
                for (int64_t r = r0; r < r1; r++)                                                     \
                    STRIDED_COPY(T, c1 - c0, (d) + r * dr + c0 * dc, dc, (q) + r * sr + c0 * sc, sc); \
            }                                                                                         \
    }

/* The outer axes come from em__iter (as one loop axis of n steps). */
static void tile_loop(int64_t n, char **p, const int64_t *s, void *vctx) {
    const tile_ctx *c = vctx;
    for (int64_t i = 0; i < n; i++) {
        char *d = p[0] + i * s[0];
        const char *q = p[1] + i * s[1];
        switch (c->es) {
        case 1: TILE_COPY(uint8_t, c, d, q); break;
        case 4: TILE_COPY(uint32_t, c, d, q); break;
        default: TILE_COPY(uint64_t, c, d, q); break;
        }
    }
}

/* Whether the coalesced iteration is a transpose worth tiling: both inner
 * axes longer than a tile, and one operand unit-strided along the last
 * axis while the other is unit-strided along the one before. */
static bool is_transpose(const em__iter *it, int64_t es) {
    int nd = it->ndim;
    if (nd < 2 || it->shape[nd - 1] < TILE || it->shape[nd - 2] < TILE) return false;
    for (int k = 0; k < 2; k++) {
        const int64_t *a = it->strides[k], *b = it->strides[1 - k];
        if (a[nd - 1] == es && (b[nd - 2] == es || b[nd - 2] == -es) && b[nd - 1] != es) return true;
    }
    return false;
}

/* A transposing copy in parallel: work item i is the band of TILE rows
 * i % nbands of outer step i / nbands (disjoint destination blocks). */
typedef struct {
    const em__iter *it; /* the outer axes */
    tile_ctx c;         /* the two inner axes */
    int64_t nbands;
} tiled_job;

static void tiled_range(void *vj, int64_t b, int64_t e, int tid) {
    const tiled_job *j = vj;
    const em__iter *it = j->it;
    for (int64_t i = b; i < e; i++) {
        int64_t o = i / j->nbands, r0 = i % j->nbands * TILE;
        char *p[2] = {it->base[0], it->base[1]};
        int64_t s[2] = {0, 0}, r = o;
        for (int d = it->ndim - 1; d >= 0; d--) {
            int64_t x = r % it->shape[d];
            r /= it->shape[d];
            p[0] += x * it->strides[0][d];
            p[1] += x * it->strides[1][d];
        }
        tile_ctx c = j->c;
        c.rows = c.rows - r0 < TILE ? c.rows - r0 : TILE;
        p[0] += r0 * c.dr;
        p[1] += r0 * c.sr;
        tile_loop(1, p, s, &c);
    }
}

/* Tiled copy: the two inner axes go to tile_loop, the rest to em__iter. */
static void copy_tiled(em__iter *it, size_t es) {
    int nd = it->ndim;
    tile_ctx c = {es, it->shape[nd - 2], it->shape[nd - 1], it->strides[0][nd - 2], it->strides[0][nd - 1],
                  it->strides[1][nd - 2], it->strides[1][nd - 1]};
    if (nd == 2) { /* one outer step */
        it->shape[0] = 1;
        it->strides[0][0] = it->strides[1][0] = 0;
    }
    it->ndim = nd == 2 ? 1 : nd - 2;
    int64_t nbands = (c.rows + TILE - 1) / TILE, band_bytes = TILE * c.cols * (int64_t)es;
    int64_t n = em__numel(it->ndim, it->shape) * nbands, grain = (COPY_GRAIN_BYTES + band_bytes - 1) / band_bytes;
    if (n <= grain || em__threads() <= 1) {
        em__iter_run(it, tile_loop, &c);
        return;
    }
    tiled_job j = {it, c, nbands};
    em__parallel_for(n, grain, em__threads(), tiled_range, &j);
}

static void cast_loop(int64_t n, char **p, const int64_t *s, void *vctx) {
    cast_ctx *c = vctx;
    /* integer destinations from floats go through em__store to avoid UB on
     * NaN/out-of-range; everything else is a plain C conversion */
    bool float_to_int = em_dtype_is_float(c->src) && c->dst != EM_BOOL && !em_dtype_is_float(c->dst);
    if (float_to_int) {
        for (int64_t i = 0; i < n; i++) em__store(c->dst, p[0] + i * s[0], em__load(c->src, p[1] + i * s[1]));
        return;
    }
    EM_DISPATCH_ALL(c->dst, TD, EM_DISPATCH_ALL(c->src, TS, {
        for (int64_t i = 0; i < n; i++) {
            TS v = *(const TS *)(p[1] + i * s[1]);
            *(TD *)(p[0] + i * s[0]) = (TD)v;
        }
    }))
}

/* Whether two tensors' element ranges may overlap in memory. */
static bool may_overlap(const em_tensor *a, const em_tensor *b) {
    if (a->storage->data != b->storage->data && a->storage != b->storage) return false;
    return true;
}

static em_status copy_raw(em_tensor *dst, const em_tensor *src) {
    em__iter it;
    const em_tensor *ops[2] = {dst, src};
    EM_TRY(em__iter_init(&it, 2, ops, dst->ndim, dst->shape));
    if (dst->dtype == src->dtype) {
        size_t es = em__dsize(dst->dtype);
        if (is_transpose(&it, (int64_t)es))
            copy_tiled(&it, es);
        else
            em__iter_run_parallel(&it, COPY_GRAIN_BYTES / (int64_t)es, copy_loop, &es);
    } else {
        cast_ctx c = {dst->dtype, src->dtype};
        em__iter_run_parallel(&it, CAST_GRAIN, cast_loop, &c);
    }
    return EM_OK;
}

em_status em_tensor_copy_into(em_tensor *dst, const em_tensor *src) {
    if (!dst || !src) return em__error(EM_ERR_INVALID_ARG, "copy_into: NULL tensor");
    EM_TRY(em__ag_check_inplace("copy_into", dst, src, NULL));
    if (src->ndim > dst->ndim) {
        char b1[EM_DESC_LEN], b2[EM_DESC_LEN];
        return em__error(EM_ERR_SHAPE, "copy_into: source %s cannot be broadcast to destination %s",
                         em__desc(src, b1), em__desc(dst, b2));
    }
    if (may_overlap(dst, src) && dst != src) {
        em_tensor *tmp;
        EM_TRY(em_tensor_clone(src, &tmp));
        em_status st = copy_raw(dst, tmp);
        em_tensor_free(tmp);
        return st;
    }
    return copy_raw(dst, src);
}

static em_status clone_raw(const em_tensor *x, em_tensor **out) {
    if (!x || !out) return em__error(EM_ERR_INVALID_ARG, "clone: NULL argument");
    em_tensor *t;
    EM_TRY(em__new(x->dtype, x->ndim, x->shape, &t));
    em_status st = copy_raw(t, x);
    if (st) {
        em_tensor_free(t);
        return st;
    }
    *out = t;
    return EM_OK;
}

static em_status contiguous_raw(const em_tensor *x, em_tensor **out) {
    if (!x || !out) return em__error(EM_ERR_INVALID_ARG, "contiguous: NULL argument");
    if (em__is_contiguous(x)) {
        *out = em_tensor_retain((em_tensor *)x);
        return EM_OK;
    }
    return em_tensor_clone(x, out);
}

static em_status cast_raw(const em_tensor *x, em_dtype dt, em_tensor **out) {
    if (!x || !out) return em__error(EM_ERR_INVALID_ARG, "cast: NULL argument");
    if (!em__dtype_valid(dt)) return em__error(EM_ERR_DTYPE, "cast: invalid dtype %d", (int)dt);
    em_tensor *t;
    EM_TRY(em__new(dt, x->ndim, x->shape, &t));
    em_status st = copy_raw(t, x);
    if (st) {
        em_tensor_free(t);
        return st;
    }
    *out = t;
    return EM_OK;
}

typedef struct {
    em_dtype dt;
    double v;
} fill_ctx;

static void fill_loop(int64_t n, char **p, const int64_t *s, void *vctx) {
    fill_ctx *c = vctx;
    char one[8];
    em__store(c->dt, one, c->v);
    size_t es = em__dsize(c->dt);
    EM_DISPATCH_ALL(c->dt, T, {
        T v;
        memcpy(&v, one, sizeof v);
        if (s[0] == (int64_t)es) {
            T *d = (T *)p[0];
            for (int64_t i = 0; i < n; i++) d[i] = v;
        } else {
            for (int64_t i = 0; i < n; i++) *(T *)(p[0] + i * s[0]) = v;
        }
    })
}

em_status em_tensor_fill(em_tensor *dst, double value) {
    if (!dst) return em__error(EM_ERR_INVALID_ARG, "fill: NULL tensor");
    EM_TRY(em__ag_check_inplace("fill", dst, NULL, NULL));
    em__iter it;
    const em_tensor *ops[1] = {dst};
    EM_TRY(em__iter_init(&it, 1, ops, dst->ndim, dst->shape));
    fill_ctx c = {dst->dtype, value};
    em__iter_run_parallel(&it, COPY_GRAIN_BYTES / (int64_t)em__dsize(dst->dtype), fill_loop, &c);
    return EM_OK;
}

/* ---- public entry points of the copies, with their autograd records ------- */
em_status em_tensor_clone(const em_tensor *x, em_tensor **out) {
    EM_TRY(clone_raw(x, out));
    return em__ag_want1(x) ? em__ag_view(EM__AG_IDENTITY, "CloneBackward0", x, NULL, 0, out) : EM_OK;
}

em_status em_tensor_contiguous(const em_tensor *x, em_tensor **out) {
    if (!em__ag_want1(x)) return contiguous_raw(x, out);
    em_status st;
    EM__AG_NOREC(st, contiguous_raw(x, out));
    return st ? st : em__ag_view(EM__AG_IDENTITY, "CloneBackward0", x, NULL, 0, out);
}

em_status em_tensor_cast(const em_tensor *x, em_dtype dt, em_tensor **out) {
    EM_TRY(cast_raw(x, dt, out));
    return em__ag_want1(x) ? em__ag_view(EM__AG_IDENTITY, "ToCopyBackward0", x, NULL, 0, out) : EM_OK;
}
