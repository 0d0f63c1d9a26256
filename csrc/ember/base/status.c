/* Status codes and the thread-local last-error text. */
#include "../internal.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const status_names[] = {
    "EM_OK",        "EM_ERR_INVALID_ARG", "EM_ERR_SHAPE",       "EM_ERR_DTYPE",     "EM_ERR_INDEX",
    "EM_ERR_NOMEM", "EM_ERR_IO",          "EM_ERR_PARSE",       "EM_ERR_UNSUPPORTED", "EM_ERR_INTERNAL",
};
_Static_assert(sizeof status_names / sizeof status_names[0] == EM_STATUS_COUNT_, "status name table out of date");

static _Thread_local char last_error[1024];

const char *em_status_str(em_status s) {
    if ((unsigned)s >= EM_STATUS_COUNT_) return "EM_ERR_UNKNOWN";
    return status_names[s];
}

const char *em_last_error(void) { return last_error; }
void em_clear_error(void) { last_error[0] = '\0'; }

em_status em__error(em_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return st;
}

void em__assert_fail(const char *cond, const char *file, int line) {
    fprintf(stderr, "ember: internal invariant failed: %s (%s:%d)\n", cond, file, line);
    abort();
}

const char *em__shape_str(int ndim, const int64_t *shape, char *buf) {
    size_t n = 0, cap = EM_DESC_LEN;
    n += (size_t)snprintf(buf + n, cap - n, "(");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < cap) n += (size_t)snprintf(buf + n, cap - n, ndim == 1 ? ",)" : ")");
    return buf;
}

const char *em__desc(const em_tensor *t, char *buf) {
    em__shape_str(t->ndim, t->shape, buf);
    size_t n = strlen(buf);
    if (n < EM_DESC_LEN) snprintf(buf + n, EM_DESC_LEN - n, " %s", em_dtype_name(t->dtype));
    return buf;
}
