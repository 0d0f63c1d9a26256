/* ember/io.h — CSV reader (issue 5).  Included by ember.h.
 *
 * em_csv_read_buffer / em_csv_read_file parse RFC 4180 text into typed
 * columns: bool, int64, float64 (as ember tensors) or strings (one byte
 * buffer plus offsets per column).  See docs/csv.md.
 *
 * Ownership: a successful read gives the caller an em_csv_result, freed with
 * em_csv_result_free().  Tensors obtained from it are new references (free
 * each with em_tensor_free(); they outlive the result).  String pointers
 * obtained from it are borrowed and live as long as the result.
 *
 * Errors: malformed input returns EM_ERR_PARSE and em_last_error() names the
 * 1-based line and column (and the column's name when there is a header),
 * e.g. "read_csv: line 7, column 3 ('price'): cannot parse 'abc' as int64".
 * A file that cannot be read returns EM_ERR_IO naming the path.
 */
#ifndef EMBER_IO_H
#define EMBER_IO_H

/* Column types.  EM_CSV_AUTO infers per column, the narrowest of bool
 * ("true"/"false" in any of the cases True, TRUE, true), int64, float64,
 * else string; a missing value in a bool or int column makes it float64
 * (NaN marks the missing rows; bools become 0.0/1.0). */
typedef enum em_csv_type {
    EM_CSV_AUTO = 0,
    EM_CSV_BOOL = 1,
    EM_CSV_INT64 = 2,
    EM_CSV_FLOAT64 = 3,
    EM_CSV_STRING = 4,
} em_csv_type;

/* A column of the file: by header name when name != NULL, else by 0-based
 * index (negative counts from the end). */
typedef struct em_csv_column {
    const char *name;
    int64_t index;
} em_csv_column;

/* A type for one column (overrides em_csv_options.default_type). */
typedef struct em_csv_column_type {
    em_csv_column column;
    em_csv_type type;
} em_csv_column_type;

typedef struct em_csv_options {
    char delimiter;              /* field separator; default ',' */
    char quote;                  /* quote character; default '"'; 0 disables quoting */
    char comment;                /* lines whose first byte is this are skipped; 0 (default): none */
    bool header;                 /* first row names the columns (default true); else "0", "1", ... */
    int64_t skip_rows;           /* lines skipped at the start, before the header (default 0) */
    int64_t max_rows;            /* data rows read at most; < 0 (default): all */
    /* Field texts read as missing (compared after the quotes are removed).
     * NULL (default): "", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan",
     * "NULL", "null", "None", "#N/A", "<NA>".  An empty field is always missing. */
    const char *const *na_values;
    int64_t n_na_values;
    /* Columns to read, in this order; NULL (default) reads all.  The others
     * are only skipped over. */
    const em_csv_column *usecols;
    int64_t n_usecols;
    em_csv_type default_type;    /* for columns without an entry in types (default EM_CSV_AUTO) */
    const em_csv_column_type *types;
    int64_t n_types;
    /* Threads for the parse (0, default: em_get_num_threads()).  The result
     * never depends on it. */
    int nthreads;
} em_csv_options;

typedef struct em_csv_result em_csv_result;

/* The defaults listed above. */
EM_API em_csv_options em_csv_default_options(void);

/* Parses the n bytes at data (not NUL-terminated; NUL bytes are a parse
 * error; a UTF-8 byte-order mark is skipped).  opts NULL: defaults.  The
 * buffer is only read, never past data + n, and not kept.  On success *out
 * is a new result; free it with em_csv_result_free(). */
EM_API em_status em_csv_read_buffer(const void *data, size_t n, const em_csv_options *opts, em_csv_result **out);
/* Same for the file at path (memory-mapped).  EM_ERR_IO names the path. */
EM_API em_status em_csv_read_file(const char *path, const em_csv_options *opts, em_csv_result **out);
/* Frees a result; NULL is a no-op.  Tensors taken from it stay valid. */
EM_API void em_csv_result_free(em_csv_result *r);

/* Data rows and selected columns of the result. */
EM_API int64_t em_csv_result_num_rows(const em_csv_result *r);
EM_API int64_t em_csv_result_num_cols(const em_csv_result *r);
/* Name of column j (header text, or its file index as text); borrowed, NUL-terminated.
 * NULL if j is out of range. */
EM_API const char *em_csv_result_column_name(const em_csv_result *r, int64_t j);
/* Final type of column j (never EM_CSV_AUTO); EM_CSV_AUTO if j is out of range. */
EM_API em_csv_type em_csv_result_column_type(const em_csv_result *r, int64_t j);
/* Column j as a new 1-D tensor reference (bool, int64 or float64; no copy):
 * free it with em_tensor_free().  EM_ERR_INDEX if j is out of range,
 * EM_ERR_DTYPE for a string column. */
EM_API em_status em_csv_result_column_tensor(const em_csv_result *r, int64_t j, em_tensor **out);
/* String column j: row i is the bytes data[offsets[i] .. offsets[i+1]) (quotes
 * removed, "" unescaped; not NUL-terminated); missing[i] != 0 marks a missing
 * value (its bytes are empty).  All three arrays are borrowed from r.
 * EM_ERR_INDEX if j is out of range, EM_ERR_DTYPE if it is not a string column. */
EM_API em_status em_csv_result_column_strings(const em_csv_result *r, int64_t j, const char **data,
                                              const int64_t **offsets, const uint8_t **missing);

/* Parses the decimal float text s[0 .. n) exactly as strtod in the C locale
 * would (correctly rounded; "inf", "infinity", "nan" in any case, with a
 * sign).  Returns false, leaving *out alone, unless the whole text is one
 * number.  Exposed for tests and for callers that parse numbers themselves. */
EM_API bool em_csv_parse_double(const char *s, size_t n, double *out);

#endif
