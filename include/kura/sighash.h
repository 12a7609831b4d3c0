/*
 * kura/sighash.h — signature hashes: legacy (pre-segwit), BIP143 (segwit v0)
 * and BIP341 (taproot key path and script path), every sighash type.
 *
 * kura_sighash_cache holds the per-transaction midstates (hashPrevouts,
 * hashSequence, hashOutputs and the BIP341 sha_amounts/sha_scriptpubkeys),
 * so signing n inputs costs O(n) hashing instead of O(n^2).
 */
#ifndef KURA_SIGHASH_H
#define KURA_SIGHASH_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"
#include "kura/tx.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KURA_SIGHASH_DEFAULT 0x00 /* taproot only: as ALL, signature has no type byte */
#define KURA_SIGHASH_ALL 0x01
#define KURA_SIGHASH_NONE 0x02
#define KURA_SIGHASH_SINGLE 0x03
#define KURA_SIGHASH_ANYONECANPAY 0x80

typedef struct kura_sighash_cache {
    int have_v0;       /* BIP143 fields computed */
    uint8_t hash_prevouts[32];   /* BIP143: SHA256d */
    uint8_t hash_sequence[32];
    uint8_t hash_outputs[32];
    int have_taproot;  /* BIP341 fields computed (needs every spent output) */
    uint8_t sha_prevouts[32];    /* BIP341: single SHA256 */
    uint8_t sha_amounts[32];
    uint8_t sha_scriptpubkeys[32];
    uint8_t sha_sequences[32];
    uint8_t sha_outputs[32];
} kura_sighash_cache;

/* Fills the cache for tx: the BIP143 midstates (hash_prevouts,
 * hash_sequence, hash_outputs; have_v0 = 1) and BIP341's sha_prevouts,
 * sha_sequences and sha_outputs. spent may be NULL; otherwise it lists the
 * output each input spends, in input order, tx->input_count entries, and
 * sha_amounts and sha_scriptpubkeys are filled too (have_taproot = 1).
 * The cache refers to no memory of tx or spent; it is valid only while tx
 * and spent are unchanged. Returns KURA_OK, or KURA_EINVAL (cache or tx NULL,
 * a NULL script with a non-zero length), in which case the cache is zeroed. */
int kura_sighash_cache_init(kura_sighash_cache *cache, const kura_tx *tx,
                            const kura_txout *spent);

/* Hash types are passed as the full 32-bit value that ends the preimage.
 * The legacy and BIP143 functions hash any value as consensus does (the
 * low 5 bits select NONE or SINGLE, anything else acts as ALL; 0x80 is
 * ANYONECANPAY): which types may be signed is the caller's policy. */

/* Legacy sighash (the original SignatureHash, with the SIGHASH_SINGLE bug:
 * for an input with no output at the same index, out is the number 1, i.e.
 * 0x01 followed by 31 zero bytes). script_code is the subscript with
 * OP_CODESEPARATORs (and, for legacy, FindAndDelete) already handled by the
 * caller; it may be NULL when script_code_len is 0. Legacy signing is O(n)
 * per input by design (no cache helps it). Returns KURA_OK, or KURA_EINVAL
 * (NULL argument, input_index out of range) with out zeroed. */
int kura_sighash_legacy(uint8_t out[32], const kura_tx *tx, size_t input_index,
                        const uint8_t *script_code, size_t script_code_len, uint32_t hash_type);

/* BIP143 (segwit v0) sighash. cache may be NULL, or not filled (have_v0 0):
 * the midstates this call needs are then computed on the fly (O(size of tx)).
 * script_code as BIP143 defines it, without its length prefix (for P2WPKH the
 * P2PKH script of the key hash; for P2WSH the witnessScript from the last
 * executed OP_CODESEPARATOR). amount is the value of the spent output. For
 * SINGLE with input_index >= output_count hashOutputs is zero (BIP143 has no
 * "one" bug). Returns KURA_OK, or KURA_EINVAL (NULL argument, input_index out
 * of range) with out zeroed. */
int kura_sighash_segwit_v0(uint8_t out[32], const kura_tx *tx, const kura_sighash_cache *cache,
                           size_t input_index, const uint8_t *script_code,
                           size_t script_code_len, uint64_t amount, uint32_t hash_type);

/* The BIP143 preimage that kura_sighash_segwit_v0 hashes (SHA256d), written
 * to out[0..out_len) for audits and tests. Arguments as kura_sighash_segwit_v0.
 * Returns KURA_OK with *written set; KURA_EINVAL for bad arguments or a
 * buffer too small, in which last case *written holds the size needed and
 * out is zeroed. 156 + 9 + script_code_len bytes always suffice. */
int kura_sighash_segwit_v0_preimage(uint8_t *out, size_t out_len, size_t *written,
                                    const kura_tx *tx, const kura_sighash_cache *cache,
                                    size_t input_index, const uint8_t *script_code,
                                    size_t script_code_len, uint64_t amount, uint32_t hash_type);

/* BIP341 sighash: hash_TapSighash(0x00 || SigMsg(hash_type, ext_flag) || ext).
 *  - spent (required, never NULL) lists the output each input spends, in
 *    input order, tx->input_count entries; ANYONECANPAY reads
 *    spent[input_index] and the other types need them all.
 *  - cache, if filled with the same spent outputs (have_taproot 1), supplies
 *    the midstates; NULL (or not filled) computes them on the fly.
 *  - hash_type: 0x00 (DEFAULT), 0x01-0x03, 0x81-0x83; others are refused.
 *  - leaf_hash NULL means key path (ext_flag 0); otherwise the BIP342 script
 *    path (ext_flag 1) with tapleaf_hash = leaf_hash (32 bytes),
 *    key_version 0 and codesep_pos (0xffffffff for none).
 *  - annex (the whole last witness item, starting 0x50) may be NULL.
 * Returns KURA_OK, or KURA_EINVAL (NULL argument, input_index out of range,
 * invalid hash_type, SINGLE with no output at input_index, an annex that is
 * empty or does not start with 0x50) with out zeroed. */
int kura_sighash_taproot(uint8_t out[32], const kura_tx *tx, const kura_sighash_cache *cache,
                         const kura_txout *spent, size_t input_index, uint32_t hash_type,
                         const uint8_t *leaf_hash, uint32_t codesep_pos, const uint8_t *annex,
                         size_t annex_len);

/* The message kura_sighash_taproot hashes with the "TapSighash" tag: the
 * epoch byte 0x00, SigMsg(hash_type, ext_flag) and, for the script path, the
 * BIP342 extension (the "sigMsg" of BIP341's wallet test vectors), written to
 * out[0..out_len) for audits and tests. Arguments as kura_sighash_taproot.
 * Returns KURA_OK with *written set; KURA_EINVAL as kura_sighash_taproot or
 * for a buffer too small, in which last case *written holds the size needed
 * and out is zeroed. 289 + 9 + the spent scriptPubKey's length always suffice. */
int kura_sighash_taproot_sigmsg(uint8_t *out, size_t out_len, size_t *written, const kura_tx *tx,
                                const kura_sighash_cache *cache, const kura_txout *spent,
                                size_t input_index, uint32_t hash_type, const uint8_t *leaf_hash,
                                uint32_t codesep_pos, const uint8_t *annex, size_t annex_len);

#ifdef __cplusplus
}
#endif

#endif /* KURA_SIGHASH_H */
