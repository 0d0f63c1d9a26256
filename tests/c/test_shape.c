/* Tests of concat, stack, split, pad, roll, repeat, tile, tril, triu.
 * Expected values are written out by hand (NumPy semantics). */
#include <stdint.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

#define NV(...) (int)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double))

/* 0, 1, 2, ... as dtype dt (values kept small so every dtype holds them). */
static em_tensor *iota(em_dtype dt, int nd, const int64_t *shape) {
    double v[256];
    for (int i = 0; i < 256; i++) v[i] = dt == EM_BOOL ? i % 2 : i % 100;
    return tensor_of(dt, nd, shape, v);
}

/* ---- concat / stack / split --------------------------------------------- */

TEST(shape_concat_promotes_and_handles_views) {
    em_tensor *a = tensor_of(EM_F32, 2, SH(2, 2), V(1, 2, 3, 4));
    em_tensor *b = tensor_of(EM_I32, 2, SH(2, 1), V(5, 6));
    em_tensor *o = NULL;
    CHECK_OK(em_concat((const em_tensor *[]){a, b}, 2, -1, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(2, 3), V(1, 2, 5, 3, 4, 6)));
    em_tensor_free(o);
    /* transposed and flipped inputs along axis 0 */
    em_tensor *at, *af;
    CHECK_OK(em_tensor_transpose(a, 0, 1, &at));
    CHECK_OK(em_tensor_flip(a, (const int[]){0}, 1, &af));
    CHECK_OK(em_concat((const em_tensor *[]){at, af}, 2, 0, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(4, 2), V(1, 3, 2, 4, 3, 4, 1, 2)));
    em_tensor_free(o);
    /* u8 with i8 promotes to i32; an empty input contributes nothing */
    em_tensor *u = tensor_of(EM_U8, 1, SH(2), V(200, 7)), *s = tensor_of(EM_I8, 1, SH(1), V(-3));
    em_tensor *e = tensor_of(EM_U8, 1, SH(0), V(0));
    CHECK_OK(em_concat((const em_tensor *[]){u, e, s}, 3, 0, &o));
    CHECK(tensor_equals(o, em_promote_types(EM_U8, EM_I8), 1, SH(3), V(200, 7, -3)));
    em_tensor_free(o);
    CHECK_OK(em_concat((const em_tensor *[]){e}, 1, 0, &o));
    CHECK(tensor_equals(o, EM_U8, 1, SH(0), V(0)));
    em_tensor_free(o);
    em_tensor_free(a), em_tensor_free(b), em_tensor_free(at), em_tensor_free(af);
    em_tensor_free(u), em_tensor_free(s), em_tensor_free(e);
}

TEST(shape_concat_every_dtype) {
    for (int i = 0; i < 7; i++) {
        em_dtype dt = all_dtypes[i];
        em_tensor *a = tensor_of(dt, 2, SH(1, 2), V(1, 0)), *b = tensor_of(dt, 2, SH(1, 2), V(0, 1)), *o = NULL;
        CHECK_OK(em_concat((const em_tensor *[]){a, b}, 2, 0, &o));
        CHECK(tensor_equals(o, dt, 2, SH(2, 2), V(1, 0, 0, 1)));
        em_tensor_free(o), em_tensor_free(a), em_tensor_free(b);
    }
}

TEST(shape_concat_errors) {
    em_tensor *a = tensor_of(EM_F32, 2, SH(2, 2), V(1, 2, 3, 4)), *b = tensor_of(EM_F32, 2, SH(3, 1), V(1, 2, 3));
    em_tensor *z = tensor_of(EM_F32, 0, NULL, V(1)), *c = tensor_of(EM_F32, 1, SH(4), V(1, 2, 3, 4)), *o = NULL;
    CHECK_STATUS(em_concat((const em_tensor *[]){a}, 0, 0, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_concat(NULL, 1, 0, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_concat((const em_tensor *[]){a, NULL}, 2, 0, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_concat((const em_tensor *[]){a, b}, 2, 1, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_concat((const em_tensor *[]){a, c}, 2, 0, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_concat((const em_tensor *[]){z, z}, 2, 0, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_concat((const em_tensor *[]){a, a}, 2, 2, &o), EM_ERR_INDEX);
    CHECK_STATUS(em_concat((const em_tensor *[]){a, a}, 2, -3, &o), EM_ERR_INDEX);
    CHECK(o == NULL);
    em_tensor_free(a), em_tensor_free(b), em_tensor_free(z), em_tensor_free(c);
}

TEST(shape_stack) {
    em_tensor *a = tensor_of(EM_I64, 2, SH(2, 2), V(1, 2, 3, 4));
    em_tensor *b = tensor_of(EM_F64, 2, SH(2, 2), V(5, 6, 7, 8)), *o;
    CHECK_OK(em_stack((const em_tensor *[]){a, b}, 2, 0, &o));
    CHECK(tensor_equals(o, EM_F64, 3, SH(2, 2, 2), V(1, 2, 3, 4, 5, 6, 7, 8)));
    em_tensor_free(o);
    CHECK_OK(em_stack((const em_tensor *[]){a, b}, 2, 1, &o));
    CHECK(tensor_equals(o, EM_F64, 3, SH(2, 2, 2), V(1, 2, 5, 6, 3, 4, 7, 8)));
    em_tensor_free(o);
    em_tensor *bt;
    CHECK_OK(em_tensor_transpose(b, 0, 1, &bt));
    CHECK_OK(em_stack((const em_tensor *[]){a, bt}, 2, -1, &o));
    CHECK(tensor_equals(o, EM_F64, 3, SH(2, 2, 2), V(1, 5, 2, 7, 3, 6, 4, 8)));
    em_tensor_free(o);
    /* 0-d inputs give a vector; empty inputs an empty result */
    em_tensor *s = tensor_of(EM_I32, 0, NULL, V(9)), *e = tensor_of(EM_I32, 2, SH(0, 3), V(0));
    CHECK_OK(em_stack((const em_tensor *[]){s, s, s}, 3, -1, &o));
    CHECK(tensor_equals(o, EM_I32, 1, SH(3), V(9, 9, 9)));
    em_tensor_free(o);
    CHECK_OK(em_stack((const em_tensor *[]){e, e}, 2, 2, &o));
    CHECK(tensor_equals(o, EM_I32, 3, SH(0, 3, 2), V(0)));
    em_tensor_free(o);
    /* errors */
    em_tensor *c = tensor_of(EM_I64, 2, SH(2, 3), V(1, 2, 3, 4, 5, 6)), *big;
    CHECK_OK(em_tensor_zeros(EM_F32, 8, SH(1, 1, 1, 1, 1, 1, 1, 1), &big));
    o = NULL;
    CHECK_STATUS(em_stack((const em_tensor *[]){a, c}, 2, 0, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_stack((const em_tensor *[]){a, s}, 2, 0, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_stack((const em_tensor *[]){a, a}, 2, 3, &o), EM_ERR_INDEX);
    CHECK_STATUS(em_stack((const em_tensor *[]){a, a}, 2, -4, &o), EM_ERR_INDEX);
    CHECK_STATUS(em_stack((const em_tensor *[]){big}, 1, 0, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_stack((const em_tensor *[]){a}, 0, 0, &o), EM_ERR_INVALID_ARG);
    CHECK(o == NULL);
    em_tensor_free(a), em_tensor_free(b), em_tensor_free(bt), em_tensor_free(s), em_tensor_free(e);
    em_tensor_free(c), em_tensor_free(big);
}

TEST(shape_split_returns_views) {
    em_tensor *x = iota(EM_F32, 2, SH(2, 3)), *parts[3];
    CHECK_OK(em_split(x, -1, SH(1, 0, 2), 3, parts));
    CHECK(tensor_equals(parts[0], EM_F32, 2, SH(2, 1), V(0, 3)));
    CHECK(tensor_equals(parts[1], EM_F32, 2, SH(2, 0), V(0)));
    CHECK(tensor_equals(parts[2], EM_F32, 2, SH(2, 2), V(1, 2, 4, 5)));
    for (int i = 0; i < 3; i++) CHECK(em_tensor_shares_storage(parts[i], x));
    /* writing through a view changes x */
    CHECK_OK(em_tensor_fill(parts[2], 7));
    CHECK(tensor_equals(x, EM_F32, 2, SH(2, 3), V(0, 7, 7, 3, 7, 7)));
    for (int i = 0; i < 3; i++) em_tensor_free(parts[i]);
    /* a flipped input: the views follow its strides */
    em_tensor *f;
    CHECK_OK(em_tensor_flip(x, (const int[]){1}, 1, &f));
    CHECK_OK(em_split(f, 1, SH(2, 1), 2, parts));
    CHECK(tensor_equals(parts[0], EM_F32, 2, SH(2, 2), V(7, 7, 7, 7)));
    CHECK(tensor_equals(parts[1], EM_F32, 2, SH(2, 1), V(0, 3)));
    CHECK(em_tensor_shares_storage(parts[1], x));
    em_tensor_free(parts[0]), em_tensor_free(parts[1]), em_tensor_free(f);
    /* errors leave outs untouched */
    em_tensor *sentinel = (em_tensor *)&parts;
    parts[0] = parts[1] = sentinel;
    CHECK_STATUS(em_split(x, 1, SH(2, 2), 2, parts), EM_ERR_SHAPE);
    CHECK_STATUS(em_split(x, 1, SH(4, -1), 2, parts), EM_ERR_SHAPE);
    CHECK_STATUS(em_split(x, 1, SH(1, 1), 2, parts), EM_ERR_SHAPE);
    CHECK_STATUS(em_split(x, 2, SH(1, 1), 2, parts), EM_ERR_INDEX);
    CHECK_STATUS(em_split(x, 1, SH(3), -1, parts), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_split(x, 1, NULL, 2, parts), EM_ERR_INVALID_ARG);
    CHECK(parts[0] == sentinel && parts[1] == sentinel);
    CHECK_OK(em_split(x, 0, SH(2), 1, parts));
    CHECK(tensor_equals(parts[0], EM_F32, 2, SH(2, 3), V(0, 7, 7, 3, 7, 7)));
    em_tensor_free(parts[0]);
    em_tensor_free(x);
}

/* ---- pad ------------------------------------------------------------------ */

TEST(shape_pad_modes_1d) {
    em_tensor *x = tensor_of(EM_I32, 1, SH(4), V(1, 2, 3, 4)), *o;
    CHECK_OK(em_pad(x, SH(2, 3), EM_PAD_CONSTANT, -7, &o));
    CHECK(tensor_equals(o, EM_I32, 1, SH(9), V(-7, -7, 1, 2, 3, 4, -7, -7, -7)));
    em_tensor_free(o);
    CHECK_OK(em_pad(x, SH(2, 3), EM_PAD_REFLECT, 0, &o));
    CHECK(tensor_equals(o, EM_I32, 1, SH(9), V(3, 2, 1, 2, 3, 4, 3, 2, 1)));
    em_tensor_free(o);
    CHECK_OK(em_pad(x, SH(2, 3), EM_PAD_REPLICATE, 0, &o));
    CHECK(tensor_equals(o, EM_I32, 1, SH(9), V(1, 1, 1, 2, 3, 4, 4, 4, 4)));
    em_tensor_free(o);
    CHECK_OK(em_pad(x, SH(4, 3), EM_PAD_CIRCULAR, 0, &o));
    CHECK(tensor_equals(o, EM_I32, 1, SH(11), V(1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3)));
    em_tensor_free(o);
    /* reversed input */
    em_tensor *f;
    CHECK_OK(em_tensor_flip(x, NULL, 0, &f));
    CHECK_OK(em_pad(f, SH(1, 2), EM_PAD_REFLECT, 0, &o));
    CHECK(tensor_equals(o, EM_I32, 1, SH(7), V(3, 4, 3, 2, 1, 2, 3)));
    em_tensor_free(o), em_tensor_free(f), em_tensor_free(x);
}

TEST(shape_pad_2d_and_dtypes) {
    /* reflect on both axes of a transposed matrix [[1,2,3],[4,5,6]] */
    em_tensor *x = tensor_of(EM_F64, 2, SH(3, 2), V(1, 4, 2, 5, 3, 6)), *xt, *o;
    CHECK_OK(em_tensor_transpose(x, 0, 1, &xt));
    CHECK_OK(em_pad(xt, SH(1, 1, 2, 1), EM_PAD_REFLECT, 0, &o));
    CHECK(tensor_equals(o, EM_F64, 2, SH(4, 6),
               V(6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2)));
    em_tensor_free(o);
    CHECK_OK(em_pad(xt, SH(0, 1, 1, 1), EM_PAD_CIRCULAR, 0, &o));
    CHECK(tensor_equals(o, EM_F64, 2, SH(3, 5), V(3, 1, 2, 3, 1, 6, 4, 5, 6, 4, 3, 1, 2, 3, 1)));
    em_tensor_free(o);
    CHECK_OK(em_pad(xt, SH(1, 0, 0, 2), EM_PAD_REPLICATE, 0, &o));
    CHECK(tensor_equals(o, EM_F64, 2, SH(3, 5), V(1, 2, 3, 3, 3, 1, 2, 3, 3, 3, 4, 5, 6, 6, 6)));
    em_tensor_free(o), em_tensor_free(xt), em_tensor_free(x);
    for (int i = 0; i < 7; i++) {
        em_tensor *a = tensor_of(all_dtypes[i], 2, SH(1, 2), V(1, 0));
        CHECK_OK(em_pad(a, SH(1, 0, 0, 1), EM_PAD_CONSTANT, 1, &o));
        CHECK(tensor_equals(o, all_dtypes[i], 2, SH(2, 3), V(1, 1, 1, 1, 0, 1)));
        em_tensor_free(o), em_tensor_free(a);
    }
    /* 0-d: nothing to pad; empty axis: constant padding only */
    em_tensor *s = tensor_of(EM_F32, 0, NULL, V(2.5)), *e = tensor_of(EM_F32, 1, SH(0), V(0));
    CHECK_OK(em_pad(s, NULL, EM_PAD_REFLECT, 0, &o));
    CHECK(tensor_equals(o, EM_F32, 0, NULL, V(2.5)));
    em_tensor_free(o);
    CHECK_OK(em_pad(e, SH(1, 2), EM_PAD_CONSTANT, 4, &o));
    CHECK(tensor_equals(o, EM_F32, 1, SH(3), V(4, 4, 4)));
    em_tensor_free(o);
    CHECK_OK(em_pad(e, SH(0, 0), EM_PAD_REFLECT, 0, &o));
    CHECK(tensor_equals(o, EM_F32, 1, SH(0), V(0)));
    em_tensor_free(o), em_tensor_free(s), em_tensor_free(e);
}

TEST(shape_pad_errors) {
    em_tensor *x = tensor_of(EM_F32, 2, SH(2, 4), V(1, 2, 3, 4, 5, 6, 7, 8)), *e = tensor_of(EM_F32, 1, SH(0), V(0));
    em_tensor *o = NULL;
    CHECK_STATUS(em_pad(x, SH(0, 0, 4, 0), EM_PAD_REFLECT, 0, &o), EM_ERR_INVALID_ARG);
    CHECK(strstr(em_last_error(), "axis 1") && strstr(em_last_error(), "pad 4") && strstr(em_last_error(), "size 4"));
    CHECK_STATUS(em_pad(x, SH(2, 0, 0, 0), EM_PAD_REFLECT, 0, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_pad(x, SH(0, 0, 0, 5), EM_PAD_CIRCULAR, 0, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_pad(e, SH(0, 1), EM_PAD_REPLICATE, 0, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_pad(e, SH(1, 0), EM_PAD_CIRCULAR, 0, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_pad(x, SH(0, -1, 0, 0), EM_PAD_CONSTANT, 0, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_pad(x, SH(0, 0, 0, 0), (em_pad_mode)7, 0, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_pad(x, NULL, EM_PAD_CONSTANT, 0, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_pad(x, SH(0, 0, INT64_MAX, 0), EM_PAD_CONSTANT, 0, &o), EM_ERR_SHAPE);
    CHECK(o == NULL);
    CHECK_OK(em_pad(x, SH(1, 1, 3, 4), EM_PAD_CIRCULAR, 0, &o));
    em_tensor_free(o), em_tensor_free(x), em_tensor_free(e);
}

/* ---- roll / repeat / tile ------------------------------------------------- */

TEST(shape_roll) {
    em_tensor *x = tensor_of(EM_I64, 1, SH(5), V(1, 2, 3, 4, 5)), *o;
    CHECK_OK(em_roll(x, SH(2), (const int[]){0}, 1, &o));
    CHECK(tensor_equals(o, EM_I64, 1, SH(5), V(4, 5, 1, 2, 3)));
    em_tensor_free(o);
    CHECK_OK(em_roll(x, SH(-1), (const int[]){-1}, 1, &o));
    CHECK(tensor_equals(o, EM_I64, 1, SH(5), V(2, 3, 4, 5, 1)));
    em_tensor_free(o);
    CHECK_OK(em_roll(x, SH(INT64_MIN), (const int[]){0}, 1, &o)); /* -2^63 mod 5 = 2 */
    CHECK(tensor_equals(o, EM_I64, 1, SH(5), V(4, 5, 1, 2, 3)));
    em_tensor_free(o), em_tensor_free(x);
    /* 2-D: both axes, a repeated axis (shifts add), and flattened */
    em_tensor *m = tensor_of(EM_U8, 2, SH(2, 3), V(1, 2, 3, 4, 5, 6)), *mt;
    CHECK_OK(em_roll(m, SH(1, -1), (const int[]){0, 1}, 2, &o));
    CHECK(tensor_equals(o, EM_U8, 2, SH(2, 3), V(5, 6, 4, 2, 3, 1)));
    em_tensor_free(o);
    CHECK_OK(em_roll(m, SH(2, 5), (const int[]){1, -1}, 2, &o));
    CHECK(tensor_equals(o, EM_U8, 2, SH(2, 3), V(3, 1, 2, 6, 4, 5)));
    em_tensor_free(o);
    CHECK_OK(em_roll(m, SH(1), NULL, 0, &o));
    CHECK(tensor_equals(o, EM_U8, 2, SH(2, 3), V(6, 1, 2, 3, 4, 5)));
    em_tensor_free(o);
    /* transposed: [[1,4],[2,5],[3,6]] flattened and rolled by -1 */
    CHECK_OK(em_tensor_transpose(m, 0, 1, &mt));
    CHECK_OK(em_roll(mt, SH(-1), NULL, 0, &o));
    CHECK(tensor_equals(o, EM_U8, 2, SH(3, 2), V(4, 2, 5, 3, 6, 1)));
    em_tensor_free(o);
    /* empty, 0-d, errors */
    em_tensor *e = tensor_of(EM_F32, 2, SH(0, 2), V(0)), *s = tensor_of(EM_F32, 0, NULL, V(3));
    CHECK_OK(em_roll(e, SH(3, 1), (const int[]){0, 1}, 2, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(0, 2), V(0)));
    em_tensor_free(o);
    CHECK_OK(em_roll(s, SH(4), NULL, 0, &o));
    CHECK(tensor_equals(o, EM_F32, 0, NULL, V(3)));
    em_tensor_free(o);
    o = NULL;
    CHECK_STATUS(em_roll(m, SH(1), (const int[]){2}, 1, &o), EM_ERR_INDEX);
    CHECK_STATUS(em_roll(m, SH(1), NULL, 1, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_roll(m, NULL, NULL, 0, &o), EM_ERR_INVALID_ARG);
    CHECK(o == NULL);
    em_tensor_free(m), em_tensor_free(mt), em_tensor_free(e), em_tensor_free(s);
}

TEST(shape_repeat) {
    em_tensor *x = tensor_of(EM_F32, 1, SH(3), V(1, 2, 3)), *o;
    CHECK_OK(em_repeat(x, SH(2), 1, 0, &o));
    CHECK(tensor_equals(o, EM_F32, 1, SH(6), V(1, 1, 2, 2, 3, 3)));
    em_tensor_free(o);
    CHECK_OK(em_repeat(x, SH(0), 1, -1, &o));
    CHECK(tensor_equals(o, EM_F32, 1, SH(0), V(0)));
    em_tensor_free(o), em_tensor_free(x);
    em_tensor *m = tensor_of(EM_I8, 2, SH(2, 3), V(1, 2, 3, -4, -5, -6)), *mf;
    CHECK_OK(em_repeat(m, SH(0, 1, 3), 3, -1, &o));
    CHECK(tensor_equals(o, EM_I8, 2, SH(2, 4), V(2, 3, 3, 3, -5, -6, -6, -6)));
    em_tensor_free(o);
    CHECK_OK(em_repeat(m, SH(2, 1), 2, 0, &o));
    CHECK(tensor_equals(o, EM_I8, 2, SH(3, 3), V(1, 2, 3, 1, 2, 3, -4, -5, -6)));
    em_tensor_free(o);
    /* flattened, through a flipped view: [-6,-5,-4,3,2,1] */
    CHECK_OK(em_tensor_flip(m, NULL, 0, &mf));
    CHECK_OK(em_repeat(mf, SH(2), 1, EM_AXIS_NONE, &o));
    CHECK(tensor_equals(o, EM_I8, 1, SH(12), V(-6, -6, -5, -5, -4, -4, 3, 3, 2, 2, 1, 1)));
    em_tensor_free(o);
    CHECK_OK(em_repeat(mf, SH(1, 0, 0, 0, 0, 2), 6, EM_AXIS_NONE, &o));
    CHECK(tensor_equals(o, EM_I8, 1, SH(3), V(-6, 1, 1)));
    em_tensor_free(o);
    o = NULL;
    CHECK_STATUS(em_repeat(m, SH(1, 2), 2, 1, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_repeat(m, SH(-1), 1, 1, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_repeat(m, SH(1), 1, 2, &o), EM_ERR_INDEX);
    CHECK_STATUS(em_repeat(m, SH(INT64_MAX / 2), 1, 1, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_repeat(m, NULL, 1, 1, &o), EM_ERR_INVALID_ARG);
    CHECK(o == NULL);
    em_tensor_free(m), em_tensor_free(mf);
}

TEST(shape_tile) {
    em_tensor *x = tensor_of(EM_BOOL, 1, SH(2), V(1, 0)), *o;
    CHECK_OK(em_tile(x, SH(2, 2), 2, &o));
    CHECK(tensor_equals(o, EM_BOOL, 2, SH(2, 4), V(1, 0, 1, 0, 1, 0, 1, 0)));
    em_tensor_free(o), em_tensor_free(x);
    em_tensor *m = tensor_of(EM_I32, 2, SH(2, 2), V(1, 2, 3, 4)), *mt;
    CHECK_OK(em_tile(m, SH(3), 1, &o)); /* reps padded with 1s in front */
    CHECK(tensor_equals(o, EM_I32, 2, SH(2, 6), V(1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4)));
    em_tensor_free(o);
    CHECK_OK(em_tensor_transpose(m, 0, 1, &mt));
    CHECK_OK(em_tile(mt, SH(2, 1, 1), 3, &o));
    CHECK(tensor_equals(o, EM_I32, 3, SH(2, 2, 2), V(1, 3, 2, 4, 1, 3, 2, 4)));
    em_tensor_free(o);
    CHECK_OK(em_tile(m, NULL, 0, &o));
    CHECK(tensor_equals(o, EM_I32, 2, SH(2, 2), V(1, 2, 3, 4)));
    em_tensor_free(o);
    CHECK_OK(em_tile(m, SH(0, 2), 2, &o));
    CHECK(tensor_equals(o, EM_I32, 2, SH(0, 4), V(0)));
    em_tensor_free(o);
    em_tensor *s = tensor_of(EM_F64, 0, NULL, V(1.5));
    CHECK_OK(em_tile(s, SH(3), 1, &o));
    CHECK(tensor_equals(o, EM_F64, 1, SH(3), V(1.5, 1.5, 1.5)));
    em_tensor_free(o);
    o = NULL;
    CHECK_STATUS(em_tile(m, SH(-1), 1, &o), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_tile(m, SH(1, 1, 1, 1, 1, 1, 1, 1, 1), 9, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_tile(m, SH(INT64_MAX / 2, 4), 2, &o), EM_ERR_SHAPE);
    CHECK(o == NULL);
    em_tensor_free(m), em_tensor_free(mt), em_tensor_free(s);
}

/* ---- tril / triu ---------------------------------------------------------- */

TEST(shape_tril_triu) {
    em_tensor *x = tensor_of(EM_F32, 2, SH(3, 4), V(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)), *o;
    CHECK_OK(em_tril(x, 0, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(3, 4), V(1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0)));
    em_tensor_free(o);
    CHECK_OK(em_tril(x, 1, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(3, 4), V(1, 2, 0, 0, 5, 6, 7, 0, 9, 10, 11, 12)));
    em_tensor_free(o);
    CHECK_OK(em_triu(x, -1, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(3, 4), V(1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 11, 12)));
    em_tensor_free(o);
    CHECK_OK(em_triu(x, 2, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(3, 4), V(0, 0, 3, 4, 0, 0, 0, 8, 0, 0, 0, 0)));
    em_tensor_free(o);
    /* extreme k: everything or nothing, no overflow */
    CHECK_OK(em_tril(x, INT64_MAX, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(3, 4), V(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)));
    em_tensor_free(o);
    CHECK_OK(em_tril(x, INT64_MIN, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(3, 4), V(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)));
    em_tensor_free(o);
    CHECK_OK(em_triu(x, INT64_MIN, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(3, 4), V(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)));
    em_tensor_free(o);
    CHECK_OK(em_triu(x, INT64_MAX, &o));
    CHECK(tensor_equals(o, EM_F32, 2, SH(3, 4), V(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)));
    em_tensor_free(o);
    /* batched, every dtype, on a transposed (non-contiguous) view */
    for (int i = 0; i < 7; i++) {
        em_tensor *b = tensor_of(all_dtypes[i], 3, SH(2, 2, 2), V(1, 1, 1, 1, 1, 0, 1, 1)), *bt;
        CHECK_OK(em_tensor_transpose(b, 1, 2, &bt));
        CHECK_OK(em_triu(bt, 0, &o));
        CHECK(tensor_equals(o, all_dtypes[i], 3, SH(2, 2, 2), V(1, 1, 0, 1, 1, 1, 0, 1)));
        em_tensor_free(o), em_tensor_free(bt), em_tensor_free(b);
    }
    em_tensor *e = tensor_of(EM_I32, 3, SH(0, 2, 2), V(0)), *v = tensor_of(EM_I32, 1, SH(3), V(1, 2, 3));
    CHECK_OK(em_tril(e, 0, &o));
    CHECK(tensor_equals(o, EM_I32, 3, SH(0, 2, 2), V(0)));
    em_tensor_free(o);
    o = NULL;
    CHECK_STATUS(em_tril(v, 0, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_triu(v, 0, &o), EM_ERR_SHAPE);
    CHECK_STATUS(em_triu(NULL, 0, &o), EM_ERR_INVALID_ARG);
    CHECK(o == NULL);
    em_tensor_free(x), em_tensor_free(e), em_tensor_free(v);
}

/* ---- out of memory -------------------------------------------------------- */

static em_tensor *oom_x;
static em_status oom_ops(void) {
    em_tensor *o = NULL, *parts[2];
    em_status st = em_concat((const em_tensor *[]){oom_x, oom_x}, 2, 1, &o);
    em_tensor_free(o), o = NULL;
    if (!st) st = em_stack((const em_tensor *[]){oom_x, oom_x}, 2, 0, &o);
    em_tensor_free(o), o = NULL;
    if (!st && !(st = em_split(oom_x, 1, SH(1, 1), 2, parts))) em_tensor_free(parts[0]), em_tensor_free(parts[1]);
    if (!st) st = em_pad(oom_x, SH(1, 1, 1, 1), EM_PAD_REFLECT, 0, &o);
    em_tensor_free(o), o = NULL;
    if (!st) st = em_roll(oom_x, SH(1), NULL, 0, &o);
    em_tensor_free(o), o = NULL;
    if (!st) st = em_repeat(oom_x, SH(2), 1, EM_AXIS_NONE, &o);
    em_tensor_free(o), o = NULL;
    if (!st) st = em_tile(oom_x, SH(2, 1, 1), 3, &o);
    em_tensor_free(o), o = NULL;
    if (!st) st = em_tril(oom_x, 0, &o);
    em_tensor_free(o);
    return st;
}

TEST(shape_out_of_memory) {
    em_tensor *x = iota(EM_F32, 2, SH(2, 3));
    CHECK_OK(em_tensor_transpose(x, 0, 1, &oom_x));
    em_tensor_free(x);
    oom_sweep(oom_ops);
    em_tensor_free(oom_x);
}
