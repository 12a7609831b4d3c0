/*
 * kura/watch.h — what a wallet watches on chain, and the block scanner that
 * finds it: an index of watched scriptPubKeys (millions of deposit
 * addresses), a set of watched outpoints (the wallet's UTXOs, or any coin
 * whose spending matters), and a scan of a block or a mempool transaction
 * that reports the outputs paying a watched script and the inputs spending a
 * watched outpoint, hashing a transaction (for its txid) only when it has
 * such a hit.
 *
 * Why fingerprints. Both sets store, per entry, a 64-bit keyed hash of the
 * item (SipHash-2-4, libsodium's crypto_shorthash, under a 16-byte key the
 * caller chooses at random per process: libkura has no randomness of its
 * own) and a 64-bit value of the caller's (an address row id, a UTXO row
 * id): 16 bytes per slot in one open-addressing table (Robin Hood linear
 * probing, at most 80 % full), so a lookup is one hash and one probe of a few
 * adjacent slots, usually within one cache line. A full 32-byte hash per
 * script would cost 40 bytes per slot, 2.5 times the memory and cache
 * traffic, to remove a false-positive rate that is already negligible:
 *  - memory: between 20 and 40 bytes per entry in steady state, and at most
 *    60 bytes at the moment the table doubles (the old table, 16 B / 0.8 per
 *    entry, and the new one, twice that, both live): under 64 bytes per
 *    watched script at every moment once a few hundred are watched (a small
 *    table has a fixed 256-byte floor);
 *  - false positives: a script that is not watched matches only if its
 *    64-bit keyed hash equals a watched one's, about n / 2^64 per lookup
 *    (5e-14 with a million entries); without the key an attacker cannot aim
 *    for one. Every hit carries the real script or outpoint from the block, so
 *    a caller that must be exact compares it with its own record of the value
 *    (the address row holds its script); kura reports, the caller confirms.
 *  - Two different watched items with the same fingerprint (about n^2 / 2^65
 *    for n entries) are both kept: lookups and scans report every value
 *    whose fingerprint matches.
 *
 * Both sets grow by doubling as entries are added (one at a time, as
 * addresses are allocated); _reserve sizes them up front when the count is
 * known (at start, from the database), so no growth happens later.
 *
 * Thread safety: a set may be read by any number of threads at once (finds
 * and scans take it const); adding or removing needs exclusive access.
 *
 * How a chain follower uses this (kura-server's server/chain/):
 *  1. At start: a random 16-byte key; kura_watch_index_new, _reserve(number
 *     of allocated addresses), then _add each address row's script with its
 *     row id as value; kura_watch_outpoints_new, _add each unspent coin of
 *     the wallet with its row id. Each newly allocated address is _add'ed as
 *     it is allocated.
 *  2. Per block (raw bytes from getblock HASH 0): kura_block_parse (check
 *     that block->hash is the hash asked for and header.prev_hash the block
 *     below), kura_watch_scan_block, then in one database transaction: for
 *     each spend, confirm it exactly (the outpoint reported is the real one;
 *     compare it with the coin row `value` names) and mark the coin spent,
 *     kura_watch_outpoints_remove; for each receipt, confirm its script
 *     against the address row `value` names, record the deposit or change
 *     (tx_index 0: a coinbase, immature for 100 blocks), and
 *     kura_watch_outpoints_add (txid, vout) unless a spend in the same result
 *     names it (spend.receipt). A reorganisation undoes a block's records in
 *     reverse: re-add the coins it spent, remove the ones it created.
 *  3. Mempool transactions (ZMQ rawtx, getrawmempool): kura_watch_scan_tx;
 *     signals_rbf marks an incoming payment replaceable.
 *  4. Double spends of incoming payments: the outpoint set may also hold
 *     the inputs of unconfirmed deposits (with values the follower chooses);
 *     a block spending one of them in another transaction (spend.txid is
 *     not the deposit's) conflicts with the deposit. The inputs of a
 *     transaction are read with kura_block_tx_locate and
 *     kura_block_next_input.
 */
#ifndef KURA_WATCH_H
#define KURA_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "kura/block.h"
#include "kura/common.h"
#include "kura/descriptor.h"
#include "kura/keys.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KURA_WATCH_KEY_LEN 16         /* crypto_shorthash_KEYBYTES */
#define KURA_WATCH_MAX_ENTRIES (1ull << 31) /* most entries in one set */
#define KURA_WATCH_NONE ((size_t)-1)

/* Memory use of a set, for the 64-byte-per-script budget. */
typedef struct kura_watch_stats {
    size_t count;      /* entries */
    size_t capacity;   /* slots (a power of two) */
    size_t bytes;      /* bytes allocated now (slots and the set's own struct) */
    size_t peak_bytes; /* most bytes allocated at once since the set was made (during
                          growth the old and the new table are both live) */
} kura_watch_stats;

/* ---- watched scripts ---- */

typedef struct kura_watch_index kura_watch_index;

/* A new empty index whose fingerprints are keyed by key[0..16) (copied; the
 * caller picks it at random, e.g. randombytes_buf, once per process).
 * Returns KURA_OK, KURA_EINVAL (NULL argument) or KURA_ENOMEM; *out is NULL
 * on failure. Free with kura_watch_index_free. */
int kura_watch_index_new(kura_watch_index **out, const uint8_t key[KURA_WATCH_KEY_LEN]);

/* Frees idx (and wipes its key). NULL is a no-op. */
void kura_watch_index_free(kura_watch_index *idx);

/* Makes room for `total` entries in all, so that adding up to that many grows
 * nothing. Returns KURA_OK, KURA_EINVAL (NULL), KURA_ERANGE (total over
 * KURA_WATCH_MAX_ENTRIES) or KURA_ENOMEM (idx unchanged). */
int kura_watch_index_reserve(kura_watch_index *idx, size_t total);

/* Watches script[0..len) (any scriptPubKey; len 0 allowed) with the caller's
 * value, returned on every hit. Adding the same script with the same value
 * again does nothing; the same script with another value adds a second entry
 * (both are reported). Returns KURA_OK; KURA_EINVAL (idx NULL, script NULL
 * with len > 0); KURA_ERANGE (the index holds KURA_WATCH_MAX_ENTRIES);
 * KURA_ENOMEM (idx unchanged). */
int kura_watch_index_add(kura_watch_index *idx, const uint8_t *script, size_t len,
                         uint64_t value);

/* Derives desc (kura_descriptor_script_pubkey) at `branch` for indexes
 * first .. first+count-1 and watches each script with value
 * value_base + its index (the index is reserved for them first). For
 * allocating a range of deposit addresses, or a recovery scan's gap window.
 * Returns KURA_OK; KURA_EINVAL (NULL argument, first + count - 1 past
 * 2^32 - 1, or as kura_descriptor_script_pubkey: branch out of range, an
 * index at or past 2^31); KURA_ERANGE / KURA_ENOMEM as
 * kura_watch_index_reserve; KURA_ECRYPTO (BIP32's invalid child). Scripts
 * added before a failure stay watched. */
int kura_watch_index_add_descriptor(const kura_ctx *ctx, kura_watch_index *idx,
                                    const kura_descriptor *desc, size_t branch, uint32_t first,
                                    uint32_t count, uint64_t value_base, kura_error *err);

/* Looks script[0..len) up. *found receives the number of entries whose
 * fingerprint matches (0 when none: the script is certainly not watched), and
 * values[0..min(*found, max)) their values. values may be NULL when max is 0.
 * Returns KURA_OK or KURA_EINVAL (NULL argument; *found is then 0). */
int kura_watch_index_find(const kura_watch_index *idx, uint64_t *values, size_t max,
                          size_t *found, const uint8_t *script, size_t len);

/* Fills *out (zeroed for a NULL idx). */
void kura_watch_index_stats(const kura_watch_index *idx, kura_watch_stats *out);

/* ---- watched outpoints ---- */

typedef struct kura_watch_outpoints kura_watch_outpoints;

/* As kura_watch_index_new, for outpoints (txid in internal byte order, vout). */
int kura_watch_outpoints_new(kura_watch_outpoints **out, const uint8_t key[KURA_WATCH_KEY_LEN]);
void kura_watch_outpoints_free(kura_watch_outpoints *set);
int kura_watch_outpoints_reserve(kura_watch_outpoints *set, size_t total);

/* Watches the outpoint (txid, vout) with value; the same pair again does
 * nothing. Returns as kura_watch_index_add. */
int kura_watch_outpoints_add(kura_watch_outpoints *set, const uint8_t txid[32], uint32_t vout,
                             uint64_t value);

/* Stops watching the outpoint (txid, vout) entered with value. Returns
 * KURA_OK, KURA_ENOTFOUND (no such entry; set unchanged) or KURA_EINVAL. The
 * table never shrinks. */
int kura_watch_outpoints_remove(kura_watch_outpoints *set, const uint8_t txid[32], uint32_t vout,
                                uint64_t value);

/* As kura_watch_index_find, for an outpoint. */
int kura_watch_outpoints_find(const kura_watch_outpoints *set, uint64_t *values, size_t max,
                              size_t *found, const uint8_t txid[32], uint32_t vout);

void kura_watch_outpoints_stats(const kura_watch_outpoints *set, kura_watch_stats *out);

/* ---- scanning ---- */

/* An output paying a watched script. */
typedef struct kura_watch_receipt {
    size_t tx_index;          /* the transaction's position in the block (0: the coinbase) */
    uint8_t txid[32];         /* internal byte order */
    uint32_t vout;
    uint64_t amount;          /* satoshis */
    const uint8_t *script_pubkey; /* into the scanned bytes */
    size_t script_pubkey_len;
    uint64_t value;           /* the watched script's value */
} kura_watch_receipt;

/* An input spending a watched outpoint, or an output that an earlier
 * transaction of the same block paid to a watched script. */
typedef struct kura_watch_spend {
    size_t tx_index;          /* the spending transaction's position in the block */
    uint8_t txid[32];         /* the spending transaction */
    uint32_t vin;             /* the input */
    uint8_t prev_txid[32];    /* the outpoint it spends */
    uint32_t prev_vout;
    size_t receipt;           /* KURA_WATCH_NONE: the outpoint is in the watched set and
                                 `value` is its value; else the index into receipts[] of the
                                 output (paid earlier in this block) being spent, and `value`
                                 is that receipt's value */
    uint64_t value;
} kura_watch_spend;

/* The result of a scan, reused from block to block (a scan empties it first
 * and grows its arrays as needed). Fields are read-only; pointers stay valid
 * until the next scan or kura_watch_result_free, and script_pubkey pointers
 * only as long as the scanned bytes. Receipts are in block order (by
 * transaction, then vout), spends likewise (by transaction, then vin). */
typedef struct kura_watch_result {
    kura_watch_receipt *receipts;
    size_t receipt_count;
    kura_watch_spend *spends;
    size_t spend_count;
    size_t txids_computed;    /* transactions hashed by the scan (those with a hit, when
                                 the block carried no txids) */
    int signals_rbf;          /* kura_watch_scan_tx: 1 if some input's sequence is below
                                 0xfffffffe (BIP125 opt-in); 0 after a block scan */
    struct kura_watch_scratch *scratch_; /* library-private */
} kura_watch_result;

/* A new empty result, or NULL if memory runs out. */
kura_watch_result *kura_watch_result_new(void);
/* Frees result. NULL is a no-op. */
void kura_watch_result_free(kura_watch_result *result);

/* Scans a parsed block (kura_block_parse, with or without
 * KURA_BLOCK_SKIP_MERKLE): every output's script is looked up in idx and
 * every input's outpoint (but the coinbase's) in outpoints, and also among
 * the outputs paying watched scripts earlier in the same block (a parent and
 * its child in one block). Each matching entry gives one receipt or spend
 * (normally one per hit; see "fingerprints" above). A transaction's txid is
 * taken from block->txids when present, else hashed only when the
 * transaction has a hit.
 *
 * idx or outpoints may be NULL (nothing of that kind is watched). Neither is
 * changed: the caller applies the result (adds the new outputs it accepts to
 * its outpoint set, removes the spent ones) after the scan.
 *
 * Returns KURA_OK; KURA_EINVAL (result or block NULL); KURA_ENOMEM (result
 * is then empty). */
int kura_watch_scan_block(kura_watch_result *result, const kura_watch_index *idx,
                          const kura_watch_outpoints *outpoints, const kura_block *block);

/* Scans one serialised transaction (a mempool transaction: ZMQ rawtx or
 * getrawtransaction), checked as kura_block_tx_locate; tx_index is 0 in
 * every record, and signals_rbf is set. Returns KURA_OK; KURA_EINVAL;
 * KURA_EDATA / KURA_ERANGE for bytes that are not one transaction (err says
 * why; result empty); KURA_ENOMEM. */
int kura_watch_scan_tx(kura_watch_result *result, const kura_watch_index *idx,
                       const kura_watch_outpoints *outpoints, const uint8_t *bytes, size_t len,
                       kura_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KURA_WATCH_H */
