/* Implicit-GEMM convolution (see conv_kernels.h and docs/kernels.md): the
 * GEMM micro-kernels of the active SIMD kernel set (kernels/gemm.h) driven
 * straight from the image, so no im2col matrix is written and read back and
 * the GEMM does not pack it a second time.
 *
 * Forward, per group: y (Og x N*P) = w (Og x R) @ col (R x N*P).  The
 * columns (output positions of all images, one after the other) are cut into
 * chunks of about nc; for each kc block of taps the chunk's kc x NR slivers
 * of col are packed from the input planes, and the packed weight slivers run
 * over them.  A chunk accumulates in a small Og x nw buffer, then goes to y
 * with the bias (a sliver may straddle two images).
 *
 * grad_weight, per group: gw (Og x R) = sum over images and position blocks
 * of gy (Og x kc, read in place) @ col^T (kc x R); the taps are the columns,
 * so the threads split the taps and each packs only its own (no duplicate
 * packing, no partial sums).
 *
 * Determinism: every output element is one chain of the micro-kernel per kc
 * block, the blocks added in order, and the kc blocks (over taps, or over
 * images and positions) are fixed by the geometry and the kernel set alone;
 * how columns or taps are cut between threads never changes a bit. */
#include "conv_kernels.h"

#include "../base/threadpool.h"
#include "gemm.h"

#define CDIV(a, b) (((a) + (b) - 1) / (b))
#define TAP_CHUNK 8 /* grad_weight: tap slivers packed at a time (8 x 32 taps x kc) */

/* A run of output positions that is contiguous both in one output row of
 * one image and in one packed sliver (lanes lane.. of sliver s). */
typedef struct {
    int64_t off, len, s, lane; /* off: of tap (0, 0, 0) in the padded input */
} seg_t;

/* Cuts the columns [J0, J0 + w) (position n*P + oh*OW + ow) into runs;
 * the padded input has images img and rows Wp elements apart, and output
 * columns csw apart. */
static int64_t make_segs(const em__conv_geom *g, int64_t img, int64_t Wp, int64_t csw, int64_t J0, int64_t w,
                         int NR, seg_t *sg) {
    int64_t P = g->OH * g->OW, n = J0 / P, p = J0 % P, oh = p / g->OW, ow = p % g->OW, ns = 0;
    for (int64_t q = 0; q < w;) {
        int64_t lane = q % NR, len = g->OW - ow;
        if (len > NR - lane) len = NR - lane;
        if (len > w - q) len = w - q;
        sg[ns++] = (seg_t){n * img + oh * g->sh * Wp + ow * csw, len, q / NR, lane};
        q += len, ow += len;
        if (ow == g->OW) {
            ow = 0;
            if (++oh == g->OH) oh = 0, n++;
        }
    }
    return ns;
}

/* Offset of tap t (channel, kernel row, kernel column) in the padded input:
 * planes plane apart, rows Wp apart, each row stored as ph phases (columns
 * j with j % ph == f, Ws apart; ph = 1: the plain row). */
static inline int64_t tap_off(const em__conv_geom *g, int64_t plane, int64_t Wp, int64_t ph, int64_t Ws, int64_t t) {
    int64_t kk = g->kh * g->kw, r = t % kk, jd = r % g->kw * g->dw;
    return t / kk * plane + r / g->kw * g->dh * Wp + jd % ph * Ws + jd / ph;
}

/* Rows are short: a call to memcpy or memset per row costs more than the copy. */
#pragma GCC optimize("no-tree-loop-distribute-patterns")

static const em__gemm_kset_f32 *em__conv_kset_f32(void) {
    switch (em__gemm_active_isa()) {
    case EM__GEMM_AVX512: return em__gemm_avx512_f32();
    case EM__GEMM_AVX2: return em__gemm_avx2_f32();
    default: return NULL;
    }
}
static const em__gemm_kset_f64 *em__conv_kset_f64(void) {
    switch (em__gemm_active_isa()) {
    case EM__GEMM_AVX512: return em__gemm_avx512_f64();
    case EM__GEMM_AVX2: return em__gemm_avx2_f64();
    default: return NULL;
    }
}

/* How many chunks to cut `want` chunks' worth of work into for nt threads: at least 4 a thread
 * and, with one group, a multiple of the thread count (13 chunks on 2 threads ran 7 + 6), but at
 * most `most` (chunks must keep some work).  Chunks never change a bit: the same chains, only
 * grouped differently. */
static int64_t chunks_for_threads(int64_t want, int64_t most, int64_t G, int nt) {
    int64_t n = want;
    if (G * n < 4 * nt) n = CDIV(4 * nt, G);
    if (G == 1) n = CDIV(n, nt) * nt;
    return n < most ? n : most;
}

/* ---- direct stride-1 forward (f32) ---------------------------------------
 * With stride 1 the output can be computed over the padded row width Wp:
 * position q = oh*Wp + ow (ow < Wp; columns ow >= OW are padding and are
 * dropped), and then col[tap][q] = xpad[q + off(tap)] for every q: row `tap`
 * of the GEMM's B is the padded plane shifted by a constant.  The micro-
 * kernels (kernels/x86/conv_direct_*.c) read those rows in place through a
 * per-layer table of R offsets, so nothing is packed but the weights (the
 * packing was about a fifth of the forward time), and they store their
 * tiles straight into y (segments of valid columns, the bias added by the
 * first kc block).  The price is the Wp - OW padding columns each output row
 * computes and drops, and the last sliver of each image rounded up to NR
 * (2% at 56x56, 14% at 14x14); when that would exceed DIRECT_WASTE the
 * packed route below is used instead.
 *
 * Columns are cut into slivers of NR positions of one image (NR-aligned in
 * q), and the slivers of all images form chunks; items are (group, chunk).
 * Each output element is one chain per kc block of taps (blocks fixed by R
 * and the kernel set), the first block adding the bias, later ones adding to
 * y: chunks and threads never change a bit. */
/* computed columns / output columns above which the packed route runs instead (3x3 ResNet
 * layers at NR = 32: 56x56 1.02, 28x28 1.06, 14x14 1.14, 7x7 1.31; measured at 1 thread: 56x56
 * 12% faster than the packed route, 28x28 level, 14x14 4% slower) */
#define DIRECT_WASTE 1.10

typedef struct {
    const em__conv_geom *g;
    const em__conv_direct_kset *dk;
    const float *x, *w, *wp, *bias; /* w: the caller's weights, wp: packed */
    bool flip;
    float *xp, *y;
    const int64_t *off;
    int64_t Og, Cg, R, P, th, nsl, kcb;
    int64_t Wp, Hp, plane, img, Qv, spi, nslv, cs, nchunk;
    char *scratch;
    size_t slice;
} dc_f32;

/* planes [b, e) of the input into xp, with their zero padding: row h at row h + ph, columns
 * [pw, pw + W), zeros elsewhere */
static void dpad_f32(void *vc, int64_t b, int64_t e, int tid) {
    const dc_f32 *c = vc;
    for (int64_t pl = b; pl < e; pl++)
        em__conv_pad_plane_f32(c->g, c->x + pl * c->g->H * c->g->W, c->Hp, c->Wp, c->Wp, c->xp + pl * c->plane);
}

/* weight slivers [b, e) (group, row tile): th rows, [k][r] with stride MR, zero rows past th;
 * rows outer, so that each weight row is read in order (k inner with r strided cost 3% of the
 * forward) */
static void dpack_w_f32(void *vc, int64_t b, int64_t e, int tid) {
    const dc_f32 *c = vc;
    int64_t MR = c->dk->mr, kk = c->g->kh * c->g->kw, R = c->R;
    for (int64_t it = b; it < e; it++) {
        int64_t gi = it / c->nsl, v = it % c->nsl, rows = c->Og - v * c->th < c->th ? c->Og - v * c->th : c->th;
        float *dst = (float *)c->wp + it * R * MR;
        for (int64_t r = 0; r < MR; r++) {
            int64_t oc = gi * c->Og + v * c->th + r;
            if (r >= rows)
                for (int64_t k = 0; k < R; k++) dst[k * MR + r] = 0;
            else if (!c->flip)
                for (int64_t k = 0; k < R; k++) dst[k * MR + r] = c->w[oc * R + k];
            else /* w is (C, O/G, kh, kw): the in/out-swapped, flipped kernel */
                for (int64_t k = 0; k < R; k++)
                    dst[k * MR + r] = c->w[((gi * c->Cg + k / kk) * c->Og + (oc - gi * c->Og)) * kk + kk - 1 - k % kk];
        }
    }
}

/* items: (group, chunk of slivers) */
static void dfwd_f32(void *vc, int64_t b, int64_t e, int tid) {
    const dc_f32 *c = vc;
    const em__conv_geom *g = c->g;
    const em__conv_direct_kset *dk = c->dk;
    int NR = dk->nr, MR = dk->mr;
    int64_t *bofs = (int64_t *)(c->scratch + (size_t)tid * c->slice);
    int *nseg = (int *)(bofs + c->cs);
    em__cdseg *segs = (em__cdseg *)(c->scratch + (size_t)tid * c->slice + (size_t)c->cs * 16);
    for (int64_t it = b; it < e; it++) {
        int64_t gi = it / c->nchunk, j0 = it % c->nchunk * c->cs, j1 = j0 + c->cs < c->nslv ? j0 + c->cs : c->nslv;
        /* each sliver's input offset and the segments of valid columns it stores */
        for (int64_t j = j0; j < j1; j++) {
            int64_t n = j / c->spi, q0 = j % c->spi * NR, q = q0, qe = q0 + NR < c->Qv ? q0 + NR : c->Qv;
            em__cdseg *sg = segs + (j - j0) * NR;
            int ns = 0;
            bofs[j - j0] = n * c->img + q0;
            while (q < qe) {
                int64_t oh = q / c->Wp, ow = q - oh * c->Wp;
                if (ow >= g->OW) {
                    q = (oh + 1) * c->Wp;
                    continue;
                }
                int64_t len = g->OW - ow < qe - q ? g->OW - ow : qe - q;
                sg[ns++] = (em__cdseg){(int32_t)(q - q0), (int32_t)len, n * g->O * c->P + oh * g->OW + ow};
                q += len;
            }
            nseg[j - j0] = ns;
        }
        const float *xg = c->xp + gi * c->Cg * c->plane;
        float *yg = c->y + gi * c->Og * c->P;
        for (int64_t pc = 0; pc < c->R; pc += c->kcb) {
            int64_t kc = c->R - pc < c->kcb ? c->R - pc : c->kcb;
            /* as in the GEMM (BLIS order): the input rows of one sliver (kc x NR, 128 bytes a
             * row, read in place) stay in L1 while the weight tiles (48 bytes a row) stream
             * from L2 */
            for (int64_t j = j0; j < j1; j++) {
                if (!nseg[j - j0]) continue;
                for (int64_t v = 0; v < c->nsl; v++) {
                    int mr = (int)(c->Og - v * c->th < c->th ? c->Og - v * c->th : c->th);
                    const float *a = c->wp + (gi * c->nsl + v) * c->R * MR + pc * MR;
                    const float *bias = c->bias ? c->bias + gi * c->Og + v * c->th : NULL;
                    dk->ukr(kc, a, c->off + pc, xg + bofs[j - j0], mr, yg + v * c->th * c->P, c->P,
                            segs + (j - j0) * NR, nseg[j - j0], pc == 0, bias);
                }
            }
        }
    }
}

static const em__conv_direct_kset *direct_kset(void) {
    switch (em__gemm_active_isa()) {
    case EM__GEMM_AVX512: return em__conv_direct_avx512();
    case EM__GEMM_AVX2: return em__conv_direct_avx2();
    default: return NULL;
    }
}

/* Runs the forward through the direct kernels when they apply (stride 1, a
 * SIMD kernel set, little padding waste): returns true with *st set, else
 * false (the caller takes the packed route). */
static bool try_direct_f32(const em__conv_geom *g, const float *x, const float *w, bool flip, const float *bias,
                           float *y, em_status *st) {
    /* the output-channel-vectorised kernel first, where it applies (kernels/conv_ocfwd.c) */
    if (em__conv_ocfwd_f32(g, x, w, flip, bias, y, st)) return true;
    const em__conv_direct_kset *dk = direct_kset();
    if (!dk || g->sh != 1 || g->sw != 1) return false;
    dc_f32 c = {.g = g, .dk = dk, .x = x, .w = w, .flip = flip, .bias = bias, .y = y};
    int64_t G = g->groups, kk = g->kh * g->kw, MR = dk->mr, NR = dk->nr;
    c.Og = g->O / G, c.Cg = g->C / G, c.R = c.Cg * kk, c.P = g->OH * g->OW;
    if (g->N * c.P == 0 || c.Og == 0 || c.R == 0) return false;
    /* rows Wp = W + pw apart (not W + 2*pw): the right padding of one row and the left padding
     * of the next are the same zeros, since a read past the end of a row lands in the next
     * row's first pw columns; so each output row computes Wp - OW = dw*(kw-1) - pw dropped
     * columns (1 for a padded 3x3, not 2).  Wp >= OW keeps the output rows apart. */
    c.Hp = g->H + 2 * g->ph, c.Wp = g->W + g->pw, c.plane = c.Hp * c.Wp, c.img = g->C * c.plane;
    if (c.Wp < g->OW) c.Wp = g->OW;
    c.Qv = (g->OH - 1) * c.Wp + g->OW, c.spi = CDIV(c.Qv, NR), c.nslv = g->N * c.spi;
    if ((double)(c.spi * NR) > DIRECT_WASTE * (double)c.P) return false;
    c.nsl = CDIV(c.Og, MR), c.th = CDIV(c.Og, c.nsl);
    c.kcb = CDIV(c.R, CDIV(c.R, dk->kc));
    /* chunks of about 512 columns (the weights stream from L2 once per sliver anyway, so the
     * size matters little), cut for the threads */
    int nt = em__threads();
    c.nchunk = chunks_for_threads(CDIV(c.nslv, CDIV(512, NR)), c.nslv, G, nt);
    c.cs = CDIV(c.nslv, c.nchunk), c.nchunk = CDIV(c.nslv, c.cs);
    int64_t items = G * c.nchunk;
    if (nt > items) nt = (int)items;
    /* the farthest element a kernel reads: last sliver of the last image's last channel at the
     * largest tap offset, NR wide */
    int64_t maxtap = (g->C - 1) * c.plane + (g->kh - 1) * g->dh * c.Wp + (g->kw - 1) * g->dw;
    int64_t nxp = (g->N - 1) * c.img + maxtap + c.spi * NR;
    if (nxp < g->N * c.img) nxp = g->N * c.img;
    c.slice = ((size_t)c.cs * 16 + (size_t)(c.cs * NR) * sizeof(em__cdseg) + 63) / 64 * 64;
    float *xp = NULL, *wp = NULL;
    int64_t *off = NULL;
    c.scratch = NULL;
    *st = em__alloc_or_fail((size_t)nxp * sizeof(float), "conv", (void **)&xp);
    if (!*st) *st = em__alloc_or_fail((size_t)(G * c.nsl * c.R * MR) * sizeof(float), "conv", (void **)&wp);
    if (!*st) *st = em__alloc_or_fail((size_t)c.R * sizeof(int64_t), "conv", (void **)&off);
    if (!*st) *st = em__alloc_or_fail(c.slice * (size_t)nt, "conv", (void **)&c.scratch);
    if (*st) goto done;
    /* taps in (channel, kernel row, kernel column) order, as the weights */
    for (int64_t k = 0; k < c.R; k++) {
        int64_t r = k % kk;
        off[k] = (int64_t)sizeof(float) * (k / kk * c.plane + r / g->kw * g->dh * c.Wp + r % g->kw * g->dw);
    }
    c.xp = xp, c.wp = wp, c.off = off;
    em__parallel_for(G * c.nsl, 4, em__threads(), dpack_w_f32, &c);
    /* the slack past the last plane is read only into dropped lanes; zero it so that nothing
     * uninitialised is read (valgrind) */
    for (int64_t i = g->N * c.img; i < nxp; i++) xp[i] = 0;
    em__parallel_for(g->N * g->C, 64 * 1024 / (c.plane + 1) + 1, em__threads(), dpad_f32, &c);
    em__parallel_for(items, 1, nt, dfwd_f32, &c);
done:
    em__free(c.scratch);
    em__free(off);
    em__free(wp);
    em__free(xp);
    return true;
}
static bool try_direct_f64(const em__conv_geom *g, const double *x, const double *w, bool flip, const double *bias,
                           double *y, em_status *st) {
    (void)g, (void)x, (void)w, (void)flip, (void)bias, (void)y, (void)st;
    return false; /* float64 keeps the packed route */
}

#define DEF_IGEMM(S, T)                                                                                         \
    typedef struct {                                                                                            \
        const em__conv_geom *g;                                                                                 \
        const em__gemm_kset_##S *ks;                                                                            \
        const T *x, *w, *bias; /* fwd: x, packed w; bwd_w: x, gy (in w) */                                     \
        T *y;                                                                                                   \
        int64_t Og, Cg, R, P, th, nsl, kcb, nw, nchunk, nslv;                                                   \
        int64_t cpi; /* fwd: chunks per image (0: chunks run across images) */                                 \
        const T *xp, *xend; /* the zero-padded input (or x) and its end */                                     \
        int64_t Hp, Wp, plane, img; /* Wp: row stride of the padded input */                                  \
        int64_t nph, Ws, csw;       /* phases per row, their stride, step between output columns */           \
        char *scratch;                                                                                          \
        size_t slice;                                                                                           \
    } ig_##S;                                                                                                   \
                                                                                                                \
    static void pad_rows_##S(void *vc, int64_t b, int64_t e, int tid) {                                         \
        const ig_##S *c = vc;                                                                                   \
        const em__conv_geom *g = c->g;                                                                          \
        T *xp = (T *)c->xp;                                                                                     \
        for (int64_t pl = b; pl < e; pl++) {                                                                    \
            const T *src = c->x + pl * g->H * g->W;                                                             \
            T *dst = xp + pl * c->plane;                                                                        \
            memset(dst, 0, (size_t)(g->ph * c->Wp) * sizeof(T));                                                \
            for (int64_t h = 0; h < g->H; h++) {                                                                \
                T *d = dst + (h + g->ph) * c->Wp;                                                               \
                if (c->nph == 1) {                                                                              \
                    for (int64_t j = 0; j < g->pw; j++) d[j] = 0;                                               \
                    memcpy(d + g->pw, src + h * g->W, (size_t)g->W * sizeof(T));                                \
                    for (int64_t j = g->pw + g->W; j < c->Wp; j++) d[j] = 0;                                    \
                    continue;                                                                                   \
                }                                                                                               \
                for (int64_t f = 0; f < c->nph; f++) /* phase f: padded columns f, f + nph, ... */           \
                    for (int64_t q = 0; q < c->Ws; q++) {                                                       \
                        int64_t j = q * c->nph + f - g->pw;                                                     \
                        d[f * c->Ws + q] = j >= 0 && j < g->W ? src[h * g->W + j] : 0;                          \
                    }                                                                                           \
            }                                                                                                   \
            memset(dst + (g->ph + g->H) * c->Wp, 0, (size_t)(g->ph * c->Wp) * sizeof(T));                       \
        }                                                                                                       \
    }                                                                                                           \
    /* c->xp: x with its padding made explicit (zeros), so that the packers need no bounds tests; x itself     \
     * when there is no padding (*own stays NULL). */                                                          \
    static em_status pad_input_##S(ig_##S *c, const T *x, T **own) {                                           \
        const em__conv_geom *g = c->g;                                                                          \
        /* a strided kernel wider than 1 reads each column several times: store each padded row as sw      \
         * phases (columns j with j % sw == f together) so that every tap reads its output row contiguously */ \
        c->nph = g->sw > 1 && g->kw > 1 ? g->sw : 1;                                                            \
        c->Ws = CDIV(g->W + 2 * g->pw, c->nph);                                                                 \
        c->csw = c->nph > 1 ? 1 : g->sw;                                                                        \
        c->Hp = g->H + 2 * g->ph, c->Wp = c->nph * c->Ws, c->plane = c->Hp * c->Wp, c->img = g->C * c->plane;   \
        c->x = x;                                                                                               \
        if (!g->ph && !g->pw && c->nph == 1) {                                                                  \
            c->xp = x, c->xend = x + g->N * c->img;                                                             \
            return EM_OK;                                                                                       \
        }                                                                                                       \
        int64_t n = g->N * c->img + 64; /* slack: whole-row copies may read past the last run */               \
        EM_TRY(em__alloc_or_fail((size_t)n * sizeof(T), "conv", (void **)own));                                \
        memset(*own + n - 64, 0, 64 * sizeof(T));                                                               \
        c->xp = *own, c->xend = *own + n;                                                                       \
        int nt = em__threads();                                                                                 \
        em__parallel_for(g->N * g->C, 64 * 1024 / (c->plane + 1) + 1, nt, pad_rows_##S, c);                    \
        return EM_OK;                                                                                           \
    }                                                                                                           \
                                                                                                                \
    /* Bp[s][k][q] = col[pc + k, J0 + s*NR + q] for k < kc, slivers kc*NR + NR apart.  Each run is copied \
     * as a whole row of NR elements where the input allows: the excess lands in lanes that a later run of   \
     * the same row overwrites, in the next row (written later), in the slack row after the sliver, or in    \
     * the lanes past the last column, which the micro-kernel drops. */                                      \
    static void pack_fwd_##S(const ig_##S *c, const T *x, int64_t pc, int64_t kc, const seg_t *sg, int64_t ns,   \
                             T *Bp) {                                                                           \
        const em__conv_geom *g = c->g;                                                                          \
        int NR = c->ks->nr;                                                                                     \
        int64_t sw = c->csw, ss = kc * NR + NR;                                                                 \
        size_t rowb = (size_t)NR * sizeof(T);                                                                   \
        for (int64_t k = 0; k < kc; k++) {                                                                      \
            const T *base = x + tap_off(g, c->plane, c->Wp, c->nph, c->Ws, pc + k);                                            \
            T *bk = Bp + k * NR;                                                                                \
            for (int64_t i = 0; i < ns; i++) {                                                                  \
                const seg_t *sgi = sg + i;                                                                      \
                T *d = bk + sgi->s * ss + sgi->lane;                                                            \
                const T *src = base + sgi->off;                                                                 \
                if (sw == 1 && src + NR <= c->xend) {                                                           \
                    if (rowb == 128)                                                                            \
                        memcpy(d, src, 128);                                                                    \
                    else if (rowb == 64)                                                                        \
                        memcpy(d, src, 64);                                                                     \
                    else                                                                                        \
                        memcpy(d, src, rowb);                                                                   \
                } else {                                                                                        \
                    int64_t e = 0;                                                                              \
                    for (; e < sgi->len; e++) d[e] = src[e * sw];                                               \
                    for (; e < NR - sgi->lane; e++) d[e] = 0;                                                   \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
                                                                                                                \
    /* items: (group, chunk of columns) */                                                                      \
    static void fwd_##S(void *vc, int64_t b, int64_t e, int tid) {                                              \
        const ig_##S *c = vc;                                                                                   \
        const em__conv_geom *g = c->g;                                                                          \
        const em__gemm_kset_##S *ks = c->ks;                                                                    \
        int NR = ks->nr, MR = ks->mr;                                                                           \
        int64_t P = c->P, ncols = g->N * P, nwr = CDIV(c->nw, NR) * NR;                                         \
        T *Bp = (T *)(c->scratch + (size_t)tid * c->slice), *Ct = Bp + (c->kcb + 1) * nwr;                      \
        seg_t *sg = (seg_t *)(Ct + c->Og * c->nw);                                                              \
        em__gemm_out_##S o = {1, c->cpi && c->bias ? 1 : 0, true, false, NULL};                                 \
        for (int64_t it = b; it < e; it++) {                                                                    \
            int64_t gi = it / c->nchunk, ch = it % c->nchunk, J0, w;                                            \
            T *C = Ct;                                                                                          \
            int64_t ldc = c->nw;                                                                                \
            if (c->cpi) { /* a chunk of one image: the tiles go straight to y */                                \
                int64_t n = ch / c->cpi, p0 = ch % c->cpi * c->nw;                                              \
                J0 = n * P + p0, w = P - p0 < c->nw ? P - p0 : c->nw;                                           \
                C = c->y + (n * g->O + gi * c->Og) * P + p0, ldc = P;                                           \
                if (c->bias) /* the first kc block adds to it */                                               \
                    for (int64_t oc = 0; oc < c->Og; oc++)                                                      \
                        for (int64_t i = 0; i < w; i++) C[oc * P + i] = c->bias[gi * c->Og + oc];               \
            } else {                                                                                            \
                J0 = ch * c->nw, w = ncols - J0 < c->nw ? ncols - J0 : c->nw;                                   \
            }                                                                                                   \
            int64_t ns = make_segs(g, c->img, c->Wp, c->csw, J0, w, NR, sg);                                            \
            const T *x = c->xp + gi * c->Cg * c->plane;                                                         \
            const T *wp = c->w + gi * c->nsl * c->R * MR;                                                       \
            for (int64_t pc = 0; pc < c->R; pc += c->kcb) {                                                     \
                int64_t kc = c->R - pc < c->kcb ? c->R - pc : c->kcb;                                           \
                pack_fwd_##S(c, x, pc, kc, sg, ns, Bp);                                                         \
                o.first = pc == 0;                                                                              \
                /* each weight tile stays in L1 while the slivers of the chunk stream from L2 */                \
                for (int64_t v = 0; v < c->nsl; v++) {                                                          \
                    int mr = (int)(c->Og - v * c->th < c->th ? c->Og - v * c->th : c->th);                      \
                    for (int64_t s = 0; s * NR < w; s++) {                                                      \
                        int nr = (int)(w - s * NR < NR ? w - s * NR : NR);                                      \
                        ks->ukr(kc, wp + v * c->R * MR + pc * MR, 1, MR, Bp + s * (kc * NR + NR), NR,           \
                                C + v * c->th * ldc + s * NR, ldc, mr, nr, &o);                                 \
                    }                                                                                           \
                }                                                                                               \
            }                                                                                                   \
            /* to y, image by image, with the bias */                                                           \
            for (int64_t q = 0; !c->cpi && q < w;) {                                                            \
                int64_t n = (J0 + q) / P, p = (J0 + q) % P, len = P - p < w - q ? P - p : w - q;                \
                for (int64_t oc = 0; oc < c->Og; oc++) {                                                        \
                    T *y = c->y + (n * g->O + gi * c->Og + oc) * P + p;                                         \
                    const T *t = Ct + oc * c->nw + q;                                                           \
                    if (c->bias) {                                                                              \
                        T bv = c->bias[gi * c->Og + oc];                                                        \
                        for (int64_t i = 0; i < len; i++) y[i] = t[i] + bv;                                     \
                    } else                                                                                      \
                        memcpy(y, t, (size_t)len * sizeof(T));                                                  \
                }                                                                                               \
                q += len;                                                                                       \
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
                                                                                                                \
    em_status em__conv_igemm_fwd_##S(const em__conv_geom *g, const T *x, const T *w, bool flip, const T *bias,   \
                                     T *y) {                                                                    \
        const em__gemm_kset_##S *ks = em__conv_kset_##S();                                                      \
        if (!ks) return em__error(EM_ERR_UNSUPPORTED, "conv: no SIMD kernel set for the implicit GEMM");        \
        em_status dst_;                                                                                         \
        if (try_direct_##S(g, x, w, flip, bias, y, &dst_)) return dst_;                                         \
        ig_##S c = {.g = g, .ks = ks, .bias = bias, .y = y};                                            \
        int64_t G = g->groups, kk = g->kh * g->kw, MR = ks->mr, NR = ks->nr;                                    \
        c.Og = g->O / G, c.Cg = g->C / G, c.R = c.Cg * kk, c.P = g->OH * g->OW;                                 \
        int64_t ncols = g->N * c.P;                                                                             \
        if (ncols == 0 || c.Og == 0) return EM_OK;                                                              \
        c.nsl = CDIV(c.Og, MR), c.th = CDIV(c.Og, c.nsl);                                                       \
        c.kcb = CDIV(c.R, CDIV(c.R, ks->kc));                                                                   \
        if (c.P >= 2 * ks->nc) { /* large images: chunks of one image each, no staging buffer */              \
            c.cpi = CDIV(c.P, ks->nc);                                                                          \
            c.nw = CDIV(CDIV(c.P, c.cpi), NR) * NR;                                                             \
            c.cpi = CDIV(c.P, c.nw);                                                                            \
            c.nchunk = g->N * c.cpi;                                                                            \
        } else { /* small images: chunks run across images, staged in Ct (slivers may straddle two) */        \
            /* about nc columns, cut for the threads while chunks keep 4 slivers: at nc = 4080 (AVX2) the  \
             * 8 images of 256@14 made one chunk, and 2 threads ran slower than 1 */                          \
            c.nchunk = chunks_for_threads(CDIV(ncols, ks->nc), CDIV(ncols, 4 * NR), G, em__threads());          \
            c.nw = CDIV(CDIV(ncols, c.nchunk), NR) * NR;                                                        \
            c.nchunk = CDIV(ncols, c.nw);                                                                       \
        }                                                                                                       \
        /* weights: slivers of th rows, [k][r] with stride MR (zero rows past th) */                           \
        T *wp = NULL;                                                                                           \
        EM_TRY(em__alloc_or_fail((size_t)(G * c.nsl * c.R * MR) * sizeof(T), "conv", (void **)&wp));           \
        for (int64_t gi = 0; gi < G; gi++)                                                                      \
            for (int64_t v = 0; v < c.nsl; v++) {                                                               \
                T *dst = wp + (gi * c.nsl + v) * c.R * MR;                                                      \
                int64_t rows = c.Og - v * c.th < c.th ? c.Og - v * c.th : c.th;                                 \
                for (int64_t k = 0; k < c.R; k++)                                                               \
                    for (int64_t r = 0; r < MR; r++) {                                                          \
                        T val = 0;                                                                              \
                        if (r < rows) {                                                                         \
                            int64_t oc = gi * c.Og + v * c.th + r;                                              \
                            if (!flip)                                                                          \
                                val = w[oc * c.R + k];                                                          \
                            else { /* w is (C, O/G, kh, kw): the in/out-swapped, flipped kernel */            \
                                int64_t ci = k / kk, tap = kk - 1 - k % kk;                                     \
                                val = w[((gi * c.Cg + ci) * c.Og + (oc - gi * c.Og)) * kk + tap];               \
                            }                                                                                   \
                        }                                                                                       \
                        dst[k * MR + r] = val;                                                                  \
                    }                                                                                           \
            }                                                                                                   \
        c.w = wp;                                                                                               \
        int nt = em__threads();                                                                                 \
        int64_t items = G * c.nchunk;                                                                           \
        if (nt > items) nt = (int)items;                                                                        \
        c.slice = ((size_t)((c.kcb + 1) * CDIV(c.nw, NR) * NR + c.Og * c.nw) * sizeof(T) +                      \
                   (size_t)(c.nw + 2) * sizeof(seg_t) + 63) / 64 * 64;                                          \
        T *xp = NULL;                                                                                           \
        em_status st = pad_input_##S(&c, x, &xp);                                                               \
        if (!st) st = em__alloc_or_fail(c.slice * (size_t)nt, "conv", (void **)&c.scratch);                     \
        if (!st) em__parallel_for(items, 1, nt, fwd_##S, &c);                                                   \
        em__free(c.scratch);                                                                                    \
        em__free(xp);                                                                                           \
        em__free(wp);                                                                                           \
        return st;                                                                                              \
    }                                                                                                           \
                                                                                                                \
    /* dst[k] = col[t, p0 + k] of image x (a group's padded planes) for k < kc; p0 + kc <= P */                \
    static void tap_row_##S(const ig_##S *c, const T *x, int64_t t, int64_t p0, int64_t kc, T *dst) {           \
        const em__conv_geom *g = c->g;                                                                          \
        const T *base = x + tap_off(g, c->plane, c->Wp, c->nph, c->Ws, t);                                                     \
        int64_t oh = p0 / g->OW, ow = p0 % g->OW, sw = c->csw;                                                  \
        for (int64_t k = 0; k < kc; oh++, ow = 0) {                                                             \
            int64_t len = g->OW - ow < kc - k ? g->OW - ow : kc - k;                                            \
            const T *src = base + oh * g->sh * c->Wp + ow * sw;                                                 \
            T *d = dst + k;                                                                                     \
            if (sw == 1)                                                                                        \
                for (int64_t e = 0; e < len; e++) d[e] = src[e];                                                \
            else                                                                                                \
                for (int64_t e = 0; e < len; e++) d[e] = src[e * sw];                                           \
            k += len;                                                                                           \
        }                                                                                                       \
    }                                                                                                           \
                                                                                                                \
    /* items: (group, sliver of NR taps); c->w is gy */                                                         \
    static void bwd_w_##S(void *vc, int64_t b, int64_t e, int tid) {                                            \
        const ig_##S *c = vc;                                                                                   \
        const em__conv_geom *g = c->g;                                                                          \
        const em__gemm_kset_##S *ks = c->ks;                                                                    \
        int NR = ks->nr;                                                                                        \
        int64_t P = c->P;                                                                                       \
        T *Bp = (T *)(c->scratch + (size_t)tid * c->slice), *tmp = Bp + TAP_CHUNK * NR * c->kcb;                \
        em__gemm_out_##S o = {1, 0, true, false, NULL};                                                         \
        for (int64_t it = b; it < e;) {                                                                         \
            int64_t gi = it / c->nslv, s0 = it % c->nslv, s1 = s0 + TAP_CHUNK;                                  \
            if (s1 > c->nslv) s1 = c->nslv;                                                                     \
            if (s1 - s0 > e - it) s1 = s0 + (e - it);                                                           \
            it += s1 - s0;                                                                                      \
            for (int64_t n = 0; n < g->N; n++) {                                                                \
                const T *x = c->xp + n * c->img + gi * c->Cg * c->plane;                                        \
                const T *gy = c->w + (n * g->O + gi * c->Og) * P;                                               \
                for (int64_t p0 = 0; p0 < P; p0 += c->kcb) {                                                    \
                    int64_t kc = P - p0 < c->kcb ? P - p0 : c->kcb;                                             \
                    o.first = n == 0 && p0 == 0;                                                                \
                    for (int64_t s = s0; s < s1; s++) {                                                         \
                        int nr = (int)(c->R - s * NR < NR ? c->R - s * NR : NR);                                \
                        T *bs = Bp + (s - s0) * kc * NR;                                                        \
                        if (ks->pack_t) {                                                                       \
                            for (int q = 0; q < nr; q++) tap_row_##S(c, x, s * NR + q, p0, kc, tmp + q * kc);   \
                            ks->pack_t(kc, nr, tmp, kc, NR, bs);                                                \
                        } else {                                                                                \
                            for (int q = 0; q < nr; q++) {                                                      \
                                tap_row_##S(c, x, s * NR + q, p0, kc, tmp);                                     \
                                for (int64_t k = 0; k < kc; k++) bs[k * NR + q] = tmp[k];                       \
                            }                                                                                   \
                            for (int64_t k = 0; k < kc; k++)                                                    \
                                for (int q = nr; q < NR; q++) bs[k * NR + q] = 0;                               \
                        }                                                                                       \
                    }                                                                                           \
                    for (int64_t s = s0; s < s1; s++) {                                                         \
                        int nr = (int)(c->R - s * NR < NR ? c->R - s * NR : NR);                                \
                        for (int64_t v = 0; v < c->nsl; v++) {                                                  \
                            int mr = (int)(c->Og - v * c->th < c->th ? c->Og - v * c->th : c->th);              \
                            ks->ukr(kc, gy + v * c->th * P + p0, P, 1, Bp + (s - s0) * kc * NR, NR,             \
                                    c->y + (gi * c->Og + v * c->th) * c->R + s * NR, c->R, mr, nr, &o);         \
                        }                                                                                       \
                    }                                                                                           \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
                                                                                                                \
    em_status em__conv_igemm_bwd_w_##S(const em__conv_geom *g, const T *gy, const T *x, T *gw) {                 \
        const em__gemm_kset_##S *ks = em__conv_kset_##S();                                                      \
        if (!ks) return em__error(EM_ERR_UNSUPPORTED, "conv: no SIMD kernel set for the implicit GEMM");        \
        ig_##S c = {.g = g, .ks = ks, .w = gy, .y = gw};                                                \
        int64_t G = g->groups, NR = ks->nr;                                                                     \
        c.Og = g->O / G, c.Cg = g->C / G, c.R = c.Cg * g->kh * g->kw, c.P = g->OH * g->OW;                      \
        if (g->N == 0 || c.P == 0) {                                                                            \
            memset(gw, 0, (size_t)(g->O * c.R) * sizeof(T));                                                    \
            return EM_OK;                                                                                       \
        }                                                                                                       \
        c.nsl = CDIV(c.Og, ks->mr), c.th = CDIV(c.Og, c.nsl);                                                   \
        c.kcb = CDIV(c.P, CDIV(c.P, ks->kc)); /* position blocks of one image */                               \
        c.nslv = CDIV(c.R, NR);                                                                                 \
        int nt = em__threads();                                                                                 \
        int64_t items = G * c.nslv;                                                                             \
        if (nt > items) nt = (int)items;                                                                        \
        c.slice = ((size_t)((TAP_CHUNK + 1) * NR * c.kcb) * sizeof(T) + 63) / 64 * 64;                          \
        T *xp = NULL;                                                                                           \
        em_status st = pad_input_##S(&c, x, &xp);                                                               \
        if (!st) st = em__alloc_or_fail(c.slice * (size_t)nt, "conv", (void **)&c.scratch);                     \
        if (!st) em__parallel_for(items, 1, nt, bwd_w_##S, &c);                                                 \
        em__free(c.scratch);                                                                                    \
        em__free(xp);                                                                                           \
        return st;                                                                                              \
    }

DEF_IGEMM(f32, float)
DEF_IGEMM(f64, double)

bool em__conv_igemm_ok(void) { return em__conv_kset_f32() && em__conv_kset_f64(); }
