/* Gradients of the elementwise ops (unary, binary, where, clip), written
 * with the em_* ops themselves so they can be differentiated again. */
#include "ag.h"
#include "formula_short.h"

/* Which tensors an op's gradient reads: bit 0 the input, bit 1 the output. */
static int unary_saves(em_op op) {
    switch (op) {
    case EM_OP_NEG: case EM_OP_POSITIVE: case EM_OP_SIGN: case EM_OP_FLOOR: case EM_OP_CEIL: case EM_OP_ROUND:
    case EM_OP_TRUNC:
        return 0;
    case EM_OP_EXP: case EM_OP_EXPM1: case EM_OP_EXP2: case EM_OP_SQRT: case EM_OP_RSQRT: case EM_OP_RECIPROCAL:
    case EM_OP_TAN: case EM_OP_TANH: case EM_OP_SIGMOID:
        return 2;
    case EM_OP_ELU:
        return 3;
    default:
        return 1;
    }
}

static em_status unary_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em__f f = {0};
    int sv = unary_saves((em_op)n->op);
    em_tensor *x = sv & 1 ? SAVED(0) : NULL, *y = sv & 2 ? SAVED(1) : NULL, *r = NULL;
    double a = n->alpha;
    switch ((em_op)n->op) {
    case EM_OP_NEG: r = U(NEG, g); break;
    case EM_OP_POSITIVE: r = g; break;
    case EM_OP_SIGN: case EM_OP_FLOOR: case EM_OP_CEIL: case EM_OP_ROUND: case EM_OP_TRUNC:
        r = em__f_zeros(&f, n->in[0].dtype, n->in[0].ndim, n->in[0].shape);
        break;
    case EM_OP_ABS: r = B(MUL, g, U(SIGN, x)); break;
    case EM_OP_SQUARE: r = B(MUL, g, BC(MUL, x, 2.0)); break;
    case EM_OP_EXP: r = B(MUL, g, y); break;
    case EM_OP_EXPM1: r = B(MUL, g, BC(ADD, y, 1.0)); break;
    case EM_OP_EXP2: r = B(MUL, g, BC(MUL, y, M_LN2)); break;
    case EM_OP_LOG: r = B(DIV, g, x); break;
    case EM_OP_LOG1P: r = B(DIV, g, BC(ADD, x, 1.0)); break;
    case EM_OP_LOG2: r = B(DIV, g, BC(MUL, x, M_LN2)); break;
    case EM_OP_LOG10: r = B(DIV, g, BC(MUL, x, M_LN10)); break;
    case EM_OP_SQRT: r = B(DIV, g, BC(MUL, y, 2.0)); break;
    case EM_OP_RSQRT: r = B(MUL, g, BC(MUL, B(MUL, y, B(MUL, y, y)), -0.5)); break;
    case EM_OP_RECIPROCAL: r = B(MUL, U(NEG, g), B(MUL, y, y)); break;
    case EM_OP_SIN: r = B(MUL, g, U(COS, x)); break;
    case EM_OP_COS: r = B(MUL, g, U(NEG, U(SIN, x))); break;
    case EM_OP_TAN: r = B(MUL, g, BC(ADD, B(MUL, y, y), 1.0)); break;
    case EM_OP_ASIN: r = B(MUL, g, U(RSQRT, CB(SUB, 1.0, B(MUL, x, x)))); break;
    case EM_OP_ACOS: r = B(MUL, U(NEG, g), U(RSQRT, CB(SUB, 1.0, B(MUL, x, x)))); break;
    case EM_OP_ATAN: r = B(DIV, g, BC(ADD, B(MUL, x, x), 1.0)); break;
    case EM_OP_SINH: r = B(MUL, g, U(COSH, x)); break;
    case EM_OP_COSH: r = B(MUL, g, U(SINH, x)); break;
    case EM_OP_TANH: r = B(MUL, g, CB(SUB, 1.0, B(MUL, y, y))); break;
    case EM_OP_ASINH: r = B(MUL, g, U(RSQRT, BC(ADD, B(MUL, x, x), 1.0))); break;
    case EM_OP_ACOSH: r = B(MUL, g, U(RSQRT, BC(SUB, B(MUL, x, x), 1.0))); break;
    case EM_OP_ATANH: r = B(DIV, g, CB(SUB, 1.0, B(MUL, x, x))); break;
    case EM_OP_SIGMOID: r = B(MUL, g, B(MUL, y, CB(SUB, 1.0, y))); break;
    case EM_OP_RELU: r = em__f_where(&f, BC(GT, x, 0.0), g, ZERO(g)); break;
    case EM_OP_LEAKY_RELU: r = em__f_where(&f, BC(GT, x, 0.0), g, BC(MUL, g, a)); break;
    case EM_OP_ELU: r = em__f_where(&f, BC(GT, x, 0.0), g, B(MUL, g, BC(ADD, y, a))); break;
    case EM_OP_GELU: {
        em_tensor *cdf = BC(MUL, BC(ADD, U(ERF, BC(MUL, x, M_SQRT1_2)), 1.0), 0.5);
        em_tensor *pdf = BC(MUL, U(EXP, BC(MUL, B(MUL, x, x), -0.5)), 0.5 * M_2_SQRTPI * M_SQRT1_2);
        r = B(MUL, g, B(ADD, cdf, B(MUL, x, pdf)));
        break;
    }
    case EM_OP_GELU_TANH: {
        const double k = M_SQRT2 * M_2_SQRTPI * 0.5, c = 0.044715; /* sqrt(2/pi) */
        em_tensor *x2 = B(MUL, x, x);
        em_tensor *t = U(TANH, BC(MUL, B(MUL, x, BC(ADD, BC(MUL, x2, c), 1.0)), k));
        em_tensor *d1 = BC(MUL, BC(ADD, t, 1.0), 0.5);
        em_tensor *d2 = B(MUL, BC(MUL, x, 0.5 * k), B(MUL, CB(SUB, 1.0, B(MUL, t, t)), BC(ADD, BC(MUL, x2, 3 * c), 1.0)));
        r = B(MUL, g, B(ADD, d1, d2));
        break;
    }
    case EM_OP_SILU: {
        em_tensor *s = U(SIGMOID, x);
        r = B(MUL, g, B(MUL, s, BC(ADD, B(MUL, x, CB(SUB, 1.0, s)), 1.0)));
        break;
    }
    case EM_OP_SOFTPLUS: r = B(MUL, g, U(SIGMOID, BC(MUL, x, a))); break;
    case EM_OP_ERF: r = B(MUL, g, BC(MUL, U(EXP, U(NEG, B(MUL, x, x))), M_2_SQRTPI)); break;
    default:
        if (!f.st) f.st = em__error(EM_ERR_UNSUPPORTED, "backward: %s is not differentiable", n->name);
    }
    gin[0] = em__f_take(&f, r);
    return em__f_done(&f);
}

static bool float_out(const em_tensor *t) { return em_dtype_is_float(t->dtype); }

em_status em__ag_unary(em_op op, const em_tensor *x, double alpha, em_tensor **out) {
    if (!float_out(*out) || !em_dtype_is_float(x->dtype)) return EM_OK;
    switch (op) {
    case EM_OP_ISNAN: case EM_OP_ISINF: case EM_OP_ISFINITE: case EM_OP_SIGNBIT: case EM_OP_LOGICAL_NOT:
    case EM_OP_BITWISE_INVERT:
        return EM_OK;
    default: break;
    }
    em__ag_node *n;
    EM_TRY(em__ag_record(em__ag_op_node_name(op), unary_bw, out, 1, &x, &n));
    if (op == EM_OP_LEAKY_RELU || op == EM_OP_ELU || op == EM_OP_SOFTPLUS)
        if (isnan(alpha)) alpha = op == EM_OP_LEAKY_RELU ? 0.01 : 1.0;
    n->op = op;
    n->alpha = alpha;
    int sv = unary_saves(op);
    em_status st = EM_OK;
    if (sv & 1) st = em__ag_save(n, 0, x, false);
    if (!st && (sv & 2)) st = em__ag_save(n, 1, *out, true);
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

/* ---- binary ------------------------------------------------------------- */
static em_status binary_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em__f f = {0};
    em_op op = (em_op)n->op;
    bool saves = !(op == EM_OP_ADD || op == EM_OP_SUB || op == EM_OP_FLOOR_DIVIDE);
    em_tensor *a = saves ? SAVED(0) : NULL, *b = saves ? SAVED(1) : NULL, *ra = NULL, *rb = NULL;
    switch (op) {
    case EM_OP_ADD: ra = g; rb = g; break;
    case EM_OP_SUB: ra = g; rb = need[1] ? U(NEG, g) : NULL; break;
    case EM_OP_MUL:
        ra = need[0] ? B(MUL, g, b) : NULL;
        rb = need[1] ? B(MUL, g, a) : NULL;
        break;
    case EM_OP_DIV:
        ra = need[0] ? B(DIV, g, b) : NULL;
        rb = need[1] ? U(NEG, B(DIV, B(MUL, g, a), B(MUL, b, b))) : NULL;
        break;
    case EM_OP_POW:
        if (need[0]) /* 0 where b == 0, so 0^-1 does not turn the 0 into NaN */
            ra = em__f_where(&f, BC(EQ, b, 0.0), ZERO(g), B(MUL, g, B(MUL, b, B(POW, a, BC(SUB, b, 1.0)))));
        if (need[1]) /* 0 where a == 0 and b >= 0, the limit of a^b ln a */
            rb = em__f_where(&f, em__f_bin(&f, EM_OP_LOGICAL_AND, BC(EQ, a, 0.0), BC(GE, b, 0.0)), ZERO(g),
                             B(MUL, g, B(MUL, B(POW, a, b), U(LOG, a))));
        break;
    case EM_OP_MAXIMUM: case EM_OP_MINIMUM: {
        /* ties split the gradient evenly, like torch */
        em_tensor *win = op == EM_OP_MAXIMUM ? B(GT, a, b) : B(LT, a, b);
        em_tensor *wa = B(ADD, B(MUL, B(EQ, a, b), em__f_scalar(&f, 0.5, g->dtype)), win);
        ra = need[0] ? B(MUL, g, wa) : NULL;
        rb = need[1] ? B(MUL, g, CB(SUB, 1.0, wa)) : NULL;
        break;
    }
    case EM_OP_ATAN2: {
        em_tensor *d = B(ADD, B(MUL, a, a), B(MUL, b, b));
        ra = need[0] ? B(DIV, B(MUL, g, b), d) : NULL;
        rb = need[1] ? B(DIV, B(MUL, U(NEG, g), a), d) : NULL;
        break;
    }
    case EM_OP_HYPOT: {
        em_tensor *y = B(HYPOT, a, b);
        ra = need[0] ? B(DIV, B(MUL, g, a), y) : NULL;
        rb = need[1] ? B(DIV, B(MUL, g, b), y) : NULL;
        break;
    }
    case EM_OP_LOGADDEXP:
        ra = need[0] ? B(MUL, g, U(SIGMOID, B(SUB, a, b))) : NULL;
        rb = need[1] ? B(MUL, g, U(SIGMOID, B(SUB, b, a))) : NULL;
        break;
    case EM_OP_COPYSIGN:
        if (need[0]) ra = B(MUL, g, em__f_where(&f, BC(EQ, a, 0.0), ZERO(g), B(DIV, B(COPYSIGN, a, b), a)));
        if (need[1]) rb = em__f_zeros(&f, n->in[1].dtype, n->in[1].ndim, n->in[1].shape);
        break;
    case EM_OP_FLOOR_DIVIDE:
        if (need[0]) ra = em__f_zeros(&f, n->in[0].dtype, n->in[0].ndim, n->in[0].shape);
        if (need[1]) rb = em__f_zeros(&f, n->in[1].dtype, n->in[1].ndim, n->in[1].shape);
        break;
    case EM_OP_REMAINDER:
        ra = g;
        rb = need[1] ? B(MUL, U(NEG, g), B(FLOOR_DIVIDE, a, b)) : NULL;
        break;
    default:
        if (!f.st) f.st = em__error(EM_ERR_UNSUPPORTED, "backward: %s is not differentiable", n->name);
    }
    if (need[0]) gin[0] = em__f_take(&f, ra);
    if (need[1]) gin[1] = em__f_take(&f, rb);
    return em__f_done(&f);
}

em_status em__ag_binary(em_op op, const em_tensor *a, const em_tensor *b, em_tensor **out) {
    if (!float_out(*out) || op > EM_OP_COPYSIGN) return EM_OK;
    em__ag_node *n;
    const em_tensor *ins[2] = {a, b};
    EM_TRY(em__ag_record(em__ag_op_node_name(op), binary_bw, out, 2, ins, &n));
    n->op = op;
    em_status st = EM_OK;
    if (!(op == EM_OP_ADD || op == EM_OP_SUB || op == EM_OP_FLOOR_DIVIDE)) {
        st = em__ag_save(n, 0, a, false);
        if (!st) st = em__ag_save(n, 1, b, false);
    }
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

/* ---- where / clip --------------------------------------------------------- */
static em_status where_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em__f f = {0};
    em_tensor *c = SAVED(0);
    if (need[0]) gin[0] = em__f_take(&f, em__f_where(&f, c, g, ZERO(g)));
    if (need[1]) gin[1] = em__f_take(&f, em__f_where(&f, c, ZERO(g), g));
    return em__f_done(&f);
}

em_status em__ag_where(const em_tensor *cond, const em_tensor *a, const em_tensor *b, em_tensor **out) {
    if (!float_out(*out)) return EM_OK;
    em__ag_node *n;
    const em_tensor *ins[2] = {a, b};
    EM_TRY(em__ag_record("WhereBackward0", where_bw, out, 2, ins, &n));
    em_status st = em__ag_save(n, 0, cond, false);
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}

static em_status clip_bw(em__ag_node *n, em_tensor *g, const bool *need, em_tensor **gin) {
    em__f f = {0};
    em_tensor *x = SAVED(0), *lo = n->saved[1] ? SAVED(1) : NULL, *hi = n->saved[2] ? SAVED(2) : NULL;
    if (need[0]) {
        em_tensor *m = NULL;
        if (lo) m = B(GE, x, lo);
        if (hi) m = m ? em__f_bin(&f, EM_OP_LOGICAL_AND, m, B(LE, x, hi)) : B(LE, x, hi);
        gin[0] = em__f_take(&f, em__f_where(&f, m, g, ZERO(g)));
    }
    if (need[1] && lo) gin[1] = em__f_take(&f, em__f_where(&f, B(LT, x, lo), g, ZERO(g)));
    if (need[2] && hi) gin[2] = em__f_take(&f, em__f_where(&f, B(GT, x, hi), g, ZERO(g)));
    return em__f_done(&f);
}

em_status em__ag_clip(const em_tensor *x, const em_tensor *lo, const em_tensor *hi, em_tensor **out) {
    if (!float_out(*out)) return EM_OK;
    em__ag_node *n;
    const em_tensor *ins[3] = {x, lo, hi};
    EM_TRY(em__ag_record("ClampBackward1", clip_bw, out, 3, ins, &n));
    em_status st = em__ag_save(n, 0, x, false);
    if (!st && lo) st = em__ag_save(n, 1, lo, false);
    if (!st && hi) st = em__ag_save(n, 2, hi, false);
    if (st) {
        em_tensor_free(*out);
        *out = NULL;
    }
    return st;
}
