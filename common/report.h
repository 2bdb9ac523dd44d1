/*
 * report.h - the OOM post-mortem, rendered from a decoded segment: JSON with
 * a human summary inside, and the human text alone. The shim renders its
 * report file with this code from its own segment; `gpumem report PID`
 * renders a dead process's with the same code from what it left behind.
 */
#ifndef GPUMEM_REPORT_H
#define GPUMEM_REPORT_H

#include <stdio.h>

#include "format.h"
#include "segment_read.h"

#define GPUMEM_REPORT_SCHEMA 1
#define GPUMEM_REPORT_TOP 16     /* largest live allocations listed */
#define GPUMEM_REPORT_EVENTS 256 /* last events listed */

void gpumem__report_json(FILE *f, const struct gpumem_process *p, const struct gpumem_oom *o);
void gpumem__report_text(FILE *f, const struct gpumem_process *p, const struct gpumem_oom *o);

/* Shared by every rendering of gpumem (numbers and JSON strings: format.h). */
const char *gpumem__api_name(unsigned api);

#endif /* GPUMEM_REPORT_H */
