/* Minimal C test runner: TEST(name) { ... CHECK(...); } in any tests/c/test_*.c.
 * Tests register themselves at load time; main.c runs them all (or those
 * whose name contains argv[1]) and prints "N passed, N failed". */
#ifndef EMBER_TEST_H
#define EMBER_TEST_H

#include <math.h>
#include <stdio.h>

#include "ember.h"

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
extern int test_failures; /* failures of the running test */

#define TEST(name)                                                                     \
    static void test_##name(void);                                                     \
    __attribute__((constructor)) static void test_reg_##name(void) { test_register(#name, test_##name); } \
    static void test_##name(void)

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            test_failures++;                                                           \
        }                                                                              \
    } while (0)

/* Checks an em_status is EM_OK, printing em_last_error() otherwise. */
#define CHECK_OK(expr)                                                                 \
    do {                                                                               \
        em_status st_ = (expr);                                                        \
        if (st_ != EM_OK) {                                                            \
            fprintf(stderr, "  %s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #expr,      \
                    em_status_str(st_), em_last_error());                              \
            test_failures++;                                                           \
        }                                                                              \
    } while (0)

#define CHECK_STATUS(expr, want)                                                       \
    do {                                                                               \
        em_status st_ = (expr);                                                        \
        if (st_ != (want)) {                                                           \
            fprintf(stderr, "  %s:%d: %s -> %s, wanted %s\n", __FILE__, __LINE__, #expr, \
                    em_status_str(st_), em_status_str(want));                          \
            test_failures++;                                                           \
        }                                                                              \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                          \
    do {                                                                               \
        double a_ = (a), b_ = (b);                                                     \
        if (!(fabs(a_ - b_) <= (tol) * (1 + fabs(b_)))) {                              \
            fprintf(stderr, "  %s:%d: %s = %.17g, wanted %.17g\n", __FILE__, __LINE__, #a, a_, b_); \
            test_failures++;                                                           \
        }                                                                              \
    } while (0)

#endif
