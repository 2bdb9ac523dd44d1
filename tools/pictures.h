/*
 * pictures.h - what the pictures of history.h share: the name of a series'
 * process without its device, and the series' values over the last stretch
 * of time as the cells of a sparkline.
 */
#ifndef GPUMEM_PICTURES_H
#define GPUMEM_PICTURES_H

#include <stddef.h>
#include <stdint.h>

#include "history.h"

/* "pid 1234 train_sim cuda:0" -> "pid 1234 train_sim". */
void gpumem__source_label(char *buf, size_t size, const struct gpumem_series *s);

/* The highest bytes in each of ncells equal slices of [end_ns - span_ns,
 * end_ns) from the buckets of s; a slice no bucket starts in carries the
 * value before it (0 before the first). */
void gpumem__series_cells(const struct gpumem_series *s, uint64_t end_ns, uint64_t span_ns, uint64_t *cells,
                          size_t ncells);

#endif /* GPUMEM_PICTURES_H */
