#include <stdlib.h>
#include <string.h>

#include "test.h"

#define MAX_TESTS 4096
static struct {
    const char *name;
    test_fn fn;
} tests[MAX_TESTS];
static int ntests;
int test_failures;

void test_register(const char *name, test_fn fn) {
    if (ntests == MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    tests[ntests].name = name;
    tests[ntests++].fn = fn;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv) {
    qsort(tests, (size_t)ntests, sizeof tests[0], by_name);
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
        test_failures = 0;
        int64_t before = em_allocated_bytes();
        tests[i].fn();
        int64_t leaked = em_allocated_bytes() - before;
        if (leaked) {
            fprintf(stderr, "  %s: %lld bytes still allocated after the test\n", tests[i].name, (long long)leaked);
            test_failures++;
        }
        if (test_failures) {
            fprintf(stderr, "FAIL %s\n", tests[i].name);
            failed++;
        } else {
            passed++;
        }
    }
    /* blocks the allocator cached would read as leaks to valgrind at exit */
    em_release_cached_memory();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
