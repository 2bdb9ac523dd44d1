/* A library interposing probe_value the usual way: dlsym(RTLD_NEXT, ...),
 * which glibc resolves relative to this library, not to the shim. */
#define _GNU_SOURCE
#include <dlfcn.h>

int probe_value(void)
{
    int (*next)(void) = (int (*)(void))dlsym(RTLD_NEXT, "probe_value");
    return next ? next() + 10 : -1;
}

void *probe_lookup_default(const char *name) { return dlsym(RTLD_DEFAULT, name); }
