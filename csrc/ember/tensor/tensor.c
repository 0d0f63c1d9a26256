/* Tensor handles and storage: creation, reference counting, accessors. */
#include "../internal.h"

#include <limits.h>

/* Header sizes rounded to the alignment so the data that follows is aligned. */
#define ROUND_ALIGN(n) (((n) + EM_ALIGN - 1) / EM_ALIGN * EM_ALIGN)
#define HANDLE_HEAD ROUND_ALIGN(sizeof(em_tensor))
#define STORAGE_HEAD ROUND_ALIGN(sizeof(em_storage))

static void storage_unref(em_storage *s) {
    if (!s || atomic_fetch_sub(&s->refcount, 1) != 1) return;
    if (s->release) s->release(s->owner);
    em__free(s->block);
}

void em__contig_strides(int ndim, const int64_t *shape, int64_t *strides) {
    int64_t st = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = st;
        st *= shape[i] ? shape[i] : 1;
    }
}

bool em__is_contiguous(const em_tensor *t) {
    int64_t st = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 0) return true;
        if (t->shape[i] != 1 && t->strides[i] != st) return false;
        st *= t->shape[i];
    }
    return true;
}

em_status em__check_shape(const char *op, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > EM_MAX_DIMS)
        return em__error(EM_ERR_SHAPE, "%s: %d dimensions requested; ember supports 0 to %d", op, ndim, EM_MAX_DIMS);
    if (ndim > 0 && !shape) return em__error(EM_ERR_INVALID_ARG, "%s: shape is NULL", op);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return em__error(EM_ERR_SHAPE, "%s: negative dimension %lld at axis %d", op, (long long)shape[i], i);
        if (shape[i] && n > (INT64_MAX / 8) / shape[i])
            return em__error(EM_ERR_SHAPE, "%s: shape is too large (element count overflows)", op);
        n *= shape[i] ? shape[i] : 1; /* zeros too: contiguous strides multiply the other sizes */
    }
    return EM_OK;
}

static em_status handle_new(em_tensor **out) {
    em_tensor *t = em__alloc_small(sizeof *t);
    if (!t) return em__error(EM_ERR_NOMEM, "out of memory allocating a tensor handle");
    atomic_init(&t->refcount, 1);
    t->autograd = NULL;
    t->embedded = false;
    *out = t;
    return EM_OK;
}

static void storage_init(em_storage *s, void *data, size_t nbytes, void (*release)(void *), void *owner,
                         void *block) {
    atomic_init(&s->refcount, 1);
    s->data = data;
    s->nbytes = nbytes;
    s->release = release;
    s->owner = owner;
    s->block = block;
    s->version = 0;
}

/* A whole view of s: offset 0, strides given or (NULL) C-contiguous. */
static void set_geometry(em_tensor *t, em_storage *s, em_dtype dt, int ndim, const int64_t *shape,
                         const int64_t *strides) {
    t->storage = s;
    t->dtype = dt;
    t->ndim = ndim;
    t->offset = 0;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    if (strides)
        for (int i = 0; i < ndim; i++) t->strides[i] = strides[i];
    else
        em__contig_strides(ndim, shape, t->strides);
}

/* A new tensor is one allocation: [handle | storage header | data].  Small
 * ops make many short-lived results, and one allocation instead of three is
 * most of their cost.  The handle is freed with the block, when the last
 * view of the storage goes. */
em_status em__new(em_dtype dt, int ndim, const int64_t *shape, em_tensor **out) {
    size_t nbytes = (size_t)em__numel(ndim, shape) * em__dsize(dt);
    if (nbytes > SIZE_MAX - HANDLE_HEAD - STORAGE_HEAD)
        return em__error(EM_ERR_NOMEM, "tensor of %zu bytes is too large", nbytes);
    char *block = em__alloc(HANDLE_HEAD + STORAGE_HEAD + nbytes);
    if (!block) return em__error(EM_ERR_NOMEM, "out of memory allocating a tensor of %zu bytes", nbytes);
    em_tensor *t = (em_tensor *)block;
    em_storage *s = (em_storage *)(block + HANDLE_HEAD);
    storage_init(s, block + HANDLE_HEAD + STORAGE_HEAD, nbytes, NULL, NULL, block);
    atomic_init(&t->refcount, 1);
    t->autograd = NULL;
    t->embedded = true;
    set_geometry(t, s, dt, ndim, shape, NULL);
    *out = t;
    return EM_OK;
}

em_status em__view(const em_tensor *x, em_dtype dt, int ndim, const int64_t *shape, const int64_t *strides,
                   int64_t offset, em_tensor **out) {
    em_tensor *t = NULL;
    EM_TRY(handle_new(&t));
    t->dtype = dt;
    t->ndim = ndim;
    t->offset = offset;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->strides[i] = strides[i];
    }
    t->storage = x->storage;
    atomic_fetch_add(&t->storage->refcount, 1);
    *out = t;
    return EM_OK;
}

em_status em_tensor_empty(em_dtype dt, int ndim, const int64_t *shape, em_tensor **out) {
    if (!em__dtype_valid(dt)) return em__error(EM_ERR_DTYPE, "empty: invalid dtype %d", (int)dt);
    if (!out) return em__error(EM_ERR_INVALID_ARG, "empty: out is NULL");
    EM_TRY(em__check_shape("empty", ndim, shape));
    return em__new(dt, ndim, shape, out);
}

em_status em_tensor_from_data(em_dtype dt, int ndim, const int64_t *shape, const int64_t *strides, void *data,
                              void (*release)(void *owner), void *owner, em_tensor **out) {
    if (!em__dtype_valid(dt)) return em__error(EM_ERR_DTYPE, "from_data: invalid dtype %d", (int)dt);
    if (!out) return em__error(EM_ERR_INVALID_ARG, "from_data: out is NULL");
    EM_TRY(em__check_shape("from_data", ndim, shape));
    if (!data && em__numel(ndim, shape) > 0) return em__error(EM_ERR_INVALID_ARG, "from_data: data is NULL");
    em_tensor *t = NULL;
    EM_TRY(handle_new(&t));
    em_storage *s = em__alloc_small(sizeof *s);
    if (!s) {
        em__free(t);
        return em__error(EM_ERR_NOMEM, "from_data: out of memory");
    }
    storage_init(s, data, 0 /* unknown: foreign memory */, release, owner, s);
    set_geometry(t, s, dt, ndim, shape, strides);
    *out = t;
    return EM_OK;
}

em_tensor *em_tensor_retain(em_tensor *t) {
    if (t) atomic_fetch_add(&t->refcount, 1);
    return t;
}

void em_tensor_free(em_tensor *t) {
    if (!t || atomic_fetch_sub(&t->refcount, 1) != 1) return;
    if (t->autograd) em__ag_meta_free(t->autograd);
    bool embedded = t->embedded;
    storage_unref(t->storage); /* may free t itself when embedded */
    if (!embedded) em__free(t);
}

em_dtype em_tensor_dtype(const em_tensor *t) { return t->dtype; }
int em_tensor_ndim(const em_tensor *t) { return t->ndim; }
const int64_t *em_tensor_shape(const em_tensor *t) { return t->shape; }
const int64_t *em_tensor_strides(const em_tensor *t) { return t->strides; }
int64_t em_tensor_numel(const em_tensor *t) { return em__numel(t->ndim, t->shape); }
void *em_tensor_data(const em_tensor *t) { return em__ptr(t); }
bool em_tensor_is_contiguous(const em_tensor *t) { return em__is_contiguous(t); }
bool em_tensor_shares_storage(const em_tensor *a, const em_tensor *b) {
    return a && b && a->storage->data == b->storage->data;
}

static em_status elem_ptr(const char *op, const em_tensor *t, const int64_t *index, char **p) {
    int64_t off = 0;
    for (int i = 0; i < t->ndim; i++) {
        int64_t k = index[i];
        if (k < 0) k += t->shape[i];
        if (k < 0 || k >= t->shape[i])
            return em__error(EM_ERR_INDEX, "%s: index %lld is out of bounds for axis %d with size %lld", op,
                             (long long)index[i], i, (long long)t->shape[i]);
        off += k * t->strides[i];
    }
    *p = em__ptr(t) + off * (int64_t)em__dsize(t->dtype);
    return EM_OK;
}

em_status em_tensor_get(const em_tensor *t, const int64_t *index, double *value) {
    char *p;
    EM_TRY(elem_ptr("get", t, index, &p));
    *value = em__load(t->dtype, p);
    return EM_OK;
}

em_status em_tensor_set(em_tensor *t, const int64_t *index, double value) {
    char *p;
    EM_TRY(elem_ptr("set", t, index, &p));
    t->storage->version++; /* in-place write: autograd checks saved tensors */
    em__store(t->dtype, p, value);
    return EM_OK;
}

em_status em_tensor_item(const em_tensor *t, double *value) {
    if (em__numel(t->ndim, t->shape) != 1) {
        char b[EM_DESC_LEN];
        return em__error(EM_ERR_SHAPE, "item: tensor of shape %s has %lld elements, not 1",
                         em__shape_str(t->ndim, t->shape, b), (long long)em__numel(t->ndim, t->shape));
    }
    *value = em__load(t->dtype, em__ptr(t));
    return EM_OK;
}

em_status em__axis(const char *op, int axis, int ndim, int *out) {
    int a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a >= ndim)
        return em__error(EM_ERR_INDEX, "%s: axis %d is out of range for a tensor of %d dimensions", op, axis, ndim);
    *out = a;
    return EM_OK;
}

em_status em__axes_mask(const char *op, const int *axes, int naxes, int ndim, uint32_t *mask) {
    if (!axes) {
        *mask = ndim ? (uint32_t)((1u << ndim) - 1) : 0;
        return EM_OK;
    }
    uint32_t m = 0;
    for (int i = 0; i < naxes; i++) {
        int a = 0;
        EM_TRY(em__axis(op, axes[i], ndim, &a));
        if (m & (1u << a)) return em__error(EM_ERR_INVALID_ARG, "%s: axis %d appears twice", op, axes[i]);
        m |= 1u << a;
    }
    *mask = m;
    return EM_OK;
}
