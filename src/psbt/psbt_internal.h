/*
 * src/psbt/psbt_internal.h — helpers shared by the PSBT module's files; not API.
 *
 * Arrays in kura_psbt are exactly `count` entries long as far as callers are
 * concerned, but their allocation always holds kura_psbt_i_cap(count) entries
 * (the next power of two), so appending is amortised O(1) without a capacity
 * field in the public struct. Every array in a kura_psbt is allocated by
 * kura_psbt_i_grow or with kura_psbt_i_cap entries.
 */
#ifndef KURA_PSBT_INTERNAL_H
#define KURA_PSBT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "kura/psbt.h"

/* Capacity held for `count` entries: the next power of two (0 for 0). */
size_t kura_psbt_i_cap(size_t count);

/* Makes room for one more entry in *arr (count entries of elem bytes), keeping
 * the power-of-two capacity. The new slot (index count) is zeroed. Returns
 * KURA_OK or KURA_ENOMEM (*arr unchanged). */
int kura_psbt_i_grow(void **arr, size_t count, size_t elem);

/* Inserts a zeroed slot at pos (0..count) into *arr, moving later entries up,
 * and increments *count. Returns KURA_OK or KURA_ENOMEM (nothing changed). */
int kura_psbt_i_insert(void **arr, size_t *count, size_t elem, size_t pos);

/* A BIP174 public key (33 bytes 02/03, or 65 bytes 04/06/07) that is a point
 * on the curve; a BIP340 x-only key (32 bytes) that is the x of a point. */
bool kura_psbt_i_pubkey_valid(const uint8_t *pubkey, size_t len);
bool kura_psbt_i_xonly_valid(const uint8_t *xonly);

/* Orders byte strings: memcmp on the common length, then shorter first. */
int kura_psbt_i_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* The key of a keyed entry, in up to two parts compared in turn (a tap
 * script signature's key is an x-only key and a leaf hash), and the entry's
 * position. */
typedef struct kura_psbt_i_key {
    const uint8_t *a;
    size_t alen;
    const uint8_t *b;
    size_t blen;
    size_t pos;
} kura_psbt_i_key;

/* qsort/bsearch order of kura_psbt_i_key. */
int kura_psbt_i_key_cmp(const void *x, const void *y);

/* Marks which of src's n_src keys dst's n_dst keys lack: *fresh receives a
 * malloc'd array of n_src flags (caller frees; NULL when n_src is 0). key(arr,
 * i) gives entry i's key. O((n_dst + n_src) log n_dst): no input makes the
 * combiner quadratic. Returns KURA_OK or KURA_ENOMEM. */
int kura_psbt_i_mark_fresh(bool **fresh, const void *dst, size_t n_dst, const void *src,
                           size_t n_src, kura_psbt_i_key (*key)(const void *arr, size_t i));

/* Frees what an entry/map owns and zeroes it. */
void kura_psbt_i_keyorigin_clear(kura_psbt_keyorigin *o);
void kura_psbt_i_bytes_clear(kura_bytes *b);
void kura_psbt_i_tap_bip32_clear(kura_psbt_tap_bip32 *t);
void kura_psbt_i_input_clear(kura_psbt_input *in);
void kura_psbt_i_output_clear(kura_psbt_output *out);
/* Frees the witness stack of an input's final_script_witness. */
void kura_psbt_i_witness_free(kura_bytes *items, size_t count);
/* Frees the non-final fields of an input, as the finalizer must (BIP174):
 * everything but the UTXOs, the final fields, the v2 transaction fields and
 * the unknown/proprietary records. */
void kura_psbt_i_input_clear_nonfinal(kura_psbt_input *in);

/* A new, empty PSBT of `version` with no inputs or outputs, or NULL. */
kura_psbt *kura_psbt_i_alloc(uint32_t version);

/* Sets *dst to a copy of data[0..len) (frees the old bytes). Returns KURA_OK
 * or KURA_ENOMEM (dst unchanged). */
int kura_psbt_i_bytes_set(kura_bytes *dst, const uint8_t *data, size_t len);

/* Copies a path into o (frees the old one). Returns KURA_OK or KURA_ENOMEM. */
int kura_psbt_i_keyorigin_set(kura_psbt_keyorigin *o, const uint8_t fingerprint[4],
                              const uint32_t *path, size_t path_len);

/* Writes the legacy-form unsigned transaction for psbt into b: tx_version,
 * each input's outpoint with an empty scriptSig and its sequence (0 for
 * every input when zero_sequences, BIP370's unique identifier), each output,
 * and `locktime`. */
void kura_psbt_i_write_unsigned_tx(kura_buf *b, const kura_psbt *psbt, uint32_t locktime,
                                   bool zero_sequences);

/* BIP371: the leaves' depths, in depth-first order, describe a complete
 * binary tree (every node has two children; nothing after the tree is full). */
bool kura_psbt_i_tap_tree_complete(const kura_psbt_tap_leaf *leaves, size_t count);

/* ---- scripts ---- */

/* True when the script pushes exactly the key[0..key_len) as one item. */
bool kura_psbt_i_script_has_push(const uint8_t *s, size_t len, const uint8_t *key,
                                 size_t key_len);

#define KURA_PSBT_MULTISIG_MAX 20  /* keys in a CHECKMULTISIG script */
#define KURA_PSBT_MULTI_A_MAX 999  /* keys in a multi_a leaf (BIP387) */

/* Parses OP_m <key>... OP_n OP_CHECKMULTISIG (keys 33 or 65 bytes, 1 <= m <=
 * n <= 20, small numbers or minimal pushes). keys[i] point into s. Also
 * accepts "<key> OP_CHECKSIG" as m = n = 1 with *single set. */
bool kura_psbt_i_parse_multisig(const uint8_t *s, size_t len, unsigned *m, size_t *n,
                                const uint8_t **keys, size_t *key_lens, bool *single);

/* Parses a tapscript <x1> OP_CHECKSIG [<xi> OP_CHECKSIGADD]... <m> OP_NUMEQUAL
 * (BIP387 multi_a, 1 <= m <= n <= 999) or "<x> OP_CHECKSIG" (m = n = 1).
 * *keys receives a malloc'd array of n pointers into s (caller frees).
 * Returns false (and *keys NULL) when the script is neither or on no memory. */
bool kura_psbt_i_parse_multi_a(const uint8_t *s, size_t len, unsigned *m, size_t *n,
                               const uint8_t ***keys);

/* ---- what an input spends ---- */

typedef enum kura_psbt_spend_kind {
    KURA_PSBT_SPEND_P2PKH = 1,
    KURA_PSBT_SPEND_P2SH,       /* legacy P2SH: script is the redeem script */
    KURA_PSBT_SPEND_P2WPKH,     /* also nested in P2SH (nested = 1) */
    KURA_PSBT_SPEND_P2WSH,      /* also nested in P2SH; script is the witness script */
    KURA_PSBT_SPEND_P2TR
} kura_psbt_spend_kind;

typedef struct kura_psbt_spend {
    kura_psbt_spend_kind kind;
    int nested;                 /* wrapped in P2SH (the redeem script is the witness program) */
    const kura_txout *spent;    /* the output spent (points into the PSBT) */
    const uint8_t *program;     /* key hash (20), script hash (20/32) or output key (32) */
    size_t program_len;
    const uint8_t *script;      /* P2SH: redeem script; P2WSH: witness script; else NULL */
    size_t script_len;
} kura_psbt_spend;

/* The output input i spends, from its witness UTXO or its non-witness UTXO.
 * Checks (BIP174 signer): a non-witness UTXO's txid is the outpoint's, it has
 * the output, and that output equals any witness UTXO. *out is NULL when the
 * input has neither (returns KURA_OK); KURA_EDATA on a failed check. */
int kura_psbt_i_spent_output(const kura_txout **out, const kura_psbt *psbt, size_t i,
                             kura_error *err);

/* Resolves how input i is spent and checks its scripts against the UTXO
 * (BIP174 signer checks; BIP341 for taproot). Returns KURA_OK; KURA_EDATA
 * with a message naming the input. */
int kura_psbt_i_resolve(kura_psbt_spend *sp, const kura_psbt *psbt, size_t i, kura_error *err);

/* As kura_psbt_i_resolve, with the spent output already found (and checked)
 * by kura_psbt_i_spent_output; spent NULL means the input has no UTXO. */
int kura_psbt_i_resolve_spent(kura_psbt_spend *sp, const kura_psbt *psbt, size_t i,
                              const kura_txout *spent, kura_error *err);

#endif /* KURA_PSBT_INTERNAL_H */
