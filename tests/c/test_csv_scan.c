/* CSV reader: the parallel record scan.  Texts of a few MiB are scanned in
 * pieces cut at line starts; a quoted field holding newlines across a cut
 * must send the scan back to the serial path, and every thread count must
 * give the same records, values, NUL error and blank/comment handling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

/* rows of "i,i.5,text" where the text is quoted, and at the fractions of
 * the text listed in `cuts` one record's text is a long quoted field whose
 * lines look like records ("7,8.5,x"), so a piece started inside it sees
 * plausible records. */
#define LONG_BYTES 400000 /* a long quoted field: 50 000 lines of 8 bytes */

static char *scan_text(int64_t rows, const double *cuts, int ncuts, size_t *len, int64_t *nlong) {
    /* the length without the long fields first, to place them around the cuts */
    double total = 0;
    if (ncuts) {
        int64_t dummy;
        char *t0 = scan_text(rows, NULL, 0, len, &dummy);
        free(t0);
        total = (double)*len + ncuts * (double)LONG_BYTES;
    }
    size_t cap = (size_t)rows * 40 + (size_t)ncuts * (LONG_BYTES + 64) + 64;
    char *t = malloc(cap);
    if (!t) return NULL;
    size_t n = (size_t)sprintf(t, "# a comment line\na,b,c\n");
    int c = 0;
    *nlong = 0;
    for (int64_t i = 0; i < rows; i++) {
        if (c < ncuts && (double)n >= cuts[c] * total - LONG_BYTES / 2) {
            n += (size_t)sprintf(t + n, "%lld,%lld.5,\"", (long long)i, (long long)i);
            for (int k = 0; k < LONG_BYTES / 8; k++) n += (size_t)sprintf(t + n, "7,8.5,x\n");
            n += (size_t)sprintf(t + n, "\"\n");
            c++;
            (*nlong)++;
            continue;
        }
        if (i % 1000 == 999) n += (size_t)sprintf(t + n, "\n# note\n"); /* blank and comment lines */
        n += (size_t)sprintf(t + n, "%lld,%lld.5,\"r%lld\"\n", (long long)i, (long long)i, (long long)i);
    }
    *len = n;
    return t;
}

static void check_same(const char *t, size_t n, int64_t rows) {
    em_csv_result *r[3] = {NULL, NULL, NULL};
    const int threads[3] = {1, 2, 4};
    for (int k = 0; k < 3; k++) {
        em_csv_options o = em_csv_default_options();
        o.nthreads = threads[k];
        o.comment = '#';
        CHECK_OK(em_csv_read_buffer(t, n, &o, &r[k]));
        if (!r[k]) return;
        CHECK(em_csv_result_num_rows(r[k]) == rows);
        CHECK(em_csv_result_column_type(r[k], 0) == EM_CSV_INT64);
        CHECK(em_csv_result_column_type(r[k], 1) == EM_CSV_FLOAT64);
        CHECK(em_csv_result_column_type(r[k], 2) == EM_CSV_STRING);
    }
    for (int64_t j = 0; j < 2; j++) {
        em_tensor *a;
        CHECK_OK(em_csv_result_column_tensor(r[0], j, &a));
        for (int k = 1; k < 3; k++) {
            em_tensor *b;
            CHECK_OK(em_csv_result_column_tensor(r[k], j, &b));
            CHECK(!memcmp(em_tensor_data(a), em_tensor_data(b), (size_t)rows * 8));
            em_tensor_free(b);
        }
        if (j == 0) /* the ids run 0, 1, 2, ...: no record lost or doubled */
            for (int64_t i = 0; i < rows; i++) CHECK(((const int64_t *)em_tensor_data(a))[i] == i);
        em_tensor_free(a);
    }
    const char *d0, *d1;
    const int64_t *o0, *o1;
    const uint8_t *m0, *m1;
    CHECK_OK(em_csv_result_column_strings(r[0], 2, &d0, &o0, &m0));
    for (int k = 1; k < 3; k++) {
        CHECK_OK(em_csv_result_column_strings(r[k], 2, &d1, &o1, &m1));
        CHECK(!memcmp(o0, o1, (size_t)(rows + 1) * 8) && !memcmp(d0, d1, (size_t)o0[rows]));
    }
    for (int k = 0; k < 3; k++) em_csv_result_free(r[k]);
}

TEST(csv_parallel_scan_pieces_agree) {
    const int64_t rows = 200000; /* about 4.8 MB: four pieces of at least 1 MiB */
    size_t n;
    int64_t nlong;
    char *t = scan_text(rows, NULL, 0, &n, &nlong);
    CHECK(t != NULL);
    if (!t) return;
    check_same(t, n, rows);
    free(t);
}

TEST(csv_parallel_scan_quoted_newlines_across_cuts) {
    const int64_t rows = 200000;
    /* long quoted fields around 1/4, 1/2 and 3/4 of the text: where 2 and 4
     * threads cut it */
    const double cuts[3] = {0.25, 0.5, 0.75};
    size_t n;
    int64_t nlong;
    char *t = scan_text(rows, cuts, 3, &n, &nlong);
    CHECK(t != NULL);
    if (!t) return;
    CHECK(nlong == 3);
    check_same(t, n, rows);
    /* the long fields are one value each */
    em_csv_result *r;
    em_csv_options o = em_csv_default_options();
    o.nthreads = 2;
    o.comment = '#';
    CHECK_OK(em_csv_read_buffer(t, n, &o, &r));
    if (r) {
        const char *d;
        const int64_t *off;
        const uint8_t *m;
        CHECK_OK(em_csv_result_column_strings(r, 2, &d, &off, &m));
        int64_t longest = 0;
        for (int64_t i = 0; i < rows; i++)
            if (off[i + 1] - off[i] > longest) longest = off[i + 1] - off[i];
        CHECK(longest == LONG_BYTES);
        em_csv_result_free(r);
    }
    free(t);
}

TEST(csv_parallel_scan_nul_and_errors_late) {
    const int64_t rows = 200000;
    size_t n;
    int64_t nlong;
    char *t = scan_text(rows, NULL, 0, &n, &nlong);
    CHECK(t != NULL);
    if (!t) return;
    /* a NUL in the last quarter: the same line and column for every count */
    size_t at = n - 100;
    while (t[at] != '\n') at++;
    t[at + 2] = 0;
    int64_t line = 1;
    for (size_t i = 0; i < at + 2; i++) line += t[i] == '\n';
    char want[64];
    snprintf(want, sizeof want, "line %lld, column 1", (long long)line);
    const int threads[3] = {1, 2, 4};
    for (int k = 0; k < 3; k++) {
        em_csv_options o = em_csv_default_options();
        o.nthreads = threads[k];
        o.comment = '#';
        em_csv_result *r = NULL;
        CHECK_STATUS(em_csv_read_buffer(t, n, &o, &r), EM_ERR_PARSE);
        CHECK(strstr(em_last_error(), "NUL") && strstr(em_last_error(), want));
    }
    /* max_rows keeps the serial scan and stops before the NUL */
    em_csv_options o = em_csv_default_options();
    o.nthreads = 2;
    o.comment = '#';
    o.max_rows = 10;
    em_csv_result *r = NULL;
    CHECK_STATUS(em_csv_read_buffer(t, n, &o, &r), EM_ERR_PARSE);
    free(t);
}
