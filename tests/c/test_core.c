#include <string.h>

#include "test.h"

TEST(version) {
    CHECK(strcmp(em_version(), EM_VERSION_STRING) == 0);
}
