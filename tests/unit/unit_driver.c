/* unit_driver.c - see unit_driver.h. */
#define _GNU_SOURCE
#include "unit_driver.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "segment_write.h"

int ud_current_device;

/* ---- live memory ---- */

#define UD_KEYS 256
static struct answer {
    uint64_t key;
    gcu_result answer;
} pointers[UD_KEYS], handles[UD_KEYS];

static void set_answer(struct answer *table, uint64_t key, gcu_result answer)
{
    for (int i = 0; i < UD_KEYS; i++)
        if (table[i].key == key || table[i].key == 0) {
            table[i].key = key;
            table[i].answer = answer;
            return;
        }
    fprintf(stderr, "unit_driver: more than %d keys\n", UD_KEYS);
    abort();
}

static gcu_result get_answer(const struct answer *table, uint64_t key)
{
    for (int i = 0; i < UD_KEYS && table[i].key; i++)
        if (table[i].key == key) return table[i].answer;
    return GCU_ERROR_INVALID_VALUE;
}

void ud_pointer(uint64_t key, gcu_result answer) { set_answer(pointers, key, answer); }
void ud_handle(uint64_t key, gcu_result answer) { set_answer(handles, key, answer); }

static gcu_result pointer_get_attribute(void *data, gcu_pointer_attribute attr, gcu_deviceptr ptr)
{
    gcu_result r = get_answer(pointers, ptr);
    if (r == GCU_SUCCESS && attr == GCU_POINTER_ATTRIBUTE_MEMORY_TYPE) *(unsigned int *)data = 2; /* device */
    return r;
}

static gcu_result handle_properties(gcu_mem_allocation_prop *prop, gcu_mem_handle handle)
{
    gcu_result r = get_answer(handles, handle);
    if (r == GCU_SUCCESS) memset(prop, 0, sizeof *prop);
    return r;
}

/* ---- pools ---- */

#define UD_POOLS 32
static struct ud_pool pools[UD_POOLS];
static int npools;

struct ud_pool *ud_pool_new(uint64_t reserved, uint64_t used, uint64_t threshold)
{
    if (npools == UD_POOLS) {
        fprintf(stderr, "unit_driver: more than %d pools\n", UD_POOLS);
        abort();
    }
    struct ud_pool *p = &pools[npools];
    /* Never dereferenced: a pool is only a name to the shim. */
    p->handle = (gcu_mempool)(uintptr_t)(0x50000 + 0x100 * (unsigned)(npools + 1));
    p->answer = GCU_SUCCESS;
    p->reserved = reserved;
    p->used = used;
    p->threshold = threshold;
    p->reads = 0;
    npools++;
    return p;
}

static gcu_result mem_pool_get_attribute(gcu_mempool pool, gcu_pool_attribute attr, void *value)
{
    for (int i = 0; i < npools; i++) {
        struct ud_pool *p = &pools[i];
        if (p->handle != pool) continue;
        p->reads++;
        if (p->answer != GCU_SUCCESS) return p->answer;
        uint64_t v;
        switch (attr) {
        case GCU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT: v = p->reserved; break;
        case GCU_MEMPOOL_ATTR_USED_MEM_CURRENT: v = p->used; break;
        case GCU_MEMPOOL_ATTR_RELEASE_THRESHOLD: v = p->threshold; break;
        default: return GCU_ERROR_INVALID_VALUE;
        }
        memcpy(value, &v, sizeof v);
        return GCU_SUCCESS;
    }
    return GCU_ERROR_INVALID_VALUE;
}

/* ---- devices ---- */

static gcu_result ctx_get_device(gcu_device *dev)
{
    *dev = ud_current_device;
    return GCU_SUCCESS;
}

static gcu_result device_total_mem(size_t *total, gcu_device dev)
{
    if (dev == UD_NO_TOTAL_DEVICE) return GCU_ERROR_INVALID_VALUE;
    *total = (size_t)UD_TOTAL;
    return GCU_SUCCESS;
}

static void uuid_bytes(int device, unsigned char b[16])
{
    for (int i = 0; i < 16; i++) b[i] = (unsigned char)(0x10 * (i % 16) + (unsigned)device % 16);
}

static gcu_result device_get_uuid(gcu_uuid *uuid, gcu_device dev)
{
    uuid_bytes(dev, (unsigned char *)uuid->bytes);
    return GCU_SUCCESS;
}

void ud_uuid_text(int device, char *out, size_t size)
{
    unsigned char b[16];
    uuid_bytes(device, b);
    snprintf(out, size, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static gcu_result device_get_pci_bus_id(char *out, int len, gcu_device dev)
{
    snprintf(out, (size_t)len, "0000:%02x:00.0", (unsigned)dev);
    return GCU_SUCCESS;
}

static gcu_result device_get_name(char *out, int len, gcu_device dev)
{
    snprintf(out, (size_t)len, "Unit Test GPU %d", dev);
    return GCU_SUCCESS;
}

void ud_install(const char *log)
{
    setenv("GPUMEM_DISABLE", "1", 1); /* process memory only: see segment_write.c */
    setenv("GPUMEM_LOG", log ? log : "off", 1);
    setenv("GPUMEM_WARN_PERCENT", "80", 1);
    setenv("GPUMEM_ALARM_PERCENT", "90", 1);
    setenv("GPUMEM_HYSTERESIS_PERCENT", "2", 1);
    setenv("GPUMEM_BACKTRACE", "0", 1);
    struct gpumem_driver *d = &gpumem__driver_table;
    memset(d, 0, sizeof *d);
    d->ctx_get_device = ctx_get_device;
    d->device_total_mem = device_total_mem;
    d->device_get_uuid = device_get_uuid;
    d->device_get_pci_bus_id = device_get_pci_bus_id;
    d->device_get_name = device_get_name;
    d->mem_pool_get_attribute = mem_pool_get_attribute;
    d->pointer_get_attribute = pointer_get_attribute;
    d->handle_properties = handle_properties;
    atomic_store(&gpumem__driver_state, 2);
}

/* ---- the segment's rings ---- */

const struct gpumem_shm_event *ud_event(unsigned op, int device, uint64_t address)
{
    const struct gpumem_shm_segment *s = gpumem__segment();
    const struct gpumem_shm_event *best = NULL;
    for (unsigned i = 0; i < GPUMEM_SHM_EVENT_SLOTS; i++) {
        const struct gpumem_shm_event *e = &s->events[i];
        if (e->seq == 0 || e->op != op || e->device != device || e->address != address) continue;
        if (!best || e->seq > best->seq) best = e;
    }
    return best;
}

const struct gpumem_shm_transition *ud_last_transition(void)
{
    const struct gpumem_shm_segment *s = gpumem__segment();
    uint64_t head = s->header.transitions_head;
    if (head == 0) return NULL;
    const struct gpumem_shm_transition *t = &s->transitions[(head - 1) & (GPUMEM_SHM_TRANSITION_SLOTS - 1)];
    return t->seq == head ? t : NULL;
}
