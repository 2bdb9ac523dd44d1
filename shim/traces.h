/*
 * traces.h - where allocations are made (GPUMEM_BACKTRACE=1).
 */
#ifndef GPUMEM_TRACES_H
#define GPUMEM_TRACES_H

#include <stddef.h>
#include <stdint.h>

/* At load: find the shim's own object; warm: load the unwinder now. */
void gpumem__traces_init(int warm);
/* The calling stack outside the shim, remembered once per distinct stack:
 * an id for the ledger, 0 when none could be kept. */
uint32_t gpumem__trace_capture(void);
/* "module+0xoff (symbol+0xoff)" lines of a remembered stack. */
void gpumem__trace_format(uint32_t id, char *out, size_t size);

#endif /* GPUMEM_TRACES_H */
