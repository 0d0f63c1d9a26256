#include "../internal.h"

const char *em_version(void) { return EM_VERSION_STRING; }
