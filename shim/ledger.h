/*
 * ledger.h - live allocations by key (device pointer, VMM handle or pool).
 *
 * 64 shards, each an open-addressing table with linear probing and
 * backward-shift deletion under its own short spinlock: insert and remove
 * are O(1) expected and there is no global lock. Entries are 32 bytes and
 * tables are kept at most half full, so a lookup usually reads one or two
 * cache lines and a deletion shifts one or two entries. Memory grows with
 * the live count: 64 to 128 bytes per live allocation.
 */
#ifndef GPUMEM_LEDGER_H
#define GPUMEM_LEDGER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define GPUMEM_LEDGER_SHARDS 64

struct gpumem_entry {
    uint64_t key; /* 0 never stored */
    uint64_t bytes;
    uint64_t unix_ns; /* when it was made */
    uint32_t trace;   /* where it was made (traces.c), 0 unknown */
    int8_t device;
    uint8_t kind; /* enum gpumem_kind */
    uint8_t api;  /* enum gpumem_api */
    uint8_t pool; /* an async allocation's pool: its slot (pools.c) + 1, or 0 */
};

_Static_assert(sizeof(struct gpumem_entry) == 32, "entries stay small: a free reads few cache lines");

struct gpumem_shard {
    atomic_int lock;
    uint32_t count;
    uint32_t version; /* changes with every insert and remove */
    size_t mask;      /* capacity - 1, or 0 before the first insert */
    struct gpumem_entry *slots;
} __attribute__((aligned(64)));

struct gpumem_ledger {
    struct gpumem_shard shards[GPUMEM_LEDGER_SHARDS];
};

/* 0 on success, -1 when memory ran out (the entry is then not kept). An
 * existing entry with the same key is replaced and copied to *old (return 1). */
int gpumem__ledger_insert(struct gpumem_ledger *l, const struct gpumem_entry *e, struct gpumem_entry *old);
/* Puts back an entry taken out by remove: 1 (and nothing changed) when the
 * key is present again, 0 when stored, -1 when memory ran out. */
int gpumem__ledger_restore(struct gpumem_ledger *l, const struct gpumem_entry *e);
/* 1 and a copy in *out when key was present (now removed), else 0. */
int gpumem__ledger_remove(struct gpumem_ledger *l, uint64_t key, struct gpumem_entry *out);
/* 1, a copy in *out and its shard's version when key is present. */
int gpumem__ledger_find_version(struct gpumem_ledger *l, uint64_t key, struct gpumem_entry *out, uint32_t *version);
/* Removes key only if its shard has not changed since find_version gave
 * version, so never a newer entry that reused the key meanwhile (even one
 * identical in every field): 1 and a copy in *out when removed. */
int gpumem__ledger_remove_unchanged(struct gpumem_ledger *l, uint64_t key, uint32_t version, struct gpumem_entry *out);
/* 1 and a copy in *out when key is present. */
int gpumem__ledger_find(struct gpumem_ledger *l, uint64_t key, struct gpumem_entry *out);
size_t gpumem__ledger_count(struct gpumem_ledger *l);
/* Calls fn on a copy of every entry, one shard locked at a time. */
void gpumem__ledger_foreach(struct gpumem_ledger *l, void (*fn)(const struct gpumem_entry *, void *), void *ctx);
/* Forget everything and free the memory. */
void gpumem__ledger_clear(struct gpumem_ledger *l);
/* fork(): take every shard lock before, release after (parent), and in the
 * child release them without touching the tables. */
void gpumem__ledger_lock_all(struct gpumem_ledger *l);
void gpumem__ledger_unlock_all(struct gpumem_ledger *l);

#endif /* GPUMEM_LEDGER_H */
