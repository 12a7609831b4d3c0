/*
 * src/watch/watch.c — the watched-script index, the watched-outpoint set and
 * the scanner over a block or one transaction.
 *
 * The scanner reads the block in place (kura_block_next_input/output), looks
 * up each output's script and each input's outpoint with one keyed hash and
 * one probe, and hashes a transaction for its txid only when it has a hit, so
 * that a block with nothing of ours costs a walk over its bytes and one
 * SipHash per input and output, not a SHA-256d of every transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "fpset.h"
#include "internal.h"
#include "kura/script.h"
#include "kura/watch.h"

struct kura_watch_index {
    fpset s;
};

struct kura_watch_outpoints {
    fpset s;
};

/* The scan's own state, kept in the result between scans. */
struct kura_watch_scratch {
    size_t receipt_cap;
    size_t spend_cap;
    fpset paid; /* outpoints of this scan's receipts -> receipt index */
    int paid_ready;
};

/* ---- watched scripts ---- */

int kura_watch_index_new(kura_watch_index **out, const uint8_t key[KURA_WATCH_KEY_LEN])
{
    kura_watch_index *idx;
    if (out == NULL) return KURA_EINVAL;
    *out = NULL;
    if (key == NULL) return KURA_EINVAL;
    idx = malloc(sizeof(*idx));
    if (idx == NULL) return KURA_ENOMEM;
    if (kura_watch_i_fpset_init(&idx->s, key, sizeof(*idx)) != KURA_OK) {
        free(idx);
        return KURA_ENOMEM;
    }
    *out = idx;
    return KURA_OK;
}

void kura_watch_index_free(kura_watch_index *idx)
{
    if (idx == NULL) return;
    kura_watch_i_fpset_clear(&idx->s);
    free(idx);
}

int kura_watch_index_reserve(kura_watch_index *idx, size_t total)
{
    if (idx == NULL) return KURA_EINVAL;
    return kura_watch_i_fpset_reserve(&idx->s, total);
}

int kura_watch_index_add(kura_watch_index *idx, const uint8_t *script, size_t len,
                         uint64_t value)
{
    if (idx == NULL || (script == NULL && len > 0)) return KURA_EINVAL;
    return kura_watch_i_fpset_add(&idx->s, kura_watch_i_hash(idx->s.key, script, len), value);
}

int kura_watch_index_add_descriptor(const kura_ctx *ctx, kura_watch_index *idx,
                                    const kura_descriptor *desc, size_t branch, uint32_t first,
                                    uint32_t count, uint64_t value_base, kura_error *err)
{
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
    if (ctx == NULL || idx == NULL || desc == NULL) return KURA_EINVAL;
    if (count > 0 && first > UINT32_MAX - (count - 1)) return KURA_EINVAL;
    if (count > 0) {
        size_t total;
        if (!kura_size_add(idx->s.count, count, &total)) return KURA_ERANGE;
        int rc = kura_watch_i_fpset_reserve(&idx->s, total);
        if (rc != KURA_OK) return rc;
    }
    for (uint32_t k = 0; k < count; k++) {
        size_t len;
        uint32_t index = first + k;
        int rc = kura_descriptor_script_pubkey(ctx, script, sizeof(script), &len, desc, branch,
                                               index, err);
        if (rc == KURA_OK) rc = kura_watch_index_add(idx, script, len, value_base + index);
        if (rc != KURA_OK) return rc;
    }
    return KURA_OK;
}

/* Writes up to max values matching fp into values, returns how many match. */
static size_t find_all(const fpset *s, uint64_t fp, uint64_t *values, size_t max)
{
    fpiter it;
    uint64_t v;
    size_t n = 0;
    fpiter_begin(&it, s, fp);
    while (fpiter_next(&it, &v)) {
        if (n < max) values[n] = v;
        n++;
    }
    return n;
}

int kura_watch_index_find(const kura_watch_index *idx, uint64_t *values, size_t max,
                          size_t *found, const uint8_t *script, size_t len)
{
    if (found == NULL) return KURA_EINVAL;
    *found = 0;
    if (idx == NULL || (values == NULL && max > 0) || (script == NULL && len > 0))
        return KURA_EINVAL;
    *found = find_all(&idx->s, kura_watch_i_hash(idx->s.key, script, len), values, max);
    return KURA_OK;
}

void kura_watch_index_stats(const kura_watch_index *idx, kura_watch_stats *out)
{
    if (out == NULL) return;
    memset(out, 0, sizeof(*out));
    if (idx != NULL) kura_watch_i_fpset_stats(&idx->s, out);
}

/* ---- watched outpoints ---- */

int kura_watch_outpoints_new(kura_watch_outpoints **out, const uint8_t key[KURA_WATCH_KEY_LEN])
{
    kura_watch_outpoints *set;
    if (out == NULL) return KURA_EINVAL;
    *out = NULL;
    if (key == NULL) return KURA_EINVAL;
    set = malloc(sizeof(*set));
    if (set == NULL) return KURA_ENOMEM;
    if (kura_watch_i_fpset_init(&set->s, key, sizeof(*set)) != KURA_OK) {
        free(set);
        return KURA_ENOMEM;
    }
    *out = set;
    return KURA_OK;
}

void kura_watch_outpoints_free(kura_watch_outpoints *set)
{
    if (set == NULL) return;
    kura_watch_i_fpset_clear(&set->s);
    free(set);
}

int kura_watch_outpoints_reserve(kura_watch_outpoints *set, size_t total)
{
    if (set == NULL) return KURA_EINVAL;
    return kura_watch_i_fpset_reserve(&set->s, total);
}

int kura_watch_outpoints_add(kura_watch_outpoints *set, const uint8_t txid[32], uint32_t vout,
                             uint64_t value)
{
    if (set == NULL || txid == NULL) return KURA_EINVAL;
    return kura_watch_i_fpset_add(&set->s, kura_watch_i_hash_outpoint(set->s.key, txid, vout),
                                  value);
}

int kura_watch_outpoints_remove(kura_watch_outpoints *set, const uint8_t txid[32], uint32_t vout,
                                uint64_t value)
{
    if (set == NULL || txid == NULL) return KURA_EINVAL;
    return kura_watch_i_fpset_remove(&set->s,
                                     kura_watch_i_hash_outpoint(set->s.key, txid, vout), value);
}

int kura_watch_outpoints_find(const kura_watch_outpoints *set, uint64_t *values, size_t max,
                              size_t *found, const uint8_t txid[32], uint32_t vout)
{
    if (found == NULL) return KURA_EINVAL;
    *found = 0;
    if (set == NULL || (values == NULL && max > 0) || txid == NULL) return KURA_EINVAL;
    *found = find_all(&set->s, kura_watch_i_hash_outpoint(set->s.key, txid, vout), values, max);
    return KURA_OK;
}

void kura_watch_outpoints_stats(const kura_watch_outpoints *set, kura_watch_stats *out)
{
    if (out == NULL) return;
    memset(out, 0, sizeof(*out));
    if (set != NULL) kura_watch_i_fpset_stats(&set->s, out);
}

/* ---- results ---- */

kura_watch_result *kura_watch_result_new(void)
{
    kura_watch_result *r = calloc(1, sizeof(*r));
    if (r == NULL) return NULL;
    r->scratch_ = calloc(1, sizeof(*r->scratch_));
    if (r->scratch_ == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void kura_watch_result_free(kura_watch_result *result)
{
    if (result == NULL) return;
    if (result->scratch_ != NULL) {
        if (result->scratch_->paid_ready) kura_watch_i_fpset_clear(&result->scratch_->paid);
        free(result->scratch_);
    }
    free(result->receipts);
    free(result->spends);
    free(result);
}

static void result_reset(kura_watch_result *r)
{
    r->receipt_count = 0;
    r->spend_count = 0;
    r->txids_computed = 0;
    r->signals_rbf = 0;
}

/* Grows *arr (of elem-byte items, capacity *cap) to hold one more. */
static int grow(void **arr, size_t *cap, size_t count, size_t elem)
{
    size_t n, bytes;
    void *p;
    if (count < *cap) return KURA_OK;
    n = *cap ? *cap * 2 : 16;
    if (!kura_size_mul(n, elem, &bytes)) return KURA_ENOMEM;
    p = realloc(*arr, bytes);
    if (p == NULL) return KURA_ENOMEM;
    *arr = p;
    *cap = n;
    return KURA_OK;
}

/* ---- scanning ---- */

/* One scan over transactions txs[0..n) of bytes. */
typedef struct scan {
    kura_watch_result *r;
    const fpset *scripts;  /* NULL: none watched */
    const fpset *outpoints;
    fpset *paid;           /* receipts of this scan by outpoint */
    const uint8_t *op_key; /* the key of the outpoint fingerprints (both tables) */
    const uint8_t *bytes;
    const uint8_t (*txids)[32]; /* NULL: hash on demand */
} scan;

/* The txid of transaction i into out, once per transaction. */
static void ensure_txid(scan *sc, const kura_block_tx *t, size_t i, uint8_t out[32], int *have)
{
    if (*have) return;
    if (sc->txids != NULL) {
        memcpy(out, sc->txids[i], 32);
    } else {
        kura_block_tx_txid(out, sc->bytes, t);
        sc->r->txids_computed++;
    }
    *have = 1;
}

static int push_spend(scan *sc, size_t i, const uint8_t txid[32], uint32_t vin,
                      const kura_block_txin *in, size_t receipt, uint64_t value)
{
    kura_watch_result *r = sc->r;
    kura_watch_spend *s;
    int rc = grow((void **)&r->spends, &r->scratch_->spend_cap, r->spend_count, sizeof(*s));
    if (rc != KURA_OK) return rc;
    s = &r->spends[r->spend_count++];
    s->tx_index = i;
    memcpy(s->txid, txid, 32);
    s->vin = vin;
    memcpy(s->prev_txid, in->prev_txid, 32);
    s->prev_vout = in->prev_vout;
    s->receipt = receipt;
    s->value = value;
    return KURA_OK;
}

/* Lookups are made in batches of up to SCAN_BATCH per transaction: every
 * fingerprint of the batch is hashed and its home slot prefetched before the
 * first probe, so the cache misses into a table of tens of megabytes overlap
 * instead of following one another. */
#define SCAN_BATCH 32
#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch((p))
#else
#define PREFETCH(p) ((void)(p))
#endif

static int scan_inputs(scan *sc, const kura_block_tx *t, size_t i, uint8_t txid[32], int *have)
{
    kura_watch_result *r = sc->r;
    kura_block_txin in[SCAN_BATCH];
    uint64_t fp[SCAN_BATCH];
    kura_block_cursor c;
    uint32_t k = 0;
    int rc;
    kura_block_inputs_begin(&c, sc->bytes, t);
    for (;;) {
        size_t n = 0;
        while (n < SCAN_BATCH && kura_block_next_input(&c, &in[n])) {
            fp[n] = kura_watch_i_hash_outpoint(sc->op_key, in[n].prev_txid, in[n].prev_vout);
            if (sc->outpoints != NULL) PREFETCH(fpset_home_addr(sc->outpoints, fp[n]));
            n++;
        }
        if (n == 0) return KURA_OK;
        for (size_t m = 0; m < n; m++, k++) {
            fpiter it;
            uint64_t v;
            if (sc->outpoints != NULL) {
                fpiter_begin(&it, sc->outpoints, fp[m]);
                while (fpiter_next(&it, &v)) {
                    ensure_txid(sc, t, i, txid, have);
                    if ((rc = push_spend(sc, i, txid, k, &in[m], KURA_WATCH_NONE, v)) != KURA_OK)
                        return rc;
                }
            }
            if (sc->paid->count > 0) {
                fpiter_begin(&it, sc->paid, fp[m]);
                while (fpiter_next(&it, &v)) {
                    const kura_watch_receipt *rec = &r->receipts[v];
                    /* Exact: the receipt holds the real outpoint. */
                    if (rec->vout != in[m].prev_vout ||
                        memcmp(rec->txid, in[m].prev_txid, 32) != 0)
                        continue;
                    ensure_txid(sc, t, i, txid, have);
                    rc = push_spend(sc, i, txid, k, &in[m], (size_t)v, rec->value);
                    if (rc != KURA_OK) return rc;
                }
            }
        }
    }
}

static int scan_outputs(scan *sc, const kura_block_tx *t, size_t i, uint8_t txid[32], int *have)
{
    kura_watch_result *r = sc->r;
    kura_block_txout out[SCAN_BATCH];
    uint64_t fp[SCAN_BATCH];
    kura_block_cursor c;
    uint32_t k = 0;
    int rc;
    kura_block_outputs_begin(&c, sc->bytes, t);
    for (;;) {
        size_t n = 0;
        while (n < SCAN_BATCH && kura_block_next_output(&c, &out[n])) {
            fp[n] = kura_watch_i_hash(sc->scripts->key, out[n].script_pubkey,
                                      out[n].script_pubkey_len);
            PREFETCH(fpset_home_addr(sc->scripts, fp[n]));
            n++;
        }
        if (n == 0) return KURA_OK;
        for (size_t m = 0; m < n; m++, k++) {
            fpiter it;
            uint64_t v;
            fpiter_begin(&it, sc->scripts, fp[m]);
            while (fpiter_next(&it, &v)) {
                kura_watch_receipt *rec;
                ensure_txid(sc, t, i, txid, have);
                rc = grow((void **)&r->receipts, &r->scratch_->receipt_cap, r->receipt_count,
                          sizeof(*rec));
                if (rc != KURA_OK) return rc;
                rec = &r->receipts[r->receipt_count];
                rec->tx_index = i;
                memcpy(rec->txid, txid, 32);
                rec->vout = k;
                rec->amount = out[m].amount;
                rec->script_pubkey = out[m].script_pubkey;
                rec->script_pubkey_len = out[m].script_pubkey_len;
                rec->value = v;
                rc = kura_watch_i_fpset_add(sc->paid,
                                            kura_watch_i_hash_outpoint(sc->op_key, txid, k),
                                            (uint64_t)r->receipt_count);
                if (rc != KURA_OK) return rc;
                r->receipt_count++;
            }
        }
    }
}

static int scan_tx(scan *sc, const kura_block_tx *t, size_t i, int coinbase)
{
    uint8_t txid[32];
    int have = 0, rc;
    if (!coinbase && (sc->outpoints != NULL || sc->paid->count > 0) &&
        (rc = scan_inputs(sc, t, i, txid, &have)) != KURA_OK)
        return rc;
    if (sc->scripts != NULL && (rc = scan_outputs(sc, t, i, txid, &have)) != KURA_OK) return rc;
    return KURA_OK;
}

/* Prepares sc for a scan; the paid table is emptied (kept allocated). */
static int scan_begin(scan *sc, kura_watch_result *r, const kura_watch_index *idx,
                      const kura_watch_outpoints *outpoints, const uint8_t *bytes)
{
    struct kura_watch_scratch *x = r->scratch_;
    static const uint8_t zero_key[KURA_WATCH_KEY_LEN] = {0};
    const uint8_t *key = outpoints != NULL ? outpoints->s.key
                         : idx != NULL     ? idx->s.key
                                           : zero_key;
    result_reset(r);
    /* The paid table is keyed like the outpoint set, so one hash of an
     * input's outpoint serves both lookups. Its entries are checked exactly
     * against the receipts, so its key needs no secrecy. */
    if (x->paid_ready && memcmp(x->paid.key, key, KURA_WATCH_KEY_LEN) != 0) {
        kura_watch_i_fpset_clear(&x->paid);
        x->paid_ready = 0;
    }
    if (!x->paid_ready) {
        if (kura_watch_i_fpset_init(&x->paid, key, 0) != KURA_OK) return KURA_ENOMEM;
        x->paid_ready = 1;
    } else if (x->paid.count > 0) {
        memset(x->paid.slots, 0, x->paid.capacity * sizeof(fpslot));
        x->paid.count = 0;
    }
    sc->r = r;
    sc->scripts = idx != NULL ? &idx->s : NULL;
    sc->outpoints = outpoints != NULL ? &outpoints->s : NULL;
    sc->paid = &x->paid;
    sc->op_key = x->paid.key;
    sc->bytes = bytes;
    sc->txids = NULL;
    return KURA_OK;
}

int kura_watch_scan_block(kura_watch_result *result, const kura_watch_index *idx,
                          const kura_watch_outpoints *outpoints, const kura_block *block)
{
    scan sc;
    int rc;
    if (result == NULL || result->scratch_ == NULL || block == NULL) return KURA_EINVAL;
    if ((rc = scan_begin(&sc, result, idx, outpoints, block->bytes)) != KURA_OK) goto fail;
    sc.txids = (const uint8_t(*)[32])block->txids;
    for (size_t i = 0; i < block->tx_count; i++)
        if ((rc = scan_tx(&sc, &block->txs[i], i, i == 0)) != KURA_OK) goto fail;
    return KURA_OK;
fail:
    result_reset(result);
    return rc;
}

int kura_watch_scan_tx(kura_watch_result *result, const kura_watch_index *idx,
                       const kura_watch_outpoints *outpoints, const uint8_t *bytes, size_t len,
                       kura_error *err)
{
    kura_block_tx t;
    kura_block_cursor c;
    kura_block_txin in;
    scan sc;
    int rc;
    if (result == NULL || result->scratch_ == NULL || (bytes == NULL && len > 0))
        return KURA_EINVAL;
    result_reset(result);
    if ((rc = kura_block_tx_locate(&t, bytes, len, err)) != KURA_OK) return rc;
    if ((rc = scan_begin(&sc, result, idx, outpoints, bytes)) != KURA_OK) goto fail;
    if ((rc = scan_tx(&sc, &t, 0, 0)) != KURA_OK) goto fail;
    kura_block_inputs_begin(&c, bytes, &t);
    while (kura_block_next_input(&c, &in))
        if (in.sequence < 0xfffffffeu) result->signals_rbf = 1;
    return KURA_OK;
fail:
    result_reset(result);
    return rc;
}
