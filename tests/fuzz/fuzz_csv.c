/* libFuzzer target for the CSV reader: the input is split into an options
 * byte and the CSV text.  Any input must give EM_OK or an error status with
 * a message, never a crash, an out-of-bounds read or a leak; a successful
 * result must be self-consistent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember.h"

static void check(int cond) {
    if (!cond) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    /* an exact-size heap copy, so ASan sees any read past the end */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    em_csv_options o = em_csv_default_options();
    o.header = flags & 1;
    if (flags & 2) o.delimiter = ';';
    if (flags & 4) o.comment = '#';
    if (flags & 8) o.quote = 0;
    if (flags & 16) o.max_rows = 3;
    o.nthreads = (flags & 32) ? 2 : 1;
    o.default_type = (em_csv_type)((flags >> 6) & 3); /* auto, bool, int64, float64 */
    static const em_csv_column cols[] = {{NULL, 0}, {NULL, -1}};
    if ((flags & 0xC0) == 0xC0) {
        o.default_type = EM_CSV_AUTO;
        o.usecols = cols;
        o.n_usecols = 2;
    }
    int64_t before = em_allocated_bytes();
    /* with 2 threads, first read on 1: the answer must not depend on the
     * thread count (built with -DEM_CSV_SCAN_PIECE_SHIFT=3 the record scan
     * cuts even short texts into pieces) */
    em_csv_result *r1 = NULL;
    em_status st1 = EM_OK;
    static char msg1[512];
    if (o.nthreads == 2) {
        o.nthreads = 1;
        st1 = em_csv_read_buffer(buf, size, &o, &r1);
        if (st1) snprintf(msg1, sizeof msg1, "%s", em_last_error());
        o.nthreads = 2;
    }
    em_csv_result *r = NULL;
    em_status st = em_csv_read_buffer(buf, size, &o, &r);
    if (o.nthreads == 2) {
        check(st == st1);
        if (st) check(!strcmp(msg1, em_last_error()));
        if (!st && !st1) {
            int64_t n = em_csv_result_num_rows(r);
            check(n == em_csv_result_num_rows(r1) && em_csv_result_num_cols(r) == em_csv_result_num_cols(r1));
            for (int64_t j = 0; j < em_csv_result_num_cols(r) && j < em_csv_result_num_cols(r1); j++) {
                em_csv_type t = em_csv_result_column_type(r, j);
                check(t == em_csv_result_column_type(r1, j));
                if (t == EM_CSV_STRING) {
                    const char *d, *d1;
                    const int64_t *off, *off1;
                    const uint8_t *miss, *miss1;
                    check(em_csv_result_column_strings(r, j, &d, &off, &miss) == EM_OK);
                    check(em_csv_result_column_strings(r1, j, &d1, &off1, &miss1) == EM_OK);
                    check(!memcmp(off, off1, (size_t)(n + 1) * sizeof *off) && !memcmp(miss, miss1, (size_t)n));
                    check(!memcmp(d, d1, (size_t)off[n]));
                } else {
                    em_tensor *a, *b;
                    check(em_csv_result_column_tensor(r, j, &a) == EM_OK);
                    check(em_csv_result_column_tensor(r1, j, &b) == EM_OK);
                    check(em_tensor_numel(a) == n && em_tensor_numel(b) == n);
                    check(!memcmp(em_tensor_data(a), em_tensor_data(b), (size_t)n * em_dtype_size(em_tensor_dtype(a))));
                    em_tensor_free(a);
                    em_tensor_free(b);
                }
            }
        }
        em_csv_result_free(r1);
    }
    if (st == EM_OK) {
        int64_t n = em_csv_result_num_rows(r);
        for (int64_t j = 0; j < em_csv_result_num_cols(r); j++) {
            check(em_csv_result_column_name(r, j) != NULL);
            if (em_csv_result_column_type(r, j) == EM_CSV_STRING) {
                const char *d;
                const int64_t *off;
                const uint8_t *miss;
                check(em_csv_result_column_strings(r, j, &d, &off, &miss) == EM_OK);
                check(off[0] == 0);
                for (int64_t i = 0; i < n; i++) check(off[i] <= off[i + 1] && (!miss[i] || off[i] == off[i + 1]));
                check((size_t)off[n] <= size);
            } else {
                em_tensor *t;
                check(em_csv_result_column_tensor(r, j, &t) == EM_OK);
                check(em_tensor_numel(t) == n);
                em_tensor_free(t);
            }
        }
        em_csv_result_free(r);
    } else {
        check(r == NULL && st < EM_STATUS_COUNT_ && em_last_error()[0] != 0);
    }
    check(em_allocated_bytes() == before);
    free(buf);
    return 0;
}
