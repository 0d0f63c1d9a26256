/* Tests of gather, index_select, masked_select, nonzero, scatter, index_put,
 * masked_fill and one_hot.  Expected values are written out by hand
 * (NumPy take_along_axis / torch scatter and index_put_ semantics). */
#include <stdint.h>

#include "test.h"
#include "test_util.h"

/* ---- gather / index_select ------------------------------------------------ */

TEST(index_gather_take_along_axis) {
    em_tensor *x = tensor_of(EM_F32, 2, SH(2, 3), V(1, 2, 3, 4, 5, 6)), *o;
    for (int i = 0; i < 4; i++) {
        em_tensor *ix = tensor_of(int_dtypes[i], 2, SH(2, 2), V(2, 0, 1, 1));
        CHECK_OK(em_gather(x, 1, ix, &o));
        CHECK(tensor_equals(o, EM_F32, 2, SH(2, 2), V(3, 1, 5, 5)));
        em_tensor_free(o), em_tensor_free(ix);
    }
    /* axis 0 with negative indices */
    em_tensor *ix = tensor_of(EM_I64, 2, SH(1, 3), V(-1, 0, 1));
    CHECK_OK(em_gather(x, -2, ix, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(1, 3), V(4, 2, 6)));
    em_tensor_free(o), em_tensor_free(ix);
    /* broadcasting: index (2, 1) along axis 0 of x (2, 3) ... */
    ix = tensor_of(EM_I32, 2, SH(3, 1), V(1, 0, 1));
    CHECK_OK(em_gather(x, 0, ix, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(3, 3), V(4, 5, 6, 1, 2, 3, 4, 5, 6)));
    em_tensor_free(o), em_tensor_free(ix);
    /* ... and x broadcast against a wider index: x (2, 1) */
    em_tensor *xc = tensor_of(EM_I64, 2, SH(2, 1), V(7, 8));
    ix = tensor_of(EM_I64, 2, SH(1, 3), V(1, 0, 1));
    CHECK_OK(em_gather(xc, 0, ix, &o));
    CHECK(tensor_equals(o, EM_I64, 2, SH(1, 3), V(8, 7, 8)));
    em_tensor_free(o), em_tensor_free(ix), em_tensor_free(xc);
    /* transposed x and flipped index */
    em_tensor *xt, *ixf;
    CHECK_OK(em_tensor_transpose(x, 0, 1, &xt)); /* [[1,4],[2,5],[3,6]] */
    ix = tensor_of(EM_I64, 2, SH(3, 1), V(0, 1, 1));
    CHECK_OK(em_tensor_flip(ix, NULL, 0, &ixf)); /* [[1],[1],[0]] */
    CHECK_OK(em_gather(xt, 1, ixf, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(3, 1), V(4, 5, 3)));
    em_tensor_free(o), em_tensor_free(ix), em_tensor_free(ixf), em_tensor_free(xt);
    /* every dtype; empty index */
    for (int i = 0; i < 7; i++) {
        em_tensor *a = tensor_of(all_dtypes[i], 1, SH(3), V(0, 1, 1));
        ix = tensor_of(EM_I64, 1, SH(4), V(2, 0, -3, 1));
        CHECK_OK(em_gather(a, 0, ix, &o));
        CHECK(tensor_equals(o, all_dtypes[i], 1, SH(4), V(1, 0, 0, 1)));
        em_tensor_free(o), em_tensor_free(ix), em_tensor_free(a);
    }
    ix = tensor_of(EM_I64, 2, SH(2, 0), V(0));
    CHECK_OK(em_gather(x, 1, ix, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(2, 0), V(0)));
    em_tensor_free(o), em_tensor_free(ix), em_tensor_free(x);
}

TEST(index_gather_errors) {
    em_tensor *x = tensor_of(EM_F32, 2, SH(2, 3), V(1, 2, 3, 4, 5, 6)), *o = NULL;
    em_tensor *bad = tensor_of(EM_I64, 2, SH(2, 2), V(0, 1, 3, 0));
    CHECK_STATUS(em_gather(x, 1, bad, &o), EM_ERR_INDEX);
    CHECK(error_has("index 3 at position (1, 0)") && error_has("axis 1 of size 3"));
    em_tensor *neg = tensor_of(EM_I32, 2, SH(1, 1), V(-4));
    CHECK_STATUS(em_gather(x, 1, neg, &o), EM_ERR_INDEX);
    CHECK(error_has("index -4"));
    em_tensor *fl = tensor_of(EM_F32, 2, SH(1, 1), V(0)), *bo = tensor_of(EM_BOOL, 2, SH(1, 1), V(0));
    CHECK_STATUS(em_gather(x, 1, fl, &o), EM_ERR_DTYPE);
    CHECK_STATUS(em_gather(x, 1, bo, &o), EM_ERR_DTYPE);
    em_tensor *one = tensor_of(EM_I64, 1, SH(1), V(0)), *wide = tensor_of(EM_I64, 2, SH(3, 1), V(0, 0, 0));
    CHECK_STATUS(em_gather(x, 1, one, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_gather(x, 1, wide, &o), EM_ERR_SHAPE); /* 3 vs 2 on axis 0 */
    CHECK_STATUS(em_gather(x, 2, bad, &o), EM_ERR_INDEX);
    CHECK_STATUS(em_gather(x, 1, NULL, &o), EM_ERR_INVALID_ARG);
    CHECK(o == NULL);
    em_tensor_free(x), em_tensor_free(bad), em_tensor_free(neg), em_tensor_free(fl), em_tensor_free(bo);
    em_tensor_free(one), em_tensor_free(wide);
}

TEST(index_select) {
    em_tensor *x = tensor_of(EM_I32, 2, SH(3, 2), V(1, 2, 3, 4, 5, 6)), *o;
    em_tensor *ix = tensor_of(EM_I8, 1, SH(4), V(2, -3, 2, 1));
    CHECK_OK(em_index_select(x, 0, ix, &o));
    CHECK(tensor_equals(o, EM_I32, 2, SH(4, 2), V(5, 6, 1, 2, 5, 6, 3, 4)));
    em_tensor_free(o);
    em_tensor *xt, *ixs;
    CHECK_OK(em_tensor_transpose(x, 0, 1, &xt)); /* [[1,3,5],[2,4,6]] */
    CHECK_OK(em_tensor_slice(ix, 0, 3, -5, -2, &ixs)); /* [1, -3] */
    CHECK_OK(em_index_select(xt, -1, ixs, &o));
    CHECK(tensor_equals(o, EM_I32, 2, SH(2, 2), V(3, 1, 4, 2)));
    em_tensor_free(o), em_tensor_free(xt), em_tensor_free(ixs);
    em_tensor *e = tensor_of(EM_I64, 1, SH(0), V(0));
    CHECK_OK(em_index_select(x, 1, e, &o));
    CHECK(tensor_equals(o, EM_I32, 2, SH(3, 0), V(0)));
    em_tensor_free(o);
    /* errors: value, position, axis and size named */
    em_tensor *bad = tensor_of(EM_I64, 1, SH(3), V(0, 1, 2)), *m = tensor_of(EM_I64, 2, SH(1, 1), V(0));
    em_tensor *s = tensor_of(EM_F32, 0, NULL, V(1));
    o = NULL;
    CHECK_STATUS(em_index_select(x, 1, bad, &o), EM_ERR_INDEX);
    CHECK(error_has("index 2 at position (2,)") && error_has("axis 1 of size 2"));
    CHECK_STATUS(em_index_select(x, 0, m, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_index_select(s, 0, e, &o), EM_ERR_INDEX);
    CHECK_STATUS(em_index_select(x, 0, NULL, &o), EM_ERR_INVALID_ARG);
    CHECK(o == NULL);
    em_tensor_free(x), em_tensor_free(ix), em_tensor_free(e), em_tensor_free(bad), em_tensor_free(m);
    em_tensor_free(s);
}

/* ---- masks ---------------------------------------------------------------- */

TEST(index_masked_select_and_fill) {
    em_tensor *x = tensor_of(EM_F64, 2, SH(2, 3), V(1, 2, 3, 4, 5, 6)), *o;
    em_tensor *row = tensor_of(EM_F32, 1, SH(3), V(0, NAN, -1)); /* truth: 0 1 1, broadcast over rows */
    CHECK_OK(em_masked_select(x, row, &o));
    CHECK(tensor_equals(o, EM_F64, 1, SH(4), V(2, 3, 5, 6)));
    em_tensor_free(o);
    em_tensor *xt, *mb = tensor_of(EM_BOOL, 2, SH(3, 2), V(1, 0, 0, 1, 1, 0));
    CHECK_OK(em_tensor_transpose(x, 0, 1, &xt)); /* [[1,4],[2,5],[3,6]] */
    CHECK_OK(em_masked_select(xt, mb, &o));
    CHECK(tensor_equals(o, EM_F64, 1, SH(3), V(1, 5, 3)));
    em_tensor_free(o);
    for (int i = 0; i < 7; i++) {
        em_tensor *a = tensor_of(all_dtypes[i], 1, SH(3), V(1, 0, 1));
        em_tensor *m = tensor_of(all_dtypes[i], 1, SH(3), V(0, 1, 1));
        CHECK_OK(em_masked_select(a, m, &o));
        CHECK(tensor_equals(o, all_dtypes[i], 1, SH(2), V(0, 1)));
        em_tensor_free(o);
        CHECK_OK(em_masked_fill(a, m, 1));
        CHECK(tensor_equals(a, all_dtypes[i], 1, SH(3), V(1, 1, 1)));
        em_tensor_free(a), em_tensor_free(m);
    }
    /* in place through a transposed view; a 0-d mask broadcasts */
    CHECK_OK(em_masked_fill(xt, mb, -1));
    CHECK(tensor_equals(x, EM_F64, 2, SH(2, 3), V(-1, 2, -1, 4, -1, 6)));
    em_tensor *t0 = tensor_of(EM_I32, 0, NULL, V(3));
    CHECK_OK(em_masked_fill(x, t0, 0.5));
    CHECK(tensor_equals(x, EM_F64, 2, SH(2, 3), V(0.5, 0.5, 0.5, 0.5, 0.5, 0.5)));
    /* masked_fill with a mask aliasing x: the mask is read before any write */
    em_tensor *b = tensor_of(EM_BOOL, 1, SH(4), V(1, 0, 0, 1)), *bf;
    CHECK_OK(em_tensor_flip(b, NULL, 0, &bf));
    CHECK_OK(em_masked_fill(b, bf, 0));
    CHECK(tensor_equals(b, EM_BOOL, 1, SH(4), V(0, 0, 0, 0)));
    /* empty */
    em_tensor *e = tensor_of(EM_F32, 2, SH(0, 3), V(0));
    CHECK_OK(em_masked_select(e, row, &o));
    CHECK(tensor_equals(o, EM_F32, 1, SH(0), V(0)));
    em_tensor_free(o);
    /* errors */
    em_tensor *bad = tensor_of(EM_BOOL, 1, SH(2), V(1, 1));
    o = NULL;
    CHECK_STATUS(em_masked_select(x, bad, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_masked_fill(x, bad, 0), EM_ERR_SHAPE);
    CHECK_STATUS(em_masked_select(row, mb, &o), EM_ERR_SHAPE); /* mask must not grow x */
    CHECK_STATUS(em_masked_select(x, NULL, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_masked_fill(NULL, bad, 0), EM_ERR_INVALID_ARG);
    CHECK(o == NULL);
    em_tensor_free(x), em_tensor_free(row), em_tensor_free(xt), em_tensor_free(mb), em_tensor_free(t0);
    em_tensor_free(b), em_tensor_free(bf), em_tensor_free(e), em_tensor_free(bad);
}

TEST(index_nonzero) {
    em_tensor *x = tensor_of(EM_F32, 2, SH(2, 3), V(0, NAN, 0, -2, 0, 1)), *o;
    CHECK_OK(em_nonzero(x, &o));
    CHECK(tensor_equals(o, EM_I64, 2, SH(3, 2), V(0, 1, 1, 0, 1, 2)));
    em_tensor_free(o);
    em_tensor *xt;
    CHECK_OK(em_tensor_transpose(x, 0, 1, &xt)); /* [[0,-2],[nan,0],[0,1]] */
    CHECK_OK(em_nonzero(xt, &o));
    CHECK(tensor_equals(o, EM_I64, 2, SH(3, 2), V(0, 1, 1, 0, 2, 1)));
    em_tensor_free(o), em_tensor_free(xt);
    for (int i = 0; i < 7; i++) {
        em_tensor *a = tensor_of(all_dtypes[i], 1, SH(4), V(1, 0, 0, 1));
        CHECK_OK(em_nonzero(a, &o));
        CHECK(tensor_equals(o, EM_I64, 2, SH(2, 1), V(0, 3)));
        em_tensor_free(o), em_tensor_free(a);
    }
    em_tensor *s1 = tensor_of(EM_I32, 0, NULL, V(5)), *s0 = tensor_of(EM_I32, 0, NULL, V(0));
    em_tensor *e = tensor_of(EM_U8, 2, SH(2, 0), V(0));
    CHECK_OK(em_nonzero(s1, &o));
    CHECK(tensor_equals(o, EM_I64, 2, SH(1, 0), V(0)));
    em_tensor_free(o);
    CHECK_OK(em_nonzero(s0, &o));
    CHECK(tensor_equals(o, EM_I64, 2, SH(0, 0), V(0)));
    em_tensor_free(o);
    CHECK_OK(em_nonzero(e, &o));
    CHECK(tensor_equals(o, EM_I64, 2, SH(0, 2), V(0)));
    em_tensor_free(o);
    CHECK_STATUS(em_nonzero(NULL, &o), EM_ERR_INVALID_ARG);
    em_tensor_free(x), em_tensor_free(s1), em_tensor_free(s0), em_tensor_free(e);
}

/* ---- scatter -------------------------------------------------------------- */

TEST(index_scatter) {
    em_tensor *x = tensor_of(EM_F32, 2, SH(2, 3), V(0, 0, 0, 0, 0, 0)), *o;
    em_tensor *src = tensor_of(EM_F32, 2, SH(2, 3), V(1, 2, 3, 4, 5, 6));
    /* index smaller than src: only src[:, :2] is used; repeated index 0 in row 0 */
    em_tensor *ix = tensor_of(EM_I64, 2, SH(2, 2), V(0, 0, 2, -1));
    CHECK_OK(em_scatter(x, 1, ix, src, EM_SCATTER_NONE, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(2, 3), V(2, 0, 0, 0, 0, 5))); /* last write wins */
    em_tensor_free(o);
    CHECK_OK(em_scatter(x, 1, ix, src, EM_SCATTER_ADD, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(2, 3), V(3, 0, 0, 0, 0, 9)));
    em_tensor_free(o);
    CHECK(tensor_equals(x, EM_F32, 2, SH(2, 3), V(0, 0, 0, 0, 0, 0))); /* x unchanged */
    /* axis 0 with transposed src */
    em_tensor *st;
    CHECK_OK(em_tensor_transpose(src, 0, 1, &st)); /* [[1,4],[2,5],[3,6]] */
    em_tensor *x3 = tensor_of(EM_F32, 2, SH(2, 2), V(9, 9, 9, 9));
    em_tensor *ix2 = tensor_of(EM_I32, 2, SH(3, 2), V(1, 0, 0, 0, 1, 1));
    CHECK_OK(em_scatter(x3, 0, ix2, st, EM_SCATTER_ADD, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(2, 2), V(11, 18, 13, 15)));
    em_tensor_free(o);
    CHECK_OK(em_scatter(x3, -2, ix2, st, EM_SCATTER_NONE, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(2, 2), V(2, 5, 3, 6)));
    em_tensor_free(o);
    /* every dtype; integer adds wrap */
    for (int i = 0; i < 7; i++) {
        em_dtype dt = all_dtypes[i];
        em_tensor *a = tensor_of(dt, 1, SH(3), V(0, 1, 0)), *s = tensor_of(dt, 1, SH(3), V(1, 1, 1));
        em_tensor *j = tensor_of(EM_I64, 1, SH(3), V(2, 2, 0));
        CHECK_OK(em_scatter(a, 0, j, s, EM_SCATTER_NONE, &o));
        CHECK(tensor_equals(o, dt, 1, SH(3), V(1, 1, 1)));
        em_tensor_free(o);
        CHECK_OK(em_scatter(a, 0, j, s, EM_SCATTER_ADD, &o));
        CHECK(tensor_equals(o, dt, 1, SH(3), V(1, 1, dt == EM_BOOL ? 1 : 2)));
        em_tensor_free(o), em_tensor_free(a), em_tensor_free(s), em_tensor_free(j);
    }
    em_tensor *big = tensor_of(EM_I32, 1, SH(1), V(INT32_MAX)), *one = tensor_of(EM_I32, 1, SH(1), V(1));
    em_tensor *z = tensor_of(EM_I64, 1, SH(1), V(0));
    CHECK_OK(em_scatter(big, 0, z, one, EM_SCATTER_ADD, &o));
    CHECK(tensor_equals(o, EM_I32, 1, SH(1), V(INT32_MIN)));
    em_tensor_free(o);
    /* empty index: a copy */
    em_tensor *ie = tensor_of(EM_I64, 2, SH(0, 2), V(0));
    CHECK_OK(em_scatter(x, 1, ie, src, EM_SCATTER_ADD, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(2, 3), V(0, 0, 0, 0, 0, 0)));
    em_tensor_free(o);
    /* errors */
    em_tensor *ib = tensor_of(EM_I64, 2, SH(1, 1), V(3)), *ilarge = tensor_of(EM_I64, 2, SH(3, 1), V(0, 0, 0));
    em_tensor *sd = tensor_of(EM_F64, 2, SH(2, 3), V(1, 2, 3, 4, 5, 6));
    o = NULL;
    CHECK_STATUS(em_scatter(x, 1, ib, src, EM_SCATTER_NONE, &o), EM_ERR_INDEX);
    CHECK(error_has("index 3 at position (0, 0)") && error_has("axis 1 of size 3"));
    CHECK_STATUS(em_scatter(x, 1, ilarge, src, EM_SCATTER_NONE, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_scatter(x, 1, ix, sd, EM_SCATTER_NONE, &o), EM_ERR_DTYPE);
    CHECK_STATUS(em_scatter(x, 1, z, src, EM_SCATTER_NONE, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_scatter(x, 1, ix, src, (em_scatter_reduce)5, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_scatter(x, 2, ix, src, EM_SCATTER_NONE, &o), EM_ERR_INDEX);
    CHECK_STATUS(em_scatter(x, 1, src, src, EM_SCATTER_NONE, &o), EM_ERR_DTYPE);
    CHECK(o == NULL);
    em_tensor_free(x), em_tensor_free(src), em_tensor_free(ix), em_tensor_free(st);
    em_tensor_free(x3), em_tensor_free(ix2), em_tensor_free(big), em_tensor_free(one), em_tensor_free(z);
    em_tensor_free(ie), em_tensor_free(ib), em_tensor_free(ilarge), em_tensor_free(sd);
}

/* ---- index_put ------------------------------------------------------------ */

TEST(index_put) {
    em_tensor *x = tensor_of(EM_F32, 2, SH(3, 2), V(0, 0, 0, 0, 0, 0));
    /* x[[0, 2, 0]] = rows of values; the repeated row: last write wins */
    em_tensor *i0 = tensor_of(EM_I64, 1, SH(3), V(0, 2, -3));
    em_tensor *vals = tensor_of(EM_F32, 2, SH(3, 2), V(1, 2, 3, 4, 5, 6));
    CHECK_OK(em_index_put(x, (const em_tensor *[]){i0}, 1, vals, false));
    CHECK(tensor_equals(x, EM_F32, 2, SH(3, 2), V(5, 6, 0, 0, 3, 4)));
    CHECK_OK(em_index_put(x, (const em_tensor *[]){i0}, 1, vals, true));
    CHECK(tensor_equals(x, EM_F32, 2, SH(3, 2), V(11, 14, 0, 0, 6, 8)));
    /* two broadcast index tensors: rows (2,1) x cols (1,2) -> a 2x2 block */
    em_tensor *r = tensor_of(EM_I32, 2, SH(2, 1), V(1, 2)), *c = tensor_of(EM_U8, 2, SH(1, 2), V(1, 0));
    em_tensor *v0 = tensor_of(EM_I64, 0, NULL, V(-1)); /* other dtype, 0-d: broadcast and cast */
    CHECK_OK(em_index_put(x, (const em_tensor *[]){r, c}, 2, v0, false));
    CHECK(tensor_equals(x, EM_F32, 2, SH(3, 2), V(11, 14, -1, -1, -1, -1)));
    /* accumulate with duplicates in C order, through a transposed x */
    em_tensor *y = tensor_of(EM_I64, 2, SH(2, 3), V(0, 0, 0, 0, 0, 0)), *yt;
    CHECK_OK(em_tensor_transpose(y, 0, 1, &yt)); /* (3, 2) view */
    em_tensor *j0 = tensor_of(EM_I64, 1, SH(4), V(1, 1, 2, 1)), *j1 = tensor_of(EM_I64, 1, SH(4), V(0, 0, 1, -2));
    em_tensor *w = tensor_of(EM_I64, 1, SH(4), V(1, 10, 100, 1000));
    CHECK_OK(em_index_put(yt, (const em_tensor *[]){j0, j1}, 2, w, true));
    CHECK(tensor_equals(y, EM_I64, 2, SH(2, 3), V(0, 1011, 0, 0, 0, 100)));
    CHECK_OK(em_index_put(yt, (const em_tensor *[]){j0, j1}, 2, w, false));
    CHECK(tensor_equals(y, EM_I64, 2, SH(2, 3), V(0, 1000, 0, 0, 0, 100)));
    /* values aliasing x are read before any write: y[[0, 1]] = y[[1, 0]] */
    em_tensor *z = tensor_of(EM_I32, 1, SH(2), V(7, 8)), *zf;
    CHECK_OK(em_tensor_flip(z, NULL, 0, &zf));
    em_tensor *k01 = tensor_of(EM_I64, 1, SH(2), V(0, 1));
    CHECK_OK(em_index_put(z, (const em_tensor *[]){k01}, 1, zf, false));
    CHECK(tensor_equals(z, EM_I32, 1, SH(2), V(8, 7)));
    /* every dtype; empty index */
    for (int i = 0; i < 7; i++) {
        em_tensor *a = tensor_of(all_dtypes[i], 1, SH(3), V(0, 0, 1)), *one = tensor_of(all_dtypes[i], 0, NULL, V(1));
        em_tensor *k = tensor_of(EM_I64, 1, SH(2), V(1, 1));
        CHECK_OK(em_index_put(a, (const em_tensor *[]){k}, 1, one, true));
        CHECK(tensor_equals(a, all_dtypes[i], 1, SH(3), V(0, all_dtypes[i] == EM_BOOL ? 1 : 2, 1)));
        em_tensor_free(a), em_tensor_free(one), em_tensor_free(k);
    }
    em_tensor *ke = tensor_of(EM_I64, 1, SH(0), V(0));
    CHECK_OK(em_index_put(z, (const em_tensor *[]){ke}, 1, v0, true));
    CHECK(tensor_equals(z, EM_I32, 1, SH(2), V(8, 7)));
    /* errors */
    em_tensor *kb = tensor_of(EM_I64, 1, SH(2), V(0, 2)), *mb = tensor_of(EM_BOOL, 1, SH(2), V(1, 0));
    em_tensor *k3 = tensor_of(EM_I64, 1, SH(3), V(0, 0, 0)), *v3 = tensor_of(EM_I32, 1, SH(3), V(1, 2, 3));
    CHECK_STATUS(em_index_put(z, (const em_tensor *[]){kb}, 1, v0, false), EM_ERR_INDEX);
    CHECK(error_has("index 2 at position (1,)") && error_has("axis 0 of size 2"));
    CHECK_STATUS(em_index_put(z, (const em_tensor *[]){mb}, 1, v0, false), EM_ERR_DTYPE);
    CHECK(error_has("em_nonzero"));
    CHECK_STATUS(em_index_put(z, (const em_tensor *[]){k01, k01}, 2, v0, false), EM_ERR_INDEX);
    CHECK_STATUS(em_index_put(z, (const em_tensor *[]){k01}, 1, v3, false), EM_ERR_SHAPE);
    CHECK_STATUS(em_index_put(x, (const em_tensor *[]){k01, k3}, 2, v0, false), EM_ERR_SHAPE);
    CHECK_STATUS(em_index_put(z, (const em_tensor *[]){NULL}, 1, v0, false), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_index_put(z, NULL, 1, v0, false), EM_ERR_INVALID_ARG);
    CHECK(tensor_equals(z, EM_I32, 1, SH(2), V(8, 7)));
    em_tensor_free(x), em_tensor_free(i0), em_tensor_free(vals), em_tensor_free(r), em_tensor_free(c);
    em_tensor_free(v0), em_tensor_free(y), em_tensor_free(yt), em_tensor_free(j0), em_tensor_free(j1);
    em_tensor_free(w), em_tensor_free(z), em_tensor_free(zf), em_tensor_free(k01), em_tensor_free(ke);
    em_tensor_free(kb), em_tensor_free(mb), em_tensor_free(k3), em_tensor_free(v3);
}

/* ---- one_hot -------------------------------------------------------------- */

TEST(index_one_hot) {
    for (int i = 0; i < 4; i++) {
        em_tensor *ix = tensor_of(int_dtypes[i], 1, SH(3), V(2, 0, 1)), *o;
        CHECK_OK(em_one_hot(ix, -1, &o));
        CHECK(tensor_equals(o, EM_I64, 2, SH(3, 3), V(0, 0, 1, 1, 0, 0, 0, 1, 0)));
        em_tensor_free(o);
        CHECK_OK(em_one_hot(ix, 4, &o));
        CHECK(tensor_equals(o, EM_I64, 2, SH(3, 4), V(0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0)));
        em_tensor_free(o), em_tensor_free(ix);
    }
    em_tensor *m = tensor_of(EM_I32, 2, SH(2, 2), V(0, 1, 1, 0)), *mf, *o;
    CHECK_OK(em_tensor_flip(m, (const int[]){1}, 1, &mf)); /* [[1,0],[0,1]] */
    CHECK_OK(em_one_hot(mf, 2, &o));
    CHECK(tensor_equals(o, EM_I64, 3, SH(2, 2, 2), V(0, 1, 1, 0, 1, 0, 0, 1)));
    em_tensor_free(o);
    em_tensor *s = tensor_of(EM_I64, 0, NULL, V(1)), *e = tensor_of(EM_I64, 1, SH(0), V(0));
    CHECK_OK(em_one_hot(s, 3, &o));
    CHECK(tensor_equals(o, EM_I64, 1, SH(3), V(0, 1, 0)));
    em_tensor_free(o);
    CHECK_OK(em_one_hot(e, 3, &o));
    CHECK(tensor_equals(o, EM_I64, 2, SH(0, 3), V(0)));
    em_tensor_free(o);
    /* errors */
    em_tensor *neg = tensor_of(EM_I8, 1, SH(2), V(0, -1)), *f = tensor_of(EM_F32, 1, SH(1), V(0));
    em_tensor *big, *b = tensor_of(EM_BOOL, 1, SH(1), V(1));
    CHECK_OK(em_tensor_zeros(EM_I64, 8, SH(1, 1, 1, 1, 1, 1, 1, 1), &big));
    o = NULL;
    CHECK_STATUS(em_one_hot(m, 1, &o), EM_ERR_INDEX);
    CHECK(error_has("index 1 at position (0, 1)") && error_has("size 1"));
    CHECK_STATUS(em_one_hot(neg, -1, &o), EM_ERR_INDEX);
    CHECK(error_has("index -1 at position (1,)"));
    CHECK_STATUS(em_one_hot(neg, 5, &o), EM_ERR_INDEX);
    CHECK_STATUS(em_one_hot(f, 2, &o), EM_ERR_DTYPE);
    CHECK_STATUS(em_one_hot(b, 2, &o), EM_ERR_DTYPE);
    CHECK_STATUS(em_one_hot(e, -1, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_one_hot(big, 2, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_one_hot(NULL, 2, &o), EM_ERR_INVALID_ARG);
    CHECK(o == NULL);
    em_tensor_free(m), em_tensor_free(mf), em_tensor_free(s), em_tensor_free(e);
    em_tensor_free(neg), em_tensor_free(f), em_tensor_free(big), em_tensor_free(b);
}

/* ---- out of memory -------------------------------------------------------- */

static em_tensor *oom_x, *oom_ix, *oom_mask;
static em_status oom_ops(void) {
    em_tensor *o = NULL;
    em_status st = em_gather(oom_x, 1, oom_ix, &o);
    em_tensor_free(o), o = NULL;
    if (!st) st = em_scatter(oom_x, 1, oom_ix, oom_x, EM_SCATTER_ADD, &o);
    em_tensor_free(o), o = NULL;
    if (!st) st = em_index_put(oom_x, (const em_tensor *[]){oom_ix, oom_ix}, 2, oom_x, true);
    if (!st) st = em_masked_select(oom_x, oom_mask, &o);
    em_tensor_free(o), o = NULL;
    if (!st) st = em_masked_fill(oom_x, oom_mask, 1);
    if (!st) st = em_nonzero(oom_x, &o);
    em_tensor_free(o), o = NULL;
    if (!st) st = em_one_hot(oom_ix, -1, &o);
    em_tensor_free(o), o = NULL;
    if (!st) {
        em_tensor *row;
        if (!(st = em_tensor_select(oom_ix, 0, 0, &row))) {
            st = em_index_select(oom_x, 0, row, &o);
            em_tensor_free(row);
        }
    }
    em_tensor_free(o);
    return st;
}

TEST(index_out_of_memory) {
    oom_x = tensor_of(EM_F32, 2, SH(2, 2), V(1, 0, 3, 4));
    oom_ix = tensor_of(EM_I32, 2, SH(2, 2), V(1, 0, 0, 1));
    oom_mask = tensor_of(EM_F32, 1, SH(2), V(1, 0));
    oom_sweep(oom_ops);
    em_tensor_free(oom_x), em_tensor_free(oom_ix), em_tensor_free(oom_mask);
}
