/*
 * kura/psbt.h — Partially Signed Bitcoin Transactions: BIP174 (version 0),
 * BIP370 (version 2) and the BIP371 taproot fields.
 *
 * One kura_psbt holds a parsed PSBT as typed fields, plus every key-value
 * record it does not interpret (unknown types and proprietary 0xFC records),
 * kept byte for byte. The roles of BIP174 are all here:
 *
 *   creator    kura_psbt_from_tx
 *   updater    kura_psbt_input_set_... / kura_psbt_output_set_... / _add_...
 *   signer     kura_psbt_sign_input (one key, one input),
 *              kura_psbt_sign_bip32 (an extended private key, every input)
 *   combiner   kura_psbt_combine
 *   finalizer  kura_psbt_finalize, kura_psbt_finalize_input
 *   extractor  kura_psbt_extract
 *
 * and kura's own records ride in global proprietary fields
 * (kura_psbt_proprietary_get/set/remove).
 *
 * Serialisation order. Each map is written as: the known fields in ascending
 * key type order (within one type, in the order the entries are held), then
 * the unknown and proprietary records in the order they were read or added.
 * Entries parsed keep their order; entries added by the updater and the signer
 * are placed in key order among those of their type (as Bitcoin Core keeps
 * them); the combiner appends the other PSBT's new entries after its own (as
 * the BIP174 combiner vector shows). A PSBT written this way by another
 * implementation — every BIP174, BIP370 and BIP371 test vector is — re-
 * serialises byte for byte.
 *
 * The struct is documented so that callers (the signer's check) can read every
 * field directly. Treat it as read-only: change it only through the functions
 * here, which keep its invariants (no duplicate keys, lengths in range).
 *
 * Hard limits, checked before anything is allocated: a whole PSBT of at most
 * KURA_PSBT_MAX_SIZE bytes; a key of at most KURA_PSBT_MAX_KEY bytes; a value
 * of at most KURA_PSBT_MAX_VALUE bytes (a proprietary value at most
 * KURA_PSBT_MAX_PROPRIETARY_VALUE); at most KURA_PSBT_MAX_RECORDS key-value
 * records in all; at most KURA_TX_MAX_INPUTS inputs and KURA_TX_MAX_OUTPUTS
 * outputs. Exceeding one is KURA_ERANGE.
 *
 * Only compressed public keys can sign (kura never makes uncompressed ones);
 * 65-byte keys in a PSBT parse and round-trip but are never signed for.
 */
#ifndef KURA_PSBT_H
#define KURA_PSBT_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"
#include "kura/keys.h"
#include "kura/tx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ---- */

#define KURA_PSBT_MAX_SIZE (16u * 1024u * 1024u)   /* a whole serialised PSBT */
#define KURA_PSBT_MAX_KEY 8192u                    /* one key (a control block is at most 4129) */
#define KURA_PSBT_MAX_VALUE 4000000u               /* one value (a non-witness UTXO is a whole tx) */
#define KURA_PSBT_MAX_PROPRIETARY_VALUE (1024u * 1024u) /* one proprietary (0xFC) value */
#define KURA_PSBT_MAX_RECORDS 1000000u             /* key-value records in the whole PSBT */

/* ---- key types (BIP174, BIP370, BIP371) ---- */

#define KURA_PSBT_GLOBAL_UNSIGNED_TX 0x00
#define KURA_PSBT_GLOBAL_XPUB 0x01
#define KURA_PSBT_GLOBAL_TX_VERSION 0x02       /* v2 */
#define KURA_PSBT_GLOBAL_FALLBACK_LOCKTIME 0x03 /* v2 */
#define KURA_PSBT_GLOBAL_INPUT_COUNT 0x04      /* v2 */
#define KURA_PSBT_GLOBAL_OUTPUT_COUNT 0x05     /* v2 */
#define KURA_PSBT_GLOBAL_TX_MODIFIABLE 0x06    /* v2 */
#define KURA_PSBT_GLOBAL_VERSION 0xFB
#define KURA_PSBT_PROPRIETARY 0xFC             /* in every map */

#define KURA_PSBT_IN_NON_WITNESS_UTXO 0x00
#define KURA_PSBT_IN_WITNESS_UTXO 0x01
#define KURA_PSBT_IN_PARTIAL_SIG 0x02
#define KURA_PSBT_IN_SIGHASH_TYPE 0x03
#define KURA_PSBT_IN_REDEEM_SCRIPT 0x04
#define KURA_PSBT_IN_WITNESS_SCRIPT 0x05
#define KURA_PSBT_IN_BIP32_DERIVATION 0x06
#define KURA_PSBT_IN_FINAL_SCRIPTSIG 0x07
#define KURA_PSBT_IN_FINAL_SCRIPTWITNESS 0x08
#define KURA_PSBT_IN_RIPEMD160 0x0A
#define KURA_PSBT_IN_SHA256 0x0B
#define KURA_PSBT_IN_HASH160 0x0C
#define KURA_PSBT_IN_HASH256 0x0D
#define KURA_PSBT_IN_PREVIOUS_TXID 0x0E            /* v2 */
#define KURA_PSBT_IN_OUTPUT_INDEX 0x0F             /* v2 */
#define KURA_PSBT_IN_SEQUENCE 0x10                 /* v2 */
#define KURA_PSBT_IN_REQUIRED_TIME_LOCKTIME 0x11   /* v2 */
#define KURA_PSBT_IN_REQUIRED_HEIGHT_LOCKTIME 0x12 /* v2 */
#define KURA_PSBT_IN_TAP_KEY_SIG 0x13
#define KURA_PSBT_IN_TAP_SCRIPT_SIG 0x14
#define KURA_PSBT_IN_TAP_LEAF_SCRIPT 0x15
#define KURA_PSBT_IN_TAP_BIP32_DERIVATION 0x16
#define KURA_PSBT_IN_TAP_INTERNAL_KEY 0x17
#define KURA_PSBT_IN_TAP_MERKLE_ROOT 0x18

#define KURA_PSBT_OUT_REDEEM_SCRIPT 0x00
#define KURA_PSBT_OUT_WITNESS_SCRIPT 0x01
#define KURA_PSBT_OUT_BIP32_DERIVATION 0x02
#define KURA_PSBT_OUT_AMOUNT 0x03 /* v2 */
#define KURA_PSBT_OUT_SCRIPT 0x04 /* v2 */
#define KURA_PSBT_OUT_TAP_INTERNAL_KEY 0x05
#define KURA_PSBT_OUT_TAP_TREE 0x06
#define KURA_PSBT_OUT_TAP_BIP32_DERIVATION 0x07

/* PSBT_GLOBAL_TX_MODIFIABLE bits (BIP370). */
#define KURA_PSBT_TXMOD_INPUTS 0x01
#define KURA_PSBT_TXMOD_OUTPUTS 0x02
#define KURA_PSBT_TXMOD_SIGHASH_SINGLE 0x04

/* BIP341 leaf version of tapscript (BIP342). */
#define KURA_TAPSCRIPT_LEAF_VERSION 0xC0

/* ---- the data model ---- */

/* A key-value record kept exactly as read: an unknown type or a proprietary
 * (0xFC) record. key and value point into one allocation the PSBT owns. */
typedef struct kura_psbt_kv {
    uint8_t *key;     /* the whole key: CompactSize key type || key data */
    size_t key_len;   /* >= 1 */
    uint8_t *value;   /* NULL when value_len is 0 */
    size_t value_len;
} kura_psbt_kv;

/* Where a key comes from: the master key's fingerprint and the derivation path. */
typedef struct kura_psbt_keyorigin {
    uint8_t fingerprint[4]; /* first 4 bytes of HASH160 of the master public key */
    uint32_t *path;         /* owned; NULL when path_len is 0; hardened has bit 31 set */
    size_t path_len;
} kura_psbt_keyorigin;

/* PSBT_GLOBAL_XPUB. */
typedef struct kura_psbt_xpub {
    uint8_t xpub[78];          /* BIP32 serialisation (version .. key), no checksum */
    kura_psbt_keyorigin origin;
} kura_psbt_xpub;

/* PSBT_IN_BIP32_DERIVATION / PSBT_OUT_BIP32_DERIVATION. */
typedef struct kura_psbt_bip32 {
    uint8_t pubkey[65];        /* 33 (compressed) or 65 bytes used */
    size_t pubkey_len;
    kura_psbt_keyorigin origin;
} kura_psbt_bip32;

/* PSBT_IN_PARTIAL_SIG: a DER signature followed by its sighash type byte. */
typedef struct kura_psbt_partial_sig {
    uint8_t pubkey[65]; /* 33 or 65 bytes used */
    size_t pubkey_len;
    uint8_t sig[73];    /* 1..73 bytes used (72-byte DER + type is the longest) */
    size_t sig_len;
} kura_psbt_partial_sig;

/* PSBT_IN_RIPEMD160 / SHA256 / HASH160 / HASH256: a hash and its preimage
 * (checked to match when parsed or set). */
typedef struct kura_psbt_preimage {
    uint8_t type;       /* one of KURA_PSBT_IN_RIPEMD160 .. KURA_PSBT_IN_HASH256 */
    uint8_t hash[32];   /* 20 bytes used for RIPEMD160 and HASH160, else 32 */
    size_t hash_len;
    kura_bytes preimage;
} kura_psbt_preimage;

/* PSBT_IN_TAP_SCRIPT_SIG: a BIP340 signature by xonly for the leaf leaf_hash. */
typedef struct kura_psbt_tap_script_sig {
    uint8_t xonly[32];
    uint8_t leaf_hash[32];
    uint8_t sig[65];    /* 64 bytes (SIGHASH_DEFAULT) or 65 (signature || type) */
    size_t sig_len;
} kura_psbt_tap_script_sig;

/* PSBT_IN_TAP_LEAF_SCRIPT: a leaf script and the control block that proves it. */
typedef struct kura_psbt_tap_leaf_script {
    kura_bytes control_block; /* 33 + 32k bytes, 0 <= k <= 128 */
    kura_bytes script;
    uint8_t leaf_version;     /* the value's last byte (0xC0 for tapscript) */
} kura_psbt_tap_leaf_script;

/* PSBT_IN_TAP_BIP32_DERIVATION / PSBT_OUT_TAP_BIP32_DERIVATION. */
typedef struct kura_psbt_tap_bip32 {
    uint8_t xonly[32];
    uint8_t *leaf_hashes;     /* owned, leaf_hash_count * 32 bytes; NULL when 0 */
    size_t leaf_hash_count;   /* leaves the key appears in; 0 = internal key only */
    kura_psbt_keyorigin origin;
} kura_psbt_tap_bip32;

/* One leaf of PSBT_OUT_TAP_TREE, in depth-first order. */
typedef struct kura_psbt_tap_leaf {
    uint8_t depth;        /* 0..128 */
    uint8_t leaf_version; /* even */
    kura_bytes script;
} kura_psbt_tap_leaf;

typedef struct kura_psbt_input {
    /* The outpoint spent and the sequence. Version 0: the unsigned tx's input;
     * version 2: PSBT_IN_PREVIOUS_TXID / OUTPUT_INDEX / SEQUENCE. */
    uint8_t prev_txid[32];       /* internal byte order */
    uint32_t prev_vout;
    uint32_t sequence;           /* 0xffffffff when a v2 input has none */
    int has_sequence;            /* v2: PSBT_IN_SEQUENCE present (ignored for v0) */
    /* BIP370 lock time requirements (v2 only). */
    int has_required_time_locktime;
    uint32_t required_time_locktime;   /* >= 500000000 */
    int has_required_height_locktime;
    uint32_t required_height_locktime; /* 1 .. 499999999 */

    kura_tx *non_witness_utxo;   /* owned; NULL when absent */
    int has_witness_utxo;
    kura_txout witness_utxo;     /* the spent output (script owned) */
    kura_psbt_partial_sig *partial_sigs; /* owned array */
    size_t partial_sig_count;
    int has_sighash_type;
    uint32_t sighash_type;
    int has_redeem_script;
    kura_bytes redeem_script;
    int has_witness_script;
    kura_bytes witness_script;
    kura_psbt_bip32 *bip32;      /* owned array */
    size_t bip32_count;
    int has_final_script_sig;
    kura_bytes final_script_sig;
    int has_final_script_witness;
    kura_bytes *final_script_witness; /* owned array of owned items */
    size_t final_script_witness_count;
    kura_psbt_preimage *preimages; /* owned array */
    size_t preimage_count;
    uint8_t tap_key_sig[65];     /* PSBT_IN_TAP_KEY_SIG */
    size_t tap_key_sig_len;      /* 0 (absent), 64 or 65 */
    kura_psbt_tap_script_sig *tap_script_sigs;
    size_t tap_script_sig_count;
    kura_psbt_tap_leaf_script *tap_leaf_scripts;
    size_t tap_leaf_script_count;
    kura_psbt_tap_bip32 *tap_bip32;
    size_t tap_bip32_count;
    int has_tap_internal_key;
    uint8_t tap_internal_key[32];
    int has_tap_merkle_root;
    uint8_t tap_merkle_root[32];
    kura_psbt_kv *unknowns;      /* unknown and proprietary records, in order */
    size_t unknown_count;
} kura_psbt_input;

typedef struct kura_psbt_output {
    /* The output. Version 0: the unsigned tx's output; version 2:
     * PSBT_OUT_AMOUNT / PSBT_OUT_SCRIPT. */
    uint64_t amount;             /* satoshis, <= KURA_MAX_MONEY */
    kura_bytes script_pubkey;
    int has_redeem_script;
    kura_bytes redeem_script;
    int has_witness_script;
    kura_bytes witness_script;
    kura_psbt_bip32 *bip32;
    size_t bip32_count;
    int has_tap_internal_key;
    uint8_t tap_internal_key[32];
    kura_psbt_tap_leaf *tap_tree; /* PSBT_OUT_TAP_TREE leaves; count 0 = absent */
    size_t tap_tree_count;
    kura_psbt_tap_bip32 *tap_bip32;
    size_t tap_bip32_count;
    kura_psbt_kv *unknowns;
    size_t unknown_count;
} kura_psbt_output;

typedef struct kura_psbt {
    uint32_t version;          /* PSBT version: 0 or 2 */
    int has_version_field;     /* v0: PSBT_GLOBAL_VERSION (= 0) was present; v2 always writes it */
    uint32_t tx_version;       /* v0: the unsigned tx's version; v2: PSBT_GLOBAL_TX_VERSION */
    uint32_t locktime;         /* v0: the unsigned tx's nLockTime; v2: PSBT_GLOBAL_FALLBACK_LOCKTIME
                                * (0 when absent; see kura_psbt_locktime for the tx's) */
    int has_fallback_locktime; /* v2 only */
    int has_tx_modifiable;     /* v2 only */
    uint8_t tx_modifiable;     /* KURA_PSBT_TXMOD_* bits */
    kura_psbt_xpub *xpubs;
    size_t xpub_count;
    kura_psbt_kv *unknowns;    /* global unknown and proprietary records, in order */
    size_t unknown_count;
    kura_psbt_input *inputs;
    size_t input_count;
    kura_psbt_output *outputs;
    size_t output_count;
} kura_psbt;

/* ---- life cycle, parse, serialise ---- */

/* Frees psbt and everything it owns (wiping nothing secret: a PSBT holds no
 * private keys). NULL is a no-op. */
void kura_psbt_free(kura_psbt *psbt);

/* Creator (BIP174 "Creator", BIP370 "Creator"). Makes a PSBT of `version`
 * (0 or 2) for the unsigned transaction tx, with empty input and output maps.
 * For version 2 the fallback lock time is written when tx->locktime is not 0
 * and each sequence when it is not 0xffffffff.
 *   out: receives the new PSBT (caller frees with kura_psbt_free); NULL on failure.
 *   tx: not changed; every scriptSig and witness must be empty.
 * Returns KURA_OK; KURA_EINVAL (NULL argument, version not 0 or 2);
 * KURA_EDATA (an input has a scriptSig or witness, an amount over
 * KURA_MAX_MONEY; message in err); KURA_ERANGE (over the limits); KURA_ENOMEM. */
int kura_psbt_from_tx(kura_psbt **out, const kura_tx *tx, uint32_t version, kura_error *err);

/* Parses a serialised PSBT (version 0 or 2) from bytes[0..len).
 * Refused with KURA_EDATA, each with a message naming the map and key type:
 * a bad magic; truncation; bytes after the last map; a malformed key type;
 * a duplicate key in a map; a key whose key data has the wrong length for its
 * type; a value of the wrong form or length; a version other than 0 or 2;
 * v0 without PSBT_GLOBAL_UNSIGNED_TX or with a v2-only field; v2 with
 * PSBT_GLOBAL_UNSIGNED_TX or missing a required field; an unsigned tx that is
 * not in the legacy form or has a scriptSig; input/output maps fewer than the
 * transaction's counts; BIP370 lock time ranges; BIP371 lengths (x-only keys
 * 32 bytes, signatures 64/65, control blocks 33+32k up to 4129); an
 * incomplete or malformed taproot tree; a preimage that does not hash to its
 * key; an amount over KURA_MAX_MONEY. KURA_ERANGE: over a hard limit.
 *   out: receives the PSBT (caller frees with kura_psbt_free); NULL on failure.
 *   err: may be NULL; receives the reason ("psbt: input 0: duplicate key 0x06").
 * Returns KURA_OK, KURA_EDATA, KURA_ERANGE, KURA_EINVAL (out NULL, bytes NULL
 * with len > 0) or KURA_ENOMEM. */
int kura_psbt_parse(kura_psbt **out, const uint8_t *bytes, size_t len, kura_error *err);

/* As kura_psbt_parse, from base64 text b64[0..b64_len) (the original base64
 * alphabet with '=' padding, no whitespace). A malformed base64 string is
 * KURA_EDATA; text that would decode to over KURA_PSBT_MAX_SIZE is KURA_ERANGE
 * (checked before decoding). */
int kura_psbt_from_base64(kura_psbt **out, const char *b64, size_t b64_len, kura_error *err);

/* Serialises psbt into a new buffer.
 *   out: receives the bytes (caller frees with free()); NULL on failure.
 *   out_len: receives their count; 0 on failure.
 * Returns KURA_OK; KURA_EINVAL (NULL argument); KURA_ERANGE (the result would
 * exceed KURA_PSBT_MAX_SIZE, so no kura parser would read it); KURA_ENOMEM. */
int kura_psbt_serialize(uint8_t **out, size_t *out_len, const kura_psbt *psbt);

/* Serialises psbt as base64 (original alphabet, padded) into a new
 * NUL-terminated string (caller frees with free()); *out_len (may be NULL)
 * gets its length without the NUL. Returns as kura_psbt_serialize. */
int kura_psbt_to_base64(char **out, size_t *out_len, const kura_psbt *psbt);

/* Deep copy into *out (caller frees; NULL on failure). Returns KURA_OK,
 * KURA_EINVAL, KURA_ERANGE (over the limits) or KURA_ENOMEM. */
int kura_psbt_clone(kura_psbt **out, const kura_psbt *psbt);

/* ---- the transaction ---- */

/* The lock time the transaction gets. v0: the unsigned tx's. v2: BIP370
 * "Determining Lock Time": if no input has a required lock time, the fallback
 * (or 0); otherwise the largest required lock time of the kind (height or
 * time) that every input with a requirement accepts, height when both are.
 * Returns KURA_OK; KURA_EDATA when one input needs a height and another a time
 * (no lock time satisfies both; *out 0); KURA_EINVAL. */
int kura_psbt_locktime(uint32_t *out, const kura_psbt *psbt, kura_error *err);

/* Builds the unsigned transaction (no scriptSigs or witnesses) into *out,
 * which the caller frees with kura_tx_free; NULL on failure. For v2 the lock
 * time is kura_psbt_locktime's and a missing sequence is 0xffffffff.
 * Returns KURA_OK, KURA_EDATA (lock time cannot be determined), KURA_EINVAL,
 * KURA_ERANGE or KURA_ENOMEM. */
int kura_psbt_unsigned_tx(kura_tx **out, const kura_psbt *psbt, kura_error *err);

/* The PSBT's unique identifier (BIP370 "Unique Identification"), internal
 * byte order: for v0 the unsigned tx's txid; for v2 the txid of the unsigned
 * tx with every sequence set to 0. Returns KURA_OK, KURA_EDATA (v2 lock time
 * cannot be determined; out zeroed) or KURA_EINVAL. */
int kura_psbt_unique_id(uint8_t out[32], const kura_psbt *psbt, kura_error *err);

/* Converts psbt in place to `version` (0 or 2; converting to its own version
 * does nothing). v0 -> v2 (BIP370): the unsigned tx becomes the global and
 * per-input/per-output fields (fallback lock time when not 0, sequences when
 * not 0xffffffff). v2 -> v0: the unsigned tx is built with the determined lock
 * time; PSBT_GLOBAL_TX_MODIFIABLE and the inputs' required lock times, which
 * v0 cannot hold, are dropped. Every other field is kept. v0 -> v2 -> v0
 * gives back the same bytes. Returns KURA_OK; KURA_EDATA (v2 lock time cannot
 * be determined; psbt unchanged); KURA_EINVAL (NULL, bad version). */
int kura_psbt_set_version(kura_psbt *psbt, uint32_t version, kura_error *err);

/* ---- proprietary records (global map) ----
 *
 * A proprietary key is 0xFC || CompactSize(len) identifier || CompactSize
 * subtype || keydata (BIP174). kura's own records use the identifier "kura".
 * identifier may be NULL when identifier_len is 0, keydata likewise. */

/* Finds the global proprietary record (identifier, subtype, keydata).
 *   value, value_len: receive a pointer into psbt (valid until psbt is changed
 *     or freed) and the length; NULL and 0 when not found.
 * Returns KURA_OK, KURA_ENOTFOUND or KURA_EINVAL. */
int kura_psbt_proprietary_get(const uint8_t **value, size_t *value_len, const kura_psbt *psbt,
                              const uint8_t *identifier, size_t identifier_len, uint64_t subtype,
                              const uint8_t *keydata, size_t keydata_len);

/* Sets the value of that record (copied): replaced in place when present, else
 * appended after the other global unknown/proprietary records.
 * Returns KURA_OK; KURA_EINVAL (NULL pointer with non-zero length);
 * KURA_ERANGE (value over KURA_PSBT_MAX_PROPRIETARY_VALUE, key over
 * KURA_PSBT_MAX_KEY); KURA_ENOMEM. psbt is unchanged on failure. */
int kura_psbt_proprietary_set(kura_psbt *psbt, const uint8_t *identifier, size_t identifier_len,
                              uint64_t subtype, const uint8_t *keydata, size_t keydata_len,
                              const uint8_t *value, size_t value_len);

/* Removes that record. Returns KURA_OK, KURA_ENOTFOUND or KURA_EINVAL. */
int kura_psbt_proprietary_remove(kura_psbt *psbt, const uint8_t *identifier,
                                 size_t identifier_len, uint64_t subtype, const uint8_t *keydata,
                                 size_t keydata_len);

/* Splits a proprietary record's key (for walking psbt->unknowns). The out
 * pointers point into rec. Returns KURA_OK, or KURA_EDATA when rec is not a
 * well-formed 0xFC key (outputs then NULL/0), or KURA_EINVAL. */
int kura_psbt_proprietary_key_decode(const uint8_t **identifier, size_t *identifier_len,
                                     uint64_t *subtype, const uint8_t **keydata,
                                     size_t *keydata_len, const kura_psbt_kv *rec);

/* ---- updater ----
 *
 * Each function sets one field (copying its arguments) of input or output
 * `index`, replacing the field (or, for keyed fields, the entry with the same
 * key) when present. Keyed entries are inserted in key order. Each returns
 * KURA_OK; KURA_EINVAL (NULL psbt or pointer, index out of range, a length or
 * value the field cannot hold); KURA_EDATA where a check is named; KURA_ENOMEM.
 * psbt is unchanged on failure. */

/* PSBT_IN_NON_WITNESS_UTXO: prev must be the transaction the input spends
 * (its txid equals the input's prev_txid and it has output prev_vout), else
 * KURA_EDATA (message in err). */
int kura_psbt_input_set_non_witness_utxo(kura_psbt *psbt, size_t index, const kura_tx *prev,
                                         kura_error *err);
/* PSBT_IN_WITNESS_UTXO. amount <= KURA_MAX_MONEY. */
int kura_psbt_input_set_witness_utxo(kura_psbt *psbt, size_t index, uint64_t amount,
                                     const uint8_t *script_pubkey, size_t script_pubkey_len);
int kura_psbt_input_set_redeem_script(kura_psbt *psbt, size_t index, const uint8_t *script,
                                      size_t len);
int kura_psbt_input_set_witness_script(kura_psbt *psbt, size_t index, const uint8_t *script,
                                       size_t len);
/* PSBT_IN_SIGHASH_TYPE (any 32-bit value; the signer decides what it accepts). */
int kura_psbt_input_set_sighash_type(kura_psbt *psbt, size_t index, uint32_t sighash_type);
/* PSBT_IN_BIP32_DERIVATION. pubkey_len 33 or 65; path may be NULL when path_len is 0. */
int kura_psbt_input_add_bip32(kura_psbt *psbt, size_t index, const uint8_t *pubkey,
                              size_t pubkey_len, const uint8_t fingerprint[4],
                              const uint32_t *path, size_t path_len);
int kura_psbt_input_set_tap_internal_key(kura_psbt *psbt, size_t index, const uint8_t xonly[32]);
int kura_psbt_input_set_tap_merkle_root(kura_psbt *psbt, size_t index, const uint8_t root[32]);
/* PSBT_IN_TAP_LEAF_SCRIPT. control_len 33 + 32k (k <= 128). */
int kura_psbt_input_add_tap_leaf_script(kura_psbt *psbt, size_t index, const uint8_t *control,
                                        size_t control_len, const uint8_t *script,
                                        size_t script_len, uint8_t leaf_version);
/* PSBT_IN_TAP_BIP32_DERIVATION. leaf_hashes is leaf_hash_count * 32 bytes. */
int kura_psbt_input_add_tap_bip32(kura_psbt *psbt, size_t index, const uint8_t xonly[32],
                                  const uint8_t *leaf_hashes, size_t leaf_hash_count,
                                  const uint8_t fingerprint[4], const uint32_t *path,
                                  size_t path_len);

int kura_psbt_output_set_redeem_script(kura_psbt *psbt, size_t index, const uint8_t *script,
                                       size_t len);
int kura_psbt_output_set_witness_script(kura_psbt *psbt, size_t index, const uint8_t *script,
                                        size_t len);
int kura_psbt_output_add_bip32(kura_psbt *psbt, size_t index, const uint8_t *pubkey,
                               size_t pubkey_len, const uint8_t fingerprint[4],
                               const uint32_t *path, size_t path_len);
int kura_psbt_output_set_tap_internal_key(kura_psbt *psbt, size_t index,
                                          const uint8_t xonly[32]);
/* PSBT_OUT_TAP_TREE: leaves[0..count) in depth-first order; KURA_EDATA unless
 * they form a complete binary tree (BIP371), depths <= 128, versions even. */
int kura_psbt_output_set_tap_tree(kura_psbt *psbt, size_t index, const kura_psbt_tap_leaf *leaves,
                                  size_t count, kura_error *err);
int kura_psbt_output_add_tap_bip32(kura_psbt *psbt, size_t index, const uint8_t xonly[32],
                                   const uint8_t *leaf_hashes, size_t leaf_hash_count,
                                   const uint8_t fingerprint[4], const uint32_t *path,
                                   size_t path_len);

/* PSBT_GLOBAL_XPUB: xpub is the 78-byte BIP32 serialisation. */
int kura_psbt_add_xpub(kura_psbt *psbt, const uint8_t xpub[78], const uint8_t fingerprint[4],
                       const uint32_t *path, size_t path_len);

/* ---- signer ---- */

/* Signing policy flags. By default (0) the signer accepts only SIGHASH_ALL
 * (and SIGHASH_DEFAULT for taproot): an input whose PSBT_IN_SIGHASH_TYPE asks
 * for anything else is refused. KURA_PSBT_SIGN_ANY_SIGHASH also accepts NONE,
 * SINGLE and ANYONECANPAY combinations. Values outside the standard types are
 * always refused. */
#define KURA_PSBT_SIGN_ANY_SIGHASH 0x1u

/* KURA_PSBT_SIGN_VERIFY: verify every new signature against the public key it
 * is filed under (the recorded key; for a taproot key path the output key)
 * before adding it, and refuse (KURA_EDATA, nothing added) if one does not
 * verify. This is the fault-attack check (a glitched signature with a
 * deterministic nonce can give away the key; BIP340 recommends verifying) and
 * the proof that a derived key is the recorded key. It costs one verification
 * per signature, about as much again as the signature. Without it (the
 * default) no signature is verified: what each function below says it
 * checks still holds, and where the proof of the derived key moves is said
 * under kura_psbt_sign_bip32. A signer that holds keys of value in a device
 * (kura-cold) passes it. */
#define KURA_PSBT_SIGN_VERIFY 0x2u

/* The sighash type input `index` is signed with: its PSBT_IN_SIGHASH_TYPE, or
 * SIGHASH_ALL (KURA_SIGHASH_DEFAULT for a taproot input, that is one whose
 * spent output is P2TR) when absent. Checks it against the policy `flags`.
 * Returns KURA_OK (*out set), KURA_EDATA (not allowed; message in err; *out
 * still set), KURA_EINVAL. */
int kura_psbt_input_sighash_type(uint32_t *out, const kura_psbt *psbt, size_t index,
                                 unsigned flags, kura_error *err);

/* Signs input `index` with the private key priv wherever the key has a part:
 *  - ECDSA (BIP174 signer): P2PKH and P2WPKH (also in P2SH) when HASH160 of
 *    the compressed public key is the spent key hash; P2SH, P2WSH and
 *    P2SH-P2WSH when the redeem/witness script pushes the public key. Legacy
 *    inputs use the original sighash and need PSBT_IN_NON_WITNESS_UTXO;
 *    segwit v0 inputs use BIP143 with the witness UTXO's amount.
 *  - Schnorr (BIP371): the key path when the key's x-only form is the input's
 *    PSBT_IN_TAP_INTERNAL_KEY (signing with the key tweaked by
 *    PSBT_IN_TAP_MERKLE_ROOT), and the script path for every
 *    PSBT_IN_TAP_LEAF_SCRIPT that pushes the x-only key. BIP341 needs every
 *    input's spent output, so every input must have its UTXO.
 * Before signing it checks the input (BIP174 "Signer" checks): a
 * non-witness UTXO's txid equals the outpoint's and its output matches any
 * witness UTXO; a witness UTXO is not given alone for a non-witness output;
 * the redeem script hashes to the P2SH output; the witness script hashes to
 * the P2WSH program; neither exceeds its consensus size (520 / 10,000
 * bytes); redeem and witness scripts appear only where the output needs
 * them; the taproot output key is the internal key tweaked by the
 * merkle root, and each control block commits to it; the sighash type is
 * allowed by `flags`. A failed check refuses the input (KURA_EDATA) and adds
 * no signature. An input already finalized is refused too.
 * Existing signatures by the same key are replaced. ECDSA nonces are RFC6979
 * (deterministic); BIP340 signatures use fresh auxiliary randomness. Under
 * KURA_PSBT_SIGN_VERIFY each signature is verified against priv's public key
 * (a fault during signing refuses the input: KURA_EDATA).
 *   ctx: a kura context (kura_ctx_new).
 *   psbt: gains PSBT_IN_PARTIAL_SIG / TAP_KEY_SIG / TAP_SCRIPT_SIG entries.
 *   priv: 32-byte secret key; not kept, and every copy derived from it is wiped.
 * Returns KURA_OK (at least one signature added); KURA_ENOTFOUND (the key has
 * no part in this input; nothing changed); KURA_EDATA (a check failed; message
 * in err; nothing changed); KURA_EINVAL (NULL, index out of range);
 * KURA_ECRYPTO (invalid private key); KURA_ENOMEM. */
int kura_psbt_sign_input(const kura_ctx *ctx, kura_psbt *psbt, size_t index,
                         const uint8_t priv[32], unsigned flags, kura_error *err);

/* Signs every input that records, under key's fingerprint, a
 * PSBT_IN_BIP32_DERIVATION (ECDSA) or PSBT_IN_TAP_BIP32_DERIVATION (Schnorr)
 * entry: the child key is derived from key along the recorded path and signs
 * as kura_psbt_sign_input does (same checks) for the recorded public key: for
 * ECDSA where that key has a part (its HASH160 is the P2PKH/P2WPKH program,
 * or the checked redeem/witness script pushes it); for BIP340 the key path
 * when it is the internal key and each recorded leaf that pushes it.
 * That the derived key is the recorded key is checked as follows:
 *  - BIP340: always, for every record whose key has a part in the input
 *    (one with none signs nothing and is skipped); the derived keypair's
 *    x-only key must be the recorded one (else KURA_EDATA), at no extra cost.
 *  - ECDSA under KURA_PSBT_SIGN_VERIFY: each signature must verify against
 *    the recorded key (else KURA_EDATA, nothing added), which proves it.
 *  - ECDSA without the flag: the derived public key is not computed (it
 *    would cost as much as the signature) and nothing proves it: a record
 *    whose path does not derive its key gets a signature, filed under the
 *    recorded key, that does not verify. No funds are at risk: the sighash
 *    commits to the checked script (which needs the recorded key, not the
 *    derived one, unless it names both, and then the signature is the one a
 *    correct record would have got) and to the amount (BIP143, BIP341; for
 *    legacy inputs through the checked previous transaction); but the input
 *    is not spendable with that signature, which replaces any signature
 *    already filed under the recorded key.
 * A 65-byte (uncompressed) record under key's fingerprint is refused
 * (KURA_EDATA): kura derives compressed keys. Inputs already finalized are
 * skipped. The transaction and its BIP143/BIP341 midstates are computed once
 * for the whole PSBT, derivations along a shared path prefix are reused, and
 * an ECDSA signing key's own public key is never computed. All or nothing: if any
 * input is refused no signature is added at all.
 *   key: an extended private key (the master, whose fingerprint the records
 *     name); not kept; every derived key is wiped.
 *   signed_count: receives the number of signatures added (0 on failure); may be NULL.
 * Returns KURA_OK (at least one signature); KURA_ENOTFOUND (no input names
 * this key); KURA_EDATA (a check failed: message names the input); KURA_EINVAL
 * (NULL, key without a private part); KURA_ECRYPTO; KURA_ENOMEM. */
int kura_psbt_sign_bip32(const kura_ctx *ctx, kura_psbt *psbt, size_t *signed_count,
                         const kura_bip32_key *key, unsigned flags, kura_error *err);

/* ---- combiner, finalizer, extractor ---- */

/* Combiner (BIP174, BIP370): merges src into dst. Both must be of the same
 * version and describe the same transaction (v0: the same unsigned tx; v2: the
 * same unique identifier), else KURA_EDATA. Every field or keyed entry of src
 * that dst lacks is added (dst's entries come first, then src's new ones, in
 * src's order); where both hold the same key dst's value is kept.
 * Version 2 also combines copies to which Constructors added inputs or
 * outputs (BIP370): an input is the same input when it spends the same
 * outpoint, an output when it pays the same amount to the same script (the
 * k-th such output of src is the k-th of dst); the others are appended in
 * src's order — only where both PSBTs' PSBT_GLOBAL_TX_MODIFIABLE allow inputs
 * (outputs) to be added, never beside a SIGHASH_SINGLE signature, and with
 * the same transaction version and fallback lock time (else KURA_EDATA). The
 * result may be modified only as far as both allowed.
 * Returns KURA_OK, KURA_EDATA, KURA_EINVAL, KURA_ERANGE or KURA_ENOMEM; dst is
 * unchanged on failure. */
int kura_psbt_combine(kura_psbt *dst, const kura_psbt *src, kura_error *err);

/* Finalizer (BIP174 "Input Finalizer"): for input `index`, builds the final
 * scriptSig and/or witness from its signatures and scripts:
 *   P2PKH; P2SH multisig; P2WPKH; P2SH-P2WPKH; P2WSH and P2SH-P2WSH with a
 *   multisig (multi or sortedmulti: signatures in the script's key order,
 *   exactly M, OP_0 dummy) or single-key <pubkey> OP_CHECKSIG witness script;
 *   P2TR key path (PSBT_IN_TAP_KEY_SIG); P2TR script path for multi_a
 *   (sortedmulti_a) and <xonly> OP_CHECKSIG leaves, choosing among the leaves
 *   that have enough signatures the one with the smallest witness (BIP342
 *   stack: signatures in reverse key order, empty for keys not used).
 * The input must pass the signer's checks of its UTXO and scripts (see
 * kura_psbt_sign_input). Then clears every field but the UTXOs, the v2
 * transaction fields and the unknown/proprietary records (BIP174).
 * Signatures are not verified here.
 * An input already finalized is left as is (KURA_OK).
 * Returns KURA_OK; KURA_EDATA (not enough data or signatures, an unsupported
 * script; message names the input; input unchanged); KURA_EINVAL; KURA_ENOMEM. */
int kura_psbt_finalize_input(kura_psbt *psbt, size_t index, kura_error *err);

/* Finalizes every input, all or nothing: when any input cannot be finalized
 * (KURA_EDATA naming it) psbt is unchanged. Returns as kura_psbt_finalize_input. */
int kura_psbt_finalize(kura_psbt *psbt, kura_error *err);

/* 1 if every input has a final scriptSig or final witness, else 0. */
int kura_psbt_is_finalized(const kura_psbt *psbt);

/* Extractor: the network transaction, with each input's final scriptSig and
 * witness, into *out (caller frees with kura_tx_free; NULL on failure).
 * Returns KURA_OK; KURA_EDATA (an input is not finalized, or the v2 lock time
 * cannot be determined); KURA_EINVAL; KURA_ERANGE; KURA_ENOMEM. */
int kura_psbt_extract(kura_tx **out, const kura_psbt *psbt, kura_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KURA_PSBT_H */
