/* Helpers shared by the C unit tests (see test_util.h). */
#include "test_util.h"

#include <string.h>

#include "test.h"

const em_dtype all_dtypes[7] = {EM_BOOL, EM_U8, EM_I8, EM_I32, EM_I64, EM_F32, EM_F64};
const em_dtype int_dtypes[4] = {EM_U8, EM_I8, EM_I32, EM_I64};

/* Steps idx to the next index in C order (wrapping to all zeros). */
static void next_index(int nd, const int64_t *shape, int64_t *idx) {
    for (int d = nd - 1; d >= 0 && ++idx[d] == shape[d]; d--) idx[d] = 0;
}

em_tensor *tensor_of(em_dtype dt, int nd, const int64_t *shape, const double *v) {
    em_tensor *t = NULL;
    CHECK_OK(em_tensor_empty(dt, nd, shape, &t));
    if (!t) return NULL;
    int64_t idx[EM_MAX_DIMS] = {0}, n = em_tensor_numel(t);
    for (int64_t k = 0; k < n; k++, next_index(nd, shape, idx)) CHECK_OK(em_tensor_set(t, idx, v ? v[k] : (double)k));
    return t;
}

em_tensor *vector_of(em_dtype dt, int64_t n, const double *v) { return tensor_of(dt, 1, &n, v); }

em_tensor *int_vector_of(em_dtype dt, int64_t n, const int64_t *v) {
    em_tensor *t = NULL;
    CHECK_OK(em_tensor_empty(dt, 1, &n, &t));
    if (!t) return NULL;
    void *p = em_tensor_data(t);
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case EM_BOOL: ((bool *)p)[i] = v[i] != 0; break;
        case EM_U8: ((uint8_t *)p)[i] = (uint8_t)v[i]; break;
        case EM_I8: ((int8_t *)p)[i] = (int8_t)v[i]; break;
        case EM_I32: ((int32_t *)p)[i] = (int32_t)v[i]; break;
        default: ((int64_t *)p)[i] = v[i]; break;
        }
    }
    return t;
}

bool tensor_values_are(const em_tensor *t, int nd, const int64_t *shape, const double *v) {
    if (!t || em_tensor_ndim(t) != nd) return false;
    for (int d = 0; d < nd; d++)
        if (em_tensor_shape(t)[d] != shape[d]) return false;
    int64_t idx[EM_MAX_DIMS] = {0}, n = em_tensor_numel(t);
    for (int64_t k = 0; k < n; k++, next_index(nd, shape, idx)) {
        double got;
        if (em_tensor_get(t, idx, &got) != EM_OK) return false;
        if (got != v[k] && !(isnan(got) && isnan(v[k]))) {
            fprintf(stderr, "  element %lld: got %g, wanted %g\n", (long long)k, got, v[k]);
            return false;
        }
    }
    return true;
}

bool tensor_equals(const em_tensor *t, em_dtype dt, int nd, const int64_t *shape, const double *v) {
    return t && em_tensor_dtype(t) == dt && tensor_values_are(t, nd, shape, v);
}

void unravel_index(const em_tensor *t, int64_t k, int64_t *idx) {
    const int64_t *sh = em_tensor_shape(t);
    for (int d = em_tensor_ndim(t) - 1; d >= 0; d--) {
        idx[d] = k % sh[d];
        k /= sh[d];
    }
}

double value_at(const em_tensor *t, int64_t k) {
    int64_t idx[EM_MAX_DIMS];
    double v = NAN;
    unravel_index(t, k, idx);
    CHECK_OK(em_tensor_get(t, idx, &v));
    return v;
}

int64_t int_at(const em_tensor *t, int64_t k) {
    const void *p = em_tensor_data(t);
    switch (em_tensor_dtype(t)) {
    case EM_BOOL: return ((const bool *)p)[k];
    case EM_U8: return ((const uint8_t *)p)[k];
    case EM_I8: return ((const int8_t *)p)[k];
    case EM_I32: return ((const int32_t *)p)[k];
    case EM_I64: return ((const int64_t *)p)[k];
    default: return INT64_MIN;
    }
}

bool error_has(const char *word) { return strstr(em_last_error(), word) != NULL; }

int releases;
void *released_owner;
void count_release(void *owner) {
    releases++;
    released_owner = owner;
}

/* ---- out-of-memory injection ---------------------------------------------- */
static struct {
    em_allocator base; /* the allocator that does the real work */
    int64_t calls, at;
    bool sticky, failed;
} oom;

static void *oom_alloc(size_t size, size_t align, void *ctx) {
    (void)ctx;
    int64_t k = oom.calls++;
    if (oom.at >= 0 && (k == oom.at || (oom.sticky && k > oom.at))) {
        oom.failed = true;
        return NULL;
    }
    return oom.base.alloc(size, align, oom.base.ctx);
}
static void oom_free(void *p, void *ctx) {
    (void)ctx;
    oom.base.free(p, oom.base.ctx);
}

void oom_install(int64_t at, bool sticky) {
    if (em_get_allocator().alloc != oom_alloc) oom.base = em_get_allocator(); /* never wrap ourselves */
    oom.calls = 0, oom.at = at, oom.sticky = sticky, oom.failed = false;
    em_set_allocator(&(em_allocator){oom_alloc, oom_free, NULL});
}
void oom_remove(void) { em_set_allocator(NULL); }
int64_t oom_calls(void) { return oom.calls; }
bool oom_failed(void) { return oom.failed; }

void oom_sweep(em_status (*op)(void)) {
    for (int64_t at = 0;; at++) {
        int64_t before = em_allocated_bytes();
        oom_install(at, false);
        em_status st = op();
        oom_remove();
        if (st == EM_OK) break;
        CHECK(st == EM_ERR_NOMEM);
        CHECK(em_allocated_bytes() == before);
        if (st != EM_ERR_NOMEM || at > 100) break;
    }
}
