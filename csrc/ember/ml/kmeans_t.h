/* k-means passes for one element type, included twice by kmeans.c with T
 * (float, double), SFX(name) (name_f32, name_f64) and KM_DT (EM_F32,
 * EM_F64).  Sums, weights and inertia accumulate in double whatever T. */

/* ||a - b||^2 in four interleaved partial sums (independent chains the
 * compiler can overlap), added pairwise: a fixed order for any caller. */
static double SFX(sqdist)(const T *a, const T *b, int64_t d) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t f = 0;
    for (; f + 4 <= d; f += 4) {
        double e0 = (double)a[f] - b[f], e1 = (double)a[f + 1] - b[f + 1];
        double e2 = (double)a[f + 2] - b[f + 2], e3 = (double)a[f + 3] - b[f + 3];
        s0 += e0 * e0, s1 += e1 * e1, s2 += e2 * e2, s3 += e3 * e3;
    }
    for (; f < d; f++) {
        double e = (double)a[f] - b[f];
        s0 += e * e;
    }
    return (s0 + s1) + (s2 + s3);
}

/* The portable distance kernel (contract in kernels/kmeans_dist.h). */
static void SFX(kmdist_portable)(int64_t m, int64_t d, int64_t kp, const T *X, const T *Cp, const T *cn, T *D,
                                 int64_t ldd) {
    enum { NR = KM_NR };
    for (int64_t i = 0; i < m; i++) {
        const T *x = X + i * d;
        for (int64_t g = 0; g < kp; g += NR) {
            const T *b = Cp + g * d;
            T acc[NR] = {0};
            for (int64_t f = 0; f < d; f++, b += NR) {
                T xv = x[f];
                for (int r = 0; r < NR; r++) acc[r] += xv * b[r];
            }
            for (int r = 0; r < NR; r++) D[i * ldd + g + r] = cn[g + r] + (T)-2 * acc[r];
        }
    }
}

/* Per-centre data of the assignment: |c|^2 (padded with zeros to kp) and,
 * for the kernel, the centres packed in groups of KM_NR (zero padded). */
static void SFX(prepare)(km_ctx *c, const T *C) {
    const int64_t k = c->k, d = c->d;
    T *cn = (T *)c->cn_buf, *Cp = (T *)c->cp_buf;
    for (int64_t j = 0; j < c->kp; j++) {
        double s = 0;
        for (int64_t f = 0; j < k && f < d; f++) s += (double)C[j * d + f] * C[j * d + f];
        cn[j] = (T)s;
    }
    if (!Cp) return;
    for (int64_t j = 0; j < c->kp; j++)
        for (int64_t f = 0; f < d; f++)
            Cp[(j / KM_NR) * d * KM_NR + f * KM_NR + j % KM_NR] = j < k ? C[j * d + f] : 0;
}

/* The first index of the smallest of row[0, k), NaNs skipped unless row[0]
 * is one (then 0): what one chain of `row[j] < best` selects from row[0]
 * gives, in two passes the compiler vectorises: the minimum in 8 lanes
 * (a select per lane is a min instruction), then the first block of 8 that
 * holds it.  (The single chain costs a compare-and-select latency per
 * centre, which with 1000 centres is a third of the assignment; below 64
 * centres the chain is kept.) */
static inline int64_t SFX(argmin)(const T *row, int64_t k) {
    if (k < 64) { /* few centres: the chain itself is shorter than the two passes' set-up */
        T best = row[0];
        int64_t lab = 0;
        for (int64_t j = 1; j < k; j++) {
            bool lt = row[j] < best;
            lab = lt ? j : lab;
            best = lt ? row[j] : best;
        }
        return lab;
    }
    if (row[0] != row[0]) return 0;
    T lane[8];
    for (int l = 0; l < 8; l++) lane[l] = (T)INFINITY;
    int64_t j = 0;
    for (; j + 8 <= k; j += 8)
        for (int l = 0; l < 8; l++) lane[l] = row[j + l] < lane[l] ? row[j + l] : lane[l];
    T best = lane[0];
    for (int l = 1; l < 8; l++) best = lane[l] < best ? lane[l] : best;
    for (; j < k; j++) best = row[j] < best ? row[j] : best;
    /* row[0] is not NaN, so best <= row[0] is one of the values (or row[0] = +inf) */
    j = 0;
    for (; j + 8 <= k; j += 8) {
        int hit = 0;
        for (int l = 0; l < 8; l++) hit |= row[j + l] == best;
        if (hit) break;
    }
    for (; j < k; j++)
        if (row[j] == best) return j;
    return 0; /* not reached */
}

/* Adds sample x (weight wi) to the partial sums of its centre lab: the
 * weighted feature sums ps (k, d) and the weight pw (k), in double; shared
 * by Lloyd's and Elkan's passes so both accumulate the same way. */
static inline void SFX(add_to_partials)(double *ps, double *pw, const T *x, int64_t lab, int64_t d, double wi) {
    double *acc = ps + lab * d;
    for (int64_t f = 0; f < d; f++) acc[f] += wi * (double)x[f];
    pw[lab] += wi;
}

/* One block of samples: assign (distances of each chunk, argmin) or keep the
 * labels, then accumulate what the context asks for. */
static void SFX(lloyd_range)(void *vc, int64_t b0, int64_t b1, int tid) {
    km_ctx *c = (km_ctx *)vc;
    const int64_t n = c->n, d = c->d, k = c->k, rows = c->L.rows, chunk = c->L.chunk, ldd = c->ldd;
    const T *X = (const T *)c->X, *w = (const T *)c->w, *C = (const T *)c->C;
    T *D = c->scratch ? (T *)c->scratch + (int64_t)tid * chunk * ldd : NULL, *sq = (T *)c->sq;
    for (int64_t b = b0; b < b1; b++) {
        int64_t r0 = b * rows, r1 = r0 + rows < n ? r0 + rows : n, chg = 0;
        double *ps = c->psum ? c->psum + b * k * d : NULL, *pw = c->pw ? c->pw + b * k : NULL, inert = 0;
        if (ps) memset(ps, 0, (size_t)(k * d) * sizeof *ps), memset(pw, 0, (size_t)k * sizeof *pw);
        for (int64_t s = r0; s < r1; s += chunk) {
            int64_t m = r1 - s < chunk ? r1 - s : chunk;
            if (c->assign && c->cp_buf) {
                c->KM_DIST(m, d, c->kp, X + s * d, (const T *)c->cp_buf, (const T *)c->cn_buf, D, ldd);
            } else if (c->assign) {
                /* many centres: a packed GEMM, D = -2 X_s C^T + |c|^2 */
                em__gemm_desc g = em__gemm_desc_init(m, k, d, X + s * d, d, 1, C, 1, d, D, ldd);
                g.alpha = -2.0;
                g.bias = c->cn_buf;
                em_status st = em__gemm(KM_DT, &g);
                if (st) {
                    c->pst[b] = st;
                    return;
                }
            }
            if (c->full) { /* all distances: |x|^2 + (|c|^2 - 2 x.c), clamped at 0 (rounding can dip below) */
                for (int64_t i = 0; i < m; i++) {
                    const T *x = X + (s + i) * d, *row = D + i * ldd;
                    if (c->check && !isfinite(row[0])) {
                        int64_t at = SFX(first_nonfinite)(x, d);
                        if (at >= 0) {
                            c->pbad[b] = (s + i) * d + at;
                            return;
                        }
                    }
                    double xs = 0;
                    for (int64_t f = 0; f < d; f++) xs += (double)x[f] * x[f];
                    T *out = (T *)c->full + (s + i) * k;
                    for (int64_t j = 0; j < k; j++) {
                        T v = (T)xs + row[j];
                        out[j] = v > 0 ? v : 0;
                    }
                }
                continue;
            }
            for (int64_t i = 0; i < m; i++) {
                const T *x = X + (s + i) * d;
                int64_t lab;
                if (c->assign) {
                    const T *row = D + i * ldd;
                    lab = SFX(argmin)(row, k);
                    /* an inf or NaN in x makes every distance of its row inf or NaN (overflow can too) */
                    if (c->check && !isfinite(row[0])) {
                        int64_t at = SFX(first_nonfinite)(x, d);
                        if (at >= 0) {
                            c->pbad[b] = (s + i) * d + at;
                            return;
                        }
                    }
                    if (c->pchg) chg += lab != c->labels[s + i];
                    c->labels[s + i] = lab;
                } else {
                    lab = c->labels[s + i];
                }
                double wi = w ? (double)w[s + i] : 1.0;
                if (sq || c->pin) {
                    double dd = SFX(sqdist)(x, C + lab * d, d);
                    if (sq) sq[s + i] = (T)dd;
                    inert += wi * dd;
                }
                if (ps) SFX(add_to_partials)(ps, pw, x, lab, d, wi);
            }
        }
        if (c->pin) c->pin[b] = inert;
        if (c->pchg) c->pchg[b] = chg;
    }
}

/* One block of Elkan's assignment (or, with elkan_init, the first bounds):
 * upper[i] bounds the distance to the sample's centre from above, lower[i, j]
 * the distance to centre j from below; a centre j is examined only when the
 * upper bound exceeds both lower[i, j] and half the distance between the two
 * centres, and the exact distances are computed only then. */
static void SFX(elkan_range)(void *vc, int64_t b0, int64_t b1, int tid) {
    km_ctx *c = (km_ctx *)vc;
    const int64_t n = c->n, d = c->d, k = c->k, rows = c->L.rows;
    const T *X = (const T *)c->X, *w = (const T *)c->w, *C = (const T *)c->C;
    const T *hd = (const T *)c->hd, *dnext = (const T *)c->dnext, *shift = (const T *)c->shift;
    T *upper = (T *)c->upper, *lower = (T *)c->lower;
    for (int64_t b = b0; b < b1; b++) {
        int64_t r0 = b * rows, r1 = r0 + rows < n ? r0 + rows : n, chg = 0;
        double *ps = c->psum ? c->psum + b * k * d : NULL, *pw = c->pw ? c->pw + b * k : NULL, inert = 0;
        if (ps) memset(ps, 0, (size_t)(k * d) * sizeof *ps), memset(pw, 0, (size_t)k * sizeof *pw);
        for (int64_t i = r0; i < r1; i++) {
            const T *x = X + i * d;
            T *lb = lower + i * k;
            int64_t lab;
            if (c->elkan_init) {
                /* distances to centres not ruled out by the best so far; the rest keep lower bound 0 */
                T md = (T)sqrt(SFX(sqdist)(x, C, d));
                if (c->check && !isfinite(md)) { /* inf or NaN in x (or an overflow) */
                    int64_t at = SFX(first_nonfinite)(x, d);
                    if (at >= 0) {
                        c->pbad[b] = i * d + at;
                        return;
                    }
                }
                lab = 0;
                lb[0] = md;
                for (int64_t j = 1; j < k; j++) {
                    lb[j] = 0;
                    if (md > hd[lab * k + j]) {
                        T dj = (T)sqrt(SFX(sqdist)(x, C + j * d, d));
                        lb[j] = dj;
                        if (dj < md) md = dj, lab = j;
                    }
                }
                c->labels[i] = lab;
                upper[i] = md;
            } else {
                lab = c->labels[i];
                T u = upper[i];
                if (shift) { /* the centres moved by shift since the bounds were set */
                    u += shift[lab];
                    for (int64_t j = 0; j < k; j++) {
                        T v = lb[j] - shift[j];
                        lb[j] = v < 0 ? 0 : v;
                    }
                }
                if (c->assign && !(dnext[lab] >= u)) {
                    int64_t old = lab;
                    bool tight = false;
                    for (int64_t j = 0; j < k; j++) {
                        if (j == lab || !(u > lb[j]) || !(u > hd[lab * k + j])) continue;
                        if (!tight) { /* make the upper bound exact once */
                            u = (T)sqrt(SFX(sqdist)(x, C + lab * d, d));
                            lb[lab] = u;
                            tight = true;
                            if (!(u > lb[j]) && !(u > hd[lab * k + j])) continue;
                        }
                        T dj = (T)sqrt(SFX(sqdist)(x, C + j * d, d));
                        lb[j] = dj;
                        if (dj < u) u = dj, lab = j;
                    }
                    chg += lab != old;
                    c->labels[i] = lab;
                }
                upper[i] = u;
            }
            double wi = w ? (double)w[i] : 1.0;
            if (c->pin) inert += wi * SFX(sqdist)(x, C + lab * d, d);
            if (ps) SFX(add_to_partials)(ps, pw, x, lab, d, wi);
        }
        if (c->pin) c->pin[b] = inert;
        if (c->pchg) c->pchg[b] = chg;
    }
}

/* The M step from the block partials, as scikit-learn: sums combined in
 * block order, empty clusters (zero weight) each take the sample farthest
 * from its own old centre (farthest first, ties by lower index) out of its
 * cluster, weighted means, and the shift of every centre.  Returns the total
 * squared shift, or -1 with an error set when scratch memory runs out. */
static double SFX(update)(km_ctx *c, T *Cnew, double *sums, double *wsum, T *shift) {
    const int64_t n = c->n, d = c->d, k = c->k, nb = c->L.nblocks;
    const T *X = (const T *)c->X, *w = (const T *)c->w, *Cold = (const T *)c->C;
    memcpy(sums, c->psum, (size_t)(k * d) * sizeof *sums);
    memcpy(wsum, c->pw, (size_t)k * sizeof *wsum);
    for (int64_t b = 1; b < nb; b++) {
        const double *ps = c->psum + b * k * d, *pw = c->pw + b * k;
        for (int64_t e = 0; e < k * d; e++) sums[e] += ps[e];
        for (int64_t j = 0; j < k; j++) wsum[j] += pw[j];
    }
    int64_t n_empty = 0;
    for (int64_t j = 0; j < k; j++) n_empty += wsum[j] == 0;
    if (n_empty) {
        km_far *far = NULL;
        if (em__alloc_or_fail((size_t)n * sizeof *far, "kmeans_fit", (void **)&far)) return -1;
        for (int64_t i = 0; i < n; i++) {
            far[i].i = i;
            far[i].d = SFX(sqdist)(X + i * d, Cold + c->labels[i] * d, d);
        }
        qsort(far, (size_t)n, sizeof *far, km_far_cmp);
        for (int64_t j = 0, q = 0; j < k; j++) {
            if (wsum[j] != 0) continue;
            int64_t i = far[q++].i, old = c->labels[i];
            double wi = w ? (double)w[i] : 1.0;
            for (int64_t f = 0; f < d; f++) {
                sums[old * d + f] -= wi * (double)X[i * d + f];
                sums[j * d + f] = wi * (double)X[i * d + f];
            }
            wsum[j] = wi;
            wsum[old] -= wi;
        }
        em__free(far);
    }
    double total = 0;
    for (int64_t j = 0; j < k; j++) {
        double a = wsum[j] > 0 ? 1.0 / wsum[j] : 1.0;
        for (int64_t f = 0; f < d; f++) Cnew[j * d + f] = (T)(sums[j * d + f] * a);
        double s = SFX(sqdist)(Cnew + j * d, Cold + j * d, d);
        shift[j] = (T)sqrt(s);
        total += (double)shift[j] * (double)shift[j];
    }
    return total;
}

/* Half the distance between every two centres, and each centre's nearest
 * other centre's half distance (+inf for a single centre). */
static void SFX(center_gaps)(const T *C, int64_t k, int64_t d, T *hd, T *dnext) {
    for (int64_t a = 0; a < k; a++) {
        hd[a * k + a] = 0;
        for (int64_t b = a + 1; b < k; b++)
            hd[a * k + b] = hd[b * k + a] = (T)(0.5 * sqrt(SFX(sqdist)(C + a * d, C + b * d, d)));
    }
    for (int64_t a = 0; a < k; a++) {
        T m = (T)INFINITY;
        for (int64_t b = 0; b < k; b++)
            if (b != a && hd[a * k + b] < m) m = hd[a * k + b];
        dnext[a] = m;
    }
}

/* Runs one pass over all blocks; returns the first failing block's status. */
static em_status SFX(pass)(km_ctx *c, bool elkan) {
    for (int64_t b = 0; b < c->L.nblocks; b++) c->pst[b] = EM_OK, c->pbad[b] = -1;
    em__parallel_for(c->L.nblocks, 1, c->nthreads, elkan ? SFX(elkan_range) : SFX(lloyd_range), c);
    for (int64_t b = 0; b < c->L.nblocks; b++) {
        if (c->pbad[b] >= 0)
            return em__error(EM_ERR_INVALID_ARG, "%s: X[%lld, %lld] is not finite", c->op,
                             (long long)(c->pbad[b] / c->d), (long long)(c->pbad[b] % c->d));
        if (c->pst[b]) /* the GEMM's own message went to the worker's thread: say it again here */
            return em__error(c->pst[b], "%s: out of memory for the distance products (%lld samples, %lld centres, "
                             "%lld features)", c->op, (long long)c->n, (long long)c->k, (long long)c->d);
    }
    c->check = false; /* once is enough */
    return EM_OK;
}

static int64_t SFX(sum_changed)(const km_ctx *c) {
    int64_t s = 0;
    for (int64_t b = 0; b < c->L.nblocks; b++) s += c->pchg[b];
    return s;
}

static double SFX(sum_inertia)(const km_ctx *c) {
    double s = 0;
    for (int64_t b = 0; b < c->L.nblocks; b++) s += c->pin[b];
    return s;
}

/* T elements the assignment needs (cn_buf, cp_buf, scratch), and where
 * they go in buf. */
static size_t SFX(assign_size)(const km_ctx *c) {
    return (size_t)(c->kp + (c->use_kernel ? c->kp * c->d : 0) + (int64_t)c->nthreads * c->L.chunk * c->ldd);
}
static void SFX(assign_place)(km_ctx *c, T *buf) {
    c->cn_buf = buf;
    c->cp_buf = c->use_kernel ? buf + c->kp : NULL;
    c->scratch = buf + c->kp + (c->use_kernel ? c->kp * c->d : 0);
}

/* The fit loop; inputs already checked.  Ca holds the starting centres and
 * receives the final ones. */
static em_status SFX(fit)(km_ctx *c, const em_kmeans_options *o, T *Ca, double *inertia, int64_t *n_iter) {
    const int64_t n = c->n, d = c->d, k = c->k, nb = c->L.nblocks;
    const bool elkan = o->algorithm == EM_KMEANS_ELKAN;
    /* doubles: psum, pw, pin, sums, wsum; T: Cb, shift, then Elkan's gaps and bounds or the assignment's buffers */
    size_t nd = (size_t)(nb * k * d + nb * k + nb + k * d + k);
    size_t nt = (size_t)(k * d + k) + (elkan ? (size_t)(k * k + k + n + n * k) : SFX(assign_size)(c));
    double *dbl = NULL;
    T *tb = NULL;
    int64_t *chg = NULL;
    em_status *pst = NULL;
    em_status st = em__alloc_or_fail(nd * sizeof *dbl, "kmeans_fit", (void **)&dbl);
    if (!st) st = em__alloc_or_fail(nt * sizeof(T), "kmeans_fit", (void **)&tb);
    if (!st) st = em__alloc_or_fail((size_t)(2 * nb) * sizeof *chg, "kmeans_fit", (void **)&chg);
    if (!st) st = em__alloc_or_fail((size_t)nb * sizeof *pst, "kmeans_fit", (void **)&pst);
    if (st) goto done;
    double *psum = dbl, *pw = psum + nb * k * d, *pin = pw + nb * k, *sums = pin + nb, *wsum = sums + k * d;
    T *Cb = tb, *shift = Cb + k * d, *rest = shift + k;
    c->pst = pst, c->pbad = chg + nb;
    if (elkan) {
        c->hd = rest, c->dnext = rest + k * k, c->upper = rest + k * k + k, c->lower = rest + k * k + k + n;
    } else {
        SFX(assign_place)(c, rest);
    }
    for (int64_t i = 0; i < n; i++) c->labels[i] = -1;
    T *cur = Ca, *nxt = Cb;
    c->C = cur;
    if (elkan) { /* first labels and bounds: nothing accumulated */
        SFX(center_gaps)(cur, k, d, (T *)c->hd, (T *)c->dnext);
        c->elkan_init = true, c->assign = true;
        if ((st = SFX(pass)(c, true))) goto done;
        c->elkan_init = false;
    }
    bool strict = false;
    int64_t it = 0;
    c->psum = psum, c->pw = pw, c->pchg = chg; /* no inertia during the iterations */
    while (it < o->max_iter) {
        c->C = cur, c->assign = true;
        if (!elkan) SFX(prepare)(c, cur);
        if ((st = SFX(pass)(c, elkan))) goto done;
        it++;
        /* the first Elkan pass compares with the labels before any iteration (none), as Lloyd's does */
        int64_t changed = SFX(sum_changed)(c) + (elkan && it == 1 ? 1 : 0);
        double total = SFX(update)(c, nxt, sums, wsum, shift);
        if (total < 0) {
            st = EM_ERR_NOMEM;
            goto done;
        }
        if (elkan) {
            SFX(center_gaps)(nxt, k, d, (T *)c->hd, (T *)c->dnext);
            c->shift = shift;
        }
        T *t = cur;
        cur = nxt, nxt = t;
        if (changed == 0) {
            strict = true;
            break;
        }
        if (total <= o->tol) break;
    }
    /* labels for the final centres (unless they are already), and the inertia */
    c->C = cur, c->psum = NULL, c->pw = NULL, c->pin = pin, c->pchg = NULL, c->assign = !strict;
    if (!elkan && !strict) SFX(prepare)(c, cur);
    if ((st = SFX(pass)(c, elkan && !strict))) goto done;
    *inertia = SFX(sum_inertia)(c);
    *n_iter = it;
    if (cur != Ca) memcpy(Ca, cur, (size_t)(k * d) * sizeof(T));
done:
    em__free(dbl), em__free(tb), em__free(chg), em__free(pst);
    return st;
}

static em_status SFX(predict)(km_ctx *c) {
    T *tb = NULL;
    em_status *pst = NULL;
    int64_t *bad = NULL;
    em_status st = em__alloc_or_fail(SFX(assign_size)(c) * sizeof(T), "kmeans_predict", (void **)&tb);
    if (!st) st = em__alloc_or_fail((size_t)c->L.nblocks * sizeof *pst, "kmeans_predict", (void **)&pst);
    if (!st) st = em__alloc_or_fail((size_t)c->L.nblocks * sizeof *bad, "kmeans_predict", (void **)&bad);
    if (!st) {
        SFX(assign_place)(c, tb);
        c->pst = pst, c->pbad = bad, c->assign = true;
        SFX(prepare)(c, (const T *)c->C);
        st = SFX(pass)(c, false);
    }
    em__free(tb), em__free(pst), em__free(bad);
    return st;
}

/* ---- k-means++ seeding ---------------------------------------------------- */
/* The candidates' block potentials acc[t] = sum_i w_i min(closest_i, d_it)
 * over rows s .. s + m - 1 (sequential in i), d_it = max(|x_i|^2 + D[i, t], 0),
 * keeping each term in keep[i, t] when keep is not NULL.  Inlined with kp
 * constant where it can be. */
static inline __attribute__((always_inline)) void SFX(kpp_score)(const T *w, const T *xn, const double *closest,
                                                                 const T *D, int64_t s, int64_t m, int64_t kp,
                                                                 int64_t nc, double *keep, double *out) {
    double tmp[KPP_MAX_TRIALS], acc[KPP_MAX_TRIALS];
    for (int64_t t = 0; t < kp; t++) acc[t] = 0;
    for (int64_t i = 0; i < m; i++) {
        const T *row = D + i * kp;
        double cl = closest[s + i], wi = w ? (double)w[s + i] : 1.0, *kr = keep ? keep + i * kp : tmp;
        T xi = xn[s + i];
#pragma GCC unroll 16
        for (int64_t t = 0; t < kp; t++) {
            T v = xi + row[t];
            double dv = v > 0 ? (double)v : 0.0;
            dv = dv < cl ? dv : cl;
            kr[t] = dv;
            acc[t] += wi * dv;
        }
    }
    for (int64_t t = 0; t < nc; t++) out[t] = acc[t];
}

/* One range of row blocks of a seeding pass.  The distances of a block's rows
 * to the packed centres come from the assignment's kernel (|c|^2 - 2 x.c,
 * plus |x|^2, clamped at 0).  With update, centre 0 is the newest centre:
 * closest[i] = min(closest[i], d_i0) and bsum[b] = sum_i w_i closest[i], in
 * row order (the sampling scan repeats that order).  Otherwise part[b, t] =
 * sum_i w_i min(closest[i], d_it), the block's share of candidate t's
 * potential, the same sum in the same order, and when keep is set the terms
 * min(closest[i], d_it) are kept at keep[b, i, t] (t < kp), so the chosen
 * candidate's closest distances and block sums need no second pass.  Each block's sums are sequential over its rows, so they do not
 * depend on which thread ran it. */
static void SFX(kpp_range)(void *vc, int64_t b0, int64_t b1, int tid) {
    kpp_ctx *c = (kpp_ctx *)vc;
    const int64_t n = c->n, d = c->d, kp = c->kp, nc = c->nc, block = c->block;
    const T *X = (const T *)c->X, *w = (const T *)c->w, *xn = (const T *)c->xn;
    T *D = (T *)c->scratch + (int64_t)tid * block * kp;
    for (int64_t b = b0; b < b1; b++) {
        int64_t s = b * block, m = n - s < block ? n - s : block;
        c->KM_DIST(m, d, kp, X + s * d, (const T *)c->cp, (const T *)c->cn, D, kp);
        if (c->update) {
            double sum = 0;
            for (int64_t i = 0; i < m; i++) {
                T v = xn[s + i] + D[i * kp];
                double dv = v > 0 ? (double)v : 0.0, cl = c->closest[s + i];
                cl = dv < cl ? dv : cl;
                c->closest[s + i] = cl;
                sum += (w ? (double)w[s + i] : 1.0) * cl;
            }
            c->bsum[b] = sum;
            continue;
        }
        /* all kp lanes (padding centres are zero); one group of KM_NR, the usual case (up to
         * e^(KM_NR - 2) centres), gets a constant trip count, so acc stays in registers */
        double *keep = c->keep ? c->keep + b * block * kp : NULL;
        if (kp == KM_NR)
            SFX(kpp_score)(w, xn, c->closest, D, s, m, KM_NR, nc, keep, c->part + b * nc);
        else
            SFX(kpp_score)(w, xn, c->closest, D, s, m, kp, nc, keep, c->part + b * nc);
    }
}

/* Packs the rows idx[0, nc) of X as the kernel's centres (groups of KM_NR,
 * zero padded to kp) with their squared norms xn[idx] (0 for padding). */
static void SFX(kpp_pack)(kpp_ctx *c, const int64_t *idx, int64_t nc) {
    const int64_t d = c->d;
    const T *X = (const T *)c->X, *xn = (const T *)c->xn;
    T *Cp = (T *)c->cp, *cn = (T *)c->cn;
    for (int64_t j = 0; j < c->kp; j++) {
        cn[j] = j < nc ? xn[idx[j]] : 0;
        T *dst = Cp + (j / KM_NR) * d * KM_NR + j % KM_NR;
        for (int64_t f = 0; f < d; f++) dst[f * KM_NR] = j < nc ? X[idx[j] * d + f] : 0;
    }
}

/* The sample drawn for target r in [0, total): the first i whose running
 * sum of masses m_i = w_i closest_i (w_i alone when closest is NULL) exceeds
 * r.  The block sums bsum[] locate the block, then its rows are rescanned in
 * the order that made part[b].  Rounding can leave r at or past the end of
 * a block's or of the whole sum: then the last sample of positive mass
 * before that point is taken (n - 1 if all masses are 0, as scikit-learn's
 * clip), never one of zero mass when another exists. */
static int64_t SFX(kpp_sample)(const kpp_ctx *c, const double *closest, double r) {
    const int64_t n = c->n, block = c->block;
    const T *w = (const T *)c->w;
    int64_t b = 0, last = -1;
    double before = 0;
    for (; b < c->nblocks; b++) {
        if (c->bsum[b] > 0) last = b;
        if (before + c->bsum[b] > r) break;
        before += c->bsum[b];
    }
    if (b == c->nblocks) b = last; /* r past the total by rounding: the last block with mass */
    if (b < 0) return n - 1;
    int64_t s = b * block, e = s + block < n ? s + block : n, pos = -1;
    double run = 0, rr = r - before;
    for (int64_t i = s; i < e; i++) {
        double mi = (w ? (double)w[i] : 1.0) * (closest ? closest[i] : 1.0);
        if (mi > 0) pos = i;
        run += mi;
        if (mi > 0 && run > rr) return i;
    }
    return pos >= 0 ? pos : n - 1;
}

/* Greedy k-means++ on checked inputs: C (k, d) and idx (k) receive the
 * centres and their rows. */
static em_status SFX(kpp)(kpp_ctx *c, int64_t k, int64_t trials, em_generator *g, T *C, int64_t *idx) {
    const int64_t n = c->n, d = c->d, nb = c->nblocks, block = c->block;
    const T *X = (const T *)c->X, *w = (const T *)c->w;
    c->kp = (trials + KM_NR - 1) / KM_NR * KM_NR;
    size_t nt = (size_t)(n + c->kp * d + c->kp + (int64_t)c->nthreads * block * c->kp);
    /* the kept candidate distances cost n * trials doubles: worth it up to KPP_KEEP_BYTES */
    bool keep = (double)nb * block * c->kp * sizeof(double) <= KPP_KEEP_BYTES;
    size_t ndb = (size_t)(n + nb + nb * trials) + (keep ? (size_t)(nb * block * c->kp) : 0);
    T *tb = NULL;
    double *db = NULL;
    em_tensor *u = NULL;
    int64_t cand[KPP_MAX_TRIALS];
    em_status st = em__alloc_or_fail(nt * sizeof(T), "kmeans_plusplus", (void **)&tb);
    if (!st) st = em__alloc_or_fail(ndb * sizeof(double), "kmeans_plusplus", (void **)&db);
    if (st) goto done;
    T *xn = tb;
    c->xn = xn, c->cp = tb + n, c->cn = tb + n + c->kp * d, c->scratch = tb + n + c->kp * d + c->kp;
    c->closest = db, c->bsum = db + n, c->part = db + n + nb, c->keep = keep ? db + n + nb + nb * trials : NULL;
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t f = 0; f < d; f++) s += (double)X[i * d + f] * X[i * d + f];
        xn[i] = (T)s;
        c->closest[i] = INFINITY;
    }
    /* the first centre: drawn with probability w_i / sum(w) */
    for (int64_t b = 0; b < nb; b++) {
        int64_t s = b * block, e = s + block < n ? s + block : n;
        double sum = 0;
        for (int64_t i = s; i < e; i++) sum += w ? (double)w[i] : 1.0;
        c->bsum[b] = sum;
    }
    double total = 0;
    for (int64_t b = 0; b < nb; b++) total += c->bsum[b];
    if ((st = em_random_uniform(g, 0.0, 1.0, EM_F64, 1, (int64_t[]){1}, &u))) goto done;
    int64_t pick = SFX(kpp_sample)(c, NULL, ((const double *)em__ptr(u))[0] * total);
    em_tensor_free(u), u = NULL;
    for (int64_t j = 0;; j++) {
        idx[j] = pick;
        memcpy(C + j * d, X + pick * d, (size_t)d * sizeof(T));
        if (j == k - 1) break;
        if (j == 0 || !keep) {
            /* closest distances with the new centre, and the block sums of the masses */
            SFX(kpp_pack)(c, &pick, 1);
            c->update = true, c->nc = 1;
            em__parallel_for(nb, 1, c->nthreads, SFX(kpp_range), c);
        }
        total = 0;
        for (int64_t b = 0; b < nb; b++) total += c->bsum[b];
        /* trials candidates drawn with probability w_i closest_i / total */
        if ((st = em_random_uniform(g, 0.0, 1.0, EM_F64, 1, &trials, &u))) goto done;
        const double *uv = (const double *)em__ptr(u);
        for (int64_t t = 0; t < trials; t++) cand[t] = SFX(kpp_sample)(c, c->closest, uv[t] * total);
        em_tensor_free(u), u = NULL;
        /* the candidate that leaves the smallest potential (the first on ties) */
        SFX(kpp_pack)(c, cand, trials);
        c->update = false, c->nc = trials;
        em__parallel_for(nb, 1, c->nthreads, SFX(kpp_range), c);
        int64_t best = 0;
        double best_pot = INFINITY;
        for (int64_t t = 0; t < trials; t++) {
            double pot = 0;
            for (int64_t b = 0; b < nb; b++) pot += c->part[b * trials + t];
            if (pot < best_pot) best_pot = pot, best = t;
        }
        pick = cand[best];
        if (keep) /* the kept terms of the chosen candidate are the new closest distances */
            for (int64_t b = 0; b < nb; b++) {
                int64_t s = b * block, m = n - s < block ? n - s : block;
                const double *kr = c->keep + b * block * c->kp + best;
                for (int64_t i = 0; i < m; i++) c->closest[s + i] = kr[i * c->kp];
                c->bsum[b] = c->part[b * trials + best];
            }
    }
done:
    em_tensor_free(u);
    em__free(tb), em__free(db);
    return st;
}
