/* csv_internal.h — internals of the CSV reader shared by csv.c, csv_number.c
 * and the generated pow5_table.c (never installed). */
#ifndef EMBER_CSV_INTERNAL_H
#define EMBER_CSV_INTERNAL_H

#include "../internal.h"

/* {hi, lo} of the normalised 128-bit approximation of 5^q, index q + 342
 * (gen_pow5.py). */
#define EM__CSV_POW5_QMIN (-342)
#define EM__CSV_POW5_QMAX 308
extern const uint64_t em__csv_pow5[EM__CSV_POW5_QMAX - EM__CSV_POW5_QMIN + 1][2];

/* Whole-text parsers over [s, e) (no surrounding spaces).  The int parser
 * returns 1 for an int64, 0 for text that is not an integer, 2 for an
 * integer outside the int64 range. */
bool em__csv_parse_f64(const char *s, const char *e, double *out);
/* The longest float at the start of [s, e): its end, or NULL if none. */
const char *em__csv_scan_f64(const char *s, const char *e, double *out);
int em__csv_parse_i64(const char *s, const char *e, int64_t *out);
/* The int64 at the start of [s, e) ([+-]digits): its end, or NULL when there
 * are no digits or the value is outside the int64 range. */
const char *em__csv_scan_i64(const char *s, const char *e, int64_t *out);
/* 1 for true/True/TRUE, 0 for false/False/FALSE, -1 otherwise. */
int em__csv_parse_bool(const char *s, const char *e);

#endif
