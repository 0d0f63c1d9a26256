/* CSV reader: quoting, line endings, missing values, type inference, column
 * selection, every malformed-input error with its line and column, the
 * float parser against strtod, thread-count independence and OOM. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "test_util.h"

static em_status rd(const char *txt, const em_csv_options *o, em_csv_result **r) {
    return em_csv_read_buffer(txt, strlen(txt), o, r);
}

/* Column j's value in row i as double (NaN for missing) -- numeric columns. */
static double num(const em_csv_result *r, int64_t j, int64_t i) {
    em_tensor *t;
    if (em_csv_result_column_tensor(r, j, &t)) return -12345.0;
    double v = value_at(t, i);
    em_tensor_free(t);
    return v;
}

static em_dtype dtype_of(const em_csv_result *r, int64_t j) {
    em_tensor *t;
    if (em_csv_result_column_tensor(r, j, &t)) return EM_DTYPE_COUNT;
    em_dtype d = em_tensor_dtype(t);
    em_tensor_free(t);
    return d;
}

/* Whether string column j, row i, is exactly s (NULL: missing). */
static bool str_is(const em_csv_result *r, int64_t j, int64_t i, const char *s) {
    const char *d;
    const int64_t *o;
    const uint8_t *m;
    if (em_csv_result_column_strings(r, j, &d, &o, &m)) return false;
    if (!s) return m[i] && o[i + 1] == o[i];
    return !m[i] && (size_t)(o[i + 1] - o[i]) == strlen(s) && !memcmp(d + o[i], s, strlen(s));
}

/* Parses txt expecting EM_ERR_PARSE with `a` and `b` in the message. */
static void bad(const char *txt, const em_csv_options *o, const char *a, const char *b) {
    em_csv_result *r = NULL;
    em_status st = em_csv_read_buffer(txt, strlen(txt), o, &r);
    CHECK(st == EM_ERR_PARSE);
    CHECK(r == NULL);
    if (!error_has(a) || (b && !error_has(b))) {
        fprintf(stderr, "  input %s: message '%s' lacks '%s' / '%s'\n", txt, em_last_error(), a, b ? b : "");
        test_failures++;
    }
    em_csv_result_free(r);
}

TEST(csv_basic_inference) {
    em_csv_result *r;
    CHECK_OK(rd("i,f,s,b,e\n1,2.5,x,true,\n-7,1e3,y,False,NA\n", NULL, &r));
    CHECK(em_csv_result_num_rows(r) == 2 && em_csv_result_num_cols(r) == 5);
    CHECK(!strcmp(em_csv_result_column_name(r, 2), "s"));
    CHECK(em_csv_result_column_type(r, 0) == EM_CSV_INT64 && dtype_of(r, 0) == EM_I64);
    CHECK(em_csv_result_column_type(r, 1) == EM_CSV_FLOAT64 && dtype_of(r, 1) == EM_F64);
    CHECK(em_csv_result_column_type(r, 2) == EM_CSV_STRING);
    CHECK(em_csv_result_column_type(r, 3) == EM_CSV_BOOL && dtype_of(r, 3) == EM_BOOL);
    CHECK(em_csv_result_column_type(r, 4) == EM_CSV_FLOAT64); /* all missing */
    CHECK(num(r, 0, 0) == 1 && num(r, 0, 1) == -7 && num(r, 1, 1) == 1000 && num(r, 3, 0) == 1 && num(r, 3, 1) == 0);
    CHECK(isnan(num(r, 4, 0)) && isnan(num(r, 4, 1)));
    CHECK(str_is(r, 2, 0, "x") && str_is(r, 2, 1, "y"));
    em_tensor *t;
    CHECK_STATUS(em_csv_result_column_tensor(r, 2, &t), EM_ERR_DTYPE);
    CHECK_STATUS(em_csv_result_column_tensor(r, 5, &t), EM_ERR_INDEX);
    const char *d;
    const int64_t *o;
    const uint8_t *m;
    CHECK_STATUS(em_csv_result_column_strings(r, 0, &d, &o, &m), EM_ERR_DTYPE);
    CHECK(em_csv_result_column_name(r, 9) == NULL && em_csv_result_column_type(r, -1) == EM_CSV_AUTO);
    em_csv_result_free(r);
    em_csv_result_free(NULL);
}

TEST(csv_int_promotions) {
    em_csv_result *r;
    /* int with a missing value -> float64 NaN; int then float -> float;
     * bool with missing -> float 0/1/NaN; bool with numbers -> strings;
     * an integer past int64 -> float */
    CHECK_OK(rd("a,b,c,d,e\n1,1,true,true,9223372036854775807\n,2.5,,1,99999999999999999999\n3,3,false,0,1\n",
                NULL, &r));
    CHECK(em_csv_result_column_type(r, 0) == EM_CSV_FLOAT64);
    CHECK(num(r, 0, 0) == 1 && isnan(num(r, 0, 1)) && num(r, 0, 2) == 3);
    CHECK(em_csv_result_column_type(r, 1) == EM_CSV_FLOAT64 && num(r, 1, 1) == 2.5 && num(r, 1, 2) == 3);
    CHECK(em_csv_result_column_type(r, 2) == EM_CSV_FLOAT64 && num(r, 2, 0) == 1 && isnan(num(r, 2, 1)));
    CHECK(em_csv_result_column_type(r, 3) == EM_CSV_STRING && str_is(r, 3, 0, "true") && str_is(r, 3, 1, "1"));
    CHECK(em_csv_result_column_type(r, 4) == EM_CSV_FLOAT64 && num(r, 4, 1) == 1e20);
    em_csv_result_free(r);
    CHECK_OK(rd("a\n9223372036854775807\n-9223372036854775808\n", NULL, &r));
    em_tensor *t;
    CHECK_OK(em_csv_result_column_tensor(r, 0, &t));
    CHECK(int_at(t, 0) == INT64_MAX && int_at(t, 1) == INT64_MIN);
    em_tensor_free(t);
    em_csv_result_free(r);
}

TEST(csv_quoting_and_line_endings) {
    em_csv_result *r;
    const char *txt = "\"na,me\",v\r\n\"a,b\",1\r\n\"say \"\"hi\"\"\",2\r\n\"multi\nline\",3\r\n\"\",4\r\nplain\"q,5";
    CHECK_OK(rd(txt, NULL, &r));
    CHECK(em_csv_result_num_rows(r) == 5);
    CHECK(!strcmp(em_csv_result_column_name(r, 0), "na,me"));
    CHECK(str_is(r, 0, 0, "a,b") && str_is(r, 0, 1, "say \"hi\"") && str_is(r, 0, 2, "multi\nline"));
    CHECK(str_is(r, 0, 3, NULL) && str_is(r, 0, 4, "plain\"q"));
    CHECK(num(r, 1, 0) == 1 && num(r, 1, 4) == 5 && dtype_of(r, 1) == EM_I64);
    em_csv_result_free(r);
    /* quoted numbers are numbers; CR only before LF ends a line */
    CHECK_OK(rd("x,y\n\"1.5\",\" 2 \"\r\n", NULL, &r));
    CHECK(num(r, 0, 0) == 1.5 && num(r, 1, 0) == 2);
    em_csv_result_free(r);
    /* quote disabled: quotes are data */
    em_csv_options o = em_csv_default_options();
    o.quote = 0;
    CHECK_OK(rd("x\n\"a\n", &o, &r));
    CHECK(str_is(r, 0, 0, "\"a"));
    em_csv_result_free(r);
}

TEST(csv_missing_values) {
    em_csv_result *r;
    CHECK_OK(rd("f,s\n1.5,a\nNA,NULL\nnan,\n  ,\" \"\n-999,b\n", NULL, &r));
    CHECK(num(r, 0, 0) == 1.5 && isnan(num(r, 0, 1)) && isnan(num(r, 0, 2)) && isnan(num(r, 0, 3)));
    CHECK(num(r, 0, 4) == -999);
    CHECK(str_is(r, 1, 0, "a") && str_is(r, 1, 1, NULL) && str_is(r, 1, 2, NULL) && str_is(r, 1, 3, " "));
    em_csv_result_free(r);
    em_csv_options o = em_csv_default_options();
    const char *na[] = {"-999", "?"};
    o.na_values = na;
    o.n_na_values = 2;
    CHECK_OK(rd("f,s\n1,a\n-999,?\nNA,b\n", &o, &r));
    CHECK(em_csv_result_column_type(r, 0) == EM_CSV_STRING); /* "NA" is not missing now */
    CHECK(str_is(r, 0, 1, NULL) && str_is(r, 0, 2, "NA") && str_is(r, 1, 1, NULL));
    em_csv_result_free(r);
}

TEST(csv_options) {
    em_csv_result *r;
    em_csv_options o = em_csv_default_options();
    o.delimiter = ';';
    o.skip_rows = 2;
    o.comment = '#';
    o.max_rows = 2;
    CHECK_OK(rd("junk,\"\njunk\na;b\n# note\n\n1;x\n2;y\n3;z\n", &o, &r));
    CHECK(em_csv_result_num_rows(r) == 2 && num(r, 0, 1) == 2 && str_is(r, 1, 1, "y"));
    em_csv_result_free(r);
    o = em_csv_default_options();
    o.header = false;
    CHECK_OK(rd("\xEF\xBB\xBF" "1,2\n3,4", &o, &r));
    CHECK(em_csv_result_num_rows(r) == 2 && !strcmp(em_csv_result_column_name(r, 1), "1"));
    CHECK(num(r, 1, 1) == 4);
    em_csv_result_free(r);
    /* empty input, header only, max_rows 0 */
    CHECK_OK(rd("", NULL, &r));
    CHECK(em_csv_result_num_rows(r) == 0 && em_csv_result_num_cols(r) == 0);
    em_csv_result_free(r);
    o = em_csv_default_options();
    o.max_rows = 0;
    CHECK_OK(rd("a,b\n1,2\n", &o, &r));
    CHECK(em_csv_result_num_rows(r) == 0 && em_csv_result_num_cols(r) == 2 && dtype_of(r, 0) == EM_F64);
    em_csv_result_free(r);
    /* duplicate header names are made unique as pandas does */
    CHECK_OK(rd("a,a,a.1\n1,2,3\n", NULL, &r));
    CHECK(!strcmp(em_csv_result_column_name(r, 1), "a.1") && !strcmp(em_csv_result_column_name(r, 2), "a.1.1"));
    em_csv_result_free(r);
    /* bad options */
    o = em_csv_default_options();
    o.delimiter = '\n';
    CHECK_STATUS(rd("a\n", &o, &r), EM_ERR_INVALID_ARG);
    o = em_csv_default_options();
    o.comment = ',';
    CHECK_STATUS(rd("a\n", &o, &r), EM_ERR_INVALID_ARG);
    o = em_csv_default_options();
    o.skip_rows = -1;
    CHECK_STATUS(rd("a\n", &o, &r), EM_ERR_INVALID_ARG);
    CHECK_STATUS(em_csv_read_buffer(NULL, 3, NULL, &r), EM_ERR_INVALID_ARG);
}

TEST(csv_usecols_and_types) {
    em_csv_result *r;
    em_csv_options o = em_csv_default_options();
    em_csv_column cols[] = {{"c", 0}, {NULL, 0}, {NULL, -2}};
    o.usecols = cols;
    o.n_usecols = 3;
    em_csv_column_type types[] = {{{"a", 0}, EM_CSV_FLOAT64}, {{NULL, 2}, EM_CSV_STRING}};
    o.types = types;
    o.n_types = 2;
    /* column b is never converted, so its garbage is no error */
    CHECK_OK(rd("a,b,c\n1,zz,3\n4,@@,6\n", &o, &r));
    CHECK(em_csv_result_num_cols(r) == 3);
    CHECK(!strcmp(em_csv_result_column_name(r, 0), "c") && !strcmp(em_csv_result_column_name(r, 1), "a"));
    CHECK(em_csv_result_column_type(r, 0) == EM_CSV_STRING && str_is(r, 0, 1, "6"));
    CHECK(dtype_of(r, 1) == EM_F64 && num(r, 1, 1) == 4);
    CHECK(em_csv_result_column_type(r, 2) == EM_CSV_STRING && str_is(r, 2, 0, "zz"));
    em_csv_result_free(r);
    em_csv_column unknown[] = {{"nope", 0}};
    o = em_csv_default_options();
    o.usecols = unknown;
    o.n_usecols = 1;
    CHECK_STATUS(rd("a,b\n1,2\n", &o, &r), EM_ERR_INVALID_ARG);
    CHECK(error_has("nope") && error_has("usecols"));
    em_csv_column far[] = {{NULL, 2}};
    o.usecols = far;
    CHECK_STATUS(rd("a,b\n1,2\n", &o, &r), EM_ERR_INDEX);
    em_csv_column twice[] = {{"a", 0}, {NULL, 0}};
    o.usecols = twice;
    o.n_usecols = 2;
    CHECK_STATUS(rd("a,b\n1,2\n", &o, &r), EM_ERR_INVALID_ARG);
    /* types: default for all, and an explicit bool */
    o = em_csv_default_options();
    o.default_type = EM_CSV_INT64;
    em_csv_column_type tb[] = {{{"b", 0}, EM_CSV_BOOL}};
    o.types = tb;
    o.n_types = 1;
    CHECK_OK(rd("a,b\n1,TRUE\n2,false\n", &o, &r));
    CHECK(dtype_of(r, 0) == EM_I64 && dtype_of(r, 1) == EM_BOOL && num(r, 1, 0) == 1 && num(r, 1, 1) == 0);
    em_csv_result_free(r);
}

TEST(csv_errors_name_line_and_column) {
    bad("a,b\n1,2\n3,\"x\n4,5\n", NULL, "line 3, column 2 ('b')", "unterminated");
    bad("a,b\n1,2\n3,4,5\n", NULL, "line 3, column 3", "expected 2 fields");
    bad("a,b\n1,2\n\n3\n", NULL, "line 4, column 2 ('b')", "expected 2 fields, found 1");
    bad("a,b\n1,\"2\"x\n", NULL, "line 2, column 2 ('b')", "after a closing quote");
    bad("a,b\n\"q\nq\",1\n2,3\n4,5,6\n", NULL, "line 5, column 3", "expected 2");
    em_csv_result *r = NULL;
    CHECK_STATUS(em_csv_read_buffer("a,b\n1,2\n3,4\0\n", 13, NULL, &r), EM_ERR_PARSE);
    CHECK(error_has("line 3, column 2 ('b')") && error_has("NUL"));
    if (test_failures) fprintf(stderr, "  %s\n", em_last_error());
    bad("\"head\n", NULL, "line 1, column 1", "unterminated");
    em_csv_options o = em_csv_default_options();
    em_csv_column_type ti[] = {{{"b", 0}, EM_CSV_INT64}};
    o.types = ti;
    o.n_types = 1;
    bad("a,b\n1,2\n3,4.5\n", &o, "line 3, column 2 ('b')", "cannot parse '4.5' as int64");
    bad("a,b\n1,2\n3,\n", &o, "line 3, column 2 ('b')", "missing value in an int64 column");
    bad("a,b\n1,99999999999999999999\n", &o, "line 2, column 2 ('b')", "outside the int64 range");
    ti[0].type = EM_CSV_FLOAT64;
    bad("a,b\n1,2\n3,abc\n", &o, "line 3, column 2 ('b')", "cannot parse 'abc' as float64");
    ti[0].type = EM_CSV_BOOL;
    bad("a,b\n1,true\n3,yes\n", &o, "line 3, column 2 ('b')", "as bool");
    bad("a,b\n1,true\n3,NA\n", &o, "line 3, column 2 ('b')", "missing value in a bool column");
    o = em_csv_default_options();
    o.header = false;
    o.default_type = EM_CSV_FLOAT64;
    bad("1,2\n3,x\n", &o, "line 2, column 2:", "'x'");
}

TEST(csv_float_parser_matches_strtod) {
    const char *cases[] = {"0.1", "-0.0", "1e-320", "4.9406564584124654e-324", "2.4703282292062328e-324",
                           "2.4703282292062327e-324", "1.7976931348623157e308", "1.7976931348623159e308",
                           "2.2250738585072011e-308", "2.2250738585072014e-308", "9007199254740993",
                           "123456789012345678901234567890", "0.30000000000000004", "1e23", "8.5e-1",
                           ".5", "5.", "+3", "1E+10", "7.2057594037927933e16", "1e-400", "1e400",
                           "0.000000000000000000000000000000000000001", "3.14159265358979323846264338327950288"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        double a = 0, b = strtod(cases[i], NULL);
        CHECK(em_csv_parse_double(cases[i], strlen(cases[i]), &a));
        if (memcmp(&a, &b, sizeof a)) {
            fprintf(stderr, "  %s: got %.17g want %.17g\n", cases[i], a, b);
            test_failures++;
        }
    }
    double v;
    CHECK(em_csv_parse_double("inf", 3, &v) && isinf(v) && v > 0);
    CHECK(em_csv_parse_double("-Infinity", 9, &v) && isinf(v) && v < 0);
    CHECK(em_csv_parse_double("NaN", 3, &v) && isnan(v));
    const char *nots[] = {"", ".", "e5", "1e", "1e+", "--1", "1.2.3", "0x10", "1 ", "inf1", "1_0"};
    for (size_t i = 0; i < sizeof nots / sizeof *nots; i++) CHECK(!em_csv_parse_double(nots[i], strlen(nots[i]), &v));
    /* random digit strings of every length and exponent */
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    char buf[64];
    for (int k = 0; k < 20000; k++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        int nd = 1 + (int)(s % 20), ex = (int)((s >> 8) % 660) - 340, pt = (int)((s >> 20) % (nd + 1));
        int n = 0;
        uint64_t t = s;
        for (int d = 0; d < nd; d++) {
            if (d == pt) buf[n++] = '.';
            t = t * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[n++] = (char)('0' + (t >> 60) % 10);
        }
        n += snprintf(buf + n, sizeof buf - n, "e%d", ex);
        double a = 0, b = strtod(buf, NULL);
        if (!em_csv_parse_double(buf, (size_t)n, &a) || memcmp(&a, &b, sizeof a)) {
            fprintf(stderr, "  %s: got %.17g want %.17g\n", buf, a, b);
            test_failures++;
            break;
        }
    }
}

/* A file large enough for several chunks, with a column that turns float
 * and one that turns string only in a late chunk. */
static char *big_text(int64_t rows) {
    char *t = malloc((size_t)rows * 48 + 64);
    size_t n = (size_t)sprintf(t, "i,f,s,late_f,late_s\n");
    for (int64_t i = 0; i < rows; i++)
        n += (size_t)sprintf(t + n, "%lld,%lld.25,\"r%lld\",%s,%s\n", (long long)i, (long long)i, (long long)i,
                             i == rows - 3 ? "0.5" : "7", i == rows - 2 ? "word" : (i % 5 ? "1" : ""));
    return t;
}

TEST(csv_thread_count_independent) {
    const int64_t rows = 9000;
    char *t = big_text(rows);
    em_csv_result *r[3];
    int threads[3] = {1, 2, 4};
    for (int k = 0; k < 3; k++) {
        em_csv_options o = em_csv_default_options();
        o.nthreads = threads[k];
        CHECK_OK(rd(t, &o, &r[k]));
    }
    for (int k = 0; k < 3; k++) {
        CHECK(em_csv_result_num_rows(r[k]) == rows);
        CHECK(em_csv_result_column_type(r[k], 0) == EM_CSV_INT64);
        CHECK(em_csv_result_column_type(r[k], 3) == EM_CSV_FLOAT64);
        CHECK(em_csv_result_column_type(r[k], 4) == EM_CSV_STRING);
        CHECK(num(r[k], 0, rows - 1) == rows - 1 && num(r[k], 1, 4097) == 4097.25);
        CHECK(num(r[k], 3, 0) == 7 && num(r[k], 3, rows - 3) == 0.5);
        CHECK(str_is(r[k], 2, 8000, "r8000") && str_is(r[k], 4, 0, NULL) && str_is(r[k], 4, 1, "1"));
        CHECK(str_is(r[k], 4, rows - 2, "word"));
        for (int64_t j = 0; j < 4; j += 3) {
            em_tensor *a, *b;
            CHECK_OK(em_csv_result_column_tensor(r[0], j, &a));
            CHECK_OK(em_csv_result_column_tensor(r[k], j, &b));
            CHECK(!memcmp(em_tensor_data(a), em_tensor_data(b), (size_t)rows * 8));
            em_tensor_free(a);
            em_tensor_free(b);
        }
    }
    for (int k = 0; k < 3; k++) em_csv_result_free(r[k]);
    /* the error of the earliest line wins whatever the threads */
    t[strlen(t) - 30] = '"';
    for (int k = 0; k < 3; k++) {
        em_csv_options o = em_csv_default_options();
        o.nthreads = threads[k];
        em_csv_result *rr = NULL;
        CHECK_STATUS(rd(t, &o, &rr), EM_ERR_PARSE);
    }
    free(t);
}

TEST(csv_file) {
    char path[] = "/tmp/ember_csv_test_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *txt = "x,y\n1,a\n2,b\n";
    CHECK(write(fd, txt, strlen(txt)) == (ssize_t)strlen(txt));
    close(fd);
    em_csv_result *r;
    CHECK_OK(em_csv_read_file(path, NULL, &r));
    CHECK(em_csv_result_num_rows(r) == 2 && num(r, 0, 1) == 2 && str_is(r, 1, 1, "b"));
    em_csv_result_free(r);
    unlink(path);
    CHECK_STATUS(em_csv_read_file(path, NULL, &r), EM_ERR_IO);
    CHECK(error_has(path));
    CHECK_STATUS(em_csv_read_file("/tmp", NULL, &r), EM_ERR_IO);
    CHECK(error_has("/tmp"));
}

static em_status oom_read(void) {
    em_csv_result *r;
    const char *txt = "a,b,c,d\n1,x,true,1\n2,\"y\"\"\",false,\n3,z,true,2.5\n";
    em_status st = rd(txt, NULL, &r);
    if (st) return st;
    em_tensor *t;
    st = em_csv_result_column_tensor(r, 0, &t);
    if (!st) em_tensor_free(t);
    em_csv_result_free(r);
    return st;
}

TEST(csv_oom) { oom_sweep(oom_read); }
