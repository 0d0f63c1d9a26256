/* Matrix product with NumPy matmul semantics, and the linear layer.  Floats go to the blocked
 * GEMM kernels (kernels/gemm.h) with the operands' own strides; integers use
 * a plain loop accumulating in 64 bits (wrapping, stored with wrap-around
 * into the result type); bool is the logical or of ands. */
#include "../internal.h"
#include "../autograd/ag.h"
#include "../kernels/gemm.h"

/* The matrix part of one operand: rows x cols with element strides; a 1-D
 * operand gets a size-1 axis with stride 0 (a: rows, b: cols). */
typedef struct {
    int64_t rows, cols, rs, cs;
    int nbatch; /* leading batch axes */
} mat_view;

static mat_view mat_of(const em_tensor *t, bool is_a) {
    mat_view m;
    int nd = t->ndim;
    if (nd == 1) {
        m.rows = is_a ? 1 : t->shape[0];
        m.cols = is_a ? t->shape[0] : 1;
        m.rs = is_a ? 0 : t->strides[0];
        m.cs = is_a ? t->strides[0] : 0;
        m.nbatch = 0;
    } else {
        m.rows = t->shape[nd - 2];
        m.cols = t->shape[nd - 1];
        m.rs = t->strides[nd - 2];
        m.cs = t->strides[nd - 1];
        m.nbatch = nd - 2;
    }
    return m;
}

#define INT_MATMUL(T)                                                                     \
    do {                                                                                  \
        const T *A = (const T *)pa;                                                       \
        const T *B = (const T *)pb;                                                       \
        T *C = (T *)pc;                                                                   \
        for (int64_t i = 0; i < M; i++)                                                   \
            for (int64_t j = 0; j < N; j++) {                                             \
                uint64_t s = 0; /* unsigned: overflow wraps instead of being undefined */ \
                for (int64_t k = 0; k < K; k++)                                           \
                    s += (uint64_t)(int64_t)A[i * a->rs + k * a->cs] *                    \
                         (uint64_t)(int64_t)B[k * b->rs + j * b->cs];                     \
                C[i * N + j] = (T)(int64_t)s;                                             \
            }                                                                             \
    } while (0)

/* C (M x N, contiguous) = A @ B for one batch entry; all three share dt. */
static em_status matmul_one(em_dtype dt, const mat_view *a, const mat_view *b, const char *pa, const char *pb,
                            char *pc) {
    int64_t M = a->rows, N = b->cols, K = a->cols;
    switch (dt) {
    case EM_F32:
        return em__gemm_f32(M, N, K, 1.0f, (const float *)pa, a->rs, a->cs, (const float *)pb, b->rs, b->cs, 0.0f,
                            (float *)pc, N);
    case EM_F64:
        return em__gemm_f64(M, N, K, 1.0, (const double *)pa, a->rs, a->cs, (const double *)pb, b->rs, b->cs, 0.0,
                            (double *)pc, N);
    case EM_BOOL: {
        const bool *A = (const bool *)pa, *B = (const bool *)pb;
        bool *C = (bool *)pc;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                bool s = false;
                for (int64_t k = 0; k < K && !s; k++) s = A[i * a->rs + k * a->cs] && B[k * b->rs + j * b->cs];
                C[i * N + j] = s;
            }
        return EM_OK;
    }
    case EM_U8: INT_MATMUL(uint8_t); return EM_OK;
    case EM_I8: INT_MATMUL(int8_t); return EM_OK;
    case EM_I32: INT_MATMUL(int32_t); return EM_OK;
    case EM_I64: INT_MATMUL(int64_t); return EM_OK;
    default: return em__error(EM_ERR_DTYPE, "matmul: invalid dtype %d", (int)dt);
    }
}

/* Floats: the whole batch is one em__gemm call.  When b is shared by every
 * batch entry and a's batch axes step exactly over whole matrices, the batch
 * folds into M (one product of (batch * M) rows: B is packed once). */
static em_status matmul_float(const em_tensor *a, const em_tensor *b, int nb, const int64_t *bshape,
                              const int64_t *sa, const int64_t *sb, em_tensor *out) {
    mat_view ma = mat_of(a, true), mb = mat_of(b, false);
    int64_t M = ma.rows, N = mb.cols;
    em__gemm_desc d = em__gemm_desc_init(M, N, ma.cols, em__ptr(a), ma.rs, ma.cs, em__ptr(b), mb.rs, mb.cs,
                                         em__ptr(out), N);
    bool b_shared = true, foldable = M > 0;
    int64_t expect = ma.rs * M;
    for (int i = nb - 1; i >= 0; i--) {
        if (sb[i] != 0 && bshape[i] != 1) b_shared = false;
        if (bshape[i] == 1) continue;
        if (sa[i] != expect) foldable = false;
        expect *= bshape[i];
    }
    if (b_shared && foldable) {
        d.M = M * em__numel(nb, bshape);
        return em__gemm(out->dtype, &d);
    }
    d.nbatch = nb;
    int64_t sc = M * N;
    for (int i = nb - 1; i >= 0; i--) {
        d.bshape[i] = bshape[i];
        d.bsa[i] = sa[i];
        d.bsb[i] = sb[i];
        d.bsc[i] = sc;
        sc *= bshape[i];
    }
    return em__gemm(out->dtype, &d);
}

/* Runs every batch entry; batch axes of a and b are right-aligned against
 * (nb, bshape) and broadcast with stride 0. */
static em_status matmul_batches(const em_tensor *a, const em_tensor *b, int nb, const int64_t *bshape,
                                em_tensor *out) {
    mat_view ma = mat_of(a, true), mb = mat_of(b, false);
    int64_t sa[EM_MAX_DIMS] = {0}, sb[EM_MAX_DIMS] = {0};
    for (int i = 0; i < ma.nbatch; i++)
        if (a->shape[i] != 1) sa[nb - ma.nbatch + i] = a->strides[i];
    for (int i = 0; i < mb.nbatch; i++)
        if (b->shape[i] != 1) sb[nb - mb.nbatch + i] = b->strides[i];
    if (out->dtype == EM_F32 || out->dtype == EM_F64) return matmul_float(a, b, nb, bshape, sa, sb, out);
    size_t es = em__dsize(out->dtype);
    int64_t nbatch = em__numel(nb, bshape), mn = ma.rows * mb.cols;
    for (int64_t t = 0; t < nbatch; t++) {
        int64_t oa = 0, ob = 0, rem = t;
        for (int i = nb - 1; i >= 0; i--) {
            int64_t idx = rem % bshape[i];
            rem /= bshape[i];
            oa += idx * sa[i];
            ob += idx * sb[i];
        }
        EM_TRY(matmul_one(out->dtype, &ma, &mb, em__ptr(a) + oa * (int64_t)es, em__ptr(b) + ob * (int64_t)es,
                          em__ptr(out) + t * mn * (int64_t)es));
    }
    return EM_OK;
}

static em_status matmul_raw(const em_tensor *a, const em_tensor *b, em_tensor **out) {
    if (!a || !b || !out) return em__error(EM_ERR_INVALID_ARG, "matmul: NULL argument");
    char da[EM_DESC_LEN], db[EM_DESC_LEN];
    if (a->ndim == 0 || b->ndim == 0)
        return em__error(EM_ERR_SHAPE, "matmul: operand %d is 0-d; use mul", a->ndim == 0 ? 0 : 1);
    mat_view ma = mat_of(a, true), mb = mat_of(b, false);
    if (ma.cols != mb.rows)
        return em__error(EM_ERR_SHAPE,
                         "matmul: shapes %s and %s are not aligned: %lld (axis %d of a) != %lld (axis %d of b)",
                         em__desc(a, da), em__desc(b, db), (long long)ma.cols, a->ndim - 1, (long long)mb.rows,
                         b->ndim == 1 ? 0 : b->ndim - 2);
    int nb;
    int64_t shape[EM_MAX_DIMS];
    if (em_broadcast_shapes(ma.nbatch, a->shape, mb.nbatch, b->shape, &nb, shape) != EM_OK)
        return em__error(EM_ERR_SHAPE, "matmul: batch axes of %s and %s cannot be broadcast", em__desc(a, da),
                         em__desc(b, db));
    int nd = nb;
    if (a->ndim > 1) shape[nd++] = ma.rows;
    if (b->ndim > 1) shape[nd++] = mb.cols;

    em_dtype dt = em_promote_types(a->dtype, b->dtype);
    em_tensor *ca = NULL, *cb = NULL, *res = NULL;
    em_status st = EM_OK;
    if (a->dtype != dt && (st = em_tensor_cast(a, dt, &ca)) != EM_OK) goto fail;
    if (b->dtype != dt && (st = em_tensor_cast(b, dt, &cb)) != EM_OK) goto fail;
    if ((st = em__check_shape("matmul", nd, shape)) != EM_OK) goto fail;
    if ((st = em__new(dt, nd, shape, &res)) != EM_OK) goto fail;
    if ((st = matmul_batches(ca ? ca : a, cb ? cb : b, nb, shape, res)) != EM_OK) goto fail;
    em_tensor_free(ca);
    em_tensor_free(cb);
    *out = res;
    return EM_OK;
fail:
    em_tensor_free(ca);
    em_tensor_free(cb);
    em_tensor_free(res);
    return st;
}

/* The leading axes of x (all but the last) as one row axis: its stride, or
 * false if they do not collapse into one. */
static bool rows_stride(const em_tensor *x, int64_t *rs) {
    int64_t stride = 0, span = 1;
    bool any = false;
    for (int i = x->ndim - 2; i >= 0; i--) {
        if (x->shape[i] == 1) continue;
        if (!any) {
            stride = x->strides[i];
            any = true;
        } else if (x->strides[i] != stride * span) {
            return false;
        }
        span *= x->shape[i];
    }
    *rs = stride;
    return true;
}

em_status em_linear(const em_tensor *x, const em_tensor *weight, const em_tensor *bias, em_activation act,
                    em_tensor **out) {
    if (!x || !weight || !out) return em__error(EM_ERR_INVALID_ARG, "linear: NULL argument");
    char dx[EM_DESC_LEN], dw[EM_DESC_LEN], db[EM_DESC_LEN];
    if ((unsigned)act >= EM_ACT_COUNT_) return em__error(EM_ERR_INVALID_ARG, "linear: invalid activation %d", (int)act);
    if (x->dtype != EM_F32 && x->dtype != EM_F64)
        return em__error(EM_ERR_DTYPE, "linear: input %s must be float32 or float64", em__desc(x, dx));
    if (weight->dtype != x->dtype || (bias && bias->dtype != x->dtype))
        return em__error(EM_ERR_DTYPE, "linear: dtypes differ: input %s, weight %s%s%s", em__desc(x, dx),
                         em__desc(weight, dw), bias ? ", bias " : "", bias ? em__desc(bias, db) : "");
    if (x->ndim < 1 || weight->ndim != 2 || x->shape[x->ndim - 1] != weight->shape[1])
        return em__error(EM_ERR_SHAPE, "linear: input %s and weight %s do not match: want input (..., in), weight (out, in)",
                         em__desc(x, dx), em__desc(weight, dw));
    if (bias && (bias->ndim != 1 || bias->shape[0] != weight->shape[0]))
        return em__error(EM_ERR_SHAPE, "linear: bias %s must be 1-D of length %lld (weight %s)", em__desc(bias, db),
                         (long long)weight->shape[0], em__desc(weight, dw));
    if (!em__ag_off && (em__ag_req(x) || em__ag_req(weight) || em__ag_req(bias))) {
        /* recorded: one LinearBackward node, then the activation as its own op */
        static const em_op act_op[EM_ACT_COUNT_] = {
            [EM_ACT_RELU] = EM_OP_RELU, [EM_ACT_GELU] = EM_OP_GELU, [EM_ACT_GELU_TANH] = EM_OP_GELU_TANH,
            [EM_ACT_SIGMOID] = EM_OP_SIGMOID, [EM_ACT_TANH] = EM_OP_TANH, [EM_ACT_SILU] = EM_OP_SILU};
        em_tensor *y;
        em_status st;
        EM__AG_NOREC(st, em_linear(x, weight, bias, EM_ACT_NONE, &y));
        if (st || (st = em__ag_linear(x, weight, bias, &y)) || act == EM_ACT_NONE) {
            *out = st ? NULL : y;
            return st;
        }
        st = em_unary(act_op[act], y, NAN, out);
        em_tensor_free(y);
        return st;
    }
    int nd = x->ndim;
    int64_t shape[EM_MAX_DIMS], K = weight->shape[1], N = weight->shape[0];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)nd);
    shape[nd - 1] = N;
    em_tensor *xc = NULL, *bc = NULL, *res = NULL;
    em_status st;
    int64_t rs;
    if (!rows_stride(x, &rs)) { /* leading axes that do not collapse: copy once */
        if ((st = em_tensor_contiguous(x, &xc)) != EM_OK) goto fail;
        rs = K;
    }
    const em_tensor *xx = xc ? xc : x;
    if (bias && bias->shape[0] > 1 && bias->strides[0] != 1 && (st = em_tensor_contiguous(bias, &bc)) != EM_OK)
        goto fail;
    if ((st = em__new(x->dtype, nd, shape, &res)) != EM_OK) goto fail;
    int64_t M = em__numel(nd - 1, shape);
    em__gemm_desc d = em__gemm_desc_init(M, N, K, em__ptr(xx), rs, xx->strides[nd - 1], em__ptr(weight),
                                         weight->strides[1], weight->strides[0], em__ptr(res), N);
    d.bias = bias ? em__ptr(bc ? bc : bias) : NULL;
    d.act = act;
    if ((st = em__gemm(x->dtype, &d)) != EM_OK) goto fail;
    em_tensor_free(xc);
    em_tensor_free(bc);
    *out = res;
    return EM_OK;
fail:
    em_tensor_free(xc);
    em_tensor_free(bc);
    em_tensor_free(res);
    return st;
}

/* The public entry: the product, then its autograd record. */
em_status em_matmul(const em_tensor *a, const em_tensor *b, em_tensor **out) {
    EM_TRY(matmul_raw(a, b, out));
    return em__ag_want2(a, b) ? em__ag_matmul(a, b, out) : EM_OK;
}
