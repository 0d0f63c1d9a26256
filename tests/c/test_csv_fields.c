/* CSV reader, the whole-field fast paths (csrc/ember/io/csv_field.h and the
 * record splitter in csv.c): random decimal texts in a multi-column file
 * against strtod, int64 bounds, and records that must leave the fast path
 * (quotes, CRLF, spaces, wrong field counts) giving the same values and
 * errors.  Build with -DEM_CSV_PORTABLE to run the same checks on the path
 * without SSE2. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_util.h"

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* A random decimal text: sign, 1-25 digits (sometimes with leading zeros), a
 * point anywhere or none, and an exponent from far below the subnormals to
 * past the overflow threshold. */
static int random_decimal(uint64_t *s, char *buf) {
    int n = 0;
    uint64_t r = rng_next(s);
    if (r % 4 == 0) buf[n++] = '-';
    else if (r % 16 == 1) buf[n++] = '+';
    int zeros = (r >> 8) % 5 == 0 ? (int)((r >> 12) % 5) : 0;
    int nd = 1 + (int)((r >> 16) % 25), pt = (int)((r >> 24) % (unsigned)(zeros + nd + 2)) - 1;
    for (int d = 0; d < zeros + nd; d++) {
        if (d == pt) buf[n++] = '.';
        buf[n++] = d < zeros ? '0' : (char)('0' + rng_next(s) % 10);
    }
    if ((r >> 32) % 5 < 2) n += sprintf(buf + n, "e%d", (int)((r >> 40) % 700) - 350);
    buf[n] = 0;
    return n;
}

TEST(csv_fields_random_decimals_match_strtod) {
    enum { N = 30000 };
    char *text = malloc((size_t)N * 96 + 32), (*vals)[48] = malloc((size_t)N * 48);
    uint64_t s = 0x243F6A8885A308D3ULL;
    size_t n = (size_t)sprintf(text, "a,b,i\n");
    for (int i = 0; i < N; i++) {
        random_decimal(&s, vals[i]);
        /* b: a short second column so that fields start at every offset */
        n += (size_t)sprintf(text + n, "%s,%d.5,%d%s", vals[i], i % 97, i, i % 3 ? "\n" : "\r\n");
    }
    for (int nthreads = 1; nthreads <= 2; nthreads++) {
        em_csv_options o = em_csv_default_options();
        o.nthreads = nthreads;
        em_csv_result *r = NULL;
        CHECK_OK(em_csv_read_buffer(text, n, &o, &r));
        if (!r) break;
        CHECK(em_csv_result_num_rows(r) == N && em_csv_result_column_type(r, 0) == EM_CSV_FLOAT64);
        CHECK(em_csv_result_column_type(r, 2) == EM_CSV_INT64);
        em_tensor *a = NULL, *b = NULL, *ix = NULL;
        CHECK_OK(em_csv_result_column_tensor(r, 0, &a));
        CHECK_OK(em_csv_result_column_tensor(r, 1, &b));
        CHECK_OK(em_csv_result_column_tensor(r, 2, &ix));
        const double *av = a ? em_tensor_data(a) : NULL, *bv = b ? em_tensor_data(b) : NULL;
        const int64_t *iv = ix ? em_tensor_data(ix) : NULL;
        int bad = 0;
        for (int i = 0; av && bv && iv && i < N; i++) {
            double want = strtod(vals[i], NULL), wb = (i % 97) + 0.5;
            if (memcmp(&av[i], &want, sizeof want) || bv[i] != wb || iv[i] != i) {
                if (bad++ < 3) fprintf(stderr, "  row %d: '%s' read %.17g, strtod %.17g\n", i, vals[i], av[i], want);
            }
        }
        CHECK(bad == 0);
        em_tensor_free(a);
        em_tensor_free(b);
        em_tensor_free(ix);
        em_csv_result_free(r);
    }
    free(text);
    free(vals);
}

TEST(csv_fields_int64_bounds) {
    const char *txt = "pad_column_to_push_fields_past_the_first_bytes,v\n"
                      "x,9223372036854775807\nx,-9223372036854775808\nx,+0000000000000000000000042\n"
                      "x,-0\nx,1234567890123456789\n";
    em_csv_result *r = NULL;
    CHECK_OK(em_csv_read_buffer(txt, strlen(txt), NULL, &r));
    CHECK(r && em_csv_result_column_type(r, 1) == EM_CSV_INT64);
    em_tensor *t = NULL;
    if (r) CHECK_OK(em_csv_result_column_tensor(r, 1, &t));
    if (t) {
        const int64_t *v = em_tensor_data(t);
        CHECK(v[0] == INT64_MAX && v[1] == INT64_MIN && v[2] == 42 && v[3] == 0 && v[4] == 1234567890123456789LL);
    }
    em_tensor_free(t);
    em_csv_result_free(r);
    /* one past the range: the column is float64, each value as strtod reads it */
    const char *over = "pad_column_to_push_fields_past_the_first_bytes,v\nx,9223372036854775808\nx,7\n";
    CHECK_OK(em_csv_read_buffer(over, strlen(over), NULL, &r));
    CHECK(r && em_csv_result_column_type(r, 1) == EM_CSV_FLOAT64);
    em_csv_result_free(r);
    em_csv_options o = em_csv_default_options();
    em_csv_column_type ty = {{"v", 0}, EM_CSV_INT64};
    o.types = &ty;
    o.n_types = 1;
    r = NULL;
    CHECK_STATUS(em_csv_read_buffer(over, strlen(over), &o, &r), EM_ERR_PARSE);
    CHECK(r == NULL && error_has("line 2, column 2 ('v')") && error_has("outside the int64 range"));
}

TEST(csv_fields_leave_the_fast_path_alike) {
    /* every record here leaves the fast path somewhere: the values must be
     * what the general path reads */
    const char *txt = "long_header_name_one,long_header_name_two,three\n"
                      "1.5,\"2.5\",x\r\n"
                      " 3 ,4e1 ,\"y,z\"\n"
                      "5,NA,\"q\"\"q\"\n"
                      "6,inf,\n"
                      "7,-.5E-1,w\n";
    em_csv_result *r = NULL;
    CHECK_OK(em_csv_read_buffer(txt, strlen(txt), NULL, &r));
    if (!r) return;
    CHECK(em_csv_result_column_type(r, 0) == EM_CSV_FLOAT64 && em_csv_result_column_type(r, 1) == EM_CSV_FLOAT64);
    em_tensor *a = NULL, *b = NULL;
    CHECK_OK(em_csv_result_column_tensor(r, 0, &a));
    CHECK_OK(em_csv_result_column_tensor(r, 1, &b));
    if (a && b) {
        CHECK(value_at(a, 0) == 1.5 && value_at(a, 1) == 3.0 && value_at(a, 4) == 7.0);
        CHECK(value_at(b, 0) == 2.5 && value_at(b, 1) == 40.0 && isnan(value_at(b, 2)));
        CHECK(isinf(value_at(b, 3)) && value_at(b, 4) == -0.05);
    }
    const char *d;
    const int64_t *off;
    const uint8_t *miss;
    CHECK_OK(em_csv_result_column_strings(r, 2, &d, &off, &miss));
    CHECK(off[1] - off[0] == 1 && d[off[0]] == 'x');
    CHECK(off[2] - off[1] == 3 && !memcmp(d + off[1], "y,z", 3));
    CHECK(off[3] - off[2] == 3 && !memcmp(d + off[2], "q\"q", 3));
    CHECK(miss[3] && !miss[4]);
    em_tensor_free(a);
    em_tensor_free(b);
    em_csv_result_free(r);
    /* a record with one field too many or too few is reported as before */
    const char *more = "long_header_name_one,long_header_name_two\n1.25,2.5\n3.5,4.5,5.5\n";
    r = NULL;
    CHECK_STATUS(em_csv_read_buffer(more, strlen(more), NULL, &r), EM_ERR_PARSE);
    CHECK(error_has("line 3, column 3") && error_has("expected 2 fields, found more"));
    const char *fewer = "long_header_name_one,long_header_name_two\n1.25,2.5\n3.5\n";
    CHECK_STATUS(em_csv_read_buffer(fewer, strlen(fewer), NULL, &r), EM_ERR_PARSE);
    CHECK(error_has("line 3, column 2") && error_has("expected 2 fields, found 1"));
}

/* Records longer than the 64-byte steps of the AVX2 record split (a line end,
 * a quote or an extra delimiter in a later step than the record's start),
 * read by both builds of the record loop: the AVX2 one (on a CPU that has
 * it) and the SSE2 one (EMBER_FORCE_PORTABLE=1).  Values must equal strtod,
 * errors must name the same line and column. */
TEST(csv_fields_wide_records_both_builds) {
    enum { N = 4000, C = 12 };
    char *text = malloc((size_t)N * C * 48 + 256), (*vals)[48] = malloc((size_t)N * C * 48);
    uint64_t s = 0x13198A2E03707344ULL;
    size_t n = 0;
    for (int j = 0; j < C; j++) n += (size_t)sprintf(text + n, j ? ",c%d" : "c%d", j);
    text[n++] = '\n';
    for (int i = 0; i < N * C; i++) {
        random_decimal(&s, vals[i]);
        n += (size_t)sprintf(text + n, "%s%s", vals[i], i % C == C - 1 ? (i % 7 ? "\n" : "\r\n") : ",");
    }
    const char *old = getenv("EMBER_FORCE_PORTABLE");
    char *saved = old ? strdup(old) : NULL;
    for (int portable = 0; portable <= 1; portable++) {
        setenv("EMBER_FORCE_PORTABLE", portable ? "1" : "0", 1);
        em_csv_result *r = NULL;
        CHECK_OK(em_csv_read_buffer(text, n, NULL, &r));
        if (!r) continue;
        CHECK(em_csv_result_num_rows(r) == N && em_csv_result_num_cols(r) == C);
        int bad = 0;
        for (int j = 0; j < C; j++) {
            em_tensor *t = NULL;
            CHECK_OK(em_csv_result_column_tensor(r, j, &t));
            CHECK(em_csv_result_column_type(r, j) == EM_CSV_FLOAT64);
            const double *v = t ? em_tensor_data(t) : NULL;
            for (int i = 0; v && i < N; i++) {
                double want = strtod(vals[i * C + j], NULL);
                if (memcmp(&v[i], &want, sizeof want) && bad++ < 3)
                    fprintf(stderr, "  row %d col %d: '%s' read %.17g, strtod %.17g\n", i, j, vals[i * C + j], v[i], want);
            }
            em_tensor_free(t);
        }
        CHECK(bad == 0);
        em_csv_result_free(r);
        /* a quoted field and CRLF past the first 64 bytes of a record */
        const char *q = "a,b,c,d,e\n"
                        "1.0000000000000002,2.0000000000000004,3.0000000000000004,4.000000000000001,\"5.5\"\r\n"
                        "6.123456789012345,7.123456789012345,8.123456789012345,9.123456789012345,10.5\r\n";
        CHECK_OK(em_csv_read_buffer(q, strlen(q), NULL, &r));
        if (r) {
            em_tensor *t = NULL;
            CHECK_OK(em_csv_result_column_tensor(r, 4, &t));
            CHECK(t && value_at(t, 0) == 5.5 && value_at(t, 1) == 10.5);
            em_tensor_free(t);
            CHECK_OK(em_csv_result_column_tensor(r, 3, &t));
            CHECK(t && value_at(t, 0) == 4.000000000000001 && value_at(t, 1) == 9.123456789012345);
            em_tensor_free(t);
            em_csv_result_free(r);
        }
        /* one field too many in a later 64-byte step, and one too few */
        const char *more = "a,b,c,d\n"
                           "1.0000000000000002,2.0000000000000004,3.0000000000000004,4.000000000000001\n"
                           "1.0000000000000002,2.0000000000000004,3.0000000000000004,4.000000000000001,5\n";
        r = NULL;
        CHECK_STATUS(em_csv_read_buffer(more, strlen(more), NULL, &r), EM_ERR_PARSE);
        CHECK(r == NULL && error_has("line 3, column 5") && error_has("expected 4 fields, found more"));
        const char *fewer = "a,b,c,d,e\n"
                            "1.0000000000000002,2.0000000000000004,3.0000000000000004,4.000000000000001,5\n"
                            "1.0000000000000002,2.0000000000000004,3.0000000000000004,4.000000000000001\n"
                            "1.0000000000000002,2.0000000000000004,3.0000000000000004,4.000000000000001,5\n";
        CHECK_STATUS(em_csv_read_buffer(fewer, strlen(fewer), NULL, &r), EM_ERR_PARSE);
        CHECK(r == NULL && error_has("line 3, column 5") && error_has("expected 5 fields, found 4"));
    }
    if (saved) setenv("EMBER_FORCE_PORTABLE", saved, 1);
    else unsetenv("EMBER_FORCE_PORTABLE");
    free(saved);
    free(text);
    free(vals);
}
