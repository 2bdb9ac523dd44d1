/* thread.c - see thread.h. */
#include "thread.h"

__thread struct gpumem_thread gpumem__thread __attribute__((tls_model("initial-exec")));
