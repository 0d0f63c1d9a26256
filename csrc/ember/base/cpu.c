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

bool em__cpu_avx512f(void) {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    /* gcc and clang report avx512f only when the OS also saves the zmm and
     * mask registers (XCR0), so a kernel that finds it may use them */
    __builtin_cpu_init();
    return em__cpu_avx2_fma() && __builtin_cpu_supports("avx512f");
#else
    return false;
#endif
}

bool em__cpu_force_portable(void) {
    const char *env = getenv("EMBER_FORCE_PORTABLE");
    return env && *env && strcmp(env, "0") != 0;
}
