/* Output-channel-vectorised direct convolution, float32 forward (design in
 * docs/kernels.md, section Convolution; contract in conv_kernels.h).
 *
 * The SIMD lanes run over output channels instead of output positions: a
 * tile is up to npmax consecutive output positions of one output row times nc
 * output channels (AVX-512: 14 x 32, kernels/x86/conv_oc_avx512.c; AVX2: 6 x
 * 16, conv_oc_avx2.c).  Per tap (channel, kernel
 * row, kernel column) it loads nc packed weights and broadcasts one input
 * value per position from the zero-padded input, read in place; since the
 * positions of a tile are one run of one output row, their input addresses
 * are a base plus compile-time displacements.  So unlike the position-
 * vectorised direct kernel (conv_igemm.c, try_direct_f32) no padding column
 * is computed and dropped, and unlike the packed implicit GEMM no input is
 * packed; the tile's sums are transposed to the NCHW output once, at the end.
 *
 * Work items are (group, block of nc output channels, block of output rows
 * counted across the images), channel blocks outermost where the weights
 * outweigh the input, else row blocks (whole images) outermost; the operand
 * that is reused is packed or padded by each thread just before use, so it
 * comes from L2.  Every output element is one FMA chain over all the taps in
 * order, plus the bias at the store, computed by exactly one tile whatever
 * the item and thread split: bits never depend on the thread count. */
#include <stdlib.h>

#include "conv_kernels.h"

#include "../base/threadpool.h"
#include "gemm.h"

#define CDIV(a, b) (((a) + (b) - 1) / (b))

/* Rows are short: a call to memcpy or memset per row costs more than the copy. */
#pragma GCC optimize("no-tree-loop-distribute-patterns")

typedef struct {
    const em__conv_geom *g;
    const em__conv_oc_kset *ks;
    const float *x, *w, *bias;
    bool flip;
    float *xp, *wp, *y;
    const int64_t *off;
    int64_t Og, Cg, R, P, Hp, Wp, rs, img, nob, ntw, rb, nrb;
    bool pair, obouter;  /* two-row tiles (OW 4..7); channel blocks outermost */
    bool lazyw, lazyx;   /* weights packed, images padded by each thread into its scratch */
    size_t slice;        /* scratch floats per thread */
    float *scratch;      /* per thread: one tile's sums, a weight block (lazyw), an image (lazyx) */
} oc_ctx;

/* plane pl (image, channel) to dst, rows rs apart */
static void pad_plane(const oc_ctx *c, int64_t pl, float *dst) {
    em__conv_pad_plane_f32(c->g, c->x + pl * c->g->H * c->g->W, c->Hp, c->Wp, c->rs, dst);
}

/* planes [b, e) (image, channel) of the input into xp, zero-padded, in (image, padded row,
 * channel, padded column) order: the rows a tile reads for all its taps (kh rows of every
 * channel) are then one contiguous block, which the prefetchers follow and the L1 holds
 * without set conflicts (plane-major, 256 planes 1 KiB apart, 256->256 at 14x14 ran at 93
 * instead of 125 GFLOPS) */
static void pad_planes(void *vc, int64_t b, int64_t e, int tid) {
    const oc_ctx *c = vc;
    (void)tid;
    for (int64_t pl = b; pl < e; pl++) pad_plane(c, pl, c->xp + pl / c->g->C * c->img + pl % c->g->C * c->Wp);
}
/* weight block it (group, block of nc output channels) to wdst: [tap k][channel r], zeros
 * past Og.  One input channel (kk taps, kk*nc floats, in L1) at a time, rather than channel-
 * major over the whole block (each store a new cache line of a block larger than L1). */
static void pack_block(const oc_ctx *c, int64_t it, float *wdst) {
    int64_t NC = c->ks->nc, kk = c->g->kh * c->g->kw, R = c->R;
    int64_t gi = it / c->nob, o0 = it % c->nob * NC;
    int nr = (int)(c->Og - o0 < NC ? c->Og - o0 : NC);
    if (c->ks->pack && NC == 32 && (c->flip ? kk : R) < ((int64_t)1 << 31) / 32) {
        /* the kernel set's gathers (its 32-bit indices reach 31 rows) */
        if (!c->flip) {
            c->ks->pack(wdst, c->w + (gi * c->Og + o0) * R, R, 1, R, nr);
        } else {
            for (int64_t ci = 0; ci < c->Cg; ci++)
                c->ks->pack(wdst + ci * kk * NC, c->w + ((gi * c->Cg + ci) * c->Og + o0) * kk + kk - 1, kk, -1, kk, nr);
        }
        return;
    }
    for (int64_t ci = 0; ci < c->Cg; ci++) {
        float *dst = wdst + ci * kk * NC;
        for (int64_t r = 0; r < NC; r++) {
            int64_t o = o0 + r; /* within the group */
            if (o >= c->Og)
                for (int64_t t = 0; t < kk; t++) dst[t * NC + r] = 0;
            else if (!c->flip) {
                const float *src = c->w + (gi * c->Og + o) * R + ci * kk;
                for (int64_t t = 0; t < kk; t++) dst[t * NC + r] = src[t];
            } else { /* w is (C, O/G, kh, kw): the in/out-swapped, flipped kernel */
                const float *src = c->w + ((gi * c->Cg + ci) * c->Og + o) * kk + kk - 1;
                for (int64_t t = 0; t < kk; t++) dst[t * NC + r] = src[-t];
            }
        }
    }
}
static void pack_weights(void *vc, int64_t b, int64_t e, int tid) {
    const oc_ctx *c = vc;
    (void)tid;
    for (int64_t it = b; it < e; it++) pack_block(c, it, c->wp + it * c->R * c->ks->nc);
}

/* items: (group, channel block, row block) or (row block, group, channel block) */
static void run_items(void *vc, int64_t b, int64_t e, int tid) {
    const oc_ctx *c = vc;
    const em__conv_geom *g = c->g;
    const em__conv_oc_kset *ks = c->ks;
    int64_t NC = ks->nc, G = g->groups;
    float *acc = c->scratch + (size_t)tid * c->slice, *wbuf = acc + ks->npmax * NC;
    int64_t packed = -1, padded = -1; /* the weight block in wbuf, the image in xbuf */
    float *xbuf = wbuf + (c->lazyw ? c->R * NC : 0);
    for (int64_t it = b; it < e; it++) {
        int64_t rbi, gi, ob;
        if (c->obouter) /* (group, channel block, row block) */
            rbi = it % c->nrb, ob = it / c->nrb % c->nob, gi = it / c->nrb / c->nob;
        else /* (row block, group, channel block) */
            ob = it % c->nob, gi = it / c->nob % G, rbi = it / c->nob / G;
        int nr = (int)(c->Og - ob * NC < NC ? c->Og - ob * NC : NC);
        const float *wblk = wbuf;
        if (!c->lazyw)
            wblk = c->wp + (gi * c->nob + ob) * c->R * NC;
        else if (packed != gi * c->nob + ob) {
            /* packed here, into this thread's buffer, when the block changes: it is then used
             * from L2 rather than written out to memory and read back */
            pack_block(c, gi * c->nob + ob, wbuf);
            packed = gi * c->nob + ob;
        }
        const float *xg = c->lazyx ? xbuf + gi * c->Cg * c->Wp : c->xp + gi * c->Cg * c->Wp;
        float *yg = c->y + (gi * c->Og + ob * NC) * c->P;
        const float *bias = c->bias ? c->bias + gi * c->Og + ob * NC : NULL;
        /* rows of all images, one after the other: row r is row r % OH of image r / OH */
        int64_t r1 = (rbi + 1) * c->rb < g->N * g->OH ? (rbi + 1) * c->rb : g->N * g->OH;
#define XROW(r) (xg + (c->lazyx ? 0 : (r) / g->OH * c->img) + (r) % g->OH * g->sh * c->rs)
#define YROW(r) (yg + (r) / g->OH * g->O * c->P + (r) % g->OH * g->OW)
        for (int64_t r = rbi * c->rb; r < r1; r++) {
            if (c->lazyx && r / g->OH != padded) {
                /* this image, padded here into this thread's buffer: used from L2 rather than
                 * written out to memory and read back */
                padded = r / g->OH;
                for (int64_t ch = 0; ch < g->C; ch++) pad_plane(c, padded * g->C + ch, xbuf + ch * c->Wp);
            }
            if (c->pair && r + 1 < r1) {
                /* rows r and r + 1 (perhaps of the next image) in one tile: the same chains as
                 * two one-row tiles */
                int L = (int)g->OW;
                ks->tile(c->R, wblk, c->off, XROW(r), g->sw, 2 * L, XROW(r + 1) - XROW(r), acc);
                ks->store(acc, L, nr, YROW(r), c->P, L, bias);
                ks->store(acc + NC * L, L, nr, YROW(r + 1), c->P, L, bias);
                r++;
                continue;
            }
            const float *xr = XROW(r);
            float *yr = YROW(r);
            for (int64_t t = 0; t < c->ntw; t++) {
                /* near-equal runs of at most npmax positions, left to right: a store may spill
                 * into the positions the next tiles of the row write */
                int64_t ow0 = t * g->OW / c->ntw, ow1 = (t + 1) * g->OW / c->ntw;
                ks->tile(c->R, wblk, c->off, xr + ow0 * g->sw, g->sw, (int)(ow1 - ow0), 0, acc);
                ks->store(acc, (int)(ow1 - ow0), nr, yr + ow0, c->P, (int)(g->OW - ow0), bias);
            }
        }
#undef XROW
#undef YROW
    }
}

/* EMBER_CONV_OCFWD=0 turns the route off, =1 takes it wherever the kernel can run (tests);
 * unset, the shape rule below decides */
static int env_mode(void) {
    const char *s = getenv("EMBER_CONV_OCFWD");
    if (!s || !*s) return -1;
    return s[0] == '0' ? 0 : 1;
}

bool em__conv_ocfwd_f32(const em__conv_geom *g, const float *x, const float *w, bool flip, const float *bias,
                        float *y, em_status *st) {
    em__gemm_isa isa = em__gemm_active_isa();
    const em__conv_oc_kset *ks = isa == EM__GEMM_AVX512 ? em__conv_oc_avx512()
                                 : isa == EM__GEMM_AVX2  ? em__conv_oc_avx2()
                                                         : NULL;
    int mode = env_mode();
    if (!ks || mode == 0) return false;
    if (g->sw < 1 || g->sw > 2 || g->sh < 1) return false; /* the kernel's displacements: stride 1 or 2 */
    oc_ctx c = {.g = g, .ks = ks, .x = x, .w = w, .flip = flip, .bias = bias, .y = y};
    int64_t G = g->groups, kk = g->kh * g->kw, NC = ks->nc;
    c.Og = g->O / G, c.Cg = g->C / G, c.R = c.Cg * kk, c.P = g->OH * g->OW;
    if (g->N * c.P == 0 || c.Og == 0 || c.R == 0) return false;
    if (mode < 0) {
        /* measured (docs/kernels.md): faster than the other routes for strides 1 and 2 with
         * whole blocks of nc output channels and rows of 7 or more, on AVX-512 and on AVX2;
         * not for 1x1 kernels (the 1x1 stride-2 256->512 layer ran 3% slower: few taps per
         * padded input value) */
        if (g->sh != g->sw || c.Og % NC || g->OW < 7 || kk == 1) return false;
    }
    c.Hp = g->H + 2 * g->ph, c.Wp = g->W + 2 * g->pw, c.rs = g->C * c.Wp, c.img = c.Hp * c.rs;
    c.nob = CDIV(c.Og, NC), c.ntw = CDIV(g->OW, ks->npmax);
    /* 2*OW positions a tile where a row is short (the kernel's two-row tiles take 4..7) */
    c.pair = g->OW >= 4 && 2 * g->OW <= ks->npmax;
    /* channel blocks outside the images where the weights outweigh the (padded) input: each
     * block's weights then come into L2 once, not once per image */
    c.obouter = G * c.nob * c.R * NC > g->N * c.img;
    int nt = em__threads();
    /* row blocks: one image each with channel blocks inside, else enough blocks for the threads;
     * an even number of rows in pair mode.  They never change a bit. */
    int64_t rows = g->N * g->OH, items0 = G * c.nob, nrb = c.obouter ? 1 : g->N;
    if (items0 * nrb < 4 * nt) nrb = CDIV(4 * nt, items0);
    if (nrb > rows) nrb = rows;
    c.rb = CDIV(rows, nrb);
    if (c.pair) c.rb += c.rb & 1;
    c.nrb = CDIV(rows, c.rb);
    int64_t items = items0 * c.nrb;
    if (nt > items) nt = (int)items;
    float *xp = NULL, *wp = NULL;
    int64_t *off = NULL;
    c.scratch = NULL;
    /* with channel blocks outside, each thread packs the blocks it runs (one at a time) */
    c.lazyw = c.obouter;
    /* with images outside and one row per tile, each thread pads the images it runs */
    c.lazyx = !c.obouter && !c.pair;
    c.slice = ((size_t)(ks->npmax * NC) + (c.lazyw ? (size_t)(c.R * NC) : 0) + (c.lazyx ? (size_t)c.img : 0) + 15) /
              16 * 16;
    *st = EM_OK;
    if (!c.lazyw) *st = em__alloc_or_fail((size_t)(G * c.nob * c.R * NC) * sizeof(float), "conv", (void **)&wp);
    if (!*st && !c.lazyx) *st = em__alloc_or_fail((size_t)(g->N * c.img) * sizeof(float), "conv", (void **)&xp);
    if (!*st) *st = em__alloc_or_fail((size_t)c.R * sizeof(int64_t), "conv", (void **)&off);
    if (!*st) *st = em__alloc_or_fail(c.slice * sizeof(float) * (size_t)nt, "conv", (void **)&c.scratch);
    if (*st) goto done;
    /* taps in (channel, kernel row, kernel column) order, as the weights; in bytes */
    for (int64_t k = 0; k < c.R; k++) {
        int64_t r = k % kk;
        off[k] = (int64_t)sizeof(float) * (k / kk * c.Wp + r / g->kw * g->dh * c.rs + r % g->kw * g->dw);
    }
    c.xp = xp, c.wp = wp, c.off = off;
    if (!c.lazyw) em__parallel_for(G * c.nob, 4, em__threads(), pack_weights, &c);
    if (!c.lazyx) em__parallel_for(g->N * g->C, 64 * 1024 / (c.Hp * c.Wp + 1) + 1, em__threads(), pad_planes, &c);
    em__parallel_for(items, 1, nt, run_items, &c);
done:
    em__free(c.scratch);
    em__free(off);
    em__free(wp);
    em__free(xp);
    return true;
}
