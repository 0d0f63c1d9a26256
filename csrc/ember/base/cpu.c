/* CPU feature detection: see cpu.h. */
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

bool em__cpu_avx2_fma(void) {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

bool em__cpu_force_portable(void) {
    const char *env = getenv("EMBER_FORCE_PORTABLE");
    return env && *env && strcmp(env, "0") != 0;
}
