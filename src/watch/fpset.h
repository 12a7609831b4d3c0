/*
 * src/watch/fpset.h — the table behind both watched sets: 64-bit keyed
 * fingerprints (SipHash-2-4) mapped to 64-bit caller values, in one
 * power-of-two array of 16-byte slots with Robin Hood linear probing.
 *
 * Why Robin Hood: most lookups in a block scan are misses (outputs that pay
 * someone else). With plain linear probing a miss walks to the next empty
 * slot, about 13 slots at 80 % load; Robin Hood keeps each run ordered by
 * home slot, so a miss stops as soon as it meets an entry closer to its own
 * home than the probe is to ours: a couple of slots, one cache line.
 *
 * The home slot is the fingerprint's top bits, so the table is ordered by
 * fingerprint and the probe distance of any entry can be recomputed from it;
 * nothing but the fingerprint and the value is stored. Fingerprint 0 marks an
 * empty slot (a hash of 0 is stored as 1).
 */
#ifndef KURA_WATCH_FPSET_H
#define KURA_WATCH_FPSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kura/watch.h"

#define FPSET_MIN_CAPACITY 16u

typedef struct fpslot {
    uint64_t fp;    /* 0: empty */
    uint64_t value; /* the caller's */
} fpslot;

typedef struct fpset {
    fpslot *slots;
    size_t capacity;  /* power of two, >= FPSET_MIN_CAPACITY */
    size_t mask;      /* capacity - 1 */
    unsigned shift;   /* 64 - log2(capacity): home = fp >> shift */
    size_t count;
    size_t peak_bytes;
    size_t self_bytes; /* the owning struct, for the stats */
    uint8_t key[KURA_WATCH_KEY_LEN];
} fpset;

int kura_watch_i_fpset_init(fpset *s, const uint8_t key[KURA_WATCH_KEY_LEN], size_t self_bytes);
void kura_watch_i_fpset_clear(fpset *s); /* frees the slots, wipes the key */
int kura_watch_i_fpset_reserve(fpset *s, size_t total);
/* Adds (fp, value) unless that exact pair is present. */
int kura_watch_i_fpset_add(fpset *s, uint64_t fp, uint64_t value);
/* Removes the pair; KURA_ENOTFOUND when absent. */
int kura_watch_i_fpset_remove(fpset *s, uint64_t fp, uint64_t value);
void kura_watch_i_fpset_stats(const fpset *s, kura_watch_stats *out);

uint64_t kura_watch_i_hash(const uint8_t key[KURA_WATCH_KEY_LEN], const uint8_t *data, size_t len);
uint64_t kura_watch_i_hash_outpoint(const uint8_t key[KURA_WATCH_KEY_LEN], const uint8_t txid[32],
                             uint32_t vout);

/* Iterates over the values whose fingerprint is fp. */
typedef struct fpiter {
    const fpset *s;
    uint64_t fp;
    size_t pos;
    size_t dist;
} fpiter;

static inline void fpiter_begin(fpiter *it, const fpset *s, uint64_t fp)
{
    it->s = s;
    it->fp = fp;
    it->pos = (size_t)(fp >> s->shift);
    it->dist = 0;
}

static inline bool fpiter_next(fpiter *it, uint64_t *value)
{
    const fpset *s = it->s;
    for (;;) {
        const fpslot *sl = &s->slots[it->pos];
        size_t here;
        if (sl->fp == 0) return false;
        /* An entry nearer its home than we are to ours: ours would have
         * displaced it, so ours is not further on. */
        here = (it->pos - (size_t)(sl->fp >> s->shift)) & s->mask;
        if (here < it->dist) return false;
        it->pos = (it->pos + 1) & s->mask;
        it->dist++;
        if (sl->fp == it->fp) {
            *value = sl->value;
            return true;
        }
    }
}

/* Where a lookup of fp will first read: for a prefetch. */
static inline const void *fpset_home_addr(const fpset *s, uint64_t fp)
{
    return &s->slots[(size_t)(fp >> s->shift)];
}

#endif /* KURA_WATCH_FPSET_H */
