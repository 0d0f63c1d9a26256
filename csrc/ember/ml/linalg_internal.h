/* linalg_internal.h — shared internals of the dense linear algebra in
 * csrc/ember/ml (see docs/linalg.md for the algorithms).
 *
 * Every routine works on one matrix at a time in a private, contiguous
 * row-major work buffer of its own dtype T (float or double); the public
 * functions (linalg_<family>.c) copy each batch matrix in from any strides,
 * run the typed kernel and write contiguous results.  The typed code lives in
 * linalg_<family>_t.h templates that linalg_inst.h instantiates for float
 * (suffix _f32) and double (_f64). */
#ifndef EMBER_ML_LINALG_INTERNAL_H
#define EMBER_ML_LINALG_INTERNAL_H

#include "../internal.h"

/* ---- batching (linalg_common.c) ----------------------------------------- */
/* Prepares an operand: x must have at least `core` dims; floats are kept
 * (a new reference), anything else is cast to `dt` (float32 unless the other
 * operand is float64).  Errors name op and x. */
em_status em__la_operand(const char *op, const char *what, const em_tensor *x, int core, em_dtype dt,
                         em_tensor **out);
/* Broadcast batch shape of x (core trailing dims) and y (ycore trailing dims,
 * y may be NULL) into shape/nb; errors name op. */
em_status em__la_batch_shape(const char *op, const em_tensor *x, int core, const em_tensor *y, int ycore,
                             int64_t *shape, int *nb);
/* Errors unless x's matrices (its last two dims) are square; names op. */
em_status em__la_check_square(const char *op, const em_tensor *x);
/* The one operand x0 of a single-matrix op: em__la_operand (float32 for
 * non-floats) into *x, checked square when `square`, and its batch shape
 * into bshape/nb.  On failure *x is NULL. */
em_status em__la_matrix(const char *op, const em_tensor *x0, bool square, em_tensor **x, int64_t *bshape, int *nb);
/* Element offset (from em__ptr(x)) of batch item b of the batch shape
 * (nb, bshape), x's batch dims right-aligned and broadcast. */
int64_t em__la_boff(const em_tensor *x, int core, int nb, const int64_t *bshape, int64_t b);
/* New contiguous tensor of shape batch + tail. */
em_status em__la_new(em_dtype dt, int nb, const int64_t *bshape, int ntail, const int64_t *tail,
                     em_tensor **out);
/* Rejects NaN/inf in a work matrix (iterative methods: eigh, svd). */
bool em__la_finite_f32(int64_t n, const float *a);
bool em__la_finite_f64(int64_t n, const double *a);

/* dst (rows x cols row-major, or cols x rows if trans) = the matrix of x
 * (its last two dims; for a 1-D core, a column) at element offset off. */
#define EM__LA_DECLS(T, S)                                                                                  \
    void em__la_load_##S(const em_tensor *x, int core, int64_t off, T *dst, bool trans);                  \
    /* Householder QR of the m x n matrix A given transposed: at is n x m row-major \
     * (row j = column j of A).  On exit at[j*m + i] = R[i][j] for i <= j and the \
     * reflector v_j (v_j[j] = 1 implied) below; tau has min(m, n) entries. */   \
    void em__la_qr_##S(int64_t m, int64_t n, T *at, T *tau);                                                \
    /* Columns stored as rows: c is ncols x m.  qt: c = Q^T c; q: c = Q c, with \
     * Q = H_0 ... H_{k-1} from em__la_qr. */                                  \
    void em__la_qr_apply_qt_##S(int64_t m, int64_t k, const T *at, const T *tau, T *c, int64_t ncols);     \
    void em__la_qr_apply_q_##S(int64_t m, int64_t k, const T *at, const T *tau, T *c, int64_t ncols);      \
    /* SVD of the m x n (m >= n) row-major a: s[n] descending; if ut: its rows \
     * are the left singular vectors (n rows, or m if full); if vt: n x n = V^T. \
     * Sets *noconv when the Jacobi sweeps hit their cap. */                    \
    em_status em__la_svd_##S(int64_t m, int64_t n, const T *a, T *s, T *ut, bool full, T *vt, bool *noconv);

EM__LA_DECLS(float, f32)
EM__LA_DECLS(double, f64)

#endif
