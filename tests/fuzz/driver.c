/* Standalone driver for libFuzzer-style targets, for compilers without
 * libFuzzer (gcc): runs every file of the corpus folders given, then random
 * mutations of them (byte flips, inserts of CSV-significant bytes, splices,
 * truncations) until the iteration or time budget is spent.
 *
 *   driver [-n ITERATIONS] [-t SECONDS] [-s SEED] DIR...
 *
 * Exits non-zero only through the target aborting (or a sanitizer report). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    uint8_t *p;
    size_t n;
} blob;

static uint64_t rng_state = 0x853c49e6748fea9bULL;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static blob *seeds;
static size_t nseeds, capseeds;

static void add_seed(uint8_t *p, size_t n) {
    if (nseeds == capseeds) {
        capseeds = capseeds ? capseeds * 2 : 64;
        seeds = realloc(seeds, capseeds * sizeof *seeds);
        if (!seeds) exit(2);
    }
    seeds[nseeds++] = (blob){p, n};
}

static void load_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "driver: cannot open %s\n", dir);
        exit(2);
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
        if (p && fread(p, 1, (size_t)n, f) == (size_t)n) add_seed(p, (size_t)n);
        else free(p);
        fclose(f);
    }
    closedir(d);
}

static const uint8_t interesting[] = {',', ';', '"', '\n', '\r', '#', '0', '1', '.', 'e', '-', '+',
                                      ' ', 'N', 'A', 't', 'f', 0, 0xEF, 0xBB, 0xBF, 'x'};

/* One mutant of a random seed, in out (capacity cap); returns its size. */
static size_t mutate(uint8_t *out, size_t cap) {
    const blob *b = &seeds[rnd() % nseeds];
    size_t n = b->n < cap ? b->n : cap;
    memcpy(out, b->p, n);
    int steps = 1 + (int)(rnd() % 8);
    for (int s = 0; s < steps; s++) {
        switch (rnd() % 6) {
        case 0: /* overwrite a byte */
            if (n) out[rnd() % n] = (uint8_t)rnd();
            break;
        case 1: /* insert a significant byte */
            if (n < cap) {
                size_t at = n ? rnd() % (n + 1) : 0;
                memmove(out + at + 1, out + at, n - at);
                out[at] = interesting[rnd() % sizeof interesting];
                n++;
            }
            break;
        case 2: /* delete a range */
            if (n) {
                size_t at = rnd() % n, k = 1 + rnd() % 8;
                if (k > n - at) k = n - at;
                memmove(out + at, out + at + k, n - at - k);
                n -= k;
            }
            break;
        case 3: /* truncate */
            if (n) n = rnd() % n;
            break;
        case 4: { /* splice in part of another seed */
            const blob *o = &seeds[rnd() % nseeds];
            if (o->n && n < cap) {
                size_t from = rnd() % o->n, k = 1 + rnd() % 32, at = n ? rnd() % (n + 1) : 0;
                if (k > o->n - from) k = o->n - from;
                if (k > cap - n) k = cap - n;
                memmove(out + at + k, out + at, n - at);
                memcpy(out + at, o->p + from, k);
                n += k;
            }
            break;
        }
        default: /* set the options byte */
            if (n) out[0] = (uint8_t)rnd();
            break;
        }
    }
    return n;
}

int main(int argc, char **argv) {
    long iters = 100000;
    double secs = 15;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc) break;
        if (!strcmp(argv[i], "-n")) iters = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "-t")) secs = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "-s")) rng_state = strtoull(argv[i + 1], NULL, 0) | 1;
    }
    for (; i < argc; i++) load_dir(argv[i]);
    if (!nseeds) {
        fprintf(stderr, "usage: driver [-n N] [-t SECONDS] [-s SEED] CORPUS_DIR...\n");
        return 2;
    }
    for (size_t k = 0; k < nseeds; k++) LLVMFuzzerTestOneInput(seeds[k].p, seeds[k].n);
    enum { CAP = 4096 };
    uint8_t *buf = malloc(CAP);
    clock_t t0 = clock();
    long done = 0;
    for (; done < iters; done++) {
        if ((done & 255) == 0 && (double)(clock() - t0) / CLOCKS_PER_SEC > secs) break;
        size_t n = mutate(buf, CAP);
        /* exact-size copy so a read past the end is caught */
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, buf, n);
        LLVMFuzzerTestOneInput(p, n);
        free(p);
    }
    printf("fuzz driver: %zu seeds, %ld mutations, no failures\n", nseeds, done);
    free(buf);
    for (size_t k = 0; k < nseeds; k++) free(seeds[k].p);
    free(seeds);
    return 0;
}
