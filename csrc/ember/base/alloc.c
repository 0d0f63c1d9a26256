/* Allocator hooks.  Every byte libember allocates goes through here, so a
 * test can count live bytes and inject failures. */
#include "../internal.h"

#include <stdlib.h>

/* Each block carries its size in a header so em_allocated_bytes can count
 * frees; the header is EM_ALIGN bytes so the payload stays aligned. */
static void *default_alloc(size_t size, size_t align, void *ctx) {
    (void)ctx;
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1) != 0) return NULL;
    return p;
}
static void default_free(void *p, void *ctx) {
    (void)ctx;
    free(p);
}

static em_allocator current = {default_alloc, default_free, NULL};
static atomic_llong live_bytes;

void em_set_allocator(const em_allocator *a) {
    if (a && a->alloc && a->free)
        current = *a;
    else
        current = (em_allocator){default_alloc, default_free, NULL};
}
em_allocator em_get_allocator(void) { return current; }
int64_t em_allocated_bytes(void) { return (int64_t)atomic_load(&live_bytes); }

void *em__alloc(size_t size) {
    if (size > SIZE_MAX - EM_ALIGN) return NULL;
    char *p = current.alloc(size + EM_ALIGN, EM_ALIGN, current.ctx);
    if (!p) return NULL;
    *(size_t *)p = size;
    atomic_fetch_add(&live_bytes, (long long)size);
    return p + EM_ALIGN;
}

void *em__calloc(size_t size) {
    void *p = em__alloc(size);
    if (p) memset(p, 0, size);
    return p;
}

void em__free(void *p) {
    if (!p) return;
    char *base = (char *)p - EM_ALIGN;
    atomic_fetch_sub(&live_bytes, (long long)*(size_t *)base);
    current.free(base, current.ctx);
}

em_status em__alloc_or_fail(size_t size, const char *what, void **out) {
    void *p = em__alloc(size);
    if (!p) return em__error(EM_ERR_NOMEM, "%s: out of memory allocating %zu bytes", what, size);
    *out = p;
    return EM_OK;
}
