/*
 * postmortem.h - an out-of-memory failure explained: the OOM record in the
 * segment, a JSON report file, one log line.
 */
#ifndef GPUMEM_POSTMORTEM_H
#define GPUMEM_POSTMORTEM_H

#include <stdint.h>

#include "cuda_abi.h"
#include "gpumem_shm.h"

/* After gpumem__on_failure said so (device is a valid ordinal). At most one
 * report per GPUMEM_POSTMORTEM_INTERVAL; a failure while another thread
 * writes one is only logged. */
void gpumem__postmortem(enum gpumem_api api, uint64_t bytes, int device, gcu_result result);
/* fork(): the report lock is taken first (a report holds it while it reads
 * the ledger) and released in parent and child. */
void gpumem__postmortem_before_fork(void);
void gpumem__postmortem_after_fork(void);

#endif /* GPUMEM_POSTMORTEM_H */
