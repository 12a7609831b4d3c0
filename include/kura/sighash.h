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

/* Fills the cache for tx. spent may be NULL (then only the BIP143 part is
 * filled); otherwise it lists the output each input spends, in input order,
 * input_count entries. Returns KURA_OK or KURA_EINVAL. */
int kura_sighash_cache_init(kura_sighash_cache *cache, const kura_tx *tx,
                            const kura_txout *spent);

/* Legacy sighash (original SignatureHash, with the SIGHASH_SINGLE bug value 1
 * for an input with no matching output). script_code is the subscript with
 * OP_CODESEPARATORs handled by the caller. Returns KURA_OK or KURA_EINVAL. */
int kura_sighash_legacy(uint8_t out[32], const kura_tx *tx, size_t input_index,
                        const uint8_t *script_code, size_t script_code_len, uint32_t hash_type);

/* BIP143. cache may be NULL (computed on the fly). script_code as BIP143
 * defines it (for P2WPKH, the P2PKH script of the key hash). Returns KURA_OK or KURA_EINVAL. */
int kura_sighash_segwit_v0(uint8_t out[32], const kura_tx *tx, const kura_sighash_cache *cache,
                           size_t input_index, const uint8_t *script_code,
                           size_t script_code_len, uint64_t amount, uint32_t hash_type);

/* BIP341 SigMsg hashed with "TapSighash". cache must have been initialised
 * with the spent outputs (needed for every hash type but ANYONECANPAY, which
 * uses spent[input_index] — so pass spent always). leaf_hash NULL means key
 * path (ext_flag 0); otherwise script path (ext_flag 1) with key_version 0
 * and codesep_pos (0xffffffff for none). annex (starting 0x50) may be NULL.
 * Returns KURA_OK or KURA_EINVAL (bad hash_type, SINGLE with no matching
 * output, missing cache). */
int kura_sighash_taproot(uint8_t out[32], const kura_tx *tx, const kura_sighash_cache *cache,
                         const kura_txout *spent, size_t input_index, uint32_t hash_type,
                         const uint8_t *leaf_hash, uint32_t codesep_pos, const uint8_t *annex,
                         size_t annex_len);

#ifdef __cplusplus
}
#endif

#endif /* KURA_SIGHASH_H */
