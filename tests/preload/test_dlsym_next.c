/* The shim's dlsym is invisible: RTLD_NEXT and RTLD_DEFAULT from any other
 * library resolve exactly as without it. */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "check.h"

int probe_value(void);
void *probe_lookup_default(const char *name);

int main(void)
{
    CHECK_EQ(probe_value(), 11);
    CHECK(probe_lookup_default("probe_value") == (void *)probe_value);
    CHECK(dlsym(RTLD_DEFAULT, "probe_value") == (void *)probe_value);
    CHECK(dlsym(RTLD_DEFAULT, "no_such_symbol_anywhere") == NULL);
    CHECK(dlerror() != NULL);
    void *base = dlopen("libprobe_base.so", RTLD_NOW | RTLD_NOLOAD);
    CHECK(base != NULL);
    if (base) {
        int (*b)(void) = (int (*)(void))dlsym(base, "probe_value");
        CHECK(b && b() == 1);
    }
    /* The next malloc after this program is libc's. */
    CHECK(dlsym(RTLD_NEXT, "malloc") != NULL);
    return check_done("dlsym_next");
}
