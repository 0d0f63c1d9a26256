/* The GEMM kernels (kernels/gemm.h) and em_linear against a float64
 * reference: sizes across the block edges, every stride pattern,
 * alpha/beta, K = 0, the epilogue, batches, both instruction sets, thread
 * counts and out-of-memory.  Shapes stay small: valgrind runs this file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"

#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif
#include "test.h"
#include "test_util.h"

/* deterministic values in [-2, 2) on a 1/256 grid (exact in float) */
static double gval(int seed, int64_t i, int64_t j) {
    uint32_t h = (uint32_t)((i * 7919 + j * 104729 + seed * 15485863) * 2654435761u) >> 9;
    return ((int)(h % 1024) - 512) / 256.0;
}

/* Layouts of a rows x cols operand inside its buffer. */
enum lay { ROW, COL, GAP, REV, BCAST, NLAY };
static const char *const lay_names[NLAY] = {"row", "col", "gap", "rev", "bcast"};

typedef struct {
    void *buf;  /* malloc'ed */
    char *origin;
    int64_t rs, cs;
} operand;

/* Fills an operand of dtype dt (f32/f64) with gval(seed, i, j); BCAST
 * repeats row 0 (row stride 0). */
static operand make(em_dtype dt, int64_t rows, int64_t cols, int seed, enum lay lay) {
    size_t es = em_dtype_size(dt);
    int64_t n = rows * cols;
    operand o = {calloc((size_t)(2 * n + 2), es), NULL, 0, 0};
    o.origin = o.buf;
    switch (lay) {
    case ROW: o.rs = cols, o.cs = 1; break;
    case COL: o.rs = 1, o.cs = rows; break;
    case GAP: o.rs = 2 * cols, o.cs = 2; break;
    case REV: o.rs = -cols, o.cs = -1, o.origin += (n ? n - 1 : 0) * (int64_t)es; break;
    default: o.rs = 0, o.cs = 1; break;
    }
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            double v = gval(seed, lay == BCAST ? 0 : i, j);
            char *p = o.origin + (i * o.rs + j * o.cs) * (int64_t)es;
            if (dt == EM_F32)
                *(float *)p = (float)v;
            else
                *(double *)p = v;
        }
    return o;
}

static double at(em_dtype dt, const void *base, int64_t off) {
    return dt == EM_F32 ? ((const float *)base)[off] : ((const double *)base)[off];
}
static void set(em_dtype dt, void *base, int64_t off, double v) {
    if (dt == EM_F32)
        ((float *)base)[off] = (float)v;
    else
        ((double *)base)[off] = v;
}

static double act_ref(em_activation act, double x) {
    switch (act) {
    case EM_ACT_RELU: return x < 0 ? 0 : x;
    case EM_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case EM_ACT_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case EM_ACT_SIGMOID: return 1 / (1 + exp(-x));
    case EM_ACT_TANH: return tanh(x);
    case EM_ACT_SILU: return x / (1 + exp(-x));
    default: return x;
    }
}

/* One product C = act(alpha A B + beta C0 + bias) checked against double.
 * C0[i, j] = gval(3, i, j) (or NaN when nan_c); returns failures. */
typedef struct {
    int64_t M, N, K;
    enum lay la, lb;
    double alpha, beta;
    bool bias, nan_c;
    em_activation act;
} prob;

static int check_prob(em_dtype dt, const prob *p) {
    operand a = make(dt, p->M, p->K, 1, p->la), b = make(dt, p->K, p->N, 2, p->lb);
    size_t es = em_dtype_size(dt);
    int64_t ldc = p->N + 3; /* rows of C with a gap */
    void *C = malloc((size_t)(p->M * ldc + 1) * es), *bias = malloc((size_t)(p->N + 1) * es);
    for (int64_t i = 0; i < p->M; i++)
        for (int64_t j = 0; j < ldc; j++) set(dt, C, i * ldc + j, p->nan_c ? NAN : gval(3, i, j));
    for (int64_t j = 0; j < p->N; j++) set(dt, bias, j, gval(4, 0, j));
    em__gemm_desc d = em__gemm_desc_init(p->M, p->N, p->K, a.origin, a.rs, a.cs, b.origin, b.rs, b.cs, C, ldc);
    d.alpha = p->alpha, d.beta = p->beta, d.act = p->act, d.bias = p->bias ? bias : NULL;
    int bad = 0;
    em_status st = em__gemm(dt, &d);
    if (st != EM_OK) {
        fprintf(stderr, "  gemm failed: %s\n", em_last_error());
        bad++;
    }
    double eps = dt == EM_F32 ? 1.2e-7 : 2.3e-16;
    for (int64_t i = 0; i < p->M && !bad; i++)
        for (int64_t j = 0; j < ldc; j++) {
            double got = at(dt, C, i * ldc + j);
            if (j >= p->N) { /* the gap is untouched */
                if (!(p->nan_c ? isnan(got) : got == (double)(dt == EM_F32 ? (float)gval(3, i, j) : gval(3, i, j))))
                    bad++;
                continue;
            }
            double s = 0, mag = 0;
            for (int64_t k = 0; k < p->K; k++) {
                double x = gval(1, p->la == BCAST ? 0 : i, k) * gval(2, p->lb == BCAST ? 0 : k, j);
                s += x;
                mag += fabs(x);
            }
            double c0 = p->beta == 0 ? 0 : p->beta * gval(3, i, j);
            double pre = p->alpha * s + c0 + (p->bias ? gval(4, 0, j) : 0);
            double want = act_ref(p->act, pre);
            double tol = 4 * eps * (fabs(p->alpha) * mag + fabs(c0) + 4 + fabs(pre)) * sqrt((double)p->K + 4) + 1e-30;
            if (p->act != EM_ACT_NONE && p->act != EM_ACT_RELU) tol += 8 * eps * (1 + fabs(want)) + 2 * tol;
            if (!(fabs(got - want) <= tol)) {
                if (bad++ < 3)
                    fprintf(stderr, "  %s M=%lld N=%lld K=%lld A=%s B=%s C[%lld,%lld] = %.9g, want %.9g\n",
                            em_dtype_name(dt), (long long)p->M, (long long)p->N, (long long)p->K, lay_names[p->la],
                            lay_names[p->lb], (long long)i, (long long)j, got, want);
            }
        }
    free(a.buf);
    free(b.buf);
    free(C);
    free(bias);
    return bad;
}

/* Runs body once per instruction set this CPU runs. */
#define FOR_EACH_ISA(isa)                                                                      \
    for (int isa = 0; isa < EM__GEMM_ISA_COUNT; isa++)                                         \
        if (em__gemm_set_isa(isa) == EM_OK)
static const em_dtype fdt[2] = {EM_F32, EM_F64};

TEST(gemm_sizes_cross_blocks) {
    /* MR/NR edges (AVX2 6 x 16 / 6 x 8, AVX-512 12 x 32 / 12 x 16, half-width tiles), the skinny limit
     * (16), KC (256 AVX2, 512 AVX-512), MC (144 AVX2, 96 AVX-512), the row kernel's widths (64, 128),
     * B read in place or packed (512 KiB), wide tiles (2-4 rows, also as the last rows of a packed
     * product: 98 = 96 + 2) */
    static const int64_t sz[][3] = {{1, 1, 1},     {3, 7, 17},    {7, 17, 3},    {17, 3, 7},     {16, 17, 255},
                                    {17, 33, 257},  {145, 7, 3},   {1, 257, 255}, {255, 17, 9},   {6, 16, 256},
                                    {13, 40, 300},  {2, 4081, 3},  {20, 4097, 2}, {150, 24, 260}, {12, 32, 256},
                                    {25, 65, 31},   {97, 33, 13},  {1, 129, 40},  {193, 31, 5},   {40, 700, 200},
                                    {11, 100, 511}, {24, 2049, 3}, {98, 70, 20},  {100, 65, 9},   {20, 40, 600},
                                    {30, 33, 1100}, {3, 130, 513}};
    FOR_EACH_ISA(isa) {
        for (int t = 0; t < 2; t++)
            for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++) {
                prob p = {sz[s][0], sz[s][1], sz[s][2], ROW, ROW, 1, 0, false, false, EM_ACT_NONE};
                CHECK(check_prob(fdt[t], &p) == 0);
                p.lb = COL; /* the x @ W^T form */
                CHECK(check_prob(fdt[t], &p) == 0);
            }
    }
    em__gemm_set_isa(-1);
}

TEST(gemm_every_layout) {
    static const int64_t sz[][3] = {{1, 9, 11}, {5, 19, 23}, {19, 21, 13}, {7, 3, 1}, {37, 45, 29}};
    FOR_EACH_ISA(isa) {
        for (int t = 0; t < 2; t++)
            for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++)
                for (int la = 0; la < NLAY; la++)
                    for (int lb = 0; lb < NLAY; lb++) {
                        prob p = {sz[s][0], sz[s][1], sz[s][2], la, lb, 1, 0, false, false, EM_ACT_NONE};
                        CHECK(check_prob(fdt[t], &p) == 0);
                    }
    }
    em__gemm_set_isa(-1);
}

/* Every row count of the micro-kernels' tiles (M = 1..27 covers mr = 1..12 in the skinny and the packed
 * form), with A read in place by rows and by columns and packed (GAP). */
TEST(gemm_every_row_count) {
    FOR_EACH_ISA(isa) {
        for (int t = 0; t < 2; t++)
            for (int64_t m = 1; m <= 27; m++)
                for (int la = ROW; la <= GAP; la++) {
                    prob p = {m, 37, 19, la, ROW, 1, 0, false, false, EM_ACT_NONE};
                    CHECK(check_prob(fdt[t], &p) == 0);
                }
    }
    em__gemm_set_isa(-1);
}

TEST(gemm_alpha_beta_k0) {
    static const int64_t sz[][3] = {{1, 5, 7}, {4, 18, 3}, {20, 9, 270}, {3, 5, 0}, {20, 21, 0}};
    static const double ab[][2] = {{1, 0}, {0.5, 0}, {-2, 1}, {1.5, -0.75}, {0, 2}};
    FOR_EACH_ISA(isa) {
        for (int t = 0; t < 2; t++)
            for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++)
                for (size_t k = 0; k < sizeof ab / sizeof ab[0]; k++)
                    for (int lb = ROW; lb <= COL; lb++) {
                        prob p = {sz[s][0], sz[s][1], sz[s][2], ROW, lb, ab[k][0], ab[k][1], false, false, EM_ACT_NONE};
                        CHECK(check_prob(fdt[t], &p) == 0);
                        if (ab[k][1] == 0) { /* beta = 0 never reads C: NaN there does not leak */
                            p.nan_c = true;
                            CHECK(check_prob(fdt[t], &p) == 0);
                        }
                    }
    }
    em__gemm_set_isa(-1);
}

TEST(gemm_epilogue) {
    static const int64_t sz[][3] = {{1, 19, 13}, {5, 17, 9}, {23, 35, 260}, {4, 6, 0}, {2, 70, 40}, {3, 33, 530}};
    FOR_EACH_ISA(isa) {
        for (int t = 0; t < 2; t++)
            for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++)
                for (int act = 0; act < EM_ACT_COUNT_; act++)
                    for (int lb = ROW; lb <= COL; lb++) {
                        prob p = {sz[s][0], sz[s][1], sz[s][2], ROW, lb, 0.25, act % 2 ? 0.5 : 0, true, false, act};
                        CHECK(check_prob(fdt[t], &p) == 0);
                    }
    }
    em__gemm_set_isa(-1);
    CHECK(strcmp(em_activation_name(EM_ACT_GELU_TANH), "gelu_tanh") == 0);
    CHECK(em_activation_name(EM_ACT_COUNT_) == NULL);
}

/* Batches: C_b = A_b B_b over a (2, 3) batch with A broadcast on axis 0 and B
 * on axis 1, compared entry by entry with single products. */
TEST(gemm_batched) {
    FOR_EACH_ISA(isa) {
        for (int t = 0; t < 2; t++) {
            em_dtype dt = fdt[t];
            size_t es = em_dtype_size(dt);
            int64_t M = 7, N = 18, K = 9;
            char *A = calloc((size_t)(3 * M * K), es), *B = calloc((size_t)(2 * K * N), es);
            char *C = calloc((size_t)(6 * M * N), es), *R = calloc((size_t)(M * N), es);
            for (int64_t i = 0; i < 3 * M * K; i++) set(dt, A, i, gval(5, i, 0));
            for (int64_t i = 0; i < 2 * K * N; i++) set(dt, B, i, gval(6, i, 1));
            for (int mform = 0; mform < 2; mform++) {
                int64_t m = mform ? 2 : M; /* 2 rows: the skinny form */
                em__gemm_desc d = em__gemm_desc_init(m, N, K, A, K, 1, B, N, 1, C, N);
                d.nbatch = 2;
                d.bshape[0] = 2, d.bshape[1] = 3;
                d.bsa[0] = 0, d.bsa[1] = M * K;
                d.bsb[0] = K * N, d.bsb[1] = 0;
                d.bsc[0] = 3 * m * N, d.bsc[1] = m * N;
                CHECK_OK(em__gemm(dt, &d));
                for (int b0 = 0; b0 < 2; b0++)
                    for (int b1 = 0; b1 < 3; b1++) {
                        em__gemm_desc one = em__gemm_desc_init(m, N, K, A + b1 * M * K * es, K, 1, B + b0 * K * N * es,
                                                               N, 1, R, N);
                        CHECK_OK(em__gemm(dt, &one));
                        CHECK(memcmp(R, C + (b0 * 3 + b1) * m * N * es, (size_t)(m * N) * es) == 0);
                    }
            }
            free(A), free(B), free(C), free(R);
        }
    }
    em__gemm_set_isa(-1);
}

/* 1, 2 and 3 threads give the same bits in every form (big enough to be split): B in place, B packed
 * and shared by the threads (300 x 450 floats > 512 KiB), skinny, dot. */
TEST(gemm_threads_bit_identical) {
    static const int64_t sz[][3] = {{150, 100, 70}, {16, 300, 260}, {9, 400, 300}, {300, 2, 2000}, {150, 450, 300}};
    int before = em_get_num_threads();
    FOR_EACH_ISA(isa) {
        for (int t = 0; t < 2; t++)
            for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++)
                for (int lb = ROW; lb <= COL; lb++) {
                    em_dtype dt = fdt[t];
                    size_t es = em_dtype_size(dt);
                    int64_t M = sz[s][0], N = sz[s][1], K = sz[s][2];
                    operand a = make(dt, M, K, 1, ROW), b = make(dt, K, N, 2, lb);
                    char *C[3];
                    for (int n = 1; n <= 3; n++) {
                        C[n - 1] = malloc((size_t)(M * N) * es);
                        CHECK_OK(em_set_num_threads(n));
                        em__gemm_desc d =
                            em__gemm_desc_init(M, N, K, a.origin, a.rs, a.cs, b.origin, b.rs, b.cs, C[n - 1], N);
                        d.bias = b.origin; /* any N values */
                        d.act = EM_ACT_SILU;
                        CHECK_OK(em__gemm(dt, &d));
                    }
                    CHECK(memcmp(C[0], C[1], (size_t)(M * N) * es) == 0);
                    CHECK(memcmp(C[0], C[2], (size_t)(M * N) * es) == 0);
                    for (int n = 0; n < 3; n++) free(C[n]);
                    free(a.buf), free(b.buf);
                }
    }
    em_set_num_threads(before);
    em__gemm_set_isa(-1);
}

/* The paths agree up to rounding; the old entry points still work. */
TEST(gemm_isa_paths_agree) {
    int64_t M = 37, N = 29, K = 300;
    operand a = make(EM_F32, M, K, 1, ROW), b = make(EM_F32, K, N, 2, COL);
    float *C1 = malloc(sizeof(float) * (size_t)(M * N)), *C2 = malloc(sizeof(float) * (size_t)(M * N));
    CHECK_OK(em__gemm_set_isa(EM__GEMM_PORTABLE));
    CHECK_OK(em__gemm_f32(M, N, K, 1, (float *)a.origin, a.rs, a.cs, (float *)b.origin, b.rs, b.cs, 0, C2, N));
    for (int isa = EM__GEMM_AVX2; isa < EM__GEMM_ISA_COUNT; isa++) {
        if (em__gemm_set_isa(isa) != EM_OK) continue; /* not on this CPU */
        CHECK_OK(em__gemm_f32(M, N, K, 1, (float *)a.origin, a.rs, a.cs, (float *)b.origin, b.rs, b.cs, 0, C1, N));
        CHECK(em__gemm_active_isa() == (em__gemm_isa)isa);
        for (int64_t i = 0; i < M * N; i++) CHECK_NEAR(C1[i], C2[i], 1e-5);
    }
    free(a.buf), free(b.buf), free(C1), free(C2);
    CHECK_STATUS(em__gemm_set_isa(7), EM_ERR_UNSUPPORTED);
    CHECK_OK(em__gemm_set_isa(-1));
}

/* A batch of fewer entries than threads runs each entry on all threads (B packed once and shared):
 * the same bits as one product at a time on one thread. */
TEST(gemm_batch_shared_threads) {
    int before = em_get_num_threads();
    FOR_EACH_ISA(isa) {
        for (int t = 0; t < 2; t++) {
            em_dtype dt = fdt[t];
            size_t es = em_dtype_size(dt);
            int64_t M = 60, N = 300, K = 500; /* B: 600 KB in float32, packed */
            operand a = make(dt, 2 * M, K, 1, ROW), b = make(dt, 2 * K, N, 2, ROW);
            char *C = malloc((size_t)(2 * M * N) * es), *R = malloc((size_t)(M * N) * es);
            CHECK_OK(em_set_num_threads(3));
            em__gemm_desc d = em__gemm_desc_init(M, N, K, a.origin, K, 1, b.origin, N, 1, C, N);
            d.nbatch = 1, d.bshape[0] = 2, d.bsa[0] = M * K, d.bsb[0] = K * N, d.bsc[0] = M * N;
            CHECK_OK(em__gemm(dt, &d));
            CHECK_OK(em_set_num_threads(1));
            for (int bi = 0; bi < 2; bi++) {
                em__gemm_desc one = em__gemm_desc_init(M, N, K, a.origin + bi * M * K * es, K, 1,
                                                       b.origin + bi * K * N * es, N, 1, R, N);
                CHECK_OK(em__gemm(dt, &one));
                CHECK(memcmp(R, C + bi * M * N * es, (size_t)(M * N) * es) == 0);
            }
            free(a.buf), free(b.buf), free(C), free(R);
        }
    }
    em_set_num_threads(before);
    em__gemm_set_isa(-1);
}

#ifdef __linux__
/* n elements of es bytes that end exactly at an inaccessible page: a kernel
 * that reads one element too far faults.  The micro-kernels' loops are
 * assembly, which the sanitizers do not see. */
typedef struct {
    char *map;
    size_t len;
    void *p;
} guarded;
static guarded guard_alloc(size_t n, size_t es) {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), bytes = n * es, len = (bytes + pg - 1) / pg * pg + pg;
    guarded g = {mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), len, NULL};
    if (g.map == MAP_FAILED) return (guarded){NULL, 0, NULL};
    mprotect(g.map + len - pg, pg, PROT_NONE);
    g.p = g.map + len - pg - bytes;
    return g;
}

/* Operands read in place (A by rows or columns, B by rows or columns) end at a guard page, for every
 * instruction set, dtype and form; values are checked against a double reference. */
TEST(gemm_reads_stay_inside_operands) {
    static const int64_t sz[][3] = {{1, 33, 5}, {3, 17, 9}, {13, 1, 257}, {12, 32, 16}, {25, 31, 7}, {40, 70, 3}};
    FOR_EACH_ISA(isa) {
        for (int t = 0; t < 2; t++)
            for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++)
                for (int la = ROW; la <= COL; la++)
                    for (int lb = ROW; lb <= COL; lb++) {
                        em_dtype dt = fdt[t];
                        size_t es = em_dtype_size(dt);
                        int64_t M = sz[s][0], N = sz[s][1], K = sz[s][2];
                        guarded ga = guard_alloc((size_t)(M * K), es), gb = guard_alloc((size_t)(K * N), es);
                        guarded gc = guard_alloc((size_t)(M * N), es);
                        if (!ga.p || !gb.p || !gc.p) {
                            CHECK(false);
                            continue;
                        }
                        int64_t ars = la == ROW ? K : 1, acs = la == ROW ? 1 : M;
                        int64_t brs = lb == ROW ? N : 1, bcs = lb == ROW ? 1 : K;
                        for (int64_t i = 0; i < M; i++)
                            for (int64_t k = 0; k < K; k++) set(dt, ga.p, i * ars + k * acs, gval(1, i, k));
                        for (int64_t k = 0; k < K; k++)
                            for (int64_t j = 0; j < N; j++) set(dt, gb.p, k * brs + j * bcs, gval(2, k, j));
                        em__gemm_desc d = em__gemm_desc_init(M, N, K, ga.p, ars, acs, gb.p, brs, bcs, gc.p, N);
                        CHECK_OK(em__gemm(dt, &d));
                        for (int64_t i = 0; i < M; i++)
                            for (int64_t j = 0; j < N; j++) {
                                double want = 0, mag = 0;
                                for (int64_t k = 0; k < K; k++) {
                                    want += gval(1, i, k) * gval(2, k, j);
                                    mag += fabs(gval(1, i, k) * gval(2, k, j));
                                }
                                double eps = dt == EM_F32 ? 1.2e-7 : 2.3e-16;
                                CHECK(fabs(at(dt, gc.p, i * N + j) - want) <= 4 * eps * (mag + 1) * sqrt(K + 4.0));
                            }
                        munmap(ga.map, ga.len), munmap(gb.map, gb.len), munmap(gc.map, gc.len);
                    }
    }
    em__gemm_set_isa(-1);
}

/* x @ W^T (dot form) with the rows of W at several 4-byte misalignments (row stride a multiple of 16
 * floats, so the AVX-512 kernels read aligned lines and shift them) and the last row ending at a guard
 * page: the bits equal those of the same product with W 64-byte aligned, and match a double reference. */
TEST(gemm_dot_misaligned_rows) {
    static const int64_t ms[] = {1, 2, 3, 4, 6}, ks[] = {1, 5, 16, 17, 31, 37, 64, 100};
    static const int64_t ns[] = {1, 5, 9};
    FOR_EACH_ISA(isa) {
        for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
            for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
                for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
                    int64_t M = ms[mi], K = ks[ki], N = ns[ni], ld = (K + 15) / 16 * 16 + 16;
                    size_t nb = (size_t)((N - 1) * ld + K);
                    float *A = malloc((size_t)(M * K) * sizeof(float)), *C0 = malloc((size_t)(M * N) * sizeof(float));
                    float *C1 = malloc((size_t)(M * N) * sizeof(float));
                    float *Bal = aligned_alloc(64, ((nb * sizeof(float) + 63) / 64) * 64);
                    guarded gb = guard_alloc(nb, sizeof(float));
                    if (!A || !C0 || !C1 || !Bal || !gb.p) {
                        CHECK(false);
                        free(A), free(C0), free(C1), free(Bal);
                        if (gb.map) munmap(gb.map, gb.len);
                        continue;
                    }
                    float *B = gb.p;
                    for (int64_t i = 0; i < M * K; i++) A[i] = (float)gval(1, i, 0);
                    for (size_t i = 0; i < nb; i++) B[i] = Bal[i] = (float)gval(2, (int64_t)i, 0);
                    CHECK_OK(em__gemm_f32(M, N, K, 1, A, K, 1, B, 1, ld, 0, C0, N));
                    CHECK_OK(em__gemm_f32(M, N, K, 1, A, K, 1, Bal, 1, ld, 0, C1, N));
                    CHECK(memcmp(C0, C1, (size_t)(M * N) * sizeof(float)) == 0);
                    for (int64_t i = 0; i < M; i++)
                        for (int64_t j = 0; j < N; j++) {
                            double want = 0, mag = 0;
                            for (int64_t k = 0; k < K; k++) {
                                want += (double)A[i * K + k] * B[j * ld + k];
                                mag += fabs((double)A[i * K + k] * B[j * ld + k]);
                            }
                            CHECK(fabs(C0[i * N + j] - want) <= 4 * 1.2e-7 * (mag + 1) * sqrt(K + 4.0));
                        }
                    free(A), free(C0), free(C1), free(Bal);
                    munmap(gb.map, gb.len);
                }
    }
    em__gemm_set_isa(-1);
}
#endif

static em_status oom_gemm_op(void) {
    static float A[40 * 30], B[30 * 20], C[40 * 20];
    for (int i = 0; i < 40 * 30; i++) A[i] = (float)gval(1, i, 0);
    for (int i = 0; i < 30 * 20; i++) B[i] = (float)gval(2, i, 0);
    EM_TRY(em__gemm_f32(40, 20, 30, 1, A, 30, 1, B, 20, 1, 0, C, 20)); /* packed */
    EM_TRY(em__gemm_f32(3, 20, 30, 1, A, 30, 1, B, 20, 1, 0, C, 20));  /* skinny */
    EM_TRY(em__gemm_f32(40, 20, 30, 1, A + 29, 30, -1, B, 20, 1, 0, C, 20)); /* packed, A reversed: packed */
    return em__gemm_f32(3, 20, 30, 1, A, 1, 3, B, 1, 30, 0, C, 20);    /* dot, A gathered */
}

static em_status oom_linear_op(void) {
    em_tensor *x = NULL, *w = NULL, *b = NULL, *y = NULL, *xt = NULL;
    em_status st;
    if ((st = em_tensor_ones(EM_F32, DIMS(4, 3, 5), &x)) != EM_OK) goto done;
    if ((st = em_tensor_ones(EM_F32, DIMS(6, 5), &w)) != EM_OK) goto done;
    if ((st = em_tensor_ones(EM_F32, DIMS(6), &b)) != EM_OK) goto done;
    if ((st = em_tensor_permute(x, (const int[]){1, 0, 2}, &xt)) != EM_OK) goto done; /* needs a copy */
    st = em_linear(xt, w, b, EM_ACT_GELU, &y);
done:
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(b), em_tensor_free(y), em_tensor_free(xt);
    return st;
}

TEST(gemm_oom) {
    FOR_EACH_ISA(isa) {
        oom_sweep(oom_gemm_op);
        oom_sweep(oom_linear_op);
    }
    em__gemm_set_isa(-1);
}

/* em_linear == matmul(x, w^T) + bias through the activation, any view. */
TEST(linear_values_and_errors) {
    em_tensor *x = tensor_of(EM_F64, 3, SH(2, 3, 4), NULL), *w = tensor_of(EM_F64, 2, SH(5, 4), NULL);
    em_tensor *b = tensor_of(EM_F64, 1, SH(5), V(1, -2, 3, -4, 5)), *y = NULL, *xt = NULL;
    CHECK_OK(em_linear(x, w, b, EM_ACT_RELU, &y));
    CHECK(em_tensor_ndim(y) == 3 && em_tensor_shape(y)[2] == 5);
    for (int64_t r = 0; r < 6; r++)
        for (int64_t o = 0; o < 5; o++) {
            double s = value_at(b, o);
            for (int64_t i = 0; i < 4; i++) s += (double)(r * 4 + i) * (double)(o * 4 + i);
            CHECK(value_at(y, r * 5 + o) == (s < 0 ? 0 : s));
        }
    em_tensor_free(y);
    /* a non-collapsible view of x gives the same as its copy */
    CHECK_OK(em_tensor_permute(x, (const int[]){1, 0, 2}, &xt));
    CHECK_OK(em_linear(xt, w, NULL, EM_ACT_NONE, &y));
    CHECK(em_tensor_shape(y)[0] == 3 && em_tensor_shape(y)[1] == 2);
    CHECK(value_at(y, 1 * 5 + 2) == value_at(x, 0) * 0 + (12 * 8 + 13 * 9 + 14 * 10 + 15 * 11));
    em_tensor_free(y);
    /* 1-D input */
    em_tensor *v = tensor_of(EM_F64, 1, SH(4), V(1, 0, 0, 0));
    CHECK_OK(em_linear(v, w, b, EM_ACT_NONE, &y));
    CHECK(tensor_values_are(y, 1, SH(5), V(1, 2, 11, 8, 21)));
    em_tensor_free(y);
    /* errors name the shapes / dtypes */
    em_tensor *wf = tensor_of(EM_F32, 2, SH(5, 4), NULL), *w3 = tensor_of(EM_F64, 2, SH(5, 3), NULL);
    y = NULL;
    CHECK_STATUS(em_linear(x, wf, NULL, EM_ACT_NONE, &y), EM_ERR_DTYPE);
    CHECK(error_has("float32") && y == NULL);
    CHECK_STATUS(em_linear(x, w3, NULL, EM_ACT_NONE, &y), EM_ERR_SHAPE);
    CHECK(error_has("(2, 3, 4)") && error_has("(5, 3)"));
    CHECK_STATUS(em_linear(x, w, v, EM_ACT_NONE, &y), EM_ERR_SHAPE);
    CHECK(error_has("bias"));
    CHECK_STATUS(em_linear(x, w, NULL, (em_activation)99, &y), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_linear(NULL, w, NULL, EM_ACT_NONE, &y), EM_ERR_INVALID_ARG);
    em_tensor *xi = tensor_of(EM_I32, 2, SH(2, 4), NULL);
    CHECK_STATUS(em_linear(xi, w, NULL, EM_ACT_NONE, &y), EM_ERR_DTYPE);
    em_tensor_free(xi), em_tensor_free(wf), em_tensor_free(w3), em_tensor_free(v);
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(b), em_tensor_free(xt);
}
