/* ledger.c - see ledger.h. */
#include "ledger.h"

#include <stdlib.h>
#include <string.h>

#include "os.h"

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

static inline uint64_t mix(uint64_t key)
{
    /* Device pointers share their low bits (alignment) and high bits (the
     * address range): a multiplicative hash spreads both. */
    uint64_t h = key * UINT64_C(0x9E3779B97F4A7C15);
    return h ^ (h >> 31);
}

static inline struct gpumem_shard *shard_of(struct gpumem_ledger *l, uint64_t h) { return &l->shards[h >> 58]; }

static inline void lock(struct gpumem_shard *s)
{
    for (unsigned spins = 0;;) {
        if (!atomic_exchange_explicit(&s->lock, 1, memory_order_acquire)) return;
        while (atomic_load_explicit(&s->lock, memory_order_relaxed)) {
            if (++spins < 128) cpu_relax();
            else gpumem__os_yield();
        }
    }
}

static inline void unlock(struct gpumem_shard *s) { atomic_store_explicit(&s->lock, 0, memory_order_release); }

/* Index of key's slot, or of the empty slot where it would go. */
static size_t probe(const struct gpumem_shard *s, uint64_t h, uint64_t key)
{
    size_t i = (size_t)h & s->mask;
    while (s->slots[i].key != 0 && s->slots[i].key != key) i = (i + 1) & s->mask;
    return i;
}

static int grow(struct gpumem_shard *s)
{
    size_t cap = s->mask ? (s->mask + 1) * 2 : 16;
    struct gpumem_entry *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    struct gpumem_entry *old = s->slots;
    size_t old_cap = s->mask ? s->mask + 1 : 0;
    __atomic_store_n(&s->slots, slots, __ATOMIC_RELAXED);
    __atomic_store_n(&s->mask, cap - 1, __ATOMIC_RELAXED);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key) s->slots[probe(s, mix(old[i].key), old[i].key)] = old[i];
    free(old);
    return 0;
}

static int insert(struct gpumem_ledger *l, const struct gpumem_entry *e, struct gpumem_entry *old, int replace)
{
    if (e->key == 0) return -1;
    uint64_t h = mix(e->key);
    struct gpumem_shard *s = shard_of(l, h);
    int rc = 0;
    lock(s);
    /* At most half full: probe runs stay short, for lookups and deletions. */
    if ((s->count + 1) * 2 > s->mask + 1 || !s->slots) {
        if (grow(s) != 0) {
            unlock(s);
            return -1;
        }
    }
    size_t i = probe(s, h, e->key);
    if (s->slots[i].key == e->key) {
        if (old) *old = s->slots[i];
        rc = 1;
        if (!replace) {
            unlock(s);
            return rc;
        }
    } else {
        s->count++;
    }
    s->slots[i] = *e;
    s->version++;
    unlock(s);
    return rc;
}

int gpumem__ledger_insert(struct gpumem_ledger *l, const struct gpumem_entry *e, struct gpumem_entry *old)
{
    return insert(l, e, old, 1);
}

int gpumem__ledger_restore(struct gpumem_ledger *l, const struct gpumem_entry *e) { return insert(l, e, NULL, 0); }

static int find_locked(struct gpumem_shard *s, uint64_t h, uint64_t key, size_t *at)
{
    if (!s->slots) return 0;
    size_t i = probe(s, h, key);
    *at = i;
    return s->slots[i].key == key;
}

/* Backward-shift deletion of slot i: pull later members of the probe run
 * into the hole, so lookups never need tombstones. The caller holds the lock. */
static void remove_at(struct gpumem_shard *s, size_t i)
{
    for (size_t j = (i + 1) & s->mask; s->slots[j].key; j = (j + 1) & s->mask) {
        size_t home = (size_t)mix(s->slots[j].key) & s->mask;
        /* Move j into i unless its home lies cyclically in (i, j]. */
        int stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            s->slots[i] = s->slots[j];
            i = j;
        }
    }
    s->slots[i].key = 0;
    s->count--;
    s->version++;
}

int gpumem__ledger_remove(struct gpumem_ledger *l, uint64_t key, struct gpumem_entry *out)
{
    if (key == 0) return 0;
    uint64_t h = mix(key);
    struct gpumem_shard *s = shard_of(l, h);
    size_t i;
    lock(s);
    if (!find_locked(s, h, key, &i)) {
        unlock(s);
        return 0;
    }
    if (out) *out = s->slots[i];
    remove_at(s, i);
    unlock(s);
    return 1;
}

int gpumem__ledger_find_version(struct gpumem_ledger *l, uint64_t key, struct gpumem_entry *out, uint32_t *version)
{
    if (key == 0) return 0;
    uint64_t h = mix(key);
    struct gpumem_shard *s = shard_of(l, h);
    size_t i;
    lock(s);
    int found = find_locked(s, h, key, &i);
    if (found) *out = s->slots[i];
    *version = s->version;
    unlock(s);
    return found;
}

int gpumem__ledger_remove_unchanged(struct gpumem_ledger *l, uint64_t key, uint32_t version, struct gpumem_entry *out)
{
    if (key == 0) return 0;
    uint64_t h = mix(key);
    struct gpumem_shard *s = shard_of(l, h);
    size_t i;
    lock(s);
    int same = s->version == version && find_locked(s, h, key, &i);
    if (same) {
        *out = s->slots[i];
        remove_at(s, i);
    }
    unlock(s);
    return same;
}

int gpumem__ledger_find(struct gpumem_ledger *l, uint64_t key, struct gpumem_entry *out)
{
    struct gpumem_entry e;
    uint32_t version;
    int found = gpumem__ledger_find_version(l, key, &e, &version);
    if (found && out) *out = e;
    return found;
}

size_t gpumem__ledger_count(struct gpumem_ledger *l)
{
    size_t n = 0;
    for (int k = 0; k < GPUMEM_LEDGER_SHARDS; k++) {
        lock(&l->shards[k]);
        n += l->shards[k].count;
        unlock(&l->shards[k]);
    }
    return n;
}

void gpumem__ledger_foreach(struct gpumem_ledger *l, void (*fn)(const struct gpumem_entry *, void *), void *ctx)
{
    for (int k = 0; k < GPUMEM_LEDGER_SHARDS; k++) {
        struct gpumem_shard *s = &l->shards[k];
        lock(s);
        for (size_t i = 0; s->slots && i <= s->mask; i++)
            if (s->slots[i].key) fn(&s->slots[i], ctx);
        unlock(s);
    }
}

void gpumem__ledger_clear(struct gpumem_ledger *l)
{
    for (int k = 0; k < GPUMEM_LEDGER_SHARDS; k++) {
        struct gpumem_shard *s = &l->shards[k];
        lock(s);
        free(s->slots);
        __atomic_store_n(&s->slots, NULL, __ATOMIC_RELAXED);
        __atomic_store_n(&s->mask, 0, __ATOMIC_RELAXED);
        s->count = 0;
        unlock(s);
    }
}

void gpumem__ledger_lock_all(struct gpumem_ledger *l)
{
    for (int k = 0; k < GPUMEM_LEDGER_SHARDS; k++) lock(&l->shards[k]);
}

void gpumem__ledger_unlock_all(struct gpumem_ledger *l)
{
    for (int k = 0; k < GPUMEM_LEDGER_SHARDS; k++) unlock(&l->shards[k]);
}
