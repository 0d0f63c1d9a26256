/* Direct grad_weight of a float32 convolution (contract in conv_kernels.h,
 * design in docs/kernels.md, section Convolution):
 *
 *   gw[o][c,kh,kw] = sum_n sum_{oh,ow} gy[n][o][oh,ow] * xpad[n][c][oh*sh + kh][ow*sw + kw]
 *
 * vectorised over output channels, so nothing of the input is packed: the
 * output gradient is transposed once (gyT: positions x channels, in blocks of
 * 64 channels, the last block padded with zero channels to a multiple of 16),
 * and the micro-kernels (kernels/x86/conv_gw_avx512.c) run a tile of ov*16
 * channels by t taps over the output positions, reading gyT rows and
 * broadcasting input elements from the zero-padded input in place (each tap
 * is a constant offset).  Only for the AVX-512 kernel set, groups 1, no
 * dilation, kernels larger than 1x1 (1x1 ones keep the GEMM, see below).
 *
 * Tiles: (block of 64 channels, group of t taps), t fixed by the block's
 * width; a group past the last tap reads tap 0 in its missing slots and drops
 * them.  Positions are cut into chunks (whole images, or runs of output rows
 * of one image) with at most CHUNK_FLOATS of gyT, and chunks into runs of
 * about SUB_POS positions; each thread takes a contiguous range of tiles and,
 * per chunk, block and run, runs all its tiles of the block, so the run's gyT
 * slice is read from L1 by every tap group.
 *
 * Determinism: each gw element is one FMA chain over all positions, chunks
 * in order (images ascending, rows ascending) and positions in order within
 * a chunk; the chunks come from the geometry alone, and tiles never share an
 * element, so the thread count never changes a bit. */
#include "conv_kernels.h"

#include "../base/threadpool.h"
#include "gemm.h"

#define CDIV(a, b) (((a) + (b) - 1) / (b))
/* floats of gyT per chunk (all channels): 1 MiB, so that a chunk's gyT and input stay in L2 (4 MiB)
 * and the accumulators, swept once per chunk, cost little next to the chunk's work */
#define CHUNK_FLOATS (256 * 1024)

/* a run of output rows of image n, or images [n, n + nimg) whole (rows == OH) */
typedef struct {
    int64_t n, nimg, oh0, rows;
} gw_chunk;

typedef struct {
    const em__conv_geom *g;
    const em__conv_gw_kset *ks;
    const float *gy, *x; /* the caller's gy and x */
    float *gyT, *xp;     /* transposed gy; padded x (x itself without padding) */
    float *acc;          /* per tile t x ov*16 floats, tiles one after the other */
    int64_t O16, Op, R, P, Hp, Wp, plane, img;
    int64_t nblk, ntiles, nchunks;
    int64_t *toff;   /* per tile: first float of its acc */
    int64_t *off;    /* tap offsets in xp (R, then zeros for the missing slots) */
    gw_chunk *chunk; /* in summation order */
} gwd;

/* tile -> (block, tap group): blocks of 4 zmm of channels, the last narrower */
static inline void tile_of(const gwd *c, int64_t t, int64_t *blk, int64_t *grp, int *ov) {
    int64_t per4 = CDIV(c->R, c->ks->tmax[4]), full = c->O16 / 4;
    if (t < full * per4) {
        *blk = t / per4, *grp = t % per4, *ov = 4;
    } else {
        *blk = full, *grp = t - full * per4, *ov = (int)(c->O16 - 4 * full);
    }
}

/* gyT, block-major, so that a tile streams through memory in order: block blk (channels
 * blk*64 .. +wb, wb = 64 or the last block's width) holds [n*P + p][wb] at blk*N*P*64;
 * gyT[.][o] = gy[n][o][p] for o < O, 0 up to the block's width.  Items: (image, 64 positions). */
static void transpose_gy(void *vc, int64_t b, int64_t e, int tid) {
    const gwd *c = vc;
    int64_t O = c->g->O, P = c->P, NP = c->g->N * P, pbs = CDIV(P, 64);
    for (int64_t it = b; it < e; it++) {
        int64_t n = it / pbs, p0 = it % pbs * 64, p1 = p0 + 64 < P ? p0 + 64 : P;
        const float *src = c->gy + n * O * P;
        for (int64_t blk = 0; blk < c->nblk; blk++) {
            int64_t o0 = blk * 64, wb = c->Op - o0 < 64 ? c->Op - o0 : 64, m = O - o0 < wb ? O - o0 : wb;
            float *dst = c->gyT + blk * NP * 64 + n * P * wb;
            /* 16 rows of gy at a time, each read in order */
            for (int64_t q = 0; q < m; q += 16) {
                int64_t mq = m - q < 16 ? m - q : 16, p = p0;
                if (mq == 16)
                    for (; p + 16 <= p1; p += 16) c->ks->tr16(src + (o0 + q) * P + p, P, dst + p * wb + q, wb);
                for (; p < p1; p++) {
                    float *d = dst + p * wb + q;
                    const float *sp = src + (o0 + q) * P + p;
                    for (int64_t o = 0; o < mq; o++) d[o] = sp[o * P];
                }
            }
            for (int64_t p = p0; p < p1 && m < wb; p++)
                for (int64_t o = m; o < wb; o++) dst[p * wb + o] = 0;
        }
    }
}

/* planes [b, e) of x into xp with their zero padding */
static void pad_planes(void *vc, int64_t b, int64_t e, int tid) {
    const gwd *c = vc;
    for (int64_t pl = b; pl < e; pl++)
        em__conv_pad_plane_f32(c->g, c->x + pl * c->g->H * c->g->W, c->Hp, c->Wp, c->Wp, c->xp + pl * c->plane);
}

/* items: tiles (block-major).  Per chunk, per block, per run of about SUB_POS positions, every
 * tile of the range: the run's gyT slice (SUB_POS x 64 floats) stays in L1 across the block's tap
 * groups, and the accumulators (loaded and stored per call, exactly) in L2.  Splitting a chain
 * into calls changes no bit: each element's positions are still added one by one in order. */
#define SUB_POS 96
static void run_tiles(void *vc, int64_t b, int64_t e, int tid) {
    const gwd *c = vc;
    const em__conv_geom *g = c->g;
    int64_t NP = g->N * c->P, rs = g->sh * c->Wp, sub = SUB_POS / g->OW;
    if (sub < 1) sub = 1;
    for (int64_t k = 0; k < c->nchunks; k++) {
        const gw_chunk *ch = c->chunk + k;
        for (int64_t t0 = b; t0 < e;) {
            int64_t blk, grp, t1 = t0;
            int ov;
            tile_of(c, t0, &blk, &grp, &ov);
            int T = c->ks->tmax[ov];
            int64_t wb = ov * 16;
            /* [t0, t1): the range's tiles of this block */
            for (;;) {
                int64_t b2, g2;
                int ov2;
                if (++t1 >= e) break;
                tile_of(c, t1, &b2, &g2, &ov2);
                if (b2 != blk) break;
            }
            for (int64_t n = ch->n; n < ch->n + ch->nimg; n++)
                for (int64_t r0 = ch->oh0; r0 < ch->oh0 + ch->rows; r0 += sub) {
                    int64_t nr = ch->oh0 + ch->rows - r0 < sub ? ch->oh0 + ch->rows - r0 : sub;
                    const float *gy = c->gyT + blk * NP * 64 + (n * c->P + r0 * g->OW) * wb;
                    const float *x = c->xp + n * c->img + r0 * rs;
                    for (int64_t t = t0; t < t1; t++)
                        c->ks->ukr[ov](gy, wb, x, c->off + (grp + t - t0) * T, nr, g->OW, g->sw, rs,
                                       c->acc + c->toff[t]);
                }
            t0 = t1;
        }
    }
}

bool em__conv_gwdirect_f32(const em__conv_geom *g, const float *gy, const float *x, float *gw, em_status *st) {
    if (em__gemm_active_isa() != EM__GEMM_AVX512) return false;
    const em__conv_gw_kset *ks = em__conv_gw_avx512();
    /* 1x1 kernels keep the GEMM: with R = C taps, transposing gy (one float per C
     * multiply-adds) costs more than the GEMM's packing */
    if (!ks || g->groups != 1 || g->dh != 1 || g->dw != 1 || g->kh * g->kw == 1) return false;
    gwd c = {.g = g, .ks = ks, .gy = gy, .x = x};
    int64_t kk = g->kh * g->kw;
    c.R = g->C * kk, c.P = g->OH * g->OW;
    if (g->N * c.P == 0 || g->O == 0 || c.R == 0) return false;
    c.O16 = CDIV(g->O, 16), c.Op = c.O16 * 16;
    c.Hp = g->H + 2 * g->ph, c.Wp = g->W + 2 * g->pw, c.plane = c.Hp * c.Wp, c.img = g->C * c.plane;
    /* tiles */
    int64_t full = c.O16 / 4, rest = c.O16 % 4, per4 = CDIV(c.R, ks->tmax[4]);
    c.nblk = full + (rest > 0);
    c.ntiles = full * per4 + (rest ? CDIV(c.R, ks->tmax[rest]) : 0);
    /* chunks: whole images, or runs of output rows when an image's gyT exceeds CHUNK_FLOATS */
    int64_t rpc = CHUNK_FLOATS / (g->OW * c.Op);
    if (rpc < 1) rpc = 1;
    if (rpc > g->OH) rpc = g->OH;
    int64_t cpi = CDIV(g->OH, rpc), ipc = 1; /* chunks per image, images per chunk */
    if (cpi == 1) {
        ipc = CHUNK_FLOATS / (c.P * c.Op);
        if (ipc < 1) ipc = 1;
        if (ipc > g->N) ipc = g->N;
    }
    c.nchunks = cpi == 1 ? CDIV(g->N, ipc) : g->N * cpi;
    int64_t nacc = 0;
    float *gyT = NULL, *xp = NULL, *acc = NULL;
    int64_t *toff = NULL, *off = NULL;
    gw_chunk *chunk = NULL;
    *st = em__alloc_or_fail((size_t)c.ntiles * sizeof(int64_t), "conv", (void **)&toff);
    if (*st) goto done;
    for (int64_t t = 0; t < c.ntiles; t++) {
        int64_t blk, grp;
        int ov;
        tile_of(&c, t, &blk, &grp, &ov);
        toff[t] = nacc;
        nacc += (int64_t)ks->tmax[ov] * ov * 16;
    }
    *st = em__alloc_or_fail((size_t)(g->N * c.P * c.Op) * sizeof(float), "conv", (void **)&gyT);
    if (!*st) *st = em__alloc_or_fail((size_t)nacc * sizeof(float), "conv", (void **)&acc);
    if (!*st) *st = em__alloc_or_fail((size_t)(c.R + 16) * sizeof(int64_t), "conv", (void **)&off);
    if (!*st) *st = em__alloc_or_fail((size_t)c.nchunks * sizeof(gw_chunk), "conv", (void **)&chunk);
    if (!*st && (g->ph || g->pw))
        *st = em__alloc_or_fail((size_t)(g->N * c.img) * sizeof(float), "conv", (void **)&xp);
    if (*st) goto done;
    c.gyT = gyT, c.acc = acc, c.toff = toff, c.off = off, c.chunk = chunk;
    c.xp = xp ? xp : (float *)x; /* read only */
    memset(acc, 0, (size_t)nacc * sizeof(float));
    /* taps in (channel, kernel row, kernel column) order, as gw's columns; the slots past the last
     * tap read tap 0 (a valid address) and are dropped */
    for (int64_t k = 0; k < c.R + 16; k++) {
        int64_t kr = k < c.R ? k : 0, r = kr % kk;
        off[k] = kr / kk * c.plane + r / g->kw * c.Wp + r % g->kw;
    }
    for (int64_t n = 0, i = 0; n < g->N; n += cpi == 1 ? ipc : 1)
        for (int64_t oh = 0; oh < g->OH; oh += rpc, i++)
            chunk[i] = (gw_chunk){n, cpi == 1 && g->N - n < ipc ? g->N - n : (cpi == 1 ? ipc : 1), oh,
                                  g->OH - oh < rpc ? g->OH - oh : rpc};
    int nt = em__threads();
    em__parallel_for(g->N * CDIV(c.P, 64), CDIV(16384, 64 * c.Op) + 1, nt, transpose_gy, &c);
    if (xp) em__parallel_for(g->N * g->C, 64 * 1024 / (c.plane + 1) + 1, nt, pad_planes, &c);
    /* one range of tiles per thread (ranges, not single tiles, so that each chunk is reused from L2) */
    if (nt > c.ntiles) nt = (int)c.ntiles;
    em__parallel_for(c.ntiles, CDIV(c.ntiles, nt), nt, run_tiles, &c);
    /* gw[o][k] from the tiles' [tap][channel] accumulators */
    for (int64_t t = 0; t < c.ntiles; t++) {
        int64_t blk, grp;
        int ov;
        tile_of(&c, t, &blk, &grp, &ov);
        int T = ks->tmax[ov];
        const float *a = acc + toff[t];
        int64_t nj = c.R - grp * T < T ? c.R - grp * T : T, nl = g->O - blk * 64 < ov * 16 ? g->O - blk * 64 : ov * 16;
        for (int64_t l = 0; l < nl; l++) {
            float *d = gw + (blk * 64 + l) * c.R + grp * T;
            for (int64_t j = 0; j < nj; j++) d[j] = a[j * ov * 16 + l];
        }
    }
done:
    em__free(chunk);
    em__free(off);
    em__free(toff);
    em__free(acc);
    em__free(xp);
    em__free(gyT);
    return true;
}
