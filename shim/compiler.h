/*
 * compiler.h - branch hints and the export attribute. The library is built
 * with -fvisibility=hidden: it exports only the CUDA entry points it wraps,
 * dlsym, and the gpumem_* API of include/gpumem.h.
 */
#ifndef GPUMEM_COMPILER_H
#define GPUMEM_COMPILER_H

#define GPUMEM_EXPORT __attribute__((visibility("default")))
#define GPUMEM_LIKELY(x) __builtin_expect(!!(x), 1)
#define GPUMEM_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif /* GPUMEM_COMPILER_H */
