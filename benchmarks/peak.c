/* This machine's float32 FMA peak, per instruction set: 12 independent
 * chains of vfmadd231ps per thread (2 FMA pipes x 4-5 cycles of latency need
 * 8-10), on 1..N threads, for AVX2 (ymm, 8 lanes) and, where the CPU has
 * it, AVX-512 (zmm, 16 lanes).  Prints "peak_gflops <isa> <threads> <value>"
 * lines, and "clock_ghz <value>" (a chain of dependent integer multiplies,
 * 3 cycles each, on one thread).
 * Build: gcc -O2 -pthread benchmarks/peak.c -o peak
 * (only this benchmark is built for the host CPU; libember never is).
 *
 * The FMA loop is written in assembly: a C loop of identical chains lets the
 * compiler merge them into one (an earlier version of this file measured one
 * chain and reported 12 x its rate as the peak, 1.5 x too high). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ITERS 20000000L

/* CPU time of the calling thread: on a loaded host a thread's rate while it
 * runs is the hardware's, whatever share of the wall clock it gets. */
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define FMA12(R)                                                                                   \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "0\n\t"                                               \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "1\n\t"                                               \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "2\n\t"                                               \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "3\n\t"                                               \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "4\n\t"                                               \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "5\n\t"                                               \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "6\n\t"                                               \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "7\n\t"                                               \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "8\n\t"                                               \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "9\n\t"                                               \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "10\n\t"                                              \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "11\n\t"
#define CLOBBER "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", \
                "xmm11", "xmm12", "xmm13", "cc"

/* Zeros (no denormals) multiplied and added: the FMA's speed does not depend on the values. */
__attribute__((target("avx2,fma"))) static void fma_avx2(long n) {
    __asm__ volatile("vxorps %%xmm12, %%xmm12, %%xmm12\n\tvxorps %%xmm13, %%xmm13, %%xmm13\n\t"
                     "1:\n\t" FMA12("ymm") "dec %0\n\tjnz 1b\n\tvzeroupper"
                     : "+r"(n)
                     :
                     : CLOBBER);
}
__attribute__((target("avx512f"))) static void fma_avx512(long n) {
    __asm__ volatile("vxorps %%xmm12, %%xmm12, %%xmm12\n\tvxorps %%xmm13, %%xmm13, %%xmm13\n\t"
                     "1:\n\t" FMA12("zmm") "dec %0\n\tjnz 1b\n\tvzeroupper"
                     : "+r"(n)
                     :
                     : CLOBBER);
}

typedef struct {
    void (*fn)(long);
    double seconds;
} job;

static void *run_job(void *p) {
    job *j = p;
    double t0 = now();
    j->fn(ITERS);
    j->seconds = now() - t0;
    return NULL;
}

/* GFLOPS of nt threads running the chains at once (12 chains x lanes x 2
 * flops per iteration), summed over the threads; best of 3. */
static double run(void (*fn)(long), int lanes, int nt) {
    pthread_t th[16];
    job jobs[16];
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        for (int i = 0; i < nt; i++) {
            jobs[i].fn = fn;
            pthread_create(&th[i], NULL, run_job, &jobs[i]);
        }
        double g = 0;
        for (int i = 0; i < nt; i++) {
            pthread_join(th[i], NULL);
            g += (double)ITERS * 12 * lanes * 2 / jobs[i].seconds / 1e9;
        }
        if (g > best) best = g;
    }
    return best;
}

static double clock_ghz(void) {
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        long n = ITERS, x = 3;
        double t0 = now();
        __asm__ volatile("1:\n\timul %1, %1\n\timul %1, %1\n\timul %1, %1\n\timul %1, %1\n\tdec %0\n\tjnz 1b"
                         : "+r"(n), "+r"(x)
                         :
                         : "cc");
        double g = 4.0 * 3 * ITERS / (now() - t0) / 1e9;
        if (g > best) best = g;
    }
    return best;
}

int main(int argc, char **argv) {
    int maxt = argc > 1 ? atoi(argv[1]) : 2;
    if (maxt < 1 || maxt > 16) maxt = 2;
    __builtin_cpu_init();
    printf("clock_ghz %.2f\n", clock_ghz());
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        for (int nt = 1; nt <= maxt; nt++) printf("peak_gflops avx2 %d %.1f\n", nt, run(fma_avx2, 8, nt));
    if (__builtin_cpu_supports("avx512f"))
        for (int nt = 1; nt <= maxt; nt++) printf("peak_gflops avx512 %d %.1f\n", nt, run(fma_avx512, 16, nt));
    return 0;
}
