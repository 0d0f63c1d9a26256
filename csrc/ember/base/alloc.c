/* Allocator hooks.  Every byte libember allocates goes through here, so a
 * test can count live bytes and inject failures. */
#include "../internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
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

/* ---- cache of freed large blocks ----------------------------------------
 * Each fresh large block costs a page fault per page and the kernel zeroing
 * it: glibc serves blocks above its mmap threshold (at most 32 MiB) with a
 * fresh mmap and unmaps them on free, and even below it trims the heap top.
 * A 64 MB elementwise result so took twice the time of the op on a reused
 * block.  So, like PyTorch's caching allocator and jemalloc/mimalloc's
 * retained memory, blocks of the default hooks of CACHE_MIN bytes and more
 * are kept on free and handed out again.
 *
 * - Which blocks: only the default hooks' (a custom allocator sees every
 *   allocation, as the failure-injection tests need), only 64-byte aligned
 *   ones (em__alloc; em__alloc_small is for small headers), and only
 *   CACHE_MIN = 1 MiB and up: smaller blocks glibc serves from its heap
 *   once its mmap threshold has adapted (the first free of an mmapped block
 *   raises it to that size), and a block of 1 MiB costs ~28 us to write, so
 *   the lock and list walk here are noise.  The list holds at most limit/1 MiB blocks.
 * - Fit: the smallest cached block with need <= capacity <= need + need/8.
 *   Exact sizes repeat most (the same op on the same shapes), but shapes
 *   that differ a little (a last batch, a cropped image) still reuse a
 *   block; the 1/8 slack bounds the memory a block holds beyond what was
 *   asked.  A block keeps its full capacity when it comes back.
 * - Bound: the blocks held total at most the limit: EMBER_ALLOC_CACHE bytes
 *   if set (a whole number, optional K/M/G suffix; 0 disables), else
 *   min(1 GiB, RAM / 8); em_set_alloc_cache_limit changes it.  Over the
 *   limit the oldest blocks are freed first.  Blocks are not zeroed.
 * - A failed allocation releases the cache and tries once more.
 * - Threads: one mutex, held only to link or unlink blocks (never across
 *   malloc/free); fork handlers take it around fork so a child never
 *   inherits it locked.
 * - AddressSanitizer: a reused block would hide a use after free, so the
 *   cache is compiled out under ASan (em_alloc_cache_supported() says so);
 *   -DEM_NO_ALLOC_CACHE does the same in any build. */
#if defined(__SANITIZE_ADDRESS__) || defined(EM_NO_ALLOC_CACHE)
#define CACHE_COMPILED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CACHE_COMPILED 0
#endif
#endif
#ifndef CACHE_COMPILED
#define CACHE_COMPILED 1
#endif

#define CACHE_MIN ((size_t)1 << 20)
#define CACHE_DEFAULT_MAX ((int64_t)1 << 30)

/* A cached block's own first bytes link it (its contents are dead). */
typedef struct cached_block {
    struct cached_block *older, *newer;
    size_t cap; /* bytes the default hooks allocated (>= CACHE_MIN) */
} cached_block;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static cached_block *oldest, *newest; /* under cache_mu */
static atomic_llong cached_total;     /* written under cache_mu; read anywhere */
static atomic_llong cache_limit = -1; /* -1: not yet read from the environment */

static void cache_lock(void) { pthread_mutex_lock(&cache_mu); }
static void cache_unlock(void) { pthread_mutex_unlock(&cache_mu); }

/* EMBER_ALLOC_CACHE when it is a whole number of bytes (optional K, M or G
 * suffix, binary), else min(1 GiB, physical memory / 8). */
static int64_t default_limit(void) {
    const char *env = getenv("EMBER_ALLOC_CACHE");
    if (env && *env) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(env, &end, 10);
        int shift = 0;
        switch (*end) {
        case 'k': case 'K': shift = 10; end++; break;
        case 'm': case 'M': shift = 20; end++; break;
        case 'g': case 'G': shift = 30; end++; break;
        default: break;
        }
        while (*end == ' ' || *end == '\t' || *end == '\n') end++;
        if (*end == '\0' && end != env && env[0] != '-' && errno == 0) {
            if (v > (unsigned long long)(INT64_MAX >> shift)) return INT64_MAX;
            return (int64_t)(v << shift);
        }
    }
    int64_t lim = CACHE_DEFAULT_MAX;
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psize > 0 && (int64_t)pages / 8 < lim / psize) lim = (int64_t)pages / 8 * psize;
#endif
    return lim;
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void register_fork_handlers(void) { (void)pthread_atfork(cache_lock, cache_unlock, cache_unlock); }

static int64_t get_limit(void) {
    int64_t lim = atomic_load_explicit(&cache_limit, memory_order_relaxed);
    if (lim >= 0) return lim;
    pthread_once(&fork_once, register_fork_handlers);
    lim = default_limit();
    int64_t unset = -1; /* racing first calls compute the same value; a set limit wins */
    if (!atomic_compare_exchange_strong(&cache_limit, &unset, lim)) lim = atomic_load(&cache_limit);
    return lim;
}

static void unlink_block(cached_block *b) {
    if (b->older) b->older->newer = b->newer; else oldest = b->newer;
    if (b->newer) b->newer->older = b->older; else newest = b->older;
    atomic_fetch_sub(&cached_total, (long long)b->cap);
}

/* Frees a chain linked by `newer` (already unlinked); returns its bytes. */
static int64_t free_chain(cached_block *b) {
    int64_t bytes = 0;
    while (b) {
        cached_block *next = b->newer;
        bytes += (int64_t)b->cap;
        default_free(b, NULL);
        b = next;
    }
    return bytes;
}

/* Unlinks the oldest blocks until at most `limit` bytes stay; under cache_mu.
 * Returns them as a chain for free_chain (run after unlocking). */
static cached_block *trim_locked(int64_t limit) {
    cached_block *head = NULL, *tail = NULL;
    while (oldest && atomic_load_explicit(&cached_total, memory_order_relaxed) > limit) {
        cached_block *b = oldest;
        unlink_block(b);
        b->newer = NULL;
        if (tail) tail->newer = b; else head = b;
        tail = b;
    }
    return head;
}

/* Keeps a default-hooks block of `cap` bytes; false when it does not fit the
 * limit (the caller frees it). */
static bool cache_put(void *block, size_t cap) {
    int64_t limit = get_limit();
    if ((uint64_t)cap > (uint64_t)limit) return false;
    cached_block *b = block;
    b->cap = cap;
    b->newer = NULL;
    cache_lock();
    b->older = newest;
    if (newest) newest->newer = b; else oldest = b;
    newest = b;
    atomic_fetch_add(&cached_total, (long long)cap);
    cached_block *evicted = trim_locked(limit); /* never b: cap <= limit */
    cache_unlock();
    free_chain(evicted);
    return true;
}

/* The smallest cached block of need..need + need/8 bytes, unlinked, its size
 * in *cap; NULL if none. */
static void *cache_take(size_t need, size_t *cap) {
    if (atomic_load_explicit(&cached_total, memory_order_relaxed) == 0) return NULL; /* common: nothing cached */
    size_t most = need + need / 8;
    cache_lock();
    cached_block *best = NULL;
    for (cached_block *b = newest; b; b = b->older) /* newest first: its pages are likelier in cache */
        if (b->cap >= need && b->cap <= most && (!best || b->cap < best->cap)) {
            best = b;
            if (b->cap == need) break;
        }
    if (best) {
        unlink_block(best);
        *cap = best->cap;
    }
    cache_unlock();
    return best;
}

bool em_alloc_cache_supported(void) { return CACHE_COMPILED; }
int64_t em_cached_bytes(void) { return (int64_t)atomic_load(&cached_total); }

int64_t em_release_cached_memory(void) {
    if (atomic_load(&cached_total) == 0) return 0;
    cache_lock();
    cached_block *all = oldest; /* already linked oldest to newest by `newer` */
    oldest = newest = NULL;
    atomic_store(&cached_total, 0);
    cache_unlock();
    return free_chain(all);
}

int64_t em_alloc_cache_limit(void) { return CACHE_COMPILED ? get_limit() : 0; }

void em_set_alloc_cache_limit(int64_t bytes) {
    if (!CACHE_COMPILED) return;
    int64_t lim = bytes >= 0 ? bytes : default_limit();
    pthread_once(&fork_once, register_fork_handlers);
    atomic_store(&cache_limit, lim);
    cache_lock();
    cached_block *evicted = trim_locked(lim);
    cache_unlock();
    free_chain(evicted);
}

/* ---- hooks and the public allocator ------------------------------------- */

void em_set_allocator(const em_allocator *a) {
    /* cached blocks came from the default hooks: free them before a swap */
    em_release_cached_memory();
    if (a && a->alloc && a->free)
        current = *a;
    else
        current = (em_allocator){default_alloc, default_free, NULL};
}
em_allocator em_get_allocator(void) { return current; }
int64_t em_allocated_bytes(void) { return (int64_t)atomic_load(&live_bytes); }

/* Whether a block of `bytes` (header included) aligned to `align` goes
 * through the cache. */
static inline bool cacheable(size_t bytes, size_t align) {
    return CACHE_COMPILED && align == EM_ALIGN && bytes >= CACHE_MIN && current.alloc == default_alloc;
}

/* Each block carries {capacity (64-byte aligned blocks only), size,
 * alignment} just before the pointer handed out, so em__free can find the
 * block start, em_allocated_bytes can count and the cache knows the block's
 * real size. */
static void *alloc_aligned(size_t size, size_t align) {
    if (size > SIZE_MAX - align) return NULL;
    size_t bytes = size + align;
    bool cache = cacheable(bytes, align);
    char *p = cache ? cache_take(bytes, &bytes) : NULL;
    if (!p) {
        p = current.alloc(bytes, align, current.ctx);
        if (!p && cache && em_release_cached_memory() > 0) p = current.alloc(bytes, align, current.ctx);
        if (!p) return NULL;
    }
    char *user = p + align;
    if (align >= 3 * sizeof(size_t)) ((size_t *)user)[-3] = bytes;
    ((size_t *)user)[-2] = size;
    ((size_t *)user)[-1] = align;
    atomic_fetch_add(&live_bytes, (long long)size);
    return user;
}

void *em__alloc(size_t size) { return alloc_aligned(size, EM_ALIGN); }

/* 16-byte alignment: plain malloc speed for small headers (tensor handles)
 * that no kernel reads with vector loads. */
void *em__alloc_small(size_t size) { return alloc_aligned(size, 2 * sizeof(size_t)); }

/* Cached blocks hold old data, so this zeroes whatever the block. */
void *em__calloc(size_t size) {
    void *p = em__alloc(size);
    if (p) memset(p, 0, size);
    return p;
}

void em__free(void *p) {
    if (!p) return;
    size_t size = ((size_t *)p)[-2], align = ((size_t *)p)[-1];
    atomic_fetch_sub(&live_bytes, (long long)size);
    char *block = (char *)p - align;
    if (cacheable(size + align, align) && cache_put(block, ((size_t *)p)[-3])) return;
    current.free(block, current.ctx);
}

em_status em__alloc_or_fail(size_t size, const char *what, void **out) {
    void *p = em__alloc(size);
    if (!p) return em__error(EM_ERR_NOMEM, "%s: out of memory allocating %zu bytes", what, size);
    *out = p;
    return EM_OK;
}
