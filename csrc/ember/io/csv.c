/* CSV reader: RFC 4180 text -> typed columns (see ember/io.h, docs/csv.md).
 *
 * Passes, so that rows can be parsed in parallel with results that do not
 * depend on the thread count:
 *  1. scan: find where each data record starts, honouring quotes (a quote
 *     opens a quoted field only at the start of a field, so the scan walks
 *     fields only on lines that contain a quote).  SIMD compares find
 *     newlines, quotes and NUL bytes (an error): with AVX2, 64 bytes at a
 *     time as bit masks, every newline of a block without a quote or NUL
 *     ending a record.  The header, blank and comment lines are left out of
 *     the record list.  Large texts are scanned in pieces on the threads,
 *     kept only when the pieces join up exactly (else scanned serially).
 *  2. parse (parallel over fixed chunks of records): a record without quotes
 *     is split at its delimiters by 16-byte compares (bit masks), then each
 *     selected field is converted straight into its output column: numbers
 *     by the whole-field vector parser of csv_field.h (this loop is built
 *     twice, SSE2 and AVX2 with 64-byte steps, chosen per read), text appended to the
 *     chunk's string buffer.  Records with quotes (or the wrong number of
 *     fields, to report it) go field by field.  An inferred column keeps a
 *     per-chunk state (empty, bool, int, float, ..., string); on promotion
 *     the chunk's earlier values are converted in place, and a column that
 *     meets text collects the text of the chunk's earlier rows at once.
 *  3. merge: the final type of an inferred column is the join of its chunk
 *     states; chunks parsed as int are converted to float exactly (int64 ->
 *     double rounds as parsing the text would).  A column that is text in
 *     some chunk and numbers in others is read again as text by a second
 *     parallel pass over only the chunks that lack its text.
 * Errors are recorded per chunk and the first chunk's (the earliest line) is
 * reported, so the message does not depend on the thread count either.
 */
#include "csv_internal.h"
#include "csv_field.h"
#include "../base/cpu.h"
#include "../base/threadpool.h"
#ifdef EM_CSV_SSE2
#include <immintrin.h> /* the AVX2 record scan (target attribute, chosen at run time) */
#endif

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define OP "read_csv"

static const char *const default_na[] = {"", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan",
                                         "NULL", "null", "None", "#N/A", "<NA>"};

em_csv_options em_csv_default_options(void) {
    em_csv_options o;
    memset(&o, 0, sizeof o);
    o.delimiter = ',';
    o.quote = '"';
    o.header = true;
    o.max_rows = -1;
    o.default_type = EM_CSV_AUTO;
    return o;
}

/* ---- result --------------------------------------------------------------- */

struct em_csv_result {
    int64_t nrows, ncols;
    char **names;
    em_csv_type *types;
    em_tensor **tensors;     /* numeric columns */
    char **sdata;            /* string columns */
    int64_t **soffs;
    uint8_t **smiss;
};

void em_csv_result_free(em_csv_result *r) {
    if (!r) return;
    for (int64_t j = 0; j < r->ncols; j++) {
        if (r->names) em__free(r->names[j]);
        if (r->tensors) em_tensor_free(r->tensors[j]);
        if (r->sdata) em__free(r->sdata[j]);
        if (r->soffs) em__free(r->soffs[j]);
        if (r->smiss) em__free(r->smiss[j]);
    }
    em__free(r->names);
    em__free(r->types);
    em__free(r->tensors);
    em__free(r->sdata);
    em__free(r->soffs);
    em__free(r->smiss);
    em__free(r);
}

int64_t em_csv_result_num_rows(const em_csv_result *r) { return r ? r->nrows : 0; }
int64_t em_csv_result_num_cols(const em_csv_result *r) { return r ? r->ncols : 0; }
const char *em_csv_result_column_name(const em_csv_result *r, int64_t j) {
    return r && j >= 0 && j < r->ncols ? r->names[j] : NULL;
}
em_csv_type em_csv_result_column_type(const em_csv_result *r, int64_t j) {
    return r && j >= 0 && j < r->ncols ? r->types[j] : EM_CSV_AUTO;
}

em_status em_csv_result_column_tensor(const em_csv_result *r, int64_t j, em_tensor **out) {
    if (!r || !out) return em__error(EM_ERR_INVALID_ARG, "csv_result_column_tensor: NULL argument");
    if (j < 0 || j >= r->ncols)
        return em__error(EM_ERR_INDEX, "csv_result_column_tensor: column %lld out of range for %lld columns",
                         (long long)j, (long long)r->ncols);
    if (r->types[j] == EM_CSV_STRING)
        return em__error(EM_ERR_DTYPE, "csv_result_column_tensor: column %lld ('%s') holds strings",
                         (long long)j, r->names[j]);
    *out = em_tensor_retain(r->tensors[j]);
    return EM_OK;
}

em_status em_csv_result_column_strings(const em_csv_result *r, int64_t j, const char **data,
                                       const int64_t **offsets, const uint8_t **missing) {
    if (!r || !data || !offsets || !missing)
        return em__error(EM_ERR_INVALID_ARG, "csv_result_column_strings: NULL argument");
    if (j < 0 || j >= r->ncols)
        return em__error(EM_ERR_INDEX, "csv_result_column_strings: column %lld out of range for %lld columns",
                         (long long)j, (long long)r->ncols);
    if (r->types[j] != EM_CSV_STRING)
        return em__error(EM_ERR_DTYPE, "csv_result_column_strings: column %lld ('%s') is not a string column",
                         (long long)j, r->names[j]);
    *data = r->sdata[j];
    *offsets = r->soffs[j];
    *missing = r->smiss[j];
    return EM_OK;
}

/* ---- growable byte buffer ------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} bytes;

static bool bytes_reserve(bytes *b, size_t extra) {
    if (b->cap - b->len >= extra) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2) return false;
        cap *= 2;
    }
    char *p = em__alloc(cap);
    if (!p) return false;
    if (b->len) memcpy(p, b->p, b->len);
    em__free(b->p);
    b->p = p;
    b->cap = cap;
    return true;
}

/* ---- the reader's state --------------------------------------------------- */

/* Per-column parse state of one chunk.  AUTO columns move up this order;
 * FBOOL is a bool column that met a missing value (stored as 0.0/1.0/NaN). */
enum { ST_EMPTY, ST_BOOL, ST_INT, ST_FLOAT, ST_FBOOL, ST_STRING };

/* How parse_chunk reads a field of one file column, from the column's mode
 * and (for inferred columns) the chunk's state: the fast kinds parse the
 * value straight from the file bytes and accept it when a delimiter or line
 * end follows; anything else (quotes, NA texts, spaces, a value of another
 * type) falls back to the general path (tokenise, NA check, trim, convert). */
enum { K_SKIP, K_F64, K_I64, K_BOOL, K_STR, K_GEN };

typedef struct {
    int state;
    bool has_missing;
    /* string columns: this chunk's text, end offsets relative to it
     * (offs[0] = 0, offs[i + 1] after row r0 + i) and missing flags */
    bytes str;
    int64_t *offs;
    uint8_t *miss;
} colstate;

typedef struct {
    int64_t r0, r1;          /* records [r0, r1) */
    em_status st;
    size_t err_off;          /* byte offset of the error, for its line number */
    char msg[320];
    colstate *cols;
} chunk;

typedef struct {
    const char *buf;
    size_t n;
    char delim, quote;
    /* records */
    int64_t *rec;            /* start offsets of data records */
    int64_t nrec, rec_cap;
    size_t header_off;
    bool has_header;
    /* columns of the file, and the selection */
    int64_t nfile;           /* fields per record */
    char **file_names;       /* NULL without a header */
    int64_t *sel;            /* file column -> selected index or -1 */
    int64_t nsel;
    int64_t *sel_file;       /* selected index -> file column */
    em_csv_type *want;       /* requested type per selected column */
    int *mode;               /* this pass: EM_CSV_* per selected column, -1 = skip */
    int pass;                /* 1, or 2: text of columns found to be strings after pass 1 */
    size_t nul;              /* offset of the first NUL byte, SIZE_MAX if none */
    /* NA strings */
    const char *const *na;
    int64_t nna;
    size_t na_maxlen;
    uint8_t na_first[256];   /* first bytes of non-empty NA strings */
    /* fast paths allowed: no NA string reads as a number (resp. a bool), so a
     * field that parses as one is not missing, and the delimiter cannot be
     * part of a number or a bool word */
    bool fast_num, fast_bool;
    bool avx2;               /* the record loop's AVX2 build runs (CPU has AVX2 and BMI2) */
    /* output */
    uint64_t **slots;        /* numeric: 8 bytes per row (double or int64 bits) */
    em_tensor **slot_t;      /* the f64 tensors owning slots */
    chunk *chunks;
    int64_t nchunks;
} reader;

/* ---- error text ----------------------------------------------------------- */

static int64_t line_of(const reader *R, size_t off) {
    int64_t line = 1;
    const char *p = R->buf, *end = R->buf + (off < R->n ? off : R->n);
    while ((p = memchr(p, '\n', (size_t)(end - p)))) {
        line++;
        p++;
    }
    return line;
}

/* "line 7, column 3 ('price')" */
static void where(const reader *R, size_t off, int64_t fcol, char *out, size_t cap) {
    int k = snprintf(out, cap, "line %lld", (long long)line_of(R, off));
    if (fcol >= 0 && k >= 0 && (size_t)k < cap) {
        if (R->file_names && fcol < R->nfile)
            snprintf(out + k, cap - k, ", column %lld ('%.60s')", (long long)fcol + 1, R->file_names[fcol]);
        else
            snprintf(out + k, cap - k, ", column %lld", (long long)fcol + 1);
    }
}

/* Field text for a message: at most 40 bytes, non-printables as '?'. */
static void show(const char *s, size_t n, char *out) {
    size_t k = n > 40 ? 40 : n;
    for (size_t i = 0; i < k; i++) out[i] = (s[i] >= 32 && s[i] < 127) ? s[i] : '?';
    if (n > 40) memcpy(out + k, "...", 4);
    else out[k] = 0;
}

static em_status chunk_fail(const reader *R, chunk *c, em_status st, size_t off, int64_t fcol, const char *fmt,
                            const char *arg) {
    char loc[128];
    where(R, off, fcol, loc, sizeof loc);
    int k = snprintf(c->msg, sizeof c->msg, OP ": %s: ", loc);
    if (k >= 0 && (size_t)k < sizeof c->msg) snprintf(c->msg + k, sizeof c->msg - k, fmt, arg);
    c->st = st;
    c->err_off = off;
    return st;
}

/* ---- tokenising ----------------------------------------------------------- */

/* One field of a record: text [s, e) (inside the quotes), `esc` when it holds
 * doubled quotes, and `next` the offset after its delimiter or newline. */
typedef struct {
    const char *s, *e;
    bool quoted, esc, last;  /* last: the record ends after this field */
    size_t next;
} field;

/* The first delimiter or '\n' in [p, end), or end.  16 bytes per step with
 * SSE2 (part of x86-64 itself, so no run-time dispatch is needed), else 8 per
 * step with the classic "has a zero byte" trick: (y - 0x01..) & ~y & 0x80..
 * flags every zero byte of y, plus bytes after one (borrows only run
 * upwards), so the lowest flag is the first match. */
static inline const char *find_end(const char *p, const char *end, char d) {
#ifdef EM_CSV_SSE2
    const __m128i vd = _mm_set1_epi8(d), vn = _mm_set1_epi8('\n');
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, vd), _mm_cmpeq_epi8(x, vn)));
        if (m) return p + __builtin_ctz(m);
        p += 16;
    }
#else
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    const uint64_t bd = ones * (unsigned char)d, bn = ones * (unsigned char)'\n';
    while (end - p >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        uint64_t a = v ^ bd, b = v ^ bn;
        uint64_t m = (((a - ones) & ~a) | ((b - ones) & ~b)) & high;
        if (m) return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
#endif
    while (p < end && *p != d && *p != '\n') p++;
    return p;
}

/* The unquoted field starting at p. */
static inline void unquoted_field(const reader *R, const char *p, field *f) {
    const char *buf = R->buf, *end = buf + R->n;
    f->quoted = f->esc = false;
    f->s = p;
    p = find_end(p, end, R->delim);
    if (p < end && *p == R->delim) {
        f->e = p;
        f->last = false;
        f->next = (size_t)(p + 1 - buf);
    } else {
        f->e = (p > f->s && p[-1] == '\r') ? p - 1 : p;
        f->last = true;
        f->next = p < end ? (size_t)(p + 1 - buf) : R->n;
    }
}

/* Reads the field at offset `at`.  Returns 0, or 1 for an unterminated
 * quote, 2 for a stray byte after a closing quote (at *bad). */
static int next_field(const reader *R, size_t at, field *f, size_t *bad) {
    const char *buf = R->buf, *end = buf + R->n, *p = buf + at;
    const char d = R->delim, q = R->quote;
    if (!q || p == end || *p != q) {
        unquoted_field(R, p, f);
        return 0;
    }
    f->quoted = true;
    f->esc = false;
    f->s = ++p;
    for (;;) {
        const char *z = memchr(p, q, (size_t)(end - p));
        if (!z) return 1;
        if (z + 1 < end && z[1] == q) {
            f->esc = true;
            p = z + 2;
            continue;
        }
        f->e = z;
        p = z + 1;
        break;
    }
    if (p == end) {
        f->last = true;
        f->next = R->n;
    } else if (*p == d) {
        f->last = false;
        f->next = (size_t)(p + 1 - buf);
    } else if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n') || (*p == '\r' && p + 1 == end)) {
        f->last = true;
        f->next = (size_t)(p - buf) + (*p == '\r' ? 2 : 1);
        if (f->next > R->n) f->next = R->n;
    } else {
        *bad = (size_t)(p - buf);
        return 2;
    }
    return 0;
}

/* A bool word (true/True/TRUE/false/False/FALSE) at the start of [p, end):
 * its end and value, or NULL. */
static inline const char *scan_bool(const char *p, const char *end, int *b) {
    size_t n = (size_t)(end - p);
    if (n >= 4 && (!memcmp(p, "true", 4) || !memcmp(p, "True", 4) || !memcmp(p, "TRUE", 4))) {
        *b = 1;
        return p + 4;
    }
    if (n >= 5 && (!memcmp(p, "false", 5) || !memcmp(p, "False", 5) || !memcmp(p, "FALSE", 5))) {
        *b = 0;
        return p + 5;
    }
    return NULL;
}

/* Copies the field text with "" -> " into b (appending); false on OOM. */
static bool append_text(const reader *R, bytes *b, const field *f) {
    size_t n = (size_t)(f->e - f->s);
    if (!bytes_reserve(b, n)) return false;
    if (!f->esc) {
        if (n) memcpy(b->p + b->len, f->s, n);
        b->len += n;
        return true;
    }
    char *o = b->p + b->len;
    for (const char *p = f->s; p < f->e; p++) {
        *o++ = *p;
        if (*p == R->quote) p++; /* the second quote of a pair */
    }
    b->len = (size_t)(o - b->p);
    return true;
}

static bool is_na(const reader *R, const char *s, const char *e) {
    size_t n = (size_t)(e - s);
    if (n == 0) return true;
    if (n > R->na_maxlen || !R->na_first[(unsigned char)*s]) return false;
    for (int64_t i = 0; i < R->nna; i++)
        if (strlen(R->na[i]) == n && !memcmp(R->na[i], s, n)) return true;
    return false;
}

static void trim(const char **s, const char **e) {
    while (*s < *e && (**s == ' ' || **s == '\t')) (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) (*e)--;
}

/* Rows [a, b) held as int64 (ints, or bools as 0/1) become doubles. */
static void to_double(uint64_t *v, int64_t a, int64_t b) {
    for (int64_t i = a; i < b; i++) {
        double d = (double)(int64_t)v[i];
        memcpy(&v[i], &d, sizeof d);
    }
}
static inline void put_f64(uint64_t *v, int64_t i, double d) { memcpy(&v[i], &d, sizeof d); }

/* The unescaped text of f: f's own bytes, or (with doubled quotes) a copy in
 * scratch.  False on OOM. */
static bool field_text(const reader *R, const field *f, bytes *scratch, const char **s, const char **e) {
    if (!f->esc) {
        *s = f->s;
        *e = f->e;
        return true;
    }
    scratch->len = 0;
    if (!append_text(R, scratch, f)) return false;
    *s = scratch->p;
    *e = scratch->p + scratch->len;
    return true;
}

/* Appends field f as row `row` of selected string column j in chunk c (its
 * storage is made on first use). */
static em_status put_string(const reader *R, chunk *c, int64_t j, int64_t row, const field *f, bytes *scratch) {
    colstate *cs = &c->cols[j];
    size_t off = (size_t)(f->s - R->buf);
    if (!cs->offs) {
        size_t n = (size_t)(c->r1 - c->r0);
        cs->offs = em__alloc((n + 1) * sizeof *cs->offs);
        cs->miss = em__alloc(n + 1);
        if (!cs->offs || !cs->miss)
            return chunk_fail(R, c, EM_ERR_NOMEM, off, R->sel_file[j], "out of memory for strings%s", "");
        cs->offs[0] = 0;
        cs->str.len = 0;
    }
    const char *s, *e;
    if (!field_text(R, f, scratch, &s, &e))
        return chunk_fail(R, c, EM_ERR_NOMEM, off, R->sel_file[j], "out of memory%s", "");
    int64_t i = row - c->r0;
    bool miss = is_na(R, s, e);
    cs->miss[i] = miss;
    if (!miss && !append_text(R, &cs->str, f))
        return chunk_fail(R, c, EM_ERR_NOMEM, off, R->sel_file[j], "out of memory for strings%s", "");
    cs->offs[i + 1] = (int64_t)cs->str.len;
    return EM_OK;
}

/* Inferred column j turned out to hold text at `row`: collect the text of
 * the chunk's earlier rows (already tokenised once without error), so that
 * the chunk goes on in string mode and needs no second pass. */
static em_status begin_strings(const reader *R, chunk *c, int64_t j, int64_t row, bytes *scratch) {
    const int64_t fcol = R->sel_file[j];
    for (int64_t r = c->r0; r < row; r++) {
        size_t at = (size_t)R->rec[r], bad = 0;
        field f;
        for (int64_t k = 0;; k++) {
            if (next_field(R, at, &f, &bad) || (k < fcol && f.last))
                return chunk_fail(R, c, EM_ERR_INTERNAL, at, fcol, "record changed between reads%s", "");
            if (k == fcol) break;
            at = f.next;
        }
        EM_TRY(put_string(R, c, j, r, &f, scratch));
    }
    return EM_OK;
}

/* Converts one selected field of record `row` (in chunk c) per R->mode[j]. */
static em_status convert(reader *R, chunk *c, int64_t j, int64_t row, const field *f, bytes *scratch) {
    int mode = R->mode[j];
    colstate *cs = &c->cols[j];
    int64_t fcol = R->sel_file[j];
    if (mode == EM_CSV_STRING || (mode == EM_CSV_AUTO && cs->state == ST_STRING))
        return put_string(R, c, j, row, f, scratch);
    const char *s, *e;
    if (!field_text(R, f, scratch, &s, &e)) /* rare: a quoted field with "" */
        return chunk_fail(R, c, EM_ERR_NOMEM, (size_t)(f->s - R->buf), fcol, "out of memory%s", "");
    uint64_t *v = R->slots[j];
    bool miss = is_na(R, s, e);
    if (!miss) {
        trim(&s, &e);
        miss = s == e;
    }
    char txt[48];
    size_t off = (size_t)(f->s - R->buf);
    switch (mode) {
    case EM_CSV_FLOAT64: {
        double d = NAN;
        if (!miss && !em__csv_parse_f64(s, e, &d)) {
            show(s, (size_t)(e - s), txt);
            return chunk_fail(R, c, EM_ERR_PARSE, off, fcol, "cannot parse '%s' as float64", txt);
        }
        put_f64(v, row, d);
        return EM_OK;
    }
    case EM_CSV_INT64: {
        int64_t x = 0;
        int k = miss ? -1 : em__csv_parse_i64(s, e, &x);
        if (k == 1) {
            v[row] = (uint64_t)x;
            return EM_OK;
        }
        if (k < 0) return chunk_fail(R, c, EM_ERR_PARSE, off, fcol, "missing value in an int64 column%s", "");
        show(s, (size_t)(e - s), txt);
        return chunk_fail(R, c, EM_ERR_PARSE, off, fcol,
                          k == 2 ? "'%s' is outside the int64 range" : "cannot parse '%s' as int64", txt);
    }
    case EM_CSV_BOOL: {
        int b = miss ? -2 : em__csv_parse_bool(s, e);
        if (b >= 0) {
            v[row] = (uint64_t)b;
            return EM_OK;
        }
        if (b == -2) return chunk_fail(R, c, EM_ERR_PARSE, off, fcol, "missing value in a bool column%s", "");
        show(s, (size_t)(e - s), txt);
        return chunk_fail(R, c, EM_ERR_PARSE, off, fcol, "cannot parse '%s' as bool", txt);
    }
    default: break;
    }
    /* EM_CSV_AUTO: move up the type order as the values require */
    if (miss) {
        if (cs->state == ST_INT || cs->state == ST_BOOL) {
            to_double(v, c->r0, row);
            cs->state = cs->state == ST_INT ? ST_FLOAT : ST_FBOOL;
        }
        cs->has_missing = true;
        put_f64(v, row, NAN);
        return EM_OK;
    }
    int64_t x;
    double d;
    int b;
    switch (cs->state) {
    case ST_FLOAT:
        if (em__csv_parse_f64(s, e, &d)) {
            put_f64(v, row, d);
            return EM_OK;
        }
        break;
    case ST_INT:
        if (em__csv_parse_i64(s, e, &x) == 1) {
            v[row] = (uint64_t)x;
            return EM_OK;
        }
        if (em__csv_parse_f64(s, e, &d)) {
            to_double(v, c->r0, row);
            cs->state = ST_FLOAT;
            put_f64(v, row, d);
            return EM_OK;
        }
        break;
    case ST_BOOL:
    case ST_FBOOL:
        if ((b = em__csv_parse_bool(s, e)) >= 0) {
            if (cs->state == ST_BOOL) v[row] = (uint64_t)b;
            else put_f64(v, row, b);
            return EM_OK;
        }
        break;
    case ST_EMPTY:
        if ((b = em__csv_parse_bool(s, e)) >= 0) {
            cs->state = cs->has_missing ? ST_FBOOL : ST_BOOL;
            if (cs->state == ST_BOOL) v[row] = (uint64_t)b;
            else put_f64(v, row, b);
            return EM_OK;
        }
        if (em__csv_parse_i64(s, e, &x) == 1) {
            cs->state = cs->has_missing ? ST_FLOAT : ST_INT;
            if (cs->state == ST_INT) v[row] = (uint64_t)x;
            else put_f64(v, row, (double)x);
            return EM_OK;
        }
        if (em__csv_parse_f64(s, e, &d)) {
            cs->state = ST_FLOAT;
            put_f64(v, row, d);
            return EM_OK;
        }
        break;
    }
    /* text: this chunk collects the column's strings from here on (the
     * numbers it stored are dropped when the column is merged as text) */
    EM_TRY(begin_strings(R, c, j, row, scratch));
    cs->state = ST_STRING;
    return put_string(R, c, j, row, f, scratch);
}

/* The kind (K_*) of selected column j (or -1: not selected) in chunk c. */
static int kind_of(const reader *R, const chunk *c, int64_t j) {
    if (j < 0 || R->mode[j] < 0) return K_SKIP;
    const colstate *cs = &c->cols[j];
    int mode = R->mode[j];
    if (R->pass == 2) return cs->offs ? K_SKIP : K_STR; /* pass 2 reads only strings; skip chunks that have them */
    if (mode == EM_CSV_STRING) return K_STR;
    if (mode == EM_CSV_AUTO) {
        switch (cs->state) {
        case ST_STRING: return K_STR;
        case ST_FLOAT: mode = EM_CSV_FLOAT64; break;
        case ST_INT: mode = EM_CSV_INT64; break;
        case ST_BOOL: mode = EM_CSV_BOOL; break;
        default: return K_GEN;
        }
    }
    if (mode == EM_CSV_FLOAT64) return R->fast_num ? K_F64 : K_GEN;
    if (mode == EM_CSV_INT64) return R->fast_num ? K_I64 : K_GEN;
    return R->fast_bool ? K_BOOL : K_GEN;
}

/* Where the fields of the record at `at` end, when it holds no quote and
 * exactly nf fields: ends[k] is the offset of the delimiter after field k,
 * ends[nf - 1] that of the line end (or R->n).  False otherwise: the general
 * path then reads the record and reports what is wrong with it.  One pass of
 * 16-byte compares (SSE2) gives bit masks of delimiters, newlines and quotes,
 * so fields are found without a branch per byte. */
static bool row_fields(const reader *R, size_t at, int64_t nf, size_t *ends) {
    const char *const buf = R->buf, *const end = buf + R->n;
    const char *p = buf + at;
    const char d = R->delim, q = R->quote;
    int64_t k = 0;
#ifdef EM_CSV_SSE2
    const __m128i vd = _mm_set1_epi8(d), vn = _mm_set1_epi8('\n'), vq = _mm_set1_epi8(q);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned md = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, vd));
        unsigned mn = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, vn));
        unsigned mq = q ? (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, vq)) : 0;
        unsigned before = mn ? (mn & (0u - mn)) - 1 : 0xFFFFu; /* the bytes before the line end */
        if (mq & before) return false;
        for (md &= before; md; md &= md - 1) {
            if (k == nf - 1) return false; /* more fields than the header */
            ends[k++] = (size_t)(p - buf) + (size_t)__builtin_ctz(md);
        }
        if (mn) {
            ends[k] = (size_t)(p - buf) + (size_t)__builtin_ctz(mn);
            return k == nf - 1;
        }
        p += 16;
    }
#endif
    for (; p < end && *p != '\n'; p++) {
        if (q && *p == q) return false;
        if (*p == d) {
            if (k == nf - 1) return false;
            ends[k++] = (size_t)(p - buf);
        }
    }
    ends[k] = (size_t)(p - buf);
    return k == nf - 1;
}

#ifdef EM_CSV_AVX2
/* row_fields with 64 bytes per step (two AVX2 compares per byte class, as
 * 64-bit masks): a record of a numeric file takes a few steps instead of a
 * dozen, and the field count is checked once per step with a popcount rather
 * than once per delimiter.  The tail (under 64 bytes left in the text) goes
 * to row_fields, which starts over from `at`. */
static inline EM_CSV_AVX2_TARGET bool row_fields_avx2(const reader *R, size_t at, int64_t nf, size_t *ends) {
    const char *const buf = R->buf, *const end = buf + R->n;
    const char *p = buf + at;
    const char q = R->quote;
    const __m256i vd = _mm256_set1_epi8(R->delim), vn = _mm256_set1_epi8('\n'), vq = _mm256_set1_epi8(q);
    int64_t k = 0;
    while (end - p >= 64) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)p);
        const __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
#define EM_CSV_MASK64(v) ((uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, v)) | \
                          ((uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(y, v)) << 32))
        uint64_t md = EM_CSV_MASK64(vd), mn = EM_CSV_MASK64(vn), mq = q ? EM_CSV_MASK64(vq) : 0;
#undef EM_CSV_MASK64
        const uint64_t before = mn ? (mn & (0 - mn)) - 1 : ~(uint64_t)0; /* the bytes before the line end */
        if (mq & before) return false;
        md &= before;
        if (k + __builtin_popcountll(md) > nf - 1) return false; /* more fields than the header */
        const size_t off = (size_t)(p - buf);
        for (; md; md &= md - 1) ends[k++] = off + (size_t)__builtin_ctzll(md);
        if (mn) {
            ends[k] = off + (size_t)__builtin_ctzll(mn);
            return k == nf - 1;
        }
        p += 64;
    }
    return row_fields(R, at, nf, ends);
}
#endif

/* Stores field f of file column k (selected, kind[k] != K_SKIP) as row r:
 * an unquoted number or bool goes straight into its slot when it parses as
 * the column's type; anything else takes the general path (convert), after
 * which the column's kind is looked up again, as its state may have moved. */
static inline em_status put_field(reader *R, chunk *c, int64_t k, uint8_t *kind, int64_t r, const field *f,
                                  bytes *scratch) {
    const int kd = kind[k];
    const int64_t j = R->sel[k];
    if (kd == K_STR) return put_string(R, c, j, r, f, scratch);
    if (!f->quoted && f->e > f->s) {
        if (kd == K_F64) {
            double d;
            if (csv_field_f64(f->s, f->e, R->buf, &d)) {
                put_f64(R->slots[j], r, d);
                return EM_OK;
            }
        } else if (kd == K_I64) {
            int64_t x;
            if (csv_field_i64(f->s, f->e, R->buf, &x)) {
                R->slots[j][r] = (uint64_t)x;
                return EM_OK;
            }
        } else if (kd == K_BOOL) {
            int b = 0;
            if (scan_bool(f->s, f->e, &b) == f->e) {
                R->slots[j][r] = (uint64_t)b;
                return EM_OK;
            }
        }
    }
    EM_TRY(convert(R, c, j, r, f, scratch));
    kind[k] = (uint8_t)kind_of(R, c, j);
    return EM_OK;
}

#ifdef EM_CSV_AVX2
#define FIELD_F64(avx2, ...) ((avx2) ? csv_field_f64_avx2(__VA_ARGS__) : csv_field_f64(__VA_ARGS__))
#else
#define FIELD_F64(avx2, ...) csv_field_f64(__VA_ARGS__)
#endif

/* Tokenises and converts records [c->r0, c->r1); `avx2` (a constant in each
 * of the two builds below) picks the AVX2 record split and number reader. */
static inline __attribute__((always_inline)) em_status parse_chunk_with(reader *R, chunk *c, const bool avx2) {
    const int64_t nf = R->nfile;
    const char *const buf = R->buf;
    bytes scratch = {0};
    em_status st = EM_OK;
    uint8_t *kind = em__alloc((size_t)nf + 1);
    size_t *ends = em__alloc(((size_t)nf + 1) * sizeof *ends);
    if (!kind || !ends) {
        em__free(kind);
        em__free(ends);
        return chunk_fail(R, c, EM_ERR_NOMEM, c->r0 < c->r1 ? (size_t)R->rec[c->r0] : 0, -1, "out of memory%s", "");
    }
    bool any = false;
    for (int64_t k = 0; k < nf; k++) {
        kind[k] = (uint8_t)kind_of(R, c, R->sel[k]);
        any |= kind[k] != K_SKIP;
    }
    if (R->pass == 2 && !any) { /* nothing to collect in this chunk */
        em__free(kind);
        em__free(ends);
        return EM_OK;
    }
    for (int64_t r = c->r0; r < c->r1 && !st; r++) {
        size_t at = (size_t)R->rec[r];
#ifdef EM_CSV_AVX2
        const bool plain = avx2 ? row_fields_avx2(R, at, nf, ends) : row_fields(R, at, nf, ends);
#else
        const bool plain = row_fields(R, at, nf, ends);
#endif
        if (plain) {
            /* the common record: no quotes, the right number of fields */
            size_t from = at, last_end = ends[nf - 1];
            if (last_end > (nf > 1 ? ends[nf - 2] + 1 : at) && buf[last_end - 1] == '\r') last_end--; /* CRLF */
            for (int64_t k = 0; k < nf; from = ends[k] + 1, k++) {
                if (kind[k] == K_SKIP) continue;
                const char *s = buf + from, *e = buf + (k == nf - 1 ? last_end : ends[k]);
                double d;
                if (kind[k] == K_F64 && e > s && FIELD_F64(avx2, s, e, buf, &d)) { /* the hot case, inline */
                    put_f64(R->slots[R->sel[k]], r, d);
                    continue;
                }
                field f = {s, e, false, false, k == nf - 1, ends[k] + 1};
                if ((st = put_field(R, c, k, kind, r, &f, &scratch))) break;
            }
            continue;
        }
        /* quotes, or a record of the wrong length: field by field */
        for (int64_t k = 0;; k++) {
            field f;
            size_t bad = 0;
            int t = next_field(R, at, &f, &bad);
            if (t == 1) {
                st = chunk_fail(R, c, EM_ERR_PARSE, at, k < nf ? k : -1, "unterminated quoted field%s", "");
                break;
            }
            if (t == 2) {
                char ch[2] = {buf[bad] >= 32 && buf[bad] < 127 ? buf[bad] : '?', 0};
                st = chunk_fail(R, c, EM_ERR_PARSE, bad, k < nf ? k : -1,
                                "unexpected character '%s' after a closing quote", ch);
                break;
            }
            if (k >= nf) {
                char msg[64];
                snprintf(msg, sizeof msg, "%lld", (long long)nf);
                st = chunk_fail(R, c, EM_ERR_PARSE, at, k, "expected %s fields, found more", msg);
                break;
            }
            if (kind[k] != K_SKIP && (st = put_field(R, c, k, kind, r, &f, &scratch))) break;
            at = f.next;
            if (f.last) {
                if (k + 1 < nf) {
                    char msg[64];
                    snprintf(msg, sizeof msg, "%lld fields, found %lld", (long long)nf, (long long)k + 1);
                    st = chunk_fail(R, c, EM_ERR_PARSE, (size_t)R->rec[r], k + 1, "expected %s", msg);
                }
                break;
            }
        }
    }
    em__free(kind);
    em__free(ends);
    em__free(scratch.p);
    return st;
}

/* The record loop built twice: for any x86-64 (SSE2) and for CPUs with AVX2
 * and BMI2, chosen once per read (R->avx2); both give the same results. */
static em_status parse_chunk_base(reader *R, chunk *c) { return parse_chunk_with(R, c, false); }
#ifdef EM_CSV_AVX2
EM_CSV_AVX2_TARGET static em_status parse_chunk_avx2(reader *R, chunk *c) { return parse_chunk_with(R, c, true); }
#endif

static void parse_range(void *ctx, int64_t begin, int64_t end, int tid) {
    reader *R = ctx;
    (void)tid;
    for (int64_t i = begin; i < end; i++) {
#ifdef EM_CSV_AVX2
        if (R->avx2) {
            parse_chunk_avx2(R, &R->chunks[i]);
            continue;
        }
#endif
        parse_chunk_base(R, &R->chunks[i]);
    }
}

/* ---- pass 1: records ------------------------------------------------------ */

/* A growing list of record offsets. */
typedef struct {
    int64_t *p;
    int64_t n, cap;
} recs;

static bool recs_push(recs *l, size_t off) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? l->cap * 2 : 1024;
        int64_t *p = em__alloc((size_t)cap * sizeof *p);
        if (!p) return false;
        if (l->n) memcpy(p, l->p, (size_t)l->n * sizeof *p);
        em__free(l->p);
        l->p = p;
        l->cap = cap;
    }
    l->p[l->n++] = (int64_t)off;
    return true;
}

/* The first '\n', quote (when q != 0) or NUL byte in [p, end), or end.
 * The record scan looks for all three in one pass: a line without a quote
 * ends at its newline, and a NUL anywhere is an error. */
static inline const char *find_special(const char *p, const char *end, char q) {
#ifdef EM_CSV_SSE2
    const __m128i vn = _mm_set1_epi8('\n'), vq = _mm_set1_epi8(q), v0 = _mm_setzero_si128();
    while (end - p >= 32) { /* two vectors per step: lines are usually longer than 16 bytes */
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, vn), _mm_cmpeq_epi8(x, vq)), _mm_cmpeq_epi8(x, v0));
        __m128i k = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(y, vn), _mm_cmpeq_epi8(y, vq)), _mm_cmpeq_epi8(y, v0));
        uint32_t bits = (uint32_t)_mm_movemask_epi8(m) | ((uint32_t)_mm_movemask_epi8(k) << 16);
        if (bits) return p + __builtin_ctz(bits);
        p += 32;
    }
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, vn), _mm_cmpeq_epi8(x, vq)), _mm_cmpeq_epi8(x, v0));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits) return p + __builtin_ctz(bits);
        p += 16;
    }
#endif
    while (p < end && *p != '\n' && *p && *p != q) p++;
    return p;
}

/* Offset after the line starting at `at`, ignoring quotes (skipped, blank and
 * comment lines); notes the first NUL in *nul. */
static size_t line_end(const reader *R, size_t at, size_t *nul) {
    const char *buf = R->buf, *end = buf + R->n, *p = buf + at;
    for (;;) {
        p = find_special(p, end, 0);
        if (p == end) return R->n;
        if (*p == '\n') return (size_t)(p + 1 - buf);
        if (*nul == SIZE_MAX) *nul = (size_t)(p - buf);
        p++;
    }
}

/* Offset after the record starting at `at` (quotes honoured; an unterminated
 * quote runs to the end, and the parse reports it); notes the first NUL. */
static size_t record_end(const reader *R, size_t at, size_t *nul) {
    const char *buf = R->buf, *end = buf + R->n, *p = buf + at;
    const char q = R->quote;
    for (;;) {
        p = find_special(p, end, q);
        if (p == end) return R->n;
        if (*p == '\n') return (size_t)(p + 1 - buf);
        if (*p == 0) {
            if (*nul == SIZE_MAX) *nul = (size_t)(p - buf);
            p++;
            continue;
        }
        break; /* a quote: walk the record field by field */
    }
    size_t next = R->n;
    for (;;) {
        field f;
        size_t bad;
        int t = next_field(R, at, &f, &bad);
        if (t == 1) break;
        if (t == 2) { /* the parse reports it; resume after the line */
            const char *z = memchr(buf + bad, '\n', (size_t)(end - buf - bad));
            next = z ? (size_t)(z + 1 - buf) : R->n;
            break;
        }
        at = f.next;
        if (f.last) {
            next = at;
            break;
        }
    }
    if (*nul == SIZE_MAX) { /* quoted fields may hold any byte */
        const char *z = memchr(p, 0, next - (size_t)(p - buf));
        if (z) *nul = (size_t)(z - buf);
    }
    return next;
}

/* Whether the line or record at `at` is a blank or comment line. */
static inline bool blank_line(const reader *R, const em_csv_options *o, size_t at) {
    const char c = R->buf[at];
    return c == '\n' || (c == '\r' && (at + 1 == R->n || R->buf[at + 1] == '\n')) || (o->comment && c == o->comment);
}

#ifdef EM_CSV_SSE2
/* The bulk of the record scan with AVX2, for a CPU that has it (chosen at
 * run time): 64 bytes per step give bit masks of newlines and of quotes and
 * NUL bytes, and every newline of a block ends a record with no more work
 * than a bit scan, instead of one vector search per line.  From the record
 * start `at` (not blank, not yet pushed), pushes records while they hold no
 * quote and no NUL, and stops (returning the start of a record it did not
 * push) at a quote or NUL, a blank or comment line, the last 64 bytes of the
 * text, at = lim or *left = 0; the per-record path takes it from there. */
__attribute__((target("avx2,bmi"))) static size_t bulk_records_avx2(const reader *R, const em_csv_options *o,
                                                                      size_t at, size_t lim, int64_t *left,
                                                                      recs *l, bool *oom) {
    const char *const buf = R->buf;
    const __m256i vn = _mm256_set1_epi8('\n'), vq = _mm256_set1_epi8(R->quote), v0 = _mm256_setzero_si256();
    const bool q = R->quote != 0;
    size_t base = at;
    while (base + 64 <= R->n) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(buf + base));
        __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(buf + base + 32));
        uint64_t nl = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, vn)) |
                      ((uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, vn)) << 32);
        __m256i sa = _mm256_cmpeq_epi8(a, v0), sb = _mm256_cmpeq_epi8(b, v0);
        if (q) {
            sa = _mm256_or_si256(sa, _mm256_cmpeq_epi8(a, vq));
            sb = _mm256_or_si256(sb, _mm256_cmpeq_epi8(b, vq));
        }
        uint64_t sp = (uint32_t)_mm256_movemask_epi8(sa) | ((uint64_t)(uint32_t)_mm256_movemask_epi8(sb) << 32);
        /* bits from the current record start on */
        uint64_t from = at > base ? ~(uint64_t)0 << (at - base) : ~(uint64_t)0; /* at - base < 64 */
        nl &= from;
        sp &= from;
        while (nl) {
            size_t i = (size_t)__builtin_ctzll(nl);
            const uint64_t bit = nl & (0 - nl);
            if (sp & (bit - 1)) return at; /* a quote or NUL before this line end */
            if (!recs_push(l, at)) {
                *oom = true;
                return lim;
            }
            (*left)--;
            at = base + i + 1;
            if (at >= lim || *left <= 0 || blank_line(R, o, at)) return at;
            nl &= nl - 1;
            sp &= ~(bit | (bit - 1));
        }
        if (sp) return at; /* a quote or NUL in the record that runs on */
        base += 64;
    }
    return at;
}
#endif

/* Records from the record or blank line at `at` while they start before
 * `lim` and *left > 0: pushes their starts, notes the first NUL; returns
 * where the scan stopped (the end of the last record, or of the text).
 * *oom on failure to grow the list. */
static size_t scan_span(const reader *R, const em_csv_options *o, size_t at, size_t lim, int64_t *left, recs *l,
                        size_t *nul, bool *oom) {
#ifdef EM_CSV_SSE2
    const bool bulk = em__cpu_avx2_fma() && !em__cpu_force_portable();
#endif
    while (at < lim && *left > 0) {
        if (blank_line(R, o, at)) {
            at = line_end(R, at, nul);
            continue;
        }
#ifdef EM_CSV_SSE2
        if (bulk) {
            at = bulk_records_avx2(R, o, at, lim, left, l, oom);
            if (*oom) return at;
            if (at >= lim || *left <= 0 || blank_line(R, o, at)) continue;
        }
#endif
        size_t next = record_end(R, at, nul);
        if (!recs_push(l, at)) {
            *oom = true;
            return at;
        }
        (*left)--;
        at = next;
    }
    return at;
}

/* log2 of the smallest piece of the parallel record scan (1 MiB; the tests
 * and the fuzz target build with a few bytes, so that short texts are cut) */
#ifndef EM_CSV_SCAN_PIECE_SHIFT
#define EM_CSV_SCAN_PIECE_SHIFT 20
#endif

/* One piece of the parallel record scan: the records that start in
 * [from, lim), and where the last one ends. */
typedef struct {
    size_t from, lim, stop, nul;
    recs out;
    bool oom;
} scan_piece;

typedef struct {
    const reader *R;
    const em_csv_options *o;
    scan_piece *pieces;
} scan_job;

static void scan_range(void *ctx, int64_t begin, int64_t end, int tid) {
    scan_job *J = ctx;
    (void)tid;
    for (int64_t i = begin; i < end; i++) {
        scan_piece *s = &J->pieces[i];
        int64_t left = INT64_MAX;
        s->stop = scan_span(J->R, J->o, s->from, s->lim, &left, &s->out, &s->nul, &s->oom);
    }
}

/* The records from `at` on, scanned by `np` threads: the text is cut into
 * pieces at line starts, and each piece is scanned as if no quoted field ran
 * into it.  That guess holds when the scan of each piece ends exactly where
 * the next one begins (a record scan that reaches a line start the next
 * piece also started from goes on identically); if a quoted field crosses a
 * cut, the result is dropped and the caller scans serially.  Returns true
 * when R->rec holds the records. */
static bool scan_parallel(reader *R, const em_csv_options *o, size_t at, int np, em_status *st) {
    scan_piece *pc = em__calloc((size_t)np * sizeof *pc);
    *st = EM_OK;
    if (!pc) return false;
    size_t span = (R->n - at) / (size_t)np;
    for (int i = 0; i < np; i++) {
        size_t b = at + span * (size_t)i;
        if (i) { /* the first line start at or after b */
            const char *z = memchr(R->buf + b - 1, '\n', R->n - (b - 1));
            b = z ? (size_t)(z + 1 - R->buf) : R->n;
            if (b < pc[i - 1].from) b = pc[i - 1].from;
        }
        pc[i].from = b;
        pc[i].nul = SIZE_MAX;
    }
    for (int i = 0; i < np; i++) pc[i].lim = i + 1 < np ? pc[i + 1].from : R->n;
    scan_job J = {R, o, pc};
    em__parallel_for(np, 1, np, scan_range, &J);
    bool ok = true;
    int64_t total = 0;
    for (int i = 0; i < np; i++) {
        if (pc[i].oom) *st = EM_ERR_NOMEM;
        if (pc[i].stop != pc[i].lim && pc[i].from < pc[i].lim) ok = false;
        total += pc[i].out.n;
    }
    if (ok && !*st) {
        recs all = {NULL, 0, 0};
        if (!(all.p = em__alloc((size_t)total * sizeof *all.p + 1))) *st = EM_ERR_NOMEM;
        for (int i = 0; i < np && !*st; i++) {
            if (pc[i].out.n) memcpy(all.p + all.n, pc[i].out.p, (size_t)pc[i].out.n * sizeof *all.p);
            all.n += pc[i].out.n;
            if (pc[i].nul < R->nul) R->nul = pc[i].nul;
        }
        if (!*st) {
            em__free(R->rec);
            R->rec = all.p;
            R->nrec = R->rec_cap = total;
        }
    }
    for (int i = 0; i < np; i++) em__free(pc[i].out.p);
    em__free(pc);
    if (*st) *st = em__error(EM_ERR_NOMEM, OP ": out of memory for record offsets");
    return ok && !*st;
}

static em_status scan_records(reader *R, const em_csv_options *o) {
    size_t at = 0;
    R->nul = SIZE_MAX;
    for (int64_t i = 0; i < o->skip_rows && at < R->n; i++) at = line_end(R, at, &R->nul);
    bool need_header = o->header;
    while (need_header && at < R->n) {
        if (blank_line(R, o, at)) {
            at = line_end(R, at, &R->nul);
            continue;
        }
        R->has_header = true;
        R->header_off = at;
        need_header = false;
        at = record_end(R, at, &R->nul);
    }
    /* large texts without a row limit: the scan runs on the parse's threads
     * (a piece per thread, at least 1 MiB each) */
    int nthreads = o->nthreads > 0 ? o->nthreads : em__threads();
    size_t np = (R->n - at) >> EM_CSV_SCAN_PIECE_SHIFT;
    if (np > (size_t)nthreads) np = (size_t)nthreads;
    if (o->max_rows < 0 && np > 1) {
        em_status st;
        size_t nul = R->nul;
        if (scan_parallel(R, o, at, (int)np, &st)) return EM_OK;
        EM_TRY(st);
        R->nul = nul; /* a quoted field crossed a cut: scan serially */
    }
    recs l = {R->rec, R->nrec, R->rec_cap};
    int64_t left = o->max_rows < 0 ? INT64_MAX : o->max_rows;
    bool oom = false;
    at = scan_span(R, o, at, R->n, &left, &l, &R->nul, &oom);
    R->rec = l.p;
    R->nrec = l.n;
    R->rec_cap = l.cap;
    if (oom) return em__error(EM_ERR_NOMEM, OP ": out of memory for %lld record offsets", (long long)l.cap * 2);
    if (R->nul == SIZE_MAX && at < R->n) { /* the rest (after max_rows) is not read, but checked */
        const char *z = memchr(R->buf + at, 0, R->n - at);
        if (z) R->nul = (size_t)(z - R->buf);
    }
    return EM_OK;
}

/* ---- header and column selection ------------------------------------------ */

static em_status copy_str(const char *s, size_t n, char **out) {
    char *p = em__alloc(n + 1);
    if (!p) return em__error(EM_ERR_NOMEM, OP ": out of memory for a column name");
    memcpy(p, s, n);
    p[n] = 0;
    *out = p;
    return EM_OK;
}

static em_status fail_at(const reader *R, em_status st, size_t off, int64_t fcol, const char *what) {
    char loc[128];
    where(R, off, fcol, loc, sizeof loc);
    return em__error(st, OP ": %s: %s", loc, what);
}

/* Counts the fields of the record at `at` and, when names != NULL, copies
 * their unescaped texts (duplicates get ".1", ".2", ... as in pandas). */
static em_status read_row_names(reader *R, size_t at, int64_t *nf, char ***names) {
    int64_t cnt = 0, cap = 0;
    char **v = NULL;
    bytes b = {0};
    em_status st = EM_OK;
    for (;;) {
        field f;
        size_t bad = 0;
        int t = next_field(R, at, &f, &bad);
        if (t) {
            st = fail_at(R, EM_ERR_PARSE, t == 1 ? at : bad, cnt,
                         t == 1 ? "unterminated quoted field" : "unexpected character after a closing quote");
            break;
        }
        if (names) {
            if (cnt == cap) {
                int64_t nc = cap ? cap * 2 : 16;
                char **p = em__alloc((size_t)nc * sizeof *p);
                if (!p) {
                    st = em__error(EM_ERR_NOMEM, OP ": out of memory for the header");
                    break;
                }
                if (cnt) memcpy(p, v, (size_t)cnt * sizeof *p);
                em__free(v);
                v = p;
                cap = nc;
            }
            b.len = 0;
            if (!append_text(R, &b, &f)) {
                st = em__error(EM_ERR_NOMEM, OP ": out of memory for the header");
                break;
            }
            /* pandas-style dedup: name, name.1, name.2 ... */
            char tmp[32] = "";
            for (int dup = 0;; dup++) {
                if (dup) snprintf(tmp, sizeof tmp, ".%d", dup);
                size_t tl = strlen(tmp);
                bool clash = false;
                for (int64_t i = 0; i < cnt && !clash; i++)
                    clash = strlen(v[i]) == b.len + tl && !memcmp(v[i], b.p, b.len) && !memcmp(v[i] + b.len, tmp, tl);
                if (!clash) break;
            }
            size_t tl = strlen(tmp);
            if (!bytes_reserve(&b, tl + 1)) {
                st = em__error(EM_ERR_NOMEM, OP ": out of memory for the header");
                break;
            }
            memcpy(b.p + b.len, tmp, tl);
            if ((st = copy_str(b.p, b.len + tl, &v[cnt]))) break;
        }
        cnt++;
        at = f.next;
        if (f.last) break;
    }
    em__free(b.p);
    if (st) {
        for (int64_t i = 0; v && i < cnt; i++) em__free(v[i]);
        em__free(v);
        return st;
    }
    *nf = cnt;
    if (names) *names = v;
    return EM_OK;
}

static em_status resolve(const reader *R, const em_csv_column *c, const char *what, int64_t *out) {
    if (c->name) {
        if (R->file_names)
            for (int64_t i = 0; i < R->nfile; i++)
                if (!strcmp(R->file_names[i], c->name)) {
                    *out = i;
                    return EM_OK;
                }
        return em__error(EM_ERR_INVALID_ARG, OP ": %s: no column named '%.80s'%s", what, c->name,
                         R->file_names ? "" : " (the file has no header)");
    }
    int64_t i = c->index < 0 ? c->index + R->nfile : c->index;
    if (i < 0 || i >= R->nfile)
        return em__error(EM_ERR_INDEX, OP ": %s: column index %lld out of range for %lld columns", what,
                         (long long)c->index, (long long)R->nfile);
    *out = i;
    return EM_OK;
}

static em_status select_columns(reader *R, const em_csv_options *o) {
    size_t nf = (size_t)R->nfile;
    R->nsel = o->usecols ? o->n_usecols : R->nfile;
    size_t ns = (size_t)R->nsel;
    R->sel = em__alloc(nf * sizeof *R->sel + 1);
    R->sel_file = em__alloc(ns * sizeof *R->sel_file + 1);
    R->want = em__alloc(ns * sizeof *R->want + 1);
    R->mode = em__alloc(ns * sizeof *R->mode + 1);
    if (!R->sel || !R->sel_file || !R->want || !R->mode)
        return em__error(EM_ERR_NOMEM, OP ": out of memory for %lld columns", (long long)R->nfile);
    for (size_t i = 0; i < nf; i++) R->sel[i] = -1;
    for (size_t j = 0; j < ns; j++) {
        int64_t f = (int64_t)j;
        if (o->usecols) EM_TRY(resolve(R, &o->usecols[j], "usecols", &f));
        if (R->sel[f] >= 0)
            return em__error(EM_ERR_INVALID_ARG, OP ": usecols: column %lld is selected twice", (long long)f + 1);
        R->sel[f] = (int64_t)j;
        R->sel_file[j] = f;
        R->want[j] = o->default_type;
    }
    for (int64_t t = 0; t < o->n_types; t++) {
        int64_t f;
        EM_TRY(resolve(R, &o->types[t].column, "dtype", &f));
        if ((unsigned)o->types[t].type > EM_CSV_STRING)
            return em__error(EM_ERR_INVALID_ARG, OP ": dtype: invalid column type %d", (int)o->types[t].type);
        if (R->sel[f] >= 0) R->want[R->sel[f]] = o->types[t].type;
    }
    return EM_OK;
}

/* ---- result assembly ------------------------------------------------------ */

static int join(int a, int b) {
    if (a == b) return a;
    if (a > b) { int t = a; a = b; b = t; }
    if (a == ST_EMPTY) {
        /* the empty chunk had missing values: bool/int need a float home */
        if (b == ST_BOOL) return ST_FBOOL;
        if (b == ST_INT) return ST_FLOAT;
        return b;
    }
    if (b == ST_STRING) return ST_STRING;
    if (a == ST_INT && b == ST_FLOAT) return ST_FLOAT;
    if (a == ST_BOOL && b == ST_FBOOL) return ST_FBOOL;
    return ST_STRING; /* bool with numbers */
}

static void free_reader(reader *R) {
    if (R->chunks) {
        for (int64_t i = 0; i < R->nchunks; i++) {
            if (!R->chunks[i].cols) continue;
            for (int64_t j = 0; j < R->nsel; j++) {
                colstate *cs = &R->chunks[i].cols[j];
                em__free(cs->str.p);
                em__free(cs->offs);
                em__free(cs->miss);
            }
            em__free(R->chunks[i].cols);
        }
        em__free(R->chunks);
    }
    for (int64_t j = 0; j < R->nsel; j++)
        if (R->slot_t) em_tensor_free(R->slot_t[j]);
    if (R->file_names)
        for (int64_t i = 0; i < R->nfile; i++) em__free(R->file_names[i]);
    em__free(R->file_names);
    em__free(R->rec);
    em__free(R->sel);
    em__free(R->sel_file);
    em__free(R->want);
    em__free(R->mode);
    em__free(R->slots);
    em__free(R->slot_t);
}

/* Runs a parse pass over all chunks and reports the first chunk's error. */
static em_status run_pass(reader *R, int nthreads) {
    for (int64_t i = 0; i < R->nchunks; i++) R->chunks[i].st = EM_OK;
    if (R->nchunks > 1 && nthreads > 1)
        em__parallel_for(R->nchunks, 1, nthreads, parse_range, R);
    else
        parse_range(R, 0, R->nchunks, 0);
    for (int64_t i = 0; i < R->nchunks; i++)
        if (R->chunks[i].st) return em__error(R->chunks[i].st, "%s", R->chunks[i].msg);
    return EM_OK;
}

/* Joins the chunks' strings of selected column j into result column j: one
 * byte buffer, absolute offsets, missing flags. */
static em_status gather_strings(const reader *R, int64_t j, em_csv_result *res) {
    const int64_t nr = R->nrec;
    size_t total = 0;
    for (int64_t i = 0; i < R->nchunks; i++) total += R->chunks[i].cols[j].str.len;
    char *d = em__alloc(total + 1);
    int64_t *offs = em__alloc(((size_t)nr + 1) * sizeof *offs);
    uint8_t *miss = em__alloc((size_t)nr + 1);
    if (!d || !offs || !miss) {
        em__free(d);
        em__free(offs);
        em__free(miss);
        return em__error(EM_ERR_NOMEM, OP ": out of memory for %zu bytes of strings", total);
    }
    int64_t base = 0;
    offs[0] = 0;
    for (int64_t i = 0; i < R->nchunks; i++) {
        const chunk *c = &R->chunks[i];
        const colstate *cs = &c->cols[j];
        int64_t n = c->r1 - c->r0;
        if (cs->str.len) memcpy(d + base, cs->str.p, cs->str.len);
        for (int64_t r = 0; r < n; r++) offs[c->r0 + r + 1] = base + cs->offs[r + 1];
        memcpy(miss + c->r0, cs->miss, (size_t)n);
        base += (int64_t)cs->str.len;
    }
    d[total] = 0;
    res->sdata[j] = d;
    res->soffs[j] = offs;
    res->smiss[j] = miss;
    return EM_OK;
}

/* Asks for transparent huge pages under a large fresh output column: every
 * page of it is written once, and one fault per 2 MiB costs far less than one
 * per 4 KiB (a hint; without THP nothing changes). */
static void huge_pages(void *p, size_t n) {
#ifdef MADV_HUGEPAGE
    const uintptr_t h = (uintptr_t)2 << 20;
    uintptr_t a = ((uintptr_t)p + h - 1) & ~(h - 1), b = ((uintptr_t)p + n) & ~(h - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

static em_status build(reader *R, const em_csv_options *o, em_csv_result **out) {
    const int64_t ns = R->nsel, nr = R->nrec;
    /* chunks: fixed size from the row count (results never depend on it) */
    int nthreads = o->nthreads > 0 ? o->nthreads : em__threads();
    int64_t csize = nr / ((int64_t)nthreads * 8) + 1;
    if (csize < 2048) csize = 2048;
    R->nchunks = nr ? (nr + csize - 1) / csize : 0;
    R->chunks = em__calloc((size_t)R->nchunks * sizeof(chunk) + 1);
    R->slots = em__calloc((size_t)ns * sizeof *R->slots + 1);
    R->slot_t = em__calloc((size_t)ns * sizeof *R->slot_t + 1);
    if (!R->chunks || !R->slots || !R->slot_t)
        return em__error(EM_ERR_NOMEM, OP ": out of memory for %lld columns", (long long)ns);
    for (int64_t i = 0; i < R->nchunks; i++) {
        chunk *c = &R->chunks[i];
        c->r0 = i * csize;
        c->r1 = c->r0 + csize < nr ? c->r0 + csize : nr;
        if (!(c->cols = em__calloc((size_t)ns * sizeof *c->cols + 1)))
            return em__error(EM_ERR_NOMEM, OP ": out of memory for chunk state");
    }
    for (int64_t j = 0; j < ns; j++) {
        R->mode[j] = R->want[j];
        if (R->want[j] != EM_CSV_STRING) {
            EM_TRY(em__new(EM_F64, 1, &nr, &R->slot_t[j]));
            R->slots[j] = (uint64_t *)em__ptr(R->slot_t[j]);
            huge_pages(R->slots[j], (size_t)nr * 8);
        }
    }
    R->pass = 1;
    EM_TRY(run_pass(R, nthreads));

    /* merge the chunk states of inferred columns */
    int *final = em__alloc((size_t)ns * sizeof(int) + 1);
    if (!final) return em__error(EM_ERR_NOMEM, OP ": out of memory");
    bool reparse = false;
    for (int64_t j = 0; j < ns; j++) {
        R->mode[j] = -1;
        if (R->want[j] != EM_CSV_AUTO) continue;
        int s = ST_EMPTY;
        bool all_text = true;
        for (int64_t i = 0; i < R->nchunks; i++) {
            const colstate *cs = &R->chunks[i].cols[j];
            int cst = cs->state;
            if (cs->has_missing && cst == ST_BOOL) cst = ST_FBOOL;
            if (cs->has_missing && cst == ST_INT) cst = ST_FLOAT;
            s = i ? join(s, cst) : cst;
            all_text &= cs->state == ST_STRING;
        }
        final[j] = s;
        if (s == ST_STRING) {
            em_tensor_free(R->slot_t[j]);
            R->slot_t[j] = NULL;
            R->slots[j] = NULL;
            if (!all_text) { /* chunks that read it as numbers collect its text in pass 2 */
                R->mode[j] = EM_CSV_STRING;
                reparse = true;
            }
            continue;
        }
        for (int64_t i = 0; i < R->nchunks; i++) {
            const chunk *c = &R->chunks[i];
            int cst = c->cols[j].state;
            if ((s == ST_FLOAT || s == ST_FBOOL) && (cst == ST_INT || cst == ST_BOOL))
                to_double(R->slots[j], c->r0, c->r1);
        }
    }
    if (reparse) {
        R->pass = 2;
        em_status st = run_pass(R, nthreads);
        if (st) {
            em__free(final);
            return st;
        }
    }

    em_csv_result *res = em__calloc(sizeof *res);
    if (!res) {
        em__free(final);
        return em__error(EM_ERR_NOMEM, OP ": out of memory for the result");
    }
    res->ncols = ns;
    res->nrows = nr;
    res->names = em__calloc((size_t)ns * sizeof(char *) + 1);
    res->types = em__calloc((size_t)ns * sizeof(em_csv_type) + 1);
    res->tensors = em__calloc((size_t)ns * sizeof(em_tensor *) + 1);
    res->sdata = em__calloc((size_t)ns * sizeof(char *) + 1);
    res->soffs = em__calloc((size_t)ns * sizeof(int64_t *) + 1);
    res->smiss = em__calloc((size_t)ns * sizeof(uint8_t *) + 1);
    em_status st = EM_OK;
    if (!res->names || !res->types || !res->tensors || !res->sdata || !res->soffs || !res->smiss)
        st = em__error(EM_ERR_NOMEM, OP ": out of memory for the result");
    for (int64_t j = 0; j < ns && !st; j++) {
        int64_t f = R->sel_file[j];
        if (R->file_names) {
            st = copy_str(R->file_names[f], strlen(R->file_names[f]), &res->names[j]);
        } else {
            char tmp[24];
            int k = snprintf(tmp, sizeof tmp, "%lld", (long long)f);
            st = copy_str(tmp, (size_t)k, &res->names[j]);
        }
        if (st) break;
        em_csv_type t = R->want[j];
        if (t == EM_CSV_AUTO) {
            int s = final[j];
            t = s == ST_BOOL ? EM_CSV_BOOL : s == ST_INT ? EM_CSV_INT64 : s == ST_STRING ? EM_CSV_STRING : EM_CSV_FLOAT64;
        }
        res->types[j] = t;
        if (t == EM_CSV_STRING) {
            st = gather_strings(R, j, res);
        } else if (t == EM_CSV_BOOL) {
            em_tensor *bt;
            if ((st = em__new(EM_BOOL, 1, &nr, &bt))) break;
            bool *bp = (bool *)em__ptr(bt);
            for (int64_t r = 0; r < nr; r++) bp[r] = R->slots[j][r] != 0;
            res->tensors[j] = bt;
        } else if (t == EM_CSV_INT64) {
            em_tensor *it;
            if ((st = em__view(R->slot_t[j], EM_I64, 1, &nr, (const int64_t[]){1}, 0, &it))) break;
            res->tensors[j] = it;
        } else {
            res->tensors[j] = R->slot_t[j];
            R->slot_t[j] = NULL;
        }
    }
    em__free(final);
    if (st) {
        em_csv_result_free(res);
        return st;
    }
    *out = res;
    return EM_OK;
}

/* ---- entry points --------------------------------------------------------- */

static em_status check_options(const em_csv_options *o) {
    char d = o->delimiter, q = o->quote, c = o->comment;
    if (d == 0 || d == '\n' || d == '\r')
        return em__error(EM_ERR_INVALID_ARG, OP ": delimiter must be one byte other than NUL, '\\n', '\\r'");
    if (q == '\n' || q == '\r' || (q && q == d))
        return em__error(EM_ERR_INVALID_ARG, OP ": quote must differ from the delimiter and newlines");
    if (c && (c == d || c == q || c == '\n' || c == '\r'))
        return em__error(EM_ERR_INVALID_ARG, OP ": comment must differ from the delimiter, quote and newlines");
    if (o->skip_rows < 0)
        return em__error(EM_ERR_INVALID_ARG, OP ": skip_rows must be >= 0, got %lld", (long long)o->skip_rows);
    if ((unsigned)o->default_type > EM_CSV_STRING)
        return em__error(EM_ERR_INVALID_ARG, OP ": invalid default column type %d", (int)o->default_type);
    if (o->n_usecols < 0 || o->n_types < 0 || o->n_na_values < 0 || (o->n_usecols && !o->usecols) ||
        (o->n_types && !o->types) || (o->n_na_values && !o->na_values))
        return em__error(EM_ERR_INVALID_ARG, OP ": a list option has a negative length or a NULL pointer");
    for (int64_t i = 0; i < o->n_na_values; i++)
        if (!o->na_values[i]) return em__error(EM_ERR_INVALID_ARG, OP ": na_values[%lld] is NULL", (long long)i);
    return EM_OK;
}

em_status em_csv_read_buffer(const void *data, size_t n, const em_csv_options *opts, em_csv_result **out) {
    if ((!data && n) || !out) return em__error(EM_ERR_INVALID_ARG, OP ": NULL data or out");
    em_csv_options o = opts ? *opts : em_csv_default_options();
    EM_TRY(check_options(&o));
    reader R;
    memset(&R, 0, sizeof R);
    R.buf = data ? data : "";
    R.n = n;
    if (n >= 3 && !memcmp(R.buf, "\xEF\xBB\xBF", 3)) { /* UTF-8 byte-order mark */
        R.buf += 3;
        R.n -= 3;
    }
    R.delim = o.delimiter;
    R.quote = o.quote;
    R.na = o.na_values ? o.na_values : default_na;
    R.nna = o.na_values ? o.n_na_values : (int64_t)(sizeof default_na / sizeof *default_na);
    for (int64_t i = 0; i < R.nna; i++) {
        size_t l = strlen(R.na[i]);
        if (l > R.na_maxlen) R.na_maxlen = l;
        if (l) R.na_first[(unsigned char)R.na[i][0]] = 1;
    }
    /* a delimiter that can occur inside a number or a bool word would end
     * the field where the fast scanners do not look for it */
    unsigned char dl = (unsigned char)R.delim;
    bool letter = (dl | 0x20) >= 'a' && (dl | 0x20) <= 'z';
    R.fast_num = !letter && !(dl >= '0' && dl <= '9') && dl != '+' && dl != '-' && dl != '.';
    R.fast_bool = !letter;
    for (int64_t i = 0; i < R.nna; i++) {
        const char *s = R.na[i], *e = s + strlen(s);
        double v;
        /* NaN texts may stay fast: read as NaN or as missing, the value is the same */
        if (em__csv_parse_f64(s, e, &v) && !isnan(v)) R.fast_num = false;
        if (em__csv_parse_bool(s, e) >= 0) R.fast_bool = false;
    }
#ifdef EM_CSV_AVX2
    R.avx2 = em__cpu_avx2_fma() && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
             __builtin_cpu_supports("lzcnt") && __builtin_cpu_supports("popcnt") && !em__cpu_force_portable();
#endif
    em_status st = EM_OK;
    if ((st = scan_records(&R, &o))) goto done;
    if (R.has_header) {
        if ((st = read_row_names(&R, R.header_off, &R.nfile, &R.file_names))) goto done;
    } else if (R.nrec) {
        if ((st = read_row_names(&R, (size_t)R.rec[0], &R.nfile, NULL))) goto done;
    }
    /* after the header, so the message can name the column */
    if (R.nul != SIZE_MAX) {
        /* which field: count delimiters on that line (quotes aside) */
        size_t off = R.nul, ls = off;
        while (ls > 0 && R.buf[ls - 1] != '\n') ls--;
        int64_t col = 0;
        for (size_t i = ls; i < off; i++) col += R.buf[i] == R.delim;
        st = fail_at(&R, EM_ERR_PARSE, off, col, "embedded NUL byte");
        goto done;
    }
    if ((st = select_columns(&R, &o))) goto done;
    st = build(&R, &o, out);
done:
    free_reader(&R);
    return st;
}

em_status em_csv_read_file(const char *path, const em_csv_options *opts, em_csv_result **out) {
    if (!path || !out) return em__error(EM_ERR_INVALID_ARG, OP ": NULL path or out");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return em__error(EM_ERR_IO, OP ": cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        int e = errno;
        close(fd);
        return em__error(EM_ERR_IO, OP ": cannot stat '%s': %s", path, strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return em__error(EM_ERR_IO, OP ": '%s' is a directory", path);
    }
    em_status st;
    if (S_ISREG(sb.st_mode) && sb.st_size > 0) {
        /* MAP_POPULATE: the text is read whole anyway, and mapping it in one
         * call costs less than a page fault every few pages */
        void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            return em__error(EM_ERR_IO, OP ": cannot map '%s': %s", path, strerror(e));
        }
        close(fd);
        st = em_csv_read_buffer(m, (size_t)sb.st_size, opts, out);
        munmap(m, (size_t)sb.st_size);
        return st;
    }
    /* pipes, empty or special files: read to the end */
    bytes b = {0};
    for (;;) {
        if (!bytes_reserve(&b, 65536)) {
            em__free(b.p);
            close(fd);
            return em__error(EM_ERR_NOMEM, OP ": out of memory reading '%s'", path);
        }
        ssize_t k = read(fd, b.p + b.len, b.cap - b.len);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int e = errno;
            em__free(b.p);
            close(fd);
            return em__error(EM_ERR_IO, OP ": cannot read '%s': %s", path, strerror(e));
        }
        if (k == 0) break;
        b.len += (size_t)k;
    }
    close(fd);
    st = em_csv_read_buffer(b.p ? b.p : "", b.len, opts, out);
    em__free(b.p);
    return st;
}
