/*
 * src/watch/fpset.c — the fingerprint table (see fpset.h): growth by
 * doubling at 80 % load, Robin Hood insertion, backward-shift deletion.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fpset.h"
#include "internal.h"

/* Grow when more than 4/5 of the slots would be used. At the moment of
 * growth the old table (16 B / 0.8 = 20 B per entry) and the new one (40 B
 * per entry) are both live: 60 B per entry, under the 64 B budget. */
static bool over_load(size_t count, size_t capacity)
{
    return count > capacity / 5 * 4;
}

static unsigned log2_size(size_t v)
{
    unsigned n = 0;
    while (v > 1) v >>= 1, n++;
    return n;
}

uint64_t kura_watch_i_hash(const uint8_t key[KURA_WATCH_KEY_LEN], const uint8_t *data, size_t len)
{
    uint8_t h[crypto_shorthash_BYTES];
    uint64_t v;
    crypto_shorthash(h, data, (unsigned long long)len, key);
    /* Any fixed byte order will do for a fingerprint; little-endian, inlined. */
    v = (uint64_t)h[0] | (uint64_t)h[1] << 8 | (uint64_t)h[2] << 16 | (uint64_t)h[3] << 24 |
        (uint64_t)h[4] << 32 | (uint64_t)h[5] << 40 | (uint64_t)h[6] << 48 |
        (uint64_t)h[7] << 56;
    return v != 0 ? v : 1;
}

uint64_t kura_watch_i_hash_outpoint(const uint8_t key[KURA_WATCH_KEY_LEN], const uint8_t txid[32],
                             uint32_t vout)
{
    uint8_t op[36];
    memcpy(op, txid, 32);
    kura_store_u32le(op + 32, vout);
    return kura_watch_i_hash(key, op, sizeof(op));
}

static int table_alloc(fpset *s, size_t capacity)
{
    fpslot *slots = calloc(capacity, sizeof(*slots));
    if (slots == NULL) return KURA_ENOMEM;
    s->slots = slots;
    s->capacity = capacity;
    s->mask = capacity - 1;
    s->shift = 64u - log2_size(capacity);
    return KURA_OK;
}

/* Robin Hood insertion without a duplicate check; the table has room. */
static void place(fpset *s, uint64_t fp, uint64_t value)
{
    size_t pos = (size_t)(fp >> s->shift), dist = 0;
    for (;;) {
        fpslot *sl = &s->slots[pos];
        size_t theirs;
        if (sl->fp == 0) {
            sl->fp = fp;
            sl->value = value;
            return;
        }
        theirs = (pos - (size_t)(sl->fp >> s->shift)) & s->mask;
        if (theirs < dist) {
            /* Take the slot from the richer entry and carry it on. */
            fpslot carried = *sl;
            sl->fp = fp;
            sl->value = value;
            fp = carried.fp;
            value = carried.value;
            dist = theirs;
        }
        pos = (pos + 1) & s->mask;
        dist++;
    }
}

static void note_peak(fpset *s, size_t bytes)
{
    if (bytes > s->peak_bytes) s->peak_bytes = bytes;
}

/* Moves everything into a table of new_capacity slots. */
static int rehash(fpset *s, size_t new_capacity)
{
    fpslot *old = s->slots;
    size_t old_capacity = s->capacity;
    if (table_alloc(s, new_capacity) != KURA_OK) {
        s->slots = old; /* unchanged */
        return KURA_ENOMEM;
    }
    note_peak(s, s->self_bytes + (old_capacity + new_capacity) * sizeof(fpslot));
    /* table_alloc set capacity, mask and shift for the new table. */
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].fp != 0) place(s, old[i].fp, old[i].value);
    free(old);
    return KURA_OK;
}

int kura_watch_i_fpset_init(fpset *s, const uint8_t key[KURA_WATCH_KEY_LEN], size_t self_bytes)
{
    memset(s, 0, sizeof(*s));
    memcpy(s->key, key, KURA_WATCH_KEY_LEN);
    s->self_bytes = self_bytes;
    if (table_alloc(s, FPSET_MIN_CAPACITY) != KURA_OK) return KURA_ENOMEM;
    note_peak(s, self_bytes + FPSET_MIN_CAPACITY * sizeof(fpslot));
    return KURA_OK;
}

void kura_watch_i_fpset_clear(fpset *s)
{
    free(s->slots);
    s->slots = NULL;
    sodium_memzero(s->key, sizeof(s->key));
}

int kura_watch_i_fpset_reserve(fpset *s, size_t total)
{
    size_t capacity = s->capacity;
    if (total > KURA_WATCH_MAX_ENTRIES) return KURA_ERANGE;
    while (over_load(total, capacity)) capacity *= 2;
    if (capacity == s->capacity) return KURA_OK;
    return rehash(s, capacity);
}

int kura_watch_i_fpset_add(fpset *s, uint64_t fp, uint64_t value)
{
    fpiter it;
    uint64_t v;
    int rc;
    fpiter_begin(&it, s, fp);
    while (fpiter_next(&it, &v))
        if (v == value) return KURA_OK;
    if (s->count >= KURA_WATCH_MAX_ENTRIES) return KURA_ERANGE;
    if (over_load(s->count + 1, s->capacity) && (rc = rehash(s, s->capacity * 2)) != KURA_OK)
        return rc;
    place(s, fp, value);
    s->count++;
    return KURA_OK;
}

int kura_watch_i_fpset_remove(fpset *s, uint64_t fp, uint64_t value)
{
    size_t pos = (size_t)(fp >> s->shift), dist = 0;
    for (;;) {
        fpslot *sl = &s->slots[pos];
        if (sl->fp == 0 || ((pos - (size_t)(sl->fp >> s->shift)) & s->mask) < dist)
            return KURA_ENOTFOUND;
        if (sl->fp == fp && sl->value == value) break;
        pos = (pos + 1) & s->mask;
        dist++;
    }
    /* Backward shift: pull each following displaced entry one slot nearer
     * its home until an empty slot or an entry already at home. */
    for (;;) {
        size_t next = (pos + 1) & s->mask;
        fpslot *n = &s->slots[next];
        if (n->fp == 0 || ((next - (size_t)(n->fp >> s->shift)) & s->mask) == 0) break;
        s->slots[pos] = *n;
        pos = next;
    }
    s->slots[pos].fp = 0;
    s->slots[pos].value = 0;
    s->count--;
    return KURA_OK;
}

void kura_watch_i_fpset_stats(const fpset *s, kura_watch_stats *out)
{
    out->count = s->count;
    out->capacity = s->capacity;
    out->bytes = s->self_bytes + s->capacity * sizeof(fpslot);
    out->peak_bytes = s->peak_bytes;
}
