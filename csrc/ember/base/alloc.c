/* Allocator hooks.  Every byte libember allocates goes through here, so a
 * test can count live bytes and inject failures. */
#include "../internal.h"

#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* Large blocks (>= HUGE_MIN) start on a 2 MiB boundary and are marked
 * MADV_HUGEPAGE, as NumPy does: with transparent huge pages in "madvise"
 * mode (a common default) a fresh 64 MB result is then faulted in 32 steps
 * of 2 MiB instead of 16384 of 4 KiB, which otherwise costs an elementwise
 * op on such a block about half its time.  Where THP is off or missing the
 * advice is ignored (madvise fails harmlessly) and only the alignment is
 * left, at the cost of 2 MiB of untouched address space per block. */
#define HUGE_MIN ((size_t)4 << 20)
#define HUGE_ALIGN ((size_t)2 << 20)

/* The default hooks align by hand over malloc: glibc's posix_memalign takes
 * a slow path for every block, and small tensors are made by the million.
 * The pointer malloc returned is kept just below the aligned block. */
static void *default_alloc(size_t size, size_t align, void *ctx) {
    (void)ctx;
    if (align < 16) align = 16;
#ifdef MADV_HUGEPAGE
    bool huge = size >= HUGE_MIN && align < HUGE_ALIGN;
    if (huge) align = HUGE_ALIGN;
#endif
    if (size > SIZE_MAX - align) return NULL;
    char *raw = malloc(size + align);
    if (!raw) return NULL;
    char *p = (char *)(((uintptr_t)raw + align) & ~(uintptr_t)(align - 1)); /* raw < p <= raw + align */
    ((void **)p)[-1] = raw;
#ifdef MADV_HUGEPAGE
    /* whole huge pages from p only, so the advice never reaches past the block */
    if (huge) (void)madvise(p, size & ~(HUGE_ALIGN - 1), MADV_HUGEPAGE);
#endif
    return p;
}
static void default_free(void *p, void *ctx) {
    (void)ctx;
    if (p) free(((void **)p)[-1]);
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

/* Each block carries {size, alignment} just before the pointer handed out,
 * so em__free can find the block start and em_allocated_bytes can count. */
static void *alloc_aligned(size_t size, size_t align) {
    if (size > SIZE_MAX - align) return NULL;
    char *p = current.alloc(size + align, align, current.ctx);
    if (!p) return NULL;
    char *user = p + align;
    ((size_t *)user)[-2] = size;
    ((size_t *)user)[-1] = align;
    atomic_fetch_add(&live_bytes, (long long)size);
    return user;
}

void *em__alloc(size_t size) { return alloc_aligned(size, EM_ALIGN); }

/* 16-byte alignment: plain malloc speed for small headers (tensor handles)
 * that no kernel reads with vector loads. */
void *em__alloc_small(size_t size) { return alloc_aligned(size, 2 * sizeof(size_t)); }

void *em__calloc(size_t size) {
    void *p = em__alloc(size);
    if (p) memset(p, 0, size);
    return p;
}

void em__free(void *p) {
    if (!p) return;
    size_t size = ((size_t *)p)[-2], align = ((size_t *)p)[-1];
    atomic_fetch_sub(&live_bytes, (long long)size);
    current.free((char *)p - align, current.ctx);
}

em_status em__alloc_or_fail(size_t size, const char *what, void **out) {
    void *p = em__alloc(size);
    if (!p) return em__error(EM_ERR_NOMEM, "%s: out of memory allocating %zu bytes", what, size);
    *out = p;
    return EM_OK;
}
