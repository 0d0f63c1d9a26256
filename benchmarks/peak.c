/* This machine's float32 FMA peak: 12 independent chains of
 * _mm256_fmadd_ps per thread (enough to cover the FMA latency on 2 pipes),
 * on 1 and 2 threads.  Prints "peak_gflops <threads> <value>" lines.
 * Build: gcc -O2 -mavx2 -mfma -pthread benchmarks/peak.c -o peak
 * (only this benchmark is built for the host CPU; libember never is). */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ITERS 20000000L

/* CPU time of the calling thread: on a loaded host a thread's rate while it
 * runs is the hardware's, whatever share of the wall clock it gets. */
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct {
    float sink;
    double seconds;
} result;

static void *chains(void *out) {
    double t0 = now();
    __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
    __m256 c0 = _mm256_set1_ps(1), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0,
           c9 = c0, c10 = c0, c11 = c0;
    for (long i = 0; i < ITERS; i++) {
        c0 = _mm256_fmadd_ps(c0, m, a);
        c1 = _mm256_fmadd_ps(c1, m, a);
        c2 = _mm256_fmadd_ps(c2, m, a);
        c3 = _mm256_fmadd_ps(c3, m, a);
        c4 = _mm256_fmadd_ps(c4, m, a);
        c5 = _mm256_fmadd_ps(c5, m, a);
        c6 = _mm256_fmadd_ps(c6, m, a);
        c7 = _mm256_fmadd_ps(c7, m, a);
        c8 = _mm256_fmadd_ps(c8, m, a);
        c9 = _mm256_fmadd_ps(c9, m, a);
        c10 = _mm256_fmadd_ps(c10, m, a);
        c11 = _mm256_fmadd_ps(c11, m, a);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float v[8];
    _mm256_storeu_ps(v, s);
    ((result *)out)->sink = v[0]; /* keeps the loop alive */
    ((result *)out)->seconds = now() - t0;
    return NULL;
}

/* GFLOPS of nt threads running the chains at once (12 chains x 8 lanes x 2
 * flops per iteration), summed over the threads. */
static double run(int nt) {
    pthread_t th[16];
    result res[16];
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        for (int i = 0; i < nt; i++) pthread_create(&th[i], NULL, chains, &res[i]);
        double g = 0;
        for (int i = 0; i < nt; i++) {
            pthread_join(th[i], NULL);
            g += (double)ITERS * 12 * 8 * 2 / res[i].seconds / 1e9;
        }
        if (g > best) best = g;
    }
    return best;
}

int main(int argc, char **argv) {
    int maxt = argc > 1 ? atoi(argv[1]) : 2;
    if (maxt < 1 || maxt > 16) maxt = 2;
    for (int nt = 1; nt <= maxt; nt++) printf("peak_gflops %d %.1f\n", nt, run(nt));
    return 0;
}
