/* A program of another project that uses gpumem's in-process API, built
 * against an install of gpumem with find_package (CMakeLists.txt) or with
 * pkg-config (Makefile), both of which define GPUMEM_LINKED (plain, not weak,
 * declarations: the library is linked and loads with the program). Prints the
 * loaded shim's version and how many devices it counted. */
#include <stdio.h>
#include <string.h>

#include <gpumem.h>

#ifndef GPUMEM_LINKED
#error "GPUMEM_LINKED is not defined: the package's compile flags did not reach this program"
#endif

int main(void)
{
    gpumem_device_stats_t s;
    int rc = gpumem_device_stats(0, &s);
    printf("gpumem %s (header %s), %d devices, device_stats(0): %s\n", gpumem_version(), GPUMEM_VERSION_STRING,
           gpumem_device_count(), gpumem_strerror(rc));
    return strcmp(gpumem_version(), GPUMEM_VERSION_STRING) == 0 ? 0 : 1;
}
